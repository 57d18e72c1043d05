"""Monte Carlo: how often each verdict direction errs, and what the printed detectable gap means.

Every replicate builds an :class:`~conformance.observation.Observations` table in memory (no files)
and calls the kit's public ``run_check("misgender_gap", ...)`` under the default policy, exactly as
the built-in suite does; nothing of the verdict procedure is re-implemented here.

The data. Two groups (``cis`` the reference, ``trans``), ``k`` people each. Person ``i`` has ``m_i``
photos; each photo is misgendered with the person's own probability ``pi_i``, drawn from a beta
distribution with mean ``p`` and intraclass correlation ``icc`` (``pi_i = p`` when ``icc`` is 0), so
the true photo-weighted rate of a group is ``p`` whatever the photo counts (they are drawn
independently of ``pi_i``). Photo counts: ``1`` (one photo a person), ``5`` or ``40`` each, ``1-40``
(uniform), or ``1 or 40`` (a fifth of the people 40 photos, the rest 1: a few people hold most photos).

Error rates (``--errors``). The reference's rate is ``p``, the other group's ``p + tolerance``: the
true gap equals the tolerance, so a ``pass`` and a ``fail`` are both wrong (each tested at one-sided
``(1 - confidence)/2 = 0.025``). Three groups (``--three``): rates ``p``, ``p + tolerance/2`` and
``p + tolerance``, every pairwise gap within the tolerance and one equal to it; a ``fail`` anywhere
is a familywise wrong fail, a ``pass`` a wrong pass.

Detectable gap (``--power``). Draw data at a true gap equal to the tolerance; when the verdict is
inconclusive the kit prints "with this data, a true gap of X would fail with 80% power". Keep those
people and their photo counts, draw new outcomes at a true gap of X, and count how often the
verdict is ``fail``. That share, over replicates, is the power at the printed figure.

Seeded (``--seed``): the same command prints the same table. Monte Carlo standard errors are
printed with it: about 0.005 for an error rate near 0.025 at 1,000 replicates.

    python benchmarks/verdict_error_rates.py --replicates 1000 --out benchmarks/verdict-error-rates.md
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _designs import ALPHA, POLICY, TOLERANCE, misgendered, observations
from _designs import own_probability as own_probability  # the tests draw people with it from here
from _machine import code_line, machine_line

from conformance import run_check

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from conformance.results import CheckResult

PEOPLE = (10, 30, 100)
PHOTOS = ("1", "5", "40", "1-40", "1 or 40")
ICCS = (0.0, 0.3, 0.9)
BASES = (0.0, 0.05, 0.25, 0.45)


@dataclass(frozen=True)
class Design:
    people: int
    photos: str
    icc: float
    base: float

    def label(self) -> str:
        return f"| {self.people} | {self.photos} | {self.icc:g} | {self.base:g} |"


def photo_counts(design: str, people: int, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Photos per person: ``"5"`` each, ``"1-40"`` uniform, ``"1 or 40"`` (a fifth of the people the larger)."""
    import numpy as np

    if "-" in design:
        low, high = map(int, design.split("-"))
        return rng.integers(low, high + 1, size=people)
    if " or " in design:
        few, many = map(int, design.split(" or "))
        return np.where(rng.random(people) < 0.2, many, few)
    return np.full(people, int(design), dtype=np.int64)


def check(groups: Sequence[tuple[str, npt.NDArray[np.int64], npt.NDArray[np.int64]]]) -> CheckResult:
    table, labels = observations(groups)
    return run_check("misgender_gap", table, groups=labels, reference="cis", policy=POLICY, seed=0)


def error_rates(design: Design, replicates: int, rng: np.random.Generator, three: bool = False) -> tuple[float, float]:
    """(wrong fail, wrong pass) at a true gap equal to the tolerance."""
    fails = passes = 0
    rates = [("cis", design.base), ("trans", design.base + TOLERANCE)]
    if three:
        rates.insert(1, ("nonbinary", design.base + TOLERANCE / 2))
    for _ in range(replicates):
        groups = []
        for name, rate in rates:
            photos = photo_counts(design.photos, design.people, rng)
            groups.append((name, photos, misgendered(rate, design.icc, photos, rng)))
        verdict = check(groups).verdict
        fails += verdict == "fail"
        passes += verdict == "pass"
    return fails / replicates, passes / replicates


