"""The recording store: one append-only JSONL file per dataset and adapter, indexed by request key.

Line 1 is a header (format version, adapter, and which dataset the recording is for); each recording
session then appends a ``session`` line (when it started, in UTC; adapter version, botocore and boto3
versions, the endpoint with any credentials in its URL taken out, and the endpoint's class: the
vendor's public endpoint, the kit's emulator, another loopback or private endpoint, or other; the
data-protection preflight that let its calls leave this machine, and a sequential run's design) and its
interactions, one per line, each written and flushed as soon as it is recorded, and a ``session_end``
line when it closes (a session killed midway has none), with the calls it sent and anything its line
could not know yet (a line written when the preflight ran, before the first answer)::

    {"recording": "conformance", "format": 1, "adapter": "rekognition", "note": "...", "dataset": {...}}
    {"session": {"started": "2026-01-02T03:04:05Z", "adapter_version": "1", "botocore": "1.43.11", ...}}
    {"key": "<sha256>", "operation": "DetectFaces", "request": {...}, "response": {...}}
    {"session_end": {"ended": "2026-01-02T03:09:10Z", "interactions": 600, "calls_made": 600}}
    {"complete": {"photos": 600}}

One writer at a time: a store opened with ``lock=True`` holds the recording's lock (see
:mod:`.lock`) from before it reads the file until it closes, so nothing another run wrote is ever
cut as a torn line, and ``all`` mode's new file (named for this run alone) never meets another's.

Why this shape: replay looks a request up by key in a dict (constant time, however many interactions),
and loading reads only each line's key; a line is parsed when it is played. Appending line by line
means an interrupted recording keeps everything written before the interruption, and a torn last
line (a process killed mid-write) is detected and dropped on the next load, so the next run records
only what is missing. ``all`` mode writes a new file beside the old and swaps it in at the end.

Why one module of about 650 lines: it is one class, the recording file, whose reading and writing
keep the same invariants (one writer under the lock, a torn last line dropped, the header and sessions
in order, nothing written after a failed write); the lock, scrubbing and vcrpy glue are their own modules.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .._files import read_regular
from .._text import printable
from .._untrusted import BAD_JSON, json_problem, shown
from ..errors import ConformanceError
from .lock import RecordingLock
from .scrub import request_key

__all__ = ["FORMAT", "RecordingError", "RecordingStore", "RecordingWriteError", "check_inside", "utc_now"]

FORMAT = 1
_KEY_PREFIX = '{"key": "'
# What a session's end line may add to its session line: the calls it sent, and what became known only after
# the line was written (a line written when the preflight ran, before any answer said whether it came from the
# kit's emulator). A kit that does not know them reads ended and interactions only.
_AMENDABLE = ("calls_made", "emulator", "emulator_claim", "endpoint_class", "retention_preflight")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class RecordingError(ConformanceError):
    """A recording is unusable, or lacks a request that replay needs."""


class RecordingWriteError(RecordingError):
    """The recording cannot be written (disk full, file too large, no permission): the run stops at once.

    Never an ``OSError``: raised inside the HTTP layer, an ``OSError`` reads to urllib3 and botocore as a
    lost connection, which they retry (more paid calls) and report as a network fault.
    """


# What to do about a failed write, by errno: the part of the message that is the way out.
def _way_out(exc: OSError, folder: Path) -> str:
    import errno

    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"free space on the disk holding {folder} (or choose another folder with --cassette-dir)"
    if exc.errno == errno.EFBIG:
        return (
            "raise the limit on file size this process runs under (ulimit -f), or choose a folder on another "
            "file system with --cassette-dir"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"make {folder} writable by this user (or choose another folder with --cassette-dir)"
    return f"fix what stops writing to {folder} (or choose another folder with --cassette-dir)"


def utc_now() -> str:
    """The time now in UTC, to the second, as session lines give it (``2026-01-02T03:04:05Z``)."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_inside(path: Path, root: Path) -> None:
    """Refuse to write ``path`` unless it stays inside ``root`` once every symbolic link is followed.

    A recording path (or a folder on the way to it) that is a symbolic link pointing elsewhere, or
    nowhere (a dangling link, which opening for writing would create at its target), would make
    the kit create or overwrite a file outside the cassette folder.
    """
    base = Path(os.path.abspath(root))
    if base.is_symlink() and not base.exists():
        raise RecordingError(
            f"the cassette folder {root} is a symbolic link to {os.readlink(base)}, which does not exist: create "
            "the folder it points to, or choose another with --cassette-dir"
        )
    real_root = base.resolve()
    try:
        parts = Path(os.path.abspath(path)).relative_to(base).parts
    except ValueError:
        raise RecordingError(f"recording {path} is not inside the cassette folder {root}") from None
    current = base
    for part in parts:
        current = current / part
        if not current.is_symlink():
            continue
        target = Path(os.readlink(current))
        if not current.exists():
            raise RecordingError(
                f"{current} is a symbolic link to {target}, which does not exist: the kit will not create a recording "
                "through a link (it could land outside the cassette folder); remove the link, or choose another "
                "folder with --cassette-dir"
            )
        real = current.resolve()
        if real != real_root and real_root not in real.parents:
            raise RecordingError(
                f"{current} is a symbolic link to {real}, outside the cassette folder {real_root}: the kit will not "
                "write a recording there; remove the link, or choose another folder with --cassette-dir"
            )


