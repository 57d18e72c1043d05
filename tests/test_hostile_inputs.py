"""Hostile inputs (issue 7, item 2): each case is a file someone else made, and the message the kit gives it.

Images are built here byte by byte (a PNG header patched to claim 10^10 pixels, a PNG cut short), so
every expected message is worked out from the bytes written, not copied from the kit's output. The
cases the kit got wrong when they were written (an image between Pillow's limit and twice it, a PNG cut
in its data, a 1 MB CSV field, a folder given as a policy or recording, an edited or damaged recording)
were fixed in e863ac8 and 665b661 and stay as regression tests. A case the kit gets wrong goes in as a
strict xfail asserting the right behaviour, its reason starting ``BUG:`` and naming the line at fault.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import random
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from builders import observe, people

from conformance import ConformanceError, Dataset, group_labels, load_dataset, load_policy, run_check
from conformance.adapters.base import AdapterSettings
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.adapters.registry import create
from conformance.comparison.reports import load_report
from conformance.emulators import RekognitionEmulator, serve
from conformance.errors import ManifestError, PolicyError, PredictionsError
from conformance.recording import RecordingError, RecordingStore
from conformance.recording.paths import recording_path
from conformance.recording.scrub import canonical_body, request_key
from conformance.report import ReportError
from conformance.reporting import build_report, render_html, render_markdown
from conformance.run.runner import analyze_dataset

WritePng = Callable[..., Path]
MakeManifest = Callable[..., Path]

HEADER = "photo,subject,gender_identity,trans\n"
FORMATS = "JPEG, PNG, GIF, BMP, TIFF and WebP"  # the formats the kit opens, as messages list them
OUTSIDE = "(paths are relative to the manifest, links out of it are refused)"


def png_bytes(width: int = 8, height: int = 8, *, noise: bool = False) -> bytes:
    from PIL import Image

    if noise:  # incompressible pixels: the data chunk is large enough to cut in the middle
        image = Image.frombytes("RGB", (width, height), random.Random(7).randbytes(width * height * 3))
    else:
        image = Image.new("RGB", (width, height), (90, 120, 150))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def claiming(width: int, height: int) -> bytes:
    """A 1x1 PNG whose IHDR claims ``width`` x ``height`` pixels, its CRC recomputed so the header is valid."""
    data = bytearray(png_bytes(1, 1))
    assert data[12:16] == b"IHDR"  # signature (8 bytes), IHDR length (4), type (4), then width and height
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # CRC over the chunk type and its 13 bytes
    return bytes(data)


def dataset_of(folder: Path, photo: str, data: bytes | None = None) -> Path:
    """A one-row manifest naming ``photo``, and (if ``data``) the file at that path."""
    folder.mkdir(parents=True, exist_ok=True)
    if data is not None:
        (folder / photo).parent.mkdir(parents=True, exist_ok=True)
        (folder / photo).write_bytes(data)
    manifest = folder / "manifest.csv"
    manifest.write_text(HEADER + f"{photo},s1,woman,no\n", encoding="utf-8")
    return manifest


def refusal(manifest: Path) -> str:
    with pytest.raises(ManifestError) as raised:
        load_dataset(manifest)
    return str(raised.value)


@pytest.fixture
def never_decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail (and list) any decoding of pixels: Pillow's ImageFile.load is where data is decompressed."""
    from PIL import ImageFile

    decoded: list[str] = []

    def load(self: Any) -> Any:
        decoded.append(f"{self.format} {self.size}")
        raise AssertionError(f"pixels decoded: {self.format} {self.size}")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return decoded


# -- images ------------------------------------------------------------------------------------------


def test_a_decompression_bomb_is_refused_from_its_header_naming_the_photo(
    tmp_path: Path, never_decoded: list[str]
) -> None:
    from PIL import Image

    bomb = claiming(100_000, 100_000)
    assert len(bomb) < 100  # one pixel of data: whatever is refused, it is the header's claim
    pixels = 100_000 * 100_000
    assert pixels > 2 * Image.MAX_IMAGE_PIXELS  # over twice Pillow's limit: an error, not a warning
    with pytest.raises(Image.DecompressionBombError):  # Pillow refuses at open, which reads the header only
        Image.open(io.BytesIO(bomb))

    message = refusal(dataset_of(tmp_path / "data", "img/bomb.png", bomb))
    assert (
        f"row 2: image 'img/bomb.png' is too large to open safely (Image size ({pixels} pixels) exceeds limit of "
        f"{2 * Image.MAX_IMAGE_PIXELS} pixels, could be decompression bomb DOS attack.); resize it; "
        "replace the file or drop the row"
    ) in message
    assert never_decoded == []


