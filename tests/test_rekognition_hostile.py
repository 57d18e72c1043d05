"""Hostile endpoints and environments around the rekognition adapter (issue 15, items 5, 6, 7, 11, 15).

Each item is tried as an outsider tried it: credentials in the endpoint's URL, account ids where no
ARN is, an endpoint that drip-feeds its answer, a machine whose AWS configuration is broken, a
recording path that is a dangling symbolic link, and a photo whose largest face is not the subject's.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance import ConformanceError, Dataset, load_dataset
from conformance.adapters.base import AdapterSettings
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.adapters.registry import create
from conformance.emulators import RekognitionEmulator, serve
from conformance.recording.paths import recording_path
from conformance.recording.scrub import redact, scrub_url
from conformance.run.runner import analyze_dataset

MakeManifest = Callable[..., Path]
ROWS = [
    {"photo": "img/a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
    {"photo": "img/b.png", "subject": "s2", "gender_identity": "man", "trans": "yes"},
]


def write_jsonl(path: Path, lines: Sequence[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def predictions(path: Path) -> Path:
    return write_jsonl(
        path,
        [
            {"analyzer": "stand-in", "version": "1", "vocabulary": ["Male", "Female"]},
            {"photo": "img/a.png", "faces": [{"gender": "Female", "confidence": 91.0, "box": [0.2, 0.2, 0.5, 0.5]}]},
            {"photo": "img/b.png", "faces": [{"gender": "Female", "confidence": 77.0, "box": [0.2, 0.2, 0.5, 0.5]}]},
        ],
    )


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


@pytest.fixture
def dataset(make_manifest: MakeManifest) -> Dataset:
    return load_dataset(make_manifest(ROWS))


def run(data: Dataset, cassettes: Path, mode: str, **settings: Any) -> Any:
    analyzer = create(
        "rekognition", dataset=data, settings=AdapterSettings(record_mode=mode, cassette_dir=str(cassettes), **settings)
    )
    return analyze_dataset(analyzer, data)


# -- item 5: secrets in the endpoint URL, account ids outside ARNs ----------------------------------------

URL_USER, URL_PASSWORD, URL_KEY = "audit-user", "hunter2-url-password", "apikey-1234567890abcdef"


def _run_against(data: Dataset, url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "conformance", "run", "--no-progress", "--dataset", str(data.manifest)]
    command += ["--analyzer", "rekognition", "--record-mode", "once", "--cassette-dir", str(tmp_path / "cassettes")]
    command += ["--report-dir", str(tmp_path / "report"), "--checks", "misgender_gap"]
    return subprocess.run(
        command,
        cwd=tmp_path,
        env={**os.environ, "AWS_ENDPOINT_URL_REKOGNITION": url},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_credentials_in_the_endpoint_url_reach_no_file_and_no_message(dataset: Dataset, tmp_path: Path) -> None:
    data = dataset
    emulator = RekognitionEmulator(data, PredictionsAnalyzer(predictions(tmp_path / "p.jsonl"), dataset=data))
    with serve(emulator) as server:
        host = server.url.removeprefix("http://")
        # A user and password before the host are refused since red team 17c (an '@' can hide the host urllib3
        # sends to): nothing is sent, and the refusal does not repeat them.
        (tmp_path / "u").mkdir()
        refused = _run_against(data, f"http://{URL_USER}:{URL_PASSWORD}@{host}/?apikey={URL_KEY}", tmp_path / "u")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "AWS_ENDPOINT_URL_REKOGNITION is not a plain URL" in refused.stderr
        assert emulator.stats.served == 0
        for secret in (URL_USER, URL_PASSWORD, URL_KEY):
            assert secret not in refused.stdout + refused.stderr
        # A key in the query is still sent (the URL is plain) and never written down.
        done = _run_against(data, f"http://{host}/?apikey={URL_KEY}", tmp_path)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert emulator.stats.served == 2  # the URL did reach the endpoint
    written = [
        p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".jsonl", ".json", ".md", ".html", ".xml")
    ]
    recording = recording_path(data, tmp_path / "cassettes", "rekognition.jsonl")
    assert recording in written
    for secret in (URL_USER, URL_PASSWORD, URL_KEY):
        for path in [*written, *(p for p in (tmp_path / "report").iterdir() if p.is_file())]:
            if path.name != "p.jsonl":
                assert secret not in path.read_text(encoding="utf-8", errors="replace"), f"{secret} in {path}"
        assert secret not in done.stdout + done.stderr
    session = next(json.loads(line)["session"] for line in recording.read_text().splitlines() if '"session"' in line)
    assert session["endpoint"] == f"http://{host}/?redacted"
    report = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert report["analyzer"]["recording_sessions"][0]["endpoint"] == f"http://{host}/?redacted"


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://rekognition.us-east-1.amazonaws.com", "https://rekognition.us-east-1.amazonaws.com"),
        ("http://u:p@127.0.0.1:8123/", "http://redacted@127.0.0.1:8123/"),
        (
            "http://token@proxy.example:3128/x?key=K&b=2#frag",
            "http://redacted@proxy.example:3128/x?redacted#redacted",
        ),
        ("http://[::1]:9000/?apikey=K", "http://[::1]:9000/?redacted"),
        ("http://redacted@127.0.0.1:8123/?redacted", "http://redacted@127.0.0.1:8123/?redacted"),
    ],
)
def test_scrub_url_keeps_scheme_host_port_and_path_only(url: str, kept: str) -> None:
    assert scrub_url(url) == kept


def test_messages_lose_url_credentials_and_bare_account_ids_but_keep_ids_that_only_look_like_them() -> None:
    text = (
        'Could not connect to "http://user:pass@10.0.0.1:8080/?apikey=SECRET&x=1": account 123456789012, '
        "request conformance-emulator-000000000001, face 6f1c2a3b-1d2e-4f5a-8b9c-123456789012, 0.123456789012"
    )
    cleaned = redact(text)
    assert "user:pass" not in cleaned
    assert "SECRET" not in cleaned
    assert "http://[redacted]@10.0.0.1:8080/?apikey=[redacted]&x=1" in cleaned
    assert "account ACCOUNT," in cleaned
    # A request id's, a UUID's and a decimal's twelve digits are not account ids.
    assert "conformance-emulator-000000000001" in cleaned
    assert "123456789012," in cleaned.split("face ")[1]
    assert cleaned.endswith("0.123456789012")


class _Endpoint:
    """A loopback endpoint that is not Rekognition, answering every call with one canned response."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(status)
                for name, value in {"Content-Type": "application/x-amz-json-1.1", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_account_ids_a_hostile_endpoint_puts_in_bodies_and_headers_are_not_recorded(
    dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = "210987654321"
    # Inside the answer's own member: a member outside DetectFaces's output shape is dropped whole.
    face = {
        "BoundingBox": {"Width": 0.5, "Height": 0.5, "Left": 0.2, "Top": 0.2},
        "Confidence": 99.0,
        "Gender": {"Value": "Female", "Confidence": 90.0},
    }
    body = {
        "FaceDetails": [
            {**face, "Owner": account, "Billing": {"AccountId": int(account), "Note": f"charged to account {account}"}}
        ]
    }
    endpoint = _Endpoint(200, {"x-amz-account-id": account, "x-owner": f"acct:{account}"}, json.dumps(body).encode())
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", endpoint.url)
        observations = run(dataset, tmp_path / "cassettes", "once")
    finally:
        endpoint.close()
    assert observations.outcome_counts()["analysed"] == 2
    recording = recording_path(dataset, tmp_path / "cassettes", "rekognition.jsonl")
    text = recording.read_text(encoding="utf-8")
    assert account not in text
    response = next(json.loads(line)["response"] for line in text.splitlines() if line.startswith('{"key"'))
    assert response["headers"]["x-amz-account-id"] == "ACCOUNT"
    assert response["headers"]["x-owner"] == "acct:ACCOUNT"
    recorded = json.loads(response["body"])["FaceDetails"][0]  # still JSON: the number became the string "ACCOUNT"
    assert (recorded["Owner"], recorded["Billing"]["AccountId"]) == ("ACCOUNT", "ACCOUNT")
    assert recorded["Billing"]["Note"] == "charged to account ACCOUNT"
    assert {name: recorded[name] for name in face} == face


# -- item 6: --timeout bounds a call's whole time ----------------------------------------------------------


class _Dripper:
    """A socket server answering with a well-formed HTTP response, one byte a second, for ever (nearly)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.sent = 0
        self.stop = threading.Event()
        body = json.dumps({"FaceDetails": []}).encode() + b" " * 200
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {len(body)}\r\n\r\n"
        self.response = head.encode() + body  # about 300 bytes: five minutes at one a second
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                connection.recv(65536)
                for byte in self.response:
                    if self.stop.wait(1.0):
                        return
                    connection.sendall(bytes([byte]))
                    self.sent += 1
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def test_an_endpoint_drip_feeding_its_answer_does_not_hold_a_run_past_its_timeout(
    make_manifest: MakeManifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = load_dataset(make_manifest(ROWS[:1]))
    dripper = _Dripper()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", dripper.url)
        began = time.monotonic()
        analyzer = create(
            "rekognition",
            dataset=data,
            settings=AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "cassettes"), timeout=2.0),
        )
        # The only photo failing would stop the run (rt14d F5: every photo failing alike, at any size): read its error.
        observations = analyze_dataset(analyzer, data, systematic_failures=0)
        took = time.monotonic() - began
    finally:
        dripper.close()
    (record,) = observations.records
    assert record.outcome == "error"
    assert record.reason == (
        "ConnectionError: no complete answer within --timeout 2 s (it bounds each attempt's whole time, not only "
        "each read), after retries; run again to resume"
    )
    # Every read got its byte within the 2 s read timeout: only a bound on the whole call ends it. The answer
    # would have taken over 300 s; the run ended long before (a hang guard, not a timing measurement).
    assert dripper.sent < len(dripper.response)
    assert took < 60


# -- item 7: a replay reads no AWS configuration ----------------------------------------------------------


# Settings botocore reads from the environment that stopped a replay's client being made (red team 15c).
BROKEN_ENVIRONMENT = {
    "endpoint-url-for-the-service": ("AWS_ENDPOINT_URL_REKOGNITION", "not a url"),
    "endpoint-url": ("AWS_ENDPOINT_URL", "http://[::1"),
    "defaults-mode": ("AWS_DEFAULTS_MODE", "bogus"),
}


@pytest.mark.parametrize("broken", ["missing-profile", "malformed-config", *BROKEN_ENVIRONMENT])
def test_the_offline_demo_replays_whatever_the_aws_configuration_says(tmp_path: Path, broken: str) -> None:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(home)
    if broken == "missing-profile":
        env["AWS_PROFILE"] = "no-such-profile"
    elif broken in BROKEN_ENVIRONMENT:
        name, value = BROKEN_ENVIRONMENT[broken]
        env[name] = value
    else:
        (home / ".aws" / "config").write_text("[default\nregion = \n[profile x]]\n= broken\n", encoding="utf-8")
        (home / ".aws" / "credentials").write_text("not [ini\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--no-progress", "--report-dir", str(tmp_path / "report")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # the demo's checks ran, and fail as shipped
    assert "Traceback" not in done.stderr
    assert "600 photos: 600 analysed" in done.stderr
    assert (tmp_path / "report" / "report.json").exists()


def test_recording_with_a_broken_aws_configuration_says_what_and_the_way_out(
    dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "http://127.0.0.1:9")
    with pytest.raises(ConformanceError) as excinfo:
        run(dataset, tmp_path / "cassettes", "once")
    message = str(excinfo.value)
    assert "the AWS configuration cannot be read to record" in message
    assert "no-such-profile" in message
    assert "--record-mode none" in message


# -- item 11: a recording path that is a symbolic link out of the cassette folder --------------------------


def test_a_dangling_symlink_as_the_recording_is_refused_and_nothing_is_created_outside(
    dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassettes = tmp_path / "cassettes"
    recording = recording_path(dataset, cassettes, "rekognition.jsonl")
    recording.parent.mkdir(parents=True)
    outside = tmp_path / "elsewhere" / "planted.jsonl"
    outside.parent.mkdir()
    recording.symlink_to(outside)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "http://127.0.0.1:9")
    with pytest.raises(ConformanceError) as excinfo:
        run(dataset, cassettes, "once")
    assert str(excinfo.value) == (
        f"{recording} is a symbolic link to {outside}, which does not exist: the kit will not create a recording "
        "through a link (it could land outside the cassette folder); remove the link, or choose another folder "
        "with --cassette-dir"
    )
    assert not outside.exists()


def test_a_cassette_folder_that_is_a_dangling_link_is_refused_with_the_way_out(
    dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassettes = tmp_path / "cassettes"
    cassettes.symlink_to(tmp_path / "gone", target_is_directory=True)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "http://127.0.0.1:9")
    with pytest.raises(
        ConformanceError, match=r"is a symbolic link to .*gone, which does not exist: create the folder"
    ):
        run(dataset, cassettes, "once")
    assert not (tmp_path / "gone").exists()


def test_a_dataset_folder_linked_out_of_the_cassette_folder_is_refused(
    dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassettes = tmp_path / "cassettes"
    cassettes.mkdir()
    recording = recording_path(dataset, cassettes, "rekognition.jsonl")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    recording.parent.symlink_to(outside, target_is_directory=True)
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "http://127.0.0.1:9")
    with pytest.raises(ConformanceError, match="outside the cassette folder"):
        run(dataset, cassettes, "once")
    assert list(outside.iterdir()) == []


# -- item 15: the face Rekognition searches is the largest, and the adapter checks it is the subject's ------


@pytest.fixture
def crowded(make_manifest: MakeManifest, tmp_path: Path) -> tuple[Path, Path]:
    """Two probes: p1 alone in its photo, p2 beside a bystander whose face is larger. The manifest boxes the subjects."""
    rows = [
        {"photo": "g1.png", "subject": "a", "gender_identity": "woman", "trans": "no", "role": "gallery", "box": ""},
        {"photo": "g2.png", "subject": "b", "gender_identity": "man", "trans": "no", "role": "gallery", "box": ""},
        {
            "photo": "p1.png",
            "subject": "a",
            "gender_identity": "woman",
            "trans": "no",
            "role": "probe",
            "box": "0.1,0.1,0.3,0.3",
        },
        {
            "photo": "p2.png",
            "subject": "b",
            "gender_identity": "man",
            "trans": "no",
            "role": "probe",
            "box": "0.05,0.1,0.2,0.2",
        },
    ]
    manifest = make_manifest(rows)
    lines = [
        {"analyzer": "stand-in", "version": "1", "search_threshold": 50},
        {"photo": "p2.png", "faces": [
            {"gender": "Male", "confidence": 90.0, "box": [0.05, 0.1, 0.2, 0.2]},
            {"gender": "Female", "confidence": 90.0, "box": [0.5, 0.1, 0.45, 0.6]},
        ]},
        {"probe": "p1.png", "matches": [{"gallery": "g1.png", "similarity": 97.5}]},
        {"probe": "p2.png", "matches": [{"gallery": "g2.png", "similarity": 95.0}]},
    ]  # fmt: skip
    return manifest, write_jsonl(tmp_path / "p.jsonl", lines)


def test_a_probe_whose_largest_face_is_a_bystanders_is_an_error_not_the_bystanders_matches(
    crowded: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance.run.matching import run_searches

    data = load_dataset(crowded[0])
    emulator = RekognitionEmulator(data, PredictionsAnalyzer(crowded[1], dataset=data))
    with serve(emulator) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", server.url)
        matcher = create(
            "rekognition",
            dataset=data,
            settings=AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "cassettes")),
        )
        searches = run_searches(matcher, data, floor=50.0)  # type: ignore[arg-type]
    by_probe = {r.probe: r for r in searches.records}
    assert by_probe["p1.png"].outcome == "analysed"
    assert by_probe["p1.png"].matches == (("g1.png", 97.5),)
    assert by_probe["p2.png"].outcome == "error"
    assert by_probe["p2.png"].reason == (
        "Rekognition searched the largest face in the photo (box 0.5, 0.1, 0.45, 0.6), not the subject's (the "
        "manifest's box 0.05, 0.1, 0.2, 0.2): its matches are another person's; crop the photo to the subject"
    )
