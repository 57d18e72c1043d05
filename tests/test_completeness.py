"""Complete or not a verdict (issue 12, case 1): every planned check is in every report, with a result or
as "not run" with the reason, and a run missing any has verdict "incomplete" and a non-zero exit.

The data fail four checks and pass one, by construction: 120 cis and 120 trans people, two photos
each, every face found (so detection_failure_gap passes: 0 of 120 people against 0 of 120), every
cis photo gendered right and 48 trans people gendered wrong on their second photo (misgendering,
consistency, and "99% confident yet wrong" fail), and a Male/Female vocabulary that cannot express
a nonbinary identity (representability fails on its static half). transformation_invariance is not
applicable: a predictions file cannot show the analyzer a new image.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

# pytester's inline runs forget modules first imported inside them, and numpy cannot load twice
# in one process: import the kit's heavy dependencies here, before any inline run.
import numpy  # noqa: F401
import pytest
import scipy.stats  # noqa: F401
import statsmodels.stats.proportion  # noqa: F401
from PIL import Image

from conformance.checks import GENDER_CHECKS
from conformance.plugin import OPT_ANALYZER, OPT_CHECKS, OPT_DATASET, OPT_PROFILE, OPT_REPORT_DIR

pytest_plugins = ["pytester"]

PEOPLE = 120  # per group
MISGENDERED = 48  # trans people gendered wrong on their second photo
FAILING = ("misgender_gap", "nonbinary_representability", "same_person_consistency", "confidence_calibration")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(manifest, predictions) of the four-fail, one-pass dataset described above."""
    root = tmp_path_factory.mktemp("fails-four")
    (root / "images").mkdir()
    rows = ["photo,subject,gender_identity,trans"]
    lines = [json.dumps({"analyzer": "four-fails", "version": "1", "vocabulary": ["Male", "Female"]})]
    for group in ("cis", "trans"):
        for person in range(PEOPLE):
            identity = "woman" if person % 2 else "man"
            right, wrong = ("Female", "Male") if identity == "woman" else ("Male", "Female")
            for shot in (1, 2):
                photo = f"images/{group}-{person:03d}-{shot}.png"
                colour = (person, shot * 60, 0 if group == "cis" else 255)
                Image.new("RGB", (8, 8), colour).save(root / photo, format="PNG")
                rows.append(f"{photo},{group}-{person:03d},{identity},{'no' if group == 'cis' else 'yes'}")
                label = wrong if group == "trans" and shot == 2 and person < MISGENDERED else right
                face = {"gender": label, "confidence": 99.0, "box": [0.2, 0.2, 0.5, 0.5]}
                lines.append(json.dumps({"photo": photo, "faces": [face]}))
    manifest, predictions = root / "manifest.csv", root / "predictions.jsonl"
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    predictions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest, predictions


def _suite(data: tuple[Path, Path], out: Path, *extra: str) -> list[str]:
    manifest, predictions = data
    return [
        "--pyargs",
        "conformance.suite",
        f"{OPT_DATASET}={manifest}",
        f"{OPT_ANALYZER}=predictions:{predictions}",
        f"{OPT_REPORT_DIR}={out}",
        *extra,
    ]


def _report(out: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return report


def _verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in report["checks"]}


def test_the_whole_run_fails_four_checks_and_passes_one(pytester: pytest.Pytester, data: tuple[Path, Path]) -> None:
    """The premise of the cases below, worked out by hand in the module's docstring."""
    out = pytester.path / "out"
    result = pytester.runpytest(*_suite(data, out))
    assert result.ret == 1
    verdicts = _verdicts(_report(out))
    assert verdicts == {
        **dict.fromkeys(FAILING, "fail"),
        "transformation_invariance": "not applicable",
        "detection_failure_gap": "pass",
    }
    assert list(verdicts) == list(GENDER_CHECKS)  # every planned check, in the order of the ids
    assert _report(out)["verdict"] == "fail"


