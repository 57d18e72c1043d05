"""The observations cache: a re-run on an unchanged recording reads its answers instead of replaying them.

"Not replayed" is shown by making every call fail on the second run: the answers can only come from
the cache. Any change the answers depend on (here a byte of the recording) must bring the calls back.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from conformance.adapters.base import AdapterSettings
from conformance.adapters.registry import create
from conformance.adapters.rekognition import RekognitionAnalyzer
from conformance.dataset import load_dataset
from conformance.run.runner import analyze_dataset


@pytest.fixture
def demo(tmp_path: Path) -> tuple[Any, Path]:
    """The demo dataset with a private copy of its recording (so the tests may change it)."""
    from conformance.demo import CASSETTES, MANIFEST

    dataset = load_dataset(MANIFEST)
    cassettes = tmp_path / "cassettes"
    shutil.copytree(Path(CASSETTES) / dataset.name, cassettes / dataset.name)
    return dataset, cassettes


def _run(dataset: Any, cassettes: Path, root: Path, mode: str = "none") -> Any:
    analyzer = create(
        "rekognition", dataset=dataset, settings=AdapterSettings(record_mode=mode, cassette_dir=str(cassettes))
    )
    return analyze_dataset(analyzer, dataset, cache=root)


def _answers(observations: Any) -> list[tuple[Any, ...]]:
    return [
        (o.photo, o.outcome, o.faces, o.reason, o.face and (o.face.label, o.face.gender, o.face.confidence, o.face.box))
        for o in observations.records
    ]


def _no_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    called: list[str] = []

    def refuse(self: Any, photo: Any) -> Any:
        called.append(photo.id)
        raise AssertionError("replayed a response the cache holds")

    monkeypatch.setattr(RekognitionAnalyzer, "analyze", refuse)
    return called


def test_a_rerun_on_an_unchanged_recording_reads_the_cache_not_the_responses(
    demo: tuple[Any, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset, cassettes = demo
    first = _run(dataset, cassettes, tmp_path)
    assert "observations_cache" not in first.analyzer
    files = list((tmp_path / ".conformance_cache" / "observations").glob("*.json"))
    assert len(files) == 1
    _no_calls(monkeypatch)
    second = _run(dataset, cassettes, tmp_path)
    assert _answers(second) == _answers(first)
    assert second.analyzer["observations_cache"] == f".conformance_cache/observations/{files[0].name}"
    # Provenance survives: the report still says the answers were emulated and simulated.
    assert second.analyzer["emulated"] is True
    assert second.analyzer["simulated"] is True
    assert second.analyzer["recorded_with"] == first.analyzer["recorded_with"]


def test_a_changed_recording_is_replayed_again(
    demo: tuple[Any, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset, cassettes = demo
    _run(dataset, cassettes, tmp_path)
    recording = cassettes / dataset.name / "rekognition.jsonl"
    recording.write_bytes(recording.read_bytes() + b"\n")  # one byte more, the same answers
    called = _no_calls(monkeypatch)
    with pytest.raises(AssertionError, match="replayed a response"):
        _run(dataset, cassettes, tmp_path)
    assert called  # the cache was not used: the answers were asked for again


def test_a_recording_run_neither_reads_nor_writes_the_cache(demo: tuple[Any, Path], tmp_path: Path) -> None:
    dataset, cassettes = demo
    analyzer = create(
        "rekognition", dataset=dataset, settings=AdapterSettings(record_mode="once", cassette_dir=str(cassettes))
    )
    assert analyzer.cache_key("") is None
    _run(dataset, cassettes, tmp_path, mode="once")  # complete recording: once replays, offline
    assert not (tmp_path / ".conformance_cache").exists()


def test_a_damaged_cache_file_is_worked_out_again(demo: tuple[Any, Path], tmp_path: Path) -> None:
    dataset, cassettes = demo
    first = _run(dataset, cassettes, tmp_path)
    (cached,) = (tmp_path / ".conformance_cache" / "observations").glob("*.json")
    cached.write_text(cached.read_text()[:1000])  # torn
    again = _run(dataset, cassettes, tmp_path)
    assert _answers(again) == _answers(first)
    assert "observations_cache" not in again.analyzer
    assert cached.read_text().endswith("}")  # and rewritten whole


def test_the_cache_holds_no_image_bytes(demo: tuple[Any, Path], tmp_path: Path) -> None:
    dataset, cassettes = demo
    _run(dataset, cassettes, tmp_path)
    (cached,) = (tmp_path / ".conformance_cache" / "observations").glob("*.json")
    text = cached.read_text()
    import base64
    import json

    for photo in dataset.photos[:20]:  # the forms image bytes travel in: base64 (as in requests) and hex
        data = photo.path.read_bytes()
        assert base64.b64encode(data).decode()[:40] not in text
        assert data.hex()[:40] not in text
    assert "iVBORw0KGgo" not in text  # a base64 PNG signature
    # What each photo's row holds, and nothing else: photo, outcome, faces, reason, face fields.
    seal, body = text.split("\n", 1)  # the seal's line, then the entry's JSON
    assert len(seal) == 64
    rows = json.loads(body)["observations"]
    assert {len(row) for row in rows} == {5}
    assert {tuple(sorted(row[4])) for row in rows if row[4]} == {("age", "box", "confidence", "gender", "label")}


def test_a_run_with_passing_failures_is_not_cached(
    demo: tuple[Any, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset, cassettes = demo
    monkeypatch.setattr(RekognitionAnalyzer, "cacheable", property(lambda self: False))
    _run(dataset, cassettes, tmp_path)
    assert not list((tmp_path / ".conformance_cache").glob("**/*.json"))
