"""End to end through the CLI (issue 13): a conforming analyzer earns exit 0 under the default policy,
a failing one cannot escape.

200 people per group (cis, trans, nonbinary), three photos each, from a predictions file: the
perfect analyzer gives every woman and man the right binary label and abstains on every nonbinary
person, as ``nonbinary_representability`` asks. Before issue 13 it could not pass: checks that read
labels had "nothing to count" for the nonbinary group, which was inconclusive, which fails by
default. Now that comparison is not applicable, ``transformation_invariance`` is not applicable to a
predictions file, and both show as skips with their reasons.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from builders import Shot, observe, people, typed, write_dataset

PEOPLE = 200
PHOTOS = 3


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def population(misgendered_trans: int = 0) -> list[Shot]:
    shots: list[Shot] = []
    for identity, count in (("woman", PEOPLE // 2), ("man", PEOPLE // 2)):
        shots += people(f"cis-{identity}", count, identity=identity, trans="no", photos=PHOTOS, confidence=97.0)
        shots += people(
            f"trans-{identity}",
            count,
            identity=identity,
            trans="yes",
            photos=PHOTOS,
            misgendered=misgendered_trans // 2,
            confidence=97.0,
        )
    # Abstention for every nonbinary person: no gender label, no confidence.
    shots += people("nb", PEOPLE, identity="nonbinary", photos=PHOTOS, abstained=PEOPLE, confidence=None)
    return shots


@pytest.fixture(scope="module")
def perfect(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    directory = tmp_path_factory.mktemp("perfect")
    manifest, predictions = write_dataset(directory / "data", population())
    done = run(directory, "run", "--dataset", str(manifest), "--analyzer", f"predictions:{predictions}")
    report = json.loads((directory / "conformance-report" / "report.json").read_text())
    return done, report


def test_a_perfect_analyzer_passes_the_default_policy_end_to_end(
    perfect: tuple[subprocess.CompletedProcess[str], dict[str, object]],
) -> None:
    done, report = perfect
    assert done.returncode == 0, done.stdout + done.stderr
    checks = report["checks"]
    assert isinstance(checks, list)
    verdicts = {c["id"]: c["verdict"] for c in checks}
    for check_id in ("misgender_gap", "nonbinary_representability", "same_person_consistency"):
        assert verdicts[check_id] == "pass", check_id
    assert verdicts["confidence_calibration"] == "pass"
    assert verdicts["detection_failure_gap"] == "pass"


def test_what_the_data_cannot_speak_to_is_skipped_with_its_reason(
    perfect: tuple[subprocess.CompletedProcess[str], dict[str, object]],
) -> None:
    done, report = perfect
    # transformation_invariance: a predictions file cannot be shown new images. The test is skipped,
    # the result recorded, and the summary says why and what would make the check apply.
    assert "5 passed, 1 skipped" in done.stdout
    line = next(
        x for x in done.stdout.splitlines() if x.startswith("NOT APPLICABLE") and "transformation_invariance" in x
    )
    assert "cannot look at transformed images" in line
    assert "applies to an analyzer that can be shown new images" in line
    checks = report["checks"]
    assert isinstance(checks, list)
    assert next(c for c in checks if c["id"] == "transformation_invariance")["verdict"] == "not applicable"
    consistency = next(c for c in checks if c["id"] == "same_person_consistency")
    by_pair = {(c["group"], c["reference"]): c for c in consistency["comparisons"]}
    assert by_pair[("trans", "cis")]["verdict"] == "pass"
    assert by_pair[("nonbinary", "cis")]["verdict"] == "not applicable"
    assert "abstained on every one" in by_pair[("nonbinary", "cis")]["note"]


def test_an_analyzer_three_times_the_tolerance_worse_on_trans_people_fails(tmp_path: Path) -> None:
    # 15% of trans people misgendered on every photo: three times the default tolerance of 0.05.
    manifest, predictions = write_dataset(tmp_path / "data", population(misgendered_trans=30))
    done = run(tmp_path, "run", "--dataset", str(manifest), "--analyzer", f"predictions:{predictions}")
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text())
    misgender = next(c for c in report["checks"] if c["id"] == "misgender_gap")
    assert misgender["verdict"] == "fail"
    trans = next(c for c in misgender["comparisons"] if (c["group"], c["reference"]) == ("trans", "cis"))
    assert trans["difference"] == pytest.approx(30 / 200)
    assert trans["verdict"] == "fail"


def test_the_regression_gate_keeps_every_pair_of_groups_apart(tmp_path: Path) -> None:
    # With every two groups compared, "trans" is in two comparisons (against cis and against nonbinary);
    # the gate must compare trans vs cis with trans vs cis, not with whichever came last.
    from conformance import group_labels, load_policy, run_check
    from conformance.comparison.gate import find_regressions
    from conformance.reporting import build_report

    def report(trans_wrong: int, directory: Path) -> dict[str, object]:
        shots = (
            people("cis", 100, trans="no", misgendered=10)
            + people("trans", 100, trans="yes", misgendered=trans_wrong)
            + people("nb", 100, identity="nonbinary", misgendered=40)
        )
        observations = observe(directory, shots)
        result = run_check(
            "misgender_gap",
            observations,
            groups=group_labels(observations.dataset),
            reference="cis",
            policy=load_policy(),
            seed=1,
        )
        context = {
            "seed": 1,
            "analyzer": dict(observations.analyzer),
            "dataset": observations.dataset.describe(),
            "policy": load_policy().to_dict(),
            "grouping": {"by": [], "reference": "cis"},
        }
        built: dict[str, object] = json.loads(json.dumps(build_report([result], context=context).to_json()))
        return built

    baseline, current = report(10, tmp_path / "before"), report(40, tmp_path / "after")
    found = {(r.group, r.reference): r for r in find_regressions(*typed(current, baseline))}
    regression = found[("trans", "cis")]
    assert regression.baseline_gap == pytest.approx(0.0)
    assert regression.current_gap == pytest.approx(0.3)
    # trans vs nonbinary went from -0.3 to 0: the disparity shrank, which is no regression of trans vs cis.
    assert all(r.current_gap == pytest.approx(0.3) for r in found.values() if r.group == "trans")
