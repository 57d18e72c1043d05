"""The predictions adapter, through the registry (``predictions:PATH``) and ``conformance.analyze``.

The dataset is four photos written here; every expected outcome, label and misgendering flag below
is worked out by hand from DESIGN.md's rules, and line numbers count every line of the file from 1.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import conformance
from conformance import AdapterError, Dataset, PredictionsError, load_dataset
from conformance.adapters.predictions import PredictionsAnalyzer
from conformance.adapters.registry import available, create
from conformance.observation import GENDER_CODES
from conformance.run.runner import analyze_dataset

MakeManifest = Callable[..., Path]  # the conftest fixture

WOMAN, MAN, NONBINARY, ABSTAIN = (GENDER_CODES[g] for g in ("woman", "man", "nonbinary", "abstain"))
# Subjects: a and d are the same cis woman (d's manifest box marks her face), b a trans man, c nonbinary.
MANIFEST_ROWS = [
    {"photo": "img/a.png", "subject": "s1", "gender_identity": "woman", "trans": "no", "box": ""},
    {"photo": "img/b.png", "subject": "s2", "gender_identity": "trans man", "trans": "yes", "box": ""},
    {"photo": "img/c.png", "subject": "s3", "gender_identity": "nonbinary", "trans": "unknown", "box": ""},
    {"photo": "img/d.png", "subject": "s1", "gender_identity": "woman", "trans": "no", "box": "0.5,0.5,0.4,0.4"},
]
HEADER = {"analyzer": "acme-face", "version": "3.1"}


def face(gender: str | None, confidence: float | None = 90.0, box: list[float] | None = None) -> dict[str, object]:
    out: dict[str, object] = {"gender": gender, "confidence": confidence}
    if box is not None:
        out["box"] = box
    return out


def one(photo: str, gender: str | None, **kwargs: object) -> dict[str, object]:
    """A line for ``photo`` with a single face."""
    return {"photo": photo, "faces": [face(gender, **kwargs)]}  # type: ignore[arg-type]


@pytest.fixture
def dataset(make_manifest: MakeManifest) -> Dataset:
    return load_dataset(make_manifest(MANIFEST_ROWS))


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write a predictions file from lines (objects are JSON-encoded, strings written as they are)."""

    def write_lines(*lines: object) -> Path:
        path = tmp_path / "preds.jsonl"
        path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
        return path

    return write_lines


def refusal(path: Path, dataset: Dataset) -> str:
    """The PredictionsError's message, the file written ``<preds>`` and the manifest ``<manifest>``."""
    with pytest.raises(PredictionsError) as info:
        create(f"predictions:{path}", dataset=dataset)
    return str(info.value).replace(str(path), "<preds>").replace(str(dataset.manifest), "<manifest>")


FULL = [
    one("img/a.png", "Female", confidence=99.1),
    one("img/b.png", "Male", confidence=80),
    one("img/c.png", "Female", confidence=70.5),
    one("img/d.png", "Female", confidence=60, box=[0.5, 0.5, 0.4, 0.4]),
]


# -- vocabulary ------------------------------------------------------------------------------------------


def test_vocabulary_declared_in_the_header(dataset: Dataset, write: Callable[..., Path]) -> None:
    path = write({**HEADER, "vocabulary": ["Male", "Female"]}, *FULL)

    analyzer = create(f"predictions:{path}", dataset=dataset)

    assert dict(analyzer.vocabulary.labels) == {"Male": "man", "Female": "woman"}
    assert analyzer.vocabulary.source == "declared in the header of preds.jsonl"
    info = analyzer.describe()
    assert info["name"] == "acme-face"
    assert info["version"] == "3.1"
    assert info["adapter"] == "predictions"
    assert info["source"] == str(path)
    assert info["vocabulary"] == {
        "labels": {"Male": "man", "Female": "woman"},
        "source": "declared in the header of preds.jsonl",
        "can_abstain": False,
        "can_express_nonbinary": False,
        "gives_confidence": None,  # the header does not say: calibration cannot be "not applicable" for it
    }


@pytest.mark.parametrize("header", [None, HEADER], ids=["no-header", "header-without-vocabulary"])
def test_vocabulary_inferred_from_the_labels_seen(
    dataset: Dataset, write: Callable[..., Path], header: dict[str, str] | None
) -> None:
    path = write(*([header] if header else []), *FULL)

    analyzer = create(f"predictions:{path}", dataset=dataset)

    assert dict(analyzer.vocabulary.labels) == {"Female": "woman", "Male": "man"}
    assert analyzer.vocabulary.source == "labels seen in preds.jsonl (no header declared the vocabulary)"


