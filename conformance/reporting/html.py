"""``report.html``: one self-contained page for readers of reports rather than test logs.

Rendered from the typed :class:`~conformance.report.Report` alone; nothing is recomputed, only
drawn. The page carries its CSS inline and loads nothing from anywhere: no stylesheet, font,
script or image, so it opens offline, can be mailed or archived as one file, and prints on A4 or
Letter (print rules drop backgrounds and keep each check's section on one page where it fits).

Charts are inline SVG written here by hand rather than drawn with matplotlib: the output is
deterministic (no library version, font metrics or generated ids leak into it), tiny (a few
kilobytes per chart), costs no heavy dependency at import or at run time, and every value placed in
it goes through the same escaping as the rest of the page. Every value read from the report (group
and photo names, reasons, notes, analyzer fields) is passed through :func:`html.escape` with
``quote=True`` before it is placed, in text and in attributes alike; the page holds no script, no
event handler attribute and no ``javascript:`` link.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeGuard

from .._atomic import write_atomic
from .._numbers import finite_number
from ..report import PhotoOutcome, Report, as_report, endpoint_banners
from ..results import CheckResult, Comparison
from ._biometrics import threshold_label
from .markdown import undisclosed_text

__all__ = ["render_html", "write_html"]

_VERDICTS = ("fail", "inconclusive", "pass")
# The badge colour of each verdict a report may carry; the word is always written too.
_BADGES = {
    "fail": "fail",
    "inconclusive": "inconclusive",
    "pass": "pass",
    "not applicable": "skip",
    "not run": "skip",
    "incomplete": "fail",  # a run with a planned check missing never passes
}
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
# Fields of a group that the charts and first table columns show; the rest become extra columns.
_GROUP_FIELDS = ("photos", "subjects", "count", "n", "rate", "ci")
_SDK_FIELDS = ("botocore", "boto3", "onnxruntime", "dlib")
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

_CSS = """
:root { --ink: #1d2125; --muted: #5b6169; --rule: #d5d9de; --soft: #f3f5f7; --accent: #1f4e79;
  --fail: #a8231b; --fail-bg: #fdeceb; --inc: #8a5200; --inc-bg: #fff3d9; --pass: #1b6b34; --pass-bg: #e5f3e9;
  --skip: #4f5660; --skip-bg: #eceef1; }
* { box-sizing: border-box; }
html { background: #eef0f3; font-size: 15px; }
body { margin: 0; color: var(--ink); font: 1rem/1.5 "Liberation Sans", "Helvetica Neue", Arial, sans-serif;
  -webkit-text-size-adjust: 100%; }
main { max-width: 980px; margin: 0 auto; padding: 28px 40px 48px; background: #fff; }
h1 { font-size: 1.75rem; line-height: 1.2; margin: 0.4rem 0 0.2rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 0.6rem; padding-bottom: 0.25rem; border-bottom: 2px solid var(--ink); }
h3 { font-size: 1.02rem; margin: 1.3rem 0 0.4rem; }
p { margin: 0.45rem 0; }
a { color: var(--accent); }
code, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; font-size: 0.86em; }
.subtitle { color: var(--muted); margin: 0 0 1rem; }
.banner { border: 2px solid var(--inc); background: var(--inc-bg); border-radius: 6px; padding: 0.65rem 0.9rem;
  margin: 0 0 0.7rem; }
.banner strong { display: block; font-size: 1.02rem; }
.headline { display: flex; align-items: center; gap: 1rem; border: 1px solid var(--rule); border-radius: 6px;
  padding: 0.8rem 1rem; margin: 1rem 0; }
.headline p { margin: 0; }
.verdict { display: inline-block; min-width: 4.6em; text-align: center; font-weight: 700; font-size: 0.78rem;
  letter-spacing: 0.04em; text-transform: uppercase; border: 1.5px solid currentColor; border-radius: 4px;
  padding: 0.05rem 0.4rem; white-space: nowrap; }
.verdict.big { font-size: 1.15rem; padding: 0.2rem 0.7rem; flex: none; }
.v-fail { color: var(--fail); background: var(--fail-bg); }
.v-inconclusive { color: var(--inc); background: var(--inc-bg); }
.v-pass { color: var(--pass); background: var(--pass-bg); }
.v-skip, .v-unknown { color: var(--skip); background: var(--skip-bg); }
.howto { color: var(--muted); font-size: 0.9rem; }
.table-wrap { overflow-x: auto; margin: 0.5rem 0 0.8rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.88rem; font-variant-numeric: tabular-nums; }
th, td { text-align: left; vertical-align: top; padding: 0.3rem 0.55rem; border-bottom: 1px solid var(--rule); }
thead th { border-bottom: 2px solid var(--ink); font-size: 0.92em; color: var(--muted); font-weight: 700; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.wrap { overflow-wrap: break-word; }
td.path { overflow-wrap: anywhere; }
td code { white-space: nowrap; }
th.num { white-space: normal; }
tr.skipped td { color: var(--skip); }
.small { font-size: 0.86em; color: var(--muted); }
.check { margin-top: 2.4rem; }
.check h2 { display: flex; align-items: center; gap: 0.7rem; flex-wrap: wrap; }
.measure { font-size: 0.98rem; }
.static { border: 1px solid var(--rule); border-left: 4px solid var(--accent); border-radius: 4px;
  padding: 0.5rem 0.8rem; margin: 0.7rem 0; }
.static table { width: auto; margin-top: 0.3rem; }
figure { margin: 0.8rem 0 1rem; }
figure svg { display: block; width: 100%; height: auto; }
figcaption { font-size: 0.82rem; color: var(--muted); margin-top: 0.2rem; }
svg text { font-family: "Liberation Sans", "Helvetica Neue", Arial, sans-serif; fill: var(--ink); }
svg .muted { fill: var(--muted); }
svg .head { fill: var(--muted); font-weight: 700; }
svg .grid { stroke: #e4e7eb; stroke-width: 1; }
svg .axis { stroke: var(--ink); stroke-width: 1; }
svg .zero { stroke: #7d838b; stroke-width: 1.2; }
svg .tol { stroke: var(--ink); stroke-width: 1.6; stroke-dasharray: 6 4; }
svg .bar { stroke: var(--accent); stroke-width: 2.2; }
svg .dot { fill: var(--accent); }
svg .k-fail { stroke: var(--fail); fill: var(--fail); }
svg .k-inconclusive { stroke: var(--inc); fill: var(--inc); }
svg .k-pass { stroke: var(--pass); fill: var(--pass); }
svg .k-unknown, svg .k-not-applicable { stroke: var(--skip); fill: var(--skip); }
svg text.k-fail, svg text.k-inconclusive, svg text.k-pass, svg text.k-unknown, svg text.k-not-applicable {
  stroke: none; font-weight: 700; }
svg .series { fill: none; stroke-width: 2; }
svg .mark { stroke: #7d838b; stroke-width: 1; stroke-dasharray: 1 3; }
.notes { margin: 0.4rem 0; padding-left: 1.2rem; }
.method { font-size: 0.86rem; color: var(--muted); border-top: 1px dotted var(--rule); padding-top: 0.4rem; }
dl.facts { display: grid; grid-template-columns: 12rem 1fr; gap: 0.1rem 1rem; margin: 0.4rem 0 0.8rem; font-size: 0.92rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
pre { background: var(--soft); border: 1px solid var(--rule); border-radius: 4px; padding: 0.5rem 0.7rem;
  white-space: pre-wrap; overflow-wrap: anywhere; }
ol.sources li { margin-bottom: 0.35rem; }
footer { margin-top: 2.5rem; color: var(--muted); font-size: 0.8rem; border-top: 1px solid var(--rule);
  padding-top: 0.5rem; }
@page { margin: 14mm 12mm; }
@media print {
  html, body, main { background: none; }
  html { font-size: 9.5pt; }
  body { line-height: 1.35; }
  main { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; }
  .banner, .verdict, .v-fail, .v-inconclusive, .v-pass, .v-skip, .v-unknown, pre { background: none; }
  .banner { border-width: 2.5pt; }
  .table-wrap { overflow: visible; margin: 0.2rem 0 0.4rem; }
  table { font-size: 0.86rem; }
  th, td { padding: 0.12rem 0.4rem; }
  h2 { margin: 1.2rem 0 0.4rem; }
  h3 { margin: 0.6rem 0 0.2rem; }
  .check { margin-top: 1rem; break-inside: avoid-page; }
  figure { margin: 0.3rem 0 0.4rem; }
  figure, table, tr, .static, .banner, .headline, dl.facts, ul.notes, .method, #photos, #methods { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  dl.facts { grid-template-columns: 10rem 1fr 10rem 1fr; gap: 0 0.8rem; }
  .check dl.facts { grid-template-columns: 9rem 1fr 9rem 1fr 9rem 1fr; }
}
"""


# -- formatting: every value from the report goes through _e before it reaches the page ---------------


def _e(value: object) -> str:
    """``value`` as text safe in HTML content and in quoted attributes."""
    return html.escape(str(value), quote=True)


def _is_num(value: object) -> TypeGuard[float]:
    return finite_number(value)


def _f3(value: object) -> str:
    """A rate, gap or bound with three decimals; ``n/a`` when the report has none."""
    return f"{value:.3f}" if _is_num(value) else "n/a"


def _pair(ci: object) -> tuple[float, float] | None:
    if isinstance(ci, Sequence) and not isinstance(ci, str) and len(ci) == 2 and all(_is_num(v) for v in ci):
        return float(ci[0]), float(ci[1])
    return None


def _ci(ci: object) -> str:
    bounds = _pair(ci)
    return "n/a" if bounds is None else f"[{bounds[0]:.3f}, {bounds[1]:.3f}]"


def _g(value: object) -> str:
    """A tolerance or level as written in the policy (``0.05``, ``0.95``)."""
    return f"{value:g}" if _is_num(value) else _e(value if value is not None else "n/a")


def _p(value: object) -> str:
    return f"{value:.2g}" if _is_num(value) else "n/a"


def _plain(value: object) -> str:
    """Any scalar or list from the report, escaped: yes/no for booleans, integral floats without decimals."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:.0f}" if value.is_integer() else f"{value:.3f}"
    if isinstance(value, Mapping):
        return "; ".join(f"{_e(k)}: {_plain(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value) or "none"
    return _e(value)


def _counted(value: object, noun: str) -> str:
    """``1 photo``, ``600 photos``; ``n/a photos`` when the report has no count."""
    return f"{_plain(value)} {noun}" + ("" if value == 1 else "s")


def _label(key: object) -> str:
    return _e(str(key).replace("_", " "))


def _verdict_key(verdict: object) -> str:
    if verdict == "not applicable":
        return "not-applicable"  # a CSS class may not hold a space
    return verdict if isinstance(verdict, str) and verdict in _VERDICTS else "unknown"


def _or(value: object, default: str) -> object:
    return default if value is None else value


def _badge(verdict: object, *, big: bool = False, key: str | None = None) -> str:
    """The verdict as a word in a coloured box: the colour never carries the meaning alone."""
    key = key or (_BADGES.get(verdict, "unknown") if isinstance(verdict, str) else "unknown")
    size = " big" if big else ""
    return f'<span class="verdict v-{key}{size}">{_e(verdict if verdict is not None else "unknown")}</span>'


def _anchor(check: CheckResult) -> str:
    """A page-unique id for a check's section: matching checks appear once per threshold."""
    name = check.id if check.threshold is None else f"{check.id}-{check.threshold:g}"
    return "check-" + re.sub(r"[^A-Za-z0-9_.-]", "-", name)


def _check_name(check: CheckResult) -> str:
    """The check's id as code, with its threshold (and whether that threshold binds) when it has one."""
    out = f"<code>{_e(check.id)}</code>"
    if check.threshold is not None:
        out += f" at {_e(threshold_label(check))}"
        if check.details.get("binding"):
            out += " (binding)"
    return out


def _clip(text: str, limit: int) -> str:
    """Shorten before escaping, so that an entity is never cut in half."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


# -- SVG building blocks -------------------------------------------------------------------------------


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


def _svg(width: float, height: float, label: str, body: Iterable[str]) -> str:
    return f'<svg viewBox="0 0 {_c(width)} {_c(height)}" role="img" aria-label="{label}">' + "".join(body) + "</svg>"


_WIDTH = 900.0
_ROW = 30.0
_TOP = 40.0


def _label_width(labels: Sequence[str]) -> tuple[float, int]:
    """Width of the label column and the characters that fit in it (13px sans: about 7.2px a character)."""
    longest = max((len(label) for label in labels), default=8)
    chars = min(max(longest, 8), 34)
    return 16 + chars * 7.2, chars


def _rates_chart(check: CheckResult) -> str:
    """Forest plot of each group's rate with its interval; counts and values written beside each row."""
    groups = check.groups
    if not groups:
        return ""
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
        row = [f"<g><title>{_e(name)}: {_f3(rate)} {_ci(bounds)}</title>"]
        row.append(_text(label_w, y + 4.5, _e(_clip(label, chars)), anchor="end"))
        if bounds is not None:
            row.append(_interval(axis, y, bounds, "bar"))
        if rate is not None:
            row.append(f'<circle cx="{_c(axis(rate))}" cy="{_c(y)}" r="5" class="dot"/>')
        counts = f"{_plain(group.count)} / {_plain(group.n)}"
        row.append(_text(plot_b + count_w - 8, y + 4.5, counts, anchor="end"))
        row.append(_text(_WIDTH - 4, y + 4.5, f"{_f3(rate)} {_ci(bounds)}", anchor="end"))
        out.append("".join(row) + "</g>")
    height = bottom + 46
    return _svg(_WIDTH, height, "rate per group: " + ", ".join(_e(n) for n in names), out)


def _comparison_label(comparison: Comparison) -> str:
    if comparison.reference.startswith("none"):
        return f"{comparison.group} (absolute)"
    return f"{comparison.group} vs {comparison.reference}"


def _gaps_chart(check: CheckResult) -> str:
    """Each comparison's gap and interval against the tolerance line and the zero line, coloured by verdict."""
    comparisons = check.comparisons
    if not comparisons:
        return ""
    labels = [_comparison_label(c) for c in comparisons]
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
        _text(plot_b + value_w - 8, 20, "gap [interval]", anchor="end", cls="head", size=12),
        _text(_WIDTH - 4, 20, "verdict", anchor="end", cls="head", size=12),
        *_x_axis(
            axis, ticks, _TOP - 12, bottom, "gap (group minus reference); right of the dashed line is beyond tolerance"
        ),
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
                f"tolerance {_g(tolerance)}",
                anchor="end" if left_of else "start",
                size=12,
            )
        )
    for i, (c, label) in enumerate(zip(comparisons, labels, strict=True)):
        y = _TOP + _ROW * i + _ROW / 2 - 4
        key = _verdict_key(c.verdict)
        difference, bounds = c.difference, c.ci
        row = [f"<g><title>{_e(label)}: {_f3(difference)} {_ci(bounds)}, {_e(c.verdict)}</title>"]
        row.append(_text(label_w, y + 4.5, _e(_clip(label, chars)), anchor="end"))
        if bounds is not None:
            row.append(_interval(axis, y, bounds, f"k-{key}"))
        if difference is not None:
            row.append(_marker(axis(difference), y, key))
        row.append(_text(plot_b + value_w - 8, y + 4.5, f"{_f3(difference)} {_ci(bounds)}", anchor="end"))
        row.append(_text(_WIDTH - 4, y + 4.5, _e(c.verdict.upper()), anchor="end", cls=f"k-{key}"))
        out.append("".join(row) + "</g>")
    return _svg(_WIDTH, bottom + 46, "gap per comparison: " + ", ".join(_e(x) for x in labels), out)


def _thresholds(checks: Sequence[CheckResult], check_id: str) -> list[float]:
    return sorted({float(c.threshold) for c in checks if c.id == check_id and c.threshold is not None})


def _sweep_chart(sweep: Sequence[Any], marks: Sequence[float] = ()) -> str:
    """One line per group: its rate at each threshold of ``details.sweep``; empty when there is no sweep.

    ``marks`` are thresholds drawn as dotted vertical lines (those the report evaluates).
    """
    points = [_mapping(p) for p in sweep if _is_num(_mapping(p).get("threshold"))]
    if not points:
        return ""
    names: list[str] = []
    for p in points:
        for name in _mapping(p.get("groups")):
            if str(name) not in names:
                names.append(str(name))
    if not names:
        return ""
    thresholds = sorted({float(p["threshold"]) for p in points})
    rates = [float(r) for p in points for r in _mapping(p.get("groups")).values() if _is_num(r)]
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
            (float(p["threshold"]), float(_mapping(p.get("groups"))[name]))
            for p in sorted(points, key=lambda p: float(p["threshold"]))
            if _is_num(_mapping(p.get("groups")).get(name))
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


# -- page sections -------------------------------------------------------------------------------------


def _table(
    header: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = (), paths: Sequence[int] = ()
) -> str:
    """A table; ``header`` and cells are HTML already escaped.

    Columns in ``numeric`` align right; columns in ``paths`` may break anywhere (long file names).
    """
    head = "".join(('<th class="num">' if i in numeric else "<th>") + f"{h}</th>" for i, h in enumerate(header))

    def kind(i: int) -> str:
        return "num" if i in numeric else "path" if i in paths else "wrap"

    body = "".join(
        "<tr>" + "".join(f'<td class="{kind(i)}">{cell}</td>' for i, cell in enumerate(row)) + "</tr>" for row in rows
    )
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _records_table(records: Sequence[Any], limit: int = _LISTED_ROWS) -> str:
    """A list of objects as a table, one column per key; the first ``limit`` rows, then a count of the rest."""
    rows = [_mapping(r) for r in records]
    keys: list[str] = []
    for r in rows:
        keys += [str(k) for k in r if str(k) not in keys]

    def cell(key: str, value: object) -> str:
        return _ci(value) if key == "ci" and value is not None else _plain(value)

    out = _table([_label(k) for k in keys], ([cell(k, r.get(k)) for k in keys] for r in rows[:limit]))
    if len(rows) > limit:
        out += f'<p class="small">and {len(rows) - limit} more; every row is in report.json.</p>'
    return out


def _banners(report: Report) -> str:
    out = []
    if report.analyzer.simulated:
        out.append(
            '<div class="banner" role="note"><strong>Simulated analyzer output</strong>The predictions in this '
            "report were constructed to reproduce published audit figures. They are not the output of any real "
            "service or model: read this report as a demonstration of the method, not as evidence about a "
            "product.</div>"
        )
    if report.analyzer.emulated:
        out.append(
            '<div class="banner" role="note"><strong>Emulated vendor API</strong>The answers came from the kit\'s '
            "local emulator of the vendor's API, recorded and then replayed. The vendor's service was not called: "
            "these figures say how the emulator answered, not how the vendor would.</div>"
        )
    for banner in endpoint_banners(report.analyzer):
        out.append(f'<div class="banner" role="note"><strong>{_e(banner.title)}</strong>{_e(banner.text)}</div>')
    return "".join(out)


def _summary(report: Report) -> str:
    from .html_biometrics import summary_cells

    sentence = (
        f"{report.count('fail')} failed, {report.count('inconclusive')} inconclusive, {report.count('pass')} passed, "
    )
    sentence += "".join(f"{report.count(v)} {v}, " for v in ("not applicable", "not run") if report.count(v))
    sentence += f"of {len(report.checks)} checks run"
    if report.skipped:
        sentence += f"; {len(report.skipped)} not run"
    missing = [c.id for c in report.not_run]
    if missing:
        sentence += (
            f". <strong>{len(missing)} of {len(report.planned)} planned checks were not run</strong> "
            f"({_e(', '.join(missing))})"
            + (": this report is not a verdict on the analyzer" if report.verdict == "incomplete" else "")
        )
    if report.run.fields.get("checks_chosen"):
        sentence += f". Scope: the checks chosen with --checks ({_e(', '.join(report.planned))}), and those only"
    out = [
        '<section class="headline" aria-label="overall verdict">',
        _badge(report.verdict, big=True),
        f"<div><p><strong>Overall verdict: {_e(_or(report.verdict, 'unknown'))}.</strong> {sentence}.</p>",
        f'<p class="howto">A check <b>fails</b> when the whole interval of a gap lies above its tolerance, '
        f"<b>passes</b> when it lies at or below it, and is <b>inconclusive</b> when the interval straddles the "
        f"tolerance: this data cannot tell. Under this policy inconclusive counts as "
        f"<b>{_e(_or(report.policy.inconclusive, 'fail'))}</b>.</p></div></section>",
    ]
    rows = []
    for check in report.checks:
        c = check.worst_comparison
        static = _mapping(check.details.get("static"))
        if c is not None:
            deciding = _e(_comparison_label(c))
            gap, interval, tolerance = _f3(c.difference), _ci(c.ci), _g(c.tolerance)
        else:
            if static:
                deciding = f"vocabulary (static half): {_e(static.get('verdict', 'unknown'))}"
            else:
                notes = check.notes
                deciding = f'<span class="small">{_e(notes[0]) if notes else "no comparison"}</span>'
            gap = interval = tolerance = "n/a"
        deciding, gap, interval, tolerance = summary_cells(check) or (deciding, gap, interval, tolerance)
        link = f'<a href="#{_e(_anchor(check))}">{_check_name(check)}</a>'
        rows.append([link, _badge(check.verdict), deciding, gap, interval, tolerance])
    table = _table(["check", "verdict", "deciding comparison", "gap", "interval", "tolerance"], rows, (3, 4, 5))
    if report.skipped:
        extra = "".join(
            f'<tr class="skipped"><td class="wrap"><code>{_e(s.id)}</code></td>'
            f'<td class="wrap">{_badge("not run", key="skip")}</td>'
            f'<td class="wrap" colspan="4">{_e(s.reason or "no reason given")}</td></tr>'
            for s in report.skipped
        )
        table = table.replace("</tbody>", extra + "</tbody>")
    out += ["<h2>Verdicts</h2>", table]
    if report.notes:
        out.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in report.notes) + "</ul>")
    return "".join(out)


def _static_half(static: Mapping[str, Any]) -> str:
    labels = _mapping(static.get("labels"))
    rows = [[_e(k), _e(v)] for k, v in labels.items()]
    vocabulary = (
        _table(["label the analyzer can give", "read as identity"], rows) if rows else "<p>No labels declared.</p>"
    )
    return (
        '<div class="static"><h3>Vocabulary (static half) ' + _badge(static.get("verdict")) + "</h3>"
        f"<p>{_e(static.get('reason', ''))}</p>{vocabulary}"
        f'<p class="small">Can express a nonbinary identity: {_plain(static.get("can_express_nonbinary"))}; '
        f"can abstain: {_plain(static.get('can_abstain'))}; vocabulary from {_e(static.get('source', 'n/a'))}.</p>"
        "</div>"
    )


def _groups_table(check: CheckResult) -> str:
    """Each group's figures; a check's own extra figures join the table, or follow it when there are many."""
    groups = check.groups
    extras: list[str] = []
    for g in groups.values():
        extras += [k for k in g.extra if k not in extras]
    header = [
        "group",
        "photos",
        "subjects",
        _e(check.count_label),
        "n",
        "rate",
        f"{check.confidence:.0%} interval",
    ]
    inline = extras if len(extras) <= 2 else []
    rows, extra_rows = [], []
    for name, group in groups.items():
        extra = [_f3(v) if isinstance(v, float) else _plain(v) for v in (group.extra.get(k) for k in extras)]
        row = [
            _e(name),
            _plain(group.photos),
            _plain(group.subjects),
            _plain(group.count),
            _plain(group.n),
            _f3(group.rate),
            _ci(group.ci),
        ]
        rows.append(row + extra if inline else row)
        extra_rows.append([_e(name), *extra])
    header += [_label(k) for k in inline]
    out = _table(header, rows, tuple(range(1, len(header))))
    if extras and not inline:
        out += _table(["group", *(_label(k) for k in extras)], extra_rows, tuple(range(1, len(extras) + 1)))
    return out


def _comparisons_table(check: CheckResult) -> str:
    rows = []
    for c in check.comparisons:
        p = _p(c.p_value)
        if c.p_adjusted is not None:
            p += f'<br><span class="small">Holm {_p(c.p_adjusted)}</span>'
        how = _e(c.method) or "interval"
        if c.level is not None:
            how += f", {c.level:.1%}".replace(".0%", "%")
        notes = [f'<span class="small">{how}</span>']
        if c.note:
            notes.append(_e(c.note))
        if c.verdict == "inconclusive" and c.min_detectable is not None:
            notes.append(f"a true gap of <b>{_f3(c.min_detectable)}</b> would fail with 80% power")
        ratio = f'<br><span class="small">ratio {c.ratio:.2f}</span>' if c.ratio is not None else ""
        rows.append(
            [
                _e(_comparison_label(c)),
                _f3(c.difference) + ratio,
                _ci(c.ci),
                p,
                _g(c.tolerance),
                _badge(c.verdict),
                "<br>".join(notes),
            ]
        )
    return _table(
        ["comparison", "gap", "interval", "p&#8209;value", "tolerance", "verdict", "interval method; note"],
        rows,
        (1, 2, 3, 4),
    )


def _details(details: Mapping[str, Any]) -> str:
    """Whatever else a check put in ``details``, shown plainly; ``static`` and ``sweep`` have their own places."""
    facts, tables = [], []
    for key, value in details.items():
        if key in ("static", "sweep", "binding"):
            continue
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            tables.append(f"<h3>{_label(key)}</h3>" + _records_table(value))
        elif value != "":
            facts.append(f"<dt>{_label(key)}</dt><dd>{_plain(value)}</dd>")
    return (f'<h3>Other figures</h3><dl class="facts">{"".join(facts)}</dl>' if facts else "") + "".join(tables)


def _check_section(check: CheckResult, thresholds: Sequence[float] = ()) -> str:
    """One check's section; ``thresholds`` are those the report evaluates this check at, marked on its sweep."""
    details = check.details  # the check's own JSON: read with care below
    level_text = f"{check.confidence:.0%}"
    out = [
        f'<section class="check" id="{_e(_anchor(check))}">',
        f"<h2>{_check_name(check)} {_badge(check.verdict)}</h2>",
        f'<p class="measure"><b>Measure:</b> {_e(check.measure or "n/a")}. '
        f"<b>Reference:</b> {_e(check.reference or 'n/a')}.</p>",
    ]
    static = _mapping(details.get("static"))
    if static:
        out.append(_static_half(static))
    chart = _rates_chart(check)
    if chart:
        out += [
            "<h3>Rate per group</h3>",
            f"<figure>{chart}<figcaption>Dot: the group's rate; bar: its {level_text} interval; "
            "k / n: units counted of the units measured.</figcaption></figure>",
            _groups_table(check),
        ]
    else:
        out.append("<p>No group had data for this check.</p>")
    gaps = _gaps_chart(check)
    if gaps:
        out += [
            "<h3>Gaps against the tolerance</h3>",
            f"<figure>{gaps}<figcaption>Marker: the gap (square fail, diamond inconclusive, circle pass); bar: its "
            "interval; dashed line: the tolerance; solid line: no gap.</figcaption></figure>",
            _comparisons_table(check),
        ]
    elif chart:
        out.append("<p>No comparison was made (see the notes).</p>")
    sweep = _sweep_chart(_list(details.get("sweep")), thresholds)
    if sweep:
        out += [
            "<h3>Rate by threshold</h3>",
            f'<figure class="sweep">{sweep}<figcaption>Each group\'s rate at each threshold'
            + ("; dotted lines: the thresholds this report evaluates" if thresholds else "")
            + ".</figcaption></figure>",
        ]
    out.append(_details(details))
    if check.notes:
        out.append('<h3>Notes</h3><ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in check.notes) + "</ul>")
    out.append(f'<p class="method"><b>Method:</b> {_e(check.method or "n/a")}.</p></section>')
    return "".join(out)


def _photos(report: Report) -> str:
    outcomes = report.outcomes
    total = sum(outcomes.values())
    keys = [k for k in _OUTCOMES if k in outcomes] + [k for k in outcomes if k not in _OUTCOMES]
    rows = [
        [_e(_OUTCOMES.get(k, k)), _plain(outcomes[k]), f"{outcomes[k] / total:.1%}" if total else "n/a"] for k in keys
    ]
    out = [
        '<section id="photos"><h2>Photos</h2>',
        f"<p>{_plain(total)} photos in the manifest, each accounted for.</p>",
    ]
    out.append(_table(["outcome", "photos", "share"], rows, (1, 2)).replace("<table>", '<table style="width:auto">'))
    troubled: list[PhotoOutcome] = [p for p in report.photos if p.outcome not in _USED]
    if troubled:
        out.append("<h3>Photos not analysed</h3>")
        out.append(
            _table(
                ["photo", "outcome", "reason"],
                (
                    [_e(p.photo or "?"), _e(_OUTCOMES.get(p.outcome, p.outcome)), _e(p.reason)]
                    for p in troubled[:_LISTED_PHOTOS]
                ),
                paths=(0,),
            )
        )
        if len(troubled) > _LISTED_PHOTOS:
            out.append(f"<p>and {len(troubled) - _LISTED_PHOTOS} more; every photo is in report.json.</p>")
    return "".join(out) + "</section>"


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
        "Clopper, C. J., &amp; Pearson, E. S. (1934). The use of confidence or fiducial limits illustrated in the "
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
        "1–26; Davison, A. C., &amp; Hinkley, D. V. (1997). Bootstrap Methods and their Application. "
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
        "Fisher, R. A. (1935). The Design of Experiments. Oliver &amp; Boyd.",
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
        "Kish, L. (1965). Survey Sampling. Wiley; Korn, E. L., &amp; Graubard, B. I. (1998). Confidence "
        "intervals for proportions with small expected number of positive counts estimated from survey data. "
        "Survey Methodology, 24(2), 193–201; Bell, R. M., &amp; McCaffrey, D. F. (2002). Bias reduction in "
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
        "80% power, from the verdict's own interval",
        "Zou, G. Y., &amp; Donner, A. (2008). Construction of confidence limits about effect measures: a "
        "general approach. Statistics in Medicine, 27(10), 1693–1702.",
    ),
)


def _methods(report: Report) -> str:
    policy = report.policy
    words = [str(_or(policy.interval, "")), str(_or(policy.exact_test, ""))]
    for check in report.checks:
        words.append(check.method)
        for c in check.comparisons:
            words.append(c.method)
            if c.min_detectable is not None:
                words.append("detectable")
    text = " ".join(words).lower()
    items = [
        f'<li><b>{name}</b>: {use}.<br><span class="small">{source}</span></li>'
        for keys, name, use, source in _SOURCES
        if any(k in text for k in keys)
    ]
    tolerance_text = "; ".join(f"<code>{_e(k)}</code> {_g(v)}" for k, v in policy.tolerance.items())
    return (
        '<section id="methods"><h2>Methods and sources</h2>'
        f"<p>Intervals are at {_g(policy.confidence)} confidence unless a check says otherwise. "
        "Each check's own method line above says exactly which of these it used.</p>"
        + (f'<ol class="sources">{"".join(items)}</ol>' if items else "")
        + (f"<p><b>Tolerances</b> (policy): {tolerance_text}.</p>" if tolerance_text else "")
        + "</section>"
    )


def _facts(pairs: Iterable[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def _provenance(report: Report) -> str:
    analyzer, dataset, policy, grouping, run = (
        report.analyzer,
        report.dataset,
        report.policy,
        report.grouping,
        report.run,
    )
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
    analyzer_facts = [
        ("name", _e(_or(analyzer.name, "?"))),
        ("version", _plain(analyzer.version)),
        ("adapter", f"<code>{_e(_or(analyzer.adapter, '?'))}</code>"),
    ]
    # What else the adapter said (SDK versions first) is shown as it said it.
    others = analyzer.fields
    analyzer_facts += [(_e(k), _plain(others[k])) for k in _SDK_FIELDS if k in others]
    analyzer_facts += [
        (_label(k), _plain(v))
        for k, v in others.items()
        if k not in shown and k not in _SDK_FIELDS and not isinstance(v, (Mapping, list))
    ]
    analyzer_facts += [
        ("answers from", _e(_or(analyzer.source, "n/a"))),
        ("record mode", _e(_or(analyzer.record_mode, "n/a"))),
        ("simulated output", _plain(analyzer.simulated)),
        ("emulated API", _plain(analyzer.emulated)),
    ]
    vocabulary = analyzer.vocabulary
    if vocabulary:
        labels = ", ".join(f"{_e(k)} → {_e(v)}" for k, v in _mapping(vocabulary.get("labels")).items()) or "none"
        analyzer_facts.append(
            (
                "vocabulary",
                f"{labels} (can abstain: {_plain(vocabulary.get('can_abstain'))}; can express nonbinary: "
                f"{_plain(vocabulary.get('can_express_nonbinary'))}; from {_e(vocabulary.get('source', 'n/a'))})",
            )
        )
    out = ['<section id="provenance"><h2>Provenance</h2>', "<h3>Analyzer</h3>", _facts(analyzer_facts)]
    # The sessions as the adapter read them (times, endpoint class), else as older reports held them.
    sessions = analyzer.recording_sessions or analyzer.recorded_with
    if sessions:
        out += ["<h3>Recording sessions</h3>", _records_table(sessions)]
    recording_notes = _list(analyzer.fields.get("recording_notes"))
    if recording_notes:
        out.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in recording_notes) + "</ul>")
    out += _evidence_facts(report)
    dataset_facts = [
        ("name", _e(_or(dataset.name, "?"))),
        ("photos", _plain(dataset.photos)),
        ("subjects", _plain(dataset.subjects)),
        *([("undisclosed gender identity", _e(text))] if (text := undisclosed_text(report)) else []),
        ("content hash", f"<code>{_e(_or(dataset.content_hash, 'n/a'))}</code>"),
        ("manifest", _e(_or(dataset.manifest, "n/a"))),
        ("extra columns", _plain(dataset.columns)),
        ("grouping", _e(", ".join(grouping.by) or "default (cis / trans / nonbinary / unknown)")),
        ("reference group", _e(_or(grouping.reference, "n/a"))),
    ]
    out += ["<h3>Dataset</h3>", _facts(dataset_facts)]
    policy_facts = [
        ("profile", f"<code>{_e(_or(policy.profile, '?'))}</code>"),
        ("from", _e(_or(policy.source, "n/a"))),
        ("confidence", _g(policy.confidence)),
        ("inconclusive counts as", _e(_or(policy.inconclusive, "n/a"))),
    ]
    policy_facts += [
        (_label(k), _plain(v))
        for k, v in policy.fields.items()
        if k not in ("profile", "source", "confidence", "inconclusive", "tolerance") and (v or v == 0)
    ]
    out += ["<h3>Policy</h3>", _facts(policy_facts)]
    run_facts = [
        ("seed", _plain(report.seed)),
        ("kit version", _e(report.kit_version)),
        ("python", _e(_or(run.python, "?"))),
        ("pytest", _e(_or(run.pytest, "?"))),
        ("report written", _e(_or(report.created, "?"))),
        ("report schema", _plain(report.schema)),
    ]
    out += ["<h3>Run</h3>", _facts(run_facts)]
    if run.command:
        out.append(f"<p>This command reproduces the run:</p><pre><code>{_e(run.command)}</code></pre>")
    if run.flags:
        out.append(f'<p class="small">As pytest flags: <code>{_e(" ".join(run.flags))}</code></p>')
    return "".join(out) + "</section>"


def _evidence_facts(report: Report) -> list[str]:
    """The digests that seal the report to its evidence, and the command that checks them."""
    evidence = report.evidence
    if not evidence.fields:
        return []
    facts = [
        (_e(what), f"<code>{_e(entry.get('sha256', '?'))}</code> {_e(entry.get('path', ''))}")
        for what, entry in evidence.files
    ]
    policy = evidence.policy
    if policy.get("sha256"):
        facts.append(("policy content", f"<code>{_e(policy.get('sha256'))}</code> ({_e(policy.get('source', '?'))})"))
    cache = report.analyzer.fields.get("observations_cache")
    if isinstance(cache, str):
        facts.append(
            (
                "answers read from",
                f"the verified observation cache <code>{_e(cache)}</code> (sealed, bound to the recording's digest); "
                "where they came from was read from the recording again",
            )
        )
    return [
        "<h3>Evidence</h3>",
        _facts(facts),
        '<p class="small">Every image\'s SHA-256 is in report.json (<code>photos[].sha256</code>). '
        "<code>conformance verify report.json</code> checks each digest and re-derives every figure offline.</p>",
    ]


def render_html(report: Report | Mapping[str, Any]) -> str:
    """The HTML report for ``report`` (a :class:`~conformance.report.Report`, or a report.json dict).

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
    from .html_biometrics import BIOMETRIC_CSS, biometric_section

    report = as_report(report)
    analyzer, dataset, checks = report.analyzer, report.dataset, report.checks
    title = f"Conformance report: {_or(analyzer.name, '?')} on {_or(dataset.name, '?')}"
    body = [
        _banners(report),
        "<header><h1>Conformance report</h1>",
        f'<p class="subtitle">{_e(_or(analyzer.name, "?"))} on dataset {_e(_or(dataset.name, "?"))} '
        f"({_counted(dataset.photos, 'photo')} of {_counted(dataset.subjects, 'subject')}) · "
        f"written {_e(_or(report.created, '?'))}</p></header>",
        _summary(report),
        *(biometric_section(c, checks) or _check_section(c, _thresholds(checks, c.id)) for c in checks),
        _photos(report),
        _methods(report),
        _provenance(report),
        f"<footer>Written by the conformance kit {_e(report.kit_version)} from report.json; "
        "every figure here is read from it, none recomputed.</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}{BIOMETRIC_CSS}</style></head>\n<body><main>"
        + "\n".join(body)
        + "</main></body></html>\n"
    )


def write_html(report: Report | Mapping[str, Any], path: str | Path) -> Path:
    """Write :func:`render_html` of ``report`` to ``path``, atomically, and return the path."""
    target = Path(path)
    write_atomic(target, render_html(report))
    return target
