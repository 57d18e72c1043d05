"""The named checks. Ids are stable: they appear in reports and in policy files.

Each check is a pure function ``check(observations, *, groups, reference, policy, seed)`` that
returns a :class:`~conformance.results.CheckResult`; :func:`run_check` runs one by id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..results import deciding  # the one reading of which result decides a check (re-exported)
from .check_ids import (
    CHECK_IDS,
    COMPARISON_CHECKS,
    GENDER_CHECKS,
    MATCHING_CHECKS,
    SEARCH_CHECKS,
    SUMMARIES,
    unknown_checks,
)

if TYPE_CHECKING:
    from ..matching import ComparisonRun, SearchRun
    from ..observation import Observations
    from ..policy import Policy
    from ..results import CheckResult

__all__ = [
    "CHECK_IDS",
    "COMPARISON_CHECKS",
    "GENDER_CHECKS",
    "MATCHING_CHECKS",
    "SEARCH_CHECKS",
    "SUMMARIES",
    "Check",
    "deciding",
    "get_check",
    "run_check",
    "run_matching_check",
]


class Check(Protocol):
    def __call__(
        self, observations: Observations, *, groups: Sequence[str], reference: str, policy: Policy, seed: int
    ) -> CheckResult: ...


def get_check(check_id: str) -> Check:
    """The gender check function with this id; KeyError naming the known ids otherwise."""
    from . import gender

    if check_id not in GENDER_CHECKS:
        raise KeyError(f"unknown gender check {check_id!r}; checks: {', '.join(GENDER_CHECKS)}")
    check: Check = getattr(gender, check_id)
    return check


def run_check(
    check_id: str,
    data: Observations | SearchRun | ComparisonRun,
    *,
    groups: Sequence[str],
    reference: str,
    policy: Policy,
    seed: int,
    thresholds: Sequence[float] = (),
    mode: str = "search",
) -> CheckResult:
    """Run the check ``check_id`` (any of :data:`CHECK_IDS`); see each check's docstring for what it measures.

    A gender check reads :class:`~conformance.observation.Observations` (``conformance.analyze``). A
    face-matching check reads a :class:`~conformance.matching.SearchRun` or a
    :class:`~conformance.matching.ComparisonRun` (``conformance.match``), makes one result per threshold
    (:func:`run_matching_check`, with ``thresholds`` and ``mode``) and this returns the deciding one:
    the policy's binding threshold's, which the built-in suite asserts.

    Raises
    ------
    KeyError
        For an id that is not a check, naming the checks.
    TypeError
        When ``data`` is not what the check reads, saying what it reads.
    """
    from ..matching import ComparisonRun, SearchRun
    from ..observation import Observations

    if check_id not in CHECK_IDS:
        raise KeyError(unknown_checks([check_id]))
    if check_id in MATCHING_CHECKS:
        if not isinstance(data, (SearchRun, ComparisonRun)):
            raise TypeError(
                f"{check_id} reads face searches or 1:1 comparisons (conformance.match), not {type(data).__name__}"
            )
        if isinstance(data, SearchRun):  # the binding threshold is always among those evaluated
            thresholds = tuple(sorted({*map(float, thresholds), float(policy.binding_threshold)}))
        results = run_matching_check(
            check_id,
            data,
            groups=groups,
            reference=reference,
            policy=policy,
            seed=seed,
            thresholds=thresholds,
            mode=mode,
        )
        return deciding(results)
    if not isinstance(data, Observations):
        raise TypeError(f"{check_id} reads observations (conformance.analyze), not {type(data).__name__}")
    return get_check(check_id)(data, groups=groups, reference=reference, policy=policy, seed=seed)


def run_matching_check(
    check_id: str,
    searches: SearchRun | ComparisonRun,
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
    from ..matching import ComparisonRun, match_mode
    from . import matching

    if isinstance(searches, ComparisonRun):
        return _comparison_check(check_id, searches, reference=reference, policy=policy, seed=seed)
    if check_id in COMPARISON_CHECKS:
        raise ValueError(
            f"{check_id} measures 1:1 comparisons of every photo (--analyzer embeddings:FILE.npy or scores:FILE.csv); "
            "a face-search run has false_match_gap and false_non_match_gap"
        )
    if check_id not in MATCHING_CHECKS:
        raise KeyError(f"unknown matching check {check_id!r}; checks: {', '.join(MATCHING_CHECKS)}")
    match_mode(mode)
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


def _comparison_check(
    check_id: str, run: ComparisonRun, *, reference: str, policy: Policy, seed: int
) -> list[CheckResult]:
    """A check of a 1:1 comparison run: its stated thresholds are the run's, its targets the policy's."""
    from . import biometrics

    if check_id not in COMPARISON_CHECKS:
        raise ValueError(
            f"{check_id} measures face searches (a manifest with a role column); a 1:1 comparison run has "
            f"{', '.join(COMPARISON_CHECKS)}"
        )
    common: dict[str, Any] = {"reference": reference, "policy": policy, "seed": seed}
    if check_id == "failure_to_acquire_gap":
        return [biometrics.failure_to_acquire_gap(run.counts, **common)]
    if check_id == "equitability":
        return [
            biometrics.equitability(
                run.counts, thresholds=run.stated, membership=run.membership, grouping=run.grouping, **common
            )
        ]
    check = getattr(biometrics, check_id)
    results: list[CheckResult] = check(run.counts, thresholds=run.stated, **common)
    return results
