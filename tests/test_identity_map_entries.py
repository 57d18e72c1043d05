"""The identity map gives meanings to descriptions the kit does not read; it never overturns one it reads.

Red team 14d F2: ``[tool.conformance.identity] "trans woman" = "man"`` in a submitted pyproject.toml re-read
160 trans women as men, and an analyzer that labelled every one of them Male passed misgender_gap, exit 0;
no console line, report.md or report.html said the map had been changed. Now such an entry is refused by
name, and every surface shows the custom entries.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from builders import people, shot, write_dataset

from conformance import load_policy
from conformance.errors import PolicyError
from conformance.identity import read_identity


def policy_file(tmp_path: Path, entries: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.conformance.identity]\n{entries}\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("entry", "reads"),
    [
        ('"trans woman" = "man"', "woman"),
        ('"Trans Woman" = "nonbinary"', "woman"),
        ('woman = "man"', "woman"),
        ('F = "nonbinary"', "woman"),
        ('"prefer not to say" = "woman"', "undisclosed"),
        ('"non-binary" = "man"', "nonbinary"),
        ('"cis man" = "undisclosed"', "man"),
    ],
)
def test_an_entry_that_overturns_what_the_kit_reads_is_refused(tmp_path: Path, entry: str, reads: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(project_root=policy_file(tmp_path, entry))
    message = str(info.value)
    label = entry.split(" = ")[0].strip('"')
    assert "pyproject.toml" in message
    assert f"the kit reads '{label}' as {reads} by itself" in message
    assert "would overturn the people's own words" in message
    assert "Remove the entry" in message
    assert "fix the data" in message


@pytest.mark.parametrize(
    "entry",
    [
        'genderflux = "nonbinary"',  # a word the kit does not know
        '"two-spirit" = "nonbinary"',  # a word the kit will not file by default
        '"transsexual woman" = "woman"',  # a spelling the kit does not read
        '"woman; nonbinary" = "nonbinary"',  # two identities in a cell: the kit asks
        '"Trans Woman" = "woman"',  # says what the kit reads anyway: harmless
        '"would rather not answer" = "undisclosed"',
    ],
)
def test_an_entry_for_a_description_the_kit_does_not_read_otherwise_is_allowed(tmp_path: Path, entry: str) -> None:
    assert len(load_policy(project_root=policy_file(tmp_path, entry)).identity) == 1


def test_a_map_built_in_code_cannot_overturn_either() -> None:
    # The red team's API check: read_identity('woman', {'woman': 'man'}) gave man.
    with pytest.raises(ValueError, match=r"the kit reads 'woman' as woman by itself"):
        read_identity("woman", {"woman": "man"})
    with pytest.raises(ValueError, match=r"'man' as man"):
        read_identity("man, trans", {"man": "woman"})  # one value of a cell, too
    assert read_identity("genderflux", {"genderflux": "nonbinary"}).identity == "nonbinary"


def _run(tmp_path: Path, entries: str) -> tuple[str, str, str]:
    """`conformance run` on 20 cis women and 20 people whose own word is 'genderflux': (console, md, html)."""
    shots = people("cis", 20, confidence=97.0)
    shots += [shot(f"gf-{i:04d}", "genderflux", "no", "Nonbinary", confidence=97.0) for i in range(20)]
    manifest, predictions = write_dataset(tmp_path / "photos", shots)
    policy_file(tmp_path, entries)
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--dataset", str(manifest), "--analyzer",
         f"predictions:{predictions}", "--checks", "detection_failure_gap"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stdout + done.stderr
    folder = tmp_path / "conformance-report"
    html = (folder / "report.html").read_text(encoding="utf-8").replace("&quot;", '"')
    return done.stdout + done.stderr, (folder / "report.md").read_text(encoding="utf-8"), html


def test_a_few_custom_entries_are_written_out_on_every_surface(tmp_path: Path) -> None:
    console, markdown, html = _run(tmp_path, 'genderflux = "nonbinary"')
    line = '1 custom entry: "genderflux" = "nonbinary"'
    assert f"identity map: {line}" in console
    assert f"- Identity map: {line}" in markdown
    assert f"identity map</dt><dd>{line}</dd>" in html


def test_many_custom_entries_are_counted_on_every_surface(tmp_path: Path) -> None:
    entries = "\n".join(f'"{word}" = "nonbinary"' for word in ("genderflux", "genderfae", "librafluid", "maverique"))
    console, markdown, html = _run(tmp_path, entries)
    line = "4 custom entries (see report.json policy.identity)"
    assert f"identity map: {line}" in console
    assert f"- Identity map: {line}" in markdown
    assert f"identity map</dt><dd>{line}</dd>" in html


# Red team 14e F3: entries that still overturned or invented identities. Each with the words its refusal must say
# (what is wrong, and the way out).
REFUSED = [
    # several values: the entry chooses among the identities they name
    (
        "woman; nonbinary",
        "man",
        ["values of 'woman; nonbinary' read as woman, nonbinary", 'map it to "woman" or "nonbinary"'],
    ),
    ("woman, trans", "man", ["the kit reads 'woman, trans' as woman by itself", "Remove the entry"]),
    ("woman; trans", "man", ["the kit reads 'woman; trans' as woman by itself", "Remove the entry"]),
    # a known description with trailing punctuation
    (
        "trans woman.",
        "man",
        ["'trans woman.' is 'trans woman' without its punctuation", "reads as woman", "correct the rows"],
    ),
    # misspellings the kit's own hint corrects
    ("woamn", "man", ["a misspelling of 'woman' (the kit's own hint for it)", "reads as woman"]),
    ("womn", "man", ["a misspelling of 'woman'", "reads as woman"]),
    ("trans womn", "man", ["a misspelling of 'trans woman'", "reads as woman"]),
    # pronouns
    ("she/her", "man", ["pronouns say how to refer to a person, not which identity", 'map it to "undisclosed"']),
    ("she/her", "woman", ["pronouns say how to refer to a person"]),
    ("woman (she/her)", "man", ["'woman (she/her)' is 'woman' without its pronouns", "reads as woman"]),
    # letters of another script that look like Latin ones (Cyrillic а)
    ("tr\u0430ns woman", "man", ["is 'trans woman' with its letters of another script read as the Latin", "as woman"]),
    # missing-value markers never get an identity
    ("nan", "woman", ["gives an identity to a missing-value marker", 'map it to "undisclosed"']),
    ("None", "woman", ["missing-value marker"]),
    ("null", "man", ["missing-value marker"]),
    ("?", "woman", ["missing-value marker"]),
    ("missing", "nonbinary", ["missing-value marker"]),
]


@pytest.mark.parametrize(("label", "meaning", "says"), REFUSED)
def test_an_entry_that_overturns_or_invents_an_identity_is_refused_in_a_policy_file(
    tmp_path: Path, label: str, meaning: str, says: list[str]
) -> None:
    import json

    with pytest.raises(PolicyError) as info:
        load_policy(project_root=policy_file(tmp_path, f"{json.dumps(label)} = {json.dumps(meaning)}"))
    message = str(info.value)
    assert f"identity map entry {json.dumps(label, ensure_ascii=False)} = {json.dumps(meaning)}" in message
    for words in says:
        assert words in message


@pytest.mark.parametrize(("label", "meaning", "says"), REFUSED)
def test_a_map_built_in_code_is_refused_by_the_same_check(
    tmp_path: Path, label: str, meaning: str, says: list[str]
) -> None:
    from conformance import load_dataset
    from conformance.errors import ManifestError

    manifest, _ = write_dataset(tmp_path / "photos", people("cis", 2))
    with pytest.raises(ManifestError) as info:
        load_dataset(manifest, identity_map={label: meaning})
    message = str(info.value)
    assert f"{manifest}: identity_map: identity map entry" in message
    for words in says:
        assert words in message
    with pytest.raises(ValueError, match="identity map entry"):
        read_identity("woman", {label: meaning})  # the map is checked whichever label is read with it


@pytest.mark.parametrize(
    ("label", "meaning", "row", "reads"),
    [
        ("woman; nonbinary", "nonbinary", "Nonbinary, Woman", "nonbinary"),  # the person's choice among their values
        ("woamn", "woman", "woamn", "woman"),  # the hint's own way out: map it to what it means
        ("woman (she/her)", "woman", "Woman (she/her)", "woman"),
        ("she/her", "undisclosed", "she/her", "undisclosed"),  # pronouns alone: no identity disclosed
        ("nan", "undisclosed", "NaN", "undisclosed"),
        ("none", "nonbinary", "none", "nonbinary"),  # "none" can mean no gender (agender)
        ("genderflux", "nonbinary", "genderflux", "nonbinary"),
    ],
)
def test_the_ways_out_those_messages_give_are_accepted(
    tmp_path: Path, label: str, meaning: str, row: str, reads: str
) -> None:
    import json

    policy = load_policy(project_root=policy_file(tmp_path, f"{json.dumps(label)} = {json.dumps(meaning)}"))
    assert read_identity(row, policy.identity).identity == reads
