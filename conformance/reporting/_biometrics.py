"""What the writers read of a 1:1 comparison run's checks, and how they write its numbers.

The four checks of :mod:`conformance.checks.biometrics` put their figures in ``details``
(``docs/reference/biometric-report.md``): the threshold rule, ratios, inequity measures, the impostor
matrix, DET curves, score distributions and the ISO/IEC 19795-10-style disclosure. ``details`` is a
check's own JSON, read from a file someone else may have made: every reader here takes what has the
documented shape and leaves the rest, so a writer never fails on a malformed report, it shows less.

Texts returned here are plain (not escaped): each writer escapes them for its format. Numbers:
rates below 0.001 in e-notation with three significant digits (``3.05e-4``; an FMR written as
0.000 says nothing), others with three significant digits; counts with thousands separators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._format import count_text, interval_text, rate_text, ratio_text, threshold_text
from .._untrusted import finite_number
from ..details.biometrics import (
    RATIO_CHECKS,
    RatioRow,
    Rule,
    is_ratio_check,
    ratios_of,
    read_rule,
    rule_of,
)
from ..details.biometrics import as_list as _list
from ..details.biometrics import as_mapping as _mapping
from ..details.biometrics import as_number as _number
from ..details.biometrics import as_pair as _pair
from ..details.biometrics import as_str as _str
from ..details.biometrics import as_whole as _whole
from ..results import CheckResult

__all__ = [
    "RATIO_CHECKS",
    "SOURCES",
    "DetPoint",
    "Distributions",
    "Matrix",
    "Measure",
    "RatioRow",
    "Rule",
    "charts_check",
    "count_text",
    "det_of",
    "disclosure_of",
    "distributions_of",
    "inequity_of",
    "interval_text",
    "is_ratio_check",
    "matrix_of",
    "rate_text",
    "ratio_text",
    "ratios_of",
    "read_rule",
    "rule_of",
    "threshold_label",
    "unsupported_of",
]

# The threshold rule and the ratios are read in conformance.details.biometrics, below reporting: the comparison
# of reports (conformance.comparison) reads them too. The number writers are conformance._format's.


# -- the threshold rule ---------------------------------------------------------------------------------


def unsupported_of(details: Mapping[str, Any]) -> list[Rule]:
    """Target FMRs the data could not support (``unsupported_targets``), each with its reason."""
    return [r for r in (read_rule(x) for x in _list(details.get("unsupported_targets"))) if r is not None]


def threshold_label(check: CheckResult) -> str:
    """The threshold as a check's name gives it: ``FMR 0.001 (threshold 0.412868)``, else ``0.412868``."""
    rule = rule_of(check) if check.id in RATIO_CHECKS else _binding_rule(check) if check.id == "equitability" else None
    threshold = "n/a" if check.threshold is None else f"{check.threshold:g}"
    if rule is not None and rule.kind == "target" and rule.target_fmr is not None:
        return f"FMR {rule.target_fmr:g} (threshold {threshold})"
    return threshold


def _binding_rule(check: CheckResult) -> Rule | None:
    """The rule of the disclosure's entry at the equitability check's (binding) threshold."""
    for raw in _list(disclosure_of(check).get("false_match_rate")):
        entry = _mapping(raw)
        if check.threshold is not None and _number(entry.get("threshold")) == check.threshold:
            return read_rule(entry.get("threshold_rule"))
    return None


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


def inequity_of(raw: object) -> tuple[list[Measure], list[str], float | None, float | None]:
    """Measures, caveats, alpha and confidence of an ``inequity`` object."""
    inequity = _mapping(raw)
    measures = [
        Measure(
            key, label, _number(_mapping(inequity.get(key)).get("value")), _pair(_mapping(inequity.get(key)).get("ci"))
        )
        for key, label in _MEASURES
        if key in inequity
    ]
    caveats = [c for c in _list(inequity.get("caveats")) if isinstance(c, str)]
    return measures, caveats, _number(inequity.get("alpha")), _number(inequity.get("confidence"))


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


