"""The statistics of a change between two reports: when a figure moved beyond noise.

Every change is a later report's figure against the first report's (for the gate: current against
baseline), worked out from what the two reports state: their counts and intervals, never their
photos. The maths is :mod:`conformance.stats`' (:func:`~conformance.stats.newcombe_interval`,
:func:`~conformance.stats.change_from_intervals`); what is chosen here is which method fits which
figure. A change is *beyond noise* when its two-sided interval excludes no change.

Rates and gaps (gender and face-search checks)
----------------------------------------------
- **A group's rate** that is a proportion (``rate == count / n``) of independent units (``n <=
  subjects``: at most one unit per subject, so the report's own interval is a score interval, not a
  subject bootstrap): Newcombe's hybrid score interval on the two ``(count, n)`` pairs.
- **Any other rate** (the overconfidence of ``confidence_calibration`` is not a proportion; a
  proportion over several photos per subject has a subject-bootstrap interval that Newcombe would
  ignore) and **every gap**: a normal approximation from the reported intervals. Each interval
  gives ``SE = half-width / z``, with ``z`` the standard normal quantile at that interval's own
  level (a gap's level is its comparison's, Bonferroni-adjusted when a check compares several
  groups); the change's interval is ``difference +/- z * sqrt(SE1**2 + SE2**2)``, and its
  statistic ``difference / sqrt(SE1**2 + SE2**2)`` gives a two-sided p-value.

Ratios and rates of the 1:1 differential checks
-----------------------------------------------
- **A ratio**, and **a rate whose two intervals lie above 0**: on the log scale. Each interval gives
  ``SE = (ln upper - ln lower) / (2 z)``, ``z`` the normal quantile at that interval's own level (a
  ratio's is Bonferroni-adjusted); the change is the factor ``later / first`` with interval
  ``exp(ln(later / first) +/- z sqrt(SE1**2 + SE2**2))``. Rates as small as FMRs have skewed
  intervals that a difference scale would misread.
- **A rate with a count of 0 or an interval reaching 0**: the difference, ``SE = half-width / z``.
- A ratio interval the report leaves open (a bound over a zero rate) gives no change.

All of them treat the two reports as **independent samples**. Two runs on the same photos (same
``dataset.content_hash``) are positively correlated, which makes the true variance of the change
smaller than the sum used here: the rule is then conservative, it misses some real changes and
flags fewer spurious ones. No multiplicity correction is made across the many groups and checks
compared.
"""

from __future__ import annotations

from .values import Change, Figure, FigureChange, Gap, Side

__all__ = ["bounds", "figure_change", "gap_change", "normal_change", "rate_change"]


def normal_change(
    first: float, first_ci: tuple[float, float], first_level: float,
    later: float, later_ci: tuple[float, float], later_level: float,
    level: float,
) -> Change:  # fmt: skip
    """``later - first`` at ``level`` with the normal approximation from the two reported intervals."""
    from ..stats import change_from_intervals

    moved = change_from_intervals(first, first_ci, first_level, later, later_ci, later_level, level)
    return Change(moved.estimate, moved.ci, level, "normal approximation", moved.statistic, moved.p_value)


def rate_change(first: Figure | None, later: Figure | None, level: float) -> Change | None:
    """A group's rate in a later report minus the first's; None where either has no rate (or interval)."""
    if first is None or later is None or first.rate is None or later.rate is None:
        return None
    if first.is_proportion and later.is_proportion and first.independent_units and later.independent_units:
        from ..stats import newcombe_interval

        ci = newcombe_interval(later.count, later.n, first.count, first.n, level)
        return Change(later.count / later.n - first.count / first.n, ci, level, "Newcombe")
    if first.ci is None or later.ci is None:
        return None
    return normal_change(first.rate, first.ci, first.level, later.rate, later.ci, later.level, level)


def gap_change(first: Gap | None, later: Gap | None, level: float) -> Change | None:
    """A gap in a later report minus the first's, against the same reference; None where it cannot be said."""
    if (
        first is None
        or later is None
        or first.reference != later.reference
        or first.difference is None
        or later.difference is None
        or first.ci is None
        or later.ci is None
    ):
        return None
    return normal_change(first.difference, first.ci, first.level, later.difference, later.ci, later.level, level)


def bounds(side: Side) -> tuple[float, float] | None:
    """Both bounds of a 1:1 figure's interval, or None where the report leaves one open."""
    if side.ci is None or side.ci[0] is None or side.ci[1] is None:
        return None
    return side.ci[0], side.ci[1]


def figure_change(first: Side | None, later: Side | None, level: float, *, ratio: bool) -> FigureChange | None:
    """A 1:1 figure of a later report against the first's at ``level``; None where it cannot be said."""
    from ..stats import change_from_intervals

    if first is None or later is None or first.value is None or later.value is None:
        return None
    a, b = bounds(first), bounds(later)
    if a is None or b is None:
        return None
    logs = a[0] > 0 and b[0] > 0 and first.value > 0 and later.value > 0
    if ratio and not logs:
        return None  # a ratio interval reaching 0: nothing to say on a ratio scale
    moved = change_from_intervals(first.value, a, first.level, later.value, b, later.level, level, log=logs)
    scale = "log" if logs else "difference"
    return FigureChange(scale, moved.estimate, moved.ci, level, moved.statistic, moved.p_value)
