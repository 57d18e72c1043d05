"""A guarded ``conformance run``: user code in the kit's process (a ``python:`` model, ``--project-conftest``) runs
in a child process, whose end the ``conformance`` command judges, and which a watchdog stops when that command is gone.

The parent (:func:`_guarded`) starts the child and reads the exit code the child writes as its last act
(:func:`_child_run`); the child keeps the model's output apart (:mod:`conformance._model_output`), does not
wait for threads the model left running, and starts the watchdog (:func:`_stop_with_parent`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from ._text import say as _say

_USAGE_ERROR = 2


# Set in the child process of a guarded run (below): the file it writes its exit code into when it finishes.
_FINISHED_ENV = "CONFORMANCE_RUN_FINISHED_FILE"
# Also set in that child: the descriptor of a pipe whose other end only the parent holds (see _stop_with_parent).
_PARENT_PIPE_ENV = "CONFORMANCE_RUN_PARENT_PIPE"
# Seconds a child whose parent is gone gives its run to stop as on SIGTERM (the calls on their way finish and
# are recorded: up to --timeout each, with retries) before it kills itself and its process group outright.
_PARENT_GONE_GRACE = 60.0


def _in_process_code(args: argparse.Namespace) -> bool:
    """Whether the run executes code of the user's in this process: a ``python:`` model, or the project's conftest."""
    return bool(args.project_conftest) or str(args.analyzer or "").startswith("python:")


def _guarded(arguments: list[str], args: argparse.Namespace, folder: str | None = None) -> int:
    """``conformance run`` in a child process, whose end is judged here (rt14c F4).

    A model can end the process itself (``os._exit(0)``, an ``atexit`` hook doing so) where nothing
    in-process can catch it, and exit 0 with no report. The child writes its exit code into a file as
    its last act; an exit without that file is no verdict (exit 2), and the file's code stands over the
    process's exit status. ``folder`` is the run's report folder, where the child keeps the model's log.
    """
    import signal
    import subprocess
    import tempfile

    from ._model_output import remove_empty_log
    from ._signals import Terminated

    made = folder is not None and not os.path.lexists(folder)  # made by the child, maybe only for the model's log
    handle, finished = tempfile.mkstemp(prefix="conformance-run-", suffix=".exit")
    os.close(handle)
    os.unlink(finished)  # it exists only once the child finished
    env = {**os.environ, _FINISHED_ENV: finished}
    # A pipe the child watches: this process holds its only write end, so when this process dies, even by
    # SIGKILL (which no handler sees; the child's own session keeps it from the signal too), the child reads
    # the end of the pipe and stops its run (rt15c: a killed command left its child calling the model).
    watched, held = os.pipe() if os.name == "posix" else (-1, -1)
    if watched >= 0:
        env[_PARENT_PIPE_ENV] = str(watched)
    try:
        try:
            # A session of its own: a terminal's Ctrl-C reaches this process only, which passes it on once.
            child = subprocess.Popen(
                [sys.executable, "-m", "conformance", *arguments],
                env=env,
                start_new_session=True,
                pass_fds=(watched,) if watched >= 0 else (),
            )
        finally:
            if watched >= 0:
                os.close(watched)  # the child's end now
        interrupted: KeyboardInterrupt | None = None
        while True:
            try:
                status = child.wait()
                break
            except KeyboardInterrupt as stop:
                interrupted = stop
                child.send_signal(signal.SIGTERM if isinstance(stop, Terminated) else signal.SIGINT)
    finally:
        if held >= 0:
            os.close(held)
    # The child's model-output.log, if the model wrote nothing into it, even at the child's exit.
    if folder is not None:
        remove_empty_log(folder, made=made)
    try:
        decided = Path(finished).read_text(encoding="ascii").strip()
        Path(finished).unlink()
    except OSError:
        decided = ""
    if interrupted is not None:
        return _interrupted_guard(interrupted, decided, status)
    if decided.lstrip("-").isdigit():
        code = int(decided)
        if status != code:
            _say(
                f"conformance: note: the process ended with exit status {status} after the run had decided {code} "
                "(an atexit hook or a thread of the model ended it); the run's exit status stands"
            )
        return code
    if status < 0:  # killed by a signal before it finished: what a shell reports for it
        _say(f"conformance: error: the run was killed by signal {-status} before it finished; no verdict")
        return 128 - status
    _say(
        f"conformance: error: the run ended before it finished, with exit status {status} and no verdict: code "
        f"running in the process ({args.analyzer or 'the project conftest.py'}) ended it (os._exit(), a crash, or "
        "an exit from a thread); any report in the report folder is not this run's. A model must return an answer "
        "for each photo, or raise an Exception for a photo it cannot answer (docs/how-to/python-model.md)"
    )
    return _USAGE_ERROR


def _interrupted_guard(stop: KeyboardInterrupt, decided: str, status: int) -> int:
    """The exit code of a guarded run that Ctrl-C (or SIGTERM) reached: the interruption's, whenever it came.

    The child says what it stopped and kept; this adds a line only when the child could not: it had
    already finished (the run's own code is then overruled: the user asked it to stop), or it ended
    without saying (a model's handler, a kill).
    """
    from ._signals import exit_code, signal_name

    code, name = exit_code(stop), signal_name(stop)
    if decided.lstrip("-").isdigit() and int(decided) != code:
        _say(
            f"conformance: interrupted ({name}) as the run ended, after it had decided exit code {decided} and "
            "written what it printed above"
        )
    elif not decided and status != code:
        _say(
            f"conformance: interrupted ({name}): the run stopped before it finished (exit status {status}); no verdict"
        )
    return code


def _child_run(run: Callable[[], int], report_dir: str, finished: str) -> int:
    """``conformance run`` as a guarded run's child: the model's output kept apart, what it left running not waited for.

    What the model writes to the console goes to the report folder (:mod:`conformance._model_output`),
    until the process ends: a thread it left running writes there after the run too (rt14e F2). The
    child's last acts: the model's leftover processes ended, one line on what the model wrote, the exit
    code into ``finished``, and then an exit that does not wait for threads the model left running
    (rt14d F4: a non-daemon thread of the model's kept ``conformance run`` from ever ending, after its
    verdict and reports were out; rt14e F4: a ``multiprocessing`` child did the same).
    """
    from ._leftovers import end_model_processes, end_other_processes, leave_model_threads
    from ._model_output import capture_into, summary
    from ._signals import exit_code, signal_name

    log = None
    try:
        # The log is removed if empty by the parent, once this process has ended (after its last finalizer).
        with capture_into(report_dir, keep=True, tidy_at_exit=False) as log:
            code = run()
    except KeyboardInterrupt as stop:  # before or after what _run catches itself: the same ending
        _say(f"conformance: interrupted ({signal_name(stop)}); the run stopped there, with no verdict")
        code = exit_code(stop)
    except BrokenPipeError:  # the console's reader went away (`... | head -2`): as main() ends, not the model's doing
        _quiet(sys.stdout)
        code = 128 + 13
    finally:
        try:
            end_model_processes()
            end_other_processes(str(log) if log is not None else None)
            said = summary(log) if log is not None else None
            if said is not None:
                _say(f"conformance: {said}")
        except BrokenPipeError:  # stderr's reader gone too: the exit code is still written
            _quiet(sys.stdout, sys.stderr)
    Path(finished).write_text(str(code), encoding="ascii")
    _end_on_interrupt()
    leave_model_threads(code)
    return code


def _quiet(*streams: object) -> None:
    """Nothing more written to a console whose reader went away (Python would try again, and fail, at exit)."""
    from contextlib import suppress

    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in streams:
        with suppress(OSError, ValueError, AttributeError):  # a stream with no descriptor: nothing to point
            os.dup2(devnull, stream.fileno())  # type: ignore[attr-defined]
    os.close(devnull)


def _end_on_interrupt() -> None:
    """From here on, Ctrl-C or SIGTERM ends the child at once: its run is over, its exit code written.

    What is left is Python's own ending (the model's ``atexit`` hooks, a library's cleanup), where a
    ``KeyboardInterrupt`` printed a traceback and changed nothing; the parent says the run was
    interrupted and exits with the interruption's code.
    """
    import signal
    from types import FrameType

    def end(signum: int, frame: FrameType | None) -> None:
        os._exit(128 + signum)

    for which in (signal.SIGINT, signal.SIGTERM):
        signal.signal(which, end)


# The watchdog of a guarded run's child (see _stop_with_parent): a process of its own, so that nothing the model
# does in the child (a call holding the GIL, its own SIGTERM handler, helper processes that ignore SIGTERM) keeps
# it from acting. argv: the parent's pipe, the child's pipe, the run's process group, the grace in seconds.
_WATCHDOG = """
import os, select, signal, sys, time
parent, child, group, grace = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
def ended(fd):
    try:
        return not os.read(fd, 1)
    except OSError:
        return True
while True:
    ready = select.select([parent, child], [], [])[0]
    # The run's end first: a run that ended as its parent did (which exits as soon as it has the run's code) is
    # over, not abandoned.
    if child in ready and ended(child):
        sys.exit(0)
    if parent in ready and ended(parent):
        break  # the conformance command is gone while its run goes on: stop the run
try:
    os.write(2, MESSAGE.encode())
except OSError:
    pass  # the terminal may be gone too
def alive():
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
try:
    os.killpg(group, signal.SIGTERM)
except ProcessLookupError:
    sys.exit(0)
deadline = time.monotonic() + grace
while alive() and time.monotonic() < deadline:
    time.sleep(0.1)
if alive():
    os.killpg(group, signal.SIGKILL)
"""
_WATCHDOG_MESSAGE = (
    "conformance: the conformance command that started this run is gone (killed); the run stops as on "
    "SIGTERM, keeping what it recorded\n"
)


def _stop_with_parent() -> None:
    """In a guarded run's child: stop the run when the ``conformance`` process that started it is gone.

    A watchdog process of its own (its own session, outside the run's process group) waits on two pipes:
    the one the parent holds open (it never writes to it) and one this process holds. The end of the
    parent's pipe means the parent died, killed outright (SIGKILL, the OOM killer, a CI runner killing
    the job's process group); the watchdog then sends SIGTERM to the run's process group (this process,
    the worker processes it started, a model's helpers), which stops a run as Ctrl-C does (the calls on
    their way finish and are recorded), and kills the group outright if anything of it is still there
    :data:`_PARENT_GONE_GRACE` seconds later (a model that handles SIGTERM itself, a call that never
    returns, a helper that ignores SIGTERM). The end of this process's pipe means the run ended with its
    parent alive: the watchdog exits. A process, not a thread: a thread in this process could not act
    while a model's call held the GIL (red team 15d: a catastrophic regex kept the run going for ever).
    A pipe works wherever ``subprocess`` passes descriptors, with no Linux-only ``prctl``.
    """
    import subprocess

    given = os.environ.pop(_PARENT_PIPE_ENV, "")  # not for the processes the run starts
    if not given.isdigit():
        return
    watched = int(given)
    ours, held = os.pipe()  # `held` stays open in this process (and its forked workers) until the run ends
    code = _WATCHDOG.replace("MESSAGE", repr(_WATCHDOG_MESSAGE))
    args = [str(watched), str(ours), str(os.getpgrp()), repr(float(_PARENT_GONE_GRACE))]
    from ._leftovers import kit_process

    watchdog = subprocess.Popen(  # the interpreter running the kit, with the kit's own code
        [sys.executable, "-I", "-c", code, *args],
        pass_fds=(watched, ours),
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    kit_process(watchdog.pid)  # it ends by itself once the run is over: not a leftover of the model's
    os.close(ours)
    os.close(watched)
    _WATCHDOG_HELD.append(held)


# The child's end of its watchdog's pipe, kept open for the life of the process (closed by the exit itself).
_WATCHDOG_HELD: list[int] = []
