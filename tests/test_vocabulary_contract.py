"""An analyzer's declared contract holds, for photos and for face searches (red-team of issue 12, F2 and
the search path).

F2: a predictions file whose header declares ``"abstains": false`` but leaves gender out (``null``) on
198 of the trans group's 200 photos: the null genders overrode the header, counted as abstentions, and
``misgender_gap`` passed. Face searches had neither the failure watch nor any check of what a search
answered (a match of a face id that is no gallery photo, a similarity of 250).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import conformance
from conformance import load_dataset
from conformance.adapters.registry import create
from conformance.matching import SearchOutcome
from conformance.run.execution import SystematicFailure
from conformance.run.matching import run_searches
from conformance.run.runner import analyze_dataset

NO_GENDER = "the service returned no gender for the face it found, though vendor declares it cannot abstain"


def coverage_data(folder: Path, *, header: dict[str, Any]) -> tuple[Path, Path]:
    """200 cis and 200 trans people, one photo each; cis always gendered right; trans: gender left out on 198."""
    from PIL import Image

    (folder / "images").mkdir(parents=True)
    rows = ["photo,subject,gender_identity,trans"]
    lines = [json.dumps(header)]
    for group in ("cis", "trans"):
        for p in range(200):
            identity = "woman" if p % 2 else "man"
            right = "Female" if identity == "woman" else "Male"
            photo = f"images/{group}-{p:03d}.png"
            Image.new("RGB", (8, 8), (p, 1, 0 if group == "cis" else 255)).save(folder / photo)
            rows.append(f"{photo},{group}-{p:03d},{identity},{'no' if group == 'cis' else 'yes'}")
            gender = right if group == "cis" or p < 2 else None
            face = {"gender": gender, "confidence": 99.0 if gender else None, "box": [0.2, 0.2, 0.5, 0.5]}
            lines.append(json.dumps({"photo": photo, "faces": [face]}))
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "p.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "manifest.csv", folder / "p.jsonl"


HEADER = {"analyzer": "vendor", "version": "1", "vocabulary": ["Male", "Female"], "abstains": False}


def test_a_declared_non_abstaining_analyzer_without_a_gender_is_that_photos_error(tmp_path: Path) -> None:
    manifest, predictions = coverage_data(tmp_path, header=HEADER)
    dataset = load_dataset(manifest)
    analyzer = create(f"predictions:{predictions}", dataset=dataset)
    observations = analyze_dataset(analyzer, dataset, systematic_failures=0)  # every photo, the watch aside
    assert observations.analyzer["vocabulary"]["can_abstain"] is False  # as declared, whatever the lines say
    counts = observations.outcome_counts()
    assert counts == {"analysed": 202, "no_face": 0, "error": 198}
    errors = [r for r in observations.records if r.outcome == "error"]
    assert {r.photo.split("-")[0] for r in errors} == {"images/trans"}
    assert all(r.reason.startswith(NO_GENDER) for r in errors)


def test_without_the_header_key_a_null_gender_still_shows_the_analyzer_can_abstain(tmp_path: Path) -> None:
    """The older rule stands where the header says nothing: the file's own nulls are the evidence."""
    header = {k: v for k, v in HEADER.items() if k != "abstains"}
    manifest, predictions = coverage_data(tmp_path, header=header)
    observations = conformance.analyze(f"predictions:{predictions}", load_dataset(manifest))
    assert observations.analyzer["vocabulary"]["can_abstain"] is True
    assert observations.outcome_counts()["error"] == 0


def test_the_cli_refuses_the_run_as_a_systematic_failure(tmp_path: Path) -> None:
    """In manifest order the 198 photos without a gender come in a row: a broken contract, not 198 facts."""
    manifest, predictions = coverage_data(tmp_path, header=HEADER)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--dataset",
            str(manifest),
            "--analyzer",
            f"predictions:{predictions}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(
        f"conformance: error: stopped: the last 20 photos all failed the same way ({NO_GENDER}"
    )


