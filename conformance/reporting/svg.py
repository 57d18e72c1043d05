"""The hand-written SVG charts of report.html: rates with intervals, gaps against the tolerance, sweeps.

Charts are inline SVG written here by hand rather than drawn with matplotlib: the output is
deterministic (no library version, font metrics or generated ids leak into it), tiny (a few
kilobytes per chart), costs no heavy dependency at import or at run time, and every value placed in
it goes through :func:`._html.escape`, as every value of the page's templates does. The building
blocks (axes, ticks, markers, text) serve the 1:1 charts of :mod:`.svg_biometrics` too.

A chart is returned as :class:`~markupsafe.Markup` (empty when there is nothing to draw): the templates
place it as it is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from markupsafe import Markup

from .._wording import CEILING_REFERENCE
from ..details import SweepPoint
from ..results import CheckResult, Comparison
from ._html import comparison_label, escape, fixed, interval, plain, policy_number

__all__ = ["gaps_chart", "rates_chart", "sweep_chart"]

_VERDICTS = ("fail", "inconclusive", "pass")
# Line styles for sweep series: colour and dash, so that series differ in print and in greyscale.
_SERIES = (
    ("#1f4e79", ""),
    ("#b35900", "7 4"),
    ("#2e7d32", "2 3"),
    ("#7b1fa2", "9 3 2 3"),
    ("#c62828", "4 2"),
    ("#00838f", "12 4"),
    ("#5d4037", "1 2"),
    ("#455a64", "6 2 1 2"),
)


def _e(value: object) -> str:
    return str(escape(value))


def _verdict_key(verdict: object) -> str:
    if verdict == "not applicable":
        return "not-applicable"  # a CSS class may not hold a space
    return verdict if isinstance(verdict, str) and verdict in _VERDICTS else "unknown"


def _clip(text: str, limit: int) -> str:
    """Shorten before escaping, so that an entity is never cut in half."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _c(x: float) -> str:
    """A coordinate: one decimal is finer than any screen or printer needs, and keeps output stable."""
    return f"{x:.1f}"


def _ticks(lo: float, hi: float, target: int = 6) -> tuple[float, float, list[float]]:
    """Round ``[lo, hi]`` outward to a tidy step (1, 2, 2.5 or 5 times a power of ten) and list the ticks."""
    if not hi > lo:
        hi = lo + 1.0
    span = hi - lo
    magnitude = 10 ** math.floor(math.log10(span / target))
    step = magnitude * 10
    for multiple in (1, 2, 2.5, 5, 10):
        if span / (multiple * magnitude) <= target + 1:
            step = multiple * magnitude
            break
    start = math.floor(lo / step + 1e-9) * step
    end = math.ceil(hi / step - 1e-9) * step
    count = round((end - start) / step)
    return start, end, [start + i * step for i in range(count + 1)]


def _tick_label(value: float) -> str:
    text = f"{round(value, 9):g}"
    return "0" if text == "-0" else text


class _Axis:
    """A linear map from values in ``[lo, hi]`` to x (or y) coordinates in ``[a, b]``."""

    def __init__(self, lo: float, hi: float, a: float, b: float) -> None:
        self.lo, self.hi, self.a, self.b = lo, hi, a, b

    def __call__(self, value: float) -> float:
        clamped = min(max(value, self.lo), self.hi)
        return self.a + (clamped - self.lo) / (self.hi - self.lo) * (self.b - self.a)


def _text(x: float, y: float, content: str, *, anchor: str = "start", cls: str = "", size: int = 13) -> str:
    """An SVG text element; ``content`` must already be escaped."""
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{_c(x)}" y="{_c(y)}" text-anchor="{anchor}" font-size="{size}"{klass}>{content}</text>'


def _marker(x: float, y: float, key: str) -> str:
    """Point marker whose shape says the verdict too: square fail, diamond inconclusive, circle pass."""
    if key == "fail":
        return f'<rect x="{_c(x - 5)}" y="{_c(y - 5)}" width="10" height="10" class="k-fail"/>'
    if key == "inconclusive":
        return (
            f'<path d="M{_c(x)} {_c(y - 6.5)}L{_c(x + 6.5)} {_c(y)}L{_c(x)} {_c(y + 6.5)}L{_c(x - 6.5)} {_c(y)}Z"'
            ' class="k-inconclusive"/>'
        )
    return f'<circle cx="{_c(x)}" cy="{_c(y)}" r="5.5" class="k-{key}"/>'


