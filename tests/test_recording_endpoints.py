"""Recording Rekognition through endpoints that are not Amazon's, after the red-team of issue 12.

F5: a loopback TLS-intercepting proxy (``HTTPS_PROXY`` with its certificate in ``AWS_CA_BUNDLE``) was
recorded as Amazon's endpoint, class ``vendor``, with no banner. F6: two manifests in one folder share
one recording, and ``--record-mode all`` for one of them dropped the other's paid answers. F7: a
systematic failure whose messages vary (a request id in each) never stopped the run. F9: a stand-in
sending the emulator's header passed as the kit's emulator. F10: a 200 with body ``{}`` was recorded as
"no face", an answer.

Every run is ``conformance run`` in a subprocess, as a user runs it, against a loopback server started
here (a stand-in that is not the kit's emulator) or the kit's emulator itself.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conformance import load_dataset
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.emulators import RekognitionEmulator, serve

Answer = tuple[int, dict[str, str], bytes]  # status, headers, body
FACE = {
    "BoundingBox": {"Width": 0.5, "Height": 0.5, "Left": 0.2, "Top": 0.2},
    "Confidence": 99.0,
    "Gender": {"Value": "Female", "Confidence": 95.0},
}
JSON = {"Content-Type": "application/x-amz-json-1.1"}
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_MAX_ATTEMPTS": "1",  # one attempt a call: the failures here are the endpoint's, not passing ones
}


def faces() -> Answer:
    return 200, dict(JSON), json.dumps({"FaceDetails": [FACE]}).encode()


class StandIn:
    """A loopback Rekognition stand-in (not the kit's emulator): ``answer(n)`` answers the n-th call (from 1)."""

    def __init__(self, answer: Callable[[int], Answer]) -> None:
        self.calls = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    outer.calls += 1
                    n = outer.calls
                status, headers, body = answer(n)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body)), "x-amzn-RequestId": f"r{n}"}.items():
                    self.send_header(name, value)
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


@pytest.fixture
def stand_in() -> Iterator[Callable[[Callable[[int], Answer]], StandIn]]:
    started: list[StandIn] = []

    def start(answer: Callable[[int], Answer]) -> StandIn:
        started.append(StandIn(answer))
        return started[-1]

    yield start
    for server in started:
        server.close()


def dataset(folder: Path, people: int) -> Path:
    """``people`` cis and ``people`` trans women, one photo each of bytes of its own; predictions all right."""
    from PIL import Image

    (folder / "img").mkdir(parents=True)
    rows, lines = ["photo,subject,gender_identity,trans"], [json.dumps({"analyzer": "truth", "version": "1"})]
    for group, trans in (("c", "no"), ("t", "yes")):
        for i in range(people):
            photo = f"img/{group}{i:03d}.png"
            Image.new("RGB", (8, 8), (i, 50 if trans == "no" else 200, 9)).save(folder / photo, format="PNG")
            rows.append(f"{photo},{group}{i:03d},woman,{trans}")
            lines.append(json.dumps({"photo": photo, "faces": [{"gender": "Female", "confidence": 97.0}]}))
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "predictions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "manifest.csv"


def record(cwd: Path, manifest: Path, url: str | None, *extra: str, env: dict[str, str] | None = None) -> Any:
    where = {"AWS_ENDPOINT_URL_REKOGNITION": url} if url else {}
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HTTP_PROXY", "HTTPS_PROXY"))}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--no-progress",
            "--dataset",
            str(manifest),
            "--analyzer",
            "rekognition",
            "--checks",
            "misgender_gap,detection_failure_gap",
            *extra,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**environ, **AWS, **where, **(env or {})},
    )


def report_of(cwd: Path, folder: str = "conformance-report") -> dict[str, Any]:
    found: dict[str, Any] = json.loads((cwd / folder / "report.json").read_text(encoding="utf-8"))
    return found


def keep_going(cwd: Path) -> None:
    """Every photo failing alike stops a run of any size (rt14d F5): these tests read each photo's error instead."""
    (cwd / "pyproject.toml").write_text("[tool.conformance]\nsystematic_failures = 0\n", encoding="utf-8")


def recording_lines(cwd: Path) -> list[dict[str, Any]]:
    (path,) = (cwd / "cassettes").glob("*/rekognition.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- F7: a systematic failure whose messages vary stops the run -----------------------------------------


def test_a_systematic_failure_whose_messages_vary_stops_the_run(tmp_path: Path, stand_in: Any) -> None:
    """10 answers, then every call a 500 naming its own request: one kind of failure, 20 in a row stop it."""

    def answer(n: int) -> Answer:
        if n <= 10:
            return faces()
        body = {"__type": "InternalServerError", "Message": f"Internal error, request {n}"}
        return 500, dict(JSON), json.dumps(body).encode()

    server = stand_in(answer)
    done = record(tmp_path, dataset(tmp_path / "data", 25), server.url, "--record-mode", "once")
    assert done.returncode == 2, done.stdout + done.stderr
    assert server.calls == 30  # 10 answers, then 20 failures alike: no call after the 20th
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("conformance: error:")]
    assert error.startswith(
        "conformance: error: stopped: the last 20 photos all failed the same way (InternalServerError: "
        "Internal error, request 30; their messages differ only in ids and numbers: one kind of failure, "
        "'InternalServerError'): a fault of the setup"
    ), error
    assert not (tmp_path / "conformance-report" / "report.json").exists()


