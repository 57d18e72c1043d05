"""Which of the answers a Rekognition endpoint gives are Rekognition's own, read from botocore's service model.

The Rekognition adapter (:mod:`.rekognition`) records only the service's own answers: a 200 with a
JSON object of the operation's output shape, or an error botocore's model documents for the
operation. Everything else (a proxy's page, a gateway's 502, a bare 429, a stand-in's JSON of another
shape, throttling, a server fault, a refusal of the credentials) is judged here (:func:`judge`, for the
cassette; :func:`flag_non_answers`, botocore's before-parse hook) and becomes that photo's error,
unrecorded. The model also gives the vocabulary (``GenderType``) and each operation's output members.
Nothing here calls the service: a replay needs no AWS configuration, and the model is read by a
botocore session that reads none.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

from ..errors import AdapterError
from ..identity import DEFAULT_LABEL_MAP, normalise_key
from .base import Vocabulary

__all__ = [
    "ANSWER_BYTES",
    "CREDENTIALS",
    "MAX_REASON",
    "NON_ANSWER",
    "THROTTLED",
    "AnswerTooLarge",
    "NonAnswer",
    "Refused",
    "error_type",
    "flag_non_answers",
    "gender_vocabulary",
    "isolated_botocore_session",
    "judge",
    "max_attempts",
    "model_facts",
    "refuse_huge_answers",
    "service_model",
    "shape_problem",
]

# Error codes that say something about that moment (throttling) or the caller (its credentials), never about
# the photo: not recorded, and a credential refusal stops the run.
THROTTLED = {"ThrottlingException", "ProvisionedThroughputExceededException", "LimitExceededException"}
CREDENTIALS = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
}
MAX_REASON = 500  # characters of a vendor's message kept as a photo's reason
# The member a before-parse hook adds to botocore's parsed response when the HTTP answer was not in
# Rekognition's shape at all (see shape_problem): the adapter reads it, botocore ignores it.
NON_ANSWER = "ConformanceNonAnswer"
# The largest answer the kit parses, per operation, from what the service can answer (red team 15e F5: a hostile
# endpoint's fast 100 MB answer cost about 64 times its size in parsed copies, and ran the process out of memory).
# DetectFaces gives at most the 100 largest faces; one FaceDetail with every attribute (30 landmarks, 8
# emotions, pose, quality, a dozen yes/no attributes) is about 3 KB of JSON: FACE_BYTES gives it 16 KiB, five
# times that, with room for attributes the service adds. SearchFacesByImage's 4,096 matches are under 2 MB;
# IndexFaces and CompareFaces answer for at most 100 faces of each image. An answer over its bound is refused
# before it is parsed: the photo's error, not recorded. Its bytes were read (botocore reads an answer whole).
FACE_BYTES = 16 * 1024
FACES_PER_ANSWER = 100
ENVELOPE_BYTES = 64 * 1024
ANSWER_BYTES = {
    "DetectFaces": FACES_PER_ANSWER * FACE_BYTES + ENVELOPE_BYTES,  # 1,703,936 bytes (1.6 MiB)
    "IndexFaces": 2 * FACES_PER_ANSWER * FACE_BYTES + ENVELOPE_BYTES,  # faces indexed and not: 3.2 MiB
    "CompareFaces": 2 * FACES_PER_ANSWER * FACE_BYTES + ENVELOPE_BYTES,
}
OTHER_ANSWER_BYTES = 8 * 1024 * 1024  # search's 4,096 matches (under 2 MB), a collection's calls: the recorder's bound


class AnswerTooLarge(Exception):
    """An answer over its operation's bound (:data:`ANSWER_BYTES`), refused unparsed: the adapter names the photo."""

    def __init__(self, operation: str, size: int, limit: int) -> None:
        super().__init__(f"{operation} answered with {size:,} bytes, over the {limit:,} the kit reads for it")
        self.operation = operation
        self.size = size
        self.limit = limit


def answer_limit(operation: str) -> int:
    """The most bytes the kit reads of an answer to ``operation`` (:data:`ANSWER_BYTES`)."""
    return ANSWER_BYTES.get(operation, OTHER_ANSWER_BYTES)


