"""Red team 15e (issue 15, third pass): the holes it found in the fixes for 15d, each pinned by a test that
failed before the fix.

- F1: a real shared-answers entry was refused by the run's bounds (1 KiB and 64 JSON values an answer, the
  commas inside kept error messages counted as values), so every xdist worker called the model again;
- F2: a 16-bit RGB TIFF whose BitsPerSample is a FLOAT, DOUBLE or RATIONAL was sent cut to 8 bits;
- F3: a 16-bit white-is-zero grey TIFF was sent as its negative, a 12-bit grey 16 times darker;
- F5: a hostile endpoint's huge answer was parsed (about 64 times its size in memory), and running out of
  memory was told as "HTTP failure (An HTTP Client raised an unhandled exception: )";
- F6: a raw NUL in a CSV manifest was accepted, and a UTF-16 CSV without a byte-order mark was refused as
  "missing required columns".
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conformance import ConformanceError, Dataset, load_dataset, sharing
from conformance.adapters import predictions, rekognition_answers
from conformance.adapters.base import AdapterSettings
from conformance.adapters.python import analyzer as python_analyzer
from conformance.adapters.registry import create
from conformance.errors import ManifestError
from conformance.images import for_upload
from conformance.run import cache
from conformance.run.cache import json_values
from conformance.run.runner import analyze_dataset
from conformance.sharing import Share

MakeManifest = Callable[..., Path]
KEY = "k" * 64


# -- F1: the bounds are the kit's own caps; values are counted outside strings --------------------------------


@pytest.mark.parametrize(
    ("text", "values"),
    [
        # Outside strings: { : , : [ , {  -> 7 marks, 8 at most; it holds 7 (the object, 2 keys, a string,
        # a list, 1, {}). The ",:[{" inside "x,y:[{" are not counted (they were: 12).
        ('{"a":"x,y:[{","b":[1,{}]}', 8),
        ('["a\\",b", 1]', 3),  # an escaped quote does not end the string: its comma is inside it
        ('["\\\\", ",", 1]', 4),  # an escaped backslash does end it: the next string's comma is inside that one
        ('{"a": "x,y', 4),  # not JSON (an unterminated string): counted whole, never less than it holds
        ("[]", 2),
    ],
)
def test_json_values_are_counted_outside_strings(text: str, values: int) -> None:
    assert json_values(text) == values


def test_the_adapters_keep_no_longer_messages_than_the_bounds_allow_for() -> None:
    """The bounds allow REASON_CHARS characters of a model's or a vendor's message: the adapters' caps."""
    limits = (predictions._REASON_LIMIT, python_analyzer._REASON_LIMIT, rekognition_answers.MAX_REASON)
    assert max(limits) <= cache.REASON_CHARS == 500
    # 12 bytes a character at most (an astral character in ASCII JSON), 1,500 of wording: 26,048 bytes an answer.
    assert json.dumps("\U0001f600") == '"\\ud83d\\ude00"'  # 12 bytes between the quotes
    assert cache.ANSWER_BYTES == 12 * (500 + 1_500) + 2_048 == 26_048


MODEL = """
def analyze(path):
    i = int(path.stem)
    if i % 2:
        raise ValueError(str(i) + " " + {message})
    return {{"faces": [{{"gender": "Female" if i % 3 else "Male", "confidence": 90, "box": [0.1, 0.1, 0.5, 0.5]}}]}}
"""
# The red team's messages (490 commas; 490 astral characters), and one the kit keeps as repr's escapes (a
# character outside the printable, over the 500 kept: "\\U000e0000" is 10 characters, 11 bytes of JSON).
MESSAGES = {"commas": "',' * 490", "emoji": "'\\U0001F600' * 490", "unprintable": "'\\U000E0000' * 10_000"}


