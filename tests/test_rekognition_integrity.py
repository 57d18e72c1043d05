"""No path to a silent wrong verdict through the rekognition adapter (issue 12, cases 3 to 8).

Each case an outsider found is run against the kit's emulator (on loopback, in this process) the way
they ran it, and must now end as the issue says: a face without a gender is that photo's error; a
proxy's page, a bare 429, an undocumented error or a server fault is never recorded and never makes a
recording say ``complete``; a failure hitting every call stops the run with exit 2 and one message;
placeholder credentials do not empty a recording; two runs never write one recording at once; and a
recording says when, with what and against what its answers were recorded. Expected values are
counted by hand from the tables here, or worked out with hashlib; never copied from the code's output.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance import ConformanceError, Dataset, load_dataset, load_policy
from conformance.adapters.base import AdapterSettings, Vocabulary
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.adapters.registry import create
from conformance.adapters.rekognition import endpoint_class
from conformance.emulators import EmulatorServer, Faults, RekognitionEmulator, serve
from conformance.observation import Face, Observation, Observations
from conformance.recording.lock import RecordingLock, lock_path
from conformance.recording.paths import legacy_recording_path, recording_path
from conformance.run.execution import FailureWatch, SystematicFailure
from conformance.run.runner import accounting, analyze_dataset

ROOT = Path(__file__).resolve().parents[1]
MakeManifest = Callable[..., Path]

# Twelve photos of six people; the answers are the emulator's (label, confidence), None: no gender.
ROWS = [
    {"photo": f"img/{who}{n}.png", "subject": f"{who}", "gender_identity": identity, "trans": trans}
    for who, identity, trans in (
        ("w", "woman", "no"),
        ("m", "man", "no"),
        ("t", "woman", "yes"),
        ("u", "man", "yes"),
        ("n", "nonbinary", "unknown"),
        ("v", "woman", "no"),
    )
    for n in (1, 2)
]
LABELS = {"woman": "Female", "man": "Male", "nonbinary": "Female"}


def predictions_for(rows: Sequence[Mapping[str, str]], *, no_gender: Sequence[str] = ()) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = [{"analyzer": "stand-in", "version": "1", "vocabulary": ["Male", "Female"]}]
    for index, row in enumerate(rows):
        label = None if row["photo"] in no_gender else LABELS[row["gender_identity"]]
        face = {
            "gender": label,
            "confidence": None if label is None else 90.0 + index / 10,
            "box": [0.2, 0.2, 0.5, 0.5],
        }
        lines.append({"photo": row["photo"], "faces": [face]})
    return lines


def write_jsonl(path: Path, lines: Sequence[Mapping[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def interactions(path: Path) -> list[dict[str, Any]]:
    return [r for r in records(path) if "key" in r] if path.exists() else []


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Placeholder credentials and a region; no AWS configuration of this machine; one attempt per call."""
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
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")


@pytest.fixture
def dataset(make_manifest: MakeManifest) -> Dataset:
    return load_dataset(make_manifest(ROWS))


@pytest.fixture
def cassettes(tmp_path: Path) -> Path:
    return tmp_path / "cassettes"


Start = Callable[..., EmulatorServer]


@pytest.fixture
def start(monkeypatch: pytest.MonkeyPatch) -> Iterator[Start]:
    """Serve the emulator for a dataset and predictions, and point boto3 at it."""
    servers: list[EmulatorServer] = []

    def start_one(data: Dataset, predictions: Path, faults: Faults | None = None) -> EmulatorServer:
        emulator = RekognitionEmulator(data, PredictionsAnalyzer(predictions, dataset=data), faults=faults)
        servers.append(serve(emulator))
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", servers[-1].url)
        return servers[-1]

    yield start_one
    for server in servers:
        server.close()


def analyzer(data: Dataset, cassettes: Path, mode: str, **settings: Any) -> Any:
    return create(
        "rekognition", dataset=data, settings=AdapterSettings(record_mode=mode, cassette_dir=str(cassettes), **settings)
    )


def run(data: Dataset, cassettes: Path, mode: str, **kwargs: Any) -> Observations:
    return analyze_dataset(analyzer(data, cassettes, mode), data, **kwargs)


def cli(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "conformance", "run", "--no-progress", *args]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout)


# -- case 4: a face without a gender, from an analyzer that cannot abstain, is an error ------------------


def demo_copy(folder: Path, photos: int, *, strip_gender: bool) -> tuple[Path, Path]:
    """The first ``photos`` photos of the shipped demo, their predictions with every gender taken out."""
    from conformance.demo import MANIFEST, PREDICTIONS

    rows = Path(MANIFEST).read_text(encoding="utf-8").splitlines()[: photos + 1]
    (folder / "images").mkdir(parents=True)
    for row in rows[1:]:
        name = row.split(",")[0]
        (folder / name).write_bytes((Path(MANIFEST).parent / name).read_bytes())
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    wanted = {row.split(",")[0] for row in rows[1:]}
    lines = Path(PREDICTIONS).read_text(encoding="utf-8").splitlines()
    kept = [json.loads(lines[0])]
    for line in lines[1:]:
        record = json.loads(line)
        if record.get("photo") in wanted:
            for face in record.get("faces", []):
                if strip_gender:
                    face["gender"], face["confidence"] = None, None
            kept.append(record)
    return manifest, write_jsonl(folder / "predictions.jsonl", kept)


