"""A recording that cannot be written (issue 15, second pass, red team s08): the run stops at once.

A full disk is played by a real ``RLIMIT_FSIZE`` on the ``conformance run`` process, with ``SIGXFSZ``
ignored so that the write that crosses the limit fails with ``EFBIG`` as a write on a full disk fails
with ``ENOSPC``. Before, the failed write raised ``OSError`` inside urllib3, which took it for a lost
connection: each photo became ``ConnectionError: lost the connection after retries``, botocore retried
it (more paid calls), the run went on calling until the systematic-failure stop, then died with a raw
``OSError`` traceback, exit 1: 78 calls served for 24 answers kept.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.dataset import load_dataset
from conformance.emulators import RekognitionEmulator, serve
from conformance.recording.scrub import request_key
from conformance.recording.store import RecordingStore

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 20_000  # bytes: the header, a session line and a score of answers, far fewer than the photos


def _fault_runs() -> Any:
    spec = importlib.util.spec_from_file_location("fault_runs", ROOT / "scripts" / "fault_runs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fault_runs", module)
    spec.loader.exec_module(module)
    return module


def _disk_full() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # as on a full disk: the write fails with an error
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


def _keys(recording: Path) -> list[str]:
    return [line[9:73] for line in recording.read_text(encoding="utf-8").splitlines() if line.startswith('{"key": "')]


@pytest.mark.parametrize("executor", ["serial", "threads:4"])
def test_a_recording_that_cannot_be_written_stops_the_run_at_once_naming_the_file_and_what_was_lost(
    tmp_path: Path, executor: str
) -> None:
    manifest, predictions = _fault_runs().make_dataset(tmp_path / "data", 60)
    dataset = load_dataset(manifest)
    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset))
    cassettes = tmp_path / "cassettes"
    with serve(emulator) as server:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL_REKOGNITION": server.url,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "EMULATOR",
            "AWS_SECRET_ACCESS_KEY": "EMULATOR",
        }
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "conformance",
                "run",
                "--dataset",
                str(manifest),
                "--analyzer",
                "rekognition",
                "--record-mode",
                "once",
                "--no-cache",
                "--cassette-dir",
                str(cassettes),
                "--executor",
                executor,
                "--report-dir",
                str(tmp_path / "out"),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            preexec_fn=_disk_full,
            check=False,
        )
    calls = emulator.stats.calls
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "ConnectionError" not in done.stderr
    assert "lost the connection" not in done.stderr
    (recording,) = cassettes.rglob("rekognition.jsonl")
    found = re.search(
        r"conformance: error: cannot write the recording (\S+): File too large \(OSError, errno 27\); the run stopped "
        r"at once, sending no further calls; (\d+) answer\(s\) this run received are in it; (\d+) answer\(s\) "
        r"received could not be written and are lost \(the next run asks for them again\)\. Way out: raise the limit "
        r"on file size this process runs under \(ulimit -f\)",
        done.stderr,
    )
    assert found, done.stderr[-3000:]
    assert Path(found[1]) == recording
    written, lost = int(found[2]), int(found[3])
    # The file holds exactly what the message says, every line whole (the torn one was cut off).
    assert len(_keys(recording)) == written
    with RecordingStore.open(recording, adapter="rekognition") as store:
        assert not store.dropped_tail
        assert len(store) == written
    assert recording.stat().st_size <= LIMIT
    # Every call served is one answer kept or one counted as lost: nothing retried, no call after the stop but
    # those already on their way (one per thread).
    assert calls == written + lost
    assert 1 <= lost <= (1 if executor == "serial" else 4)
    assert written + lost < 60 // 2  # it stopped at once, not at the systematic-failure stop
    assert not (tmp_path / "out").exists()  # no report of a run that did not finish


@pytest.mark.parametrize("freed", [False, True])
def test_a_store_that_cannot_write_keeps_the_answers_for_the_run_and_writes_them_at_close_if_it_can(
    tmp_path: Path, freed: bool
) -> None:
    """The store's own account: after a failed write every line waits, in order; the close tries once more."""
    path = tmp_path / "rekognition.jsonl"
    store = RecordingStore.open(path, adapter="rekognition")
    store.begin_session({"started": "now"}, "note")
    size = path.stat().st_size
    keys = {}
    for name in ("a", "b"):
        body = {"Image": {"Sha256": name * 64}}
        keys[name] = request_key("DetectFaces", json.dumps(body, sort_keys=True, separators=(",", ":")))
    request = {"a": {"operation": "DetectFaces", "body": {"Image": {"Sha256": "a" * 64}}}}
    request["b"] = {"operation": "DetectFaces", "body": {"Image": {"Sha256": "b" * 64}}}
    big = {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": "x" * 4000}
    small = {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": "{}"}
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 1000, hard))
    try:
        store.append(keys["a"], "DetectFaces", request["a"], big)  # over the limit: torn, then cut back
        assert store.write_error is not None
        assert path.stat().st_size == size
        store.append(keys["b"], "DetectFaces", request["b"], small)  # not even tried: it waits behind the first
        assert path.stat().st_size == size
        assert store.play(keys["a"])["response"]["body"] == "x" * 4000  # the answer stays the run's
        if freed:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space freed before the run ends
        store.close()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    failure = store.write_failure()
    assert failure is not None  # the run stopped for it all the same
    assert str(path) in str(failure)
    assert "ulimit -f" in str(failure)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line) for line in lines)  # every line whole, nothing torn
    if freed:
        assert "every answer this run received is in it (2)" in str(failure)
        assert _keys(path) == [keys["a"], keys["b"]]
    else:
        # The small line is not written out of order behind the one that does not fit.
        assert "0 answer(s) this run received are in it; 2 answer(s) received could not be written" in str(failure)
        assert len(lines) == 2  # the header and the session line


