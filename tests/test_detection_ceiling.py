"""detection_failure_gap judges each group's failure rate against a ceiling (policy ``max_detection_failure``).

Red team 14e F1: a detector that found a face in 1 photo of 300 passed detection_failure_gap (exit 0): the
whole-run stop needs zero faces, and the gap between two groups that both fail almost every photo is about 0.
Equal failure is no pass. Expected limits are worked out here with scipy (Clopper-Pearson limits are beta
quantiles), never read back from the kit.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from builders import Shot, observe, people, write_dataset
from scipy.stats import beta  # type: ignore[import-untyped]

from conformance import CheckResult, group_labels, load_policy, run_check
from conformance.errors import PolicyError
from conformance.observation import Observations
from conformance.policy import Policy
from conformance.results import Comparison

DEFAULT = load_policy()
ALPHA = (1 - DEFAULT.confidence) / 2  # 0.025


def run(observations: Observations, policy: Policy = DEFAULT) -> CheckResult:
    groups = group_labels(observations.dataset, [])
    return run_check("detection_failure_gap", observations, groups=groups, reference="cis", policy=policy, seed=0)


def one_face_in_300() -> list[Shot]:
    """The red team's case: 150 cis and 150 trans women; a face found in the first cis woman's photo only."""
    return people("cis", 150, no_face=149, confidence=97.0)[::-1] + people("tr", 150, trans="yes", no_face=150)


def ceiling_rows(result: CheckResult) -> dict[str, Comparison]:
    return {c.group: c for c in result.comparisons if c.reference == "none (ceiling)"}


def test_the_default_ceiling_is_documented() -> None:
    assert DEFAULT.max_detection_failure == 0.2
    assert "max_detection_failure" in (Path(__file__).parents[1] / "docs/how-to/policies.md").read_text()


def test_a_detector_that_finds_a_face_in_one_photo_of_300_fails(tmp_path: Path) -> None:
    result = run(observe(tmp_path, one_face_in_300()))
    assert result.verdict == "fail"
    (gap,) = [c for c in result.comparisons if c.reference != "none (ceiling)"]
    assert abs(gap.difference or 0) == pytest.approx(1 / 150)  # the gap is about 0: alone it would not fail
    rows = ceiling_rows(result)
    assert set(rows) == {"cis", "trans"}
    for name, failed in (("cis", 149), ("trans", 150)):
        row = rows[name]
        assert row.verdict == "fail"
        assert row.difference == pytest.approx(failed / 150)
        # The lower Clopper-Pearson limit (one photo a person), by scipy: far above the ceiling 0.2.
        low = float(beta.ppf(ALPHA, failed, 150 - failed + 1))
        assert row.ci is not None
        assert row.ci[0] == pytest.approx(low, abs=1e-9)
        assert low > 0.9
        assert f"no face found or an error on {failed} of 150 photos" in row.note
    assert "equal failure is no pass" in result.notes[0]


def test_the_console_says_why_equal_failure_fails(tmp_path: Path) -> None:
    manifest, predictions = write_dataset(tmp_path / "photos", one_face_in_300())
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--dataset", str(manifest), "--analyzer",
         f"predictions:{predictions}", "--checks", "detection_failure_gap"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("FAIL           detection_failure_gap"))
    assert "trans: 1.000 [0.976, 1.000] ceiling 0.2: no face found or an error on 150 of 150 photos" in line
    assert "shown above the ceiling max_detection_failure 0.2" in line
    assert "conformance verdict: FAIL" in done.stdout


def test_a_perfect_detector_still_passes(tmp_path: Path) -> None:
    result = run(observe(tmp_path, people("cis", 150) + people("tr", 150, trans="yes")))
    assert result.verdict == "pass"
    rows = ceiling_rows(result)
    assert {r.verdict for r in rows.values()} == {"pass"}
    # 0 of 150: the upper limit is 1 - 0.025^(1/150) = 0.0243, at or below 0.2.
    assert rows["cis"].ci[1] == pytest.approx(1 - ALPHA ** (1 / 150), abs=1e-9)
    # The gap between the groups still decides the headline among passes.
    assert result.worst_comparison is not None
    assert result.worst_comparison.reference == "cis"


def test_an_ordinary_detector_still_passes(tmp_path: Path) -> None:
    # 12 of 400 photos with no face in each group (3%): the upper limit, by scipy, is about 0.052, under 0.2.
    shots = people("cis", 400, no_face=12) + people("tr", 400, trans="yes", no_face=12)
    result = run(observe(tmp_path, shots))
    assert result.verdict == "pass"
    upper = float(beta.ppf(1 - ALPHA, 13, 388))
    assert upper < 0.2
    assert ceiling_rows(result)["cis"].ci[1] == pytest.approx(upper, abs=1e-9)


def test_a_tiny_sample_is_inconclusive_not_failed(tmp_path: Path) -> None:
    # 4 cis and 4 trans women, a face found in one photo: too few people (min_subjects 10) to decide anything.
    shots = people("cis", 4, no_face=3) + people("tr", 4, trans="yes", no_face=4)
    result = run(observe(tmp_path, shots))
    assert result.verdict == "inconclusive"
    assert {r.verdict for r in ceiling_rows(result).values()} == {"inconclusive"}
    assert "fewer than 10 subjects" in ceiling_rows(result)["cis"].note


def test_a_ceiling_of_1_turns_it_off(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.conformance]\nmax_detection_failure = 1\n")
    result = run(observe(tmp_path / "photos", one_face_in_300()), load_policy(project_root=tmp_path))
    assert ceiling_rows(result) == {}
    assert result.verdict == "pass"  # what the gap alone says: no ceiling, no finding


@pytest.mark.parametrize("value", ["0", "1.5", "-0.1"])
def test_a_ceiling_outside_0_to_1_is_refused(tmp_path: Path, value: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.conformance]\nmax_detection_failure = {value}\n")
    with pytest.raises(PolicyError, match=r"max_detection_failure = .* must be a share above 0 and at most 1"):
        load_policy(project_root=tmp_path)
