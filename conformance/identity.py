"""Gender identity vocabulary: self-described labels, the nonbinary family, trans status.

Ground truth is what a person says of themselves. A manifest's free-text ``gender_identity``
is normalised through :data:`DEFAULT_IDENTITY_MAP` (overridable from policy) to one of
``woman``, ``man`` or ``nonbinary``. A value the map does not know is an error, never a guess.

>>> normalise_identity("Non-binary")
'nonbinary'
>>> default_group("woman", "yes")
'trans'
>>> is_misgendered("nonbinary", "woman")
True
>>> is_misgendered("woman", None)   # abstention is not misgendering
False
"""

from __future__ import annotations

from collections.abc import Mapping

from ._numbers import shown

__all__ = [
    "DEFAULT_IDENTITY_MAP",
    "DEFAULT_LABEL_MAP",
    "IDENTITIES",
    "TRANS_VALUES",
    "default_group",
    "is_misgendered",
    "normalise_identity",
    "normalise_key",
    "normalise_trans",
]

IDENTITIES = ("woman", "man", "nonbinary")

# Self-described labels, compared after normalise_key(). The nonbinary family is broad on
# purpose: any identity outside the binary counts as nonbinary for the checks.
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
    "two spirit",
    "third gender",
    "neutrois",
    "pangender",
    "gender nonconforming",
    "gnc",
    "androgyne",
    "xenogender",
)
DEFAULT_IDENTITY_MAP: Mapping[str, str] = {
    **dict.fromkeys(("woman", "female", "f", "trans woman", "transwoman", "cis woman", "girl"), "woman"),
    **dict.fromkeys(("man", "male", "m", "trans man", "transman", "cis man", "boy"), "man"),
    **dict.fromkeys(_NONBINARY_FAMILY, "nonbinary"),
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


def normalise_key(label: str) -> str:
    """Case-fold a label and treat ``-``, ``_`` and runs of spaces alike.

    >>> normalise_key("  Non_Binary ")
    'non binary'
    """
    return " ".join(label.replace("-", " ").replace("_", " ").casefold().split())


def _squash(label: str) -> str:
    return normalise_key(label).replace(" ", "")


def _lookup(mapping: Mapping[str, str], label: str) -> str | None:
    # Spaces are ignored so "non binary", "non-binary" and "nonbinary" meet; callers memoise per label.
    wanted = _squash(label)
    for known, value in mapping.items():
        if _squash(known) == wanted:
            return value
    return None


def normalise_identity(label: str, overrides: Mapping[str, str] | None = None) -> str:
    """Map a self-described gender identity to ``woman``, ``man`` or ``nonbinary``.

    ``overrides`` (from policy ``[tool.conformance.identity]``) wins over the default map.
    Raises :class:`KeyError` for an unmapped label; callers add the row and the way out.
    """
    if overrides:
        mapped = _lookup(overrides, label)
        if mapped is not None:
            if mapped not in IDENTITIES:
                raise ValueError(
                    f"identity map sends {shown(label)} to {shown(mapped)}; targets must be one of {', '.join(IDENTITIES)}"
                )
            return mapped
    mapped = _lookup(DEFAULT_IDENTITY_MAP, label)
    if mapped is None:
        raise KeyError(label)
    return mapped


def normalise_trans(value: str) -> str:
    """Map a ``trans`` column value to ``yes``, ``no`` or ``unknown``; KeyError otherwise."""
    return TRANS_VALUES[normalise_key(value)]


def default_group(identity: str, trans: str) -> str:
    """The default group of a person: ``nonbinary``, ``trans``, ``cis`` or ``unknown``.

    Nonbinary identity decides the group whatever ``trans`` says; a binary identity is
    ``trans`` or ``cis`` by trans status, ``unknown`` when that is not known.
    """
    if identity == "nonbinary":
        return "nonbinary"
    return {"yes": "trans", "no": "cis"}.get(trans, "unknown")


def is_misgendered(identity: str, predicted: str | None) -> bool:
    """Whether a predicted canonical label misgenders a person of ``identity``.

    A binary person is misgendered by the other binary label; a nonbinary person by any binary
    label. No label (``None`` or ``"abstain"``) is an abstention, not misgendering.
    """
    if predicted is None or predicted == "abstain":
        return False
    if predicted not in ("woman", "man"):
        return False  # a nonbinary label never misgenders: it is not a binary label
    return identity == "nonbinary" or predicted != identity
