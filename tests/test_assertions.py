"""The assert_* helpers: what a failure says, how inconclusive maps to pytest, and the named helpers
on fair and on unfair data. Figures in messages are checked against statsmodels and hand counts.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from builders import Shot, observe, people, shot
from statsmodels.stats.proportion import proportion_confint  # type: ignore[import-untyped]

from conformance import (
    CheckResult,
    ConformanceFailure,
    assert_calibrated,
    assert_check,
    assert_consistent_across_photos,
    assert_no_detection_failure_gap,
    assert_no_misgender_gap,
    assert_nonbinary_representable,
    assert_result,
    group_labels,
    load_policy,
    run_check,
)
from conformance.observation import Observations
from conformance.results import Comparison

SEED = 20261121


def misgender(observations: Observations) -> CheckResult:
    return run_check(
        "misgender_gap",
        observations,
        groups=group_labels(observations.dataset),
        reference="cis",
        policy=load_policy(),
        seed=SEED,
    )


def fmt(value: float) -> str:
    return f"{value:.3f}"


def clopper_pearson(count: int, n: int) -> tuple[float, float]:
    lo, hi = proportion_confint(count, n, alpha=0.05, method="beta")
    return float(lo), float(hi)


def hybrid(c1: int, n1: int, c2: int, n2: int) -> tuple[float, float]:
    """Newcombe's hybrid rule on Clopper-Pearson limits, written out."""
    (l1, u1), (l2, u2) = clopper_pearson(c1, n1), clopper_pearson(c2, n2)
    p1, p2 = c1 / n1, c2 / n2
    return p1 - p2 - math.hypot(p1 - l1, u2 - p2), p1 - p2 + math.hypot(u1 - p1, p2 - l2)


# -- the failure message ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unfair(tmp_path_factory: pytest.TempPathFactory) -> Observations:
    # cis: 100 photos, 3 with no face, 4 misgendered; trans: 60, 20 misgendered; nonbinary: 30, 2 misgendered.
    shots = (
        people("cis", 100, misgendered=4, no_face=3)
        + people("trans", 60, trans="yes", misgendered=20)
        + people("nb", 30, identity="nonbinary", misgendered=2)
    )
    return observe(tmp_path_factory.mktemp("unfair"), shots)


def test_failure_is_an_assertion_error_carrying_the_result(unfair: Observations) -> None:
    result = misgender(unfair)
    with pytest.raises(ConformanceFailure) as caught:
        assert_result(result)
    assert isinstance(caught.value, AssertionError)
    assert caught.value.result is result


def test_failure_headline_names_the_worst_gap_and_the_tolerance(unfair: Observations) -> None:
    with pytest.raises(ConformanceFailure) as caught:
        assert_result(misgender(unfair))
    headline = str(caught.value).splitlines()[0]
    # The largest failing disparity: trans 20/60 against cis 4/97 (against nonbinary 2/30 it is smaller).
    lo, hi = hybrid(20, 60, 4, 97)
    gap = 20 / 60 - 4 / 97
    assert headline.startswith(
        f"misgender_gap FAILED: trans vs cis gap {fmt(gap)} [{fmt(lo)}, {fmt(hi)}] exceeds tolerance 0.05"
    )
    assert "Newcombe" in headline


def test_failure_table_has_one_row_per_group_and_marks_the_worst(unfair: Observations) -> None:
    with pytest.raises(ConformanceFailure) as caught:
        assert_result(misgender(unfair))
    lines = str(caught.value).splitlines()
    # The console table has the denominator (photos with a face) beside the count (issue 14 item 11).
    assert lines[1].split() == ["group", "photos", "subjects", "misgendered", "n", "rate", "95%", "CI"]
    # group: photos, subjects, misgendered, photos with a face
    hand = {"cis": (100, 100, 4, 97), "nonbinary": (30, 30, 2, 30), "trans": (60, 60, 20, 60)}
    rows = {line.split()[0]: line for line in lines[2:] if line.split() and line.split()[0] in hand}
    assert set(rows) == set(hand)
    for name, (photos, subjects, count, n) in hand.items():
        lo, hi = clopper_pearson(count, n)
        cells = rows[name].split()
        assert cells[:8] == [
            name,
            str(photos),
            str(subjects),
            str(count),
            str(n),
            fmt(count / n),
            f"[{fmt(lo)},",
            f"{fmt(hi)}]",
        ]
        assert rows[name].endswith("<- worst") == (name == "trans")
    # Every failure says what error rate each verdict direction was tested at.
    assert (
        "  error rates: a wrong pass at most 0.025 per comparison, a wrong fail at most 0.025 for the check "
        "(Holm over 3 comparisons)"
    ) in lines


