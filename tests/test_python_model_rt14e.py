"""Red team 14e on ``conformance run`` and ``conformance verify`` with a ``python:`` model.

F2: a thread the model started at import wrote ``conformance verdict: PASS`` to the console after its
calls, when descriptors 1 and 2 were the console's again (and into pytest's captured output, which a
failure shows); ``conformance verify`` ran the model with no capture at all, so its output reached the
console and a model closing descriptor 1 ended verify in an ``OSError`` traceback. F4: a
``multiprocessing`` child the model left running kept ``conformance run`` from ever ending. F5: ``|
head -2`` must end the run as a closed pipe ends any command (141). rt14d F8's leftover:
``--analyzer mymodel:analyze`` did not say that ``python:`` was missing.

Each case runs the ``conformance`` command in a subprocess, as a user runs it, with its real exit
status. What is expected is worked out from what each model is written to do (the lines it writes, the
processes it starts), never read back from the kit.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from test_python_model_rt14d import (
    EXPECTED_VERDICT,
    FEMALE,
    cli,
    command,
    environment,
    module,
    until,
    verdict_lines,
    verify_cli,
    write_project,
)

FORGED = "conformance verdict: PASS"

# A daemon thread started at import waits for the model's last call (12 photos), then writes a forged verdict
# to the console every few milliseconds for as long as the process lives: through descriptors 1 and 2, or with
# print(). Nothing else in the module writes anything, so every line of its log is the thread's, after the calls.
LATE_WRITER = """
import os, sys, threading, time

_calls = []

def _late():
    while len(_calls) < 12:
        time.sleep(0.005)
    while True:
        WRITE
        time.sleep(0.005)

threading.Thread(target=_late, daemon=True).start()

def analyze(path):
    _calls.append(path)
    return {FEMALE}
"""
WRITES = {
    "descriptors": 'os.write(1, b"FORGED\\n"); os.write(2, b"FORGED\\n")',
    "print": 'print("FORGED", flush=True); print("FORGED", file=sys.stderr, flush=True)',
}


@pytest.mark.parametrize("how", WRITES)
def test_a_thread_the_model_left_running_writes_to_its_log_never_to_the_console(tmp_path: Path, how: str) -> None:
    write_project(tmp_path)
    module(
        tmp_path,
        "late",
        LATE_WRITER.replace("WRITE", WRITES[how].replace("FORGED", FORGED)).replace("{FEMALE}", FEMALE),
    )
    done = cli(tmp_path, "late")
    assert done.returncode == 1, (done.stdout[-2000:], done.stderr[-2000:])
    # Before: dozens of forged lines around the real verdict, the first of them above it.
    assert verdict_lines(done) == [EXPECTED_VERDICT]
    assert "Captured" not in done.stdout  # nor in pytest's captured output of a test, shown under a failure
    said = re.fullmatch(
        r"conformance: the model wrote (\d+) lines to stdout and stderr, (\d+) of them after it had answered every "
        r"photo, from threads or processes it left running; they are in conformance-report/model-output\.log, not "
        r"on this console, and not evidence of the run",
        done.stderr.splitlines()[-1],
    )
    assert said is not None, done.stderr[-2000:]
    lines, after = int(said.group(1)), int(said.group(2))
    # The thread starts at the twelfth call: some lines come before the kit has taken in every answer, most after.
    assert 0 < after <= lines
    logged = (tmp_path / "conformance-report" / "model-output.log").read_text().splitlines()
    assert len(logged) >= lines  # the thread goes on writing until the process ends
    assert set(logged) == {FORGED}
    # The reports say that the analyzer was code in the kit's own process, trusted with the verdict.
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text())
    assert report["analyzer"]["in_process"] is True
    assert "conformance verify runs it again" in report["analyzer"]["trust"]
    markdown = (tmp_path / "conformance-report" / "report.md").read_text().splitlines()
    assert markdown[2].startswith("> **A model that ran inside the kit.** The analyzer is Python code that ran inside")
    assert "A model that ran inside the kit" in (tmp_path / "conformance-report" / "report.html").read_text()


VERIFIED_MODELS = {
    # closes the console's descriptor 1 at import: verify ended in "OSError: [Errno 9] Bad file descriptor"
    "closes_fd1": ("import os\nos.close(1)\n\ndef analyze(path):\n    return {FEMALE}\n", None),
    # two lines a call (12 calls): verify's console ended with "FATAL"
    "stderr_in_call": (
        "import os, sys\n\ndef analyze(path):\n    sys.stderr.write('conformance verdict: PASS\\n')\n"
        "    os.write(2, b'FATAL\\n')\n    return {FEMALE}\n",
        24,
    ),
}


@pytest.mark.parametrize("model", VERIFIED_MODELS)
def test_verify_keeps_the_models_output_off_the_console_as_run_does(tmp_path: Path, model: str) -> None:
    write_project(tmp_path)
    source, lines = VERIFIED_MODELS[model]
    module(tmp_path, model, source.replace("{FEMALE}", FEMALE))
    assert cli(tmp_path, model).returncode == 1
    verified = verify_cli(tmp_path)
    assert verified.returncode == 0, (verified.stdout[-2000:], verified.stderr[-2000:])
    assert "Traceback" not in verified.stdout + verified.stderr
    assert verified.stdout.startswith("conformance verify: conformance-report/report.json\n")
    assert not re.search(r"FATAL|conformance verdict: PASS", verified.stdout + verified.stderr)
    last = verified.stderr.splitlines()[-1]
    if lines is None:
        assert last == (
            "conformance verify: the model closed the console's file descriptor 1 or 2, or pointed it elsewhere "
            "(os.dup2); the kit put them back"
        )
        return
    said = re.fullmatch(
        rf"conformance verify: the model wrote {lines} lines to stdout and stderr while importing and answering; "
        r"they are in (/\S+/model-output\.log), not on this console, and not evidence of the run",
        last,
    )
    assert said is not None, last
    log = Path(said.group(1))
    assert log.read_text().splitlines() == ["conformance verdict: PASS", "FATAL"] * 12
    assert not log.is_relative_to(tmp_path)  # never into the run's report folder, whose log is the run's
    log.unlink()
    log.parent.rmdir()


# A non-daemon multiprocessing child started at import, sleeping for ever; it writes its pid first.
MP_CHILD = """
import multiprocessing, os, time

