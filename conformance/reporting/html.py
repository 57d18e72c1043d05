"""``report.html``: one self-contained page for readers of reports rather than test logs.

Rendered from the typed :class:`~conformance.report.Report` alone; nothing is recomputed, only
drawn. The page is the template ``templates/report.html.j2`` (Jinja2, autoescaped) with the CSS of
``static/`` inlined and the charts of :mod:`.svg` placed as they are: it loads nothing from
anywhere (no stylesheet, font, script or image), so it opens offline, can be mailed or archived as
one file, and prints on A4 or Letter (print rules drop backgrounds and keep each check's section on
one page where it fits).

This module reads the report into what the template shows: which rows, which facts, which
comparison decides a check. Every value from the report (group and photo names, reasons, notes,
analyzer fields) is placed by the template, which escapes it and makes its control and bidi
characters visible (:mod:`._html`); the page holds no script, no event handler attribute and no
``javascript:`` link.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._atomic import write_atomic
from .._wording import DETECTABLE_ASSUMES
from ..details import Measured, Static
from ..report import PhotoOutcome, Report, report_banners
from ..results import CheckResult
from ._biometrics import Table
from ._html import (
    Code,
    Small,
    comparison_label,
    fixed,
    interval,
    label,
    mapping,
    otherwise,
    p_value,
    plain,
    policy_number,
    render,
    seq,
    stylesheet,
)
from .json import report_only
from .markdown import data_protection_text, gate_view, identity_map_text, tally_text, undisclosed_text
from .svg import gaps_chart, rates_chart, sweep_chart

__all__ = ["render_html", "write_html"]

_LISTED_PHOTOS = 50
_LISTED_ROWS = 50
_OUTCOMES = {
    "analysed": "analysed",
    "no_face": "no face found",
    "error": "error",
    "enrolled": "enrolled in the gallery",
}
# Outcomes of photos that were used as intended; every other photo is listed with its reason.
_USED = ("analysed", "enrolled")
_SDK_FIELDS = ("botocore", "boto3", "onnxruntime", "dlib")


# -- what the template shows ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Records:
    """A list of objects as a table, one column per key, and how many rows were left out."""

    table: Table
    more: int


def records(rows: Sequence[Any], limit: int = _LISTED_ROWS) -> Records:
    """The first ``limit`` of ``rows`` (objects from the report) as a table; the rest counted."""
    objects = [mapping(r) for r in rows]
    keys: list[str] = []
    for r in objects:
        keys += [str(k) for k in r if str(k) not in keys]

    def cell(key: str, value: object) -> str:
        return interval(value) if key == "ci" and value is not None else plain(value)

    table = Table(tuple(label(k) for k in keys), tuple(tuple(cell(k, r.get(k)) for k in keys) for r in objects[:limit]))
    return Records(table, max(len(objects) - limit, 0))


@dataclass(frozen=True)
class SummaryRow:
    """A check's line in the verdicts table: the comparison that decides it and its figures.

    ``why`` says why an inconclusive check is inconclusive, ``largest`` the larger gap that did not
    decide it: the reasons and the starkest finding that report.md's headline gives, on the page too.
    """

    check: CheckResult
    deciding: str | Small
    gap: str
    interval: str
    tolerance: str
    why: str = ""
    largest: str = ""


def _summary_row(check: CheckResult) -> SummaryRow:
    from .._wording import finding, inconclusive_reason, largest_gap
    from .html_biometrics import summary_cells

    ratio = summary_cells(check)
    if ratio is not None:
        return SummaryRow(check, *ratio)
    c = check.worst_comparison
    if c is not None:
        why = inconclusive_reason(c) if c.verdict == "inconclusive" and check.verdict == "inconclusive" else ""
        larger = largest_gap(check)
        return SummaryRow(
            check,
            comparison_label(c),
            fixed(c.difference),
            interval(c.ci),
            policy_number(c.tolerance),
            why=why,
            largest=finding(larger) if larger is not None else "",
        )
    static = check.typed_details.static
    if static is not None:
        deciding: str | Small = f"vocabulary (static half): {static.verdict or 'unknown'}"
    else:
        deciding = Small(check.notes[0] if check.notes else "no comparison")
    return SummaryRow(check, deciding, "n/a", "n/a", "n/a")


@dataclass(frozen=True)
class CheckSection:
    """A check's section, for a check decided on gaps (the 1:1 checks have :mod:`.html_biometrics`)."""

    check: CheckResult
    rates_chart: str
    groups: Table
    extra_groups: Table | None
    gaps_chart: str
    sweep_chart: str
    marks_thresholds: bool
    static: Static | None
    static_labels: Table | None
    facts: tuple[tuple[str, str], ...]
    tables: tuple[tuple[str, Records], ...]
    kind: str = "check"
    # Per comparison, why it is inconclusive where its note does not already say (the interval straddles ...).
    reasons: tuple[str, ...] = ()