def refuse_huge_answers(operation_model: Any, response_dict: Mapping[str, Any], **_: Any) -> None:
    """botocore's before-parse hook, registered first: an answer over its operation's bound raises
    :class:`AnswerTooLarge` before botocore (or any other hook) parses a byte of it."""
    body = response_dict.get("body", b"")
    size = len(body) if isinstance(body, (bytes, bytearray, str)) else 0  # a stream is no operation of the kit's
    operation = str(operation_model.name)
    limit = answer_limit(operation)
    if size > limit:
        raise AnswerTooLarge(operation, size, limit)


def isolated_botocore_session() -> Any:
    """A botocore session that reads no AWS configuration (no profile, no config or credentials file).

    A replay needs none, and must not fail on a machine where ``AWS_PROFILE`` names a missing profile
    or ``~/.aws/config`` does not parse.
    """
    import botocore.session

    return botocore.session.Session(
        session_vars={
            "profile": (None, None, None, None),
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
            # Settings botocore also reads from the environment, each able to stop a client being made
            # (AWS_DEFAULTS_MODE=bogus, AWS_ENDPOINT_URL="not a url": red team 15c): fixed, not read.
            "defaults_mode": (None, None, "legacy", None),
            "ignore_configured_endpoint_urls": (None, None, True, None),
            "use_fips_endpoint": (None, None, False, None),
            "use_dualstack_endpoint": (None, None, False, None),
        }
    )


@functools.lru_cache(maxsize=1)
def service_model() -> Any:
    """botocore's model of Rekognition, loaded once by a session that reads no AWS configuration (a broken
    ~/.aws/config or a missing AWS_PROFILE must not stop a replay, which needs neither)."""
    return isolated_botocore_session().get_service_model("rekognition")


def gender_vocabulary() -> Vocabulary:
    """Rekognition's gender labels, as botocore's service model declares them."""
    model = service_model()
    enum = list(model.shape_for("GenderType").enum)
    labels: dict[str, str] = {}
    for label in enum:
        meaning = DEFAULT_LABEL_MAP.get(normalise_key(label))
        if meaning is None:
            raise AdapterError(f"botocore's Rekognition GenderType has {label!r}, which the kit cannot map yet")
        labels[label] = meaning
    import botocore

    # DetectFaces gives Gender.Confidence with every Gender (the service model's GenderType shape).
    return Vocabulary(
        labels=labels, source=f"botocore {botocore.__version__} service model, shape GenderType", gives_confidence=True
    )


class NonAnswer(Exception):
    """An HTTP answer not in Rekognition's shape (see shape_problem): retried, then the photo's error."""

    def __init__(self, problem: str, status: int, retries: int = 0) -> None:
        super().__init__(problem)
        self.problem = problem
        self.status = status
        self.retries = retries  # how often botocore asked again already (it does for 5xx and 429)


def max_attempts() -> int:
    """Attempts per call, as botocore counts them: ``AWS_MAX_ATTEMPTS``, else its modes' default of 3."""
    try:
        return max(1, int(os.environ.get("AWS_MAX_ATTEMPTS", "3")))
    except ValueError:
        return 3


class Refused(Exception):
    """The service refused one photo (not the run): its code and message become the photo's outcome."""

    def __init__(self, code: str, message: str) -> None:
        if not code and not message:
            message = "the service refused it without an error code or message"
        if len(message) > MAX_REASON:  # a vendor's message becomes a photo's reason in every report
            message = f"{message[:MAX_REASON]}... ({len(message)} characters)"
        super().__init__(f"{code}: {message}".strip(": ") if code else message)
        self.code = code


def error_type(response: Mapping[str, Any]) -> str:
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


@functools.lru_cache(maxsize=64)
def model_facts(operation: str) -> tuple[frozenset[str], frozenset[str]]:
    """The output members of ``operation`` and the errors botocore's model documents for it."""
    from botocore.model import OperationNotFoundError

    try:
        model = service_model().operation_model(operation)
    except OperationNotFoundError:  # an operation the model does not know: nothing is documented for it
        return frozenset(), frozenset()
    members = frozenset(model.output_shape.members) if model.output_shape is not None else frozenset()
    return members, frozenset(shape.name for shape in model.error_shapes)


def _header(headers: Mapping[str, Any], name: str) -> str:
    for key, value in headers.items():
        if str(key).lower() == name:
            text = value[0] if isinstance(value, list) and value else value
            return str(text.decode("latin-1") if isinstance(text, bytes) else text)
    return ""


