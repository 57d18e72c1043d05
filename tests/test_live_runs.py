"""Live runs against the emulator: keeping to a vendor's rate, and losing nothing to faults or kills.

The emulator serves simulated answers on loopback; what is tested is the kit's bookkeeping. The fault
scenarios are those of scripts/fault_runs.py (whose full table is in docs/explanation/robustness.md),
with fewer photos. botocore's standard retry mode keeps these runs short; the table uses the default
(adaptive).
"""

from __future__ import annotations

import importlib.util
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters.base import AdapterSettings
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.adapters.registry import create
from conformance.dataset import load_dataset
from conformance.emulators import Faults, RekognitionEmulator, serve
from conformance.run.execution import ExecutorSpec
from conformance.run.runner import analyze_dataset

ROOT = Path(__file__).resolve().parents[1]


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("fault_runs", ROOT / "scripts" / "fault_runs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fault_runs"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


fault_runs = _script()


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "EMULATOR")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "EMULATOR")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")


def _arrivals(emulator: RekognitionEmulator) -> list[float]:
    """Record when each call reaches the emulator (its clock, not the client's)."""
    times: list[float] = []
    lock = threading.Lock()
    respond = emulator._respond  # what the server calls for each request

    def timed(target: str, body: bytes) -> Any:
        with lock:
            times.append(time.monotonic())
        return respond(target, body)

    emulator._respond = timed  # type: ignore[method-assign]
    return times


def _record(tmp_path: Path, photos: int, faults: Faults, **settings: Any) -> tuple[Any, Any, list[float]]:
    manifest, predictions = fault_runs.make_dataset(tmp_path / "data", photos)
    dataset = load_dataset(manifest)
    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset), faults=faults)
    arrivals = _arrivals(emulator)
    executor = ExecutorSpec.parse(settings.pop("executor", "threads:4"))
    with serve(emulator) as server:
        import os

        os.environ["AWS_ENDPOINT_URL_REKOGNITION"] = server.url
        try:
            analyzer = create(
                "rekognition",
                dataset=dataset,
                settings=AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "cassettes"), **settings),
            )
            observations = analyze_dataset(analyzer, dataset, executor=executor)
        finally:
            del os.environ["AWS_ENDPOINT_URL_REKOGNITION"]
    return observations, emulator.stats, arrivals


def test_a_run_at_the_quota_sustains_at_least_90_percent_of_it_and_loses_no_photo(
    environment: None, tmp_path: Path
) -> None:
    quota = 25.0
    # The emulator's bucket holds 5 calls: a service's quota absorbs the jitter of calls on their way.
    observations, stats, arrivals = _record(
        tmp_path, 100, Faults(max_rate=quota, burst=5), rate=quota, executor="threads:4"
    )
    assert observations.outcome_counts() == {"analysed": 100, "no_face": 0, "error": 0}
    # The sustained rate, on the emulator's clock: calls after the first over the time they took.
    rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    assert rate >= 0.9 * quota, f"sustained {rate:.1f} calls/s against a quota of {quota}"
    # And the client kept to the quota: the emulator refused (almost) nothing.
    assert stats.rate_throttled <= 0.05 * stats.calls


def test_a_run_faster_than_the_quota_is_throttled_retries_and_a_rerun_completes(
    environment: None, tmp_path: Path
) -> None:
    # No client-side rate (a loopback endpoint has no default): 8 threads against a quota of 20/s.
    observations, stats, _ = _record(tmp_path, 60, Faults(max_rate=20.0, burst=2), executor="threads:8")
    counts = observations.outcome_counts()
    assert stats.rate_throttled > 0  # the quota was met, and enforced
    assert sum(counts.values()) == 60  # every photo accounted for
    assert counts["error"] + counts["analysed"] == 60
    again, _, _ = _record(tmp_path, 60, Faults(), executor="serial")
    assert again.outcome_counts()["analysed"] == 60


# Faults that hit every call alike: the first run stops (exit 2, one message) instead of building verdicts on them.
# (The other non-answers of the script's table, a 200 with HTML and a bare 429, are run at a small scale in
# tests/test_rekognition_integrity.py.)
SYSTEMATIC = {"error-100", "unknown-100"}


