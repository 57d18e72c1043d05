"""Issue 13's Monte Carlo findings as seeded regression tests, through ``run_check`` on in-memory data.

The data come from ``benchmarks/verdict_error_rates.py`` (people with their own misgendering
probability, beta-distributed around the group's rate with a given intraclass correlation); each test
states the true gap, so a wrong verdict is known. Replicate counts are small for the suite's sake:
the bounds allow three Monte Carlo standard errors above the stated one-sided 0.025, and the old
procedure's measured rates (8.2% wrong passes, 14.6% wrong fails) lie well beyond them. The full
tables are in docs/explanation/methodology.md.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint  # type: ignore[import-untyped]

from conformance import load_policy, run_check

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "verdict_error_rates.py"
ALPHA = 0.025
TOLERANCE = 0.05


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verdict_error_rates", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def bound(replicates: int) -> float:
    return ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / replicates)


def test_few_people_pass_wrongly_no_more_than_stated(bench: ModuleType) -> None:
    # Found 2: ten people a group, six photos each, at a true gap equal to the tolerance the old
    # percentile subject bootstrap passed 8.2% of the time, and still 0.9% at three times it.
    rng = np.random.default_rng(13)
    replicates = 300
    design = bench.Design(10, "6", 0.5, 0.05)
    fail, passed = bench.error_rates(design, replicates, rng)
    assert passed <= bound(replicates)
    assert fail <= bound(replicates)
    far = 0
    for _ in range(replicates):
        photos_ref, photos = np.full(10, 6), np.full(10, 6)
        groups = [
            ("cis", photos_ref, bench.misgendered(0.05, 0.5, photos_ref, rng)),
            ("trans", photos, bench.misgendered(0.05 + 3 * TOLERANCE, 0.5, photos, rng)),
        ]
        far += bench.check(groups).verdict == "pass"
    assert far == 0


def test_a_few_people_with_many_photos_fail_wrongly_no_more_than_stated(bench: ModuleType) -> None:
    # Found 3: three people with 40 photos and 27 with one, against a reference never misgendered;
    # at a true gap equal to the tolerance the old subject-count fallback failed 14.6% of the time.
    rng = np.random.default_rng(3)
    replicates = 300
    photos = np.array([40] * 3 + [1] * 27)
    reference = np.ones(30, dtype=np.int64)
    fails = 0
    for _ in range(replicates):
        groups = [
            ("cis", reference, np.zeros(30, dtype=np.int64)),
            ("trans", photos, bench.misgendered(TOLERANCE, 0.9, photos, rng)),
        ]
        fails += bench.check(groups).verdict == "fail"
    assert fails / replicates <= bound(replicates)


def test_printed_p_values_agree_with_the_verdicts_beside_them(bench: ModuleType) -> None:
    # Found 8: the old p-values were photo-level exact tests beside subject-level intervals, and could
    # say 0.057 beside a fail. Now each is read off the comparison's own interval: a comparison fails
    # exactly when its Holm-adjusted p-value is at most the stated 0.025, and where a person has
    # several photos no photo-level test is printed at all.
    rng = np.random.default_rng(8)
    seen = set()
    for _ in range(60):
        groups = []
        for name, rate in (("cis", 0.05), ("trans", 0.3), ("nonbinary", 0.12)):
            photos = rng.integers(1, 8, size=25)
            groups.append((name, photos, bench.misgendered(rate, 0.4, photos, rng)))
        result = bench.check(groups)
        for c in result.comparisons:
            assert (c.verdict == "fail") == (c.p_adjusted <= ALPHA)
            assert c.p_equal is None
            if c.verdict == "pass":
                assert c.p_within <= ALPHA
            seen.add(c.verdict)
    assert seen == {"fail", "inconclusive"}


def test_a_pass_needs_no_multiplicity_penalty(bench: ModuleType) -> None:
    # Found 7: Bonferroni was applied to "pass" as well as to "fail". Six groups of 300 people, each
    # with 15 misgendered (one photo each): 15 pairs, every gap 0. Each 95% interval lies within the
    # tolerance, so the check passes; intervals Bonferroni-adjusted for 15 comparisons would not.
    groups = [
        (name, np.ones(300, dtype=np.int64), np.array([1] * 15 + [0] * 285))
        for name in ("cis", "a", "b", "c", "d", "e")
    ]
    table, labels = bench.observations(groups)
    result = run_check("misgender_gap", table, groups=labels, reference="cis", policy=load_policy(), seed=0)
    assert len(result.comparisons) == 15
    assert result.verdict == "pass"
    # By hand, Newcombe's hybrid on Clopper-Pearson limits at 1 - 0.05/15: beyond the tolerance.
    low, high = proportion_confint(15, 300, alpha=0.05 / 15, method="beta")
    assert math.hypot(0.05 - low, high - 0.05) > TOLERANCE
    low, high = proportion_confint(15, 300, alpha=0.05, method="beta")
    assert math.hypot(0.05 - low, high - 0.05) <= TOLERANCE


def test_the_benchmark_runs_and_reports_its_tables(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    assert bench.main(["--replicates", "20", "--power-replicates", "10", "--quick", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    for heading in ("## Wrong verdicts at a true gap", "## Three groups", "## Power at the printed detectable gap"):
        assert heading in text
