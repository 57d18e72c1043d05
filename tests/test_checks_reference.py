"""docs/reference/checks.md shows parts of the demo's report.json: they are the run's at HEAD.

``scripts/checks_json.py`` rewrites them from a fresh run of the shipped demo; here its check fails
when an excerpt drifted (a field added to a group, a method string reworded, a figure changed).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "checks_json.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("checks_json", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def report(script: ModuleType) -> dict[str, Any]:
    made: dict[str, Any] = script.demo_report()
    return made


def test_every_json_excerpt_of_checks_md_is_the_demos(script: ModuleType, report: dict[str, Any]) -> None:
    lines = script.PAGE.read_text(encoding="utf-8").splitlines()
    assert script.differences(lines, report) == []
    # Every check of the demo that the page shows has at least one excerpt checked.
    shown = {e.check for e in script.excerpts(lines) if script.expected(e, report) is not None}
    assert shown >= {"misgender_gap", "same_person_consistency", "confidence_calibration", "detection_failure_gap"}


def test_the_check_notices_a_changed_figure_and_a_missing_field(script: ModuleType, report: dict[str, Any]) -> None:
    lines = script.PAGE.read_text(encoding="utf-8").splitlines()
    # The demo's hand count: 12 of 300 cis photos misgendered. Make the page say 13, and drop a field.
    start = lines.index('    "count": 12,')
    edited = [*lines[:start], '    "count": 13,', *lines[start + 1 :]]
    assert len(script.differences(edited, report)) == 1
    group = next(e for e in script.excerpts(lines) if e.check == "same_person_consistency")
    shown = dict(group.shown["cis"])
    shown.pop("photos_per_person")
    body = json.dumps({"cis": shown}, indent=2).splitlines()
    dropped = [*lines[: group.start], *body, *lines[group.end :]]
    assert len(script.differences(dropped, report)) == 1
    # Rewriting puts the run's figures back.
    assert script.differences(script.rewrite(dropped, report), report) == []
