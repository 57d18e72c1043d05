"""What a 1:1 comparison run's checks state in ``details``: how each threshold was set, each group's ratio,
the inequity measures, the impostor matrix, DET curves, score distributions and the disclosure.

The checks of :mod:`conformance.checks.biometrics` put them in ``details``
(``docs/reference/biometric-report.md``). ``details`` is a check's own JSON, read
from a file someone else may have made: every reader here takes what has the documented shape and
leaves the rest (``None``, ``""``, an empty list), so no reader of a report fails on a malformed one.
The report writers (:mod:`conformance.reporting`) and the comparison of reports
(:mod:`conformance.comparison`) read them here, below both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .._format import count_text, interval_text, rate_text, threshold_text
from ._values import as_list, as_mapping, as_number, as_pair, as_str, as_whole

__all__ = [
    "RATIO_CHECKS",
    "Acquisition",
    "Bootstrap",
    "DetPoint",
    "Disclosure",
    "Distributions",
    "ErrorRate",
    "Inequity",
    "Matrix",
    "Measure",
    "RatesAt",
    "RatioRow",
    "Rule",
    "SampleSize",
    "bootstrap_in",
    "det_in",
    "disclosure_in",
    "distributions_in",
    "inequity_in",
    "matrix_in",
    "ratios_in",
    "read_rule",
    "rule_in",
    "unsupported_in",
]

# Checks decided on a ratio of rates against a ratio tolerance (a factor), not on a gap.
RATIO_CHECKS = ("false_match_differential", "false_non_match_differential")


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


def rule_in(details: Mapping[str, Any]) -> Rule | None:
    """The rule of a check's threshold (``details.threshold_rule``); None when the report has none.

    Reports made before rules named their impostors give them in ``details.impostors``.
    """
    rule = read_rule(details.get("threshold_rule"))
    if rule is not None and "impostors" not in as_mapping(details.get("threshold_rule")):
        rule = replace(rule, impostors=_impostors(details.get("impostors")))
    return rule


def unsupported_in(raw: object) -> tuple[Rule, ...]:
    """Target FMRs the data could not support (an ``unsupported_targets`` array), each with its reason."""
    return tuple(r for r in (read_rule(x) for x in as_list(raw)) if r is not None)


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


def ratios_in(raw: object) -> tuple[RatioRow, ...]:
    """A ``ratios`` array, in the report's order; rows without a group's name are left out."""
    out = []
    for entry in as_list(raw):
        row = as_mapping(entry)
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
    return tuple(out)


@dataclass(frozen=True)
class Measure:
    """One inequity measure: its key in report.json, a label, the value and its interval."""

    key: str
    label: str
    value: float | None
    ci: tuple[float | None, float | None] | None


_MEASURES = (
    ("max_min_ratio", "max / min ratio"),
    ("max_geomean_ratio", "max / geometric mean (NIST 2022)"),
    ("gini", "Gini coefficient of the groups' rates"),
    ("garbe", "GARBE (alpha Gini(FMR) + (1 - alpha) Gini(FNMR))"),
    ("fdr", "FDR, fairness discrepancy rate (1 is parity)"),
)


@dataclass(frozen=True)
class Inequity:
    """An ``inequity`` object: the measures it has (in a fixed order), caveats, alpha and confidence."""

    measures: tuple[Measure, ...] = ()
    caveats: tuple[str, ...] = ()
    alpha: float | None = None
    confidence: float | None = None


def inequity_in(raw: object) -> Inequity:
    """An ``inequity`` object; empty when it is not one."""
    inequity = as_mapping(raw)
    measures = tuple(
        Measure(
            key,
            label,
            as_number(as_mapping(inequity.get(key)).get("value")),
            as_pair(as_mapping(inequity.get(key)).get("ci")),
        )
        for key, label in _MEASURES
        if key in inequity
    )
    caveats = tuple(c for c in as_list(inequity.get("caveats")) if isinstance(c, str))
    return Inequity(measures, caveats, as_number(inequity.get("alpha")), as_number(inequity.get("confidence")))


@dataclass(frozen=True)
class Bootstrap:
    """How a check's intervals were resampled (``details.bootstrap``)."""

    method: str | None
    resamples: int | None
    seed: int | None


def bootstrap_in(raw: object) -> Bootstrap | None:
    """A ``bootstrap`` object; None when absent, empty or not an object."""
    boot = as_mapping(raw)
    if not boot:
        return None
    method = boot.get("method")
    return Bootstrap(
        method if isinstance(method, str) else None, as_whole(boot.get("resamples")), as_whole(boot.get("seed"))
    )


# -- the impostor matrix --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Matrix:
    """FMR by probe group x reference group, with the counts behind each cell."""

    probe_groups: tuple[str, ...]
    reference_groups: tuple[str, ...]
    false_matches: tuple[tuple[int | None, ...], ...]
    comparisons: tuple[tuple[int | None, ...], ...]
    fmr: tuple[tuple[float | None, ...], ...]
    counted: tuple[tuple[bool, ...], ...]


