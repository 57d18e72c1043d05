"""Each check's results are computed once per run under pytest-xdist (issue 18 item 4, red team 18 F13).

Before, results were shared within a process only: under ``-n N`` the regression gate's worker computed
again every check the other workers had computed, ``misgender_gap``'s bootstrap included. Now the first
worker to need a check's results computes them and stores them in the run's share, sealed as the answers
are; the others (the gate's, a second test of the check) read them. What is in the share and was not
sealed by the run's workers, or is half written, is never read.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.plugin import OPT_BASELINE, OPT_DEMO, OPT_REPORT_DIR, _results_from
from conformance.results import CheckResult, Comparison, GroupRate
from conformance.run import sharing
from conformance.run.cache import EntryBounds
from conformance.run.sharing import Share

WHAT = ("options", "rekognition", "misgender_gap", "digest of the answers")
BOUNDS = EntryBounds.of(600, 12)  # the demo's: 600 photos, names of 12 characters at most


def _result(trans: int = 62) -> CheckResult:
    """A misgender_gap result with hand-made figures (trans 62 of 200, cis 12 of 300)."""
    return CheckResult(
        id="misgender_gap",
        verdict="fail",
        groups={
            "cis": GroupRate("cis", 300, 75, 12, 300, 0.04, (0.023, 0.069)),
            "trans": GroupRate("trans", 200, 50, trans, 200, trans / 200, (0.25, 0.38)),
        },
        comparisons=(
            Comparison("trans", "cis", trans / 200 - 0.04, (0.2, 0.33), 0.001, 0.001, 0.05, "fail", "Newcombe"),
        ),
        method="Newcombe",
        measure="misgender rate",
        reference="cis",
        confidence=0.95,
        notes=("a note",),
    )


class _Counted:
    """A check's computation that counts its calls."""

    def __init__(self, result: CheckResult | None = None) -> None:
        self.calls = 0
        self.result = result or _result()

    def __call__(self) -> list[CheckResult]:
        self.calls += 1
        return [self.result]


@pytest.fixture
def share(tmp_path: Path) -> Iterator[Share]:
    made = Share(str(tmp_path / "share"), "ab" * 32)
    Path(made.folder).mkdir()
    sharing.activate(made)
    yield made
    sharing.activate(None)


def _shared(compute: _Counted, what: tuple[str, ...] = WHAT) -> list[CheckResult]:
    return sharing.shared_results(
        what,
        compute,
        dump=lambda results: [r.to_dict() for r in results],
        load=lambda rows: _results_from(rows, "misgender_gap"),
        bounds=BOUNDS,
    )


def _entry(share: Share, what: tuple[str, ...] = WHAT) -> Path:
    return sharing._entry(share, sharing._key(("results", *what)))


def _notice(path: Path, problem: str) -> str:
    return (
        f"conformance: ignored the results shared by the run's workers, {path}: it {problem}; this worker works "
        "the results out itself\n"
    )


def test_the_first_worker_computes_a_checks_results_and_the_others_read_them_sealed(share: Share) -> None:
    first, second = _Counted(), _Counted(_result(trans=99))
    assert _shared(first) == [first.result]
    # Another worker of the run (the gate's): it reads the first one's results and computes nothing.
    assert _shared(second) == [first.result]
    assert (first.calls, second.calls) == (1, 0)
    seal, _, text = _entry(share).read_bytes().partition(b"\n")
    assert re.fullmatch(rb"[0-9a-f]{64}", seal)  # format 2: the seal on the first line, over the bytes after it
    document = json.loads(text)
    assert (document["format"], document["kind"]) == (2, "results")
    assert document["results"] == [first.result.to_dict()]


def test_outside_an_xdist_worker_the_results_are_computed_and_nothing_is_shared(tmp_path: Path) -> None:
    compute = _Counted()
    assert _shared(compute) == [compute.result]
    assert _shared(compute) == [compute.result]
    assert compute.calls == 2  # the plugin's per-process stash is what shares them within one process


