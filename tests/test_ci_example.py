"""docs/how-to/ci.md, run: the CI workflow's steps as a script, offline, with the installed kit.

The page shows docs/examples/github-actions.yml and docs/examples/gitlab-ci.yml verbatim; these tests
fail when a block and its file differ, read the workflow's steps with a small parser of their own
(PyYAML is not a dependency; where it is installed, it must read them the same way), and run the
steps in a fresh folder: the reports, the job summary, the artifact's files and the gate's exit codes
are checked, with a baseline made to look better than the run for the gate to catch.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "how-to" / "ci.md"
GITHUB = REPO / "docs" / "examples" / "github-actions.yml"
GITLAB = REPO / "docs" / "examples" / "gitlab-ci.yml"
INSTALL = 'python -m pip install "$CONFORMANCE_KIT"'


def fenced(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def _scalar(text: str) -> str:
    text = text.strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def workflow_steps(text: str) -> list[dict[str, str]]:
    """The steps of the workflow's one job: each a dict of its keys (``with.KEY`` for ``with:`` entries).

    Only what the example uses: plain or double-quoted one-line values, a ``with:`` mapping one level
    deep. Anything else (a block scalar, a deeper level) fails here, so the example stays this simple.
    """
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "steps:")
    steps: list[dict[str, str]] = []
    base: int | None = None
    parent = ""
    for line in lines[start + 1 :]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        depth = len(line) - len(line.lstrip())
        text_ = line.strip()
        base = depth if base is None else base
        if depth < base:
            break
        if depth == base:
            assert text_.startswith("- "), line
            steps.append({})
            text_, depth = text_[2:], depth + 2
        key, sep, value = text_.partition(":")
        assert sep, line
        assert value.strip() not in ("|", ">", "|-", ">-"), f"block scalars are not read here: {line}"
        if depth == base + 2:
            parent = key
            if value.strip():
                steps[-1][key] = _scalar(value)
        else:
            assert depth == base + 4, line
            assert parent == "with", line
            steps[-1][f"with.{key}"] = _scalar(value)
    return steps


def variable(text: str, name: str) -> str:
    found = re.findall(rf"^\s+{name}: (.+)$", text, re.M)
    assert len(found) == 1, found
    return _scalar(found[0])


def gitlab_script(text: str) -> list[str]:
    block = re.search(r"^  script:\n((?:    - .*\n)+)", text, re.M)
    assert block is not None
    return [_scalar(line.strip()[2:]) for line in block.group(1).splitlines()]


def test_the_page_shows_both_files_verbatim() -> None:
    blocks = fenced("yaml")
    assert blocks == [GITHUB.read_text(encoding="utf-8"), GITLAB.read_text(encoding="utf-8")]


def test_gitlab_runs_the_same_commands_as_github() -> None:
    github = [s["run"] for s in workflow_steps(GITHUB.read_text(encoding="utf-8")) if "run" in s]
    assert gitlab_script(GITLAB.read_text(encoding="utf-8")) == github
    assert variable(GITLAB.read_text(encoding="utf-8"), "CONFORMANCE_KIT") == variable(
        GITHUB.read_text(encoding="utf-8"), "CONFORMANCE_KIT"
    )


def test_pyyaml_reads_the_examples_as_the_test_does() -> None:
    yaml = pytest.importorskip("yaml")  # installed with dask (the test extra); not a dependency of the kit
    github = yaml.safe_load(GITHUB.read_text(encoding="utf-8"))
    (job,) = github["jobs"].values()
    flat = [
        {
            **{k: str(v) for k, v in step.items() if k != "with"},
            **{f"with.{k}": str(v) for k, v in step.get("with", {}).items()},
        }
        for step in job["steps"]
    ]
    assert flat == workflow_steps(GITHUB.read_text(encoding="utf-8"))
    gitlab = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))
    assert gitlab["conformance"]["script"] == gitlab_script(GITLAB.read_text(encoding="utf-8"))
    assert gitlab["conformance"]["artifacts"]["reports"]["junit"] == "conformance-report/junit.xml"


def test_the_kit_is_never_installed_by_its_bare_pypi_name() -> None:
    # "conformance" on PyPI is an unrelated project: the workflow must name a direct reference.
    kit = variable(GITHUB.read_text(encoding="utf-8"), "CONFORMANCE_KIT")
    assert kit.startswith("conformance @ ")
    runs = [s["run"] for s in workflow_steps(GITHUB.read_text(encoding="utf-8")) if "run" in s]
    assert [r for r in runs if "pip install" in r] == [INSTALL]


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # GitHub's `shell: bash` runs a step as `bash --noprofile --norc -eo pipefail {0}`.
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "CONFORMANCE_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the installed kit
    env["CONFORMANCE_KIT"] = variable(GITHUB.read_text(encoding="utf-8"), "CONFORMANCE_KIT")
    env.update(extra)
    return env


def test_the_workflow_runs_offline_reports_and_gates(tmp_path: Path) -> None:
    # Step 2 of the page: the baseline, made once (its summary is not the job's).
    (baseline_line,) = fenced("sh")
    made = bash(baseline_line, tmp_path, environment(tmp_path))
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "baseline" / "report.json").is_file()

    summary = tmp_path / "summary.md"
    env = environment(tmp_path, GITHUB_STEP_SUMMARY=str(summary))
    steps = workflow_steps(GITHUB.read_text(encoding="utf-8"))
    assert [s["uses"].split("@")[0] for s in steps if "uses" in s] == [
        "actions/checkout",
        "actions/setup-python",
        "actions/upload-artifact",
    ]
    runs = [s for s in steps if "run" in s]
    assert runs[0]["run"] == INSTALL  # the kit under test is installed already: the only step not run
    outputs = []
    for step in runs[1:]:
        done = bash(step["run"], tmp_path, env)
        assert done.returncode == 0, (step["name"], done.stdout[-2000:], done.stderr[-2000:])
        outputs.append(done.stdout)
    audit, gate = outputs
    assert "conformance verdicts" in audit  # the demo's checks ran, and failed as designed
    assert "no regression against baseline/report.json" in gate

    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"
    artifact = tmp_path / upload["with.path"]
    for name in ("report.html", "report.json", "report.md", "junit.xml"):
        assert (artifact / name).stat().st_size > 0, name
    report = json.loads((artifact / "report.json").read_text())
    assert report["analyzer"]["record_mode"] == "none"  # replayed offline
    # The job summary holds the audit's report.md, appended by the plugin, once (rt14c F15: the gate's run
    # appended the whole report a second time), and the gate's finding.
    text = summary.read_text(encoding="utf-8")
    assert (artifact / "report.md").read_text(encoding="utf-8") in text
    assert text.count("# Conformance report:") == 1
    assert "## Regression gate: " in text
    assert "**Regression gate** against `baseline/report.json`" in text.split("## Regression gate: ", 1)[1]

    # A baseline made to look better than this run: the trans vs cis gap of misgender_gap set to 0.
    baseline_file = tmp_path / "baseline" / "report.json"
    baseline = json.loads(baseline_file.read_text())
    check = next(c for c in baseline["checks"] if c["id"] == "misgender_gap")
    trans = next(c for c in check["comparisons"] if c["group"] == "trans")
    current = next(
        c
        for c in next(c for c in report["checks"] if c["id"] == "misgender_gap")["comparisons"]
        if c["group"] == "trans"
    )
    assert current["ci"][0] > 0.15  # the run's gap: 62/200 - 12/300 = 0.27, its interval well above 0.03
    trans.update(difference=0.0, ci=[-0.03, 0.03])
    baseline_file.write_text(json.dumps(baseline))
    done = bash(runs[-1]["run"], tmp_path, env)
    assert done.returncode == 1, done.stdout[-2000:]
    assert "misgender_gap: trans vs cis gap 0.270" in done.stdout
    assert "is worse than the baseline's 0.000 [-0.030, 0.030] beyond noise" in done.stdout


@pytest.mark.parametrize(("exit_code", "step_fails"), [(0, False), (1, False), (2, True), (3, True)])
def test_the_audit_step_reports_failing_checks_and_stops_on_bad_input(
    tmp_path: Path, exit_code: int, step_fails: bool
) -> None:
    """The audit line's shell: a failing check (1) lets the job go on to the gate; bad input (2) does not."""
    fake = tmp_path / "bin" / "conformance"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    fake.chmod(0o755)
    env = environment(tmp_path)
    env["PATH"] = f"{fake.parent}{os.pathsep}{env['PATH']}"
    audit = next(
        s["run"] for s in workflow_steps(GITHUB.read_text(encoding="utf-8")) if "--junitxml" in s.get("run", "")
    )
    done = bash(audit, tmp_path, env)
    assert (done.returncode != 0) is step_fails


# Not CI, but the same kind of promise about the docs (issue 14, item 13): the figures the README opens with
# ("31% vs 4% of 600 photos") name their source wherever they are quoted.
@pytest.mark.parametrize(
    "page", ["README.md", "docs/explanation/methodology.md", "conformance/demo/README.md"], ids=lambda p: p
)
def test_the_31_vs_4_figures_name_their_source(page: str) -> None:
    text = " ".join((REPO / page).read_text(encoding="utf-8").split())
    assert "Jezebel's 2019 investigation" in text
    assert "amazons-facial-analysis-program-is-building-a-dystopic-1835075450" in text
    if page == "README.md":  # in its first paragraph, next to the figures
        first = text.split("## ")[0]
        assert "31% vs 4% of 600 photos, in [Jezebel's 2019 investigation]" in first
