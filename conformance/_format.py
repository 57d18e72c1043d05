"""How the kit writes a rate, a gap and an interval: three decimals, ``n/a`` for none.

The failure tables, report.html and ``conformance compare`` read ``0.310 [0.261, 0.364]`` for the same
figure because they write it here, as do report.md and the JUnit XML properties.
The rates of 1:1 comparison runs, which can be as small as 1e-4, are written with three significant
digits instead (:func:`rate_text`: an FMR written as 0.000 says nothing), their ratios likewise, and
counts with thousands separators.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ._untrusted import finite_number

__all__ = [
    "count_text",
    "fixed",
    "interval",
    "interval_text",
    "level_text",
    "rate_text",
    "ratio_text",
    "threshold_text",
]


def fixed(value: object, digits: int = 3, *, sign: bool = False) -> str:
    """A rate, gap or bound with ``digits`` decimals (``sign``: a ``+`` before a positive one); ``n/a`` for
    anything that is not a finite number.

    >>> fixed(0.31), fixed(-0.0453, 2), fixed(0.27, sign=True), fixed(None), fixed(float("nan"))
    ('0.310', '-0.05', '+0.270', 'n/a', 'n/a')
    """
    return f"{value:{'+' if sign else ''}.{digits}f}" if finite_number(value) else "n/a"


def interval(ci: object, digits: int = 3) -> str:
    """``[lower, upper]`` with ``digits`` decimals; ``n/a`` when there is no interval (or a bound is missing).

    >>> interval((0.261, 0.3641)), interval(None), interval([0.1, None])
    ('[0.261, 0.364]', 'n/a', 'n/a')
    """
    if not isinstance(ci, Sequence) or isinstance(ci, str) or len(ci) != 2 or not all(finite_number(v) for v in ci):
        return "n/a"
    return f"[{fixed(ci[0], digits)}, {fixed(ci[1], digits)}]"


def level_text(level: float) -> str:
    """A confidence level as a percentage: ``95%``, ``98.3%``.

    >>> level_text(0.95), level_text(0.98333)
    ('95%', '98.3%')
    """
    return f"{round(level * 100, 1):g}%"


# -- rates of 1:1 comparison runs, their ratios and counts: significant digits, not decimals --------------


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and finite_number(value) else None


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def rate_text(value: object) -> str:
    """A rate as a reader can use it: ``0``, ``0.113``, ``0.00239``, ``3.05e-4``; ``n/a`` for none.

    >>> rate_text(644 / 269100), rate_text(82 / 269100), rate_text(0.0), rate_text(None), rate_text(0.2)
    ('0.00239', '3.05e-4', '0', 'n/a', '0.2')
    """
    number = _number(value)
    if number is None:
        return "n/a"
    if number == 0:
        return "0"
    if abs(number) >= 1e-3:
        return f"{number:.3g}"
    mantissa, exponent = f"{number:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def ratio_text(value: object) -> str:
    """A ratio (or any positive measure) with three significant digits; ``n/a`` for none.

    >>> ratio_text(7.8511), ratio_text(0.98), ratio_text(15.246), ratio_text(None)
    ('7.85', '0.98', '15.2', 'n/a')
    """
    number = _number(value)
    return "n/a" if number is None else f"{number:.3g}"


def count_text(value: object) -> str:
    """A count with thousands separators: ``269,100``; ``n/a`` for none."""
    whole = _whole(value)
    return "n/a" if whole is None else f"{whole:,}"


def interval_text(ci: object, text: Any = rate_text) -> str:
    """``[lower, upper]`` with each bound written by ``text``; ``n/a`` for a bound the report leaves null."""
    if not isinstance(ci, Sequence) or isinstance(ci, str) or len(ci) != 2:
        return "n/a"
    return f"[{text(ci[0])}, {text(ci[1])}]"


def threshold_text(value: float | None) -> str:
    """A 1:1 run's similarity threshold, on any model's scale, with six significant digits; ``n/a`` for none.

    >>> threshold_text(0.41286812), threshold_text(None)
    ('0.412868', 'n/a')
    """
    return "n/a" if value is None else f"{value:.6g}"
