"""Vendor responses that break the API's contract become a photo's error with the reason, never a crash.

botocore parses a response against the service model but does not insist on its members: a face
without a confidence, a box missing a side, a label outside ``GenderType`` all reach the adapter.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters.base import AdapterSettings
from conformance.adapters.rekognition import RekognitionAnalyzer
from conformance.dataset import load_dataset
from conformance.recording.cassette import _gunzip
from conformance.recording.store import RecordingError

BOX = {"Left": 0.1, "Top": 0.2, "Width": 0.3, "Height": 0.4}


@pytest.fixture
def analyzer(make_manifest: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[RekognitionAnalyzer, Any]:
    manifest = make_manifest([{"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"}])
    dataset = load_dataset(manifest)
    return RekognitionAnalyzer(dataset=dataset, settings=AdapterSettings()), dataset.photos[0]


def answer(analyzer: tuple[RekognitionAnalyzer, Any], monkeypatch: pytest.MonkeyPatch, *faces: Any) -> Any:
    adapter, photo = analyzer
    monkeypatch.setattr(adapter, "_call", lambda method, **params: {"FaceDetails": list(faces)})
    return adapter.analyze(photo)


def analyse_answer(analyzer: tuple[RekognitionAnalyzer, Any], status: int, body: bytes) -> Any:
    """The adapter's observation when the service answers ``status`` and ``body``, parsed by botocore itself
    (the HTTP layer short-circuited in botocore's ``before-send`` event: no socket, no server)."""
    import boto3
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config

    adapter, photo = analyzer

    class Raw:
        def stream(self, **_: Any) -> Any:
            yield body

    client = boto3.session.Session().client(
        "rekognition",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="FUZZ",
        aws_secret_access_key="FUZZ",
        config=Config(retries={"total_max_attempts": 1}),
    )
    client.meta.events.register(
        "before-send.rekognition.DetectFaces",
        lambda request, **_: AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1"}, Raw()),
    )
    adapter._client = client
    return adapter.analyze(photo)


def test_a_well_formed_face_is_analysed(analyzer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    observation = answer(analyzer, monkeypatch, {"Gender": {"Value": "Female", "Confidence": 97.5}, "BoundingBox": BOX})
    assert observation.outcome == "analysed"
    assert (observation.face.label, observation.face.gender, observation.face.confidence) == ("Female", "woman", 97.5)
    assert observation.face.box == (0.1, 0.2, 0.3, 0.4)


@pytest.mark.parametrize(
    ("face", "reason"),
    [
        ({"Gender": {"Value": "Robot", "Confidence": 90.0}}, "a gender label 'Robot' outside the vocabulary"),
        ({"Gender": {"Value": 7, "Confidence": 90.0}}, "a gender label '7' outside the vocabulary"),
        ({"Gender": {"Value": "Male", "Confidence": 150.0}}, "a gender confidence of 150, outside 0-100"),
        ({"Gender": {"Value": "Male", "Confidence": "high"}}, "a gender confidence of 'high', not a number"),
        ({"Gender": {"Value": "Male", "Confidence": float("nan")}}, "a gender confidence of 'nan', not a number"),
        ({"Gender": {"Value": "Male"}, "BoundingBox": {"Left": "x"}}, "a box of 'x', not a number"),
    ],
)
def test_a_face_breaking_the_contract_is_an_error_naming_what_came(
    analyzer: Any, monkeypatch: pytest.MonkeyPatch, face: Any, reason: str
) -> None:
    observation = answer(analyzer, monkeypatch, face)
    assert observation.outcome == "error"
    assert observation.reason.startswith("Rekognition answered " + reason), observation.reason


def test_missing_members_are_absent_values_not_crashes(analyzer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # No confidence, a box missing a side: the face counts, with what it has.
    observation = answer(analyzer, monkeypatch, {"Gender": {"Value": "Male"}, "BoundingBox": {"Left": 0.1}})
    assert observation.outcome == "analysed"
    assert (observation.face.label, observation.face.confidence, observation.face.box) == ("Male", None, None)
    # No gender at all: a face without a label (an abstention, as the checks count it).
    observation = answer(analyzer, monkeypatch, {"BoundingBox": BOX})
    assert (observation.outcome, observation.face.label, observation.face.gender) == ("analysed", None, None)


def test_a_gzip_bomb_is_refused_before_it_inflates(tmp_path: Path) -> None:
    bomb = gzip.compress(b"\0" * (65 * 1024 * 1024))  # 65 MB of zeros: about 64 kB compressed
    assert len(bomb) < 1024 * 1024
    with pytest.raises(RecordingError, match="inflating beyond 64 MB"):
        _gunzip(bomb)
    assert _gunzip(gzip.compress(b'{"FaceDetails": []}')) == b'{"FaceDetails": []}'
    with pytest.raises(RecordingError, match="does not decompress"):
        _gunzip(b"\x1f\x8b\x08\x00garbage")


# -- found by the security review, kept as regression tests ----------------------------------------------


def test_a_symlink_loop_in_the_dataset_is_refused_naming_the_row(tmp_path: Path) -> None:
    from conformance.errors import ManifestError

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.png").symlink_to("a.png")  # a link to itself
    (folder / "manifest.csv").write_text("photo,subject,gender_identity,trans\na.png,s1,woman,no\n")
    with pytest.raises(ManifestError, match=r"row 2: photo 'a.png' is a symlink loop"):
        load_dataset(folder / "manifest.csv")


def test_a_manifest_path_through_dot_dot_names_the_dataset_after_its_real_folder(make_manifest: Any) -> None:
    manifest = make_manifest([{"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"}])
    (manifest.parent / "sub").mkdir()
    assert load_dataset(manifest.parent / "sub" / ".." / manifest.name).name == manifest.parent.name


def test_terminal_escapes_in_a_group_name_are_printed_escaped(make_manifest: Any) -> None:
    from conformance.assertions import format_result, headline, printable

    # Tab and newline too (issue 15): a value stays on its line (tests/test_console_escaping.py has the rest).
    assert printable("a\x1b[2Jb\u202ec\td\ne") == "a\\x1b[2Jb\\u202ec\\x09d\\x0ae"
    rows = [
        {"photo": f"{i}.png", "subject": f"s{i}", "gender_identity": "woman", "trans": "no", "team": team}
        for i, team in enumerate(["\x1b[2Jred", "\x1b[2Jred", "blue", "blue"])
    ]
    from conformance import load_policy, run_check
    from conformance.dataset import group_labels
    from conformance.observation import Face, Observation, Observations

    dataset = load_dataset(make_manifest(rows))
    observations = Observations.build(
        dataset,
        [Observation(p.id, "analysed", Face("Female", "woman", 90.0)) for p in dataset.photos],
        analyzer={"vocabulary": {"labels": {"Female": "woman", "Male": "man"}}},
    )
    result = run_check(
        "misgender_gap",
        observations,
        groups=group_labels(dataset, ["team"]),
        reference="blue",
        policy=load_policy(None),
        seed=1,
    )
    for text in (headline(result), format_result(result)):
        assert "\x1b" not in text
    assert "\\x1b[2Jred" in format_result(result)


def test_a_recording_from_another_adapter_version_is_refused_naming_both(tmp_path: Path) -> None:
    import json
    import shutil

    from conformance.adapters.rekognition import ADAPTER_VERSION
    from conformance.demo import CASSETTES, MANIFEST
    from conformance.run.runner import analyze_dataset

    dataset = load_dataset(MANIFEST)
    folder = tmp_path / dataset.name
    shutil.copytree(Path(CASSETTES) / dataset.name, folder)
    recording = folder / "rekognition.jsonl"
    lines = recording.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.startswith('{"session"'):
            record = json.loads(line)
            record["session"]["adapter_version"] = "0"
            lines[index] = json.dumps(record)
    recording.write_text("\n".join(lines) + "\n")
    analyzer = RekognitionAnalyzer(dataset=dataset, settings=AdapterSettings(cassette_dir=str(tmp_path)))
    with pytest.raises(RecordingError) as caught:
        analyze_dataset(analyzer, dataset)
    message = str(caught.value)
    assert "recorded by rekognition adapter version 0" in message
    assert f"this kit's is {ADAPTER_VERSION}" in message
    assert "--record-mode all" in message


@pytest.mark.parametrize(
    ("faces", "reason"),
    [
        ([None], "a face that is not an object (NoneType)"),
        ([{"Gender": {"Value": "Male", "Confidence": 10**400}}], "a gender confidence of '1000000000000"),
    ],
)
def test_faces_that_are_not_faces_are_errors(
    analyzer: Any, monkeypatch: pytest.MonkeyPatch, faces: Any, reason: str
) -> None:
    observation = answer(analyzer, monkeypatch, *faces)
    assert observation.outcome == "error"
    assert observation.reason.startswith("Rekognition answered " + reason), observation.reason


@pytest.mark.parametrize(
    ("body", "error"),
    [(b"\x80\x81 not utf-8", "UnicodeDecodeError"), (b"[" * 100_000, "RecursionError"), (b"null", "")],
)
def test_an_answer_botocore_cannot_read_is_that_photos_error(analyzer: Any, body: bytes, error: str) -> None:
    """Through botocore's own parser: the HTTP layer is short-circuited to answer ``body``."""
    observation = analyse_answer(analyzer, 200, body)
    assert observation.outcome in ("error", "no_face")
    if error:
        assert observation.outcome == "error"
        assert observation.reason == f"MalformedResponse: the answer to detect_faces could not be read ({error})"


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (400, b'{"__type": ""}', "the service refused it without an error code or message"),
        (400, b'{"__type": "InvalidImageFormatException"}', "InvalidImageFormatException"),
        (400, b'{"__type": 0}', "MalformedResponse: the answer to detect_faces could not be read (TypeError)"),
        (400, b"[]", "MalformedResponse: the answer to detect_faces could not be read (AttributeError)"),
        (200, b'{"FaceDetails": false}', "MalformedResponse: the answer to detect_faces could not be read (TypeError)"),
    ],
)
def test_refusals_always_carry_a_reason(analyzer: Any, status: int, body: bytes, reason: str) -> None:
    observation = analyse_answer(analyzer, status, body)
    assert (observation.outcome, observation.reason) == ("error", reason)


def test_a_very_long_vendor_message_is_cut_in_the_reason(analyzer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance.adapters.rekognition_answers import Refused

    adapter, photo = analyzer

    def refuse(method: str, **params: Any) -> Any:
        raise Refused("InvalidParameterException", "x" * 100_000)

    monkeypatch.setattr(adapter, "_call", refuse)
    observation = adapter.analyze(photo)
    assert observation.reason == "InvalidParameterException: " + "x" * 500 + "... (100000 characters)"


@pytest.mark.parametrize("content", [b"\x0b", b" ", b"\t", b"\n", b"\n\n  \n"])
def test_a_recording_of_blank_space_starts_anew_with_its_header(tmp_path: Path, content: bytes) -> None:
    from conformance.recording.store import RecordingStore

    path = tmp_path / "rekognition.jsonl"
    path.write_bytes(content)
    with RecordingStore.open(path, adapter="rekognition") as store:
        store.begin_session({"adapter_version": "1"}, "note")
        store.append("a" * 64, "DetectFaces", {"operation": "DetectFaces", "body": None}, {"status": {"code": 200}})
    lines = path.read_text().splitlines()
    assert lines[0].startswith('{"recording": "conformance"')
    assert lines[1].startswith('{"session"')
    assert lines[2].startswith('{"key": "' + "a" * 64)
    assert len(RecordingStore.open(path, adapter="rekognition")) == 1


def test_a_recording_whose_first_line_is_blank_still_needs_its_header(tmp_path: Path) -> None:
    from conformance.recording.store import RecordingStore

    path = tmp_path / "rekognition.jsonl"
    path.write_text('\n{"session": {}}\n')
    with pytest.raises(RecordingError, match="line 2: not a conformance recording"):
        RecordingStore.open(path, adapter="rekognition")
