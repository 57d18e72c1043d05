"""The typed readers of a check's details (conformance.details): one reader per family, the only way in.

Every expected value below is worked out by hand from the documented shapes (docs/reference/checks.md,
docs/reference/biometric-report.md): a value of the wrong type, a NaN, a missing key or garbage nested
anywhere reads as missing (None, "", empty), never as an exception, because a report may come from
someone else. The scan at the end pins that no module outside conformance.details (and the checks that
write details) reads the raw mapping.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.details import (
    Bootstrap,
    CheckDetails,
    DetPoint,
    Elsewhere,
    ErrorRate,
    MeasuredComparison,
    MeasuredGroup,
    NotRun,
    RatioRow,
    SampleSize,
    Static,
    SweepPoint,
)
from conformance.report import Report
from conformance.reporting import render_html, render_markdown
from conformance.results import CheckResult

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "conformance"
NAN, INF = float("nan"), float("inf")


# -- every check ----------------------------------------------------------------------------------------


def test_nothing_reads_as_nothing() -> None:
    empty = CheckDetails({})
    assert not empty.binding
    assert empty.not_run is None
    assert empty.shown() == ()
    assert (empty.static, empty.companion, empty.nonbinary_label_elsewhere) == (None, None, None)
    assert empty.sweep == ()
    assert empty.ratios == ()
    assert empty.unsupported == ()
    assert not empty.decides_on_ratios
    assert empty.ratio_for("a") is None
    assert empty.rule is None
    assert (empty.metric, empty.impostors, empty.design) == (None, None, None)
    assert (empty.impostor_comparisons, empty.genuine_comparisons, empty.ratio_tolerance) == (None, None, None)
    assert empty.inequity.measures == ()
    assert empty.bootstrap is None
    assert empty.matrix is None
    assert not empty.has_det
    assert empty.det == {}
    assert empty.distributions is None
    assert empty.disclosure is None


@pytest.mark.parametrize(("value", "binding"), [(True, True), (1, True), ("yes", True), (False, False), (0, False)])
def test_binding_is_the_entry_read_as_a_truth_value(value: object, binding: bool) -> None:
    assert CheckDetails({"binding": value}).binding is binding
    check = CheckResult("x", "pass", {}, (), "", "", "", 0.95, details={"binding": value})
    assert check.binding is binding
    assert check.typed_details == CheckDetails({"binding": value})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("raised", None),  # not an object
        ([{"cause": "raised"}], None),
        ({"cause": "raised", "reason": "boom"}, NotRun("raised", "boom")),
        ({"cause": 3, "reason": None}, NotRun("", "")),
        ({}, NotRun("", "")),
    ],
)
def test_not_run(raw: object, expected: NotRun | None) -> None:
    assert CheckDetails({"not_run": raw}).not_run == expected


def test_entries_without_a_place_of_their_own_are_shown_as_written_in_order() -> None:
    raw = {
        "binding": True,
        "static": {"verdict": "pass"},
        "sweep": [],
        "flips": [{"photo": "a.png"}, {"photo": "b.png"}],
        "empty": "",
        "companion": {"measure": "m", "groups": {}},
        "variants": 12,
        "mixed": [{"photo": "a.png"}, 2],
        "none": [],
    }
    shown = CheckDetails(raw).shown()
    assert [s.key for s in shown] == ["flips", "companion", "variants", "mixed", "none"]
    assert shown[0].rows == ({"photo": "a.png"}, {"photo": "b.png"})
    assert shown[1].measure is not None
    assert shown[1].measure.measure == "m"
    assert shown[1].measure.groups == ()
    assert [s.value for s in shown[2:]] == [12, [{"photo": "a.png"}, 2], []]


# -- the gender checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, [], {}, "static", 0])
def test_a_static_half_that_is_not_an_object_is_none(raw: object) -> None:
    assert CheckDetails({"static": raw}).static is None


def test_the_static_half_keeps_only_the_documented_types() -> None:
    raw = {"verdict": 1, "reason": None, "labels": ["Male"], "can_express_nonbinary": "no", "can_abstain": False}
    assert CheckDetails({"static": raw}).static == Static(None, "", None, (), None, False)
    labels = {"verdict": "fail", "reason": "binary", "source": "botocore", "labels": {"Male": "man", 3: None}}
    assert CheckDetails({"static": labels}).static == Static(
        "fail", "binary", "botocore", (("Male", "man"), ("3", "None")), None, None
    )


def test_a_companion_measure_with_garbage_inside() -> None:
    raw = {
        "measure": 7,
        "groups": {"a": {"photos": 10, "n": 9.5, "rate": NAN, "ci": [0.1]}, "b": "junk"},
        "comparisons": [{"group": "a", "tolerance": 0, "ci": [0.1, "x"], "p_adjusted": INF}, "junk", None],
    }
    measured = CheckDetails({"companion": raw}).companion
    assert measured is not None
    assert measured.measure == ""
    assert measured.groups == (
        MeasuredGroup("a", 10, None, None, None, None, None),
        MeasuredGroup("b", None, None, None, None, None, None),
    )
    # The tolerance stays as written (0, not 0.0): report.md shows it as the policy wrote it.
    assert measured.comparisons == (MeasuredComparison("a", None, None, (0.1, None), None, 0, None),)
    assert isinstance(measured.comparisons[0].tolerance, int)
    assert CheckDetails({"companion": {"groups": []}}).companion is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"photos": 120, "of": 120}, Elsewhere(120, 120)),
        ({"photos": "120", "of": True}, Elsewhere(None, None)),
        ([120, 120], None),
    ],
)
def test_the_nonbinary_label_on_women_and_men(raw: object, expected: Elsewhere | None) -> None:
    assert CheckDetails({"nonbinary_label_on_women_and_men": raw}).nonbinary_label_elsewhere == expected


# -- the matching checks --------------------------------------------------------------------------------


def test_a_sweep_keeps_the_points_with_a_finite_threshold() -> None:
    raw = [
        {"threshold": 80, "groups": {"a": 0.1, "b": "x", "c": NAN}},
        {"threshold": "90", "groups": {"a": 0.2}},
        "junk",
        {"threshold": NAN},
        {"threshold": 99.5, "groups": ["a"]},
    ]
    assert CheckDetails({"sweep": raw}).sweep == (
        SweepPoint(80.0, {"a": 0.1, "b": None, "c": None}),
        SweepPoint(99.5, {}),
    )
    assert CheckDetails({"sweep": {"threshold": 80}}).sweep == ()


# -- the 1:1 comparison checks --------------------------------------------------------------------------


def test_ratios_are_read_only_for_a_check_that_decides_on_them() -> None:
    ratios = [{"group": "a", "ratio": True, "ci": [1, INF], "level": "0.95"}, {"ratio": 2.0}, "junk"]
    row = RatioRow("a", "", None, (1.0, None), None, None, "", "unknown", "")
    gaps = CheckDetails({"ratios": ratios})
    assert gaps.ratios == (row,)
    assert not gaps.decides_on_ratios
    assert gaps.ratio_for("a") is None
    # A ratio_tolerance of the wrong type still says the check decides on ratios; its value reads as missing.
    decided = CheckDetails({"ratios": ratios, "ratio_tolerance": "x"})
    assert decided.decides_on_ratios
    assert decided.ratio_tolerance is None
    assert decided.ratio_for("a") == row
    assert decided.ratio_for("b") is None


def test_a_rule_with_wrong_types_and_impostors_from_an_older_report() -> None:
    raw = {
        "threshold_rule": {"rule": "fixed FMR", "target_fmr": "0.001", "threshold": 0.41, "impostor_comparisons": 3.0},
        "impostors": "same-group pairs only",
    }
    rule = CheckDetails(raw).rule
    assert rule is not None
    assert (rule.kind, rule.target_fmr, rule.threshold, rule.impostor_comparisons) == ("target", None, 0.41, None)
    assert rule.impostors == "same_group"  # the rule does not name its impostors: the check's entry does
    # A target rule without a usable target FMR is labelled by its threshold.
    assert rule.label == "threshold 0.41 (stated, same-group impostors)"
    assert CheckDetails({"threshold_rule": "fixed FMR"}).rule is None
    unsupported = CheckDetails({"unsupported_targets": [{"target_fmr": 1e-4, "reason": "too few"}, "junk", {}]})
    assert [(u.target_fmr, u.reason) for u in unsupported.unsupported] == [(1e-4, "too few")]


def test_scalars_of_a_ratio_check() -> None:
    raw = {"metric": 3, "impostors": "same-group", "impostor_comparisons": 1.5e3, "genuine_comparisons": 40}
    details = CheckDetails({**raw, "design": ["two-way"]})
    assert (details.metric, details.impostors, details.design) == (None, "same-group", None)
    assert (details.impostor_comparisons, details.genuine_comparisons) == (None, 40)


def test_inequity_keeps_its_measures_in_a_fixed_order() -> None:
    raw = {
        "gini": {"value": 0.2, "ci": [0.1, 0.3]},
        "max_min_ratio": {"value": NAN, "ci": "x"},
        "garbe": "junk",
        "caveats": ["few errors", 4, None],
        "alpha": True,
        "confidence": 0.95,
    }
    inequity = CheckDetails({"inequity": raw}).inequity
    assert [(m.key, m.value, m.ci) for m in inequity.measures] == [
        ("max_min_ratio", None, None),
        ("gini", 0.2, (0.1, 0.3)),
        ("garbe", None, None),
    ]
    assert (inequity.caveats, inequity.alpha, inequity.confidence) == (("few errors",), None, 0.95)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({}, None),
        ([1], None),
        ({"seed": "7"}, Bootstrap(None, None, None)),
        ({"method": "two-way", "resamples": 2000, "seed": 20261121}, Bootstrap("two-way", 2000, 20261121)),
    ],
)
def test_bootstrap(raw: object, expected: Bootstrap | None) -> None:
    assert CheckDetails({"bootstrap": raw}).bootstrap == expected


def test_an_impostor_matrix_must_be_whole() -> None:
    matrix = {
        "probe_groups": ["a", "b"],
        "reference_groups": ["a", "b"],
        "false_matches": [[1, 0], [2, "x"]],
        "impostor_comparisons": [[100, 200], [200, 100]],
        "fmr": [[0.01, 0.0], [0.01, NAN]],
    }
    read = CheckDetails({"impostor_matrix": matrix}).matrix
    assert read is not None
    assert read.false_matches == ((1, 0), (2, None))
    assert read.fmr == ((0.01, 0.0), (0.01, None))
    assert read.counted == ((True, True), (True, True))  # no "counted" grid: every cell counts
    ragged = {**matrix, "fmr": [[0.01], [0.01, 0.0]]}
    assert CheckDetails({"impostor_matrix": ragged}).matrix is None
    assert CheckDetails({"impostor_matrix": {**matrix, "probe_groups": []}}).matrix is None


def test_det_points_without_both_rates_are_left_out_and_the_rest_sorted() -> None:
    det = {
        "a": [{"fmr": 0.1, "fnmr": 0.2}, {"fmr": None, "fnmr": 0.3}, {"fmr": 0.01, "fnmr": 0.5, "false_matches": 2}],
        "b": "junk",
    }
    details = CheckDetails({"det": det})
    assert details.has_det
    assert details.det == {"a": [DetPoint(0.01, 0.5, None, 2), DetPoint(0.1, 0.2, None, None)], "b": []}
    assert CheckDetails({"det": None}).has_det
    assert CheckDetails({"det": None}).det == {}


def test_distributions_keep_the_groups_with_every_bin() -> None:
    raw = {
        "edges": [0, 0.5, 1],
        "groups": {
            "a": {"impostor": [3, 1], "genuine": [0, 4], "impostor_failed": 2},
            "b": {"impostor": [3], "genuine": [0, 4]},
            "c": {"impostor": [3, 1.0], "genuine": [0, 4]},
        },
    }
    dist = CheckDetails({"distributions": raw}).distributions
    assert dist is not None
    assert dist.edges == (0.0, 0.5, 1.0)
    assert dict(dist.impostor) == {"a": (3, 1)}
    assert dict(dist.genuine) == {"a": (0, 4)}
    assert (dict(dist.impostor_failed), dict(dist.genuine_failed)) == ({"a": 2}, {"a": 0})
    assert CheckDetails({"distributions": {**raw, "edges": [0, NAN, 1]}}).distributions is None


def test_a_disclosure_with_garbage_in_every_part() -> None:
    raw = {
        "scope": 5,
        "standard": "ISO/IEC 19795-10:2024",
        "certified": "true",
        "groups": {"sample_sizes": {"a": {"photos": 10, "subjects": "4"}, "b": 7}, "definition": ["skin", 3]},
        "failure_to_acquire": {"a": {"count": 2, "photos": 10, "rate": 0.2, "ci": [0.05, None]}},
        "false_match_rate": [
            {"threshold": 0.4, "verdict": "pass", "groups": {"a": {"errors": 1, "comparisons": 100, "rate": 0.01}}},
            "junk",
        ],
        "false_non_match_rate": [{"verdict": 3, "groups": {"b": {"errors": 2}}}],
        "threshold_rule": {
            "target_fmr": [0.001, "x", 0.01],
            "binding_threshold": "0.4",
            "unsupported": [{"target_fmr": 1e-4, "reason": "too few"}, "junk"],
        },
        "equitability": {
            "statement": 3,
            "ratio_tolerance": 2,
            "inequity_at_binding": {"fmr": {"gini": {"value": 0.2}}},
        },
        "comparisons": {"total": 4005, "metric": None},
    }
    d = CheckDetails({"disclosure": raw}).disclosure
    assert d is not None
    assert (d.scope, d.standard, d.certified, d.uncertainty, d.statement) == (
        "",
        "ISO/IEC 19795-10:2024",
        False,
        None,
        None,
    )
    assert (d.ratio_tolerance, d.fta_tolerance, d.total_comparisons, d.metric) == (2.0, None, 4005, None)
    assert d.definition == ("skin", "3")
    assert d.sample_sizes == (SampleSize("a", 10, None, None, None), SampleSize("b", None, None, None, None))
    assert [(f.group, f.count, f.photos, f.rate, f.ci) for f in d.failure_to_acquire] == [
        ("a", 2, 10, 0.2, (0.05, None))
    ]
    first, second = d.rates  # "junk" is an entry without anything, at the second threshold
    assert (first.threshold, first.fmr_verdict, first.fnmr_verdict) == (0.4, "pass", "")
    assert dict(first.fmr) == {"a": ErrorRate(1, 100, 0.01, None)}
    assert dict(first.fnmr) == {"b": ErrorRate(2)}
    assert (second.threshold, second.rule, dict(second.fmr), dict(second.fnmr)) == (None, None, {}, {})
    assert (d.target_fmrs, d.binding_threshold) == ((0.001, 0.01), None)
    assert [(u.target_fmr, u.reason) for u in d.unsupported] == [(1e-4, "too few")]
    assert [(m.key, m.value) for m in d.inequity_fmr.measures] == [("gini", 0.2)]
    assert d.inequity_fnmr.measures == ()
    assert CheckDetails({"disclosure": {}}).disclosure is None
    assert CheckDetails({"disclosure": [raw]}).disclosure is None


# -- no property fails, whatever the JSON --------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)
_KEYS = st.sampled_from(
    [
        "binding", "not_run", "static", "companion", "nonbinary_label_on_women_and_men", "sweep", "ratio_tolerance",
        "ratios", "threshold_rule", "impostors", "unsupported_targets", "metric", "impostor_comparisons",
        "genuine_comparisons", "design", "inequity", "bootstrap", "impostor_matrix", "det", "distributions",
        "disclosure", "flips",
    ]
)  # fmt: skip


def _read_all(details: CheckDetails) -> None:
    for name in dir(CheckDetails):
        if not name.startswith("_") and isinstance(getattr(CheckDetails, name), property):
            getattr(details, name)
    details.shown()
    details.ratio_for("a")
    if details.rule is not None:
        _ = details.rule.label, details.rule.key, details.rule.sentence("cosine")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _JSON, max_size=6))
def test_no_reader_fails_on_any_json(raw: dict[str, Any]) -> None:
    _read_all(CheckDetails(raw))


@settings(max_examples=150, deadline=None)
@given(
    _JSON,
    st.sampled_from(
        ["threshold_rule", "disclosure", "impostor_matrix", "distributions", "det", "inequity", "companion"]
    ),
    st.sampled_from(["groups", "false_match_rate", "threshold_rule", "equitability", "edges", "fmr", "comparisons"]),
)
def test_no_reader_fails_on_garbage_nested_inside_a_documented_object(inner: Any, key: str, nested: str) -> None:
    _read_all(CheckDetails({key: {nested: inner, "groups": {"a": inner}, "threshold_rule": {nested: inner}}}))


# -- the writers, on a report whose details are garbage ----------------------------------------------

_SEED = ROOT / "fuzz" / "seeds" / "report_json" / "report.json"


def _garbage_report() -> dict[str, Any]:
    """The fuzz seed, its checks' details replaced by values of the wrong type, plus the 1:1 checks' ids."""
    report: dict[str, Any] = json.loads(_SEED.read_text(encoding="utf-8"))
    checks = report["checks"]
    gap, static = checks[0], checks[1]
    gap["details"] = {
        "companion": {"measure": 3, "groups": {"trans": "junk"}, "comparisons": [None, {"tolerance": "x"}]}
    }
    static["details"] = {"static": {"verdict": "fail", "labels": ["Male", "Female"], "reason": None}, "sweep": "x"}
    for check_id, details in [
        (
            "false_match_differential",
            {
                "binding": True,
                "ratio_tolerance": 2.0,
                "ratios": [{"group": "trans", "ci": [1, 2, 3], "level": None}],
                "threshold_rule": {"rule": "fixed FMR", "target_fmr": [0.001]},
                "det": {"trans": [{"fmr": "x"}]},
                "distributions": {"edges": [0, "x"]},
                "impostor_matrix": {"probe_groups": ["a"], "reference_groups": ["a"], "fmr": "x"},
                "inequity": {"gini": 3},
                "bootstrap": {"seed": None},
            },
        ),
        ("equitability", {"binding": True, "disclosure": {"false_match_rate": [{"groups": {"a": 3}}], "groups": 1}}),
    ]:
        entry = copy.deepcopy(gap)
        entry.update(id=check_id, threshold=0.41, details=details)
        checks.append(entry)
    return report


def test_the_writers_show_less_on_garbage_details_and_never_fail() -> None:
    report = Report.from_json(_garbage_report())  # the writers take a typed report: read as report.json is
    markdown, page = render_markdown(report), render_html(report)
    # The static half's labels were a list, not an object: none is listed (the old writer raised AttributeError).
    assert "(labels: none; vocabulary )" in markdown
    assert "## `false_match_differential` at 0.41 (binding): ❌ fail" in markdown
    # The companion's group "trans" was not an object: every figure of it reads as missing.
    assert "| trans | n/a | n/a | n/a | n/a | n/a | n/a |" in markdown
    assert "ISO/IEC 19795-10-style disclosure" in markdown
    assert "ISO/IEC 19795-10-style disclosure" in page


def test_a_headline_with_a_ratio_of_null_level_reads_the_checks_confidence() -> None:
    from conformance.assertions import headline
    from conformance.results import Comparison

    worst = Comparison("b", "a", 0.001, (0.0, 0.002), None, None, 2.0, "fail", "rate ratio, log method")
    ratios = [{"group": "b", "reference": "a", "ratio": 3.0, "ci": [2.5, 4.0], "level": None}]
    result = CheckResult(
        "false_match_differential",
        "fail",
        {},
        (worst,),
        "",
        "",
        "a",
        0.95,
        details={"ratio_tolerance": 2.0, "ratios": ratios},
    )
    # The old reader formatted None with :.4g (TypeError); the level is the check's own, 0.95.
    assert headline(result) == (
        "false_match_differential FAILED: b vs a ratio 3.000 [2.500, 4.000] exceeds tolerance x2 "
        "(rate ratio, log method, 0.95 level)"
    )


# -- no raw read outside conformance.details -------------------------------------------------------------

# The checks write details; results.py holds the raw mapping and hands it to conformance.details.
_WRITERS = ("details/", "checks/", "results.py")


def _raw_reads(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "details":
            found.append((node.lineno, ".details"))
        elif isinstance(node, ast.Attribute) and node.attr == "raw":
            owner = node.value
            if isinstance(owner, ast.Attribute) and owner.attr == "typed_details":
                found.append((node.lineno, ".typed_details.raw"))
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == "details":
            found.append((node.lineno, '["details"]'))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "pop", "setdefault")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value == "details"
        ):
            found.append((node.lineno, f'.{node.func.attr}("details")'))
    return found


def test_details_are_read_only_through_the_typed_readers() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith(_WRITERS):
            continue
        for line, what in _raw_reads(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"conformance/{relative}:{line}: {what}")
    for path in sorted((PACKAGE / "reporting" / "templates").glob("*.j2")):
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if re.search(r"\.details\b|\[\s*['\"]details['\"]\s*\]|typed_details\.raw", text):
                offenders.append(f"{path.relative_to(ROOT).as_posix()}:{number}: details read in a template")
    assert not offenders, "read details through CheckResult.typed_details (conformance.details):\n" + "\n".join(
        offenders
    )


@pytest.mark.parametrize(
    "source",
    [
        "check.details.get('static')",
        "result.details['ratios']",
        "result['details']",
        "result.get('details')",
        "check.typed_details.raw.get('x')",
    ],
)
def test_the_scan_finds_each_kind_of_raw_read(source: str) -> None:
    assert len(_raw_reads(ast.parse(source))) == 1


def test_nan_is_never_a_number_here() -> None:
    details = CheckDetails({"ratio_tolerance": NAN, "impostor_comparisons": NAN, "inequity": {"alpha": NAN}})
    assert details.ratio_tolerance is None
    assert details.impostor_comparisons is None
    assert details.inequity.alpha is None
