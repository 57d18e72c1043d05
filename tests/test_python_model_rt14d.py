"""Red team 14d on ``conformance run --analyzer python:...``: a model's threads, console and failures.

F4: a model whose module starts a non-daemon thread kept ``conformance run`` from ever ending after
its verdict; Ctrl-C then exited 1 with a traceback. F5: a small run whose every answer was
``{"error": ...}`` was reported (exit 1) instead of stopped (exit 2); an answer with both ``faces`` and
``error`` was silently read as an error. F6: a model could print a fake verdict above the real one, or
silence the console at the file-descriptor level. F8: the ``python:`` spec's garbled messages, and a
private type name in the model's own errors.

Each case runs as a user runs it (the ``conformance`` command in a subprocess, with its real exit
status) or through the public adapter API. The expected counts are worked out here from what each
model is written to do (one line printed per call, one answer per photo), never read back from the kit.
"""

from __future__ import annotations

import csv
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from conformance import AdapterError, load_dataset
from conformance.adapters.python import create
from conformance.failures import FailureWatch, SystematicFailure

VOCABULARY = 'VOCABULARY = {"Female": "woman", "Male": "man"}\n'
FEMALE = '{"faces": [{"gender": "Female", "confidence": 90.0}]}'
PEOPLE = 12  # women: 6 cis, 6 trans; one photo each