def _interval(axis: _Axis, y: float, bounds: tuple[float, float], cls: str) -> str:
    lo, hi = axis(bounds[0]), axis(bounds[1])
    return (
        f'<line x1="{_c(lo)}" y1="{_c(y)}" x2="{_c(hi)}" y2="{_c(y)}" class="{cls}"/>'
        f'<line x1="{_c(lo)}" y1="{_c(y - 5)}" x2="{_c(lo)}" y2="{_c(y + 5)}" class="{cls}"/>'
        f'<line x1="{_c(hi)}" y1="{_c(y - 5)}" x2="{_c(hi)}" y2="{_c(y + 5)}" class="{cls}"/>'
    )


def _x_axis(axis: _Axis, ticks: Sequence[float], top: float, bottom: float, title: str) -> list[str]:
    """Vertical grid lines at the ticks from ``top`` to ``bottom``, the axis line, tick labels and a title."""
    out = [f'<line x1="{_c(axis.a)}" y1="{_c(bottom)}" x2="{_c(axis.b)}" y2="{_c(bottom)}" class="axis"/>']
    for tick in ticks:
        x = axis(tick)
        out.append(f'<line x1="{_c(x)}" y1="{_c(top)}" x2="{_c(x)}" y2="{_c(bottom)}" class="grid"/>')
        out.append(f'<line x1="{_c(x)}" y1="{_c(bottom)}" x2="{_c(x)}" y2="{_c(bottom + 4)}" class="axis"/>')
        out.append(_text(x, bottom + 17, _tick_label(tick), anchor="middle", cls="muted", size=12))
    out.append(_text((axis.a + axis.b) / 2, bottom + 36, title, anchor="middle", cls="muted", size=12))
    return out


def _svg(width: float, height: float, label: str, body: Iterable[str]) -> Markup:
    """The chart as the kit's own markup: ``label`` and every text in ``body`` were escaped as they were placed."""
    return Markup(
        f'<svg viewBox="0 0 {_c(width)} {_c(height)}" role="img" aria-label="{label}">' + "".join(body) + "</svg>"
    )


_WIDTH = 900.0
_ROW = 30.0
_TOP = 40.0


def _label_width(labels: Sequence[str]) -> tuple[float, int]:
    """Width of the label column and the characters that fit in it (13px sans: about 7.2px a character)."""
    longest = max((len(label) for label in labels), default=8)
    chars = min(max(longest, 8), 34)
    return 16 + chars * 7.2, chars


def rates_chart(check: CheckResult) -> Markup:
    """Forest plot of each group's rate with its interval; counts and values written beside each row."""
    groups = check.groups
    if not groups:
        return Markup()
    names = list(groups)
    reference = check.reference
    labels = [name + (" (reference)" if name == reference else "") for name in names]
    label_w, chars = _label_width(labels)
    count_w, value_w = 110.0, 190.0
    plot_a, plot_b = label_w + 12, _WIDTH - count_w - value_w - 16
    values: list[float] = [0.0]
    for g in groups.values():
        values += [v for v in (g.rate, *(g.ci or ())) if v is not None]
    lo, hi = min(values), max(values)
    # Rates read against the whole 0..1 scale unless they are all small, or (calibration) below 0.
    hi = 1.0 if hi > 0.5 else hi
    lo, hi, ticks = _ticks(min(lo, 0.0), max(hi, lo + 1e-9))
    axis = _Axis(lo, hi, plot_a, plot_b)
    bottom = _TOP + _ROW * len(names) + 4
    level_text = f"{check.confidence:.0%} interval"
    count_label = _e(check.count_label)
    out = [
        _text(label_w, 20, "group", anchor="end", cls="head", size=12),
        _text(plot_b + count_w - 8, 20, f"{count_label} / n", anchor="end", cls="head", size=12),
        _text(_WIDTH - 4, 20, f"rate [{_e(level_text)}]", anchor="end", cls="head", size=12),
        *_x_axis(axis, ticks, _TOP - 12, bottom, "rate (the measure above)"),
    ]
    if lo < 0:
        out.append(f'<line x1="{_c(axis(0))}" y1="{_c(_TOP - 12)}" x2="{_c(axis(0))}" y2="{_c(bottom)}" class="zero"/>')
    for i, (name, label) in enumerate(zip(names, labels, strict=True)):
        group = groups[name]
        y = _TOP + _ROW * i + _ROW / 2 - 4
        rate, bounds = group.rate, group.ci
        row = [f"<g><title>{_e(name)}: {fixed(rate)} {interval(bounds)}</title>"]
        row.append(_text(label_w, y + 4.5, _e(_clip(label, chars)), anchor="end"))
        if bounds is not None:
            row.append(_interval(axis, y, bounds, "bar"))
        if rate is not None:
            row.append(f'<circle cx="{_c(axis(rate))}" cy="{_c(y)}" r="5" class="dot"/>')
        counts = _e(f"{plain(group.count)} / {plain(group.n)}")
        row.append(_text(plot_b + count_w - 8, y + 4.5, counts, anchor="end"))
        row.append(_text(_WIDTH - 4, y + 4.5, f"{fixed(rate)} {interval(bounds)}", anchor="end"))
        out.append("".join(row) + "</g>")
    height = bottom + 46
    return _svg(_WIDTH, height, "rate per group: " + ", ".join(_e(n) for n in names), out)


