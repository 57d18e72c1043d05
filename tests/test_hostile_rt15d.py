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
from types import SimpleNamespace
from typing import Any

import pytest

from conformance import Dataset, PredictionsError, load_dataset, sharing
from conformance.adapters import predictions
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.dataset import manifest as manifest_module
from conformance.errors import ManifestError
from conformance.observation import Face, Observation
from conformance.run import cache
from conformance.run.cache import EntryBounds
from conformance.sharing import Share

MakeManifest = Callable[..., Path]
ROWS = [
    {"photo": "img/a.png", "subject": "a", "gender_identity": "woman", "trans": "no"},
    {"photo": "img/b.png", "subject": "b", "gender_identity": "man", "trans": "no"},
    {"photo": "img/c.png", "subject": "c", "gender_identity": "woman", "trans": "yes"},
]
LIMIT = 120  # the line limit made small here; the kit's is 16 MiB, counted the same way
ENDS = {"LF": b"\n", "CRLF": b"\r\n", "CR": b"\r"}
KEY = "0123abcd" * 8


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


# -- F4: shared answers and cache entries are read within bounds sized from the run -------------------------


def _share(tmp_path: Path) -> Share:
    return Share(str(tmp_path), "ab" * 32)


def _notice(path: Path, problem: str) -> str:
    return (
        f"conformance: ignored the answers shared by the run's workers, {path}: it {problem}; this worker works the "
        "answers out itself\n"
    )


def test_the_bounds_of_a_run_are_worked_out_from_its_answers_and_photo_names() -> None:
    # 3 photos and 2 variants, names of 9 characters: 1 MiB + 5 x (26,048 + 12 x 9) bytes; 16,384 + 5 x 64 values.
    # (26,048 = 12 bytes a character of a 500-character message and 1,500 of wording, and 2,048: red team 15e F1.)
    photos = [SimpleNamespace(id=f"img/{name}.png") for name in "abc"]
    bounds = EntryBounds.of_run(photos, 2)  # type: ignore[arg-type]
    assert (bounds.size, bounds.values, bounds.answers) == (1_179_356, 16_704, 5)
    assert EntryBounds.of(10**7, 100).size == 2**30  # never over the bound of any entry


def test_a_shared_entry_over_the_runs_bounds_is_ignored_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: read up to 1 GiB whatever the run (a 1 GiB string cost 3.1 GB to parse)."""
    monkeypatch.setattr(cache, "BASE_BYTES", 0)
    share = _share(tmp_path)
    sharing._write(share, KEY, {"x": "a" * 60_000})
    entry = tmp_path / f"{KEY}.json"
    assert sharing._read(share, KEY, EntryBounds.of(2, 0)) is None  # 2 x 26,048 bytes (and 65 for the seal line)
    assert capsys.readouterr().err == _notice(
        entry, f"is {entry.stat().st_size:,} bytes, over the 52,161 bytes the kit reads for shared answers"
    )
    assert sharing._read(share, KEY, EntryBounds.of(3, 0))["x"] == "a" * 60_000  # type: ignore[index]


# The red team's entry: valid JSON in the old format, 1 MiB of ``{},`` (theirs was 64 MiB), sealed by no one.
HOSTILE = b'{"format":1,"key":"' + KEY.encode() + b'","x":[' + b"{}," * 2**18 + b'{}],"seal":"00"}'


def test_an_entry_the_runs_workers_did_not_seal_is_never_parsed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Red team 15d F4's entries were unsealed: 64 MiB of ``{},`` cost 1.7 GB parsed before the seal was checked.
    Now the seal is checked on the bytes first: within the bounds or not, such an entry is never parsed."""
    parsed: list[str] = []
    monkeypatch.setattr(cache, "parse_entry", lambda text, bounds: parsed.append(text))
    share = _share(tmp_path)
    body = HOSTILE.replace(b'"format":1', b'"format":2').replace(b',"seal":"00"', b"")
    other = sharing._seal(Share(str(tmp_path), "cd" * 32), body)  # sealed with another run's secret
    for data in (HOSTILE, b"0" * 64 + b"\n" + body, other + b"\n" + body):
        (tmp_path / f"{KEY}.json").write_bytes(data)
        assert sharing._read(share, KEY, EntryBounds.of(10**6, 0)) is None
    assert parsed == []
    assert capsys.readouterr().err == ""  # as before, an entry that does not verify is worked out again quietly


def test_reading_an_unsealed_entry_costs_no_more_than_its_bytes(tmp_path: Path) -> None:
    """Python's allocations while reading the red team's entry: before, the bytes, their text and the parsed
    objects (about 26 times the bytes); now the bytes alone, as the seal is checked before parsing."""
    import tracemalloc

    (tmp_path / f"{KEY}.json").write_bytes(HOSTILE)
    tracemalloc.start()
    try:
        assert sharing._read(_share(tmp_path), KEY) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * len(HOSTILE)


