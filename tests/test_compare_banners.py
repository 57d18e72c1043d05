"""``conformance compare`` says, for each report, what every report says first: its answers are simulated,
emulated, or from an endpoint that is not the vendor's (red-team of issue 12, F8: it said nothing).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from builders import typed

from conformance.comparison.reports import compare_reports
from conformance.reporting.compare import render_compare_html, render_compare_markdown


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run"], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return cwd / "conformance-report" / "report.json"


def stand_in(report: dict[str, Any]) -> dict[str, Any]:
    """The demo's report as if recorded from a local stand-in (not the kit's emulator)."""
    other = copy.deepcopy(report)
    session = {"endpoint": "http://127.0.0.1:9000", "endpoint_class": "loopback", "started": "2026-11-02T09:00:00Z"}
    other["analyzer"].update(
        simulated=False, emulated=False, endpoint_class="loopback", recording_sessions=[session], recorded_with=[]
    )
    return other


def test_compare_shows_each_reports_banners(demo: Path, tmp_path: Path) -> None:
    base = json.loads(demo.read_text(encoding="utf-8"))
    other = tmp_path / "stand-in.json"
    other.write_text(json.dumps(stand_in(base)), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "compare", str(demo), str(other)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Markdown: the file names' underscores come escaped.
    lines = [line.replace("\\", "") for line in done.stdout.splitlines() if line.startswith("> ⚠️ ")]
    assert lines[:3] == [
        f"> ⚠️ {demo}: SIMULATED analyzer output: constructed predictions, not any real service or model",
        f"> ⚠️ {demo}: EMULATED vendor API: the answers came from the kit's emulator, not from the vendor",
        f"> ⚠️ {other}: A LOCAL STAND-IN, NOT THE VENDOR'S SERVICE: The answers were recorded from "
        "http://127.0.0.1:9000, a loopback or private address (or a proxy on one) that is not the kit's emulator: "
        "a mock, a proxy or another local stand-in. These figures say how that stand-in answered, not how the "
        "vendor would. It could also be a relay (an SSH tunnel, a signing proxy) that sent the photos on elsewhere: "
        "the kit cannot see past a loopback endpoint, so it did not gate those calls as live.",
    ]


def test_the_html_comparison_shows_them_too(demo: Path) -> None:
    base = json.loads(demo.read_text(encoding="utf-8"))
    page = render_compare_html(compare_reports(typed(base, stand_in(base)), names=["demo", "stand-in"]))
    assert "demo: SIMULATED analyzer output" in page
    assert "stand-in: A LOCAL STAND-IN, NOT THE VENDOR&#x27;S SERVICE" in page
    markdown = render_compare_markdown(compare_reports(typed(base, stand_in(base)), names=["demo", "stand-in"]))
    assert "demo: EMULATED vendor API" in markdown
