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
    for heading in (
        "## Wrong verdicts at a true gap",
        "## Three groups",
        "## Power at the printed detectable gap",
        "## The other gender checks",
    ):
        assert heading in text
    for check_id in ("same_person_consistency", "confidence_calibration", "nonbinary_representability"):
        assert f"| {check_id} | " in text


def test_the_other_checks_are_drawn_at_a_true_figure_on_the_tolerance(bench: ModuleType) -> None:
    # Consistency: a person wrong on each photo with probability q disagrees on a pair with probability
    # 2q(1 - q); q beta-distributed (mean mu, ICC) has E[q(1 - q)] = mu(1 - mu)(1 - ICC). Checked by drawing.
    rng = np.random.default_rng(5)
    for share, icc in ((0.05, 0.0), (0.15, 0.3), (0.2, 0.6)):
        mu = bench.error_rate_for_share(share, icc)
        q = bench.own_probability(mu, icc, 400_000, rng)
        assert float(np.mean(2 * q * (1 - q))) == pytest.approx(share, abs=0.002)
    with pytest.raises(ValueError, match="out of reach"):
        bench.error_rate_for_share(0.1, 0.9)  # at ICC 0.9 a share is at most 0.05
    # Calibration: overconfidence = accuracy x (right - 1) + (1 - accuracy) x wrong, by hand at the two designs.
    right, wrong, tolerance = bench.RIGHT_CONFIDENCE, bench.WRONG_CONFIDENCE, 0.05
    for accuracy in (1.0, 0.9):
        lower = accuracy - tolerance / (1 - right + wrong)
        over = [a * (right - 1) + (1 - a) * wrong for a in (accuracy, lower)]
        assert over[1] - over[0] == pytest.approx(tolerance)


# -- the methodology page shows the results file, and nothing copied by hand --------------------------------

RESULTS_TEXT = """# title

Command: `python benchmarks/verdict_error_rates.py --replicates 4`

Machine: a machine; kit: commit abc

Policy: the default (...). 4 replicates a design, seed 1.

## Wrong verdicts at a true gap equal to the tolerance (two groups)

| people a group | photos a person | ICC | reference rate | wrong fail | wrong pass |
|---:|---:|---:|---:|---:|---:|
| 10 | 1 | 0 | 0 | 0.000 | 0.250 |
| 10 | 1 | 0.3 | 0 | 0.500 | 0.000 |
| 30 | 5 | 0 | 0 | 0.000 | 0.000 |

Largest wrong-fail rate 0.500, largest wrong-pass rate 0.250, over 3 designs; ...

## Three groups, every two compared: familywise

| people a group | photos a person | ICC | lowest rate | any wrong fail | wrong pass |
|---:|---:|---:|---:|---:|---:|
| 10 | 1 | 0 | 0.05 | 0.000 | 0.000 |

## Power at the printed detectable gap

Data ... 8 replicates a design; the share failing should be about 0.8.

| people a group | photos a person | ICC | reference rate | printed X (median) | replicates printing one | share failing at X |
|---:|---:|---:|---:|---:|---:|---:|
| 10 | 1 | 0 | 0.05 | 0.640 | 8 | 0.750 |

Share failing at the printed figure: median 0.750, from 0.750 to 0.750 over 1 designs.

## Power at the printed detectable figure, the other gender checks

As above.

| check | people a group | photos a person | ICC | reference figure | printed X (median) | replicates printing one | share failing at X |
|---|---:|---:|---:|---:|---:|---:|---:|
| confidence_calibration | 300 | 1 | 0 | 0.95 | 0.148 | 8 | 0.875 |

## The other gender checks: wrong verdicts at a true figure on the tolerance

What was drawn.

| check | people a group | photos a person | ICC | reference figure | wrong fail | wrong pass |
|---|---:|---:|---:|---:|---:|---:|
| same_person_consistency | 10 | 2 | 0 | 0 | 0.250 | 0.000 |
| same_person_consistency | 30 | 2 | 0 | 0 | 0.000 | 0.500 |
| nonbinary_representability | 10 | 1 | 0 | 0 | 0.000 | 0.000 |

Largest for same_person_consistency: wrong fail 0.250, wrong pass 0.500.

Designs above 0.025 + 2 standard errors (0.181), every section: 3.
- | 10 | 1 | 0.3 | 0 | wrong fail 0.500

## Exact, one photo a person

Every outcome summed (no sampling) for sizes ...:

| limits | confidence | stated (each direction) | largest wrong fail | at | largest wrong pass | at |
|---|---:|---:|---:|---|---:|---|
| clopper-pearson | 0.95 | 0.025 | 0.0115 | here | 0.0205 | there |

Run time: 1234 s.
"""


