"""The shared mechanism of rate checks: per-group rates, and each group's gap to the reference.

A rate check gives, per unit (a photo or a subject), a numerator and a denominator (0/1 each for a
proportion); units carry a cluster (their subject). Everything statistical is done here once, so
every check states its method the same way:

- independent units (every subject contributes one unit): Wilson (or Clopper-Pearson) per group,
  Newcombe's hybrid score interval for gaps;
- repeated subjects: percentile bootstrap over subjects, per group and for gaps, except where a
  group's rate is 0 or 1, which leaves a bootstrap nothing to vary: there the score intervals are
  computed on subject counts, the smallest effective sample sizes, instead of claiming certainty;
- several comparisons: gap intervals Bonferroni-adjusted, exact-test p-values Holm-adjusted;
- groups with fewer contributing subjects than ``min_subjects`` are inconclusive.
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

_ON_SUBJECTS = "a subject bootstrap has nothing to vary here (a rate of 0 or 1, one subject, or identical subjects): interval on subject counts"


@dataclass(frozen=True)
class Units:
    """What a rate check counts: per unit a numerator, a denominator, its subject and its group.

    ``photos`` and ``subjects`` per group are reported as the data the group has, whatever the unit.
    ``proportion`` says the numerators are 0/1 counts (exact tests and score intervals apply).
    """

    numerator: npt.NDArray[np.float64]
    denominator: npt.NDArray[np.float64]
    cluster: npt.NDArray[np.int64]
    group: npt.NDArray[np.str_]
    proportion: bool = True


@dataclass(frozen=True)
class _Sums:
    """One group's per-subject sums, and whether its rate sits at 0 or 1."""

    num: npt.NDArray[np.float64]
    den: npt.NDArray[np.float64]

    @property
    def subjects(self) -> int:
        """Subjects the rate rests on (with at least one unit)."""
        return int((self.den > 0).sum())

    @property
    def at_boundary(self) -> bool:
        """Whether a subject bootstrap has nothing to vary: a rate of 0 or 1, or fewer than two subjects."""
        total, n = float(self.num.sum()), float(self.den.sum())
        return n > 0 and (total == 0 or total == n or self.subjects < 2)

    def on_subjects(self) -> tuple[int, int]:
        """The rate as a count over subjects, for score intervals when a bootstrap cannot vary."""
        n = self.subjects
        return round(float(self.num.sum()) / float(self.den.sum()) * n), n


def group_order(groups: Sequence[str], reference: str) -> list[str]:
    """Reference first, then the others sorted; raises if the reference is absent."""
    names = sorted({str(g) for g in groups})  # plain str, not numpy.str_, so results serialise anywhere
    if reference not in names:
        raise ConformanceError(
            f"reference group {reference!r} is not in the data (groups: {', '.join(names) or 'none'}); "
            "choose one with --reference"
        )
    return [reference, *(n for n in names if n != reference)]


def _cluster_sums(units: Units, mask: npt.NDArray[np.bool_]) -> _Sums:
    import numpy as np

    clusters, inverse = np.unique(units.cluster[mask], return_inverse=True)
    num = np.bincount(inverse, weights=units.numerator[mask], minlength=len(clusters)).astype(np.float64)
    den = np.bincount(inverse, weights=units.denominator[mask], minlength=len(clusters)).astype(np.float64)
    return _Sums(num, den)


def _group_interval(
    sums: _Sums, units: Units, clustered: bool, policy: Policy, seed: int
) -> tuple[tuple[float, float] | None, str]:
    """A group's interval and the name of the method that made it."""
    count, n = float(sums.num.sum()), float(sums.den.sum())
    if n == 0:
        return None, ""
    score = "Clopper-Pearson" if policy.interval == "clopper-pearson" else "Wilson"
    if units.proportion and not clustered:
        return stats.proportion_interval(round(count), int(n), policy.confidence, policy.interval), score
    if units.proportion and sums.at_boundary:
        k, m = sums.on_subjects()
        return stats.proportion_interval(k, m, policy.confidence, policy.interval), f"{score} on subject counts"
    if not units.proportion and sums.subjects < 2:
        return None, "no interval with fewer than two subjects"
    ci = stats.cluster_bootstrap_interval(
        sums.num, sums.den, resamples=policy.bootstrap, confidence=policy.confidence, seed=seed
    )
    if units.proportion and ci[0] == ci[1]:
        # Every subject has the same rate: the bootstrap cannot vary, which is not certainty.
        k, m = sums.on_subjects()
        return stats.proportion_interval(k, m, policy.confidence, policy.interval), f"{score} on subject counts"
    return ci, "bootstrap over subjects"


