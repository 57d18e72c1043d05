"""The regression gate (``--baseline``): what got worse than a baseline report, beyond noise.

Reads finished reports only, like :mod:`.reports`; the statistics of a change are :mod:`.changes`'.
The level of a change is the current report's confidence (for the 1:1 checks, the higher of the two
checks' confidences).

What counts as a regression
---------------------------
A gap (group minus reference, larger is worse) whose change from the baseline is beyond noise
upwards: the change's interval lies wholly above 0. Only comparisons present in both reports
against the same reference are compared. A gap of this run that the baseline cannot speak to (its
check, group or comparison absent, another reference, no interval there) fails the gate as "not
compared with the baseline", with the way out: a gate that compared nothing is no evidence. A
comparison without a gap in this run is left to the check's own verdict. A verdict that got worse (``pass`` or ``inconclusive`` to ``fail``) counts only
together with a gap change beyond noise, so it never adds a regression of its own (a verdict can
flip on noise alone when a gap sits near its tolerance, and a gate must not be flaky); it is named
in the regression's message. Identical reports give no regression: every change is exactly 0.

For the 1:1 differential checks, at the same operating point (:mod:`.points`), for a group present
in both reports: its **ratio** to the reference moved further from 1 (``|ln ratio|`` grew) and the
log change is beyond noise in that direction (a tolerance applies either way, so 0.2 is as far from
parity as 5); or its **FMR or FNMR** is higher beyond noise. Each regression names the check, the
operating point, the group and both figures with their intervals. Two reports with no operating
point in common give one regression, "nothing compared": a run at another operating point is no
evidence.

A baseline that cannot be read is the user's mistake, said before anything runs
(:func:`read_baseline`), not a regression.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from .._format import interval, level_text
from .._text import printable
from ..report import Report, ReportError, read_report
from .changes import bounds, normal_change
from .points import SEPARATE_CHECKS, operating_points
from .reports import ParsedCheck, parse_report
from .values import NOT_COMPARED, WORSENED, FigureChange, Gap, Regression, Side, label, unmatched

__all__ = ["find_regressions", "ratio_regressions", "read_baseline"]


def read_baseline(path: str | os.PathLike[str], *, option: str) -> Report:
    """The baseline report ``option`` (``--baseline``, as the caller spells it) names.

    Raises
    ------
    ReportError
        Naming the option, the file, what is wrong with it (missing, a directory, a FIFO or device,
        unreadable, not JSON, not a conformance report) and the way out: the run must not start
        against a baseline it cannot read (a usage error, exit 2), as it would against a typo.
    """
    try:
        return read_report(path)
    except ReportError as error:
        problem = str(error).rstrip(".")
        if "pass " not in problem.lower():  # the reader's message names no way out: say which file to give
            problem += f"; give {option} the report.json an earlier run wrote (conformance run: in its report folder)"
        raise ReportError(f"{option} {problem}, or leave {option} out to run without the regression gate") from None


def find_regressions(current: Report, baseline: Report) -> list[Regression]:
    """Gaps of ``current`` that are worse than ``baseline``'s beyond noise.

    For each comparison (check, group, reference) present in both reports with a gap and its
    interval, the change ``current - baseline`` gets a two-sided interval at the current check's
    confidence by the normal approximation from both reported gap intervals (see the module's
    docstring); it is a regression when that interval lies wholly above 0.

    Parameters
    ----------
    current, baseline
        :class:`~conformance.report.Report` values (:func:`read_baseline`, :func:`~conformance.report.read_report`).

    Returns
    -------
    list of Regression
        In the current report's order of checks and groups; empty when nothing got worse beyond
        noise, and always for two identical reports.

    Raises
    ------
    TypeError
        When either is not a :class:`~conformance.report.Report` (a dict: :meth:`~conformance.report.Report.from_json`).
    """
    now = parse_report(current, "current report", "current")
    before = parse_report(baseline, "baseline report", "baseline")
    found = []
    for check in now.checks.values():
        if check.id in SEPARATE_CHECKS:  # ratio-decided checks: ratio_regressions below
            continue
        old = before.checks.get(check.key)
        uncompared: dict[str, str] = {}  # group -> why the baseline cannot speak to its gap
        for group, gap in check.gaps.items():
            if gap.difference is None or gap.ci is None:
                continue  # no gap now: the check's own verdict says why, and there is nothing to compare
            base = None if old is None else old.gaps.get(group)
            why = _why_not_compared(check.key, group, gap.reference, old, base, before.skipped)
            if why:
                uncompared[group] = why
                continue
            assert base is not None
            assert base.difference is not None
            assert base.ci is not None
            change = normal_change(
                base.difference, base.ci, base.level, gap.difference, gap.ci, gap.level, check.confidence
            )
            if change.direction <= 0:
                continue
            assert change.statistic is not None  # the normal approximation always gives both
            assert change.p_value is not None
            message = (
                f"{printable(label(*check.key))}: {printable(group)} vs {printable(gap.reference)} gap {gap.difference:.3f} "
                f"{interval(gap.ci)} is worse than the baseline's {base.difference:.3f} {interval(base.ci)} "
                f"beyond noise (change {change.difference:+.3f} {interval(change.ci)} at "
                f"{level_text(change.level)}, p = {change.p_value:.2g})"
            )
            if (base.verdict, gap.verdict) in WORSENED:
                message += f"; verdict {base.verdict} -> {gap.verdict}"
            found.append(
                Regression(
                    check=check.id,
                    group=group,
                    reference=gap.reference,
                    baseline_gap=base.difference,
                    baseline_ci=base.ci,
                    current_gap=gap.difference,
                    current_ci=gap.ci,
                    change=change.difference,
                    change_ci=change.ci,
                    level=change.level,
                    statistic=change.statistic,
                    p_value=change.p_value,
                    baseline_verdict=base.verdict,
                    current_verdict=gap.verdict,
                    message=message,
                    threshold=check.threshold,
                )
            )
        if uncompared:
            found.append(_not_compared(check.id, check.threshold, uncompared))
    if now.typed is not None and before.typed is not None:
        found += ratio_regressions(now.typed, before.typed)
    return found


def _why_not_compared(
    key: tuple[str, float | None],
    group: str,
    reference: str,
    old: ParsedCheck | None,
    base: Gap | None,
    skipped: Mapping[str, str],
) -> str:
    """Why the baseline cannot speak to this run's gap of ``group`` ("" when it can).

    A gate that passes because it compared nothing is a silent wrong verdict (rt14c: a baseline
    grouped by another column, narrowed with ``--checks`` or from an incomplete run let a run that
    misgenders every trans woman through). Like a missing snapshot in a snapshot test, what the
    baseline lacks fails the gate, with the way out.
    """
    if old is None:
        if key[0] in skipped:
            return f"the baseline did not run the check ({skipped[key[0]]})"
        return "the baseline has no result for the check (made with other --checks, or another kit version)"
    if base is None:
        if old.reference != reference and group in old.groups:
            return f"the baseline compared with {old.reference}"
        if not old.gaps:
            return f"the baseline's check has no comparison (its verdict: {old.verdict})"
        return "the baseline has no such comparison (other groups: another --group-by, or other data)"
    if base.reference != reference:
        return f"the baseline compared with {base.reference}"
    if base.difference is None or base.ci is None:
        return f"the baseline's gap has no interval (its verdict there: {base.verdict})"
    return ""


def _not_compared(check_id: str, threshold: float | None, uncompared: Mapping[str, str]) -> Regression:
    """One entry for a check whose gaps (some or all) the baseline cannot speak to, naming each and why."""
    reasons: dict[str, list[str]] = {}
    for group, why in uncompared.items():
        reasons.setdefault(why, []).append(group)
    said = "; ".join(f"{', '.join(groups)}: {why}" for why, groups in reasons.items())
    return _nothing_compared(
        check_id,
        f"{label(check_id, threshold)}: {NOT_COMPARED} for {said}. A gate that compared nothing there is "
        "no evidence: make the baseline with the same checks, grouping and reference as this run "
        "(a complete run), or leave --baseline out",
        group=", ".join(uncompared),
        threshold=threshold,
        figure="not compared",
    )


def _nothing_compared(
    check_id: str,
    message: str,
    *,
    group: str = "",
    threshold: float | None = None,
    figure: str,
    operating_point: str | None = None,
) -> Regression:
    """A gate entry for what the baseline cannot speak to: no figures, only the message saying what and why."""
    nan = (math.nan, math.nan)
    return Regression(
        check=check_id,
        group=group,
        reference="",
        baseline_gap=math.nan,
        baseline_ci=nan,
        current_gap=math.nan,
        current_ci=nan,
        change=math.nan,
        change_ci=nan,
        level=math.nan,
        statistic=math.nan,
        p_value=math.nan,
        baseline_verdict="",
        current_verdict="",
        message=printable(message),
        threshold=threshold,
        figure=figure,
        operating_point=operating_point,
    )


def ratio_regressions(current: Report, baseline: Report) -> list[Regression]:
    """Ratios that moved away from 1, and rates that rose, beyond noise, at the same operating points.

    See the module's docstring. In the current report's order of checks, then groups (ratio first).
    """
    found: list[Regression] = []
    points = operating_points([baseline, current])
    nothing = unmatched(points)
    if nothing:
        # The gate must not pass by comparing nothing: a run at another operating point is no evidence.
        found.append(
            _nothing_compared(
                points[0].check,
                "nothing compared: " + nothing.replace("#1", "the baseline", 1).replace("#2", "this run", 1),
                figure="operating point",
                operating_point="none in common",
            )
        )
        return found
    for point in points:
        if point.verdicts[0] is None or point.verdicts[1] is None:
            continue
        rate_name = "FMR" if point.check == "false_match_differential" else "FNMR"
        for g in point.groups:
            candidates: list[tuple[str, Side, Side, FigureChange]] = []
            before, now, moved = g.ratios[0], g.ratios[1], g.ratio_changes[1]
            if before is not None and now is not None and moved is not None and before.value and now.value:
                further = abs(math.log(now.value)) > abs(math.log(before.value))
                away = moved.direction == (1 if now.value > 1 else -1)
                if further and away:
                    candidates.append(("ratio", before, now, moved))
            before, now, moved = g.rates[0], g.rates[1], g.rate_changes[1]
            if before is not None and now is not None and moved is not None and moved.direction > 0:
                candidates.append((rate_name, before, now, moved))
            for figure, old, new, moved in candidates:
                ratio = figure == "ratio"
                reference = point.references[1] or ""
                who = f"{g.group} vs {reference} ratio" if ratio else f"{g.group} {figure}"
                how = "further from 1 than" if ratio else "higher than"
                threshold = point.thresholds[1]
                at = (
                    f" (threshold {threshold:.6g}, baseline {point.thresholds[0]:.6g})"
                    if threshold is not None and point.thresholds[0] is not None
                    else ""
                )
                message = (
                    f"{point.check} at {point.label}{at}: {who} {new.text(ratio)} is {how} the baseline's "
                    f"{old.text(ratio)} beyond noise ({'factor' if moved.scale == 'log' else 'change'} "
                    f"{moved.text.removeprefix('▲ ').removeprefix('▼ ')} at {level_text(moved.level)}, "
                    f"p = {moved.p_value:.2g})"
                )
                if ratio and (old.verdict, new.verdict) in WORSENED:
                    message += f"; verdict {old.verdict} -> {new.verdict}"
                old_ci = bounds(old) or (math.nan, math.nan)
                new_ci = bounds(new) or (math.nan, math.nan)
                found.append(
                    Regression(
                        check=point.check,
                        group=g.group,
                        reference=reference,
                        baseline_gap=float(old.value or 0.0),
                        baseline_ci=old_ci,
                        current_gap=float(new.value or 0.0),
                        current_ci=new_ci,
                        change=moved.value,
                        change_ci=moved.ci,
                        level=moved.level,
                        statistic=moved.statistic,
                        p_value=moved.p_value,
                        baseline_verdict=old.verdict or "",
                        current_verdict=new.verdict or "",
                        message=printable(message),
                        threshold=threshold,
                        figure=figure,
                        operating_point=point.label,
                    )
                )
    return found
