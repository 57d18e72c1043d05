"""The typed report: report.json read, validated and written back exactly, by every version's reader.

The reports are made by ``conformance run`` in a subprocess, as a user makes them: the gender demo,
the face-search demo and a 1:1 comparison run of embeddings.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.assertions import headline, verdict_line
from conformance.comparison.gate import find_regressions
from conformance.comparison.reports import compare_reports
from conformance.report import (
    CHECK_VERDICTS,
    RUN_VERDICTS,
    GateOutcome,
    Report,
    ReportError,
    read_report,
    run_verdict,
)
from conformance.reporting import render_html, render_markdown, write_json
from conformance.results import CheckResult


def _run(cwd: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    path = cwd / "conformance-report" / "report.json"
    assert path.exists(), done.stdout + done.stderr
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _run(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def matching(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _run(tmp_path_factory.mktemp("matching"), "--demo-matching")


@pytest.fixture(scope="module")
def comparisons(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 1:1 comparison run (every photo against every other) through the embeddings adapter."""
    import numpy as np

    folder = tmp_path_factory.mktemp("comparisons")
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(30, 8))
    rows = ["photo,subject,skin"]
    vectors, names = [], []
    for i in range(90):
        person = i // 3
        rows.append(f"p{i:03d}.png,s{person},{'dark' if person % 2 else 'light'}")
        if i != 4:  # photo 4: no face found, not among the embeddings
            vectors.append(centres[person] + 0.7 * rng.normal(size=8))
            names.append(f"p{i:03d}.png")
    for i in range(90):
        (folder / f"p{i:03d}.png").write_bytes(_png(i))
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    np.save(folder / "emb.npy", np.asarray(vectors, dtype=np.float32))
    (folder / "emb.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    (folder / "policy.toml").write_text("target_fmr = [1e-2]\nbootstrap = 100\nmin_subjects = 5\n", encoding="utf-8")
    return _run(
        folder,
        "--dataset", str(folder / "manifest.csv"),
        "--analyzer", f"embeddings:{folder / 'emb.npy'}",
        "--group-by", "skin",
        "--reference", "light",
        "--policy", str(folder / "policy.toml"),
    )  # fmt: skip


def _png(index: int) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (index % 256, (index * 7) % 256, 200)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(params=["demo", "matching", "comparisons"])
def made(request: pytest.FixtureRequest) -> dict[str, Any]:
    report: dict[str, Any] = request.getfixturevalue(request.param)
    return report


def text(data: object) -> str:
    """The JSON text: equal texts are the same keys in the same order, with the same number types."""
    return json.dumps(data, indent=2, ensure_ascii=False)


# -- round trips ---------------------------------------------------------------------------------------


def test_read_and_written_back_is_the_same_json(made: dict[str, Any], tmp_path: Path) -> None:
    report = Report.from_json(made, source="report.json")
    assert text(report.to_json()) == text(made)
    path = write_json(report, tmp_path / "report.json")
    assert text(read_report(path).to_json()) == text(made)


def test_written_from_the_typed_values_alone_is_the_same_json(made: dict[str, Any]) -> None:
    """The typed view holds everything a report of this version holds: rebuilt from it, the JSON is unchanged."""
    typed = Report.from_json(made)
    rebuilt = dataclasses.replace(typed)  # a new Report: no memory of the JSON it was read from
    assert text(rebuilt.to_json()) == text(made)
    assert rebuilt == typed


def test_the_typed_view_of_the_demo(demo: dict[str, Any]) -> None:
    report = Report.from_json(demo)
    assert report.analyzer.simulated is True
    assert report.analyzer.emulated is True
    assert report.analyzer.adapter == "rekognition"
    assert report.dataset.content_hash is not None
    assert report.dataset.content_hash.startswith("sha256:")
    assert (report.dataset.photos, report.dataset.subjects) == (600, 150)
    assert report.seed == 20261121
    assert report.run.flags == ("--conformance-demo", "--conformance-seed=20261121")
    assert report.skipped == ()  # transformation_invariance is a result: not applicable to emulated answers
    assert report.planned == tuple(c.id for c in report.checks)
    assert len(report.photos) == 600
    assert report.outcomes == {"analysed": 600, "no_face": 0, "error": 0}
    misgender = report.checks[0]
    assert isinstance(misgender, CheckResult)
    # The data card's hand counts: 62 of 200 trans photos misgendered, 12 of 300 cis.
    assert (misgender.groups["trans"].count, misgender.groups["trans"].n) == (62, 200)
    assert (misgender.groups["cis"].count, misgender.groups["cis"].n) == (12, 300)
    # What the interval rests on is typed, not one of the group's figures; the coverage floor's share is.
    assert misgender.groups["cis"].extra == {"abstained": 0, "coverage": 1.0, "coverage_women_men": 1.0}
    cis = demo["checks"][0]["groups"]["cis"]
    assert (misgender.groups["cis"].effective_n, misgender.groups["cis"].person_rate) == (
        cis["effective_n"],
        cis["person_rate"],
    )
    assert (misgender.alpha_pass, misgender.alpha_fail, misgender.direction) == (0.025, 0.025, "pairwise")
    # The p-values read off the intervals, and the people that would decide, are typed too.
    for typed, raw in zip(misgender.comparisons, demo["checks"][0]["comparisons"], strict=True):
        needed = raw.get("subjects_needed")
        assert (typed.p_within, typed.p_equal, typed.subjects_needed) == (
            raw.get("p_within"),
            raw.get("p_equal"),
            None if needed is None else tuple(needed),
        )
    assert all(c.p_within is not None for c in misgender.comparisons)
    assert report.verdict == "fail"


def test_the_typed_view_of_a_face_matching_report(matching: dict[str, Any]) -> None:
    report = Report.from_json(matching)
    assert [(c.id, c.threshold) for c in report.checks] == [
        *(("false_match_gap", t) for t in (80.0, 90.0, 95.0, 99.0)),
        *(("false_non_match_gap", t) for t in (80.0, 90.0, 95.0, 99.0)),
    ]
    # Every search of the simulated Congress test is non-mated: false_non_match_gap has nothing to count.
    assert {str(c.verdict) for c in report.checks[4:]} == {"not applicable"}
    assert report.grouping.by == ("race_ethnicity",)
    assert report.grouping.reference == "white"
    at_80 = report.checks[0]
    # The simulated Congress test: 11 of 107 people of colour and 17 of 428 white probes falsely matched at 80.
    assert (at_80.groups["person of colour"].count, at_80.groups["person of colour"].n) == (11, 107)
    assert (at_80.groups["white"].count, at_80.groups["white"].n) == (17, 428)
    assert report.checks[-1].details["binding"] is True
    assert {p.role for p in report.photos} == {"probe", "gallery"}
    assert report.outcomes["enrolled"] == 500


def newer(made: dict[str, Any]) -> dict[str, Any]:
    """``made`` as a newer kit might write it: new keys at every level, which this version does not know."""
    data = copy.deepcopy(made)
    data["attestation"] = {"signed_by": "sha256:ab"}
    data["analyzer"]["capabilities"] = ["gender"]
    check = data["checks"][0]
    check["effect_size"] = {"h": 0.4}
    group = next(iter(check["groups"].values()))
    group["label"] = "a text field"
    group["odds"] = 1.5
    check["comparisons"][0]["test"] = "Boschloo"
    data["photos"][0]["digest"] = "sha256:cd"
    data["skipped"] = [{"id": "x", "reason": "y", "since": 2}]
    return data


def test_a_newer_reports_unknown_keys_are_kept(made: dict[str, Any]) -> None:
    if not made["checks"][0]["comparisons"]:
        pytest.skip("the first check has no comparison to add a key to")
    data = newer(made)
    report = Report.from_json(data)
    assert text(report.to_json()) == text(data)
    assert report.extra == {"attestation": {"signed_by": "sha256:ab"}}
    # What this version reads of the check is typed; a new number in a group is one of its figures.
    group = next(iter(report.checks[0].groups.values()))
    assert group.extra["odds"] == 1.5
    assert "label" not in group.extra
    # Rebuilt from the typed values, the top level keeps what it did not know.
    assert dataclasses.replace(report).to_json()["attestation"] == {"signed_by": "sha256:ab"}


def test_gate_outcome_and_new_verdicts_are_typed(demo: dict[str, Any]) -> None:
    data = copy.deepcopy(demo)
    data["regression"] = {"baseline": "old.json", "regressions": ["a worse gap"], "summary": "1 regression"}
    data["checks"][0]["verdict"] = "not applicable"
    data["checks"][1]["verdict"] = "not run"
    data["verdict"] = "incomplete"
    report = Report.from_json(data)
    assert report.regression == GateOutcome("old.json", ("a worse gap",), "1 regression")
    assert [c.verdict for c in report.checks[:2]] == ["not applicable", "not run"]
    assert report.verdict == "incomplete"
    assert text(dataclasses.replace(report).to_json()) == text(data)


# -- validation ----------------------------------------------------------------------------------------


def check_of(made: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = copy.deepcopy(made["checks"][0])
    return found


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda c: c.update(verdict="meh"), "checks[0] (misgender_gap) has verdict 'meh', not one of pass, fail, "),
        (lambda c: c.update(confidence=95), "checks[0] (misgender_gap) lacks a 'confidence' between 0 and 1"),
        (lambda c: c.update(groups=[]), "should have 'groups' as an object and 'comparisons' as an array"),
        (lambda c: c["groups"]["cis"].update(count=-1), "group 'cis' lacks a whole, non-negative 'count'"),
        (lambda c: c["groups"]["cis"].update(rate="0.04"), "group 'cis' 'rate' should be a number or null, found a"),
        (lambda c: c["groups"]["cis"].update(ci=[0.1]), "group 'cis' 'ci' should be a [lower, upper] pair or null"),
        (lambda c: c["comparisons"][0].pop("tolerance"), "comparisons[0] 'tolerance' should be a number, found null"),
        (lambda c: c["comparisons"][0].update(verdict="not run"), "comparisons[0] has verdict 'not run'"),
        (lambda c: c["comparisons"][0].update(group=3), "comparisons[0] lacks 'group' and 'reference' names"),
        (lambda c: c.update(measure=5), "checks[0] (misgender_gap) 'measure' should be a string, found a number"),
        (lambda c: c.update(notes="one"), "checks[0] (misgender_gap) 'notes' should be an array of strings"),
        (lambda c: c.update(alpha_fail="2.5%"), "checks[0] (misgender_gap) 'alpha_fail' should be a number or null"),
        (lambda c: c["groups"]["cis"].update(effective_n=[1]), "group 'cis' 'effective_n' should be a number or null"),
        (lambda c: c["comparisons"][0].update(p_within="x"), "comparisons[0] 'p_within' should be a number or null"),
        (
            lambda c: c["comparisons"][0].update(subjects_needed=[10]),
            "comparisons[0] 'subjects_needed' should be a pair of whole numbers of people or null",
        ),
        (
            lambda c: c["comparisons"][0].update(subjects_floor=0),
            "comparisons[0] 'subjects_floor' should be a whole number of people (at least 1) or null",
        ),
    ],
)
def test_a_malformed_check_is_refused_naming_the_field(demo: dict[str, Any], change: Any, complaint: str) -> None:
    data = copy.deepcopy(demo)
    check = check_of(demo)
    change(check)
    data["checks"][0] = check
    with pytest.raises(ReportError) as caught:
        Report.from_json(data, source="old/report.json")
    message = str(caught.value)
    assert message.startswith("old/report.json: not a conformance report: ")
    assert complaint in message
    assert message.endswith("Pass the report.json that `conformance run` writes (in conformance-report/ by default).")


