"""conformance.images: the one way the kit opens an image (issue 15, item 3).

Every image here is made with Pillow from known pixels and then cut, or written byte by byte (EPS, a
PNG whose header claims more pixels than its data holds), so each expected outcome follows from the
bytes written: a cut file cannot be decoded, an allow-listed format opens, anything else is refused
by name. Through ``load_dataset`` the message names the row; adapters get the same check.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from conformance import ManifestError, load_dataset
from conformance.images import (
    FORMATS,
    ImageCheck,
    ImageChecker,
    check_image,
    check_image_file,
    for_upload,
    open_image,
    rgb_image,
)

NAMES = "JPEG, PNG, GIF, BMP, TIFF and WebP"
WAY_OUT = "replace the file or drop the row"


def pixels(size: int = 48) -> Any:
    from PIL import Image

    return Image.frombytes("RGB", (size, size), random.Random(size).randbytes(size * size * 3))


def encoded(image_format: str, size: int = 48) -> bytes:
    image = pixels(size)
    buffer = io.BytesIO()
    (image.convert("P") if image_format == "GIF" else image).save(buffer, format=image_format)
    return buffer.getvalue()


def png_claiming_more_pixels_than_it_holds() -> bytes:
    """An 8x8 PNG whose header says 64x64: its data holds 1/64 of the pixels (CRC fixed, so it 'verifies')."""
    data = bytearray(encoded("PNG", 8))
    data[16:24] = struct.pack(">II", 64, 64)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\n%%EOF\n"


@pytest.fixture
def no_eps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if Pillow's EPS reader (which hands the file to Ghostscript) is ever asked to open anything."""
    from PIL import EpsImagePlugin

    def refuse(self: Any) -> None:
        raise AssertionError("the EPS plugin was asked to open a photo")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", refuse)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", refuse)


# -- what opens ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("image_format", FORMATS)
def test_each_allowed_format_opens_and_decodes(image_format: str) -> None:
    assert check_image(encoded(image_format)) == (image_format, "")
    assert rgb_image(encoded(image_format)).size == (48, 48)


def test_the_allow_list_is_what_the_docs_say() -> None:
    assert FORMATS == ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")


# -- what does not ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "GIF", "BMP", "TIFF"])
def test_a_cut_image_is_refused_once_its_pixels_are_decoded(image_format: str) -> None:
    """Cut to two thirds: the header is whole and opens; decoding the pixels runs out of data."""
    from PIL import Image

    whole = encoded(image_format)
    cut = whole[: len(whole) * 2 // 3]
    with Image.open(io.BytesIO(cut)) as image:  # the header alone looks fine
        assert image.size == (48, 48)
    image_format_found, problem = check_image(cut)
    assert image_format_found == ""
    assert problem.startswith("is not a readable image (OSError: image file is truncated")
    assert problem.endswith(f"); {WAY_OUT}")


def test_a_cut_webp_is_refused() -> None:
    whole = encoded("WEBP")
    assert check_image(whole[: len(whole) * 2 // 3]) == (
        "",
        f"is not a readable image (OSError: could not create decoder object); {WAY_OUT}",
    )


def test_a_png_with_too_little_pixel_data_is_refused() -> None:
    from PIL import Image

    data = png_claiming_more_pixels_than_it_holds()
    with Image.open(io.BytesIO(data)) as image:
        image.verify()  # every chunk's CRC is right: only decoding finds the missing pixels
    assert check_image(data) == (
        "",
        f"is not a readable image (OSError: image file is truncated (0 bytes not processed)); {WAY_OUT}",
    )


def test_eps_is_refused_by_name_without_reaching_ghostscript(no_eps: None) -> None:
    assert check_image(EPS) == (
        "",
        f"is a PostScript/EPS file, which the kit does not open: it reads {NAMES} images; convert it to PNG or "
        "JPEG, or drop the row",
    )


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "a PDF file"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "a HEIC image"),
        (b"8BPS\x00\x01\x00\x00\x00\x00\x00\x00", "a Photoshop (PSD) file"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "an SVG drawing"),
    ],
    ids=["pdf", "heic", "psd", "svg"],
)
def test_other_files_people_name_as_photos_are_refused_by_name(data: bytes, kind: str) -> None:
    assert check_image(data)[1] == (
        f"is {kind}, which the kit does not open: it reads {NAMES} images; convert it to PNG or JPEG, or drop the row"
    )


