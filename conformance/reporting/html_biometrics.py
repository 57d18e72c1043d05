"""report.html sections of a 1:1 comparison run: the differential checks and the 19795-10-style disclosure.

:func:`biometric_section` gives the section of ``false_match_differential``,
``false_non_match_differential`` (decided on rate ratios, not gaps) and ``equitability`` (the
ISO/IEC 19795-10-style disclosure), or None for any other check, which :mod:`.html` draws as usual.
Everything is read from the report (through :mod:`._biometrics`) into what
``templates/biometrics.html.j2`` shows, and escaped there; the charts come from :mod:`.svg_biometrics`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup

from ..details import Bootstrap, Disclosure
from ..results import CheckResult
from ._biometrics import (
    RATIO_CHECKS,
    SOURCES,
    Matrix,
    RatesAt,
    Table,
    charts_check,
    count_text,
    deciding_ratio,
    disclosure_facts,
    fta_table,
    groups_table,
    inequity_at_binding_table,
    interval_text,
    measures_table,
    nouns,
    rate_text,
    rates_at,
    ratio_text,
    ratios_table,
    sample_sizes_table,
)
from .svg_biometrics import det_chart, distributions_chart, ratio_chart

__all__ = ["DisclosureSection", "RatioSection", "biometric_section", "summary_cells"]


def summary_cells(check: CheckResult) -> tuple[str, str, str, str] | None:
    """For the verdicts table: the deciding comparison, its ratio, the ratio's interval and ``×tolerance``.

    None for a check that is not decided on ratios. The deciding comparison is the first with the
    check's verdict (the verdict is the worst of them).
    """
    row = deciding_ratio(check)
    if row is None:
        return None
    tolerance = "n/a" if row.tolerance is None else f"×{row.tolerance:g}"
    label = f"{row.group} vs {row.reference} (ratio)"
    return label, ratio_text(row.ratio), interval_text(row.ci, ratio_text), tolerance


# -- the differential checks ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HeatCell:
    """One cell of the impostor matrix: its FMR, counts, a tooltip, and its shade (or hatching: not counted)."""

    fmr: str
    counts: str
    title: str
    counted: bool
    background: str
    ink: str


@dataclass(frozen=True)
class Heatmap:
    reference_groups: tuple[str, ...]
    rows: tuple[tuple[str, tuple[HeatCell, ...]], ...]
    caption: str


def _heat(value: float | None, lo: float, hi: float) -> tuple[str, str]:
    """Background and text colour of a matrix cell: darker for a higher FMR on a log scale; white for 0."""
    if value is None or value <= 0:
        return "#ffffff", "#1d2125"
    t = 1.0 if hi <= lo else (math.log10(value) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    t = 0.12 + 0.88 * min(max(t, 0.0), 1.0)
    light, dark = (244, 248, 251), (31, 78, 121)
    rgb = tuple(round(a + (b - a) * t) for a, b in zip(light, dark, strict=True))
    return "#{:02x}{:02x}{:02x}".format(*rgb), "#ffffff" if t > 0.55 else "#1d2125"


def _heatmap(matrix: Matrix, same_group: bool) -> Heatmap:
    """The impostor matrix as a heatmap: each cell's number written in it, the shade only repeats it."""
    positive = [v for row in matrix.fmr for v in row if v is not None and v > 0]
    lo, hi = (min(positive), max(positive)) if positive else (1.0, 1.0)
    rows = []
    for i, probe in enumerate(matrix.probe_groups):
        cells = []
        for j, reference in enumerate(matrix.reference_groups):
            fmr, k, n = matrix.fmr[i][j], matrix.false_matches[i][j], matrix.comparisons[i][j]
            counts = f"{count_text(k)} / {count_text(n)}"
            title = f"{probe} probes against {reference} references: FMR {rate_text(fmr)} ({counts})"
            background, ink = _heat(fmr, lo, hi)
            cells.append(HeatCell(rate_text(fmr), counts, title, matrix.counted[i][j], background, ink))
        rows.append((probe, tuple(cells)))
    scale = (
        f"from {rate_text(lo)} (lightest) to {rate_text(hi)} (darkest)" if positive else "no false match in any cell"
    )
    caption = (
        "Each cell: the FMR of impostor comparisons of a probe of the row's group with a reference of the column's "
        f"group, and false matches / impostor comparisons behind it. Shade: FMR on a log scale, {scale}; white: 0."
    )
    if same_group:
        caption += " Hatched: pairs of different groups, not counted towards the groups' FMR (impostors = same_group)."
    return Heatmap(matrix.reference_groups, tuple(rows), caption)


