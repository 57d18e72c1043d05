"""A local emulator of Amazon Rekognition's JSON 1.1 protocol, serving a predictions file.

No real credentials exist where the kit's own recordings are made, so they are made against this
emulator: boto3 talks to it exactly as to the vendor (``endpoint_url`` or
``AWS_ENDPOINT_URL_REKOGNITION``), and it answers what a predictions file says about each image.
It is **not** the vendor and must never be presented as one: it binds loopback only, its startup
line says EMULATED, and every response carries an ``x-conformance-emulator`` header and request
ids starting ``conformance-emulator-``.

How a request is answered:

- The ``X-Amz-Target`` header names the operation (``RekognitionService.DetectFaces``); a table
  maps operation names to methods, and anything not in it gets an ``UnknownOperationException``
  saying the emulator does not serve it yet.
- DetectFaces hashes the image bytes (SHA-256) and looks the digest up among the dataset's photos.
  An image the dataset does not hold has no face (``{"FaceDetails": []}``). A known photo gets one
  ``FaceDetail`` per face of its predictions line; ``Gender`` only when ``Attributes`` asks for
  ``GENDER`` or ``ALL``, and never for an abstention. An ``error`` line becomes that error when it
  names one of DetectFaces' errors in botocore's model, else an ``InvalidParameterException``.
- Every successful response is checked against the model (:func:`validate_response`) before it
  leaves; a violation is an emulator bug and is answered with a 500 naming it.
- :class:`Faults` injects throttling and server errors at seeded, reproducible rates.

Example
-------
>>> from conformance import load_dataset                                   # doctest: +SKIP
>>> from conformance.adapters.predictions import PredictionsAnalyzer       # doctest: +SKIP
>>> dataset = load_dataset("manifest.csv")                                 # doctest: +SKIP
>>> emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(Path("p.jsonl"), dataset=dataset))  # doctest: +SKIP
>>> with serve(emulator) as server:                                        # doctest: +SKIP
...     client = boto3.client("rekognition", endpoint_url=server.url, ...)
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import ipaddress
import itertools
import json
import random
import re
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import ConformanceError, PredictionsError
from ._validate import service_model, validate_response

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer
    from types import FrameType, TracebackType

    from ..adapters.predictions import PredictionsAnalyzer
    from ..dataset import Dataset, Photo
    from ..observation import Face

__all__ = [
    "DETECTION_CONFIDENCE",
    "EmulatorError",
    "EmulatorServer",
    "EmulatorStats",
    "Faults",
    "RekognitionEmulator",
    "build_parser",
    "main",
    "serve",
]

SERVICE = "rekognition"
TARGET_PREFIX = "RekognitionService."
# Face *detection* confidence; the predictions file gives gender confidence only.
DETECTION_CONFIDENCE = 99.9
CONTENT_TYPE = "application/x-amz-json-1.1"
# Refuse bodies far beyond the 5 MB image limit (base64 adds a third) before reading them.
_MAX_BODY = 16 * 1024 * 1024
_USAGE_ERROR = 2

Reply = tuple[int, dict[str, Any]]


class EmulatorError(ConformanceError):
    """The emulator cannot start as asked (a non-loopback host, fault rates out of range)."""


@dataclass(frozen=True)
class _Failure:
    """An error response: the Rekognition error code and its message."""

    code: str
    message: str

    @property
    def status(self) -> int:
        return 500 if self.code == "InternalServerError" else 400

    def reply(self) -> Reply:
        return self.status, {"__type": self.code, "Message": self.message}


class _ServiceError(Exception):
    """Raised inside an operation to answer with an error response."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.failure = _Failure(code, message)


