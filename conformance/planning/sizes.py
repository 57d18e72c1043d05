"""The sample-size maths of a rate check: a planned group's precision, each verdict's power, people needed.

A group's figure is worth an effective number of photos, photos over the design effect
``1 + (m - 1) ICC`` (Kish 1965), never fewer than its people and never more than its photos, shrunk
by ``(z / t_df)^2`` for the degrees of freedom of a variance estimated from the people (Korn &
Graubard 1998): :func:`gap_precision`, :func:`expected_df`. Its limits are Clopper-Pearson (or
Wilson) on that size, a gap's Newcombe's hybrid rule on them; :func:`power_to_pass` and
:func:`power_to_fail` integrate the verdict rule over normal estimates, and :func:`people_needed`
finds the fewest people whose power reaches a target. These normal approximations find the
neighbourhood of the answer; :mod:`.simulation` checks it through the checks' own functions.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import stats
from ..errors import ConformanceError


class PlanError(ConformanceError):
    """A plan that cannot be made from what was given; the message says what to give instead."""


def _residual_moments(rate: float, photos: int, icc: float, *, share: bool = False) -> tuple[float, float]:
    """E[r^2] and E[r^4] of one person's residual ``y - rate * photos`` (beta-binomial ``y``).

    ``share``: of the person's share instead, ``y / photos - rate`` (the person-weighted view's residual).
    """
    import numpy as np
    from scipy import stats as distributions

    y = np.arange(photos + 1)
    if icc <= 0.0:
        pmf = distributions.binom.pmf(y, photos, rate)
    elif icc >= 1.0:
        # all of a person's photos alike: none wrong, or all (the beta-binomial's limit; scipy's has a + b = 0 there)
        pmf = np.zeros(photos + 1)
        pmf[0], pmf[-1] = 1.0 - rate, rate
    else:
        spread = (1.0 - icc) / icc  # a + b of the beta distribution with this intraclass correlation
        pmf = distributions.betabinom.pmf(y, photos, rate * spread, (1.0 - rate) * spread)
    r = y / photos - rate if share else y - rate * photos
    return float(np.sum(pmf * r**2)), float(np.sum(pmf * r**4))


def _satterthwaite(people: int, second: float, fourth: float) -> float:
    """``2 k E[s]^2 / Var[s]`` for squared residuals ``s`` with these moments, at most ``k - 1``."""
    spread = fourth - second * second
    if spread <= 0.0:
        return float(people - 1)
    return min(float(people - 1), 2.0 * people * second * second / spread)


def expected_df(rate: float, people: int, photos: int, icc: float) -> float:
    """Degrees of freedom the check's variance estimate has, on average, for this design.

    The check reads Satterthwaite's ``2 (sum s)^2 / (k var(s))`` off the people's squared residuals
    ``s``; with the residuals' moments in place of their sample values that is
    ``2 k E[s]^2 / Var[s]``, at most ``k - 1``. ``k`` for residuals like a normal's, far fewer for
    skewed ones (a low rate, people alike within: a few people carry every misgendered photo).

    Examples
    --------
    >>> expected_df(0.5, 100, 1, 0.0)
    inf
    >>> round(expected_df(0.04, 55, 20, 0.1), 1)
    9.4
    """
    if photos <= 1:
        return math.inf
    if not 0.0 < rate < 1.0:
        return 0.0
    return _satterthwaite(people, *_residual_moments(rate, photos, icc))


def gap_precision(rate: float, people: int, photos: int, icc: float, counts: Sequence[int] = ()) -> stats.Precision:
    """A planned group's :class:`~conformance.stats.Precision` as the check will read it.

    Effective size: photos over the design effect ``1 + (m - 1) icc``, within [people, photos]; at a
    rate of 0 or 1 the check can see nothing of the clustering and assumes the worst (people).
    ``counts``: people's photo counts, each equally likely, when they differ (see :func:`_varied_precision`).
    """
    if counts and len(_count_table(tuple(counts))[0]) > 1:
        return _varied_precision(rate, people, counts, icc)
    if people < 1 or photos < 1:
        raise PlanError(f"a group needs at least one person with one photo, got {people} x {photos}")
    n = float(people * photos)
    if photos == 1:
        return stats.Precision(n, n, math.inf)
    floor = float(people)
    if not 0.0 < rate < 1.0:
        return stats.Precision(floor, floor, math.inf)
    effective = min(max(n / (1.0 + (photos - 1) * icc), floor), n)
    return stats.Precision(effective, floor, expected_df(rate, people, photos, icc))


@functools.lru_cache(maxsize=8)
def _count_table(counts: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The distinct photo counts and the share of people with each (a manifest's counts hold one entry a person)."""
    from collections import Counter

    table = sorted(Counter(counts).items())
    return tuple(c for c, _ in table), tuple(n / len(counts) for _, n in table)


def counts_shares(counts: Sequence[int]) -> dict[str, float]:
    """``{"1": 0.5, "20": 0.5}``: the share of people with each photo count, as plans print it."""
    values, shares = _count_table(tuple(counts))
    return {str(c): round(w, 6) for c, w in zip(values, shares, strict=True)}


