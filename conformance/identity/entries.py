"""The identity map's one check: which ``[tool.conformance.identity]`` entries are refused, and why.

The map gives meanings to descriptions the kit does not read; it never overturns nor invents what people
said of themselves. The same function checks a map from a policy file and one built in code
(``load_dataset(..., identity_map=...)``, ``read_identity(label, overrides)``), so that neither way round it.
An entry ``label = meaning`` is refused when:

- ``meaning`` is not one of woman, man, nonbinary, undisclosed; or two spellings of one description have
  two meanings;
- the kit reads ``label`` by itself as another identity (``"trans woman" = "man"``);
- ``label`` is such a description in disguise, read as another identity: trailing punctuation
  (``"trans woman."``), pronouns beside it (``"woman (she/her)"``), letters of another script that look like
  Latin ones (Cyrillic ``а`` in ``"trаns woman"``), or a misspelling the kit's own hint corrects
  (``"woamn"``, ``"trans womn"``);
- ``label`` holds several values and ``meaning`` is none of the identities they name
  (``"woman; nonbinary" = "man"``): the entry chooses among them, as the person wants to be counted;
- ``label`` is only pronouns (``"she/her"``) and ``meaning`` is an identity: pronouns do not say one;
- ``label`` is a missing-value marker (``nan``, ``None``, ``null``, ``?``, ``missing``) and ``meaning`` is an
  identity: a person who gave no description stays undisclosed whatever marker the export wrote (``none``
  may also mean no gender, so ``"none" = "nonbinary"`` is allowed).

>>> entry_overturns("two-spirit", "nonbinary") is None
True
>>> print(entry_overturns("woamn", "man"))  # doctest: +ELLIPSIS
identity map entry "woamn" = "man" would overturn ... 'woamn' is a misspelling of 'woman' ...
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping

from .._untrusted import shown
from ._spelling import (
    _SEPARATOR,
    UnmappedIdentity,
    _toml_key,
    fold_letters,
    identity_key,
    is_marker,
    normalise_key,
    proposed_spellings,
)
from .vocabulary import DEFAULT_IDENTITY_MAP, SELF_DESCRIBED, UNDISCLOSED

__all__ = ["IdentityMapError", "check_identity_map", "entry_overturns", "implied_status"]


class IdentityMapError(ValueError):
    """An identity map entry the kit refuses; ``str()`` names the entry and the way out."""


# Letters of other scripts that look like Latin ones (after case folding): "trаns woman" with a Cyrillic а
# reads to a person as "trans woman", and an entry for it must mean what that would.
_LOOKALIKES = str.maketrans(
    {
        **dict(zip("аеорсухіјѕԁһӏԛԝ", "aeopcyxijsdhlqw", strict=True)),  # Cyrillic
        **dict(zip("αεικνορτυχ", "aeikvoptux", strict=True)),  # Greek
        **dict(zip("ıɑɡ", "iag", strict=True)),  # Latin variants
    }
)
# Pronouns people write beside (or instead of) a description: they say how to refer to a person, not which
# identity is theirs (nonbinary people use she/her, he/him and they/them too).
_PRONOUNS = frozenset(
    [
        "she",
        "her",
        "hers",
        "herself",
        "he",
        "him",
        "his",
        "himself",
        "they",
        "them",
        "their",
        "theirs",
        "themself",
        "themselves",
        "xe",
        "xem",
        "xyr",
        "xir",
        "ze",
        "zie",
        "zir",
        "hir",
        "zim",
        "ey",
        "em",
        "eir",
        "fae",
        "faer",
        "it",
        "its",
        "any",
        "pronoun",
        "pronouns",
    ]
)
_WORD = re.compile(r"[^\W\d_]+")
# Punctuation a description does not need: everything but letters, digits, spaces, dashes and the separators
# of several values (; , / | + &).
_PUNCTUATION = re.compile(r"[^\w\s\-;,/|+&]")

# Words that say trans status wherever they stand in a description ("woman (trans)", "woman of trans experience",
# "trans woman (MTF)"): a map entry keeps the status they say (rt14f F2).
_TRANS_TOKENS = frozenset(
    ("trans", "transgender", "transsexual", "mtf", "ftm", "transfem", "transfeminine", "transmasc", "transmasculine")
)
_CIS_TOKENS = frozenset(("cis", "cisgender"))
# Words that name a trans spectrum rather than one identity: either of two identities may be the person's.
_SPECTRUM_TOKENS = {
    "transfem": ("woman", "nonbinary"),
    "transfeminine": ("woman", "nonbinary"),
    "transmasc": ("man", "nonbinary"),
    "transmasculine": ("man", "nonbinary"),
}


def _tokens(label: str) -> list[str]:
    """The words of ``label`` as a reader sees them: letters folded (small capitals, accents, case), letters of
    another script read as the Latin ones they look like."""
    return _WORD.findall(fold_letters(label).translate(_LOOKALIKES))


@functools.lru_cache(maxsize=1)
def _identity_phrases() -> tuple[tuple[tuple[str, ...], str], ...]:
    """Each description the kit reads as woman, man or nonbinary, as its words (single letters left out: "f"
    and "m" are abbreviations, not words a phrase is made of)."""
    phrases = []
    for known, meaning in DEFAULT_IDENTITY_MAP.items():
        words = tuple(_WORD.findall(known.casefold()))
        if meaning != UNDISCLOSED and words and not (len(words) == 1 and len(words[0]) == 1):
            phrases.append((words, meaning))
    return tuple(phrases)


def _named_in_words(label: str) -> list[str]:
    """The identities the words of ``label`` name anywhere in it ("I am a woman", "nonbinary woman",
    "woman of trans experience"), and the ones a spectrum word allows ("transfeminine"), in order."""
    words = _tokens(label)
    named: list[str] = []
    for i in range(len(words)):
        for phrase, meaning in _identity_phrases():
            if tuple(words[i : i + len(phrase)]) == phrase and meaning not in named:
                named.append(meaning)
        for meaning in _SPECTRUM_TOKENS.get(words[i], ()):
            if meaning not in named:
                named.append(meaning)
    return named


def implied_status(label: str) -> str | None:
    """The trans status the words of ``label`` say anywhere in it: "yes", "no", or None (none, or both).

    >>> implied_status("woman (trans)"), implied_status("Cis Woman."), implied_status("woman")
    ('yes', 'no', None)
    """
    words = set(_tokens(label))
    trans, cis = bool(words & _TRANS_TOKENS), bool(words & _CIS_TOKENS)
    if trans == cis:
        return None
    return "yes" if trans else "no"


def _reads(label: str) -> str | None:
    """The identity the kit reads ``label`` as by itself (no map), or None when it does not read it."""
    from . import read_identity

    try:
        return read_identity(label).identity
    except (UnmappedIdentity, ValueError):
        return None


def _undisguised(label: str) -> tuple[str, list[str]]:
    """``label`` without what hides a known description, and what was taken away (empty: nothing)."""
    how: list[str] = []
    text = label.casefold()
    folded = text.translate(_LOOKALIKES)
    if folded != text:
        how.append("with its letters of another script read as the Latin ones they look like")
    words = _WORD.findall(folded)
    bare = folded
    if any(w in _PRONOUNS for w in words) and not all(w in _PRONOUNS for w in words):
        bare = _WORD.sub(lambda m: " " if m.group(0) in _PRONOUNS else m.group(0), folded)
        how.append("without its pronouns")
    plain = _PUNCTUATION.sub(" ", bare)
    if normalise_key(plain) != normalise_key(bare):
        how.append("without its punctuation")
    # As a person would read what is left: "woman (she/her)" is "woman", not "woman   /  ".
    return " ".join(plain.split()).strip(" ;,/|+&"), how


def _disguised(label: str) -> tuple[str, str] | None:
    """(identity, what the label is, in words) for a known description in disguise; None otherwise."""
    plain, how = _undisguised(label)
    undone = f"{shown(plain)} {' and '.join(how)}" if how else ""
    reads = _reads(plain) if how else None
    if reads is not None:
        return reads, undone
    proposed = proposed_spellings(plain, {})
    if proposed:
        misspelled = f"a misspelling of {shown(proposed[0])} (the kit's own hint for it)"
        return DEFAULT_IDENTITY_MAP[proposed[0]], f"{undone}, {misspelled}" if undone else misspelled
    return None


def _named(label: str) -> list[str]:
    """The identities the values of a multi-valued ``label`` name, each read plain or undisguised, in order."""
    named: list[str] = []
    for piece in _SEPARATOR.split(label):
        if not normalise_key(piece):
            continue
        reads = _reads(piece)
        if reads is None:
            disguised = _disguised(piece)
            reads = None if disguised is None else disguised[0]
        if reads is not None and reads != UNDISCLOSED and reads not in named:
            named.append(reads)
    return named


def entry_overturns(label: str, meaning: str) -> str | None:
    """Why an identity-map entry ``label = meaning`` is refused (see the module's rules), or None.

    The map is for descriptions the kit does not read (a spelling it does not know, a word it will not file
    by default). An entry that sends a description the kit reads (``trans woman``, ``woman``, ``prefer not to
    say``), or one in disguise, to a different identity would overturn what the people said of themselves,
    silently, in every check (red team 14d: ``"trans woman" = "man"`` hid an analyzer that labelled every
    trans woman Male; red team 14e: ``"woamn"``, ``"trans woman."``, ``"woman (she/her)"``,
    ``"woman; nonbinary"``, ``"nan"``). An entry that says what the kit reads anyway is harmless and allowed.

    >>> entry_overturns("Trans Woman", "woman") is None
    True
    >>> print(entry_overturns("trans woman", "man"))  # doctest: +ELLIPSIS
    identity map entry "trans woman" = "man" would overturn ... reads 'trans woman' as woman ...
    """
    entry = f"identity map entry {_toml_key(label)} = {json.dumps(meaning)}"
    key = normalise_key(label)
    # "NA" and "n/a" are read as undisclosed by themselves: their rule is the one for what the kit reads.
    marker = _reads(label) is None and (is_marker(label) or is_marker(fold_letters(label)))
    # "none" may also mean no gender (agender): it may be nonbinary as well as undisclosed, never woman or man.
    if marker and meaning != UNDISCLOSED and not (key == "none" and meaning == "nonbinary"):
        return (
            f"{entry} gives an identity to a missing-value marker (what pandas, a spreadsheet or a database "
            "writes for an empty cell): a person who gave no description stays undisclosed whatever marker the "
            f'export wrote. Remove the entry, or map it to "{UNDISCLOSED}"; if the rows held descriptions, '
            "export them again"
        )
    words = _WORD.findall(label.casefold().translate(_LOOKALIKES))
    if words and all(w in _PRONOUNS for w in words) and meaning != UNDISCLOSED:
        return (
            f"{entry} reads an identity into pronouns: pronouns say how to refer to a person, not which identity "
            "is theirs (nonbinary people use she/her, he/him and they/them too). Ask the people and write their own "
            f'description in gender_identity, or map it to "{UNDISCLOSED}"'
        )
    reads = _reads(label)
    folded = fold_letters(label).translate(_LOOKALIKES)
    if reads is None and fold_letters(label) != label.casefold() and _reads(folded) not in (None, meaning):
        # Small capitals and accents a reader does not see as a different word (rt14f F5: "ᴡᴏᴍᴀɴ", "wómán").
        return (
            f"{entry} would overturn the people's own words: {shown(label)} is {shown(folded)} with its letters "
            f"folded (small capitals, accents and lookalikes read as the letters they show), which the kit reads as "
            f"{_reads(folded)}. Remove the entry and correct the rows to what each person wrote (or, if "
            f"{shown(label)} is the person's own word, map it to {_reads(folded)}{_status_kept(label)})"
        )
    if reads is not None:
        if reads == meaning:
            return None
        return (
            f"{entry} would overturn the people's own words: the kit reads {shown(label)} as {reads} by itself, and "
            "the map only gives a meaning to descriptions the kit does not read. Remove the entry; if rows hold the "
            "wrong words, fix the data (write what each person said of themselves in gender_identity)"
        )
    letters = _WORD.findall(fold_letters(label))
    if len(letters) == 1 and len(letters[0]) == 1 and meaning != UNDISCLOSED:
        return (
            f"{entry} reads an identity into one letter: a single letter is an abbreviation whose meaning the kit "
            "cannot check (W, F, M stand for different words in different forms; the kit reads only F and M). Write "
            f'the people\'s own descriptions in gender_identity, or map it to "{UNDISCLOSED}"'
        )
    disguised = _disguised(label)
    if disguised is not None:
        reads, what = disguised
        if reads == meaning:
            return None
        return (
            f"{entry} would overturn the people's own words: {shown(label)} is {what}, which the "
            f"kit reads as {reads}. Remove the entry and correct the rows to what each person wrote (or, if "
            f"{shown(label)} is the person's own word, map it to {reads}{_status_kept(label)})"
        )
    named = _named(label)
    if named and meaning not in named:
        return (
            f"{entry} gives the person an identity none of their own values says: the values of {shown(label)} "
            f"read as {', '.join(named)}. An entry for several values chooses among the identities they name, as "
            f"the person wants to be counted: map it to {' or '.join(json.dumps(n) for n in named)}, or correct "
            "the row"
        )
    in_words = _named_in_words(label)
    if in_words and meaning not in in_words:
        return (
            f"{entry} would overturn the people's own words: {shown(label)} names {' or '.join(in_words)} in its "
            f"words, and an entry may only say which of the identities its words name. Map it to "
            f"{' or '.join(json.dumps(n) for n in in_words)}{_status_kept(label)}, or correct the row to what each "
            "person wrote"
        )
    return None


def _status_kept(label: str) -> str:
    """What a map entry for ``label`` keeps of its trans status, in words ("" when its words say none)."""
    status = implied_status(label)
    if status is None:
        return ""
    said = "trans" if status == "yes" else "cis"
    return f"; the entry keeps the trans status its words say ({said}), and a trans column that disagrees is refused"


def check_identity_map(mapping: Mapping[str, str]) -> None:
    """Raise :class:`IdentityMapError` for the first entry of ``mapping`` the kit refuses; the map's one check.

    A target outside :data:`SELF_DESCRIBED`, two spellings of one description with two meanings, or an entry
    :func:`entry_overturns` refuses. Policy files and maps built in code go through this same function.
    """
    _check(tuple((str(label), str(meaning)) for label, meaning in mapping.items()))


@functools.lru_cache(maxsize=64)
def _check(entries: tuple[tuple[str, str], ...]) -> None:
    # Cached: read_identity checks its map on every call, and a manifest reads each distinct label once.
    spelled: dict[str, tuple[str, str]] = {}  # the key two spellings of one description share -> first entry
    for label, meaning in entries:
        if meaning not in SELF_DESCRIBED:
            raise IdentityMapError(
                f"identity {shown(label)} = {shown(meaning)}; map labels to one of {', '.join(SELF_DESCRIBED)}"
            )
        # rt14c F13: "Two-Spirit" and "two spirit" are one description; two meanings for it would be settled by
        # the map's order, silently.
        same, said = spelled.setdefault(identity_key(label), (label, meaning))
        if same != label and said != meaning:
            raise IdentityMapError(
                f"identity {shown(same)} = {shown(said)} and {shown(label)} = {shown(meaning)} are one description "
                "written two ways (case, spaces and dashes do not count) with two meanings; keep one entry"
            )
        refused = entry_overturns(label, meaning)
        if refused is not None:
            raise IdentityMapError(refused)
