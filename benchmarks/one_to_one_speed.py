"""What one replicate of plan_power.py's 1:1 rows costs, before and after the distinct-pair count, in one run.

A replicate of ``false_match_differential`` in ``plan_power.py`` lists every ordered pair of photos
(a million at 1,000 photos) through ``pairwise.compare_listed``, which counts the distinct pairs and
people-pairs of the calibration pool. That count was ``np.unique(keys).size``; numpy 2.4's hash-based
``unique`` took most of the replicate. It is now a sort and a count of changes
(``pairwise._distinct_count``), the same integer. This script runs the same replicates (same draws, same
seeds) through both, alternating the two paths so that the machine's drift touches both alike, checks
that every verdict and figure of the binding result is the same, and prints the time per replicate of
each path and their ratio (CPU seconds of this process).

    python benchmarks/one_to_one_speed.py --replicates 6
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import code_line, machine_line
from plan_power import Design, _one_to_one

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# The designs of plan_power.py's slowest 1:1 rows, at the people a group the planner stated for them.
CASES = (
    (Design("false_match_differential", 2, 1e-3, 1, 0.0, "pass", impostor_icc=0.25), 500),
    (Design("false_match_differential", 2, 1e-3, 3, 0.0, "pass", impostor_icc=0.1), 130),
    (Design("false_non_match_differential", 2, 0.05, 3, 0.3, "pass"), 474),
)


def _old_distinct(keys: npt.NDArray[np.int64]) -> int:
    """The count as it was: numpy's ``unique``."""
    import numpy as np

    return int(np.unique(keys).size)


def _timed(
    design: Design, people: int, seed: int, distinct: Callable[[npt.NDArray[np.int64]], int]
) -> tuple[float, list[Any]]:
    """CPU seconds of one replicate through ``distinct``, and what the binding results said (to compare)."""
    import numpy as np

    from conformance import pairwise
    from conformance.checks import biometrics

    seen: list[Any] = []
    original = biometrics.false_match_differential, biometrics.false_non_match_differential

    def keep(check: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            results = check(*args, **kwargs)
            seen.extend(r.to_dict() for r in results)
            return results

        return wrapped

    saved = pairwise._distinct_count
    pairwise._distinct_count = distinct
    biometrics.false_match_differential = keep(original[0])
    biometrics.false_non_match_differential = keep(original[1])
    try:
        started = time.process_time()
        _one_to_one(design, people, 1, np.random.default_rng(seed))
        return time.process_time() - started, seen
    finally:
        pairwise._distinct_count = saved
        biometrics.false_match_differential, biometrics.false_non_match_differential = original


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replicates", type=int, default=6, help="replicates a case through each path")
    args = parser.parse_args(argv)
    from conformance import pairwise

    print(f"Command: `python benchmarks/one_to_one_speed.py {' '.join(argv if argv is not None else sys.argv[1:])}`\n")
    print(f"Machine: {machine_line([('numpy', 'numpy'), ('scipy', 'scipy')])}; {code_line()}\n")
    print("| design | people a group | old: s a replicate | new: s a replicate | old / new | results identical |")
    print("|---|---:|---:|---:|---:|---|")
    for design, people in CASES:
        old = new = 0.0
        same = True
        for k in range(args.replicates):
            # Alternate which path goes first, so that a drift in the machine's speed falls on both.
            order = [("old", _old_distinct), ("new", pairwise._distinct_count)]
            runs = {name: _timed(design, people, 1000 + k, f) for name, f in order[:: 1 if k % 2 else -1]}
            old += runs["old"][0]
            new += runs["new"][0]
            same = same and runs["old"][1] == runs["new"][1]
        label = f"{design.check}, {design.groups} groups x {design.photos} photos"
        print(
            f"| {label} | {people} | {old / args.replicates:.3f} | {new / args.replicates:.3f} | {old / new:.2f} | "
            f"{'yes' if same else 'NO'} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
