"""The observation cache can speed a run up, never change its result (issue 12, case 2).

Before: editing a ``.conformance_cache/observations/*.json`` entry turned the demo's four failures
into passes, removed the SIMULATED/EMULATED banners and made ``recorded_with`` name Amazon's
endpoint, with the recording untouched. Each test runs the demo as a user does, edits the entry the
first run left, runs again, and reads the second report.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.demo import MANIFEST

AMAZON = {"endpoint": "https://rekognition.us-east-1.amazonaws.com", "loopback": False, "emulator": False}
LABELS = {"woman": ("Female", "woman"), "man": ("Male", "man")}


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", "run", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _report(cwd: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((cwd / "conformance-report" / "report.json").read_text(encoding="utf-8"))
    return report


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    """What a reader takes from a report: every check, every photo, the verdict and where the answers came from."""
    analyzer = {k: v for k, v in report["analyzer"].items() if k != "observations_cache"}
    return {"verdict": report["verdict"], "checks": report["checks"], "photos": report["photos"], "analyzer": analyzer}


def _flattering(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry with every binary person gendered right and nonbinary people abstained on, and Amazon named."""
    with MANIFEST.open(encoding="utf-8", newline="") as handle:
        identity = {row["photo"]: row["gender_identity"] for row in csv.DictReader(handle)}
    for row in entry["observations"]:
        face = row[4]
        if face is None:
            continue
        meaning = {"woman": "woman", "man": "man"}.get(identity[row[0]])
        face["label"], face["gender"] = LABELS[meaning] if meaning else (None, None)
        face["confidence"] = 99.0
    # What a cache entry of the old format held as provenance, now claiming Amazon's own service.
    entry["analyzer"] = {"name": "Amazon Rekognition", "emulated": False, "simulated": False, "recorded_with": [AMAZON]}
    return entry


@pytest.fixture
def first(tmp_path: Path) -> tuple[Path, dict[str, Any], Path]:
    """A first demo run: its folder, its report, and the cache entry it left."""
    done = run(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    (entry,) = (tmp_path / ".conformance_cache" / "observations").glob("*.json")
    return tmp_path, _report(tmp_path), entry


def test_an_edited_cache_entry_changes_nothing_in_the_report(first: tuple[Path, dict[str, Any], Path]) -> None:
    cwd, before, entry = first
    seal, body = entry.read_text(encoding="ascii").split("\n", 1)  # the seal's line stays; the answers change
    entry.write_text(seal + "\n" + json.dumps(_flattering(json.loads(body)), separators=(",", ":")), encoding="utf-8")
    done = run(cwd)
    assert done.returncode == 1, done.stdout + done.stderr
    notice = (
        f"conformance: ignored the cache entry .conformance_cache/observations/{entry.name}: its content does not "
        "match its seal (edited, damaged, or sealed on another machine); the answers are worked out again"
    )
    assert notice in done.stderr.splitlines()
    after = _report(cwd)
    assert _figures(after) == _figures(before)
    assert after["verdict"] == "fail"
    assert "observations_cache" not in after["analyzer"]  # worked out again, from the recording
    markdown = (cwd / "conformance-report" / "report.md").read_text(encoding="utf-8")
    assert "Simulated analyzer output" in markdown
    assert "Emulated vendor API" in markdown
    # The recomputed answers were sealed anew: the next run reads them, and says so.
    third = run(cwd)
    assert "ignored the cache entry" not in third.stderr
    assert _figures(_report(cwd)) == _figures(before)
    assert _report(cwd)["analyzer"]["observations_cache"] == f".conformance_cache/observations/{entry.name}"


def test_provenance_never_comes_from_the_cache_even_in_a_validly_sealed_entry(
    first: tuple[Path, dict[str, Any], Path],
) -> None:
    """Someone holding the sealing key (the same user) can seal an entry; it still cannot change where the
    answers came from: that is read from the recording every time."""
    cwd, before, entry = first
    document = json.loads(entry.read_text(encoding="ascii").split("\n", 1)[1])
    document["analyzer"] = {"emulated": False, "simulated": False, "recorded_with": [AMAZON]}
    key = (Path(os.environ["XDG_CACHE_HOME"]) / "conformance" / "cache.key").read_bytes()
    text = json.dumps(document, separators=(",", ":"))
    # Sealed as the kit seals (an HMAC of the bytes after the seal's line), with the user's own key.
    entry.write_text(hmac.new(key, text.encode(), hashlib.sha256).hexdigest() + "\n" + text, encoding="utf-8")
    done = run(cwd)
    assert "ignored the cache entry" not in done.stderr  # a valid seal: the entry was read
    after = _report(cwd)
    assert after["analyzer"]["observations_cache"] == f".conformance_cache/observations/{entry.name}"
    assert _figures(after)["analyzer"] == _figures(before)["analyzer"]
    assert after["analyzer"]["emulated"] is True
    assert after["analyzer"]["simulated"] is True
    assert after["checks"] == before["checks"]
    markdown = (cwd / "conformance-report" / "report.md").read_text(encoding="utf-8")
    assert "Emulated vendor API" in markdown
    assert "Answers read from the verified observation cache" in markdown


def test_an_entry_sealed_elsewhere_is_worked_out_again(
    first: tuple[Path, dict[str, Any], Path], tmp_path: Path
) -> None:
    """A cache folder copied from another machine (or committed by a vendor) carries another key's seals."""
    cwd, before, _ = first
    other = tmp_path / "other-user-cache"
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "XDG_CACHE_HOME": str(other)},
    )
    assert "its content does not match its seal" in done.stderr
    assert _figures(_report(cwd)) == _figures(before)
    assert (other / "conformance" / "cache.key").stat().st_mode & 0o777 == 0o600
