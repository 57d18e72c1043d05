"""Tests for conformance.stats, each against figures worked out independently of the code under test:
closed-form formulas evaluated here, scipy/statsmodels called directly, and textbook values.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import beta, binom, boschloo_exact, fisher_exact, hypergeom, norm  # type: ignore[import-untyped]
from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped]
from statsmodels.stats.proportion import (  # type: ignore[import-untyped]
    confint_proportions_2indep,
    proportion_confint,
)

from conformance import stats
from conformance.stats import (
    Precision,
    cluster_bootstrap_difference,
    cluster_bootstrap_interval,
    clustered_rate,
    detectable_gap,
    exact_p_value,
    gap_bounds,
    gap_interval,
    gap_tests,
    holm,
    newcombe_interval,
    power_to_fail,
    power_to_pass,
    proportion_interval,
    rate_bounds,
    rate_interval,
    rate_tests,
    share_variance_floor,
    subjects_needed,
)

REPO = Path(__file__).resolve().parents[1]

# Statsmodels' first import alone can exceed hypothesis' default 200 ms deadline.
settings.register_profile("stats", deadline=None)
settings.load_profile("stats")


@st.composite
def count_and_n(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(min_value=1, max_value=500))
    return draw(st.integers(min_value=0, max_value=n)), n


def wilson_closed_form(count: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson (1927) score limits, written out from the formula."""
    z = norm.ppf(1 - (1 - confidence) / 2)
    p = count / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_importing_stats_does_not_import_numpy_or_scipy() -> None:
    code = (
        "import sys, conformance.stats\n"
        "heavy = [m for m in ('numpy', 'scipy', 'statsmodels') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


# --- single proportions -------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "sm_method"), [("wilson", "wilson"), ("clopper-pearson", "beta")])
@pytest.mark.parametrize("confidence", [0.90, 0.95, 0.99])
def test_proportion_interval_matches_statsmodels_over_a_grid(method: str, sm_method: str, confidence: float) -> None:
    for n in (1, 2, 5, 13, 50, 300):
        for count in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            expected = proportion_confint(count, n, alpha=1 - confidence, method=sm_method)
            got = proportion_interval(count, n, confidence=confidence, method=method)
            assert got == pytest.approx(expected, abs=1e-12), (count, n)


def test_wilson_by_hand_12_of_300() -> None:
    lower, upper = wilson_closed_form(12, 300, 0.95)
    assert (round(lower, 4), round(upper, 4)) == (0.0230, 0.0686)  # the worked figure, for the eye
    assert proportion_interval(12, 300) == pytest.approx((lower, upper), abs=1e-12)


@pytest.mark.parametrize("n", [1, 3, 10, 29, 500])
def test_clopper_pearson_at_zero_and_all_is_closed_form(n: int) -> None:
    alpha = 0.05
    assert proportion_interval(0, n, method="clopper-pearson") == pytest.approx(
        (0.0, 1 - (alpha / 2) ** (1 / n)), abs=1e-12
    )
    assert proportion_interval(n, n, method="clopper-pearson") == pytest.approx(
        ((alpha / 2) ** (1 / n), 1.0), abs=1e-12
    )


def test_proportion_interval_edges() -> None:
    assert all(math.isnan(b) for b in proportion_interval(0, 0))
    with pytest.raises(ValueError, match="'wilson', 'clopper-pearson'"):
        proportion_interval(1, 10, method="wald")
    with pytest.raises(ValueError, match="count <= n"):
        proportion_interval(11, 10)
    with pytest.raises(ValueError, match="confidence"):
        proportion_interval(1, 10, confidence=95)


@given(count_and_n(), st.sampled_from(["wilson", "clopper-pearson"]), st.sampled_from([0.8, 0.95, 0.999]))
def test_proportion_interval_contains_estimate_within_unit_interval(
    kn: tuple[int, int], method: str, confidence: float
) -> None:
    count, n = kn
    lower, upper = proportion_interval(count, n, confidence=confidence, method=method)
    assert 0.0 <= lower <= count / n <= upper <= 1.0


# --- differences of proportions -----------------------------------------------------------------

# Newcombe (1998) Stat Med 17:873, Table II, method 10; each pair reproduced here by statsmodels and
# by the closed form before being kept. Left out: 6/7 vs 2/7 quoted as 0.0381 to 0.8478, which is
# not method 10. From its Wilson limits (0.4869-0.9743 and 0.0822-0.6411) the definition gives
# 0.0582 to 0.8062, as statsmodels does (nor does it match the Mee or Miettinen-Nurminen score
# intervals, 0.0540-0.8474 and 0.0340-0.8530). That case stays in the definition test below.
NEWCOMBE_1998 = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
]


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE_1998)
def test_newcombe_reproduces_newcombe_1998_table_ii(
    counts: tuple[int, int, int, int], expected: tuple[float, float]
) -> None:
    lower, upper = newcombe_interval(*counts)
    assert (round(lower, 4), round(upper, 4)) == expected


