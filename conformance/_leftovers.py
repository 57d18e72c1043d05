"""What a model leaves running when its run is over: threads, which the run does not wait for, and processes, which it ends.

A guarded run's child (:mod:`conformance._guarded_run`) calls these once its exit code is decided and
its reports are written. Python would wait at exit for every non-daemon thread and, through
``multiprocessing``'s own exit hook, for every non-daemon child process: a model's metrics reporter or a
worker process it started at import kept ``conformance run`` from ever ending, and Ctrl-C did not end it
either (rt14d F4, rt14e F4).
"""

from __future__ import annotations

import os
import sys

from ._text import say as _say
from ._untrusted import shown_list

__all__ = ["end_model_processes", "leave_model_threads"]

# Seconds a leftover process gets to end on SIGTERM before it is killed.
_TERMINATE_GRACE = 5.0


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
    from contextlib import suppress

    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a console gone, a stream closed: the exit code still counts
            stream.flush()
    os._exit(code)
