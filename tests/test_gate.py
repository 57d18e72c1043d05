"""The regression gate (``--baseline``) and ``conformance compare``, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from builders import people, write_dataset


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baseline run, and the same photos judged by a worse analyzer version.

    One photo per person: cis 10 of 100 misgendered in both; trans 10 of 100 in the baseline, 40 of 100 now.
    """
    root = tmp_path_factory.mktemp("gate")
    before = people("c", 100, misgendered=10) + people("t", 100, trans="yes", misgendered=10)
    after = people("c", 100, misgendered=10) + people("t", 100, trans="yes", misgendered=40)
    write_dataset(root / "v1", before, header={"analyzer": "acme", "version": "1"})
    write_dataset(root / "v2", after, header={"analyzer": "acme", "version": "2"})
    for version in ("v1", "v2"):
        done = cli(
            root,
            "run",
            "--dataset",
            f"{version}/manifest.csv",
            "--analyzer",
            f"predictions:{version}/predictions.jsonl",
            "--checks",
            "misgender_gap",
            "--profile",
            "ci",
            "--report-dir",
            f"report-{version}",
        )
        assert done.returncode in (0, 1), done.stdout + done.stderr
    return root


def test_a_worse_version_is_caught_naming_check_group_and_both_figures(runs: Path) -> None:
    done = cli(
        runs,
        "run",
        "--dataset",
        "v2/manifest.csv",
        "--analyzer",
        "predictions:v2/predictions.jsonl",
        "--checks",
        "misgender_gap",
        "--profile",
        "ci",
        "--baseline",
        "report-v1/report.json",
        "--report-dir",
        "gated",
    )
    assert done.returncode == 1
    # Hand counts: now 40/100 - 10/100 = 0.300; the baseline's gap was 10/100 - 10/100 = 0.000.
    assert "misgender_gap: trans vs cis gap 0.300" in done.stdout
    assert "worse than the baseline's 0.000" in done.stdout
    report = json.loads((runs / "gated" / "report.json").read_text())
    assert report["regression"]["baseline"] == "report-v1/report.json"
    assert len(report["regression"]["regressions"]) == 1


def test_an_identical_run_passes_the_gate_and_says_so(runs: Path) -> None:
    done = cli(
        runs,
        "run",
        "--dataset",
        "v1/manifest.csv",
        "--analyzer",
        "predictions:v1/predictions.jsonl",
        "--checks",
        "misgender_gap",
        "--profile",
        "ci",
        "--baseline",
        "report-v1/report.json",
        "--report-dir",
        "same",
    )
    assert "no regression against report-v1/report.json" in done.stdout, done.stdout
    assert "1 passed" in done.stdout or "xfailed" in done.stdout  # the gate itself passed
    assert "FAILED test_regression.py" not in done.stdout
    report = json.loads((runs / "same" / "report.json").read_text())
    assert report["regression"]["regressions"] == []


def test_without_a_baseline_the_gate_does_not_run(runs: Path) -> None:
    report = json.loads((runs / "report-v1" / "report.json").read_text())
    assert "regression" not in report


def test_a_missing_baseline_fails_with_the_file_named(runs: Path) -> None:
    done = cli(
        runs,
        "run",
        "--dataset",
        "v1/manifest.csv",
        "--analyzer",
        "predictions:v1/predictions.jsonl",
        "--checks",
        "misgender_gap",
        "--baseline",
        "nowhere/report.json",
    )
    assert done.returncode == 1
    assert "nowhere/report.json" in done.stdout


def test_compare_marks_the_worse_group(runs: Path) -> None:
    done = cli(runs, "compare", "report-v1/report.json", "report-v2/report.json", "--html", "compare.html")
    assert done.returncode == 0, done.stderr
    assert "misgender_gap" in done.stdout
    assert "▲" in done.stdout  # trans 40/100 against 10/100: beyond noise
    page = (runs / "compare.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page
    assert "https://" not in page


def test_compare_refuses_a_file_that_is_not_a_report(runs: Path) -> None:
    (runs / "notes.json").write_text("{}")
    done = cli(runs, "compare", "notes.json", "report-v1/report.json")
    assert done.returncode == 2
    assert "notes.json" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def other(runs: Path) -> Path:
    """A third dataset: other people (other photos, so another content hash), judged as v2 judged its own."""
    shots = people("x", 100, misgendered=10) + people("y", 100, trans="yes", misgendered=40)
    write_dataset(runs / "other", shots, header={"analyzer": "acme", "version": "2"})
    return runs


def _gate_on_other(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli(
        root,
        "run",
        "--dataset",
        "other/manifest.csv",
        "--analyzer",
        "predictions:other/predictions.jsonl",
        "--checks",
        "misgender_gap",
        "--profile",
        "ci",
        "--baseline",
        "report-v1/report.json",
        "--report-dir",
        "report-other",
        *extra,
    )


def test_a_baseline_from_another_dataset_is_a_usage_error_naming_both(other: Path) -> None:
    """Issue 12, case 10: before, the gate said "no regression" against a baseline on other photos."""
    done = _gate_on_other(other)
    assert done.returncode == 2, done.stdout + done.stderr
    baseline = json.loads((other / "report-v1" / "report.json").read_text())["dataset"]
    message = done.stderr.strip()
    assert message.startswith("conformance: error: the baseline report-v1/report.json was made on dataset 'v1' (")
    assert baseline["content_hash"] in message
    assert "this run audits dataset 'other' (sha256:" in message
    assert message.endswith("or pass --baseline-any-dataset to compare anyway")
    assert not (other / "report-other").exists()  # nothing ran


def test_baseline_any_dataset_gates_against_it_anyway(other: Path) -> None:
    done = _gate_on_other(other, "--baseline-any-dataset")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert "regression" in done.stdout
    report = json.loads((other / "report-other" / "report.json").read_text())
    assert report["regression"]["baseline"].endswith("report-v1/report.json")


def test_pytest_refuses_a_baseline_from_another_dataset(other: Path) -> None:
    """The plugin's own spelling, with --conformance-baseline-any-dataset as the way out; exit 2 as under the CLI.

    Red-team of issue 12 (F12): plain pytest exited 4 (pytest's usage error), conformance run 2, for one mistake.
    """
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "conformance.suite",
            "-p",
            "no:cacheprovider",
            "--conformance-dataset=other/manifest.csv",
            "--conformance-analyzer=predictions:other/predictions.jsonl",
            "--conformance-baseline=report-v1/report.json",
        ],
        cwd=other,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "was made on dataset 'v1'" in done.stderr
    assert "--conformance-baseline-any-dataset" in done.stderr
