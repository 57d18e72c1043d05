"""Self-descriptions through ``conformance run``, as a user meets them (issue 14, items 2 to 4).

A manifest a person could have written, a vendor's predictions file for it, the CLI in a fresh folder: what
loads, what is refused with which line on standard error (exit 2), and what a ``[tool.conformance.identity]``
table in the folder's pyproject.toml changes. Expected groups are hand counts of the rows below.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from builders import Shot, shot, write_dataset

PROPOSES_AN_IDENTITY = re.compile(r'= "(woman|man|nonbinary|undisclosed)"')


def run(cwd: Path, shots: list[Shot], pyproject: str = "") -> subprocess.CompletedProcess[str]:
    manifest, predictions = write_dataset(cwd / "photos", shots)
    if pyproject:
        (cwd / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--dataset",
            str(manifest),
            "--analyzer",
            f"predictions:{predictions}",
            "--checks",
            "misgender_gap",
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def groups_of(cwd: Path) -> dict[str, tuple[int, int]]:
    """misgender_gap's (photos, misgendered) per group, from report.json."""
    report = json.loads((cwd / "conformance-report" / "report.json").read_text())
    check = next(c for c in report["checks"] if c["id"] == "misgender_gap")
    return {name: (g["photos"], g["count"]) for name, g in check["groups"].items()}


def test_common_self_descriptions_run_and_set_trans_status(tmp_path: Path) -> None:
    # The trans column is blank where the words say it: the groups come from the words.
    shots = [
        shot("p1", "transgender woman", "", "Male"),
        shot("p2", "MTF", "", "Female"),
        shot("p3", "FTM", "", "Female"),
        shot("p4", "cisgender man", "", "Male"),
        shot("p5", "Cis Woman", "no", "Female"),
        shot("p6", "enby", "", "Female"),
        shot("p7", "man, trans", "", "Male"),
    ]
    done = run(tmp_path, shots)
    assert done.returncode == 1, done.stderr  # verdicts (too few people), not a refused manifest
    # trans: p1 (Male: misgendered), p2, p3 (Female: misgendered), p7; cis: p4, p5; nonbinary: p6 (Female).
    assert groups_of(tmp_path) == {"cis": (2, 0), "nonbinary": (1, 1), "trans": (4, 2)}


def test_a_misspelling_gets_the_spelling_never_an_identity(tmp_path: Path) -> None:
    done = run(tmp_path, [shot("p1", "woman", "no"), shot("p2", "woamn", "no")])
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.endswith(
        "manifest.csv row 3: gender_identity 'woamn' is not in the identity map; is it a misspelling of 'woman'? "
        "Correct the row if so; if it is how the person described themselves, map it under "
        '[tool.conformance.identity] ("woamn" = "<woman | man | nonbinary | undisclosed>")\n'
    )
    assert not PROPOSES_AN_IDENTITY.search(done.stderr)


def test_a_contradiction_with_the_trans_column_is_refused_naming_row_and_values(tmp_path: Path) -> None:
    done = run(tmp_path, [shot("p1", "woman", "no"), shot("p2", "trans man", "no", "Male")])
    assert done.returncode == 2
    assert done.stderr.endswith(
        "manifest.csv row 3: photo 'img/p00001.png': gender_identity 'trans man' says trans, but trans is 'no'; "
        "the person's answers disagree and the kit does not choose: correct one of them\n"
    )


@pytest.mark.parametrize(
    ("label", "why", "mapping"),
    [
        ("Two-Spirit", "Indigenous North American identity", '"two-spirit" = "nonbinary"'),
        ("woman; nonbinary", "names more than one identity (woman, nonbinary)", '"nonbinary, woman" = "nonbinary"'),
    ],
)
def test_what_the_kit_does_not_decide_is_asked_then_mapped(tmp_path: Path, label: str, why: str, mapping: str) -> None:
    shots = [shot("p1", "woman", "no"), shot("p2", label, "unknown", "Female")]
    asked = run(tmp_path / "asked", shots)
    assert asked.returncode == 2
    assert why in asked.stderr
    assert f'("{label}" = "<woman | man | nonbinary | undisclosed>")' in asked.stderr
    assert not PROPOSES_AN_IDENTITY.search(asked.stderr)
    # The user answers in pyproject.toml; the same manifest then runs, the person in the group they chose.
    mapped = run(tmp_path / "mapped", shots, f"[tool.conformance.identity]\n{mapping}\n")
    assert mapped.returncode == 1, mapped.stderr
    assert groups_of(tmp_path / "mapped") == {"cis": (1, 0), "nonbinary": (1, 1)}