def test_a_format_pillow_reads_but_the_kit_does_not_is_refused() -> None:
    """ICO is one of Pillow's formats, not one of the kit's: refused as unreadable, with the list of formats."""
    buffer = io.BytesIO()
    pixels(32).save(buffer, format="ICO")
    assert check_image(buffer.getvalue()) == (
        "",
        f"is not a readable image (UnidentifiedImageError: cannot identify image file): the kit reads {NAMES}; {WAY_OUT}",
    )


# -- through load_dataset: the row is named -----------------------------------------------------------------


def _dataset_of(folder: Path, photo: str, data: bytes) -> Path:
    (folder / photo).parent.mkdir(parents=True, exist_ok=True)
    (folder / photo).write_bytes(data)
    manifest = folder / "manifest.csv"
    manifest.write_text(f"photo,subject,gender_identity,trans\n{photo},s1,woman,no\n", encoding="utf-8")
    return manifest


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("a.gif", encoded("GIF")[:-200], "is not a readable image (OSError: image file is truncated"),
        ("a.bmp", encoded("BMP")[:-200], "is not a readable image (OSError: image file is truncated"),
        ("a.tif", encoded("TIFF")[:-200], "is not a readable image (OSError: image file is truncated"),
        (
            "a.png",
            png_claiming_more_pixels_than_it_holds(),
            "is not a readable image (OSError: image file is truncated",
        ),
        ("a.eps", EPS, "is a PostScript/EPS file, which the kit does not open"),
    ],
    ids=["gif", "bmp", "tiff", "png-short-of-pixels", "eps"],
)
def test_the_loader_refuses_what_no_adapter_could_read_naming_the_row(
    tmp_path: Path, name: str, data: bytes, expected: str, no_eps: None
) -> None:
    """Issue 15, item 3: these loaded (Pillow's header and verify() passed) and then broke the adapters."""
    manifest = _dataset_of(tmp_path / "data", f"img/{name}", data)
    with pytest.raises(ManifestError) as raised:
        load_dataset(manifest)
    assert str(raised.value).startswith(f"{manifest} row 2: image 'img/{name}' {expected}")


# -- the opener adapters use ------------------------------------------------------------------------------------


def test_open_image_refuses_naming_the_file(tmp_path: Path, no_eps: None) -> None:
    path = tmp_path / "drawing.eps"
    path.write_bytes(EPS)
    with pytest.raises(ManifestError) as raised:
        open_image(path).__enter__()
    assert str(raised.value) == (
        f"image {path} is a PostScript/EPS file, which the kit does not open: it reads {NAMES} images; convert it "
        "to PNG or JPEG, or drop the row"
    )


def test_open_image_refuses_a_fifo_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "a.png"
    os.mkfifo(fifo)
    with pytest.raises(ManifestError) as raised:
        rgb_image(fifo)
    assert "is a named pipe (FIFO), not a regular file" in str(raised.value)


