"""Red team 15c (issue 15, second pass): the holes it found, each pinned by a test that failed before the fix.

- a ``conformance run`` killed outright (SIGKILL to its process group) left the child running the suite,
  still calling the model;
- a named pipe as a module's bytecode cache hung ``python:MODULE:FUNCTION``;
- CMYK, float and LAB TIFFs passed the loader, then crashed the Rekognition adapter's upload;
- one huge line in a predictions file or a JSONL manifest was read whole;
- a predictions line with a key given twice was read silently, the last one winning;
- the xdist share and the emulator's key file were read without bound;
- the vocabulary check ran two import statements per photo.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_signals import _marked
from test_special_files import KINDS, PIPE, finishes, sparse, special

from conformance import AdapterError, Dataset, PredictionsError, load_dataset, sharing
from conformance.adapters import predictions
from conformance.adapters.base import AdapterSettings, Vocabulary
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.adapters.python import loading as python_loading
from conformance.adapters.registry import create as create_analyzer
from conformance.dataset import manifest as dataset_module
from conformance.errors import ManifestError
from conformance.images import for_upload
from conformance.observation import Face, Observation
from conformance.recording import proof
from conformance.run import cache
from conformance.run.execution import hold_to_vocabulary
from conformance.sharing import Share

# -- item 7: the vocabulary check imports nothing per photo -----------------------------------------------


def test_holding_usual_answers_to_the_vocabulary_runs_no_import_statement() -> None:
    """Two ``from ... import`` statements per photo cost about 6 s a million photos here (0.6 s without)."""
    analyzer = SimpleNamespace(name="acme", vocabulary=Vocabulary({"Male": "man", "Female": "woman"}, "its header"))
    answers = [
        Observation(photo=f"p{i}", outcome="analysed", face=Face(label=label, gender=gender, confidence=90.0), faces=1)
        for i, (label, gender) in enumerate([("Male", "man"), ("Female", "woman")] * 50)
    ]
    imports: list[str] = []
    real_import = builtins.__import__

    def counting(name: str, *args: Any, **kwargs: Any) -> Any:
        imports.append(name)
        return real_import(name, *args, **kwargs)

    builtins.__import__ = counting  # not monkeypatch.setattr, which itself imports
    try:
        held = [hold_to_vocabulary(analyzer, answer) for answer in answers]
    finally:
        builtins.__import__ = real_import
    assert held == answers
    assert imports == []


def test_an_answer_outside_the_vocabulary_is_still_that_photos_error() -> None:
    analyzer = SimpleNamespace(name="acme", vocabulary=Vocabulary({"Male": "man", "Female": "woman"}, "its header"))
    answer = Observation(
        photo="p1", outcome="analysed", face=Face(label="Robot", gender=None, confidence=90.0), faces=1
    )
    held = hold_to_vocabulary(analyzer, answer)
    assert held.outcome == "error"
    assert held.reason == (
        "the service returned the gender label 'Robot', outside its declared vocabulary ['Male', 'Female'] "
        "(from its header)"
    )


# -- item 6: the xdist share and the emulator's key file are read as the kit reads other files ------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_shared_answers_entry_that_is_a_pipe_or_a_device_is_ignored_with_a_notice(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: ``read_text`` waited on a pipe for ever and read ``/dev/zero`` until the memory ran out."""
    share = Share(str(tmp_path), "00" * 32)
    entry = tmp_path / "0123abcd.json"
    what = special(entry, kind)
    assert finishes(lambda: sharing._read(share, "0123abcd")) is None
    assert capsys.readouterr().err == (
        f"conformance: ignored the answers shared by the run's workers, {entry}: it is {what}, not a regular file: "
        "the kit reads only regular files; this worker works the answers out itself\n"
    )


