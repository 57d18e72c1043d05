"""``assert_*`` helpers for users' own tests: run a check, raise :class:`ConformanceFailure` with a table.

>>> from conformance import assert_check                      # doctest: +SKIP
>>> assert_check("misgender_gap", observations, groups=groups)  # doctest: +SKIP

A failure reads like this (the worst comparison first, then every group)::

    misgender_gap FAILED: trans vs cis gap 0.270 [0.209, 0.330] exceeds tolerance 0.05  (Newcombe, 95%)
      group       photos  subjects  misgendered  rate   95% CI
      cis            300        75           12  0.040  [0.023, 0.069]
      trans          200        50           62  0.310  [0.250, 0.377]  <- worst
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec

from ._format import fixed, interval
from ._text import printable, printable_lines
from ._wording import (
    _STRADDLES,
    CEILING_REFERENCE,
    _relation,
    detectable,
    finding,
    inconclusive_reason,
    largest_gap,
    rate_label,
    why_above_ceiling,
)
from .errors import ConformanceFailure

if TYPE_CHECKING:
    from .matching import ComparisonRun, SearchRun
    from .observation import Observations
    from .policy import Policy
    from .results import CheckResult

P = ParamSpec("P")

__all__ = [
    "RunLink",
    "assert_calibrated",
    "assert_check",
    "assert_consistent_across_photos",
    "assert_equitable",
    "assert_no_detection_failure_gap",
    "assert_no_failure_to_acquire_gap",
    "assert_no_false_match_differential",
    "assert_no_false_match_gap",
    "assert_no_false_non_match_differential",
    "assert_no_false_non_match_gap",
    "assert_no_misgender_gap",
    "assert_nonbinary_representable",
    "assert_result",
    "assert_transformation_invariant",
    "error_rate_line",
    "finding",
    "format_result",
    "inconclusive_reason",
    "largest_gap",
    "lend_run",
    "not_applicable_reason",
    "rate_label",
    "verdict_line",
]


def _one_line(function: Callable[P, str]) -> Callable[P, str]:
    """The function's line made printable: whatever value it holds, it stays one inert line."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> str:
        return printable(function(*args, **kwargs))

    return wrapper


# Every verdict a check may carry in a report, as the headline of its result says it.
_HEADLINE_LABELS = {
    "pass": "PASSED",
    "fail": "FAILED",
    "inconclusive": "INCONCLUSIVE",
    "not applicable": "NOT APPLICABLE",
    "not run": "NOT RUN",
}


def not_applicable_reason(result: CheckResult) -> str:
    """Why a check cannot speak to this data, and what would make it applicable."""
    reasons = [c.note for c in result.comparisons if c.verdict == "not applicable" and c.note]
    reasons += [n.removeprefix("not applicable: ") for n in result.notes if n.startswith("not applicable: ")]
    return "; ".join(dict.fromkeys(reasons)) or "the data cannot speak to this check"


def error_rate_line(result: CheckResult) -> str:
    """The one-sided error rate each verdict direction was tested at (empty if the result does not say)."""
    if result.alpha_pass is None or result.alpha_fail is None:
        return ""
    tested = sum(1 for c in result.comparisons if c.p_adjusted is not None)
    family = f" (Holm over {tested} comparisons)" if tested > 1 else ""
    line = (
        f"error rates: a wrong pass at most {result.alpha_pass:.3g} per comparison, "
        f"a wrong fail at most {result.alpha_fail:.3g} for the check{family}"
    )
    if "on Wilson limits a wrong pass is nominal" in result.method:
        # The method says so: on Wilson limits the pass direction's rate is nominal, not guaranteed.
        line += " (the wrong-pass rate nominal on Wilson limits: it can exceed the stated one)"
    return line