@pytest.mark.parametrize("confidence", [0.90, 0.95, 0.99])
def test_newcombe_matches_statsmodels_and_its_definition(confidence: float) -> None:
    cases = [(6, 7, 2, 7), (0, 5, 3, 7), (12, 300, 93, 300), (40, 41, 1, 90), (7, 7, 7, 7), (3, 200, 0, 15)]
    for c1, n1, c2, n2 in cases:
        expected = confint_proportions_2indep(c1, n1, c2, n2, method="newcomb", compare="diff", alpha=1 - confidence)
        got = newcombe_interval(c1, n1, c2, n2, confidence=confidence)
        assert got == pytest.approx(expected, abs=1e-12)
        p1, p2 = c1 / n1, c2 / n2
        l1, u1 = wilson_closed_form(c1, n1, confidence)
        l2, u2 = wilson_closed_form(c2, n2, confidence)
        by_hand = (
            p1 - p2 - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            p1 - p2 + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
        )
        assert got == pytest.approx(by_hand, abs=1e-9)


def test_newcombe_empty_group_is_nan() -> None:
    assert all(math.isnan(b) for b in newcombe_interval(0, 0, 3, 10))
    assert all(math.isnan(b) for b in newcombe_interval(3, 10, 0, 0))


@given(count_and_n(), count_and_n())
def test_newcombe_contains_estimate_and_is_antisymmetric(a: tuple[int, int], b: tuple[int, int]) -> None:
    lower, upper = newcombe_interval(a[0], a[1], b[0], b[1])
    assert -1.0 <= lower <= a[0] / a[1] - b[0] / b[1] <= upper <= 1.0
    swapped = newcombe_interval(b[0], b[1], a[0], a[1])
    assert swapped == pytest.approx((-upper, -lower), abs=1e-12)


# --- exact tests --------------------------------------------------------------------------------


def test_fisher_tea_tasting() -> None:
    # Fisher's lady tasting tea: 3 of 4 milk-first cups named right; two-sided p = 17/35.
    assert exact_p_value(3, 4, 1, 4) == pytest.approx(17 / 35, abs=1e-12)
    assert round(exact_p_value(3, 4, 1, 4), 4) == 0.4857


@pytest.mark.parametrize("counts", [(3, 4, 1, 4), (5, 56, 0, 29), (12, 300, 93, 300), (0, 10, 0, 20)])
def test_exact_p_values_match_scipy(counts: tuple[int, int, int, int]) -> None:
    c1, n1, c2, n2 = counts
    table = [[c1, c2], [n1 - c1, n2 - c2]]
    assert exact_p_value(*counts) == pytest.approx(fisher_exact(table).pvalue, abs=1e-12)
    assert exact_p_value(*counts, method="boschloo") == pytest.approx(boschloo_exact(table).pvalue, abs=1e-12)


def test_boschloo_matches_a_brute_force_supremum() -> None:
    # Boschloo's test: order tables by Fisher's one-sided p-value, take the supremum over the common
    # proportion of the binomial probability of the tables at least as extreme; two-sided is twice
    # the smaller side. The groups differ in size, so swapping them would change the answer.
    c1, n1, c2, n2 = 7, 12, 2, 10
    x1 = np.arange(n1 + 1)[:, None]
    x2 = np.arange(n2 + 1)[None, :]
    grid = np.linspace(0.0, 1.0, 4001)
    joint = binom.pmf(x1[..., None], n1, grid) * binom.pmf(x2[..., None], n2, grid)
    sides = []
    for fisher_side in (
        hypergeom.cdf(x1, n1 + n2, x1 + x2, n1),  # group 1 low
        hypergeom.cdf(x2, n1 + n2, x1 + x2, n2),  # group 2 low
    ):
        extreme = fisher_side <= fisher_side[c1, c2] * (1 + 1e-12)
        sides.append(float((joint * extreme[..., None]).sum(axis=(0, 1)).max()))
    expected = min(1.0, 2 * min(sides))
    assert exact_p_value(c1, n1, c2, n2, method="boschloo") == pytest.approx(expected, abs=2e-3)