def test_a_shared_answers_entry_over_the_limit_is_ignored_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry over the limit the cache reads for one (1 GiB; 1 MiB here): refused from its size."""
    monkeypatch.setattr(cache, "MAX_ENTRY_BYTES", 2**20)
    share = Share(str(tmp_path), "00" * 32)
    entry = sparse(tmp_path / "0123abcd.json", 3 * 2**20, b'{"format": 1')
    assert finishes(lambda: sharing._read(share, "0123abcd")) is None
    assert capsys.readouterr().err == (
        f"conformance: ignored the answers shared by the run's workers, {entry}: it is 3.0 MiB, over the 1.0 MiB "
        "the kit reads for shared answers; this worker works the answers out itself\n"
    )


def test_a_shared_answers_entry_not_yet_written_is_no_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sharing._read(Share(str(tmp_path), "00" * 32), "0123abcd") is None
    assert capsys.readouterr().err == ""


@pytest.fixture
def key_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private registry folder of the test's own (the real one is shared by the user's emulators)."""
    folder = tmp_path / "registry"
    folder.mkdir(mode=0o700)
    monkeypatch.setattr(proof, "registry", lambda: folder)
    monkeypatch.setattr(proof, "_SAID", set(), raising=False)
    return folder


@pytest.mark.parametrize("kind", KINDS)
def test_an_emulator_key_file_that_is_a_pipe_or_a_device_leaves_the_claim_unverified_with_a_notice(
    key_registry: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: a recording run's check of an emulator's claim waited on a pipe for ever (every call)."""
    key_file = key_registry / "49152.json"
    what = special(key_file, kind)
    headers = {proof.CLAIM_HEADER: "rekognition", proof.PROOF_HEADER: "0" * 64}
    for _ in range(3):  # a recording asks on every call; the notice comes once
        claimed = finishes(lambda: proof.claim(headers, b"{}", url="http://127.0.0.1:49152", nonce="ab" * 16))
        assert claimed == "unverified"
    assert capsys.readouterr().err == (
        f"conformance: ignored the emulator key file {key_file}: it is {what}, not a regular file: the kit reads only "
        "regular files; the answers of the endpoint on that port are recorded as unverified\n"
    )


def test_an_emulator_key_file_over_the_limit_is_not_read(
    key_registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = sparse(key_registry / "49152.json", 64 * 2**20, b'{"key": "')
    headers = {proof.CLAIM_HEADER: "rekognition", proof.PROOF_HEADER: "0" * 64}
    assert finishes(lambda: proof.claim(headers, b"{}", url="http://127.0.0.1:49152", nonce="ab" * 16)) == "unverified"
    assert capsys.readouterr().err == (
        f"conformance: ignored the emulator key file {key_file}: it is 64.0 MiB, over the 4,096 bytes the kit reads "
        "for a key file; the answers of the endpoint on that port are recorded as unverified\n"
    )


def test_unregistering_never_waits_on_a_key_file_swapped_for_a_pipe(key_registry: Path) -> None:
    key_file = key_registry / "49152.json"
    special(key_file, "fifo")
    assert finishes(lambda: proof.unregister(key_file, b"k" * 32)) is None
    assert key_file.exists()  # not the emulator's own any more: left alone


# -- item 4: one endless line is refused after the limit, not read until the memory runs out --------------

MakeManifest = Callable[..., Path]
ROWS = [
    {"photo": "img/a.png", "subject": "a", "gender_identity": "woman", "trans": "no"},
    {"photo": "img/b.png", "subject": "b", "gender_identity": "man", "trans": "no"},
    {"photo": "img/c.png", "subject": "c", "gender_identity": "woman", "trans": "yes"},
]
HEADER = '{"analyzer": "acme", "vocabulary": ["Male", "Female"]}'


def _answer(photo: str, gender: str = "Female") -> str:
    return json.dumps({"photo": photo, "faces": [{"gender": gender, "confidence": 90.0}]})


@pytest.fixture
def dataset(make_manifest: MakeManifest) -> Dataset:
    return load_dataset(make_manifest(ROWS))


def test_a_predictions_line_over_the_limit_is_refused_naming_it(dataset: Dataset, tmp_path: Path) -> None:
    """64 MiB of one line (a sparse file: nothing on disk), over the 16 MiB limit: refused at line 2 after
    reading the limit. Before, the line was read whole (a 3 GB one was a MemoryError) and then called bad JSON."""
    path = sparse(tmp_path / "big.jsonl", 64 * 2**20, (HEADER + "\n").encode())
    with pytest.raises(PredictionsError) as raised:
        PredictionsAnalyzer(path, dataset=dataset)
    assert str(raised.value) == (
        f"{path} line 2: the line is longer than 16.0 MiB, the most the kit reads for one line (a photo's answer, "
        "or the header); write one JSON object per line, a line per photo"
    )


def test_the_predictions_line_limit_counts_the_line_end_and_names_the_line(
    dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the limit made 120 bytes: a line of exactly 120 bytes with its newline is read, one of 121 refused."""
    monkeypatch.setattr(predictions, "MAX_LINE_BYTES", 120)
    a, b, c = (_answer(f"img/{name}.png") for name in "abc")
    b_padded = b[:-1] + " " * (119 - len(b)) + "}"  # 119 characters and "\n": 120 bytes
    path = tmp_path / "p.jsonl"
    path.write_text(f"{a}\n{b_padded}\n{c}\n", encoding="utf-8")
    assert PredictionsAnalyzer(path, dataset=dataset).has_line("img/b.png")
    path.write_text(f"{a}\n{b_padded} \n{c}\n", encoding="utf-8")
    with pytest.raises(PredictionsError, match=r"p\.jsonl line 2: the line is longer than 120 bytes, "):
        PredictionsAnalyzer(path, dataset=dataset)


def test_a_predictions_file_of_carriage_return_line_ends_longer_than_the_limit_is_read_whole(
    dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lone ``\\r`` ends a line (universal newlines): a file with no ``\\n`` at all is many lines, not one
    over the limit; and a line over it among them is named by its number."""
    monkeypatch.setattr(predictions, "MAX_LINE_BYTES", 120)
    lines = [
        HEADER,
        *(_answer(f"img/{name}.png", gender) for name, gender in zip("abc", ["Female", "Male", "Female"], strict=True)),
    ]
    path = tmp_path / "p.jsonl"
    path.write_bytes("\r".join(lines).encode() + b"\r")
    read = PredictionsAnalyzer(path, dataset=dataset)
    assert [read.faces(f"img/{name}.png")[0].label for name in "abc"] == ["Female", "Male", "Female"]  # type: ignore[index]
    lines[2] = lines[2][:-1] + " " * 130 + "}"
    path.write_bytes("\r".join(lines).encode() + b"\r")
    with pytest.raises(PredictionsError, match=r"p\.jsonl line 3: the line is longer than 120 bytes, "):
        PredictionsAnalyzer(path, dataset=dataset)


def test_a_jsonl_manifest_line_over_the_limit_is_refused_before_the_file_is_read_whole(
    make_manifest: MakeManifest, tmp_path: Path
) -> None:
    manifest = make_manifest(ROWS, name="manifest.jsonl")
    head = manifest.read_bytes()
    big = sparse(manifest.parent / "big.jsonl", 64 * 2**20, head)
    with pytest.raises(ManifestError) as raised:
        load_dataset(big)
    assert str(raised.value) == (
        f"{big} line 4: the line is longer than 16.0 MiB, the most the kit reads for one line of a JSONL manifest; "
        "write one JSON object per photo, each on its own line"
    )


def test_a_long_jsonl_manifest_line_is_named_as_the_rows_are_numbered(
    make_manifest: MakeManifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Line ends ``\\n``, ``\\r\\n`` and ``\\r`` mixed: the long line is line 5 by hand count, as the manifest's
    other messages number it."""
    monkeypatch.setattr(dataset_module, "JSONL_LINE_LIMIT", 100)
    manifest = make_manifest(ROWS, name="manifest.jsonl")
    a, b, c = (json.dumps(row) for row in ROWS)  # 79 to 80 bytes each
    long = c[:-1] + ', "note": "' + "x" * 30 + '"}'
    manifest.write_bytes(f"{a}\r\n\r{b}\n\r\n{long}\r\n".encode())  # lines: a, blank, b, blank, long
    with pytest.raises(ManifestError, match=r"manifest\.jsonl line 5: the line is longer than 100 bytes, "):
        load_dataset(manifest)
    manifest.write_bytes(f"{a}\r\n\r{b}\n\r\n{c}\r\n".encode())
    assert len(load_dataset(manifest).photos) == 3


HUGE_LINE_RUN = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 * 10**9, 2 * 10**9))  # 2 GB of address space: a 3 GB line cannot fit
from conformance.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("where", ["predictions", "manifest"])
def test_conformance_run_refuses_a_3_gb_line_under_a_2_gb_memory_limit(
    make_manifest: MakeManifest, tmp_path: Path, where: str
) -> None:
    """The red team's case: a sparse 3 GB line, the run limited to 2 GB of memory. Before: MemoryError, exit 1."""
    manifest = make_manifest(ROWS, name="manifest.jsonl")
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(_answer(row["photo"]) + "\n" for row in ROWS), encoding="utf-8")
    big = sparse(
        tmp_path / "data" / "big.jsonl", 3 * 2**30, (manifest if where == "manifest" else answers).read_bytes()
    )
    dataset, analyzer = (big, answers) if where == "manifest" else (manifest, big)
    command = [sys.executable, "-c", HUGE_LINE_RUN, "run", "--dataset", str(dataset), "--analyzer"]
    command += [f"predictions:{analyzer}", "--no-progress", "--no-cache", "--report-dir", str(tmp_path / "out")]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env, check=False)
    if where == "predictions":
        problem = (
            "the most the kit reads for one line (a photo's answer, or the header); write one JSON object per line, "
            "a line per photo"
        )
    else:
        problem = (
            "the most the kit reads for one line of a JSONL manifest; write one JSON object per photo, each on its "
            "own line"
        )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == (
        f"conformance: error: {big} line 4: the line is longer than 16.0 MiB, {problem}"
    )


