"""Ctrl-C during the checks (issue 15, item 12): a clear message, no verdict, and no report written over the last one.

The interrupt is a real SIGINT, sent by the process to itself while pytest runs the suite's second check
(what a terminal's Ctrl-C delivers): a small plugin, loaded with ``-p``, sends it from that test's call.
Before, ``conformance run`` exited 2 (its code for bad input) with pytest's bare ``KeyboardInterrupt``
banner, after writing reports of the one check that had finished, verdict and all, over the last run's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = """
import os
import signal

import pytest

_calls = []


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    _calls.append(item.nodeid)
    if len(_calls) == 2:
        os.kill(os.getpid(), signal.SIGINT)
"""


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "interrupt_second_check.py").write_text(PLUGIN, encoding="utf-8")
    return tmp_path


def test_conformance_run_interrupted_says_so_exits_130_and_keeps_the_last_reports(project: Path) -> None:
    out = project / "out"
    whole = _run(project, "-m", "conformance", "run", "--report-dir", str(out))
    assert whole.returncode == 1, whole.stderr
    before = {name: (out / name).read_bytes() for name in ("report.json", "report.md", "report.html")}
    assert json.loads(before["report.json"])["verdict"] == "fail"

    cut = _run(project, "-m", "conformance", "run", "--report-dir", str(out), "--", "-p", "interrupt_second_check")
    assert cut.returncode == 130, cut.stdout[-3000:]
    assert cut.stderr.rstrip().endswith(
        "conformance: interrupted (Ctrl-C): no verdict, and no report was written; run the same command again"
    )
    assert (
        "conformance: INTERRUPTED (Ctrl-C) during the checks (1 check had finished: misgender_gap): no verdict, "
        f"and no report written; the reports in {out}, if any, are an earlier run's. Run the same command again "
        "for a verdict"
    ) in cut.stdout
    assert "conformance verdict:" not in cut.stdout  # no verdict of the one check that finished
    after = {name: (out / name).read_bytes() for name in before}
    assert after == before  # the last whole run's reports, byte for byte
    assert sorted(p.name for p in out.iterdir()) == sorted(before)  # and no temporary file left beside them


def test_pytest_interrupted_writes_no_report_and_says_so(project: Path) -> None:
    out = project / "out"
    xml = project / "junit.xml"
    done = _run(
        project,
        "-m",
        "pytest",
        "--pyargs",
        "conformance.suite",
        "--conformance-demo",
        f"--conformance-report-dir={out}",
        f"--junitxml={xml}",
        "-p",
        "interrupt_second_check",
        "-p",
        "no:cacheprovider",
    )
    assert done.returncode == 2  # pytest's own code for an interrupted session
    assert "conformance: INTERRUPTED (Ctrl-C) during the checks" in done.stdout
    assert not out.exists()
    assert '<property name="conformance.verdict" value="interrupted"' in xml.read_text(encoding="utf-8")