def _mdg_from_interval(ci: tuple[float, float], confidence: float, power: float = 0.8) -> float:
    """Smallest detectable gap from an interval's half-width: (z_{1-a/2} + z_power) * SE."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    se = (ci[1] - ci[0]) / (2 * z)
    return float((z + norm.ppf(power)) * se)


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


def _compare_one(
    grp: GroupRate,
    ref: GroupRate,
    sums: _Sums,
    ref_sums: _Sums,
    *,
    units: Units,
    clustered: bool,
    level: float,
    tolerance: float,
    policy: Policy,
    seed: int,
) -> Comparison:
    """One group against the reference (p_adjusted is filled in by the caller, across comparisons)."""
    method = "bootstrap over subjects" if clustered or not units.proportion else "Newcombe hybrid score"
    blank = Comparison(
        group=grp.name,
        reference=ref.name,
        difference=None,
        ci=None,
        p_value=None,
        p_adjusted=None,
        tolerance=tolerance,
        verdict="inconclusive",
        method="none",
        level=level,
    )
    if grp.rate is None or ref.rate is None:
        empty = grp.name if grp.rate is None else ref.name
        return replace(blank, note=f"cannot compare {grp.name} with {ref.name}: {empty} has nothing this check counts")
    notes = []
    sizes = (grp.n, ref.n)
    boundary = units.proportion and clustered and (sums.at_boundary or ref_sums.at_boundary)
    if boundary:
        (k1, n1), (k2, n2) = sums.on_subjects(), ref_sums.on_subjects()
        ci = stats.newcombe_interval(k1, n1, k2, n2, level)
        sizes = (n1, n2)
        method = "Newcombe on subject counts"
        notes.append(_ON_SUBJECTS)
    elif clustered or not units.proportion:
        ci = stats.cluster_bootstrap_difference(
            sums.num, sums.den, ref_sums.num, ref_sums.den, resamples=policy.bootstrap, confidence=level, seed=seed
        )
        if units.proportion and ci[0] == ci[1]:
            # Subjects with identical rates leave the bootstrap nothing to vary: use subject counts.
            (k1, n1), (k2, n2) = sums.on_subjects(), ref_sums.on_subjects()
            ci = stats.newcombe_interval(k1, n1, k2, n2, level)
            sizes, boundary, method = (n1, n2), True, "Newcombe on subject counts"
            notes.append(_ON_SUBJECTS)
    else:
        ci = stats.newcombe_interval(grp.count, grp.n, ref.count, ref.n, level)
    p = stats.exact_p_value(grp.count, grp.n, ref.count, ref.n, policy.exact_test) if units.proportion else None
    if not units.proportion and min(sums.subjects, ref_sums.subjects) < 2:
        # A bootstrap over one person has nothing to vary: no interval, no verdict.
        return replace(
            blank,
            difference=grp.rate - ref.rate,
            method="none",
            note=f"fewer than two subjects behind a rate ({grp.name}: {sums.subjects}, {ref.name}: {ref_sums.subjects})",
        )
    contributing = min(sums.subjects, ref_sums.subjects)
    small = contributing < policy.min_subjects
    verdict: Verdict = "inconclusive" if small else stats.gap_verdict(ci, tolerance)
    if small:
        notes.append(
            f"fewer than {policy.min_subjects} subjects behind a rate ({grp.name}: {sums.subjects}, "
            f"{ref.name}: {ref_sums.subjects}); see min_subjects in the policy"
        )
    mdg = None
    if verdict == "inconclusive" and not any(math.isnan(b) for b in ci):
        if units.proportion:
            deff = _design_effect(grp, ref, ci, level) if clustered and not boundary else 1.0
            mdg = stats.minimum_detectable_gap(sizes[0], sizes[1], ref.rate, confidence=level, design_effect=deff)
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
        ratio=grp.rate / ref.rate if ref.rate and units.proportion else None,
        note="; ".join(notes),
    )


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

    See the module docstring for the methods. Each bootstrap uses the run's ``seed``, so results
    depend on a group's data, not its name.
    """
    import numpy as np

    order = group_order(list(photo_group), reference)
    sums = {name: _cluster_sums(units, (units.group == name) & (units.denominator > 0)) for name in order}
    clustered = any(bool(np.any(s.den > 1)) for s in sums.values())
    groups: dict[str, GroupRate] = {}
    group_methods: set[str] = set()
    for name in order:
        s = sums[name]
        count, n = float(s.num.sum()), float(s.den.sum())
        ci, how = _group_interval(s, units, clustered, policy, seed)
        if how:
            group_methods.add(how)
        in_group = photo_group == name
        groups[name] = GroupRate(
            name=name,
            photos=int(in_group.sum()),
            subjects=len(np.unique(photo_subject[in_group])),
            count=round(count) if units.proportion else s.subjects,
            n=int(n),
            rate=count / n if n > 0 else None,
            ci=ci,
        )

    others = [g for g in order if g != reference]
    m = max(1, len(others))
    level = stats.adjusted_confidence(policy.confidence, m)
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
        )
        for name in others
    ]
    adjusted = stats.holm([math.nan if c.p_value is None else c.p_value for c in drafts])
    comparisons = tuple(
        replace(c, p_adjusted=None if c.p_value is None or math.isnan(adj) else adj)
        for c, adj in zip(drafts, adjusted, strict=True)
    )
    notes = [f"only the reference group {reference!r} is present: nothing to compare"] if not others else []
    gap_methods = sorted({c.method for c in comparisons})
    resampled = clustered or not units.proportion
    method = (
        f"per group: {', '.join(sorted(group_methods)) or 'none'}; gap to {reference}: "
        f"{', '.join(gap_methods) or 'none'} interval"
        f"{f' (Bonferroni-adjusted to {level:.4g} for {m} comparisons)' if m > 1 else ''}"
        f"{f'; {policy.bootstrap} resamples of subjects, seed {seed}' if resampled else ''}"
        f"{f'; {policy.exact_test} exact test p-values, Holm-adjusted' if units.proportion else ''}"
        f"{' (the test treats photos as independent)' if units.proportion and clustered else ''}"
        f"; verdict: fail if the interval lies above tolerance {tolerance:g}, pass if at or below it"
    )
    return groups, comparisons, notes, method
