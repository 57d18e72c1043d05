"""The ``rekognition`` adapter: Amazon Rekognition DetectFaces through boto3, replayed or recorded.

``--analyzer rekognition``. Region, profile and credentials come from boto3's usual configuration
(``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_PROFILE``, shared config and credentials files);
``AWS_ENDPOINT_URL_REKOGNITION`` points it at another endpoint, such as the kit's emulator.

The recording's bookkeeping, the same for any recorded vendor, is
:class:`conformance.recording.recorder.Recorder`'s (opening, checking and completing the recording,
worker processes, counts, where answers came from); this module holds what is Rekognition's own.
Traffic goes through vcrpy into a recording (see :mod:`conformance.recording`) at
``<cassette dir>/<dataset folder name>-<tag>/rekognition.jsonl`` (the tag tells apart datasets whose
folders share a name; see :mod:`conformance.recording.paths`; a recording at the older
``<dataset folder name>/`` still replays, and a recording run carries its answers over). With record
mode ``none`` (the default) every answer comes from the recording, the network is blocked
(pytest-recording's socket guard: remote connections fail) and no AWS configuration is read; a photo
with no recording stops the run with the command that records it. Modes that record call the
endpoint: a non-loopback one only with ``allow_live`` (``--conformance-allow-live``), after saying how
many calls it will make, holding the recording's lock for the whole run (one writer at a time).

What is recorded: only Rekognition's own answers. A response is kept when it is a 200 with a JSON
object of the operation's output shape, or one of the errors botocore's model documents for the
operation (an invalid or oversized image, say); never throttling, a server fault, a refusal of the
credentials, an error the model does not document for the operation (``UnknownOperationException``
from a stand-in), or a body that is not Rekognition's JSON at all (a proxy's 502/503/504 page, a bare
429, a 200 with HTML): those are retried and become that photo's error, unrecorded. ``complete`` is
written when every planned request has its answer in the recording, counted; a run with photos
missing records them under ``once`` as under ``new_episodes``. An answer the secret scan withholds is
said per photo and in the run's final accounting.

Each attempt's whole time is bounded by ``timeout`` (``--timeout``), not only each socket read: an
endpoint that drip-feeds its answer cannot hold a run.

Images: JPEG and PNG are sent as they are; other formats Pillow reads are re-encoded as PNG
(lossless, and the same bytes on every run, so recordings replay); an image over the API's 5 MB
limit for image bytes is an ``error`` outcome naming its size. Rekognition's vocabulary is read from
botocore's service model (``GenderType``), not typed in. Throttling is retried with botocore's
adaptive retry mode; invalid images and other per-photo refusals become ``error`` outcomes with the
reason; credential and access errors stop the run with how to set credentials.

Why this is one module of about 1,100 lines: what is left is one object, the analyzer of a run, whose
methods share its per-run state (the boto3 client, the rate limiter, the route its requests leave by,
the data-protection preflight, the face-search collection): sending a call, guarding a live one,
searching and describing the run each read several of them. What was not that state has left: the
recording's bookkeeping (:mod:`conformance.recording.recorder`), which answers are Rekognition's own
(:mod:`.rekognition_answers`), the rate limit and call deadlines (:mod:`conformance._pacing`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import file_digest
from .._text import printable
from ..errors import AdapterError, ConformanceError, ManifestError
from ..observation import Face, Observation
from ..recording import endpoints
from ..recording.endpoints import is_loopback, route
from ..recording.recorder import Planned
from ..recording.scrub import redact, scrub_url
from .base import AdapterSettings, Capabilities, EvidenceFile, SessionPlan, _overlap, choose_face, declares, no_file
from .rekognition_answers import (
    CREDENTIALS,
    NON_ANSWER,
    THROTTLED,
    AnswerTooLarge,
    NonAnswer,
    Refused,
    flag_non_answers,
    gender_vocabulary,
    isolated_botocore_session,
    judge,
    max_attempts,
    model_facts,
    refuse_huge_answers,
)

if TYPE_CHECKING:
    from .._pacing import TokenBucket
    from ..dataset import Dataset, Photo
    from ..matching import SearchOutcome
    from ..recording.store import RecordingStore
    from ..retention import Source

__all__ = ["ADAPTER_VERSION", "MAX_IMAGE_BYTES", "RekognitionAnalyzer", "create"]

# Bump when the requests the adapter sends change shape: recordings are keyed by request content.
ADAPTER_VERSION = "1"
MAX_IMAGE_BYTES = 5 * 1024 * 1024
# Only when the settings carry no price (an adapter made directly): conformance run and the pytest plugin pass
# --price-per-1000 or conformance plan's DEFAULT_PRICE, the same figure (tests/test_rt17c.py keeps them equal).
PRICE_PER_IMAGE_USD = 0.001  # AWS's published first-tier DetectFaces price; check current pricing
# What a sequential run's preflight says of the photos it expects to send: the stopping look depends on the true
# gap, which the run does not know before it sends; conformance plan sizes the audit for given gaps.
SEQUENTIAL_EXPECTED = "expected: depends on the true gap; see `conformance plan`"


def _expected(photos: int | None, per_image: float) -> str:
    """A sequential run's expected photos and their cost, as the run computed them (SessionPlan.looks_expected)."""
    if photos is None:
        return SEQUENTIAL_EXPECTED
    return (
        f"expected about {photos} photos (${photos * per_image:,.2f}) on data sized by `conformance plan --sequential` "
        "with the truth at its design point (fewer far from the tolerance, up to all of them near it or on fewer "
        "people than planned)"
    )