def test_a_giant_image_over_pillows_pixel_limit_is_refused_before_decoding(
    tmp_path: Path, never_decoded: list[str]
) -> None:
    """Between Pillow's limit and twice it Pillow only warns; the kit refuses those too, from the header."""
    from PIL import Image

    width, height = 12_000, 9_000  # 108 million pixels: over MAX_IMAGE_PIXELS, under twice it
    assert Image.MAX_IMAGE_PIXELS < width * height < 2 * Image.MAX_IMAGE_PIXELS
    message = refusal(dataset_of(tmp_path / "data", "img/giant.png", claiming(width, height)))
    assert (
        f"row 2: image 'img/giant.png' is too large to open safely (Image size ({width * height} pixels) exceeds "
        f"limit of {Image.MAX_IMAGE_PIXELS} pixels, could be decompression bomb DOS attack.); resize it; "
        "replace the file or drop the row"
    ) in message
    assert never_decoded == []


@pytest.mark.parametrize(
    ("cut", "detail"),
    [
        (20, "(OSError: Truncated File Read)"),  # inside the IHDR chunk: Pillow cannot read the size
        # the header whole, nothing after it: no format the kit opens recognises it
        (33, f"(UnidentifiedImageError: cannot identify image file): the kit reads {FORMATS}"),
    ],
    ids=["inside-the-header", "right-after-the-header"],
)
def test_a_png_truncated_in_its_header_is_refused_naming_the_photo(tmp_path: Path, cut: int, detail: str) -> None:
    message = refusal(dataset_of(tmp_path / "data", "img/cut.png", png_bytes()[:cut]))
    assert f"row 2: image 'img/cut.png' is not a readable image {detail}; replace the file or drop the row" in message


