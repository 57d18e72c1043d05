"""SIGTERM stops a run as Ctrl-C does, and Ctrl-C waits out the few renames that make a run's reports.

``docker stop``, ``timeout(1)`` and a cancelled CI job send SIGTERM, whose default kills the process
on the spot: a run so stopped lost the answers in flight (paid for), said nothing, and left its worker
processes running with the run's stdout open. Handled here as Ctrl-C is handled, by raising
:class:`Terminated` (a ``KeyboardInterrupt``) in the main thread, every path that keeps answers on
Ctrl-C keeps them on SIGTERM too; the exit code says which (130 for Ctrl-C, 143 for SIGTERM).

:func:`interrupts_deferred` holds both signals back while a few files are renamed into place, so that
an interruption finds them all old or all new. It swaps the Python-level handlers rather than blocking
the signals (``pthread_sigmask`` blocks them in one thread only; another thread would still take them),
and a Python-level handler runs in the main thread only, between bytecodes: a signal arriving while
the deferring handler is installed is only noted.

A leaf module: the CLI, the plugin and the worker processes use it, and it imports nothing of the kit.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "Terminated",
    "exit_code",
    "handle_sigterm_for_good",
    "interrupts_deferred",
    "signal_name",
    "sigterm_as_interrupt",
]

_DEFERRED = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM (docker stop, timeout, a cancelled CI job): the run stops as on Ctrl-C."""


def signal_name(exc: BaseException | None) -> str:
    """How a message names the interruption: ``SIGTERM`` or ``Ctrl-C``."""
    return "SIGTERM" if isinstance(exc, Terminated) else "Ctrl-C"


def exit_code(exc: BaseException | None) -> int:
    """What a shell reports for the interruption: 143 for SIGTERM, 130 for Ctrl-C (128 + the signal's number)."""
    return 128 + int(signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread, unless someone else handles it.

    Only the default disposition is replaced (a handler a user's code or another plugin installed
    is theirs), and only from the main thread (the only one that may install handlers).
    """
    if not _main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is _raise_terminated:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def handle_sigterm_for_good() -> None:
    """In a worker process: SIGTERM raises :class:`Terminated` for the rest of its life (its default kills it)."""
    if _main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_terminated)


@contextmanager
def interrupts_deferred() -> Iterator[list[BaseException]]:
    """Hold Ctrl-C and SIGTERM back within the block; yields the list of interruptions held back.

    The block should be short (a few renames). On leaving it the original handlers are back, and
    the caller decides what an interruption held back means (it is not raised here): the list holds
    a ``KeyboardInterrupt`` or :class:`Terminated` for each signal that came. Outside the main thread
    nothing can be held back, and the block runs as it is.
    """
    held: list[BaseException] = []
    if not _main_thread():
        yield held
        return

    def note(signum: int, frame: Any) -> None:
        held.append(Terminated() if signum == signal.SIGTERM else KeyboardInterrupt())

    previous = {sig: signal.signal(sig, note) for sig in _DEFERRED}
    try:
        yield held
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
