"""Face search through the rekognition adapter: a collection per run, recorded against the emulator, replayed offline."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import load_dataset
from conformance.adapters.base import AdapterSettings
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.adapters.registry import create
from conformance.emulators import RekognitionEmulator, serve
from conformance.run.matching import run_searches

# Two enrolled people (a, b), three probes: a again (mated), c and d (non-mated).
ROWS = ["g1.png,a,gallery,x", "g2.png,b,gallery,x", "p1.png,a,probe,x", "p2.png,c,probe,y", "p3.png,d,probe,y"]
LINES = [
    {"analyzer": "acme-search", "search_threshold": 50},
    {
        "probe": "p1.png",
        "matches": [{"gallery": "g1.png", "similarity": 97.5}, {"gallery": "g2.png", "similarity": 61.0}],
    },
    {"probe": "p2.png", "matches": [{"gallery": "g2.png", "similarity": 84.2}]},
    {"probe": "p3.png", "matches": []},
]


@pytest.fixture
def data(tmp_path: Path, write_png: Any) -> tuple[Path, Path]:
    for i, name in enumerate(["g1", "g2", "p1", "p2", "p3"]):
        write_png(tmp_path / f"{name}.png", (i * 50, 20, 200 - i * 30))
    (tmp_path / "m.csv").write_text("photo,subject,role,site\n" + "\n".join(ROWS) + "\n")
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(line) for line in LINES) + "\n")
    return tmp_path / "m.csv", tmp_path / "p.jsonl"


@pytest.fixture
def emulator(data: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[RekognitionEmulator]:
    dataset = load_dataset(data[0])
    served = RekognitionEmulator(dataset, PredictionsAnalyzer(data[1], dataset=dataset))
    with serve(served) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", server.url)
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        yield served


def search(manifest: Path, cassettes: Path, mode: str) -> dict[str, tuple[str, tuple[tuple[str, float], ...]]]:
    dataset = load_dataset(manifest)
    matcher = create(
        "rekognition", dataset=dataset, settings=AdapterSettings(record_mode=mode, cassette_dir=str(cassettes))
    )
    run = run_searches(matcher, dataset, floor=matcher.search_floor)  # type: ignore[attr-defined]
    return {r.probe: (r.outcome, r.matches) for r in run.records}


EXPECTED = {
    "p1.png": ("analysed", (("g1.png", 97.5), ("g2.png", 61.0))),
    "p2.png": ("analysed", (("g2.png", 84.2),)),
    "p3.png": ("analysed", ()),
}


def test_record_then_replay_offline_gives_the_file_s_matches(
    data: tuple[Path, Path], emulator: RekognitionEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = search(data[0], tmp_path / "cassettes", "once")
    assert recorded == EXPECTED
    # Create, two IndexFaces, three searches, delete: seven calls.
    assert emulator.stats.calls == 7
    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: (_ for _ in ()).throw(OSError("blocked")))
    assert search(data[0], tmp_path / "cassettes", "none") == EXPECTED


def test_the_collection_is_deleted_after_the_run(
    data: tuple[Path, Path], emulator: RekognitionEmulator, tmp_path: Path
) -> None:
    search(data[0], tmp_path / "cassettes", "once")
    dataset = load_dataset(data[0])
    collection = create("rekognition", dataset=dataset).collection_id  # type: ignore[attr-defined]
    status, body = emulator.handle(
        "RekognitionService.DeleteCollection", json.dumps({"CollectionId": collection}).encode()
    )
    assert status == 400
    assert body["__type"] == "ResourceNotFoundException"  # already deleted by the run


def test_the_recording_holds_every_request_once(
    data: tuple[Path, Path], emulator: RekognitionEmulator, tmp_path: Path
) -> None:
    search(data[0], tmp_path / "cassettes", "once")
    from conformance.recording.paths import recording_path

    path = recording_path(load_dataset(data[0]), tmp_path / "cassettes", "rekognition.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    operations = [line["operation"] for line in lines if "key" in line]
    search_all = ["SearchFacesByImage"] * 3
    assert operations == ["CreateCollection", "IndexFaces", "IndexFaces", *search_all, "DeleteCollection"]
    assert len({line["key"] for line in lines if "key" in line}) == len(operations)
    # Every planned request answered, the collection's deletion included: complete, counted.
    assert lines[-1] == {"complete": {"photos": len(load_dataset(data[0]))}}


def test_replay_without_a_recording_names_the_missing_request(data: tuple[Path, Path], tmp_path: Path) -> None:
    from conformance.recording import RecordingError

    with pytest.raises(RecordingError, match="no recording of CreateCollection for the collection"):
        search(data[0], tmp_path / "empty", "none")


def test_the_matching_demo_replays_the_published_figures(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--demo-matching"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text())
    at80 = next(c for c in report["checks"] if c["threshold"] == 80.0)
    assert (at80["groups"]["person of colour"]["count"], at80["groups"]["person of colour"]["n"]) == (11, 107)
    assert (at80["groups"]["white"]["count"], at80["groups"]["white"]["n"]) == (17, 428)
    assert report["analyzer"]["adapter"] == "rekognition"
    assert report["analyzer"]["emulated"] is True
    assert report["analyzer"]["simulated"] is True
    # Issue 14 item 7: one rule, one exit code. The report says inconclusive (at 80 and 90) and that
    # inconclusive counts as fail: the run exits 1, as the face-matching how-to's command on the same data does.
    assert (report["verdict"], report["policy"]["inconclusive"]) == ("inconclusive", "fail")
    assert done.returncode == 1, done.stdout
    # The title says what was run: face search, not DetectFaces.
    markdown = (tmp_path / "conformance-report" / "report.md").read_text()
    assert markdown.startswith("# Conformance report: Amazon Rekognition face search (SearchFacesByImage) on ")
    assert "DetectFaces" not in markdown
    assert "DetectFaces" not in (tmp_path / "conformance-report" / "report.html").read_text()
    # false_non_match_gap is not dropped: every search of the published test is non-mated, so it is
    # listed as not applicable, with that reason, at every threshold.
    non_match = [c for c in report["checks"] if c["id"] == "false_non_match_gap"]
    assert [c["threshold"] for c in non_match] == [80.0, 90.0, 95.0, 99.0]
    assert {c["verdict"] for c in non_match} == {"not applicable"}
    reason = "no mated probes in the data: nothing for false_non_match_gap to count"
    assert all(f"not applicable: {reason}" in c["notes"] for c in non_match)
    assert f"NOT APPLICABLE false_non_match_gap@99 (binding)  {reason}" in done.stdout
    assert "| `false_non_match_gap` at 99" in markdown


def test_the_collection_is_deleted_also_when_the_run_fails(
    data: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance import ConformanceError

    manifest, predictions = data
    lines = [json.dumps(line) for line in LINES]
    lines[2] = json.dumps({"probe": "p2.png", "error": "AccessDeniedException"})  # stops the run mid-search
    predictions.write_text("\n".join(lines) + "\n")
    dataset = load_dataset(manifest)
    served = RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset))
    with serve(served) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", server.url)
        with pytest.raises(ConformanceError, match="refused the credentials"):
            search(manifest, tmp_path / "cassettes", "once")
        collection = create("rekognition", dataset=dataset).collection_id  # type: ignore[attr-defined]
        status, body = served.handle(
            "RekognitionService.DeleteCollection", json.dumps({"CollectionId": collection}).encode()
        )
    assert (status, body["__type"]) == (400, "ResourceNotFoundException")  # the failed run deleted it


def test_compare_faces_recorded_then_replayed(
    data: tuple[Path, Path], emulator: RekognitionEmulator, tmp_path: Path
) -> None:
    dataset = load_dataset(data[0])
    photo = {p.id: p for p in dataset.photos}

    def compare(mode: str) -> list[float | None]:
        settings = AdapterSettings(record_mode=mode, cassette_dir=str(tmp_path / "cassettes"))
        matcher = create("rekognition", dataset=dataset, settings=settings)
        with matcher.session(precheck=False):  # type: ignore[attr-defined]
            return [
                matcher.compare(photo["p1.png"], photo["g1.png"]),  # type: ignore[attr-defined]
                matcher.compare(photo["p2.png"], photo["g2.png"]),  # type: ignore[attr-defined]
                matcher.compare(photo["p3.png"], photo["g1.png"]),  # type: ignore[attr-defined]
            ]

    # The file's similarities: p1-g1 97.5, p2-g2 84.2, p3-g1 none returned.
    assert compare("new_episodes") == [97.5, 84.2, None]
    assert compare("none") == [97.5, 84.2, None]