@_one_line
def headline(result: CheckResult) -> str:
    """One line: the check, its verdict and the comparison that decided it."""
    label = _HEADLINE_LABELS.get(result.verdict) or str(result.verdict).upper()
    if result.threshold is not None:
        label = f"at similarity threshold {result.threshold:g} {label}"
    worst = result.worst_comparison
    details = result.typed_details
    static = details.static
    if static is not None and static.verdict == "fail":
        return f"{result.id} {label}: {static.reason}"
    if result.verdict == "not applicable":
        return f"{result.id} {label}: {not_applicable_reason(result)}"
    if worst is None:
        return f"{result.id} {label}: {'; '.join(result.notes) or 'nothing to compare'}"
    ratio = details.ratio_for(worst.group)
    if ratio is not None:  # a verdict on a rate ratio (1:1 differentials): show the ratio it was decided on
        ratio_ci = _pair(ratio.ci)
        what = _relation(worst.verdict, ratio_ci, worst.tolerance, ratio=True)
        level = ratio.level if ratio.level is not None else result.confidence
        return (
            f"{result.id} {label}: {worst.group} vs {worst.reference} ratio {fixed(ratio.ratio)} "
            f"{interval(ratio_ci)} {what} tolerance x{worst.tolerance:g} "
            f"({worst.method}, {level:.4g} level){'; ' + worst.note if worst.note else ''}"
        )
    what = _relation(worst.verdict, worst.ci, worst.tolerance)
    if worst.ci is None:
        return f"{result.id} {label}: {worst.note or 'nothing to compare'}"
    vs = worst.group if worst.reference.startswith("none") else f"{worst.group} vs {worst.reference} gap"
    level = worst.level if worst.level is not None else result.confidence
    other_way = (
        f" (the other way: {worst.reference} fares worse)"
        if worst.verdict == "fail" and worst.difference is not None and worst.difference < 0
        else ""
    )
    limit = "ceiling" if worst.reference == CEILING_REFERENCE else "tolerance"
    line = (
        f"{result.id} {label}: {vs} {fixed(worst.difference)} {interval(worst.ci)} {what} {limit} "
        f"{worst.tolerance:g}{other_way}  ({worst.method}, {level:.4g} level)"
    )
    if above := why_above_ceiling(worst.group, worst.reference, worst.verdict, worst.note):
        line += f"; {above}"  # rt14e F1: why equal failure fails
    line += _open_ceilings(result)
    if worst.verdict == "inconclusive":
        reason = inconclusive_reason(worst)
        # "straddles" above already says it when that is the reason.
        extras = [] if reason == _STRADDLES and what == "straddles" else [f"inconclusive: {reason}"]
        if worst.min_detectable is not None:
            extras.append(f"with this data {detectable(worst.min_detectable)}")
        if worst.subjects_needed is not None:
            extras.append(
                f"if the gap is as seen, about {worst.subjects_needed[0]} people in {worst.group} and "
                f"{worst.subjects_needed[1]} in {worst.reference} would decide it with 80% power"
                + (
                    f" (min_subjects {worst.subjects_floor} in the policy sets that floor: a group of fewer decides nothing)"
                    if worst.subjects_floor is not None
                    else ""
                )
            )
        if extras:
            line += "; " + "; ".join(extras)
    larger = largest_gap(result)
    if larger is not None:
        line += f"; largest gap: {finding(larger)}"
    return line


def _pair(ci: tuple[float | None, float | None] | None) -> tuple[float, float] | None:
    """An interval with both bounds, else None."""
    if ci is None or ci[0] is None or ci[1] is None:
        return None
    return (ci[0], ci[1])


def result_label(result: CheckResult) -> str:
    """A result's name in the console: its id, with its threshold (and whether it binds) for matching checks.

    The one spelling of ``id@threshold (binding)``: the verdict lines here and the plugin's summary read it.
    """
    if result.threshold is None:
        return result.id
    return f"{result.id}@{result.threshold:g}{' (binding)' if result.binding else ''}"


