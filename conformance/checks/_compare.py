"""The shared mechanism of rate checks: per-group rates, and each group's gap to the reference.

A rate check gives, per unit (a photo or a subject), a numerator and a denominator (0/1 each for a
proportion); units carry a cluster (their subject). Everything statistical is done here once, so
every check states its method the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .. import stats
from ..errors import ConformanceError
from ..results import Comparison, GroupRate, Verdict

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..policy import Policy

__all__ = ["Units", "compare_groups", "group_order"]


@dataclass(frozen=True)
class Units:
    """What a rate check counts: per unit a numerator, a denominator, its subject and its group.

    ``photos`` and ``subjects`` per group are reported as the data the group has, whatever the unit.
    ``proportion`` says the numerators are 0/1 counts (exact tests and Wilson intervals apply).
    """

    numerator: npt.NDArray[np.float64]
    denominator: npt.NDArray[np.float64]
    cluster: npt.NDArray[np.int64]
    group: npt.NDArray[np.str_]
    proportion: bool = True


def group_order(groups: Sequence[str], reference: str) -> list[str]:
    """Reference first, then the others sorted; raises if the reference is absent."""
    names = sorted({str(g) for g in groups})  # plain str, not numpy.str_, so results serialise anywhere
    if reference not in names:
        raise ConformanceError(
            f"reference group {reference!r} is not in the data (groups: {', '.join(names) or 'none'}); "
            "choose one with --reference"
        )
    return [reference, *(n for n in names if n != reference)]


def _cluster_sums(units: Units, mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    import numpy as np

    clusters, inverse = np.unique(units.cluster[mask], return_inverse=True)
    num = np.bincount(inverse, weights=units.numerator[mask], minlength=len(clusters)).astype(np.float64)
    den = np.bincount(inverse, weights=units.denominator[mask], minlength=len(clusters)).astype(np.float64)
    return num, den


def _mdg_from_interval(ci: tuple[float, float], confidence: float, power: float = 0.8) -> float:
    """Smallest detectable gap from an interval's half-width: (z_{1-a/2} + z_power) * SE."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    se = (ci[1] - ci[0]) / (2 * z)
    return float((z + norm.ppf(power)) * se)


def _compare_one(
    grp: GroupRate,
    ref: GroupRate,
    sums: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    ref_sums: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]],
    *,
    units: Units,
    clustered: bool,
    level: float,
    tolerance: float,
    policy: Policy,
    seed: int,
    default_method: str,
) -> Comparison:
    """One group against the reference (p_adjusted is filled in by the caller, across comparisons)."""
    import numpy as np

    blank = Comparison(
        group=grp.name,
        reference=ref.name,
        difference=None,
        ci=None,
        p_value=None,
        p_adjusted=None,
        tolerance=tolerance,
        verdict="inconclusive",
        method=default_method,
    )
    if grp.rate is None or ref.rate is None:
        return replace(blank, note=f"no units to compare in {grp.name if grp.rate is None else ref.name}")
    method = default_method
    sizes = (grp.n, ref.n)
    boundary = units.proportion and any(r.count in (0, r.n) for r in (grp, ref))
    if clustered and boundary:
        # With no events (or only events) in a group a bootstrap cannot vary and would claim
        # certainty; Newcombe on subject counts (the smallest effective sizes) stays honest.
        sizes = (int(np.count_nonzero(sums[1])), int(np.count_nonzero(ref_sums[1])))
        ci = stats.newcombe_interval(round(grp.rate * sizes[0]), sizes[0], round(ref.rate * sizes[1]), sizes[1], level)
        method = "Newcombe hybrid score on subject counts (a rate of 0 or 1 leaves a bootstrap nothing to vary)"
    elif clustered or not units.proportion:
        ci = stats.cluster_bootstrap_difference(
            *sums, *ref_sums, resamples=policy.bootstrap, confidence=level, seed=seed
        )
    else:
        ci = stats.newcombe_interval(grp.count, grp.n, ref.count, ref.n, level)
    p = stats.exact_p_value(grp.count, grp.n, ref.count, ref.n, policy.exact_test) if units.proportion else None
    small = min(grp.subjects, ref.subjects) < policy.min_subjects
    verdict: Verdict = "inconclusive" if small else stats.gap_verdict(ci, tolerance)
    note = (
        f"fewer than {policy.min_subjects} subjects ({grp.name}: {grp.subjects}, {ref.name}: {ref.subjects}); "
        "see min_subjects in the policy"
        if small
        else ""
    )
    mdg = None
    if verdict == "inconclusive" and not any(math.isnan(b) for b in ci):
        if units.proportion:
            mdg = stats.minimum_detectable_gap(
                sizes[0],
                sizes[1],
                ref.rate,
                confidence=level,
                design_effect=_design_effect(grp, ref, ci, level) if clustered and not boundary else 1.0,
            )
        else:
            mdg = _mdg_from_interval(ci, level)
    return replace(
        blank,
        difference=grp.rate - ref.rate,
        ci=ci,
        p_value=p,
        verdict=verdict,
        method=method,
        min_detectable=mdg,
        ratio=grp.rate / ref.rate if ref.rate else None,
        note=note,
    )


