"""``conformance plan --sequential``: the most people a sequential run may send, and the people it is expected to send.

The fixed plan of each check says how many people a group each verdict direction needs for the
power (``n_pass`` at a true gap of 0, ``n_fail`` at the fail scenario). A sequential run tests each
look at a stricter level than the fixed run's (its spending's), so the same people give it less power: the most it
may send is ``inflation x max(n_pass, n_fail)``, the inflation solved for the same power at the design
point by the group-sequential normal recursion (:mod:`conformance.sequential_design`). A look that
holds fewer than ``min_subjects`` people a group cannot settle (a design that needs few people, or
many looks): the most people and the expected people are computed with it unable to stop, and the
plan names it rather than raising the people until the first look fills (46 where 13 do, at 5 looks).
Checks no sequential run takes (:data:`NOT_SEQUENTIAL`) get no figures.

The people it is expected to send at that size, at a true gap of 0 and at the fail scenario: for the
rate checks the planner simulates (:data:`SIMULATED`), by drawing the run (every look read with the
kit's interval functions at that look's levels, :func:`.simulation.simulated_sequential`), seeded as
the fixed plan is. The recursion alone (one normal comparison, read one-sided where the kit's pass is
two-sided: the interval inside the tolerance on both sides) was measured optimistic against the kit's
checks: at misgender_gap's design in benchmarks/sequential-audit-results.md it expected 0.788 and 0.607
of the fixed plan's photos where the checks sent 0.978 and 0.646. The other checks
(their planners simulate their own statistics) keep the recursion's figures, and the plan says so
and how optimistic it was measured to be (:data:`RECURSION_MEASURED`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..checks.check_ids import COMPARISON_CHECKS, SEARCH_CHECKS

if TYPE_CHECKING:
    from ..sequential_design import SequentialDesign
    from .planners import CheckPlan, PlanInputs
    from .price import Price
    from .sizes import GapDesign

# Checks whose expected people are drawn by simulation: the rate checks planned by drawing people's sums
# (planners._plan_gap_check) that a sequential run takes.
SIMULATED = (
    "misgender_gap",
    "detection_failure_gap",
    "same_person_consistency",
)

# Checks no sequential run takes, and why (plan_command refuses --sequential when it plans only these): sized
# for it, they were figures of a run that cannot happen.
NOT_SEQUENTIAL = {
    "transformation_invariance": (
        "not run sequentially (its transformed variants are drawn over the whole dataset): a --sequential run reports "
        "it not applicable; plan and run it without --sequential"
    ),
    **dict.fromkeys(
        SEARCH_CHECKS,
        "a face-matching run refuses --sequential (its gallery is enrolled whole before any probe is searched): plan "
        "and run it without --sequential",
    ),
    **dict.fromkeys(
        COMPARISON_CHECKS,
        "a face-matching run refuses --sequential (a 1:1 run compares every photo with every other): plan and run it "
        "without --sequential",
    ),
}

# A look that cannot settle (fewer than min_subjects people a group) is read by the recursion as testing at this
# level, z = 7.94 (the smallest level 1 - level tells from 1). It holds a share t < min_subjects / most of the
# people, the fixed plan at least min_subjects, so its standardised drift is below z0 = z_alpha + z_power and a stop
# there has probability below Phi(z0 - 7.94): 1.4e-7 at 0.025 and 0.8. The run spends its share without a verdict.
_NO_STOP = 1e-15

# What benchmarks/sequential-audit-results.md measured of the recursion alone (misgender_gap, two groups, reference
# rate 0.04, 3 photos a person, ICC 0.3, 5 looks, 200 replicates): expected photos as shares of the fixed plan's,
# computed by the recursion and sent by the kit's checks, at a true gap of 0 and at the fail scenario (0.15).
RECURSION_MEASURED: dict[str, Any] = {
    "benchmark": "benchmarks/sequential-audit-results.md",
    "design": "misgender_gap, 2 groups, reference rate 0.04, 3 photos a person, ICC 0.3, 5 looks",
    "computed_share_of_fixed": {"pass": 0.788, "fail": 0.607},
    "measured_share_of_fixed": {"pass": 0.978, "fail": 0.646},
}


def sequential_block(
    plans: Mapping[str, CheckPlan],
    *,
    alpha: float,
    looks: int,
    power: float,
    price: Price,
    inputs: PlanInputs | None = None,
) -> dict[str, Any]:
    """The plan's ``sequential`` object: the design, and for each check its most and expected people, photos and cost.

    ``inputs``: what the fixed plans were made from; with them (and ``--replicates`` above 0) the expected people
    of the :data:`SIMULATED` checks are simulated, otherwise every check's come from the normal recursion. With
    them too, a look that holds fewer than the policy's ``min_subjects`` people a group cannot settle
    (:func:`_unsettled_looks`): the most people are sized, and the expected people computed, with it unable to stop,
    and the plan names it. Checks no sequential run takes, and checks the fixed plan could not size, are listed
    in ``not_sized`` with the reason, never given figures.
    """
    from ..sequential import DEFAULT_SPENDING, look_levels, spending_named
    from ..sequential_design import design

    found = design(alpha, looks, power)
    levels = look_levels(alpha, looks)
    spend = spending_named(DEFAULT_SPENDING)
    least = inputs.policy.min_subjects if inputs is not None else 1
    checks: dict[str, Any] = {}
    not_sized: dict[str, str] = {}
    for check, plan in plans.items():
        sizes = [d.people_per_group for d in plan.directions]
        if check in NOT_SEQUENTIAL:
            not_sized[check] = NOT_SEQUENTIAL[check]
            continue
        if any(n is None for n in sizes) or not sizes:
            not_sized[check] = f"the fixed plan cannot size it ({plan.method})"
            continue
        n_pass, n_fail = (int(n) for n in sizes if n is not None)
        most = math.ceil(found.inflation * max(n_pass, n_fail))
        readers = _readers_share(check, plan)
        needed = max(least, 2) if check == "confidence_calibration" else least
        if readers > 0 and math.floor(most * readers + 1e-9) < needed:
            most = math.ceil(needed / readers)  # the last look reads everyone: never fewer than can settle
        stuck = _unsettled_looks(most, looks, needed, readers)
        sizing, stopping_levels = found, levels
        if stuck:
            most, stuck, sizing, stopping_levels = _sized_with_stuck_looks(
                max(n_pass, n_fail), most, stuck, alpha=alpha, power=power, levels=levels, least=needed, readers=readers
            )
        per_person = len(plan.groups) * plan.calls_per_person
        drawn = _simulated(check, most, levels, inputs)
        if drawn:
            expected = {verdict: people for verdict, (people, _) in drawn.items()}
        elif stuck:
            expected = {
                "pass": _expected_people(sizing, stopping_levels, n_pass, most),
                "fail": _expected_people(sizing, stopping_levels, n_fail, most),
            }
        else:
            expected = {"pass": found.expected_people(n_pass, most), "fail": found.expected_people(n_fail, most)}
        calls = {key: people * per_person for key, people in expected.items()}
        checks[check] = {
            "people_per_group": most,
            "photos_per_group": math.ceil(most * plan.mean_photos),
            "calls": math.ceil(most * per_person),
            "cost": round(price.cost(math.ceil(most * per_person)), 2),
            "fixed_people_per_group": max(n_pass, n_fail),
            **(_stuck_json(stuck, most, looks, needed, readers, sizing, check) if stuck else {}),
            "expected": [
                {
                    **_scenario(d.to_json()),
                    "verdict": d.verdict,
                    "people_per_group": round(expected[d.verdict], 1),
                    "calls": math.ceil(calls[d.verdict]),
                    "cost": round(price.cost(math.ceil(calls[d.verdict])), 2),
                    "share_of_fixed": round(expected[d.verdict] / max(n_pass, n_fail), 3),
                    "fixed_people_per_group": n_pass if d.verdict == "pass" else n_fail,
                    **({"power": round(drawn[d.verdict][1], 3)} if drawn else {}),
                }
                for d in plan.directions
            ],
            "expected_method": _simulated_how(inputs) if drawn else _RECURSION_HOW,
        }
    return {
        "looks": looks,
        "spending": f"{spend.rule}, {spend.held_by}",
        "fixed_level": alpha,
        "look_levels": [float(f"{level:.6g}") for level in levels],
        "last_look_level": levels[-1],
        "inflation": round(found.inflation, 4),
        "method": (
            "most people: the fixed plan's, times the inflation that gives the sequential run the same power at the "
            "design point (the group-sequential normal recursion, with any look holding fewer than min_subjects people "
            "a group unable to stop); expected people: each check's expected_method"
        ),
        "recursion_measured": RECURSION_MEASURED,
        "checks": checks,
        **({"not_sized": not_sized} if not_sized else {}),
    }


def _readers_share(check: str, plan: CheckPlan) -> float:
    """The share of a group's people the check reads: same_person_consistency reads only people with 2+ photos."""
    if check != "same_person_consistency":
        return 1.0
    if plan.photo_counts:
        return sum(1 for c in plan.photo_counts if c >= 2) / len(plan.photo_counts)
    return 1.0 if plan.photos_per_person >= 2 else 0.0