@_one_line
def verdict_line(result: CheckResult) -> str:
    """One aligned line of the terminal summary for a check's result."""
    verdict = str(result.verdict).upper()
    comparisons = result.comparisons
    # A group can be in several comparisons (every two groups): the deciding one is the worst comparison.
    worst = result.worst_comparison
    details = result.typed_details
    static = details.static
    if static is not None and static.verdict == "fail":
        return f"{verdict:<14} {result_label(result):<28}  static: the vocabulary cannot express a nonbinary identity or abstain"
    notes = result.notes
    if result.verdict == "not applicable":
        reason = next((c.note for c in comparisons if c.verdict == "not applicable"), "")
        if not reason and notes:
            reason = notes[-1].removeprefix("not applicable: ")
        return f"{'NOT APPLICABLE':<14} {result_label(result):<28}  {reason or 'the data cannot speak to this check'}"
    if not comparisons and result.verdict in ("fail", "pass") and notes:
        # A verdict decided without comparisons of its own (equitability, from the differentials): its
        # headline is the reason, never "nothing to compare" under a FAIL (rt14c F9).
        return f"{verdict:<14} {result_label(result):<28}  {notes[0]}"
    if worst is None or worst.difference is None:
        why = worst.note if worst is not None else ""
        if not why:
            # The check's own note saying why there is nothing (no mated probes, one group only, ...).
            why = next((n for n in notes if "nothing" in n), "")
        return f"{verdict:<14} {result_label(result):<28}  nothing to compare" + (f": {why}" if why else "")
    ratio = details.ratio_for(worst.group)
    if ratio is not None:
        lo, hi = ratio.ci or (None, None)
        detail = (
            f"  {worst.group}: ratio {fixed(ratio.ratio)} [{fixed(lo)}, {fixed(hi)}] tolerance x{worst.tolerance:g}"
        )
        if result.verdict == "inconclusive":
            detail += f": {_ratio_reason(worst.note, lo, hi, float(worst.tolerance))}"
    else:
        lo, hi = worst.ci or (None, None)
        pair = worst.group if worst.reference.startswith("none") else f"{worst.group} vs {worst.reference}"
        if worst.reference == CEILING_REFERENCE:  # a group's rate against the ceiling: no signed gap
            detail = f"  {pair}: {worst.difference:.3f} [{fixed(lo)}, {fixed(hi)}] ceiling {worst.tolerance:g}"
        else:
            detail = f"  {pair}: {worst.difference:+.3f} [{fixed(lo)}, {fixed(hi)}] tolerance {worst.tolerance:g}"
        above = why_above_ceiling(worst.group, worst.reference, worst.verdict, worst.note)
        if above:
            detail += f": {above}"  # rt14e F1: the console says why equal failure fails
    if worst.verdict == "inconclusive" and ratio is None:
        detail += f": {inconclusive_reason(worst)}"
    larger = largest_gap(result)
    if larger is not None:
        detail += f"; largest gap: {finding(larger)}"
    detail += _open_ceilings(result)
    elsewhere = details.nonbinary_label_elsewhere
    if elsewhere is not None:
        # Representability's pass says nothing of the women and men given the nonbinary label: say it here.
        detail += (
            f"; but the nonbinary label was given to {elsewhere.photos} of {elsewhere.of} photos of "
            "women and men too (not correctly gendered)"
        )
    return f"{verdict:<14} {result_label(result):<28}{detail}"


def _ratio_reason(note: str, lo: float | None, hi: float | None, tolerance: float) -> str:
    """Why a ratio comparison is inconclusive (rt14c F9: the console named no reason)."""
    if note:
        return note
    if hi is None:
        return "the interval has no upper limit: too few errors to bound the ratio"
    if lo is not None and (lo < tolerance < hi or lo < 1.0 / tolerance < hi):
        return "the interval straddles the tolerance"
    return "the data cannot decide it"


