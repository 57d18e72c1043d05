"""The 1:1 comparison checks' score model: the two-way Gaussian model, its threshold, and its groups' FMRs.

``false_match_differential`` reads each group's false-match rate over its impostor comparisons
(every photo against every photo of another person, in both orders) at the threshold where the
pool's FMR is the target (in-sample), and judges each group's ratio to the reference's. A person's
false matches are not independent: a person whose face lies near many others' false-matches as
probe *and* as reference, so every one of the ``G k`` people touches every group's rate. The
planner models scores as the two-way Gaussian model of ``benchmarks/matching_coverage.py``:

    s(x, y) = a_i + a_j + e_xy,   a_i ~ N(delta_g(i), sd^2),   e_xy ~ N(0, 1),  s(x, y) = s(y, x)

for photo ``x`` of person ``i`` and ``y`` of person ``j``. ``sd`` comes from the *impostor ICC*,
the correlation of two impostor scores sharing one person, ``sd^2 / (2 sd^2 + 1)`` (0 to 0.5). The
threshold is solved where the pool's FMR is the target; the fail scenario shifts the last group's
people until its FMR is ``R^K`` times the reference's at its own calibrated threshold.
:func:`log_rates` works out each person's influence on every group's FMR (the Hajek projection of
the two-way sum, as probe and as reference) on a grid of their effect, what people-pairs and
comparisons add beyond it, and the moments of each person's influence as the check reads it; the
power is drawn in :mod:`.pairs_power`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .. import stats
from ..errors import ConformanceError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# Without --impostor-icc, two impostor scores that share a person are taken to correlate this much
# (person sd 0.35 against the comparison's 1): assumed, and said in the plan.
DEFAULT_IMPOSTOR_ICC = 0.1

# Below this many errors in either group a ratio's interval is widened to the ratio of the groups' bounds: the
# check's own figure, stats.FEW_ERRORS, re-exported for the planner's modules.
FEW_ERRORS = stats.FEW_ERRORS

_GRID = 1601  # points of the grid a person's effect is integrated over (+-9 sd)


class PairPlanError(ConformanceError):
    """A 1:1 plan that cannot be made from what was given; the message says what to give instead."""


def impostor_sd(icc: float) -> float:
    """The person sd whose two impostor scores sharing one person correlate ``icc``: ``sd^2 / (2 sd^2 + 1)``.

    >>> round(impostor_sd(0.1), 4), impostor_sd(0.0)
    (0.3536, 0.0)
    """
    if not 0.0 <= icc < 0.5:
        raise PairPlanError(
            f"impostor ICC {icc:g}: two impostor scores share one person of two, so their correlation lies from 0 "
            "to below 0.5 (--impostor-icc)"
        )
    return math.sqrt(icc / (1.0 - 2.0 * icc))


def rule_of_three_people(target: float, groups: int, photos: int, *, same_group: bool, reference_pool: bool) -> int:
    """People a group needs before a threshold can be fixed at ``target`` (3/FMR pairs of people and comparisons).

    The pool is every allowed impostor comparison (``fmr_calibration = "overall"``) or the reference
    group's as probe (``"reference"``); its distinct people-pairs and distinct comparisons (a pair of
    photos is one measurement, whichever is the probe) must each reach ``ceil(3 / target)``.

    >>> rule_of_three_people(1e-3, 2, 1, same_group=False, reference_pool=False)
    39
    """
    needed = math.ceil(3.0 / target)
    k = 1
    while True:
        if reference_pool:
            pairs = k * (k - 1) // 2 + (0 if same_group else k * k * (groups - 1))
        elif same_group:
            pairs = groups * (k * (k - 1) // 2)
        else:
            pairs = (groups * k) * (groups * k - 1) // 2
        if pairs >= needed and pairs * photos * photos >= needed:
            return k
        k += 1 if k < 64 else max(1, k // 16)


@dataclass(frozen=True)
class ScoreModel:
    """The two-way Gaussian score model of a planned 1:1 design (see the module docstring)."""

    groups: int
    people: int  # a group
    photos: int  # a person
    sd: float  # of a person's effect, the comparison's noise having sd 1
    shifts: tuple[float, ...]  # each group's mean effect; the reference first
    threshold: float
    same_group: bool = False

    def allowed(self, g: int, h: int) -> bool:
        return g == h or not self.same_group

    def others(self, g: int) -> int:
        """People a probe person of group ``g`` is compared with (impostors)."""
        return sum(self.people for h in range(self.groups) if self.allowed(g, h)) - 1

    def comparisons(self, g: int) -> int:
        """Impostor comparisons of probe group ``g`` (ordered photo pairs)."""
        return self.people * self.photos * self.photos * self.others(g)

    def pair_fmr(self, g: int, h: int) -> float:
        """FMR of a probe of group ``g`` against a reference of group ``h``."""
        scale = math.sqrt(2.0 * self.sd * self.sd + 1.0)
        # the normal's upper tail, in the standard library: brentq calls this thousands of times
        return 0.5 * math.erfc((self.threshold - self.shifts[g] - self.shifts[h]) / (scale * math.sqrt(2.0)))

    def weight(self, g: int, h: int) -> float:
        """Share of group ``g``'s impostor comparisons whose reference is of group ``h``."""
        if not self.allowed(g, h):
            return 0.0
        return (self.people - (g == h)) / self.others(g)

    def fmr(self, g: int) -> float:
        return sum(self.weight(g, h) * self.pair_fmr(g, h) for h in range(self.groups))

    def pool_fmr(self, pool: str) -> float:
        """The calibration pool's FMR: every group's comparisons (``overall``) or the reference's."""
        if pool == "reference":
            return self.fmr(0)
        sizes = [self.comparisons(g) for g in range(self.groups)]
        return sum(n * self.fmr(g) for g, n in enumerate(sizes)) / sum(sizes)


