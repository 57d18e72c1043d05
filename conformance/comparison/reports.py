"""Reports side by side: per check and per group, each report's figures and their changes from the first.

Reads finished reports only (:class:`~conformance.report.Report`, or report.json dicts, which it
reads with :meth:`~conformance.report.Report.from_json`; DESIGN.md: reports never recompute a
check's statistics); what it adds is the statistics of the *change* between two reports
(:mod:`.changes` says when one is beyond noise). The level of a change is the higher of the two
reports' confidences. Reports on different datasets are compared all the same, with a warning.

The 1:1 differential checks (``false_match_differential``, ``false_non_match_differential``) are
decided on ratios and each model fixes its own thresholds: :mod:`.points` matches them by operating
point (the same target FMR).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .._untrusted import shown
from ..report import Report, ReportError, read_report
from ..results import CheckResult
from .changes import gap_change, rate_change
from .points import SEPARATE_CHECKS, binding_rows, equitability_rows, operating_points
from .values import Change, CheckTable, Figure, Gap, GroupRow, ReportComparison, ReportSummary

__all__ = ["ParsedCheck", "ParsedReport", "compare_reports", "kind_of", "load_report", "parse_report"]

_KINDS = (
    ("gender classification", "gender"),
    ("face search (1:N)", "search"),
    ("1:1 comparisons", "comparison"),
)


def kind_of(check_ids: Sequence[str]) -> str:
    """What a report measures, from its check ids: ``gender classification``, ``face search (1:N)``, ...

    >>> kind_of(["misgender_gap"]), kind_of(["false_match_differential", "equitability"])
    ('gender classification', '1:1 comparisons')
    """
    from ..checks.check_ids import COMPARISON_CHECKS, GENDER_CHECKS, SEARCH_CHECKS

    families = {"gender": GENDER_CHECKS, "search": SEARCH_CHECKS, "comparison": COMPARISON_CHECKS}
    found = [name for name, key in _KINDS if any(c in families[key] for c in check_ids)]
    return " and ".join(found) or "no known check"


# -- reading reports -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedCheck:
    """What comparing reads of one check: each group's figure and each comparison's gap, with their levels."""

    id: str
    verdict: str
    confidence: float
    measure: str
    count_label: str
    reference: str
    groups: dict[str, Figure]
    gaps: dict[str, Gap]
    threshold: float | None

    @property
    def key(self) -> tuple[str, float | None]:
        return (self.id, self.threshold)


@dataclass(frozen=True)
class ParsedReport:
    """One report as comparing reads it: its checks by (id, threshold), the skipped ones, who and what it is about."""

    checks: dict[tuple[str, float | None], ParsedCheck]
    skipped: dict[str, str]
    summary: ReportSummary
    reference: str | None
    typed: Report | None = None


def parse_check(result: CheckResult) -> ParsedCheck:
    """``result`` as comparing reads it."""
    level = result.confidence
    groups = {
        name: Figure(g.photos, g.subjects, g.count, g.n, g.rate, g.ci, level) for name, g in result.groups.items()
    }
    gaps = {
        # Every two groups may be compared (issue 13): a group can appear in several comparisons, so a
        # comparison not against the check's reference is named by both of its groups.
        (c.group if c.reference == result.reference else f"{c.group} vs {c.reference}"): Gap(
            # A comparison without its own level (an absolute share) is at the check's confidence.
            c.reference,
            c.difference,
            c.ci,
            level if c.level is None else c.level,
            c.tolerance,
            c.verdict,
        )
        for c in result.comparisons
    }
    return ParsedCheck(
        id=result.id,
        verdict=result.verdict,
        confidence=level,
        measure=result.measure,
        count_label=result.count_label,
        reference=result.reference,
        groups=groups,
        gaps=gaps,
        threshold=result.threshold,
    )


def parse_report(report: Report, source: str, name: str) -> ParsedReport:
    """``report`` as comparing reads it; ``source`` names it in a TypeError, ``name`` in the comparison.

    A :class:`~conformance.report.Report` only, read once (:func:`load_report` or :meth:`Report.from_json`):
    a dict here would be parsed again on every comparison, and its errors found late.
    """
    if not isinstance(report, Report):
        raise TypeError(
            f"{source}: comparing reads a conformance.report.Report, not a {type(report).__name__}; read the file "
            "with load_report(path) (or a parsed report.json with Report.from_json)"
        )
    typed = report
    analyzer = " ".join(x for x in (typed.analyzer.name, typed.analyzer.version) if x is not None).strip()
    summary = ReportSummary(
        name=name,
        analyzer=analyzer or "unknown analyzer",
        dataset=typed.dataset.name or "unknown dataset",
        content_hash=typed.dataset.content_hash,
        seed=typed.seed,
        verdict=typed.verdict or "",
        kit_version=typed.kit_version,
    )
    checks = {(c.id, c.threshold): parse_check(c) for c in typed.checks}
    skipped = {s.id: s.reason for s in typed.skipped}
    return ParsedReport(checks, skipped, summary, typed.grouping.reference, typed)


def load_report(path: str | os.PathLike[str]) -> Report:
    """Read a ``report.json`` written by ``conformance run``, checking that it is one.

    Parameters
    ----------
    path
        The report file.

    Returns
    -------
    Report
        The typed report (what :func:`compare_reports` and the gate read), parsed once; its
        ``to_json()`` is the report as report.json holds it.

    Raises
    ------
    ReportError
        (a :class:`~conformance.errors.ConformanceError`) naming the file and what is wrong: it is
        missing or unreadable, not JSON, or not a conformance report (no ``checks``,
        ``kit_version`` or ``schema``, or a check whose fields are malformed).
    """
    return read_report(path)


# -- comparing -------------------------------------------------------------------------------------


def _default_names(reports: Sequence[ParsedReport]) -> list[str]:
    labels = [r.summary.analyzer for r in reports]
    if len(set(labels)) == len(labels):
        return labels
    return [f"{label}, report {i + 1}" for i, label in enumerate(labels)]


def _distinct(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _banners(parsed: Sequence[ParsedReport]) -> list[str]:
    """What every report says first when its answers are not the vendor's service's, said here for each."""
    from ..report import provenance_warnings

    return [
        f"{report.summary.name}: {line}"
        for report in parsed
        if report.typed is not None
        for line in provenance_warnings(report.typed.analyzer)
    ]


def _warnings(parsed: Sequence[ParsedReport]) -> list[str]:
    first = parsed[0].summary
    out = _banners(parsed)
    for report in parsed[1:]:
        this = report.summary
        if first.content_hash is None or this.content_hash is None:
            out.append(
                f"Cannot tell whether {this.name} and {first.name} are on the same dataset: "
                "a report has no dataset content hash."
            )
        elif this.content_hash != first.content_hash:
            out.append(
                f"{this.name} is on a different dataset than {first.name} ({this.dataset} {this.content_hash} "
                f"against {first.dataset} {first.content_hash}): its figures differ by the photos as well as "
                "by the analyzer."
            )
        kinds = _kind(parsed[0]), _kind(report)
        if kinds[0] != kinds[1]:
            out.append(
                f"{this.name} measures {kinds[1]}, {first.name} measures {kinds[0]}: they measure different things, "
                "and only checks they share are compared."
            )
        if report.reference != parsed[0].reference:
            out.append(
                f"{this.name} measures gaps against {shown(report.reference)}, {first.name} against "
                f"{shown(parsed[0].reference)}: those gaps are not compared."
            )
    return out


def _kind(report: ParsedReport) -> str:
    """What a report measures (gender classification, face search, 1:1 comparisons), from its checks."""
    planned = report.typed.planned if report.typed is not None else ()
    return kind_of([*planned, *(k[0] for k in report.checks), *report.skipped])


def compare_reports(reports: Sequence[Report], names: Sequence[str] | None = None) -> ReportComparison:
    """Put reports side by side, per check and per group, marking changes from the first beyond noise.

    Parameters
    ----------
    reports
        Two or more :class:`~conformance.report.Report` (read with :func:`load_report`); the first
        is what the others are compared with.
    names
        One display name per report (file names, vendor names); by default each report's analyzer
        name and version.

    Returns
    -------
    ReportComparison
        One :class:`CheckTable` per check found in any report (in the first report's order, then
        new ones), one :class:`GroupRow` per group found in any report; warnings when the reports
        are on different (or unknown) datasets or use different reference groups. See the module's
        docstring for when a change is beyond noise.

    Raises
    ------
    ReportError
        With fewer than two reports, or a wrong number of names.
    TypeError
        For anything that is not a :class:`~conformance.report.Report` (a dict: read it with
        :meth:`~conformance.report.Report.from_json`).
    """
    if len(reports) < 2:
        raise ReportError(f"comparing needs at least two reports, got {len(reports)}")
    if names is not None and len(names) != len(reports):
        raise ReportError(f"got {len(names)} names for {len(reports)} reports")
    labels = list(names) if names is not None else [f"report {i + 1}" for i in range(len(reports))]
    parsed = [parse_report(r, label, label) for r, label in zip(reports, labels, strict=True)]
    if names is None:
        labels = _default_names(parsed)
        parsed = [replace(p, summary=replace(p.summary, name=label)) for p, label in zip(parsed, labels, strict=True)]
    tables = []
    # The 1:1 differential checks are matched by operating point (compare_biometrics), not threshold by threshold.
    for key in dict.fromkeys(k for p in parsed for k in p.checks if k[0] not in SEPARATE_CHECKS):
        check_id = key[0]
        present = [p.checks.get(key) for p in parsed]
        groups = _distinct([g for c in present if c is not None for g in (*c.groups, *c.gaps)])
        rows = []
        for group in groups:
            figures = tuple(None if c is None else c.groups.get(group) for c in present)
            gaps = tuple(None if c is None else c.gaps.get(group) for c in present)
            rate_changes: list[Change | None] = [None]
            gap_changes: list[Change | None] = [None]
            for i, later in enumerate(present[1:], start=1):
                first = present[0]
                if first is None or later is None:
                    rate_changes.append(None)
                    gap_changes.append(None)
                    continue
                level = max(first.confidence, later.confidence)
                rate_changes.append(rate_change(figures[0], figures[i], level))
                gap_changes.append(gap_change(gaps[0], gaps[i], level))
            rows.append(GroupRow(group, figures, gaps, tuple(rate_changes), tuple(gap_changes)))
        example = next(c for c in present if c is not None)
        notes = [
            f"{label}: not run ({p.skipped[check_id]})" if check_id in p.skipped else f"{label}: check absent"
            for label, p, c in zip(labels, parsed, present, strict=True)
            if c is None
        ]
        tables.append(
            CheckTable(
                id=check_id,
                measure=example.measure,
                count_label=example.count_label,
                verdicts=tuple(None if c is None else c.verdict for c in present),
                references=tuple(None if c is None else c.reference for c in present),
                rows=tuple(rows),
                notes=tuple(notes),
                threshold=key[1],
            )
        )
    typed = [p.typed for p in parsed if p.typed is not None]
    points = operating_points(typed)
    return ReportComparison(
        tuple(p.summary for p in parsed),
        tuple(tables),
        tuple(_warnings(parsed)),
        points=tuple(points),
        bindings=tuple(binding_rows(typed)) if points else (),
        equitability=tuple(equitability_rows(typed)) if points else (),
        kinds=tuple(_kind(p) for p in parsed),
    )
