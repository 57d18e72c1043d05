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
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import AdapterError, ConformanceError
from ..identity import DEFAULT_LABEL_MAP, normalise_key
from ..observation import Face, Observation
from .base import AdapterSettings, Vocabulary, choose_face

if TYPE_CHECKING:
    from ..dataset import Dataset, Photo
    from ..recording.store import RecordingStore

__all__ = ["ADAPTER_VERSION", "MAX_IMAGE_BYTES", "RekognitionAnalyzer", "create"]

# Bump when the requests the adapter sends change shape: recordings are keyed by request content.
ADAPTER_VERSION = "1"
MAX_IMAGE_BYTES = 5 * 1024 * 1024
PRICE_PER_IMAGE_USD = 0.001  # AWS's published first-tier DetectFaces price; check current pricing
_ATTRIBUTES = ["DEFAULT", "GENDER"]
_SENT_AS_IS = ("JPEG", "PNG")
_THROTTLED = {"ThrottlingException", "ProvisionedThroughputExceededException", "LimitExceededException"}
_CREDENTIALS = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
}
_HOW_TO_SET_CREDENTIALS = (
    "set credentials the way boto3 reads them (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or "
    "~/.aws/credentials) for an identity allowed rekognition:DetectFaces; or replay recordings with "
    "--record-mode none, which needs none"
)
_EMULATOR_HEADER = "x-conformance-emulator"
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


def _error_type(response: Mapping[str, Any]) -> str:
    for name, value in response.get("headers", {}).items():
        if str(name).lower() == "x-amzn-errortype":
            text = value[0] if isinstance(value, list) else value
            return str(text.decode() if isinstance(text, bytes) else text).split(":")[0]
    return ""


def _worth_keeping(operation: str, response: Mapping[str, Any]) -> bool:
    """Whether a live response is the service's answer about the image, fit to replay forever.

    Throttling, server faults and credential refusals say something about that moment, not about
    the photo: the SDK retries them, and a later run must ask again rather than replay them.
    """
    status = int(response.get("status", {}).get("code", 200))
    return status < 500 and _error_type(response) not in _THROTTLED | _CREDENTIALS