def test_labels_mapped_through_the_default_map(dataset: Dataset, write: Callable[..., Path]) -> None:
    lines = [one("img/a.png", "FEMALE"), one("img/b.png", "Man"), one("img/c.png", "Non-Binary")]
    path = write(*lines, one("img/d.png", "Unknown"))

    observations = conformance.analyze(f"predictions:{path}", dataset)

    assert [r.face.label for r in observations.records if r.face] == ["FEMALE", "Man", "Non-Binary", "Unknown"]
    assert [r.face.gender for r in observations.records if r.face] == ["woman", "man", "nonbinary", "abstain"]
    assert observations.predicted.tolist() == [WOMAN, MAN, NONBINARY, ABSTAIN]
    assert observations.misgendered.tolist() == [False, False, False, False]
    vocabulary = observations.analyzer["vocabulary"]
    assert vocabulary["can_express_nonbinary"] is True
    assert vocabulary["can_abstain"] is True


def test_labels_mapped_through_the_header(dataset: Dataset, write: Callable[..., Path]) -> None:
    header = {**HEADER, "labels": {"X": "nonbinary", "Pass": "abstain", "F": "woman"}}
    path = write(header, one("img/a.png", "F"), one("img/b.png", "Pass"), one("img/c.png", "X"), one("img/d.png", "F"))

    observations = conformance.analyze(f"predictions:{path}", dataset)

    assert observations.predicted.tolist() == [WOMAN, ABSTAIN, NONBINARY, WOMAN]
    assert dict(observations.analyzer["vocabulary"]["labels"]) == {"F": "woman", "Pass": "abstain", "X": "nonbinary"}


@pytest.mark.parametrize("header", [None, HEADER], ids=["no-header", "header"])
def test_unknown_label_is_refused_naming_the_line_and_how_to_map_it(
    dataset: Dataset, write: Callable[..., Path], header: dict[str, str] | None
) -> None:
    lines = [one("img/a.png", "Female"), one("img/b.png", "Zorp")]
    path = write(*([header] if header else []), *lines)
    line = 3 if header else 2

    message = refusal(path, dataset)

    assert f"<preds> line {line}: gender label 'Zorp' has no known meaning" in message
    assert '"labels": {"Zorp": "nonbinary"}' in message


def test_unknown_label_in_the_declared_vocabulary_is_refused(dataset: Dataset, write: Callable[..., Path]) -> None:
    path = write({**HEADER, "vocabulary": ["Male", "Female", "Other"]}, *FULL)
    message = refusal(path, dataset)
    assert "<preds> line 1 (the header's vocabulary): gender label 'Other' has no known meaning" in message
    assert '"labels": {"Other": "nonbinary"}' in message


def test_label_outside_the_declared_vocabulary_is_refused(dataset: Dataset, write: Callable[..., Path]) -> None:
    # "Woman" has a default meaning, but the header says the analyzer only outputs Male and Female.
    path = write({**HEADER, "vocabulary": ["Male", "Female"]}, one("img/a.png", "Female"), one("img/b.png", "Woman"))
    message = refusal(path, dataset)
    assert "<preds> line 3: gender label 'Woman' is not in the header's vocabulary ['Male', 'Female']" in message


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"labels": {"X": "femme"}}, "header maps 'X' to 'femme'; use one of woman, man, nonbinary, abstain"),
        ({"labels": ["X"]}, 'header "labels" must map each label to woman, man, nonbinary or abstain'),
        ({"vocabulary": "Male"}, 'header "vocabulary" must be a list of the labels the analyzer can output'),
    ],
)
def test_bad_header_is_refused(
    dataset: Dataset, write: Callable[..., Path], header: dict[str, object], expected: str
) -> None:
    message = refusal(write({**HEADER, **header}, *FULL), dataset)
    assert f"<preds> line 1: {expected}" in message


# -- malformed lines -------------------------------------------------------------------------------------