def _groups_tables(check: CheckResult) -> tuple[Table, Table | None]:
    """Each group's figures; a check's own extra figures join the table, or follow it when there are many."""
    extras: list[str] = []
    for g in check.groups.values():
        extras += [k for k in g.extra if k not in extras]
    inline = extras if len(extras) <= 2 else []
    header = ["group", "photos", "subjects", check.count_label, "n", "rate", f"{check.confidence:.0%} interval"]
    header += [label(k) for k in inline]
    rows, extra_rows = [], []
    for name, group in check.groups.items():
        extra = [fixed(v) if isinstance(v, float) else plain(v) for v in (group.extra.get(k) for k in extras)]
        row = [
            name,
            plain(group.photos),
            plain(group.subjects),
            plain(group.count),
            plain(group.n),
            fixed(group.rate),
            interval(group.ci),
        ]
        rows.append(tuple(row + extra if inline else row))
        extra_rows.append((name, *extra))
    table = Table(tuple(header), tuple(rows), tuple(range(1, len(header))))
    if not extras or inline:
        return table, None
    return table, Table(("group", *(label(k) for k in extras)), tuple(extra_rows), tuple(range(1, len(extras) + 1)))


def _measure_tables(name: str, measure: Measured) -> list[tuple[str, Records]]:
    """A companion measure of a check (its ``groups`` and ``comparisons``) as two tables."""
    title = f"{name}: {measure.measure}" if measure.measure else name
    # Formatted as the check's own tables are (a rate to 3 places, a p-value to 2 significant digits: a
    # p of 2e-15 is not "0.000"), so that the two tables of one section read alike.
    groups = [
        {
            "group": g.name,
            "photos": g.photos,
            "subjects": g.subjects,
            "count": g.count,
            "n": g.n,
            "rate": fixed(g.rate),
            "ci": g.ci,
        }
        for g in measure.groups
    ]
    comparisons = [
        {
            "comparison": f"{c.group} vs {c.reference}",
            "gap": fixed(c.difference),
            "ci": c.ci,
            "p (Holm)": p_value(c.p_adjusted),
            "tolerance": policy_number(c.tolerance),
            "verdict": c.verdict,
        }
        for c in measure.comparisons
    ]
    tables = [(title, records(groups))]
    if comparisons:
        tables.append((f"{name}: comparisons", records(comparisons)))
    return tables


def _check_section(check: CheckResult, thresholds: Sequence[float] = ()) -> CheckSection:
    """One check's section; ``thresholds`` are those the report evaluates this check at, marked on its sweep."""
    details = check.typed_details
    static = details.static
    labels = list(static.labels) if static is not None else []
    facts: list[tuple[str, str]] = []
    tables: list[tuple[str, Records]] = []
    # Whatever else a check put in details, shown plainly; static and sweep have their own places.
    for entry in details.shown():
        if entry.rows:
            tables.append((label(entry.key), records(entry.rows)))
        elif entry.measure is not None:
            # A second measure every comparison must also satisfy (misgender_gap's "not correctly gendered"):
            # its groups and comparisons as tables, like the check's own.
            tables += _measure_tables(label(entry.key), entry.measure)
        else:
            facts.append((label(entry.key), plain(entry.value)))
    groups, extra_groups = _groups_tables(check)
    from .._wording import inconclusive_reason

    reasons = tuple(
        inconclusive_reason(c) if c.verdict == "inconclusive" and not c.note else "" for c in check.comparisons
    )
    return CheckSection(
        check=check,
        rates_chart=rates_chart(check),
        groups=groups,
        extra_groups=extra_groups,
        gaps_chart=gaps_chart(check),
        sweep_chart=sweep_chart(details.sweep, thresholds),
        marks_thresholds=bool(thresholds),
        static=static,
        static_labels=Table(("label the analyzer can give", "read as identity"), tuple(labels)) if labels else None,
        facts=tuple(facts),
        tables=tuple(tables),
        reasons=reasons,
    )