def test_exact_p_value_edges() -> None:
    assert math.isnan(exact_p_value(0, 0, 1, 3))
    assert math.isnan(exact_p_value(1, 3, 0, 0, method="boschloo"))
    with pytest.raises(ValueError, match="'fisher', 'boschloo'"):
        exact_p_value(1, 3, 1, 3, method="chi2")


# --- Holm ---------------------------------------------------------------------------------------


def test_holm_by_hand() -> None:
    # m = 4 non-missing. Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> 0.06
    # (the running maximum), then back to input order; nan stays put and is not counted.
    got = holm([0.01, 0.04, math.nan, 0.03, 0.005])
    assert got[:2] == pytest.approx([0.03, 0.06])
    assert math.isnan(got[2])
    assert got[3:] == pytest.approx([0.06, 0.02])
    assert holm([]) == []
    assert holm([0.7, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_holm_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.2, 1.5])


p_lists = st.lists(st.one_of(st.floats(min_value=0.0, max_value=1.0), st.just(math.nan)), min_size=1, max_size=25)


@given(p_lists)
def test_holm_matches_statsmodels_and_is_monotone(p_values: list[float]) -> None:
    got = holm(p_values)
    present = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    assert all(math.isnan(got[i]) for i in range(len(p_values)) if i not in present)
    if not present:
        return
    expected = multipletests([p_values[i] for i in present], method="holm")[1]
    assert [got[i] for i in present] == pytest.approx(list(expected), abs=1e-12)
    for i in present:
        assert p_values[i] <= got[i] <= 1.0
    ordered = sorted(present, key=lambda i: p_values[i])
    assert all(got[i] <= got[j] for i, j in itertools.pairwise(ordered))


# --- subject bootstrap --------------------------------------------------------------------------


def one_photo_each(count: int, n: int) -> tuple[list[int], list[int]]:
    return [1] * count + [0] * (n - count), [1] * n


def test_bootstrap_with_one_photo_per_subject_is_close_to_wald() -> None:
    (na, da), (nb, db) = one_photo_each(450, 1500), one_photo_each(300, 1500)
    pa, pb = 0.30, 0.20
    half = norm.ppf(0.975) * math.sqrt(pa * (1 - pa) / 1500 + pb * (1 - pb) / 1500)
    lower, upper = cluster_bootstrap_difference(na, da, nb, db, resamples=4000, seed=3)
    assert lower == pytest.approx(pa - pb - half, abs=0.01)
    assert upper == pytest.approx(pa - pb + half, abs=0.01)
    single = cluster_bootstrap_interval(na, da, resamples=4000, seed=3)
    assert single == pytest.approx(wilson_closed_form(450, 1500, 0.95), abs=0.01)


def test_clustering_widens_the_interval() -> None:
    # 100 subjects x 4 photos per group; a subject's photos are all misgendered or all right.
    clustered = cluster_bootstrap_difference([4] * 30 + [0] * 70, [4] * 100, [4] * 20 + [0] * 80, [4] * 100, seed=1)
    # The same photo counts (120/400 and 80/400), each photo its own subject.
    independent = cluster_bootstrap_difference(*one_photo_each(120, 400), *one_photo_each(80, 400), seed=1)
    clustered_width = clustered[1] - clustered[0]
    assert clustered_width > 1.5 * (independent[1] - independent[0])  # design effect 4: about 2x
    # Perfect clustering makes the subject the unit: Wald on 30/100 vs 20/100, by hand.
    by_hand = 2 * norm.ppf(0.975) * math.sqrt(0.3 * 0.7 / 100 + 0.2 * 0.8 / 100)
    assert clustered_width == pytest.approx(by_hand, abs=0.02)


def test_bootstrap_is_determined_by_its_seed() -> None:
    rng = np.random.default_rng(42)
    den_a, den_b = rng.integers(1, 6, 300), rng.integers(1, 6, 250)
    num_a, num_b = rng.binomial(den_a, 0.2), rng.binomial(den_b, 0.1)
    first = cluster_bootstrap_difference(num_a, den_a, num_b, den_b, seed=7)
    assert cluster_bootstrap_difference(num_a, den_a, num_b, den_b, seed=7) == first
    assert cluster_bootstrap_difference(num_a, den_a, num_b, den_b, seed=8) != first
    single = cluster_bootstrap_interval(num_a, den_a, seed=7)
    assert cluster_bootstrap_interval(num_a, den_a, seed=7) == single


