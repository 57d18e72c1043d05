"""What the planner reads: a pilot ``report.json``, and an existing manifest, which it says it can or cannot settle.

A pilot gives each check's reference rate, the groups, photos a person and the ICC (from each
group's design effect). A manifest gives its people's photo counts for the plan, and each check's
power to pass and to fail at the manifest's smallest group, or the reason no size would do: no
nonbinary people, nobody with two photos, a group below ``min_subjects``, one group only; a
face-search manifest is read by its non-mated (or mated) probes, a 1:1 manifest by every photo,
with the rule of three's people-pairs said before any power.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from . import simulation
from .planners import (
    _COUNT_CHECKS,
    _PAIR_PLANS,
    CheckPlan,
    PlanInputs,
    _fail_gap,
    _gap_design,
    consistency_power,
    policy_levels,
)
from .simulation import SIMULATION_LIMIT, simulated_rate_power
from .sizes import PlanError, _count_table, _counts_shown

if TYPE_CHECKING:
    from ..policy import Policy


@dataclass(frozen=True)
class Pilot:
    """Figures read from a pilot run's report.json, and how each was read."""

    groups: tuple[str, ...]
    rates: Mapping[str, float]
    photos_per_person: int | None
    icc: float | None
    sd: Mapping[str, float]
    notes: tuple[str, ...]


def read_pilot(path: str) -> Pilot:
    """Estimates from a pilot ``report.json``.

    Rates: each check's reference group's figure. Photos a person: the photos over the people of
    ``misgender_gap`` (or the first check with groups). ICC: from each group's design effect
    (``photos / effective_n``, the effective size its interval rested on) as
    ``(design effect - 1) / (photos a person - 1)``, pooled over groups weighted by people; groups
    at a rate of 0 or 1 show nothing about it and are left out. confidence_calibration: the spread
    of a person's mean read back from the reference group's interval.
    """
    from ..checks.check_ids import GENDER_CHECKS
    from ..report import read_report

    report = read_report(path)
    _check_pilot(path, report)
    if not any(result.id in GENDER_CHECKS for result in report.checks):
        ids = ", ".join(dict.fromkeys(result.id for result in report.checks)) or "none"
        raise PlanError(
            f"{path}: not a gender run's report (its checks: {ids}); a pilot is read for misgender_gap's rates, "
            "photos a person and ICC: give a gender run's report.json, or the figures themselves (--reference-rate, "
            "--photos-per-person, --icc)"
        )
    reference = report.grouping.reference
    rates: dict[str, float] = {}
    sd: dict[str, float] = {}
    notes: list[str] = []
    lone: dict[str, list[str]] = {}  # a reference group of fewer than 2 people: the checks whose rate is not read
    groups: tuple[str, ...] = ()
    photos: int | None = None
    weighted, people = 0.0, 0
    for result in report.checks:
        if not result.groups or (result.threshold is not None and result.id in rates):
            continue
        ref = reference if reference in result.groups else result.reference
        group = result.groups.get(ref) if ref else None
        if result.id == "misgender_gap" or not groups:
            names = [ref] if ref is not None and ref in result.groups else []
            groups = tuple(names + sorted(n for n in result.groups if n != ref and n != "undisclosed"))
        if group is not None and group.rate is not None and result.id not in rates:
            if group.subjects >= 2:
                rates[result.id] = float(group.rate)
            else:
                # One person's rate is that person's, not the group's: planned on, it read 0.33 of one person's
                # photo pairs as the reference's share and refused it as out of reach ("lower --icc or the rate").
                lone.setdefault(str(ref), []).append(result.id)
        if result.id == "confidence_calibration" and group is not None and group.ci is not None and group.subjects >= 2:
            # The reference group's spread of a person's mean, read back from its interval's half-width at the
            # interval's own level: a policy's confidence, or a sequential run's last look's (0.974 where 0.95 was
            # taken read 0.425 for 0.351, and 0.90 read 0.275: a plan 38% short).
            sd[result.id] = _spread_of_mean(group.ci, result.confidence, group.subjects)
            notes.append(
                f"pilot {path}: confidence_calibration's spread of a person's mean {sd[result.id]:.3g}, read from "
                f"{ref}'s {result.confidence:.4g} interval over {group.subjects} people (t quantile, "
                f"{group.subjects - 1} degrees of freedom)"
            )
        if result.id != "misgender_gap":
            continue
        total_photos = sum(g.n for g in result.groups.values())
        total_people = sum(g.subjects for g in result.groups.values())
        if total_people:
            photos = max(1, round(total_photos / total_people))
            if total_photos % total_people:
                # A report holds each group's photos and people, not each person's count: the spread is unknown.
                notes.append(
                    f"pilot {path}: {total_photos / total_people:.3g} photos a person on average, so people's counts "
                    "vary, which a report does not show; planned at the nearest whole count, which overpromises when "
                    "they vary much: give the counts (--photos-per-person 1,20) or the manifest (--manifest)"
                )
        for g in result.groups.values():
            if g.effective_n is None or g.rate is None or not 0.0 < g.rate < 1.0 or g.subjects < 2:
                continue
            m = g.n / g.subjects
            if m <= 1.0 or g.effective_n <= 0:
                continue
            icc = min(max((g.n / g.effective_n - 1.0) / (m - 1.0), 0.0), 1.0)
            weighted += icc * g.subjects
            people += g.subjects
    icc_value = weighted / people if people else None
    for reference_name, unread in lone.items():
        notes.append(
            f"pilot {path}: the reference group {reference_name!r} has fewer than 2 people in "
            f"{', '.join(dict.fromkeys(unread))}: too few to read a rate from, so those rates are not read (give "
            "--reference-rate, or a pilot with more people)"
        )
    notes.append(
        f"pilot {path}: reference rates {', '.join(f'{k} {v:.3g}' for k, v in rates.items()) or 'none'}; "
        + (f"ICC {icc_value:.3g} from misgender_gap's design effects" if icc_value is not None else "no ICC estimable")
        + (f"; {photos} photos a person" if photos else "")
    )
    return Pilot(groups, rates, photos, icc_value, sd, tuple(notes))