def test_a_png_truncated_in_its_image_data_is_refused_naming_the_photo(tmp_path: Path) -> None:
    """The header is whole, so opening succeeds; decoding the pixels (issue 15, item 3) finds the cut."""
    from PIL import Image

    whole = png_bytes(32, 32, noise=True)
    cut = whole[: len(whole) // 2]
    with Image.open(io.BytesIO(cut)) as image:
        assert image.size == (32, 32)  # the header alone looks fine
    message = refusal(dataset_of(tmp_path / "data", "img/half.png", cut))
    assert (
        "row 2: image 'img/half.png' is not a readable image (OSError: image file is truncated); "
        "replace the file or drop the row"
    ) in message


def test_a_zero_byte_image_is_refused_as_empty(tmp_path: Path) -> None:
    message = refusal(dataset_of(tmp_path / "data", "img/empty.png", b""))
    assert "row 2: image 'img/empty.png' is empty (0 bytes); replace the file or drop the row" in message


def test_a_text_file_named_png_is_refused_as_not_an_image(tmp_path: Path) -> None:
    message = refusal(dataset_of(tmp_path / "data", "img/notes.png", b"these are my notes, not a photo\n"))
    assert (
        "row 2: image 'img/notes.png' is not a readable image (UnidentifiedImageError: cannot identify image file): "
        f"the kit reads {FORMATS}; replace the file or drop the row"
    ) in message


def test_a_jpeg_named_png_loads_as_the_jpeg_it_is(tmp_path: Path) -> None:
    """Pillow identifies an image by its bytes, not its name: a JPEG called .png is a readable JPEG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(buffer, format="JPEG")
    jpeg = buffer.getvalue()
    assert jpeg[:3] == b"\xff\xd8\xff"
    dataset = load_dataset(dataset_of(tmp_path / "data", "img/really-a-jpeg.png", jpeg))
    (photo,) = dataset.photos
    assert photo.id == "img/really-a-jpeg.png"
    assert photo.format == "JPEG"
    assert photo.digest == hashlib.sha256(jpeg).hexdigest()


# -- paths -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("link", ["file", "folder"])
def test_a_symlink_out_of_the_dataset_folder_is_refused(tmp_path: Path, write_png: WritePng, link: str) -> None:
    secret = write_png(tmp_path / "elsewhere" / "secret.png")
    data = tmp_path / "data"
    (data / "img").mkdir(parents=True)
    if link == "file":
        (data / "img" / "link.png").symlink_to(secret)
        photo = "img/link.png"
    else:
        (data / "img" / "linked").symlink_to(secret.parent, target_is_directory=True)
        photo = "img/linked/secret.png"
    manifest = dataset_of(data, photo)
    message = refusal(manifest)
    root = manifest.parent.resolve()
    assert (
        f"row 2: photo '{photo}' is outside the manifest's folder {root}; move the image under it {OUTSIDE}" in message
    )


def test_a_symlink_that_stays_inside_the_folder_loads(tmp_path: Path, write_png: WritePng) -> None:
    data = tmp_path / "data"
    target = write_png(data / "img" / "a.png")
    (data / "img" / "alias.png").symlink_to(target)
    (photo,) = load_dataset(dataset_of(data, "img/alias.png")).photos
    assert photo.digest == hashlib.sha256(target.read_bytes()).hexdigest()


@pytest.mark.parametrize("photo", ["../outside.png", "img/../../outside.png", "/tmp/outside.png"])
def test_a_path_out_of_the_folder_is_refused(tmp_path: Path, write_png: WritePng, photo: str) -> None:
    write_png(tmp_path / "outside.png")
    manifest = dataset_of(tmp_path / "data", photo)
    shown = os.path.normpath(photo)  # photo ids are normalised POSIX paths
    message = refusal(manifest)
    assert f"row 2: photo '{shown}' is outside the manifest's folder {manifest.parent.resolve()}" in message


def test_dot_dot_that_stays_inside_is_the_same_photo(tmp_path: Path, write_png: WritePng) -> None:
    write_png(tmp_path / "data" / "a.png")
    (photo,) = load_dataset(dataset_of(tmp_path / "data", "img/../a.png")).photos
    assert photo.id == "a.png"


# -- long and non-UTF-8 text ---------------------------------------------------------------------------

ONE_MB = "s" * 2**20


def test_a_very_long_csv_field(tmp_path: Path, write_png: WritePng) -> None:
    """csv refuses fields over 128 KiB (csv.field_size_limit); the kit says so, naming the line."""
    write_png(tmp_path / "data" / "a.png")
    manifest = tmp_path / "data" / "manifest.csv"
    manifest.write_text(HEADER + f"a.png,{ONE_MB},woman,no\n", encoding="utf-8")
    message = refusal(manifest)
    assert f"{manifest} line 2: not readable as CSV (field larger than field limit (131072))" in message


def test_a_very_long_field_in_a_jsonl_manifest_is_refused_as_in_csv(tmp_path: Path, write_png: WritePng) -> None:
    """Issue 15, item 4: a 1 MB JSONL cell was read whole and multiplied in memory ~1000x; now JSONL cells have
    CSV's limit (csv.field_size_limit(), 131,072 characters) and the message says so."""
    import csv

    assert csv.field_size_limit() == 131_072
    write_png(tmp_path / "data" / "a.png")
    manifest = tmp_path / "data" / "manifest.jsonl"
    row = {"photo": "a.png", "subject": ONE_MB, "gender_identity": "woman", "trans": "no"}
    manifest.write_text(json.dumps(row) + "\n", encoding="utf-8")
    assert refusal(manifest) == (
        f"{manifest} line 1: the value of 'subject' is 1,048,576 characters long; a manifest cell holds at most "
        "131,072 characters (CSV and JSONL alike); shorten it"
    )
    # At the limit it loads.
    row["subject"] = "s" * 131_072
    manifest.write_text(json.dumps(row) + "\n", encoding="utf-8")
    assert load_dataset(manifest).photos[0].subject == row["subject"]


@pytest.fixture
def one_photo(tmp_path: Path, write_png: WritePng) -> Dataset:
    write_png(tmp_path / "data" / "a.png")
    return load_dataset(dataset_of(tmp_path / "data", "a.png"))


def test_a_very_long_line_in_predictions_loads(one_photo: Dataset, tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    line = {"photo": "a.png", "faces": [{"gender": "Female", "confidence": 90.0}], "vendor_trace": ONE_MB}
    path.write_text(json.dumps({"analyzer": "acme"}) + "\n" + json.dumps(line) + "\n", encoding="utf-8")
    assert len(path.read_bytes()) > 2**20
    (observation,) = analyze_dataset(PredictionsAnalyzer(path, dataset=one_photo), one_photo).records
    assert observation.outcome == "analysed"
    assert observation.face is not None
    assert observation.face.label == "Female"


def test_non_utf8_bytes_in_a_manifest_are_refused_naming_line_and_byte(tmp_path: Path, write_png: WritePng) -> None:
    write_png(tmp_path / "data" / "a.png")
    data = HEADER.encode() + "a.png,Zoë,woman,no\n".encode("latin-1")  # ë as Latin-1: 0xEB
    manifest = tmp_path / "data" / "manifest.csv"
    manifest.write_bytes(data)
    offset = data.index("ë".encode("latin-1"))
    assert f"{manifest} line 2: not UTF-8 (byte {offset}); save the manifest as UTF-8" in refusal(manifest)


def test_non_utf8_bytes_in_predictions_are_refused_naming_the_line(one_photo: Dataset, tmp_path: Path) -> None:
    path = tmp_path / "predictions.jsonl"
    path.write_bytes(b'{"analyzer": "acme"}\n{"photo": "a.png", "error": "caf\xe9"}\n')
    with pytest.raises(PredictionsError) as raised:
        PredictionsAnalyzer(path, dataset=one_photo)
    assert f"{path} line 2: not UTF-8; save the file as UTF-8" in str(raised.value)


def test_a_utf8_bom_is_not_part_of_the_first_column(tmp_path: Path, write_png: WritePng) -> None:
    write_png(tmp_path / "data" / "a.png")
    manifest = tmp_path / "data" / "manifest.csv"
    manifest.write_bytes(b"\xef\xbb\xbf" + (HEADER + "a.png,s1,woman,no\n").encode())  # as Excel saves "CSV UTF-8"
    assert [p.id for p in load_dataset(manifest).photos] == ["a.png"]


# -- values that are markup or formulas, through a real run into report.md and report.html --------------

FORMULA = "=cmd|' /C calc'!A0"
SCRIPT = "<script>alert(1)</script>"
MARKUP = "**bold**|pipe"
SEED = 20261122


def test_a_formula_in_a_group_column_loads_as_plain_text(tmp_path: Path, make_manifest: MakeManifest) -> None:
    rows = [{"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": "no", "cohort": FORMULA}]
    (photo,) = load_dataset(make_manifest(rows, folder=tmp_path / "data")).photos
    assert photo.attributes["cohort"] == FORMULA  # not evaluated, not stripped of its = or quotes


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A run over cohorts named with a formula, a script tag and Markdown, against a plain reference."""
    shots = [
        *people("f", 12, identity="woman", misgendered=4, cohort=FORMULA),
        *people("s", 12, identity="woman", misgendered=3, cohort=SCRIPT),
        *people("m", 12, identity="man", misgendered=2, errors=1, cohort=MARKUP),
        *people("p", 12, identity="man", misgendered=1, cohort="plain"),
    ]
    observations = observe(tmp_path_factory.mktemp("hostile-groups"), shots)
    assert {p.attributes["cohort"] for p in observations.dataset} == {FORMULA, SCRIPT, MARKUP, "plain"}
    groups = group_labels(observations.dataset, ["cohort"])
    policy = load_policy()
    checks = [
        run_check(check, observations, groups=groups, reference="plain", policy=policy, seed=SEED)
        for check in ("misgender_gap", "detection_failure_gap")
    ]
    context = {
        "analyzer": {"name": "builder", "adapter": "predictions", "version": "1"},
        "dataset": {"name": "hostile", "photos": 48, "subjects": 48, "content_hash": "sha256:00"},
        "grouping": {"by": ["cohort"], "reference": "plain"},
        "outcomes": observations.outcome_counts(),
        "photos": [{"photo": r.photo, "outcome": r.outcome, "reason": r.reason} for r in observations.records],
        "seed": SEED,
    }
    return build_report(checks, context=context)


def _tables(markdown: str) -> list[list[str]]:
    """Each Markdown table: its consecutive lines that start with a pipe."""
    tables: list[list[str]] = []
    previous = False
    for line in markdown.splitlines():
        row = line.startswith("|")
        if row and not previous:
            tables.append([])
        if row:
            tables[-1].append(line)
        previous = row
    return tables


def _cell_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))  # a backslash-escaped pipe does not end a cell


def test_group_names_are_escaped_in_report_md_and_keep_every_table_row_whole(hostile_report: dict[str, Any]) -> None:
    markdown = render_markdown(hostile_report)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markdown
    assert "<script" not in markdown
    assert r"\*\*bold\*\*\|pipe" in markdown
    assert "**bold**" not in markdown
    assert r"=cmd\|' /C calc'\!A0" in markdown  # shown as text; nothing in a Markdown table evaluates it
    assert "=cmd|" not in markdown
    tables = _tables(markdown)
    assert tables
    for table in tables:
        header = _cell_pipes(table[0])
        assert all(_cell_pipes(row) == header for row in table), table
    # Every hostile cohort has its row in the misgender table (nothing swallowed by a broken row).
    misgender = markdown.split("## `misgender_gap`")[1].split("## ")[0]
    for shown in (r"=cmd\|' /C calc'\!A0", "&lt;script&gt;alert(1)&lt;/script&gt;", r"\*\*bold\*\*\|pipe"):
        assert any(line.startswith(f"| {shown} |") for line in misgender.splitlines()), shown


def test_group_names_are_escaped_in_report_html(hostile_report: dict[str, Any]) -> None:
    page = render_html(hostile_report)
    assert "<script" not in page
    assert html.escape(SCRIPT, quote=True) in page
    assert html.escape(FORMULA, quote=True) in page  # "=cmd|&#x27; /C calc&#x27;!A0": text in a cell
    assert html.escape(MARKUP, quote=True) in page  # HTML gives ** and | no meaning: shown as typed


# -- recordings ------------------------------------------------------------------------------------------

ROWS = [
    {"photo": "img/a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
    {"photo": "img/b.png", "subject": "s2", "gender_identity": "man", "trans": "no"},
]
ANSWERS = {"img/a.png": ("Female", 97.5), "img/b.png": ("Male", 61.25)}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials and a region; no real AWS configuration, no instance metadata, one attempt."""
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


def rekognition(dataset: Dataset, cassettes: Path, mode: str) -> Any:
    return create(
        "rekognition", dataset=dataset, settings=AdapterSettings(record_mode=mode, cassette_dir=str(cassettes))
    )


@pytest.fixture
def recorded(aws_env: None, dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Both photos recorded with ``once`` against the kit's emulator; yields the cassette dir and the recording."""
    predictions = tmp_path / "predictions.jsonl"
    lines = [{"analyzer": "emulated", "version": "1", "vocabulary": ["Male", "Female"]}]
    lines += [
        {"photo": photo, "faces": [{"gender": label, "confidence": confidence, "box": [0.1, 0.1, 0.5, 0.5]}]}
        for photo, (label, confidence) in ANSWERS.items()
    ]
    predictions.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    cassettes = tmp_path / "cassettes"
    with serve(RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset))) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", server.url)
        analyze_dataset(rekognition(dataset, cassettes, "once"), dataset)
    monkeypatch.delenv("AWS_ENDPOINT_URL_REKOGNITION")
    recording = recording_path(dataset, cassettes, "rekognition.jsonl")
    assert recording.exists()
    return cassettes, recording


def edit_digest(recording: Path, digest: str, new_digest: str, *, rekey: bool) -> None:
    """Put ``new_digest`` where the recording has ``digest``; with ``rekey``, give the line the key that goes with it."""
    lines = recording.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if digest in line:
            record = json.loads(line.replace(digest, new_digest))
            if rekey:
                body = record["request"]["body"]
                record["key"] = request_key(record["operation"], canonical_body(json.dumps(body)))
            lines[number] = json.dumps(record)
    recording.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    "rekey",
    [
        pytest.param(True, id="digest-and-key-edited"),
        pytest.param(False, id="digest-edited-key-left"),
    ],
)
def test_a_recording_edited_to_another_digest_does_not_answer_the_photo(
    dataset: Dataset, recorded: tuple[Path, Path], rekey: bool
) -> None:
    cassettes, recording = recorded
    photo = dataset.photo("img/a.png")
    forged = hashlib.sha256(b"another image").hexdigest()
    assert photo.digest in recording.read_text(encoding="utf-8")
    edit_digest(recording, photo.digest, forged, rekey=rekey)
    with pytest.raises(RecordingError) as raised:
        analyze_dataset(rekognition(dataset, cassettes, "none"), dataset)
    message = str(raised.value)
    if rekey:
        # A consistent edit: the photo's own request is no longer recorded, and the check before any call says so.
        assert f"no recording of DetectFaces for photo 'img/a.png' (sha256:{photo.digest}) in {recording}" in message
        assert "--record-mode new_episodes" in message
    else:
        # Lines are parsed when played (loading reads only keys): the edited line is refused then, named.
        assert f"{recording} line " in message
        assert "the interaction's key does not match its request" in message


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda line: line.replace('"response": {', '"response": {{', 1), id="damaged-json"),
        pytest.param(lambda line: json.dumps({**json.loads(line), "response": {}}), id="response-emptied"),
    ],
)
def test_an_interaction_damaged_inside_stops_the_replay_with_the_kits_error_naming_its_line(
    dataset: Dataset, recorded: tuple[Path, Path], edit: Callable[[str], str]
) -> None:
    cassettes, recording = recorded
    lines = recording.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines) if line.startswith('{"key": '))
    lines[number] = edit(lines[number])
    assert lines[number].startswith('{"key": ')  # still indexed as an interaction: a key first,
    assert lines[number].endswith("}")  # and whole
    recording.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RecordingError) as raised:
        analyze_dataset(rekognition(dataset, cassettes, "none"), dataset)
    assert f"{recording} line {number + 1}: " in str(raised.value)


