"""1:1 comparison reports side by side, and their regression gate: matched by operating point, judged on ratios.

Two models' reports cannot be matched threshold by threshold: each fixes its own threshold where its
own impostor comparisons reach a target FMR (0.4129 on one model's cosine scale, 0.3781 on
another's). The differential checks (``false_match_differential``, ``false_non_match_differential``)
are therefore matched by **operating point**: the same target FMR (``FMR 0.001``), or the same
stated threshold. At each, :func:`operating_points` puts side by side each report's threshold, each
group's rate and each group's ratio to the reference, and the change of each from the first report.

When a change is beyond noise
-----------------------------
Each change is a later report's figure against the first's (for the gate: current against
baseline), from the two reported intervals, reports taken as independent samples (two models
scored on the same photos are positively correlated, so the rule is conservative there):

- **a ratio**, and **a rate whose two intervals lie above 0**: on the log scale. Each interval gives
  ``SE = (ln upper - ln lower) / (2 z)``, ``z`` the normal quantile at that interval's own level (a
  ratio's is Bonferroni-adjusted); the change is the factor ``later / first`` with interval
  ``exp(ln(later / first) +/- z sqrt(SE1**2 + SE2**2))`` at the change's level. Rates as small as
  FMRs have skewed intervals that a difference scale would misread.
- **a rate with a count of 0 or an interval reaching 0**: the difference, ``SE = half-width / z``
  (the normal approximation of :mod:`.compare`).
- a ratio interval the report leaves open (a bound over a zero rate) gives no change.

Beyond noise: the change's interval excludes no change (1 for a factor, 0 for a difference). The
level of a change is the higher of the two checks' confidences.

What counts as a regression (the gate)
--------------------------------------
At the same operating point, for a group present in both reports: its **ratio** to the reference
moved further from 1 (``|ln ratio|`` grew) and the log change is beyond noise in that direction
(a tolerance applies either way, so 0.2 is as far from parity as 5); or its **FMR or FNMR** is
higher beyond noise. Each regression names the check, the operating point, the group and both
figures with their intervals. Identical reports give none: every change is exactly no change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..report import Report
from ..results import CheckResult
from ._biometrics import RATIO_CHECKS, Rule, count_text, interval_text, rate_text, ratio_text, ratios_of, rule_of

if TYPE_CHECKING:
    from .compare import Regression

__all__ = [
    "METHOD",
    "SEPARATE_CHECKS",
    "FigureChange",
    "GroupFigures",
    "OperatingPoint",
    "Side",
    "kind_of",
    "operating_points",
    "ratio_regressions",
    "unmatched",
]

# Checks that compare and the gate read here rather than threshold by threshold.
SEPARATE_CHECKS = (*RATIO_CHECKS, "equitability")

METHOD = (
    "Ratios, and rates whose intervals lie above 0, are compared on the log scale: each report's interval "
    "gives SE = (ln upper - ln lower) / (2z) at its own level, and the change is the factor later / first "
    "with interval exp(ln factor ± z·√(SE₁² + SE₂²)); a rate with a count of 0 is compared as a difference "
    "(SE = half-width / z). Beyond noise: the interval excludes no change. Reports are taken as independent "
    "samples; two models scored on the same photos are positively correlated, so this flags fewer changes "
    "than a paired analysis would."
)

_KINDS = (
    ("gender classification", "gender"),
    ("face search (1:N)", "search"),
    ("1:1 comparisons", "comparison"),
)


def kind_of(check_ids: Sequence[str]) -> str:
    """What a report measures, from its check ids: ``gender classification``, ``face search (1:N)``, ...

    >>> kind_of(["misgender_gap"]), kind_of(["false_match_differential", "equitability"])
    ('gender classification', '1:1 comparisons')
    """
    from ..checks.check_ids import COMPARISON_CHECKS, GENDER_CHECKS, SEARCH_CHECKS

    families = {"gender": GENDER_CHECKS, "search": SEARCH_CHECKS, "comparison": COMPARISON_CHECKS}
    found = [name for name, key in _KINDS if any(c in families[key] for c in check_ids)]
    return " and ".join(found) or "no known check"


# -- values ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FigureChange:
    """A later report's figure against the first's.

    ``scale`` is ``"log"`` (``value`` and ``ci`` are the factor later / first) or ``"difference"``
    (later minus first). ``statistic`` is the change over its standard error, ``p_value`` two-sided.
    """

    scale: str
    value: float
    ci: tuple[float, float]
    level: float
    statistic: float
    p_value: float

    @property
    def none(self) -> float:
        """The value of no change on this scale."""
        return 1.0 if self.scale == "log" else 0.0

    @property
    def direction(self) -> int:
        """+1 higher beyond noise, -1 lower beyond noise, 0 within noise."""
        if self.ci[0] > self.none:
            return 1
        if self.ci[1] < self.none:
            return -1
        return 0

    @property
    def beyond_noise(self) -> bool:
        return self.direction != 0

    @property
    def text(self) -> str:
        """``×7.8 [3.9, 15.5]`` or ``+0.002 [0.001, 0.003]``, with ▲/▼ when beyond noise."""
        mark = {1: "▲ ", -1: "▼ ", 0: ""}[self.direction]
        if self.scale == "log":
            return f"{mark}×{ratio_text(self.value)} {interval_text(self.ci, ratio_text)}"
        sign = "+" if self.value >= 0 else ""
        return f"{mark}{sign}{rate_text(self.value)} {interval_text(self.ci)}"


@dataclass(frozen=True)
class Side:
    """One report's figure: a rate (with its counts) or a ratio, with its interval and that interval's level."""

    value: float | None
    ci: tuple[float | None, float | None] | None
    level: float
    count: int | None = None
    n: int | None = None
    verdict: str | None = None

    def text(self, ratio: bool) -> str:
        write = ratio_text if ratio else rate_text
        counts = f" ({count_text(self.count)} / {count_text(self.n)})" if self.count is not None else ""
        return f"{write(self.value)} {interval_text(self.ci, write)}{counts}"


@dataclass(frozen=True)
class GroupFigures:
    """One group at one operating point across the reports: its rate and (but for the reference) its ratio.

    Tuples have one entry per report (None where absent); change entry 0 is always None.
    """

    group: str
    rates: tuple[Side | None, ...]
    ratios: tuple[Side | None, ...]
    rate_changes: tuple[FigureChange | None, ...]
    ratio_changes: tuple[FigureChange | None, ...]

    @property
    def differs(self) -> bool:
        return any(c is not None and c.beyond_noise for c in (*self.rate_changes, *self.ratio_changes))


@dataclass(frozen=True)
class OperatingPoint:
    """One differential check at one operating point (a target FMR, or a stated threshold), across the reports."""

    check: str
    label: str  # "FMR 0.001" or "threshold 80 (stated)"
    thresholds: tuple[float | None, ...]
    binding: tuple[bool, ...]
    verdicts: tuple[str | None, ...]
    references: tuple[str | None, ...]
    rules: tuple[Rule | None, ...]
    groups: tuple[GroupFigures, ...]

    @property
    def title(self) -> str:
        return f"{self.check} at {self.label}"

    def group(self, name: str) -> GroupFigures:
        for g in self.groups:
            if g.group == name:
                return g
        raise KeyError(f"no group {name!r} at {self.title}; groups: {', '.join(g.group for g in self.groups)}")


# -- the statistics of a change -------------------------------------------------------------------------


def _bounds(side: Side) -> tuple[float, float] | None:
    if side.ci is None or side.ci[0] is None or side.ci[1] is None:
        return None
    return side.ci[0], side.ci[1]


def change(first: Side | None, later: Side | None, level: float, *, ratio: bool) -> FigureChange | None:
    """``later`` against ``first`` at ``level`` (see the module's docstring); None where it cannot be said."""
    from ..stats import change_from_intervals

    if first is None or later is None or first.value is None or later.value is None:
        return None
    a, b = _bounds(first), _bounds(later)
    if a is None or b is None:
        return None
    logs = a[0] > 0 and b[0] > 0 and first.value > 0 and later.value > 0
    if ratio and not logs:
        return None  # a ratio interval reaching 0: nothing to say on a ratio scale
    moved = change_from_intervals(first.value, a, first.level, later.value, b, later.level, level, log=logs)
    scale = "log" if logs else "difference"
    return FigureChange(scale, moved.estimate, moved.ci, level, moved.statistic, moved.p_value)


# -- matching reports by operating point ----------------------------------------------------------------


_PointKey = tuple[str, tuple[str, float | None, str, str]]


def _points(report: Report) -> dict[_PointKey, CheckResult]:
    out: dict[_PointKey, CheckResult] = {}
    for check in report.checks:
        if check.id not in RATIO_CHECKS:
            continue
        rule = rule_of(check)
        key = rule.key if rule is not None else ("stated", check.threshold, "all", "")
        out.setdefault((check.id, key), check)
    return out


def unmatched(points: Sequence[OperatingPoint]) -> str:
    """Why nothing 1:1 can be compared, when no operating point is in two reports ("" when one is).

    Each report fixes its own thresholds: a report at FMR 0.001 and one at FMR 0.0001 (or on other
    impostors, or calibrated on another pool) have no figure in common.

    >>> unmatched([])
    ''
    """
    if not points or any(sum(v is not None for v in p.verdicts) >= 2 for p in points):
        return ""
    reports = max(len(p.verdicts) for p in points)
    held = []
    for i in range(reports):
        labels = list(dict.fromkeys(p.label for p in points if i < len(p.verdicts) and p.verdicts[i] is not None))
        held.append(f"#{i + 1} at {', '.join(labels) or 'none'}")
    return (
        "no 1:1 operating point is in two reports (" + "; ".join(held) + "): nothing 1:1 was compared; run them "
        "at the same --target-fmr (or --thresholds), on the same impostors and calibration pool"
    )


def _rate(check: CheckResult | None, group: str) -> Side | None:
    g = None if check is None else check.groups.get(group)
    if check is None or g is None:
        return None
    return Side(g.rate, g.ci, check.confidence, g.count, g.n)


def _ratio(check: CheckResult | None, group: str) -> Side | None:
    if check is None:
        return None
    row = next((r for r in ratios_of(check) if r.group == group), None)
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
        rule = rule_of(example)
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
                rate_changes.append(change(rates[0], rates[i], level, ratio=False))
                same_reference = first is not None and later is not None and first.reference == later.reference
                ratio_changes.append(change(ratios[0], ratios[i], level, ratio=True) if same_reference else None)
            groups.append(GroupFigures(name, rates, ratios, tuple(rate_changes), tuple(ratio_changes)))
        out.append(
            OperatingPoint(
                check=key[0],
                label=label,
                thresholds=tuple(None if c is None else c.threshold for c in present),
                binding=tuple(bool(c is not None and c.details.get("binding")) for c in present),
                verdicts=tuple(None if c is None else c.verdict for c in present),
                references=tuple(None if c is None else c.reference for c in present),
                rules=tuple(None if c is None else rule_of(c) for c in present),
                groups=tuple(groups),
            )
        )
    return out


# -- the gate -------------------------------------------------------------------------------------------


def _plain(text: str) -> str:
    from .compare import _plain as plain

    return plain(text)


def ratio_regressions(current: Report, baseline: Report) -> list[Regression]:
    """Ratios that moved away from 1, and rates that rose, beyond noise, at the same operating points.

    See the module's docstring. In the current report's order of checks, then groups (ratio first).
    """
    from .compare import Regression

    found: list[Regression] = []
    points = operating_points([baseline, current])
    nothing = unmatched(points)
    if nothing:
        # The gate must not pass by comparing nothing: a run at another operating point is no evidence.
        nan = (math.nan, math.nan)
        found.append(
            Regression(
                check=points[0].check,
                group="",
                reference="",
                baseline_gap=math.nan,
                baseline_ci=nan,
                current_gap=math.nan,
                current_ci=nan,
                change=math.nan,
                change_ci=nan,
                level=math.nan,
                statistic=math.nan,
                p_value=math.nan,
                baseline_verdict="",
                current_verdict="",
                message=_plain(
                    "nothing compared: " + nothing.replace("#1", "the baseline", 1).replace("#2", "this run", 1)
                ),
                figure="operating point",
                operating_point="none in common",
            )
        )
        return found
    for point in points:
        if point.verdicts[0] is None or point.verdicts[1] is None:
            continue
        rate_name = "FMR" if point.check == "false_match_differential" else "FNMR"
        for g in point.groups:
            candidates: list[tuple[str, Side, Side, FigureChange]] = []
            before, now, moved = g.ratios[0], g.ratios[1], g.ratio_changes[1]
            if before is not None and now is not None and moved is not None and before.value and now.value:
                further = abs(math.log(now.value)) > abs(math.log(before.value))
                away = moved.direction == (1 if now.value > 1 else -1)
                if further and away:
                    candidates.append(("ratio", before, now, moved))
            before, now, moved = g.rates[0], g.rates[1], g.rate_changes[1]
            if before is not None and now is not None and moved is not None and moved.direction > 0:
                candidates.append((rate_name, before, now, moved))
            for figure, old, new, moved in candidates:
                ratio = figure == "ratio"
                reference = point.references[1] or ""
                who = f"{g.group} vs {reference} ratio" if ratio else f"{g.group} {figure}"
                how = "further from 1 than" if ratio else "higher than"
                threshold = point.thresholds[1]
                at = (
                    f" (threshold {threshold:.6g}, baseline {point.thresholds[0]:.6g})"
                    if threshold is not None and point.thresholds[0] is not None
                    else ""
                )
                message = (
                    f"{point.check} at {point.label}{at}: {who} {new.text(ratio)} is {how} the baseline's "
                    f"{old.text(ratio)} beyond noise ({'factor' if moved.scale == 'log' else 'change'} "
                    f"{moved.text.removeprefix('▲ ').removeprefix('▼ ')} at {round(moved.level * 100, 1):g}%, "
                    f"p = {moved.p_value:.2g})"
                )
                if ratio and (old.verdict, new.verdict) in {("pass", "fail"), ("inconclusive", "fail")}:
                    message += f"; verdict {old.verdict} -> {new.verdict}"
                old_ci = _bounds(old) or (math.nan, math.nan)
                new_ci = _bounds(new) or (math.nan, math.nan)
                found.append(
                    Regression(
                        check=point.check,
                        group=g.group,
                        reference=reference,
                        baseline_gap=float(old.value or 0.0),
                        baseline_ci=old_ci,
                        current_gap=float(new.value or 0.0),
                        current_ci=new_ci,
                        change=moved.value,
                        change_ci=moved.ci,
                        level=moved.level,
                        statistic=moved.statistic,
                        p_value=moved.p_value,
                        baseline_verdict=old.verdict or "",
                        current_verdict=new.verdict or "",
                        message=_plain(message),
                        threshold=threshold,
                        figure=figure,
                        operating_point=point.label,
                    )
                )
    return found


def binding_rows(reports: Sequence[Report]) -> list[tuple[str, str, str, str]]:
    """Per report: the binding operating point, its threshold, the metric and the impostor comparisons behind it."""
    out = []
    for report in reports:
        binding = next(
            (c for c in report.checks if c.id == "false_match_differential" and c.details.get("binding")),
            next((c for c in report.checks if c.id in RATIO_CHECKS and c.details.get("binding")), None),
        )
        if binding is None:
            out.append(("n/a", "n/a", "n/a", "n/a"))
            continue
        rule = rule_of(binding)
        metric = binding.details.get("metric")
        out.append(
            (
                rule.label if rule is not None else "n/a",
                "n/a" if binding.threshold is None else f"{binding.threshold:.6g}",
                metric if isinstance(metric, str) else "n/a",
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
        disclosure = check.details.get("disclosure")
        info = disclosure.get("equitability") if isinstance(disclosure, Mapping) else None
        statement = info.get("statement") if isinstance(info, Mapping) else None
        out.append(
            (check.verdict, statement if isinstance(statement, str) else (check.notes[0] if check.notes else ""))
        )
    return out


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
