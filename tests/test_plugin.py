"""The pytest plugin, driven through pytester as a user's project would drive it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

# pytester's inline runs forget modules first imported inside them, and numpy cannot load twice
# in one process: import the kit's heavy dependencies here, before any inline run.
import numpy  # noqa: F401
import pytest
import scipy.stats  # noqa: F401
import statsmodels.stats.proportion  # noqa: F401
from PIL import Image  # noqa: F401

from conformance.checks import CHECK_IDS
from conformance.demo import MANIFEST, PREDICTIONS
from conformance.plugin import (
    OPT_ANALYZER,
    OPT_BASELINE,
    OPT_CHECKS,
    OPT_DATASET,
    OPT_DEMO,
    OPT_PROFILE,
    OPT_RECORD_MODE,
    OPT_REPORT_DIR,
    OPT_SEED,
)

pytest_plugins = ["pytester"]

USER_TEST = """
from conformance import assert_no_misgender_gap, assert_nonbinary_representable, ConformanceFailure
import pytest

def test_misgender(conformance_observations, conformance_policy):
    assert_no_misgender_gap(conformance_observations, policy=conformance_policy)

def test_nonbinary(conformance_observations, conformance_policy):
    with pytest.raises(ConformanceFailure) as info:
        assert_nonbinary_representable(conformance_observations, policy=conformance_policy)
    assert info.value.result.verdict == "fail"
