"""A sequential run's design is stated in its recording, and a run under another one says so (review of issue 17, F3).

The looks and spending are the run's to choose before any verdict is seen. A sequential replay of a recording could
be run with another --looks than the run that made the recording, after the verdicts were known, and nothing said
so; and a report whose sequential block had its ``spending`` taken out was replayed as O'Brien-Fleming-type, the
spending of reports made before reports stated one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from builders import SEQUENTIAL_DEMO_RECORDING

from conformance.cli import main

_CHECKS = ["--checks", "misgender_gap,nonbinary_representability"]


def _report(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "report.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo recorded through the kit's emulator: a sequential run (5 looks: it stops at look 2, 249 photos),
    then a run without --sequential recording the other 351 photos, so that any replay finds every photo."""
    from conformance import load_dataset
    from conformance.adapters.predictions import PredictionsAnalyzer
    from conformance.demo import MANIFEST, PREDICTIONS
    from conformance.emulators import RekognitionEmulator, serve

    root = tmp_path_factory.mktemp("design")
    dataset = load_dataset(MANIFEST)
    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(PREDICTIONS, dataset=dataset))
    with pytest.MonkeyPatch.context() as patch, serve(emulator) as server:
        patch.chdir(root)
        patch.setenv("AWS_ENDPOINT_URL_REKOGNITION", server.url)
        patch.setenv("AWS_REGION", "us-east-1")
        assert main([*SEQUENTIAL_DEMO_RECORDING, "--record-mode", "once", "--report-dir", "live"]) == 1
        whole = [a for a in SEQUENTIAL_DEMO_RECORDING if a != "--sequential"]
        assert main([*whole, "--record-mode", "once", "--report-dir", "rest"]) == 1
    return root


def _replay(root: Path, monkeypatch: pytest.MonkeyPatch, out: str, *extra: str) -> dict[str, Any]:
    monkeypatch.chdir(root)
    monkeypatch.delenv("AWS_ENDPOINT_URL_REKOGNITION", raising=False)
    assert main([*SEQUENTIAL_DEMO_RECORDING, "--record-mode", "none", "--report-dir", out, *extra]) == 1
    return _report(root / out)


def test_each_session_of_a_sequential_recording_states_the_runs_design(recorded: Path) -> None:
    [recording] = (recorded / "cassettes").rglob("rekognition.jsonl")
    lines = [json.loads(line) for line in recording.read_text(encoding="utf-8").splitlines()]
    sessions = [line["session"] for line in lines if "session" in line]
    # One session a look of the sequential run, then the run without --sequential, which states no design.
    # alpha: each direction's one-sided error of the default policy's 95% confidence, (1 - 0.95) / 2.
    design = {"looks": 5, "spending": "hsd(-2)/joint", "alpha": 0.025}
    assert [s.get("design") for s in sessions] == [design, design, None]
    listed = _report(recorded / "rest")["analyzer"]["recording_sessions"]
    assert [s.get("design") for s in listed] == [design, design, None]


def test_a_replay_under_another_looks_says_so_and_verify_flags_it(
    recorded: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    report = _replay(recorded, monkeypatch, "looks3", "--looks", "3")
    err = capsys.readouterr().err
    note = report["sequential"]["recording_design_note"]
    assert note.startswith(
        "this sequential run's design (3 looks, hsd(-2)/joint spending, alpha 0.025) is not the one its recording's "
        "sessions state: 5 looks, hsd(-2)/joint spending, alpha 0.025 (stated by 2 session(s) from "
    )
    assert "(--looks 5)" in note
    assert f"conformance: WARNING: {note}" in " ".join(err.split())
    assert "the recording's sessions state another design" in " ".join(report["notes"])

    assert main(["verify", str(recorded / "looks3" / "report.json")]) == 1
    out = capsys.readouterr().out
    assert "NOT VERIFIED: 1 difference" in out, out
    [row] = [line for line in out.splitlines() if "looks_planned" in line]
    assert row.split()[:4] == ["sequential", "-", "looks_planned", "3"]
    assert "5 (the design 2 recording session(s) from" in row


def test_a_replay_under_the_recordings_own_design_says_nothing_and_verifies(
    recorded: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same 5 looks (the default); the session of the run without --sequential states none: nothing to say.
    capsys.readouterr()
    report = _replay(recorded, monkeypatch, "looks5")
    assert "recording_design_note" not in report["sequential"]
    assert "WARNING" not in capsys.readouterr().err
    assert main(["verify", str(recorded / "looks5" / "report.json")]) == 0, capsys.readouterr().out


def test_a_recording_that_states_no_design_gives_no_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The shipped demo recording was made by an older kit, not sequentially: its sessions state no design.
    main(["run", "--sequential", "--looks", "3", *_CHECKS, "--report-dir", str(tmp_path)])
    report = _report(tmp_path)
    assert report["sequential"]["looks_planned"] == 3
    assert "recording_design_note" not in report["sequential"]
    assert "WARNING" not in capsys.readouterr().err


# -- a block whose spending was taken out is refused ---------------------------------------------------------------


def test_a_sequential_block_with_its_spending_taken_out_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Replayed as a block made before reports stated a spending (O'Brien-Fleming-type), it would be another design.

    The kit's version cannot tell the two apart: conformance/_version.py says 0.1.0 before and after reports began
    to state their spending (commit 5196110). ``design_note`` can: every sequential block carries it since b2490bb,
    after 5196110, so a block with it and without ``spending`` had its spending taken out.
    """
    from conformance._version import __version__

    assert __version__ == "0.1.0"  # when this changes, a version can tell: the check may then read it
    main(["run", "--sequential", *_CHECKS, "--report-dir", str(tmp_path)])
    report = _report(tmp_path)
    assert "design_note" in report["sequential"]
    del report["sequential"]["spending"]
    path = tmp_path / "stripped.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    capsys.readouterr()
    assert main(["verify", str(path)]) == 2
    said = " ".join(capsys.readouterr().err.split())
    assert "the sequential block states no error spending, yet it carries design_note" in said
    assert "its spending was taken out" in said
