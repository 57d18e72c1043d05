"""Monte Carlo: photos a sequential audit sends, and its error rates, against the fixed design.

The fixed design is the whole dataset sent at once and judged at the stated one-sided error (0.025
each way): people a group enough to decide, with 80% power, the hard cases near the tolerance (a
true gap of half the tolerance passing, 1.5 times the tolerance failing), found here with the
planner's own simulation (:func:`conformance.planning.simulated_power`). The sequential audit
replays the same dataset through :func:`conformance.sequential.run_looks` (the code ``--sequential``
runs: batches of people, error spent over at most 5 looks, stop when settled), every look judged by
the kit's ``run_check`` on :class:`~conformance.observation.Observations` built from the batch's
answers, as a run builds them.

For true gaps of 0, the tolerance, and 3 times the tolerance, the script reports per design: the
share of photos the sequential audit sent, its verdicts against the fixed design's on the same
data, and its wrong-verdict rates at a true gap equal to the tolerance (both a pass and a fail are
wrong there, each stated at 0.025).

The look order is the data's own (HMAC-SHA-256 of each subject id keyed with a digest of every
photo's id and image digest): every replicate here has the same photo ids and no images, so every
replicate takes its people in the same order. People's outcomes are drawn independently of their
ids, so that order is a random order of them, as a seeded shuffle was.

    python benchmarks/sequential_audit.py --replicates 150 --out benchmarks/sequential-audit-results.md
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
    people = fixed_size(args.rate, args.photos, args.icc, 400, args.seed)
    lines = [
        "# Sequential audits against the fixed design: Monte Carlo",
        "",
        f"Command: `python benchmarks/sequential_audit.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        "",
        f"Machine: {machine_line([('numpy', 'numpy'), ('scipy', 'scipy'), ('statsmodels', 'statsmodels')])}; {code_line()}",
        "",
        f"Design: two groups (cis the reference at rate {args.rate:g}), {args.photos} photos a person, ICC {args.icc:g}; "
        f"fixed design {people} people a group ({2 * people * args.photos:,} photos): 80% power to pass at a true gap of "
        f"{TOLERANCE / 2:g} and to fail at {1.5 * TOLERANCE:g} (tolerance {TOLERANCE:g}, one-sided error {ALPHA:g} each way). "
        f"Sequential: at most {args.looks} looks, O'Brien-Fleming-type spending; people in the data's own order (an HMAC "
        "of their subject ids keyed with the data's digest: the same order in every replicate, as the photo ids are, "
        f"and a random one to their outcomes, which are drawn independently of the ids). {args.replicates} replicates a "
        f"row, seed {args.seed}; one standard error of a share near 0.5 is {math.sqrt(0.25 / args.replicates):.3f}.",
        "",
        "| true gap | fixed: pass | fixed: fail | sequential: pass | sequential: fail | same verdict as fixed | photos sent (mean share of fixed) | 90th percentile |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for gap in (0.0, TOLERANCE, 3 * TOLERANCE):
        fixed, seq, share = [], [], []
        for _ in range(args.replicates):
            f, s, sent = replicate(people, args.photos, [args.rate, args.rate + gap], args.icc, args.looks, rng)
            fixed.append(f)
            seq.append(s)
            share.append(sent)
        n = args.replicates
        same = sum(a == b for a, b in zip(fixed, seq, strict=True)) / n
        row = (
            f"| {gap:g} | {fixed.count('pass') / n:.3f} | {fixed.count('fail') / n:.3f} | {seq.count('pass') / n:.3f} | "
            f"{seq.count('fail') / n:.3f} | {same:.3f} | {float(np.mean(share)):.3f} | {float(np.quantile(share, 0.9)):.3f} |"
        )
        lines.append(row)
        print(row, file=sys.stderr, flush=True)
    se = math.sqrt(ALPHA * (1 - ALPHA) / args.replicates)
    lines += [
        "",
        f"At a true gap equal to the tolerance a pass and a fail are both wrong, each stated at {ALPHA:g}; Monte Carlo "
        f"standard error there {se:.4f}. Run time {time.perf_counter() - started:.0f} s.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
