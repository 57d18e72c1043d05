"""Every endpoint class but the vendor's gets a banner in every report format (issue 12, item 9).

The classes (vendor, emulator, loopback, other) come from the adapter's reading of the recording's
sessions; here a demo report is given each class in turn, and every writer is read for its banner.
The end-to-end case (a recording made against a local stand-in) is in test_trust_cases.py.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import pytest

from conformance.plugin import provenance_lines
from conformance.report import Report, endpoint_banners
from conformance.reporting import render_html, render_markdown

VENDOR = "https://rekognition.eu-west-1.amazonaws.com"
SESSION = {
    "started": "2026-11-02T09:00:00Z",
    "ended": "2026-11-02T09:05:00Z",
    "region": "eu-west-1",
    "botocore": "1.43.11",
    "adapter_version": "1",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cwd = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run"], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stdout + done.stderr
    report: dict[str, Any] = json.loads((cwd / "conformance-report" / "report.json").read_text())
    return report


def _as(demo: dict[str, Any], endpoint_class: str, endpoint: str) -> dict[str, Any]:
    """The demo's report as if its answers had been recorded from ``endpoint``, of ``endpoint_class``."""
    report = copy.deepcopy(demo)
    session = {**SESSION, "endpoint": endpoint, "endpoint_class": endpoint_class}
    report["analyzer"].update(
        simulated=False,
        emulated=False,
        endpoint_class=endpoint_class,
        recording_sessions=[session],
        recorded_with=[{k: v for k, v in session.items() if k != "endpoint_class"}],
        recording_notes=[],
    )
    return report


def _texts(report: dict[str, Any]) -> tuple[str, str, str]:
    typed = Report.from_json(report)
    page = render_html(typed).replace("&#x27;", "'")
    return render_markdown(typed), page, "\n".join(provenance_lines(typed))


def test_the_vendors_endpoint_gets_no_banner(demo: dict[str, Any]) -> None:
    markdown, page, console = _texts(_as(demo, "vendor", VENDOR))
    assert endpoint_banners(Report.from_json(_as(demo, "vendor", VENDOR)).analyzer) == ()
    assert 'class="banner"' not in page
    assert "> **" not in markdown.split("**Verdict")[0]
    assert console == ""


def test_a_local_stand_in_says_so_in_every_format(demo: dict[str, Any]) -> None:
    markdown, page, console = _texts(_as(demo, "loopback", "http://127.0.0.1:9000"))
    title = "A local stand-in, not the vendor's service"
    assert f"> **{title}.** The answers were recorded from http://127.0.0.1:9000, a loopback" in markdown.replace(
        "\\", ""
    )
    assert f"<strong>{title}</strong>The answers were recorded from http://127.0.0.1:9000" in page
    assert console.startswith("A LOCAL STAND-IN, NOT THE VENDOR'S SERVICE: The answers were recorded from")


def test_an_emulator_session_is_emulated_even_without_the_flag(demo: dict[str, Any]) -> None:
    markdown, page, console = _texts(_as(demo, "emulator", "http://127.0.0.1:43309"))
    assert "> **EMULATED vendor API.**" in markdown
    assert "<strong>EMULATED vendor API</strong>" in page
    assert console.startswith("EMULATED VENDOR API: ")


def test_another_endpoint_says_what_is_known(demo: dict[str, Any]) -> None:
    markdown, page, console = _texts(_as(demo, "other", "https://faces.example.net"))
    text = (
        "The answers were recorded from https://faces.example.net, which is neither the vendor's public endpoint "
        "nor the kit's emulator; what the recording says of it: region eu-west-1; botocore 1.43.11; recorded "
        "2026-11-02T09:00:00Z. Whose service answered is not known to the kit."
    )
    assert text in markdown.replace("\\", "")
    assert text in page
    assert text in console


def test_an_older_recordings_loopback_flag_counts(demo: dict[str, Any]) -> None:
    """Sessions recorded before endpoint classes say loopback: true; a stand-in is still a stand-in."""
    report = copy.deepcopy(demo)
    report["analyzer"].update(emulated=False, simulated=False)
    for session in report["analyzer"]["recorded_with"]:
        session.update(emulator=False, loopback=True, endpoint="http://localhost:8080")
    markdown, page, _ = _texts(report)
    assert "A local stand-in, not the vendor's service" in markdown
    assert "http://localhost:8080" in page
