"""Reports side by side, and the regression gate: what changed between runs, beyond noise.

Both read finished reports only (:class:`~conformance.report.Report`, or report.json dicts, which
they read with :meth:`~conformance.report.Report.from_json`; DESIGN.md: reports never recompute a
check's statistics); what they add is the statistics of the *change* between two reports.

When a change is beyond noise
-----------------------------
Every change is a later report's figure minus the first report's (for the gate: current minus
baseline). It is *beyond noise* when its two-sided interval excludes 0.

- **A group's rate** that is a proportion (``rate == count / n``) of independent units (``n <=
  subjects``: at most one unit per subject, so the report's own interval is a score interval, not a
  subject bootstrap): Newcombe's hybrid score interval (:func:`conformance.stats.newcombe_interval`)
  on the two ``(count, n)`` pairs.
- **Any other rate** (the overconfidence of ``confidence_calibration`` is not a proportion; a
  proportion over several photos per subject has a subject-bootstrap interval that Newcombe would
  ignore) and **every gap**: a normal approximation from the reported intervals. Each interval
  gives ``SE = half-width / z``, with ``z`` the standard normal quantile at that interval's own
  level (a gap's level is its comparison's, Bonferroni-adjusted when a check compares several
  groups); the change's interval is ``difference +/- z * sqrt(SE1**2 + SE2**2)``, and its
  statistic ``difference / sqrt(SE1**2 + SE2**2)`` gives a two-sided p-value.

Both treat the two reports as **independent samples**. Two runs on the same photos (same
``dataset.content_hash``) are positively correlated, which makes the true variance of the change
smaller than the sum used here: the rule is then conservative, it misses some real changes and
flags fewer spurious ones. Reports on different datasets are compared all the same, with a warning.
No multiplicity correction is made across the many groups and checks compared.

The level of a change is the higher of the two reports' confidences in :func:`compare_reports`
and the current report's confidence in :func:`find_regressions`.

What counts as a regression
---------------------------
A gap (group minus reference, larger is worse) whose change from the baseline is beyond noise
upwards: the change's interval lies wholly above 0. Only comparisons present in both reports
against the same reference are compared; a check or group missing from either is not a
regression. A verdict that got worse (``pass`` or ``inconclusive`` to ``fail``) counts only
together with a gap change beyond noise, so it never adds a regression of its own (a verdict can
flip on noise alone when a gap sits near its tolerance, and a gate must not be flaky); it is named
in the regression's message. Identical reports give no regression: every change is exactly 0.

The 1:1 differential checks (``false_match_differential``, ``false_non_match_differential``) are
decided on ratios and each model fixes its own thresholds: :mod:`.compare_biometrics` compares and
gates them by operating point (the same target FMR), on ratios and rates, as its docstring says.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .._format import fixed, interval
from .._text import printable
from .._untrusted import shown
from ..report import Report, ReportError, as_report, read_report
from ..results import CheckResult
from .compare_biometrics import (
    SEPARATE_CHECKS,
    OperatingPoint,
    binding_rows,
    equitability_rows,
    kind_of,
    operating_points,
    ratio_regressions,
    render_points_markdown,
    unmatched,
)
from .markdown import VERDICT_LABELS, code, escape

__all__ = [
    "Change",
    "CheckTable",
    "Figure",
    "Gap",
    "GroupRow",
    "Regression",
    "ReportComparison",
    "ReportError",
    "ReportSummary",
    "compare_reports",
    "find_regressions",
    "load_report",
    "render_compare_html",
    "render_compare_markdown",
    "render_regressions",
]

_VERDICTS = ("pass", "fail", "inconclusive")
_VERDICT_MD = VERDICT_LABELS
_WORSENED = {("pass", "fail"), ("inconclusive", "fail")}


# -- values ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One group's rate in one report, as the report states it.

    ``level`` is the confidence of ``ci`` (the check's confidence).
    """

    photos: int
    subjects: int
    count: int
    n: int
    rate: float | None
    ci: tuple[float, float] | None
    level: float

    @property
    def is_proportion(self) -> bool:
        """Whether ``rate`` is ``count / n`` (the overconfidence of confidence_calibration is not)."""
        return self.rate is not None and self.n > 0 and math.isclose(self.rate, self.count / self.n, abs_tol=1e-12)

    @property
    def independent_units(self) -> bool:
        """At most one unit of ``n`` per subject, so units can be taken as independent."""
        return self.n <= self.subjects


