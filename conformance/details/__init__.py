"""The typed readers of a check's ``details``: the one place a report's details are read.

A check writes ``details`` as JSON (:attr:`conformance.results.CheckResult.details`, the shapes of
``docs/reference/checks.md`` and ``docs/reference/biometric-report.md``); every reader (the report
writers, the comparison of reports, verify, the assert helpers, the plugin) reads it through
:class:`CheckDetails`, which :attr:`CheckResult.typed_details <conformance.results.CheckResult.typed_details>`
gives. ``details`` may come from a file someone else made: each property takes what has the documented
shape and reads the rest as missing (None, ``""``, empty), so no writer fails on a malformed report. The
schema is additive: the raw mapping is kept and written back as it is, keys this version does not know
included.

>>> CheckDetails({"binding": True, "not_run": {"cause": "raised", "reason": 7}}).not_run
NotRun(cause='raised', reason='')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._values import as_list, as_mapping, as_number, as_pair, as_str, as_whole
from .biometrics import (
    RATIO_CHECKS,
    Acquisition,
    Bootstrap,
    DetPoint,
    Disclosure,
    Distributions,
    ErrorRate,
    Inequity,
    Matrix,
    Measure,
    RatesAt,
    RatioRow,
    Rule,
    SampleSize,
    bootstrap_in,
    det_in,
    disclosure_in,
    distributions_in,
    inequity_in,
    matrix_in,
    ratios_in,
    rule_in,
    unsupported_in,
)
from .gender import Elsewhere, Measured, MeasuredComparison, MeasuredGroup, Static, elsewhere_in, measured_in, static_in

__all__ = [
    "RATIO_CHECKS",
    "Acquisition",
    "Bootstrap",
    "CheckDetails",
    "DetPoint",
    "Disclosure",
    "Distributions",
    "Elsewhere",
    "ErrorRate",
    "Inequity",
    "Matrix",
    "Measure",
    "Measured",
    "MeasuredComparison",
    "MeasuredGroup",
    "NotRun",
    "RatesAt",
    "RatioRow",
    "Rule",
    "SampleSize",
    "Shown",
    "Static",
    "SweepPoint",
    "as_list",
    "as_mapping",
    "as_number",
    "as_pair",
    "as_str",
    "as_whole",
]


@dataclass(frozen=True)
class NotRun:
    """Why a planned check has no result (``details.not_run``): the cause's key and the reason in words."""

    cause: str
    reason: str


@dataclass(frozen=True)
class SweepPoint:
    """One threshold of a matching check's sweep (``details.sweep``): each group's rate there (None: no rate)."""

    threshold: float
    rates: Mapping[str, float | None]


@dataclass(frozen=True)
class Shown:
    """An entry of ``details`` that no section of its own shows, for report.html to show as it is written.

    ``rows`` for an array of objects (a table of them), ``measure`` for a companion measure (an object with
    ``groups``), else ``value``, a scalar, array or object shown plainly.
    """

    key: str
    rows: tuple[Mapping[str, Any], ...] = ()
    measure: Measured | None = None
    value: object = None


# Entries with a place of their own on report.html, never shown among the others.
_PLACED = ("static", "sweep", "binding")


