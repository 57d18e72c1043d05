"""Recordings hold no credentials, no account ids and no image bytes: faces are biometric data.

The scan reads every recording the kit ships, on **decoded** content (RECORDING-NOTES: YAML hid
bytes headers as ``!!binary``, so a grep of raw text found nothing that was there): each line is
parsed as JSON, every string is scanned, JSON held in strings (response bodies) is parsed and
scanned in turn, and base64-looking strings are decoded and scanned too. Then a recording is made
with credentials in the environment, and every file it writes is searched for them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
import os
import re
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import load_dataset
from conformance.adapters.base import AdapterSettings
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.adapters.registry import create
from conformance.emulators import RekognitionEmulator, serve
from conformance.recording.paths import recording_path
from conformance.run.runner import analyze_dataset

REPO = Path(__file__).resolve().parent.parent
SHIPPED = sorted((REPO / "cassettes").rglob("*.jsonl"))

_ACCESS_KEY = re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}")
_SIGNATURE = re.compile(r"AWS4-HMAC-SHA256|Signature=|Credential=|X-Amz-Signature", re.IGNORECASE)
_ARN_ACCOUNT = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:\d{12}(?=[:/]|$)")
_SECRET_HEADERS = {"authorization", "x-amz-security-token", "x-amz-date"}
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def _decoded(text: str) -> bytes | None:
    """``text`` decoded as base64 (standard or URL-safe) when it is valid base64; hex digests are not."""
    if not _BASE64.fullmatch(text) or _HEX64.fullmatch(text):
        return None
    padded = text + "=" * (-len(text) % 4)
    for altchars in (None, b"-_"):
        try:
            return base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    return None


def _scan_string(where: str, text: str) -> Iterator[str]:
    if _ACCESS_KEY.search(text):
        yield f"{where}: an AWS access key id"
    if _SIGNATURE.search(text):
        yield f"{where}: a request signature"
    if "x-amz-security-token" in text.lower():
        yield f"{where}: a security token header"
    if _ARN_ACCOUNT.search(text):
        yield f"{where}: an account id in an ARN"
    if "/9j/" in text or "iVBORw0KGgo" in text:
        yield f"{where}: base64 image bytes (JPEG or PNG signature)"
    raw = _decoded(text)
    if raw is not None:
        decoded = raw.decode("latin-1")
        if _ACCESS_KEY.search(decoded) or _SIGNATURE.search(decoded):
            yield f"{where}: a credential in base64"
        if raw.startswith(_IMAGE_MAGIC):
            yield f"{where}: image bytes in base64"
    if text[:1] in "{[":
        try:
            inner = json.loads(text)
        except ValueError:
            return
        yield from scan_value(f"{where}(json)", inner)


def scan_value(where: str, value: Any) -> Iterator[str]:
    """Everything in a decoded JSON value that a recording must not hold."""
    if isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            if name == "Bytes":
                yield f"{where}.{name}: image bytes (a Bytes field)"
            if name.lower() in _SECRET_HEADERS:
                yield f"{where}.{name}: a credential header"
            yield from _scan_string(f"{where}.<key {name}>", name)
            yield from scan_value(f"{where}.{name}", item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from scan_value(f"{where}[{index}]", item)
    elif isinstance(value, str):
        yield from _scan_string(where, value)


def _image_fields(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("Image"):
                yield item
            yield from _image_fields(item)
    elif isinstance(value, list):
        for item in value:
            yield from _image_fields(item)


def scan_recording(path: Path) -> tuple[list[str], int]:
    """The problems found in a recording, and how many interactions it holds."""
    problems: list[str] = []
    count = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        problems.extend(scan_value(f"line {number}", record))
        if "key" in record:
            count += 1
            images = list(_image_fields(record["request"]["body"]))
            # Only the collection's own operations take no image; every other request names one by digest.
            if not images and record["operation"] not in ("CreateCollection", "DeleteCollection"):
                problems.append(f"line {number}: a request without an image")
            for image in images:
                if set(image) != {"Sha256"} or not _HEX64.fullmatch(str(image["Sha256"])):
                    problems.append(f"line {number}: an image that is not only a SHA-256 digest: {image!r}")
    return problems, count


# -- the shipped recordings ----------------------------------------------------------------------------


def test_the_kit_ships_the_demo_recording() -> None:
    assert REPO / "cassettes" / "demo" / "rekognition.jsonl" in SHIPPED


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(REPO)) for p in SHIPPED])
def test_shipped_recording_holds_no_credentials_account_ids_or_image_bytes(path: Path) -> None:
    problems, interactions = scan_recording(path)
    assert problems == []
    assert interactions > 0


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    """A recording with every forbidden thing planted: the scan must report each (else it proves nothing)."""
    png = b"\x89PNG\r\n\x1a\n" + bytes(32)
    planted = {
        "key": "0" * 64,
        "request": {
            "headers": {
                "Authorization": "AWS4-HMAC-SHA256 Credential=" + "AKIA" + "ABCDEFGHIJKLMNOP/20261121/us-east-1",
                "X-Amz-Security-Token": "FwoGZXIvYXdzEXAMPLE",
            },
            "body": {"Image": {"Bytes": base64.b64encode(png).decode()}},
        },
        "response": {
            "headers": {"x-hidden": base64.b64encode(b"ASIAABCDEFGHIJKLMNOP").decode()},
            "body": json.dumps({"CollectionArn": "arn:aws:rekognition:us-east-1:123456789012:collection/x"}),
        },
    }
    path = tmp_path / "dirty.jsonl"
    path.write_text(json.dumps(planted) + "\n", encoding="utf-8")
    problems, _ = scan_recording(path)
    found = " | ".join(problems)
    for what in (
        "an AWS access key id",
        "a request signature",
        "a credential header",
        "a security token header",
        "image bytes (a Bytes field)",
        "base64 image bytes",
        "image bytes in base64",
        "a credential in base64",
        "an account id in an ARN",
        "not only a SHA-256 digest",
    ):
        assert what in found, what


# -- a recording made with credentials in the environment ---------------------------------------------

# Assembled at run time so that no secret scanner takes this test for a leaked key.
KEY_ID = "AKIA" + "ABCDEFGHIJKLMNOP"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzz9Q+d3TmX"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE/" + base64.b64encode(hashlib.sha512(b"session token").digest() * 4).decode()


def forms(secret: str) -> set[bytes]:
    """``secret`` as it could appear in a file: raw, URL-quoted, and base64 at each of the 3 alignments."""
    raw = secret.encode()
    found = {raw, urllib.parse.quote(secret, safe="").encode()}
    for pad in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * pad + raw)
            # Drop the group holding the padding bytes and the last group (it depends on what follows).
            found.add(text[4 if pad else 0 : -4])
    return found


def test_forms_find_a_secret_inside_a_longer_base64_blob() -> None:
    for pad in range(3):
        blob = base64.b64encode(b"x" * pad + SECRET.encode() + b"tail")
        assert any(form in blob for form in forms(SECRET)), pad


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to resolve or reach a non-loopback address fails the test."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def loopback(host: Any) -> bool:
        if host in (None, "localhost"):
            return True
        try:
            return ipaddress.ip_address(str(host).strip("[]")).is_loopback
        except ValueError:
            return False

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and not loopback(address[0]):
            raise AssertionError(f"test guard: connection to non-loopback {address}")
        real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not loopback(host):
            raise AssertionError(f"test guard: lookup of non-loopback {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def loopback_guard(folder: Path) -> Path:
    """A sitecustomize for the CLI subprocess: no connection beyond loopback."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "import ipaddress, socket\n"
        "_connect = socket.socket.connect\n"
        "def _guarded(self, address):\n"
        "    if self.family in (socket.AF_INET, socket.AF_INET6) and not ipaddress.ip_address(address[0]).is_loopback:\n"
        "        raise OSError(f'test guard: no connection to non-loopback {address}')\n"
        "    return _connect(self, address)\n"
        "socket.socket.connect = _guarded\n",
        encoding="utf-8",
    )
    return folder