@pytest.fixture
def photos200(make_manifest: MakeManifest) -> Dataset:
    rows = [
        {"photo": f"img/{i}.png", "subject": f"s{i}", "gender_identity": "woman" if i % 3 else "man", "trans": "no"}
        for i in range(200)
    ]
    return load_dataset(make_manifest(rows))


@pytest.mark.parametrize("case", sorted(MESSAGES))
def test_a_workers_read_of_a_real_entry_of_long_kept_errors_uses_it_without_calling_the_model(
    photos200: Dataset, tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Red team 15e F1 (``x1_legit.py commas 200``): the CLI seeds the share with the answers of a model that
    fails on odd photos with a long message; each worker refused the entry ("holds up to 72,962 JSON values,
    over the 39,424 ...") and called the model for every photo again. Now each worker reads it."""
    model = tmp_path / "model.py"
    model.write_text(MODEL.format(message=MESSAGES[case]), encoding="utf-8")
    analyzer = create(f"python:{model}:analyze", dataset=photos200)
    observations = analyze_dataset(analyzer, photos200)
    reasons = [o.reason for o in observations.records if o.outcome == "error"]
    assert len(reasons) == 100
    assert max(len(json.dumps(r)) for r in reasons) <= 12 * (cache.REASON_CHARS + cache.REASON_WORDING_CHARS)
    share = Share(str(tmp_path / "share"), "ab" * 32)
    Path(share.folder).mkdir()
    what = ["run", case]
    sharing.seed(share, what, observations)
    capsys.readouterr()

    def called_again() -> Any:
        raise AssertionError("the worker called the model again")

    sharing.activate(share)
    try:
        read = sharing.shared_observations(what, photos200, called_again)
    finally:
        sharing.activate(None)
    assert read.records == observations.records
    assert capsys.readouterr().err == ""  # no "ignored the answers shared by the run's workers" notice


def test_conformance_run_with_two_workers_calls_the_model_once_a_photo(tmp_path: Path) -> None:
    """End to end, as the red team ran it (``conformance run ... -- -n 2``): before, every photo was analysed by
    the CLI and by each of the two workers (three processes in the model's log); now by the CLI only."""
    pytest.importorskip("xdist")
    from PIL import Image

    (tmp_path / "img").mkdir()
    rows = ["photo,subject,gender_identity,trans"]
    for i in range(120):
        Image.new("RGB", (8, 8), (i, 255 - i, (7 * i) % 256)).save(tmp_path / "img" / f"{i}.png")
        rows.append(f"img/{i}.png,s{i},{'woman' if i % 3 else 'man'},no")
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "m.py").write_text(
        "import os\n"
        + MODEL.format(message=MESSAGES["commas"]).replace(
            "def analyze(path):\n", "def analyze(path):\n    open('calls.log', 'a').write(f'{os.getpid()}\\n')\n"
        ),
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "conformance", "run", "--dataset", "manifest.csv", "--analyzer"]
    command += ["python:m.py:analyze", "--no-progress", "--no-cache", "--report-dir", "rep", "--", "-n", "2"]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    pids = (tmp_path / "calls.log").read_text().split()
    assert "ignored the answers shared" not in done.stdout + done.stderr
    assert len(set(pids)) == 1, f"{len(pids)} calls from {len(set(pids))} processes"


# -- F2 and F3: TIFFs whose samples Pillow decodes other than stored ----------------------------------------


# TIFF field types: SHORT, LONG, RATIONAL (numerator and denominator), FLOAT, DOUBLE.
_PACK = {3: "H", 4: "I", 5: "II", 11: "f", 12: "d"}


def _tiff(path: Path, pixels: bytes, width: int, height: int, tags: Mapping[int, tuple[int, list[float]]]) -> Path:
    """A little-endian, uncompressed, single-strip TIFF of ``pixels`` with ``tags`` (tag: (type, values))."""
    fields = {256: (3, [width]), 257: (3, [height]), 259: (3, [1]), 273: (4, [8]), 278: (3, [height])}
    fields |= {279: (4, [len(pixels)]), **tags}
    extra = b""
    extra_at = 8 + len(pixels) + len(pixels) % 2
    entries = b""
    for tag, (kind, values) in sorted(fields.items()):
        if kind == 5:
            raw = b"".join(struct.pack("<II", int(v), 1) for v in values)
        else:
            raw = struct.pack(f"<{len(values)}{_PACK[kind]}", *(v if kind > 5 else int(v) for v in values))
        if len(raw) <= 4:
            value = raw.ljust(4, b"\0")
        else:
            value = struct.pack("<I", extra_at + len(extra))
            extra += raw
        entries += struct.pack("<HHI", tag, kind, len(values)) + value
    ifd_at = extra_at + len(extra)
    body = pixels + b"\0" * (len(pixels) % 2) + extra
    ifd = struct.pack("<H", len(fields)) + entries + struct.pack("<I", 0)
    path.write_bytes(b"II" + struct.pack("<HI", 42, ifd_at) + body + ifd)
    return path


# Samples whose low byte differs from their high byte: cut to 8 bits, they could not come back.
RGB48 = [(37 * i + 4099 * c) % 65536 for i in range(12) for c in range(3)]
CUT = (
    "is a TIFF of 16 bits per channel (RGB), which the kit can read only as 8 bits per channel: sent, it would "
    "not be the photo as stored. The kit picks no conversion: convert the image yourself to a 16-bit PNG (sent as "
    "it is) or to an 8-bit RGB PNG or JPEG, and replace the file, or drop the row"
)


@pytest.mark.parametrize("kind", [3, 4, 5, 11, 12], ids=["SHORT", "LONG", "RATIONAL", "FLOAT", "DOUBLE"])
def test_a_16_bit_rgb_tiff_is_refused_whatever_number_type_its_bits_per_sample_is(tmp_path: Path, kind: int) -> None:
    """Red team 15e F2: Pillow finds the layout of 16.0 as of 16 (RGB;16L, decoded as 8 bits) but the kit counted
    integers only: a FLOAT, DOUBLE or RATIONAL BitsPerSample was sent cut to 8 bits."""
    path = _tiff(
        tmp_path / "rgb48.tif",
        struct.pack(f"<{len(RGB48)}H", *RGB48),
        4,
        3,
        {258: (kind, [16, 16, 16]), 262: (3, [2]), 277: (3, [3])},
    )
    with pytest.raises(ManifestError) as raised:
        for_upload(path)
    assert str(raised.value) == f"image {path} {CUT}"


GREY = [(9001 * i + 258) % 65536 for i in range(12)]
GREYS = (
    "The kit picks no conversion: convert the image yourself to a 16-bit grey PNG (black is zero, full range) or "
    "an 8-bit grey PNG, and replace the file, or drop the row"
)


def test_a_16_bit_white_is_zero_grey_tiff_is_refused_not_sent_as_its_negative(tmp_path: Path) -> None:
    """Red team 15e F3: Pillow inverts an 8-bit white-is-zero grey but not a 16-bit one: the upload held the
    stored values, so the service saw the photo's negative."""
    path = _tiff(tmp_path / "wiz.tif", struct.pack("<12H", *GREY), 4, 3, {258: (3, [16]), 262: (3, [0]), 277: (3, [1])})
    with pytest.raises(ManifestError) as raised:
        for_upload(path)
    assert str(raised.value) == (
        f"image {path} is a TIFF that stores its 16-bit greys white-is-zero, which the kit would send inverted (its "
        f"negative). {GREYS}"
    )


def test_a_12_bit_grey_tiff_is_refused_not_sent_16_times_darker(tmp_path: Path) -> None:
    path = _tiff(
        tmp_path / "g12.tif",
        struct.pack("<12H", *(v % 4096 for v in GREY)),
        4,
        3,
        {258: (3, [12]), 262: (3, [1]), 277: (3, [1])},
    )
    with pytest.raises(ManifestError) as raised:
        for_upload(path)
    assert str(raised.value) == (
        f"image {path} is a TIFF that holds 12-bit greys, which the kit would send as 16-bit values (darker than "
        f"stored). {GREYS}"
    )


@pytest.mark.parametrize("photometric", [0, 1], ids=["white-is-zero", "black-is-zero"])
def test_8_bit_greys_of_either_kind_are_still_sent_as_they_look(tmp_path: Path, photometric: int) -> None:
    from PIL import Image

    stored = [(37 * i) % 256 for i in range(12)]
    path = _tiff(tmp_path / "g8.tif", bytes(stored), 4, 3, {258: (3, [8]), 262: (3, [photometric])})
    data, image_format = for_upload(path)
    with Image.open(io.BytesIO(data)) as sent:
        assert (image_format, sent.mode) == ("PNG", "L")
        looks = [255 - v for v in stored] if photometric == 0 else stored  # white-is-zero: 0 is white (255)
        assert list(sent.tobytes()) == looks


# -- F5: an answer far beyond the service's is refused unparsed; running out of memory is said as such ----


def _field(shape: Any, name: str = "") -> Any:
    """A value for botocore's ``shape`` at its largest: every member, the longest enum value, lists as long as
    their item's enum (30 landmarks, 8 emotions), numbers of 17 significant digits."""
    kind = shape.type_name
    if kind == "structure":
        return {member: _field(sub, member) for member, sub in shape.members.items()}
    if kind == "list":
        enums = [sub.enum for sub in getattr(shape.member, "members", {}).values() if getattr(sub, "enum", None)]
        return [_field(shape.member)] * (max(len(e) for e in enums) if enums else 4)
    if kind == "string":
        return max(shape.enum, key=len) if shape.enum else "x" * 64
    if kind in ("float", "double"):
        return -123.45678901234567
    if kind in ("integer", "long"):
        return 2**31 - 1
    if kind == "boolean":
        return True
    raise AssertionError(f"a {kind} in FaceDetail ({name})")


def test_the_largest_detect_faces_answer_is_well_within_its_bound() -> None:
    """The bound (100 faces of 16 KiB and 64 KiB more: 1,703,936 bytes) against the service model's own FaceDetail
    with every attribute at its longest: 100 of them fit 4 times over as the service writes JSON (compact), and
    twice over indented as a pretty-printing proxy would (6.4 KB a face)."""
    shape = rekognition_answers.service_model().shape_for("FaceDetail")
    face = _field(shape)
    assert (len(face["Landmarks"]), len(face["Emotions"])) >= (30, 8)
    bound = rekognition_answers.ANSWER_BYTES["DetectFaces"]
    assert bound == 100 * 16 * 1024 + 64 * 1024 == 1_703_936
    assert 4 * len(json.dumps({"FaceDetails": [face] * 100}, separators=(",", ":"))) < bound
    assert 2 * len(json.dumps({"FaceDetails": [face] * 100}, indent=2)) < bound


def test_an_answer_over_its_bound_is_refused_before_it_is_parsed() -> None:
    model = SimpleNamespace(name="DetectFaces")
    limit = rekognition_answers.ANSWER_BYTES["DetectFaces"]
    rekognition_answers.refuse_huge_answers(model, {"body": b" " * limit})  # at the bound: read
    with pytest.raises(rekognition_answers.AnswerTooLarge) as raised:
        rekognition_answers.refuse_huge_answers(model, {"body": b" " * (limit + 1)})
    assert str(raised.value) == "DetectFaces answered with 1,703,937 bytes, over the 1,703,936 the kit reads for it"


class _Endpoint:
    """A loopback endpoint answering every call with one 200 (a one-face DetectFaces answer, padded)."""

    def __init__(self, body: bytes) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
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


FACE = {"BoundingBox": {"Width": 0.5, "Height": 0.5, "Left": 0.2, "Top": 0.2}, "Confidence": 99.0}
ONE_FACE = json.dumps({"FaceDetails": [{**FACE, "Gender": {"Value": "Female", "Confidence": 90.0}}]}).encode()


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[bytes], str]]:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    opened: list[_Endpoint] = []

    def start(body: bytes) -> str:
        opened.append(_Endpoint(body))
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", opened[-1].url)
        return opened[-1].url

    yield start
    for server in opened:
        server.close()