BAD_LINES = [
    ('{"photo": "img/b.png", ', "not valid JSON"),
    ("[1, 2]", "expected a JSON object, found list"),
    ('"img/b.png"', "expected a JSON object, found str"),
    ({"faces": []}, 'needs a "photo" naming a manifest photo'),
    ({"photo": "", "faces": []}, 'needs a "photo"'),
    ({"photo": 7, "faces": []}, 'needs a "photo"'),
    ({**HEADER, "version": "2"}, 'needs a "photo" naming a manifest photo (or a header line first)'),
    ({"photo": "img/b.png"}, 'needs "faces" (a list, empty when no face was found) or "error"'),
    ({"photo": "img/b.png", "faces": {"gender": "Male"}}, 'needs "faces"'),
    ({"photo": "img/b.png", "faces": ["Male"]}, "each face must be an object"),
    ({"photo": "img/b.png", "faces": [{"gender": 1}]}, "gender 1 must be a string or null"),
    (one("img/b.png", "Male", confidence=100.5), "confidence 100.5 must be a number from 0 to 100"),
    (one("img/b.png", "Male", confidence=-1), "confidence -1 must be a number from 0 to 100"),
    ({"photo": "img/b.png", "faces": [{"gender": "Male", "confidence": "99"}]}, "confidence '99' must be a number"),
    ({"photo": "img/b.png", "faces": [{"gender": "Male", "confidence": True}]}, "confidence True must be a number"),
    ('{"photo": "img/b.png", "faces": [{"gender": "Male", "confidence": NaN}]}', "confidence nan must be a number"),
    (one("img/b.png", "Male", box=[0.1, 0.2, 0.3]), "box [0.1, 0.2, 0.3] must be [left, top, width, height]"),
    ({"photo": "img/b.png", "faces": [{"gender": "Male", "box": "0,0,1,1"}]}, "box '0,0,1,1' must be [left, top"),
    ({"photo": "img/b.png", "faces": [{"gender": "Male", "box": [0, 0, "a", 1]}]}, "box [0, 0, 'a', 1] must be"),
    ({"photo": "img/b.png", "faces": [{"gender": "Male", "box": [0, 0, True, 1]}]}, "box [0, 0, True, 1] must be"),
    ({"photo": "img/b.png", "error": ""}, '"error" must be a non-empty string'),
    ({"photo": "img/b.png", "error": 503}, '"error" must be a non-empty string'),
]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        *BAD_LINES,
        pytest.param(one("img/b.png", "Male", box=[0.1, 0.1, -0.5, 0.5]), "box [0.1, 0.1, -0.5, 0.5]"),
        pytest.param(one("img/b.png", "Male", box=[0.1, 0.1, 0.5, 0]), "box [0.1, 0.1, 0.5, 0]"),
    ],
)
def test_malformed_line_is_refused_by_line_number(
    dataset: Dataset, write: Callable[..., Path], line: object, expected: str
) -> None:
    path = write(HEADER, one("img/a.png", "Female"), line, one("img/c.png", "Female"))
    message = refusal(path, dataset)
    assert message.startswith(f"<preds> line 3: {expected}"), message


# The usual line (an object, a float confidence, four float box values) is read by shortcuts; each of these
# lines takes the shortcut's way out to the full checks, and gets what they say.
SHORTCUT_LINES = [
    ('{"photo": "img/b.png", "faces": [{"gender": "Male", "confidence": Infinity}]}', "confidence inf must be"),
    ('{"photo": "img/b.png", "faces": [{"gender": "Male", "box": [NaN, 0.1, 0.2, 0.2]}]}', "box [nan, 0.1, 0.2, 0.2]"),
    ('{"photo": "img/b.png", "faces": [{"gender": "Male", "box": [0.1, -Infinity, 0.2, 0.2]}]}', "box [0.1, -inf, 0."),
    (one("img/b.png", "Male", box=[0.1, 0.1, 1.6, 0.2]), "box [0.1, 0.1, 1.6, 0.2] looks like pixels"),
    (one("img/b.png", "Male", box=[0.1, 0.1, 0.2, -0.2]), "box [0.1, 0.1, 0.2, -0.2] has no area"),
    ('{"photo": "img/b.png", "faces": []} x', "not valid JSON (Extra data at column 37)"),
    ('{"photo": "img/b.png", "faces": []}\f', "not valid JSON (Extra data at column 36)"),
]


@pytest.mark.parametrize(("line", "expected"), SHORTCUT_LINES)
def test_lines_off_the_usual_shortcuts_get_the_full_checks_messages(
    dataset: Dataset, write: Callable[..., Path], line: object, expected: str
) -> None:
    path = write(HEADER, one("img/a.png", "Female"), line, one("img/c.png", "Female"))
    message = refusal(path, dataset)
    assert message.startswith(f"<preds> line 3: {expected}"), message


