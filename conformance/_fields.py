"""Typed values read out of parsed JSON, with messages that say where the value was.

The report's reader (:mod:`conformance.report`) and the ``from_dict`` constructors of
:mod:`conformance.results` share these; a :class:`FieldError` names the place (``checks[0]
(misgender_gap) group 'cis' 'rate'``) and the caller adds the file. Numbers are kept as written
(an integer stays an integer), so that a value read and written back is the same JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._untrusted import finite_number

__all__ = ["FieldError", "count", "describe", "interval", "number", "optional_number", "strings", "text"]


class FieldError(ValueError):
    """A JSON value that is not what its place needs; the message names the place and what was found."""


def describe(value: object) -> str:
    """What kind of JSON value ``value`` is, for a message: ``an object``, ``a string``, ..."""
    kinds = {dict: "an object", list: "an array", str: "a string", type(None): "null", bool: "a boolean"}
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not finite_number(value):
        return f"{value!r} (not a finite number)"  # "found a number" beside "should be a number" said nothing
    return kinds.get(type(value), "a number")


def optional_number(value: object, where: str) -> float | None:
    """``value`` as a finite number, or None for null."""
    if value is None:
        return None
    if not finite_number(value):
        raise FieldError(f"{where} should be a number or null, found {describe(value)}")
    number: float = value  # type: ignore[assignment]  # an int or a float, checked above
    return number


def number(value: object, where: str) -> float:
    """``value`` as a finite number."""
    if not finite_number(value):
        raise FieldError(f"{where} should be a number, found {describe(value)}")
    found: float = value  # type: ignore[assignment]  # an int or a float, checked above
    return found


def interval(value: object, where: str) -> tuple[float, float] | None:
    """A ``[lower, upper]`` pair; None for null or when a bound is null (an interval that could not be made)."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise FieldError(f"{where} should be a [lower, upper] pair or null")
    lower = optional_number(value[0], where)
    upper = optional_number(value[1], where)
    return None if lower is None or upper is None else (lower, upper)


def count(entry: Mapping[str, Any], key: str, where: str) -> int:
    """``entry[key]`` as a whole, non-negative number."""
    value = entry.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FieldError(f"{where} lacks a whole, non-negative {key!r}")
    return value


def text(value: object, where: str, default: str = "") -> str:
    """A string; ``default`` when absent (None)."""
    if value is None:
        return default
    if not isinstance(value, str):
        raise FieldError(f"{where} should be a string, found {describe(value)}")
    return value


def strings(value: object, where: str) -> tuple[str, ...]:
    """An array of strings; empty when absent (None)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise FieldError(f"{where} should be an array of strings")
    return tuple(value)