@pytest.mark.parametrize("planted", ["unsealed", "another run's seal", "half written"])
def test_results_the_runs_workers_did_not_seal_whole_are_never_read(
    share: Share, planted: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A planted entry, a stale one from another run (sealed with its secret), and a truncated one (a writer
    killed mid-write, were it not for the atomic rename) are worked out again, quietly, as answers are."""
    forged = _Counted(_result(trans=0))
    _shared(forged)  # a genuine entry, with other figures: the base of the forgeries
    entry = _entry(share)
    data = entry.read_bytes()
    _, _, body = data.partition(b"\n")
    if planted == "unsealed":
        entry.write_bytes(body)
    elif planted == "another run's seal":
        other = Share(share.folder, "cd" * 32)
        entry.write_bytes(sharing._seal(other, body) + b"\n" + body)
    else:
        entry.write_bytes(data[: len(data) - 7])
    capsys.readouterr()
    compute = _Counted()
    assert _shared(compute) == [compute.result]
    assert compute.calls == 1
    assert capsys.readouterr().err == ""


def test_a_sealed_entry_that_holds_no_results_of_the_check_is_not_trusted(
    share: Share, capsys: pytest.CaptureFixture[str]
) -> None:
    other = _result()
    text = json.dumps(
        {
            "format": 2,
            "key": sharing._key(("results", *WHAT)),
            "kind": "results",
            "results": [{**other.to_dict(), "id": "detection_failure_gap"}],
        },
        separators=(",", ":"),
    )
    entry = _entry(share)
    entry.write_bytes(sharing._seal(share, text.encode("ascii")) + b"\n" + text.encode("ascii"))
    compute = _Counted()
    assert _shared(compute) == [compute.result]
    assert compute.calls == 1
    assert capsys.readouterr().err == _notice(entry, "does not hold a check's results (not misgender_gap's results)")


def test_a_sealed_results_entry_over_the_runs_bounds_is_ignored_with_the_notice(
    share: Share, capsys: pytest.CaptureFixture[str]
) -> None:
    sharing._write(share, sharing._key(("results", *WHAT)), {"kind": "results", "results": ["x" * 200]})
    entry = _entry(share)
    size = f"{entry.stat().st_size:,}"  # before this worker stores its own results there
    compute = _Counted()
    bounds = EntryBounds(size=100, values=1000, answers=1)
    got = sharing.shared_results(
        WHAT, compute, dump=lambda rs: [r.to_dict() for r in rs], load=lambda rows: [], bounds=bounds
    )
    assert got == [compute.result]
    assert capsys.readouterr().err == _notice(
        entry, f"is {size} bytes, over the 165 bytes the kit reads for shared results"
    )


def test_another_runs_results_in_the_same_folder_are_not_read(share: Share) -> None:
    """A second run at the same time has its own folder and secret; even given this run's folder, it reads
    none of this run's results, and this run none of its own."""
    mine = _Counted()
    _shared(mine)
    sharing.activate(Share(share.folder, "cd" * 32))
    theirs = _Counted(_result(trans=99))
    assert _shared(theirs) == [theirs.result]
    assert theirs.calls == 1


def test_a_failure_computing_a_check_is_shared_and_raised_again_alike(share: Share) -> None:
    from conformance.errors import ConformanceError

    calls = []

    def failing() -> list[CheckResult]:
        calls.append(1)
        raise ConformanceError("false_match_gap needs a face-matching dataset (a role column)")

    for _ in range(2):
        with pytest.raises(ConformanceError, match=r"^false_match_gap needs a face-matching dataset"):
            sharing.shared_results(WHAT, failing, dump=lambda rs: [], load=lambda rows: [], bounds=BOUNDS)
    assert calls == [1]


CHILD = """
import sys, time
from pathlib import Path
from conformance.run import sharing
from conformance.run.cache import EntryBounds

sharing.activate(sharing.Share(sys.argv[1], sys.argv[2]))

def compute():
    Path(sys.argv[3]).write_text("computing")
    time.sleep(120)
    return []

sharing.shared_results(sys.argv[4:], compute, dump=lambda r: r, load=lambda r: r, bounds=EntryBounds.of(1))
"""


def test_a_worker_killed_while_computing_leaves_nothing_another_reads(share: Share, tmp_path: Path) -> None:
    """The killed worker held the entry's lock; its death releases it, and the next worker computes."""
    started = tmp_path / "started"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, share.folder, share.secret, str(started), *WHAT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert not _entry(share).exists()
    compute = _Counted()
    assert _shared(compute) == [compute.result]
    assert compute.calls == 1


def test_results_read_from_the_share_say_what_the_computed_ones_say() -> None:
    """Every demo check (gender and 1:1 search), through the share's JSON and back: the same report entry,
    JUnit properties and failure table as the results computed in the process."""
    from conformance.assertions import assert_result
    from conformance.plugin import _junit_properties
    from conformance.results import deciding
    from conformance.run.context import RunOptions, check_results, load_context

    def table(results: list[CheckResult], inconclusive: str) -> str:
        try:
            assert_result(deciding(results), inconclusive=inconclusive, footer="footer")  # type: ignore[arg-type]
        except (AssertionError, pytest.skip.Exception, pytest.xfail.Exception) as exc:
            return f"{type(exc).__name__}: {exc}"
        return "passed"

    checked = []
    for options in (RunOptions(demo=True), RunOptions(demo_matching=True)):
        ctx = load_context(options)
        for check_id in ctx.checks:
            computed = check_results(ctx, check_id)
            read = _results_from(json.loads(json.dumps([r.to_dict() for r in computed])), check_id)
            assert [r.to_dict() for r in read] == [r.to_dict() for r in computed]
            assert [_junit_properties(r) for r in read] == [_junit_properties(r) for r in computed]
            inconclusive = ctx.policy.inconclusive
            assert table(read, inconclusive) == table(computed, inconclusive)
            checked.append(check_id)
    assert len(checked) == 8


# -- a whole run: pytest -n 2 with the gate, against the same run in one process -------------------------------

COUNTING = """
import os

import conformance.run.context as context

real = context.check_results


def counting(ctx, check_id):
    # One line a computation, appended by whichever process (worker) computes.
    fd = os.open("computed.txt", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{check_id} {os.getpid()}\\n".encode())
    finally:
        os.close(fd)
    return real(ctx, check_id)


def pytest_configure(config):
    context.check_results = counting
"""


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Not this process's xdist worker name, CI variables or added options: the child is a run of its own.
    dropped = ("GITHUB_STEP_SUMMARY", "CI", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("PYTEST_XDIST_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def gated_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo gated against a baseline of itself: in one process, then with two workers (counted)."""
    pytest.importorskip("xdist")
    root = tmp_path_factory.mktemp("gated")
    base = _pytest(root, "--pyargs", "conformance.suite", OPT_DEMO, f"{OPT_REPORT_DIR}=baseline")
    assert base.returncode == 1, base.stdout + base.stderr
    outputs: dict[str, Any] = {}
    for run, extra in (("-n 0", ()), ("-n 2", ("-n", "2", "-p", "xdist"))):
        if run == "-n 2":
            (root / "conftest.py").write_text(COUNTING, encoding="utf-8")
        args = [*extra, "--pyargs", "conformance.suite", OPT_DEMO, f"{OPT_BASELINE}=baseline/report.json"]
        # The same paths both times, so that the reports differ by what differs between the runs only.
        done = _pytest(root, *args, f"{OPT_REPORT_DIR}=out", "--junitxml=out/junit.xml")
        assert done.returncode == 1, done.stdout + done.stderr
        assert "5 failed, 1 passed, 1 skipped" in done.stdout, done.stdout  # the gate passes: no regression
        outputs[run] = {name: (root / "out" / name).read_text(encoding="utf-8") for name in _OUTPUTS}
    outputs["computed"] = (root / "computed.txt").read_text(encoding="utf-8").split("\n")[:-1]
    return outputs


_OUTPUTS = ("report.json", "report.md", "report.html", "junit.xml")


def test_under_xdist_with_the_gate_each_check_is_computed_once_per_run(gated_runs: dict[str, Any]) -> None:
    """Red team 18 F13: before, the gate's worker computed again every check the other worker had computed
    (two or three of the six checks twice a run, whichever the other worker had been given)."""
    computed = [line.split() for line in gated_runs["computed"]]
    counts = Counter(check_id for check_id, _ in computed)
    assert counts == {
        "misgender_gap": 1,
        "nonbinary_representability": 1,
        "same_person_consistency": 1,
        "transformation_invariance": 1,
        "confidence_calibration": 1,
        "detection_failure_gap": 1,
    }


def _same_run(text: str) -> str:
    """What differs between the two runs by construction: when each was written, and the ``-n 2`` it was run with."""
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", "WHEN", text)
    text = re.sub(r'"-n",\s*"2",\s*"-p",\s*"xdist",\s*', "", text)
    return text.replace("-n 2 -p xdist ", "")


def _junit(text: str) -> Any:
    """The JUnit XML's suites, properties and test cases, test cases by name (workers finish in any order),
    without times, timestamps and host names."""
    suite = ET.fromstring(text).find("testsuite")
    assert suite is not None

    def element(e: ET.Element) -> Any:
        attributes = sorted(
            (k, _same_run(v)) for k, v in e.attrib.items() if k not in ("time", "timestamp", "hostname")
        )
        return (e.tag, attributes, _same_run(e.text or "").strip(), sorted(element(c) for c in e))

    return element(suite)


@pytest.mark.parametrize("name", _OUTPUTS)
def test_under_xdist_with_the_gate_the_outputs_are_those_of_one_process(gated_runs: dict[str, Any], name: str) -> None:
    one, two = gated_runs["-n 0"][name], gated_runs["-n 2"][name]
    if name == "junit.xml":
        assert _junit(two) == _junit(one)
    else:
        assert _same_run(two) == _same_run(one)