def test_the_page_summarises_a_results_file_by_hand_counts(bench: ModuleType) -> None:
    lines = bench.docs_section(RESULTS_TEXT)
    text = "\n".join(lines)
    assert lines[0].startswith("Command: `python benchmarks/verdict_error_rates.py --replicates 4` (1,234 s;")
    # Largest per size and photo count, by hand: 10 x 1 is 0.500 and 0.250 over 2 designs, 30 x 5 is 0 and 0.
    assert "| 10 | 1 | 0.500 | 0.250 |" in lines
    assert "| 30 | 5 | 0.000 | 0.000 |" in lines
    assert "over the 1/2 designs" in text
    # Per check: consistency's largest are 0.250 and 0.500 over 2 designs; above 0.025 + 2 x sqrt(0.025 x 0.975 / 4).
    assert "| `same_person_consistency` | 2 | 0.250 | 0.500 |" in lines
    assert "| `nonbinary_representability` | 1 | 0.000 | 0.000 |" in lines
    bound = 0.025 + 2 * math.sqrt(0.025 * 0.975 / 4)
    assert f"above 0.025 + 2 standard errors ({bound:.3f}): 2." in text
    # The power's Monte Carlo error at 0.8 over 8 replicates: sqrt(0.16 / 8) = 0.14.
    assert "standard error about 0.14 at 0.8" in text
    assert "| confidence_calibration | 300 | 1 | 0 | 0.95 | 0.148 | 8 | 0.875 |" in lines
    assert "| clopper-pearson | 0.95 | 0.025 | 0.0115 | here | 0.0205 | there |" in lines


def test_the_methodology_page_shows_the_results_file(bench: ModuleType) -> None:
    # scripts/regen_docs.py writes the block; a hand edit or a new results file without it shows here.
    page = (SCRIPT.parent.parent / "docs" / "explanation" / "methodology.md").read_text(encoding="utf-8").splitlines()
    start = page.index("<!-- regen:verdict-error-rates -->")
    end = page.index("<!-- regen:end -->", start)
    assert page[start + 1 : end] == bench.docs_section(bench.RESULTS.read_text(encoding="utf-8"))


def test_figures_the_prose_quotes_are_the_results_files(bench: ModuleType) -> None:
    # Outside the generated block, the pages quote the exact table's Wilson pass rate at confidence 0.8.
    exact = bench._section(bench._sections(bench.RESULTS.read_text(encoding="utf-8")), "Exact")
    (row,) = [r for r in bench._rows(exact) if r[:2] == ["wilson", "0.8"]]
    quoted = f"{float(row[5]):.1%}"
    assert quoted == "11.8%"
    root = SCRIPT.parent.parent
    assert f"{quoted} where 10% is stated at confidence 0.8" in (root / "docs/explanation/methodology.md").read_text()
    assert f"{quoted} where 10% is stated at 0.8" in (root / "docs/how-to/policies.md").read_text()


def test_the_power_sections_can_be_made_again_in_place(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After a change to the detectable figures only their sections are run again; the rest of the file stays.
    path = tmp_path / "results.md"
    path.write_text(RESULTS_TEXT, encoding="utf-8")

    def fresh(*_: object, **__: object) -> list[str]:
        return [
            "",
            "## Power at the printed detectable gap",
            "",
            "new gap",
            "",
            "## Power at the printed detectable figure, the other gender checks",
            "",
            "new figure",
        ]

    monkeypatch.setattr(bench, "power_sections", fresh)
    once = bench.rerun_power(path, ["--power-only"], (10,), 8, 1)
    path.write_text(once, encoding="utf-8")
    twice = bench.rerun_power(path, ["--power-only"], (10,), 8, 1)
    assert twice == once  # one note, not two
    assert once.count(bench.RERUN) == 1
    assert "new gap" in once
    assert "new figure" in once
    assert "| 10 | 1 | 0 | 0.05 | 0.640 | 8 | 0.750 |" not in once
    unchanged = [s for s in RESULTS_TEXT.split("\n## ") if not s.startswith("Power at the printed")]
    for section in unchanged[1:]:
        assert section.strip() in once
