"""Red team 13c: verdicts on lopsided designs (a small group with many photos a person against a large one).

Every expected figure is worked out here from its definition with scipy (Clopper-Pearson limits are beta
quantiles), never read back from the kit.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from builders import Shot, observe, people, shot
from scipy.stats import beta  # type: ignore[import-untyped]

from conformance import CheckResult, group_labels, load_dataset, load_policy, run_check
from conformance.errors import ManifestError, PolicyError
from conformance.observation import Observations
from conformance.policy import Policy
from conformance.stats import clustered_rate, rate_bounds

DEFAULT = load_policy()
ONE_EVENT = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]  # misgendered photos per person, 40 photos each (finding 1's example)


def one_event_group() -> list[Shot]:
    """Ten trans women with 40 photos each; the fourth is misgendered on one photo."""
    shots = people("tr", 10, trans="yes", photos=40, confidence=97.0)
    index = next(i for i, s in enumerate(shots) if s.subject == "tr-0003")
    shots[index] = shot("tr-0003", "woman", "yes", "Male", confidence=97.0)
    return shots


def test_one_person_showing_the_event_leaves_no_degrees_of_freedom() -> None:
    r = clustered_rate(ONE_EVENT, [40] * 10)
    # Only the person in whom the event was seen says how alike a person's photos are: one person, 0 df.
    assert (r.df, r.person_df) == (0.0, 0.0)
    # So the group is worth its people: Kish's floor 400^2 / (10 * 40^2) = 10 units, 0.025 events on them.
    upper = float(beta.ppf(0.975, 0.025 + 1.0, 10.0 - 0.025))
    assert rate_bounds(r, 0.025)[1] == pytest.approx(upper, rel=1e-9)
    assert upper > 0.3  # was 0.0347: ten people read as 112 independent photos


def test_two_people_showing_the_event_leave_one_degree_of_freedom() -> None:
    r = clustered_rate([0, 0, 0, 1, 0, 0, 2, 0, 0, 0], [40] * 10)
    assert r.df <= 1.0
    assert r.person_df <= 1.0
    # Near a rate of 1 the people in whom it was missed are the few: the same rule from the other side.
    flipped = clustered_rate([40, 40, 40, 39, 40, 40, 38, 40, 40, 40], [40] * 10)
    assert flipped.df <= 1.0
    assert flipped.person_df <= 1.0


def test_ten_people_with_one_misgendered_photo_among_400_do_not_pass_against_300(tmp_path: Path) -> None:
    # Red team 13c finding 1: CI (-0.0003, 0.0347) PASSED; the true rate in its simulation was 0.05.
    shots = people("cis", 300, confidence=97.0) + one_event_group()
    observations = observe(tmp_path, shots)
    result = run_check(
        "misgender_gap", observations, groups=group_labels(observations.dataset, []), reference="cis",
        policy=DEFAULT, seed=1,
    )  # fmt: skip
    (row,) = result.comparisons
    assert (result.groups["trans"].count, result.groups["trans"].n) == (1, 400)
    assert row.verdict == "inconclusive"
    # The gap's upper limit: the trans group's (on 10 units, above) with the reference's lower limit 0 (0 of 300).
    assert row.ci is not None
    assert row.ci[1] == pytest.approx(float(beta.ppf(0.975, 1.025, 9.975)), rel=1e-6)


# -- finding 6: a check excused by the vendor's own declaration -------------------------------------------


def declared_without_confidence(tmp_path: Path) -> Observations:
    """60 cis and 60 trans women, all labelled right, no confidence, from an analyzer declaring it gives none."""
    shots = people("cis", 60, confidence=None) + people("tr", 60, trans="yes", confidence=None)
    header = {"analyzer": "rt13c", "version": "1", "abstains": True, "gives_confidence": False}
    return observe(tmp_path, shots, header=header)


def calibration(observations: Observations, policy: Policy) -> CheckResult:
    groups = group_labels(observations.dataset, [])
    return run_check("confidence_calibration", observations, groups=groups, reference="cis", policy=policy, seed=0)


def test_a_check_excused_by_the_analyzers_declaration_says_so(tmp_path: Path) -> None:
    result = calibration(declared_without_confidence(tmp_path), DEFAULT)
    assert result.verdict == "not applicable"
    assert any(note.startswith("not applicable by the analyzer's declaration") for note in result.notes)
    assert all("by the analyzer's declaration" in c.note for c in result.comparisons)


def test_procurement_accepts_no_self_declared_exemption(tmp_path: Path) -> None:
    procurement = load_policy(profile="procurement")
    assert procurement.declarations == "inconclusive"
    result = calibration(declared_without_confidence(tmp_path), procurement)
    assert result.verdict == "inconclusive"
    assert any("accepts no self-declared exemption" in note for note in result.notes)
    # The same policy told to trust declarations excuses it again: the policy, not the profile name, decides.
    trusting = calibration(
        declared_without_confidence(tmp_path / "again"), replace(procurement, declarations="trusted")
    )
    assert trusting.verdict == "not applicable"


def test_the_declarations_key_takes_trusted_or_inconclusive(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[tool.conformance]\ndeclarations = "inconclusive"\n', encoding="utf-8")
    assert load_policy(path).declarations == "inconclusive"
    path.write_text('[tool.conformance]\ndeclarations = "ignored"\n', encoding="utf-8")
    with pytest.raises(PolicyError, match="declarations = 'ignored'; choose one of trusted, inconclusive"):
        load_policy(path)


# -- finding 7: one image listed under two people ----------------------------------------------------------


def manifest_of(tmp_path: Path, rows: list[tuple[str, str]], images: dict[str, bytes]) -> Path:
    for name, data in images.items():
        (tmp_path / name).write_bytes(data)
    lines = ["photo,subject,gender_identity,trans", *(f"{photo},{subject},woman,yes" for photo, subject in rows)]
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "manifest.csv"


def png(colour: tuple[int, int, int]) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_one_image_under_two_subject_ids_is_refused_naming_both_rows(tmp_path: Path) -> None:
    same = png((10, 20, 30))
    rows = [("a.png", "p1"), ("b.png", "p2"), ("c.png", "p3")]
    manifest = manifest_of(tmp_path, rows, {"a.png": png((1, 2, 3)), "b.png": same, "c.png": same})
    with pytest.raises(ManifestError) as caught:
        load_dataset(manifest)
    message = str(caught.value)
    # Row 1 is the header: b.png is row 3, c.png row 4.
    assert "row 4: photo 'c.png' (subject 'p3') is byte-identical to photo 'b.png' at row 3 (subject 'p2')" in message
    assert "give both rows one subject id" in message


def test_the_same_image_twice_under_one_subject_is_only_another_photo_of_them(tmp_path: Path) -> None:
    same = png((10, 20, 30))
    manifest = manifest_of(tmp_path, [("a.png", "p1"), ("b.png", "p1")], {"a.png": same, "b.png": same})
    assert load_dataset(manifest).subjects == 1


# -- finding 3: missing data is shown, never compared ------------------------------------------------------


def perfect(extra: list[Shot]) -> list[Shot]:
    """200 cis and 200 trans women, every photo gendered right, and the extra people."""
    return people("cis", 200, confidence=97.0) + people("tr", 200, trans="yes", confidence=97.0) + extra


def run_default(check_id: str, observations: Observations) -> CheckResult:
    groups = group_labels(observations.dataset, [])
    return run_check(check_id, observations, groups=groups, reference="cis", policy=DEFAULT, seed=0)


def test_one_person_who_did_not_disclose_does_not_hold_a_perfect_run(tmp_path: Path) -> None:
    # Red team 13c: detection_failure_gap "undisclosed vs cis" inconclusive (1 person < min_subjects), exit 1.
    undisclosed = [shot("und-0", "", "", "Female", confidence=97.0) for _ in range(3)]
    result = run_default("detection_failure_gap", observe(tmp_path, perfect(undisclosed)))
    assert result.verdict == "pass"
    assert result.groups["undisclosed"].subjects == 1  # shown and counted
    rows = [c for c in result.comparisons if "undisclosed" in (c.group, c.reference)]
    assert rows
    assert {c.verdict for c in rows} == {"not applicable"}
    assert "1 person who did not disclose a gender identity" in rows[0].note


@pytest.mark.parametrize("unknown", [9, 15])
def test_more_people_of_unknown_trans_status_cannot_turn_a_pass_into_a_fail(tmp_path: Path, unknown: int) -> None:
    # Red team 13c: 9 such people passed a perfect analyzer, 15 failed it (compared from min_subjects up).
    shots = perfect(people("unk", unknown, trans="unknown", confidence=97.0))
    result = run_default("misgender_gap", observe(tmp_path, shots))
    assert result.verdict == "pass"
    assert result.groups["unknown"].subjects == unknown
