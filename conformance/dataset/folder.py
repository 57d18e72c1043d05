"""The photo folder: where each manifest photo's file is, inside the manifest's folder, and its image checked.

Split out of :mod:`conformance.dataset` (issue 18): paths resolved as ``Path.resolve()`` would, a
directory at a time; links followed only inside the folder; the images' checks taken back batch by batch.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._untrusted import shown
from ..images import ImageChecker, check_image_file, refusing_bombs

if TYPE_CHECKING:
    from ..images import _Batch
    from . import Photo
    from .manifest import _Problems


def _is_link(path: Path) -> bool:
    try:
        return path.is_symlink()
    except OSError:  # a name too long (Python 3.10 raises here): the image check names it
        return False


if sys.version_info >= (3, 12) or os.name != "posix":

    def _posix_path(text: str) -> Path:
        """``Path(text)``: from Python 3.12 on, a Path parses its text only when it is used."""
        return Path(text)

else:

    class _UnparsedPath(type(Path())):  # type: ignore[misc]
        """A PosixPath made from its text alone, split into parts the first time anything needs them.

        Python 3.10 and 3.11 split every Path into a list of its parts when it is made, and intern
        each name: for a million photos about 300 bytes and 3 microseconds each, for paths a run
        mostly only opens (``open`` and ``os.fspath`` read the text). 3.12 does this itself. The
        parts are pathlib's own: the first attribute it finds missing is worked out by its own
        parser, and every other method and derived path (``parent``, ``/``) is the plain class's.
        """

        __slots__ = ()

        def __getattr__(self, name: str) -> Any:
            if name not in ("_drv", "_root", "_parts"):
                raise AttributeError(name)  # pathlib's caches (_hash, _pparts, ...): it computes them itself
            parsed = dict(zip(("_drv", "_root", "_parts"), self._parse_args((self._str,)), strict=True))
            for key, value in parsed.items():
                object.__setattr__(self, key, value)
            return parsed[name]

        def __repr__(self) -> str:
            return f"PosixPath({self._str!r})"

        def __reduce__(self) -> tuple[Any, ...]:
            return (type(Path()), (self._str,))  # unpickled as a plain PosixPath

    def _posix_path(text: str) -> Path:
        """A Path of ``text`` (absolute and normalised, as the loader builds it), parsed when first used."""
        path: Path = object.__new__(_UnparsedPath)
        path._str = text  # type: ignore[attr-defined]
        return path


def _image_workers(requested: int | None, rows: int) -> int:
    """How many worker processes check the images: as requested, else one per CPU (at most 8) for 2,000
    photos or more, where starting them (about 0.2 s each) pays back."""
    if requested is not None:
        return max(0, requested)
    if rows < 2_000:
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))  # the CPUs this process may use, not the machine's
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    return 0 if cpus < 2 else min(cpus, 8)


def _take_checks(
    checker: ImageChecker, entry: tuple[_Batch, int], photos: list[Photo], problems: _Problems, folder: _Folder
) -> None:
    """Give a batch's photos their image's digest and format, or record why the image cannot be used."""
    batch, first = entry
    checks = checker.results(batch)
    batch_photos = photos[first : first + len(checks)]
    # The Photos are not handed out yet: filling in their two pending fields keeps one object per photo.
    for photo, image_format, digest in zip(batch_photos, checks.formats, checks.digests, strict=True):
        if image_format:
            object.__setattr__(photo, "digest", digest)
            object.__setattr__(photo, "format", image_format)
    for index, check in checks.others.items():  # problems, and links (followed only inside the folder)
        photo = batch_photos[index]
        if check.link:
            real, trouble = folder.place(photo.id)
            if real is None:
                problems.add(photo.row, trouble)
                continue
            object.__setattr__(photo, "path", real)
            with refusing_bombs():
                check = check_image_file(real)
        if check.missing and not photo.id.isascii():
            # The file's name on disk in another Unicode normalisation (NFD, as macOS writes it): the same name.
            twin = _unicode_twin(folder, photo.id)
            if twin is not None:
                object.__setattr__(photo, "path", twin)
                with refusing_bombs():
                    check = check_image_file(twin)
        if check.problem:
            problems.add(photo.row, f"image {shown(photo.id)} {check.problem}")
        else:
            object.__setattr__(photo, "digest", check.digest)
            object.__setattr__(photo, "format", check.format)


def _unicode_twin(folder: _Folder, photo_id: str) -> Path | None:
    """The photo's file under the NFD (or NFC) spelling of its name, if that one exists in the folder."""
    import unicodedata

    for form in ("NFD", "NFC"):
        other = unicodedata.normalize(form, photo_id)
        if other == photo_id:
            continue
        real, _ = folder.place(other)
        if real is not None and real.is_file():
            return real
    return None