def gaps_chart(check: CheckResult) -> Markup:
    """Each comparison's gap and interval against the tolerance line and the zero line, coloured by verdict.

    Rows of a group's rate against detection_failure_gap's ceiling are no gaps (rt14f F7): they get a chart of
    their own, under the gaps', with the ceiling's line and an axis that says what they are.
    """
    gaps = tuple(c for c in check.comparisons if c.reference != CEILING_REFERENCE)
    ceilings = tuple(c for c in check.comparisons if c.reference == CEILING_REFERENCE)
    out = _comparisons_chart(
        gaps,
        "gap (group minus reference); right of the dashed line is beyond tolerance",
        "tolerance",
        "gap per comparison: ",
    )
    if ceilings:
        out += _comparisons_chart(
            ceilings,
            "the group's share of photos with no face found or an error; right of the dashed line is above the "
            "ceiling max_detection_failure",
            "ceiling",
            "each group's rate against the ceiling: ",
        )
    return Markup(out)


def _comparisons_chart(comparisons: Sequence[Comparison], axis_label: str, limit: str, title: str) -> Markup:
    """One row per comparison: its figure and interval against its limit's line (and the zero line)."""
    if not any(c.difference is not None for c in comparisons):
        return Markup()  # nothing to draw: a chart of "n/a" rows said less than the comparisons' table does
    labels = [comparison_label(c) for c in comparisons]
    label_w, chars = _label_width(labels)
    value_w, verdict_w = 190.0, 112.0
    plot_a, plot_b = label_w + 12, _WIDTH - value_w - verdict_w - 16
    tolerances = [float(c.tolerance) for c in comparisons]
    values = [0.0, *tolerances]
    for c in comparisons:
        values += [v for v in (c.difference, *(c.ci or ())) if v is not None]
    lo, hi, ticks = _ticks(min(values), max(values))
    axis = _Axis(lo, hi, plot_a, plot_b)
    bottom = _TOP + _ROW * len(comparisons) + 4
    out = [
        _text(label_w, 20, "comparison", anchor="end", cls="head", size=12),
        _text(
            plot_b + value_w - 8,
            20,
            f"{'gap' if limit == 'tolerance' else 'rate'} [interval]",
            anchor="end",
            cls="head",
            size=12,
        ),
        _text(_WIDTH - 4, 20, "verdict", anchor="end", cls="head", size=12),
        *_x_axis(axis, ticks, _TOP - 12, bottom, axis_label),
    ]
    if lo < 0:
        out.append(f'<line x1="{_c(axis(0))}" y1="{_c(_TOP - 12)}" x2="{_c(axis(0))}" y2="{_c(bottom)}" class="zero"/>')
    for tolerance in sorted(set(tolerances)):
        x = axis(tolerance)
        out.append(f'<line x1="{_c(x)}" y1="{_c(_TOP - 14)}" x2="{_c(x)}" y2="{_c(bottom)}" class="tol"/>')
        # The label sits on the side of the line with room for it.
        left_of = x > (plot_a + plot_b) / 2
        out.append(
            _text(
                x - 5 if left_of else x + 5,
                _TOP - 16,
                f"{limit} {policy_number(tolerance)}",
                anchor="end" if left_of else "start",
                size=12,
            )
        )
    for i, (c, label) in enumerate(zip(comparisons, labels, strict=True)):
        y = _TOP + _ROW * i + _ROW / 2 - 4
        key = _verdict_key(c.verdict)
        difference, bounds = c.difference, c.ci
        row = [f"<g><title>{_e(label)}: {fixed(difference)} {interval(bounds)}, {_e(c.verdict)}</title>"]
        row.append(_text(label_w, y + 4.5, _e(_clip(label, chars)), anchor="end"))
        if bounds is not None:
            row.append(_interval(axis, y, bounds, f"k-{key}"))
        if difference is not None:
            row.append(_marker(axis(difference), y, key))
        row.append(_text(plot_b + value_w - 8, y + 4.5, f"{fixed(difference)} {interval(bounds)}", anchor="end"))
        row.append(_text(_WIDTH - 4, y + 4.5, _e(c.verdict.upper()), anchor="end", cls=f"k-{key}"))
        out.append("".join(row) + "</g>")
    return _svg(_WIDTH, bottom + 46, title + ", ".join(_e(x) for x in labels), out)


