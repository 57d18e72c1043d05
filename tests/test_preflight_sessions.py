"""Each recording session line carries the data-protection preflight that let its calls leave (review of issue 17, F4).

Before, the preflight was only in the report of the run that made it (``analyzer.retention_preflight``): a live
sequential run interrupted after some looks went live, then resumed against the same recording, gave a report
holding the resumed run's preflight alone; what the first run found about the opt-out policy, whether it was
given --accept-vendor-retention, and the calls it made were in no report.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber
from builders import SEQUENTIAL_DEMO_RECORDING

from conformance import load_dataset
from conformance.adapters import rekognition
from conformance.adapters.base import AdapterSettings, SessionPlan
from conformance.adapters.registry import create
from conformance.cli import main
from conformance.demo import MANIFEST, PREDICTIONS
from conformance.recording.sessions import report_sessions
from conformance.recording.store import RecordingStore
from conformance.retention import OPT_OUT_POLICY


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Placeholder credentials, and TLS checked against botocore's own bundle (a machine's own makes no endpoint AWS's)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "TESTING")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "TESTING")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "AWS_ENDPOINT_URL_ORGANIZATIONS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


_MADE = rekognition._organizations_client  # as the adapter makes it


def _organizations(monkeypatch: pytest.MonkeyPatch, *, opted_out: bool) -> None:
    """The preflight's Organizations client, made as the adapter makes it (AWS's own endpoint), answering through
    botocore's Stubber: an opt-out policy for Rekognition in force, or no policy at all."""

    def stubbed() -> Any:
        client = _MADE()
        stubber = Stubber(client)
        if opted_out:
            body = json.dumps({"services": {"rekognition": {"opt_out_policy": {"@@assign": "optOut"}}}})
            stubber.add_response(
                "describe_effective_policy",
                {"EffectivePolicy": {"PolicyContent": body, "PolicyType": OPT_OUT_POLICY, "TargetId": "123456789012"}},
                {"PolicyType": OPT_OUT_POLICY},
            )
        else:
            stubber.add_client_error(
                "describe_effective_policy",
                service_error_code="EffectivePolicyNotFoundException",
                expected_params={"PolicyType": OPT_OUT_POLICY},
            )
        stubber.activate()
        return client

    monkeypatch.setattr(rekognition, "_organizations_client", stubbed)


def _lines(recording: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in recording.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- the session line is in the recording when the preflight has run, before any call leaves ----------------------


def test_the_session_line_with_its_preflight_is_in_the_recording_before_the_first_call_leaves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A non-loopback endpoint whose every connection is refused: nothing can be answered, so before this fix the
    # session line (written with the first recorded answer) was never written, and a killed run left no trace of
    # its preflight, though its first photos were on their way.
    import socket

    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "https://rekognition.invalid")

    def refuse(self: socket.socket, address: Any) -> None:
        raise OSError(f"test guard: network blocked ({address})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    _organizations(monkeypatch, opted_out=True)
    dataset = load_dataset(MANIFEST)
    settings = AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "cassettes"), allow_live=True)
    analyzer: Any = create("rekognition", dataset=dataset, settings=settings)
    killed = tmp_path / "as-a-killed-run-left-it.jsonl"
    with analyzer.session(SessionPlan()):
        # What a run killed here (after the preflight, before any answer) leaves on disk.
        shutil.copyfile(analyzer.recording, killed)
    header, line = _lines(killed)
    assert header["recording"] == "conformance"
    record = line["session"]["retention_preflight"]
    assert record["opted_out"] is True
    assert record["accepted_retention"] is False
    assert record["calls_max"] == 600  # every photo of the demo, none recorded yet
    assert record["opt_out_source"] == {"endpoint": "https://organizations.us-east-1.amazonaws.com", "class": "aws"}
    # Read as a report reads it: the preflight, and no count of the calls made (the session never said).
    with RecordingStore.open(killed, adapter="rekognition") as store:
        [entry] = report_sessions(store.sessions, session_class=lambda s: str(s["endpoint_class"]), sdk=("botocore",))
    assert entry["retention_preflight"]["opted_out"] is True
    assert entry["retention_preflight"]["calls_made"] is None
    assert "ended" not in line["session"]
    assert entry["ended"] is None
    # The session that ended says it sent nothing.
    *_, end = _lines(analyzer.recording)
    assert end == {"session_end": {"ended": end["session_end"]["ended"], "interactions": 0, "calls_made": 0}}


def test_a_session_line_of_an_older_kit_reads_as_not_recorded_and_a_local_one_as_no_preflight(tmp_path: Path) -> None:
    recording = tmp_path / "rekognition.jsonl"
    common = {"started": "2026-12-01T10:00:00Z", "endpoint": "http://127.0.0.1:8123", "endpoint_class": "emulator"}
    lines = [
        {"recording": "conformance", "format": 1, "adapter": "rekognition", "note": ""},
        {"session": common},  # an older kit's: no retention_preflight at all
        {"session_end": {"ended": "2026-12-01T10:01:00Z", "interactions": 0}},
        {"session": {**common, "retention_preflight": None}},  # this kit's, its calls stayed on this machine
        {"session_end": {"ended": "2026-12-01T10:02:00Z", "interactions": 0, "calls_made": 3}},
    ]
    recording.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with RecordingStore.open(recording, adapter="rekognition") as store:
        older, local = report_sessions(store.sessions, session_class=lambda s: str(s["endpoint_class"]), sdk=())
    assert older["retention_preflight"] == "not recorded"
    assert local["retention_preflight"] is None


