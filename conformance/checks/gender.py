"""Gender checks: misgendering, nonbinary representability, same-person consistency, calibration,
detection failures. Each is a pure function: observations, groups and policy in, CheckResult out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .. import stats
from ..errors import ConformanceError
from ..identity import SELF_DESCRIBED
from ..observation import GENDER_CODES
from ..results import CheckResult, Comparison, GroupRate, Verdict, worst
from ._compare import Units, compare_measures, error_rates, group_order

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..observation import Observations
    from ..policy import Policy

__all__ = [
    "confidence_calibration",
    "detection_failure_gap",
    "misgender_gap",
    "nonbinary_representability",
    "same_person_consistency",
    "transformation_invariance",
]


@dataclass(frozen=True)
class _Grouping:
    """The run's group of each photo as a small integer code, each group's name held once.

    A numpy string array of group names is padded to the longest name: 4 bytes a character a photo
    (36 MB for a million photos named up to "nonbinary", 800 MB for 200-character intersections),
    and every comparison with a name reads all of it. Here a photo costs a 4-byte code and an
    8-byte reference to its group's one ``str`` (``labels``, an object array the shared comparison
    code reads as it read the string array: ``labels == name``, ``labels[mask]``); the checks' own
    masks compare codes.
    """

    names: tuple[str, ...]  # each group once, in order of first appearance
    codes: npt.NDArray[np.int32]  # per photo: its group's index in names
    labels: npt.NDArray[np.object_]  # per photo: its group's name (the one str of names)
    _masks: dict[str, npt.NDArray[np.bool_]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, groups: Sequence[str]) -> _Grouping:
        import numpy as np

        index: dict[str, int] = {}
        codes = np.fromiter((index.setdefault(g, len(index)) for g in groups), dtype=np.int32, count=len(groups))
        names = tuple(index)
        table = np.empty(len(names), dtype=object)
        table[:] = names  # element by element: a name that is itself a sequence stays one name
        return cls(names, codes, table[codes])

    def mask(self, name: str) -> npt.NDArray[np.bool_]:
        """True for the photos of group ``name`` (kept: every check asks for the same few)."""
        import numpy as np

        if name not in self._masks:
            code = self.names.index(name) if name in self.names else -1
            self._masks[name] = np.asarray(self.codes == code, dtype=np.bool_)
        return self._masks[name]

    def present(self, where: npt.NDArray[np.bool_] | None = None) -> list[str]:
        """The names of the groups with a photo (where ``where`` is True), sorted."""
        import numpy as np

        codes = self.codes if where is None else self.codes[where]
        seen = np.flatnonzero(np.bincount(codes, minlength=len(self.names)))
        return sorted(self.names[i] for i in seen.tolist())


# The last grouping made, by the tuple it was made from: the run passes the same tuple of a million
# names to every check, and codes made once serve them all. Only a tuple is remembered (immutable:
# the names cannot change under the codes).
_last_grouping: tuple[tuple[str, ...], _Grouping] | None = None


def _groups(observations: Observations, groups: Sequence[str]) -> _Grouping:
    global _last_grouping

    if len(groups) != len(observations):
        raise ValueError(f"{len(groups)} group labels for {len(observations)} photos")
    cached = _last_grouping
    if cached is not None and cached[0] is groups:
        return cached[1]
    grouping = _Grouping.of(groups)
    if isinstance(groups, tuple):
        _last_grouping = (groups, grouping)
    return grouping


# -- people who did not disclose a gender identity ----------------------------------------------------------
# They stay in every photo count and in detection_failure_gap, transformation_invariance and coverage; the
# checks that need a self-description to judge a label against (misgendering, calibration's correctness,
# consistency, nonbinary representability) leave them out through these two helpers.


def _disclosed(observations: Observations, photo_group: _Grouping, reference: str) -> npt.NDArray[np.bool_]:
    """Photos whose subject described a gender identity; refuses a reference group of undisclosed people only."""
    keep = observations.disclosed
    in_reference = photo_group.mask(reference)
    # Nobody disclosed anything (the only group is the undisclosed one): the checks say so as they do of a run
    # with nothing to compare, rather than blame a reference nobody chose (rt14c F2).
    if in_reference.any() and not keep[in_reference].any() and keep.any():
        raise ConformanceError(
            f"reference group {reference!r} holds only people who did not disclose a gender identity: there is "
            "nothing to misgender against in it; choose another reference with --reference"
        )
    return keep


def _show_undisclosed(
    result: CheckResult, observations: Observations, photo_group: _Grouping, keep: npt.NDArray[np.bool_]
) -> CheckResult:
    """Every group with all its photos and people, each with how many photos were undisclosed, and a note."""
    import numpy as np

    hidden = ~keep
    if not hidden.any():
        return result
    rates: dict[str, GroupRate] = {}
    for name in group_order(photo_group.names, result.reference):
        in_group = photo_group.mask(name)
        rate = result.groups.get(name) or GroupRate(name, 0, 0, 0, 0, None, None)
        rates[name] = replace(
            rate,
            photos=int(in_group.sum()),
            subjects=len(np.unique(observations.subject[in_group])),
            extra={**rate.extra, "undisclosed": int(np.sum(in_group & hidden))},
        )
    people = len(np.unique(observations.subject[hidden]))
    note = (
        f"{int(hidden.sum())} photos of {people} people who did not disclose a gender identity are in the photo "
        "counts but not in this check's figures: there is no self-description to judge a label against "
        "(detection_failure_gap counts them)"
    )
    return replace(result, groups=rates, notes=(*result.notes, note))


def _nobody_disclosed(
    check_id: str,
    measure: str,
    observations: Observations,
    photo_group: _Grouping,
    reference: str,
    policy: Policy,
    count_label: str,
    keep: npt.NDArray[np.bool_],
) -> CheckResult:
    """Not applicable: no person of the run described a gender identity, so no label can be judged (rt14c F2)."""
    alpha_pass, alpha_fail = error_rates(policy)
    result = CheckResult(
        id=check_id,
        verdict="not applicable",
        groups={},
        comparisons=(),
        method="none: nobody disclosed a gender identity",
        measure=measure,
        reference=reference,
        confidence=policy.confidence,
        notes=(
            "not applicable: nobody in the dataset disclosed a gender identity, so there is no self-description "
            "to judge a label against; the check applies once some people describe their gender identity",
        ),
        count_label=count_label,
        alpha_pass=alpha_pass,
        alpha_fail=alpha_fail,
        direction=policy.direction,
    )
    return _show_undisclosed(result, observations, photo_group, keep)


def _result(
    check_id: str,
    measure: str,
    observations: Observations,
    units: Units,
    *,
    photo_group: _Grouping,
    reference: str,
    policy: Policy,
    seed: int,
    count_label: str,
    notes: Sequence[str] = (),
    details: dict[str, Any] | None = None,
    keep: npt.NDArray[np.bool_] | None = None,
    not_applicable: Mapping[str, str] | None = None,
    cannot_pass: Mapping[str, str] | None = None,
    companion: tuple[str, Units] | None = None,
) -> CheckResult:
    """``keep``: the photos whose groups are compared (see :func:`_disclosed`); the others are shown, not compared.

    ``companion``: (what it counts, its units), a second measure every comparison must also satisfy
    (see :func:`conformance.checks._compare.compare_measures`); its figures go to ``details``.
    """
    tolerance = policy.tolerance_for(check_id)
    if keep is not None and not keep.any():
        return _nobody_disclosed(check_id, measure, observations, photo_group, reference, policy, count_label, keep)
    done = compare_measures(
        units,
        photo_group=photo_group.labels if keep is None else photo_group.labels[keep],
        photo_subject=observations.subject if keep is None else observations.subject[keep],
        reference=reference,
        tolerance=tolerance,
        policy=policy,
        seed=seed,
        not_applicable=not_applicable,
        cannot_pass=cannot_pass,
        companion=None if companion is None else companion[1],
        companion_label="" if companion is None else companion[0],
    )
    rates, comparisons, extra_notes, method = done.groups, done.comparisons, done.notes, done.method
    if companion is not None:
        details = {
            **(details or {}),
            "companion": {
                "measure": companion[0],
                "groups": {name: g.to_dict() for name, g in done.companion_groups.items()},
                "comparisons": [c.to_dict() for c in done.companion_comparisons],
            },
        }
    alpha_pass, alpha_fail = error_rates(policy)
    verdict = worst(c.verdict for c in comparisons)
    na_notes = [f"not applicable: {c.note}" for c in comparisons[:1]] if verdict == "not applicable" else []
    result = CheckResult(
        id=check_id,
        verdict=verdict,
        groups=rates,
        comparisons=comparisons,
        method=method,
        measure=measure,
        reference=reference,
        confidence=policy.confidence,
        notes=(*notes, *extra_notes, *na_notes),
        details=details or {},
        count_label=count_label,
        alpha_pass=alpha_pass,
        alpha_fail=alpha_fail,
        direction=policy.direction,
    )
    return result if keep is None else _show_undisclosed(result, observations, photo_group, keep)


def _labelled(observations: Observations) -> npt.NDArray[np.bool_]:
    """Photos with a face given a gender label (not an abstention)."""
    labelled: npt.NDArray[np.bool_] = (
        observations.analysed & (observations.predicted >= 0) & (observations.predicted != GENDER_CODES["abstain"])
    )
    return labelled


def _coverage(observations: Observations, photo_group: _Grouping) -> dict[str, float | None]:
    """Per group: share of faces of women and men given a woman or man label (None: no such face).

    Nonbinary people are left out: for them no gender label is the right answer when the
    vocabulary has no nonbinary label, and abstaining is what representability asks for. A woman or
    man given the nonbinary label is not covered, as one given none is not: neither answer can be
    counted as misgendering them, so either could hide it (an analyzer that calls everyone nonbinary
    misgenders nobody by the rule; issue 14's red team).
    """
    import numpy as np

    # Undisclosed people are not here either: their identity code is neither woman nor man.
    binary = (observations.identity == SELF_DESCRIBED.index("woman")) | (
        observations.identity == SELF_DESCRIBED.index("man")
    )
    faces = observations.analysed & binary
    labelled = faces & (
        (observations.predicted == GENDER_CODES["woman"]) | (observations.predicted == GENDER_CODES["man"])
    )
    out: dict[str, float | None] = {}
    for name in photo_group.present():
        in_group = photo_group.mask(name)
        total = int(np.sum(faces & in_group))
        out[str(name)] = int(np.sum(labelled & in_group)) / total if total else None
    return out


def _low_coverage(coverage: Mapping[str, float | None], policy: Policy) -> dict[str, str]:
    """Groups whose coverage is below the policy's floor: their comparisons cannot pass."""
    return {
        name: (
            f"only {share:.1%} of faces of women and men were given a woman or man label (min_coverage "
            f"{policy.min_coverage:g}): no label, or a nonbinary one, cannot be counted as misgendering them and "
            "could hide it; a pass needs the analyzer to answer"
        )
        for name, share in coverage.items()
        if share is not None and share < policy.min_coverage
    }


def _abstained_entirely(
    observations: Observations,
    photo_group: _Grouping,
    counted: npt.NDArray[np.bool_],
    keep: npt.NDArray[np.bool_],
) -> dict[str, str]:
    """Groups with faces found but none given a gender label: nothing a label-reading check counts, by construction.

    Only the faces of people who disclosed an identity (``keep``) count: undisclosed people's labels
    are not read by these checks, so they neither make a group applicable nor show that it abstained.
    """
    import numpy as np

    # A face of a woman or man left without a label is the analyzer's choice, not the data's: the coverage
    # floor speaks to it (inconclusive), never "not applicable".
    binary = (observations.identity == SELF_DESCRIBED.index("woman")) | (
        observations.identity == SELF_DESCRIBED.index("man")
    )
    out: dict[str, str] = {}
    for name in photo_group.present(keep):
        in_group = photo_group.mask(name)
        if np.any(observations.analysed & binary & in_group):
            continue
        if np.any(observations.analysed & keep & in_group) and not np.any(counted & in_group):
            out[str(name)] = (
                "the analyzer gave no gender label to any face in this group (it abstained on every one); "
                "the check applies to a group once some of its faces are labelled"
            )
    return out


NOT_CORRECTLY_GENDERED = (
    "photos not correctly gendered (misgendered, a woman or man given no gender of their own, or no face found), "
    "over every photo"
)


def _not_correctly_gendered(observations: Observations) -> npt.NDArray[np.bool_]:
    """Misgendered, a woman or man whose face got anything but their own label (an abstention too), or not seen.

    Abstaining on the faces it would get wrong must not let an analyzer pass, nor reporting no face
    on them: this companion of the misgender rate counts both as misses, over every photo (a photo
    with no face found or an error counts too, for everyone), so a misgendering gap cannot be split
    between this check and ``detection_failure_gap`` and pass both. Nonbinary people are not counted
    for an abstention (with a binary vocabulary it is the right answer). Undisclosed people are left
    out by the caller.
    """
    import numpy as np

    woman, man = SELF_DESCRIBED.index("woman"), SELF_DESCRIBED.index("man")
    own = np.where(
        observations.identity == woman,
        GENDER_CODES["woman"],
        np.where(observations.identity == man, GENDER_CODES["man"], -2),
    )
    binary = own != -2
    missed: npt.NDArray[np.bool_] = (
        observations.misgendered
        | (observations.analysed & binary & (observations.predicted != own))
        | ~observations.analysed
    )
    return missed


def misgender_gap(
    observations: Observations, *, groups: Sequence[str], reference: str, policy: Policy, seed: int
) -> CheckResult:
    """Misgender rate per group (misgendered photos / photos with a face) and each group's gap to the reference.

    Abstentions stay in the denominator; photos with no face or an error do not (see
    ``detection_failure_gap``). Coverage (share of faces given a gender) is reported per group.
    Every pair is also compared on photos not correctly gendered, over every photo (an abstention on
    a woman or man, and a photo with no face found or an error, count as misses), so neither
    abstaining on the faces it would misgender nor reporting no face on them can earn a pass.
    """
    import numpy as np

    photo_group = _groups(observations, groups)
    keep = _disclosed(observations, photo_group, reference)
    analysed = observations.analysed
    units = Units(
        numerator=observations.misgendered.astype(np.float64),
        denominator=(analysed & keep).astype(np.float64),
        cluster=observations.subject,
        group=photo_group.labels,
    )
    coverage = _coverage(observations, photo_group)
    # Over every photo, not only those with a face: not seeing someone is no way out of the companion.
    companion = Units(
        numerator=(_not_correctly_gendered(observations) & keep).astype(np.float64),
        denominator=keep.astype(np.float64),
        cluster=observations.subject,
        group=photo_group.labels,
    )
    result = _result(
        "misgender_gap",
        "misgendered photos / photos with a face",
        observations,
        units,
        photo_group=photo_group,
        reference=reference,
        policy=policy,
        seed=seed,
        count_label="misgendered",
        keep=keep,
        cannot_pass=_low_coverage(coverage, policy),
        companion=(NOT_CORRECTLY_GENDERED, companion),
    )
    abstained = analysed & (observations.predicted == GENDER_CODES["abstain"])
    # Coverage needs no self-description: it counts every face found, undisclosed people's too.
    faces = {name: int(np.sum(analysed & photo_group.mask(name))) for name in result.groups}
    rates = {
        name: replace(
            rate,
            extra={
                **rate.extra,
                "abstained": int(np.sum(abstained & photo_group.mask(name))),
                "coverage": 1 - int(np.sum(abstained & photo_group.mask(name))) / faces[name] if faces[name] else None,
                "coverage_women_men": coverage.get(name),
            },
        )
        for name, rate in result.groups.items()
    }
    return replace(result, groups=rates)


def detection_failure_gap(
    observations: Observations, *, groups: Sequence[str], reference: str, policy: Policy, seed: int
) -> CheckResult:
    """Share of photos where no face was found or the call failed, per group, and gaps to the reference."""
    import numpy as np

    photo_group = _groups(observations, groups)
    failed = ~observations.analysed
    units = Units(
        numerator=failed.astype(np.float64),
        denominator=np.ones(len(observations)),
        cluster=observations.subject,
        group=photo_group.labels,
    )
    result = _result(
        "detection_failure_gap",
        "photos with no face found or an error / photos",
        observations,
        units,
        photo_group=photo_group,
        reference=reference,
        policy=policy,
        seed=seed,
        count_label="failed",
    )
    no_face = observations.outcome == 1
    error = observations.outcome == 2
    rates = {
        name: replace(
            rate,
            extra={
                "no_face": int(np.sum(no_face & photo_group.mask(name))),
                "error": int(np.sum(error & photo_group.mask(name))),
            },
        )
        for name, rate in result.groups.items()
    }
    return replace(result, groups=rates)


def same_person_consistency(
    observations: Observations, *, groups: Sequence[str], reference: str, policy: Policy, seed: int
) -> CheckResult:
    """How often one person's photos get different answers, per group, whatever their photo count.

    A photo's answer is its gender label, or none: an abstention, no face found or an error. Per
    person with two or more photos of whom at least one was given a label: the share of pairs of
    their photos whose answers disagree (a label against none disagrees); the measure is the mean of
    those shares over people (each person counts once). A photo left without a label is a different
    answer from the label the person's other photos got: abstaining on, or not seeing, the one photo
    that would have been labelled differently does not take a person out of the measure (red team of
    issue 13), while the same rate of unanswered photos in every group makes no gap. If an analyzer
    answers each photo independently with the same error rate, this share does not depend on how
    many photos a person has (the share of people whose answer changes on *any* photo does, and is
    kept in each group's figures as ``any_change_share``). The unit is a person within a group (a
    person whose photos fall in two groups counts in each).

    Not applicable to a group in which no person has two or more photos, or whose faces the
    analyzer gave no label at all.
    """
    import numpy as np

    photo_group = _groups(observations, groups)
    keep = _disclosed(observations, photo_group, reference)
    labelled = _labelled(observations) & keep
    # One integer per (group, person): the unit of this check. (Keys in another order than the strings
    # "group\0subject" this was once made of, which changes no figure: each key is one unit.)
    people = int(observations.subject.max()) + 1 if len(observations) else 1
    pairs = photo_group.codes.astype(np.int64) * people + observations.subject
    keys, inverse = np.unique(pairs[keep], return_inverse=True)
    # Every photo without a label (abstained, no face, an error) is one answer: "none".
    none = GENDER_CODES["abstain"]
    labels = np.where(labelled, observations.predicted, none)[keep].astype(np.int64)
    photos_per_key = np.bincount(inverse, minlength=len(keys)).astype(np.float64)
    labelled_per_key = np.bincount(inverse, weights=labelled[keep].astype(np.float64), minlength=len(keys))
    # Disagreeing pairs of a person's n photos: (n^2 - sum over answers of count^2) / 2.
    codes = len(GENDER_CODES)
    per_label = np.bincount(inverse * codes + labels, minlength=len(keys) * codes).reshape(len(keys), codes)
    square_sum = np.sum(per_label.astype(np.float64) ** 2, axis=1)
    eligible = (photos_per_key >= 2) & (labelled_per_key >= 1)
    share = np.where(
        eligible, (photos_per_key**2 - square_sum) / np.maximum(photos_per_key * (photos_per_key - 1), 1), 0.0
    )
    changed = eligible & (np.count_nonzero(per_label, axis=1) > 1)
    first_photo = np.unique(inverse, return_index=True)[1]
    key_group = photo_group.labels[keep][first_photo]
    key_subject = observations.subject[keep][first_photo]
    # The most a person's share can be: their n photos spread as evenly as they go over the L answers (the
    # vocabulary's genders, two or three with a nonbinary label, and "none"): near (1 - 1/L) n / (n - 1).
    kinds = (3 if observations.analyzer.get("vocabulary", {}).get("can_express_nonbinary") else 2) + 1
    even, extra = np.divmod(photos_per_key, kinds)
    most_alike = (kinds - extra) * even**2 + extra * (even + 1.0) ** 2
    ceiling = np.where(
        eligible, (photos_per_key**2 - most_alike) / np.maximum(photos_per_key * (photos_per_key - 1), 1), 1.0
    )
    units = Units(
        numerator=share,
        denominator=eligible.astype(np.float64),
        cluster=key_subject,
        group=key_group,
        proportion=False,
        ceiling=ceiling,
    )
    not_applicable = _abstained_entirely(observations, photo_group, labelled, keep)
    # People who did not disclose an identity are not read here, so their photos make no group applicable
    # (and the reason is worded as without them: adding them changes no figure of this check).
    kept_keys, photos_per_kept_key = np.unique(pairs[keep], return_counts=True)
    kept_key_group = kept_keys // people
    for name in photo_group.present(keep):
        in_group = kept_key_group == photo_group.names.index(name)
        if not np.any(photos_per_kept_key[in_group] >= 2):
            not_applicable.setdefault(
                str(name),
                "no person in this group has two or more photos; the check applies once some people are "
                "photographed more than once",
            )
    result = _result(
        "same_person_consistency",
        "share of a person's pairs of photos given different answers (a gender label, or none: abstained, no face "
        "or an error), averaged over people with 2+ photos, one of them labelled",
        observations,
        units,
        photo_group=photo_group,
        reference=reference,
        policy=policy,
        seed=seed,
        count_label="changed",
        keep=keep,
        not_applicable=not_applicable,
        cannot_pass=_low_coverage(_coverage(observations, photo_group), policy),
    )
    rates = {}
    for name, rate in result.groups.items():
        mine = eligible & (key_group == name)
        people = int(mine.sum())
        rates[name] = replace(
            rate,
            count=int(np.sum(changed & mine)),
            extra={
                **rate.extra,
                # The older measure, kept by name: it grows with the photos a person has.
                "any_change_share": int(np.sum(changed & mine)) / people if people else None,
                "photos_per_person": float(np.mean(photos_per_key[mine])) if people else None,
                # Photos of these people left without a label: each a different answer from a label.
                "unlabelled_photos": int(np.sum((photos_per_key - labelled_per_key)[mine])),
            },
        )
    return replace(result, groups=rates)


def confidence_calibration(
    observations: Observations, *, groups: Sequence[str], reference: str, policy: Policy, seed: int
) -> CheckResult:
    """Confidence against correctness per group, among photos given a gender label with a confidence.

    The measure is overconfidence: mean confidence (0-1) minus the share labelled correctly (the
    label matches the self-description: a woman's label means woman, a man's man, a nonbinary
    person's nonbinary). A group whose overconfidence exceeds the reference's by more than the
    tolerance fails. Per group the report also gives mean confidence when right and when wrong and
    the expected calibration error (10 equal-width bins). A group more often wrong *and* more
    confident than the reference is flagged. Not applicable only where the analyzer declares it
    gives no confidence (its vocabulary's ``gives_confidence``); labels with none otherwise leave
    the check inconclusive.
    """
    import numpy as np

    photo_group = _groups(observations, groups)
    keep = _disclosed(observations, photo_group, reference)
    given = _labelled(observations) & keep
    labelled = given & ~np.isnan(observations.confidence)
    wrong = given & (observations.predicted != _own_label(observations))
    confidence = np.where(labelled, observations.confidence / 100.0, 0.0)
    units = Units(
        numerator=np.where(labelled, confidence - (~wrong), 0.0),
        denominator=labelled.astype(np.float64),
        cluster=observations.subject,
        group=photo_group.labels,
        proportion=False,
        bounded=False,
        # Overconfidence is mean confidence minus the share answered correctly: never more certain
        # than that share's own interval on the group's people.
        floor=(labelled & wrong).astype(np.float64),
    )
    not_applicable = _abstained_entirely(observations, photo_group, given, keep)
    cannot_pass = _low_coverage(_coverage(observations, photo_group), policy)
    declared = observations.analyzer.get("vocabulary", {}).get("gives_confidence")
    notes: list[str] = []
    if declared is False and not np.any(labelled):
        # Not applicable only on the analyzer's word that it cannot give one: confidences left out of a
        # predictions file are a choice the data cannot tell from an incapacity. The word is the vendor's own
        # (a header line): the verdict says so, and a policy that accepts no self-declared exemption
        # (procurement) holds the check inconclusive instead.
        why = _declared_exemption(policy)
        held = not_applicable if policy.declarations == "trusted" else cannot_pass
        held.update({str(name): why for name in photo_group.present(given)})
        notes.append(why)
    else:
        cannot_pass.update(_confidence_withheld(given, labelled, photo_group, declared))
        if np.any(given) and not np.any(labelled):
            notes.append(
                "no label came with a confidence, and the analyzer does not declare that it cannot give one: "
                "calibration is inconclusive, never not applicable (confidences left out could hide "
                'overconfidence). An analyzer that cannot give one says so: "gives_confidence": false in a '
                "predictions file's header, GIVES_CONFIDENCE = False in a python model's module"
            )
    result = _result(
        "confidence_calibration",
        "mean confidence minus share labelled correctly (overconfidence)",
        observations,
        units,
        photo_group=photo_group,
        reference=reference,
        policy=policy,
        seed=seed,
        count_label="wrong",
        keep=keep,
        notes=notes,
        not_applicable=not_applicable,
        cannot_pass=cannot_pass,
    )
    rates: dict[str, GroupRate] = {}
    summary: dict[str, dict[str, float | None]] = {}
    for name, rate in result.groups.items():
        mask = labelled & photo_group.mask(name)
        right_mask, wrong_mask = mask & ~wrong, mask & wrong
        conf = confidence[mask]
        accuracy = float(np.mean(~wrong[mask])) if mask.any() else None
        figures = {
            "accuracy": accuracy,
            "mean_confidence": float(conf.mean()) if mask.any() else None,
            "mean_confidence_right": float(confidence[right_mask].mean()) if right_mask.any() else None,
            "mean_confidence_wrong": float(confidence[wrong_mask].mean()) if wrong_mask.any() else None,
            "calibration_error": _expected_calibration_error(conf, ~wrong[mask]) if mask.any() else None,
        }
        summary[name] = figures
        without = int(np.sum(given & ~labelled & photo_group.mask(name)))
        extra = {**rate.extra, **figures, "labels_without_confidence": without}
        rates[name] = replace(rate, count=int(wrong_mask.sum()), extra=extra)
    ref = summary[reference]
    flags = []
    for name, figures in summary.items():
        if name == reference or figures["accuracy"] is None or ref["accuracy"] is None:
            continue
        if figures["accuracy"] < ref["accuracy"] and (figures["mean_confidence"] or 0) > (ref["mean_confidence"] or 0):
            flags.append(
                f"{name} is more confident yet more wrong than {reference}: mean confidence "
                f"{figures['mean_confidence']:.3f} vs {ref['mean_confidence']:.3f}, "
                f"wrong {1 - figures['accuracy']:.3f} vs {1 - ref['accuracy']:.3f}"
            )
    return replace(
        result,
        groups=rates,
        notes=(*result.notes, *flags),
        details={"more_confident_yet_more_wrong": [f.split(" is ")[0] for f in flags]},
    )


def _declared_exemption(policy: Policy) -> str:
    """Why calibration is excused (or, under a policy that accepts no self-declared exemption, held) by a declaration."""
    said = (
        'by the analyzer\'s declaration: it declares it gives no confidence ("gives_confidence": false in its '
        "predictions header, GIVES_CONFIDENCE = False in a python model), and the data cannot tell that from "
        "confidences left out"
    )
    if policy.declarations == "trusted":
        return (
            f"not applicable {said}; calibration applies to an analyzer that gives one (a policy with "
            'declarations = "inconclusive", as the procurement profile has, accepts no self-declared exemption)'
        )
    return (
        f"inconclusive: excused only {said}, and this policy accepts no self-declared exemption "
        '(declarations = "inconclusive"); give the confidences, or run under declarations = "trusted"'
    )


def _confidence_withheld(
    given: npt.NDArray[np.bool_], labelled: npt.NDArray[np.bool_], photo_group: _Grouping, declared: object
) -> dict[str, str]:
    """Groups some of whose labels came without a confidence, or with one the analyzer declares it cannot give.

    Calibration read on the labels that kept one could be on a chosen subset (withholding it on
    the wrong labels hides overconfidence), so such a group's comparisons cannot pass; nor can any
    where the analyzer declares it gives no confidence yet some label came with one.
    """
    import numpy as np

    out: dict[str, str] = {}
    for name in photo_group.present(given):
        in_group = photo_group.mask(name)
        missing, total = int(np.sum(given & ~labelled & in_group)), int(np.sum(given & in_group))
        if declared is False and np.any(labelled & in_group):
            out[str(name)] = (
                f"{total - missing} of {total} labels came with a confidence although the analyzer declares it "
                "gives none: correct the declaration (gives_confidence / GIVES_CONFIDENCE) or the answers"
            )
        elif missing:
            out[str(name)] = (
                f"{missing} of {total} labels came without a confidence: calibration on the rest could be on a "
                "chosen subset; a pass needs a confidence with every label"
            )
    return out


def _own_label(observations: Observations) -> npt.NDArray[np.int64]:
    """Per photo, the gender code that is right for its subject: woman, man or nonbinary (-2 when undisclosed).

    A label is correct when it matches the self-description: a nonbinary label on a woman is wrong
    (red team of issue 13: counting it right let an analyzer dodge calibration by answering "Nonbinary"
    on the women it would misgender).
    """
    import numpy as np

    own = np.full(len(observations), -2, dtype=np.int64)
    for identity in ("woman", "man", "nonbinary"):
        own[observations.identity == SELF_DESCRIBED.index(identity)] = GENDER_CODES[identity]
    return own


def _expected_calibration_error(confidence: npt.NDArray[np.float64], correct: npt.NDArray[np.bool_]) -> float:
    """ECE with 10 equal-width bins: sum over bins of (share of photos) * |accuracy - mean confidence|."""
    import numpy as np

    bins = np.minimum((confidence * 10).astype(np.int64), 9)
    count = np.bincount(bins, minlength=10).astype(np.float64)
    conf_sum = np.bincount(bins, weights=confidence, minlength=10)
    right_sum = np.bincount(bins, weights=correct.astype(np.float64), minlength=10)
    return float(np.sum(np.abs(right_sum - conf_sum)) / count.sum())


def nonbinary_representability(
    observations: Observations, *, groups: Sequence[str], reference: str, policy: Policy, seed: int
) -> CheckResult:
    """Whether nonbinary people can be represented: statically from the vocabulary, empirically from the data.

    Static: fails when the analyzer's declared vocabulary has only binary labels and no way to
    abstain, before a single photo is looked at. Empirical: per nonbinary person (any
    nonbinary-family identity) the share of their photos with a face that got a binary label,
    averaged over people, with its interval against the tolerance; the share of people given one on
    *any* photo (which grows with photos per person) is kept as ``any_photo_share``. Not applicable
    when the dataset has no nonbinary people. Grouping does not apply; the reference is not used.
    """
    import numpy as np

    del groups, reference, seed  # identity, not grouping, defines who is nonbinary here
    vocabulary: dict[str, Any] = dict(observations.analyzer.get("vocabulary", {}))
    labels = dict(vocabulary.get("labels", {}))
    expressible = bool(vocabulary.get("can_express_nonbinary")) or bool(vocabulary.get("can_abstain"))
    static_verdict: Verdict = "pass" if expressible else "fail"
    if expressible:
        reason = "the vocabulary can express a nonbinary identity or abstain"
    elif not labels:
        # Inferred from the answers and there were none (every photo an error, say): an empty vocabulary
        # says nothing about what the analyzer can say, so the static half cannot decide.
        static_verdict = "inconclusive"
        reason = (
            f"no gender label to judge: the vocabulary ({vocabulary.get('source', 'unknown')}) holds none, as no "
            "photo was given a gender; declare the analyzer's vocabulary (a predictions file's header "
            '"vocabulary", a python model\'s VOCABULARY) or fix the errors that left every photo without one'
        )
    else:
        reason = (
            f"the vocabulary {sorted(labels)} has only binary labels and cannot abstain: "
            "every nonbinary person is misgendered by construction"
        )
    static = {
        "verdict": static_verdict,
        "labels": labels,
        "source": vocabulary.get("source", "unknown"),
        "can_express_nonbinary": bool(vocabulary.get("can_express_nonbinary")),
        "can_abstain": bool(vocabulary.get("can_abstain")),
        "reason": reason,
    }

    nonbinary = observations.identity == SELF_DESCRIBED.index("nonbinary")  # undisclosed people are not here
    binary_label = observations.analysed & (
        (observations.predicted == GENDER_CODES["woman"]) | (observations.predicted == GENDER_CODES["man"])
    )
    seen = nonbinary & observations.analysed
    people, inverse = np.unique(observations.subject[seen], return_inverse=True)
    faces = np.bincount(inverse, minlength=len(people)).astype(np.float64)
    binary = np.bincount(inverse, weights=binary_label[seen].astype(np.float64), minlength=len(people))
    n = len(people)
    any_photo = int(np.sum(binary > 0))
    tolerance = policy.tolerance_for("nonbinary_representability")
    alpha_pass, alpha_fail = error_rates(policy)
    photos = int(nonbinary.sum())
    limits = "Clopper-Pearson" if policy.interval == "clopper-pearson" else "Wilson"
    notes = []
    comparisons: tuple[Comparison, ...] = ()
    group_rates: dict[str, GroupRate] = {}
    if n:
        # Each person counts once, with the share of their photos given a binary label: a figure
        # that does not grow with the photos a person has (the share given one on *any* photo does).
        r = stats.clustered_rate(binary / faces, np.ones(n))
        ci = stats.rate_interval(r, policy.confidence, policy.interval)
        tests = stats.rate_tests(r, tolerance, policy.interval)
        small = n < policy.min_subjects
        verdict: Verdict
        if small:
            verdict = "inconclusive"
        elif tests.exceeds <= alpha_fail:
            verdict = "fail"
        elif ci[1] <= tolerance:
            verdict = "pass"
        else:
            verdict = "inconclusive"
        mdg = None
        if verdict == "inconclusive":
            mdg = stats.detectable_rate(tolerance, stats.Precision.of(r), alpha=alpha_fail, method=policy.interval)
        comparison = Comparison(
            group="nonbinary",
            reference="none (absolute)",
            difference=r.rate,
            ci=ci,
            p_value=tests.exceeds,
            p_adjusted=tests.exceeds,
            p_within=tests.within,
            tolerance=tolerance,
            verdict=verdict,
            method=f"mean over nonbinary people of the share of their photos given a binary label, {limits} limits",
            min_detectable=mdg,
            note=f"fewer than {policy.min_subjects} nonbinary subjects" if small else "",
            level=policy.confidence,
        )
        rate = GroupRate(
            name="nonbinary",
            photos=photos,
            subjects=n,
            count=any_photo,
            n=n,
            rate=r.rate,
            ci=ci,
            extra={
                "photos_given_binary_label": int(np.sum(seen & binary_label)),
                "photos_with_face": int(seen.sum()),
                # The older measure, kept by name: it grows with the photos a person has.
                "any_photo_share": any_photo / n,
            },
            effective_n=float(n),
            person_rate=r.rate,
        )
        comparisons = (comparison,)
        group_rates = {"nonbinary": rate}
    elif photos:
        notes.append("no nonbinary subject has a photo with a face found: the empirical half is inconclusive")
    else:
        comparisons = (
            Comparison(
                group="nonbinary",
                reference="none (absolute)",
                difference=None,
                ci=None,
                p_value=None,
                p_adjusted=None,
                tolerance=tolerance,
                verdict="not applicable",
                method="none",
                note="no nonbinary people in the dataset: the empirical half applies once the dataset includes them",
            ),
        )
        notes.append("no nonbinary people in the dataset: the empirical half is not applicable")
    empirical = worst(c.verdict for c in comparisons)
    details: dict[str, Any] = {"static": static}
    elsewhere = _nonbinary_label_elsewhere(observations)
    if elsewhere is not None:
        details["nonbinary_label_on_women_and_men"] = elsewhere
        notes.append(
            f"the nonbinary label was also given to {elsewhere['photos']} of {elsewhere['of']} photos of women and "
            "men: this check asks only whether nonbinary people are represented; those photos are not correctly "
            "gendered, and misgender_gap (its companion measure) and confidence_calibration count them so"
        )
    return CheckResult(
        id="nonbinary_representability",
        verdict=worst([static_verdict, empirical]),
        groups=group_rates,
        comparisons=comparisons,
        method=(
            "static: the declared vocabulary must contain a nonbinary label or allow abstention; empirical: "
            "mean over nonbinary people of the share of their photos given a binary label, "
            f"{limits} limits on the people ({policy.confidence:.0%} interval); "
            f"pass: interval at or below tolerance {tolerance:g} (one-sided error {alpha_pass:g}); "
            f"fail: shown above it (one-sided error {alpha_fail:g}"
            + (", on Clopper-Pearson limits)" if limits != "Clopper-Pearson" else ")")
        ),
        measure="mean share of a nonbinary person's photos with a face given a binary label",
        reference="none (absolute)",
        confidence=policy.confidence,
        notes=(static["reason"], *notes),
        details=details,
        count_label="given binary",
        alpha_pass=alpha_pass,
        alpha_fail=alpha_fail,
        direction=policy.direction,
    )


def _nonbinary_label_elsewhere(observations: Observations) -> dict[str, int] | None:
    """Photos of women and men (faces found) given the nonbinary label, and of how many; None when none was.

    An analyzer that gives the nonbinary label to everyone passes representability's own measure (no
    nonbinary person gets a binary label), and the reports must say what else it did (issue 14's red team).
    """
    import numpy as np

    binary = (observations.identity == SELF_DESCRIBED.index("woman")) | (
        observations.identity == SELF_DESCRIBED.index("man")
    )
    faces = observations.analysed & binary
    given = int(np.sum(faces & (observations.predicted == GENDER_CODES["nonbinary"])))
    return {"photos": given, "of": int(np.sum(faces))} if given else None


def transformation_invariance(
    observations: Observations, *, groups: Sequence[str], reference: str, policy: Policy, seed: int
) -> CheckResult:
    """Share of benign transformations of a photo (mirror, crop, re-encoding, ...) that change its gender label.

    The unit is a (photo, transformation) pair where the analyzer found a face in both; a pair
    *flips* when the canonical genders differ. Photos are grouped as their originals; pairs of one
    person are clustered by subject. Variants come from the run (:mod:`conformance.metamorphic`);
    an analyzer that cannot look at new images has none, and the check says so.
    """
    import numpy as np

    photo_group = _groups(observations, groups)
    if observations.variants is None:
        alpha_pass, alpha_fail = error_rates(policy)
        return CheckResult(
            id="transformation_invariance",
            verdict="not applicable",
            groups={},
            comparisons=(),
            method="not run",
            measure="variants whose gender label differs from the photo's / variants with a face in both",
            reference=reference,
            confidence=policy.confidence,
            notes=(
                f"not applicable: no transformed variants: {observations.variants_note or 'the analyzer cannot look at new images'}; "
                "the check applies to an analyzer that can be shown new images (local, python:..., or a live vendor)",
            ),
            count_label="flipped",
            alpha_pass=alpha_pass,
            alpha_fail=alpha_fail,
            direction=policy.direction,
        )
    index = {p.id: i for i, p in enumerate(observations.dataset.photos)}
    rows = observations.variants
    original = np.fromiter((index[v.photo] for v in rows), dtype=np.int64, count=len(rows))
    seen = np.fromiter((v.observation.face is not None for v in rows), dtype=bool, count=len(rows))
    base_faces = [observations.records[i].face for i in original]
    compared = seen & np.fromiter((f is not None for f in base_faces), dtype=bool, count=len(rows))
    flipped = np.fromiter(
        (
            bool(ok)
            and v.observation.face is not None
            and base is not None
            and v.observation.face.gender != base.gender
            for ok, v, base in zip(compared, rows, base_faces, strict=True)
        ),
        dtype=bool,
        count=len(rows),
    )
    units = Units(
        numerator=flipped.astype(np.float64),
        denominator=compared.astype(np.float64),
        cluster=observations.subject[original],
        group=photo_group.labels[original],
    )
    failed, reasons, cannot_pass = _variant_failures(rows, base_faces, units.group, compared)
    result = _result(
        "transformation_invariance",
        "variants whose gender label differs from the photo's / variants with a face in both",
        observations,
        units,
        photo_group=photo_group,
        reference=reference,
        policy=policy,
        seed=seed,
        count_label="flipped",
        cannot_pass=cannot_pass,
    )
    flips = []
    for i in np.flatnonzero(flipped):
        variant, base = rows[i], base_faces[i]
        face = variant.observation.face
        assert face is not None
        assert base is not None
        change = None if face.confidence is None or base.confidence is None else face.confidence - base.confidence
        flips.append(
            {
                "photo": variant.photo,
                "transform": variant.transform,
                "from": base.label,
                "to": face.label,
                "confidence_change": change,
            }
        )
    lost = int(np.sum(~seen & np.fromiter((f is not None for f in base_faces), dtype=bool, count=len(rows)))) - failed
    transforms = sorted({v.transform for v in rows})
    errors = f", {failed} failed ({'; '.join(f'{n} x {why}' for why, n in reasons)})" if failed else ""
    return replace(
        result,
        details={
            "transforms": transforms,
            "variants": len(rows),
            "faces_lost": lost,
            "variant_errors": failed,
            "variant_error_reasons": [{"reason": why, "variants": n} for why, n in reasons],
            "flips": flips,
        },
        notes=(
            *result.notes,
            f"{len(rows)} variants of {len(set(original.tolist()))} photos ({', '.join(transforms)}); "
            f"{len(flips)} flipped the label, {lost} lost the face{errors}",
        ),
    )


def _variant_failures(
    rows: Sequence[Any], base_faces: Sequence[Any], group: Any, compared: npt.NDArray[np.bool_]
) -> tuple[int, list[tuple[str, int]], dict[str, str]]:
    """Variants whose call failed (of photos with a face): how many, the three commonest reasons, and the
    groups none of whose variants could be compared because of them (rt14c F7: an exception on every variant
    read as "lost the face", its text nowhere)."""
    from collections import Counter

    failed = [
        i
        for i, (v, base) in enumerate(zip(rows, base_faces, strict=True))
        if base is not None and v.observation.outcome == "error"
    ]
    reasons = Counter(rows[i].observation.reason or "no reason given" for i in failed).most_common(3)
    cannot_pass: dict[str, str] = {}
    for name in sorted({str(group[i]) for i in failed}):
        in_group = group == name
        if not compared[in_group].any():
            count = sum(1 for i in failed if group[i] == name)
            first = Counter(rows[i].observation.reason for i in failed if group[i] == name).most_common(1)[0][0]
            cannot_pass[name] = f"{count} of its variants failed, none answered ({first})"
    return len(failed), reasons, cannot_pass