def test_record_mode_all_over_an_unreadable_recording_prints_its_path_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The two messages of ``all`` mode about the previous recording print the path (a dataset's folder name) escaped."""
    folder = tmp_path / "photos\n::error::owned\x1b[31m"
    folder.mkdir()
    path = folder / "rekognition.jsonl"
    path.write_text("not a recording\n", encoding="utf-8")
    store = RecordingStore.open(path, adapter="rekognition", fresh=True)
    store.begin_session({"started": "now"}, "note")
    store.close()
    err = capsys.readouterr().err
    assert "the previous recording could not be read" in err
    assert "\x1b" not in err
    assert not [line for line in err.splitlines() if line.lstrip().startswith("::")]
    assert "photos\\x0a::error::owned\\x1b[31m" in err  # the folder named, escaped


# -- predictions header values are capped (red team 15, s09/s10) -------------------------------------------


@pytest.mark.parametrize(
    ("member", "value", "expected"),
    [
        ("analyzer", "a" * 1_000_000, "header 'analyzer' is 1,000,000 characters long, over the 200 the kit accepts"),
        ("version", "9" * 201, "header 'version' is 201 characters long, over the 200 the kit accepts"),
        ("note", "n" * 20_000, "header 'note' is 20,000 characters long, over the 4,096 the kit accepts"),
        ("vocabulary", ["Male", "F" * 300], "header 'vocabulary' holds a label of 300 characters, over the 200"),
        ("vocabulary", [f"L{i}" for i in range(101)], "header 'vocabulary' holds 101 labels, over the 200 characters"),
    ],
)
def test_a_predictions_header_value_too_long_to_print_is_refused_naming_the_line(
    tmp_path: Path, member: str, value: object, expected: str
) -> None:
    from conformance.adapters.predictions import PredictionsAnalyzer
    from conformance.errors import PredictionsError

    manifest, _ = _fault_runs().make_dataset(tmp_path / "data", 4)
    dataset = load_dataset(manifest)
    header = {"analyzer": "acme", "version": "1", "vocabulary": ["Male", "Female"], member: value}
    path = tmp_path / "vendor.jsonl"
    path.write_text(json.dumps(header) + "\n", encoding="utf-8")
    with pytest.raises(PredictionsError) as raised:
        PredictionsAnalyzer(path, dataset=dataset)
    assert str(raised.value).startswith(f"{path} line 1: {expected}")
    assert len(str(raised.value)) < 500  # the value itself is not in the message


def test_a_predictions_header_at_the_caps_is_accepted(tmp_path: Path) -> None:
    from conformance.adapters.predictions import PredictionsAnalyzer

    manifest, predictions = _fault_runs().make_dataset(tmp_path / "data", 4)
    dataset = load_dataset(manifest)
    header = {"analyzer": "a" * 200, "version": "v" * 200, "note": "n" * 4096, "vocabulary": ["Male", "Female"]}
    lines = predictions.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "vendor.jsonl"
    path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n", encoding="utf-8")
    analyzer = PredictionsAnalyzer(path, dataset=dataset)
    assert analyzer.name == "a" * 200
    assert analyzer.describe()["note"] == "n" * 4096