def _forever(where):
    with open(where, "w") as out:
        out.write(str(os.getpid()))
    time.sleep(10**6)

if __name__ != "__mp_main__":
    multiprocessing.get_context("fork").Process(target=_forever, args=(os.path.abspath("child.pid"),), name="keeper").start()

def analyze(path):
    SLOW
    return {FEMALE}
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_a_multiprocessing_child_the_model_left_running_is_ended_and_named(tmp_path: Path) -> None:
    write_project(tmp_path)
    module(tmp_path, "keeper", MP_CHILD.replace("SLOW", "pass").replace("{FEMALE}", FEMALE))
    done = cli(tmp_path, "keeper", timeout=120)  # before: the run never ended, and this timed out
    assert done.returncode == 1, (done.stdout[-2000:], done.stderr[-2000:])
    assert verdict_lines(done) == [EXPECTED_VERDICT]
    pid = int((tmp_path / "child.pid").read_text())
    assert (
        "conformance: the run is over; 1 process the model started is still running (keeper (pid "
        f"{pid})): the kit ended it (SIGTERM) rather than wait (end such processes in the model, or start them with "
        "daemon=True)"
    ) in done.stderr.splitlines()
    assert _gone(pid)


@pytest.mark.skipif(sys.platform == "win32", reason="fork, signals")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_ends_a_run_whose_model_left_a_multiprocessing_child(tmp_path: Path, signum: int) -> None:
    write_project(tmp_path, 40)
    slow = "open('called', 'a').close(); __import__('time').sleep(0.3)"
    module(tmp_path, "keeper", MP_CHILD.replace("SLOW", slow).replace("{FEMALE}", FEMALE))
    run = subprocess.Popen(
        command("keeper"),
        cwd=tmp_path,
        env=environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # A shell's background job starts with SIGINT ignored, which Python then keeps: Ctrl-C as from a terminal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert until((tmp_path / "called").exists, 120), "the model was never called"
        assert until((tmp_path / "child.pid").exists, 60)
        os.kill(run.pid, signum)
        out, err = run.communicate(timeout=90)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 128 + signum, (out[-2000:], err[-2000:])
    assert "Traceback" not in out + err
    pid = int((tmp_path / "child.pid").read_text())
    assert f"1 process the model started is still running (keeper (pid {pid}))" in err
    assert until(lambda: _gone(pid), 30)


def test_a_python_model_run_piped_into_head_ends_as_a_closed_pipe_ends_a_command(tmp_path: Path) -> None:
    """`conformance run ... | head -2`: exit 141, as the predictions adapter's run, and no error blaming the model."""
    write_project(tmp_path)
    module(tmp_path, "quiet", "def analyze(path):\n    return {FEMALE}\n".replace("{FEMALE}", FEMALE))
    run = subprocess.Popen(
        command("quiet"),
        cwd=tmp_path,
        env=environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert run.stdout is not None
    assert run.stderr is not None
    head = [run.stdout.readline(), run.stdout.readline()]
    run.stdout.close()  # what head does after its two lines
    err = run.stderr.read().decode()
    assert run.wait(timeout=180) == 141, err
    assert head[0].startswith(b"====")
    assert err.splitlines() == ["conformance: 12 photos: 12 analysed, 0 no face, 0 error"], err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("spec", "suggested"),
    [
        (
            "mymodel:analyze",
            "if mymodel is your model's module, name it with the python adapter: --analyzer python:mymodel:analyze",
        ),
        (
            "models/mymodel.py:analyze",
            "if models/mymodel.py is your model's file, name it with the python adapter: --analyzer python:models/mymodel.py:analyze",
        ),
    ],
)
def test_a_model_named_without_python_is_told_the_spelling_that_works(
    tmp_path: Path, spec: str, suggested: str
) -> None:
    write_project(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--dataset", "photos/manifest.csv", "--analyzer", spec],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1].endswith(f"'conformance.adapters'; {suggested}"), done.stderr