# Calls per second to a live (non-loopback) endpoint unless --rate says otherwise: Rekognition's lowest
# default quota (5 transactions per second in most regions; 50 in us-east-1, us-west-2 and eu-west-1 for
# DetectFaces). Your account's quotas: AWS Service Quotas console, service "Amazon Rekognition".
DEFAULT_RATE = 5.0
_ATTRIBUTES = ["DEFAULT", "GENDER"]
_SENT_AS_IS = ("JPEG", "PNG")
_MAX_MATCHES = 4096  # the API's largest MaxFaces: every match at or above the search threshold comes back
_HOW_TO_SET_CREDENTIALS = (
    "set credentials the way boto3 reads them (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or "
    "~/.aws/credentials) for an identity allowed rekognition:DetectFaces; or replay recordings with "
    "--record-mode none, which needs none"
)
RECORDING_FILE = "rekognition.jsonl"
_VENDOR_HOST = (
    r"rekognition(?:-fips)?\.[a-z0-9-]+\.(?:amazonaws\.com|amazonaws\.com\.cn|api\.aws|api\.amazonwebservices\.com\.cn)"
)


@declares(lambda _: RekognitionAnalyzer.capabilities, argument_file=no_file)
def create(argument: str | None, *, dataset: Dataset, settings: AdapterSettings | None = None) -> RekognitionAnalyzer:
    """Entry point: ``--analyzer rekognition``."""
    if argument:
        raise AdapterError(
            f"the rekognition adapter takes no argument (got {argument!r}); set the region and profile the "
            "way boto3 reads them (AWS_REGION, AWS_PROFILE) and the endpoint with AWS_ENDPOINT_URL_REKOGNITION"
        )
    return RekognitionAnalyzer(dataset=dataset, settings=settings or AdapterSettings())


def _key(operation: str, params: Mapping[str, Any]) -> str:
    """The recording key of a request from its parameters, images given as ``{"Sha256": digest}``.

    The same canonical JSON (sorted keys, compact) that :func:`~conformance.recording.scrub.canonical_body`
    makes of the body botocore sends, so a key computed here finds the recorded interaction.
    """
    import json

    from ..recording.scrub import request_key

    return request_key(operation, json.dumps(params, sort_keys=True, separators=(",", ":")))


def _send_nonce(request: Any, **_: Any) -> None:
    """botocore's before-send hook: a fresh nonce with each call to a loopback endpoint, for the emulator to prove."""
    from ..recording.proof import NONCE_HEADER, new_nonce

    request.headers[NONCE_HEADER] = new_nonce()


def _rearm_deadline(**_: Any) -> None:
    """botocore's before-send hook: each attempt of a call gets the whole ``--timeout``."""
    from .._pacing import rearm_deadline

    rearm_deadline()


def endpoint_class(url: str, *, emulator: bool = False, proxy: str | None = None, own_trust: bool = False) -> str:
    """Which kind of endpoint ``url`` is, Amazon's public Rekognition endpoints being the vendor's:
    :func:`conformance.recording.endpoints.endpoint_class`, which says what each class means."""
    return endpoints.endpoint_class(url, vendor_host=_VENDOR_HOST, emulator=emulator, proxy=proxy, own_trust=own_trust)


def _transport(client: Any, endpoint: str) -> dict[str, Any]:
    """How the client reaches ``endpoint``: the proxy it goes through, and what its TLS trusts, for the session line.

    Read from the client botocore built (its HTTP session), which applied ``HTTPS_PROXY``/``NO_PROXY``,
    ``AWS_CA_BUNDLE`` and the config file's ``ca_bundle`` already. A bundle is named by its file name and
    digest, never its folder (a home folder names a person).
    """
    http = getattr(getattr(client, "_endpoint", None), "http_session", None)
    out: dict[str, Any] = {}
    proxies = getattr(http, "_proxy_config", None)
    proxy_for = getattr(proxies, "proxy_url_for", None)
    proxy = proxy_for(endpoint) if callable(proxy_for) else None
    if proxy:
        out["proxy"] = scrub_url(str(proxy))
    if not endpoint.lower().startswith("https"):
        return out
    verify = getattr(http, "_verify", True)
    if verify is False:
        out["tls_verified"] = False
    elif isinstance(verify, str):
        from botocore.httpsession import where  # the bundle botocore trusts by default (certifi's, or its own)

        bundle = Path(verify)
        try:
            default: Path | None = Path(where()).resolve()
        except OSError:
            default = None
        if bundle.resolve() != default:
            digest = file_digest(bundle) if bundle.is_file() else "unreadable"
            out["ca_bundle"] = {"file": bundle.name, "sha256": digest}
    return out


def _isolated_boto3_session(boto3: Any) -> Any:
    """A boto3 session over :func:`isolated_botocore_session`."""
    return boto3.session.Session(botocore_session=isolated_botocore_session())


def _another_face(searched: Any, box: tuple[float, float, float, float] | None) -> str:
    """What face the service looked at, when it is not the subject's (the manifest's box); "" when it is
    (or there is no box to tell). Rekognition searches and compares the largest face in an image."""
    if box is None or not isinstance(searched, Mapping):
        return ""
    try:
        sides = [_number(searched.get(side), "box") for side in ("Left", "Top", "Width", "Height")]
    except ValueError:
        return ""
    if any(side is None for side in sides):
        return ""
    found = (float(sides[0] or 0), float(sides[1] or 0), float(sides[2] or 0), float(sides[3] or 0))
    if _overlap(found, box) > 0:
        return ""
    shown = ", ".join(f"{v:.3g}" for v in found)
    manifest = ", ".join(f"{v:.3g}" for v in box)
    return (
        f"the largest face in the photo (box {shown}), not the subject's (the manifest's box {manifest}): its "
        "matches are another person's"
    )


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


