"""Values 100,000 characters long in the files users give (a manifest, predictions, a policy, a recording, a
report): the kit's message quotes their first 80 characters and says how long they are, not the whole value.

Every expected message here is written out from the rules of :func:`conformance._untrusted.shown` (a string
longer than 80 characters: the repr of its first 80, then ``... (N characters)``), not read back from the kit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance import Dataset, load_dataset, load_policy
from conformance._untrusted import shown, shown_list
from conformance.adapters.registry import create
from conformance.comparison.reports import load_report
from conformance.errors import ManifestError, PolicyError, PredictionsError
from conformance.recording import RecordingError, RecordingStore
from conformance.report import ReportError

MakeManifest = Callable[..., Path]  # the conftest fixture

N = 100_000
BOUND = 1_000  # every message below stays under this many characters


def long(letter: str) -> str:
    return letter * N


def cut(letter: str) -> str:
    """How a message quotes ``long(letter)``: quote, 80 letters, quote, then the length."""
    return "'" + letter * 80 + "'... (100000 characters)"


def bounded(message: str) -> str:
    assert len(message) < BOUND, f"{len(message)} characters: {message[:200]}..."
    assert "100000 characters" in message
    return message


ROWS = [
    {"photo": "a.png", "subject": "s1", "gender_identity": "woman", "trans": "no"},
    {"photo": "b.png", "subject": "s2", "gender_identity": "man", "trans": "yes"},
]


@pytest.fixture
def dataset(make_manifest: MakeManifest) -> Dataset:
    return load_dataset(make_manifest(ROWS))


# -- the helpers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("woman", "'woman'"),
        ("it's", '"it\'s"'),  # repr's own choice of quotes
        ("a" * 80, "'" + "a" * 80 + "'"),  # at the limit: whole
        ("a" * 81, "'" + "a" * 80 + "'... (81 characters)"),
        ("é\n" * 50, repr("é\n" * 40) + "... (100 characters)"),
        (None, "None"),
        (True, "True"),
        (12.5, "12.5"),
        (10**49, "1" + "0" * 49),  # 50 digits: whole, as repr gives it
        (10**99, "1" + "0" * 37 + "..." + "0" * 39),  # 100 digits: 38 + "..." + 39 = 80 characters
        ([0.1, 0.2, 0.3, 0.4], "[0.1, 0.2, 0.3, 0.4]"),
        ([1, 2, 3, 4, 5], "[1, 2, 3, 4, ...]"),
        ({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}, "{'a': 1, 'b': 2, 'c': 3, 'd': 4, ...}"),
        ([[["deep"]]], "[[[...]]]"),  # two levels shown
        # A long string inside a list: reprlib keeps 38 + 39 characters of its 82-character repr around "...".
        (["x" * 100], "['" + "x" * 37 + "..." + "x" * 38 + "']"),
    ],
)
def test_shown(value: object, expected: str) -> None:
    assert shown(value) == expected


def test_shown_limit_and_unquoted() -> None:
    assert shown("abcdef", limit=3) == "'abc'... (6 characters)"
    assert shown("misgender_gap", quoted=False) == "misgender_gap"
    assert shown("a" * 81, quoted=False) == "'" + "a" * 80 + "'... (81 characters)"  # quoted: the cut shows
    assert shown(long("q")) == cut("q")
    assert len(cut("q")) == 82 + len("... ") + len("(100000 characters)")  # 105


@given(st.text(max_size=80))
def test_a_short_string_is_shown_as_repr_gives_it(text: str) -> None:
    assert shown(text) == repr(text)


@given(st.text(min_size=81, max_size=300))
def test_a_long_string_is_cut_to_80_characters(text: str) -> None:
    assert shown(text) == f"{text[:80]!r}... ({len(text)} characters)"


@pytest.mark.parametrize(
    ("values", "kwargs", "expected"),
    [
        ([], {}, ""),
        (["cis", "trans"], {}, "'cis', 'trans'"),
        (["a", "b", "c", "d", "e"], {}, "'a', 'b', 'c', 'd', 'e'"),
        (["a", "b", "c", "d", "e", "f", "g"], {}, "'a', 'b', 'c', 'd', 'e', and 2 more"),
        (["a", "b", "c"], {"most": 1}, "'a', and 2 more"),
        (["photo", "subject"], {"quoted": False}, "photo, subject"),
        ([long("z"), "ok"], {"quoted": False}, cut("z") + ", ok"),
        ((str(n) for n in range(100_000)), {}, "'0', '1', '2', '3', '4', and 99995 more"),
    ],
)
def test_shown_list(values: list[str], kwargs: dict[str, object], expected: str) -> None:
    assert shown_list(values, **kwargs) == expected  # type: ignore[arg-type]


# -- a manifest --------------------------------------------------------------------------------------


def refused_manifest(manifest: Path, **kwargs: object) -> str:
    with pytest.raises(ManifestError) as caught:
        load_dataset(manifest, **kwargs)  # type: ignore[arg-type]
    return bounded(str(caught.value))


def test_a_long_photo_name(make_manifest: MakeManifest) -> None:
    manifest = make_manifest([{**ROWS[0], "photo": long("p"), "subject": ""}], images=False)
    assert refused_manifest(manifest) == (
        f"{manifest} row 2: photo {cut('p')} has an empty 'subject'; give every photo its person's id"
    )


def test_a_long_photo_name_the_system_refuses(make_manifest: MakeManifest) -> None:
    manifest = make_manifest([{**ROWS[1], "photo": long("p")}], images=False)
    assert refused_manifest(manifest).startswith(f"{manifest} row 2: image {cut('p')} ")


def test_a_long_gender_identity(make_manifest: MakeManifest) -> None:
    manifest = make_manifest([ROWS[0], {**ROWS[1], "gender_identity": long("g")}])
    assert refused_manifest(manifest) == (
        f"{manifest} row 3: gender_identity {cut('g')} is not in the identity map, and the kit never guesses an "
        'identity: map it under [tool.conformance.identity] ("<the value>" = "<woman | man | nonbinary | undisclosed>") '
        "with what the person's own description means, or correct the row"
    )


def test_a_long_gender_identity_mapped_by_the_policy(make_manifest: MakeManifest) -> None:
    manifest = make_manifest([ROWS[0], {**ROWS[1], "gender_identity": long("g")}])
    assert refused_manifest(manifest, identity_map={long("g"): long("t")}) == (
        f"{manifest}: identity_map: identity {cut('g')} = {cut('t')}; map labels to one of woman, man, nonbinary, "
        "undisclosed"
    )


def test_a_long_trans_value_and_header(make_manifest: MakeManifest) -> None:
    manifest = make_manifest([ROWS[0], {**ROWS[1], "trans": long("y")}])
    assert refused_manifest(manifest).startswith(f"{manifest} row 3: trans {cut('y')} is not yes, no or unknown")
    columns = ["photo", "subject", "gender_identity", long("c")]
    manifest = make_manifest([dict.fromkeys(columns, "x")], name="columns.csv", images=False)
    assert refused_manifest(manifest).startswith(
        f"{manifest}: missing required column trans (found: photo, subject, gender_identity, {cut('c')}); "
    )


# -- a predictions file ------------------------------------------------------------------------------


def refused_predictions(tmp_path: Path, dataset: Dataset, *lines: object) -> str:
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(PredictionsError) as caught:
        create(f"predictions:{path}", dataset=dataset)
    return bounded(str(caught.value).replace(str(path), "<preds>").replace(str(dataset.manifest), "<manifest>"))


def test_a_long_predicted_label(tmp_path: Path, dataset: Dataset) -> None:
    lines = [{"photo": "a.png", "faces": [{"gender": long("l"), "confidence": 90}]}]
    assert refused_predictions(tmp_path, dataset, *lines) == (
        f"<preds> line 1: gender label {cut('l')} has no known meaning; say what it means in the header: "
        f'{{"analyzer": ..., "labels": {{"{cut("l")}": "nonbinary"}}}}'
    )


def test_a_long_label_outside_a_declared_vocabulary(tmp_path: Path, dataset: Dataset) -> None:
    # Header labels are capped at 200 characters (they are printed and reported); at the cap they are still cut.
    header = {"analyzer": "acme", "vocabulary": ["Male", "Female", *(c * 200 for c in "uvwxyz")]}
    labels = {c * 200: "nonbinary" for c in "uvwxyz"}
    lines = [{**header, "labels": labels}, {"photo": "a.png", "faces": [{"gender": "Woman", "confidence": 90}]}]
    at_cap = {c: "'" + c * 80 + "'... (200 characters)" for c in "uvw"}
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(PredictionsError) as caught:
        create(f"predictions:{path}", dataset=dataset)
    assert str(caught.value).replace(str(path), "<preds>") == (
        f"<preds> line 2: gender label 'Woman' is not in the header's vocabulary "
        f"['Male', 'Female', {at_cap['u']}, {at_cap['v']}, {at_cap['w']}, and 3 more]"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ({"photo": long("p"), "faces": []}, f"photo {cut('p')} is not in the manifest <manifest>; "),
        (
            {"photo": "a.png", "faces": [{"gender": "Female", "confidence": long("9")}]},
            f"confidence {cut('9')} must be a number from 0 to 100",
        ),
        (
            {"photo": "a.png", "faces": [{"gender": "Female", "box": [0.1, 0.1, 0.1, long("b")]}]},
            "box [0.1, 0.1, 0.1, '" + "b" * 37 + "..." + "b" * 38 + "'] must be [left, top, width, height]",
        ),
    ],
)
def test_a_long_value_in_a_predictions_line(tmp_path: Path, dataset: Dataset, line: object, expected: str) -> None:
    path = tmp_path / "preds.jsonl"
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    with pytest.raises(PredictionsError) as caught:
        create(f"predictions:{path}", dataset=dataset)
    message = str(caught.value).replace(str(path), "<preds>").replace(str(dataset.manifest), "<manifest>")
    assert len(message) < BOUND
    assert message.startswith(f"<preds> line 1: {expected}")


def test_a_long_error_becomes_a_reason_of_500_characters(tmp_path: Path, dataset: Dataset) -> None:
    path = tmp_path / "preds.jsonl"
    lines = [{"photo": "a.png", "error": long("e")}, {"photo": "b.png", "error": "InvalidImageFormatException"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    analyzer = create(f"predictions:{path}", dataset=dataset)
    first, second = (analyzer.analyze(dataset.photo(p)) for p in ("a.png", "b.png"))
    assert first.reason == "'" + "e" * 500 + "'... (100000 characters)"
    assert second.reason == "InvalidImageFormatException"  # a usual error, as written


# -- a policy ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'inconclusive = "{long("i")}"\n', f"inconclusive = {cut('i')}; choose one of "),
        (f'interval = ["{long("w")}"]\n', "interval = ['" + "w" * 37 + "..." + "w" * 38 + "']; choose one of "),
        (f'"{long("k")}" = 1\n', f"unknown policy key {cut('k')}; known keys: "),
        (f'[identity]\n"{long("l")}" = "{long("m")}"\n', f"identity {cut('l')} = {cut('m')}; map labels to one of "),
        (f'profile = "{long("r")}"\n', f"unknown profile {cut('r')}; profiles: "),
    ],
)
def test_a_long_policy_value(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert len(message) < BOUND
    assert message.startswith(f"{path}: {expected}")


# -- a recording and a report ------------------------------------------------------------------------


def test_a_recording_with_a_long_adapter(tmp_path: Path) -> None:
    path = tmp_path / "rekognition.jsonl"
    header = {"recording": "conformance", "format": 1, "adapter": long("a"), "note": ""}
    path.write_text(json.dumps(header) + "\n", encoding="utf-8")
    with pytest.raises(RecordingError) as caught:
        RecordingStore.open(path, adapter="rekognition")
    assert bounded(str(caught.value)) == f"{path}: recorded by adapter {cut('a')}, not 'rekognition'"


def test_a_report_with_a_long_check_id_and_verdict(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    report = {"schema": 1, "kit_version": "0.1.0", "checks": [{"id": long("c"), "verdict": long("v")}]}
    path.write_text(json.dumps(report), encoding="utf-8")
    with pytest.raises(ReportError) as caught:
        load_report(path)
    assert bounded(str(caught.value)).startswith(
        f"{path}: not a conformance report: checks[0] ({cut('c')}) has verdict {cut('v')}, not one of "
    )


def test_a_policy_integer_beyond_pythons_digit_limit_is_the_kits_error(tmp_path: Path) -> None:
    from conformance.errors import PolicyError
    from conformance.policy import load_policy

    policy = tmp_path / "policy.toml"
    policy.write_text("[tool.conformance]\nseed = " + "9" * 5000 + "\n")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(str(policy))
