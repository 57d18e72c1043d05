"""1:1 comparison reports side by side: matched by operating point, not threshold by threshold.

Two models' reports cannot be matched threshold by threshold: each fixes its own threshold where its
own impostor comparisons reach a target FMR (0.4129 on one model's cosine scale, 0.3781 on
another's). The differential checks (``false_match_differential``, ``false_non_match_differential``)
are therefore matched by **operating point**: the same target FMR (``FMR 0.001``), or the same
stated threshold. At each, :func:`operating_points` puts side by side each report's threshold, each
group's rate and each group's ratio to the reference, and the change of each from the first report
(:func:`.changes.figure_change`, whose docstring says when a change is beyond noise). The level of
a change is the higher of the two checks' confidences.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._format import count_text
from ..details import RATIO_CHECKS
from ..report import Report
from ..results import CheckResult
from .changes import figure_change
from .values import FigureChange, GroupFigures, OperatingPoint, Side

__all__ = ["SEPARATE_CHECKS", "binding_rows", "equitability_rows", "operating_points"]

# Checks that comparing and the gate read here rather than threshold by threshold.
SEPARATE_CHECKS = (*RATIO_CHECKS, "equitability")


_PointKey = tuple[str, tuple[str, float | None, str, str]]


def _points(report: Report) -> dict[_PointKey, CheckResult]:
    out: dict[_PointKey, CheckResult] = {}
    for check in report.checks:
        if check.id not in RATIO_CHECKS:
            continue
        rule = check.typed_details.rule
        key = rule.key if rule is not None else ("stated", check.threshold, "all", "")
        out.setdefault((check.id, key), check)
    return out


def _rate(check: CheckResult | None, group: str) -> Side | None:
    g = None if check is None else check.groups.get(group)
    if check is None or g is None:
        return None
    return Side(g.rate, g.ci, check.confidence, g.count, g.n)


def _ratio(check: CheckResult | None, group: str) -> Side | None:
    if check is None:
        return None
    row = next((r for r in check.typed_details.ratios if r.group == group), None)
    if row is None:
        return None
    return Side(row.ratio, row.ci, row.level or check.confidence, verdict=row.verdict)


def operating_points(reports: Sequence[Report]) -> list[OperatingPoint]:
    """Each differential check at each operating point found in any report, with changes from the first.

    Entries are in the first report's order, then any others' new ones.
    """
    per_report = [_points(r) for r in reports]
    out = []
    for key in dict.fromkeys(k for points in per_report for k in points):
        present = [points.get(key) for points in per_report]
        example = next(c for c in present if c is not None)
        rule = example.typed_details.rule
        label = (
            rule.label
            if rule is not None
            else "no threshold"
            if example.threshold is None
            else f"threshold {example.threshold:g}"
        )
        names = list(dict.fromkeys(g for c in present if c is not None for g in c.groups))
        groups = []
        for name in names:
            rates = tuple(_rate(c, name) for c in present)
            ratios = tuple(_ratio(c, name) for c in present)
            rate_changes: list[FigureChange | None] = [None]
            ratio_changes: list[FigureChange | None] = [None]
            for i in range(1, len(present)):
                first, later = present[0], present[i]
                level = max(first.confidence, later.confidence) if first and later else 0.95
                rate_changes.append(figure_change(rates[0], rates[i], level, ratio=False))
                same_reference = first is not None and later is not None and first.reference == later.reference
                ratio_changes.append(figure_change(ratios[0], ratios[i], level, ratio=True) if same_reference else None)
            groups.append(GroupFigures(name, rates, ratios, tuple(rate_changes), tuple(ratio_changes)))
        out.append(
            OperatingPoint(
                check=key[0],
                label=label,
                thresholds=tuple(None if c is None else c.threshold for c in present),
                binding=tuple(bool(c is not None and c.binding) for c in present),
                verdicts=tuple(None if c is None else c.verdict for c in present),
                references=tuple(None if c is None else c.reference for c in present),
                rules=tuple(None if c is None else c.typed_details.rule for c in present),
                groups=tuple(groups),
            )
        )
    return out


def binding_rows(reports: Sequence[Report]) -> list[tuple[str, str, str, str]]:
    """Per report: the binding operating point, its threshold, the metric and the impostor comparisons behind it."""
    out = []
    for report in reports:
        binding = next(
            (c for c in report.checks if c.id == "false_match_differential" and c.binding),
            next((c for c in report.checks if c.id in RATIO_CHECKS and c.binding), None),
        )
        if binding is None:
            out.append(("n/a", "n/a", "n/a", "n/a"))
            continue
        rule = binding.typed_details.rule
        metric = binding.typed_details.metric
        out.append(
            (
                rule.label if rule is not None else "n/a",
                "n/a" if binding.threshold is None else f"{binding.threshold:.6g}",
                "n/a" if metric is None else metric,
                count_text(rule.impostor_comparisons) if rule is not None else "n/a",
            )
        )
    return out


def equitability_rows(reports: Sequence[Report]) -> list[tuple[str | None, str]]:
    """Per report: the equitability verdict and statement (None, "" where the report has none)."""
    out: list[tuple[str | None, str]] = []
    for report in reports:
        check = next((c for c in report.checks if c.id == "equitability"), None)
        if check is None:
            out.append((None, ""))
            continue
        disclosure = check.typed_details.disclosure
        statement = None if disclosure is None else disclosure.statement
        out.append((check.verdict, statement if statement is not None else (check.notes[0] if check.notes else "")))
    return out
