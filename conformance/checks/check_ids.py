"""The check ids, their kinds and one-line summaries: a leaf module that policy and checks both read.

Ids are stable: they appear in reports, policy files and ``--conformance-checks``. A test pins that
policy tolerances, these summaries, the built-in suite and docs/reference/checks.md name exactly
:data:`CHECK_IDS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["CHECK_IDS", "GENDER_CHECKS", "MATCHING_CHECKS", "SUMMARIES", "unknown_checks"]

GENDER_CHECKS = (
    "misgender_gap",
    "nonbinary_representability",
    "same_person_consistency",
    "transformation_invariance",
    "confidence_calibration",
    "detection_failure_gap",
)
MATCHING_CHECKS = ("false_match_gap", "false_non_match_gap")
CHECK_IDS = GENDER_CHECKS + MATCHING_CHECKS
SUMMARIES: Mapping[str, str] = {
    "misgender_gap": "misgender rate per group; gap of each group to the reference",
    "nonbinary_representability": "can the vocabulary express a nonbinary identity or abstain; "
    "share of nonbinary subjects given a binary label",
    "same_person_consistency": "share of subjects with 2+ photos whose label changes across photos",
    "transformation_invariance": "share of benign transformations of a photo (mirror, crop, JPEG, ...) that change its label",
    "confidence_calibration": "overconfidence (confidence minus accuracy) per group; flags more confident yet more wrong",
    "detection_failure_gap": "share of photos with no face found or an error, per group",
    "false_match_gap": "face search: share of non-mated probes matched at or above each similarity threshold, per group",
    "false_non_match_gap": "face search: share of mated probes not found at or above each threshold, per group",
}


def unknown_checks(ids: Iterable[str]) -> str | None:
    """What is wrong with ``ids`` as check ids (naming the unknown ones and the known), or None.

    >>> unknown_checks(["misgender_gap"]) is None
    True
    >>> unknown_checks(["misgender_gapp"]).split(";")[0]
    "unknown check 'misgender_gapp'"
    """
    from .._numbers import shown

    unknown = [check_id for check_id in ids if check_id not in CHECK_IDS]
    if not unknown:
        return None
    return f"unknown check {', '.join(shown(c) for c in unknown)}; checks: {', '.join(CHECK_IDS)}"