def _design_effect(grp: GroupRate, ref: GroupRate, ci: tuple[float, float], level: float) -> float:
    """Variance of the bootstrap interval over the variance independent photos would give (at least 1)."""
    from scipy.stats import norm

    assert grp.rate is not None
    assert ref.rate is not None
    wald = grp.rate * (1 - grp.rate) / grp.n + ref.rate * (1 - ref.rate) / ref.n
    if wald <= 0:
        return 1.0
    z = float(norm.ppf(0.5 + level / 2))
    return max(1.0, ((ci[1] - ci[0]) / (2 * z)) ** 2 / wald)


def compare_groups(
    units: Units,
    *,
    photo_group: npt.NDArray[np.str_],
    photo_subject: npt.NDArray[np.int64],
    reference: str,
    tolerance: float,
    policy: Policy,
    seed: int,
) -> tuple[dict[str, GroupRate], tuple[Comparison, ...], list[str], str]:
    """Per-group rates and gaps to ``reference``; returns (groups, comparisons, notes, method).

    Intervals of gaps are Newcombe's hybrid score interval when every subject contributes one unit,
    else a percentile bootstrap over subjects, stratified by group. With m comparisons, gap intervals
    are Bonferroni-adjusted (level 1 - (1 - confidence)/m) and p-values Holm-adjusted.
    """
    import numpy as np

    order = group_order(list(photo_group), reference)
    groups: dict[str, GroupRate] = {}
    notes: list[str] = []
    sums: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = {}
    clustered = False
    for name in order:
        mask = (units.group == name) & (units.denominator > 0)
        num, den = _cluster_sums(units, mask)
        sums[name] = (num, den)
        clustered = clustered or bool(np.any(den > 1))
        count, n = float(num.sum()), float(den.sum())
        rate = count / n if n > 0 else None
        if units.proportion:
            ci = stats.proportion_interval(round(count), int(n), policy.confidence, policy.interval) if n else None
        else:
            ci = (
                stats.cluster_bootstrap_interval(
                    num, den, resamples=policy.bootstrap, confidence=policy.confidence, seed=seed
                )
                if n
                else None
            )
        in_group = photo_group == name
        groups[name] = GroupRate(
            name=name,
            photos=int(in_group.sum()),
            subjects=len(np.unique(photo_subject[in_group])),
            count=round(count) if units.proportion else int(mask.sum()),
            n=int(n),
            rate=rate,
            ci=ci,
        )

    others = [g for g in order if g != reference]
    m = max(1, len(others))
    level = stats.adjusted_confidence(policy.confidence, m)
    gap_method = "bootstrap over subjects" if clustered else "Newcombe hybrid score"
    drafts = [
        _compare_one(
            groups[name],
            groups[reference],
            sums[name],
            sums[reference],
            units=units,
            clustered=clustered,
            level=level,
            tolerance=tolerance,
            policy=policy,
            seed=seed,
            default_method=gap_method,
        )
        for name in others
    ]
    adjusted = stats.holm([math.nan if c.p_value is None else c.p_value for c in drafts])
    comparisons = tuple(
        replace(c, p_adjusted=None if c.p_value is None or math.isnan(adj) else adj)
        for c, adj in zip(drafts, adjusted, strict=True)
    )
    if not others:
        notes.append(f"only the reference group {reference!r} is present: nothing to compare")
    per_group = (
        f"{'Clopper-Pearson' if policy.interval == 'clopper-pearson' else 'Wilson'} interval per group"
        if units.proportion
        else "percentile bootstrap over subjects per group"
    )
    method = (
        f"{per_group}; gap to {reference}: {gap_method} interval"
        f"{f' (Bonferroni-adjusted to {level:.4g} for {m} comparisons)' if m > 1 else ''}"
        f"{f', {policy.bootstrap} resamples, seed {seed}' if clustered or not units.proportion else ''}"
        f"{f'; {policy.exact_test} exact test p-values, Holm-adjusted' if units.proportion else ''}"
        f"{' (the test treats units as independent)' if units.proportion and clustered else ''}"
        f"; verdict: fail if the interval lies above tolerance {tolerance:g}, pass if at or below it"
    )
    return groups, comparisons, notes, method
