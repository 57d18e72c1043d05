"""``report.md``: the human-readable report, fit for a GitHub job summary (``$GITHUB_STEP_SUMMARY``).

Rendered from the report dict alone. Every value that came from a manifest, predictions file or
vendor is escaped so that it cannot break a table or inject markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._atomic import write_atomic

__all__ = ["escape", "render_markdown", "write_markdown"]

_VERDICT = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "inconclusive": "⚠️ inconclusive",
    "not applicable": "➖ not applicable",
}
_LISTED_PHOTOS = 50


def escape(value: object) -> str:
    """Make text safe inside a Markdown table cell: no markup, no pipes, no line breaks."""
    # Control characters (a terminal escape sequence in a group name) are dropped; whitespace folds.
    text = " ".join("".join(c for c in str(value) if c.isprintable() or c.isspace()).split())
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(char, entity)
    for char in "\\`*_[]#!|":
        text = text.replace(char, "\\" + char)  # a backslash-escaped pipe cannot end a table cell
    return text


def code(value: object) -> str:
    """An inline code span; backticks are dropped since nothing escapes them inside one."""
    return "`" + " ".join(str(value).replace("`", "").split()) + "`"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ci(ci: list[float | None] | None) -> str:
    if not ci or ci[0] is None or ci[1] is None:
        return "n/a"
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out.extend("| " + " | ".join(row) + " |" for row in rows)
    return out


def _provenance_banner(analyzer: Mapping[str, Any]) -> list[str]:
    out = []
    if analyzer.get("simulated"):
        out += [
            "> **Simulated analyzer output.** The predictions in this run were constructed to match published "
            "figures; they are not the output of any real service or model.",
            "",
        ]
    if analyzer.get("emulated"):
        out += [
            "> **Emulated vendor API.** Responses came from the kit's local emulator of the vendor's API "
            "(recorded, then replayed), not from the vendor.",
            "",
        ]
    return out


def _check_section(check: Mapping[str, Any]) -> list[str]:
    at = ""
    if check.get("threshold") is not None:
        at = f" at threshold {check['threshold']:g}" + (" (binding)" if check.get("details", {}).get("binding") else "")
    out = [f"## {code(check['id'])}{at}: {_VERDICT[check['verdict']]}", "", f"Measure: {escape(check['measure'])}.", ""]
    static = check.get("details", {}).get("static")
    if static:
        labels = ", ".join(f"{escape(k)} → {escape(v)}" for k, v in static.get("labels", {}).items()) or "none"
        out += [
            f"Static: {_VERDICT[static['verdict']]}: {escape(static['reason'])} (labels: {labels}; "
            f"vocabulary {escape(static.get('source', ''))}).",
            "",
        ]
    groups = check.get("groups", {})
    if groups:
        level = f"{check['confidence']:.0%} CI"
        rows = [
            [
                escape(name),
                str(g["photos"]),
                str(g["subjects"]),
                str(g["count"]),
                str(g["n"]),
                _num(g["rate"]),
                _ci(g["ci"]),
            ]
            for name, g in groups.items()
        ]
        out += _table(
            ["group", "photos", "subjects", escape(check.get("count_label", "count")), "n", "rate", level], rows
        )
        out.append("")
    comparisons = check.get("comparisons", [])
    if comparisons:
        rows = []
        for c in comparisons:
            p = (
                "n/a"
                if c["p_value"] is None
                else f"{c['p_value']:.2g}" + ("" if c["p_adjusted"] is None else f" (Holm {c['p_adjusted']:.2g})")
            )
            why = escape(c.get("note") or "")
            if c["verdict"] == "inconclusive" and c.get("min_detectable") is not None:
                why = (why + "; " if why else "") + f"a true gap of {c['min_detectable']:.3f} would fail with 80% power"
            rows.append(
                [
                    f"{escape(c['group'])} vs {escape(c['reference'])}",
                    _num(c["difference"]),
                    _ci(c["ci"]),
                    p,
                    f"{c['tolerance']:g}",
                    _VERDICT[c["verdict"]],
                    why,
                ]
            )
        out += _table(["comparison", "gap", "interval", "p-value", "tolerance", "verdict", "note"], rows)
        out.append("")
    for note in check.get("notes", []):
        out.append(f"- {escape(note)}")
    if check.get("notes"):
        out.append("")
    out += [f"Method: {escape(check['method'])}.", ""]
    return out


def render_markdown(report: Mapping[str, Any]) -> str:
    """The Markdown report for ``report`` (as built by :func:`~conformance.reporting.json.build_report`)."""
    analyzer = report.get("analyzer", {})
    dataset = report.get("dataset", {})
    checks = report.get("checks", [])
    counts = {v: sum(1 for c in checks if c["verdict"] == v) for v in ("fail", "inconclusive", "pass")}
    out = [
        f"# Conformance report: {escape(analyzer.get('name', '?'))} on {escape(dataset.get('name', '?'))}",
        "",
        *_provenance_banner(analyzer),
        f"**Verdict: {_VERDICT[report['verdict']]}**: {counts['fail']} failed, {counts['inconclusive']} "
        f"inconclusive, {counts['pass']} passed, of {len(checks)} checks.",
        "",
    ]
    rows = []
    for c in checks:
        worst = next((x for x in c.get("comparisons", []) if x["group"] == c.get("deciding")), None)
        gap = "n/a" if worst is None else f"{escape(worst['group'])}: {_num(worst['difference'])} {_ci(worst['ci'])}"
        name = code(c["id"]) + (f" at {c['threshold']:g}" if c.get("threshold") is not None else "")
        rows.append([name, _VERDICT[c["verdict"]], gap, "n/a" if worst is None else f"{worst['tolerance']:g}"])
    out += _table(["check", "verdict", "deciding gap [interval]", "tolerance"], rows)
    out.append("")
    for skipped in report.get("skipped", []):
        out.append(f"- {code(skipped['id'])} was not run: {escape(skipped['reason'])}")
    if report.get("skipped"):
        out.append("")
    for note in report.get("notes", []):
        out.append(f"- {escape(note)}")
    if report.get("notes"):
        out.append("")
    for check in checks:
        out += _check_section(check)

    outcomes = report.get("outcomes", {})
    photos = report.get("photos", [])
    out += [
        "## Photos",
        "",
        f"{sum(outcomes.values())} photos: {outcomes.get('analysed', 0)} analysed, "
        f"{outcomes.get('no_face', 0)} with no face found, {outcomes.get('error', 0)} errors.",
        "",
    ]
    troubled = [p for p in photos if p.get("outcome") not in ("analysed", "enrolled")]
    if troubled:
        rows = [
            [escape(p["photo"]), escape(p["outcome"]), escape(p.get("reason", ""))] for p in troubled[:_LISTED_PHOTOS]
        ]
        out += _table(["photo", "outcome", "reason"], rows)
        if len(troubled) > _LISTED_PHOTOS:
            out.append(f"\n…and {len(troubled) - _LISTED_PHOTOS} more; every photo is listed in report.json.")
        out.append("")

    run = report.get("run", {})
    policy = report.get("policy", {})
    out += [
        "## Provenance",
        "",
        f"- Analyzer: {escape(analyzer.get('name', '?'))} {escape(analyzer.get('version', ''))} "
        f"(adapter {code(analyzer.get('adapter', '?'))}, source {escape(analyzer.get('source', '?'))})"
        + ("; **simulated output**" if analyzer.get("simulated") else "")
        + ("; **emulated API**" if analyzer.get("emulated") else ""),
        f"- Dataset: {escape(dataset.get('name', '?'))}, {dataset.get('photos', '?')} photos of "
        f"{dataset.get('subjects', '?')} subjects, {code(dataset.get('content_hash', '?'))}",
        f"- Grouping: {escape(', '.join(report.get('grouping', {}).get('by', [])) or 'default (cis / trans / nonbinary)')}"
        f"; reference {code(report.get('grouping', {}).get('reference', '?'))}",
        f"- Policy: profile {code(policy.get('profile', '?'))} from {escape(policy.get('source', '?'))}; "
        f"confidence {policy.get('confidence', '?')}; inconclusive counts as {escape(policy.get('inconclusive', '?'))}",
        f"- Seed {report.get('seed')}; kit {escape(report.get('kit_version', '?'))}; "
        f"python {escape(run.get('python', '?'))}; pytest {escape(run.get('pytest', '?'))}",
        f"- Reproduce: {code(run.get('command', ''))}" if run.get("command") else "",
        "",
    ]
    return "\n".join(out).rstrip() + "\n"


def write_markdown(report: Mapping[str, Any], path: str | Path) -> Path:
    target = Path(path)
    write_atomic(target, render_markdown(report))
    return target
