"""The recording store and what a recording keeps: written by hand here, so every expectation is ours.

Recordings are JSONL: a header line, session lines, interaction lines keyed by a 64-hex request key,
and a ``complete`` line. Bodies here are short markers ("first", "second") so a test can see which
interaction was played.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import ConformanceError
from conformance.recording import RecordingError, RecordingStore, effective_mode
from conformance.recording.scrub import canonical_body, scrub_arns, scrub_headers

HEADER = {"recording": "conformance", "format": 1, "adapter": "rekognition", "note": "written by a test"}
SESSION = {"session": {"adapter_version": "1", "botocore": "0.0", "endpoint": "http://127.0.0.1:9", "emulator": True}}


def body_of(name: str) -> dict[str, Any]:
    return {"Image": {"Sha256": hashlib.sha256(name.encode()).hexdigest()}}


def key_of(name: str) -> str:
    """The key the store checks a line against: SHA-256 of the operation and the canonical body."""
    canonical = json.dumps(body_of(name), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"DetectFaces\n{canonical}".encode()).hexdigest()


NAMES = {key_of(name): name for name in ("photo a", "photo b", "photo c")}
KEY_A, KEY_B, KEY_C = (key_of(name) for name in ("photo a", "photo b", "photo c"))


def interaction(key: str, marker: str) -> dict[str, Any]:
    return {
        "key": key,
        "operation": "DetectFaces",
        "request": {"operation": "DetectFaces", "body": body_of(NAMES[key])},
        "response": {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": marker},
    }


def write(path: Path, records: list[dict[str, Any]], tail: str = "") -> Path:
    """Write records one per line (as the store does: json.dumps, one line each), then ``tail`` raw."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail, encoding="utf-8")
    return path


def lines_of(*records: dict[str, Any]) -> list[str]:
    return [json.dumps(r) for r in records]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "rekognition.jsonl"


def load(path: Path) -> RecordingStore:
    store = RecordingStore.open(path, adapter="rekognition")
    store.close()
    return store


# -- foreign, corrupt and torn recordings ---------------------------------------------------------------


def test_a_recording_made_by_another_adapter_is_refused(path: Path) -> None:
    write(path, [{**HEADER, "adapter": "acme-face"}, SESSION, interaction(KEY_A, "first")])
    with pytest.raises(RecordingError, match=r"recorded by adapter 'acme-face', not 'rekognition'"):
        load(path)


@pytest.mark.parametrize(
    "first",
    [
        {"analyzer": "acme-face", "version": "1", "vocabulary": ["Male", "Female"]},  # a predictions file
        {"photo": "img/1.png", "faces": []},
        {**HEADER, "recording": "vcrpy"},
        {**HEADER, "format": 2},
    ],
    ids=["predictions-header", "predictions-line", "other-recorder", "other-format"],
)
def test_a_jsonl_that_is_not_a_conformance_recording_is_refused(path: Path, first: dict[str, Any]) -> None:
    write(path, [first, {"photo": "img/2.png", "faces": []}])
    with pytest.raises(RecordingError, match="not a conformance recording"):
        load(path)


def test_a_binary_file_is_refused_as_not_text(path: Path) -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe" + bytes(range(256)))
    with pytest.raises(RecordingError, match="not UTF-8"):
        load(path)


def test_a_recording_without_its_header_line_is_refused(path: Path) -> None:
    write(path, [interaction(KEY_A, "first"), interaction(KEY_B, "second")])
    with pytest.raises(RecordingError, match="not a conformance recording"):
        load(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda line: line.replace(KEY_B[:8], "zzzzzzzz", 1), "unknown line"),  # the key is no longer hex
        (lambda line: line[:40] + line[41:], "line 4"),  # a 63-digit key
        (lambda line: "garbage " + line, "not a recording line"),
        (lambda line: json.dumps({"kind": "unknown"}), "unknown line"),
    ],
    ids=["key-not-hex", "key-shortened", "prefixed", "unknown-kind"],
)
def test_an_edited_line_in_the_middle_is_refused_naming_it(path: Path, edit: Any, message: str) -> None:
    lines = lines_of(HEADER, SESSION, interaction(KEY_A, "first"), interaction(KEY_B, "second"))
    lines += lines_of(interaction(KEY_C, "third"), {"complete": {"photos": 3}})
    lines[3] = edit(lines[3])  # line 4
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RecordingError, match="line 4") as excinfo:
        load(path)
    assert message in str(excinfo.value)
    assert str(path) in str(excinfo.value)