def _thresholds(checks: Sequence[CheckResult], check_id: str) -> list[float]:
    return sorted({float(c.threshold) for c in checks if c.id == check_id and c.threshold is not None})


@dataclass(frozen=True)
class Photos:
    """How every photo of the manifest was used, and those that were not, with their reasons."""

    total: int
    outcomes: Table
    troubled: Table | None
    more: int
    missing: str = ""  # the predictions file's missing lines, counted and the first named (as report.md says)


def _photos(report: Report) -> Photos:
    outcomes = report.outcomes
    total = sum(outcomes.values())
    keys = [k for k in _OUTCOMES if k in outcomes] + [k for k in outcomes if k not in _OUTCOMES]
    rows = tuple(
        (_OUTCOMES.get(k, k), plain(outcomes[k]), f"{outcomes[k] / total:.1%}" if total else "n/a") for k in keys
    )
    troubled: list[PhotoOutcome] = list(report.photos_not(_USED))
    listed = tuple((p.photo or "?", _OUTCOMES.get(p.outcome, p.outcome), p.reason) for p in troubled[:_LISTED_PHOTOS])
    missing = report.analyzer.fields.get("missing_predictions")
    return Photos(
        total=total,
        outcomes=Table(("outcome", "photos", "share"), rows, (1, 2)),
        troubled=Table(("photo", "outcome", "reason"), listed) if troubled else None,
        more=max(len(troubled) - _LISTED_PHOTOS, 0),
        missing=str(missing.get("note") or "") if isinstance(missing, Mapping) else "",
    )


# name, what it is used for, source; listed when one of the keywords appears in the report's methods.
_SOURCES: tuple[tuple[tuple[str, ...], str, str, str], ...] = (
    (
        ("wilson",),
        "Wilson score interval",
        "interval of each group's rate",
        "Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference. "
        "Journal of the American Statistical Association, 22(158), 209–212.",
    ),
    (
        ("clopper",),
        "Clopper–Pearson interval",
        "exact interval of each group's rate, on request",
        "Clopper, C. J., & Pearson, E. S. (1934). The use of confidence or fiducial limits illustrated in the "
        "case of the binomial. Biometrika, 26(4), 404–413.",
    ),
    (
        ("newcombe",),
        "Newcombe hybrid score interval",
        "interval of a gap between two independent rates (method 10)",
        "Newcombe, R. G. (1998). Interval estimation for the difference between independent proportions: "
        "comparison of eleven methods. Statistics in Medicine, 17(8), 873–890.",
    ),
    (
        ("bootstrap",),
        "Subject (cluster) bootstrap",
        "intervals when people have several photos: subjects, not photos, are resampled",
        "Efron, B. (1979). Bootstrap methods: another look at the jackknife. The Annals of Statistics, 7(1), "
        "1–26; Davison, A. C., & Hinkley, D. V. (1997). Bootstrap Methods and their Application. "
        "Cambridge University Press.",
    ),
    (
        ("bonferroni",),
        "Bonferroni adjustment",
        "interval level widened so that a check's several gap intervals hold together",
        "Dunn, O. J. (1961). Multiple comparisons among means. Journal of the American Statistical "
        "Association, 56(293), 52–64.",
    ),
    (
        ("holm",),
        "Holm step-down adjustment",
        "p-values of a check's several comparisons",
        "Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian Journal of "
        "Statistics, 6(2), 65–70.",
    ),
    (
        ("fisher",),
        "Fisher's exact test",
        "p-value of a gap",
        "Fisher, R. A. (1935). The Design of Experiments. Oliver & Boyd.",
    ),
    (
        ("boschloo",),
        "Boschloo's test",
        "unconditional exact p-value of a gap, on request",
        "Boschloo, R. D. (1970). Raised conditional level of significance for the 2 × 2-table when testing the "
        "equality of two probabilities. Statistica Neerlandica, 24(1), 1–9.",
    ),
    (
        ("korn-graubard", "effective size"),
        "Effective sample size",
        "a rate's worth in independent photos when people have several: the design effect from a "
        "cluster-robust variance over people, with the degrees of freedom it rests on",
        "Kish, L. (1965). Survey Sampling. Wiley; Korn, E. L., & Graubard, B. I. (1998). Confidence "
        "intervals for proportions with small expected number of positive counts estimated from survey data. "
        "Survey Methodology, 24(2), 193–201; Bell, R. M., & McCaffrey, D. F. (2002). Bias reduction in "
        "standard errors for linear regression with multi-stage samples. Survey Methodology, 28(2), 169–181.",
    ),
    (
        ("intersection-union",),
        "Intersection-union test",
        "a pass needs every comparison within the tolerance, so it needs no multiplicity adjustment",
        "Berger, R. L. (1982). Multiparameter hypothesis testing and acceptance sampling. Technometrics, "
        "24(4), 295–300.",
    ),
    (
        ("detectable",),
        "Detectable gap",
        "for an inconclusive verdict, the true gap that this data would show to exceed the tolerance with "
        f"80% power, from the verdict's own interval, {DETECTABLE_ASSUMES}",
        "Zou, G. Y., & Donner, A. (2008). Construction of confidence limits about effect measures: a "
        "general approach. Statistics in Medicine, 27(10), 1693–1702.",
    ),
)


