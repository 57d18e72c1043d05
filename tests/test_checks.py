"""The gender checks, run through the public API on datasets written from counts (see builders.py).

Every expected figure is worked out here independently of the kit: rates, counts and per-person
shares by hand; Clopper-Pearson limits from statsmodels' ``proportion_confint`` (scipy's beta
quantiles for a fractional count); gap intervals by Newcombe's hybrid rule written out here on those
limits (and statsmodels' ``confint_proportions_2indep(method="newcomb")`` for Wilson limits);
p-values of the tolerance tests checked by reading the interval at their level; Holm from
statsmodels' ``multipletests``; Fisher's test from scipy; verdicts from the rule in DESIGN.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
import pytest
from builders import RIGHT_LABEL, WRONG_LABEL, Shot, observe, people, shot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import beta, binom, fisher_exact, norm  # type: ignore[import-untyped]
from scipy.stats import t as student  # type: ignore[import-untyped]
from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped]
from statsmodels.stats.proportion import (  # type: ignore[import-untyped]
    confint_proportions_2indep,
    proportion_confint,
)

from conformance import CheckResult, group_labels, load_policy, run_check
from conformance.observation import Observations
from conformance.policy import PROFILES, Policy

SEED = 20261121
DEFAULT = load_policy()
TOLERANCE = 0.05
ALPHA = 0.025  # one-sided error rate of each verdict direction at the default confidence 0.95
EXACT = 1e-12  # the kit delegates to the same routines; only float noise may differ


def wilson(count: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    lo, hi = proportion_confint(count, n, alpha=1 - confidence, method="wilson")
    return float(lo), float(hi)


def cp(count: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson limits, statsmodels' ``beta`` method."""
    lo, hi = proportion_confint(count, n, alpha=1 - confidence, method="beta")
    return float(lo), float(hi)


