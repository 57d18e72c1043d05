"""How a check's findings are put in words: the reasons, relations and headings every report shares.

A leaf module (results and number formatting only) so that reporting and the assert helpers say the
same thing without reporting importing the checks or the run (docs/explanation/architecture.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._format import fixed, interval

if TYPE_CHECKING:
    from .results import CheckResult, Comparison

__all__ = [
    "CEILING_REFERENCE",
    "DETECTABLE_ASSUMES",
    "DETECTABLE_POWER",
    "detectable",
    "detectable_parts",
    "finding",
    "inconclusive_reason",
    "largest_gap",
    "rate_label",
    "why_above_ceiling",
]

# The reference of a group's row against detection_failure_gap's ceiling (policy max_detection_failure): "none
# (...)" as every absolute row's, so that reports name the group alone.
CEILING_REFERENCE = "none (ceiling)"


def why_above_ceiling(group: str, reference: str, verdict: str, note: str) -> str:
    """For a row shown above detection_failure_gap's ceiling, why the check fails, in words (else empty).

    >>> why_above_ceiling("cis", "none (ceiling)", "fail", "cis: no face found on 299 of 300 photos, shown above")
    'no face found on 299 of 300 photos, shown above'
    """
    if reference != CEILING_REFERENCE or verdict != "fail":
        return ""
    return note.removeprefix(f"{group}: ")


# What a check's per-group figure is, where "rate" would mislead: calibration's figure is
# overconfidence (mean confidence minus the share labelled correctly), not a share of anything.
_RATE_LABELS = {"confidence_calibration": "overconfidence"}


# What the detectable gap assumes, said wherever the figure is: it is computed at the lower group's rate
# seen and across its two-sided 20% interval (checks._compare._plausible_rates), not at every rate that
# group might truly have; a true rate well beyond it can need a larger gap (red team 13c, finding 4).
DETECTABLE_ASSUMES = "if the lower group's true rate is near the one seen"
DETECTABLE_POWER = 0.8  # checks._compare.POWER; tests/test_detectable_wording.py holds them together


def detectable_parts(gap: float) -> tuple[str, str, str]:
    """An inconclusive comparison's detectable gap in words, as (before, the figure, after).

    In three parts so that a page can set the figure apart (report.html puts it in bold) and still say
    the same words as every other surface.

    >>> detectable_parts(0.4787)
    ('a true gap of ', '0.479', " would fail with 80% power, if the lower group's true rate is near the one seen")
    """
    return ("a true gap of ", fixed(gap), f" would fail with {DETECTABLE_POWER:.0%} power, {DETECTABLE_ASSUMES}")


def detectable(gap: float) -> str:
    """An inconclusive comparison's detectable gap in words, with what it assumes (every surface says this).

    >>> detectable(0.523)
    "a true gap of 0.523 would fail with 80% power, if the lower group's true rate is near the one seen"
    """
    return "".join(detectable_parts(gap))


def rate_label(result: CheckResult) -> str:
    """The heading of a check's per-group figure in tables: ``rate``, or what the figure is when not a rate."""
    return _RATE_LABELS.get(result.id, "rate")


def _straddles(ci: tuple[float, float] | None, tolerance: float, *, ratio: bool = False) -> bool:
    """Whether an interval reaches both sides of a tolerance, in either direction (a ratio's: x and 1/x)."""
    if ci is None:
        return False
    lo, hi = ci
    bounds = (tolerance, 1.0 / tolerance) if ratio and tolerance > 0 else (tolerance, -tolerance)
    return any(lo < bound < hi for bound in bounds)


def _relation(verdict: str, ci: tuple[float, float] | None, tolerance: float, *, ratio: bool = False) -> str:
    """How the interval stands to the tolerance, in words that are true of it ("straddles" only when it does)."""
    if verdict == "fail":
        return "exceeds"
    if verdict == "pass":
        return "within"
    if verdict == "not applicable":
        return "not judged against"
    if ci is None:
        return "against"
    if _straddles(ci, tolerance, ratio=ratio):
        return "straddles"
    lo, hi = ci
    inside = (
        (1.0 / tolerance <= lo and hi <= tolerance)
        if ratio and tolerance > 0
        else (-tolerance <= lo and hi <= tolerance)
    )
    return "lies within" if inside else "lies beyond"


_STRADDLES = "the interval straddles the tolerance"


def inconclusive_reason(comparison: Comparison) -> str:
    """Why a comparison is inconclusive, as the check found it: too few subjects, coverage, Holm, ... or the interval."""
    if comparison.note:
        return comparison.note
    if comparison.ci is None:
        return "nothing to compare"
    if _straddles(comparison.ci, comparison.tolerance):
        return _STRADDLES
    return "the data cannot decide it"


def finding(c: Comparison) -> str:
    """One comparison in a few words: pair, gap, interval, verdict and (inconclusive) why."""
    pair = c.group if c.reference.startswith("none") else f"{c.group} vs {c.reference}"
    gap = "n/a" if c.difference is None else f"{c.difference:+.3f}"
    why = f": {inconclusive_reason(c)}" if c.verdict == "inconclusive" else ""
    return f"{pair} {gap} {interval(c.ci)} ({c.verdict}{why})"


def largest_gap(result: CheckResult) -> Comparison | None:
    """The comparison with the largest disparity, when it is not the one that decided the verdict.

    The deciding comparison is the worst by verdict (fail before inconclusive); a larger gap that
    could not be decided (too few people behind it, under a strict profile) is still the starkest
    finding, and every headline names it beside the verdict.
    """
    if result.typed_details.decides_on_ratios:
        return None  # decided on rate ratios: the gap is not the figure the verdict rests on
    deciding = result.worst_comparison
    # A group's rate against a ceiling is no gap: only gaps between groups are weighed against each other here.
    sized = [
        c
        for c in result.comparisons
        if c.difference is not None and c.verdict != "not applicable" and c.reference != CEILING_REFERENCE
    ]
    if deciding is None or deciding.difference is None or not sized:
        return None
    largest = max(sized, key=lambda c: abs(c.difference or 0.0))
    if largest is deciding or abs(largest.difference or 0.0) <= abs(deciding.difference):
        return None
    return largest