def test_a_repeated_check_is_refused(matching: dict[str, Any]) -> None:
    data = copy.deepcopy(matching)
    data["checks"][1] = data["checks"][0]
    with pytest.raises(ReportError, match=r"checks\[1\] repeats false_match_gap at 80"):
        Report.from_json(data)


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ([], "the top level is an array, not an object"),
        ({"schema": 1, "checks": []}, "no 'kit_version' at the top level"),
        ({"schema": True, "kit_version": "1", "checks": []}, "'schema' should be a whole number, found True"),
        ({"schema": 1, "kit_version": 1, "checks": []}, "'kit_version' should be a string, found a number"),
        ({"schema": 1, "kit_version": "1", "checks": [3]}, "checks[0] is not a check with an 'id'"),
    ],
)
def test_what_is_not_a_report_is_named(data: object, complaint: str) -> None:
    with pytest.raises(ReportError) as caught:
        Report.from_json(data, source="r.json")
    assert f"r.json: not a conformance report: {complaint}" in str(caught.value)


def test_provenance_of_the_wrong_shape_is_left_as_it_is() -> None:
    """As compare always read them: an analyzer that is not an object, skipped that is not a list."""
    data = {"schema": 1, "kit_version": "0", "checks": [], "analyzer": "x", "skipped": 1, "seed": "s"}
    report = Report.from_json(data)
    assert (report.analyzer.name, report.skipped, report.seed) == (None, (), None)
    assert report.to_json() == data