def _spread_of_mean(ci: tuple[float, float], level: float, people: int) -> float:
    """sd of a person's mean from a group's two-sided ``level`` t interval over ``people`` people.

    The check's interval is ``mean +- t * sd / sqrt(people)``, t at the interval's own level; its
    degrees of freedom are at most ``people - 1`` (Satterthwaite's are estimated from the data and the
    report does not keep them), which is what is used.
    """
    from scipy import stats as distributions

    quantile = float(distributions.t.ppf(0.5 + level / 2.0, people - 1))
    return (ci[1] - ci[0]) / (2.0 * quantile) * math.sqrt(people)


# Photos of one person a plan considers (the command line's --photos-per-person refuses more): a pilot that
# says more was edited or damaged (n = 1e12 asked numpy for 149 GiB).
MOST_PHOTOS = 10_000

# Checks whose units are the group's photos (so n, the photos counted, is at most its photos).
_PHOTO_UNITS = ("misgender_gap", "detection_failure_gap")


def _check_pilot(path: str, report: Any) -> None:
    """Refuse a pilot whose figures the planner would read as nonsense, naming the file and the field.

    What the command line refuses of the same figures (a rate outside 0 to 1, photos a person beyond
    :data:`MOST_PHOTOS`) a pilot may not say either; nor may it claim a schema newer than this kit's,
    people without photos or photos without people, or an interval or effective size that cannot be.
    """
    from ..report import SCHEMA_VERSION

    way_out = (
        "run the pilot again with `conformance run`, or give the figures yourself (--reference-rate, "
        "--photos-per-person, --icc)"
    )
    if report.schema > SCHEMA_VERSION:
        raise PlanError(
            f"{path}: schema {report.schema} is newer than this kit reads ({SCHEMA_VERSION}): its figures may mean "
            f"something else; upgrade the kit (pip install -U), or {way_out.split(', or ')[1]}"
        )
    for index, result in enumerate(report.checks):
        signed = result.id == "confidence_calibration"  # overconfidence: -1 to 1, not a rate
        for name, g in result.groups.items():
            where = f"{path}: checks[{index}] ({result.id}) group {name!r}"
            problem = ""
            if g.rate is not None and not (-1.0 <= g.rate <= 1.0 if signed else 0.0 <= g.rate <= 1.0):
                problem = f"'rate' is {g.rate:g}, outside {'-1' if signed else '0'} to 1"
            elif g.count > g.n or (result.id in _PHOTO_UNITS and g.n > g.photos):
                nest = "count <= n <= photos" if result.id in _PHOTO_UNITS else "count <= n"
                problem = f"'count' {g.count}, 'n' {g.n} and 'photos' {g.photos} do not nest ({nest})"
            elif (g.photos > 0 or g.n > 0) and g.subjects <= 0:
                problem = f"has {g.photos} photos ('n' {g.n}) and 'subjects' {g.subjects}: photos of nobody"
            elif g.subjects > g.photos:
                problem = f"has {g.subjects} 'subjects' but {g.photos} photos: people without a photo"
            elif g.subjects and max(g.photos, g.n) / g.subjects > MOST_PHOTOS:
                problem = (
                    f"has {max(g.photos, g.n):,} photos of {g.subjects:,} people, "
                    f"{max(g.photos, g.n) / g.subjects:,.0f} a person: the planner considers at most {MOST_PHOTOS:,}"
                )
            elif g.effective_n is not None and g.n > 0 and not (1.0 <= g.effective_n <= g.n * (1.0 + 1e-9)):
                # never fewer than one unit (Kish's floor, photos^2 / sum of squared counts), never more than n
                problem = f"'effective_n' is {g.effective_n:g}, outside its range (1 to 'n', {g.n})"
            elif g.ci is not None and not g.ci[0] <= g.ci[1]:
                problem = f"'ci' is [{g.ci[0]:g}, {g.ci[1]:g}], its lower limit above its upper"
            if problem:
                raise PlanError(f"{where} {problem}: the report was edited or damaged; {way_out}")
        if result.groups and not 0.0 < result.confidence < 1.0:
            raise PlanError(
                f"{path}: checks[{index}] ({result.id}) 'confidence' is {result.confidence:g}, not a level between 0 "
                f"and 1: the report was edited or damaged; {way_out}"
            )


