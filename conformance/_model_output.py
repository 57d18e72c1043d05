"""What a ``python:`` model writes to the console goes to a file, kept apart from the kit's own lines (rt14d F6, rt14e F2).

A model is the user's code running in the kit's process. A ``print("conformance verdict: PASS")`` at
import put a fake verdict above the real one (a log read with ``grep -m1`` took it), and
``os.dup2(devnull, 1)`` emptied the console: putting back ``sys.stdout`` does not put back file
descriptor 1, which every stream of the process writes through. A thread the model started at import
went on writing after its calls, when the console was the kit's again (rt14e F2: 49 lines of
``conformance verdict: PASS`` around the real FAIL).

So in the process that runs the model (a guarded ``conformance run``'s child, :mod:`conformance._guarded_run`;
``conformance verify``), for as long as :func:`capture_into` holds, file descriptors 1 and 2 point to
``model-output.log``, whoever writes through them, whenever: the model's threads, the processes it
starts, C libraries. The kit's own lines go to the console through duplicates of the console's
descriptors saved first (non-inheritable: a program the model runs does not get them), by way of
``sys.stdout`` and ``sys.stderr``, which send a line to the console only when the kit's own code writes
it: the main thread, or a thread the kit started (known by identity, :func:`kit_thread`, never by its
name: a model's thread named ``conformance-watch`` is the model's, rt14f F3), outside the model's code
(:func:`model_code`). Once the command's last line is out (:func:`seal`), the console's duplicates are
closed and every stream writes to the log: what runs at the interpreter's exit (``atexit`` handlers,
``weakref.finalize``, logging at shutdown, a finalizer) is the model's or a library's, never the kit's
(rt14f F3: a ``print`` in an ``atexit`` hook came after the verdict). A line written by any other thread goes to the log. A process forked from it (a
``multiprocessing`` child of the model's, a worker of ``--executor processes:N``) closes the console's
duplicates and writes only to the log. The run then says how many lines the model wrote, where, and
how many came after it had answered every photo (:func:`summary`).

What this does not do: the model is code running inside the kit's process, and can do what the kit
does. One that looks for the console's duplicates among its process's descriptors (``/proc/self/fd``),
writes to the terminal by another path, or patches the kit's functions can still forge what the
console or the report says; docs/explanation/trust.md says so, and what to use instead.

The log's path travels in an environment variable, so that the run's worker processes
(``--executor processes:N``, pytest-xdist workers) capture into the same file, appending: there,
descriptors 1 and 2 point to the log while the model's code runs. Outside such a process (under
pytest itself, from Python) nothing is redirected: the process and its capture are pytest's.

A leaf module: the CLI and the python adapter use it; it imports nothing of the kit.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO, cast

__all__ = [
    "LOG_NAME",
    "MODEL_OUTPUT_ENV",
    "capture_into",
    "kit_thread",
    "model_code",
    "model_log",
    "phase_over",
    "remove_empty_log",
    "seal",
    "summary",
    "tidy_now",
]

# Set in a guarded run's child (and so in every process it starts): the file the model's output goes to.
MODEL_OUTPUT_ENV = "CONFORMANCE_MODEL_OUTPUT"
LOG_NAME = "model-output.log"
# The threads the kit started (the threads:N executor's): their lines are the kit's. Thread objects, not names:
# a model's thread named like the kit's is still the model's (rt14f F3).
_KIT_THREADS: weakref.WeakSet[threading.Thread] = weakref.WeakSet()


def kit_thread() -> None:
    """Mark the calling thread as the kit's: outside the model's code, what it writes goes to the console.

    Called first thing by each thread the kit starts (``ThreadPoolExecutor``'s initializer); a thread the
    model starts never is, whatever its name.
    """
    _KIT_THREADS.add(threading.current_thread())


def _flush() -> None:
    """Push what the Python streams hold to the descriptors they write through, before those are switched."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if stream is not None:
            with suppress(Exception):  # a stream the model closed or replaced with an odd object
                stream.flush()


def _same_file(fd: int, other: int) -> bool:
    """Whether descriptor ``fd`` is open on the file ``other`` is open on (False when ``fd`` is closed)."""
    try:
        a, b = os.fstat(fd), os.fstat(other)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class _Routed(io.TextIOBase):
    """``sys.stdout`` or ``sys.stderr`` while the console is the kit's: a line goes to the console when the kit writes it."""

    def __init__(self, console: TextIO, capture: _Capture) -> None:
        super().__init__()
        self._console = console
        self._capture = capture

    def _target(self) -> TextIO:
        log = self._capture.stream
        if log is None or self._capture.kit_speaking():
            return self._console
        return log

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        for stream in (self._console, self._capture.stream):
            if stream is not None:
                with suppress(ValueError):  # closed at the end of the capture
                    stream.flush()

    def fileno(self) -> int:
        # The descriptor of where the caller's lines go: the model's code asking (faulthandler.enable(sys.stderr) at
        # import, rt14f) gets the log's, which it may write to for ever after; the kit asking gets the console's.
        return self._target().fileno()

    def isatty(self) -> bool:
        return self._console.isatty()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]  # io.TextIOBase declares it as an attribute
        return self._console.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self._console.errors

    @property
    def buffer(self) -> object:
        return self._target().buffer


