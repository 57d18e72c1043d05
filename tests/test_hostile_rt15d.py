"""Red team 15d (issue 15, second pass): the holes it found in the kit's own readers, each pinned by a test
that failed before the fix.

- F4: the answers pytest-xdist workers share, and the observation cache, were read up to 1 GiB whatever the
  run, and parsed whatever their shape (a 1 GiB JSON string cost 3.1 GB, 64 MiB of ``{},`` 1.7 GB, and a
  MemoryError escaped as a traceback);
- F5: a 16-bit-per-channel RGB TIFF was cut to 8 bits for upload, silently;
- F6: a JSONL manifest line one byte over the limit, ending in ``\\r\\n``, was accepted where a predictions
  file refused the same line;
- a ``trans`` cell of ``1.0`` (a spreadsheet's number) got the generic message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from conformance import Dataset, PredictionsError, load_dataset
from conformance.adapters import predictions
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.dataset import manifest as manifest_module
from conformance.errors import ManifestError

MakeManifest = Callable[..., Path]
ROWS = [
    {"photo": "img/a.png", "subject": "a", "gender_identity": "woman", "trans": "no"},
    {"photo": "img/b.png", "subject": "b", "gender_identity": "man", "trans": "no"},
    {"photo": "img/c.png", "subject": "c", "gender_identity": "woman", "trans": "yes"},
]
LIMIT = 120  # the line limit made small here; the kit's is 16 MiB, counted the same way
ENDS = {"LF": b"\n", "CRLF": b"\r\n", "CR": b"\r"}


def _padded(line: str, total: int, end: bytes) -> bytes:
    """``line`` (a JSON object) padded with spaces inside its closing brace to ``total`` bytes with ``end``."""
    body = line.encode()
    return body[:-1] + b" " * (total - len(body) - len(end)) + b"}" + end


def _answer(photo: str) -> str:
    return json.dumps({"photo": photo, "faces": [{"gender": "Female", "confidence": 90.0}]})


@pytest.fixture
def dataset(make_manifest: MakeManifest) -> Dataset:
    return load_dataset(make_manifest(ROWS))


# -- F6: both readers count a line's bytes alike, its line end included ------------------------------------


@pytest.mark.parametrize("end", ENDS, ids=list(ENDS))
@pytest.mark.parametrize("extra", [0, 1], ids=["at-limit", "one-over"])
def test_a_predictions_line_at_the_limit_is_read_and_one_byte_more_refused(
    dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, end: str, extra: int
) -> None:
    monkeypatch.setattr(predictions, "MAX_LINE_BYTES", LIMIT)
    a, b, c = (_answer(f"img/{name}.png") for name in "abc")
    line_end = ENDS[end]
    path = tmp_path / "p.jsonl"
    path.write_bytes(a.encode() + line_end + _padded(b, LIMIT + extra, line_end) + c.encode() + line_end)
    if extra:
        with pytest.raises(PredictionsError, match=r"p\.jsonl line 2: the line is longer than 120 bytes, "):
            PredictionsAnalyzer(path, dataset=dataset)
    else:
        assert PredictionsAnalyzer(path, dataset=dataset).has_line("img/b.png")


@pytest.mark.parametrize("end", ENDS, ids=list(ENDS))
@pytest.mark.parametrize("extra", [0, 1], ids=["at-limit", "one-over"])
def test_a_jsonl_manifest_line_at_the_limit_is_read_and_one_byte_more_refused(
    make_manifest: MakeManifest, monkeypatch: pytest.MonkeyPatch, end: str, extra: int
) -> None:
    """Red team 15d F6: with ``\\r\\n``, a line of limit + 1 bytes passed the manifest's scan (it stopped counting
    at the ``\\r``), while a predictions file refused it."""
    monkeypatch.setattr(manifest_module, "JSONL_LINE_LIMIT", LIMIT)
    manifest = make_manifest(ROWS, name="manifest.jsonl")
    a, b, c = (json.dumps(row) for row in ROWS)
    line_end = ENDS[end]
    manifest.write_bytes(a.encode() + line_end + _padded(b, LIMIT + extra, line_end) + c.encode() + line_end)
    assert manifest.stat().st_size > LIMIT  # else the file is not scanned at all
    if extra:
        with pytest.raises(ManifestError, match=r"manifest\.jsonl line 2: the line is longer than 120 bytes, "):
            load_dataset(manifest)
    else:
        assert [p.id for p in load_dataset(manifest).photos] == ["img/a.png", "img/b.png", "img/c.png"]


# -- a trans cell a spreadsheet wrote as a number, or as a missing value, gets its own message --------------


@pytest.mark.parametrize("name", ["manifest.csv", "manifest.jsonl"])
@pytest.mark.parametrize("cell", ["1.0", "0.0", 1.0])
def test_a_trans_cell_written_as_a_float_is_named_as_a_number(
    make_manifest: MakeManifest, name: str, cell: object
) -> None:
    """pandas writes a column of 1 and 0 with a gap as 1.0 and 0.0 (in JSONL, a number): before, the generic
    "is not yes, no or unknown" message, which lists 1/0 as read, left the reader wondering why 1.0 was not."""
    rows = [dict(ROWS[0]), {**ROWS[1], "trans": cell}, dict(ROWS[2])]
    manifest = make_manifest(rows, name=name)
    with pytest.raises(ManifestError) as raised:
        load_dataset(manifest)
    row = 3 if name.endswith(".csv") else 2  # CSV counts its header as line 1
    assert str(raised.value) == (
        f"{manifest} row {row}: trans '{cell}' is a number, as a spreadsheet or pandas writes a column of 1 and 0 "
        "that has empty cells (1.0, 0.0): write yes, no or unknown (or 1 or 0), or leave the cell blank (unknown)"
    )


def test_a_trans_cell_of_nan_is_still_named_as_a_missing_value(make_manifest: MakeManifest) -> None:
    """JSONL's NaN (Python's json reads it) is pandas' empty cell: the missing-value message, not the number one."""
    manifest = make_manifest(ROWS, name="manifest.jsonl")
    lines = manifest.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace('"trans": "no"', '"trans": NaN')
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ManifestError) as raised:
        load_dataset(manifest)
    assert str(raised.value).startswith(
        f"{manifest} row 2: trans 'nan' is not an answer but a missing-value marker (as pandas or a spreadsheet "
        "writes an empty cell): leave the cell blank (unknown)"
    )


