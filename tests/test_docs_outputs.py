"""The documented commands' outputs are the kit's at HEAD (issue 14, item 13).

``scripts/regen_docs.py`` runs every command of the marked blocks of the tutorial, the how-to and the
reference pages and writes what they printed; ``--check`` fails when a page's output drifts from a
fresh run beyond what changes from run to run (timings, pytest's platform and plugins lines, paths).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "regen_docs.py"


def regen(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
        check=False,
    )


def test_every_documented_output_is_a_run_at_head() -> None:
    done = regen("--check")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def test_the_check_fails_on_a_changed_figure_and_not_on_timings(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    page = docs / "tutorial.md"
    text = page.read_text(encoding="utf-8")
    # The demo's hand count: 12 of 300 cis photos misgendered (4%); make the page say 13 (4.3%).
    row = "  cis           300        75           12  300  0.040  [0.016, 0.098]"
    assert row in text
    edited = text.replace(row, "  cis           300        75           13  300  0.043  [0.016, 0.098]", 1)
    # Timings that differ from any run are not drift.
    edited, timings = re.subn(r"\bin \d+\.\d+s\b", "in 987.65s", edited)
    assert timings >= 3
    page.write_text(edited, encoding="utf-8")
    # CI=true as on a CI machine, where pytest stops shortening its summary lines: the documented outputs
    # must not depend on it (the first CI run of the check reported every summary block as drift).
    done = regen("--check", "--page", "tutorial.md", "--docs", str(docs), CI="true", BUILD_NUMBER="1")
    assert done.returncode == 1, done.stdout
    assert done.stdout.count("(the page)") == 1  # the one block with the changed figure
    assert "-  cis           300        75           13  300  0.043" in done.stdout
    assert "+  cis           300        75           12  300  0.040" in done.stdout
    assert "987.65" not in done.stdout
    assert "1 documented output(s) drifted" in done.stdout


# -- rt14c F6: every block that shows the kit's verdicts is one the script writes ----------------------------

VERDICT_LINE = re.compile(r"^(PASS|FAIL|INCONCLUSIVE|NOT APPLICABLE|NOT RUN|SKIPPED)\s+[a-z_]+|^conformance verify: ")
# Blocks the script does not make, by page and first command, each with why: any other block that shows
# verdicts without a regen mark (or a generator's "written by" mark) fails the test below. None is left:
# rekognition.md's emulator runs in the background of its blocks, trust.md's alterations are the page's
# own Python blocks, and python-api.md's adapter installs into a throw-away environment.
NOT_GENERATED: dict[str, set[str] | None] = {}


def _unmarked_verdict_blocks(page: Path, known: set[str] | None) -> list[int]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[int] = []
    start: int | None = None
    for number, line in enumerate(lines):
        if line.startswith("```"):
            if start is None:
                start = number
                continue
            start_at, start = start, None
            block = lines[start_at + 1 : number]
            marked = any(line.startswith(("<!-- regen ", "<!-- written by")) for line in lines[start_at - 2 : start_at])
            first = next((text[2:] for text in block if text.startswith("$ ")), "")
            if not marked and first not in (known or ()) and any(VERDICT_LINE.match(text) for text in block):
                found.append(start_at + 1)
    return found


def test_every_block_showing_verdicts_is_generated() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from regen_docs import PAGES
    finally:
        sys.path.remove(str(SCRIPT.parent))
    docs = ROOT / "docs"
    unmarked = {
        name: _unmarked_verdict_blocks(page, NOT_GENERATED.get(name))
        for page in sorted(docs.rglob("*.md"))
        if (name := str(page.relative_to(docs))) not in NOT_GENERATED or NOT_GENERATED[name] is not None
    }
    assert {page: lines for page, lines in unmarked.items() if lines} == {}
    marked = {str(p.relative_to(docs)) for p in docs.rglob("*.md") if "<!-- regen session=" in p.read_text("utf-8")}
    assert marked <= set(PAGES), "a page with regen marks that the script does not run"


# -- the script's shell: background jobs as a terminal shows them ---------------------------------------------


def _regen_module() -> ModuleType:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import regen_docs
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return regen_docs


def test_a_background_job_shows_its_first_words_then_its_last_after_kill(tmp_path: Path) -> None:
    regen = _regen_module()
    # A stand-in for the emulator: says a line when it starts, and one when SIGTERM stops it.
    server = (
        "python -c 'import signal, sys, time; "
        'signal.signal(signal.SIGTERM, lambda *_: (print("stopped"), sys.exit(0))); '
        'print("serving", flush=True); time.sleep(600)\''
    )
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    outputs = regen.run_commands(tmp_path, [f"{server} &", "echo between", "kill %1", "echo $?"], None, {}, jobs)
    # As a terminal shows them: the job's first line under its command, its last under the kill that ended it.
    assert outputs == ["serving", "between", "stopped", "0"]


def test_a_block_that_leaves_a_job_running_is_refused(tmp_path: Path) -> None:
    regen = _regen_module()
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    with pytest.raises(SystemExit, match="leaves a background job running"):
        regen.run_commands(tmp_path, ["bash -c 'echo up; sleep 600' &"], None, {}, jobs)


def test_the_pages_ports_are_free_ports_of_the_run_and_shown_as_the_pages() -> None:
    regen = _regen_module()
    sessions = regen.Sessions(Path("/nonexistent"))
    ports = sessions.port_map("s", ["serve --port 8123 &", "AWS_ENDPOINT_URL=http://127.0.0.1:8124 run"])
    assert set(ports) == {"8123", "8124"}
    assert len(set(ports.values())) == 2
    ran = regen.with_ports("curl http://127.0.0.1:8123/ --port 8124", ports)
    assert "8123" not in ran
    assert "8124" not in ran
    assert regen.with_ports(ran, ports, back=True) == "curl http://127.0.0.1:8123/ --port 8124"
