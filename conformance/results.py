"""Values that checks return and reports read: verdicts, per-group rates, comparisons.

These are the only things that travel from checks to assertions and reports; a report never
recomputes a statistic, it reads a :class:`CheckResult`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "VERDICTS",
    "CheckResult",
    "Comparison",
    "GroupRate",
    "Verdict",
    "worst",
]

Verdict = Literal["pass", "fail", "inconclusive"]
VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "inconclusive")
_SEVERITY = {"pass": 0, "inconclusive": 1, "fail": 2}


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The verdict of a whole check: fail, then inconclusive, then pass.

    >>> worst(["pass", "inconclusive", "pass"])
    'inconclusive'
    >>> worst([])
    'inconclusive'
    """
    found = list(verdicts)
    if not found:
        return "inconclusive"  # nothing was compared: nothing was shown
    return max(found, key=_SEVERITY.__getitem__)


def _num(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # counts stay whole numbers in reports
    return float(value)


@dataclass(frozen=True)
class GroupRate:
    """One group's figure for one check: ``count`` of ``n`` units, with an interval.

    ``photos`` and ``subjects`` say how much data the group has; ``n`` is the denominator of
    ``rate`` (photos with a face, subjects with two photos, ...), which the check's method names.
    """

    name: str
    photos: int
    subjects: int
    count: int
    n: int
    rate: float | None
    ci: tuple[float, float] | None
    extra: Mapping[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "photos": self.photos,
            "subjects": self.subjects,
            "count": self.count,
            "n": self.n,
            "rate": _num(self.rate),
            "ci": None if self.ci is None else [_num(self.ci[0]), _num(self.ci[1])],
        }
        out.update({key: _num(value) for key, value in self.extra.items()})
        return out


@dataclass(frozen=True)
class Comparison:
    """A group against the reference group: the gap, its interval, and the verdict it earns.

    ``difference`` is group minus reference (positive: the group fares worse). ``min_detectable``
    is the smallest gap this data could have detected, given when the verdict is inconclusive.
    """

    group: str
    reference: str
    difference: float | None
    ci: tuple[float, float] | None
    p_value: float | None
    p_adjusted: float | None
    tolerance: float
    verdict: Verdict
    method: str
    min_detectable: float | None = None
    ratio: float | None = None
    note: str = ""
    level: float | None = None  # the interval's confidence level (Bonferroni-adjusted with several comparisons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "reference": self.reference,
            "difference": _num(self.difference),
            "ci": None if self.ci is None else [_num(self.ci[0]), _num(self.ci[1])],
            "p_value": _num(self.p_value),
            "p_adjusted": _num(self.p_adjusted),
            "tolerance": self.tolerance,
            "verdict": self.verdict,
            "method": self.method,
            "min_detectable": _num(self.min_detectable),
            "ratio": _num(self.ratio),
            "note": self.note,
            "level": self.level,
        }


@dataclass(frozen=True)
class CheckResult:
    """What one check found: groups, comparisons to the reference, verdict, and how.

    ``verdict`` is the worst of the comparisons' verdicts (and of a static verdict where the
    check has one, as ``nonbinary_representability`` does).
    """

    id: str
    verdict: Verdict
    groups: Mapping[str, GroupRate]
    comparisons: tuple[Comparison, ...]
    method: str
    measure: str
    reference: str
    confidence: float
    notes: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    count_label: str = "count"
    # Matching checks make one result per similarity threshold; None for checks without thresholds.
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        extra = {} if self.threshold is None else {"threshold": self.threshold}
        return {
            "id": self.id,
            **extra,
            "verdict": self.verdict,
            "measure": self.measure,
            "count_label": self.count_label,
            "reference": self.reference,
            "confidence": self.confidence,
            "groups": {name: rate.to_dict() for name, rate in self.groups.items()},
            "comparisons": [c.to_dict() for c in self.comparisons],
            "deciding": None if self.worst_comparison is None else self.worst_comparison.group,
            "method": self.method,
            "notes": list(self.notes),
            "details": dict(self.details),
        }

    @property
    def worst_comparison(self) -> Comparison | None:
        """The comparison that decides the verdict (the largest gap among the worst verdicts)."""
        if not self.comparisons:
            return None
        return max(
            self.comparisons,
            key=lambda c: (_SEVERITY[c.verdict], -math.inf if c.difference is None else c.difference),
        )
