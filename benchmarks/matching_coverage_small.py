"""Coverage of per-group FMR and FNMR intervals in small all-pairs 1:1 designs: few people, several photos each.

    python benchmarks/matching_coverage_small.py --reps 200 --out benchmarks/matching-coverage-small-results.md
    python benchmarks/matching_coverage_small.py --reps 1000 --designs 20x2,12x4,40x2 --sd-person 1.0 \
        --out benchmarks/matching-coverage-small-results.md --append

Two groups, ``people`` people each with ``photos`` photos; every ordered pair of photos is scored
symmetrically (one score per pair of photos, as embedding similarities are):

    impostor (person p, person r):  s = a_p + a_r + e,   a_p ~ N(delta_g(p), sd_person^2)
    genuine (two photos of p):      s = mu + b_p + e,    b_p ~ N(0, sd_genuine^2)
    e ~ N(0, 1), independent per pair of photos

so a person with a high ``a`` scores high as probe and as reference (two-way dependence), and a person
with a low ``b`` misses on all of their own pairs (one-way clustering of FNMR). Group b sits ``shift``
higher. Truths are analytic at threshold t (shares of a probe photo's impostor references by group):

    FMR_g(t) = sum_h share_h(g) * (1 - Phi((t - delta_g - delta_h) / sqrt(2 sd_person^2 + 1)))
    FNMR(t)  = Phi((t - mu) / sqrt(sd_genuine^2 + 1))

Thresholds are stated where the population FMR is 1e-2 and 1e-3; ``mu`` puts FNMR at 0.05 at the first.
Per repetition, group and threshold two 95% intervals are checked for containing the truth:

- **two-way percentile bootstrap alone**: the 2.5% and 97.5% points of the two-way resamples
  (``conformance.pairstats.replicates``), the kit's per-group interval before issue 16's red team;
- **kit**: the per-group interval of ``false_match_differential`` / ``false_non_match_differential``
  (FMR: the bootstrap widened to Clopper-Pearson on distinct people-pairs; FNMR: Clopper-Pearson on the
  effective number of people).

- **kit, worst case below 5 df (counterfactual)**, FMR only: the same check if the pairwise FMR's
  two-way reading followed the rule people's own photos follow, a variance on fewer than 5 degrees of
  freedom read at its worst case (``ClusteredRate.few_df_worst_case``), which the pairwise FMR is exempt
  from.

A second table sorts each group's FMR interval by how many people take part in its false matches, with
the kit's coverage and the counterfactual's: whether the exemption keeps the coverage when only a few
people show a false match. ``--sd-person 1.0`` concentrates false matches on fewer people.

Seeded; one repetition's numbers depend only on ``--seed``, the design and its index.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import code_line, machine_line

DESIGNS = {"12x15": (12, 15), "30x5": (30, 5), "60x3": (60, 3), "20x2": (20, 2), "12x4": (12, 4), "40x2": (40, 2)}
TARGETS = (1e-2, 1e-3)
# The kit's check with the pairwise FMR's two-way reading at its worst case below 5 degrees of freedom (FMR only).
COUNTERFACTUAL = "kit, worst case below 5 df (counterfactual)"
# The people behind a group's false matches, as the few-people table counts them. A false match takes two
# people (probe and reference), so 2 is the fewest; 2 to 4 is where the exemption could matter.
FEW = ("2", "3", "4", "5-9", "10+")


def fmr_truth(t: float, deltas: tuple[float, float], people: int, photos: int, sd: float) -> list[float]:
    from scipy.stats import norm

    scale = math.sqrt(2 * sd * sd + 1.0)
    out = []
    for g in range(2):
        others = [(people - 1) * photos if h == g else people * photos for h in range(2)]
        total = sum(others)
        out.append(sum(others[h] / total * (1 - norm.cdf((t - deltas[g] - deltas[h]) / scale)) for h in range(2)))
    return out


def thresholds_for(
    deltas: tuple[float, float], people: int, photos: int, sd: float, targets: tuple[float, ...] = TARGETS
) -> list[float]:
    from scipy.optimize import brentq

    def at(f: float) -> float:
        return float(brentq(lambda t: sum(fmr_truth(t, deltas, people, photos, sd)) / 2 - f, -10, 20))

    return [at(f) for f in targets]


def _worst_case_below_5_df(two_way_rates: Any, counts: Any, t: float) -> list[Any]:
    """``pairstats.two_way_rates`` without the pairwise exemption: below 5 degrees of freedom, the worst case.

    The counterfactual column of the few-people table: what the kit's interval would be if the pairwise
    FMR followed the rule people's own photos follow (``stats.ClusteredRate.few_df_worst_case``).
    """
    from dataclasses import replace

    return [None if r is None else replace(r, few_df_worst_case=True) for r in two_way_rates(counts, t)]


def _showing(probe: Any, reference: Any, hit: Any, subject: Any, group: Any, g: int) -> int:
    """How many people take part in group ``g``'s false matches (as probe or as reference)."""
    import numpy as np

    mine = hit & (group[probe] == g)
    return int(np.unique(np.concatenate([subject[probe[mine]], subject[reference[mine]]])).size)


