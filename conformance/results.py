"""Values that checks return and reports read: verdicts, per-group rates, comparisons.

These are the only things that travel from checks to assertions and reports; a report never
recomputes a statistic, it reads a :class:`CheckResult`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .details import CheckDetails

__all__ = [
    "VERDICTS",
    "CheckResult",
    "Comparison",
    "GroupRate",
    "Verdict",
    "deciding",
    "worst",
]

# Every verdict a check may carry. A check computes one of VERDICTS, and so does each comparison;
# "not run" is a planned check with no result, which only a report holds (reporting/json.py).
Verdict = Literal["pass", "fail", "inconclusive", "not applicable", "not run"]
VERDICTS: tuple[Verdict, ...] = ("pass", "fail", "inconclusive", "not applicable")
# "not applicable" (the data cannot speak to the check by construction) ranks below pass: a check
# with some comparisons passing and the others not applicable passes.
_SEVERITY = {"not applicable": -1, "pass": 0, "inconclusive": 1, "fail": 2}


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The verdict of a whole check: fail, then inconclusive, then pass, then not applicable.

    >>> worst(["pass", "inconclusive", "pass"])
    'inconclusive'
    >>> worst(["not applicable", "pass"]), worst(["not applicable"])
    ('pass', 'not applicable')
    >>> worst([])
    'inconclusive'
    """
    found = list(verdicts)
    if not found:
        return "inconclusive"  # nothing was compared: nothing was shown
    return max(found, key=_SEVERITY.__getitem__)


def _num(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # counts stay whole numbers in reports
    return float(value)


@dataclass(frozen=True)
class GroupRate:
    """One group's figure for one check: ``count`` of ``n`` units, with an interval.

    ``photos`` and ``subjects`` say how much data the group has; ``n`` is the denominator of
    ``rate`` (photos with a face, subjects with two photos, ...), which the check's method names.
    """

    name: str
    photos: int
    subjects: int
    count: int
    n: int
    rate: float | None
    ci: tuple[float, float] | None
    extra: Mapping[str, float | None] = field(default_factory=dict)
    # What the interval rests on: the rate's worth in independent units (photos over the design
    # effect), and the person-weighted rate (each person's own rate, averaged) it is read with.
    effective_n: float | None = None
    person_rate: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "photos": self.photos,
            "subjects": self.subjects,
            "count": self.count,
            "n": self.n,
            "rate": _num(self.rate),
            "ci": None if self.ci is None else [_num(self.ci[0]), _num(self.ci[1])],
        }
        if self.effective_n is not None:
            out["effective_n"] = _num(self.effective_n)
            out["person_rate"] = _num(self.person_rate)
        out.update({key: _num(value) for key, value in self.extra.items()})
        return out

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any], *, where: str = "group") -> GroupRate:
        """The group ``name`` as :meth:`to_dict` wrote it; every other number in ``data`` becomes ``extra``.

        Raises :class:`~conformance._fields.FieldError` naming ``where`` and the field. A field that is
        not a number (a newer report's, say) is left out of ``extra``: a report keeps it as written.
        """
        from ._fields import count, interval, optional_number
        from ._untrusted import finite_number

        core = ["photos", "subjects", "count", "n", "rate", "ci"]
        # to_dict writes person_rate beside effective_n only: without it, it is one of the group's figures.
        effective_n = optional_number(data.get("effective_n"), f"{where} 'effective_n'")
        person_rate = None
        if effective_n is not None:
            person_rate = optional_number(data.get("person_rate"), f"{where} 'person_rate'")
            core += ["effective_n", "person_rate"]
        return cls(
            name=name,
            photos=count(data, "photos", where),
            subjects=count(data, "subjects", where),
            count=count(data, "count", where),
            n=count(data, "n", where),
            rate=optional_number(data.get("rate"), f"{where} 'rate'"),
            ci=interval(data.get("ci"), f"{where} 'ci'"),
            extra={k: v for k, v in data.items() if k not in core and (v is None or finite_number(v))},
            effective_n=effective_n,
            person_rate=person_rate,
        )


