"""Kept for imports written before :mod:`conformance._atomic` became a leaf module of its own."""

from __future__ import annotations

from .._atomic import write_atomic

__all__ = ["write_atomic"]
