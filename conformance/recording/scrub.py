"""What a recording may keep: requests keyed by operation and image digest, no secrets, no faces.

Every Rekognition call is ``POST /`` with the operation only in ``X-Amz-Target``, and the image as
base64 in the JSON body. A request is matched by its **key**: the SHA-256 of the operation and the
canonical body in which every image's bytes are replaced by their SHA-256 digest. Credentials,
signatures, dates and SDK ids are dropped from headers; account ids in ARNs are replaced.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .endpoints import url_host

__all__ = [
    "DROPPED_HEADERS",
    "MIN_SECRET_LENGTH",
    "canonical_body",
    "operation_of",
    "plausible_secrets",
    "redact",
    "redact_log",
    "request_key",
    "scan_text",
    "scrub_account_ids",
    "scrub_arns",
    "scrub_body_account_ids",
    "scrub_headers",
    "scrub_record",
    "scrub_url",
]

# Header names (lower case) never written to a recording.
DROPPED_HEADERS = frozenset(
    {
        "authorization",
        "x-amz-security-token",
        "x-amz-date",
        "x-amz-content-sha256",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
        "user-agent",
        "cookie",
        "set-cookie",
        "x-amz-user-agent",
        # Per-call: the nonce a recording run sends and the emulator's proof of it (conformance.recording.proof).
        "x-conformance-nonce",
        "x-conformance-emulator-proof",
    }
)
# Rekognition's CollectionArn has no "arn:" prefix ("aws:rekognition:us-east-1:123456789012:collection/x"):
# both forms are scrubbed.
_ARN_ACCOUNT = re.compile(r"((?:arn:)?aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:)\d{12}(:)")
# Things that must never appear in a recording, checked on decoded text (see RECORDING-NOTES: YAML hid
# bytes headers as !!binary, so a scan of raw text is not enough).
_FORBIDDEN = {
    "an AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "an Authorization header": re.compile(r'"authorization"\s*:', re.IGNORECASE),
    "a security token": re.compile(r"x-amz-security-token", re.IGNORECASE),
    "a request signature": re.compile(r"AWS4-HMAC-SHA256|Signature="),
    "JPEG bytes (base64)": re.compile(r"/9j/4AAQ|/9j/4"),
    "PNG bytes (base64)": re.compile(r"iVBORw0KGgo"),
    "an account id in an ARN": re.compile(r"(?:arn:)?aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:"),
    'image bytes ("Bytes")': re.compile(r'"Bytes"\s*:'),
}


def operation_of(target: str | bytes | None) -> str:
    """``RekognitionService.DetectFaces`` -> ``DetectFaces``."""
    if isinstance(target, bytes):
        target = target.decode("latin-1")
    return (target or "").rpartition(".")[2]


# How deep a body may nest and still be read as JSON. Rekognition's requests and answers nest a few
# levels; a deeper body is kept as a digest, as a body that is not JSON is. The bound is the kit's, not
# the interpreter's: Python 3.12+ parses far deeper than 3.11 (and than Python code may recurse), and a
# request's key must not depend on the Python version that made it.
MAX_NESTING = 64


def _too_deep(value: Any, limit: int = MAX_NESTING) -> bool:
    """Whether ``value`` (parsed JSON) nests arrays and objects more than ``limit`` deep; no recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def _replace_images(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key == "Bytes" and isinstance(item, str):
                try:
                    raw = base64.b64decode(item, validate=True)
                except (binascii.Error, ValueError):
                    raw = item.encode("utf-8", "surrogatepass")  # not base64: digest the text as it came
                out["Sha256"] = hashlib.sha256(raw).hexdigest()
            else:
                out[key] = _replace_images(item)
        return out
    if isinstance(value, list):
        return [_replace_images(item) for item in value]
    return value


def canonical_body(body: bytes | str | None) -> str:
    """The request body as canonical JSON with every ``"Bytes": <base64>`` replaced by its ``"Sha256"``.

    Idempotent: a canonical body maps to itself (vcrpy runs its hooks several times per request).
    """
    if body is None or body == b"" or body == "":
        return ""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        parsed = None
    else:
        if not _too_deep(parsed):  # bounded: the walks below recurse at most MAX_NESTING deep
            return json.dumps(_replace_images(parsed), sort_keys=True, separators=(",", ":"))
    # Not JSON, or nested deeper than any answer: keep only a digest, never the bytes.
    raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    return json.dumps({"Sha256OfBody": hashlib.sha256(raw).hexdigest()}, sort_keys=True, separators=(",", ":"))


def request_key(operation: str, canonical: str) -> str:
    """The match key of a request: SHA-256 over the operation and its canonical body."""
    return hashlib.sha256(f"{operation}\n{canonical}".encode()).hexdigest()


def scrub_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """Headers fit to keep: secrets and per-call ids dropped, bytes decoded, account ids out, one string per name."""
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in DROPPED_HEADERS:
            continue
        values = value if isinstance(value, list) else [value]
        text = ", ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values)
        kept[name] = scrub_account_ids(text)
    return kept


def scrub_arns(text: str) -> str:
    """Replace the 12-digit account id in every ARN with ``ACCOUNT``."""
    return _ARN_ACCOUNT.sub(r"\1ACCOUNT\2", text)


# The shortest credential AWS issues: access key ids are 16 to 128 characters, secret keys 40. A literal
# shorter than this (a placeholder such as "x" or "testing") is no secret, and searching for it would
# find it in every answer: the scan then withheld every line of a recording (issue 12, case 7).
MIN_SECRET_LENGTH = 16


def plausible_secrets(names: Iterable[str]) -> tuple[str, ...]:
    """The run's credentials that are long enough to be real ones (see :data:`MIN_SECRET_LENGTH`)."""
    return tuple(name for name in names if name and len(name) >= MIN_SECRET_LENGTH)


def scan_text(text: str, names: Iterable[str] = ()) -> list[str]:
    """What in ``text`` a recording must not hold (empty when clean); ``names`` are extra literal secrets.

    Only ``names`` of a credential's plausible length are searched for (:func:`plausible_secrets`).
    """
    found = [what for what, pattern in _FORBIDDEN.items() if pattern.search(text)]
    found.extend(f"the run's own credential ({name[:4]}...)" for name in plausible_secrets(names) if name in text)
    return found


def scrub_url(url: str) -> str:
    """An endpoint URL fit to write down: user and password, query and fragment taken out.

    ``http://user:pass@host:8080/path?apikey=K`` -> ``http://redacted@host:8080/path?redacted``.
    Rekognition's endpoints carry neither; a proxy's URL may carry its credentials in both. Scrubbing
    a scrubbed URL changes nothing.

    The URL is read as urllib3 reads it (:func:`~conformance.recording.endpoints.sent_to`), never as
    Python's ``urlsplit`` does: on ``http://192.0.2.2:18790\\@127.0.0.1:1`` (red team 17c) urlsplit
    names 127.0.0.1 while botocore's requests go to 192.0.2.2, and a report must name the host the
    photos went to. A path that holds what could pass for another host (an ``@``, a backslash,
    whitespace or a control character) is written ``/redacted``.
    """
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parts = parse_url(url)
    except (LocationParseError, ValueError):  # not a URL one can take apart: keep nothing of it but its length
        return f"(an endpoint URL that does not parse, {len(url)} characters)"
    host = (parts.host or "").lower()
    host = url_host(host)
    netloc = (
        ("redacted@" if parts.auth is not None else "") + host + (f":{parts.port}" if parts.port is not None else "")
    )
    path = parts.path or ""
    if re.search(r"[@\\\s\x00-\x1f\x7f]|%5c|%40", path, re.IGNORECASE):
        path = "/redacted"
    scheme = f"{parts.scheme}://" if parts.scheme else ""
    query = "?redacted" if parts.query else ""
    return f"{scheme}{netloc}{path}{query}{'#redacted' if parts.fragment else ''}"


_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b")
# The header's value however it is printed: "x-amz-security-token:TOKEN", or botocore's DEBUG dict
# "'X-Amz-Security-Token': b'TOKEN'".
_TOKEN_HEADER = re.compile(r"(x-amz-security-token['\"]?\s*[:=]\s*(?:b?['\"])?)[^\s'\",;]+", re.IGNORECASE)
_SIGNATURE = re.compile(r"(Signature=)[0-9a-f]+|(Credential=)[^\s,'\"]+", re.IGNORECASE)
# A 12-digit account id standing alone: not part of a longer number or a decimal, nor of an id such as a
# UUID's last group or a request id ("...-000000000001"), which are joined by letters, digits or dashes.
_BARE_ACCOUNT = re.compile(r"(?<![\w.-])\d{12}(?![\w.-])")
# Credentials in a URL: user and password before the host, and query parameters named like secrets.
_URL_USERINFO = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@'\"<>]+@")
_URL_SECRET_PARAM = re.compile(
    r"([?&;](?:api[_-]?key|apikey|key|token|access[_-]?token|auth|authorization|secret|password|passwd|pwd|"
    r"sig|signature|credential|x-amz-[a-z-]+)=)[^&;\s'\"<>]+",
    re.IGNORECASE,
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """A vendor's message fit to print, report or record: credentials and account ids taken out.

    Services echo what they were sent when they refuse it (an Authorization header quoted back, a
    canonical request with its security token, an ARN naming the account): ``secrets`` (the run's own
    key id, secret key and token) become ``[redacted]``, and so does anything shaped like an access key
    id, a security-token header value or a signature; 12-digit account ids become ``ACCOUNT``.
    """
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    text = _KEY_ID.sub("[redacted]", text)
    text = _TOKEN_HEADER.sub(r"\1[redacted]", text)
    text = _SIGNATURE.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)
    text = _URL_USERINFO.sub(r"\1[redacted]@", text)
    text = _URL_SECRET_PARAM.sub(r"\1[redacted]", text)
    return _BARE_ACCOUNT.sub("ACCOUNT", scrub_arns(text))


# What botocore logs at DEBUG about a signed call besides credentials: the signature it computed
# ("Signature:\n<hex>"), the Authorization header's whole value, and the request body with the image
# as base64 (faces are biometric data: a CI log is no place for them).
_SIGNATURE_LINE = re.compile(r"(Signature:\s*)[0-9a-f]{16,}", re.IGNORECASE)
_AUTHORIZATION_VALUE = re.compile(r"(authorization['\"]?\s*[:=]\s*b?['\"]?)[^'\"\r\n]+", re.IGNORECASE)
_IMAGE_BYTES = re.compile(r"""(["']Bytes["']\s*:\s*b?["'])[A-Za-z0-9+/=\\n]+""")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{100,}={0,2}")


def redact_log(text: str, secrets: Iterable[str] = ()) -> str:
    """A log message of the SDK fit for a CI log: :func:`redact`, then signatures, Authorization header
    values and image bytes (as base64, in a request body or anywhere a run of 100 base64 characters
    stands) replaced by ``[redacted]``."""
    text = redact(text, secrets)
    text = _SIGNATURE_LINE.sub(r"\1[redacted]", text)
    text = _AUTHORIZATION_VALUE.sub(r"\1[redacted]", text)
    text = _IMAGE_BYTES.sub(r"\1[image bytes redacted]", text)
    return _BASE64_RUN.sub("[base64 redacted]", text)


def scrub_account_ids(text: str) -> str:
    """Account ids taken out of ``text``: in ARNs, and 12-digit ids standing alone (a hostile endpoint's
    ``x-amz-account-id`` header, or ``"Owner": "123456789012"``), replaced by ``ACCOUNT``."""
    return _BARE_ACCOUNT.sub("ACCOUNT", scrub_arns(text))


def scrub_body_account_ids(text: str) -> str:
    """:func:`scrub_account_ids` for a body that may be JSON: a 12-digit number becomes the string
    ``"ACCOUNT"`` (replaced as text, ``"Owner": ACCOUNT`` would not be JSON any more)."""
    text = scrub_arns(text)
    if not _BARE_ACCOUNT.search(text):
        return text
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        document = None
    else:
        if not _too_deep(document):  # bounded: _scrub_value recurses at most MAX_NESTING deep
            return json.dumps(_scrub_value(document), ensure_ascii=False, separators=(",", ":"))
    return _BARE_ACCOUNT.sub("ACCOUNT", text)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_account_ids(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and 10**11 <= abs(value) < 10**12:
        return "ACCOUNT"
    if isinstance(value, dict):
        return {scrub_account_ids(str(k)): _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v) for v in value]
    return value


def scrub_record(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A record the kit wrote about a run (a preflight's), fit for a session line: every string :func:`redact`-ed
    (credentials, URL logins and secret parameters, account ids), a 12-digit number made ``ACCOUNT``, and a string
    that still holds what a recording must not (:func:`scan_text`) withheld, saying what it held."""
    if isinstance(value, str):
        text = redact(value, secrets)
        found = scan_text(text, secrets)
        return f"[withheld from the recording: it held {', '.join(found)}]" if found else text
    if isinstance(value, Mapping):
        return {scrub_account_ids(str(k)): scrub_record(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_record(v, secrets) for v in value]
    return _scrub_value(value)
