"""Monte Carlo: a Holm family's first step at each look's joint level, against the family's stated error.

A check with ``m`` fail tests runs Holm's procedure at each look's level ``alpha_k``: its first step tests
each at ``alpha_k / m``. The joint levels (:func:`conformance.groupseq.joint_levels`) are not linear in
``alpha``, so ``alpha_k / m`` over the looks spends more than ``alpha / m`` a test (red team 17e F3). Here each
test's standardised statistic is a Brownian motion observed at ``k / K`` (the normal model of the looks), on its
boundary, the ``m`` tests independent; the family's error is the chance that some test is wrongly rejected at
some look, against the stated one-sided ``alpha``. For comparison the union bound's levels (each look at its
increment, ``hsd(-2)``) and the joint levels solved for ``alpha / m`` (what such a family would need).

    python benchmarks/sequential_holm.py --paths 400000 --out benchmarks/sequential-holm-results.md
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import code_line, finish, machine_line

from conformance.groupseq import joint_levels
from conformance.sequential import look_increments, look_levels

ALPHA = 0.025


def crossing(levels: Sequence[float], paths: int, seed: int) -> float:
    """The chance one test's statistic falls below ``-z_k`` at some look, on its boundary (drift 0)."""
    import numpy as np
    from scipy.special import ndtri

    rng = np.random.default_rng(seed)
    looks = len(levels)
    z = -ndtri(np.asarray(levels))
    b = np.zeros(paths)
    hit = np.zeros(paths, dtype=bool)
    for k in range(looks):
        b += rng.standard_normal(paths) * math.sqrt(1 / looks)
        hit |= b / math.sqrt((k + 1) / looks) < -z[k]
    return float(hit.mean())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--paths", type=int, default=400_000)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    lines = [
        "# A Holm family's first step at each look's joint level: Monte Carlo",
        "",
        f"Command: `python benchmarks/sequential_holm.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        "",
        f"Machine: {machine_line([('numpy', 'numpy'), ('scipy', 'scipy')])}; {code_line()}",
        "",
        f"One-sided alpha {ALPHA:g}, Hwang-Shih-DeCani gamma -2; {args.paths:,} Brownian paths a cell, seed {args.seed}. "
        "The family's error: 1 - (1 - p)^m, p one test's chance of a wrong rejection at some look (the tests "
        f"independent, each on its boundary). Standard error of a cell near {ALPHA:g}: about "
        f"{math.sqrt(ALPHA * (1 - ALPHA) / args.paths):.4f} for one test.",
        "",
        "| looks | tests m | joint levels / m (what a check does) | union bound's levels / m | joint levels of alpha / m |",
        "|---:|---:|---:|---:|---:|",
    ]
    seed = args.seed
    for looks in (5, 20, 100):
        joint, union = look_levels(ALPHA, looks), look_levels(ALPHA, looks, "hsd(-2)")
        for m in (2, 5, 10):
            seed += 1
            shares = [i / m for i in look_increments(ALPHA, looks)]
            cells = [
                crossing([level / m for level in joint], args.paths, seed),
                crossing([level / m for level in union], args.paths, seed),
                crossing(joint_levels(shares), args.paths, seed),
            ]
            family = [1 - (1 - p) ** m for p in cells]
            row = f"| {looks} | {m} | " + " | ".join(f"{f:.4f}" for f in family) + " |"
            lines.append(row)
            print(row, file=sys.stderr, flush=True)
    return finish(lines, started, args.out)


if __name__ == "__main__":
    sys.exit(main())
