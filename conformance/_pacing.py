"""How fast, and for how long, a call to a service may go: a rate limit and a deadline on each call's whole time.

A leaf (it imports nothing of the kit but its errors): the adapters that call a service
(:mod:`conformance.adapters.rekognition`), the emulators that stand in for one, and the run
(:mod:`conformance.run.execution`) use it, and adapters may not import the run.

- :class:`TokenBucket` keeps calls under a rate in calls per second, shared by threads.
- :func:`call_deadline` bounds the whole time of each attempt of a call (``--timeout``), not only
  each socket read: an endpoint drip-feeding one byte a second never trips a read timeout.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .errors import ConformanceError

__all__ = [
    "CallDeadlineExceeded",
    "TokenBucket",
    "call_deadline",
    "deadline_passed",
    "deadline_sockets",
    "rearm_deadline",
]


class TokenBucket:
    """A token bucket: at most ``rate`` calls per second on average, and bursts of at most ``burst``.

    :meth:`acquire` takes one token, waiting until one is there. Thread-safe: threads share one
    bucket, so N threads together keep to the rate. ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (isinstance(rate, (int, float)) and not isinstance(rate, bool) and math.isfinite(rate) and rate > 0):
            raise ConformanceError(f"rate {rate!r}: give calls per second as a positive number")
        self.rate = float(rate)
        self.burst = max(1, int(burst if burst is not None else 1))
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting for tokens, over all callers

    def acquire(self) -> float:
        """Take a token; returns how long the caller waited for it."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0  # taken now; a negative balance is the wait the caller owes
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
            self.waited += wait
        if wait > 0:
            self._sleep(wait)
        return wait

    def try_acquire(self) -> bool:
        """Take a token if one is there, without waiting; False when there is none (a server refusing the call)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
            return True


# -- a deadline on the whole of one call ---------------------------------------------------------------

_CALL = threading.local()
_SOCKETS_LOCK = threading.Lock()
_SOCKETS_USERS = 0
# (class, method name) -> the class's own method before the patch (None: it inherited the method).
_SOCKETS_ORIGINALS: dict[tuple[type, str], Any] = {}


class CallDeadlineExceeded(TimeoutError):
    """A call's whole time ran past its deadline (a socket read is refused)."""


def _bounded(original: Callable[..., Any]) -> Callable[..., Any]:
    """A socket read method that keeps to the calling thread's deadline, if it has one."""

    def read(self: Any, *args: Any, **kwargs: Any) -> Any:
        deadline: float | None = getattr(_CALL, "deadline", None)
        if deadline is None:
            return original(self, *args, **kwargs)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CallDeadlineExceeded(f"no complete answer within {_CALL.seconds:g} s")
        previous = self.gettimeout()
        if previous is not None and previous <= remaining:
            return original(self, *args, **kwargs)
        self.settimeout(remaining)
        try:
            return original(self, *args, **kwargs)
        finally:
            self.settimeout(previous)

    read.__name__ = getattr(original, "__name__", "read")
    read._conformance_deadline = True  # type: ignore[attr-defined]
    return read


@contextmanager
def deadline_sockets() -> Iterator[None]:
    """Make socket reads keep to :func:`call_deadline` while inside (nested uses share one patch).

    A read timeout bounds each read: an endpoint sending one byte a second never trips a 2-second
    one, and holds a call for ever. Inside, each read of a thread under :func:`call_deadline` waits
    at most what is left of that call's time; other threads (a local emulator, Dask) are untouched.
    """
    import socket
    import ssl

    global _SOCKETS_USERS
    with _SOCKETS_LOCK:
        if _SOCKETS_USERS == 0:
            classes: tuple[type, ...] = (socket.socket, ssl.SSLSocket)
            for cls in classes:
                for name in ("recv", "recv_into", "read"):
                    # socket.socket inherits recv and recv_into from the C class: patch them on the subclass.
                    method = getattr(cls, name, None)
                    if method is None or getattr(method, "_conformance_deadline", False):
                        continue
                    _SOCKETS_ORIGINALS[(cls, name)] = cls.__dict__.get(name)
                    setattr(cls, name, _bounded(method))
        _SOCKETS_USERS += 1
    try:
        yield
    finally:
        with _SOCKETS_LOCK:
            _SOCKETS_USERS -= 1
            if _SOCKETS_USERS == 0:
                for (cls, name), original in _SOCKETS_ORIGINALS.items():
                    if original is None:
                        delattr(cls, name)
                    else:
                        setattr(cls, name, original)
                _SOCKETS_ORIGINALS.clear()


@contextmanager
def call_deadline(seconds: float) -> Iterator[None]:
    """Bound the socket reads of the calling thread, inside, to ``seconds`` in all (see :func:`deadline_sockets`).

    :func:`rearm_deadline` starts the ``seconds`` anew (a retry is another attempt, with a whole
    ``seconds`` of its own).
    """
    previous = getattr(_CALL, "deadline", None), getattr(_CALL, "seconds", None)
    _CALL.deadline, _CALL.seconds = time.monotonic() + seconds, seconds
    try:
        yield
    finally:
        _CALL.deadline, _CALL.seconds = previous


def rearm_deadline() -> None:
    """Start the calling thread's deadline anew, for another attempt (nothing without :func:`call_deadline`)."""
    seconds: float | None = getattr(_CALL, "seconds", None)
    if seconds is not None:
        _CALL.deadline = time.monotonic() + seconds


def deadline_passed() -> bool:
    """Whether the calling thread's call deadline (if any) has passed."""
    deadline: float | None = getattr(_CALL, "deadline", None)
    return deadline is not None and time.monotonic() >= deadline
