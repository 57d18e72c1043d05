"""Inputs of 1:1 runs: embeddings and scores files (bad ones refused, naming file, line and photo), the run
end to end through the CLI, and NIST's convention that a mated probe with no face is a miss (search too)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conformance.adapters.embeddings import create as embeddings
from conformance.adapters.scores import create as scores
from conformance.dataset import load_dataset
from conformance.errors import AdapterError, ConformanceError, ManifestError
from conformance.matching import SearchOutcome, SearchRun
from conformance.policy import Policy

MakeManifest = Callable[..., Path]  # the conftest fixture's type


@pytest.fixture
def manifest(make_manifest: MakeManifest) -> Path:
    """Twelve photos of six people in two skin-type groups; no role column, no gender columns."""
    rows = [
        {"photo": f"p{i:02d}.png", "subject": f"s{i // 2}", "skin": "dark" if i % 4 < 2 else "light"} for i in range(12)
    ]
    return make_manifest(rows)


def _save(folder: Path, array: np.ndarray, names: list[str], stem: str = "emb") -> Path:
    path = folder / f"{stem}.npy"
    np.save(path, array)
    (folder / f"{stem}.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    return path


def _dataset(manifest: Path):  # type: ignore[no-untyped-def]
    return load_dataset(manifest, comparisons=True)


def test_manifest_without_role_or_gender_needs_a_pairwise_analyzer(manifest: Path) -> None:
    with pytest.raises(ManifestError, match="gender_identity"):
        load_dataset(manifest)
    assert len(load_dataset(manifest, comparisons=True)) == 12


@pytest.mark.parametrize(
    ("array", "names", "message"),
    [
        (np.zeros(12), None, r"shape \(12,\); it must be N x d"),
        (np.ones((11, 4)), None, "names 12 photos but emb.npy has 11 rows"),
        (np.ones((12, 4)), ["p00.png"] * 12, r"line 2: photo 'p00.png' is named again \(first at line 1\)"),
        (
            np.ones((12, 4)),
            [*(f"p{i:02d}.png" for i in range(11)), "nobody.png"],
            r"line 12: photo 'nobody.png' is not in the manifest",
        ),
        (
            np.where(np.arange(48).reshape(12, 4) == 21, np.nan, 1.0),
            None,
            r"row 5 \(photo 'p05.png', line 6 of emb.txt\) has a non-finite value",
        ),
        (np.where(np.arange(12)[:, None] == 3, 0.0, np.ones((12, 4))), None, r"row 3 \(photo 'p03.png'\) is all zeros"),
        (np.array([["a"] * 4] * 12), None, "embeddings must be real numbers"),
    ],
)
def test_bad_embeddings_are_refused_naming_file_line_and_photo(
    manifest: Path, array: np.ndarray, names: list[str] | None, message: str
) -> None:
    path = _save(manifest.parent, array, names or [f"p{i:02d}.png" for i in range(12)])
    with pytest.raises(AdapterError, match=message):
        embeddings(str(path), dataset=_dataset(manifest))


def test_embeddings_options_and_missing_names_file(manifest: Path) -> None:
    path = manifest.parent / "lonely.npy"
    np.save(path, np.ones((12, 4)))
    with pytest.raises(
        AdapterError, match=r"lonely\.txt not found: put beside lonely\.npy a text file naming its 12 photos"
    ):
        embeddings(str(path), dataset=_dataset(manifest))
    with pytest.raises(AdapterError, match="metric='dot'; use metric=cosine or metric=l2"):
        embeddings(f"{path}?metric=dot", dataset=_dataset(manifest))
    with pytest.raises(AdapterError, match="unknown option scale"):
        embeddings(f"{path}?scale=2", dataset=_dataset(manifest))


def _write_scores(
    folder: Path, rows: list[list[str]], header: tuple[str, ...] = ("probe", "reference", "score")
) -> Path:
    path = folder / "scores.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        ([["p00.png", "p01.png", "90"]], ("probe", "reference"), "missing column score"),
        ([["p00.png", "ghost.png", "90"]], None, r"line 2: reference 'ghost.png' is not a photo of the manifest"),
        ([["p00.png", "p00.png", "90"]], None, r"line 2: photo 'p00.png' is compared with itself"),
        (
            [["p00.png", "p01.png", "90"], ["p00.png", "p01.png", "91"]],
            None,
            r"line 3: the pair 'p00.png', 'p01.png' is listed again \(first at line 2\)",
        ),
        ([["p00.png", "p01.png", "high"]], None, r"line 2: score 'high' is not a finite number"),
    ],
)
def test_bad_scores_are_refused_naming_file_and_line(
    manifest: Path, rows: list[list[str]], header: tuple[str, ...] | None, message: str
) -> None:
    path = _write_scores(manifest.parent, rows, header or ("probe", "reference", "score"))
    with pytest.raises(AdapterError, match=message):
        scores(str(path), dataset=_dataset(manifest))


def test_scores_empty_score_is_a_failed_comparison_and_uncompared_photos_fail_to_acquire(manifest: Path) -> None:
    from conformance.pairstats import at_threshold

    rows = [["p00.png", "p01.png", ""], ["p01.png", "p00.png", "95"], ["p00.png", "p02.png", "85"]]
    comparator = scores(str(_write_scores(manifest.parent, rows)), dataset=_dataset(manifest))
    counts = comparator.comparisons(
        photo_group=np.zeros(12, dtype=np.int64),
        photo_subject=np.arange(12) // 2,
        groups=["all"],
        subjects=[str(s) for s in range(6)],
        targets=(),
        stated=(80.0,),
        same_group=False,
        pool="all",
        dask=False,
    )
    found = at_threshold(counts, 80.0)
    # 6 people x 2 photos: 12 ordered genuine pairs; one listed with an empty score, 10 not listed at all.
    assert found.misses.tolist() == [11]
    assert found.false_matches.tolist() == [[1]]
    assert counts.acquired.sum() == 3  # photos in no row: no template
    # Every ordered pair of the 12 photos is in the design: 132, of which 12 genuine; 3 listed, 2 scored.
    assert (int(counts.impostor_comparisons.sum()), int(counts.genuine_comparisons.sum())) == (120, 12)
    assert (int(counts.lost_impostor().sum()), int(counts.lost_genuine().sum())) == (119, 11)
    assert comparator.vendor_scale  # 0-100: the vendor's thresholds apply


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", "run", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_embeddings_run_end_to_end_writes_the_biometric_report(make_manifest: MakeManifest, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows, vectors, names = [], [], []
    centres = rng.normal(size=(60, 16))
    for i in range(180):
        person = i // 3
        rows.append({"photo": f"img/p{i:03d}.png", "subject": f"s{person}", "skin": "dark" if person % 2 else "light"})
        if i == 4:
            continue  # no face found: not in the embeddings' list
        vectors.append(centres[person] + 0.7 * rng.normal(size=16))
        names.append(f"img/p{i:03d}.png")
    manifest = make_manifest(rows)
    _save(manifest.parent, np.asarray(vectors, dtype=np.float32), names)
    (tmp_path / "policy.toml").write_text("target_fmr = [1e-2, 1e-7]\nbootstrap = 200\nmin_subjects = 5\n")
    done = _run(
        tmp_path,
        "--dataset", str(manifest),
        "--analyzer", f"embeddings:{manifest.parent / 'emb.npy'}?metric=l2",
        "--group-by", "skin",
        "--reference", "light",
        "--policy", str(tmp_path / "policy.toml"),
        "--report-dir", str(tmp_path / "out"),
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr + done.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    ids = [c["id"] for c in report["checks"]]
    assert set(ids) == {
        "false_match_differential",
        "false_non_match_differential",
        "failure_to_acquire_gap",
        "equitability",
    }
    fmr = next(c for c in report["checks"] if c["id"] == "false_match_differential")
    rule = fmr["details"]["threshold_rule"]
    assert (rule["target_fmr"], rule["calibrated_on"], rule["supported"]) == (0.01, "all", True)
    assert rule["impostor_comparisons"] == 180 * 179 - 60 * 6
    assert "rule of three" in fmr["details"]["unsupported_targets"][0]["reason"]  # 1e-7 needs 3e7 comparisons
    fta = next(c for c in report["checks"] if c["id"] == "failure_to_acquire_gap")
    assert fta["groups"]["dark"]["count"] == 1  # photo 4 is person 1's
    assert report["outcomes"]["no_face"] == 1
    assert "metric" in report["analyzer"]


def test_predictions_analyzer_still_needs_gender_columns(manifest: Path, tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text("")
    done = _run(tmp_path, "--dataset", str(manifest), "--analyzer", f"predictions:{tmp_path / 'p.jsonl'}")
    assert done.returncode != 0
    assert "missing required columns gender_identity, trans" in done.stderr


def test_search_probe_without_a_face_is_a_miss_not_dropped(make_manifest: MakeManifest) -> None:
    """NIST's convention: FNIR counts a mated probe whose face was not found. Before, it left the denominator."""
    from conformance.checks import run_matching_check

    rows = [
        {"photo": "g1.png", "subject": "a", "role": "gallery", "grp": "x"},
        {"photo": "g2.png", "subject": "b", "role": "gallery", "grp": "x"},
        {"photo": "q1.png", "subject": "a", "role": "probe", "grp": "x"},
        {"photo": "q2.png", "subject": "b", "role": "probe", "grp": "x"},
    ]
    dataset = load_dataset(make_manifest(rows))
    run = SearchRun(
        dataset=dataset,
        records=(SearchOutcome("q1.png", "analysed", (("g1.png", 99.5),)), SearchOutcome("q2.png", "no_face")),
        floor=50.0,
    )
    (result,) = run_matching_check(
        "false_non_match_gap",
        run,
        groups=["x"] * 4,
        reference="x",
        policy=Policy(min_subjects=1),
        seed=0,
        thresholds=(99,),
    )
    assert (result.groups["x"].count, result.groups["x"].n) == (1, 2)
    fta = result.details["failure_to_acquire"]["x"]
    assert (fta["probes"], fta["no_face"], fta["rate"]) == (2, 1, 0.5)


