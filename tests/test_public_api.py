"""The public API is coherent: every check id runs from Python, with ``run_check`` and an assert helper
named after it; ``ConformanceFailure.result`` is typed; docs/reference/python-api.md shows the real signatures.

Gender checks read observations (``analyze``), matching checks read searches or 1:1 comparisons
(``match``). Figures asserted here are counted independently: the published face-search test (28 of
535 members of Congress falsely matched at 80, 11 of 107 people of colour, 17 of 428 white) and the
number of impostor pairs of a 1:1 run (every ordered pair of photos of two different people).
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from builders import observe, people
from PIL import Image

import conformance
from conformance import (
    CHECK_IDS,
    CheckResult,
    ConformanceFailure,
    group_labels,
    load_dataset,
    load_policy,
    match,
    run_check,
)
from conformance.checks import run_matching_check
from conformance.demo import MATCHING_MANIFEST, MATCHING_PREDICTIONS
from conformance.matching import ComparisonRun, SearchRun

REPO = Path(__file__).resolve().parent.parent
SEED = 20261121

# The helper of each check id: named after the check, read as what passing means.
HELPERS = {
    "misgender_gap": "assert_no_misgender_gap",
    "nonbinary_representability": "assert_nonbinary_representable",
    "same_person_consistency": "assert_consistent_across_photos",
    "transformation_invariance": "assert_transformation_invariant",
    "confidence_calibration": "assert_calibrated",
    "detection_failure_gap": "assert_no_detection_failure_gap",
    "false_match_gap": "assert_no_false_match_gap",
    "false_non_match_gap": "assert_no_false_non_match_gap",
    "false_match_differential": "assert_no_false_match_differential",
    "false_non_match_differential": "assert_no_false_non_match_differential",
    "failure_to_acquire_gap": "assert_no_failure_to_acquire_gap",
    "equitability": "assert_equitable",
}


@pytest.fixture(scope="module")
def observations(tmp_path_factory: pytest.TempPathFactory) -> Any:
    shots = [
        *people("c", 30, trans="no", misgendered=2, photos=2),
        *people("t", 30, trans="yes", misgendered=12, no_face=2, photos=2),
    ]
    return observe(tmp_path_factory.mktemp("gender"), shots)


@pytest.fixture(scope="module")
def searches() -> SearchRun:
    run = match(f"predictions:{MATCHING_PREDICTIONS}", load_dataset(MATCHING_MANIFEST))
    assert isinstance(run, SearchRun)
    return run


PEOPLE, PHOTOS_EACH = 30, 3


@pytest.fixture(scope="module")
def comparisons(tmp_path_factory: pytest.TempPathFactory) -> ComparisonRun:
    """90 photos of 30 people in two skin-type groups, with 8-d embeddings (seeded)."""
    folder = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(PEOPLE, 8))
    rows, vectors = ["photo,subject,skin"], []
    for i in range(PEOPLE * PHOTOS_EACH):
        person = i // PHOTOS_EACH
        rows.append(f"p{i:03d}.png,s{person},{'dark' if person % 2 else 'light'}")
        Image.new("RGB", (8, 8), (i % 256, 20, 200)).save(folder / f"p{i:03d}.png")
        vectors.append(centres[person] + 0.7 * rng.normal(size=8))
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    np.save(folder / "emb.npy", np.asarray(vectors, dtype=np.float32))
    (folder / "emb.txt").write_text("\n".join(r.split(",")[0] for r in rows[1:]) + "\n", encoding="utf-8")
    dataset = load_dataset(folder / "manifest.csv", comparisons=True)
    # A stated cosine threshold: 30 people are too few to support a target FMR (3/FMR distinct people-pairs).
    run = match(
        f"embeddings:{folder / 'emb.npy'}",
        dataset,
        group_by=["skin"],
        reference="light",
        policy=_policy(),
        thresholds=(0.5,),
    )
    assert isinstance(run, ComparisonRun)
    return run


def _policy() -> conformance.Policy:
    return load_policy()


def _data(check_id: str, request: pytest.FixtureRequest) -> tuple[Any, dict[str, Any]]:
    """What ``check_id`` reads, and the keywords of ``run_check`` / ``assert_check`` for it."""
    if check_id in ("false_match_gap", "false_non_match_gap"):
        searches = request.getfixturevalue("searches")
        return searches, {"groups": group_labels(searches.dataset, ["race_ethnicity"]), "reference": "white"}
    if check_id in (
        "false_match_differential",
        "false_non_match_differential",
        "failure_to_acquire_gap",
        "equitability",
    ):
        run = request.getfixturevalue("comparisons")
        return run, {"groups": group_labels(run.dataset, ["skin"]), "reference": "light"}
    observations = request.getfixturevalue("observations")
    return observations, {"groups": group_labels(observations.dataset), "reference": "cis"}


def test_every_check_id_has_an_assert_helper_named_after_it() -> None:
    assert set(HELPERS) == set(CHECK_IDS)
    public_helpers = {n for n in conformance.__all__ if n.startswith("assert_")} - {"assert_check", "assert_result"}
    assert public_helpers == set(HELPERS.values())
    for check_id, name in HELPERS.items():
        helper = getattr(conformance, name)
        assert f"``{check_id}``" in (helper.__doc__ or ""), name  # its docstring names the check it asserts


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_run_check_accepts_every_check_id(check_id: str, request: pytest.FixtureRequest) -> None:
    data, keywords = _data(check_id, request)
    result = run_check(check_id, data, policy=_policy(), seed=SEED, **keywords)
    assert isinstance(result, CheckResult)
    assert result.id == check_id
    if result.threshold is not None or check_id in ("false_match_differential", "false_non_match_differential"):
        assert result.details.get("binding") is True  # the deciding result of a matching check: the binding one


def _outcome(helper: Any, data: Any, **keywords: Any) -> tuple[str, Any]:
    """What a helper did: ("passed", result), ("failed", the failure) or ("skipped", the skip's message)."""
    try:
        return "passed", helper(data, **keywords)
    except ConformanceFailure as failure:
        return "failed", failure
    except pytest.skip.Exception as skipped:  # not applicable: the helper skips the test, naming the check
        return "skipped", str(skipped.msg)


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_each_helper_asserts_its_own_check(check_id: str, request: pytest.FixtureRequest) -> None:
    data, keywords = _data(check_id, request)
    outcome, what = _outcome(getattr(conformance, HELPERS[check_id]), data, seed=SEED, **keywords)
    if outcome == "skipped":
        assert what.startswith(f"{check_id} NOT APPLICABLE")
        return
    result = what.result if outcome == "failed" else what
    assert isinstance(result, CheckResult)
    assert result.id == check_id
    if outcome == "failed":
        assert str(what).startswith(check_id)  # the table's headline names the check


def test_face_search_checks_from_python_count_as_the_published_test(searches: SearchRun) -> None:
    groups = group_labels(searches.dataset, ["race_ethnicity"])
    policy = _policy()
    common: dict[str, Any] = {"groups": groups, "reference": "white", "policy": policy, "seed": SEED}
    at80, _at99 = run_matching_check("false_match_gap", searches, thresholds=[80.0, 99.0], **common)
    result = at80
    assert (result.groups["person of colour"].count, result.groups["person of colour"].n) == (11, 107)
    assert (result.groups["white"].count, result.groups["white"].n) == (17, 428)
    # run_check evaluates the binding threshold too, and returns that result: the one the suite asserts.
    deciding = run_check("false_match_gap", searches, thresholds=[80.0], **common)
    assert deciding.threshold == policy.binding_threshold


def test_1to1_checks_from_python_count_every_impostor_pair(comparisons: ComparisonRun) -> None:
    result = run_check(
        "false_match_differential",
        comparisons,
        groups=group_labels(comparisons.dataset, ["skin"]),
        reference="light",
        policy=_policy(),
        seed=SEED,
    )
    photos = PEOPLE * PHOTOS_EACH
    # Ordered pairs of photos of two different people: all ordered pairs minus each person's own.
    assert result.details["impostor_comparisons"] == photos * (photos - 1) - PEOPLE * PHOTOS_EACH * (PHOTOS_EACH - 1)


def test_run_check_says_what_a_check_reads(observations: Any, searches: SearchRun) -> None:
    common: dict[str, Any] = {"groups": group_labels(observations.dataset), "reference": "cis"}
    with pytest.raises(
        TypeError, match=r"false_match_gap reads face searches or 1:1 comparisons \(conformance.match\)"
    ):
        run_check("false_match_gap", observations, policy=_policy(), seed=SEED, **common)
    with pytest.raises(TypeError, match=r"misgender_gap reads observations \(conformance.analyze\), not SearchRun"):
        run_check("misgender_gap", searches, policy=_policy(), seed=SEED, **common)
    with pytest.raises(KeyError, match="unknown check 'misgender_gapp'; checks: misgender_gap"):
        run_check("misgender_gapp", observations, policy=_policy(), seed=SEED, **common)


def test_match_refuses_a_dataset_without_roles() -> None:
    from conformance.demo import MANIFEST, PREDICTIONS

    with pytest.raises(conformance.ManifestError, match=r"manifest\.csv has no role column .* use analyze"):
        match(f"predictions:{PREDICTIONS}", load_dataset(MANIFEST))


def test_conformance_failure_result_is_typed() -> None:
    assert ConformanceFailure.__annotations__["result"] == "CheckResult | InvarianceResult"
    assert "result: 'CheckResult | InvarianceResult'" in str(inspect.signature(ConformanceFailure))


# -- docs/reference/python-api.md against the code ----------------------------------------------------

PAGE = REPO / "docs" / "reference" / "python-api.md"


def _block_after(text: str, marker: str) -> str:
    """The fenced block that follows ``marker`` in the page."""
    start = text.index(marker)
    match_ = re.compile(r"```[a-z]*\n(.*?)```", re.S).search(text, start)
    assert match_ is not None, marker
    return match_.group(1)


def test_python_api_page_shows_the_real_signatures() -> None:
    """The page's signatures.py, run now, prints exactly the signature block the page shows."""
    page = PAGE.read_text(encoding="utf-8")
    script = _block_after(page, "Printed by this `signatures.py`")
    console = re.search(r"\$ python signatures\.py\n(.*?)```", page, re.S)
    assert console is not None
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.splitlines() == console.group(1).splitlines()


def test_python_api_page_lists_the_public_names() -> None:
    page = PAGE.read_text(encoding="utf-8")
    listed = re.search(r"\$ python -c 'import conformance; print\(conformance.__all__\)'\n(.*?)\n", page)
    assert listed is not None
    assert listed.group(1) == str(conformance.__all__)
    for name in HELPERS.values():
        assert f"`{name}(" in page, f"{name} has no row in the page's table"


def _as_written(function: Any) -> str:
    """``function``'s parameters as the page's table writes them: ``a, *, b=None, c="x", **kwargs``."""
    out: list[str] = []
    star = False
    for p in inspect.signature(function).parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            star = True
            out.append(f"*{p.name}")
            continue
        if p.kind is p.VAR_KEYWORD:
            out.append(f"**{p.name}")
            continue
        if p.kind is p.KEYWORD_ONLY and not star:
            star = True
            out.append("*")
        if p.default is p.empty:
            out.append(p.name)
        else:
            shown = f'"{p.default}"' if isinstance(p.default, str) else repr(p.default)
            out.append(f"{p.name}={shown}")
    return ", ".join(out)


def test_python_api_table_rows_match_the_signatures() -> None:
    """Each row of the page's tables that writes a public function's call writes its real parameters and defaults
    (a row said reference="cis" where the signature has reference=None: red team 18 F15)."""
    page = PAGE.read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)\((.*?)\)` \|", page, re.M)
    checked = [(name, written) for name, written in rows if name in conformance.__all__]
    assert len(checked) >= 15  # the table is still read: every helper and the API's functions
    wrong = [
        f"{name}({written}) != {name}({_as_written(getattr(conformance, name))})"
        for name, written in checked
        if callable(getattr(conformance, name)) and written != _as_written(getattr(conformance, name))
    ]
    assert wrong == []


# Where the page lists each public dataclass's fields: its own table row (`| `Name` | frozen dataclass...: ... |`),
# or a parenthesis after its name (`Observation` (`photo`, ...)). Policy's fields are the policy keys, which
# docs/reference/policy.md lists; Observations' are the paragraph below the table.
_DATACLASS_TEXT = {
    "Observation": r"`Observation` \(([^)]*)\)",
    "Face": r"`Face` that counts \(([^)]*)\)",
    "Observations": r"^`Observations` \(the return type of `analyze`\) holds (.*?)\n\n",
}


def _documented_fields(page: str, name: str) -> tuple[set[str], set[str]]:
    """The names the page lists as ``name``'s fields, and every backticked name of its text (for the non-fields)."""
    pattern = _DATACLASS_TEXT.get(name, rf"^\| `{name}` \| frozen dataclass[^:|]*: (.*?) \|$")
    found = re.search(pattern, page, re.M | re.S)
    assert found is not None, f"python-api.md documents no fields of {name}"
    text = found.group(1)
    listed = set(re.findall(r"`(\w+)`", text.split("; ")[0]))
    return listed, set(re.findall(r"`\.?(\w+)`", text))


def test_python_api_dataclass_rows_list_every_field() -> None:
    """Each public dataclass's row lists exactly its fields (red team 18b F9: rows left out `role`, `name`,
    `effective_n`, `alpha_pass`, ...); what else a row names in backticks is a field, a member or a value."""
    import dataclasses

    page = PAGE.read_text(encoding="utf-8")
    classes = [
        name
        for name in conformance.__all__
        if dataclasses.is_dataclass(getattr(conformance, name))
        and name not in ("Policy", "AdapterSettings", "Vocabulary")
    ]
    assert {"CheckResult", "GroupRate", "Comparison", "Dataset", "Photo", "Observation", "Observations", "Face"} <= set(
        classes
    )
    missing = {}
    for name in classes:
        cls = getattr(conformance, name)
        fields = {f.name for f in dataclasses.fields(cls)}
        listed, _ = _documented_fields(page, name)
        if fields - listed:
            missing[name] = sorted(fields - listed)
    assert missing == {}


def test_policy_fields_are_the_keys_the_policies_page_lists() -> None:
    """The Policy row defers to how-to/policies.md: every field is a key (or table) of that page."""
    import dataclasses

    page = (REPO / "docs" / "how-to" / "policies.md").read_text(encoding="utf-8")
    keys = set(re.findall(r"^\| `\[?(?:tool\.conformance\.)?(\w+)\]?` \|", page, re.M))
    fields = {f.name for f in dataclasses.fields(conformance.Policy)} - {"source"}
    assert sorted(fields - keys) == []


def test_python_api_checkresult_row_says_what_threshold_holds() -> None:
    """`threshold` is set by the matching checks (one result per threshold): the row said None for every check."""
    page = PAGE.read_text(encoding="utf-8")
    row = re.search(r"^\| `CheckResult` \|.*$", page, re.M)
    assert row is not None
    assert "`None` for every check" not in row.group(0)
    assert "`.binding`" in row.group(0)


def test_python_api_adapter_example_keeps_the_vocabulary_out_of_describe() -> None:
    page = PAGE.read_text(encoding="utf-8")
    example = _block_after(page, "<!-- regen session=own file=abstain-adapter/abstain_adapter/__init__.py -->")
    describe = example[example.index("def describe") : example.index("def analyze")]
    returned = describe[describe.index("return") :]
    assert "vocabulary" not in returned
    assert "The checks read the vocabulary from here" not in describe
