"""``conformance compare --html``: the comparison of reports as one self-contained page.

The page is ``templates/compare.html.j2`` with ``static/compare.css`` inlined; this module only
arranges what :mod:`conformance.comparison` worked out (the same rows as the Markdown comparison
of :mod:`.compare` and :mod:`.compare_biometrics`) for it. Every value is escaped by the template, its control and bidi
characters made visible (:mod:`._html`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..comparison.values import OperatingPoint, ReportComparison, unmatched
from ._html import render, stylesheet
from .compare import (
    _LEGEND,
    _Cell,
    _check_rows,
    _different,
    _headers,
    _short_hash,
    _table_level,
    _unique,
)
from .compare_biometrics import _INTRO, _MARKS, METHOD, _header, _point_rows

__all__ = ["render_compare_html"]


@dataclass(frozen=True)
class Point:
    """One 1:1 operating point: each report's verdict at it, its threshold, and the rows of its table."""

    point: OperatingPoint
    verdicts: tuple[tuple[str | None, str, bool], ...]  # verdict, threshold, binding
    header: tuple[str, ...]
    rows: tuple[tuple[tuple[str, int], ...], ...]  # (text, +1 higher / -1 lower beyond noise / 0) per cell


def _point(point: OperatingPoint) -> Point:
    verdicts = tuple(
        (verdict, "n/a" if threshold is None else f"{threshold:.6g}", binding)
        for verdict, threshold, binding in zip(point.verdicts, point.thresholds, point.binding, strict=True)
    )
    rows = tuple(tuple(zip(cells, marks, strict=True)) for cells, marks in _point_rows(point))
    return Point(point, verdicts, tuple(_header(point, str)), rows)


@dataclass(frozen=True)
class Table:
    """One check's table: each report's verdict, the column headers and the rows of cells."""

    label: str
    measure: str
    references: str
    verdicts: tuple[str | None, ...]
    header: tuple[str, ...]
    rows: tuple[tuple[_Cell, ...], ...]
    notes: tuple[str, ...]


def render_compare_html(comparison: ReportComparison) -> str:
    """The comparison as one self-contained HTML page (inline CSS, no scripts, no external assets)."""
    tables = [
        Table(
            label=table.label,
            measure=table.measure,
            references=" / ".join(_unique([r for r in table.references if r])),
            verdicts=tuple(table.verdicts),
            header=tuple(_headers(table.count_label, _table_level(table))),
            rows=tuple(tuple(row) for row in _check_rows(table)),
            notes=tuple(table.notes),
        )
        for table in comparison.checks
    ]
    return render(
        "compare.html.j2",
        css=stylesheet("compare.css"),
        comparison=comparison,
        short_hash=_short_hash,
        nothing_compared=_different(comparison) if not comparison.comparable else "",
        nothing_1to1=unmatched(comparison.points),
        intro=_INTRO,
        points=[_point(p) for p in comparison.points],
        # The reports' binding points and equitability verdicts are listed when there is a 1:1 part.
        bindings=list(zip(comparison.names, comparison.bindings, (v for v, _ in comparison.equitability), strict=True))
        if comparison.points
        else [],
        statements=[(i + 1, s) for i, (_, s) in enumerate(comparison.equitability) if s],
        point_method=f"{METHOD} {_MARKS}",
        tables=tables,
        legend=_LEGEND,
    )
