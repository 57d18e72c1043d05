"""Manifests through ``load_dataset`` and ``group_labels``: what loads, and how each bad input is refused.

Expected values are worked out by hand from the tiny manifests written here (row numbers count the
CSV header as row 1; JSONL rows are line numbers), and image digests with hashlib on the files.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from conformance import Dataset, ManifestError, group_labels, load_dataset
from conformance._untrusted import shown

MakeManifest = Callable[..., Path]  # the conftest fixtures
WritePng = Callable[..., Path]

HEADER = "photo,subject,gender_identity,trans\n"

# Four photos, three subjects, one of each default group; extra columns skin_type and age_band.
COLUMNS = ("photo", "subject", "gender_identity", "trans", "skin_type", "age_band", "box")
ROWS: list[dict[str, object]] = [
    dict(zip(COLUMNS, values, strict=True))
    for values in [
        ("img/a.png", "s1", "Woman", "no", "II", "18-29", ""),
        ("img/b.png", "s2", "trans man", "yes", "V", "30-44", "0.1,0.2,0.3,0.4"),
        ("img/c.png", "s3", "Non-Binary", "yes", "V", "18-29", ""),
        ("./img/d.png", "s1", "female", "unknown", "", "45+", ""),
    ]
]


def error_of(manifest: Path, identity_map: dict[str, str] | None = None) -> str:
    """The ManifestError's message, the manifest's folder written ``<root>`` (tmp paths hold test names)."""
    with pytest.raises(ManifestError) as info:
        load_dataset(manifest, identity_map=identity_map)
    message = str(info.value)
    for root in {str(manifest.parent.resolve()), str(manifest.parent)}:
        message = message.replace(root, "<root>")
    return message


def raw_csv(tmp_path: Path, text: str | bytes, name: str = "manifest.csv") -> Path:
    root = tmp_path / "data"
    root.mkdir(exist_ok=True)
    path = root / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# -- a valid manifest ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["manifest.csv", "manifest.jsonl"])
def test_valid_manifest_loads_photos_subjects_identities_and_groups(make_manifest: MakeManifest, name: str) -> None:
    manifest = make_manifest(ROWS, name=name)

    dataset = load_dataset(manifest)

    assert len(dataset) == 4
    assert dataset.subjects == 3
    assert dataset.name == "data"
    assert dataset.manifest == manifest
    assert [p.id for p in dataset] == ["img/a.png", "img/b.png", "img/c.png", "img/d.png"]
    assert [p.subject for p in dataset] == ["s1", "s2", "s3", "s1"]
    assert [p.gender_identity for p in dataset] == ["Woman", "trans man", "Non-Binary", "female"]
    assert [p.identity for p in dataset] == ["woman", "man", "nonbinary", "woman"]
    assert [p.trans for p in dataset] == ["no", "yes", "yes", "unknown"]
    assert [p.group for p in dataset] == ["cis", "trans", "nonbinary", "unknown"]
    # CSV rows count the header as row 1; JSONL rows are line numbers.
    expected_rows = [2, 3, 4, 5] if name.endswith(".csv") else [1, 2, 3, 4]
    assert [p.row for p in dataset] == expected_rows
    assert dataset.columns == ("skin_type", "age_band")
    assert dict(dataset.photo("img/b.png").attributes) == {"skin_type": "V", "age_band": "30-44"}
    assert dict(dataset.photo("img/d.png").attributes) == {"skin_type": "", "age_band": "45+"}
    assert dataset.photo("img/b.png").box == (0.1, 0.2, 0.3, 0.4)
    assert dataset.photo("img/a.png").box is None
    assert "img/d.png" in dataset
    assert "./img/d.png" not in dataset  # ids are normalised once, at load
    for photo in dataset:
        assert photo.path == manifest.parent / photo.id
        assert photo.digest == hashlib.sha256(photo.path.read_bytes()).hexdigest()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", dataset.content_hash)
    assert dataset.describe() == {
        "name": "data",
        "manifest": str(manifest),
        "photos": 4,
        "subjects": 3,
        "columns": ["skin_type", "age_band"],
        "content_hash": dataset.content_hash,
        "undisclosed": {"photos": 0, "subjects": 0},
    }


def test_name_can_be_given(make_manifest: MakeManifest) -> None:
    assert load_dataset(make_manifest(ROWS), name="pilot").name == "pilot"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("yes", "yes"),
        ("Y", "yes"),
        ("TRUE", "yes"),
        ("1", "yes"),
        ("No", "no"),
        ("n", "no"),
        ("false", "no"),
        ("0", "no"),
        (" Unknown ", "unknown"),
        ("", "unknown"),
    ],
)
def test_trans_spellings(make_manifest: MakeManifest, value: str, expected: str) -> None:
    rows = [{"photo": "a.png", "subject": "s1", "gender_identity": "man", "trans": value}]
    assert load_dataset(make_manifest(rows)).photos[0].trans == expected


def test_jsonl_values_that_are_not_strings(make_manifest: MakeManifest) -> None:
    # JSON false/null/numbers are read as text: false -> "False" -> no, null -> "" -> unknown.
    rows = [
        {"photo": "a.png", "subject": 7, "gender_identity": "woman", "trans": False, "age": 31},
        {"photo": "b.png", "subject": "s2", "gender_identity": "man", "trans": None, "age": None},
    ]
    dataset = load_dataset(make_manifest(rows, name="manifest.jsonl"))
    assert [p.subject for p in dataset] == ["7", "s2"]
    assert [p.trans for p in dataset] == ["no", "unknown"]
    assert [p.attributes["age"] for p in dataset] == ["31", ""]


def test_blank_csv_lines_are_skipped_but_counted_in_row_numbers(tmp_path: Path, write_png: WritePng) -> None:
    manifest = raw_csv(tmp_path, HEADER + "a.png,s1,woman,no\n\nb.png,s2,man,maybe\n")
    write_png(manifest.parent / "a.png")
    write_png(manifest.parent / "b.png")
    assert "row 4: trans 'maybe'" in error_of(manifest)


def test_symlink_inside_the_folder_is_allowed(make_manifest: MakeManifest, write_png: WritePng) -> None:
    rows = [{"photo": "link.png", "subject": "s1", "gender_identity": "woman", "trans": "no"}]
    manifest = make_manifest(rows, images=False)
    target = write_png(manifest.parent / "img" / "real.png")
    (manifest.parent / "link.png").symlink_to(target)
    photo = load_dataset(manifest).photos[0]
    assert photo.id == "link.png"
    assert photo.digest == hashlib.sha256(target.read_bytes()).hexdigest()


# -- content hash ------------------------------------------------------------------------------------


def test_content_hash_is_stable_and_independent_of_location(make_manifest: MakeManifest, tmp_path: Path) -> None:
    manifest = make_manifest(ROWS)
    first = load_dataset(manifest).content_hash
    assert load_dataset(manifest).content_hash == first
    (manifest.parent / "notes.txt").write_text("not part of the dataset")
    assert load_dataset(manifest).content_hash == first
    copy = shutil.copytree(manifest.parent, tmp_path / "elsewhere")
    assert load_dataset(copy / "manifest.csv").content_hash == first


def test_content_hash_changes_when_an_image_changes(make_manifest: MakeManifest, write_png: WritePng) -> None:
    manifest = make_manifest(ROWS)
    before = load_dataset(manifest)
    write_png(manifest.parent / "img" / "c.png", (1, 2, 3))
    after = load_dataset(manifest)
    assert after.content_hash != before.content_hash
    assert after.photo("img/c.png").digest != before.photo("img/c.png").digest
    assert after.photo("img/a.png").digest == before.photo("img/a.png").digest


def test_content_hash_changes_when_the_manifest_changes(make_manifest: MakeManifest) -> None:
    manifest = make_manifest(ROWS)
    before = load_dataset(manifest).content_hash
    manifest.write_text(manifest.read_text().replace("18-29", "18-30"))
    assert load_dataset(manifest).content_hash != before


# -- missing columns, empty manifests -----------------------------------------------------------------


def test_missing_required_column_names_it_and_lists_the_columns_found(tmp_path: Path) -> None:
    message = error_of(raw_csv(tmp_path, "photo,subject,gender_identity,skin_type\na.png,s1,woman,V\n"))
    assert "<root>/manifest.csv:" in message
    assert "missing required column trans" in message
    assert "found: photo, subject, gender_identity, skin_type" in message
    assert "needs photo, subject, gender_identity, trans" in message
    assert "own description" not in message  # gender_identity is there: nothing to say of it


@pytest.mark.parametrize("column", ["sex", "gender"])
def test_a_missing_gender_identity_says_it_is_the_persons_own_description(tmp_path: Path, column: str) -> None:
    # Red team 14d F7: the message invited renaming a sex column, which the default map reads (F, M) silently.
    message = error_of(raw_csv(tmp_path, f"photo,subject,{column},trans\na.png,s1,F,no\n"))
    assert f"missing required column gender_identity (found: photo, subject, {column}, trans)" in message
    assert "each person's own description of their gender identity" in message
    assert "never a recorded sex, a perceived gender or an analyzer's label" in message
    assert "do not rename such a column to gender_identity" in message


def test_several_missing_columns_are_all_named(make_manifest: MakeManifest) -> None:
    manifest = make_manifest([{"photo": "a.png", "subject": "s1"}], name="manifest.jsonl")
    message = error_of(manifest)
    assert "<root>/manifest.jsonl: missing required columns gender_identity, trans" in message
    assert "found: photo, subject" in message


def test_empty_csv_manifest(tmp_path: Path) -> None:
    message = error_of(raw_csv(tmp_path, ""))
    assert "<root>/manifest.csv:" in message
    assert "the manifest is empty" in message
    assert "needs a header row and one row per photo" in message


def test_empty_jsonl_manifest_says_it_is_empty(tmp_path: Path) -> None:
    message = error_of(raw_csv(tmp_path, "\n\n", name="manifest.jsonl"))
    assert "<root>/manifest.jsonl:" in message
    assert "empty" in message


def test_header_only_manifest(tmp_path: Path) -> None:
    message = error_of(raw_csv(tmp_path, HEADER))
    assert "<root>/manifest.csv:" in message
    assert "header but no photos" in message
    assert "add one row per photo" in message


def test_manifest_not_found(tmp_path: Path) -> None:
    message = error_of(tmp_path / "nowhere.csv")
    assert "manifest not found: <root>/nowhere.csv" in message
    assert "pass the path of a CSV or JSONL manifest" in message


# -- bad values in rows --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "row"), [("manifest.csv", 3), ("manifest.jsonl", 2)])
def test_unmapped_identity_names_value_row_and_policy_table(make_manifest: MakeManifest, name: str, row: int) -> None:
    rows = [
        {"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
        {"photo": "b.png", "subject": "s2", "gender_identity": "Femme", "trans": "no"},
    ]
    message = error_of(make_manifest(rows, name=name))
    assert f"<root>/{name} row {row}:" in message
    assert "gender_identity 'Femme' is not in the identity map" in message
    assert "[tool.conformance.identity]" in message


def test_identity_map_maps_an_unknown_label(make_manifest: MakeManifest) -> None:
    rows = [
        {"photo": "a.png", "subject": "s1", "gender_identity": "Femme", "trans": "yes"},
        {"photo": "b.png", "subject": "s2", "gender_identity": "female", "trans": "no"},
    ]
    dataset = load_dataset(make_manifest(rows), identity_map={"femme": "woman"})
    # Keys compare case-insensitively; labels the map does not name keep the defaults.
    assert [p.identity for p in dataset] == ["woman", "woman"]
    assert [p.group for p in dataset] == ["trans", "cis"]


def test_identity_map_cannot_overturn_what_the_kit_reads(make_manifest: MakeManifest) -> None:
    # Red team 14d F2: "Female" = "nonbinary" would re-read the people's own words; refused naming the map's
    # entry, before any row is read (rt14e F3: the policy file's one check, for a map built in code too).
    rows = [{"photo": "a.png", "subject": "s1", "gender_identity": "female", "trans": "no"}]
    message = error_of(make_manifest(rows), identity_map={"Female": "nonbinary"})
    assert '<root>/manifest.csv: identity_map: identity map entry "Female" = "nonbinary"' in message
    assert "the kit reads 'Female' as woman by itself" in message
    assert "fix the data" in message


def test_identity_map_to_an_invalid_target_names_the_entry_and_targets(make_manifest: MakeManifest) -> None:
    rows = [
        {"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
        {"photo": "b.png", "subject": "s2", "gender_identity": "Femme", "trans": "no"},
    ]
    message = error_of(make_manifest(rows), identity_map={"Femme": "femme"})
    assert "<root>/manifest.csv: identity_map:" in message
    assert "'Femme'" in message
    assert "'femme'" in message
    assert "woman, man, nonbinary, undisclosed" in message


@pytest.mark.parametrize("value", ["N/A", "n/a", "prefer not to say", "Prefer not to say", "declined", "NA"])
def test_a_trans_cell_that_says_no_answer_is_unknown_as_a_blank_is(make_manifest: MakeManifest, value: str) -> None:
    # Issue 14's red team: these were refused; the person did not answer, which is what a blank says.
    rows = [
        {"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": value},
        {"photo": "b.png", "subject": "s2", "gender_identity": "man", "trans": ""},
    ]
    dataset = load_dataset(make_manifest(rows))
    assert [p.trans for p in dataset] == ["unknown", "unknown"]
    assert group_labels(dataset) == ["unknown", "unknown"]


def test_identity_cells_with_unicode_dashes_and_invisible_characters_load(make_manifest: MakeManifest) -> None:
    rows = [
        {"photo": "a.png", "subject": "s1", "gender_identity": "non\u2011binary", "trans": "yes"},
        {"photo": "b.png", "subject": "s2", "gender_identity": "Woman\u200b", "trans": "no"},
        {"photo": "c.png", "subject": "s3", "gender_identity": "trans\u2013man", "trans": ""},
    ]
    dataset = load_dataset(make_manifest(rows))
    assert [(p.identity, p.trans) for p in dataset] == [("nonbinary", "yes"), ("woman", "no"), ("man", "yes")]
    assert [p.gender_identity for p in dataset][1] == "Woman\u200b"  # kept as written


def test_bad_trans_value(make_manifest: MakeManifest) -> None:
    rows = [{"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": "maybe"}]
    message = error_of(make_manifest(rows))
    assert "<root>/manifest.csv row 2:" in message
    assert "trans 'maybe' is not yes, no or unknown" in message
    assert "missing-value marker" not in message


@pytest.mark.parametrize("marker", ["nan", "NaN", "NULL", "#N/A"])
def test_a_missing_value_marker_in_the_trans_column_is_named(make_manifest: MakeManifest, marker: str) -> None:
    # Red team 14d F8: named for gender_identity, not for trans (pandas writes nan for a gap in either).
    rows = [{"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": marker}]
    message = error_of(make_manifest(rows))
    assert f"<root>/manifest.csv row 2: trans '{marker}' is not an answer but a missing-value marker" in message
    assert "leave the cell blank (unknown)" in message


def test_bad_box(make_manifest: MakeManifest) -> None:
    rows = [{"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": "no", "box": "0.1,0.2,0,0.4"}]
    message = error_of(make_manifest(rows))
    assert "<root>/manifest.csv row 2:" in message
    assert "box '0.1,0.2,0,0.4'" in message
    assert "left,top,width,height" in message


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"photo": "", "subject": "s1"}, "empty 'photo'"),
        ({"photo": "a.png", "subject": ""}, "photo 'a.png' has an empty 'subject'"),
    ],
)
def test_empty_photo_or_subject(make_manifest: MakeManifest, row: dict[str, str], expected: str) -> None:
    message = error_of(make_manifest([{**row, "gender_identity": "woman", "trans": "no"}]))
    assert "<root>/manifest.csv row 2:" in message
    assert expected in message


def test_duplicate_photo_names_both_rows(make_manifest: MakeManifest) -> None:
    rows = [
        {"photo": "img/a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
        {"photo": "img/b.png", "subject": "s2", "gender_identity": "man", "trans": "no"},
        {"photo": "./img/a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
    ]
    message = error_of(make_manifest(rows))
    assert "<root>/manifest.csv row 4:" in message
    assert "'img/a.png'" in message
    assert "first at row 2" in message
    assert "list each photo once" in message


# -- images ----------------------------------------------------------------------------------------------


def test_missing_image_names_row_and_photo(make_manifest: MakeManifest) -> None:
    manifest = make_manifest(ROWS)
    (manifest.parent / "img" / "c.png").unlink()
    message = error_of(manifest)
    assert "<root>/manifest.csv row 4:" in message
    assert "image 'img/c.png' not found" in message
    assert "not found at <root>/img/c.png" in message


def test_missing_image_message_gives_the_way_out(make_manifest: MakeManifest) -> None:
    manifest = make_manifest(ROWS)
    (manifest.parent / "img" / "c.png").unlink()
    assert re.search(r"drop the row|correct the row|fix the path|check the path", error_of(manifest))


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"this is text, not a PNG\n", "is not a readable image"), (b"", "is empty (0 bytes)")],
    ids=["text-named-png", "zero-bytes"],
)
def test_unreadable_image(make_manifest: MakeManifest, content: bytes, expected: str) -> None:
    manifest = make_manifest(ROWS)
    (manifest.parent / "img" / "b.png").write_bytes(content)
    message = error_of(manifest)
    assert "<root>/manifest.csv row 3:" in message
    assert f"image 'img/b.png' {expected}" in message
    assert "replace the file or drop the row" in message


@pytest.mark.parametrize("where", ["dotdot", "absolute", "symlink"])
def test_photo_outside_the_manifest_folder_is_refused(
    make_manifest: MakeManifest, write_png: WritePng, tmp_path: Path, where: str
) -> None:
    outside = write_png(tmp_path / "outside.png")
    photo = {"dotdot": "../outside.png", "absolute": str(outside), "symlink": "link.png"}[where]
    rows = [{"photo": photo, "subject": "s1", "gender_identity": "woman", "trans": "no"}]
    manifest = make_manifest(rows, images=False)
    if where == "symlink":
        (manifest.parent / "link.png").symlink_to(outside)
    message = error_of(manifest)
    assert "<root>/manifest.csv row 2:" in message
    assert f"photo {shown(photo)} is outside the manifest's folder" in message  # a long path shortened
    assert "move the image under it" in message


# -- unreadable manifests ----------------------------------------------------------------------------------


def test_non_utf8_manifest_names_the_line(tmp_path: Path) -> None:
    # Header 36 bytes, row 2 18 bytes, then "b.png,s2,Fran" (13 bytes): the bad byte is at offset 67.
    manifest = raw_csv(tmp_path, HEADER.encode() + b"a.png,s1,woman,no\nb.png,s2,Fran\xe7ois,no\n")
    message = error_of(manifest)
    assert "<root>/manifest.csv line 3:" in message
    assert "not UTF-8 (byte 67)" in message
    assert "save the manifest as UTF-8" in message


def test_csv_row_with_wrong_field_count(tmp_path: Path) -> None:
    header = "photo,subject,gender_identity,trans,skin_type\n"
    manifest = raw_csv(tmp_path, header + "a.png,s1,woman,no,V\nb.png,s2,man,no,IV,extra\n")
    message = error_of(manifest)
    assert "<root>/manifest.csv row 3:" in message
    assert "6 fields where the header has 5" in message
    assert "quote values that contain commas" in message


@pytest.mark.parametrize(
    ("second_line", "expected"),
    [('{"photo": "b.png",', "not valid JSON"), ('["b.png", "s2"]', "expected a JSON object, found list")],
)
def test_bad_jsonl_line(tmp_path: Path, second_line: str, expected: str) -> None:
    first = json.dumps({"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"})
    message = error_of(raw_csv(tmp_path, f"{first}\n{second_line}\n", name="manifest.jsonl"))
    assert "<root>/manifest.jsonl line 2:" in message
    assert expected in message


def test_invalid_json_line_gives_the_way_out(tmp_path: Path) -> None:
    message = error_of(raw_csv(tmp_path, '{"photo": \n', name="manifest.jsonl"))
    assert "one JSON object per line" in message


@pytest.mark.parametrize(("name", "shown"), [("manifest.txt", "'.txt'"), ("manifest", "'(no suffix)'")])
def test_unknown_suffix(tmp_path: Path, name: str, shown: str) -> None:
    message = error_of(raw_csv(tmp_path, HEADER, name=name))
    assert f"<root>/{name}: unknown manifest format {shown}" in message
    assert "use .csv or .jsonl" in message


# -- several problems at once ----------------------------------------------------------------------------


def test_several_problems_report_the_first_and_count_the_others(make_manifest: MakeManifest) -> None:
    rows = [
        {"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
        {"photo": "b.png", "subject": "s2", "gender_identity": "man", "trans": "maybe"},
        {"photo": "c.png", "subject": "s3", "gender_identity": "Femme", "trans": "no"},
        {"photo": "d.png", "subject": "s4", "gender_identity": "man", "trans": "no"},
    ]
    manifest = make_manifest(rows)
    (manifest.parent / "d.png").unlink()
    message = error_of(manifest)
    assert message.startswith("<root>/manifest.csv row 3: trans 'maybe' is not yes, no or unknown")
    assert message.endswith("(and 2 more problems, at rows 4, 5)")


def test_many_problems_list_the_first_rows_only(make_manifest: MakeManifest) -> None:
    rows = [{"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"}]
    rows += [{"photo": f"p{i}.png", "subject": f"s{i}", "gender_identity": "woman", "trans": "?"} for i in range(7)]
    message = error_of(make_manifest(rows))
    # Bad rows are 3..9: the first is reported, the other 6 counted, five of them listed.
    assert "row 3: trans '?'" in message
    assert message.endswith("(and 6 more problems, at rows 4, 5, 6, 7, 8, ...)")


def test_one_other_problem_is_singular(make_manifest: MakeManifest) -> None:
    rows = [{"photo": f"p{i}.png", "subject": f"s{i}", "gender_identity": "woman", "trans": "?"} for i in range(2)]
    assert error_of(make_manifest(rows)).endswith("(and 1 more problem, at rows 3)")


# -- group_labels -------------------------------------------------------------------------------------------


@pytest.fixture
def dataset(make_manifest: MakeManifest) -> Dataset:
    return load_dataset(make_manifest(ROWS))


def test_group_labels_default_groups(dataset: Dataset) -> None:
    assert group_labels(dataset) == ["cis", "trans", "nonbinary", "unknown"]
    assert group_labels(dataset, by=[]) == ["cis", "trans", "nonbinary", "unknown"]


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        (["skin_type"], ["II", "V", "V", "(blank)"]),
        (["skin_type", "identity"], ["II & woman", "V & man", "V & nonbinary", "(blank) & woman"]),
        (["age_band", "group"], ["18-29 & cis", "30-44 & trans", "18-29 & nonbinary", "45+ & unknown"]),
        (["group"], ["cis", "trans", "nonbinary", "unknown"]),
        (["identity"], ["woman", "man", "nonbinary", "woman"]),
        (["trans", "subject"], ["no & s1", "yes & s2", "yes & s3", "unknown & s1"]),
        (["gender_identity"], ["Woman", "trans man", "Non-Binary", "female"]),
    ],
)
def test_group_labels_by_columns(dataset: Dataset, by: list[str], expected: list[str]) -> None:
    assert group_labels(dataset, by=by) == expected


def test_group_labels_unknown_column(dataset: Dataset) -> None:
    with pytest.raises(ManifestError) as info:
        group_labels(dataset, by=["skin_type", "shoe_size"])
    message = str(info.value)
    assert f"{dataset.manifest}: cannot group by 'shoe_size'" in message
    assert "columns available:" in message
    for column in ("age_band", "group", "identity", "skin_type", "trans"):
        assert column in message


def test_jsonl_box_may_be_a_list(tmp_path: Path, write_png: Callable[..., Path]) -> None:
    write_png(tmp_path / "a.png")
    line = {"photo": "a.png", "subject": "s", "gender_identity": "woman", "trans": "no", "box": [0.1, 0.2, 0.3, 0.4]}
    (tmp_path / "m.jsonl").write_text(json.dumps(line) + "\n")
    assert load_dataset(tmp_path / "m.jsonl").photos[0].box == (0.1, 0.2, 0.3, 0.4)


def test_empty_identity_is_undisclosed_not_refused(make_manifest: MakeManifest) -> None:
    # Until issue 14 a blank identity was refused, so people who declined had to be deleted from the data.
    rows = [{"photo": "img/a.png", "subject": "s", "gender_identity": "", "trans": "no"}]
    photo = load_dataset(make_manifest(rows)).photos[0]
    assert (photo.identity, photo.trans, photo.group) == ("undisclosed", "no", "undisclosed")


# -- issue 14: self-described identities as people write them -----------------------------------------------
# Expected readings are worked out from the rules in docs/how-to/own-dataset.md ("Identity"), by hand.


def identity_rows(*cells: tuple[str, str]) -> list[dict[str, object]]:
    """One photo and person per (gender_identity, trans) pair, rows 2, 3, ... of a CSV."""
    return [
        {"photo": f"p{i}.png", "subject": f"s{i}", "gender_identity": label, "trans": trans}
        for i, (label, trans) in enumerate(cells)
    ]


def test_people_who_did_not_disclose_stay_as_undisclosed(make_manifest: MakeManifest) -> None:
    labels = ["prefer not to say", "", "unknown", "declined", "not disclosed", "N/A", "Prefer-Not-To-Say"]
    rows = identity_rows(("woman", "no"), *((label, "unknown") for label in labels))
    rows[-1]["subject"] = rows[-2]["subject"]  # one person, two photos
    dataset = load_dataset(make_manifest(rows))
    assert [p.identity for p in dataset] == ["woman", *["undisclosed"] * 7]
    assert [p.group for p in dataset] == ["cis", *["undisclosed"] * 7]
    assert group_labels(dataset, by=["identity"]) == ["woman", *["undisclosed"] * 7]
    assert dataset.describe()["undisclosed"] == {"photos": 7, "subjects": 6}
    assert [p.gender_identity for p in dataset][1:] == labels  # kept as written


def test_the_identity_map_may_send_a_label_to_undisclosed(make_manifest: MakeManifest) -> None:
    rows = identity_rows(("would rather not answer", "no"), ("woman", "no"))
    dataset = load_dataset(make_manifest(rows), identity_map={"Would rather not answer": "undisclosed"})
    assert [p.group for p in dataset] == ["undisclosed", "cis"]


@pytest.mark.parametrize(
    ("label", "trans", "identity", "group"),
    [
        ("trans woman", "", "woman", "trans"),
        ("Transgender Woman", "unknown", "woman", "trans"),
        ("MTF", "", "woman", "trans"),
        ("FTM", "yes", "man", "trans"),
        ("trans man", "", "man", "trans"),
        ("cisgender man", "", "man", "cis"),
        ("Cis Woman", "no", "woman", "cis"),
        ("enby", "", "nonbinary", "nonbinary"),
        ("man, trans", "", "man", "trans"),
        ("Woman; cis", "", "woman", "cis"),
        ("non-binary / genderqueer", "yes", "nonbinary", "nonbinary"),
    ],
)
def test_words_that_say_trans_status_set_it(
    make_manifest: MakeManifest, label: str, trans: str, identity: str, group: str
) -> None:
    photo = load_dataset(make_manifest(identity_rows((label, trans)))).photos[0]
    assert (photo.identity, photo.group) == (identity, group)


@pytest.mark.parametrize(
    ("label", "trans", "message"),
    [
        (
            "trans man",
            "no",
            "gender_identity 'trans man' says trans, but trans is 'no'; the person's answers disagree and the kit "
            "does not choose: correct one of them",
        ),
        (
            "cis woman",
            "yes",
            "gender_identity 'cis woman' says not trans (cis), but trans is 'yes'; the person's answers disagree "
            "and the kit does not choose: correct one of them",
        ),
        (
            "man, trans",
            "false",
            "gender_identity 'man, trans' says trans, but trans is 'no'; the person's answers disagree and the kit "
            "does not choose: correct one of them",
        ),
    ],
)
def test_a_description_that_contradicts_the_trans_column_names_the_row_and_both_values(
    make_manifest: MakeManifest, label: str, trans: str, message: str
) -> None:
    rows = identity_rows(("woman", "no"), (label, trans))
    assert error_of(make_manifest(rows)) == f"<root>/manifest.csv row 3: photo 'p1.png': {message}"


def test_two_spirit_is_asked_for_not_filed_as_nonbinary(make_manifest: MakeManifest) -> None:
    manifest = make_manifest(identity_rows(("woman", "no"), ("Two-Spirit", "unknown")))
    message = error_of(manifest)
    assert message.startswith("<root>/manifest.csv row 3: gender_identity 'Two-Spirit' is not filed under any identity")
    assert '("Two-Spirit" = "<woman | man | nonbinary | undisclosed>")' in message
    assert [p.identity for p in load_dataset(manifest, identity_map={"two spirit": "man"})] == ["woman", "man"]


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        (
            "woamn",
            "gender_identity 'woamn' is not in the identity map; is it a misspelling of 'woman'? Correct the row if so; "
            'if it is how the person described themselves, map it under [tool.conformance.identity] ("woamn" = '
            '"<woman | man | nonbinary | undisclosed>")',
        ),
        (
            "Femme",
            "gender_identity 'Femme' is not in the identity map, and the kit never guesses an identity: map it under "
            '[tool.conformance.identity] ("Femme" = "<woman | man | nonbinary | undisclosed>") with what the '
            "person's own description means, or correct the row",
        ),
        (
            "woman; nonbinary",
            "gender_identity 'woman; nonbinary' names more than one identity (woman, nonbinary), and the kit does not "
            'choose one for the person: map it under [tool.conformance.identity] ("woman; nonbinary" = "<woman | man '
            '| nonbinary | undisclosed>") as the person wants to be counted (one entry covers the same values in any '
            "order, separated by ; , / | + or &), or correct the row",
        ),
    ],
)
def test_an_unknown_identity_gets_a_spelling_or_the_way_to_map_it_never_an_identity(
    make_manifest: MakeManifest, label: str, expected: str
) -> None:
    message = error_of(make_manifest(identity_rows(("woman", "no"), (label, "no"))))
    assert message == f"<root>/manifest.csv row 3: {expected}"
    assert not re.search(r'= "(woman|man|nonbinary|undisclosed)"', message)


def test_a_multi_valued_description_is_mapped_once_for_every_order(make_manifest: MakeManifest) -> None:
    rows = identity_rows(("woman; nonbinary", "no"), ("Nonbinary, Woman", "yes"), ("woman", "no"))
    dataset = load_dataset(make_manifest(rows), identity_map={"woman/nonbinary": "nonbinary"})
    assert [p.group for p in dataset] == ["nonbinary", "nonbinary", "cis"]


# -- headers the kit would misread (issue 15 item 8, issue 14 item 11) --------------------------------------


def test_a_column_named_twice_is_refused_naming_it(tmp_path: Path, write_png: WritePng) -> None:
    """csv.DictReader-style reading kept the last of two 'skin_type' columns: a whole grouping vanished."""
    write_png(tmp_path / "data" / "a.png")
    text = "photo,subject,gender_identity,trans,skin_type,age_band,skin_type\na.png,s1,woman,no,V,18-29,II\n"
    assert error_of(raw_csv(tmp_path, text)) == (
        "<root>/manifest.csv: column 'skin_type' appears 2 times in the header (columns 5, 7); the last would hide "
        "the others: give each column its own name"
    )


def test_a_key_given_twice_in_a_jsonl_line_is_refused(tmp_path: Path, write_png: WritePng) -> None:
    write_png(tmp_path / "data" / "a.png")
    line = '{"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": "no", "subject": "s2"}\n'
    assert error_of(raw_csv(tmp_path, line, name="manifest.jsonl")) == (
        "<root>/manifest.jsonl line 1: key 'subject' appears twice in the object; the second would hide the first: "
        "keep one"
    )


@pytest.mark.parametrize(
    ("column", "derived"),
    [
        ("group", "the default groups cis / trans / nonbinary / unknown / undisclosed"),
        ("identity", "woman / man / nonbinary / undisclosed, from gender_identity"),
    ],
)
@pytest.mark.parametrize("name", ["manifest.csv", "manifest.jsonl"])
def test_a_column_named_like_a_derived_grouping_is_refused(
    make_manifest: MakeManifest, column: str, derived: str, name: str
) -> None:
    """`--group-by group` grouped by the kit's derived groups, never by the manifest's own 'group' column."""
    rows = [{"photo": "img/a.png", "subject": "s1", "gender_identity": "woman", "trans": "no", column: "cohort A"}]
    assert error_of(make_manifest(rows, name=name)) == (
        f"<root>/{name}: column '{column}' has the name of a grouping the kit derives ({derived}), which would hide "
        f"it; rename the column (e.g. '{column}_label') and group by that name"
    )


@pytest.mark.parametrize(("separator", "name"), [(";", "semicolon"), ("\t", "tab")], ids=["semicolon", "tab"])
def test_a_csv_separated_by_something_else_than_commas_is_named(
    tmp_path: Path, write_png: WritePng, separator: str, name: str
) -> None:
    write_png(tmp_path / "data" / "a.png")
    header = separator.join(["photo", "subject", "gender_identity", "trans", "skin_type"])
    row = separator.join(["a.png", "s1", "woman", "no", "V"])
    assert error_of(raw_csv(tmp_path, f"{header}\n{row}\n")) == (
        f"<root>/manifest.csv: the header has one column {header!r}: the file looks {name}-separated; save it "
        "comma-separated (in a spreadsheet: CSV, comma delimited, UTF-8)"
    )


def test_a_semicolon_csv_with_a_comma_inside_is_still_named(tmp_path: Path) -> None:
    """A comma in a column name splits a semicolon header in two: the required names are still all inside."""
    text = "photo;subject;gender_identity;trans;notes, free text\na.png;s1;woman;no;x\n"
    assert error_of(raw_csv(tmp_path, text)) == (
        "<root>/manifest.csv: the header holds its columns inside 'photo;subject;gender_identity;trans;notes': the "
        "file looks semicolon-separated; save it comma-separated (in a spreadsheet: CSV, comma delimited, UTF-8)"
    )


@pytest.mark.parametrize(
    ("header", "written", "column"),
    [
        ("Photo,Subject,Gender_Identity,Trans", "Photo", "photo"),
        ("photo,subject,Gender Identity,trans", "Gender Identity", "gender_identity"),
        ("photo,subject,gender-identity,TRANS", "gender-identity", "gender_identity"),
        ("photo,subject,gender_identity, Trans ", "Trans", "trans"),  # spaces around a name are dropped
    ],
)
def test_a_required_column_in_capitals_or_with_spaces_is_named_with_its_spelling(
    tmp_path: Path, header: str, written: str, column: str
) -> None:
    """Column names are compared as written (one spelling for CSV, JSONL, --group-by and policies); a near
    miss of a required name says which column and how to rename it."""
    message = error_of(raw_csv(tmp_path, f"{header}\na.png,s1,woman,no\n"))
    assert message == (
        f"<root>/manifest.csv: missing required column {column}: the header has {written!r}; the kit's column "
        f"names are lower case with underscores: rename it to {column!r}"
    )


def test_a_capitalised_key_in_jsonl_is_named_too(make_manifest: MakeManifest) -> None:
    rows = [{"Photo": "img/a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"}]
    assert error_of(make_manifest(rows, name="manifest.jsonl", images=False)) == (
        "<root>/manifest.jsonl: missing required column photo: the header has 'Photo'; the kit's column names are "
        "lower case with underscores: rename it to 'photo'"
    )


def test_a_grouping_value_too_long_for_a_group_name_is_refused(make_manifest: MakeManifest) -> None:
    """Issue 15, item 4: a long value used as a group was copied into every table row (and, padded, into every
    photo's entry of the checks' arrays); a group name holds at most 100 characters."""
    rows = [dict(row) for row in ROWS]
    rows[2]["skin_type"] = "V" * 101
    dataset = load_dataset(make_manifest(rows))
    with pytest.raises(ManifestError) as info:
        group_labels(dataset, by=["skin_type"])
    assert str(info.value) == (
        f"{dataset.manifest} row 4: cannot group by 'skin_type': its value '{'V' * 80}'... (101 characters) would "
        "name a group, and a group name holds at most 100 characters (it heads every table of every report); "
        "shorten the values of 'skin_type' or group by another column"
    )
    rows[2]["skin_type"] = "V" * 100  # at the limit: a group
    assert group_labels(load_dataset(make_manifest(rows)), by=["skin_type"])[2] == "V" * 100


# -- rt14c F8: one subject described two ways is an error naming the subject and its rows ---------------------


def test_a_subject_described_two_ways_is_an_error_naming_the_rows(tmp_path: Path) -> None:
    from builders import shot, write_dataset

    shots = [
        shot("c1", "woman", "no"),
        shot("X1", "man", "no"),  # row 3
        shot("X1", "trans woman", ""),  # row 4
        shot("X1", "prefer not to say", "yes"),  # row 5
        shot("c1", "woman", "no"),  # the same description twice is one person, well described
    ]
    manifest, _ = write_dataset(tmp_path, shots)
    with pytest.raises(ManifestError) as info:
        load_dataset(manifest)
    assert str(info.value) == (
        f"{manifest} row 4: subject 'X1' is described in 3 ways (row 3: man, trans no; row 4: woman, trans yes; "
        "row 5: undisclosed, trans yes): a person has one self-description; give every row of this subject the same "
        "gender_identity and trans, or give different people different subject ids"
    )
    # Consistent rows load: two photos of c1, one description.
    manifest, _ = write_dataset(tmp_path / "ok", [s for s in shots if s.subject == "c1"])
    assert load_dataset(manifest).subjects == 1


def test_a_subject_cis_in_one_row_and_trans_in_another_is_an_error_but_unknown_contradicts_nothing(
    tmp_path: Path,
) -> None:
    from builders import shot, write_dataset

    manifest, _ = write_dataset(tmp_path / "a", [shot("p", "woman", "no"), shot("p", "woman", "yes")])
    with pytest.raises(
        ManifestError,
        match=r"row 3: subject 'p' is described in 2 ways \(row 2: woman, trans no; row 3: woman, trans yes\)",
    ):
        load_dataset(manifest)
    manifest, _ = write_dataset(tmp_path / "b", [shot("p", "woman", "no"), shot("p", "woman", "")])
    assert [photo.trans for photo in load_dataset(manifest)] == ["no", "unknown"]


# -- rt14c F14: photo names in NFC and NFD (as macOS writes them) are one name -------------------------------


def test_a_photo_named_in_nfc_whose_file_is_nfd_loads_and_matches_an_nfd_predictions_line(
    tmp_path: Path, write_png: Callable[..., Path]
) -> None:
    import unicodedata

    nfc, nfd = unicodedata.normalize("NFC", "José"), unicodedata.normalize("NFD", "José")
    assert nfc != nfd
    for i in range(2):
        write_png(tmp_path / "img" / f"{nfd}{i}.png", (10 * i, 0, 0))  # the files, as a macOS zip names them
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        f"photo,subject,gender_identity,trans\nimg/{nfc}0.png,p0,woman,no\nimg/{nfc}1.png,p1,woman,yes\n",
        encoding="utf-8",
    )
    dataset = load_dataset(manifest)
    assert [p.id for p in dataset] == [f"img/{nfc}0.png", f"img/{nfc}1.png"]
    assert [p.path.name for p in dataset] == [f"{nfd}0.png", f"{nfd}1.png"]
    # The vendor's predictions file spells the names in NFD: the same photos (one with a face, one without, so
    # that the run is not stopped as an analyzer that sees no face anywhere).
    predictions = tmp_path / "v.jsonl"
    faces = [[{"gender": "Female", "confidence": 99.0}], []]
    predictions.write_text(
        "".join(
            json.dumps({"photo": f"img/{nfd}{i}.png", "faces": faces[i]}, ensure_ascii=False) + "\n" for i in range(2)
        ),
        encoding="utf-8",
    )
    import conformance

    observations = conformance.analyze(f"predictions:{predictions}", dataset)
    assert observations.outcome_counts() == {"analysed": 1, "no_face": 1, "error": 0}


# -- photo paths, made lean for large manifests ------------------------------------------------------------


def test_photo_paths_behave_as_plain_paths_in_every_use(make_manifest: MakeManifest) -> None:
    """The loader makes each photo's Path from its text and parses it only when needed (Python 3.10 and
    3.11 parse every Path at once): every use a run or a user's code makes of it is a plain Path's."""
    import copy
    import os
    import pickle

    dataset = load_dataset(make_manifest(ROWS))
    for photo in dataset.photos:
        path = photo.path
        plain = Path(str(path))
        assert str(plain) == str(dataset.root / photo.id.removeprefix("./"))
        assert isinstance(path, Path)
        assert repr(path) == repr(plain)
        assert os.fspath(path) == str(plain)
        assert path == plain
        assert plain == path
        assert hash(path) == hash(plain)
        assert {plain: 1}[path] == 1
        assert path.parts == plain.parts
        assert (path.name, path.stem, path.suffix) == (plain.name, plain.stem, plain.suffix)
        assert path.parent == plain.parent
        assert path / "x" == plain / "x"
        assert path.with_suffix(".jpg") == plain.with_suffix(".jpg")
        assert path.relative_to(dataset.root) == plain.relative_to(dataset.root)
        assert path.is_absolute()
        assert path.is_file()
        assert path.read_bytes() == plain.read_bytes()
        assert path.resolve() == plain.resolve()
        assert copy.copy(path) == plain
        unpickled = pickle.loads(pickle.dumps(path))
        assert unpickled == plain
        assert type(unpickled) is type(plain)  # a worker process gets a plain Path
        assert sorted([path, Path("/")]) == sorted([plain, Path("/")])


def test_a_photo_path_not_yet_parsed_answers_its_parts_first(make_manifest: MakeManifest) -> None:
    """The parts are worked out by whichever use comes first: here each use on a path fresh from the loader."""
    uses: list[Callable[[Path], object]] = [
        lambda p: p.parts,
        lambda p: p.parent,
        lambda p: p.name,
        lambda p: hash(p),
        lambda p: p == Path(str(p)),
        lambda p: p.is_absolute(),
        lambda p: p.anchor,
        lambda p: p / "x",
        lambda p: p.as_uri(),
    ]
    for use in uses:
        dataset = load_dataset(make_manifest(ROWS[:1]))
        path = dataset.photos[0].path
        assert use(path) == use(Path(str(path)))
