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
CEILING = "none (ceiling)"  # detection_failure_gap's rows against max_detection_failure: no comparison of groups
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
    # with at least min_subjects people, and each of the three groups' rate against detection_failure_gap's
    # ceiling (max_detection_failure, rt14e F1): one Holm family of 6. The two undisclosed comparisons have the
    # same p-value (cis and trans are alike), the others are near 1; Holm gives the smallest 6p, so a fail needs
    # the doubled one-sided p at most 0.025 / 6: the one-sided lower limit at 0.025 / 12 above the tolerance.
    alpha = (1 - DEFAULT.confidence) / 2 / 12
    limits = {k: newcombe_lower(k, 60, 0, 150, alpha) for k in (9, 10)}
    assert limits[9] == pytest.approx(0.04006, abs=1e-5)
    assert limits[10] == pytest.approx(0.05021, abs=1e-5)
    assert limits[9] < TOLERANCE < limits[10]


@pytest.mark.parametrize(("no_face", "verdict"), [(9, "not applicable"), (10, "fail")])
def test_a_missing_data_group_fails_exactly_where_the_hand_count_says(
    tmp_path: Path, no_face: int, verdict: str
) -> None:
    result = run_default("detection_failure_gap", observe(tmp_path, base() + undisclosed(60, no_face=no_face)))
    rows = [c for c in result.comparisons if "undisclosed" in (c.group, c.reference) and c.reference != CEILING]
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
    rows = [c for c in result.comparisons if "undisclosed" in (c.group, c.reference) and c.reference != CEILING]
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
    rows = [c for c in result.comparisons if "unknown" in (c.group, c.reference) and c.reference != CEILING]
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
    assert not [c for c in result.comparisons if "undisclosed" in (c.group, c.reference) and c.reference != CEILING]


def test_undisclosed_people_who_fare_better_do_not_fail_the_check(tmp_path: Path) -> None:
    # Red team 14e F6: cis and trans people both without a face found on 45 of 150 photos (30%), the 60 undisclosed
    # people on none. The check failed "on them" (undisclosed vs cis -0.300, exit 1), though nothing fares worse
    # than the groups under audit on their account.
    shots = (
        people("cis", 150, no_face=45, confidence=97.0)
        + people("tr", 150, trans="yes", no_face=45, confidence=97.0)
        + undisclosed(60)
    )
    result = run_default("detection_failure_gap", observe(tmp_path, shots))
    rows = [c for c in result.comparisons if "undisclosed" in (c.group, c.reference) and c.reference != CEILING]
    assert len(rows) == 2
    for row in rows:
        assert row.difference == pytest.approx(0 / 60 - 45 / 150)  # hand count: -0.3
        assert row.p_adjusted is not None
        assert row.p_adjusted <= (1 - DEFAULT.confidence) / 2
        assert row.verdict == "not applicable"  # ...the other way: no finding against them
        assert f"they fare better than {row.reference}" in row.note
        assert "fails on them" not in row.note
    # What fails is the groups under audit missing 30% of photos, above the ceiling max_detection_failure 0.2
    # (rt14e F1), never the undisclosed people.
    assert result.verdict == "fail"
    assert {(c.group, c.reference) for c in result.comparisons if c.verdict == "fail"} == {
        ("cis", CEILING),
        ("trans", CEILING),
    }
    # Without the ceiling, trans vs cis (45/150 each) is the only comparison under audit: equal, too wide to pass.
    from dataclasses import replace

    again = observe(tmp_path / "again", shots)
    policy = replace(DEFAULT, max_detection_failure=1.0)
    groups = group_labels(again.dataset, [])
    off = run_check("detection_failure_gap", again, groups=groups, reference="cis", policy=policy, seed=0)
    assert off.verdict == "inconclusive"
    assert off.worst_comparison is not None
    assert {off.worst_comparison.group, off.worst_comparison.reference} == {"trans", "cis"}


def test_failing_every_one_of_nine_undisclosed_people_is_inconclusive(tmp_path: Path) -> None:
    # Red team 14e F7: no face found for any of 9 undisclosed people (below min_subjects = 10) passed, exit 0,
    # silent on the console; 9 trans people so treated are inconclusive. The gap's lower limit, by hand
    # (Clopper-Pearson limits at one-sided 0.025 for 9/9 and 0/150, squared and added), lies far above 0.05.
    low = 1.0 - math.hypot(1.0 - 0.025 ** (1 / 9), 1.0 - 0.025 ** (1 / 150))
    assert low == pytest.approx(0.66286, abs=1e-5)
    result = run_default("detection_failure_gap", observe(tmp_path, base() + undisclosed(9, no_face=9)))
    assert result.verdict == "inconclusive"
    rows = [c for c in result.comparisons if "undisclosed" in (c.group, c.reference) and c.reference != CEILING]
    assert {c.verdict for c in rows} == {"inconclusive"}
    assert rows[0].ci == pytest.approx((low, 1.0), abs=1e-9)
    assert "too few to fail the check on" in rows[0].note
    assert "wholly beyond the tolerance against them" in rows[0].note


@pytest.mark.parametrize("no_face", [1, 2])
def test_a_few_misses_among_nine_undisclosed_people_still_pass(tmp_path: Path, no_face: int) -> None:
    # 1 or 2 of 9 with no face: an interval that reaches the tolerance is no clear gap; a perfect analyzer on the
    # others still passes (red team 13c: small missing-data groups must not make every audit inconclusive).
    result = run_default("detection_failure_gap", observe(tmp_path, base() + undisclosed(9, no_face=no_face)))
    assert result.verdict == "pass"
    rows = [c for c in result.comparisons if "undisclosed" in (c.group, c.reference) and c.reference != CEILING]
    assert {c.verdict for c in rows} == {"not applicable"}
    assert all(c.ci is not None and c.ci[0] <= TOLERANCE for c in rows)


def test_the_console_says_when_nine_undisclosed_people_are_all_failed(tmp_path: Path) -> None:
    import subprocess
    import sys

    from builders import write_dataset

    manifest, predictions = write_dataset(tmp_path / "photos", base() + undisclosed(9, no_face=9))
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--dataset", str(manifest), "--analyzer",
         f"predictions:{predictions}", "--checks", "detection_failure_gap"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "INCONCLUSIVE   detection_failure_gap         undisclosed vs cis: +1.000 [0.663, 1.000]" in done.stdout
    assert "conformance verdict: INCONCLUSIVE" in done.stdout
