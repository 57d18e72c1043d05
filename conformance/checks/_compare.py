"""The shared verdict machinery of rate checks: per-group rates, comparisons between groups, verdicts.

A rate check gives, per unit (a photo, a person, a (photo, transformation) pair), a numerator and a
denominator; units carry a cluster (their person) and a group. Everything statistical is done here
once, so that every check states its method and its error rates the same way:

- per group, the rate over units (photo-weighted) with an interval from :mod:`conformance.stats`:
  score limits on the effective size the people's clustering leaves, read together with the
  person-weighted rate, so that no interval rests on a few people with many photos;
- disparity in either direction: between every two groups (``direction = "pairwise"``) or every
  group against the reference (``"reference"``), each comparison with the interval of its gap;
- ``pass`` when every comparison's interval lies within ``[-tolerance, tolerance]`` (an
  intersection-union test: each comparison at one-sided ``(1 - confidence)/2``, no adjustment);
  ``fail`` when some comparison's one-sided p-value of exceeding the tolerance is at most that
  level after Holm's adjustment across the comparisons (familywise);
- ``not applicable`` for a comparison with a group the data cannot speak to by construction (the
  check names which and why); ``inconclusive`` otherwise, with the gap this data would catch with
  80% power and the people that would decide it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .. import stats
from ..errors import ConformanceError
from ..results import Comparison, GroupRate, Verdict

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..policy import Policy

__all__ = ["Units", "compare_groups", "error_rates", "group_order"]

POWER = 0.8  # the power the detectable gap and the people needed are stated at


@dataclass(frozen=True)
class Units:
    """What a rate check counts: per unit a numerator, a denominator, its subject and its group.

    ``photos`` and ``subjects`` per group are reported as the data the group has, whatever the unit.
    ``proportion`` says the numerators are 0/1 counts (exact tests apply). ``bounded`` says each
    unit's value (numerator over denominator) lies in [0, 1], so score intervals apply (counts, and
    shares such as a person's share of disagreeing photo pairs); a signed measure is not bounded and
    gets t intervals, never narrower than the score interval of ``floor`` (0/1 per unit, e.g. wrong
    answers) on people's counts would make them.
    """

    numerator: npt.NDArray[np.float64]
    denominator: npt.NDArray[np.float64]
    cluster: npt.NDArray[np.int64]
    group: npt.NDArray[np.str_] | npt.NDArray[np.object_]  # names; an object array holds each name once
    proportion: bool = True
    bounded: bool = True
    floor: npt.NDArray[np.float64] | None = None


def group_order(groups: Sequence[str], reference: str) -> list[str]:
    """Reference first, then the others sorted; raises if the reference is absent."""
    names = sorted({str(g) for g in groups})  # plain str, not numpy.str_, so results serialise anywhere
    if reference not in names:
        raise ConformanceError(
            f"reference group {reference!r} is not in the data (groups: {', '.join(names) or 'none'}); "
            "choose one with --reference"
        )
    return [reference, *(n for n in names if n != reference)]


def error_rates(policy: Policy) -> tuple[float, float]:
    """(wrong pass, wrong fail): the one-sided error rate each verdict direction is tested at."""
    # Rounded so that 0.95 states 0.025, not 0.025000000000000022.
    alpha = round((1.0 - policy.confidence) / 2.0, 12)
    return alpha, alpha


def _sums(units: Units, mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.float64], ...]:
    """Per-subject sums of numerator, denominator (and floor) over the masked units."""
    import numpy as np

    clusters, inverse = np.unique(units.cluster[mask], return_inverse=True)
    out = [
        np.bincount(inverse, weights=column[mask], minlength=len(clusters)).astype(np.float64)
        for column in (units.numerator, units.denominator)
    ]
    if units.floor is not None:
        out.append(np.bincount(inverse, weights=units.floor[mask], minlength=len(clusters)).astype(np.float64))
    return tuple(out)


def _rate(units: Units, mask: npt.NDArray[np.bool_], policy: Policy) -> stats.ClusteredRate | None:
    sums = _sums(units, mask)
    if not sums[1].size or float(sums[1].sum()) <= 0:
        return None
    floor = 0.0
    if units.floor is not None:
        floor = stats.share_variance_floor(
            float(sums[2].sum()) / float(sums[1].sum()), int((sums[1] > 0).sum()), policy.confidence
        )
    return stats.clustered_rate(sums[0], sums[1], bounded=units.bounded, floor_variance=floor)


def _pairs(order: Sequence[str], reference: str, direction: str) -> list[tuple[str, str]]:
    """(group, reference) pairs to compare: every two groups, or each group against the reference."""
    if direction == "reference":
        return [(name, reference) for name in order if name != reference]
    return [(order[j], order[i]) for i in range(len(order)) for j in range(i + 1, len(order))]


def _detectable(
    a: stats.ClusteredRate, b: stats.ClusteredRate, tolerance: float, alpha: float, method: str
) -> tuple[float | None, tuple[int, int] | None]:
    """The gap this data would show to exceed the tolerance with 80% power, and the people that would decide."""
    high, low = (a, b) if a.rate >= b.rate else (b, a)
    if not a.bounded:
        return stats.detectable_mean_gap(tolerance, a, b, alpha=alpha, power=POWER), None
    precision_high, precision_low = stats.Precision.of(high), stats.Precision.of(low)
    gap = stats.detectable_gap(
        tolerance, low.rate, precision_high, precision_low, alpha=alpha, power=POWER, method=method
    )
    needed = stats.subjects_needed(
        high.rate - low.rate,
        tolerance,
        low.rate,
        precision_high,
        precision_low,
        subjects=(high.subjects, low.subjects),
        alpha_fail=alpha,
        alpha_pass=alpha,
        power=POWER,
        method=method,
    )
    if needed is not None and high is not a:
        needed = (needed[1], needed[0])
    return gap, needed


def compare_groups(
    units: Units,
    *,
    photo_group: npt.NDArray[np.str_] | npt.NDArray[np.object_],
    photo_subject: npt.NDArray[np.int64],
    reference: str,
    tolerance: float,
    policy: Policy,
    seed: int,
    not_applicable: Mapping[str, str] | None = None,
    cannot_pass: Mapping[str, str] | None = None,
) -> tuple[dict[str, GroupRate], tuple[Comparison, ...], list[str], str]:
    """Per-group rates and comparisons between groups; returns (groups, comparisons, notes, method).

    ``not_applicable`` names groups the data cannot speak to by construction, with the reason (a
    comparison involving one is ``not applicable``); ``cannot_pass`` names groups whose comparisons
    may fail or be inconclusive but not pass, with the reason (e.g. too few faces given a gender).
    ``seed`` is accepted for the checks' common signature; nothing here is random.
    """
    import numpy as np

    del seed  # the intervals are closed-form: nothing to seed
    not_applicable = dict(not_applicable or {})
    cannot_pass = dict(cannot_pass or {})
    method = policy.interval
    _, alpha_fail = error_rates(policy)
    order = group_order(list(photo_group), reference)
    counted = units.denominator > 0
    rates = {name: _rate(units, (units.group == name) & counted, policy) for name in order}
    exact = units.proportion and all(r is None or not r.clustered for r in rates.values())

    groups: dict[str, GroupRate] = {}
    for name in order:
        r = rates[name]
        in_group = photo_group == name
        groups[name] = GroupRate(
            name=name,
            photos=int(in_group.sum()),
            subjects=len(np.unique(photo_subject[in_group])),
            count=0 if r is None else (round(r.count) if units.proportion else r.subjects),
            n=0 if r is None else round(r.n),
            rate=None if r is None else r.rate,
            ci=None if r is None else _finite(stats.rate_interval(r, policy.confidence, method)),
            effective_n=None if r is None or not units.bounded else min(r.effective_n, r.person_effective_n),
            person_rate=None if r is None else r.person_rate,
        )

    drafts: list[Comparison] = []
    tested: list[int] = []  # comparisons whose fail test counts in the Holm family
    exceeds: list[float] = []
    for name, other in _pairs(order, reference, policy.direction):
        a, b = rates[name], rates[other]
        blank = Comparison(
            group=name,
            reference=other,
            difference=None,
            ci=None,
            p_value=None,
            p_adjusted=None,
            tolerance=tolerance,
            verdict="inconclusive",
            method="none",
            level=policy.confidence,
        )
        reasons = [f"{g}: {not_applicable[g]}" for g in (name, other) if g in not_applicable]
        if reasons:
            drafts.append(replace(blank, verdict="not applicable", note="; ".join(reasons)))
            continue
        if a is None or b is None:
            empty = name if a is None else other
            drafts.append(
                replace(blank, note=f"cannot compare {name} with {other}: {empty} has nothing this check counts")
            )
            continue
        difference = a.rate - b.rate
        ci = stats.gap_interval(a, b, policy.confidence, method)
        if any(math.isnan(x) for x in ci):
            drafts.append(
                replace(
                    blank,
                    difference=difference,
                    note=f"fewer than two subjects behind a rate ({name}: {a.subjects}, {other}: {b.subjects})",
                )
            )
            continue
        tests = stats.gap_tests(a, b, tolerance, method)
        notes = []
        small = min(a.subjects, b.subjects) < policy.min_subjects
        if small:
            notes.append(
                f"fewer than {policy.min_subjects} subjects behind a rate ({name}: {a.subjects}, "
                f"{other}: {b.subjects}); see min_subjects in the policy"
            )
        else:
            tested.append(len(drafts))
            exceeds.append(tests.exceeds)
        p_equal = None
        if exact and units.proportion:
            p_equal = stats.exact_p_value(round(a.count), round(a.n), round(b.count), round(b.n), policy.exact_test)
        drafts.append(
            replace(
                blank,
                difference=difference,
                ci=ci,
                p_value=tests.exceeds,
                p_within=tests.within,
                p_equal=p_equal,
                method=_gap_method(a, b, units, method),
                ratio=a.rate / b.rate if b.rate and units.proportion else None,
                note="; ".join(notes),
                verdict="inconclusive" if small else "pass",  # settled below
            )
        )

    adjusted = stats.holm(exceeds) if exceeds else []
    m = len(tested)
    comparisons: list[Comparison] = []
    for index, c in enumerate(drafts):
        if index not in tested:
            comparisons.append(c)
            continue
        p_adj = adjusted[tested.index(index)]
        assert c.ci is not None
        notes = [c.note] if c.note else []
        verdict: Verdict
        if p_adj <= alpha_fail:
            verdict = "fail"
        elif c.ci[1] <= tolerance and c.ci[0] >= -tolerance:
            verdict = "pass"
            blocking = [f"{g}: {cannot_pass[g]}" for g in (c.group, c.reference) if g in cannot_pass]
            if blocking:
                verdict = "inconclusive"
                notes.extend(blocking)
        else:
            verdict = "inconclusive"
            if c.ci[0] > tolerance or c.ci[1] < -tolerance:
                notes.append(
                    f"the interval lies beyond the tolerance, but a fail must hold for all {m} comparisons "
                    f"together: Holm-adjusted p = {p_adj:.3g} > {alpha_fail:g}"
                )
        comparisons.append(replace(c, p_adjusted=p_adj, verdict=verdict, note="; ".join(notes)))

    # What it would take to decide: only where a comparison could not.
    final = []
    for c in comparisons:
        a, b = rates[c.group], rates[c.reference]
        if c.verdict == "inconclusive" and c.ci is not None and a is not None and b is not None:
            mdg, needed = _detectable(a, b, tolerance, alpha_fail / max(m, 1), method)
            c = replace(c, min_detectable=mdg, subjects_needed=needed)
        final.append(c)

    notes = [f"only the reference group {reference!r} is present: nothing to compare"] if len(order) < 2 else []
    return groups, tuple(final), notes, _method(units, policy, tolerance, m, reference)


def _finite(ci: tuple[float, float]) -> tuple[float, float] | None:
    return None if any(math.isnan(x) for x in ci) else ci


def _gap_method(a: stats.ClusteredRate, b: stats.ClusteredRate, units: Units, method: str) -> str:
    """How one comparison's interval was made, in a few words."""
    if not units.bounded:
        return "Welch t interval on cluster-robust variances, photo- and person-weighted"
    limits = "Clopper-Pearson" if method == "clopper-pearson" else "Wilson"
    if not (a.clustered or b.clustered):
        return f"Newcombe hybrid score ({limits} limits)"
    return f"Newcombe hybrid score ({limits} limits on effective sizes), photo- and person-weighted"