def test_a_stand_in_answering_without_gender_stops_the_cli_run_instead_of_passing_misgender_gap(
    tmp_path: Path,
) -> None:
    """The issue's case: the demo's 600 photos through a stand-in that leaves Gender out of every face.

    Before, every face counted as "not misgendered" (rate 0.000 in every group) and misgender_gap passed.
    """
    manifest, predictions = demo_copy(tmp_path / "audit", 600, strip_gender=True)
    data = load_dataset(manifest)
    emulator = RekognitionEmulator(data, PredictionsAnalyzer(predictions, dataset=data))
    with serve(emulator) as server:
        done = cli(
            "--dataset", str(manifest), "--analyzer", "rekognition", "--record-mode", "once",
            "--cassette-dir", str(tmp_path / "cassettes"), "--report-dir", str(tmp_path / "report"),
            "--checks", "misgender_gap",
            cwd=tmp_path,
            env={"AWS_ENDPOINT_URL_REKOGNITION": server.url},
        )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("conformance: error:")]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("conformance: error: stopped: the last 20 photos all failed the same way")
    assert "the service returned no gender" in errors[0]
    assert "declares it cannot abstain" in errors[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "report" / "report.json").exists()  # no verdict, let alone a pass
    assert emulator.stats.calls == 20  # stopped at the 20th photo


def test_faces_without_gender_are_each_that_photos_error_and_the_others_stand(
    dataset: Dataset, tmp_path: Path, cassettes: Path, start: Start
) -> None:
    missing = ["img/w2.png", "img/t1.png", "img/n2.png"]
    predictions = write_jsonl(tmp_path / "p.jsonl", predictions_for(ROWS, no_gender=missing))
    with start(dataset, predictions):
        observations = run(dataset, cassettes, "once")
    outcomes = {r.photo: r.outcome for r in observations.records}
    assert [p for p, o in outcomes.items() if o == "error"] == missing
    assert sum(o == "analysed" for o in outcomes.values()) == 12 - 3
    for record in observations.records:
        if record.photo in missing:
            assert record.reason.startswith("the service returned no gender for the face it found")
            assert "Amazon Rekognition DetectFaces declares it cannot abstain" in record.reason
    # The answers themselves are recorded as the service gave them; the contract is applied to every replay.
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_ENDPOINT_URL_REKOGNITION")
        replayed = run(dataset, cassettes, "none")
    assert [r.outcome for r in replayed.records] == [r.outcome for r in observations.records]


class _Stub:
    """An analyzer from a third party: declares Male/Female and no abstention, then answers what it likes."""

    name = "stub"

    def __init__(self, answers: Mapping[str, str | None], *, can_abstain: bool = False) -> None:
        self.vocabulary = Vocabulary(
            {"Male": "man", "Female": "woman"}, source="declared by the stub", can_abstain=can_abstain
        )
        self.answers = answers

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": "1"}

    def analyze(self, photo: Any) -> Observation:
        label = self.answers[photo.id]
        gender = {"Male": "man", "Female": "woman"}.get(label or "", "woman" if label else None)
        return Observation(photo.id, "analysed", face=Face(label=label, gender=gender, confidence=80.0), faces=1)


def test_the_contract_holds_for_every_adapter_a_label_outside_the_vocabulary_and_a_missing_one(
    dataset: Dataset,
) -> None:
    answers: dict[str, str | None] = {row["photo"]: LABELS[row["gender_identity"]] for row in ROWS}
    answers["img/m1.png"] = None
    answers["img/n1.png"] = "Nonbinary"  # not among the labels it declared
    observations = analyze_dataset(_Stub(answers), dataset)
    by_photo = {r.photo: r for r in observations.records}
    assert by_photo["img/m1.png"].outcome == "error"
    assert by_photo["img/m1.png"].reason.startswith("the service returned no gender")
    assert by_photo["img/n1.png"].outcome == "error"
    assert by_photo["img/n1.png"].reason.startswith("the service returned the gender label 'Nonbinary', outside")
    assert observations.outcome_counts() == {"analysed": 10, "no_face": 0, "error": 2}
    # An analyzer that declares it can abstain keeps its abstentions.
    abstaining = analyze_dataset(_Stub({**answers, "img/n1.png": "Female"}, can_abstain=True), dataset)
    assert abstaining.outcome_counts() == {"analysed": 12, "no_face": 0, "error": 0}
    assert abstaining.records[2].face is not None
    assert abstaining.records[2].face.label is None


# -- case 5: only the vendor's answers are recorded, and complete is counted ------------------------------