def test_an_interaction_line_broken_inside_is_refused_naming_it(path: Path) -> None:
    lines = lines_of(HEADER, SESSION, interaction(KEY_A, "first"), interaction(KEY_B, "second"))
    lines += lines_of(interaction(KEY_C, "third"), {"complete": {"photos": 3}})
    cut = lines[3].index('"response"')
    lines[3] = lines[3][:cut] + lines[3][cut + 1 :]  # one quote gone: prefix and closing brace intact
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RecordingError, match="line 4"):
        play_all(path, (KEY_A, KEY_B, KEY_C))


def play_all(path: Path, keys: tuple[str, ...]) -> None:
    """Open a recording and play each key once (a broken line may be found at either step)."""
    store = RecordingStore.open(path, adapter="rekognition")
    for key in keys:
        store.play(key)


def test_a_torn_last_interaction_is_dropped_and_reported(path: Path) -> None:
    torn = json.dumps(interaction(KEY_C, "third"))
    write(path, [HEADER, SESSION, interaction(KEY_A, "first"), interaction(KEY_B, "second")], torn[:100])
    store = load(path)
    assert store.dropped_tail is True
    assert len(store) == 2
    assert (KEY_A in store, KEY_B in store, KEY_C in store) == (True, True, False)
    assert store.complete is False


def test_a_torn_complete_line_is_dropped_and_the_recording_stays_incomplete(path: Path) -> None:
    write(path, [HEADER, SESSION, interaction(KEY_A, "first")], '{"complete": {"pho')
    store = load(path)
    assert (store.dropped_tail, store.complete, len(store)) == (True, False, 1)


def test_a_whole_recording_loads_with_nothing_dropped(path: Path) -> None:
    records = [HEADER, SESSION, interaction(KEY_A, "first"), SESSION, interaction(KEY_B, "second")]
    write(path, [*records, {"complete": {"photos": 2}}])
    store = load(path)
    assert (store.dropped_tail, store.complete, len(store)) == (False, True, 2)
    assert store.sessions == [SESSION["session"], SESSION["session"]]


def test_recording_errors_are_conformance_errors() -> None:
    assert issubclass(RecordingError, ConformanceError)


# -- replay order per key --------------------------------------------------------------------------------


def test_play_replays_a_keys_interactions_in_recorded_order_then_repeats_the_last(path: Path) -> None:
    write(
        path,
        [HEADER, SESSION, interaction(KEY_A, "first"), interaction(KEY_B, "only"), interaction(KEY_A, "second")],
    )
    store = load(path)
    assert len(store) == 3
    assert [store.play(KEY_A)["response"]["body"] for _ in range(4)] == ["first", "second", "second", "second"]
    assert [store.play(KEY_B)["response"]["body"] for _ in range(2)] == ["only", "only"]


def test_appended_interactions_survive_a_reopen_and_a_repeat_replays_the_newest(path: Path) -> None:
    store = RecordingStore.open(path, adapter="rekognition")
    store.begin_session(SESSION["session"], "note")
    first = interaction(KEY_A, "first")
    store.append(KEY_A, "DetectFaces", first["request"], first["response"])
    assert store.play(KEY_A)["response"]["body"] == "first"  # just recorded: a repeat gets it
    store.mark_complete(1)
    store.close()
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [next(iter(r)) for r in records] == ["recording", "session", "key", "session_end", "complete"]
    assert {k: records[0][k] for k in ("recording", "format", "adapter")} == {
        "recording": "conformance",
        "format": 1,
        "adapter": "rekognition",
    }
    again = load(path)
    assert (len(again), again.complete) == (1, True)
    # The session as begun, and when it ended with how many interactions, and calls sent (none counted here).
    (session,) = again.sessions
    ended = records[3]["session_end"]["ended"]
    assert session == {**SESSION["session"], "ended": ended, "interactions": 1, "calls_made": 0}


