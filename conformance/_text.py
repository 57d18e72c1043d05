"""Values from files and arguments shown as what they are, never obeyed: control characters and bidi overrides
made visible.

One rule for the outputs that use it: a failure message and report.html show a group
named ``"\\u202eevil"`` as ``\\u202eevil``, not as ``live`` (the override would reverse what follows it)
and an escape sequence as ``\\x1b[2J``, not as a cleared screen.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

# C0 and C1 controls (tab and newline kept: they only lay text out), the bidi marks (U+200E/F),
# embeddings and overrides (U+202A-U+202E) and isolates (U+2066-U+2069).
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character and bidi override shown as an escape (``\\x1b``, ``\\u202e``).

    >>> printable("a\\x1b[2Jb\\u202eevil")
    'a\\\\x1b[2Jb\\\\u202eevil'
    """
    return _UNPRINTABLE.sub(
        lambda m: f"\\u{ord(m.group()):04x}" if ord(m.group()) > 0xFF else f"\\x{ord(m.group()):02x}", text
    )
