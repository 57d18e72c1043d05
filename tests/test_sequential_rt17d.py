"""Red team rt17d's findings on sequential audits (issue 17): hold-backs, worker recordings, preflight, design."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import main
from conformance.demo import MANIFEST

_RECORDED = [
    "run",
    "--dataset",
    str(MANIFEST),
    "--analyzer",
    "rekognition",
    "--cassette-dir",
    "cassettes",
    "--sequential",
    "--checks",
    "misgender_gap,nonbinary_representability",
]


def _answers(root: Path) -> list[str]:
    [recording] = root.rglob("rekognition.jsonl")
    return [line for line in recording.read_text().splitlines() if line.startswith('{"key"')]


# -- F2: a sequential recording with worker processes died at look 2 ("recording has not begun") ------------------


def test_a_sequential_recording_with_worker_processes_records_every_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """seq_workers_crash.sh: look 2's worker answers were absorbed into a store whose writer was never opened.

    Each look opens the recording anew; the flag saying the session line was written lived on the recorder,
    so look 2 skipped its session line and the append found no writer: rc 2, no report, 45 answers lost.
    """
    from conformance import load_dataset
    from conformance.adapters.predictions import PredictionsAnalyzer
    from conformance.demo import PREDICTIONS
    from conformance.emulators import RekognitionEmulator, serve

    dataset = load_dataset(MANIFEST)
    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(PREDICTIONS, dataset=dataset))
    monkeypatch.chdir(tmp_path)
    with serve(emulator) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", server.url)
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        code = main([*_RECORDED, "--record-mode", "once", "--executor", "processes:2", "--report-dir", "recorded"])
    assert code == 1  # the demo's analyzer fails misgender_gap; 2 was the crash
    report = json.loads((tmp_path / "recorded" / "report.json").read_text())
    assert report["sequential"]["looks_taken"] == 2
    # every photo sent has its answer in the recording, once (the same 249 as with threads)
    assert len(_answers(tmp_path / "cassettes")) == report["sequential"]["photos_sent"] == 249
    recording = next((tmp_path / "cassettes").rglob("rekognition.jsonl")).read_text().splitlines()
    assert sum('"session":' in line for line in recording) == 2  # one session line a look
    monkeypatch.delenv("AWS_ENDPOINT_URL_REKOGNITION")
    assert main([*_RECORDED, "--record-mode", "none", "--report-dir", "replayed"]) == 1