@dataclass(frozen=True)
class Comparison:
    """One group against another: the gap, its interval, and the verdict it earns.

    ``difference`` is group minus reference (positive: the group fares worse); a disparity in
    either direction counts. ``p_value`` is the one-sided p-value of "the disparity exceeds the
    tolerance" from the same model as ``ci``, ``p_adjusted`` its Holm adjustment across the check's
    comparisons (``fail`` exactly when it is at most the stated error rate), ``p_within`` the
    p-value of "the disparity lies within the tolerance" (``pass`` when at most it, no
    adjustment). ``min_detectable``: given when the verdict is inconclusive, the true gap this
    data would show to exceed the tolerance with 80% power, if the lower group's true rate is near
    the one seen (its rate seen and its two-sided 20% interval; every report says so, in the words
    of :func:`conformance._wording.detectable`); ``subjects_needed`` the people each
    group (group, reference) would need for 80% power to decide if the true gap were the one seen,
    never fewer than the policy's ``min_subjects`` (below it no verdict is decided); ``subjects_floor``
    is that minimum when it raised either figure (the power alone needed fewer), else None.
    ``p_equal``: an exact test of equal rates, only where every person has one unit.
    """

    group: str
    reference: str
    difference: float | None
    ci: tuple[float, float] | None
    p_value: float | None
    p_adjusted: float | None
    tolerance: float
    verdict: Verdict
    method: str
    min_detectable: float | None = None
    ratio: float | None = None
    note: str = ""
    level: float | None = None  # the interval's two-sided confidence level
    p_within: float | None = None
    p_equal: float | None = None
    subjects_needed: tuple[int, int] | None = None
    subjects_floor: int | None = None

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.p_within is not None:
            extra["p_within"] = _num(self.p_within)
        if self.p_equal is not None:
            extra["p_equal"] = _num(self.p_equal)
        if self.subjects_needed is not None:
            extra["subjects_needed"] = list(self.subjects_needed)
        if self.subjects_floor is not None:
            extra["subjects_floor"] = self.subjects_floor
        return {
            "group": self.group,
            "reference": self.reference,
            "difference": _num(self.difference),
            "ci": None if self.ci is None else [_num(self.ci[0]), _num(self.ci[1])],
            "p_value": _num(self.p_value),
            "p_adjusted": _num(self.p_adjusted),
            "tolerance": self.tolerance,
            "verdict": self.verdict,
            "method": self.method,
            "min_detectable": _num(self.min_detectable),
            "ratio": _num(self.ratio),
            "note": self.note,
            "level": self.level,
            **extra,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "comparison") -> Comparison:
        """A comparison as :meth:`to_dict` wrote it; :class:`~conformance._fields.FieldError` naming ``where``."""
        from ._fields import FieldError, interval, number, optional_number, text

        group, reference = data.get("group"), data.get("reference")
        if not isinstance(group, str) or not isinstance(reference, str):
            raise FieldError(f"{where} lacks 'group' and 'reference' names")
        verdict = data.get("verdict")
        if verdict not in VERDICTS:
            raise FieldError(f"{where} has verdict {_shown(verdict)}, not one of {', '.join(VERDICTS)}")
        return cls(
            group=group,
            reference=reference,
            difference=optional_number(data.get("difference"), f"{where} 'difference'"),
            ci=interval(data.get("ci"), f"{where} 'ci'"),
            p_value=optional_number(data.get("p_value"), f"{where} 'p_value'"),
            p_adjusted=optional_number(data.get("p_adjusted"), f"{where} 'p_adjusted'"),
            tolerance=number(data.get("tolerance"), f"{where} 'tolerance'"),
            verdict=verdict,
            method=text(data.get("method"), f"{where} 'method'"),
            min_detectable=optional_number(data.get("min_detectable"), f"{where} 'min_detectable'"),
            ratio=optional_number(data.get("ratio"), f"{where} 'ratio'"),
            note=text(data.get("note"), f"{where} 'note'"),
            level=optional_number(data.get("level"), f"{where} 'level'"),
            p_within=optional_number(data.get("p_within"), f"{where} 'p_within'"),
            p_equal=optional_number(data.get("p_equal"), f"{where} 'p_equal'"),
            subjects_needed=_people(data.get("subjects_needed"), f"{where} 'subjects_needed'"),
            subjects_floor=_floor(data.get("subjects_floor"), f"{where} 'subjects_floor'"),
        )


