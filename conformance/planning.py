"""Sample sizes before any photo is collected: ``conformance plan``.

For each check the planner answers: how many people a group needs, with how many photos each, for
the check's verdict to be conclusive with the stated power, in each direction: ``pass`` when the
true gap is 0, ``fail`` when it is a stated multiple of the tolerance (3 by default). It plans the
kit's own verdict procedure (docs/explanation/methodology.md), not a textbook stand-in for it:

- a group's figure is worth an effective number of photos, photos over the design effect
  ``1 + (m - 1) ICC`` (Kish 1965), never fewer than its people and never more than its photos,
  shrunk by ``(z / t_df)^2`` for the degrees of freedom of a variance estimated from the people
  (Korn & Graubard 1998); the degrees of freedom are what Satterthwaite's rule, as the check
  applies it, gives on average for beta-binomial people (:func:`expected_df`): far fewer than the
  people where a few of them carry the misgendered photos (low rates, high ICC);
- each group's limits are Clopper-Pearson (or Wilson, as the policy says) on that effective size,
  a gap's are Newcombe's hybrid rule on them (:func:`conformance.stats.gap_bounds`);
- ``pass`` needs every comparison's interval within the tolerance at one-sided ``alpha_pass``
  (intersection-union: with three groups all three must pass, which the planner integrates over);
  ``fail`` needs one comparison beyond it at Holm's first level, each direction at half of it:
  ``alpha_fail / (2 m)`` (the check doubles the smaller one-sided p-value, a gap in either direction);
- a group below ``min_subjects`` people is never decided.

What it cannot know it is told (expected rates, photos per person, equal or not, ICC) or reads from
a pilot ``report.json`` (each group's rate and the design effect it showed) or a manifest (its
people's photo counts). The promised power is checked
by a seeded Monte Carlo through the real checks: ``benchmarks/plan_power.py``, its table in
docs/how-to/plan.md. Reading a manifest, it says which checks that data can settle and why not.

numpy and scipy are imported inside functions, like the rest of the kit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import stats
from .errors import ConformanceError

if TYPE_CHECKING:
    from .policy import Policy

__all__ = [
    "DEFAULT_PRICE",
    "Assessment",
    "CheckPlan",
    "DirectionPlan",
    "GapDesign",
    "ManifestPeople",
    "Pilot",
    "PlanError",
    "PlanInputs",
    "Price",
    "Simulation",
    "assess_manifest",
    "counts_shares",
    "expected_df",
    "gap_precision",
    "people_needed",
    "plan_check",
    "policy_levels",
    "power_to_fail",
    "power_to_pass",
    "read_manifest",
    "read_pilot",
    "simulated_power",
    "simulated_rate_power",
]


class PlanError(ConformanceError):
    """A plan that cannot be made from what was given; the message says what to give instead."""


@dataclass(frozen=True)
class Price:
    """What one image sent to the vendor costs, and where the figure comes from."""

    per_1000: float
    currency: str
    source: str

    def cost(self, images: int) -> float:
        return images * self.per_1000 / 1000.0


# Rekognition Image "Group 2" APIs (DetectFaces among them), first million images a month. Read from a
# transcription of aws.amazon.com/rekognition/pricing dated 2026-10-07; this kit has no network and cannot
# check it again: --price-per-1000 overrides it.
DEFAULT_PRICE = Price(
    per_1000=1.00,
    currency="USD",
    source="Amazon Rekognition Image list price, DetectFaces (Group 2 APIs), first 1 million images a month: "
    "USD 0.001 per image, as of 2026-10-07 per the published pricing page (not re-checked: no network); "
    "override with --price-per-1000",
)


# ---------------------------------------------------------------------------------------------------------
# The precision of a planned group, and the power of each verdict direction.
# ---------------------------------------------------------------------------------------------------------


def _residual_moments(rate: float, photos: int, icc: float, *, share: bool = False) -> tuple[float, float]:
    """E[r^2] and E[r^4] of one person's residual ``y - rate * photos`` (beta-binomial ``y``).

    ``share``: of the person's share instead, ``y / photos - rate`` (the person-weighted view's residual).
    """
    import numpy as np
    from scipy import stats as distributions

    y = np.arange(photos + 1)
    if icc <= 0.0:
        pmf = distributions.binom.pmf(y, photos, rate)
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


# ---------------------------------------------------------------------------------------------------------
# The promised power, by simulation through the kit's own interval functions.
#
# The normal approximations above find the neighbourhood of the answer quickly, but near rates of 0 and
# with few people carrying the events the check's intervals are neither normal nor of a fixed width (the
# effective size and its degrees of freedom are estimated from the data, and a group with no event falls
# back to its people). So the size the planner states, and the power it promises there, come from drawing
# the planned design many times (people with their own beta-distributed rates, as in
# benchmarks/verdict_error_rates.py) and reading each draw with the functions the checks call:
# stats.clustered_rate for each group, stats.gap_bounds for each comparison. Pass: every comparison's
# interval within the tolerance at alpha_pass. Fail: Holm rejects when its smallest p-value (twice the
# smaller one-sided one) is at most alpha_fail / m, that is when some comparison's bound at the one-sided
# level alpha_fail / 2m lies beyond the tolerance (a check's one-sided p-value is the level at which its
# interval crosses the tolerance). Seeded: the same plan every time.
# ---------------------------------------------------------------------------------------------------------


# Above this many people a group the planner does not simulate: each draw's cost grows with the people
# (--tolerance 0.001 asked for about a million, and 2,000 draws of them ran for hours), and at such sizes the
# limits are close to normal, where the approximation is what the simulation would confirm. Said in the plan.
SIMULATION_LIMIT = 20_000


@dataclass(frozen=True)
class Simulation:
    """How the planner's promise is computed: ``replicates`` draws a size, seeded with ``seed``; 0: approximation only."""

    replicates: int = 2000
    seed: int = 20261121


def _person_sums(
    rng: Any, rate: float, people: int, photos: int, icc: float, measure: str, counts: Sequence[int] = ()
) -> tuple[Any, Any]:
    """Per person (numerator, denominator) as the check sums them, for people drawn at ``rate``.

    ``counts``: when people's photo counts differ, each person's is drawn from them (each entry equally likely).
    """
    import numpy as np

    values, shares = _count_table(tuple(counts)) if counts else ((photos,), (1.0,))
    if len(values) > 1:
        m = rng.choice(np.asarray(values, dtype=np.int64), size=people, p=np.asarray(shares))
    else:
        m = np.full(people, photos)

    if icc <= 0.0 or rate in (0.0, 1.0):
        own = np.full(people, rate)
    else:
        spread = (1.0 - icc) / icc
        own = rng.beta(rate * spread, (1.0 - rate) * spread, size=people)
    if measure == "pair_share":
        # same_person_consistency: each person's share of pairs of photos with different labels, one unit a
        # person, among people with two or more photos (the only ones the check reads)
        wrong, m = rng.binomial(m, own), m.astype(np.float64)
        several = m >= 2
        share = 2.0 * wrong[several] * (m[several] - wrong[several]) / (m[several] * (m[several] - 1))
        return share, np.ones(int(several.sum()))
    if measure == "photo_share":
        # nonbinary_representability: each person's share of photos given a binary label, one unit a person
        return rng.binomial(m, own) / m, np.ones(people)
    return rng.binomial(m, own).astype(np.float64), m.astype(np.float64)