@dataclass(frozen=True)
class Source:
    name: str
    use: str
    source: str


def _sources(report: Report) -> list[Source]:
    """The methods the report's checks name, with where each comes from."""
    policy = report.policy
    words = [str(otherwise(policy.interval, "")), str(otherwise(policy.exact_test, ""))]
    for check in report.checks:
        words.append(check.method)
        for c in check.comparisons:
            words.append(c.method)
            if c.min_detectable is not None:
                words.append("detectable")
    text = " ".join(words).lower()
    return [Source(name, use, source) for keys, name, use, source in _SOURCES if any(k in text for k in keys)]


Fact = tuple[str, "str | Code | tuple[str | Code, ...]"]


def _analyzer_facts(report: Report) -> list[Fact]:
    analyzer = report.analyzer
    shown = {
        "name",
        "version",
        "adapter",
        "source",
        "record_mode",
        "recorded_with",
        "recording_sessions",
        "recording_notes",
        "recording_files",
        "vocabulary",
        "simulated",
        "emulated",
    }
    facts: list[Fact] = [
        ("name", str(otherwise(analyzer.name, "?"))),
        ("version", plain(analyzer.version)),
        ("adapter", Code(str(otherwise(analyzer.adapter, "?")))),
    ]
    # What else the adapter said (SDK versions first) is shown as it said it.
    others = analyzer.fields
    facts += [(k, plain(others[k])) for k in _SDK_FIELDS if k in others]
    facts += [
        (label(k), plain(v))
        for k, v in others.items()
        if k not in shown and k not in _SDK_FIELDS and not isinstance(v, (Mapping, list))
    ]
    facts += [
        ("answers from", str(otherwise(analyzer.source, "n/a"))),
        ("record mode", str(otherwise(analyzer.record_mode, "n/a"))),
        ("simulated output", plain(analyzer.simulated)),
        ("emulated API", plain(analyzer.emulated)),
        *([("data protection", text)] if (text := data_protection_text(report)) else []),
    ]
    vocabulary = analyzer.vocabulary
    if vocabulary:
        labels = ", ".join(f"{k} → {v}" for k, v in mapping(vocabulary.get("labels")).items()) or "none"
        facts.append(
            (
                "vocabulary",
                f"{labels} (can abstain: {plain(vocabulary.get('can_abstain'))}; can express nonbinary: "
                f"{plain(vocabulary.get('can_express_nonbinary'))}; from {vocabulary.get('source', 'n/a')})",
            )
        )
    return facts


def _evidence_facts(report: Report) -> list[Fact]:
    """The digests that seal the report to its evidence."""
    evidence = report.evidence
    facts: list[Fact] = [
        (what, (Code(str(entry.get("sha256", "?"))), f" {entry.get('path', '')}")) for what, entry in evidence.files
    ]
    policy = evidence.policy
    if policy.get("sha256"):
        facts.append(("policy content", (Code(str(policy.get("sha256"))), f" ({policy.get('source', '?')})")))
    cache = report.analyzer.fields.get("observations_cache")
    if isinstance(cache, str):
        facts.append(
            (
                "answers read from",
                (
                    "the verified observation cache ",
                    Code(cache),
                    " (sealed, bound to the recording's digest); where they came from was read from the recording again",
                ),
            )
        )
    return facts


