"""A vcrpy cassette backed by a :class:`~conformance.recording.store.RecordingStore`.

vcrpy intercepts boto3's HTTP traffic (so botocore serialises, signs and parses for real); this
cassette decides what is replayed and what is kept. Unlike vcrpy's default cassette, which scans
every recording for every request (quadratic in the cassette size, and positional for Rekognition,
whose requests all look alike to vcrpy's default matchers), it looks requests up by key: the
operation (from ``X-Amz-Target`` for AWS's JSON protocol, or as the adapter names it) and the body
with each image replaced by its SHA-256 digest.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .scrub import canonical_body, operation_of, redact, request_key, scan_text, scrub_body_account_ids, scrub_headers

if TYPE_CHECKING:
    from pathlib import Path

    from .store import RecordingStore

__all__ = [
    "RECORD_MODES",
    "RECORD_MODES_HELP",
    "amz_target",
    "decoded_body",
    "effective_mode",
    "record_mode",
    "replaying",
]

# pytest-recording's record modes and their meaning here.
RECORD_MODES = ("none", "once", "new_episodes", "all")
RECORD_MODES_HELP = "record modes: none (replay only, the default), once, new_episodes, all (or rewrite)"


def record_mode(text: str) -> str:
    """The record mode ``text`` names, as one of :data:`RECORD_MODES`: the one place a mode is validated.

    ``rewrite`` is pytest-recording's name for ``all`` and becomes ``all`` here, so nothing downstream
    knows the alias. Raises ValueError naming ``text`` and the modes.
    """
    mode = "all" if text == "rewrite" else text
    if mode not in RECORD_MODES:
        raise ValueError(f"record mode {text!r}: {RECORD_MODES_HELP}")
    return mode


_KEY_ATTR = "_conformance_key"
# Operations whose answer is about the image sent: one recorded answer per image is enough (Rekognition's, by default).
_ANSWERS_ABOUT_AN_IMAGE = frozenset({"DetectFaces", "IndexFaces", "SearchFacesByImage", "CompareFaces"})


def amz_target(request: Any) -> str:
    """The operation of an AWS JSON-protocol request (Rekognition's): named only in its ``X-Amz-Target`` header."""
    return operation_of(request.headers.get("X-Amz-Target"))


def effective_mode(mode: str, store: RecordingStore) -> str:
    """vcrpy's record mode for a requested mode: ``once`` records only until a recording is complete.

    (vcrpy's ``once`` stops recording as soon as a cassette file exists; an interrupted recording
    would then be stuck half-done. Here ``once`` goes on recording what is missing until the store
    says every photo is recorded.)
    """
    mode = record_mode(mode)
    if mode == "once":
        return "none" if store.complete else "new_episodes"
    return mode


def _cassette_class() -> type[Any]:
    from vcr.cassette import Cassette
    from vcr.record_mode import RecordMode

    class IndexedCassette(Cassette):  # type: ignore[misc]
        """vcrpy's Cassette with an index by request key, appending to the store as it records."""

        def __init__(
            self,
            path: str,
            *,
            store: RecordingStore,
            session: dict[str, Any],
            note: str,
            judge: Callable[[str, dict[str, Any]], str],
            secrets: tuple[str, ...] = (),
            on_begin: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
            shape: Callable[[str], frozenset[str]] | None = None,
            operation: Callable[[Any], str] = amz_target,
            per_image: frozenset[str] = _ANSWERS_ABOUT_AN_IMAGE,
            **kw: Any,
        ):
            super().__init__(path, allow_playback_repeats=True, **kw)
            self.store = store
            self.shape = shape
            # Members outside an operation's output shape, dropped from the answers recorded: name -> answers.
            self.dropped: dict[str, int] = {}
            self.judge = judge
            self.secrets = secrets
            self.session = session
            self.note = note
            self.on_begin = on_begin
            self.operation = operation
            self.per_image = per_image
            self.begun = False
            # What became of the last live answer to each request key: "" kept, else why it was not.
            self.verdicts: dict[str, str] = {}
            # What the last live answer to each key said of being the kit's emulator ("", verified, unverified).
            self.claims: dict[str, str] = {}

        # -- keys ---------------------------------------------------------------------------------------

        def _key(self, request: Any) -> tuple[str, str, str]:
            cached: tuple[str, str, str] | None = getattr(request, _KEY_ATTR, None)
            if cached is None:
                operation = self.operation(request)
                canonical = canonical_body(request.body)
                cached = (request_key(operation, canonical), operation, canonical)
                setattr(request, _KEY_ATTR, cached)
            return cached

        # -- vcrpy's cassette interface -----------------------------------------------------------------

        def _load(self) -> None:
            self.rewound = len(self.store) > 0

        def _save(self, force: bool = False) -> None:
            """Nothing to do: the store wrote each interaction as it was recorded."""

        def __len__(self) -> int:
            return len(self.store)

        def __contains__(self, request: Any) -> bool:
            return self._key(request)[0] in self.store

        @property
        def write_protected(self) -> bool:
            return bool(self.record_mode == RecordMode.NONE)

        def can_play_response_for(self, request: Any) -> bool:
            return self.record_mode != RecordMode.ALL and self._key(request)[0] in self.store

        def play_response(self, request: Any) -> dict[str, Any]:
            from .store import RecordingError

            key, operation, _ = self._key(request)
            recorded = self.store.play(key)["response"]
            try:
                headers = {str(name): [str(value)] for name, value in recorded["headers"].items()}
                status = {"code": int(recorded["status"]["code"]), "message": str(recorded["status"]["message"])}
                return {"status": status, "headers": headers, "body": {"string": str(recorded["body"]).encode()}}
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise RecordingError(
                    f"{self.store.path}: the recorded response to {operation} (key {key[:12]}...) is malformed "
                    f"({type(exc).__name__}: {exc}); re-record it"
                ) from None

        def find_requests_with_most_matches(self, request: Any) -> list[Any]:
            return []  # vcrpy's diagnosis compares with every recording; the adapter names what is missing

        def append(self, request: Any, response: dict[str, Any]) -> None:
            from .proof import CLAIM_HEADER, NONCE_HEADER, UNVERIFIED_HEADER, claim

            key, operation, canonical = self._key(request)
            size = _body_size(response)
            if size > MAX_RECORDED_BODY:
                # Far beyond any answer of the service: a hostile or broken endpoint's padding is not kept, and
                # not parsed here either (each reading below parses it: red team 15e F5, 64 times its size).
                self.verdicts[key] = (
                    f"{TOO_LARGE}{size / 2**20:.1f} MB, over the {MAX_RECORDED_BODY // 2**20} MB the kit records"
                )
                return
            # A header anyone can send is no proof of the kit's emulator: its proof of this call's nonce is.
            nonce = next((str(v) for k, v in request.headers.items() if str(k).lower() == NONCE_HEADER), None)
            verdict = claim(response["headers"], decoded_body(response), url=str(request.uri), nonce=nonce)
            self.claims[key] = verdict
            if verdict == "unverified":
                response = {
                    **response,
                    "headers": {
                        (UNVERIFIED_HEADER if str(k).lower() == CLAIM_HEADER else k): v
                        for k, v in response["headers"].items()
                    },
                }
            reason = self.judge(operation, response)
            if reason:
                # Not the vendor's answer about the image (throttling, a server fault, a proxy's page, bad
                # credentials): never replayed; the adapter makes it the photo's error, a later run asks again.
                self.verdicts[key] = f"not recorded: {reason}"
                return
            scrubbed = _scrub_response(response, self.secrets)
            found = scan_text(json.dumps(scrubbed), names=self.secrets)
            if found:
                # A credential survived scrubbing: never written; the adapter says so for the photo, and a later
                # run asks again.
                self.verdicts[key] = f"withheld from the recording: the answer held {', '.join(found)}"
                return
            if self.shape is not None:
                scrubbed = self._within_shape(operation, scrubbed)
            size = len(scrubbed["body"].encode("utf-8"))
            if size > MAX_RECORDED_BODY:
                # Far beyond any answer of the service: a hostile or broken endpoint's padding is not kept.
                self.verdicts[key] = (
                    f"{TOO_LARGE}{size / 2**20:.1f} MB, over the {MAX_RECORDED_BODY // 2**20} MB the kit records"
                )
                return
            self.verdicts[key] = ""
            with _VCR_LOCK:  # threads of one run: one session line, and an image's answer recorded once
                if not self.begun:
                    # The kit's emulator proves itself: the session line says so, for every reader; a claim
                    # without the proof is said too, as what it is.
                    self.session = {**self.session, "emulator": verdict == "verified"}
                    if verdict == "unverified":
                        self.session["emulator_claim"] = "unverified"
                    if self.on_begin is not None:
                        self.session = self.on_begin(self.session)
                    self.store.begin_session(self.session, self.note)
                    self.begun = True
                if operation in self.per_image and key in self.store:
                    return  # two photos with the same bytes, asked at once by two threads: keep the first
                self._append(key, operation, canonical, scrubbed)

        def _within_shape(self, operation: str, scrubbed: dict[str, Any]) -> dict[str, Any]:
            """A 200 answer with only the operation's output members (others are no part of the service's answer)."""
            assert self.shape is not None
            members = self.shape(operation)
            if not members or int(scrubbed["status"]["code"]) != 200:
                return scrubbed
            try:
                parsed = json.loads(scrubbed["body"])
            except (ValueError, RecursionError):
                return scrubbed  # the judge decides about a body that is not JSON
            if not isinstance(parsed, dict) or set(parsed) <= members:
                return scrubbed
            with _VCR_LOCK:  # threads of one run count into one tally
                for name in set(parsed) - members:
                    shown = name if len(name) <= 60 else name[:57] + "..."
                    self.dropped[shown] = self.dropped.get(shown, 0) + 1
            kept = {name: value for name, value in parsed.items() if name in members}
            text = json.dumps(kept, ensure_ascii=False)
            headers = {
                name: (str(len(text.encode())) if name.lower() == "content-length" else value)
                for name, value in scrubbed["headers"].items()
            }
            return {**scrubbed, "headers": headers, "body": text}

        def _append(self, key: str, operation: str, canonical: str, scrubbed: dict[str, Any]) -> None:
            self.store.append(
                key,
                operation,
                {"operation": operation, "body": json.loads(canonical) if canonical else None},
                scrubbed,
            )
            self.dirty = False

    return IndexedCassette


_MAX_BODY = 64 * 1024 * 1024  # far above any Rekognition answer (4,096 matches are under 2 MB)
# The largest answer recorded: 4,096 matches are under 2 MB; an error's message is a line. A larger one (an
# endpoint padding its answers) is used by the run, said per photo, and not recorded.
MAX_RECORDED_BODY = 8 * 1024 * 1024
# How the verdict on such an answer begins: an adapter may refuse it unparsed too (Rekognition's answers are
# all smaller), so the warning does not say it was used.
TOO_LARGE = "withheld from the recording: the answer is "


def _gunzip(data: bytes) -> bytes:
    """Decompress a gzip body, refusing one that inflates beyond ``_MAX_BODY`` (a gzip bomb)."""
    import zlib

    from .store import RecordingError

    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(data, _MAX_BODY)
    except zlib.error as exc:
        raise RecordingError(f"a gzip-encoded response that does not decompress ({exc})") from None
    if inflater.unconsumed_tail:
        raise RecordingError(f"a gzip-encoded response inflating beyond {_MAX_BODY // 2**20} MB: not recorded")
    if not inflater.eof:
        raise RecordingError("a gzip-encoded response that does not decompress (it is cut short)")
    return body


def _body_size(response: Mapping[str, Any]) -> int:
    """A live response's body's size in bytes as it came (gzip not undone: an inflated one is bounded there)."""
    body = response.get("body", {})
    raw = body.get("string", b"") if isinstance(body, Mapping) else body
    return len(raw) if isinstance(raw, (bytes, bytearray)) else len(str(raw).encode())


def decoded_body(response: Mapping[str, Any]) -> bytes:
    """A live response's body as bytes, gzip undone (vcrpy's response dict: ``{"body": {"string": ...}}``)."""
    body = response.get("body", {})
    raw = body.get("string", b"") if isinstance(body, Mapping) else body
    data = raw if isinstance(raw, bytes) else str(raw).encode()
    return _gunzip(data) if data[:2] == b"\x1f\x8b" else data


def _scrub_response(response: dict[str, Any], secrets: tuple[str, ...] = ()) -> dict[str, Any]:
    body = response["body"]["string"]
    headers = dict(response["headers"])
    encoding = next((v for k, v in headers.items() if k.lower() == "content-encoding"), None)
    if encoding and "gzip" in str(encoding):
        # Gzip-encoded bodies do not replay alike across urllib3 versions: keep them decoded. (urllib3 has
        # usually decoded the body already, leaving the header: only bytes still gzip are inflated here.)
        if isinstance(body, bytes) and body[:2] == b"\x1f\x8b":
            body = _gunzip(body)
        headers = {k: v for k, v in headers.items() if k.lower() != "content-encoding"}
    # Account ids in ARNs and standing alone (a hostile endpoint may put them anywhere); a refusal may also
    # quote back what was sent, credentials included.
    text = scrub_body_account_ids(body.decode("utf-8") if isinstance(body, bytes) else str(body))
    if int(response["status"]["code"]) >= 400:
        text = redact(text, secrets)
    kept = scrub_headers(headers)
    for name in list(kept):
        if name.lower() == "content-length":
            kept[name] = str(len(text.encode()))
    return {"status": dict(response["status"]), "headers": kept, "body": text}


_VCR_LOCK = threading.RLock()


@contextmanager
def _thread_safe_vcr() -> Iterator[None]:
    """Make vcrpy's recording safe for threads (``--executor threads:N``).

    To send a request it is recording, vcrpy puts the real connection classes back for a moment
    (``vcr.patch.force_reset``), for every thread: a connection another thread opens in that moment
    is a real one, and its traffic goes unrecorded (measured: 9 of 30 calls recorded with 4
    threads). Here that moment and the opening of connections take turns under one lock; sending
    and waiting for answers still overlap.
    """
    import vcr.patch
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    original_reset = vcr.patch.force_reset
    originals = {pool: pool.__dict__["_new_conn"] for pool in (HTTPConnectionPool, HTTPSConnectionPool)}

    @contextmanager
    def force_reset() -> Iterator[None]:
        with _VCR_LOCK, original_reset():
            yield

    def locked(new_conn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def _new_conn(self: Any) -> Any:
            with _VCR_LOCK:
                return new_conn(self)

        return _new_conn

    vcr.patch.force_reset = force_reset
    for pool, new_conn in originals.items():
        pool._new_conn = locked(new_conn)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        vcr.patch.force_reset = original_reset
        for pool, new_conn in originals.items():
            pool._new_conn = new_conn  # type: ignore[method-assign]


@contextmanager
def replaying(
    path: Path,
    store: RecordingStore,
    mode: str,
    *,
    session: dict[str, Any],
    note: str,
    judge: Callable[[str, dict[str, Any]], str] = lambda operation, response: "",
    secrets: tuple[str, ...] = (),
    on_begin: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    shape: Callable[[str], frozenset[str]] | None = None,
    operation: Callable[[Any], str] = amz_target,
    per_image: frozenset[str] = _ANSWERS_ABOUT_AN_IMAGE,
) -> Iterator[Any]:
    """Patch HTTP so boto3's calls replay from (and, as ``mode`` allows, record into) ``store``.

    ``judge(operation, response)`` says why a live response does not belong in the recording ("" when
    it does); responses it rejects reach the SDK (which may retry them) but are never replayed, and
    the cassette's ``verdicts`` say, per request key, what became of the last live answer. ``secrets``
    (the run's credentials) are redacted from error messages, and a line still holding one of a
    credential's length is never written. ``on_begin(session)`` completes the session line when the
    first answer is recorded. ``shape(operation)`` gives the members of the operation's answer: a
    200's members outside it are dropped from what is recorded, and counted (said when the block ends).
    An answer over :data:`MAX_RECORDED_BODY` is not recorded (the cassette's ``verdicts`` say so).
    ``operation(request)`` names a request's operation (by default an AWS JSON-protocol request's
    ``X-Amz-Target``; a vendor with another protocol gives its own), and ``per_image`` the operations
    whose answer is about the image sent, recorded once per image.
    """
    from vcr.record_mode import RecordMode

    cassette_class = _cassette_class()
    with (
        _thread_safe_vcr(),
        cassette_class.use(
            path=str(path),
            store=store,
            session=session,
            note=note,
            judge=judge,
            secrets=secrets,
            on_begin=on_begin,
            shape=shape,
            operation=operation,
            per_image=per_image,
            record_mode=RecordMode(effective_mode(mode, store)),
        ) as cassette,
    ):
        try:
            yield cassette
        finally:
            if cassette.dropped:
                import sys

                from .._text import printable

                names = ", ".join(f"{name!r} ({count})" for name, count in sorted(cassette.dropped.items())[:5])
                more = f" and {len(cassette.dropped) - 5} more" if len(cassette.dropped) > 5 else ""
                print(
                    printable(
                        f"conformance: WARNING: the endpoint's answers held members outside the operation's output "
                        f"shape: {names}{more} (answers holding each); they were dropped from the recording, which "
                        "keeps only the service's own answer"
                    ),
                    file=sys.stderr,
                )
