"""The ``rekognition`` adapter: Amazon Rekognition DetectFaces through boto3, replayed or recorded.

``--analyzer rekognition``. Region, profile and credentials come from boto3's usual configuration
(``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_PROFILE``, shared config and credentials files);
``AWS_ENDPOINT_URL_REKOGNITION`` points it at another endpoint, such as the kit's emulator.

Traffic goes through vcrpy into a recording (see :mod:`conformance.recording`) at
``<cassette dir>/<dataset name>/rekognition.jsonl``. With record mode ``none`` (the default) every
answer comes from the recording and the network is blocked (pytest-recording's socket guard: remote
connections fail); a photo with no recording stops the run with the command that records it. Modes that record call the endpoint: a non-loopback one
only with ``allow_live`` (``--conformance-allow-live``), after saying how many calls it will make.

Images: JPEG and PNG are sent as they are; other formats Pillow reads are re-encoded as PNG
(lossless, and the same bytes on every run, so recordings replay); an image over the API's 5 MB
limit for image bytes is an ``error`` outcome naming its size. Rekognition's vocabulary is read from
botocore's service model (``GenderType``), not typed in. Throttling is retried with botocore's
adaptive retry mode; invalid images and other per-photo refusals become ``error`` outcomes with the
reason; credential and access errors stop the run with how to set credentials.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import os
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import AdapterError, ConformanceError
from ..identity import DEFAULT_LABEL_MAP, normalise_key
from ..observation import Face, Observation
from ..recording.scrub import redact
from .base import AdapterSettings, Vocabulary, choose_face

if TYPE_CHECKING:
    from ..dataset import Dataset, Photo
    from ..execution import TokenBucket
    from ..matching import SearchOutcome
    from ..recording.store import RecordingStore

__all__ = ["ADAPTER_VERSION", "MAX_IMAGE_BYTES", "RekognitionAnalyzer", "create"]

# Bump when the requests the adapter sends change shape: recordings are keyed by request content.
ADAPTER_VERSION = "1"
MAX_IMAGE_BYTES = 5 * 1024 * 1024
PRICE_PER_IMAGE_USD = 0.001  # AWS's published first-tier DetectFaces price; check current pricing
# Calls per second to a live (non-loopback) endpoint unless --rate says otherwise: Rekognition's lowest
# default quota (5 transactions per second in most regions; 50 in us-east-1, us-west-2 and eu-west-1 for
# DetectFaces). Your account's quotas: AWS Service Quotas console, service "Amazon Rekognition".
DEFAULT_RATE = 5.0
_ATTRIBUTES = ["DEFAULT", "GENDER"]
_SENT_AS_IS = ("JPEG", "PNG")
_MAX_MATCHES = 4096  # the API's largest MaxFaces: every match at or above the search threshold comes back
_THROTTLED = {"ThrottlingException", "ProvisionedThroughputExceededException", "LimitExceededException"}
_CREDENTIALS = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
}
_HOW_TO_SET_CREDENTIALS = (
    "set credentials the way boto3 reads them (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or "
    "~/.aws/credentials) for an identity allowed rekognition:DetectFaces; or replay recordings with "
    "--record-mode none, which needs none"
)
_EMULATOR_HEADER = "x-conformance-emulator"
_MAX_REASON = 500  # characters of a vendor's message kept as a photo's reason
_SIMULATED_HEADER = "x-conformance-simulated"


def create(argument: str | None, *, dataset: Dataset, settings: AdapterSettings | None = None) -> RekognitionAnalyzer:
    """Entry point: ``--analyzer rekognition``."""
    if argument:
        raise AdapterError(
            f"the rekognition adapter takes no argument (got {argument!r}); set the region and profile the "
            "way boto3 reads them (AWS_REGION, AWS_PROFILE) and the endpoint with AWS_ENDPOINT_URL_REKOGNITION"
        )
    return RekognitionAnalyzer(dataset=dataset, settings=settings or AdapterSettings())


def gender_vocabulary() -> Vocabulary:
    """Rekognition's gender labels, as botocore's service model declares them."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("rekognition")
    enum = list(model.shape_for("GenderType").enum)
    labels: dict[str, str] = {}
    for label in enum:
        meaning = DEFAULT_LABEL_MAP.get(normalise_key(label))
        if meaning is None:
            raise AdapterError(f"botocore's Rekognition GenderType has {label!r}, which the kit cannot map yet")
        labels[label] = meaning
    import botocore

    return Vocabulary(labels=labels, source=f"botocore {botocore.__version__} service model, shape GenderType")


