"""The 1:1 planner's simulation reads a draw as the checks do (conformance.planning.pairs_sim, pairs_power)."""

from __future__ import annotations

import numpy as np

from conformance import load_policy
from conformance.checks.biometrics import false_match_differential
from conformance.pairwise import compare_listed
from conformance.planning.pairs_model import impostor_sd
from conformance.planning.pairs_power import PairDesign, _resampled_rate
from conformance.planning.pairs_sim import FmrReading

POLICY = load_policy()


def _design(groups: int, photos: int) -> PairDesign:
    return PairDesign(
        groups=groups,
        photos=photos,
        target=POLICY.target_fmr[0],
        pool="overall",
        same_group=False,
        ratio_tolerance=POLICY.ratio_tolerance,
        confidence=POLICY.confidence,
        method=POLICY.interval,
        min_subjects=POLICY.min_subjects,
        sd=impostor_sd(0.1),
        resamples=POLICY.bootstrap,
    )


def test_fmr_reading_counts_the_false_matches_the_check_counts() -> None:
    """Same scores: the in-sample threshold's false matches per probe group are the check's own counts."""
    groups, people, photos = 2, 45, 2
    reading = FmrReading(_design(groups, photos), people)
    total = groups * people
    person = np.repeat(np.arange(total), photos)
    group = np.repeat(np.arange(groups), people * photos)
    n = person.size
    rng = np.random.default_rng(3)
    for _ in range(3):
        effect = rng.normal(0.0, impostor_sd(0.1), size=total) + np.where(np.arange(total) >= people, 0.4, 0.0)
        noise = np.triu(rng.normal(size=(n, n)), 1)
        scores = effect[person][:, None] + effect[person][None, :] + noise + noise.T
        scores[person[:, None] == person[None, :]] = 10.0
        probe, reference = np.nonzero(~np.eye(n, dtype=bool))
        counts = compare_listed(
            probe,
            reference,
            scores[probe, reference],
            photo_group=group,
            photo_subject=person,
            acquired=np.ones(n, dtype=bool),
            groups=["a", "b"],
            subjects=[str(i) for i in range(total)],
        )
        [binding, *_] = false_match_differential(counts, reference="a", policy=POLICY, seed=0)
        i, j = np.triu_indices(n, 1)
        keep = person[i] != person[j]
        hit = reading.false_matches(scores[i[keep], j[keep]])
        mine = np.bincount(reading.probe_group[hit], minlength=groups)
        assert [binding.groups["a"].count, binding.groups["b"].count] == mine.tolist()
        assert binding.groups["a"].n == reading.comparisons[0] == people * photos * photos * (total - 1)
        assert mine.sum() > 0


def test_fnmr_resamples_have_the_bootstrap_moments_of_drawing_people() -> None:
    """Resampling by value counts: mean the sample's, variance the sample variance (ddof 0) over the people."""
    rng = np.random.default_rng(11)
    misses = rng.binomial(10, rng.beta(0.5, 4.5, size=60))
    drawn = _resampled_rate(rng, misses, 10, 40_000)
    rate = misses.mean() / 10
    spread = misses.var() / misses.size / 100
    assert abs(drawn.mean() - rate) < 4 * np.sqrt(spread / drawn.size)
    assert abs(drawn.var() / spread - 1) < 0.03