# -- F10: a 200 without FaceDetails is no answer --------------------------------------------------------


def test_a_200_with_an_empty_object_is_no_answer_and_is_not_recorded(tmp_path: Path, stand_in: Any) -> None:
    server = stand_in(lambda n: (200, dict(JSON), b"{}"))
    keep_going(tmp_path)
    done = record(tmp_path, dataset(tmp_path / "data", 4), server.url, "--record-mode", "once")
    assert done.returncode == 1, done.stdout + done.stderr
    photos = report_of(tmp_path)["photos"]
    assert [p["outcome"] for p in photos] == ["error"] * 8  # not "no_face": nothing was said about a face
    assert all("HTTP 200 with an empty JSON object, not a DetectFaces answer" in p["reason"] for p in photos)
    recorded = [p.read_text(encoding="utf-8") for p in (tmp_path / "cassettes").glob("*/rekognition.jsonl")]
    assert not any('"key"' in text for text in recorded)  # nothing recorded: a later run asks again


def test_a_200_without_face_details_is_no_answer(tmp_path: Path, stand_in: Any) -> None:
    server = stand_in(lambda n: (200, dict(JSON), json.dumps({"OrientationCorrection": "ROTATE_0"}).encode()))
    keep_going(tmp_path)
    done = record(tmp_path, dataset(tmp_path / "data", 4), server.url, "--record-mode", "once")
    assert done.returncode == 1, done.stdout + done.stderr
    reasons = {p["reason"] for p in report_of(tmp_path)["photos"]}
    assert len(reasons) == 1
    assert "HTTP 200 with JSON that has no FaceDetails, so it is not a DetectFaces answer" in reasons.pop()


# -- F9: the emulator's header alone is no emulator ----------------------------------------------------


def test_a_stand_in_sending_the_emulators_header_is_an_unverified_endpoint(tmp_path: Path, stand_in: Any) -> None:
    def answer(n: int) -> Answer:
        status, headers, body = faces()
        claims = {"x-conformance-emulator": "Amazon Rekognition (EMULATED, not the vendor)"}
        claims["x-conformance-emulator-proof"] = "0" * 64  # a proof of nothing
        return status, {**headers, **claims}, body

    server = stand_in(answer)
    done = record(tmp_path, dataset(tmp_path / "data", 4), server.url, "--record-mode", "once")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    report = report_of(tmp_path)
    assert report["evidence"]["endpoint_class"] == "loopback"
    assert report["analyzer"]["emulated"] is False
    (session,) = report["evidence"]["recording_sessions"]
    assert (session["endpoint_class"], session["emulator_claim"]) == ("loopback", "unverified")
    markdown = (tmp_path / "conformance-report" / "report.md").read_text(encoding="utf-8")
    assert "claiming to be the kit's emulator without proving it: an unverified endpoint" in markdown
    assert "EMULATED" not in markdown.split("\n## ")[0].replace("(EMULATED, not the vendor)", "")
    answers = [line for line in recording_lines(tmp_path) if "key" in line]
    assert len(answers) == 8
    assert all("x-conformance-emulator" not in line["response"]["headers"] for line in answers)
    assert all("x-conformance-emulator-unverified" in line["response"]["headers"] for line in answers)
    # Replayed, the recording still says what it is: no emulator.
    replay = record(tmp_path, tmp_path / "data" / "manifest.csv", None, "--report-dir", "replayed")
    assert replay.returncode in (0, 1), replay.stdout + replay.stderr
    replayed = report_of(tmp_path, "replayed")
    assert (replayed["analyzer"]["emulated"], replayed["evidence"]["endpoint_class"]) == (False, "loopback")


def test_the_kits_own_emulator_proves_itself(tmp_path: Path) -> None:
    """The positive control: the same run against the kit's emulator is recorded as the emulator's."""
    manifest = dataset(tmp_path / "data", 4)
    data = load_dataset(manifest)
    emulator = RekognitionEmulator(data, PredictionsAnalyzer(manifest.parent / "predictions.jsonl", dataset=data))
    with serve(emulator) as server:
        done = record(tmp_path, manifest, server.url, "--record-mode", "once")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    report = report_of(tmp_path)
    assert (report["evidence"]["endpoint_class"], report["analyzer"]["emulated"]) == ("emulator", True)
    (session,) = report["evidence"]["recording_sessions"]
    assert "emulator_claim" not in session
    answers = [line for line in recording_lines(tmp_path) if "key" in line]
    # Kept for replays; the per-call nonce and proof are not.
    assert all("x-conformance-emulator" in line["response"]["headers"] for line in answers)
    assert not any("x-conformance-emulator-proof" in json.dumps(line) for line in answers)


