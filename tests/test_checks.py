"""The gender checks, run through the public API on datasets written from counts (see builders.py).

Every expected figure is worked out here independently of the kit: rates and counts by hand,
per-group intervals from statsmodels' ``proportion_confint``, gap intervals from statsmodels'
``confint_proportions_2indep(method="newcomb")``, p-values from scipy's ``fisher_exact``, Holm from
statsmodels' ``multipletests``, and verdicts from the rule in DESIGN.md applied to those intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from builders import RIGHT_LABEL, WRONG_LABEL, Shot, observe, people, shot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import fisher_exact, norm  # type: ignore[import-untyped]
from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped]
from statsmodels.stats.proportion import (  # type: ignore[import-untyped]
    confint_proportions_2indep,
    proportion_confint,
)

from conformance import CheckResult, group_labels, load_policy, run_check
from conformance.observation import Observations
from conformance.policy import Policy

SEED = 20261121
DEFAULT = load_policy()
TOLERANCE = 0.05
EXACT = 1e-12  # the kit delegates to the same statsmodels routines; only float noise may differ


def wilson(count: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    lo, hi = proportion_confint(count, n, alpha=1 - confidence, method="wilson")
    return float(lo), float(hi)


def clopper_pearson(count: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    lo, hi = proportion_confint(count, n, alpha=1 - confidence, method="beta")
    return float(lo), float(hi)


def newcombe(c1: int, n1: int, c2: int, n2: int, confidence: float) -> tuple[float, float]:
    lo, hi = confint_proportions_2indep(c1, n1, c2, n2, method="newcomb", compare="diff", alpha=1 - confidence)
    return float(lo), float(hi)


def rule(ci: tuple[float, float], tolerance: float = TOLERANCE) -> str:
    """DESIGN.md: fail when the interval lies above the tolerance, pass when at or below, else inconclusive."""
    if ci[0] > tolerance:
        return "fail"
    if ci[1] <= tolerance:
        return "pass"
    return "inconclusive"


def check(
    check_id: str,
    observations: Observations,
    *,
    by: Sequence[str] = (),
    reference: str = "cis",
    policy: Policy = DEFAULT,
    seed: int = SEED,
) -> CheckResult:
    return run_check(
        check_id,
        observations,
        groups=group_labels(observations.dataset, list(by)),
        reference=reference,
        policy=policy,
        seed=seed,
    )


def comparison(result: CheckResult, group: str) -> Any:
    (found,) = [c for c in result.comparisons if c.group == group]
    return found


# -- misgender_gap, one photo per subject ------------------------------------------------------------

# group: (photos, subjects, misgendered, photos with a face, abstentions), counted from the builder
# calls below: cis has 10 no-face photos and 5 errors (out of the denominator) and 15 abstentions (in it).
THREE_VERDICTS = {
    "cis": (300, 300, 12, 285, 15),
    "trans": (200, 200, 62, 200, 0),
    "nonbinary": (40, 40, 5, 40, 3),
    "unknown": (300, 300, 6, 300, 0),
}
# Built so that each verdict occurs once (checked against statsmodels below, not assumed).
INTENDED = {"trans": "fail", "nonbinary": "inconclusive", "unknown": "pass"}


@pytest.fixture(scope="module")
def three_verdicts(tmp_path_factory: pytest.TempPathFactory) -> Observations:
    shots = (
        people("cis", 300, misgendered=12, abstained=15, no_face=10, errors=5)
        + people("trans", 200, trans="yes", misgendered=62)
        + people("nb", 40, identity="nonbinary", misgendered=5, abstained=3)
        + people("unk", 300, trans="unknown", misgendered=6)
    )
    return observe(tmp_path_factory.mktemp("three-verdicts"), shots)


@pytest.fixture(scope="module")
def three_verdicts_result(three_verdicts: Observations) -> CheckResult:
    return check("misgender_gap", three_verdicts)


def test_misgender_rates_are_hand_counts_with_wilson_intervals(three_verdicts_result: CheckResult) -> None:
    result = three_verdicts_result
    assert set(result.groups) == set(THREE_VERDICTS)
    for name, (photos, subjects, count, n, abstained) in THREE_VERDICTS.items():
        rate = result.groups[name]
        assert (rate.photos, rate.subjects, rate.count, rate.n) == (photos, subjects, count, n), name
        assert rate.rate == count / n
        assert rate.ci == pytest.approx(wilson(count, n), abs=EXACT)
        assert rate.extra["abstained"] == abstained
        assert rate.extra["coverage"] == pytest.approx(1 - abstained / n)


def test_abstentions_stay_in_the_denominator_and_no_face_photos_leave_it(three_verdicts_result: CheckResult) -> None:
    cis = three_verdicts_result.groups["cis"]
    # 300 photos: 12 misgendered, 15 abstentions, 10 with no face, 5 errors, 258 gendered correctly.
    assert cis.photos == 300
    assert cis.n == 300 - 10 - 5  # abstentions are counted, no-face and error photos are not
    assert cis.count == 12  # abstaining is not misgendering
    assert cis.rate == 12 / 285


def test_misgender_gap_intervals_are_newcombe_at_the_bonferroni_level(three_verdicts_result: CheckResult) -> None:
    result = three_verdicts_result
    level = 1 - 0.05 / 3  # three groups compared with cis
    _, _, ref_count, ref_n, _ = THREE_VERDICTS["cis"]
    assert {c.group for c in result.comparisons} == {"trans", "nonbinary", "unknown"}
    for c in result.comparisons:
        _, _, count, n, _ = THREE_VERDICTS[c.group]
        assert c.reference == "cis"
        assert c.difference == pytest.approx(count / n - ref_count / ref_n, abs=EXACT)
        assert c.ci == pytest.approx(newcombe(count, n, ref_count, ref_n, level), abs=EXACT)
        assert c.tolerance == TOLERANCE
        assert "Newcombe" in c.method
    assert "Bonferroni-adjusted to 0.9833 for 3 comparisons" in result.method


def test_p_values_are_fisher_exact_with_holm_adjustment(three_verdicts_result: CheckResult) -> None:
    result = three_verdicts_result
    _, _, ref_count, ref_n, _ = THREE_VERDICTS["cis"]
    raw = []
    for c in result.comparisons:
        _, _, count, n, _ = THREE_VERDICTS[c.group]
        expected = fisher_exact([[count, n - count], [ref_count, ref_n - ref_count]]).pvalue
        assert c.p_value == pytest.approx(expected, rel=1e-9)
        raw.append(expected)
    holm = multipletests(raw, method="holm")[1]
    assert [c.p_adjusted for c in result.comparisons] == pytest.approx(list(holm), rel=1e-9)


def test_verdicts_follow_the_rule_and_each_verdict_occurs(three_verdicts_result: CheckResult) -> None:
    result = three_verdicts_result
    level = 1 - 0.05 / 3
    _, _, ref_count, ref_n, _ = THREE_VERDICTS["cis"]
    expected = {}
    for group in INTENDED:
        _, _, count, n, _ = THREE_VERDICTS[group]
        expected[group] = rule(newcombe(count, n, ref_count, ref_n, level))
    assert expected == INTENDED  # the data does land in each verdict
    assert {c.group: c.verdict for c in result.comparisons} == expected
    assert result.verdict == "fail"  # the worst of fail, inconclusive and pass
    assert result.worst_comparison is not None
    assert result.worst_comparison.group == "trans"


def test_inconclusive_comparison_states_the_smallest_detectable_gap(three_verdicts_result: CheckResult) -> None:
    result = three_verdicts_result
    for c in result.comparisons:
        assert (c.min_detectable is not None) == (c.verdict == "inconclusive")
    mdg = comparison(result, "nonbinary").min_detectable
    # The gap d solves Fleiss' sample-size equation for n_g = 40, n_r = 285, p0 = 12/285, at the
    # Bonferroni level with 80% power: d = z_a sqrt(pbar qbar (1/n_g + 1/n_r)) + z_b sqrt(p1 q1/n_g + p0 q0/n_r).
    n_g, n_r, p0 = 40, 285, 12 / 285
    p1 = p0 + mdg
    pbar = (n_g * p1 + n_r * p0) / (n_g + n_r)
    z_a, z_b = norm.ppf(1 - (0.05 / 3) / 2), norm.ppf(0.8)
    rhs = z_a * math.sqrt(pbar * (1 - pbar) * (1 / n_g + 1 / n_r)) + z_b * math.sqrt(
        p1 * (1 - p1) / n_g + p0 * (1 - p0) / n_r
    )
    assert mdg == pytest.approx(rhs, abs=1e-8)
    assert 0 < mdg < 1 - p0


def test_three_groups_make_two_comparisons_at_alpha_over_two(tmp_path: Path) -> None:
    observations = observe(
        tmp_path,
        people("cis", 100, misgendered=4)
        + people("trans", 60, trans="yes", misgendered=12)
        + people("nb", 30, identity="nonbinary", misgendered=6),
    )
    counts = {"cis": (4, 100), "trans": (12, 60), "nonbinary": (6, 30)}
    result = check("misgender_gap", observations)
    for c in result.comparisons:
        assert c.ci == pytest.approx(newcombe(*counts[c.group], *counts["cis"], 1 - 0.05 / 2), abs=EXACT)
        assert c.verdict == rule(newcombe(*counts[c.group], *counts["cis"], 1 - 0.05 / 2))
    for name, (count, n) in counts.items():
        assert result.groups[name].ci == pytest.approx(wilson(count, n), abs=EXACT)

    exact = check("misgender_gap", observations, policy=replace(DEFAULT, interval="clopper-pearson"))
    for name, (count, n) in counts.items():
        assert exact.groups[name].ci == pytest.approx(clopper_pearson(count, n), abs=EXACT)
    assert exact.method.startswith("per group: Clopper-Pearson;")
    # Clopper-Pearson is for the per-group intervals; the gap interval stays Newcombe's.
    assert [c.ci for c in exact.comparisons] == [c.ci for c in result.comparisons]


def test_check_verdict_is_the_worst_of_its_comparisons(tmp_path: Path) -> None:
    base = people("cis", 300, misgendered=12) + people("unk", 300, trans="unknown", misgendered=6)
    alone = check("misgender_gap", observe(tmp_path / "pass", base))
    assert [c.verdict for c in alone.comparisons] == [rule(newcombe(6, 300, 12, 300, 0.95))] == ["pass"]
    assert alone.verdict == "pass"
    assert "Bonferroni" not in alone.method  # one comparison: no adjustment

    mixed = check(
        "misgender_gap", observe(tmp_path / "mixed", [*base, *people("nb", 40, identity="nonbinary", misgendered=5)])
    )
    expected = {"unknown": rule(newcombe(6, 300, 12, 300, 0.975)), "nonbinary": rule(newcombe(5, 40, 12, 300, 0.975))}
    assert expected == {"unknown": "pass", "nonbinary": "inconclusive"}
    assert {c.group: c.verdict for c in mixed.comparisons} == expected
    assert mixed.verdict == "inconclusive"


def test_min_subjects_makes_a_small_group_inconclusive_with_a_note(tmp_path: Path) -> None:
    observations = observe(tmp_path, people("cis", 100) + people("trans", 6, trans="yes", misgendered=6))
    # On the interval alone this would fail: 6 of 6 against 0 of 100.
    assert rule(newcombe(6, 6, 0, 100, 0.95)) == "fail"
    result = check("misgender_gap", observations)
    trans = comparison(result, "trans")
    assert trans.verdict == "inconclusive"
    assert result.verdict == "inconclusive"
    assert "fewer than 10 subjects behind a rate (trans: 6, cis: 100)" in trans.note
    # The ci profile asks for 5 subjects, which 6 satisfies.
    assert check("misgender_gap", observations, policy=load_policy(profile="ci")).verdict == "fail"


# -- misgender_gap with repeated subjects ----------------------------------------------------------------


@pytest.fixture(scope="module")
def clustered(tmp_path_factory: pytest.TempPathFactory) -> Observations:
    # 20 people per group, 5 photos each, every person all right or all wrong: perfectly clustered.
    shots = people("cis", 20, photos=5, misgendered=1) + people("trans", 20, trans="yes", photos=5, misgendered=8)
    return observe(tmp_path_factory.mktemp("clustered"), shots)


def test_repeated_subjects_switch_the_gap_interval_to_the_subject_bootstrap(clustered: Observations) -> None:
    result = check("misgender_gap", clustered)
    assert "bootstrap over subjects" in result.method
    assert f"seed {SEED}" in result.method
    trans = comparison(result, "trans")
    assert trans.method == "bootstrap over subjects"
    # Rates are still per photo: 8 x 5 of 100 and 1 x 5 of 100.
    assert (result.groups["trans"].count, result.groups["trans"].n) == (40, 100)
    assert (result.groups["cis"].count, result.groups["cis"].n) == (5, 100)
    assert (result.groups["trans"].subjects, result.groups["cis"].subjects) == (20, 20)
    lo, hi = trans.ci
    assert lo <= 0.35 <= hi
    photo_lo, photo_hi = newcombe(40, 100, 5, 100, 0.95)
    # Treating 100 photos of 20 people as 100 independent photos understates the uncertainty.
    assert hi - lo > photo_hi - photo_lo


def test_zero_events_with_repeated_subjects_use_newcombe_on_subject_counts(tmp_path: Path) -> None:
    observations = observe(
        tmp_path, people("cis", 20, photos=3) + people("trans", 20, trans="yes", photos=3, misgendered=6)
    )
    trans = comparison(check("misgender_gap", observations), "trans")
    assert trans.method == "Newcombe on subject counts"
    # 6 of 20 people against 0 of 20 people.
    assert trans.ci == pytest.approx(newcombe(6, 20, 0, 20, 0.95), abs=EXACT)
    assert trans.ci[1] - trans.ci[0] > 0.1  # not the zero-width interval a bootstrap would give


def test_same_seed_gives_identical_results(clustered: Observations) -> None:
    first = check("misgender_gap", clustered, seed=7)
    again = check("misgender_gap", clustered, seed=7)
    assert first.to_dict() == again.to_dict()


def test_other_seeds_keep_the_verdict_of_a_clear_cut_case(tmp_path: Path) -> None:
    observations = observe(
        tmp_path,
        people("cis", 20, photos=4, misgendered=1) + people("trans", 20, trans="yes", photos=4, misgendered=16),
    )
    results = [check("misgender_gap", observations, seed=seed) for seed in (1, 2, 3)]
    assert all("bootstrap over subjects" in r.method for r in results)
    assert [r.verdict for r in results] == ["fail", "fail", "fail"]
    for seed, r in zip((1, 2, 3), results, strict=True):
        assert f"seed {seed}" in r.method
        lo, hi = comparison(r, "trans").ci
        assert 0.05 < lo <= 0.75 <= hi  # the bounds may move with the seed; the verdict does not


# -- nonbinary_representability ---------------------------------------------------------------------------

BINARY_ONLY = {"analyzer": "binary", "vocabulary": ["Male", "Female"]}
WITH_NONBINARY = {"analyzer": "open", "vocabulary": ["Male", "Female", "Nonbinary"]}
ABSTAINS = {"analyzer": "abstainer", "vocabulary": ["Male", "Female"], "abstains": True}


def nonbinary_people() -> list[Shot]:
    """13 nonbinary people; 12 have a face found on some photo, 6 of those got a binary label."""
    nb = "nonbinary"
    shots = []
    for i in range(4):  # binary label on both photos
        shots += [shot(f"nb{i}", nb, "no", "Female"), shot(f"nb{i}", nb, "no", "Female")]
    shots += [shot("nb4", nb, "no", "Female"), shot("nb4", nb, "no", "Nonbinary")]  # binary on one photo
    shots += [shot("nb5", nb, "no", None), shot("nb5", nb, "no", "Male")]  # an abstention, then binary
    for i in (6, 7, 8):  # never a binary label
        shots += [shot(f"nb{i}", nb, "no", "Nonbinary"), shot(f"nb{i}", nb, "no", "Nonbinary")]
    for i in (9, 10):  # abstentions only: not given a binary label
        shots += [shot(f"nb{i}", nb, "no", None), shot(f"nb{i}", nb, "no", None)]
    shots += [shot("nb11", nb, "no", outcome="no_face"), shot("nb11", nb, "no", outcome="error")]  # never seen
    shots += [shot("nb12", nb, "no", "Nonbinary"), shot("nb12", nb, "no", outcome="no_face")]
    # Binary people given the other label do not enter this check.
    return shots + people("cis", 5, misgendered=5)


def test_binary_vocabulary_fails_statically_before_any_photo(tmp_path: Path) -> None:
    observations = observe(tmp_path, people("cis", 12), header=BINARY_ONLY)  # no nonbinary people at all
    result = check("nonbinary_representability", observations)
    static = result.details["static"]
    assert static["verdict"] == "fail"
    assert "only binary labels" in static["reason"]
    assert result.verdict == "fail"
    assert result.comparisons == ()


@pytest.mark.parametrize("header", [WITH_NONBINARY, ABSTAINS], ids=["nonbinary-label", "abstains"])
def test_vocabulary_with_a_nonbinary_label_or_abstention_passes_statically(
    tmp_path: Path, header: dict[str, Any]
) -> None:
    observations = observe(tmp_path, people("cis", 12), header=header)
    result = check("nonbinary_representability", observations)
    assert result.details["static"]["verdict"] == "pass"
    # Nobody nonbinary was photographed: the empirical half cannot be shown either way.
    assert result.comparisons == ()
    assert result.verdict == "inconclusive"
    assert any("no nonbinary subjects" in note and "inconclusive" in note for note in result.notes)


def test_share_of_nonbinary_subjects_given_a_binary_label(tmp_path: Path) -> None:
    observations = observe(tmp_path, nonbinary_people(), header=WITH_NONBINARY)
    result = check("nonbinary_representability", observations)
    group = result.groups["nonbinary"]
    # nb0-nb5 got a binary label on some photo; nb0-nb10 and nb12 had a face found; nb11 never did.
    assert (group.count, group.n, group.subjects, group.photos) == (6, 12, 12, 26)
    assert group.rate == 6 / 12
    assert group.ci == pytest.approx(wilson(6, 12), abs=EXACT)
    (c,) = result.comparisons
    assert c.ci == pytest.approx(wilson(6, 12), abs=EXACT)
    assert c.verdict == rule(wilson(6, 12)) == "fail"
    assert result.verdict == "fail"

    exact = check("nonbinary_representability", observations, policy=replace(DEFAULT, interval="clopper-pearson"))
    assert exact.groups["nonbinary"].ci == pytest.approx(clopper_pearson(6, 12), abs=EXACT)


def test_few_nonbinary_subjects_leave_the_empirical_part_inconclusive(tmp_path: Path) -> None:
    shots = [shot(f"nb{i}", "nonbinary", "no", "Female") for i in range(4)]
    result = check("nonbinary_representability", observe(tmp_path, shots, header=ABSTAINS))
    (c,) = result.comparisons
    assert rule(wilson(4, 4)) == "fail"  # would fail on the interval alone
    assert c.verdict == "inconclusive"
    assert "fewer than 10 nonbinary subjects" in c.note
    assert result.verdict == "inconclusive"


# -- same_person_consistency -----------------------------------------------------------------------------


def consistency_people() -> list[Shot]:
    shots = []
    for i in range(9):  # cis c0-c8: the same label twice
        shots += [shot(f"c{i}", "woman", "no", "Female")] * 2
    shots += [shot("c9", "woman", "no", "Female"), shot("c9", "woman", "no", "Male")]  # changed
    shots += [shot("c10", "woman", "no", "Female")] * 2 + [shot("c10", "woman", "no", None)]  # abstention: no change
    shots += [shot("c11", "woman", "no", "Female"), shot("c11", "woman", "no", None)]  # one labelled photo
    shots += [shot("c12", "woman", "no", "Female"), shot("c12", "woman", "no", outcome="no_face")]  # one labelled
    shots += [shot("c13", "woman", "no", "Male")]  # one photo
    shots += [
        shot("c14", "woman", "no", "Male"),
        shot("c14", "woman", "no", "Female"),
        shot("c14", "woman", "no", "Female"),
    ]
    for i in range(6):  # trans t0-t5: changed
        shots += [shot(f"t{i}", "woman", "yes", "Female"), shot(f"t{i}", "woman", "yes", "Male")]
    for i in range(6, 10):  # trans t6-t9: the same label twice
        shots += [shot(f"t{i}", "woman", "yes", "Female")] * 2
    shots += [shot("t10", "woman", "yes", None)] * 2 + [shot("t10", "woman", "yes", "Female")]  # one labelled
    shots += [shot("t11", "woman", "yes", "Male")] * 2  # consistently wrong is still consistent
    shots += [
        shot("t12", "woman", "yes", "Female"),
        shot("t12", "woman", "yes", outcome="error"),
        shot("t12", "woman", "yes", "Male"),
    ]
    return shots


def test_same_person_consistency_counts_subjects_whose_label_changes(tmp_path: Path) -> None:
    result = check("same_person_consistency", observe(tmp_path, consistency_people()))
    cis, trans = result.groups["cis"], result.groups["trans"]
    # cis: eligible c0-c10 and c14 (12); changed c9 and c14. c11, c12, c13 have one labelled photo.
    assert (cis.count, cis.n, cis.subjects, cis.photos) == (2, 12, 15, 31)
    # trans: eligible t0-t9, t11, t12 (12); changed t0-t5 and t12. t10 has one labelled photo.
    assert (trans.count, trans.n, trans.subjects, trans.photos) == (7, 12, 13, 28)
    assert cis.rate == 2 / 12
    assert trans.rate == 7 / 12
    assert cis.ci == pytest.approx(wilson(2, 12), abs=EXACT)
    assert trans.ci == pytest.approx(wilson(7, 12), abs=EXACT)
    c = comparison(result, "trans")
    assert c.ci == pytest.approx(newcombe(7, 12, 2, 12, 0.95), abs=EXACT)
    assert c.verdict == rule(newcombe(7, 12, 2, 12, 0.95))


def test_min_subjects_counts_the_subjects_the_rate_is_measured_on(tmp_path: Path) -> None:
    shots = []
    for i in range(12):  # cis: 12 people, two consistent photos each
        shots += [shot(f"c{i}", "woman", "no", "Female")] * 2
    for i in range(3):  # trans: 3 people with two photos, each gendered differently across them
        shots += [shot(f"t{i}", "woman", "yes", "Female"), shot(f"t{i}", "woman", "yes", "Male")]
    shots += [shot(f"t{i}", "woman", "yes", "Female") for i in range(3, 15)]  # 12 more with one photo each
    result = check("same_person_consistency", observe(tmp_path, shots))
    assert result.groups["trans"].n == 3
    assert comparison(result, "trans").verdict == "inconclusive"


# -- confidence_calibration ------------------------------------------------------------------------------

# cohort: confidences (0-100) of photos labelled correctly, and of photos misgendered.
CALIBRATION = {
    "A": ([95, 95, 92, 88, 85, 85, 75, 72, 65], [55]),
    "B": ([99, 99, 98, 97, 96, 95], [98, 97, 96, 94]),  # less accurate and more confident than A
    "C": ([62, 64, 66, 58, 56], [52, 54, 57, 61, 63]),  # less accurate, less confident
    "D": ([99, 99, 99, 99, 99, 99, 99, 99, 99, 99], []),  # more accurate, more confident
}


def calibration_people() -> list[Shot]:
    shots = []
    for cohort, (right, wrong) in CALIBRATION.items():
        for i, conf in enumerate(right):
            shots.append(shot(f"{cohort}r{i}", "woman", "no", "Female", confidence=conf, cohort=cohort))
        for i, conf in enumerate(wrong):
            shots.append(shot(f"{cohort}w{i}", "woman", "no", "Male", confidence=conf, cohort=cohort))
    # Photos that must not enter calibration: an abstention, a label without a confidence, no face.
    shots.append(shot("Ax1", "woman", "no", None, confidence=40, cohort="A"))
    shots.append(shot("Ax2", "woman", "no", "Male", confidence=None, cohort="A"))
    shots.append(shot("Ax3", "woman", "no", outcome="no_face", cohort="A"))
    return shots


def hand_calibration(right: list[int], wrong: list[int]) -> dict[str, float | None]:
    pairs = [(c / 100, True) for c in right] + [(c / 100, False) for c in wrong]
    n = len(pairs)
    confidences = [c for c, _ in pairs]
    ece = 0.0
    for b in range(10):  # ten equal-width bins on [0, 1]; none of the confidences above sits on an edge
        members = [(c, ok) for c, ok in pairs if b / 10 < c < (b + 1) / 10]
        if members:
            accuracy = sum(ok for _, ok in members) / len(members)
            mean = sum(c for c, _ in members) / len(members)
            ece += len(members) / n * abs(accuracy - mean)
    return {
        "accuracy": len(right) / n,
        "mean_confidence": sum(confidences) / n,
        "mean_confidence_right": sum(right) / 100 / len(right) if right else None,
        "mean_confidence_wrong": sum(wrong) / 100 / len(wrong) if wrong else None,
        "calibration_error": ece,
    }


@pytest.fixture(scope="module")
def calibration(tmp_path_factory: pytest.TempPathFactory) -> CheckResult:
    observations = observe(tmp_path_factory.mktemp("calibration"), calibration_people())
    return check("confidence_calibration", observations, by=["cohort"], reference="A")


def test_calibration_figures_per_group_equal_hand_computation(calibration: CheckResult) -> None:
    for cohort, (right, wrong) in CALIBRATION.items():
        expected = hand_calibration(right, wrong)
        group = calibration.groups[cohort]
        assert group.n == len(right) + len(wrong), cohort
        assert group.count == len(wrong)
        for key, value in expected.items():
            assert group.extra[key] == (None if value is None else pytest.approx(value, abs=1e-12)), (cohort, key)
        # The measure is overconfidence: mean confidence minus the share labelled correctly.
        assert group.rate == pytest.approx(expected["mean_confidence"] - expected["accuracy"], abs=1e-12)
    assert calibration.groups["A"].photos == 13  # ten calibrated photos and three that do not count


def test_more_confident_yet_more_wrong_is_flagged_exactly_when_it_holds(calibration: CheckResult) -> None:
    ref = hand_calibration(*CALIBRATION["A"])
    expected = []
    for cohort in ("B", "C", "D"):
        figures = hand_calibration(*CALIBRATION[cohort])
        if figures["accuracy"] < ref["accuracy"] and figures["mean_confidence"] > ref["mean_confidence"]:
            expected.append(cohort)
    assert expected == ["B"]
    assert calibration.details["more_confident_yet_more_wrong"] == expected
    flags = [note for note in calibration.notes if "more confident yet more wrong" in note]
    assert len(flags) == 1
    assert flags[0].startswith("B is more confident yet more wrong than A")


# -- detection_failure_gap -------------------------------------------------------------------------------


def test_detection_failures_count_no_face_and_errors(tmp_path: Path) -> None:
    observations = observe(
        tmp_path,
        people("cis", 50, misgendered=4, abstained=2, no_face=2, errors=1)
        + people("trans", 40, trans="yes", no_face=6, errors=4),
    )
    result = check("detection_failure_gap", observations)
    cis, trans = result.groups["cis"], result.groups["trans"]
    assert (cis.count, cis.n, cis.extra["no_face"], cis.extra["error"]) == (3, 50, 2, 1)
    assert (trans.count, trans.n, trans.extra["no_face"], trans.extra["error"]) == (10, 40, 6, 4)
    assert cis.rate == 3 / 50
    assert trans.rate == 10 / 40
    assert cis.ci == pytest.approx(wilson(3, 50), abs=EXACT)
    c = comparison(result, "trans")
    assert c.ci == pytest.approx(newcombe(10, 40, 3, 50, 0.95), abs=EXACT)
    assert c.verdict == rule(newcombe(10, 40, 3, 50, 0.95))


# -- grouping by manifest columns ------------------------------------------------------------------------

# (skin_type, identity): (subjects, misgendered)
SKIN = {
    ("lighter", "woman"): (30, 2),
    ("lighter", "man"): (30, 0),
    ("darker", "woman"): (30, 9),
    ("darker", "man"): (30, 3),
}


@pytest.fixture(scope="module")
def skin(tmp_path_factory: pytest.TempPathFactory) -> Observations:
    shots = []
    for (tone, identity), (n, wrong) in SKIN.items():
        shots += people(f"{tone}-{identity}", n, identity=identity, misgendered=wrong, skin_type=tone)
    return observe(tmp_path_factory.mktemp("skin"), shots)


def test_grouping_by_a_manifest_column(skin: Observations) -> None:
    result = check("misgender_gap", skin, by=["skin_type"], reference="lighter")
    assert set(result.groups) == {"lighter", "darker"}
    assert (result.groups["lighter"].count, result.groups["lighter"].n) == (2, 60)
    assert (result.groups["darker"].count, result.groups["darker"].n) == (12, 60)
    (c,) = result.comparisons
    assert (c.group, c.reference) == ("darker", "lighter")
    assert c.ci == pytest.approx(newcombe(12, 60, 2, 60, 0.95), abs=EXACT)


def test_grouping_by_an_intersection_of_columns(skin: Observations) -> None:
    result = check("misgender_gap", skin, by=["skin_type", "identity"], reference="lighter & man")
    expected = {f"{tone} & {identity}": counts for (tone, identity), counts in SKIN.items()}
    assert set(result.groups) == set(expected)
    for name, (n, wrong) in expected.items():
        assert (result.groups[name].count, result.groups[name].n) == (wrong, n)
    for c in result.comparisons:
        n, wrong = expected[c.group]
        assert c.ci == pytest.approx(newcombe(wrong, n, 0, 30, 1 - 0.05 / 3), abs=EXACT)
        assert c.verdict == rule(newcombe(wrong, n, 0, 30, 1 - 0.05 / 3))


ANSWERS = ("right", "wrong", "abstain", "no_face", "error")
NEW_NAMES = ("zeta", "alpha", "mu", "beta")


@st.composite
def cohorts(draw: st.DrawFn) -> list[Shot]:
    """2-4 cohorts of 1-5 people with 1-3 photos each and any answers; cohort c0 always present."""
    shots = []
    for g in range(draw(st.integers(2, 4))):
        for j in range(draw(st.integers(1, 5))):
            identity = draw(st.sampled_from(["woman", "man", "nonbinary"]))
            for _ in range(draw(st.integers(1, 3))):
                answer = draw(st.sampled_from(ANSWERS))
                label = {"right": RIGHT_LABEL[identity], "wrong": WRONG_LABEL[identity]}.get(answer)
                outcome = answer if answer in ("no_face", "error") else "analysed"
                confidence = draw(st.sampled_from([55.0, 75.0, 95.0, 99.5]))
                shots.append(
                    shot(f"c{g}-{j}", identity, "no", label, confidence=confidence, outcome=outcome, cohort=f"c{g}")
                )
    return shots


def comparable(result: CheckResult, rename: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A result's figures keyed by (renamed) group name, without the free-text notes that name groups."""
    groups = {rename.get(name, name): rate.to_dict() for name, rate in result.groups.items()}
    comparisons = {}
    for c in result.comparisons:
        figures = c.to_dict()
        for key in ("group", "reference", "note"):
            figures.pop(key)
        comparisons[rename.get(c.group, c.group)] = figures
    return groups, comparisons, result.verdict


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shots=cohorts(), names=st.permutations(NEW_NAMES))
def test_renaming_groups_permutes_the_results(shots: list[Shot], names: list[str]) -> None:
    policy = replace(DEFAULT, min_subjects=1, bootstrap=200)
    with TemporaryDirectory() as directory:
        observations = observe(Path(directory), shots)
    groups = group_labels(observations.dataset, ["cohort"])
    rename = {f"c{i}": name for i, name in enumerate(names)}
    renamed = [rename[g] for g in groups]
    for check_id in ("misgender_gap", "detection_failure_gap", "same_person_consistency", "confidence_calibration"):
        before = run_check(check_id, observations, groups=groups, reference="c0", policy=policy, seed=SEED)
        after = run_check(check_id, observations, groups=renamed, reference=rename["c0"], policy=policy, seed=SEED)
        assert comparable(before, rename) == comparable(after, {}), check_id
        assert {c.reference for c in after.comparisons} <= {rename["c0"]}
        flagged = before.details.get("more_confident_yet_more_wrong", [])
        assert sorted(rename[g] for g in flagged) == sorted(after.details.get("more_confident_yet_more_wrong", []))
