"""The shipped demo dataset, checked by hand counts (csv and json only, not the kit's checks).

The figures asserted here are the ones the data card (conformance/demo/README.md) publishes and the
kit's checks are expected to find: 12 of 300 cis photos misgendered, 62 of 200 trans photos, all 100
nonbinary photos, higher confidence on the trans group, people gendered differently across photos.
"""

from __future__ import annotations

import csv
import json
import struct
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from conformance.demo import DEMO_DIR, MANIFEST, PREDICTIONS

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "make_demo.py"
COLUMNS = ["photo", "subject", "gender_identity", "trans", "skin_type", "age_band", "source"]
NONBINARY_LABELS = {"nonbinary", "non-binary", "genderqueer", "agender", "genderfluid"}
WOMAN_LABELS = {"woman", "female", "cis woman", "trans woman", "transwoman"}
MAN_LABELS = {"man", "male", "cis man", "trans man", "transman"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def identity_of(label: str) -> str:
    if label in NONBINARY_LABELS:
        return "nonbinary"
    if label in WOMAN_LABELS:
        return "woman"
    if label in MAN_LABELS:
        return "man"
    raise AssertionError(f"unexpected gender_identity {label!r}")


def group_of(row: dict[str, str]) -> str:
    identity = identity_of(row["gender_identity"])
    if identity == "nonbinary":
        return "nonbinary"
    return {"yes": "trans", "no": "cis"}[row["trans"]]


def misgendered(row: dict[str, str], label: str) -> bool:
    identity = identity_of(row["gender_identity"])
    if identity == "nonbinary":
        return label in ("Male", "Female")
    return label != {"woman": "Female", "man": "Male"}[identity]


@pytest.fixture(scope="module")
def manifest() -> list[dict[str, str]]:
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS
        return list(reader)


@pytest.fixture(scope="module")
def predictions() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    lines = PREDICTIONS.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    by_photo: dict[str, dict[str, Any]] = {}
    for line in lines[1:]:
        record = json.loads(line)
        assert record["photo"] not in by_photo
        by_photo[record["photo"]] = record
    return header, by_photo


@pytest.fixture(scope="module")
def joined(
    manifest: list[dict[str, str]], predictions: tuple[dict[str, Any], dict[str, dict[str, Any]]]
) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """Each manifest row with its one face."""
    _, by_photo = predictions
    assert set(by_photo) == {row["photo"] for row in manifest}
    out = []
    for row in manifest:
        faces = by_photo[row["photo"]]["faces"]
        assert len(faces) == 1, row["photo"]
        out.append((row, faces[0]))
    return out


def test_paths_point_into_the_package() -> None:
    assert DEMO_DIR == REPO / "conformance" / "demo"
    assert MANIFEST == DEMO_DIR / "manifest.csv"
    assert PREDICTIONS == DEMO_DIR / "predictions.jsonl"


def test_manifest_composition(manifest: list[dict[str, str]]) -> None:
    assert len(manifest) == 600
    assert [row["photo"] for row in manifest] == [f"images/p{i:04d}.png" for i in range(1, 601)]
    photos = Counter(group_of(row) for row in manifest)
    assert photos == {"cis": 300, "trans": 200, "nonbinary": 100}
    binary = Counter((group_of(row), identity_of(row["gender_identity"])) for row in manifest)
    assert binary[("cis", "woman")] == binary[("cis", "man")] == 150
    assert binary[("trans", "woman")] == binary[("trans", "man")] == 100

    per_subject: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in manifest:
        per_subject[row["subject"]].append(row)
    for subject, rows in per_subject.items():
        assert subject.startswith("s"), subject
        assert subject[1:].isdigit(), subject
        assert 2 <= len(rows) <= 6, subject
        # one person, one description of themselves
        assert len({(r["gender_identity"], r["trans"], r["skin_type"], r["age_band"]) for r in rows}) == 1
    assert len({len(rows) for rows in per_subject.values()}) == 5  # 2, 3, 4, 5 and 6 photos all occur

    nonbinary = [row for row in manifest if group_of(row) == "nonbinary"]
    assert {row["gender_identity"] for row in nonbinary} == NONBINARY_LABELS
    assert {row["trans"] for row in nonbinary} == {"yes", "no", "unknown"}
    assert len({row["gender_identity"] for row in manifest if group_of(row) == "cis"}) > 2
    assert len({row["gender_identity"] for row in manifest if group_of(row) == "trans"}) > 2

    assert {row["source"] for row in manifest} == {"simulated"}
    assert {row["age_band"] for row in manifest} == {"18-29", "30-44", "45-64"}
    for group in ("cis", "trans", "nonbinary"):
        skin = Counter(row["skin_type"] for row in manifest if group_of(row) == group)
        assert set(skin) == {"lighter", "darker"}
        assert abs(skin["lighter"] - skin["darker"]) <= 0.2 * photos[group], (group, skin)


def test_labels_are_in_the_identity_map(manifest: list[dict[str, str]]) -> None:
    from conformance.identity import normalise_identity

    for label in {row["gender_identity"] for row in manifest}:
        assert normalise_identity(label) == identity_of(label)


def test_header_flags_simulation(predictions: tuple[dict[str, Any], dict[str, dict[str, Any]]]) -> None:
    header, by_photo = predictions
    assert list(header)[:4] == ["analyzer", "version", "vocabulary", "simulated"]
    assert header["analyzer"] == "demo-binary-gender-classifier"
    assert header["version"] == "simulated-1"
    assert header["vocabulary"] == ["Male", "Female"]
    assert header["simulated"] is True
    assert "SIMULATED" in header["note"]
    assert "not the output of any real service or model" in header["note"]
    assert len(by_photo) == 600


def test_faces_are_well_formed(joined: list[tuple[dict[str, str], dict[str, Any]]]) -> None:
    for row, face in joined:
        assert face["gender"] in ("Male", "Female"), row["photo"]
        confidence = face["confidence"]
        assert isinstance(confidence, float), row["photo"]
        assert 50.0 <= confidence <= 100.0, row["photo"]
        assert round(confidence, 1) == confidence
        left, top, width, height = face["box"]
        assert min(left, top) >= 0, row["photo"]
        assert min(width, height) > 0, row["photo"]
        assert max(left + width, top + height) <= 1, row["photo"]


def test_misgendering_counts(joined: list[tuple[dict[str, str], dict[str, Any]]]) -> None:
    wrong: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for row, face in joined:
        total[group_of(row)] += 1
        wrong[group_of(row)] += misgendered(row, face["gender"])
    assert (wrong["cis"], total["cis"]) == (12, 300)  # 4.0%
    assert (wrong["trans"], total["trans"]) == (62, 200)  # 31.0%
    assert (wrong["nonbinary"], total["nonbinary"]) == (100, 100)


def test_confidence_higher_on_the_group_misgendered_more(
    joined: list[tuple[dict[str, str], dict[str, Any]]],
) -> None:
    values: dict[tuple[str, bool], list[float]] = defaultdict(list)
    for row, face in joined:
        values[(group_of(row), misgendered(row, face["gender"]))].append(face["confidence"])

    def mean(*keys: tuple[str, bool]) -> float:
        chosen = [v for key in keys for v in values[key]]
        return sum(chosen) / len(chosen)

    cis = mean(("cis", False), ("cis", True))
    trans = mean(("trans", False), ("trans", True))
    assert trans > cis
    assert mean(("trans", True)) > mean(("cis", True))
    assert mean(("cis", False)) > mean(("cis", True)) + 10  # cis: confident when right, much less when wrong


def test_same_person_gendered_differently(joined: list[tuple[dict[str, str], dict[str, Any]]]) -> None:
    labels: dict[str, set[str]] = defaultdict(set)
    group: dict[str, str] = {}
    for row, face in joined:
        labels[row["subject"]].add(face["gender"])
        group[row["subject"]] = group_of(row)
    mixed = Counter(group[s] for s, seen in labels.items() if len(seen) > 1)
    subjects = Counter(group.values())
    for name in ("cis", "trans", "nonbinary"):
        assert mixed[name] >= 1, name
        assert mixed[name] < subjects[name], name  # others are labelled consistently
    assert mixed["trans"] / subjects["trans"] > mixed["cis"] / subjects["cis"]
    assert mixed["trans"] / subjects["trans"] >= 0.3


def test_images_are_small_distinct_pngs(manifest: list[dict[str, str]]) -> None:
    digests = set()
    total = 0
    for row in manifest:
        data = (DEMO_DIR / row["photo"]).read_bytes()
        total += len(data)
        assert data.startswith(PNG_SIGNATURE), row["photo"]
        assert data[12:16] == b"IHDR"
        width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
        assert (width, height, depth, colour) == (8, 8, 8, 2), row["photo"]  # 8x8, 8-bit RGB
        assert not any(chunk in data for chunk in (b"tEXt", b"zTXt", b"iTXt", b"tIME", b"eXIf")), row["photo"]
        digests.add(data)
    assert len(digests) == 600
    assert total < 200_000
    assert sorted(p.name for p in (DEMO_DIR / "images").iterdir()) == [f"p{i:04d}.png" for i in range(1, 601)]


def test_dataset_loads() -> None:
    from conformance.dataset import load_dataset

    dataset = load_dataset(MANIFEST)
    assert len(dataset) == 600
    assert dataset.subjects == len({p.subject for p in dataset})
    assert Counter(p.group for p in dataset) == {"cis": 300, "trans": 200, "nonbinary": 100}
    assert {"skin_type", "age_band", "source"} <= set(dataset.columns)


def test_predictions_load_through_the_adapter() -> None:
    from conformance.adapters.predictions import PredictionsAnalyzer
    from conformance.dataset import load_dataset

    dataset = load_dataset(MANIFEST)
    analyzer = PredictionsAnalyzer(PREDICTIONS, dataset=dataset)
    assert analyzer.describe()["simulated"] is True
    outcomes = Counter(analyzer.analyze(photo).outcome for photo in dataset)
    assert outcomes == {"analysed": 600}


def test_generator_reproduces_the_shipped_files(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, capture_output=True)

    def files(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            # cassettes (a link to the recordings) and matching (the face-search demo) have generators of their own
            if p.is_file() and not {"__pycache__", "cassettes", "matching"} & set(p.relative_to(root).parts)
        }

    shipped, regenerated = files(DEMO_DIR), files(out)
    assert sorted(shipped) == sorted(regenerated)
    differing = [name for name in shipped if shipped[name] != regenerated[name]]
    assert differing == [], f"regenerate with `python scripts/make_demo.py`: {differing[:5]}"


def test_matching_generator_reproduces_the_shipped_files(tmp_path: Path) -> None:
    matching = DEMO_DIR / "matching"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_matching_demo.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    shipped = {p.relative_to(matching).as_posix(): p.read_bytes() for p in matching.rglob("*") if p.is_file()}
    regenerated = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert shipped.keys() == regenerated.keys()
    assert [n for n in shipped if shipped[n] != regenerated[n]] == []


def test_matching_demo_holds_the_published_counts() -> None:
    """Hand counts of the simulated Congress test: 535 probes, 107 people of colour, 28 false matches at 80."""
    matching = DEMO_DIR / "matching"
    with (matching / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        rows = {r["photo"]: r for r in csv.DictReader(handle)}
    probes = [r for r in rows.values() if r["role"] == "probe"]
    gallery_subjects = {r["subject"] for r in rows.values() if r["role"] == "gallery"}
    assert len(probes) == 535
    assert sum(r["race_ethnicity"] == "person of colour" for r in probes) == 107
    assert not gallery_subjects & {r["subject"] for r in probes}  # nobody searched is enrolled
    lines = [json.loads(line) for line in (matching / "predictions.jsonl").read_text().splitlines()]
    assert lines[0]["simulated"] is True
    counts = {80: Counter(), 99: Counter()}
    for line in lines[1:]:
        best = max((m["similarity"] for m in line["matches"]), default=0.0)
        for threshold, counter in counts.items():
            if best >= threshold:
                counter[rows[line["probe"]]["race_ethnicity"]] += 1
    assert counts[80] == Counter({"white": 17, "person of colour": 11})
    assert sum(counts[99].values()) == 0