def _method(units: Units, policy: Policy, tolerance: float, m: int, reference: str) -> str:
    """The check's method text: intervals, comparisons, and the error rate each verdict direction is tested at."""
    alpha_pass, alpha_fail = error_rates(policy)
    limits = "Clopper-Pearson" if policy.interval == "clopper-pearson" else "Wilson"
    if units.bounded:
        per_group = (
            f"per group: {limits} limits on the effective size left by people's clustering (cluster-robust "
            "variance over subjects, Korn-Graubard degrees of freedom), joined with the person-weighted rate's"
        )
    else:
        per_group = (
            "per group: t interval on a cluster-robust variance over subjects, joined with the person-weighted mean's"
        )
    pairs = "every two groups" if policy.direction == "pairwise" else f"each group against {reference}"
    return (
        f"{per_group}; gaps between {pairs}, disparity in either direction, "
        f"{policy.confidence:.0%} two-sided intervals (Newcombe's hybrid method on those limits); "
        f"pass: every gap's interval within ±{tolerance:g}, each at one-sided error {alpha_pass:g} "
        "(intersection-union, no multiplicity adjustment); "
        f"fail: a gap shown beyond ±{tolerance:g}, familywise one-sided error {alpha_fail:g} "
        f"(Holm over {m} comparison{'s' if m != 1 else ''}); p-values from the same intervals"
    )
