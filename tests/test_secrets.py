"""Credentials are never logged, never recorded, never reported: also when boto3 raises.

Every test makes fresh fake credentials (an access key id, a secret, a session token in the
environment; a second key pair under profile ``audit`` in a shared credentials file; an account
id), runs ``conformance run`` or ``pytest --pyargs conformance.suite`` as a subprocess with them in
its environment, and drives the ``rekognition`` adapter (``--record-mode once``) against a loopback
service that refuses it the way AWS does (bad token, access denied with the account id in ARNs,
server fault, throttling, a dropped connection, signature errors that echo what was sent), or
against the kit's emulator, which answers. The service notes the credentials it received, so the
secrets were in play; then everything the run wrote (stdout, stderr, every file under the test's
directory: recordings, report.json/md/html, JUnit XML, the GitHub job summary) is searched for
each secret and for the account id. Nothing is sent beyond loopback: the subprocesses run with
the connection guard of ``test_privacy``.
"""

from __future__ import annotations

import base64
import json
import os
import random
import string
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_privacy import forms, loopback_guard

from conformance import load_dataset
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.emulators import RekognitionEmulator, serve

MakeManifest = Callable[..., Path]  # the conftest fixture

# -- fake credentials, made at run time (no file holds anything shaped like a key) -----------------------

_DRAW = random.SystemRandom()


def _draw(alphabet: str, length: int) -> str:
    return "".join(_DRAW.choice(alphabet) for _ in range(length))


@dataclass(frozen=True)
class Identity:
    """One set of fake AWS credentials: what boto3 would sign with."""

    key_id: str
    secret: str
    token: str = ""

    @classmethod
    def fake(cls, prefix: str, *, token: bool) -> Identity:
        return cls(
            key_id=prefix + _draw(string.ascii_uppercase + string.digits, 16),
            secret=_draw(string.ascii_letters + string.digits + "+/", 40),
            token=_draw(string.ascii_letters + string.digits + "+/", 356) if token else "",
        )


ENVIRONMENT = Identity.fake("ASIA", token=True)  # temporary credentials in AWS_* variables
PROFILE = Identity.fake("AKIA", token=False)  # a long-term key under [audit] in the credentials file
ACCOUNT = _draw("123456789", 1) + _draw(string.digits, 11)
SECRETS = {
    "the access key id (environment)": ENVIRONMENT.key_id,
    "the secret access key (environment)": ENVIRONMENT.secret,
    "the session token (environment)": ENVIRONMENT.token,
    "the access key id (profile audit)": PROFILE.key_id,
    "the secret access key (profile audit)": PROFILE.secret,
    "the account id": ACCOUNT,
}


class Leak(AssertionError):
    """A secret found in something a run wrote."""


def assert_nothing_leaked(written: Mapping[str, bytes]) -> None:
    """Raise :class:`Leak` naming each secret and where it is (raw, URL-quoted, base64; Markdown escapes undone)."""
    __tracebackhide__ = True
    found = [
        f"{what} in {where}"
        for where, data in written.items()
        for what, secret in SECRETS.items()
        if any(form in data or form in data.replace(b"\\", b"") for form in forms(secret))
    ]
    if found:
        raise Leak("; ".join(found))