def test_chunk_size_does_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    den_a, den_b = rng.integers(1, 4, 120), rng.integers(1, 4, 90)
    num_a, num_b = rng.binomial(den_a, 0.3), rng.binomial(den_b, 0.2)
    whole = cluster_bootstrap_difference(num_a, den_a, num_b, den_b, resamples=500, seed=11)
    monkeypatch.setattr(stats, "_CHUNK_CELLS", 1000)  # 8 and 11 resamples per chunk, a ragged tail
    assert cluster_bootstrap_difference(num_a, den_a, num_b, den_b, resamples=500, seed=11) == whole


def test_bootstrap_drops_resamples_with_a_zero_denominator() -> None:
    # Only the first subject has a photo with a face: a resample misses it with probability 0.9**10.
    num, den = [1] + [0] * 9, [1] + [0] * 9
    assert cluster_bootstrap_interval(num, den) == (1.0, 1.0)  # 65% of resamples kept, all ratio 1
    # Both groups must hit it: 0.651**2 = 42% kept, fewer than half.
    assert all(math.isnan(b) for b in cluster_bootstrap_difference(num, den, num, den))
    assert all(math.isnan(b) for b in cluster_bootstrap_interval([0, 0], [0, 0]))
    assert all(math.isnan(b) for b in cluster_bootstrap_difference([], [], [1], [1]))


def test_bootstrap_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError, match="one entry per subject"):
        cluster_bootstrap_interval([1, 2], [3])
    with pytest.raises(ValueError, match=">= 0"):
        cluster_bootstrap_interval([1], [-1])


# --- clustered rates: effective sizes -----------------------------------------------------------


def independent(count: int, n: int) -> tuple[list[int], list[int]]:
    """Per-person sums for n people with one photo each, ``count`` of them counted."""
    return [1] * count + [0] * (n - count), [1] * n


def test_one_photo_a_person_is_the_plain_proportion() -> None:
    r = clustered_rate(*independent(12, 300))
    assert (r.count, r.n, r.subjects, r.rate, r.person_rate) == (12, 300, 300, 0.04, 0.04)
    assert (r.effective_n, r.floor_n, r.clustered, r.df) == (300, 300, False, math.inf)
    for method, sm_method in (("wilson", "wilson"), ("clopper-pearson", "beta")):
        for confidence in (0.9, 0.95, 0.99):
            expected = proportion_confint(12, 300, alpha=1 - confidence, method=sm_method)
            assert rate_interval(r, confidence, method) == pytest.approx(expected, abs=1e-12)


def test_perfectly_clustered_photos_are_worth_one_person_each() -> None:
    # 30 people with 4 photos each; 6 of them misgendered on every photo.
    r = clustered_rate([4] * 6 + [0] * 24, [4] * 30)
    # By hand: p = 0.2; residuals 4(1 - 0.2) and -4(0.2); CR2 variance
    # (6 * 3.2^2 + 24 * 0.8^2) / (1 - 1/30) / 120^2 = 0.2 * 0.8 / 29, so p(1-p)/variance = 29,
    # below Kish's floor 120^2 / (30 * 16) = 30 people: the worst case, 30 people.
    assert r.variance == pytest.approx(0.2 * 0.8 / 29, rel=1e-12)
    assert (r.floor_n, r.effective_n, r.person_effective_n) == (pytest.approx(30.0), pytest.approx(30.0), 30.0)
    assert rate_interval(r, method="clopper-pearson") == pytest.approx(proportion_confint(6, 30, method="beta"))


def test_photos_that_vary_within_people_are_worth_more_than_the_people() -> None:
    # 40 people, 10 photos each, 2 of each person's 10 misgendered: no variation between people.
    # The cluster-robust variance is 0: nothing says how alike the photos are, so the worst case.
    same = clustered_rate([2] * 40, [10] * 40)
    assert same.effective_n == pytest.approx(40.0)
    # Half the people 0 of 10, half 4 of 10: more alike within a person than independent photos, far
    # less than all-or-nothing.
    r = clustered_rate([0, 4] * 20, [10] * 40)
    by_hand = sum((y - 0.2 * 10) ** 2 for y in [0, 4] * 20) / (1 - 1 / 40) / 400**2
    assert r.variance == pytest.approx(by_hand, rel=1e-12)
    assert r.effective_n == pytest.approx(0.2 * 0.8 / by_hand, rel=1e-12)
    assert 40 < r.effective_n < 400  # between the people and the photos
    assert r.design_effect == pytest.approx(400 / r.effective_n)