def test_search_checks_refuse_comparison_ids(make_manifest: MakeManifest) -> None:
    from conformance.checks import run_matching_check

    rows = [{"photo": "g.png", "subject": "a", "role": "gallery"}, {"photo": "q.png", "subject": "a", "role": "probe"}]
    dataset = load_dataset(make_manifest(rows))
    run = SearchRun(dataset=dataset, records=(SearchOutcome("q.png", "analysed"),), floor=50.0)
    with pytest.raises(ValueError, match="measures 1:1 comparisons of every photo"):
        run_matching_check(
            "equitability", run, groups=["g"] * 2, reference="g", policy=Policy(), seed=0, thresholds=(99,)
        )


def test_policy_keys_for_comparisons(tmp_path: Path) -> None:
    from conformance.policy import load_policy

    path = tmp_path / "p.toml"
    path.write_text(
        'target_fmr = 1e-4\nimpostors = "same_group"\nfmr_calibration = "reference"\nratio_tolerance = 1.5\n'
    )
    policy = load_policy(path)
    assert (policy.target_fmr, policy.impostors, policy.fmr_calibration, policy.ratio_tolerance) == (
        (1e-4,),
        "same_group",
        "reference",
        1.5,
    )
    for text, message in (
        ("target_fmr = [0.0]", "must be a rate between 0 and 1"),
        ("ratio_tolerance = 0.5", "must be at least 1"),
        ('impostors = "cross"', "choose one of all, same_group"),
    ):
        path.write_text(text + "\n")
        with pytest.raises(ConformanceError, match=message):
            load_policy(path)


