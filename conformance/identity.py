"""Gender identity vocabulary: self-described labels, the nonbinary family, trans status, undisclosed.

Ground truth is what a person says of themselves. A manifest's free-text ``gender_identity`` is
read through :data:`DEFAULT_IDENTITY_MAP` (overridable from policy) as one of ``woman``, ``man``,
``nonbinary`` or ``undisclosed`` (no self-description: declined, not asked, blank). A description
may also say the person's trans status (``trans woman``, ``cis man``, ``FTM``); a value the map
does not settle is an error whose message never proposes an identity.

The rules, in docs/how-to/own-dataset.md ("Identity"):

- case, ``-``, ``_`` and spaces do not matter (``Non_Binary`` is ``nonbinary``);
- ``trans``/``transgender`` or ``cis``/``cisgender`` before a woman or man word (``trans woman``,
  ``cisgender man``, ``trans female``), and ``MTF``/``FTM``, give the identity *and* trans status;
- terms that do not say which identity they mean are never filed by default (:data:`AMBIGUOUS`):
  ``two-spirit``, ``transfeminine``/``transmasculine`` (trans women and men *and* nonbinary people use
  them), ``trans`` alone, ``intersex``, ``gender nonconforming``, ``third gender``...;
- several values in one cell (``woman; nonbinary``, ``man, trans``), split at ``; , / | + &``:
  trans-status words add the status, values of one identity give that identity, values of different
  identities are an error asking for the whole description to be mapped.

>>> normalise_identity("Non-binary")
'nonbinary'
>>> read_identity("Transgender Woman")
Reading(identity='woman', trans='yes')
>>> read_identity("man, trans")
Reading(identity='man', trans='yes')
>>> read_identity("prefer not to say")
Reading(identity='undisclosed', trans=None)
>>> default_group("woman", "yes")
'trans'
>>> is_misgendered("nonbinary", "woman")
True
>>> is_misgendered("woman", None)   # abstention is not misgendering
False
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ._untrusted import shown

__all__ = [
    "AMBIGUOUS",
    "DEFAULT_IDENTITY_MAP",
    "DEFAULT_LABEL_MAP",
    "IDENTITIES",
    "SELF_DESCRIBED",
    "TRANS_STATUS",
    "TRANS_VALUES",
    "UNDISCLOSED",
    "UNDISCLOSED_LABELS",
    "Reading",
    "UnmappedIdentity",
    "default_group",
    "entry_overturns",
    "is_misgendered",
    "is_missing_marker",
    "normalise_identity",
    "normalise_key",
    "normalise_trans",
    "read_identity",
    "resolve_trans",
]

# What an analyzer's label can mean (adapters map vendor labels to these).
IDENTITIES = ("woman", "man", "nonbinary")
# A person who gave no self-description: kept in every photo count, never in a misgendering figure.
UNDISCLOSED = "undisclosed"
# What a manifest's gender_identity is read as; also the order of Observations.identity's codes.
SELF_DESCRIBED = (*IDENTITIES, UNDISCLOSED)
_TARGETS = " | ".join(SELF_DESCRIBED)

# The nonbinary family, all read as nonbinary. Terms that describe expression rather than identity
# (gender nonconforming), or culturally specific identities (two-spirit, third gender), are not here:
# see AMBIGUOUS.
_NONBINARY_FAMILY = (
    "nonbinary",
    "non binary",
    "enby",
    "nb",
    "genderqueer",
    "gender queer",
    "agender",
    "genderfluid",
    "gender fluid",
    "bigender",
    "demiboy",
    "demigirl",
    "neutrois",
    "pangender",
    "androgyne",
    "xenogender",
)
_WOMAN = ("woman", "female", "f", "girl")
_MAN = ("man", "male", "m", "boy")
# No self-description to measure against: declined, not asked, missing. A blank cell is one of them.
UNDISCLOSED_LABELS = (
    "",
    "undisclosed",
    "not disclosed",
    "prefer not to say",
    "prefer not to answer",
    "prefer not to disclose",
    "rather not say",
    "declined",
    "declined to answer",
    "decline to answer",
    "declined to state",
    "decline to state",
    "unknown",
    "not known",
    "not stated",
    "not given",
    "not provided",
    "not specified",
    "unspecified",
    "withheld",
    "no answer",
    "not answered",
    "n/a",
    "na",
)


def _prefixed(prefixes: Iterable[str], words: Iterable[str]) -> list[str]:
    # Single letters stay out: "trans f" is not how anyone writes, and it would widen the typo net.
    return [f"{p} {w}" for p in prefixes for w in words if len(w) > 2]


_TRANS = ("trans", "transgender")
_CIS = ("cis", "cisgender")
# Descriptions that say trans status along with the identity. MTF/FTM ("male to female") are read as
# a trans woman / trans man, as forms use them; someone who means otherwise writes their own words.
_TRANS_WOMAN = (*_prefixed(_TRANS, _WOMAN), "mtf", "m2f", "male to female")
_TRANS_MAN = (*_prefixed(_TRANS, _MAN), "ftm", "f2m", "female to male")
# "nb" is short, but "trans nb" is how people write it (own-dataset.md lists it): the one short word let in.
_TRANS_NONBINARY = (*_prefixed(_TRANS, _NONBINARY_FAMILY), *(f"{p} nb" for p in _TRANS))
_CIS_WOMAN = _prefixed(_CIS, _WOMAN)
_CIS_MAN = _prefixed(_CIS, _MAN)

DEFAULT_IDENTITY_MAP: Mapping[str, str] = {
    **dict.fromkeys((*_WOMAN, *_TRANS_WOMAN, *_CIS_WOMAN), "woman"),
    **dict.fromkeys((*_MAN, *_TRANS_MAN, *_CIS_MAN), "man"),
    **dict.fromkeys((*_NONBINARY_FAMILY, *_TRANS_NONBINARY), "nonbinary"),
    **dict.fromkeys(UNDISCLOSED_LABELS, UNDISCLOSED),
}

# Terms the kit never files by default, and why: each could mean more than one identity, or is not a
# gender identity at all. A user maps them in [tool.conformance.identity] as their people use them.
_TRANS_WORDS = ("trans", "transgender", "trans*")
_CIS_WORDS = ("cis", "cisgender")
_TRANSFEMININE = ("transfeminine", "trans feminine", "transfem", "trans fem", "trans femme")
_TRANSMASCULINE = ("transmasculine", "trans masculine", "transmasc", "trans masc")
_EXPRESSION = ("gender nonconforming", "gnc")
_SPECTRUM = "it says trans, not which identity: trans {0} and nonbinary people both describe themselves so"
AMBIGUOUS: Mapping[str, str] = {
    **dict.fromkeys(
        ("two spirit", "2 spirit", "2s"),
        "two-spirit is an Indigenous North American identity, tied to a nation and community, that can go "
        "with being a woman, a man or nonbinary; filing it under nonbinary would be an outsider's guess",
    ),
    **dict.fromkeys(_TRANSFEMININE, _SPECTRUM.format("women")),
    **dict.fromkeys(_TRANSMASCULINE, _SPECTRUM.format("men")),
    **dict.fromkeys(_TRANS_WORDS, "it says trans status, not a gender identity"),
    **dict.fromkeys(_CIS_WORDS, "it says cis status, not a gender identity"),
    **dict.fromkeys(
        _EXPRESSION, "it describes gender expression, not identity: cis, trans and nonbinary people use it"
    ),
    "intersex": "it describes sex characteristics, not gender identity: intersex people are women, men and "
    "nonbinary people",
    "third gender": "it is a legal or cultural category (hijra, khawaja sira, ...) whose members describe "
    "themselves in different ways",
    "none": "it can mean no gender (agender) or no answer (undisclosed)",
}
# Of those, the words that say something beside identity (trans status, sex characteristics, expression):
# next to exactly one identity in a cell ("woman, transfem", "man; intersex") they leave it as it is.
_QUALIFIERS = (*_TRANS_WORDS, *_CIS_WORDS, *_TRANSFEMININE, *_TRANSMASCULINE, *_EXPRESSION, "intersex")

# The trans status a description carries by itself ("yes" or "no"); any other description carries none.
TRANS_STATUS: Mapping[str, str] = {
    **dict.fromkeys(
        (*_TRANS_WOMAN, *_TRANS_MAN, *_TRANS_NONBINARY, *_TRANS_WORDS, *_TRANSFEMININE, *_TRANSMASCULINE), "yes"
    ),
    **dict.fromkeys((*_CIS_WOMAN, *_CIS_MAN, *_CIS_WORDS), "no"),
}

# Analyzer output labels (vendor vocabularies) to canonical identities; "abstain" means no gender given.
DEFAULT_LABEL_MAP: Mapping[str, str] = {
    "female": "woman",
    "woman": "woman",
    "f": "woman",
    "male": "man",
    "man": "man",
    "m": "man",
    **dict.fromkeys(_NONBINARY_FAMILY, "nonbinary"),
    "unknown": "abstain",
    "none": "abstain",
    "abstain": "abstain",
    "undetermined": "abstain",
}

TRANS_VALUES: Mapping[str, str] = {
    "yes": "yes",
    "y": "yes",
    "true": "yes",
    "1": "yes",
    "no": "no",
    "n": "no",
    "false": "no",
    "0": "no",
    "unknown": "unknown",
    "": "unknown",
}


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


@dataclass(frozen=True)
class Reading:
    """What a self-description says: the identity, and the trans status when it says one.

    ``identity`` is one of :data:`SELF_DESCRIBED`; ``trans`` is ``"yes"``, ``"no"`` or ``None`` (the
    description says nothing of it; the manifest's ``trans`` column decides).
    """

    identity: str
    trans: str | None = None


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


# What spreadsheets, pandas and databases write for a missing value: no description at all, and never a typo
# of one ("nan" is one slip from "man").
_MISSING_MARKERS = frozenset(("nan", "null", "nil", "none", "na n", "#n/a", "#na", "missing", "?", "??", "."))
# A hint proposes a spelling only for a word long enough that one slip cannot turn it into another identity:
# "Mx" (the nonbinary honorific) is one slip from "m", "fem" from "ftm".
_HINT_MIN_LENGTH = 4


def _missing_marker(label: str, wanted: str) -> UnmappedIdentity | None:
    if wanted not in _MISSING_MARKERS and label.strip().casefold() not in _MISSING_MARKERS:
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


def _unknown(label: str, overrides: Mapping[str, str]) -> UnmappedIdentity:
    """The error for a label nobody mapped: a close spelling if there is one, else how to map it.

    A spelling is proposed only when it cannot be another identity: the value has at least
    ``_HINT_MIN_LENGTH`` letters, and every close spelling means the same identity and trans status.
    """
    import difflib

    wanted = normalise_key(label)
    marker = _missing_marker(label, wanted)
    if marker is not None:
        return marker
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
        close = []  # a short word, or spellings of different identities: proposing one would be a guess
    start = f"gender_identity {shown(label)} is not in the identity map"
    if close:
        options = " or ".join(shown(spellings[c]) for c in close)
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


def _status(parts: Iterable[str], label: str) -> str | None:
    said = {_STATUS_INDEX[p] for p in parts if p in _STATUS_INDEX}
    if len(said) > 1:
        raise UnmappedIdentity(
            label,
            f"gender_identity {shown(label)} says both trans and cis; correct the row to the person's own description",
        )
    return said.pop() if said else None


def entry_overturns(label: str, meaning: str) -> str | None:
    """Why an identity-map entry ``label = meaning`` is refused, or None: it re-reads words the kit reads itself.

    The map is for descriptions the kit does not read (a spelling it does not know, a word it will not
    file by default). An entry that sends a description the kit reads (``trans woman``, ``woman``,
    ``prefer not to say``) to a different identity would overturn what the people said of themselves,
    silently, in every check (red team 14d: ``"trans woman" = "man"`` hid an analyzer that labelled every
    trans woman Male). An entry that says what the kit reads anyway is harmless and allowed.

    >>> entry_overturns("two-spirit", "nonbinary") is None
    True
    >>> entry_overturns("Trans Woman", "woman") is None
    True
    >>> print(entry_overturns("trans woman", "man"))  # doctest: +ELLIPSIS
    identity map entry "trans woman" = "man" would overturn ... reads 'trans woman' as woman ...
    """
    try:
        reads = read_identity(label).identity
    except (UnmappedIdentity, ValueError):
        return None  # the kit does not read it by itself: the map is where its meaning is given
    if reads == meaning:
        return None
    return (
        f"identity map entry {_toml_key(label)} = {json.dumps(meaning)} would overturn the people's own words: the "
        f"kit reads {shown(label)} as {reads} by itself, and the map only gives a meaning to descriptions the kit "
        "does not read. Remove the entry; if rows hold the wrong words, fix the data (write what each person "
        "said of themselves in gender_identity)"
    )


def _target(overrides: Mapping[str, str], key: str, label: str | None = None) -> str:
    """What the user's map says for ``key`` (the description ``label``, or the map's own entry when None);
    a target outside :data:`SELF_DESCRIBED`, or one that overturns the kit's own reading, is refused when used."""
    entry, target = [(k, v) for k, v in overrides.items() if _key(k) == key][-1]
    label = entry if label is None else label
    if target not in SELF_DESCRIBED:
        raise ValueError(
            f"identity map sends {shown(label)} to {shown(target)}; targets must be one of {', '.join(SELF_DESCRIBED)}"
        )
    # A map built in code skips the policy file's check: the same refusal where the entry is used.
    if key in _DEFAULT_INDEX and _DEFAULT_INDEX[key] != target:
        raise ValueError(str(entry_overturns(entry, target)))
    return target


