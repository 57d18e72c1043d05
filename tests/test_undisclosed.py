"""People who did not disclose a gender identity (issue 14, item 1), through the public API and the CLI.

They stay in the dataset as ``undisclosed``: in every photo count, in detection failures (their own default
group), in coverage and in the photos' outcomes; never in a misgendering figure, because there is no
self-description to judge a label against. Every expected number is a hand count from the shots below;
intervals come from statsmodels.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from builders import Shot, observe, people, shot, write_dataset
from statsmodels.stats.proportion import confint_proportions_2indep  # type: ignore[import-untyped]

import conformance
from conformance import ConformanceError, group_labels, load_dataset, load_policy, run_check

SEED = 20261121
POLICY = load_policy()

# Four people who did not say, two photos each, written as forms write it. u1 is labelled Female then Male,
# u2 Male twice, u3 gets no gender then Female, u4's photos have no face and an error: 6 faces found,
# 1 abstention, 2 failures.
UNDISCLOSED = [
    shot("u1", "prefer not to say", "unknown", "Female", confidence=99.0),
    shot("u1", "prefer not to say", "unknown", "Male", confidence=99.0),
    shot("u2", "", "", "Male", confidence=99.0),
    shot("u2", "", "", "Male", confidence=99.0),
    shot("u3", "declined", "no", None, confidence=None),
    shot("u3", "declined", "no", "Female", confidence=99.0),
    shot("u4", "N/A", "unknown", outcome="no_face"),
    shot("u4", "N/A", "unknown", outcome="error"),
]
# Twelve cis and twelve trans women, one photo each: 1 and 4 misgendered.
DISCLOSED = [
    *people("c", 12, identity="woman", trans="no", misgendered=1),
    *people("t", 12, identity="woman", trans="yes", misgendered=4),
]


def check(
    check_id: str, shots: list[Shot], tmp_path: Path, reference: str = "cis", policy: conformance.Policy = POLICY
) -> conformance.CheckResult:
    observations = observe(tmp_path, shots)
    groups = group_labels(observations.dataset)
    return run_check(check_id, observations, groups=groups, reference=reference, policy=policy, seed=SEED)


def test_the_photos_stay_with_their_outcomes_and_are_never_misgendered(tmp_path: Path) -> None:
    observations = observe(tmp_path, [*DISCLOSED, *UNDISCLOSED])
    assert len(observations) == 32
    assert observations.outcome_counts() == {"analysed": 30, "no_face": 1, "error": 1}
    assert group_labels(observations.dataset)[-8:] == ["undisclosed"] * 8
    assert observations.dataset.describe()["undisclosed"] == {"photos": 8, "subjects": 4}
    # Binary labels on u1, u2, u3 misgender nobody: there is no self-description to misgender.
    assert observations.misgendered[-8:].tolist() == [False] * 8
    assert int(observations.misgendered.sum()) == 5
    assert observations.disclosed.tolist() == [True] * 24 + [False] * 8


def test_misgender_gap_leaves_them_out_and_shows_their_group(tmp_path: Path) -> None:
    # Wilson limits, so that the gap's interval is statsmodels' Newcombe interval exactly.
    result = check("misgender_gap", [*DISCLOSED, *UNDISCLOSED], tmp_path, policy=replace(POLICY, interval="wilson"))
    groups = {name: rate.to_dict() for name, rate in result.groups.items()}
    assert list(groups) == ["cis", "trans", "undisclosed"]
    assert {k: groups["cis"][k] for k in ("photos", "subjects", "count", "n")} == {
        "photos": 12,
        "subjects": 12,
        "count": 1,
        "n": 12,
    }
    assert {k: groups["trans"][k] for k in ("count", "n")} == {"count": 4, "n": 12}
    # Shown with all their photos, counted in no rate; coverage counts their faces: 5 of 6 given a gender.
    assert groups["undisclosed"] == {
        "photos": 8,
        "subjects": 4,
        "count": 0,
        "n": 0,
        "rate": None,
        "ci": None,
        "undisclosed": 8,
        "abstained": 1,
        "coverage": pytest.approx(5 / 6),
        # The coverage floor reads women's and men's faces only: none here.
        "coverage_women_men": None,
    }
    # One comparison, trans vs cis, at the unadjusted level: the undisclosed group is not compared.
    assert [(c.group, c.reference) for c in result.comparisons] == [("trans", "cis")]
    low, high = confint_proportions_2indep(4, 12, 1, 12, method="newcomb", compare="diff", alpha=0.05)
    assert result.comparisons[0].ci == pytest.approx((low, high), abs=1e-9)
    assert result.comparisons[0].level == pytest.approx(0.95)
    assert any("8 photos of 4 people who did not disclose a gender identity" in note for note in result.notes)


def test_adding_undisclosed_people_changes_no_misgendering_figure(tmp_path: Path) -> None:
    for check_id in ("misgender_gap", "confidence_calibration", "same_person_consistency"):
        without = check(check_id, DISCLOSED, tmp_path / check_id / "without")
        with_them = check(check_id, [*DISCLOSED, *UNDISCLOSED], tmp_path / check_id / "with")
        for name in ("cis", "trans"):
            before, after = without.groups[name], with_them.groups[name]
            assert (after.count, after.n, after.rate, after.ci) == (before.count, before.n, before.rate, before.ci)
        assert [c.to_dict() for c in with_them.comparisons] == [c.to_dict() for c in without.comparisons]
        assert with_them.verdict == without.verdict


def test_detection_failure_gap_counts_them_in_their_own_group(tmp_path: Path) -> None:
    result = check("detection_failure_gap", [*DISCLOSED, *UNDISCLOSED], tmp_path)
    undisclosed = result.groups["undisclosed"]
    assert (undisclosed.photos, undisclosed.subjects, undisclosed.count, undisclosed.n) == (8, 4, 2, 8)
    assert dict(undisclosed.extra) == {"no_face": 1, "error": 1}
    assert {c.group for c in result.comparisons if c.reference != "none (ceiling)"} == {"trans", "undisclosed"}


def test_same_person_consistency_does_not_count_their_label_changes(tmp_path: Path) -> None:
    # Two cis people with two photos, one labelled Female then Male: 1 of 2 changed. u1's change is not counted.
    shots = [
        shot("c1", "woman", "no", "Female"),
        shot("c1", "woman", "no", "Male"),
        shot("c2", "woman", "no", "Female"),
        shot("c2", "woman", "no", "Female"),
        *UNDISCLOSED,
    ]
    result = check("same_person_consistency", shots, tmp_path)
    assert (result.groups["cis"].count, result.groups["cis"].n) == (1, 2)
    assert (result.groups["undisclosed"].count, result.groups["undisclosed"].n) == (0, 0)
    assert result.groups["undisclosed"].photos == 8
    assert result.comparisons == ()


def test_confidence_calibration_judges_no_label_of_theirs(tmp_path: Path) -> None:
    result = check("confidence_calibration", [*DISCLOSED, *UNDISCLOSED], tmp_path)
    undisclosed = result.groups["undisclosed"]
    assert (undisclosed.count, undisclosed.n, undisclosed.rate) == (0, 0, None)
    assert undisclosed.extra["accuracy"] is None
    assert undisclosed.extra["mean_confidence"] is None
    # cis: 11 of 12 right at confidence 0.90 -> overconfidence 0.90 - 11/12.
    assert result.groups["cis"].rate == pytest.approx(0.90 - 11 / 12)


def test_nonbinary_representability_counts_only_nonbinary_people(tmp_path: Path) -> None:
    shots = [*people("n", 3, identity="nonbinary", trans="", misgendered=2), *DISCLOSED, *UNDISCLOSED]
    result = check("nonbinary_representability", shots, tmp_path)
    nonbinary = result.groups["nonbinary"]
    assert (nonbinary.photos, nonbinary.subjects, nonbinary.count, nonbinary.n) == (3, 3, 2, 3)


def test_with_another_grouping_their_photos_count_in_their_group_but_not_in_its_rate(tmp_path: Path) -> None:
    shots = [
        *people("c", 6, identity="woman", trans="no", misgendered=1, skin="lighter"),
        *people("t", 6, identity="woman", trans="yes", misgendered=2, skin="darker"),
        shot("u1", "prefer not to say", "", "Male", skin="lighter"),
        shot("u1", "prefer not to say", "", "Male", skin="lighter"),
        shot("u2", "unknown", "", "Female", skin="darker"),
    ]
    observations = observe(tmp_path, shots)
    groups = group_labels(observations.dataset, by=["skin"])
    result = run_check("misgender_gap", observations, groups=groups, reference="lighter", policy=POLICY, seed=SEED)
    assert list(result.groups) == ["lighter", "darker"]
    lighter, darker = result.groups["lighter"], result.groups["darker"]
    assert (lighter.photos, lighter.subjects, lighter.count, lighter.n, lighter.extra["undisclosed"]) == (8, 7, 1, 6, 2)
    assert (darker.photos, darker.subjects, darker.count, darker.n, darker.extra["undisclosed"]) == (7, 7, 2, 6, 1)


def test_an_undisclosed_reference_is_refused_for_misgendering_but_fine_for_detection(tmp_path: Path) -> None:
    observations = observe(tmp_path, [*DISCLOSED, *UNDISCLOSED])
    groups = group_labels(observations.dataset)
    with pytest.raises(ConformanceError, match="reference group 'undisclosed' holds only people who did not disclose"):
        run_check("misgender_gap", observations, groups=groups, reference="undisclosed", policy=POLICY, seed=SEED)
    result = run_check(
        "detection_failure_gap", observations, groups=groups, reference="undisclosed", policy=POLICY, seed=SEED
    )
    assert result.groups["undisclosed"].count == 2


def test_the_coverage_floor_reads_women_and_men_only(tmp_path: Path) -> None:
    # 200 cis and 200 trans women, all labelled right, one photo each; in the lighter group 30 photos of
    # 10 people who did not disclose an identity get no gender. The floor (min_coverage 0.9) reads the faces
    # of women and men: 200 of 200 labelled, so the gap may pass. Coverage of every face found is 200/230.
    shots = [
        *people("c", 200, identity="woman", trans="no", skin="lighter"),
        *people("t", 200, identity="woman", trans="yes", skin="darker"),
        *(
            shot(f"u{i}", "prefer not to say", "", None, confidence=None, skin="lighter")
            for i in range(10)
            for _ in range(3)
        ),
    ]
    observations = observe(tmp_path, shots)
    groups = group_labels(observations.dataset, by=["skin"])
    result = run_check("misgender_gap", observations, groups=groups, reference="lighter", policy=POLICY, seed=SEED)
    lighter = result.groups["lighter"]
    assert (lighter.photos, lighter.n, lighter.extra["undisclosed"], lighter.extra["abstained"]) == (230, 200, 30, 30)
    assert lighter.extra["coverage"] == pytest.approx(200 / 230)  # below 0.9: undisclosed faces count here
    assert lighter.extra["coverage_women_men"] == 1.0  # ... and not here
    # Clopper-Pearson: 0 of 200 has upper limit 1 - 0.025^(1/200) = 0.0183, so the gap lies within 0.05.
    assert result.comparisons[0].ci is not None
    assert max(abs(x) for x in result.comparisons[0].ci) < 0.05
    assert result.verdict == "pass"


def test_their_labelled_faces_do_not_make_a_group_look_abstained_on(tmp_path: Path) -> None:
    # Every trans woman's photos (two each) have no face found; three undisclosed people in the same
    # skin group have labelled faces. No disclosed face in "darker" is labelled because none was found,
    # not because the analyzer abstained: the comparisons say what they would say without them.
    disclosed = [
        *people("c", 12, identity="woman", trans="no", photos=2, skin="lighter"),
        *people("t", 12, identity="woman", trans="yes", no_face=12, photos=2, skin="darker"),
    ]
    hidden = [shot(f"u{i}", "prefer not to say", "", "Female", skin="darker") for i in range(3) for _ in range(2)]
    for check_id in ("same_person_consistency", "confidence_calibration"):
        outcomes = []
        for name, shots in (("without", disclosed), ("with", [*disclosed, *hidden])):
            observations = observe(tmp_path / check_id / name, shots)
            groups = group_labels(observations.dataset, by=["skin"])
            outcomes.append(
                run_check(check_id, observations, groups=groups, reference="lighter", policy=POLICY, seed=SEED)
            )
        without, with_them = outcomes
        assert [c.to_dict() for c in with_them.comparisons] == [c.to_dict() for c in without.comparisons]
        assert [c.verdict for c in with_them.comparisons] == ["inconclusive"]
        assert "darker has nothing this check counts" in with_them.comparisons[0].note
        assert "abstained" not in with_them.comparisons[0].note


# -- the CLI, as a user with a vendor's predictions file meets it ----------------------------------------------


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    cwd = tmp_path_factory.mktemp("undisclosed")
    # The vendor's predictions file has a line for every photo, the undisclosed people's too.
    manifest, predictions = write_dataset(cwd / "photos", [*DISCLOSED, *UNDISCLOSED])
    done = run(
        cwd,
        "run",
        "--dataset",
        str(manifest),
        "--analyzer",
        f"predictions:{predictions}",
        "--checks",
        "misgender_gap,detection_failure_gap",
    )
    return done, cwd


def test_cli_runs_with_their_rows_and_their_predictions(cli_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, cwd = cli_run
    # 1: the checks' verdicts (too few people to pass); 2 would be the manifest refused, as it was before.
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((cwd / "conformance-report" / "report.json").read_text())
    assert report["dataset"]["photos"] == 32
    assert report["dataset"]["undisclosed"] == {"photos": 8, "subjects": 4}
    assert sum(report["outcomes"].values()) == 32
    assert len(report["photos"]) == 32
    checks = {c["id"]: c for c in report["checks"]}
    assert checks["misgender_gap"]["groups"]["undisclosed"]["n"] == 0
    assert checks["misgender_gap"]["groups"]["undisclosed"]["photos"] == 8
    assert [c["group"] for c in checks["misgender_gap"]["comparisons"]] == ["trans"]
    failures = checks["detection_failure_gap"]["groups"]["undisclosed"]
    assert (failures["photos"], failures["count"], failures["n"]) == (8, 2, 8)


def test_cli_reports_show_the_undisclosed_group(cli_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, cwd = cli_run
    markdown = (cwd / "conformance-report" / "report.md").read_text()
    # misgender_gap: the group with its photos and no rate; detection_failure_gap: 2 of 8 failed.
    assert "| undisclosed | 8 | 4 | 0 | 0 | n/a | n/a |" in markdown
    assert "| undisclosed | 8 | 4 | 2 | 8 | 0.250 |" in markdown
    assert "8 photos of 4 people who did not disclose a gender identity" in markdown
    assert "undisclosed" in done.stdout


def test_the_policy_may_map_a_label_to_undisclosed(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.conformance.identity]\n"rather not answer" = "undisclosed"\n')
    policy = load_policy(project_root=tmp_path)
    manifest, _ = write_dataset(tmp_path / "photos", [shot("p1", "Rather not answer"), shot("p2", "woman")])
    dataset = load_dataset(manifest, identity_map=policy.identity)
    assert [p.group for p in dataset] == ["undisclosed", "cis"]


# -- rt14c F2: the kit never picks a reference group of undisclosed people only ---------------------------------


def _verdicts(cwd: Path) -> dict[str, str]:
    report = json.loads((cwd / "conformance-report" / "report.json").read_text())
    return {c["id"]: c["verdict"] for c in report["checks"]}


def test_no_cis_group_and_undisclosed_largest_the_reference_is_a_disclosed_group(tmp_path: Path) -> None:
    # 4 trans women, 3 nonbinary people, 9 undisclosed: the largest group is undisclosed, but nothing can be
    # misgendered in it; the largest group that described itself (trans, 4 people) is the reference.
    shots = [
        *people("t", 4, identity="woman", trans="yes"),
        *people("n", 3, identity="nonbinary", trans=""),
        *[shot(f"u{i}", "prefer not to say", "", "Female") for i in range(9)],
    ]
    manifest, predictions = write_dataset(tmp_path / "photos", shots)
    done = run(tmp_path, "run", "--dataset", str(manifest), "--analyzer", f"predictions:{predictions}")
    assert "reference group 'trans' chosen as the largest group" in done.stderr, done.stderr
    assert "choose another reference" not in done.stdout + done.stderr
    verdicts = _verdicts(tmp_path)
    assert "not run" not in verdicts.values(), verdicts
    assert done.returncode == 1  # the checks' own verdicts: too few people, and a binary-only vocabulary


def test_everyone_undisclosed_the_checks_that_need_a_self_description_are_not_applicable(tmp_path: Path) -> None:
    shots = [shot(f"u{i}", form, "", "Female") for i, form in enumerate(["prefer not to say", "", "declined"] * 2)]
    manifest, predictions = write_dataset(tmp_path / "photos", shots)
    done = run(tmp_path, "run", "--dataset", str(manifest), "--analyzer", f"predictions:{predictions}")
    verdicts = _verdicts(tmp_path)
    for check_id in ("misgender_gap", "same_person_consistency", "confidence_calibration"):
        assert verdicts[check_id] == "not applicable", verdicts
    assert "nobody in the dataset disclosed a gender identity" in done.stdout
    assert "choose another reference" not in done.stdout + done.stderr