@pytest.mark.parametrize(
    "scenario",
    [
        "throttle-50",
        "error-100",
        "reset-50",
        "slow-50",
        "proxy-502-30",
        "unknown-100",
        "kill-9",
        "ctrl-c",
    ],
)
def test_fault_scenarios_lose_no_photo_and_record_nothing_twice(
    environment: None, tmp_path: Path, scenario: str
) -> None:
    (chosen,) = [s for s in fault_runs.SCENARIOS if s.name == scenario]
    row = fault_runs.run_scenario(chosen, tmp_path, photos=45)
    assert row["lost"] == 0, row
    assert row["recorded_twice"] == 0, row
    assert row["non_answers_recorded"] == 0, row  # no proxy page, 5xx or undocumented error kept as an answer
    assert row["replay_analysed"] == 45, row
    if scenario in SYSTEMATIC:
        assert row["first_exit"] == 2, row
        assert row["first_message"].startswith("conformance: error: stopped: the "), row
        assert re.match(r"conformance: error: stopped: the (last|first) 20 photos all failed", row["first_message"]), (
            row
        )
        assert row["first_report"] == "-", row  # no verdict built on the failures
        assert row["calls_second"] == 45 - row["recorded_first"], row
    elif chosen.kill is None:
        assert row["first_report"] == "45 of 45", row  # the faulty run's report lists every photo
    else:
        assert 0 < row["recorded_first"] < 45, row  # killed midway, and what it recorded was kept
        assert row["calls_second"] == 45 - row["recorded_first"], row  # the re-run asked only for the rest


def test_the_interrupted_run_hears_ctrl_c_even_when_the_table_is_made_by_a_background_job() -> None:
    """The ctrl-c row said "NOT interrupted" whenever the script ran as a background job of a non-interactive
    shell: such a job starts with SIGINT ignored, its children inherit that, and a Python started so never
    installs its Ctrl-C handler. The script starts the interrupted run as a terminal does, SIGINT at default."""
    import shlex
    import subprocess

    probe = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    plain = shlex.join([sys.executable, "-c", probe])
    launched = shlex.join([sys.executable, "-c", fault_runs._AS_FROM_A_TERMINAL, "-c", probe])
    for command, heard in ((plain, "False"), (launched, "True")):
        # "&" in sh -c: a background job of a non-interactive shell, as "python scripts/fault_runs.py > log &" is
        done = subprocess.run(["sh", "-c", f"{command} & wait"], capture_output=True, text=True, timeout=60, check=True)
        assert done.stdout.strip() == heard, (command, done.stdout, done.stderr)


@pytest.mark.parametrize("executor", ["threads:8", "processes:2"])
def test_recording_with_an_executor_writes_each_answer_once_and_every_one_served(
    environment: None, tmp_path: Path, executor: str
) -> None:
    """Lines written = distinct images = calls the emulator answered, with 10 images under two names each.

    (vcrpy alone loses calls recorded from threads: this is what the kit's lock is for.)
    """
    import shutil

    manifest, predictions = fault_runs.make_dataset(tmp_path / "data", 40)
    rows = manifest.read_text().splitlines()
    lines = predictions.read_text().splitlines()
    for row in rows[1:11]:  # ten more photos, copies of the first ten under new names
        name = row.split(",")[0]
        copy = name.replace(".png", "-copy.png")
        shutil.copyfile(manifest.parent / name, manifest.parent / copy)
        rows.append(row.replace(name, copy, 1))
        lines.append(next(line for line in lines if f'"{name}"' in line).replace(name, copy))
    manifest.write_text("\n".join(rows) + "\n")
    predictions.write_text("\n".join(lines) + "\n")
    dataset = load_dataset(manifest)
    assert len(dataset) == 50
    assert len({p.digest for p in dataset.photos}) == 40
    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset))
    cassettes = tmp_path / "cassettes"
    settings = AdapterSettings(record_mode="once", cassette_dir=str(cassettes))
    import os

    from conformance.run.execution import Recipe

    with serve(emulator) as server:
        os.environ["AWS_ENDPOINT_URL_REKOGNITION"] = server.url
        try:
            analyzer = create("rekognition", dataset=dataset, settings=settings)
            observations = analyze_dataset(
                analyzer,
                dataset,
                executor=ExecutorSpec.parse(executor),
                recipe=lambda: Recipe("rekognition", settings, dataset),
            )
        finally:
            del os.environ["AWS_ENDPOINT_URL_REKOGNITION"]
    from conformance.recording.paths import recording_path

    recording = recording_path(dataset, cassettes, "rekognition.jsonl")
    keys = fault_runs._keys(recording)
    assert observations.outcome_counts()["analysed"] == 50
    assert len(keys) == len(set(keys)) == 40  # one line per distinct image
    # Every answer the emulator gave was written (a copy asked at once by two threads is paid twice at most).
    assert emulator.stats.served >= 40
    assert emulator.stats.served - 40 <= 10
    session_lines = [line for line in recording.read_text().splitlines() if line.startswith('{"session"')]
    assert len(session_lines) == 1
