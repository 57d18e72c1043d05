"""``conformance plan --sequential``: the most people a sequential run may send, and the people it is expected to send.

The fixed plan of each check says how many people a group each verdict direction needs for the
power (``n_pass`` at a true gap of 0, ``n_fail`` at the fail scenario). A sequential run tests each
look at its share of the error (union bound), so the same people give it less power: the most it
may send is ``inflation x max(n_pass, n_fail)``, the inflation solved for the same power at the design
point by the group-sequential normal recursion (:mod:`conformance.sequential_design`). At that size
the expected people sent, at a true gap of 0 and at the fail scenario, come from the same recursion
with each direction's drift read off its own fixed size. A planning model: what the kit's checks
do at each look is measured in ``benchmarks/sequential_audit.py`` (docs/how-to/plan.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .planners import CheckPlan
    from .price import Price


def sequential_block(
    plans: Mapping[str, CheckPlan], *, alpha: float, looks: int, power: float, price: Price
) -> dict[str, Any]:
    """The plan's ``sequential`` object: the design, and for each check its most and expected people, photos and cost."""
    from ..sequential import GAMMA, look_levels
    from ..sequential_design import design

    found = design(alpha, looks, power)
    checks: dict[str, Any] = {}
    for check, plan in plans.items():
        sizes = [d.people_per_group for d in plan.directions]
        if any(n is None for n in sizes) or not sizes:
            continue
        n_pass, n_fail = (int(n) for n in sizes if n is not None)
        most = math.ceil(found.inflation * max(n_pass, n_fail))
        per_person = len(plan.groups) * plan.calls_per_person
        expected = {
            "pass": found.expected_people(n_pass, most),
            "fail": found.expected_people(n_fail, most),
        }
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
                }
                for d in plan.directions
            ],
        }
    levels = look_levels(alpha, looks)
    return {
        "looks": looks,
        "spending": f"Hwang-Shih-DeCani, gamma {GAMMA:g}, held by the union bound",
        "fixed_level": alpha,
        "look_levels": [float(f"{level:.6g}") for level in levels],
        "last_look_level": levels[-1],
        "inflation": round(found.inflation, 4),
        "method": (
            "most people: the fixed plan's, times the inflation that gives the sequential run the same power at the "
            "design point; expected people: the group-sequential normal recursion at each direction's drift (a "
            "planning model of one comparison; measured against the checks in benchmarks/sequential_audit.py)"
        ),
        "checks": checks,
    }


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
            f"{e['calls']:,} calls, {currency} {e['cost']:,.2f} ({e['share_of_fixed']:.0%} of the fixed plan's)"
            for e in figures["expected"]
        )
        lines.append(
            f"  {check}: at most {figures['people_per_group']:,} people a group ({figures['calls']:,} calls, "
            f"{currency} {figures['cost']:,.2f}); expected: {expected}"
        )
    return lines
