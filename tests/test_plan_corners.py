"""``conformance plan`` at the corners of its inputs (issue 17, finding F5 of the outside review).

1. A plan that asks for few people (many photos a person) sized a sequential run whose early looks hold fewer
   than min_subjects people a group: they can never settle, and the plan said nothing of it.
2. same_person_consistency with one photo a person printed "fail at a true gap of 0 with -".
3. Neighbours: a tolerance of 0 (searched for ever, or blamed the gap), nonbinary_representability's fail
   scenario at the tolerance (searched 10 million people, then "-"), an ICC of 1 (a numpy traceback), a pilot
   whose reference group has one person (its one person's rate planned on), --looks 1 ("1 looks ... an earlier
   look"), and sequential figures for checks no sequential run takes.

Independent figures: the looks' people by hand (``ceil(k / K * n)``), a Brownian motion simulated here for the
recursion with looks that cannot stop, the beta distribution's ICC-1 limit, a demo pilot edited by hand.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as distributions

from conformance.cli import main

MANY_PHOTOS = ["--check", "misgender_gap", "--photos-per-person", "10000", "--replicates", "200"]


def _plan(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["plan", *args, "--json"]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def _usage_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The message of a refusal, whether argparse's (SystemExit 2) or the command's own (exit 2)."""
    try:
        code = main(["plan", *args])
    except SystemExit as stop:
        code = int(str(stop.code))
    assert code == 2
    return capsys.readouterr().err


# -- 1. looks that hold fewer than min_subjects people a group ------------------------------------------------------


def test_the_fixed_plan_never_asks_for_fewer_than_min_subjects(capsys: pytest.CaptureFixture[str]) -> None:
    # 10,000 photos a person at ICC 0: the power is reached with a handful of people, min_subjects (10) is the floor.
    document = _plan(capsys, *MANY_PHOTOS)
    assert document["min_subjects"] == 10
    assert [d["people_per_group"] for d in document["checks"][0]["directions"]] == [10, 10]


def test_early_looks_below_min_subjects_are_named_and_cannot_stop(capsys: pytest.CaptureFixture[str]) -> None:
    document = _plan(capsys, *MANY_PHOTOS, "--sequential", "--looks", "5")
    figures = document["sequential"]["checks"]["misgender_gap"]
    most = figures["people_per_group"]
    # ceil(1.065 x 10) = 11 would leave look 4 at ceil(4 x 11 / 5) = 9 people, unable to settle too; sized with
    # those looks unable to stop it takes 12, where look 4 holds 10 and only looks 1-3 cannot settle.
    assert most == 12
    held = [math.ceil(k * most / 5) for k in range(1, 6)]
    assert held == [3, 5, 8, 10, 12]
    assert figures["looks_unable_to_settle"] == [1, 2, 3]
    note = figures["unable_note"]
    assert "looks 1-3 hold fewer than min_subjects (10) people a group (3, 5, 8 of 12) and cannot settle" in note
    # The error those looks spend is their increments of 0.025 (Hwang-Shih-DeCani gamma -2 by 3/5 of the looks).
    spent = 0.025 * math.expm1(2 * 3 / 5) / math.expm1(2)
    assert f"share of the error ({spent:.3g} of 0.025)" in note
    assert "collect more people, or run without --sequential" in note  # 2 looks of 12 would leave the first at 6
    # The first look that can stop holds 10 people: no run sends fewer, so neither can the expected figures.
    for expected in figures["expected"]:
        assert expected["people_per_group"] >= 10
    assert main(["plan", *MANY_PHOTOS, "--sequential"]) == 0
    assert "    looks 1-3 hold fewer than min_subjects (10) people a group" in capsys.readouterr().out


def _brownian(levels: list[float], drift: float, stuck: set[int]) -> tuple[float, float]:
    """(P(pass), expected share of the looks) of the looks' standardised gaps, a look in ``stuck`` unable to stop."""
    rng = np.random.default_rng(5)
    looks = len(levels)
    t = np.arange(1, looks + 1) / looks
    w = (np.cumsum(rng.standard_normal((200_000, looks)) * math.sqrt(1 / looks), axis=1) + drift * t) / np.sqrt(t)
    edge = np.array([np.inf if k + 1 in stuck else distributions.norm.isf(level) for k, level in enumerate(levels)])
    stop = (w < -edge) | (w > edge)
    first = np.where(stop.any(axis=1), stop.argmax(axis=1), looks - 1)
    passed = (w < -edge)[np.arange(len(w)), first]
    return float(passed.mean()), float(t[first].mean())