@dataclass(frozen=True)
class Faults:
    """Injected faults: the share of calls throttled and the share failing with a server error.

    One draw of a ``random.Random(seed)`` per served call decides: below ``throttle_rate`` the
    call is throttled (``ThrottlingException`` and ``ProvisionedThroughputExceededException`` in
    turn, both 400), below ``throttle_rate + error_rate`` it fails with ``InternalServerError``
    (500). The same seed and the same sequence of calls give the same faults.

    Raises
    ------
    EmulatorError
        When a rate is not a number from 0 to 1, or the two add up to more than 1.
    """

    throttle_rate: float = 0.0
    error_rate: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("throttle_rate", "error_rate"):
            value = getattr(self, name)
            # The negated comparison also refuses NaN.
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 <= value <= 1.0):
                raise EmulatorError(f"{name.replace('_', '-')} {value!r} must be a number from 0 to 1")
        if self.throttle_rate + self.error_rate > 1.0:
            raise EmulatorError(
                f"throttle-rate {self.throttle_rate} and error-rate {self.error_rate} add up to more than 1; "
                "they are shares of the same calls"
            )

    @property
    def active(self) -> bool:
        return self.throttle_rate > 0.0 or self.error_rate > 0.0


@dataclass(frozen=True)
class EmulatorStats:
    """Counts of calls since the emulator started.

    ``calls`` = ``served`` (answered 200) + ``throttled`` + ``errored`` (injected faults) +
    ``failed`` (every other error response: bad requests, predictions errors, unknown operations).
    """

    calls: int = 0
    served: int = 0
    throttled: int = 0
    errored: int = 0
    failed: int = 0


def _centred_box(index: int, count: int) -> tuple[float, float, float, float]:
    """A plausible box for face ``index`` of ``count`` when the predictions give none.

    Faces sit side by side in equal slots, each half its slot's width, so they never overlap;
    a lone face gets (0.25, 0.2, 0.5, 0.6).
    """
    slot = 1.0 / count
    return (index * slot + slot / 4, 0.2, slot / 2, 0.6)