@dataclass
class RecordingStore:
    """An indexed, append-only recording file. Open with :meth:`open`; use as a context manager to close."""

    path: Path
    adapter: str
    lines: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = False
    complete_photos: int = 0
    dropped_tail: bool = False
    header: dict[str, Any] = field(default_factory=dict)
    _writer: IO[str] | None = None
    _target: Path | None = None
    _played: dict[str, int] = field(default_factory=dict)
    _count: int = 0
    _resume_at: int | None = None
    _memory: bool = False
    _has_header: bool = False
    _session_lines: list[int] = field(default_factory=list)  # the line number of each session line loaded
    _session_begun: bool = False
    _session_count: int = 0
    _calls: int = 0  # calls this store's run sent to the endpoint (not replayed), said in its session's end line
    _amended: dict[str, Any] = field(default_factory=dict)  # what the open session's end line adds to its line
    _file_lock: RecordingLock | None = None
    # The first failure to write the file (disk full, file too large, permission): from then on nothing is
    # written, and what this run recorded waits in ``_pending`` (the answers stay playable from memory).
    write_error: OSError | None = None
    _pending: list[str] = field(default_factory=list)  # lines not written, in order, after a failed write
    _written_now: int = 0  # interactions this store wrote to the file
    # Threads of one run share the store (--executor threads:N): plays and appends take turns.
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        adapter: str,
        fresh: bool = False,
        lock: bool = False,
        lock_wait: float | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> RecordingStore:
        """Load the index of ``path`` (absent is fine: empty). ``fresh`` starts a new file, kept apart until closed.

        ``lock`` takes the recording's exclusive lock first (waiting at most ``lock_wait`` seconds), held
        until :meth:`close`: what a run that will write must do. ``header`` adds members to the header
        line of a new file (which dataset it is for).
        """
        store = cls(path=Path(path), adapter=adapter)
        if header:
            store.header = dict(header)
        if lock:
            store._file_lock = RecordingLock(store.path, wait=lock_wait).acquire()
        try:
            if fresh:
                store._target = store.path
                if lock:
                    # Held: no other run is writing, so any new file left beside it is a dead run's.
                    for stale in store.path.parent.glob(f".{store.path.name}.*recording"):
                        stale.unlink(missing_ok=True)
                # This run's own name: a run that does not hold the lock can never remove or swap another's file.
                unique = f"{os.getpid()}-{secrets.token_hex(4)}"
                store.path = store.path.with_name(f".{store.path.name}.{unique}.recording")
            elif store.path.exists():
                store._load()
        except BaseException:
            store._release()
            raise
        return store

    @classmethod
    def in_memory(cls, path: str | Path, *, adapter: str, lines: Mapping[str, list[str]]) -> RecordingStore:
        """A store holding ``lines`` (interaction lines by key) that records into memory, never to disk.

        What a worker process replays from and records into: the interactions it recorded go back to
        the run's process (:meth:`recorded_lines`), which appends them to the real recording.
        """
        store = cls(path=Path(path), adapter=adapter, _memory=True)
        for key, found in lines.items():
            store.lines[key] = [(-1, line) for line in found]
            store._count += len(found)
        store._writer = io.StringIO()
        return store

    def lines_for(self, keys: Iterator[str] | list[str]) -> dict[str, list[str]]:
        """The interaction lines recorded for ``keys`` (those recorded), for a worker's in-memory store."""
        return {key: [line for _, line in self.lines[key]] for key in keys if key in self.lines}

    def recorded_lines(self) -> list[str]:
        """An in-memory store's interaction lines recorded since it was made, in order."""
        assert isinstance(self._writer, io.StringIO), "only an in-memory store keeps its lines"
        return [line for line in self._writer.getvalue().splitlines() if line.startswith(_KEY_PREFIX)]

    def _load(self) -> None:
        try:
            raw = read_regular(self.path)  # never a FIFO (it would hang) or a device (it never ends)
        except OSError as exc:
            raise RecordingError(f"cannot read recording {self.path}: {exc.strerror or exc}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordingError(f"{self.path}: not UTF-8 text (byte {exc.start}); is this a recording?") from None
        raw_lines = text.split("\n")
        last = len(raw_lines)
        offset = 0  # bytes up to the end of the last complete line: where appending resumes
        for number, line in enumerate(raw_lines, start=1):
            line_end = offset + len(line.encode()) + (1 if number < last else 0)
            final = number >= last - 1 and not "".join(raw_lines[number:]).strip()
            if not line.strip():
                offset = line_end if number < last else offset
                continue
            if not self._has_header:
                self._read_header(line, number)  # the first line that is not blank must be the header
                self._has_header = True
            elif line.startswith(_KEY_PREFIX) and _HEX64.fullmatch(line[9:73]) and line[73:75] == '",':
                if not line.endswith("}") or (final and number == last):
                    if final:  # a torn final line: the process died while writing it
                        self.dropped_tail = True
                        break
                    raise RecordingError(f"{self.path} line {number}: truncated interaction; re-record it")
                self.lines.setdefault(line[9:73], []).append((number, line))
                self._count += 1
            else:
                try:
                    record = json.loads(line)
                except BAD_JSON:
                    if final:
                        self.dropped_tail = True
                        break
                    raise RecordingError(
                        f"{self.path} line {number}: not a recording line; the file was edited or is corrupt"
                    ) from None
                if not isinstance(record, dict):
                    raise RecordingError(f"{self.path} line {number}: expected a JSON object")
                if isinstance(record.get("session"), dict):
                    self.sessions.append(dict(record["session"]))
                    self._session_lines.append(number)
                elif isinstance(record.get("session_end"), dict):
                    if self.sessions:  # when the last session ended, and what it recorded
                        ended = record["session_end"]
                        self.sessions[-1]["ended"] = ended.get("ended")
                        self.sessions[-1]["interactions"] = ended.get("interactions")
                        # What became known after its line was written (see begin_session), said by newer kits.
                        self.sessions[-1].update({k: ended[k] for k in _AMENDABLE if k in ended})
                elif isinstance(record.get("complete"), dict):
                    photos = record["complete"].get("photos", 0)
                    if not isinstance(photos, int) or isinstance(photos, bool) or not 0 <= photos < 2**53:
                        raise RecordingError(f"{self.path} line {number}: a 'complete' line without a photo count")
                    self.complete = True
                    self.complete_photos = photos
                else:
                    raise RecordingError(f"{self.path} line {number}: unknown line; the file was edited or is corrupt")
            offset = line_end
        self._resume_at = offset

    def _read_header(self, line: str, number: int = 1) -> None:
        try:
            record = json.loads(line)
        except BAD_JSON:
            record = None
        if not isinstance(record, dict) or record.get("recording") != "conformance" or record.get("format") != FORMAT:
            raise RecordingError(
                f"{self.path} line {number}: not a conformance recording (no header of format {FORMAT}); "
                "record it again with --record-mode all"
            )
        if record.get("adapter") != self.adapter:
            raise RecordingError(
                f"{self.path}: recorded by adapter {shown(record.get('adapter'))}, not {self.adapter!r}"
            )
        self.header = dict(record)

    # -- reading ----------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: object) -> bool:
        return key in self.lines

    def play(self, key: str) -> dict[str, Any]:
        """The recorded interaction for ``key``: in recorded order per key, the last one repeating."""
        with self._lock:
            found = self.lines[key]
            index = self._played.get(key, 0)
            self._played[key] = index + 1
            number, line = found[min(index, len(found) - 1)]
        return self._parse(number, line)

    def _parse(self, number: int, line: str) -> dict[str, Any]:
        try:
            record = json.loads(line)
        except BAD_JSON as exc:
            raise RecordingError(
                f"{self.path} line {number}: damaged interaction ({json_problem(exc)}); re-record it"
            ) from None
        response = record.get("response") if isinstance(record, dict) else None
        if (
            not isinstance(response, dict)
            or not isinstance(response.get("status"), dict)
            or not isinstance(response["status"].get("code"), int)
            or not isinstance(response.get("headers"), dict)
            or not isinstance(response.get("body"), str)
        ):
            raise RecordingError(f"{self.path} line {number}: the recorded response is malformed; re-record it")
        assert isinstance(record, dict)
        request = record.get("request")
        body = request.get("body") if isinstance(request, dict) else None
        canonical = "" if body is None else json.dumps(body, sort_keys=True, separators=(",", ":"))
        if request_key(str(record.get("operation", "")), canonical) != record.get("key"):
            # The key indexes the line; an edited request (another image digest) must not answer for the old one.
            raise RecordingError(
                f"{self.path} line {number}: the interaction's key does not match its request (the file was "
                "edited); re-record it"
            )
        return record

    def interactions(self) -> Iterator[dict[str, Any]]:
        for found in self.lines.values():
            for number, line in found:
                yield self._parse(number, line)

    # -- writing ----------------------------------------------------------------------------------------

    def _open_writer(self, note: str = "") -> bool:
        """Open for appending (cutting a torn last line off first); True if the file is new."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not self._has_header:
            cut: int | None = 0  # nothing but blank space: start the file anew, header first
        else:
            cut = self._resume_at  # what follows the last complete line was torn
        if exists and cut is not None and cut < self.path.stat().st_size:
            with self.path.open("r+b") as handle:
                handle.truncate(cut)
            self.dropped_tail = False
        new = not self.path.exists() or self.path.stat().st_size == 0
        ends_open = False
        if not new:
            with self.path.open("rb") as handle:
                handle.seek(-1, os.SEEK_END)
                ends_open = handle.read(1) != b"\n"
        self._writer = self.path.open("a", encoding="utf-8", newline="\n")
        if ends_open:
            self._writer.write("\n")  # a whole last line without its newline: the next one starts apart
        if new:
            first = {"recording": "conformance", "format": FORMAT, "adapter": self.adapter, "note": note}
            self.header = {**first, **{k: v for k, v in self.header.items() if k not in first}}
            self._write(self.header)
        return new

    @property
    def session_open(self) -> bool:
        """Whether this store's run has written its session line (and not yet its end)."""
        return self._session_begun

    def count_calls(self, calls: int = 1) -> None:
        """``calls`` more went to the endpoint in this run (its session's end line says how many: ``calls_made``)."""
        with self._lock:
            self._calls += calls

    def begin_session(self, session: Mapping[str, Any], note: str) -> None:
        """Start appending: write the header if the file is new, then a session line.

        One session line a run: when it is written already (when the preflight ran, before any answer), what
        ``session`` says anew of the keys an end line may carry (:data:`_AMENDABLE`: the first answer's word
        on the emulator) is kept for the session's end line, and holds for this run's readers at once.
        """
        with self._lock:
            if self._session_begun:
                last = self.sessions[-1]
                changed = {k: session[k] for k in _AMENDABLE if k in session and last.get(k) != session[k]}
                last.update(changed)
                self._amended.update(changed)
                return
            if self._writer is None and self.write_error is None:
                try:
                    self._open_writer(note)
                except OSError as exc:  # the folder or file cannot be made: as any failed write
                    self._broken(exc, 0 if not self.path.exists() else self.path.stat().st_size)
            self._write({"session": dict(session)})
            self.sessions.append(dict(session))
            self._session_begun = True
            self._session_count = 0

    def migrate(self, source: RecordingStore, keys: set[str], note: str) -> int:
        """Carry the interactions of ``source`` whose key is in ``keys`` over into this (new, empty) store.

        Each goes with the session line it was recorded in (marked ``migrated_from``), so what this
        recording says about where and when its answers were recorded stays true. Returns how many
        interactions were carried over.
        """
        with self._lock:
            if len(self):
                raise RecordingError(f"{self.path}: a recording is migrated only into an empty one")
            return self._copy(source, keys, note, {"migrated_from": str(source.path)})

    def _copy(self, source: RecordingStore, keys: set[str], note: str, mark: Mapping[str, str]) -> int:
        """Append the interactions of ``source`` whose key is in ``keys``, each under its own session line marked."""
        import bisect

        chosen = sorted(
            (number, key, line) for key, found in source.lines.items() if key in keys for number, line in found
        )
        if not chosen:
            return 0
        if self._writer is None and self.write_error is None:
            self._open_writer(note)
        current = -2
        for number, key, line in chosen:
            session = bisect.bisect_left(source._session_lines, number) - 1
            if session != current:
                current = session
                carried = {**(dict(source.sessions[session]) if session >= 0 else {}), **mark}
                self._write({"session": carried})
                self.sessions.append(carried)
            self._append_line(key, line)
        return len(chosen)

    def _keep_previous(self) -> None:
        """``all`` mode: keep what the recording held for requests this run did not make (nothing paid is lost).

        Manifests in one folder share one recording (their photos' answers, keyed by image); a re-recording
        of one of them asks its own photos again and must not drop the others' answers.
        """
        assert self._target is not None
        if not self._target.exists():
            return
        previous = RecordingStore(path=self._target, adapter=self.adapter)
        try:
            previous._load()
        except RecordingError as exc:
            # Unreadable: it cannot be carried over line by line, so it is kept whole, beside the new one.
            kept = self._target.with_name(f"{self._target.name}.before-all-{utc_now().replace(':', '')}")
            os.replace(self._target, kept)
            print(
                printable(f"conformance: the previous recording could not be read ({exc}); it is kept as {kept}"),
                file=sys.stderr,
            )
            return
        others = {key for key in previous.lines if key not in self.lines}
        carried = self._copy(previous, others, "", {"kept_by_record_mode_all": "answers this run did not ask again"})
        if carried:
            print(
                printable(
                    f"conformance: kept {carried} answer(s) that {self._target} held for requests this run did not "
                    "make (photos of other manifests in the dataset's folder, or not planned now): record mode all "
                    "records anew what it asks, and loses nothing else"
                ),
                file=sys.stderr,
            )

    def end_session(self) -> None:
        """Say when this run's session ended and how many interactions it recorded (once, if it began)."""
        with self._lock:
            if not self._session_begun or self._writer is None or self._memory:
                return
            self._session_begun = False
            ended = {"ended": utc_now(), "interactions": self._session_count, "calls_made": self._calls}
            ended.update(self._amended)
            self._amended = {}
            self._write({"session_end": ended})
            if self.sessions:
                self.sessions[-1].update(ended)

    def _write(self, record: Mapping[str, Any]) -> None:
        assert self._writer is not None or self.write_error is not None, "begin_session() first"
        with self._lock:
            self._put(json.dumps(record, ensure_ascii=False))

    def _put(self, line: str) -> bool:
        """Write one line and flush it (a crash keeps every line written before it); False if it was not.

        After a failed write nothing more is written: the line waits in ``_pending`` with every later one
        (see :meth:`write_failure`), and the file is cut back to its last whole line.
        """
        writer = self._writer
        if self.write_error is not None or writer is None:
            self._pending.append(line)
            return False
        size = 0 if self._memory else os.fstat(writer.fileno()).st_size  # flushed after every line: exact
        try:
            writer.write(line + "\n")
            writer.flush()
        except OSError as exc:
            self._broken(exc, size)
            self._pending.append(line)
            return False
        return True

    def _broken(self, exc: OSError, size: int) -> None:
        """The file cannot be written: keep the error, drop the writer's unwritten bytes, cut a torn line off."""
        self.write_error = exc
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(OSError, ValueError):
                writer.close()  # its flush fails again; the descriptor is closed all the same
        with contextlib.suppress(OSError):
            os.truncate(self.path, size)  # shrinking is allowed on a full disk or at the size limit

    def write_failure(self) -> RecordingWriteError | None:
        """Why the recording could not be written, what was lost, and the way out; None if it could be."""
        exc = self.write_error
        if exc is None:
            return None
        lost = sum(1 for line in self._pending if line.startswith(_KEY_PREFIX))
        target = self._target or self.path
        if self._target is not None:
            kept = (
                f"--record-mode all replaces a recording only when it finishes, so {target} is as it was and the "
                f"{self._written_now + lost} answer(s) this run received are lost"
            )
        elif lost:
            kept = (
                f"{self._written_now} answer(s) this run received are in it; {lost} answer(s) received could not be "
                "written and are lost (the next run asks for them again)"
            )
        else:
            kept = f"every answer this run received is in it ({self._written_now})"
        reason = exc.strerror or str(exc) or type(exc).__name__
        return RecordingWriteError(
            f"cannot write the recording {target}: {reason} ({type(exc).__name__}, errno {exc.errno}); the run "
            f"stopped at once, sending no further calls; {kept}. Way out: {_way_out(exc, target.parent)}, then run "
            "the same command again: it records only what is missing"
        )

    def append(self, key: str, operation: str, request: Mapping[str, Any], response: Mapping[str, Any]) -> None:
        line = json.dumps({"key": key, "operation": operation, "request": request, "response": response})
        assert line.startswith(_KEY_PREFIX)
        self._append_line(key, line)

    def append_line(self, line: str) -> bool:
        """Append an interaction line recorded elsewhere (a worker); False if its key is recorded already.

        One writer per recording, and never the same request twice: a worker that recorded a
        request another worker also recorded adds nothing.
        """
        if not line.startswith(_KEY_PREFIX) or not _HEX64.fullmatch(line[9:73]) or line[73:75] != '",':
            raise RecordingError(f"{self.path}: a worker handed back something that is not an interaction line")
        with self._lock:
            if line[9:73] in self.lines:
                return False
            self._append_line(line[9:73], line)
            return True

    def _append_line(self, key: str, line: str) -> None:
        with self._lock:
            if self._writer is None and self.write_error is None:
                raise RecordingError(f"{self.path}: recording has not begun")
            if self._put(line):
                self._written_now += 1
                self._session_count += 1
            # Written or not, the answer is kept for this run: a repeat of the request replays it, never pays again.
            self.lines.setdefault(key, []).append((-1, line))
            self._played[key] = len(self.lines[key])  # just recorded: a repeat replays this one
            self._count += 1

    def mark_complete(self, photos: int) -> None:
        """Say every photo of the dataset is recorded (``once`` then stops recording), with how many."""
        if (not self.complete or self.complete_photos != photos) and len(self):
            if self._writer is None and self.write_error is None:
                self._open_writer()
            self.end_session()  # the session's end before the word that the recording is complete
            self._write({"complete": {"photos": photos}})
        self.complete = True
        self.complete_photos = photos

    def close(self, *, succeeded: bool = True) -> None:
        """Flush to disk; in ``all`` mode, swap the new recording in, or drop it if the run failed. Unlock."""
        try:
            if self._writer is not None and not self._memory:
                self.end_session()
                if self._target is not None and succeeded:
                    self._keep_previous()
                writer = self._writer
                if writer is not None:
                    try:
                        writer.flush()
                        os.fsync(writer.fileno())
                        writer.close()
                    except OSError as exc:
                        self._broken(exc, self.path.stat().st_size if self.path.exists() else 0)
                    self._writer = None
            if self.write_error is not None and not self._memory:
                self._flush_pending()
            if self._target is not None:
                if succeeded and self.write_error is None and self.path.exists():
                    os.replace(self.path, self._target)  # the new recording replaces the old at once
                else:
                    self.path.unlink(missing_ok=True)  # a failed re-recording leaves the old one as it was
                self.path, self._target = self._target, None
        finally:
            self._release()

    def _flush_pending(self) -> None:
        """After a failed write: try once more to write what waits, in order, stopping at the first failure.

        (Another file on the disk may have been removed meanwhile, or a smaller line may still fit.) A
        ``--record-mode all`` file is dropped whatever happens; a file whose header was never written is
        not appended to.
        """
        if self._target is not None or not self._pending or self.write_error is None:
            return
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return
        try:
            self._writer = self.path.open("a", encoding="utf-8", newline="\n")
        except OSError:
            return
        failed, self.write_error = self.write_error, None
        pending, self._pending = self._pending, []
        for index, line in enumerate(pending):
            if not self._put(line):
                self._pending.extend(pending[index + 1 :])
                break
            if line.startswith(_KEY_PREFIX):
                self._written_now += 1
        self.write_error = self.write_error or failed  # the run stopped for it: it is still what is said
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(OSError, ValueError):
                writer.close()

    def _release(self) -> None:
        lock, self._file_lock = self._file_lock, None
        if lock is not None:
            lock.release()

    def __enter__(self) -> RecordingStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.close(succeeded=kind is None)
