"""Issue 14's red team on the ``python:`` adapter: models that end the process, move the working
directory, are ``async``, answer for another photo, or answer differently under pytest-xdist.

Each case is run as a user runs it (the ``conformance`` command, or pytest in a subprocess, with
its real exit status). The expected counts are worked out here from what each model is written to
answer, never read back from the kit: a model that says ``Male`` for every photo of a dataset of
women misgenders every one of them; one that is called once per photo writes one line per photo.
"""

from __future__ import annotations

import csv
import gc
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

# pytester's inline runs forget modules first imported inside them, and numpy cannot load twice
# in one process: import the kit's heavy dependencies here, before any inline run.
import numpy  # noqa: F401
import pytest
import scipy.stats  # noqa: F401
import statsmodels.stats.proportion  # noqa: F401
from PIL import Image

from conformance import AdapterError, Dataset, load_dataset
from conformance.adapters.python import ModelExit, WorkingDirectoryWarning, analyzer_from, create
from conformance.plugin import OPT_ANALYZER, OPT_CHECKS, OPT_DATASET
from conformance.run.runner import analyze_dataset

pytest_plugins = ["pytester"]

VOCABULARY = 'VOCABULARY = {"Female": "woman", "Male": "man"}\n'
ANSWER = '{"faces": [{"gender": "Female", "confidence": 90.0}]}'


