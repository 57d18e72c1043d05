"""SIGTERM, Ctrl-C while the reports are written, and worker processes of a dead run (red team 15, s02-s05).

Real signals, sent to a real ``conformance run`` (or pytest) process:

- SIGTERM (docker stop, ``timeout``, a cancelled CI job) killed a run on the spot: exit -15, no message,
  the answers in flight lost (threads:4 lost 4; processes:2 lost 17 to 21 paid answers), and the worker
  processes lived on as orphans holding the run's stdout. Now it stops the run as Ctrl-C does: answers
  kept, a message, exit 143; a worker whose run's process is killed outright exits too.
- Ctrl-C while the reports were written replaced report.json and report.md and left report.html the
  previous run's, then said "no report was written". Now the three are one unit and the message is true.
- Ctrl-C as the run was ending (after pytest's session) died by SIGINT (-2) in silence: now exit 130 and
  a message that is true.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.dataset import load_dataset
from conformance.emulators import Faults, RekognitionEmulator, serve
from conformance.recording.store import RecordingStore

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ("report.json", "report.md", "report.html")


def _fault_runs() -> Any:
    spec = importlib.util.spec_from_file_location("fault_runs", ROOT / "scripts" / "fault_runs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fault_runs", module)
    spec.loader.exec_module(module)
    return module


def _env(cwd: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(cwd), **extra}


def _run(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=_env(cwd), capture_output=True, text=True, timeout=timeout, check=False
    )


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- the reports are one unit ----------------------------------------------------------------------------

# Sends the process Ctrl-C from inside the writing of report.html: the old writer had replaced report.json
# and report.md by then. With DURING_RENAMES, the signal comes after the first report is renamed into place.
INTERRUPT_WRITING = """
import os
import signal

import conformance.reporting as reporting

_write_html = reporting.write_html


def write_html(report, path):
    written = _write_html(report, path)
    os.kill(os.getpid(), getattr(signal, os.environ.get("CONFORMANCE_TEST_SIGNAL", "SIGINT")))
    return written


if not os.environ.get("DURING_RENAMES"):
    reporting.write_html = write_html
else:
    import conformance.report_folder as folder

    _replace = os.replace
    calls = []

    class _Os:
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def replace(source, target):
            _replace(source, target)
            calls.append(target)
            if len(calls) == 1:
                os.kill(os.getpid(), signal.SIGINT)

    folder.os = _Os()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "interrupt_writing.py").write_text(INTERRUPT_WRITING, encoding="utf-8")
    return tmp_path


def _previous_reports(project: Path) -> tuple[Path, dict[str, bytes]]:
    out = project / "out"
    first = _run(project, "-m", "conformance", "run", "--checks", "detection_failure_gap", "--report-dir", str(out))
    assert first.returncode in (0, 1), first.stderr[-2000:]
    before = _snapshot(out)
    assert sorted(before) == sorted(REPORTS)
    return out, before


def test_ctrl_c_while_the_reports_are_written_leaves_the_previous_set_whole_and_says_so(project: Path) -> None:
    out, before = _previous_reports(project)
    cut = _run(project, "-m", "conformance", "run", "--report-dir", str(out), "--", "-p", "interrupt_writing")
    assert cut.returncode == 130, cut.stdout[-3000:] + cut.stderr[-2000:]
    assert cut.stderr.rstrip().endswith(
        "conformance: interrupted (Ctrl-C): no verdict, and no report was written; run the same command again"
    )
    assert "conformance: INTERRUPTED (Ctrl-C) while the reports were written: no verdict, and no report" in cut.stdout
    assert _snapshot(out) == before  # every one the previous run's, byte for byte; nothing left beside them


def test_ctrl_c_during_the_renames_waits_for_the_whole_new_set_and_says_so(project: Path) -> None:
    out, before = _previous_reports(project)
    env = _env(project, DURING_RENAMES="1")
    cut = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--report-dir", str(out), "--", "-p", "interrupt_writing"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert cut.returncode == 130, cut.stdout[-3000:] + cut.stderr[-2000:]
    after = _snapshot(out)
    assert sorted(after) == sorted(REPORTS)
    assert all(after[name] != before[name] for name in REPORTS)  # all three this run's
    verdict = json.loads(after["report.json"])["verdict"]
    assert verdict != json.loads(before["report.json"])["verdict"]
    assert f"conformance: interrupted (Ctrl-C) after this run's reports were written, whole, to {out}" in cut.stderr
    assert "as the reports were put in place: they were finished first, whole and this run's" in cut.stdout


def test_ctrl_c_after_pytest_ended_exits_130_with_a_true_message(project: Path) -> None:
    """s04: a Ctrl-C after the summary (here: as pytest unconfigures) ended the process by SIGINT, in silence."""
    (project / "interrupt_at_end.py").write_text(
        "import os, signal\n\n\ndef pytest_unconfigure(config):\n    os.kill(os.getpid(), signal.SIGINT)\n",
        encoding="utf-8",
    )
    out = project / "out"
    cut = _run(project, "-m", "conformance", "run", "--report-dir", str(out), "--", "-p", "interrupt_at_end")
    assert cut.returncode == 130, cut.stderr[-2000:]
    assert f"conformance: interrupted (Ctrl-C) after this run's reports were written, whole, to {out}" in cut.stderr
    assert sorted(_snapshot(out)) == sorted(REPORTS)


