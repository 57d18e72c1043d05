"""``conformance verify``: a genuine report verifies; every kind of tampering is caught and named.

Each run is made as a user makes it (``conformance run`` in a fresh folder), then a copy of its
evidence or of its report is altered the way a vendor under audit might, and ``conformance verify``
is run as a reviewer runs it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.demo import CASSETTES, MANIFEST, PREDICTIONS


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def verify(cwd: Path, report: str = "conformance-report/report.json", *extra: str) -> subprocess.CompletedProcess[str]:
    return cli(cwd, "verify", report, *extra)


def _edit(path: Path, change: Any) -> None:
    report = json.loads(path.read_text(encoding="utf-8"))
    change(report)
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo run, with its recordings copied into the project (so a line of them can be edited)."""
    cwd = tmp_path_factory.mktemp("demo")
    shutil.copytree(CASSETTES, cwd / "cassettes")
    done = cli(cwd, "run", "--cassette-dir", "cassettes")
    assert done.returncode == 1, done.stdout + done.stderr
    return cwd


@pytest.fixture(scope="module")
def predictions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A predictions run on a copy of the demo's photos, with a policy file of its own."""
    cwd = tmp_path_factory.mktemp("predictions")
    shutil.copytree(MANIFEST.parent / "images", cwd / "data" / "images")
    shutil.copy(MANIFEST, cwd / "data" / "manifest.csv")
    shutil.copy(PREDICTIONS, cwd / "vendor.jsonl")
    (cwd / "policy.toml").write_text(
        "[tool.conformance]\nbootstrap = 500\n\n[tool.conformance.tolerance]\nmisgender_gap = 0.05\n"
    )
    done = cli(
        cwd,
        "run",
        "--dataset",
        "data/manifest.csv",
        "--analyzer",
        "predictions:vendor.jsonl",
        "--policy",
        "policy.toml",
        "--checks",
        "misgender_gap,detection_failure_gap",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return cwd


def _copy(project: Path, tmp_path: Path) -> Path:
    """A copy of a finished run's folder, to alter without spoiling the module's run."""
    target = tmp_path / "copy"
    shutil.copytree(project, target)
    return target


def test_a_genuine_demo_report_verifies(demo: Path) -> None:
    done = verify(demo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[1].startswith("verified: every figure and verdict of 6 checks and 600 photos")


def test_a_genuine_predictions_report_verifies_from_another_place(predictions: Path, tmp_path: Path) -> None:
    """The reviewer received the project folder: --root says where it is now."""
    moved = _copy(predictions, tmp_path)
    done = verify(moved, str(moved / "conformance-report" / "report.json"), "--root", str(moved))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified" in done.stdout


def test_a_genuine_face_matching_report_verifies(tmp_path: Path) -> None:
    done = cli(tmp_path, "run", "--demo-matching")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    verified = verify(tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "verified" in verified.stdout


def test_an_edited_figure_is_named(demo: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    shutil.copy(demo / "conformance-report" / "report.json", report)
    _edit(report, lambda r: r["checks"][0]["groups"]["trans"].update(count=20, rate=0.1))
    done = verify(demo, str(report))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[1] == "NOT VERIFIED: 2 differences"
    # The data card's hand counts: 62 of 200 trans photos misgendered.
    assert any(line.split() == ["misgender_gap", "trans", "count", "20", "62"] for line in lines), done.stdout
    assert any(line.split() == ["misgender_gap", "trans", "rate", "0.1", "0.31"] for line in lines), done.stdout


def test_an_edited_verdict_is_named(demo: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    shutil.copy(demo / "conformance-report" / "report.json", report)

    def passing(r: dict[str, Any]) -> None:
        for check in r["checks"]:
            if check["verdict"] == "fail":
                check["verdict"] = "pass"
        r["verdict"] = "pass"

    _edit(report, passing)
    done = verify(demo, str(report))
    assert done.returncode == 1
    rows = [line.split() for line in done.stdout.splitlines()]
    assert ["run", "-", "verdict", "pass", "fail"] in rows
    assert ["misgender_gap", "-", "verdict", "pass", "fail"] in rows
    assert ["confidence_calibration", "-", "verdict", "pass", "fail"] in rows


def test_a_swapped_predictions_file_is_caught(predictions: Path, tmp_path: Path) -> None:
    """Another file at the same path: the digest says so, and the figures it gives differ."""
    project = _copy(predictions, tmp_path)
    lines = (project / "vendor.jsonl").read_text().splitlines()
    # Photo p0002 (a cis woman, rightly "Female" in the demo) is now misgendered.
    swapped = [line.replace('"Female"', '"Male"') if '"images/p0002.png"' in line else line for line in lines]
    assert swapped != lines
    (project / "vendor.jsonl").write_text("\n".join(swapped) + "\n")
    done = verify(project, "conformance-report/report.json", "--root", str(project))
    assert done.returncode == 1
    rows = [line.split() for line in done.stdout.splitlines()]
    assert any(row[:2] == ["predictions", "file"] and "altered:" in row for row in rows), done.stdout
    assert ["photo", "images/p0002.png", "-", "label", "Female", "Male"] in rows
    assert any(row[:3] == ["misgender_gap", "cis", "count"] and row[3:] == ["12", "13"] for row in rows), done.stdout


def test_an_edited_recording_line_is_caught(demo: Path, tmp_path: Path) -> None:
    project = _copy(demo, tmp_path)
    sealed = json.loads((project / "conformance-report" / "report.json").read_text())["evidence"]
    (entry,) = sealed["analyzer_files"]
    recording = project / entry["relative"]
    lines = recording.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if '\\"Value\\":\\"Male\\"' in line)
    lines[index] = lines[index].replace('\\"Value\\":\\"Male\\"', '\\"Value\\":\\"Female\\"')
    recording.write_text("\n".join(lines) + "\n")
    done = verify(project, "conformance-report/report.json", "--root", str(project))
    assert done.returncode == 1
    assert any(line.split()[:1] == ["recording"] and "altered:" in line for line in done.stdout.splitlines()), (
        done.stdout
    )
    rows = [line.split() for line in done.stdout.splitlines()]
    assert any(row[:1] == ["photo"] and row[3:] == ["label", "Male", "Female"] for row in rows), done.stdout


def test_a_removed_image_is_named(predictions: Path, tmp_path: Path) -> None:
    project = _copy(predictions, tmp_path)
    (project / "data" / "images" / "p0007.png").unlink()
    done = verify(project, "conformance-report/report.json", "--root", str(project))
    assert done.returncode == 1
    image = project / "data" / "images" / "p0007.png"
    assert any(line.split() == ["image", str(image), "missing"] for line in done.stdout.splitlines()), done.stdout


def test_a_changed_policy_file_is_named(predictions: Path, tmp_path: Path) -> None:
    project = _copy(predictions, tmp_path)
    policy = project / "policy.toml"
    policy.write_text(policy.read_text().replace("misgender_gap = 0.05", "misgender_gap = 0.4"))
    done = verify(project, "conformance-report/report.json", "--root", str(project))
    assert done.returncode == 1
    assert f"policy file  {policy}  changed since the run: tolerance.misgender_gap 0.05 → 0.4" in done.stdout


def test_an_edited_policy_in_the_report_is_caught(predictions: Path, tmp_path: Path) -> None:
    """Loosening the recorded tolerance (to turn a fail into a pass) breaks the policy's digest."""
    project = _copy(predictions, tmp_path)
    report = project / "conformance-report" / "report.json"

    def looser(r: dict[str, Any]) -> None:
        r["evidence"]["policy"]["content"]["tolerance"]["misgender_gap"] = 0.99
        r["policy"]["tolerance"]["misgender_gap"] = 0.99

    _edit(report, looser)
    done = verify(project, str(report), "--root", str(project))
    assert done.returncode == 1
    assert "its content does not match its sha256: edited after the run" in done.stdout
    rows = [line.split() for line in done.stdout.splitlines()]
    assert any(row[:4] == ["misgender_gap", "nonbinary", "vs", "cis"] and "tolerance" in row for row in rows)


def test_usage_errors_exit_2(tmp_path: Path, demo: Path) -> None:
    missing = verify(tmp_path, "nowhere.json")
    assert missing.returncode == 2
    assert "nowhere.json: no such file" in missing.stderr
    old = tmp_path / "old.json"
    shutil.copy(demo / "conformance-report" / "report.json", old)
    _edit(old, lambda r: r.pop("evidence"))
    unsealed = verify(tmp_path, str(old))
    assert unsealed.returncode == 2
    assert "carries no evidence section" in unsealed.stderr
    assert verify(tmp_path, str(old), "--root", str(tmp_path / "absent")).returncode == 2
