"""Reading files other people name: regular files only, never a pipe or a device, and never without bound.

A FIFO opened for reading blocks until someone writes to it, so a manifest naming one hung the run for
ever; ``/dev/zero`` or ``/dev/urandom`` (a character device) reads without end until the memory runs out.
So a file is opened with ``O_NONBLOCK`` (opening a FIFO then returns at once instead of waiting for a
writer) and ``O_NOCTTY``, and :func:`os.fstat` on the open descriptor, not the path, decides: only a
regular file is read, so a file swapped for a pipe between a check and the open is still refused.
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import BinaryIO

__all__ = [
    "FileTooLarge",
    "NotRegularFile",
    "file_kind",
    "open_regular",
    "read_problem",
    "read_regular",
    "regular_size",
    "size_text",
]

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CHUNK = 1 << 20


class NotRegularFile(OSError):
    """The path names something other than a regular file; ``kind`` says what (see :func:`file_kind`)."""

    def __init__(self, path: str | os.PathLike[str], kind: str) -> None:
        super().__init__(f"{path} is {kind}, not a regular file")
        self.path = os.fspath(path)  # not OSError's filename, which would change the message
        self.kind = kind


class FileTooLarge(OSError):
    """The file holds more than the caller's limit; ``size`` is its size in bytes."""

    def __init__(self, path: str | os.PathLike[str], size: int, limit: int) -> None:
        super().__init__(f"{path} is {size} bytes, over the limit of {limit}")
        self.path = os.fspath(path)
        self.size = size
        self.limit = limit


def file_kind(mode: int) -> str:
    """What a file of this ``st_mode`` is, as a message names it ("a named pipe (FIFO)", "a folder", ...)."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISREG(mode):
        return "a regular file"
    return "a special file"


def size_text(size: int) -> str:
    """A file size as messages give it: ``"512 bytes"``, ``"70.0 MiB"``, ``"2.0 GiB"``.

    >>> size_text(512), size_text(70 * 2**20), size_text(2**31)
    ('512 bytes', '70.0 MiB', '2.0 GiB')
    """
    if size < 2**20:
        return f"{size:,} bytes"
    if size < 2**30:
        return f"{size / 2**20:,.1f} MiB"
    return f"{size / 2**30:,.1f} GiB"


def read_problem(exc: OSError, what: str) -> str:
    """What a message says after a file's name when reading ``what`` (e.g. "a model's module") failed.

    >>> read_problem(NotRegularFile("p", "a named pipe (FIFO)"), "a names file")
    'is a named pipe (FIFO), not a regular file: the kit reads only regular files'
    >>> read_problem(FileTooLarge("p", 3 * 2**30, 2**30), "a names file")
    'is 3.0 GiB, over the 1.0 GiB the kit reads for a names file'
    """
    if isinstance(exc, NotRegularFile):
        return f"is {exc.kind}, not a regular file: the kit reads only regular files"
    if isinstance(exc, FileTooLarge):
        return f"is {size_text(exc.size)}, over the {size_text(exc.limit)} the kit reads for {what}"
    if isinstance(exc, FileNotFoundError):
        return "does not exist"
    return f"cannot be read: {exc.strerror or exc}"


def regular_size(path: str | os.PathLike[str], *, limit: int | None = None) -> int:
    """The size of the regular file at ``path``, nothing read: raises as :func:`read_regular` does.

    For a file another reader (the import system, numpy) then reads: it refuses a pipe, a device or
    a file over ``limit`` before that reader can block on it or read it without bound. The reader
    opens the path again, so a file swapped in between is that reader's to meet; where that matters,
    read through :func:`open_regular` or :func:`read_regular` instead.
    """
    handle = os.open(path, _FLAGS | _BINARY)
    try:
        info = os.fstat(handle)
    finally:
        os.close(handle)
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularFile(path, file_kind(info.st_mode))
    if limit is not None and info.st_size > limit:
        raise FileTooLarge(path, info.st_size, limit)
    return info.st_size


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """The regular file at ``path`` opened for reading bytes (to read line by line, never whole).

    Raises :class:`NotRegularFile` for a folder, a pipe, a device or a socket (nothing is read from it),
    and what :func:`os.open` raises otherwise.
    """
    handle = os.open(path, _FLAGS | _BINARY)
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(path, file_kind(info.st_mode))
        return os.fdopen(handle, "rb")
    except BaseException:
        os.close(handle)
        raise


def read_regular(path: str | os.PathLike[str], *, limit: int | None = None, follow_links: bool = True) -> bytes:
    """The bytes of the regular file at ``path``; at most ``limit`` bytes (None: the whole file).

    Raises :class:`NotRegularFile` for a folder, a pipe, a device or a socket (nothing is read from
    it), :class:`FileTooLarge` when the file holds more than ``limit`` bytes (read up to the limit
    and one byte more at most, so a file that grows while it is read is caught too), and what
    :func:`os.open` raises otherwise (``FileNotFoundError``, ``PermissionError``, ...). With
    ``follow_links`` False, a path whose last name is a link raises ``OSError`` with ``errno.ELOOP``
    (``O_NOFOLLOW``) and nothing is read.
    """
    handle = os.open(path, _FLAGS | _BINARY | (0 if follow_links else _NOFOLLOW))
    try:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(path, file_kind(info.st_mode))
        if limit is not None and info.st_size > limit:
            raise FileTooLarge(path, info.st_size, limit)
        bound = (info.st_size if limit is None else min(info.st_size, limit)) + 1
        first = os.read(handle, bound)
        if len(first) < bound:  # a short read of a regular file is its end: the usual case, one read
            return first
        parts, total = [first], len(first)  # the file grew since fstat: read on, still within the limit
        while parts[-1] and (limit is None or total <= limit):
            parts.append(os.read(handle, _CHUNK if limit is None else min(_CHUNK, limit + 1 - total)))
            total += len(parts[-1])
        if limit is not None and total > limit:
            raise FileTooLarge(path, total, limit)
        return b"".join(parts)
    finally:
        os.close(handle)


def file_digest(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, in hex, read in chunks (every ``sha256`` field of a report is so)."""
    digest = hashlib.sha256()
    with open_regular(path) as handle:  # never a FIFO (it would hang) or a device (it never ends)
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
