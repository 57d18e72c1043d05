"""``conformance plan --sequential``: the most people a sequential run may send, and the people it is expected to send.

The fixed plan of each check says how many people a group each verdict direction needs for the
power (``n_pass`` at a true gap of 0, ``n_fail`` at the fail scenario). A sequential run tests each
look at a stricter level than the fixed run's (its spending's), so the same people give it less power: the most it
may send is ``inflation x max(n_pass, n_fail)``, the inflation solved for the same power at the design
point by the group-sequential normal recursion (:mod:`conformance.sequential_design`).

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

if TYPE_CHECKING:
    from .planners import CheckPlan, PlanInputs
    from .price import Price
    from .sizes import GapDesign

# Checks whose expected people are drawn by simulation: the rate checks planned by drawing people's sums
# (planners._plan_gap_check). transformation_invariance is not run sequentially (conformance.sequential).
SIMULATED = (
    "misgender_gap",
    "detection_failure_gap",
    "false_match_gap",
    "false_non_match_gap",
    "failure_to_acquire_gap",
    "same_person_consistency",
)

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
    of the :data:`SIMULATED` checks are simulated, otherwise every check's come from the normal recursion.
    """
    from ..sequential import DEFAULT_SPENDING, look_levels, spending_named
    from ..sequential_design import design

    found = design(alpha, looks, power)
    levels = look_levels(alpha, looks)
    spend = spending_named(DEFAULT_SPENDING)
    checks: dict[str, Any] = {}
    for check, plan in plans.items():
        sizes = [d.people_per_group for d in plan.directions]
        if any(n is None for n in sizes) or not sizes:
            continue
        n_pass, n_fail = (int(n) for n in sizes if n is not None)
        most = math.ceil(found.inflation * max(n_pass, n_fail))
        per_person = len(plan.groups) * plan.calls_per_person
        drawn = _simulated(check, most, levels, inputs)
        expected = (
            {verdict: people for verdict, (people, _) in drawn.items()}
            if drawn
            else {"pass": found.expected_people(n_pass, most), "fail": found.expected_people(n_fail, most)}
        )
        calls = {key: people * per_person for key, people in expected.items()}
        checks[check] = {
            "people_per_group": most,
            "photos_per_group": math.ceil(most * plan.mean_photos),
            "calls": math.ceil(most * per_person),
            "cost": round(price.cost(math.ceil(most * per_person)), 2),
            "fixed_people_per_group": max(n_pass, n_fail),
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
            "design point (the group-sequential normal recursion); expected people: each check's expected_method"
        ),
        "recursion_measured": RECURSION_MEASURED,
        "checks": checks,
    }


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
    lines = [
        "",
        f"Sequential (--sequential, {block['looks']} looks, {block['spending']}; the last look tests each direction at "
        f"{block['last_look_level']:.3g} of {block['fixed_level']:g}): collect {block['inflation']:.3f} x the fixed "
        "plan's people for the same power; the run stops at an earlier look once every check is settled",
    ]
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
        lines.append(f"    expected figures: {figures['expected_method']}")
    return lines
