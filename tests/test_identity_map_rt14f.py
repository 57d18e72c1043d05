"""Red team 14f F2, F5, F8: identity-map entries that dropped trans status, overturned or invented identities.

F2: following the kit's own advice ("if 'trans woman.' is the person's own word, map it to woman") filed trans
women as cis (trans column "no", no error) or unknown (blank). A mapped description now keeps the trans status
its words say, and a trans column that disagrees is the same contradiction error as for the unmapped label.
F5: small capitals, accents, identity words inside phrases, missing-value markers. F8: single letters.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import people, shot, write_dataset

from conformance import load_dataset, load_policy
from conformance.errors import ManifestError, PolicyError
from conformance.identity import Reading, entry_overturns, implied_status, read_identity

DISGUISED_TRANS_WOMAN = ["trans womn", "tr\u0430ns woman", "woman (trans)", "trans woman (MTF)", "trans woman."]


@pytest.mark.parametrize("label", DISGUISED_TRANS_WOMAN)
def test_the_advice_for_a_disguised_trans_woman_keeps_her_trans_status(label: str) -> None:
    refused = entry_overturns(label, "man")
    assert refused is not None
    # The refusal's way out says woman, and that the entry keeps the status.
    assert "woman" in refused
    assert "keeps the trans status its words say (trans)" in refused
    assert entry_overturns(label, "woman") is None
    assert read_identity(label, {label: "woman"}) == Reading("woman", "yes")


def _manifest(tmp_path: Path, label: str, trans: str) -> Path:
    manifest, _ = write_dataset(
        tmp_path / "photos",
        [*people("c", 3, identity="woman", trans="no"), *(shot(f"t{i}", label, trans) for i in range(3))],
    )
    return manifest


@pytest.mark.parametrize("label", DISGUISED_TRANS_WOMAN)
def test_a_mapped_trans_description_with_trans_no_is_a_contradiction(tmp_path: Path, label: str) -> None:
    manifest = _manifest(tmp_path, label, "no")
    with pytest.raises(ManifestError) as info:
        load_dataset(manifest, identity_map={label: "woman"})
    message = str(info.value)
    assert "says trans, but trans is 'no'" in message
    assert "correct one of them" in message
    # The same words as for the unmapped description the kit reads.
    plain = _manifest(tmp_path / "plain", "trans woman", "no")
    with pytest.raises(ManifestError, match="says trans, but trans is 'no'"):
        load_dataset(plain)


@pytest.mark.parametrize("label", DISGUISED_TRANS_WOMAN)
def test_a_mapped_trans_description_with_a_blank_trans_cell_is_trans(tmp_path: Path, label: str) -> None:
    dataset = load_dataset(_manifest(tmp_path, label, ""), identity_map={label: "woman"})
    read = {(p.subject[0], p.identity, p.trans) for p in dataset.photos}
    assert read == {("c", "woman", "no"), ("t", "woman", "yes")}


def test_implied_status_reads_status_words_anywhere() -> None:
    assert implied_status("woman of trans experience") == "yes"
    assert implied_status("TRANSGENDER female!") == "yes"
    assert implied_status("woman (cis)") == "no"
    assert implied_status("trans and cis") is None
    assert implied_status("woman") is None
    assert implied_status("transfem") == "yes"


# F5: each class of key that overturned or invented an identity, with the words its refusal says.
REFUSED = [
    # small capitals (NFKC keeps them) and accents (folded before comparing)
    ("\u1d21\u1d0f\u1d0d\u1d00\u0274", "man", "reads as woman"),
    ("\u1d1b\u0280\u1d00\u0274s \u1d21\u1d0f\u1d0d\u1d00\u0274", "man", "reads as woman"),
    ("w\u00f3m\u00e1n", "man", "reads as woman"),
    ("wo\u00adm\u00e1n", "man", "reads as woman"),
    # an identity word inside a phrase
    ("woman (trans)", "man", "woman"),
    ("nonbinary woman", "man", "names nonbinary or woman in its words"),
    ("I am a woman", "man", "names woman in its words"),
    ("woman of trans experience", "man", "names woman in its words"),
    ("transfeminine", "man", "names woman or nonbinary in its words"),
    ("Woman 1", "man", "names woman in its words"),
    # missing-value markers (pandas' default na_values and others)
    ("NaT", "woman", "missing-value marker"),
    ("undefined", "woman", "missing-value marker"),
    ("(null)", "woman", "missing-value marker"),
    ("[null]", "woman", "missing-value marker"),
    ("(blank)", "woman", "missing-value marker"),
    ("#N/A N/A", "woman", "missing-value marker"),
    ("-1.#QNAN", "man", "missing-value marker"),
    ("<NA>", "man", "missing-value marker"),
    ("#VALUE!", "woman", "missing-value marker"),
    ("did not answer", "woman", "missing-value marker"),
    ("refused", "woman", "missing-value marker"),
    # F8: a single letter is an abbreviation the kit cannot check
    ("W", "man", "reads an identity into one letter"),
    ("W", "woman", "reads an identity into one letter"),
]


@pytest.mark.parametrize(("label", "meaning", "says"), REFUSED)
def test_rt14f_entries_are_refused(tmp_path: Path, label: str, meaning: str, says: str) -> None:
    refused = entry_overturns(label, meaning)
    assert refused is not None, label
    assert says in refused
    (tmp_path / "pyproject.toml").write_text(
        f"[tool.conformance.identity]\n{json.dumps(label)} = {json.dumps(meaning)}\n", encoding="utf-8"
    )
    with pytest.raises(PolicyError, match="identity map entry"):
        load_policy(project_root=tmp_path)


@pytest.mark.parametrize(
    ("label", "meaning"),
    [
        ("woman (trans)", "woman"),
        ("nonbinary woman", "nonbinary"),
        ("nonbinary woman", "woman"),
        ("transfeminine", "nonbinary"),
        ("transfeminine", "woman"),
        ("two-spirit", "nonbinary"),
        ("Frau", "woman"),
        ("(blank)", "undisclosed"),
        ("W", "undisclosed"),
        ("genderflux", "nonbinary"),
        ("woman; nonbinary", "nonbinary"),
    ],
)
def test_entries_that_keep_the_words_are_allowed(label: str, meaning: str) -> None:
    assert entry_overturns(label, meaning) is None
