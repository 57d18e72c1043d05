"""The named checks. Ids are stable: they appear in reports and in policy files.

Each check is a pure function ``check(observations, *, groups, reference, policy, seed)`` that
returns a :class:`~conformance.results.CheckResult`; :func:`run_check` runs one by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from .check_ids import CHECK_IDS, GENDER_CHECKS, MATCHING_CHECKS, SUMMARIES

if TYPE_CHECKING:
    from ..matching import SearchRun
    from ..observation import Observations
    from ..policy import Policy
    from ..results import CheckResult

__all__ = [
    "CHECK_IDS",
    "GENDER_CHECKS",
    "MATCHING_CHECKS",
    "SUMMARIES",
    "Check",
    "get_check",
    "run_check",
    "run_matching_check",
]


class Check(Protocol):
    def __call__(
        self, observations: Observations, *, groups: Sequence[str], reference: str, policy: Policy, seed: int
    ) -> CheckResult: ...


def get_check(check_id: str) -> Check:
    """The check function with this id; KeyError naming the known ids otherwise."""
    from . import gender

    if check_id not in GENDER_CHECKS:
        raise KeyError(f"unknown gender check {check_id!r}; checks: {', '.join(GENDER_CHECKS)}")
    check: Check = getattr(gender, check_id)
    return check


def run_check(
    check_id: str,
    observations: Observations,
    *,
    groups: Sequence[str],
    reference: str,
    policy: Policy,
    seed: int,
) -> CheckResult:
    """Run the check ``check_id``; see each check's docstring for what it measures."""
    return get_check(check_id)(observations, groups=groups, reference=reference, policy=policy, seed=seed)


def run_matching_check(
    check_id: str,
    searches: SearchRun,
    *,
    groups: Sequence[str],
    reference: str,
    policy: Policy,
    seed: int,
    thresholds: Sequence[float],
    mode: str = "search",
) -> list[CheckResult]:
    """Run a face-matching check: one result per threshold, the policy's ``binding_threshold`` binding.

    ``mode`` is ``search`` (1:N: per probe) or ``compare`` (1:1: per probe-gallery pair).
    """
    from . import matching

    if check_id not in MATCHING_CHECKS:
        raise KeyError(f"unknown matching check {check_id!r}; checks: {', '.join(MATCHING_CHECKS)}")
    if mode not in ("search", "compare"):
        raise ValueError(f"match mode {mode!r}: search (1:N) or compare (1:1)")
    data = matching.Searches(**(searches.arrays(groups) if mode == "search" else searches.pairs(groups)))
    check = getattr(matching, check_id)
    results: list[CheckResult] = check(
        data,
        reference=reference,
        policy=policy,
        seed=seed,
        thresholds=tuple(thresholds),
        binding=policy.binding_threshold,
    )
    return results