def test_lines_with_spaces_around_the_object_and_whole_number_values_are_read(
    dataset: Dataset, write: Callable[..., Path]
) -> None:
    lines = [
        HEADER,
        '  {"photo": "img/a.png", "faces": [{"gender": "Female", "confidence": 90, "box": [0, 0, 1, 1]}]} \t',
        one("img/b.png", "Male", confidence=80.5, box=[-0.1, 0.2, 1.5, 0.25]),
        one("img/c.png", "Female"),
        one("img/d.png", "Female"),
    ]
    analyzer = PredictionsAnalyzer(write(*lines), dataset=dataset)
    a, b = analyzer.analyze(dataset.photo("img/a.png")), analyzer.analyze(dataset.photo("img/b.png"))
    assert a.face is not None
    assert b.face is not None
    assert (a.face.confidence, a.face.box) == (90.0, (0.0, 0.0, 1.0, 1.0))
    assert all(type(v) is float for v in (a.face.confidence, *a.face.box))  # ints read as floats
    assert (b.face.confidence, b.face.box) == (80.5, (-0.1, 0.2, 1.5, 0.25))


def test_blank_lines_count_in_line_numbers(dataset: Dataset, write: Callable[..., Path]) -> None:
    path = write(HEADER, "", one("img/a.png", "Female"), "   ", "[]")
    assert refusal(path, dataset).startswith("<preds> line 5: expected a JSON object")


def test_non_utf8_file_names_the_line(dataset: Dataset, write: Callable[..., Path]) -> None:
    path = write(HEADER)
    path.write_bytes(path.read_bytes() + b'{"photo": "img/a.png", "faces": [{"gender": "F\xe9minin"}]}\n')
    message = refusal(path, dataset)
    assert "<preds> line 2: not UTF-8" in message
    assert "save the file as UTF-8" in message


@pytest.mark.parametrize(
    ("encoding", "codec", "said"),
    [
        ("utf-16-le", "UTF-16LE", "UTF-16, little-endian, without a byte-order mark"),
        ("utf-16-be", "UTF-16BE", "UTF-16, big-endian, without a byte-order mark"),
        ("utf-16", "UTF-16", "UTF-16, little-endian, with a byte-order mark"),  # Python writes its machine's order
        ("utf-32-le", "UTF-32LE", "UTF-32, little-endian, without a byte-order mark"),
        ("utf-32-be", "UTF-32BE", "UTF-32, big-endian, without a byte-order mark"),
    ],
)
def test_a_utf_16_file_is_said_to_be_utf_16_with_how_to_convert_it(
    dataset: Dataset, write: Callable[..., Path], encoding: str, codec: str, said: str
) -> None:
    """Issue 15's known limit: UTF-16 without a byte-order mark is valid UTF-8 full of NULs, and said
    "line 1: not valid JSON (Expecting property name ...)"; with a mark, "line 1: not UTF-8". Now the file is
    named with its encoding and the command that converts it, and the converted file is read."""
    path = write(HEADER, *FULL)
    text = path.read_text(encoding="utf-8")
    path.write_bytes(text.encode(encoding))
    converted = path.with_name("preds-utf8.jsonl")
    assert refusal(path, dataset) == (
        f"<preds>: not UTF-8 (it looks like {said}); save it as UTF-8 (in an editor: Save As, encoding UTF-8; or "
        f"iconv -f {codec} -t UTF-8 <preds> > {converted}) and pass that file"
    )
    # The command as given, run by Python's own codecs (iconv's names are Python's): the file it makes is read.
    data = path.read_bytes().decode(codec)
    converted.write_text(data.removeprefix("\ufeff"), encoding="utf-8")
    assert create(f"predictions:{converted}", dataset=dataset).analyze(dataset.photo("img/a.png")).face is not None


def test_missing_predictions_file(dataset: Dataset, tmp_path: Path) -> None:
    assert refusal(tmp_path / "none.jsonl", dataset) == "predictions file not found: <preds>"


def test_photo_not_in_the_manifest_is_refused_naming_line_and_photo(
    dataset: Dataset, write: Callable[..., Path]
) -> None:
    message = refusal(write(one("img/a.png", "Female"), one("img/zzz.png", "Male")), dataset)
    assert "<preds> line 2: photo 'img/zzz.png' is not in the manifest <manifest>" in message
    assert "check the path (relative to the manifest) or remove the line" in message


def test_repeated_photo_is_refused_naming_both_lines(dataset: Dataset, write: Callable[..., Path]) -> None:
    message = refusal(write(one("img/a.png", "Female"), one("img/b.png", "Male"), one("./img/a.png", "Male")), dataset)
    assert "<preds> line 3: photo './img/a.png' already has a prediction at line 1" in message


def test_repeated_photo_message_gives_the_way_out(dataset: Dataset, write: Callable[..., Path]) -> None:
    message = refusal(write(one("img/a.png", "Female"), one("img/a.png", "Male")), dataset)
    assert re.search(r"one line per photo|remove (one|the)|keep (one|only)", message)


# -- outcomes: nothing is lost ---------------------------------------------------------------------------


