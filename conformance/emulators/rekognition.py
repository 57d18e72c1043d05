"""A local emulator of Amazon Rekognition's JSON 1.1 protocol, serving a predictions file: the service.

Over 600 lines on purpose: one service, six operations each answered and checked as botocore's model
says, and the faults drawn in front of them; its HTTP server is :mod:`.rekognition_server`, its command
line :mod:`.cli`.

No real credentials exist where the kit's own recordings are made, so they are made against this
emulator: boto3 talks to it exactly as to the vendor (``endpoint_url`` or
``AWS_ENDPOINT_URL_REKOGNITION``), and it answers what a predictions file says about each image.
It is **not** the vendor and must never be presented as one: it binds loopback only, its startup
line says EMULATED, and every response carries an ``x-conformance-emulator`` header and request
ids starting ``conformance-emulator-``. Since a stand-in can send that header too, each running
emulator registers a key of its own and answers a recording run's nonce with a proof
(:mod:`conformance.recording.proof`): only proven answers are recorded as the emulator's.

How a request is answered:

- The ``X-Amz-Target`` header names the operation (``RekognitionService.DetectFaces``); a table
  maps operation names to methods, and anything not in it gets an ``UnknownOperationException``
  saying the emulator does not serve it yet.
- DetectFaces hashes the image bytes (SHA-256) and looks the digest up among the dataset's photos.
  An image the dataset does not hold has no face (``{"FaceDetails": []}``). A known photo gets one
  ``FaceDetail`` per face of its predictions line; ``Gender`` only when ``Attributes`` asks for
  ``GENDER`` or ``ALL``, and never for an abstention. An ``error`` line becomes that error when it
  names one of DetectFaces' errors in botocore's model, else an ``InvalidParameterException``.
- Face matching (a manifest with ``role``, a predictions file with ``probe`` lines):
  CreateCollection and DeleteCollection keep collections in memory, per emulator. IndexFaces
  indexes one face per known photo (none for an unknown image or a ``faces: []`` line; an
  ``error`` line is that error) under a deterministic ``FaceId``: a UUID5 of the collection id,
  the image digest and the face index (:func:`face_id`), so recordings replay. SearchFacesByImage
  answers a probe with its line's matches whose gallery photo is indexed in that collection, at
  or above ``FaceMatchThreshold`` (default 80), best first, cut to ``MaxFaces``; CompareFaces
  answers a probe (source) against a gallery photo (target) with the similarity of that pair on
  the probe's line. A threshold below the file's ``search_threshold`` cannot be answered truthfully
  (the file says nothing of the similarities under it) and is refused with an
  ``InvalidParameterException`` naming it.
- Parameters the model constrains (collection ids, ``ExternalImageId``, ``MaxFaces``, thresholds)
  are checked as the real API does, a violation answered with a ``ValidationException``.
- Every successful response is checked against the model (:func:`validate_response`) before it
  leaves; a violation is an emulator bug and is answered with a 500 naming it.
- :class:`Faults` injects throttling, server errors, connection resets (no HTTP response at
  all), slow answers, a proxy's HTML pages (a 502/503/504 gateway page, a bare 429, a 200 with
  HTML) and ``UnknownOperationException`` refusals at seeded, reproducible rates, on every
  operation, and can limit the calls served per second with a token bucket, as an account's TPS
  quota does.
- Images are checked as the service checks them: bytes that are not a PNG or JPEG get
  ``InvalidImageFormatException``; with ``min_image_side`` (80 pixels, the documented minimum
  height and width, by default in ``conformance emulate``), a smaller image gets the service's
  ``InvalidParameterException``. The rule is off by default in :class:`RekognitionEmulator` itself,
  for the kit's own tests and the demo, whose placeholder images are 8x8 pixels.
- Face search looks at the largest face in the image, as the service does: SearchFacesByImage
  answers with its box as ``SearchedFaceBoundingBox`` and CompareFaces as ``SourceImageFace``.
  When the largest face is not the subject's (another face in the photo is bigger), the
  predictions file says nothing of what it matches: the emulator answers no matches for it.

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

import base64
import binascii
import hashlib
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .._pacing import TokenBucket
from ..errors import ConformanceError, PredictionsError
from ._validate import _pattern, service_model, validate_response

if TYPE_CHECKING:
    from ..adapters.predictions import PredictionsAnalyzer
    from ..dataset import Dataset, Photo
    from ..observation import Face

__all__ = [
    "DETECTION_CONFIDENCE",
    "MIN_IMAGE_SIDE",
    "EmulatorError",
    "EmulatorStats",
    "Faults",
    "RekognitionEmulator",
    "face_id",
    "image_id",
]

SERVICE = "rekognition"
TARGET_PREFIX = "RekognitionService."
# Face *detection* confidence; the predictions file gives gender confidence only.
DETECTION_CONFIDENCE = 99.9
CONTENT_TYPE = "application/x-amz-json-1.1"
# Refuse bodies far beyond the 5 MB image limit (base64 adds a third) before reading them.
_MAX_BODY = 16 * 1024 * 1024
_USAGE_ERROR = 2
# Face matching. The real API's FaceModelVersion is "7.0" and the like; this one says what it is.
FACE_MODEL_VERSION = "emulated-1.0"
# The kit's recordings scrub account ids; twelve zeros is no one's.
ACCOUNT_ID = "000000000000"
REGION = "us-east-1"
# FaceMatchThreshold and SimilarityThreshold default to 80 in the real API; MaxFaces to its maximum.
DEFAULT_THRESHOLD = 80.0
NO_FACE_MESSAGE = "There are no faces in the image. Should be at least 1."
# Rekognition's documented minimum height and width of an image, in pixels ("Guidelines and quotas in Amazon
# Rekognition"); a smaller image is refused with InvalidParameterException.
MIN_IMAGE_SIDE = 80
INVALID_FORMAT_MESSAGE = "Request has invalid image format"
INVALID_PARAMETERS_MESSAGE = "Request has invalid parameters"
# Fixed for ever: face and image ids derive from it, and recordings hold them.
# (It is uuid5(NAMESPACE_URL, "urn:conformance:emulator:rekognition").)
_ID_NAMESPACE = "8d4cec67-2927-58b9-853c-f9eb66fda71a"

Reply = tuple[int, dict[str, Any]]
Box = tuple[float, float, float, float]


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


@dataclass(frozen=True)
class _Call:
    """What the emulator does with one call: its reply, ``None`` for a reset (the connection is
    closed unanswered), and the seconds to hold the reply before sending it (a slow fault).

    ``page`` is an HTML page sent instead of a JSON body (a proxy's page fault), with ``reply``'s status.
    """

    reply: Reply | None
    delay: float = 0.0
    page: str | None = None


class _ServiceError(Exception):
    """Raised inside an operation to answer with an error response."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.failure = _Failure(code, message)


@dataclass(frozen=True)
class Faults:
    """Injected faults: what share of calls fails, and how, and a limit on calls per second.

    One draw of a ``random.Random(seed)`` per call of an operation the emulator serves decides,
    by bands in this order: below ``throttle_rate`` the call is throttled (``ThrottlingException``
    and ``ProvisionedThroughputExceededException`` in turn, both 400); in the next ``error_rate``
    it fails with ``InternalServerError`` (500); in the next ``reset_rate`` its connection is
    reset with no HTTP response at all; in the next ``slow_rate`` its answer is held
    ``slow_seconds`` before it is sent. The same seed and the same sequence of calls give the
    same faults.

    Two more bands follow, for stand-ins that are not the service at all: in the next ``page_rate``
    the call is answered by a proxy's HTML page with status ``page_status`` (502 by default: a
    gateway page; 503 and 504 likewise; 429 a bare "Too Many Requests" without Rekognition's error
    shape; 200 an HTML page where an answer was due) and no Rekognition error type; in the next
    ``unknown_rate`` it is refused with ``UnknownOperationException`` (400), as a stand-in that does
    not implement the operation answers.

    ``max_rate`` (calls per second) puts a token bucket of ``burst`` calls in front of all that,
    as AWS enforces an account's TPS quota: a call finding it empty gets ``ThrottlingException``
    (400). It depends on timing, so it is not reproducible by the seed; every call still takes
    its draw, so the ``n``-th call's draw does not depend on how many were rate-limited before it.

    What the client sees (botocore, one attempt per call): a throttle or rate limit is a
    ``ClientError`` with code ``ThrottlingException`` or ``ProvisionedThroughputExceededException``;
    an error a ``ClientError`` with ``InternalServerError``; a reset ``ConnectionClosedError``
    (the server closes the socket with ``SO_LINGER`` 0, a real RST, which botocore reports with
    ``ConnectionResetError`` underneath); a slow call ``ReadTimeoutError`` when the client's
    ``read_timeout`` is shorter than ``slow_seconds``, else the answer, late.

    Parameters
    ----------
    throttle_rate, error_rate, reset_rate, slow_rate, page_rate, unknown_rate
        Shares of calls, each from 0 to 1, together at most 1.
    seed
        Seed of the draws.
    slow_seconds
        How long a slow call is held before its answer; the default, 61, outlasts botocore's
        default 60-second read timeout.
    max_rate
        Calls per second the bucket refills with; ``None`` (the default) sets no limit.
    burst
        Calls the bucket holds, so calls that may arrive at once; by default ``max_rate`` rounded,
        at least 1. Only with ``max_rate``.
    page_status
        The HTTP status of a page fault: 200, 429, 502, 503 or 504.

    Raises
    ------
    EmulatorError
        When a rate is not a number from 0 to 1, the shares add up to more than 1, ``slow_seconds``
        or ``max_rate`` is not a positive number, or ``burst`` is not a positive whole number or
        comes without ``max_rate``.

    Examples
    --------
    >>> Faults(max_rate=2.4).burst
    2
    >>> Faults(throttle_rate=0.6, reset_rate=0.5)
    Traceback (most recent call last):
    ...
    conformance.emulators.rekognition.EmulatorError: throttle-rate 0.6 and reset-rate 0.5 add up to more than 1; they are shares of the same calls
    """

    throttle_rate: float = 0.0
    error_rate: float = 0.0
    seed: int = 0
    reset_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 61.0
    max_rate: float | None = None
    burst: int | None = None
    page_rate: float = 0.0
    page_status: int = 502
    unknown_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in _SHARES:
            value = getattr(self, name)
            # The negated comparison also refuses NaN.
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 <= value <= 1.0):
                raise EmulatorError(f"{_flag(name)} {value!r} must be a number from 0 to 1")
        shares = [(name, getattr(self, name)) for name in _SHARES if getattr(self, name) > 0.0]
        # fsum: 0.1 + 0.2 + 0.7 is 1, not 1.0000000000000002.
        if math.fsum(value for _, value in shares) > 1.0:
            named = [f"{_flag(name)} {value}" for name, value in shares]
            raise EmulatorError(
                f"{', '.join(named[:-1])} and {named[-1]} add up to more than 1; they are shares of the same calls"
            )
        # Event.wait refuses timeouts above TIMEOUT_MAX; the negated comparison refuses NaN.
        if not _is_number(self.slow_seconds) or not (0.0 < self.slow_seconds <= threading.TIMEOUT_MAX):
            raise EmulatorError(
                f"slow-seconds {self.slow_seconds!r} must be a number of seconds above 0 "
                "(how long a slow call is held before its answer)"
            )
        if self.max_rate is not None and (not _is_number(self.max_rate) or not (0.0 < self.max_rate < math.inf)):
            raise EmulatorError(
                f"max-rate {self.max_rate!r} must be a number of calls per second above 0 (leave it out for no limit)"
            )
        if self.burst is not None:
            if isinstance(self.burst, bool) or not isinstance(self.burst, int) or self.burst < 1:
                raise EmulatorError(f"burst {self.burst!r} must be a whole number of calls, at least 1")
            if self.max_rate is None:
                raise EmulatorError(f"burst {self.burst} needs max-rate: it is the size of the bucket max-rate refills")
        elif self.max_rate is not None:
            # Frozen: the default is filled in once, so the value shows in repr and comparisons.
            object.__setattr__(self, "burst", max(1, round(self.max_rate)))
        if isinstance(self.page_status, bool) or self.page_status not in _PAGE_STATUSES:
            raise EmulatorError(
                f"page-status {self.page_status!r} must be one of {', '.join(map(str, _PAGE_STATUSES))} "
                "(the status of a proxy's page)"
            )

    @property
    def active(self) -> bool:
        """Whether any fault is drawn for each call (the rate limit aside)."""
        return any(getattr(self, name) > 0.0 for name in _SHARES)


