"""``conformance plan --sequential``: the most people a sequential audit sends for the fixed plan's power, and the expected.

Red team rt17c: the plan said nothing about --sequential, and a user who collected the fixed plan's 225 people
a group and ran --sequential passed a fair analyzer in 0.68 of runs, not 0.8. Then (red team 17c F5, issue 17
item 2) the plan sized the run at its last look's level and printed no expected photos: "depends on the true
gap". Now it sizes the most people for the fixed plan's power under the run's spending and prints the people,
calls and cost the run is expected to send at a true gap of 0 and at the fail scenario.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from scipy import stats as distributions

from conformance.cli import main

DESIGN = [
    "--check",
    "misgender_gap",
    "--reference-rate",
    "0.04",
    "--gap",
    "0.15",
    "--tolerance",
    "0.05",
    "--photos-per-person",
    "3",
    "--icc",
    "0.3",
    "--replicates",
    "300",
]


def _plan(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["plan", *args, "--json"]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def _brownian(levels: list[float], drift: float) -> tuple[float, float]:
    """(P(pass), expected share of the looks) of W_k = B(k/K) / sqrt(k/K), B a Brownian motion with ``drift``."""
    import numpy as np

    rng = np.random.default_rng(11)
    looks = len(levels)
    t = np.arange(1, looks + 1) / looks
    w = (np.cumsum(rng.standard_normal((200_000, looks)) * math.sqrt(1 / looks), axis=1) + drift * t) / np.sqrt(t)
    edge = distributions.norm.isf(levels)
    stop = (w < -edge) | (w > edge)
    first = np.where(stop.any(axis=1), stop.argmax(axis=1), looks - 1)
    passed = (w < -edge)[np.arange(len(w)), first]
    return float(passed.mean()), float(t[first].mean())


@pytest.mark.parametrize("looks", [None, 3, 10])
def test_a_sequential_plan_keeps_the_fixed_plans_power_and_says_what_it_expects_to_send(
    capsys: pytest.CaptureFixture[str], looks: int | None
) -> None:
    from conformance.sequential import look_levels

    extra = [] if looks is None else ["--looks", str(looks)]
    count = looks or 5
    sequential = _plan(capsys, *DESIGN, "--sequential", *extra)
    fixed = _plan(capsys, *DESIGN)
    block = sequential["sequential"]
    levels = look_levels(0.025, count)
    assert block["looks"] == count
    assert block["fixed_level"] == 0.025
    assert block["last_look_level"] == pytest.approx(levels[-1], rel=1e-9)
    assert sum(block["look_levels"]) == pytest.approx(0.025, rel=1e-5)  # the union bound: the shares add up
    # The most people: the fixed plan's times the inflation; at it the run's power to pass at the design point is
    # the fixed plan's 0.8 (checked by simulating the Brownian motion the recursion integrates).
    [directions] = [c["directions"] for c in fixed["checks"]]
    n_pass, n_fail = (d["people_per_group"] for d in directions)
    inflation = block["inflation"]
    assert inflation > 1.0
    most = math.ceil(inflation * max(n_pass, n_fail))
    assert sequential["people_per_group"] == block["checks"]["misgender_gap"]["people_per_group"] == most
    z = distributions.norm.isf(0.025) + distributions.norm.ppf(0.8)
    power, share = _brownian(levels, -z * math.sqrt(inflation))
    assert power == pytest.approx(0.8, abs=0.006)
    # Expected at a true gap of 0 and at the fail scenario, people, calls (2 groups x 3 photos) and cost.
    expected = {e["verdict"]: e for e in block["checks"]["misgender_gap"]["expected"]}
    assert expected["pass"]["true_gap"] == 0.0
    assert expected["fail"]["true_gap"] == 0.15
    assert expected["pass"]["people_per_group"] == pytest.approx(share * most, rel=0.01)
    _, fail_share = _brownian(levels, z * math.sqrt(most / n_fail))
    assert expected["fail"]["people_per_group"] == pytest.approx(fail_share * most, rel=0.01)
    for e in expected.values():
        assert abs(e["calls"] - e["people_per_group"] * 2 * 3) <= 1  # people shown to 0.1, calls rounded up
        assert e["cost"] == pytest.approx(e["calls"] / 1000, abs=0.006)  # the list price, USD 1 per 1,000
        assert e["people_per_group"] < most
    assert sequential["calls"] == most * 6


def test_the_sequential_plan_is_printed_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", *DESIGN, "--sequential"]) == 0
    out = capsys.readouterr().out
    assert "Sequential (--sequential, 5 looks, Hwang-Shih-DeCani, gamma -2" in out
    assert "misgender_gap: at most" in out
    assert "expected: pass at a true gap of 0:" in out
    assert "fail at a true gap of 0.15:" in out


def test_looks_without_sequential_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", *DESIGN, "--looks", "3"]) == 2
    assert "--looks sizes a sequential audit: give --sequential with it" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["plan", *DESIGN, "--sequential", "--looks", "0"])
    assert "give the most looks as a whole number from 1 to 100" in capsys.readouterr().err  # run --looks's own