def _look_people(people: int, looks: int, readers: float) -> list[int]:
    """People a group the check reads at each look: ``ceil(k / K * n)`` of the ``n`` it reads, as run --sequential takes them."""
    read = math.floor(people * readers + 1e-9)
    return [math.ceil(k * read / looks) for k in range(1, looks + 1)]


def _unsettled_looks(people: int, looks: int, least: int, readers: float) -> tuple[int, ...]:
    """The looks (1-based) that hold fewer than ``least`` (min_subjects) people a group the check reads: none can settle."""
    return tuple(k for k, n in enumerate(_look_people(people, looks, readers), start=1) if n < least)


def _sized_with_stuck_looks(
    fixed: int,
    most: int,
    stuck: tuple[int, ...],
    *,
    alpha: float,
    power: float,
    levels: Sequence[float],
    least: int,
    readers: float,
) -> tuple[int, tuple[int, ...], SequentialDesign, list[float]]:
    """(most people, looks that cannot settle, the design, each look's level as the recursion reads it).

    The looks below min_subjects cannot stop: the recursion reads them at :data:`_NO_STOP`, and the
    inflation for the power is solved again (their share of the error is spent for nothing, so more
    people may be needed); more people may let a look settle after all, so until the two agree.
    """
    from ..sequential_design import design

    looks = len(levels)
    while True:
        stopping = [_NO_STOP if k in stuck else level for k, level in enumerate(levels, start=1)]
        sized = design(alpha, looks, power, levels=stopping)
        grown = max(most, math.ceil(sized.inflation * fixed))
        now = _unsettled_looks(grown, looks, least, readers)
        if now == stuck:
            return grown, stuck, sized, stopping
        most, stuck = grown, now  # fewer looks stuck (more people): solved again with them able to stop