@dataclass(frozen=True)
class CheckResult:
    """What one check found: groups, comparisons to the reference, verdict, and how.

    ``verdict`` is the worst of the comparisons' verdicts (and of a static verdict where the
    check has one, as ``nonbinary_representability`` does).
    """

    id: str
    verdict: Verdict
    groups: Mapping[str, GroupRate]
    comparisons: tuple[Comparison, ...]
    method: str
    measure: str
    reference: str
    confidence: float
    notes: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    count_label: str = "count"
    # Matching checks make one result per similarity threshold; None for checks without thresholds.
    threshold: float | None = None
    # The one-sided error rate each verdict direction is tested at: a wrong pass (per comparison; a
    # pass needs every comparison, so no multiplicity adjustment) and a wrong fail (familywise over
    # the comparisons, Holm); and how disparities were compared ("pairwise" or "reference").
    alpha_pass: float | None = None
    alpha_fail: float | None = None
    direction: str = ""

    @property
    def typed_details(self) -> CheckDetails:
        """``details`` read through its typed readers (:mod:`conformance.details`): the one way to read them.

        ``details`` itself is the JSON the check wrote, kept as it is (and written back so).
        """
        return CheckDetails(self.details)

    @property
    def binding(self) -> bool:
        """Whether this is the result whose verdict is its check's: a matching check's at the binding threshold.

        A check with one result has no ``binding`` entry, and its one result decides: see :func:`deciding`.
        """
        return self.typed_details.binding

    def to_dict(self) -> dict[str, Any]:
        extra: dict[str, Any] = {} if self.threshold is None else {"threshold": self.threshold}
        if self.alpha_pass is not None:
            extra.update(alpha_pass=self.alpha_pass, alpha_fail=self.alpha_fail, direction=self.direction)
        return {
            "id": self.id,
            **extra,
            "verdict": self.verdict,
            "measure": self.measure,
            "count_label": self.count_label,
            "reference": self.reference,
            "confidence": self.confidence,
            "groups": {name: rate.to_dict() for name, rate in self.groups.items()},
            "comparisons": [c.to_dict() for c in self.comparisons],
            "deciding": None if self.worst_comparison is None else self.worst_comparison.group,
            "deciding_reference": None if self.worst_comparison is None else self.worst_comparison.reference,
            "method": self.method,
            "notes": list(self.notes),
            "details": dict(self.details),
        }

    @classmethod
    def not_run(
        cls, check_id: str, *, cause: str, reason: str, measure: str = "", reference: str = "", confidence: float = 0.95
    ) -> CheckResult:
        """A planned check with no result, as a report holds it: verdict ``not run``, why in its notes and details.

        ``cause`` is what kept it from running (``deselected``, ``skipped``, ``raised``, ``stopped``, ``no result``,
        ...), ``reason`` the sentence the reports print; ``details.not_run`` keeps both, as
        :attr:`typed_details` reads them.

        >>> r = CheckResult.not_run("misgender_gap", cause="deselected", reason="deselected by -k")
        >>> r.verdict, r.notes, r.typed_details.not_run.cause
        ('not run', ('not run: deselected by -k',), 'deselected')
        """
        return cls(
            id=check_id,
            verdict="not run",
            groups={},
            comparisons=(),
            method="not run",
            measure=measure,
            reference=reference,
            confidence=confidence,
            notes=(f"not run: {reason}",),
            details={"not_run": {"cause": cause, "reason": reason}},
        )

    @property
    def worst_comparison(self) -> Comparison | None:
        """The comparison that decides the verdict (the largest gap among the worst verdicts)."""
        if not self.comparisons:
            return None
        # The largest disparity in either direction decides among comparisons of the same verdict; a gap between
        # groups before a group's rate against a ceiling (detection_failure_gap's max_detection_failure), which is
        # no disparity: it decides only by a worse verdict.
        return max(
            self.comparisons,
            key=lambda c: (
                _SEVERITY[c.verdict],
                c.reference != "none (ceiling)",
                -math.inf if c.difference is None else abs(c.difference),
            ),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "check") -> CheckResult:
        """A check's result as :meth:`to_dict` wrote it (``deciding`` is derived, not read).

        The check's verdict may be any of :data:`CHECK_VERDICTS`; its comparisons', any of
        :data:`VERDICTS`. Raises :class:`~conformance._fields.FieldError` naming ``where`` and the
        field; fields it does not know are left out (a report keeps them as written).
        """
        from ._fields import FieldError, optional_number, strings, text
        from ._untrusted import finite_number

        check_id = data.get("id")
        if not isinstance(check_id, str):
            raise FieldError(f"{where} is not a check with an 'id'")
        verdict = data.get("verdict")
        if verdict not in CHECK_VERDICTS:
            raise FieldError(f"{where} has verdict {_shown(verdict)}, not one of {', '.join(CHECK_VERDICTS)}")
        raw: Any = data.get("confidence")
        confidence = float(raw) if finite_number(raw) else math.nan  # a float in (0, 1): float() keeps it as written
        if not 0.0 < confidence < 1.0:
            raise FieldError(f"{where} lacks a 'confidence' between 0 and 1")
        groups, comparisons = data.get("groups", {}), data.get("comparisons", [])
        if not isinstance(groups, Mapping) or not isinstance(comparisons, list):
            raise FieldError(f"{where} should have 'groups' as an object and 'comparisons' as an array")
        rates = {}
        for name, entry in groups.items():
            at = f"{where} group {_shown(name)}"
            if not isinstance(entry, Mapping):
                raise FieldError(f"{at} is not an object")
            rates[str(name)] = GroupRate.from_dict(str(name), entry, where=at)
        made = []
        for number, entry in enumerate(comparisons):
            at = f"{where} comparisons[{number}]"
            if not isinstance(entry, Mapping):
                raise FieldError(f"{at} is not an object")
            made.append(Comparison.from_dict(entry, where=at))
        details = data.get("details", {})
        if not isinstance(details, Mapping):
            raise FieldError(f"{where} 'details' should be an object")
        return cls(
            id=check_id,
            verdict=verdict,
            groups=rates,
            comparisons=tuple(made),
            method=text(data.get("method"), f"{where} 'method'"),
            measure=text(data.get("measure"), f"{where} 'measure'"),
            reference=text(data.get("reference"), f"{where} 'reference'"),
            confidence=confidence,
            notes=strings(data.get("notes"), f"{where} 'notes'"),
            details=dict(details),
            count_label=text(data.get("count_label"), f"{where} 'count_label'", default="count"),
            threshold=optional_number(data.get("threshold"), f"{where} 'threshold'"),
            alpha_pass=optional_number(data.get("alpha_pass"), f"{where} 'alpha_pass'"),
            alpha_fail=optional_number(data.get("alpha_fail"), f"{where} 'alpha_fail'"),
            direction=text(data.get("direction"), f"{where} 'direction'"),
        )


