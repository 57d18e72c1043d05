"""The report folder: checked before a run, locked and written as one unit after it.

A run's three reports (``report.json``, ``report.md``, ``report.html``) say one verdict, and a reader
must never find them saying two. So they are written as one unit:

1. the folder is checked **before any check runs** (:func:`check_report_dir`): a path naming a file,
   ``/dev/null`` or a folder this user cannot write stops the run at once with the path named, rather
   than after the checks with a traceback;
2. the folder is **locked** for the write (an exclusive ``fcntl`` lock on ``.report.json.lock``
   beside the reports, the recording's lock, :class:`conformance.recording.lock.RecordingLock`): a
   second run writing the same folder waits for the first to finish, then writes its own whole set;
3. each report is written into a fresh hidden folder inside the report folder (the same file system,
   so a rename moves it), flushed to disk;
4. the three are renamed into place in one short step with Ctrl-C and SIGTERM held back
   (:func:`conformance._signals.interrupts_deferred`): an interruption before it leaves the previous
   run's reports as they were, one during it is acted on after it, when the set is whole and new.

A failure to write (a full disk, a folder made read-only) raises :class:`ReportWriteError` naming the
file and the way out, the previous reports kept. Only a crash of the machine between two of the three
renames (microseconds) can leave a mixed set, and a later run replaces it whole.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ._files import file_kind
from .errors import ConformanceError

__all__ = ["REPORT_NAMES", "ReportWriteError", "WrittenReports", "check_report_dir", "write_reports"]

REPORT_NAMES = ("report.json", "report.md", "report.html")
LOCK_WAIT = 60.0  # seconds a second writer waits: writing a report set takes seconds


class ReportWriteError(ConformanceError):
    """The reports cannot be written: the folder is not one, or the disk refuses (the file named)."""


@dataclass(frozen=True)
class WrittenReports:
    """What :func:`write_reports` did: the folder, and any interruption held back while the set was renamed."""

    folder: Path
    interrupted: BaseException | None = None


def _way_out(exc: OSError, folder: Path) -> str:
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"free space on the disk holding {folder}, or choose another folder with --report-dir"
    if exc.errno == errno.EFBIG:
        return "raise the limit on file size this process runs under (ulimit -f), or choose another --report-dir"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"make {folder} writable by this user, or choose another folder with --report-dir"
    return f"fix what stops writing to {folder}, or choose another folder with --report-dir"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def check_report_dir(folder: str | Path) -> None:
    """Refuse, before any check runs, a report folder that cannot hold the reports.

    It must be a folder this user can write, or not exist yet under a folder this user can write (it
    is made when the reports are written).

    Raises
    ------
    ReportWriteError
        Naming the path, what it is, and the way out.
    """
    path = Path(folder)
    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise ReportWriteError(
            f"--report-dir {path}: cannot be read ({_reason(exc)}); choose another folder with --report-dir"
        ) from None
    if info is not None:
        if not stat.S_ISDIR(info.st_mode):
            raise ReportWriteError(
                f"--report-dir {path} is {file_kind(info.st_mode)}, not a folder: the reports (report.json, "
                "report.md, report.html) are written into a folder; name a folder (it is made if missing)"
            )
        if not os.access(path, os.W_OK | os.X_OK):
            raise ReportWriteError(
                f"--report-dir {path}: this user cannot write in that folder; make it writable, or choose another "
                "folder with --report-dir"
            )
        return
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ReportWriteError(
            f"--report-dir {path} cannot be made: {parent} is {file_kind(parent.stat().st_mode)}, not a folder; "
            "choose another folder with --report-dir"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ReportWriteError(
            f"--report-dir {path} cannot be made: this user cannot write in {parent}; choose another folder with "
            "--report-dir"
        )


def write_reports(
    folder: str | Path, writers: Mapping[str, Callable[[Path], object]], *, on_written: Callable[[], None] | None = None
) -> WrittenReports:
    """Write the reports of ``writers`` (file name -> function writing that report to a path) into ``folder``
    as one unit (see the module's docstring); ``on_written()`` is called as soon as the set is in place.

    Raises
    ------
    ReportWriteError
        When the folder or a file cannot be written: the previous reports are as they were (or, if a
        rename failed midway, the message says which files are new).
    KeyboardInterrupt
        Ctrl-C (or SIGTERM, :class:`conformance._signals.Terminated`) before the set was renamed into place:
        nothing was replaced. One that comes during the renames is returned in
        :attr:`WrittenReports.interrupted` instead, the set whole.
    """
    from ._signals import interrupts_deferred
    from .recording.lock import RecordingLock

    target = Path(folder)
    check_report_dir(target)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportWriteError(
            f"cannot make the report folder {target}: {_reason(exc)}; {_way_out(exc, target.parent)}"
        ) from None
    lock = RecordingLock(
        target / REPORT_NAMES[0],
        wait=LOCK_WAIT,
        what=f"report folder {target}",
        way_out="Let that run finish (its reports are then replaced whole by this run's), or write into another "
        "folder with --report-dir",
        keep=False,
    )
    with lock:
        staging = target / f".reports.{os.getpid()}-{secrets.token_hex(4)}.tmp"
        current = staging
        try:
            staging.mkdir()
            for name, write in writers.items():
                current = staging / name
                write(current)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise ReportWriteError(
                f"cannot write {target / current.name}: {_reason(exc)}; the previous reports in {target} are as "
                f"they were. Way out: {_way_out(exc, target)}"
            ) from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)  # Ctrl-C or SIGTERM: nothing was replaced
            raise
        moved: list[str] = []
        with interrupts_deferred() as held:
            try:
                for name in writers:
                    os.replace(staging / name, target / name)
                    moved.append(name)
                if on_written is not None:
                    on_written()
            except OSError as exc:
                left = [name for name in writers if name not in moved]
                raise ReportWriteError(
                    f"cannot put {target / left[0]} in place: {_reason(exc)}; {', '.join(moved) or 'none'} of this "
                    f"run's reports replaced the previous ones, {', '.join(left)} are the previous run's. Way out: "
                    f"{_way_out(exc, target)}, then run the same command again"
                ) from None
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return WrittenReports(target, held[0] if held else None)