@dataclass(frozen=True)
class CheckDetails:
    """A typed view of one check's ``details`` (``raw``, the JSON mapping the check wrote, kept as it is)."""

    raw: Mapping[str, Any]

    # -- every check --------------------------------------------------------------------------------------

    @property
    def binding(self) -> bool:
        """Whether this result's verdict is its check's (a matching check's binding threshold)."""
        return bool(self.raw.get("binding"))

    @property
    def not_run(self) -> NotRun | None:
        """Why a planned check was not run; None when the report does not say so in an object."""
        why = self.raw.get("not_run")
        if not isinstance(why, Mapping):
            return None
        return NotRun(as_str(why.get("cause")), as_str(why.get("reason")))

    def shown(self) -> tuple[Shown, ...]:
        """Every entry but those with a place of their own (static, sweep, binding), in the report's order;
        empty strings are left out."""
        out = []
        for key, value in self.raw.items():
            if key in _PLACED:
                continue
            measure = measured_in(value)
            if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
                out.append(Shown(str(key), rows=tuple(value)))
            elif measure is not None:
                out.append(Shown(str(key), measure=measure))
            elif value != "":
                out.append(Shown(str(key), value=value))
        return tuple(out)

    # -- the gender checks ------------------------------------------------------------------------------

    @property
    def static(self) -> Static | None:
        """The vocabulary's static verdict (``nonbinary_representability``)."""
        return static_in(self.raw.get("static"))

    @property
    def companion(self) -> Measured | None:
        """The companion measure every comparison must also satisfy (``misgender_gap``)."""
        return measured_in(self.raw.get("companion"))

    @property
    def nonbinary_label_elsewhere(self) -> Elsewhere | None:
        """Photos of women and men given the nonbinary label (``nonbinary_representability``)."""
        return elsewhere_in(self.raw.get("nonbinary_label_on_women_and_men"))

    # -- the matching checks ----------------------------------------------------------------------------

    @property
    def sweep(self) -> tuple[SweepPoint, ...]:
        """The binding result's sweep: the points with a threshold, in the report's order."""
        out = []
        for entry in as_list(self.raw.get("sweep")):
            point = as_mapping(entry)
            threshold = as_number(point.get("threshold"))
            if threshold is None:
                continue
            rates = {str(name): as_number(rate) for name, rate in as_mapping(point.get("groups")).items()}
            out.append(SweepPoint(threshold, rates))
        return tuple(out)

    # -- the 1:1 comparison checks --------------------------------------------------------------------

    @property
    def decides_on_ratios(self) -> bool:
        """Whether the check decides on rate ratios (it states a ``ratio_tolerance``), not on gaps."""
        return "ratio_tolerance" in self.raw

    @property
    def ratio_tolerance(self) -> float | None:
        return as_number(self.raw.get("ratio_tolerance"))

    @property
    def ratios(self) -> tuple[RatioRow, ...]:
        """``ratios``: each group's rate ratio to the reference, in the report's order."""
        return ratios_in(self.raw.get("ratios"))

    def ratio_for(self, group: str) -> RatioRow | None:
        """The ratio ``group`` was decided on, for a check that decides on ratios; else None."""
        if not self.decides_on_ratios:
            return None
        return next((r for r in self.ratios if r.group == group), None)

    @property
    def rule(self) -> Rule | None:
        """How the threshold was set (``threshold_rule``)."""
        return rule_in(self.raw)

    @property
    def unsupported(self) -> tuple[Rule, ...]:
        """Target FMRs the data could not support (``unsupported_targets``)."""
        return unsupported_in(self.raw.get("unsupported_targets"))

    @property
    def metric(self) -> str | None:
        """The comparison scores' metric, as the adapter names it."""
        metric = self.raw.get("metric")
        return metric if isinstance(metric, str) else None

    @property
    def impostors(self) -> str | None:
        """Which impostor pairs the rates count, in words."""
        pairs = self.raw.get("impostors")
        return pairs if isinstance(pairs, str) else None

    @property
    def impostor_comparisons(self) -> int | None:
        return as_whole(self.raw.get("impostor_comparisons"))

    @property
    def genuine_comparisons(self) -> int | None:
        return as_whole(self.raw.get("genuine_comparisons"))

    @property
    def design(self) -> str | None:
        """The resampling design behind the intervals, in words."""
        design = self.raw.get("design")
        return design if isinstance(design, str) else None

    @property
    def inequity(self) -> Inequity:
        return inequity_in(self.raw.get("inequity"))

    @property
    def bootstrap(self) -> Bootstrap | None:
        return bootstrap_in(self.raw.get("bootstrap"))

    @property
    def matrix(self) -> Matrix | None:
        """The impostor matrix; None when absent or not the documented shape."""
        return matrix_in(self.raw.get("impostor_matrix"))

    @property
    def has_det(self) -> bool:
        """Whether the result carries DET curves (the binding entry of a differential check does)."""
        return "det" in self.raw

    @property
    def det(self) -> dict[str, list[DetPoint]]:
        return det_in(self.raw.get("det"))

    @property
    def distributions(self) -> Distributions | None:
        return distributions_in(self.raw.get("distributions"))

    @property
    def disclosure(self) -> Disclosure | None:
        """The equitability check's ISO/IEC 19795-10-style disclosure; None when absent or empty."""
        return disclosure_in(self.raw.get("disclosure"))