def matrix_of(check: CheckResult) -> Matrix | None:
    """``details.impostor_matrix``; None when absent or not the documented shape."""
    raw = _mapping(check.details.get("impostor_matrix"))
    rows = [str(g) for g in _list(raw.get("probe_groups"))]
    cols = [str(g) for g in _list(raw.get("reference_groups"))]
    if not rows or not cols:
        return None

    def grid(key: str, read: Any) -> tuple[tuple[Any, ...], ...] | None:
        table = _list(raw.get(key))
        if len(table) != len(rows) or any(len(_list(r)) != len(cols) for r in table):
            return None
        return tuple(tuple(read(v) for v in _list(r)) for r in table)

    false_matches = grid("false_matches", _whole)
    comparisons = grid("impostor_comparisons", _whole)
    fmr = grid("fmr", _number)
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


def det_of(check: CheckResult) -> dict[str, list[DetPoint]]:
    """``details.det``: each group's points, by rising FMR; points without both rates are left out."""
    out: dict[str, list[DetPoint]] = {}
    for name, points in _mapping(check.details.get("det")).items():
        kept = []
        for raw in _list(points):
            point = _mapping(raw)
            fmr, fnmr = _number(point.get("fmr")), _number(point.get("fnmr"))
            if fmr is None or fnmr is None:
                continue
            kept.append(DetPoint(fmr, fnmr, _number(point.get("threshold")), _whole(point.get("false_matches"))))
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


def distributions_of(check: CheckResult) -> Distributions | None:
    """``details.distributions``; None when absent or not the documented shape."""
    raw = _mapping(check.details.get("distributions"))
    edges = [_number(e) for e in _list(raw.get("edges"))]
    if len(edges) < 2 or any(e is None for e in edges):
        return None
    bins = len(edges) - 1
    impostor, genuine, impostor_failed, genuine_failed = {}, {}, {}, {}
    for name, entry in _mapping(raw.get("groups")).items():
        group = _mapping(entry)
        imp = [_whole(v) for v in _list(group.get("impostor"))]
        gen = [_whole(v) for v in _list(group.get("genuine"))]
        if len(imp) != bins or len(gen) != bins or any(v is None for v in (*imp, *gen)):
            continue
        impostor[str(name)] = tuple(int(v or 0) for v in imp)
        genuine[str(name)] = tuple(int(v or 0) for v in gen)
        impostor_failed[str(name)] = _whole(group.get("impostor_failed")) or 0
        genuine_failed[str(name)] = _whole(group.get("genuine_failed")) or 0
    if not impostor:
        return None
    return Distributions(tuple(float(e or 0.0) for e in edges), impostor, genuine, impostor_failed, genuine_failed)


def charts_check(checks: Sequence[CheckResult]) -> CheckResult | None:
    """The one entry whose section shows the DET curves and distributions: the binding FMR entry, else FNMR.

    Both differential checks carry the same curves on their binding entry; a page shows them once.
    """
    for check_id in RATIO_CHECKS:
        for check in checks:
            if check.id == check_id and check.binding and "det" in check.details:
                return check
    return None


# Sources of the measures a 1:1 run reports (plain text: each writer escapes and formats them).
SOURCES = (
    "ISO/IEC 19795-10:2024. Information technology — Biometric performance testing and reporting — Part 10: "
    "Quantifying biometric system performance variation across demographic groups. ISO/IEC.",
    "Grother, P., Ngan, M., & Hanaoka, K. (2019). Face Recognition Vendor Test (FRVT) Part 3: Demographic "
    "Effects. NISTIR 8280. National Institute of Standards and Technology.",
    "Grother, P. (2022). Face Recognition Vendor Test (FRVT) Part 8: Summarizing Demographic Differentials. "
    "NISTIR 8429. National Institute of Standards and Technology.",
    "Howard, J. J., Laird, E. J., Rubin, R. E., Sirotin, Y. B., Tipton, J. L., & Vemury, A. R. (2022). "
    "Evaluating proposed fairness models for face recognition algorithms. arXiv:2203.05051.",
    "de Freitas Pereira, T., & Marcel, S. (2022). Fairness in biometrics: a figure of merit to assess biometric "
    "verification systems. IEEE Transactions on Biometrics, Behavior, and Identity Science, 4(1), 19–29.",
)


