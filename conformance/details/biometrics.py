"""What a 1:1 comparison run's checks state in ``details``: how each threshold was set, and each group's ratio.

The differential checks of :mod:`conformance.checks.biometrics` put their threshold rule and their
ratios in ``details`` (``docs/reference/biometric-report.md``). ``details`` is a check's own JSON, read
from a file someone else may have made: every reader here takes what has the documented shape and
leaves the rest (``None``, ``""``, an empty list), so no reader of a report fails on a malformed one.
The report writers (:mod:`conformance.reporting`) and the comparison of reports
(:mod:`conformance.comparison`) read them here, below both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .._format import count_text, interval_text, rate_text, threshold_text
from .._untrusted import finite_number
from ..results import CheckResult

__all__ = [
    "RATIO_CHECKS",
    "RatioRow",
    "Rule",
    "as_list",
    "as_mapping",
    "as_number",
    "as_pair",
    "as_str",
    "as_whole",
    "is_ratio_check",
    "ratios_of",
    "read_rule",
    "rule_of",
]

# Checks decided on a ratio of rates against a ratio tolerance (a factor), not on a gap.
RATIO_CHECKS = ("false_match_differential", "false_non_match_differential")


def is_ratio_check(check: CheckResult) -> bool:
    """Whether ``check`` is one of the 1:1 differential checks, decided on rate ratios."""
    return check.id in RATIO_CHECKS


# -- values as the documented shape has them, or nothing ----------------------------------------------


def as_number(value: object) -> float | None:
    """A finite real number, else None (a bool is not one)."""
    return float(value) if isinstance(value, (int, float)) and finite_number(value) else None


def as_whole(value: object) -> int | None:
    """A whole number, else None (a bool is not one)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_pair(value: object) -> tuple[float | None, float | None] | None:
    """Two bounds, each a finite number or None; None when it is not a pair."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        return None
    return as_number(value[0]), as_number(value[1])


def as_mapping(value: object) -> Mapping[str, Any]:
    """An object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[Any]:
    """An array as a list, else an empty one."""
    return list(value) if isinstance(value, (list, tuple)) else []


def as_str(value: object) -> str:
    """A string, else ``""``."""
    return value if isinstance(value, str) else ""


# -- the threshold rule ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """How one threshold of a 1:1 run was set (``details.threshold_rule``)."""

    kind: str  # "target" (fixed to a target FMR), "stated" (--thresholds), "" (unknown)
    threshold: float | None
    target_fmr: float | None = None
    calibrated_on: str = ""
    impostor_comparisons: int | None = None
    needed: int | None = None
    achieved_fmr: float | None = None
    false_matches: int | None = None
    supported: bool = True
    reason: str = ""
    source: str = ""
    impostors: str = "all"  # "all" or "same_group": which impostor comparisons the rates count
    distinct: int | None = None  # distinct scored impostor comparisons behind a target
    people_pairs: int | None = None  # distinct people-pairs behind them
    achieved_ci: tuple[float | None, float | None] | None = None  # the pool's FMR at the threshold, interval
    coarse: bool = False  # ties keep the achieved FMR far below the target

    @property
    def _qualifiers(self) -> list[str]:
        out = []
        if self.impostors == "same_group":
            out.append("same-group impostors")
        if self.kind == "target" and self.calibrated_on not in ("", "all"):
            out.append(f"calibrated on {self.calibrated_on}")
        return out

    @property
    def label(self) -> str:
        """``FMR 0.001`` or ``threshold 80 (stated)``: what two runs' entries are matched on.

        A rule on same-group impostors, or calibrated on one group, says so: ``FMR 0.001 (same-group
        impostors, calibrated on I-II)`` is another operating point than ``FMR 0.001``.
        """
        extra = ", ".join(self._qualifiers)
        if self.kind == "target" and self.target_fmr is not None:
            return f"FMR {self.target_fmr:g}" + (f" ({extra})" if extra else "")
        if self.threshold is not None:
            return f"threshold {self.threshold:g} (stated{', ' + extra if extra else ''})"
        return "threshold n/a"

    @property
    def key(self) -> tuple[str, float | None, str, str]:
        """The same operating point in another report: the target FMR (or stated threshold), the impostors
        counted and the calibration pool, ``("target", 0.001, "all", "all")`` or ``("stated", 80.0, "all", "")``."""
        if self.kind == "target":
            return ("target", self.target_fmr, self.impostors, self.calibrated_on or "all")
        return ("stated", self.threshold, self.impostors, "")

    def sentence(self, metric: str = "") -> str:
        """The rule in words, with the impostor comparisons that support it."""
        on = f" ({metric})" if metric else ""
        if self.kind == "target":
            pool = "all impostor comparisons" if self.calibrated_on in ("", "all") else (
                f"the impostor comparisons of reference group {self.calibrated_on}"
            )  # fmt: skip
            text = f"Threshold {threshold_text(self.threshold)}{on} fixed so that the FMR on {pool} is {'n/a' if self.target_fmr is None else f'{self.target_fmr:g}'}"
            if self.impostor_comparisons is not None:
                text += f": {count_text(self.impostor_comparisons)} impostor comparisons support it"
                if self.distinct is not None and self.people_pairs is not None:
                    text += (
                        f" ({count_text(self.distinct)} distinct, behind {count_text(self.people_pairs)} "
                        "distinct people-pairs)"
                    )
                if self.needed is not None:
                    text += f" ({count_text(self.needed)} needed by the rule of three, 3/FMR)"
            if self.achieved_fmr is not None:
                text += f"; achieved FMR {rate_text(self.achieved_fmr)}"
                if self.false_matches is not None:
                    text += f" ({count_text(self.false_matches)} false matches)"
                if self.achieved_ci is not None:
                    text += (
                        f", calibrated in-sample on these comparisons: on new people the pool's FMR at this "
                        f"threshold would lie in {interval_text(self.achieved_ci)}"
                    )
            if self.coarse:
                text += "; tied scores keep the achieved FMR far below the target"
            return text + "."
        if self.kind == "stated":
            source = f", from {self.source}" if self.source else ""
            return f"Stated threshold {threshold_text(self.threshold)}{on}{source}; not fixed to a target FMR."
        return "The report does not say how this threshold was set."


