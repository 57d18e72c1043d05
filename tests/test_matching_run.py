"""Face-matching runs end to end: manifests with roles, probe lines, the CLI on the Congress-style demo, the real matcher."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from statsmodels.stats.proportion import proportion_confint

from conformance import ManifestError, PredictionsError, load_dataset
from conformance.adapters.registry import create
from conformance.demo import DEMO_DIR

REPO = Path(__file__).resolve().parent.parent
MATCHING = DEMO_DIR / "matching"
ASTRONAUT = REPO / "fixtures" / "astronaut" / "matching.csv"


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True, text=True, timeout=180
    )


@pytest.fixture(scope="module")
def congress(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    cwd = tmp_path_factory.mktemp("congress")
    done = cli(
        cwd,
        "run",
        "--dataset",
        str(MATCHING / "manifest.csv"),
        "--analyzer",
        f"predictions:{MATCHING / 'predictions.jsonl'}",
        "--checks",
        "false_match_gap",
        "--group-by",
        "race_ethnicity",
        "--reference",
        "white",
        "--thresholds",
        "80,90,95,99",
    )
    return done, json.loads((cwd / "conformance-report" / "report.json").read_text())


def test_one_entry_per_threshold_with_hand_counted_rates(
    congress: tuple[subprocess.CompletedProcess[str], dict],
) -> None:
    _done, report = congress
    entries = {c["threshold"]: c for c in report["checks"] if c["id"] == "false_match_gap"}
    assert sorted(entries) == [80.0, 90.0, 95.0, 99.0]
    at80 = entries[80.0]["groups"]
    # The published test: 28 of 535 falsely matched at 80, 11 of them people of colour (107 of 535 probes).
    assert (at80["person of colour"]["count"], at80["person of colour"]["n"]) == (11, 107)
    assert (at80["white"]["count"], at80["white"]["n"]) == (17, 428)
    for name, (k, n) in {"person of colour": (11, 107), "white": (17, 428)}.items():
        assert at80[name]["ci"] == pytest.approx(list(proportion_confint(k, n, alpha=0.05, method="beta")), abs=1e-9)
    assert at80["person of colour"]["share_of_errors"] == pytest.approx(11 / 28)
    assert at80["person of colour"]["share_of_units"] == pytest.approx(107 / 535)
    assert entries[99.0]["details"]["binding"] is True
    assert [entries[99.0]["groups"][g]["count"] for g in ("person of colour", "white")] == [0, 0]
    assert entries[99.0]["details"]["sweep"]  # the fine grid, for plots
    assert "SIMULATED" in report["analyzer"]["note"]
    assert len(report["photos"]) == 1035  # 535 probes searched, 500 gallery photos enrolled: none lost


def test_the_run_verdict_decides_the_exit_code(congress: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    done, report = congress
    binding = next(c for c in report["checks"] if c["details"].get("binding"))
    # The test asserts the binding threshold, which passes (nobody falsely matched at 99) ...
    assert (binding["threshold"], binding["verdict"]) == (99.0, "pass")
    assert "1 passed" in done.stdout
    # ... but the run's verdict is the worst of every threshold: inconclusive at 80 and 90, which the
    # default policy counts as a failure. One rule for every run: the exit status follows that verdict.
    assert report["verdict"] == "inconclusive"
    assert report["policy"]["inconclusive"] == "fail"
    assert done.returncode == 1, done.stdout
    assert (
        "exit status 1: the run's verdict is inconclusive (false_match_gap@80, false_match_gap@90), and under "
        "this policy inconclusive counts as fail"
    ) in done.stdout


def matching_manifest(tmp_path: Path, write_png: object, rows: list[str]) -> Path:
    for i in range(4):
        write_png(tmp_path / f"{i}.png", (i * 40, 10, 10))  # type: ignore[operator]
    (tmp_path / "m.csv").write_text("photo,subject,role,site\n" + "\n".join(rows) + "\n")
    return tmp_path / "m.csv"


GOOD = ["0.png,a,gallery,x", "1.png,b,gallery,x", "2.png,a,probe,x", "3.png,c,probe,y"]


def test_a_matching_manifest_needs_no_gender_columns(tmp_path: Path, write_png: object) -> None:
    dataset = load_dataset(matching_manifest(tmp_path, write_png, GOOD))
    assert dataset.is_matching
    assert [p.id for p in dataset.role("probe")] == ["2.png", "3.png"]


def test_a_bad_role_is_refused_naming_the_row(tmp_path: Path, write_png: object) -> None:
    with pytest.raises(ManifestError, match=r"row 3: role 'judge' of photo '1.png' is not gallery or probe"):
        load_dataset(matching_manifest(tmp_path, write_png, ["0.png,a,gallery,x", "1.png,b,judge,x"]))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"probe": "0.png", "matches": []}, "probe '0.png' is not a photo with role probe"),
        (
            {"probe": "2.png", "matches": [{"gallery": "3.png", "similarity": 90}]},
            "'3.png' is not a photo with role gallery",
        ),
        ({"probe": "2.png", "matches": [{"gallery": "0.png", "similarity": 101}]}, "similarity 101 must be a number"),
        ({"probe": "2.png", "matches": [{"gallery": "0.png", "similarity": 60}]}, "from the search threshold 70"),
        ({"probe": "2.png"}, 'a probe line needs "matches"'),
    ],
)
def test_bad_probe_lines_are_refused_by_line_number(
    tmp_path: Path, write_png: object, line: dict, message: str
) -> None:
    dataset = load_dataset(matching_manifest(tmp_path, write_png, GOOD))
    predictions = tmp_path / "p.jsonl"
    predictions.write_text(json.dumps({"analyzer": "x", "search_threshold": 70}) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(PredictionsError) as info:
        create(f"predictions:{predictions}", dataset=dataset)
    assert "line 2:" in str(info.value)
    assert message in str(info.value)


def test_a_probe_without_a_line_is_an_error_outcome_not_lost(tmp_path: Path, write_png: object) -> None:
    from conformance.run.matching import run_searches

    dataset = load_dataset(matching_manifest(tmp_path, write_png, GOOD))
    predictions = tmp_path / "p.jsonl"
    predictions.write_text(json.dumps({"probe": "2.png", "matches": [{"gallery": "0.png", "similarity": 91.5}]}) + "\n")
    run = run_searches(create(f"predictions:{predictions}", dataset=dataset), dataset, floor=0.0)
    outcomes = {r.probe: r.outcome for r in run.records}
    assert outcomes == {"2.png": "analysed", "3.png": "error"}
    arrays = run.arrays([p.attributes["site"] for p in dataset.photos])
    # 2.png is person a, enrolled as 0.png: a mated search whose best mate scores 91.5.
    assert list(arrays["mated"]) == [True]
    assert list(arrays["best_mate"]) == [91.5]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "say which column groups the probes"),
        (["--group-by", "site", "--checks", "misgender_gap"], "need a gender dataset"),
        (["--group-by", "site", "--thresholds", "50"], "below the search threshold 70"),
    ],
)
def test_usage_errors_of_a_matching_run(tmp_path: Path, write_png: object, args: list[str], message: str) -> None:
    manifest = matching_manifest(tmp_path, write_png, GOOD)
    predictions = tmp_path / "p.jsonl"
    # A header and one probe's result: a file with no result at all is itself a usage error.
    lines = [{"analyzer": "x", "search_threshold": 70}, {"probe": "2.png", "matches": []}]
    predictions.write_text("".join(json.dumps(line) + "\n" for line in lines))
    done = cli(tmp_path, "run", "--dataset", str(manifest), "--analyzer", f"predictions:{predictions}", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_the_local_matcher_finds_her_in_every_variant(tmp_path: Path) -> None:
    """The real dlib model on the real-photo fixture: each variant searched against the original."""
    pytest.importorskip("dlib")
    from conformance.run.matching import run_searches

    dataset = load_dataset(ASTRONAUT)
    run = run_searches(create("local", dataset=dataset), dataset, floor=50.0)
    assert [r.outcome for r in run.records] == ["analysed"] * 9
    # Measured: every variant scores 92 or more against the original (dlib distance under 0.24).
    assert all(r.matches and r.matches[0][0] == "images/original.jpg" for r in run.records)
    assert min(r.matches[0][1] for r in run.records) >= 80


def test_compare_mode_counts_every_probe_gallery_pair(tmp_path: Path, write_png: object) -> None:
    from conformance.checks import run_matching_check
    from conformance.policy import load_policy
    from conformance.run.matching import run_searches

    dataset = load_dataset(matching_manifest(tmp_path, write_png, GOOD))
    predictions = tmp_path / "p.jsonl"
    lines = [
        {"analyzer": "x", "search_threshold": 50},
        {
            "probe": "2.png",
            "matches": [{"gallery": "0.png", "similarity": 91.5}, {"gallery": "1.png", "similarity": 85}],
        },
        {"probe": "3.png", "matches": [{"gallery": "1.png", "similarity": 82}]},
    ]
    predictions.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    run = run_searches(create(f"predictions:{predictions}", dataset=dataset), dataset, floor=50.0)
    groups = [p.attributes["site"] for p in dataset.photos]
    policy = load_policy()
    kwargs = {"groups": groups, "policy": policy, "seed": 1, "thresholds": (80.0, 90.0, 95.0, 99.0), "mode": "compare"}
    false_match = {r.threshold: r for r in run_matching_check("false_match_gap", run, reference="x", **kwargs)}
    # Pairs by hand: (2,0) genuine 91.5; impostors (2,1) 85 [site x], (3,0) not returned, (3,1) 82 [site y].
    assert (false_match[80.0].groups["x"].count, false_match[80.0].groups["x"].n) == (1, 1)
    assert (false_match[80.0].groups["y"].count, false_match[80.0].groups["y"].n) == (1, 2)
    assert (false_match[90.0].groups["y"].count, false_match[90.0].groups["y"].n) == (0, 2)
    non_match = {r.threshold: r for r in run_matching_check("false_non_match_gap", run, reference="x", **kwargs)}
    # The one genuine pair scores 91.5: found at 80 and 90, missed at 95.
    assert [(non_match[t].groups["x"].count, non_match[t].groups["x"].n) for t in (80.0, 90.0, 95.0)] == [
        (0, 1),
        (0, 1),
        (1, 1),
    ]


def test_predictions_compare_reads_the_probe_lines(tmp_path: Path, write_png: object) -> None:
    dataset = load_dataset(matching_manifest(tmp_path, write_png, GOOD))
    predictions = tmp_path / "p.jsonl"
    predictions.write_text(json.dumps({"probe": "2.png", "matches": [{"gallery": "0.png", "similarity": 91.5}]}) + "\n")
    matcher = create(f"predictions:{predictions}", dataset=dataset)
    photo = {p.id: p for p in dataset.photos}
    assert matcher.compare(photo["2.png"], photo["0.png"]) == 91.5  # type: ignore[attr-defined]
    assert matcher.compare(photo["2.png"], photo["1.png"]) is None  # not returned: below the search threshold
    assert matcher.compare(photo["3.png"], photo["0.png"]) is None  # no line for that probe


def test_local_compare_is_the_embedding_similarity(tmp_path: Path) -> None:
    pytest.importorskip("dlib")
    import numpy as np

    from conformance.adapters.local import LocalMatcher

    dataset = load_dataset(ASTRONAUT)
    photo = {p.id: p for p in dataset.photos}
    original, mirror = photo["images/original.jpg"], photo["images/mirror.jpg"]
    similarity = create("local", dataset=dataset).compare(original, mirror)  # type: ignore[attr-defined]
    raw = LocalMatcher()
    a, b = raw.embed(original.path, original.box), raw.embed(mirror.path, mirror.box)
    assert a is not None
    assert b is not None
    # The documented map, written out: 100 - distance * 20 / 0.6, clipped to [0, 100].
    expected = min(100.0, max(0.0, 100.0 - float(np.linalg.norm(a - b)) * 20 / 0.6))
    assert similarity == pytest.approx(round(expected, 2))
