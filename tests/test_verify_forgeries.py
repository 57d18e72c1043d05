"""``conformance verify`` against the red-team of issue 12 (F1, F3, F4): forged plans, split seals, and
untouched reports that must verify wherever the reviewer stands.

Before: verify took the plan of checks from the report's own ``run.checks`` (so deleting the failing
checks, or marking them "not run", verified), left ``run.command``, the policy's source,
``analyzer.source``, ``skipped`` and the regression section uncompared, verified a report whose
evidence entries were removed or whose photos were listed twice; it checked digests at the
evidence's absolute paths but replayed ``run.flags``' relative paths from the working directory, so a
report could seal one predictions file and have its figures come from another; and an untouched
report failed when verified from another folder, with ``--root`` not the working directory, or when
made by a ``--record-mode once`` run.

The data: 100 cis women all gendered right, 100 trans women of whom 50 are given "Male" (misgender_gap
fails), a Male/Female vocabulary (nonbinary_representability fails).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from builders import people, write_dataset

from conformance import load_dataset
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.emulators import RekognitionEmulator, serve
from conformance.evidence import canonical_digest

FAILING = ("misgender_gap", "nonbinary_representability")


def cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def _data(folder: Path) -> None:
    shots = people("c", 100, identity="woman", trans="no") + people(
        "t", 100, identity="woman", trans="yes", misgendered=50
    )
    write_dataset(folder / "data", shots)


def _distinct_images(manifest: Path) -> None:
    """Give every photo bytes of its own (the builders' placeholders are all alike; the emulator answers by image)."""
    from PIL import Image

    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines()[1:]):
        Image.new("RGB", (8, 8), (number, 7, 99)).save(manifest.parent / line.split(",")[0], format="PNG")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run as a user makes it, in its own folder, with paths relative to it."""
    cwd = tmp_path_factory.mktemp("project")
    _data(cwd)
    done = cli(cwd, "run", "--dataset", "data/manifest.csv", "--analyzer", "predictions:data/predictions.jsonl")
    assert done.returncode == 1, done.stdout + done.stderr
    return cwd


def forged(
    project: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], None], folder: str = "conformance-report"
) -> Path:
    """A copy of the project's report (in ``folder``) with ``edit`` applied, elsewhere (same evidence)."""
    report = json.loads((project / folder / "report.json").read_text(encoding="utf-8"))
    edit(report)
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return path