def _pairs(groups: int, direction: str) -> list[tuple[int, int]]:
    if direction == "reference":
        return [(i, 0) for i in range(1, groups)]
    return [(j, i) for i in range(groups) for j in range(i + 1, groups)]


def simulated_power(
    design: GapDesign,
    people: int,
    rates: Sequence[float],
    verdict: str,
    simulation: Simulation,
    measure: str = "count",
    fresh: int = 0,
) -> float:
    """Share of ``simulation.replicates`` draws of the design whose verdict is ``verdict``.

    ``rates``: each group's true rate (the first is the reference). Each draw reads its groups with
    :func:`conformance.stats.clustered_rate` and its comparisons with :func:`conformance.stats.gap_bounds`,
    as the checks do.
    """
    import numpy as np

    if people < design.min_subjects:
        return 0.0
    rng = np.random.default_rng([simulation.seed, people, len(rates), fresh])
    pairs = _pairs(len(rates), design.direction)
    level = design.alpha_fail / (2 * len(pairs))  # the check doubles the smaller one-sided p-value
    hits = 0
    for _ in range(simulation.replicates):
        reads = [
            stats.clustered_rate(*_person_sums(rng, rate, people, design.photos, design.icc, measure, design.counts))
            for rate in rates
        ]
        if verdict == "pass":
            bounds = [stats.gap_bounds(reads[a], reads[b], design.alpha_pass, design.method) for a, b in pairs]
            hits += all(-design.tolerance <= low and high <= design.tolerance for low, high in bounds)
        else:
            bounds = [stats.gap_bounds(reads[a], reads[b], level, design.method) for a, b in pairs]
            hits += any(low > design.tolerance or high < -design.tolerance for low, high in bounds)
    return hits / simulation.replicates


def simulated_rate_power(
    rate: float,
    tolerance: float,
    people: int,
    photos: int,
    icc: float,
    *,
    verdict: str,
    alpha: float,
    method: str,
    min_subjects: int,
    simulation: Simulation,
    fresh: int = 0,
    counts: Sequence[int] = (),
) -> float:
    """One group against an absolute tolerance (nonbinary_representability), read with ``stats.rate_bounds``."""
    import numpy as np

    if people < min_subjects:
        return 0.0
    rng = np.random.default_rng([simulation.seed, people, 1, fresh])
    hits = 0
    for _ in range(simulation.replicates):
        r = stats.clustered_rate(*_person_sums(rng, rate, people, photos, icc, "photo_share", counts))
        low, high = stats.rate_bounds(r, alpha, method)
        hits += (high <= tolerance) if verdict == "pass" else (low > tolerance)
    return hits / simulation.replicates


def _overconfidence(
    rng: Any, wrong: float, shift: float, people: int, design: GapDesign, spread: float, confidence: float
) -> stats.ClusteredRate:
    """One group's overconfidence as confidence_calibration reads it, for people drawn as the plan assumes.

    Each person misgenders at their own beta-distributed rate (mean ``wrong``, ICC ``design.icc``); a
    photo's confidence (0-1) is the group's mean (calibrated, ``1 - wrong``, plus ``shift``), plus the
    person's own offset, plus the photo's: normal, together of sd ``spread``, as alike within a person as
    ``design.icc`` says (not clipped to 0-1: the measure is a mean). Per person the check sums confidence
    minus correctness over the photos with a label, and floors the variance at that of the share
    labelled correctly (``stats.share_variance_floor``, as ``checks._compare`` does).
    """
    import numpy as np

    values, shares = _count_table(design.counts) if design.counts else ((design.photos,), (1.0,))
    if len(values) > 1:
        m = rng.choice(np.asarray(values, dtype=np.int64), size=people, p=np.asarray(shares))
    else:
        m = np.full(people, design.photos, dtype=np.int64)
    icc = design.icc
    if icc <= 0.0 or wrong in (0.0, 1.0):
        own = np.full(people, wrong)
    else:
        own = rng.beta(wrong * (1.0 - icc) / icc, (1.0 - wrong) * (1.0 - icc) / icc, size=people)
    errors = rng.binomial(m, own).astype(np.float64)
    offset = rng.normal(0.0, spread * math.sqrt(icc), size=people)
    noise = rng.normal(0.0, 1.0, size=people) * spread * np.sqrt((1.0 - icc) * m)
    count = m.astype(np.float64)
    # sum of (confidence - correct) = m (1 - wrong + shift + offset) + noise - (m - errors)
    numerator = count * (shift - wrong + offset) + noise + errors
    floor = stats.share_variance_floor(float(errors.sum()) / float(count.sum()), people, confidence)
    return stats.clustered_rate(numerator, count, bounded=False, floor_variance=floor)


def simulated_calibration_power(
    design: GapDesign,
    people: int,
    shifts: Sequence[float],
    verdict: str,
    simulation: Simulation,
    *,
    wrong: float,
    spread: float,
    confidence: float,
    fresh: int = 0,
) -> float:
    """:func:`simulated_power` for confidence_calibration: each group overconfident by its ``shifts`` entry."""
    import numpy as np

    if people < max(design.min_subjects, 2):
        return 0.0
    rng = np.random.default_rng([simulation.seed, people, len(shifts), fresh, 7])
    pairs = _pairs(len(shifts), design.direction)
    level = design.alpha_fail / (2 * len(pairs))
    hits = 0
    for _ in range(simulation.replicates):
        reads = [_overconfidence(rng, wrong, shift, people, design, spread, confidence) for shift in shifts]
        if verdict == "pass":
            bounds = [stats.gap_bounds(reads[a], reads[b], design.alpha_pass, design.method) for a, b in pairs]
            hits += all(-design.tolerance <= low and high <= design.tolerance for low, high in bounds)
        else:
            bounds = [stats.gap_bounds(reads[a], reads[b], level, design.method) for a, b in pairs]
            hits += any(low > design.tolerance or high < -design.tolerance for low, high in bounds)
    return hits / simulation.replicates


