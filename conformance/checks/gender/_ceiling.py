"""detection_failure_gap's ceiling: each group's share of photos with no face found or an error, against the
policy's ``max_detection_failure``.

Equal failure is no pass: a detector that finds a face in 1 photo of 300 gives every group the same rate and
no gap (red team 14e F1: PASS, exit 0). Each group's rate is judged against the ceiling as a gap is against the
tolerance, on its interval: ``fail`` when the one-sided p of exceeding it (Clopper-Pearson limits on the people)
is at most the stated error after Holm's adjustment in the check's one family (the gaps' fail tests with it);
``pass`` when the interval lies at or below it; else ``inconclusive``. A group of fewer than ``min_subjects``
people decides nothing (inconclusive, as its gaps are); the missing-data groups (``undisclosed``, ``unknown``)
are judged for a fail only, as their gaps are, so a perfect or ordinary analyzer still passes with any number
of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ... import stats
from ..._wording import CEILING_REFERENCE
from ...results import Comparison, Verdict
from .._compare import RESIDUAL_GROUPS

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ...policy import Policy
    from ._common import _Grouping

__all__ = ["CEILING_REFERENCE", "Ceiling", "ceiling_rows", "ceiling_tests"]


@dataclass(frozen=True)
class Ceiling:
    """Each group's rate against the ceiling, before the Holm family settles the fail tests."""

    order: tuple[str, ...]
    rates: dict[str, stats.ClusteredRate]
    counts: dict[str, tuple[int, int]]  # photos failed, photos
    tested: tuple[str, ...]  # groups whose fail test joins the check's Holm family, in order
    p_values: tuple[float, ...]  # their one-sided p-values of exceeding the ceiling


def ceiling_tests(
    failed: npt.NDArray[np.bool_],
    subject: npt.NDArray[np.int64],
    photo_group: _Grouping,
    order: list[str],
    reference: str,
    policy: Policy,
) -> Ceiling:
    """Each group's clustered rate of failed photos, and the fail tests that join the check's Holm family."""
    import numpy as np

    ceiling = policy.max_detection_failure
    rates: dict[str, stats.ClusteredRate] = {}
    counts: dict[str, tuple[int, int]] = {}
    tested: list[str] = []
    p_values: list[float] = []
    if ceiling >= 1.0:
        return Ceiling((), {}, {}, (), ())  # turned off: every photo may fail
    for name in order:
        mask = photo_group.mask(name)
        people, inverse = np.unique(subject[mask], return_inverse=True)
        if not len(people):
            continue
        num = np.bincount(inverse, weights=failed[mask].astype(np.float64), minlength=len(people))
        den = np.bincount(inverse, minlength=len(people)).astype(np.float64)
        rate = stats.clustered_rate(num, den)
        rates[name] = rate
        counts[name] = (int(failed[mask].sum()), int(mask.sum()))
        if len(people) >= policy.min_subjects:
            p = stats.rate_tests(rate, ceiling, policy.interval).exceeds
            if p == p:  # a p-value (not nan): the test joins the family
                tested.append(name)
                p_values.append(p)
    return Ceiling(tuple(rates), rates, counts, tuple(tested), tuple(p_values))


def ceiling_rows(found: Ceiling, adjusted: tuple[float, ...], reference: str, policy: Policy) -> list[Comparison]:
    """Each group's row against the ceiling, its verdict settled with ``adjusted`` (Holm, the check's family)."""
    ceiling = policy.max_detection_failure
    alpha = (1.0 - policy.confidence) / 2.0
    alpha = float(f"{alpha:.12g}")
    limits = "Clopper-Pearson" if policy.interval == "clopper-pearson" else "Wilson"
    method = (
        f"the group's share of photos with no face found or an error against the ceiling max_detection_failure "
        f"{ceiling:g}, {limits} limits on its people"
    )
    rows = []
    for name in found.order:
        rate = found.rates[name]
        ci = stats.rate_interval(rate, policy.confidence, policy.interval)
        tests = stats.rate_tests(rate, ceiling, policy.interval)
        k, n = found.counts[name]
        missing = name in RESIDUAL_GROUPS and name != reference
        share = f"no face found or an error on {k} of {n} photos ({rate.rate:.1%})"
        p_adjusted = adjusted[found.tested.index(name)] if name in found.tested else None
        verdict: Verdict
        if p_adjusted is not None and p_adjusted <= alpha:
            verdict = "fail"
            note = (
                f"{name}: {share}, shown above the ceiling max_detection_failure {ceiling:g}: a detector that misses "
                "this many faces fails the check whatever the gaps between groups (equal failure is no pass)"
            )
        elif missing and p_adjusted is None and ci[0] > ceiling:
            verdict = "inconclusive"
            note = (
                f"{name}: {share}, too few people ({rate.subjects}, fewer than min_subjects {policy.min_subjects}) to "
                f"fail the check on, yet the interval lies wholly above the ceiling max_detection_failure {ceiling:g}"
            )
        elif missing:
            verdict = "not applicable"
            note = (
                f"{name}: missing data, judged against the ceiling for a fail only; {share}, no share above "
                f"max_detection_failure {ceiling:g} shown, so it is shown, not compared into the verdict"
            )
        elif p_adjusted is None:
            verdict = "inconclusive"
            note = f"fewer than {policy.min_subjects} subjects behind the rate ({name}: {rate.subjects})"
        elif ci[1] <= ceiling:
            verdict, note = "pass", ""
        else:
            verdict = "inconclusive"
            note = f"{name}: {share}; the interval reaches above the ceiling max_detection_failure {ceiling:g}"
        rows.append(
            Comparison(
                group=name,
                reference=CEILING_REFERENCE,
                difference=rate.rate,
                ci=ci,
                p_value=tests.exceeds if p_adjusted is not None else None,
                p_adjusted=p_adjusted,
                tolerance=ceiling,
                verdict=verdict,
                method=method,
                note=note,
                level=policy.confidence,
                p_within=tests.within if p_adjusted is not None else None,
            )
        )
    return rows