@dataclass(frozen=True)
class Assessment:
    """Whether a manifest's data can settle one check, and why not."""

    check: str
    settles: bool
    reason: str
    pass_power: float | None = None
    fail_power: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "settles": self.settles,
            "reason": self.reason,
            "pass_power": self.pass_power,
            "fail_power": self.fail_power,
        }


@dataclass(frozen=True)
class ManifestPeople:
    """A manifest read for planning: its dataset, each photo's group, and each person's photo count."""

    dataset: Any  # conformance.dataset.Dataset
    labels: tuple[str, ...]
    photo_counts: tuple[int, ...]  # one entry a person of the compared groups (the undisclosed are not compared)


def read_manifest(
    manifest: str, policy: Policy, group_by: Sequence[str] = (), *, comparisons: bool = False
) -> ManifestPeople:
    """Load ``manifest`` once for the plan (its people's photo counts) and its assessment.

    ``comparisons``: a 1:1 comparison manifest (``photo`` and ``subject`` are enough). The photo
    counts are of the people compared: a face-search manifest's probes, not its gallery.
    """
    from ..dataset import group_labels, load_dataset

    dataset = load_dataset(manifest, identity_map=dict(policy.identity), comparisons=comparisons)
    labels = tuple(group_labels(dataset, group_by))
    per_person: dict[tuple[str, str], int] = {}
    for photo, label in zip(dataset.photos, labels, strict=True):
        if label != "undisclosed" and photo.role != "gallery":
            per_person[(label, photo.subject)] = per_person.get((label, photo.subject), 0) + 1
    return ManifestPeople(dataset, labels, tuple(per_person.values()))


