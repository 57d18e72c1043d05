"""How the kit writes a rate, a gap and an interval: three decimals, ``n/a`` for none.

The failure tables, report.html and ``conformance compare`` read ``0.310 [0.261, 0.364]`` for the same
figure because they write it here (report.md and the JUnit properties still have copies of their own).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._untrusted import finite_number

__all__ = ["fixed", "interval"]


def fixed(value: object, digits: int = 3) -> str:
    """A rate, gap or bound with ``digits`` decimals; ``n/a`` for anything that is not a finite number.

    >>> fixed(0.31), fixed(-0.0453, 2), fixed(None), fixed(float("nan"))
    ('0.310', '-0.05', 'n/a', 'n/a')
    """
    return f"{value:.{digits}f}" if finite_number(value) else "n/a"


def interval(ci: object, digits: int = 3) -> str:
    """``[lower, upper]`` with ``digits`` decimals; ``n/a`` when there is no interval (or a bound is missing).

    >>> interval((0.261, 0.3641)), interval(None), interval([0.1, None])
    ('[0.261, 0.364]', 'n/a', 'n/a')
    """
    if not isinstance(ci, Sequence) or isinstance(ci, str) or len(ci) != 2 or not all(finite_number(v) for v in ci):
        return "n/a"
    return f"[{fixed(ci[0], digits)}, {fixed(ci[1], digits)}]"
