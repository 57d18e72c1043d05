"""The regression gate (``--baseline``) and ``conformance compare``, run as a user runs them."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from builders import people, write_dataset


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def run_args(
    data: str,
    report_dir: str,
    *extra: str,
    checks: str | None = "misgender_gap",
    profile: str | None = "ci",
    baseline: str | None = None,
) -> list[str]:
    """``conformance run``'s arguments on the dataset ``data`` (``v1``, ``v2``, ``other``) and its predictions."""
    args = ["run", "--dataset", f"{data}/manifest.csv", "--analyzer", f"predictions:{data}/predictions.jsonl"]
    args += ["--checks", checks] if checks else []
    args += ["--profile", profile] if profile else []
    args += ["--baseline", baseline] if baseline else []
    return [*args, "--report-dir", report_dir, *extra]


def pytest_args(data: str, baseline: str) -> list[str]:
    """The plugin's own spelling of a gated run on ``data``: pytest on the built-in suite."""
    return [
        "--pyargs",
        "conformance.suite",
        "-p",
        "no:cacheprovider",
        f"--conformance-dataset={data}/manifest.csv",
        f"--conformance-analyzer=predictions:{data}/predictions.jsonl",
        f"--conformance-baseline={baseline}",
    ]


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
        done = cli(root, *run_args(version, f"report-{version}"))
        assert done.returncode in (0, 1), done.stdout + done.stderr
    return root


def test_a_worse_version_is_caught_naming_check_group_and_both_figures(runs: Path) -> None:
    done = cli(runs, *run_args("v2", "gated", baseline="report-v1/report.json"))
    assert done.returncode == 1
    # Hand counts: now 40/100 - 10/100 = 0.300; the baseline's gap was 10/100 - 10/100 = 0.000.
    assert "misgender_gap: trans vs cis gap 0.300" in done.stdout
    assert "worse than the baseline's 0.000" in done.stdout
    report = json.loads((runs / "gated" / "report.json").read_text())
    assert report["regression"]["baseline"] == "report-v1/report.json"
    assert len(report["regression"]["regressions"]) == 1


def test_an_identical_run_passes_the_gate_and_says_so(runs: Path) -> None:
    done = cli(runs, *run_args("v1", "same", baseline="report-v1/report.json"))
    assert "no regression against report-v1/report.json" in done.stdout, done.stdout
    assert "1 passed" in done.stdout or "xfailed" in done.stdout  # the gate itself passed
    assert "FAILED test_regression.py" not in done.stdout
    report = json.loads((runs / "same" / "report.json").read_text())
    assert report["regression"]["regressions"] == []


def _gate_alone(runs: Path, version: str, report_dir: str) -> subprocess.CompletedProcess[str]:
    """``conformance run ... --baseline report-v1/report.json -- -k regression``, under the default profile."""
    return cli(
        runs, *run_args(version, report_dir, "--", "-k", "regression", profile=None, baseline="report-v1/report.json")
    )


def _verdict_line(stdout: str) -> str:
    (line,) = [line for line in stdout.splitlines() if line.startswith("conformance verdict:")]
    return line


