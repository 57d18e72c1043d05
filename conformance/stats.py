"""Statistics behind every verdict: intervals, exact tests, multiplicity, bootstrap, power.

Each function returns plain floats so that checks can put them straight into a
:class:`~conformance.results.Comparison`. Methods that scipy or statsmodels already implement are
delegated to them; only the subject-level bootstrap, Holm's step-down, the detectable gap and the
verdict rule are written here.

numpy, scipy and statsmodels are imported inside the functions that use them, so importing this
module (and with it the pytest plugin) costs nothing measurable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from conformance.results import Verdict

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "adjusted_confidence",
    "cluster_bootstrap_difference",
    "cluster_bootstrap_interval",
    "exact_p_value",
    "gap_verdict",
    "holm",
    "minimum_detectable_gap",
    "newcombe_interval",
    "proportion_interval",
]

_NAN = math.nan
_INTERVAL_METHODS = ("wilson", "clopper-pearson")
_EXACT_METHODS = ("fisher", "boschloo")

# Indices drawn per bootstrap chunk: 1 MiB of int64 (and as much again for the gathered values),
# whatever the group size, so 40,000 subjects x 10,000 resamples never sits in memory. Small
# enough to stay in a core's L2 cache between the draw, the two gathers and the two sums: 1 << 22
# (34 MB) ran about 35% slower at 5,000 to 17,000 subjects, 1 << 14 a little slower (loop overhead).
_CHUNK_CELLS = 1 << 17


def _check_confidence(confidence: float, name: str = "confidence") -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {confidence!r}")


def _check_counts(count: int, n: int, label: str = "") -> None:
    if not 0 <= count <= n:
        raise ValueError(f"counts{label} must satisfy 0 <= count <= n, got count={count!r}, n={n!r}")


def proportion_interval(count: int, n: int, confidence: float = 0.95, method: str = "wilson") -> tuple[float, float]:
    """Two-sided confidence interval for a binomial proportion ``count / n``.

    Parameters
    ----------
    count, n
        Successes (for instance misgendered photos) and trials (photos with a face).
    confidence
        Coverage of the interval, e.g. ``0.95``.
    method
        ``"wilson"`` (score interval, the default) or ``"clopper-pearson"`` (exact, from beta
        quantiles; at ``count == 0`` it is ``[0, 1 - (alpha/2)**(1/n)]``).

    Returns
    -------
    tuple of float
        ``(lower, upper)`` within ``[0, 1]``; ``(nan, nan)`` when ``n == 0``.

    Raises
    ------
    ValueError
        For an unknown ``method``, counts outside ``0 <= count <= n``, or a bad ``confidence``.

    Examples
    --------
    >>> lo, hi = proportion_interval(12, 300)
    >>> round(lo, 4), round(hi, 4)
    (0.023, 0.0686)
    >>> round(proportion_interval(0, 10, method="clopper-pearson")[1], 4)
    0.3085
    """
    if method not in _INTERVAL_METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, _INTERVAL_METHODS))}; got {method!r}")
    _check_confidence(confidence)
    _check_counts(count, n)
    if n == 0:
        return (_NAN, _NAN)
    from statsmodels.stats.proportion import proportion_confint

    sm_method = "beta" if method == "clopper-pearson" else "wilson"
    lower, upper = proportion_confint(count, n, alpha=1.0 - confidence, method=sm_method)
    # At the boundaries both limits are exactly 0 and 1 by algebra; pinning them removes the
    # rounding residue that would otherwise put the estimate a hair outside its own interval.
    low = 0.0 if count == 0 else min(max(float(lower), 0.0), count / n)
    high = 1.0 if count == n else max(min(float(upper), 1.0), count / n)
    return (low, high)


def newcombe_interval(count1: int, n1: int, count2: int, n2: int, confidence: float = 0.95) -> tuple[float, float]:
    """Newcombe's hybrid score interval for ``p1 - p2`` of two independent proportions.

    Method 10 of Newcombe (1998, Stat Med 17:873): the difference's limits are built from each
    group's Wilson score limits, ``d - sqrt((p1-l1)**2 + (u2-p2)**2)`` to
    ``d + sqrt((u1-p1)**2 + (p2-l2)**2)``. Computed by statsmodels
    (``confint_proportions_2indep(method="newcomb")``).

    Parameters
    ----------
    count1, n1
        The group's count and size (``p1 = count1 / n1``).
    count2, n2
        The reference group's count and size.
    confidence
        Coverage of the interval.

    Returns
    -------
    tuple of float
        ``(lower, upper)`` within ``[-1, 1]``; ``(nan, nan)`` if either size is 0.

    Examples
    --------
    >>> lo, hi = newcombe_interval(56, 70, 48, 80)
    >>> round(lo, 4), round(hi, 4)
    (0.0524, 0.3339)
    """
    _check_confidence(confidence)
    _check_counts(count1, n1, " of group 1")
    _check_counts(count2, n2, " of group 2")
    if n1 == 0 or n2 == 0:
        return (_NAN, _NAN)
    from statsmodels.stats.proportion import confint_proportions_2indep

    lower, upper = confint_proportions_2indep(
        count1, n1, count2, n2, method="newcomb", compare="diff", alpha=1.0 - confidence
    )
    estimate = count1 / n1 - count2 / n2
    # Same reason as in proportion_interval: keep rounding from pushing a limit past the estimate.
    return (min(max(float(lower), -1.0), estimate), max(min(float(upper), 1.0), estimate))


def exact_p_value(count1: int, n1: int, count2: int, n2: int, method: str = "fisher") -> float:
    """Two-sided exact p-value for ``p1 == p2`` on the 2x2 table of two independent groups.

    Parameters
    ----------
    count1, n1, count2, n2
        Each group's count and size.
    method
        ``"fisher"`` (conditional, ``scipy.stats.fisher_exact``) or ``"boschloo"``
        (unconditional and more powerful, ``scipy.stats.boschloo_exact``, which defines the
        two-sided p-value as twice the smaller one-sided one).

    Returns
    -------
    float
        The p-value; ``nan`` if either size is 0.

    Examples
    --------
    Fisher's tea-tasting table:

    >>> round(exact_p_value(3, 4, 1, 4), 4)
    0.4857
    """
    if method not in _EXACT_METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, _EXACT_METHODS))}; got {method!r}")
    _check_counts(count1, n1, " of group 1")
    _check_counts(count2, n2, " of group 2")
    if n1 == 0 or n2 == 0:
        return _NAN
    from scipy.stats import boschloo_exact, fisher_exact

    # Columns are the two groups: boschloo_exact treats each column as one binomial sample.
    table = [[count1, count2], [n1 - count1, n2 - count2]]
    if method == "fisher":
        return float(fisher_exact(table, alternative="two-sided").pvalue)
    return float(boschloo_exact(table, alternative="two-sided").pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given.

    With the ``m`` non-missing p-values sorted, ``p_(1) <= ... <= p_(m)``, the adjusted value of
    ``p_(j)`` is ``min(1, max_{i <= j} (m - i + 1) * p_(i))``. ``nan`` entries are passed
    through and do not count towards ``m``.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, 0.005])
    [0.03, 0.06, 0.06, 0.02]
    """
    present = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    for i in present:
        if not 0.0 <= p_values[i] <= 1.0:
            raise ValueError(f"p-values must lie in [0, 1] (or be nan), got {p_values[i]!r} at {i}")
    adjusted = [float(p) for p in p_values]
    m = len(present)
    running = 0.0
    for rank, i in enumerate(sorted(present, key=lambda k: p_values[k])):
        # The running maximum keeps the adjusted values in the order of the raw ones.
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _as_cluster_arrays(num: ArrayLike, den: ArrayLike, label: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    import numpy as np

    num_arr = np.asarray(num, dtype=np.float64)
    den_arr = np.asarray(den, dtype=np.float64)
    if num_arr.ndim != 1 or den_arr.ndim != 1 or num_arr.shape != den_arr.shape:
        raise ValueError(
            f"{label}: numerator and denominator must be 1-D with one entry per subject, "
            f"got shapes {num_arr.shape} and {den_arr.shape}"
        )
    if not (np.isfinite(num_arr).all() and np.isfinite(den_arr).all()):
        raise ValueError(f"{label}: per-subject sums must be finite")
    if (den_arr < 0).any():
        raise ValueError(f"{label}: per-subject denominators must be >= 0")
    return (num_arr, den_arr)


def _resampled_ratios(
    rng: np.random.Generator, num: NDArray[np.float64], den: NDArray[np.float64], resamples: int
) -> NDArray[np.float64]:
    """``sum(num)/sum(den)`` over ``resamples`` resamples of the subjects (nan where the den is 0)."""
    import numpy as np

    subjects = num.size
    num_sums = np.empty(resamples)
    den_sums = np.empty(resamples)
    rows = max(1, _CHUNK_CELLS // subjects)
    # One iteration per chunk of resamples, not per resample. Successive draws continue the
    # generator's stream, so the result does not depend on the chunk size.
    for start in range(0, resamples, rows):
        stop = min(start + rows, resamples)
        picks = rng.integers(0, subjects, size=(stop - start, subjects))
        # take(mode="clip") skips the bounds check fancy indexing makes: the picks are in range by construction.
        num.take(picks, mode="clip").sum(axis=1, out=num_sums[start:stop])
        den.take(picks, mode="clip").sum(axis=1, out=den_sums[start:stop])
    ratios = np.full(resamples, np.nan)
    np.divide(num_sums, den_sums, out=ratios, where=den_sums != 0)
    return ratios


def _cluster_bootstrap(
    groups: Sequence[tuple[ArrayLike, ArrayLike]],
    combine: Callable[[list[NDArray[np.float64]]], NDArray[np.float64]],
    resamples: int,
    confidence: float,
    seed: int,
) -> tuple[float, float]:
    """The one bootstrap mechanism: resample subjects within each group, percentile interval.

    Group ``i`` draws from child stream ``i`` of ``default_rng(seed)``, so a group's resamples
    are the same whether it is bootstrapped alone or against a reference.
    """
    import numpy as np

    _check_confidence(confidence)
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples!r}")
    arrays = [_as_cluster_arrays(num, den, f"group {i + 1}") for i, (num, den) in enumerate(groups)]
    if any(num.size == 0 for num, _ in arrays):
        return (_NAN, _NAN)
    rngs = np.random.default_rng(seed).spawn(len(arrays))
    ratios = [_resampled_ratios(rng, num, den, resamples) for rng, (num, den) in zip(rngs, arrays, strict=True)]
    statistic = combine(ratios)
    kept = int(np.isfinite(statistic).sum())
    if 2 * kept < resamples:
        return (_NAN, _NAN)
    tail = (1.0 - confidence) / 2.0
    lower, upper = np.nanquantile(statistic, [tail, 1.0 - tail])
    return (float(lower), float(upper))


def cluster_bootstrap_difference(
    num_a: ArrayLike,
    den_a: ArrayLike,
    num_b: ArrayLike,
    den_b: ArrayLike,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval for ``sum(num_a)/sum(den_a) - sum(num_b)/sum(den_b)``.

    Resamples **subjects**, not photos: entry ``i`` of ``num_a``/``den_a`` is subject ``i``'s
    sums over its photos in group a (misgendered photos, photos with a face). Subjects are drawn
    with replacement within each group independently, which keeps each subject's photos together
    and so carries their correlation into the interval.

    Parameters
    ----------
    num_a, den_a, num_b, den_b
        Per-subject numerator and denominator sums for groups a and b.
    resamples
        Bootstrap resamples. Those in which a denominator sums to 0 are dropped.
    confidence
        Coverage of the interval.
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same interval.

    Returns
    -------
    tuple of float
        ``(lower, upper)``; ``(nan, nan)`` if a group is empty or fewer than half the resamples
        have both denominators positive.

    Examples
    --------
    >>> lo, hi = cluster_bootstrap_difference([4, 0, 4, 0], [4, 4, 4, 4], [0, 0, 4, 0], [4, 4, 4, 4])
    >>> lo <= 0.25 <= hi
    True
    """

    def difference(ratios: list[NDArray[np.float64]]) -> NDArray[np.float64]:
        return ratios[0] - ratios[1]

    return _cluster_bootstrap([(num_a, den_a), (num_b, den_b)], difference, resamples, confidence, seed)


def cluster_bootstrap_interval(
    num: ArrayLike,
    den: ArrayLike,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval for one group's ratio ``sum(num)/sum(den)``, over subjects.

    The same mechanism as :func:`cluster_bootstrap_difference`; with the same ``seed`` this
    group's resamples are those it gets there as group a.

    Returns
    -------
    tuple of float
        ``(lower, upper)``; ``(nan, nan)`` if there are no subjects or fewer than half the
        resamples have a positive denominator.

    Examples
    --------
    >>> lo, hi = cluster_bootstrap_interval([1, 0, 2, 0, 1], [2, 1, 2, 1, 2])
    >>> 0.0 <= lo <= 0.5 <= hi <= 1.0
    True
    """

    def ratio(ratios: list[NDArray[np.float64]]) -> NDArray[np.float64]:
        return ratios[0]

    return _cluster_bootstrap([(num, den)], ratio, resamples, confidence, seed)


def minimum_detectable_gap(
    n_group: float,
    n_reference: float,
    p_reference: float,
    *,
    confidence: float = 0.95,
    power: float = 0.8,
    design_effect: float = 1.0,
) -> float:
    """Smallest increase over ``p_reference`` that a two-sided test would detect with ``power``.

    Uses the sample-size formula for two independent proportions without continuity correction
    (Fleiss, *Statistical Methods for Rates and Proportions*; Fleiss, Tytun & Ury 1980 for
    unequal sizes), solved for the gap ``d`` rather than for ``n``. With ``p1 = p0 + d``,
    ``pbar = (n_g p1 + n_r p0) / (n_g + n_r)`` and ``z_x`` the standard normal quantile:

        d = z_{1-alpha/2} sqrt(pbar (1-pbar) (1/n_g + 1/n_r)) + z_{power} sqrt(p1 q1/n_g + p0 q0/n_r)

    where ``alpha = 1 - confidence`` and ``n_g``, ``n_r`` are the sizes divided by
    ``design_effect`` (effective sizes under clustering). The root is found with
    ``scipy.optimize.brentq``.

    Parameters
    ----------
    n_group, n_reference
        Units (photos or subjects) in the group and in the reference group.
    p_reference
        The reference group's rate ``p0``.
    confidence, power
        Test level ``1 - alpha`` and power (at least 0.5).
    design_effect
        Variance inflation from clustering, e.g. ``1 + (m - 1) * icc``.

    Returns
    -------
    float
        The gap ``d``; ``nan`` if a size is 0; ``1 - p_reference`` if even that is not
        detectable.

    Examples
    --------
    Fleiss' example: 199 per group detect 0.10 against 0.20 at 5% two-sided with 80% power.

    >>> round(minimum_detectable_gap(199, 199, 0.10), 3)
    0.1
    """
    _check_confidence(confidence)
    if not 0.5 <= power < 1.0:
        raise ValueError(f"power must lie in [0.5, 1), got {power!r}")
    if not 0.0 <= p_reference <= 1.0:
        raise ValueError(f"p_reference must lie in [0, 1], got {p_reference!r}")
    if n_group < 0 or n_reference < 0:
        raise ValueError(f"sizes must be >= 0, got n_group={n_group!r}, n_reference={n_reference!r}")
    if not design_effect > 0:
        raise ValueError(f"design_effect must be positive, got {design_effect!r}")
    if n_group == 0 or n_reference == 0:
        return _NAN
    from scipy.optimize import brentq
    from scipy.stats import norm

    n_g = n_group / design_effect
    n_r = n_reference / design_effect
    p0 = p_reference
    cap = 1.0 - p0
    z_alpha = float(norm.ppf(1.0 - (1.0 - confidence) / 2.0))
    z_power = float(norm.ppf(power))

    def shortfall(d: float) -> float:
        p1 = p0 + d
        pbar = (n_g * p1 + n_r * p0) / (n_g + n_r)
        null_se = math.sqrt(max(pbar * (1.0 - pbar), 0.0) * (1.0 / n_g + 1.0 / n_r))
        alt_se = math.sqrt(max(p1 * (1.0 - p1), 0.0) / n_g + p0 * (1.0 - p0) / n_r)
        return d - (z_alpha * null_se + z_power * alt_se)

    if cap <= 0.0 or shortfall(cap) < 0.0:
        return cap
    # power >= 0.5 makes z_power >= 0, so both standard errors enter with a positive weight; each
    # is the root of a concave quadratic in d, so shortfall is convex and has one root in (0, cap].
    low = 0.0
    if shortfall(low) >= 0.0:  # only when p0 == 0, where shortfall(0) == 0 exactly
        low = cap * 1e-12
    return float(brentq(shortfall, low, cap, xtol=1e-12))


def gap_verdict(ci: tuple[float, float], tolerance: float) -> Verdict:
    """The verdict a gap's interval earns against a tolerance.

    ``"fail"`` when the whole interval lies above the tolerance, ``"pass"`` when it lies at or
    below it, ``"inconclusive"`` otherwise, including when a bound is ``nan``.

    Examples
    --------
    >>> gap_verdict((0.21, 0.33), 0.05), gap_verdict((-0.02, 0.05), 0.05), gap_verdict((0.0, 0.1), 0.05)
    ('fail', 'pass', 'inconclusive')
    """
    lower, upper = ci
    if math.isnan(lower) or math.isnan(upper):
        return "inconclusive"
    if lower > tolerance:
        return "fail"
    if upper <= tolerance:
        return "pass"
    return "inconclusive"


def adjusted_confidence(confidence: float, m: int) -> float:
    """Bonferroni-adjusted level ``1 - (1 - confidence) / m`` for a check making ``m`` comparisons.

    Used for the verdict intervals so that all ``m`` of them hold together with probability at
    least ``confidence``. ``m <= 1`` returns ``confidence`` unchanged.

    Examples
    --------
    >>> round(adjusted_confidence(0.95, 5), 10)
    0.99
    """
    _check_confidence(confidence)
    if m <= 1:
        return confidence
    return 1.0 - (1.0 - confidence) / m
