"""Reports side by side, and the regression gate's findings, rendered: Markdown for the terminal and GitHub.

What is rendered was worked out by :mod:`conformance.comparison` (``compare_reports``,
``find_regressions``), which says when a change is beyond noise; this module computes nothing. The
HTML page is :mod:`.html_compare`'s, from the same rows; the 1:1 operating points are
:mod:`.compare_biometrics`'.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from .._format import fixed, interval, level_text
from .._text import printable
from ..comparison.values import Change, CheckTable, Figure, Gap, Regression, ReportComparison, unmatched
from .compare_biometrics import render_points_markdown
from .markdown import VERDICT_LABELS, code, escape

__all__ = ["render_compare_html", "render_compare_markdown", "render_regressions"]

_VERDICT_MD = VERDICT_LABELS


def _plain(value: object) -> str:
    """One line of plain text: control characters (terminal escapes) and line breaks shown escaped."""
    return printable(value)


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


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
    level = "" if gap.ci is None or math.isclose(gap.level, rate_level) else f" @{level_text(gap.level)}"
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
        "rate [CI]" if math.isnan(level) else f"rate [{level_text(level)} CI]",
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
