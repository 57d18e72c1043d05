"""Red team 14f F8 (minor): a ceiling no run can pass, and missing predictions lines called errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from conformance import load_policy
from conformance.errors import PolicyError
from conformance.failures import FailureWatch, SystematicFailure


@pytest.mark.parametrize("value", ["1e-9", "0.005"])
def test_a_ceiling_no_run_could_pass_is_refused_with_the_reason(tmp_path: Path, value: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.conformance]\nmax_detection_failure = {value}\n")
    with pytest.raises(PolicyError) as info:
        load_policy(project_root=tmp_path)
    message = str(info.value)
    # 0 of n failed: the upper Clopper-Pearson limit is 1 - 0.025^(1/n); at or below c needs n >= ln 0.025 / ln(1-c).
    needed = math.ceil(math.log(0.025) / math.log1p(-float(value)))  # log1p: exact near 0
    assert f"would need {needed:,} people in every group" in message
    assert "below 0.01" in message
    assert "1 turns the ceiling off" in message


def test_the_smallest_ceiling_is_taken(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.conformance]\nmax_detection_failure = 0.01\n")
    assert load_policy(project_root=tmp_path).max_detection_failure == 0.01


def test_missing_predictions_lines_are_called_missing_lines_in_the_no_face_stop() -> None:
    watch = FailureWatch(20)
    watch.expect(12)
    watch.see_outcome("no_face", "")
    for _ in range(11):
        watch.see_outcome("error", "no prediction for this photo in vendor.jsonl")
    with pytest.raises(SystematicFailure) as info:
        watch.finish()
    assert "(1 no face, 11 missing lines in the predictions file)" in str(info.value)
    assert "errors" not in str(info.value).split(":")[1]


def test_missing_lines_and_errors_are_counted_apart() -> None:
    watch = FailureWatch(20)
    watch.expect(4)
    watch.see_outcome("no_face", "")
    watch.see_outcome("error", "no prediction for this photo in vendor.jsonl")
    watch.see_outcome("error", "timeout")
    watch.see_outcome("error", "no prediction for this photo in vendor.jsonl")
    with pytest.raises(SystematicFailure, match=r"\(1 no face, 2 missing lines in the predictions file, 1 error\)"):
        watch.finish()


def test_calibration_intervals_stay_within_what_is_possible(tmp_path: Path) -> None:
    from builders import observe, people

    from conformance import group_labels, run_check

    # 12 trans women, 11 misgendered at confidence 99%: overconfidence about 0.99 - 1/12 = 0.907, near its bound 1.
    shots = people("cis", 12, confidence=90.0) + people("tr", 12, trans="yes", misgendered=11, confidence=99.0)
    observations = observe(tmp_path, shots)
    result = run_check(
        "confidence_calibration",
        observations,
        groups=group_labels(observations.dataset, []),
        reference="cis",
        policy=load_policy(),
        seed=0,
    )
    trans = result.groups["trans"]
    assert trans.rate == pytest.approx(0.99 - 1 / 12)
    assert trans.ci is not None
    assert -1.0 <= trans.ci[0] <= trans.rate <= trans.ci[1] <= 1.0
    for c in result.comparisons:
        assert c.ci is None or -2.0 <= c.ci[0] <= c.ci[1] <= 2.0
    assert "intervals cut at what is possible" in result.method


def test_representability_counts_every_nonbinary_person_as_it_counts_every_photo(tmp_path: Path) -> None:
    from builders import observe, people

    from conformance import group_labels, run_check

    # Six nonbinary people with one photo each, one with no face found: 6 photos, 6 subjects, 5 behind the figure.
    shots = people("cis", 3) + people("nb", 6, identity="nonbinary", no_face=1)
    observations = observe(tmp_path, shots)
    result = run_check(
        "nonbinary_representability",
        observations,
        groups=group_labels(observations.dataset, []),
        reference="cis",
        policy=load_policy(),
        seed=0,
    )
    rate = result.groups["nonbinary"]
    assert (rate.photos, rate.subjects, rate.n) == (6, 6, 5)
