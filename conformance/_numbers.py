"""Small guards for values read from files other people made: numbers and JSON that do not crash the kit."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["BAD_JSON", "finite_number", "json_problem"]

# What json.loads raises for text it cannot turn into values: malformed JSON (JSONDecodeError), an
# integer over Python's 4,300-digit conversion limit (ValueError), nesting deeper than the recursion
# limit (RecursionError).
BAD_JSON = (ValueError, RecursionError)


def json_problem(exc: BaseException) -> str:
    """A short description of why a text is not usable JSON."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(getattr(exc, "msg", None) or exc) or type(exc).__name__


def finite_number(value: Any) -> bool:
    """A real, finite number (not a bool, not an integer too large for a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False