def test_inconclusive_raises_under_policy_fail(tmp_path: Path) -> None:
    result = misgender(inconclusive_data(tmp_path))
    assert result.verdict == "inconclusive"
    with pytest.raises(ConformanceFailure) as caught:
        assert_result(result, inconclusive="fail")
    headline = str(caught.value).splitlines()[0]
    assert re.match(
        r"misgender_gap INCONCLUSIVE: nonbinary vs cis gap 0\.\d{3} \[-?0\.\d{3}, 0\.\d{3}\] straddles", headline
    )
    assert re.search(r"with this data a true gap of 0\.\d{3} would fail with 80% power", headline)
    assert re.search(r"about \d+ people in nonbinary and \d+ in cis would decide it with 80% power", headline)


def test_the_people_needed_say_when_min_subjects_sets_them(tmp_path: Path) -> None:
    # 9 vs 9 people: the power alone would ask for 4 in each (tests/test_checks.py works it out by hand), but
    # a group of fewer than min_subjects 10 decides nothing.
    result = misgender(observe(tmp_path, people("cis", 9) + people("trans", 9, trans="yes", misgendered=9)))
    with pytest.raises(ConformanceFailure) as caught:
        assert_result(result, inconclusive="fail")
    headline = str(caught.value).splitlines()[0]
    assert (
        "if the gap is as seen, about 10 people in trans and 10 in cis would decide it with 80% power "
        "(min_subjects 10 in the policy sets that floor: a group of fewer decides nothing)"
    ) in headline
    # Where the power asks for more than the minimum, nothing is said of it.
    result = misgender(inconclusive_data(tmp_path / "big"))
    with pytest.raises(ConformanceFailure) as caught:
        assert_result(result, inconclusive="fail")
    assert "min_subjects" not in str(caught.value).splitlines()[0]


def test_inconclusive_xfails_under_policy_xfail(tmp_path: Path) -> None:
    result = misgender(inconclusive_data(tmp_path))
    with pytest.raises(pytest.xfail.Exception, match="misgender_gap INCONCLUSIVE"):
        assert_result(result, inconclusive="xfail")


def test_inconclusive_returns_under_policy_pass(tmp_path: Path) -> None:
    result = misgender(inconclusive_data(tmp_path))
    assert assert_result(result, inconclusive="pass") is result


def test_assert_check_reads_inconclusive_from_the_policy(tmp_path: Path) -> None:
    observations = inconclusive_data(tmp_path)
    with pytest.raises(ConformanceFailure):
        assert_check("misgender_gap", observations)
    with pytest.raises(pytest.xfail.Exception):
        assert_check("misgender_gap", observations, policy=load_policy(profile="ci"))
    lenient = replace(load_policy(), inconclusive="pass")
    assert assert_check("misgender_gap", observations, policy=lenient).verdict == "inconclusive"


def inconclusive_data(directory: Path) -> Observations:
    # 5 of 40 against 12 of 300: the interval straddles 0.05.
    return observe(
        directory, people("cis", 300, misgendered=12) + people("nb", 40, identity="nonbinary", misgendered=5)
    )


# -- the named helpers -----------------------------------------------------------------------------------


def fair_people() -> list[Shot]:
    """Two photos per person, everyone gendered correctly and consistently at the same confidence.

    200 people a group: with none misgendered, Clopper-Pearson's upper limit on 200 people is 0.018,
    enough for every gap's interval to lie within 0.05 (100 would not do for calibration).
    """
    return people("cis", 200, photos=2, confidence=97) + people("trans", 200, trans="yes", photos=2, confidence=97)


def unfair_people() -> list[Shot]:
    shots = people("cis", 100, photos=2, confidence=90)
    shots += people("t-wrong", 40, trans="yes", photos=2, misgendered=40, confidence=99)
    for i in range(20):  # gendered differently on their two photos
        shots += [shot(f"t-mixed-{i}", "woman", "yes", "Female", confidence=99)]
        shots += [shot(f"t-mixed-{i}", "woman", "yes", "Male", confidence=99)]
    shots += people("t-unseen", 30, trans="yes", photos=2, no_face=30)
    return shots + people("t-right", 10, trans="yes", photos=2, confidence=99)


@pytest.fixture(scope="module")
def fair_observations(tmp_path_factory: pytest.TempPathFactory) -> Observations:
    return observe(tmp_path_factory.mktemp("fair"), fair_people())


@pytest.fixture(scope="module")
def unfair_observations(tmp_path_factory: pytest.TempPathFactory) -> Observations:
    return observe(tmp_path_factory.mktemp("unfair-all"), unfair_people())


HELPERS = {
    "misgender_gap": assert_no_misgender_gap,
    "same_person_consistency": assert_consistent_across_photos,
    "confidence_calibration": assert_calibrated,
    "detection_failure_gap": assert_no_detection_failure_gap,
}


@pytest.mark.parametrize("check_id", list(HELPERS))
def test_named_helper_passes_on_fair_data(check_id: str, fair_observations: Observations) -> None:
    result = HELPERS[check_id](fair_observations)
    assert (result.id, result.verdict) == (check_id, "pass")


