"""What the gender checks state in ``details``: the vocabulary's static verdict, a companion measure, and the
nonbinary label given to women and men (``docs/reference/checks.md``).

Each reader takes what has the documented shape and leaves the rest (None, ``""``, empty): ``details`` is
a check's own JSON, read from a file someone else may have made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .._untrusted import finite_number
from ._values import as_list, as_mapping, as_number, as_pair, as_str, as_whole

__all__ = [
    "Elsewhere",
    "Measured",
    "MeasuredComparison",
    "MeasuredGroup",
    "Static",
    "elsewhere_in",
    "measured_in",
    "static_in",
]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _real(value: object) -> float | None:
    """A finite number as written (an int stays an int: a tolerance of 0 reads ``0``), else None."""
    return value if isinstance(value, (int, float)) and finite_number(value) else None


@dataclass(frozen=True)
class Static:
    """``details.static`` of ``nonbinary_representability``: can the declared vocabulary express a nonbinary
    identity, or abstain; the verdict and reason of that half, and each label the analyzer can give."""

    verdict: str | None
    reason: str
    source: str | None
    labels: tuple[tuple[str, str], ...]
    can_express_nonbinary: bool | None
    can_abstain: bool | None


def static_in(raw: object) -> Static | None:
    """A ``static`` object; None when absent, empty or not an object."""
    static = as_mapping(raw)
    if not static:
        return None
    return Static(
        verdict=_text(static.get("verdict")),
        reason=as_str(static.get("reason")),
        source=_text(static.get("source")),
        labels=tuple((str(k), str(v)) for k, v in as_mapping(static.get("labels")).items()),
        can_express_nonbinary=_flag(static.get("can_express_nonbinary")),
        can_abstain=_flag(static.get("can_abstain")),
    )


@dataclass(frozen=True)
class MeasuredGroup:
    """One group's figures under a companion measure."""

    name: str
    photos: int | None
    subjects: int | None
    count: int | None
    n: int | None
    rate: float | None
    ci: tuple[float | None, float | None] | None


@dataclass(frozen=True)
class MeasuredComparison:
    """One comparison under a companion measure."""

    group: str | None
    reference: str | None
    difference: float | None
    ci: tuple[float | None, float | None] | None
    p_adjusted: float | None
    tolerance: float | None
    verdict: str | None


@dataclass(frozen=True)
class Measured:
    """A second measure every comparison must also satisfy (``details.companion`` of ``misgender_gap``):
    its name, its groups and its comparisons, as the check's own are written."""

    measure: str
    groups: tuple[MeasuredGroup, ...]
    comparisons: tuple[MeasuredComparison, ...]


def measured_in(raw: object) -> Measured | None:
    """An object with ``groups`` (an object) and ``comparisons``; None when it is not one."""
    measure = as_mapping(raw)
    if not isinstance(measure.get("groups"), Mapping):
        return None
    groups = []
    for name, entry in measure["groups"].items():
        g = as_mapping(entry)
        groups.append(
            MeasuredGroup(
                name=str(name),
                photos=as_whole(g.get("photos")),
                subjects=as_whole(g.get("subjects")),
                count=as_whole(g.get("count")),
                n=as_whole(g.get("n")),
                rate=as_number(g.get("rate")),
                ci=as_pair(g.get("ci")),
            )
        )
    comparisons = tuple(
        MeasuredComparison(
            group=_text(c.get("group")),
            reference=_text(c.get("reference")),
            difference=as_number(c.get("difference")),
            ci=as_pair(c.get("ci")),
            p_adjusted=as_number(c.get("p_adjusted")),
            tolerance=_real(c.get("tolerance")),
            verdict=_text(c.get("verdict")),
        )
        for c in as_list(measure.get("comparisons"))
        if isinstance(c, Mapping)
    )
    return Measured(as_str(measure.get("measure")), tuple(groups), comparisons)


@dataclass(frozen=True)
class Elsewhere:
    """``details.nonbinary_label_on_women_and_men``: photos of women and men given the nonbinary label, of how many."""

    photos: int | None
    of: int | None


def elsewhere_in(raw: object) -> Elsewhere | None:
    """A ``nonbinary_label_on_women_and_men`` object; None when it is not one."""
    if not isinstance(raw, Mapping):
        return None
    return Elsewhere(as_whole(raw.get("photos")), as_whole(raw.get("of")))