@pytest.mark.parametrize(
    ("status", "retried_by"),
    [
        pytest.param(502, "botocore", id="proxy-502-page"),
        pytest.param(503, "botocore", id="proxy-503-page"),
        pytest.param(504, "botocore", id="proxy-504-page"),
        pytest.param(429, "adapter", id="bare-429"),
        pytest.param(200, "adapter", id="html-200"),
    ],
)
def test_a_proxys_pages_are_retried_never_recorded_and_each_is_that_photos_error(
    dataset: Dataset,
    tmp_path: Path,
    cassettes: Path,
    start: Start,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    retried_by: str,
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    data = load_dataset(dataset.manifest)
    predictions = write_jsonl(tmp_path / "p.jsonl", predictions_for(ROWS))
    with start(data, predictions, Faults(page_rate=1.0, page_status=status)) as server:
        # Every photo failing alike stops a run of any size (rt14d F5): here each photo's error is read instead.
        observations = run(data, cassettes, "once", systematic_failures=0)
        assert server.emulator.stats.paged == 12 * 2  # every photo asked twice (AWS_MAX_ATTEMPTS=2), by either
    assert observations.outcome_counts() == {"analysed": 0, "no_face": 0, "error": 12}
    reason = observations.records[0].reason
    assert f"HTTP {status} with a text/html body that is not JSON" in reason, reason
    assert "not recorded: run again to resume" in reason
    assert "502 Bad Gateway" in reason if status == 502 else True
    recording = recording_path(data, cassettes, "rekognition.jsonl")
    assert interactions(recording) == []  # no page is an answer
    assert not recording.exists() or not any("complete" in r for r in records(recording))


def test_undocumented_errors_and_server_faults_are_not_recorded_and_complete_waits_for_every_answer(
    dataset: Dataset, tmp_path: Path, cassettes: Path, start: Start
) -> None:
    """A third of the calls fail with a 500, another third with UnknownOperationException (seed 3): neither is
    recorded, the recording is not complete, and the next run records only those photos."""
    predictions = write_jsonl(tmp_path / "p.jsonl", predictions_for(ROWS))
    faults = Faults(error_rate=1 / 3, unknown_rate=1 / 3, seed=3)
    with start(dataset, predictions, faults) as server:
        first = run(dataset, cassettes, "once")
        stats = server.emulator.stats
    recording = recording_path(dataset, cassettes, "rekognition.jsonl")
    failed = [r for r in first.records if r.outcome == "error"]
    assert stats.errored > 0
    assert stats.failed > 0
    assert len(failed) == stats.errored + stats.failed
    assert {r.reason.split(":")[0] for r in failed} == {"InternalServerError", "UnknownOperationException"}
    assert len(interactions(recording)) == 12 - len(failed)
    assert all(i["response"]["status"]["code"] == 200 for i in interactions(recording))
    assert not any("complete" in r for r in records(recording))
    with start(dataset, predictions) as server:
        second = run(dataset, cassettes, "once")
        assert server.emulator.stats.calls == len(failed)  # only what is missing
    assert second.outcome_counts()["analysed"] == 12
    assert records(recording)[-1] == {"complete": {"photos": 12}}


def test_once_resumes_a_recording_that_says_complete_but_lacks_answers(
    dataset: Dataset, tmp_path: Path, cassettes: Path, start: Start
) -> None:
    """A recording claiming completeness falsely (as older kits wrote after proxy pages): counted, not trusted."""
    predictions = write_jsonl(tmp_path / "p.jsonl", predictions_for(ROWS))
    with start(dataset, predictions):
        run(dataset, cassettes, "once")
    recording = recording_path(dataset, cassettes, "rekognition.jsonl")
    lines = recording.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not line.startswith('{"key"')] + [
        line for line in lines if line.startswith('{"key"')
    ][:7]
    recording.write_text("\n".join(kept) + "\n", encoding="utf-8")  # 5 answers gone, "complete" still there
    assert any(json.loads(line) == {"complete": {"photos": 12}} for line in kept)
    with start(dataset, predictions) as server:
        resumed = run(dataset, cassettes, "once")
        assert server.emulator.stats.calls == 5
    assert resumed.outcome_counts()["analysed"] == 12
    assert len(interactions(recording)) == 12


# -- case 6: a failure hitting every call the same way stops the run --------------------------------------