def write_project(root: Path, people: int = 6, *, identity: str = "") -> Path:
    """``people`` people with one photo each (a distinct 8x8 PNG): cis women and men alternately, or all ``identity``."""
    (root / "photos" / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(people):
        photo = f"img/{i + 1:03d}.png"
        Image.new("RGB", (8, 8), ((7 * i) % 256, (13 * i) % 256, (29 * i) % 256)).save(root / "photos" / photo)
        trans = ("no", "yes")[i % 2] if identity else "no"
        rows.append([photo, f"s{i}", identity or ("woman", "man")[i % 2], trans])
    with (root / "photos" / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo", "subject", "gender_identity", "trans"])
        writer.writerows(rows)
    return root / "photos" / "manifest.csv"


def module(root: Path, name: str, source: str) -> None:
    (root / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")


def environment() -> dict[str, str]:
    # The suite itself may run under xdist: a child must not inherit this worker's name (PYTEST_XDIST_WORKER=gw1
    # made conformance run's own process look like worker gw1 to the moody model below).
    dropped = ("GITHUB_STEP_SUMMARY", "CI", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")
    return {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("PYTEST_XDIST_")}


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment(),
        check=False,
    )


def pytest_run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=environment(),
        check=False,
    )


def calls(log: Path) -> list[str]:
    return [line for line in log.read_text(encoding="utf-8").splitlines() if line] if log.exists() else []


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    return load_dataset(write_project(tmp_path / "unit"))


# -- s04: a model that calls sys.exit() stops the run, with no verdict, however it is run --------------------


@pytest.mark.parametrize(("code", "shown"), [("0", "sys.exit(0)"), ("3", "sys.exit(3)"), ("'bye'", "sys.exit('bye')")])
def test_cli_a_model_calling_sys_exit_is_an_error_naming_it_not_a_silent_exit_0(
    tmp_path: Path, code: str, shown: str
) -> None:
    write_project(tmp_path)
    module(tmp_path, "clitool", f"{VOCABULARY}import sys\n\ndef analyze(path):\n    sys.exit({code})\n")
    done = cli(tmp_path, "run", "--dataset", "photos/manifest.csv", "--analyzer", "python:clitool:analyze")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.startswith(
        f"conformance: error: python:clitool:analyze called {shown} at clitool.py line 5 on photo img/001.png: "
        "a model under audit must return an answer, not end the process, so the run stopped with no verdict"
    ), done.stderr
    assert not (tmp_path / "conformance-report").exists()


@pytest.mark.parametrize("executor", ["threads:2", "processes:2"])
def test_cli_sys_exit_stops_the_run_from_threads_and_worker_processes(tmp_path: Path, executor: str) -> None:
    write_project(tmp_path)
    module(tmp_path, "clitool", f"{VOCABULARY}import sys\n\ndef analyze(path):\n    sys.exit(0)\n")
    done = cli(
        tmp_path,
        "run",
        "--dataset",
        "photos/manifest.csv",
        "--analyzer",
        "python:clitool:analyze",
        "--executor",
        executor,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "conformance: error: python:clitool:analyze called sys.exit(0) at clitool.py line 5 on photo" in done.stderr
    assert not (tmp_path / "conformance-report").exists()


def test_pytest_a_model_calling_sys_exit_stops_the_run_with_exit_2(tmp_path: Path) -> None:
    write_project(tmp_path)
    module(tmp_path, "clitool", f"{VOCABULARY}import sys\n\ndef analyze(path):\n    sys.exit(0)\n")
    module(
        tmp_path,
        "test_mine",
        """
        from conformance import assert_no_misgender_gap

        def test_gap(conformance_observations):
            assert_no_misgender_gap(conformance_observations)
        """,
    )
    done = pytest_run(tmp_path, f"{OPT_DATASET}=photos/manifest.csv", f"{OPT_ANALYZER}=python:clitool:analyze")
    assert done.returncode == 2, done.stdout
    assert "python:clitool:analyze called sys.exit(0) at clitool.py line 5 on photo img/001.png" in done.stdout
    assert "conformance verdict: NONE: the run stopped (exit 2)" in done.stdout
    assert not (tmp_path / "conformance-report").exists()


def test_sys_exit_from_a_function_or_a_batch_is_a_model_exit_naming_the_line(dataset: Dataset) -> None:
    def analyze(path: Path) -> dict[str, Any]:
        raise SystemExit(0)

    def batch(paths: list[Path]) -> list[dict[str, Any]]:
        raise SystemExit("no GPU")

    for function, shown in ((analyze, "sys.exit(0)"), (batch, "sys.exit('no GPU')")):
        analyzer = analyzer_from(function, dataset=dataset, vocabulary={"Female": "woman"})
        with pytest.raises(ModelExit, match=r"called " + shown.replace("(", r"\(").replace(")", r"\)")) as raised:
            analyzer.analyze(dataset.photos[0])
        assert f"at {Path(__file__).name} line" in str(raised.value)
        assert "on photo img/001.png" in str(raised.value)


# -- s05: a module with side effects: a script's argparse at import, os.chdir() while analysing ------------------


ARGPARSE_MODEL = f"""{VOCABULARY}import argparse

parser = argparse.ArgumentParser()
ARGUMENT
ARGS = parser.parse_args()  # line 6: a script's code, run when the module is imported


def analyze(path):
    return {ANSWER}
"""


@pytest.mark.parametrize("spec", ["python:script_model:analyze", "python:script_model.py:analyze"])
def test_a_script_parsing_its_command_line_at_import_gets_none_of_the_kits(tmp_path: Path, spec: str) -> None:
    write_project(tmp_path)
    module(tmp_path, "script_model", ARGPARSE_MODEL.replace("ARGUMENT", ""))
    done = cli(tmp_path, "run", "--dataset", "photos/manifest.csv", "--analyzer", spec)
    # Three women and three men are too few to decide: inconclusive, exit 1, with every photo analysed.
    assert done.returncode == 1, done.stderr
    assert "conformance: 6 photos: 6 analysed, 0 no face, 0 error" in done.stderr
    assert "unrecognized arguments" not in done.stderr


REQUIRED = "parser.add_argument('--weights', required=True)"


@pytest.mark.parametrize("spec", ["python:script_model:analyze", "python:script_model.py:analyze"])
def test_a_script_exiting_at_import_is_named_as_the_source_of_the_message(tmp_path: Path, spec: str) -> None:
    write_project(tmp_path)
    module(tmp_path, "script_model", ARGPARSE_MODEL.replace("ARGUMENT", REQUIRED))
    done = cli(tmp_path, "run", "--dataset", "photos/manifest.csv", "--analyzer", spec)
    assert done.returncode == 2, done.stderr
    ours, said = done.stderr.splitlines()
    # argparse's own lines name the user's script, not `conformance`; the kit's line says where they came from.
    # Under conformance run they are kept out of the console, in the report folder (rt14d F6).
    log = tmp_path / "conformance-report" / "model-output.log"
    usage, error = log.read_text(encoding="utf-8").splitlines()
    assert usage.startswith("usage: script_model")
    assert "the following arguments are required: --weights" in error
    what = "script_model" if spec.count(":") == 2 and ".py" not in spec else str(tmp_path / "script_model.py")
    assert ours.startswith(
        f"conformance: error: {spec}: importing {what} called sys.exit(2) at script_model.py line 6, so the model was "
        f"never loaded and the run stopped with no verdict (any usage or error message it printed came from {what}, "
        f"not from the kit: see {log})"
    ), ours
    assert said.startswith("conformance: the model wrote 2 lines to stdout and stderr while importing"), said
    assert ours.endswith('put the code that runs it as a script under if __name__ == "__main__":')


def test_pytest_a_module_exiting_at_import_stops_the_run_with_exit_2(tmp_path: Path) -> None:
    write_project(tmp_path)
    module(tmp_path, "script_model", ARGPARSE_MODEL.replace("ARGUMENT", REQUIRED))
    module(tmp_path, "test_mine", "def test_it(conformance_observations):\n    pass\n")
    done = pytest_run(tmp_path, f"{OPT_DATASET}=photos/manifest.csv", f"{OPT_ANALYZER}=python:script_model:analyze")
    assert done.returncode == 2, done.stdout
    assert "python:script_model:analyze: importing script_model called sys.exit(2) at script_model.py line 6" in (
        done.stdout
    )


def test_a_model_changing_the_working_directory_leaves_the_reports_where_the_run_started(tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_project(project)
    source = (
        f"{VOCABULARY}import os\n\n\n"  # analyze is on line 5
        f"def analyze(path):\n    os.chdir({str(elsewhere)!r})  # e.g. a library finding its weights\n"
        f"    return {ANSWER}\n"
    )
    module(project, "wandering", source)
    done = cli(project, "run", "--dataset", "photos/manifest.csv", "--analyzer", "python:wandering:analyze")
    assert done.returncode == 1, done.stderr
    assert (project / "conformance-report" / "report.json").is_file()
    assert not list(elsewhere.rglob("*"))
    assert "reports: conformance-report/report.json" in done.stdout
    # One warning for the run, pointing at the function, not one per photo.
    assert done.stderr.count("WorkingDirectoryWarning") == 1, done.stderr
    assert (
        f"wandering.py:5: WorkingDirectoryWarning: conformance: python:wandering:analyze (on photo img/001.png) "
        f"changed the working directory to {elsewhere}; the kit changed it back to {project}"
    ) in done.stderr


def test_a_module_changing_the_working_directory_while_importing_is_changed_back(
    tmp_path: Path, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights").mkdir()
    module(
        tmp_path,
        "loads_weights",
        f"{VOCABULARY}import os\nos.chdir('weights')\n\ndef analyze(path):\n    return {ANSWER}\n",
    )
    with pytest.warns(WorkingDirectoryWarning, match=r"importing \S+loads_weights.py changed the working directory to"):
        create("loads_weights.py:analyze", dataset=dataset)
    assert Path.cwd() == tmp_path


def test_the_working_directory_is_changed_back_after_each_call_with_one_warning(
    tmp_path: Path, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    visited: list[Path] = []

    def analyze(path: Path) -> dict[str, Any]:
        visited.append(Path.cwd())
        os.chdir(path.parent)
        return {"faces": [{"gender": "Female", "confidence": 90.0}]}

    analyzer = analyzer_from(analyze, dataset=dataset, vocabulary={"Female": "woman"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for photo in dataset.photos[:3]:
            assert analyzer.analyze(photo).outcome == "analysed"
    assert visited == [tmp_path] * 3  # every call started where the run did
    assert Path.cwd() == tmp_path
    assert [w.category for w in caught] == [WorkingDirectoryWarning]


# -- s03: an async function; an answer naming another photo ------------------------------------------------------


def test_cli_an_async_function_is_refused_before_any_call(tmp_path: Path) -> None:
    write_project(tmp_path)
    module(tmp_path, "async_fn", f"{VOCABULARY}async def analyze(path):\n    return {ANSWER}\n")
    done = cli(tmp_path, "run", "--dataset", "photos/manifest.csv", "--analyzer", "python:async_fn:analyze")
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "conformance: error: python:async_fn:analyze: async_fn:analyze is an async def function; async functions are "
        "not supported, the kit calls the function and cannot await it; wrap it with asyncio.run: def analyze(path): "
        "return asyncio.run(analyze_async(path)) (docs/how-to/python-model.md)\n"
    )


def test_async_callables_are_refused_and_a_returned_coroutine_is_closed(dataset: Dataset) -> None:
    async def analyze(path: Path) -> dict[str, Any]:
        return {"faces": []}

    class Model:
        async def __call__(self, path: Path) -> dict[str, Any]:
            return {"faces": []}

    for model in (analyze, Model()):
        with pytest.raises(AdapterError, match="is an async def function; async functions are not supported"):
            analyzer_from(model, dataset=dataset, vocabulary={"Female": "woman"})

    def hides_it(path: Path) -> Any:
        return analyze(path)  # a sync wrapper that forgot asyncio.run

    analyzer = analyzer_from(hides_it, dataset=dataset, vocabulary={"Female": "woman"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        observation = analyzer.analyze(dataset.photos[0])
        gc.collect()
    assert observation.outcome == "error"
    assert "returned a coroutine: async functions are not supported" in observation.reason
    assert "wrap it with asyncio.run" in observation.reason
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_pytest_an_async_fixture_model_is_refused_without_a_leaked_warning(pytester: pytest.Pytester) -> None:
    manifest = write_project(pytester.path)
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def conformance_model():
            async def f(path):
                return {"faces": []}
            return f
        """
    )
    pytester.makepyfile(test_mine="def test_it(conformance_observations):\n    pass\n")
    result = pytester.runpytest(f"{OPT_DATASET}={manifest}", "-p", "no:cacheprovider", "-W", "default")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*is an async def function; async functions are not supported*asyncio.run*"])
    assert "never awaited" not in result.stdout.str()


def test_an_answer_naming_another_photo_is_that_photos_error_naming_both(dataset: Dataset) -> None:
    def analyze(path: Path) -> dict[str, Any]:
        return {"photo": "img/001.png", "faces": [{"gender": "Male", "confidence": 90.0}]}

    def echoes(path: Path) -> dict[str, Any]:
        return {"photo": str(path), "faces": [{"gender": "Male", "confidence": 90.0}]}

    records = analyze_dataset(analyzer_from(analyze, dataset=dataset, vocabulary={"Male": "man"}), dataset).records
    # Its own photo's answer is that photo's; the five others answer for img/001.png.
    assert [r.outcome for r in records] == ["analysed"] + ["error"] * 5
    assert records[1].reason == (
        "photo img/002.png: python:test_python_model_hostile:test_an_answer_naming_another_photo_is_that_photos_error_"
        "naming_both.<locals>.analyze returned an answer for photo 'img/001.png' (its \"photo\" key), not for "
        'img/002.png: each call answers the photo it was given, in the same order for a batch; drop "photo" from '
        "the answer"
    )
    echoed = analyze_dataset(analyzer_from(echoes, dataset=dataset, vocabulary={"Male": "man"}), dataset).records
    assert [r.outcome for r in echoed] == ["analysed"] * 6  # the path it was given names its own photo


# -- s11: a conftest fixture used wrongly is named, with the way out ---------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        (
            "@pytest.fixture(scope='session')\ndef conformance_model():\n    return None\n",
            "conformance: the conformance_model fixture returned None, and no analyzer is named: return the model to "
            "audit from it*or name one with --conformance-analyzer (ini conformance_analyzer)",
        ),
        (
            "@pytest.fixture\ndef conformance_model():\n    return lambda path: {'faces': []}\n",
            "conformance: the conformance_model fixture must be session-scoped: the model is loaded, and every photo "
            'analysed, once per run. Declare it @pytest.fixture(scope="session")*',
        ),
    ],
    ids=["returns None", "function scope"],
)
def test_a_conformance_model_fixture_used_wrongly_is_named(
    pytester: pytest.Pytester, fixture: str, message: str
) -> None:
    manifest = write_project(pytester.path)
    pytester.makeconftest("import pytest\n\n" + fixture)
    pytester.makepyfile(test_mine="def test_it(conformance_observations):\n    pass\n")
    result = pytester.runpytest(f"{OPT_DATASET}={manifest}", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([message])
    assert "ScopeMismatch" not in result.stdout.str()


def test_a_fixture_returning_none_still_means_the_named_analyzer(pytester: pytest.Pytester) -> None:
    manifest = write_project(pytester.path)
    pytester.syspathinsert()
    module(pytester.path, "steady", f"{VOCABULARY}def analyze(path):\n    return {ANSWER}\n")
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture(scope='session')\ndef conformance_model():\n    return None\n"
    )
    pytester.makepyfile(
        test_mine="def test_it(conformance_observations):\n    assert conformance_observations.analyzer['name'] == "
        "'steady:analyze'\n"
    )
    result = pytester.runpytest(f"{OPT_DATASET}={manifest}", f"{OPT_ANALYZER}=python:steady:analyze")
    result.assert_outcomes(passed=1)


# -- s17, s16: under pytest-xdist, one run calls the model once per photo and every check uses those answers ----


MOODY = """import os


def analyze(path):
    # A model whose answers vary between calls (sampling, dropout at inference, a live service), made visible:
    # each worker process would get its own answers.
    with open(LOG, "a") as handle:
        handle.write(f"{os.getpid()} {path.name}\\n")
    label = "Male" if os.environ.get("PYTEST_XDIST_WORKER") == "gw1" else "Female"
    return {"faces": [{"gender": label, "confidence": 90.0}]}
"""
MOODY_TESTS = """
from conformance import assert_no_misgender_gap

def test_gap(conformance_observations):
    assert_no_misgender_gap(conformance_observations)

def test_calibration(conformance_check):
    conformance_check("confidence_calibration")
"""
PEOPLE = 40  # women: 20 cis, 20 trans


def moody_project(root: Path) -> Path:
    write_project(root, PEOPLE, identity="woman")
    module(root, "moody", f"{VOCABULARY}LOG = {str(root / 'calls.log')!r}\n{MOODY}")
    module(root, "test_mine", MOODY_TESTS)
    return root / "calls.log"


def misgendered(check: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {group: (entry["count"], entry["n"]) for group, entry in check["groups"].items()}


def test_xdist_workers_share_one_set_of_answers_and_call_the_model_once_per_photo(tmp_path: Path) -> None:
    log = moody_project(tmp_path)
    # --dist each: both workers run both tests, so both need the observations.
    done = pytest_run(
        tmp_path,
        "-n",
        "2",
        "--dist",
        "each",
        f"{OPT_DATASET}=photos/manifest.csv",
        f"{OPT_ANALYZER}=python:moody:analyze",
        f"{OPT_CHECKS}=misgender_gap,confidence_calibration",
        "test_mine.py",
    )
    assert len(calls(log)) == PEOPLE, done.stdout  # one call per photo, not one per photo and worker
    assert len({line.split()[0] for line in calls(log)}) == 1
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text())
    labels = {photo["label"] for photo in report["photos"]}
    assert len(labels) == 1, labels  # one worker's answers: every woman Female, or every woman Male
    wrong = PEOPLE // 2 if labels == {"Male"} else 0  # per group (cis, trans) of 20 women
    checks = {check["id"]: check for check in report["checks"]}
    assert misgendered(checks["misgender_gap"]) == {"cis": (wrong, 20), "trans": (wrong, 20)}
    assert misgendered(checks["confidence_calibration"]) == {"cis": (wrong, 20), "trans": (wrong, 20)}


def test_xdist_workers_that_answered_differently_give_no_verdict(tmp_path: Path) -> None:
    log = moody_project(tmp_path)
    # Each worker loses the run's shared folder before it analyses: it works alone, as when the folder
    # cannot be used. The controller still sees two sets of answers and refuses to build a verdict on them.
    module(
        tmp_path,
        "conftest",
        """
        import shutil

        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_configure(config):
            share = getattr(config, "workerinput", {}).get("conformance_share")
            if share:
                shutil.rmtree(share["folder"], ignore_errors=True)
        """,
    )
    done = pytest_run(
        tmp_path,
        "-n",
        "2",
        "--dist",
        "each",
        f"{OPT_DATASET}=photos/manifest.csv",
        f"{OPT_ANALYZER}=python:moody:analyze",
        f"{OPT_CHECKS}=misgender_gap,confidence_calibration",
        "test_mine.py",
    )
    assert len(calls(log)) == 2 * PEOPLE  # each worker analysed every photo itself
    assert done.returncode == 2, done.stdout
    out = " ".join(done.stdout.split())
    first, second = ("gw0", "gw1") if "workers gw0 and gw1" in out else ("gw1", "gw0")
    said = {"gw0": "'Female'", "gw1": "'Male'"}
    assert (
        f"the pytest-xdist workers {first} and {second} got different answers from python:moody:analyze "
        f"for the same photos (photo img/001.png: {said[first]} on {first}, {said[second]} on {second}); a report "
        "built on both would mix checks computed from different answers, so this run gives no verdict. Run it "
        "without -n (or with -p no:xdist), or make the model deterministic"
    ) in out
    assert "conformance verdict: NONE: the run stopped (exit 2)" in out
    assert not (tmp_path / "conformance-report").exists()


def test_xdist_workers_stop_alike_on_a_model_exit_without_calling_it_again(tmp_path: Path) -> None:
    write_project(tmp_path)
    log = tmp_path / "calls.log"
    module(
        tmp_path,
        "clitool",
        f"{VOCABULARY}import sys\n\ndef analyze(path):\n    open({str(log)!r}, 'a').write('call\\n')\n    sys.exit(0)\n",
    )
    module(tmp_path, "test_mine", "def test_a(conformance_observations):\n    pass\n")
    done = pytest_run(
        tmp_path,
        "-n",
        "2",
        "--dist",
        "each",
        f"{OPT_DATASET}=photos/manifest.csv",
        f"{OPT_ANALYZER}=python:clitool:analyze",
        "test_mine.py",
    )
    assert done.returncode == 2, done.stdout
    assert len(calls(log)) == 1  # the first worker's one call; the other read how it ended
    assert done.stdout.count("python:clitool:analyze called sys.exit(0) at clitool.py line 6 on photo img/001.png") >= 2


def test_cli_under_xdist_the_workers_take_the_answers_conformance_run_made(tmp_path: Path) -> None:
    log = moody_project(tmp_path)
    done = cli(
        tmp_path,
        "run",
        "--dataset",
        "photos/manifest.csv",
        "--analyzer",
        "python:moody:analyze",
        "--checks",
        "misgender_gap,confidence_calibration",
        "--",
        "-n",
        "2",
    )
    assert len(calls(log)) == PEOPLE, (done.stdout, done.stderr)  # conformance run's own calls, before pytest
    assert {line.split()[0] for line in calls(log)} == {str(calls(log)[0].split()[0])}
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text())
    # No worker is gw1 in conformance run's own process: every woman was called Female.
    assert {photo["label"] for photo in report["photos"]} == {"Female"}
    assert misgendered(next(c for c in report["checks"] if c["id"] == "misgender_gap")) == {
        "cis": (0, 20),
        "trans": (0, 20),
    }


# -- rt14c F3: conformance run is isolated from the project's conftest.py; the command line's analyzer wins ------

BROKEN_FIXTURE = """
import pytest

def pytest_collection_modifyitems(config, items):
    keep = [i for i in items if "misgender_gap" in i.name]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep

@pytest.fixture(autouse=True)
def _project_fixture():
    print("PROJECT AUTOUSE FIXTURE RAN")

@pytest.fixture(scope="session")
def conformance_model():
    raise RuntimeError("weights/model.onnx not found")
"""


def test_cli_runs_the_built_in_suite_without_the_projects_conftest(tmp_path: Path) -> None:
    write_project(tmp_path)
    module(tmp_path, "steady", VOCABULARY + f"def analyze(path):\n    return {ANSWER}\n")
    (tmp_path / "conftest.py").write_text(BROKEN_FIXTURE, encoding="utf-8")
    args = ("run", "--dataset", "photos/manifest.csv", "--analyzer", "python:steady:analyze")
    done = cli(tmp_path, *args, "--", "-s")
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text(encoding="utf-8"))
    # Every check ran (none deselected by the project's hook, none broken by its fixture) ...
    assert [c["verdict"] for c in report["checks"] if c["verdict"] == "not run"] == []
    assert "weights/model.onnx" not in done.stdout + done.stderr
    assert "PROJECT AUTOUSE FIXTURE RAN" not in done.stdout
    # ... and a project that wants its conftest.py in the suite says so.
    opted = cli(tmp_path, *args, "--project-conftest", "--", "-s")
    assert "PROJECT AUTOUSE FIXTURE RAN" in opted.stdout


def test_pytest_an_analyzer_named_on_the_command_line_never_evaluates_the_fixture(pytester: pytest.Pytester) -> None:
    manifest = write_project(pytester.path)
    pytester.syspathinsert()
    module(pytester.path, "steady", VOCABULARY + f"def analyze(path):\n    return {ANSWER}\n")
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture(scope='session')\ndef conformance_model():\n"
        "    raise RuntimeError('weights/model.onnx not found')\n"
    )
    pytester.makepyfile(
        test_mine="def test_it(conformance_observations):\n"
        "    assert conformance_observations.analyzer['name'] == 'steady:analyze'\n"
    )
    result = pytester.runpytest(f"{OPT_DATASET}={manifest}", f"{OPT_ANALYZER}=python:steady:analyze")
    result.assert_outcomes(passed=1)


# -- rt14c F4: a model that ends the run some other way never reads as a check failing, or as a pass -------------


@pytest.mark.parametrize(
    ("source", "named"),
    [
        (
            "class Stop(BaseException):\n    pass\n\ndef analyze(path):\n    raise Stop('model gave up')\n",
            "stopper.Stop('model gave up')",
        ),
        (
            "import asyncio\n\ndef analyze(path):\n    raise asyncio.CancelledError('timed out upstream')\n",
            "asyncio.CancelledError('timed out upstream')",
        ),
    ],
    ids=["custom BaseException", "CancelledError"],
)
def test_cli_a_base_exception_from_the_model_stops_the_run_with_exit_2(tmp_path: Path, source: str, named: str) -> None:
    write_project(tmp_path)
    module(tmp_path, "stopper", VOCABULARY + source)
    done = cli(tmp_path, "run", "--dataset", "photos/manifest.csv", "--analyzer", "python:stopper:analyze")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"raised {named}" in done.stderr
    assert "on photo img/001.png" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_an_exception_whose_str_fails_is_that_photos_error(tmp_path: Path) -> None:
    write_project(tmp_path)
    module(
        tmp_path,
        "weird",
        VOCABULARY + "class Weird(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n\n"
        f"def analyze(path):\n    if path.name == '002.png':\n        raise Weird()\n    return {ANSWER}\n",
    )
    done = cli(tmp_path, "run", "--dataset", "photos/manifest.csv", "--analyzer", "python:weird:analyze")
    assert done.returncode == 1, done.stdout + done.stderr  # the checks' verdict: too few people
    assert "Traceback" not in done.stderr
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text(encoding="utf-8"))
    errors = [p for p in report["photos"] if p["outcome"] == "error"]
    assert [p["photo"] for p in errors] == ["img/002.png"]
    assert "Weird: (its message could not be printed: str() raised RuntimeError)" in errors[0]["reason"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import os\n\ndef analyze(path):\n    os._exit(0)\n", 2),
        (f"import atexit, os\natexit.register(lambda: os._exit(0))\n\ndef analyze(path):\n    return {ANSWER}\n", 1),
    ],
    ids=["os._exit(0) in a call", "os._exit(0) from atexit after the verdict"],
)
def test_cli_a_model_ending_the_process_never_exits_0(tmp_path: Path, source: str, expected: int) -> None:
    write_project(tmp_path)
    module(tmp_path, "ender", VOCABULARY + source)
    done = cli(tmp_path, "run", "--dataset", "photos/manifest.csv", "--analyzer", "python:ender:analyze")
    # 2: no verdict (the process ended mid-run); 1: the run's own verdict (too few people), not the 0 it ended with.
    assert done.returncode == expected, done.stdout + done.stderr
    if expected == 2:
        assert "the run ended before it finished, with exit status 0 and no verdict" in done.stderr
    else:
        assert "the process ended with exit status 0 after the run had decided 1" in done.stderr


# -- rt14c F11: a functools.partial of a model keeps its module's declarations --------------------------------


def test_a_partial_of_the_models_function_reads_its_modules_declarations(
    tmp_path: Path, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functools
    import importlib

    module(
        tmp_path,
        "partialmodel",
        'NAME = "My model"\nVERSION = "3.1"\n'
        'VOCABULARY = {"Female": "woman", "Male": "man", "Nonbinary": "nonbinary"}\n\n'
        "def analyze(path, threshold=0.9):\n"
        '    return {"faces": [{"gender": "Female", "confidence": 90.0}]}\n',
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    mymodel = importlib.import_module("partialmodel")
    model = functools.partial(functools.partial(mymodel.analyze, threshold=0.5))
    described = analyzer_from(model, dataset=dataset).describe()
    assert (described["name"], described["version"]) == ("My model", "3.1")
    assert described["vocabulary"]["labels"] == {"Female": "woman", "Male": "man", "Nonbinary": "nonbinary"}


def test_cli_ctrl_c_on_a_python_model_says_nothing_was_recorded(tmp_path: Path) -> None:
    import signal
    import time

    write_project(tmp_path)
    started = tmp_path / "started"
    module(
        tmp_path,
        "slow",
        VOCABULARY + f"import time\nfrom pathlib import Path\n\ndef analyze(path):\n"
        f"    Path({str(started)!r}).touch()\n    time.sleep(60)\n    return {ANSWER}\n",
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--dataset",
            "photos/manifest.csv",
            "--analyzer",
            "python:slow:analyze",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )
    deadline = time.monotonic() + 120
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "interrupted (Ctrl-C); nothing is recorded for python:slow:analyze: run the same command again" in err
    assert "recorded so far is kept" not in err


# -- rt14c F16: a model cannot silence the kit's console at import -------------------------------------------


@pytest.mark.parametrize(
    ("head", "replaced"),
    [
        ("import io, sys\nsys.stdout = io.StringIO()\n" + VOCABULARY, "sys.stdout or sys.stderr"),
        ('import warnings\nwarnings.simplefilter("ignore")\n', "the warnings filters"),
    ],
    ids=["stdout swapped", "warnings ignored"],
)
def test_cli_a_model_silencing_the_console_at_import_is_undone_and_said(
    tmp_path: Path, head: str, replaced: str
) -> None:
    write_project(tmp_path)
    module(tmp_path, "quiet", head + f"\ndef analyze(path):\n    return {ANSWER}\n")
    done = cli(tmp_path, "run", "--dataset", "photos/manifest.csv", "--analyzer", "python:quiet:analyze")
    assert "conformance verdict:" in done.stdout  # the verdicts are shown
    assert f"importing quiet replaced {replaced}; the kit put them back" in done.stderr
    if "warnings" in head:  # no VOCABULARY: the inferred-vocabulary warning is shown
        assert "InferredVocabularyWarning" in done.stderr


CONFORMANCE_RUN = (sys.executable, "-m", "conformance", "run")


def test_a_guarded_run_whose_console_reader_went_away_ends_as_a_closed_pipe_not_as_the_models_doing(
    tmp_path: Path,
) -> None:
    # Red team 14e: `conformance run --analyzer python:... | head -2` exited 2, saying the model had ended the run.
    write_project(tmp_path)
    module(tmp_path, "steady", VOCABULARY + f"def analyze(path):\n    return {ANSWER}\n")
    read_end, write_end = os.pipe()
    os.close(read_end)  # `head` gone before the first line: made certain
    try:
        done = subprocess.run(
            [*CONFORMANCE_RUN, "--dataset", "photos/manifest.csv", "--analyzer", "python:steady:analyze"],
            cwd=tmp_path,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
            env=environment(),
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr, done.stderr
    assert "ended the run" not in done.stderr, done.stderr
    assert "no verdict" not in done.stderr, done.stderr
    assert done.returncode == 141, done.stderr
