"""Reports side by side and the regression gate, on reports the kit builds from datasets written by builders.py.

Expected figures are worked out here, not read back from the module: the Newcombe interval of a
change from statsmodels' ``confint_proportions_2indep``, the normal-approximation interval of a
change by hand with ``scipy.stats.norm`` from the reports' own intervals, and message figures from
hand counts and statsmodels.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from builders import Shot, observe, people, typed
from scipy.stats import norm
from statsmodels.stats.proportion import confint_proportions_2indep

from conformance import group_labels, load_policy, run_check
from conformance.comparison.gate import find_regressions
from conformance.comparison.reports import compare_reports, load_report
from conformance.errors import ConformanceError
from conformance.observation import Observations
from conformance.report import Report, ReportError
from conformance.reporting import build_report, write_json
from conformance.reporting.compare import render_compare_html, render_compare_markdown, render_regressions
from conformance.reporting.markdown import escape

SEED = 20261121
# Wilson limits, so that a gap's interval is statsmodels' Newcombe interval, which the expectations use.
POLICY = replace(load_policy(), interval="wilson")
HOSTILE = "<img src=x onerror=alert(1)>"
PIPE = "a|b"


def newcombe(c1: int, n1: int, c2: int, n2: int, confidence: float = 0.95) -> tuple[float, float]:
    lo, hi = confint_proportions_2indep(c1, n1, c2, n2, method="newcomb", compare="diff", alpha=1 - confidence)
    return float(lo), float(hi)


def z(level: float) -> float:
    return float(norm.ppf(1 - (1 - level) / 2))


def report_of(
    observations: Observations,
    checks: tuple[str, ...] = ("misgender_gap",),
    *,
    by: tuple[str, ...] = (),
    reference: str = "cis",
) -> dict[str, Any]:
    groups = group_labels(observations.dataset, list(by))
    results = [run_check(c, observations, groups=groups, reference=reference, policy=POLICY, seed=SEED) for c in checks]
    context = {
        "seed": SEED,
        "analyzer": dict(observations.analyzer),
        "dataset": observations.dataset.describe(),
        "policy": POLICY.to_dict(),
        "grouping": {"by": list(by), "reference": reference},
    }
    # Through JSON, as a report read back from report.json is.
    report: dict[str, Any] = json.loads(json.dumps(build_report(results, context=context).to_json()))
    return report


def audit(trans_misgendered: int, *, confidence: float = 90.0) -> list[Shot]:
    """100 cis subjects (10 misgendered) and 100 trans subjects, one photo each."""
    return people("cis", 100, misgendered=10) + people(
        "trans", 100, trans="yes", misgendered=trans_misgendered, confidence=confidence
    )


CHECKS = ("misgender_gap", "confidence_calibration")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return report_of(observe(tmp_path_factory.mktemp("baseline"), audit(10)), CHECKS)


@pytest.fixture(scope="module")
def worse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # Same manifest (so the same dataset hash); the analyzer now misgenders 40 trans people, not 10.
    return report_of(observe(tmp_path_factory.mktemp("worse"), audit(40, confidence=97.0)), CHECKS)


def check_of(report: dict[str, Any], check_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in report["checks"] if c["id"] == check_id)
    return found


def gap_of(report: dict[str, Any], group: str, check_id: str = "misgender_gap") -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in check_of(report, check_id)["comparisons"] if c["group"] == group)
    return found


# -- compare_reports ---------------------------------------------------------------------------------


def test_a_clearly_worse_group_differs_beyond_noise_and_an_identical_pair_does_not(
    baseline: dict[str, Any], worse: dict[str, Any]
) -> None:
    comparison = compare_reports(typed(baseline, worse), names=["v1", "v2"])
    assert comparison.warnings == ()  # same manifest and images: same dataset hash
    trans = comparison.row("misgender_gap", "trans")
    assert trans.rate_changes[0] is None
    change = trans.rate_changes[1]
    assert change is not None
    assert change.beyond_noise
    assert change.direction == 1
    assert trans.differs
    cis = comparison.row("misgender_gap", "cis")
    assert not cis.differs  # 10/100 in both
    assert ("misgender_gap", "trans") in comparison.differences
    assert ("misgender_gap", "cis") not in comparison.differences

    same = compare_reports(typed(baseline, copy.deepcopy(baseline)))
    assert same.differences == ()
    changes = [c for t in same.checks for r in t.rows for c in (*r.rate_changes[1:], *r.gap_changes[1:])]
    present = [c for c in changes if c is not None]
    assert len(present) == len(changes) - 2  # the reference (cis) has no gap in either check
    assert all(c.difference == 0.0 and not c.beyond_noise for c in present)


def test_the_rate_change_is_newcombes_interval_as_statsmodels_computes_it(
    baseline: dict[str, Any], worse: dict[str, Any]
) -> None:
    change = compare_reports(typed(baseline, worse)).row("misgender_gap", "trans").rate_changes[1]
    assert change is not None
    assert change.method == "Newcombe"
    assert change.level == 0.95
    assert change.difference == pytest.approx(40 / 100 - 10 / 100)
    assert change.ci == pytest.approx(newcombe(40, 100, 10, 100), abs=1e-12)


def test_a_rate_that_is_not_a_proportion_changes_by_the_normal_approximation(
    baseline: dict[str, Any], worse: dict[str, Any]
) -> None:
    # confidence_calibration's rate is overconfidence (mean confidence minus accuracy), not count / n.
    old = check_of(baseline, "confidence_calibration")["groups"]["trans"]
    new = check_of(worse, "confidence_calibration")["groups"]["trans"]
    assert old["rate"] != old["count"] / old["n"]
    se = math.hypot(
        (old["ci"][1] - old["ci"][0]) / 2 / z(0.95),
        (new["ci"][1] - new["ci"][0]) / 2 / z(0.95),
    )
    difference = new["rate"] - old["rate"]
    change = compare_reports(typed(baseline, worse)).row("confidence_calibration", "trans").rate_changes[1]
    assert change is not None
    assert change.method == "normal approximation"
    assert change.difference == pytest.approx(difference)
    assert change.ci == pytest.approx((difference - z(0.95) * se, difference + z(0.95) * se), abs=1e-12)
    assert change.p_value == pytest.approx(2 * norm.sf(abs(difference / se)), abs=1e-12)


def test_different_datasets_warn_and_missing_checks_and_groups_show_as_absent(
    baseline: dict[str, Any], tmp_path: Path
) -> None:
    other = report_of(
        observe(tmp_path, people("cis", 30, misgendered=3) + people("nb", 30, identity="nonbinary", misgendered=30)),
        ("misgender_gap",),
    )
    comparison = compare_reports(typed(baseline, other), names=["first", "second"])
    (warning,) = comparison.warnings
    assert "second is on a different dataset than first" in warning
    assert other["dataset"]["content_hash"] in warning
    table = comparison.check("confidence_calibration")
    assert table.verdicts[1] is None
    assert table.notes == ("second: check absent",)
    trans = comparison.row("misgender_gap", "trans")
    assert trans.figures[1] is None
    assert trans.rate_changes[1] is None
    nonbinary = comparison.row("misgender_gap", "nonbinary")
    assert nonbinary.figures[0] is None
    assert nonbinary.figures[1] is not None
    text = render_compare_markdown(comparison)
    assert "> ⚠️ second is on a different dataset than first" in text
    assert "| trans | #2 | absent | absent |" in text
    assert "second: check absent" in text


def test_compare_refuses_fewer_than_two_reports_and_a_dict_that_is_not_a_report(baseline: dict[str, Any]) -> None:
    with pytest.raises(ReportError, match="at least two reports"):
        compare_reports(typed(baseline))
    with pytest.raises(ReportError, match="2 names for 3 reports"):
        compare_reports(typed(baseline, baseline, baseline), names=["a", "b"])
    with pytest.raises(ReportError, match=r"not a conformance report: no 'checks'"):
        typed(baseline, {"schema": 1, "kit_version": "0"})  # what is not a report is refused as it is read


# -- find_regressions --------------------------------------------------------------------------------


def test_a_worse_gap_is_a_regression_named_with_both_figures(baseline: dict[str, Any], worse: dict[str, Any]) -> None:
    (regression,) = [r for r in find_regressions(*typed(worse, baseline)) if r.check == "misgender_gap"]
    assert (regression.check, regression.group, regression.reference) == ("misgender_gap", "trans", "cis")
    # Hand counts: trans 10/100 then 40/100, cis 10/100 both times; one comparison, so a 95% interval.
    old_ci, new_ci = newcombe(10, 100, 10, 100), newcombe(40, 100, 10, 100)
    assert regression.baseline_gap == pytest.approx(0.0)
    assert regression.current_gap == pytest.approx(0.30)
    assert regression.baseline_ci == pytest.approx(old_ci, abs=1e-12)
    assert regression.current_ci == pytest.approx(new_ci, abs=1e-12)
    message = regression.message
    assert message.startswith("misgender_gap: trans vs cis gap 0.300 ")
    assert f"0.300 [{new_ci[0]:.3f}, {new_ci[1]:.3f}]" in message
    assert f"baseline's 0.000 [{old_ci[0]:.3f}, {old_ci[1]:.3f}]" in message
    assert "beyond noise" in message
    # The baseline gap's interval straddles the 0.05 tolerance (inconclusive); the new one lies above it.
    assert (regression.baseline_verdict, regression.current_verdict) == ("inconclusive", "fail")
    assert regression.verdict_worsened
    assert message.endswith("; verdict inconclusive -> fail")


def test_the_change_interval_is_the_normal_approximation_worked_by_hand(
    baseline: dict[str, Any], worse: dict[str, Any]
) -> None:
    (regression,) = [r for r in find_regressions(*typed(worse, baseline)) if r.check == "misgender_gap"]
    old_ci, new_ci = newcombe(10, 100, 10, 100), newcombe(40, 100, 10, 100)
    se = math.sqrt(((old_ci[1] - old_ci[0]) / 2 / z(0.95)) ** 2 + ((new_ci[1] - new_ci[0]) / 2 / z(0.95)) ** 2)
    difference = 0.30 - 0.0
    expected = (difference - z(0.95) * se, difference + z(0.95) * se)
    assert regression.level == 0.95
    assert regression.change == pytest.approx(difference)
    assert regression.change_ci == pytest.approx(expected, abs=1e-9)
    assert regression.change_ci[0] > 0
    assert regression.statistic == pytest.approx(difference / se, rel=1e-9)
    assert regression.p_value == pytest.approx(2 * norm.sf(difference / se), rel=1e-6)
    assert f"(change +0.300 [{expected[0]:.3f}, {expected[1]:.3f}] at 95%" in regression.message


def test_an_identical_run_and_an_improved_one_are_not_regressions(
    baseline: dict[str, Any], worse: dict[str, Any]
) -> None:
    assert find_regressions(*typed(baseline, copy.deepcopy(baseline))) == []
    assert find_regressions(*typed(worse, copy.deepcopy(worse))) == []
    assert find_regressions(*typed(baseline, worse)) == []  # trans went from 40/100 back to 10/100


def test_matching_checks_are_compared_threshold_by_threshold(baseline: dict[str, Any], worse: dict[str, Any]) -> None:
    # Matching checks put one entry per similarity threshold in report.json, under the same id.
    def at(report: dict[str, Any], threshold: float) -> dict[str, Any]:
        return {**copy.deepcopy(check_of(report, "misgender_gap")), "id": "false_match_gap", "threshold": threshold}

    before = {**baseline, "checks": [at(baseline, 80), at(worse, 90)]}
    after = {**worse, "checks": [at(worse, 80), at(worse, 90)]}
    (regression,) = find_regressions(*typed(after, before))
    assert (regression.check, regression.threshold, regression.group) == ("false_match_gap", 80, "trans")
    assert regression.message.startswith("false_match_gap at 80: trans vs cis gap 0.300 ")
    comparison = compare_reports(typed(before, after))
    assert [t.label for t in comparison.checks] == ["false_match_gap at 80", "false_match_gap at 90"]
    assert comparison.row("false_match_gap", "trans", 80).differs
    assert not comparison.row("false_match_gap", "trans", 90).differs


def test_render_regressions_lists_each_or_says_there_is_none(baseline: dict[str, Any], worse: dict[str, Any]) -> None:
    path = Path("old") / "report.json"
    assert render_regressions([], path) == "no regression against old/report.json"
    regressions = find_regressions(*typed(worse, baseline))
    text = render_regressions(regressions, path)
    lines = text.splitlines()
    noun = "regression" if len(regressions) == 1 else "regressions"
    assert lines[0] == f"{len(regressions)} {noun} against old/report.json:"
    assert lines[1:] == [f"  {r.message}" for r in regressions]


# -- load_report -------------------------------------------------------------------------------------


def test_load_report_reads_back_what_write_json_wrote(baseline: dict[str, Any], tmp_path: Path) -> None:
    path = write_json(Report.from_json(baseline), tmp_path / "report.json")
    loaded = load_report(path)
    assert loaded.to_json() == baseline  # the typed report, read once: compare and the gate take it as it is
    assert find_regressions(loaded, *typed(baseline)) == []


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        (None, "no such file"),
        ("{not json", "not a conformance report: not JSON"),
        ("[1, 2]", "not a conformance report: the top level is an array"),
        ('{"schema": 1, "checks": []}', "no 'kit_version'"),
        ('{"schema": 1, "kit_version": "0.1.0", "checks": {}}', "'checks' should be an array"),
        (
            '{"schema": 1, "kit_version": "0.1.0", "checks": [{"id": "misgender_gap", "verdict": "meh"}]}',
            "checks[0] (misgender_gap) has verdict 'meh'",
        ),
    ],
)
def test_load_report_names_the_file_and_what_is_wrong(content: str | None, complaint: str, tmp_path: Path) -> None:
    path = tmp_path / "old" / "report.json"
    if content is not None:
        path.parent.mkdir()
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConformanceError) as caught:
        load_report(path)
    assert isinstance(caught.value, ReportError)
    assert str(caught.value).startswith(f"{path}: ")
    assert complaint in str(caught.value)


def test_load_report_refuses_a_directory_and_points_inside_it(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=re.escape(str(tmp_path / "report.json"))):
        load_report(tmp_path)


# -- rendering ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    def shots(misgendered: int) -> list[Shot]:
        return people("h", 60, misgendered=misgendered, source=HOSTILE) + people("p", 60, misgendered=3, source=PIPE)

    first = report_of(observe(tmp_path_factory.mktemp("h1"), shots(3)), by=("source",), reference=PIPE)
    second = report_of(observe(tmp_path_factory.mktemp("h2"), shots(30)), by=("source",), reference=PIPE)
    return first, second


def test_markdown_escapes_hostile_group_names(hostile: tuple[dict[str, Any], dict[str, Any]]) -> None:
    comparison = compare_reports(typed(*hostile), names=["<b>v1</b>", "v|2"])
    assert {row.group for row in comparison.check("misgender_gap").rows} == {HOSTILE, PIPE}
    text = render_compare_markdown(comparison)
    assert "<img" not in text
    assert "<b>" not in text
    assert PIPE not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert f"| {escape(PIPE)} | #1 |" in text
    assert f"| #2 | {escape('v|2')} |" in text
    # Every row of every table has as many cell separators (unescaped pipes) as its header.
    for block in text.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if rows:
            assert len({len(re.findall(r"(?<!\\)\|", row)) for row in rows}) == 1, block
    assert "▲" in text  # 30/60 against 3/60 on the hostile group: beyond noise


def test_html_is_self_contained_and_escapes_hostile_group_names(
    hostile: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    page = render_compare_html(compare_reports(typed(*hostile), names=["<b>v1</b>", "v|2"]))
    assert page.startswith("<!DOCTYPE html>")
    assert "<img" not in page
    assert "<b>v1" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;v1&lt;/b&gt;" in page
    assert "<script" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert "<link" not in page
    assert 'class="up"' in page or 'class="num up"' in page
