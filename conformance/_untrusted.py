"""Untrusted values: what the kit reads from files other people made (manifests, predictions, reports,
recordings). Guards so their numbers and JSON do not crash it, and quotes of them that do not flood its
messages."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterable
from typing import Any

__all__ = ["BAD_JSON", "CHOICES", "finite_number", "finite_numbers", "json_problem", "shown", "shown_list"]

# What json.loads raises for text it cannot turn into values: malformed JSON (JSONDecodeError), an
# integer over Python's 4,300-digit conversion limit (ValueError), nesting deeper than the recursion
# limit (RecursionError).
BAD_JSON = (ValueError, RecursionError)

# How many names shown_list gives where a message asks to choose among them (columns, groups): every one
# in any usual file, a bounded message for a file with thousands.
CHOICES = 20


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


def finite_numbers(values: Iterable[Any]) -> bool:
    """Every value a real, finite number (:func:`finite_number`), quickly for the floats JSON gives.

    >>> finite_numbers([0.1, 2, 3.5]), finite_numbers([0.1, float("nan")]), finite_numbers([True])
    (True, False, False)
    """
    for value in values:
        if type(value) is float:
            if value - value != 0.0:  # inf - inf and nan - nan are nan
                return False
        elif not finite_number(value):
            return False
    return True


def shown(value: object, limit: int = 80, *, quoted: bool = True) -> str:
    """A value from someone else's file as a message quotes it: its ``repr``, cut when it is long.

    A string longer than ``limit`` keeps its first ``limit`` characters and says its length; any
    other value gets a repr bounded by :mod:`reprlib` (two levels deep, four items of a list or
    dict, ``...`` for the rest). With ``quoted=False`` a string of ``limit`` characters or fewer
    comes out as it is, for messages that never quoted it; a longer one is still quoted, so the
    cut shows.

    >>> shown("Femme")
    "'Femme'"
    >>> shown("abcdefgh", limit=3)
    "'abc'... (8 characters)"
    >>> shown([0.1, 0.2, 0.3, 0.4, 0.5])
    '[0.1, 0.2, 0.3, 0.4, ...]'
    >>> shown({"a": {"b": {"c": 1}}})
    "{'a': {'b': {...}}}"
    >>> shown("misgender_gap", quoted=False)
    'misgender_gap'
    """
    if isinstance(value, str):
        if len(value) <= limit:
            return repr(value) if quoted else value
        return f"{value[:limit]!r}... ({len(value)} characters)"
    bounded = reprlib.Repr()
    bounded.maxlevel = 2
    bounded.maxlist = bounded.maxdict = 4
    # maxlong too: reprlib cuts integers past 40 digits by default, where repr would not.
    bounded.maxstring = bounded.maxother = bounded.maxlong = limit
    return bounded.repr(value)


def shown_list(values: Iterable[object], most: int = 5, *, quoted: bool = True) -> str:
    """Values joined with commas for a message: the first ``most`` as :func:`shown` gives them, then a count.

    >>> shown_list(["cis", "trans"])
    "'cis', 'trans'"
    >>> shown_list("abcdefg", most=3)
    "'a', 'b', 'c', and 4 more"
    >>> shown_list(["photo", "subject"], quoted=False)
    'photo, subject'
    """
    items = list(values)
    listed = [shown(value, quoted=quoted) for value in items[:most]]
    if len(items) > most:
        listed.append(f"and {len(items) - most} more")
    return ", ".join(listed)
