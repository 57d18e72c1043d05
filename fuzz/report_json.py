#!/usr/bin/env python3
"""Coverage-guided fuzzing of the report reader: ``load_report`` on any bytes as ``report.json``, then a
comparison of the report with itself, rendered.

    python fuzz/report_json.py CORPUS fuzz/seeds/report_json -dict=fuzz/dicts/report.dict -max_len=8192

Property: the file is refused with the kit's error and a message, or it loads, compares with itself
without a refusal and with no differences, and renders as Markdown and HTML.
"""

from __future__ import annotations

import _harness  # first: instruments the kit

from conformance.comparison.reports import compare_reports, load_report
from conformance.reporting.compare import render_compare_html, render_compare_markdown


def TestOneInput(data: bytes) -> None:
    path = _harness.SCRATCH / "report.json"
    path.write_bytes(data)
    report = _harness.outcome(lambda: load_report(path))
    if report is None:
        return
    comparison = _harness.outcome(lambda: compare_reports([report, report]), refusal=False)
    assert comparison is not None
    assert comparison.differences == ()  # a report against itself changes nothing
    assert isinstance(render_compare_markdown(comparison), str)
    assert isinstance(render_compare_html(comparison), str)


if __name__ == "__main__":
    _harness.main(TestOneInput)