def write_project(root: Path, people: int = PEOPLE) -> Path:
    """``people`` women with one photo each (a distinct 8x8 PNG), cis and trans alternately."""
    (root / "photos" / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(people):
        photo = f"img/{i + 1:03d}.png"
        Image.new("RGB", (8, 8), ((7 * i) % 256, (13 * i) % 256, (29 * i) % 256)).save(root / "photos" / photo)
        rows.append([photo, f"s{i}", "woman", ("no", "yes")[i % 2]])
    with (root / "photos" / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo", "subject", "gender_identity", "trans"])
        writer.writerows(rows)
    return root / "photos" / "manifest.csv"


def module(root: Path, name: str, source: str) -> None:
    (root / f"{name}.py").write_text(VOCABULARY + textwrap.dedent(source), encoding="utf-8")


def environment() -> dict[str, str]:
    dropped = ("GITHUB_STEP_SUMMARY", "CI", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST", "CONFORMANCE_MODEL_OUTPUT")
    return {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("PYTEST_XDIST_")}


def command(model: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "conformance",
        "run",
        "--dataset",
        "photos/manifest.csv",
        "--analyzer",
        f"python:{model}:analyze",
        "--checks",
        "misgender_gap",
        "--no-progress",
        "--no-cache",
        *extra,
    ]


def cli(cwd: Path, model: str, *extra: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(model, *extra),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment(),
        stdin=subprocess.DEVNULL,
        check=False,
    )


def verify_cli(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``conformance verify`` of the report ``cli`` wrote in ``cwd``, run as a user would (``env`` added)."""
    return subprocess.run(
        [sys.executable, "-m", "conformance", "verify", "conformance-report/report.json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={**environment(), **env},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def verdict_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (done.stdout + done.stderr).splitlines() if "conformance verdict:" in line]


def until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# Every woman is called Female: nobody misgendered, 6 subjects per group (under min_subjects 10), so
# misgender_gap is INCONCLUSIVE and the run's exit code is 1 under the default policy.
EXPECTED_VERDICT = "conformance verdict: INCONCLUSIVE"


# -- F4: a thread the model leaves running does not keep the run from ending -----------------------------

THREADED = """
import threading, time

def _report_metrics():
    while True:
        time.sleep(1)

threading.Thread(target=_report_metrics, name="metrics\\n::error::x", daemon=False).start()

def analyze(path):
    return {FEMALE}
"""


def test_a_non_daemon_thread_of_the_model_does_not_keep_the_run_from_ending(tmp_path: Path) -> None:
    write_project(tmp_path)
    module(tmp_path, "reporter", THREADED.replace("{FEMALE}", FEMALE))
    # Before: the process waited for the thread for ever after printing its verdict (the timeout raised here).
    done = cli(tmp_path, "reporter", timeout=120)
    assert done.returncode == 1, (done.stdout[-2000:], done.stderr[-2000:])
    assert verdict_lines(done) == [EXPECTED_VERDICT]
    assert sorted(p.name for p in (tmp_path / "conformance-report").iterdir()) == [
        "report.html",
        "report.json",
        "report.md",
    ]
    # The thread is named, its name escaped like any value on the console (no line a CI reads as a command).
    assert done.stderr.splitlines()[-1] == (
        "conformance: the run is over; 1 thread the model started is still running ('metrics\\n::error::x'): "
        "the run exits without waiting for it (start such threads with daemon=True)"
    )
    assert not any(line.startswith("::error::") for line in (done.stdout + done.stderr).splitlines())


# After its verdict, a model's atexit hook holds the process (a client flushing its queue); or a slow model.
AT_EXIT = """
import atexit, os, time

def _linger():
    open(os.path.join(os.getcwd(), "marker"), "w").close()
    time.sleep(120)

atexit.register(_linger)

def analyze(path):
    return {FEMALE}
"""
SLOW = """
import os, time

def analyze(path):
    open(os.path.join(os.getcwd(), "marker"), "a").close()
    time.sleep(0.3)
    return {FEMALE}
"""


@pytest.mark.parametrize("moment", ["during the calls", "after the verdict"])
def test_ctrl_c_at_any_point_of_a_guarded_run_exits_130_with_the_kits_message_and_no_traceback(
    tmp_path: Path, moment: str
) -> None:
    write_project(tmp_path, 40)
    module(tmp_path, "lingering", (SLOW if moment == "during the calls" else AT_EXIT).replace("{FEMALE}", FEMALE))
    marker = tmp_path / "marker"
    # A session of its own, as a terminal's foreground job: Ctrl-C reaches the conformance process, which
    # passes it on to the run's child (in a session of its own too).
    run = subprocess.Popen(
        command("lingering"),
        cwd=tmp_path,
        env=environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert until(marker.exists, 120), "the run never reached the moment"
        os.kill(run.pid, signal.SIGINT)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 130, (out[-2000:], err[-2000:])
    assert "Traceback" not in out + err
    assert "KeyboardInterrupt" not in out + err
    if moment == "after the verdict":
        # Before: the atexit hook took the KeyboardInterrupt with a traceback, and the run exited 1.
        assert err.splitlines()[-1] == (
            "conformance: interrupted (Ctrl-C) as the run ended, after it had decided exit code 1 and written what "
            "it printed above"
        )
        assert (tmp_path / "conformance-report" / "report.json").exists()
    else:
        assert "conformance: interrupted (Ctrl-C)" in err


# -- F5: every photo failing alike stops the run at any size; faces and error together are refused ----------


@pytest.mark.parametrize("people", [1, 3, 12])
def test_a_small_run_whose_every_answer_is_the_same_error_stops_with_exit_2(tmp_path: Path, people: int) -> None:
    write_project(tmp_path, people)
    module(tmp_path, "unloaded", 'def analyze(path):\n    return {"error": "weights not loaded"}\n')
    done = cli(tmp_path, "unloaded")
    # Before: a report saying "trans has nothing this check counts", exit 1.
    assert done.returncode == 2, (done.stdout[-2000:], done.stderr[-2000:])
    alike = f"all {people} photos of the run failed the same way" if people > 1 else "the run's only photo failed"
    assert done.stderr.startswith(
        f"conformance: error: stopped: {alike} (weights not loaded): a "
        "fault of the setup, not of the photos, so no verdict is built on it; nothing is recorded (the model runs in "
        "this process). Fix the cause (the model, its weights, its input) and run the same command again; if these "
        "failures are real answers, set systematic_failures = 0 (never stop; now 20) in [tool.conformance]"
    ), done.stderr
    assert not (tmp_path / "conformance-report" / "report.json").exists()


def test_a_small_predictions_file_with_the_same_error_for_every_photo_stops_too(tmp_path: Path) -> None:
    write_project(tmp_path, 5)
    lines = [json.dumps({"photo": f"img/{i:03d}.png", "error": "AccessDenied: bad key"}) for i in range(1, 6)]
    (tmp_path / "vendor.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    arguments = ["--analyzer", "predictions:vendor.jsonl", "--checks", "misgender_gap", "--no-progress", "--no-cache"]
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--dataset", "photos/manifest.csv", *arguments],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        env=environment(),
        check=False,
    )
    assert done.returncode == 2, (done.stdout[-2000:], done.stderr[-2000:])
    assert "stopped: all 5 photos of the run failed the same way (AccessDenied: bad key)" in done.stderr


def _see(watch: FailureWatch, outcomes: list[tuple[str, str]]) -> int:
    """How many outcomes the watch took before it stopped the run (len(outcomes) when it never did)."""
    for seen, (outcome, reason) in enumerate(outcomes, 1):
        try:
            watch.see_outcome(outcome, reason)
        except SystematicFailure:
            return seen
    return len(outcomes)


def test_the_watch_stops_a_whole_run_failing_alike_and_nothing_else() -> None:
    error = ("error", "weights not loaded")
    # Hand counts: 5 photos expected, the stop comes with the 5th when all 5 failed alike.
    watch = FailureWatch(20)
    watch.expect(5)
    assert _see(watch, [error] * 5) == 5
    assert watch.stopped is not None
    assert str(watch.stopped).startswith("stopped: all 5 photos of the run failed the same way (weights not loaded)")
    # Messages differing only in a number are one kind of failure.
    watch = FailureWatch(20)
    watch.expect(3)
    assert _see(watch, [("error", f"timed out after {n} s") for n in (30, 31, 32)]) == 3
    assert watch.stopped is not None
    # One photo answered, or two kinds of failure: the run goes on to its report.
    for outcomes in ([error] * 4 + [("analysed", "")], [("no_face", "no face found")] + [error] * 4):
        watch = FailureWatch(20)
        watch.expect(5)
        assert _see(watch, outcomes) == 5
    assert watch.stopped is None
    watch = FailureWatch(20)
    watch.expect(4)
    assert _see(watch, [error, error, ("error", "RuntimeError: CUDA out of memory"), error]) == 4
    assert watch.stopped is None
    # 0 never stops; a watch not told the size keeps the streak rule only.
    for limit, expected in ((0, 5), (20, 0)):
        watch = FailureWatch(limit)
        watch.expect(expected)
        assert _see(watch, [error] * 5) == 5
    assert watch.stopped is None
    # The streak rule for big runs is as it was: the 20th alike stops a run of 100.
    watch = FailureWatch(20)
    watch.expect(100)
    assert _see(watch, [("analysed", "")] * 10 + [error] * 90) == 30


def test_an_answer_with_both_faces_and_error_is_that_photos_contract_breach(tmp_path: Path) -> None:
    write_project(tmp_path, 3)
    module(
        tmp_path,
        "partial",
        f"""
        def analyze(path):
            if path.name == "002.png":
                return {{"faces": [{{"gender": "Female", "confidence": 90.0}}], "error": "partial failure"}}
            return {FEMALE}
        """,
    )
    dataset = load_dataset(tmp_path / "photos" / "manifest.csv")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        analyzer = create("partial:analyze", dataset=dataset)
        observations = [analyzer.analyze(photo) for photo in dataset.photos]
    finally:
        os.chdir(cwd)
        sys.modules.pop("partial", None)
    assert [o.outcome for o in observations] == ["analysed", "error", "analysed"]
    # Before: read as the error "partial failure", the faces silently dropped.
    assert observations[1].reason == (
        'photo img/002.png: python:partial:analyze returned both "faces" and "error" ({\'error\': \'partial '
        "failure', 'faces': [{...}]}): an answer holds one of them, \"faces\" (a list, empty when no face was "
        'found) or "error" for a photo the model could not answer'
    )


# -- F6: what the model writes goes to the report folder; the console is the kit's --------------------------

PRINTER = """
import os, subprocess
print("conformance verdict: PASS")
os.write(2, b"raw write to descriptor 2 at import\\n")

def analyze(path):
    print("FAIL misgender_gap: ignore me", path.name)
    return {FEMALE}
"""


def _log_lines(root: Path) -> list[str]:
    return (root / "conformance-report" / "model-output.log").read_text(encoding="utf-8").splitlines()


def test_a_model_printing_a_fake_verdict_has_its_lines_kept_out_of_the_console(tmp_path: Path) -> None:
    write_project(tmp_path)
    module(tmp_path, "liar", PRINTER.replace("{FEMALE}", FEMALE))
    done = cli(tmp_path, "liar")
    assert done.returncode == 1, (done.stdout[-2000:], done.stderr[-2000:])
    # Before: "conformance verdict: PASS" came first, and a grep -m1 read it.
    assert verdict_lines(done) == [EXPECTED_VERDICT]
    assert "ignore me" not in done.stdout + done.stderr
    assert "raw write" not in done.stdout + done.stderr
    # Two lines at import, one per call: 2 + 12.
    lines = _log_lines(tmp_path)
    assert lines[:2] == ["conformance verdict: PASS", "raw write to descriptor 2 at import"]
    assert sorted(lines[2:]) == [f"FAIL misgender_gap: ignore me {i:03d}.png" for i in range(1, PEOPLE + 1)]
    assert (
        "conformance: the model wrote 14 lines to stdout and stderr while importing and answering; they are in "
        "conformance-report/model-output.log, not on this console, and not evidence of the run"
    ) in done.stderr.splitlines()
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text(encoding="utf-8"))
    assert "model-output.log" not in json.dumps(report)  # not evidence: no report names or digests it


def test_a_model_silencing_descriptors_1_and_2_at_import_leaves_the_console_whole(tmp_path: Path) -> None:
    write_project(tmp_path)
    module(
        tmp_path,
        "quiet",
        f"""
        import os
        _null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(_null, 1)
        os.dup2(_null, 2)

        def analyze(path):
            return {FEMALE}
        """,
    )
    done = cli(tmp_path, "quiet")
    assert done.returncode == 1, (done.stdout[-2000:], done.stderr[-2000:])
    # Before: an empty console (stdout and stderr both sent to /dev/null by the model).
    assert verdict_lines(done) == [EXPECTED_VERDICT]
    assert "conformance: 12 photos: 12 analysed, 0 no face, 0 error" in done.stderr.splitlines()
    assert done.stderr.splitlines()[-1] == (
        "conformance: the model closed the console's file descriptor 1 or 2, or pointed it elsewhere (os.dup2); the kit "
        "put them back"
    )
    assert not (tmp_path / "conformance-report" / "model-output.log").exists()  # it wrote nothing: no file


def test_a_quiet_model_leaves_no_log_and_no_line(tmp_path: Path) -> None:
    write_project(tmp_path)
    report = tmp_path / "conformance-report"
    report.mkdir()
    (report / "model-output.log").write_text("an earlier run's output\n", encoding="utf-8")
    module(tmp_path, "silent", f"def analyze(path):\n    return {FEMALE}\n")
    done = cli(tmp_path, "silent")
    assert done.returncode == 1, (done.stdout[-2000:], done.stderr[-2000:])
    assert "model" not in done.stderr.splitlines()[-1]
    assert "model-output.log" not in done.stdout + done.stderr
    assert not (report / "model-output.log").exists()  # an earlier run's log is not left to read as this one's


def test_worker_processes_write_their_model_output_into_the_same_log(tmp_path: Path) -> None:
    write_project(tmp_path)
    module(tmp_path, "liar", PRINTER.replace("{FEMALE}", FEMALE))
    done = cli(tmp_path, "liar", "--executor", "processes:2")
    assert done.returncode == 1, (done.stdout[-2000:], done.stderr[-2000:])
    assert verdict_lines(done) == [EXPECTED_VERDICT]
    assert "ignore me" not in done.stdout + done.stderr
    lines = _log_lines(tmp_path)
    # Every call ran in a worker process and wrote its line there; each importing process (the run's own and
    # one or two workers, whichever got photos) wrote the two import lines.
    calls = sorted(line for line in lines if line.startswith("FAIL"))
    assert calls == [f"FAIL misgender_gap: ignore me {i:03d}.png" for i in range(1, PEOPLE + 1)]
    imports = lines.count("conformance verdict: PASS")
    assert 2 <= imports <= 3
    assert lines.count("raw write to descriptor 2 at import") == imports
    assert len(lines) == PEOPLE + 2 * imports
    assert f"conformance: the model wrote {len(lines)} lines" in done.stderr


def test_under_xdist_the_console_is_the_kits_and_the_verdict_stands(tmp_path: Path) -> None:
    write_project(tmp_path)
    module(tmp_path, "liar", PRINTER.replace("{FEMALE}", FEMALE))
    done = cli(tmp_path, "liar", "--", "-n", "2")
    assert done.returncode == 1, (done.stdout[-2000:], done.stderr[-2000:])
    assert verdict_lines(done) == [EXPECTED_VERDICT]
    assert "ignore me" not in done.stdout + done.stderr
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text(encoding="utf-8"))
    assert next(c for c in report["checks"] if c["id"] == "misgender_gap")["verdict"] == "inconclusive"
    calls = sorted(line for line in _log_lines(tmp_path) if line.startswith("FAIL"))
    # The answers are conformance run's own, made before pytest started: one call per photo.
    assert calls == [f"FAIL misgender_gap: ignore me {i:03d}.png" for i in range(1, PEOPLE + 1)]


# -- F8: the python: spec's messages, and the path the model gets ----------------------------------------------


@pytest.mark.parametrize(
    ("argument", "meant"),
    [("mymodel.py::analyze", "python:mymodel.py:analyze"), ("pkg:model:analyze", "python:pkg.model:analyze")],
)
def test_a_spec_with_a_colon_too_many_says_the_expected_form(tmp_path: Path, argument: str, meant: str) -> None:
    dataset = load_dataset(write_project(tmp_path, 1))
    with pytest.raises(AdapterError) as raised:
        create(argument, dataset=dataset)
    # Before: "no module named 'mymodel.py:' ... run from the folder that holds mymodel/py:.py".
    assert str(raised.value) == (
        f"python:{argument}: one colon goes between the module (or file) and the function, and a module name holds "
        f"none: the form is --analyzer python:MODULE:FUNCTION (or python:path/to/file.py:FUNCTION), here {meant}"
    )


def test_a_module_name_with_a_blank_says_what_a_module_name_is(tmp_path: Path) -> None:
    dataset = load_dataset(write_project(tmp_path, 1))
    with pytest.raises(AdapterError) as raised:
        create(" mymodel:analyze", dataset=dataset)
    # Before: "no module named ' mymodel' ... run from the folder that holds  mymodel.py".
    assert str(raised.value) == (
        "python: mymodel:analyze: ' mymodel' is not a module name (a dotted name such as pkg.model) nor a path to a "
        ".py file; the form is --analyzer python:MODULE:FUNCTION (or python:path/to/file.py:FUNCTION), here "
        "python:mymodel:analyze"
    )


def test_a_missing_absolute_file_is_not_said_to_be_relative(tmp_path: Path) -> None:
    dataset = load_dataset(write_project(tmp_path, 1))
    missing = tmp_path / "abs" / "missing.py"
    with pytest.raises(AdapterError) as raised:
        create(f"{missing}:analyze", dataset=dataset)
    assert str(raised.value) == f"python:{missing}:analyze: no file {missing}"
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(AdapterError) as relative:
            create("models/missing.py:analyze", dataset=dataset)
    finally:
        os.chdir(cwd)
    assert str(relative.value) == (
        f"python:models/missing.py:analyze: no file {tmp_path / 'models' / 'missing.py'} (a relative path after "
        f"python: is taken relative to the working directory {tmp_path})"
    )


def test_the_model_gets_a_plain_pathlib_path_and_no_private_type_name_reaches_its_errors(tmp_path: Path) -> None:
    dataset = load_dataset(write_project(tmp_path, 2))
    seen: list[type] = []
    (tmp_path / "typed.py").write_text(
        VOCABULARY + f"def analyze(path):\n    SEEN.append(type(path))\n    return {FEMALE}\n", encoding="utf-8"
    )
    analyzer = create(f"{tmp_path / 'typed.py'}:analyze", dataset=dataset)
    namespace = sys.modules[next(n for n in sys.modules if n.startswith("_conformance_python_typed_"))].__dict__
    namespace["SEEN"] = seen
    assert analyzer.analyze(dataset.photos[0]).outcome == "analysed"
    assert seen == [type(pathlib.Path())]  # PosixPath (WindowsPath there), as the docs promise
    # A function that cannot take a path names the public type in its error (s08: "... not _UnparsedPath").
    loads = create("json:loads", dataset=dataset)
    observation = loads.analyze(dataset.photos[1])
    assert observation.outcome == "error"
    assert f"not {type(pathlib.Path()).__name__}" in observation.reason
    assert "_UnparsedPath" not in observation.reason