def test_k_narrowing_to_a_passing_check_is_incomplete_and_exits_non_zero(
    tmp_path: Path, data: tuple[Path, Path]
) -> None:
    """Issue 12, case 1, through the CLI: ``conformance run ... -- -k detection_failure_gap``.

    Before: exit 0 and ``verdict: pass`` in report.json/md/html, with the -k missing from "Reproduce".
    """
    manifest, predictions = data
    command = [sys.executable, "-m", "conformance", "run", "--dataset", str(manifest)]
    command += ["--analyzer", f"predictions:{predictions}", "--", "-k", "detection_failure_gap"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    report = _report(tmp_path / "conformance-report")
    assert report["verdict"] == "incomplete"
    verdicts = _verdicts(report)
    assert list(verdicts) == list(GENDER_CHECKS)
    assert verdicts["detection_failure_gap"] == "pass"
    for check in report["checks"]:
        if check["id"] != "detection_failure_gap":
            assert check["verdict"] == "not run"
            assert check["details"]["not_run"]["cause"] == "deselected"
            assert check["notes"] == ["not run: deselected by pytest's arguments (-k, -m or --deselect)"]
    assert report["run"]["pytest_args"] == ["-k", "detection_failure_gap"]
    assert report["run"]["command"].endswith(" -- -k detection_failure_gap")
    markdown = (tmp_path / "conformance-report" / "report.md").read_text(encoding="utf-8")
    assert "**Verdict: ⛔ incomplete**" in markdown
    assert "5 of 6 planned checks were not run" in markdown
    assert "| `misgender_gap` | ⏭️ not run | not run: deselected by pytest's arguments (-k, -m or --deselect) |" in (
        markdown.replace("\\", "")
    )
    assert "-- -k detection\\_failure\\_gap`" in markdown or "-- -k detection_failure_gap`" in markdown
    page = (tmp_path / "conformance-report" / "report.html").read_text(encoding="utf-8")
    assert '<span class="verdict v-fail big">incomplete</span>' in page
    assert "5 of 6 planned checks were not run" in page
    assert "conformance verdict: INCOMPLETE: 5 of 6 planned checks not run" in done.stdout
    assert "NOT RUN        misgender_gap" in done.stdout


def test_deselect_is_incomplete_and_exits_non_zero(pytester: pytest.Pytester, data: tuple[Path, Path]) -> None:
    """``--deselect`` of the failing checks leaves a run pytest calls green; the kit does not."""
    out = pytester.path / "out"
    deselect = [f"--deselect=test_gender.py::test_gender_check[{check}]" for check in FAILING]
    result = pytester.runpytest(*_suite(data, out, *deselect))
    result.assert_outcomes(passed=1, skipped=1, deselected=len(FAILING) + 7)  # the matching checks and the gate
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = _report(out)
    assert report["verdict"] == "incomplete"
    assert {c: v for c, v in _verdicts(report).items() if v == "not run"} == dict.fromkeys(FAILING, "not run")
    assert set(deselect) <= set(report["run"]["pytest_args"])
    result.stdout.fnmatch_lines(["*conformance verdict: INCOMPLETE: 4 of 6 planned checks not run*"])


def test_stopped_by_x_names_every_check_not_reached(pytester: pytest.Pytester, data: tuple[Path, Path]) -> None:
    out = pytester.path / "out"
    result = pytester.runpytest(*_suite(data, out, "-x", "-p", "no:randomly"))
    result.assert_outcomes(failed=1)
    report = _report(out)
    assert report["verdict"] == "fail"  # a failed check fails the run, complete or not
    assert list(_verdicts(report)) == list(GENDER_CHECKS)
    not_run = [c for c in report["checks"] if c["verdict"] == "not run"]
    assert [c["id"] for c in not_run] == list(GENDER_CHECKS[1:])
    for check in not_run:
        assert check["details"]["not_run"] == {
            "cause": "stopped",
            "reason": "not reached: pytest stopped the run (stopping after 1 failures)",
        }
    assert "-x" in report["run"]["pytest_args"]


RAISING_CONFTEST = """
import conformance.checks.gender as gender

real = gender.same_person_consistency


def pytest_configure(config):
    def exhausted(*args, **kwargs):
        raise MemoryError("cannot allocate 80.0 GiB for an array of 10000000000 bootstrap resamples")

    gender.same_person_consistency = exhausted


def pytest_unconfigure(config):
    gender.same_person_consistency = real  # inline runs share the module with the tests that follow
"""


def test_a_check_that_raised_is_not_run_with_the_error(pytester: pytest.Pytester, data: tuple[Path, Path]) -> None:
    """A check that raised (MemoryError from a huge bootstrap) is named with its error, in report and JUnit XML."""
    pytester.makeconftest(RAISING_CONFTEST)
    out, xml = pytester.path / "out", pytester.path / "junit.xml"
    result = pytester.runpytest(*_suite(data, out, f"--junitxml={xml}"))
    report = _report(out)
    check = next(c for c in report["checks"] if c["id"] == "same_person_consistency")
    reason = "raised MemoryError: cannot allocate 80.0 GiB for an array of 10000000000 bootstrap resamples"
    assert check["verdict"] == "not run"
    assert check["details"]["not_run"] == {"cause": "raised", "reason": reason}
    assert report["verdict"] == "fail"  # the other failing checks still fail it
    result.stdout.fnmatch_lines([f"NOT RUN *same_person_consistency*{reason}"])
    properties = {p.get("name"): p.get("value") for p in ET.parse(xml).iter("property")}
    assert properties["conformance.same_person_consistency.verdict"] == "not run"
    assert properties["conformance.same_person_consistency.reason"] == reason
    assert properties["conformance.verdict"] == "fail"


def test_only_passing_checks_left_after_an_error_is_incomplete(
    pytester: pytest.Pytester, data: tuple[Path, Path]
) -> None:
    """The raised check alone stands between pytest's green and the verdict."""
    pytester.makeconftest(RAISING_CONFTEST.replace("same_person_consistency", "detection_failure_gap"))
    out = pytester.path / "out"
    result = pytester.runpytest(*_suite(data, out, f"{OPT_CHECKS}=detection_failure_gap,transformation_invariance"))
    result.assert_outcomes(failed=1, skipped=1, deselected=len(FAILING) + 7)
    assert _report(out)["verdict"] == "incomplete"


def test_junit_xml_names_each_deselected_check(pytester: pytest.Pytester, data: tuple[Path, Path]) -> None:
    out, xml = pytester.path / "out", pytester.path / "junit.xml"
    result = pytester.runpytest(*_suite(data, out, "-k", "detection_failure_gap", f"--junitxml={xml}"))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    properties = {p.get("name"): p.get("value") for p in ET.parse(xml).iter("property")}
    assert properties["conformance.verdict"] == "incomplete"
    for check in FAILING:
        assert properties[f"conformance.{check}.verdict"] == "not run"
        assert properties[f"conformance.{check}.reason"] == "deselected by pytest's arguments (-k, -m or --deselect)"


def test_a_subset_chosen_with_checks_is_a_complete_run_of_that_subset(
    pytester: pytest.Pytester, data: tuple[Path, Path]
) -> None:
    out = pytester.path / "out"
    result = pytester.runpytest(*_suite(data, out, f"{OPT_CHECKS}=detection_failure_gap"))
    assert result.ret == pytest.ExitCode.OK
    report = _report(out)
    assert report["verdict"] == "pass"
    assert _verdicts(report) == {"detection_failure_gap": "pass"}
    assert report["run"]["checks_chosen"] is True
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "Scope: the checks chosen with `--checks` (`detection_failure_gap`)" in markdown
    result.stdout.fnmatch_lines(["*scope: the checks chosen with --checks (detection_failure_gap)*"])


def test_k_under_xdist_still_names_the_deselected_checks(pytester: pytest.Pytester, data: tuple[Path, Path]) -> None:
    """Workers deselect; the controller writes the report: the names come over with the workers' output."""
    out = pytester.path / "out"
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "xdist", *_suite(data, out, OPT_PROFILE + "=ci", "-k", "detection_failure_gap")
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = _report(out)
    assert report["verdict"] == "incomplete"
    for check in report["checks"]:
        if check["id"] != "detection_failure_gap":
            assert check["details"]["not_run"]["cause"] == "deselected", check
