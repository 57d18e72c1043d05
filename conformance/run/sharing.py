"""One run, one set of answers: pytest-xdist workers share the observations the first of them made.

Under ``pytest -n N`` every worker process loads the run for itself. A replayed recording gives
each the same answers, but a ``python:`` model that samples, keeps dropout on at inference or wraps
a live service answers each worker differently: one report then mixed checks computed from
different answers (``misgender_gap`` passing on one worker's labels, ``confidence_calibration``
failing on the other's, ``photos[]`` agreeing with neither), and every photo was analysed, and
paid for, once per worker.

So the xdist controller gives every worker a private folder and a secret for the run
(:func:`open_share`, in ``pytest_configure_node``). The first worker to need the observations
works them out while holding a lock on their entry, seals them (HMAC-SHA256 with the run's secret over
the entry's bytes, written on its first line) and writes them; the others wait for the lock and read
them. The seal is checked before a byte is parsed, and an entry is read within bounds sized from the
run (:class:`~conformance.run.cache.EntryBounds`): what someone else puts in the folder costs a worker
the reading of a bounded file, never gigabytes of parsing (red team 15d F4). A failure that stops the run (a systematic failure, a model that calls ``sys.exit()``)
is shared the same way, so every worker stops with the same message and the model is not called
again. ``conformance run -- -n N`` has the answers already: the CLI's are the entry (:func:`seed`).

The checks' results are shared the same way (:func:`shared_results`): the first worker to need a
check's results computes them, the others read them, so the regression gate's worker, which compares
every check with the baseline, computes none that another worker computed (red team 18 F13: each
check's bootstrap ran twice a run).

A worker that cannot use the folder (it was removed, an entry does not verify) works the answers
(or the results) out itself. Every worker also sends the controller a digest of the answers its checks used
(:func:`answers_digest`); the controller refuses to build a verdict on two digests
(:func:`different_answers` says why, and the way out), whatever the reason they differ.

The folder lives outside the project and is removed when the run ends; it holds what a report
holds (labels, confidences, boxes, reasons, the checks' figures), never image bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from ..dataset import Dataset
    from ..observation import Observations
    from .cache import EntryBounds

__all__ = [
    "Share",
    "activate",
    "answers_digest",
    "different_answers",
    "open_share",
    "seed",
    "shared",
    "shared_observations",
    "shared_results",
]

_FORMAT = 2  # 1: sealed over the parsed content, which had to be parsed whole before its seal was checked
_SEAL_LINE = 65  # the seal's 64 hex digits and a newline, before the entry's JSON
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Share:
    """Where a run's workers share their observations, and the secret that seals them."""

    folder: str
    secret: str  # hex

    def to_input(self) -> dict[str, str]:
        """As xdist's ``workerinput`` carries it (plain strings)."""
        return {"folder": self.folder, "secret": self.secret}

    @classmethod
    def from_input(cls, given: Mapping[str, Any]) -> Share:
        return cls(str(given["folder"]), str(given["secret"]))

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def open_share() -> Share:
    """A new private folder (mode 0700) and secret for one run's workers; :meth:`Share.close` removes it."""
    return Share(tempfile.mkdtemp(prefix="conformance-run-"), secrets.token_hex(32))


_ACTIVE: list[Share] = []  # this process's run's share: set in an xdist worker only


def activate(share: Share | None) -> None:
    """Make ``share`` the one :func:`shared_observations` uses in this process (None: none, work alone)."""
    _ACTIVE.clear()
    if share is not None:
        _ACTIVE.append(share)


def _key(what: Sequence[object]) -> str:
    """A digest of what decides the observations: the run's options (those that say what was run) and more."""

    def plain(value: object) -> object:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            # Fields that are not compared (a progress bar, the cache switch) do not change the answers.
            return [(f.name, plain(getattr(value, f.name))) for f in dataclasses.fields(value) if f.compare]
        return value

    return hashlib.sha256(repr([plain(part) for part in what]).encode("utf-8")).hexdigest()


def _entry(share: Share, key: str) -> Path:
    return Path(share.folder) / f"{key}.json"


def _seal(share: Share, text: bytes | memoryview) -> bytes:
    import hmac

    return hmac.new(bytes.fromhex(share.secret), text, hashlib.sha256).hexdigest().encode("ascii")


def _write(share: Share, key: str, body: dict[str, Any]) -> None:
    from .._atomic import write_atomic

    text = json.dumps({"format": _FORMAT, "key": key, **body}, separators=(",", ":"))  # ASCII: its bytes as written
    write_atomic(_entry(share, key), _seal(share, text.encode("ascii")).decode("ascii") + "\n" + text)