def verify(report: Path, *extra: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return cli(cwd or report.parent, "verify", str(report), *extra)


def rows(done: subprocess.CompletedProcess[str]) -> list[list[str]]:
    """The differences table's rows, split on runs of two spaces or more (where, group, field, report, re-derived)."""
    import re

    lines = done.stdout.split("Differences (what the report says, what its evidence gives):\n", 1)[-1].splitlines()
    return [re.split(r"\s{2,}", line.strip()) for line in lines[1:] if line.startswith("  ")]


def _drop_failing(report: dict[str, Any]) -> None:
    report["checks"] = [c for c in report["checks"] if c["id"] not in FAILING]
    report["run"]["checks"] = [c for c in report["run"]["checks"] if c not in FAILING]
    report["verdict"] = "inconclusive"


# -- F1: the plan is re-derived from the reproduce line -------------------------------------------------


def test_failing_checks_deleted_from_the_report_and_its_plan_are_named(project: Path, tmp_path: Path) -> None:
    done = verify(forged(project, tmp_path, _drop_failing))
    assert done.returncode == 1, done.stdout
    table = rows(done)
    assert ["run", "-", "verdict", "inconclusive", "fail"] in table
    assert ["misgender_gap", "-", "check", "absent", "present"] in table
    assert ["nonbinary_representability", "-", "check", "absent", "present"] in table
    assert any(row[:3] == ["run", "-", "checks"] for row in table), done.stdout


def test_a_plan_claimed_as_chosen_with_checks_is_named(project: Path, tmp_path: Path) -> None:
    def chosen(report: dict[str, Any]) -> None:
        _drop_failing(report)
        report["run"]["checks_chosen"] = True

    done = verify(forged(project, tmp_path, chosen))
    assert done.returncode == 1
    assert ["run", "-", "checks_chosen", "True", "False"] in rows(done)


def test_failing_checks_turned_not_run_without_a_cause_are_named(project: Path, tmp_path: Path) -> None:
    def not_run(report: dict[str, Any]) -> None:
        for check in report["checks"]:
            if check["id"] in FAILING:
                check["verdict"] = "not run"
        report["verdict"] = "incomplete"

    done = verify(forged(project, tmp_path, not_run))
    assert done.returncode == 1
    assert "verdicts that differ: run (incomplete in the report, fail from the evidence)" in done.stdout
    assert ["misgender_gap", "-", "not run", "not run, with no cause", "a result"] in rows(done)
    assert ["misgender_gap", "-", "verdict", "not run", "fail"] in rows(done)


@pytest.fixture(scope="module")
def narrowed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A genuine incomplete run: ``-- -k detection_failure_gap`` left the other five checks not run."""
    cwd = tmp_path_factory.mktemp("narrowed")
    _data(cwd)
    done = cli(
        cwd,
        "run",
        "--dataset",
        "data/manifest.csv",
        "--analyzer",
        "predictions:data/predictions.jsonl",
        "--",
        "-k",
        "detection_failure_gap",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return cwd


def test_a_genuine_incomplete_run_verifies_and_says_what_the_evidence_gives_for_its_checks_not_run(
    narrowed: Path,
) -> None:
    done = verify(narrowed / "conformance-report" / "report.json")
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    assert lines[1].startswith("verified: every figure and verdict of 1 check and 200 photos follows")
    assert lines[2].startswith("INCOMPLETE run: 5 of 6 planned checks not run; from the evidence they give: ")
    assert "misgender_gap FAIL" in lines[2]
    assert "nonbinary_representability FAIL" in lines[2]
    assert lines[2].endswith("the whole plan's verdict from the evidence: FAIL")


def test_a_not_run_that_the_pytest_arguments_cannot_explain_is_named(narrowed: Path, tmp_path: Path) -> None:
    def unexplained(report: dict[str, Any]) -> None:
        report["run"]["pytest_args"] = []
        report["run"]["command"] = report["run"]["command"].split(" -- ")[0]

    done = verify(forged(narrowed, tmp_path, unexplained))
    assert done.returncode == 1
    expected = [
        "misgender_gap",
        "-",
        "not run",
        "not run (deselected)",
        "a result: the run's pytest arguments narrow nothing",
    ]
    assert expected in rows(done)


def test_removed_evidence_entries_are_named(project: Path, tmp_path: Path) -> None:
    def unsealed(report: dict[str, Any]) -> None:
        report["evidence"]["analyzer_files"] = []
        del report["evidence"]["manifest"]

    done = verify(forged(project, tmp_path, unsealed))
    assert done.returncode == 1
    table = rows(done)
    assert [row[:4] for row in table] == [
        ["evidence", "-", "manifest", "(absent)"],
        ["evidence", "-", "analyzer_files.0", "(absent)"],
    ]
    assert table[0][4].startswith(f"{project / 'data' / 'manifest.csv'} sha256 ")


def test_a_photo_listed_twice_is_named(project: Path, tmp_path: Path) -> None:
    def twice(report: dict[str, Any]) -> None:
        report["photos"].insert(0, {**report["photos"][0], "outcome": "error", "reason": "x"})

    done = verify(forged(project, tmp_path, twice))
    assert done.returncode == 1
    first = json.loads((project / "conformance-report" / "report.json").read_text())["photos"][0]["photo"]
    assert [f"photo {first}", "-", "photo", "listed 2 times", "once"] in rows(done)
    assert [f"photo {first}", "-", "outcome", "error", "analysed"] in rows(done)


@pytest.mark.parametrize(
    ("edit", "row"),
    [
        pytest.param(
            lambda r: r["run"].update(command="conformance run --dataset=elsewhere.csv"),
            ["run", "-", "command", "conformance run --dataset=elsewhere.csv"],
            id="command",
        ),
        pytest.param(
            lambda r: r.update(skipped=[{"id": "misgender_gap", "reason": "not relevant"}]),
            ["skipped", "-", "skipped", "[{'id': 'misgender_gap', 'reason': 'not relevant'}]", "[]"],
            id="skipped",
        ),
        pytest.param(
            lambda r: r["analyzer"].update(source="/vendor/certified.jsonl"),
            ["analyzer", "-", "source", "/vendor/certified.jsonl"],
            id="analyzer-source",
        ),
        pytest.param(
            lambda r: (
                r["policy"].update(source="procurement-rules.toml"),
                r["evidence"]["policy"].update(source="procurement-rules.toml"),
            ),
            ["policy", "-", "source", "procurement-rules.toml"],
            id="policy-source",
        ),
        pytest.param(
            lambda r: r.update(regression={"baseline": "old.json", "regressions": [], "summary": "no regression"}),
            ["regression", "-", "baseline", "old.json", "no baseline sealed in the evidence"],
            id="regression",
        ),
        pytest.param(
            lambda r: r.update(summary="PASS"), ["report", "-", "summary", "PASS", "(absent)"], id="unknown-key"
        ),
    ],
)
def test_every_field_that_bears_on_the_verdict_is_compared(
    project: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], None], row: list[str]
) -> None:
    done = verify(forged(project, tmp_path, edit))
    assert done.returncode == 1, done.stdout
    assert any(found[: len(row)] == row for found in rows(done)), done.stdout


def test_built_in_defaults_edited_with_a_recomputed_digest_are_named(project: Path, tmp_path: Path) -> None:
    """No file to read again: the defaults are the kit's own, derived again (the profile's tolerance is 0.05)."""

    def lenient(report: dict[str, Any]) -> None:
        sealed = report["evidence"]["policy"]
        sealed["content"]["tolerance"]["misgender_gap"] = 0.6
        sealed["sha256"] = canonical_digest(sealed["content"])
        report["policy"]["tolerance"]["misgender_gap"] = 0.6
        check = next(c for c in report["checks"] if c["id"] == "misgender_gap")
        for comparison in check["comparisons"]:
            comparison["tolerance"] = 0.6

    done = verify(forged(project, tmp_path, lenient))
    assert done.returncode == 1
    assert "differs from them: tolerance.misgender_gap 0.6 → 0.05" in done.stdout


# -- F3: one rule finds the files for the digests and for the replay -----------------------------------


def test_a_report_sealing_one_predictions_file_and_replayed_from_another_is_named(tmp_path: Path) -> None:
    """Two projects on the same photos: A's predictions fail, B's pass. B's report with A's evidence section."""
    for name, misgendered in (("A", 50), ("B", 0)):
        shots = people("c", 100, identity="woman", trans="no")
        shots += people("t", 100, identity="woman", trans="yes", misgendered=misgendered)
        write_dataset(tmp_path / name / "data", shots)
        done = cli(
            tmp_path / name, "run", "--dataset", "data/manifest.csv", "--analyzer", "predictions:data/predictions.jsonl"
        )
        assert done.returncode in (0, 1), done.stderr
    a = json.loads((tmp_path / "A" / "conformance-report" / "report.json").read_text())
    b = json.loads((tmp_path / "B" / "conformance-report" / "report.json").read_text())
    b["evidence"] = a["evidence"]
    report = tmp_path / "B" / "forged.json"
    report.write_text(json.dumps(b), encoding="utf-8")
    done = verify(report, cwd=tmp_path / "B")
    assert done.returncode == 1, done.stdout
    table = rows(done)
    files = [row for row in table if row[:3] == ["evidence", "-", "analyzer_files.0"]]
    assert len(files) == 1, done.stdout
    assert files[0][3].startswith(str(tmp_path / "A" / "data" / "predictions.jsonl"))
    assert files[0][4].startswith(str(tmp_path / "B" / "data" / "predictions.jsonl"))


# -- F4: an untouched report verifies wherever verify is run from --------------------------------------


def test_an_untouched_report_verifies_from_another_folder(project: Path, tmp_path: Path) -> None:
    done = verify(project / "conformance-report" / "report.json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    inside = verify(project / "conformance-report" / "report.json", cwd=project / "conformance-report")
    assert inside.returncode == 0, inside.stdout


def test_a_moved_project_verifies_with_root_from_another_folder(project: Path, tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(project, moved)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = cli(
        elsewhere,
        "verify",
        str(moved / "conformance-report" / "report.json"),
        "--root",
        os.path.relpath(moved, elsewhere),
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_plain_pytest_run_from_a_subfolder_verifies(tmp_path: Path) -> None:
    """Paths on pytest's command line are relative to where it was started, not to the rootdir."""
    _data(tmp_path)
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "ci").mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "conformance.suite",
            "-p",
            "no:cacheprovider",
            "--conformance-dataset=../data/manifest.csv",
            "--conformance-analyzer=predictions:../data/predictions.jsonl",
            "--conformance-report-dir=out",
        ],
        cwd=tmp_path / "ci",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    verified = verify(tmp_path / "ci" / "out" / "report.json", cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout


def test_the_report_of_a_record_mode_once_run_verifies(tmp_path: Path) -> None:
    """README's recording step, against the kit's emulator: its report verifies, replayed from the recording."""
    shots = people("c", 10, identity="woman", trans="no") + people(
        "t", 10, identity="woman", trans="yes", misgendered=4
    )
    manifest, predictions = write_dataset(tmp_path / "data", shots)
    _distinct_images(manifest)
    dataset = load_dataset(manifest)
    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset), min_image_side=0)
    aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    with serve(emulator) as server:
        done = cli(
            tmp_path,
            "run",
            "--dataset",
            "data/manifest.csv",
            "--analyzer",
            "rekognition",
            "--record-mode",
            "once",
            "--checks",
            "misgender_gap,detection_failure_gap",
            env={**aws, "AWS_ENDPOINT_URL_REKOGNITION": server.url},
        )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert (
        json.loads((tmp_path / "conformance-report" / "report.json").read_text())["analyzer"]["record_mode"] == "once"
    )
    verified = verify(tmp_path / "conformance-report" / "report.json", cwd=tmp_path / "data")
    assert verified.returncode == 0, verified.stdout