def power_at_printed_gap(design: Design, replicates: int, rng: np.random.Generator) -> tuple[float, int, float]:
    """(share failing at the printed detectable gap, replicates that printed one, median printed gap)."""
    import numpy as np

    caught, printed = 0, []
    for _ in range(replicates):
        ref_photos = photo_counts(design.photos, design.people, rng)
        photos = photo_counts(design.photos, design.people, rng)
        first = check(
            [
                ("cis", ref_photos, misgendered(design.base, design.icc, ref_photos, rng)),
                ("trans", photos, misgendered(design.base + TOLERANCE, design.icc, photos, rng)),
            ]
        )
        (c,) = first.comparisons
        if c.verdict != "inconclusive" or c.min_detectable is None or design.base + c.min_detectable > 1:
            continue
        printed.append(c.min_detectable)
        again = check(
            [
                ("cis", ref_photos, misgendered(design.base, design.icc, ref_photos, rng)),
                ("trans", photos, misgendered(design.base + c.min_detectable, design.icc, photos, rng)),
            ]
        )
        caught += again.verdict == "fail"
    if not printed:
        return math.nan, 0, math.nan
    return caught / len(printed), len(printed), float(np.median(printed))


# -- the other gender checks at a true figure on the tolerance --------------------------------------------
# Their verdicts rest on the same machinery with other units: same_person_consistency on each person's
# share of photo pairs given different labels, confidence_calibration on overconfidence (t intervals),
# nonbinary_representability on one group's mean share against an absolute tolerance.

CONSISTENCY = tuple(
    Design(k, m, icc, s)
    for k, m, icc, s in itertools.product((10, 30, 100), ("2", "6", "2-40", "2 or 40"), (0.0, 0.3, 0.6), (0.0, 0.1))
)
# Confidence when right and when wrong (means of beta-distributed confidences): overconfidence is then
# accuracy x (RIGHT - 1) + (1 - accuracy) x WRONG, and a gap of the tolerance is an accuracy lower by
# tolerance / (1 - RIGHT + WRONG).
RIGHT_CONFIDENCE, WRONG_CONFIDENCE, CONFIDENCE_SPREAD = 0.95, 0.7, 20.0
CALIBRATION = tuple(
    Design(k, m, icc, a)
    for k, m, icc, a in itertools.product((10, 30, 100, 300), ("1", "5", "1 or 40"), (0.0, 0.3, 0.9), (1.0, 0.9))
)
REPRESENTABILITY = tuple(
    Design(k, m, icc, 0.0) for k, m, icc in itertools.product((10, 30, 100, 300), ("1", "5", "1-40"), (0.0, 0.3, 0.9))
)


def error_rate_for_share(share: float, icc: float) -> float:
    """The mean per-photo error rate whose people disagree on ``share`` of their photo pairs, on average.

    A person wrong on each photo with probability q gives a pair different labels with probability
    2q(1 - q), whatever their photo count; q beta-distributed with mean mu and intraclass correlation
    icc has E[q(1 - q)] = mu (1 - mu)(1 - icc).
    """
    x = share / (2.0 * (1.0 - icc))
    if x > 0.25:
        raise ValueError(f"a share of {share:g} is out of reach at ICC {icc:g}")
    return (1.0 - math.sqrt(1.0 - 4.0 * x)) / 2.0


