"""Issue 14, "the first hour of a real user": each surface that misled, through the CLI or pytester.

The figures asserted are the demo's, counted by hand from its manifest (conformance/demo/README.md):
300 photos of 75 cis people (12 misgendered), 200 of 50 trans people (62), 100 of 25 nonbinary
people (all 100 given a binary label).
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

# pytester's inline runs forget modules first imported inside them, and numpy cannot load twice
# in one process: import the kit's heavy dependencies here, before any inline run.
import numpy  # noqa: F401
import pytest
import scipy.stats  # noqa: F401
import statsmodels.stats.proportion  # noqa: F401
from PIL import Image

from conformance.demo import MANIFEST, PREDICTIONS
from conformance.plugin import OPT_ANALYZER, OPT_CHECKS, OPT_DATASET, OPT_GROUP_BY, OPT_PROFILE

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
NONBINARY = {"genderfluid", "agender", "non-binary", "genderqueer", "nonbinary"}


def cli(cwd: Path, *args: str, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )


def demo_copy(folder: Path, *, keep: object = None, predictions: bool = True) -> tuple[Path, Path]:
    """The demo's manifest, images and predictions copied into ``folder``; ``keep(row)`` filters rows."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(MANIFEST.parent / "images", folder / "images")
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    kept = [r for r in rows if keep is None or keep(r)]  # type: ignore[operator]
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
    photos = {r["photo"] for r in kept}
    lines = [
        line
        for line in PREDICTIONS.read_text(encoding="utf-8").splitlines()
        if "photo" not in json.loads(line) or json.loads(line)["photo"] in photos
    ]
    out = folder / "vendor.jsonl"
    if predictions:
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest, out


# -- item 6: whatever way a user's tests make the checks, the run's reports and summary ---------------------


def readme_snippet() -> tuple[str, list[str]]:
    """README's own-test file and the pytest arguments its comment gives, as a user copies them."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use it in your own tests", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    command = " ".join(
        line.lstrip("#").strip() for line in code.splitlines() if line.startswith("#  ") and "--conformance" in line
    )
    words = command.split()
    assert words[0] == "pytest", command
    return code, words[1:]


def test_readme_own_test_writes_reports_prints_the_summary_and_respects_group_by(pytester: pytest.Pytester) -> None:
    code, args = readme_snippet()
    demo_copy(pytester.path / "photos")
    (pytester.path / "photos" / "vendor.jsonl").rename(pytester.path / "vendor.jsonl")
    pytester.makepyfile(test_vendor_fairness=code)
    result = pytester.runpytest(*args, "-p", "no:cacheprovider")
    # The demo fails both: 62/200 trans against 12/300 cis; a binary vocabulary.
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*conformance verdicts*",
            "FAIL*misgender_gap*nonbinary vs cis: +0.960*",
            "FAIL*nonbinary_representability*static*",
            "conformance verdict: FAIL",
            "reports: conformance-report/report.json, conformance-report/report.md, conformance-report/report.html",
        ]
    )
    report = json.loads((pytester.path / "conformance-report" / "report.json").read_text())
    assert [c["id"] for c in report["checks"]] == ["misgender_gap", "nonbinary_representability"]
    assert report["verdict"] == "fail"
    misgender = report["checks"][0]["groups"]
    assert {g: (misgender[g]["count"], misgender[g]["n"]) for g in misgender} == {
        "cis": (12, 300),
        "trans": (62, 200),
        "nonbinary": (100, 100),
    }
    assert (pytester.path / "conformance-report" / "report.md").read_text().startswith("# Conformance report")

    # --conformance-group-by: the helpers group as the run does (skin type, not the default groups).
    shutil.rmtree(pytester.path / "conformance-report")
    result = pytester.runpytest(*args, f"{OPT_GROUP_BY}=skin_type", "-p", "no:cacheprovider")
    report = json.loads((pytester.path / "conformance-report" / "report.json").read_text())
    assert report["grouping"]["by"] == ["skin_type"]
    misgender_groups = set(report["checks"][0]["groups"])
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        assert misgender_groups == {row["skin_type"] for row in csv.DictReader(handle)}
    result.stdout.fnmatch_lines(["*misgender_gap*: * vs *"])


POLICY_THAT_PASSES = """
[tool.conformance]
min_subjects = 2

