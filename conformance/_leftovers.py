"""What a model leaves running when its run is over: threads, which the run does not wait for, and processes, which it ends.

A guarded run's child (:mod:`conformance._guarded_run`) calls these once its exit code is decided and
its reports are written. Python would wait at exit for every non-daemon thread and, through
``multiprocessing``'s own exit hook, for every non-daemon child process: a model's metrics reporter or a
worker process it started at import kept ``conformance run`` from ever ending, and Ctrl-C did not end it
either (rt14d F4, rt14e F4). A process started otherwise (``subprocess.Popen``: a local inference server,
a shell) did not hold the run, but was left running after it, unnamed, its output in a log nobody was
told of (rt14f F6): every process still descended from the run's process at its end, bar the kit's own
(:func:`kit_process`), is ended the same way and named (Linux: found through ``/proc``).
"""

from __future__ import annotations

import os
import sys
from contextlib import suppress

from ._text import say as _say
from ._untrusted import shown_list

__all__ = ["end_model_processes", "end_other_processes", "kit_process", "leave_model_threads"]

# Seconds a leftover process gets to end on SIGTERM before it is killed.
_TERMINATE_GRACE = 5.0
# Processes the kit itself started and which outlive the run on purpose (the guarded run's watchdog): never ended here.
_KIT_PROCESSES: set[int] = set()


def kit_process(pid: int) -> None:
    """Mark process ``pid`` as the kit's own: :func:`end_other_processes` leaves it alone."""
    _KIT_PROCESSES.add(pid)


def _parents() -> dict[int, int]:
    """Every process's parent, from ``/proc`` (empty where there is no ``/proc``)."""
    parents: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return parents
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:  # ended meanwhile, or not ours to read
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after its last ")".
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and fields[1].isdigit():
            parents[int(entry)] = int(fields[1])
    return parents


def _descendants(root: int) -> list[int]:
    """The processes descended from ``root`` (children first), by their parent links in ``/proc``."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop(0)
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _program(pid: int) -> str:
    """The program's name (``/proc/PID/comm``, at most 15 characters), not its command line: a model's
    process's arguments are the model's text, which a line of the kit's does not repeat (rt14f: they held a
    forged verdict)."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as handle:
            return handle.read().strip().decode("utf-8", "backslashreplace") or "?"
    except OSError:
        return "?"


def _kit_helpers() -> set[int]:
    """``multiprocessing``'s own helper processes (its resource tracker, its fork server): they end with the process."""
    helpers: set[int] = set()
    for module, holder, field in (
        ("multiprocessing.resource_tracker", "_resource_tracker", "_pid"),
        ("multiprocessing.forkserver", "_forkserver", "_forkserver_pid"),
    ):
        pid = getattr(getattr(sys.modules.get(module), holder, None), field, None)
        if isinstance(pid, int):
            helpers.add(pid)
    return helpers


def _gone(pid: int) -> bool:
    """Whether ``pid`` has ended (reaped here when it is this process's child)."""
    with suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    with suppress(OSError):  # a zombie whose parent is another process: ended
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
        return stat[stat.rfind(b")") + 2 :][:1] == b"Z"
    return False


def end_other_processes(log: str | None) -> list[str]:
    """End every process still descended from this one that is not the kit's own (rt14f F6); one line names them.

    Call after :func:`end_model_processes`: what is left was started by the model some other way
    (``subprocess``, ``os.fork``), or by such a process. Each gets SIGTERM, then SIGKILL after
    :data:`_TERMINATE_GRACE` seconds. The line says where their output went: they inherited descriptors
    1 and 2, which were on ``log``. A process that left the tree (a daemon's double fork) is not found.
    Returns the names (``pid N: program``).
    """
    import signal
    import time

    keep = _KIT_PROCESSES | _kit_helpers()
    left = [pid for pid in _descendants(os.getpid()) if pid not in keep and not _gone(pid)]
    if not left:
        return []
    names = [f"pid {pid}: {_program(pid)}" for pid in left]
    many = len(left) != 1
    where = f"; what {'they' if many else 'it'} wrote to stdout and stderr is in {log}" if log else ""
    _say(
        f"conformance: the run is over; {len(left)} process{'es' if many else ''} the model started "
        f"{'are' if many else 'is'} still running ({shown_list(names, most=5)}): the kit ended "
        f"{'them' if many else 'it'} (SIGTERM) rather than leave {'them' if many else 'it'} running{where} "
        "(end such processes in the model before it returns, e.g. with atexit or a context manager)"
    )
    for pid in left:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + _TERMINATE_GRACE
    while time.monotonic() < deadline and not all(_gone(pid) for pid in left):
        time.sleep(0.05)
    for pid in left:
        if not _gone(pid):
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            _gone(pid)
    return names


def end_model_processes() -> list[str]:
    """End the ``multiprocessing`` child processes still running (the model's: the run's own are done by now).

    Each gets SIGTERM, then SIGKILL if it is still there after :data:`_TERMINATE_GRACE` seconds; one
    line names them. Returns their names. Processes started otherwise (``subprocess``) do not hold the
    run, and are left as they are.
    """
    if "multiprocessing" not in sys.modules:  # nothing imported it: no child of its kind
        return []
    import multiprocessing

    left = [p for p in multiprocessing.active_children() if p.is_alive()]
    if not left:
        return []
    names = [f"{p.name} (pid {p.pid})" for p in left]
    _say(
        f"conformance: the run is over; {len(left)} process{'es' if len(left) != 1 else ''} the model started "
        f"{'are' if len(left) != 1 else 'is'} still running ({shown_list(names, most=5, quoted=False)}): the kit "
        f"ended {'them' if len(left) != 1 else 'it'} (SIGTERM) rather than wait (end such processes in the model, "
        "or start them with daemon=True)"
    )
    for process in left:
        process.terminate()
    for process in left:
        process.join(_TERMINATE_GRACE)
        if process.is_alive():
            process.kill()
            process.join(_TERMINATE_GRACE)
    return names


def leave_model_threads(code: int) -> None:
    """Exit now with ``code`` when threads the model started are still running, rather than wait for them.

    Python waits for every non-daemon thread before a process ends: a model's metrics reporter or
    watchdog (``while True: ...``) kept the run from ever ending, and a CI job waited for its timeout.
    The run's output is flushed and its reports are whole on disk by now; the threads are named, and
    the exit (:func:`os._exit`) skips what would wait on them (the atexit hooks too).
    """
    import threading

    left = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if not left:
        return
    _say(
        f"conformance: the run is over; {len(left)} thread{'s' if len(left) != 1 else ''} the model started "
        f"{'are' if len(left) != 1 else 'is'} still running ({shown_list((t.name for t in left), most=5)}): "
        f"the run exits without waiting for {'them' if len(left) != 1 else 'it'} (start such threads with "
        "daemon=True)"
    )
    if "logging" in sys.modules:
        import logging

        logging.shutdown()  # what its atexit hook would flush
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a console gone, a stream closed: the exit code still counts
            stream.flush()
    from ._model_output import tidy_now

    tidy_now()  # what the skipped atexit hooks would have done: no empty model-output.log left
    os._exit(code)