def _calibrated_people(
    approximate: Any, simulate: Any, target: float, *, least: int, simulation: Simulation
) -> tuple[int, float, str] | None:
    """People a group needs: the approximation's answer, moved until the simulated power reaches ``target``.

    Returns (people, promised power, how it was computed). The approximation's curve, shifted by
    how far the simulation found it off at its own answer, proposes the next size; each proposal is
    simulated, and sizes grow by 5% at a time until the simulated power reaches the target.
    """
    first = people_needed(approximate, target, least=least)
    if first is None:
        return None
    people, power = first
    if simulation.replicates <= 0:
        return people, power, "normal approximation (not simulated: --replicates 0)"
    if people > SIMULATION_LIMIT:
        return people, power, _beyond_simulation(people)
    simulated = simulate(people)
    shift = simulated - power
    guess = people_needed(lambda k: approximate(k) + shift, target, least=least)
    proposal = people if guess is None else guess[0]
    # A bracket: ``low`` people fall short of the target (or are the least allowed), ``high`` reach it.
    if simulated >= target:
        high, reached = people, simulated
        low = least - 1
        if proposal < people:
            tried = simulate(proposal)
            if tried >= target:
                high, reached = proposal, tried
            else:
                low = proposal
    else:
        low = people
        high = max(proposal, people + 1)
        reached = simulate(high)
        while reached < target:
            low, high = high, max(high + 1, math.ceil(high * 1.05))
            if high > 10_000_000:
                return None
            reached = simulate(high)
    # Bisect to within 2% (or one person) of the smallest size that reaches it.
    while low >= least and high - low > max(1, math.ceil(0.02 * high)):
        mid = (low + high) // 2
        tried = simulate(mid)
        if tried >= target:
            high, reached = mid, tried
        else:
            low = mid
    people = high
    # The search kept the first size whose draws reached the target, which favours draws that came out high:
    # the power promised is drawn again, on a stream of its own, and the size grows until that reaches it too.
    simulated = simulate(people, fresh=1)
    while simulated < target and people < 10_000_000:
        people = max(people + 1, math.ceil(people * 1.02))
        simulated = simulate(people, fresh=1)
    # That loop stops at the first draw to reach the target, which favours draws that came out high again:
    # the figure promised is one more estimate at the size chosen, on a third stream, whatever it says.
    simulated = simulate(people, fresh=2)
    how = f"simulated: {simulation.replicates} draws of the design read by the kit's interval functions, seed {simulation.seed}"
    return people, simulated, how


# ---------------------------------------------------------------------------------------------------------
# Plans per check.
# ---------------------------------------------------------------------------------------------------------

# Checks whose figure is a rate of photos (or probes, or transformations) clustered by person.
_COUNT_CHECKS = (
    "misgender_gap",
    "detection_failure_gap",
    "transformation_invariance",
    "false_match_gap",
    "false_non_match_gap",
    "failure_to_acquire_gap",
)
_UNITS = {
    "misgender_gap": "photos with a face",
    "detection_failure_gap": "photos",
    "transformation_invariance": "transformed variants (invariance_transforms a photo, one photo a person)",
    "false_match_gap": "non-mated probe photos",
    "false_non_match_gap": "mated probe photos",
    "failure_to_acquire_gap": "photos",
    "same_person_consistency": "people with 2+ photos (share of their photo pairs labelled differently)",
    "nonbinary_representability": "nonbinary people (share of their photos given a binary label)",
    "confidence_calibration": "photos given a label (confidence minus correctness)",
}
_SEARCH = ("false_match_gap", "false_non_match_gap")
# The 1:1 comparison checks' ratios are planned in planning_pairs (their own statistics).
_PAIR_PLANS = {
    "false_match_differential": "plan_false_match_differential",
    "false_non_match_differential": "plan_false_non_match_differential",
    "equitability": "plan_equitability",
}
# Without a pilot or --confidence-sd, a photo's confidence is taken to vary by this much (sd, 0-1 scale).
CONFIDENCE_SPREAD = 0.1


@dataclass(frozen=True)
class PlanInputs:
    """What the planner is told (or read from a pilot report): the same for every check unless a pilot says otherwise."""

    checks: tuple[str, ...]
    groups: tuple[str, ...]  # the reference first
    policy: Policy
    rates: Mapping[str, float]  # each check's reference rate
    photos_per_person: int = 1
    icc: float = 0.0
    # People's photo counts, each equally likely, when they differ (``--photos-per-person 1,20``, or a
    # manifest's); empty: everyone has photos_per_person. Planning at the mean alone overpromised.
    photo_counts: tuple[int, ...] = ()
    power: float = 0.8
    gap: float | None = None  # the true gap of the fail scenario; None: gap_multiple x the tolerance
    gap_multiple: float = 3.0
    sd: Mapping[str, float] = field(default_factory=dict)  # confidence_calibration: sd of a person's mean
    # confidence_calibration: sd of a photo's confidence (0-1) around its group's mean; None: a pilot's, else
    # CONFIDENCE_SPREAD. A vendor whose confidence varies more needs more people (0.25 against the assumed 0.1
    # promised power 0.80 and gave 0.56).
    confidence_sd: float | None = None
    price: Price = DEFAULT_PRICE
    simulation: Simulation = Simulation()
    sources: tuple[str, ...] = ()  # where the figures came from, said in the output
    # 1:1 checks: how alike two impostor scores sharing a person are (None: assumed, planning_pairs.DEFAULT_IMPOSTOR_ICC),
    # and the fail scenario's FMR or FNMR ratio (None: the ratio tolerance to the power gap_multiple).
    impostor_icc: float | None = None
    fail_ratio: float | None = None


@dataclass(frozen=True)
class CheckPlan:
    """People and photos one check needs for a conclusive verdict in each direction, and what sending them costs."""

    check: str
    unit: str
    tolerance: float
    reference_rate: float | None
    photos_per_person: int
    icc: float
    groups: tuple[str, ...]
    directions: tuple[DirectionPlan, ...]
    calls_per_person: float  # on average, when people's photo counts differ
    method: str
    notes: tuple[str, ...] = ()
    photo_counts: tuple[int, ...] = ()  # people's photo counts, each equally likely, when they differ

    @property
    def mean_photos(self) -> float:
        """Photos a person on average."""
        return sum(self.photo_counts) / len(self.photo_counts) if self.photo_counts else float(self.photos_per_person)

    @property
    def people_per_group(self) -> int | None:
        """People each group needs for a conclusive verdict in both directions (the larger of the two)."""
        needed = [d.people_per_group for d in self.directions]
        if not needed or any(n is None for n in needed):
            return None
        return max(n for n in needed if n is not None)

    @property
    def photos_per_group(self) -> int | None:
        people = self.people_per_group
        return None if people is None else math.ceil(people * self.mean_photos)

    @property
    def calls(self) -> int | None:
        people = self.people_per_group
        return None if people is None else math.ceil(people * len(self.groups) * self.calls_per_person)

    def to_json(self, price: Price) -> dict[str, Any]:
        calls = self.calls
        return {
            "check": self.check,
            "unit": self.unit,
            "tolerance": self.tolerance,
            "reference_rate": self.reference_rate,
            "photos_per_person": self.photos_per_person,
            **(
                {"photo_counts": counts_shares(self.photo_counts), "mean_photos_per_person": round(self.mean_photos, 4)}
                if self.photo_counts
                else {}
            ),
            "icc": self.icc,
            "groups": list(self.groups),
            "people_per_group": self.people_per_group,
            "photos_per_group": self.photos_per_group,
            "directions": [d.to_json() for d in self.directions],
            "calls": calls,
            "cost": None if calls is None else round(price.cost(calls), 2),
            "method": self.method,
            "notes": list(self.notes),
        }


