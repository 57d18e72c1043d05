"""Report writers. They read a finished, typed report (:class:`conformance.report.Report`) and never recompute a statistic."""

from __future__ import annotations

from .html import render_html, write_html
from .json import SCHEMA_VERSION, build_report, write_json
from .markdown import render_markdown, write_markdown

__all__ = [
    "SCHEMA_VERSION",
    "build_report",
    "render_html",
    "render_markdown",
    "write_html",
    "write_json",
    "write_markdown",
]