def read_identity(label: str, overrides: Mapping[str, str] | None = None) -> Reading:
    """Read a self-described gender identity: the identity and the trans status it says, if any.

    ``overrides`` (policy ``[tool.conformance.identity]``, label to ``woman``, ``man``, ``nonbinary`` or
    ``undisclosed``) give meanings to descriptions the defaults do not read, for a whole description or for
    one of its values; one that re-reads a description the kit reads is refused (:func:`entry_overturns`). The trans
    status a description's words carry (``trans woman``, ``cis man``, ``man, trans``) holds whatever the
    identity map says.

    Raises
    ------
    UnmappedIdentity
        (a ``KeyError``) for a description the map does not settle: unknown, ambiguous (:data:`AMBIGUOUS`),
        several identities at once, trans and cis at once. Its message says how to map it.
    ValueError
        When ``overrides`` sends a label to anything but :data:`SELF_DESCRIBED`, or a label the kit reads
        by itself to a different identity.

    >>> read_identity("FTM")
    Reading(identity='man', trans='yes')
    >>> read_identity("two-spirit", {"Two-Spirit": "nonbinary"})
    Reading(identity='nonbinary', trans=None)
    """
    given = dict(overrides or {})
    mine = _index(given)
    key = _key(label)
    parts = _parts(label)
    if key in mine:
        return Reading(_target(given, key, label), _status(parts, label))
    if key in _DEFAULT_INDEX:
        return Reading(_DEFAULT_INDEX[key], _status(parts, label))
    if key in _AMBIGUOUS_INDEX:
        raise _ambiguous(label, key, _AMBIGUOUS_INDEX[key])
    if len(parts) < 2:
        raise _unknown(label, given)
    return _combine(label, parts, given)