ROWS = [
    {"photo": "img/a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
    {"photo": "img/b.png", "subject": "s2", "gender_identity": "man", "trans": "yes"},
]


def _run(dataset: Dataset, tmp_path: Path, **options: Any) -> Any:
    settings = AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "cassettes"))
    return analyze_dataset(create("rekognition", dataset=dataset, settings=settings), dataset, **options)


def test_a_huge_answer_is_that_photos_error_naming_the_endpoint_and_is_never_parsed(
    make_manifest: MakeManifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: Callable[[bytes], str]
) -> None:
    """Red team 15e F5 (``e1_bigbody.py``): a fast 10 MB answer cost 641 MiB parsed; now one over the operation's
    bound (4 KiB here) is refused before botocore parses it. Before, this padded one-face answer was used."""
    import botocore.parsers

    parses: list[int] = []
    original = botocore.parsers.BaseJSONParser._parse_body_as_json

    def counted(self: Any, body_contents: bytes) -> Any:
        parses.append(len(body_contents))
        return original(self, body_contents)

    monkeypatch.setattr(botocore.parsers.BaseJSONParser, "_parse_body_as_json", counted)
    monkeypatch.setitem(rekognition_answers.ANSWER_BYTES, "DetectFaces", 4096)
    body = ONE_FACE + b" " * (4097 - len(ONE_FACE))
    url = endpoint(body)
    dataset = load_dataset(make_manifest(ROWS))
    observations = _run(dataset, tmp_path, systematic_failures=0)  # every photo alike: not stopped, to read them
    assert [(o.outcome, o.reason) for o in observations.records] == [
        (
            "error",
            f"AnswerTooLarge: the endpoint {url}: DetectFaces answered with 4,097 bytes, over the 4,096 the kit reads "
            "for it, far beyond any answer of Rekognition's; not parsed, not recorded: check that the endpoint "
            "(AWS_ENDPOINT_URL_REKOGNITION, a proxy on the way) is Rekognition",
        )
    ] * 2
    assert 4097 not in parses
    recording = next((tmp_path / "cassettes").rglob("*.jsonl"), None)
    assert recording is None or "FaceDetails" not in recording.read_text(encoding="utf-8")