def test_every_photo_gets_one_observation_and_a_missing_line_is_an_error(
    dataset: Dataset, write: Callable[..., Path]
) -> None:
    path = write(
        HEADER,
        one("img/a.png", "Female"),
        {"photo": "img/b.png", "faces": []},
        {"photo": "img/c.png", "error": "InvalidImageFormatException"},
    )  # no line for img/d.png

    observations = conformance.analyze(f"predictions:{path}", dataset)

    assert len(observations) == 4
    assert [r.photo for r in observations.records] == ["img/a.png", "img/b.png", "img/c.png", "img/d.png"]
    assert [r.outcome for r in observations.records] == ["analysed", "no_face", "error", "error"]
    assert observations.outcome_counts() == {"analysed": 1, "no_face": 1, "error": 2}
    assert sum(observations.outcome_counts().values()) == len(dataset)
    assert observations.records[2].reason == "InvalidImageFormatException"
    assert observations.records[3].reason == f"no prediction for this photo in {path}"
    assert observations.predicted.tolist() == [WOMAN, -1, -1, -1]
    assert observations.misgendered.tolist() == [False, False, False, False]


EMPTY_WAY_OUT = (
    'it needs one line per manifest photo, {"photo": "...", "faces": [...]} or {"photo": "...", "error": "..."}: '
    "check that this is the file the analyzer wrote"
)


@pytest.mark.parametrize(
    ("lines", "has"),
    [
        pytest.param((), "", id="no-bytes"),
        pytest.param(("", "   ", ""), "", id="blank-lines"),
        pytest.param((HEADER,), " (it has only a header)", id="header-only"),
        pytest.param(
            (HEADER, {"probe": "img/a.png", "matches": []}, {"probe": "img/b.png", "matches": []}),
            " (it has only a header and 2 face-search lines)",
            id="header-and-search-lines",
        ),
    ],
)
def test_an_empty_predictions_file_is_refused(
    dataset: Dataset, write: Callable[..., Path], lines: tuple[object, ...], has: str
) -> None:
    """Issue 14, item 8: an empty file ran on as 'every photo an error' (exit 1, like a fairness failure)."""
    assert refusal(write(*lines), dataset) == f"<preds>: no predictions in the file{has}; {EMPTY_WAY_OUT}"