def test_a_recursion_checks_stuck_looks_are_sized_and_expected_as_unable_to_stop(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """nonbinary_representability keeps the recursion's figures: with its first two looks below min_subjects they
    must be the ones of a Brownian motion that cannot stop there (simulated here), and so must its power."""
    from conformance.sequential import look_levels

    args = ["--check", "nonbinary_representability", "--tolerance", "0.2", "--gap", "0.6", "--replicates", "200"]
    document = _plan(capsys, *args, "--sequential")
    figures = document["sequential"]["checks"]["nonbinary_representability"]
    most = figures["people_per_group"]
    stuck = {k for k in range(1, 6) if math.ceil(k * most / 5) < 10}
    assert stuck
    assert 5 not in stuck
    assert figures["looks_unable_to_settle"] == sorted(stuck)
    levels = look_levels(0.025, 5)
    z = distributions.norm.isf(0.025) + distributions.norm.ppf(0.8)
    fixed = figures["fixed_people_per_group"]
    # The most people give the fixed plan's power with those looks unable to stop.
    power, _ = _brownian(levels, -z * math.sqrt(figures["inflation"]), stuck)
    assert power == pytest.approx(0.8, abs=0.006)
    assert most == max(math.ceil(figures["inflation"] * fixed), math.ceil(document["sequential"]["inflation"] * fixed))
    for e in figures["expected"]:
        drift = z * math.sqrt(most / e["fixed_people_per_group"])
        _, share = _brownian(levels, -drift if e["verdict"] == "pass" else drift, stuck)
        assert e["people_per_group"] == pytest.approx(share * most, rel=0.01)


def test_a_sequential_pair_share_reads_its_stratum_at_each_look() -> None:
    """same_person_consistency reads only people with 2+ photos, a stratum of their own in the run: look k of K
    holds ceil(k / K) of them, not the first ceil(k / K) of everyone. Half the people with one photo, 60 a group:
    about 30 read, 6 or 7 at look 1 (below min_subjects 10), about 12 at look 2, which a fair analyzer passes."""
    from conformance.planning import GapDesign, Simulation
    from conformance.planning.simulation import simulated_sequential

    design = GapDesign(
        rate=0.0,
        photos=2,
        icc=0.0,
        tolerance=0.9,
        groups=2,
        alpha_pass=0.025,
        alpha_fail=0.025,
        method="clopper-pearson",
        direction="pairwise",
        min_subjects=10,
        counts=(1, 2),
    )
    sent, passes, _ = simulated_sequential(
        design, 60, [0.0, 0.0], [(0.0025, 0.0025)] * 5, Simulation(300, 1), "pair_share"
    )
    # Look 1 can settle only with 46+ of the 60 having two photos (binomial(60, 0.5): never in 300 draws); look 2 with
    # 23 or more (ceil(2 x 23 / 5) = 10): all but about 4% of groups; otherwise look 3 (36 people).
    assert passes == 1.0
    share_late = 1.0 - distributions.binom.sf(22, 60, 0.5) ** 2
    assert sent == pytest.approx(24 + 12 * share_late, abs=1.5)


# -- 2. same_person_consistency with one photo a person ------------------------------------------------------------


def test_same_person_consistency_with_one_photo_says_it_cannot_be_planned(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--check", "same_person_consistency", "--reference-rate", "0.05", "--replicates", "0"]
    document = _plan(capsys, *args, "--photos-per-person", "1")
    [plan] = document["checks"]
    assert plan["people_per_group"] is None
    assert [d["people_per_group"] for d in plan["directions"]] == [None, None]
    # The fail direction is the fail scenario (3 x the tolerance), never "fail at a true gap of 0".
    assert [d["true_gap"] for d in plan["directions"]] == pytest.approx([0.0, 0.15])
    cannot = plan["cannot_plan"]
    assert cannot["photos_per_person_needed"] == 2
    assert "cannot be planned with 1 photo a person" in cannot["reason"]
    assert "It needs at least 2 photos a person" in cannot["reason"]
    at_two = _plan(capsys, *args, "--photos-per-person", "2")
    assert cannot["at_2_photos"]["people_per_group"] == at_two["people_per_group"]
    assert f"about {at_two['people_per_group']:,} people a group" in cannot["reason"]
    # Text: the reason, not a verdict at a gap of 0; exit 0, as false_non_match_differential's one-photo plan.
    assert main(["plan", *args, "--photos-per-person", "1"]) == 0
    out = capsys.readouterr().out
    assert "same_person_consistency: cannot be planned with 1 photo a person: a person with one photo" in out
    assert "fail at a true gap of 0 with" not in out
    assert "; 1 photo a person, ICC 0" in out
    assert main(["plan", "--check", "false_non_match_differential", "--replicates", "0"]) == 0
    out = capsys.readouterr().out
    assert "false_non_match_differential: cannot be planned with 1 photo a person" in out
    assert "fail at a true gap of 0 with" not in out


# -- 3. neighbours --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("check", ["misgender_gap", "nonbinary_representability"])
@pytest.mark.parametrize("tolerance", ["0", "1"])
def test_a_tolerance_of_0_or_1_is_refused_naming_the_option(
    capsys: pytest.CaptureFixture[str], check: str, tolerance: str
) -> None:
    # nonbinary_representability at a tolerance of 0 searched without end; misgender_gap blamed the gap.
    err = _usage_error(capsys, "--check", check, "--tolerance", tolerance, "--replicates", "0")
    assert f"argument --tolerance: '{tolerance}': give a tolerance above 0 and below 1" in err


@pytest.mark.parametrize("gap", ["0.05", "0.03"])
def test_representabilitys_fail_scenario_at_or_below_the_tolerance_is_refused(
    capsys: pytest.CaptureFixture[str], gap: str
) -> None:
    err = _usage_error(capsys, "--check", "nonbinary_representability", "--gap", gap, "--replicates", "0")
    assert f"nonbinary_representability: the fail scenario's share {gap} must lie above the tolerance 0.05" in err
    assert "--gap" in err


def test_an_icc_of_1_plans_one_unit_a_person(capsys: pytest.CaptureFixture[str]) -> None:
    """ICC 1: a person's photos all alike, each person one 0/1 unit (numpy's beta cannot draw it: a traceback)."""
    for check in ("misgender_gap", "confidence_calibration"):
        simulated = _plan(capsys, "--check", check, "--photos-per-person", "3", "--icc", "1", "--replicates", "50")
        assert simulated["people_per_group"] >= 10
    base = ["--check", "misgender_gap", "--reference-rate", "0.04", "--replicates", "0"]
    alike = _plan(capsys, *base, "--photos-per-person", "3", "--icc", "1")
    single = _plan(capsys, *base, "--photos-per-person", "1")
    assert [d["people_per_group"] for d in alike["checks"][0]["directions"]] == [
        d["people_per_group"] for d in single["checks"][0]["directions"]
    ]
    from conformance.planning.simulation import person_rates

    rates = person_rates(np.random.default_rng(3), 0.2, 1.0, 20_000)
    assert set(np.unique(rates)) == {0.0, 1.0}
    assert distributions.binomtest(int(rates.sum()), 20_000, 0.2).pvalue > 0.001


def test_a_pilots_one_person_reference_group_gives_no_rate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["run", "--report-dir", str(tmp_path)]) == 1
    capsys.readouterr()
    path = tmp_path / "report.json"
    report = json.loads(path.read_text())
    for check in report["checks"]:
        if "cis" in check.get("groups", {}):
            check["groups"]["cis"]["subjects"] = 1  # the reference: one person's photos
    path.write_text(json.dumps(report))
    document = _plan(capsys, "--pilot", str(path), "--check", "misgender_gap", "--replicates", "0")
    assert document["reference_rate"] == 0.05  # assumed, and said, not the one person's 0.04
    sources = " ".join(document["sources"])
    assert "the reference group 'cis' has fewer than 2 people in misgender_gap" in sources
    assert "misgender_gap: reference rate 0.05 assumed" in sources


def test_one_look_is_said_to_be_the_fixed_design(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--check", "misgender_gap", "--replicates", "0", "--sequential", "--looks", "1"]
    assert main(["plan", *args]) == 0
    out = capsys.readouterr().out
    assert "1 looks" not in out
    assert "an earlier look" not in out
    assert "Sequential (--sequential, 1 look: the fixed design, each direction tested at 0.025)" in out
    document = _plan(capsys, *args)
    assert document["sequential"]["inflation"] == 1.0
    assert document["people_per_group"] == document["checks"][0]["people_per_group"]


def test_checks_no_sequential_run_takes_get_no_sequential_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """run --sequential reports transformation_invariance not applicable and refuses face-matching runs: the plan
    gave both the most and expected people of a sequential run all the same."""
    document = _plan(
        capsys,
        "--check",
        "misgender_gap,transformation_invariance,false_match_gap",
        "--replicates",
        "0",
        "--sequential",
    )
    block = document["sequential"]
    assert set(block["checks"]) == {"misgender_gap"}
    assert "not run sequentially" in block["not_sized"]["transformation_invariance"]
    assert "a face-matching run refuses --sequential" in block["not_sized"]["false_match_gap"]
    err = _usage_error(
        capsys, "--check", "false_match_gap,false_match_differential", "--sequential", "--replicates", "0"
    )
    assert "error: --sequential: false_match_gap: a face-matching run refuses --sequential" in err
    # A check the fixed plan cannot size is said, not dropped in silence.
    document = _plan(capsys, "--check", "misgender_gap,same_person_consistency", "--replicates", "0", "--sequential")
    assert "cannot be planned with 1 photo a person" in document["sequential"]["not_sized"]["same_person_consistency"]