class _Folder:
    """Resolves photo paths inside a dataset's (resolved) folder, as ``(root / photo).resolve()`` does.

    ``resolve()`` lstat()s every component of the path from ``/`` for every photo. Here each
    directory is resolved once, by ``resolve()``, and only the file's own name is checked: if it
    is not a link, the directory's real path joined with it is the photo's real path. Anything
    else (a link, ``..``, a name the system refuses, a missing file, a non-POSIX system) is left
    to ``resolve()`` itself, so errors and refusals are exactly its.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._fast = os.name == "posix"
        # Directory as written in the manifest -> its real path (and that as text ending in "/"), or
        # None if it is not inside the folder.
        self._directories: dict[str, tuple[Path, str] | None] = {}

    def locate(self, photo_id: str) -> Path | None:
        """The photo's real path; None if it lies outside the folder (absolute, ``..``, a link out of it).

        Raises what ``Path.resolve()`` raises for a name the system cannot take.
        """
        if self._fast:
            found = self._locate_quickly(photo_id)
            if found is not None:
                return found
        relative = Path(photo_id)
        image_path = (self.root / relative).resolve()
        if relative.is_absolute() or not image_path.is_relative_to(self.root):
            return None
        return image_path

    def _locate_quickly(self, photo_id: str) -> Path | None:
        directory, _, name = photo_id.rpartition("/")
        if name in ("", ".", "..") or photo_id.startswith(("/", "../")):
            return None
        parent = self._directory(directory)
        if parent is None:
            return None
        try:
            is_link = stat.S_ISLNK(os.lstat(parent[1] + name).st_mode)
        except (OSError, ValueError):  # missing, a NUL byte, a lone surrogate: resolve() reports it
            return None
        return None if is_link else parent[0] / name

    def candidate(self, photo_id: str) -> tuple[Path, str] | None:
        """The photo's real path (and as text) if its name is not a link, without a system call: None to use
        :meth:`place`. The text is built apart from the Path: ``str(path)`` would keep a copy in every Path.

        Only for a plain name (ASCII, no NUL, not too long) in a folder inside the dataset's. Whether
        the name itself is a link is left to the image check, which opens it with ``O_NOFOLLOW``: a
        link there comes back as such (:attr:`ImageCheck.link`) and the row goes through
        :meth:`place`. A million ``lstat`` calls here cost as much as reading the images.
        """
        if not self._fast or not photo_id.isascii() or "\0" in photo_id or len(photo_id) > 1024:
            return None
        directory, _, name = photo_id.rpartition("/")
        if name in ("", ".", "..") or len(name) > 255 or photo_id.startswith(("/", "../")):
            return None
        parent = self._directory(directory)
        if parent is None:
            return None
        text = parent[1] + name
        return _posix_path(text), text  # one string: the Path's text is the one sent to the image check

    def place(self, photo_id: str) -> tuple[Path | None, str]:
        """The photo's real path, or None and the problem (the message after the row) that refuses it."""
        try:
            image_path = self.locate(photo_id)
        except (ValueError, UnicodeError, OSError):  # a NUL byte, a lone surrogate, a name too long
            return None, f"photo {shown(photo_id)} is not a usable file name; correct the row"
        except RuntimeError:  # Path.resolve() on a symlink loop (Python 3.10 to 3.12)
            return None, f"photo {shown(photo_id)} is a symlink loop; point it at the image or drop the row"
        if image_path is not None and _is_link(image_path):  # Python 3.13 resolves a loop to itself
            return None, f"photo {shown(photo_id)} is a symlink loop; point it at the image or drop the row"
        if image_path is None:
            return None, (
                f"photo {shown(photo_id)} is outside the manifest's folder {self.root}; move the image under it "
                "(paths are relative to the manifest, links out of it are refused)"
            )
        return image_path, ""

    def _directory(self, directory: str) -> tuple[Path, str] | None:
        if directory in self._directories:
            return self._directories[directory]
        found: tuple[Path, str] | None = None
        try:
            real = (self.root / directory).resolve() if directory else self.root
        except (OSError, ValueError, RuntimeError):  # RuntimeError: a link loop (Python 3.11)
            real = None
        if real is not None and real.is_relative_to(self.root):
            text = str(real)
            found = (real, text if text.endswith("/") else text + "/")
        self._directories[directory] = found
        return found