def _preview(body: bytes) -> str:
    """The start of a body for a message: one line, escaped, cut."""
    from .._untrusted import shown

    text = " ".join(body[:400].decode("utf-8", "replace").split())
    return shown(text, 60)


_NOT_JSON = object()
# The member an operation's answer is about: an answer without it says nothing (an empty list is an answer).
_ANSWER_MEMBER = {
    "DetectFaces": "FaceDetails",
    "IndexFaces": "FaceRecords",
    "SearchFacesByImage": "FaceMatches",
    "CompareFaces": "FaceMatches",
}


def shape_problem(operation: str, status: int, headers: Mapping[str, Any], body: bytes) -> str:
    """Why an HTTP answer is not in Rekognition's shape at all ("" when it is).

    Rekognition answers a 200 with a JSON object of the operation's output members, and an error with
    a JSON object naming its type (``__type``, or the ``x-amzn-ErrorType`` header). Anything else
    came from something that is not the service (a proxy's HTML page, a gateway's 502, a load
    balancer's bare 429, a stand-in's JSON of another shape) and says nothing about the photo.
    """
    import json

    kind = _header(headers, "content-type").split(";")[0].strip() or "untyped"
    try:
        parsed: Any = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        parsed = _NOT_JSON
    if parsed is _NOT_JSON:
        return f"HTTP {status} with a {kind} body that is not JSON ({_preview(body)})"
    if parsed is None:
        return f"HTTP {status} with an empty body"
    if not isinstance(parsed, dict):
        return f"HTTP {status} with JSON that is not an object ({_preview(body)})"
    if status == 200:
        members, _ = model_facts(operation)
        if not parsed:
            # Every Rekognition answer names at least its result: {} is nobody's answer ("no face" it is not).
            return f"HTTP 200 with an empty JSON object, not a {operation} answer"
        if members and not set(parsed) & members:
            from .._untrusted import shown_list

            return f"HTTP 200 with JSON that is not a {operation} answer (members {shown_list(sorted(parsed), 5)})"
        essential = _ANSWER_MEMBER.get(operation)
        if essential is not None and essential not in parsed:
            from .._untrusted import shown_list

            return (
                f"HTTP 200 with JSON that has no {essential}, so it is not a {operation} answer "
                f"(members {shown_list(sorted(parsed), 5)})"
            )
        return ""
    if status >= 300 and not error_type({"body": body, "headers": headers}):
        return f"HTTP {status} without an error type ({_preview(body)})"
    if status < 200:
        return f"HTTP {status}"
    return ""


def judge(operation: str, response: Mapping[str, Any]) -> str:
    """Why a live response does not belong in the recording ("" when it does: the service's own answer).

    Kept: well-formed answers, and the errors the service's model documents for the operation about
    the request itself (an invalid or oversized image). Not kept: anything not in the service's
    shape, server faults, throttling, credential refusals, and errors not documented for the
    operation; they say something about that moment or that endpoint, not about the photo, and a
    later run must ask again rather than replay them.
    """
    from ..recording.cassette import decoded_body

    status = int(response.get("status", {}).get("code", 200))
    headers = response.get("headers", {})
    body = decoded_body(response)
    if len(body) > answer_limit(operation):  # refused unparsed by the adapter: never replayed either
        return f"an answer of {len(body):,} bytes, over the {answer_limit(operation):,} the kit reads for {operation}"
    problem = shape_problem(operation, status, headers, body)
    if problem:
        return problem
    if status >= 500:
        return f"HTTP {status}, a server fault"
    if status >= 300:
        code = error_type({"body": body, "headers": headers})
        if code in THROTTLED:
            return f"{code}, throttling"
        if code in CREDENTIALS:
            return f"{code}, a refusal of the credentials"
        if code not in model_facts(operation)[1]:
            return f"{code}, which Rekognition's model does not document for {operation}"
    return ""


def flag_non_answers(
    operation_model: Any, response_dict: Mapping[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """botocore's before-parse hook: mark a response not in Rekognition's shape, replayed or live.

    botocore would parse a 200 with an HTML body as an answer with no faces ("no face"): the mark
    makes the adapter treat it as the non-answer it is.
    """
    body = response_dict.get("body", b"")
    problem = shape_problem(
        str(operation_model.name),
        int(response_dict.get("status_code", 0)),
        response_dict.get("headers", {}),
        body if isinstance(body, bytes) else str(body).encode(),
    )
    if problem:
        customized_response_dict[NON_ANSWER] = problem