# -- F5: a TIFF of 16 bits per colour channel is refused for upload, never cut to 8 bits ---------------------


def _tiff(path: Path, samples: list[list[list[int]]], *, big_endian: bool) -> Path:
    """An uncompressed 16-bit TIFF (one strip) of ``samples`` (rows of pixels of 1 or 3 channels), written by
    hand from the TIFF 6.0 layout: Pillow writes no 16-bit RGB TIFF, so the file cannot come from it."""
    import struct

    order = ">" if big_endian else "<"
    height, width, channels = len(samples), len(samples[0]), len(samples[0][0])
    data = struct.pack(f"{order}{height * width * channels}H", *(v for row in samples for px in row for v in px))
    bits_at = 8 + len(data)  # three BitsPerSample values do not fit in their entry: stored after the data
    extra = struct.pack(f"{order}3H", 16, 16, 16) if channels == 3 else b""
    entries = [  # (tag, type SHORT=3 / LONG=4, count, value or offset)
        (256, 3, 1, width),
        (257, 3, 1, height),
        (258, 3, channels, bits_at if channels == 3 else 16),
        (259, 3, 1, 1),  # no compression
        (262, 3, 1, 2 if channels == 3 else 1),  # RGB, or grey with black at 0
        (273, 4, 1, 8),  # the strip starts after the 8-byte header
        (277, 3, 1, channels),
        (278, 3, 1, height),
        (279, 4, 1, len(data)),
    ]
    ifd = struct.pack(f"{order}H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack(f"{order}HH", value, 0) if kind == 3 and count == 1 else struct.pack(f"{order}I", value)
        ifd += struct.pack(f"{order}HHI", tag, kind, count) + packed
    header = (b"MM" if big_endian else b"II") + struct.pack(f"{order}HI", 42, bits_at + len(extra))
    path.write_bytes(header + data + extra + ifd + struct.pack(f"{order}I", 0))
    return path


# Values whose low byte differs from their high byte: cut to 8 bits, they could not come back.
RGB48 = [[[(37 * (x + 3 * y) + 4099 * c) % 65536 for c in range(3)] for x in range(4)] for y in range(3)]
GREY16 = [[[(9001 * (x + 4 * y) + 258) % 65536] for x in range(4)] for y in range(3)]


@pytest.mark.parametrize("big_endian", [False, True], ids=["RGB;16L", "RGB;16B"])
def test_a_tiff_of_16_bits_per_colour_channel_is_refused_for_upload_naming_it(tmp_path: Path, big_endian: bool) -> None:
    """Red team 15d F5: Pillow decodes it as 8-bit RGB, and the upload was an 8-bit PNG of it, silently."""
    from conformance.images import for_upload

    path = _tiff(tmp_path / "rgb48.tif", RGB48, big_endian=big_endian)
    with pytest.raises(ManifestError) as raised:
        for_upload(path)
    assert str(raised.value) == (
        f"image {path} is a TIFF of 16 bits per channel (RGB), which the kit can read only as 8 bits per channel: "
        "sent, it would not be the photo as stored. The kit picks no conversion: convert the image yourself to a "
        "16-bit PNG (sent as it is) or to an 8-bit RGB PNG or JPEG, and replace the file, or drop the row"
    )


@pytest.mark.parametrize("big_endian", [False, True], ids=["I;16L", "I;16B"])
def test_a_tiff_of_16_bit_greys_is_still_sent_with_every_value_unchanged(tmp_path: Path, big_endian: bool) -> None:
    import io

    from PIL import Image

    from conformance.images import for_upload

    data, image_format = for_upload(_tiff(tmp_path / "grey16.tif", GREY16, big_endian=big_endian))
    assert image_format == "PNG"
    with Image.open(io.BytesIO(data)) as sent:
        assert sent.mode == "I;16"
        assert [[sent.getpixel((x, y)) for x in range(4)] for y in range(3)] == [[px[0] for px in r] for r in GREY16]