# -- a loopback service that refuses as AWS does ---------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """How the service answers every call; ``code`` empty: close the connection without a word.

    The message may say ``{account}``, ``{authorization}`` (the request's Authorization header)
    and ``{token}`` (its X-Amz-Security-Token), as AWS's own messages do. ``type_header``: name
    the error in ``x-amzn-ErrorType`` as well as in the body's ``__type`` (the awsJson protocol
    lets a service use either; botocore reads the body's first).
    """

    status: int
    code: str
    message: str = ""
    type_header: bool = True
    expect: str = ""  # what the run must say somewhere, to show it met this refusal


_DENIED = (
    "User: arn:aws:sts::{account}:assumed-role/ConformanceAudit/auditor is not authorized to perform: "
    "rekognition:DetectFaces on resource: arn:aws:rekognition:us-east-1:{account}:* because no identity-based "
    "policy allows the rekognition:DetectFaces action"
)
_CANONICAL = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for "
    "this request should have been\n'POST\n/\n\ncontent-type:application/x-amz-json-1.1\nx-amz-security-token:"
    "{token}\nx-amz-target:RekognitionService.DetectFaces\n'"
)
REFUSALS = {
    "unrecognized_client": Refusal(
        400,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        expect="UnrecognizedClientException",
    ),
    "access_denied": Refusal(403, "AccessDeniedException", _DENIED, expect="AccessDeniedException"),
    "internal_error": Refusal(500, "InternalServerError", "Internal server error", expect="InternalServerError"),
    "throttling": Refusal(400, "ThrottlingException", "Rate exceeded", expect="ThrottlingException"),
    "connection_closed": Refusal(0, "", expect="connection"),
    "invalid_signature": Refusal(400, "InvalidSignatureException", _CANONICAL, expect="InvalidSignatureException"),
    # The error named only in the body: the adapter's own code still reads it (botocore does).
    "access_denied_type_in_body": Refusal(
        403, "AccessDeniedException", _DENIED, type_header=False, expect="AccessDeniedException"
    ),
    "invalid_signature_type_in_body": Refusal(
        400, "InvalidSignatureException", _CANONICAL, type_header=False, expect="InvalidSignatureException"
    ),
    # A refusal of one photo (not of the credentials) that quotes what it was sent: it becomes the
    # photo's reason in every report, so it must be redacted on the way.
    "echo_in_photo_refusal": Refusal(
        400,
        "InvalidParameterException",
        "Request has invalid parameters (account {account}; Authorization '{authorization}'; "
        "x-amz-security-token:{token})",
        expect="InvalidParameterException",
    ),
    # AWS's front end quotes a malformed Authorization header back, access key id and all.
    "incomplete_signature": Refusal(
        400,
        "IncompleteSignatureException",
        "'AWS4-HMAC-SHA256' not a valid key=value pair (missing equal-sign) in Authorization header: "
        "'{authorization}'.",
        expect="IncompleteSignatureException",
    ),
}

# Leaks this file found, now fixed, and kept as regression cases:
# - incomplete_signature: AWS quotes a malformed Authorization header back (access key id included); the
#   message became a photo's reason in every report and the recording (fixed: the code is a credential
#   refusal, vendor messages are redacted before they become reasons, and error bodies before they are kept).
# - invalid_signature_type_in_body: a credential refusal named only in the body's __type was recorded with
#   the security token its message echoed (fixed: the error type is read as botocore reads it).
# - the DEBUG log test: botocore logs signed requests and response bodies at DEBUG (fixed: the adapter
#   redacts what the SDK's loggers say during the run).
XFAILS: dict[str, str] = {}


def scenarios(*names: str) -> list[Any]:
    """``names`` as parameters, the known leaks marked xfail (strict: a fix makes them pass, and fail here)."""
    return [
        pytest.param(name, marks=pytest.mark.xfail(raises=Leak, strict=True, reason=XFAILS[name]))
        if name in XFAILS
        else name
        for name in names
    ]


class RefusingService:
    """A loopback stand-in for Rekognition refusing every call; notes the credentials each call carried."""

    def __init__(self, refusal: Refusal) -> None:
        self.refusal = refusal
        self.seen: list[tuple[str, str]] = []  # (Authorization, X-Amz-Security-Token) of each call
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                authorization = self.headers.get("Authorization", "")
                token = self.headers.get("X-Amz-Security-Token", "")
                service.seen.append((authorization, token))
                if not refusal.code:
                    self.close_connection = True  # no status line at all: botocore sees the connection drop
                    return
                message = refusal.message.format(account=ACCOUNT, authorization=authorization, token=token)
                body = json.dumps({"__type": refusal.code, "message": message}).encode()
                self.send_response(refusal.status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amzn-RequestId", "00000000-0000-4000-8000-000000000000")
                if refusal.type_header:
                    self.send_header("x-amzn-ErrorType", f"{refusal.code}:http://internal.amazon.com/coral/")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test's output is not the kit's."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> RefusingService:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@dataclass(frozen=True)
class Endpoint:
    """Where the run sends its calls; ``reached`` checks they arrived (at a refusing service, signed by ``identity``)."""

    url: str
    reached: Callable[[Identity], None]
    expect: str


@contextmanager
def endpoint(scenario: str, manifest: Path, tmp_path: Path) -> Iterator[Endpoint]:
    """The refusing service for ``scenario``, or for ``"emulator"`` the kit's emulator, which answers."""
    if scenario == "emulator":
        dataset = load_dataset(manifest)
        predictions = tmp_path / "predictions.jsonl"
        lines: list[dict[str, Any]] = [{"analyzer": "secrets-test", "version": "1", "vocabulary": ["Male", "Female"]}]
        lines += [{"photo": p.id, "faces": [{"gender": "Female", "confidence": 90.0}]} for p in dataset.photos]
        predictions.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset))

        def answered(identity: Identity) -> None:
            assert emulator.stats.calls == len(dataset), "the emulator was not asked about every photo"

        with serve(emulator) as server:
            yield Endpoint(server.url, answered, expect='"analysed": 2')
        return
    refusal = REFUSALS[scenario]
    with RefusingService(refusal) as service:

        def refused(identity: Identity) -> None:
            assert service.seen, "the run never called the service"
            for authorization, token in service.seen:
                assert f"Credential={identity.key_id}/" in authorization, "another identity signed the call"
                assert token == identity.token

        yield Endpoint(service.url, refused, expect=refusal.expect)


