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
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec

from ._text import printable, printable_lines
from .errors import ConformanceFailure

if TYPE_CHECKING:
    from .observation import Observations
    from .policy import Policy
    from .results import CheckResult

P = ParamSpec("P")

__all__ = [
    "assert_calibrated",
    "assert_check",
    "assert_consistent_across_photos",
    "assert_no_detection_failure_gap",
    "assert_no_misgender_gap",
    "assert_nonbinary_representable",
    "assert_result",
    "error_rate_line",
    "format_result",
    "not_applicable_reason",
    "verdict_line",
]


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _interval(ci: tuple[float, float] | None) -> str:
    return "n/a" if ci is None else f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"


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
    return (
        f"error rates: a wrong pass at most {result.alpha_pass:.3g} per comparison, "
        f"a wrong fail at most {result.alpha_fail:.3g} for the check{family}"
    )


@_one_line
def headline(result: CheckResult) -> str:
    """One line: the check, its verdict and the comparison that decided it."""
    label = _HEADLINE_LABELS.get(result.verdict) or str(result.verdict).upper()
    if result.threshold is not None:
        label = f"at similarity threshold {result.threshold:g} {label}"
    worst = result.worst_comparison
    static = result.details.get("static") if isinstance(result.details, dict) else None
    if static and static.get("verdict") == "fail":
        return f"{result.id} {label}: {static['reason']}"
    if result.verdict == "not applicable":
        return f"{result.id} {label}: {not_applicable_reason(result)}"
    if worst is None:
        return f"{result.id} {label}: {'; '.join(result.notes) or 'nothing to compare'}"
    what = {
        "fail": "exceeds",
        "pass": "within",
        "inconclusive": "straddles",
        "not applicable": "not judged against",
    }.get(worst.verdict, "against")
    ratio = _ratio_row(result.details, worst.group)
    if ratio is not None:  # a verdict on a rate ratio (1:1 differentials): show the ratio it was decided on
        return (
            f"{result.id} {label}: {worst.group} vs {worst.reference} ratio {_fmt(ratio.get('ratio'))} "
            f"{_interval(tuple(ratio['ci']) if ratio.get('ci') else None)} {what} tolerance x{worst.tolerance:g} "
            f"({worst.method}, {ratio.get('level', result.confidence):.4g} level){'; ' + worst.note if worst.note else ''}"
        )
    if worst.ci is None:
        return f"{result.id} {label}: {worst.note or 'nothing to compare'}"
    vs = worst.group if worst.reference.startswith("none") else f"{worst.group} vs {worst.reference} gap"
    level = worst.level if worst.level is not None else result.confidence
    other_way = (
        f" (the other way: {worst.reference} fares worse)"
        if worst.verdict == "fail" and worst.difference is not None and worst.difference < 0
        else ""
    )
    line = (
        f"{result.id} {label}: {vs} {_fmt(worst.difference)} {_interval(worst.ci)} {what} tolerance "
        f"{worst.tolerance:g}{other_way}  ({worst.method}, {level:.4g} level)"
    )
    if worst.verdict == "inconclusive":
        extras = [worst.note] if worst.note else []
        if worst.min_detectable is not None:
            extras.append(f"with this data a true gap of {_fmt(worst.min_detectable)} would fail with 80% power")
        if worst.subjects_needed is not None:
            extras.append(
                f"if the gap is as seen, about {worst.subjects_needed[0]} people in {worst.group} and "
                f"{worst.subjects_needed[1]} in {worst.reference} would decide it with 80% power"
            )
        if extras:
            line += "; " + "; ".join(extras)
    return line


def _ratio_row(details: object, group: str) -> dict[str, Any] | None:
    """The ratio a differential check decided ``group`` on (``details["ratios"]``), if it decides on ratios."""
    if not isinstance(details, Mapping) or "ratio_tolerance" not in details:
        return None
    return next((r for r in details.get("ratios", []) if isinstance(r, dict) and r.get("group") == group), None)


def _label(result: dict[str, object]) -> str:
    """A result's name in summaries: its id, and its similarity threshold for matching checks."""
    threshold = result.get("threshold")
    details = result.get("details")
    binding = isinstance(details, dict) and bool(details.get("binding"))
    return (
        f"{result['id']}@{threshold:g}{' (binding)' if binding else ''}"
        if isinstance(threshold, (int, float))
        else str(result["id"])
    )