def cp_fraction(x: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson limits for a fractional count, from the beta quantiles that define them."""
    a = (1 - confidence) / 2
    lower = 0.0 if x == 0 else float(beta.ppf(a, x, n - x + 1))
    upper = 1.0 if x == n else float(beta.ppf(1 - a, x + 1, n - x))
    return lower, upper


def hybrid(p1: float, limits1: tuple[float, float], p2: float, limits2: tuple[float, float]) -> tuple[float, float]:
    """Newcombe's (1998) hybrid rule for p1 - p2 from each group's own limits."""
    d = p1 - p2
    return d - math.hypot(p1 - limits1[0], limits2[1] - p2), d + math.hypot(limits1[1] - p1, p2 - limits2[0])


def hybrid_cp(c1: int, n1: int, c2: int, n2: int, confidence: float = 0.95) -> tuple[float, float]:
    return hybrid(c1 / n1, cp(c1, n1, confidence), c2 / n2, cp(c2, n2, confidence))


def newcombe(c1: int, n1: int, c2: int, n2: int, confidence: float) -> tuple[float, float]:
    lo, hi = confint_proportions_2indep(c1, n1, c2, n2, method="newcomb", compare="diff", alpha=1 - confidence)
    return float(lo), float(hi)


def rule(ci: tuple[float, float], p_adjusted: float, tolerance: float = TOLERANCE) -> str:
    """DESIGN.md: fail when a disparity beyond the tolerance is shown familywise, pass when the interval lies within it."""
    if p_adjusted <= ALPHA:
        return "fail"
    if -tolerance <= ci[0] and ci[1] <= tolerance:
        return "pass"
    return "inconclusive"


UNRECORDED = "unrecorded"


def check(
    check_id: str,
    observations: Observations,
    *,
    by: Sequence[str] = (),
    reference: str = "cis",
    policy: Policy = DEFAULT,
    seed: int = SEED,
) -> CheckResult:
    # People of unknown trans status stand in for a fourth group here. Under their own name, "unknown", they
    # are a residual group (missing data), shown but never compared (red team 13c): renamed, they are compared.
    labels = [UNRECORDED if g == "unknown" else g for g in group_labels(observations.dataset, list(by))]
    return run_check(
        check_id,
        observations,
        groups=labels,
        reference=reference,
        policy=policy,
        seed=seed,
    )


def comparison(result: CheckResult, group: str, reference: str = "cis") -> Any:
    (found,) = [c for c in result.comparisons if {c.group, c.reference} == {group, reference}]
    return found


def exact_fail_rate(n1: int, p1: float, n2: int, p2: float, confidence: float, tolerance: float = TOLERANCE) -> float:
    """P(the hybrid Clopper-Pearson interval's lower bound exceeds the tolerance), summed over every outcome."""
    x1, x2 = np.arange(n1 + 1), np.arange(n2 + 1)
    a = (1 - confidence) / 2
    lo1 = np.where(x1 == 0, 0.0, beta.ppf(a, np.maximum(x1, 1), n1 - x1 + 1))
    hi2 = np.where(x2 == n2, 1.0, beta.ppf(1 - a, x2 + 1, np.maximum(n2 - x2, 1)))
    q1, q2 = x1 / n1, x2 / n2
    lower = (q1[:, None] - q2[None, :]) - np.hypot((q1 - lo1)[:, None], (hi2 - q2)[None, :])
    weight = binom.pmf(x1, n1, p1)[:, None] * binom.pmf(x2, n2, p2)[None, :]
    return float(np.sum(weight * (lower > tolerance)))


# -- misgender_gap, one photo per subject ------------------------------------------------------------

# group: (photos, subjects, misgendered, photos with a face, abstentions), counted from the builder
# calls below: nonbinary people's abstentions (the right answer for them) stay in the denominator.
# Abstentions on women and men, and photos with no face found or an error, are also misses of the
# companion measure (test_verdict_promises.py), so they have their own tests below
# (test_abstentions_stay_in_the_denominator_and_no_face_photos_leave_it for the main measure).
THREE_VERDICTS = {
    "cis": (385, 385, 12, 385, 0),
    "trans": (200, 200, 62, 200, 0),
    "nonbinary": (40, 40, 5, 40, 3),
    "unrecorded": (400, 400, 8, 400, 0),
}
# Every two groups, the later one in the order (reference first, then by name) against the earlier.
PAIRS = [
    ("nonbinary", "cis"),
    ("trans", "cis"),
    ("unrecorded", "cis"),
    ("trans", "nonbinary"),
    ("unrecorded", "nonbinary"),
    ("unrecorded", "trans"),
]
# Built so that each verdict occurs (checked against the independent figures below, not assumed).
INTENDED = {
    ("nonbinary", "cis"): "inconclusive",
    ("trans", "cis"): "fail",
    ("unrecorded", "cis"): "pass",
    ("trans", "nonbinary"): "inconclusive",
    ("unrecorded", "nonbinary"): "inconclusive",
    ("unrecorded", "trans"): "fail",
}


@pytest.fixture(scope="module")
def three_verdicts(tmp_path_factory: pytest.TempPathFactory) -> Observations:
    shots = (
        people("cis", 385, misgendered=12)
        + people("trans", 200, trans="yes", misgendered=62)
        + people("nb", 40, identity="nonbinary", misgendered=5, abstained=3)
        + people("unk", 400, trans="unknown", misgendered=8)
    )
    return observe(tmp_path_factory.mktemp("three-verdicts"), shots)


@pytest.fixture(scope="module")
def three_verdicts_result(three_verdicts: Observations) -> CheckResult:
    return check("misgender_gap", three_verdicts)


def counts(group: str) -> tuple[int, int]:
    _, _, count, n, _ = THREE_VERDICTS[group]
    return count, n


def test_misgender_rates_are_hand_counts_with_clopper_pearson_intervals(three_verdicts_result: CheckResult) -> None:
    result = three_verdicts_result
    assert set(result.groups) == set(THREE_VERDICTS)
    for name, (photos, subjects, count, n, abstained) in THREE_VERDICTS.items():
        rate = result.groups[name]
        assert (rate.photos, rate.subjects, rate.count, rate.n) == (photos, subjects, count, n), name
        assert rate.rate == count / n
        assert rate.ci == pytest.approx(cp(count, n), abs=EXACT)
        # One photo a person: the effective size is the number of photos, and both readings agree.
        assert (rate.effective_n, rate.person_rate) == (n, pytest.approx(count / n))
        assert rate.extra["abstained"] == abstained
        assert rate.extra["coverage"] == pytest.approx(1 - abstained / n)


def test_abstentions_stay_in_the_denominator_and_no_face_photos_leave_it(tmp_path: Path) -> None:
    shots = people("cis", 400, misgendered=12, abstained=15, no_face=10, errors=5) + people("trans", 20, trans="yes")
    cis = check("misgender_gap", observe(tmp_path, shots)).groups["cis"]
    # 400 photos: 12 misgendered, 15 abstentions, 10 with no face, 5 errors, 358 gendered correctly.
    assert cis.photos == 400
    assert cis.n == 400 - 10 - 5  # abstentions are counted, no-face and error photos are not
    assert cis.count == 12  # abstaining is not misgendering
    assert cis.rate == 12 / 385
    assert cis.extra["abstained"] == 15


def test_every_two_groups_are_compared_with_newcombes_hybrid_of_clopper_pearson_limits(
    three_verdicts_result: CheckResult,
) -> None:
    result = three_verdicts_result
    assert [(c.group, c.reference) for c in result.comparisons] == PAIRS
    for c in result.comparisons:
        (c1, n1), (c2, n2) = counts(c.group), counts(c.reference)
        assert c.difference == pytest.approx(c1 / n1 - c2 / n2, abs=EXACT)
        # 95% two-sided, unadjusted: a pass needs every interval, which needs no multiplicity penalty.
        assert c.level == 0.95
        assert c.ci == pytest.approx(hybrid_cp(c1, n1, c2, n2), abs=EXACT)
        assert c.tolerance == TOLERANCE
        assert "Newcombe" in c.method
    assert "Holm over 6 comparisons" in result.method
    assert (result.alpha_pass, result.alpha_fail, result.direction) == (ALPHA, ALPHA, "pairwise")


def test_wilson_limits_give_newcombes_interval_exactly(three_verdicts: Observations) -> None:
    result = check("misgender_gap", three_verdicts, policy=replace(DEFAULT, interval="wilson"))
    for c in result.comparisons:
        assert c.ci == pytest.approx(newcombe(*counts(c.group), *counts(c.reference), 0.95), abs=EXACT)
    for name in THREE_VERDICTS:
        assert result.groups[name].ci == pytest.approx(wilson(*counts(name)), abs=EXACT)


def test_p_values_are_the_tolerance_tests_read_off_the_same_interval(three_verdicts_result: CheckResult) -> None:
    result = three_verdicts_result
    for c in result.comparisons:
        (c1, n1), (c2, n2) = counts(c.group), counts(c.reference)
        if c.difference > TOLERANCE and c.p_value > 1e-12:
            # p is twice the one-sided level at which the lower bound reaches the tolerance (either direction).
            assert hybrid_cp(c1, n1, c2, n2, 1 - c.p_value)[0] == pytest.approx(TOLERANCE, abs=1e-8)
        if abs(c.difference) < TOLERANCE:
            # p_within: the level at which the interval's far end reaches the tolerance on its side.
            lower, upper = hybrid_cp(c1, n1, c2, n2, 1 - 2 * c.p_within)
            assert min(TOLERANCE - upper, lower + TOLERANCE) == pytest.approx(0.0, abs=1e-8)
        # One photo a person: the exact test of equal rates is in the same model, and given.
        assert c.p_equal == pytest.approx(fisher_exact([[c1, n1 - c1], [c2, n2 - c2]]).pvalue, rel=1e-9)
    raw = [c.p_value for c in result.comparisons]
    holm = multipletests(raw, method="holm")[1]
    assert [c.p_adjusted for c in result.comparisons] == pytest.approx(list(holm), rel=1e-9)


def test_verdicts_follow_the_rule_and_each_verdict_occurs(three_verdicts_result: CheckResult) -> None:
    result = three_verdicts_result
    raw = [c.p_value for c in result.comparisons]
    holm = multipletests(raw, method="holm")[1]
    expected = {
        pair: rule(hybrid_cp(*counts(pair[0]), *counts(pair[1])), p) for pair, p in zip(PAIRS, holm, strict=True)
    }
    assert expected == INTENDED  # the data does land in each verdict
    assert {(c.group, c.reference): c.verdict for c in result.comparisons} == expected
    assert result.verdict == "fail"  # the worst of fail, inconclusive and pass
    assert result.worst_comparison is not None
    assert (result.worst_comparison.group, result.worst_comparison.reference) == ("unrecorded", "trans")


def test_an_inconclusive_comparison_says_what_gap_would_fail_with_80_percent_power(
    three_verdicts_result: CheckResult,
) -> None:
    result = three_verdicts_result
    for c in result.comparisons:
        assert (c.min_detectable is not None) == (c.verdict == "inconclusive")
    c = comparison(result, "nonbinary")
    # "With this data, a true gap of X would fail with 80% power": every outcome of 40 and 385 photos
    # at rates 12/385 and 12/385 + X, summed, at the first Holm level (0.025 / 6, each direction at half of it).
    p_low = 12 / 385
    power = exact_fail_rate(40, p_low + c.min_detectable, 385, p_low, 1 - 2 * ALPHA / 12)
    assert 0.78 <= power <= 0.92
    # ... and not a figure far beyond what the data can do: 80% of it fails far less often.
    assert exact_fail_rate(40, p_low + 0.8 * c.min_detectable, 385, p_low, 1 - 2 * ALPHA / 12) < 0.75
    # The people that would decide it if the gap were the one seen. The smaller group grows first, up to
    # the larger's size; 385 nonbinary people against the 385 cis are not enough (exact sum), so both grow
    # from equal sizes (one factor for both from 40 and 385 asked for 727 and 6,994: red team of issue 13).
    level = 1 - 2 * ALPHA / 12
    assert exact_fail_rate(385, 5 / 40, 385, p_low, level) < 0.8
    needed_nb, needed_cis = c.subjects_needed
    assert needed_nb == needed_cis
    assert exact_fail_rate(needed_nb, 5 / 40, needed_cis, p_low, level) >= 0.78
    assert exact_fail_rate(needed_nb * 9 // 10, 5 / 40, needed_cis * 9 // 10, p_low, level) < 0.8  # not far more
    assert c.subjects_floor is None  # far above min_subjects: the power alone decides the figure


def test_the_people_needed_are_never_fewer_than_min_subjects(tmp_path: Path) -> None:
    # Issue 14's red team: 9 vs 9 people, every trans photo misgendered, was told "about 4 people in trans
    # and 4 in cis would decide it" while min_subjects 10 keeps any group of fewer than 10 inconclusive.
    observations = observe(tmp_path, people("cis", 9) + people("trans", 9, trans="yes", misgendered=9))
    # By hand (one comparison, each direction at 0.025 / 2): 4 vs 4 at rates 1 and 0 already fail every time,
    # 3 vs 3 never do, so the power alone asks for 4 in each.
    assert exact_fail_rate(4, 1.0, 4, 0.0, 1 - ALPHA) >= 0.8
    assert exact_fail_rate(3, 1.0, 3, 0.0, 1 - ALPHA) < 0.8
    c = comparison(check("misgender_gap", observations), "trans")
    assert c.verdict == "inconclusive"
    assert "fewer than 10 subjects" in c.note
    assert (c.subjects_needed, c.subjects_floor) == ((10, 10), 10)
    # The procurement profile's minimum is 30.
    c = comparison(check("misgender_gap", observations, policy=PROFILES["procurement"]), "trans")
    assert (c.subjects_needed, c.subjects_floor) == ((30, 30), 30)
    assert c.to_dict()["subjects_floor"] == 30
    assert type(c).from_dict(c.to_dict()) == c  # read back from report.json as written


def test_three_groups_make_three_comparisons_and_holm_decides_the_fails(tmp_path: Path) -> None:
    observations = observe(
        tmp_path,
        people("cis", 100, misgendered=4)
        + people("trans", 60, trans="yes", misgendered=12)
        + people("nb", 30, identity="nonbinary", misgendered=6),
    )
    tally = {"cis": (4, 100), "trans": (12, 60), "nonbinary": (6, 30)}
    result = check("misgender_gap", observations)
    assert [(c.group, c.reference) for c in result.comparisons] == [
        ("nonbinary", "cis"),
        ("trans", "cis"),
        ("trans", "nonbinary"),
    ]
    holm = multipletests([c.p_value for c in result.comparisons], method="holm")[1]
    for c, p in zip(result.comparisons, holm, strict=True):
        ci = hybrid_cp(*tally[c.group], *tally[c.reference])
        assert c.ci == pytest.approx(ci, abs=EXACT)
        assert c.verdict == rule(ci, p)
    for name, (count, n) in tally.items():
        assert result.groups[name].ci == pytest.approx(cp(count, n), abs=EXACT)


def test_check_verdict_is_the_worst_of_its_comparisons(tmp_path: Path) -> None:
    base = people("cis", 400, misgendered=12) + people("unk", 400, trans="unknown", misgendered=8)
    alone = check("misgender_gap", observe(tmp_path / "pass", base))
    (only,) = alone.comparisons
    assert only.verdict == rule(hybrid_cp(8, 400, 12, 400), only.p_adjusted) == "pass"
    assert only.p_adjusted == only.p_value  # one comparison: nothing to adjust
    assert alone.verdict == "pass"
    assert "Holm over 1 comparison)" in alone.method

    mixed = check(
        "misgender_gap", observe(tmp_path / "mixed", [*base, *people("nb", 40, identity="nonbinary", misgendered=5)])
    )
    assert comparison(mixed, "unrecorded").verdict == "pass"
    assert comparison(mixed, "nonbinary").verdict == "inconclusive"
    assert mixed.verdict == "inconclusive"


def test_min_subjects_makes_a_small_group_inconclusive_with_a_note(tmp_path: Path) -> None:
    observations = observe(tmp_path, people("cis", 100) + people("trans", 6, trans="yes", misgendered=6))
    # On the interval alone this would fail: 6 of 6 against 0 of 100.
    assert hybrid_cp(6, 6, 0, 100)[0] > TOLERANCE
    result = check("misgender_gap", observations)
    trans = comparison(result, "trans")
    assert trans.verdict == "inconclusive"
    assert result.verdict == "inconclusive"
    assert "fewer than 10 subjects behind a rate (trans: 6, cis: 100)" in trans.note
    # A policy asking for 5 subjects, which 6 satisfy.
    assert check("misgender_gap", observations, policy=replace(DEFAULT, min_subjects=5)).verdict == "fail"


# -- disparity in either direction (issue 13, found 6) -----------------------------------------------------


def test_a_reference_group_that_is_itself_worst_off_fails(tmp_path: Path) -> None:
    # The reference misgendered 79 of 300 (0.263), the other group 3 of 200 (0.015): the old rule
    # counted only groups faring worse than the reference, so nothing could fail.
    observations = observe(
        tmp_path, people("cis", 300, misgendered=79) + people("trans", 200, trans="yes", misgendered=3)
    )
    for direction in ("pairwise", "reference"):
        result = check("misgender_gap", observations, policy=replace(DEFAULT, direction=direction))
        (c,) = result.comparisons
        assert (c.group, c.reference) == ("trans", "cis")
        assert c.difference == pytest.approx(3 / 200 - 79 / 300)
        assert c.ci == pytest.approx(hybrid_cp(3, 200, 79, 300), abs=EXACT)
        assert c.ci[1] < -TOLERANCE
        assert c.verdict == "fail"
        assert result.verdict == "fail"


def test_the_largest_disparity_between_any_two_groups_counts(tmp_path: Path) -> None:
    # Each group within 0.045 of the reference, but 0.09 between the two others.
    tally = {"cis": (200, 2000), "trans": (290, 2000), "nonbinary": (110, 2000)}
    observations = observe(
        tmp_path,
        people("cis", 2000, misgendered=200)
        + people("trans", 2000, trans="yes", misgendered=290)
        + people("nb", 2000, identity="nonbinary", misgendered=110),
    )
    pairwise = check("misgender_gap", observations)
    worst = comparison(pairwise, "trans", "nonbinary")
    assert worst.difference == pytest.approx(0.09)
    assert worst.ci == pytest.approx(hybrid_cp(*tally["trans"], *tally["nonbinary"]), abs=EXACT)
    assert worst.verdict == "fail"
    assert pairwise.verdict == "fail"
    assert pairwise.worst_comparison is worst
    # Against the reference only, both directions: no comparison is shown beyond the tolerance.
    against = check("misgender_gap", observations, policy=replace(DEFAULT, direction="reference"))
    assert {(c.group, c.reference) for c in against.comparisons} == {("nonbinary", "cis"), ("trans", "cis")}
    assert against.verdict != "fail"


# -- misgender_gap with repeated subjects ----------------------------------------------------------------


def person(name: str, photos: int, misgendered: int, trans: str = "yes") -> list[Shot]:
    """One woman's photos: the first ``misgendered`` of them given the wrong label."""
    return [shot(name, "woman", trans, "Male" if i < misgendered else "Female") for i in range(photos)]


def satterthwaite(contributions: np.ndarray) -> float:
    """2 E[V]^2 / Var[V] for V the sum of the people's contributions, both read off the contributions."""
    k = contributions.size
    return float(2 * contributions.sum() ** 2 / (k * contributions.var(ddof=1)))


def korn_graubard_views(
    y: Sequence[int], m: Sequence[int], confidence: float = 0.95
) -> list[tuple[float, float, float]]:
    """(estimate, lower, upper) of the photo-weighted and the person-weighted reading, from the textbook formulas.

    Photo-weighted: the ratio, its cluster-robust variance with each person's residual inflated by
    1 / (1 - leverage) (Bell & McCaffrey), the effective size p(1-p)/variance kept between Kish's
    sum(m)^2/sum(m^2) and the photos, shrunk by (z/t)^2 on Satterthwaite's degrees of freedom (Korn &
    Graubard; at most those of the people showing the event, and the worst case below 5), and Clopper-Pearson
    on the effective count. Person-weighted: the mean of the people's
    own rates, its variance s^2/k, the effective size kept between k and the photos, the same steps.
    """
    y_arr, m_arr = np.asarray(y, dtype=float), np.asarray(m, dtype=float)
    k, total = y_arr.size, m_arr.sum()
    a = (1 - confidence) / 2
    z = float(norm.ppf(1 - a))
    p = y_arr.sum() / total
    own = y_arr / m_arr
    r = own.mean()
    contributions = (y_arr - p * m_arr) ** 2 / (1 - m_arr / total)
    # Red team 13c: only the people who show the event (or, if fewer, its absence) say how alike a person's
    # photos are: at most one degree of freedom fewer than their number, fewer by Satterthwaite on their shares.
    seen, missed = y_arr > 0, y_arr < m_arr
    few = seen if seen.sum() <= missed.sum() else missed
    showing = 0.0 if few.sum() < 2 else min(few.sum() - 1, satterthwaite(contributions[few]))
    views = []
    for estimate, variance, floor, shares in (
        (p, contributions.sum() / total**2, total**2 / np.sum(m_arr**2), contributions),
        (r, own.var(ddof=1) / k, float(k), (own - r) ** 2),
    ):
        if 0 < estimate < 1 and variance > 0:
            effective = min(max(estimate * (1 - estimate) / variance, floor), total)
        else:
            effective = floor
        df = min(k - 1, satterthwaite(shares)) if shares.var() > 0 else k - 1
        df = min(df, showing)
        # Below 5 degrees of freedom the design effect is not read off the data: the worst case stands.
        n = max(floor, effective * (z / float(student.ppf(1 - a, df))) ** 2) if effective > floor and df >= 5 else floor
        views.append((estimate, *cp_fraction(estimate * n, n, confidence)))
    return views


def gap_of_views(a: list[tuple[float, float, float]], b: list[tuple[float, float, float]]) -> tuple[float, float]:
    """The union over the two readings of Newcombe's hybrid interval for a - b."""
    ends = [hybrid(pa, (la, ua), pb, (lb, ub)) for (pa, la, ua), (pb, lb, ub) in zip(a, b, strict=True)]
    return min(e[0] for e in ends), max(e[1] for e in ends)


@pytest.fixture(scope="module")
def clustered(tmp_path_factory: pytest.TempPathFactory) -> Observations:
    # 20 people per group, 5 photos each, every person all right or all wrong: perfectly clustered.
    shots = people("cis", 20, photos=5, misgendered=1) + people("trans", 20, trans="yes", photos=5, misgendered=8)
    return observe(tmp_path_factory.mktemp("clustered"), shots)


def test_perfectly_clustered_photos_count_as_the_people_they_show(clustered: Observations) -> None:
    result = check("misgender_gap", clustered)
    # Rates are still per photo: 8 x 5 of 100 and 1 x 5 of 100.
    assert (result.groups["trans"].count, result.groups["trans"].n) == (40, 100)
    assert (result.groups["cis"].count, result.groups["cis"].n) == (5, 100)
    # A person's photos all agree, so 100 photos are worth 20 people: intervals on 8 of 20 and 1 of 20.
    assert result.groups["trans"].effective_n == 20
    assert result.groups["trans"].ci == pytest.approx(cp(8, 20), abs=EXACT)
    assert result.groups["cis"].ci == pytest.approx(cp(1, 20), abs=EXACT)
    trans = comparison(result, "trans")
    assert trans.ci == pytest.approx(hybrid_cp(8, 20, 1, 20), abs=EXACT)
    # Treating 100 photos of 20 people as 100 independent photos would understate the uncertainty.
    photo_lo, photo_hi = hybrid_cp(40, 100, 5, 100)
    assert trans.ci[1] - trans.ci[0] > photo_hi - photo_lo


def test_zero_events_with_repeated_subjects_count_the_people(tmp_path: Path) -> None:
    observations = observe(
        tmp_path, people("cis", 20, photos=3) + people("trans", 20, trans="yes", photos=3, misgendered=6)
    )
    trans = comparison(check("misgender_gap", observations), "trans")
    # Nothing shows how alike a cis person's photos are: the worst case, 0 of 20 people.
    assert trans.ci == pytest.approx(hybrid_cp(6, 20, 0, 20), abs=EXACT)


def test_unequal_photo_counts_follow_the_textbook_formulas(tmp_path: Path) -> None:
    trans_photos = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 2, 3, 1, 1, 6, 4]
    trans_wrong = [0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 2, 0, 0, 0, 1, 0, 2, 0]
    cis_photos = [3] * 12 + [8] * 6
    cis_wrong = [0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    shots = [
        *(s for i, (m, y) in enumerate(zip(trans_photos, trans_wrong, strict=True)) for s in person(f"t{i}", m, y)),
        *(s for i, (m, y) in enumerate(zip(cis_photos, cis_wrong, strict=True)) for s in person(f"c{i}", m, y, "no")),
    ]
    result = check("misgender_gap", observe(tmp_path, shots))
    trans_views = korn_graubard_views(trans_wrong, trans_photos)
    cis_views = korn_graubard_views(cis_wrong, cis_photos)
    for name, views in (("trans", trans_views), ("cis", cis_views)):
        group = result.groups[name]
        assert group.rate == pytest.approx(views[0][0], abs=EXACT)
        assert group.person_rate == pytest.approx(views[1][0], abs=EXACT)
        assert group.ci == pytest.approx((min(v[1] for v in views), max(v[2] for v in views)), abs=1e-9)
    assert comparison(result, "trans").ci == pytest.approx(gap_of_views(trans_views, cis_views), abs=1e-9)


def test_few_people_cannot_pass_on_one_lucky_draw(tmp_path: Path) -> None:
    # Issue 13, found 2: misgendered photos out of 6 per person, ten people a group. The old
    # percentile bootstrap said "gap -0.050 [-0.200, 0.050] PASSED"; the population this was drawn
    # from had a true gap of 0.15.
    cis_wrong = [0, 0, 0, 0, 4, 0, 0, 0, 0, 0]
    trans_wrong = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    shots = [
        *(s for i, y in enumerate(cis_wrong) for s in person(f"c{i}", 6, y, "no")),
        *(s for i, y in enumerate(trans_wrong) for s in person(f"t{i}", 6, y)),
    ]
    result = check("misgender_gap", observe(tmp_path, shots))
    trans = comparison(result, "trans")
    assert trans.difference == pytest.approx(1 / 60 - 4 / 60)
    expected = gap_of_views(korn_graubard_views(trans_wrong, [6] * 10), korn_graubard_views(cis_wrong, [6] * 10))
    assert trans.ci == pytest.approx(expected, abs=1e-9)
    assert trans.ci[1] > TOLERANCE
    assert trans.verdict == "inconclusive"
    assert result.verdict == "inconclusive"


def test_a_few_people_with_many_photos_cannot_decide_alone(tmp_path: Path) -> None:
    # Issue 13, found 3: three trans people with 40 photos each, all misgendered, and 27 with one
    # photo each, gendered right, against 30 cis people never misgendered. The old fallback read the
    # photo rate 120/147 as "24 of 30 people", [0.613, 0.905], and failed; 3 of 30 people were
    # misgendered, and the evidence rests on those three.
    shots = [
        *(s for i in range(3) for s in person(f"t{i}", 40, 40)),
        *(s for i in range(3, 30) for s in person(f"t{i}", 1, 0)),
        *(s for i in range(30) for s in person(f"c{i}", 1, 0, "no")),
    ]
    result = check("misgender_gap", observe(tmp_path, shots))
    trans_group = result.groups["trans"]
    assert (trans_group.count, trans_group.n, trans_group.rate) == (120, 147, pytest.approx(120 / 147))
    assert trans_group.person_rate == pytest.approx(3 / 30)
    trans = comparison(result, "trans")
    expected = gap_of_views(
        korn_graubard_views([40] * 3 + [0] * 27, [40] * 3 + [1] * 27), korn_graubard_views([0] * 30, [1] * 30)
    )
    assert trans.ci == pytest.approx(expected, abs=1e-9)
    assert trans.ci[0] < TOLERANCE < trans.ci[1]
    assert trans.verdict == "inconclusive"


def test_results_do_not_depend_on_the_seed(clustered: Observations) -> None:
    # The intervals are closed-form: nothing is resampled.
    first = check("misgender_gap", clustered, seed=7).to_dict()
    assert all(check("misgender_gap", clustered, seed=seed).to_dict() == first for seed in (1, 2, 3))


def test_coverage_below_the_floor_keeps_a_pass_from_a_group_that_abstains(tmp_path: Path) -> None:
    # Issue 12: trans people abstained on for 20% of their faces could hide misgendering.
    # Both groups abstained on alike: no gap in being correctly gendered, only the coverage floor keeps the pass.
    observations = observe(
        tmp_path,
        people("cis", 600, misgendered=4, abstained=72)
        + people("trans", 600, trans="yes", misgendered=4, abstained=72),
    )
    result = check("misgender_gap", observations)
    trans = comparison(result, "trans")
    assert result.groups["trans"].extra["coverage_women_men"] == pytest.approx(528 / 600)
    assert trans.ci[0] >= -TOLERANCE  # the interval alone would pass
    assert trans.ci[1] <= TOLERANCE
    assert trans.verdict == "inconclusive"
    assert "only 88.0% of faces of women and men were given a woman or man label (min_coverage 0.9)" in trans.note
    lenient = check("misgender_gap", observations, policy=replace(DEFAULT, min_coverage=0.85))
    assert comparison(lenient, "trans").verdict == "pass"


def everyone_nonbinary(*cohorts: tuple[str, str, str, int]) -> list[Shot]:
    """People of the given (prefix, identity, trans, count) cohorts, each labelled Nonbinary at 99%."""
    return [
        shot(f"{prefix}{i}", identity, trans, "Nonbinary", confidence=99.0)
        for prefix, identity, trans, count in cohorts
        for i in range(count)
    ]


def test_a_woman_or_man_labelled_nonbinary_is_not_correctly_gendered(tmp_path: Path) -> None:
    # Issue 14's red team (s13): an analyzer calling every person nonbinary passed misgender_gap,
    # nonbinary_representability and confidence_calibration, with no note anywhere.
    observations = observe(
        tmp_path,
        everyone_nonbinary(
            ("cw", "woman", "no", 30),
            ("cm", "man", "no", 30),
            ("tw", "woman", "yes", 30),
            ("tm", "man", "yes", 30),
            ("nb", "nonbinary", "yes", 100),
        ),
    )
    # Nobody is misgendered by the rule; every woman and man is not correctly gendered.
    misgender = check("misgender_gap", observations)
    assert {g: r.count for g, r in misgender.groups.items()} == {"cis": 0, "trans": 0, "nonbinary": 0}
    assert misgender.verdict == "fail"  # its companion measure: 60 of 60 cis, 0 of 100 nonbinary
    # Coverage counts women and men given a woman or man label: none here.
    assert misgender.groups["cis"].extra["coverage_women_men"] == 0.0
    assert misgender.groups["trans"].extra["coverage_women_men"] == 0.0
    assert comparison(misgender, "trans").verdict == "inconclusive"  # equal misses, but nothing could pass
    # Calibration, by hand: cis and trans 0.99 confident and always wrong (overconfidence 0.99), nonbinary
    # people 0.99 confident and always right (-0.01): a gap of 1.000 either way.
    calibration = check("confidence_calibration", observations)
    assert calibration.groups["cis"].count == 60
    assert calibration.groups["cis"].rate == pytest.approx(0.99, abs=1e-12)
    assert calibration.groups["nonbinary"].rate == pytest.approx(-0.01, abs=1e-12)
    nb = comparison(calibration, "nonbinary")
    assert nb.difference == pytest.approx(-1.0, abs=1e-12)
    assert nb.verdict == "fail"
    assert calibration.verdict == "fail"
    # Representability's own measure holds (no nonbinary person got a binary label), and it says the rest.
    representability = check("nonbinary_representability", observations)
    assert representability.verdict == "pass"
    assert representability.details["nonbinary_label_on_women_and_men"] == {"photos": 120, "of": 120}
    assert any(
        note.startswith("the nonbinary label was also given to 120 of 120 photos of women and men")
        for note in representability.notes
    )
    from conformance.assertions import verdict_line

    assert verdict_line(representability).endswith(
        "; but the nonbinary label was given to 120 of 120 photos of women and men too (not correctly gendered)"
    )


def test_calling_every_woman_and_man_nonbinary_cannot_pass_without_nonbinary_people(tmp_path: Path) -> None:
    # With cis and trans people only, the gaps are all zero (everyone equally not correctly gendered): only
    # the coverage floor keeps such an analyzer from passing.
    observations = observe(
        tmp_path, everyone_nonbinary(("c", "woman", "no", 150), ("t", "woman", "yes", 300), ("m", "man", "no", 150))
    )
    for check_id in ("misgender_gap", "confidence_calibration"):
        trans = comparison(check(check_id, observations), "trans")
        assert trans.difference == pytest.approx(0.0, abs=1e-12), check_id
        assert trans.verdict == "inconclusive", check_id
        assert "only 0.0% of faces of women and men were given a woman or man label (min_coverage 0.9)" in trans.note
    representability = check("nonbinary_representability", observations)
    # No nonbinary people: only the static half (the vocabulary has a nonbinary label) decides; the note says the rest.
    assert representability.verdict == "pass"
    assert representability.details["nonbinary_label_on_women_and_men"] == {"photos": 600, "of": 600}


def test_a_few_women_labelled_nonbinary_are_counted_and_noted(tmp_path: Path) -> None:
    # An analyzer with a nonbinary label that gives it to 2 of 50 cis women: calibration counts them wrong.
    shots = people("c", 48) + everyone_nonbinary(("x", "woman", "no", 2)) + people("t", 50, trans="yes")
    observations = observe(tmp_path, shots)
    calibration = check("confidence_calibration", observations)
    assert calibration.groups["cis"].count == 2
    assert calibration.groups["cis"].extra["accuracy"] == pytest.approx(48 / 50)
    assert check("misgender_gap", observations).groups["cis"].extra["coverage_women_men"] == pytest.approx(48 / 50)
    assert check("nonbinary_representability", observations).details["nonbinary_label_on_women_and_men"] == {
        "photos": 2,
        "of": 100,
    }


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
    (c,) = result.comparisons
    assert c.verdict == "not applicable"


@pytest.mark.parametrize("header", [WITH_NONBINARY, ABSTAINS], ids=["nonbinary-label", "abstains"])
def test_vocabulary_with_a_nonbinary_label_or_abstention_passes_statically(
    tmp_path: Path, header: dict[str, Any]
) -> None:
    observations = observe(tmp_path, people("cis", 12), header=header)
    result = check("nonbinary_representability", observations)
    assert result.details["static"]["verdict"] == "pass"
    # Nobody nonbinary was photographed: the empirical half cannot speak, by construction.
    (c,) = result.comparisons
    assert c.verdict == "not applicable"
    assert "no nonbinary people in the dataset" in c.note
    assert result.verdict == "pass"  # a passing half and a not applicable one


def test_share_of_a_nonbinary_persons_photos_given_a_binary_label(tmp_path: Path) -> None:
    observations = observe(tmp_path, nonbinary_people(), header=WITH_NONBINARY)
    result = check("nonbinary_representability", observations)
    group = result.groups["nonbinary"]
    # Per person with a face found (nb11 never had one): nb0-nb3 1, nb4 1/2 (one of two photos),
    # nb5 1/2 (an abstention and a binary label), nb6-nb10 and nb12 0. Mean 5/12.
    # subjects counts every nonbinary person, nb11 too, as photos counts every photo (rt14f F8); n, those with a face.
    assert (group.n, group.subjects, group.photos) == (12, 13, 26)
    assert group.rate == pytest.approx(5 / 12)
    # The older figure, by name: 6 of 12 were given a binary label on some photo.
    assert (group.count, group.extra["any_photo_share"]) == (6, 6 / 12)
    # Each person counts once, and a share varies at most as a 0/1 does: Clopper-Pearson on 5 of 12.
    assert group.ci == pytest.approx(cp(5, 12), abs=EXACT)
    (c,) = result.comparisons
    assert c.ci == group.ci
    assert cp(5, 12)[0] > TOLERANCE
    assert c.verdict == "fail"
    assert result.verdict == "fail"


def test_representability_does_not_grow_with_photos_per_person(tmp_path: Path) -> None:
    # Issue 13, found 5: every nonbinary person has a binary label on one photo in six. The old
    # measure (any photo) counted all of them; the new one reads one in six.
    shots = [shot(f"nb{i}", "nonbinary", "no", "Female" if j == 0 else None) for i in range(30) for j in range(6)]
    result = check("nonbinary_representability", observe(tmp_path, shots, header=ABSTAINS))
    group = result.groups["nonbinary"]
    assert group.extra["any_photo_share"] == 1.0
    assert group.rate == pytest.approx(1 / 6)
    assert group.ci == pytest.approx(cp_fraction(30 / 6, 30), abs=1e-9)


def test_few_nonbinary_subjects_leave_the_empirical_part_inconclusive(tmp_path: Path) -> None:
    shots = [shot(f"nb{i}", "nonbinary", "no", "Female") for i in range(4)]
    result = check("nonbinary_representability", observe(tmp_path, shots, header=ABSTAINS))
    (c,) = result.comparisons
    assert cp(4, 4)[0] > TOLERANCE  # would fail on the interval alone
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


def test_consistency_is_the_share_of_a_persons_photo_pairs_labelled_differently(tmp_path: Path) -> None:
    result = check("same_person_consistency", observe(tmp_path, consistency_people()))
    cis, trans = result.groups["cis"], result.groups["trans"]
    # A photo's answer is its label or none (abstained, no face, an error); a person counts with 2+ photos,
    # one labelled at least. cis: eligible c0-c12 and c14 (14). Disagreeing pairs: c9 (F, M) 1 of 1,
    # c10 (F, F, none) 2 of 3, c11 (F, none) and c12 (F, no face) 1 of 1, c14 (M, F, F) 2 of 3; c13 has one photo.
    assert (cis.count, cis.n, cis.subjects, cis.photos) == (5, 14, 15, 31)
    cis_sum = 1 + 2 / 3 + 1 + 1 + 2 / 3
    assert cis.rate == pytest.approx(cis_sum / 14)
    # trans: eligible t0-t12 (13); t0-t5 disagree on their one pair, t10 (none, none, F) on 2 of 3,
    # t12 (F, error, M) on 3 of 3; t11 (M, M) is consistently wrong, which is consistent.
    assert (trans.count, trans.n, trans.subjects, trans.photos) == (8, 13, 13, 28)
    trans_sum = 6 + 2 / 3 + 1
    assert trans.rate == pytest.approx(trans_sum / 13)
    assert (cis.extra["any_change_share"], trans.extra["any_change_share"]) == (5 / 14, 8 / 13)
    assert (cis.extra["unlabelled_photos"], trans.extra["unlabelled_photos"]) == (3, 3)
    # One unit a person with a share in [0, 1]: Clopper-Pearson on the (fractional) count over the people.
    assert cis.ci == pytest.approx(cp_fraction(cis_sum, 14), abs=1e-9)
    assert trans.ci == pytest.approx(cp_fraction(trans_sum, 13), abs=1e-9)
    c = comparison(result, "trans")
    assert c.ci == pytest.approx(
        hybrid(trans_sum / 13, cp_fraction(trans_sum, 13), cis_sum / 14, cp_fraction(cis_sum, 14)), abs=1e-9
    )
    assert c.ci[0] < TOLERANCE < c.ci[1]  # 13 and 14 people cannot show a gap of 0.28 beyond 0.05
    assert c.verdict == "inconclusive"


def test_consistency_does_not_grow_with_photos_per_person(tmp_path: Path) -> None:
    # Issue 13, found 5: the same analyzer (each photo mislabelled with probability 0.1) on people
    # with 2 photos in one group and 6 in the other. Per person, expected disagreeing pairs are
    # 2 x 0.1 x 0.9 = 0.18 whatever the photo count, but a change on *any* photo is 0.18 with two
    # photos and 1 - 0.9^6 - ... = 0.47 with six. Group sizes follow the binomial counts of wrong photos.
    two = [(1, 18), (0, 82)]  # (wrong photos, people): 18 of 100 have one wrong photo of two
    six = [(0, 53), (1, 35), (2, 10), (3, 2)]
    shots = []
    for group, photos, design in (("no", 2, two), ("yes", 6, six)):
        index = 0
        for wrong, count in design:
            for _ in range(count):
                shots += [
                    shot(f"{group}{index}", "woman", group, "Male" if j < wrong else "Female") for j in range(photos)
                ]
                index += 1
    result = check("same_person_consistency", observe(tmp_path, shots))
    cis, trans = result.groups["cis"], result.groups["trans"]
    assert (cis.extra["any_change_share"], trans.extra["any_change_share"]) == (0.18, 0.47)
    # The per-person share of disagreeing pairs: 18 x 1 / 100 and (35 x 5 + 10 x 8 + 2 x 9) / 15 / 100.
    assert cis.rate == pytest.approx(0.18)
    assert trans.rate == pytest.approx((35 * 5 + 10 * 8 + 2 * 9) / 15 / 100)
    assert comparison(result, "trans").verdict != "fail"
    # The old measure's gap, 0.29, would have failed: the new one sees the same analyzer.
    assert abs(comparison(result, "trans").difference) < 0.01


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


def test_a_group_nobody_in_which_has_two_photos_is_not_applicable(tmp_path: Path) -> None:
    shots = people("cis", 12, photos=2) + people("trans", 12, trans="yes")  # trans: one photo each
    result = check("same_person_consistency", observe(tmp_path, shots))
    (c,) = result.comparisons
    assert c.verdict == "not applicable"
    assert "no person in this group has two or more photos" in c.note
    assert result.verdict == "not applicable"


def test_a_group_the_analyzer_abstained_on_entirely_is_not_applicable(tmp_path: Path) -> None:
    # Issue 13, found 1: an analyzer that abstains on every nonbinary person (as representability
    # asks) left consistency with "nothing this check counts" for them: inconclusive, a failed gate.
    shots = (
        people("cis", 200, photos=2)
        + people("trans", 200, trans="yes", photos=2)
        + people("nb", 200, identity="nonbinary", photos=2, abstained=200)
    )
    result = check("same_person_consistency", observe(tmp_path, shots, header=ABSTAINS))
    for other in ("cis", "trans"):
        c = comparison(result, "nonbinary", other)
        assert c.verdict == "not applicable"
        assert "abstained on every one" in c.note
    # 0 of 200 people with a change in each group: Clopper-Pearson's upper limit 0.018 on either side.
    trans = comparison(result, "trans")
    assert trans.ci == pytest.approx((-cp(0, 200)[1], cp(0, 200)[1]), abs=EXACT)
    assert trans.verdict == "pass"
    assert result.verdict == "pass"  # a pass and two comparisons the data cannot speak to


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


def hand_overconfidence_interval(
    values: list[float], wrong: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Mean, variance and degrees of freedom of one person a photo's overconfidence, from the formulas.

    The variance of the mean is s^2 / n, never below the variance the Wilson interval of the share
    answered wrong implies on the people (its wider side over z, squared); the degrees of freedom are
    Satterthwaite's from the squared residuals, at most n - 1.
    """
    v = np.asarray(values)
    n = v.size
    residual2 = (v - v.mean()) ** 2
    spread = residual2.var(ddof=1)
    df = min(n - 1, 2 * residual2.sum() ** 2 / (n * spread)) if spread > 0 else n - 1
    z = norm.ppf(1 - (1 - confidence) / 2)
    low, high = wilson(wrong, n, confidence)
    share = wrong / n
    floor = (max(high - share, share - low) / z) ** 2
    return float(v.mean()), max(float(v.var(ddof=1) / n), floor), float(df)


def test_calibration_gap_is_a_welch_interval_never_narrower_than_accuracy_allows(calibration: CheckResult) -> None:
    figures = {}
    for cohort in ("A", "B"):
        right, wrong = CALIBRATION[cohort]
        values = [c / 100 - 1 for c in right] + [c / 100 for c in wrong]
        figures[cohort] = hand_overconfidence_interval(values, len(wrong))
    (mean_b, var_b, df_b), (mean_a, var_a, df_a) = figures["B"], figures["A"]
    welch = (var_a + var_b) ** 2 / (var_a**2 / df_a + var_b**2 / df_b)
    half = student.ppf(0.975, welch) * math.sqrt(var_a + var_b)
    c = comparison(calibration, "B", "A")
    assert c.difference == pytest.approx(mean_b - mean_a, abs=EXACT)
    assert c.ci == pytest.approx((mean_b - mean_a - half, mean_b - mean_a + half), abs=1e-9)
    # The method says so: a Welch t interval, not Newcombe's rule on score limits (which it said before).
    assert c.method.startswith("Welch t interval")
    assert "(Welch t intervals on those variances)" in calibration.method
    assert "Newcombe" not in calibration.method


def test_a_constant_confidence_on_few_people_is_not_certainty(tmp_path: Path) -> None:
    # Ten people a group, all gendered right at confidence 90: every overconfidence is -0.1, but ten
    # people cannot show that a group is never misgendered (Wilson's upper limit for 0 of 10 is 0.28).
    observations = observe(
        tmp_path, people("cis", 10, confidence=90.0) + people("trans", 10, trans="yes", confidence=90.0)
    )
    c = comparison(check("confidence_calibration", observations), "trans")
    assert c.difference == 0.0
    _, floor, _ = hand_overconfidence_interval([-0.1] * 10, 0)
    assert c.ci == pytest.approx((-1, 1) * np.array(student.ppf(0.975, 18) * math.sqrt(2 * floor)), abs=1e-9)
    assert c.verdict == "inconclusive"


def test_calibration_of_a_group_given_no_label_is_not_applicable(tmp_path: Path) -> None:
    shots = people("cis", 12) + people("trans", 12, trans="yes") + people("nb", 12, identity="nonbinary", abstained=12)
    result = check("confidence_calibration", observe(tmp_path, shots, header=ABSTAINS))
    assert comparison(result, "nonbinary").verdict == "not applicable"
    assert comparison(result, "nonbinary", "trans").verdict == "not applicable"
    assert comparison(result, "trans").verdict != "not applicable"


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
    assert cis.ci == pytest.approx(cp(3, 50), abs=EXACT)
    c = comparison(result, "trans")
    assert c.ci == pytest.approx(hybrid_cp(10, 40, 3, 50), abs=EXACT)
    assert c.verdict == rule(hybrid_cp(10, 40, 3, 50), c.p_adjusted)


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
    assert c.ci == pytest.approx(hybrid_cp(12, 60, 2, 60), abs=EXACT)


def test_grouping_by_an_intersection_of_columns(skin: Observations) -> None:
    result = check("misgender_gap", skin, by=["skin_type", "identity"], reference="lighter & man")
    expected = {f"{tone} & {identity}": tally for (tone, identity), tally in SKIN.items()}
    assert set(result.groups) == set(expected)
    for name, (n, wrong) in expected.items():
        assert (result.groups[name].count, result.groups[name].n) == (wrong, n)
    assert len(result.comparisons) == 6  # every two of four groups
    holm = multipletests([c.p_value for c in result.comparisons], method="holm")[1]
    for c, p in zip(result.comparisons, holm, strict=True):
        (n1, w1), (n2, w2) = expected[c.group], expected[c.reference]
        assert c.ci == pytest.approx(hybrid_cp(w1, n1, w2, n2), abs=EXACT)
        assert c.verdict == rule(hybrid_cp(w1, n1, w2, n2), p)


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


def comparable(result: CheckResult, rename: dict[str, str]) -> tuple[dict[str, Any], dict[Any, Any], str]:
    """A result's figures keyed by (renamed) group names, without the free-text notes that name groups."""
    groups = {rename.get(name, name): rate.to_dict() for name, rate in result.groups.items()}
    comparisons = {}
    for c in result.comparisons:
        figures = c.to_dict()
        for key in ("group", "reference", "note"):
            figures.pop(key)
        comparisons[rename.get(c.group, c.group), rename.get(c.reference, c.reference)] = figures
    return groups, comparisons, result.verdict


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shots=cohorts(), names=st.permutations(NEW_NAMES))
def test_renaming_groups_permutes_the_results(shots: list[Shot], names: list[str]) -> None:
    # Against the reference, the comparisons keep their orientation whatever the names.
    policy = replace(DEFAULT, min_subjects=1, direction="reference")
    with TemporaryDirectory() as directory:
        observations = observe(Path(directory), shots)
    groups = group_labels(observations.dataset, ["cohort"])
    rename = {f"c{i}": name for i, name in enumerate(names)}
    renamed = [rename[g] for g in groups]
    for check_id in ("misgender_gap", "detection_failure_gap", "same_person_consistency", "confidence_calibration"):
        before = run_check(check_id, observations, groups=groups, reference="c0", policy=policy, seed=SEED)
        after = run_check(check_id, observations, groups=renamed, reference=rename["c0"], policy=policy, seed=SEED)
        assert comparable(before, rename) == comparable(after, {}), check_id
        # (detection_failure_gap's rows against its ceiling are no comparison of groups: "none (ceiling)")
        assert {c.reference for c in after.comparisons} <= {rename["c0"], "none (ceiling)"}
        flagged = before.details.get("more_confident_yet_more_wrong", [])
        assert sorted(rename[g] for g in flagged) == sorted(after.details.get("more_confident_yet_more_wrong", []))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shots=cohorts())
def test_pairwise_comparisons_hold_each_pair_once_and_are_antisymmetric(shots: list[Shot]) -> None:
    policy = replace(DEFAULT, min_subjects=1)
    with TemporaryDirectory() as directory:
        observations = observe(Path(directory), shots)
    groups = group_labels(observations.dataset, ["cohort"])
    names = sorted(set(groups))
    result = run_check("misgender_gap", observations, groups=groups, reference="c0", policy=policy, seed=SEED)
    assert len(result.comparisons) == len(names) * (len(names) - 1) // 2
    assert len({frozenset((c.group, c.reference)) for c in result.comparisons}) == len(result.comparisons)
    # Reversing which group is the reference reverses every gap and its interval.
    other = run_check("misgender_gap", observations, groups=groups, reference=names[-1], policy=policy, seed=SEED)
    for c in result.comparisons:
        (twin,) = [d for d in other.comparisons if {d.group, d.reference} == {c.group, c.reference}]
        if twin.group == c.group:
            assert twin.to_dict() == c.to_dict()
        elif c.ci is not None and twin.ci is not None:
            assert twin.difference == pytest.approx(-c.difference, abs=EXACT)
            assert twin.ci == pytest.approx((-c.ci[1], -c.ci[0]), abs=1e-9)
            assert twin.verdict == c.verdict
