"""The power of the 1:1 checks' verdicts at a size: FMR ratios by drawing people, FNMR ratios by simulation.

:func:`fmr_power` draws people from the score model (:mod:`.pairs_model`), adds the people-pairs'
and comparisons' own noise (normal, of the variance they leave), re-fixes the threshold to each
draw (a shock common to every group moves the threshold, not the counts) and applies the check's
rules: the two-way bootstrap's variance (the people's spread as drawn plus three times the pairs',
Owen 2007), each group's bounds (Clopper-Pearson on its two-way effective size, with degrees of
freedom from the people's influences as drawn, and on its distinct people-pairs), the widening
below 30 errors. An approximation, not a run of the check: ``benchmarks/plan_power.py`` runs the
real check on designs drawn from the model and shows how close it comes.

:func:`fnmr_power` reads each group's FNMR over its people's genuine comparisons (``m (m - 1)``
ordered, each distinct pair twice), clustered by person: simulated as the rate checks are (people
with beta-distributed miss rates, ICC ``icc``, read by ``stats.clustered_rate`` and
``stats.rate_interval`` as the check reads them), the percentile interval of the ratio taken as
the normal one of the clustered variances.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import stats
from .._defaults import numpy_seed
from .pairs_model import (
    FEW_ERRORS,
    ScoreModel,
    _adjusted,
    _bonferroni,
    _root,
    calibrated,
    fail_model,
    log_rates,
    ratio_verdicts,
)
from .simulation import person_rates

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# Draws of the approximate sampling distribution a size (seeded; common to every size, so power rises with it).
_DRAWS = 20_000

# People are drawn one by one up to this many a group (above it their sum is close to normal), in draws of at
# most this many cells (people x draws) a group.
_PEOPLE_DRAWN = 5_000

_PEOPLE_CELLS = 2_000_000


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
    resamples: int = 2000  # the check's two-way bootstrap resamples (policy.bootstrap)


def fmr_power(
    design: PairDesign, people: int, verdict: str, ratio: float = 1.0, *, most_draws: int | None = None
) -> float:
    """Approximate probability of ``verdict`` for false_match_differential at ``people`` a group.

    ``ratio``: the last group's true FMR over the reference's (1: every group alike). ``most_draws``:
    at most so many draws of the approximate sampling distribution (fewer where it only proposes sizes
    for the simulation to judge: the search asks for dozens of sizes).
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
    rng = np.random.default_rng([numpy_seed(design.seed), 1, design.groups])
    G = design.groups
    pairs_root = _root(rates.pairs)
    if design.sd > 0 and people <= _PEOPLE_DRAWN:
        # People drawn: each person's influence on every group's FMR (the Hajek projection) read off the grid,
        # so that a few people who false-match far more than the rest move a group's rate and the bootstrap's
        # variance together, as they do in the check; people-pairs and comparisons add normal noise.
        draws = max(200, min(_DRAWS // 10, _PEOPLE_CELLS // people, most_draws or _DRAWS))
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
        draws = min(_DRAWS, most_draws or _DRAWS)
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
            n_adj = stats.adjusted_n_many(effective, float(rates.floor[g]), df_draws[g], alpha)
        else:
            n_adj = np.full(
                draws, _adjusted(float(rates.effective[g]), float(rates.floor[g]), float(rates.df[g]), alpha)
            )
        low, high = stats.score_limits(estimate[:, g] * n_adj, n_adj, alpha, design.method)
        units = min(float(rates.comparisons[g]), float(rates.people_pairs[g]))
        pair_low, pair_high = stats.score_limits(counts[:, g] * units / rates.comparisons[g], units, alpha)
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
        boot = (counts[:, g] > 0) & (counts[:, 0] > 0)
        # The log ratio only where both groups have false matches: log(0) - log(0) was nan, and numpy warned.
        log_ratio = np.zeros(draws)
        log_ratio[boot] = np.log(counts[boot, g] / rates.comparisons[g]) - np.log(
            counts[boot, 0] / rates.comparisons[0]
        )
        few = np.minimum(counts[:, g], counts[:, 0]) < FEW_ERRORS
        ok, bad = ratio_verdicts(
            log_ratio,
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
    interval is the two-way bootstrap's percentile interval (people resampled within their group,
    ``policy.bootstrap`` times), widened to the ratio of the groups' bounds below 30 misses, as the
    check builds it. (Taken as the normal interval of the clustered variances, it promised 0.817 to
    pass at 5 photos a person where the check gave 0.763.)
    """
    import numpy as np

    distinct = design.photos * (design.photos - 1) // 2
    if people < design.min_subjects or distinct < 1 or replicates <= 0:
        return 0.0
    level, _ = _bonferroni(design.confidence, design.groups)
    rates = [rate] * (design.groups - 1) + [rate * ratio]
    rng = np.random.default_rng([numpy_seed(design.seed), people, design.groups, fresh, 11])
    hits = 0
    for _ in range(replicates):
        reads, boots = [], []
        for r in rates:
            own = person_rates(rng, r, icc, people)
            misses = rng.binomial(distinct, own)
            # The check counts both orders of each genuine pair (a person's misses and comparisons, doubled).
            reads.append(stats.clustered_rate(2.0 * misses, np.full(people, 2.0 * distinct)))
            boots.append(_resampled_rate(rng, misses, distinct, design.resamples))
        results = []
        ref = reads[0]
        lo_r, up_r = stats.rate_interval(ref, level, design.method)
        for read, boot in zip(reads[1:], boots[1:], strict=True):
            lo_g, up_g = stats.rate_interval(read, level, design.method)
            both = 0 < read.count < read.n and 0 < ref.count < ref.n
            verdict_here = _ratio_verdict(
                boot if both else None,
                boots[0],
                (lo_g, up_g),
                (lo_r, up_r),
                few=min(read.count, ref.count) < FEW_ERRORS,
                level=level,
                tolerance=design.ratio_tolerance,
            )
            results.append(verdict_here)
        if verdict == "pass":
            hits += all(v == "pass" for v in results)
        else:
            hits += any(v == "fail" for v in results)
    return hits / replicates


def _resampled_rate(rng: Any, misses: Any, distinct: int, resamples: int) -> Any:
    """The two-way bootstrap's resamples of a group's FNMR: its people drawn with replacement, ``resamples`` times.

    A person's misses take one of ``distinct + 1`` values, so a resample is a multinomial draw of how many
    people of each value it holds: the same distribution as drawing the people one by one, at a fraction
    of the cost.
    """
    import numpy as np

    people = misses.size
    values = np.arange(distinct + 1)
    shares = np.bincount(misses, minlength=distinct + 1) / people
    drawn = rng.multinomial(people, shares, size=resamples)
    return (drawn @ values) / (people * distinct)


def _ratio_verdict(
    boot: Any,
    boot_reference: Any,
    bounds: tuple[float, float],
    reference_bounds: tuple[float, float],
    *,
    few: bool,
    level: float,
    tolerance: float,
) -> str:
    """A ratio decided as the check decides it: the bootstrap's percentile interval, widened to the ratio of the
    groups' bounds below 30 errors, or that ratio alone without a bootstrap interval."""
    import numpy as np

    from ..checks.biometrics import ratio_verdict

    boot_ci = None
    if boot is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios = boot / boot_reference
        kept = ratios[~np.isnan(ratios)]
        if kept.size and 2 * kept.size >= ratios.size:
            tail = (1 - level) / 2
            low, high = np.quantile(kept, [tail, 1 - tail], method="inverted_cdf")
            boot_ci = (float(low), float(high))
    lo_g, up_g = bounds
    lo_r, up_r = reference_bounds
    bounds_ci = (lo_g / up_r if up_r > 0 else math.nan, up_g / lo_r if lo_r > 0 else math.inf)
    if boot_ci is not None and not few:
        ci = boot_ci
    elif boot_ci is not None:
        ci = (min(boot_ci[0], bounds_ci[0]), max(boot_ci[1], bounds_ci[1]))
    else:
        ci = bounds_ci
    return ratio_verdict(ci, tolerance)


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
