"""Which error spending a sequential audit should use: the group-sequential normal recursion, and the SPRT bound.

For one comparison, one-sided ``alpha`` 0.025 a direction (held by the union bound, as
``conformance run --sequential`` holds it) and 80% power at the design point, each design (number of
equally spaced looks, spending function) is sized so that its power at a true gap of 0 is the fixed
design's (:func:`conformance.sequential_design.design`), and its expected people are computed at a
true gap of 0 and at 3 times the tolerance, as shares of the fixed design's people. "3 x tol" is
read two ways: the fail scenario twice as far from the tolerance as the pass one on the same spread
(drift ratio 2), and the issue's design (reference rate 0.04, 3 photos, ICC 0.3: the planner's fixed
sizes 225 to pass and 123 to fail give a drift ratio sqrt(225/123) = 1.35). Families: O'Brien-Fleming
type (Lan & DeMets 1983), Hwang-Shih-DeCani (1990) with gamma from -4 to 1 (gamma 0 is linear,
Pocock-like), and the power family ``alpha t^rho``.

Then the bound no sequential test can beat at the design point: any test with P(pass | gap = tol) <=
alpha and P(pass | gap 0) >= power needs on average at least ``d(power || alpha) / (drift^2 / 2)``
of the fixed design's information (d the binary Kullback-Leibler divergence; Wald's SPRT attains it
in continuous time, Wald & Wolfowitz 1948), and the exact SPRT with one observation a person in each
group (its overshoot included), solved for exact error rates on a grid.

    python benchmarks/sequential_design_study.py > benchmarks/sequential-design-study.md
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

from conformance.sequential_design import design, expected_share

ALPHA, POWER = 0.025, 0.8


def _levels(spent: Callable[[float], float], looks: int) -> list[float]:
    cumulative = [spent(k / looks) for k in range(looks + 1)]
    return [cumulative[k] - cumulative[k - 1] for k in range(1, looks + 1)]


def obrien_fleming(t: float) -> float:
    """Lan & DeMets' O'Brien-Fleming-type spending, 2 - 2 Phi(z_(1 - alpha/2) / sqrt(t)) (the kit's before)."""
    from scipy.special import ndtr, ndtri

    return 0.0 if t <= 0 else float(2.0 * ndtr(-float(ndtri(1.0 - ALPHA / 2.0)) / math.sqrt(t)))


def families() -> list[tuple[str, Callable[[float], float]]]:
    out: list[tuple[str, Callable[[float], float]]] = [("O'Brien-Fleming type", obrien_fleming)]
    for gamma in (-4.0, -2.0, -1.0, 0.0, 1.0):
        if gamma == 0.0:
            out.append(("HSD gamma 0 (linear)", lambda t: ALPHA * t))
        else:
            out.append((f"HSD gamma {gamma:g}", lambda t, g=gamma: ALPHA * math.expm1(-g * t) / math.expm1(-g)))
    for rho in (1.5, 2.0, 3.0):
        out.append((f"power rho {rho:g}", lambda t, r=rho: ALPHA * t**r))
    return out


def sprt(people: int) -> tuple[float, float]:
    """(E[N] / n_fixed at the design point, at gap = tol) of the SPRT with exact errors, ``people`` a fixed design.

    One observation = one person in each group: the log-likelihood ratio moves by a normal step; the
    boundaries are solved (scipy's fsolve) for P(pass | tol) = alpha and P(pass | gap 0) = power.
    """
    import numpy as np
    from scipy.optimize import fsolve
    from scipy.special import ndtr, ndtri

    z = float(ndtri(1 - ALPHA) + ndtri(POWER))
    delta = z / math.sqrt(people)

    def run(upper: float, lower: float, mean_obs: float) -> tuple[float, float]:
        m, s = delta * mean_obs - delta * delta / 2, delta
        grid = np.linspace(lower, upper, 600)
        weights = np.full(grid.size, grid[1] - grid[0])
        weights[[0, -1]] *= 0.5
        kernel = np.exp(-0.5 * ((grid[:, None] - grid[None, :] - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
        density = np.exp(-0.5 * ((grid - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
        passed = float(1 - ndtr((upper - m) / s))
        steps = passed + float(ndtr((lower - m) / s))
        n, alive = 1, 1.0
        while alive > 1e-10 and n < 100 * people:
            n += 1
            mass = density * weights
            up = float(np.sum(mass * ndtr((grid + m - upper) / s)))
            low = float(np.sum(mass * ndtr((lower - grid - m) / s)))
            density = kernel @ mass
            passed += up
            steps += n * (up + low)
            alive = float(np.sum(density * weights))
        return passed, steps / people

    def errors(bounds: list[float]) -> list[float]:
        return [run(bounds[0], bounds[1], 0.0)[0] - ALPHA, run(bounds[0], bounds[1], delta)[0] - POWER]

    start = [math.log(POWER / ALPHA), math.log((1 - POWER) / (1 - ALPHA))]
    upper, lower = fsolve(errors, start, epsfcn=1e-4)
    return run(upper, lower, delta)[1], run(upper, lower, 0.0)[1]


def main() -> int:
    from scipy.special import ndtri

    z = float(ndtri(1 - ALPHA) + ndtri(POWER))
    lines = [
        "# Sequential designs by the group-sequential normal recursion",
        "",
        "Command: `python benchmarks/sequential_design_study.py > benchmarks/sequential-design-study.md`",
        "",
        f"One comparison, one-sided alpha {ALPHA:g} a direction held by the union bound, power {POWER:g} at the "
        "design point. Most people: the fixed design's times the inflation; expected people at a true gap of 0 and at "
        "3 x tol (drift ratio 2, and 1.35 as in the issue's design), as shares of the fixed design's; average of "
        "gap 0 and 3 x tol.",
        "",
        "| looks | spending | inflation | gap 0 | 3 x tol (ratio 2) | average | 3 x tol (ratio 1.35) | average |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for looks in (3, 4, 5, 6, 8, 10):
        for name, spent in families():
            levels = _levels(spent, looks)
            found = design(ALPHA, looks, POWER, levels)
            gap0 = found.share_at_design * found.inflation
            far = [
                expected_share(levels, ratio * z * math.sqrt(found.inflation)) * found.inflation for ratio in (2, 1.35)
            ]
            lines.append(
                f"| {looks} | {name} | {found.inflation:.3f} | {gap0:.3f} | {far[0]:.3f} | {(gap0 + far[0]) / 2:.3f} | "
                f"{far[1]:.3f} | {(gap0 + far[1]) / 2:.3f} |"
            )
    bound = (POWER * math.log(POWER / ALPHA) + (1 - POWER) * math.log((1 - POWER) / (1 - ALPHA))) / (z * z / 2)
    at_null = (ALPHA * math.log(ALPHA / POWER) + (1 - ALPHA) * math.log((1 - ALPHA) / (1 - POWER))) / (z * z / 2)
    lines += [
        "",
        "## The least any sequential test can send at the design point",
        "",
        f"Information bound (continuous monitoring, no overshoot: Wald's SPRT attains it): E[N] / n_fixed >= "
        f"d({POWER:g} || {ALPHA:g}) / (z^2 / 2) = {bound:.4f} at the design point (gap 0), and {at_null:.4f} at the "
        f"tolerance, with z = z_(1-{ALPHA:g}) + z_{POWER:g} = {z:.4f}.",
        "",
        "| fixed design, people a group | SPRT with exact errors: E[N] / n_fixed at gap 0 | at the tolerance |",
        "|---:|---:|---:|",
    ]
    for people in (25, 225):
        design_point, null = sprt(people)
        lines.append(f"| {people} | {design_point:.4f} | {null:.4f} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
