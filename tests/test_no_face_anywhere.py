"""A run in which no face was found in any photo stops with exit 2 instead of building verdicts on it.

Red team 14d F3: a model that found no face in any of 300 photos passed detection_failure_gap (every group's
failure rate 1.000, gap 0), exit 0 with ``--checks detection_failure_gap``; the other checks said only that a
group had nothing to count.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from builders import people, write_dataset

from conformance.failures import NO_FACE_PHOTOS, FailureWatch, SystematicFailure


def watched(outcomes: list[str], limit: int = 20) -> FailureWatch:
    watch = FailureWatch(limit)
    for outcome in outcomes:
        watch.see_outcome(outcome, "ThrottlingException: slow down" if outcome == "error" else "")
    return watch


def test_no_face_in_ten_photos_stops_the_run() -> None:
    with pytest.raises(SystematicFailure) as info:
        watched(["no_face"] * 10).finish()
    message = str(info.value)
    assert "no face was found in any of the 10 photos (10 no face, 0 errors)" in message
    for what in ("channel order (RGB or BGR)", "pixel scale", "detection threshold", "systematic_failures = 0"):
        assert what in message


def test_errors_and_no_face_without_a_face_stop_it_too() -> None:
    with pytest.raises(SystematicFailure, match=r"any of the 12 photos \(7 no face, 5 errors\)"):
        watched(["no_face", "error"] * 5 + ["no_face"] * 2).finish()


@pytest.mark.parametrize(
    ("outcomes", "limit"),
    [
        (["no_face"] * (NO_FACE_PHOTOS - 1), 20),  # too few photos to call it a setup fault
        (["no_face"] * 299 + ["analysed"], 20),  # one face found: the analyzer sees faces
        (["no_face"] * 300, 0),  # systematic_failures = 0 never stops
        (["error"] * 12, 20),  # errors only: the streak rules and the adapter's own say what failed
    ],
)
def test_the_run_goes_on(outcomes: list[str], limit: int) -> None:
    watched(outcomes, limit).finish()


def test_a_smaller_systematic_failures_lowers_the_photos_needed() -> None:
    with pytest.raises(SystematicFailure):
        watched(["no_face"] * 5, limit=5).finish()


def _cli(tmp_path: Path, no_face: int, *extra: str) -> subprocess.CompletedProcess[str]:
    """`conformance run` on 20 cis and 20 trans women, one photo each; no face found for the first ``no_face``."""
    shots = people("cis", 20, no_face=min(no_face, 20)) + people("tr", 20, trans="yes", no_face=max(no_face - 20, 0))
    manifest, predictions = write_dataset(tmp_path / "photos", shots)
    return subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--dataset", str(manifest), "--analyzer",
         f"predictions:{predictions}", *extra],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("checks", [(), ("--checks", "detection_failure_gap")])
def test_a_blind_analyzer_gets_no_verdict(tmp_path: Path, checks: tuple[str, ...]) -> None:
    done = _cli(tmp_path, 40, *checks)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no face was found in any of the 40 photos" in done.stderr
    assert "conformance verdict: PASS" not in done.stdout
    assert not (tmp_path / "conformance-report" / "report.json").exists()


def test_an_analyzer_that_finds_one_face_is_audited(tmp_path: Path) -> None:
    done = _cli(tmp_path, 39, "--checks", "detection_failure_gap")
    assert done.returncode == 1, done.stdout + done.stderr  # a verdict (trans 20/20 against cis 19/20), not a stop
    assert "no face was found in any" not in done.stderr
    assert (tmp_path / "conformance-report" / "report.json").exists()


def expected(outcomes: list[str], reasons: list[str] | None = None) -> FailureWatch:
    """A watch told the run's size (as the runner tells it), fed ``outcomes`` in order."""
    watch = FailureWatch(20)
    watch.expect(len(outcomes))
    for i, outcome in enumerate(outcomes):
        watch.see_outcome(outcome, (reasons or [])[i] if outcome == "error" and reasons else "")
    return watch


@pytest.mark.parametrize(
    ("outcomes", "said"),
    [
        (["no_face"], "no face was found in the run's only photo (1 no face, 0 errors)"),
        (["no_face"] * 2, "no face was found in any of the 2 photos (2 no face, 0 errors)"),
        (["no_face"] * 3, "no face was found in any of the 3 photos (3 no face, 0 errors)"),
        (["no_face", "error"], "no face was found in any of the 2 photos (1 no face, 1 error)"),
        (["no_face", "error", "error"], "no face was found in any of the 3 photos (1 no face, 2 errors)"),
    ],
)
def test_a_tiny_run_with_no_face_anywhere_stops_as_one_failed_photo_does(outcomes: list[str], said: str) -> None:
    # Red team 14e F8: one photo answered {"error": "boom"} stopped (exit 2), while 1-3 photos with no face, or no
    # face mixed with errors, ran on to "trans has nothing this check counts" (exit 1). Once the whole run is seen,
    # any size stops.
    watch = expected(outcomes, ["timeout", "weights not loaded", "bad image"])
    with pytest.raises(SystematicFailure) as info:
        watch.finish()
    assert said in str(info.value)
    assert "systematic_failures = 0" in str(info.value)


def test_a_tiny_run_of_different_errors_stops_naming_them() -> None:
    watch = expected(["error"] * 3, ["timeout", "bad image", "out of memory"])
    with pytest.raises(SystematicFailure) as info:
        watch.finish()
    assert "every one of the 3 photos of the run failed (timeout; bad image; out of memory)" in str(info.value)


def test_a_tiny_run_with_one_face_goes_on() -> None:
    expected(["analysed", "no_face", "no_face"]).finish()  # a face was found: the analyzer sees faces


@pytest.mark.parametrize("n", [1, 2, 3])
def test_a_tiny_run_with_no_face_exits_2_through_the_cli(tmp_path: Path, n: int) -> None:
    shots = people("cis", n, no_face=n)
    manifest, predictions = write_dataset(tmp_path / "photos", shots)
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--dataset", str(manifest), "--analyzer",
         f"predictions:{predictions}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "stopped: no face was found in" in done.stderr
    assert not (tmp_path / "conformance-report" / "report.json").exists()
