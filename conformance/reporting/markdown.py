"""``report.md``: the human-readable report, fit for a GitHub job summary (``$GITHUB_STEP_SUMMARY``).

Rendered from the typed :class:`~conformance.report.Report` alone. Every value that came from a
manifest, predictions file or vendor is escaped so that it cannot break a table or inject markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .._atomic import write_atomic
from .._format import fixed, interval
from .._text import printable
from ..comparison.values import NOT_COMPARED
from ..details import Measured
from ..report import Report, report_banners
from ..results import CheckResult
from ._biometrics import threshold_label
from .json import report_only

__all__ = [
    "VERDICT_LABELS",
    "GateView",
    "escape",
    "gate_view",
    "identity_map_text",
    "render_markdown",
    "tally_text",
    "undisclosed_text",
    "verdict_label",
    "write_markdown",
]

# A word and a sign for every verdict a report may carry (the sign never carries the meaning alone).
VERDICT_LABELS: Mapping[str, str] = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "inconclusive": "⚠️ inconclusive",
    "not applicable": "➖ not applicable",
    "not run": "⏭️ not run",
    "incomplete": "⛔ incomplete",
}
_LISTED_PHOTOS = 50


def verdict_label(verdict: str | None) -> str:
    """The verdict with its sign; a verdict this version does not know (a newer report's), escaped as it is."""
    if verdict is None:
        return "unknown"
    return VERDICT_LABELS.get(verdict) or escape(verdict)


def _or(value: object, default: str) -> object:
    return default if value is None else value


def escape(value: object) -> str:
    """Make text safe inside a Markdown table cell: no markup, no pipes, no line breaks.

    Control characters, line separators and bidi controls are shown escaped first, as the console shows
    them (:func:`conformance._text.printable`): a value stays on its line and in its cell, and shows what
    it holds; no line of the file can be a CI command (report.md is printed and shown as a job summary).
    """
    text = printable(value)
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(char, entity)
    for char in "\\`*_[]#!|":
        text = text.replace(char, "\\" + char)  # a backslash-escaped pipe cannot end a table cell
    return text


def code(value: object) -> str:
    """An inline code span; backticks are dropped since nothing escapes them inside one."""
    return "`" + printable(str(value).replace("`", "")) + "`"


def code_cell(value: object) -> str:
    """An inline code span inside a table cell: a pipe is escaped (GitHub unescapes it before the span)."""
    return code(value).replace("|", "\\|")


def _p(value: float, alpha: float | None) -> str:
    """A p-value to 2 significant digits, or as many more as it takes to sit on the same side of ``alpha``.

    At 2 digits 0.02504 printed "0.025" beside an inconclusive verdict whose level is 0.025.
    """
    for digits in range(2, 8):
        text = f"{value:.{digits}g}"
        if alpha is None or (float(text) <= alpha) == (value <= alpha):
            return text
    return f"{value:.8g}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out.extend("| " + " | ".join(row) + " |" for row in rows)
    return out


def _provenance_banner(report: Report) -> list[str]:
    out = []
    if report.analyzer.simulated:
        out += [
            "> **Simulated analyzer output.** The predictions in this run were constructed to match published "
            "figures; they are not the output of any real service or model.",
            "",
        ]
    if report.analyzer.emulated:
        out += [
            "> **Emulated vendor API.** Responses came from the kit's local emulator of the vendor's API "
            "(recorded, then replayed), not from the vendor.",
            "",
        ]
    for banner in report_banners(report.analyzer):
        out += [f"> **{escape(banner.title)}.** {escape(banner.text)}", ""]
    return out


def _check_section(check: CheckResult) -> list[str]:
    from .._wording import detectable, inconclusive_reason, rate_label

    at = ""
    if check.threshold is not None:
        at = f" at threshold {check.threshold:g}" + (" (binding)" if check.binding else "")
    out = [f"## {code(check.id)}{at}: {verdict_label(check.verdict)}", "", f"Measure: {escape(check.measure)}.", ""]
    details = check.typed_details
    static = details.static
    if static is not None:
        labels = ", ".join(f"{escape(k)} → {escape(v)}" for k, v in static.labels) or "none"
        out += [
            f"Static: {verdict_label(static.verdict)}: {escape(static.reason)} (labels: {labels}; "
            f"vocabulary {escape(static.source or '')}).",
            "",
        ]
    if check.groups:
        level = f"{check.confidence:.0%} CI"
        rows = [
            [escape(name), str(g.photos), str(g.subjects), str(g.count), str(g.n), fixed(g.rate), interval(g.ci)]
            for name, g in check.groups.items()
        ]
        out += _table(
            ["group", "photos", "subjects", escape(check.count_label), "n", escape(rate_label(check)), level], rows
        )
        out.append("")
    if check.comparisons:
        rows = []
        for c in check.comparisons:
            p = (
                "n/a"
                if c.p_value is None
                else _p(c.p_value, check.alpha_fail)
                + ("" if c.p_adjusted is None else f" (Holm {_p(c.p_adjusted, check.alpha_fail)})")
            )
            why = escape(c.note)
            if c.verdict == "inconclusive" and not why:
                why = escape(inconclusive_reason(c))
            if c.verdict == "inconclusive" and c.min_detectable is not None:
                why = (why + "; " if why else "") + escape(detectable(c.min_detectable))
            rows.append(
                [
                    _row_label(c.group, c.reference),
                    fixed(c.difference),
                    interval(c.ci),
                    p,
                    f"{c.tolerance:g}",
                    verdict_label(c.verdict),
                    why,
                ]
            )
        out += _table(["comparison", "gap", "interval", "p-value", "tolerance", "verdict", "note"], rows)
        out.append("")
    companion = details.companion
    if companion is not None:
        out += _companion(companion, check.confidence)
    for note in check.notes:
        out.append(f"- {escape(note)}")
    if check.notes:
        out.append("")
    out += [f"Method: {escape(check.method)}.", ""]
    return out


def _companion(measure: Measured, confidence: float) -> list[str]:
    """A second measure every comparison must also satisfy (misgender_gap's "not correctly gendered")."""

    def ci(pair: tuple[float | None, float | None] | None) -> tuple[float, float] | None:
        return None if pair is None or pair[0] is None or pair[1] is None else (pair[0], pair[1])

    def shown(value: object) -> str:
        return escape("n/a" if value is None else value)

    out = [f"Companion measure, every comparison must also satisfy it: {escape(measure.measure)}.", ""]
    rows = []
    for g in measure.groups:
        counts = [shown(v) for v in (g.photos, g.subjects, g.count, g.n)]
        rows.append([escape(g.name), *counts, fixed(g.rate), interval(ci(g.ci))])
    out += _table(["group", "photos", "subjects", "count", "n", "rate", f"{confidence:.0%} CI"], rows)
    out.append("")
    if measure.comparisons:
        rows = [
            [
                _row_label(c.group, c.reference),
                fixed(c.difference),
                interval(ci(c.ci)),
                escape(c.tolerance),
                verdict_label(c.verdict),
            ]
            for c in measure.comparisons
        ]
        out += _table(["comparison", "gap", "interval", "tolerance", "verdict"], rows)
        out.append("")
    return out


def _completeness(report: Report) -> list[str]:
    """What the run covers: an incomplete run says it is no verdict; a --checks subset says it is one."""
    missing = [c.id for c in report.not_run]
    out = []
    if missing:
        out += [
            f"> **{len(missing)} of {len(report.planned)} planned checks were not run** "
            f"({', '.join(code(m) for m in missing)}; the reasons are below)"
            + (": this report is not a verdict on the analyzer." if report.verdict == "incomplete" else "."),
            "",
        ]
    if report.run.fields.get("checks_chosen"):
        out += [
            f"Scope: the checks chosen with `--checks` ({', '.join(code(c) for c in report.planned)}); "
            "the verdict covers those checks only.",
            "",
        ]
    return out


def _evidence_lines(report: Report) -> list[str]:
    """Where the answers came from (sessions, the cache) and the digests that seal the report to its evidence."""
    out = []
    cache = report.analyzer.fields.get("observations_cache")
    if isinstance(cache, str):
        out.append(
            f"- Answers read from the verified observation cache {code(cache)} (sealed, bound to the recording's "
            "digest); where they came from was read from the recording again"
        )
    sessions = report.analyzer.recording_sessions
    if sessions:
        kinds = ", ".join(sorted({str(s.get("endpoint_class", "?")) for s in sessions}))
        times = sorted(str(s.get("started")) for s in sessions if s.get("started"))
        span = f", {times[0]}" + (f" to {times[-1]}" if len(times) > 1 else "") if times else ""
        sdks = ", ".join(sorted({str(s.get("botocore")) for s in sessions if s.get("botocore")}))
        out.append(
            f"- Recorded in {len(sessions)} session{'s' if len(sessions) != 1 else ''} ({escape(kinds)}{escape(span)}"
            + (f"; botocore {escape(sdks)}" if sdks else "")
            + ")"
        )
    notes = report.analyzer.fields.get("recording_notes")
    for note in notes if isinstance(notes, list) else []:
        out.append(f"- Recording: {escape(note)}")
    evidence = report.evidence
    if evidence.fields:
        sealed = [f"{escape(what)} {code(str(entry.get('sha256', '?'))[:16])}" for what, entry in evidence.files]
        policy = evidence.policy.get("sha256")
        if isinstance(policy, str):
            sealed.append(f"policy {code(policy[:16])}")
        out.append(
            f"- Evidence (sha256): {', '.join(sealed)}; every image in report.json; check it all with "
            "`conformance verify report.json`"
        )
    return out


IDENTITY_ENTRIES_LISTED = 3  # up to this many custom entries are written out; more are counted


def identity_map_text(report: Report) -> str | None:
    """The policy's custom identity-map entries, in one line (None when the run used the kit's map alone).

    The map decides who is in which group, so a reader sees it where the verdicts are read, not only in
    report.json (red team 14d: an entry in a submitted pyproject.toml was visible nowhere else).
    """
    import json

    entries = report.policy.fields.get("identity")
    if not isinstance(entries, Mapping) or not entries:
        return None
    count = len(entries)
    if count > IDENTITY_ENTRIES_LISTED:
        return f"{count} custom entries (see report.json policy.identity)"
    listed = ", ".join(
        f"{json.dumps(str(label), ensure_ascii=False)} = {json.dumps(str(meaning))}"
        for label, meaning in entries.items()
    )
    return f"{count} custom entr{'y' if count == 1 else 'ies'}: {listed}"


def undisclosed_text(report: Report) -> str | None:
    """The dataset's people with no self-described gender identity, in words (None where it does not apply).

    Shown for a gender run whenever the report counts them (none, too), and for any run that has some:
    they are in every photo count and in no misgendering figure, and a reader must know how many.
    """
    from ..checks.check_ids import GENDER_CHECKS

    counts = report.dataset.fields.get("undisclosed")
    if not isinstance(counts, Mapping):
        return None
    people, photos = counts.get("subjects"), counts.get("photos")
    if not isinstance(people, int) or not isinstance(photos, int):
        return None
    if not people:
        return "none" if any(c.id in GENDER_CHECKS for c in report.checks) else None
    return (
        f"{people} {'person' if people == 1 else 'people'} ({photos} photo{'s' if photos != 1 else ''}) did not "
        "disclose a gender identity: counted in every photo count, detection failures and coverage, "
        "excluded from misgendering figures"
    )


def data_protection_text(report: Report) -> str | None:
    """What the data-protection preflight of a live run found and decided, in words (None: no live call).

    Read from ``analyzer.retention_preflight`` (conformance.retention), as the adapter recorded it.
    """
    record = report.analyzer.fields.get("retention_preflight")
    if not isinstance(record, Mapping):
        return None
    opted_out = record.get("opted_out")
    state = "opted out" if opted_out is True else "NOT opted out" if opted_out is False else "opt-out state unknown"
    words = [
        f"before the first live call to {record.get('vendor', 'the vendor')}: {state} ({record.get('detail', '')})"
    ]
    if opted_out is not True:
        accepted = record.get("accepted_retention") is True
        words.append(
            "went live with --accept-vendor-retention: the vendor may keep and use the photos"
            if accepted
            else "not accepted"
        )
    most, least, made = record.get("calls_max", record.get("calls")), record.get("calls_min"), record.get("calls_made")
    if isinstance(most, int):
        cost = record.get("cost")
        span = f"{least} to {most}" if isinstance(least, int) and least != most else f"{most}"
        words.append(
            f"calls planned: {span}" + (f" (about USD {cost:,.2f} at most)" if isinstance(cost, (int, float)) else "")
        )
    if isinstance(made, int):
        words.append(f"{made} made")
    terms = record.get("terms")
    return "; ".join(words) + (f". Terms: {terms}" if terms else "")


def tally_text(report: Report) -> str:
    """``2 failed, 1 inconclusive, 3 passed, 1 not run, of 7 checks planned``: verdicts new to reports only
    when present; report.md and report.html say it alike (issue 14: "of 6 checks run" beside "5 not run")."""
    words = [f"{report.count('fail')} failed", f"{report.count('inconclusive')} inconclusive"]
    words += [f"{report.count('pass')} passed"]
    words += [f"{report.count(v)} {v}" for v in ("not applicable", "not run") if report.count(v)]
    results, planned = len(report.checks), len(report.planned)
    checks = f"{planned} check{'s' if planned != 1 else ''} planned"
    if results == planned:
        return f"{', '.join(words)}, of {checks}"
    # A matching run has one result per similarity threshold.
    return f"{', '.join(words)}, of {results} results ({checks}, a result per similarity threshold)"


@dataclass(frozen=True)
class GateView:
    """The regression gate as the writers show it: the baseline compared with (and the digest the evidence
    sealed), the regressions found, and whether the run's exit status was the gate's alone."""

    baseline: str
    digest: str | None
    regressions: tuple[str, ...]
    gate_only: bool

    @property
    def found(self) -> str:
        n = len(self.regressions)
        if not n:
            return "no regression"
        return f"{n} regression{'s' if n != 1 else ''}"

    @property
    def meaning(self) -> str:
        if not self.regressions:
            return "no gap is worse than the baseline's beyond noise"
        lacking = sum(NOT_COMPARED in message for message in self.regressions)
        worse = len(self.regressions) - lacking
        said = []
        if worse:
            said.append(("a gap" if worse == 1 else "gaps") + " worse than the baseline's beyond noise")
        if lacking:
            said.append(("a check" if lacking == 1 else "checks") + " with gaps the baseline cannot speak to")
        return " and ".join(said)

    @property
    def exit_note(self) -> str:
        """For a run of the gate alone: its exit status is the gate's, and the verdict is the checks' own."""
        if not self.gate_only:
            return ""
        status = 1 if self.regressions else 0
        return (
            f"Only the gate was selected (pytest's -k): the run's exit status, {status}, is the gate's; "
            "the verdict above is the checks' own, which this run did not ask for"
        )


def gate_view(report: Report) -> GateView | None:
    """The regression gate of ``report`` (None for a run without ``--baseline``)."""
    gate = report.regression
    if gate is None:
        return None
    sealed = report.evidence.fields.get("baseline")
    digest = sealed.get("sha256") if isinstance(sealed, Mapping) else None
    return GateView(
        baseline=gate.baseline,
        digest=digest if isinstance(digest, str) else None,
        regressions=tuple(gate.regressions),
        gate_only=report.run.fields.get("gate_only") is True,
    )


def _gate(report: Report) -> list[str]:
    """The regression gate, under the verdict: what it compared with and what it found."""
    view = gate_view(report)
    if view is None:
        return []
    digest = f" (sha256 {code(view.digest)})" if view.digest else ""
    note = f" {escape(view.exit_note)}." if view.exit_note else ""
    out = [f"> **Regression gate** against {code(view.baseline)}{digest}: **{view.found}**, {view.meaning}.{note}"]
    if view.regressions:
        out += [">", *(f"> - {escape(message)}" for message in view.regressions)]
    return [*out, ""]


def render_gate_summary(report: Report) -> str:
    """For a job summary, a run of the regression gate alone: its finding only (rt14c F15).

    The audit's step already put the whole report in the summary; the gate's run of the same checks would
    put it there a second time.
    """
    report = report_only(report, "render_gate_summary")
    name = f"{escape(_or(report.analyzer.name, '?'))} on {escape(_or(report.dataset.name, '?'))}"
    return "\n".join([f"## Regression gate: {name}", "", *_gate(report)])


def render_markdown(report: Report) -> str:
    """The Markdown report for ``report`` (a :class:`~conformance.report.Report`; a dict is refused, TypeError)."""
    report = report_only(report, "render_markdown")
    analyzer, dataset, policy, run = report.analyzer, report.dataset, report.policy, report.run
    out = [
        f"# Conformance report: {escape(_or(analyzer.name, '?'))} on {escape(_or(dataset.name, '?'))}",
        "",
        *_provenance_banner(report),
        f"**Verdict: {verdict_label(report.verdict)}**: {tally_text(report)}.",
        "",
        *_completeness(report),
        *_gate(report),
    ]
    from .._wording import finding, inconclusive_reason, largest_gap
    from .markdown_biometrics import biometric_markdown, summary_cells

    rows = []
    for c in report.checks:
        worst = c.worst_comparison
        gap = "n/a" if worst is None else f"{escape(worst.group)}: {fixed(worst.difference)} {interval(worst.ci)}"
        if worst is not None and worst.verdict == "inconclusive" and c.verdict == "inconclusive":
            gap += f" ({escape(inconclusive_reason(worst))})"  # every inconclusive names its reason
        larger = largest_gap(c)
        if larger is not None:  # the starkest finding stays in the headline, whatever decided the verdict
            gap += f"; largest gap: {escape(finding(larger))}"
        if str(c.verdict) == "not run":
            gap = escape("; ".join(c.notes) or "not run")
        name = code_cell(c.id) + (f" at {escape(threshold_label(c))}" if c.threshold is not None else "")
        gap, tolerance = summary_cells(c) or (gap, "n/a" if worst is None else f"{worst.tolerance:g}")
        rows.append([name, verdict_label(c.verdict), gap, tolerance])
    out += _table(["check", "verdict", "deciding gap [interval]", "tolerance"], rows)
    out.append("")
    for skipped in report.skipped:
        out.append(f"- {code(skipped.id)} was not run: {escape(skipped.reason)}")
    if report.skipped:
        out.append("")
    for note in report.notes:
        out.append(f"- {escape(note)}")
    if report.notes:
        out.append("")
    for check in report.checks:
        out += biometric_markdown(check, report.checks) or _check_section(check)

    outcomes = report.outcomes
    out += [
        "## Photos",
        "",
        f"{sum(outcomes.values())} photos: {outcomes.get('analysed', 0)} analysed, "
        f"{outcomes.get('no_face', 0)} with no face found, {outcomes.get('error', 0)} errors.",
        "",
    ]
    missing = report.analyzer.fields.get("missing_predictions")
    if isinstance(missing, Mapping) and missing.get("note"):
        out += [f"> **Missing predictions.** {escape(missing['note'])}", ""]
    troubled = list(report.photos_not(("analysed", "enrolled")))
    if troubled:
        rows = [[escape(p.photo), escape(p.outcome), escape(p.reason)] for p in troubled[:_LISTED_PHOTOS]]
        out += _table(["photo", "outcome", "reason"], rows)
        if len(troubled) > _LISTED_PHOTOS:
            out.append(f"\n…and {len(troubled) - _LISTED_PHOTOS} more; every photo is listed in report.json.")
        out.append("")

    out += [
        "## Provenance",
        "",
        f"- Analyzer: {escape(_or(analyzer.name, '?'))} {escape(_or(analyzer.version, ''))} "
        f"(adapter {code(_or(analyzer.adapter, '?'))}, source {escape(_or(analyzer.source, '?'))})"
        + ("; **simulated output**" if analyzer.simulated else "")
        + ("; **emulated API**" if analyzer.emulated else ""),
        *([f"- Data protection: {escape(text)}"] if (text := data_protection_text(report)) else []),
        *_evidence_lines(report),
        f"- Dataset: {escape(_or(dataset.name, '?'))}, {_or(dataset.photos, '?')} photos of "
        f"{_or(dataset.subjects, '?')} subjects, {code(_or(dataset.content_hash, '?'))}",
        *([f"- Undisclosed gender identity: {escape(text)}"] if (text := undisclosed_text(report)) else []),
        f"- Grouping: {escape(', '.join(report.grouping.by) or 'default (cis / trans / nonbinary)')}"
        f"; reference {code(_or(report.grouping.reference, '?'))}",
        f"- Policy: profile {code(_or(policy.profile, '?'))} from {escape(_or(policy.source, '?'))}; "
        f"confidence {_or(policy.confidence, '?')}; "
        f"inconclusive counts as {escape(_or(policy.inconclusive, '?'))}",
        *([f"- Identity map: {escape(text)}"] if (text := identity_map_text(report)) else []),
        f"- Seed {report.seed}; kit {escape(report.kit_version)}; "
        f"python {escape(_or(run.python, '?'))}; pytest {escape(_or(run.pytest, '?'))}",
        f"- Reproduce: {code(run.command)}" if run.command else "",
        "",
    ]
    return "\n".join(out).rstrip() + "\n"


def write_markdown(report: Report, path: str | Path) -> Path:
    target = Path(path)
    write_atomic(target, render_markdown(report))
    return target


def _row_label(group: object, reference: object) -> str:
    """A comparison row's name: ``trans vs cis`` for a gap, ``cis: rate against the ceiling`` for a group's rate
    against detection_failure_gap's ceiling, which is no gap (rt14f F7: it read ``cis vs none (ceiling)``)."""
    from .._wording import CEILING_REFERENCE

    if reference == CEILING_REFERENCE:
        return f"{escape(group)}: rate against the ceiling"
    return f"{escape(group)} vs {escape(reference)}"