def _network_blocked() -> Any:
    """pytest-recording's socket guard for a replay: remote connections fail, loopback is left alone.

    Not nested inside a guard already in force (``pytest --block-network``), whose end it would bring forward.
    """
    import socket
    from contextlib import nullcontext

    from pytest_recording import network

    if getattr(socket.socket.connect, "__name__", "") == "network_guard":
        return nullcontext()
    return network.blocking_context()


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

    # -- the run ----------------------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[None]:
        """Open the recording, check what is missing, and patch HTTP for the whole run."""
        import boto3
        import botocore

        from ..recording.cassette import effective_mode, replaying
        from ..recording.store import RecordingStore

        mode = self.settings.record_mode
        with ExitStack() as stack:
            store = stack.enter_context(
                RecordingStore.open(self.recording, adapter="rekognition", fresh=mode in ("all", "rewrite"))
            )
            self._store = store
            effective = self._effective = effective_mode(mode, store)
            keys = {} if effective == "all" else {p.id: self._key_of(p) for p in self.dataset.photos}
            missing = [p for p in self.dataset.photos if keys.get(p.id) and keys[p.id] not in store]
            missing_calls = len({keys[p.id] for p in missing})  # the same image under two names is one call
            if effective == "none" and missing:
                raise self._unrecorded_error(missing, store)
            replay_only = effective == "none"
            if replay_only:
                stack.enter_context(_network_blocked())
            self._client = self._make_client(replay_only, boto3)
            endpoint = str(self._client.meta.endpoint_url)
            calls = (len(self.dataset) if effective == "all" else missing_calls) + self.extra_calls
            if not replay_only and calls and not is_loopback(endpoint):
                self._check_live(endpoint, calls)
            session = {
                "adapter_version": ADAPTER_VERSION,
                "botocore": botocore.__version__,
                "boto3": boto3.__version__,
                "python": sys.version.split()[0],
                "endpoint": endpoint,
                "region": self._client.meta.region_name,
                "loopback": is_loopback(endpoint),
            }
            stack.enter_context(
                replaying(self.recording, store, mode, session=session, note=_NOTE, keep=_worth_keeping)
            )
            yield
            if effective != "none" and self._unrecorded == 0:
                store.mark_complete(len(self.dataset))

    def _make_client(self, replay_only: bool, boto3: Any) -> Any:
        from botocore.config import Config

        # Adaptive retry (client-side rate limiting on throttles); attempts from boto3's usual AWS_MAX_ATTEMPTS.
        config = Config(retries={"mode": "adaptive"}, connect_timeout=10, read_timeout=30)
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

    def _key_of(self, photo: Photo) -> str:
        import json

        from ..recording.scrub import request_key

        if photo.format in _SENT_AS_IS:
            if photo.path.stat().st_size > MAX_IMAGE_BYTES:
                return ""  # never sent: an error outcome, not a missing recording
            digest = photo.digest  # the loader hashed these bytes already: no second read
        else:
            data, _ = _image_bytes(photo)
            if data is None:
                return ""
            digest = hashlib.sha256(data).hexdigest()
        body = {"Attributes": _ATTRIBUTES, "Image": {"Sha256": digest}}
        return request_key("DetectFaces", json.dumps(body, sort_keys=True, separators=(",", ":")))

    def _unrecorded_error(self, missing: list[Photo], store: RecordingStore) -> ConformanceError:
        from ..recording.store import RecordingError

        first = missing[0]
        data, _ = _image_bytes(first)
        digest = hashlib.sha256(data or b"").hexdigest()
        where = f"in {self.recording}" if self.recording.exists() else f"at {self.recording} (no recording yet)"
        return RecordingError(
            f"no recording of DetectFaces for photo {first.id!r} (sha256:{digest}) {where}"
            f"{f', nor for {len(missing) - 1} more photo(s)' if len(missing) > 1 else ''}; record it with "
            f"conformance run --dataset {self.dataset.manifest} --analyzer rekognition --record-mode "
            f"{'new_episodes' if len(store) else 'once'} (with AWS_ENDPOINT_URL_REKOGNITION set for an emulator)"
        )

    # -- the Analyzer protocol ---------------------------------------------------------------------------

    def analyze(self, photo: Photo) -> Observation:
        from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

        if self._client is None:
            raise AdapterError("the rekognition adapter analyses inside session(); use conformance.analyze()")
        data, reason = _image_bytes(photo)
        if data is None:
            return Observation(photo=photo.id, outcome="error", reason=reason)
        try:
            response = self._client.detect_faces(Image={"Bytes": data}, Attributes=_ATTRIBUTES)
        except NoCredentialsError:
            raise ConformanceError(f"no AWS credentials found: {_HOW_TO_SET_CREDENTIALS}") from None
        except EndpointConnectionError as exc:
            raise ConformanceError(f"cannot reach {exc.kwargs.get('endpoint_url')}: check the endpoint") from None
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
            message = str(exc.response.get("Error", {}).get("Message", ""))
            if code in _CREDENTIALS:
                raise ConformanceError(
                    f"Rekognition refused the credentials ({code}): {_HOW_TO_SET_CREDENTIALS}"
                ) from None
            if code in _THROTTLED:
                self._unrecorded += 1
                return Observation(photo=photo.id, outcome="error", reason=f"{code} after retries; run again to resume")
            if code == "InternalServerError":
                self._unrecorded += 1
            return Observation(photo=photo.id, outcome="error", reason=f"{code}: {message}".rstrip(": "))
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        self.emulated = self.emulated or _EMULATOR_HEADER in headers
        self.simulated = self.simulated or headers.get(_SIMULATED_HEADER) == "true"
        faces = [self._face(detail) for detail in response.get("FaceDetails", [])]
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

    def _face(self, detail: Mapping[str, Any]) -> Face:
        gender = detail.get("Gender")
        box = detail.get("BoundingBox")
        label = None if gender is None else str(gender["Value"])
        return Face(
            label=label,
            gender=None if label is None else self.vocabulary.labels.get(label, "abstain"),
            confidence=None if gender is None else float(gender["Confidence"]),
            box=None if box is None else (box["Left"], box["Top"], box["Width"], box["Height"]),
        )

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
