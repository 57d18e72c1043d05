"""Executors, the token bucket and the progress bar (conformance.run.execution).

Every executor must give the serial run's answers, photo for photo: the serial replay of the shipped
demo recording is the reference, and the demo's predictions file (what the emulator served when the
recording was made) is an independent one. The token bucket's waits are worked out by hand.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters.base import AdapterSettings, Capabilities, Vocabulary
from conformance.adapters.registry import create
from conformance.dataset import load_dataset
from conformance.errors import ConformanceError
from conformance.run.execution import ExecutorSpec, Recipe, TokenBucket, analyze_photos, progress
from conformance.run.runner import accounting, analyze_dataset


@pytest.mark.parametrize(
    ("text", "kind", "workers", "address"),
    [
        (None, "serial", 1, ""),
        ("serial", "serial", 1, ""),
        ("threads:8", "threads", 8, ""),
        ("processes:2", "processes", 2, ""),
        ("dask-local:3", "dask-local", 3, ""),
        ("dask:tcp://10.0.0.5:8786", "dask", 0, "tcp://10.0.0.5:8786"),
        (" Threads:4 ", "threads", 4, ""),
    ],
)
def test_executor_specs_parse(text: str | None, kind: str, workers: int, address: str) -> None:
    spec = ExecutorSpec.parse(text)
    assert (spec.kind, spec.workers, spec.address) == (kind, workers, address)
    assert ExecutorSpec.parse(str(spec)) == spec  # what the header prints reads back


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("threads", "threads needs a number of workers"),
        ("threads:many", "threads needs a number of workers"),
        ("processes:0", "from 1 to 1024"),
        ("dask", "dask needs the scheduler's address"),
        ("dask:", "dask needs the scheduler's address"),
        ("ray:4", "unknown executor"),
        ("serial:2", "unknown executor"),
    ],
)
def test_bad_executor_specs_name_the_value_and_the_forms(text: str, says: str) -> None:
    with pytest.raises(ConformanceError) as caught:
        ExecutorSpec.parse(text)
    assert says in str(caught.value)
    assert repr(text) in str(caught.value)
    assert "threads:N, processes:N" in str(caught.value) or "from 1 to 1024" in str(caught.value)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_token_bucket_waits_worked_out_by_hand() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, burst=2, clock=clock, sleep=clock.sleep)
    # A full bucket of 2: two calls at once, no wait; the third owes 1 token at 10/s = 0.1 s.
    assert [bucket.acquire(), bucket.acquire()] == [0.0, 0.0]
    assert bucket.acquire() == pytest.approx(0.1)
    # The sleep moved the clock to 100.1 and the balance is back to 0: the next call owes 0.1 s again.
    assert bucket.acquire() == pytest.approx(0.1)
    # 0.35 s later: 3.5 tokens would come, capped at the burst of 2; two free calls, then 0.1 s.
    clock.now += 0.35
    assert [bucket.acquire(), bucket.acquire()] == [0.0, 0.0]
    assert bucket.acquire() == pytest.approx(0.1)
    assert clock.slept == pytest.approx([0.1, 0.1, 0.1])
    assert bucket.waited == pytest.approx(0.3)


def test_token_bucket_threads_never_beat_the_rate() -> None:
    # 4 threads x 25 calls at 200/s with a burst of 1: the first call is free, the other 99 need
    # 99 / 200 = 0.495 s of tokens, however the threads interleave (a lower bound, not a timing).
    bucket = TokenBucket(200, burst=1)
    start = time.monotonic()
    threads = [threading.Thread(target=lambda: [bucket.acquire() for _ in range(25)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - start >= 0.495 - 0.005


def test_try_acquire_refuses_without_waiting_or_owing_when_the_bucket_is_empty() -> None:
    """The emulator's --max-rate: a call beyond the quota is refused now, and a refusal costs no token."""
    now = [0.0]
    bucket = TokenBucket(2.0, burst=2, clock=lambda: now[0], sleep=lambda _: pytest.fail("try_acquire slept"))
    assert [bucket.try_acquire() for _ in range(3)] == [True, True, False]  # the burst of 2, then empty
    assert bucket.try_acquire() is False  # refused again, and still no debt
    now[0] = 0.5  # half a second at 2 a second: exactly one token back
    assert [bucket.try_acquire() for _ in range(2)] == [True, False]
    now[0] = 10.0  # long idle: refilled to the burst, never above it
    assert [bucket.try_acquire() for _ in range(3)] == [True, True, False]