# -- F6: record mode all loses nothing paid ------------------------------------------------------------


def test_record_mode_all_for_one_manifest_keeps_the_other_manifests_answers(tmp_path: Path) -> None:
    manifest = dataset(tmp_path / "data", 6)
    rows = manifest.read_text(encoding="utf-8").splitlines()
    (manifest.parent / "a.csv").write_text("\n".join([rows[0], *rows[1:7]]) + "\n", encoding="utf-8")  # the cis women
    (manifest.parent / "b.csv").write_text("\n".join([rows[0], *rows[7:]]) + "\n", encoding="utf-8")  # the trans women
    data = load_dataset(manifest)
    emulator = RekognitionEmulator(data, PredictionsAnalyzer(manifest.parent / "predictions.jsonl", dataset=data))
    with serve(emulator) as server:
        first = record(tmp_path, manifest.parent / "a.csv", server.url, "--record-mode", "once", "--report-dir", "a")
        assert first.returncode in (0, 1), first.stdout + first.stderr
        second = record(tmp_path, manifest.parent / "b.csv", server.url, "--record-mode", "all", "--report-dir", "b")
        assert second.returncode in (0, 1), second.stdout + second.stderr
        assert emulator.stats.calls == 12  # six photos each, each asked once
    assert "kept 6 answer(s)" in second.stderr
    answers = [line for line in recording_lines(tmp_path) if "key" in line]
    assert len(answers) == 12
    # Offline, a.csv still replays in full.
    replay = record(tmp_path, manifest.parent / "a.csv", None, "--report-dir", "a-again")
    assert replay.returncode in (0, 1), replay.stdout + replay.stderr
    assert report_of(tmp_path, "a-again")["outcomes"]["analysed"] == 6


# -- F5: a TLS-intercepting proxy, trusted through AWS_CA_BUNDLE, is not the vendor --------------------


class InterceptingProxy:
    """A loopback HTTPS proxy (CONNECT) that ends TLS with its own certificate and answers every call itself."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.calls = 0
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    @staticmethod
    def _request(reader: Any) -> tuple[bytes, dict[str, str]]:
        line = reader.readline()
        headers: dict[str, str] = {}
        while True:
            header = reader.readline()
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        reader.read(int(headers.get("content-length", "0")))
        return line, headers

    def _serve(self, client: socket.socket) -> None:
        try:
            line, _ = self._request(client.makefile("rb"))
            if not line.startswith(b"CONNECT"):
                return
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            tls = self.context.wrap_socket(client, server_side=True)
            reader = tls.makefile("rb")
            while True:
                line, _ = self._request(reader)
                if not line:
                    return
                self.calls += 1
                _, _, body = faces()
                head = f"HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {len(body)}\r\n\r\n"
                tls.sendall(head.encode() + body)
        except (OSError, ssl.SSLError):
            return

    def close(self) -> None:
        self.running = False
        self.server.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_a_tls_intercepting_proxy_trusted_through_aws_ca_bundle_is_not_the_vendor(tmp_path: Path) -> None:
    host = "rekognition.us-east-1.amazonaws.com"
    cert, key = tmp_path / "proxy-ca.pem", tmp_path / "proxy-key.pem"
    command = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert)]
    command += ["-days", "2", "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}"]
    subprocess.run(command, check=True, capture_output=True)
    proxy = InterceptingProxy(cert, key)
    try:
        done = record(
            tmp_path,
            dataset(tmp_path / "data", 4),
            None,
            "--record-mode",
            "once",
            "--allow-live",
            "--accept-vendor-retention",
            "--rate",
            "100",
            env={"HTTPS_PROXY": proxy.url, "AWS_CA_BUNDLE": str(cert), "NO_PROXY": ""},
        )
    finally:
        proxy.close()
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert proxy.calls == 8  # the proxy answered every call, as Amazon's host
    report = report_of(tmp_path)
    assert report["evidence"]["endpoint_class"] == "loopback"
    (session,) = report["evidence"]["recording_sessions"]
    assert session["endpoint"] == f"https://{host}"
    assert session["proxy"] == proxy.url
    assert session["ca_bundle"]["file"] == "proxy-ca.pem"
    banner = f"The answers were recorded from https://{host} (through the proxy {proxy.url}; with TLS trusting"
    markdown = (tmp_path / "conformance-report" / "report.md").read_text(encoding="utf-8")
    assert banner in markdown.replace("\\", "")
    assert "A LOCAL STAND-IN, NOT THE VENDOR'S SERVICE" in done.stdout
    assert str(tmp_path) not in json.dumps(recording_lines(tmp_path))  # the bundle by name and digest, not its folder
