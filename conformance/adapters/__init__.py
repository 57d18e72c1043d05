"""Adapters: one module per analyzer, found through the ``conformance.adapters`` entry points."""

from __future__ import annotations

from .base import Analyzer, AnalyzerFactory, Vocabulary

__all__ = ["Analyzer", "AnalyzerFactory", "Vocabulary"]
