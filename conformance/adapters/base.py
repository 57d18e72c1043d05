"""The adapter contract: everything an analyzer must and may offer the kit, in one module.

An adapter author reads this module and nothing else:

- **must**: an :class:`Analyzer` (``name``, ``vocabulary``, ``describe()``, ``analyze(photo)``), built by an
  :class:`AnalyzerFactory` that the ``conformance.adapters`` entry point names (see
  :mod:`conformance.adapters.registry`);
- **may**: declare :class:`Capabilities` as a ``capabilities`` class attribute, and for each capability
  it declares, provide the members of the protocol that goes with it (:data:`PROTOCOLS`):
  :class:`HasSession` (``sessions``), :class:`Recorded` (``records``), :class:`SharesWithWorkers`
  (``workers``), :class:`Matcher` (``searches``), :class:`Comparator` (``compares``),
  :class:`ReadsFiles` (``reads_files``: the files its answers depend on, sealed into the report).
  ``sees_new_images`` and ``calls_service`` need no members: they say what the runner may ask;
  ``failure_advice`` is text, what a run stopped by systematic failures tells the user to fix.

The kit reads the declaration and never probes for members: an analyzer that declares nothing is
asked for photos only. :func:`check_capabilities` holds a declaration to its members when the adapter
is created, so a missing member is an error naming it, not a feature silently skipped. Whether an
analyzer can abstain (a face without a gender) is part of its :class:`Vocabulary`, which every
analyzer declares.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..dataset import Dataset, Photo
    from ..matching import SearchOutcome
    from ..observation import Face, Observation
    from ..pairwise import PairCounts

__all__ = [
    "DEFAULT_TIMEOUT",
    "PROTOCOLS",
    "AdapterSettings",
    "Analyzer",
    "AnalyzerFactory",
    "Capabilities",
    "Comparator",
    "EvidenceFile",
    "HasSession",
    "Matcher",
    "ReadsFiles",
    "Recorded",
    "ScoreScale",
    "SessionPlan",
    "SharesWithWorkers",
    "Vocabulary",
    "capabilities_of",
    "check_capabilities",
    "choose_face",
    "comparator",
    "described",
    "matcher",
    "provenance",
    "recorded",
    "session_of",
    "shares_with_workers",
]

# Seconds an attempt of a call may take in all before it is retried, then fails that photo: the one
# default of --timeout (options.py reads it here, where every adapter that calls a service reads it too).
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class AdapterSettings:
    """How an adapter that calls a service records and replays (ignored by adapters that call nothing).

    ``record_mode`` has pytest-recording's meanings (``none`` replays only and blocks the network);
    ``cassette_dir`` holds the recordings; ``allow_live`` lets a recording call a non-loopback endpoint;
    ``rate`` caps live calls per second (a token bucket shared by the run's threads, split between its
    processes); ``timeout`` bounds the whole time of each attempt of a call (every read of it, not each read
    alone).
    """

    record_mode: str = "none"
    cassette_dir: str | None = None
    allow_live: bool = False
    rate: float | None = None  # live calls per second at most (None: the adapter's default for live endpoints)
    timeout: float = DEFAULT_TIMEOUT
    # Go live although the vendor may keep the photos (no opt-out policy seen): an acceptance on the record.
    accept_vendor_retention: bool = False
    # What 1,000 images sent cost, and where the figure comes from, for the estimate before a live run (None:
    # the adapter's own default). ``conformance run`` passes --price-per-1000 or conformance plan's price.
    price_per_1000: float | None = None
    price_source: str = ""


@dataclass(frozen=True)
class Vocabulary:
    """The gender labels an analyzer can output and what each means.

    ``labels`` maps each output label to ``woman``, ``man``, ``nonbinary`` or ``abstain``;
    ``can_abstain`` says whether the analyzer can report a face without a gender (no label).
    ``source`` says where the vocabulary was read from, for the report. ``gives_confidence`` is what
    the analyzer declares about confidences: True (it gives one with its labels), False (it cannot
    give one: ``confidence_calibration`` is then not applicable), None (not declared: labels with no
    confidence at all leave calibration inconclusive, as omitting them is a choice the kit cannot tell
    from an incapacity).
    """

    labels: Mapping[str, str]
    source: str
    can_abstain: bool = False
    gives_confidence: bool | None = None

    @property
    def can_express_nonbinary(self) -> bool:
        return "nonbinary" in self.labels.values()

    @property
    def can_decline(self) -> bool:
        """Whether a face can leave the analyzer without a binary gender: a nonbinary label or abstention."""
        return self.can_abstain or self.can_express_nonbinary or "abstain" in self.labels.values()

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": dict(self.labels),
            "source": self.source,
            "can_abstain": self.can_abstain or "abstain" in self.labels.values(),
            "can_express_nonbinary": self.can_express_nonbinary,
            "gives_confidence": self.gives_confidence,
        }


@runtime_checkable
class Analyzer(Protocol):
    """A facial-analysis system seen through an adapter: what every adapter must provide.

    ``describe()`` returns provenance for reports: at least ``name`` and ``version``, and
    ``simulated`` / ``emulated`` flags when the output is not a real system's. It need not repeat the
    vocabulary: ``vocabulary`` is the one declaration, and the kit writes ``vocabulary.to_dict()`` into
    the report itself (see :func:`provenance`; a ``describe()`` "vocabulary" that says otherwise is refused).
    ``analyze(photo)``
    returns one :class:`~conformance.observation.Observation`; a per-photo failure (no face, an API
    error) is an observation with that outcome and its reason, never an exception.

    An analyzer may also declare ``capabilities`` (a :class:`Capabilities`, usually a class attribute);
    without one it is asked for photos only.
    """

    name: str
    vocabulary: Vocabulary

    def describe(self) -> Mapping[str, Any]: ...

    def analyze(self, photo: Photo) -> Observation: ...


class AnalyzerFactory(Protocol):
    """What the ``conformance.adapters`` entry point names: builds an analyzer for a dataset.

    ``argument`` is what follows the colon in ``--analyzer NAME:ARGUMENT`` (None without one);
    ``settings`` say how an adapter that calls a service records and replays.
    """

    def __call__(self, argument: str | None, *, dataset: Dataset, settings: AdapterSettings) -> Analyzer: ...


@dataclass(frozen=True)
class Capabilities:
    """What an analyzer can do beyond ``analyze(photo)``: declared, never probed for.

    Each field that is True promises the members of the protocol named beside it (see
    :data:`PROTOCOLS`); the kit holds the promise when the adapter is created.
    """

    # It can analyse images outside the dataset (transformed variants for transformation_invariance).
    sees_new_images: bool = False
    # HasSession: session(plan), a context the run holds open around all its calls.
    sessions: bool = False
    # It calls a service whose live calls cost and are rate limited: the runner fills in the cost parts of
    # the SessionPlan (variant calls, sequential looks) and the hosts a replay must still reach.
    calls_service: bool = False
    # Recorded: its answers are replayed from a recording (can_see, the observation cache, emulated answers).
    records: bool = False
    # SharesWithWorkers: worker processes (--executor processes:N, dask) hand what they learnt back.
    workers: bool = False
    # Matcher: 1:N face search of probes against a gallery.
    searches: bool = False
    # Comparator: 1:1 comparisons of every photo with every other (embeddings, scores).
    compares: bool = False
    # ReadsFiles: evidence_files(), the files its answers depend on, which the report seals by digest.
    reads_files: bool = False
    # What a systematic failure's message tells the user was kept and what to fix, for this kind of analyzer
    # ("" : the kit's generic advice; an analyzer that records is told its recording kept every answer).
    failure_advice: str = ""


@dataclass(frozen=True)
class EvidenceFile:
    """A file an analyzer's answers depend on: sealed into ``report.json``'s evidence by its digest,
    and checked again by ``conformance verify``. ``kind`` is what reports call it ("recording",
    "predictions file", "model module", "embeddings file", ...)."""

    path: str
    kind: str


@dataclass(frozen=True)
class SessionPlan:
    """What the run will ask of an analyzer in one session: handed to ``session(plan)``, never set on it.

    An adapter that calls a service estimates its cost and checks its recording from it; others ignore it.
    """

    variant_calls: int = 0  # transformed variants the run will send besides the dataset's photos
    photos: tuple[Photo, ...] | None = None  # the photos of this session when not the whole dataset (a look)
    looks: tuple[int, ...] = ()  # a sequential run's photos by look, cumulative: a live estimate counts them
    # A sequential run's expected photos on data sized by `conformance plan --sequential` (at the design point).
    looks_expected: int | None = None
    allowed_hosts: tuple[str, ...] = ()  # hosts the run itself talks to while replaying (a Dask scheduler)
    workers: int = 1  # processes sharing the rate limit: each keeps to its share


@runtime_checkable
class HasSession(Protocol):
    """``sessions``: the run holds ``session(plan)`` open around every call of a run (to open a recording,
    patch HTTP, check the run as a whole when it ends). Users may call ``session()`` with no plan."""

    def session(self, plan: SessionPlan | None = None) -> AbstractContextManager[None]: ...


@runtime_checkable
class Recorded(Protocol):
    """``records``: answers replayed from a recording (and recorded into it)."""

    # Whether any answer so far came from the kit's emulator (transformed variants would measure the emulator).
    emulated: bool

    @property
    def chunk_limit(self) -> int:
        """Photos per worker chunk (a recording run keeps them few: answers reach the recording per chunk)."""
        ...

    @property
    def cacheable(self) -> bool:
        """Whether this run's observations may be kept in the observation cache."""
        ...

    def can_see(self, photo: Photo) -> bool:
        """Whether ``photo`` (a transformed variant too) can be analysed now, e.g. it is in the replayed recording."""
        ...

    def cache_key(self, plan: str) -> str | None:
        """A digest of everything a replay's observations depend on (``plan`` names the variants), or None."""
        ...