def test_an_empty_predictions_file_is_a_usage_error_through_the_cli(
    dataset: Dataset, write: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance.cli import main

    path = write()
    code = main(["run", "--dataset", str(dataset.manifest), "--analyzer", f"predictions:{path}"])
    err = capsys.readouterr().err
    assert code == 2  # a usage error, not exit 1 (a failed check)
    assert f"conformance: error: {path}: no predictions in the file; {EMPTY_WAY_OUT}" in err


def test_photos_without_a_line_are_counted_and_the_first_named(
    make_manifest: MakeManifest, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14, item 8: a predictions file missing some photos says how many and which, in the console and
    in what the adapter describes (which reports carry)."""
    rows = [
        {"photo": f"img/{i:02d}.png", "subject": f"s{i}", "gender_identity": "woman", "trans": "no"} for i in range(12)
    ]
    dataset = load_dataset(make_manifest(rows))
    path = tmp_path / "vendor.jsonl"
    path.write_text("".join(json.dumps(one(f"img/{i:02d}.png", "Female")) + "\n" for i in (0, 3)), encoding="utf-8")
    capsys.readouterr()

    analyzer = create(f"predictions:{path}", dataset=dataset)

    # 12 photos, lines for 2 of them: 10 missing, the first five named in manifest order.
    note = (
        "vendor.jsonl has no prediction for 10 of 12 photos ('img/01.png', 'img/02.png', 'img/04.png', "
        "'img/05.png', 'img/06.png', and 5 more); each counts as an error: add their lines, or drop them from "
        "the manifest"
    )
    assert capsys.readouterr().err == f"conformance: {note}\n"
    assert analyzer.describe()["missing_predictions"] == {
        "count": 10,
        "photos": 12,
        "first": ["img/01.png", "img/02.png", "img/04.png", "img/05.png", "img/06.png"],
        "note": note,
    }
    observations = analyze_dataset(analyzer, dataset)
    assert observations.outcome_counts() == {"analysed": 2, "no_face": 0, "error": 10}
    assert observations.analyzer["missing_predictions"]["count"] == 10


def test_a_complete_file_says_nothing_of_missing_photos(
    dataset: Dataset, write: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    analyzer = create(f"predictions:{write(*FULL)}", dataset=dataset)
    assert capsys.readouterr().err == ""
    assert "missing_predictions" not in analyzer.describe()


def test_null_gender_is_an_abstention_not_misgendering(dataset: Dataset, write: Callable[..., Path]) -> None:
    lines = [one("img/a.png", "Female"), one("img/b.png", None), one("img/c.png", None, confidence=None)]
    path = write(*lines, one("img/d.png", "Male"))

    observations = conformance.analyze(f"predictions:{path}", dataset)

    b = observations.records[1]
    assert b.outcome == "analysed"
    assert b.face is not None
    assert b.face.label is None
    assert observations.predicted.tolist() == [WOMAN, ABSTAIN, ABSTAIN, MAN]
    # Only d (a woman called Male) is misgendered; b and c abstained.
    assert observations.misgendered.tolist() == [False, False, False, True]
    confidence = observations.confidence.tolist()
    assert confidence[:2] == [90.0, 90.0]
    assert math.isnan(confidence[2])


def test_misgendering_follows_the_design_rules(dataset: Dataset, write: Callable[..., Path]) -> None:
    # a: woman called Nonbinary (not the other binary label); b: man called Female; c: nonbinary
    # person called Male (any binary label misgenders); d: woman called Female.
    lines = [one("img/a.png", "Nonbinary"), one("img/b.png", "Female"), one("img/c.png", "Male")]
    path = write(*lines, one("img/d.png", "Female"))
    observations = conformance.analyze(f"predictions:{path}", dataset)
    assert observations.misgendered.tolist() == [False, True, True, False]


def test_confidence_bounds_are_accepted_as_floats(dataset: Dataset, write: Callable[..., Path]) -> None:
    lines = [one("img/a.png", "Female", confidence=0), one("img/b.png", "Male", confidence=100)]
    observations = conformance.analyze(f"predictions:{write(*lines)}", dataset)
    assert observations.confidence.tolist()[:2] == [0.0, 100.0]
    assert isinstance(observations.records[0].face.confidence, float)  # type: ignore[union-attr]


# -- several faces ---------------------------------------------------------------------------------------


def test_largest_face_counts_without_a_manifest_box(dataset: Dataset, write: Callable[..., Path]) -> None:
    # Areas 0.04 (Male) and 0.25 (Female): the Female face is the subject's.
    faces = [face("Male", 99, [0.0, 0.0, 0.2, 0.2]), face("Female", 80, [0.3, 0.3, 0.5, 0.5])]
    path = write({"photo": "img/a.png", "faces": faces})

    record = conformance.analyze(f"predictions:{path}", dataset).records[0]

    assert record.outcome == "analysed"
    assert record.faces == 2
    assert record.face is not None
    assert (record.face.label, record.face.confidence, record.face.box) == ("Female", 80.0, (0.3, 0.3, 0.5, 0.5))


def test_manifest_box_picks_the_subject_not_the_largest_face(dataset: Dataset, write: Callable[..., Path]) -> None:
    # d's manifest box is (0.5, 0.5, 0.4, 0.4). The larger face (area 0.2025) lies left of and above it:
    # overlap 0. The smaller (area 0.09) lies inside it: IoU 0.09 / 0.16 = 0.5625. The smaller one counts.
    faces = [face("Male", 99, [0.0, 0.0, 0.45, 0.45]), face("Female", 70, [0.55, 0.55, 0.3, 0.3])]
    path = write({"photo": "img/d.png", "faces": faces})

    observations = conformance.analyze(f"predictions:{path}", dataset)

    record = observations.records[3]
    assert record.face is not None
    assert record.face.label == "Female"
    assert observations.misgendered.tolist()[3] is False


@pytest.mark.parametrize(
    ("photo", "boxes"),
    [("img/a.png", [None, None]), ("img/a.png", [[0.1, 0.1, 0.2, 0.2], None]), ("img/d.png", [None, None, None])],
    ids=["no-boxes", "one-box-missing", "manifest-box-but-faces-without"],
)
def test_several_faces_without_boxes_are_an_error_naming_the_line(
    dataset: Dataset, write: Callable[..., Path], photo: str, boxes: list[list[float] | None]
) -> None:
    faces = [face("Female", 90, box) for box in boxes]
    path = write(HEADER, one("img/b.png", "Male"), {"photo": photo, "faces": faces})

    observations = conformance.analyze(f"predictions:{path}", dataset)

    record = next(r for r in observations.records if r.photo == photo)
    assert record.outcome == "error"
    assert record.faces == len(boxes)
    assert f"{len(boxes)} faces in preds.jsonl line 3 and none can be told to be the subject's" in record.reason
    assert "give every face a box" in record.reason


def test_a_single_face_without_a_box_counts(dataset: Dataset, write: Callable[..., Path]) -> None:
    record = conformance.analyze(f"predictions:{write(one('img/d.png', 'Female'))}", dataset).records[3]
    assert record.outcome == "analysed"
    assert record.faces == 1


# -- other lines and paths -------------------------------------------------------------------------------


def test_probe_lines_are_skipped(dataset: Dataset, write: Callable[..., Path]) -> None:
    probe = {"probe": "img/a.png", "matches": [{"gallery": "g/1.png", "similarity": 91.2}]}
    path = write(HEADER, probe, *FULL, {"probe": "img/zzz.png", "matches": []})

    analyzer = create(f"predictions:{path}", dataset=dataset)

    assert analyzer.describe()["skipped_matching_lines"] == 2
    assert conformance.analyze(f"predictions:{path}", dataset).outcome_counts()["analysed"] == 4


def test_no_skipped_lines_are_not_mentioned(dataset: Dataset, write: Callable[..., Path]) -> None:
    assert "skipped_matching_lines" not in create(f"predictions:{write(*FULL)}", dataset=dataset).describe()


def test_photo_paths_match_however_spelled(dataset: Dataset, write: Callable[..., Path]) -> None:
    lines = [one("./img/a.png", "Female"), one("img\\b.png", "Male"), one("img/./c.png", "Male")]
    path = write(*lines, one("img/../img/d.png", "Female"))
    observations = conformance.analyze(f"predictions:{path}", dataset)
    assert observations.outcome_counts() == {"analysed": 4, "no_face": 0, "error": 0}
    assert observations.predicted.tolist() == [WOMAN, MAN, MAN, WOMAN]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [({}, (False, False)), ({"simulated": True}, (True, False)), ({"simulated": True, "emulated": True}, (True, True))],
)
def test_describe_carries_simulated_and_emulated_flags(
    dataset: Dataset, write: Callable[..., Path], flags: dict[str, bool], expected: tuple[bool, bool]
) -> None:
    path = write({**HEADER, **flags, "note": "made for a test"}, *FULL)

    observations = conformance.analyze(f"predictions:{path}", dataset)

    info = observations.analyzer
    assert (info["simulated"], info["emulated"]) == expected
    assert info["note"] == "made for a test"


def test_describe_without_a_header(dataset: Dataset, write: Callable[..., Path]) -> None:
    info = create(f"predictions:{write(*FULL)}", dataset=dataset).describe()
    assert (info["name"], info["version"], info["simulated"], info["emulated"]) == (
        "predictions",
        "unknown",
        False,
        False,
    )


# -- registry --------------------------------------------------------------------------------------------


def test_unknown_adapter_lists_the_available_ones(dataset: Dataset) -> None:
    with pytest.raises(AdapterError) as info:
        create("nosuch:results.jsonl", dataset=dataset)
    message = str(info.value)
    assert "no adapter named 'nosuch' (from --analyzer nosuch:results.jsonl)" in message
    assert f"available: {', '.join(available())}" in message
    assert "predictions" in available()
    assert "'conformance.adapters'" in message


@pytest.mark.parametrize("spec", ["predictions", "predictions:"])
def test_predictions_without_a_path_gives_the_usage(dataset: Dataset, spec: str) -> None:
    with pytest.raises(PredictionsError, match=r"needs a file: --analyzer predictions:PATH"):
        create(spec, dataset=dataset)


@pytest.mark.parametrize("flag", ["simulated", "emulated", "abstains"])
def test_header_flags_must_be_booleans(dataset: Dataset, write: Callable[..., Path], flag: str) -> None:
    # "false" as a string would read as true: a provenance flag must not be guessed.
    path = write({**HEADER, flag: "false"}, one("img/a.png", "Female"))
    message = refusal(path, dataset)
    assert "<preds> line 1:" in message
    assert f"header '{flag}' must be true or false" in message


def test_an_abstention_seen_shows_the_analyzer_can_abstain(dataset: Dataset, write: Callable[..., Path]) -> None:
    path = write(one("img/a.png", "Female"), one("img/b.png", None))
    analyzer = create(f"predictions:{path}", dataset=dataset)
    assert analyzer.vocabulary.can_abstain is True
    assert analyzer.vocabulary.can_decline is True


def test_manifest_box_overlapping_no_face_is_an_error(dataset: Dataset, write: Callable[..., Path]) -> None:
    # img/d.png's manifest box is (0.5, 0.5, 0.4, 0.4); both faces lie in the top-left quarter.
    faces = [face("Female", box=[0.0, 0.0, 0.2, 0.2]), face("Male", box=[0.2, 0.2, 0.2, 0.2])]
    # One photo answered, so that the run is not stopped as one whose every photo failed (rt14e F8).
    path = write(one("img/a.png", "Female"), {"photo": "img/d.png", "faces": faces})
    record = next(r for r in conformance.analyze(f"predictions:{path}", dataset).records if r.photo == "img/d.png")
    assert record.outcome == "error"
    assert "none can be told to be the subject's" in record.reason


def test_pixel_boxes_are_refused(dataset: Dataset, write: Callable[..., Path]) -> None:
    path = write(one("img/a.png", "Female", box=[12, 30, 140, 160]))
    assert "looks like pixels" in refusal(path, dataset)


def test_confidences_on_two_scales_are_refused_naming_the_lines(dataset: Dataset, write: Callable[..., Path]) -> None:
    """Issue 15, item 10: one line on 0-100 among lines on 0-1 was accepted, and skewed calibration."""
    path = write(
        HEADER,  # line 1
        one("img/a.png", "Female", confidence=0.97),
        one("img/b.png", "Male", confidence=80.0),  # line 3: the only one on 0-100
        one("img/c.png", "Female", confidence=0.64),
        one("img/d.png", "Female", confidence=1, box=[0.5, 0.5, 0.4, 0.4]),
    )
    assert refusal(path, dataset) == (
        "<preds>: confidences on two scales: 1 line gives a confidence above 1 (line 3) and 3 give one above 0 "
        "and at most 1 (lines 2, 4, 5), which on the format's 0-100 scale would mean the analyzer was at most 1% "
        "sure of its own label; write every confidence from 0 to 100 (multiply those on a 0-1 scale by 100)"
    )


def test_confidences_on_two_scales_name_the_first_five_lines_of_each(
    make_manifest: MakeManifest, tmp_path: Path
) -> None:
    rows = [
        {"photo": f"img/{i:02d}.png", "subject": f"s{i}", "gender_identity": "man", "trans": "no"} for i in range(14)
    ]
    dataset = load_dataset(make_manifest(rows))
    # Lines 1-7 on 0-100, lines 8-14 on 0-1; a line with two faces on one scale counts once.
    lines = [one(f"img/{i:02d}.png", "Male", confidence=90.0 if i < 7 else 0.9) for i in range(14)]
    lines[9] = {
        "photo": "img/09.png",
        "faces": [face("Male", 0.8, [0, 0, 0.5, 0.5]), face("Male", 0.3, [0.5, 0.5, 0.2, 0.2])],
    }
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    message = refusal(path, dataset)
    assert message.startswith(
        "<preds>: confidences on two scales: 7 lines give a confidence above 1 (lines 1, 2, 3, 4, 5, and 2 more) "
        "and 7 give one above 0 and at most 1 (lines 8, 9, 10, 11, 12, and 2 more), "
    )


def test_a_zero_confidence_is_no_sign_of_either_scale(dataset: Dataset, write: Callable[..., Path]) -> None:
    lines = [one("img/a.png", "Female", confidence=0), one("img/b.png", "Male", confidence=0.0)]
    lines += [one("img/c.png", "Female", confidence=71.5), one("img/d.png", "Female", confidence=88)]
    observations = conformance.analyze(f"predictions:{write(*lines)}", dataset)
    assert observations.confidence.tolist() == [0.0, 0.0, 71.5, 88.0]


def test_confidences_on_a_0_1_scale_are_refused(dataset: Dataset, write: Callable[..., Path]) -> None:
    path = write(one("img/a.png", "Female", confidence=0.97), one("img/b.png", "Male", confidence=0.64))
    message = refusal(path, dataset)
    assert "<preds> line 1:" in message
    assert "0-1 scale" in message
    assert "multiply by 100" in message


# -- rt14c F12: a systematic failure's advice fits the analyzer: a predictions file records nothing -------------


def test_a_predictions_file_missing_its_last_photos_stops_with_advice_about_the_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    from builders import people, write_dataset

    manifest, predictions = write_dataset(tmp_path / "photos", people("c", 25) + people("t", 25, trans="yes"))
    lines = predictions.read_text(encoding="utf-8").splitlines()
    predictions.write_text("\n".join(lines[:-22]) + "\n", encoding="utf-8")  # the last 22 photos have no line
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--dataset",
            str(manifest),
            "--analyzer",
            f"predictions:{predictions}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "nothing is recorded (the answers are the predictions file's). Fix the cause (the predictions file: a " in (
        done.stderr
    )
    assert "the endpoint, its permissions" not in done.stderr
    assert "what was recorded so far is kept" not in done.stderr
