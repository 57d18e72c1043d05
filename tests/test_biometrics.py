"""1:1 comparisons measured as biometric evaluators do: counts against brute force, thresholds at a target
FMR, the two-way bootstrap against an explicit resampled population, inequity measures by hand, and a
held-out check against analytic FMR/FNMR of normal score distributions."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import norm

from conformance.checks import biometrics
from conformance.pairstats import at_threshold, calibrate, det_curves, inequity, replicates
from conformance.pairwise import compare_all_pairs, compare_listed
from conformance.policy import Policy


def _population(n_people: int, per: int, dim: int, seed: int, missing: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(n_people), per)
    group = subject % 3
    centres = rng.normal(size=(n_people, dim))
    x = centres[subject] + rng.normal(size=(subject.size, dim)) * (0.6 + 0.2 * group)[:, None]
    acquired = np.ones(subject.size, dtype=bool)
    acquired[rng.choice(subject.size, size=missing, replace=False)] = False
    return {"x": x, "subject": subject, "group": group, "acquired": acquired}


def _brute(data: dict[str, np.ndarray], metric: str = "cosine") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ordered comparison's score (float32 as the kit computes it), -inf for a photo without a template."""
    x = data["x"].astype(np.float32)
    if metric == "cosine":
        x = (x / np.linalg.norm(x, axis=1)[:, None]).astype(np.float32)
        scores = x @ x.T
    else:
        sq = (x * x).sum(axis=1)
        scores = -np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * (x @ x.T), 0))
    ok = data["acquired"]
    scores = np.where(ok[:, None] & ok[None, :], scores.astype(np.float64), -np.inf)
    same = data["subject"][:, None] == data["subject"][None, :]
    off = ~np.eye(ok.size, dtype=bool)
    return scores, same & off, ~same