def _counts_shown(counts: Sequence[int]) -> str:
    """``1 or 20`` / ``1, 2 or 5``: the distinct photo counts people have."""
    values = [str(v) for v in sorted(set(counts))]
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def _varied_precision(rate: float, people: int, counts: Sequence[int], icc: float) -> stats.Precision:
    """Precision of a group whose people have different numbers of photos (``counts``, each equally likely).

    The check reads two views and keeps the less precise (:meth:`conformance.stats.Precision.of`):
    photo-weighted, whose design effect is ``1 + (m_w - 1) icc`` with ``m_w = E[m^2] / E[m]`` (people
    with many photos weigh more) and whose floor is Kish's ``k E[m]^2 / E[m^2]``; and person-weighted,
    each person's share one unit, worth ``k / E[(1 + (m - 1) icc) / m]`` (a person with one photo
    brings a 0 or a 1). Each view's degrees of freedom are Satterthwaite's on its residuals' moments
    averaged over the counts, at most the design's ``k E[m^2]^2 / E[m^4] - 1``.
    """
    import numpy as np

    values, shares = _count_table(tuple(counts))
    m, w = np.asarray(values, dtype=np.float64), np.asarray(shares)
    if people < 1 or m.min() < 1:
        raise PlanError(f"a group needs at least one person with one photo, got {people} x {list(values)}")
    mean, second, fourth = float(w @ m), float(w @ (m * m)), float(w @ m**4)
    n = people * mean
    kish = people * mean * mean / second
    if not 0.0 < rate < 1.0:
        return stats.Precision(kish, kish, math.inf)
    design_df = people * second * second / fourth - 1.0
    views = []
    for share in (False, True):
        moments = np.array([_residual_moments(rate, c, icc, share=share) for c in values])
        df = min(_satterthwaite(people, float(w @ moments[:, 0]), float(w @ moments[:, 1])), design_df)
        if share:
            effective = min(max(people / float(w @ ((1.0 + (m - 1.0) * icc) / m)), float(people)), n)
            views.append((effective, float(people), df))
        else:
            views.append((min(max(n / (1.0 + (second / mean - 1.0) * icc), kish), n), kish, df))
    precisions = [
        stats.Precision(floor, floor, df) if df < stats.PLANNING_MIN_DF else stats.Precision(effective, floor, df)
        for effective, floor, df in views
    ]
    return min(precisions, key=lambda view: view.adjusted(0.025))


def _bounds(p: float, precision: stats.Precision, alpha: float, method: str) -> tuple[float, float, float]:
    """(lower, upper, sd) of a planned group's figure at one-sided ``alpha``."""
    n = precision.adjusted(alpha)
    low, high = stats._score_bounds(min(max(p, 0.0), 1.0), n, alpha, method)
    return low, high, math.sqrt(max(p * (1.0 - p), 0.0) / n)


def power_to_pass(
    rate: float,
    precision: stats.Precision,
    *,
    tolerance: float,
    groups: int,
    alpha: float,
    method: str,
    direction: str = "pairwise",
) -> float:
    """Probability that ``groups`` groups with the same true rate all pass, each of this precision.

    A comparison passes when its gap's interval lies within ``[-tolerance, tolerance]``: with both
    groups at ``rate`` its half-widths are ``w = hypot(u - p, p - l)`` at one-sided ``alpha``, so it
    passes when the estimated gap lies within ``tolerance - w``. The group estimates are taken
    normal with the spread their effective sizes give; with every two groups compared the verdict
    passes when the range of the estimates is within ``c = tolerance - w``,
    ``P = G int phi(z) (Phi(z + c/s) - Phi(z))^(G-1) dz`` (the range of ``G`` normals); against a
    reference, when each group lies within ``c`` of it.
    """
    from scipy.special import ndtr

    low, high, sd = _bounds(rate, precision, alpha, method)
    margin = tolerance - math.hypot(high - rate, rate - low)
    if margin <= 0:
        return 0.0
    if sd == 0.0:
        return 1.0
    c = margin / sd
    if groups <= 1:
        return 1.0
    if groups == 2:
        return float(2.0 * ndtr(c / math.sqrt(2.0)) - 1.0)
    return _range_within(c, groups, direction)