def test_kish_floor_for_unequal_photo_counts() -> None:
    r = clustered_rate([0, 0, 0, 0], [1, 2, 3, 10])
    assert r.floor_n == pytest.approx(16**2 / (1 + 4 + 9 + 100))
    assert r.effective_n == r.floor_n  # a rate of 0 tells nothing of the clustering: the worst case
    assert r.person_effective_n == 4


def test_clustered_rate_refuses_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="no person with a positive denominator"):
        clustered_rate([0, 0], [0, 0])
    with pytest.raises(ValueError, match="one entry per subject"):
        clustered_rate([1, 2], [3])


# --- gap intervals ------------------------------------------------------------------------------


def cp_limits(count: int, n: int, confidence: float) -> tuple[float, float]:
    lo, hi = proportion_confint(count, n, alpha=1 - confidence, method="beta")
    return float(lo), float(hi)


@pytest.mark.parametrize("confidence", [0.90, 0.95, 0.99])
def test_independent_gaps_are_newcombes_interval(confidence: float) -> None:
    cases = [(6, 7, 2, 7), (0, 5, 3, 7), (12, 300, 93, 300), (40, 41, 1, 90), (7, 7, 7, 7), (3, 200, 0, 15)]
    for c1, n1, c2, n2 in cases:
        a, b = clustered_rate(*independent(c1, n1)), clustered_rate(*independent(c2, n2))
        expected = confint_proportions_2indep(c1, n1, c2, n2, method="newcomb", compare="diff", alpha=1 - confidence)
        assert gap_interval(a, b, confidence, "wilson") == pytest.approx(expected, abs=1e-12)
        # The same rule on Clopper-Pearson limits, written out.
        p1, p2 = c1 / n1, c2 / n2
        (l1, u1), (l2, u2) = cp_limits(c1, n1, confidence), cp_limits(c2, n2, confidence)
        by_hand = (p1 - p2 - math.hypot(p1 - l1, u2 - p2), p1 - p2 + math.hypot(u1 - p1, p2 - l2))
        assert gap_interval(a, b, confidence, "clopper-pearson") == pytest.approx(by_hand, abs=1e-12)