def _provenance(report: Report) -> dict[str, Any]:
    analyzer, dataset, policy, grouping, run = (
        report.analyzer,
        report.dataset,
        report.policy,
        report.grouping,
        report.run,
    )
    # The sessions as the adapter read them (times, endpoint class), else as older reports held them.
    sessions = analyzer.recording_sessions or analyzer.recorded_with
    dataset_facts: list[Fact] = [
        ("name", str(otherwise(dataset.name, "?"))),
        ("photos", plain(dataset.photos)),
        ("subjects", plain(dataset.subjects)),
        *([("undisclosed gender identity", text)] if (text := undisclosed_text(report)) else []),
        ("content hash", Code(str(otherwise(dataset.content_hash, "n/a")))),
        ("manifest", str(otherwise(dataset.manifest, "n/a"))),
        ("extra columns", plain(dataset.columns)),
        ("grouping", ", ".join(grouping.by) or "default (cis / trans / nonbinary / unknown)"),
        ("reference group", str(otherwise(grouping.reference, "n/a"))),
    ]
    policy_facts: list[Fact] = [
        ("profile", Code(str(otherwise(policy.profile, "?")))),
        ("from", str(otherwise(policy.source, "n/a"))),
        ("confidence", policy_number(policy.confidence)),
        ("inconclusive counts as", str(otherwise(policy.inconclusive, "n/a"))),
    ]
    policy_facts += [
        (label(k), plain(v))
        for k, v in policy.fields.items()
        if k not in ("profile", "source", "confidence", "inconclusive", "tolerance", "identity") and (v or v == 0)
    ]
    policy_facts += [("identity map", text)] if (text := identity_map_text(report)) else []
    run_facts: list[Fact] = [
        ("seed", plain(report.seed)),
        ("kit version", report.kit_version),
        ("python", str(otherwise(run.python, "?"))),
        ("pytest", str(otherwise(run.pytest, "?"))),
        ("report written", str(otherwise(report.created, "?"))),
        ("report schema", plain(report.schema)),
    ]
    return {
        "analyzer": _analyzer_facts(report),
        "sessions": records(sessions) if sessions else None,
        "recording_notes": [str(n) for n in seq(analyzer.fields.get("recording_notes"))],
        "evidence": _evidence_facts(report) if report.evidence.fields else None,
        "dataset": dataset_facts,
        "policy": policy_facts,
        "run": run_facts,
    }


def render_html(report: Report) -> str:
    """The HTML report for ``report`` (a :class:`~conformance.report.Report`; a dict is refused, TypeError).

    Returns
    -------
    str
        One self-contained HTML document: CSS and SVG charts inline, nothing loaded from elsewhere.

    Examples
    --------
    >>> from conformance.report import AnalyzerInfo, Report
    >>> page = render_html(Report(checks=(), verdict="pass", analyzer=AnalyzerInfo({"name": "<x>"})))
    >>> page.startswith("<!DOCTYPE html>"), "&lt;x&gt;" in page, "<x>" in page
    (True, True, False)
    """
    from .html_biometrics import biometric_section

    report = report_only(report, "render_html")
    checks = report.checks
    return render(
        "report.html.j2",
        report=report,
        css=stylesheet("report.css", "biometrics.css"),
        banners=report_banners(report.analyzer),
        summary=[_summary_row(c) for c in checks],
        missing=[c.id for c in report.not_run],
        tally=tally_text(report),
        gate=gate_view(report),
        sections=[biometric_section(c, checks) or _check_section(c, _thresholds(checks, c.id)) for c in checks],
        photos=_photos(report),
        sources=_sources(report),
        provenance=_provenance(report),
    )


def write_html(report: Report, path: str | Path) -> Path:
    """Write :func:`render_html` of ``report`` to ``path``, atomically, and return the path."""
    target = Path(path)
    write_atomic(target, render_html(report))
    return target
