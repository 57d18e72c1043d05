"""What keeps a recorded vendor's traffic in: no network in a replay, and no secret in the SDK's logs.

Vendor-neutral: any adapter that records an SDK's HTTP traffic holds these for its session. The
third guard, that no request leaves for the vendor before ``--allow-live`` and the data-protection
preflight, is the adapter's own (it knows the price and the vendor's policies); the
:class:`~conformance.recording.recorder.Recorder` tells it which requests the recording answers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from .endpoints import LOOPBACK_HOSTS
from .scrub import redact_log

__all__ = ["SDK_LOGGERS", "network_blocked", "redacted_logs"]

# Loggers whose records during the kit's calls may quote a request: the AWS SDK's, its HTTP client's, vcrpy's.
SDK_LOGGERS = frozenset({"botocore", "boto3", "urllib3", "s3transfer", "vcr"})


def network_blocked(also: Sequence[str] = ()) -> AbstractContextManager[Any]:
    """pytest-recording's socket guard for a replay: remote connections fail, loopback is left alone.

    ``also``: other hosts the run itself talks to (a Dask scheduler), never the vendor's.
    Not nested inside a guard already in force (``pytest --block-network``), whose end it would bring forward.
    """
    import socket

    from pytest_recording import network

    if getattr(socket.socket.connect, "__name__", "") == "network_guard":
        return nullcontext()
    guard: AbstractContextManager[Any] = network.blocking_context(
        allowed_hosts=[*LOOPBACK_HOSTS, *(re.escape(h) + "$" for h in also)]
    )
    return guard


@contextmanager
def redacted_logs(secrets: Sequence[str], loggers: Iterable[str] = SDK_LOGGERS) -> Iterator[None]:
    """Redact what the SDK logs during the run: at DEBUG (``logging.basicConfig(level=DEBUG)``, pytest's
    ``--log-level=DEBUG``) botocore logs each signed request (its signature, the Authorization header,
    the security token), its body with the image as base64, and response bodies naming the account.

    Every record of ``loggers`` (and their children) is cleaned as it is made (a log record factory, so
    that a logger the SDK creates later, or a handler the user adds, gets nothing else), whatever the
    handler. Records are only made for enabled levels: at the default WARNING this costs nothing.
    """
    names = frozenset(loggers)
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name.partition(".")[0] in names:
            try:
                text = record.getMessage()
            except Exception:  # a malformed message: logging reports it when it formats the record
                return record
            cleaned = redact_log(text, secrets)
            if cleaned != text:
                record.msg, record.args = cleaned, ()
        return record

    logging.setLogRecordFactory(factory)
    try:
        yield
    finally:
        if logging.getLogRecordFactory() is factory:  # another session started after this one keeps its own
            logging.setLogRecordFactory(previous)
