"""Coverage of per-group FMR intervals in an all-pairs 1:1 design: one-way vs two-way resampling.

    python benchmarks/matching_coverage.py --reps 300 --out benchmarks/matching-coverage-results.md

Each repetition draws ``--people`` people per group (two groups, one photo each) and scores every
ordered pair of different people symmetrically, as embedding similarities are:

    s_ij = s_ji = a_i + a_j + e_ij,   a_i ~ N(delta_g(i), sd_person^2),   e_ij ~ N(0, 1)

so a person with a high ``a`` scores high as probe *and* as reference: the two-way dependence of
real galleries. Group b's people sit ``--shift`` higher (more false matches). The true FMR of
probe group g at threshold t, given the design's group sizes, is analytic:

    FMR_g(t) = sum_h share_h(g) * (1 - Phi((t - delta_g - delta_h) / sqrt(2 sd_person^2 + 1)))

where share_h(g) is the fraction of g's impostor comparisons whose reference is in group h.
Thresholds are set where the whole population's FMR is 1e-2 and 1e-3. Per repetition, group and
threshold, three 95% intervals are checked for containing the truth:

- **comparisons independent**: Clopper-Pearson on false matches / impostor comparisons;
- **one-way bootstrap**: probe people resampled within their group, references held fixed
  (what a subject bootstrap over probes does);
- **kit**: the per-group interval of ``conformance.checks.biometrics.false_match_differential`` on
  ``conformance.pairwise.compare_listed``: people resampled once, each comparison weighted
  ``w_probe x w_reference`` (``conformance.pairstats.replicates``).

Seeded; one repetition's numbers depend only on ``--seed`` and its index.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import code_line, machine_line


def truth(t: float, deltas: tuple[float, float], people: int, sd: float) -> list[float]:
    from scipy.stats import norm

    scale = math.sqrt(2 * sd * sd + 1.0)
    out = []
    for g in range(2):
        others = [people - 1 if h == g else people for h in range(2)]
        total = sum(others)
        out.append(sum(others[h] / total * (1 - norm.cdf((t - deltas[g] - deltas[h]) / scale)) for h in range(2)))
    return out


def population_threshold(fmr: float, deltas: tuple[float, float], people: int, sd: float) -> float:
    from scipy.optimize import brentq

    def gap(t: float) -> float:
        rates = truth(t, deltas, people, sd)
        return (rates[0] + rates[1]) / 2 - fmr

    return float(brentq(gap, -10, 20))


def one_rep(index: int, args: argparse.Namespace, thresholds: list[float]) -> list[tuple[str, int, int, bool]]:
    """(method, threshold index, group, covered) for one repetition."""
    import numpy as np

    from conformance import stats
    from conformance.checks import biometrics
    from conformance.pairwise import compare_listed
    from conformance.policy import Policy

    rng = np.random.default_rng([args.seed, index])
    n = 2 * args.people
    group = np.repeat([0, 1], args.people)
    deltas = (0.0, args.shift)
    a = rng.normal(np.asarray(deltas)[group], args.sd_person)
    e = rng.normal(size=(n, n))
    e = np.triu(e, 1)
    e = e + e.T  # symmetric noise: s_ij = s_ji
    scores = a[:, None] + a[None, :] + e
    probe, reference = np.nonzero(~np.eye(n, dtype=bool))
    counts = compare_listed(
        probe,
        reference,
        scores[probe, reference],
        photo_group=group,
        photo_subject=np.arange(n),
        acquired=np.ones(n, dtype=bool),
        groups=["a", "b"],
        subjects=[str(i) for i in range(n)],
        stated=tuple(thresholds),
    )
    policy = Policy(bootstrap=args.resamples, min_subjects=1)
    kit = biometrics.false_match_differential(
        counts, reference="a", policy=policy, seed=index, thresholds=tuple(thresholds), targets=()
    )
    out = []
    for k, t in enumerate(thresholds):
        true = truth(t, deltas, args.people, args.sd_person)
        above = scores >= t
        np.fill_diagonal(above, False)
        for g, name in enumerate(("a", "b")):
            rows = group == g
            fm_p = above[rows].sum(axis=1).astype(float)  # false matches of each probe person
            n_p = np.full(rows.sum(), n - 1.0)
            # Comparisons independent: exact binomial interval.
            lo, hi = stats.proportion_interval(int(fm_p.sum()), int(n_p.sum()), 0.95, "clopper-pearson")
            out.append(("comparisons independent", k, g, lo <= true[g] <= hi))
            # One-way: resample the group's probe people; references fixed.
            picks = rng.integers(0, fm_p.size, size=(args.resamples, fm_p.size))
            boot = fm_p[picks].sum(axis=1) / n_p[picks].sum(axis=1)
            lo, hi = np.quantile(boot, [0.025, 0.975])
            out.append(("one-way bootstrap (probe people)", k, g, bool(lo <= true[g] <= hi)))
            ci = kit[k].groups[name].ci
            out.append(
                (
                    "kit: two-way bootstrap widened to exact and effective-size bounds",
                    k,
                    g,
                    ci is not None and ci[0] <= true[g] <= ci[1],
                )
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--people", type=int, default=150, help="people per group")
    parser.add_argument("--sd-person", type=float, default=0.5)
    parser.add_argument("--shift", type=float, default=0.25)
    parser.add_argument("--resamples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    targets = (1e-2, 1e-3)
    deltas = (0.0, args.shift)
    thresholds = [population_threshold(f, deltas, args.people, args.sd_person) for f in targets]
    started = time.perf_counter()
    tally: dict[tuple[str, int, int], list[bool]] = {}
    for index in range(args.reps):
        for method, k, g, covered in one_rep(index, args, thresholds):
            tally.setdefault((method, k, g), []).append(covered)
    elapsed = time.perf_counter() - started
    methods = sorted({m for m, _, _ in tally}, key=lambda m: ("independent" not in m, "kit" in m, m))
    lines = [
        "## Coverage of per-group FMR intervals, all-pairs 1:1 design (nominal 95%)",
        "",
        f"Command: `python benchmarks/matching_coverage.py --reps {args.reps} --people {args.people} "
        f"--sd-person {args.sd_person} --shift {args.shift} --resamples {args.resamples} --seed {args.seed}` "
        f"({elapsed:.0f} s)",
        "",
        f"Machine: {machine_line([('numpy', 'numpy'), ('scipy', 'scipy')])}",
        "",
        f"Code: {code_line()}",
        "",
        f"Two groups of {args.people} people, one photo each, every ordered pair of different people scored "
        f"symmetrically; person effect sd {args.sd_person} (as probe and as reference alike), group b shifted "
        f"{args.shift}; {args.reps} repetitions, {args.resamples} resamples. Standard error of a coverage near "
        f"95%: about {math.sqrt(0.95 * 0.05 / args.reps):.3f}.",
        "",
        "| interval | " + " | ".join(f"FMR {f:g}, group {g}" for f in targets for g in ("a", "b")) + " |",
        "|---|" + "---:|" * (2 * len(targets)),
    ]
    for method in methods:
        cells = [
            f"{sum(tally[(method, k, g)]) / len(tally[(method, k, g)]):.3f}"
            for k in range(len(targets))
            for g in range(2)
        ]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