def _executor_run(make_manifest: MakeManifest, folder: Path, *executor: str) -> dict[str, Any]:
    """A small 1:1 run of 60 photos of 20 people through the CLI, with ``--executor`` as given."""
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(20, 8))
    rows = [
        {"photo": f"p{i:02d}.png", "subject": f"s{i // 3}", "skin": "dark" if i // 3 % 2 else "light"}
        for i in range(60)
    ]
    manifest = make_manifest(rows)
    vectors = [centres[i // 3] + 0.7 * rng.normal(size=8) for i in range(60)]
    _save(manifest.parent, np.asarray(vectors, dtype=np.float32), [r["photo"] for r in rows])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.toml").write_text("target_fmr = [1e-2]\nbootstrap = 100\nmin_subjects = 5\n")
    done = _run(
        folder,
        "--dataset", str(manifest),
        "--analyzer", f"embeddings:{manifest.parent / 'emb.npy'}",
        "--group-by", "skin",
        "--reference", "light",
        "--policy", str(folder / "policy.toml"),
        "--report-dir", str(folder / "out"),
        *executor,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr + done.stdout
    report: dict[str, Any] = json.loads((folder / "out" / "report.json").read_text())
    return report


def _counts(report: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [
        (c["id"], group, figures["count"], figures["n"])
        for c in report["checks"]
        for group, figures in c["groups"].items()
    ]


@pytest.mark.parametrize("executor", ["dask-local:1", "threads:2"])
def test_1to1_counts_are_the_same_on_any_executor(make_manifest: MakeManifest, tmp_path: Path, executor: str) -> None:
    """The run's executor opens the Dask client (matching.run_comparisons no longer parses --executor)."""
    serial = _executor_run(make_manifest, tmp_path / "serial")
    other = _executor_run(make_manifest, tmp_path / "other", "--executor", executor)
    assert _counts(other) == _counts(serial)
    assert sum(n for _, _, _, n in _counts(serial)) > 0
    blockwise = f"--executor {executor}: 1:1 comparisons run blockwise in this process"
    notes = json.dumps(other)
    assert (blockwise in notes) == (executor == "threads:2")