def error_rates_by_enumeration(n1: int, n2: int, rates: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Exact P(fail) and P(pass) at tolerance 0.05 and one-sided 0.025, over every outcome, for each rate pair."""
    fail = np.zeros((n1 + 1, n2 + 1))
    passed = np.zeros((n1 + 1, n2 + 1))
    groups = [clustered_rate(*independent(x, n1)) for x in range(n1 + 1)]
    references = [clustered_rate(*independent(x, n2)) for x in range(n2 + 1)]
    for x1, a in enumerate(groups):
        for x2, b in enumerate(references):
            lower, upper = gap_bounds(a, b, 0.025, "clopper-pearson")
            fail[x1, x2] = lower > 0.05 or upper < -0.05
            passed[x1, x2] = lower >= -0.05 and upper <= 0.05
    out = []
    for p1, p2 in rates:
        weight = binom.pmf(np.arange(n1 + 1), n1, p1)[:, None] * binom.pmf(np.arange(n2 + 1), n2, p2)[None, :]
        out.append((float((weight * fail).sum()), float((weight * passed).sum())))
    return out


@pytest.mark.parametrize(("n1", "n2"), [(10, 10), (10, 40), (40, 40), (25, 120)])
def test_each_verdict_errs_at_most_its_stated_rate_at_the_tolerance(n1: int, n2: int) -> None:
    # Exact, not simulated: at a true gap equal to the tolerance (either way round), summed over
    # every outcome. Clopper-Pearson limits keep both below 0.025 here even with the interval's own
    # one-sided 0.025 on each side (the fail test reads it at half that: its exact table over sizes 10
    # to 300 is benchmarks/verdict_error_rates.py's, shown in docs/explanation/methodology.md).
    bases = [0.0, 0.05, 0.2, 0.45, 0.7, 0.9]
    rates = [(p + 0.05, p) for p in bases] + [(p, p + 0.05) for p in bases]
    for (p1, p2), (wrong_fail, wrong_pass) in zip(rates, error_rates_by_enumeration(n1, n2, rates), strict=True):
        assert wrong_fail <= 0.025, (p1, p2)
        assert wrong_pass <= 0.025, (p1, p2)


def test_a_union_of_readings_contains_each() -> None:
    # Three people with 40 photos all misgendered and 27 with one photo right (issue 13, found 3).
    a = clustered_rate([40] * 3 + [0] * 27, [40] * 3 + [1] * 27)
    b = clustered_rate(*independent(0, 30))
    assert (a.rate, a.person_rate) == (pytest.approx(120 / 147), pytest.approx(0.1))
    lower, upper = gap_interval(a, b, 0.95, "clopper-pearson")
    assert lower <= 0.1 < 120 / 147 <= upper
    # The person-weighted reading alone: 3 of 30 people against 0 of 30, Newcombe's rule on CP limits.
    (l1, _), (_, u2) = cp_limits(3, 30, 0.95), cp_limits(0, 30, 0.95)
    assert lower == pytest.approx(0.1 - math.hypot(0.1 - l1, u2), abs=1e-12)


# --- p-values of the tolerance tests ------------------------------------------------------------


@st.composite
def clustered_groups(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    photos = draw(st.lists(st.integers(1, 8), min_size=2, max_size=30))
    counts = [draw(st.integers(0, m)) for m in photos]
    return counts, photos


@settings(max_examples=60, deadline=None)
@given(clustered_groups(), clustered_groups(), st.sampled_from([0.0, 0.05, 0.1]))
def test_p_values_are_the_levels_at_which_the_interval_decides(
    a_sums: tuple[list[int], list[int]], b_sums: tuple[list[int], list[int]], tolerance: float
) -> None:
    a, b = clustered_rate(*a_sums), clustered_rate(*b_sums)
    tests = gap_tests(a, b, tolerance, "clopper-pearson")
    for alpha in (0.001, 0.01, 0.025, 0.05, 0.2):
        lower, upper = gap_bounds(a, b, alpha, "clopper-pearson")
        shown_within = -tolerance <= lower and upper <= tolerance
        # Away from the crossing itself, p <= alpha exactly when the interval at alpha decides; the fail
        # test's p is twice the one-sided level (either direction), so it decides at alpha / 2.
        half_lower, half_upper = gap_bounds(a, b, alpha / 2, "clopper-pearson")
        if abs(tests.exceeds - alpha) > 1e-9:
            assert (tests.exceeds <= alpha) == (half_lower > tolerance or half_upper < -tolerance), alpha
        if abs(tests.within - alpha) > 1e-9:
            assert (tests.within <= alpha) == shown_within, alpha


def test_rate_tests_against_an_absolute_tolerance() -> None:
    r = clustered_rate(*independent(1, 200))
    tests = rate_tests(r, 0.05, "clopper-pearson")
    # The one-sided Clopper-Pearson upper limit for 1 of 200 reaches 0.05 at level p: by definition
    # the binomial probability of at most 1 of 200 at rate 0.05.
    assert tests.within == pytest.approx(binom.cdf(1, 200, 0.05), rel=1e-6)
    assert tests.exceeds > 0.99


# --- power, detectable gaps, people needed --------------------------------------------------------


def test_planned_precision_is_the_design_effect_formula() -> None:
    assert Precision.planned(100, 5, 0.25) == Precision(effective_n=250.0, floor_n=100.0, df=99.0)
    assert Precision.planned(300) == Precision(300.0, 300.0, math.inf)
    assert Precision.planned(10, 40, 1.0).effective_n == 10.0  # all of a person's photos agree
    with pytest.raises(ValueError, match="icc"):
        Precision.planned(10, 2, 1.5)


@pytest.mark.parametrize(("n", "base"), [(100, 0.05), (300, 0.0), (60, 0.3)])
def test_the_detectable_gap_fails_with_80_percent_power_counting_every_outcome(n: int, base: float) -> None:
    gap = detectable_gap(0.05, base, Precision.planned(n), Precision.planned(n), alpha=0.025)
    assert gap is not None
    assert power_to_fail(gap, 0.05, base, Precision.planned(n), Precision.planned(n)) == pytest.approx(0.8)
    # What the promise means, counted exactly: the verdict fails at the true gap about 80% of the time.
    ((fail, _),) = error_rates_by_enumeration(n, n, [(base + gap, base)])
    assert 0.75 <= fail <= 0.92


def test_power_to_pass_counts_every_outcome() -> None:
    # 300 people a group at the same rate 0.05: the approximation against the exact sum.
    approximate = power_to_pass(0.0, 0.05, 0.05, Precision.planned(300), Precision.planned(300))
    ((_, exact),) = error_rates_by_enumeration(300, 300, [(0.05, 0.05)])
    assert approximate == pytest.approx(exact, abs=0.05)


def fail_rate(n1: int, p1: float, n2: int, p2: float, alpha: float = 0.025) -> float:
    """P(the lower one-sided ``alpha`` bound of Newcombe's hybrid on Clopper-Pearson limits exceeds 0.05).

    Every outcome of one photo a person summed (outcomes below 1e-12 left out), from the beta quantiles.
    """
    x1, x2 = np.arange(n1 + 1), np.arange(n2 + 1)
    w1, w2 = binom.pmf(x1, n1, p1), binom.pmf(x2, n2, p2)
    x1, w1, x2, w2 = x1[w1 > 1e-12], w1[w1 > 1e-12], x2[w2 > 1e-12], w2[w2 > 1e-12]
    lo1 = np.where(x1 == 0, 0.0, beta.ppf(alpha, np.maximum(x1, 1), n1 - x1 + 1))
    hi2 = np.where(x2 == n2, 1.0, beta.ppf(1 - alpha, x2 + 1, np.maximum(n2 - x2, 1)))
    q1, q2 = x1 / n1, x2 / n2
    lower = (q1[:, None] - q2[None, :]) - np.hypot((q1 - lo1)[:, None], (hi2 - q2)[None, :])
    return float(np.sum(w1[:, None] * w2[None, :] * (lower > 0.05)))


def test_people_needed_grow_the_smaller_group_first() -> None:
    # rt13b: 10 people at 0.20 against 300 at 0.05, one photo each. The 10 are what falls short: the 300
    # stay, and the exact fail rate (one-sided 0.025, every outcome summed) reaches 0.8 at the size asked.
    group, reference = Precision.planned(10), Precision.planned(300)
    needed = subjects_needed(0.15, 0.05, 0.05, group, reference, subjects=(10, 300))
    assert needed is not None
    assert needed[1] == 300
    assert fail_rate(needed[0], 0.20, 300, 0.05) >= 0.78
    assert fail_rate(needed[0] * 4 // 5, 0.20, 300, 0.05) < 0.8


def test_people_needed_grow_both_from_equal_sizes_when_the_larger_falls_short_too() -> None:
    # rt13b: 10 people at 0.10 against 300 at 0.037. No number of the 10 is enough against 300 (the
    # reference's own interval is too wide), and one factor for both asked for 4,727 and 141,801.
    group, reference = Precision.planned(10), Precision.planned(300)
    needed = subjects_needed(0.063, 0.05, 0.037, group, reference, subjects=(10, 300))
    assert needed is not None
    assert needed[0] == needed[1]
    assert needed[1] < 20_000
    assert fail_rate(needed[0], 0.10, needed[1], 0.037) >= 0.78
    assert fail_rate(needed[0] * 9 // 10, 0.10, needed[1] * 9 // 10, 0.037) < 0.8


def test_people_needed_reach_the_power_and_one_fewer_share_does_not() -> None:
    group = reference = Precision.planned(50, 4, 0.2)
    needed = subjects_needed(0.0, 0.05, 0.1, group, reference, subjects=(50, 50))
    assert needed is not None
    factor = needed[0] / 50
    assert power_to_pass(0.0, 0.05, 0.1, group.scaled(factor), reference.scaled(factor)) >= 0.8
    shrunk = (needed[0] - 2) / 50
    assert power_to_pass(0.0, 0.05, 0.1, group.scaled(shrunk), reference.scaled(shrunk)) < 0.8
    assert subjects_needed(0.05, 0.05, 0.1, group, reference, subjects=(50, 50)) is None  # never decided


def test_share_variance_floor_is_the_wilson_interval_read_as_a_normal_one() -> None:
    _, high = proportion_confint(0, 200, alpha=0.05, method="wilson")
    assert share_variance_floor(0.0, 200) == pytest.approx(((high - 0.0) / norm.ppf(0.975)) ** 2, rel=1e-12)
    assert share_variance_floor(1.0, 200) == pytest.approx(share_variance_floor(0.0, 200), rel=1e-12)


def test_fractional_counts_get_the_beta_quantiles_that_define_clopper_pearson() -> None:
    # 12 people, each with a share in [0, 1] summing to 5/3.
    r = clustered_rate([1, 2 / 3] + [0] * 10, [1] * 12)
    x = 5 / 3
    expected = (beta.ppf(0.025, x, 12 - x + 1), beta.ppf(0.975, x + 1, 12 - x))
    assert rate_bounds(r, 0.025, "clopper-pearson") == pytest.approx(expected, rel=1e-9)


# --- exact tests at scale -----------------------------------------------------------------------


def test_boschloo_is_used_only_where_it_is_quick(monkeypatch: pytest.MonkeyPatch) -> None:
    import scipy.stats

    calls = []
    real = scipy.stats.boschloo_exact

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(scipy.stats, "boschloo_exact", counting)
    small = exact_p_value(12, 100, 3, 100, method="boschloo")
    assert len(calls) == 1
    assert small == pytest.approx(boschloo_exact([[12, 3], [88, 97]]).pvalue, abs=1e-12)
    # 3,000 against 3,000 took 461 s (issue 13, found 9); Fisher's exact test instead, in milliseconds.
    large = exact_p_value(400, 3000, 330, 3000, method="boschloo")
    assert len(calls) == 1
    assert large == pytest.approx(fisher_exact([[400, 330], [2600, 2670]]).pvalue, abs=1e-12)
    assert stats.boschloo_is_quick(250, 250)
    assert not stats.boschloo_is_quick(300, 300)


# -- the change between two reported intervals (conformance compare, the regression gate) -----------------

_Z95 = 1.959963984540054  # the standard normal's 97.5% quantile (textbook value)


def test_change_from_intervals_is_the_normal_approximation_worked_by_hand() -> None:
    from conformance.stats import change_from_intervals

    # 0.10 [0.05, 0.15] then 0.30 [0.20, 0.40], both at 95%: SEs 0.05/z and 0.10/z, so the change's
    # half-width is z * sqrt(0.05² + 0.10²) / z = 0.05 * sqrt(5), its statistic 0.2 / (0.05 * sqrt(5) / z).
    moved = change_from_intervals(0.10, (0.05, 0.15), 0.95, 0.30, (0.20, 0.40), 0.95, 0.95)
    half = 0.05 * math.sqrt(5.0)
    assert moved.estimate == pytest.approx(0.20)
    assert moved.ci == pytest.approx((0.20 - half, 0.20 + half))
    assert moved.statistic == pytest.approx(0.20 / (half / _Z95))
    assert moved.p_value == pytest.approx(math.erfc(moved.statistic / math.sqrt(2.0)))


def test_change_from_intervals_on_the_log_scale_is_a_factor() -> None:
    from conformance.stats import change_from_intervals

    # 2 [1, 4] then 8 [4, 16]: each log interval is ln 2 either side, so SE = ln 2 / z each; the factor is 4,
    # its interval 4 * exp(-/+ sqrt(2) ln 2), its statistic ln 4 / (sqrt(2) ln 2 / z) = sqrt(2) z.
    moved = change_from_intervals(2.0, (1.0, 4.0), 0.95, 8.0, (4.0, 16.0), 0.95, 0.95, log=True)
    spread = math.exp(math.sqrt(2.0) * math.log(2.0))
    assert moved.estimate == pytest.approx(4.0)
    assert moved.ci == pytest.approx((4.0 / spread, 4.0 * spread))
    assert moved.statistic == pytest.approx(math.sqrt(2.0) * _Z95)


def test_change_from_intervals_of_two_exact_figures_is_certain_or_none() -> None:
    from conformance.stats import change_from_intervals

    assert change_from_intervals(0.2, (0.2, 0.2), 0.95, 0.3, (0.3, 0.3), 0.95, 0.95).p_value == 0.0
    same = change_from_intervals(0.2, (0.2, 0.2), 0.95, 0.2, (0.2, 0.2), 0.95, 0.95)
    assert (same.statistic, same.p_value) == (0.0, 1.0)


def test_score_limits_over_arrays_are_statsmodels_intervals() -> None:
    """The planner's vectorised limits (rt18b F6: once, in stats) are statsmodels' two-sided intervals at level
    1 - 2 alpha, Clopper-Pearson ("beta") and Wilson, element by element, ends included."""
    import numpy as np
    from statsmodels.stats.proportion import proportion_confint  # type: ignore[import-untyped]

    from conformance import stats

    x = np.array([0.0, 1.0, 7.0, 30.0, 50.0])
    n = np.array([20.0, 20.0, 40.0, 30.0, 400.0])
    for method, theirs in (("clopper-pearson", "beta"), ("wilson", "wilson")):
        low, high = stats.score_limits(x, n, 0.025, method)
        for i in range(len(x)):
            want = proportion_confint(int(x[i]), int(n[i]), alpha=0.05, method=theirs)
            assert (low[i], high[i]) == pytest.approx(want, abs=1e-9), (method, i)