# The shares of calls one draw splits, in the order of their bands (new bands go last: a seed draws the
# same faults for the older shares as before).
_SHARES = ("throttle_rate", "error_rate", "reset_rate", "slow_rate", "page_rate", "unknown_rate")
_PAGE_STATUSES = (200, 429, 502, 503, 504)


def _flag(name: str) -> str:
    """A field's name as messages and the command line spell it: ``throttle_rate`` -> ``throttle-rate``."""
    return name.replace("_", "-")


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


@dataclass(frozen=True)
class EmulatorStats:
    """Counts of calls since the emulator started.

    ``calls`` = ``served`` (answered 200) + ``throttled`` + ``errored`` (injected faults) +
    ``resets`` (connections reset with no answer) + ``paged`` (answered by a proxy's page) +
    ``failed`` (every other error response: bad requests, predictions errors, unknown operations,
    injected ``UnknownOperationException`` refusals included).

    Two counts are parts of others, not terms of the sum: ``rate_throttled`` counts the
    ``throttled`` calls refused by ``max_rate``'s bucket (the rest are throttle faults), and
    ``slowed`` the calls held ``slow_seconds`` before their answer, each also counted by that
    answer (``served`` or ``failed``; a call still held when the server closes gets its connection
    closed instead, and stays counted by the answer it would have had).
    """

    calls: int = 0
    served: int = 0
    throttled: int = 0
    errored: int = 0
    failed: int = 0
    resets: int = 0
    slowed: int = 0
    rate_throttled: int = 0
    paged: int = 0


