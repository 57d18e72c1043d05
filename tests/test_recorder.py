"""The recording machinery any recorded vendor adapter needs, held by a vendor that is not Rekognition.

``conformance.recording.recorder`` asks an adapter for four things (``RecordedVendor``); this file's
``Acme`` gives them and nothing else (no SDK, no HTTP: its "calls" append to the store the way the
cassette does), so what is checked here is the recorder's own work: the recording opened, a replay
refused before any call when a request is missing, ``complete`` written only when every planned
request is answered, another adapter version refused, workers fed and absorbed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from builders import people, write_dataset

from conformance import load_dataset
from conformance.adapters.base import SessionPlan
from conformance.dataset import Dataset, Photo
from conformance.recording import RecordingError, RecordingStore
from conformance.recording.recorder import Planned, Recorder
from conformance.recording.scrub import request_key

NOTE = "Recorded by a test vendor."


class _Cassette:
    """What the recorder reads of a cassette: what became of each live answer, and the emulator's claims."""

    def __init__(self) -> None:
        self.verdicts: dict[str, str] = {}
        self.claims: dict[str, str] = {}


class Acme:
    """A second recorded vendor, as small as the recorder lets it be."""

    record_hint = " (with ACME_ENDPOINT set for a stand-in)"

    def __init__(self, dataset: Dataset, cassettes: Path, mode: str, *, version: str = "1") -> None:
        self.dataset = dataset
        self.finished = 0
        self.rec = Recorder(
            dataset=dataset,
            cassette_dir=cassettes,
            record_mode=mode,
            adapter="acme",
            version=version,
            filename="acme.jsonl",
            note=NOTE,
            vendor_host=r"api\.acme\.example",
            sdk=("acme_sdk",),
        )
        self._store: RecordingStore | None = None
        self._begun = False

    # -- RecordedVendor ---------------------------------------------------------------------------------

    def planned(self, photos: Sequence[Photo] | None = None) -> list[Planned]:
        chosen = self.dataset.photos if photos is None else photos
        return [Planned(p, "Detect", p.digest, self.key(p)) for p in chosen]

    def open_transport(
        self, stack: ExitStack, store: RecordingStore, effective: str, *, live_calls: int, share: int = 1
    ) -> Any:
        self._store, self._begun = store, False
        self.live_planned = live_calls
        return _Cassette()

    def finish(self) -> None:
        self.finished += 1

    # -- the adapter's own ------------------------------------------------------------------------------

    @staticmethod
    def key(photo: Photo) -> str:
        # As the cassette keys a request: its operation and its canonical body (sorted keys, compact).
        return request_key("Detect", json.dumps({"Photo": photo.id}, sort_keys=True, separators=(",", ":")))

    @contextmanager
    def session(self, plan: SessionPlan | None = None) -> Iterator[None]:
        with self.rec.session(self, plan or SessionPlan()):
            yield

    def analyze(self, photo: Photo) -> str:
        """One call: replayed when the recording answers it, else "sent" and recorded."""
        key = self.key(photo)
        if self.rec.replays(key):
            assert self._store is not None
            return str(self._store.play(key)["response"]["body"])
        self.rec.count_live()
        assert self._store is not None
        if not self._begun:
            session = {"endpoint": "https://api.acme.example", "adapter_version": self.rec.version}
            self._store.begin_session(self.rec.begin_session(session), NOTE)
            self._begun = True
        answer = f"faces of {photo.id}"
        self._store.append(
            key,
            "Detect",
            {"body": {"Photo": photo.id}},
            {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": answer},
        )
        return answer


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    manifest, _ = write_dataset(tmp_path / "photos", people("a", 3))
    return load_dataset(manifest)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_a_second_vendor_records_once_then_replays_offline(dataset: Dataset, tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    vendor = Acme(dataset, cassettes, "once")
    with vendor.session():
        answers = [vendor.analyze(p) for p in dataset.photos]
    assert answers == [f"faces of {p.id}" for p in dataset.photos]
    assert vendor.rec.live_calls == 3
    assert vendor.live_planned == 3  # every photo was missing: the live estimate counted them
    # Undone before completeness was counted, and again on the way out (where a failed run undoes it): idempotent.
    assert vendor.finished == 2
    lines = _lines(vendor.rec.recording)
    assert vendor.rec.recording.parent.parent == cassettes
    assert lines[0]["adapter"] == "acme"
    assert lines[0]["note"] == NOTE
    session = next(line["session"] for line in lines if "session" in line)
    assert session["endpoint_class"] == "vendor"  # https and the vendor's own host
    assert lines[-1] == {"complete": {"photos": 3}}

    replay = Acme(dataset, cassettes, "none")
    with replay.session():
        assert [replay.analyze(p) for p in dataset.photos] == answers
    assert replay.rec.live_calls == 0
    assert replay.rec.sessions()[0]["endpoint_class"] == "vendor"
    assert replay.rec.endpoint_class(replay.rec.sessions()) == "vendor"


def test_a_replay_missing_a_request_stops_before_any_call_with_the_command(dataset: Dataset, tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    partial = Acme(dataset, cassettes, "new_episodes")
    with partial.session():
        partial.analyze(dataset.photos[0])
    replay = Acme(dataset, cassettes, "none")
    with pytest.raises(RecordingError) as refused, replay.session():
        pytest.fail("the session must not open")
    message = str(refused.value)
    second = dataset.photos[1]
    assert message.startswith(f"no recording of Detect for photo {second.id!r} (sha256:{second.digest}) in ")
    assert ", nor of 1 more request(s); record it with conformance run --dataset " in message
    assert f"--analyzer acme --cassette-dir {cassettes} --record-mode new_episodes (with ACME_ENDPOINT set" in message
    assert replay.finished == 0  # nothing was opened at the vendor
    # A partial recording is never complete.
    assert not any("complete" in line for line in _lines(partial.rec.recording))


def test_a_recording_of_another_adapter_version_is_refused(dataset: Dataset, tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    old = Acme(dataset, cassettes, "once", version="0")
    with old.session():
        for photo in dataset.photos:
            old.analyze(photo)
    refused = r"recorded by acme adapter version 0; this kit's is 1, whose requests"
    with pytest.raises(RecordingError, match=refused), Acme(dataset, cassettes, "none").session():
        pass


def test_workers_replay_what_they_are_sent_and_the_run_records_what_they_hand_back(
    dataset: Dataset, tmp_path: Path
) -> None:
    cassettes = tmp_path / "cassettes"
    first = Acme(dataset, cassettes, "new_episodes")
    with first.session():
        first.analyze(dataset.photos[0])
    run = Acme(dataset, cassettes, "once")
    with run.session():
        payload = run.rec.worker_payload(Acme.key(p) for p in dataset.photos)
        assert payload["effective"] == "new_episodes"
        assert list(payload["lines"]) == [Acme.key(dataset.photos[0])]  # what the recording holds of the chunk
        worker = Acme(dataset, cassettes, "once")
        with worker.rec.worker_session(worker, payload) as handback:
            answers = [worker.analyze(p) for p in dataset.photos]
        returned = handback()
        assert answers == [f"faces of {p.id}" for p in dataset.photos]
        assert returned["live_calls"] == 2  # the first photo was replayed from what the worker was sent
        assert len(returned["lines"]) == 2
        assert (
            dataset.photos[1].id not in run.rec.recording.read_text()
        )  # a worker writes nothing to the recording itself
        run.rec.absorb(returned)
        assert run.rec.store is not None
        assert run.rec.store.append_line(returned["lines"][0]) is False  # never the same request twice
    assert run.rec.live_calls == 2
    keys = [line["key"] for line in _lines(run.rec.recording) if "key" in line]
    assert sorted(keys) == sorted(Acme.key(p) for p in dataset.photos)
    assert _lines(run.rec.recording)[-1] == {"complete": {"photos": 3}}