@dataclass(frozen=True)
class _Request:
    """A request the run will send: for which photo, which operation, the image digest, the recording key."""

    photo: Photo | None
    operation: str
    digest: str
    key: str


def _key(operation: str, params: Mapping[str, Any]) -> str:
    """The recording key of a request from its parameters, images given as ``{"Sha256": digest}``.

    The same canonical JSON (sorted keys, compact) that :func:`~conformance.recording.scrub.canonical_body`
    makes of the body botocore sends, so a key computed here finds the recorded interaction.
    """
    import json

    from ..recording.scrub import request_key

    return request_key(operation, json.dumps(params, sort_keys=True, separators=(",", ":")))


class _Refused(Exception):
    """The service refused one photo (not the run): its code and message become the photo's outcome."""

    def __init__(self, code: str, message: str) -> None:
        if not code and not message:
            message = "the service refused it without an error code or message"
        if len(message) > _MAX_REASON:  # a vendor's message becomes a photo's reason in every report
            message = f"{message[:_MAX_REASON]}... ({len(message)} characters)"
        super().__init__(f"{code}: {message}".strip(": ") if code else message)
        self.code = code


def _error_type(response: Mapping[str, Any]) -> str:
    """The error code of a recorded-to-be response, read as botocore reads it: the body's ``__type``
    (or ``code``) first, then the ``x-amzn-ErrorType`` header; ``prefix#Code:suffix`` gives ``Code``."""
    import json

    code = ""
    body = response.get("body", {})
    raw = body.get("string", b"") if isinstance(body, Mapping) else body
    try:
        parsed = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        parsed = None
    if isinstance(parsed, dict):
        code = str(parsed.get("__type") or parsed.get("code") or "")
    if not code:
        for name, value in response.get("headers", {}).items():
            if str(name).lower() == "x-amzn-errortype":
                text = value[0] if isinstance(value, list) else value
                code = str(text.decode() if isinstance(text, bytes) else text)
    return code.split(":")[0].rpartition("#")[2]


def _worth_keeping(operation: str, response: Mapping[str, Any]) -> bool:
    """Whether a live response is the service's answer about the image, fit to replay forever.

    Throttling, server faults and credential refusals say something about that moment, not about
    the photo: the SDK retries them, and a later run must ask again rather than replay them.
    """
    status = int(response.get("status", {}).get("code", 200))
    return status < 500 and _error_type(response) not in _THROTTLED | _CREDENTIALS


_LOOPBACK_HOSTS = [r"127\.\d+\.\d+\.\d+$", r"localhost$", r"::1$"]


def _network_blocked(also: Sequence[str] = ()) -> Any:
    """pytest-recording's socket guard for a replay: remote connections fail, loopback is left alone.

    ``also``: other hosts the run itself talks to (a Dask scheduler), never the vendor's.
    Not nested inside a guard already in force (``pytest --block-network``), whose end it would bring forward.
    """
    import re
    import socket
    from contextlib import nullcontext

    from pytest_recording import network

    if getattr(socket.socket.connect, "__name__", "") == "network_guard":
        return nullcontext()
    return network.blocking_context(allowed_hosts=[*_LOOPBACK_HOSTS, *(re.escape(h) + "$" for h in also)])


def _number(value: Any, what: str) -> float | None:
    """A finite number from a response, None when absent; ValueError for anything else."""
    import math

    if value is None:
        return None
    try:
        number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    except OverflowError:  # an integer beyond any float
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"a {what} of {str(value)[:40]!r}, not a number")
    return number


_SDK_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


