"""The promised power, by simulation through the kit's own interval functions.

The normal approximations of :mod:`.sizes` find the neighbourhood of the answer quickly, but near
rates of 0 and with few people carrying the events the check's intervals are neither normal nor of
a fixed width (the effective size and its degrees of freedom are estimated from the data, and a
group with no event falls back to its people). So the size the planner states, and the power it
promises there, come from drawing the planned design many times (people with their own
beta-distributed rates, as in benchmarks/verdict_error_rates.py) and reading each draw with the
functions the checks call: ``stats.clustered_rate`` for each group, ``stats.gap_bounds`` for each
comparison. Pass: every comparison's interval within the tolerance at ``alpha_pass``. Fail: Holm
rejects when its smallest p-value (twice the smaller one-sided one) is at most ``alpha_fail / m``,
that is when some comparison's bound at the one-sided level ``alpha_fail / 2m`` lies beyond the
tolerance (a check's one-sided p-value is the level at which its interval crosses the tolerance).
Seeded: the same plan every time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import stats
from .._defaults import numpy_seed
from .sizes import GapDesign, _count_table, people_needed

# Above this many people a group the planner does not simulate: each draw's cost grows with the people
# (--tolerance 0.001 asked for about a million, and 2,000 draws of them ran for hours), and at such sizes the
# limits are close to normal, where the approximation is what the simulation would confirm. Said in the plan.
SIMULATION_LIMIT = 20_000


@dataclass(frozen=True)
class Simulation:
    """How the planner's promise is computed: ``replicates`` draws a size, seeded with ``seed``; 0: approximation only."""

    replicates: int = 2000
    seed: int = 20261121


def person_rates(rng: Any, rate: float, icc: float, people: int) -> Any:
    """Each person's own rate: beta-distributed around ``rate`` with intraclass correlation ``icc``.

    At ICC 0 everyone's is ``rate``; at ICC 1 a person's photos are all alike, so a person's rate is 0 or 1
    (1 with probability ``rate``): the beta distribution's limit, which numpy's beta cannot draw (its
    parameters are 0 there).
    """
    import numpy as np

    if icc <= 0.0 or rate in (0.0, 1.0):
        return np.full(people, rate)
    if icc >= 1.0:
        return (rng.random(people) < rate).astype(np.float64)
    spread = (1.0 - icc) / icc
    return rng.beta(rate * spread, (1.0 - rate) * spread, size=people)


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

    own = person_rates(rng, rate, icc, people)
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
    rng = np.random.default_rng([numpy_seed(simulation.seed), people, len(rates), fresh])
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


def simulated_sequential(
    design: GapDesign,
    people: int,
    rates: Sequence[float],
    looks: Sequence[tuple[float, float] | None],
    simulation: Simulation,
    measure: str = "count",
) -> tuple[float, float, float]:
    """(expected people sent a group, P(pass), P(fail)) of a ``--sequential`` run on ``people`` a group.

    ``looks``: each look's (alpha_pass, alpha_fail), as the checks state them under that look's policy,
    or None for a look ``run --sequential`` does not take (its share of the error carried on). Each draw
    takes ``people`` a group, drawn as :func:`simulated_power` draws them; look ``k`` of ``K`` reads the
    first ``ceil(k / K * people)`` of each group (the draws are independent of their order, as the run's
    keyed order is of the outcomes) with the same functions and rules as :func:`simulated_power` at
    that look's levels, and the run stops at the first look whose verdict is pass or fail. Photo counts
    that vary are drawn per person without the run's split of people with one photo from those with more,
    except for ``pair_share``, whose units (people with two or more photos, a stratum of their own in the
    run) look ``k`` reads ``ceil(k / K)`` of. A look where a group has fewer than ``min_subjects`` units
    cannot settle, as in the checks.
    """
    import numpy as np

    rng = np.random.default_rng([numpy_seed(simulation.seed), people, len(rates), 0, 19])
    pairs = _pairs(len(rates), design.direction)
    count = len(looks)
    sizes = [math.ceil(k / count * people) for k in range(1, count + 1)]
    sent = passes = fails = 0.0
    for _ in range(simulation.replicates):
        drawn = [_person_sums(rng, rate, people, design.photos, design.icc, measure, design.counts) for rate in rates]
        stop, verdict = people, ""
        for k, (size, levels) in enumerate(zip(sizes, looks, strict=True), start=1):
            # each group's units read at this look: the people sent, or (pair_share) their stratum's share
            units = [size if measure != "pair_share" else math.ceil(k / count * len(num)) for num, _ in drawn]
            if levels is None or min(units) < design.min_subjects:
                continue
            alpha_pass, alpha_fail = levels
            reads = [stats.clustered_rate(num[:n], den[:n]) for (num, den), n in zip(drawn, units, strict=True)]
            level = alpha_fail / (2 * len(pairs))
            fail = [stats.gap_bounds(reads[a], reads[b], level, design.method) for a, b in pairs]
            if any(low > design.tolerance or high < -design.tolerance for low, high in fail):
                stop, verdict = size, "fail"
                break
            bounds = [stats.gap_bounds(reads[a], reads[b], alpha_pass, design.method) for a, b in pairs]
            if all(-design.tolerance <= low and high <= design.tolerance for low, high in bounds):
                stop, verdict = size, "pass"
                break
        sent += stop
        passes += verdict == "pass"
        fails += verdict == "fail"
    n = max(simulation.replicates, 1)
    return sent / n, passes / n, fails / n


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
    rng = np.random.default_rng([numpy_seed(simulation.seed), people, 1, fresh])
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
    own = person_rates(rng, wrong, icc, people)
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
    rng = np.random.default_rng([numpy_seed(simulation.seed), people, len(shifts), fresh, 7])
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


def _beyond_simulation(people: int) -> str:
    return (
        f"normal approximation, not simulated: {people:,} people a group is beyond the {SIMULATION_LIMIT:,} the "
        "planner draws (at such sizes the limits are close to normal)"
    )