# -- item 5: a key given twice in a predictions line is refused, as in a JSONL manifest --------------------

DUPLICATES = [
    ('{"photo": "img/b.png", "faces": [{"gender": "Male", "gender": "Female", "confidence": 90.0}]}', 3, "gender"),
    ('{"photo": "img/b.png", "photo": "img/c.png", "faces": []}', 3, "photo"),
    ('{"photo": "img/b.png", "faces": [], "faces": [{"gender": "Male", "confidence": 90.0}]}', 3, "faces"),
    ('{"photo": "img/b.png", "faces": [{"gender": "Male", "confidence": 90.0, "extra": {"k": 1, "k": 2}}]}', 3, "k"),
]


@pytest.mark.parametrize(("line", "number", "key"), DUPLICATES)
def test_a_predictions_line_with_a_key_given_twice_is_refused_naming_the_key(
    dataset: Dataset, tmp_path: Path, line: str, number: int, key: str
) -> None:
    """Before: read silently, the last one winning (a reviewer reading the file saw "Male", the kit "Female")."""
    path = tmp_path / "p.jsonl"
    path.write_text(f"{HEADER}\n{_answer('img/a.png')}\n{line}\n{_answer('img/c.png')}\n", encoding="utf-8")
    with pytest.raises(PredictionsError) as raised:
        PredictionsAnalyzer(path, dataset=dataset)
    assert str(raised.value) == (
        f"{path} line {number}: key '{key}' appears twice in the object; the second would hide the first: keep one"
    )