@runtime_checkable
class ReadsFiles(Protocol):
    """``reads_files``: the files its answers depend on (a recording, a predictions file, a model's module,
    scores or embeddings), which the report seals by digest. The file named after the colon of
    ``--analyzer NAME:FILE`` is sealed in any case; declare the others here, or they are not evidence."""

    def evidence_files(self) -> Sequence[EvidenceFile]: ...


@runtime_checkable
class SharesWithWorkers(Protocol):
    """``workers``: each worker process builds its own analyzer; what it learns comes back to the run's.

    ``worker_payload(photos)`` is sent with a chunk, ``worker_session(payload)`` is held open in the worker
    around the chunk and yields a function whose result is handed back, and ``absorb(returned)`` takes it in.
    """

    def worker_payload(self, photos: Sequence[Photo]) -> Any: ...

    def worker_session(self, payload: Any) -> AbstractContextManager[Callable[[], Any]]: ...

    def absorb(self, returned: Any) -> None: ...


@runtime_checkable
class Matcher(Protocol):
    """``searches``: a face search system, ``search`` one probe against the gallery.

    ``threshold`` is the lowest similarity to return (like Rekognition's ``FaceMatchThreshold``);
    matches below it are not reported, so checks cannot look below it. ``search_floor`` is the
    threshold the matcher searches with (None: 30 below the lowest threshold judged).
    """

    name: str

    @property
    def search_floor(self) -> float | None: ...

    def describe(self) -> Mapping[str, Any]: ...

    def search(self, probe: Photo, gallery: Sequence[Photo], *, threshold: float) -> SearchOutcome: ...

    def compare(self, source: Photo, target: Photo) -> float | None:
        """1:1: the similarity (0-100) of the two photos' faces; None when it is below what the matcher
        reports (its search threshold) or a photo has no face."""
        ...


