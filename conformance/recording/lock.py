"""One writer per recording: an exclusive lock held for a whole recording session.

Two runs appending to one recording (two CI jobs, a re-run started while the first still ran) each
cut what they took for a torn last line, and a ``--record-mode all`` run swapped its file over the
other's answers: paid answers were lost. A writer now holds an exclusive lock on a file beside the
recording, ``.<recording name>.lock``, from before it reads the recording until it has closed it.

The lock is the operating system's (``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows): it
belongs to the open file, so a process that dies, however it dies, lets go of it, and no stale lock
is ever left to clean up. The file holds, for messages only, who holds the lock: process id, host
and start time. It stays beside a recording; a run that recorded nothing removes it (and the
folder it made) while still holding it, and a run that was waiting on the removed file sees that
the path now names another file, and locks that one instead.

A second writer waits for the lock at most ``wait`` seconds (``CONFORMANCE_RECORDING_LOCK_WAIT``,
default 60), then refuses with who holds it and the way out.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from .._text import printable
from ..errors import ConformanceError

__all__ = ["DEFAULT_WAIT", "RecordingLock", "RecordingLocked", "lock_path", "wait_from_environment"]

DEFAULT_WAIT = 60.0
WAIT_VARIABLE = "CONFORMANCE_RECORDING_LOCK_WAIT"
_POLL = 0.1  # seconds between attempts while another run holds the lock


class RecordingLocked(ConformanceError):
    """Another run holds a recording's lock for longer than this run waits."""


def lock_path(recording: Path) -> Path:
    """Where the lock of ``recording`` lives: a hidden file beside it."""
    return recording.with_name(f".{recording.name}.lock")


def wait_from_environment() -> float:
    """Seconds to wait for a recording held by another run (``CONFORMANCE_RECORDING_LOCK_WAIT``)."""
    text = os.environ.get(WAIT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_WAIT
    try:
        value = float(text)
    except ValueError:
        raise ConformanceError(f"{WAIT_VARIABLE}={text!r}: give a number of seconds (0 refuses at once)") from None
    if not value >= 0 or value == float("inf"):
        raise ConformanceError(f"{WAIT_VARIABLE}={text!r}: give a number of seconds from 0 up")
    return value


def _try_lock(handle: IO[bytes]) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(handle: IO[bytes]) -> None:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class RecordingLock:
    """The exclusive lock of one recording; :meth:`acquire` it, :meth:`release` it (or use ``with``)."""

    def __init__(
        self,
        recording: Path,
        *,
        wait: float | None = None,
        what: str | None = None,
        way_out: str | None = None,
        keep: bool = True,
    ) -> None:
        """``what`` and ``way_out`` word the messages for another file than a recording (a report folder's
        reports); ``keep=False`` removes the lock file on release whatever is left beside it."""
        self.recording = recording
        self.path = lock_path(recording)
        self.wait = wait_from_environment() if wait is None else wait
        self.what = what or f"recording {recording}"
        self._hint_wait = what is None  # a recording's wait can be set in the environment
        self.way_out = way_out or (
            "Let that run finish (then run this one again: it records only what is missing), or record into "
            "another folder with --cassette-dir"
        )
        self.keep = keep
        self._handle: IO[bytes] | None = None
        self._made: list[Path] = []
        self.waited = 0.0

    def _open(self) -> IO[bytes]:
        self.path.parent.mkdir(parents=True, exist_ok=True)  # again: a run that recorded nothing removes it
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)  # never through a planted link
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise ConformanceError(
                f"cannot open the lock of {self.what} ({self.path}: {exc.strerror or exc}); "
                "check the folder's permissions, or that the lock is not a symbolic link"
            ) from None
        return os.fdopen(fd, "r+b")

    def _current(self, handle: IO[bytes]) -> bool:
        """Whether the locked file is still the one at the path (a run that recorded nothing removes its lock)."""
        try:
            return os.fstat(handle.fileno()).st_ino == os.stat(self.path, follow_symlinks=False).st_ino
        except FileNotFoundError:
            return False

    def acquire(self) -> RecordingLock:
        """Take the lock, waiting at most ``wait`` seconds; :class:`RecordingLocked` if another run keeps it."""
        folder = self.path.parent
        while not folder.exists() and folder != folder.parent:
            self._made.append(folder)  # folders this lock makes, deepest first: removed again if nothing is recorded
            folder = folder.parent
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._open()
        started = time.monotonic()
        announced = False
        while True:
            if _try_lock(handle):
                if self._current(handle):
                    break
                handle.close()  # locked a file another run removed: lock the one at the path now
                handle = self._open()
                continue
            elapsed = time.monotonic() - started
            if elapsed >= self.wait:
                other = _holder(handle)
                handle.close()
                longer = f"; {WAIT_VARIABLE}=SECONDS waits longer" if self._hint_wait else ""
                raise RecordingLocked(
                    f"{self.what} is being written by another run ({other}); waited {elapsed:.0f} s for it. "
                    f"{self.way_out}{longer}"
                )
            if not announced:
                print(
                    printable(
                        f"conformance: waiting for {self.what}: another run is writing it "
                        f"({_holder(handle)}); waiting up to {self.wait:g} s"
                    ),
                    file=sys.stderr,
                )
                announced = True
            time.sleep(_POLL)
        self.waited = time.monotonic() - started
        holder: dict[str, object] = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(holder).encode() + b"\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        try:
            if not self.keep or not self.recording.exists():
                # Nothing recorded: leave nothing behind. Removed while held, so no writer can be in between.
                self.path.unlink(missing_ok=True)
                for folder in self._made:
                    with contextlib.suppress(OSError):  # not empty: someone else's files are there
                        folder.rmdir()
            _unlock(handle)
        finally:
            handle.close()

    @property
    def held(self) -> bool:
        return self._handle is not None

    def __enter__(self) -> RecordingLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(handle: IO[bytes]) -> str:
    """Who holds the lock, as its holder wrote it (best effort: the file is informative only)."""
    try:
        handle.seek(0)
        record = json.loads(handle.read(4096).decode("utf-8", "replace") or "{}")
    except (OSError, ValueError):
        record = {}
    if not isinstance(record, dict) or "pid" not in record:
        return "holder unknown"
    return f"process {record.get('pid')} on {record.get('host')}, since {record.get('since')}"