# -- runs ------------------------------------------------------------------------------------------------


@pytest.fixture
def manifest(make_manifest: MakeManifest) -> Path:
    """Two photos of two people: few calls, so a throttled run stays quick."""
    return make_manifest(
        [
            {"photo": "img/a.png", "subject": "a", "gender_identity": "woman", "trans": "no"},
            {"photo": "img/b.png", "subject": "b", "gender_identity": "man", "trans": "yes"},
        ]
    )


def environment(tmp_path: Path, url: str, *, source: str = "environment") -> dict[str, str]:
    """A run's environment: credentials from AWS_* variables (``source="environment"``) or profile ``audit``.

    The credentials file exists either way; it lives outside ``run/`` and is the one file not searched.
    """
    aws = tmp_path / "aws"
    aws.mkdir(exist_ok=True)
    credentials = aws / "credentials"
    credentials.write_text(
        f"[audit]\naws_access_key_id = {PROFILE.key_id}\naws_secret_access_key = {PROFILE.secret}\n", encoding="utf-8"
    )
    guard = tmp_path / "guard"
    if not guard.exists():
        loopback_guard(guard)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITHUB_", "PYTEST_"))}
    env |= {
        "AWS_SHARED_CREDENTIALS_FILE": str(credentials),
        "AWS_CONFIG_FILE": str(aws / "absent-config"),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance metadata lookups (not loopback)
        "AWS_MAX_ATTEMPTS": "1",  # one call per photo: quick, and each refusal reaches the kit
        "AWS_ENDPOINT_URL_REKOGNITION": url,
        "GITHUB_STEP_SUMMARY": str(tmp_path / "run" / "job-summary.md"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(guard), os.environ.get("PYTHONPATH", "")])),
    }
    if source == "environment":
        env |= {
            "AWS_ACCESS_KEY_ID": ENVIRONMENT.key_id,
            "AWS_SECRET_ACCESS_KEY": ENVIRONMENT.secret,
            "AWS_SESSION_TOKEN": ENVIRONMENT.token,
        }
    else:
        env["AWS_PROFILE"] = "audit"
    return env


def conformance_run(tmp_path: Path, manifest: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "conformance", "run", "--dataset", str(manifest), "--analyzer", "rekognition"]
    command += ["--record-mode", "once", "--cassette-dir", "cassettes", "--report-dir", "reports"]
    return _run(tmp_path, command, env)


def pytest_run(
    tmp_path: Path, manifest: Path, env: Mapping[str, str], *more: str
) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-m", "pytest", "--pyargs", "conformance.suite", "--rootdir", "."]
    command += [
        f"--conformance-dataset={manifest}",
        "--conformance-analyzer=rekognition",
        "--conformance-record-mode=once",
    ]
    command += ["--conformance-cassette-dir=cassettes", "--conformance-report-dir=reports"]
    command += ["--junitxml=junit.xml", "-rA", "--tb=long", "-p", "no:randomly", *more]
    return _run(tmp_path, command, env)


