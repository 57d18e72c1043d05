"""The kit's verdict decides the exit status, whatever a conftest tells pytest (red-team of issue 12, F12).

Before: an ``xfail`` marker that a conftest put on the kit's checks, or ``pytest.exit(returncode=0)``
from a conftest hook, made a run on failing data exit 0; a systematic failure under the plugin was a
fixture error (exit 1) where ``conformance run`` exits 2. The data here fail ``misgender_gap`` by
construction: 100 cis people all gendered right, 100 trans people of whom 50 are misgendered (50/100 =
0.5 against 0/100, far beyond the 0.05 tolerance whatever the interval), and every face found in both
groups, so ``detection_failure_gap`` passes (0/100 against 0/100: an interval within +-0.05).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

# pytester's inline runs forget modules first imported inside them, and numpy cannot load twice
# in one process: import the kit's heavy dependencies here, before any inline run.
import numpy  # noqa: F401
import pytest
import scipy.stats  # noqa: F401
import statsmodels.stats.proportion  # noqa: F401
from builders import people, write_dataset

from conformance.plugin import OPT_ANALYZER, OPT_CHECKS, OPT_DATASET, OPT_PROFILE, OPT_REPORT_DIR

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(manifest, predictions): misgender_gap fails, detection_failure_gap passes (see the module's docstring)."""
    shots = people("c", 100, identity="woman", trans="no")
    shots += people("t", 100, identity="woman", trans="yes", misgendered=50)
    return write_dataset(tmp_path_factory.mktemp("failing"), shots)


def _args(data: tuple[Path, Path], out: Path, *extra: str) -> list[str]:
    manifest, predictions = data
    return [
        "--pyargs",
        "conformance.suite",
        f"{OPT_DATASET}={manifest}",
        f"{OPT_ANALYZER}=predictions:{predictions}",
        f"{OPT_CHECKS}=misgender_gap,detection_failure_gap",
        f"{OPT_REPORT_DIR}={out}",
        "-p",
        "no:cacheprovider",
        *extra,
    ]


