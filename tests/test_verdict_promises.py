"""The verdicts' promises a red team broke (issue 13, second round), each pinned by its case.

Figures are worked out here by hand counts, scipy or a seeded simulation with known truth, never
read back from the kit: a gamed analyzer must still fail, "not applicable" must not come from the
analyzer's own choices, the stated error rates must hold, and a policy that promises nothing
(tolerance 1, confidence 0.999999999999) is refused.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

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
    # e2e_gaming G1b: 400 trans women x 10 photos; on one photo each it would say "Male" and abstains instead.
    shots = people("cis", 400, photos=10, confidence=97.0)
    for i in range(400):
        shots += [Shot(f"tr-{i}", "woman", "yes", None, None)] + [Shot(f"tr-{i}", "woman", "yes", "Female", 97.0)] * 9
    result = check("misgender_gap", observe(tmp_path, shots))
    assert result.groups["trans"].rate == 0.0
    assert result.groups["trans"].extra["coverage_women_men"] == pytest.approx(0.9)
    (trans,) = [c for c in result.comparisons if {c.group, c.reference} == {"trans", "cis"}]
    assert (trans.verdict, result.verdict) == ("fail", "fail")
    assert abs(trans.difference) == pytest.approx(400 / 4000)


def test_abstaining_on_nonbinary_people_is_not_a_miss(tmp_path: Path) -> None:
    # With a binary vocabulary abstaining is the right answer for a nonbinary person: a perfect analyzer passes.
    shots = people("cis", 200, photos=3) + people("tr", 200, trans="yes", photos=3) + nonbinary(200, 3)
    result = check("misgender_gap", observe(tmp_path, shots))
    assert result.verdict == "pass"
    assert {c["verdict"] for c in result.details["companion"]["comparisons"]} == {"pass"}


# -- F2: "not applicable" only where the analyzer cannot produce the thing at all ---------------------------


def calibration_shots(withhold: str) -> list[Shot]:
    """1,500 women a group, 300 misgendered; cis confidence 99 right / 50 wrong, trans 99 on everything.

    Overconfidence by hand: cis 0.8 * 0.99 + 0.2 * 0.50 - 0.8 = 0.092, trans 0.99 - 0.8 = 0.19: a gap of
    0.098 > 0.05. ``withhold``: "none", "trans" (no confidence on any trans label) or "half-wrong" (none on
    150 of the 300 wrong trans labels: trans on the rest 0.99 - 1200/1350 = 0.101, a gap of 0.009).
    """
    shots = []
    for status, prefix in (("no", "cis"), ("yes", "tr")):
        for i in range(1500):
            wrong = i < 300
            confidence: float | None = 99.0 if status == "yes" or not wrong else 50.0
            if status == "yes" and (withhold == "trans" or (withhold == "half-wrong" and i < 150)):
                confidence = None
            shots.append(Shot(f"{prefix}-{i}", "woman", status, "Male" if wrong else "Female", confidence))
    return shots


HEADER = {"analyzer": "x", "version": "1", "abstains": True}


@pytest.mark.parametrize("withhold", ["none", "trans", "half-wrong"])
def test_withholding_confidence_cannot_make_calibration_pass_or_not_applicable(tmp_path: Path, withhold: str) -> None:
    result = check("confidence_calibration", observe(tmp_path, calibration_shots(withhold), header=HEADER))
    (trans,) = result.comparisons
    if withhold == "none":
        assert trans.difference == pytest.approx(0.19 - 0.092)
        assert result.verdict == "fail"
        return
    assert result.verdict == "inconclusive"
    assert trans.verdict == "inconclusive"
    withheld = 1500 if withhold == "trans" else 150
    assert result.groups["trans"].extra["labels_without_confidence"] == withheld
    if withhold == "half-wrong":
        assert trans.difference == pytest.approx((0.99 - 1200 / 1350) - 0.092)
        assert trans.ci[0] >= -0.05  # the interval alone would pass
        assert trans.ci[1] <= 0.05
        assert f"{withheld} of 1500 labels came without a confidence" in trans.note


@pytest.mark.parametrize("declared", [False, None])
def test_calibration_is_not_applicable_only_to_an_analyzer_that_declares_it_gives_no_confidence(
    tmp_path: Path, declared: bool | None
) -> None:
    # Confidences left out of a predictions file cannot be told from an incapacity (rt13b): without the
    # declaration the check is inconclusive, with it not applicable.
    shots = [Shot(s.subject, s.identity, s.trans, s.label, None) for s in calibration_shots("none")]
    header = HEADER if declared is None else {**HEADER, "gives_confidence": declared}
    result = check("confidence_calibration", observe(tmp_path, shots, header=header))
    assert result.verdict == ("not applicable" if declared is False else "inconclusive")


def test_a_binary_group_abstained_on_entirely_is_not_excused_from_consistency(tmp_path: Path) -> None:
    # e2e_gaming G3: trans women abstained on in every photo; 100 people a group, 3 photos each.
    shots = people("cis", 100, photos=3) + people("tr", 100, trans="yes", photos=3, abstained=100)
    shots += nonbinary(100, 3)
    result = check("same_person_consistency", observe(tmp_path, shots))
    verdicts = {(c.group, c.reference): c.verdict for c in result.comparisons}
    assert verdicts[("trans", "cis")] == "inconclusive"
    assert verdicts[("nonbinary", "cis")] == "not applicable"  # abstaining is their right answer
    assert result.verdict == "inconclusive"
    (row,) = [c for c in result.comparisons if c.group == "trans" and c.reference == "cis"]
    assert "min_coverage" in row.note


# -- F3: a wrong fail at most the stated 0.025, at any tolerance -------------------------------------------


def test_the_fail_test_errs_at_most_the_stated_rate_when_the_tolerance_is_small() -> None:
    # Known truth: both groups at 0.3 (gap 0 = tolerance 0), 40 people each, one photo: the kit's own fail
    # test on every possible outcome, weighted by its binomial probability (scipy), is its exact size.
    # Taking the smaller of the two one-sided p-values as it stands gave 0.036 here (0.045 at 400 people,
    # red team mc_two_sided_fail.md) where 0.025 is stated.
    import numpy as np
    from scipy.stats import binom  # type: ignore[import-untyped]

    from conformance.stats import clustered_rate, gap_tests

    n, ones = 40, np.ones(40)
    pmf = binom.pmf(np.arange(n + 1), n, 0.3)
    size = 0.0
    for x in range(n + 1):
        for y in range(n + 1):
            if pmf[x] * pmf[y] < 1e-12:
                continue  # together under 1e-9: nothing a verdict rate could show
            a, b = clustered_rate([1] * x + [0] * (n - x), ones), clustered_rate([1] * y + [0] * (n - y), ones)
            if gap_tests(a, b, 0.0).exceeds <= 0.025:
                size += pmf[x] * pmf[y]
    assert size <= 0.025


# -- F4, F5: a policy that promises nothing is refused, naming the file and the key -------------------------


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ("confidence = 0.999999999999\n", ["confidence", "0.999999999999", "0.9999"]),
        ("confidence = 1\n", ["confidence", "0.9999"]),
        ("[tolerance]\nmisgender_gap = 1\n", ["tolerance.misgender_gap", "= 1", "below 1"]),
        ("[tolerance]\nmisgender_gap = 0\n", ["tolerance.misgender_gap", "= 0", "no comparison could pass"]),
    ],
    ids=["confidence-twelve-nines", "confidence-1", "tolerance-1", "tolerance-0"],
)
def test_a_policy_that_cannot_decide_is_refused(tmp_path: Path, body: str, names: list[str]) -> None:
    from conformance.errors import PolicyError

    path = tmp_path / "policy.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    for name in names:
        assert name in message


def test_the_highest_confidence_allowed_still_states_a_nonzero_error_rate(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("confidence = 0.9999\n", encoding="utf-8")
    policy = load_policy(path)
    shots = people("cis", 100) + people("tr", 100, trans="yes", misgendered=60)
    result = check("misgender_gap", observe(tmp_path / "data", shots), policy=policy)
    assert result.alpha_fail == pytest.approx(0.00005)  # (1 - 0.9999) / 2, by hand
    # 60 of 100 against 0 of 100 is far beyond 0.05 even at that level; the result reads back.
    assert result.verdict == "fail"
    assert CheckResult.from_dict(result.to_dict()).verdict == "fail"


def test_a_non_finite_number_in_a_report_is_named_as_such() -> None:
    from conformance._fields import FieldError, optional_number

    with pytest.raises(FieldError, match=r"'min_detectable' should be a number or null, found -inf \(not a finite"):
        optional_number(float("-inf"), "'min_detectable'")


# -- F8: Boschloo only where it is quick, whatever the shape of the table ---------------------------------


def test_a_lopsided_table_gets_fishers_test() -> None:
    from scipy.stats import fisher_exact  # type: ignore[import-untyped]

    from conformance.stats import boschloo_is_quick, exact_p_value

    # (1 + 1) x (31,000 + 1) tables is under 251^2, but scipy's Boschloo took 4-5 CPU seconds on it.
    assert not boschloo_is_quick(1, 31_000)
    assert not boschloo_is_quick(251, 10)
    assert boschloo_is_quick(250, 250)
    expected = fisher_exact([[1, 300], [0, 31_000 - 300]], alternative="two-sided").pvalue
    assert exact_p_value(1, 1, 300, 31_000, "boschloo") == pytest.approx(expected, rel=1e-12)


# -- F9: the detectable gap of same_person_consistency -----------------------------------------------------


def consistency_table(groups: list[tuple[str, int, float]], photos: int, rng: Any) -> tuple[Observations, list[str]]:
    """In memory: per group (name, people, per-photo chance of the other label); every person a woman."""
    import numpy as np

    from conformance.dataset import Dataset
    from conformance.observation import GENDER_CODES, Face, Observation

    subjects, wrong, labels = [], [], []
    for offset, (name, people_in_group, chance) in enumerate(groups):
        subjects.append(np.repeat(np.arange(people_in_group) + 10_000 * offset, photos))
        wrong.append(rng.random(people_in_group * photos) < chance)
        labels += [name] * (people_in_group * photos)
    subject, flipped = np.concatenate(subjects), np.concatenate(wrong)
    n = subject.size
    record = Observation(photo="p", outcome="analysed", face=Face(label="Female", gender="woman", confidence=90.0))
    table = Observations(
        dataset=Dataset(name="mc", manifest=Path("mc"), photos=(), columns=(), content_hash=""),
        records=(record,) * n,
        outcome=np.zeros(n, dtype=np.int8),
        predicted=np.where(flipped, GENDER_CODES["man"], GENDER_CODES["woman"]).astype(np.int8),
        confidence=np.full(n, 90.0),
        identity=np.zeros(n, dtype=np.int8),
        subject=subject.astype(np.int64),
    )
    return table, labels


def chance_for(share: float) -> float:
    """Per-photo chance q of the other label giving an expected share 2q(1-q) of disagreeing pairs."""
    return (1 - math.sqrt(1 - 2 * share)) / 2


def consistency(table: Observations, labels: list[str]) -> CheckResult:
    return run_check("same_person_consistency", table, groups=labels, reference="cis", policy=DEFAULT, seed=0)


def test_the_consistency_gap_printed_is_caught_about_80_percent_of_the_time_with_many_photos() -> None:
    # Known truth: 40 people a group, 6 photos each, shares 0.10 and 0.15. Read as if every person were
    # one 0/1 unit, the printed figure was caught 0.977 of the time (red team: 0.95-0.98), not 0.8.
    import numpy as np

    rng = np.random.default_rng(20261213)
    printed = []
    for _ in range(30):
        result = consistency(
            *consistency_table([("cis", 40, chance_for(0.10)), ("trans", 40, chance_for(0.15))], 6, rng)
        )
        (c,) = result.comparisons
        if c.min_detectable is not None:
            printed.append(c.min_detectable)
    x = float(np.median(printed))
    reps = 300
    caught = sum(
        consistency(
            *consistency_table([("cis", 40, chance_for(0.10)), ("trans", 40, chance_for(0.10 + x))], 6, rng)
        ).verdict
        == "fail"
        for _ in range(reps)
    )
    # Monte Carlo standard error at 0.8 over 300 runs: 0.023.
    assert 0.7 <= caught / reps <= 0.92


def test_the_consistency_gap_printed_is_one_the_measure_can_reach() -> None:
    # 10 photos a person, two labels and "none" (no label: abstained, no face, an error): a person's
    # share of disagreeing pairs is at most 33 of 45 (four, three and three: (100 - 16 - 9 - 9) / 2 of
    # 45 pairs). With 10 people a group the old figure went past it (0.1 + 0.52 on two answers).
    import numpy as np

    rng = np.random.default_rng(7)
    for _ in range(20):
        result = consistency(
            *consistency_table([("cis", 10, chance_for(0.10)), ("trans", 10, chance_for(0.15))], 10, rng)
        )
        (c,) = result.comparisons
        low = min(result.groups["cis"].rate or 0.0, result.groups["trans"].rate or 0.0)
        if c.min_detectable is not None:
            assert low + c.min_detectable <= 33 / 45 + 1e-9


# -- minor: the printed p-value sits on the same side of the level as the verdict ---------------------------


def test_report_md_never_prints_a_p_value_that_reads_as_the_level_beside_an_inconclusive(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from conformance.report import Report
    from conformance.reporting import render_markdown

    subprocess.run([sys.executable, "-m", "conformance", "run"], cwd=tmp_path, capture_output=True, timeout=600)
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text(encoding="utf-8"))
    (misgender,) = [c for c in report["checks"] if c["id"] == "misgender_gap"]
    row = misgender["comparisons"][0]
    # Just above the level 0.025: not a fail. At 2 significant digits it printed "Holm 0.025".
    row.update(p_value=0.0125, p_adjusted=0.02504, verdict="inconclusive")
    text = render_markdown(Report.from_json(report))
    assert "(Holm 0.02504)" in text
    assert "(Holm 0.025)" not in text
    assert "| 0.013 (Holm" in text  # far from the level: two digits are enough


# -- F6: on Wilson limits the reports state the measured error rates -----------------------------------------


# -- minor: clustered_rate refuses counts that are no proportion ---------------------------------------------


@pytest.mark.parametrize(("num", "den"), [([-1, 2], [3, 3]), ([4, 1], [3, 3])], ids=["negative", "above"])
def test_clustered_rate_refuses_a_count_outside_its_denominator(num: list[int], den: list[int]) -> None:
    from conformance.stats import clustered_rate

    with pytest.raises(ValueError, match="outside 0 to its denominator 3"):
        clustered_rate(num, den)
    assert clustered_rate(num, den, bounded=False).rate == pytest.approx(sum(num) / 6)  # a signed measure may


# -- minor: one person of unknown trans status does not hold a perfect run at inconclusive -------------------


def test_one_person_of_unknown_trans_status_does_not_block_a_perfect_run(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from builders import write_dataset

    shots = people("cis", 200, photos=3, confidence=97.0) + people("tr", 200, trans="yes", photos=3, confidence=97.0)
    shots += nonbinary(200, 3) + people("unk", 1, trans="unknown", photos=3, confidence=97.0)
    manifest, predictions = write_dataset(tmp_path / "data", shots)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--dataset",
            str(manifest),
            "--analyzer",
            f"predictions:{predictions}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text(encoding="utf-8"))
    (misgender,) = [c for c in report["checks"] if c["id"] == "misgender_gap"]
    assert misgender["verdict"] == "pass"
    assert misgender["groups"]["unknown"]["subjects"] == 1  # shown and counted
    unknown = [c for c in misgender["comparisons"] if "unknown" in (c["group"], c["reference"])]
    assert {c["verdict"] for c in unknown} == {"not applicable"}
    assert "1 person of unknown trans status" in unknown[0]["note"]


def test_people_of_unknown_trans_status_decide_a_fail_only_on_evidence(tmp_path: Path) -> None:
    # Red team 13c: compared both ways from min_subjects upwards, 9 such people passed a perfect analyzer and 15
    # failed it. Red team 14d: never compared, an analyzer failing only them passed. Now (user5): compared for a
    # fail only. 10 of 10 misgendered against 0 of 100 is evidence (Clopper-Pearson: 10/10's lower 97.5% limit is
    # 0.69, far beyond the tolerance); 1 of 10 is not, and is shown, not compared, never inconclusive.
    shots = people("cis", 100) + people("unk", 10, trans="unknown", misgendered=10)
    result = check("misgender_gap", observe(tmp_path / "all", shots))
    (row,) = result.comparisons
    assert (row.verdict, result.verdict) == ("fail", "fail")
    assert (result.groups["unknown"].count, result.groups["unknown"].n) == (10, 10)
    shots = people("cis", 100) + people("unk", 10, trans="unknown", misgendered=1)
    result = check("misgender_gap", observe(tmp_path / "one", shots))
    (row,) = result.comparisons
    assert (row.verdict, result.verdict) == ("not applicable", "not applicable")  # nothing else to compare
    assert "10 people of unknown trans status" in row.note
    assert (result.groups["unknown"].count, result.groups["unknown"].n) == (1, 10)
