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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .._untrusted import shown
from ._spelling import (
    _AMBIGUOUS_INDEX,
    _DEFAULT_INDEX,
    _QUALIFIER_KEYS,
    _STATUS_INDEX,
    UnmappedIdentity,
    _ambiguous,
    _how_to_map,
    _index,
    _key,
    _parts,
    _unknown,
    identity_key,
    is_marker,
    normalise_key,
)
from .entries import IdentityMapError, check_identity_map, entry_overturns, implied_status
from .vocabulary import (
    AMBIGUOUS,
    DEFAULT_IDENTITY_MAP,
    DEFAULT_LABEL_MAP,
    IDENTITIES,
    SELF_DESCRIBED,
    TRANS_STATUS,
    TRANS_VALUES,
    UNDISCLOSED,
    UNDISCLOSED_LABELS,
)

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
    "IdentityMapError",
    "Reading",
    "UnmappedIdentity",
    "check_identity_map",
    "default_group",
    "entry_overturns",
    "identity_key",
    "is_misgendered",
    "is_missing_marker",
    "normalise_identity",
    "normalise_key",
    "normalise_trans",
    "read_identity",
    "resolve_trans",
]


@dataclass(frozen=True)
class Reading:
    """What a self-description says: the identity, and the trans status when it says one.

    ``identity`` is one of :data:`SELF_DESCRIBED`; ``trans`` is ``"yes"``, ``"no"`` or ``None`` (the
    description says nothing of it; the manifest's ``trans`` column decides).
    """

    identity: str
    trans: str | None = None


def _status(parts: Iterable[str], label: str) -> str | None:
    said = {_STATUS_INDEX[p] for p in parts if p in _STATUS_INDEX}
    if len(said) > 1:
        raise UnmappedIdentity(
            label,
            f"gender_identity {shown(label)} says both trans and cis; correct the row to the person's own description",
        )
    return said.pop() if said else None


def _target(overrides: Mapping[str, str], key: str) -> str:
    """What the user's map (checked by :func:`check_identity_map`) says for the description ``key``."""
    return [v for k, v in overrides.items() if _key(k) == key][-1]


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
    # A map built in code gets the policy file's check (one function): no entry overturns or invents an identity.
    check_identity_map(given)
    mine = _index(given)
    key = _key(label)
    parts = _parts(label)
    if key in mine:
        # A mapped description keeps the trans status its words say ("trans woman." = "woman" is a trans woman,
        # rt14f F2), read as the map's check reads them; a trans column that disagrees is the usual contradiction.
        return Reading(_target(given, key), _status(parts, label) or implied_status(label))
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
    return is_marker(value)


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
