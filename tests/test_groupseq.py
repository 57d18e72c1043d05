"""Group-sequential boundaries from the looks' joint normal distribution (conformance.groupseq), and the switch to them.

The levels are checked against what they promise, by Monte Carlo of the Brownian motion they assume (numpy here,
not the kit's recursion), and against the classic O'Brien-Fleming-type boundaries published for 5 looks at 0.025
(Jennison & Turnbull 2000, and every group-sequential package since).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
from builders import demo_sequential_report

from conformance.cli import main
from conformance.groupseq import hsd_spent, joint_levels, obf_spent
from conformance.sequential import look_increments, look_levels


def _first_crossings(levels: list[float], paths: int, seed: int) -> list[float]:
    """P(the standardised statistic first falls below -z_k at look k), at drift 0, by simulating the Brownian motion."""
    import numpy as np
    from scipy.special import ndtri

    looks = len(levels)
    rng = np.random.default_rng(seed)
    b = np.cumsum(rng.standard_normal((paths, looks)) * math.sqrt(1.0 / looks), axis=1)
    t = np.arange(1, looks + 1) / looks
    w = b / np.sqrt(t)  # W_k, standard normal at each look, correlated sqrt(t_j / t_k)
    crossed = w < -ndtri(1.0 - np.asarray(levels))
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), looks)
    return [float(np.mean(first == k)) for k in range(looks)]


@pytest.mark.parametrize("looks", [3, 5, 10])
def test_each_looks_level_spends_its_increment_on_the_brownian_motion(looks: int) -> None:
    increments = look_increments(0.025, looks)
    levels = look_levels(0.025, looks)
    paths = 400_000
    found = _first_crossings(levels, paths, seed=looks)
    for k, (share, increment) in enumerate(zip(found, increments, strict=True)):
        se = math.sqrt(increment * (1 - increment) / paths)
        assert abs(share - increment) < 4.5 * se + 2e-5, (k, share, increment)
    total_se = math.sqrt(0.025 * 0.975 / paths)
    assert abs(sum(found) - 0.025) < 4.5 * total_se
    # The union bound's levels (the increments themselves) spend less than alpha: what the switch buys back.
    assert sum(_first_crossings(increments, paths, seed=looks)) < 0.025 - 10 * total_se


def test_the_classic_obrien_fleming_boundaries_come_out() -> None:
    # Lan-DeMets O'Brien-Fleming-type spending of one-sided 0.025 over 5 equally spaced looks: the boundaries
    # 4.877, 3.357, 2.680, 2.290, 2.031 (Jennison & Turnbull 2000; gsDesign's sfLDOF).
    from scipy.special import ndtri

    spent = [obf_spent(0.025, k / 5) for k in range(1, 6)]
    levels = joint_levels([spent[0]] + [b - a for a, b in itertools.pairwise(spent)])
    assert [round(float(ndtri(1 - level)), 3) for level in levels] == [4.877, 3.357, 2.68, 2.29, 2.031]


def test_the_grid_is_fine_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    import conformance.groupseq as groupseq

    increments = [hsd_spent(0.025, k / 8, -2.0) - hsd_spent(0.025, (k - 1) / 8, -2.0) for k in range(1, 9)]
    coarse = joint_levels(increments)
    monkeypatch.setattr(groupseq, "_GRID", 2001)
    groupseq._joint_levels.cache_clear()
    try:
        fine = joint_levels(increments)
    finally:
        groupseq._joint_levels.cache_clear()
    assert coarse == pytest.approx(fine, rel=1e-4)


def test_a_look_that_spends_nothing_cannot_stop_and_the_rest_still_spend_theirs() -> None:
    levels = joint_levels([0.0, 0.01, 0.015])
    assert levels[0] == 0.0
    found = _first_crossings(levels, 400_000, seed=7)
    assert found[0] == 0.0
    assert found[1] == pytest.approx(0.01, abs=4.5 * math.sqrt(0.01 / 400_000))
    assert found[2] == pytest.approx(0.015, abs=4.5 * math.sqrt(0.015 / 400_000) + 2e-5)


@pytest.mark.parametrize("bad", [[-0.01, 0.02], [float("nan")], [1.0]])
def test_an_increment_out_of_range_is_refused(bad: list[float]) -> None:
    with pytest.raises(ValueError, match=r"each look's increment must be in \[0, 1\)"):
        joint_levels(bad)


@pytest.fixture(scope="module")
def made_with_the_union_bound(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A sequential report as the kit made it before joint boundaries: hsd(-2), each look at its increment."""
    return demo_sequential_report(tmp_path_factory.mktemp("sequential-union"), "hsd(-2)")


def test_a_report_made_with_the_union_bound_still_verifies(
    made_with_the_union_bound: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sequential = made_with_the_union_bound["sequential"]
    # As such reports were written: no "boundaries" field, the union bound named in the stopping rule.
    assert sequential["spending"] == {"name": "hsd(-2)", "family": "Hwang-Shih-DeCani", "gamma": -2.0}
    assert "held by the union bound" in sequential["stopping_rule"]
    increments = look_increments(0.025, 5)
    assert [look["alpha"] for look in sequential["looks"]] == pytest.approx(increments[: len(sequential["looks"])])
    path = tmp_path / "report.json"
    path.write_text(json.dumps(made_with_the_union_bound))
    assert main(["verify", str(path)]) == 0, capsys.readouterr().out
    # Red team 17e F6: verified, and said so: no run of this kit writes hsd(-2) any more.
    assert "tested under the union bound (hsd(-2)" in capsys.readouterr().out


def test_a_joint_report_relabelled_as_the_union_bound_does_not_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Its looks were tested at the joint levels; replayed at the union bound's stricter ones they differ.
    out = tmp_path / "joint"
    main(["run", "--sequential", "--checks", "misgender_gap,nonbinary_representability", "--report-dir", str(out)])
    report = json.loads((out / "report.json").read_text())
    assert report["sequential"]["spending"]["boundaries"] == "joint"
    assert "joint normal distribution" in report["sequential"]["stopping_rule"]
    report["sequential"]["spending"] = {"name": "hsd(-2)", "family": "Hwang-Shih-DeCani", "gamma": -2.0}
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    capsys.readouterr()
    assert main(["verify", str(path)]) == 1
    assert "NOT VERIFIED" in capsys.readouterr().out


def test_a_first_look_spending_next_to_nothing_gets_a_finite_boundary() -> None:
    # O'Brien-Fleming-type spending gives the first of 20 looks 2 Phi(-2.24 sqrt(20)) = 1.5e-23 of 0.025: with
    # ndtri(1 - level) that is ndtri(1.0) = inf, and the grid became NaN.
    spent = [obf_spent(0.025, k / 20) for k in range(21)]
    levels = joint_levels([b - a for a, b in itertools.pairwise(spent)])
    assert levels[0] == pytest.approx(spent[1], rel=1e-6)
    assert all(math.isfinite(level) and 0 <= level < 0.025 for level in levels)
    assert obf_spent(0.025, 0.0) == 0.0