def test_a_fresh_store_leaves_the_old_file_alone_until_it_closes_and_keeps_what_it_did_not_ask_again(
    path: Path,
) -> None:
    """Record mode all asks its own requests anew and loses nothing else (red-team of issue 12, F6: two
    manifests in one folder share one recording, and re-recording one of them dropped the other's answers)."""
    write(
        path, [HEADER, SESSION, interaction(KEY_A, "old a"), interaction(KEY_B, "old b"), {"complete": {"photos": 2}}]
    )
    before = path.read_bytes()
    store = RecordingStore.open(path, adapter="rekognition", fresh=True)
    assert len(store) == 0
    store.begin_session(SESSION["session"], "note")
    new = interaction(KEY_B, "new b")
    store.append(KEY_B, "DetectFaces", new["request"], new["response"])
    assert path.read_bytes() == before
    store.close()
    reopened = load(path)
    assert (len(reopened), reopened.play(KEY_A)["response"]["body"], reopened.play(KEY_B)["response"]["body"]) == (
        2,
        "old a",  # not asked again: kept, under its own session line, marked as kept
        "new b",  # asked again: the new answer only
    )
    assert [s.get("kept_by_record_mode_all") for s in reopened.sessions] == [None, "answers this run did not ask again"]
    assert reopened.sessions[1]["endpoint"] == SESSION["session"]["endpoint"]  # where and when it was recorded


# -- record modes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "complete", "expected"),
    [
        ("none", False, "none"),
        ("none", True, "none"),
        ("once", False, "new_episodes"),  # an interrupted recording goes on recording what is missing
        ("once", True, "none"),
        ("new_episodes", False, "new_episodes"),
        ("new_episodes", True, "new_episodes"),
        ("all", False, "all"),
        ("all", True, "all"),
        ("rewrite", True, "all"),  # pytest-recording's name for all
    ],
)
def test_effective_mode(path: Path, mode: str, complete: bool, expected: str) -> None:
    records = [HEADER, SESSION, interaction(KEY_A, "first")]
    write(path, [*records, {"complete": {"photos": 1}}] if complete else records)
    store = load(path)
    assert store.complete is complete
    assert effective_mode(mode, store) == expected


def test_effective_mode_of_an_empty_store_under_once_records(path: Path) -> None:
    assert effective_mode("once", load(path)) == "new_episodes"


def test_an_unknown_record_mode_is_refused_naming_the_choices(path: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"record mode 'sometimes': record modes: none \(replay only, the default\), once, new_episodes, all",
    ):
        effective_mode("sometimes", load(path))


# -- canonical bodies ------------------------------------------------------------------------------------

_KEYS = st.text(min_size=1, max_size=8).filter(lambda k: k not in ("Bytes", "Sha256", "Image", "Attributes"))
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**9), 10**9) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_KEYS, children, max_size=3),
    max_leaves=8,
)


@settings(derandomize=True, database=None, deadline=None, max_examples=200)
@given(
    raw=st.binary(max_size=300),
    attributes=st.lists(st.sampled_from(["DEFAULT", "GENDER", "ALL"]), max_size=3),
    extra=st.dictionaries(_KEYS, _JSON, max_size=3),
    as_bytes=st.booleans(),
)
def test_canonical_body_is_idempotent_and_keeps_only_the_image_digest(
    raw: bytes, attributes: list[str], extra: dict[str, Any], as_bytes: bool
) -> None:
    encoded = base64.b64encode(raw).decode()
    text = json.dumps({**extra, "Attributes": attributes, "Image": {"Bytes": encoded}})
    once = canonical_body(text.encode() if as_bytes else text)
    assert canonical_body(once) == once
    assert canonical_body(once.encode()) == once
    parsed = json.loads(once)
    assert parsed["Image"] == {"Sha256": hashlib.sha256(raw).hexdigest()}
    assert parsed == {**extra, "Attributes": attributes, "Image": parsed["Image"]}
    if len(encoded) >= 8:
        assert encoded not in once


def test_canonical_body_replaces_every_image_with_the_sha256_of_its_decoded_bytes() -> None:
    source, target = b"\x89PNG\r\n\x1a\nsource", b"\xff\xd8\xfftarget"
    body = {
        "SourceImage": {"Bytes": base64.b64encode(source).decode()},
        "TargetImage": {"Bytes": base64.b64encode(target).decode()},
        "SimilarityThreshold": 80,
    }
    canonical = canonical_body(json.dumps(body, indent=2))
    assert json.loads(canonical) == {
        "SimilarityThreshold": 80,
        "SourceImage": {"Sha256": hashlib.sha256(source).hexdigest()},
        "TargetImage": {"Sha256": hashlib.sha256(target).hexdigest()},
    }
    # Key order and spacing do not matter: the same request gives the same canonical body.
    assert canonical_body(json.dumps(dict(reversed(list(body.items()))))) == canonical
    assert canonical_body(None) == canonical_body(b"") == canonical_body("") == ""


