"""Issue 12, cases 3 and 9, end to end: what report.json seals, and what a local stand-in's answers look like.

Case 3: report.json named the predictions file and the recording by path only (two runs on different
files at the same path looked identical), and said nothing of when, or against what, the answers were
recorded. Case 9: a recording made against a local stand-in (a loopback endpoint that is not the kit's
emulator, e.g. a mock or a proxy) gave a report.md with no banner, like one recorded against Amazon.

Runs are made as users make them: ``conformance run`` in a subprocess, and the plugin through pytester.
Every digest expected here is worked out with hashlib from the files, not read from the kit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# pytester's inline runs forget modules first imported inside them, and numpy cannot load twice
# in one process: import the kit's heavy dependencies here, before any inline run.
import botocore
import numpy  # noqa: F401
import pytest
import scipy.stats  # noqa: F401
import statsmodels.stats.proportion  # noqa: F401

import conformance

pytest_plugins = ["pytester"]
MakeManifest = Callable[..., Path]

ROWS = [
    {"photo": f"img/{who}{n}.png", "subject": who, "gender_identity": identity, "trans": trans}
    for who, identity, trans in (("w", "woman", "no"), ("m", "man", "no"), ("t", "woman", "yes"), ("u", "man", "yes"))
    for n in (1, 2)
]
UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


class StandIn:
    """A loopback endpoint that is not the kit's emulator (a mock, a proxy): every face it sees is "Female"."""

    def __init__(self) -> None:
        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.calls += 1
                face = {
                    "BoundingBox": {"Width": 0.5, "Height": 0.5, "Left": 0.2, "Top": 0.2},
                    "Confidence": 99.0,
                    "Gender": {"Value": "Female", "Confidence": 95.0},
                }
                body = json.dumps({"FaceDetails": [face]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def aws(tmp_path: Path, endpoint: str | None = None) -> dict[str, str]:
    """An environment with placeholder credentials and none of this machine's AWS configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_CONFIG_FILE=str(tmp_path / "absent-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "absent-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    if endpoint is not None:
        env["AWS_ENDPOINT_URL_REKOGNITION"] = endpoint
    return env


def cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "conformance", "run", "--no-progress", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def report_of(cwd: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((cwd / "conformance-report" / "report.json").read_text(encoding="utf-8"))
    return report


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.close()


@pytest.fixture
def recorded(tmp_path: Path, make_manifest: MakeManifest, stand_in: StandIn) -> Path:
    """A project whose recording was made against the stand-in, with conformance run --record-mode once."""
    make_manifest(ROWS, folder=tmp_path / "photos")
    done = cli(
        tmp_path,
        aws(tmp_path, stand_in.url),
        "--dataset",
        "photos/manifest.csv",
        "--analyzer",
        "rekognition",
        "--record-mode",
        "once",
        "--profile",
        "ci",
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert stand_in.calls >= len(ROWS)  # and the transformed variants: a stand-in is shown new images
    return tmp_path


# -- case 9: a local stand-in's answers are never shown as the vendor's --------------------------------


def test_a_stand_in_recording_gets_the_banner_in_every_report_format(recorded: Path) -> None:
    report = report_of(recorded)
    assert report["analyzer"]["endpoint_class"] == "loopback"
    assert report["analyzer"]["emulated"] is False
    title = "A local stand-in, not the vendor's service"
    markdown = (recorded / "conformance-report" / "report.md").read_text(encoding="utf-8").replace("\\", "")
    assert markdown.index(f"> **{title}.** The answers were recorded from http://127.0.0.1:") < markdown.index(
        "**Verdict:"
    )
    page = (recorded / "conformance-report" / "report.html").read_text(encoding="utf-8").replace("&#x27;", "'")
    assert (
        f'<div class="banner" role="note"><strong>{title}</strong>The answers were recorded from http://127.0.0.1:'
        in page
    )


def test_a_replay_of_it_under_pytest_says_so_on_the_console(recorded: Path, pytester: pytest.Pytester) -> None:
    for name, value in aws(recorded).items():
        if name.startswith("AWS_"):
            pytester._monkeypatch.setenv(name, value)  # the replay reads no AWS configuration of this machine
    result = pytester.runpytest(
        "--pyargs",
        "conformance.suite",
        f"--conformance-dataset={recorded / 'photos' / 'manifest.csv'}",
        "--conformance-analyzer=rekognition",
        f"--conformance-cassette-dir={recorded / 'cassettes'}",
        "--conformance-checks=misgender_gap",
        "--conformance-profile=ci",
        "-p",
        "no:randomly",
    )
    result.stdout.fnmatch_lines(
        [
            "*conformance verdicts*",
            "A LOCAL STAND-IN, NOT THE VENDOR'S SERVICE: The answers were recorded from http://127.0.0.1:*",
        ]
    )


def test_the_failure_tables_footer_names_the_stand_in(recorded: Path, pytester: pytest.Pytester) -> None:
    for name, value in aws(recorded).items():
        if name.startswith("AWS_"):
            pytester._monkeypatch.setenv(name, value)
    result = pytester.runpytest(
        "--pyargs",
        "conformance.suite",
        f"--conformance-dataset={recorded / 'photos' / 'manifest.csv'}",
        "--conformance-analyzer=rekognition",
        f"--conformance-cassette-dir={recorded / 'cassettes'}",
        "--conformance-checks=nonbinary_representability",  # fails: Rekognition's vocabulary is Male/Female
    )
    result.stdout.fnmatch_lines(["*analyzer Amazon Rekognition*(a LOCAL STAND-IN, not the vendor's service)*"])


# -- case 3: the evidence is sealed into the report -----------------------------------------------------


def test_the_recording_sessions_say_when_against_what_and_with_which_sdk(recorded: Path) -> None:
    report = report_of(recorded)
    (session,) = report["evidence"]["recording_sessions"]
    assert session["endpoint_class"] == "loopback"
    assert session["endpoint"].startswith("http://127.0.0.1:")
    assert UTC.fullmatch(session["started"])
    assert UTC.fullmatch(session["ended"])
    assert session["started"] <= session["ended"]
    assert session["botocore"] == botocore.__version__
    assert session["region"] == "eu-west-1"
    assert report["evidence"]["endpoint_class"] == "loopback"
    (recording,) = report["evidence"]["analyzer_files"]
    assert recording["kind"] == "recording"
    assert recording["sha256"] == sha256(Path(recording["path"]))
    markdown = (recorded / "conformance-report" / "report.md").read_text(encoding="utf-8")
    assert f"- Recorded in 1 session (loopback, {session['started']}; botocore {botocore.__version__})" in markdown


def test_the_report_seals_manifest_images_policy_identity_map_and_kit(
    tmp_path: Path, make_manifest: MakeManifest
) -> None:
    manifest = make_manifest(ROWS, folder=tmp_path / "photos")
    predictions = tmp_path / "vendor.jsonl"
    lines = [{"photo": row["photo"], "faces": [{"gender": "Female", "confidence": 90.0}]} for row in ROWS]
    predictions.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    policy = tmp_path / "policy.toml"
    policy.write_text('[tool.conformance]\nbootstrap = 500\n\n[tool.conformance.identity]\n"femme" = "woman"\n')
    done = cli(
        tmp_path,
        aws(tmp_path),
        "--dataset",
        str(manifest),
        "--analyzer",
        f"predictions:{predictions}",
        "--policy",
        str(policy),
        "--profile",
        "ci",
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    report = report_of(tmp_path)
    evidence = report["evidence"]
    assert evidence["kit_version"] == conformance.__version__
    assert evidence["manifest"]["sha256"] == sha256(manifest)
    assert evidence["manifest"]["relative"] == "photos/manifest.csv"
    assert [(f["kind"], f["sha256"]) for f in evidence["analyzer_files"]] == [("predictions file", sha256(predictions))]
    assert {p["photo"]: p["sha256"] for p in report["photos"]} == {
        row["photo"]: sha256(manifest.parent / row["photo"]) for row in ROWS
    }
    content = evidence["policy"]["content"]
    assert content["bootstrap"] == 500
    assert content["identity"] == {"femme": "woman"}
    assert "source" not in content  # the settings in force, wherever they were read from
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert evidence["policy"]["sha256"] == hashlib.sha256(canonical).hexdigest()
    assert evidence["identity_map"]["content"] == {"femme": "woman"}
    assert evidence["identity_map"]["sha256"] == hashlib.sha256(b'{"femme":"woman"}').hexdigest()


def test_two_files_at_the_same_path_give_two_different_reports(tmp_path: Path, make_manifest: MakeManifest) -> None:
    manifest = make_manifest(ROWS, folder=tmp_path / "photos")
    predictions = tmp_path / "vendor.jsonl"
    sealed = []
    for label in ("Female", "Male"):
        lines = [{"photo": row["photo"], "faces": [{"gender": label, "confidence": 90.0}]} for row in ROWS]
        predictions.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        done = cli(tmp_path, aws(tmp_path), "--dataset", str(manifest), "--analyzer", f"predictions:{predictions}")
        assert done.returncode in (0, 1), done.stdout + done.stderr
        (entry,) = report_of(tmp_path)["evidence"]["analyzer_files"]
        assert entry["path"] == str(predictions)
        assert entry["sha256"] == sha256(predictions)
        markdown = (tmp_path / "conformance-report" / "report.md").read_text(encoding="utf-8")
        assert f"predictions file `{entry['sha256'][:16]}`" in markdown
        sealed.append(entry["sha256"])
    assert sealed[0] != sealed[1]