class _Capture:
    """Descriptors 1 and 2 on the log: for good in the process that holds it (:meth:`hold`), else while the model's code runs."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._depth = 0  # calls of the model under way in this process (threads:N runs several at once)
        self._local = threading.local()  # calls of the model under way in this thread
        self._log = -1
        self.stream: TextIO | None = None  # the log as a text stream
        self._saved = (-1, -1)
        self._streams: tuple[TextIO | None, TextIO | None] = (None, None)
        self._unusable = False
        self.redirected = False  # the model pointed descriptor 1 or 2 elsewhere, or closed it (put back)
        # While held: the console's saved descriptors and streams, and what sys.stdout and sys.stderr were.
        self._console: tuple[int, int] = (-1, -1)
        self._console_streams: tuple[TextIO, TextIO] | None = None
        self._held_streams: tuple[TextIO, TextIO] | None = None
        self._forked = False  # a process forked from the one that held it: no console here
        self.sealed = False  # the command's last line is out: no console here any more (seal())
        self.keep = False  # held until the process ends (capture_into(keep=True))
        self._columns: str | None = None
        self.phase_end: int | None = None  # the log's size when the model had answered every photo

    def _open(self) -> bool:
        if self._log >= 0:
            return True
        if self._unusable:
            return False
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # Appending: the run's worker processes write into the same file.
            self._log = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
            self.stream = open(  # noqa: SIM115  # open for the process's life, as sys.stdout is
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

    # -- the process that runs the model: the console is the kit's, for good ---------------------------------

    def kit_speaking(self) -> bool:
        """Whether what the current thread writes now is the kit's: not the model's code, nor a thread of the model's."""
        depth: int = getattr(self._local, "depth", 0)
        if self._forked or self.sealed or depth:
            return False
        thread = threading.current_thread()
        return thread is threading.main_thread() or thread in _KIT_THREADS

    def hold(self) -> None:
        """Descriptors 1 and 2 on the log until :meth:`release`; the kit's lines through the console's duplicates."""
        with self._lock:
            if self._console_streams is not None or not self._open():
                return
            _flush()
            console = (os.dup(1), os.dup(2))  # non-inheritable: a program the model runs does not get them
            self._console = console
            before = (sys.stdout, sys.stderr)
            self._held_streams = before
            self._console_streams = cast(
                "tuple[TextIO, TextIO]",
                tuple(self._console_stream(stream, fd) for stream, fd in zip(before, console, strict=True)),
            )
            if "COLUMNS" not in os.environ and self._console_streams[0].isatty():
                # Descriptor 1 is a file now: pytest and shutil would lay out for 80 columns, not the terminal's.
                with suppress(OSError):
                    self._columns = os.environ["COLUMNS"] = str(os.get_terminal_size(console[0]).columns)
            os.dup2(self._log, 1)
            os.dup2(self._log, 2)
            sys.stdout = cast(TextIO, _Routed(self._console_streams[0], self))
            sys.stderr = cast(TextIO, _Routed(self._console_streams[1], self))

    @staticmethod
    def _console_stream(stream: TextIO, fd: int) -> TextIO:
        """The kit's stream to the console: ``stream`` itself when it does not write through descriptor 1 or 2
        (pytest's capsys), else a new one on the saved duplicate ``fd``."""
        try:
            through = stream.fileno()
        except (AttributeError, OSError, ValueError):
            return stream
        if through not in (1, 2):
            return stream
        return open(  # closed in release()
            fd,
            "w",
            encoding=getattr(stream, "encoding", None) or "utf-8",
            errors=getattr(stream, "errors", None) or "backslashreplace",
            buffering=1,
            closefd=False,
        )

    def release(self) -> None:
        """The console back on descriptors 1 and 2, and in ``sys.stdout`` and ``sys.stderr``."""
        with self._lock:
            if self._console_streams is None or self.sealed:
                return
            _flush()
            for fd, saved in zip((1, 2), self._console, strict=True):
                os.dup2(saved, fd)
            for routed, before in zip((sys.stdout, sys.stderr), self._held_streams or (), strict=False):
                if isinstance(routed, _Routed):
                    if routed is sys.stdout:
                        sys.stdout = before
                    else:
                        sys.stderr = before
            for stream in self._console_streams:
                if stream not in (self._held_streams or ()):
                    with suppress(OSError, ValueError):
                        stream.close()
            for saved in self._console:
                os.close(saved)
            self._console, self._console_streams, self._held_streams = (-1, -1), None, None
            if self._columns is not None and os.environ.get("COLUMNS") == self._columns:
                del os.environ["COLUMNS"]
            self._columns = None

    def seal(self) -> None:
        """The command has said its last line: the console's duplicates closed, sys.stdout and sys.stderr on the log.

        Descriptors 1 and 2 stay on the log (put back there if the model moved them): what the interpreter
        runs at exit (``atexit`` hooks, finalizers, logging's shutdown) and a thread the model left running
        write there, and no code left in the process holds a way to the console.
        """
        with self._lock:
            if self._console_streams is None or self.sealed or self.stream is None:
                return
            _flush()
            self.repair()
            self.sealed = True
            for stream in self._console_streams:
                if stream not in (self._held_streams or ()):
                    with suppress(OSError, ValueError):
                        stream.close()
            for saved in self._console:
                with suppress(OSError):
                    os.close(saved)
            self._console = (-1, -1)
            sys.stdout = sys.stderr = self.stream

    def forked(self) -> None:
        """In a process forked from the holder: no console here (closed), everything written goes to the log."""
        if self._console_streams is None:
            return
        self._forked = True
        for saved in self._console:
            with suppress(OSError):
                os.close(saved)
        self._console = (-1, -1)

    def repair(self) -> None:
        """Descriptors 1 and 2 pointed back at the log if the model moved or closed them (while held)."""
        if self._console_streams is None or self._log < 0:
            return
        for fd in (1, 2):
            if not _same_file(fd, self._log):
                self.redirected = True
                os.dup2(self._log, fd)

    def log_size(self) -> int:
        try:
            return os.fstat(self._log).st_size if self._log >= 0 else 0
        except OSError:
            return 0

    # -- around each piece of the model's code -------------------------------------------------------------

    def enter(self) -> None:
        self._local.depth = getattr(self._local, "depth", 0) + 1
        with self._lock:
            if self._depth == 0:
                if not self._open():
                    return
                _flush()  # the kit's own text still buffered goes to the console first
                self._saved = (os.dup(1), os.dup(2))  # what descriptors 1 and 2 are now (the log, while held)
                os.dup2(self._log, 1)
                os.dup2(self._log, 2)
                # The Python streams too, where the console is not held: under pytest's capture (an xdist
                # worker importing the model) sys.stdout writes to pytest's file, not through descriptor 1.
                if self._console_streams is None:
                    self._streams = (sys.stdout, sys.stderr)
                    sys.stdout = sys.stderr = self.stream
            self._depth += 1

    def exit(self) -> None:
        self._local.depth = max(getattr(self._local, "depth", 0) - 1, 0)
        with self._lock:
            if self._depth == 0:
                return  # the log could not be opened: nothing was switched
            self._depth -= 1
            if self._depth:
                return
            _flush()  # the model's text still buffered goes to the log
            for fd in (1, 2):
                self.redirected = self.redirected or not _same_file(fd, self._log)
            for fd, saved in zip((1, 2), self._saved, strict=True):
                os.dup2(saved, fd)
                os.close(saved)
            self._saved = (-1, -1)
            if self._console_streams is None:
                # Put back unless the model set streams of its own, which the kit's import guard names and puts back.
                if sys.stdout is self.stream:
                    sys.stdout = self._streams[0]
                if sys.stderr is self.stream:
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