@pytest.mark.parametrize("rate", [0, -1, float("nan"), float("inf"), True])
def test_token_bucket_refuses_rates_that_are_not_positive_numbers(rate: Any) -> None:
    with pytest.raises(ConformanceError, match="positive number"):
        TokenBucket(rate)


# -- every executor gives the serial run's answers -------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> Any:
    from conformance.demo import CASSETTES, MANIFEST

    dataset = load_dataset(MANIFEST)
    settings = AdapterSettings(record_mode="none", cassette_dir=str(CASSETTES))
    return dataset, settings


def _answers(observations: Any) -> list[tuple[Any, ...]]:
    return [
        (o.photo, o.outcome, o.faces, o.reason, o.face and (o.face.label, o.face.confidence, o.face.box))
        for o in observations.records
    ]


@pytest.fixture(scope="module")
def serial(demo: Any) -> list[tuple[Any, ...]]:
    dataset, settings = demo
    observations = analyze_dataset(create("rekognition", dataset=dataset, settings=settings), dataset)
    return _answers(observations)


def test_the_serial_replay_matches_the_predictions_the_emulator_served(demo: Any, serial: Any) -> None:
    from conformance.demo import MANIFEST

    dataset, _ = demo
    served = {}
    for line in (Path(MANIFEST).parent / "predictions.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "photo" in record:
            face = record["faces"][0]
            served[record["photo"]] = (face["gender"], face["confidence"])
    assert len(served) == len(dataset) == len(serial)
    assert {photo: (face[0], face[1]) for photo, _, _, _, face in serial} == served


@pytest.mark.parametrize("executor", ["threads:4", "processes:2", "dask-local:2"])
def test_every_executor_gives_the_serial_answers_photo_for_photo(demo: Any, serial: Any, executor: str) -> None:
    dataset, settings = demo
    analyzer = create("rekognition", dataset=dataset, settings=settings)
    observations = analyze_dataset(
        analyzer,
        dataset,
        executor=ExecutorSpec.parse(executor),
        recipe=lambda: Recipe("rekognition", settings, dataset),
    )
    assert _answers(observations) == serial
    assert observations.analyzer["emulated"] is True  # the workers' flags come back to the report
    assert observations.analyzer["simulated"] is True


def test_worker_executors_need_a_recipe(demo: Any) -> None:
    dataset, _ = demo
    analyzer = create("predictions:" + str(Path(dataset.manifest).parent / "predictions.jsonl"), dataset=dataset)
    with pytest.raises(ConformanceError, match="cannot be sent to worker processes"):
        analyze_photos(analyzer, dataset.photos[:3], executor=ExecutorSpec.parse("processes:1"))


def test_progress_bar_shows_count_rate_and_eta_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with progress(4, enabled=True) as bar:
        for _ in range(4):
            bar.update(1)
    err = capsys.readouterr().err
    assert "4/4" in err
    assert "photos/s" in err  # tqdm's rate, in the unit given
    with progress(4, enabled=False) as bar:
        bar.update(4)
    assert capsys.readouterr().err == ""


def test_accounting_counts_every_outcome(make_manifest: Any, tmp_path: Path) -> None:
    from conformance.observation import Face, Observation, Observations

    manifest = make_manifest(
        [
            {"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
            {"photo": "b.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
            {"photo": "c.png", "subject": "s2", "gender_identity": "man", "trans": "no"},
        ]
    )
    dataset = load_dataset(manifest)
    ids = [p.id for p in dataset.photos]
    observations = Observations.build(
        dataset,
        [
            Observation(ids[0], "analysed", Face("F", "woman", 90.0)),
            Observation(ids[1], "no_face"),
            Observation(ids[2], "error", reason="ThrottlingException: after retries"),
        ],
    )
    assert accounting(observations) == "3 photos: 1 analysed, 1 no face, 1 error"


def test_an_existing_dask_cluster_named_by_its_address_gives_the_serial_answers(demo: Any, serial: Any) -> None:
    from distributed import LocalCluster

    dataset, settings = demo
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        spec = ExecutorSpec.parse(f"dask:{cluster.scheduler_address}")
        analyzer = create("rekognition", dataset=dataset, settings=settings)
        observations = analyze_dataset(
            analyzer, dataset, executor=spec, recipe=lambda: Recipe("rekognition", settings, dataset)
        )
    assert _answers(observations) == serial
    assert analyzer._plan.workers == 2  # the workers the scheduler reported share the rate limit (the session's plan)


def test_an_unreachable_dask_scheduler_is_the_kits_error(demo: Any) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    import dask

    dataset, settings = demo
    analyzer = create("rekognition", dataset=dataset, settings=settings)
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "2s"}),
        pytest.raises(ConformanceError, match="cannot reach the Dask scheduler"),
    ):
        analyze_photos(
            analyzer,
            dataset.photos[:2],
            executor=ExecutorSpec.parse(f"dask:tcp://127.0.0.1:{port}"),
            recipe=lambda: Recipe("rekognition", settings, dataset),
        )