def assess_manifest(
    manifest: str,
    inputs: PlanInputs,
    *,
    group_by: Sequence[str] = (),
    plans: Mapping[str, CheckPlan],
    loaded: ManifestPeople | None = None,
) -> tuple[dict[str, Any], list[Assessment]]:
    """Each check's verdict power on an existing manifest's people and photos, and what stands in its way."""

    from ..checks.check_ids import GENDER_CHECKS, SEARCH_CHECKS

    if loaded is None:
        loaded = read_manifest(manifest, inputs.policy, group_by)
    dataset, labels = loaded.dataset, loaded.labels
    people: dict[str, set[str]] = {}
    photos: dict[str, int] = {}
    per_person: dict[str, int] = {}
    for photo, label in zip(dataset.photos, labels, strict=True):
        people.setdefault(label, set()).add(photo.subject)
        photos[label] = photos.get(label, 0) + 1
        per_person[photo.subject] = per_person.get(photo.subject, 0) + 1
    compared = {g: len(p) for g, p in people.items() if g != "undisclosed"}
    summary = {
        "manifest": manifest,
        "groups": {g: {"people": len(people[g]), "photos": photos[g]} for g in sorted(people)},
    }
    out: list[Assessment] = []
    smallest = min(compared.values()) if compared else 0
    smallest_group = min(compared, key=compared.__getitem__) if compared else "none"
    mean_photos = max(1, round(sum(photos[g] for g in compared) / max(sum(compared.values()), 1)))
    varied = loaded.photo_counts if len(_count_table(loaded.photo_counts)[0]) > 1 else ()
    spread = (
        f"{_counts_shown(varied)} photos a person, {sum(varied) / len(varied):.3g} on average"
        if varied
        else f"{mean_photos} photos a person"
    )
    has_roles = any(p.role for p in dataset.photos)
    repeated = any(n >= 2 for n in per_person.values())
    nonbinary = sum(1 for p in {(p.subject, p.identity) for p in dataset.photos} if p[1] == "nonbinary")
    for check in inputs.checks:
        plan = plans.get(check)
        need = None if plan is None else plan.people_per_group
        if check in SEARCH_CHECKS:
            out.append(_assess_search(check, dataset, labels, inputs, group_by, plan))
            continue
        if check in GENDER_CHECKS and has_roles:
            out.append(Assessment(check, False, "a face-matching manifest (role column): gender checks do not apply"))
            continue
        if check in _PAIR_PLANS:
            out.append(_assess_pairs(check, dataset, labels, inputs, plan))
            continue
        if check != "nonbinary_representability" and len(compared) < 2:
            # A gap needs two groups: no number of people in the one there is settles it.
            only = ", ".join(sorted(compared)) or "none"
            out.append(
                Assessment(
                    check,
                    False,
                    f"only one group in the manifest ({only}, grouped by "
                    f"{', '.join(group_by) or 'the default: cis / trans / nonbinary'}): a gap is between two or more "
                    "groups; add people of another group, or group by another column (--group-by)",
                )
            )
            continue
        if check == "same_person_consistency":
            # Only people with two or more photos count: planned from them, not from every person (a manifest of
            # 300 a group with 10 of them photographed 3 times was given misgender_gap's power, 0.93 to fail).
            out.append(
                _assess_consistency(check, dataset, labels, inputs, plan)
                if repeated
                else Assessment(check, False, "nobody has two or more photos: not applicable")
            )
            continue
        if check == "transformation_invariance":
            out.append(
                Assessment(
                    check,
                    False,
                    "settled by transformed variants, not by the manifest: needs an analyzer that can look at new "
                    f"images and invariance_photos of at least {len(compared)} x {need or '?'} people",
                )
            )
            continue
        if check == "nonbinary_representability":
            if not nonbinary:
                out.append(Assessment(check, False, "no nonbinary people: the empirical half is not applicable"))
                continue
            group_size, label = nonbinary, "nonbinary"
        else:
            group_size, label = smallest, smallest_group
        if group_size < inputs.policy.min_subjects:
            out.append(
                Assessment(
                    check,
                    False,
                    f"{label} has {group_size} people, below min_subjects {inputs.policy.min_subjects}: never decided",
                )
            )
            continue
        if plan is None or need is None:
            out.append(Assessment(check, False, "not planned" if plan is None else "; ".join(plan.notes)))
            continue
        # The manifest's own people: their photo counts as they are, not the plan's.
        design_inputs = replace(
            inputs, photos_per_person=mean_photos, photo_counts=varied, groups=tuple(sorted(compared))
        )
        assessed = _assess_size(check, design_inputs, group_size)
        settles = all(p is not None and p >= inputs.power for p in assessed)
        reason = (
            f"{label} has {group_size} people ({spread}): power "
            f"{_shown_power(assessed[0])} to pass at a true gap of 0, {_shown_power(assessed[1])} to fail at "
            f"{plan.directions[1].true_gap:g}"
        )
        if not settles:
            reason += f"; {need} people a group would settle it at {inputs.power:g} power"
        out.append(Assessment(check, settles, reason, assessed[0], assessed[1]))
    return summary, out


def _people_of(dataset: Any, labels: Sequence[str], keep: Any) -> dict[str, dict[str, int]]:
    """Per group, each person's count of the photos ``keep(photo)`` selects (the undisclosed are not compared)."""
    out: dict[str, dict[str, int]] = {}
    for photo, label in zip(dataset.photos, labels, strict=True):
        if label != "undisclosed" and keep(photo):
            person = out.setdefault(label, {})
            person[photo.subject] = person.get(photo.subject, 0) + 1
    return out


