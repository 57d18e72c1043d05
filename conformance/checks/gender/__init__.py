"""Gender checks: misgendering, nonbinary representability, same-person consistency, calibration,
detection failures. Each is a pure function: observations, groups and policy in, CheckResult out.

Here: misgender_gap, detection_failure_gap and same_person_consistency; the other checks live in their own
modules (calibration, representability, invariance) and are re-exported here, with what they share in
``_common`` (the run's grouping, the people who disclosed an identity, coverage, the CheckResult).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ...identity import SELF_DESCRIBED
from ...observation import GENDER_CODES
from ...results import CheckResult
from .._compare import Units, group_order
from ._ceiling import CEILING_REFERENCE, ceiling_rows, ceiling_tests
from ._common import (
    _abstained_entirely,
    _coverage,
    _disclosed,
    _few_faces,
    _groups,
    _labelled,
    _low_coverage,
    _result,
)
from .calibration import confidence_calibration
from .invariance import transformation_invariance
from .representability import nonbinary_representability

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ...observation import Observations
    from ...policy import Policy

__all__ = [
    "confidence_calibration",
    "detection_failure_gap",
    "misgender_gap",
    "nonbinary_representability",
    "same_person_consistency",
    "transformation_invariance",
]


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
        cannot_pass={**_few_faces(observations, photo_group, policy, keep), **_low_coverage(coverage, policy)},
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
    # Equal failure is no pass (rt14e F1): every group's rate also against the policy's ceiling, in one Holm family.
    order = group_order(photo_group.names, reference)
    ceiling = ceiling_tests(failed, observations.subject, photo_group, order, reference, policy)
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
        extra=(ceiling.p_values, lambda adjusted: ceiling_rows(ceiling, adjusted, reference, policy)),
    )
    if ceiling.order:
        result = _ceiling_said(result, policy)
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


def _ceiling_said(result: CheckResult, policy: Policy) -> CheckResult:
    """The method and notes say the ceiling: what it is, and which groups are shown above it."""
    above = [c.group for c in result.comparisons if c.reference == CEILING_REFERENCE and c.verdict == "fail"]
    notes = list(result.notes)
    if above:
        notes.insert(
            0,
            f"{', '.join(above)}: more photos with no face found or an error than the ceiling max_detection_failure "
            f"{policy.max_detection_failure:g} allows; a detector that misses that many faces fails this check "
            "whatever the gaps between groups (equal failure is no pass)",
        )
    method = (
        f"{result.method}; every group's rate also against the ceiling max_detection_failure "
        f"{policy.max_detection_failure:g} (fail: shown above it, its fail tests in the same Holm family; pass: the "
        "interval at or below it)"
    )
    return replace(result, method=method, notes=tuple(notes))


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
