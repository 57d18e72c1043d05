"""Missing-data groups (``unknown`` trans status, ``undisclosed`` identity) are compared in the fail direction only.

Red team 14d F1: a detector that found no face for any of 60 undisclosed people passed detection_failure_gap,
because missing data was never compared. Now a gap shown beyond the tolerance fails the check and names the
group; anything less leaves the comparison "not applicable" (shown, not compared), never inconclusive, so a
perfect analyzer still passes with any number of such people (red team 13c).

Expected intervals and the fail threshold are worked out here from their definitions with scipy
(Clopper-Pearson limits are beta quantiles; Newcombe's hybrid score interval squares and adds them), never read
back from the kit.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from builders import Shot, observe, people, shot
from scipy.stats import beta  # type: ignore[import-untyped]

from conformance import CheckResult, group_labels, load_policy, run_check
from conformance.observation import Observations

DEFAULT = load_policy()
TOLERANCE = DEFAULT.tolerance_for("detection_failure_gap")


def run_default(check_id: str, observations: Observations) -> CheckResult:
    groups = group_labels(observations.dataset, [])
    return run_check(check_id, observations, groups=groups, reference="cis", policy=DEFAULT, seed=0)


def undisclosed(subjects: int, *, no_face: int = 0) -> list[Shot]:
    """People who gave no gender identity (a blank cell); the first ``no_face`` have no face found."""
    return [
        shot(f"und-{i:04d}", "", "", "Female", confidence=97.0, outcome="no_face" if i < no_face else "analysed")
        for i in range(subjects)
    ]


def base() -> list[Shot]:
    """150 cis and 150 trans women, one photo each, every face found and gendered right."""
    return people("cis", 150, confidence=97.0) + people("tr", 150, trans="yes", confidence=97.0)


def _cp_lower(k: int, n: int, alpha: float) -> float:
    return 0.0 if k == 0 else float(beta.ppf(alpha, k, n - k + 1))


def _cp_upper(k: int, n: int, alpha: float) -> float:
    return 1.0 if k == n else float(beta.ppf(1.0 - alpha, k + 1, n - k))


def newcombe_lower(k1: int, n1: int, k2: int, n2: int, alpha: float) -> float:
    """Lower limit of p1 - p2 at one-sided ``alpha``: Newcombe's hybrid score method on Clopper-Pearson limits."""
    p1, p2 = k1 / n1, k2 / n2
    return p1 - p2 - math.hypot(p1 - _cp_lower(k1, n1, alpha), _cp_upper(k2, n2, alpha) - p2)


def test_a_detector_blind_to_every_undisclosed_person_fails_and_names_the_group(tmp_path: Path) -> None:
    # The red team's s11 case: 150 cis, 150 trans, 60 undisclosed people; no face found for any of the 60.
    result = run_default("detection_failure_gap", observe(tmp_path, base() + undisclosed(60, no_face=60)))
    assert result.verdict == "fail"
    deciding = result.worst_comparison
    assert deciding is not None
    assert deciding.group == "undisclosed"
    assert deciding.verdict == "fail"
    assert "60 people who did not disclose a gender identity" in deciding.note
    assert "compared for a fail only" in deciding.note
    # The gap's 95% interval, by hand: 60/60 against 0/150, Clopper-Pearson limits at one-sided 0.025 are
    # 0.025^(1/60) and 1 - 0.025^(1/150), so the lower limit is 1 - sqrt((1 - 0.025^(1/60))^2 + (1 - 0.025^(1/150))^2).
    low = 1.0 - math.hypot(1.0 - 0.025 ** (1 / 60), 1.0 - 0.025 ** (1 / 150))
    assert low == pytest.approx(0.93561, abs=1e-5)
    assert deciding.ci == pytest.approx((low, 1.0), abs=1e-9)
    # The other groups are compared as before: trans against cis passes.
    (trans,) = [c for c in result.comparisons if {c.group, c.reference} == {"trans", "cis"}]
    assert trans.verdict == "pass"


