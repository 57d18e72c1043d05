"""The listed 1:1 path's distinct-pair count: sorted now, numpy's ``unique`` before, every result the same.

The fixture's figures below were printed by the kit at commit 84d978a (before the change, when
``compare_listed`` counted with ``np.unique``), from the same seeded data; they are not recomputed
by the code under test. benchmarks/one_to_one_speed.py measures the speed-up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance import load_policy
from conformance.checks.biometrics import false_match_differential, false_non_match_differential
from conformance.pairwise import PairCounts, _distinct_count, compare_listed


def _fixture(pairs: str) -> PairCounts:
    """2 groups x 45 people x 2 photos, two-way Gaussian impostor scores, genuine pairs missed 1 time in 5."""
    rng = np.random.default_rng(20261206)
    groups, people, m = 2, 45, 2
    total = groups * people
    person = np.repeat(np.arange(total), m)
    group = np.repeat(np.arange(groups), people * m)
    n = person.size
    a = rng.normal(0.0, 0.6, total)
    a[people:] += 0.5
    noise = np.triu(rng.normal(size=(n, n)), 1)
    scores = a[person][:, None] + a[person][None, :] + noise + noise.T
    genuine = person[:, None] == person[None, :]
    scores[genuine] = np.where(rng.random((n, n)) < 0.2, -3.0, 6.0)[genuine]
    probe, reference = np.nonzero(~np.eye(n, dtype=bool))
    if pairs == "sample":
        # The random draws after the "all" design's: drawn here only for the sampled design, as the recording did
        # (it ran "all" first, which draws nothing more).
        probe, reference = rng.integers(0, n, 30000), rng.integers(0, n, 30000)
        keep = probe != reference
        probe, reference = probe[keep], reference[keep]
    return compare_listed(
        probe,
        reference,
        scores[probe, reference],
        photo_group=group,
        photo_subject=person,
        acquired=np.ones(n, dtype=bool),
        groups=["g0", "g1"],
        subjects=[str(i) for i in range(total)],
        pairs=pairs,
    )


# (listed, distinct, people-pairs), then per check (FMR, FNMR) of the binding threshold: the verdict, the ratio,
# its interval, the difference, the threshold, and per group (errors, comparisons, interval): commit 84d978a's.
OLD: dict[str, Any] = {
    "all": (
        (32220, 16020, 4005),
        [
            (
                "inconclusive",
                3.0,
                (-0.0002488963462283799, 0.0030310684516291994),
                0.0009987515605493135,
                4.806294383413607,
                [
                    (8, 16020, (0.0, 0.0021294437320447846)),
                    (24, 16020, (0.00025220680958385876, 0.0043456888010290585)),
                ],
            ),
            (
                "inconclusive",
                2.444444444444444,
                (0.044444444444444425, 0.25555555555555554),
                0.14444444444444443,
                4.806294383413607,
                [
                    (9, 90, (0.039460903152001764, 0.19981426566910587)),
                    (22, 90, (0.15187325883334554, 0.3583740471982705)),
                ],
            ),
        ],
    ),
    "sample": (
        (29835, 13488, 4003),
        [
            (
                "inconclusive",
                2.386400513825975,
                (-0.0007766814728489703, 0.0030248640688950073),
                0.0007462793776482171,
                4.837531451585808,
                [
                    (8, 14862, (0.0, 0.0034160806432286532)),
                    (19, 14791, (6.794401413235494e-05, 0.004483472499059092)),
                ],
            ),
            (
                "inconclusive",
                3.1666666666666665,
                (0.012859097127222982, 0.26631578947368423),
                0.14285714285714285,
                4.837531451585808,
                [
                    (6, 91, (0.007810871007950971, 0.2208886127153757)),
                    (19, 91, (0.09704300635912926, 0.36344748270351984)),
                ],
            ),
        ],
    ),
}


@pytest.mark.parametrize("pairs", ["all", "sample"])
def test_listed_one_to_one_results_are_those_of_the_code_before(pairs: str) -> None:
    counts = _fixture(pairs)
    (listed, distinct, people_pairs), expected = OLD[pairs]
    assert (counts.pool_distinct, counts.pool_people_pairs) == (distinct, people_pairs)
    assert counts.listed_impostor is not None
    assert counts.listed_genuine is not None
    assert int(counts.listed_impostor.sum() + counts.listed_genuine.sum()) == listed
    policy = load_policy()
    for check, (verdict, ratio, ci, difference, threshold, groups) in zip(
        (false_match_differential, false_non_match_differential), expected, strict=True
    ):
        [result] = [r for r in check(counts, reference="g0", policy=policy, seed=3) if r.details.get("binding")]
        [comparison] = result.comparisons
        assert result.verdict == verdict
        assert comparison.ratio == pytest.approx(ratio, rel=1e-9)
        assert comparison.ci == pytest.approx(ci, rel=1e-9, abs=1e-15)
        assert comparison.difference == pytest.approx(difference, rel=1e-9)
        assert result.details["threshold_rule"]["threshold"] == pytest.approx(threshold, rel=1e-12)
        for got, (count, n, interval) in zip(result.groups.values(), groups, strict=True):
            assert (got.count, got.n) == (count, n)
            assert got.ci == pytest.approx(interval, rel=1e-9, abs=1e-15)


@given(st.lists(st.integers(min_value=-(2**40), max_value=2**40), max_size=300))
def test_distinct_counts_what_a_set_holds(values: list[int]) -> None:
    assert _distinct_count(np.asarray(values, dtype=np.int64)) == len(set(values))
