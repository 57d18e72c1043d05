"""The plans of the 1:1 comparison checks, in the planner's terms (:class:`.planners.CheckPlan`).

``false_match_differential`` by the two-way approximation (:mod:`.pairs_power`),
``false_non_match_differential`` by simulation, ``equitability`` as the three checks it is the
worst of: it passes when both ratios and ``failure_to_acquire_gap`` pass, and fails when a ratio
fails.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from .pairs_model import DEFAULT_IMPOSTOR_ICC, FEW_ERRORS, PairPlanError, impostor_sd, rule_of_three_people
from .pairs_power import PairDesign, counts_note, expected_fmrs, fmr_power, fnmr_approximate, fnmr_power
from .pairs_sim import FMR_DRAWS, SEARCH_DRAWS, SEARCH_RESAMPLES, simulated_fmr_power
from .planners import CheckPlan, _direction, _gap_design, _method, needs_two_photos
from .simulation import _calibrated_people
from .sizes import DirectionPlan, people_needed

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
        resamples=policy.bootstrap,
    )
    return design, tuple(notes)


def least_people(design: PairDesign) -> int:
    """The fewest people a group a 1:1 plan considers: min_subjects, and what fixing the threshold needs (rule of three)."""
    return max(
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


def _gap_note(inputs: Any) -> tuple[str, ...]:
    if inputs.gap is not None and inputs.fail_ratio is None:
        return ("--gap is an absolute gap: a ratio check's fail scenario is --fail-ratio (or --gap-multiple)",)
    return ()


def plan_false_match_differential(inputs: Any) -> Any:
    """false_match_differential: people a group for each verdict direction, on the two-way approximation."""

    check = "false_match_differential"
    design, assumed = pair_design(inputs)
    ratio = fail_ratio(inputs)
    least = least_people(design)
    notes = [
        *assumed,
        f"threshold fixed where the {'reference group' if design.pool == 'reference' else 'pool'}'s FMR is "
        f"{design.target:g} (the first target_fmr), in-sample; at least {least} people a group for the rule of three "
        f"(3/FMR people-pairs and comparisons)",
        *_gap_note(inputs),
        _CALLS,
    ]
    directions: list[DirectionPlan] = []
    hows: list[str] = []
    sim = inputs.simulation
    for verdict, true_ratio in (("pass", 1.0), ("fail", ratio)):
        found = _fmr_people(design, verdict, true_ratio, inputs.power, least, sim)
        if found is None:
            directions.append(
                DirectionPlan(verdict, 0.0, None, None, "no number of people up to 10 million reaches the power")
            )
            continue
        people, power, how = found
        hows.append(how)
        fmrs = expected_fmrs(design, people, true_ratio)
        expected = counts_note(design, people, true_ratio)
        note = f"expected false matches a group at {people} people: {expected}" + (
            f" (fewer than {FEW_ERRORS} somewhere: the check widens its interval to the ratio of the groups' bounds)"
            if any(float(e.replace(",", "")) < FEW_ERRORS for e in expected.split(", "))
            else ""
        )
        if how.startswith("normal approximation, not simulated"):
            note = f"{how.replace('normal approximation', 'two-way approximation')}; {note}"
        elif how.startswith("simulated"):
            draws = min(sim.replicates, FMR_DRAWS)
            se = math.sqrt(power * (1.0 - power) / draws)
            note = f"power {power:.3f} from {draws} draws, Monte Carlo standard error {se:.3f}; {note}"
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
        _fmr_method(hows),
        tuple(notes),
    )


# Draws of the two-way approximation a size when it only proposes sizes to the simulation (the approximation's
# own plan, --replicates 0, keeps all of them): it was asked for about 40 sizes, two thirds of the planner's time.
SEARCH_APPROXIMATION = 400


def _fmr_people(
    design: PairDesign, verdict: str, ratio: float, target: float, least: int, sim: Any
) -> tuple[int, float, str] | None:
    """People a group for false_match_differential's ``verdict``: searched cheaply, confirmed as the check reads it.

    The search (:func:`.simulation._calibrated_people` on ``SEARCH_DRAWS`` draws of ``SEARCH_RESAMPLES``
    bootstrap resamples, aiming a search standard error above the target so that its noise rarely
    picks too small a size) proposes a size; ``FMR_DRAWS`` draws at the check's own resamples, on a
    stream of their own, confirm it. Short of the target, the size grows by 3% until a confirmation
    reaches it, and the power promised is then drawn once more (the first to reach it came out high).
    """
    final = min(sim.replicates, FMR_DRAWS)
    search = min(final, SEARCH_DRAWS)

    known: dict[int, float] = {}

    def approximate(k: int) -> float:
        # Seeded, so the same at every call: the searches ask for the same sizes again and again (0.4 s each).
        if k not in known:
            known[k] = fmr_power(design, k, verdict, ratio, most_draws=SEARCH_APPROXIMATION)
        return known[k]

    def cheap(k: int, fresh: int = 0) -> float:
        resamples = min(design.resamples, SEARCH_RESAMPLES)
        return simulated_fmr_power(design, k, verdict, ratio, replicates=search, fresh=fresh, resamples=resamples)

    def confirm(k: int, fresh: int) -> float:
        return simulated_fmr_power(design, k, verdict, ratio, replicates=final, fresh=fresh)

    margin = 0.5 * math.sqrt(target * (1.0 - target) / search) if search > 0 else 0.0
    found = _calibrated_people(
        approximate, cheap, min(target + margin, 0.99), least=least, simulation=replace(sim, replicates=search)
    )
    if found is None or sim.replicates <= 0 or found[2].startswith("normal approximation"):
        return found
    people = found[0]
    power, grown = confirm(people, 3), False
    while power < target and people < 10_000_000:
        people, grown = max(people + 1, math.ceil(people * 1.03)), True
        power = confirm(people, 3)
    if grown:
        power = confirm(people, 4)
    how = (
        f"simulated: searched on {search} draws ({min(design.resamples, SEARCH_RESAMPLES)} bootstrap resamples each), "
        f"each size confirmed and its power promised on {final} draws read by the kit's interval functions, seed "
        f"{sim.seed}"
    )
    return people, power, how


def _fmr_method(hows: list[str]) -> str:
    """How false_match_differential's sizes were found: by drawing the design and reading it as the check does."""
    how = _method(*hows)
    if how.startswith("simulated"):
        return (
            how.replace("read by the kit's interval functions", "read as the check reads them")
            + " (scores of the two-way model, the threshold fixed in-sample, the two-way bootstrap's percentile "
            "intervals, the groups' own bounds); the two-way approximation proposed the sizes"
        )
    return how.replace("normal approximation", "two-way approximation")


def plan_false_non_match_differential(inputs: Any) -> Any:
    """false_non_match_differential: people a group, simulated through the check's group reading."""

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
        return needs_two_photos(
            check,
            inputs,
            plan_false_non_match_differential,
            "a person with one photo has no genuine comparison (a pair of their own photos), so FNMR reads no one",
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

    check = "equitability"
    design, assumed = pair_design(inputs)
    rate = inputs.rates.get("false_non_match_differential", inputs.rates.get(check, 0.05))
    ratio = fail_ratio(inputs)
    fta = _gap_design(inputs, "failure_to_acquire_gap", 0.0, design.photos, design.groups)
    least = least_people(design)
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