@dataclass(frozen=True)
class ScoreScale:
    """What a comparator's scores are, for the thresholds stated on them."""

    metric: str | None = None  # "cosine" or "l2": stated thresholds must lie within its range
    vendor_scale: bool = False  # similarities from 0 to 100: 80, 90, 95, 99 judged when none is stated
    negated: bool = False  # distances compared negated: stated thresholds are negated the same way
    # Whether the user said which way the scores run: then scores ranking impostors above mates are a
    # note, otherwise they are refused (they look like distances).
    orientation_stated: bool = True
    source: str | None = None  # the scores' file, named in messages


@runtime_checkable
class Comparator(Protocol):
    """``compares``: every photo compared 1:1 with every other (or the listed pairs), counted per group."""

    name: str

    @property
    def scale(self) -> ScoreScale: ...

    @property
    def failure_reasons(self) -> Mapping[str, str]:
        """Why each photo that failed to acquire failed (photo id -> reason), filled by ``comparisons``."""
        ...

    def describe(self) -> Mapping[str, Any]: ...

    def comparisons(
        self,
        *,
        photo_group: npt.NDArray[np.int64],
        photo_subject: npt.NDArray[np.int64],
        groups: Sequence[str],
        subjects: Sequence[str],
        targets: Sequence[float],
        stated: Sequence[float],
        same_group: bool,
        pool: str,
        dask: bool | str,
    ) -> PairCounts: ...


