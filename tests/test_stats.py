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
from scipy.stats import binom, boschloo_exact, fisher_exact, hypergeom, norm  # type: ignore[import-untyped]
from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped]
from statsmodels.stats.proportion import (  # type: ignore[import-untyped]
    confint_proportions_2indep,
    proportion_confint,
)

from conformance import stats
from conformance.stats import (
    adjusted_confidence,
    cluster_bootstrap_difference,
    cluster_bootstrap_interval,
    exact_p_value,
    gap_verdict,
    holm,
    minimum_detectable_gap,
    newcombe_interval,
    proportion_interval,
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


# --- detectable gap -----------------------------------------------------------------------------


def fleiss_n(p1: float, p2: float, r: float = 1.0, confidence: float = 0.95, power: float = 0.8) -> float:
    """Fleiss, Tytun & Ury (1980) size of group 1 (group 2 is r times larger), no continuity correction."""
    z_a, z_b = norm.ppf(1 - (1 - confidence) / 2), norm.ppf(power)
    pbar = (p1 + r * p2) / (1 + r)
    root = z_a * math.sqrt((r + 1) * pbar * (1 - pbar)) + z_b * math.sqrt(r * p1 * (1 - p1) + p2 * (1 - p2))
    return float(root**2 / (r * (p1 - p2) ** 2))


def test_fleiss_textbook_example() -> None:
    # 0.10 against 0.20, 5% two-sided, 80% power: about 199 per group without continuity correction.
    n = fleiss_n(0.20, 0.10)
    assert math.ceil(n) == 199
    assert minimum_detectable_gap(n, n, 0.10) == pytest.approx(0.10, rel=1e-7)
    assert minimum_detectable_gap(199, 199, 0.10) < 0.10


@pytest.mark.parametrize(
    ("n_group", "n_reference", "p_reference", "confidence", "power"),
    [(150, 600, 0.05, 0.95, 0.8), (1000, 300, 0.3, 0.99, 0.9), (40, 40, 0.0, 0.95, 0.8)],
)
def test_detectable_gap_gives_back_n_in_the_sample_size_formula(
    n_group: float, n_reference: float, p_reference: float, confidence: float, power: float
) -> None:
    d = minimum_detectable_gap(n_group, n_reference, p_reference, confidence=confidence, power=power)
    assert 0 < d < 1 - p_reference
    r = n_reference / n_group
    assert fleiss_n(p_reference + d, p_reference, r, confidence, power) == pytest.approx(n_group, rel=1e-7)


def test_detectable_gap_edges() -> None:
    assert minimum_detectable_gap(400, 400, 0.1, design_effect=2.0) == pytest.approx(
        minimum_detectable_gap(200, 200, 0.1), rel=1e-9
    )
    assert minimum_detectable_gap(400, 400, 0.1) < minimum_detectable_gap(100, 400, 0.1)
    assert math.isnan(minimum_detectable_gap(0, 100, 0.1))
    assert minimum_detectable_gap(1, 1, 0.5) == 0.5  # not detectable at all: the cap 1 - p
    with pytest.raises(ValueError, match="power"):
        minimum_detectable_gap(10, 10, 0.1, power=0.2)


# --- verdicts and confidence --------------------------------------------------------------------


def test_gap_verdict_examples() -> None:
    assert gap_verdict((0.21, 0.33), 0.05) == "fail"
    assert gap_verdict((-0.02, 0.05), 0.05) == "pass"  # at the tolerance passes
    assert gap_verdict((0.05, 0.12), 0.05) == "inconclusive"  # touching it from above does not fail
    assert gap_verdict((math.nan, math.nan), 0.05) == "inconclusive"
    assert gap_verdict((0.1, math.nan), 0.05) == "inconclusive"


finite = st.floats(min_value=-1.0, max_value=1.0)


@given(finite, finite, st.floats(min_value=-0.5, max_value=0.5))
def test_gap_verdict_is_consistent(a: float, b: float, tolerance: float) -> None:
    lower, upper = min(a, b), max(a, b)
    verdict = gap_verdict((lower, upper), tolerance)
    assert verdict == ("fail" if lower > tolerance else "pass" if upper <= tolerance else "inconclusive")
    # Shifting the interval up never improves the verdict.
    severity = {"pass": 0, "inconclusive": 1, "fail": 2}
    assert severity[gap_verdict((lower + 0.1, upper + 0.1), tolerance)] >= severity[verdict]


def test_adjusted_confidence() -> None:
    assert adjusted_confidence(0.95, 5) == pytest.approx(0.99)
    assert adjusted_confidence(0.95, 1) == 0.95
    assert adjusted_confidence(0.95, 0) == 0.95
    with pytest.raises(ValueError, match="confidence"):
        adjusted_confidence(1.0, 3)