# -- the disclosure -------------------------------------------------------------------------------------


def disclosure_of(check: CheckResult) -> Mapping[str, Any]:
    """``details.disclosure`` of the equitability check (empty when absent)."""
    return _mapping(check.details.get("disclosure"))


# -- tables: the same rows for report.html and report.md ------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """A table cell holding a verdict (each writer shows it its own way: a badge, a sign and a word)."""

    word: str


Cell = str | Verdict


@dataclass(frozen=True)
class Table:
    """A table of plain-text cells (escape them for the format) and verdicts; ``numeric`` columns align right."""

    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    numeric: tuple[int, ...] = ()


_NOUNS = {
    # check id: (rate's name, errors, comparisons)
    "false_match_differential": ("FMR", "false matches", "impostor comparisons"),
    "false_non_match_differential": ("FNMR", "false non-matches", "genuine comparisons"),
}


def nouns(check: CheckResult) -> tuple[str, str, str]:
    """The rate's name, what its errors and its comparisons are called: ``("FMR", "false matches", ...)``."""
    return _NOUNS.get(check.id, ("rate", check.count_label, "comparisons"))


def _level_text(level: float | None) -> str:
    return "" if level is None else f"{round(level * 100, 2):g}%"


def _fta_text(extra: Mapping[str, Any]) -> str:
    """Photos without a template and their share: ``20 (2.5%)``; ``n/a`` where the report does not say."""
    count, share = _whole(extra.get("not_acquired")), _number(extra.get("fta"))
    if count is None:
        return "n/a"
    return f"{count:,}" + ("" if share is None else f" ({share:.1%})")


def groups_table(check: CheckResult) -> Table:
    """Each group's errors, comparisons, rate with its interval and share of the errors, and beside them
    its failure to acquire and the comparisons without a score (counted below every threshold)."""
    rate, errors, units = nouns(check)
    rows = []
    for name, g in check.groups.items():
        share = g.extra.get("share_of_errors")
        rows.append(
            (
                name + (" (reference)" if name == check.reference else ""),
                count_text(g.photos),
                count_text(g.subjects),
                count_text(g.count),
                count_text(g.n),
                rate_text(g.rate),
                interval_text(g.ci),
                "n/a" if not finite_number(share) else f"{share:.1%}",
                _fta_text(g.extra),
                count_text(g.extra.get("without_score")),
            )
        )
    header = (
        "group",
        "photos",
        "people",
        errors,
        units,
        rate,
        f"{check.confidence:.0%} interval",
        f"share of {errors}",
        "photos without a template",
        f"{units} without a score",
    )
    return Table(header, tuple(rows), tuple(range(1, 10)))


def ratios_table(check: CheckResult) -> Table:
    """Each ratio with the interval its verdict was decided on, the difference of the rates, tolerance, verdict."""
    differences = {c.group: c for c in check.comparisons}
    rows = []
    for r in ratios_of(check):
        c = differences.get(r.group)
        difference = "n/a" if c is None else f"{rate_text(c.difference)} {interval_text(c.ci)}"
        method = r.method + (f", {_level_text(r.level)}" if r.level is not None else "")
        rows.append(
            (
                f"{r.group} vs {r.reference}",
                ratio_text(r.ratio),
                interval_text(r.ci, ratio_text),
                difference,
                "n/a" if r.tolerance is None else f"×{r.tolerance:g}",
                Verdict(r.verdict),
                method + (f"; {r.note}" if r.note else ""),
            )
        )
    header = ("comparison", "ratio", "interval", "difference [interval]", "tolerance", "verdict", "method; note")
    return Table(header, tuple(rows), (1, 2, 3, 4))


