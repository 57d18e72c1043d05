"""The ceiling benchmark's machinery (benchmarks/ceiling_error_rates.py) on data counted by hand, and a few of its
replicates at a size where the answer is known: the full table is in docs/explanation/methodology.md."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "ceiling_error_rates.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("ceiling_error_rates", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_table_has_the_photos_with_no_face_counted_by_hand(bench: ModuleType) -> None:
    # cis: people with 2, 1 and 3 photos, no face on 1, 0 and 3 of them: 4 of 6; trans: 1 of 2.
    groups = [
        ("cis", np.array([2, 1, 3]), np.array([1, 0, 3])),
        ("trans", np.array([1, 1]), np.array([1, 0])),
    ]
    observations, labels = bench.table(groups)
    assert labels == ["cis"] * 6 + ["trans"] * 2
    assert int((~observations.analysed).sum()) == 5
    result = bench.check(groups)
    assert (result.groups["cis"].count, result.groups["cis"].n) == (4, 6)
    assert (result.groups["trans"].count, result.groups["trans"].n) == (1, 2)


def test_a_rate_far_above_the_ceiling_fails_and_one_far_below_passes(bench: ModuleType) -> None:
    """300 people a group, one photo each: 150 with no face (0.5, Clopper-Pearson lower limit about 0.44) is
    shown above 0.2; 15 (0.05, upper limit about 0.08) is shown below it."""
    ones = np.ones(300, dtype=np.int64)
    missed_half = (np.arange(300) < 150).astype(np.int64)
    missed_few = (np.arange(300) < 15).astype(np.int64)
    result = bench.check([("cis", ones, missed_few), ("trans", ones, missed_half)])
    rows = {c.group: c.verdict for c in result.comparisons if c.reference == bench.CEILING_REFERENCE}
    assert rows == {"cis": "pass", "trans": "fail"}


def test_at_the_ceiling_the_rows_seldom_err(bench: ModuleType) -> None:
    """60 replicates at 100 people a group, rate = ceiling: a wrong verdict each way is stated at 0.025 (about
    1.5 of 60); more than 8 of 60 would be far beyond it (binomial upper tail below 1e-4)."""
    fail, trans_pass, _ = bench.replicate_rates(100, "5", 0.3, 60, np.random.default_rng(7))
    assert fail * 60 <= 8
    assert trans_pass * 60 <= 8


@pytest.mark.parametrize("people", [10])
def test_main_writes_the_table(bench: ModuleType, tmp_path: Path, people: int) -> None:
    out = tmp_path / "ceiling.md"
    assert bench.main(["--replicates", "3", "--people", str(people), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "| people a group | photos a person | ICC |" in text
    assert text.count(f"\n| {people} |") == 6  # 3 photo designs x 2 ICCs
    assert "Machine: " in text