def test_the_preflight_in_a_session_line_holds_no_credential_nor_account_id(tmp_path: Path) -> None:
    from conformance.recording.recorder import Recorder

    recorder = Recorder(
        dataset=load_dataset(MANIFEST),
        cassette_dir=tmp_path,
        record_mode="once",
        adapter="rekognition",
        version="1",
        filename="rekognition.jsonl",
        note="",
        vendor_host=r"rekognition\.[a-z0-9-]+\.amazonaws\.com",
        sdk=("botocore",),
    )
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    # AWS's documented example access key id, put together here so that no key-shaped literal sits in the tree.
    key_id = "AKIA" + "IOSFODNN7EXAMPLE"
    recorder.secrets = (secret,)
    recorder.preflight = {
        "detail": f"AWS Organizations answered AccessDenied for account 123456789012 (key {key_id}, {secret})",
        "opt_out_source": {
            "endpoint": "http://127.0.0.1:4566",
            "class": "loopback",
            "proxy": "http://me:pw@10.0.0.1:3128",
        },
        "accepted_retention": True,
        "calls": 600,
        "target": 123456789012,
    }
    line = recorder.begin_session({"endpoint": "https://rekognition.us-east-1.amazonaws.com"})
    written = json.dumps(line)
    for leaked in ("123456789012", key_id, secret, "me:pw"):
        assert leaked not in written
    record = line["retention_preflight"]
    assert record["detail"] == (
        "AWS Organizations answered AccessDenied for account ACCOUNT (key [redacted], [redacted])"
    )
    assert record["opt_out_source"]["proxy"] == "http://[redacted]@10.0.0.1:3128"
    assert (record["accepted_retention"], record["calls"], record["target"]) == (True, 600, "ACCOUNT")


# -- interrupted, then resumed: the report lists each session's preflight -----------------------------------------


@pytest.fixture
def emulator_not_on_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The kit's emulator, reached as http://127.1:PORT: a name the kit does not take for loopback (it resolves no
    names to decide), so the calls are gated as live ones, with --allow-live and the preflight, as AWS's would be."""
    from conformance.adapters.predictions import PredictionsAnalyzer
    from conformance.emulators import RekognitionEmulator, serve

    dataset = load_dataset(MANIFEST)
    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(PREDICTIONS, dataset=dataset))
    with serve(emulator) as server:
        url = f"http://127.1:{server.port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", url)
        yield url


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, answers: int) -> None:
    """Ctrl-C as the ``answers``-th live call's answer comes back (recorded as it came)."""
    send = rekognition.RekognitionAnalyzer._send
    count = {"live": 0}

    def counted(self: Any, method: str, params: Any, *, live: bool) -> Any:
        answer = send(self, method, params, live=live)
        count["live"] += live
        if live and count["live"] == answers:
            raise KeyboardInterrupt
        return answer

    monkeypatch.setattr(rekognition.RekognitionAnalyzer, "_send", counted)


def test_a_resumed_runs_report_lists_the_interrupted_runs_preflight_per_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator_not_on_loopback: str
) -> None:
    """A sequential run with the opt-out in force, interrupted at look 2 after 150 answers, resumed with no opt-out
    policy in force and --accept-vendor-retention: the resumed run's report shows both runs' preflights.

    The demo's first look is 115 photos (test_retention), the run stops at look 2, 249 photos (test_sequential_rt17d).
    So the first run's sessions sent 115 (look 1) and 35 (look 2, to 150); the resumed run's one session (look 1 is
    all recorded: replayed, no session) the other 249 - 150 = 99, planning at most 600 - 150 = 450.
    """
    monkeypatch.chdir(tmp_path)
    command = [*SEQUENTIAL_DEMO_RECORDING, "--record-mode", "once", "--allow-live"]
    _organizations(monkeypatch, opted_out=True)
    send = rekognition.RekognitionAnalyzer._send
    _interrupt_after(monkeypatch, 150)
    assert main([*command, "--report-dir", "first"]) == 130  # interrupted: no report
    assert not (tmp_path / "first" / "report.json").exists()

    monkeypatch.setattr(rekognition.RekognitionAnalyzer, "_send", send)  # the calls go through again
    _organizations(monkeypatch, opted_out=False)
    assert main([*command, "--accept-vendor-retention", "--report-dir", "resumed"]) == 1  # the demo fails
    report = json.loads((tmp_path / "resumed" / "report.json").read_text())
    assert report["sequential"]["photos_sent"] == 249

    sessions = report["analyzer"]["recording_sessions"]
    assert [s["interactions"] for s in sessions] == [115, 35, 99]
    preflights = [s["retention_preflight"] for s in sessions]
    assert [p["calls_made"] for p in preflights] == [115, 35, 99]
    assert [p["opted_out"] for p in preflights] == [True, True, False]
    assert [p["accepted_retention"] for p in preflights] == [False, False, True]
    assert [p["calls_max"] for p in preflights] == [600, 600, 450]
    assert "no AI services opt-out policy is in force" in preflights[2]["detail"]
    # The run's own record, as before: the resumed run's preflight and the calls it made.
    own = report["analyzer"]["retention_preflight"]
    assert (own["accepted_retention"], own["calls_made"], own["calls_max"]) == (True, 99, 450)

    # In the file: each session line states its preflight when it is written; what the first answer said of the
    # emulator (a claim without the proof: 127.1 gets no nonce) is in the session's end line.
    [recording] = (tmp_path / "cassettes").rglob("rekognition.jsonl")
    lines = _lines(recording)
    begun = [line["session"] for line in lines if "session" in line]
    ended = [line["session_end"] for line in lines if "session_end" in line]
    assert [b["retention_preflight"]["accepted_retention"] for b in begun] == [False, False, True]
    assert all("emulator_claim" not in b for b in begun)
    assert [e["emulator_claim"] for e in ended] == ["unverified"] * 3
    assert [s.get("emulator_claim") for s in sessions] == ["unverified"] * 3