def test_a_run_of_the_gate_alone_shows_the_gate_in_every_report_and_its_line_repeats_it(runs: Path) -> None:
    # Issue 14's red team (s15): report.md and report.html never mentioned the baseline or what the gate
    # found, and their reproduce line dropped --baseline: running it was another run (incomplete, exit 5).
    digest = hashlib.sha256((runs / "report-v1" / "report.json").read_bytes()).hexdigest()
    done = _gate_alone(runs, "v2", "gate-alone")
    assert done.returncode == 1, done.stdout + done.stderr
    assert _verdict_line(done.stdout).startswith(
        "conformance verdict: regression gate: 1 regression against report-v1/report.json (exit 1); "
        "the checks' own verdict (FAIL in the reports) was not asked for"
    )
    assert "repeat with: " in done.stdout
    assert "--conformance-baseline=report-v1/report.json -k regression" in done.stdout
    markdown = (runs / "gate-alone" / "report.md").read_text()
    assert (
        f"> **Regression gate** against `report-v1/report.json` (sha256 `{digest}`): **1 regression**, a gap worse "
        "than the baseline's beyond noise. Only the gate was selected (pytest's -k): the run's exit status, 1, is "
        "the gate's"
    ) in markdown
    assert "> - misgender\\_gap: trans vs cis gap 0.300" in markdown
    page = (runs / "gate-alone" / "report.html").read_text()
    assert "<h2>Regression gate</h2>" in page
    assert f"<code>report-v1/report.json</code> (sha256 <code>{digest}</code>): <strong>1 regression</strong>" in page
    assert "misgender_gap: trans vs cis gap 0.300" in page
    report = json.loads((runs / "gate-alone" / "report.json").read_text())
    command = report["run"]["command"]
    assert command.endswith("--baseline=report-v1/report.json -- -k regression")
    assert f"Reproduce: `{command}`" in markdown
    # The printed line is the run: run as written (another report folder), it gates again, with the same finding.
    words = shlex.split(command)
    assert words[:2] == ["conformance", "run"]
    again = cli(runs, *words[1:-3], "--report-dir", "gate-alone-again", *words[-3:])
    assert again.returncode == 1, again.stdout + again.stderr
    repeated = json.loads((runs / "gate-alone-again" / "report.json").read_text())
    assert repeated["regression"] == report["regression"]
    assert repeated["verdict"] == report["verdict"]
    # And conformance verify accepts the line the report holds.
    verified = cli(runs, "verify", "gate-alone/report.json")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_run_of_the_gate_alone_with_no_regression_says_its_exit_is_the_gates(runs: Path) -> None:
    # The red team's other half: "conformance verdict: INCONCLUSIVE" printed beside exit 0.
    done = _gate_alone(runs, "v1", "gate-alone-same")
    assert done.returncode == 0, done.stdout + done.stderr
    line = _verdict_line(done.stdout)
    assert line == (
        "conformance verdict: regression gate: no regression against report-v1/report.json (exit 0); the checks' "
        "own verdict (INCONCLUSIVE in the reports) was not asked for: only the gate was selected"
    )
    markdown = (runs / "gate-alone-same" / "report.md").read_text()
    assert "**Verdict: ⚠️ inconclusive**" in markdown  # the checks' own verdict, as computed
    assert "**no regression**, no gap is worse than the baseline's beyond noise. Only the gate was selected" in markdown
    assert "the run's exit status, 0, is the gate's" in markdown
    page = (runs / "gate-alone-same" / "report.html").read_text()
    assert "<strong>no regression</strong>, no gap is worse than the baseline&#x27;s beyond noise." in page


def test_a_whole_run_with_a_baseline_shows_the_gate_and_exits_by_its_verdict(runs: Path) -> None:
    done = cli(runs, *run_args("v1", "whole", profile=None, baseline="report-v1/report.json"))
    # No regression, and the check inconclusive under the default profile: the verdict decides, exit 1.
    assert done.returncode == 1, done.stdout + done.stderr
    assert _verdict_line(done.stdout) == "conformance verdict: INCONCLUSIVE"
    markdown = (runs / "whole" / "report.md").read_text()
    assert "**no regression**, no gap is worse than the baseline's beyond noise." in markdown
    assert "Only the gate was selected" not in markdown
    assert json.loads((runs / "whole" / "report.json").read_text())["run"]["command"].endswith(
        "--baseline=report-v1/report.json"
    )


def test_without_a_baseline_the_gate_does_not_run(runs: Path) -> None:
    report = json.loads((runs / "report-v1" / "report.json").read_text())
    assert "regression" not in report