@dataclass(frozen=True)
class Gap:
    """One group's gap to the reference in one report: group minus reference, larger is worse."""

    reference: str
    difference: float | None
    ci: tuple[float, float] | None
    level: float
    tolerance: float
    verdict: str


@dataclass(frozen=True)
class Change:
    """A figure of a later report minus the same figure of an earlier one, with its interval.

    ``method`` is ``"Newcombe"`` or ``"normal approximation"``; the latter also gives the test
    ``statistic`` (difference over its standard error) and its two-sided ``p_value``.
    """

    difference: float
    ci: tuple[float, float]
    level: float
    method: str
    statistic: float | None = None
    p_value: float | None = None

    @property
    def beyond_noise(self) -> bool:
        """Whether the interval excludes 0."""
        return self.ci[0] > 0.0 or self.ci[1] < 0.0

    @property
    def direction(self) -> int:
        """+1 higher beyond noise, -1 lower beyond noise, 0 within noise."""
        if self.ci[0] > 0.0:
            return 1
        if self.ci[1] < 0.0:
            return -1
        return 0


@dataclass(frozen=True)
class GroupRow:
    """One group of one check across the reports.

    Each tuple has one entry per report, in the order given; ``None`` where the report lacks the
    check or the group (or, for ``gaps``, where the group is the reference). Entry ``i`` of
    ``rate_changes`` and ``gap_changes`` compares report ``i`` with the first report (entry 0 is
    always ``None``), ``None`` too where either figure is missing.
    """

    group: str
    figures: tuple[Figure | None, ...]
    gaps: tuple[Gap | None, ...]
    rate_changes: tuple[Change | None, ...]
    gap_changes: tuple[Change | None, ...]

    @property
    def differs(self) -> bool:
        """Whether any later report's rate or gap differs from the first report's beyond noise."""
        return any(c is not None and c.beyond_noise for c in (*self.rate_changes, *self.gap_changes))


@dataclass(frozen=True)
class CheckTable:
    """One check across the reports: each report's verdict (``None``: check absent) and a row per group."""

    id: str
    measure: str
    count_label: str
    verdicts: tuple[str | None, ...]
    references: tuple[str | None, ...]
    rows: tuple[GroupRow, ...]
    notes: tuple[str, ...] = ()
    threshold: float | None = None  # matching checks have one table per similarity threshold

    @property
    def label(self) -> str:
        """The check id, with its threshold where it has one (``false_match_gap at 80``)."""
        return _label(self.id, self.threshold)

    def row(self, group: str) -> GroupRow:
        """The row of ``group``; ``KeyError`` naming the groups otherwise."""
        for row in self.rows:
            if row.group == group:
                return row
        raise KeyError(f"no group {group!r} in {self.label}; groups: {', '.join(r.group for r in self.rows)}")


@dataclass(frozen=True)
class ReportSummary:
    """Who and what one report is about, for the comparison's header."""

    name: str
    analyzer: str
    dataset: str
    content_hash: str | None
    seed: object
    verdict: str
    kit_version: str