def format_result(result: CheckResult, footer: str = "") -> str:
    """The failure message: headline, one row per group, the worst marked, and a provenance footer."""
    worst = result.worst_comparison
    # The row of the group faring worse in the deciding comparison (either side of it).
    worst_group = None
    if worst is not None and worst.verdict not in ("pass", "not applicable"):
        worst_group = printable(worst.reference if (worst.difference or 0.0) < 0 else worst.group)
    ci_label = f"{result.confidence:.0%} CI"
    rows = [("group", "photos", "subjects", printable(result.count_label), "n", rate_label(result), ci_label)]
    for name, rate in result.groups.items():
        # Escaped before the widths are measured: a group name is one cell of one line, as printed.
        figures = (str(rate.photos), str(rate.subjects), str(rate.count), str(rate.n), fixed(rate.rate))
        rows.append((printable(name), *figures, interval(rate.ci)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [headline(result)]
    for row in rows:
        cells = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:6], widths[1:6], strict=True)), row[6]]
        text = "  " + "  ".join(cells)
        if row[0] == worst_group:
            text = text.ljust(len(text)) + "  <- worst"
        lines.append(text.rstrip() if row[0] != worst_group else text)
    lines.extend(f"  note: {printable(note)}" for note in result.notes)
    if rates := error_rate_line(result):
        lines.append(f"  {rates}")
    if footer:
        lines.append(f"  {printable(footer)}")
    return printable_lines("\n".join(lines))


def assert_result(result: CheckResult, *, inconclusive: str = "fail", footer: str = "") -> CheckResult:
    """Raise :class:`ConformanceFailure` if ``result`` failed; treat inconclusive as policy says.

    ``inconclusive`` is ``"fail"`` (raise), ``"xfail"`` (``pytest.xfail``) or ``"pass"`` (return).
    A ``not applicable`` result (the data cannot speak to the check by construction) never fails:
    the test is skipped with the reason and what would make the check applicable.
    """
    __tracebackhide__ = True
    if result.verdict == "not applicable":
        import pytest

        pytest.skip(printable(f"{result.id} NOT APPLICABLE: {not_applicable_reason(result)}"))
    if result.verdict == "fail" or (result.verdict == "inconclusive" and inconclusive == "fail"):
        raise ConformanceFailure(format_result(result, footer), result)
    if result.verdict == "inconclusive" and inconclusive == "xfail":
        import pytest

        pytest.xfail(format_result(result, footer))
    return result


@dataclass(frozen=True)
class RunLink:
    """What a pytest run of the kit lends the helpers for its own observations.

    The run's grouping (``--conformance-group-by``), reference, policy and seed are the helpers'
    defaults, and ``record`` files a result into the run's reports, summary and JUnit XML, as the
    ``conformance_check`` fixture does.
    """

    groups: Sequence[str]
    reference: str
    policy: Policy
    seed: int
    compute: Callable[[str], CheckResult]  # the run's result for a check id, computed once per run
    record: Callable[[CheckResult], None]
    footer: str = ""
    # Told when a helper ran a check on the run's observations with other choices than the run's (rt14c F10):
    # (check id, what differed), so that the reports say so rather than that no test ran it.
    elsewhere: Callable[[str, str], None] | None = None


# Set by the pytest plugin while a test runs: observations -> the run's link, or None for observations
# that are not the run's (a test's own load_dataset and analyze). Outside a pytest run: None.
_RUN: ContextVar[Callable[[object], RunLink | None] | None] = ContextVar("conformance_run", default=None)


@contextmanager
def lend_run(find: Callable[[object], RunLink | None]) -> Iterator[None]:
    """Within the block, the helpers ask ``find`` whether observations are a run's (the plugin's glue)."""
    token = _RUN.set(find)
    try:
        yield
    finally:
        _RUN.reset(token)


def _run_for(observations: object) -> RunLink | None:
    find = _RUN.get()
    return None if find is None else find(observations)


