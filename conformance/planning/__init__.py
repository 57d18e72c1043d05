"""Sample sizes before any photo is collected: ``conformance plan``.

For each check the planner answers: how many people a group needs, with how many photos each, for
the check's verdict to be conclusive with the stated power, in each direction: ``pass`` when the
true gap is 0, ``fail`` when it is a stated multiple of the tolerance (3 by default; for the 1:1
ratio checks, a true ratio of the ratio tolerance cubed). It plans the kit's own verdict procedure
(docs/explanation/methodology.md), not a textbook stand-in for it:

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
- a group below ``min_subjects`` people is never decided;
- the 1:1 comparison checks are planned on a two-way score model of their own (:mod:`.pairs_model`),
  drawn and read as the checks read it (:mod:`.pairs_sim`, :mod:`.pairs_power`).

What it cannot know it is told (expected rates, photos per person, equal or not, ICC) or reads from
a pilot ``report.json`` (each group's rate and the design effect it showed) or a manifest (its
people's photo counts). The promised power is checked by a seeded Monte Carlo through the real
checks: ``benchmarks/plan_power.py``, its table in docs/how-to/plan.md. Reading a manifest, it says
which checks that data can settle and why not.

The modules, in the order they build on each other: :mod:`.sizes` (a planned group's precision and
each verdict's power, the normal approximations), :mod:`.simulation` (the promised power, drawn and
read by the checks' own interval functions), :mod:`.price` (what an image sent costs), :mod:`.planners`
(what the planner is told, and the plan of each check), :mod:`.sequential` (``--sequential``: the most
people a sequential run may send, and the people it is expected to send), :mod:`.pairs_model`, :mod:`.pairs_power`, :mod:`.pairs_sim` and :mod:`.pairs` (the 1:1
comparison checks), :mod:`.manifest` (a pilot report, and what a manifest can settle), :mod:`.render` (the plan
as ``conformance plan`` prints it). numpy and scipy are imported inside functions, like the rest of
the kit.
"""

from __future__ import annotations

from .manifest import Assessment, ManifestPeople, Pilot, assess_manifest, read_manifest, read_pilot
from .planners import CheckPlan, PlanInputs, plan_check, policy_levels
from .price import DEFAULT_PRICE, Price
from .simulation import SIMULATION_LIMIT, Simulation, simulated_calibration_power, simulated_power, simulated_rate_power
from .sizes import (
    DirectionPlan,
    GapDesign,
    PlanError,
    counts_shares,
    expected_df,
    gap_precision,
    people_needed,
    power_to_fail,
    power_to_pass,
)

__all__ = [
    "DEFAULT_PRICE",
    "SIMULATION_LIMIT",
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
    "simulated_calibration_power",
    "simulated_power",
    "simulated_rate_power",
]
