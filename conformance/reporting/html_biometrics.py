"""report.html sections of a 1:1 comparison run: the differential checks and the 19795-10-style disclosure.

:func:`biometric_section` gives the section of ``false_match_differential``,
``false_non_match_differential`` (decided on rate ratios, not gaps) and ``equitability`` (the
ISO/IEC 19795-10-style disclosure), or None for any other check, which :mod:`.html` draws as usual.
Everything is read from the report (through :mod:`._biometrics`) and escaped with the page's own
:func:`~conformance.reporting.html._e`; the charts come from :mod:`.svg_biometrics`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..results import CheckResult
from ._biometrics import (
    RATIO_CHECKS,
    SOURCES,
    Matrix,
    Table,
    Verdict,
    charts_check,
    count_text,
    det_of,
    disclosure_facts,
    disclosure_of,
    distributions_of,
    fta_table,
    groups_table,
    inequity_at_binding_table,
    inequity_of,
    interval_text,
    is_ratio_check,
    matrix_of,
    measures_table,
    nouns,
    rate_text,
    rates_at,
    ratio_text,
    ratios_of,
    ratios_table,
    rule_of,
    sample_sizes_table,
    unsupported_of,
)
from .html import _anchor, _badge, _check_name, _e, _table
from .svg_biometrics import det_chart, distributions_chart, ratio_chart

__all__ = ["BIOMETRIC_CSS", "biometric_section", "summary_cells"]

BIOMETRIC_CSS = """
svg .band { fill: #e8f1e9; }
svg .imp { fill: #8fb0d6; fill-opacity: 0.55; stroke: #1f4e79; stroke-width: 1; }
svg .gen { fill: #f2b47e; fill-opacity: 0.55; stroke: #b35900; stroke-width: 1.2; }
svg .thr { stroke: var(--ink); stroke-width: 1.2; stroke-dasharray: 5 3; }
svg .thr.bind { stroke-width: 1.8; stroke-dasharray: none; }
.rule { border: 1px solid var(--rule); border-left: 4px solid var(--accent); border-radius: 4px;
  padding: 0.45rem 0.8rem; margin: 0.7rem 0; }
.rule h3 { margin: 0.1rem 0 0.3rem; }
.rule p { margin: 0.2rem 0; }
table.heat { width: auto; }
table.heat th[scope=row] { white-space: nowrap; }
table.heat td { text-align: center; min-width: 7.5rem; border: 1px solid #fff; }
table.heat td .small { color: inherit; opacity: 0.85; }
table.heat td.uncounted { color: var(--skip); background: repeating-linear-gradient(135deg, #f4f5f7 0 6px, #e6e8eb 6px 8px); }
table.heat caption { caption-side: bottom; text-align: left; font-size: 0.82rem; color: var(--muted); padding-top: 0.3rem; }
.scope { border: 2px solid var(--accent); border-radius: 6px; padding: 0.6rem 0.9rem; margin: 0.6rem 0 0.9rem;
  background: #eef4fa; }
.scope strong { display: block; }
.statement { font-size: 1.02rem; }
@media print { .scope { background: none; } table.heat td { border: 1px solid var(--rule); } }
"""


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _facts(pairs: Sequence[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in pairs) + "</dl>"


def _render(table: Table) -> str:
    """A :class:`~._biometrics.Table` as the page's table: every cell escaped, verdicts as badges."""
    rows = [[_badge(c.word) if isinstance(c, Verdict) else _e(c) for c in row] for row in table.rows]
    return _table([_e(h) for h in table.header], rows, table.numeric)


def summary_cells(check: CheckResult) -> tuple[str, str, str, str] | None:
    """For the verdicts table: the deciding comparison, its ratio, the ratio's interval and ``×tolerance``.

    None for a check that is not decided on ratios. The deciding comparison is the first with the
    check's verdict (the verdict is the worst of them).
    """
    if not is_ratio_check(check):
        return None
    rows = ratios_of(check)
    row = next((r for r in rows if r.verdict == check.verdict), rows[0] if rows else None)
    if row is None:
        return None
    tolerance = "n/a" if row.tolerance is None else f"×{row.tolerance:g}"
    label = f"{_e(row.group)} vs {_e(row.reference)} (ratio)"
    return label, ratio_text(row.ratio), interval_text(row.ci, ratio_text), tolerance


# -- the differential checks ----------------------------------------------------------------------------


def _inequity(check: CheckResult) -> str:
    measures, caveats, alpha, level = inequity_of(check.details.get("inequity"))
    if not measures:
        return ""
    out = [
        "<h3>Inequity measures</h3>",
        f'<p class="small">Over the groups with a rate, at this threshold; alpha (the weight of FMR in GARBE and '
        f"FDR) {ratio_text(alpha)}; intervals from the same two-way bootstrap resamples.</p>",
        _render(measures_table(measures, level)),
    ]
    if caveats:
        out.append('<p class="small"><b>Caveats:</b></p><ul class="notes small">')
        out += [f"<li>{_e(c)}</li>" for c in caveats]
        out.append("</ul>")
    return "".join(out)


def _heat(value: float | None, lo: float, hi: float) -> tuple[str, str]:
    """Background and text colour of a matrix cell: darker for a higher FMR on a log scale; white for 0."""
    if value is None or value <= 0:
        return "#ffffff", "#1d2125"
    t = 1.0 if hi <= lo else (math.log10(value) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    t = 0.12 + 0.88 * min(max(t, 0.0), 1.0)
    light, dark = (244, 248, 251), (31, 78, 121)
    rgb = tuple(round(a + (b - a) * t) for a, b in zip(light, dark, strict=True))
    return "#{:02x}{:02x}{:02x}".format(*rgb), "#ffffff" if t > 0.55 else "#1d2125"


def _matrix(matrix: Matrix, same_group: bool) -> str:
    """The impostor matrix as a heatmap table: each cell's number written in it, the shade only repeats it."""
    positive = [v for row in matrix.fmr for v in row if v is not None and v > 0]
    lo, hi = (min(positive), max(positive)) if positive else (1.0, 1.0)
    head = '<th scope="col">probe group ↓ / reference group →</th>' + "".join(
        f'<th scope="col" class="num">{_e(g)}</th>' for g in matrix.reference_groups
    )
    body = []
    for i, probe in enumerate(matrix.probe_groups):
        cells = [f'<th scope="row">{_e(probe)}</th>']
        for j, reference in enumerate(matrix.reference_groups):
            fmr, k, n = matrix.fmr[i][j], matrix.false_matches[i][j], matrix.comparisons[i][j]
            counts = f"{count_text(k)} / {count_text(n)}"
            title = f"{probe} probes against {reference} references: FMR {rate_text(fmr)} ({counts})"
            if not matrix.counted[i][j]:
                cells.append(
                    f'<td class="uncounted" title="{_e(title)}">{rate_text(fmr)}<br>'
                    f'<span class="small">{counts}<br>not counted</span></td>'
                )
                continue
            background, ink = _heat(fmr, lo, hi)
            cells.append(
                f'<td style="background:{background};color:{ink}" title="{_e(title)}">{rate_text(fmr)}<br>'
                f'<span class="small">{counts}</span></td>'
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    scale = (
        f"from {rate_text(lo)} (lightest) to {rate_text(hi)} (darkest)" if positive else "no false match in any cell"
    )
    caption = (
        "Each cell: the FMR of impostor comparisons of a probe of the row's group with a reference of the column's "
        f"group, and false matches / impostor comparisons behind it. Shade: FMR on a log scale, {scale}; white: 0."
    )
    if same_group:
        caption += " Hatched: pairs of different groups, not counted towards the groups' FMR (impostors = same_group)."
    return (
        '<div class="table-wrap"><table class="heat"><caption>'
        + caption
        + f"</caption><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _rule_box(check: CheckResult) -> str:
    details = check.details
    rule = rule_of(check)
    metric = details.get("metric") if isinstance(details.get("metric"), str) else ""
    out = ['<div class="rule"><h3>Threshold</h3>']
    out.append(f"<p>{_e(rule.sentence(metric or '') if rule else 'The report does not say how it was set.')}</p>")
    pairs = details.get("impostors")
    out.append(
        f'<p class="small">Impostor pairs: {_e(pairs if isinstance(pairs, str) else "n/a")}; '
        f"{count_text(details.get('impostor_comparisons'))} impostor and "
        f"{count_text(details.get('genuine_comparisons'))} genuine comparisons counted; "
        f"design {_e(details.get('design', 'n/a'))}.</p>"
    )
    unsupported = unsupported_of(details)
    if unsupported:
        items = "".join(
            f"<li>target FMR {_e(f'{u.target_fmr:g}' if u.target_fmr is not None else 'n/a')}: {_e(u.reason)}</li>"
            for u in unsupported
        )
        out.append(f'<p class="small">Not evaluated:</p><ul class="notes small">{items}</ul>')
    return "".join(out) + "</div>"


def _marks(checks: Sequence[CheckResult], check_id: str) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
    """Target FMRs (for DET curves) and thresholds (for the histograms) of ``check_id``'s entries, binding first."""
    entries = sorted((c for c in checks if c.id == check_id), key=lambda c: not c.details.get("binding"))
    fmrs, thresholds = [], []
    for c in entries:
        rule = rule_of(c)
        if rule is not None and rule.kind == "target" and rule.target_fmr is not None:
            fmrs.append((rule.target_fmr, f"FMR {rule.target_fmr:g}"))
        if c.threshold is not None:
            thresholds.append((c.threshold, f"{c.threshold:g}"))
    return fmrs, thresholds


def _charts(check: CheckResult, checks: Sequence[CheckResult]) -> str:
    fmrs, thresholds = _marks(checks, check.id)
    out = []
    det = det_of(check)
    chart = det_chart(det, fmrs)
    if chart:
        omitted = sum(1 for points in det.values() for p in points if p.fmr <= 0)
        out += [
            "<h3>DET curves per group</h3>",
            f"<figure>{chart}<figcaption>Each group's FNMR against its own FMR as the threshold moves (at most four "
            "points a decade of FMR, exact counts at histogram bin edges); dotted lines: the target FMRs"
            + (
                f"; {omitted} point{'s' if omitted > 1 else ''} at FMR 0 cannot sit on the log axis, left out"
                if omitted
                else ""
            )
            + ". The curves are also those of the other differential check's binding entry.</figcaption></figure>",
        ]
    dist = distributions_of(check)
    if dist is not None:
        chart = distributions_chart(dist, thresholds)
        if chart:
            out += [
                "<h3>Score distributions per group</h3>",
                f"<figure>{chart}<figcaption>Genuine and impostor comparisons of probes of each group, as shares of "
                f"their kind per bin ({len(dist.edges) - 1} bins over the scores seen, one scale for all); solid line: the "
                "binding threshold, dashed: the others evaluated. Comparisons with a photo without a template have no score.</figcaption></figure>",
            ]
    return "".join(out)


def _ratio_section(check: CheckResult, checks: Sequence[CheckResult]) -> str:
    rate = nouns(check)[0]
    details = check.details
    out = [
        f'<section class="check" id="{_e(_anchor(check))}">',
        f"<h2>{_check_name(check)} {_badge(check.verdict)}</h2>",
        f'<p class="measure"><b>Measure:</b> {_e(check.measure or "n/a")}. '
        f"<b>Reference:</b> {_e(check.reference or 'n/a')}. <b>Decided on:</b> each group's {rate} ratio to the "
        "reference's, against the ratio tolerance in either direction.</p>",
        _rule_box(check),
    ]
    if check.groups:
        out += [f"<h3>{rate} per group</h3>", _render(groups_table(check))]
    else:
        out.append("<p>No group had data for this check.</p>")
    rows = ratios_of(check)
    if rows:
        tolerance = details.get("ratio_tolerance")
        chart = ratio_chart(rows, float(tolerance) if isinstance(tolerance, (int, float)) else None)
        out += [
            "<h3>Ratios to the reference against the tolerance</h3>",
            f"<figure>{chart}<figcaption>Marker: the ratio (square fail, diamond inconclusive, circle pass); bar: its "
            "interval (Bonferroni-adjusted level, in the table); shaded band: within the tolerance either way; "
            "an arrow: an interval without that bound (a rate of 0).</figcaption></figure>",
            _render(ratios_table(check)),
        ]
    out.append(_inequity(check))
    matrix = matrix_of(check)
    if matrix is not None:
        same = "same-group" in str(details.get("impostors", ""))
        out += ["<h3>Impostor matrix</h3>", _matrix(matrix, same)]
    if charts_check(checks) is check:
        out.append(_charts(check, checks))
    if check.notes:
        out.append('<h3>Notes</h3><ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in check.notes) + "</ul>")
    boot = details.get("bootstrap")
    if isinstance(boot, Mapping):
        out.append(
            f'<p class="small"><b>Bootstrap:</b> {_e(boot.get("method", "n/a"))}; {count_text(boot.get("resamples"))} '
            f"resamples, seed {_e(boot.get('seed', 'n/a'))}.</p>"
        )
    out.append(f'<p class="method"><b>Method:</b> {_e(check.method or "n/a")}.</p></section>')
    return "".join(out)


# -- the disclosure -------------------------------------------------------------------------------------


def _disclosure_section(check: CheckResult) -> str:
    disclosure = disclosure_of(check)
    level = f"{check.confidence:.0%}"
    info = _mapping(disclosure.get("equitability"))
    statement = info.get("statement") or (check.notes[0] if check.notes else "")
    facts = disclosure_facts(check)
    out = [
        f'<section class="check" id="{_e(_anchor(check))}">',
        f"<h2>ISO/IEC 19795-10-style disclosure: {_check_name(check)} {_badge(check.verdict)}</h2>",
        '<div class="scope" role="note"><strong>Follows the standard\'s published scope; not certified '
        f"conformance</strong>{_e(disclosure.get('scope', ''))} Standard: {_e(disclosure.get('standard', 'n/a'))}; "
        f"certified: {'yes' if disclosure.get('certified') is True else 'no'}.</div>",
        f'<p class="statement"><b>Equitability statement:</b> {_e(statement)}</p>',
        f'<p class="small">Tolerances: each group\'s FMR and FNMR within a factor of '
        f"{ratio_text(info.get('ratio_tolerance'))} of the reference's; failure to acquire within "
        f"{ratio_text(info.get('fta_tolerance'))} of it. Verdict: the worst of the two differential "
        "checks at the binding threshold and the failure-to-acquire gap.</p>",
        "<h3>Groups</h3>",
        _facts(facts["groups"]),
    ]
    sizes = sample_sizes_table(disclosure)
    if sizes is not None:
        out += ["<h4>Sample sizes</h4>", _render(sizes)]
    fta = fta_table(disclosure, level)
    if fta is not None:
        out += [
            "<h3>Failure to acquire</h3>",
            '<p class="small">Photos without a template (no face found); each counts as a miss in its genuine '
            "comparisons.</p>",
            _render(fta),
        ]
    out += ["<h3>Threshold rule</h3>", _facts(facts["rule"])]
    for label, reason in facts["unsupported"]:
        out.append(f'<p class="small">{_e(label)} not evaluated: {_e(reason)}</p>')
    entries = rates_at(disclosure, level)
    if entries:
        out.append("<h3>FMR and FNMR at each threshold, with uncertainty</h3>")
        for entry in entries:
            out.append(
                f"<h4>{_e(entry.title)} · FMR {_badge(entry.fmr_verdict)} · FNMR {_badge(entry.fnmr_verdict)}</h4>"
            )
            out.append(_render(entry.table))
    comparisons = _mapping(disclosure.get("comparisons"))
    out += [
        "<h3>Uncertainty</h3>",
        f"<p>{_e(disclosure.get('uncertainty', 'n/a'))}.</p>",
        f'<p class="small">Comparisons: {count_text(comparisons.get("total"))} ({_e(comparisons.get("metric", "n/a"))}, '
        f"design {_e(comparisons.get('design', 'n/a'))}).</p>",
    ]
    inequity = inequity_at_binding_table(disclosure)
    if inequity is not None:
        out += [
            "<h3>Inequity at the binding threshold</h3>",
            _render(inequity),
            '<p class="small">GARBE and FDR combine both rates, so they are the same in both columns; the caveats are '
            "under each differential check.</p>",
        ]
    out.append('<h3>Sources</h3><ol class="sources small">' + "".join(f"<li>{_e(s)}</li>" for s in SOURCES) + "</ol>")
    out.append(f'<p class="method"><b>Method:</b> {_e(check.method or "n/a")}.</p></section>')
    return "".join(out)


def biometric_section(check: CheckResult, checks: Sequence[CheckResult]) -> str | None:
    """The section of a 1:1 differential check or of the disclosure; None for any other check.

    ``checks`` are the report's checks (the DET curves and histograms go on one section of the page).
    """
    if check.id in RATIO_CHECKS:
        return _ratio_section(check, checks)
    if check.id == "equitability" and disclosure_of(check):
        return _disclosure_section(check)
    return None