def test_an_answer_at_its_bound_is_still_used(
    make_manifest: MakeManifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: Callable[[bytes], str]
) -> None:
    monkeypatch.setitem(rekognition_answers.ANSWER_BYTES, "DetectFaces", 4096)
    endpoint(ONE_FACE + b" " * (4096 - len(ONE_FACE)))
    dataset = load_dataset(make_manifest(ROWS))
    assert _run(dataset, tmp_path).outcome_counts()["analysed"] == 2


@pytest.mark.parametrize("where", ["parsing", "recording"])
def test_running_out_of_memory_on_an_answer_is_said_as_such_not_as_an_http_clients_fault(
    make_manifest: MakeManifest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    endpoint: Callable[[bytes], str],
    where: str,
) -> None:
    """Red team 15e F5 under ``prlimit --as=2500000000``: "detect_faces: HTTP failure (An HTTP Client raised an
    unhandled exception: )". A MemoryError while the recorder reads the answer (inside botocore's HTTP layer,
    which wraps it) or while botocore's hooks read it (outside it) now names what happened, and the way out."""
    from conformance.adapters import rekognition
    from conformance.recording import cassette

    def out_of_memory(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError

    if where == "parsing":
        monkeypatch.setattr(rekognition, "flag_non_answers", out_of_memory)
    else:
        monkeypatch.setattr(cassette, "_body_size", out_of_memory)
    url = endpoint(ONE_FACE)
    dataset = load_dataset(make_manifest(ROWS))
    with pytest.raises(ConformanceError) as raised:
        _run(dataset, tmp_path)
    assert str(raised.value) == (
        f"detect_faces: the answer from {url} did not fit in the memory left (MemoryError while reading or parsing "
        "it): an endpoint answering far beyond Rekognition's answers, or too little memory for the run; check the "
        "endpoint (AWS_ENDPOINT_URL_REKOGNITION, a proxy on the way), or free memory, and run again to resume"
    )


def test_an_answer_over_the_recorders_bound_is_withheld_before_the_recorder_parses_it(
    make_manifest: MakeManifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: Callable[[bytes], str]
) -> None:
    """The recorder parsed an answer several times (the emulator's claim, the judge, the account-id scrub, the
    secret scan, the shape) before its 8 MB bound was checked. Now the bound comes first."""
    from conformance.recording import cassette

    scrubbed: list[str] = []
    original = cassette.scrub_body_account_ids
    monkeypatch.setattr(cassette, "scrub_body_account_ids", lambda text: scrubbed.append(text) or original(text))
    monkeypatch.setattr(cassette, "MAX_RECORDED_BODY", len(ONE_FACE) + 10)
    endpoint(ONE_FACE + b" " * 11)
    dataset = load_dataset(make_manifest(ROWS))
    settings = AdapterSettings(record_mode="once", cassette_dir=str(tmp_path / "cassettes"))
    analyzer = create("rekognition", dataset=dataset, settings=settings)
    assert analyze_dataset(analyzer, dataset).outcome_counts()["analysed"] == 2  # used, not recorded
    assert scrubbed == []
    assert set(analyzer.withheld.values()) == {  # type: ignore[attr-defined]
        "withheld from the recording: the answer is 0.0 MB, over the 0 MB the kit records"
    }


# -- F6: a NUL byte in a CSV manifest; a UTF-16 CSV without a byte-order mark ----------------------------------


def test_a_nul_byte_in_a_csv_manifest_cell_is_refused_naming_the_line(tmp_path: Path) -> None:
    """Red team 15e F6: accepted in a CSV, refused in a JSONL manifest. Now both refuse it."""
    text = "photo,subject,gender_identity,trans\nimg/a.png,s1,woman,no\nimg/b.png,\x00s2,man,no\n"
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(text, encoding="utf-8")
    with pytest.raises(ManifestError) as raised:
        load_dataset(manifest)
    assert str(raised.value) == (
        f"{manifest} line 3: a NUL byte (byte {text.index(chr(0))}), which no manifest value holds; remove it (the "
        "file may be damaged, or saved in another encoding: save it as UTF-8)"
    )


@pytest.mark.parametrize(("encoding", "order"), [("utf-16-le", "little-endian"), ("utf-16-be", "big-endian")])
@pytest.mark.parametrize("name", ["manifest.csv", "manifest.jsonl"])
def test_a_utf_16_manifest_without_a_byte_order_mark_is_said_to_be_utf_16(
    tmp_path: Path, encoding: str, order: str, name: str
) -> None:
    """Before: "missing required columns ... (found: p\\x00h\\x00o\\x00...)": valid UTF-8, read as odd names."""
    text = (
        "photo,subject,gender_identity,trans\nimg/a.png,s1,woman,no\n"
        if name.endswith(".csv")
        else '{"photo": "img/a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"}\n'
    )
    manifest = tmp_path / name
    manifest.write_bytes(text.encode(encoding))
    with pytest.raises(ManifestError) as raised:
        load_dataset(manifest)
    assert str(raised.value) == (
        f"{manifest}: not UTF-8 (it looks like UTF-16, {order}, without a byte-order mark); save the manifest as UTF-8"
    )