class RekognitionEmulator:
    """Answers Rekognition requests from a dataset and a predictions file, without sockets.

    Parameters
    ----------
    dataset
        The photos the emulator knows, found by the SHA-256 digest of their bytes.
    predictions
        What the emulated service says about each photo.
    faults
        Injected throttling and server errors; none by default.

    Raises
    ------
    PredictionsError
        When a face's gender label is outside botocore's ``GenderType`` enum (the real API cannot
        say it), or two photos with identical bytes have different predictions (the real API
        answers identical images identically).
    """

    def __init__(self, dataset: Dataset, predictions: PredictionsAnalyzer, *, faults: Faults | None = None) -> None:
        self.dataset = dataset
        self.predictions = predictions
        self.faults = faults if faults is not None else Faults()
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        self._stats = EmulatorStats()
        model = service_model(SERVICE)
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "DetectFaces": self._detect_faces,
        }
        # Each operation may only answer with the errors the model lists for it.
        self._errors = {
            name: frozenset(shape.name for shape in model.operation_model(name).error_shapes)
            for name in self._operations
        }
        self._known_operations = frozenset(model.operation_names)
        self.genders: tuple[str, ...] = tuple(model.shape_for("GenderType").enum)
        self._attributes = frozenset(model.shape_for("Attribute").enum)
        self._max_image = int(model.shape_for("ImageBlob").metadata["max"])
        self._answers = self._index()
        # Simulated predictions stay labelled as such in every response, and so in every recording.
        self.simulated = bool(predictions.describe().get("simulated"))

    # -- start-up ----------------------------------------------------------------------------------

    def _index(self) -> dict[str, list[Face] | _Failure]:
        """Each photo's answer, by image digest, worked out once so a call is a dict lookup."""
        answers: dict[str, list[Face] | _Failure] = {}
        owners: dict[str, Photo] = {}
        for photo in self.dataset:
            answer = self._answer(photo)
            first = owners.setdefault(photo.digest, photo)
            if first is not photo:
                if answers[photo.digest] != answer:
                    raise PredictionsError(
                        f"{self.predictions.path}: photos {first.id!r} and {photo.id!r} have identical image bytes "
                        "but different predictions; the real API answers identical images identically, so the "
                        "emulator cannot serve both (make the predictions agree, or drop one photo)"
                    )
                continue
            answers[photo.digest] = answer
        return answers

    def _answer(self, photo: Photo) -> list[Face] | _Failure:
        faces = self.predictions.faces(photo.id)
        if faces is None:
            # An error line, or no line at all: the observation carries the reason.
            return self._failure(self.predictions.analyze(photo).reason)
        for face in faces:
            if face.label is not None and face.label not in self.genders:
                line = _line_of(self.predictions.path, photo.id)
                where = f"line {line}" if line is not None else f"the line of photo {photo.id!r}"
                raise PredictionsError(
                    f"{self.predictions.path} {where}: gender label {face.label!r} (photo {photo.id!r}) is not one "
                    f"of Rekognition's GenderType values {list(self.genders)}; the real API cannot return it, so "
                    "the emulator refuses to serve it (audit this file directly with --analyzer predictions:FILE)"
                )
        return faces

    def _failure(self, reason: str) -> _Failure:
        """The error a predictions ``error`` line names, or an InvalidParameterException with its text."""
        allowed = self._errors["DetectFaces"]
        match = re.match(r"\s*([A-Za-z]+)\b[\s:]*(.*)", reason, re.DOTALL)
        if match and match.group(1) in allowed:
            code = match.group(1)
            return _Failure(code, match.group(2).strip() or f"{code} (emulated, as the predictions file says)")
        return _Failure("InvalidParameterException", reason)

    # -- requests ----------------------------------------------------------------------------------

    @property
    def stats(self) -> EmulatorStats:
        """A snapshot of the call counters."""
        with self._lock:
            return self._stats

    def _count(self, outcome: str) -> None:
        with self._lock:
            self._count_locked(outcome)

    def _count_locked(self, outcome: str) -> None:
        """Count one call with its ``outcome`` (an :class:`EmulatorStats` field); the lock is held."""
        stats = self._stats
        self._stats = replace(stats, calls=stats.calls + 1, **{outcome: getattr(stats, outcome) + 1})

    def handle(self, target: str, body: bytes) -> Reply:
        """Answer one request: its ``X-Amz-Target`` header and its raw body.

        Returns
        -------
        tuple
            The HTTP status and the JSON body. Errors are ``{"__type": CODE, "Message": TEXT}``
            with status 400, or 500 for ``InternalServerError``.
        """
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        run = self._operations.get(operation)
        if run is None:
            return self._fail(self._unknown(target, operation))
        fault = self._draw_fault()
        if fault is not None:
            return fault
        try:
            try:
                request = json.loads(body or b"{}")
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
                raise _ServiceError("SerializationException", f"the request body is not JSON ({exc})") from None
            if not isinstance(request, dict):
                raise _ServiceError("SerializationException", "the request body must be a JSON object")
            response = run(request)
        except _ServiceError as exc:
            return self._fail(exc.failure)
        try:
            validate_response(operation, response)
        except ValueError as exc:
            return self._fail(_Failure("InternalServerError", f"conformance emulator bug, response refused: {exc}"))
        self._count("served")
        return 200, response

    def _fail(self, failure: _Failure) -> Reply:
        self._count("failed")
        return failure.reply()

    def _unknown(self, target: str, operation: str) -> _Failure:
        served = ", ".join(sorted(self._operations))
        if operation in self._known_operations:
            message = f"the conformance emulator does not serve {operation} yet (it serves {served})"
        else:
            message = (
                f"X-Amz-Target {target!r} names no Rekognition operation; expected {TARGET_PREFIX}<Operation>, "
                f"the emulator serves {served}"
            )
        return _Failure("UnknownOperationException", message)

    def _draw_fault(self) -> Reply | None:
        faults = self.faults
        if not faults.active:
            return None
        with self._lock:
            draw = self._rng.random()
            if draw >= faults.throttle_rate + faults.error_rate:
                return None
            how = f"emulated fault (throttle-rate {faults.throttle_rate}, error-rate {faults.error_rate}, seed {faults.seed})"
            if draw >= faults.throttle_rate:
                self._count_locked("errored")
                return _Failure("InternalServerError", f"Internal server error: {how}").reply()
            # Alternate the two throttling codes so clients are tested on both.
            if self._stats.throttled % 2 == 0:
                failure = _Failure("ThrottlingException", f"Rate exceeded: {how}")
            else:
                failure = _Failure("ProvisionedThroughputExceededException", f"Provisioned rate exceeded: {how}")
            self._count_locked("throttled")
            return failure.reply()

    # -- operations --------------------------------------------------------------------------------

    def _image_bytes(self, request: dict[str, Any]) -> bytes:
        image = request.get("Image")
        if not isinstance(image, dict):
            raise _ServiceError("InvalidParameterException", 'Image is required: {"Bytes": "<base64 image>"}')
        if "S3Object" in image:
            raise _ServiceError(
                "InvalidS3ObjectException",
                "the conformance emulator cannot read S3 objects; send the image as Image.Bytes",
            )
        encoded = image.get("Bytes")
        if not isinstance(encoded, str) or not encoded:
            raise _ServiceError("InvalidParameterException", "Image.Bytes is required (the image, base64-encoded)")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _ServiceError("InvalidParameterException", f"Image.Bytes is not valid base64 ({exc})") from None
        if len(data) > self._max_image:
            raise _ServiceError(
                "ImageTooLargeException", f"Image size {len(data)} bytes exceeds the limit of {self._max_image} bytes"
            )
        return data

    def _requested(self, request: dict[str, Any]) -> frozenset[str]:
        attributes = request.get("Attributes", ["DEFAULT"])
        if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
            raise _ServiceError("InvalidParameterException", "Attributes must be a list of attribute names")
        unknown = sorted(set(attributes) - self._attributes)
        if unknown:
            raise _ServiceError(
                "InvalidParameterException",
                f"unknown attribute {unknown[0]!r} in Attributes; valid: {sorted(self._attributes)}",
            )
        return frozenset(attributes)

    def _detect_faces(self, request: dict[str, Any]) -> dict[str, Any]:
        data = self._image_bytes(request)
        requested = self._requested(request)
        answer = self._answers.get(hashlib.sha256(data).hexdigest())
        if answer is None:
            return {"FaceDetails": []}
        if isinstance(answer, _Failure):
            raise _ServiceError(answer.code, answer.message)
        # With DEFAULT only the real API leaves gender out; GENDER or ALL ask for it.
        gender = not requested.isdisjoint({"GENDER", "ALL"})
        return {"FaceDetails": [_face_detail(face, i, len(answer), gender=gender) for i, face in enumerate(answer)]}