def _counts(data: dict[str, np.ndarray], **kwargs: object):  # type: ignore[no-untyped-def]
    ok = data["acquired"]
    return compare_all_pairs(
        data["x"][ok],
        photo_group=data["group"],
        photo_subject=data["subject"],
        acquired=ok,
        groups=["a", "b", "c"],
        subjects=[str(s) for s in range(int(data["subject"].max()) + 1)],
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_counts_and_target_threshold_match_brute_force(metric: str) -> None:
    data = _population(90, 3, 16, seed=3, missing=7)
    counts = _counts(data, metric=metric, targets=(1e-2, 1e-3), block=64)
    scores, genuine, impostor = _brute(data, metric)
    g = data["group"]
    for gp in range(3):
        for gr in range(3):
            cell = (g[:, None] == gp) & (g[None, :] == gr)
            assert counts.impostor_comparisons[gp, gr] == (impostor & cell).sum()
            assert counts.genuine_comparisons[gp, gr] == (genuine & cell).sum()
    imp_scores = scores[impostor]
    for target in (1e-2, 1e-3):
        cal = calibrate(counts, target)
        k = math.floor(target * imp_scores.size)
        assert cal.supported
        assert cal.threshold is not None
        above = int((imp_scores >= cal.threshold).sum())
        # The lowest threshold keeping FMR at or below the target: one float32 step lower exceeds it.
        assert above <= k
        lower = float(np.nextafter(np.float32(cal.threshold), np.float32(-np.inf)))
        assert (imp_scores >= lower).sum() > k
        assert cal.false_matches == above
        found = at_threshold(counts, cal.threshold)
        for gp in range(3):
            for gr in range(3):
                cell = impostor & (g[:, None] == gp) & (g[None, :] == gr)
                assert found.false_matches[gp, gr] == (scores[cell] >= cal.threshold).sum()
            # A genuine comparison with a photo lacking a template is a miss.
            assert found.misses[gp] == (genuine & (g[:, None] == gp) & ~(scores >= cal.threshold)).sum()


def test_dask_path_gives_the_same_counts() -> None:
    data = _population(60, 4, 8, seed=5, missing=3)
    serial = _counts(data, targets=(1e-2,), stated=(0.5,), block=50)
    tasks = _counts(data, targets=(1e-2,), stated=(0.5,), block=50, dask="synchronous")
    assert (serial.impostor_hist == tasks.impostor_hist).all()
    assert (serial.genuine_hist == tasks.genuine_hist).all()
    assert (serial.stated_counts == tasks.stated_counts).all()
    assert calibrate(serial, 1e-2).threshold == calibrate(tasks, 1e-2).threshold


def test_stated_threshold_counts_are_exact_and_pairs_dropped_beyond_max_kept() -> None:
    data = _population(50, 3, 8, seed=9)
    scores, _, impostor = _brute(data)
    counts = _counts(data, stated=(0.0, 0.4), block=40, max_kept=500)
    g = data["group"]
    for k, t in enumerate((0.0, 0.4)):
        for gp in range(3):
            for gr in range(3):
                cell = impostor & (g[:, None] == gp) & (g[None, :] == gr)
                assert counts.stated_counts[k, gp, gr] == (scores[cell] >= np.float32(t)).sum()
    assert 0.0 in counts.dropped_stated  # thousands of false matches at 0: counted, not kept
    assert not at_threshold(counts, 0.0).kept


def test_two_way_replicate_equals_an_explicitly_resampled_population() -> None:
    """The closed-form weighted counts equal those of a population where person p appears w_p times."""
    data = _population(12, 2, 6, seed=11, missing=2)
    counts = _counts(data, targets=(0.2,), block=8)
    t = float(calibrate(counts, 0.2).threshold)  # type: ignore[arg-type]
    boot = replicates(counts, [t], resamples=1, seed=0, weights=np.array([[2, 0, 1, 3, 1, 0, 1, 1, 2, 0, 1, 0]]))
    weights = [2, 0, 1, 3, 1, 0, 1, 1, 2, 0, 1, 0]
    scores, _, _ = _brute(data)
    # Expand: copy c of person p, photo i. Comparisons between different copies of one person are not impostors.
    copies = [(p, c, i) for i, p in enumerate(data["subject"]) for c in range(weights[p])]
    g = data["group"]
    fm, imp, miss, gen = np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(3)
    for p1, c1, i in copies:
        for p2, c2, j in copies:
            if p1 == p2 and c1 == c2 and i != j:
                gen[g[i]] += 1
                miss[g[i]] += not scores[i, j] >= t
            elif p1 != p2:
                imp[g[i]] += 1
                fm[g[i]] += scores[i, j] >= t
    assert boot.impostors[0] == pytest.approx(imp)
    assert boot.false_matches[0, 0] == pytest.approx(fm)
    assert boot.genuine[0] == pytest.approx(gen)
    assert boot.misses[0, 0] == pytest.approx(miss)


def test_inequity_measures_by_hand() -> None:
    found = inequity(np.array([0.1, 0.2, 0.4]), np.array([0.05, 0.05, 0.05]), alpha=0.5)
    assert found["fmr"]["max_min"] == pytest.approx(4.0)
    assert found["fmr"]["max_geomean"] == pytest.approx(2.0)  # geometric mean of 0.1, 0.2, 0.4 is 0.2
    # Gini: 3/2 * (sum of |x_i - x_j| over ordered pairs = 1.2) / (2 * 9 * 0.7/3)
    assert found["fmr"]["gini"] == pytest.approx(1.5 * 1.2 / (18 * 0.7 / 3))
    assert found["garbe"] == pytest.approx(0.5 * 1.5 * 1.2 / (18 * 0.7 / 3))
    assert found["fdr"] == pytest.approx(1 - 0.5 * 0.3)
    zero = inequity(np.array([0.0, 0.2]), np.array([0.1, 0.1]))
    assert math.isinf(zero["fmr"]["max_min"])  # undefined: reported as null


def test_det_points_are_exact_counts_at_their_edges() -> None:
    data = _population(80, 3, 8, seed=13, missing=4)
    counts = _counts(data, targets=(1e-2,), block=64)
    scores, genuine, impostor = _brute(data)
    g = data["group"]
    for name, points in det_curves(counts).items():
        gp = counts.groups.index(name)
        rows = g == gp
        imp = scores[rows][impostor[rows]]
        gen = scores[rows][genuine[rows]]
        assert points
        for point in points[:: max(1, len(points) // 5)]:
            edge = point["threshold"]
            # The histogram's bins are computed in float64 from float32 scores; counts agree at the edges.
            assert point["false_matches"] == (imp >= edge).sum()
            assert point["fnmr"] == pytest.approx((~(gen >= edge)).mean())


def test_rule_of_three_refuses_an_unsupported_target() -> None:
    data = _population(30, 2, 8, seed=1)
    counts = _counts(data, targets=(1e-6,), block=32)
    cal = calibrate(counts, 1e-6)
    assert not cal.supported
    assert cal.needed == 3_000_000
    assert "rule of three" in cal.reason
    results = biometrics.false_match_differential(
        counts, reference="a", policy=Policy(min_subjects=1, bootstrap=200), seed=0, targets=(1e-6,)
    )
    assert [r.verdict for r in results] == ["inconclusive"]
    assert results[0].details["unsupported_targets"][0]["needed_for_target"] == 3_000_000


def _normal_listed(seed: int, imp_means: dict[int, float], n_photos: int = 3000, pairs: int = 400_000):  # type: ignore[no-untyped-def]
    """Listed comparisons with scores drawn independently: impostor N(mu_g, 1), genuine N(3, 1) per probe group.

    People have two photos each; genuine comparisons join a person's photos, impostors random distinct people.
    """
    rng = np.random.default_rng(seed)
    subject = np.arange(n_photos) // 2
    group = (subject % 2).astype(np.int64)
    probe = rng.integers(0, n_photos, size=pairs)
    reference = rng.integers(0, n_photos, size=pairs)
    keep = subject[probe] != subject[reference]
    probe, reference = probe[keep], reference[keep]
    key = np.unique(probe * n_photos + reference)
    probe, reference = key // n_photos, key % n_photos
    mean = np.asarray([imp_means[int(x)] for x in (0, 1)])[group[probe]]
    score = rng.normal(mean, 1.0)
    gp = np.arange(0, n_photos, 2)
    g_probe = np.concatenate([gp, gp + 1])
    g_ref = np.concatenate([gp + 1, gp])
    g_score = rng.normal(3.0, 1.0, size=g_probe.size)
    counts = compare_listed(
        np.concatenate([probe, g_probe]),
        np.concatenate([reference, g_ref]),
        np.concatenate([score, g_score]),
        photo_group=group,
        photo_subject=subject,
        acquired=np.ones(n_photos, dtype=bool),
        groups=["a", "b"],
        subjects=[str(s) for s in range(n_photos // 2)],
        stated=(2.0, 2.5),
        pairs="sample",  # random pairs drawn without looking at scores: the listed pairs are the design
    )
    return counts


def test_held_out_normal_scores_agree_with_analytic_rates() -> None:
    """Known truth: FMR_g(t) = 1 - Phi(t - mu_g), FNMR(t) = Phi(t - 3); the kit's intervals contain them."""
    means = {0: 0.0, 1: 0.5}
    counts = _normal_listed(21, means)
    policy = Policy(min_subjects=1, bootstrap=1000, confidence=0.99)
    fmr = biometrics.false_match_differential(
        counts, reference="a", policy=policy, seed=4, thresholds=(2.0, 2.5), targets=()
    )
    fnmr = biometrics.false_non_match_differential(
        counts, reference="a", policy=policy, seed=4, thresholds=(2.0, 2.5), targets=()
    )
    for result in fmr:
        assert result.threshold is not None
        for g, name in ((0, "a"), (1, "b")):
            truth = 1 - norm.cdf(result.threshold - means[g])
            lo, hi = result.groups[name].ci  # type: ignore[misc]
            assert lo <= truth <= hi, (name, result.threshold, truth, lo, hi)
        ratio = next(r for r in result.details["ratios"] if r["group"] == "b")
        true_ratio = (1 - norm.cdf(result.threshold - 0.5)) / (1 - norm.cdf(result.threshold))
        assert ratio["ci"][0] <= true_ratio <= ratio["ci"][1]
    for result in fnmr:
        assert result.threshold is not None
        truth = norm.cdf(result.threshold - 3.0)
        for name in ("a", "b"):
            lo, hi = result.groups[name].ci  # type: ignore[misc]
            assert lo <= truth <= hi


def test_target_fmr_threshold_lands_on_the_analytic_quantile() -> None:
    counts = _normal_listed(22, {0: 0.0, 1: 0.0})
    cal = calibrate(counts, 1e-2)
    # Quantile of N(0,1) at 0.99 is 2.326; its sampling error with ~400,000 impostors is about 0.006.
    assert cal.threshold == pytest.approx(norm.ppf(0.99), abs=0.03)
    assert cal.achieved is not None
    assert cal.achieved <= 1e-2


def test_a_false_match_rate_six_times_the_reference_fails_the_ratio_tolerance() -> None:
    """FMR 6.6x the reference's at 1e-3 scale: an absolute 0.05 tolerance cannot see it, a ratio of 2 can."""
    t = norm.ppf(1 - 1e-3)
    shift = t - norm.ppf(1 - 6.6e-3)  # group b's impostor mean: its FMR at t is 6.6e-3
    counts = _normal_listed(23, {0: 0.0, 1: shift}, pairs=600_000)
    policy = Policy(min_subjects=1, bootstrap=500)
    (result,) = biometrics.false_match_differential(
        counts, reference="a", policy=policy, seed=2, thresholds=(float(t),), targets=()
    )
    ratio = result.details["ratios"][0]
    assert ratio["ratio"] == pytest.approx(6.6, rel=0.25)
    assert ratio["ci"][0] > 2.0
    assert result.verdict == "fail"
    assert result.comparisons[0].difference < 0.05  # what an absolute tolerance of 0.05 would have passed


def test_ratio_verdict_in_either_direction() -> None:
    assert biometrics.ratio_verdict((0.1, 0.4), 2.0) == "fail"  # the reference is the worse off
    assert biometrics.ratio_verdict((0.6, 1.9), 2.0) == "pass"
    assert biometrics.ratio_verdict(None, 2.0) == "inconclusive"


def test_same_group_impostors_and_reference_calibration() -> None:
    data = _population(60, 3, 8, seed=17)
    scores, _, impostor = _brute(data)
    g = data["group"]
    # 20 people in group b: 190 distinct people-pairs of same-group impostors support FMR 0.02 (3/0.02 = 150).
    counts = _counts(data, targets=(2e-2,), same_group=True, pool="b", block=64)
    cal = calibrate(counts, 2e-2)
    pool = impostor & (g[:, None] == 1) & (g[None, :] == 1)
    assert cal.pool_comparisons == pool.sum()
    assert cal.threshold is not None
    assert (scores[pool] >= cal.threshold).sum() <= math.floor(2e-2 * pool.sum())
    policy = Policy(min_subjects=1, bootstrap=200)
    (result, *_) = biometrics.false_match_differential(counts, reference="b", policy=policy, seed=0, targets=(2e-2,))
    for gp, name in enumerate("abc"):
        cell = impostor & (g[:, None] == gp) & (g[None, :] == gp)
        assert result.groups[name].n == cell.sum()  # same-group pairs only
        assert result.groups[name].count == (scores[cell] >= cal.threshold).sum()
    # The impostor matrix still shows every pairing, and which cells counted.
    assert result.details["impostor_matrix"]["counted"] == np.eye(3, dtype=bool).tolist()


def test_failure_to_acquire_is_a_miss_and_a_group_rate() -> None:
    # Two people, two photos each; photo 0 has no template: both genuine comparisons of person 0 miss.
    x = np.array([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    counts = compare_all_pairs(
        x,
        photo_group=[0, 0, 1, 1],
        photo_subject=[0, 0, 1, 1],
        acquired=[False, True, True, True],
        groups=["a", "b"],
        subjects=["p", "q"],
        stated=(0.5,),
    )
    found = at_threshold(counts, 0.5)
    assert found.misses.tolist() == [2, 0]
    assert counts.impostor_comparisons.tolist() == [[0, 4], [4, 0]]  # the photo's impostor comparisons count
    fta = biometrics.failure_to_acquire_gap(counts, reference="b", policy=Policy(min_subjects=1), seed=0)
    assert (fta.groups["a"].count, fta.groups["a"].n) == (1, 2)


def test_report_fields_are_json_safe_and_complete() -> None:
    import json

    data = _population(60, 3, 8, seed=19, missing=3)
    counts = _counts(data, targets=(1e-2, 1e-3), block=64)
    policy = replace(Policy(min_subjects=1, bootstrap=200), target_fmr=(1e-2, 1e-3))
    result = biometrics.equitability(counts, reference="a", policy=policy, seed=0, grouping=["group"])
    text = json.dumps(result.to_dict(), allow_nan=False)
    disclosure = json.loads(text)["details"]["disclosure"]
    assert disclosure["certified"] is False
    assert set(disclosure) >= {
        "scope",
        "groups",
        "failure_to_acquire",
        "threshold_rule",
        "false_match_rate",
        "false_non_match_rate",
        "equitability",
    }
    assert disclosure["groups"]["sample_sizes"]["a"]["photos"] == (data["group"] == 0).sum()
    binding = biometrics.false_match_differential(counts, reference="a", policy=policy, seed=0)[0]
    assert binding.details["binding"]
    assert set(binding.details) >= {"det", "distributions", "impostor_matrix", "inequity", "threshold_rule"}
    json.dumps(binding.to_dict(), allow_nan=False)