def test_rgb_image_gives_the_pixels(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(encoded("PNG"))
    assert rgb_image(path).tobytes() == pixels().tobytes()


@pytest.mark.parametrize("image_format", ["JPEG", "PNG"])
def test_for_upload_sends_jpeg_and_png_as_they_are(image_format: str) -> None:
    data = encoded(image_format)
    assert for_upload(data) == (data, image_format)


@pytest.mark.parametrize("image_format", ["GIF", "BMP", "TIFF", "WEBP"])
def test_for_upload_reencodes_other_formats_as_png_losslessly(image_format: str) -> None:
    from PIL import Image

    data = encoded(image_format)
    sent, sent_format = for_upload(data)
    assert sent_format == "PNG"
    assert sent[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as original, Image.open(io.BytesIO(sent)) as copy:
        assert copy.tobytes() == original.tobytes()  # the same pixels, mode kept
    assert for_upload(data) == (sent, "PNG")  # deterministic: a recording keyed by the bytes replays


def test_for_upload_refuses_eps(no_eps: None, tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="PostScript/EPS"):
        for_upload(EPS)
    path = tmp_path / "photo.png"  # named like a PNG, an EPS inside: named by its path in the message
    path.write_bytes(EPS)
    with pytest.raises(ManifestError) as raised:
        for_upload(path)
    assert str(raised.value).startswith(f"image {path} is a PostScript/EPS file, which the kit does not open")


def test_for_upload_reads_a_file_as_the_loader_does(tmp_path: Path) -> None:
    path = tmp_path / "a.gif"
    path.write_bytes(encoded("GIF"))
    assert for_upload(path) == for_upload(encoded("GIF"))
    fifo = tmp_path / "b.png"
    os.mkfifo(fifo)
    with pytest.raises(ManifestError, match="is a named pipe"):
        for_upload(fifo)


# -- checking in worker processes gives what checking here gives ---------------------------------------------


def test_worker_processes_check_as_this_process_does(tmp_path: Path) -> None:
    files = {
        "a.png": encoded("PNG"),
        "b.gif": encoded("GIF")[:-200],
        "c.eps": EPS,
        "d.jpg": encoded("JPEG"),
        "é\udcff.png": encoded("PNG", 16),  # a name that is not valid UTF-8 travels to the worker and back
    }
    paths = []
    for name, data in files.items():
        path = os.path.join(os.fsencode(tmp_path), os.fsencode(name))
        with open(path, "wb") as handle:
            handle.write(data)
        paths.append(os.fsdecode(path))
    paths.append(str(tmp_path / "missing.png"))
    here = [check_image_file(p) for p in paths]
    with ImageChecker(2) as checker:
        batches = [checker.submit(paths[:3]), checker.submit(paths[3:])]
        assert [b.worker for b in batches] == [0, 1]  # one batch to each worker process
        there = checker.results(batches[0]).checks() + checker.results(batches[1]).checks()
        assert len(checker._processes) == 2
    assert there == here
    assert [c.format for c in here] == ["PNG", "", "", "JPEG", "PNG", ""]
    assert here[0].digest == hashlib.sha256(files["a.png"]).hexdigest()
    assert here[5] == ImageCheck(
        "", "", f"not found at {paths[5]}; check the path (relative to the manifest) or drop the row", missing=True
    )


def test_worker_processes_import_this_copy_of_the_kit_whatever_the_working_directory_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A "conformance" folder in the working directory (another checkout of the kit) was what the workers
    imported: "python -c" puts the working directory first on sys.path. With another version's answers the
    batches fell back to this process, or, with the same format, were checked by another copy's code."""
    decoy = tmp_path / "checkout" / "conformance"
    decoy.mkdir(parents=True)
    marker = tmp_path / "decoy-imported"
    (decoy / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")
    image = tmp_path / "a.png"
    image.write_bytes(encoded("PNG"))
    monkeypatch.chdir(decoy.parent)
    with ImageChecker(1) as checker:
        (check,) = checker.results(checker.submit([str(image)])).checks()
        assert not checker._broken  # the worker answered: nothing fell back to this process
    assert (check.format, check.digest) == ("PNG", hashlib.sha256(encoded("PNG")).hexdigest())
    assert not marker.exists()


def test_a_worker_that_dies_leaves_the_batch_to_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import conformance.images as images

    path = tmp_path / "a.png"
    path.write_bytes(encoded("PNG"))
    monkeypatch.setattr(images, "_WORKER", "import sys; sys.exit(3)")
    with ImageChecker(1) as checker:
        (check,) = checker.results(checker.submit([str(path)])).checks()
    assert check == ImageCheck("PNG", hashlib.sha256(path.read_bytes()).hexdigest())


def test_a_large_manifest_is_checked_by_workers_with_the_same_result(tmp_path: Path) -> None:
    rows = []
    root = tmp_path / "data"
    (root / "img").mkdir(parents=True)
    for index in range(600):
        (root / "img" / f"{index}.png").write_bytes(encoded("PNG", 8 + index % 5))
        rows.append(f"img/{index}.png,s{index // 3},woman,no\n")
    (root / "img" / "599.png").write_bytes(encoded("GIF")[:-200])
    manifest = root / "manifest.csv"
    manifest.write_text("photo,subject,gender_identity,trans\n" + "".join(rows[:-1]), encoding="utf-8")
    serial, parallel = load_dataset(manifest, workers=0), load_dataset(manifest, workers=2)
    assert parallel == serial
    assert parallel.content_hash == serial.content_hash
    manifest.write_text("photo,subject,gender_identity,trans\n" + "".join(rows), encoding="utf-8")
    messages = []
    for workers in (0, 2):
        with pytest.raises(ManifestError) as raised:
            load_dataset(manifest, workers=workers)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith(f"{manifest} row 601: image 'img/599.png' is not a readable image")
