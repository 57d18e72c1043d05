"""Adapters: one module per analyzer, found through the ``conformance.adapters`` entry points."""

from __future__ import annotations

from .base import AdapterSettings, Analyzer, AnalyzerFactory, Vocabulary

__all__ = ["AdapterSettings", "Analyzer", "AnalyzerFactory", "Vocabulary"]