"""


def demo_args() -> list[str]:
    return [f"{OPT_DATASET}={MANIFEST}", f"{OPT_ANALYZER}=predictions:{PREDICTIONS}"]


def test_options_and_ini_keys_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "*bias conformance checks for facial analysis*",
            f"*{OPT_DATASET}=*",
            f"*{OPT_SEED}=*",
            "*conformance_demo (string)*",  # a flag too: read as text, parsed by the table (parse_truth)
            "*conformance_dataset (string)*",
        ]
    )


def test_unused_plugin_prints_nothing_and_loads_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    lines = [line for line in result.stdout.lines if "conformance" in line]
    assert all(line.startswith("plugins:") for line in lines), lines


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, conformance.plugin, conformance\n"
        "heavy = [m for m in ('numpy', 'scipy', 'statsmodels', 'PIL', 'boto3') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_user_tests_with_fixtures_and_helpers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest(*demo_args())
    # The simulated demo misgenders trans people 31% vs 4%: the first helper must fail with the table.
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*misgender_gap FAILED: nonbinary vs cis gap 0.960*exceeds tolerance 0.05*",
            "*cis *300 *75 *12 *0.040*",
            "*trans *200 *50 *62 *0.310*",
        ]
    )


def test_header_prints_the_flags_that_repeat_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest(*demo_args(), f"{OPT_SEED}=7")
    result.stdout.fnmatch_lines([f"conformance: predictions:*repeat with: *{OPT_DATASET}=*{OPT_SEED}=7*"])


def test_missing_dataset_is_a_clear_error_not_the_demo(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest(f"{OPT_SEED}=1")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*conformance: no dataset to audit: name a manifest and an analyzer*"])
    assert "Traceback" not in result.stdout.str()


def test_bad_input_is_one_line_without_traceback(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TEST)
    result = pytester.runpytest(f"{OPT_DATASET}=nowhere.csv", f"{OPT_ANALYZER}=predictions:x.jsonl")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*conformance: manifest not found: *nowhere.csv*"])
    assert "Traceback" not in result.stdout.str()


def test_bad_seed_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest(OPT_DEMO, f"{OPT_SEED}=abc")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*argument --conformance-seed: 'abc': the seed must be a whole number*"])


def test_ini_keys_configure_the_run(pytester: pytest.Pytester) -> None:
    data = pytester.mkdir("data")
    (data / "manifest.csv").write_bytes(MANIFEST.read_bytes())
    shutil.copytree(MANIFEST.parent / "images", data / "images")
    pytester.makeini(
        f"""
        [pytest]
        conformance_dataset = data/manifest.csv
        conformance_analyzer = predictions:{PREDICTIONS}
        conformance_checks = misgender_gap
        """
    )
    pytester.makepyfile(
        test_ini="""
        def test_ini(conformance_dataset, conformance_reference):
            assert len(conformance_dataset) == 600
            assert conformance_reference == "cis"
        """
    )
    result = pytester.runpytest()  # run from the project root: ini paths are relative to the ini file
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["conformance: predictions:*data/manifest.csv; repeat with: *"])


def test_suite_writes_reports_following_the_contract(pytester: pytest.Pytester) -> None:
    out = pytester.path / "out"
    result = pytester.runpytest("--pyargs", "conformance.suite", OPT_DEMO, f"{OPT_REPORT_DIR}={out}", "-rs")
    # The demo replays a recording without transformed variants: transformation_invariance is not
    # applicable, recorded as such and skipped.
    result.assert_outcomes(failed=5, skipped=1)
    result.stdout.fnmatch_lines(["*transformation_invariance*the answers come from the kit's emulator*"])
    result.stdout.fnmatch_lines(
        ["*conformance verdicts*", "FAIL*misgender_gap*", "INCONCLUSIVE*detection_failure_gap*"]
    )
    report = json.loads((out / "report.json").read_text())
    assert {"checks", "analyzer", "dataset", "seed", "kit_version"} <= set(report)
    assert report["dataset"]["content_hash"].startswith("sha256:")
    assert report["analyzer"]["simulated"] is True
    by_id = {c["id"]: c for c in report["checks"]}
    assert list(by_id) == [
        "misgender_gap",
        "nonbinary_representability",
        "same_person_consistency",
        "transformation_invariance",
        "confidence_calibration",
        "detection_failure_gap",
    ]
    assert by_id["transformation_invariance"]["verdict"] == "not applicable"
    misgender = by_id["misgender_gap"]
    assert misgender["verdict"] == "fail"
    assert {k: misgender["groups"]["trans"][k] for k in ("photos", "subjects", "count")} == {
        "photos": 200,
        "subjects": 50,
        "count": 62,
    }
    assert misgender["groups"]["trans"]["rate"] == pytest.approx(0.31)
    for comparison in misgender["comparisons"]:
        assert set(comparison) >= {"group", "reference", "difference", "ci", "p_value", "tolerance", "verdict"}
    assert len(report["photos"]) == 600
    # It ran, so it is a result and not a check that was not run; it says why it does not apply: the
    # demo was recorded against the kit's emulator, which knows only the dataset's photos.
    assert report["skipped"] == []
    assert any(
        "the answers come from the kit's emulator, which knows only the dataset's own photos: "
        "transformed variants would measure the emulator, not a model" in note
        for note in by_id["transformation_invariance"]["notes"]
    )
    assert report["verdict"] == "fail"
    assert "Simulated analyzer output" in (out / "report.md").read_text()


def test_checks_option_selects(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--pyargs", "conformance.suite", OPT_DEMO, f"{OPT_CHECKS}=nonbinary_representability")
    result.assert_outcomes(failed=1, deselected=len(CHECK_IDS))  # the other checks and the regression gate


def test_ci_profile_turns_inconclusive_into_xfail(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        "--pyargs", "conformance.suite", OPT_DEMO, f"{OPT_PROFILE}=ci", f"{OPT_CHECKS}=detection_failure_gap"
    )
    result.assert_outcomes(xfailed=1, deselected=len(CHECK_IDS))  # the other checks and the regression gate


def test_results_are_merged_from_xdist_workers(pytester: pytest.Pytester) -> None:
    out = pytester.path / "out"
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "xdist", "--pyargs", "conformance.suite", OPT_DEMO, f"{OPT_REPORT_DIR}={out}"
    )
    result.assert_outcomes(failed=5, skipped=1)
    report = json.loads((out / "report.json").read_text())
    assert sorted(c["id"] for c in report["checks"]) == sorted(
        [
            "misgender_gap",
            "nonbinary_representability",
            "same_person_consistency",
            "transformation_invariance",
            "confidence_calibration",
            "detection_failure_gap",
        ]
    )
    assert len(report["photos"]) == 600


def test_same_seed_same_results(tmp_path: Path, pytester: pytest.Pytester) -> None:
    reports = []
    for name in ("a", "b"):
        out = tmp_path / name
        pytester.runpytest("--pyargs", "conformance.suite", OPT_DEMO, f"{OPT_SEED}=99", f"{OPT_REPORT_DIR}={out}")
        reports.append(json.loads((out / "report.json").read_text())["checks"])
    assert reports[0] == reports[1]


def test_junit_xml_stays_small(pytester: pytest.Pytester) -> None:
    xml = pytester.path / "junit.xml"
    pytester.runpytest("--pyargs", "conformance.suite", OPT_DEMO, f"--junitxml={xml}")
    text = xml.read_text()
    assert text.count("<testcase") == 6
    assert "p0001.png" not in text  # the per-photo payload goes to report.json, not into JUnit XML


def test_junit_xml_carries_each_checks_figures(pytester: pytest.Pytester) -> None:
    import xml.etree.ElementTree as ET

    xml = pytester.path / "junit.xml"
    pytester.runpytest("--pyargs", "conformance.suite", OPT_DEMO, f"--junitxml={xml}")
    properties = {p.get("name"): p.get("value") for p in ET.parse(xml).iter("property")}
    # The data card's hand counts: 62 of 200 trans photos, 12 of 300 cis photos misgendered.
    assert properties["conformance.misgender_gap.verdict"] == "fail"
    assert properties["conformance.misgender_gap.trans.rate"].startswith("0.310 (62/200) [")
    assert properties["conformance.misgender_gap.cis.rate"].startswith("0.040 (12/300) [")
    assert properties["conformance.misgender_gap.trans.gap"].startswith("+0.270 [")
    assert properties["conformance.misgender_gap.trans.gap"].endswith("tolerance 0.05: fail")
    # Every two groups are compared: a pair without the reference names both sides.
    assert properties["conformance.misgender_gap.trans.vs.nonbinary.gap"].startswith("-0.690 [")


def test_report_md_is_appended_to_the_github_step_summary(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = pytester.path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.runpytest("--pyargs", "conformance.suite", OPT_DEMO, f"{OPT_CHECKS}=misgender_gap")
    text = summary.read_text()
    assert text.startswith("earlier step\n")  # appended, not overwritten
    assert "# Conformance report:" in text
    assert "| cis | 300 | 75 | 12 | 300 | 0.040 |" in text


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_step_summary_that_is_no_regular_file_is_warned_about_never_waited_on(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # Red team 15c: GITHUB_STEP_SUMMARY naming a FIFO with no reader made every run hang at its end.
    summary = pytester.path / "summary"
    if kind == "fifo":
        os.mkfifo(summary)
    else:
        summary.mkdir()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = pytester.runpytest_subprocess(
        "--pyargs", "conformance.suite", OPT_DEMO, f"{OPT_CHECKS}=misgender_gap", timeout=120
    )
    assert result.ret == 1  # the demo's misgender_gap fails; the run finished
    assert f"conformance: WARNING: cannot append to GITHUB_STEP_SUMMARY {summary}" in result.stderr.str()
    assert (pytester.path / "conformance-report" / "report.json").is_file()


# -- the kit's own record mode ----------------------------------------------------------------------

# Six photos; the first five are recorded, the sixth (img/t2.png) is added to the manifest afterwards.
RECORD_ROWS = [
    {"photo": "img/w1.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
    {"photo": "img/w2.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
    {"photo": "img/m1.png", "subject": "s2", "gender_identity": "man", "trans": "no"},
    {"photo": "img/m2.png", "subject": "s2", "gender_identity": "man", "trans": "no"},
    {"photo": "img/t1.png", "subject": "s3", "gender_identity": "woman", "trans": "yes"},
    {"photo": "img/t2.png", "subject": "s3", "gender_identity": "woman", "trans": "yes"},
]
RECORD_ANSWERS = {
    "img/w1.png": ("Female", 97.5),
    "img/w2.png": ("Female", 91.0),
    "img/m1.png": ("Male", 99.0),
    "img/m2.png": ("Male", 88.25),
    "img/t1.png": ("Male", 93.0),
    "img/t2.png": ("Female", 58.5),
}


def test_the_kit_records_by_its_own_record_mode_never_by_pytest_recordings(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, make_manifest: Callable[..., Path]
) -> None:
    """pytest-recording's --record-mode is the user's, for their cassettes: the kit stays replay-only (issue 15.13)."""
    from conformance.adapters.predictions import PredictionsAnalyzer
    from conformance.dataset import load_dataset
    from conformance.emulators import RekognitionEmulator, serve
    from conformance.recording.paths import recording_path

    data = pytester.path / "data"
    manifest = make_manifest(RECORD_ROWS, folder=data)
    predictions = pytester.path / "vendor.jsonl"
    lines = [{"analyzer": "rekognition-test", "version": "1", "vocabulary": ["Male", "Female"]}]
    lines += [
        {"photo": photo, "faces": [{"gender": label, "confidence": confidence, "box": [0.1, 0.2, 0.3, 0.4]}]}
        for photo, (label, confidence) in RECORD_ANSWERS.items()
    ]
    predictions.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(pytester.path / "absent-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(pytester.path / "absent-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    dataset = load_dataset(manifest)
    recording = recording_path(dataset, pytester.path / "cassettes", "rekognition.jsonl")
    args = ["--pyargs", "conformance.suite", f"{OPT_DATASET}={manifest}", f"{OPT_ANALYZER}=rekognition"]
    args += [f"{OPT_CHECKS}=detection_failure_gap", "-p", "no:randomly", "-p", "no:cacheprovider"]
    with serve(RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset))) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", server.url)
        # The kit's own option records the five photos of the first manifest, against the emulator.
        manifest.write_text(manifest.read_text(encoding="utf-8").replace("img/t2.png,s3,woman,yes\n", ""))
        first = pytester.runpytest_subprocess(*args, f"{OPT_RECORD_MODE}=once")
        assert first.ret in (0, 1), first.stdout.str()  # the check ran (its verdict is not the point here)
        assert server.emulator.stats.calls == 5
        recorded = recording.read_bytes()
        # The manifest grows by a photo; the user records their own cassettes with pytest-recording,
        # with vendor calls allowed in the ini file: the kit still only replays, and says what is missing.
        manifest.write_text(manifest.read_text(encoding="utf-8") + "img/t2.png,s3,woman,yes\n", encoding="utf-8")
        pytester.makeini("[pytest]\nconformance_allow_live = true\n")
        for mode in ("rewrite", "new_episodes", "all", "once"):
            replayed = pytester.runpytest_subprocess(*args, f"--record-mode={mode}")
            replayed.assert_outcomes(errors=1)
            replayed.stdout.fnmatch_lines(["*conformance: no recording of DetectFaces for photo 'img/t2.png'*"])
            assert server.emulator.stats.calls == 5, mode  # no call reached the vendor's endpoint
            assert recording.read_bytes() == recorded, mode
        # The kit's own option records what is missing (once would not add to a complete recording).
        grown = pytester.runpytest_subprocess(*args, f"{OPT_RECORD_MODE}=new_episodes")
        assert grown.ret in (0, 1), grown.stdout.str()
        assert server.emulator.stats.calls == 6
    assert "--conformance-record-mode=new_episodes" in grown.stdout.str()  # in the line that repeats the run


COUNTING_CONFTEST = """
import collections, json, pathlib