def _fail_gap(inputs: PlanInputs, tolerance: float) -> float:
    return inputs.gap if inputs.gap is not None else inputs.gap_multiple * tolerance


def _gap_design(inputs: PlanInputs, check: str, rate: float, photos: int, groups: int) -> GapDesign:
    alpha_pass, alpha_fail = policy_levels(inputs.policy)
    return GapDesign(
        rate=rate,
        photos=photos,
        icc=inputs.icc,
        tolerance=inputs.policy.tolerance_for(check),
        groups=groups,
        alpha_pass=alpha_pass,
        alpha_fail=alpha_fail,
        # the search checks read exact limits whatever the policy's interval (checks/matching.py)
        method="clopper-pearson" if check in _SEARCH else inputs.policy.interval,
        direction=inputs.policy.direction,
        min_subjects=inputs.policy.min_subjects,
        # transformation_invariance: one photo a person transformed, whatever the counts
        counts=inputs.photo_counts if check != "transformation_invariance" else (),
    )


def policy_levels(policy: Policy) -> tuple[float, float]:
    """(alpha_pass, alpha_fail) as the checks state them."""
    from .checks._compare import error_rates

    return error_rates(policy)


def _beyond_simulation(people: int) -> str:
    return (
        f"normal approximation, not simulated: {people:,} people a group is beyond the {SIMULATION_LIMIT:,} the "
        "planner draws (at such sizes the limits are close to normal)"
    )


def _method(*hows: str) -> str:
    """A check's method: the simulation's when either direction was simulated (the other says why not)."""
    return next((h for h in hows if h.startswith("simulated")), next((h for h in hows if h), "normal approximation"))


def _direction(
    verdict: str, gap: float, found: tuple[int, float, str] | None, *, reason: str = ""
) -> tuple[DirectionPlan, str]:
    if found is None:
        note = reason or "no number of people up to 10 million reaches the power"
        return DirectionPlan(verdict, gap, None, None, note), ""
    people, power, how = found
    # Said of the direction itself: the other direction of the same check may have been simulated.
    note = how if how.startswith("normal approximation, not simulated") else ""
    return DirectionPlan(verdict, gap, people, round(power, 4), note), how


def _plan_gap_check(check: str, inputs: PlanInputs) -> CheckPlan:
    policy = inputs.policy
    tolerance = policy.tolerance_for(check)
    rate = inputs.rates[check]
    groups = len(inputs.groups)
    notes: list[str] = []
    counts = inputs.photo_counts if len(set(inputs.photo_counts)) > 1 else ()
    mean = sum(counts) / len(counts) if counts else float(inputs.photos_per_person)
    photos, measure = inputs.photos_per_person, "count"
    calls_per_person: float = mean
    # Of people with two or more photos (same_person_consistency reads only them), the share.
    several = sum(1 for c in counts if c >= 2) / len(counts) if counts else float(photos >= 2)
    if counts:
        notes.append(
            f"people's photo counts vary ({_counts_shown(counts)}, {mean:.3g} on average): planned and simulated "
            "with each person's count drawn from them"
        )
    if check == "transformation_invariance":
        photos = max(policy.invariance_transforms, 1)
        calls_per_person = mean + photos
        notes.append(
            f"one photo a person transformed {photos} times (invariance_transforms); set invariance_photos to at least "
            f"{groups} x the people per group, and the analyzer must be able to look at new images (not a predictions file)"
        )
    elif check in _SEARCH:
        probes = (
            "non-mated probes (their person not in the gallery)"
            if check == "false_match_gap"
            else ("mated probes (their person enrolled in the gallery)")
        )
        notes.append(
            f"one unit a probe photo: people are those of the {probes}, photos a person their probes; the reference "
            f"rate is the rate at the binding threshold ({policy.binding_threshold:g}, binding_threshold), whose "
            "verdict is the run's; Clopper-Pearson limits, as the check reads them. The gallery is not counted in the "
            "calls (IndexFaces on the gallery, SearchFacesByImage for each probe). With --match-mode compare the units "
            "are the probe's pairs with every gallery photo, clustered by the probe's person: plan with photos a person "
            "= probes x gallery photos and an ICC for them"
        )
    elif check == "same_person_consistency":
        measure = "pair_share"
        if not several:
            plans = tuple(
                DirectionPlan(v, 0.0, None, None, "needs 2 or more photos a person") for v in ("pass", "fail")
            )
            return CheckPlan(
                check,
                _UNITS[check],
                tolerance,
                rate,
                photos,
                inputs.icc,
                inputs.groups,
                plans,
                photos,
                "not applicable with one photo a person",
                ("give --photos-per-person 2 or more",),
                counts,
            )
    design = _gap_design(inputs, check, rate, photos, groups)
    gap = _fail_gap(inputs, tolerance)
    low, high = (rate, rate + gap) if rate + gap <= 1.0 else (1.0 - gap, 1.0)
    if gap > 1.0 or gap <= tolerance:
        raise PlanError(
            f"{check}: the fail scenario's gap {gap:g} must lie above the tolerance {tolerance:g} and at most 1; "
            "give --gap or --gap-multiple"
        )
    sim = inputs.simulation
    share = measure == "pair_share"

    # For a share of pairs the analytic reading is one unit a person (of those with 2+ photos): a 0/1 unit
    # varies at least as much.
    def approx_pass(k: int) -> float:
        return design.pass_power(k) if not share else _one_unit(design).pass_power(max(1, math.floor(k * several)))

    def approx_fail(k: int) -> float:
        return (
            design.fail_power(k, gap)
            if not share
            else _one_unit(design).fail_power(max(1, math.floor(k * several)), gap)
        )

    def sim_rates(base: float) -> float:
        # the per-photo rate whose pair share is ``base`` (E share = 2 q (1 - q) (1 - icc))
        if not share:
            return base
        top = 0.5 * (1.0 - inputs.icc)
        if base > top:
            raise PlanError(
                f"same_person_consistency: a share of {base:g} of pairs labelled differently is out of reach at ICC "
                f"{inputs.icc:g} (at most {top:g}); lower --icc or the rate"
            )
        return 0.5 * (1.0 - math.sqrt(1.0 - 2.0 * base / (1.0 - inputs.icc)))

    if share:
        low_q, high_q = sim_rates(low), sim_rates(high)
    else:
        low_q, high_q = low, high
    pass_found = _calibrated_people(
        approx_pass,
        lambda k, fresh=0: simulated_power(design, k, [sim_rates(rate)] * groups, "pass", sim, measure, fresh),
        inputs.power,
        least=policy.min_subjects,
        simulation=sim,
    )
    fail_found = _calibrated_people(
        approx_fail,
        lambda k, fresh=0: simulated_power(design, k, [low_q] * (groups - 1) + [high_q], "fail", sim, measure, fresh),
        inputs.power,
        least=policy.min_subjects,
        simulation=sim,
    )
    pass_plan, how_pass = _direction("pass", 0.0, pass_found)
    fail_plan, how_fail = _direction("fail", gap, fail_found)
    how = _method(how_pass, how_fail)
    return CheckPlan(
        check,
        _UNITS[check],
        tolerance,
        rate,
        photos if check == "transformation_invariance" else inputs.photos_per_person,
        inputs.icc,
        inputs.groups,
        (pass_plan, fail_plan),
        calls_per_person,
        how,
        tuple(notes),
        counts,
    )


