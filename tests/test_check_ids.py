"""The check ids are listed once (conformance/checks/check_ids.py); everything that names them agrees."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.checks.check_ids import (
    CHECK_IDS,
    COMPARISON_CHECKS,
    GENDER_CHECKS,
    MATCHING_CHECKS,
    SEARCH_CHECKS,
    SUMMARIES,
    unknown_checks,
)
from conformance.policy import PROFILES, Policy

DOCS = Path(__file__).resolve().parents[1] / "docs" / "reference" / "checks.md"

# Written out by hand: a check added, renamed or dropped must be a deliberate change here too.
PINNED = (
    "misgender_gap",
    "nonbinary_representability",
    "same_person_consistency",
    "transformation_invariance",
    "confidence_calibration",
    "detection_failure_gap",
    "false_match_gap",
    "false_non_match_gap",
    "false_match_differential",
    "false_non_match_differential",
    "failure_to_acquire_gap",
    "equitability",
)

RATIO_DECIDED = {"false_match_differential", "false_non_match_differential", "equitability"}


def test_the_ids_are_the_pinned_list_gender_then_matching() -> None:
    assert CHECK_IDS == PINNED
    assert GENDER_CHECKS + MATCHING_CHECKS == CHECK_IDS
    assert SEARCH_CHECKS + COMPARISON_CHECKS == MATCHING_CHECKS
    assert not set(GENDER_CHECKS) & set(MATCHING_CHECKS)


def test_every_summary_and_no_other() -> None:
    assert tuple(SUMMARIES) == CHECK_IDS
    assert all(summary.strip() for summary in SUMMARIES.values())


@pytest.mark.parametrize("profile", ["built-in", *PROFILES])
def test_policy_tolerances_name_exactly_the_checks(profile: str) -> None:
    policy = Policy() if profile == "built-in" else PROFILES[profile]
    # As a set: the table's order is what report.json shows under policy.tolerance, not a ranking.
    # The 1:1 differentials decide on rate ratios (ratio_tolerance) and equitability on their verdicts:
    # every other check has an absolute tolerance, and no id outside the list has one.
    assert sorted(policy.tolerance) == sorted(set(CHECK_IDS) - RATIO_DECIDED)


def test_the_built_in_suite_runs_exactly_the_checks() -> None:
    from conformance.suite import test_gender, test_matching

    marked = []
    for function in (test_gender.test_gender_check, test_matching.test_matching_check):
        (parametrize,) = [mark for mark in function.pytestmark if mark.name == "parametrize"]
        for param in parametrize.args[1]:
            (marker,) = [mark for mark in param.marks if mark.name == "conformance"]
            assert param.values == (marker.args[0],)  # each test is marked with the check it runs
            marked.append(marker.args[0])
    assert tuple(marked) == CHECK_IDS


def test_the_reference_page_has_one_section_per_check_in_order() -> None:
    headings = re.findall(r"^## `([a-z_]+)`\s*$", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert tuple(headings) == CHECK_IDS


def test_unknown_ids_are_named_with_the_known_ones() -> None:
    assert unknown_checks(CHECK_IDS) is None
    assert unknown_checks([]) is None
    message = unknown_checks(["misgender_gap", "misgender_gapp", "x"])
    assert message == f"unknown check 'misgender_gapp', 'x'; checks: {', '.join(PINNED)}"