def many_rows(count: int) -> list[dict[str, str]]:
    return [
        {
            "photo": f"img/p{i:03d}.png",
            "subject": f"s{i}",
            "gender_identity": "woman" if i % 2 else "man",
            "trans": "no",
        }
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("faults", "reason"),
    [
        pytest.param(Faults(unknown_rate=1.0), "UnknownOperationException: Unknown operation", id="unknown-operation"),
        pytest.param(Faults(error_rate=1.0), "InternalServerError: Internal server error", id="http-500"),
        pytest.param(Faults(page_rate=1.0, page_status=503), "NotRekognition: the endpoint answered", id="proxy-503"),
    ],
)
def test_a_failure_of_every_call_stops_the_cli_with_exit_2_one_message_and_nothing_recorded(
    make_manifest: MakeManifest, tmp_path: Path, faults: Faults, reason: str
) -> None:
    rows = many_rows(30)
    data = load_dataset(make_manifest(rows))
    predictions = write_jsonl(tmp_path / "p.jsonl", predictions_for(rows))
    emulator = RekognitionEmulator(data, PredictionsAnalyzer(predictions, dataset=data), faults=faults)
    with serve(emulator) as server:
        done = cli(
            "--dataset", str(data.manifest), "--analyzer", "rekognition", "--record-mode", "once",
            "--cassette-dir", str(tmp_path / "cassettes"), "--report-dir", str(tmp_path / "report"),
            cwd=tmp_path,
            env={"AWS_ENDPOINT_URL_REKOGNITION": server.url},
        )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("conformance: error:")]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith(f"conformance: error: stopped: the last 20 photos all failed the same way ({reason}")
    assert "systematic_failures" in errors[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "report" / "report.json").exists()
    assert interactions(recording_path(data, tmp_path / "cassettes", "rekognition.jsonl")) == []


def test_the_limit_comes_from_the_policy_key_systematic_failures(
    make_manifest: MakeManifest, tmp_path: Path, cassettes: Path, start: Start
) -> None:
    rows = many_rows(30)
    data = load_dataset(make_manifest(rows))
    predictions = write_jsonl(tmp_path / "p.jsonl", predictions_for(rows))
    policy = tmp_path / "policy.toml"
    policy.write_text("[tool.conformance]\nsystematic_failures = 5\n", encoding="utf-8")
    limit = load_policy(policy).systematic_failures
    assert limit == 5
    with start(data, predictions, Faults(unknown_rate=1.0)) as server:
        with pytest.raises(SystematicFailure, match=r"^stopped: the last 5 photos all failed the same way"):
            run(data, cassettes, "once", systematic_failures=limit)
        assert server.emulator.stats.calls == 5
        # 0 never stops: every photo is asked, each an error.
        observations = run(data, cassettes, "once", systematic_failures=0)
        assert observations.outcome_counts()["error"] == 30
    assert load_policy().systematic_failures == 20
    bad = tmp_path / "bad.toml"
    bad.write_text("[tool.conformance]\nsystematic_failures = -1\n", encoding="utf-8")
    with pytest.raises(ConformanceError, match="systematic_failures = -1 must be 0"):
        load_policy(bad)


def _error(photo: str, reason: str) -> Observation:
    return Observation(photo, "error", reason=reason)


def test_the_watch_stops_on_n_alike_in_a_row_or_on_all_of_the_first_n_and_not_otherwise() -> None:
    ok = Observation("p", "no_face", reason="no face found")
    # Nineteen alike, one answer, nineteen alike: never 20 in a row.
    watch = FailureWatch(20)
    for observation in [*[_error("p", "X")] * 19, ok, *[_error("p", "X")] * 19]:
        watch.see(observation)
    # Alternating reasons after a first answer: no streak, and the first 20 were not all errors.
    watch = FailureWatch(20)
    watch.see(ok)
    for i in range(100):
        watch.see(_error("p", "A" if i % 2 else "B"))
    # The first 20 all errors, of changing kinds of reason: stops at the 20th.
    watch = FailureWatch(20)
    for i in range(19):
        watch.see(_error("p", f"reason {'abcdefghijklmnopqrs'[i]}"))
    with pytest.raises(SystematicFailure, match=r"^stopped: the first 20 photos all failed"):
        watch.see(_error("p", "reason t"))
    # Twenty alike in a row after answers: stops at the 20th of them.
    watch = FailureWatch(20)
    watch.see(ok)
    for _ in range(19):
        watch.see(_error("p", "same"))
    with pytest.raises(SystematicFailure, match=r"^stopped: the last 20 photos all failed the same way \(same\)"):
        watch.see(_error("p", "same"))


def test_access_denied_still_stops_at_once_with_its_own_message(
    dataset: Dataset, tmp_path: Path, cassettes: Path, start: Start
) -> None:
    lines = predictions_for(ROWS)
    lines[1] = {"photo": ROWS[0]["photo"], "error": "AccessDeniedException: not authorised"}
    with start(dataset, write_jsonl(tmp_path / "p.jsonl", lines)), pytest.raises(ConformanceError) as excinfo:
        run(dataset, cassettes, "once")
    assert "Rekognition refused the credentials (AccessDeniedException)" in str(excinfo.value)


# -- case 7: placeholder credentials do not empty a recording; a withheld answer is said per photo ---------