def _report(out: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return report


def test_the_plain_run_fails_with_exit_1(pytester: pytest.Pytester, failing: tuple[Path, Path]) -> None:
    """The baseline every other case here is held to: the data fail, the run exits 1."""
    result = pytester.runpytest(*_args(failing, pytester.path / "out"))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert _report(pytester.path / "out")["verdict"] == "fail"


def test_xfail_markers_from_a_conftest_do_not_hide_a_failing_check(
    pytester: pytest.Pytester, failing: tuple[Path, Path]
) -> None:
    pytester.makeconftest(
        """
        import pytest

        def pytest_collection_modifyitems(items):
            for item in items:
                item.add_marker(pytest.mark.xfail(reason="known bias, fix next quarter"))
        """
    )
    result = pytester.runpytest(*_args(failing, pytester.path / "out"))
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.assert_outcomes(failed=1, passed=1)  # misgender_gap fails and detection_failure_gap passes, as they are
    assert _report(pytester.path / "out")["verdict"] == "fail"


def test_a_strict_xfail_marker_does_not_fail_a_passing_check(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """The marker is ignored both ways: a check the data pass stays a pass (here the whole run passes)."""
    shots = people("c", 100, identity="woman", trans="no") + people("t", 100, identity="woman", trans="yes")
    data = write_dataset(tmp_path / "passing", shots)
    pytester.makeconftest(
        """
        import pytest

        def pytest_collection_modifyitems(items):
            for item in items:
                item.add_marker(pytest.mark.xfail(reason="expected to fail", strict=True))
        """
    )
    result = pytester.runpytest(*_args(data, pytester.path / "out", f"{OPT_CHECKS}=detection_failure_gap"))
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(passed=1)


def test_the_kits_own_xfail_of_an_inconclusive_check_still_exits_0(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """The ci profile's inconclusive = "xfail" is the kit's word, not a marker: 5 people a group decide nothing."""
    shots = people("c", 5, identity="woman", trans="no") + people("t", 5, identity="woman", trans="yes")
    data = write_dataset(tmp_path / "few", shots)
    result = pytester.runpytest(*_args(data, pytester.path / "out", f"{OPT_CHECKS}=misgender_gap", f"{OPT_PROFILE}=ci"))
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.assert_outcomes(xfailed=1)
    assert _report(pytester.path / "out")["verdict"] == "inconclusive"


def test_pytest_exit_0_from_a_conftest_before_any_check_is_not_exit_0(
    pytester: pytest.Pytester, failing: tuple[Path, Path]
) -> None:
    pytester.makeconftest(
        """
        import pytest

        def pytest_collection_modifyitems(items):
            pytest.exit("all good, go home", returncode=0)
        """
    )
    result = pytester.runpytest(*_args(failing, pytester.path / "out"))
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()


def test_pytest_exit_0_after_a_check_gives_an_incomplete_report_and_exit_1(
    pytester: pytest.Pytester, failing: tuple[Path, Path]
) -> None:
    """The first check (misgender_gap, in the order of the check ids) ran and failed; the run was cut after it.

    (A conftest's global hooks, as this one, apply to the kit's suite; its runtest hooks and fixtures do
    not, as the suite's tests live in the installed package, outside the conftest's folder.)
    """
    pytester.makeconftest(
        """
        import pytest

        def pytest_report_teststatus(report):
            if report.when == "call":
                pytest.exit("enough", returncode=0)
        """
    )
    result = pytester.runpytest(*_args(failing, pytester.path / "out"))
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    report = _report(pytester.path / "out")
    verdicts = {c["id"]: c["verdict"] for c in report["checks"]}
    assert verdicts == {"misgender_gap": "fail", "detection_failure_gap": "not run"}
    reason = next(c for c in report["checks"] if c["id"] == "detection_failure_gap")["notes"][0]
    assert reason == "not run: not reached: the run was interrupted (Exit: enough)"


def test_a_conftest_setting_the_exit_status_to_0_does_not_pass_failing_data(
    pytester: pytest.Pytester, failing: tuple[Path, Path]
) -> None:
    pytester.makeconftest(
        """
        def pytest_sessionfinish(session):
            session.exitstatus = 0
        """
    )
    result = pytester.runpytest(*_args(failing, pytester.path / "out"))
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()


def test_a_systematic_failure_under_the_plugin_exits_2_like_the_cli(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Every photo an error of one kind (request ids differ): a fault of the setup, exit 2 under pytest too."""
    manifest, predictions = write_dataset(tmp_path / "broken", people("c", 30, identity="woman", trans="no"))
    lines = predictions.read_text(encoding="utf-8").splitlines()
    broken = [lines[0]] + [
        json.dumps({"photo": json.loads(line)["photo"], "error": f"InternalServerError: request {n} failed"})
        for n, line in enumerate(lines[1:])
    ]
    predictions.write_text("\n".join(broken) + "\n", encoding="utf-8")
    result = pytester.runpytest(*_args((manifest, predictions), pytester.path / "out"))
    assert result.ret == 2, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "stopped: the last 20 photos all failed the same way (InternalServerError: request 19 failed; their "
            "messages differ only in ids and numbers: one kind of failure, 'InternalServerError'): *",
            "conformance verdict: NONE: the run stopped (exit 2)",
        ]
    )
    assert not (pytester.path / "out" / "report.json").exists()


def test_systematic_failures_set_in_pyproject_reaches_a_cli_run(tmp_path: Path) -> None:
    """``systematic_failures = 3`` in [tool.conformance]: three photos failing alike stop the run, at 3 not 20."""
    shots = people("c", 10, identity="woman", trans="no", errors=3) + people("t", 10, identity="woman", trans="yes")
    manifest, predictions = write_dataset(tmp_path / "data", shots)
    (tmp_path / "pyproject.toml").write_text("[tool.conformance]\nsystematic_failures = 3\n", encoding="utf-8")
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
        "conformance: error: stopped: the last 3 photos all failed the same way (ThrottlingException): a fault of the setup"
    ), done.stderr
    assert "raise systematic_failures (now 3; 0 never stops)" in done.stderr
