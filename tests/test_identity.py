"""The gender identity vocabulary: normalisation, overrides, the misgendering rule, default groups.

Expected values come from DESIGN.md ("Gender identity and what counts as misgendering"), written
out as tables here rather than read back from the code.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.identity import (
    DEFAULT_IDENTITY_MAP,
    default_group,
    is_misgendered,
    normalise_identity,
    normalise_key,
    normalise_trans,
)


@pytest.mark.parametrize(
    "label",
    [
        "nonbinary",
        "Non-Binary",
        "non_binary",
        "NON BINARY",
        "  non   binary ",
        "NonBinary",
        "enby",
        "NB",
        "genderqueer",
        "Gender-Queer",
        "Agender",
        "genderfluid",
        "Gender Fluid",
        "bigender",
        "demigirl",
    ],
)
def test_nonbinary_family_and_spellings(label: str) -> None:
    assert normalise_identity(label) == "nonbinary"


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("woman", "woman"),
        ("Female", "woman"),
        ("F", "woman"),
        ("Trans Woman", "woman"),
        ("trans-woman", "woman"),
        ("transwoman", "woman"),
        ("cis_woman", "woman"),
        ("man", "man"),
        ("MALE", "man"),
        ("m", "man"),
        ("trans man", "man"),
        ("Cis-Man", "man"),
    ],
)
def test_binary_labels(label: str, expected: str) -> None:
    assert normalise_identity(label) == expected


@pytest.mark.parametrize("label", ["femme", "woman?", "questioning", "x"])
def test_unmapped_label_is_a_key_error_never_a_guess(label: str) -> None:
    with pytest.raises(KeyError):
        normalise_identity(label)


def test_overrides_win_over_the_defaults() -> None:
    overrides = {"Female": "nonbinary", "Two Spirit": "man", "femme": "woman"}
    assert normalise_identity("female", overrides) == "nonbinary"
    assert normalise_identity("two-spirit", overrides) == "man"
    assert normalise_identity("FEMME", overrides) == "woman"
    # Labels the overrides do not name still use the defaults.
    assert normalise_identity("agender", overrides) == "nonbinary"
    assert normalise_identity("male", overrides) == "man"


def test_override_to_an_invalid_target_is_refused_naming_label_and_targets() -> None:
    with pytest.raises(ValueError, match=r"'Femme' to 'femme'; targets must be one of woman, man, nonbinary"):
        normalise_identity("Femme", {"femme": "femme"})


def test_override_to_abstain_is_refused() -> None:
    # "abstain" is an analyzer's output, not a self-described identity.
    with pytest.raises(ValueError, match="targets must be one of"):
        normalise_identity("prefer not to say", {"prefer not to say": "abstain"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("yes", "yes"),
        ("Y", "yes"),
        ("True", "yes"),
        ("1", "yes"),
        ("NO", "no"),
        ("false", "no"),
        ("0", "no"),
        ("unknown", "unknown"),
        ("", "unknown"),
        ("  ", "unknown"),
    ],
)
def test_normalise_trans(value: str, expected: str) -> None:
    assert normalise_trans(value) == expected


def test_normalise_trans_refuses_other_values() -> None:
    with pytest.raises(KeyError):
        normalise_trans("maybe")


# -- what misgenders whom -------------------------------------------------------------------------------
# DESIGN: a binary-identified subject is misgendered by the other binary label; a nonbinary subject by
# any binary label; no gender output (None or "abstain") is abstention, never misgendering.

MISGENDER_TABLE = [
    ("woman", "woman", False),
    ("woman", "man", True),
    ("woman", "abstain", False),
    ("woman", None, False),
    ("man", "man", False),
    ("man", "woman", True),
    ("man", "abstain", False),
    ("man", None, False),
    ("nonbinary", "woman", True),
    ("nonbinary", "man", True),
    ("nonbinary", "nonbinary", False),
    ("nonbinary", "abstain", False),
    ("nonbinary", None, False),
]


@pytest.mark.parametrize(
    ("identity", "predicted", "expected"),
    [
        *MISGENDER_TABLE,
        pytest.param("woman", "nonbinary", False),
        pytest.param("man", "nonbinary", False),
    ],
)
def test_is_misgendered_truth_table(identity: str, predicted: str | None, expected: bool) -> None:
    assert is_misgendered(identity, predicted) is expected


@pytest.mark.parametrize(
    ("identity", "trans", "group"),
    [
        ("woman", "no", "cis"),
        ("man", "no", "cis"),
        ("woman", "yes", "trans"),
        ("man", "yes", "trans"),
        ("woman", "unknown", "unknown"),
        ("man", "unknown", "unknown"),
        ("nonbinary", "yes", "nonbinary"),
        ("nonbinary", "no", "nonbinary"),
        ("nonbinary", "unknown", "nonbinary"),
    ],
)
def test_default_group(identity: str, trans: str, group: str) -> None:
    assert default_group(identity, trans) == group


# -- properties ------------------------------------------------------------------------------------------


@given(st.text())
def test_normalise_key_is_idempotent(label: str) -> None:
    assert normalise_key(normalise_key(label)) == normalise_key(label)


@given(st.text(alphabet=st.sampled_from("aB -_\t")))
def test_normalise_key_leaves_single_spaces_only(label: str) -> None:
    key = normalise_key(label)
    assert "-" not in key
    assert "_" not in key
    assert "  " not in key
    assert key == key.strip()
    assert key == key.casefold()


@st.composite
def spelling_of(draw: st.DrawFn, key: str) -> str:
    """``key`` with each letter's case drawn, words joined by a drawn separator, and padding."""
    words = key.split(" ")
    cased = ["".join(c.upper() if draw(st.booleans()) else c for c in word) for word in words]
    separators = [draw(st.sampled_from([" ", "-", "_", "  ", " - ", "_-"])) for _ in words[1:]]
    joined = cased[0] + "".join(sep + word for sep, word in zip(separators, cased[1:], strict=True))
    pad = st.sampled_from(["", " ", "  ", "\t"])
    return draw(pad) + joined + draw(pad)


@given(st.data())
def test_case_and_spacing_variants_of_every_default_key_map_alike(data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(DEFAULT_IDENTITY_MAP)))
    variant = data.draw(spelling_of(key))
    assert normalise_identity(variant) == DEFAULT_IDENTITY_MAP[key]


def test_every_default_key_maps_to_an_identity() -> None:
    assert set(DEFAULT_IDENTITY_MAP.values()) == {"woman", "man", "nonbinary", "undisclosed"}
    for key, identity in DEFAULT_IDENTITY_MAP.items():
        assert normalise_identity(key) == identity
