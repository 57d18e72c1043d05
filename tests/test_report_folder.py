"""The report folder and other files the kit reads or writes, when they are not what they should be (red team 15).

- s06: ``--policy`` or ``--baseline`` naming a FIFO hung for ever; ``--policy`` on /dev/urandom and
  ``compare``/``verify`` on /dev/zero read until MemoryError; ``--report-dir`` naming a file or /dev/null
  ran every check, then died with a FileExistsError traceback, exit 1 (the FAIL code).
- s07: a report folder that cannot be written (a full disk, a folder made immutable) gave a raw
  traceback, exit 1; a cache that cannot be written likewise.
- s11: two runs writing one report folder could leave report.json and report.md of one and report.html of
  the other; now the folder is locked while a run puts its reports in place.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conformance.recording.lock import RecordingLock

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


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    manifest, predictions = _fault_runs().make_dataset(tmp_path / "data", 24)
    return manifest, predictions


def _memory_cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # an endless read fails fast, not the machine


def _conformance(cwd: Path, *args: str, timeout: float = 120, **popen: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
        **popen,
    )


def _audit(data: tuple[Path, Path], *extra: str) -> list[str]:
    manifest, predictions = data
    return ["run", "--dataset", str(manifest), "--analyzer", f"predictions:{predictions}", "--no-cache", *extra]


# -- special files as inputs (s06) --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "urandom"])
def test_a_policy_that_is_a_pipe_or_a_device_is_refused_at_once_naming_it(
    tmp_path: Path, data: tuple[Path, Path], kind: str
) -> None:
    policy = tmp_path / "policy.toml"
    if kind == "fifo":
        os.mkfifo(policy)
    else:
        policy.symlink_to("/dev/urandom")
    done = _conformance(tmp_path, *_audit(data, "--policy", str(policy)), timeout=60, preexec_fn=_memory_cap)
    assert done.returncode == 2, done.stderr[-2000:]
    what = "a named pipe (FIFO)" if kind == "fifo" else "a character device"
    assert (
        f"conformance: error: cannot read policy file {policy}: {policy} is {what}, not a regular file" in done.stderr
    )
    assert "Traceback" not in done.stderr


def test_a_baseline_that_is_a_pipe_does_not_hang_the_run_and_is_named(tmp_path: Path, data: tuple[Path, Path]) -> None:
    baseline = tmp_path / "baseline.json"
    os.mkfifo(baseline)
    done = _conformance(tmp_path, *_audit(data, "--baseline", str(baseline)), timeout=120)
    # A baseline the run cannot read is a usage error said before anything runs (issue 18's gate move).
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"--baseline {baseline}: cannot be read: {baseline} is a named pipe (FIFO), not a regular file" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["compare", "verify"])
def test_compare_and_verify_refuse_a_device_naming_it(tmp_path: Path, command: str) -> None:
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    args = [command, str(zero)] + ([str(zero)] if command == "compare" else [])
    done = _conformance(tmp_path, *args, timeout=60, preexec_fn=_memory_cap)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip() == (
        f"conformance: error: {zero}: cannot be read: {zero} is a character device, not a regular file"
    )


@pytest.mark.parametrize("target", ["file", "/dev/null"])
def test_a_report_dir_that_is_not_a_folder_is_refused_before_any_check(
    tmp_path: Path, data: tuple[Path, Path], target: str
) -> None:
    if target == "file":
        folder = tmp_path / "taken"
        folder.write_text("a file\n", encoding="utf-8")
        what = "a regular file"
    else:
        folder, what = Path(target), "a character device"
    done = _conformance(tmp_path, *_audit(data, "--report-dir", str(folder)))
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip() == (
        f"conformance: error: --report-dir {folder} is {what}, not a folder: the reports (report.json, report.md, "
        "report.html) are written into a folder; name a folder (it is made if missing)"
    )
    assert done.stdout == ""  # nothing analysed, no check run


def test_under_pytest_a_report_dir_that_is_a_file_stops_the_session_before_any_check(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("a file\n", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "conformance.suite",
            "--conformance-demo",
            f"--conformance-report-dir={taken}",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2, done.stdout[-2000:]
    assert f"conformance: error: --report-dir {taken} is a regular file, not a folder" in done.stdout + done.stderr
    assert "passed" not in done.stdout
    assert "failed" not in done.stdout
    assert taken.read_text(encoding="utf-8") == "a file\n"


# -- reports that cannot be written (s07) ----------------------------------------------------------------


def _disk_full(limit: int) -> Any:
    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # as on a full disk: the write fails with an error
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return cap


def test_a_full_disk_while_the_reports_are_written_names_the_file_keeps_the_previous_ones_and_exits_2(
    tmp_path: Path, data: tuple[Path, Path]
) -> None:
    out = tmp_path / "out"
    first = _conformance(tmp_path, *_audit(data, "--report-dir", str(out), "--checks", "detection_failure_gap"))
    assert first.returncode in (0, 1), first.stderr[-2000:]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert sorted(before) == sorted(REPORTS)
    done = _conformance(tmp_path, *_audit(data, "--report-dir", str(out)), preexec_fn=_disk_full(20_000))
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("conformance: error: cannot write")]
    named = line.removeprefix(f"conformance: error: cannot write {out}{os.sep}").partition(":")[0]
    assert named in REPORTS  # the one that did not fit
    assert line.endswith(
        f": File too large; the previous reports in {out} are as they were. Way out: raise the limit on file size "
        "this process runs under (ulimit -f), or choose another --report-dir"
    )
    assert "the verdict above is in no report: the reports could not be written (exit 2)" in done.stdout
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing half-written left beside them


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("chattr") is None, reason="needs root and chattr")
def test_an_immutable_report_folder_is_refused_before_any_check(tmp_path: Path, data: tuple[Path, Path]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    if subprocess.run(["chattr", "+i", str(out)], capture_output=True, check=False).returncode != 0:
        pytest.skip("this file system has no immutable flag")
    try:
        done = _conformance(tmp_path, *_audit(data, "--report-dir", str(out)))
    finally:
        subprocess.run(["chattr", "-i", str(out)], check=True)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip() == (
        f"conformance: error: --report-dir {out}: this user cannot write in that folder; make it writable, or choose "
        "another folder with --report-dir"
    )


def test_a_cache_that_cannot_be_written_is_a_warning_and_the_run_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cache = tmp_path / ".conformance_cache"
    cache.write_text("a file where the cache folder should be\n", encoding="utf-8")  # not a folder: writes fail
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--report-dir", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")},
    )
    assert done.returncode == 1, done.stderr[-2000:]  # the demo's verdict, as always
    assert "conformance: WARNING: the observation cache could not be written in" in done.stderr
    assert "the run goes on without it" in done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORTS)


# -- one writer at a time (s11) --------------------------------------------------------------------------


def test_a_second_run_waits_for_the_report_folder_held_by_another_then_writes_its_whole_set(
    tmp_path: Path, data: tuple[Path, Path]
) -> None:
    import queue
    import threading

    out = tmp_path / "out"
    out.mkdir()
    held = RecordingLock(out / "report.json", wait=0, what=f"report folder {out}", keep=False).acquire()
    run = subprocess.Popen(
        [sys.executable, "-m", "conformance", *_audit(data, "--report-dir", str(out))],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert run.stderr is not None
    stderr = run.stderr
    reader = threading.Thread(target=lambda: [lines.put(line) for line in stderr], daemon=True)
    reader.start()
    err: list[str] = []
    try:
        while not any("waiting for report folder" in line for line in err):
            err.append(lines.get(timeout=120))  # the run reaches its reports and waits for the lock
        time.sleep(1.0)
        assert run.poll() is None  # still waiting
        assert sorted(p.name for p in out.iterdir()) == [".report.json.lock"]  # nothing written meanwhile
    finally:
        held.release()
    run.wait(timeout=120)
    reader.join(timeout=10)
    while not lines.empty():
        err.append(lines.get())
    assert run.returncode == 1, "".join(err)[-2000:]
    assert any(
        line.startswith(
            f"conformance: waiting for report folder {out}: another run is writing it (process {os.getpid()}"
        )
        for line in err
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(REPORTS)  # the lock file is gone with the lock
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["verdict"]
