"""What comparing reports finds, as values: each report's figures, their changes, and the regressions.

:mod:`.reports` fills them (reports side by side), :mod:`.points` the 1:1 operating points, :mod:`.gate`
the regressions; :mod:`conformance.reporting.compare` renders them. Nothing here computes a statistic:
these are values, readable by the report writers, which never compute one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .._format import count_text, interval_text, rate_text, ratio_text
from ..details import Rule

__all__ = [
    "WORSENED",
    "Change",
    "CheckTable",
    "Figure",
    "FigureChange",
    "Gap",
    "GroupFigures",
    "GroupRow",
    "OperatingPoint",
    "Regression",
    "ReportComparison",
    "ReportSummary",
    "Side",
    "label",
    "unmatched",
]

# A comparison's verdict that got worse: named in a regression's message, never a regression by itself.
WORSENED = frozenset({("pass", "fail"), ("inconclusive", "fail")})
# How the gate names a gap of the run that the baseline cannot speak to (a regression entry of its own).
NOT_COMPARED = "not compared with the baseline"


def label(check_id: str, threshold: float | None) -> str:
    """A check's id, with its threshold where it has one: ``false_match_gap at 80``."""
    return check_id if threshold is None else f"{check_id} at {threshold:g}"


# -- reports side by side, per check and group -------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One group's rate in one report, as the report states it.

    ``level`` is the confidence of ``ci`` (the check's confidence).
    """

    photos: int
    subjects: int
    count: int
    n: int
    rate: float | None
    ci: tuple[float, float] | None
    level: float

    @property
    def is_proportion(self) -> bool:
        """Whether ``rate`` is ``count / n`` (the overconfidence of confidence_calibration is not)."""
        return self.rate is not None and self.n > 0 and math.isclose(self.rate, self.count / self.n, abs_tol=1e-12)

    @property
    def independent_units(self) -> bool:
        """At most one unit of ``n`` per subject, so units can be taken as independent."""
        return self.n <= self.subjects


@dataclass(frozen=True)
class Gap:
    """One group's gap to the reference in one report: group minus reference, larger is worse."""

    reference: str
    difference: float | None
    ci: tuple[float, float] | None
    level: float
    tolerance: float
    verdict: str


@dataclass(frozen=True)
class Change:
    """A figure of a later report minus the same figure of an earlier one, with its interval.

    ``method`` is ``"Newcombe"`` or ``"normal approximation"``; the latter also gives the test
    ``statistic`` (difference over its standard error) and its two-sided ``p_value``.
    """

    difference: float
    ci: tuple[float, float]
    level: float
    method: str
    statistic: float | None = None
    p_value: float | None = None

    @property
    def beyond_noise(self) -> bool:
        """Whether the interval excludes 0."""
        return self.ci[0] > 0.0 or self.ci[1] < 0.0

    @property
    def direction(self) -> int:
        """+1 higher beyond noise, -1 lower beyond noise, 0 within noise."""
        if self.ci[0] > 0.0:
            return 1
        if self.ci[1] < 0.0:
            return -1
        return 0


@dataclass(frozen=True)
class GroupRow:
    """One group of one check across the reports.

    Each tuple has one entry per report, in the order given; ``None`` where the report lacks the
    check or the group (or, for ``gaps``, where the group is the reference). Entry ``i`` of
    ``rate_changes`` and ``gap_changes`` compares report ``i`` with the first report (entry 0 is
    always ``None``), ``None`` too where either figure is missing.
    """

    group: str
    figures: tuple[Figure | None, ...]
    gaps: tuple[Gap | None, ...]
    rate_changes: tuple[Change | None, ...]
    gap_changes: tuple[Change | None, ...]

    @property
    def differs(self) -> bool:
        """Whether any later report's rate or gap differs from the first report's beyond noise."""
        return any(c is not None and c.beyond_noise for c in (*self.rate_changes, *self.gap_changes))


@dataclass(frozen=True)
class CheckTable:
    """One check across the reports: each report's verdict (``None``: check absent) and a row per group."""

    id: str
    measure: str
    count_label: str
    verdicts: tuple[str | None, ...]
    references: tuple[str | None, ...]
    rows: tuple[GroupRow, ...]
    notes: tuple[str, ...] = ()
    threshold: float | None = None  # matching checks have one table per similarity threshold

    @property
    def label(self) -> str:
        """The check id, with its threshold where it has one (``false_match_gap at 80``)."""
        return label(self.id, self.threshold)

    def row(self, group: str) -> GroupRow:
        """The row of ``group``; ``KeyError`` naming the groups otherwise."""
        for row in self.rows:
            if row.group == group:
                return row
        raise KeyError(f"no group {group!r} in {self.label}; groups: {', '.join(r.group for r in self.rows)}")


@dataclass(frozen=True)
class ReportSummary:
    """Who and what one report is about, for the comparison's header."""

    name: str
    analyzer: str
    dataset: str
    content_hash: str | None
    seed: object
    verdict: str
    kit_version: str


@dataclass(frozen=True)
class ReportComparison:
    """Reports side by side: per check, per group, each report's figures and their changes from the first.

    Built by :func:`conformance.comparison.reports.compare_reports`; rendered by
    :func:`conformance.reporting.compare.render_compare_markdown` and ``render_compare_html``.
    """

    reports: tuple[ReportSummary, ...]
    checks: tuple[CheckTable, ...]
    warnings: tuple[str, ...]
    # 1:1 comparison reports (.points): the differential checks by operating point,
    # each report's binding operating point and equitability; what each report measures.
    points: tuple[OperatingPoint, ...] = ()
    bindings: tuple[tuple[str, str, str, str], ...] = ()
    equitability: tuple[tuple[str | None, str], ...] = ()
    kinds: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.reports)

    def check(self, check_id: str, threshold: float | None = None) -> CheckTable:
        """The table of ``check_id`` (at ``threshold``, for matching checks); ``KeyError`` naming the checks otherwise."""
        for table in self.checks:
            if table.id == check_id and table.threshold == threshold:
                return table
        wanted = label(check_id, threshold)
        raise KeyError(f"no check {wanted!r}; checks: {', '.join(t.label for t in self.checks)}")

    def row(self, check_id: str, group: str, threshold: float | None = None) -> GroupRow:
        """The row of ``group`` in ``check_id`` (at ``threshold``)."""
        return self.check(check_id, threshold).row(group)

    @property
    def differences(self) -> tuple[tuple[str, str], ...]:
        """``(check label, group)`` of every row where a later report differs from the first beyond noise."""
        return tuple((t.label, r.group) for t in self.checks for r in t.rows if r.differs) + tuple(
            (p.title, g.group) for p in self.points for g in p.groups if g.differs
        )

    @property
    def comparable(self) -> bool:
        """Whether any check is in two or more of the reports (reports of different kinds share none)."""
        tables = [t.verdicts for t in self.checks] + [p.verdicts for p in self.points]
        return any(sum(v is not None for v in verdicts) >= 2 for verdicts in tables)


