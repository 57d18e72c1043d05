"""``conformance``, run as a user runs it: a subprocess in a fresh working directory."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.checks import CHECK_IDS
from conformance.demo import MANIFEST, PREDICTIONS


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    cwd = tmp_path_factory.mktemp("demo")
    return run(cwd, "run"), cwd


def test_no_arguments_runs_the_demo_and_fails_as_designed(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, cwd = demo_run
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the shipped demo (simulated predictions, emulated recordings)" in done.stdout
    report = json.loads((cwd / "conformance-report" / "report.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in report["checks"]}
    assert verdicts["misgender_gap"] == "fail"
    assert verdicts["nonbinary_representability"] == "fail"
    assert report["verdict"] == "fail"
    assert report["run"]["command"].startswith("conformance run --demo --seed=")
    # The demo replays recorded Rekognition traffic through boto3, and says where it came from.
    analyzer = report["analyzer"]
    assert analyzer["adapter"] == "rekognition"
    assert analyzer["record_mode"] == "none"
    assert analyzer["emulated"] is True
    assert analyzer["simulated"] is True
    assert analyzer["recorded_with"][0]["emulator"] is True


def test_demo_report_carries_the_published_figures(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, cwd = demo_run
    report = json.loads((cwd / "conformance-report" / "report.json").read_text())
    groups = next(c for c in report["checks"] if c["id"] == "misgender_gap")["groups"]
    # Hand counts from the data card: 12 of 300 cis photos, 62 of 200 trans, 100 of 100 nonbinary.
    assert [(groups[g]["count"], groups[g]["n"]) for g in ("cis", "trans", "nonbinary")] == [
        (12, 300),
        (62, 200),
        (100, 100),
    ]
    calibration = next(c for c in report["checks"] if c["id"] == "confidence_calibration")
    assert "trans" in calibration["details"]["more_confident_yet_more_wrong"]
    markdown = (cwd / "conformance-report" / "report.md").read_text()
    assert "Simulated analyzer output" in markdown
    page = (cwd / "conformance-report" / "report.html").read_text()
    assert "Simulated analyzer output" in page
    assert "Emulated vendor API" in page
    assert "| cis | 300 | 75 | 12 | 300 | 0.040 |" in markdown


def test_explicit_dataset_and_analyzer(tmp_path: Path) -> None:
    done = run(
        tmp_path,
        "run",
        "--dataset",
        str(MANIFEST),
        "--analyzer",
        f"predictions:{PREDICTIONS}",
        "--group-by",
        "skin_type",
        "--reference",
        "lighter",
        "--checks",
        "misgender_gap,detection_failure_gap",
        "--report-dir",
        "out",
    )
    assert done.returncode == 1, done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [c["id"] for c in report["checks"]] == ["misgender_gap", "detection_failure_gap"]
    assert set(report["checks"][0]["groups"]) == {"lighter", "darker"}
    assert report["grouping"] == {"by": ["skin_type"], "reference": "lighter"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--dataset", "missing.csv", "--analyzer", "predictions:p.jsonl"], "manifest not found"),
        (["run", "--dataset", str(MANIFEST)], "name the analyzer"),
        (["run", "--analyzer", f"predictions:{PREDICTIONS}"], "no dataset to audit"),
        (["run", "--dataset", str(MANIFEST), "--analyzer", "nosuch"], "no adapter named 'nosuch'"),
        (["run", "--checks", "misgender_gapp"], "unknown check 'misgender_gapp'"),
        (["run", "--reference", "nobody"], "reference group 'nobody' is not in"),
        (["run", "--group-by", "shoe_size"], "cannot group by 'shoe_size'"),
        (["run", "--policy", "nowhere.toml"], "policy file not found"),
        (["run", "--seed", "x"], "argument --seed: 'x': the seed must be a whole number"),
        (["fly"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    done = run(tmp_path, *args)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert message in lines[0]


def test_checks_lists_every_check(tmp_path: Path) -> None:
    done = run(tmp_path, "checks")
    assert done.returncode == 0
    assert [line.split()[0] for line in done.stdout.splitlines()] == list(CHECK_IDS)


def test_adapters_lists_predictions(tmp_path: Path) -> None:
    done = run(tmp_path, "adapters")
    assert "predictions" in done.stdout


def test_a_reader_that_went_away_ends_the_command_without_a_traceback(tmp_path: Path) -> None:
    # `conformance adapters | head -2`, made certain: the pipe's reading end is closed before anything is written.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "conformance", "adapters"],
            cwd=tmp_path,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 141


def test_adapters_shows_how_to_name_each_analyzer(tmp_path: Path) -> None:
    # Red team 14d F8: the python line gave only its entry point, no hint of python:MODULE:FUNCTION.
    lines = {line.split()[0]: line for line in run(tmp_path, "adapters").stdout.splitlines()}
    assert "python:MODULE:FUNCTION | python:FILE.py:FUNCTION" in lines["python"]
    assert "predictions:FILE.jsonl" in lines["predictions"]
    assert lines["python"].endswith("conformance.adapters.python:create")


def test_every_subcommand_help_has_a_description(tmp_path: Path) -> None:
    # Red team 14d F8: compare --help was the only one without.
    done = run(tmp_path, "compare", "--help")
    assert done.returncode == 0
    usage, description = done.stdout.split("\n\n")[:2]
    assert usage.startswith("usage: conformance compare")
    assert "Compare two or more report.json files" in description


def test_policy_from_project_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.conformance]\nprofile = "ci"\n')
    done = run(tmp_path, "run", "--checks", "detection_failure_gap")
    # The ci profile turns the demo's inconclusive detection check into an xfail: exit 0.
    assert done.returncode == 0, done.stdout
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text())
    assert report["policy"]["profile"] == "ci"
    assert report["checks"][0]["verdict"] == "inconclusive"


def test_a_value_a_shell_would_quote_reaches_pytest_as_given(tmp_path: Path) -> None:
    """The CLI hands pytest each value as it was given; only the reproduce line quotes it for a shell."""
    folder = tmp_path / "vendor's results?"
    folder.mkdir()
    predictions = shutil.copy(PREDICTIONS, folder / "p.jsonl")
    done = run(
        tmp_path,
        "run",
        "--dataset", str(MANIFEST),
        "--analyzer", f"predictions:{predictions}",
        "--checks", "misgender_gap",
        "--report-dir", "out",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr  # the simulated demo fails the check
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["checks"][0]["groups"]["trans"]["count"] == 62  # the data card's hand count
    flag = next(f for f in report["run"]["flags"] if f.startswith("--conformance-analyzer="))
    assert shlex.split(flag) == [f"--conformance-analyzer=predictions:{predictions}"]