def assert_check(
    check_id: str,
    data: Observations | SearchRun | ComparisonRun,
    *,
    groups: Sequence[str] | None = None,
    reference: str | None = None,
    policy: Policy | None = None,
    seed: int | None = None,
    thresholds: Sequence[float] = (),
    mode: str = "search",
) -> CheckResult:
    """Run check ``check_id`` (any of ``CHECK_IDS``) on ``data`` and assert it passes under ``policy``.

    ``data`` is what the check reads (:func:`conformance.checks.run_check`): observations for a
    gender check, face searches or 1:1 comparisons for a matching check, whose deciding result (at
    the policy's binding threshold) is asserted. ``groups`` defaults to the default grouping (cis /
    trans / nonbinary / unknown) of ``data``'s dataset; ``policy`` to the built-in defaults; ``seed``
    to the kit's default seed.

    Called in a pytest run of the kit on the run's own observations (the ``conformance_observations``
    fixture), every choice left out is the run's: its grouping (``--conformance-group-by``),
    reference, policy and seed, and the result is recorded in the run's reports, summary and
    JUnit XML as ``conformance_check`` records it, so that a run which leaves a planned check out is
    reported incomplete, never a pass. A result made with other choices than the run's is asserted
    but not recorded: the reports describe the run's grouping and policy. Elsewhere, ``groups``
    defaults to the default grouping (cis / trans / nonbinary / unknown) of ``data``'s
    dataset, ``reference`` to ``cis``, ``policy`` to the built-in defaults and ``seed`` to the
    kit's default seed.
    """
    __tracebackhide__ = True
    from ._defaults import DEFAULT_SEED
    from .checks import run_check
    from .dataset import group_labels
    from .policy import load_policy

    run = _run_for(data)
    chosen_groups = list(groups) if groups is not None else None
    if run is not None:
        same = (
            (chosen_groups is None or chosen_groups == list(run.groups))
            and reference in (None, run.reference)
            and (policy is None or policy == run.policy)
            and seed in (None, run.seed)
        )
        if not same and run.elsewhere is not None:
            differs = [
                f"{name} {shown}"
                for name, given, own in (
                    ("reference", reference, run.reference),
                    ("seed", seed, run.seed),
                )
                if given is not None and given != own
                for shown in (repr(given),)
            ]
            if chosen_groups is not None and chosen_groups != list(run.groups):
                differs.append("its own groups")
            if policy is not None and policy != run.policy:
                differs.append("its own policy")
            run.elsewhere(check_id, ", ".join(differs))
        run = run if same else None
    if run is not None:
        # The run's own result, the one conformance_check and the regression gate see.
        result = run.compute(check_id)
        run.record(result)
        return assert_result(result, inconclusive=run.policy.inconclusive, footer=run.footer)
    policy = policy or load_policy()
    result = run_check(
        check_id,
        data,
        groups=chosen_groups if chosen_groups is not None else group_labels(data.dataset),
        reference=reference or "cis",
        policy=policy,
        seed=DEFAULT_SEED if seed is None else seed,
        thresholds=thresholds,
        mode=mode,
    )
    return assert_result(result, inconclusive=policy.inconclusive)


# One helper per check id, named after it: each is assert_check with its id, taking the same keywords.


def assert_no_misgender_gap(observations: Observations, **kwargs: Any) -> CheckResult:
    """Assert ``misgender_gap`` passes: no group misgendered more than the reference beyond tolerance."""
    __tracebackhide__ = True
    return assert_check("misgender_gap", observations, **kwargs)


def assert_nonbinary_representable(observations: Observations, **kwargs: Any) -> CheckResult:
    """Assert ``nonbinary_representability`` passes: the vocabulary and the data leave nonbinary people ungendered."""
    __tracebackhide__ = True
    return assert_check("nonbinary_representability", observations, **kwargs)


def assert_consistent_across_photos(observations: Observations, **kwargs: Any) -> CheckResult:
    """Assert ``same_person_consistency`` passes: no group's people change label across their photos more."""
    __tracebackhide__ = True
    return assert_check("same_person_consistency", observations, **kwargs)