def _run(tmp_path: Path, command: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[bytes]:
    cwd = tmp_path / "run"
    cwd.mkdir(exist_ok=True)
    # Two photos failing alike would stop the run before its reports (rt14d F5: at any size); the reports are
    # what these tests scan, so the scenarios that write them keep going.
    (cwd / "pyproject.toml").write_text("[tool.conformance]\nsystematic_failures = 0\n", encoding="utf-8")
    return subprocess.run(command, cwd=cwd, env=dict(env), capture_output=True, timeout=120, check=False)


def everything_written(tmp_path: Path, done: subprocess.CompletedProcess[bytes]) -> dict[str, bytes]:
    """stdout, stderr and every file under ``tmp_path`` but the credentials file the test wrote."""
    written = {"stdout": done.stdout, "stderr": done.stderr}
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file() and path != tmp_path / "aws" / "credentials":
            written[path.relative_to(tmp_path).as_posix()] = path.read_bytes()
    return written


def check_run(
    tmp_path: Path, done: subprocess.CompletedProcess[bytes], service: Endpoint, identity: Identity, *files: str
) -> None:
    """The run met the service with ``identity``'s credentials and wrote ``files``; then nothing leaked."""
    __tracebackhide__ = True
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    service.reached(identity)
    assert done.returncode in (1, 2), output  # checks fail (1) or a refusal stops the run (2); no crash
    written = everything_written(tmp_path, done)
    missing = [name for name in files if f"run/{name}" not in written]
    assert missing == [], f"{missing} not written\n{output}"
    assert any(service.expect.lower() in data.decode("utf-8", "replace").lower() for data in written.values()), (
        f"the run never said {service.expect!r}\n{output}"
    )
    assert_nothing_leaked(written)


_REPORTS = ("reports/report.json", "reports/report.md", "reports/report.html", "job-summary.md")
# Runs that get as far as the checks write reports; a refused identity or a lost endpoint stops before them.
_WRITES_REPORTS = {"internal_error", "throttling", "echo_in_photo_refusal", "emulator"}


def _files(scenario: str, *also: str) -> tuple[str, ...]:
    return (*_REPORTS, *also) if scenario in _WRITES_REPORTS else also


# -- the tests -------------------------------------------------------------------------------------------


def test_fake_credentials_look_like_aws_credentials_and_differ() -> None:
    shape = string.ascii_uppercase + string.digits
    for key_id, prefix in ((ENVIRONMENT.key_id, "ASIA"), (PROFILE.key_id, "AKIA")):
        assert (key_id[:4], len(key_id), set(key_id) <= set(shape)) == (prefix, 20, True)
    assert (len(ENVIRONMENT.secret), len(PROFILE.secret)) == (40, 40)
    assert ENVIRONMENT.secret != PROFILE.secret
    assert (len(ENVIRONMENT.token), PROFILE.token) == (356, "")
    assert (len(ACCOUNT), ACCOUNT.isdigit()) == (12, True)


@pytest.mark.parametrize("what", sorted(SECRETS))
def test_the_search_finds_each_secret_raw_escaped_or_in_base64(what: str) -> None:
    """Planted secrets are found (else a clean result proves nothing), also behind Markdown's backslashes."""
    secret = SECRETS[what]
    escaped = "".join(f"\\{c}" if c in "+/" else c for c in secret)
    for data in (
        json.dumps({"reason": f"x {secret} y"}).encode(),
        f"| a.png | error | {escaped} |".encode(),
        base64.b64encode(b"prefix:" + secret.encode() + b":suffix"),
    ):
        with pytest.raises(Leak, match=what.replace("(", r"\(").replace(")", r"\)")):
            assert_nothing_leaked({"report.md": data})
    assert_nothing_leaked({"report.md": b"nothing here"})


@pytest.mark.parametrize(
    "scenario",
    scenarios(
        "unrecognized_client",
        "access_denied",
        "internal_error",
        "throttling",
        "connection_closed",
        "invalid_signature",
        "access_denied_type_in_body",
        "invalid_signature_type_in_body",
        "incomplete_signature",
        "echo_in_photo_refusal",
        "emulator",
    ),
)
def test_conformance_run_writes_no_credential_or_account_id(tmp_path: Path, manifest: Path, scenario: str) -> None:
    with endpoint(scenario, manifest, tmp_path) as service:
        done = conformance_run(tmp_path, manifest, environment(tmp_path, service.url))
    check_run(tmp_path, done, service, ENVIRONMENT, *_files(scenario))


@pytest.mark.parametrize("scenario", scenarios("access_denied", "internal_error", "emulator"))
def test_credentials_from_a_profile_stay_out_of_everything_written(
    tmp_path: Path, manifest: Path, scenario: str
) -> None:
    """AWS_PROFILE=audit, no key in the environment: the credentials file's key signs the calls."""
    with endpoint(scenario, manifest, tmp_path) as service:
        done = conformance_run(tmp_path, manifest, environment(tmp_path, service.url, source="profile"))
    check_run(tmp_path, done, service, PROFILE, *_files(scenario))


@pytest.mark.parametrize(
    "scenario", scenarios("access_denied", "internal_error", "connection_closed", "incomplete_signature", "emulator")
)
def test_pytest_run_with_junit_xml_and_long_tracebacks_writes_no_credential(
    tmp_path: Path, manifest: Path, scenario: str
) -> None:
    """The plugin's own run: ``-rA --tb=long`` prints every test's outcome and traceback, JUnit XML keeps them."""
    with endpoint(scenario, manifest, tmp_path) as service:
        done = pytest_run(tmp_path, manifest, environment(tmp_path, service.url))
    check_run(tmp_path, done, service, ENVIRONMENT, *_files(scenario, "junit.xml"))


def test_a_pytest_run_at_debug_log_level_writes_no_credential(tmp_path: Path, manifest: Path) -> None:
    """Debugging a CI job with ``--log-level=DEBUG``: captured logs go to the terminal and the JUnit XML."""
    with endpoint("access_denied", manifest, tmp_path) as service:
        env = environment(tmp_path, service.url)
        done = pytest_run(tmp_path, manifest, env, "--log-level=DEBUG", "-o", "junit_logging=all")
    check_run(tmp_path, done, service, ENVIRONMENT, "junit.xml")