def _centred_box(index: int, count: int) -> tuple[float, float, float, float]:
    """A plausible box for face ``index`` of ``count`` when the predictions give none.

    Faces sit side by side in equal slots, each half its slot's width, so they never overlap;
    a lone face gets (0.25, 0.2, 0.5, 0.6).
    """
    slot = 1.0 / count
    return (index * slot + slot / 4, 0.2, slot / 2, 0.6)


def face_id(collection_id: str, digest: str, index: int = 0) -> str:
    """The ``FaceId`` IndexFaces gives face ``index`` of the image with SHA-256 ``digest`` in a collection.

    A UUID5, so the same collection id and image give the same id in every process and a recorded
    session replays; the standard 8-4-4-4-12 lower-case form matches the model's ``FaceId`` pattern.

    >>> face_id("run-1", "0" * 64)
    'd6110d5f-61f7-57b7-a599-53dc417ddb21'
    """
    import uuid

    # Collection ids cannot hold ":" (the model's pattern), so the name is unambiguous.
    return str(uuid.uuid5(uuid.UUID(_ID_NAMESPACE), f"face:{collection_id}:{digest}:{index}"))


def image_id(digest: str) -> str:
    """The ``ImageId`` of the image with SHA-256 ``digest`` (a UUID5 of the digest alone)."""
    import uuid

    return str(uuid.uuid5(uuid.UUID(_ID_NAMESPACE), f"image:{digest}"))


