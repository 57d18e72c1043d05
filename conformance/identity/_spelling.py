"""How a self-description is spelled and compared (case, dashes, lookalike characters, several values in a
cell), and the messages for a description the map does not settle: a close spelling, or how to map it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from .._untrusted import shown
from .vocabulary import _QUALIFIERS, _TARGETS, AMBIGUOUS, DEFAULT_IDENTITY_MAP, TRANS_STATUS


def _plain(label: str) -> str:
    """``label`` as a keyboard would type it: compatibility forms folded (NFKC: full-width letters, the
    no-break hyphen), every Unicode dash and the minus sign read as ``-``, and invisible format characters
    (zero-width space, byte-order mark, soft hyphen, joiners) dropped. A spreadsheet or a word processor
    puts these in; a person never means them as part of their description."""
    import unicodedata

    if label.isascii():
        return label  # nearly every cell: nothing to fold
    out = []
    for char in unicodedata.normalize("NFKC", label):
        category = unicodedata.category(char)
        if category == "Cf":
            continue
        out.append("-" if category == "Pd" or char == "\u2212" else char)
    return "".join(out)


def normalise_key(label: str) -> str:
    """Case-fold a label and treat ``-``, ``_`` and runs of spaces alike; Unicode dashes are ``-`` and
    zero-width characters are dropped (:func:`_plain`).

    >>> normalise_key("  Non_Binary ")
    'non binary'
    >>> normalise_key("Non\u2011binary\u200b")
    'non binary'
    """
    return " ".join(_plain(label).replace("-", " ").replace("_", " ").casefold().split())


def _squash(label: str) -> str:
    return normalise_key(label).replace(" ", "")


# Where people write several values in one cell: ; , / | + & ("-" joins words, as in non-binary, and the
# slash of "n/a" is no separator).
_SEPARATOR = re.compile(r"[;,|+&]|/(?!a\b)|(?<!\bn)/", re.IGNORECASE)


def _parts(label: str) -> list[str]:
    """The values of a cell, each squashed, in order, once each; ``[]`` for a blank cell."""
    parts: list[str] = []
    for piece in _SEPARATOR.split(label):
        key = _squash(piece)
        if key and key not in parts:
            parts.append(key)
    return parts


def _key(label: str) -> str:
    """What two spellings of one description share: spaces ignored ("non binary" meets "nonbinary"),
    and for several values their set ("Nonbinary, Woman" meets "woman; non-binary")."""
    parts = _parts(label)
    return ";".join(sorted(parts)) if len(parts) > 1 else "".join(parts)


def identity_key(label: str) -> str:
    """What two spellings of one description share (case, spaces, dashes and the order of values ignored).

    >>> identity_key("Two-Spirit") == identity_key("two spirit")
    True
    """
    return _key(label)


def _index(mapping: Mapping[str, str]) -> dict[str, str]:
    return {_key(label): value for label, value in mapping.items()}


_DEFAULT_INDEX = _index(DEFAULT_IDENTITY_MAP)
_AMBIGUOUS_INDEX = _index(AMBIGUOUS)
_QUALIFIER_KEYS = frozenset(_key(label) for label in _QUALIFIERS)
_STATUS_INDEX = _index(TRANS_STATUS)


class UnmappedIdentity(KeyError):
    """A self-description the identity map does not settle. ``str()`` is the message: what is wrong and
    how to map it, never a proposed identity. Callers add the file and row."""

    def __init__(self, label: str, message: str) -> None:
        super().__init__(label)
        self.label = label
        self.message = message

    def __str__(self) -> str:
        return self.message


def _toml_key(label: str) -> str:
    # A TOML basic string, ready to paste under [tool.conformance.identity]; JSON's escapes are TOML's. A
    # long value is not cut here (a cut key would map nothing): the message names it as "the value".
    return json.dumps(label.strip(), ensure_ascii=False) if len(label) <= 80 else '"<the value>"'


def _how_to_map(label: str) -> str:
    return f'map it under [tool.conformance.identity] ({_toml_key(label)} = "<{_TARGETS}>")'


def _one_slip(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with one letter missed, added or changed, or two neighbours swapped."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    if len(a) == len(b):
        rest_a, rest_b = a[start + 1 :], b[start + 1 :]
        swapped = a[start + 1 : start + 2] == b[start : start + 1] and a[start : start + 1] == b[start + 1 : start + 2]
        return rest_a == rest_b or (swapped and a[start + 2 :] == b[start + 2 :])
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[start + 1 :] == shorter[start:]


# pandas' default na_values (pandas.read_csv's documented list, pandas 2.2 "na_values" parameter; the strings
# pandas.io.parsers reads as NaN unless keep_default_na=False), written out as data: a cell an export wrote
# from a missing value.
_PANDAS_NA_VALUES = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)
# What other tools write for an empty cell or an error (pandas' NaT, JavaScript's undefined, C's "(null)",
# Excel's "(blank)" and error values) and what a survey export writes for a question left unanswered.
_OTHER_MISSING = (
    "nat",
    "undefined",
    "nil",
    "missing",
    "blank",
    "empty",
    "#value!",
    "#ref!",
    "#div/0!",
    "#name?",
    "#null!",
    "#num!",
    "did not answer",
    "didn't answer",
    "refused",
    "skipped",
    "none given",
    "tbd",
    "n/k",
    "?",
    "??",
    ".",
    "na n",
)
# What spreadsheets, pandas and databases write for a missing value: no description at all, and never a typo
# of one ("nan" is one slip from "man"). Compared case-folded, also with brackets around it ("(null)").
_MISSING_MARKERS = frozenset(m for m in (*(v.casefold() for v in _PANDAS_NA_VALUES), *_OTHER_MISSING, "#na") if m)


def is_marker(label: str) -> bool:
    """Whether ``label`` (case-folded, brackets or a trailing full stop around it taken away) is a
    missing-value marker."""
    text = label.strip().casefold()
    for candidate in (text, text.strip("()[]{}<>").strip(), text.rstrip(".").strip()):
        if candidate and (candidate in _MISSING_MARKERS or normalise_key(candidate) in _MISSING_MARKERS):
            return True
    return False


def fold_letters(label: str) -> str:
    """``label`` as a reader sees its letters: compatibility forms folded (NFKC), case folded, small capitals
    (ᴡᴏᴍᴀɴ, which NFKC keeps) read as their letters, accents and other combining marks taken away (wómán),
    invisible format characters dropped. For comparing a map entry with the words the kit reads, never for
    reading a cell (an accent can be part of a person's word)."""
    import unicodedata

    if label.isascii():
        return label.casefold()
    out = []
    for char in unicodedata.normalize("NFD", unicodedata.normalize("NFKC", label)):
        category = unicodedata.category(char)
        if category in ("Mn", "Me", "Cf"):
            continue
        name = unicodedata.name(char, "")
        if name.startswith("LATIN LETTER SMALL CAPITAL ") and len(name) == len("LATIN LETTER SMALL CAPITAL X"):
            char = name[-1]
        out.append(char)
    return unicodedata.normalize("NFC", "".join(out)).casefold()


# A hint proposes a spelling only for a word long enough that one slip cannot turn it into another identity:
# "Mx" (the nonbinary honorific) is one slip from "m", "fem" from "ftm".
_HINT_MIN_LENGTH = 4


def _missing_marker(label: str, wanted: str) -> UnmappedIdentity | None:
    if wanted not in _MISSING_MARKERS and not is_marker(label):
        return None
    return UnmappedIdentity(
        label,
        f"gender_identity {shown(label)} is not a description but a missing-value marker (as pandas or a "
        "spreadsheet writes an empty cell): leave the cell blank or write undisclosed if the person gave no "
        "description, or fix the row with what they wrote",
    )


def _lookalikes(label: str) -> str:
    """The letters of ``label`` outside ASCII, named, for a value that reads like a known word ("wоman" with a
    Cyrillic о): without them the message would show two identical strings (rt14c F13)."""
    import unicodedata

    odd = sorted({char for char in _plain(label) if not char.isascii() and char.isalpha()})
    if not odd:
        return ""
    named = ", ".join(f"{char!r} U+{ord(char):04X} {unicodedata.name(char, 'unnamed')}" for char in odd[:3])
    return f" (it has letters outside ASCII, which can look like others: {named})"


def proposed_spellings(label: str, overrides: Mapping[str, str]) -> list[str]:
    """The known spellings (as the map writes them) an unknown ``label`` is a misspelling of, or ``[]``.

    A spelling is proposed only when it cannot be another identity: the value has at least
    ``_HINT_MIN_LENGTH`` letters, and every close spelling means the same identity and trans status.
    The identity map's check reads the same proposal (an entry may not send "woamn" to man).

    >>> proposed_spellings("woamn", {})
    ['woman']
    """
    import difflib

    wanted = normalise_key(label)
    spellings: dict[str, str] = {}  # normalised -> as the map writes it, first one wins
    for known in (*overrides, *DEFAULT_IDENTITY_MAP):
        if normalise_key(known):
            spellings.setdefault(normalise_key(known), known)
    # Only one slip away (a letter missed, added, changed, or two swapped: "woamn", "nonbinray"): a word
    # further off is more likely a word of its own ("genderflux" is not "genderfluid"), not to be corrected.
    close = [c for c in difflib.get_close_matches(wanted, spellings, n=3, cutoff=0.6) if _one_slip(wanted, c)]
    means = {**DEFAULT_IDENTITY_MAP, **overrides}
    meanings = {(means.get(spellings[c]), TRANS_STATUS.get(spellings[c])) for c in close}
    if len(wanted.replace(" ", "")) < _HINT_MIN_LENGTH or len(meanings) > 1:
        return []  # a short word, or spellings of different identities: proposing one would be a guess
    return [spellings[c] for c in close]


def _unknown(label: str, overrides: Mapping[str, str]) -> UnmappedIdentity:
    """The error for a label nobody mapped: a close spelling if there is one (:func:`proposed_spellings`), else
    how to map it."""
    wanted = normalise_key(label)
    marker = _missing_marker(label, wanted)
    if marker is not None:
        return marker
    close = proposed_spellings(label, overrides)
    start = f"gender_identity {shown(label)} is not in the identity map"
    if close:
        options = " or ".join(shown(c) for c in close)
        return UnmappedIdentity(
            label,
            f"{start}{_lookalikes(label)}; is it a misspelling of {options}? Correct the row if so; if it is how the person "
            f"described themselves, {_how_to_map(label)}",
        )
    return UnmappedIdentity(
        label,
        f"{start}, and the kit never guesses an identity: {_how_to_map(label)} with what the person's own "
        "description means, or correct the row",
    )


def _ambiguous(label: str, part: str, why: str) -> UnmappedIdentity:
    what = shown(label) if _key(label) == part else f"{shown(label)} (its part {shown(part)})"
    return UnmappedIdentity(
        label,
        f"gender_identity {what} is not filed under any identity by default: {why}. Ask the person or "
        f"follow their own words: {_how_to_map(label)}, or correct the row",
    )