@contextmanager
def _redacted_logs(secrets: Sequence[str]) -> Iterator[None]:
    """Redact credentials and account ids in what the SDK logs during the run (at DEBUG, botocore logs
    signed requests, security token included, and response bodies naming the account)."""
    import logging

    class Redact(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            text = record.getMessage()
            cleaned = redact(text, secrets)
            if cleaned != text:
                record.msg, record.args = cleaned, ()
            return True

    redacting = Redact()
    names = [name for name in list(logging.root.manager.loggerDict) if name.split(".")[0] in _SDK_LOGGERS]
    loggers = [logging.getLogger(name) for name in {*names, *_SDK_LOGGERS}]
    for logger in loggers:
        logger.addFilter(redacting)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(redacting)


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _image_bytes(photo: Photo) -> tuple[bytes | None, str]:
    """The bytes to send, or None and the reason the photo cannot be sent."""
    data = photo.path.read_bytes()
    if data[:3] == b"\xff\xd8\xff" or data[:8] == b"\x89PNG\r\n\x1a\n":
        encoded = data
    else:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")  # lossless and deterministic: replays match
            encoded = buffer.getvalue()
    if len(encoded) > MAX_IMAGE_BYTES:
        size = len(encoded) / 1024 / 1024
        return None, f"image is {size:.1f} MB, over Rekognition's 5 MB limit for image bytes; resize it"
    return encoded, ""


class RekognitionAnalyzer:
    """DetectFaces through boto3, replaying from and recording into the run's recording."""

    name = "Amazon Rekognition DetectFaces"
    # Searches ask for every match down to this similarity, so thresholds from it up can be judged and swept.
    search_floor = 50.0
    # Transformed variants are sent like any photo; in replay they must be in the recording (see can_see).
    sees_new_images = True

    def __init__(self, *, dataset: Dataset, settings: AdapterSettings) -> None:
        self.dataset = dataset
        self.settings = settings
        self.vocabulary = gender_vocabulary()
        cassette_dir = Path(settings.cassette_dir or "cassettes")
        self.recording = cassette_dir / dataset.name / "rekognition.jsonl"
        self.emulated = False
        self.simulated = False
        self._client: Any = None
        self._store: RecordingStore | None = None
        self._unrecorded = 0
        self._effective = "none"
        self.extra_calls = 0  # transformed variants the runner will send, set before session()
        self._collection = False
        self._gallery: dict[str, str] | None = None  # gallery image digest (ExternalImageId) -> photo id
        self._unindexed: dict[str, str] = {}
        self._limiter: TokenBucket | None = None
        self._cassette: Any = None
        self._lock = threading.Lock()  # threads share the counts below (--executor threads:N)
        self.allowed_hosts: tuple[str, ...] = ()  # hosts the run itself talks to (a Dask scheduler)
        self.rate_share = 1  # processes sharing the rate limit: the runner sets it for worker executors
        self._absorbed = False
        self._connected = False  # whether any call reached the endpoint: if none can, the run stops

    # -- the run ----------------------------------------------------------------------------------------

    @contextmanager
    def session(self, *, precheck: bool = True) -> Iterator[None]:
        """Open the recording, check what is missing, and patch HTTP for the whole run.

        ``precheck=False`` skips checking, before any call, that a replay holds every request of a whole
        run (for users' own calls, e.g. ``compare``, in a test that replays only those).
        """
        from ..recording.cassette import effective_mode
        from ..recording.store import RecordingStore

        mode = self.settings.record_mode
        with ExitStack() as stack:
            store = stack.enter_context(
                RecordingStore.open(self.recording, adapter="rekognition", fresh=mode in ("all", "rewrite"))
            )
            self._store = store
            effective = self._effective = effective_mode(mode, store)
            versions = {str(s.get("adapter_version")) for s in store.sessions}
            if effective == "none" and versions and ADAPTER_VERSION not in versions:
                from ..recording.store import RecordingError

                # Requests changed shape between versions: the old keys would not find this version's requests.
                raise RecordingError(
                    f"{self.recording} was recorded by rekognition adapter version {', '.join(sorted(versions))}; "
                    f"this kit's is {ADAPTER_VERSION}, whose requests differ: re-record it with --record-mode all"
                )
            planned = [] if effective == "all" or not precheck else self._planned()
            missing = [r for r in planned if r.key not in store]
            missing_calls = len({r.key for r in missing})  # the same image under two names is one call
            if effective == "none" and missing:
                raise self._unrecorded_error(missing, store)
            calls = (len(self._planned()) if effective == "all" else missing_calls) + self.extra_calls
            self._open(stack, store, effective, live_calls=calls)
            # A collection made for a face-matching run is deleted after it, also when the run fails.
            stack.callback(self._drop_collection)
            yield
            if effective != "none" and self._unrecorded == 0:
                store.mark_complete(len(self.dataset))

    def _open(
        self, stack: ExitStack, store: RecordingStore, effective: str, *, live_calls: int, share: int = 1
    ) -> None:
        """Make the client, say what a live run will cost, and patch HTTP to replay from and record into ``store``.

        ``share``: how many processes share the rate limit (each keeps to its share).
        """
        import boto3
        import botocore

        from ..execution import TokenBucket
        from ..recording.cassette import replaying

        replay_only = effective == "none"
        if replay_only:
            stack.enter_context(_network_blocked(self.allowed_hosts))
        self._client = self._make_client(replay_only, boto3)
        endpoint = str(self._client.meta.endpoint_url)
        loopback = is_loopback(endpoint)
        if not replay_only and live_calls and not loopback:
            self._check_live(endpoint, live_calls)
        rate = self.settings.rate or (None if loopback else DEFAULT_RATE)
        self._limiter = None if replay_only or rate is None else TokenBucket(rate / share, burst=1)
        session = {
            "adapter_version": ADAPTER_VERSION,
            "botocore": botocore.__version__,
            "boto3": boto3.__version__,
            "python": sys.version.split()[0],
            "endpoint": endpoint,
            "region": self._client.meta.region_name,
            "loopback": loopback,
        }
        secrets = self._secrets()
        stack.enter_context(_redacted_logs(secrets))
        self._cassette = stack.enter_context(
            replaying(
                self.recording, store, effective, session=session, note=_NOTE, keep=_worth_keeping, secrets=secrets
            )
        )

    # -- worker processes (--executor processes:N, dask): replay from and record into memory -------------

    def worker_payload(self, photos: Sequence[Photo]) -> dict[str, Any]:
        """What a worker needs to analyse ``photos``: the run's record mode and their recorded interactions."""
        store = self._store
        if store is None:
            raise AdapterError("the rekognition adapter hands work to workers inside session()")
        keys = [] if self._effective == "all" else [k for p in photos if (k := self._key_of(p))]
        return {
            "effective": self._effective,
            "lines": store.lines_for(keys),
            "share": self.rate_share,
            "allowed_hosts": self.allowed_hosts,  # a Dask worker must still reach its scheduler
        }

    @contextmanager
    def worker_session(self, payload: Mapping[str, Any]) -> Iterator[Any]:
        """In a worker: replay the shipped interactions, record new ones into memory; yields the hand-back."""
        from ..recording.store import RecordingStore

        store = RecordingStore.in_memory(self.recording, adapter="rekognition", lines=payload["lines"])
        self._store, self._effective, self._unrecorded = store, str(payload["effective"]), 0
        self.allowed_hosts = tuple(payload.get("allowed_hosts", ()))
        with ExitStack() as stack:
            self._open(stack, store, self._effective, live_calls=0, share=int(payload.get("share", 1)))

            def handback() -> dict[str, Any]:
                return {
                    "lines": store.recorded_lines(),
                    "session": store.sessions[-1] if store.sessions else None,
                    "unrecorded": self._unrecorded,
                    "emulated": self.emulated,
                    "simulated": self.simulated,
                }

            yield handback

    def absorb(self, handback: Mapping[str, Any] | None) -> None:
        """In the run's process: append what a worker recorded (never a request twice), and its flags."""
        store = self._store
        if handback is None or store is None:
            return
        with self._lock:
            self._unrecorded += int(handback["unrecorded"])
            self.emulated = self.emulated or bool(handback["emulated"])
            self.simulated = self.simulated or bool(handback["simulated"])
            if handback["lines"] and not self._absorbed:
                store.begin_session(handback["session"] or {}, _NOTE)
                self._absorbed = True
            for line in handback["lines"]:
                store.append_line(line)

    def _make_client(self, replay_only: bool, boto3: Any) -> Any:
        from botocore.config import Config

        # Adaptive retry (client-side rate limiting on throttles) unless AWS_RETRY_MODE names another of
        # botocore's modes; attempts from boto3's usual AWS_MAX_ATTEMPTS.
        timeout = self.settings.timeout
        mode = os.environ.get("AWS_RETRY_MODE") or "adaptive"
        config = Config(retries={"mode": mode}, connect_timeout=min(10.0, timeout), read_timeout=timeout)
        session = boto3.session.Session()
        region = session.region_name or "us-east-1"
        if replay_only:
            # Replay needs no identity: sign with placeholders so real credentials are never read.
            return session.client(
                "rekognition",
                region_name=region,
                aws_access_key_id="REPLAY",
                aws_secret_access_key="REPLAY",
                config=config,
            )
        client = session.client("rekognition", region_name=region, config=config)
        if is_loopback(str(client.meta.endpoint_url)) and session.get_credentials() is None:
            return session.client(
                "rekognition",
                region_name=region,
                aws_access_key_id="EMULATOR",
                aws_secret_access_key="EMULATOR",
                config=config,
            )
        return client

    def _check_live(self, endpoint: str, calls: int) -> None:
        estimate = calls * PRICE_PER_IMAGE_USD
        message = (
            f"recording would make up to {calls} DetectFaces call(s) to {endpoint} (photos not yet recorded, "
            f"and {self.extra_calls} transformed variants for transformation_invariance), about ${estimate:,.2f} at "
            f"${PRICE_PER_IMAGE_USD} per image (AWS's first-tier price; check current pricing). AWS may store "
            "and use submitted images to improve its services unless your organisation has opted out "
            "(AWS Organizations AI services opt-out policy)."
        )
        if not self.settings.allow_live:
            raise ConformanceError(f"{message} Pass --conformance-allow-live (conformance run --allow-live) to proceed")
        print(f"conformance: live run: {message}", file=sys.stderr)

    def can_see(self, photo: Photo) -> bool:
        """Whether analysing ``photo`` now can work: always while recording; in replay, if it was recorded."""
        store = self._store
        if store is None or self._effective != "none":
            return True
        return self._key_of(photo) in store

    def _digest(self, photo: Photo) -> str:
        """The SHA-256 of the bytes the adapter sends for ``photo`` ("" if it is never sent)."""
        if photo.format in _SENT_AS_IS:
            if photo.path.stat().st_size > MAX_IMAGE_BYTES:
                return ""  # never sent: an error outcome, not a missing recording
            return photo.digest  # the loader hashed these bytes already: no second read
        data, _ = _image_bytes(photo)
        return "" if data is None else hashlib.sha256(data).hexdigest()

    def _key_of(self, photo: Photo) -> str:
        digest = self._digest(photo)
        return _key("DetectFaces", {"Attributes": _ATTRIBUTES, "Image": {"Sha256": digest}}) if digest else ""

    def _planned(self) -> list[_Request]:
        """Every request the run will send, with its recording key (images by digest)."""
        if not self.dataset.is_matching:
            return [
                _Request(p, "DetectFaces", self._digest(p), key)
                for p in self.dataset.photos
                if (key := self._key_of(p))
            ]
        collection = {"CollectionId": self.collection_id}
        out = [_Request(None, "CreateCollection", "", _key("CreateCollection", collection))]
        for photo in self.dataset.role("gallery"):
            if digest := self._digest(photo):
                out.append(_Request(photo, "IndexFaces", digest, _key("IndexFaces", self._index_params(digest))))
        for photo in self.dataset.role("probe"):
            if digest := self._digest(photo):
                out.append(
                    _Request(
                        photo, "SearchFacesByImage", digest, _key("SearchFacesByImage", self._search_params(digest))
                    )
                )
        out.append(_Request(None, "DeleteCollection", "", _key("DeleteCollection", collection)))
        return out

    def _unrecorded_error(self, missing: list[_Request], store: RecordingStore) -> ConformanceError:
        from ..recording.store import RecordingError

        first = missing[0]
        what = f"photo {first.photo.id!r} (sha256:{first.digest})" if first.photo is not None else "the collection"
        where = f"in {self.recording}" if self.recording.exists() else f"at {self.recording} (no recording yet)"
        return RecordingError(
            f"no recording of {first.operation} for {what} {where}"
            f"{f', nor of {len(missing) - 1} more request(s)' if len(missing) > 1 else ''}; record it with "
            f"conformance run --dataset {self.dataset.manifest} --analyzer rekognition "
            f"--cassette-dir {self.recording.parent.parent} --record-mode "
            f"{'new_episodes' if len(store) else 'once'} (with AWS_ENDPOINT_URL_REKOGNITION set for an emulator)"
        )

    # -- the Analyzer protocol ---------------------------------------------------------------------------

    def _call(self, method: str, **params: Any) -> Any:
        """One API call: credential and connection failures stop the run; refusals of a photo raise _Refused."""
        from botocore.exceptions import (
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            HTTPClientError,
            NoCredentialsError,
            ReadTimeoutError,
        )
        from botocore.exceptions import ConnectionError as BotoConnectionError

        if self._client is None:
            raise AdapterError("the rekognition adapter calls inside session(); use conformance.analyze()")
        limiter = self._limiter
        if limiter is not None and not self._replayable(method, params):
            limiter.acquire()
        try:
            response = getattr(self._client, method)(**params)
        except (BotoConnectionError, ConnectionClosedError, ReadTimeoutError) as exc:
            # botocore retried already. A passing fault of one call (a reset, a slow answer, a proxy or TLS
            # failure) fails that photo, which stays unrecorded for the next run; an endpoint no call has
            # ever reached stops the run.
            if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)) and not self._connected:
                raise ConformanceError(f"cannot reach {exc.kwargs.get('endpoint_url')}: check the endpoint") from None
            with self._lock:
                self._unrecorded += 1
            what = "timed out" if isinstance(exc, ReadTimeoutError) else "lost the connection"
            raise _Refused(
                "ConnectionError", f"{what} after retries ({type(exc).__name__}); run again to resume"
            ) from None
        except HTTPClientError as exc:
            # Replay runs inside the HTTP layer: botocore wraps what it raised (a damaged or missing recording).
            inner = exc.kwargs.get("error")
            if isinstance(inner, ConformanceError):
                raise inner from None
            if type(inner).__name__ == "CannotOverwriteExistingCassetteException":
                raise ConformanceError(
                    f"{method}: the request is not in the recording {self.recording}; record it with --record-mode "
                    "new_episodes"
                ) from None
            raise ConformanceError(f"{method}: HTTP failure ({exc})") from None
        except NoCredentialsError:
            raise ConformanceError(f"no AWS credentials found: {_HOW_TO_SET_CREDENTIALS}") from None
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            # botocore could not read the answer (not UTF-8, not the JSON it expects): the service's (or the
            # recording's) answer about this photo is unreadable; an error of that photo, not of the run.
            self._connected = True
            raise _Refused(
                "MalformedResponse", f"the answer to {method} could not be read ({type(exc).__name__})"
            ) from None
        except ClientError as exc:
            self._connected = True
            code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
            # Services quote back what they refuse (headers, tokens, ARNs): never print or report that.
            message = redact(str(exc.response.get("Error", {}).get("Message", "")), self._secrets())
            if code in _CREDENTIALS:
                raise ConformanceError(
                    f"Rekognition refused the credentials ({code}): {_HOW_TO_SET_CREDENTIALS}"
                ) from None
            if code in _THROTTLED or code == "InternalServerError":
                with self._lock:
                    self._unrecorded += 1  # a passing fault: the recording stays incomplete, a re-run asks again
                if code in _THROTTLED:
                    message = "after retries; run again to resume"
            raise _Refused(code, message) from None
        self._connected = True
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        self.emulated = self.emulated or _EMULATOR_HEADER in headers
        self.simulated = self.simulated or headers.get(_SIMULATED_HEADER) == "true"
        return response

    def _secrets(self) -> tuple[str, ...]:
        """The client's own credentials (key id, secret key, token): never to be written anywhere."""
        signer = getattr(self._client, "_request_signer", None)
        credentials = getattr(signer, "_credentials", None)
        if credentials is None:
            return ()
        try:
            frozen = credentials.get_frozen_credentials()
        except Exception:  # a provider that cannot refresh now: nothing to redact yet
            return ()
        return tuple(str(v) for v in (frozen.access_key, frozen.secret_key, frozen.token) if v)

    def _replayable(self, method: str, params: Mapping[str, Any]) -> bool:
        """Whether the request is in the recording already, so it is replayed rather than sent (no rate to keep)."""
        store = self._store
        if store is None or self._effective == "all":
            return False
        operation = self._client.meta.method_to_api_mapping.get(method, method)
        shown = {
            name: {"Sha256": hashlib.sha256(value["Bytes"]).hexdigest()}
            if isinstance(value, dict) and isinstance(value.get("Bytes"), bytes)
            else value
            for name, value in params.items()
        }
        return _key(operation, shown) in store

    def analyze(self, photo: Photo) -> Observation:
        data, reason = _image_bytes(photo)
        if data is None:
            return Observation(photo=photo.id, outcome="error", reason=reason)
        try:
            response = self._call("detect_faces", Image={"Bytes": data}, Attributes=_ATTRIBUTES)
        except _Refused as refused:
            return Observation(photo=photo.id, outcome="error", reason=str(refused))
        try:
            details = response.get("FaceDetails") or []
            if not isinstance(details, list):
                raise ValueError(f"FaceDetails that are not a list ({type(details).__name__})")
            faces = [self._face(detail) for detail in details]
        except ValueError as exc:
            return Observation(photo=photo.id, outcome="error", reason=f"Rekognition answered {exc}")
        if not faces:
            return Observation(photo=photo.id, outcome="no_face", reason="no face found")
        chosen = choose_face(faces, photo.box)
        if chosen is None:
            return Observation(
                photo=photo.id,
                outcome="error",
                faces=len(faces),
                reason=f"{len(faces)} faces and none overlaps the manifest's box for the subject",
            )
        return Observation(photo=photo.id, outcome="analysed", face=chosen, faces=len(faces))

    # -- face matching: a collection for the run, the gallery indexed, each probe searched --------------

    @property
    def collection_id(self) -> str:
        """Derived from the dataset's content, so a replay sends the very requests that were recorded."""
        return f"conformance-{self.dataset.content_hash.removeprefix('sha256:')[:24]}"

    def _index_params(self, digest: str) -> dict[str, Any]:
        return {
            "CollectionId": self.collection_id,
            "DetectionAttributes": ["DEFAULT"],
            "ExternalImageId": digest,
            "Image": {"Sha256": digest},
            "MaxFaces": 1,
        }

    def _search_params(self, digest: str) -> dict[str, Any]:
        return {
            "CollectionId": self.collection_id,
            "FaceMatchThreshold": float(self.search_floor),
            "Image": {"Sha256": digest},
            "MaxFaces": _MAX_MATCHES,
        }

    def _enrol(self, gallery: Sequence[Photo]) -> dict[str, str]:
        try:
            self._call("create_collection", CollectionId=self.collection_id)
        except _Refused as refused:
            if refused.code != "ResourceAlreadyExistsException":
                raise ConformanceError(f"cannot create collection {self.collection_id}: {refused}") from None
            # Left by a run that died before deleting it: start clean.
            self._call("delete_collection", CollectionId=self.collection_id)
            self._call("create_collection", CollectionId=self.collection_id)
        self._collection = True
        faces: dict[str, str] = {}
        for photo in gallery:
            data, reason = _image_bytes(photo)
            if data is None:
                self._unindexed[photo.id] = reason
                continue
            digest = hashlib.sha256(data).hexdigest()
            params = self._index_params(digest)
            params["Image"] = {"Bytes": data}
            try:
                response = self._call("index_faces", **params)
            except _Refused as refused:
                self._unindexed[photo.id] = str(refused)
                continue
            if not response.get("FaceRecords"):
                self._unindexed[photo.id] = "no face found to index"
            faces.setdefault(digest, photo.id)
        return faces

    def search(self, probe: Photo, gallery: Sequence[Photo], *, threshold: float) -> SearchOutcome:
        """SearchFacesByImage against a collection of the gallery (made on the first search of the run)."""
        from ..matching import SearchOutcome

        if self._gallery is None:
            self._gallery = self._enrol(gallery)
        data, reason = _image_bytes(probe)
        if data is None:
            return SearchOutcome(probe.id, "error", reason=reason)
        params = self._search_params(hashlib.sha256(data).hexdigest())
        params["Image"] = {"Bytes": data}
        params["FaceMatchThreshold"] = float(threshold)
        try:
            response = self._call("search_faces_by_image", **params)
        except _Refused as refused:
            if refused.code == "InvalidParameterException" and "no faces" in str(refused).lower():
                return SearchOutcome(probe.id, "no_face", reason=str(refused))
            return SearchOutcome(probe.id, "error", reason=str(refused))
        matches = tuple(
            (self._gallery[m["Face"]["ExternalImageId"]], float(m["Similarity"]))
            for m in response.get("FaceMatches", [])
            if m.get("Face", {}).get("ExternalImageId") in self._gallery
        )
        return SearchOutcome(probe.id, "analysed", matches=matches)

    def compare(self, source: Photo, target: Photo) -> float | None:
        """1:1 with CompareFaces: the best similarity of a target face to the source's, down to the search floor.

        None when nothing reaches the floor or the service refuses either photo (no face, bad image).
        """
        images = [_image_bytes(source)[0], _image_bytes(target)[0]]
        if images[0] is None or images[1] is None:
            return None
        try:
            response = self._call(
                "compare_faces",
                SourceImage={"Bytes": images[0]},
                TargetImage={"Bytes": images[1]},
                SimilarityThreshold=float(self.search_floor),
            )
        except _Refused:
            return None
        scores = [float(m["Similarity"]) for m in response.get("FaceMatches", [])]
        return max(scores) if scores else None

    def _drop_collection(self) -> None:
        if self._collection:
            self._collection = False
            try:
                self._call("delete_collection", CollectionId=self.collection_id)
            except (_Refused, ConformanceError) as exc:
                print(f"conformance: could not delete collection {self.collection_id}: {exc}", file=sys.stderr)

    def _face(self, detail: Mapping[str, Any]) -> Face:
        """A face of a response; ValueError (said as the photo's reason) for one that breaks the API's contract."""
        if not isinstance(detail, Mapping):
            raise ValueError(f"a face that is not an object ({type(detail).__name__})")
        gender = detail.get("Gender")
        box = detail.get("BoundingBox")
        label = confidence = None
        if isinstance(gender, Mapping):
            label = gender.get("Value")
            if not isinstance(label, str) or label not in self.vocabulary.labels:
                raise ValueError(
                    f"a gender label {str(label)[:40]!r} outside the vocabulary {list(self.vocabulary.labels)}"
                )
            confidence = _number(gender.get("Confidence"), "gender confidence")
            if confidence is not None and not 0.0 <= confidence <= 100.0:
                raise ValueError(f"a gender confidence of {confidence:g}, outside 0-100")
        sides = None
        if isinstance(box, Mapping):
            values = [_number(box.get(side), "box") for side in ("Left", "Top", "Width", "Height")]
            if all(v is not None for v in values):
                sides = (float(values[0] or 0), float(values[1] or 0), float(values[2] or 0), float(values[3] or 0))
        return Face(
            label=label,
            gender=None if label is None else self.vocabulary.labels[label],
            confidence=confidence,
            box=sides,
        )

    @property
    def chunk_limit(self) -> int:
        """Photos per worker chunk: a recording run's answers reach the recording when a chunk comes back,
        so they are kept few (an interruption then costs at most that many calls per worker, asked again)."""
        return 1000 if self._effective == "none" else 20

    @property
    def cacheable(self) -> bool:
        """Whether this run's observations may be kept: none failed for a passing reason (a race, a fault)."""
        return self._unrecorded == 0

    def cache_key(self, plan: str) -> str | None:
        """A digest of everything a replay's observations depend on, or None when they may change (recording).

        ``plan`` names the transformed variants planned. See :mod:`conformance.cache`.
        """
        import json

        import botocore
        import PIL

        from .._version import __version__
        from ..cache import source_digest

        if self.settings.record_mode != "none" or not self.recording.is_file():
            return None
        with self.recording.open("rb") as handle:
            recording = hashlib.file_digest(handle, "sha256").hexdigest()
        parts = {
            "kit": __version__,
            "adapter": ADAPTER_VERSION,
            "botocore": botocore.__version__,
            "recording": recording,
            "dataset": self.dataset.content_hash,
            "vocabulary": self.vocabulary.to_dict(),
            "code": source_digest(
                "conformance.adapters.rekognition",
                "conformance.adapters.base",
                "conformance.observation",
                "conformance.metamorphic",
                "conformance.runner",
                "conformance.recording.cassette",
                "conformance.recording.store",
                "conformance.recording.scrub",
            ),
            "pillow": PIL.__version__,  # re-encodes other formats as PNG, and makes the transformed variants
            "plan": plan,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        import boto3
        import botocore

        store = self._store
        return {
            "name": self.name,
            "adapter": "rekognition",
            "version": ADAPTER_VERSION,
            "botocore": botocore.__version__,
            "boto3": boto3.__version__,
            "source": str(self.recording),
            "record_mode": self.settings.record_mode,
            "recorded_with": [] if store is None else store.sessions,
            "vocabulary": self.vocabulary.to_dict(),
            "emulated": self.emulated,
            "simulated": self.simulated,
        }


_NOTE = (
    "Recorded by the conformance kit's rekognition adapter. Requests hold image SHA-256 digests, never image "
    "bytes; credentials and account ids are scrubbed. A session with loopback: true was recorded against a "
    "local endpoint (the kit's emulator when responses carry x-conformance-emulator), NOT Amazon's service."
)