# -- run verdicts and how they are shown ------------------------------------------------------------------


def test_verdict_vocabularies() -> None:
    assert CHECK_VERDICTS == ("pass", "fail", "inconclusive", "not applicable", "not run")
    assert RUN_VERDICTS == ("pass", "fail", "inconclusive", "not applicable", "not run", "incomplete")


@pytest.mark.parametrize(
    ("verdicts", "run"),
    [
        ([], "inconclusive"),
        (["pass", "pass"], "pass"),
        (["pass", "inconclusive"], "inconclusive"),
        (["inconclusive", "fail", "pass"], "fail"),
        (["pass", "not applicable"], "pass"),
        (["not applicable"], "not applicable"),
        # fail > incomplete > inconclusive > pass: a failed check fails the run whatever else is missing.
        (["fail", "not run"], "fail"),
        (["pass", "not run"], "incomplete"),
        (["inconclusive", "not run", "not applicable"], "incomplete"),
        (["not run"], "incomplete"),
    ],
)
def test_the_run_verdict(verdicts: list[str], run: str) -> None:
    assert run_verdict(verdicts) == run


def test_new_verdicts_are_shown_in_every_writer(demo: dict[str, Any]) -> None:
    data = copy.deepcopy(demo)
    data["checks"][2]["verdict"] = "not applicable"
    data["checks"][4]["verdict"] = "not run"  # [3] is transformation_invariance, not applicable in the demo
    data["verdict"] = "incomplete"
    report = Report.from_json(data)
    markdown = render_markdown(report)
    assert (
        "**Verdict: ⛔ incomplete**: 2 failed, 1 inconclusive, 0 passed, 2 not applicable, 1 not run, of 6 checks "
        "planned." in markdown
    )
    assert "## `same_person_consistency`: ➖ not applicable" in markdown
    assert "## `confidence_calibration`: ⏭️ not run" in markdown
    page = render_html(report)
    assert '<span class="verdict v-fail big">incomplete</span>' in page
    assert '<span class="verdict v-skip">not applicable</span>' in page
    assert '<span class="verdict v-skip">not run</span>' in page
    # One wording in both (issue 14's red team: the page said "of 6 checks run" beside "1 not run").
    assert "2 failed, 1 inconclusive, 0 passed, 2 not applicable, 1 not run, of 6 checks planned" in page
    assert "checks run" not in page
    assert verdict_line(report.checks[2]).startswith("NOT APPLICABLE same_person_consistency")
    assert headline(report.checks[4]).startswith("confidence_calibration NOT RUN: ")
    assert compare_reports([report, report]).check("same_person_consistency").verdicts == (
        "not applicable",
        "not applicable",
    )