def _counts_shown(counts: Sequence[int]) -> str:
    """``1 or 20`` / ``1, 2 or 5``: the distinct photo counts people have."""
    values = [str(v) for v in sorted(set(counts))]
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def _one_unit(design: GapDesign) -> GapDesign:
    from dataclasses import replace

    return replace(design, photos=1, icc=0.0, counts=())


def _plan_representability(inputs: PlanInputs) -> CheckPlan:
    check = "nonbinary_representability"
    policy = inputs.policy
    tolerance = policy.tolerance_for(check)
    alpha_pass, alpha_fail = policy_levels(policy)
    gap = min(_fail_gap(inputs, tolerance), 1.0)
    photos = inputs.photos_per_person
    counts = inputs.photo_counts if len(set(inputs.photo_counts)) > 1 else ()
    sim = inputs.simulation

    def approx(verdict: str, rate: float) -> Any:
        from scipy.special import ndtr

        def power(k: int) -> float:
            # the people's shares read as 0/1 units, one a person: the check's own effective size
            precision = stats.Precision(float(k), float(k), math.inf)
            low, high, sd = _bounds(rate, precision, alpha_pass if verdict == "pass" else alpha_fail, policy.interval)
            distance = tolerance - high if verdict == "pass" else low - tolerance
            return (1.0 if distance >= 0 else 0.0) if sd == 0 else float(ndtr(distance / sd))

        return power

    found = []
    for verdict, rate, alpha in (("pass", 0.0, alpha_pass), ("fail", gap, alpha_fail)):
        found.append(
            _calibrated_people(
                approx(verdict, rate),
                lambda k, fresh=0, v=verdict, r=rate, a=alpha: simulated_rate_power(
                    r,
                    tolerance,
                    k,
                    photos,
                    inputs.icc,
                    verdict=v,
                    alpha=a,
                    method=policy.interval,
                    min_subjects=policy.min_subjects,
                    simulation=sim,
                    fresh=fresh,
                    counts=counts,
                ),
                inputs.power,
                least=policy.min_subjects,
                simulation=sim,
            )
        )
    pass_plan, how = _direction("pass", 0.0, found[0])
    fail_plan, how_fail = _direction("fail", gap, found[1])
    return CheckPlan(
        check,
        _UNITS[check],
        tolerance,
        0.0,
        photos,
        inputs.icc,
        ("nonbinary",),
        (pass_plan, fail_plan),
        sum(counts) / len(counts) if counts else photos,
        _method(how, how_fail),
        (
            "one group against an absolute tolerance: pass when nonbinary people are never given a binary label "
            f"(true share 0), fail when the true share is {gap:g}",
            "the static half fails before any photo is sent when the vocabulary is binary and cannot abstain",
        ),
        counts,
    )


def _plan_calibration(inputs: PlanInputs) -> CheckPlan:
    """Overconfidence is not a proportion: its intervals are Welch t intervals.

    The normal approximation to them proposes a size; the power promised there is simulated through
    the check's own reading of each group (:func:`simulated_calibration_power`), as for the rate checks.
    The spread of a photo's confidence is an input (``--confidence-sd``, a pilot's, or 0.1 stated).
    """
    from scipy.special import ndtr

    check = "confidence_calibration"
    policy = inputs.policy
    tolerance = policy.tolerance_for(check)
    alpha_pass, alpha_fail = policy_levels(policy)
    groups = len(inputs.groups)
    m = inputs.photos_per_person
    counts = inputs.photo_counts if len(set(inputs.photo_counts)) > 1 else (m,)
    wrong = inputs.rates.get("misgender_gap", inputs.rates.get(check, 0.05))
    notes = []
    # A person's mean over c photos varies as (1 + (c - 1) ICC) / c of one photo; averaged over the counts.
    within = sum((1 + (c - 1) * inputs.icc) / c for c in counts) / len(counts)
    shown_counts = f"{m} photos" if len(counts) == 1 else f"{_counts_shown(counts)} photos"
    piloted = inputs.sd.get(check)
    if inputs.confidence_sd is not None:
        spread = inputs.confidence_sd
        said = f"a confidence spread of {spread:g} a photo (--confidence-sd)"
    elif piloted is not None:
        # The pilot's spread of a person's mean, less what misgendering explains: the photos' confidence spread.
        spread = math.sqrt(max(piloted * piloted / within - wrong * (1 - wrong), 0.0))
        said = f"a confidence spread of {spread:.3g} a photo, read back from the pilot's spread of a person's mean {piloted:.3g}"
    else:
        spread = CONFIDENCE_SPREAD
        said = (
            f"a confidence spread of {spread:g} a photo ASSUMED (the default; give --confidence-sd or a --pilot: "
            "a vendor whose confidence varies more needs more people)"
        )
    sd = math.sqrt((wrong * (1 - wrong) + spread**2) * within)
    notes.append(
        f"a person's mean overconfidence taken to vary by {sd:.3g} (misgender rate {wrong:g}, {said}, {shown_counts}, "
        f"ICC {inputs.icc:g}); fail scenario: one group's confidence higher by the gap at the same misgender rate"
    )
    gap = _fail_gap(inputs, tolerance)
    if gap > 1.0 or gap <= tolerance:
        raise PlanError(
            f"{check}: the fail scenario's gap {gap:g} must lie above the tolerance {tolerance:g} and at most 1; "
            "give --gap or --gap-multiple"
        )

    def se(k: int) -> float:
        floor = stats.share_variance_floor(wrong, k, policy.confidence)
        return math.sqrt(max(sd * sd / k, floor))

    def t(alpha: float, k: int) -> float:
        return stats._quantiles(alpha, 2.0 * (k - 1))[1]

    least = max(policy.min_subjects, 2)

    def pass_power(k: int) -> float:
        if k < least:
            return 0.0
        s = se(k)
        margin = tolerance - t(alpha_pass, k) * s * math.sqrt(2.0)
        if margin <= 0:
            return 0.0
        c = margin / s
        if groups == 2:
            return float(2.0 * ndtr(c / math.sqrt(2.0)) - 1.0)
        return _range_within(c, groups, policy.direction)

    def fail_power(k: int) -> float:
        if k < least:
            return 0.0
        comparisons = groups * (groups - 1) // 2 if policy.direction == "pairwise" else groups - 1
        s = se(k) * math.sqrt(2.0)
        return float(ndtr((gap - tolerance - t(alpha_fail / (2 * comparisons), k) * s) / s))

    design = _gap_design(inputs, check, wrong, m, groups)
    sim = inputs.simulation

    def simulate(shifts: Sequence[float], verdict: str) -> Any:
        return lambda k, fresh=0: simulated_calibration_power(
            design, k, shifts, verdict, sim, wrong=wrong, spread=spread, confidence=policy.confidence, fresh=fresh
        )

    pass_found = _calibrated_people(
        pass_power, simulate([0.0] * groups, "pass"), inputs.power, least=least, simulation=sim
    )
    fail_found = _calibrated_people(
        fail_power, simulate([0.0] * (groups - 1) + [gap], "fail"), inputs.power, least=least, simulation=sim
    )
    pass_plan, how_pass = _direction("pass", 0.0, pass_found)
    fail_plan, how_fail = _direction("fail", gap, fail_found)
    return CheckPlan(
        check,
        _UNITS[check],
        tolerance,
        None,
        m,
        inputs.icc,
        inputs.groups,
        (pass_plan, fail_plan),
        sum(counts) / len(counts),
        _method(how_pass, how_fail),
        tuple(notes),
        counts if len(counts) > 1 else (),
    )


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


