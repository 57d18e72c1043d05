"""confidence_calibration: confidence against correctness per group (overconfidence)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ...identity import SELF_DESCRIBED
from ...observation import GENDER_CODES
from ...results import CheckResult, GroupRate
from .._compare import Units
from ._common import (
    _abstained_entirely,
    _coverage,
    _disclosed,
    _few_faces,
    _Grouping,
    _groups,
    _labelled,
    _low_coverage,
    _result,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ...observation import Observations
    from ...policy import Policy


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
    cannot_pass = {
        **_few_faces(observations, photo_group, policy, keep),
        **_low_coverage(_coverage(observations, photo_group), policy),
    }
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
        rates[name] = replace(rate, count=int(wrong_mask.sum()), extra=extra, ci=_possible(rate.ci, 1.0))
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
    comparisons = tuple(replace(c, ci=_possible(c.ci, 2.0)) if c.ci is not None else c for c in result.comparisons)
    return replace(
        result,
        groups=rates,
        comparisons=comparisons,
        method=f"{result.method}; {CLIPPED}",
        notes=(*result.notes, *flags),
        details={"more_confident_yet_more_wrong": [f.split(" is ")[0] for f in flags]},
    )


# Overconfidence is a mean confidence (0 to 1) minus a share (0 to 1): from -1 to 1, a gap from -2 to 2. The
# Welch t interval is symmetric about the figure and knows no bounds, so near them it reaches past what any
# analyzer can show (rt14f F8: [0.791, 1.073]); the shown interval is cut at the bound. The tests' p-values are
# the t tests' own, so no verdict changes.
CLIPPED = (
    "intervals cut at what is possible (a group's overconfidence from -1 to 1, a gap from -2 to 2): the Welch t "
    "interval is symmetric and can reach past them"
)


def _possible(ci: tuple[float, float] | None, bound: float) -> tuple[float, float] | None:
    """``ci`` cut to [-bound, bound]."""
    if ci is None:
        return None
    return (max(ci[0], -bound), min(ci[1], bound))


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
