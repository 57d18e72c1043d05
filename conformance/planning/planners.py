"""The plan of each check: what the planner is told, and people and photos per group in each direction.

:func:`plan_check` dispatches: the rate checks (a rate of photos, probes or transformations
clustered by person, and ``same_person_consistency``'s share of pairs) to :func:`_plan_gap_check`,
``nonbinary_representability`` (one group against an absolute tolerance), ``confidence_calibration``
(a mean, Welch limits), and the 1:1 comparison checks to :mod:`.pairs`. Each size is the normal
approximation's, moved until the simulation (:mod:`.simulation`) reaches the power.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .. import stats
from ..checks.check_ids import SEARCH_CHECKS
from . import simulation
from .price import DEFAULT_PRICE as DEFAULT_PRICE  # re-exported: its import path before the split
from .price import Price as Price
from .simulation import (
    Simulation,
    _calibrated_people,
    simulated_calibration_power,
    simulated_rate_power,
)
from .sizes import (
    DirectionPlan,
    GapDesign,
    PlanError,
    _bounds,
    _counts_shown,
    _range_within,
    counts_shares,
)

if TYPE_CHECKING:
    from ..policy import Policy


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


# The 1:1 comparison checks' ratios are planned in .pairs (their own statistics).
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
    simulation: Simulation = field(default_factory=Simulation)
    sources: tuple[str, ...] = ()  # where the figures came from, said in the output
    # 1:1 checks: how alike two impostor scores sharing a person are (None: assumed, pairs_model.DEFAULT_IMPOSTOR_ICC),
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
    # Why the check cannot be planned with this design, and what it needs instead (:func:`needs_two_photos`).
    cannot_plan: Mapping[str, Any] = field(default_factory=dict)

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
            **({"cannot_plan": dict(self.cannot_plan)} if self.cannot_plan else {}),
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
        method="clopper-pearson" if check in SEARCH_CHECKS else inputs.policy.interval,
        direction=inputs.policy.direction,
        min_subjects=inputs.policy.min_subjects,
        # transformation_invariance: one photo a person transformed, whatever the counts
        counts=inputs.photo_counts if check != "transformation_invariance" else (),
    )


def policy_levels(policy: Policy) -> tuple[float, float]:
    """(alpha_pass, alpha_fail) as the checks state them."""
    from ..checks._compare import error_rates

    return error_rates(policy)


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


def needs_two_photos(check: str, inputs: PlanInputs, plan: Callable[[PlanInputs], CheckPlan], why: str) -> CheckPlan:
    """The plan of a check that reads only people with two or more photos, when everyone has one.

    No size in either direction (never a verdict "at a true gap of 0" for a check that reads no one), the
    reason, and what the check needs instead: the same design at 2 photos a person, by the normal
    approximation (instant; the simulated size is a plan at ``--photos-per-person 2`` away).
    """
    two = plan(
        replace(inputs, photos_per_person=2, photo_counts=(), simulation=replace(inputs.simulation, replicates=0))
    )
    scenarios = "; ".join(
        f"{d.verdict} at {_scenario_words(d)}: {'-' if d.people_per_group is None else f'{d.people_per_group:,}'}"
        for d in two.directions
    )
    needed = two.people_per_group
    reason = (
        f"cannot be planned with 1 photo a person: {why}. It needs at least 2 photos a person; with 2 (ICC "
        f"{inputs.icc:g}) about {'-' if needed is None else f'{needed:,}'} people a group ({scenarios}; normal "
        "approximation: plan with --photos-per-person 2 for the simulated size, and --icc for how alike a person's "
        "photos are)"
    )
    return CheckPlan(
        check,
        two.unit,
        two.tolerance,
        two.reference_rate,
        1,
        inputs.icc,
        two.groups,
        tuple(
            replace(d, people_per_group=None, power=None, note="needs 2 or more photos a person")
            for d in two.directions
        ),
        1.0,
        "cannot be planned with 1 photo a person",
        (),
        (),
        {
            "reason": reason,
            "photos_per_person_needed": 2,
            "at_2_photos": {
                "people_per_group": needed,
                "directions": [d.to_json() for d in two.directions],
                "method": two.method,
            },
        },
    )


def _scenario_words(direction: DirectionPlan) -> str:
    """``a true gap of 0.15``, or a 1:1 check's ``a true ratio of 8``."""
    if "true_ratio" in direction.extra:
        return f"a true ratio of {direction.extra['true_ratio']:g}"
    return f"a true gap of {direction.true_gap:g}"


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
    elif check in SEARCH_CHECKS:
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
            return needs_two_photos(
                check,
                inputs,
                lambda two: _plan_gap_check(check, two),
                "a person with one photo cannot be labelled differently across photos, so the check reads no one",
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
        return pair_rate(base, inputs.icc) if share else base

    if share:
        low_q, high_q = sim_rates(low), sim_rates(high)
    else:
        low_q, high_q = low, high
    pass_found = _calibrated_people(
        approx_pass,
        lambda k, fresh=0: simulation.simulated_power(
            design, k, [sim_rates(rate)] * groups, "pass", sim, measure, fresh
        ),
        inputs.power,
        least=policy.min_subjects,
        simulation=sim,
    )
    fail_found = _calibrated_people(
        approx_fail,
        lambda k, fresh=0: simulation.simulated_power(
            design, k, [low_q] * (groups - 1) + [high_q], "fail", sim, measure, fresh
        ),
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


def pair_rate(share: float, icc: float) -> float:
    """The per-photo rate whose expected share of pairs labelled differently is ``share``.

    A pair of a person's photos is labelled differently with probability ``2 q (1 - q) (1 - icc)``
    for a person-level rate around ``q`` with intraclass correlation ``icc``; solved for ``q``.
    """
    top = 0.5 * (1.0 - icc)
    if share > top:
        raise PlanError(
            f"same_person_consistency: a share of {share:g} of pairs labelled differently is out of reach at ICC "
            f"{icc:g} (at most {top:g}); lower --icc or the rate"
        )
    return 0.5 * (1.0 - math.sqrt(1.0 - 2.0 * share / (1.0 - icc)))


def consistency_power(inputs: PlanInputs, people: int) -> tuple[float, float]:
    """(power to pass, power to fail) of same_person_consistency at ``people`` a group, all with 2+ photos.

    The check reads only people with two or more photos, one unit a person (their share of photo
    pairs labelled differently): ``people`` counts those, and ``inputs``' photo counts are theirs.
    Simulated as the plan simulates it (:func:`.simulation.simulated_power`, measure ``pair_share``);
    with ``--replicates 0`` or beyond the simulation's limit, the one-unit-a-person approximation.
    """
    check = "same_person_consistency"
    tolerance = inputs.policy.tolerance_for(check)
    rate = inputs.rates[check]
    groups = len(inputs.groups)
    design = _gap_design(inputs, check, rate, inputs.photos_per_person, groups)
    gap = _fail_gap(inputs, tolerance)
    low, high = (rate, rate + gap) if rate + gap <= 1.0 else (1.0 - gap, 1.0)
    sim = inputs.simulation
    if sim.replicates <= 0 or people > simulation.SIMULATION_LIMIT:
        unit = _one_unit(design)
        return unit.pass_power(people), unit.fail_power(people, gap)
    icc = inputs.icc
    return (
        simulation.simulated_power(design, people, [pair_rate(rate, icc)] * groups, "pass", sim, "pair_share"),
        simulation.simulated_power(
            design, people, [pair_rate(low, icc)] * (groups - 1) + [pair_rate(high, icc)], "fail", sim, "pair_share"
        ),
    )


def _one_unit(design: GapDesign) -> GapDesign:

    return replace(design, photos=1, icc=0.0, counts=())


def _plan_representability(inputs: PlanInputs) -> CheckPlan:
    check = "nonbinary_representability"
    policy = inputs.policy
    tolerance = policy.tolerance_for(check)
    alpha_pass, alpha_fail = policy_levels(policy)
    gap = min(_fail_gap(inputs, tolerance), 1.0)
    if gap <= tolerance:
        # As for the other checks: no number of people fails a share at the tolerance (searched to 10 million).
        raise PlanError(
            f"{check}: the fail scenario's share {gap:g} must lie above the tolerance {tolerance:g}; give --gap or "
            "--gap-multiple"
        )
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


def plan_check(check: str, inputs: PlanInputs) -> CheckPlan:
    """The plan of one check (see the module docstring)."""
    if check in _PAIR_PLANS:
        from . import pairs

        planner: Any = getattr(pairs, _PAIR_PLANS[check])
        plan: CheckPlan = planner(inputs)
        return plan
    if check == "nonbinary_representability":
        return _plan_representability(inputs)
    if check == "confidence_calibration":
        return _plan_calibration(inputs)
    if check in _COUNT_CHECKS or check == "same_person_consistency":
        return _plan_gap_check(check, inputs)
    raise PlanError(f"unknown check {check!r}")
