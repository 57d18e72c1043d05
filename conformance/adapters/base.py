"""The adapter contract: everything an analyzer must and may offer the kit, in one module.

An adapter author reads this module and nothing else:

- **must**: an :class:`Analyzer` (``name``, ``vocabulary``, ``describe()``, ``analyze(photo)``; a comparator,
  ``Capabilities(compares=True)``, has ``name``, ``describe()`` and the :class:`Comparator` members instead), built
  by an :class:`AnalyzerFactory` that the ``conformance.adapters`` entry point names (see
  :mod:`conformance.adapters.registry`). A factory whose analyzers compare photos 1:1, or whose argument names a
  file in another form than ``FILE[?OPTIONS]``, says so with :func:`declares`: the run needs to know before the
  analyzer exists;
- **may**: declare :class:`Capabilities` as a ``capabilities`` class attribute, and for each capability
  it declares, provide the members of the protocol that goes with it (:data:`PROTOCOLS`):
  :class:`HasSession` (``sessions``), :class:`Recorded` (``records``), :class:`SharesWithWorkers`
  (``workers``), :class:`Matcher` (``searches``), :class:`Comparator` (``compares``),
  :class:`ReadsFiles` (``reads_files``: the files its answers depend on, sealed into the report).
  ``sees_new_images`` and ``calls_service`` need no members: they say what the runner may ask;
  ``failure_advice`` is text, what a run stopped by systematic failures tells the user to fix.

The kit reads the declaration and never probes for members: an analyzer that declares nothing is
asked for photos only. :func:`check_capabilities` holds every analyzer to the members it must have, and a
declaration to the members it promises, when the adapter is created, so a missing member is an error naming
it, not an AttributeError mid-run or a feature silently skipped. Whether an
analyzer can abstain (a face without a gender) is part of its :class:`Vocabulary`, which every
analyzer declares.

Why one module: it is the whole adapter contract (issue 18 item 2: a third-party author reads one module and
knows everything they must and may provide), so the protocols, the factory's declaration, the describe() keys
and the checks that hold an adapter to them stay together rather than send that author through several files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast, runtime_checkable

from .._defaults import DEFAULT_RECORD_MODE

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..dataset import Dataset, Photo
    from ..matching import SearchOutcome
    from ..observation import Face, Observation
    from ..pairwise import PairCounts

__all__ = [
    "DECLARATION",
    "DEFAULT_TIMEOUT",
    "DESCRIBE_KEYS",
    "PROTOCOLS",
    "AdapterSettings",
    "Analyzer",
    "AnalyzerFactory",
    "ArgumentFile",
    "Capabilities",
    "Comparator",
    "Declaration",
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
    "declaration_of",
    "declares",
    "described",
    "file_and_options",
    "matcher",
    "no_file",
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

    record_mode: str = DEFAULT_RECORD_MODE
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


# The keys of ``describe()`` the kit reads (reports, evidence, verify), each optional but ``name`` and ``version``:
# declared here so that an adapter author knows them, and held to what the kit reads by tests/test_adapter_contract.py.
DESCRIBE_KEYS: Mapping[str, str] = {
    "name": "the system's name, for the reports",
    "version": "the adapter's or the system's version",
    "adapter": "the adapter's name, when it differs from the system's",
    "simulated": "True when the answers are a simulation's (a report says they are not a real system's)",
    "emulated": "True when any answer came from the kit's emulator",
    "source": "the file the answers were read from (a recording, a predictions file); for a recording, the emulator's "
    "and the simulation's marks are read from it when the observations come from the cache",
    "record_mode": "the record mode the recording was made or replayed under",
    "recording_sessions": "a recording's sessions (endpoint_class, SDK versions, when), sealed into the evidence",
    "recorded_with": "the sessions as recorded, read when recording_sessions is absent (reports of older kits)",
    "recording_files": "a recording's files with their digests ({path, sha256})",
    "recording_notes": "what a reader must know about how the recording's sessions differ",
    "endpoint_class": "the least trustworthy class of endpoint the answers came from (vendor, emulator, ...), "
    "sealed into the evidence",
    "withheld": "photo -> why its answer was withheld from the recording (the secret scan)",
    "retention_preflight": "what a live run learnt of the vendor's retention of the photos before it sent any",
    "in_process": "True for a model run in the kit's own process (its report says how far it can be trusted)",
    "trust": "for an in-process model, the sentence the report prints about trusting its code",
    "missing_predictions": "a predictions file's photos without an answer (count and examples)",
}


@runtime_checkable
class Analyzer(Protocol):
    """A facial-analysis system seen through an adapter: what every adapter must provide.

    ``describe()`` returns provenance for reports: at least ``name`` and ``version``, and
    ``simulated`` / ``emulated`` flags when the output is not a real system's; the other keys the kit reads
    are :data:`DESCRIBE_KEYS` (any other key is written into the report as it is). It need not repeat the
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

    The run needs two answers before any analyzer exists, so a factory gives them with :func:`declares`:

    - its analyzers' :class:`Capabilities`: the manifest is loaded before the analyzer is built, and a
      comparator's (``compares``) needs no gender columns. A factory that declares nothing is taken to
      build analyzers that do not compare photos 1:1 (its manifest needs the gender columns); one whose
      analyzer declares ``compares`` against its factory's declaration is refused when it is built;
    - which part of the argument is a file (:class:`ArgumentFile`): it is read against an ini file's folder
      when ``--analyzer`` comes from one, and sealed into the report with the files the analyzer declares.
      Without a declaration, an argument ``FILE[?OPTIONS]`` is taken for a file when a file is there.
    """

    def __call__(self, argument: str | None, *, dataset: Dataset, settings: AdapterSettings) -> Analyzer: ...


@dataclass(frozen=True)
class ArgumentFile:
    """The file named in ``--analyzer NAME:ARGUMENT``: ``ARGUMENT == file + rest`` (``rest`` is ``"?metric=l2"``,
    ``":analyze"`` or ``""``). ``certain``: the factory says it is a file (else it is one only if it exists)."""

    file: str
    rest: str = ""
    certain: bool = True


def file_and_options(argument: str) -> ArgumentFile | None:
    """The kit's convention ``FILE[?OPTIONS]``: the file is the text before the first ``?``.

    >>> file_and_options("scores.csv?higher=false")
    ArgumentFile(file='scores.csv', rest='?higher=false', certain=True)
    """
    file, question, rest = argument.partition("?")
    return ArgumentFile(file, question + rest) if file else None


def no_file(argument: str) -> ArgumentFile | None:
    """For a factory whose argument never names a file (``local:embeddings``)."""
    del argument
    return None


@dataclass(frozen=True)
class Declaration:
    """What a factory says before any dataset exists (see :class:`AnalyzerFactory`); made by :func:`declares`.

    ``capabilities`` is what its analyzers will declare, or a function of the argument giving it (``local``
    gives a face analyzer, ``local:embeddings`` a comparator). ``argument_file`` splits an argument into the
    file it names and the rest, or gives None when it names none; None: the convention ``FILE[?OPTIONS]``,
    a file only when one is there.
    """

    capabilities: Capabilities | Callable[[str | None], Capabilities] | None = None
    argument_file: Callable[[str], ArgumentFile | None] | None = None

    def capabilities_for(self, argument: str | None) -> Capabilities:
        given = self.capabilities
        if given is None:
            return _NONE
        return given if isinstance(given, Capabilities) else given(argument)

    def file_in(self, argument: str | None) -> ArgumentFile | None:
        if not argument:
            return None
        if self.argument_file is not None:
            return self.argument_file(argument)
        found = file_and_options(argument)
        return None if found is None else ArgumentFile(found.file, found.rest, certain=False)


# The attribute :func:`declares` sets on a factory, where :mod:`conformance.adapters.registry` reads it.
DECLARATION = "conformance_declaration"
_F = TypeVar("_F", bound=Callable[..., Any])


def declares(
    capabilities: Capabilities | Callable[[str | None], Capabilities] | None = None,
    *,
    argument_file: Callable[[str], ArgumentFile | None] | None = None,
) -> Callable[[_F], _F]:
    """Decorate a factory with its :class:`Declaration`::

    @declares(Capabilities(compares=True, reads_files=True), argument_file=file_and_options)
    def create(argument, *, dataset, settings): ...
    """

    def mark(factory: _F) -> _F:
        setattr(factory, DECLARATION, Declaration(capabilities, argument_file))
        return factory

    return mark


def declaration_of(factory: object) -> Declaration:
    """The factory's :class:`Declaration` (an empty one when it declares nothing)."""
    found = getattr(factory, DECLARATION, None)
    return found if isinstance(found, Declaration) else Declaration()


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
    # A sequential run's design, chosen before its first look (looks, spending, alpha): its recording's session
    # lines state it, so that a replay under another design says so (red team 17d F3).
    design: Mapping[str, Any] | None = None
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
    scores or embeddings), which the report seals by digest. The file the argument of ``--analyzer NAME:ARGUMENT``
    names (:class:`ArgumentFile`, as its factory declares it, else ``FILE[?OPTIONS]`` when that file exists) is
    sealed in any case; declare the others here, or they are not evidence."""

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
    """``compares``: every photo compared 1:1 with every other (or the listed pairs), counted per group.

    ``comparisons`` returns a :class:`~conformance.pairwise.PairCounts`, built by
    :func:`conformance.pairwise.compare_all_pairs` (from one embedding per photo) or
    :func:`conformance.pairwise.compare_listed` (from scored pairs), which take these keywords. A comparator has
    ``name`` and ``describe()`` but no ``vocabulary`` or ``analyze``, and its factory declares ``compares``
    (:func:`declares`): the manifest, loaded before the comparator exists, then needs no gender columns.
    """

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


def _check_required(analyzer: object, where: str, compares: bool) -> None:
    """Hold ``analyzer`` to :class:`Analyzer`'s members (a comparator's to ``name`` and ``describe``: its answers are
    counts of pairs, not observations with labels), so that a missing one is named now, not met as an
    AttributeError in the middle of a run or, for ``vocabulary``, as labels let through unchecked."""
    from ..errors import AdapterError

    required = ("name", "describe") if compares else ("name", "vocabulary", "describe", "analyze")
    missing = [m for m in required if not hasattr(analyzer, m)]
    if missing:
        raise AdapterError(
            f"{where} builds an analyzer ({type(analyzer).__name__}) with no {', '.join(missing)}: every analyzer "
            f"has {', '.join(required)} (conformance.adapters.base.{'Comparator' if compares else 'Analyzer'}); "
            "provide them"
        )
    for member in ("describe", *(() if compares else ("analyze",))):
        if not callable(getattr(analyzer, member)):
            raise AdapterError(f"{where}: {type(analyzer).__name__}.{member} is not a method; define {member}(...)")
    vocabulary = None if compares else cast("Analyzer", analyzer).vocabulary
    if not compares and not isinstance(vocabulary, Vocabulary):
        given = type(vocabulary).__name__
        raise AdapterError(
            f"{where}: {type(analyzer).__name__}.vocabulary is a {given}; declare vocabulary = Vocabulary(labels=..., "
            "source=...) from conformance.adapters.base (the labels it can output and what each means)"
        )


def check_capabilities(analyzer: object, where: str) -> None:
    """Hold ``analyzer`` to the members every analyzer has and its declaration to the members it promises;
    raise AdapterError naming what is missing.

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
    _check_required(analyzer, where, declared.compares if isinstance(declared, Capabilities) else False)
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