def test_credentials_in_the_environment_never_reach_a_file(
    make_manifest: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.auth import SigV4Auth

    rows = [
        {"photo": f"img/{n}.png", "subject": f"s{n % 2}", "gender_identity": g, "trans": "no"}
        for n, g in enumerate(["woman", "man", "woman", "man"])
    ]
    manifest = make_manifest(rows)
    predictions = tmp_path / "predictions.jsonl"
    lines = [{"analyzer": "privacy-test", "version": "1", "vocabulary": ["Male", "Female"]}]
    lines += [{"photo": r["photo"], "faces": [{"gender": "Female", "confidence": 90.0}]} for r in rows]
    predictions.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    dataset = load_dataset(manifest)

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    # See the signed requests: the secrets were on the wire, so their absence from files means something.
    signed: list[str] = []
    add_auth = SigV4Auth.add_auth

    def spy(self: SigV4Auth, request: Any) -> None:
        add_auth(self, request)
        signed.append(f"{request.headers.get('Authorization')} {request.headers.get('X-Amz-Security-Token')}")

    monkeypatch.setattr(SigV4Auth, "add_auth", spy)

    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset))
    with serve(emulator) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", server.url)
        settings = AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "in-process"))
        observations = analyze_dataset(create("rekognition", dataset=dataset, settings=settings), dataset)
        command = [sys.executable, "-m", "conformance", "run", "--dataset", str(manifest), "--analyzer", "rekognition"]
        command += ["--cassette-dir", str(tmp_path / "cli"), "--record-mode", "once", "--report-dir", "reports"]
        command += ["--checks", "misgender_gap"]  # photos only: transformed variants would add calls
        environment = {**os.environ, "PYTHONPATH": str(loopback_guard(tmp_path / "guard"))}
        done = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120)
        assert emulator.stats.calls == 2 * len(rows), done.stdout + done.stderr  # both runs recorded every photo
    assert observations.outcome_counts()["analysed"] == len(rows)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert len(signed) == len(rows)
    assert all(KEY_ID in s and TOKEN in s for s in signed)

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    recordings = [recording_path(dataset, tmp_path / folder, "rekognition.jsonl") for folder in ("in-process", "cli")]
    assert {*(r.relative_to(tmp_path).as_posix() for r in recordings), "reports/report.json"} <= names
    for what, secret in (("key id", KEY_ID), ("secret key", SECRET), ("session token", TOKEN)):
        for path in written:
            data = path.read_bytes()
            leaked = [form for form in forms(secret) if form in data]
            assert leaked == [], f"the {what} is in {path.relative_to(tmp_path)}"
        output = (done.stdout + done.stderr).encode()
        assert [form for form in forms(secret) if form in output] == [], f"the {what} is in the CLI's output"
    for path in recordings:
        problems, interactions = scan_recording(path)
        assert (problems, interactions) == ([], len(rows))
