"""``conformance plan --sequential``: the most people a sequential audit sends, sized at its last look's level.

Red team rt17c: the plan said nothing about --sequential, and a user who collected the fixed plan's 225 people
a group and ran --sequential passed a fair analyzer in 0.68 of runs, not 0.8: with 5 looks the last look tests
each direction at 0.0128, not 0.025 (the rest is spent on the earlier looks, under the union bound).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
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


def _last_look(alpha: float, looks: int) -> float:
    """O'Brien-Fleming-type spending (Lan & DeMets 1983): 2 - 2 Phi(z_{1 - alpha/2} / sqrt(t)), its last increment."""
    z = distributions.norm.ppf(1 - alpha / 2)

    def spent(t: float) -> float:
        return float(2 - 2 * distributions.norm.cdf(z / math.sqrt(t)))

    return spent(1.0) - spent((looks - 1) / looks)


@pytest.mark.parametrize("looks", [None, 3, 10])
def test_a_sequential_plan_is_the_fixed_plan_at_the_last_looks_level(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, looks: int | None
) -> None:
    extra = [] if looks is None else ["--looks", str(looks)]
    sequential = _plan(capsys, *DESIGN, "--sequential", *extra)
    fixed = _plan(capsys, *DESIGN)
    last = _last_look(0.025, looks or 5)
    assert sequential["sequential"]["looks"] == (looks or 5)
    assert sequential["sequential"]["fixed_level"] == 0.025
    assert sequential["sequential"]["last_look_level"] == pytest.approx(last, rel=1e-9)
    if looks is None:
        assert last == pytest.approx(0.0128, abs=5e-5)  # the figure the run's report states
    # The same plan as a fixed design at that level, asked for through a policy file.
    policy = tmp_path / "last-look.toml"
    policy.write_text(f"[tool.conformance]\nconfidence = {1 - 2 * last!r}\n", encoding="utf-8")
    at_last = _plan(capsys, *DESIGN, "--policy", str(policy))
    assert sequential["people_per_group"] == at_last["people_per_group"]
    assert sequential["people_per_group"] > fixed["people_per_group"]
    assert any(
        s.startswith(f"--sequential with {looks or 5} looks: sized for the last look") for s in sequential["sources"]
    )


def test_looks_without_sequential_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", *DESIGN, "--looks", "3"]) == 2
    assert "--looks sizes a sequential audit: give --sequential with it" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["plan", *DESIGN, "--sequential", "--looks", "0"])
    assert "give the number of looks, 1 to 100" in capsys.readouterr().err
