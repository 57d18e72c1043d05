"""What every gender check shares: the run's grouping as codes, the people who disclosed an identity,
the coverage of women and men, and the one way a check's comparisons become a CheckResult."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ...errors import ConformanceError
from ...identity import SELF_DESCRIBED
from ...observation import GENDER_CODES
from ...results import CheckResult, Comparison, GroupRate, worst
from .._compare import Units, compare_measures, error_rates, group_order

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ...observation import Observations
    from ...policy import Policy


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
    extra: tuple[Sequence[float], Callable[[tuple[float, ...]], Sequence[Comparison]]] | None = None,
) -> CheckResult:
    """``keep``: the photos whose groups are compared (see :func:`_disclosed`); the others are shown, not compared.

    ``companion``: (what it counts, its units), a second measure every comparison must also satisfy
    (see :func:`conformance.checks._compare.compare_measures`); its figures go to ``details``.

    ``extra``: (fail p-values that join the check's Holm family, a function of their adjusted values giving
    the rows they decide), e.g. each group's rate against detection_failure_gap's ceiling.
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
        extra_fail_tests=() if extra is None else extra[0],
    )
    rates, comparisons, extra_notes, method = done.groups, done.comparisons, done.notes, done.method
    if extra is not None:
        comparisons = (*comparisons, *extra[1](done.extra_adjusted))
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


def _few_faces(
    observations: Observations, photo_group: _Grouping, policy: Policy, keep: npt.NDArray[np.bool_]
) -> dict[str, str]:
    """Groups shown to have no face found (or an error) on more photos than ``max_detection_failure`` allows.

    A check that reads the photos with a face must not pass on a fifth of them (red team 14f F1: a detector
    that missed 80% of every group passed misgender_gap and confidence_calibration when
    detection_failure_gap was not among the checks). Such a group's comparisons cannot pass: inconclusive,
    with this reason. "Shown" is the ceiling's own test (one-sided, the check's fail error, Clopper-Pearson
    or Wilson limits on the group's people, unadjusted: it only ever holds back a pass), so a perfect or
    ordinary detector is never held back, and a group too small to show anything is not either (its
    comparisons are inconclusive on their own size anyway). The ceiling turned off (1) turns this off. Only the
    photos the check compares (``keep``: people who disclosed an identity) count, so undisclosed people change
    nothing here, as they change nothing else in these checks.
    """
    return _above_ceiling(
        ~observations.analysed,
        observations.subject,
        photo_group.codes,
        photo_group.names,
        keep,
        policy,
        lambda k, n, ceiling: (
            f"no face found or an error on {k} of {n} photos ({k / n:.1%}), shown above max_detection_failure "
            f"{ceiling:g}: the check reads only the photos with a face, and a pass on {n - k} of {n} would "
            "hide what became of the rest (see detection_failure_gap)"
        ),
    )


def _above_ceiling(
    missed: npt.NDArray[np.bool_],
    subject: npt.NDArray[Any],
    codes: npt.NDArray[np.int32],
    names: Sequence[str],
    where: npt.NDArray[np.bool_],
    policy: Policy,
    say: Callable[[int, int, float], str],
) -> dict[str, str]:
    """Each group (``codes`` index ``names``) whose share of ``missed`` among the units ``where`` is shown above
    ``max_detection_failure``, with ``say(missed, units, ceiling)``: the test :func:`_few_faces` describes, on
    units that may be photos or a check's own (transformation_invariance's variants)."""
    import numpy as np

    from ... import stats

    ceiling = policy.max_detection_failure
    if ceiling >= 1.0 or not where.any():
        return {}
    _, alpha_fail = error_rates(policy)
    out: dict[str, str] = {}
    for code in sorted(set(codes[where].tolist()), key=lambda c: names[c]):
        mask = (codes == code) & where
        _, inverse = np.unique(subject[mask], return_inverse=True)
        num = np.bincount(inverse, weights=missed[mask].astype(np.float64))
        den = np.bincount(inverse).astype(np.float64)
        rate = stats.clustered_rate(num, den)
        if stats.rate_tests(rate, ceiling, policy.interval).exceeds <= alpha_fail:
            out[str(names[code])] = say(int(missed[mask].sum()), int(mask.sum()), ceiling)
    return out
