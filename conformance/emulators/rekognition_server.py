"""The HTTP side of the Rekognition emulator: a loopback server speaking Rekognition's JSON 1.1 protocol.

:func:`serve` binds loopback only, hands each request to a :class:`~conformance.emulators.rekognition.RekognitionEmulator`,
marks every answer as the emulator's (header, request ids, and a proof of a recording run's nonce),
and enacts the faults the emulator drew (a reset connection, a slow answer, a proxy's page).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import socket
import struct
import sys
import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..recording.endpoints import url_host
from .rekognition import (
    _MAX_BODY,
    CONTENT_TYPE,
    EmulatorError,
    RekognitionEmulator,
    _Call,
    _Failure,
)

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer
    from types import TracebackType

__all__ = ["EmulatorServer", "serve"]


def _loopback(host: str) -> tuple[str, socket.AddressFamily]:
    """The address to bind for ``host`` and its family; refuses anything but loopback."""
    if host.lower() == "localhost":
        # localhost may resolve to ::1 first; the printed URL should be the address actually bound.
        return "127.0.0.1", socket.AF_INET
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise EmulatorError(
            f"refusing to bind {host!r}: the emulator is a test stand-in and listens on loopback only "
            "(127.0.0.0/8, ::1 or localhost)"
        )
    return str(address), socket.AF_INET6 if address.version == 6 else socket.AF_INET


class EmulatorServer:
    """A running emulator: its ``url``, ``port`` and ``emulator``, and ``close()``; also a context manager."""

    def __init__(
        self,
        httpd: ThreadingHTTPServer,
        thread: threading.Thread,
        host: str,
        emulator: RekognitionEmulator,
        *,
        stopping: threading.Event | None = None,
        registration: tuple[bytes, Path | None] | None = None,
    ) -> None:
        self.emulator = emulator
        # Its key, registered where recording runs check that answers claiming the emulator are its own.
        self._registration = registration
        self._httpd = httpd
        self._thread = thread
        # Set by close(): calls held by a slow fault wait on it, so they end with the server.
        self._stopping = stopping if stopping is not None else threading.Event()
        self.host = host
        self.port: int = httpd.server_address[1]
        self.url = f"http://{url_host(host)}:{self.port}"
        self._closed = False

    def close(self) -> None:
        """Stop serving and release the port (idempotent).

        Calls held by a slow fault are not waited for: their connections are closed unanswered.
        """
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        if self._registration is not None:
            from ..recording.proof import unregister

            unregister(self._registration[1], self._registration[0])

    def __enter__(self) -> EmulatorServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<EmulatorServer {self.url} (EMULATED Amazon Rekognition){' closed' if self._closed else ''}>"


def serve(
    emulator: RekognitionEmulator, host: str = "127.0.0.1", port: int = 0, *, log: bool = False
) -> EmulatorServer:
    """Serve ``emulator`` over HTTP/1.1 on loopback, from a daemon thread.

    Parameters
    ----------
    emulator
        What answers each ``POST /``.
    host
        A loopback address (127.0.0.0/8, ``::1``) or ``localhost``; anything else is refused.
    port
        The port; 0 picks a free one (read it from ``.port`` or ``.url``).
    log
        Log each request to stderr, as ``http.server`` does; quiet by default.

    Raises
    ------
    EmulatorError
        For a non-loopback host.
    OSError
        When the port cannot be bound.
    """
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from ..recording.proof import NONCE_HEADER, PROOF_HEADER, proof, register

    bind, family = _loopback(host)
    request_ids = itertools.count(1)
    stopping = threading.Event()
    keys: list[bytes] = []  # the key, once the port is known and registered (before the first request is served)

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True

    class Handler(BaseHTTPRequestHandler):
        # Without it each small response waits on delayed ACKs: about 46 ms a call instead of 2.
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"
        server_version = "conformance-emulator"
        sys_version = ""
        reset = False  # set for a call whose connection a reset fault closes unanswered

        def do_POST(self) -> None:
            length = self.headers.get("Content-Length", "")
            if not length.isdigit():
                self.close_connection = True
                self._reply(
                    411, _Failure("InvalidParameterException", "a Content-Length header is required").reply()[1]
                )
                return
            if int(length) > _MAX_BODY:
                self.close_connection = True
                self._reply(
                    413, _Failure("ImageTooLargeException", f"request body of {length} bytes is too large").reply()[1]
                )
                return
            body = self.rfile.read(int(length))
            if self.path.split("?", 1)[0] != "/":
                failure = _Failure("UnknownOperationException", f"Rekognition serves POST /, not {self.path}")
                call = _Call(failure.reply())
            else:
                try:
                    call = emulator._respond(self.headers.get("X-Amz-Target", ""), body)
                except Exception as exc:
                    # A bug: answer it (the client sees the message) and show the traceback.
                    traceback.print_exc(file=sys.stderr)
                    failure = _Failure("InternalServerError", f"conformance emulator bug: {type(exc).__name__}: {exc}")
                    call = _Call(failure.reply())
            if call.reply is None:
                # A reset fault: no answer; finish() resets the connection once the handler lets go of it.
                self.close_connection = True
                self.reset = True
                self.log_message('"%s" reset, no answer (emulated fault)', self.requestline)
                return
            if call.delay:
                # A held call's client may have given up (its read timeout): do not reuse the connection.
                self.close_connection = True
                if stopping.wait(call.delay):
                    return  # the server is closing: the connection closes unanswered
            if call.page is not None:
                self._page(call.reply[0], call.page)
                return
            self._reply(*call.reply)

        def _page(self, status: int, page: str) -> None:
            """A proxy's page: HTML, none of Rekognition's headers but the emulator's own label."""
            data = page.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-conformance-emulator", "Amazon Rekognition (EMULATED, not the vendor)")
            self._prove(data)
            if self.close_connection:
                self.send_header("Connection", "close")
            try:
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError) as exc:
                self.close_connection = True
                self.log_error("client gone before its answer: %s", exc)

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", f"conformance-emulator-{next(request_ids):012d}")
            self.send_header("x-conformance-emulator", "Amazon Rekognition (EMULATED, not the vendor)")
            if emulator.simulated:
                self.send_header("x-conformance-simulated", "true")
            if status != 200:
                self.send_header("x-amzn-ErrorType", str(payload.get("__type", "InternalServerError")))
            self._prove(data)
            if self.close_connection:
                # Say so (RFC 9112 9.6): else the client pools the connection and may send its next call
                # into it before this thread closes it, losing that call.
                self.send_header("Connection", "close")
            try:
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError) as exc:
                # The client left before its answer (a read timeout shorter than a slow fault): no one to tell.
                self.close_connection = True
                self.log_error("client gone before its answer: %s", exc)

        def _prove(self, data: bytes) -> None:
            """Answer a recording run's nonce with the proof that this answer is the kit's emulator's."""
            nonce = self.headers.get(NONCE_HEADER)
            if nonce and keys:
                self.send_header(PROOF_HEADER, proof(keys[0], nonce, data))

        def finish(self) -> None:
            super().finish()
            if self.reset:
                # SO_LINGER 0 turns close() into an RST (with the files closed above, close() closes the
                # socket); botocore reports it as ConnectionClosedError over ConnectionResetError.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()

        def log_message(self, format: str, *args: Any) -> None:
            if log:
                super().log_message(format, *args)

    httpd = Server((bind, port), Handler)
    registration = register(bind, httpd.server_address[1])
    keys.append(registration[0])
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="conformance-emulator", daemon=True
    )
    thread.start()
    return EmulatorServer(httpd, thread, bind, emulator, stopping=stopping, registration=registration)
