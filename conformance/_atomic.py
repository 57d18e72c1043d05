"""Write a file so that readers see the old content or the new, never half of it.

A leaf module: reports, the observation cache and the CLI all write through it, and it imports
nothing of the kit.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

__all__ = ["write_atomic", "write_atomic_chunks"]

_ATTEMPTS = 100


def _create(folder: Path, name: str, mode: int) -> tuple[int, Path]:
    """A new, empty temporary file beside ``name`` in ``folder``: its descriptor and path.

    ``tempfile.mkstemp`` creates files with mode 0600 whatever the umask says, which left reports
    unreadable to a CI artifact upload or a web server running as another user. ``os.open`` with
    ``mode`` lets the umask (and a folder's default ACL) apply, as for any file the user writes.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_ATTEMPTS):
        path = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(path, flags, mode), path
        except FileExistsError:
            continue  # another writer's temporary file: draw another name
    raise FileExistsError(f"could not create a temporary file beside {folder / name}")


def write_atomic(path: Path, text: str, *, mode: int = 0o666) -> None:
    """Write ``text`` to a temporary file beside ``path``, flush it to disk, then rename it into place.

    The file gets ``mode`` less the process's umask, as ``open(path, "w")`` would give it (0644
    under the usual umask 022): reports are read by artifact uploads and web servers.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create(path.parent, path.name, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic_chunks(path: Path, chunks: Iterable[str], *, mode: int = 0o666) -> None:
    """:func:`write_atomic` for text made piece by piece (a report of a million photos), never whole in memory.

    The temporary file is created as ``open(path, "w")`` would create it (mode 0666 less the umask), so
    a report written this way is as readable as one written whole; it replaces ``path`` only once every
    chunk is on disk, and is removed if anything (Ctrl-C included) stops it before.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create(path.parent, path.name, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
