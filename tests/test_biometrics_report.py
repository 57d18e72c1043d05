"""Issue 16's rendering and integration: a 1:1 run in report.html, report.md, compare, the gate, --target-fmr.

The reports are made as a user makes them: ``scripts/make_two_models.py`` writes a synthetic audit
(300 people in three skin-type groups, two simulated models' embeddings) and ``conformance run``
audits each model in a subprocess. Model A draws the people of group ``V-VI`` closer together
(their FMR is several times the reference's, by construction) and leaves 4 of their photos without
a template; model B draws every group alike. The writers' numbers are read back out of the HTML
(parsed with :mod:`html.parser`) and the Markdown and compared with report.json's; changes and
regressions are worked out here from the reported intervals with scipy.
"""

from __future__ import annotations

import copy
import html
import importlib.util
import json
import math
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from builders import observe, people, typed
from scipy.stats import norm

from conformance import cli, reporting
from conformance.checks import run_check
from conformance.comparison.gate import find_regressions
from conformance.comparison.reports import compare_reports
from conformance.dataset import group_labels
from conformance.options import OPTION, OptionError, parse_flags, reproduce_flags, run_options
from conformance.policy import Policy
from conformance.report import Report
from conformance.reporting import build_report
from conformance.reporting.compare import render_compare_markdown

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
GROUPS = ("I-II", "III-IV", "V-VI")


