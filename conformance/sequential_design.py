"""What a sequential design costs and saves, computed before any photo is sent: the group-sequential normal recursion.

``conformance run --sequential`` tests each verdict direction at look ``k`` at the level ``alpha_k`` its
error spending gives (:func:`conformance.sequential.look_levels`: solved on the looks' joint normal
distribution, or under the union bound for reports made before). To plan such a run, and to say what it
will probably send, the kit reads
the looks as the textbook does (Jennison & Turnbull 2000, ch. 19): the standardised gap
``W_k = (estimate_k - tolerance) / se_k`` at information fraction ``t_k`` is normal with mean
``drift * sqrt(t_k)`` and ``B_k = W_k sqrt(t_k)`` a Brownian motion with drift ``drift``; a pass at
look ``k`` is ``W_k < -z_k``, a fail ``W_k > z_k``, ``z_k = Phi^-1(1 - alpha_k)``. The recursion over a
grid of ``B`` gives each look's stopping probabilities, hence the power and the expected share of the
people sent, at any drift. The drift at the most people a run may send follows from the fixed plan:
a fixed design of ``n`` people with power ``p`` at one-sided ``alpha`` has drift ``z_{1-alpha} + z_p``,
and drift grows as the square root of the people.

This is a planning model (normal, one comparison), not the verdict: the verdicts are the checks'
own intervals at each look's level. ``benchmarks/sequential_audit.py`` measures how close the two are:
its expected photos were too few (0.788 of the fixed plan's at a true gap of 0 where the checks sent
0.978: the recursion reads a pass one-sided, where the kit's pass needs its interval inside the tolerance
on both sides), so ``plan --sequential`` draws the run for the rate checks instead
(:func:`conformance.planning.simulation.simulated_sequential`) and keeps these figures, labelled, for
the others; the preflight's :func:`expected_sent` is still this model's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["SequentialDesign", "design", "expected_sent", "expected_share", "stopping"]

_GRID = 401  # points of the grid over B between the boundaries: the results agree with 2,001 to 1e-5


def stopping(levels: Sequence[float], drift: float) -> tuple[list[float], list[float]]:
    """(pass, fail) probability at each of equally spaced looks testing at ``levels``, at full-information ``drift``.

    ``drift`` is the mean of ``W`` at the last look: negative below the tolerance (towards a pass).

    Examples
    --------
    One look is the fixed design: a pass with probability Phi(-z_alpha - drift).

    >>> round(stopping([0.025], -2.8016)[0][0], 4)
    0.8
    """
    import numpy as np
    from scipy.special import ndtr, ndtri

    looks = len(levels)
    fractions = [(k + 1) / looks for k in range(looks)]
    passes, fails = [0.0] * looks, [0.0] * looks
    grid = density = None
    before = 0.0
    for k, (level, t) in enumerate(zip(levels, fractions, strict=True)):
        step = t - before
        sd, mean = math.sqrt(step), drift * step
        edge = float(ndtri(1.0 - level)) * math.sqrt(t)  # the boundary on the B scale
        if grid is None or density is None:
            passes[k] = float(ndtr((-edge - mean) / sd))
            fails[k] = float(ndtr((mean - edge) / sd))
            grid = np.linspace(-edge, edge, _GRID)
            density = np.exp(-0.5 * ((grid - mean) / sd) ** 2) / (sd * math.sqrt(2.0 * math.pi))
        else:
            weights = np.full(grid.size, grid[1] - grid[0])
            weights[[0, -1]] *= 0.5  # the trapezoid rule over the region still open
            mass = density * weights
            passes[k] = float(np.sum(mass * ndtr((-edge - grid - mean) / sd)))
            fails[k] = float(np.sum(mass * ndtr((grid + mean - edge) / sd)))
            new = np.linspace(-edge, edge, _GRID)
            kernel = np.exp(-0.5 * ((new[:, None] - grid[None, :] - mean) / sd) ** 2) / (sd * math.sqrt(2.0 * math.pi))
            grid, density = new, kernel @ mass
        before = t
    return passes, fails


def expected_share(levels: Sequence[float], drift: float) -> float:
    """The expected share of the most people a run sends: look ``k`` of ``K`` sends ``k / K`` of them."""
    passes, fails = stopping(levels, drift)
    looks = len(levels)
    stopped = [p + f for p, f in zip(passes, fails, strict=True)]
    early = sum((k + 1) / looks * s for k, s in enumerate(stopped[:-1]))
    return early + (1.0 - sum(stopped[:-1]))  # the last look, when reached, sends everyone


@dataclass(frozen=True)
class SequentialDesign:
    """A sequential design against the fixed one of the same power: how many more people at most, how many expected.

    ``inflation``: the most people the run may send, as a multiple of the fixed design's (for the same
    power at the design point); ``share_at_design``: the expected share of those most people sent when
    the truth is at the design point; ``power``, ``alpha``, ``looks``: what it was computed for.
    """

    looks: int
    alpha: float
    power: float
    inflation: float
    share_at_design: float

    def drift(self, fixed_people: float, most_people: float) -> float:
        """|drift| at ``most_people`` for a direction whose fixed design needs ``fixed_people`` for this power."""
        from scipy.special import ndtri

        return float(ndtri(1.0 - self.alpha) + ndtri(self.power)) * math.sqrt(most_people / fixed_people)

    def expected_people(self, fixed_people: float, most_people: float) -> float:
        """Expected people sent, at the truth a fixed design of ``fixed_people`` has this power at, of ``most_people``."""
        from .sequential import look_levels

        share = expected_share(look_levels(self.alpha, self.looks), -self.drift(fixed_people, most_people))
        return share * most_people


def design(alpha: float, looks: int, power: float, levels: Sequence[float] | None = None) -> SequentialDesign:
    """The :class:`SequentialDesign` of ``looks`` looks spending ``alpha`` (the kit's spending) for ``power``.

    ``levels``: each look's share of ``alpha`` under another spending (a design study); default the kit's.

    Examples
    --------
    >>> plan = design(0.025, 5, 0.8)
    >>> round(plan.inflation, 3), round(plan.share_at_design * plan.inflation, 3)
    (1.065, 0.787)
    """
    from scipy.optimize import brentq
    from scipy.special import ndtri

    from .sequential import look_levels

    levels = look_levels(alpha, looks) if levels is None else list(levels)
    fixed = float(ndtri(1.0 - alpha) + ndtri(power))

    def shortfall(ratio: float) -> float:
        return sum(stopping(levels, -fixed * math.sqrt(ratio))[0]) - power

    # One look needs no more than the fixed design; spending over looks needs more, never 4 times as many.
    inflation = 1.0 if len(levels) == 1 else float(brentq(shortfall, 1.0, 4.0, xtol=1e-6))
    share = expected_share(levels, -fixed * math.sqrt(inflation))
    return SequentialDesign(looks, alpha, power, inflation, share)


def expected_sent(cumulative: Sequence[int], alpha: float, power: float = 0.8) -> float:
    """Photos a run with looks of ``cumulative`` photos is expected to send, on data sized by ``plan --sequential``.

    The data sized for ``power`` at the design point (the most people ``conformance plan --sequential``
    asks for) and the truth at that design point (a true gap of 0, or the fail scenario if that needed
    more people): the larger of the two plan's expectations. Farther from the tolerance it sends fewer;
    at the tolerance itself, or on data smaller than planned, more (up to every photo).
    """
    from scipy.special import ndtri

    from .sequential import look_levels

    looks = len(cumulative)
    found = design(alpha, looks, power)
    drift = -float(ndtri(1.0 - alpha) + ndtri(power)) * math.sqrt(found.inflation)
    passes, fails = stopping(look_levels(alpha, looks), drift)
    stopped = [p + f for p, f in zip(passes, fails, strict=True)]
    early = sum(n * s for n, s in zip(cumulative[:-1], stopped[:-1], strict=True))
    return early + (1.0 - sum(stopped[:-1])) * cumulative[-1]
