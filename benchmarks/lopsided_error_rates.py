"""Monte Carlo: wrong verdicts when a small group with many photos a person meets a large one (red team 13c).

``verdict_error_rates.py`` draws groups of equal size; this script draws the lopsided designs a red team
found outside its table: a group of 10-50 people with 20-100 photos each (per-person rates beta-distributed
with the intraclass correlation given) against 300-1,000 people with one photo each, at a true gap equal to
the tolerance, so that a ``pass`` and a ``fail`` are both wrong (each stated at one-sided 0.025). In the
"pass" rows the small group is the worse off (a wrong pass is the risk); in the "fail" rows the small group
is the reference and the better off (a wrong fail is the risk), and one row has tolerance 0 at equal rates.
A last table gives the share of deserved verdicts (fail at three times the tolerance, pass at no gap) in
equal-size designs, to show what the rule for few people showing the event costs in power.

Every replicate builds an in-memory :class:`~conformance.observation.Observations` table and calls the
kit's public ``run_check("misgender_gap", ...)`` under the default policy (tolerance replaced where a row
says so); nothing of the verdict procedure is re-implemented here. Seeded: the same command prints the same
tables.

    python benchmarks/lopsided_error_rates.py --replicates 2000 --out benchmarks/lopsided-error-rates.md
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _designs import ALPHA, POLICY, TOLERANCE, misgendered, observations
from _machine import code_line, machine_line

from conformance import run_check

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from conformance.policy import Policy


@dataclass(frozen=True)
class Group:
    people: int
    photos: int
    rate: float
    icc: float = 0.0

    def label(self) -> str:
        icc = f", ICC {self.icc:g}" if self.icc else ""
        return f"{self.people} x {self.photos} at {self.rate:g}{icc}"


@dataclass(frozen=True)
class Design:
    wrong: str  # "pass" or "fail": the wrong verdict this row measures
    trans: Group
    cis: Group  # the reference
    tolerance: float = TOLERANCE


# The red team's designs (README of /work/redteam/13c, findings 1 and 2), and the neighbours it measured.
DESIGNS = (
    Design("pass", Group(10, 40, 0.05, 0.3), Group(300, 1, 0.0)),
    Design("pass", Group(10, 40, 0.05, 0.5), Group(300, 1, 0.0)),
    Design("pass", Group(10, 40, 0.05, 0.5), Group(1000, 1, 0.0)),
    Design("pass", Group(10, 40, 0.07, 0.3), Group(1000, 1, 0.02)),
    Design("pass", Group(10, 20, 0.05, 0.3), Group(1000, 1, 0.0)),
    Design("pass", Group(20, 40, 0.05, 0.3), Group(1000, 1, 0.0)),
    Design("pass", Group(30, 40, 0.05, 0.3), Group(1000, 1, 0.0)),
    Design("pass", Group(50, 40, 0.05, 0.3), Group(1000, 1, 0.0)),
    Design("pass", Group(10, 40, 0.05, 0.05), Group(1000, 1, 0.0)),
    Design("fail", Group(300, 1, 0.10), Group(10, 40, 0.05, 0.3)),
    Design("fail", Group(300, 1, 0.10), Group(10, 100, 0.05, 0.3)),
    Design("fail", Group(300, 1, 0.15), Group(10, 40, 0.10, 0.3)),
    Design("fail", Group(300, 1, 0.05), Group(10, 40, 0.05, 0.3), tolerance=0.0),
)
# Equal-size designs: (people, photos, ICC, base); fail at base + 3 x tolerance, pass at no gap.
POWER = ((30, 5, 0.3, 0.05), (100, 5, 0.3, 0.05), (30, 40, 0.3, 0.05), (100, 40, 0.3, 0.05), (100, 5, 0.3, 0.25))


def draw(group: Group, rng: np.random.Generator) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Photos per person and photos misgendered per person (each person's own probability beta-distributed)."""
    import numpy as np

    photos = np.full(group.people, group.photos, dtype=np.int64)
    return photos, misgendered(group.rate, group.icc, photos, rng)


