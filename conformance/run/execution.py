"""Where analyzer calls run, how fast, and what the user sees meanwhile.

``--executor`` chooses where the per-photo calls go:

``serial``
    one after another in this process (the default).
``threads:N``
    N threads in this process, sharing the analyzer (boto3 clients are thread-safe; the
    recording store takes a lock). Right for a service: calls wait on the network, not the CPU.
``processes:N``
    N worker processes on this machine, each with its own copy of the analyzer; right for a
    local model (CPU-bound) or a large replay.
``dask-local:N``
    a Dask ``LocalCluster`` of N single-threaded worker processes on loopback (Dask distributed is
    the optional extra ``conformance[dask]``).
``dask:ADDRESS``
    an existing Dask cluster's scheduler (``tcp://host:8786``). Its workers need this kit and
    the analyzer's dependencies installed, and must see the dataset's image files at the same
    paths as this machine (a shared filesystem), as for any Dask job that reads files.

Photos go to workers in chunks; each chunk comes back with its observations and, for an adapter
that records, the interactions it recorded, which this process appends to the recording (one
writer, so a recording never holds a request twice). The answers are the same whichever executor
ran them: the tests compare every executor with the serial run.

:class:`TokenBucket` keeps live calls under a rate in calls per second (:mod:`conformance._pacing`, a
leaf the adapters use too); :func:`progress` shows a progress bar with rate and ETA on stderr (tqdm)
for long runs.

Two guards apply to every analyzer, whatever its adapter, as each observation is made:

- the **declared vocabulary is a contract** (:func:`hold_to_vocabulary`): a face without a gender from
  an analyzer that declares it cannot abstain, or a label outside its vocabulary, makes that photo an
  error ("the service returned no gender"), never an abstention;
- a **systematic failure stops the run** (:class:`FailureWatch`): N photos in a row failing with the
  same reason, or every one of the first N failing, is a fault of the setup (an endpoint that is not
  the service, a proxy's error page, a missing permission), not N facts about the photos; the run
  stops with :class:`SystematicFailure` and one message, instead of verdicts built on errors.

:func:`call_deadline` (:mod:`conformance._pacing`) bounds the whole time of each attempt of a call
(``--timeout``), not only each socket read.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from .._pacing import (  # the leaf adapters use; named here too, as the run's rate limit and deadlines
    TokenBucket,
    call_deadline,
    deadline_sockets,
    rearm_deadline,
)
from ..adapters.base import recorded, shares_with_workers
from ..errors import ConformanceError
from ..failures import DEFAULT_SYSTEMATIC_FAILURES, FailureWatch, SystematicFailure, failure_kind

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from ..adapters.base import AdapterSettings, Analyzer
    from ..dataset import Dataset, Photo
    from ..observation import Observation

__all__ = [
    "DEFAULT_SYSTEMATIC_FAILURES",
    "EXECUTORS",
    "ExecutorSpec",
    "FailureWatch",
    "Progress",
    "SystematicFailure",
    "TokenBucket",
    "analyze_photos",
    "call_deadline",
    "dask_client",
    "deadline_sockets",
    "failure_kind",
    "hold_to_vocabulary",
    "progress",
    "rearm_deadline",
]

EXECUTORS = ("serial", "threads", "processes", "dask-local", "dask")
_HOW = (
    "give serial, threads:N, processes:N, dask-local:N or dask:ADDRESS (e.g. threads:8, processes:2, "
    "dask:tcp://scheduler:8786)"
)


@dataclass(frozen=True)
class ExecutorSpec:
    """A parsed ``--executor`` value."""

    kind: str = "serial"
    workers: int = 1
    address: str = ""

    @classmethod
    def parse(cls, text: str | None) -> ExecutorSpec:
        """Parse ``serial``, ``threads:N``, ``processes:N``, ``dask-local:N`` or ``dask:ADDRESS``.

        Raises
        ------
        ConformanceError
            Naming the value and the forms it can take.
        """
        value = (text or "serial").strip()
        kind, _, argument = value.partition(":")
        kind = kind.strip().lower()
        if kind == "serial" and not argument:
            return cls()
        if kind == "dask":
            if not argument.strip():
                raise ConformanceError(f"--executor {value!r}: dask needs the scheduler's address; {_HOW}")
            return cls("dask", 0, argument.strip())
        if kind in ("threads", "processes", "dask-local"):
            try:
                workers = int(argument)
            except ValueError:
                raise ConformanceError(f"--executor {value!r}: {kind} needs a number of workers; {_HOW}") from None
            if not 1 <= workers <= 1024:
                raise ConformanceError(f"--executor {value!r}: the number of workers must be from 1 to 1024")
            return cls(kind, workers)
        raise ConformanceError(f"--executor {value!r}: unknown executor; {_HOW}")

    def __str__(self) -> str:
        if self.kind == "serial":
            return "serial"
        return f"dask:{self.address}" if self.kind == "dask" else f"{self.kind}:{self.workers}"

    @property
    def in_process(self) -> bool:
        """Whether calls run in this process (serial or threads), sharing the analyzer."""
        return self.kind in ("serial", "threads")


# -- the vocabulary contract ---------------------------------------------------------------------------

NO_GENDER = "the service returned no gender"


def hold_to_vocabulary(analyzer: Analyzer, observation: Observation) -> Observation:
    """``observation`` as the analyzer's declared vocabulary allows it, else that photo's error.

    A face without a label from an analyzer that declares it cannot abstain is not an abstention (it
    would count as "not misgendered"): the service broke its own contract. Nor is a label outside the
    vocabulary, or one whose meaning differs from what the vocabulary declares.
    """
    face = observation.face
    # Every analyzer declares one (adapters.base.check_capabilities holds it when it is created): no default that
    # would let every label through unchecked (red team 18b F3).
    vocabulary = analyzer.vocabulary
    if face is None:
        return observation
    labels = vocabulary.labels
    reason = ""
    if face.label is None:
        if not (vocabulary.can_abstain or "abstain" in labels.values()):
            name = str(analyzer.name)
            reason = (
                f"{NO_GENDER} for the face it found, though {name} declares it cannot abstain "
                f"(vocabulary from {vocabulary.source}): an answer breaking its contract, not an abstention"
            )
    elif face.label not in labels:
        from .._untrusted import shown, shown_list  # here only: an import statement per photo cost 1.3 s a million

        reason = (
            f"the service returned the gender label {shown(face.label)}, outside its declared vocabulary "
            f"[{shown_list(labels, most=10)}] (from {vocabulary.source})"
        )
    elif face.gender != labels[face.label]:
        from .._untrusted import shown

        reason = (
            f"the label {shown(face.label)} was read as {shown(face.gender)}, but the declared vocabulary says it "
            f"means {shown(labels[face.label])}"
        )
    if not reason:
        return observation
    return replace(observation, outcome="error", face=None, reason=reason)


# -- systematic failures -------------------------------------------------------------------------------


def _observe(analyzer: Any, photo: Photo, watch: FailureWatch | None) -> Observation:
    """One photo's observation, held to the analyzer's vocabulary, and seen by the watch."""
    observation = hold_to_vocabulary(analyzer, analyzer.analyze(photo))
    if watch is not None:
        watch.see(observation)
    return observation


class Progress(Protocol):
    def update(self, n: int = 1) -> Any: ...


class _Silent:
    def update(self, n: int = 1) -> None:
        pass


@contextmanager
def progress(total: int, *, enabled: bool | None, what: str = "photos") -> Iterator[Progress]:
    """A progress bar on stderr with rate and ETA (tqdm); ``enabled=None`` shows it when stderr is a terminal."""
    show = sys.stderr.isatty() if enabled is None else enabled
    if not show or total <= 0:
        yield _Silent()
        return
    from tqdm import tqdm

    with tqdm(total=total, unit=" " + what, file=sys.stderr, desc="conformance", smoothing=0.1) as bar:
        yield bar


# -- fanning photos out --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """What a worker process needs to build its own copy of the analyzer (pickled once per worker)."""

    analyzer: str
    settings: AdapterSettings
    dataset: Dataset
    token: str = field(default_factory=lambda: __import__("uuid").uuid4().hex)


@dataclass(frozen=True)
class ChunkResult:
    """A chunk's observations, and what the worker's adapter hands back to this process (e.g. recordings)."""

    observations: list[Observation]
    returned: Any = None
    error: BaseException | None = None  # what stopped the chunk, raised in the run's process after ``returned`` is kept


_WORKER_ANALYZERS: dict[str, Analyzer] = {}
_WORKER_RECIPES: dict[str, Recipe] = {}
_WORKER_LOCK = threading.Lock()
# One chunk at a time per worker process: a Dask worker with several threads shares one analyzer, whose
# session (recording, client, rate limit) belongs to one chunk.
_CHUNK_LOCK = threading.Lock()


def _install(recipe: Recipe) -> None:
    """A worker process's initializer: keep the recipe (the dataset travels once per worker, not per chunk).

    A worker also stops its chunk on SIGTERM as on Ctrl-C (handing back what it recorded), and exits
    when the run's process is gone (killed outright), rather than live on holding the run's output open.
    """
    from .._signals import handle_sigterm_for_good

    handle_sigterm_for_good()
    _exit_with_parent(os.getppid())
    _WORKER_RECIPES.clear()
    _WORKER_RECIPES[recipe.token] = recipe


_PARENT_POLL = 0.5  # seconds between a worker's looks at whether the run's process is still there


def _exit_with_parent(parent: int) -> None:
    """Exit this worker process as soon as its parent (the run's process) is gone: it is then re-parented."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_POLL)
        os._exit(1)  # nobody is left to hand the chunk's answers to; the next run asks for them again

    threading.Thread(target=watch, name="conformance-parent-watch", daemon=True).start()


def _worker_analyzer(recipe: Recipe) -> Analyzer:
    """The worker's analyzer for ``recipe``, built once per worker process."""
    with _WORKER_LOCK:
        analyzer = _WORKER_ANALYZERS.get(recipe.token)
        if analyzer is None:
            from ..adapters.registry import create

            _WORKER_ANALYZERS.clear()  # one run at a time per worker: drop the previous run's model
            analyzer = _WORKER_ANALYZERS[recipe.token] = create(
                recipe.analyzer, dataset=recipe.dataset, settings=recipe.settings
            )
        return analyzer


def analyze_chunk(recipe: Recipe | str, photo_ids: Sequence[str], payload: Any) -> ChunkResult:
    """Run in a worker: analyse the chunk's photos with the worker's own analyzer.

    ``recipe`` is the recipe itself (Dask resolves the copy scattered to every worker) or the token of
    the one the worker process was started with.
    """
    if isinstance(recipe, str):
        recipe = _WORKER_RECIPES[recipe]
    with _CHUNK_LOCK:
        analyzer = _worker_analyzer(recipe)
        photos = [recipe.dataset.photo(photo_id) for photo_id in photo_ids]
        sharing = shares_with_workers(analyzer)
        if sharing is None:
            return ChunkResult([_observe(analyzer, p, None) for p in photos])
        with sharing.worker_session(payload) as handback:
            try:
                observations = [_observe(analyzer, p, None) for p in photos]
            except BaseException as exc:  # Ctrl-C too: what the chunk recorded is paid for, hand it back
                return ChunkResult([], handback(), exc)
        return ChunkResult(observations, handback())


def _chunks(photos: Sequence[Photo], workers: int, limit: int = 1000) -> list[Sequence[Photo]]:
    """Chunks small enough to balance the workers and show progress, big enough to keep overhead low.

    ``limit``: the analyzer's ``chunk_limit`` when it has one (a recording run keeps chunks small: their
    answers reach the recording when the chunk comes back).
    """
    size = max(1, min(limit, math.ceil(len(photos) / max(1, workers * 8))))
    return [photos[i : i + size] for i in range(0, len(photos), size)]


@dataclass(frozen=True)
class Pool:
    """An open pool of worker processes: where chunks go, how many workers, and how tasks name the recipe."""

    executor: Executor
    count: int
    recipe: Any  # the token (processes) or the scattered future (Dask) standing for the run's Recipe


@contextmanager
def workers(spec: ExecutorSpec, recipe: Callable[[], Recipe] | None = None) -> Iterator[Pool | None]:
    """The worker pool of ``spec``; None for executors in this process.

    ``recipe`` builds what workers need, sent once to each worker. The pool is opened before the
    analyzer's session, whose guard against network traffic in a replay must not stand between this
    process and its workers.
    """
    if spec.in_process:
        yield None
        return
    if recipe is None:
        raise ConformanceError(f"--executor {spec}: this run cannot be sent to worker processes")
    with _pool(spec, recipe()) as pool:
        yield pool


@contextmanager
def _pool(spec: ExecutorSpec, recipe: Recipe) -> Iterator[Pool]:
    """A concurrent.futures executor for processes, a local Dask cluster, or a Dask scheduler; and its workers."""
    if spec.kind == "processes":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: the parent holds HTTP patches, locks and threads a forked child must not inherit.
        pool = ProcessPoolExecutor(
            spec.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_install, initargs=(recipe,)
        )
        try:
            yield Pool(pool, spec.workers, recipe.token)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    with dask_client(spec) as client:
        count = spec.workers if spec.kind == "dask-local" else max(1, len(client.scheduler_info().get("workers", {})))
        yield Pool(client.get_executor(), count, client.scatter(recipe, broadcast=True, hash=False))


@contextmanager
def dask_client(spec: ExecutorSpec) -> Iterator[Any]:
    """A Dask client for ``dask-local:N`` (a local cluster of N single-threaded worker processes on loopback)
    or ``dask:ADDRESS`` (an existing scheduler), closed on the way out; nothing starts before it is entered."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConformanceError(
            f"--executor {spec}: Dask distributed is not installed; pip install 'conformance[dask]'"
        ) from None
    if spec.kind == "dask-local":
        with (
            LocalCluster(
                n_workers=spec.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=40,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(spec.address)  # waits as long as dask's distributed.comm.timeouts.connect (30 s)
    except OSError as exc:
        raise ConformanceError(f"--executor {spec}: cannot reach the Dask scheduler ({exc})") from None
    with client:
        yield client


def analyze_photos(
    analyzer: Analyzer,
    photos: Sequence[Photo],
    *,
    executor: ExecutorSpec,
    pool: Pool | None = None,
    recipe: Callable[[], Recipe] | None = None,
    bar: Progress | None = None,
    watch: FailureWatch | None = None,
) -> list[Observation]:
    """One observation per photo, in the order of ``photos``, from ``executor``.

    ``pool`` is the open pool of :func:`workers` for processes and Dask (opened here if None, from
    ``recipe``, which builds what worker processes need). The
    analyzer's own session must already be open (the runner opens it); a worker's adapter may
    hand data back (e.g. recorded interactions), which goes to ``analyzer.absorb``. Every
    observation is held to the analyzer's vocabulary (:func:`hold_to_vocabulary`) and seen by
    ``watch``, which stops the run on a systematic failure (a :class:`FailureWatch` with the default
    limit when None).
    """
    bar = bar or _Silent()
    watch = watch if watch is not None else FailureWatch()
    watch.expect(len(photos))  # a run shorter than the streak stops too when every photo failed alike
    if executor.kind == "serial":
        found = []
        for photo in photos:
            found.append(_observe(analyzer, photo, watch))
            bar.update(1)
        return found
    if executor.kind == "threads":
        from concurrent.futures import ThreadPoolExecutor

        def one(photo: Photo) -> Observation:
            if watch.stopped is not None:
                raise watch.stopped  # the run is stopping: the photos not begun are not sent
            observation = _observe(analyzer, photo, watch)
            bar.update(1)
            return observation

        from .._model_output import kit_thread

        # Marked as the kit's by identity (not the name): their progress lines go to the console (rt14f F3).
        threads = ThreadPoolExecutor(executor.workers, thread_name_prefix="conformance", initializer=kit_thread)
        try:
            return list(threads.map(one, photos))
        finally:
            # Interrupted (Ctrl-C) or failed: the photos not begun are dropped, not analysed on the way out.
            threads.shutdown(wait=True, cancel_futures=True)
    if pool is None:
        with workers(executor, recipe) as opened:
            return analyze_photos(analyzer, photos, executor=executor, pool=opened, recipe=recipe, bar=bar, watch=watch)
    from concurrent.futures import as_completed

    runner, count = pool.executor, pool.count
    # The workers' share of the rate limit reached the analyzer in its session's plan (runner.analyze_dataset).
    sharing = shares_with_workers(analyzer)
    replayed = recorded(analyzer)
    results: dict[int, list[Observation]] = {}
    futures = {}
    limit = replayed.chunk_limit if replayed is not None else 1000
    for index, chunk in enumerate(_chunks(photos, count, limit)):
        payload = sharing.worker_payload(chunk) if sharing is not None else None
        future = runner.submit(analyze_chunk, pool.recipe, [p.id for p in chunk], payload)
        futures[future] = index
    failure: BaseException | None = None

    def take(future: Any) -> None:
        nonlocal failure
        try:
            result = future.result()
        except Exception as exc:  # keep absorbing the other chunks: what they recorded is kept
            failure = failure or _worker_failure(exc)
            return
        if sharing is not None:
            try:
                sharing.absorb(result.returned)
            except ConformanceError as exc:  # what the chunks bring back cannot be kept (a recording not written)
                failure = failure or exc
                for other in futures:
                    other.cancel()  # the chunks not begun are not sent; running ones still hand back theirs
                return
        if result.error is not None:
            failure = failure or result.error
            return
        results[futures[future]] = result.observations
        bar.update(len(result.observations))
        if failure is None:
            try:
                for observation in result.observations:
                    watch.see(observation)
            except SystematicFailure as stop:
                failure = stop
                for other in futures:
                    other.cancel()  # the chunks not begun are not sent; running ones hand back what they recorded

    try:
        for future in as_completed(futures):
            take(future)
    except KeyboardInterrupt:
        # Interrupted here: cancel what has not begun, and keep what the running chunks hand back (their
        # workers were interrupted too, and return what they recorded) before stopping.
        for future in futures:
            future.cancel()
        from concurrent.futures import wait

        done, _ = wait([f for f in futures if not f.cancelled()], timeout=30)
        for future in done:
            if futures[future] not in results:
                take(future)
        raise
    if failure is not None:
        raise failure
    return [o for index in sorted(results) for o in results[index]]


def _worker_failure(exc: Exception) -> BaseException:
    """A worker pool's own failure as the kit's error (a worker killed, a pool broken), others as they are."""
    if type(exc).__name__ in ("BrokenProcessPool", "KilledWorker", "CommClosedError"):
        return ConformanceError(
            f"a worker process stopped ({type(exc).__name__}: {exc}); what the other workers recorded is kept: "
            "run the same command again to record what is missing"
        )
    return exc