def _after_fork() -> None:
    if _capture is not None:
        _capture.forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


# What removes a kept log left empty: run at exit, or by tidy_now() where the process ends with os._exit.
_TIDY: list[Callable[[], None]] = []


def remove_empty_log(folder: str | Path, *, made: bool) -> None:
    """After the process that held the capture into ``folder`` has ended: its log removed if the model wrote nothing,
    and the folder too when ``made`` (it did not exist before that process) and nothing else is in it."""
    with suppress(OSError):
        path = Path(folder) / LOG_NAME
        if path.stat().st_size == 0:
            path.unlink()
    if made:
        with suppress(OSError):
            Path(folder).rmdir()


def tidy_now() -> None:
    """Remove a kept log the model wrote nothing into now: the process is about to end without its atexit hooks."""
    _flush()
    for tidy in _TIDY:
        tidy()


def seal() -> None:
    """The command's last line is out: from now until the process ends, everything written goes to the model's log.

    ``main()`` calls it as the console script's last act, after the exit code is decided and said, so
    that the ``atexit`` hooks, finalizers and logging handlers Python runs at exit (the model's or its
    libraries') cannot put lines after the verdict (rt14f F3). Nothing happens where the console is not held.
    """
    capture = _capture
    if capture is not None:
        capture.seal()


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


