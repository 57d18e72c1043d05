"""Report writers. They read finished results (``CheckResult.to_dict()``) and never recompute a statistic."""

from __future__ import annotations

from .json import SCHEMA_VERSION, build_report, write_json
from .markdown import render_markdown, write_markdown

__all__ = ["SCHEMA_VERSION", "build_report", "render_markdown", "write_json", "write_markdown"]
