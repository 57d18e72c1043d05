"""botocore at DEBUG shows nothing a CI log must not hold (issue 15, item 12).

Debugging a job with ``logging.basicConfig(level=logging.DEBUG)`` or pytest's ``--log-level=DEBUG``
makes botocore log every signed request: the signature it computed (``Signature:`` then 64 hex digits),
the Authorization header, and the request's body with the photo as base64. While the kit calls
Rekognition, those records are cleaned as they are made. What must not appear is worked out here from
the photos' own bytes (``base64.b64encode``) and the shape of a SigV4 signature, not from the kit.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from conformance import Dataset, load_dataset
from conformance.adapters.base import AdapterSettings
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.adapters.registry import create
from conformance.emulators import RekognitionEmulator, serve
from conformance.recording.scrub import redact_log
from conformance.run.runner import analyze_dataset

MakeManifest = Callable[..., Path]  # the conftest fixture

# Shaped like a long-term access key id when joined; never one literal, so no secret scanner flags the tree.
KEY_ID = "AKIA" + "ZZZZEXAMPLE23456"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
ROWS = [{"photo": f"img/p{i}.png", "subject": f"s{i}", "gender_identity": "woman", "trans": "no"} for i in range(4)]
SIGNATURE = re.compile(r"Signature[:=]\s*[0-9a-f]{64}")


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


def leaks(text: str, images: list[bytes]) -> list[str]:
    """What of a signed call ``text`` shows: each photo's base64, a signature, the Authorization value, the key."""
    found = [f"photo {i} as base64" for i, data in enumerate(images) if base64.b64encode(data).decode() in text]
    if "iVBORw0KGgo" in text:  # the base64 of PNG's signature: the start of any PNG's bytes
        found.append("PNG bytes as base64")
    if SIGNATURE.search(text):
        found.append("a SigV4 signature")
    if re.search(r"Authorization['\"]?\s*:\s*b?['\"]AWS4-HMAC-SHA256", text):
        found.append("the Authorization header")
    found += [what for what, secret in (("the key id", KEY_ID), ("the secret key", SECRET)) if secret in text]
    return found


@pytest.fixture
def dataset(make_manifest: MakeManifest, tmp_path: Path) -> Dataset:
    manifest = make_manifest(ROWS)
    return load_dataset(manifest)


def _record_then_replay(dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    predictions = tmp_path / "predictions.jsonl"
    lines = [{"analyzer": "emulated", "version": "1", "vocabulary": ["Male", "Female"]}]
    lines += [{"photo": r["photo"], "faces": [{"gender": "Female", "confidence": 90.0}]} for r in ROWS]
    predictions.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    cassettes = tmp_path / "cassettes"
    with serve(RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset))) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", server.url)
        settings = AdapterSettings(record_mode="once", cassette_dir=str(cassettes))
        analyze_dataset(create("rekognition", dataset=dataset, settings=settings), dataset)
    monkeypatch.delenv("AWS_ENDPOINT_URL_REKOGNITION")
    settings = AdapterSettings(record_mode="none", cassette_dir=str(cassettes))
    analyze_dataset(create("rekognition", dataset=dataset, settings=settings), dataset)


def test_botocore_at_debug_logs_no_signature_authorization_or_image_bytes(
    aws_env: None, dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # as logging.basicConfig(level=DEBUG): every logger's DEBUG records made
    factory = logging.getLogRecordFactory()
    _record_then_replay(dataset, tmp_path, monkeypatch)
    messages = [record.getMessage() for record in caplog.records]
    # The SDK did log each signed call (8: 4 recorded, 4 replayed), so the test looks at something.
    assert sum(m.startswith("Making request for OperationModel(name=DetectFaces)") for m in messages) == 8
    assert sum(m.startswith("Signature:") for m in messages) == 8
    images = [(dataset.root / r["photo"]).read_bytes() for r in ROWS]
    assert leaks(caplog.text, images) == []
    assert logging.getLogRecordFactory() is factory  # the run's cleaning ends with the run


def test_the_leak_check_finds_what_botocore_logs_uncleaned() -> None:
    """The check above would see botocore's messages as botocore writes them (shapes from botocore 1.44)."""
    from builders import _png

    image = _png()
    body = json.dumps({"Image": {"Bytes": base64.b64encode(image).decode()}})
    raw = [
        f"Making request for OperationModel(name=DetectFaces) with params: {{'body': {body.encode()!r}}}",
        "Signature:\n" + "3f" * 32,
        f"Sending http request: <AWSPreparedRequest headers={{'Authorization': b'AWS4-HMAC-SHA256 "
        f"Credential={KEY_ID}/20260101/us-east-1/rekognition/aws4_request, SignedHeaders=host, "
        f"Signature={'ab' * 32}'}}>",
    ]
    assert leaks("\n".join(raw), [image]) == [
        "photo 0 as base64",
        "PNG bytes as base64",
        "a SigV4 signature",
        "the Authorization header",
        "the key id",
    ]
    assert leaks("\n".join(redact_log(line) for line in raw), [image]) == []


def test_pytest_log_cli_at_debug_shows_no_image_bytes_or_signature(tmp_path: Path) -> None:
    """The shipped demo replayed with pytest's live DEBUG log on: what a CI job shows when debugging."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "conformance.suite",
            "--conformance-demo",
            "-p",
            "no:cacheprovider",
            "-o",
            "log_cli=true",
            "--log-cli-level=DEBUG",
            "--log-level=DEBUG",
            "-rA",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Making request for OperationModel(name=DetectFaces)" in done.stdout  # the live log is on
    from conformance.demo import MANIFEST

    images = [p.read_bytes() for p in sorted((Path(MANIFEST).parent / "images").glob("*.png"))[:50]]
    assert leaks(done.stdout + done.stderr, images) == []