def read_rule(raw: object) -> Rule | None:
    """A ``threshold_rule`` object (of a check's details or of the disclosure) as a :class:`Rule`."""
    rule = as_mapping(raw)
    if not rule:
        return None
    name = as_str(rule.get("rule"))
    kind = "target" if name == "fixed FMR" or "target_fmr" in rule else "stated" if name == "stated threshold" else ""
    return Rule(
        kind=kind,
        threshold=as_number(rule.get("threshold")),
        target_fmr=as_number(rule.get("target_fmr")),
        calibrated_on=as_str(rule.get("calibrated_on")),
        impostor_comparisons=as_whole(rule.get("impostor_comparisons")),
        needed=as_whole(rule.get("needed_for_target")),
        achieved_fmr=as_number(rule.get("achieved_fmr")),
        false_matches=as_whole(rule.get("false_matches")),
        supported=rule.get("supported") is not False,
        reason=as_str(rule.get("reason")),
        source=as_str(rule.get("source")),
        impostors=_impostors(rule.get("impostors")),
        distinct=as_whole(rule.get("distinct_comparisons")),
        people_pairs=as_whole(rule.get("people_pairs")),
        achieved_ci=as_pair(rule.get("achieved_fmr_ci")),
        coarse=rule.get("coarse") is True,
    )


def _impostors(value: object) -> str:
    """``same_group`` for a rule (or check) on same-group impostors ("same_group", "same-group pairs only ..."), else ``all``."""
    text = as_str(value).replace("-", "_")
    return "same_group" if text.startswith("same_group") else "all"


def rule_of(check: CheckResult) -> Rule | None:
    """The rule of ``check``'s threshold; None when the report has none.

    Reports made before rules named their impostors give them in ``details.impostors``.
    """
    rule = read_rule(check.details.get("threshold_rule"))
    if rule is not None and "impostors" not in as_mapping(check.details.get("threshold_rule")):
        rule = replace(rule, impostors=_impostors(check.details.get("impostors")))
    return rule


# -- ratios and inequity --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatioRow:
    """One group's rate over the reference's, with the interval the verdict was decided on."""

    group: str
    reference: str
    ratio: float | None
    ci: tuple[float | None, float | None] | None
    level: float | None
    tolerance: float | None
    method: str
    verdict: str
    note: str


def ratios_of(check: CheckResult) -> list[RatioRow]:
    """``details.ratios``, in the report's order."""
    out = []
    for raw in as_list(check.details.get("ratios")):
        row = as_mapping(raw)
        if not isinstance(row.get("group"), str):
            continue
        out.append(
            RatioRow(
                group=row["group"],
                reference=as_str(row.get("reference")),
                ratio=as_number(row.get("ratio")),
                ci=as_pair(row.get("ci")),
                level=as_number(row.get("level")),
                tolerance=as_number(row.get("tolerance")),
                method=as_str(row.get("method")),
                verdict=as_str(row.get("verdict")) or "unknown",
                note=as_str(row.get("note")),
            )
        )
    return out
