"""The verdicts' promises a red team broke (issue 13, second round), each pinned by its case.

Figures are worked out here by hand counts, scipy or a seeded simulation with known truth, never
read back from the kit: a gamed analyzer must still fail, "not applicable" must not come from the
analyzer's own choices, the stated error rates must hold, and a policy that promises nothing
(tolerance 1, confidence 0.999999999999) is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import Shot, observe, people

from conformance import CheckResult, group_labels, load_policy, run_check
from conformance.observation import Observations
from conformance.policy import Policy

DEFAULT = load_policy()


def check(check_id: str, observations: Observations, *, policy: Policy = DEFAULT) -> CheckResult:
    return run_check(
        check_id,
        observations,
        groups=group_labels(observations.dataset, []),
        reference="cis",
        policy=policy,
        seed=1,
    )


def nonbinary(k: int, photos: int) -> list[Shot]:
    return people("nb", k, identity="nonbinary", photos=photos, abstained=k, confidence=None)


# -- F1: abstaining on the faces it would get wrong --------------------------------------------------------


def selective(hide: bool) -> list[Shot]:
    """300 people a group, 3 photos each; the analyzer gets 30 trans women wrong, or abstains on exactly them."""
    shots = people("cis", 300, trans="no", photos=3, confidence=97.0)
    wrong = {"abstained": 30} if hide else {"misgendered": 30}
    return shots + people("tr", 300, trans="yes", photos=3, confidence=97.0, **wrong) + nonbinary(30, 3)


@pytest.mark.parametrize("hide", [False, True], ids=["honest", "abstains-on-them"])
def test_abstaining_on_the_people_it_would_misgender_still_fails(tmp_path: Path, hide: bool) -> None:
    # Coverage 270/300 = 0.900 meets min_coverage 0.9 exactly: the floor alone lets the gamed run pass.
    result = check("misgender_gap", observe(tmp_path, selective(hide)))
    assert result.groups["trans"].extra["coverage_women_men"] == pytest.approx(0.9 if hide else 1.0)
    (trans,) = [c for c in result.comparisons if {c.group, c.reference} == {"trans", "cis"}]
    assert trans.verdict == "fail"
    # Hand count: 90 of 900 trans photos not correctly gendered (misgendered or abstained), none of cis.
    companion = result.details["companion"]
    (pair,) = [c for c in companion["comparisons"] if {c["group"], c["reference"]} == {"trans", "cis"}]
    assert abs(pair["difference"]) == pytest.approx(0.1)
    assert pair["verdict"] == "fail"
    if hide:
        assert result.groups["trans"].rate == 0.0  # the misgender rate alone shows nothing
        assert "decided on photos not correctly gendered" in trans.note


def test_abstaining_on_one_hard_photo_per_person_still_fails(tmp_path: Path) -> None:
    # e2e_gaming G1b: 200 trans women x 10 photos; on one photo each it would say "Male" and abstains instead.
    shots = people("cis", 200, photos=10, confidence=97.0)
    for i in range(200):
        shots += [Shot(f"tr-{i}", "woman", "yes", None, None)] + [Shot(f"tr-{i}", "woman", "yes", "Female", 97.0)] * 9
    result = check("misgender_gap", observe(tmp_path, shots))
    assert result.groups["trans"].rate == 0.0
    assert result.groups["trans"].extra["coverage_women_men"] == pytest.approx(0.9)
    (trans,) = [c for c in result.comparisons if {c.group, c.reference} == {"trans", "cis"}]
    assert (trans.verdict, result.verdict) == ("fail", "fail")
    assert abs(trans.difference) == pytest.approx(200 / 2000)


def test_abstaining_on_nonbinary_people_is_not_a_miss(tmp_path: Path) -> None:
    # With a binary vocabulary abstaining is the right answer for a nonbinary person: a perfect analyzer passes.
    shots = people("cis", 200, photos=3) + people("tr", 200, trans="yes", photos=3) + nonbinary(200, 3)
    result = check("misgender_gap", observe(tmp_path, shots))
    assert result.verdict == "pass"
    assert {c["verdict"] for c in result.details["companion"]["comparisons"]} == {"pass"}
