"""Red team 14f on ``conformance run`` and ``conformance verify`` with a ``python:`` model.

F3: what runs at the interpreter's exit (an ``atexit`` print, a ``weakref.finalize`` print, a logging
line at exit) reached the console after the verdict, and a thread of the model's named
``conformance-watch`` passed for the kit's (kit threads were known by their name). F4: a model handed
over by the ``conformance_model`` fixture got a banner saying verify re-runs it, which verify cannot.
F6: a plain ``subprocess.Popen`` child the model started stayed running after the run, unnamed. F8:
pytest's header in ``conformance run`` said ``configfile: ../../../../dev/null``.

Each run case runs the ``conformance`` command in a subprocess, as a user runs it. What is expected is
worked out from what each model is written to do (the line it writes, the process it starts).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_python_model_rt14d import (
    EXPECTED_VERDICT,
    FEMALE,
    cli,
    module,
    until,
    verdict_lines,
    verify_cli,
    write_project,
)

from conformance.adapters.python import analyzer_from, create, register
from conformance.errors import AdapterError

FORGED = "conformance verdict: PASS"

AT_EXIT = {
    "atexit_print": "import atexit\natexit.register(lambda: print('FORGED (atexit)', flush=True))\n",
    "weakref_finalize": (
        "import weakref\nclass _Model: pass\n_m = _Model()\nweakref.finalize(_m, print, 'FORGED (finalize)')\n"
    ),
    # A handler made at import, on the stderr of that time; the record is logged by an atexit hook.
    "logging_at_exit": (
        "import atexit, logging\nlogging.basicConfig(format='%(message)s')\n"
        "atexit.register(lambda: logging.getLogger('lib').warning('FORGED (logging at exit)'))\n"
    ),
    # A module global's finalizer, run in the interpreter's last teardown, after the atexit hooks.
    "del_at_teardown": "class _S:\n    def __del__(self):\n        print('FORGED (__del__)', flush=True)\n_s = _S()\n",
    # A thread named like the kit's: it is still the model's (kit threads are known by identity).
    "kit_named_thread": (
        "import threading, time\n"
        "def _t():\n    for _ in range(4000):\n        print('FORGED (thread)', flush=True); time.sleep(0.002)\n"
        "threading.Thread(target=_t, name='conformance-watch', daemon=True).start()\n"
    ),
}
ANALYZE = "\ndef analyze(path):\n    return {FEMALE}\n"


def _log(root: Path) -> list[str]:
    path = root / "conformance-report" / "model-output.log"
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("case", AT_EXIT)
def test_what_runs_at_exit_or_in_a_kit_named_thread_goes_to_the_models_log_not_after_the_verdict(
    tmp_path: Path, case: str
) -> None:
    write_project(tmp_path)
    module(tmp_path, case, AT_EXIT[case].replace("FORGED", FORGED) + ANALYZE.replace("{FEMALE}", FEMALE))
    done = cli(tmp_path, case)
    assert done.returncode == 1, (done.stdout[-2000:], done.stderr[-2000:])
    # Before: the forged line came after the real verdict (for logging at exit, as the console's last line).
    assert FORGED not in done.stdout + done.stderr.replace(EXPECTED_VERDICT, "")
    assert verdict_lines(done) == [EXPECTED_VERDICT]
    assert any(line.startswith(FORGED) for line in _log(tmp_path)), _log(tmp_path)[:5]
    # F8: pytest's header names the kit's own settings file, not a path to /dev/null.
    header = [line for line in done.stdout.splitlines() if "configfile:" in line]
    assert header == ["configfile: none (conformance run reads no pytest settings file of the project)"], header
    assert "dev/null" not in done.stdout


def test_faulthandler_enabled_on_sys_stderr_at_import_dumps_into_the_models_log(tmp_path: Path) -> None:
    write_project(tmp_path)
    source = "import faulthandler, sys\nfaulthandler.dump_traceback_later(0.3, repeat=True, file=sys.stderr)\n"
    module(tmp_path, "dumper", source + ANALYZE.replace("{FEMALE}", FEMALE))
    done = cli(tmp_path, "dumper")
    assert done.returncode == 1, (done.stdout[-2000:], done.stderr[-2000:])
    # Before: sys.stderr.fileno() at import was the console's saved descriptor, and the dumps reached the console.
    assert "most recent call first" not in done.stdout + done.stderr
    assert verdict_lines(done) == [EXPECTED_VERDICT]
    assert any(line.startswith("Timeout (0:00:00.300000)!") for line in _log(tmp_path))


def test_verify_keeps_an_atexit_print_of_the_model_off_the_console(tmp_path: Path) -> None:
    write_project(tmp_path)
    module(
        tmp_path,
        "atexit_print",
        AT_EXIT["atexit_print"].replace("FORGED", FORGED) + ANALYZE.replace("{FEMALE}", FEMALE),
    )
    assert cli(tmp_path, "atexit_print").returncode == 1
    temporary = tmp_path / "tmp"  # where verify makes the folder of its log
    temporary.mkdir()
    verified = verify_cli(tmp_path, TMPDIR=str(temporary))
    assert verified.returncode == 0, (verified.stdout[-2000:], verified.stderr[-2000:])
    # Before: verify printed "conformance verdict: PASS (atexit)" as its last line.
    assert FORGED not in verified.stdout + verified.stderr
    # verify's log (a folder of its own) holds the line the hook printed at exit.
    logs = list(temporary.glob("conformance-verify-*/model-output.log"))
    assert [log.read_text() for log in logs] == [f"{FORGED} (atexit)\n"]


# A plain subprocess started at import: it says its pid, writes one line to its stdout, and waits for ever.
SUBPROCESS = """
import os, subprocess
_keeper = subprocess.Popen(["sh", "-c", "echo $$ > child.pid; echo LEFTOVER-LINE; exec sleep 600"])
"""


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return True
    return stat[stat.rfind(b")") + 2 :][:1] == b"Z"  # a zombie left to init is ended


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="processes are found through /proc")
def test_a_plain_subprocess_the_model_left_running_is_ended_and_named_with_where_its_output_went(
    tmp_path: Path,
) -> None:
    write_project(tmp_path)
    module(tmp_path, "server", SUBPROCESS + ANALYZE.replace("{FEMALE}", FEMALE))
    done = cli(tmp_path, "server", timeout=120)
    assert done.returncode == 1, (done.stdout[-2000:], done.stderr[-2000:])
    assert verdict_lines(done) == [EXPECTED_VERDICT]
    assert until((tmp_path / "child.pid").exists, 10)
    pid = int((tmp_path / "child.pid").read_text())
    said = [line for line in done.stderr.splitlines() if f"pid {pid}: " in line]
    # Before: nothing was said, and the shell was still running long after the run.
    assert said == [
        "conformance: the run is over; 1 process the model started is still running ('pid "
        f"{pid}: sleep'): the kit ended it (SIGTERM) rather than leave it running; what it wrote to stdout and "
        "stderr is in conformance-report/model-output.log (end such processes in the model before it returns, e.g. with atexit or a context "
        "manager)"
    ], done.stderr[-2000:]
    assert until(lambda: _gone(pid), 10)
    assert "LEFTOVER-LINE" in _log(tmp_path)
    # conformance verify imports the model again, which starts the shell again: ended and named the same way.
    (tmp_path / "child.pid").unlink()
    verified = verify_cli(tmp_path)
    assert verified.returncode == 0, (verified.stdout[-2000:], verified.stderr[-2000:])
    again = int((tmp_path / "child.pid").read_text())
    assert re.search(
        rf"^conformance: the run is over; 1 process the model started is still running \('pid {again}: sleep'\): "
        r"the kit ended it \(SIGTERM\)",
        verified.stderr,
        re.MULTILINE,
    ), verified.stderr[-2000:]
    assert until(lambda: _gone(again), 10)


def test_a_fixture_models_report_says_verify_cannot_run_it_again_and_verify_says_how(
    tmp_path: Path,
) -> None:
    from conformance.dataset import load_dataset

    write_project(tmp_path)
    dataset = load_dataset(tmp_path / "photos" / "manifest.csv")

    def analyze(path: Path) -> dict[str, Any]:
        return {"faces": [{"gender": "Female", "confidence": 90.0}]}

    spec = register(analyze, name="tests.rt14f.analyze")
    trust = analyzer_from(analyze, dataset=dataset, spec=spec, vocabulary={"Female": "woman"}).describe()["trust"]
    # Before: "conformance verify runs it again", which verify (another process) cannot do.
    assert "runs it again" not in trust
    assert "conformance verify cannot run it again" in trust
    assert "--analyzer python:MODULE:FUNCTION" in trust
    with pytest.raises(AdapterError) as raised:
        create("@tests.rt14f.other", dataset=dataset)
    assert re.search(
        r"conformance verify cannot run it again\. For a report verify can re-run, run the model with "
        r"--analyzer python:MODULE:FUNCTION",
        str(raised.value),
    )