def test_canonical_body_of_a_non_json_body_is_idempotent_and_holds_only_a_digest() -> None:
    once = canonical_body(b"\x00\x01 not json at all")
    assert json.loads(once) == {"Sha256OfBody": hashlib.sha256(b"\x00\x01 not json at all").hexdigest()}
    assert canonical_body(once) == once


# -- scrubbing -------------------------------------------------------------------------------------------


def test_scrub_headers_drops_credentials_dates_and_sdk_ids_and_decodes_bytes() -> None:
    headers = {
        "Authorization": b"AWS4-HMAC-SHA256 Credential=" + b"AKIA" + b"ABCDEFGHIJKLMNOP/20261121/us-east-1/rekognition",
        "X-Amz-Security-Token": b"FwoGZXIvYXdzEXAMPLETOKEN",
        "X-Amz-Date": b"20261121T000000Z",
        "User-Agent": b"Boto3/1.43.11 md/Botocore#1.43.11",
        "amz-sdk-invocation-id": b"9b2f6c3e-0000-4000-8000-000000000000",
        "amz-sdk-request": b"attempt=1; max=2",
        "x-amz-content-sha256": b"UNSIGNED-PAYLOAD",
        "X-Amz-Target": b"RekognitionService.DetectFaces",
        "Content-Type": b"application/x-amz-json-1.1",
        "Content-Length": "123",
        "x-amzn-RequestId": ["conformance-emulator-000000000001"],
    }
    assert scrub_headers(headers) == {
        "X-Amz-Target": "RekognitionService.DetectFaces",
        "Content-Type": "application/x-amz-json-1.1",
        "Content-Length": "123",
        "x-amzn-RequestId": "conformance-emulator-000000000001",
    }


def test_scrub_headers_matches_names_in_any_case() -> None:
    headers = {"authorization": "x", "X-AMZ-SECURITY-TOKEN": "y", "USER-AGENT": "z", "Amz-Sdk-Request": "a"}
    assert scrub_headers(headers) == {}


def test_scrub_headers_scrubs_account_ids_in_values() -> None:
    kept = scrub_headers({"x-amzn-ErrorMessage": b"User: arn:aws:iam::123456789012:user/bob is not authorized"})
    assert kept == {"x-amzn-ErrorMessage": "User: arn:aws:iam::ACCOUNT:user/bob is not authorized"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "arn:aws:rekognition:us-east-1:123456789012:collection/faces",
            "arn:aws:rekognition:us-east-1:ACCOUNT:collection/faces",
        ),
        ("arn:aws:iam::123456789012:role/audit", "arn:aws:iam::ACCOUNT:role/audit"),
        (
            "arn:aws-us-gov:rekognition:us-gov-west-1:210987654321:project/p",
            "arn:aws-us-gov:rekognition:us-gov-west-1:ACCOUNT:project/p",
        ),
        (
            '{"A": "arn:aws:iam::111111111111:role/x", "B": "arn:aws:iam::222222222222:role/y"}',
            '{"A": "arn:aws:iam::ACCOUNT:role/x", "B": "arn:aws:iam::ACCOUNT:role/y"}',
        ),
        ("order 123456789012 shipped", "order 123456789012 shipped"),  # not an ARN: left alone
    ],
)
def test_scrub_arns_replaces_account_ids(text: str, expected: str) -> None:
    assert scrub_arns(text) == expected


def test_collection_arns_without_the_arn_prefix_are_scrubbed_too() -> None:
    # Rekognition's CollectionArn reads "aws:rekognition:REGION:ACCOUNT:collection/ID", no "arn:" in front.
    from conformance.recording.scrub import scan_text, scrub_arns

    text = '{"CollectionArn": "aws:rekognition:us-east-1:123456789012:collection/c"}'
    assert scrub_arns(text) == '{"CollectionArn": "aws:rekognition:us-east-1:ACCOUNT:collection/c"}'
    assert scan_text(text) == ["an account id in an ARN"]
    assert scan_text(scrub_arns(text)) == []


def test_a_line_whose_request_was_edited_is_refused_when_played(path: Path) -> None:
    # The key indexes the line: a request edited to another image must not answer for the first one.
    edited = interaction(KEY_A, "first")
    edited["request"]["body"] = body_of("photo b")
    write(path, [HEADER, SESSION, edited])
    store = RecordingStore.open(path, adapter="rekognition")
    with pytest.raises(RecordingError, match="line 3: the interaction's key does not match its request"):
        store.play(KEY_A)
    store.close()