def verdict(parts: Sequence[tuple[str, Group]], policy: Policy, rng: np.random.Generator) -> str:
    table, labels = observations([(name, *draw(group, rng)) for name, group in parts])
    return run_check("misgender_gap", table, groups=labels, reference="cis", policy=policy, seed=0).verdict


def with_tolerance(tolerance: float) -> Policy:
    return dataclasses.replace(POLICY, tolerance={**POLICY.tolerance, "misgender_gap": tolerance})


def se(rate: float, n: int) -> float:
    return math.sqrt(rate * (1 - rate) / n)


def main(argv: Sequence[str] | None = None) -> int:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replicates", type=int, default=2000, help="replicates per design (error rates)")
    parser.add_argument("--power-replicates", type=int, default=400, help="replicates per design (power)")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--out", type=Path, help="also write the Markdown results here")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    bound = ALPHA + 2 * se(ALPHA, args.replicates)
    lines = [
        "# Wrong verdicts in lopsided designs: Monte Carlo",
        "",
        f"Command: `python benchmarks/lopsided_error_rates.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        "",
        f"Machine: {machine_line([('numpy', 'numpy'), ('scipy', 'scipy'), ('statsmodels', 'statsmodels')])}; {code_line()}",
        "",
        f"Policy: the default (confidence {POLICY.confidence:g}, tolerance {TOLERANCE:g} unless a row says otherwise, "
        f"`{POLICY.interval}` limits, min_subjects {POLICY.min_subjects}); each verdict direction is stated at "
        f"one-sided {ALPHA:g}. {args.replicates} replicates a design, seed {args.seed}; Monte Carlo standard error "
        f"at {ALPHA:g}: {se(ALPHA, args.replicates):.4f}, so a row within {bound:.4f} is within the stated rate.",
        "",
        "## Wrong verdicts at a true gap equal to the tolerance",
        "",
        "People x photos a person at the true rate (per-person rates beta with the ICC given).",
        "",
        "| trans | cis (reference) | tolerance | wrong verdict | rate | within 0.025 + 2 SE |",
        "|---|---|---:|---|---:|---|",
    ]
    over = []
    for design in DESIGNS:
        policy = POLICY if design.tolerance == TOLERANCE else with_tolerance(design.tolerance)
        wrong = sum(
            verdict((("cis", design.cis), ("trans", design.trans)), policy, rng) == design.wrong
            for _ in range(args.replicates)
        )
        rate = wrong / args.replicates
        fine = rate <= bound
        if not fine:
            over.append(design)
        lines.append(
            f"| {design.trans.label()} | {design.cis.label()} | {design.tolerance:g} | {design.wrong} | {rate:.4f} | "
            f"{'yes' if fine else 'NO'} |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    lines += [
        "",
        f"Designs above {bound:.4f}: {len(over) or 'none'}.",
        "",
        "## Deserved verdicts in equal-size designs (power)",
        "",
        f"Both groups the same design; {args.power_replicates} replicates a row. Fail: the trans group at the base "
        f"rate + {3 * TOLERANCE:g} (three times the tolerance); pass: both at the base rate.",
        "",
        "| people a group | photos a person | ICC | base rate | share failing at 3x tolerance | share passing at no gap |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for people, photos, icc, base in POWER:
        same = Group(people, photos, base, icc)
        worse = Group(people, photos, base + 3 * TOLERANCE, icc)
        fails = sum(
            verdict((("cis", same), ("trans", worse)), POLICY, rng) == "fail" for _ in range(args.power_replicates)
        )
        passes = sum(
            verdict((("cis", same), ("trans", same)), POLICY, rng) == "pass" for _ in range(args.power_replicates)
        )
        lines.append(
            f"| {people} | {photos} | {icc:g} | {base:g} | {fails / args.power_replicates:.3f} | "
            f"{passes / args.power_replicates:.3f} |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    lines += ["", f"Took {time.perf_counter() - started:.0f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