def assert_transformation_invariant(observations: Observations, **kwargs: Any) -> CheckResult:
    """Assert ``transformation_invariance`` passes: benign transformations flip no group's labels more.

    The observations must hold the analyzer's answers about transformed variants (a run of
    ``conformance run`` or the plugin); without them the check is not applicable and the test skipped.
    """
    __tracebackhide__ = True
    return assert_check("transformation_invariance", observations, **kwargs)


def assert_calibrated(observations: Observations, **kwargs: Any) -> CheckResult:
    """Assert ``confidence_calibration`` passes: no group more overconfident than the reference beyond tolerance."""
    __tracebackhide__ = True
    return assert_check("confidence_calibration", observations, **kwargs)


def assert_no_detection_failure_gap(observations: Observations, **kwargs: Any) -> CheckResult:
    """Assert ``detection_failure_gap`` passes: no group's faces missed (or calls failed) more often."""
    __tracebackhide__ = True
    return assert_check("detection_failure_gap", observations, **kwargs)


def assert_no_false_match_gap(searches: SearchRun, **kwargs: Any) -> CheckResult:
    """Assert ``false_match_gap`` passes at the binding threshold: no group's probes falsely matched more."""
    __tracebackhide__ = True
    return assert_check("false_match_gap", searches, **kwargs)


def assert_no_false_non_match_gap(searches: SearchRun, **kwargs: Any) -> CheckResult:
    """Assert ``false_non_match_gap`` passes at the binding threshold: no group's mated probes missed more."""
    __tracebackhide__ = True
    return assert_check("false_non_match_gap", searches, **kwargs)


def assert_no_false_match_differential(comparisons: ComparisonRun, **kwargs: Any) -> CheckResult:
    """Assert ``false_match_differential`` passes: each group's FMR within the ratio tolerance of the reference's."""
    __tracebackhide__ = True
    return assert_check("false_match_differential", comparisons, **kwargs)


def assert_no_false_non_match_differential(comparisons: ComparisonRun, **kwargs: Any) -> CheckResult:
    """Assert ``false_non_match_differential`` passes: each group's FNMR within the ratio tolerance."""
    __tracebackhide__ = True
    return assert_check("false_non_match_differential", comparisons, **kwargs)


def assert_no_failure_to_acquire_gap(comparisons: ComparisonRun, **kwargs: Any) -> CheckResult:
    """Assert ``failure_to_acquire_gap`` passes: no group's photos left without a template more often."""
    __tracebackhide__ = True
    return assert_check("failure_to_acquire_gap", comparisons, **kwargs)


def assert_equitable(comparisons: ComparisonRun, **kwargs: Any) -> CheckResult:
    """Assert ``equitability`` passes: the ISO/IEC 19795-10-style disclosure finds the system equitable."""
    __tracebackhide__ = True
    return assert_check("equitability", comparisons, **kwargs)


def _open_ceilings(result: CheckResult) -> str:
    """The groups whose rate against detection_failure_gap's ceiling is inconclusive, for the console line.

    An inconclusive ceiling was named nowhere on the console when a gap decided the line (rt14f F7: 25% missed in
    every group printed only the gap's "straddles the tolerance").
    """
    deciding = result.worst_comparison
    rows = [
        c
        for c in result.comparisons
        if c.reference == CEILING_REFERENCE
        and c.verdict == "inconclusive"
        and c is not deciding
        and c.difference is not None
        # A group too small to decide anything is said by the gaps' line already ("fewer than ... subjects").
        and not c.note.startswith("fewer than")
    ]
    if not rows:
        return ""
    said = ", ".join(f"{c.group} {c.difference:.3f} {interval(c.ci)}" for c in rows)
    return f"; rate against the ceiling {rows[0].tolerance:g} undecided: {said}"