def test_with_the_watch_off_the_photos_without_a_gender_count_as_errors_and_nothing_passes(tmp_path: Path) -> None:
    manifest, predictions = coverage_data(tmp_path, header=HEADER)
    (tmp_path / "pyproject.toml").write_text("[tool.conformance]\nsystematic_failures = 0\n", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--dataset",
            str(manifest),
            "--analyzer",
            f"predictions:{predictions}",
            "--checks",
            "misgender_gap,detection_failure_gap",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text(encoding="utf-8"))
    assert report["outcomes"] == {"analysed": 202, "no_face": 0, "error": 198}
    verdicts = {c["id"]: c["verdict"] for c in report["checks"]}
    # 198 of 200 trans photos failed against 0 of 200 cis: far beyond the 0.05 tolerance.
    assert verdicts["detection_failure_gap"] == "fail"
    assert verdicts["misgender_gap"] != "pass"  # 2 trans photos with a gender decide nothing
    assert report["verdict"] == "fail"


# -- face searches -------------------------------------------------------------------------------------


class Matcher:
    """A face-search system in this process: ``answers[probe]`` is what it says about that probe."""

    name = "test matcher"

    def __init__(self, answers: dict[str, SearchOutcome]) -> None:
        self.answers = answers

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "adapter": "test"}

    def search(self, probe: Any, gallery: Sequence[Any], *, threshold: float) -> SearchOutcome:
        return self.answers[probe.id]

    def compare(self, source: Any, target: Any) -> float | None:
        return None


def matching(folder: Path, probes: int) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rows = ["photo,subject,role,site"]
    for i in range(2 + probes):
        Image.new("RGB", (8, 8), (i, 3, 3)).save(folder / f"{i}.png")
        rows.append(f"{i}.png,s{i % 4},{'gallery' if i < 2 else 'probe'},{'x' if i % 2 else 'y'}")
    (folder / "m.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder / "m.csv"


def test_a_search_answer_outside_the_gallery_or_the_similarity_scale_is_that_probes_error(tmp_path: Path) -> None:
    dataset = load_dataset(matching(tmp_path, 4))
    answers = {
        "2.png": SearchOutcome("2.png", "analysed", matches=(("0.png", 91.0),)),
        "3.png": SearchOutcome("3.png", "analysed", matches=(("nobody.png", 97.0),)),
        "4.png": SearchOutcome("4.png", "analysed", matches=(("1.png", 250.0),)),
        "5.png": SearchOutcome("5.png", "analysed", matches=(("1.png", 88.0), ("1.png", 87.0))),
    }
    run = run_searches(Matcher(answers), dataset, floor=50.0)
    assert [(r.probe, r.outcome) for r in run.records] == [
        ("2.png", "analysed"),
        ("3.png", "error"),
        ("4.png", "error"),
        ("5.png", "error"),
    ]
    reasons = [r.reason for r in run.records[1:]]
    assert reasons == [
        "the search answered a match 'nobody.png' that is not a gallery photo of the dataset: not recorded as a search",
        "the search answered a similarity of 250.0 for '1.png', outside 50-100: not recorded as a search",
        "the search answered the gallery photo '1.png' matched twice: not recorded as a search",
    ]


def test_searches_failing_alike_stop_the_run(tmp_path: Path) -> None:
    dataset = load_dataset(matching(tmp_path, 30))
    answers = {
        f"{i}.png": SearchOutcome(f"{i}.png", "error", reason=f"ThrottlingException: rate exceeded, request {i}")
        for i in range(2, 32)
    }
    with pytest.raises(SystematicFailure, match=r"^stopped: the last 20 probes all failed the same way"):
        run_searches(Matcher(answers), dataset, floor=50.0)
    assert len(run_searches(Matcher(answers), dataset, floor=50.0, systematic_failures=0).records) == 30


def test_the_cli_stops_a_face_search_run_failing_alike_with_exit_2(tmp_path: Path) -> None:
    manifest = matching(tmp_path, 25)
    lines = [{"analyzer": "x", "search_threshold": 50}]
    lines += [{"probe": f"{i}.png", "error": f"InternalServerError: request {i}"} for i in range(2, 27)]
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--dataset",
            str(manifest),
            "--analyzer",
            "predictions:p.jsonl",
            "--group-by",
            "site",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("conformance: error: stopped: the last 20 probes all failed the same way")
