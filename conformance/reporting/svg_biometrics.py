"""Inline SVG charts of a 1:1 comparison run: rate ratios, DET curves, score distributions.

Hand-written like the charts of :mod:`conformance.reporting.svg` (and with its building blocks),
for the same reasons: deterministic output, a few kilobytes a chart, no plotting library, and every
value from the report escaped before it is placed. Each chart reads figures the report holds and
draws them; nothing is recomputed except positions (and, for the histograms, each bin's share of its
kind's comparisons, so that 600 genuine and 269,100 impostor comparisons share one axis).

Rates as small as false-match rates are drawn on a log axis (decades labelled ``1e-4``); ratios on a
log axis too, so that a factor of 2 above and below parity are the same distance from 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup

from ._biometrics import DetPoint, Distributions, RatioRow, rate_text, ratio_text
from .svg import _SERIES, _WIDTH, _Axis, _c, _clip, _e, _label_width, _marker, _svg, _text, _tick_label, _ticks

__all__ = ["det_chart", "distributions_chart", "ratio_chart"]

_TOP = 40.0
_ROW = 30.0


class _LogAxis:
    """A log10 map from values in ``[lo, hi]`` (both > 0) to coordinates in ``[a, b]``; values clamp to the ends."""

    def __init__(self, lo: float, hi: float, a: float, b: float) -> None:
        self.lo, self.hi, self.a, self.b = lo, hi, a, b
        self._lo, self._span = math.log10(lo), math.log10(hi) - math.log10(lo)

    def __call__(self, value: float) -> float:
        clamped = min(max(value, self.lo), self.hi)
        return self.a + (math.log10(clamped) - self._lo) / self._span * (self.b - self.a)


def _decades(lo: float, hi: float) -> tuple[float, float]:
    """``[lo, hi]`` widened outward to whole decades (at least one)."""
    low = 10.0 ** math.floor(math.log10(lo) + 1e-9)
    high = 10.0 ** math.ceil(math.log10(hi) - 1e-9)
    return low, max(high, low * 10)


def _nice_log(lo: float, hi: float) -> tuple[float, float]:
    """``[lo, hi]`` widened outward to the nearest of 1, 2 and 5 times a power of ten.

    >>> _nice_log(0.42, 18.8)
    (0.2, 20.0)
    """
    steps = [
        m * 10.0**k for k in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 2) for m in (1, 2, 5)
    ]
    low = max(s for s in steps if s <= lo * (1 + 1e-9))
    high = min(s for s in steps if s >= hi * (1 - 1e-9))
    return low, max(high, low * 2)


def _decade_label(value: float) -> str:
    """``1e-4`` for a decade below 0.01, else the number (``0.1``, ``1``, ``10``)."""
    exponent = round(math.log10(value))
    return f"1e{exponent}" if exponent < -2 else f"{value:g}"


def _line(x1: float, y1: float, x2: float, y2: float, cls: str, extra: str = "") -> str:
    return f'<line x1="{_c(x1)}" y1="{_c(y1)}" x2="{_c(x2)}" y2="{_c(y2)}" class="{cls}"{extra}/>'


# -- ratios ---------------------------------------------------------------------------------------------


def ratio_chart(rows: Sequence[RatioRow], tolerance: float | None) -> Markup:
    """Each group's rate ratio to the reference with its interval, on a log axis, against the tolerance band.

    The band runs from ``1/tolerance`` to ``tolerance``; the marker's shape says the verdict (square
    fail, diamond inconclusive, circle pass) and so does the word beside it. A bound the report
    leaves null (a ratio over a zero rate) is drawn as an arrow to the axis' end.
    """
    if not rows:
        return Markup()
    tol = tolerance if tolerance is not None and tolerance > 1 else None
    values = [1.0] + ([tol, 1 / tol] if tol else [])
    for row in rows:
        values += [v for v in (row.ratio, *(row.ci or ())) if v is not None and v > 0]
    lo, hi = _nice_log(min(values) / 1.15, max(values) * 1.15)
    labels = [f"{row.group} vs {row.reference}" for row in rows]
    label_w, chars = _label_width(labels)
    value_w, verdict_w = 170.0, 112.0
    plot_a, plot_b = label_w + 12, _WIDTH - value_w - verdict_w - 16
    axis = _LogAxis(lo, hi, plot_a, plot_b)
    bottom = _TOP + _ROW * len(rows) + 4
    out = [
        _text(label_w, 20, "comparison", anchor="end", cls="head", size=12),
        _text(plot_b + value_w - 8, 20, "ratio [interval]", anchor="end", cls="head", size=12),
        _text(_WIDTH - 4, 20, "verdict", anchor="end", cls="head", size=12),
    ]
    if tol:
        x1, x2 = axis(1 / tol), axis(tol)
        out.append(
            f'<rect x="{_c(x1)}" y="{_c(_TOP - 12)}" width="{_c(x2 - x1)}" height="{_c(bottom - _TOP + 12)}" '
            'class="band"/>'
        )
    out.append(_line(plot_a, bottom, plot_b, bottom, "axis"))
    ticks = [m * 10.0**k for k in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1) for m in (1, 2, 5)]
    for tick in (t for t in ticks if lo <= t <= hi):
        x = axis(tick)
        out.append(_line(x, _TOP - 12, x, bottom, "grid"))
        out.append(_line(x, bottom, x, bottom + 4, "axis"))
        out.append(_text(x, bottom + 17, _tick_label(tick), anchor="middle", cls="muted", size=12))
    out.append(_line(axis(1.0), _TOP - 12, axis(1.0), bottom, "zero"))
    if tol:
        for bound in (1 / tol, tol):
            out.append(_line(axis(bound), _TOP - 14, axis(bound), bottom, "tol"))
        out.append(_text(axis(tol) + 5, _TOP - 16, f"tolerance ×{tol:g}", size=12))
    out.append(
        _text(
            (plot_a + plot_b) / 2,
            bottom + 36,
            "rate ratio to the reference (log scale); shaded: within the tolerance either way",
            anchor="middle",
            cls="muted",
            size=12,
        )
    )
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        y = _TOP + _ROW * i + _ROW / 2 - 4
        key = row.verdict if row.verdict in ("fail", "inconclusive", "pass") else "unknown"
        lower, upper = row.ci if row.ci is not None else (None, None)
        text = f"{ratio_text(row.ratio)} [{ratio_text(lower)}, {ratio_text(upper)}]"
        parts = [f"<g><title>{_e(label)}: ratio {_e(text)}, {_e(row.verdict)}</title>"]
        parts.append(_text(label_w, y + 4.5, _e(_clip(label, chars)), anchor="end"))
        if row.ci is not None:
            left = axis(lower) if lower is not None and lower > 0 else plot_a
            right = axis(upper) if upper is not None else plot_b
            parts.append(_line(left, y, right, y, f"k-{key}", ' stroke-width="2.2"'))
            for end, known in ((left, lower is not None and lower > 0), (right, upper is not None)):
                if known:
                    parts.append(_line(end, y - 5, end, y + 5, f"k-{key}", ' stroke-width="2.2"'))
                else:  # an open end: an arrowhead at the axis' edge
                    tip = -7 if end == left else 7
                    parts.append(
                        f'<path d="M{_c(end + tip)} {_c(y)}L{_c(end)} {_c(y - 5)}L{_c(end)} {_c(y + 5)}Z" '
                        f'class="k-{key}"/>'
                    )
        if row.ratio is not None and row.ratio > 0:
            parts.append(_marker(axis(row.ratio), y, key))
        parts.append(_text(plot_b + value_w - 8, y + 4.5, _e(text), anchor="end"))
        parts.append(_text(_WIDTH - 4, y + 4.5, _e(row.verdict.upper()), anchor="end", cls=f"k-{key}"))
        out.append("".join(parts) + "</g>")
    return _svg(_WIDTH, bottom + 46, "rate ratio per comparison: " + ", ".join(_e(x) for x in labels), out)


# -- DET curves -----------------------------------------------------------------------------------------


def det_chart(det: Mapping[str, Sequence[DetPoint]], marks: Sequence[tuple[float, str]] = ()) -> Markup:
    """One DET curve per group: FNMR (linear) against the group's own FMR (log axis).

    ``marks`` are (FMR, label) drawn as dotted vertical lines (the target FMRs). Points at FMR 0
    cannot sit on a log axis and are left out (the caption says how many).
    """
    series = {name: [p for p in points if p.fmr > 0] for name, points in det.items()}
    series = {name: points for name, points in series.items() if points}
    if not series:
        return Markup()
    fmrs = [p.fmr for points in series.values() for p in points] + [m for m, _ in marks if m > 0]
    fnmrs = [p.fnmr for points in series.values() for p in points]
    x_lo, x_hi = _decades(min(fmrs), max(fmrs))
    top_fnmr = max([*fnmrs, 0.01])
    y_lo, y_hi, y_ticks = _ticks(0.0, 1.0 if top_fnmr > 0.5 else top_fnmr, target=5)
    names = list(series)
    legend_w = 190.0
    left, right, top = 70.0, _WIDTH - legend_w, 26.0
    height = max(340.0, top + 22 * len(names) + 70)
    bottom = height - 58
    x = _LogAxis(x_lo, x_hi, left + 6, right - 6)
    y = _Axis(y_lo, y_hi, bottom, top)
    out = [_line(left, bottom, right, bottom, "axis"), _line(left, top, left, bottom, "axis")]
    exponents = range(round(math.log10(x_lo)), round(math.log10(x_hi)) + 1)
    for k in exponents:
        decade = 10.0**k
        for minor in range(2, 10) if decade < x_hi else ():
            out.append(_line(x(decade * minor), top, x(decade * minor), bottom, "grid", ' stroke-opacity="0.5"'))
        out.append(_line(x(decade), top, x(decade), bottom, "grid"))
        out.append(_line(x(decade), bottom, x(decade), bottom + 4, "axis"))
        out.append(_text(x(decade), bottom + 17, _decade_label(decade), anchor="middle", cls="muted", size=12))
    out.append(
        _text(
            (left + right) / 2, bottom + 38, "false-match rate, FMR (log scale)", anchor="middle", cls="muted", size=12
        )
    )
    for tick in y_ticks:
        out.append(_line(left, y(tick), right, y(tick), "grid"))
        out.append(_text(left - 6, y(tick) + 4, _tick_label(tick), anchor="end", cls="muted", size=12))
    middle = (top + bottom) / 2
    out.append(
        f'<text x="18" y="{_c(middle)}" text-anchor="middle" font-size="12" class="muted" '
        f'transform="rotate(-90 18 {_c(middle)})">false non-match rate, FNMR</text>'
    )
    for value, label in marks:
        if x_lo <= value <= x_hi:
            out.append(_line(x(value), top - 6, x(value), bottom, "mark"))
            out.append(_text(x(value), top - 10, _e(label), anchor="middle", cls="muted", size=11))
    for i, name in enumerate(names):
        colour, dash = _SERIES[i % len(_SERIES)]
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        points = series[name]
        coords = " ".join(f"{_c(x(p.fmr))},{_c(y(p.fnmr))}" for p in points)
        group = [f"<g><title>{_e(name)}</title>"]
        group.append(f'<polyline points="{coords}" class="series" stroke="{colour}"{dashes}/>')
        for p in points:
            group.append(
                f'<circle cx="{_c(x(p.fmr))}" cy="{_c(y(p.fnmr))}" r="2.8" fill="{colour}"><title>{_e(name)}: '
                f"FMR {rate_text(p.fmr)}, FNMR {rate_text(p.fnmr)}</title></circle>"
            )
        ly = top + 8 + i * 22
        group.append(_line(right + 16, ly, right + 52, ly, "", f' stroke="{colour}" stroke-width="2.5"{dashes}'))
        group.append(_text(right + 58, ly + 4.5, _e(_clip(name, 18)), size=12))
        out.append("".join(group) + "</g>")
    return _svg(_WIDTH, height, "DET curves (FNMR against FMR) for " + ", ".join(_e(n) for n in names), out)


# -- score distributions --------------------------------------------------------------------------------


def distributions_chart(dist: Distributions, marks: Sequence[tuple[float, str]] = ()) -> Markup:
    """Per group, a panel with the genuine and impostor score histograms, each as shares of its kind.

    Shares, not counts: a group has hundreds of genuine comparisons and hundreds of thousands of
    impostor ones. Comparisons with a photo without a template have no score and are not in the
    bins (the caption gives their counts). ``marks`` are (threshold, label) drawn as vertical lines, the first (binding) solid.
    """
    names = list(dist.impostor)
    if not names:
        return Markup()
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    cell_w, cell_h = _WIDTH / columns, 230.0
    legend_h = 30.0
    edges = dist.edges
    out = [
        '<rect x="8" y="8" width="22" height="10" class="imp"/>',
        _text(36, 17, "impostor comparisons", size=12),
        '<rect x="200" y="8" width="22" height="10" class="gen"/>',
        _text(228, 17, "genuine comparisons", size=12),
    ]
    if marks:
        out.append(_line(400, 13, 430, 13, "thr bind"))
        out.append(_text(436, 17, "binding threshold", size=12))
    if len(marks) > 1:
        out.append(_line(570, 13, 600, 13, "thr"))
        out.append(_text(606, 17, "other thresholds evaluated", size=12))
    # One scale for every panel, so that the groups' histograms can be compared by eye.
    shares = [0.01]
    for name in names:
        for counts in (dist.impostor[name], dist.genuine[name]):
            total = sum(counts)
            shares += [c / total for c in counts] if total else []
    y_lo, y_hi, y_ticks = _ticks(0.0, max(shares), target=4)
    for index, name in enumerate(names):
        ox = (index % columns) * cell_w
        oy = legend_h + (index // columns) * cell_h
        left, right = ox + 46, ox + cell_w - 12
        top, bottom = oy + 24, oy + cell_h - 40
        x = _Axis(edges[0], edges[-1], left, right)
        imp, gen = dist.impostor[name], dist.genuine[name]
        imp_total, gen_total = sum(imp), sum(gen)
        y = _Axis(y_lo, y_hi, bottom, top)
        panel = [f"<g><title>{_e(name)}: scores</title>"]
        panel.append(_text(left, oy + 14, _e(_clip(name, 28)), cls="head", size=12))
        panel.append(_line(left, bottom, right, bottom, "axis"))
        panel.append(_line(left, top, left, bottom, "axis"))
        for tick in y_ticks:
            panel.append(_line(left, y(tick), right, y(tick), "grid"))
            panel.append(_text(left - 4, y(tick) + 4, _tick_label(tick), anchor="end", cls="muted", size=10))
        x_ticks = _ticks(edges[0], edges[-1], target=4)[2]
        for tick in x_ticks:
            if edges[0] <= tick <= edges[-1]:
                panel.append(_line(x(tick), bottom, x(tick), bottom + 3, "axis"))
                panel.append(_text(x(tick), bottom + 15, _tick_label(tick), anchor="middle", cls="muted", size=10))
        for counts, total, cls in ((imp, imp_total, "imp"), (gen, gen_total, "gen")):
            if not total:
                continue
            path = [f"M{_c(x(edges[0]))} {_c(y(0))}"]
            for k, count in enumerate(counts):
                level = y(count / total)
                path.append(f"L{_c(x(edges[k]))} {_c(level)}L{_c(x(edges[k + 1]))} {_c(level)}")
            path.append(f"L{_c(x(edges[-1]))} {_c(y(0))}Z")
            panel.append(f'<path d="{"".join(path)}" class="{cls}"/>')
        for k, (value, _label) in enumerate(marks):
            if edges[0] <= value <= edges[-1]:
                panel.append(_line(x(value), top, x(value), bottom, "thr bind" if k == 0 else "thr"))
        failed = dist.impostor_failed.get(name, 0) + dist.genuine_failed.get(name, 0)
        caption = f"{imp_total:,} impostor, {gen_total:,} genuine" + (f"; {failed:,} without a score" if failed else "")
        panel.append(_text((left + right) / 2, bottom + 30, _e(caption), anchor="middle", cls="muted", size=10))
        out.append("".join(panel) + "</g>")
    height = legend_h + rows * cell_h
    return _svg(_WIDTH, height, "score distributions per group: " + ", ".join(_e(n) for n in names), out)