def sweep_chart(sweep: Sequence[SweepPoint], marks: Sequence[float] = ()) -> Markup:
    """One line per group: its rate at each threshold of ``details.sweep``; empty when there is no sweep.

    ``marks`` are thresholds drawn as dotted vertical lines (those the report evaluates).
    """
    points = list(sweep)
    if not points:
        return Markup()
    names: list[str] = []
    for p in points:
        for name in p.rates:
            if name not in names:
                names.append(name)
    if not names:
        return Markup()
    thresholds = sorted({p.threshold for p in points})
    rates = [r for p in points for r in p.rates.values() if r is not None]
    top_rate = max([*rates, 0.0])
    y_lo, y_hi, y_ticks = _ticks(min([*rates, 0.0]), 1.0 if top_rate > 0.5 else max(top_rate, 1e-9), target=5)
    legend_w = 210.0
    left, right, top = 64.0, _WIDTH - legend_w, 24.0
    height = max(300.0, top + 22 * len(names) + 60)
    bottom = height - 56
    if len(thresholds) > 1:
        x_lo, x_hi = thresholds[0], thresholds[-1]
        x_ticks = thresholds if len(thresholds) <= 12 else _ticks(x_lo, x_hi)[2]
    else:
        x_lo, x_hi, x_ticks = thresholds[0] - 1, thresholds[0] + 1, thresholds
    x = _Axis(x_lo, x_hi, left + 10, right - 10)
    y = _Axis(y_lo, y_hi, bottom, top)
    out = [*_x_axis(x, x_ticks, top, bottom, "threshold")]
    out.append(f'<line x1="{_c(left)}" y1="{_c(top)}" x2="{_c(left)}" y2="{_c(bottom)}" class="axis"/>')
    for tick in y_ticks:
        out.append(f'<line x1="{_c(left)}" y1="{_c(y(tick))}" x2="{_c(right)}" y2="{_c(y(tick))}" class="grid"/>')
        out.append(_text(left - 6, y(tick) + 4, _tick_label(tick), anchor="end", cls="muted", size=12))
    out.append(
        f'<text x="16" y="{_c((top + bottom) / 2)}" text-anchor="middle" font-size="12" class="muted" '
        f'transform="rotate(-90 16 {_c((top + bottom) / 2)})">rate</text>'
    )
    for mark in marks:
        if x_lo <= mark <= x_hi:
            out.append(
                f'<line x1="{_c(x(mark))}" y1="{_c(top - 6)}" x2="{_c(x(mark))}" y2="{_c(bottom)}" class="mark"/>'
            )
            out.append(_text(x(mark), top - 10, _tick_label(mark), anchor="middle", cls="muted", size=11))
    for i, name in enumerate(names):
        colour, dash = _SERIES[i % len(_SERIES)]
        series = [
            (p.threshold, rate)
            for p in sorted(points, key=lambda p: p.threshold)
            if (rate := p.rates.get(name)) is not None
        ]
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        coords = " ".join(f"{_c(x(t))},{_c(y(r))}" for t, r in series)
        row = [f"<g><title>{_e(name)}</title>"]
        row.append(f'<polyline points="{coords}" class="series" stroke="{colour}"{dashes}/>')
        for t, r in series if len(series) <= 20 else ():  # dots on a fine grid would hide the line
            row.append(
                f'<circle cx="{_c(x(t))}" cy="{_c(y(r))}" r="3" fill="{colour}"><title>{_e(name)} at '
                f"{_tick_label(t)}: {r:.3f}</title></circle>"
            )
        ly = top + 8 + i * 22
        row.append(
            f'<line x1="{_c(right + 16)}" y1="{_c(ly)}" x2="{_c(right + 52)}" y2="{_c(ly)}" stroke="{colour}" '
            f'stroke-width="2.5"{dashes}/>'
        )
        row.append(_text(right + 58, ly + 4.5, _e(_clip(name, 20)), size=12))
        out.append("".join(row) + "</g>")
    return _svg(_WIDTH, height, "rate by threshold for " + ", ".join(_e(n) for n in names), out)
