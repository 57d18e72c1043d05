"""Sample sizes for the 1:1 comparison checks: FMR and FNMR ratios at a threshold fixed to a target FMR.

``false_match_differential`` reads each group's false-match rate over its impostor comparisons (every
photo against every photo of another person, in both orders) at the threshold where the pool's FMR
is the target (in-sample), and judges each group's ratio to the reference's: ``pass`` when its
interval (two-way bootstrap over people, Bonferroni over the ``G - 1`` ratios, widened to the ratio
of the groups' own bounds below 30 errors) lies within ``[1/R, R]``, ``fail`` when it lies beyond.
What makes that hard to plan is that a person's false matches are not independent: a person whose
face lies near many others' false-matches as probe *and* as reference, so every one of the ``G k``
people touches every group's rate. The planner models scores as the two-way Gaussian model used by
``benchmarks/matching_coverage.py``:

    s(x, y) = a_i + a_j + e_xy,   a_i ~ N(delta_g(i), sd^2),   e_xy ~ N(0, 1),  s(x, y) = s(y, x)

for photo ``x`` of person ``i`` and ``y`` of person ``j``. ``sd`` comes from the *impostor ICC*, the
correlation of two impostor scores sharing one person, ``sd^2 / (2 sd^2 + 1)`` (0 to 0.5). The
threshold is solved where the pool's FMR is the target; the fail scenario shifts the last group's
people until its FMR is ``R^K`` times the reference's at its own calibrated threshold. Each person's
influence on every group's FMR (the Hajek projection of the two-way sum, as probe and as reference)
is worked out on a grid of their effect; the planner then draws people, adds the people-pairs' and
comparisons' own noise (normal, of the variance they leave), re-fixes the threshold to each draw (a
shock common to every group moves the threshold, not the counts) and applies the check's rules: the
two-way bootstrap's variance (the people's spread as drawn plus three times the pairs', Owen 2007),
each group's bounds (Clopper-Pearson on its two-way effective size, with degrees of freedom from the
people's influences as drawn, and on its distinct people-pairs), the widening below 30 errors. An
approximation, not a run of the check: ``benchmarks/plan_power.py`` runs the real check on designs
drawn from the model and shows how close it comes.

``false_non_match_differential`` reads each group's FNMR over its people's genuine comparisons
(``m (m - 1)`` ordered, each distinct pair twice), clustered by person: it is simulated as the rate
checks are (people with beta-distributed miss rates, ICC ``icc``, read by ``stats.clustered_rate``
and ``stats.rate_interval`` as the check reads them), the percentile interval of the ratio taken as
the normal one of the clustered variances. ``equitability`` passes when both ratios pass and
``failure_to_acquire_gap`` does, and fails when a ratio fails.

numpy and scipy are imported inside functions, like the rest of the kit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import ConformanceError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "DEFAULT_IMPOSTOR_ICC",
    "FEW_ERRORS",
    "PairDesign",
    "PairPlanError",
    "ScoreModel",
    "fmr_power",
    "fnmr_power",
    "impostor_sd",
    "plan_equitability",
    "plan_false_match_differential",
    "plan_false_non_match_differential",
    "rule_of_three_people",
]

# Without --impostor-icc, two impostor scores that share a person are taken to correlate this much
# (person sd 0.35 against the comparison's 1): assumed, and said in the plan.
DEFAULT_IMPOSTOR_ICC = 0.1
# Below this many errors in either group a ratio's interval is widened to the ratio of the groups' bounds
# (checks/biometrics.py's _FEW).
FEW_ERRORS = 30
# Draws of the approximate sampling distribution a size (seeded; common to every size, so power rises with it).
_DRAWS = 20_000
# People are drawn one by one up to this many a group (above it their sum is close to normal), in draws of at
# most this many cells (people x draws) a group.
_PEOPLE_DRAWN = 5_000
_PEOPLE_CELLS = 2_000_000
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
    from dataclasses import replace

    from scipy.optimize import brentq

    top = max(model.shifts) * 2.0 + 40.0
    t = brentq(lambda t: replace(model, threshold=t).pool_fmr(pool) - target, -top, top, xtol=1e-10)
    return replace(model, threshold=float(t))


def fail_model(model: ScoreModel, target: float, pool: str, ratio: float) -> ScoreModel:
    """The last group shifted until its FMR is ``ratio`` times the reference's, each at the calibrated threshold."""
    from dataclasses import replace

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