def _box(box: Box) -> dict[str, float]:
    left, top, width, height = box
    return {"Width": width, "Height": height, "Left": left, "Top": top}


@dataclass(frozen=True)
class _Subject:
    """What the face-matching operations know of one image: the face they index, search or compare.

    ``error`` is the text of the photo's ``error`` line; ``faceless`` says its line has no face.
    """

    photo: Photo
    box: Box
    face: Face | None = None
    error: str | None = None
    faceless: bool = False
    # The box of the largest face in the image, which search and comparison look at (the subject's
    # ``box`` unless another face is bigger).
    largest: Box | None = None

    @property
    def searched(self) -> Box:
        return self.largest if self.largest is not None else self.box

    @property
    def subject_searched(self) -> bool:
        """Whether the face search looks at is the subject's."""
        return self.largest is None or self.largest == self.box


@dataclass(frozen=True)
class _IndexedFace:
    """A face IndexFaces put in a collection."""

    face_id: str
    image_id: str
    box: Box
    external_image_id: str | None

    def to_dict(self) -> dict[str, Any]:
        face: dict[str, Any] = {
            "FaceId": self.face_id,
            "BoundingBox": _box(self.box),
            "ImageId": self.image_id,
            "Confidence": DETECTION_CONFIDENCE,
        }
        if self.external_image_id is not None:
            face["ExternalImageId"] = self.external_image_id
        return face


