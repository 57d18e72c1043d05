"""The tables both writers make of a 1:1 comparison run's checks, and how they write its numbers.

The four checks of :mod:`conformance.checks.biometrics` put their figures in ``details``
(``docs/reference/biometric-report.md``): the threshold rule, ratios, inequity measures, the impostor
matrix, DET curves, score distributions and the ISO/IEC 19795-10-style disclosure. They are read once,
in :mod:`conformance.details` (``check.typed_details``), where a malformed value reads as missing: a
writer never fails on a malformed report, it shows less.

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
from ..details import (
    RATIO_CHECKS,
    DetPoint,
    Disclosure,
    Distributions,
    ErrorRate,
    Matrix,
    Measure,
    RatioRow,
    Rule,
    as_number,
    as_whole,
)
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
    "deciding_ratio",
    "interval_text",
    "is_ratio_check",
    "rate_text",
    "ratio_text",
    "threshold_label",
]

# What a 1:1 run's checks state in details is read in conformance.details, below reporting: the comparison
# of reports (conformance.comparison) reads it too. The number writers are conformance._format's.


def is_ratio_check(check: CheckResult) -> bool:
    """Whether ``check`` is one of the 1:1 differential checks, decided on rate ratios."""
    return check.id in RATIO_CHECKS


def deciding_ratio(check: CheckResult) -> RatioRow | None:
    """The ratio row the verdicts table shows for a 1:1 differential check: the first with the check's verdict
    (the verdict is the worst of them), else the first; None for a check not decided on ratios, or with none."""
    if not is_ratio_check(check):
        return None
    rows = check.typed_details.ratios
    return next((r for r in rows if r.verdict == check.verdict), rows[0] if rows else None)


def threshold_label(check: CheckResult) -> str:
    """The threshold as a check's name gives it: ``FMR 0.001 (threshold 0.412868)``, else ``0.412868``."""
    rule = (
        check.typed_details.rule
        if check.id in RATIO_CHECKS
        else _binding_rule(check)
        if check.id == "equitability"
        else None
    )
    threshold = "n/a" if check.threshold is None else f"{check.threshold:g}"
    if rule is not None and rule.kind == "target" and rule.target_fmr is not None:
        return f"FMR {rule.target_fmr:g} (threshold {threshold})"
    return threshold


def _binding_rule(check: CheckResult) -> Rule | None:
    """The rule of the disclosure's entry at the equitability check's (binding) threshold."""
    disclosure = check.typed_details.disclosure
    for entry in () if disclosure is None else disclosure.rates:
        if check.threshold is not None and entry.threshold == check.threshold:
            return entry.rule
    return None


def charts_check(checks: Sequence[CheckResult]) -> CheckResult | None:
    """The one entry whose section shows the DET curves and distributions: the binding FMR entry, else FNMR.

    Both differential checks carry the same curves on their binding entry; a page shows them once.
    """
    for check_id in RATIO_CHECKS:
        for check in checks:
            if check.id == check_id and check.binding and check.typed_details.has_det:
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
    count, share = as_whole(extra.get("not_acquired")), as_number(extra.get("fta"))
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
    for r in check.typed_details.ratios:
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


def sample_sizes_table(disclosure: Disclosure) -> Table | None:
    """Photos, people, impostor and genuine comparisons per group (the disclosure's sample sizes)."""
    if not disclosure.sample_sizes:
        return None
    rows = tuple(
        (
            s.group,
            count_text(s.photos),
            count_text(s.subjects),
            count_text(s.impostor_comparisons),
            count_text(s.genuine_comparisons),
        )
        for s in disclosure.sample_sizes
    )
    return Table(("group", "photos", "people", "impostor comparisons", "genuine comparisons"), rows, (1, 2, 3, 4))


def fta_table(disclosure: Disclosure, level: str) -> Table | None:
    """Failure to acquire per group, with its interval."""
    if not disclosure.failure_to_acquire:
        return None
    rows = tuple(
        (f.group, count_text(f.count), count_text(f.photos), rate_text(f.rate), interval_text(f.ci))
        for f in disclosure.failure_to_acquire
    )
    return Table(("group", "not acquired", "photos", "rate", f"{level} interval"), rows, (1, 2, 3, 4))


@dataclass(frozen=True)
class RatesAt:
    """The disclosure's FMR and FNMR at one threshold: its title, both verdicts and the per-group table."""

    title: str
    fmr_verdict: str
    fnmr_verdict: str
    table: Table


def rates_at(disclosure: Disclosure, level: str) -> list[RatesAt]:
    """FMR and FNMR per group at each threshold the disclosure states (the two lists follow the same thresholds)."""
    out = []
    for entry in disclosure.rates:
        rule = entry.rule
        title = f"{rule.label if rule is not None else 'threshold'}: threshold {threshold_text(entry.threshold)}"
        rows = []
        for name in dict.fromkeys([*entry.fmr, *entry.fnmr]):
            f, n = entry.fmr.get(name, ErrorRate()), entry.fnmr.get(name, ErrorRate())
            rows.append(
                (
                    name,
                    f"{count_text(f.errors)} / {count_text(f.comparisons)}",
                    rate_text(f.rate),
                    interval_text(f.ci),
                    f"{count_text(n.errors)} / {count_text(n.comparisons)}",
                    rate_text(n.rate),
                    interval_text(n.ci),
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
        out.append(RatesAt(title, entry.fmr_verdict or "unknown", entry.fnmr_verdict or "unknown", table))
    return out


def inequity_at_binding_table(disclosure: Disclosure) -> Table | None:
    """The inequity measures at the binding threshold, on FMR and on FNMR side by side."""
    fmr, level = disclosure.inequity_fmr.measures, disclosure.inequity_fmr.confidence
    fnmr = {m.key: m for m in disclosure.inequity_fnmr.measures}
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


def disclosure_facts(check: CheckResult, disclosure: Disclosure) -> dict[str, list[tuple[str, str]]]:
    """The disclosure's plain statements, by part: ``groups``, ``rule``, ``unsupported`` (label, text)."""
    targets = ", ".join(f"{t:g}" for t in disclosure.target_fmrs)
    return {
        "groups": [
            ("defined by", ", ".join(disclosure.definition) or "n/a"),
            ("how membership was obtained", disclosure.membership or "n/a"),
            ("reference group", disclosure.reference or check.reference or "n/a"),
        ],
        "rule": [
            ("target FMRs", targets or "none"),
            ("calibrated on", disclosure.calibrated_on or "n/a"),
            ("impostor pairs", disclosure.impostors or "n/a"),
            (
                "binding threshold",
                f"{threshold_text(disclosure.binding_threshold)} (the first target FMR the data support)",
            ),
        ],
        "unsupported": [
            (f"target FMR {r.target_fmr:g}" if r.target_fmr is not None else "a target", r.reason)
            for r in disclosure.unsupported
        ],
    }