def test_ctrl_c_outside_any_command_step_exits_130_with_a_message(tmp_path: Path) -> None:
    """The last moments of a command, after its own handling (here: the run command itself interrupted)."""
    code = (
        "import sys\nimport conformance.cli as cli\n\n\ndef interrupted(args):\n    raise KeyboardInterrupt\n\n\n"
        "cli._run = interrupted\nsys.exit(cli.main(['run']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "conformance: interrupted (Ctrl-C); the command stopped there"


def test_sigterm_during_the_checks_under_pytest_says_so_and_exits_143(project: Path) -> None:
    (project / "term_second_check.py").write_text(
        "import os, signal\n\nimport pytest\n\n_calls = []\n\n\n@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_runtest_call(item):\n    _calls.append(item.nodeid)\n    if len(_calls) == 2:\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n",
        encoding="utf-8",
    )
    out = project / "out"
    done = _run(
        project,
        "-m",
        "pytest",
        "--pyargs",
        "conformance.suite",
        "--conformance-demo",
        f"--conformance-report-dir={out}",
        "-p",
        "term_second_check",
        "-p",
        "no:cacheprovider",
    )
    assert done.returncode == 143, done.stdout[-3000:]
    assert "conformance: INTERRUPTED (SIGTERM) during the checks (1 check had finished" in done.stdout
    assert not out.exists()


# -- SIGTERM while recording, and worker processes ---------------------------------------------------------


@pytest.fixture
def slow_emulator(tmp_path: Path) -> Iterator[tuple[Path, RekognitionEmulator, str]]:
    manifest, predictions = _fault_runs().make_dataset(tmp_path / "data", 40)
    dataset = load_dataset(manifest)
    faults = Faults(slow_rate=1.0, slow_seconds=0.1, seed=1)
    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset), faults=faults)
    with serve(emulator) as server:
        yield manifest, emulator, server.url


def _marked(mark: str) -> list[int]:
    """Processes alive whose environment carries ``mark`` (the run and every process it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if f"CONFORMANCE_TEST_MARK={mark}".encode() in (entry / "environ").read_bytes():
                    status = (entry / "status").read_text()
                    if "State:\tZ" not in status:  # a zombie is dead, only not yet reaped
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


@pytest.fixture
def mark(request: pytest.FixtureRequest) -> Iterator[str]:
    """A mark in the environment of the run and its processes; any still alive afterwards are killed."""
    value = f"{os.getpid()}-{request.node.name}-{time.time()}"
    yield value
    for pid in _marked(value):
        os.kill(pid, signal.SIGKILL)


def _record(tmp_path: Path, manifest: Path, url: str, executor: str, mark: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_REKOGNITION": url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "EMULATOR",
        "AWS_SECRET_ACCESS_KEY": "EMULATOR",
        "CONFORMANCE_TEST_MARK": mark,
    }
    command = [sys.executable, "-m", "conformance", "run", "--dataset", str(manifest), "--analyzer", "rekognition"]
    command += ["--record-mode", "once", "--no-cache", "--no-progress", "--executor", executor]
    command += ["--cassette-dir", str(tmp_path / "cassettes"), "--report-dir", str(tmp_path / "out")]
    return subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for_answers(emulator: RekognitionEmulator, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while emulator.stats.calls < count and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be interrupted"


@pytest.mark.parametrize("executor", ["threads:4", "processes:2"])
def test_sigterm_while_recording_keeps_every_answer_says_so_exits_143_and_leaves_no_process(
    tmp_path: Path, slow_emulator: tuple[Path, RekognitionEmulator, str], executor: str, mark: str
) -> None:
    manifest, emulator, url = slow_emulator
    run = _record(tmp_path, manifest, url, executor, mark)
    _wait_for_answers(emulator, 6, run)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=120)  # returns only once every process holding the pipes is gone
    assert run.returncode == 143, err[-3000:]
    assert err.rstrip().endswith(
        "conformance: interrupted (SIGTERM); every answer recorded so far is kept: run the same command again to "
        "record only what is missing"
    )
    time.sleep(1.0)  # a worker's look at its parent comes every half second
    assert _marked(mark) == []
    (recording,) = (tmp_path / "cassettes").rglob("rekognition.jsonl")
    with RecordingStore.open(recording, adapter="rekognition") as store:
        recorded = len(store)
        assert not store.dropped_tail
    # Every answer served was kept: none is lost, so none is paid for twice by the next run.
    assert recorded == emulator.stats.calls
    assert 0 < recorded < 40


def test_worker_processes_exit_when_the_run_is_killed_outright(
    tmp_path: Path, slow_emulator: tuple[Path, RekognitionEmulator, str], mark: str
) -> None:
    manifest, emulator, url = slow_emulator
    run = _record(tmp_path, manifest, url, "processes:2", mark)
    _wait_for_answers(emulator, 4, run)
    workers = [pid for pid in _marked(mark) if pid != run.pid]
    assert workers  # the pool's processes (and multiprocessing's resource tracker)
    run.kill()
    run.wait(timeout=30)
    assert run.stdout is not None
    assert run.stderr is not None
    run.stdout.close()
    run.stderr.close()
    deadline = time.monotonic() + 10
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _marked(mark) == [], "worker processes outlived the run they worked for"
