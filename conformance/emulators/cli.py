"""``conformance emulate``: the one parser of the emulators' command line, and its main.

``conformance emulate SERVICE ...`` hands every word after ``emulate`` here (``conformance --help``
lists the command; this parser owns its options and its ``--help``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from .._text import printable
from ..errors import ConformanceError
from .rekognition import MIN_IMAGE_SIDE, EmulatorStats, Faults, RekognitionEmulator
from .rekognition_server import serve

if TYPE_CHECKING:
    from types import FrameType

__all__ = ["build_parser", "main"]

_USAGE_ERROR = 2  # argparse's own exit status for a usage error


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
        help="Amazon Rekognition's JSON protocol (DetectFaces and face search), EMULATED",
        description="Emulate Amazon Rekognition (DetectFaces, CreateCollection, IndexFaces, SearchFacesByImage, "
        "CompareFaces, DeleteCollection) on loopback, answering from a predictions file; images are matched to "
        "manifest photos by SHA-256 of their bytes. Serves until SIGINT or SIGTERM.",
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
    rekognition.add_argument(
        "--reset-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="share of calls whose connection is reset (RST) with no answer (0-1)",
    )
    rekognition.add_argument(
        "--slow-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="share of calls answered only after --slow-seconds (0-1)",
    )
    rekognition.add_argument(
        "--slow-seconds",
        type=float,
        default=Faults.slow_seconds,
        metavar="S",
        help=f"how long a slow call is held before its answer (default {Faults.slow_seconds:g}, past botocore's "
        "60 s read timeout)",
    )
    rekognition.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the fault draws (default 0)")
    rekognition.add_argument(
        "--max-rate",
        type=float,
        default=None,
        metavar="N",
        help="calls per second served, as an account's TPS quota: a call beyond it gets ThrottlingException "
        "(default: no limit)",
    )
    rekognition.add_argument(
        "--burst",
        type=int,
        default=None,
        metavar="N",
        help="calls that may come at once within --max-rate (default: --max-rate rounded, at least 1)",
    )
    rekognition.add_argument(
        "--page-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="share of calls answered by a proxy's HTML page instead of Rekognition's answer (0-1)",
    )
    rekognition.add_argument(
        "--page-status",
        type=int,
        default=502,
        metavar="N",
        help="the HTTP status of those pages: 502 (default), 503, 504, 429 (a bare 429) or 200 (HTML where an "
        "answer was due)",
    )
    rekognition.add_argument(
        "--unknown-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="share of calls refused with UnknownOperationException, as a stand-in lacking the operation (0-1)",
    )
    rekognition.add_argument(
        "--min-image-side",
        type=int,
        default=MIN_IMAGE_SIDE,
        metavar="PX",
        help=f"refuse images under PX pixels in height or width with InvalidParameterException, as the service "
        f"does (default {MIN_IMAGE_SIDE}, its documented minimum; 0 serves any size, as the demo's recordings of "
        "8x8 placeholders were made)",
    )
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

        faults = Faults(
            throttle_rate=args.throttle_rate,
            error_rate=args.error_rate,
            seed=args.seed,
            reset_rate=args.reset_rate,
            slow_rate=args.slow_rate,
            slow_seconds=args.slow_seconds,
            max_rate=args.max_rate,
            burst=args.burst,
            page_rate=args.page_rate,
            page_status=args.page_status,
            unknown_rate=args.unknown_rate,
        )
        from ..policy import load_policy

        # The project's identity map applies here as in a run, so the same manifests load.
        dataset = load_dataset(args.dataset, identity_map=load_policy(project_root=Path.cwd()).identity)
        emulator = RekognitionEmulator(
            dataset,
            PredictionsAnalyzer(Path(args.predictions), dataset=dataset),
            faults=faults,
            min_image_side=args.min_image_side,
        )
        server = serve(emulator, args.host, args.port, log=args.log_requests)
    except ConformanceError as exc:
        print(printable(f"{parser.prog}: error: {exc}"), file=sys.stderr)
        return _USAGE_ERROR
    except OSError as exc:
        print(
            printable(f"{parser.prog}: error: cannot listen on {args.host} port {args.port}: {exc.strerror or exc}"),
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
    print(f"conformance emulator: stopped after {_summary(emulator.stats, faults)}", flush=True)
    return 0


def _summary(stats: EmulatorStats, faults: Faults) -> str:
    """The calls of a run, by outcome; the counts of faults not asked for are left out."""
    outcomes = [f"{stats.served} served", f"{stats.throttled} throttled", f"{stats.errored} errored"]
    outcomes.append(f"{stats.failed} failed")
    if faults.reset_rate > 0.0:
        outcomes.append(f"{stats.resets} reset")
    if faults.page_rate > 0.0:
        outcomes.append(f"{stats.paged} proxy pages")
    parts: list[str] = []
    if faults.max_rate is not None:
        parts.append(f"{stats.rate_throttled} throttled by max-rate")
    if faults.slow_rate > 0.0:
        parts.append(f"{stats.slowed} slowed")
    return f"{stats.calls} calls ({', '.join(outcomes)})" + "".join(f"; {part}" for part in parts)