[tool.conformance.tolerance]
misgender_gap = 0.999
detection_failure_gap = 0.999
"""

TWO_HELPERS = """
from conformance import assert_no_detection_failure_gap, assert_no_misgender_gap


def test_misgender(conformance_observations):
    assert_no_misgender_gap(conformance_observations)


def test_detection(conformance_observations):
    assert_no_detection_failure_gap(conformance_observations)
"""


def test_a_partial_run_through_the_helpers_is_incomplete_never_a_pass(pytester: pytest.Pytester) -> None:
    # A tolerance of 0.999 lets both checks pass on the demo (the largest gap, 0.960, has its
    # interval's upper end at 0.982): the run can pass, so a pass below would be the finding's bug.
    pytester.makepyprojecttoml(POLICY_THAT_PASSES)
    pytester.makepyfile(test_mine=TWO_HELPERS)
    args = [
        f"{OPT_DATASET}={MANIFEST}",
        f"{OPT_ANALYZER}=predictions:{PREDICTIONS}",
        f"{OPT_CHECKS}=misgender_gap,detection_failure_gap",
        "-p",
        "no:cacheprovider",
    ]
    complete = pytester.runpytest(*args)
    complete.assert_outcomes(passed=2)
    assert complete.ret == pytest.ExitCode.OK
    report = json.loads((pytester.path / "conformance-report" / "report.json").read_text())
    assert (report["verdict"], [c["verdict"] for c in report["checks"]]) == ("pass", ["pass", "pass"])

    partial = pytester.runpytest(*args, "-k", "misgender")
    partial.assert_outcomes(passed=1, deselected=1)
    assert partial.ret == pytest.ExitCode.TESTS_FAILED  # every test passed, and the run is no verdict
    partial.stdout.fnmatch_lines(
        [
            "PASS*misgender_gap*",
            "NOT RUN*detection_failure_gap*no test of this run produced a result for it",
            "conformance verdict: INCOMPLETE: 1 of 2 planned checks not run (detection_failure_gap)*",
        ]
    )
    report = json.loads((pytester.path / "conformance-report" / "report.json").read_text())
    assert report["verdict"] == "incomplete"
    assert {c["id"]: c["verdict"] for c in report["checks"]} == {
        "misgender_gap": "pass",
        "detection_failure_gap": "not run",
    }


def test_helpers_on_observations_of_their_own_are_not_the_runs_verdict(pytester: pytest.Pytester) -> None:
    # Observations a test loads itself are not the run's: the helper asserts, and the reports (which
    # describe the run's dataset and options) do not take its result.
    pytester.makepyfile(
        test_own=f"""
        from conformance import analyze, assert_check, load_dataset

        def test_own():
            dataset = load_dataset({str(MANIFEST)!r})
            observations = analyze("predictions:{PREDICTIONS}", dataset)
            assert assert_check("detection_failure_gap", observations, policy=None).verdict == "inconclusive"
        """
    )
    result = pytester.runpytest(f"{OPT_DATASET}={MANIFEST}", f"{OPT_ANALYZER}=predictions:{PREDICTIONS}")
    result.assert_outcomes(failed=1)  # inconclusive fails under the default policy
    assert not (pytester.path / "conformance-report").exists()


def test_a_helper_run_with_its_own_reference_is_said_so_not_never_run(pytester: pytest.Pytester) -> None:
    # rt14c F10: the test ran misgender_gap (reference 'trans') and failed; the report said no test ran it.
    pytester.makepyfile(
        test_custom="""
        from conformance import assert_no_misgender_gap, assert_nonbinary_representable

        def test_gap(conformance_observations):
            assert_no_misgender_gap(conformance_observations, reference="trans")

        def test_nb(conformance_observations):
            assert_nonbinary_representable(conformance_observations)
        """
    )
    result = pytester.runpytest(
        f"{OPT_DATASET}={MANIFEST}",
        f"{OPT_ANALYZER}=predictions:{PREDICTIONS}",
        "--conformance-checks=misgender_gap,nonbinary_representability",
    )
    result.assert_outcomes(failed=2)
    report = json.loads((pytester.path / "conformance-report" / "report.json").read_text())
    check = report["checks"][0]
    assert check["verdict"] == "not run"  # the test's own choice is not the run's: not in the reports
    assert check["details"]["not_run"] == {
        "cause": "elsewhere",
        "reason": "run by test_custom.py::test_gap with other choices than the run's (reference 'trans'): that result "
        "is the test's own, not the run's, so it is not in the reports; call the helper without them to record the "
        "run's",
    }
    assert "no test of this run produced a result" not in result.stdout.str()


# -- item 5: a model handed over by a conftest.py fixture, as vcr_config is --------------------------------

REDNESS = """
from PIL import Image

