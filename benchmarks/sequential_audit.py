"""Monte Carlo: photos a sequential audit sends, and its power and error rates, against the planner's fixed design.

One design of two groups (cis the reference), ``--photos`` photos a person and ICC ``--icc``. The fixed
design is ``conformance plan``'s people a group (:func:`conformance.planning.plan_check`: 80% power to pass
at a true gap of 0 and to fail at 3 times the tolerance); the sequential design is ``conformance plan
--sequential``'s most people (:func:`conformance.planning.sequential.sequential_block`: the fixed plan
times the inflation that keeps the power under the sequential run's spending). Three arms:

- the fixed design at its size, run without ``--sequential``;
- a sequential run on the fixed plan's people (a user who planned without --sequential), same data;
- a sequential run on the ``--sequential`` plan's people (data drawn afresh).

Photos sent are given as a share of the *fixed plan's* photos (the saving the issue asks about), next
to what ``plan --sequential`` computes for them (the group-sequential normal recursion,
:mod:`conformance.sequential_design`). True gaps: 0, the tolerance (both verdicts wrong, each stated at
0.025), and 3, 4 and 5 times the tolerance.

The sequential runs go through :func:`conformance.sequential.run_looks` (the code ``--sequential``
runs: batches of people, error spent over the looks, stop when settled), every look judged by the kit's
``run_check`` on :class:`~conformance.observation.Observations` built from the batch's answers, as a run
builds them. The look order is the data's own (HMAC-SHA-256 of each subject id keyed with a digest of
every photo's id and image digest): every replicate here has the same photo ids and no images, so every
replicate takes its people in the same order. People's outcomes are drawn independently of their ids,
so that order is a random order of them.

    python benchmarks/sequential_audit.py --replicates 200 --out benchmarks/sequential-audit-results.md
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import code_line, finish, machine_line
from verdict_error_rates import misgendered

from conformance import load_policy, run_check
from conformance.dataset import Dataset, Photo
from conformance.observation import Face, Observation, Observations
from conformance.planning import Simulation
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


def planned_sizes(rate: float, photos: int, icc: float, looks: int, seed: int) -> tuple[int, dict[str, Any]]:
    """(fixed people a group, the ``sequential`` block): ``conformance plan`` without and with ``--sequential``."""
    from conformance.planning import DEFAULT_PRICE, PlanInputs, plan_check
    from conformance.planning.sequential import sequential_block

    inputs = PlanInputs(
        checks=("misgender_gap",),
        groups=("cis", "trans"),
        policy=POLICY,
        rates={"misgender_gap": rate},
        photos_per_person=photos,
        icc=icc,
        gap=3 * TOLERANCE,
        simulation=Simulation(2000, seed),
    )
    plan = plan_check("misgender_gap", inputs)
    needed = plan.people_per_group
    assert needed is not None
    block = sequential_block({"misgender_gap": plan}, alpha=ALPHA, looks=looks, power=0.8, price=DEFAULT_PRICE)
    return needed, block


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


def expected(block: dict[str, Any], fixed: int, rate: float, looks: int, gap: float) -> tuple[float, float]:
    """(power of the verdict wanted, expected share of the fixed plan's photos) the normal recursion computes at ``gap``.

    The drift at the most people is the planned one at the two design points (``plan --sequential``'s own
    reading: each direction's fixed size); at other gaps it is the nearer design point's, moved by the
    distance to the tolerance over the spread of a gap between two binomial rates.
    """
    from conformance.sequential import look_levels
    from conformance.sequential_design import expected_share, stopping

    figures = block["checks"]["misgender_gap"]
    most = figures["people_per_group"]
    by_verdict = {e["verdict"]: e["fixed_people_per_group"] for e in figures["expected"]}
    z = 1.959963984540054 + 0.8416212335729143  # a fixed design's drift at its own size: power 0.8 at 0.025

    def spread(g: float) -> float:
        return math.sqrt(rate * (1 - rate) + (rate + g) * (1 - rate - g))

    if gap < TOLERANCE:
        anchor, verdict = 0.0, "pass"
    else:
        anchor, verdict = 3 * TOLERANCE, "fail"
    at_anchor = z * math.sqrt(most / by_verdict[verdict])
    drift = at_anchor * (gap - TOLERANCE) / abs(anchor - TOLERANCE) * spread(anchor) / spread(gap)
    levels = look_levels(ALPHA, looks)
    passes, fails = stopping(levels, drift)
    return sum(passes) if gap < TOLERANCE else sum(fails), expected_share(levels, drift) * most / fixed


def main(argv: Sequence[str] | None = None) -> int:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replicates", type=int, default=200, help="replicates a design and true gap")
    parser.add_argument("--looks", type=int, default=5)
    parser.add_argument("--rate", type=float, default=0.04, help="the reference group's rate")
    parser.add_argument("--photos", type=int, default=3)
    parser.add_argument("--icc", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument(
        "--error-replicates",
        type=int,
        default=1000,
        help="replicates of the --sequential plan's run at a true gap equal to the tolerance, for its wrong verdicts",
    )
    parser.add_argument(
        "--gaps",
        default="0,1,3,4,5",
        help="the true gaps, in tolerances, comma-separated (default 0,1,3,4,5)",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rng = np.random.default_rng([args.seed, 23])
    n = args.replicates
    fixed_people, block = planned_sizes(args.rate, args.photos, args.icc, args.looks, args.seed)
    seq_people = block["checks"]["misgender_gap"]["people_per_group"]
    fixed_photos = 2 * fixed_people * args.photos
    lines = [
        "# Sequential audits against the planner's fixed design: Monte Carlo",
        "",
        f"Command: `python benchmarks/sequential_audit.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        "",
        f"Machine: {machine_line([('numpy', 'numpy'), ('scipy', 'scipy'), ('statsmodels', 'statsmodels')])}; {code_line()}",
        "",
        f"Design: two groups (cis the reference at rate {args.rate:g}), {args.photos} photos a person, ICC {args.icc:g}; "
        f"tolerance {TOLERANCE:g}, one-sided error {ALPHA:g} each way. Sequential: at most {args.looks} looks, "
        f"{block['spending']}; people in the data's own order (an HMAC of their subject ids keyed with the data's "
        "digest: the same order in every replicate, as the photo ids are, and a random one to their outcomes, which "
        f"are drawn independently of the ids). {n} replicates a row, seed {args.seed}; one standard error of a share "
        f"near 0.8 is {math.sqrt(0.16 / n):.3f}, near 0.5 {math.sqrt(0.25 / n):.3f}.",
        "",
        f"`conformance plan` (fixed design): {fixed_people} people a group ({fixed_photos:,} photos), 80% power to pass "
        f"at a true gap of 0 and to fail at {3 * TOLERANCE:g}. `conformance plan --sequential`: at most {seq_people} "
        f"people a group ({2 * seq_people * args.photos:,} photos, {block['inflation']:.3f} x). Photos sent as a share "
        f"of the fixed plan's {fixed_photos:,}; *computed*: what the group-sequential normal recursion gives for the "
        "--sequential plan's run (the verdict wanted: pass below the tolerance, fail above it).",
        "",
        "| true gap | design | pass | fail | photos sent (mean share of the fixed plan's) | 90th percentile | computed: verdict wanted, share sent |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for gap in [float(g) * TOLERANCE for g in args.gaps.split(",")]:
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
        power, share = expected(block, fixed_people, args.rate, args.looks, gap)
        for i, (name, (verdicts, shares)) in enumerate(arms.items()):
            computed = "" if i < 2 else (f"-, {share:.3f}" if gap == TOLERANCE else f"{power:.3f}, {share:.3f}")
            row = (
                f"| {gap:g} | {name} | {verdicts.count('pass') / n:.3f} | {verdicts.count('fail') / n:.3f} | "
                f"{float(np.mean(shares)):.3f} | {float(np.quantile(shares, 0.9)):.3f} | {computed} |"
            )
            lines.append(row)
            print(row, file=sys.stderr, flush=True)
    se = math.sqrt(ALPHA * (1 - ALPHA) / n)
    lines += [
        "",
        f"At a true gap equal to the tolerance a pass and a fail are both wrong, each stated at {ALPHA:g}; Monte Carlo "
        f"standard error there {se:.4f}.",
    ]
    m = args.error_replicates
    if m > 0:
        # The looks' levels rest on a normal approximation of the checks' statistics: their wrong verdicts are measured.
        wrong: list[str] = []
        for _ in range(m):
            _, verdict, _ = replicate(
                seq_people, args.photos, [args.rate, args.rate + TOLERANCE], args.icc, args.looks, rng
            )
            wrong.append(verdict)
        passes, fails = wrong.count("pass") / m, wrong.count("fail") / m
        se_m = math.sqrt(ALPHA * (1 - ALPHA) / m)
        lines += [
            "",
            f"**Wrong verdicts, measured apart:** {m} more replicates of the `--sequential` plan's run "
            f"({seq_people} a group) at a true gap of {TOLERANCE:g}: wrong passes {passes:.3f}, wrong fails {fails:.3f} "
            f"(stated at most {ALPHA:g} each; standard error at {ALPHA:g}: {se_m:.4f}; "
            f"{ALPHA:g} + 2 standard errors = {ALPHA + 2 * se_m:.3f}).",
        ]
    return finish(lines, started, args.out)


if __name__ == "__main__":
    sys.exit(main())
