"""Monte Carlo: photos a sequential audit sends, and its power and error rates, against the fixed design.

Two comparisons, each on a design of two groups (cis the reference), ``--photos`` photos a person and
ICC ``--icc``:

1. **At the planner's sizes** (what a user of ``conformance plan`` collects). The fixed design is
   ``conformance plan``'s people a group (:func:`conformance.planning.plan_check`: 80% power to pass at
   a true gap of 0 and to fail at 3 times the tolerance); the sequential design is ``conformance plan
   --sequential``'s (the same, planned at the last look's share of the error, the most people a
   sequential run sends). Three arms on data drawn afresh for each: the fixed design at its size; a
   sequential run on the fixed design's people (a user who planned without --sequential); a sequential
   run on the --sequential plan's people. Photos sent are given as a share of the *fixed plan's*
   photos, the saving the issue asks about.
2. **Against a large fixed design**: people a group enough to decide, with 80% power, the hard cases
   near the tolerance (a true gap of half the tolerance passing, 1.5 times the tolerance failing),
   found with the planner's own simulation (:func:`conformance.planning.simulated_power`), and a
   sequential run on the same data.

The sequential runs go through :func:`conformance.sequential.run_looks` (the code ``--sequential``
runs: batches of people, error spent over at most 5 looks, stop when settled), every look judged by
the kit's ``run_check`` on :class:`~conformance.observation.Observations` built from the batch's
answers, as a run builds them. For true gaps of 0, the tolerance, and 3 times the tolerance, each row
gives the verdicts' shares and the photos sent; at a true gap equal to the tolerance both a pass and a
fail are wrong, each stated at 0.025.

The look order is the data's own (HMAC-SHA-256 of each subject id keyed with a digest of every
photo's id and image digest): every replicate here has the same photo ids and no images, so every
replicate takes its people in the same order. People's outcomes are drawn independently of their
ids, so that order is a random order of them, as a seeded shuffle was.

    python benchmarks/sequential_audit.py --replicates 400 --out benchmarks/sequential-audit-results.md
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import code_line, machine_line
from verdict_error_rates import misgendered

from conformance import load_policy, run_check
from conformance.dataset import Dataset, Photo
from conformance.observation import Face, Observation, Observations
from conformance.planning import GapDesign, Simulation, simulated_power
from conformance.sequential import run_looks

if TYPE_CHECKING:
    import numpy as np

    from conformance.policy import Policy
    from conformance.results import CheckResult

POLICY = load_policy()
TOLERANCE = POLICY.tolerance_for("misgender_gap")
ALPHA = (1 - POLICY.confidence) / 2
RIGHT = Face(label="Female", gender="woman", confidence=90.0)
WRONG = Face(label="Male", gender="man", confidence=90.0)


def fixed_size(rate: float, photos: int, icc: float, replicates: int, seed: int) -> int:
    """People a group for 80% power to pass at half the tolerance and to fail at 1.5 times it (fixed design)."""
    design = GapDesign(
        rate, photos, icc, TOLERANCE, 2, ALPHA, ALPHA, POLICY.interval, POLICY.direction, POLICY.min_subjects
    )
    sim = Simulation(replicates, seed)

    def enough(k: int) -> bool:
        return (
            simulated_power(design, k, [rate, rate + TOLERANCE / 2], "pass", sim) >= 0.8
            and simulated_power(design, k, [rate, rate + 1.5 * TOLERANCE], "fail", sim) >= 0.8
        )

    low, high = 10, 20
    while not enough(high):
        low, high = high, high * 2
    while high - low > max(1, high // 50):
        mid = (low + high) // 2
        low, high = (low, mid) if enough(mid) else (mid, high)
    return high


def planned_sizes(rate: float, photos: int, icc: float, looks: int, seed: int) -> tuple[int, int]:
    """(fixed, sequential): ``conformance plan``'s people a group, without and with ``--sequential --looks``.

    The sequential plan is the fixed one at the last look's share of the error, as ``conformance plan
    --sequential`` makes it (the planner's default 2000 draws a size).
    """
    from dataclasses import replace

    from conformance.planning import PlanInputs, plan_check
    from conformance.sequential import look_levels

    def people(policy: Policy) -> int:
        inputs = PlanInputs(
            checks=("misgender_gap",),
            groups=("cis", "trans"),
            policy=policy,
            rates={"misgender_gap": rate},
            photos_per_person=photos,
            icc=icc,
            gap=3 * TOLERANCE,
            simulation=Simulation(2000, seed),
        )
        needed = plan_check("misgender_gap", inputs).people_per_group
        assert needed is not None
        return needed

    last = look_levels(ALPHA, looks)[-1]
    return people(POLICY), people(replace(POLICY, confidence=1.0 - 2.0 * last))


def draw(
    people: int, photos: int, rates: Sequence[float], icc: float, rng: np.random.Generator
) -> tuple[Dataset, list[str], dict[str, Observation]]:
    """A dataset of ``people`` a group (cis, trans) with every photo's answer, misgendered at each person's own rate."""
    import numpy as np

    photo_list: list[Photo] = []
    labels: list[str] = []
    answers: dict[str, Observation] = {}
    for g, (name, rate) in enumerate(zip(("cis", "trans"), rates, strict=True)):
        counts = np.full(people, photos, dtype=np.int64)
        wrong = misgendered(rate, icc, counts, rng)
        for person in range(people):
            subject = f"{name}{person}"
            for j in range(photos):
                pid = f"{g}/{person}/{j}.png"
                photo_list.append(
                    Photo(
                        pid,
                        Path(pid),
                        subject,
                        "woman",
                        "woman",
                        "no" if name == "cis" else "yes",
                        len(photo_list) + 2,
                        "",
                    )
                )
                labels.append(name)
                answers[pid] = Observation(pid, "analysed", WRONG if j < wrong[person] else RIGHT, 1)
    dataset = Dataset("sequential-mc", Path("sequential-mc/manifest.csv"), tuple(photo_list), (), "")
    return dataset, labels, answers


def evaluate(observations: Observations, groups: Sequence[str], policy: Policy) -> dict[str, CheckResult]:
    return {
        "misgender_gap": run_check("misgender_gap", observations, groups=groups, reference="cis", policy=policy, seed=0)
    }


def replicate(
    people: int, photos: int, rates: Sequence[float], icc: float, looks: int, rng: np.random.Generator
) -> tuple[str, str, float]:
    """(fixed verdict, sequential verdict, share of photos the sequential audit sent)."""
    dataset, labels, answers = draw(people, photos, rates, icc, rng)

    def analyze(batch: Dataset) -> Observations:
        return Observations.build(batch, [answers[p.id] for p in batch.photos])

    full = Observations.build(dataset, [answers[p.id] for p in dataset.photos])
    fixed = evaluate(full, labels, POLICY)["misgender_gap"].verdict
    observations, groups, look_policy, outcome = run_looks(
        dataset,
        labels,
        policy=POLICY,
        looks=looks,
        checks=("misgender_gap",),
        analyze=analyze,
        evaluate=evaluate,
    )
    verdict = evaluate(observations, groups, look_policy)["misgender_gap"].verdict
    return fixed, verdict, outcome.photos_sent / len(dataset.photos)


def main(argv: Sequence[str] | None = None) -> int:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replicates", type=int, default=1000, help="replicates a design and true gap")
    parser.add_argument("--looks", type=int, default=5)
    parser.add_argument("--rate", type=float, default=0.04, help="the reference group's rate")
    parser.add_argument("--photos", type=int, default=3)
    parser.add_argument("--icc", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rng = np.random.default_rng([args.seed, 23])
    n = args.replicates
    fixed_people, seq_people = planned_sizes(args.rate, args.photos, args.icc, args.looks, args.seed)
    fixed_photos = 2 * fixed_people * args.photos
    lines = [
        "# Sequential audits against the fixed design: Monte Carlo",
        "",
        f"Command: `python benchmarks/sequential_audit.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        "",
        f"Machine: {machine_line([('numpy', 'numpy'), ('scipy', 'scipy'), ('statsmodels', 'statsmodels')])}; {code_line()}",
        "",
        f"Design: two groups (cis the reference at rate {args.rate:g}), {args.photos} photos a person, ICC {args.icc:g}; "
        f"tolerance {TOLERANCE:g}, one-sided error {ALPHA:g} each way. Sequential: at most {args.looks} looks, "
        "O'Brien-Fleming-type spending, held by the union bound; people in the data's own order (an HMAC of their "
        "subject ids keyed with the data's digest: the same order in every replicate, as the photo ids are, and a "
        f"random one to their outcomes, which are drawn independently of the ids). {n} replicates a row, seed "
        f"{args.seed}; one standard error of a share near 0.8 is {math.sqrt(0.16 / n):.3f}, near 0.5 "
        f"{math.sqrt(0.25 / n):.3f}.",
        "",
        "## At the planner's sizes",
        "",
        f"`conformance plan` (fixed design): {fixed_people} people a group ({fixed_photos:,} photos), 80% power to pass "
        f"at a true gap of 0 and to fail at {3 * TOLERANCE:g}. `conformance plan --sequential`: at most {seq_people} "
        f"people a group ({2 * seq_people * args.photos:,} photos). Photos sent as a share of the fixed plan's "
        f"{fixed_photos:,}.",
        "",
        "| true gap | design | pass | fail | photos sent (mean share of the fixed plan's) | 90th percentile |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for gap in (0.0, TOLERANCE, 3 * TOLERANCE):
        arms: dict[str, tuple[list[str], list[float]]] = {
            f"fixed, {fixed_people} a group": ([], []),
            f"sequential on the fixed plan's {fixed_people} a group": ([], []),
            f"sequential, plan --sequential's {seq_people} a group": ([], []),
        }
        names = list(arms)
        for _ in range(n):
            fixed, seq, sent = replicate(
                fixed_people, args.photos, [args.rate, args.rate + gap], args.icc, args.looks, rng
            )
            arms[names[0]][0].append(fixed)
            arms[names[0]][1].append(1.0)
            arms[names[1]][0].append(seq)
            arms[names[1]][1].append(sent)
            _, seq, sent = replicate(seq_people, args.photos, [args.rate, args.rate + gap], args.icc, args.looks, rng)
            arms[names[2]][0].append(seq)
            arms[names[2]][1].append(sent * seq_people / fixed_people)
        for name, (verdicts, shares) in arms.items():
            row = (
                f"| {gap:g} | {name} | {verdicts.count('pass') / n:.3f} | {verdicts.count('fail') / n:.3f} | "
                f"{float(np.mean(shares)):.3f} | {float(np.quantile(shares, 0.9)):.3f} |"
            )
            lines.append(row)
            print(row, file=sys.stderr, flush=True)
    people = fixed_size(args.rate, args.photos, args.icc, 400, args.seed)
    hard = max(n // 2, 1)
    lines += [
        "",
        "## Against a large fixed design",
        "",
        f"Fixed design {people} people a group ({2 * people * args.photos:,} photos): 80% power to pass at a true gap of "
        f"{TOLERANCE / 2:g} and to fail at {1.5 * TOLERANCE:g}; the sequential run on the same data. {hard} replicates "
        "a row.",
        "",
        "| true gap | fixed: pass | fixed: fail | sequential: pass | sequential: fail | same verdict as fixed | photos sent (mean share of fixed) | 90th percentile |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for gap in (0.0, TOLERANCE, 3 * TOLERANCE):
        fixed_v, seq_v, share = [], [], []
        for _ in range(hard):
            f, v, sent = replicate(people, args.photos, [args.rate, args.rate + gap], args.icc, args.looks, rng)
            fixed_v.append(f)
            seq_v.append(v)
            share.append(sent)
        same = sum(a == b for a, b in zip(fixed_v, seq_v, strict=True)) / hard
        row = (
            f"| {gap:g} | {fixed_v.count('pass') / hard:.3f} | {fixed_v.count('fail') / hard:.3f} | "
            f"{seq_v.count('pass') / hard:.3f} | {seq_v.count('fail') / hard:.3f} | {same:.3f} | "
            f"{float(np.mean(share)):.3f} | {float(np.quantile(share, 0.9)):.3f} |"
        )
        lines.append(row)
        print(row, file=sys.stderr, flush=True)
    se = math.sqrt(ALPHA * (1 - ALPHA) / n)
    lines += [
        "",
        f"At a true gap equal to the tolerance a pass and a fail are both wrong, each stated at {ALPHA:g}; Monte Carlo "
        f"standard error there {se:.4f} ({math.sqrt(ALPHA * (1 - ALPHA) / hard):.4f} in the second table). Run time "
        f"{time.perf_counter() - started:.0f} s.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