def test_trivial_dummy_credentials_do_not_withhold_any_answer(
    dataset: Dataset,
    tmp_path: Path,
    cassettes: Path,
    start: Start,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    predictions = write_jsonl(tmp_path / "p.jsonl", predictions_for(ROWS))
    with start(dataset, predictions):
        observations = run(dataset, cassettes, "once")
    recording = recording_path(dataset, cassettes, "rekognition.jsonl")
    assert len(interactions(recording)) == 12  # "x" is in every answer; it is no credential
    assert records(recording)[-1] == {"complete": {"photos": 12}}
    assert observations.analyzer["withheld"] == {}
    assert "WITHHELD" not in accounting(observations)
    assert "WARNING" not in capsys.readouterr().err


class _Hostile:
    """A loopback endpoint that is not Rekognition: answers DetectFaces with what ``body_for`` returns."""

    def __init__(self, body_for: Callable[[int], tuple[int, dict[str, str], bytes]]) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.calls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.calls += 1
                status, headers, body = body_for(outer.calls)
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
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Hostile:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


FACE = {"BoundingBox": {"Width": 0.5, "Height": 0.5, "Left": 0.2, "Top": 0.2}, "Confidence": 99.0}


def test_an_answer_holding_a_credential_is_withheld_named_per_photo_and_in_the_accounting(
    dataset: Dataset, cassettes: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key_id = "AKIA" + "ABCDEFGHIJKLMNOP"  # shaped like an AWS access key id, in the third answer only

    def body_for(call: int) -> tuple[int, dict[str, str], bytes]:
        face = {**FACE, "Gender": {"Value": "Female", "Confidence": 90.0}}
        answer: dict[str, Any] = {"FaceDetails": [face]}
        if call == 3:
            answer["Echo"] = f"signed by {key_id}"
        return 200, {}, json.dumps(answer).encode()

    with _Hostile(body_for) as hostile:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", hostile.url)
        observations = run(dataset, cassettes, "once")
    third = ROWS[2]["photo"]
    assert observations.outcome_counts()["analysed"] == 12  # the answer was used in the run
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if "WARNING" in line]
    assert len(warning) == 1, err
    assert f"photo {third!r} (DetectFaces)" in warning[0]
    assert "withheld from the recording: the answer held an AWS access key id" in warning[0]
    assert "NOT in the recording" in warning[0]
    assert observations.analyzer["withheld"] == {
        third: "withheld from the recording: the answer held an AWS access key id"
    }
    assert "1 answer(s) WITHHELD from the recording by the secret scan" in accounting(observations)
    recording = recording_path(dataset, cassettes, "rekognition.jsonl")
    assert len(interactions(recording)) == 11
    assert key_id not in recording.read_text(encoding="utf-8")
    assert not any("complete" in r for r in records(recording))


# -- case 8: one writer per recording ----------------------------------------------------------------------

_RECORD = """
import os, sys
from conformance.adapters.base import AdapterSettings
from conformance.adapters.registry import create
from conformance.dataset import load_dataset
from conformance.run.runner import analyze_dataset
data = load_dataset(sys.argv[1])
settings = AdapterSettings(record_mode=sys.argv[3], cassette_dir=sys.argv[2], rate=float(sys.argv[4]))
observations = analyze_dataset(create("rekognition", dataset=data, settings=settings), data)
print(observations.outcome_counts()["analysed"])
"""


def _recorder(
    manifest: Path, cassettes: Path, url: str, *, mode: str = "once", rate: float = 40.0, wait: str = "120"
) -> subprocess.Popen[str]:
    env = {**os.environ, "AWS_ENDPOINT_URL_REKOGNITION": url, "CONFORMANCE_RECORDING_LOCK_WAIT": wait}
    return subprocess.Popen(
        [sys.executable, "-c", _RECORD, str(manifest), str(cassettes), mode, str(rate)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_recording_one_dataset_at_once_take_turns_and_lose_nothing(
    make_manifest: MakeManifest, tmp_path: Path, cassettes: Path
) -> None:
    rows = many_rows(40)
    data = load_dataset(make_manifest(rows))
    predictions = write_jsonl(tmp_path / "p.jsonl", predictions_for(rows))
    emulator = RekognitionEmulator(data, PredictionsAnalyzer(predictions, dataset=data))
    recording = recording_path(data, cassettes, "rekognition.jsonl")
    with serve(emulator) as server:
        first = _recorder(data.manifest, cassettes, server.url, rate=10.0)  # 40 photos at 10 a second: 4 s
        while not interactions(recording) and first.poll() is None:
            time.sleep(0.01)
        second = _recorder(data.manifest, cassettes, server.url)  # starts while the first is recording
        out = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], out
    assert [o[0].strip() for o in out] == ["40", "40"]  # both runs analysed every photo
    assert "waiting for recording" in out[1][1]  # the second said it waited for the first
    keys = [i["key"] for i in interactions(recording)]
    assert len(keys) == len(set(keys)) == 40  # every paid answer kept, none twice
    assert emulator.stats.calls == 40  # the second run found them all recorded
    assert sum("session" in r for r in records(recording)) == 1
    assert records(recording)[-1] == {"complete": {"photos": 40}}


def test_a_second_writer_refuses_after_its_wait_naming_the_holder_and_touches_nothing(
    dataset: Dataset, tmp_path: Path, cassettes: Path, start: Start
) -> None:
    """Another process holds the lock (a run still recording), its last line half written and another
    ``all`` run's new file beside it: this run refuses and leaves every byte as it was."""
    predictions = write_jsonl(tmp_path / "p.jsonl", predictions_for(ROWS))
    with start(dataset, predictions):
        run(dataset, cassettes, "once")
    recording = recording_path(dataset, cassettes, "rekognition.jsonl")
    torn = recording.read_bytes() + b'{"key": "' + b"a" * 30  # the holder is writing this line right now
    recording.write_bytes(torn)
    other = recording.with_name(f".{recording.name}.4242-cafe.recording")
    other.write_text("another run's new recording\n", encoding="utf-8")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time; from pathlib import Path; from conformance.recording.lock import "
         "RecordingLock; held = RecordingLock(Path(sys.argv[1]), wait=0).acquire(); print('held', flush=True); "
         "time.sleep(60)", str(recording)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        for mode in ("once", "all"):
            with start(dataset, predictions) as server:
                child = _recorder(dataset.manifest, cassettes, server.url, mode=mode, wait="1")
                _, err = child.communicate(timeout=60)
                assert server.emulator.stats.calls == 0
            assert child.returncode == 1
            assert f"recording {recording} is being written by another run (process {holder.pid} on " in err
            assert "Let that run finish" in err
            assert "--cassette-dir" in err
            assert recording.read_bytes() == torn  # the half-written line is not cut
            assert other.read_text(encoding="utf-8") == "another run's new recording\n"  # nor deleted
    finally:
        holder.kill()
        holder.wait()


def test_two_datasets_whose_folders_share_a_name_record_into_two_files_at_once(
    make_manifest: MakeManifest, tmp_path: Path, cassettes: Path
) -> None:
    rows = many_rows(20)
    first = load_dataset(make_manifest(rows, folder=tmp_path / "a" / "photos"))
    second_rows = [{**row, "photo": row["photo"].replace("p", "q", 1)} for row in rows]
    second = load_dataset(make_manifest(second_rows, folder=tmp_path / "b" / "photos"))
    for index, row in enumerate(second_rows):  # images of their own
        from PIL import Image

        Image.new("RGB", (8, 8), (index, 250 - index, 99)).save(second.root / row["photo"], format="PNG")
    second = load_dataset(second.manifest)
    assert first.name == second.name == "photos"
    paths = [recording_path(d, cassettes, "rekognition.jsonl") for d in (first, second)]
    assert paths[0] != paths[1]
    emulators = [
        RekognitionEmulator(d, PredictionsAnalyzer(write_jsonl(d.root / "p.jsonl", predictions_for(r)), dataset=d))
        for d, r in ((first, rows), (second, second_rows))
    ]
    with serve(emulators[0]) as one, serve(emulators[1]) as two:
        processes = [_recorder(first.manifest, cassettes, one.url), _recorder(second.manifest, cassettes, two.url)]
        out = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], out
    for data, path in zip((first, second), paths, strict=True):
        digests = sorted(i["request"]["body"]["Image"]["Sha256"] for i in interactions(path))
        assert digests == sorted(hashlib.sha256(p.path.read_bytes()).hexdigest() for p in data.photos)
        assert records(path)[0]["dataset"] == {"name": "photos", "tag": path.parent.name.rsplit("-", 1)[1]}


def test_fresh_stores_in_one_process_get_their_own_new_files(tmp_path: Path) -> None:
    from conformance.recording import RecordingStore

    path = tmp_path / "rekognition.jsonl"
    one = RecordingStore.open(path, adapter="rekognition", fresh=True)
    two = RecordingStore.open(path, adapter="rekognition", fresh=True)
    assert one.path != two.path
    assert re.fullmatch(r"\.rekognition\.jsonl\.\d+-[0-9a-f]{8}\.recording", one.path.name)
    one.close(succeeded=False)
    two.close(succeeded=False)


def test_a_recording_in_the_older_layout_replays_and_once_carries_its_answers_over(
    dataset: Dataset, tmp_path: Path, cassettes: Path, start: Start, capsys: pytest.CaptureFixture[str]
) -> None:
    predictions = write_jsonl(tmp_path / "p.jsonl", predictions_for(ROWS))
    with start(dataset, predictions):
        recorded = run(dataset, cassettes, "once")
    new = recording_path(dataset, cassettes, "rekognition.jsonl")
    old = legacy_recording_path(dataset, cassettes, "rekognition.jsonl")
    old.parent.mkdir(parents=True)
    new.rename(old)  # as an older kit left it: <cassette dir>/<dataset folder name>/rekognition.jsonl
    lock_path(new).unlink()
    new.parent.rmdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_ENDPOINT_URL_REKOGNITION")
        assert run(dataset, cassettes, "none").records == recorded.records  # replayed where it is
    assert not new.exists()
    with start(dataset, predictions) as server:
        again = run(dataset, cassettes, "once")
        assert server.emulator.stats.calls == 0
    assert again.records == recorded.records
    assert len(interactions(new)) == 12
    assert all(s.get("migrated_from") == str(old) for s in (r["session"] for r in records(new) if "session" in r))
    assert f"carried 12 answer(s) of this dataset over from {old}" in capsys.readouterr().err
    assert len(interactions(old)) == 12  # the old file is left as it was


# -- case 3 (the recording's half): when, with what, against what -------------------------------------------

_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def test_sessions_carry_utc_times_versions_and_the_endpoint_class_and_describe_gives_them(
    dataset: Dataset, tmp_path: Path, cassettes: Path, start: Start
) -> None:
    import boto3
    import botocore

    predictions = write_jsonl(tmp_path / "p.jsonl", predictions_for(ROWS))
    with start(dataset, predictions):
        run(dataset, cassettes, "once")
    recording = recording_path(dataset, cassettes, "rekognition.jsonl")
    (session,) = [r["session"] for r in records(recording) if "session" in r]
    (end,) = [r["session_end"] for r in records(recording) if "session_end" in r]
    assert _UTC.fullmatch(session["started"])
    assert _UTC.fullmatch(end["ended"])
    assert session["started"] <= end["ended"]
    assert end["interactions"] == 12
    assert (session["botocore"], session["boto3"], session["adapter_version"]) == (
        botocore.__version__,
        boto3.__version__,
        "1",
    )
    assert session["endpoint_class"] == "emulator"
    replay = analyzer(dataset, cassettes, "none")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("AWS_ENDPOINT_URL_REKOGNITION")
        info = analyze_dataset(replay, dataset).analyzer
    assert info["endpoint_class"] == "emulator"
    (described,) = info["recording_sessions"]
    assert (described["started"], described["ended"], described["endpoint_class"]) == (
        session["started"],
        end["ended"],
        "emulator",
    )
    assert info["recording_files"] == [
        {"path": str(recording), "sha256": hashlib.sha256(recording.read_bytes()).hexdigest()}
    ]


def test_resuming_with_another_sdk_or_endpoint_says_so_and_the_sessions_show_it(
    dataset: Dataset,
    tmp_path: Path,
    cassettes: Path,
    start: Start,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    predictions = write_jsonl(tmp_path / "p.jsonl", predictions_for(ROWS))
    with start(dataset, predictions):
        run(dataset, cassettes, "once")
    recording = recording_path(dataset, cassettes, "rekognition.jsonl")
    # As if recorded months ago with another botocore: the session line says so; 4 answers to record again.
    lines = recording.read_text(encoding="utf-8").splitlines()
    session = json.loads(lines[1])
    session["session"].update(botocore="1.0.0", started="2026-01-02T03:04:05Z")
    keys = [line for line in lines if line.startswith('{"key"')]
    recording.write_text("\n".join([lines[0], json.dumps(session), *keys[:8]]) + "\n", encoding="utf-8")

    def body_for(call: int) -> tuple[int, dict[str, str], bytes]:
        return (
            200,
            {},
            json.dumps({"FaceDetails": [{**FACE, "Gender": {"Value": "Male", "Confidence": 80.0}}]}).encode(),
        )

    with _Hostile(body_for) as other:  # a loopback stand-in that is not the kit's emulator
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", other.url)
        observations = run(dataset, cassettes, "once")
        assert other.calls == 4
    err = capsys.readouterr().err
    assert f"this run adds to {recording}, last recorded 2026-01-02T03:04:05Z" in err
    assert "botocore 1.0.0 then" in err
    assert "endpoint emulator then, loopback now" in err
    info = observations.analyzer
    assert [s["endpoint_class"] for s in info["recording_sessions"]] == ["emulator", "loopback"]
    assert info["endpoint_class"] == "loopback"  # the least trustworthy of the sessions the answers came from
    notes = " ".join(info["recording_notes"])
    assert "answers recorded in 2 sessions from 2026-01-02T03:04:05Z" in notes
    assert "differ in botocore: 1.0.0" in notes
    assert "differ in endpoint class: emulator, loopback" in notes


@pytest.mark.parametrize(
    ("url", "emulator", "kind"),
    [
        ("https://rekognition.us-east-1.amazonaws.com", False, "vendor"),
        ("https://rekognition-fips.us-gov-west-1.amazonaws.com", False, "vendor"),
        ("https://rekognition.cn-north-1.amazonaws.com.cn", False, "vendor"),
        ("http://rekognition.us-east-1.amazonaws.com", False, "other"),  # not over TLS: not to be trusted as Amazon
        ("https://rekognition.us-east-1.amazonaws.com.evil.example", False, "other"),
        ("http://127.0.0.1:8123", True, "emulator"),
        ("http://127.0.0.1:8123", False, "loopback"),
        ("http://localhost:4566", False, "loopback"),
        ("http://10.1.2.3:8080", False, "loopback"),
        ("http://[::1]:9000", False, "loopback"),
        ("https://mock.example.com", True, "other"),  # says it is the emulator, but the emulator is loopback only
        ("https://proxy.example.com/rekognition", False, "other"),
    ],
)
def test_endpoint_classes(url: str, emulator: bool, kind: str) -> None:
    assert endpoint_class(url, emulator=emulator) == kind


def test_the_lock_is_released_and_left_behind_only_where_something_was_recorded(tmp_path: Path) -> None:
    recording = tmp_path / "cassettes" / "photos-00000000" / "rekognition.jsonl"
    with RecordingLock(recording, wait=0):
        assert lock_path(recording).exists()
        with pytest.raises(ConformanceError, match="being written by another run"):
            RecordingLock(recording, wait=0).acquire()
    assert not lock_path(recording).exists()
    assert not recording.parent.parent.exists()  # nor the cassette folder it made
    recording.parent.mkdir(parents=True)
    recording.write_text("{}\n", encoding="utf-8")
    with RecordingLock(recording, wait=0):
        pass
    assert lock_path(recording).exists()
    RecordingLock(recording, wait=0).acquire().release()  # free again


# -- what a hostile endpoint adds to its answers is not recorded (red team 15, s12 and s13) -----------------


def test_members_outside_the_operations_output_are_dropped_from_the_recording_and_counted(
    dataset: Dataset, cassettes: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An endpoint padding each valid answer with a member DetectFaces does not have (here 1 MB; 20 MB in s12)."""

    def body_for(call: int) -> tuple[int, dict[str, str], bytes]:
        face = {**FACE, "Gender": {"Value": "Female", "Confidence": 90.0}}
        return 200, {}, json.dumps({"FaceDetails": [face], "Pad": "x" * 1_000_000, "Debug": call}).encode()

    with _Hostile(body_for) as hostile:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", hostile.url)
        observations = run(dataset, cassettes, "once")
    assert observations.outcome_counts()["analysed"] == 12
    recording = recording_path(dataset, cassettes, "rekognition.jsonl")
    answers = interactions(recording)
    assert len(answers) == 12
    for answer in answers:
        body = json.loads(answer["response"]["body"])
        assert set(body) == {"FaceDetails"}
        assert int(answer["response"]["headers"].get("Content-Length", len(answer["response"]["body"]))) == len(
            answer["response"]["body"].encode()
        )
    assert recording.stat().st_size < 100_000  # not 12 MB
    err = capsys.readouterr().err
    assert (
        "conformance: WARNING: the endpoint's answers held members outside the operation's output shape: "
        "'Debug' (12), 'Pad' (12) (answers holding each); they were dropped from the recording"
    ) in err
    replayed = run(dataset, cassettes, "none")  # the trimmed answers replay to the same observations
    assert [o.face for o in replayed.records] == [o.face for o in observations.records]


def test_an_answer_too_large_to_record_is_used_named_per_photo_and_not_recorded(
    dataset: Dataset, cassettes: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 400 documented for DetectFaces with an 8 MB message (s13), and padding inside the answer's own members."""
    from conformance.recording.cassette import MAX_RECORDED_BODY

    first, second = ROWS[0]["photo"], ROWS[1]["photo"]

    def body_for(call: int) -> tuple[int, dict[str, str], bytes]:
        face = {**FACE, "Gender": {"Value": "Female", "Confidence": 90.0}}
        if call == 1:
            message = "m" * (MAX_RECORDED_BODY + 1)
            return 400, {}, json.dumps({"__type": "InvalidImageFormatException", "Message": message}).encode()
        if call == 2:
            face["Landmarks"] = [{"Type": "eyeLeft", "X": 0.5, "Y": 0.5}] * 300_000  # 11 MB in a known member
        return 200, {}, json.dumps({"FaceDetails": [face]}).encode()

    with _Hostile(body_for) as hostile:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", hostile.url)
        observations = run(dataset, cassettes, "once")
    counts = observations.outcome_counts()
    # The 400 is the photo's error as before; the 11 MB 200 is over what a DetectFaces answer can be (red team
    # 15e F5: 1.6 MiB): refused unparsed, that photo's error too.
    assert counts == {"analysed": 10, "no_face": 0, "error": 2}
    reasons = {o.photo: o.reason for o in observations.records}
    for photo in (first, second):
        assert reasons[photo].startswith("AnswerTooLarge: the endpoint ")
        assert "DetectFaces answered with" in reasons[photo]
    err = capsys.readouterr().err
    for photo in (first, second):
        assert f"photo {photo!r} (DetectFaces): its answer was withheld from the recording: the answer is" in err
    assert "MB, over the 8 MB the kit records" in err
    assert "2 answer(s) WITHHELD from the recording as too large to record" in accounting(observations)
    recording = recording_path(dataset, cassettes, "rekognition.jsonl")
    assert len(interactions(recording)) == 10
    assert recording.stat().st_size < 100_000
