"""Rows of a group's rate against detection_failure_gap's ceiling are worded and drawn as what they are (rt14f F7).

They were shown as gaps: report.md said ``cis vs none (ceiling)``, report.html drew them on the gap chart with
both the tolerance and the ceiling called "tolerance", its headline said a check fails only on a gap, and an
inconclusive ceiling was not named on the console. The case is the red team's ``bad25_150``: 25% of every
group's photos with no face found, 150 cis and 150 trans women.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from builders import people, write_dataset


def test_ceiling_rows_are_rates_against_a_ceiling_on_every_surface(tmp_path: Path) -> None:
    shots = people("cis", 150, no_face=38, confidence=97.0) + people("tr", 150, trans="yes", no_face=38)
    manifest, predictions = write_dataset(tmp_path / "photos", shots)
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--dataset", str(manifest), "--analyzer",
         f"predictions:{predictions}", "--checks", "detection_failure_gap"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("INCONCLUSIVE   detection_failure_gap"))
    # 38 of 150 = 0.253: its interval straddles 0.2, so the ceiling is undecided, and the console says so.
    assert "rate against the ceiling 0.2 undecided: cis 0.253 [" in line
    assert "rate against the ceiling 0.2 undecided: cis 0.253 [" in done.stdout.split("conformance verdicts")[0]
    folder = tmp_path / "conformance-report"
    markdown = (folder / "report.md").read_text(encoding="utf-8")
    assert "| cis: rate against the ceiling |" in markdown
    assert "none (ceiling)" not in markdown
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "vs none (ceiling)" not in html
    assert "cis (ceiling)" not in html
    assert "cis: its rate against the ceiling" in html
    # Two charts: the gaps against the tolerance, the rates against the ceiling, each with its own line.
    assert "gap (group minus reference); right of the dashed line is beyond tolerance" in html
    assert "right of the dashed line is above the ceiling max_detection_failure" in html
    assert "ceiling 0.2</text>" in html
    assert "tolerance 0.2</text>" not in html
    assert "lies above the ceiling max_detection_failure" in html  # the headline names the ceiling