def _bucket(people: int) -> str:
    return FEW[min(people, 5) - 2] if people < 10 else FEW[-1]


Covered = tuple[str, str, int, int, bool]
# (threshold index, group, people in its false matches, degrees of freedom below 5, kit covered,
# covered with the worst case below 5 degrees of freedom)
Few = tuple[int, int, str, bool, bool, bool]


def one_rep(
    index: int, args: argparse.Namespace, people: int, photos: int, thresholds: list[float], mu: float
) -> tuple[list[Covered], list[Few]]:
    """(method, rate, threshold index, group, covered) for one repetition, and its FMR rows by people showing."""
    from unittest import mock

    import numpy as np
    from scipy.stats import norm

    from conformance import pairstats
    from conformance.checks import biometrics
    from conformance.pairstats import replicates
    from conformance.pairwise import compare_listed
    from conformance.policy import Policy

    rng = np.random.default_rng([args.seed, people, photos, index])
    persons = 2 * people
    subject = np.repeat(np.arange(persons), photos)
    group = (subject >= people).astype(np.int64)
    deltas = (0.0, args.shift)
    a = rng.normal(np.asarray(deltas)[group[::photos]], args.sd_person)
    b = rng.normal(0.0, args.sd_genuine, persons)
    n = subject.size
    noise = np.triu(rng.normal(size=(n, n)), 1)
    noise = noise + noise.T
    same = subject[:, None] == subject[None, :]
    scores = np.where(same, mu + b[subject][:, None], a[subject][:, None] + a[subject][None, :]) + noise
    probe, reference = np.nonzero(~np.eye(n, dtype=bool))
    counts = compare_listed(
        probe,
        reference,
        scores[probe, reference],
        photo_group=group,
        photo_subject=subject,
        acquired=np.ones(n, dtype=bool),
        groups=["a", "b"],
        subjects=[str(i) for i in range(persons)],
        stated=tuple(thresholds),
    )
    policy = Policy(bootstrap=args.resamples, min_subjects=1)
    kw = {"reference": "a", "policy": policy, "seed": index, "thresholds": tuple(thresholds), "targets": ()}
    fmr = biometrics.false_match_differential(counts, **kw)  # type: ignore[arg-type]
    fnmr = biometrics.false_non_match_differential(counts, **kw)  # type: ignore[arg-type]
    boot = replicates(counts, thresholds, resamples=args.resamples, seed=index)
    # The same check with the pairwise FMR read at its worst case below 5 degrees of freedom (as people's own
    # photos are); the check imports two_way_rates when it runs, so replacing the module's name reaches it.
    kept = pairstats.two_way_rates
    with mock.patch.object(pairstats, "two_way_rates", functools.partial(_worst_case_below_5_df, kept)):
        worst = biometrics.false_match_differential(counts, **kw)  # type: ignore[arg-type]
    out: list[Covered] = []
    few: list[Few] = []
    for k, t in enumerate(thresholds):
        truths = {
            "FMR": fmr_truth(t, deltas, people, photos, args.sd_person),
            "FNMR": [float(norm.cdf((t - mu) / math.sqrt(args.sd_genuine**2 + 1)))] * 2,
        }
        for rate, results, resampled in (("FMR", fmr, boot.fmr()), ("FNMR", fnmr, boot.fnmr())):
            for g, name in enumerate(("a", "b")):
                truth = truths[rate][g]
                lo, hi = np.quantile(resampled[:, k, g], [0.025, 0.975])
                out.append(("two-way percentile bootstrap alone", rate, k, g, bool(lo <= truth <= hi)))
                ci = results[k].groups[name].ci
                out.append(("kit", rate, k, g, ci is not None and ci[0] <= truth <= ci[1]))
                if rate != "FMR":
                    continue
                other = worst[k].groups[name].ci
                out.append((COUNTERFACTUAL, rate, k, g, other is not None and other[0] <= truth <= other[1]))
                impostor = subject[probe] != subject[reference]
                showing = _showing(probe, reference, impostor & (scores[probe, reference] >= t), subject, group, g)
                if showing == 0:
                    continue  # no false match: no two-way variance, the exemption does not arise
                rates = kept(counts, t)[g]
                few.append(
                    (
                        k,
                        g,
                        _bucket(showing),
                        rates is not None and rates.df < 5,
                        ci is not None and ci[0] <= truth <= ci[1],
                        other is not None and other[0] <= truth <= other[1],
                    )
                )
    return out, few


