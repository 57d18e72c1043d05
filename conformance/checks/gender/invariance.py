"""transformation_invariance: benign transformations of a photo that change its gender label."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ...results import CheckResult
from .._compare import Units, error_rates
from ._common import _above_ceiling, _few_faces, _groups, _result

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ...observation import Observations
    from ...policy import Policy


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
    had_face = np.fromiter((f is not None for f in base_faces), dtype=bool, count=len(rows))
    # A flip needs a face on both sides, so an analyzer could hide its flips by finding no face: on the photos
    # (they are never transformed) or on their variants. Either shown above max_detection_failure holds the
    # group's pass back, as misgender_gap's photos with no face do.
    cannot_pass = {
        **_few_faces(observations, photo_group, policy, np.ones(len(observations), dtype=bool)),
        **_above_ceiling(
            ~compared,
            units.cluster,
            photo_group.codes[original],
            photo_group.names,
            had_face,
            policy,
            lambda k, n, ceiling: (
                f"no face found or an error on {k} of {n} variants of photos with a face ({k / n:.1%}), shown "
                f"above max_detection_failure {ceiling:g}: a flip needs a face on both sides, and a pass on the "
                f"{n - k} compared would hide what became of the rest"
            ),
        ),
        **cannot_pass,
    }
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
    lost = int(np.sum(~seen & had_face)) - failed
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