def plan_check(check: str, inputs: PlanInputs) -> CheckPlan:
    """The plan of one check (see the module docstring)."""
    if check in _PAIR_PLANS:
        from . import planning_pairs

        planner: Any = getattr(planning_pairs, _PAIR_PLANS[check])
        plan: CheckPlan = planner(inputs)
        return plan
    if check == "nonbinary_representability":
        return _plan_representability(inputs)
    if check == "confidence_calibration":
        return _plan_calibration(inputs)
    if check in _COUNT_CHECKS or check == "same_person_consistency":
        return _plan_gap_check(check, inputs)
    raise PlanError(f"unknown check {check!r}")


# ---------------------------------------------------------------------------------------------------------
# What a pilot report.json shows: each check's reference rate, the groups, photos a person and the ICC.
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pilot:
    """Figures read from a pilot run's report.json, and how each was read."""

    groups: tuple[str, ...]
    rates: Mapping[str, float]
    photos_per_person: int | None
    icc: float | None
    sd: Mapping[str, float]
    notes: tuple[str, ...]


def read_pilot(path: str) -> Pilot:
    """Estimates from a pilot ``report.json``.

    Rates: each check's reference group's figure. Photos a person: the photos over the people of
    ``misgender_gap`` (or the first check with groups). ICC: from each group's design effect
    (``photos / effective_n``, the effective size its interval rested on) as
    ``(design effect - 1) / (photos a person - 1)``, pooled over groups weighted by people; groups
    at a rate of 0 or 1 show nothing about it and are left out. confidence_calibration: the spread
    of a person's mean read back from the reference group's interval.
    """
    from .checks.check_ids import GENDER_CHECKS
    from .report import read_report

    report = read_report(path)
    if not any(result.id in GENDER_CHECKS for result in report.checks):
        ids = ", ".join(dict.fromkeys(result.id for result in report.checks)) or "none"
        raise PlanError(
            f"{path}: not a gender run's report (its checks: {ids}); a pilot is read for misgender_gap's rates, "
            "photos a person and ICC: give a gender run's report.json, or the figures themselves (--reference-rate, "
            "--photos-per-person, --icc)"
        )
    reference = report.grouping.reference
    rates: dict[str, float] = {}
    sd: dict[str, float] = {}
    notes: list[str] = []
    groups: tuple[str, ...] = ()
    photos: int | None = None
    weighted, people = 0.0, 0
    for result in report.checks:
        if not result.groups or (result.threshold is not None and result.id in rates):
            continue
        ref = reference if reference in result.groups else result.reference
        group = result.groups.get(ref) if ref else None
        if result.id == "misgender_gap" or not groups:
            names = [ref] if ref is not None and ref in result.groups else []
            groups = tuple(names + sorted(n for n in result.groups if n != ref and n != "undisclosed"))
        if group is not None and group.rate is not None and result.id not in rates:
            rates[result.id] = float(group.rate)
        if result.id == "confidence_calibration" and group is not None and group.ci is not None and group.subjects >= 2:
            # the reference group's spread of a person's mean, read back from its interval's half-width
            sd[result.id] = (group.ci[1] - group.ci[0]) / (2.0 * 1.96) * math.sqrt(group.subjects)
        if result.id != "misgender_gap":
            continue
        total_photos = sum(g.n for g in result.groups.values())
        total_people = sum(g.subjects for g in result.groups.values())
        if total_people:
            photos = max(1, round(total_photos / total_people))
            if total_photos % total_people:
                # A report holds each group's photos and people, not each person's count: the spread is unknown.
                notes.append(
                    f"pilot {path}: {total_photos / total_people:.3g} photos a person on average, so people's counts "
                    "vary, which a report does not show; planned at the nearest whole count, which overpromises when "
                    "they vary much: give the counts (--photos-per-person 1,20) or the manifest (--manifest)"
                )
        for g in result.groups.values():
            if g.effective_n is None or g.rate is None or not 0.0 < g.rate < 1.0 or g.subjects < 2:
                continue
            m = g.n / g.subjects
            if m <= 1.0 or g.effective_n <= 0:
                continue
            icc = min(max((g.n / g.effective_n - 1.0) / (m - 1.0), 0.0), 1.0)
            weighted += icc * g.subjects
            people += g.subjects
    icc_value = weighted / people if people else None
    notes.append(
        f"pilot {path}: reference rates {', '.join(f'{k} {v:.3g}' for k, v in rates.items()) or 'none'}; "
        + (f"ICC {icc_value:.3g} from misgender_gap's design effects" if icc_value is not None else "no ICC estimable")
        + (f"; {photos} photos a person" if photos else "")
    )
    return Pilot(groups, rates, photos, icc_value, sd, tuple(notes))


# ---------------------------------------------------------------------------------------------------------
# What an existing manifest can settle.
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """Whether a manifest's data can settle one check, and why not."""

    check: str
    settles: bool
    reason: str
    pass_power: float | None = None
    fail_power: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "settles": self.settles,
            "reason": self.reason,
            "pass_power": self.pass_power,
            "fail_power": self.fail_power,
        }


@dataclass(frozen=True)
class ManifestPeople:
    """A manifest read for planning: its dataset, each photo's group, and each person's photo count."""

    dataset: Any  # conformance.dataset.Dataset
    labels: tuple[str, ...]
    photo_counts: tuple[int, ...]  # one entry a person of the compared groups (the undisclosed are not compared)


