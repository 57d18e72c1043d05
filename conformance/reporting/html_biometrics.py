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
    Matrix,
    Measure,
    charts_check,
    count_text,
    det_of,
    disclosure_of,
    distributions_of,
    inequity_of,
    interval_text,
    is_ratio_check,
    matrix_of,
    rate_text,
    ratio_text,
    ratios_of,
    read_rule,
    rule_of,
    unsupported_of,
)
from .html import _anchor, _badge, _check_name, _e, _table
from .svg_biometrics import det_chart, distributions_chart, ratio_chart

__all__ = ["BIOMETRIC_CSS", "biometric_section", "summary_cells"]

BIOMETRIC_CSS = """
svg .band { fill: #e8f1e9; }
svg .imp { fill: #8fb0d6; fill-opacity: 0.55; stroke: #1f4e79; stroke-width: 1; }
svg .gen { fill: #f2b47e; fill-opacity: 0.55; stroke: #b35900; stroke-width: 1.2; }
svg .thr { stroke: var(--ink); stroke-width: 1.3; stroke-dasharray: 5 3; }
.rule { border: 1px solid var(--rule); border-left: 4px solid var(--accent); border-radius: 4px;
  padding: 0.45rem 0.8rem; margin: 0.7rem 0; }
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

_NOUNS = {
    # check id: (rate's name, errors, comparisons)
    "false_match_differential": ("FMR", "false matches", "impostor comparisons"),
    "false_non_match_differential": ("FNMR", "false non-matches", "genuine comparisons"),
}


def _level(level: float | None) -> str:
    return "" if level is None else f"{round(level * 100, 2):g}%"


def _facts(pairs: Sequence[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


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


def _groups_table(check: CheckResult) -> str:
    rate, errors, units = _NOUNS[check.id]
    level = f"{check.confidence:.0%} interval"
    rows = []
    for name, g in check.groups.items():
        share = g.extra.get("share_of_errors")
        rows.append(
            [
                _e(name) + (" (reference)" if name == check.reference else ""),
                count_text(g.photos),
                count_text(g.subjects),
                count_text(g.count),
                count_text(g.n),
                rate_text(g.rate),
                interval_text(g.ci),
                "n/a" if share is None else f"{share:.1%}",
            ]
        )
    header = ["group", "photos", "people", errors, units, rate, level, f"share of {errors}"]
    return _table(header, rows, tuple(range(1, len(header))))


def _ratios_table(check: CheckResult) -> str:
    differences = {c.group: c for c in check.comparisons}
    rows = []
    for r in ratios_of(check):
        c = differences.get(r.group)
        difference = "n/a" if c is None else f"{rate_text(c.difference)}<br>{interval_text(c.ci)}"
        tolerance = "n/a" if r.tolerance is None else f"×{r.tolerance:g}"
        how = f'<span class="small">{_e(r.method)}{", " + _level(r.level) if r.level is not None else ""}</span>'
        rows.append(
            [
                f"{_e(r.group)} vs {_e(r.reference)}",
                ratio_text(r.ratio),
                interval_text(r.ci, ratio_text),
                difference,
                tolerance,
                _badge(r.verdict),
                how + (f"<br>{_e(r.note)}" if r.note else ""),
            ]
        )
    header = ["comparison", "ratio", "interval", "difference [interval]", "tolerance", "verdict", "method; note"]
    return _table(header, rows, (1, 2, 3, 4))


def _measures_table(measures: Sequence[Measure], level: float | None) -> str:
    rows = [[_e(m.label), ratio_text(m.value), interval_text(m.ci, ratio_text)] for m in measures]
    return _table(["measure", "value", f"{_level(level) or '95%'} interval"], rows, (1, 2))


def _inequity(check: CheckResult) -> str:
    measures, caveats, alpha, level = inequity_of(check.details.get("inequity"))
    if not measures:
        return ""
    out = [
        "<h3>Inequity measures</h3>",
        f'<p class="small">Over the groups with a rate, at this threshold; alpha (the weight of FMR in GARBE and '
        f"FDR) {ratio_text(alpha)}; intervals from the same two-way bootstrap resamples.</p>",
        _measures_table(measures, level),
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
    impostors, genuine = details.get("impostor_comparisons"), details.get("genuine_comparisons")
    pairs = details.get("impostors")
    out.append(
        f'<p class="small">Impostor pairs: {_e(pairs if isinstance(pairs, str) else "n/a")}; '
        f"{count_text(impostors)} impostor and {count_text(genuine)} genuine comparisons counted; "
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
                f"their kind per bin ({len(dist.edges) - 1} bins over the scores seen); dashed lines: the thresholds "
                "evaluated. Comparisons with a photo without a template have no score.</figcaption></figure>",
            ]
    return "".join(out)


def _ratio_section(check: CheckResult, checks: Sequence[CheckResult]) -> str:
    rate = _NOUNS[check.id][0]
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
        out += [f"<h3>{rate} per group</h3>", _groups_table(check)]
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
            _ratios_table(check),
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


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _threshold_entries(disclosure: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """The FMR and FNMR entries of each threshold, paired by position (both lists follow the same thresholds)."""
    fmr = [_mapping(e) for e in _list(disclosure.get("false_match_rate"))]
    fnmr = [_mapping(e) for e in _list(disclosure.get("false_non_match_rate"))]
    return [(a, fnmr[i] if i < len(fnmr) else {}) for i, a in enumerate(fmr)]


def _rates_at(fmr: Mapping[str, Any], fnmr: Mapping[str, Any], level: str) -> str:
    rule = read_rule(fmr.get("threshold_rule"))
    threshold = fmr.get("threshold")
    title = rule.label if rule is not None else "threshold"
    value = f"{threshold:.6g}" if isinstance(threshold, (int, float)) else "n/a"
    heading = (
        f"<h4>{_e(title)}: threshold {_e(value)} · FMR {_badge(fmr.get('verdict'))} · "
        f"FNMR {_badge(fnmr.get('verdict'))}</h4>"
    )
    groups_f, groups_n = _mapping(fmr.get("groups")), _mapping(fnmr.get("groups"))
    rows = []
    for name in dict.fromkeys([*groups_f, *groups_n]):
        f, n = _mapping(groups_f.get(name)), _mapping(groups_n.get(name))
        rows.append(
            [
                _e(name),
                f"{count_text(f.get('errors'))} / {count_text(f.get('comparisons'))}",
                rate_text(f.get("rate")),
                interval_text(f.get("ci")),
                f"{count_text(n.get('errors'))} / {count_text(n.get('comparisons'))}",
                rate_text(n.get("rate")),
                interval_text(n.get("ci")),
            ]
        )
    header = [
        "group",
        "false matches / impostor comparisons",
        "FMR",
        f"{level} interval",
        "false non-matches / genuine comparisons",
        "FNMR",
        f"{level} interval",
    ]
    return heading + _table(header, rows, tuple(range(1, 7)))


def _disclosure_section(check: CheckResult) -> str:
    disclosure = disclosure_of(check)
    level = f"{check.confidence:.0%}"
    groups = _mapping(disclosure.get("groups"))
    verdict_info = _mapping(disclosure.get("equitability"))
    statement = verdict_info.get("statement") or (check.notes[0] if check.notes else "")
    out = [
        f'<section class="check" id="{_e(_anchor(check))}">',
        f"<h2>ISO/IEC 19795-10-style disclosure: {_check_name(check)} {_badge(check.verdict)}</h2>",
        '<div class="scope" role="note"><strong>Follows the standard\'s published scope; not certified '
        f"conformance</strong>{_e(disclosure.get('scope', ''))} Standard: {_e(disclosure.get('standard', 'n/a'))}; "
        f"certified: {'yes' if disclosure.get('certified') is True else 'no'}.</div>",
        f'<p class="statement"><b>Equitability statement:</b> {_e(statement)}</p>',
        f'<p class="small">Tolerances: each group\'s FMR and FNMR within a factor of '
        f"{ratio_text(verdict_info.get('ratio_tolerance'))} of the reference's; failure to acquire within "
        f"{ratio_text(verdict_info.get('fta_tolerance'))} of it. Verdict: the worst of the two differential "
        "checks at the binding threshold and the failure-to-acquire gap.</p>",
        "<h3>Groups</h3>",
        _facts(
            [
                ("defined by", _e(", ".join(str(g) for g in _list(groups.get("definition"))) or "n/a")),
                ("how membership was obtained", _e(groups.get("membership", "n/a"))),
                ("reference group", _e(groups.get("reference", check.reference or "n/a"))),
            ]
        ),
    ]
    sizes = _mapping(groups.get("sample_sizes"))
    if sizes:
        rows = [
            [
                _e(name),
                count_text(_mapping(s).get("photos")),
                count_text(_mapping(s).get("subjects")),
                count_text(_mapping(s).get("impostor_comparisons")),
                count_text(_mapping(s).get("genuine_comparisons")),
            ]
            for name, s in sizes.items()
        ]
        out += [
            "<h4>Sample sizes</h4>",
            _table(["group", "photos", "people", "impostor comparisons", "genuine comparisons"], rows, (1, 2, 3, 4)),
        ]
    fta = _mapping(disclosure.get("failure_to_acquire"))
    if fta:
        rows = [
            [
                _e(name),
                count_text(_mapping(f).get("count")),
                count_text(_mapping(f).get("photos")),
                rate_text(_mapping(f).get("rate")),
                interval_text(_mapping(f).get("ci")),
            ]
            for name, f in fta.items()
        ]
        out += [
            "<h3>Failure to acquire</h3>",
            '<p class="small">Photos without a template (no face found); each counts as a miss in its genuine '
            "comparisons.</p>",
            _table(["group", "not acquired", "photos", "rate", f"{level} interval"], rows, (1, 2, 3, 4)),
        ]
    rule = _mapping(disclosure.get("threshold_rule"))
    binding = rule.get("binding_threshold")
    targets = ", ".join(f"{t:g}" for t in _list(rule.get("target_fmr")) if isinstance(t, (int, float)))
    out += [
        "<h3>Threshold rule</h3>",
        _facts(
            [
                ("target FMRs", _e(targets or "none")),
                ("calibrated on", _e(rule.get("calibrated_on", "n/a"))),
                ("impostor pairs", _e(rule.get("impostors", "n/a"))),
                (
                    "binding threshold",
                    _e(f"{binding:.6g}" if isinstance(binding, (int, float)) else "n/a")
                    + " (the first target FMR the data support)",
                ),
            ]
        ),
    ]
    for raw in _list(rule.get("unsupported")):
        u = _mapping(raw)
        out.append(
            f'<p class="small">Target FMR {_e(u.get("target_fmr", "n/a"))} not evaluated: {_e(u.get("reason", ""))}</p>'
        )
    entries = _threshold_entries(disclosure)
    if entries:
        out.append("<h3>FMR and FNMR at each threshold, with uncertainty</h3>")
        out += [_rates_at(f, n, level) for f, n in entries]
    comparisons = _mapping(disclosure.get("comparisons"))
    out += [
        "<h3>Uncertainty</h3>",
        f"<p>{_e(disclosure.get('uncertainty', 'n/a'))}.</p>",
        f'<p class="small">Comparisons: {count_text(comparisons.get("total"))} ({_e(comparisons.get("metric", "n/a"))}, '
        f"design {_e(comparisons.get('design', 'n/a'))}).</p>",
    ]
    at_binding = _mapping(verdict_info.get("inequity_at_binding"))
    fmr_m, _, _, fmr_level = inequity_of(at_binding.get("fmr"))
    fnmr_m, _, _, _ = inequity_of(at_binding.get("fnmr"))
    if fmr_m or fnmr_m:
        by_key = {m.key: m for m in fnmr_m}
        rows = []
        for m in fmr_m:
            other = by_key.get(m.key)
            rows.append(
                [
                    _e(m.label),
                    f"{ratio_text(m.value)} {interval_text(m.ci, ratio_text)}",
                    "n/a" if other is None else f"{ratio_text(other.value)} {interval_text(other.ci, ratio_text)}",
                ]
            )
        out += [
            "<h3>Inequity at the binding threshold</h3>",
            _table(["measure", f"on FMR [{_level(fmr_level) or level} interval]", "on FNMR [interval]"], rows, (1, 2)),
            '<p class="small">GARBE and FDR combine both rates, so they are the same in both columns; the caveats are '
            "under each differential check.</p>",
        ]
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