def _combine(label: str, parts: list[str], given: Mapping[str, str]) -> Reading:
    """Several values in one cell: status words add status; one identity among the rest is the identity."""
    mine = _index(given)
    identities: dict[str, None] = {}
    for part in parts:
        if part in mine or part in _DEFAULT_INDEX:
            identities[_target(given, part) if part in mine else _DEFAULT_INDEX[part]] = None
        elif part in _QUALIFIER_KEYS:
            continue  # status, sex characteristics or expression: they leave the identity as it is
        elif part in _AMBIGUOUS_INDEX:
            raise _ambiguous(label, part, _AMBIGUOUS_INDEX[part])
        else:
            raise UnmappedIdentity(
                label,
                f"gender_identity {shown(label)} has a value the identity map does not know ({shown(part)}); "
                f"{_how_to_map(label)} with what the person's own description means, or map that value, "
                "or correct the row",
            )
    status = _status(parts, label)
    if not identities:
        raise _ambiguous(label, _key(label), "it does not say a gender identity")
    if len(identities) > 1:
        # An answer beside a no-answer marker ("man; prefer not to say") is the answer: the marker says nothing of
        # identity (rt14d F8: it was refused as naming two identities, "man, undisclosed").
        identities.pop(UNDISCLOSED, None)
    if len(identities) > 1:
        named = ", ".join(identities)
        raise UnmappedIdentity(
            label,
            f"gender_identity {shown(label)} names more than one identity ({named}), and the kit does not choose "
            f"one for the person: {_how_to_map(label)} as the person wants to be counted (one entry covers the "
            "same values in any order, separated by ; , / | + or &), or correct the row",
        )
    return Reading(next(iter(identities)), status)


