"""The typed report is the only way into the writers, and two labels are spelt once (red team 18b F7, F8).

F7: the writers took ``Report | Mapping`` and parsed a dict themselves, while compare and the gate refused
one; ``build_report`` ordered and judged dicts and hand-built its "not run" entries (with a ``deciding`` key
CheckResult has not). F8: the console's ``id@threshold (binding)`` was written by the plugin and by the assert
helpers, and report.md and report.html each picked the deciding ratio row of a 1:1 check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.report import Report
from conformance.reporting import build_report, render_html, render_markdown, write_html, write_json, write_markdown
from conformance.reporting.markdown import render_gate_summary
from conformance.results import CheckResult


def _report_json() -> dict[str, Any]:
    return build_report([], context={"run": {"checks": ["misgender_gap"]}}).to_json()


WRITERS: dict[str, Any] = {
    "render_markdown": lambda report, folder: render_markdown(report),
    "render_html": lambda report, folder: render_html(report),
    "render_gate_summary": lambda report, folder: render_gate_summary(report),
    "write_json": lambda report, folder: write_json(report, folder / "report.json"),
    "write_markdown": lambda report, folder: write_markdown(report, folder / "report.md"),
    "write_html": lambda report, folder: write_html(report, folder / "report.html"),
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_the_writers_refuse_a_report_json_dict_and_say_how_to_read_it(writer: str, tmp_path: Path) -> None:
    write = WRITERS[writer]
    with pytest.raises(TypeError, match=r"conformance\.report\.Report, not a dict; .*Report\.from_json"):
        write(_report_json(), tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing written
    # The same content, read once as the writers take it, renders.
    assert write(Report.from_json(_report_json()), tmp_path)


def test_build_report_takes_results_not_their_dicts() -> None:
    result = CheckResult.not_run("misgender_gap", cause="raised", reason="raised MemoryError")
    with pytest.raises(TypeError, match=r"CheckResult values, not a dict; .*CheckResult\.from_dict"):
        build_report([result.to_dict()], context={})  # type: ignore[list-item]


def test_a_planned_check_without_a_result_is_written_as_before() -> None:
    """report.json's entry for a check that did not run, field by field and in order, as the kit wrote it by
    hand before CheckResult.not_run (reporting/json.py at issue 18's second review)."""
    context = {
        "run": {"checks": ["misgender_gap", "nonbinary_representability"]},
        "policy": {"confidence": 0.9},
        "grouping": {"reference": "cis"},
        "check_order": ["misgender_gap", "nonbinary_representability"],
    }
    why = {"cause": "deselected", "reason": "deselected by pytest's arguments (-k, -m or --deselect)"}
    report = build_report([], context=context, not_run={"nonbinary_representability": why})
    written = report.to_json()["checks"]
    assert [c["id"] for c in written] == ["misgender_gap", "nonbinary_representability"]
    assert report.verdict == "incomplete"
    assert written[1] == {
        "id": "nonbinary_representability",
        "verdict": "not run",
        "measure": written[1]["measure"],  # the check's one-line summary (check_ids.SUMMARIES)
        "count_label": "count",
        "reference": "cis",
        "confidence": 0.9,
        "groups": {},
        "comparisons": [],
        "deciding": None,
        "method": "not run",
        "notes": [f"not run: {why['reason']}"],
        "details": {"not_run": why},
    }
    assert written[1]["measure"]  # a summary, not an empty string
    assert list(written[1]) == [
        "id", "verdict", "measure", "count_label", "reference", "confidence", "groups", "comparisons",
        "deciding", "method", "notes", "details",
    ]  # fmt: skip
    # The one the run gave no reason for: the default.
    assert written[0]["details"] == {"not_run": {"cause": "no result", "reason": "no result"}}


def _matching(check_id: str, verdict: str, *, binding: bool, **details: Any) -> CheckResult:
    return CheckResult(
        id=check_id,
        verdict=verdict,  # type: ignore[arg-type]
        groups={},
        comparisons=(),
        method="m",
        measure="m",
        reference="a",
        confidence=0.95,
        threshold=0.41,
        details={"binding": binding, **details},
    )


def test_the_console_names_a_threshold_result_one_way() -> None:
    from conformance.assertions import result_label, verdict_line
    from conformance.plugin.summary import _verdict_exit

    bound = _matching("false_match_gap", "inconclusive", binding=True)
    assert result_label(bound) == "false_match_gap@0.41 (binding)"
    assert result_label(_matching("false_match_gap", "pass", binding=False)) == "false_match_gap@0.41"
    assert "false_match_gap@0.41 (binding)  nothing to compare" in verdict_line(bound)
    # The plugin's exit reason names the inconclusive results with the same label.
    data = build_report([bound], context={"policy": {"inconclusive": "fail"}}).to_json()
    assert "(false_match_gap@0.41 (binding))" in _verdict_exit(Report.from_json(data))


def test_report_md_and_html_show_the_same_deciding_ratio_row() -> None:
    from conformance.reporting import html_biometrics, markdown_biometrics

    def row(group: str, verdict: str, ratio: float) -> dict[str, Any]:
        return {
            "group": group,
            "reference": "a",
            "ratio": ratio,
            "ci": [1.0, 3.0],
            "tolerance": 1.5,
            "verdict": verdict,
        }

    ratios = [row("b", "pass", 1.1), row("c", "fail", 2.4), row("d", "fail", 2.9)]
    check = _matching("false_match_differential", "fail", binding=True, ratios=ratios)
    # The first row with the check's verdict: c (not d, the larger ratio), in both writers.
    md = markdown_biometrics.summary_cells(check)
    page = html_biometrics.summary_cells(check)
    assert md is not None
    assert md[0].startswith("c: ratio 2.4")
    assert page is not None
    assert page[0] == "c vs a (ratio)"
    # No row with the verdict: the first row; not a ratio check: none.
    inconclusive = _matching("false_match_differential", "inconclusive", binding=True, ratios=ratios)
    first = html_biometrics.summary_cells(inconclusive)
    assert first is not None
    assert (first[0], first[1], first[3]) == ("b vs a (ratio)", "1.1", "×1.5")
    assert markdown_biometrics.summary_cells(_matching("false_match_gap", "fail", binding=True)) is None