def _expected_people(sizing: SequentialDesign, stopping: Sequence[float], fixed: int, most: int) -> float:
    """The recursion's expected people a group, with the looks that cannot settle unable to stop."""
    from ..sequential_design import expected_share

    # The sign of the drift does not change the expected share: the boundaries are symmetric.
    return expected_share(stopping, -sizing.drift(fixed, most)) * most


def _stuck_json(
    stuck: tuple[int, ...],
    most: int,
    looks: int,
    least: int,
    readers: float,
    sizing: SequentialDesign,
    check: str,
) -> dict[str, Any]:
    """What the plan says of the looks that cannot settle: which, how many people they hold, the error spent, the way out."""
    held = _look_people(most, looks, readers)
    who = "people with 2+ photos" if check == "same_person_consistency" else "people"
    from ..sequential import look_increments

    # The error those looks spend: their increments of alpha (their levels overlap under joint boundaries).
    increments = look_increments(sizing.alpha, looks)
    spent = sum(increments[k - 1] for k in stuck)
    fewer = math.floor(most * readers + 1e-9) // least
    one = len(stuck) == 1
    way_out = (
        f"at {most:,} people a group, --looks {fewer} or fewer lets every look settle"
        if fewer >= 2
        else f"at {most:,} people a group even 2 looks would leave the first below {least}: collect more people, or "
        "run without --sequential"
    )
    return {
        "looks_unable_to_settle": list(stuck),
        "inflation": round(sizing.inflation, 4),
        "unable_note": (
            f"{_span(stuck)} {'holds' if one else 'hold'} fewer than min_subjects ({least}) {who} a group "
            f"({', '.join(str(held[k - 1]) for k in stuck)} of {held[-1]}) and cannot settle: the run spends "
            f"{'its' if one else 'their'} share of the error ({spent:.3g} of {sizing.alpha:g}) without a verdict. "
            f"The most people ({sizing.inflation:.3f} x the fixed plan's) and the expected people are computed with "
            f"{'it' if one else 'them'} unable to stop; {way_out}"
        ),
    }


def _span(looks: Sequence[int]) -> str:
    """``look 1``, ``looks 1-3``: consecutive looks from the first."""
    return f"look {looks[0]}" if len(looks) == 1 else f"looks {looks[0]}-{looks[-1]}"


_RECURSION_HOW = (
    "the group-sequential normal recursion at each direction's drift (one normal comparison): measured optimistic "
    "against the kit's checks, expecting {pass_c:.3f} and {fail_c:.3f} of the fixed plan's photos where they sent "
    "{pass_m:.3f} and {fail_m:.3f} ({design}; {benchmark}): read these as the fewest to expect"
).format(
    pass_c=RECURSION_MEASURED["computed_share_of_fixed"]["pass"],
    fail_c=RECURSION_MEASURED["computed_share_of_fixed"]["fail"],
    pass_m=RECURSION_MEASURED["measured_share_of_fixed"]["pass"],
    fail_m=RECURSION_MEASURED["measured_share_of_fixed"]["fail"],
    design=RECURSION_MEASURED["design"],
    benchmark=RECURSION_MEASURED["benchmark"],
)


def _simulated_how(inputs: PlanInputs | None) -> str:
    assert inputs is not None
    sim = inputs.simulation
    return (
        f"simulated: {sim.replicates} draws of the sequential run at the most people, each look read by the kit's "
        f"interval functions at its own levels, stopping when the verdict is pass or fail, seed {sim.seed}"
    )