def measures_table(measures: Sequence[Measure], level: float | None) -> Table:
    """Inequity measures with their intervals."""
    rows = tuple((m.label, ratio_text(m.value), interval_text(m.ci, ratio_text)) for m in measures)
    return Table(("measure", "value", f"{_level_text(level) or '95%'} interval"), rows, (1, 2))


def matrix_table(matrix: Matrix) -> Table:
    """The impostor matrix as text: each cell's FMR and the counts behind it."""
    rows = []
    for i, probe in enumerate(matrix.probe_groups):
        cells: list[Cell] = [probe]
        for j in range(len(matrix.reference_groups)):
            text = (
                f"{rate_text(matrix.fmr[i][j])} ({count_text(matrix.false_matches[i][j])} / "
                f"{count_text(matrix.comparisons[i][j])})"
            )
            cells.append(text if matrix.counted[i][j] else text + " not counted")
        rows.append(tuple(cells))
    header = ("probe group ↓ / reference group →", *matrix.reference_groups)
    return Table(header, tuple(rows), tuple(range(1, len(header))))


def det_table(det: Mapping[str, Sequence[DetPoint]]) -> Table:
    """Every DET point: group, FMR, FNMR, the threshold and the false matches behind the FMR."""
    rows = tuple(
        (
            name,
            rate_text(p.fmr),
            rate_text(p.fnmr),
            "n/a" if p.threshold is None else f"{p.threshold:.6g}",
            count_text(p.false_matches),
        )
        for name, points in det.items()
        for p in points
    )
    return Table(("group", "FMR", "FNMR", "threshold", "false matches"), rows, (1, 2, 3, 4))


def distributions_table(dist: Distributions) -> Table:
    """Counts per score bin: impostor and genuine, per group."""
    names = list(dist.impostor)
    header = ("score bin", *(f"{n}: {kind}" for n in names for kind in ("impostor", "genuine")))
    rows = []
    for k in range(len(dist.edges) - 1):
        cells: list[Cell] = [f"[{dist.edges[k]:.4g}, {dist.edges[k + 1]:.4g})"]
        for n in names:
            cells += [count_text(dist.impostor[n][k]), count_text(dist.genuine[n][k])]
        rows.append(tuple(cells))
    failed: list[Cell] = ["without a score"]
    for n in names:
        failed += [count_text(dist.impostor_failed[n]), count_text(dist.genuine_failed[n])]
    rows.append(tuple(failed))
    return Table(header, tuple(rows), tuple(range(1, len(header))))


def sample_sizes_table(disclosure: Mapping[str, Any]) -> Table | None:
    """Photos, people, impostor and genuine comparisons per group (the disclosure's sample sizes)."""
    sizes = _mapping(_mapping(disclosure.get("groups")).get("sample_sizes"))
    if not sizes:
        return None
    keys = ("photos", "subjects", "impostor_comparisons", "genuine_comparisons")
    rows = tuple((str(name), *(count_text(_mapping(s).get(k)) for k in keys)) for name, s in sizes.items())
    return Table(("group", "photos", "people", "impostor comparisons", "genuine comparisons"), rows, (1, 2, 3, 4))


def fta_table(disclosure: Mapping[str, Any], level: str) -> Table | None:
    """Failure to acquire per group, with its interval."""
    fta = _mapping(disclosure.get("failure_to_acquire"))
    if not fta:
        return None
    rows = tuple(
        (
            str(name),
            count_text(_mapping(f).get("count")),
            count_text(_mapping(f).get("photos")),
            rate_text(_mapping(f).get("rate")),
            interval_text(_mapping(f).get("ci")),
        )
        for name, f in fta.items()
    )
    return Table(("group", "not acquired", "photos", "rate", f"{level} interval"), rows, (1, 2, 3, 4))


@dataclass(frozen=True)
class RatesAt:
    """The disclosure's FMR and FNMR at one threshold: its title, both verdicts and the per-group table."""

    title: str
    fmr_verdict: str
    fnmr_verdict: str
    table: Table