@pytest.mark.parametrize("check_id", list(HELPERS))
def test_named_helper_fails_on_unfair_data(check_id: str, unfair_observations: Observations) -> None:
    with pytest.raises(ConformanceFailure, match=rf"^{check_id} FAILED: trans vs cis gap") as caught:
        HELPERS[check_id](unfair_observations)
    assert caught.value.result.verdict == "fail"


def test_nonbinary_helper_passes_when_nonbinary_people_are_not_given_binary_labels(tmp_path: Path) -> None:
    # 0 of 80 nonbinary people given a binary label: the Clopper-Pearson upper bound 1 - 0.025^(1/80) = 0.045.
    shots = people("nb", 80, identity="nonbinary") + people("cis", 10)
    header = {"analyzer": "open", "vocabulary": ["Female", "Male", "Nonbinary"]}
    result = assert_nonbinary_representable(observe(tmp_path, shots, header=header))
    assert result.verdict == "pass"


def test_nonbinary_helper_fails_on_a_binary_vocabulary(tmp_path: Path) -> None:
    shots = people("nb", 80, identity="nonbinary", misgendered=80) + people("cis", 10)
    header = {"analyzer": "binary", "vocabulary": ["Female", "Male"]}
    with pytest.raises(ConformanceFailure, match=r"^nonbinary_representability FAILED: the vocabulary"):
        assert_nonbinary_representable(observe(tmp_path, shots, header=header))


# -- not applicable (issue 13) ----------------------------------------------------------------------------


def test_not_applicable_is_a_skip_with_the_reason_and_the_way_to_apply(tmp_path: Path) -> None:
    # Nobody in either group has two photos: consistency across a person's photos cannot be measured.
    observations = observe(tmp_path, people("cis", 20) + people("trans", 20, trans="yes"))
    result = run_check(
        "same_person_consistency",
        observations,
        groups=group_labels(observations.dataset),
        reference="cis",
        policy=load_policy(),
        seed=SEED,
    )
    assert result.verdict == "not applicable"
    with pytest.raises(pytest.skip.Exception) as caught:
        assert_result(result, inconclusive="fail")
    message = str(caught.value)
    assert message.startswith("same_person_consistency NOT APPLICABLE: ")
    assert "no person in this group has two or more photos" in message
    assert "applies once some people are photographed more than once" in message


def test_the_terminal_line_names_both_groups_of_the_deciding_pair(unfair: Observations) -> None:
    from conformance.assertions import verdict_line

    result = misgender(unfair)
    assert (result.to_dict()["deciding"], result.to_dict()["deciding_reference"]) == ("trans", "cis")
    assert "trans vs cis: +0.292" in verdict_line(result)


# -- rt14c F9: 1:1 verdict lines name their reason ----------------------------------------------------------------


def _bare_result(**fields: Any) -> CheckResult:
    """A result with only what a terminal line reads (no groups, method or measure)."""
    base: dict[str, Any] = {
        "groups": {},
        "comparisons": (),
        "method": "",
        "measure": "",
        "reference": "",
        "confidence": 0.95,
        "notes": (),
    }
    return CheckResult(**{**base, **fields})


def test_a_verdict_without_comparisons_of_its_own_shows_its_headline_not_nothing_to_compare() -> None:
    from conformance.assertions import verdict_line

    headline = (
        "At the binding threshold, at least one group's error rate differs from I-II's beyond the stated tolerance"
    )
    result = _bare_result(
        id="equitability", verdict="fail", threshold=0.412868, notes=(headline,), details={"binding": True}
    )
    assert verdict_line(result) == f"FAIL           equitability@0.412868 (binding)  {headline}"


@pytest.mark.parametrize(
    ("ci", "note", "reason"),
    [
        ([0.355, None], "", "the interval has no upper limit: too few errors to bound the ratio"),
        ([0.870, 3.667], "", "the interval straddles the tolerance"),
        ([0.586, 1.167], "V-VI has photos without a template", "V-VI has photos without a template"),
    ],
)
def test_an_inconclusive_ratio_line_names_its_reason(ci: list[float | None], note: str, reason: str) -> None:
    from conformance.assertions import verdict_line

    comparison = Comparison(
        group="V-VI",
        reference="I-II",
        difference=0.0002,
        ci=(0.0, 0.001),
        p_value=None,
        p_adjusted=None,
        tolerance=2.0,
        verdict="inconclusive",
        method="",
        note=note,
    )
    result = _bare_result(
        id="false_match_differential",
        verdict="inconclusive",
        threshold=0.476654,
        comparisons=(comparison,),
        details={
            "ratio_tolerance": 2.0,
            "ratios": [{"group": "V-VI", "reference": "I-II", "ratio": 8.625, "ci": ci}],
        },
    )
    assert verdict_line(result).endswith(f"tolerance x2: {reason}")
