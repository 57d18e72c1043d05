"""The 1:1 part of a comparison of reports, rendered: one table per operating point, in Markdown.

:mod:`conformance.comparison.points` matched the differential checks by operating point and worked
out each change (:mod:`conformance.comparison.changes` says when one is beyond noise); this module
arranges them, and :mod:`.html_compare` puts the same rows on the HTML page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from ..comparison.values import FigureChange, OperatingPoint, Side, unmatched

__all__ = ["METHOD", "render_points_markdown"]

METHOD = (
    "Ratios, and rates whose intervals lie above 0, are compared on the log scale: each report's interval "
    "gives SE = (ln upper - ln lower) / (2z) at its own level, and the change is the factor later / first "
    "with interval exp(ln factor ± z·√(SE₁² + SE₂²)); a rate with a count of 0 is compared as a difference "
    "(SE = half-width / z). Beyond noise: the interval excludes no change. Reports are taken as independent "
    "samples; two models scored on the same photos are positively correlated, so this flags fewer changes "
    "than a paired analysis would."
)


# -- rendering ------------------------------------------------------------------------------------------

_INTRO = (
    "Each report fixes its thresholds on its own impostor comparisons, so 1:1 figures are matched by operating "
    "point (the same target FMR, or the same stated threshold), not by threshold value."
)


def _away(first: Side | None, later: Side | None, moved: FigureChange | None) -> int:
    """+1 when a ratio moved further from 1 beyond noise (worse: marked as a higher rate is), -1 closer, 0 neither."""
    if moved is None or not moved.beyond_noise or first is None or later is None:
        return 0
    if not first.value or not later.value:
        return 0
    return 1 if abs(math.log(later.value)) > abs(math.log(first.value)) else -1


_MARKS = (
    "▲/▼: the figure is higher/lower than #1's beyond noise; a rate higher is worse, a ratio is worse when it "
    "moved further from 1 (either way), and that is what the colour of the HTML page says."
)


def _point_rows(point: OperatingPoint) -> list[tuple[list[str], list[int]]]:
    """Per group and report: the cells (plain text) and which of them are beyond noise (+1/-1, 0)."""
    rows = []
    for g in point.groups:
        for i in range(len(point.verdicts)):
            rate, ratio = g.rates[i], g.ratios[i]
            rate_change, ratio_change = g.rate_changes[i], g.ratio_changes[i]
            absent = point.verdicts[i] is None or (rate is None and ratio is None)
            is_reference = point.references[i] == g.group
            cells = [
                g.group,
                f"#{i + 1}",
                "absent" if absent or rate is None else rate.text(ratio=False),
                "" if rate_change is None else rate_change.text,
                "absent"
                if absent
                else "reference"
                if is_reference
                else "absent"
                if ratio is None
                else ratio.text(ratio=True),
                "" if ratio is None or ratio.verdict is None else ratio.verdict,
                "" if ratio_change is None else ratio_change.text,
            ]
            marks = [0, 0, 0, 0 if rate_change is None else rate_change.direction, 0, 0]
            marks.append(_away(g.ratios[0], ratio, ratio_change))
            rows.append((cells, marks))
    return rows


def _header(point: OperatingPoint, escape: Callable[[str], str]) -> list[str]:
    """Column headers; the reference's name (from the reports) goes through ``escape``, the rest is the kit's."""
    rate = "FMR" if point.check == "false_match_differential" else "FNMR"
    reference = escape(" / ".join(dict.fromkeys(r for r in point.references if r)) or "the reference")
    return [
        "group",
        "report",
        f"{rate} [interval] (errors / comparisons)",
        f"{rate} change vs #1",
        f"ratio to {reference} [interval]",
        "verdict",
        "ratio change vs #1",
    ]


def _verdicts_text(point: OperatingPoint, label: Callable[[str], str]) -> str:
    parts = []
    for i, verdict in enumerate(point.verdicts):
        if verdict is None:
            parts.append(f"#{i + 1} absent")
            continue
        threshold = point.thresholds[i]
        where = "n/a" if threshold is None else f"{threshold:.6g}"
        parts.append(f"#{i + 1} {label(verdict)} (threshold {where}{', binding' if point.binding[i] else ''})")
    return " · ".join(parts)


def render_points_markdown(
    names: Sequence[str],
    points: Sequence[OperatingPoint],
    bindings: Sequence[tuple[str, str, str, str]],
    equitability: Sequence[tuple[str | None, str]],
) -> list[str]:
    """The Markdown lines of the 1:1 part of a comparison (none when no report has a differential check)."""
    from .markdown import code, escape, verdict_label

    if not points:
        return []
    out = ["## 1:1 comparisons, by operating point", "", escape(_INTRO), ""]
    nothing = unmatched(points)
    if nothing:
        out += [f"**Nothing comparable: {escape(nothing)}.**", ""]
    header = ["#", "report", "binding operating point", "threshold", "metric", "impostor comparisons", "equitability"]
    out += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for i, (name, binding, (verdict, _)) in enumerate(zip(names, bindings, equitability, strict=True)):
        cells = [
            f"#{i + 1}",
            escape(name),
            *(escape(b) for b in binding),
            "absent" if verdict is None else verdict_label(verdict),
        ]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out += [f"- #{i + 1} equitability: {escape(s)}" for i, (_, s) in enumerate(equitability) if s]
    out.append("")
    for point in points:
        out += [f"### {code(point.check)} at {escape(point.label)}: {_verdicts_text(point, verdict_label)}", ""]
        if not point.groups:
            out += ["No group figures: no threshold could be fixed (see the reports' notes).", ""]
            continue
        header = _header(point, escape)
        out += ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        for cells, marks in _point_rows(point):
            shown = []
            for k, (cell, mark) in enumerate(zip(cells, marks, strict=True)):
                if k == 5 and cell:
                    shown.append(verdict_label(cell))
                else:
                    # The group's name comes from the reports; every other cell is the kit's numbers and words.
                    text = escape(cell) if k == 0 else cell
                    shown.append(f"**{text}**" if mark else text)
            out.append("| " + " | ".join(shown) + " |")
        out.append("")
    out += [f"How 1:1 changes are judged: {escape(METHOD)} {escape(_MARKS)}", ""]
    return out