def test_a_worker_chunk_that_stops_still_hands_back_what_it_recorded(
    demo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk stopped by an error hands back what it recorded before (paid calls); the run then stops."""
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import contextmanager

    import conformance.run.execution as execution
    from conformance.observation import Observation

    dataset, settings = demo
    absorbed: list[Any] = []

    class Worker:
        capabilities = Capabilities(workers=True)
        # What every analyzer has (red team 18b F3: the run no longer lets an analyzer without one through).
        name = "worker"
        vocabulary = Vocabulary({}, "test", can_abstain=True)

        def __init__(self) -> None:
            self.recorded: list[str] = []

        @contextmanager
        def worker_session(self, payload: Any) -> Any:
            self.recorded = []  # a session per chunk, as a real worker's in-memory store
            yield lambda: list(self.recorded)

        def analyze(self, photo: Any) -> Observation:
            if photo.id == dataset.photos[3].id:
                raise ConformanceError("the service went away")
            self.recorded.append(photo.id)
            return Observation(photo.id, "no_face")

    class Parent:
        name = "fake"
        capabilities = Capabilities(workers=True)

        def worker_payload(self, photos: Any) -> None:
            return None

        def absorb(self, handback: Any) -> None:
            absorbed.append(handback)

    worker = Worker()
    monkeypatch.setattr(execution, "_worker_analyzer", lambda recipe: worker)
    recipe = Recipe("rekognition", settings, dataset)
    with ThreadPoolExecutor(1) as pool, pytest.raises(ConformanceError, match="the service went away"):
        analyze_photos(
            Parent(),  # type: ignore[arg-type]
            dataset.photos[:16],  # 8 chunks of 2 photos for 1 worker
            executor=ExecutorSpec.parse("processes:1"),
            pool=execution.Pool(pool, 1, recipe),
        )
    ids = [p.id for p in dataset.photos[:16]]
    # Every chunk's recordings were kept, the stopped one's too: photo 2, answered before photo 3 failed.
    assert sorted(absorbed) == sorted([ids[0:2], [ids[2]], *[ids[i : i + 2] for i in range(4, 16, 2)]])


def test_a_dask_worker_with_several_threads_gives_the_serial_answers(demo: Any, serial: Any) -> None:
    from distributed import LocalCluster

    dataset, settings = demo
    with LocalCluster(
        n_workers=1, threads_per_worker=4, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        analyzer = create("rekognition", dataset=dataset, settings=settings)
        observations = analyze_dataset(
            analyzer,
            dataset,
            executor=ExecutorSpec.parse(f"dask:{cluster.scheduler_address}"),
            recipe=lambda: Recipe("rekognition", settings, dataset),
        )
    assert _answers(observations) == serial
