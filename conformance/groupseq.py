"""Group-sequential boundaries from the looks' joint normal distribution: statistics that know nothing of the kit.

A group-sequential test looks at the data ``K`` times, at information fractions ``t_k = k / K``, and
spends its one-sided error ``alpha`` over the looks: by look ``k`` at most ``alpha(t_k)`` of it
(Lan & DeMets 1983). There are two ways to turn the increments ``alpha(t_k) - alpha(t_{k-1})`` into the
level each look tests at:

- **The union bound**: test look ``k`` at its increment. The error is at most the sum of the
  increments, ``alpha``, whatever the dependence between the looks; the looks after the first test
  far more strictly than they need to (the fifth of five at 0.0095 of 0.025 with Hwang-Shih-DeCani
  gamma -2).
- **The joint distribution** (:func:`joint_levels`): the standardised statistics of the looks are,
  to the normal approximation, a Brownian motion observed at ``t_k`` (``W_k sqrt(t_k)`` has independent
  increments; Jennison & Turnbull 2000, ch. 3). Each look's nominal level is solved so that the
  chance of crossing *first* at look ``k``, when the truth is on the boundary of the null hypothesis,
  is exactly the increment (the recursive numerical integration of Armitage, McPherson & Rowe 1969).
  The fifth of five looks then tests at 0.0174, not 0.0095, for the same ``alpha``: fewer people for
  the same power. The levels are *non-binding*: computed with the other direction's boundary ignored,
  so stopping for the other verdict (which removes paths) can only lower the error.

Only the pass side's boundary is computed; by symmetry the fail side's is the same. Nothing here is
specific to the kit; :mod:`conformance.sequential` chooses which a run uses, and ``conformance verify``
replays a report with the one it states.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

__all__ = ["hsd_spent", "joint_levels", "obf_spent"]

# Points over the region a path may still be in. The levels are defined by this computation: a report stating
# ``hsd(-2)/joint`` replays with the levels this grid gives, so changing it needs a new spending name (red team 17e
# F5). 2,001 points agree to 1e-4 of a level at up to 10 looks (tests); at 100 looks 4,001 differ by 1.2e-3.
_GRID = 1001
_SPAN = 10.0  # how many standard deviations of B the grid reaches on the side no boundary closes


def hsd_spent(alpha: float, fraction: float, gamma: float) -> float:
    """Hwang-Shih-DeCani spending ``alpha (1 - exp(-gamma t)) / (1 - exp(-gamma))`` (Hwang, Shih & DeCani 1990).

    Examples
    --------
    >>> round(hsd_spent(0.025, 0.2, -2.0), 6)
    0.001924
    """
    if gamma == 0.0:
        return alpha * fraction  # the limit as gamma goes to 0: spending in proportion to information
    return alpha * math.expm1(-gamma * fraction) / math.expm1(-gamma)


def obf_spent(alpha: float, fraction: float) -> float:
    """O'Brien-Fleming-type spending ``2 Phi(-z_{1 - alpha/2} / sqrt(t))`` (Lan & DeMets 1983).

    The lower tail, not ``2 - 2 Phi(x)``: that difference is 0 in floating point once the level is below 1e-16.
    """
    from scipy.special import ndtr, ndtri

    if fraction <= 0.0:
        return 0.0  # nothing is spent before the first look
    z = float(ndtri(1.0 - alpha / 2.0))
    return float(2.0 * ndtr(-z / math.sqrt(fraction)))


def joint_levels(increments: Sequence[float]) -> list[float]:
    """The one-sided nominal level of each of equally spaced looks so that look ``k`` first crosses with chance ``increments[k]``.

    ``increments``: the error spent at each look (they add up to the test's ``alpha``); a look spending
    nothing gets level 0 (it cannot stop on this side). The first look's level is its increment; each
    later one is at least its increment (the paths that crossed before are gone).

    Examples
    --------
    O'Brien-Fleming-type spending of 0.025 over 5 looks: the classic boundaries z = 4.877, 3.357, 2.680, 2.290, 2.031.

    >>> from scipy.special import ndtri
    >>> spent = [obf_spent(0.025, k / 5) for k in range(1, 6)]
    >>> levels = joint_levels([spent[0]] + [b - a for a, b in zip(spent, spent[1:])])
    >>> [round(float(ndtri(1 - level)), 3) for level in levels]
    [4.877, 3.357, 2.68, 2.29, 2.031]
    """
    # Nine significant digits: the same figures on every machine whatever order its BLAS sums in (a report states
    # them; verify replays them). Their accuracy is the grid's (above), not nine digits.
    return [float(f"{level:.9g}") for level in _joint_levels(tuple(float(i) for i in increments))]


@functools.lru_cache(maxsize=64)
def _joint_levels(increments: tuple[float, ...]) -> tuple[float, ...]:
    import numpy as np
    from scipy.optimize import brentq
    from scipy.special import ndtr

    looks = len(increments)
    if looks == 0:
        return ()
    if any(not math.isfinite(i) or i < 0.0 or i >= 1.0 for i in increments):
        raise ValueError(f"each look's increment must be in [0, 1), got {increments!r}")
    levels: list[float] = []
    # B_k = W_k sqrt(t_k) at drift 0: a pass at look k is B_k < -edge_k, edge_k = z_k sqrt(t_k).
    grid = density = None  # where the paths that have not crossed may be, and their density (sub-probability)
    before = 0.0
    for k, increment in enumerate(increments):
        t = (k + 1) / looks
        step = t - before
        sd = math.sqrt(step)
        if grid is None or density is None:
            if increment <= 0.0:
                levels.append(0.0)
                edge = math.inf
                low = -_SPAN * math.sqrt(t)
            else:
                levels.append(increment)
                edge = _z(increment) * math.sqrt(t)
                low = -edge
            grid = np.linspace(low, _SPAN * math.sqrt(t), _GRID)
            density = np.exp(-0.5 * (grid / sd) ** 2) / (sd * math.sqrt(2.0 * math.pi))
        else:
            weights = np.full(grid.size, grid[1] - grid[0])
            weights[[0, -1]] *= 0.5  # the trapezoid rule
            mass = density * weights
            if increment <= 0.0:
                levels.append(0.0)
                low = float(grid[0]) - _SPAN * sd
            else:
                g, m, s, target = grid, mass, sd, increment

                def crossing(e: float, g: object = g, m: object = m, s: float = s, target: float = target) -> float:
                    return float(np.sum(m * ndtr((-e - g) / s))) - target  # type: ignore[operator]

                remaining = float(np.sum(mass))
                if target >= remaining:
                    raise ValueError(
                        f"look {k + 1} cannot spend {target:g}: only {remaining:.3g} of the paths are still open"
                    )
                edge = float(brentq(crossing, -_SPAN * 4, _SPAN * 4, xtol=1e-12, rtol=1e-12))
                levels.append(float(ndtr(-edge / math.sqrt(t))))
                low = -edge
            new = np.linspace(low, _SPAN * math.sqrt(t), _GRID)
            kernel = np.exp(-0.5 * ((new[:, None] - grid[None, :]) / sd) ** 2) / (sd * math.sqrt(2.0 * math.pi))
            grid, density = new, kernel @ mass
        before = t
    return tuple(levels)


def _z(level: float) -> float:
    from scipy.special import ndtri

    return float(-ndtri(level))  # not ndtri(1 - level): 1 - level is 1.0 once the level is below 1e-16