# Each capability and the protocol whose members it promises.
PROTOCOLS: Mapping[str, type] = {
    "sessions": HasSession,
    "records": Recorded,
    "workers": SharesWithWorkers,
    "searches": Matcher,
    "compares": Comparator,
    "reads_files": ReadsFiles,
}
_NONE = Capabilities()


def capabilities_of(analyzer: object) -> Capabilities:
    """What ``analyzer`` declared (its ``capabilities``), or nothing beyond ``analyze`` when it declared none."""
    declared = getattr(analyzer, "capabilities", _NONE)
    return declared if isinstance(declared, Capabilities) else _NONE


def described(analyzer: object) -> dict[str, Any]:
    """``analyzer.describe()``, with the files it declares (``reads_files``) under ``"evidence_files"``.

    The key is the kit's: :mod:`conformance.evidence` seals those files and keeps the key out of the
    report's ``analyzer`` section.
    """
    info = dict(cast("Analyzer", analyzer).describe())
    if capabilities_of(analyzer).reads_files:
        files = cast("ReadsFiles", analyzer).evidence_files()
        info["evidence_files"] = [{"path": str(f.path), "kind": f.kind} for f in files]
    return info


def provenance(analyzer: Analyzer) -> dict[str, Any]:
    """What the reports say about ``analyzer``: its ``describe()``, with its declared vocabulary written in.

    The declared :class:`Vocabulary` is the one source the checks read (as ``"vocabulary"``): a
    ``describe()`` that carries a vocabulary of its own must say the same, or the adapter is refused,
    since two declarations that disagree leave no way to tell which one the analyzer keeps to.
    """
    from ..errors import AdapterError

    info = described(analyzer)
    declared = analyzer.vocabulary.to_dict()
    given = info.get("vocabulary")
    if given is not None and given != declared:
        raise AdapterError(
            f"analyzer {analyzer.name!r}: describe() gives the vocabulary {given!r}, but the analyzer declares "
            f"{declared!r} (its vocabulary attribute): declare it once, as vocabulary = Vocabulary(...), and drop "
            '"vocabulary" from describe() (the kit writes the declared one into the report)'
        )
    info["vocabulary"] = declared
    return info


def _members(protocol: type) -> list[str]:
    names: list[str] = []
    for klass in protocol.__mro__:
        if klass in (Protocol, object) or not getattr(klass, "_is_protocol", False):
            continue
        names += [n for n in (*vars(klass), *getattr(klass, "__annotations__", {})) if not n.startswith("_")]
    return sorted(set(names))


