"""Monte Carlo: what any group-sequential audit whose looks pass on the kit's interval can save at a true gap of 0.

The kit passes a gap check when its interval lies inside the tolerance on *both* sides (an equivalence
test: ``|estimate| < tolerance - z se``), and fails it when the gap is shown beyond the tolerance. So the
fixed design's power to pass at a true gap of 0 is two-sided: with each side at one-sided ``alpha`` it is
``2 Phi(D - z_alpha) - 1``, ``D`` the tolerance over the standard error at the fixed size, and power 0.8
needs ``D = z_alpha + z_0.9``, not ``z_alpha + z_0.8`` (the one-sided reading the kit's docs took before,
which put the information bound at 0.626 of the fixed design).

Here the estimate at information fraction ``t`` of the most people a run may send is normal with mean
the true gap and standard error ``se_max / sqrt(t)``, its path a Brownian motion (the normal model of
the looks), simulated with numpy. Each design: looks at ``k / K``, each look's level solved on the
looks' joint distribution (:func:`conformance.groupseq.joint_levels`, the kit's default since December
2026) for a spending (Hwang-Shih-DeCani with several gammas, O'Brien-Fleming-type), the most people the
fixed design's times the inflation that keeps the power to pass at a gap of 0, and at that size: the
expected photos at a gap of 0 as a share of the fixed design's, the wrong passes and wrong fails at a
gap equal to the tolerance. The last column is the information bound for any procedure that passes
with the same power and a wrong pass at most alpha: ``2 d(p || alpha) / D^2`` (``d`` the binary
Kullback-Leibler divergence), which a sequential probability ratio test on the likelihood (not an
interval) approaches.

    python benchmarks/sequential_gap0.py --paths 100000 --out benchmarks/sequential-gap0-results.md
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import code_line, finish, machine_line

from conformance.groupseq import hsd_spent, joint_levels, obf_spent

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

ALPHA = 0.025
SPENDINGS = {
    "Hwang-Shih-DeCani, gamma -4": lambda t: hsd_spent(ALPHA, t, -4.0),
    "Hwang-Shih-DeCani, gamma -2 (the kit's)": lambda t: hsd_spent(ALPHA, t, -2.0),
    "Hwang-Shih-DeCani, gamma 0": lambda t: hsd_spent(ALPHA, t, 0.0),
    "Hwang-Shih-DeCani, gamma 1": lambda t: hsd_spent(ALPHA, t, 1.0),
    "O'Brien-Fleming type": lambda t: obf_spent(ALPHA, t),
}


def fixed_drift(power: float) -> float:
    """Tolerance over the standard error at the fixed design's size: a two-sided pass with ``power`` at a gap of 0."""
    from scipy.special import ndtri

    return float(ndtri(1 - ALPHA) + ndtri((1 + power) / 2))


def bound(power: float) -> float:
    """The information bound on the expected share of the fixed design at a gap of 0, for any procedure."""
    d = power * math.log(power / ALPHA) + (1 - power) * math.log((1 - power) / (1 - ALPHA))
    return 2 * d / fixed_drift(power) ** 2


def outcome(
    paths: npt.NDArray[np.float64], levels: Sequence[float], inflation: float, drift: float, gap: float
) -> tuple[float, float, float]:
    """(pass, fail, expected share of the fixed design) at a true ``gap`` (in tolerances)."""
    import numpy as np
    from scipy.special import ndtri

    looks = paths.shape[1]
    t = np.arange(1, looks + 1) / looks
    se_max = 1.0 / (drift * math.sqrt(inflation))
    estimate = gap + se_max * paths / t
    se = se_max / np.sqrt(t)
    z = ndtri(1 - np.asarray(levels))
    passed = np.abs(estimate) < 1 - z * se
    failed = np.abs(estimate) - 1 > z * se
    stop = passed | failed
    stop[:, -1] = True
    first = stop.argmax(axis=1)
    rows = np.arange(len(paths))
    return (
        float(passed[rows, first].mean()),
        float(failed[rows, first].mean()),
        float(((first + 1) / looks).mean()) * inflation,
    )


def design(paths: npt.NDArray[np.float64], spent: object, power: float) -> tuple[float, float, float, float]:
    """(inflation, share at a gap of 0, wrong passes, wrong fails at the tolerance) of one design."""
    from scipy.optimize import brentq

    looks = paths.shape[1]
    cumulative = [spent(k / looks) for k in range(looks + 1)]  # type: ignore[operator]
    levels = joint_levels([cumulative[k] - cumulative[k - 1] for k in range(1, looks + 1)])
    drift = fixed_drift(power)
    if looks == 1:
        inflation = 1.0
    else:
        inflation = float(brentq(lambda r: outcome(paths, levels, r, drift, 0.0)[0] - power, 0.9, 3.0, xtol=1e-4))
    _, _, share = outcome(paths, levels, inflation, drift, 0.0)
    wrong_pass, wrong_fail, _ = outcome(paths, levels, inflation, drift, 1.0)
    return inflation, share, wrong_pass, wrong_fail


def main(argv: Sequence[str] | None = None) -> int:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--paths", type=int, default=100_000, help="Brownian paths a number of looks")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    lines = [
        "# What group-sequential audits passing on the kit's interval save at a true gap of 0: Monte Carlo",
        "",
        f"Command: `python benchmarks/sequential_gap0.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        "",
        f"Machine: {machine_line([('numpy', 'numpy'), ('scipy', 'scipy')])}; {code_line()}",
        "",
        f"The normal model of the looks (a Brownian motion, {args.paths:,} paths a number of looks, seed {args.seed}); "
        f"a pass: the interval inside the tolerance on both sides; a fail: shown beyond it; one-sided {ALPHA:g} each "
        "way, each look's level solved on the looks' joint distribution. Expected photos at a true gap of 0 as a "
        "share of the fixed design's (sized for the same power to pass there); wrong verdicts at a true gap equal to "
        f"the tolerance (stated at most {ALPHA:g} each). Bound: any procedure with that power and wrong-pass rate.",
        "",
        "| power | looks | spending | inflation | photos at gap 0 | wrong pass | wrong fail | bound, any procedure |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    best: dict[float, tuple[float, str]] = {}
    for power in (0.8, 0.9, 0.95, 0.99):
        for looks in (3, 5, 10, 20):
            paths = np.cumsum(
                np.random.default_rng([args.seed, looks]).standard_normal((args.paths, looks)) * math.sqrt(1 / looks),
                axis=1,
            )
            for name, spent in SPENDINGS.items():
                inflation, share, wrong_pass, wrong_fail = design(paths, spent, power)
                row = (
                    f"| {power:g} | {looks} | {name} | {inflation:.3f} | {share:.3f} | {wrong_pass:.4f} | "
                    f"{wrong_fail:.4f} | {bound(power):.3f} |"
                )
                lines.append(row)
                print(row, file=sys.stderr, flush=True)
                if power not in best or share < best[power][0]:
                    best[power] = (share, f"{looks} looks, {name}")
    lines += ["", "Fewest photos at a true gap of 0, by power:", ""]
    lines += [f"- power {p:g}: {share:.3f} ({how}); bound {bound(p):.3f}" for p, (share, how) in best.items()]
    return finish(lines, started, args.out)


if __name__ == "__main__":
    sys.exit(main())