def phase_over() -> None:
    """The model has answered every photo: what reaches the log from now on came from what it left running."""
    capture = _current()
    if capture is not None and capture.phase_end is None:
        _flush()
        capture.phase_end = capture.log_size()


@contextmanager
def capture_into(folder: str | Path, *, keep: bool = False, tidy_at_exit: bool = True) -> Iterator[Path]:
    """In the process that runs the model: its output goes to ``folder/model-output.log`` (see the module's docstring).

    A log left by an earlier run is removed first, so that the file holds this run's output only.
    With ``keep``, descriptors 1 and 2 stay on the log after the block, until the process ends: a
    thread or process the model left running cannot reach the console while the run says its last lines.
    A kept log left empty is removed at exit (after the model's atexit hooks), or, without
    ``tidy_at_exit``, by the caller once the process has ended (:func:`remove_empty_log`: a guarded run's
    parent), so that a line written in the interpreter's last teardown (a ``__del__``) is kept too.
    """
    path = Path(folder) / LOG_NAME
    with suppress(OSError):
        path.unlink()
    made = not os.path.lexists(folder)  # made by the capture, if the model prints before any report is written
    before = os.environ.get(MODEL_OUTPUT_ENV)
    os.environ[MODEL_OUTPUT_ENV] = os.path.abspath(path)
    capture = _current()
    if capture is not None:
        capture.hold()
        capture.keep = keep

    def tidy() -> None:
        # A log the model wrote nothing into is not left, nor a report folder holding nothing else (a run
        # stopped before its reports leaves no folder, as before).
        with suppress(OSError):
            if path.stat().st_size == 0:
                path.unlink()
        if made:
            with suppress(OSError):
                Path(folder).rmdir()  # only when empty

    if keep and tidy_at_exit:
        import atexit

        # Registered before the model is imported, so it runs after the model's own atexit hooks (last in, first
        # out): a line one of them prints at exit lands in the log, which is removed only if it is still empty.
        atexit.register(tidy)
        _TIDY.append(tidy)
    try:
        yield path
    finally:
        if not keep:
            if capture is not None:
                capture.release()
            if before is None:
                os.environ.pop(MODEL_OUTPUT_ENV, None)
            else:
                os.environ[MODEL_OUTPUT_ENV] = before
            tidy()


def summary(path: Path) -> str | None:
    """The line saying how many lines the model wrote and where; None when it wrote nothing (no file is left then)."""
    capture = _capture
    if capture is not None:
        _flush()
        capture.repair()  # a thread of the model's may have moved descriptor 1 or 2 since its calls
    late = capture.phase_end if capture is not None else None
    try:
        lines, size, last, after = 0, 0, b"\n", 0
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                if late is not None and size + len(block) > late:
                    after += block[max(late - size, 0) :].count(b"\n")
                lines += block.count(b"\n")
                size += len(block)
                last = block[-1:]
    except OSError:
        size = 0
    moved = capture is not None and capture.redirected
    if not size:
        if capture is None or not capture.keep:  # kept, the log may yet get lines at exit: removed then if empty
            with suppress(OSError):
                path.unlink()
        if moved:
            return "the model closed the console's file descriptor 1 or 2, or pointed it elsewhere (os.dup2); the kit put them back"
        return None
    lines += last != b"\n"  # a last line without its newline is a line too
    after += late is not None and size > late and last != b"\n"
    them = "it is" if lines == 1 else "they are"
    when = " while importing and answering"
    if after:
        when = (
            f", {after} of {'it' if lines == 1 else 'them'} after it had answered every photo, from threads or "
            "processes it left running"
        )
    return (
        f"the model wrote {lines} line{'s' if lines != 1 else ''} to stdout and stderr{when}; {them} in {path}, "
        "not on this console, and not evidence of the run"
        + (
            "; it also closed file descriptor 1 or 2, or pointed it elsewhere (os.dup2), and the kit put them back"
            if moved
            else ""
        )
    )