def read_manifest(
    manifest: str, policy: Policy, group_by: Sequence[str] = (), *, comparisons: bool = False
) -> ManifestPeople:
    """Load ``manifest`` once for the plan (its people's photo counts) and its assessment.

    ``comparisons``: a 1:1 comparison manifest (``photo`` and ``subject`` are enough). The photo
    counts are of the people compared: a face-search manifest's probes, not its gallery.
    """
    from .dataset import group_labels, load_dataset

    dataset = load_dataset(manifest, identity_map=dict(policy.identity), comparisons=comparisons)
    labels = tuple(group_labels(dataset, group_by))
    per_person: dict[tuple[str, str], int] = {}
    for photo, label in zip(dataset.photos, labels, strict=True):
        if label != "undisclosed" and photo.role != "gallery":
            per_person[(label, photo.subject)] = per_person.get((label, photo.subject), 0) + 1
    return ManifestPeople(dataset, labels, tuple(per_person.values()))


def assess_manifest(
    manifest: str,
    inputs: PlanInputs,
    *,
    group_by: Sequence[str] = (),
    plans: Mapping[str, CheckPlan],
    loaded: ManifestPeople | None = None,
) -> tuple[dict[str, Any], list[Assessment]]:
    """Each check's verdict power on an existing manifest's people and photos, and what stands in its way."""
    from dataclasses import replace

    from .checks.check_ids import GENDER_CHECKS, SEARCH_CHECKS

    if loaded is None:
        loaded = read_manifest(manifest, inputs.policy, group_by)
    dataset, labels = loaded.dataset, loaded.labels
    people: dict[str, set[str]] = {}
    photos: dict[str, int] = {}
    per_person: dict[str, int] = {}
    for photo, label in zip(dataset.photos, labels, strict=True):
        people.setdefault(label, set()).add(photo.subject)
        photos[label] = photos.get(label, 0) + 1
        per_person[photo.subject] = per_person.get(photo.subject, 0) + 1
    compared = {g: len(p) for g, p in people.items() if g != "undisclosed"}
    summary = {
        "manifest": manifest,
        "groups": {g: {"people": len(people[g]), "photos": photos[g]} for g in sorted(people)},
    }
    out: list[Assessment] = []
    smallest = min(compared.values()) if compared else 0
    smallest_group = min(compared, key=compared.__getitem__) if compared else "none"
    mean_photos = max(1, round(sum(photos[g] for g in compared) / max(sum(compared.values()), 1)))
    varied = loaded.photo_counts if len(_count_table(loaded.photo_counts)[0]) > 1 else ()
    spread = (
        f"{_counts_shown(varied)} photos a person, {sum(varied) / len(varied):.3g} on average"
        if varied
        else f"{mean_photos} photos a person"
    )
    has_roles = any(p.role for p in dataset.photos)
    repeated = any(n >= 2 for n in per_person.values())
    nonbinary = sum(1 for p in {(p.subject, p.identity) for p in dataset.photos} if p[1] == "nonbinary")
    for check in inputs.checks:
        plan = plans.get(check)
        need = None if plan is None else plan.people_per_group
        if check in SEARCH_CHECKS:
            out.append(_assess_search(check, dataset, labels, inputs, group_by, plan))
            continue
        if check in GENDER_CHECKS and has_roles:
            out.append(Assessment(check, False, "a face-matching manifest (role column): gender checks do not apply"))
            continue
        if check in _PAIR_PLANS:
            out.append(_assess_pairs(check, dataset, labels, inputs, plan))
            continue
        if check != "nonbinary_representability" and len(compared) < 2:
            # A gap needs two groups: no number of people in the one there is settles it.
            only = ", ".join(sorted(compared)) or "none"
            out.append(
                Assessment(
                    check,
                    False,
                    f"only one group in the manifest ({only}, grouped by "
                    f"{', '.join(group_by) or 'the default: cis / trans / nonbinary'}): a gap is between two or more "
                    "groups; add people of another group, or group by another column (--group-by)",
                )
            )
            continue
        if check == "same_person_consistency" and not repeated:
            out.append(Assessment(check, False, "nobody has two or more photos: not applicable"))
            continue
        if check == "transformation_invariance":
            out.append(
                Assessment(
                    check,
                    False,
                    "settled by transformed variants, not by the manifest: needs an analyzer that can look at new "
                    f"images and invariance_photos of at least {len(compared)} x {need or '?'} people",
                )
            )
            continue
        if check == "nonbinary_representability":
            if not nonbinary:
                out.append(Assessment(check, False, "no nonbinary people: the empirical half is not applicable"))
                continue
            group_size, label = nonbinary, "nonbinary"
        else:
            group_size, label = smallest, smallest_group
        if group_size < inputs.policy.min_subjects:
            out.append(
                Assessment(
                    check,
                    False,
                    f"{label} has {group_size} people, below min_subjects {inputs.policy.min_subjects}: never decided",
                )
            )
            continue
        if plan is None or need is None:
            out.append(Assessment(check, False, "not planned" if plan is None else "; ".join(plan.notes)))
            continue
        # The manifest's own people: their photo counts as they are, not the plan's.
        design_inputs = replace(
            inputs, photos_per_person=mean_photos, photo_counts=varied, groups=tuple(sorted(compared))
        )
        assessed = _assess_size(check, design_inputs, group_size)
        settles = all(p is not None and p >= inputs.power for p in assessed)
        reason = (
            f"{label} has {group_size} people ({spread}): power "
            f"{_shown_power(assessed[0])} to pass at a true gap of 0, {_shown_power(assessed[1])} to fail at "
            f"{plan.directions[1].true_gap:g}"
        )
        if not settles:
            reason += f"; {need} people a group would settle it at {inputs.power:g} power"
        out.append(Assessment(check, settles, reason, assessed[0], assessed[1]))
    return summary, out


def _people_of(dataset: Any, labels: Sequence[str], keep: Any) -> dict[str, dict[str, int]]:
    """Per group, each person's count of the photos ``keep(photo)`` selects (the undisclosed are not compared)."""
    out: dict[str, dict[str, int]] = {}
    for photo, label in zip(dataset.photos, labels, strict=True):
        if label != "undisclosed" and keep(photo):
            person = out.setdefault(label, {})
            person[photo.subject] = person.get(photo.subject, 0) + 1
    return out