def _image_bytes(photo: Photo) -> tuple[bytes | None, str]:
    """The bytes to send, or None and the reason the photo cannot be sent.

    Read through :func:`conformance.images.for_upload`, as the loader read them: a JPEG or PNG as it is,
    any other format the kit opens re-encoded as PNG (lossless and deterministic: replays match). A file
    changed since loading (now a pipe, cut short, in a format the kit never opens) is this photo's error.
    """
    from .. import images

    try:
        encoded, _ = images.for_upload(photo.path, _SENT_AS_IS)
    except ManifestError as exc:
        return None, str(exc)
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
    capabilities: Capabilities = Capabilities(
        sees_new_images=True,
        sessions=True,
        calls_service=True,
        records=True,
        workers=True,
        searches=True,
        reads_files=True,
    )

    def evidence_files(self) -> list[EvidenceFile]:
        """The recording the answers are replayed from (and recorded into), sealed into the report."""
        return [EvidenceFile(str(self.recording), "recording")]

    def __init__(self, *, dataset: Dataset, settings: AdapterSettings) -> None:
        from ..recording.recorder import Recorder

        self.dataset = dataset
        self.settings = settings
        self.vocabulary = gender_vocabulary()
        self.cassette_dir = Path(settings.cassette_dir or "cassettes")
        # The recording, its sessions and the run's counts: vendor-neutral, in conformance.recording.recorder.
        self._rec = Recorder(
            dataset=dataset,
            cassette_dir=self.cassette_dir,
            record_mode=settings.record_mode,
            adapter="rekognition",
            version=ADAPTER_VERSION,
            filename=RECORDING_FILE,
            note=_NOTE,
            vendor_host=_VENDOR_HOST,
            sdk=("botocore", "boto3"),
        )
        self._client: Any = None
        # What the run asks of this session (session(plan)): variants and sequential looks the live estimate
        # counts; a look's photos, the only ones its precheck asks the recording for (the looks a run never took
        # were never recorded); hosts a replay must still reach; processes sharing the rate limit.
        self._plan = SessionPlan()
        self._collection = False
        self._gallery: dict[str, str] | None = None  # gallery image digest (ExternalImageId) -> photo id
        self._unindexed: dict[str, str] = {}
        self._limiter: TokenBucket | None = None
        self._live_lock = threading.Lock()  # one preflight a run, however many threads send their first call at once
        self._connected = False  # whether any call reached the endpoint: if none can, the run stops
        self._route = ""  # the endpoint, and the non-loopback proxy its requests leave through (if any)
        self._session_line: dict[str, Any] = {}  # this session's line, written when the preflight runs if not before

    @property
    def retention_preflight(self) -> dict[str, Any] | None:
        """What the data-protection preflight found (None until it ran); every session line the run writes carries it."""
        return self._rec.preflight

    @retention_preflight.setter
    def retention_preflight(self, record: dict[str, Any] | None) -> None:
        self._rec.preflight = record

    @property
    def recording(self) -> Path:
        """The recording file this run replays from and records into."""
        return self._rec.recording

    @property
    def emulated(self) -> bool:
        """Whether any answer so far came from the kit's emulator (proven, or recorded as proven)."""
        return self._rec.emulated

    @property
    def simulated(self) -> bool:
        """Whether any answer said the emulator simulated it (a claim that only warns)."""
        return self._rec.simulated

    @property
    def withheld(self) -> dict[str, str]:
        """Photo (or request) -> why its answer was kept out of the recording by the secret scan."""
        return self._rec.withheld

    # -- the run ----------------------------------------------------------------------------------------

    @contextmanager
    def session(self, plan: SessionPlan | None = None, *, precheck: bool = True) -> Iterator[None]:
        """Open the recording, check what is missing, and patch HTTP for the whole run.

        ``plan`` says what the run will ask (see :class:`~conformance.adapters.base.SessionPlan`; None: the
        dataset's photos and nothing else).
        ``precheck=False`` skips checking, before any call, that a replay holds every request of a whole
        run (for users' own calls, e.g. ``compare``, in a test that replays only those).
        """
        self._plan = plan or SessionPlan()
        with self._rec.session(self, self._plan, precheck=precheck):
            yield

    # -- what the recorder asks of its vendor (conformance.recording.recorder.RecordedVendor) -------------

    record_hint = " (with AWS_ENDPOINT_URL_REKOGNITION set for an emulator)"

    def open_transport(
        self, stack: ExitStack, store: RecordingStore, effective: str, *, live_calls: int, share: int = 1
    ) -> Any:
        """The client, its hooks and vcrpy over ``store``, for a session; returns the cassette."""
        return self._open(stack, store, effective, live_calls=live_calls, share=share)

    def finish(self) -> None:
        """Delete the collection a face-matching run made (its answer counts towards completeness)."""
        self._drop_collection()

    def _open(self, stack: ExitStack, store: RecordingStore, effective: str, *, live_calls: int, share: int = 1) -> Any:
        """Make the client, say what a live run will cost, and patch HTTP to replay from and record into ``store``.

        ``share``: how many processes share the rate limit (each keeps to its share). Returns the cassette.
        """
        import boto3
        import botocore

        from .._pacing import TokenBucket, deadline_sockets
        from .._version import __version__
        from ..recording.cassette import replaying
        from ..recording.guards import network_blocked, redacted_logs
        from ..recording.store import utc_now

        replay_only = effective == "none"
        if replay_only:
            stack.enter_context(network_blocked(self._plan.allowed_hosts))
        self._client = self._make_client(replay_only, boto3)
        # Marks answers not in Rekognition's shape (a proxy's page), live or replayed, before botocore parses them.
        # First of all, an answer over what the service can answer is refused before anything parses it.
        self._client.meta.events.register("before-parse.rekognition", refuse_huge_answers)
        self._client.meta.events.register("before-parse.rekognition", flag_non_answers)
        endpoint = str(self._client.meta.endpoint_url)
        if not replay_only:
            # Before anything is sent or classified: a URL whose readers disagree on its host is refused (red team 17c).
            _refuse_ambiguous(self._client, endpoint, "rekognition")
        self._rec.endpoint = scrub_url(endpoint)
        loopback = is_loopback(endpoint)
        # A proxy, a certificate bundle of the user's: who could have answered in the vendor's place.
        transport = {} if replay_only else _transport(self._client, endpoint)
        # A request is live when it leaves this machine by any route: to a non-loopback endpoint, or to any
        # endpoint through a non-loopback proxy (HTTPS_PROXY, or a Config's proxies; botocore applied NO_PROXY).
        self._route = route(self._rec.endpoint, transport.get("proxy"))
        leaves = not loopback or self._route != self._rec.endpoint
        session = {
            "started": utc_now(),
            "kit": __version__,
            "adapter_version": ADAPTER_VERSION,
            "botocore": botocore.__version__,
            "boto3": boto3.__version__,
            "python": sys.version.split()[0],
            "endpoint": self._rec.endpoint,  # never a user or password or query of the URL
            "region": self._client.meta.region_name,
            "loopback": loopback,
            **transport,
        }
        self._session_line = session  # the preflight writes it at once (begin_at_preflight) if it runs first
        self._rec.transport = {k: session[k] for k in ("proxy", "ca_bundle", "tls_verified") if k in session}
        secrets = self._secrets()
        self._rec.secrets = secrets
        if not replay_only and live_calls and leaves:
            self._check_live(self._route, live_calls)
        if not replay_only and leaves:
            # Whatever was planned (a session opened with precheck=False plans nothing), no request leaves for the
            # vendor before --allow-live and the preflight: they run when the first unrecorded request is sent.
            self._client.meta.events.register("before-send.rekognition", self._guard_live)
        rate = self.settings.rate or (None if loopback else DEFAULT_RATE)
        self._limiter = None if replay_only or rate is None else TokenBucket(rate / share, burst=1)
        if not replay_only:
            stack.enter_context(deadline_sockets())  # --timeout bounds each attempt's whole time
            # botocore sends each attempt (a retry too) after this event: each gets the whole --timeout.
            self._client.meta.events.register("before-send.rekognition", _rearm_deadline)
        if not replay_only and loopback:
            # A fresh nonce a call, which the kit's emulator answers with its proof (conformance.recording.proof).
            self._client.meta.events.register("before-send.rekognition", _send_nonce)
        stack.enter_context(redacted_logs(secrets))
        return stack.enter_context(
            replaying(
                self.recording,
                store,
                effective,
                session=session,
                note=_NOTE,
                judge=judge,
                secrets=secrets,
                on_begin=self._rec.begin_session,
                shape=lambda operation: model_facts(operation)[0],  # only the operation's own members are recorded
            )
        )

    # -- worker processes (--executor processes:N, dask): replay from and record into memory -------------

    def worker_payload(self, photos: Sequence[Photo]) -> dict[str, Any]:
        """What a worker needs to analyse ``photos``: the run's record mode and their recorded interactions."""
        return {
            **self._rec.worker_payload(k for p in photos if (k := self._key_of(p))),
            "share": self._plan.workers,
            "allowed_hosts": self._plan.allowed_hosts,  # a Dask worker must still reach its scheduler
            "retention_preflight": self.retention_preflight,  # passed here: a worker does not ask again
        }

    @contextmanager
    def worker_session(self, payload: Mapping[str, Any]) -> Iterator[Any]:
        """In a worker: replay the shipped interactions, record new ones into memory; yields the hand-back."""
        self._plan = SessionPlan(allowed_hosts=tuple(payload.get("allowed_hosts", ())))
        self.retention_preflight = payload.get("retention_preflight")
        with self._rec.worker_session(self, payload) as recorded:
            # A worker's own preflight, when its call went live first.
            yield lambda: {**recorded(), "retention_preflight": self.retention_preflight}

    def absorb(self, handback: Mapping[str, Any] | None) -> None:
        """In the run's process: append what a worker recorded (never a request twice), and its flags."""

        def preflight(returned: Mapping[str, Any]) -> None:
            if self.retention_preflight is None and returned.get("retention_preflight"):
                self.retention_preflight = dict(returned["retention_preflight"])

        self._rec.absorb(handback, also=preflight)

    def _make_client(self, replay_only: bool, boto3: Any) -> Any:
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        timeout = self.settings.timeout
        if replay_only:
            # Replay needs no identity and no configuration: a session that reads none (a missing AWS_PROFILE or
            # a malformed ~/.aws/config cannot stop it), signing with placeholders so real credentials are never
            # read. Nothing it sends leaves the process.
            return _isolated_boto3_session(boto3).client(
                "rekognition",
                region_name="us-east-1",
                aws_access_key_id="REPLAY",
                aws_secret_access_key="REPLAY",
                config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
            )
        # Adaptive retry (client-side rate limiting on throttles) unless AWS_RETRY_MODE names another of
        # botocore's modes; attempts from boto3's usual AWS_MAX_ATTEMPTS.
        mode = os.environ.get("AWS_RETRY_MODE") or "adaptive"
        config = Config(retries={"mode": mode}, connect_timeout=min(10.0, timeout), read_timeout=timeout)
        try:
            session = boto3.session.Session()
            region = session.region_name or "us-east-1"
            client = session.client("rekognition", region_name=region, config=config)
        except BotoCoreError as exc:
            # A missing profile, a config file that does not parse, a bad setting: boto3's own words, and the way out.
            raise ConformanceError(
                f"the AWS configuration cannot be read to record ({redact(str(exc))}): fix it (AWS_PROFILE, "
                "~/.aws/config), or replay the recording with --record-mode none, which reads none"
            ) from None
        if is_loopback(str(client.meta.endpoint_url)) and session.get_credentials() is None:
            return session.client(
                "rekognition",
                region_name=region,
                aws_access_key_id="EMULATOR",
                aws_secret_access_key="EMULATOR",
                config=config,
            )
        return client

    def _guard_live(self, request: Any, **_: Any) -> None:
        """botocore's before-send hook towards a non-loopback endpoint: a request the recording cannot answer is live.

        Its first one runs :meth:`_check_live` (once a run, under a lock: threads send at once); a request
        the recording answers is replayed by vcrpy below this hook and never leaves the process.
        """
        from ..recording.scrub import canonical_body, operation_of, request_key

        if self.retention_preflight is not None:
            return
        key = request_key(operation_of(request.headers.get("X-Amz-Target")), canonical_body(request.body))
        if self._rec.answers(key):
            return
        with self._live_lock:
            if self.retention_preflight is None:
                self._check_live(self._route, None)

    def _check_live(self, endpoint: str, calls: int | None) -> None:
        """Refuse without ``allow_live``; before the run's first live call, the data-protection preflight.

        ``calls`` is how many the run plans; None when it planned none (a session opened with
        ``precheck=False``: the user's own calls, counted as they are made).
        """
        if calls is None:
            self._check_unplanned(endpoint)
            return
        looks = self._plan.looks
        most = calls
        if looks and self._rec.store is not None:
            # Each look's session plans its own photos: the run may send every photo not yet recorded.
            store = self._rec.store
            most = len({r.key for r in self.planned() if r.key not in store}) + self._plan.variant_calls
        per_image, price = self._price()
        estimate = most * per_image
        sequential = (
            f"; a sequential audit sends them in up to {len(looks)} looks, stopping once every check is settled: "
            + ", ".join(f"look {k} {n} photos (${n * per_image:,.2f})" for k, n in enumerate(looks, 1))
            + f"; {_expected(self._plan.looks_expected, per_image)}"
            if looks
            else ""
        )
        message = (
            f"recording would make up to {most} DetectFaces call(s) to {endpoint} (photos not yet recorded, "
            f"and {self._plan.variant_calls} transformed variants for transformation_invariance), about ${estimate:,.2f} at "
            f"{price}{sequential}. AWS may "
            "store and use submitted images to improve its services unless your organisation has opted out "
            "(AWS Organizations AI services opt-out policy)."
        )
        if not self.settings.allow_live:
            raise ConformanceError(f"{message} Pass --conformance-allow-live (conformance run --allow-live) to proceed")
        if self.retention_preflight is None:  # once a run, before its first live call (a sequential run opens per look)
            from ..retention import preflight

            self.retention_preflight = preflight(
                _organizations_client,
                accept_retention=self.settings.accept_vendor_retention,
                calls=most,
                # A sequential run sends at least this session's look (the first with photos not yet recorded).
                calls_min=min(calls, most) if looks else None,
                calls_by_look=looks,
                calls_expected=self._plan.looks_expected if looks else None,
                price_per_image=per_image,
                price_note=price,
                calls_note=(sequential.removeprefix("; ") or "every photo not yet recorded"),
                source_of=_organizations_source,
                target=_source(self._client, _VENDOR_HOST),
            ).to_json()
            print(printable(f"conformance: live run: {message}"), file=sys.stderr)
        # The session's line, with the preflight, in the recording before its first call leaves: a run interrupted
        # before an answer is recorded keeps what its preflight found (each look of a sequential run, the run's).
        self._rec.begin_at_preflight(self._session_line)

    def _check_unplanned(self, endpoint: str) -> None:
        """:meth:`_check_live` for a call no plan counted (the user's own, in a session opened with precheck=False)."""
        per_image, price = self._price()
        message = (
            f"this call would go live to {endpoint}: it is not in the recording, and the session planned no calls "
            f"(precheck=False), so each is billed as it is made ({price}). AWS may store and use submitted images to "
            "improve its services unless your organisation has opted out (AWS Organizations AI services opt-out policy)."
        )
        if not self.settings.allow_live:
            raise ConformanceError(f"{message} Pass --conformance-allow-live (conformance run --allow-live) to proceed")
        from ..retention import preflight

        self.retention_preflight = preflight(
            _organizations_client,
            accept_retention=self.settings.accept_vendor_retention,
            calls=None,
            price_per_image=per_image,
            price_note=price,
            calls_note="no calls planned (a session opened with precheck=False): each live call is billed as made",
            source_of=_organizations_source,
            target=_source(self._client, _VENDOR_HOST),
        ).to_json()
        self._rec.begin_at_preflight(self._session_line)  # in the recording at once, as _check_live's
        print(f"conformance: live run: {message}", file=sys.stderr)

    def _price(self) -> tuple[float, str]:
        """USD per image sent, and the price in words with where it comes from (--price-per-1000 or the list price)."""
        if self.settings.price_per_1000 is None:
            return (
                PRICE_PER_IMAGE_USD,
                f"${PRICE_PER_IMAGE_USD} per image (AWS's first-tier price; check current pricing)",
            )
        per_1000 = self.settings.price_per_1000
        return per_1000 / 1000.0, f"${per_1000:g} per 1,000 images ({self.settings.price_source or 'as given'})"

    def can_see(self, photo: Photo) -> bool:
        """Whether analysing ``photo`` now can work: always while recording; in replay, if it was recorded."""
        return self._rec.can_see(self._key_of(photo))

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

    def planned(self, photos: Sequence[Photo] | None = None) -> list[Planned]:
        """Every request the run will send (of ``photos`` only, when given), with its recording key (images by digest)."""
        if not self.dataset.is_matching:
            return [
                Planned(p, "DetectFaces", self._digest(p), key)
                for p in (self.dataset.photos if photos is None else photos)
                if (key := self._key_of(p))
            ]
        collection = {"CollectionId": self.collection_id}
        out = [Planned(None, "CreateCollection", "", _key("CreateCollection", collection))]
        for photo in self.dataset.role("gallery"):
            if digest := self._digest(photo):
                out.append(Planned(photo, "IndexFaces", digest, _key("IndexFaces", self._index_params(digest))))
        for photo in self.dataset.role("probe"):
            if digest := self._digest(photo):
                out.append(
                    Planned(
                        photo, "SearchFacesByImage", digest, _key("SearchFacesByImage", self._search_params(digest))
                    )
                )
        out.append(Planned(None, "DeleteCollection", "", _key("DeleteCollection", collection)))
        return out

    # -- the Analyzer protocol ---------------------------------------------------------------------------

    def _call(self, method: str, *, photo: Photo | None = None, **params: Any) -> Any:
        """One API call: credential and connection failures stop the run; refusals of a photo raise Refused.

        ``photo`` is whom the call is about, named when its answer is withheld from the recording.
        An answer not in Rekognition's shape (a proxy's page, a bare 429) is asked again as botocore would
        (botocore retries server errors itself), then becomes the photo's error, unrecorded.
        """
        if self._client is None:
            raise AdapterError("the rekognition adapter calls inside session(); use conformance.analyze()")
        self._rec.check_writable()  # the recording cannot be written: no further call is sent
        key = self._request_key(method, params)
        replayed = self._rec.replays(key)
        limiter = self._limiter
        if limiter is not None and not replayed:
            limiter.acquire()
        if not replayed:
            self._rec.count_live()  # the preflight's record says, after the run, how many calls went out
        attempts = 1 if replayed else max_attempts()
        operation = self._client.meta.method_to_api_mapping.get(method, method)
        for attempt in range(1, attempts + 1):
            try:
                response = self._send(method, params, live=not replayed)
                headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
                self._rec.note_claim(key, headers, live=not replayed)
                return response
            except NonAnswer as non:
                if replayed:
                    raise Refused(
                        "NotRekognition",
                        f"the recording {self.recording} holds {non.problem} as the answer to {operation}, not "
                        "Rekognition's; record it anew with --record-mode all",
                    ) from None
                if non.retries or attempt == attempts:
                    self._rec.count_unrecorded()  # never recorded: the recording stays incomplete, a re-run asks again
                    # No count of attempts in the reason: botocore's retry quota makes it vary, and reasons that
                    # are alike show a systematic failure.
                    raise Refused(
                        "NotRekognition",
                        f"the endpoint answered {operation} with {non.problem}, not as Rekognition answers, after retries; "
                        "not recorded: run again to resume, and check that AWS_ENDPOINT_URL_REKOGNITION (or a proxy "
                        "on the way) reaches Rekognition",
                    ) from None
                time.sleep(min(2.0, 0.1 * 2**attempt))  # as botocore backs off: a moment, doubling
            finally:
                self._rec.note_verdict(key, operation, photo)
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def _send(self, method: str, params: Mapping[str, Any], *, live: bool) -> Any:
        """One call through botocore (with its retries), its failures sorted into the run's and the photo's."""
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

        from .._pacing import call_deadline

        timeout = self.settings.timeout
        began = time.monotonic()
        try:
            with call_deadline(timeout) if live else contextlib.nullcontext():
                response = getattr(self._client, method)(**params)
        except (BotoConnectionError, ConnectionClosedError, ReadTimeoutError) as exc:
            # botocore retried already. A passing fault of one call (a reset, a slow answer, a proxy or TLS
            # failure) fails that photo, which stays unrecorded for the next run; an endpoint no call has
            # ever reached stops the run.
            failure = self._rec.store.write_failure() if self._rec.store is not None else None
            if failure is not None:
                raise failure from None  # a local write error is never reported as the network's
            if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)) and not self._connected:
                endpoint = scrub_url(str(exc.kwargs.get("endpoint_url")))
                raise ConformanceError(f"cannot reach {endpoint}: check the endpoint") from None
            self._rec.count_unrecorded()
            if live and time.monotonic() - began >= timeout:
                raise Refused(
                    "ConnectionError",
                    f"no complete answer within --timeout {timeout:g} s (it bounds each attempt's whole time, not "
                    "only each read), after retries; run again to resume",
                ) from None
            what = "timed out" if isinstance(exc, ReadTimeoutError) else "lost the connection"
            raise Refused(
                "ConnectionError", f"{what} after retries ({type(exc).__name__}); run again to resume"
            ) from None
        except AnswerTooLarge as exc:
            self._connected = True
            if live:
                self._rec.count_unrecorded()
            where = f"the endpoint {self._endpoint_shown()}" if live else f"the recording {self.recording}"
            raise Refused(
                "AnswerTooLarge",
                f"{where}: {exc}, far beyond any answer of Rekognition's; not parsed, not recorded: check that "
                "the endpoint (AWS_ENDPOINT_URL_REKOGNITION, a proxy on the way) is Rekognition",
            ) from None
        except MemoryError:
            raise ConformanceError(self._out_of_memory(method)) from None
        except HTTPClientError as exc:
            # Replay runs inside the HTTP layer: botocore wraps what it raised (a damaged or missing recording).
            inner = exc.kwargs.get("error")
            if isinstance(inner, ConformanceError):
                raise inner from None
            if isinstance(inner, MemoryError):  # in the HTTP layer (reading or recording the answer)
                raise ConformanceError(self._out_of_memory(method)) from None
            if type(inner).__name__ == "CannotOverwriteExistingCassetteException":
                raise ConformanceError(
                    f"{method}: the request is not in the recording {self.recording}; record it with --record-mode "
                    "new_episodes"
                ) from None
            raise ConformanceError(f"{method}: HTTP failure ({redact(str(exc), self._secrets())})") from None
        except NoCredentialsError:
            raise ConformanceError(f"no AWS credentials found: {_HOW_TO_SET_CREDENTIALS}") from None
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
            # botocore could not read the answer (not UTF-8, not the JSON it expects): the service's (or the
            # recording's) answer about this photo is unreadable; an error of that photo, not of the run.
            self._connected = True
            raise Refused(
                "MalformedResponse", f"the answer to {method} could not be read ({type(exc).__name__})"
            ) from None
        except ClientError as exc:
            self._connected = True
            if NON_ANSWER in exc.response:
                metadata = exc.response.get("ResponseMetadata", {})
                status = int(metadata.get("HTTPStatusCode", 0))
                raise NonAnswer(str(exc.response[NON_ANSWER]), status, int(metadata.get("RetryAttempts", 0))) from None
            code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
            # Services quote back what they refuse (headers, tokens, ARNs): never print or report that.
            message = redact(str(exc.response.get("Error", {}).get("Message", "")), self._secrets())
            if code in CREDENTIALS:
                raise ConformanceError(
                    f"Rekognition refused the credentials ({code}): {_HOW_TO_SET_CREDENTIALS}"
                ) from None
            if code in THROTTLED or code == "InternalServerError":
                if live:
                    self._rec.count_unrecorded()  # a passing fault: the recording stays incomplete, a re-run asks again
                if code in THROTTLED:
                    message = "after retries; run again to resume"
            raise Refused(code, message) from None
        self._connected = True
        if NON_ANSWER in response:
            raise NonAnswer(str(response[NON_ANSWER]), 200)
        return response

    def _endpoint_shown(self) -> str:
        """The endpoint the client calls (and the proxy on the way), as messages name it: no credentials in it."""
        return scrub_url(self._route or str(getattr(getattr(self._client, "meta", None), "endpoint_url", "")))

    def _out_of_memory(self, method: str) -> str:
        """Why the run stops when an answer did not fit in memory (botocore showed it as an HTTP client's fault)."""
        return (
            f"{method}: the answer from {self._endpoint_shown()} did not fit in the memory left (MemoryError while "
            "reading or parsing it): an endpoint answering far beyond Rekognition's answers, or too little memory "
            "for the run; check the endpoint (AWS_ENDPOINT_URL_REKOGNITION, a proxy on the way), or free memory, "
            "and run again to resume"
        )

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

    def _request_key(self, method: str, params: Mapping[str, Any]) -> str:
        """The recording key of a call, images replaced by their digests as the recording keys them."""
        operation = self._client.meta.method_to_api_mapping.get(method, method)
        shown = {
            name: {"Sha256": hashlib.sha256(value["Bytes"]).hexdigest()}
            if isinstance(value, dict) and isinstance(value.get("Bytes"), bytes)
            else value
            for name, value in params.items()
        }
        return _key(operation, shown)

    def analyze(self, photo: Photo) -> Observation:
        data, reason = _image_bytes(photo)
        if data is None:
            return Observation(photo=photo.id, outcome="error", reason=reason)
        try:
            response = self._call("detect_faces", photo=photo, Image={"Bytes": data}, Attributes=_ATTRIBUTES)
        except Refused as refused:
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
        except Refused as refused:
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
                response = self._call("index_faces", photo=photo, **params)
            except Refused as refused:
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
            response = self._call("search_faces_by_image", photo=probe, **params)
        except Refused as refused:
            if refused.code == "InvalidParameterException" and "no faces" in str(refused).lower():
                return SearchOutcome(probe.id, "no_face", reason=str(refused))
            return SearchOutcome(probe.id, "error", reason=str(refused))
        wrong = _another_face(response.get("SearchedFaceBoundingBox"), probe.box)
        if wrong:
            # The service searches the largest face in the image: its matches are that face's, not the subject's.
            return SearchOutcome(
                probe.id, "error", reason=f"Rekognition searched {wrong}; crop the photo to the subject"
            )
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
                photo=source,
                SourceImage={"Bytes": images[0]},
                TargetImage={"Bytes": images[1]},
                SimilarityThreshold=float(self.search_floor),
            )
        except Refused:
            return None
        wrong = _another_face((response.get("SourceImageFace") or {}).get("BoundingBox"), source.box)
        if wrong:
            raise ConformanceError(
                f"CompareFaces on photo {source.id!r}: Rekognition compared {wrong}; crop the photo to the subject"
            )
        scores = [float(m["Similarity"]) for m in response.get("FaceMatches", [])]
        return max(scores) if scores else None

    def _drop_collection(self) -> None:
        if self._collection:
            self._collection = False
            try:
                self._call("delete_collection", CollectionId=self.collection_id)
            except (Refused, ConformanceError) as exc:
                print(
                    printable(f"conformance: could not delete collection {self.collection_id}: {exc}"), file=sys.stderr
                )

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
        return 1000 if self._rec.effective == "none" else 20

    @property
    def cacheable(self) -> bool:
        """Whether this run's observations may be kept: none failed for a passing reason (a race, a fault)."""
        return self._rec.unrecorded == 0

    def cache_key(self, plan: str) -> str | None:
        """A digest of everything a replay's observations depend on, or None when they may change (recording).

        ``plan`` names the transformed variants planned. See :mod:`conformance.run.cache`.
        """
        import json

        import botocore
        import PIL

        from .._source import source_digest
        from .._version import __version__

        self._rec.replays_legacy()
        if self.settings.record_mode != "none" or not self.recording.is_file():
            return None
        recording = file_digest(self.recording)
        parts = {
            "kit": __version__,
            "adapter": ADAPTER_VERSION,
            "botocore": botocore.__version__,
            "recording": recording,
            "dataset": self.dataset.content_hash,
            "vocabulary": self.vocabulary.to_dict(),
            "code": source_digest(
                "conformance.adapters.rekognition",
                "conformance.adapters.rekognition_answers",
                "conformance.adapters.base",
                "conformance.observation",
                "conformance.metamorphic",
                "conformance.run.runner",
                "conformance.run.execution",
                "conformance._pacing",
                "conformance.recording.cassette",
                "conformance.recording.store",
                "conformance.recording.scrub",
            ),
            "pillow": PIL.__version__,  # re-encodes other formats as PNG, and makes the transformed variants
            "plan": plan,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def recording_sessions(self) -> list[dict[str, Any]]:
        """The recording's sessions as a report gives them (:meth:`conformance.recording.recorder.Recorder.sessions`)."""
        return self._rec.sessions()

    def run_endpoint_class(self, sessions: Sequence[Mapping[str, Any]]) -> str:
        """The class of the endpoint the answers came from: the least trustworthy of the recording's
        sessions (one emulated session makes a recording not the vendor's), else this run's endpoint."""
        return self._rec.endpoint_class(sessions)

    def recording_notes(self, sessions: Sequence[Mapping[str, Any]]) -> list[str]:
        """What a reader must know about how the recording's sessions differ (versions, endpoints, time)."""
        return self._rec.notes(sessions)

    def describe(self) -> dict[str, Any]:
        import boto3
        import botocore

        sessions = self.recording_sessions()
        return {
            # A face-matching run searches faces (IndexFaces, SearchFacesByImage): its reports say so.
            "name": _SEARCH_NAME if self.dataset.is_matching else self.name,
            "adapter": "rekognition",
            "version": ADAPTER_VERSION,
            "botocore": botocore.__version__,
            "boto3": boto3.__version__,
            "source": str(self.recording),
            "record_mode": self.settings.record_mode,
            # Kept for readers of older reports: the sessions as recorded (URL credentials taken out).
            "recorded_with": self._rec.recorded_with(),
            "recording_sessions": sessions,
            "recording_files": self._rec.files(),
            "recording_notes": self.recording_notes(sessions),
            "endpoint_class": self.run_endpoint_class(sessions),
            "withheld": dict(self.withheld),
            "vocabulary": self.vocabulary.to_dict(),
            "emulated": self.emulated,
            "simulated": self.simulated,
            **(
                {"retention_preflight": {**self.retention_preflight, "calls_made": self._rec.live_calls}}
                if self.retention_preflight
                else {}
            ),
        }


# AWS's own Organizations endpoints (the global one in us-east-1, China's, GovCloud's; FIPS and dual-stack forms).
_ORGANIZATIONS_HOST = r"organizations(?:-fips)?\.[a-z0-9-]+\.(?:amazonaws\.com|amazonaws\.com\.cn|api\.aws|api\.amazonwebservices\.com\.cn)"


def _source(client: Any, host: str) -> Source:
    """Where ``client`` sends its calls: its endpoint, whether that is AWS's own (``host``), the proxy on the way.

    AWS's own only over HTTPS checked against the public certificate authorities: with a bundle of the
    user's (or no checking), whoever holds a key it trusts can answer as AWS's host.
    """
    import re

    from ..retention import Source

    endpoint = str(client.meta.endpoint_url)
    said = _transport(client, endpoint)
    proxy = said.get("proxy")
    scheme, name, _ = endpoints.sent_to(endpoint)  # the host urllib3 connects to (red team 17c)
    own_trust = bool(said.get("ca_bundle")) or said.get("tls_verified") is False
    if scheme == "https" and re.fullmatch(host, name) and not own_trust:
        kind = "aws"
    else:
        kind = "loopback" if is_loopback(endpoint) else "other"
    return Source(scrub_url(endpoint), kind, str(proxy) if proxy else None)


def _organizations_source(client: Any) -> Source:
    """Where the preflight's Organizations client asked (``AWS_ENDPOINT_URL_ORGANIZATIONS`` can point elsewhere)."""
    _refuse_ambiguous(client, str(client.meta.endpoint_url), "organizations")
    return _source(client, _ORGANIZATIONS_HOST)


def _refuse_ambiguous(client: Any, endpoint: str, service: str) -> None:
    """Refuse an endpoint or proxy URL whose host urllib3 (what sends) and urlsplit read differently, or that hides
    one behind a backslash, a user name, whitespace or control characters: :func:`endpoints.unambiguous`.

    The error names the variable (or configuration) the URL came from, for the user to fix.
    """
    upper = service.upper()
    named = next((v for v in (f"AWS_ENDPOINT_URL_{upper}", "AWS_ENDPOINT_URL") if os.environ.get(v)), "")
    endpoints.unambiguous(
        endpoint,
        variable=named
        or f"the endpoint URL of {service} (endpoint_url in the AWS config file's profile or services section)",
    )
    http = getattr(getattr(client, "_endpoint", None), "http_session", None)
    proxy_for = getattr(getattr(http, "_proxy_config", None), "proxy_url_for", None)
    proxy = proxy_for(endpoint) if callable(proxy_for) else None
    if proxy:
        proxy = str(proxy)
        env = next(
            (
                name
                for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")
                if os.environ.get(name) and proxy in (os.environ[name], f"http://{os.environ[name]}")
            ),
            "",
        )
        endpoints.unambiguous(
            proxy, variable=env or f"the proxy for {service} (proxies in the client's configuration)", credentials=True
        )


def _organizations_client() -> Any:
    """An AWS Organizations client from boto3's usual configuration, for the data-protection preflight."""
    import boto3

    session = boto3.session.Session()
    return session.client("organizations", region_name=session.region_name or "us-east-1")


_SEARCH_NAME = "Amazon Rekognition face search (SearchFacesByImage)"
_NOTE = (
    "Recorded by the conformance kit's rekognition adapter. Requests hold image SHA-256 digests, never image "
    "bytes; credentials and account ids are scrubbed. A session with loopback: true was recorded against a "
    "local endpoint (the kit's emulator when responses carry x-conformance-emulator), NOT Amazon's service."
)
