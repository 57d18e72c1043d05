"""Injected-fault runs: record through the emulator with faults, then re-run; count what was lost.

For each scenario, on a copy of the first N photos of the shipped demo:

1. ``conformance run --record-mode once`` against the kit's emulator injecting the fault (throttling,
   server errors, connection resets, answers slower than ``--timeout``), or killed mid-recording
   (SIGKILL, or SIGINT as Ctrl-C sends);
2. the same command again against an emulator without faults;
3. a replay (``--record-mode none``, offline).

and checks: the first run's report (when the run was neither killed nor stopped) lists every photo as
analysed, no face or error; a fault hitting every call stops the first run with exit 2 and one message
(a systematic failure) instead; the re-run calls the service only for the photos the first run did not
record; the recording holds every request once and no non-answer (a proxy's page, a server fault, an
error Rekognition does not document for the operation); the replay analyses every photo. ``lost``
counts photos missing from a report of a run that was not stopped, recorded answers asked for again,
and photos the replay cannot analyse.

    python scripts/fault_runs.py                 # every scenario, 200 photos: the table in docs/
    python scripts/fault_runs.py --photos 60 --only throttle-50,kill-9
    AWS_RETRY_MODE=standard python scripts/fault_runs.py --rate-check 3   # the sustained rate at a quota

The emulator serves simulated answers (the demo's predictions): these runs test the kit's
bookkeeping, not any vendor. tests/test_fault_runs.py runs a few scenarios with fewer photos.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    faults: dict[str, Any] = field(default_factory=dict)
    kill: int | None = None  # a signal sent once a third of the photos are recorded
    timeout: float = 30.0


SCENARIOS = [
    Scenario("throttle-10", "10% of calls throttled", {"throttle_rate": 0.1}),
    Scenario("throttle-50", "50% of calls throttled", {"throttle_rate": 0.5}),
    Scenario("throttle-100", "every call throttled", {"throttle_rate": 1.0}),
    Scenario("error-10", "10% of calls fail with a 500", {"error_rate": 0.1}),
    Scenario("error-50", "50% of calls fail with a 500", {"error_rate": 0.5}),
    Scenario("error-100", "every call fails with a 500", {"error_rate": 1.0}),
    Scenario("reset-10", "10% of connections reset", {"reset_rate": 0.1}),
    Scenario("reset-50", "50% of connections reset", {"reset_rate": 0.5}),
    Scenario("reset-100", "every connection reset", {"reset_rate": 1.0}),
    Scenario("slow-10", "10% of answers 3 s late, timeout 0.5 s", {"slow_rate": 0.1, "slow_seconds": 3.0}, timeout=0.5),
    Scenario("slow-50", "50% of answers 3 s late, timeout 0.5 s", {"slow_rate": 0.5, "slow_seconds": 3.0}, timeout=0.5),
    Scenario("proxy-502-30", "30% of calls answered by a proxy's 502 HTML page", {"page_rate": 0.3}),
    Scenario("proxy-502-100", "every call answered by a proxy's 502 HTML page", {"page_rate": 1.0}),
    Scenario("bare-429-30", "30% of calls a bare 429 (no Rekognition error)", {"page_rate": 0.3, "page_status": 429}),
    Scenario("html-200-30", "30% of calls a 200 with an HTML body", {"page_rate": 0.3, "page_status": 200}),
    Scenario("unknown-100", "every call UnknownOperationException (a stand-in)", {"unknown_rate": 1.0}),
    Scenario("kill-9", "process killed (SIGKILL) a third of the way", {}, kill=signal.SIGKILL),
    Scenario("ctrl-c", "Ctrl-C (SIGINT) a third of the way", {}, kill=signal.SIGINT),
]


def make_dataset(folder: Path, photos: int) -> tuple[Path, Path]:
    """The first ``photos`` rows of the demo, with their images and predictions, copied into ``folder``."""
    from conformance.demo import MANIFEST

    source = Path(MANIFEST).parent
    rows = source.joinpath("manifest.csv").read_text(encoding="utf-8").splitlines()
    kept = rows[1 : photos + 1]
    (folder / "images").mkdir(parents=True, exist_ok=True)
    names = set()
    for row in kept:
        name = row.split(",")[0]
        names.add(name)
        shutil.copyfile(source / name, folder / name)
    (folder / "manifest.csv").write_text("\n".join([rows[0], *kept]) + "\n", encoding="utf-8")
    lines = source.joinpath("predictions.jsonl").read_text(encoding="utf-8").splitlines()
    chosen = [lines[0]] + [line for line in lines[1:] if json.loads(line).get("photo") in names]
    (folder / "predictions.jsonl").write_text("\n".join(chosen) + "\n", encoding="utf-8")
    return folder / "manifest.csv", folder / "predictions.jsonl"


def _non_answers(recording: Path) -> int:
    """Recorded interactions that are not Rekognition's answers (the adapter's own rule, applied afterwards)."""
    from conformance.adapters.rekognition_answers import judge

    if not recording.exists():
        return 0
    count = 0
    for line in recording.read_text(encoding="utf-8").splitlines():
        if line.startswith('{"key": "'):
            record = json.loads(line)
            response = record["response"]
            as_live = {**response, "body": {"string": response["body"].encode()}}
            count += bool(judge(record["operation"], as_live))
    return count


def _keys(recording: Path) -> list[str]:
    if not recording.exists():
        return []
    return [line[9:73] for line in recording.read_text(encoding="utf-8").splitlines() if line.startswith('{"key": "')]


# A non-interactive shell starts a background job (``python scripts/fault_runs.py > log &``) with SIGINT
# ignored, its children inherit that, and a Python started with SIGINT ignored never installs its Ctrl-C
# handler: the run then does not hear the Ctrl-C this script sends (the ctrl-c row said "NOT interrupted"
# whenever the table was made in the background; ``timeout`` puts SIGINT back to default, which is why
# runs under it were interrupted). A user's Ctrl-C reaches a run started from a terminal, SIGINT at its
# default: so the run under test is started that way, whatever started this script.
_AS_FROM_A_TERMINAL = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def _disposition(pid: int, signum: int) -> str:
    """What process ``pid`` does with signal ``signum`` now: ``caught``, ``ignored``, ``blocked`` or ``default``.

    From ``/proc/PID/status`` (Linux; ``unknown`` elsewhere). A process started with a signal ignored
    keeps it ignored unless it installs a handler: Python installs its Ctrl-C handler only when SIGINT
    is not ignored at start, and a non-interactive shell starts a background job with SIGINT ignored.
    """
    try:
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines()
        )
    except (OSError, ValueError):
        return "unknown"
    bit = 1 << (signum - 1)
    for name, key in (("caught", "SigCgt"), ("ignored", "SigIgn"), ("blocked", "SigBlk")):
        if int(fields.get(key, "0").strip() or "0", 16) & bit:
            return name
    return "default"


def _report(folder: Path) -> dict[str, Any] | None:
    path = folder / "report.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def run_scenario(scenario: Scenario, workdir: Path, photos: int, executor: str = "threads:4") -> dict[str, Any]:
    """Run one scenario in ``workdir``; returns the row of the table (and the evidence behind it)."""
    from conformance.adapters.predictions import PredictionsAnalyzer
    from conformance.dataset import load_dataset
    from conformance.emulators import Faults, RekognitionEmulator, serve
    from conformance.recording.paths import recording_path

    manifest, predictions = make_dataset(workdir / "data", photos)
    dataset = load_dataset(manifest)
    cassettes = workdir / "cassettes"
    recording = recording_path(dataset, cassettes, "rekognition.jsonl")

    def command(report: str, mode: str, timeout: float) -> list[str]:
        return [
            sys.executable, "-m", "conformance", "run", "--dataset", str(manifest), "--analyzer", "rekognition",
            "--cassette-dir", str(cassettes), "--record-mode", mode, "--report-dir", str(workdir / report),
            "--executor", executor, "--timeout", str(timeout), "--no-progress",
        ]  # fmt: skip

    def emulator(faults: dict[str, Any]) -> Any:
        return RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset), faults=Faults(**faults))

    base = dict(os.environ, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="EMULATOR", AWS_SECRET_ACCESS_KEY="EMULATOR")
    first = emulator(scenario.faults)
    started = time.perf_counter()
    with serve(first) as server:
        env = {**base, "AWS_ENDPOINT_URL_REKOGNITION": server.url}
        message = ""
        signalled = None  # a kill scenario: whether the signal reached a run still going
        disposition = None  # and what the run did with that signal when it was sent: caught, ignored, default
        if scenario.kill is None:
            done = subprocess.run(command("first", "once", scenario.timeout), env=env, capture_output=True, text=True)
            exit_first = done.returncode
            # A stopped run's one message (a systematic failure), else nothing.
            message = next((line for line in done.stderr.splitlines() if line.startswith("conformance: error:")), "")
        else:
            # Slow the recording down so it can be caught a third of the way; start it as a terminal starts a
            # foreground command, with Ctrl-C at its default (see _AS_FROM_A_TERMINAL).
            run = command("first", "once", scenario.timeout)
            args = [sys.executable, "-c", _AS_FROM_A_TERMINAL, *run[1:], "--rate", "50"]
            process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            while len(_keys(recording)) < photos // 3 and process.poll() is None:
                time.sleep(0.02)
            # On a busy machine this loop may not run for seconds: a run that ended meanwhile was not
            # interrupted, and its row says so rather than passing for an interrupted one.
            signalled = process.poll() is None
            disposition = _disposition(process.pid, scenario.kill)
            process.send_signal(scenario.kill)
            process.wait(timeout=60)
            exit_first = process.returncode
    first_seconds = time.perf_counter() - started
    report = _report(workdir / "first")
    recorded_first = set(_keys(recording))
    accounted = None if report is None else len(report["photos"])
    outcomes = None if report is None else report["outcomes"]

    second = emulator({})
    with serve(second) as server:
        env = {**base, "AWS_ENDPOINT_URL_REKOGNITION": server.url}
        done = subprocess.run(command("second", "once", 30.0), env=env, capture_output=True, text=True)
        calls_second = second.stats.calls
    keys = _keys(recording)
    subprocess.run(command("replay", "none", 30.0), env=base, capture_output=True, text=True)
    final = _report(workdir / "replay")
    analysed = 0 if final is None else final["outcomes"].get("analysed", 0)
    lost = (
        (0 if accounted is None else photos - accounted)  # photos missing from the first run's report
        + max(0, calls_second - (photos - len(recorded_first)))  # recorded answers asked for again
        + (photos - analysed)  # photos the replay cannot analyse
    )
    return {
        "scenario": scenario.name,
        "faults": scenario.what,
        "photos": photos,
        "first_exit": exit_first,
        "signalled": signalled,
        "disposition": disposition,
        "first_report": "-" if report is None else f"{accounted} of {photos}",
        "first_outcomes": outcomes,
        "recorded_first": len(recorded_first),
        "calls_second": calls_second,
        "second_exit": done.returncode,
        "recorded_twice": len(keys) - len(set(keys)),
        "non_answers_recorded": _non_answers(recording),
        "first_message": message,
        "replay_analysed": analysed,
        "lost": lost,
        "first_seconds": round(first_seconds, 1),
        # Answers the emulator gave that never reached the recording (a timed-out slow answer, calls in
        # flight when the process died): paid for, not kept, asked again by the re-run.
        "answered_not_kept": first.stats.served - len(recorded_first),
        "injected": {k: v for k, v in vars(first.stats).items() if v} if hasattr(first.stats, "__dict__") else {},
    }


def rate_check(workdir: Path, quota: float = 25.0, photos: int = 100, executor: str = "threads:4") -> dict[str, Any]:
    """Record ``photos`` with ``--rate quota`` against the emulator throttling above ``quota`` calls/s.

    The sustained rate is measured on the emulator's clock: calls after the first over the time between
    the first call's arrival and the last's.
    """
    import threading

    from conformance.adapters.base import AdapterSettings
    from conformance.adapters.predictions import PredictionsAnalyzer
    from conformance.adapters.registry import create
    from conformance.dataset import load_dataset
    from conformance.emulators import Faults, RekognitionEmulator, serve
    from conformance.run.execution import ExecutorSpec
    from conformance.run.runner import analyze_dataset

    manifest, predictions = make_dataset(workdir / "data", photos)
    dataset = load_dataset(manifest)
    emulator = RekognitionEmulator(
        dataset, PredictionsAnalyzer(predictions, dataset=dataset), faults=Faults(max_rate=quota, burst=5)
    )
    arrivals: list[float] = []
    lock = threading.Lock()
    respond = emulator._respond

    def timed(target: str, body: bytes) -> Any:
        with lock:
            arrivals.append(time.monotonic())
        return respond(target, body)

    emulator._respond = timed  # type: ignore[method-assign]
    for name, value in (
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "EMULATOR"),
        ("AWS_SECRET_ACCESS_KEY", "EMULATOR"),
    ):
        os.environ.setdefault(name, value)  # placeholders: the emulator checks no signature
    with serve(emulator) as server:
        os.environ["AWS_ENDPOINT_URL_REKOGNITION"] = server.url
        try:
            settings = AdapterSettings(record_mode="once", cassette_dir=str(workdir / "cassettes"), rate=quota)
            analyzer = create("rekognition", dataset=dataset, settings=settings)
            observations = analyze_dataset(analyzer, dataset, executor=ExecutorSpec.parse(executor))
        finally:
            del os.environ["AWS_ENDPOINT_URL_REKOGNITION"]
    return {
        "quota": quota,
        "sustained": round((len(arrivals) - 1) / (arrivals[-1] - arrivals[0]), 2),
        "outcomes": observations.outcome_counts(),
        "throttled": emulator.stats.rate_throttled,
        "calls": emulator.stats.calls,
    }


def table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| scenario | faults | photos | first run's report | recorded by it | answered, not kept | calls of the re-run "
        "| recorded twice | non-answers recorded | lost |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        outcomes = row["first_outcomes"]
        report = row["first_report"]
        if outcomes:
            report += f" ({outcomes.get('analysed', 0)} analysed, {outcomes.get('error', 0)} error)"
            if row.get("signalled") is False:
                report += ", finished before the signal was sent"
            elif row.get("signalled"):
                report += (
                    f", NOT interrupted: the signal was sent (the run's disposition of it: "
                    f"{row.get('disposition') or 'unknown'}) and the run went on to exit {row['first_exit']}"
                )
        elif row.get("first_message"):
            report += f" (stopped, exit {row['first_exit']}: systematic failure)"
        elif row["first_exit"] in (130, 143):  # the kit's own exit on Ctrl-C or SIGTERM, what it kept said
            report += f" (interrupted, exit {row['first_exit']})"
        elif row["first_exit"] is not None:
            report += f" (killed, exit {row['first_exit']})"
        out.append(
            f"| {row['scenario']} | {row['faults']} | {row['photos']} | {report} | {row['recorded_first']} | "
            f"{row['answered_not_kept']} | {row['calls_second']} | {row['recorded_twice']} | "
            f"{row['non_answers_recorded']} | {row['lost']} |"
        )
    return "\n".join(out)


def main() -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--only", help="comma-separated scenario names")
    parser.add_argument("--executor", default="threads:4")
    parser.add_argument(
        "--rate-check", type=int, metavar="RUNS", help="instead: RUNS runs at --rate 25 against a quota of 25 calls/s"
    )
    args = parser.parse_args()
    if args.rate_check:
        for _ in range(args.rate_check):
            with tempfile.TemporaryDirectory() as tmp:
                print(json.dumps(rate_check(Path(tmp), executor=args.executor)))
        return 0
    wanted = set(args.only.split(",")) if args.only else None
    rows = []
    for scenario in SCENARIOS:
        if wanted and scenario.name not in wanted:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            row = run_scenario(scenario, Path(tmp), args.photos, args.executor)
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    print(table(rows))
    print(
        f"\nMachine: {platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; executor {args.executor}; botocore retry mode "
        f"{os.environ.get('AWS_RETRY_MODE') or 'adaptive'}, attempts {os.environ.get('AWS_MAX_ATTEMPTS') or 'default (3)'}."
    )
    ok = all(
        row["lost"] == 0
        and row["recorded_twice"] == 0
        and row["non_answers_recorded"] == 0
        and not (row.get("signalled") is not None and row["first_report"] != "-")  # a kill that killed nothing
        for row in rows
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
