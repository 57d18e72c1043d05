"""Checks that read the photos with a face do not pass on a fifth of them (red team 14f F1).

A detector that found no face in 80% of every group's photos, and gendered the rest correctly, passed
misgender_gap and confidence_calibration (exit 0) when detection_failure_gap was not among the checks: the
ceiling lived in that one check only. Now a group shown above max_detection_failure cannot pass any check that
rests on found faces: its comparisons are inconclusive with the reason. A perfect or ordinary detector is
unaffected. Expected limits are scipy's (Clopper-Pearson limits are beta quantiles), not the kit's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import Shot, observe, people
from scipy.stats import beta  # type: ignore[import-untyped]

from conformance import CheckResult, group_labels, load_policy, run_check
from conformance.observation import Observations
from conformance.policy import Policy

DEFAULT = load_policy()
ALPHA = (1 - DEFAULT.confidence) / 2


def run(check: str, observations: Observations, policy: Policy = DEFAULT) -> CheckResult:
    groups = group_labels(observations.dataset, [])
    return run_check(check, observations, groups=groups, reference="cis", policy=policy, seed=0)


def bad80(n: int = 1000) -> list[Shot]:
    """The red team's case: n cis and n trans women, 80% of each group's photos with no face, the rest right."""
    return people("cis", n, no_face=n * 4 // 5) + people("tr", n, trans="yes", no_face=n * 4 // 5)


@pytest.mark.parametrize("check", ["misgender_gap", "confidence_calibration"])
def test_a_detector_that_misses_80_percent_cannot_pass_a_face_check(tmp_path: Path, check: str) -> None:
    # By scipy: 800 of 1000 people with no face; the lower limit is far above the ceiling 0.2.
    assert float(beta.ppf(ALPHA, 800, 201)) > 0.75
    result = run(check, observe(tmp_path, bad80()))
    assert result.verdict == "inconclusive"
    (gap,) = [c for c in result.comparisons if c.group == "trans"]
    assert gap.verdict == "inconclusive"
    assert "no face found or an error on 800 of 1000 photos (80.0%)" in gap.note
    assert "shown above max_detection_failure 0.2" in gap.note


@pytest.mark.parametrize("check", ["misgender_gap", "confidence_calibration"])
def test_a_perfect_detector_still_passes(tmp_path: Path, check: str) -> None:
    result = run(check, observe(tmp_path, people("cis", 150) + people("tr", 150, trans="yes")))
    assert result.verdict == "pass"


@pytest.mark.parametrize("check", ["misgender_gap", "confidence_calibration"])
def test_an_ordinary_detector_still_passes(tmp_path: Path, check: str) -> None:
    # 12% of photos with no face in each group: well under the ceiling, so nothing is held back.
    shots = people("cis", 400, no_face=48) + people("tr", 400, trans="yes", no_face=48)
    result = run(check, observe(tmp_path, shots))
    assert result.verdict == "pass"
    assert not any("max_detection_failure" in c.note for c in result.comparisons)


def test_the_ceiling_turned_off_lets_the_face_checks_decide_alone(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.conformance]\nmax_detection_failure = 1\n")
    result = run("misgender_gap", observe(tmp_path / "photos", bad80()), load_policy(project_root=tmp_path))
    assert result.verdict == "pass"


def test_assert_no_misgender_gap_fails_an_own_test_on_the_80_percent_detector(tmp_path: Path) -> None:
    from conformance.assertions import assert_no_misgender_gap

    observations = observe(tmp_path, bad80())
    with pytest.raises(AssertionError, match="max_detection_failure"):
        assert_no_misgender_gap(observations, reference="cis")