def test_a_sealed_entry_with_more_json_values_than_its_bounds_is_refused_before_parsing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # {"format":2,"key":"k...k","x":[{},{},{}]}: 1 + 4 '{' + 3 ':' + 4 ',' + 1 '[' = 13 values at most.
    share = _share(tmp_path)
    sharing._write(share, KEY, {"x": [{}, {}, {}]})
    assert sharing._read(share, KEY, EntryBounds(size=10**6, values=12, answers=1)) is None
    assert capsys.readouterr().err == _notice(
        tmp_path / f"{KEY}.json", "holds up to 13 JSON values, over the 12 the kit reads for 1 answers"
    )
    assert sharing._read(share, KEY, EntryBounds(size=10**6, values=13, answers=1)) is not None


def test_a_sealed_entry_nested_too_deep_is_ignored_with_the_notice_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, json's RecursionError was not among the errors caught: a traceback out of the worker."""
    share = _share(tmp_path)
    text = '{"format":2,"key":"' + KEY + '","x":' + "[" * 100_000 + "]" * 100_000 + "}"
    (tmp_path / f"{KEY}.json").write_text(sharing._seal(share, text.encode()).decode() + "\n" + text)
    assert sharing._read(share, KEY, EntryBounds(size=10**6, values=10**6, answers=1)) is None
    assert capsys.readouterr().err == _notice(tmp_path / f"{KEY}.json", "nests deeper than the kit parses")


def test_running_out_of_memory_while_parsing_an_entry_is_the_notice_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Red team 15d F4 under ``prlimit --as=4000000000``: a MemoryError traceback. Now the notice, in both readers."""

    def out_of_memory(text: str) -> Any:
        raise MemoryError

    share = _share(tmp_path)
    sharing._write(share, KEY, {"x": 1})
    cache.store(tmp_path, KEY, [], None, "")
    monkeypatch.setattr(json, "loads", out_of_memory)
    assert sharing._read(share, KEY, EntryBounds.of(1, 0)) is None
    assert cache.load(tmp_path, KEY, EntryBounds.of(1, 0)) is None
    assert capsys.readouterr().err == _notice(tmp_path / f"{KEY}.json", "is too large to parse in the memory left") + (
        f"conformance: ignored the cache entry .conformance_cache/observations/{KEY}.json: it is too large to parse "
        "in the memory left; the answers are worked out again\n"
    )


def test_a_cache_entry_over_the_runs_bounds_is_ignored_with_a_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    face = Face(label="Female", gender="woman", confidence=90.0)
    observations = [Observation(photo=f"img/{i}.png", outcome="analysed", face=face, faces=1) for i in range(50)]
    cache.store(tmp_path, KEY, observations, None, "")
    assert cache.load(tmp_path, KEY, EntryBounds.of(50, 9)) is not None
    monkeypatch.setattr(cache, "BASE_BYTES", 0)
    monkeypatch.setattr(cache, "BASE_VALUES", 0)
    assert cache.load(tmp_path, KEY, EntryBounds(size=10**6, values=64, answers=2)) is None
    size = (tmp_path / ".conformance_cache" / "observations" / f"{KEY}.json").stat().st_size
    monkeypatch.setattr(cache, "ANSWER_BYTES", 1024)  # an answer's allowance made small: the entry is 5,582 bytes
    assert cache.load(tmp_path, KEY, EntryBounds.of(1, 0)) is None
    err = capsys.readouterr().err.splitlines()
    shown = f"conformance: ignored the cache entry .conformance_cache/observations/{KEY}.json: it "
    assert err[0].startswith(shown + "holds up to ")
    assert err[0].endswith(" JSON values, over the 64 the kit reads for 2 answers; the answers are worked out again")
    assert (
        err[1]
        == shown
        # 1,024 bytes of answers and 65 for the seal's line (format 3), as shared answers count them.
        + f"is {size:,} bytes, over the 1,089 bytes the kit reads for a cache entry; the answers are worked out again"
    )


def test_a_run_reads_its_cache_within_the_bounds_of_its_photos(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner hands the cache the demo's bounds: 600 photos named in 16 characters, no variants."""
    from conformance.adapters.base import AdapterSettings
    from conformance.adapters.registry import create
    from conformance.demo import CASSETTES, MANIFEST
    from conformance.run.runner import analyze_dataset

    dataset = load_dataset(MANIFEST)
    asked: list[EntryBounds | None] = []
    real_load = cache.load

    def spy(root: Path, key: str, bounds: EntryBounds | None = None) -> Any:
        asked.append(bounds)
        return real_load(root, key, bounds)

    monkeypatch.setattr(cache, "load", spy)
    settings = AdapterSettings(record_mode="none", cassette_dir=str(CASSETTES))
    analyze_dataset(create("rekognition", dataset=dataset, settings=settings), dataset, cache=tmp_path)
    # 1 MiB + 600 x (26,048 + 12 x 16) bytes; 16,384 + 600 x 64 values.
    assert asked == [EntryBounds(size=16_792_576, values=54_784, answers=600)]