import conformance.checks as checks

calls = collections.Counter()
real = checks.run_check


def counting(check_id, *args, **kwargs):
    calls[check_id] += 1
    return real(check_id, *args, **kwargs)


def pytest_configure(config):
    checks.run_check = counting


def pytest_unconfigure(config):
    checks.run_check = real
    pathlib.Path("calls.json").write_text(json.dumps(calls))
"""


def test_the_regression_gate_reuses_each_checks_results(pytester: pytest.Pytester) -> None:
    """Each check (bootstraps included) runs once per run: the gate compares the results the tests made."""
    out = pytester.path / "baseline"
    first = pytester.runpytest("--pyargs", "conformance.suite", OPT_DEMO, f"{OPT_REPORT_DIR}={out}")
    first.assert_outcomes(failed=5, skipped=1)
    pytester.makeconftest(COUNTING_CONFTEST)
    again = pytester.runpytest(
        "--pyargs", "conformance.suite", OPT_DEMO, f"{OPT_BASELINE}={out / 'report.json'}", "-p", "no:randomly"
    )
    again.assert_outcomes(failed=5, skipped=1, passed=1)  # the gate passes: the same run as its baseline
    again.stdout.fnmatch_lines([f"no regression against {out / 'report.json'}"])
    calls = json.loads((pytester.path / "calls.json").read_text())
    # The six gender checks, each run once (transformation_invariance: not applicable to the emulator's answers).
    assert calls == {
        "misgender_gap": 1,
        "transformation_invariance": 1,
        "nonbinary_representability": 1,
        "same_person_consistency": 1,
        "confidence_calibration": 1,
        "detection_failure_gap": 1,
    }
