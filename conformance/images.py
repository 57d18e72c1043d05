"""Opening images safely: the one place where the kit turns a photo's file into pixels.

A manifest's photos are someone else's files. Pillow reads dozens of formats, and hands EPS to
Ghostscript (an external program) where it is installed; a truncated GIF, BMP or TIFF, or a PNG
with too little pixel data, opens fine from its header and fails only when its pixels are decoded.
So every image the kit reads goes through this module, which:

- reads regular files only (never a pipe or a device; see :mod:`conformance._files`), at most
  :data:`MAX_FILE_BYTES` of them;
- opens only the formats of :data:`FORMATS` (``Image.open(formats=...)``): JPEG, PNG, GIF, BMP, TIFF
  and WebP as Pillow reads them, never EPS, PostScript, PDF or a plugin that calls another program;
- refuses an image over Pillow's pixel limit (``Image.MAX_IMAGE_PIXELS``) from its header, before a
  pixel is decoded (Pillow itself only warns between the limit and twice it);
- decodes every pixel once (:func:`check_image`), so an image the loader accepts is one every adapter
  can read. JPEGs are decoded at 1/8 scale (libjpeg's DCT scaling still reads every byte of the
  compressed data, so a cut or damaged file is found) because a full-size decode of a camera photo
  costs about ten times as much and tells nothing more.

``load_dataset`` checks a large manifest's images in worker processes (:class:`ImageChecker`).
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import math
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ._files import FileTooLarge, NotRegularFile, read_regular
from .errors import ManifestError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "FORMATS",
    "FORMAT_NAMES",
    "MAX_FILE_BYTES",
    "BatchChecks",
    "ImageCheck",
    "ImageChecker",
    "check_image",
    "check_image_file",
    "for_upload",
    "image_bytes",
    "open_image",
    "refusing_bombs",
    "rgb_image",
]

# Pillow's names of the formats the kit opens. JPEG covers MPO (a JPEG with extra frames), which Pillow
# reports as "MPO".
FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP")
FORMAT_NAMES = "JPEG, PNG, GIF, BMP, TIFF and WebP"
# The largest image file read (64 MiB): over any camera photo, and a bound on what one row can make the kit hold.
MAX_FILE_BYTES = 64 * 2**20

# Files people plausibly name as photos that the kit does not open, by their first bytes, so the message
# says what the file is. Only a name for the message: none of these is ever handed to Pillow.
_REFUSED_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"%!PS", "a PostScript/EPS file"),
    (0, b"\xc5\xd0\xd3\xc6", "an EPS file"),
    (0, b"%PDF", "a PDF file"),
    (0, b"8BPS", "a Photoshop (PSD) file"),
    (4, b"ftypheic", "a HEIC image"),
    (4, b"ftypheix", "a HEIC image"),
    (4, b"ftypmif1", "a HEIF image"),
    (4, b"ftypavif", "an AVIF image"),
    (0, b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (0, b"\xff\x4f\xff\x51", "a JPEG 2000 codestream"),
    (0, b"<svg", "an SVG drawing"),
    (0, b"<?xml", "an XML (SVG?) file"),
)
_WAY_OUT = "replace the file or drop the row"


@dataclass(frozen=True, slots=True)
class ImageCheck:
    """What checking one image file found.

    ``format`` is Pillow's name for it (empty when unusable); ``digest`` the SHA-256 of its bytes
    (empty when it could not be read); ``problem`` is empty for a usable image, else what a message
    says after "image 'PHOTO' ", the way out included; ``missing`` is True when there is no such file,
    ``link`` when it is a link that was not followed.
    """

    format: str
    digest: str
    problem: str = ""
    missing: bool = False
    link: bool = False  # the name is a link, not opened (``follow_links=False``): the caller decides


@contextmanager
def refusing_bombs() -> Iterator[None]:
    """Turn Pillow's decompression-bomb warning into an error inside the block.

    Pillow only warns between ``Image.MAX_IMAGE_PIXELS`` and twice it; the kit refuses those too,
    from the header, before a pixel is decoded. One filter around many images: set per image it
    costs about 4 µs each.
    """
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _refused_kind(data: bytes) -> str:
    head = data[:16].lstrip() if data[:1].isspace() else data[:16]
    for offset, signature, kind in _REFUSED_SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return kind
    return ""


def _decode(image: Image.Image) -> None:
    """Decode every pixel of the image's first frame (JPEG at 1/8 scale: every compressed byte, cheaply)."""
    if image.format in ("JPEG", "MPO"):
        image.draft(None, (max(1, image.width // 8), max(1, image.height // 8)))
    image.load()


def _detail(exc: BaseException) -> str:
    return str(exc).split(" <_io.")[0] or type(exc).__name__  # Pillow names the in-memory buffer: noise


def check_image(data: bytes) -> tuple[str, str]:
    """The format of an image's bytes and the problem that makes it unusable ('' when usable).

    Opens only :data:`FORMATS` and decodes every pixel. Call it inside :func:`refusing_bombs`.

    >>> check_image(b"")
    ('', 'is empty (0 bytes); replace the file or drop the row')
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        return "", f"is empty (0 bytes); {_WAY_OUT}"
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            image_format = str(image.format or "")
            _decode(image)
        return image_format, ""
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return "", f"is too large to open safely ({exc}); resize it; {_WAY_OUT}"
    except UnidentifiedImageError as exc:
        kind = _refused_kind(data)
        if kind:
            return "", (
                f"is {kind}, which the kit does not open: it reads {FORMAT_NAMES} images; "
                "convert it to PNG or JPEG, or drop the row"
            )
        return "", (
            f"is not a readable image (UnidentifiedImageError: {_detail(exc)}): the kit reads {FORMAT_NAMES}; "
            f"{_WAY_OUT}"
        )
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        # OSError: truncated or damaged data; ValueError / SyntaxError / EOFError: malformed headers.
        return "", f"is not a readable image ({type(exc).__name__}: {_detail(exc)}); {_WAY_OUT}"


def _read_problem(exc: OSError, path: str | Path) -> ImageCheck:
    if isinstance(exc, FileNotFoundError):
        return ImageCheck(
            "", "", f"not found at {path}; check the path (relative to the manifest) or drop the row", missing=True
        )
    if isinstance(exc, NotRegularFile):
        return ImageCheck(
            "",
            "",
            f"is {exc.kind}, not a regular file: the kit reads only regular files; replace it with the image file or drop the row",
        )
    if isinstance(exc, FileTooLarge):
        return ImageCheck(
            "",
            "",
            f"is {exc.size / 2**20:,.1f} MiB, over the {MAX_FILE_BYTES // 2**20} MiB the kit reads for one image; "
            "resize it or save it as JPEG, or drop the row",
        )
    return ImageCheck("", "", f"cannot be read: {exc.strerror or exc}; fix its permissions or drop the row")


def check_image_file(path: str | Path, *, follow_links: bool = True) -> ImageCheck:
    """Read and check one image file (see :func:`check_image`); call it inside :func:`refusing_bombs`.

    With ``follow_links`` False, a path whose last name is a link is not opened: the answer says so
    (``link``), and the caller decides whether the link may be followed.
    """
    try:
        data = read_regular(path, limit=MAX_FILE_BYTES, follow_links=follow_links)
    except OSError as exc:
        if not follow_links and exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link
            return ImageCheck("", "", "", link=True)
        return _read_problem(exc, path)
    except ValueError:  # a NUL byte in the name
        return ImageCheck("", "", f"is not a usable file name; {_WAY_OUT}")
    image_format, problem = check_image(data)
    return ImageCheck(image_format, hashlib.sha256(data).hexdigest(), problem)


def check_image_files(paths: Sequence[str], *, follow_links: bool = True) -> list[ImageCheck]:
    """:func:`check_image_file` for each path (absolute paths), in order, with bombs refused."""
    with refusing_bombs():
        return [check_image_file(path, follow_links=follow_links) for path in paths]


@contextmanager
def open_image(source: str | Path | bytes, *, name: str | None = None) -> Iterator[Image.Image]:
    """An image read and decoded through the kit's checks: a file path, or its bytes.

    Raises :class:`~conformance.errors.ManifestError` naming the file (or ``name``, or "image
    bytes") and the problem, for a file that is not regular, too large, of a format the kit does
    not open, or that cannot be decoded. The image is closed when the block ends.
    """
    from PIL import Image, UnidentifiedImageError

    name = name or ("image bytes" if isinstance(source, bytes) else f"image {source}")
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = read_regular(source, limit=MAX_FILE_BYTES)
        except OSError as exc:
            raise ManifestError(f"{name} {_read_problem(exc, source).problem}") from None
    with refusing_bombs():
        try:
            image = Image.open(io.BytesIO(data), formats=FORMATS)
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ManifestError(f"{name} {check_image(data)[1]}") from None
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ManifestError(f"{name} is not a readable image ({type(exc).__name__}: {_detail(exc)})") from None
        try:
            try:
                image.load()
            except (OSError, ValueError, SyntaxError, EOFError) as exc:
                raise ManifestError(f"{name} is not a readable image ({type(exc).__name__}: {_detail(exc)})") from None
            yield image
        finally:
            image.close()


def image_bytes(path: str | Path) -> bytes:
    """The bytes of an image file, read as the loader reads it: a regular file, at most :data:`MAX_FILE_BYTES`.

    Raises :class:`~conformance.errors.ManifestError` naming the file, the problem and the way out.
    Nothing is decoded (the loader did that): for handing a photo's bytes to a model.
    """
    try:
        return read_regular(path, limit=MAX_FILE_BYTES)
    except OSError as exc:
        raise ManifestError(f"image {path} {_read_problem(exc, path).problem}") from None


def rgb_image(source: str | Path | bytes) -> Image.Image:
    """The image as RGB pixels, read through :func:`open_image` (raises what it raises)."""
    with open_image(source) as image:
        return image.convert("RGB")


def for_upload(source: str | Path | bytes, accepted: Sequence[str] = ("JPEG", "PNG")) -> tuple[bytes, str]:
    """An image's bytes for a service that accepts only the ``accepted`` formats, and their format.

    ``source`` is a file (read as :func:`open_image` reads it) or the image's bytes. An image already
    in one of the accepted formats is returned as it is; any other format the kit opens is
    re-encoded as PNG (lossless and deterministic, so a recording keyed by the bytes replays).
    Raises :class:`~conformance.errors.ManifestError`, naming the file, for an image the kit does
    not open, and for one whose pixels PNG cannot hold unchanged (CMYK, L*a*b*, floating point:
    the loader accepts those TIFFs, but sending one would mean choosing a conversion for the audit).
    Rekognition accepts JPEG and PNG: its adapter sends ``for_upload(photo.path)[0]``.
    """
    data = source if isinstance(source, bytes) else image_bytes(source)
    name = "image bytes" if isinstance(source, bytes) else f"image {source}"
    with open_image(data, name=name) as image:
        image_format = "JPEG" if image.format == "MPO" else str(image.format)
        if image_format in accepted:
            return data, image_format
        buffer = io.BytesIO()
        _png_exact(image, name, image_format, accepted).save(buffer, format="PNG")
        return buffer.getvalue(), "PNG"


# Pixel modes PNG holds as they are, and modes turned into one of them without changing any pixel's value:
# a palette with alpha spelled out (PA), 16-bit greys in another byte order (through 32-bit integers: Pillow's
# direct I;16B -> I;16 conversion clips every value to 255).
_PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16"})
_EXACT_MODES = {"PA": "RGBA", "I;16B": "I", "I;16L": "I", "I;16N": "I"}
# What a message calls the modes PNG cannot hold (a TIFF can: the loader accepts them).
_MODE_NAMES = {
    "CMYK": "CMYK colours",
    "LAB": "CIE L*a*b* colours",
    "YCbCr": "YCbCr colours",
    "HSV": "HSV colours",
    "F": "32-bit floating-point pixels",
    "I": "32-bit integer pixels beyond 0 to 65,535",
}


def _png_exact(image: Image.Image, name: str, image_format: str, accepted: Sequence[str]) -> Image.Image:
    """``image`` in a mode PNG holds, every pixel's value unchanged; else ManifestError naming the image.

    A CMYK, L*a*b* or floating-point image has no conversion to what PNG holds that leaves the pixels as
    they are: each (a colour profile, a range for the floats) would decide what the service sees, so the
    kit refuses it and says how to convert it, rather than choose for the person running the audit.
    """
    bits = _bits_per_sample(image)
    if bits > 8 and image.mode in _EIGHT_BIT_MODES:
        # Pillow decodes a TIFF of 16 bits per colour channel (RGB;16L, RGB;16B) as 8-bit RGB: the low bits
        # are gone before the kit sees a pixel, so no PNG it writes can be the photo (red team 15d F5).
        raise ManifestError(
            f"{name} is a {image_format} of {bits} bits per channel ({image.mode}), which the kit can read only "
            f"as 8 bits per channel: sent, it would not be the photo as stored. The kit picks no conversion: "
            "convert the image yourself to a 16-bit PNG (sent as it is) or to an 8-bit RGB PNG or JPEG, and "
            "replace the file, or drop the row"
        )
    _refuse_unsent_greys(image, name, image_format, bits)
    if image.mode in _PNG_MODES:
        return image
    if image.mode in _EXACT_MODES:
        image = image.convert(_EXACT_MODES[image.mode])
    mode = image.mode
    if mode == "I":  # 32-bit integers: exact in PNG's 16 bits when every value fits
        low, high = image.getextrema()  # one band: two numbers
        if isinstance(low, int) and isinstance(high, int) and low >= 0 and high <= 0xFFFF:
            return image.convert("I;16")
    if mode in _PNG_MODES:
        return image
    what = _MODE_NAMES.get(mode, f"pixel mode {mode}")
    raise ManifestError(
        f"{name} is a {image_format} of {what}, which cannot be sent as they are: the service takes "
        f"{' or '.join(accepted)}, and PNG cannot hold them. The kit picks no conversion (one would change what the "
        "service sees): convert the image yourself to an RGB PNG or JPEG and replace the file, or drop the row"
    )


# Modes of 8 bits per channel: an image decoded in one of them from more bits per sample lost the rest.
_EIGHT_BIT_MODES = frozenset({"L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"})


def _refuse_unsent_greys(image: Image.Image, name: str, image_format: str, bits: int) -> None:
    """ManifestError for a grey TIFF of more than 8 bits that Pillow decodes as 16-bit values other than stored.

    Pillow inverts an 8-bit white-is-zero grey (``L;I``) but not a 16-bit one: sent, it would be its negative.
    A 12-bit grey comes out as 0 to 4,095: sent, 16 times darker. Each has more than one plausible conversion
    (against 2^bits - 1 or the largest value; times 16 or 65,535 / 4,095): refused, as said (red team 15e F3)."""
    if bits <= 8 or not image.mode.startswith("I"):
        return
    tags = getattr(image, "tag_v2", None)
    white_is_zero = tags is not None and _tag_numbers(tags.get(262)) == [0]  # PhotometricInterpretation
    if white_is_zero:
        problem = f"stores its {bits}-bit greys white-is-zero, which the kit would send inverted (its negative)"
    elif bits < 16:  # 32-bit integers that fit in 16 are sent exactly, as they are (below)
        problem = f"holds {bits}-bit greys, which the kit would send as 16-bit values (darker than stored)"
    else:
        return
    raise ManifestError(
        f"{name} is a {image_format} that {problem}. The kit picks no conversion: convert the image yourself "
        "to a 16-bit grey PNG (black is zero, full range) or an 8-bit grey PNG, and replace the file, or drop the row"
    )


def _tag_numbers(value: object) -> list[float]:
    """A TIFF tag's values as numbers, whatever type the file wrote them in (SHORT, LONG, FLOAT, DOUBLE,
    RATIONAL: Pillow gives ints, floats and IFDRationals); values that are not finite numbers are left out."""
    numbers: list[float] = []
    for item in value if isinstance(value, tuple) else (value,):
        with suppress(TypeError, ValueError, ZeroDivisionError, OverflowError):
            if not isinstance(item, bool) and math.isfinite(number := float(item)):
                numbers.append(number)
    return numbers


def _bits_per_sample(image: Image.Image) -> int:
    """The most bits a sample of the image holds as stored (TIFF's BitsPerSample, tag 258); 0 when unsaid. Of any
    number type: Pillow takes 16.0 (FLOAT, DOUBLE, RATIONAL) for 16 and decodes RGB;16 as 8 bits (red team 15e F2)."""
    tags = getattr(image, "tag_v2", None)  # TIFF only: the other formats the kit converts hold 8 bits at most
    if tags is None:
        return 0
    return max((math.ceil(number) for number in _tag_numbers(tags.get(258))), default=0)


# -- checking many images in worker processes --------------------------------------------------------------

# Photos per request to a worker: enough that a round trip is noise, few enough that a request (the paths)
# stays well inside a pipe's buffer (64 KiB on Linux), which keeps the exchange free of deadlock (below).
BATCH = 256
_REQUEST_BYTES = 16 * 1024
# Batches a worker holds at once: one it works on, one waiting, so it never idles between them.
_DEPTH = 2
# The worker's program (not ``-m conformance.images``: runpy warns when the package has imported the module).
# It puts the kit's folder (its first argument) first on sys.path: "python -c" puts the working directory
# there, and a "conformance" folder in it (another checkout of the kit) was imported instead of this copy.
_WORKER = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); from conformance.images import _serve; "
    "sys.exit(_serve(sys.argv[1:]))"
)


@dataclass(frozen=True, slots=True)
class BatchChecks:
    """A batch's checks, column by column: a million :class:`ImageCheck` objects would cost a second and 0.2 GB.

    ``formats[i]`` and ``digests[i]`` are image ``i``'s format and SHA-256 when it is usable (the format
    one shared string per name); ``others`` holds the whole check of every image that is not (a
    problem, a link not followed), by its index, with ``""`` in both columns.
    """

    formats: list[str]
    digests: list[str]
    others: dict[int, ImageCheck]

    @classmethod
    def of(cls, checks: Sequence[ImageCheck]) -> BatchChecks:
        usable = [bool(c.format) and not (c.problem or c.link) for c in checks]
        return cls(
            [_FORMAT_NAMES.get(c.format, c.format) if ok else "" for c, ok in zip(checks, usable, strict=True)],
            [c.digest if ok else "" for c, ok in zip(checks, usable, strict=True)],
            {i: c for i, (c, ok) in enumerate(zip(checks, usable, strict=True)) if not ok},
        )

    def __len__(self) -> int:
        return len(self.formats)

    def checks(self) -> list[ImageCheck]:
        """Each image's check, in order, as :func:`check_image_file` gives it."""
        return [
            self.others.get(i) or ImageCheck(f, d)
            for i, (f, d) in enumerate(zip(self.formats, self.digests, strict=True))
        ]


# Pillow's format names, one string each: a format read back from a worker is a new string per image otherwise.
_FORMAT_NAMES = {name: name for name in (*FORMATS, "MPO")}


@dataclass
class _Batch:
    paths: list[str]
    worker: int  # -1: checked in this process
    results: BatchChecks | None = None


class ImageChecker:
    """Checks batches of image files with ``workers`` worker processes (0: in this process).

    Each worker is a Python process running :func:`_serve`: it reads a batch of paths per line on
    its standard input and answers a line of results per batch. Batches go round the workers, at
    most :data:`_DEPTH` each, and results are taken in the order the batches were given, so the
    caller reads the next rows while the workers decode images. The caller's thread does all the
    pipe work (no threads: a thread waiting for the interpreter lock behind a busy caller delayed
    every answer). No deadlock: a request is written only to a worker holding fewer than
    :data:`_DEPTH` batches, whose input pipe then holds at most one waiting request, smaller than
    the pipe; a worker blocked writing a long answer waits only for the caller, which reads it in
    turn. Workers are started afresh (not forked: the caller may hold threads and locks) and import
    only this module and Pillow. If a worker cannot start or dies, its batches are checked in this
    process: slower, the same result.

    >>> with ImageChecker(0) as checker:  # doctest: +SKIP
    ...     batch = checker.submit(["/data/img/1.png"])
    ...     checks = checker.results(batch)
    """

    def __init__(self, workers: int, *, follow_links: bool = True) -> None:
        self.workers = max(0, workers)
        self.follow_links = follow_links
        self._processes: list[Any] = []
        self._held: list[int] = [0] * self.workers  # batches given to each worker and not yet read back
        self._next = 0
        self._broken = False

    def __enter__(self) -> ImageChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def full(self) -> bool:
        """Whether the next worker in turn holds all it may: take results before giving more."""
        return bool(self.workers) and not self._broken and self._held[self._next] >= _DEPTH

    def submit(self, paths: Sequence[str]) -> _Batch:
        """Give these files (absolute paths) to be checked; :meth:`results` returns their checks.

        Results must be taken in the order the batches were given. A batch over the request size
        is checked in this process.
        """
        paths = list(paths)
        if self.workers and not self._broken and not self.full:
            worker = self._next
            request = json.dumps(paths).encode("ascii") + b"\n"
            if len(request) <= _REQUEST_BYTES:
                try:
                    self._send(worker, request)
                except (OSError, ValueError):
                    self._broken = True
                else:
                    self._held[worker] += 1
                    self._next = (worker + 1) % self.workers
                    return _Batch(paths, worker)
        return _Batch(paths, -1)

    def results(self, batch: _Batch) -> BatchChecks:
        """The checks of a batch, one per path, in order (waiting for its worker's answer)."""
        if batch.results is None:
            if batch.worker >= 0 and not self._broken:
                self._held[batch.worker] -= 1
                try:
                    batch.results = self._receive(batch.worker, len(batch.paths))
                except (OSError, ValueError, EOFError):
                    self._broken = True  # a worker died or answered nonsense: check here from now on
            if batch.results is None:
                batch.results = BatchChecks.of(check_image_files(batch.paths, follow_links=self.follow_links))
        return batch.results

    def _send(self, worker: int, request: bytes) -> None:
        while len(self._processes) <= worker:
            self._processes.append(self._start())
        stdin: IO[bytes] = self._processes[worker].stdin
        stdin.write(request)
        stdin.flush()

    def _receive(self, worker: int, count: int) -> BatchChecks:
        stdout: IO[bytes] = self._processes[worker].stdout
        line = stdout.readline()
        if not line:
            raise EOFError("an image worker stopped")
        formats, digests, others = json.loads(line)  # see _serve
        if not (isinstance(formats, list) and isinstance(digests, list) and len(formats) == len(digests) == count):
            raise ValueError("an image worker answered out of turn")
        names: dict[str, str] = _FORMAT_NAMES
        read: list[str] = formats
        return BatchChecks(
            [names.get(f, f) for f in read],
            digests,
            {int(i): ImageCheck(str(f), str(d), str(p), bool(m), bool(k)) for i, f, d, p, m, k in others},
        )

    def _start(self) -> Any:
        import subprocess

        from PIL import Image

        # The workers import this very copy of the kit, installed or not, whatever the working directory holds.
        package_root = str(Path(__file__).resolve().parent.parent)
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER,
                package_root,
                str(Image.MAX_IMAGE_PIXELS or 0),
                "follow" if self.follow_links else "no-follow",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def close(self) -> None:
        """Stop the worker processes (each ends when its input closes)."""
        processes, self._processes = self._processes, []
        for process in processes:
            try:
                process.stdin.close()
                process.wait(timeout=10)
            except Exception:  # a stuck or broken worker is killed: it holds nothing the run needs
                process.kill()
                process.wait()
            finally:
                process.stdout.close()


def _serve(argv: Sequence[str]) -> int:
    """A worker: read a JSON list of paths per line, answer a line per batch, column by column.

    The answer is ``[formats, digests, others]``: :class:`BatchChecks`'s two columns, and ``others`` a
    list of ``[index, format, digest, problem, missing, link]`` for each image that is not usable.
    """
    from PIL import Image

    pixels, follow = argv  # the parent's Pillow pixel limit (0: none), and whether links are followed
    Image.MAX_IMAGE_PIXELS = int(pixels) or None
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    for line in stdin:
        paths = json.loads(line)
        checks = BatchChecks.of(check_image_files([str(p) for p in paths], follow_links=follow == "follow"))
        others = [[i, c.format, c.digest, c.problem, c.missing, c.link] for i, c in checks.others.items()]
        stdout.write(json.dumps([checks.formats, checks.digests, others]).encode("ascii") + b"\n")
        stdout.flush()
    return 0
