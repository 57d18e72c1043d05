"""The identity vocabulary: the words the kit reads by itself, what each means, and the ones it never files.

Tables only (the reading is in :mod:`conformance.identity`): the default identity map, the nonbinary family,
the no-answer labels, the ambiguous terms and why, the trans status words carry, analyzer labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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