def calibrated(model: ScoreModel, target: float, pool: str) -> ScoreModel:
    """``model`` with its threshold where the pool's FMR is ``target``."""

    from scipy.optimize import brentq

    top = max(model.shifts) * 2.0 + 40.0
    t = brentq(lambda t: replace(model, threshold=t).pool_fmr(pool) - target, -top, top, xtol=1e-10)
    return replace(model, threshold=float(t))


def fail_model(model: ScoreModel, target: float, pool: str, ratio: float) -> ScoreModel:
    """The last group shifted until its FMR is ``ratio`` times the reference's, each at the calibrated threshold."""

    from scipy.optimize import brentq

    def shifted(delta: float) -> ScoreModel:
        return calibrated(replace(model, shifts=(*model.shifts[:-1], delta)), target, pool)

    def gap(delta: float) -> float:
        m = shifted(delta)
        return math.log(m.fmr(model.groups - 1) / m.fmr(0)) - math.log(ratio)

    high = 1.0
    while gap(high) < 0:
        high *= 2.0
        if high > 64:
            raise PairPlanError(
                f"no shift of a group's people gives an FMR ratio of {ratio:g}; give a smaller --fail-ratio"
            )
    return shifted(float(brentq(gap, 0.0, high, xtol=1e-10)))


@dataclass(frozen=True)
class LogRates:
    """Each group's FMR, comparisons, log-FMR covariance, two-way effective size, floor and degrees of freedom.

    ``people``: the covariance of the people's main effects (as probe and as reference); ``pairs``:
    what people-pairs and single comparisons add. The estimates vary as ``people + pairs``; the
    two-way bootstrap's variance is about ``people + 3 pairs`` (Owen 2007: a pair's own variance is
    counted with each of its two people, and once more), the check's two-way effective size rests
    on ``people + 2 pairs`` (its dyadic-robust sum counts a pair's own term twice).
    """

    fmr: npt.NDArray[np.float64]
    comparisons: npt.NDArray[np.float64]
    people: npt.NDArray[np.float64]
    pairs: npt.NDArray[np.float64]
    effective: npt.NDArray[np.float64]
    floor: npt.NDArray[np.float64]
    df: npt.NDArray[np.float64]
    people_pairs: npt.NDArray[np.float64]  # distinct people-pairs behind each group's comparisons
    # Per group of people: a person's relative influence on every group's FMR, (G, grid) at effects
    # shift + sd * grid (centred: 0 on average), for drawing people.
    influence: tuple[npt.NDArray[np.float64], ...] = ()
    grid: npt.NDArray[np.float64] | None = None
    # (person's group, rate's group) -> the mean and variance of the person's psi on the grid, given their effect.
    psi: Mapping[tuple[int, int], tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = field(default_factory=dict)


def log_rates(model: ScoreModel) -> LogRates:
    """The approximate sampling distribution of the groups' log-FMRs (module docstring)."""
    import numpy as np
    from scipy.special import ndtr

    G, k, m, sd, t = model.groups, model.people, model.photos, model.sd, model.threshold
    f = np.array([model.fmr(g) for g in range(G)])
    n = np.array([float(model.comparisons(g)) for g in range(G)])
    tau = math.sqrt(1.0 + sd * sd)  # a partner's effect plus the comparison's noise
    z = np.linspace(-9.0, 9.0, _GRID)
    w = np.exp(-z * z / 2.0)
    w /= w.sum()
    cov = np.zeros((G, G))
    pairs = np.zeros((G, G))
    influence: list[npt.NDArray[np.float64]] = []  # per person type: (G, grid) relative influence on each group
    # Per person type h: E[Y_g | a] for every g (the person's expected false matches in group g's numerator).
    proj: list[npt.NDArray[np.float64]] = []
    partner_p: list[npt.NDArray[np.float64]] = []  # P_{h'}(a) for each partner group h'
    for h in range(G):
        a = model.shifts[h] + sd * z
        p = np.array([ndtr((a + model.shifts[j] - t) / tau) for j in range(G)])  # (G, grid)
        partner_p.append(p)
        expected = np.zeros((G, z.size))
        for g in range(G):
            if h == g:
                expected[g] += sum((k - (j == g)) * p[j] for j in range(G) if model.allowed(g, j))
            if model.allowed(g, h):
                expected[g] += (k - (h == g)) * p[g]
        expected *= m * m
        proj.append(expected)
        u = expected / (n * f)[:, None]
        centred = u - (u @ w)[:, None]
        influence.append(centred)
        cov += k * (centred * w) @ centred.T
    # People-pairs and comparisons: what a pair adds beyond its two people's main effects, and the noise.
    pair_var = np.zeros((G, G))
    for g in range(G):
        for h in range(g, G):
            if not model.allowed(g, h):
                continue
            mean = model.shifts[g] + model.shifts[h]
            s = mean + math.sqrt(2.0) * sd * z
            q = ndtr(s - t)
            f_gh = float(q @ w)
            second = float((q * q) @ w)
            main = sum(float(((partner_p[x][y] - partner_p[x][y] @ w) ** 2) @ w) for x, y in ((g, h), (h, g)))
            interaction = max(second - f_gh * f_gh - main, 0.0)
            pair_var[g, h] = pair_var[h, g] = m**4 * interaction + m * m * max(f_gh - second, 0.0)
            people_pairs = k * (k - 1) / 2.0 if g == h else float(k * k)
            c = np.zeros(G)
            if g == h:
                c[g] = 2.0 / (n[g] * f[g])
            else:
                c[g] = 1.0 / (n[g] * f[g])
                c[h] = 1.0 / (n[h] * f[h])
            pairs += people_pairs * pair_var[g, h] * np.outer(c, c)
    # The check's two-way variance and its degrees of freedom, read off each person's influence
    # psi = (their false matches in group g's numerator) - f_g (their comparisons there), as probe and as
    # reference: a false match with a partner of g counts twice for a person of g, once otherwise. Given
    # the person's effect the counts are Poisson (rare events over many partners), so E[psi^2] and
    # E[psi^4] follow from the cumulants, then Satterthwaite's 2 (sum s)^2 / (people var s), s = psi^2.
    floor = np.full(G, float(k))
    effective = np.zeros(G)
    df = np.zeros(G)
    psi: dict[tuple[int, int], tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = {}
    for g in range(G):
        first, second, people = 0.0, 0.0, 0
        for h in range(G):
            if not model.allowed(g, h):
                continue
            p = partner_p[h]
            if h == g:
                twice = m * m * (k - 1) * p[g]  # false matches with partners of g: counted twice
                once = m * m * sum(k * p[j] for j in range(G) if j != g and model.allowed(g, j))
                comparisons = m * m * (model.others(g) + k - 1)
            else:
                twice, once, comparisons = 0.0 * p[g], m * m * k * p[g], m * m * k
            mean = 2.0 * twice + once - f[g] * comparisons
            k2, k3, k4 = 4.0 * twice + once, 8.0 * twice + once, 16.0 * twice + once
            psi[(h, g)] = (mean, k2)
            e1 = k2 + mean**2
            e2 = k4 + 4.0 * k3 * mean + 3.0 * k2 * k2 + 6.0 * k2 * mean**2 + mean**4
            first += k * float(e1 @ w)
            second += k * float(e2 @ w)
            people += k
        mean_s = first / people
        spread = people * (second / people - mean_s * mean_s)
        df[g] = min(k - 1.0, 2.0 * first * first / spread if spread > 0 else math.inf)
        variance = first / (n[g] * n[g])
        effective[g] = min(max(f[g] * (1.0 - f[g]) / variance, floor[g]), n[g])
    # As checks/biometrics.py's _subject_pairs: pairs within the group, and with everyone else if allowed.
    within = k * (k - 1) / 2.0
    pair_units = np.full(G, max(1.0, within + (0.0 if model.same_group else k * (G * k - k))))
    return LogRates(f, n, cov, pairs, effective, floor, df, pair_units, tuple(influence), z, psi)


def _root(cov: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A matrix ``r`` with ``r @ r.T == cov`` (eigenvalues below 0 from rounding taken as 0)."""
    import numpy as np

    values, vectors = np.linalg.eigh(cov)
    root: npt.NDArray[np.float64] = vectors * np.sqrt(np.clip(values, 0.0, None))
    return root


def _adjusted(effective: float, floor: float, df: float, alpha: float) -> float:
    """:func:`stats.adjusted_n` as ``stats._views`` applies it (the floor below ``PLANNING_MIN_DF``)."""
    if df < stats.PLANNING_MIN_DF:
        effective = floor
    return stats.adjusted_n(effective, floor, df if effective > floor else math.inf, alpha)


def ratio_verdicts(
    log_ratio: Any,
    sd: Any,
    ends: tuple[Any, Any, Any, Any],
    few: Any,
    boot: Any,
    *,
    z: float,
    tolerance: float,
) -> tuple[Any, Any]:
    """(passes, fails) of ratio intervals as the check builds them, vectorised over draws.

    ``log_ratio`` and ``sd``: the estimate and the percentile interval's normal sd on the log scale;
    ``ends``: the group's lower and upper bound and the reference's (ratio of the groups' bounds);
    ``few``: fewer than 30 errors in either group (the interval widened to that ratio); ``boot``: a
    bootstrap interval exists (0 < count < n in both groups).
    """
    import numpy as np

    lo_g, up_g, lo_r, up_r = ends
    with np.errstate(invalid="ignore", divide="ignore"):
        bounds_lo = np.where(up_r > 0, np.log(np.maximum(lo_g, 1e-300)) - np.log(np.maximum(up_r, 1e-300)), np.nan)
        bounds_lo = np.where(lo_g <= 0, -np.inf, bounds_lo)
        bounds_hi = np.where(lo_r > 0, np.log(np.maximum(up_g, 1e-300)) - np.log(np.maximum(lo_r, 1e-300)), np.inf)
    boot_lo, boot_hi = log_ratio - z * sd, log_ratio + z * sd
    lo = np.where(boot, np.where(few, np.fmin(boot_lo, bounds_lo), boot_lo), bounds_lo)
    hi = np.where(boot, np.where(few, np.fmax(boot_hi, bounds_hi), boot_hi), bounds_hi)
    edge = math.log(tolerance)
    with np.errstate(invalid="ignore"):
        passes = (lo >= -edge) & (hi <= edge)
        fails = (lo > edge) | (hi < -edge)
    return passes, fails


def _bonferroni(confidence: float, groups: int) -> tuple[float, float]:
    """(two-sided level, one-sided alpha) of each of the ``groups - 1`` ratio intervals: the check's own level."""
    level = stats.bonferroni(confidence, groups - 1)
    return level, (1.0 - level) / 2.0