def _assess_units(
    check: str, units: Mapping[str, Mapping[str, int]], what: str, inputs: PlanInputs, plan: CheckPlan | None
) -> Assessment:
    """Power on the smallest group of ``units`` (group -> person -> count), or why there is none."""

    if len(units) < 2:
        return Assessment(
            check,
            False,
            f"{what} of {len(units)} group{'s' if len(units) != 1 else ''} ({', '.join(sorted(units)) or 'none'}): a "
            "gap or ratio is between two or more groups; add people of another group, or group by another column "
            "(--group-by)",
        )
    label = min(units, key=lambda g: (len(units[g]), g))
    counts = tuple(units[label].values())
    size = len(counts)
    if size < inputs.policy.min_subjects:
        return Assessment(
            check,
            False,
            f"{label} has {size} people ({what}), below min_subjects {inputs.policy.min_subjects}: never decided",
        )
    if plan is None or plan.people_per_group is None:
        return Assessment(check, False, "not planned" if plan is None else "; ".join(plan.notes))
    mean = max(1, round(sum(counts) / size))
    varied = counts if len(set(counts)) > 1 else ()
    design_inputs = replace(
        inputs, photos_per_person=mean, photo_counts=varied, groups=tuple(sorted(units, key=lambda g: g != label))
    )
    assessed = _assess_size(check, design_inputs, size)
    settles = all(p is not None and p >= inputs.power for p in assessed)
    shown = f"{_counts_shown(varied)} a person, {sum(varied) / size:.3g} on average" if varied else f"{mean} a person"
    fail = plan.directions[1]
    scenario = f"a ratio of {fail.extra['true_ratio']:g}" if "true_ratio" in fail.extra else f"{fail.true_gap:g}"
    reason = (
        f"{label} has {size} people ({what}, {shown}): power {_shown_power(assessed[0])} to pass at no difference, "
        f"{_shown_power(assessed[1])} to fail at {scenario}"
    )
    if not settles:
        reason += f"; {plan.people_per_group} people a group would settle it at {inputs.power:g} power"
    return Assessment(check, settles, reason, assessed[0], assessed[1])


def _assess_consistency(
    check: str, dataset: Any, labels: Sequence[str], inputs: PlanInputs, plan: CheckPlan | None
) -> Assessment:
    """same_person_consistency on a manifest: its units are the people with two or more photos, by group."""
    everyone = _people_of(dataset, labels, lambda p: True)
    units = {g: {s: c for s, c in people.items() if c >= 2} for g, people in everyone.items()}
    alone = sorted(g for g, people in units.items() if not people)
    if alone:
        return Assessment(
            check,
            False,
            f"nobody in {', '.join(alone)} has two or more photos: the check reads only such people, so it is not "
            "applicable to that group; give some of its people a second photo",
        )
    return _assess_units(check, units, "people with 2+ photos", inputs, plan)


def _assess_search(
    check: str, dataset: Any, labels: Sequence[str], inputs: PlanInputs, group_by: Sequence[str], plan: CheckPlan | None
) -> Assessment:
    """A face-search check on a manifest: its units are the non-mated (or mated) probes, by the probe's group."""
    if not any(p.role for p in dataset.photos):
        return Assessment(
            check, False, "no role column (gallery/probe): a face-search check does not apply to this manifest"
        )
    if not group_by:
        return Assessment(
            check,
            False,
            "a face-search manifest is grouped by a column you name: give --group-by (e.g. race_ethnicity)",
        )
    enrolled = {p.subject for p in dataset.photos if p.role == "gallery"}
    mated = check == "false_non_match_gap"
    what = (
        "mated probes (their person in the gallery)" if mated else "non-mated probes (their person not in the gallery)"
    )
    units = _people_of(dataset, labels, lambda p: p.role == "probe" and (p.subject in enrolled) == mated)
    if not units:
        return Assessment(check, False, f"no {what.split(' (')[0]}: nothing for {check} to count (not applicable)")
    return _assess_units(check, units, what, inputs, plan)


