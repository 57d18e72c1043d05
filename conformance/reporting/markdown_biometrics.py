"""report.md sections of a 1:1 comparison run: the same content as report.html's, as tables (no charts).

:func:`biometric_markdown` gives the lines of ``false_match_differential``,
``false_non_match_differential`` and ``equitability`` (the ISO/IEC 19795-10-style disclosure), or
None for any other check. The tables are those of report.html (:mod:`._biometrics` builds both);
the DET points and score histograms, which report.html draws, are tables inside ``<details>`` so that
a job summary stays short. Every value is escaped with :func:`.markdown.escape`.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..details import Disclosure
from ..results import CheckResult
from ._biometrics import (
    RATIO_CHECKS,
    SOURCES,
    Table,
    Verdict,
    charts_check,
    count_text,
    deciding_ratio,
    det_table,
    disclosure_facts,
    distributions_table,
    fta_table,
    groups_table,
    inequity_at_binding_table,
    interval_text,
    matrix_table,
    measures_table,
    nouns,
    rates_at,
    ratio_text,
    ratios_table,
    sample_sizes_table,
    threshold_label,
)
from .markdown import code, escape, verdict_label

__all__ = ["biometric_markdown", "summary_cells"]


def _render(table: Table) -> list[str]:
    rows = [[verdict_label(c.word) if isinstance(c, Verdict) else escape(c) for c in row] for row in table.rows]
    header = [escape(h) for h in table.header]
    out = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if i in table.numeric else "---" for i in range(len(header))) + "|",
    ]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return [*out, ""]


def _details(summary: str, table: Table) -> list[str]:
    """A table folded under ``summary`` (GitHub renders ``<details>``; a blank line lets the table render)."""
    return [f"<details><summary>{escape(summary)}</summary>", "", *_render(table), "</details>", ""]


def summary_cells(check: CheckResult) -> tuple[str, str] | None:
    """For the verdicts table: ``group: ratio r [lo, hi]`` and ``×tolerance``; None for other checks."""
    row = deciding_ratio(check)
    if row is None:
        return None
    text = f"{escape(row.group)}: ratio {ratio_text(row.ratio)} {interval_text(row.ci, ratio_text)}"
    return text, "n/a" if row.tolerance is None else f"×{row.tolerance:g}"


def _title(check: CheckResult) -> str:
    at = f" at {escape(threshold_label(check))}" if check.threshold is not None else ""
    return at + (" (binding)" if check.binding and check.threshold is not None else "")


def _ratio_markdown(check: CheckResult, checks: Sequence[CheckResult]) -> list[str]:
    rate = nouns(check)[0]
    details = check.typed_details
    rule = details.rule
    metric = details.metric or ""
    out = [
        f"## {code(check.id)}{_title(check)}: {verdict_label(check.verdict)}",
        "",
        f"Measure: {escape(check.measure)}. Reference: {escape(check.reference)}. Decided on each group's {rate} "
        "ratio to the reference's, against the ratio tolerance in either direction.",
        "",
        f"**Threshold.** {escape(rule.sentence(str(metric)) if rule else 'The report does not say how it was set.')} "
        f"Impostor pairs: {escape('n/a' if details.impostors is None else details.impostors)}; "
        f"{count_text(details.impostor_comparisons)} impostor and {count_text(details.genuine_comparisons)} genuine "
        "comparisons counted.",
        "",
    ]
    for u in details.unsupported:
        target = f"{u.target_fmr:g}" if u.target_fmr is not None else "n/a"
        out.append(f"- Target FMR {escape(target)} not evaluated: {escape(u.reason)}")
    if details.unsupported:
        out.append("")
    if check.groups:
        out += [f"**{rate} per group**", "", *_render(groups_table(check))]
    if details.ratios:
        out += ["**Ratios to the reference**", "", *_render(ratios_table(check))]
    inequity = details.inequity
    measures, caveats, alpha, level = inequity.measures, inequity.caveats, inequity.alpha, inequity.confidence
    if measures:
        out += [
            f"**Inequity measures** (over the groups with a rate; alpha {ratio_text(alpha)}; intervals from the same "
            "two-way bootstrap resamples)",
            "",
            *_render(measures_table(measures, level)),
        ]
        out += [f"- Caveat: {escape(c)}" for c in caveats]
        if caveats:
            out.append("")
    matrix = details.matrix
    if matrix is not None:
        out += [
            "**Impostor matrix** (FMR of probes of the row's group against references of the column's group; false "
            "matches / impostor comparisons)",
            "",
            *_render(matrix_table(matrix)),
        ]
    if charts_check(checks) is check:
        det = details.det
        if det:
            out += _details(
                "DET curves: each group's FNMR at its own FMR (the points report.html draws)", det_table(det)
            )
        dist = details.distributions
        if dist is not None:
            out += _details("Score distributions: comparisons per score bin", distributions_table(dist))
    out += [f"- {escape(n)}" for n in check.notes]
    if check.notes:
        out.append("")
    boot = details.bootstrap
    if boot is not None:
        out += [
            f"Bootstrap: {escape(boot.method or 'n/a')}; {count_text(boot.resamples)} resamples, seed "
            f"{escape('n/a' if boot.seed is None else boot.seed)}.",
            "",
        ]
    out += [f"Method: {escape(check.method)}.", ""]
    return out


def _disclosure_markdown(check: CheckResult, disclosure: Disclosure) -> list[str]:
    level = f"{check.confidence:.0%}"
    statement = disclosure.statement or (check.notes[0] if check.notes else "")
    facts = disclosure_facts(check, disclosure)
    certified = "yes" if disclosure.certified else "no"
    out = [
        f"## ISO/IEC 19795-10-style disclosure: {code(check.id)}{_title(check)}: {verdict_label(check.verdict)}",
        "",
        f"> **Follows the standard's published scope; not certified conformance.** {escape(disclosure.scope)} "
        f"Standard: {escape('n/a' if disclosure.standard is None else disclosure.standard)}; certified: {certified}.",
        "",
        f"**Equitability statement:** {escape(statement)}",
        "",
        f"Tolerances: each group's FMR and FNMR within a factor of {ratio_text(disclosure.ratio_tolerance)} of the "
        f"reference's; failure to acquire within {ratio_text(disclosure.fta_tolerance)} of it. Verdict: the worst of "
        "the two differential checks at the binding threshold and the failure-to-acquire gap.",
        "",
        "### Groups",
        "",
        *(f"- {escape(k[:1].upper() + k[1:])}: {escape(v)}" for k, v in facts["groups"]),
        "",
    ]
    sizes = sample_sizes_table(disclosure)
    if sizes is not None:
        out += ["Sample sizes:", "", *_render(sizes)]
    fta = fta_table(disclosure, level)
    if fta is not None:
        out += [
            "### Failure to acquire",
            "",
            "Photos without a template (no face found); each counts as a miss in its genuine comparisons.",
            "",
            *_render(fta),
        ]
    out += ["### Threshold rule", "", *(f"- {escape(k[:1].upper() + k[1:])}: {escape(v)}" for k, v in facts["rule"])]
    out += [f"- {escape(label)} not evaluated: {escape(reason)}" for label, reason in facts["unsupported"]]
    out.append("")
    entries = rates_at(disclosure, level)
    if entries:
        out += ["### FMR and FNMR at each threshold, with uncertainty", ""]
        for entry in entries:
            out += [
                f"**{escape(entry.title)}** · FMR {verdict_label(entry.fmr_verdict)} · FNMR "
                f"{verdict_label(entry.fnmr_verdict)}",
                "",
                *_render(entry.table),
            ]
    out += [
        "### Uncertainty",
        "",
        f"{escape(_or_na(disclosure.uncertainty))}. Comparisons: {count_text(disclosure.total_comparisons)} "
        f"({escape(_or_na(disclosure.metric))}, design {escape(_or_na(disclosure.design))}).",
        "",
    ]
    inequity = inequity_at_binding_table(disclosure)
    if inequity is not None:
        out += ["### Inequity at the binding threshold", "", *_render(inequity)]
    out += ["### Sources", "", *(f"{i}. {escape(s)}" for i, s in enumerate(SOURCES, start=1)), ""]
    out += [f"Method: {escape(check.method)}.", ""]
    return out


def _or_na(text: str | None) -> str:
    return "n/a" if text is None else text


def biometric_markdown(check: CheckResult, checks: Sequence[CheckResult]) -> list[str] | None:
    """The lines of a 1:1 differential check's section or of the disclosure; None for any other check."""
    if check.id in RATIO_CHECKS:
        return _ratio_markdown(check, checks)
    disclosure = check.typed_details.disclosure if check.id == "equitability" else None
    if disclosure is not None:
        return _disclosure_markdown(check, disclosure)
    return None
