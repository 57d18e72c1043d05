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
  80% power if the lower group's true rate is near the one seen, and the people that would decide it;
- a missing-data group (``unknown`` trans status, ``undisclosed`` identity) is compared in the fail
  direction only: its fail test is in the Holm family like any other, a fail counts only where the
  group fares worse, and short of a fail its comparison is ``not applicable`` (shown, not compared);
  inconclusive only when it has fewer than ``min_subjects`` people and its gap's interval lies wholly
  beyond the tolerance against it.

Why one module of about 800 lines: it is one rule, the verdict every rate check states the same
way; each group's rate, each comparison's gap and interval, the detectable gap, the residual groups and
the settled verdict read one another's values, and the method text says all of it in one sentence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .. import stats
from ..errors import ConformanceError
from ..identity import UNDISCLOSED
from ..results import Comparison, GroupRate, Verdict, worst

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..policy import Policy

__all__ = ["Compared", "Units", "compare_groups", "compare_measures", "error_rates", "group_order"]

POWER = 0.8  # the power the detectable gap and the people needed are stated at
# On Wilson limits the pass direction's rate is nominal: exact sums (one photo a person,
# benchmarks/verdict_error_rates.py --exact-only) found a wrong pass of 0.118 where 0.1 is stated at
# confidence 0.8. A fail is always tested on Clopper-Pearson limits (stats.FAIL_LIMITS), which keep it
# within the stated rate. Reports say so, without quoting a largest figure another design could beat.
WILSON_NOMINAL = (
    "on Wilson limits a wrong pass is nominal: it can exceed the stated rate (exact sums in "
    "docs/explanation/methodology.md); every fail test reads Clopper-Pearson limits, and "
    'interval = "clopper-pearson" keeps a wrong pass within its stated rate too'
)


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
    # Per unit, the largest value numerator / denominator can take (None: 1). A share of a person's photo
    # pairs given different labels is at most n / (2 (n - 1)) with two labels: a detectable gap beyond
    # what the measure can reach is no figure at all.
    ceiling: npt.NDArray[np.float64] | None = None


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
    # Rounded to 12 significant digits so that 0.95 states 0.025, not 0.025000000000000022, and a small
    # rate is never rounded to 0 (then nothing could fail).
    alpha = float(f"{(1.0 - policy.confidence) / 2.0:.12g}")
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


def _spread(r: stats.ClusteredRate) -> float:
    """A per-person share's variance as a part of a 0/1 unit's at its mean (1 where it cannot be read)."""
    p = r.person_rate
    if r.subjects < 2 or not 0.0 < p < 1.0 or not math.isfinite(r.person_variance):
        return 1.0
    return min(1.0, max(r.person_variance * r.subjects / (p * (1.0 - p)), 1e-6))


def _each_reading(a: stats.ClusteredRate, b: stats.ClusteredRate) -> float:
    """The power each reading (photo-, person-weighted) is sized at for the pair to reach ``POWER``.

    A verdict needs both readings' intervals (the union): where people have unequal photo counts the
    two estimates differ and vary apart, and each at ``POWER`` gave the pair less (0.65 for
    calibration with a fifth of 300 people photographed 40 times, the rest once). Each at
    ``1 - (1 - POWER) / 2`` gives the pair at least ``POWER`` (Bonferroni). With equal photo counts
    the two estimates are one and the less precise reading decides alone.
    """
    alike = all(r.floor_n >= r.subjects * (1.0 - 1e-12) for r in (a, b))  # Kish's size is the people's
    return POWER if alike else 1.0 - (1.0 - POWER) / 2.0


def _inflation(r: stats.ClusteredRate, answers: tuple[float, float] | None) -> Callable[[float], float] | None:
    """How much a signed measure's variance grows if its figure rose by a gap because answers turned wrong.

    Overconfidence is confidence minus being right: a figure higher by ``gap`` at the same confidences
    has ``gap`` more of its answers wrong, and a share wrong ``w`` varies as ``w (1 - w)``. Planned with
    the variance seen, the printed gap was caught 0.70-0.75 of the time where 80% was promised (one
    photo a person at accuracy 0.95; benchmarks/verdict_error_rates.py). The increase is read against
    the units' own variance (or, where they all agree, the floor's on the people), and the variance of
    the figure grows in proportion.
    """
    if answers is None:
        return None
    wrong, spread = answers
    per_unit = max(spread, r.floor_variance * r.subjects)
    if per_unit <= 0:
        return None

    def grow(gap: float) -> float:
        later = min(wrong + gap, 0.5) if wrong < 0.5 else wrong  # w (1 - w) is largest at one half
        return 1.0 + max(0.0, later * (1.0 - later) - wrong * (1.0 - wrong)) / per_unit

    return grow