@_one_line
def verdict_line(result: dict[str, object]) -> str:
    """One aligned line of the terminal summary for a result dict (as reports carry them)."""
    comparisons = result.get("comparisons") or []
    assert isinstance(comparisons, list)
    # A group can be in several comparisons (every two groups): the deciding one is named by both sides.
    worst = next(
        (
            c
            for c in comparisons
            if c["group"] == result.get("deciding")
            and c.get("reference") == result.get("deciding_reference", c.get("reference"))
        ),
        None,
    )
    details = result.get("details")
    static = details.get("static") if isinstance(details, dict) else None
    if isinstance(static, dict) and static.get("verdict") == "fail":
        return f"{str(result['verdict']).upper():<13} {_label(result):<28}  static: the vocabulary cannot express a nonbinary identity or abstain"
    if result.get("verdict") == "not applicable":
        reason = next((str(c.get("note")) for c in comparisons if c.get("verdict") == "not applicable"), "")
        notes = result.get("notes")
        if not reason and isinstance(notes, list) and notes:
            reason = str(notes[-1]).removeprefix("not applicable: ")
        return f"{'NOT APPLICABLE':<13} {_label(result):<28}  {reason or 'the data cannot speak to this check'}"
    if worst is None or worst.get("difference") is None:
        return f"{str(result['verdict']).upper():<13} {_label(result):<28}  nothing to compare"
    detail = ""
    ratio = _ratio_row(details, str(worst["group"]))
    if ratio is not None:
        lo, hi = ratio.get("ci") or (None, None)
        detail = f"  {worst['group']}: ratio {_fmt(ratio.get('ratio'))} [{_fmt(lo)}, {_fmt(hi)}] tolerance x{worst['tolerance']:g}"
    elif worst is not None and worst.get("difference") is not None:
        lo, hi = worst["ci"] or (None, None)
        pair = (
            worst["group"]
            if str(worst.get("reference", "")).startswith("none")
            else f"{worst['group']} vs {worst.get('reference')}"
        )
        detail = f"  {pair}: {worst['difference']:+.3f} [{_fmt(lo)}, {_fmt(hi)}] tolerance {worst['tolerance']:g}"
    return f"{str(result['verdict']).upper():<13} {_label(result):<28}{detail}"


def format_result(result: CheckResult, footer: str = "") -> str:
    """The failure message: headline, one row per group, the worst marked, and a provenance footer."""
    worst = result.worst_comparison
    # The row of the group faring worse in the deciding comparison (either side of it).
    worst_group = None
    if worst is not None and worst.verdict not in ("pass", "not applicable"):
        worst_group = printable(worst.reference if (worst.difference or 0.0) < 0 else worst.group)
    ci_label = f"{result.confidence:.0%} CI"
    rows = [("group", "photos", "subjects", printable(result.count_label), "rate", ci_label)]
    for name, rate in result.groups.items():
        # Escaped before the widths are measured: a group name is one cell of one line, as printed.
        figures = (str(rate.photos), str(rate.subjects), str(rate.count), _fmt(rate.rate), _interval(rate.ci))
        rows.append((printable(name), *figures))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [headline(result)]
    for row in rows:
        cells = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:5], widths[1:5], strict=True)), row[5]]
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


def assert_check(
    check_id: str,
    observations: Observations,
    *,
    groups: Sequence[str] | None = None,
    reference: str = "cis",
    policy: Policy | None = None,
    seed: int | None = None,
) -> CheckResult:
    """Run check ``check_id`` on ``observations`` and assert it passes under ``policy``.

    ``groups`` defaults to the default grouping (cis / trans / nonbinary / unknown) of the
    observations' dataset; ``policy`` to the built-in defaults; ``seed`` to the kit's default seed.
    """
    __tracebackhide__ = True
    from .checks import run_check
    from .dataset import group_labels
    from .policy import load_policy
    from .session import DEFAULT_SEED

    policy = policy or load_policy()
    result = run_check(
        check_id,
        observations,
        groups=list(groups) if groups is not None else group_labels(observations.dataset),
        reference=reference,
        policy=policy,
        seed=DEFAULT_SEED if seed is None else seed,
    )
    return assert_result(result, inconclusive=policy.inconclusive)


def assert_no_misgender_gap(observations: Observations, **kwargs: object) -> CheckResult:
    """Assert ``misgender_gap`` passes: no group misgendered more than the reference beyond tolerance."""
    __tracebackhide__ = True
    return assert_check("misgender_gap", observations, **kwargs)  # type: ignore[arg-type]


def assert_nonbinary_representable(observations: Observations, **kwargs: object) -> CheckResult:
    """Assert ``nonbinary_representability`` passes: the vocabulary and the data leave nonbinary people ungendered."""
    __tracebackhide__ = True
    return assert_check("nonbinary_representability", observations, **kwargs)  # type: ignore[arg-type]


def assert_consistent_across_photos(observations: Observations, **kwargs: object) -> CheckResult:
    """Assert ``same_person_consistency`` passes."""
    __tracebackhide__ = True
    return assert_check("same_person_consistency", observations, **kwargs)  # type: ignore[arg-type]


def assert_calibrated(observations: Observations, **kwargs: object) -> CheckResult:
    """Assert ``confidence_calibration`` passes: no group more overconfident than the reference beyond tolerance."""
    __tracebackhide__ = True
    return assert_check("confidence_calibration", observations, **kwargs)  # type: ignore[arg-type]


def assert_no_detection_failure_gap(observations: Observations, **kwargs: object) -> CheckResult:
    """Assert ``detection_failure_gap`` passes."""
    __tracebackhide__ = True
    return assert_check("detection_failure_gap", observations, **kwargs)  # type: ignore[arg-type]