def _assess_pairs(
    check: str, dataset: Any, labels: Sequence[str], inputs: PlanInputs, plan: CheckPlan | None
) -> Assessment:
    """A 1:1 check on a manifest: every photo against every other; the threshold needs 3/FMR people-pairs."""
    import math as _math

    units = _people_of(dataset, labels, lambda p: True)
    people = sum(len(v) for v in units.values())
    target = inputs.policy.target_fmr[0]
    needed = _math.ceil(3.0 / target)
    if people * (people - 1) // 2 < needed:
        return Assessment(
            check,
            False,
            f"{people} people make {people * (people - 1) // 2:,} people-pairs: no threshold can be fixed at FMR "
            f"{target:g}, which needs 3/FMR = {needed:,} (add people, or a higher target FMR)",
        )
    if check != "false_match_differential" and not any(n >= 2 for v in units.values() for n in v.values()):
        return Assessment(
            check, False, "nobody has two or more photos: no genuine comparisons, so no FNMR (not applicable)"
        )
    return _assess_units(check, units, "photos compared 1:1", inputs, plan)


def _shown_power(p: float | None) -> str:
    return "unknown" if p is None else f"{p:.2f}"


def _assess_size(check: str, inputs: PlanInputs, people: int) -> tuple[float | None, float | None]:
    """(power to pass, power to fail) at ``people`` a group, by the same route the plan takes."""
    tolerance = inputs.policy.tolerance_for(check)
    gap = _fail_gap(inputs, tolerance)
    sim = inputs.simulation
    if check == "nonbinary_representability":
        alpha_pass, alpha_fail = policy_levels(inputs.policy)
        if sim.replicates <= 0 or people > SIMULATION_LIMIT:
            return None, None
        powers = [
            simulated_rate_power(
                rate,
                tolerance,
                people,
                inputs.photos_per_person,
                inputs.icc,
                verdict=verdict,
                alpha=alpha,
                method=inputs.policy.interval,
                min_subjects=inputs.policy.min_subjects,
                simulation=sim,
                counts=inputs.photo_counts,
            )
            for verdict, rate, alpha in (("pass", 0.0, alpha_pass), ("fail", min(gap, 1.0), alpha_fail))
        ]
        return powers[0], powers[1]
    if check in _PAIR_PLANS:
        return _assess_pair_size(check, inputs, people)
    if check == "same_person_consistency":
        return consistency_power(inputs, people)
    if check == "confidence_calibration" or check not in _COUNT_CHECKS:
        return None, None
    rate = inputs.rates[check]
    groups = len(inputs.groups)
    photos = (
        max(inputs.policy.invariance_transforms, 1)
        if check == "transformation_invariance"
        else inputs.photos_per_person
    )
    design = _gap_design(inputs, check, rate, photos, groups)
    low, high = (rate, rate + gap) if rate + gap <= 1.0 else (1.0 - gap, 1.0)
    if sim.replicates <= 0 or people > SIMULATION_LIMIT:
        return design.pass_power(people), design.fail_power(people, gap)
    return (
        simulation.simulated_power(design, people, [rate] * groups, "pass", sim),
        simulation.simulated_power(design, people, [low] * (groups - 1) + [high], "fail", sim),
    )


def _assess_pair_size(check: str, inputs: PlanInputs, people: int) -> tuple[float | None, float | None]:
    """(power to pass, power to fail) of a 1:1 check at ``people`` a group, as its plan computes them."""
    from . import pairs, pairs_power

    design, _ = pairs.pair_design(inputs)
    ratio = pairs.fail_ratio(inputs)
    fmr_fail = pairs_power.fmr_power(design, people, "fail", ratio)
    if check == "false_match_differential":
        return pairs_power.fmr_power(design, people, "pass"), fmr_fail
    rate = inputs.rates.get("false_non_match_differential", inputs.rates.get(check, 0.05))
    sim = inputs.simulation

    def fnmr(verdict: str, true_ratio: float) -> float:
        if design.photos < 2:
            return 0.0
        if sim.replicates <= 0:
            return pairs_power.fnmr_approximate(design, people, verdict, rate, true_ratio, inputs.icc)
        return pairs_power.fnmr_power(design, people, verdict, rate, true_ratio, inputs.icc, replicates=sim.replicates)

    if check == "false_non_match_differential":
        return fnmr("pass", 1.0), fnmr("fail", ratio)
    fta = _gap_design(inputs, "failure_to_acquire_gap", 0.0, design.photos, design.groups)
    return pairs_power.fmr_power(design, people, "pass") * fnmr("pass", 1.0) * fta.pass_power(people), fmr_fail