def test_a_missing_baseline_is_a_usage_error_with_the_file_named(runs: Path) -> None:
    done = cli(runs, *run_args("v1", "report-nowhere", profile=None, baseline="nowhere/report.json"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("conformance: error: --baseline nowhere/report.json: no such file")
    assert not (runs / "report-nowhere").exists()  # refused before anything ran


# Issue 15's leftover: each of these ran the suite and failed the gate (exit 1) instead of refusing the option.
UNREADABLE = {
    "directory": "is a directory; pass the report.json inside it",
    "fifo": "cannot be read: bad-fifo is a named pipe (FIFO), not a regular file",
    "permission-denied": "cannot be read: Permission denied",
    "not-json": "not a conformance report: not JSON (Expecting value at line 1, column 1)",
    "another-schema": "not a conformance report: no 'schema', 'kit_version', 'checks' at the top level",
    "bad-schema": "not a conformance report: 'schema' should be a whole number, found '2'",
}

# Root reads any file whatever its mode, so the refusal is also made by the reader, for that one file.
_REFUSE = (
    "import errno, os, sys\n"
    "import conformance._files as files\n"
    "real = files.read_regular\n"
    "def refusing(path, **kwargs):\n"
    "    if os.path.basename(os.fspath(path)) == 'bad-permission-denied':\n"
    "        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))\n"
    "    return real(path, **kwargs)\n"
    "files.read_regular = refusing\n"
)


def _unreadable(root: Path, kind: str) -> str:
    """A baseline of ``kind`` (a key of UNREADABLE) under ``root``; its path relative to it."""
    name = f"bad-{kind}"
    target = root / name
    if target.exists() or target.is_symlink():
        return name
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "permission-denied":
        target.write_text((root / "report-v1" / "report.json").read_text())
        target.chmod(0)
    elif kind == "not-json":
        target.write_text("baseline: report-v1\n")
    elif kind == "another-schema":  # another tool's JSON report (pytest-json-report's shape)
        target.write_text(json.dumps({"created": 1.0, "exitcode": 0, "tests": [{"nodeid": "t", "outcome": "passed"}]}))
    elif kind == "bad-schema":
        report = json.loads((root / "report-v1" / "report.json").read_text())
        target.write_text(json.dumps({**report, "schema": "2"}))
    return name


def _run_with(root: Path, code: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _REFUSE + code, *args], cwd=root, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("kind", sorted(UNREADABLE))
def test_an_unreadable_baseline_is_a_usage_error_before_anything_runs(runs: Path, kind: str) -> None:
    baseline = _unreadable(runs, kind)
    args = run_args("v1", f"report-{kind}", profile=None, baseline=baseline)
    done = _run_with(runs, "from conformance.cli import main\nsys.exit(main(sys.argv[1:]))\n", args)
    assert done.returncode == 2, done.stdout + done.stderr
    message = done.stderr.strip()
    assert message.startswith(f"conformance: error: --baseline {baseline}: {UNREADABLE[kind]}"), message
    assert message.endswith("or leave --baseline out to run without the regression gate")
    assert "\n" not in message
    assert "Traceback" not in done.stderr
    assert not (runs / f"report-{kind}").exists()  # no photo analysed, no report written


@pytest.mark.parametrize("kind", sorted(UNREADABLE))
def test_pytest_refuses_an_unreadable_baseline_with_exit_2(runs: Path, kind: str) -> None:
    baseline = _unreadable(runs, kind)
    done = _run_with(runs, "import pytest\nsys.exit(pytest.main(sys.argv[1:]))\n", pytest_args("v1", baseline))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"conformance: error: --conformance-baseline {baseline}: {UNREADABLE[kind]}" in done.stderr
    assert "or leave --conformance-baseline out to run without the regression gate" in done.stderr
    assert "passed" not in done.stdout
    assert "failed" not in done.stdout


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
    return cli(root, *run_args("other", "report-other", *extra, baseline="report-v1/report.json"))


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
        [sys.executable, "-m", "pytest", *pytest_args("other", "report-v1/report.json")],
        cwd=other,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "was made on dataset 'v1'" in done.stderr
    assert "--conformance-baseline-any-dataset" in done.stderr


# -- a baseline that cannot speak to this run's gaps (rt14c F1) -----------------------------------------------
# The gate passed, having compared nothing, for a baseline made with other checks, another grouping or
# reference, or from a run that produced no check: v2 (trans 40/100 misgendered against 10/100) went
# through against such a v1 baseline. What the baseline lacks now fails the gate, each gap named.

LACKING = {
    # baseline run's extra arguments -> what the gate must say about misgender_gap's trans vs cis gap
    "other-checks": (["--checks", "detection_failure_gap"], "the baseline has no result for the check"),
    "other-grouping": (["--checks", "misgender_gap", "--group-by", "trans"], "the baseline has no such comparison"),
    "other-reference": (["--checks", "misgender_gap", "--reference", "trans"], "the baseline compared with trans"),
    "incomplete": (["--checks", "misgender_gap", "--", "-k", "misgender_gapp"], "the baseline"),
}


@pytest.mark.parametrize("kind", sorted(LACKING))
def test_a_baseline_that_cannot_speak_to_the_gaps_fails_the_gate_naming_them(runs: Path, kind: str) -> None:
    extra, why = LACKING[kind]
    made = cli(runs, *run_args("v1", f"lacking-{kind}", *extra, checks=None))
    assert made.returncode in (0, 1, 5), made.stdout + made.stderr  # 5: the incomplete run selected no test
    assert (runs / f"lacking-{kind}" / "report.json").exists(), made.stdout + made.stderr
    done = cli(runs, *run_args("v2", f"gated-{kind}", "--", "-k", "regression", baseline=f"lacking-{kind}/report.json"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no regression against" not in done.stdout
    assert "misgender_gap: not compared with the baseline for trans" in done.stdout, done.stdout
    assert why in done.stdout
    assert "make the baseline with the same checks, grouping and reference" in done.stdout
    report = json.loads((runs / f"gated-{kind}" / "report.json").read_text())
    (message,) = report["regression"]["regressions"]
    assert message.startswith("misgender_gap: not compared with the baseline for trans")
    md = (runs / f"gated-{kind}" / "report.md").read_text()
    assert "a check with gaps the baseline cannot speak to" in md
    if kind == "other-reference":  # the how-to shows this run's message as written
        howto = Path(__file__).parents[1] / "docs" / "how-to" / "regression-gate.md"
        assert message in howto.read_text(encoding="utf-8").splitlines()
