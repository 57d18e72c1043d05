"""The printed detectable gap keeps its promise where the two readings of a group differ (issue 13).

"With this data, a true gap of X would fail with 80% power": checked by simulation with known truth
through ``run_check``, with the data-generating code of ``benchmarks/verdict_error_rates.py``. A
verdict needs the photo- and the person-weighted reading alike; with unequal photo counts their
estimates differ, and each planned at 80% left the pair short of it (calibration with a fifth of 300
people photographed 40 times: 0.65). Calibration's figure also rises because answers turn wrong,
which makes it vary more: planned with the variance seen, one photo a person at accuracy 0.95 was
caught 0.70-0.75 of the time. The figure is now planned on the safe side (each reading at 90%, the
variance at the larger gap), so the share caught must be at least 0.8: seeded, 150 replicates (a Monte
Carlo standard error of about 0.03), 0.90 and 0.93 now, 0.61 and 0.75 before.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "verdict_error_rates.py"
REPLICATES = 150


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verdict_error_rates", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("people", "photos", "icc", "accuracy"),
    [(300, "1 or 40", 0.3, 0.9), (300, "1", 0.0, 0.95)],
)
def test_the_calibration_gap_printed_is_caught_80_percent_of_the_time(
    bench: ModuleType, people: int, photos: str, icc: float, accuracy: float
) -> None:
    rng = np.random.default_rng(20261206)
    design = bench.Design(people, photos, icc, accuracy)
    share, printed, _ = bench.other_power("confidence_calibration", design, REPLICATES, rng)
    assert printed >= REPLICATES * 0.9  # the figure is printed (and reachable) nearly every time
    assert share >= 0.8


def test_the_misgender_gap_printed_at_ten_people_is_caught_80_percent_of_the_time(bench: ModuleType) -> None:
    # 10 people a group, one photo each, reference rate 0.05: the figure read at the rate seen (most often 0
    # of 10) was caught 0.73-0.76 of the time (0.763 here, 0.725-0.750 over 400 replicates in three designs).
    # It now holds for the least favourable rate in the reference's 20% interval: 0.817 here. Exact sums
    # agree: at 10 against 10, 0.736 at a true gap of 0.70 and 0.798 at 0.735.
    rng = np.random.default_rng(20261208)
    share, printed, median = bench.power_at_printed_gap(bench.Design(10, "1", 0.0, 0.05), 300, rng)
    assert printed == 300
    assert median == pytest.approx(0.733, abs=0.01)
    assert share >= 0.79