def matrix_in(raw_matrix: object) -> Matrix | None:
    """An ``impostor_matrix`` object; None when absent or not the documented shape."""
    raw = as_mapping(raw_matrix)
    rows = [str(g) for g in as_list(raw.get("probe_groups"))]
    cols = [str(g) for g in as_list(raw.get("reference_groups"))]
    if not rows or not cols:
        return None

    def grid(key: str, read: Any) -> tuple[tuple[Any, ...], ...] | None:
        table = as_list(raw.get(key))
        if len(table) != len(rows) or any(len(as_list(r)) != len(cols) for r in table):
            return None
        return tuple(tuple(read(v) for v in as_list(r)) for r in table)

    false_matches = grid("false_matches", as_whole)
    comparisons = grid("impostor_comparisons", as_whole)
    fmr = grid("fmr", as_number)
    counted = grid("counted", lambda v: v is not False)
    if false_matches is None or comparisons is None or fmr is None:
        return None
    if counted is None:
        counted = tuple(tuple(True for _ in cols) for _ in rows)
    return Matrix(tuple(rows), tuple(cols), false_matches, comparisons, fmr, counted)


# -- DET curves and score distributions -----------------------------------------------------------------


@dataclass(frozen=True)
class DetPoint:
    """One point of a group's DET curve: its FMR and FNMR at one threshold."""

    fmr: float
    fnmr: float
    threshold: float | None
    false_matches: int | None


def det_in(raw: object) -> dict[str, list[DetPoint]]:
    """A ``det`` object: each group's points, by rising FMR; points without both rates are left out."""
    out: dict[str, list[DetPoint]] = {}
    for name, points in as_mapping(raw).items():
        kept = []
        for entry in as_list(points):
            point = as_mapping(entry)
            fmr, fnmr = as_number(point.get("fmr")), as_number(point.get("fnmr"))
            if fmr is None or fnmr is None:
                continue
            kept.append(DetPoint(fmr, fnmr, as_number(point.get("threshold")), as_whole(point.get("false_matches"))))
        out[str(name)] = sorted(kept, key=lambda p: p.fmr)
    return out


@dataclass(frozen=True)
class Distributions:
    """Score histograms: bin edges, and per group impostor and genuine counts per bin."""

    edges: tuple[float, ...]
    impostor: Mapping[str, tuple[int, ...]]
    genuine: Mapping[str, tuple[int, ...]]
    impostor_failed: Mapping[str, int]
    genuine_failed: Mapping[str, int]


def distributions_in(raw_distributions: object) -> Distributions | None:
    """A ``distributions`` object; None when absent or not the documented shape."""
    raw = as_mapping(raw_distributions)
    edges = [as_number(e) for e in as_list(raw.get("edges"))]
    if len(edges) < 2 or any(e is None for e in edges):
        return None
    bins = len(edges) - 1
    impostor, genuine, impostor_failed, genuine_failed = {}, {}, {}, {}
    for name, entry in as_mapping(raw.get("groups")).items():
        group = as_mapping(entry)
        imp = [as_whole(v) for v in as_list(group.get("impostor"))]
        gen = [as_whole(v) for v in as_list(group.get("genuine"))]
        if len(imp) != bins or len(gen) != bins or any(v is None for v in (*imp, *gen)):
            continue
        impostor[str(name)] = tuple(int(v or 0) for v in imp)
        genuine[str(name)] = tuple(int(v or 0) for v in gen)
        impostor_failed[str(name)] = as_whole(group.get("impostor_failed")) or 0
        genuine_failed[str(name)] = as_whole(group.get("genuine_failed")) or 0
    if not impostor:
        return None
    return Distributions(tuple(float(e or 0.0) for e in edges), impostor, genuine, impostor_failed, genuine_failed)


# -- the disclosure -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleSize:
    """One group's sample sizes in the disclosure."""

    group: str
    photos: int | None
    subjects: int | None
    impostor_comparisons: int | None
    genuine_comparisons: int | None


@dataclass(frozen=True)
class Acquisition:
    """One group's failure to acquire in the disclosure: photos without a template, of how many, and the rate."""

    group: str
    count: int | None
    photos: int | None
    rate: float | None
    ci: tuple[float | None, float | None] | None


@dataclass(frozen=True)
class ErrorRate:
    """One group's errors of one kind at one threshold: errors, comparisons, rate and its interval."""

    errors: int | None = None
    comparisons: int | None = None
    rate: float | None = None
    ci: tuple[float | None, float | None] | None = None


def _error_rates(raw: object) -> dict[str, ErrorRate]:
    out = {}
    for name, entry in as_mapping(raw).items():
        e = as_mapping(entry)
        out[str(name)] = ErrorRate(
            as_whole(e.get("errors")), as_whole(e.get("comparisons")), as_number(e.get("rate")), as_pair(e.get("ci"))
        )
    return out