@dataclass(frozen=True)
class ReportComparison:
    """Reports side by side: per check, per group, each report's figures and their changes from the first.

    Built by :func:`compare_reports`; rendered by :func:`render_compare_markdown` and
    :func:`render_compare_html`.
    """

    reports: tuple[ReportSummary, ...]
    checks: tuple[CheckTable, ...]
    warnings: tuple[str, ...]
    # 1:1 comparison reports (reporting/compare_biometrics.py): the differential checks by operating point,
    # each report's binding operating point and equitability; what each report measures.
    points: tuple[OperatingPoint, ...] = ()
    bindings: tuple[tuple[str, str, str, str], ...] = ()
    equitability: tuple[tuple[str | None, str], ...] = ()
    kinds: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.reports)

    def check(self, check_id: str, threshold: float | None = None) -> CheckTable:
        """The table of ``check_id`` (at ``threshold``, for matching checks); ``KeyError`` naming the checks otherwise."""
        for table in self.checks:
            if table.id == check_id and table.threshold == threshold:
                return table
        wanted = _label(check_id, threshold)
        raise KeyError(f"no check {wanted!r}; checks: {', '.join(t.label for t in self.checks)}")

    def row(self, check_id: str, group: str, threshold: float | None = None) -> GroupRow:
        """The row of ``group`` in ``check_id`` (at ``threshold``)."""
        return self.check(check_id, threshold).row(group)

    @property
    def differences(self) -> tuple[tuple[str, str], ...]:
        """``(check label, group)`` of every row where a later report differs from the first beyond noise."""
        return tuple((t.label, r.group) for t in self.checks for r in t.rows if r.differs) + tuple(
            (p.title, g.group) for p in self.points for g in p.groups if g.differs
        )

    @property
    def comparable(self) -> bool:
        """Whether any check is in two or more of the reports (reports of different kinds share none)."""
        tables = [t.verdicts for t in self.checks] + [p.verdicts for p in self.points]
        return any(sum(v is not None for v in verdicts) >= 2 for verdicts in tables)


@dataclass(frozen=True)
class Regression:
    """A gap that got worse than the baseline's beyond noise.

    ``change`` is current gap minus baseline gap, ``change_ci`` its two-sided interval at
    ``level`` (normal approximation from both gap intervals), ``statistic`` the change over its
    standard error and ``p_value`` its two-sided p-value.
    """

    check: str
    group: str
    reference: str
    baseline_gap: float
    baseline_ci: tuple[float, float]
    current_gap: float
    current_ci: tuple[float, float]
    change: float
    change_ci: tuple[float, float]
    level: float
    statistic: float
    p_value: float
    baseline_verdict: str
    current_verdict: str
    message: str
    threshold: float | None = None  # the similarity threshold, for matching checks
    # What got worse: "gap" (group minus reference); for the 1:1 differential checks "ratio" (the group's rate
    # over the reference's; baseline_gap and current_gap hold the ratios, change and change_ci the factor
    # current / baseline) or "FMR" / "FNMR" (the group's rate), at ``operating_point`` ("FMR 0.001").
    figure: str = "gap"
    operating_point: str | None = None

    @property
    def verdict_worsened(self) -> bool:
        """Whether the comparison's verdict went from pass or inconclusive to fail."""
        return (self.baseline_verdict, self.current_verdict) in _WORSENED


# -- reading and validating reports ------------------------------------------------------------------


@dataclass(frozen=True)
class _Check:
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
class _Report:
    checks: dict[tuple[str, float | None], _Check]
    skipped: dict[str, str]
    summary: ReportSummary
    reference: str | None
    typed: Report | None = None


def _label(check_id: str, threshold: float | None) -> str:
    return check_id if threshold is None else f"{check_id} at {threshold:g}"