# The member whose presence, on an analyzer declaring nothing, shows it was written for a kit that probed.
_TELLTALE = {
    "sessions": "session",
    "records": "cache_key",
    "workers": "worker_session",
    "searches": "search",
    "compares": "comparisons",
}


def check_capabilities(analyzer: object, where: str) -> None:
    """Hold ``analyzer``'s declaration to its members; raise AdapterError naming what is missing.

    An analyzer that declares nothing but has a capability's telltale member (written for an older kit,
    which probed for it) is told to declare it, rather than having the feature silently skipped.
    """
    from ..errors import AdapterError

    declared = getattr(analyzer, "capabilities", None)
    if declared is not None and not isinstance(declared, Capabilities):
        raise AdapterError(
            f"{where}: capabilities is a {type(declared).__name__}; declare "
            "capabilities = Capabilities(...) from conformance.adapters.base"
        )
    if declared is None:
        undeclared = [c for c, member in _TELLTALE.items() if hasattr(analyzer, member)]
        if getattr(analyzer, "sees_new_images", False) is True:
            undeclared.insert(0, "sees_new_images")
        if undeclared:
            raise AdapterError(
                f"{where} has {', '.join(_TELLTALE.get(c, c) for c in undeclared)} but declares no capabilities: the "
                f"kit does not guess; declare capabilities = Capabilities({', '.join(f'{c}=True' for c in undeclared)}) "
                "(conformance.adapters.base)"
            )
        return
    for capability, protocol in PROTOCOLS.items():
        missing = [m for m in _members(protocol) if not hasattr(analyzer, m)]
        if getattr(declared, capability) and missing:
            raise AdapterError(
                f"{where} declares Capabilities({capability}=True) but has no {', '.join(missing)} "
                f"(the members of {protocol.__name__} in conformance.adapters.base): provide them, or "
                f"leave {capability} False"
            )


def session_of(analyzer: object, plan: SessionPlan | None = None) -> AbstractContextManager[Any]:
    """The analyzer's session for ``plan`` when it declares sessions, else a context that does nothing."""
    if capabilities_of(analyzer).sessions:
        return cast("HasSession", analyzer).session(plan)
    return nullcontext()


def recorded(analyzer: object) -> Recorded | None:
    """``analyzer`` as a :class:`Recorded` when it declares ``records``, else None."""
    return cast("Recorded", analyzer) if capabilities_of(analyzer).records else None


def shares_with_workers(analyzer: object) -> SharesWithWorkers | None:
    """``analyzer`` as a :class:`SharesWithWorkers` when it declares ``workers``, else None."""
    return cast("SharesWithWorkers", analyzer) if capabilities_of(analyzer).workers else None


def matcher(analyzer: object) -> Matcher | None:
    """``analyzer`` as a :class:`Matcher` when it declares ``searches``, else None."""
    return cast("Matcher", analyzer) if capabilities_of(analyzer).searches else None


def comparator(analyzer: object) -> Comparator | None:
    """``analyzer`` as a :class:`Comparator` when it declares ``compares``, else None."""
    return cast("Comparator", analyzer) if capabilities_of(analyzer).compares else None


def _area(face: Face) -> float:
    return 0.0 if face.box is None else face.box[2] * face.box[3]


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (left, top, width, height) boxes."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def choose_face(faces: list[Face], box: tuple[float, float, float, float] | None) -> Face | None:
    """The face that counts for a photo: the one overlapping the manifest's box most, else the largest.

    Returns None when several faces have no boxes to decide between them, or when the manifest gives
    a box that none of several faces overlaps (the subject's face was not among them).
    """
    if len(faces) == 1:
        return faces[0]
    if any(f.box is None for f in faces):
        return None
    if box is not None:
        overlaps = [(_overlap(f.box, box) if f.box else 0.0, i) for i, f in enumerate(faces)]
        best, index = max(overlaps)
        return faces[index] if best > 0 else None
    return max(faces, key=_area)