class RekognitionEmulator:
    """Answers Rekognition requests from a dataset and a predictions file, without sockets.

    Parameters
    ----------
    dataset
        The photos the emulator knows, found by the SHA-256 digest of their bytes.
    predictions
        What the emulated service says about each photo.
    faults
        Injected faults and rate limit (:class:`Faults`); none by default.
    min_image_side
        The smallest height and width in pixels of an image served; a smaller one is refused with
        ``InvalidParameterException`` as the service refuses it. 0 (the default here) serves images
        of any size: the kit's own tests and the demo's recorded sessions use 8x8 placeholders.
        ``conformance emulate`` sets :data:`MIN_IMAGE_SIDE`, as the service does.

    Collections live in memory, one set per emulator, shared by every thread serving it.

    Raises
    ------
    PredictionsError
        When a face's gender label is outside botocore's ``GenderType`` enum (the real API cannot
        say it), or two photos (or two probes) with identical bytes have different predictions
        (the real API answers identical images identically).
    """

    def __init__(
        self,
        dataset: Dataset,
        predictions: PredictionsAnalyzer,
        *,
        faults: Faults | None = None,
        min_image_side: int = 0,
    ) -> None:
        if isinstance(min_image_side, bool) or not isinstance(min_image_side, int) or min_image_side < 0:
            raise EmulatorError(f"min-image-side {min_image_side!r} must be a whole number of pixels, 0 for none")
        self.dataset = dataset
        self.predictions = predictions
        self.faults = faults if faults is not None else Faults()
        self.min_image_side = min_image_side
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        rate, burst = self.faults.max_rate, self.faults.burst
        self._bucket = TokenBucket(rate, burst) if rate is not None and burst is not None else None
        self._stats = EmulatorStats()
        model = service_model(SERVICE)
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "DetectFaces": self._detect_faces,
            "CreateCollection": self._create_collection,
            "DeleteCollection": self._delete_collection,
            "IndexFaces": self._index_faces,
            "SearchFacesByImage": self._search_faces_by_image,
            "CompareFaces": self._compare_faces,
        }
        # Each operation may only answer with the errors the model lists for it.
        self._errors = {
            name: frozenset(shape.name for shape in model.operation_model(name).error_shapes)
            for name in self._operations
        }
        self._inputs = {name: model.operation_model(name).input_shape for name in self._operations}
        self._known_operations = frozenset(model.operation_names)
        self.genders: tuple[str, ...] = tuple(model.shape_for("GenderType").enum)
        self._attributes = frozenset(model.shape_for("Attribute").enum)
        self._max_image = int(model.shape_for("ImageBlob").metadata["max"])
        self._answers = self._index()
        self._subjects = self._index_subjects()
        self._probes = self._index_probes()
        self._gallery: dict[str, tuple[str, ...]] = {}
        for photo in dataset.role("gallery"):
            self._gallery[photo.digest] = (*self._gallery.get(photo.digest, ()), photo.id)
        # Collection id -> the faces indexed in it, by image digest.
        self._collections: dict[str, dict[str, _IndexedFace]] = {}
        self._collections_lock = threading.Lock()
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
                line = self.predictions.line_of(photo.id)
                where = f"line {line}" if line is not None else f"the line of photo {photo.id!r}"
                raise PredictionsError(
                    f"{self.predictions.path} {where}: gender label {face.label!r} (photo {photo.id!r}) is not one "
                    f"of Rekognition's GenderType values {list(self.genders)}; the real API cannot return it, so "
                    "the emulator refuses to serve it (audit this file directly with --analyzer predictions:FILE)"
                )
        return faces

    def _index_subjects(self) -> dict[str, _Subject]:
        """The face each image's matching operations see, by digest (the first photo with those bytes)."""
        subjects: dict[str, _Subject] = {}
        for photo in self.dataset:
            if photo.digest in subjects:
                continue
            faces = self.predictions.faces(photo.id)
            if faces is None:
                # An error line, or no line at all (a matching dataset's gallery has none): one face.
                error = self.predictions.analyze(photo).reason if self.predictions.has_line(photo.id) else None
                subjects[photo.digest] = _Subject(photo, photo.box or _centred_box(0, 1), error=error)
            elif not faces:
                subjects[photo.digest] = _Subject(photo, photo.box or _centred_box(0, 1), faceless=True)
            else:
                observation = self.predictions.analyze(photo)
                # The subject's face; the first when several faces cannot be told apart.
                face = observation.face if observation.face is not None else faces[0]
                index = faces.index(face) if face in faces else 0
                box = face.box if face.box is not None else photo.box or _centred_box(index, len(faces))
                boxes = [f.box if f.box is not None else _centred_box(i, len(faces)) for i, f in enumerate(faces)]
                # The service searches the largest face (the first of equals, as the file lists them).
                largest = max(boxes, key=lambda b: b[2] * b[3]) if len(faces) > 1 else None
                if largest is not None and largest[2] * largest[3] <= box[2] * box[3]:
                    largest = None  # the subject's face is (one of) the largest
                subjects[photo.digest] = _Subject(photo, box, face=face, largest=largest)
        return subjects

    def _index_probes(self) -> dict[str, str]:
        """Each probe's photo id by image digest; refuses identical probes with different results."""
        probes: dict[str, str] = {}
        for photo in self.dataset.role("probe"):
            first = probes.setdefault(photo.digest, photo.id)
            if first != photo.id and self._search_key(first) != self._search_key(photo.id):
                raise PredictionsError(
                    f"{self.predictions.path}: probes {first!r} and {photo.id!r} have identical image bytes but "
                    "different search results; the real API answers identical images identically, so the emulator "
                    "cannot serve both (make the results agree, or drop one probe)"
                )
        return probes

    def _search_key(self, probe_id: str) -> tuple[str, tuple[tuple[str, float], ...], str] | None:
        result = self.predictions.search_result(probe_id)
        if result is None:
            return None
        # Gallery photos by their bytes: matches to two copies of one image are the same answer.
        matches = tuple(sorted((self.dataset.photo(g).digest, s) for g, s in result.matches))
        return result.outcome, matches, result.reason

    def _failure(self, reason: str, operation: str = "DetectFaces") -> _Failure:
        """The error a predictions ``error`` line names, or an InvalidParameterException with its text."""
        allowed = self._errors[operation]
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

    def _count_locked(self, outcome: str, *, rate_throttled: int = 0) -> None:
        """Count one call with its ``outcome`` (an :class:`EmulatorStats` field); the lock is held."""
        stats = self._stats
        self._stats = replace(
            stats,
            calls=stats.calls + 1,
            rate_throttled=stats.rate_throttled + rate_throttled,
            **{outcome: getattr(stats, outcome) + 1},
        )

    def handle(self, target: str, body: bytes) -> Reply:
        """Answer one request: its ``X-Amz-Target`` header and its raw body.

        Without sockets a reset fault cannot close a connection, so it raises
        :class:`ConnectionResetError`; a slow call sleeps ``slow_seconds`` before returning.

        Returns
        -------
        tuple
            The HTTP status and the JSON body. Errors are ``{"__type": CODE, "Message": TEXT}``
            with status 400, or 500 for ``InternalServerError``; a page fault is ``{"page": HTML}``.
        """
        call = self._respond(target, body)
        if call.reply is None:
            raise ConnectionResetError(f"emulated fault: connection reset ({self._fault_settings()})")
        if call.delay:
            time.sleep(call.delay)
        if call.page is not None:
            return call.reply[0], {"page": call.page}
        return call.reply

    def _respond(self, target: str, body: bytes) -> _Call:
        """The answer to one request and what the faults do to it; the served path of :meth:`handle`."""
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        run = self._operations.get(operation)
        if run is None:
            return _Call(self._fail(self._unknown(target, operation)))
        fault = self._draw_fault()
        if isinstance(fault, _Call):
            return fault
        delay = fault
        try:
            try:
                request = json.loads(body or b"{}")
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
                raise _ServiceError("SerializationException", f"the request body is not JSON ({exc})") from None
            if not isinstance(request, dict):
                raise _ServiceError("SerializationException", "the request body must be a JSON object")
            response = run(request)
        except _ServiceError as exc:
            return _Call(self._fail(exc.failure), delay)
        try:
            validate_response(operation, response)
        except ValueError as exc:
            failure = _Failure("InternalServerError", f"conformance emulator bug, response refused: {exc}")
            return _Call(self._fail(failure), delay)
        self._count("served")
        return _Call((200, response), delay)

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

    def _draw_fault(self) -> _Call | float:
        """This call's fault: the rate limit first, then the seeded draw.

        Returns the :class:`_Call` when the fault is the whole answer (a throttle, an error, a
        reset), else the seconds to hold the answer: ``slow_seconds`` for a slow call, 0 for none.
        """
        faults = self.faults
        if not faults.active and self._bucket is None:
            return 0.0
        with self._lock:
            admitted = self._bucket is None or self._bucket.try_acquire()
            # Every call takes its draw, so the n-th call's fault does not depend on the rate limit.
            draw = self._rng.random() if faults.active else 1.0
            if not admitted:
                self._count_locked("throttled", rate_throttled=1)
                limit = f"emulated rate limit (max-rate {faults.max_rate:g}/s, burst {faults.burst})"
                return _Call(_Failure("ThrottlingException", f"Rate exceeded: {limit}").reply())
            how = f"emulated fault ({self._fault_settings()})"
            band = faults.throttle_rate
            if draw < band:
                # Alternate the two throttling codes so clients are tested on both.
                if (self._stats.throttled - self._stats.rate_throttled) % 2 == 0:
                    failure = _Failure("ThrottlingException", f"Rate exceeded: {how}")
                else:
                    failure = _Failure("ProvisionedThroughputExceededException", f"Provisioned rate exceeded: {how}")
                self._count_locked("throttled")
                return _Call(failure.reply())
            band += faults.error_rate
            if draw < band:
                self._count_locked("errored")
                return _Call(_Failure("InternalServerError", f"Internal server error: {how}").reply())
            band += faults.reset_rate
            if draw < band:
                self._count_locked("resets")
                return _Call(None)
            band += faults.slow_rate
            if draw < band:
                # Not a call of its own: its answer counts it (served or failed) as well.
                self._stats = replace(self._stats, slowed=self._stats.slowed + 1)
                return faults.slow_seconds
            band += faults.page_rate
            if draw < band:
                self._count_locked("paged")
                return _Call((faults.page_status, {}), page=_proxy_page(faults.page_status))
            band += faults.unknown_rate
            if draw < band:
                self._count_locked("failed")
                failure = _Failure("UnknownOperationException", f"Unknown operation: {how}")
                return _Call(failure.reply())
            return 0.0

    def _fault_settings(self) -> str:
        """The fault settings, for messages: the throttle and error rates, any other share, the seed."""
        faults = self.faults
        # The first two always, as messages have always said; the newer shares only when set.
        shares = [
            f"{_flag(name)} {getattr(faults, name)}"
            for name in _SHARES
            if name in ("throttle_rate", "error_rate") or getattr(faults, name) > 0.0
        ]
        return ", ".join([*shares, f"seed {faults.seed}"])

    # -- operations --------------------------------------------------------------------------------

    def _image_bytes(self, request: dict[str, Any], member: str = "Image") -> bytes:
        image = request.get(member)
        if not isinstance(image, dict):
            raise _ServiceError("InvalidParameterException", f'{member} is required: {{"Bytes": "<base64 image>"}}')
        if "S3Object" in image:
            raise _ServiceError(
                "InvalidS3ObjectException",
                f"the conformance emulator cannot read S3 objects; send the image as {member}.Bytes",
            )
        encoded = image.get("Bytes")
        if not isinstance(encoded, str) or not encoded:
            raise _ServiceError("InvalidParameterException", f"{member}.Bytes is required (the image, base64-encoded)")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _ServiceError("InvalidParameterException", f"{member}.Bytes is not valid base64 ({exc})") from None
        if len(data) > self._max_image:
            raise _ServiceError(
                "ImageTooLargeException", f"Image size {len(data)} bytes exceeds the limit of {self._max_image} bytes"
            )
        size = _image_size(data)
        if size is None:
            # The service reads PNG and JPEG only, and says no more than this.
            raise _ServiceError("InvalidImageFormatException", INVALID_FORMAT_MESSAGE)
        width, height = size
        least = self.min_image_side
        if least and (width < least or height < least):
            raise _ServiceError(
                "InvalidParameterException",
                f"{INVALID_PARAMETERS_MESSAGE} (emulated: the {member} is {width}x{height} pixels; Rekognition's "
                f"minimum is {least} pixels in height and width)",
            )
        return data

    def _requested(self, request: dict[str, Any], member: str = "Attributes") -> frozenset[str]:
        attributes = request.get(member, ["DEFAULT"])
        if not isinstance(attributes, list) or not all(isinstance(a, str) for a in attributes):
            raise _ServiceError("InvalidParameterException", f"{member} must be a list of attribute names")
        unknown = sorted(set(attributes) - self._attributes)
        if unknown:
            raise _ServiceError(
                "InvalidParameterException",
                f"unknown attribute {unknown[0]!r} in {member}; valid: {sorted(self._attributes)}",
            )
        return frozenset(attributes)

    def _param(self, operation: str, request: dict[str, Any], member: str) -> Any:
        """A scalar request member, checked against the model as the real API checks it (None when absent).

        A value of the wrong JSON type is a ``SerializationException``; one breaking a constraint
        (missing when required, length, range, enum, pattern; patterns match the whole value) a
        ``ValidationException`` in the wording AWS uses.
        """
        shape = self._inputs[operation]
        value = request.get(member)
        if value is None:
            if member in shape.required_members:
                raise _invalid(member, None, "not be null")
            return None
        member_shape = shape.members[member]
        kind = member_shape.type_name
        metadata = member_shape.metadata
        low, high = metadata.get("min"), metadata.get("max")
        if kind == "string":
            if not isinstance(value, str):
                raise _ServiceError("SerializationException", f"{member} must be a string, not {value!r}")
            enum = metadata.get("enum")
            if enum and value not in enum:
                raise _invalid(member, value, f"satisfy enum value set: [{', '.join(enum)}]")
            if low is not None and len(value) < low:
                raise _invalid(member, value, f"have length greater than or equal to {low}")
            if high is not None and len(value) > high:
                raise _invalid(member, value, f"have length less than or equal to {high}")
            pattern = metadata.get("pattern")
            compiled = _pattern(pattern) if pattern is not None else None
            if compiled is not None and compiled.fullmatch(value) is None:
                raise _invalid(member, value, f"satisfy regular expression pattern: {pattern}")
            return value
        if kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise _ServiceError("SerializationException", f"{member} must be an integer, not {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _ServiceError("SerializationException", f"{member} must be a number, not {value!r}")
        if low is not None and value < low:
            raise _invalid(member, value, f"have value greater than or equal to {low}")
        if high is not None and value > high:
            raise _invalid(member, value, f"have value less than or equal to {high}")
        return value

    def _threshold(self, operation: str, request: dict[str, Any], member: str) -> float:
        """A similarity threshold (default 80); refused below the file's search threshold, which hides the rest."""
        value = self._param(operation, request, member)
        threshold = DEFAULT_THRESHOLD if value is None else float(value)
        floor = self.predictions.search_floor
        if threshold < floor:
            raise _ServiceError(
                "InvalidParameterException",
                f"{member} {threshold:g} is below the search threshold {floor:g}: the conformance emulator's results "
                f"were produced at search threshold {floor:g} (search_threshold in {self.predictions.path.name}), so "
                f"it cannot say which faces match between {threshold:g} and {floor:g}; ask for {floor:g} or more",
            )
        return threshold

    def _faces_of(self, collection_id: str) -> dict[str, _IndexedFace]:
        """The faces of a collection (the live dict: hold the lock to use it)."""
        faces = self._collections.get(collection_id)
        if faces is None:
            raise _ServiceError("ResourceNotFoundException", f"The collection id: {collection_id} does not exist")
        return faces

    def _search_of(self, operation: str, digest: str) -> tuple[tuple[str, float], ...] | None:
        """A probe's matches, by its image digest; None for an image that is no probe.

        Raises the no-face error for a ``no_face`` line, and the line's error for an ``error`` line.
        """
        probe = self._probes.get(digest)
        if probe is None:
            return None
        result = self.predictions.search_result(probe)
        if result is None:
            raise _ServiceError(
                "InvalidParameterException",
                f"no search result for probe {probe!r} in {self.predictions.path}; "
                "the conformance emulator cannot answer for it",
            )
        if result.outcome == "no_face":
            raise _ServiceError("InvalidParameterException", NO_FACE_MESSAGE)
        if result.outcome == "error":
            raise _ServiceError(*self._failure_args(result.reason, operation))
        return result.matches

    def _failure_args(self, reason: str, operation: str) -> tuple[str, str]:
        failure = self._failure(reason, operation)
        return failure.code, failure.message

    def _face_box(self, digest: str) -> Box:
        """The box of the face search and comparison look at in an image: its largest."""
        subject = self._subjects.get(digest)
        return subject.searched if subject is not None else _centred_box(0, 1)

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

    def _create_collection(self, request: dict[str, Any]) -> dict[str, Any]:
        collection = self._param("CreateCollection", request, "CollectionId")
        if "Tags" in request and not isinstance(request["Tags"], dict):
            raise _ServiceError("SerializationException", "Tags must be an object of tag names to values")
        with self._collections_lock:
            if collection in self._collections:
                raise _ServiceError("ResourceAlreadyExistsException", f"The collection id: {collection} already exists")
            self._collections[collection] = {}
        return {
            "StatusCode": 200,
            "CollectionArn": f"aws:rekognition:{REGION}:{ACCOUNT_ID}:collection/{collection}",
            "FaceModelVersion": FACE_MODEL_VERSION,
        }

    def _delete_collection(self, request: dict[str, Any]) -> dict[str, Any]:
        collection = self._param("DeleteCollection", request, "CollectionId")
        with self._collections_lock:
            self._faces_of(collection)
            del self._collections[collection]
        return {"StatusCode": 200}

    def _index_faces(self, request: dict[str, Any]) -> dict[str, Any]:
        operation = "IndexFaces"
        collection = self._param(operation, request, "CollectionId")
        external = self._param(operation, request, "ExternalImageId")
        self._param(operation, request, "MaxFaces")  # one face is indexed per photo, whatever the maximum
        self._param(operation, request, "QualityFilter")
        requested = self._requested(request, "DetectionAttributes")
        data = self._image_bytes(request)
        with self._collections_lock:
            self._faces_of(collection)
        digest = hashlib.sha256(data).hexdigest()
        response: dict[str, Any] = {"FaceRecords": [], "FaceModelVersion": FACE_MODEL_VERSION, "UnindexedFaces": []}
        subject = self._subjects.get(digest)
        if subject is None or subject.faceless:
            return response
        if subject.error is not None:
            raise _ServiceError(*self._failure_args(subject.error, operation))
        indexed = _IndexedFace(face_id(collection, digest), image_id(digest), subject.box, external)
        with self._collections_lock:
            # Indexing the same image again gives the same face (its id derives from the image), relabelled.
            self._faces_of(collection)[digest] = indexed
        detail: dict[str, Any] = {"BoundingBox": _box(subject.box), "Confidence": DETECTION_CONFIDENCE}
        face = subject.face
        if face is not None and face.label is not None and not requested.isdisjoint({"GENDER", "ALL"}):
            detail["Gender"] = {"Value": face.label}
            if face.confidence is not None:
                detail["Gender"]["Confidence"] = face.confidence
        response["FaceRecords"] = [{"Face": indexed.to_dict(), "FaceDetail": detail}]
        return response

    def _search_faces_by_image(self, request: dict[str, Any]) -> dict[str, Any]:
        operation = "SearchFacesByImage"
        collection = self._param(operation, request, "CollectionId")
        given = self._param(operation, request, "MaxFaces")
        most = int(self._inputs[operation].members["MaxFaces"].metadata["max"]) if given is None else int(given)
        self._param(operation, request, "QualityFilter")
        threshold = self._threshold(operation, request, "FaceMatchThreshold")
        data = self._image_bytes(request)
        with self._collections_lock:
            indexed = dict(self._faces_of(collection))
        digest = hashlib.sha256(data).hexdigest()
        matches = self._search_of(operation, digest) or ()
        best: dict[str, tuple[float, _IndexedFace]] = {}
        for gallery, similarity in matches:
            face = indexed.get(self.dataset.photo(gallery).digest)
            if face is None or similarity < threshold:
                continue
            # Two gallery photos with the same bytes are one face in the collection.
            if face.face_id not in best or similarity > best[face.face_id][0]:
                best[face.face_id] = (similarity, face)
        ranked = sorted(best.values(), key=lambda match: (-match[0], match[1].face_id))[:most]
        subject = self._subjects.get(digest)
        if subject is not None and not subject.subject_searched:
            ranked = []  # the largest face is someone else's: the file knows nothing it matches
        return {
            "SearchedFaceBoundingBox": _box(self._face_box(digest)),
            "SearchedFaceConfidence": DETECTION_CONFIDENCE,
            "FaceMatches": [{"Similarity": similarity, "Face": face.to_dict()} for similarity, face in ranked],
            "FaceModelVersion": FACE_MODEL_VERSION,
        }

    def _compare_faces(self, request: dict[str, Any]) -> dict[str, Any]:
        operation = "CompareFaces"
        self._param(operation, request, "QualityFilter")
        threshold = self._threshold(operation, request, "SimilarityThreshold")
        source = hashlib.sha256(self._image_bytes(request, "SourceImage")).hexdigest()
        target = hashlib.sha256(self._image_bytes(request, "TargetImage")).hexdigest()
        matches = self._search_of(operation, source) or ()
        searched = self._subjects.get(source)
        if searched is not None and not searched.subject_searched:
            matches = ()  # the largest face is someone else's: the file knows nothing it matches
        response: dict[str, Any] = {
            "SourceImageFace": {"BoundingBox": _box(self._face_box(source)), "Confidence": DETECTION_CONFIDENCE},
            "FaceMatches": [],
            "UnmatchedFaces": [],
        }
        subject = self._subjects.get(target)
        if subject is not None and subject.error is not None:
            raise _ServiceError(*self._failure_args(subject.error, operation))
        if subject is not None and subject.faceless:
            return response  # no face in the target: nothing to match, nothing unmatched
        face = {"BoundingBox": _box(self._face_box(target)), "Confidence": DETECTION_CONFIDENCE}
        targets = self._gallery.get(target, ())
        similarities = [similarity for gallery, similarity in matches if gallery in targets]
        if similarities and max(similarities) >= threshold:
            response["FaceMatches"] = [{"Similarity": max(similarities), "Face": face}]
        else:
            response["UnmatchedFaces"] = [face]
        return response


def _invalid(member: str, value: Any, constraint: str) -> _ServiceError:
    """A ValidationException worded as AWS words them."""
    shown = "null" if value is None else f"'{value}'"
    return _ServiceError(
        "ValidationException",
        f"1 validation error detected: Value {shown} at '{member[0].lower()}{member[1:]}' failed to satisfy "
        f"constraint: Member must {constraint}",
    )


def _image_size(data: bytes) -> tuple[int, int] | None:
    """The width and height of a PNG or JPEG, read from its header; None for anything else."""
    if not (data[:8] == b"\x89PNG\r\n\x1a\n" or data[:3] == b"\xff\xd8\xff"):
        return None
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=("PNG", "JPEG")) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    return int(width), int(height)


def _proxy_page(status: int) -> str:
    """An HTML page such as a proxy or gateway sends in place of the service's answer."""
    from http import HTTPStatus

    title = f"{status} {HTTPStatus(status).phrase}"
    return (
        f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center><hr>"
        "<center>proxy (conformance emulator fault: not Amazon Rekognition)</center></body></html>\n"
    )


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