def _check(result: CheckResult) -> _Check:
    """What comparing reads of a check: each group's figure and each comparison's gap, with their levels."""
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
    return _Check(
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


def _parse_report(report: Report | Mapping[str, Any], source: str, name: str) -> _Report:
    typed = as_report(report, source)
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
    checks = {(c.id, c.threshold): _check(c) for c in typed.checks}
    skipped = {s.id: s.reason for s in typed.skipped}
    return _Report(checks, skipped, summary, typed.grouping.reference, typed)


def load_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``report.json`` written by ``conformance run``, checking that it is one.

    Parameters
    ----------
    path
        The report file.

    Returns
    -------
    dict
        The report as report.json holds it; :func:`conformance.report.read_report` gives the typed
        :class:`~conformance.report.Report`.

    Raises
    ------
    ReportError
        (a :class:`~conformance.errors.ConformanceError`) naming the file and what is wrong: it is
        missing or unreadable, not JSON, or not a conformance report (no ``checks``,
        ``kit_version`` or ``schema``, or a check whose fields are malformed).
    """
    return read_report(path).to_json()


# -- the statistics of a change ----------------------------------------------------------------------


def _normal_change(
    first: float, first_ci: tuple[float, float], first_level: float,
    later: float, later_ci: tuple[float, float], later_level: float,
    level: float,
) -> Change:  # fmt: skip
    """``later - first`` with the normal approximation from the two reported intervals (the maths in stats)."""
    from ..stats import change_from_intervals

    moved = change_from_intervals(first, first_ci, first_level, later, later_ci, later_level, level)
    return Change(moved.estimate, moved.ci, level, "normal approximation", moved.statistic, moved.p_value)


def _rate_change(first: Figure | None, later: Figure | None, level: float) -> Change | None:
    if first is None or later is None or first.rate is None or later.rate is None:
        return None
    if first.is_proportion and later.is_proportion and first.independent_units and later.independent_units:
        from ..stats import newcombe_interval

        ci = newcombe_interval(later.count, later.n, first.count, first.n, level)
        return Change(later.count / later.n - first.count / first.n, ci, level, "Newcombe")
    if first.ci is None or later.ci is None:
        return None
    return _normal_change(first.rate, first.ci, first.level, later.rate, later.ci, later.level, level)


def _gap_change(first: Gap | None, later: Gap | None, level: float) -> Change | None:
    if (
        first is None
        or later is None
        or first.reference != later.reference
        or first.difference is None
        or later.difference is None
        or first.ci is None
        or later.ci is None
    ):
        return None
    return _normal_change(first.difference, first.ci, first.level, later.difference, later.ci, later.level, level)


# -- comparing ---------------------------------------------------------------------------------------


def _default_names(reports: Sequence[_Report]) -> list[str]:
    labels = [r.summary.analyzer for r in reports]
    if len(set(labels)) == len(labels):
        return labels
    return [f"{label}, report {i + 1}" for i, label in enumerate(labels)]


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _banners(parsed: Sequence[_Report]) -> list[str]:
    """What every report says first when its answers are not the vendor's service's, said here for each."""
    from ..report import provenance_warnings

    return [
        f"{report.summary.name}: {line}"
        for report in parsed
        if report.typed is not None
        for line in provenance_warnings(report.typed.analyzer)
    ]


def _warnings(parsed: Sequence[_Report]) -> list[str]:
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


def _kind(report: _Report) -> str:
    """What a report measures (gender classification, face search, 1:1 comparisons), from its checks."""
    planned = report.typed.planned if report.typed is not None else ()
    return kind_of([*planned, *(k[0] for k in report.checks), *report.skipped])


def compare_reports(
    reports: Sequence[Report | Mapping[str, Any]], names: Sequence[str] | None = None
) -> ReportComparison:
    """Put reports side by side, per check and per group, marking changes from the first beyond noise.

    Parameters
    ----------
    reports
        Two or more reports (:class:`~conformance.report.Report`, or report.json dicts); the first
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
        With fewer than two reports, a wrong number of names, or a dict that is not a report.
    """
    if len(reports) < 2:
        raise ReportError(f"comparing needs at least two reports, got {len(reports)}")
    if names is not None and len(names) != len(reports):
        raise ReportError(f"got {len(names)} names for {len(reports)} reports")
    labels = list(names) if names is not None else [f"report {i + 1}" for i in range(len(reports))]
    parsed = [_parse_report(r, label, label) for r, label in zip(reports, labels, strict=True)]
    if names is None:
        labels = _default_names(parsed)
        parsed = [replace(p, summary=replace(p.summary, name=label)) for p, label in zip(parsed, labels, strict=True)]
    tables = []
    # The 1:1 differential checks are matched by operating point (compare_biometrics), not threshold by threshold.
    for key in dict.fromkeys(k for p in parsed for k in p.checks if k[0] not in SEPARATE_CHECKS):
        check_id = key[0]
        present = [p.checks.get(key) for p in parsed]
        groups = _unique([g for c in present if c is not None for g in (*c.groups, *c.gaps)])
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
                rate_changes.append(_rate_change(figures[0], figures[i], level))
                gap_changes.append(_gap_change(gaps[0], gaps[i], level))
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


# -- the regression gate -----------------------------------------------------------------------------


def _plain(value: object) -> str:
    """One line of plain text: control characters (terminal escapes) and line breaks shown escaped."""
    return printable(value)


def _level_text(level: float) -> str:
    return f"{round(level * 100, 1):g}%"


def find_regressions(current: Report | Mapping[str, Any], baseline: Report | Mapping[str, Any]) -> list[Regression]:
    """Gaps of ``current`` that are worse than ``baseline``'s beyond noise.

    For each comparison (check, group, reference) present in both reports with a gap and its
    interval, the change ``current - baseline`` gets a two-sided interval at the current check's
    confidence by the normal approximation from both reported gap intervals (see the module's
    docstring); it is a regression when that interval lies wholly above 0.

    Parameters
    ----------
    current, baseline
        Reports (:class:`~conformance.report.Report`, or report.json dicts).

    Returns
    -------
    list of Regression
        In the current report's order of checks and groups; empty when nothing got worse beyond
        noise, and always for two identical reports.

    Raises
    ------
    ReportError
        When either dict is not a conformance report.
    """
    now = _parse_report(current, "current report", "current")
    before = _parse_report(baseline, "baseline report", "baseline")
    found = []
    for check in now.checks.values():
        old = before.checks.get(check.key)
        if old is None or check.id in SEPARATE_CHECKS:  # ratio-decided checks: ratio_regressions below
            continue
        for group, gap in check.gaps.items():
            base = old.gaps.get(group)
            if (
                base is None
                or base.reference != gap.reference
                or base.difference is None
                or base.ci is None
                or gap.difference is None
                or gap.ci is None
            ):
                continue
            change = _normal_change(
                base.difference, base.ci, base.level, gap.difference, gap.ci, gap.level, check.confidence
            )
            if change.direction <= 0:
                continue
            assert change.statistic is not None  # the normal approximation always gives both
            assert change.p_value is not None
            message = (
                f"{_plain(_label(*check.key))}: {_plain(group)} vs {_plain(gap.reference)} gap {gap.difference:.3f} "
                f"{interval(gap.ci)} is worse than the baseline's {base.difference:.3f} {interval(base.ci)} "
                f"beyond noise (change {change.difference:+.3f} {interval(change.ci)} at "
                f"{_level_text(change.level)}, p = {change.p_value:.2g})"
            )
            if (base.verdict, gap.verdict) in _WORSENED:
                message += f"; verdict {base.verdict} -> {gap.verdict}"
            found.append(
                Regression(
                    check=check.id,
                    group=group,
                    reference=gap.reference,
                    baseline_gap=base.difference,
                    baseline_ci=base.ci,
                    current_gap=gap.difference,
                    current_ci=gap.ci,
                    change=change.difference,
                    change_ci=change.ci,
                    level=change.level,
                    statistic=change.statistic,
                    p_value=change.p_value,
                    baseline_verdict=base.verdict,
                    current_verdict=gap.verdict,
                    message=message,
                    threshold=check.threshold,
                )
            )
    if now.typed is not None and before.typed is not None:
        found += ratio_regressions(now.typed, before.typed)
    return found


def render_regressions(regressions: Sequence[Regression], baseline_path: str | os.PathLike[str]) -> str:
    """Plain text for the terminal: each regression's message, or ``no regression against <path>``.

    Examples
    --------
    >>> render_regressions([], "old/report.json")
    'no regression against old/report.json'
    """
    path = _plain(os.fspath(baseline_path))
    if not regressions:
        return f"no regression against {path}"
    noun = "regression" if len(regressions) == 1 else "regressions"
    return "\n".join([f"{len(regressions)} {noun} against {path}:", *(f"  {r.message}" for r in regressions)])


# -- rendering ---------------------------------------------------------------------------------------

_LEGEND = [
    "Each row is one report's figures for a group; changes are that report's figure minus the first report's.",
    "▲ higher / ▼ lower than the first report beyond noise: the change's interval excludes 0. "
    "No mark: within noise. Rates and gaps are all such that larger is worse.",
    "Rate changes use Newcombe's hybrid score interval on the two (count, n) pairs when the rate is a "
    "proportion of independent units (at most one per subject); otherwise, marked †, and for every gap "
    "change, a normal approximation from the two reported intervals (SE = half-width / z at each interval's level).",
    "Both treat the reports as independent samples. Reports on the same photos are positively correlated, "
    "so the rule is conservative there: it flags fewer changes than a paired analysis would.",
    "Gap intervals are at their comparison's level (Bonferroni-adjusted when several groups are compared), "
    "shown where it differs from the rate intervals' level; a change is at the higher of the two reports' confidences.",
    "absent: the report lacks that check or group; reference: the group the others are compared with.",
]


def _short_hash(content_hash: str | None) -> str:
    """Enough of a dataset hash to tell datasets apart at a glance (warnings name the whole hash)."""
    if content_hash is None:
        return "no hash"
    return content_hash if len(content_hash) <= 23 else content_hash[:23] + "…"


def _rate_text(figure: Figure) -> str:
    return f"{fixed(figure.rate)} {interval(figure.ci)}"


def _gap_text(gap: Gap, rate_level: float) -> str:
    value = fixed(gap.difference)
    level = "" if gap.ci is None or math.isclose(gap.level, rate_level) else f" @{_level_text(gap.level)}"
    return f"{value} {interval(gap.ci)}{level}"


def _change_text(change: Change | None, *, rate: bool) -> tuple[str, int]:
    """The change's text and its direction beyond noise (+1, -1, 0)."""
    if change is None:
        return ("", 0)
    mark = {1: "▲ ", -1: "▼ ", 0: ""}[change.direction]
    dagger = "†" if rate and change.method != "Newcombe" else ""
    return (f"{mark}{change.difference:+.3f} {interval(change.ci)}{dagger}", change.direction)


@dataclass(frozen=True)
class _Cell:
    text: str
    name: bool = False  # text came from a report or the user: escape it
    direction: int = 0
    verdict: str | None = None


def _check_rows(table: CheckTable) -> list[list[_Cell]]:
    levels = [f.level for row in table.rows for f in row.figures if f is not None]
    rate_level = levels[0] if levels else math.nan
    out = []
    for row in table.rows:
        for i, (figure, gap) in enumerate(zip(row.figures, row.gaps, strict=True)):
            absent = table.verdicts[i] is None or (figure is None and gap is None)
            if absent:
                counts = rate = gap_text = "absent"
            else:
                counts = "" if figure is None else f"{figure.count} / {figure.n}"
                rate = "absent" if figure is None else _rate_text(figure)
                gap_text = (
                    "reference" if gap is None and row.group == table.references[i] else
                    "absent" if gap is None else _gap_text(gap, rate_level)
                )  # fmt: skip
            rate_change, rate_dir = _change_text(row.rate_changes[i], rate=True)
            gap_change, gap_dir = _change_text(row.gap_changes[i], rate=False)
            out.append(
                [
                    _Cell(row.group, name=True),
                    _Cell(f"#{i + 1}"),
                    _Cell(counts),
                    _Cell(rate),
                    _Cell(rate_change, direction=rate_dir),
                    _Cell(gap_text),
                    _Cell("" if gap is None else gap.verdict, verdict=None if gap is None else gap.verdict),
                    _Cell(gap_change, direction=gap_dir),
                ]
            )
    return out


def _headers(count_label: str, level: float) -> list[str]:
    """Column headers; ``count_label`` (from the report) must already be escaped for the format."""
    return [
        "group",
        "report",
        f"{count_label} / n",
        "rate [CI]" if math.isnan(level) else f"rate [{_level_text(level)} CI]",
        "rate change vs #1",
        "gap to reference [CI]",
        "verdict",
        "gap change vs #1",
    ]


def _table_level(table: CheckTable) -> float:
    return next((f.level for row in table.rows for f in row.figures if f is not None), math.nan)


def _md(value: object) -> str:
    """Markdown-escaped, with control characters dropped first: the CLI prints this to a terminal."""
    return escape(_plain(value))


def _different(comparison: ReportComparison) -> str:
    kinds = ", ".join(f"#{i + 1} {k}" for i, k in enumerate(comparison.kinds))
    return f"these reports measure different things ({kinds}) and share no check"


def render_compare_markdown(comparison: ReportComparison) -> str:
    """The comparison as Markdown, fit for a terminal and for GitHub: one table per check, then a legend.

    Every name taken from a report or given by the user is escaped with
    :func:`conformance.reporting.markdown.escape` (check ids, in headings, are code spans).
    """
    names = comparison.names
    out = [f"# Comparison of {len(names)} conformance reports", ""]
    out += _md_table(
        ["#", "report", "analyzer", "dataset", "seed", "verdict"],
        [
            [
                f"#{i + 1}",
                _md(r.name),
                _md(r.analyzer),
                f"{_md(r.dataset)} {_md(_short_hash(r.content_hash))}",
                _md(r.seed),
                _VERDICT_MD.get(r.verdict, _md(r.verdict)),
            ]
            for i, r in enumerate(comparison.reports)
        ],
    )
    out.append("")
    for warning in comparison.warnings:
        out += [f"> ⚠️ {_md(warning)}", ""]
    differences = comparison.differences
    if differences:
        listed = "; ".join(f"{code(c)} {_md(g)}" for c, g in differences)
        out += [f"**Differs from #1 beyond noise:** {listed}.", ""]
    elif not comparison.comparable:
        out += [f"**Nothing compared: {_different(comparison)}.**", ""]  # the kit's words only
    elif unmatched(comparison.points):
        # 1:1 reports at different operating points: what they share (failure to acquire) is not the point.
        out += [f"**Nothing 1:1 compared: {_md(unmatched(comparison.points))}.**", ""]
    else:
        out += ["**No figure differs from #1 beyond noise.**", ""]
    out += render_points_markdown(names, comparison.points, comparison.bindings, comparison.equitability)
    for table in comparison.checks:
        verdicts = " · ".join(
            f"#{i + 1} {'absent' if v is None else _VERDICT_MD.get(v, _md(v))}" for i, v in enumerate(table.verdicts)
        )
        out += [f"## {code(table.label)}: {verdicts}", ""]
        if table.measure:
            out += [f"Measure: {_md(table.measure)}.", ""]
        references = _unique([r for r in table.references if r])
        if references:
            out += [f"Gap reference: {_md(' / '.join(references))}.", ""]
        level = _table_level(table)
        header = _headers(_md(table.count_label), level)
        rows = [
            [
                _md(cell.text)
                if cell.name
                else _VERDICT_MD.get(cell.verdict, _md(cell.verdict))
                if cell.verdict
                else f"**{cell.text}**"
                if cell.direction
                else cell.text
                for cell in row
            ]
            for row in _check_rows(table)
        ]
        out += _md_table(header, rows)
        out.append("")
        for note in table.notes:
            out.append(f"- {_md(note)}")
        if table.notes:
            out.append("")
    out += ["## How to read this", ""]
    out += [f"- {line}" for line in _LEGEND]
    return "\n".join(out).rstrip() + "\n"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out.extend("| " + " | ".join(row) + " |" for row in rows)
    return out


def render_compare_html(comparison: ReportComparison) -> str:
    """The comparison as one self-contained HTML page (inline CSS, no scripts, no external assets).

    Rendered from a template by :mod:`.html_compare`; every value is escaped there.
    """
    from .html_compare import render_compare_html as render

    return render(comparison)
