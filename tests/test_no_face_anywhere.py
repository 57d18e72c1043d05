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