def rates_at(disclosure: Mapping[str, Any], level: str) -> list[RatesAt]:
    """FMR and FNMR per group at each threshold the disclosure states (the two lists follow the same thresholds)."""
    fmr = [_mapping(e) for e in _list(disclosure.get("false_match_rate"))]
    fnmr = [_mapping(e) for e in _list(disclosure.get("false_non_match_rate"))]
    out = []
    for i, f_entry in enumerate(fmr):
        n_entry = fnmr[i] if i < len(fnmr) else {}
        rule = read_rule(f_entry.get("threshold_rule"))
        threshold = _number(f_entry.get("threshold"))
        title = f"{rule.label if rule is not None else 'threshold'}: threshold {threshold_text(threshold)}"
        groups_f, groups_n = _mapping(f_entry.get("groups")), _mapping(n_entry.get("groups"))
        rows = []
        for name in dict.fromkeys([*groups_f, *groups_n]):
            f, n = _mapping(groups_f.get(name)), _mapping(groups_n.get(name))
            rows.append(
                (
                    str(name),
                    f"{count_text(f.get('errors'))} / {count_text(f.get('comparisons'))}",
                    rate_text(f.get("rate")),
                    interval_text(f.get("ci")),
                    f"{count_text(n.get('errors'))} / {count_text(n.get('comparisons'))}",
                    rate_text(n.get("rate")),
                    interval_text(n.get("ci")),
                )
            )
        header = (
            "group",
            "false matches / impostor comparisons",
            "FMR",
            f"{level} interval",
            "false non-matches / genuine comparisons",
            "FNMR",
            f"{level} interval",
        )
        table = Table(header, tuple(rows), tuple(range(1, 7)))
        out.append(
            RatesAt(title, _str(f_entry.get("verdict")) or "unknown", _str(n_entry.get("verdict")) or "unknown", table)
        )
    return out


def inequity_at_binding_table(disclosure: Mapping[str, Any]) -> Table | None:
    """The inequity measures at the binding threshold, on FMR and on FNMR side by side."""
    at_binding = _mapping(_mapping(disclosure.get("equitability")).get("inequity_at_binding"))
    fmr, _, _, level = inequity_of(at_binding.get("fmr"))
    fnmr = {m.key: m for m in inequity_of(at_binding.get("fnmr"))[0]}
    if not fmr:
        return None
    rows = []
    for m in fmr:
        other = fnmr.get(m.key)
        rows.append(
            (
                m.label,
                f"{ratio_text(m.value)} {interval_text(m.ci, ratio_text)}",
                "n/a" if other is None else f"{ratio_text(other.value)} {interval_text(other.ci, ratio_text)}",
            )
        )
    return Table(
        ("measure", f"on FMR [{_level_text(level) or '95%'} interval]", "on FNMR [interval]"), tuple(rows), (1, 2)
    )


def disclosure_facts(check: CheckResult) -> dict[str, list[tuple[str, str]]]:
    """The disclosure's plain statements, by part: ``groups``, ``rule``, ``unsupported`` (label, text)."""
    disclosure = disclosure_of(check)
    groups = _mapping(disclosure.get("groups"))
    rule = _mapping(disclosure.get("threshold_rule"))
    binding = _number(rule.get("binding_threshold"))
    targets = ", ".join(f"{t:g}" for t in _list(rule.get("target_fmr")) if _number(t) is not None)
    return {
        "groups": [
            ("defined by", ", ".join(str(g) for g in _list(groups.get("definition"))) or "n/a"),
            ("how membership was obtained", _str(groups.get("membership")) or "n/a"),
            ("reference group", _str(groups.get("reference")) or check.reference or "n/a"),
        ],
        "rule": [
            ("target FMRs", targets or "none"),
            ("calibrated on", _str(rule.get("calibrated_on")) or "n/a"),
            ("impostor pairs", _str(rule.get("impostors")) or "n/a"),
            ("binding threshold", f"{threshold_text(binding)} (the first target FMR the data support)"),
        ],
        "unsupported": [
            (f"target FMR {r.target_fmr:g}" if r.target_fmr is not None else "a target", r.reason)
            for r in (read_rule(u) for u in _list(rule.get("unsupported")))
            if r is not None
        ],
    }