# -- the regression gate's finding is re-derived against the sealed baseline ----------------------------


@pytest.fixture(scope="module")
def gated(project: Path) -> Path:
    """The project run again, gated against its first report (no regression: the same data and analyzer)."""
    done = cli(
        project,
        "run",
        "--dataset",
        "data/manifest.csv",
        "--analyzer",
        "predictions:data/predictions.jsonl",
        "--baseline",
        "conformance-report/report.json",
        "--report-dir",
        "gated",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return project / "gated" / "report.json"


def test_a_gated_report_verifies_with_its_baseline_sealed(gated: Path, project: Path) -> None:
    report = json.loads(gated.read_text(encoding="utf-8"))
    assert report["regression"]["summary"] == "no regression against conformance-report/report.json"
    assert report["evidence"]["baseline"]["path"] == str(project / "conformance-report" / "report.json")
    done = verify(gated, cwd=project.parent)
    assert done.returncode == 0, done.stdout
    assert "note: the regression gate's finding was re-derived against the sealed baseline" in done.stdout


def test_an_edited_regression_finding_is_named(gated: Path, project: Path, tmp_path: Path) -> None:
    def regressed(report: dict[str, Any]) -> None:
        report["regression"]["regressions"] = ["misgender_gap trans: 0.50 against 0.10, worse beyond noise"]

    done = verify(forged(project, tmp_path, regressed, "gated"))
    assert done.returncode == 1, done.stdout
    assert any(row[:3] == ["regression", "-", "regressions"] for row in rows(done)), done.stdout