def _simulated(
    check: str, most: int, levels: Sequence[float], inputs: PlanInputs | None
) -> dict[str, tuple[float, float]]:
    """{verdict: (expected people a group, probability of that verdict)} drawn for a :data:`SIMULATED` check; {}: not."""
    from dataclasses import replace

    from ..sequential import MIN_LEVEL
    from .planners import policy_levels
    from .simulation import SIMULATION_LIMIT, simulated_sequential

    if inputs is None or check not in SIMULATED or inputs.simulation.replicates <= 0 or most > SIMULATION_LIMIT:
        return {}
    scenarios = _gap_scenarios(check, inputs)
    if scenarios is None:
        return {}
    design, measure, rates = scenarios
    # Each look's (alpha_pass, alpha_fail) as run --sequential states them; a share below MIN_LEVEL is carried on.
    looks: list[tuple[float, float] | None] = []
    carried = 0.0
    for k, share in enumerate(levels, start=1):
        level = share + carried
        if k < len(levels) and level < MIN_LEVEL:
            carried = level
            looks.append(None)
            continue
        carried = 0.0
        looks.append(policy_levels(replace(inputs.policy, confidence=1.0 - 2.0 * level)))
    out = {}
    for verdict, truth in rates.items():
        sent, passes, fails = simulated_sequential(design, most, truth, looks, inputs.simulation, measure)
        out[verdict] = (sent, passes if verdict == "pass" else fails)
    return out


def _gap_scenarios(check: str, inputs: PlanInputs) -> tuple[GapDesign, str, dict[str, list[float]]] | None:
    """The design and each scenario's true rates as planners._plan_gap_check simulates them (None: no such plan)."""
    from .planners import _fail_gap, _gap_design, pair_rate

    rate = inputs.rates.get(check)
    if rate is None:
        return None
    policy = inputs.policy
    groups = len(inputs.groups)
    gap = _fail_gap(inputs, policy.tolerance_for(check))
    low, high = (rate, rate + gap) if rate + gap <= 1.0 else (1.0 - gap, 1.0)
    share = check == "same_person_consistency"
    if share and inputs.photos_per_person < 2 and not any(c >= 2 for c in inputs.photo_counts):
        return None

    def truth(r: float) -> float:
        return pair_rate(r, inputs.icc) if share else r

    design = _gap_design(inputs, check, rate, inputs.photos_per_person, groups)
    rates = {"pass": [truth(rate)] * groups, "fail": [truth(low)] * (groups - 1) + [truth(high)]}
    return design, "pair_share" if share else "count", rates


def _scenario(direction: Mapping[str, Any]) -> dict[str, float]:
    """The direction's scenario as the fixed plan states it: a true gap, or a 1:1 check's true ratio."""
    key = "true_ratio" if "true_ratio" in direction else "true_gap"
    return {key: direction[key]}


def sequential_text(block: Mapping[str, Any], currency: str) -> list[str]:
    """The ``sequential`` object in lines of text."""
    if block["looks"] == 1:
        # One look is the fixed design: nothing to stop early at.
        head = (
            f"Sequential (--sequential, 1 look: the fixed design, each direction tested at {block['last_look_level']:.3g}"
            "): the run sends every photo, as the fixed plan does"
        )
    else:
        head = (
            f"Sequential (--sequential, {block['looks']} looks, {block['spending']}; the last look tests each direction "
            f"at {block['last_look_level']:.3g} of {block['fixed_level']:g}): collect {block['inflation']:.3f} x the "
            "fixed plan's people for the same power; the run stops at an earlier look once every check is settled"
        )
    lines = ["", head]
    for check, figures in block["checks"].items():
        expected = "; ".join(
            f"{e['verdict']} at {'a true ratio' if 'true_ratio' in e else 'a true gap'} of "
            f"{e.get('true_ratio', e.get('true_gap')):g}: {e['people_per_group']:,.0f} people a group, "
            f"{e['calls']:,} calls, {currency} {e['cost']:,.2f} ({e['share_of_fixed']:.0%} of the fixed plan's"
            + (f"; power {e['power']:.2f})" if "power" in e else ")")
            for e in figures["expected"]
        )
        lines.append(
            f"  {check}: at most {figures['people_per_group']:,} people a group ({figures['calls']:,} calls, "
            f"{currency} {figures['cost']:,.2f}); expected: {expected}"
        )
        if "unable_note" in figures:
            lines.append(f"    {figures['unable_note']}")
        lines.append(f"    expected figures: {figures['expected_method']}")
    for check, why in block.get("not_sized", {}).items():
        lines.append(f"  {check}: not sized for a sequential run: {why}")
    return lines