def _assess_units(
    check: str, units: Mapping[str, Mapping[str, int]], what: str, inputs: PlanInputs, plan: CheckPlan | None
) -> Assessment:
    """Power on the smallest group of ``units`` (group -> person -> count), or why there is none."""
    from dataclasses import replace

    if len(units) < 2:
        return Assessment(
            check,
            False,
            f"{what} of {len(units)} group{'s' if len(units) != 1 else ''} ({', '.join(sorted(units)) or 'none'}): a "
            "gap or ratio is between two or more groups; add people of another group, or group by another column "
            "(--group-by)",
        )
    label = min(units, key=lambda g: (len(units[g]), g))
    counts = tuple(units[label].values())
    size = len(counts)
    if size < inputs.policy.min_subjects:
        return Assessment(
            check,
            False,
            f"{label} has {size} people ({what}), below min_subjects {inputs.policy.min_subjects}: never decided",
        )
    if plan is None or plan.people_per_group is None:
        return Assessment(check, False, "not planned" if plan is None else "; ".join(plan.notes))
    mean = max(1, round(sum(counts) / size))
    varied = counts if len(set(counts)) > 1 else ()
    design_inputs = replace(
        inputs, photos_per_person=mean, photo_counts=varied, groups=tuple(sorted(units, key=lambda g: g != label))
    )
    assessed = _assess_size(check, design_inputs, size)
    settles = all(p is not None and p >= inputs.power for p in assessed)
    shown = f"{_counts_shown(varied)} a person, {sum(varied) / size:.3g} on average" if varied else f"{mean} a person"
    fail = plan.directions[1]
    scenario = f"a ratio of {fail.extra['true_ratio']:g}" if "true_ratio" in fail.extra else f"{fail.true_gap:g}"
    reason = (
        f"{label} has {size} people ({what}, {shown}): power {_shown_power(assessed[0])} to pass at no difference, "
        f"{_shown_power(assessed[1])} to fail at {scenario}"
    )
    if not settles:
        reason += f"; {plan.people_per_group} people a group would settle it at {inputs.power:g} power"
    return Assessment(check, settles, reason, assessed[0], assessed[1])


def _assess_search(
    check: str, dataset: Any, labels: Sequence[str], inputs: PlanInputs, group_by: Sequence[str], plan: CheckPlan | None
) -> Assessment:
    """A face-search check on a manifest: its units are the non-mated (or mated) probes, by the probe's group."""
    if not any(p.role for p in dataset.photos):
        return Assessment(
            check, False, "no role column (gallery/probe): a face-search check does not apply to this manifest"
        )
    if not group_by:
        return Assessment(
            check,
            False,
            "a face-search manifest is grouped by a column you name: give --group-by (e.g. race_ethnicity)",
        )
    enrolled = {p.subject for p in dataset.photos if p.role == "gallery"}
    mated = check == "false_non_match_gap"
    what = (
        "mated probes (their person in the gallery)" if mated else "non-mated probes (their person not in the gallery)"
    )
    units = _people_of(dataset, labels, lambda p: p.role == "probe" and (p.subject in enrolled) == mated)
    if not units:
        return Assessment(check, False, f"no {what.split(' (')[0]}: nothing for {check} to count (not applicable)")
    return _assess_units(check, units, what, inputs, plan)


def _assess_pairs(
    check: str, dataset: Any, labels: Sequence[str], inputs: PlanInputs, plan: CheckPlan | None
) -> Assessment:
    """A 1:1 check on a manifest: every photo against every other; the threshold needs 3/FMR people-pairs."""
    import math as _math

    units = _people_of(dataset, labels, lambda p: True)
    people = sum(len(v) for v in units.values())
    target = inputs.policy.target_fmr[0]
    needed = _math.ceil(3.0 / target)
    if people * (people - 1) // 2 < needed:
        return Assessment(
            check,
            False,
            f"{people} people make {people * (people - 1) // 2:,} people-pairs: no threshold can be fixed at FMR "
            f"{target:g}, which needs 3/FMR = {needed:,} (add people, or a higher target FMR)",
        )
    if check != "false_match_differential" and not any(n >= 2 for v in units.values() for n in v.values()):
        return Assessment(
            check, False, "nobody has two or more photos: no genuine comparisons, so no FNMR (not applicable)"
        )
    return _assess_units(check, units, "photos compared 1:1", inputs, plan)


def _shown_power(p: float | None) -> str:
    return "unknown" if p is None else f"{p:.2f}"


def _assess_size(check: str, inputs: PlanInputs, people: int) -> tuple[float | None, float | None]:
    """(power to pass, power to fail) at ``people`` a group, by the same route the plan takes."""
    tolerance = inputs.policy.tolerance_for(check)
    gap = _fail_gap(inputs, tolerance)
    sim = inputs.simulation
    if check == "nonbinary_representability":
        alpha_pass, alpha_fail = policy_levels(inputs.policy)
        if sim.replicates <= 0 or people > SIMULATION_LIMIT:
            return None, None
        powers = [
            simulated_rate_power(
                rate,
                tolerance,
                people,
                inputs.photos_per_person,
                inputs.icc,
                verdict=verdict,
                alpha=alpha,
                method=inputs.policy.interval,
                min_subjects=inputs.policy.min_subjects,
                simulation=sim,
                counts=inputs.photo_counts,
            )
            for verdict, rate, alpha in (("pass", 0.0, alpha_pass), ("fail", min(gap, 1.0), alpha_fail))
        ]
        return powers[0], powers[1]
    if check in _PAIR_PLANS:
        return _assess_pair_size(check, inputs, people)
    if check == "confidence_calibration" or (check not in _COUNT_CHECKS and check != "same_person_consistency"):
        return None, None
    rate = inputs.rates[check]
    groups = len(inputs.groups)
    photos = (
        max(inputs.policy.invariance_transforms, 1)
        if check == "transformation_invariance"
        else inputs.photos_per_person
    )
    design = _gap_design(inputs, check, rate, photos, groups)
    low, high = (rate, rate + gap) if rate + gap <= 1.0 else (1.0 - gap, 1.0)
    if sim.replicates <= 0 or check == "same_person_consistency" or people > SIMULATION_LIMIT:
        return design.pass_power(people), design.fail_power(people, gap)
    return (
        simulated_power(design, people, [rate] * groups, "pass", sim),
        simulated_power(design, people, [low] * (groups - 1) + [high], "fail", sim),
    )


def _assess_pair_size(check: str, inputs: PlanInputs, people: int) -> tuple[float | None, float | None]:
    """(power to pass, power to fail) of a 1:1 check at ``people`` a group, as its plan computes them."""
    from . import planning_pairs as pairs

    design, _ = pairs.pair_design(inputs)
    ratio = pairs.fail_ratio(inputs)
    fmr_fail = pairs.fmr_power(design, people, "fail", ratio)
    if check == "false_match_differential":
        return pairs.fmr_power(design, people, "pass"), fmr_fail
    rate = inputs.rates.get("false_non_match_differential", inputs.rates.get(check, 0.05))
    sim = inputs.simulation

    def fnmr(verdict: str, true_ratio: float) -> float:
        if design.photos < 2:
            return 0.0
        if sim.replicates <= 0:
            return pairs.fnmr_approximate(design, people, verdict, rate, true_ratio, inputs.icc)
        return pairs.fnmr_power(design, people, verdict, rate, true_ratio, inputs.icc, replicates=sim.replicates)

    if check == "false_non_match_differential":
        return fnmr("pass", 1.0), fnmr("fail", ratio)
    fta = _gap_design(inputs, "failure_to_acquire_gap", 0.0, design.photos, design.groups)
    return pairs.fmr_power(design, people, "pass") * fnmr("pass", 1.0) * fta.pass_power(people), fmr_fail