def _read(share: Share, key: str, bounds: EntryBounds | None = None, *, what: str = "answers") -> dict[str, Any] | None:
    """The entry under ``key`` when it exists, verifies and is within ``bounds``; None otherwise (the worker
    works alone). ``bounds`` are the run's answers' (:class:`~conformance.run.cache.EntryBounds`); None: 1 GiB.
    ``what`` the entry holds ("answers", "results") is what a notice calls it.

    The seal is checked on the bytes before anything is parsed: an entry the run's workers did not write
    costs its reading only.
    """
    import hmac

    from .._files import read_problem, read_regular
    from . import cache
    from .cache import EntryRefused, parse_entry

    path = _entry(share, key)
    try:
        try:
            # Never a pipe or a device, never without bound: in bytes, and in what parsing them costs.
            data = read_regular(path, limit=(cache.MAX_ENTRY_BYTES if bounds is None else bounds.size) + _SEAL_LINE)
        except FileNotFoundError:
            return None  # not written yet: this worker is the first
        seal, body = data[: _SEAL_LINE - 1], memoryview(data)[_SEAL_LINE:]
        if data[_SEAL_LINE - 1 : _SEAL_LINE] != b"\n" or not hmac.compare_digest(seal, _seal(share, body)):
            return None  # not this run's workers' entry (or damaged): nothing of it is parsed
        try:
            text = str(body, "ascii")
        except (UnicodeDecodeError, MemoryError):
            return None
        del body, data  # only the text is parsed from here on
        document = parse_entry(text, bounds)
    except (OSError, EntryRefused) as exc:
        _ignored(path, exc.problem if isinstance(exc, EntryRefused) else read_problem(exc, f"shared {what}"), what)
        return None
    if not isinstance(document, dict) or document.get("format") != _FORMAT or document.get("key") != key:
        return None
    return document


def _ignored(path: Path, problem: str, what: str = "answers") -> None:
    """Say on stderr that the entry at ``path`` is not used, and why ("it ..."): this worker works alone."""
    from .._text import printable

    notice = (
        f"conformance: ignored the {what} shared by the run's workers, {path}: it {problem}; this worker works "
        f"the {what} out itself"
    )
    sys.stderr.write(printable(notice) + "\n")


def _observations_body(observations: Observations) -> dict[str, Any]:
    from .cache import _observation

    variants = observations.variants
    return {
        "kind": "observations",
        "records": [_observation(record) for record in observations.records],
        "variants": None
        if variants is None
        else [[v.photo, v.transform, _observation(v.observation)] for v in variants],
        "variants_note": observations.variants_note,
        "analyzer": dict(observations.analyzer),
    }


def _observations(body: Mapping[str, Any], dataset: Dataset) -> Observations:
    from ..observation import Observations, Variant
    from .cache import _read_observation

    variants = body["variants"]
    return Observations.build(
        dataset,
        [_read_observation(row) for row in body["records"]],
        analyzer=body["analyzer"],
        variants=None
        if variants is None
        else [Variant(photo, transform, _read_observation(row)) for photo, transform, row in variants],
        variants_note=str(body["variants_note"]),
    )


def _raise_stored(body: Mapping[str, Any]) -> None:
    """The failure the first worker stopped on, raised again here: every worker stops alike."""
    from ..errors import ConformanceError
    from ..failures import SystematicFailure

    message = str(body["message"])
    raise (SystematicFailure if body.get("systematic") else ConformanceError)(message)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (made if need be), held until the block ends; released if the process dies."""
    with open(path, "a+b") as handle:
        if sys.platform == "win32":
            import msvcrt

            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue  # LK_LOCK gives up after 10 s; the first worker may take hours on a large run
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def shared(what: Sequence[object], dataset: Dataset, function: Callable[P, Observations]) -> Callable[P, Observations]:
    """``function`` (which analyses ``dataset``) made once for all of a run's xdist workers: :func:`shared_observations`."""

    def call(*args: P.args, **kwargs: P.kwargs) -> Observations:
        plan = kwargs.get("variants")  # analyze_dataset's VariantPlan: its variants are answers in the entry too
        variants = len(getattr(plan, "photos", ())) * len(getattr(plan, "transforms", ()))
        return shared_observations(what, dataset, lambda: function(*args, **kwargs), variants=variants)

    return call


def shared_observations(
    what: Sequence[object], dataset: Dataset, compute: Callable[[], Observations], *, variants: int = 0
) -> Observations:
    """``compute()``'s observations, worked out once for all of a run's xdist workers.

    ``what`` decides the observations (the run's options, the analyzer's spec, the photos of a
    sequential look): the entry's key. Outside an xdist worker this is ``compute()``. An entry is read
    within the bounds of ``dataset``'s photos and ``variants`` planned variants
    (:class:`~conformance.run.cache.EntryBounds`).
    """
    from ..errors import ConformanceError
    from ..failures import SystematicFailure
    from .cache import EntryBounds

    if not _ACTIVE:
        return compute()
    share = _ACTIVE[0]
    key = _key(what)
    with ExitStack() as held:
        try:
            held.enter_context(_locked(Path(share.folder) / f"{key}.lock"))
        except OSError:
            return compute()  # the folder is gone: this worker's own answers, which the controller compares
        found = _read(share, key, EntryBounds.of_run(dataset.photos, variants))
        if found is not None and found.get("kind") == "failure":
            _raise_stored(found)
        if found is not None:
            return _observations(found, dataset)
        try:
            observations = compute()
        except ConformanceError as exc:
            _store(
                share, key, {"kind": "failure", "systematic": isinstance(exc, SystematicFailure), "message": str(exc)}
            )
            raise
        _store(share, key, _observations_body(observations))
        return observations
    raise AssertionError("unreachable")  # for type checkers: the block returns or raises


