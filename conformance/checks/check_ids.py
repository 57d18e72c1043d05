"""The check ids, their kinds and one-line summaries: a leaf module that policy and checks both read.

Ids are stable: they appear in reports, policy files and ``--conformance-checks``. A test pins that
policy tolerances, these summaries, the built-in suite and docs/reference/checks.md name exactly
:data:`CHECK_IDS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "CHECK_IDS",
    "COMPARISON_CHECKS",
    "DISCLOSED_ONLY_CHECKS",
    "GENDER_CHECKS",
    "MATCHING_CHECKS",
    "SEARCH_CHECKS",
    "SUMMARIES",
    "unknown_checks",
]

GENDER_CHECKS = (
    "misgender_gap",
    "nonbinary_representability",
    "same_person_consistency",
    "transformation_invariance",
    "confidence_calibration",
    "detection_failure_gap",
)
SEARCH_CHECKS = ("false_match_gap", "false_non_match_gap")
# 1:1 comparisons of every photo (embeddings, scores): measured as biometric evaluators do (checks/biometrics.py).
COMPARISON_CHECKS = (
    "false_match_differential",
    "false_non_match_differential",
    "failure_to_acquire_gap",
    "equitability",
)
MATCHING_CHECKS = SEARCH_CHECKS + COMPARISON_CHECKS
CHECK_IDS = GENDER_CHECKS + MATCHING_CHECKS
# The checks that read only people who disclosed an identity (checks/gender: ``keep``): not applicable as a whole
# when nobody did, which a sequential run's looks must know before they read any answer.
DISCLOSED_ONLY_CHECKS = ("misgender_gap", "same_person_consistency", "confidence_calibration")
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
    "false_match_differential": "1:1: each group's FMR at thresholds fixed to target FMRs, ratio to the reference; "
    "impostor matrix, inequity measures, DET curves",
    "false_non_match_differential": "1:1: each group's FNMR (failures to acquire as misses) at the same thresholds, "
    "ratio to the reference",
    "failure_to_acquire_gap": "1:1: share of photos without a template (no face found), per group",
    "equitability": "1:1: ISO/IEC 19795-10-style disclosure and equitability statement at the binding threshold",
}


def unknown_checks(ids: Iterable[str]) -> str | None:
    """What is wrong with ``ids`` as check ids (naming the unknown ones and the known), or None.

    >>> unknown_checks(["misgender_gap"]) is None
    True
    >>> unknown_checks(["misgender_gapp"]).split(";")[0]
    "unknown check 'misgender_gapp'"
    """
    from .._untrusted import shown

    unknown = [check_id for check_id in ids if check_id not in CHECK_IDS]
    if not unknown:
        return None
    return f"unknown check {', '.join(shown(c) for c in unknown)}; checks: {', '.join(CHECK_IDS)}"