@dataclass(frozen=True)
class Regression:
    """A gap that got worse than the baseline's beyond noise.

    ``change`` is current gap minus baseline gap, ``change_ci`` its two-sided interval at
    ``level`` (normal approximation from both gap intervals), ``statistic`` the change over its
    standard error and ``p_value`` its two-sided p-value.
    """

    check: str
    group: str
    reference: str
    baseline_gap: float
    baseline_ci: tuple[float, float]
    current_gap: float
    current_ci: tuple[float, float]
    change: float
    change_ci: tuple[float, float]
    level: float
    statistic: float
    p_value: float
    baseline_verdict: str
    current_verdict: str
    message: str
    threshold: float | None = None  # the similarity threshold, for matching checks
    # What got worse: "gap" (group minus reference); for the 1:1 differential checks "ratio" (the group's rate
    # over the reference's; baseline_gap and current_gap hold the ratios, change and change_ci the factor
    # current / baseline) or "FMR" / "FNMR" (the group's rate), at ``operating_point`` ("FMR 0.001").
    figure: str = "gap"
    operating_point: str | None = None

    @property
    def verdict_worsened(self) -> bool:
        """Whether the comparison's verdict went from pass or inconclusive to fail."""
        return (self.baseline_verdict, self.current_verdict) in WORSENED


# -- 1:1 comparison reports, by operating point -----------------------------------------------------


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