def _marks(checks: Sequence[CheckResult], check_id: str) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
    """Target FMRs (for DET curves) and thresholds (for the histograms) of ``check_id``'s entries, binding first."""
    entries = sorted((c for c in checks if c.id == check_id), key=lambda c: not c.binding)
    fmrs, thresholds = [], []
    for c in entries:
        rule = c.typed_details.rule
        if rule is not None and rule.kind == "target" and rule.target_fmr is not None:
            fmrs.append((rule.target_fmr, f"FMR {rule.target_fmr:g}"))
        if c.threshold is not None:
            thresholds.append((c.threshold, f"{c.threshold:g}"))
    return fmrs, thresholds


@dataclass(frozen=True)
class RatioSection:
    """The section of a differential check (html.py's page places it by ``kind``)."""

    check: CheckResult
    rate: str  # FMR or FNMR
    rule: str
    impostors: str
    impostor_comparisons: str
    genuine_comparisons: str
    design: str
    unsupported: tuple[tuple[str, str], ...]
    groups: Table | None
    ratio_chart: Markup
    ratios: Table | None
    measures: Table | None
    caveats: tuple[str, ...]
    alpha: str
    heatmap: Heatmap | None
    det_chart: Markup
    det_omitted: int
    distributions_chart: Markup
    bins: int
    bootstrap: Bootstrap | None
    kind: str = "ratio"


def _ratio_section(check: CheckResult, checks: Sequence[CheckResult]) -> RatioSection:
    details = check.typed_details
    rule = details.rule
    metric = details.metric or ""
    rows = details.ratios
    inequity = details.inequity
    measures, caveats, alpha, level = inequity.measures, inequity.caveats, inequity.alpha, inequity.confidence
    matrix = details.matrix
    det_chart_, det_omitted, dist_chart, bins = Markup(), 0, Markup(), 0
    if charts_check(checks) is check:
        fmrs, thresholds = _marks(checks, check.id)
        det = details.det
        det_chart_ = det_chart(det, fmrs)
        det_omitted = sum(1 for points in det.values() for p in points if p.fmr <= 0)
        dist = details.distributions
        if dist is not None:
            dist_chart, bins = distributions_chart(dist, thresholds), len(dist.edges) - 1
    return RatioSection(
        check=check,
        rate=nouns(check)[0],
        rule=rule.sentence(metric) if rule else "The report does not say how it was set.",
        impostors="n/a" if details.impostors is None else details.impostors,
        impostor_comparisons=count_text(details.impostor_comparisons),
        genuine_comparisons=count_text(details.genuine_comparisons),
        design="n/a" if details.design is None else details.design,
        unsupported=tuple(
            (f"{u.target_fmr:g}" if u.target_fmr is not None else "n/a", u.reason) for u in details.unsupported
        ),
        groups=groups_table(check) if check.groups else None,
        ratio_chart=ratio_chart(rows, details.ratio_tolerance) if rows else Markup(),
        ratios=ratios_table(check) if rows else None,
        measures=measures_table(measures, level) if measures else None,
        caveats=tuple(caveats),
        alpha=ratio_text(alpha),
        heatmap=_heatmap(matrix, "same-group" in (details.impostors or "")) if matrix is not None else None,
        det_chart=det_chart_,
        det_omitted=det_omitted,
        distributions_chart=dist_chart,
        bins=bins,
        bootstrap=details.bootstrap,
    )


# -- the disclosure -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisclosureSection:
    """The ISO/IEC 19795-10-style disclosure of the ``equitability`` check."""

    check: CheckResult
    disclosure: Disclosure
    statement: str
    ratio_tolerance: str
    fta_tolerance: str
    facts: Mapping[str, list[tuple[str, str]]]
    sizes: Table | None
    fta: Table | None
    rates: tuple[RatesAt, ...]
    total: str
    inequity: Table | None
    sources: tuple[str, ...] = field(default=SOURCES)
    kind: str = "disclosure"


def _disclosure_section(check: CheckResult, disclosure: Disclosure) -> DisclosureSection:
    level = f"{check.confidence:.0%}"
    return DisclosureSection(
        check=check,
        disclosure=disclosure,
        statement=str(disclosure.statement or (check.notes[0] if check.notes else "")),
        ratio_tolerance=ratio_text(disclosure.ratio_tolerance),
        fta_tolerance=ratio_text(disclosure.fta_tolerance),
        facts=disclosure_facts(check, disclosure),
        sizes=sample_sizes_table(disclosure),
        fta=fta_table(disclosure, level),
        rates=tuple(rates_at(disclosure, level)),
        total=count_text(disclosure.total_comparisons),
        inequity=inequity_at_binding_table(disclosure),
    )


def biometric_section(check: CheckResult, checks: Sequence[CheckResult]) -> RatioSection | DisclosureSection | None:
    """The section of a 1:1 differential check or of the disclosure; None for any other check.

    ``checks`` are the report's checks (the DET curves and histograms go on one section of the page).
    """
    if check.id in RATIO_CHECKS:
        return _ratio_section(check, checks)
    disclosure = check.typed_details.disclosure if check.id == "equitability" else None
    if disclosure is not None:
        return _disclosure_section(check, disclosure)
    return None
