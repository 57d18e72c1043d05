"""Which spending sends fewest photos through the kit's own checks: O'Brien-Fleming-type against Hwang-Shih-DeCani.

The recursion (``benchmarks/sequential_design_study.py``) reads the looks as a normal statistic; the
checks read Clopper-Pearson/Newcombe limits on clustered counts, shrunk for the degrees of freedom.
At the issue's design (two groups, reference rate 0.04, 3 photos a person, ICC 0.3, tolerance 0.05,
5 looks) each spending is run as ``conformance run --sequential`` runs it
(:func:`conformance.sequential.run_looks` and ``run_check``, from ``benchmarks/sequential_audit.py``) on
the most people ``plan --sequential`` would ask for under it (the fixed plan's 225 a group times that
spending's inflation), at a true gap of 0 and of 3 times the tolerance: the verdicts' shares and the
photos sent as a share of the fixed plan's.

    python benchmarks/sequential_spending.py --replicates 100 obf hsd:-1
    python benchmarks/sequential_spending.py --replicates 100 --seed 20261207 hsd:-4 hsd:-2
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sequential_audit

import conformance.sequential as sequential
from conformance.sequential_design import design

FIXED = 225  # conformance plan's people a group for the design (benchmarks/sequential-audit-results.md)


def main(argv: Sequence[str] | None = None) -> int:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("spendings", nargs="+", help="obf, or hsd:GAMMA (Hwang-Shih-DeCani)")
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261206)
    args = parser.parse_args(argv)
    kit = sequential.spending

    def obrien_fleming(alpha: float, t: float) -> float:
        from scipy.special import ndtr, ndtri

        return 0.0 if t <= 0 else float(2.0 * ndtr(-float(ndtri(1.0 - alpha / 2.0)) / math.sqrt(min(t, 1.0))))

    print("| spending | most people a group | true gap | pass | fail | photos sent (share of the fixed plan's) |")
    print("|---|---:|---:|---:|---:|---:|")
    for index, name in enumerate(args.spendings):
        if name == "obf":
            sequential.spending = obrien_fleming
        else:
            gamma = float(name.split(":")[1])
            sequential.spending = lambda alpha, t, g=gamma: alpha * math.expm1(-g * min(t, 1.0)) / math.expm1(-g)
        found = design(0.025, 5, 0.8)
        most = math.ceil(found.inflation * FIXED)
        rng = np.random.default_rng([args.seed, index])
        for gap in (0.0, 0.15):
            verdicts, shares = [], []
            for _ in range(args.replicates):
                _, verdict, sent = sequential_audit.replicate(most, 3, [0.04, 0.04 + gap], 0.3, 5, rng)
                verdicts.append(verdict)
                shares.append(sent * most / FIXED)
            n = args.replicates
            print(
                f"| {name} | {most} | {gap:g} | {verdicts.count('pass') / n:.3f} | {verdicts.count('fail') / n:.3f} | "
                f"{float(np.mean(shares)):.3f} |",
                flush=True,
            )
    sequential.spending = kit
    return 0


if __name__ == "__main__":
    sys.exit(main())