def _few_rows(design: str, by_people: dict[str, list[Few]], reps: int) -> list[str]:
    """The few-people table's rows of one design: each count of people, then 1-4 together."""
    del reps
    out = []
    groups = [(bucket, by_people.get(bucket, [])) for bucket in FEW]
    groups.append(("2-4", [row for bucket in FEW[:3] for row in by_people.get(bucket, [])]))
    for bucket, rows in groups:
        if not rows:
            continue
        share = sum(r[3] for r in rows) / len(rows)
        kit = sum(r[4] for r in rows) / len(rows)
        worst = sum(r[5] for r in rows) / len(rows)
        label = f"**{bucket}**" if bucket == "2-4" else bucket
        out.append(f"| {design} | {label} | {len(rows)} | {share:.2f} | {kit:.3f} | {worst:.3f} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--designs", default=",".join(DESIGNS), help=f"people x photos: {', '.join(DESIGNS)}")
    parser.add_argument("--sd-person", type=float, default=0.5)
    parser.add_argument("--sd-genuine", type=float, default=0.7)
    parser.add_argument("--shift", type=float, default=0.25)
    parser.add_argument("--resamples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20261216)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--append", action="store_true", help="add to --out instead of replacing it (a second model)")
    args = parser.parse_args()
    from scipy.stats import norm

    started = time.perf_counter()
    rows = []
    few_lines: list[str] = []
    for design in args.designs.split(","):
        people, photos = DESIGNS[design]
        thresholds = thresholds_for((0.0, args.shift), people, photos, args.sd_person)
        mu = thresholds[0] - float(norm.ppf(0.05)) * math.sqrt(args.sd_genuine**2 + 1)
        tally: dict[tuple[str, str, int, int], list[bool]] = {}
        by_people: dict[str, list[Few]] = {}
        for index in range(args.reps):
            covered_rows, few_rows = one_rep(index, args, people, photos, thresholds, mu)
            for method, rate, k, g, covered in covered_rows:
                tally.setdefault((method, rate, k, g), []).append(covered)
            for row in few_rows:
                by_people.setdefault(row[2], []).append(row)
        few_lines += _few_rows(f"{people} x {photos}", by_people, args.reps)
        for method in ("two-way percentile bootstrap alone", "kit", COUNTERFACTUAL):
            cells = [
                f"{sum(v) / len(v):.3f}" if v else "n/a"
                for rate in ("FMR", "FNMR")
                for k in range(len(TARGETS))
                for g in range(2)
                for v in [tally.get((method, rate, k, g), [])]
            ]
            rows.append(f"| {people} x {photos} | {method} | " + " | ".join(cells) + " |")
    elapsed = time.perf_counter() - started
    header = [f"{rate} at FMR {f:g}, group {g}" for rate in ("FMR", "FNMR") for f in TARGETS for g in ("a", "b")]
    lines = [
        "## Coverage of per-group FMR and FNMR intervals, small all-pairs 1:1 designs (nominal 95%)",
        "",
        f"Command: `python benchmarks/matching_coverage_small.py --reps {args.reps} --designs {args.designs} "
        f"--sd-person {args.sd_person} --sd-genuine {args.sd_genuine} --shift {args.shift} "
        f"--resamples {args.resamples} --seed {args.seed}` ({elapsed:.0f} s)",
        "",
        f"Machine: {machine_line([('numpy', 'numpy'), ('scipy', 'scipy')])}",
        "",
        f"Code: {code_line()}",
        "",
        "Two groups of `people` people with `photos` photos each, every ordered pair of photos scored "
        f"symmetrically; person effect sd {args.sd_person} on impostor scores (probe and reference alike) and "
        f"{args.sd_genuine} on genuine scores; group b shifted {args.shift}; thresholds stated where the "
        "population FMR is 0.01 and 0.001 (FNMR 0.05 at the first). Standard error of a coverage near 95%: about "
        f"{math.sqrt(0.95 * 0.05 / args.reps):.3f}.",
        "",
        "| people x photos | interval | " + " | ".join(header) + " |",
        "|---|---|" + "---:|" * len(header),
        *rows,
        "",
        "### FMR coverage by the people in a group's false matches",
        "",
        "The pairwise FMR's two-way variance is exempt from the rule that reads a variance on fewer than 5 degrees "
        "of freedom at its worst case (`ClusteredRate.few_df_worst_case` is false in `pairstats.two_way_rates`). "
        "Each group's FMR interval at both thresholds, sorted by how many people take part in its false matches "
        "(as probe or reference; none: no two-way variance, not counted). *df < 5*: share of these intervals "
        "whose two-way reading has fewer than 5 degrees of freedom. *kit*: the interval as the check gives it; "
        "*worst case below 5 df*: the same check with that reading at its worst case (counterfactual, "
        "`few_df_worst_case = True`). Coverage is of the group's population FMR, conditional on the count.",
        "",
        "| people x photos | people in false matches | intervals | df < 5 | kit | worst case below 5 df |",
        "|---|---|---:|---:|---:|---:|",
        *few_lines,
    ]
    text = "\n".join(lines) + "\n"
    if args.out and args.append:
        with args.out.open("a", encoding="utf-8") as out:
            out.write("\n" + text)
    elif args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
