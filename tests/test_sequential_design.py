"""The group-sequential normal recursion behind ``plan --sequential``'s sizes and expected photos (issue 17 item 2).

Every figure is checked against something computed another way: the fixed design's normal power
(one look), a seeded Monte Carlo of the Brownian motion the recursion integrates, and the
information bound no sequential test can beat (Wald & Wolfowitz 1948; the binary Kullback-Leibler
divergence of the error rates over the information per unit of the fixed design).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from conformance.sequential import look_levels
from conformance.sequential_design import design, expected_sent, expected_share, stopping

ALPHA, POWER = 0.025, 0.8
FIXED_DRIFT = norm.ppf(1 - ALPHA) + norm.ppf(POWER)  # 2.8016: a fixed design's drift at its own size


def _brownian(levels: list[float], drift: float, draws: int = 200_000) -> tuple[float, float, float]:
    """(pass, fail, expected share sent) by simulating W_k = B(t_k) / sqrt(t_k), B with drift, looks at k/K."""
    rng = np.random.default_rng(20261206)
    looks = len(levels)
    t = np.arange(1, looks + 1) / looks
    steps = rng.standard_normal((draws, looks)) * math.sqrt(1 / looks) + drift / looks
    w = np.cumsum(steps, axis=1) / np.sqrt(t)
    edge = norm.isf(np.asarray(levels))
    passed, failed = w < -edge, w > edge
    stop = passed | failed
    first = np.where(stop.any(axis=1), stop.argmax(axis=1), looks - 1)
    rows = np.arange(draws)
    return float(passed[rows, first].mean()), float(failed[rows, first].mean()), float(t[first].mean())


def test_one_look_is_the_fixed_design() -> None:
    passes, fails = stopping([ALPHA], -FIXED_DRIFT)
    assert passes[0] == pytest.approx(POWER, abs=1e-9)
    assert fails[0] == pytest.approx(norm.sf(norm.isf(ALPHA) + FIXED_DRIFT), abs=1e-12)
    assert design(ALPHA, 1, POWER).inflation == 1.0


@pytest.mark.parametrize("drift", [-3.2, 0.0, 2.0, 4.5])
def test_the_recursion_agrees_with_a_simulated_brownian_motion(drift: float) -> None:
    levels = look_levels(ALPHA, 5)
    passes, fails = stopping(levels, drift)
    sim_pass, sim_fail, sim_share = _brownian(levels, drift)
    # 200,000 draws: a standard error of at most 0.0011 on a share, 0.0008 on the share sent
    assert sum(passes) == pytest.approx(sim_pass, abs=0.005)
    assert sum(fails) == pytest.approx(sim_fail, abs=0.005)
    assert expected_share(levels, drift) == pytest.approx(sim_share, abs=0.004)


def test_the_union_bound_holds_in_the_model_and_costs_power() -> None:
    levels = look_levels(ALPHA, 5)
    passes, fails = stopping(levels, 0.0)  # a true gap at the tolerance: both verdicts wrong
    assert sum(passes) <= ALPHA
    assert sum(fails) <= ALPHA
    # The same people as the fixed design give less power; the inflation buys it back.
    assert sum(stopping(levels, -FIXED_DRIFT)[0]) < POWER
    plan = design(ALPHA, 5, POWER)
    assert sum(stopping(levels, -FIXED_DRIFT * math.sqrt(plan.inflation))[0]) == pytest.approx(POWER, abs=1e-5)
    assert sum(_brownian(levels, -FIXED_DRIFT * math.sqrt(plan.inflation))[:1]) == pytest.approx(POWER, abs=0.005)


def test_no_sequential_design_beats_the_information_bound() -> None:
    # Any test with P(pass | gap = tol) <= alpha and P(pass | gap 0) >= power needs, at gap 0, on average at least
    # d(power || alpha) / (drift^2 / 2) of the fixed design's information: 0.626 for 0.025 and 0.8 (Wald's SPRT
    # attains it without overshoot).
    bound = (POWER * math.log(POWER / ALPHA) + (1 - POWER) * math.log((1 - POWER) / (1 - ALPHA))) / (FIXED_DRIFT**2 / 2)
    assert bound == pytest.approx(0.6258, abs=5e-4)
    for looks in (2, 5, 10):
        plan = design(ALPHA, looks, POWER)
        assert plan.share_at_design * plan.inflation > bound


def test_expected_photos_weigh_each_looks_photos_by_its_stopping_chance() -> None:
    levels = look_levels(ALPHA, 5)
    plan = design(ALPHA, 5, POWER)
    passes, fails = stopping(levels, -FIXED_DRIFT * math.sqrt(plan.inflation))
    cumulative = [100, 230, 333, 480, 600]  # unequal looks: the recursion's chances, the looks' own photos
    stop = [p + f for p, f in zip(passes, fails, strict=True)]
    by_hand = sum(n * s for n, s in zip(cumulative[:-1], stop[:-1], strict=True)) + (1 - sum(stop[:-1])) * 600
    assert expected_sent(cumulative, ALPHA) == pytest.approx(by_hand)
    assert expected_sent([120, 240, 360, 480, 600], ALPHA) == pytest.approx(600 * plan.share_at_design)