PLAUSIBLE = 0.4  # one-sided level of the interval over which the lower group's true rate is taken at its worst


def _plausible_rates(r: stats.ClusteredRate) -> list[float]:
    """The rate seen and five rates across its two-sided 20% interval (Clopper-Pearson on the effective size)."""
    import numpy as np

    low, high = stats.rate_bounds(r, PLAUSIBLE, stats.FAIL_LIMITS)
    return sorted({r.rate, *(float(x) for x in np.linspace(low, high, 5))})


def _detectable(
    a: stats.ClusteredRate,
    b: stats.ClusteredRate,
    tolerance: float,
    alpha: float,
    method: str,
    alpha_pass: float,
    ceilings: tuple[float, float] = (1.0, 1.0),
    shares: bool = False,
    answers: tuple[tuple[float, float] | None, tuple[float, float] | None] = (None, None),
) -> tuple[float | None, tuple[int, int] | None]:
    """The gap this data would show to exceed the tolerance with 80% power, and the people that would decide.

    The gap is the largest over the lower group's rate seen and its two-sided 20% interval: it holds if
    that group's true rate is near the one seen, and reports say so (``_wording.DETECTABLE_ASSUMES``).

    ``alpha``: the one-sided level a fail of this comparison needs at least; ``alpha_pass``: a pass's
    (no multiplicity adjustment: a pass needs every comparison). ``ceilings``: each group's largest
    possible figure; ``shares``: the units are per-person shares, whose spread is read from the data
    (a share of many photos varies less than a 0/1 unit) rather than taken as a 0/1 unit's.
    """
    high, low = (a, b) if a.rate >= b.rate else (b, a)
    ceiling = ceilings[0] if high is a else ceilings[1]
    spread = (_spread(high), _spread(low)) if shares else (1.0, 1.0)
    power = _each_reading(a, b)
    if not a.bounded:
        rising = answers[0] if high is a else answers[1]
        mean_gap = stats.detectable_mean_gap(
            tolerance, high, low, alpha=alpha, power=power, inflation=_inflation(high, rising)
        )
        return (mean_gap if mean_gap is not None and math.isfinite(mean_gap) else None), None
    precision_high, precision_low = stats.Precision.of(high), stats.Precision.of(low)
    # The lower group's true rate is not the one seen: the figure holds for the least favourable rate in
    # its interval (at 10 people a group, one photo each, the rate seen gave a figure caught 0.73 of the time).
    reachable = [
        found
        for base in _plausible_rates(low)
        if (
            found := stats.detectable_gap(
                tolerance,
                base,
                precision_high,
                precision_low,
                alpha=alpha,
                power=power,
                method=method,
                spread=spread,
                ceiling=ceiling,
            )
        )
        is not None
    ]
    gap = max(reachable) if reachable else None
    if gap is not None and low.rate + gap > ceiling + 1e-12:
        gap = None  # beyond what the measure can reach from the rate seen: no such gap can be shown
    if gap is not None and not math.isfinite(gap):
        gap = None  # no finite gap reaches the power: said as for too little data, never -inf in a report
    needed = stats.subjects_needed(
        high.rate - low.rate,
        tolerance,
        low.rate,
        precision_high,
        precision_low,
        subjects=(high.subjects, low.subjects),
        alpha_fail=alpha,
        alpha_pass=alpha_pass,
        power=power,
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
    done = compare_measures(
        units,
        photo_group=photo_group,
        photo_subject=photo_subject,
        reference=reference,
        tolerance=tolerance,
        policy=policy,
        seed=seed,
        not_applicable=not_applicable,
        cannot_pass=cannot_pass,
    )
    return done.groups, done.comparisons, done.notes, done.method


@dataclass(frozen=True)
class Compared:
    """What :func:`compare_measures` found: the check's groups and comparisons, and the companion's."""

    groups: dict[str, GroupRate]
    comparisons: tuple[Comparison, ...]
    notes: list[str]
    method: str
    companion_groups: dict[str, GroupRate]
    companion_comparisons: tuple[Comparison, ...]
    extra_adjusted: tuple[float, ...] = ()  # the caller's extra fail tests, Holm-adjusted in the same family


@dataclass(frozen=True)
class _Drafts:
    rates: dict[str, stats.ClusteredRate | None]
    groups: dict[str, GroupRate]
    comparisons: list[Comparison]
    tested: list[int]  # comparisons whose fail test counts in the Holm family
    exceeds: list[float]
    ceilings: dict[str, float]
    shares: bool
    # Per group, for a signed measure with a floor (overconfidence): (share of units counted in the
    # floor, the units' own variance), what the variance at a larger true gap is read from.
    answers: dict[str, tuple[float, float]] = field(default_factory=dict)
    # Comparisons with a missing-data group, tested for a fail only: index -> (that group, who it holds).
    fail_only: dict[int, tuple[str, str]] = field(default_factory=dict)


def compare_measures(
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
    companion: Units | None = None,
    companion_label: str = "",
    extra_fail_tests: Sequence[float] = (),
) -> Compared:
    """:func:`compare_groups`, optionally with a companion measure every comparison must also satisfy.

    A companion (e.g. "not correctly gendered", which counts an abstention on a woman or man as a
    miss, so that abstaining cannot hide misgendering) is compared between the same pairs at the
    same tolerance. Each pair's verdict is the worse of the two measures' (a pass needs both
    intervals within the tolerance: intersection-union, no adjustment); the fail tests of both
    measures form one Holm family, so a wrong fail stays at most the stated one-sided error. A
    pair's row carries the figures of the measure that decided it (the main measure on a tie),
    with a note when the companion decided. ``extra_fail_tests``: the caller's own fail p-values (e.g. each
    group's rate against an absolute ceiling), put in the same Holm family; their adjusted values come back
    as ``Compared.extra_adjusted``, in order.
    """
    del seed  # the intervals are closed-form: nothing to seed
    cannot_pass = dict(cannot_pass or {})
    # The coverage rule comes before "not applicable": a group the analyzer would not answer for is
    # inconclusive, never excused.
    not_applicable = {g: why for g, why in (not_applicable or {}).items() if g not in cannot_pass}
    _, alpha_fail = error_rates(policy)
    order = group_order(list(photo_group), reference)
    # Missing-data groups are compared for a fail only (see RESIDUAL_GROUPS); the caller's reasons come first.
    missing = {
        name: who
        for name, who in _residuals(photo_group, photo_subject, reference).items()
        if name not in cannot_pass and name not in not_applicable
    }
    main = _draft(
        units, photo_group, photo_subject, order, reference, tolerance, policy, not_applicable, cannot_pass, missing
    )
    families = [main]
    same: set[int] = set()  # companion comparisons identical to the main one: one hypothesis, tested once
    if companion is not None:
        extra = _draft(
            companion,
            photo_group,
            photo_subject,
            order,
            reference,
            tolerance,
            policy,
            not_applicable,
            cannot_pass,
            missing,
        )
        alike = {name for name in order if _same_counts(units, companion, name)}
        same = {i for i, c in enumerate(extra.comparisons) if {c.group, c.reference} <= alike}
        keep = [k for k, i in enumerate(extra.tested) if i not in same]
        extra = replace(extra, tested=[extra.tested[k] for k in keep], exceeds=[extra.exceeds[k] for k in keep])
        families.append(extra)
    exceeds = [p for family in families for p in family.exceeds]
    adjusted = stats.holm([*exceeds, *extra_fail_tests]) if exceeds or extra_fail_tests else []
    m = len(exceeds) + len(extra_fail_tests)
    settled: list[list[Comparison]] = []
    start = 0
    for family in families:
        family_adjusted = adjusted[start : start + len(family.exceeds)]
        start += len(family.exceeds)
        settled.append(_settle(family, family_adjusted, m, tolerance, alpha_fail, cannot_pass, policy))
    comparisons = settled[0]
    if companion is not None:
        settled[1] = [settled[0][i] if i in same else c for i, c in enumerate(settled[1])]
        comparisons = [_worse(c, other, companion_label) for c, other in zip(settled[0], settled[1], strict=True)]
    notes = [f"only the reference group {reference!r} is present: nothing to compare"] if len(order) < 2 else []
    method = _method(units, policy, tolerance, m, reference)
    if companion is not None:
        method += (
            f"; every comparison also on {companion_label} (same intervals and tolerance; its fail tests in the "
            "same Holm family)"
        )
    return Compared(
        groups=main.groups,
        comparisons=tuple(comparisons),
        notes=notes,
        method=method,
        companion_groups=families[1].groups if companion is not None else {},
        companion_comparisons=tuple(settled[1]) if companion is not None else (),
        extra_adjusted=tuple(adjusted[len(exceeds) :]),
    )


def _same_counts(units: Units, companion: Units, name: str) -> bool:
    """Whether a group's units count the same under both measures (then their comparisons are the same test)."""
    import numpy as np

    mine = units.group == name
    return bool(
        np.array_equal(units.numerator[mine], companion.numerator[companion.group == name])
        and np.array_equal(units.denominator[mine], companion.denominator[companion.group == name])
    )


# The default grouping's residuals: people whose trans status the dataset does not record, and people who did
# not disclose a gender identity. They are missing data, not groups under audit, so they are compared in the fail
# direction only: a gap shown beyond the tolerance against them (the same test and Holm family as every other
# comparison) fails the check and names the group; anything short of that leaves the comparison "not applicable"
# (shown, not compared). Faring better is no finding against them (rt14e F6). Below min_subjects people, a gap
# whose interval lies wholly beyond the tolerance against them is inconclusive, as for any group that small
# (rt14e F7: failing all 9 undisclosed people passed silently). Compared both ways from min_subjects upwards, 9 such people let a perfect
# analyzer pass and 15 failed it, inconclusive on a wide interval (red team 13c); never compared at all, a
# detector that found no face of any undisclosed person passed (red team 14d).
RESIDUAL_GROUP = "unknown"
RESIDUAL_GROUPS = (RESIDUAL_GROUP, UNDISCLOSED)


def _residuals(
    photo_group: npt.NDArray[np.str_] | npt.NDArray[np.object_],
    photo_subject: npt.NDArray[np.int64],
    reference: str,
) -> dict[str, str]:
    """Who each residual group present holds, in words (none when it is the reference, chosen on purpose)."""
    import numpy as np

    who = {}
    for name in RESIDUAL_GROUPS:
        mine = photo_group == name
        people = len(np.unique(photo_subject[mine]))
        if name == reference or not people:
            continue
        whom = "of unknown trans status" if name == RESIDUAL_GROUP else "who did not disclose a gender identity"
        who[name] = f"{people} {'person' if people == 1 else 'people'} {whom}"
    return who


def _shown_only(name: str, who: str, why: str) -> str:
    """The reason a missing-data group's comparison did not count: no gap beyond the tolerance was shown."""
    record = "their trans status" if name == RESIDUAL_GROUP else "a gender identity they chose to give"
    return (
        f"{name}: {who}: missing data rather than a group under audit, compared for a fail only; {why}, so it is "
        f"shown, not compared into the verdict; record {record} in the manifest to compare them both ways (or "
        "name this group as the reference)"
    )


def _failed_missing(name: str, who: str) -> str:
    """The note of a missing-data group's comparison that fails the check."""
    return (
        f"{name}: {who}: missing data, compared for a fail only, and a gap beyond the tolerance is shown against "
        "them: the check fails on them (their trans status or identity being unknown does not excuse it)"
    )


def _against(residual: str, c: Comparison) -> bool:
    """Whether a missing-data group fares worse in ``c`` (every rate check's figure is worse when higher)."""
    difference = c.difference or 0.0
    return difference > 0 if residual == c.group else difference < 0


def _beyond_against(residual: str, group: str, ci: tuple[float, float], tolerance: float) -> bool:
    """Whether a gap's interval lies wholly beyond the tolerance with the missing-data group worse off."""
    return ci[0] > tolerance if residual == group else ci[1] < -tolerance


def _too_few_against(name: str, who: str, fewer: str, min_subjects: int) -> str:
    """The note of a missing-data group too small to fail the check, whose interval lies wholly against it."""
    return (
        f"{name}: {who}: missing data, compared for a fail only; {fewer}, too few to fail the check on, yet the "
        "interval lies wholly beyond the tolerance against them: inconclusive, as for any group of that size "
        f"(with {min_subjects} or more of them a gap this clear fails the check)"
    )


def _worse(main: Comparison, other: Comparison, label: str) -> Comparison:
    """The pair's row: the main measure's, unless the companion's verdict is worse."""
    if worst([main.verdict, other.verdict]) == main.verdict:
        return main
    gap = "n/a" if other.difference is None else f"{other.difference:+.3f}"
    said = f"decided on {label} (gap {gap}; the main measure's verdict: {main.verdict})"
    return replace(other, note="; ".join(x for x in (said, other.note) if x))


def _draft(
    units: Units,
    photo_group: npt.NDArray[np.str_] | npt.NDArray[np.object_],
    photo_subject: npt.NDArray[np.int64],
    order: Sequence[str],
    reference: str,
    tolerance: float,
    policy: Policy,
    not_applicable: Mapping[str, str],
    cannot_pass: Mapping[str, str],
    missing: Mapping[str, str],
) -> _Drafts:
    """Per-group rates and each pair's comparison before the Holm family settles the fail verdicts.

    ``missing``: missing-data groups (who each holds), whose comparisons are tested for a fail only.
    """
    import numpy as np

    method = policy.interval
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
    tested: list[int] = []
    exceeds: list[float] = []
    fail_only: dict[int, tuple[str, str]] = {}
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
        residual = [g for g in (name, other) if g in missing]
        if len(residual) == 2:  # two missing-data groups: nothing under audit on either side
            both = "; ".join(
                _shown_only(g, missing[g], "not compared with another missing-data group") for g in residual
            )
            drafts.append(replace(blank, verdict="not applicable", note=both))
            continue
        if residual and (a is None or b is None):
            empty = name if a is None else other
            nothing = _shown_only(residual[0], missing[residual[0]], f"{empty} has nothing this check counts")
            drafts.append(replace(blank, verdict="not applicable", note=nothing))
            continue
        if a is None or b is None:
            empty = name if a is None else other
            why = [f"cannot compare {name} with {other}: {empty} has nothing this check counts"]
            why += [f"{g}: {cannot_pass[g]}" for g in (name, other) if g in cannot_pass]
            drafts.append(replace(blank, note="; ".join(why)))
            continue
        difference = a.rate - b.rate
        ci = stats.gap_interval(a, b, policy.confidence, method)
        if residual and (any(math.isnan(x) for x in ci) or min(a.subjects, b.subjects) < policy.min_subjects):
            # Too few people to show any gap: a missing-data group then stays out of the verdict, unless its interval
            # lies wholly beyond the tolerance against it (rt14e F7: all 9 undisclosed people failed, exit 0).
            fewer = (
                f"fewer than {policy.min_subjects} subjects behind a rate ({name}: {a.subjects}, {other}: {b.subjects})"
            )
            shown = None if any(math.isnan(x) for x in ci) else ci
            if shown is not None and _beyond_against(residual[0], name, shown, tolerance):
                note = _too_few_against(residual[0], missing[residual[0]], fewer, policy.min_subjects)
                way = _gap_method(a, b, units, method)
                drafts.append(replace(blank, difference=difference, ci=shown, method=way, note=note))
                continue
            note = _shown_only(residual[0], missing[residual[0]], fewer)
            drafts.append(replace(blank, difference=difference, ci=shown, verdict="not applicable", note=note))
            continue
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
            if residual:
                fail_only[len(drafts)] = (residual[0], missing[residual[0]])
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
    ceilings = dict.fromkeys(order, 1.0)
    if units.ceiling is not None:
        for name in order:
            mine = (units.group == name) & counted
            weight = float(units.denominator[mine].sum())
            if weight > 0:
                ceilings[name] = float(np.sum(units.ceiling[mine] * units.denominator[mine])) / weight
    shares = units.bounded and not units.proportion
    answers = {}
    if not units.bounded and units.floor is not None:
        for name in order:
            mine = (units.group == name) & counted
            weight = float(units.denominator[mine].sum())
            if weight > 0:
                values = units.numerator[mine] / units.denominator[mine]
                answers[name] = (float(units.floor[mine].sum()) / weight, float(np.var(values)))
    return _Drafts(rates, groups, drafts, tested, exceeds, ceilings, shares, answers, fail_only)


def _settle(
    family: _Drafts,
    adjusted: Sequence[float],
    m: int,
    tolerance: float,
    alpha_fail: float,
    cannot_pass: Mapping[str, str],
    policy: Policy,
) -> list[Comparison]:
    """Verdicts from the Holm-adjusted fail p-values and the intervals; the detectable gap where undecided."""
    comparisons: list[Comparison] = []
    for index, c in enumerate(family.comparisons):
        if index not in family.tested:
            comparisons.append(c)
            continue
        p_adj = adjusted[family.tested.index(index)]
        assert c.ci is not None
        notes = [c.note] if c.note else []
        verdict: Verdict
        if index in family.fail_only:
            # Missing data: a fail shown against them in the same Holm family counts; nothing less enters the verdict.
            group, who = family.fail_only[index]
            against = _against(group, c)
            if p_adj <= alpha_fail and against:
                verdict, said = "fail", _failed_missing(group, who)
            elif p_adj <= alpha_fail:
                # rt14e F6: they fare better; the groups under audit are judged by their own comparisons.
                other = c.reference if group == c.group else c.group
                why = (
                    f"they fare better than {other} (a gap the other way is no finding against them; {other}'s "
                    "own comparisons judge it)"
                )
                verdict, said = "not applicable", _shown_only(group, who, why)
            else:
                why = f"no gap beyond the tolerance shown (p = {p_adj:.3g}, Holm-adjusted, > {alpha_fail:g})"
                verdict, said = "not applicable", _shown_only(group, who, why)
            comparisons.append(replace(c, p_adjusted=p_adj, verdict=verdict, note="; ".join([*notes, said])))
            continue
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
                limits = "" if policy.interval == stats.FAIL_LIMITS else ", on Clopper-Pearson limits"
                notes.append(
                    f"the interval lies beyond the tolerance, but a fail must be shown in either direction and "
                    f"for all {m} comparisons together: p = {p_adj:.3g} (twice the smaller one-sided p, "
                    f"Holm-adjusted{limits}) > {alpha_fail:g}"
                )
        comparisons.append(replace(c, p_adjusted=p_adj, verdict=verdict, note="; ".join(notes)))

    # What it would take to decide: only where a comparison could not.
    final = []
    for c in comparisons:
        a, b = family.rates[c.group], family.rates[c.reference]
        if c.verdict == "inconclusive" and c.ci is not None and a is not None and b is not None:
            # The first Holm step, each direction at half of it: what a fail of this comparison needs at least.
            mdg, needed = _detectable(
                a,
                b,
                tolerance,
                alpha_fail / (2 * max(m, 1)),
                policy.interval,
                error_rates(policy)[0],
                ceilings=(family.ceilings[c.group], family.ceilings[c.reference]),
                shares=family.shares,
                answers=(family.answers.get(c.group), family.answers.get(c.reference)),
            )
            floor = None
            if needed is not None and min(needed) < policy.min_subjects:
                # Below min_subjects no verdict is decided, whatever the power: never advise fewer people.
                needed = (max(needed[0], policy.min_subjects), max(needed[1], policy.min_subjects))
                floor = policy.min_subjects
            c = replace(c, min_detectable=mdg, subjects_needed=needed, subjects_floor=floor)
        final.append(c)
    return final


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
    # A measure that is not a proportion (overconfidence) has no score limits to join: Welch's t on the variances.
    joined = "Newcombe's hybrid method on those limits" if units.bounded else "Welch t intervals on those variances"
    return (
        f"{per_group}; gaps between {pairs}, disparity in either direction, "
        f"{policy.confidence:.0%} two-sided intervals ({joined}); "
        f"pass: every gap's interval within ±{tolerance:g}, each at one-sided error {alpha_pass:g} "
        "(intersection-union, no multiplicity adjustment); "
        f"fail: a gap shown beyond ±{tolerance:g}, familywise one-sided error {alpha_fail:g} "
        f"(either direction: twice the smaller one-sided p-value; Holm over {m} comparison{'s' if m != 1 else ''}); "
        + (
            "p-values from the same intervals"
            if policy.interval == stats.FAIL_LIMITS
            else "p-values of the pass test from the intervals shown, of the fail test from Clopper-Pearson limits"
        )
        + (f"; {WILSON_NOMINAL}" if policy.interval == "wilson" else "")
    )
