"""Monte Carlo: the wrong-fail rate when a missing-data group is compared for a fail only.

A missing-data group (``undisclosed``, ``unknown``) is compared in the fail direction only: its fail test
joins the check's Holm family, and short of a fail its comparison is "not applicable" (red team 14d F1).
This measures the familywise wrong-fail rate at the boundary: the missing-data group's true rate exactly
the tolerance (0.05) above the reference's, every other gap 0, so any ``fail`` is wrong. It must stay at
most ``(1 - confidence) / 2 = 0.025``. Each replicate draws 0/1 outcomes (one photo a person, as for
``detection_failure_gap``) and calls the kit's shared comparison machinery
(:func:`conformance.checks._compare.compare_groups`) under the default policy; nothing of the verdict
procedure is re-implemented here. Also counted: comparisons of the missing-data group that came out
``inconclusive`` (the rule says never).

Seeded: the same command prints the same table. Monte Carlo standard error about 0.005 at 1,000
replicates for a rate near 0.025.

    python benchmarks/missing_data_fail_only.py --replicates 1000
"""

from __future__ import annotations

import argparse
import math
import time

DESIGNS = (  # (label, people in the missing-data group)
    ("150 cis, 150 trans at 0.10; 60 undisclosed at 0.15", 60),
    ("150 cis, 150 trans at 0.10; 15 undisclosed at 0.15", 15),
)


def run(people: int, replicates: int, seed: int) -> tuple[int, int, int]:
    """(wrong fails, inconclusive missing-data comparisons, missing-data comparisons) over the replicates."""
    import numpy as np

    from conformance.checks._compare import Units, compare_groups
    from conformance.policy import Policy

    policy = Policy()
    sizes = {"cis": 150, "trans": 150, "undisclosed": people}
    rates = {"cis": 0.10, "trans": 0.10, "undisclosed": 0.10 + policy.tolerance_for("detection_failure_gap")}
    groups = np.array([g for g, n in sizes.items() for _ in range(n)], dtype=object)
    cluster = np.arange(len(groups))
    rng = np.random.default_rng(seed)
    fails = inconclusive = compared = 0
    for _ in range(replicates):
        outcome = np.concatenate([rng.random(n) < rates[g] for g, n in sizes.items()]).astype(np.float64)
        units = Units(numerator=outcome, denominator=np.ones(len(outcome)), cluster=cluster, group=groups)
        _, comparisons, _, _ = compare_groups(
            units,
            photo_group=groups,
            photo_subject=cluster,
            reference="cis",
            tolerance=policy.tolerance_for("detection_failure_gap"),
            policy=policy,
            seed=seed,
        )
        fails += any(c.verdict == "fail" for c in comparisons)
        mine = [c for c in comparisons if "undisclosed" in (c.group, c.reference)]
        compared += len(mine)
        inconclusive += sum(c.verdict == "inconclusive" for c in mine)
    return fails, inconclusive, compared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args()
    print(f"replicates {args.replicates}, seed {args.seed}; true gap of the missing-data group = tolerance (0.05)\n")
    print("| design | wrong fail (familywise) | MC s.e. | missing-data comparisons inconclusive |")
    print("|---|---|---|---|")
    for index, (label, people) in enumerate(DESIGNS):
        start = time.perf_counter()
        fails, inconclusive, compared = run(people, args.replicates, args.seed + index)
        rate = fails / args.replicates
        se = math.sqrt(max(rate * (1 - rate), 1e-12) / args.replicates)
        print(
            f"| {label} | {rate:.4f} | {se:.4f} | {inconclusive} of {compared} |  ({time.perf_counter() - start:.0f} s)"
        )


if __name__ == "__main__":
    main()
