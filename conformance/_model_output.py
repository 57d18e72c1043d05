"""What a ``python:`` model writes to the console goes to a file, kept apart from the kit's own lines (rt14d F6).

A model is the user's code running in the kit's process. A ``print("conformance verdict: PASS")`` at
import put a fake verdict above the real one (a log read with ``grep -m1`` took it), and
``os.dup2(devnull, 1)`` emptied the console: putting back ``sys.stdout`` does not put back file
descriptor 1, which every stream of the process writes through. So in a guarded ``conformance run``
(the child process of :func:`conformance._guarded_run._guarded`), while the model's code runs (its import, each
call: :func:`model_code`), file descriptors 1 and 2, and ``sys.stdout`` and ``sys.stderr``, point to
``model-output.log`` in the report folder, and after it they point back to what they were, from
duplicates saved just before: whatever the model did to the descriptors, the kit's own lines reach
the console. The run then says how many lines the model wrote
and where (:func:`summary`).

The log's path travels in an environment variable, so that the run's worker processes
(``--executor processes:N``, pytest-xdist workers) capture into the same file, appending. Outside a
guarded run (under pytest itself, from Python) nothing is redirected: the process and its capture
are pytest's. With ``threads:N`` the descriptors stay on the log while any call is under way, so a
kit line written at that moment (a progress bar's) lands in the log too; none of the verdicts or
errors, which come after the calls.

A leaf module: the CLI and the python adapter use it; it imports nothing of the kit.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO

__all__ = ["LOG_NAME", "MODEL_OUTPUT_ENV", "capture_into", "model_code", "model_log", "summary"]

# Set in a guarded run's child (and so in every process it starts): the file the model's output goes to.
MODEL_OUTPUT_ENV = "CONFORMANCE_MODEL_OUTPUT"
LOG_NAME = "model-output.log"


def _flush() -> None:
    """Push what the Python streams hold to the descriptors they write through, before those are switched."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            with suppress(Exception):  # a stream the model closed or replaced with an odd object
                stream.flush()


class _Capture:
    """File descriptors 1 and 2 on the log while any of the model's code runs in this process (thread-safe)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._depth = 0  # calls of the model under way (threads:N runs several at once)
        self._log = -1
        self._stream: TextIO | None = None  # sys.stdout and sys.stderr while the model's code runs
        self._saved = (-1, -1)
        self._streams: tuple[TextIO | None, TextIO | None] = (None, None)
        self._unusable = False
        self.redirected = False  # the model pointed descriptor 1 or 2 elsewhere itself (put back)

    def _open(self) -> bool:
        if self._log >= 0:
            return True
        if self._unusable:
            return False
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # Appending: the run's worker processes write into the same file.
            self._log = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
            self._stream = open(  # noqa: SIM115  # open for the process's life, as sys.stdout is
                self._log, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False
            )
        except OSError as exc:
            self._unusable = True
            print(
                f"conformance: note: the model's output cannot be kept in {self.path} ({exc.strerror or exc}); "
                "it goes to the console",
                file=sys.stderr,
            )
            return False
        return True

    def enter(self) -> None:
        with self._lock:
            if self._depth == 0:
                if not self._open():
                    return
                _flush()  # the kit's own text still buffered goes to the console first
                self._saved = (os.dup(1), os.dup(2))  # non-inheritable duplicates: what the console is now
                os.dup2(self._log, 1)
                os.dup2(self._log, 2)
                # The Python streams too: under pytest's capture (an xdist worker importing the model)
                # sys.stdout writes to pytest's file, not through descriptor 1.
                self._streams = (sys.stdout, sys.stderr)
                sys.stdout = sys.stderr = self._stream
            self._depth += 1

    def exit(self) -> None:
        with self._lock:
            if self._depth == 0:
                return  # the log could not be opened: nothing was switched
            self._depth -= 1
            if self._depth:
                return
            _flush()  # the model's text still buffered goes to the log
            log = os.fstat(self._log)
            for fd in (1, 2):
                try:
                    now = os.fstat(fd)
                    self.redirected = self.redirected or (now.st_dev, now.st_ino) != (log.st_dev, log.st_ino)
                except OSError:  # closed by the model
                    self.redirected = True
            for fd, saved in zip((1, 2), self._saved, strict=True):
                os.dup2(saved, fd)
                os.close(saved)
            self._saved = (-1, -1)
            # Put back unless the model set streams of its own, which the kit's import guard names and puts back.
            if sys.stdout is self._stream:
                sys.stdout = self._streams[0]
            if sys.stderr is self._stream:
                sys.stderr = self._streams[1]
            self._streams = (None, None)


_capture: _Capture | None = None
_capture_lock = threading.Lock()


def _current() -> _Capture | None:
    """This process's capture, made at the first call when the environment names a log; None outside a guarded run."""
    global _capture
    path = os.environ.get(MODEL_OUTPUT_ENV)
    if not path:
        return None
    with _capture_lock:
        if _capture is None or _capture.path != path:
            _capture = _Capture(path)
        return _capture


def model_log() -> str | None:
    """The file the model's output goes to in this process, or None outside a guarded run."""
    return os.environ.get(MODEL_OUTPUT_ENV) or None


@contextmanager
def model_code() -> Iterator[None]:
    """Around the model's own code (its import, one call): its writes to descriptors 1 and 2 go to the log."""
    capture = _current()
    if capture is None:
        yield
        return
    capture.enter()
    try:
        yield
    finally:
        capture.exit()


@contextmanager
def capture_into(folder: str | Path) -> Iterator[Path]:
    """In a guarded run's child: the model's output of this run goes to ``folder/model-output.log``.

    A log left by an earlier run is removed first, so that the file holds this run's output only.
    """
    path = Path(folder) / LOG_NAME
    with suppress(OSError):
        path.unlink()
    made = not os.path.lexists(folder)  # made by the capture, if the model prints before any report is written
    before = os.environ.get(MODEL_OUTPUT_ENV)
    os.environ[MODEL_OUTPUT_ENV] = os.path.abspath(path)
    try:
        yield path
    finally:
        if before is None:
            os.environ.pop(MODEL_OUTPUT_ENV, None)
        else:
            os.environ[MODEL_OUTPUT_ENV] = before
        # A log the model wrote nothing into is not left, nor a report folder holding nothing else (a run
        # stopped before its reports leaves no folder, as before).
        with suppress(OSError):
            if path.stat().st_size == 0:
                path.unlink()
        if made:
            with suppress(OSError):
                Path(folder).rmdir()  # only when empty


def summary(path: Path) -> str | None:
    """The line saying how many lines the model wrote and where; None when it wrote nothing (no file is left then)."""
    try:
        lines, size, last = 0, 0, b"\n"
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                lines += block.count(b"\n")
                size += len(block)
                last = block[-1:]
    except OSError:
        size = 0
    capture = _capture
    moved = capture is not None and capture.redirected
    if not size:
        with suppress(OSError):
            path.unlink()
        if moved:
            return "the model pointed the console's file descriptor 1 or 2 elsewhere (os.dup2); the kit put them back"
        return None
    lines += last != b"\n"  # a last line without its newline is a line too
    return (
        f"the model wrote {lines} line{'s' if lines != 1 else ''} to stdout and stderr while importing and "
        f"answering; {'it is' if lines == 1 else 'they are'} in {path}, not on this console, and not evidence of "
        "the run"
        + ("; it also pointed file descriptor 1 or 2 elsewhere (os.dup2), and the kit put them back" if moved else "")
    )
