"""Monte Carlo: how often detection_failure_gap's ceiling rows err, at a true rate equal to the ceiling.

``detection_failure_gap`` judges every group's share of photos with no face found (or an error) against
the policy's ``max_detection_failure`` (default 0.2) as well as the gaps between groups, the ceiling
rows' fail tests joining the gaps' in one Holm family (docs/reference/checks.md). Each verdict direction
is stated at one-sided ``(1 - confidence) / 2 = 0.025``. This script measures that through the kit's
public ``run_check("detection_failure_gap", ...)`` under the default policy: nothing of the procedure is
re-implemented here.

The data: two groups (``cis`` the reference, ``trans``), ``k`` people each, photos per person as in
``verdict_error_rates.py`` (``1``, ``5``, or ``1-40`` uniform); a photo has no face found with the person's
own probability, beta-distributed with mean equal to the ceiling and intraclass correlation ``icc``. Both
groups sit exactly at the ceiling (and so at a gap of 0), so a ceiling row that fails is a wrong fail and
one that passes a wrong pass. Reported per design: the share of replicates in which any ceiling row failed
(familywise), in which the trans row passed, and in which any row passed.

Seeded: the same command prints the same table.

    python benchmarks/ceiling_error_rates.py --replicates 1000 --out benchmarks/ceiling-error-rates-results.md
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _designs import _EMPTY, _RECORD, ALPHA, POLICY, misgendered, photo_rows
from _machine import code_line, machine_line
from verdict_error_rates import photo_counts

from conformance import run_check
from conformance.checks.gender._ceiling import CEILING_REFERENCE
from conformance.observation import GENDER_CODES, OUTCOMES, Observations

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from conformance.results import CheckResult

PEOPLE = (10, 30, 100, 300)
PHOTOS = ("1", "5", "1-40")
ICCS = (0.0, 0.3)


def table(groups: Sequence[tuple[str, npt.NDArray[np.int64], npt.NDArray[np.int64]]]) -> tuple[Observations, list[str]]:
    """One row per photo: the first ``missed`` photos of each person have no face found, the rest a woman."""
    import numpy as np

    subject, no_face, labels = photo_rows(groups)
    n = subject.size
    observations = Observations(
        dataset=_EMPTY,
        records=(_RECORD,) * n,
        outcome=np.where(no_face, OUTCOMES.index("no_face"), OUTCOMES.index("analysed")).astype(np.int8),
        predicted=np.where(no_face, -1, GENDER_CODES["woman"]).astype(np.int8),
        confidence=np.where(no_face, np.nan, 90.0),
        identity=np.zeros(n, dtype=np.int8),
        subject=subject.astype(np.int64),
        analyzer={"vocabulary": {"labels": {"Female": "woman", "Male": "man"}, "can_abstain": False}},
    )
    return observations, labels


def check(groups: Sequence[tuple[str, npt.NDArray[np.int64], npt.NDArray[np.int64]]]) -> CheckResult:
    observations, labels = table(groups)
    return run_check("detection_failure_gap", observations, groups=labels, reference="cis", policy=POLICY, seed=0)


def replicate_rates(
    people: int, photos: str, icc: float, replicates: int, rng: np.random.Generator
) -> tuple[float, float, float]:
    """(any ceiling row failed, the trans row passed, any ceiling row passed), as shares of replicates."""
    ceiling = POLICY.max_detection_failure
    fails = trans_passes = passes = 0
    for _ in range(replicates):
        groups = []
        for name in ("cis", "trans"):
            counts = photo_counts(photos, people, rng)
            groups.append((name, counts, misgendered(ceiling, icc, counts, rng)))
        rows = [c for c in check(groups).comparisons if c.reference == CEILING_REFERENCE]
        fails += any(row.verdict == "fail" for row in rows)
        passes += any(row.verdict == "pass" for row in rows)
        trans_passes += any(row.verdict == "pass" and row.group == "trans" for row in rows)
    return fails / replicates, trans_passes / replicates, passes / replicates


def se(p: float, n: int) -> float:
    return math.sqrt(p * (1 - p) / n)


def main(argv: Sequence[str] | None = None) -> int:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--replicates", type=int, default=1000, help="replicates per design")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--people", default=",".join(map(str, PEOPLE)), help="people per group, comma-separated")
    parser.add_argument("--out", type=Path, help="also write the Markdown results here")
    args = parser.parse_args(argv)
    people = tuple(int(x) for x in args.people.split(","))
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    bound = ALPHA + 2 * se(ALPHA, args.replicates)
    lines = [
        "# detection_failure_gap's ceiling rows at a true rate equal to the ceiling: Monte Carlo",
        "",
        f"Command: `python benchmarks/ceiling_error_rates.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        "",
        f"Machine: {machine_line([('numpy', 'numpy'), ('scipy', 'scipy'), ('statsmodels', 'statsmodels')])}; {code_line()}",
        "",
        f"Policy: the default (confidence {POLICY.confidence:g}, max_detection_failure {POLICY.max_detection_failure:g}, "
        f"`{POLICY.interval}` limits, min_subjects {POLICY.min_subjects}); each verdict direction is stated at "
        f"one-sided {ALPHA:g}. Both groups' true rate of photos with no face found equals the ceiling. "
        f"{args.replicates} replicates a design, seed {args.seed}; one standard error at {ALPHA:g} is "
        f"{se(ALPHA, args.replicates):.4f}, and a design above {bound:.3f} (2 standard errors) is listed below the table.",
        "",
        "| people a group | photos a person | ICC | a ceiling row failed (familywise) | trans row passed | a ceiling row passed |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    over: list[str] = []
    for k, m, icc in itertools.product(people, PHOTOS, ICCS):
        fail, trans_pass, any_pass = replicate_rates(k, m, icc, args.replicates, rng)
        row = f"| {k} | {m} | {icc:g} | {fail:.3f} | {trans_pass:.3f} | {any_pass:.3f} |"
        if fail > bound or trans_pass > bound:
            over.append(row)
        lines.append(row)
        print(row, file=sys.stderr, flush=True)
    lines += [
        "",
        "Designs where the familywise wrong fail or a row's wrong pass is above the bound: "
        + ("none." if not over else "\n\n" + "\n".join(over)),
        "",
        "A pass on either row of a replicate is wrong; the two rows are tested separately at "
        f"{ALPHA:g} each, so the last column may reach about twice that. Run time "
        f"{time.perf_counter() - started:.0f} s.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