def normalise_identity(label: str, overrides: Mapping[str, str] | None = None) -> str:
    """Map a self-described gender identity to ``woman``, ``man``, ``nonbinary`` or ``undisclosed``.

    ``overrides`` (from policy ``[tool.conformance.identity]``) adds to the default map.
    Raises :class:`UnmappedIdentity` (a :class:`KeyError`) for a label the map does not settle;
    callers add the row. See :func:`read_identity`, which also gives the trans status.
    """
    return read_identity(label, overrides).identity


_UNDISCLOSED_KEYS = frozenset(normalise_key(label) for label in UNDISCLOSED_LABELS)


def is_missing_marker(value: str) -> bool:
    """Whether ``value`` is what a spreadsheet, pandas or a database writes for an empty cell (``nan``, ``NULL``).

    >>> is_missing_marker("NaN"), is_missing_marker("no")
    (True, False)
    """
    return value.strip().casefold() in _MISSING_MARKERS or normalise_key(value) in _MISSING_MARKERS


def normalise_trans(value: str) -> str:
    """Map a ``trans`` column value to ``yes``, ``no`` or ``unknown``; KeyError otherwise.

    A value that says the person did not answer (``N/A``, ``prefer not to say``, ``declined``: any of
    :data:`UNDISCLOSED_LABELS`) is ``unknown``, as a blank is: the status is not known, and the person
    counts in the ``unknown`` group (which the reports name) rather than the row being refused.

    >>> normalise_trans("Prefer not to say")
    'unknown'
    """
    key = normalise_key(value)
    if key in _UNDISCLOSED_KEYS:
        return "unknown"
    return TRANS_VALUES[key]