def test_a_recording_by_another_adapter_is_refused_naming_it(aws_env: None, dataset: Dataset, tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    recording = recording_path(dataset, cassettes, "rekognition.jsonl")
    recording.parent.mkdir(parents=True)
    header = {"recording": "conformance", "format": 1, "adapter": "acme-face", "note": ""}
    recording.write_text(json.dumps(header) + "\n", encoding="utf-8")
    with pytest.raises(RecordingError) as raised:
        analyze_dataset(rekognition(dataset, cassettes, "none"), dataset)
    assert f"{recording}: recorded by adapter 'acme-face', not 'rekognition'" in str(raised.value)


# -- a folder where a file is expected -------------------------------------------------------------------


def _open_recording(path: Path) -> object:
    return RecordingStore.open(path, adapter="rekognition")


@pytest.mark.parametrize(
    ("reader", "kind", "message"),
    [
        pytest.param(
            load_dataset,
            ManifestError,
            "manifest {path} is a folder, not a regular file: the kit reads only regular files",
            id="manifest",
        ),
        pytest.param(
            lambda path: PredictionsAnalyzer(path, dataset=None),  # type: ignore[arg-type]  # refused before use
            PredictionsError,
            "predictions file {path} is a folder, not a regular file: the kit reads only regular files",
            id="predictions",
        ),
        pytest.param(load_report, ReportError, "{path}: is a directory", id="report"),
        pytest.param(
            load_policy,
            PolicyError,
            "cannot read policy file {path}: {path} is a folder, not a regular file",
            id="policy",
        ),
        pytest.param(
            _open_recording,
            RecordingError,
            "cannot read recording {path}: {path} is a folder, not a regular file",
            id="recording",
        ),
    ],
)
def test_a_folder_where_a_file_is_expected_is_refused_naming_it(
    tmp_path: Path, reader: Callable[[Path], object], kind: type[ConformanceError], message: str
) -> None:
    folder = tmp_path / "looks-like-a-file.jsonl"
    folder.mkdir()
    with pytest.raises(kind) as raised:
        reader(folder)
    assert message.format(path=folder) in str(raised.value)


# -- special files: a pipe or a device where a file is expected (issue 15, item 2) -------------------------


def _finishes(call: Callable[[], object], fifo: Path | None = None, seconds: float = 20.0) -> object:
    """``call()``'s result or exception, failing the test if it does not return within ``seconds``.

    A reader blocked on a FIFO (what the kit did before) is released by opening the FIFO for writing."""
    import threading

    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # EOF for the blocked reader
            thread.join(5)
        pytest.fail(f"still running after {seconds} s: blocked on {fifo}")
    return outcome[0]


def _character_device(path: Path) -> Path:
    """A character device node at ``path`` with /dev/zero's numbers (1, 5): endless zero bytes."""
    import stat

    try:
        os.mknod(path, 0o644 | stat.S_IFCHR, os.makedev(1, 5))
    except (PermissionError, AttributeError):
        pytest.skip("creating a device node needs root (CI runs as root)")
    return path


SPECIAL = "not a regular file: the kit reads only regular files"


def test_a_fifo_among_the_images_is_refused_not_waited_on(tmp_path: Path, write_png: WritePng) -> None:
    """A photo that is a named pipe blocked the run for ever (nothing ever writes to it)."""
    root = tmp_path / "data"
    write_png(root / "img" / "a.png")
    (root / "img").mkdir(exist_ok=True)
    fifo = root / "img" / "b.png"
    os.mkfifo(fifo)
    (root / "manifest.csv").write_text(HEADER + "img/a.png,s1,woman,no\nimg/b.png,s2,man,no\n", encoding="utf-8")
    raised = _finishes(lambda: load_dataset(root / "manifest.csv"), fifo)
    assert isinstance(raised, ManifestError)
    assert str(raised) == (
        f"{root / 'manifest.csv'} row 3: image 'img/b.png' is a named pipe (FIFO), {SPECIAL}; replace it with the "
        "image file or drop the row"
    )


def test_a_character_device_among_the_images_is_refused_unread(tmp_path: Path) -> None:
    """A device node in the dataset (here one giving endless zeros, as /dev/zero) read until memory ran out."""
    root = tmp_path / "data"
    (root / "img").mkdir(parents=True)
    _character_device(root / "img" / "zero.png")
    manifest = dataset_of(root, "img/zero.png")
    assert refusal(manifest) == (
        f"{manifest} row 2: image 'img/zero.png' is a character device, {SPECIAL}; replace it with the image file "
        "or drop the row"
    )


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom"])
def test_a_symlink_to_a_device_is_refused_as_outside_the_folder(tmp_path: Path, target: str) -> None:
    root = tmp_path / "data"
    (root / "img").mkdir(parents=True)
    (root / "img" / "a.png").symlink_to(target)
    message = refusal(dataset_of(root, "img/a.png"))
    assert f"row 2: photo 'img/a.png' is outside the manifest's folder {root}; move the image under it" in message


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom", "fifo"])
@pytest.mark.parametrize("via", ["path", "symlink"])
def test_a_manifest_that_is_a_device_or_a_fifo_is_refused(tmp_path: Path, target: str, via: str) -> None:
    source = Path(target)
    if target == "fifo":
        source = tmp_path / "manifest-pipe.csv"
        os.mkfifo(source)
    path = source
    if via == "symlink":
        path = tmp_path / "manifest.csv"
        path.symlink_to(source)
    raised = _finishes(lambda: load_dataset(path), source if target == "fifo" else None)
    assert isinstance(raised, ManifestError)
    kind = "a named pipe (FIFO)" if target == "fifo" else "a character device"
    assert str(raised) == (
        f"manifest {path.absolute()} is {kind}, {SPECIAL}; save the manifest to a file and pass its path"
    )


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom", "fifo"])
def test_a_predictions_file_that_is_a_device_or_a_fifo_is_refused(
    one_photo: Dataset, tmp_path: Path, target: str
) -> None:
    source = Path(target)
    if target == "fifo":
        source = tmp_path / "predictions-pipe.jsonl"
        os.mkfifo(source)
    link = tmp_path / "predictions.jsonl"
    link.symlink_to(source)
    raised = _finishes(lambda: PredictionsAnalyzer(link, dataset=one_photo), source if target == "fifo" else None)
    assert isinstance(raised, PredictionsError)
    kind = "a named pipe (FIFO)" if target == "fifo" else "a character device"
    assert str(raised) == (
        f"predictions file {link} is {kind}, {SPECIAL}; save the predictions to a file and pass its path"
    )


def test_an_image_over_the_size_limit_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A regular file is read only up to the kit's limit for one image (64 MiB): a sparse 65 MiB 'PNG' is
    refused from its size, without reading it."""
    from conformance import _files

    reads: list[int] = []
    real_read = os.read
    monkeypatch.setattr(_files.os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    root = tmp_path / "data"
    (root / "img").mkdir(parents=True)
    with open(root / "img" / "big.png", "wb") as handle:
        handle.truncate(65 * 2**20)  # sparse: no disk used
    message = refusal(dataset_of(root, "img/big.png"))
    assert message == (
        f"{root / 'manifest.csv'} row 2: image 'img/big.png' is 65.0 MiB, over the 64 MiB the kit reads for one "
        "image; resize it or save it as JPEG, or drop the row"
    )
    assert reads == [len((root / "manifest.csv").read_bytes()) + 1]  # the manifest was read, the image not