NAME = "{name}"
VOCABULARY = {{"Woman": "woman", "Man": "man"}}


def analyze(path):
    with Image.open(path) as image:
        red = image.convert("RGB").getpixel((0, 0))[0]
    label = "{high}" if red >= 128 else "{low}"
    return {{"faces": [{{"gender": label, "confidence": 90.0}}]}}
"""

LABELS_TEST = """
import json

def test_labels(conformance_observations):
    labels = {o.photo: o.face.label for o in conformance_observations.records}
    assert conformance_observations.analyzer["adapter"] == "python"
    print("LABELS", json.dumps([conformance_observations.analyzer["name"], labels], sort_keys=True))
"""


def red_project(root: Path) -> tuple[Path, dict[str, int]]:
    """Six photos of three people, each photo's red channel known: the models' answers follow from it."""
    reds = {"img/a1.png": 200, "img/a2.png": 30, "img/b1.png": 140, "img/b2.png": 250, "img/c1.png": 10}
    rows = [
        ("img/a1.png", "a", "woman", "no"),
        ("img/a2.png", "a", "woman", "no"),
        ("img/b1.png", "b", "trans man", "yes"),
        ("img/b2.png", "b", "trans man", "yes"),
        ("img/c1.png", "c", "nonbinary", "yes"),
    ]
    for photo, red in reds.items():
        (root / "data" / photo).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8), (red, 10, 10)).save(root / "data" / photo, format="PNG")
    manifest = root / "data" / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo", "subject", "gender_identity", "trans"])
        writer.writerows(rows)
    (root / "redness.py").write_text(REDNESS.format(name="redness", high="Woman", low="Man"), encoding="utf-8")
    (root / "contrary.py").write_text(REDNESS.format(name="contrary", high="Man", low="Woman"), encoding="utf-8")
    return manifest, reds


def labels_of(result: pytest.RunResult) -> tuple[str, dict[str, str]]:
    line = next(line for line in result.stdout.lines if "LABELS " in line)
    name, labels = json.loads(line.split("LABELS ", 1)[1].removesuffix("."))
    return name, labels


def test_a_conftest_fixture_hands_the_model_over_and_which_analyzer_wins(pytester: pytest.Pytester) -> None:
    manifest, reds = red_project(pytester.path)
    pytester.syspathinsert()
    pytester.makeconftest(
        """
        import pytest
        import redness

        @pytest.fixture(scope="session")
        def conformance_model():
            return redness.analyze
        """
    )
    pytester.makepyfile(
        test_labels=LABELS_TEST
        + "\n\ndef test_detection(conformance_check):\n    conformance_check('detection_failure_gap')\n"
    )
    pytester.makeini(f"[pytest]\nconformance_dataset = {manifest}\n")
    redness = {photo: "Woman" if red >= 128 else "Man" for photo, red in reds.items()}
    contrary = {photo: "Man" if red >= 128 else "Woman" for photo, red in reds.items()}

    result = pytester.runpytest("-s", "-p", "no:cacheprovider")
    # Three people cannot decide a gap: detection_failure_gap is inconclusive, a failure by default.
    result.assert_outcomes(passed=1, failed=1)
    assert labels_of(result) == ("redness", redness)
    # The run records and reports like any other: the fixture's model is the run's analyzer.
    report = json.loads((pytester.path / "conformance-report" / "report.json").read_text())
    assert report["analyzer"]["name"] == "redness"
    assert report["run"]["flags"][1] == "--conformance-analyzer=python:@redness.analyze"

    # The fixture wins over the ini key ...
    pytester.makeini(f"[pytest]\nconformance_dataset = {manifest}\nconformance_analyzer = python:contrary:analyze\n")
    result = pytester.runpytest("-s", "-p", "no:cacheprovider")
    assert labels_of(result) == ("redness", redness)
    # ... and the command line wins over the fixture.
    result = pytester.runpytest("-s", "-p", "no:cacheprovider", f"{OPT_ANALYZER}=python:contrary:analyze")
    assert labels_of(result) == ("contrary", contrary)


# -- item 7: --demo-matching is covered in test_rekognition_matching (exit 1, title, not applicable check) ----


# -- item 8: an all-error predictions file; a file missing some photos -------------------------------------


def test_an_all_error_predictions_file_is_not_called_binary(tmp_path: Path) -> None:
    manifest, _ = demo_copy(tmp_path, predictions=False)
    with manifest.open(newline="", encoding="utf-8") as handle:
        photos = [row["photo"] for row in csv.DictReader(handle)]
    # Each photo its own error (so that the run is not stopped as one systematic failure).
    (tmp_path / "vendor.jsonl").write_text(
        "".join(json.dumps({"photo": p, "error": f"timeout after {i} s"}) + "\n" for i, p in enumerate(photos))
    )
    (tmp_path / "pyproject.toml").write_text("[tool.conformance]\nsystematic_failures = 0\n")
    done = cli(tmp_path, "run", "--dataset", "manifest.csv", "--analyzer", "predictions:vendor.jsonl")
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text())
    check = next(c for c in report["checks"] if c["id"] == "nonbinary_representability")
    static = check["details"]["static"]
    assert static["labels"] == {}
    assert static["verdict"] == "inconclusive"
    assert static["reason"].startswith("no gender label to judge: the vocabulary (")
    everything = done.stdout + (tmp_path / "conformance-report" / "report.md").read_text()
    assert "has only binary labels" not in everything
    assert "vocabulary [] " not in everything
    assert "vocabulary \\[\\]" not in everything


def test_photos_missing_from_the_predictions_file_are_counted_and_named_in_console_and_report(
    pytester: pytest.Pytester,
) -> None:
    manifest, predictions = demo_copy(pytester.path / "data")
    lines = predictions.read_text().splitlines()
    dropped = [json.loads(line)["photo"] for line in lines[1:8]]  # the first 7 photos' lines
    predictions.write_text("\n".join([lines[0], *lines[8:]]) + "\n")
    result = pytester.runpytest(
        "--pyargs",
        "conformance.suite",
        f"{OPT_DATASET}={manifest}",
        f"{OPT_ANALYZER}=predictions:{predictions}",
        f"{OPT_CHECKS}=detection_failure_gap",
        "-p",
        "no:cacheprovider",
    )
    first = ", ".join(f"'{p}'" for p in dropped[:5])
    result.stdout.fnmatch_lines([f"MISSING PREDICTIONS: vendor.jsonl has no prediction for 7 of 600 photos ({first}*"])
    markdown = (pytester.path / "conformance-report" / "report.md").read_text()
    assert "**Missing predictions.** vendor.jsonl has no prediction for 7 of 600 photos" in markdown
    for photo in dropped[:5]:
        assert photo.replace("_", "\\_") in markdown
    # report.html says it too, not only in its table of photos (issue 14's red team, s14).
    page = (pytester.path / "conformance-report" / "report.html").read_text()
    note = re.search(r"<strong>Missing predictions\.</strong> ([^<]*)</p>", page)
    assert note is not None
    text = html.unescape(note[1])
    assert text.startswith(f"vendor.jsonl has no prediction for 7 of 600 photos ({first}")


# -- item 9: "straddles" only when the interval straddles; every inconclusive names its reason ---------------


def cis_and_nonbinary(row: dict[str, str]) -> bool:
    return row["trans"] == "no" or row["gender_identity"] in NONBINARY


def test_inconclusive_names_its_reason_and_straddles_only_when_it_does(tmp_path: Path) -> None:
    demo_copy(tmp_path, keep=cis_and_nonbinary)
    done = cli(
        tmp_path,
        "run",
        "--dataset",
        "manifest.csv",
        "--analyzer",
        "predictions:vendor.jsonl",
        "--profile",
        "procurement",
        "--checks",
        "misgender_gap,detection_failure_gap",
    )
    assert done.returncode == 1
    # 100 of 100 nonbinary photos against 12 of 300 cis: the gap's interval lies far above the 0.02
    # tolerance, and the verdict is inconclusive because 25 nonbinary people are fewer than the
    # profile's min_subjects of 30. It does not straddle, and the headline says why instead.
    failure = next(line for line in done.stdout.splitlines() if line.startswith("misgender_gap INCONCLUSIVE"))
    assert "straddles" not in failure
    assert "nonbinary vs cis gap 0.960 [0.800, 0.982] lies beyond tolerance 0.02" in failure
    reason = "fewer than 30 subjects behind a rate (nonbinary: 25, cis: 75)"
    assert f"inconclusive: {reason}" in failure
    summary = next(line for line in done.stdout.splitlines() if re.match(r"INCONCLUSIVE +misgender_gap ", line))
    assert reason in summary
    assert "straddles" not in summary
    markdown = (tmp_path / "conformance-report" / "report.md").read_text()
    row = next(line for line in markdown.splitlines() if line.startswith("| `misgender_gap` |"))
    assert "fewer than 30 subjects behind a rate" in row

    # With min_subjects met (default profile, 25 people each needed: 5), an interval that does reach
    # across the tolerance says so: 0 of 100 against 0 of 300 failed detections.
    done = cli(
        tmp_path,
        "run",
        "--dataset",
        "manifest.csv",
        "--analyzer",
        "predictions:vendor.jsonl",
        "--checks",
        "detection_failure_gap",
    )
    line = next(line for line in done.stdout.splitlines() if re.match(r"INCONCLUSIVE +detection_failure_gap ", line))
    assert "tolerance 0.05: the interval straddles the tolerance" in line


def test_the_procurement_profile_keeps_the_worst_finding_in_the_headline(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        "--pyargs",
        "conformance.suite",
        f"{OPT_DATASET}={MANIFEST}",
        f"{OPT_ANALYZER}=predictions:{PREDICTIONS}",
        f"{OPT_CHECKS}=misgender_gap",
        f"{OPT_PROFILE}=procurement",
        "-p",
        "no:cacheprovider",
    )
    # trans vs cis (0.270) fails and decides; nonbinary vs cis (0.960) cannot be decided with 25
    # people under min_subjects 30, and is still the starkest finding: every headline names it.
    largest = "largest gap: nonbinary vs cis +0.960 [0.800, 0.982] (inconclusive: fewer than 30 subjects"
    lines = result.stdout.lines
    failure = next(line for line in lines if line.startswith("misgender_gap FAILED: "))
    assert failure.startswith("misgender_gap FAILED: trans vs cis gap 0.270 [0.181, 0.377] exceeds tolerance 0.02 ")
    assert f"; {largest}" in failure
    summary = next(line for line in lines if re.match(r"FAIL +misgender_gap ", line))
    assert f"trans vs cis: +0.270 [0.181, 0.377] tolerance 0.02; {largest}" in summary
    markdown = (pytester.path / "conformance-report" / "report.md").read_text()
    row = next(line for line in markdown.splitlines() if line.startswith("| `misgender_gap` |"))
    assert "largest gap: nonbinary vs cis +0.960 \\[0.800, 0.982\\]" in row


# -- item 10: one rule for paths set in an ini file, and not-found messages with the path tried ---------------


def test_paths_in_an_ini_file_are_relative_to_that_file(pytester: pytest.Pytester) -> None:
    demo_copy(pytester.path / "cfg" / "data")
    pytester.makefile(
        ".ini",
        **{
            "cfg/pytest": "[pytest]\nconformance_dataset = data/manifest.csv\n"
            "conformance_analyzer = predictions:data/vendor.jsonl\nconformance_checks = misgender_gap\n"
            "conformance_report_dir = out\n"
        },
    )
    pytester.makepyfile(test_it="def test_it(conformance_check):\n    conformance_check('misgender_gap')\n")
    # Run from the project's root with the ini in cfg/: every path is read against cfg/, none against
    # the working directory or the rootdir.
    result = pytester.runpytest("-c", "cfg/pytest.ini", "--rootdir", ".", "-p", "no:cacheprovider", "test_it.py")
    result.assert_outcomes(failed=1)  # the demo misgenders trans people 31% against 4%
    assert (pytester.path / "cfg" / "out" / "report.json").is_file()
    result.stdout.fnmatch_lines([f"conformance: predictions:{pytester.path}/cfg/data/vendor.jsonl on *"])


def test_a_missing_file_from_an_ini_file_is_named_by_its_absolute_path(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        "[pytest]\nconformance_dataset = nowhere/manifest.csv\nconformance_analyzer = predictions:x.jsonl\n"
    )
    pytester.makepyfile(test_it="def test_it(conformance_dataset):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"*conformance: manifest not found: {pytester.path}/nowhere/manifest.csv;*"])


def test_a_missing_file_on_the_command_line_names_the_absolute_path_tried(tmp_path: Path) -> None:
    done = cli(tmp_path, "run", "--dataset", "photos/manifest.csv", "--analyzer", "predictions:p.jsonl")
    assert done.returncode == 2
    assert f"manifest not found: {tmp_path}/photos/manifest.csv;" in done.stderr
    _manifest, _ = demo_copy(tmp_path / "photos", predictions=False)
    done = cli(tmp_path, "run", "--dataset", "photos/manifest.csv", "--analyzer", "predictions:vendor.jsonl")
    assert done.returncode == 2
    assert f"predictions file not found: vendor.jsonl (looked for {tmp_path}/vendor.jsonl)" in done.stderr


# -- item 11 ------------------------------------------------------------------------------------------------


def test_a_bare_conformance_shows_help_and_the_readme_commands_instead_of_running(tmp_path: Path) -> None:
    done = cli(tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: conformance")
    assert "pip install . && conformance run" in done.stdout
    assert 'pip install -e ".[test]" && python -m pytest' in done.stdout
    assert list(tmp_path.iterdir()) == []  # nothing run, nothing written


def test_compare_with_one_report_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text("{}")
    done = cli(tmp_path, "compare", "report.json")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("conformance compare: error: give two or more report.json files to compare")


def test_the_gate_alone_writes_reports(tmp_path: Path) -> None:
    base = cli(tmp_path, "run", "--report-dir", "base", "--checks", "misgender_gap")
    assert base.returncode == 1
    gate = cli(tmp_path, "run", "--checks", "misgender_gap", "--baseline", "base/report.json", "--", "-k", "regression")
    # The gate alone: its exit is the gate's (no regression), and the run's reports are written.
    assert gate.returncode == 0, gate.stdout
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text())
    assert report["regression"]["regressions"] == []
    assert [c["id"] for c in report["checks"]] == ["misgender_gap"]


def test_console_failure_tables_have_n_and_name_overconfidence(tmp_path: Path) -> None:
    done = cli(tmp_path, "run", "--checks", "confidence_calibration")
    header = next(line.split() for line in done.stdout.splitlines() if line.strip().startswith("group "))
    assert header == ["group", "photos", "subjects", "wrong", "n", "overconfidence", "95%", "CI"]
    # cis: 12 of 300 photos wrong; 300 photos with a label and a confidence.
    cis = next(line.split() for line in done.stdout.splitlines() if line.strip().startswith("cis "))
    assert cis[:5] == ["cis", "300", "75", "12", "300"]
    markdown = (tmp_path / "conformance-report" / "report.md").read_text()
    assert "| group | photos | subjects | wrong | n | overconfidence | 95% CI |" in markdown


def test_target_fmr_on_a_gender_run_says_it_is_ignored(tmp_path: Path) -> None:
    done = cli(tmp_path, "run", "--checks", "misgender_gap", "--target-fmr", "1e-3")
    note = "--target-fmr (ini conformance_target_fmr) applies to 1:1 comparison runs only"
    assert f"conformance: note: {note}" in done.stderr
    assert any(
        n.startswith(note) for n in json.loads((tmp_path / "conformance-report" / "report.json").read_text())["notes"]
    )


# -- item 12: reports respect the umask ---------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_reports_respect_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    cli(tmp_path, "run", "--checks", "misgender_gap", umask=umask)
    for name in ("report.json", "report.md", "report.html"):
        assert stat.S_IMODE((tmp_path / "conformance-report" / name).stat().st_mode) == mode, name
    # No temporary file is left beside them.
    assert sorted(p.name for p in (tmp_path / "conformance-report").iterdir()) == [
        "report.html",
        "report.json",
        "report.md",
    ]


def test_undisclosed_people_are_counted_in_report_md_and_html(tmp_path: Path) -> None:
    manifest, _ = demo_copy(tmp_path)
    with manifest.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # Two people (s001 and s002, with their photos) say "prefer not to say".
    hidden = {"s001", "s002"}
    for row in rows:
        if row["subject"] in hidden:
            row["gender_identity"], row["trans"] = "prefer not to say", "unknown"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    photos = sum(row["subject"] in hidden for row in rows)
    cli(tmp_path, "run", "--dataset", "manifest.csv", "--analyzer", "predictions:vendor.jsonl")
    text = f"2 people ({photos} photos) did not disclose a gender identity"
    assert f"- Undisclosed gender identity: {text}" in (tmp_path / "conformance-report" / "report.md").read_text()
    assert text in (tmp_path / "conformance-report" / "report.html").read_text()


def test_semicolon_and_capitalised_headers_are_named_as_the_cause(tmp_path: Path) -> None:
    manifest, _ = demo_copy(tmp_path)
    text = manifest.read_text(encoding="utf-8")
    (tmp_path / "semi.csv").write_text(text.replace(",", ";"), encoding="utf-8")
    header, rest = text.split("\n", 1)
    (tmp_path / "caps.csv").write_text(header.replace("photo", "Photo", 1) + "\n" + rest, encoding="utf-8")
    semi = cli(tmp_path, "run", "--dataset", "semi.csv", "--analyzer", "predictions:vendor.jsonl")
    assert semi.returncode == 2
    assert "the file looks semicolon-separated; save it comma-separated" in semi.stderr
    caps = cli(tmp_path, "run", "--dataset", "caps.csv", "--analyzer", "predictions:vendor.jsonl")
    assert caps.returncode == 2
    assert "missing required column photo: the header has 'Photo'" in caps.stderr
    assert "rename it to 'photo'" in caps.stderr


def test_comparing_a_gender_report_with_a_matching_report_says_they_measure_different_things(tmp_path: Path) -> None:
    cli(tmp_path, "run", "--checks", "misgender_gap", "--report-dir", "gender")
    cli(tmp_path, "run", "--demo-matching", "--report-dir", "search")
    done = cli(tmp_path, "compare", "gender/report.json", "search/report.json")
    assert done.returncode == 0, done.stderr
    assert "Nothing compared: these reports measure different things" in done.stdout
    assert "No figure differs" not in done.stdout