def test_the_fail_threshold_of_a_missing_data_group_matches_a_hand_count() -> None:
    # Three comparisons in the default pairwise direction (trans-cis, undisclosed-cis, undisclosed-trans), all
    # with at least min_subjects people: one Holm family of 3. The two undisclosed comparisons have the same
    # p-value (cis and trans are alike), trans-cis has p = 1; Holm gives the smallest 3p, so a fail needs the
    # doubled one-sided p at most 0.025 / 3: the one-sided lower limit at 0.025 / 6 above the tolerance.
    alpha = (1 - DEFAULT.confidence) / 2 / 6
    limits = {k: newcombe_lower(k, 60, 0, 150, alpha) for k in (9, 10)}
    assert limits[9] == pytest.approx(0.04655, abs=1e-5)
    assert limits[10] == pytest.approx(0.05718, abs=1e-5)
    assert limits[9] < TOLERANCE < limits[10]


@pytest.mark.parametrize(("no_face", "verdict"), [(9, "not applicable"), (10, "fail")])
def test_a_missing_data_group_fails_exactly_where_the_hand_count_says(
    tmp_path: Path, no_face: int, verdict: str
) -> None:
    result = run_default("detection_failure_gap", observe(tmp_path, base() + undisclosed(60, no_face=no_face)))
    rows = [c for c in result.comparisons if "undisclosed" in (c.group, c.reference)]
    assert len(rows) == 2
    assert {c.verdict for c in rows} == {verdict}
    # 9 of 60 is no evidence of a gap beyond the tolerance: the check passes, never inconclusive.
    assert result.verdict == ("pass" if verdict == "not applicable" else "fail")
    if verdict == "not applicable":
        assert "shown, not compared into the verdict" in rows[0].note
        assert "no gap beyond the tolerance shown" in rows[0].note


@pytest.mark.parametrize("count", [1, 9, 15])
def test_a_perfect_analyzer_passes_with_any_number_of_undisclosed_people(tmp_path: Path, count: int) -> None:
    result = run_default("detection_failure_gap", observe(tmp_path, base() + undisclosed(count)))
    assert result.verdict == "pass"
    assert result.groups["undisclosed"].subjects == count  # shown and counted
    rows = [c for c in result.comparisons if "undisclosed" in (c.group, c.reference)]
    assert rows
    assert {c.verdict for c in rows} == {"not applicable"}


@pytest.mark.parametrize("count", [1, 9, 15])
@pytest.mark.parametrize("check_id", ["misgender_gap", "detection_failure_gap"])
def test_a_perfect_analyzer_passes_with_any_number_of_people_of_unknown_trans_status(
    tmp_path: Path, count: int, check_id: str
) -> None:
    shots = base() + people("unk", count, trans="unknown", confidence=97.0)
    result = run_default(check_id, observe(tmp_path, shots))
    assert result.verdict == "pass"
    assert result.groups["unknown"].subjects == count
    rows = [c for c in result.comparisons if "unknown" in (c.group, c.reference)]
    assert {c.verdict for c in rows} == {"not applicable"}


def test_misgendering_every_person_of_unknown_trans_status_fails_misgender_gap(tmp_path: Path) -> None:
    # Their gender identity is known (women), only their trans status is not: a misgendering gap is evidence.
    shots = base() + people("unk", 60, trans="unknown", misgendered=60, confidence=97.0)
    result = run_default("misgender_gap", observe(tmp_path, shots))
    assert result.verdict == "fail"
    deciding = result.worst_comparison
    assert deciding is not None
    assert deciding.group == "unknown"
    assert "60 people of unknown trans status" in deciding.note


def test_undisclosed_people_never_enter_a_misgendering_comparison(tmp_path: Path) -> None:
    # No self-description, no truth to misgender against: whatever the labels, no comparison names them.
    shots = base() + [shot(f"und-{i:04d}", "", "", "Male", confidence=97.0) for i in range(60)]
    result = run_default("misgender_gap", observe(tmp_path, shots))
    assert result.verdict == "pass"
    assert not [c for c in result.comparisons if "undisclosed" in (c.group, c.reference)]