def other_check(
    check_id: str,
    design: Design,
    rng: np.random.Generator,
    figure: float | None = None,
    photos: Sequence[npt.NDArray[np.int64]] | None = None,
) -> tuple[CheckResult, list[npt.NDArray[np.int64]]]:
    """One replicate of ``check_id``: the result, and each group's photos a person (to draw the same people again).

    ``figure``: the true gap (the true share itself for ``nonbinary_representability``); the tolerance
    when not given. Raises ValueError for a figure the design cannot reach.
    """
    tolerance = POLICY.tolerance_for(check_id)
    figure = tolerance if figure is None else figure
    confidence = None
    reference = "cis"
    if check_id == "nonbinary_representability":
        # Nonbinary people, each given a binary label on a photo with their own probability (mean: the figure).
        if not 0.0 <= figure <= 1.0:
            raise ValueError(f"a share of {figure:g} is no share")
        figures, reference = [("nonbinary", figure)], "nonbinary"
    elif check_id == "same_person_consistency":
        # design.base: the reference's mean share of disagreeing pairs; the other group's is the figure more.
        figures = [("cis", error_rate_for_share(design.base, design.icc))]
        figures.append(("trans", error_rate_for_share(design.base + figure, design.icc)))
    else:
        # design.base: the reference's accuracy; the other group's overconfidence is the figure more.
        lower = design.base - figure / (1.0 - RIGHT_CONFIDENCE + WRONG_CONFIDENCE)
        if lower < 0.0:
            raise ValueError(f"an overconfidence gap of {figure:g} is out of reach from accuracy {design.base:g}")
        figures = [("cis", 1.0 - design.base), ("trans", 1.0 - lower)]

        def confidence(wrong: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
            import numpy as np

            mean = np.where(wrong, WRONG_CONFIDENCE, RIGHT_CONFIDENCE)
            return 100.0 * rng.beta(mean * CONFIDENCE_SPREAD, (1.0 - mean) * CONFIDENCE_SPREAD)

    groups, drawn = [], []
    for index, (name, rate) in enumerate(figures):
        counts = photo_counts(design.photos, design.people, rng) if photos is None else photos[index]
        drawn.append(counts)
        groups.append((name, counts, misgendered(rate, design.icc, counts, rng)))
    table, labels = observations(groups, confidence=confidence, nonbinary=reference == "nonbinary")
    result = run_check(check_id, table, groups=labels, reference=reference, policy=POLICY, seed=0)
    return result, drawn


def other_error_rates(check_id: str, design: Design, replicates: int, rng: np.random.Generator) -> tuple[float, float]:
    """(wrong fail, wrong pass) of ``check_id`` at a true figure equal to its tolerance."""
    verdicts = [other_check(check_id, design, rng)[0].verdict for _ in range(replicates)]
    return verdicts.count("fail") / replicates, verdicts.count("pass") / replicates


# Designs whose printed detectable figure is checked, per check (the figure must be reachable from them).
OTHER_POWER = {
    "same_person_consistency": (
        Design(30, "6", 0.0, 0.0),
        Design(100, "6", 0.3, 0.1),
        Design(100, "2-40", 0.0, 0.1),
        Design(100, "2 or 40", 0.3, 0.0),
    ),
    "confidence_calibration": (
        Design(100, "5", 0.3, 0.9),
        Design(300, "1", 0.0, 0.95),
        Design(100, "1-40", 0.3, 0.9),
        Design(300, "1 or 40", 0.3, 0.9),
    ),
    "nonbinary_representability": (
        Design(100, "1", 0.0, 0.0),
        Design(100, "5", 0.3, 0.0),
        Design(300, "1-40", 0.3, 0.0),
    ),
}


def other_power(check_id: str, design: Design, replicates: int, rng: np.random.Generator) -> tuple[float, int, float]:
    """As :func:`power_at_printed_gap` for the other checks: (share failing at X, replicates printing X, median X)."""
    import numpy as np

    caught, printed = 0, []
    for _ in range(replicates):
        first, photos = other_check(check_id, design, rng)
        (c,) = first.comparisons
        if c.verdict != "inconclusive" or c.min_detectable is None:
            continue
        try:
            again, _ = other_check(check_id, design, rng, figure=c.min_detectable, photos=photos)
        except ValueError:
            continue  # a figure the design cannot reach, as a rate above 1 for misgender_gap
        printed.append(c.min_detectable)
        caught += again.verdict == "fail"
    if not printed:
        return math.nan, 0, math.nan
    return caught / len(printed), len(printed), float(np.median(printed))


EXACT_SIZES = (10, 20, 50, 100, 300)
EXACT_STEP = 0.01  # rates 0 to 1 - tolerance in steps of this (a step of 0.05 missed the worst wrong fail)
EXACT_CONFIDENCES = (0.95, 0.99, 0.8)


def exact_error_rates(method: str, confidence: float = 0.95) -> tuple[float, str, float, str]:
    """One photo a person: every outcome summed, (largest wrong fail, where, largest wrong pass, where).

    For each pair of group sizes and each pair of true rates a tolerance apart (either group the
    higher, the lower on a grid of ``EXACT_STEP``), every outcome table's verdict weighted by its
    binomial probability. No sampling: the figures are the procedure's error rates themselves.
    Each group's one-sided limits are the kit's own (``rate_bounds`` of a ``clustered_rate``, one
    unit a person, so both views agree), joined by Newcombe's rule as ``gap_bounds`` joins them
    (checked against ``gap_bounds`` on a sample of tables). The verdict rule is the kit's for one
    comparison: ``fail`` when the gap's bound on ``FAIL_LIMITS`` at one-sided alpha / 2 lies beyond
    the tolerance (twice the smaller one-sided p at most alpha), else ``pass`` when its interval on
    ``method`` at one-sided alpha lies within it.
    """
    import numpy as np
    from scipy.stats import binom

    from conformance.stats import FAIL_LIMITS, clustered_rate, gap_bounds, rate_bounds

    alpha = (1.0 - confidence) / 2.0

    def limits(n: int, level: float, limits_method: str) -> tuple[npt.NDArray[np.float64], ...]:
        """(estimate, lower, upper) of x / n for every x, on the kit's rate_bounds."""
        rates = [clustered_rate(np.r_[np.ones(x), np.zeros(n - x)], np.ones(n)) for x in range(n + 1)]
        bounds = np.array([rate_bounds(r, level, limits_method) for r in rates])
        return np.arange(n + 1) / n, bounds[:, 0], bounds[:, 1]

    def newcombe(
        one: tuple[npt.NDArray[np.float64], ...], two: tuple[npt.NDArray[np.float64], ...]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        (pa, la, ua), (pb, lb, ub) = ([v[:, None] for v in one], [v[None, :] for v in two])
        d = pa - pb
        low = np.maximum(d - np.hypot(pa - la, ub - pb), -1.0)
        high = np.minimum(d + np.hypot(ua - pa, pb - lb), 1.0)
        return low, high

    rng = np.random.default_rng(0)
    worst_fail, worst_pass = (0.0, ""), (0.0, "")
    bases = np.round(np.arange(0.0, 1.0 - TOLERANCE + 1e-9, EXACT_STEP), 4)
    cache: dict[tuple[int, float, str], tuple[npt.NDArray[np.float64], ...]] = {}

    def group(n: int, level: float, limits_method: str) -> tuple[npt.NDArray[np.float64], ...]:
        if (n, level, limits_method) not in cache:
            cache[n, level, limits_method] = limits(n, level, limits_method)
        return cache[n, level, limits_method]

    for n1, n2 in itertools.product(EXACT_SIZES, EXACT_SIZES):
        fail_low, fail_high = newcombe(group(n1, alpha / 2, FAIL_LIMITS), group(n2, alpha / 2, FAIL_LIMITS))
        low, high = newcombe(group(n1, alpha, method), group(n2, alpha, method))
        # The vectorised Newcombe rule is gap_bounds' own: a few tables checked against it.
        for x1, x2 in zip(rng.integers(0, n1 + 1, 5), rng.integers(0, n2 + 1, 5), strict=True):
            a = clustered_rate(np.r_[np.ones(x1), np.zeros(n1 - x1)], np.ones(n1))
            b = clustered_rate(np.r_[np.ones(x2), np.zeros(n2 - x2)], np.ones(n2))
            assert np.allclose(gap_bounds(a, b, alpha, method), (low[x1, x2], high[x1, x2]), atol=1e-12)
        fails = (fail_low > TOLERANCE) | (fail_high < -TOLERANCE)
        passes = ~fails & (low >= -TOLERANCE) & (high <= TOLERANCE)
        for base in bases:
            for p1, p2 in ((base + TOLERANCE, base), (base, base + TOLERANCE)):
                p1, p2 = min(1.0, round(float(p1), 4)), min(1.0, round(float(p2), 4))
                weight = binom.pmf(np.arange(n1 + 1), n1, p1)[:, None] * binom.pmf(np.arange(n2 + 1), n2, p2)[None, :]
                fail, passed = float(weight[fails].sum()), float(weight[passes].sum())
                where = f"{n1} against {n2} people at {p1:.2f} against {p2:.2f}"
                worst_fail = max(worst_fail, (fail, where))
                worst_pass = max(worst_pass, (passed, where))
    return worst_fail[0], worst_fail[1], worst_pass[0], worst_pass[1]


def exact_table() -> list[str]:
    """The exact section's Markdown: every limits method at every confidence of ``EXACT_CONFIDENCES``."""
    lines = [
        f"Every outcome summed (no sampling) for group sizes {', '.join(map(str, EXACT_SIZES))} each side and the "
        f"lower rate 0 to {1 - TOLERANCE:g} in steps of {EXACT_STEP:g}, either group the higher, at a true gap equal "
        "to the tolerance; the fail test on Clopper-Pearson limits under either interval:",
        "",
        "| limits | confidence | stated (each direction) | largest wrong fail | at | largest wrong pass | at |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for confidence in EXACT_CONFIDENCES:
        for method in ("clopper-pearson", "wilson"):
            fail, fail_at, passed, pass_at = exact_error_rates(method, confidence)
            fail_at, pass_at = (fail_at if fail else "nowhere"), (pass_at if passed else "nowhere")
            stated = (1 - confidence) / 2
            lines.append(
                f"| {method} | {confidence:g} | {stated:.3g} | {fail:.4f} | {fail_at} | {passed:.4f} | {pass_at} |"
            )
            print(lines[-1], file=sys.stderr, flush=True)
    return lines


def se(rate: float, n: int) -> float:
    """Monte Carlo standard error of an estimated rate (at the nominal rate when the estimate is 0)."""
    p = max(rate, ALPHA) if rate < ALPHA else rate
    return math.sqrt(p * (1 - p) / n) if n else math.nan


def power_sections(
    people: Sequence[int], replicates: int, rng: np.random.Generator, *, quick: bool = False
) -> list[str]:
    """The two power sections' Markdown (misgender_gap's printed detectable gap, the other checks' figures)."""
    import numpy as np

    lines = [
        "",
        "## Power at the printed detectable gap",
        "",
        'Data at a true gap of the tolerance; where the verdict is inconclusive, the printed figure X ("a true gap of X '
        f'would fail with 80% power"); new outcomes for the same people at a true gap of X. {replicates} '
        "replicates a design; the share failing should be about 0.8.",
        "",
        "| people a group | photos a person | ICC | reference rate | printed X (median) | replicates printing one | share failing at X |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    powered = [Design(k, m, icc, p) for k, m, icc, p in itertools.product(people, PHOTOS, ICCS, (0.05,))]
    if quick:
        powered = powered[:2]
    shares = []
    for design in powered:
        share, count, median = power_at_printed_gap(design, replicates, rng)
        if count:
            shares.append(share)
        lines.append(f"{design.label()} {median:.3f} | {count} | {share:.3f} |")
        print(lines[-1], file=sys.stderr, flush=True)
    if shares:
        lines += [
            "",
            f"Share failing at the printed figure: median {float(np.median(shares)):.3f}, "
            f"from {min(shares):.3f} to {max(shares):.3f} over {len(shares)} designs.",
        ]
    lines += [
        "",
        "## Power at the printed detectable figure, the other gender checks",
        "",
        "As above, for the other checks' printed figure (nonbinary_representability: the true share itself), the same "
        f"people drawn again at it; {replicates} replicates a design.",
        "",
        "| check | people a group | photos a person | ICC | reference figure | printed X (median) | replicates printing one "
        "| share failing at X |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for check_id, check_designs in OTHER_POWER.items():
        for design in check_designs[:1] if quick else check_designs:
            share, count, median = other_power(check_id, design, replicates, rng)
            lines.append(f"| {check_id} {design.label()} {median:.3f} | {count} | {share:.3f} |")
            print(lines[-1], file=sys.stderr, flush=True)
    return lines


RERUN = "Power sections rerun: "


def rerun_power(
    path: Path, argv: Sequence[str], people: Sequence[int], replicates: int, seed: int, *, quick: bool = False
) -> str:
    """A results file with its two power sections made again by the code as it is now, and a line saying so."""
    import numpy as np

    started = time.perf_counter()
    text = path.read_text(encoding="utf-8")
    fresh = power_sections(people, replicates, np.random.default_rng(seed), quick=quick)
    sections = text.split("\n## ")
    kept = [part for part in sections if not part.startswith("Power at the printed detectable")]
    ahead = [i for i, part in enumerate(kept) if part.startswith("The other gender checks")]
    if len(kept) != len(sections) - 2 or len(ahead) != 1:
        raise SystemExit(f"{path}: not a results file of this script with both power sections; run it in full")
    power = "\n".join(fresh).strip("\n").removeprefix("## ").split("\n## ")
    kept[ahead[0] : ahead[0]] = [part.rstrip("\n") + "\n" for part in power]
    head = [line for line in kept[0].splitlines() if not line.startswith(RERUN)]
    at = next(i for i, line in enumerate(head) if line.startswith("Policy: "))
    note = (
        f"{RERUN}`python benchmarks/verdict_error_rates.py {' '.join(argv)}` (the detectable figures changed after "
        f"the run above; {code_line()}; {time.perf_counter() - started:.0f} s; seed {seed})"
    )
    head[at + 1 : at + 1] = ["", note]
    kept[0] = "\n".join(head) + "\n"
    return "\n## ".join(part.rstrip("\n") + "\n" for part in kept).rstrip("\n") + "\n"


# -- the methodology page's tables, made from a results file ----------------------------------------------
# docs/explanation/methodology.md quotes this script's results between <!-- regen:verdict-error-rates -->
# and <!-- regen:end -->; scripts/regen_docs.py writes that block with docs_section, and
# tests/test_verdict_error_rates.py fails when the page and the results file disagree.

RESULTS = Path(__file__).resolve().parent / "verdict-error-rates.md"


def _sections(results: str) -> dict[str, list[str]]:
    """The results file's lines by ``## `` heading (the lines before the first under ``""``)."""
    out: dict[str, list[str]] = {"": []}
    current = ""
    for line in results.splitlines():
        if line.startswith("## "):
            current = line[3:]
            out[current] = []
        else:
            out[current].append(line)
    return out


def _section(sections: dict[str, list[str]], start: str) -> list[str]:
    found = [lines for heading, lines in sections.items() if heading.startswith(start)]
    if len(found) != 1:
        raise ValueError(f"the results file has {len(found)} sections starting {start!r}; rerun the script")
    return found[0]


def _rows(lines: list[str]) -> list[list[str]]:
    """The cells of a section's Markdown table rows (header and rule left out)."""
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines if line.startswith("| ")]
    return cells[1:]


def _table(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("|")]


def _starting(lines: list[str], prefix: str) -> str:
    found = [line for line in lines if line.startswith(prefix)]
    if len(found) != 1:
        raise ValueError(f"the results file has {len(found)} lines starting {prefix!r}; rerun the script")
    return found[0]


def docs_section(results: str) -> list[str]:
    """The Markdown that methodology.md shows of a results file: summaries, then every figure behind them."""
    import re

    sections = _sections(results)
    head = sections[""]
    two = _section(sections, "Wrong verdicts")
    three = _section(sections, "Three groups")
    power = _section(sections, "Power at the printed detectable gap")
    other_power = _section(sections, "Power at the printed detectable figure")
    other = _section(sections, "The other gender checks")
    exact = _section(sections, "Exact")
    command = _starting(head, "Command: ").removeprefix("Command: ").strip("`")
    seconds = _starting(exact, "Run time: ").removeprefix("Run time: ").removesuffix(" s.")
    policy = _starting(head, "Policy: ")
    replicates = int(re.search(r"(\d+) replicates a design", policy).group(1))  # type: ignore[union-attr]
    power_replicates = int(re.search(r"(\d+) replicates a design", " ".join(power)).group(1))  # type: ignore[union-attr]

    worst: dict[tuple[str, str], tuple[float, float, int]] = {}
    for people, photos, _icc, _base, fail, passed in _rows(two):
        old = worst.get((people, photos), (0.0, 0.0, 0))
        worst[people, photos] = (max(old[0], float(fail)), max(old[1], float(passed)), old[2] + 1)
    designs = {count for *_, count in worst.values()}
    summary = [
        "| people a group | photos a person | largest wrong fail | largest wrong pass |",
        "|---:|---:|---:|---:|",
        *(
            f"| {people} | {photos} | {fail:.3f} | {passed:.3f} |"
            for (people, photos), (fail, passed, _) in worst.items()
        ),
    ]
    by_check: dict[str, tuple[float, float, int]] = {}
    for check_id, *_design, fail, passed in _rows(other):
        old = by_check.get(check_id, (0.0, 0.0, 0))
        by_check[check_id] = (max(old[0], float(fail)), max(old[1], float(passed)), old[2] + 1)
    bound = ALPHA + 2 * se(ALPHA, replicates)
    above = [
        f"- `{check_id}` {' | '.join(design)}: wrong {name} {rate}"
        for check_id, *design, fail, passed in _rows(other)
        for name, rate in (("fail", fail), ("pass", passed))
        if float(rate) > bound
    ]
    power_se = math.sqrt(0.8 * 0.2 / power_replicates)
    return [
        f"Command: `{command}` ({int(seconds):,} s; every figure in "
        "[benchmarks/verdict-error-rates.md](../../benchmarks/verdict-error-rates.md)).",
        *(["", *[line for line in head if line.startswith(RERUN)]] if any(x.startswith(RERUN) for x in head) else []),
        "",
        _starting(head, "Machine: "),
        "",
        policy,
        "",
        f"**Two groups.** The largest wrong-verdict rate over the {'/'.join(map(str, sorted(designs)))} designs "
        "(ICCs × reference rates) of each size and photo count:",
        "",
        *summary,
        "",
        _starting(two, "Largest wrong-fail rate"),
        *[line for line in two if line.startswith("- ")],
        "",
        "<details><summary>Every design (two groups)</summary>",
        "",
        *_table(two),
        "",
        "</details>",
        "",
        "**Three groups**, every two compared (Holm over 3 comparisons for fail): rates `p`, `p + 0.025` and "
        "`p + 0.05`, so every gap is within the tolerance and one equals it; a fail anywhere and a pass are both "
        f"wrong ({replicates:,} replicates a design).",
        "",
        *_table(three),
        "",
        "**The other gender checks**, each at a true figure on its tolerance. "
        + " ".join(line for line in other if line and not line.startswith(("|", "Largest", "Designs above", "- "))),
        "",
        "| check | designs | largest wrong fail | largest wrong pass |",
        "|---|---:|---:|---:|",
        *(f"| `{c}` | {n} | {fail:.3f} | {passed:.3f} |" for c, (fail, passed, n) in by_check.items()),
        "",
        f"Designs of these checks above {ALPHA:g} + 2 standard errors ({bound:.3f}): {len(above) or 'none'}.",
        *above,
        "",
        "<details><summary>Every design (the other gender checks)</summary>",
        "",
        *_table(other),
        "",
        "</details>",
        "",
        "**The detectable gap, checked.** Draw data at a true gap equal to the tolerance; where the verdict is "
        'inconclusive, read the printed figure X ("with this data a true gap of X would fail with 80% power"); '
        "keep those people and their photo counts, draw new outcomes at a true gap of X, and count the fails "
        f"({power_replicates:,} replicates a design, reference rate 0.05; Monte Carlo standard error about "
        f"{power_se:.2f} at 0.8):",
        "",
        *_table(power),
        "",
        _starting(power, "Share failing at the printed figure"),
        "",
        "The same for the other gender checks' printed figure (for `nonbinary_representability` the true share "
        "itself), in designs where it can be reached:",
        "",
        *_table(other_power),
        "",
        "**Exact, one photo a person.** " + _starting(exact, "Every outcome summed"),
        "",
        *_table(exact),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replicates", type=int, default=1000, help="replicates per design (error rates)")
    parser.add_argument("--power-replicates", type=int, default=400, help="replicates per design (power)")
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--people", default=",".join(map(str, PEOPLE)), help="people per group, comma-separated")
    parser.add_argument("--quick", action="store_true", help="a few designs only (the smoke test's run)")
    parser.add_argument("--out", type=Path, help="also write the Markdown results here")
    parser.add_argument("--exact-only", action="store_true", help="only the exact table (one photo a person)")
    parser.add_argument(
        "--power-only",
        action="store_true",
        help="make the two power sections of the results file --out again (after a change to the detectable figures)",
    )
    args = parser.parse_args(argv)
    if args.power_only:
        if args.out is None or not args.out.exists():
            parser.error("--power-only rewrites the power sections of an existing results file: name it with --out")
        people = tuple(int(x) for x in args.people.split(","))
        text = rerun_power(
            args.out,
            list(argv if argv is not None else sys.argv[1:]),
            people,
            args.power_replicates,
            args.seed,
            quick=args.quick,
        )
        args.out.write_text(text, encoding="utf-8")
        print(text)
        return 0
    if args.exact_only:
        print("\n".join(exact_table()))
        return 0
    people = tuple(int(x) for x in args.people.split(","))
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    designs = [Design(k, m, icc, p) for k, m, icc, p in itertools.product(people, PHOTOS, ICCS, BASES)]
    if args.quick:
        designs = designs[:: max(1, len(designs) // 4)]
    lines = [
        "# Verdict error rates and the detectable gap: Monte Carlo",
        "",
        f"Command: `python benchmarks/verdict_error_rates.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        "",
        f"Machine: {machine_line([('numpy', 'numpy'), ('scipy', 'scipy'), ('statsmodels', 'statsmodels')])}; {code_line()}",
        "",
        f"Policy: the default (confidence {POLICY.confidence:g}, tolerance {TOLERANCE:g}, `{POLICY.interval}` limits, "
        f"`{POLICY.direction}`, min_subjects {POLICY.min_subjects}); each verdict direction is stated at one-sided "
        f"{ALPHA:g}. {args.replicates} replicates a design, seed {args.seed}.",
        "",
        "## Wrong verdicts at a true gap equal to the tolerance (two groups)",
        "",
        "| people a group | photos a person | ICC | reference rate | wrong fail | wrong pass |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    worst_fail = worst_pass = 0.0
    over: list[str] = []
    for design in designs:
        fail, passed = error_rates(design, args.replicates, rng)
        worst_fail, worst_pass = max(worst_fail, fail), max(worst_pass, passed)
        for name, rate in (("fail", fail), ("pass", passed)):
            if rate > ALPHA + 2 * se(ALPHA, args.replicates):
                over.append(f"{design.label()} wrong {name} {rate:.3f}")
        lines.append(f"{design.label()} {fail:.3f} | {passed:.3f} |")
        print(lines[-1], file=sys.stderr, flush=True)
    bound = ALPHA + 2 * se(ALPHA, args.replicates)
    lines += [
        "",
        f"Largest wrong-fail rate {worst_fail:.3f}, largest wrong-pass rate {worst_pass:.3f}, over {len(designs)} "
        f"designs; Monte Carlo standard error at {ALPHA:g}: {se(ALPHA, args.replicates):.4f}. "
        f"Designs above {ALPHA:g} + 2 standard errors ({bound:.3f}): {len(over) or 'none'}.",
        *([""] + [f"- {row}" for row in over] if over else []),
        "",
        "## Three groups, every two compared: familywise",
        "",
        "Rates `p`, `p + 0.025`, `p + 0.05`: a fail anywhere is wrong (Holm over 3 comparisons), and so is a pass.",
        "",
        "| people a group | photos a person | ICC | lowest rate | any wrong fail | wrong pass |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    three = [
        Design(k, m, icc, p) for k, m, icc, p in itertools.product(people, ("1", "5", "1-40"), (0.0, 0.3), (0.05,))
    ]
    if args.quick:
        three = three[:2]
    for design in three:
        fail, passed = error_rates(design, args.replicates, rng, three=True)
        lines.append(f"{design.label()} {fail:.3f} | {passed:.3f} |")
        print(lines[-1], file=sys.stderr, flush=True)
    lines += power_sections(people, args.power_replicates, rng, quick=args.quick)
    lines += [
        "",
        "## The other gender checks: wrong verdicts at a true figure on the tolerance",
        "",
        "same_person_consistency: each person wrong on each photo with their own probability (beta, the ICC), the "
        "reference figure the mean share of a person's photo pairs given different labels, the other group's the "
        f"tolerance more. confidence_calibration: the reference figure its accuracy; confidence {RIGHT_CONFIDENCE:g} "
        f"when right and {WRONG_CONFIDENCE:g} when wrong on average (beta, concentration {CONFIDENCE_SPREAD:g}); the "
        "other group's accuracy lower so that its overconfidence is the tolerance more. nonbinary_representability: "
        "one group of nonbinary people, each given a binary label on a photo with their own probability, the mean "
        "the tolerance (the reference figure column is unused). A fail and a pass are both wrong.",
        "",
        "| check | people a group | photos a person | ICC | reference figure | wrong fail | wrong pass |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    others = {"same_person_consistency": CONSISTENCY, "confidence_calibration": CALIBRATION}
    others["nonbinary_representability"] = REPRESENTABILITY
    other_worst = dict.fromkeys(others, (0.0, 0.0))
    for check_id, check_designs in others.items():
        for design in check_designs[:: max(1, len(check_designs) // 3)] if args.quick else check_designs:
            fail, passed = other_error_rates(check_id, design, args.replicates, rng)
            worst = other_worst[check_id]
            other_worst[check_id] = (max(worst[0], fail), max(worst[1], passed))
            for name, rate in (("fail", fail), ("pass", passed)):
                if rate > ALPHA + 2 * se(ALPHA, args.replicates):
                    over.append(f"{check_id} {design.label()} wrong {name} {rate:.3f}")
            lines.append(f"| {check_id} {design.label()} {fail:.3f} | {passed:.3f} |")
            print(lines[-1], file=sys.stderr, flush=True)
    lines += [""]
    lines += [
        f"Largest for {name}: wrong fail {fail:.3f}, wrong pass {passed:.3f}."
        for name, (fail, passed) in other_worst.items()
    ]
    lines += ["", f"Designs above {ALPHA:g} + 2 standard errors ({bound:.3f}), every section: {len(over) or 'none'}."]
    lines += [f"- {row}" for row in over]
    if not args.quick:
        lines += ["", "## Exact, one photo a person", "", *exact_table()]
    lines += ["", f"Run time: {time.perf_counter() - started:.0f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