def power_to_fail(
    rate: float,
    gap: float,
    high: stats.Precision,
    low: stats.Precision,
    *,
    tolerance: float,
    groups: int,
    alpha: float,
    method: str,
    direction: str = "pairwise",
) -> float:
    """Probability of ``fail`` when one group's true rate is ``rate + gap`` and the others' ``rate``.

    Holm's procedure fails the check when its smallest p-value (twice the smaller one-sided one: a gap
    in either direction) is at most ``alpha / m`` over the ``m`` comparisons, a one-sided level of
    ``alpha / (2 m)``: some comparison's lower bound at that level beyond the tolerance. The high
    group is compared with each of the ``G - 1`` others (every two groups) or with the reference
    only; comparisons between groups of equal rates almost never fail and are left out. The
    estimates are taken normal, the bounds' half-widths at the true rates:
    ``P = int phi(z) (1 - (1 - Phi((x_h(z) - rate - tolerance - w) / s_0))^(G-1)) dz``.
    """
    from scipy.integrate import quad
    from scipy.special import ndtr

    comparisons = groups * (groups - 1) // 2 if direction == "pairwise" else groups - 1
    level = alpha / (2 * max(comparisons, 1))
    p_high = rate + gap
    l_high, _, sd_high = _bounds(p_high, high, level, method)
    _, u_low, sd_low = _bounds(rate, low, level, method)
    width = math.hypot(p_high - l_high, u_low - rate)
    threshold = tolerance + width  # the estimated gap must exceed this
    others = groups - 1 if direction == "pairwise" else 1
    if sd_high == 0.0 and sd_low == 0.0:
        return 1.0 if gap > threshold else 0.0
    if others == 1 or sd_low == 0.0 or sd_high == 0.0:
        return float(ndtr((gap - threshold) / math.hypot(sd_high, sd_low)))
    phi = 1.0 / math.sqrt(2.0 * math.pi)

    def density(z: float) -> float:
        x_high = p_high + sd_high * z
        beyond = float(ndtr((x_high - threshold - rate) / sd_low))
        return phi * math.exp(-z * z / 2.0) * (1.0 - (1.0 - beyond) ** others)

    value = float(quad(density, -9.0, 9.0, limit=200)[0])
    return min(max(value, 0.0), 1.0)


def _range_within(c: float, groups: int, direction: str) -> float:
    """P(every comparison of ``groups`` standard normals within ``c``): their range, or each against the first."""
    from scipy.integrate import quad
    from scipy.special import ndtr

    phi = 1.0 / math.sqrt(2.0 * math.pi)

    def density(z: float) -> float:
        if direction == "reference":
            return phi * math.exp(-z * z / 2.0) * float(ndtr(z + c) - ndtr(z - c)) ** (groups - 1)
        return groups * phi * math.exp(-z * z / 2.0) * float(ndtr(z + c) - ndtr(z)) ** (groups - 1)

    value = float(quad(density, -9.0, 9.0, limit=200)[0])
    return min(max(value, 0.0), 1.0)


@dataclass(frozen=True)
class GapDesign:
    """A planned comparison of groups on one rate check.

    ``rate``: every group's rate when the true gap is 0 (the reference's when it is not);
    ``photos``: photos a person (units a person, for checks that count per transformation);
    ``icc``: how alike one person's units are (0: independent, 1: all alike).
    """

    rate: float
    photos: int
    icc: float
    tolerance: float
    groups: int
    alpha_pass: float
    alpha_fail: float
    method: str
    direction: str
    min_subjects: int
    counts: tuple[int, ...] = ()  # people's photo counts, each equally likely, when they differ (else all ``photos``)

    def pass_power(self, people: int) -> float:
        precision = gap_precision(self.rate, people, self.photos, self.icc, self.counts)
        return power_to_pass(
            self.rate,
            precision,
            tolerance=self.tolerance,
            groups=self.groups,
            alpha=self.alpha_pass,
            method=self.method,
            direction=self.direction,
        )

    def fail_power(self, people: int, gap: float) -> float:
        rate, top = (self.rate, self.rate + gap) if self.rate + gap <= 1.0 else (1.0 - gap, 1.0)
        return power_to_fail(
            rate,
            gap,
            gap_precision(top, people, self.photos, self.icc, self.counts),
            gap_precision(rate, people, self.photos, self.icc, self.counts),
            tolerance=self.tolerance,
            groups=self.groups,
            alpha=self.alpha_fail,
            method=self.method,
            direction=self.direction,
        )


@dataclass(frozen=True)
class DirectionPlan:
    """People a group needs for one verdict direction, and the power the planner computes there."""

    verdict: str  # "pass" or "fail"
    true_gap: float
    people_per_group: int | None
    power: float | None
    note: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "true_gap": self.true_gap,
            "people_per_group": self.people_per_group,
            "power": self.power,
            "note": self.note,
            **dict(self.extra),
        }


def people_needed(power_at: Any, target: float, *, least: int = 1, limit: int = 10_000_000) -> tuple[int, float] | None:
    """The fewest people (at least ``least``) whose power ``power_at(people)`` reaches ``target``, and that power.

    Doubling, then bisection: the planner's powers rise with the people (the score limits narrow
    and the degrees of freedom grow). ``None`` when even ``limit`` people do not reach it.
    """
    low = max(least, 1)
    if power_at(low) >= target:
        return low, float(power_at(low))
    high = low * 2
    while power_at(high) < target:
        low, high = high, high * 2
        if high > limit:
            return None
    while high - low > 1:
        mid = (low + high) // 2
        if power_at(mid) >= target:
            high = mid
        else:
            low = mid
    return high, float(power_at(high))