def test_a_predictions_header_with_a_key_given_twice_is_refused(dataset: Dataset, tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    header = '{"analyzer": "acme", "vocabulary": ["Male", "Female"], "vocabulary": ["Male", "Female", "X"]}'
    path.write_text(header + "\n" + "".join(_answer(f"img/{n}.png") + "\n" for n in "abc"), encoding="utf-8")
    with pytest.raises(PredictionsError) as raised:
        PredictionsAnalyzer(path, dataset=dataset)
    assert str(raised.value) == (
        f"{path} line 1: key 'vocabulary' appears twice in the object; the second would hide the first: keep one"
    )


def test_a_predictions_line_with_a_repeated_value_but_no_repeated_key_is_read(dataset: Dataset, tmp_path: Path) -> None:
    """The same value under two keys, and keys repeated across objects, are no duplicate."""
    path = tmp_path / "p.jsonl"
    two_faces = {
        "photo": "img/b.png",
        "faces": [
            {"gender": "Male", "confidence": 90.0, "box": [0, 0, 0.5, 0.5]},
            {"gender": "Male", "confidence": 90.0, "box": [0.5, 0.5, 0.1, 0.1]},
        ],
    }
    path.write_text(
        f"{HEADER}\n{_answer('img/a.png')}\n{json.dumps(two_faces)}\n{_answer('img/c.png')}\n", encoding="utf-8"
    )
    assert PredictionsAnalyzer(path, dataset=dataset).faces("img/b.png") is not None


# -- item 3: TIFFs whose pixels PNG cannot hold are that photo's error, named, never a traceback -----------


def _tiff(path: Path, mode: str) -> Path:
    """An 8x8 TIFF in ``mode`` (the values seeded: nothing depends on them)."""
    import numpy as np
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "F":
        image = Image.frombytes("F", (8, 8), np.random.default_rng(1).random((8, 8), dtype=np.float32).tobytes())
    else:
        image = Image.new(mode, (8, 8), {"CMYK": (10, 20, 30, 40), "LAB": (50, 10, 240)}.get(mode, 7))
    image.save(path, format="TIFF")
    return path


UNSENDABLE = {"CMYK": "CMYK colours", "F": "32-bit floating-point pixels", "LAB": "CIE L*a*b* colours"}


def _unsendable(path: Path, mode: str) -> str:
    return (
        f"image {path} is a TIFF of {UNSENDABLE[mode]}, which cannot be sent as they are: the service takes JPEG or "
        "PNG, and PNG cannot hold them. The kit picks no conversion (one would change what the service sees): "
        "convert the image yourself to an RGB PNG or JPEG and replace the file, or drop the row"
    )


@pytest.mark.parametrize("mode", sorted(UNSENDABLE))
def test_a_tiff_png_cannot_hold_is_refused_for_upload_naming_it(tmp_path: Path, mode: str) -> None:
    """Before: ``OSError: cannot write mode CMYK as PNG`` out of Pillow, the photo not named."""
    path = _tiff(tmp_path / f"odd-{mode.lower()}.tif", mode)
    with pytest.raises(ManifestError) as raised:
        for_upload(path)
    assert str(raised.value) == _unsendable(path, mode)


@pytest.mark.parametrize(("mode", "sent"), [("PA", "RGBA"), ("I;16B", "I;16"), ("I", "I;16")])
def test_modes_png_holds_exactly_once_spelled_out_are_sent_with_every_pixel_unchanged(
    tmp_path: Path, mode: str, sent: str
) -> None:
    """A palette spelled out, a byte order, 32 bits that fit in 16: the PNG's pixels equal the TIFF's, value for value
    (Pillow's own I;16B -> I;16 conversion made every value over 255 into 255)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(7)
    if mode == "PA":
        image = Image.new("PA", (8, 8))
        image.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
        image.putdata(
            [(int(p), int(a)) for p, a in zip(rng.integers(0, 256, 64), rng.integers(0, 256, 64), strict=True)]
        )
        palette = np.asarray(image.getpalette(), dtype=np.uint8).reshape(-1, 3)
        index, alpha = np.asarray(image.getchannel(0)), np.asarray(image.getchannel(1))
        expected = np.dstack([palette[index], alpha])
    else:
        values = rng.integers(0, 65536, (8, 8), dtype=np.int32)
        wide = Image.frombytes("I", (8, 8), values.astype("<i4").tobytes())
        image = wide if mode == "I" else Image.frombytes("I;16B", (8, 8), values.astype(">u2").tobytes())
        expected = values
    path = tmp_path / "exact.tif"
    image.save(path, format="TIFF")
    with Image.open(path) as stored:
        assert stored.mode == mode
    data, image_format = for_upload(path)
    assert image_format == "PNG"
    with Image.open(io.BytesIO(data)) as png:
        assert png.mode == sent
        assert np.array_equal(np.asarray(png).astype(np.int64), expected.astype(np.int64))
    assert for_upload(path) == (data, "PNG")  # deterministic: a recording keyed by the bytes replays


def test_a_32_bit_integer_tiff_beyond_16_bits_is_refused_not_clipped(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    path = tmp_path / "wide.tif"
    Image.frombytes("I", (8, 8), np.full((8, 8), 70_000, dtype="<i4").tobytes()).save(path, format="TIFF")
    with pytest.raises(ManifestError, match="is a TIFF of 32-bit integer pixels beyond 0 to 65,535, which cannot"):
        for_upload(path)


def test_the_rekognition_adapter_makes_such_a_tiff_that_photos_error_and_sends_nothing(
    make_manifest: MakeManifest, tmp_path: Path
) -> None:
    """The loader accepts the three TIFFs (other adapters read them); Rekognition's names each as the photo's
    error, in replay with an empty recording folder (no call is planned for them, none is made)."""
    rows = [
        {"photo": f"img/{mode.lower()}.tif", "subject": f"s{i}", "gender_identity": "woman", "trans": "no"}
        for i, mode in enumerate(sorted(UNSENDABLE))
    ]
    manifest = make_manifest(rows, images=False)
    for mode in UNSENDABLE:
        _tiff(manifest.parent / f"img/{mode.lower()}.tif", mode)
    data = load_dataset(manifest)
    analyzer = create_analyzer(
        "rekognition",
        dataset=data,
        settings=AdapterSettings(record_mode="none", cassette_dir=str(tmp_path / "cassettes")),
    )
    assert analyzer.planned() == []
    for mode in sorted(UNSENDABLE):
        photo = data.photo(f"img/{mode.lower()}.tif")
        observed = analyzer.analyze(photo)
        assert (observed.outcome, observed.reason) == ("error", _unsendable(photo.path, mode))


# -- item 2: a module's bytecode cache that is a pipe or a device is named, never waited on ----------------

MODEL = """
VOCABULARY = {"Woman": "woman", "Man": "man"}

def analyze(path):
    return {"faces": [{"gender": "Woman", "confidence": 90}]}
"""
CACHE_TAG = sys.implementation.cache_tag  # cpython-311


@pytest.fixture
def kept_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The adapter puts folders on sys.path and imports modules: both put back after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith(("rt15c_", "_conformance_python_rt15c_")):
            del sys.modules[name]


def _module(folder: Path, dotted: str) -> Path:
    """``dotted``'s source file under ``folder`` (packages made for its parents); returns the module's file."""
    *packages, last = dotted.split(".")
    where = folder
    for package in packages:
        where = where / package
        where.mkdir(parents=True, exist_ok=True)
        (where / "__init__.py").write_text("", encoding="utf-8")
    (where / f"{last}.py").write_text(MODEL, encoding="utf-8")
    return where / f"{last}.py"


def _cache_of(source: Path) -> Path:
    return source.parent / "__pycache__" / f"{source.stem}.{CACHE_TAG}.pyc"


def _cache_problem(spec: str, source: Path, what: str) -> str:
    return (
        f"{spec}: the bytecode cache {_cache_of(source)} of the module {source} is {what}, not a regular file: the kit "
        "reads only regular files; delete it (Python writes it again at the next import)"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_module_by_name_whose_bytecode_cache_is_a_pipe_or_a_device_is_refused_naming_it(
    tmp_path: Path, dataset: Dataset, monkeypatch: pytest.MonkeyPatch, kept_imports: None, kind: str
) -> None:
    """Before: ``python:MODULE:FUNCTION`` hung for ever in the import system's read of the ``.pyc``."""
    monkeypatch.chdir(tmp_path)
    name = f"rt15c_cache_{KINDS.index(kind)}"
    source = _module(tmp_path, name)
    what = special(_cache_of(source), kind)
    raised = finishes(lambda: create_analyzer(f"python:{name}:analyze", dataset=dataset))
    assert isinstance(raised, AdapterError)
    assert str(raised) == _cache_problem(f"python:{name}:analyze", source, what)


def test_a_parent_package_whose_bytecode_cache_is_a_pipe_is_refused_naming_it(
    tmp_path: Path, dataset: Dataset, monkeypatch: pytest.MonkeyPatch, kept_imports: None
) -> None:
    monkeypatch.chdir(tmp_path)
    _module(tmp_path, "rt15c_pkg.model")
    package = tmp_path / "rt15c_pkg" / "__init__.py"
    special(_cache_of(package), "fifo")
    raised = finishes(lambda: create_analyzer("python:rt15c_pkg.model:analyze", dataset=dataset))
    assert isinstance(raised, AdapterError)
    assert str(raised) == _cache_problem("python:rt15c_pkg.model:analyze", package, PIPE)


def test_a_model_file_whose_bytecode_cache_is_a_pipe_is_refused_as_by_name(
    tmp_path: Path, dataset: Dataset, kept_imports: None
) -> None:
    """The ``FILE.py`` form ignored such a cache (and Python then replaced the pipe): the two forms now agree."""
    source = _module(tmp_path, "rt15c_file_model")
    special(_cache_of(source), "fifo")
    raised = finishes(lambda: create_analyzer(f"python:{source}:analyze", dataset=dataset))
    assert isinstance(raised, AdapterError)
    assert str(raised) == _cache_problem(f"python:{source}:analyze", source, PIPE)


def test_a_bytecode_cache_swapped_for_a_pipe_after_the_check_is_still_never_waited_on(
    tmp_path: Path, dataset: Dataset, monkeypatch: pytest.MonkeyPatch, kept_imports: None
) -> None:
    """The import reads through the kit's reader: with the check skipped (a file swapped since), the pipe is not
    read, the source is compiled instead, and the model works."""
    monkeypatch.setattr(python_loading, "_check_cache", lambda cached, origin, spec: None)
    monkeypatch.chdir(tmp_path)
    source = _module(tmp_path, "rt15c_swapped")
    special(_cache_of(source), "fifo")
    analyzer = finishes(lambda: create_analyzer("python:rt15c_swapped:analyze", dataset=dataset))
    assert not isinstance(analyzer, BaseException), analyzer
    photo = dataset.photos[0]
    assert analyzer.analyze(photo).face.label == "Woman"  # type: ignore[attr-defined]


def test_conformance_run_with_a_bytecode_cache_that_is_a_pipe_exits_2_naming_it(
    tmp_path: Path, make_manifest: MakeManifest
) -> None:
    """The red team's case, through the CLI (whose guarded child imports the model)."""
    manifest = make_manifest(ROWS)
    source = _module(tmp_path, "m")
    special(_cache_of(source), "fifo")
    command = [sys.executable, "-m", "conformance", "run", "--dataset", str(manifest), "--analyzer", "python:m:analyze"]
    command += ["--no-progress", "--no-cache", "--report-dir", str(tmp_path / "out")]
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, check=False
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == "conformance: error: " + _cache_problem(
        "python:m:analyze", source, PIPE
    )


# -- item 1: a guarded run's child stops when the command that started it is killed outright -------------

SLOW_MODEL = """
import os, time
VOCABULARY = {"Woman": "woman", "Man": "man"}

def analyze(path):
    time.sleep(0.3)
    with open(os.environ["RT15C_CALL_LOG"], "a") as log:
        log.write(str(path) + "\\n")
    return {"faces": [{"gender": "Woman", "confidence": 90}]}
"""


def _calls(log: Path) -> int:
    return len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0


def _until(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` pass; whether it held."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def mark(request: pytest.FixtureRequest) -> Iterator[str]:
    """A mark in the environment of the run and its processes; any still alive afterwards are killed."""
    value = f"{os.getpid()}-{request.node.name}-{time.time()}"
    yield value
    for pid in _marked(value):
        os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("executor", ["serial", "processes:2"])
def test_sigkill_of_the_commands_process_group_stops_the_guarded_run_and_leaves_no_process(
    tmp_path: Path, make_manifest: MakeManifest, mark: str, executor: str
) -> None:
    """The red team's case (``timeout -s KILL``, a CI runner killing the job's group): before, the child that runs
    the suite, in a session of its own, went on calling the model to the last photo, unwatched."""
    rows = [
        {"photo": f"img/p{i:02d}.png", "subject": f"s{i}", "gender_identity": "woman", "trans": "no"} for i in range(40)
    ]
    manifest = make_manifest(rows)
    model = tmp_path / "slow.py"
    model.write_text(SLOW_MODEL, encoding="utf-8")
    log = tmp_path / "calls.log"
    command = [sys.executable, "-m", "conformance", "run", "--dataset", str(manifest), "--analyzer"]
    command += [f"python:{model}:analyze", "--executor", executor, "--no-progress", "--no-cache"]
    command += ["--report-dir", str(tmp_path / "out")]
    env = {**os.environ, "RT15C_CALL_LOG": str(log), "CONFORMANCE_TEST_MARK": mark}
    run = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, to kill as a whole
    )
    assert _until(lambda: _calls(log) >= 4, 120), "the model was never called"
    os.killpg(run.pid, signal.SIGKILL)
    killed_at = _calls(log)
    run.wait(timeout=30)
    # Every process of the run gone (the child, its worker processes), well before the 40 photos' 12 s of calls.
    assert _until(lambda: _marked(mark) == [], 30), f"still running: {_marked(mark)}"
    after = _calls(log)  # final: no process is left to call the model
    # Before, the run went on to the 40th photo. Now: serially, at most the call on its way when the command died
    # (the others stop as on SIGTERM); worker processes finish at most the chunks already handed to them, as on
    # Ctrl-C: chunks of 3 photos here (40 / (2 workers x 8)), one on its way and one queued per worker, 12 at most.
    assert after - killed_at <= (1 if executor == "serial" else 12)
    assert after < len(rows) // 2
    assert not any(tmp_path.glob("out/report.json"))


GRACE_SCRIPT = """
import os, signal, subprocess, sys, time
from conformance import _guarded_run as guard

guard._PARENT_GONE_GRACE = 0.5
signal.signal(signal.SIGTERM, lambda signum, frame: None)  # a model's own handler: SIGTERM does not stop it
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # a worker of the run's own
guard._stop_with_parent()
while True:
    with open(sys.argv[1], "a") as log:
        log.write("call\\n")
    time.sleep(0.05)
"""


def _run_as_child(script: str, log: Path, mark: str) -> tuple[subprocess.Popen[str], int]:
    """``script`` run as a guarded run's child is: its own session, the parent's pipe passed; returns the pipe's
    end the test holds (closing it is the parent dying)."""
    watched, held = os.pipe()
    env = {**os.environ, "CONFORMANCE_RUN_PARENT_PIPE": str(watched), "CONFORMANCE_TEST_MARK": mark}
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(log)],
        env=env,
        pass_fds=(watched,),
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(watched)
    return child, held


def test_a_child_that_does_not_stop_on_sigterm_is_killed_with_its_process_group_after_the_grace(
    tmp_path: Path, mark: str
) -> None:
    """The last resort: a run that ignores the SIGTERM it sends itself is killed outright, worker included, after
    the grace (made half a second here; a minute in the kit, for the calls on their way)."""
    log = tmp_path / "calls.log"
    child, held = _run_as_child(GRACE_SCRIPT, log, mark)
    # Three marked processes: the script, its helper and the watchdog the kit started for it.
    assert _until(lambda: _calls(log) >= 3 and len(_marked(mark)) == 3, 60), "the script did not start"
    os.close(held)  # the parent is gone
    _, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert _until(lambda: _marked(mark) == [], 30), f"still running: {_marked(mark)}"
    assert err == (
        "conformance: the conformance command that started this run is gone (killed); the run stops as on SIGTERM, "
        "keeping what it recorded\n"
    )


GIL_SCRIPT = """
import re, sys
from conformance import _guarded_run as guard

guard._PARENT_GONE_GRACE = 1.0
guard._stop_with_parent()
with open(sys.argv[1], "a") as log:
    log.write("call\\n")
re.match(r"(a+)+$", "a" * 64 + "b")  # a catastrophic regex: one call that holds the GIL for ever
"""


def test_a_call_holding_the_gil_does_not_keep_the_run_alive_after_its_parent_died(tmp_path: Path, mark: str) -> None:
    """Red team 15d: the watcher was a thread of the run's process, which a call holding the GIL never let run."""
    log = tmp_path / "calls.log"
    child, held = _run_as_child(GIL_SCRIPT, log, mark)
    assert _until(lambda: _calls(log) >= 1, 60), "the script did not start"
    os.close(held)  # the parent is gone
    try:
        _, err = child.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # whatever happened, no regex left burning a core
    # SIGTERM's handler never runs while the regex holds the GIL: the kill after the grace ends it.
    assert child.returncode in (-signal.SIGTERM, -signal.SIGKILL)
    assert "is gone (killed)" in err
    assert _until(lambda: _marked(mark) == [], 30), f"still running: {_marked(mark)}"