def _adjusted_many(effective: Any, floor: float, df: Any, alpha: float) -> Any:
    """:func:`stats._adjusted_n` over arrays of effective sizes and degrees of freedom."""
    import numpy as np
    from scipy.special import ndtri, stdtrit

    z = float(-ndtri(alpha))
    t = np.where(np.isfinite(df), -stdtrit(np.maximum(np.where(np.isfinite(df), df, 1.0), 1.0), alpha), z)
    # As stats: no shrinking where the effective size is at its floor (nothing was estimated there).
    t = np.where(effective > floor, t, z)
    return np.maximum(floor, effective * (z / t) ** 2)


def _adjusted(effective: float, floor: float, df: float, alpha: float) -> float:
    from . import stats

    return stats._adjusted_n(effective, floor, df if effective > floor else math.inf, alpha)


def _cp(x: Any, n: Any, alpha: float, method: str = "clopper-pearson") -> tuple[Any, Any]:
    """Vectorised one-sided score bounds of ``x`` events of ``n`` units (both possibly fractional), as stats'."""
    import numpy as np
    from scipy.special import betaincinv, ndtri

    x = np.clip(x, 0.0, n)
    if method != "clopper-pearson":  # Wilson, as stats._score_bounds
        z = float(-ndtri(alpha))
        p = x / n
        z2n = z * z / n
        centre = (p + z2n / 2.0) / (1.0 + z2n)
        half = z * np.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n)) / (1.0 + z2n)
        return np.where(p <= 0, 0.0, np.maximum(centre - half, 0.0)), np.where(
            p >= 1, 1.0, np.minimum(centre + half, 1.0)
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(x <= 0, 0.0, betaincinv(np.maximum(x, 1e-300), n - x + 1.0, alpha))
        upper = np.where(x >= n, 1.0, betaincinv(x + 1.0, np.maximum(n - x, 1e-300), 1.0 - alpha))
    return lower, upper


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
    """(two-sided level, one-sided alpha) of each of the ``groups - 1`` ratio intervals."""
    m = max(1, groups - 1)
    level = confidence if m <= 1 else 1.0 - (1.0 - confidence) / m
    return level, (1.0 - level) / 2.0


@dataclass(frozen=True)
class PairDesign:
    """A planned 1:1 design and the policy figures its verdicts use."""

    groups: int
    photos: int
    target: float
    pool: str  # "overall" or "reference" (fmr_calibration)
    same_group: bool
    ratio_tolerance: float
    confidence: float
    method: str
    min_subjects: int
    sd: float  # person effect on impostor scores
    seed: int = 20261121


def fmr_power(design: PairDesign, people: int, verdict: str, ratio: float = 1.0) -> float:
    """Approximate probability of ``verdict`` for false_match_differential at ``people`` a group.

    ``ratio``: the last group's true FMR over the reference's (1: every group alike).
    """
    import numpy as np
    from scipy.special import ndtri

    if people < max(design.min_subjects, 2):
        return 0.0
    base = ScoreModel(design.groups, people, design.photos, design.sd, (0.0,) * design.groups, 0.0, design.same_group)
    model = (
        calibrated(base, design.target, design.pool)
        if ratio == 1.0
        else fail_model(base, design.target, design.pool, ratio)
    )
    rates = log_rates(model)
    _, alpha = _bonferroni(design.confidence, design.groups)
    z = float(-ndtri(alpha))
    rng = np.random.default_rng([design.seed, 1, design.groups])
    G = design.groups
    pairs_root = _root(rates.pairs)
    if design.sd > 0 and people <= _PEOPLE_DRAWN:
        # People drawn: each person's influence on every group's FMR (the Hajek projection) read off the grid,
        # so that a few people who false-match far more than the rest move a group's rate and the bootstrap's
        # variance together, as they do in the check; people-pairs and comparisons add normal noise.
        draws = max(200, min(_DRAWS // 10, _PEOPLE_CELLS // people))
        linear = np.zeros((draws, G))
        spread = np.zeros((draws, G, G))  # per draw: sum over people of their influence products, centred by group
        # Per draw and group: each involved person's psi (Poisson given their effect), as the check reads them.
        psis: list[list[npt.NDArray[np.float64]]] = [[] for _ in range(G)]
        assert rates.grid is not None
        for h in range(G):
            effects = rng.standard_normal((draws, people))
            for g in range(G):
                if (h, g) in rates.psi:
                    mean, var = rates.psi[(h, g)]
                    noise = rng.standard_normal((draws, people))
                    psis[g].append(
                        np.interp(effects, rates.grid, mean) + np.sqrt(np.interp(effects, rates.grid, var)) * noise
                    )
            u = [np.interp(effects, rates.grid, rates.influence[h][g]) for g in range(G)]
            for g in range(G):
                linear[:, g] += u[g].sum(axis=1)
                for j in range(g, G):
                    cross = ((u[g] - u[g].mean(axis=1, keepdims=True)) * (u[j] - u[j].mean(axis=1, keepdims=True))).sum(
                        axis=1
                    )
                    spread[:, g, j] += cross
                    spread[:, j, g] = spread[:, g, j]
        relative = 1.0 + linear + rng.standard_normal((draws, G)) @ pairs_root.T
        effective_draws, df_draws = [], []
        for g in range(G):
            values = np.concatenate(psis[g], axis=1)
            values -= values.mean(axis=1, keepdims=True)  # psi sums to 0 at the estimated rate
            share = values * values
            total = share.sum(axis=1)
            involved = share.shape[1]
            spread_s = share.var(axis=1, ddof=1) * involved
            with np.errstate(divide="ignore", invalid="ignore"):
                df_draws.append(
                    np.minimum(people - 1.0, np.where(spread_s > 0, 2.0 * total * total / spread_s, np.inf))
                )
            effective_draws.append(total / (rates.comparisons[g] ** 2))  # the variance; an effective size below
    else:
        draws = _DRAWS
        relative = 1.0 + rng.standard_normal((draws, G)) @ _root(rates.people + rates.pairs).T
        spread = np.broadcast_to(rates.people, (draws, G, G))
        effective_draws, df_draws = [], []
    relative = np.maximum(relative, 1e-9)
    estimate = rates.fmr * relative
    # The threshold is fixed where the pool's FMR is the target, in-sample: whatever the people drawn, the
    # pool's false matches are what the target says, so a shock common to every group moves the threshold,
    # not the counts (it cancels in a ratio, not in the groups' bounds, which widen as their counts fall).
    sizes = rates.comparisons
    pool = estimate[:, 0] if design.pool == "reference" else (estimate * sizes).sum(axis=1) / sizes.sum()
    estimate = np.minimum(estimate * (design.target / pool)[:, None], 1.0)
    counts = np.rint(estimate * rates.comparisons)
    bounds = []
    for g in range(design.groups):
        # The check's group interval is the widest of: Clopper-Pearson on the two-way effective size (shrunk
        # for its degrees of freedom), and on the distinct people-pairs behind the comparisons (the count
        # scaled to them: with several photos a person, far fewer than the comparisons).
        if effective_draws:
            variance = effective_draws[g]
            rate = estimate[:, g]
            with np.errstate(divide="ignore", invalid="ignore"):
                effective = np.clip(rate * (1.0 - rate) / variance, rates.floor[g], rates.comparisons[g])
            n_adj = _adjusted_many(effective, float(rates.floor[g]), df_draws[g], alpha)
        else:
            n_adj = np.full(
                draws, _adjusted(float(rates.effective[g]), float(rates.floor[g]), float(rates.df[g]), alpha)
            )
        low, high = _cp(estimate[:, g] * n_adj, n_adj, alpha, design.method)
        units = min(float(rates.comparisons[g]), float(rates.people_pairs[g]))
        pair_low, pair_high = _cp(counts[:, g] * units / rates.comparisons[g], units, alpha)
        bounds.append((np.minimum(low, pair_low), np.maximum(high, pair_high)))
    passes = np.ones(draws, dtype=bool)
    fails = np.zeros(draws, dtype=bool)
    # The two-way bootstrap's variance: the people's spread as drawn, plus three times the pairs' (Owen 2007),
    # relative to the rates as estimated (the threshold's rescaling moves counts and influences alike).
    for g in range(1, G):
        a, b = relative[:, g], relative[:, 0]
        total = spread[:, g, g] + 3.0 * rates.pairs[g, g]
        reference = spread[:, 0, 0] + 3.0 * rates.pairs[0, 0]
        between = spread[:, g, 0] + 3.0 * rates.pairs[g, 0]
        sd = np.sqrt(np.maximum(total / (a * a) + reference / (b * b) - 2.0 * between / (a * b), 0.0))
        with np.errstate(divide="ignore"):
            log_ratio = np.log(counts[:, g] / rates.comparisons[g]) - np.log(counts[:, 0] / rates.comparisons[0])
        boot = (counts[:, g] > 0) & (counts[:, 0] > 0)
        few = np.minimum(counts[:, g], counts[:, 0]) < FEW_ERRORS
        ok, bad = ratio_verdicts(
            np.where(boot, log_ratio, 0.0),
            sd,
            (bounds[g][0], bounds[g][1], bounds[0][0], bounds[0][1]),
            few,
            boot,
            z=z,
            tolerance=design.ratio_tolerance,
        )
        passes &= ok
        fails |= bad
    return float((passes if verdict == "pass" else fails).mean())


def fnmr_power(
    design: PairDesign,
    people: int,
    verdict: str,
    rate: float,
    ratio: float,
    icc: float,
    *,
    replicates: int,
    fresh: int = 0,
) -> float:
    """Simulated probability of ``verdict`` for false_non_match_differential at ``people`` a group.

    Each person's misses among their ``m (m - 1) / 2`` distinct genuine pairs are beta-binomial
    (mean the group's FNMR, intraclass correlation ``icc``); the groups are read with
    ``stats.clustered_rate`` and bounded with ``stats.rate_interval`` as the check does, and the ratio's
    percentile interval is taken as the normal one of their clustered variances on the log scale.
    """
    import numpy as np
    from scipy.special import ndtri

    from . import stats

    distinct = design.photos * (design.photos - 1) // 2
    if people < design.min_subjects or distinct < 1 or replicates <= 0:
        return 0.0
    level, alpha = _bonferroni(design.confidence, design.groups)
    z = float(-ndtri(alpha))
    rates = [rate] * (design.groups - 1) + [rate * ratio]
    rng = np.random.default_rng([design.seed, people, design.groups, fresh, 11])
    spread = (1.0 - icc) / icc if icc > 0 else 0.0
    hits = 0
    for _ in range(replicates):
        reads = []
        for r in rates:
            own = (
                np.full(people, r)
                if icc <= 0 or r in (0.0, 1.0)
                else rng.beta(r * spread, (1.0 - r) * spread, size=people)
            )
            misses = rng.binomial(distinct, own).astype(np.float64)
            reads.append(stats.clustered_rate(misses, np.full(people, float(distinct))))
        results = []
        ref = reads[0]
        lo_r, up_r = stats.rate_interval(ref, level, design.method)
        for read in reads[1:]:
            lo_g, up_g = stats.rate_interval(read, level, design.method)
            boot = 0 < read.count < read.n and 0 < ref.count < ref.n
            if boot:
                sd = math.sqrt(read.variance / read.rate**2 + ref.variance / ref.rate**2)
                log_ratio = math.log(read.rate / ref.rate)
            else:
                sd, log_ratio = 0.0, 0.0
            few = min(read.count, ref.count) * 2 < FEW_ERRORS  # the check counts both orders of a pair
            ok, bad = ratio_verdicts(
                np.array([log_ratio]),
                sd,
                (np.array([lo_g]), np.array([up_g]), np.array([lo_r]), np.array([up_r])),
                np.array([few]),
                np.array([boot]),
                z=z,
                tolerance=design.ratio_tolerance,
            )
            results.append((bool(ok[0]), bool(bad[0])))
        if verdict == "pass":
            hits += all(ok for ok, _ in results)
        else:
            hits += any(bad for _, bad in results)
    return hits / replicates


def fnmr_approximate(design: PairDesign, people: int, verdict: str, rate: float, ratio: float, icc: float) -> float:
    """Normal approximation of :func:`fnmr_power` (the start of its search): log ratio normal, no widening."""
    from scipy.special import ndtr, ndtri

    distinct = design.photos * (design.photos - 1) // 2
    if people < design.min_subjects or distinct < 1:
        return 0.0
    _, alpha = _bonferroni(design.confidence, design.groups)
    z = float(-ndtri(alpha))
    high = rate * ratio

    def log_var(r: float) -> float:
        return (1.0 + (distinct - 1) * icc) * (1.0 - r) / (people * distinct * r)

    sd = math.sqrt(log_var(rate) + log_var(high))
    edge, centre = math.log(design.ratio_tolerance), math.log(ratio)
    if verdict == "pass":
        margin = edge - z * sd
        if margin <= 0:
            return 0.0
        one = float(ndtr((margin - centre) / sd) - ndtr((-margin - centre) / sd))
        return one ** max(1, design.groups - 1) if design.groups > 2 else one
    return float(ndtr((centre - edge - z * sd) / sd))


def counts_note(design: PairDesign, people: int, ratio: float) -> str:
    """Expected false matches a group at ``people``: below 30 the check widens its intervals."""
    base = ScoreModel(design.groups, people, design.photos, design.sd, (0.0,) * design.groups, 0.0, design.same_group)
    model = (
        calibrated(base, design.target, design.pool)
        if ratio == 1.0
        else fail_model(base, design.target, design.pool, ratio)
    )
    expected = [model.fmr(g) * model.comparisons(g) for g in range(design.groups)]
    return ", ".join(f"{e:,.0f}" for e in expected)


def expected_fmrs(design: PairDesign, people: int, ratio: float) -> Sequence[float]:
    """Each group's FMR in the scenario (the reference first), at its calibrated threshold."""
    base = ScoreModel(design.groups, people, design.photos, design.sd, (0.0,) * design.groups, 0.0, design.same_group)
    model = (
        calibrated(base, design.target, design.pool)
        if ratio == 1.0
        else fail_model(base, design.target, design.pool, ratio)
    )
    return [model.fmr(g) for g in range(design.groups)]


# ---------------------------------------------------------------------------------------------------------
# The plans of the 1:1 checks, in the planner's terms (conformance.planning.CheckPlan).
# ---------------------------------------------------------------------------------------------------------

_FMR_UNIT = (
    "impostor comparisons (every photo against every photo of another person, both orders), clustered by both people"
)
_FNMR_UNIT = "genuine comparisons (every ordered pair of a person's own photos), clustered by person"
_CALLS = (
    "calls: one template (embedding) a photo, photos x people x groups; a vendor's 1:1 API (CompareFaces) would "
    "need one call a pair instead"
)


def fail_ratio(inputs: Any) -> float:
    """The fail scenario's true ratio: ``--fail-ratio``, else the ratio tolerance to the power ``--gap-multiple``."""
    tolerance = inputs.policy.ratio_tolerance
    ratio = inputs.fail_ratio if inputs.fail_ratio is not None else tolerance**inputs.gap_multiple
    if not ratio > tolerance:
        raise PairPlanError(
            f"the fail scenario's ratio {ratio:g} must lie above the ratio tolerance {tolerance:g}: give --fail-ratio "
            "or --gap-multiple"
        )
    return float(ratio)


def pair_design(inputs: Any) -> tuple[PairDesign, tuple[str, ...]]:
    """The 1:1 design the inputs describe, and what was assumed to get it."""
    policy = inputs.policy
    icc = DEFAULT_IMPOSTOR_ICC if inputs.impostor_icc is None else inputs.impostor_icc
    notes = [
        "scores modelled as a person effect of each side plus the comparison's own noise (two-way Gaussian model); "
        + (
            f"impostor ICC {icc:g} ASSUMED (two impostor scores sharing a person correlate so much; give "
            "--impostor-icc: people who false-match far more than others need more people)"
            if inputs.impostor_icc is None
            else f"impostor ICC {icc:g} (--impostor-icc)"
        )
    ]
    if inputs.photo_counts:
        notes.append(
            f"people's photo counts vary; planned at {inputs.photos_per_person} photos a person, their rounded mean"
        )
    design = PairDesign(
        groups=len(inputs.groups),
        photos=inputs.photos_per_person,
        target=policy.target_fmr[0],
        pool="reference" if policy.fmr_calibration == "reference" else "overall",
        same_group=policy.impostors == "same_group",
        ratio_tolerance=policy.ratio_tolerance,
        confidence=policy.confidence,
        method=policy.interval,
        min_subjects=policy.min_subjects,
        sd=impostor_sd(icc),
        seed=inputs.simulation.seed,
    )
    return design, tuple(notes)


def _gap_note(inputs: Any) -> tuple[str, ...]:
    if inputs.gap is not None and inputs.fail_ratio is None:
        return ("--gap is an absolute gap: a ratio check's fail scenario is --fail-ratio (or --gap-multiple)",)
    return ()


def plan_false_match_differential(inputs: Any) -> Any:
    """false_match_differential: people a group for each verdict direction, on the two-way approximation."""
    from .planning import CheckPlan, DirectionPlan, people_needed

    check = "false_match_differential"
    design, assumed = pair_design(inputs)
    ratio = fail_ratio(inputs)
    least = max(
        design.min_subjects,
        2,
        rule_of_three_people(
            design.target,
            design.groups,
            design.photos,
            same_group=design.same_group,
            reference_pool=design.pool == "reference",
        ),
    )
    notes = [
        *assumed,
        f"threshold fixed where the {'reference group' if design.pool == 'reference' else 'pool'}'s FMR is "
        f"{design.target:g} (the first target_fmr), in-sample; at least {least} people a group for the rule of three "
        f"(3/FMR people-pairs and comparisons)",
        *_gap_note(inputs),
        _CALLS,
    ]
    directions = []
    for verdict, true_ratio in (("pass", 1.0), ("fail", ratio)):
        found = people_needed(lambda k, v=verdict, r=true_ratio: fmr_power(design, k, v, r), inputs.power, least=least)
        if found is None:
            directions.append(
                DirectionPlan(verdict, 0.0, None, None, "no number of people up to 10 million reaches the power")
            )
            continue
        people, power = found
        fmrs = expected_fmrs(design, people, true_ratio)
        expected = counts_note(design, people, true_ratio)
        note = f"expected false matches a group at {people} people: {expected}" + (
            f" (fewer than {FEW_ERRORS} somewhere: the check widens its interval to the ratio of the groups' bounds)"
            if any(float(e.replace(",", "")) < FEW_ERRORS for e in expected.split(", "))
            else ""
        )
        directions.append(
            DirectionPlan(
                verdict,
                round(fmrs[-1] - fmrs[0], 8),
                people,
                round(power, 4),
                note,
                {"true_ratio": true_ratio, "fmr": [round(f, 8) for f in fmrs]},
            )
        )
    return CheckPlan(
        check,
        _FMR_UNIT,
        design.ratio_tolerance,
        design.target,
        design.photos,
        inputs.icc,
        inputs.groups,
        tuple(directions),
        float(design.photos),
        "two-way approximation: people drawn from the score model, their influence on every group's rate and on "
        "the bootstrap worked out, the check's rules applied (not a run of the check: benchmarks/plan_power.py "
        "compares the two)",
        tuple(notes),
    )


def plan_false_non_match_differential(inputs: Any) -> Any:
    """false_non_match_differential: people a group, simulated through the check's group reading."""
    from .planning import CheckPlan, DirectionPlan, _calibrated_people, _direction, _method

    check = "false_non_match_differential"
    design, assumed = pair_design(inputs)
    rate = inputs.rates[check]
    ratio = fail_ratio(inputs)
    notes = [
        f"FNMR at the threshold fixed to FMR {design.target:g}; people's misses beta-binomial over their "
        f"{design.photos * (design.photos - 1) // 2} distinct genuine pairs (ICC {inputs.icc:g})",
        *assumed[1:],
        *_gap_note(inputs),
        _CALLS,
    ]
    if design.photos < 2:
        plans = tuple(
            DirectionPlan(v, 0.0, None, None, "needs 2 or more photos a person (genuine comparisons)")
            for v in ("pass", "fail")
        )
        return CheckPlan(
            check,
            _FNMR_UNIT,
            design.ratio_tolerance,
            rate,
            design.photos,
            inputs.icc,
            inputs.groups,
            plans,
            float(design.photos),
            "not applicable with one photo a person",
            ("give --photos-per-person 2 or more",),
        )
    if rate * ratio > 1.0 or rate <= 0.0:
        raise PairPlanError(
            f"{check}: the fail scenario's FNMR {rate:g} x {ratio:g} must lie within (0, 1]: give a lower "
            "--reference-rate or --fail-ratio"
        )
    sim = inputs.simulation
    found = []
    for verdict, true_ratio in (("pass", 1.0), ("fail", ratio)):
        found.append(
            _calibrated_people(
                lambda k, v=verdict, r=true_ratio: fnmr_approximate(design, k, v, rate, r, inputs.icc),
                lambda k, fresh=0, v=verdict, r=true_ratio: fnmr_power(
                    design, k, v, rate, r, inputs.icc, replicates=sim.replicates, fresh=fresh
                ),
                inputs.power,
                least=design.min_subjects,
                simulation=sim,
            )
        )
    pass_plan, how_pass = _direction("pass", 0.0, found[0])
    fail_plan, how_fail = _direction("fail", rate * ratio - rate, found[1])
    from dataclasses import replace

    pass_plan = replace(pass_plan, extra={"true_ratio": 1.0})
    fail_plan = replace(fail_plan, extra={"true_ratio": ratio})
    return CheckPlan(
        check,
        _FNMR_UNIT,
        design.ratio_tolerance,
        rate,
        design.photos,
        inputs.icc,
        inputs.groups,
        (pass_plan, fail_plan),
        float(design.photos),
        _method(how_pass, how_fail),
        tuple(notes),
    )


def plan_equitability(inputs: Any) -> Any:
    """equitability: pass needs both ratios and failure_to_acquire_gap to pass; fail, a ratio to fail."""
    from .planning import CheckPlan, DirectionPlan, _calibrated_people, _direction, _gap_design, _method, people_needed

    check = "equitability"
    design, assumed = pair_design(inputs)
    rate = inputs.rates.get("false_non_match_differential", inputs.rates.get(check, 0.05))
    ratio = fail_ratio(inputs)
    fta = _gap_design(inputs, "failure_to_acquire_gap", 0.0, design.photos, design.groups)
    least = max(
        design.min_subjects,
        2,
        rule_of_three_people(
            design.target,
            design.groups,
            design.photos,
            same_group=design.same_group,
            reference_pool=design.pool == "reference",
        ),
    )
    sim = inputs.simulation
    notes = [
        "pass: false_match_differential, false_non_match_differential (at the binding threshold) and "
        "failure_to_acquire_gap all pass, their powers multiplied (taken as independent); fail: the FMR ratio fails "
        "(the fail scenario's group false-matches more)",
        f"FNMR {rate:g} in every group; failure to acquire assumed 0 (every photo gets a template): "
        f"failure_to_acquire_gap then passes once each group's people bound it within "
        f"{fta.tolerance:g}; plan failure_to_acquire_gap for a rate of your own",
        *assumed,
        *_gap_note(inputs),
        _CALLS,
    ]
    if design.photos < 2:
        pass_plan = DirectionPlan(
            "pass", 0.0, None, None, "cannot pass with one photo a person: FNMR has no genuine comparisons"
        )
        how_pass = ""
    else:
        found = _calibrated_people(
            lambda k: (
                fmr_power(design, k, "pass")
                * fnmr_approximate(design, k, "pass", rate, 1.0, inputs.icc)
                * fta.pass_power(k)
            ),
            lambda k, fresh=0: (
                fmr_power(design, k, "pass")
                * fnmr_power(design, k, "pass", rate, 1.0, inputs.icc, replicates=sim.replicates, fresh=fresh)
                * fta.pass_power(k)
            ),
            inputs.power,
            least=least,
            simulation=sim,
        )
        pass_plan, how_pass = _direction("pass", 0.0, found)
    fail_found = people_needed(lambda k: fmr_power(design, k, "fail", ratio), inputs.power, least=least)
    fail_plan, how_fail = _direction(
        "fail",
        0.0,
        None if fail_found is None else (fail_found[0], fail_found[1], "two-way approximation"),
    )
    from dataclasses import replace

    pass_plan = replace(pass_plan, extra={"true_ratio": 1.0})
    fail_plan = replace(fail_plan, extra={"true_ratio": ratio})
    return CheckPlan(
        check,
        "the binding threshold's FMR and FNMR ratios and failure to acquire",
        design.ratio_tolerance,
        design.target,
        design.photos,
        inputs.icc,
        inputs.groups,
        (pass_plan, fail_plan),
        float(design.photos),
        _method(how_pass, how_fail)
        + "; FMR by the two-way approximation, failure to acquire by the normal approximation",
        tuple(notes),
    )