# Every verdict a report may carry for a check: a check's own result is one of VERDICTS; "not run"
# is a check that was planned and has no result, "not applicable" one the data cannot speak to.
CHECK_VERDICTS: tuple[Verdict, ...] = (*VERDICTS, "not run")
# A run's verdict: the worst of its checks', or "incomplete" when a planned check has no result.
RUN_VERDICTS: tuple[str, ...] = (*CHECK_VERDICTS, "incomplete")


def _people(value: object, where: str) -> tuple[int, int] | None:
    """A ``[group, reference]`` pair of people counts, or None for null or absent."""
    from ._fields import FieldError

    if value is None:
        return None
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    ):
        raise FieldError(f"{where} should be a pair of whole numbers of people or null")
    return (value[0], value[1])


def _floor(value: object, where: str) -> int | None:
    """A positive whole number of people, or None for null or absent."""
    from ._fields import FieldError

    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise FieldError(f"{where} should be a whole number of people (at least 1) or null")
    return value


def _shown(value: object) -> str:
    from ._untrusted import shown

    return shown(value)


def deciding(results: Sequence[CheckResult]) -> CheckResult:
    """Of a check's results (one per threshold for a matching check), the one its verdict is: the binding one,
    else the first (a check with one result). Every writer, the plugin and the checks read the verdict so."""
    return next((r for r in results if r.binding), results[0])