def _store(share: Share, key: str, body: dict[str, Any]) -> None:
    # Not shared when the folder is gone or an analyzer's description is not JSON: the others work alone.
    with suppress(OSError, TypeError, ValueError):
        _write(share, key, body)


def seed(share: Share, what: Sequence[object], observations: Observations) -> None:
    """Store observations already made (``conformance run`` made them before pytest started) for the workers."""
    _store(share, _key(what), _observations_body(observations))


def shared_results(
    what: Sequence[object],
    compute: Callable[[], R],
    *,
    dump: Callable[[R], list[Any]],
    load: Callable[[list[Any]], R],
    bounds: EntryBounds,
) -> R:
    """``compute()``'s results, worked out once for all of a run's xdist workers, as the answers are.

    ``what`` decides them (the run's options, the check, the digest of the answers they stand on): the
    entry's key. The first worker to need them computes them while holding the entry's lock and stores
    ``dump(results)`` (plain JSON, sealed as the answers are); the others wait for the lock and ``load``
    what it stored: the regression gate's worker, which compares every check, computes none that another
    worker computed. A :class:`~conformance.errors.ConformanceError` is shared likewise and raised again.
    An entry that does not verify, is over ``bounds`` or does not load is not used: this worker computes
    the results itself. Outside an xdist worker this is ``compute()``.
    """
    from ..errors import ConformanceError
    from ..failures import SystematicFailure

    if not _ACTIVE:
        return compute()
    share = _ACTIVE[0]
    key = _key(("results", *what))  # never an answers entry's key: those are (options, analyzer spec)
    with ExitStack() as held:
        try:
            held.enter_context(_locked(Path(share.folder) / f"{key}.lock"))
        except OSError:
            return compute()  # the folder is gone: this worker's own results
        found = _read(share, key, bounds, what="results")
        if found is not None and found.get("kind") == "failure":
            _raise_stored(found)
        if found is not None and found.get("kind") == "results" and isinstance(found.get("results"), list):
            try:
                return load(found["results"])
            except (TypeError, ValueError) as exc:  # sealed by the run's workers, yet not results: never trusted
                _ignored(_entry(share, key), f"does not hold a check's results ({exc})", "results")
        try:
            results = compute()
        except ConformanceError as exc:
            _store(
                share, key, {"kind": "failure", "systematic": isinstance(exc, SystematicFailure), "message": str(exc)}
            )
            raise
        _store(share, key, {"kind": "results", "results": dump(results)})
        return results
    raise AssertionError("unreachable")  # for type checkers: the block returns or raises


def answers_digest(photos: Sequence[Mapping[str, Any]], observations: Observations | None) -> str:
    """A digest of the answers a worker's checks stand on: its report's ``photos[]`` and the transformed variants."""
    from .cache import _observation

    variants = None
    if observations is not None and observations.variants is not None:
        variants = [[v.photo, v.transform, _observation(v.observation)] for v in observations.variants]
    text = json.dumps({"photos": list(photos), "variants": variants}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _said(entry: Mapping[str, Any]) -> str:
    label = entry.get("label")
    if entry.get("outcome") == "analysed":
        return repr(label)
    return str(entry.get("outcome", "nothing"))


def different_answers(
    analyzer: str, first: tuple[str, Sequence[Mapping[str, Any]]], other: tuple[str, Sequence[Mapping[str, Any]]]
) -> str:
    """Why a run whose xdist workers stood on different answers gets no verdict, naming the first photo that differs."""
    (one, photos_one), (two, photos_two) = first, other
    differs = ""
    for a, b in zip(photos_one, photos_two, strict=False):
        if a != b:
            differs = f" (photo {a.get('photo')}: {_said(a)} on {one}, {_said(b)} on {two})"
            break
    else:
        if len(photos_one) == len(photos_two):
            differs = " (their answers for the transformed variants differ)"
    return (
        f"conformance: the pytest-xdist workers {one} and {two} got different answers from {analyzer} for the same "
        f"photos{differs}; a report built on both would mix checks computed from different answers, so this run "
        "gives no verdict. Run it without -n (or with -p no:xdist), or make the model deterministic (a fixed seed, "
        "no sampling or dropout at inference)"
    )
