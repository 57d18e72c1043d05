"""A value of a check's details as the documented shape has it, or nothing (None, ``""``, empty).

``details`` is a check's own JSON, read from a file someone else may have made: each reader of
:mod:`conformance.details` takes its values through these, so a malformed value shows as missing and
no writer fails on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._untrusted import finite_number

__all__ = ["as_list", "as_mapping", "as_number", "as_pair", "as_str", "as_whole"]


def as_number(value: object) -> float | None:
    """A finite real number, else None (a bool is not one)."""
    return float(value) if isinstance(value, (int, float)) and finite_number(value) else None


def as_whole(value: object) -> int | None:
    """A whole number, else None (a bool is not one)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_pair(value: object) -> tuple[float | None, float | None] | None:
    """Two bounds, each a finite number or None; None when it is not a pair."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        return None
    return as_number(value[0]), as_number(value[1])


def as_mapping(value: object) -> Mapping[str, Any]:
    """An object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: object) -> list[Any]:
    """An array as a list, else an empty one."""
    return list(value) if isinstance(value, (list, tuple)) else []


def as_str(value: object) -> str:
    """A string, else ``""``."""
    return value if isinstance(value, str) else ""
