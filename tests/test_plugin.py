"""The pytest plugin, driven through pytester as a user's project would drive it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

# pytester's inline runs forget modules first imported inside them, and numpy cannot load twice
# in one process: import the kit's heavy dependencies here, before any inline run.
import numpy  # noqa: F401
import pytest
import scipy.stats  # noqa: F401
import statsmodels.stats.proportion  # noqa: F401
from PIL import Image  # noqa: F401

from conformance.demo import MANIFEST, PREDICTIONS
from conformance.plugin import OPT_ANALYZER, OPT_CHECKS, OPT_DATASET, OPT_DEMO, OPT_PROFILE, OPT_REPORT_DIR, OPT_SEED

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
            "*conformance_dataset (string)*",
            "*conformance_demo (bool)*",
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
    result.stdout.fnmatch_lines([f"conformance: predictions:*repeat with: *{OPT_DATASET}=*{OPT_SEED}=7"])


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
    result.stderr.fnmatch_lines(["*--conformance-seed='abc': the seed must be a whole number*"])


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
    assert "Simulated analyzer output" in (out / "report.md").read_text()


def test_checks_option_selects(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--pyargs", "conformance.suite", OPT_DEMO, f"{OPT_CHECKS}=nonbinary_representability")
    result.assert_outcomes(failed=1, deselected=8)


def test_ci_profile_turns_inconclusive_into_xfail(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        "--pyargs", "conformance.suite", OPT_DEMO, f"{OPT_PROFILE}=ci", f"{OPT_CHECKS}=detection_failure_gap"
    )
    result.assert_outcomes(xfailed=1, deselected=8)


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