def test_compare_and_the_gate_read_typed_reports_only(demo: dict[str, Any]) -> None:
    typed = Report.from_json(demo)
    assert find_regressions(typed, Report.from_json(demo)) == []
    assert compare_reports([typed, Report.from_json(demo)]).differences == ()
    # A dict would be parsed again by every comparison (red team 18 F4): it is refused, saying how to read it.
    with pytest.raises(TypeError, match=r"baseline report: comparing reads a conformance.report.Report, not a dict"):
        find_regressions(typed, demo)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"report 2: .*Report.from_json"):
        compare_reports([typed, demo])  # type: ignore[list-item]


def test_the_typed_view_of_a_one_to_one_report(comparisons: dict[str, Any]) -> None:
    report = Report.from_json(comparisons)
    ids = {c.id for c in report.checks}
    assert ids == {"false_match_differential", "false_non_match_differential", "failure_to_acquire_gap", "equitability"}
    fta = next(c for c in report.checks if c.id == "failure_to_acquire_gap")
    # Photo 4 is person 1's (odd: dark), the one photo without a template; 45 photos per group.
    assert (fta.groups["dark"].count, fta.groups["dark"].n) == (1, 45)
    assert (fta.groups["light"].count, fta.groups["light"].n) == (0, 45)
    assert report.outcomes["no_face"] == 1


def test_report_md_shows_the_companion_measure_with_the_hand_counts(demo: dict[str, Any]) -> None:
    """misgender_gap's "not correctly gendered" measure decides too: report.md shows its groups and
    comparisons (the demo has no abstentions: 12 of 300 cis, 62 of 200 trans, 100 of 100 nonbinary)."""
    markdown = render_markdown(Report.from_json(demo))
    section = markdown[markdown.index("## `misgender_gap`") : markdown.index("## `nonbinary_representability`")]
    assert "Companion measure, every comparison must also satisfy it: photos not correctly gendered" in section
    assert "| cis | 300 | 75 | 12 | 300 | 0.040 | [0.016, 0.098] |" in section
    assert "| trans | 200 | 50 | 62 | 200 | 0.310 | [0.221, 0.433] |" in section
    assert "| trans vs cis | 0.270 | [0.172, 0.389] | 0.05 |" in section