@dataclass(frozen=True)
class RatesAt:
    """The disclosure's FMR and FNMR at one threshold, with each group's; verdicts ``""`` where not stated."""

    threshold: float | None
    rule: Rule | None
    fmr_verdict: str
    fnmr_verdict: str
    fmr: Mapping[str, ErrorRate]
    fnmr: Mapping[str, ErrorRate]


@dataclass(frozen=True)
class Disclosure:
    """The ISO/IEC 19795-10-style disclosure of the equitability check (``details.disclosure``).

    Every field is what the report states in the documented shape, or None / ``""`` / empty.
    """

    scope: str = ""
    standard: str | None = None
    certified: bool = False
    uncertainty: str | None = None
    statement: str | None = None
    ratio_tolerance: float | None = None
    fta_tolerance: float | None = None
    total_comparisons: int | None = None
    metric: str | None = None
    design: str | None = None
    definition: tuple[str, ...] = ()
    membership: str = ""
    reference: str = ""
    sample_sizes: tuple[SampleSize, ...] = ()
    failure_to_acquire: tuple[Acquisition, ...] = ()
    rates: tuple[RatesAt, ...] = ()
    target_fmrs: tuple[float, ...] = ()
    calibrated_on: str = ""
    impostors: str = ""
    binding_threshold: float | None = None
    unsupported: tuple[Rule, ...] = ()
    inequity_fmr: Inequity = Inequity()
    inequity_fnmr: Inequity = Inequity()


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def disclosure_in(raw: object) -> Disclosure | None:
    """A ``disclosure`` object; None when absent or empty (a malformed part reads as missing)."""
    disclosure = as_mapping(raw)
    if not disclosure:
        return None
    info = as_mapping(disclosure.get("equitability"))
    comparisons = as_mapping(disclosure.get("comparisons"))
    groups = as_mapping(disclosure.get("groups"))
    rule = as_mapping(disclosure.get("threshold_rule"))
    sizes = tuple(
        SampleSize(
            str(name),
            *(
                as_whole(as_mapping(s).get(k))
                for k in ("photos", "subjects", "impostor_comparisons", "genuine_comparisons")
            ),
        )
        for name, s in as_mapping(groups.get("sample_sizes")).items()
    )
    fta = tuple(
        Acquisition(
            str(name),
            as_whole(as_mapping(f).get("count")),
            as_whole(as_mapping(f).get("photos")),
            as_number(as_mapping(f).get("rate")),
            as_pair(as_mapping(f).get("ci")),
        )
        for name, f in as_mapping(disclosure.get("failure_to_acquire")).items()
    )
    fmr = [as_mapping(e) for e in as_list(disclosure.get("false_match_rate"))]
    fnmr = [as_mapping(e) for e in as_list(disclosure.get("false_non_match_rate"))]
    rates = []
    for i, f_entry in enumerate(fmr):  # the two lists follow the same thresholds
        n_entry = fnmr[i] if i < len(fnmr) else {}
        rates.append(
            RatesAt(
                threshold=as_number(f_entry.get("threshold")),
                rule=read_rule(f_entry.get("threshold_rule")),
                fmr_verdict=as_str(f_entry.get("verdict")),
                fnmr_verdict=as_str(n_entry.get("verdict")),
                fmr=_error_rates(f_entry.get("groups")),
                fnmr=_error_rates(n_entry.get("groups")),
            )
        )
    at_binding = as_mapping(info.get("inequity_at_binding"))
    return Disclosure(
        scope=as_str(disclosure.get("scope")),
        standard=_text_or_none(disclosure.get("standard")),
        certified=disclosure.get("certified") is True,
        uncertainty=_text_or_none(disclosure.get("uncertainty")),
        statement=_text_or_none(info.get("statement")),
        ratio_tolerance=as_number(info.get("ratio_tolerance")),
        fta_tolerance=as_number(info.get("fta_tolerance")),
        total_comparisons=as_whole(comparisons.get("total")),
        metric=_text_or_none(comparisons.get("metric")),
        design=_text_or_none(comparisons.get("design")),
        definition=tuple(str(g) for g in as_list(groups.get("definition"))),
        membership=as_str(groups.get("membership")),
        reference=as_str(groups.get("reference")),
        sample_sizes=sizes,
        failure_to_acquire=fta,
        rates=tuple(rates),
        target_fmrs=tuple(n for n in (as_number(t) for t in as_list(rule.get("target_fmr"))) if n is not None),
        calibrated_on=as_str(rule.get("calibrated_on")),
        impostors=as_str(rule.get("impostors")),
        binding_threshold=as_number(rule.get("binding_threshold")),
        unsupported=unsupported_in(rule.get("unsupported")),
        inequity_fmr=inequity_in(at_binding.get("fmr")),
        inequity_fnmr=inequity_in(at_binding.get("fnmr")),
    )
