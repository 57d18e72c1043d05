"""Text fit for a terminal and a CI log: every value from a file or an argument shown on one line, inert.

A manifest value, a group name, a column name, a predictions header's analyzer name, a photo path, a
vendor's error message or an argument such as ``--group-by`` is data, and the console must show it as
data. Printed raw, a newline in it starts a line of the attacker's choosing: ``::error::...``,
``::add-mask::...`` or ``::stop-commands::`` make GitHub Actions annotate, hide or stop reading the log,
``##vso[...]`` sets Azure Pipelines variables, an escape sequence rewrites the terminal, and a bidi
override reorders what a reviewer reads. :func:`printable` is the kit's one escaping function for
everything it prints (the pytest header and terminal summary, failure tables, the CLI's output and
``conformance: error:`` lines, warnings); :func:`printable_lines` applies it to each line of a block
whose line breaks the kit made itself.

What it does to a value:

- every C0 and C1 control (newline, carriage return, tab, ESC, NEL, ...), every lone surrogate, the line
  and paragraph separators U+2028/U+2029 and the bidirectional controls (U+061C, U+200E, U+200F,
  U+202A-U+202E, U+2066-U+2069) are written as escapes: ``\\x1b``, ``\\x0a``, ``\\u202e``, ``\\udc80``;
- a value that starts with ``::`` (after blanks: GitHub's runner trims them) has its first colon written
  ``\\x3a``, so no line it begins is a workflow command;
- ``##[`` and ``##vso[`` anywhere (Azure Pipelines and GitHub's older syntax look for them anywhere in a
  line) have their first ``#`` written ``\\x23``.

Backslashes are kept as they are (a Windows path reads as typed), so the escapes are for reading, not
for decoding. Applying :func:`printable` twice changes nothing more than applying it once.
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

__all__ = ["printable", "printable_lines", "say"]

# C0 and C1 controls, lone surrogates, U+2028/U+2029 and the bidirectional controls.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Azure Pipelines' logging commands (##vso[...]) and its formatting ones (##[error], ##[group]), which
# GitHub's runner also reads in its older syntax.
_CI_COMMAND = re.compile(r"#(?=#(?:vso)?\[)", re.IGNORECASE)
_WORKFLOW_COMMAND = re.compile(r"^(\s*):(?=:)")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(value: object) -> str:
    """``value`` as one inert line of text (see the module's docstring for what is escaped and why)."""
    text = _UNPRINTABLE.sub(_escape, str(value))
    text = _CI_COMMAND.sub(r"\\x23", text)
    return _WORKFLOW_COMMAND.sub(r"\1\\x3a", text)


def printable_lines(text: str) -> str:
    """Each line of ``text`` made :func:`printable`; the ``\\n`` between them are the kit's own and stay.

    For a block the kit laid out line by line (a failure table, a comparison, a verification) whose
    values were escaped as it was built: this is the guard that no line of it, whatever made it, is a
    CI command or carries a control character.
    """
    return "\n".join(printable(line) for line in text.split("\n"))


def say(message: str, *, file: TextIO | None = None) -> None:
    """One line on stderr (or ``file``), every value in it escaped: paths, names and reasons are data."""
    print(printable(message), file=sys.stderr if file is None else file)