def _script() -> Any:
    spec = importlib.util.spec_from_file_location("make_two_models", REPO / "scripts" / "make_two_models.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def _audit(root: Path, model: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return _run(
        root,
        "run",
        "--dataset", "manifest.csv",
        "--analyzer", f"embeddings:{model}.npy",
        "--group-by", "skin_type",
        "--reference", "I-II",
        "--report-dir", model,
        *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both models audited; model A with --target-fmr naming a target its data cannot support (1e-7)."""
    root = tmp_path_factory.mktemp("two-models")
    _script().write(root)
    for model, extra in (("model_a", ("--target-fmr", "1e-3,1e-4,1e-7")), ("model_b", ())):
        done = _audit(root, model, *extra)
        assert done.returncode == 1, done.stdout + done.stderr  # both fail a check, by construction
    return root


def render_html(report: dict[str, Any]) -> str:
    """report.html of a report.json dict, read as the writers take it: typed, with Report.from_json."""
    return reporting.render_html(Report.from_json(report))


def render_markdown(report: dict[str, Any]) -> str:
    """report.md of a report.json dict, read as the writers take it: typed, with Report.from_json."""
    return reporting.render_markdown(Report.from_json(report))


def _json(audit: Path, model: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((audit / model / "report.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def a(audit: Path) -> dict[str, Any]:
    return _json(audit, "model_a")


@pytest.fixture(scope="module")
def b(audit: Path) -> dict[str, Any]:
    return _json(audit, "model_b")


def checks(report: dict[str, Any], check_id: str) -> list[dict[str, Any]]:
    return [c for c in report["checks"] if c["id"] == check_id]


def binding(report: dict[str, Any], check_id: str) -> dict[str, Any]:
    (found,) = [c for c in checks(report, check_id) if c["details"]["binding"]]
    return found


def anchor(check: dict[str, Any]) -> str:
    return f"check-{check['id']}" + ("" if check.get("threshold") is None else f"-{check['threshold']:g}")


# -- reading the page back ------------------------------------------------------------------------------

VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "wbr", "source", "track", "param", "embed"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str]) -> None:
        self.tag, self.attrs = tag, attrs
        self.children: list[Node] = []
        self.parts: list[str | Node] = []

    def text(self) -> str:
        return " ".join(" ".join(p if isinstance(p, str) else p.text() for p in self.parts).split())

    def all(self, tag: str) -> list[Node]:
        out = []
        for child in self.children:
            if child.tag == tag:
                out.append(child)
            out += child.all(tag)
        return out

    def by_id(self, ident: str) -> Node:
        for child in self.children:
            if child.attrs.get("id") == ident:
                return child
            try:
                return child.by_id(ident)
            except KeyError:
                pass
        raise KeyError(ident)


class Page(HTMLParser):
    """A strict reader: every element closed in order (void elements excepted), or ValueError."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.feed(text)
        self.close()
        if len(self.stack) != 1:
            raise ValueError(f"unclosed: {[n.tag for n in self.stack[1:]]}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)
        if tag not in VOID:
            self.stack.append(node)
        elif tag == "br":
            self.stack[-1].parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        self.stack[-1].parts.append(node)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if self.stack[-1].tag != tag:
            raise ValueError(f"</{tag}> closes <{self.stack[-1].tag}>")
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].parts.append(data)


def rows_of(table: Node) -> list[list[str]]:
    """A table's rows as cell texts, header row first."""
    return [[cell.text() for cell in row.children if cell.tag in ("th", "td")] for row in table.all("tr")]


def tables(node: Node) -> list[list[list[str]]]:
    """Each table under ``node`` as rows of cell texts (header row first)."""
    return [rows_of(t) for t in node.all("table")]


def table_with(node: Node, *words: str) -> list[list[str]]:
    """The first table whose header row holds all ``words``."""
    for table in tables(node):
        if table and all(w in table[0] for w in words):
            return table
    raise AssertionError(f"no table with {words}; headers: {[t[0] for t in tables(node) if t]}")


def number(text: str) -> float:
    return float(text.replace(",", ""))


def interval(text: str) -> tuple[float | None, float | None]:
    lo, hi = text.strip("[]").split(", ")
    return (None if lo == "n/a" else number(lo)), (None if hi == "n/a" else number(hi))


def close(shown: float | None, value: float | None) -> bool:
    """``shown`` (three significant digits) is ``value`` as report.json holds it."""
    if shown is None or value is None:
        return shown is value
    return math.isclose(shown, value, rel_tol=5e-3, abs_tol=1e-12)


@pytest.fixture(scope="module")
def page(a: dict[str, Any]) -> Node:
    return Page(render_html(a)).root


# -- report.html ---------------------------------------------------------------------------------------


def test_the_page_is_well_formed_and_loads_nothing(a: dict[str, Any]) -> None:
    text = render_html(a)
    Page(text)  # raises on a tag closed out of order or left open
    assert "<script" not in text
    assert not re.search(r"\son\w+=", text)
    assert "http://" not in text
    assert "https://" not in text


def test_each_differential_section_shows_the_reports_rates_and_ratios(a: dict[str, Any], page: Node) -> None:
    missing = [p["photo"] for p in a["photos"] if p["outcome"] == "no_face"]
    assert len(missing) == 4
    assert len({p.rsplit("-", 1)[0] for p in missing}) == 4, missing  # four people (images/person-NNN-k.png)
    for check_id, units in (
        ("false_match_differential", "impostor comparisons"),
        ("false_non_match_differential", "genuine comparisons"),
    ):
        for check in checks(a, check_id):
            section = page.by_id(anchor(check))
            rate = "FMR" if check_id == "false_match_differential" else "FNMR"
            table = table_with(section, "group", units, rate)
            assert len(table) == 1 + len(GROUPS)
            for row in table[1:]:
                name = row[0].removesuffix(" (reference)")
                group = check["groups"][name]
                assert (number(row[3]), number(row[4])) == (group["count"], group["n"])
                assert close(number(row[5]), group["count"] / group["n"])  # worked out, not copied
                assert all(close(s, v) for s, v in zip(interval(row[6]), group["ci"], strict=True))
                # Failure to acquire beside every rate: model A has no template for 4 of V-VI's 300 photos,
                # of 4 different people (3 photos each): each misses 897 impostor comparisons as probe and
                # is the reference of 899 - 2 mates - 3 other missing photos; each has 2 mates both ways.
                assert row[8] == ("4 (1.3%)" if name == "V-VI" else "0 (0.0%)")
                if rate == "FMR":
                    expected = 4 * 897 + (296 * 4 - 4 * 2) if name == "V-VI" else 300 * 4
                else:
                    expected = 4 * 2 * 2 if name == "V-VI" else 0
                assert number(row[9]) == expected
            ratios = table_with(section, "comparison", "ratio", "interval", "verdict")
            assert [r[0] for r in ratios[1:]] == [f"{x['group']} vs I-II" for x in check["details"]["ratios"]]
            for row, expected in zip(ratios[1:], check["details"]["ratios"], strict=True):
                assert close(number(row[1]), expected["ratio"])
                assert all(close(s, v) for s, v in zip(interval(row[2]), expected["ci"], strict=True))
                assert row[4] == "×2"
                assert row[5] == expected["verdict"]
            rule = check["details"]["threshold_rule"]
            box = section.all("div")[0].text()
            assert (
                f"Threshold {check['threshold']:.6g} (cosine) fixed so that the FMR on all impostor comparisons is {rule['target_fmr']:g}"
                in box
            )
            assert f"{rule['impostor_comparisons']:,} impostor comparisons support it" in box
            assert f"({3 / rule['target_fmr']:,.0f} needed by the rule of three" in box
            assert f"({rule['distinct_comparisons']:,} distinct, behind {rule['people_pairs']:,} distinct" in box
            low, high = rule["achieved_fmr_ci"]
            assert low <= rule["achieved_fmr"] <= high
            assert "calibrated in-sample on these comparisons: on new people the pool's FMR" in box
            achieved = re.search(r"achieved FMR (\S+) \(([\d,]+) false matches\)", box)
            assert achieved is not None
            assert number(achieved[2]) == rule["false_matches"]
            assert close(number(achieved[1]), rule["false_matches"] / rule["impostor_comparisons"])
            measures = table_with(section, "measure", "value")
            inequity = check["details"]["inequity"]
            keys = ["max_min_ratio", "max_geomean_ratio", "gini", "garbe", "fdr"]
            for row, key in zip(measures[1:], keys, strict=True):
                assert close(number(row[1]), inequity[key]["value"])
            text = section.text()
            assert all(caveat in text for caveat in inequity["caveats"])


def test_the_verdicts_table_gives_ratio_checks_their_ratio_and_factor(a: dict[str, Any], page: Node) -> None:
    verdicts = table_with(page, "check", "verdict", "deciding comparison")
    fmr = binding(a, "false_match_differential")
    row = next(r for r in verdicts if r[0].startswith("false_match_differential at FMR 0.001"))
    deciding = next(x for x in fmr["details"]["ratios"] if x["verdict"] == fmr["verdict"])
    assert row[2] == f"{deciding['group']} vs I-II (ratio)"
    assert close(number(row[3]), deciding["ratio"])
    assert row[5] == "×2"


def test_the_impostor_matrix_writes_every_number_in_its_cell(a: dict[str, Any], page: Node) -> None:
    check = binding(a, "false_match_differential")
    matrix = check["details"]["impostor_matrix"]
    (heat,) = [t for t in page.by_id(anchor(check)).all("table") if "heat" in t.attrs.get("class", "")]
    rows = rows_of(heat)
    assert rows[0][1:] == list(GROUPS)
    for i, row in enumerate(rows[1:]):
        assert row[0] == GROUPS[i]
        for j, cell in enumerate(row[1:]):
            fmr, counts = cell.split(" ", 1)
            k, n = (number(x) for x in counts.split(" / "))
            assert (k, n) == (matrix["false_matches"][i][j], matrix["impostor_comparisons"][i][j])
            assert close(number(fmr), k / n)
        # All impostor pairs count (impostors = "all"): a row's cells add up to the group's false matches.
        assert sum(matrix["false_matches"][i]) == check["groups"][GROUPS[i]]["count"]

    # The shade only repeats the number: the darkest cell is model A's V-VI x V-VI, by construction.
    def lightness(td: Node) -> int:
        colour = re.search(r"background:#(\w\w)(\w\w)(\w\w)", td.attrs["style"])
        assert colour is not None
        return sum(int(x, 16) for x in colour.groups())

    darkest = min(heat.all("td"), key=lightness)
    assert "V-VI probes against V-VI references" in darkest.attrs["title"]


def test_det_curves_and_histograms_draw_the_reports_points_once(a: dict[str, Any], page: Node) -> None:
    check = binding(a, "false_match_differential")
    section = page.by_id(anchor(check))
    (det,) = [s for s in section.all("svg") if s.attrs["aria-label"].startswith("DET curves")]
    assert len(det.all("polyline")) == len(GROUPS)
    drawn = set()
    for circle in det.all("circle"):
        found = re.fullmatch(r"(.+): FMR (\S+), FNMR (\S+)", circle.all("title")[0].text())
        assert found is not None
        drawn.add((found[1], number(found[2]), number(found[3])))
    expected = [
        (g, p["fmr"], p["fnmr"]) for g, points in check["details"]["det"].items() for p in points if p["fmr"] > 0
    ]
    assert len(drawn) == len(expected)
    for group, fmr, fnmr in expected:
        assert any(g == group and close(f, fmr) and close(x, fnmr) for g, f, x in drawn)
    (hist,) = [s for s in section.all("svg") if s.attrs["aria-label"].startswith("score distributions")]
    captions = [t.text() for t in hist.all("text") if "impostor," in t.text()]
    dist = check["details"]["distributions"]["groups"]
    assert captions == [
        f"{sum(dist[g]['impostor']):,} impostor, {sum(dist[g]['genuine']):,} genuine; "
        f"{dist[g]['impostor_failed'] + dist[g]['genuine_failed']:,} without a score"
        for g in GROUPS
    ]
    # Each group's impostor comparisons: counted with a score, or without one (a photo without a template).
    for g in GROUPS:
        assert sum(dist[g]["impostor"]) + dist[g]["impostor_failed"] == check["groups"][g]["n"]
    whole = render_html(a)
    assert whole.count('aria-label="DET curves') == 1  # on one section only, not on every entry
    assert whole.count('aria-label="score distributions') == 1


def test_the_disclosure_section_follows_the_standard_and_says_it_is_not_certified(
    a: dict[str, Any], page: Node
) -> None:
    (check,) = checks(a, "equitability")
    disclosure = check["details"]["disclosure"]
    section = page.by_id(anchor(check))
    heading = section.all("h2")[0].text()
    assert heading.startswith("ISO/IEC 19795-10-style disclosure: equitability at FMR 0.001")
    scope = next(d for d in section.all("div") if d.attrs.get("role") == "note").text()
    assert "Follows the standard's published scope; not certified conformance" in scope
    assert disclosure["scope"] in scope
    assert "certified: no" in scope
    text = section.text()
    assert disclosure["equitability"]["statement"] in text
    assert disclosure["groups"]["membership"] in text  # not self-described: the manifest does not say
    assert "not recorded in the manifest" in text
    sizes = table_with(section, "group", "photos", "people", "impostor comparisons", "genuine comparisons")
    for row in sizes[1:]:
        expected = disclosure["groups"]["sample_sizes"][row[0]]
        assert [number(x) for x in row[1:]] == [
            expected[k] for k in ("photos", "subjects", "impostor_comparisons", "genuine_comparisons")
        ]
    fta = table_with(section, "group", "not acquired", "photos")
    # By construction model A has no template for 4 of the 300 photos of V-VI, and for none of the others.
    assert [(r[0], number(r[1]), number(r[2])) for r in fta[1:]] == [
        ("I-II", 0, 300),
        ("III-IV", 0, 300),
        ("V-VI", 4, 300),
    ]
    assert "target FMR 1e-07 not evaluated" in text
    assert "rule of three" in text
    rates = [t for t in tables(section) if t and "FNMR" in t[0] and "FMR" in t[0]]
    assert len(rates) == len(disclosure["false_match_rate"]) == 2
    for table, fmr, fnmr in zip(rates, disclosure["false_match_rate"], disclosure["false_non_match_rate"], strict=True):
        for row in table[1:]:
            f, n = fmr["groups"][row[0]], fnmr["groups"][row[0]]
            assert row[1] == f"{f['errors']:,} / {f['comparisons']:,}"
            assert close(number(row[2]), f["errors"] / f["comparisons"])
            assert all(close(s, v) for s, v in zip(interval(row[3]), f["ci"], strict=True))
            assert row[4] == f"{n['errors']:,} / {n['comparisons']:,}"
            assert close(number(row[5]), n["errors"] / n["comparisons"])
    assert "ISO/IEC 19795-10:2024" in text
    assert "NISTIR 8280" in text


# -- report.md -----------------------------------------------------------------------------------------


def md_tables(text: str) -> list[list[list[str]]]:
    """Markdown tables as rows of cells, split on unescaped pipes and unescaped."""
    out: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if not all(re.fullmatch(r"-+:?", c) for c in cells):
                current.append([html.unescape(re.sub(r"\\(.)", r"\1", c)) for c in cells])
        elif current:
            out.append(current)
            current = []
    return out


def test_report_md_has_the_same_tables_as_report_html(a: dict[str, Any], page: Node) -> None:
    markdown = render_markdown(a)
    in_md = md_tables(markdown)
    signs = re.compile(r"^(✅|❌|⚠️|➖|⏭️|⛔) ")
    normal = [[[signs.sub("", c) for c in row] for row in t] for t in in_md]
    for check_id in ("false_match_differential", "false_non_match_differential", "equitability"):
        for check in checks(a, check_id):
            for table in tables(page.by_id(anchor(check))):
                if table[0][0].startswith("probe group"):
                    continue  # the heatmap: in report.md as text cells, checked below
                assert table in normal, f"{anchor(check)}: {table[0]} not in report.md"
    matrix = binding(a, "false_match_differential")["details"]["impostor_matrix"]
    heat = next(t for t in in_md if t[0][0].startswith("probe group"))
    assert (
        heat[3][3]
        == f"{matrix['fmr'][2][2]:.3g} ({matrix['false_matches'][2][2]:,} / {matrix['impostor_comparisons'][2][2]:,})"
    )
    assert "> **Follows the standard's published scope; not certified conformance.**" in markdown
    assert "<details><summary>DET curves" in markdown
    det = next(t for t in in_md if t[0] == ["group", "FMR", "FNMR", "threshold", "false matches"])
    points = binding(a, "false_match_differential")["details"]["det"]
    assert len(det) - 1 == sum(len(p) for p in points.values())


HOSTILE = '<img src=x onerror=alert(1)>|"x"&`'


def test_every_value_from_the_report_is_escaped(a: dict[str, Any]) -> None:
    hostile = json.loads(json.dumps(a).replace('"V-VI"', json.dumps(HOSTILE)))
    page = render_html(hostile)
    Page(page)
    assert "<img" not in page
    assert html.escape(HOSTILE, quote=True) in page
    markdown = render_markdown(hostile)
    assert "<img" not in markdown
    for table in md_tables(markdown):
        assert {len(row) for row in table} == {len(table[0])}, table[0]  # a pipe in a name breaks no table
    assert any(HOSTILE in cell for t in md_tables(markdown) for row in t for cell in row)


def test_malformed_details_show_less_and_break_nothing(a: dict[str, Any]) -> None:
    broken = copy.deepcopy(a)
    for check in broken["checks"]:
        details = check["details"]
        if "det" in details:
            details["det"] = "x"
        if "impostor_matrix" in details:
            details["impostor_matrix"] = {"probe_groups": ["a"], "reference_groups": ["b"], "fmr": [[1, 2]]}
        if "distributions" in details:
            details["distributions"] = {"edges": [1.0]}
        if "ratios" in details:
            details["ratios"] = [{"group": 3}, "y"]
        if "inequity" in details:
            details["inequity"] = []
        if "threshold_rule" in details:
            details["threshold_rule"] = {"rule": "fixed FMR", "target_fmr": "x"}
        if "disclosure" in details:
            details["disclosure"] = {"groups": "x", "false_match_rate": [None], "scope": 3}
    Page(render_html(broken))
    assert "## ISO/IEC 19795-10-style disclosure" in render_markdown(broken)


# -- conformance compare -------------------------------------------------------------------------------


def z(level: float) -> float:
    return float(norm.ppf(1 - (1 - level) / 2))


def log_change(first: dict[str, Any], later: dict[str, Any], level: float = 0.95) -> tuple[float, float, float]:
    """later/first with its interval, from the two reported intervals on the log scale (worked out here)."""
    se = math.hypot(
        math.log(first["ci"][1] / first["ci"][0]) / 2 / z(first["level"]),
        math.log(later["ci"][1] / later["ci"][0]) / 2 / z(later["level"]),
    )
    delta = math.log(later["ratio"] / first["ratio"])
    return math.exp(delta), math.exp(delta - z(level) * se), math.exp(delta + z(level) * se)


def ratio_row(report: dict[str, Any], check_id: str, group: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in binding(report, check_id)["details"]["ratios"] if r["group"] == group)
    return found


def test_compare_puts_two_models_side_by_side_at_the_same_target_fmr(a: dict[str, Any], b: dict[str, Any]) -> None:
    comparison = compare_reports(typed(b, a), names=["model_b", "model_a"])
    point = next(p for p in comparison.points if p.title == "false_match_differential at FMR 0.001")
    fa, fb = binding(a, "false_match_differential"), binding(b, "false_match_differential")
    assert point.thresholds == (fb["threshold"], fa["threshold"])  # each model's own threshold
    assert fa["threshold"] != fb["threshold"]
    assert point.binding == (True, True)
    v = point.group("V-VI")
    moved = v.ratio_changes[1]
    assert moved is not None
    expected = log_change(
        ratio_row(b, "false_match_differential", "V-VI"), ratio_row(a, "false_match_differential", "V-VI")
    )
    assert (moved.value, *moved.ci) == pytest.approx(expected, rel=1e-9)
    assert moved.ci[0] > 1
    assert moved.beyond_noise
    assert ("false_match_differential at FMR 0.001", "V-VI") in comparison.differences
    text = render_compare_markdown(comparison)
    assert "## 1:1 comparisons, by operating point" in text
    assert f"| #2 | model\\_a | FMR 0.001 | {fa['threshold']:.6g} | cosine | 807,300 | ❌ fail |" in text
    assert "### `false_match_differential` at FMR 0.001: #1 ✅ pass" in text
    assert "on the log scale" in text  # the method is stated
    assert "No figure differs" not in text


def test_identical_1to1_reports_differ_nowhere(a: dict[str, Any]) -> None:
    comparison = compare_reports(typed(a, copy.deepcopy(a)))
    assert comparison.comparable
    assert comparison.differences == ()
    changes = [c for p in comparison.points for g in p.groups for c in (*g.rate_changes[1:], *g.ratio_changes[1:])]
    assert all(c is None or (c.value in (0.0, 1.0) and not c.beyond_noise) for c in changes)
    assert "**No figure differs from #1 beyond noise.**" in render_compare_markdown(comparison)


def gender_report(tmp_path: Path) -> dict[str, Any]:
    observations = observe(tmp_path, people("cis", 20, misgendered=2) + people("trans", 20, trans="yes", misgendered=6))
    groups = group_labels(observations.dataset, [])
    result = run_check("misgender_gap", observations, groups=groups, reference="cis", policy=Policy(), seed=1)
    context = {"seed": 1, "analyzer": dict(observations.analyzer), "dataset": observations.dataset.describe()}
    report: dict[str, Any] = json.loads(json.dumps(build_report([result], context=context).to_json()))
    return report


def test_a_gender_report_and_a_matching_report_measure_different_things(a: dict[str, Any], tmp_path: Path) -> None:
    comparison = compare_reports(typed(gender_report(tmp_path), a), names=["gender", "matching"])
    assert not comparison.comparable
    assert comparison.kinds == ("gender classification", "1:1 comparisons")
    text = render_compare_markdown(comparison)
    assert "No figure differs" not in text
    assert (
        "**Nothing compared: these reports measure different things (#1 gender classification, #2 1:1 comparisons) and share no check.**"
        in text
    )
    assert (
        "matching measures 1:1 comparisons, gender measures gender classification: they measure different things"
        in text
    )


def _moved(report: dict[str, Any], **rule: Any) -> dict[str, Any]:
    """A copy of ``report`` whose differential entries' threshold rules say ``rule`` (another operating point)."""
    out = copy.deepcopy(report)
    for check in out["checks"]:
        if check["id"] in ("false_match_differential", "false_non_match_differential"):
            check["details"]["threshold_rule"].update(rule)
    return out


@pytest.mark.parametrize(
    ("rule", "label"),
    [
        ({"target_fmr": 0.0005}, "FMR 0.0005"),
        # The same target on other impostors and another pool is another operating point (F10).
        ({"impostors": "same_group", "calibrated_on": "I-II"}, "FMR 0.001 (same-group impostors, calibrated on I-II)"),
    ],
)
def test_reports_with_no_operating_point_in_common_compare_nothing_and_fail_the_gate(
    a: dict[str, Any], rule: dict[str, Any], label: str
) -> None:
    other = _moved(a, **rule)
    comparison = compare_reports(typed(a, other), names=["a", "other"])
    assert all(sum(v is not None for v in p.verdicts) == 1 for p in comparison.points)
    assert any(p.label == label for p in comparison.points)
    text = render_compare_markdown(comparison)
    assert "No figure differs" not in text
    assert (
        "**Nothing 1:1 compared: no 1:1 operating point is in two reports (\\#1 at FMR 0.001, FMR 0.0001; \\#2 at"
        in text
    )
    # The gate: comparing nothing is no pass.
    (found,) = find_regressions(*typed(other, a))
    assert found.figure == "operating point"
    assert found.message.startswith(
        "nothing compared: no 1:1 operating point is in two reports (the baseline at FMR 0.001"
    )


def test_a_report_whose_rules_do_not_name_their_impostors_still_matches(a: dict[str, Any]) -> None:
    older = copy.deepcopy(a)
    for check in older["checks"]:
        check["details"].get("threshold_rule", {}).pop("impostors", None)
    comparison = compare_reports(typed(a, older))
    assert all(sum(v is not None for v in p.verdicts) == 2 for p in comparison.points)
    assert find_regressions(*typed(older, a)) == []


# -- the regression gate -------------------------------------------------------------------------------


def test_a_worse_ratio_is_a_regression_naming_check_group_and_both_figures(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    found = [r for r in find_regressions(*typed(a, b)) if r.figure == "ratio" and r.check == "false_match_differential"]
    (regression,) = [r for r in found if r.operating_point == "FMR 0.001"]
    old, new = ratio_row(b, "false_match_differential", "V-VI"), ratio_row(a, "false_match_differential", "V-VI")
    assert (regression.group, regression.reference) == ("V-VI", "I-II")
    assert (regression.baseline_gap, regression.current_gap) == (old["ratio"], new["ratio"])
    factor, lower, upper = log_change(old, new)
    assert (regression.change, *regression.change_ci) == pytest.approx((factor, lower, upper), rel=1e-9)
    assert lower > 1
    message = regression.message
    assert message.startswith(
        f"false_match_differential at FMR 0.001 (threshold {binding(a, 'false_match_differential')['threshold']:.6g}, "
        f"baseline {binding(b, 'false_match_differential')['threshold']:.6g}): V-VI vs I-II ratio {new['ratio']:.3g} "
        f"[{new['ci'][0]:.3g}, {new['ci'][1]:.3g}] is further from 1 than the baseline's {old['ratio']:.3g} "
        f"[{old['ci'][0]:.3g}, {old['ci'][1]:.3g}] beyond noise"
    )
    assert message.endswith(f"; verdict {old['verdict']} -> {new['verdict']}")
    # The group's own FMR at the same target FMR rose too (its share of the false matches grew).
    (rate,) = [
        r
        for r in find_regressions(*typed(a, b))
        if r.figure == "FMR" and r.group == "V-VI" and r.operating_point == "FMR 0.001"
    ]
    now = binding(a, "false_match_differential")["groups"]["V-VI"]
    assert f"V-VI FMR {now['count'] / now['n']:.3g} " in rate.message
    assert f"({now['count']:,} / {now['n']:,}) is higher than the baseline's" in rate.message


def test_identical_runs_pass_and_an_improvement_is_no_regression(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert find_regressions(*typed(a, copy.deepcopy(a))) == []
    assert find_regressions(*typed(b, copy.deepcopy(b))) == []
    # Model B against model A: V-VI's FMR ratio came back to parity, which is no regression...
    back = find_regressions(*typed(b, a))
    assert not [r for r in back if r.check == "false_match_differential" and r.group == "V-VI" and r.figure == "ratio"]
    # ...while B misses III-IV's genuine pairs more (its generator's noise is larger there): caught.
    assert [
        r for r in back if r.check == "false_non_match_differential" and r.group == "III-IV" and r.figure == "ratio"
    ]


def test_the_gate_fails_a_run_whose_ratio_got_worse(audit: Path) -> None:
    done = _audit(audit, "model_a", "--baseline", "model_b/report.json", "--report-dir", "gated")
    assert done.returncode == 1
    assert "false_match_differential at FMR 0.001" in done.stdout
    assert "V-VI vs I-II ratio" in done.stdout
    assert "is further from 1 than the baseline's" in done.stdout
    report = json.loads((audit / "gated" / "report.json").read_text(encoding="utf-8"))
    assert any("V-VI vs I-II ratio" in r for r in report["regression"]["regressions"])
    same = _audit(audit, "model_b", "--baseline", "model_b/report.json", "--report-dir", "same")
    assert "no regression against model_b/report.json" in same.stdout


# -- --target-fmr --------------------------------------------------------------------------------------

BAD_FMR = ["0", "1", "1.5", "abc", "1e-3,x", "nan", "-1e-3", ","]


def test_target_fmr_parses_rates_in_the_order_given() -> None:
    assert OPTION["target_fmr"].parse("1e-3, 1e-4") == (1e-3, 1e-4)
    assert OPTION["target_fmr"].parse("0.01") == (0.01,)


@pytest.mark.parametrize("value", BAD_FMR)
def test_a_bad_target_fmr_is_named_once_whichever_way_it_came(
    value: str, capsys: pytest.CaptureFixture[str], pytester: pytest.Pytester
) -> None:
    message = f"{value!r}: give target false-match rates between 0 and 1, e.g. 1e-3,1e-4"
    with pytest.raises(OptionError) as caught:
        OPTION["target_fmr"].parse(value)
    assert str(caught.value) == message
    with pytest.raises(SystemExit):
        cli.main(["run", f"--target-fmr={value}"])
    assert f"argument --target-fmr: {message}" in capsys.readouterr().err
    pytester.makeini(f"[pytest]\nconformance_demo = true\nconformance_target_fmr = {value}\n")
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest()
    assert f"ERROR: ini conformance_target_fmr: {message}" in result.stderr.str()


def test_target_fmr_is_in_the_reproduce_line_and_reads_back() -> None:
    options = run_options({"demo": True, "target_fmr": (1e-3, 1e-5)}, project_root=None)
    assert "--conformance-target-fmr=0.001,1e-05" in reproduce_flags(options)
    assert parse_flags(reproduce_flags(options), project_root=None) == options
    assert "--conformance-target-fmr" not in " ".join(reproduce_flags(run_options({"demo": True}, project_root=None)))


def test_target_fmr_overrides_the_policy_in_a_run(a: dict[str, Any]) -> None:
    # Model A was run with --target-fmr 1e-3,1e-4,1e-7 and the default policy ([1e-3, 1e-4]).
    assert a["policy"]["target_fmr"] == [1e-3, 1e-4, 1e-7]
    assert "--conformance-target-fmr=0.001,0.0001,1e-07" in a["run"]["flags"]
    assert "--target-fmr=0.001,0.0001,1e-07" in a["run"]["command"]
    (unsupported,) = binding(a, "false_match_differential")["details"]["unsupported_targets"]
    assert unsupported["target_fmr"] == 1e-7


def test_the_ini_key_sets_the_target_fmr(audit: Path, pytester: pytest.Pytester) -> None:
    out = pytester.path / "out"
    pytester.makeini(
        "[pytest]\n"
        f"conformance_dataset = {audit / 'manifest.csv'}\n"
        f"conformance_analyzer = embeddings:{audit / 'model_b.npy'}\n"
        "conformance_group_by = skin_type\n"
        "conformance_reference = I-II\n"
        "conformance_target_fmr = 0.01\n"
        f"conformance_report_dir = {out}\n"
    )
    pytester.runpytest("--pyargs", "conformance.suite", "--conformance-checks=false_match_differential")
    report = Report.from_json(json.loads((out / "report.json").read_text(encoding="utf-8")))
    (check,) = report.checks
    assert check.details["threshold_rule"]["target_fmr"] == 0.01
    assert "--conformance-target-fmr=0.01" in report.run.flags


def test_a_run_whose_targets_the_data_cannot_support_renders_and_compares(audit: Path, a: dict[str, Any]) -> None:
    """1e-9 needs 3e9 impostor comparisons (the rule of three); 807,300 cannot support it: no threshold at all."""
    done = _audit(audit, "model_a", "--target-fmr", "1e-9", "--report-dir", "unsupported")
    assert done.returncode == 1, done.stdout + done.stderr
    report = _json(audit, "unsupported")
    fmr = checks(report, "false_match_differential")
    assert [c["groups"] for c in fmr] == [{}]
    root = Page(render_html(report)).root
    # Counted as distinct comparisons (a pair scored once, counted in both orders): about half of 807,300.
    reason = re.compile(
        r"[\d,]+ distinct impostor comparisons with a score \(807,300 counted in both orders and with failures\) "
        r"cannot support FMR 1e-09"
    )
    assert reason.search(root.by_id("check-false_match_differential").text())
    assert reason.search(render_markdown(report))
    comparison = compare_reports(typed(report, a), names=["unsupported", "model_a"])
    (nothing,) = [p for p in comparison.points if p.label == "no threshold" and p.check == "false_match_differential"]
    assert nothing.verdicts == ("inconclusive", None)
    assert "No group figures: no threshold could be fixed" in render_compare_markdown(comparison)
    # Nothing at a shared operating point: the gate says nothing was compared rather than passing (F9).
    (found,) = find_regressions(*typed(report, a))
    assert found.figure == "operating point"
    assert found.message.startswith("nothing compared")
