"""A million photos through the checks and the reports, lean (issue 15, item 4): the same results, the same
report.json, without a per-photo copy of anything.

What the speed and memory came to is measured by ``benchmarks/scale.py`` (ratios against a baseline in the
same run); here, that the lean ways give what the old ones gave: report.json's photos written one compact
line each and streamed, read back as the same JSON; each photo's entry made when read equal to the entry
written out by hand (its outcome, label, confidence and the image's SHA-256 by hashlib); and groups held as
codes keep apart names a padded numpy string array ran together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from builders import observe, people

from conformance import load_policy, run_check
from conformance.dataset import group_labels
from conformance.evidence import PhotoEntries
from conformance.report import Report
from conformance.reporting import json as json_writer
from conformance.reporting import write_json

MakeManifest = Callable[..., Path]  # the conftest fixture


def _report(photos: list[dict[str, Any]]) -> Report:
    data = {"schema": 1, "kit_version": "0", "checks": [], "seed": 1, "photos": photos, "notes": ["a\nb"]}
    return Report.from_json(data)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 6, 7])
def test_report_json_streams_photos_in_chunks_and_reads_back_as_the_same_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    monkeypatch.setattr(json_writer, "_PHOTOS_PER_CHUNK", 3)  # chunk edges at 3 and 6 photos
    photos = [
        {"photo": f"p{i}.png", "outcome": "error", "reason": f"r\n{i}\u2028", "sha256": "0" * 64} for i in range(count)
    ]
    report = _report(photos)
    path = write_json(report, tmp_path / "report.json")
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == json.loads(json.dumps(report.to_json()))
    assert list(json.loads(text)) == list(report.to_json())  # keys in the same order
    lines = text.split("\n")
    # One line a photo, indented as an element of the top level's photos array.
    assert [line for line in lines if line.startswith('    {"photo"')] == [
        "    " + json.dumps(p, ensure_ascii=False) + ("," if i < count - 1 else "") for i, p in enumerate(photos)
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary file left


def test_a_report_without_photos_is_written_as_before(tmp_path: Path) -> None:
    report = _report([])
    text = write_json(report, tmp_path / "report.json").read_text(encoding="utf-8")
    assert text == json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"


def test_photo_entries_are_made_when_read_and_are_the_entries_written_out(tmp_path: Path) -> None:
    shots = people("w", 2, identity="woman", trans="no", misgendered=1)
    observations = observe(tmp_path, shots)
    dataset = observations.dataset
    entries = PhotoEntries(observations.records, dataset.photos)
    # Each image has its own bytes (the builders give every photo its own), so each its own digest.
    digest = [hashlib.sha256((tmp_path / "img" / f"p0000{i}.png").read_bytes()).hexdigest() for i in range(2)]
    assert digest[0] != digest[1]
    expected = [
        {"photo": "img/p00000.png", "outcome": "analysed", "faces": 1, "label": "Male", "gender": "man",
         "confidence": 90.0, "sha256": digest[0]},
        {"photo": "img/p00001.png", "outcome": "analysed", "faces": 1, "label": "Female", "gender": "woman",
         "confidence": 90.0, "sha256": digest[1]},
    ]  # fmt: skip
    assert len(entries) == 2
    assert list(entries) == expected
    assert [entries[0], entries[-1]] == expected
    assert entries[0:2] == expected
    with pytest.raises(IndexError):
        entries[2]


def test_group_names_that_a_numpy_string_array_ran_together_stay_apart(make_manifest: MakeManifest) -> None:
    """numpy's str dtype drops trailing NULs: "a" and "a\\0" were one group, and the consistency check's
    "a\\0..." keys let group "a" count the photos of "a\\0b" as its own."""
    rows = [
        {"photo": f"t{t}-{i}.png", "subject": f"t{t}-{i // 2}", "gender_identity": "woman", "trans": "no",
         "team": team}
        for t, team in enumerate(("a", "a\x00", "a\x00b"))
        for i in range(20)
    ]  # fmt: skip
    from conformance import load_dataset

    dataset = load_dataset(make_manifest(rows, name="m.jsonl"))
    observations = observe_all_right(dataset)
    groups = tuple(group_labels(dataset, ["team"]))
    for check in ("misgender_gap", "same_person_consistency"):
        result = run_check(check, observations, groups=groups, reference="a", policy=load_policy(None), seed=1)
        assert set(result.groups) == {"a", "a\x00", "a\x00b"}
        assert [result.groups[g].photos for g in ("a", "a\x00", "a\x00b")] == [20, 20, 20]
        assert [result.groups[g].subjects for g in ("a", "a\x00", "a\x00b")] == [10, 10, 10]


def observe_all_right(dataset: Any) -> Any:
    from conformance.observation import Face, Observation, Observations

    return Observations.build(
        dataset,
        [Observation(p.id, "analysed", Face("Female", "woman", 90.0), faces=1) for p in dataset.photos],
        analyzer={"vocabulary": {"labels": {"Female": "woman", "Male": "man"}}},
    )
