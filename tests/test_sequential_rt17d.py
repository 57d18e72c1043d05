"""Red team rt17d's findings on sequential audits (issue 17): hold-backs, worker recordings, preflight, design."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from builders import SEQUENTIAL_DEMO_RECORDING

from conformance.cli import main
from conformance.demo import MANIFEST

_RECORDED = SEQUENTIAL_DEMO_RECORDING


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


# -- F1: a sequential run passed what the full run holds back (the pass hold-backs, not the verdicts' intervals) ----


def _women(folder: Path, people: int, *, missed: float = 0.0, unlabelled: float = 0.0, seed: int = 0) -> Path:
    """cis and trans women, one photo each, nobody misgendered; exact shares of each group's photos with no face
    found (``missed``) and of its faces without a gender label (``unlabelled``), at seeded places (rt17d's make_ds)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True)
    rows, answers = (
        ["photo,subject,gender_identity,trans"],
        [json.dumps({"analyzer": "rt17d", "version": "1", "vocabulary": ["Male", "Female"], "simulated": True})],
    )
    for g, name in enumerate(("cis", "trans")):

        def marks(rate: float) -> Any:
            chosen = np.zeros(people, dtype=bool)
            chosen[rng.choice(people, round(rate * people), replace=False)] = True
            return chosen

        no_face, no_label = marks(missed), marks(unlabelled)
        for p in range(people):
            path = f"images/{name}{p:04d}.png"
            Image.new("RGB", (8, 8), (p % 256, p // 256, g * 60)).save(folder / path)
            rows.append(f"{path},{name}{p:04d},woman,{'yes' if g else 'no'}")
            face: dict[str, Any] = {"confidence": 90.0, "box": [0.1, 0.1, 0.5, 0.5]}
            if not no_label[p]:
                face["gender"] = "Female"
            answers.append(json.dumps({"photo": path, "faces": [] if no_face[p] else [face]}))
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    (folder / "predictions.jsonl").write_text("\n".join(answers) + "\n")
    return folder


def _run(folder: Path, out: str, *extra: str) -> dict[str, Any]:
    args = ["--dataset", str(folder / "manifest.csv"), "--analyzer", f"predictions:{folder / 'predictions.jsonl'}"]
    main(["run", *args, "--checks", "misgender_gap", "--report-dir", str(folder / out), *extra])
    return json.loads((folder / out / "report.json").read_text())


def _verdict(report: dict[str, Any]) -> str:
    [check] = report["checks"]
    return str(check["verdict"])


def test_the_detection_failure_ceiling_holds_a_sequential_pass_back_as_it_holds_the_full_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """seq_ceiling_holdback.sh scaled down: 500 + 500 women, 24% of each group's photos with no face found.

    The full run shows 24% above the ceiling 0.2 at its one-sided 0.025 (z about 2.2 on 500 people) and holds
    misgender_gap back. The old sequential run tested the ceiling at each look's level (0.0029 at look 2,
    z about 2.8 needed, 1.4 seen on 200 people) and passed at look 2. Now an early look needs the share shown
    at or below the ceiling, and the last look holds back at the full run's 0.025. (Tolerance 0.15 so that
    the gap's interval fits within it on a few hundred people, as 0.05 does on the red team's 2500.)
    """
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.conformance.tolerance]\nmisgender_gap = 0.15\n")
    data = _women(tmp_path / "ceil", 500, missed=0.24, seed=3)
    fixed = _run(data, "fixed")
    assert _verdict(fixed) == "inconclusive"
    assert "shown above max_detection_failure 0.2" in fixed["checks"][0]["comparisons"][0]["note"]
    sequential = _run(data, "seq", "--sequential")
    assert _verdict(sequential) != "pass", sequential["sequential"]["looks"]
    assert sequential["sequential"]["looks_taken"] == 5  # never settled early: the hold-back is never cleared
    note = sequential["checks"][0]["comparisons"][0]["note"]
    assert "shown above max_detection_failure 0.2" in note  # the last look: the full run's own rule and level
    assert main(["verify", str(data / "seq" / "report.json")]) == 0, capsys.readouterr().out


def test_min_coverage_holds_a_sequential_pass_back_as_it_holds_the_full_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """seq_coverage_holdback.sh scaled down: 500 + 500 women, a face in every photo, exactly 11% left unlabelled.

    The full run reads coverage 0.89 < min_coverage 0.9 and holds misgender_gap back. On part of the people the
    share seen wanders around 0.89; the old sequential run stopped on a pass at the first look where both
    groups' shares happened to reach 0.9 (look 2 here, the seed chosen so). Now
    an early look needs coverage's lower limit at or above 0.9, and the last look reads the whole data's share.
    """
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.conformance.tolerance]\nmisgender_gap = 0.15\n")
    data = _women(tmp_path / "cov", 500, unlabelled=0.11, seed=COVERAGE_SEED)
    fixed = _run(data, "fixed")
    assert _verdict(fixed) == "inconclusive"
    assert "(min_coverage 0.9)" in fixed["checks"][0]["comparisons"][0]["note"]
    sequential = _run(data, "seq", "--sequential")
    assert _verdict(sequential) != "pass", sequential["sequential"]["looks"]
    assert sequential["sequential"]["looks_taken"] == 5
    assert "(min_coverage 0.9)" in sequential["checks"][0]["comparisons"][0]["note"]
    assert main(["verify", str(data / "seq" / "report.json")]) == 0, capsys.readouterr().out


COVERAGE_SEED = 3  # the 4th seed tried (0-3); seed 2 crosses at look 1, seed 3 at look 2


# -- F3: the design is the run's to choose before any verdict -----------------------------------------------------


def test_a_sequential_report_says_its_design_holds_only_when_chosen_before_the_verdicts(tmp_path: Path) -> None:
    main(["run", "--sequential", "--checks", "misgender_gap", "--report-dir", str(tmp_path)])
    block = json.loads((tmp_path / "report.json").read_text())["sequential"]
    assert block["design_note"].startswith("the design (5 looks, hsd(-2)/joint spending) holds the stated error only")
    assert "the run without --sequential is the reference verdict" in block["design_note"]