def resolve_trans(reading: Reading, label: str, column: str) -> str:
    """A person's trans status from their description and the ``trans`` column (already normalised).

    A description that says the status sets it when the column is ``unknown`` (or blank); one that
    contradicts the column raises :class:`ValueError` naming both values: the kit does not choose
    between a person's two answers.

    >>> resolve_trans(Reading("woman", "yes"), "trans woman", "unknown")
    'yes'
    """
    if reading.trans is None or column == reading.trans:
        return column
    if column == "unknown":
        return reading.trans
    said = "trans" if reading.trans == "yes" else "not trans (cis)"
    raise ValueError(
        f"gender_identity {shown(label)} says {said}, but trans is {shown(column)}; the person's answers "
        "disagree and the kit does not choose: correct one of them"
    )


def default_group(identity: str, trans: str) -> str:
    """The default group of a person: ``nonbinary``, ``trans``, ``cis``, ``unknown`` or ``undisclosed``.

    Nonbinary identity decides the group whatever ``trans`` says; a binary identity is
    ``trans`` or ``cis`` by trans status, ``unknown`` when that is not known; a person who did
    not disclose an identity is ``undisclosed``.
    """
    if identity == "nonbinary":
        return "nonbinary"
    if identity == UNDISCLOSED:
        return UNDISCLOSED
    return {"yes": "trans", "no": "cis"}.get(trans, "unknown")


def is_misgendered(identity: str, predicted: str | None) -> bool:
    """Whether a predicted canonical label misgenders a person of ``identity``.

    A binary person is misgendered by the other binary label; a nonbinary person by any binary
    label. No label (``None`` or ``"abstain"``) is an abstention, not misgendering; an
    ``undisclosed`` person has no identity to misgender against.
    """
    if predicted is None or predicted == "abstain" or identity == UNDISCLOSED:
        return False
    if predicted not in ("woman", "man"):
        return False  # a nonbinary label never misgenders: it is not a binary label
    return identity == "nonbinary" or predicted != identity