def _face_detail(face: Face, index: int, count: int, *, gender: bool) -> dict[str, Any]:
    left, top, width, height = face.box if face.box is not None else _centred_box(index, count)
    detail: dict[str, Any] = {
        "BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top},
        "Confidence": DETECTION_CONFIDENCE,
    }
    # An abstention (no label) has no Gender at all: the API's GenderType has no "none" value.
    if gender and face.label is not None:
        detail["Gender"] = {"Value": face.label}
        if face.confidence is not None:
            detail["Gender"]["Confidence"] = face.confidence
    return detail


def _line_of(path: Path, photo_id: str) -> int | None:
    """The line of ``photo_id`` in a predictions file, for an error message (the adapter keeps none)."""
    from ..dataset import normalise_photo_id

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        photo = record.get("photo") if isinstance(record, dict) else None
        if isinstance(photo, str) and normalise_photo_id(photo) == photo_id:
            return number
    return None


# -- HTTP ----------------------------------------------------------------------------------------


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
        self, httpd: ThreadingHTTPServer, thread: threading.Thread, host: str, emulator: RekognitionEmulator
    ) -> None:
        self.emulator = emulator
        self._httpd = httpd
        self._thread = thread
        self.host = host
        self.port: int = httpd.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}"
        self._closed = False

    def close(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

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

    bind, family = _loopback(host)
    request_ids = itertools.count(1)

    class Server(ThreadingHTTPServer):
        address_family = family
        daemon_threads = True

    class Handler(BaseHTTPRequestHandler):
        # Without it each small response waits on delayed ACKs: about 46 ms a call instead of 2.
        disable_nagle_algorithm = True
        protocol_version = "HTTP/1.1"
        server_version = "conformance-emulator"
        sys_version = ""

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
                status, payload = _Failure(
                    "UnknownOperationException", f"Rekognition serves POST /, not {self.path}"
                ).reply()
            else:
                try:
                    status, payload = emulator.handle(self.headers.get("X-Amz-Target", ""), body)
                except Exception as exc:
                    # A bug: answer it (the client sees the message) and show the traceback.
                    traceback.print_exc(file=sys.stderr)
                    status, payload = _Failure(
                        "InternalServerError", f"conformance emulator bug: {type(exc).__name__}: {exc}"
                    ).reply()
            self._reply(status, payload)

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
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            if log:
                super().log_message(format, *args)

    httpd = Server((bind, port), Handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="conformance-emulator", daemon=True
    )
    thread.start()
    return EmulatorServer(httpd, thread, bind, emulator)


# -- command line --------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(_USAGE_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(prog: str = "conformance emulate") -> argparse.ArgumentParser:
    """The parser of ``conformance emulate SERVICE ...`` (the words after ``emulate``)."""
    parser = _Parser(
        prog=prog,
        description="Serve a predictions file through a local emulator of a vendor's API, on loopback only. "
        "For recording and testing: the answers are the file's, never the vendor's.",
    )
    services = parser.add_subparsers(dest="service", metavar="SERVICE", required=True, parser_class=_Parser)
    rekognition = services.add_parser(
        "rekognition",
        help="Amazon Rekognition's JSON protocol (DetectFaces), EMULATED",
        description="Emulate Amazon Rekognition (DetectFaces) on loopback, answering from a predictions file; "
        "images are matched to manifest photos by SHA-256 of their bytes. Serves until SIGINT or SIGTERM.",
    )
    rekognition.add_argument(
        "--dataset", required=True, metavar="MANIFEST", help="manifest (CSV or JSONL) of the photos"
    )
    rekognition.add_argument("--predictions", required=True, metavar="FILE", help="predictions JSONL to answer from")
    rekognition.add_argument(
        "--port", type=int, default=0, metavar="PORT", help="port to listen on (0, the default: any free port, printed)"
    )
    rekognition.add_argument(
        "--host", default="127.0.0.1", metavar="HOST", help="loopback address: 127.0.0.0/8, ::1 or localhost"
    )
    rekognition.add_argument(
        "--throttle-rate", type=float, default=0.0, metavar="R", help="share of calls throttled (0-1)"
    )
    rekognition.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="share of calls failing with InternalServerError (0-1)",
    )
    rekognition.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the fault draws (default 0)")
    rekognition.add_argument("--log-requests", action="store_true", help="log each request to stderr")
    return parser


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM, then restore the previous handlers."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.signal(signum, on_signal) for signum in watched}
    try:
        # A timed wait stays responsive to signals on every platform.
        while not stop.wait(0.5):
            pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def main(argv: Sequence[str] | None = None) -> int:
    """``conformance emulate rekognition --dataset MANIFEST --predictions FILE [--port PORT] ...``.

    Prints one line with the URL to point boto3 at, serves until SIGINT or SIGTERM and returns 0;
    bad input gets a one-line error on stderr and 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not a port number (0-65535)")
    try:
        from ..adapters.predictions import PredictionsAnalyzer
        from ..dataset import load_dataset

        faults = Faults(throttle_rate=args.throttle_rate, error_rate=args.error_rate, seed=args.seed)
        from ..policy import load_policy

        # The project's identity map applies here as in a run, so the same manifests load.
        dataset = load_dataset(args.dataset, identity_map=load_policy(project_root=Path.cwd()).identity)
        emulator = RekognitionEmulator(
            dataset, PredictionsAnalyzer(Path(args.predictions), dataset=dataset), faults=faults
        )
        server = serve(emulator, args.host, args.port, log=args.log_requests)
    except ConformanceError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return _USAGE_ERROR
    except OSError as exc:
        print(
            f"{parser.prog}: error: cannot listen on {args.host} port {args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return _USAGE_ERROR
    with server:
        print(
            f"conformance emulator: Amazon Rekognition (EMULATED, not the vendor) serving {len(dataset)} photos "
            f"at {server.url}; set AWS_ENDPOINT_URL_REKOGNITION={server.url}",
            flush=True,
        )
        _wait_for_signal()
    stats = emulator.stats
    print(
        f"conformance emulator: stopped after {stats.calls} calls ({stats.served} served, {stats.throttled} throttled, "
        f"{stats.errored} errored, {stats.failed} failed)",
        flush=True,
    )
    return 0
