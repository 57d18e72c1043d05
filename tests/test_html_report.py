"""``report.html``: one self-contained page, every value from the report escaped, figures as in report.json.

The demo report comes from ``conformance run`` in a subprocess, as a user makes it; the hostile
report from real checks run on a dataset whose group names and photo names are markup.
"""

from __future__ import annotations

import copy
import html
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from builders import observe, people

from conformance import group_labels, load_policy, run_check
from conformance.report import Report
from conformance.reporting import build_report
from conformance.reporting import html as writer

HOSTILE_GROUP = "<script>alert(1)</script>"
HOSTILE_PHOTO = 'x" onerror="alert(1).png'
HOSTILE_ANALYZER = 'Vendor"><img src=x onerror=alert(2)>'
HOSTILE_REASON = "<iframe src=javascript:alert(3)> timed out"
SEED = 20261121
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def render_html(report: Mapping[str, Any]) -> str:
    """The page of a report.json dict, read as the writers take it: typed, with Report.from_json."""
    return writer.render_html(Report.from_json(report))


class _Page(HTMLParser):
    """Tags, attributes and text of a page, and any end tag that does not close the open element."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.mismatched: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        if tag not in _VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_endtag(self, tag: str) -> None:
        if self.open and self.open[-1] == tag:
            self.open.pop()
        else:
            self.mismatched.append(f"</{tag}> with {self.open[-3:]} open")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _section(page: str, check_id: str) -> str:
    start = page.index(f'<section class="check" id="check-{check_id}">')
    return page[start : page.index("</section>", start)]


def _ci(ci: list[float]) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cwd = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run"], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    path = cwd / "conformance-report" / "report.json"
    assert path.exists(), done.stdout + done.stderr
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two cohorts, one named with markup, through two real checks; hostile photo, analyzer and reason."""
    shots = [
        *people("h", 30, identity="woman", misgendered=9, errors=2, cohort=HOSTILE_GROUP),
        *people("p", 30, identity="man", misgendered=1, cohort="plain"),
    ]
    observations = observe(tmp_path_factory.mktemp("hostile"), shots)
    groups = group_labels(observations.dataset, ["cohort"])
    checks = [
        run_check(check_id, observations, groups=groups, reference="plain", policy=load_policy(), seed=SEED)
        for check_id in ("misgender_gap", "detection_failure_gap")
    ]
    photos = [{"photo": f"img/p{i:05d}.png", "outcome": "analysed"} for i in range(58)]
    photos += [
        {"photo": HOSTILE_PHOTO, "outcome": "error", "reason": HOSTILE_REASON},
        {"photo": "img/p00059.png", "outcome": "error", "reason": "ThrottlingException"},
    ]
    context = {
        "analyzer": {"name": HOSTILE_ANALYZER, "adapter": "predictions", "version": '1"<b>', "simulated": False},
        "dataset": {"name": "hostile", "photos": 60, "subjects": 60, "content_hash": "sha256:00"},
        "grouping": {"by": ["cohort"], "reference": "plain"},
        "outcomes": {"analysed": 58, "no_face": 0, "error": 2},
        "photos": photos,
        "seed": SEED,
    }
    skipped = [{"id": "same_person_consistency", "reason": "<b>nobody</b> has two photos"}]
    return build_report(checks, context=context, skipped=skipped).to_json()


@pytest.mark.parametrize("which", ["demo", "hostile"])
def test_one_document_that_loads_nothing_from_anywhere(which: str, request: pytest.FixtureRequest) -> None:
    page = render_html(request.getfixturevalue(which))
    lowered = page.lower()
    assert lowered.startswith("<!doctype html>")
    assert lowered.count("<html") == 1
    assert lowered.count("</html>") == 1
    for reference in ("<link", "<script", "<iframe", "<img", "@import", "url("):
        assert reference not in lowered, reference
    parsed = _Page(page)
    for name, value in parsed.attrs:
        assert not name.startswith("on"), name  # no event handler
        if name in ("src", "href", "xlink:href", "action", "data"):
            assert value is not None
            assert value.startswith("#"), (name, value)  # links only within the page


@pytest.mark.parametrize("which", ["demo", "hostile"])
def test_parses_with_balanced_tags(which: str, request: pytest.FixtureRequest) -> None:
    parsed = _Page(render_html(request.getfixturevalue(which)))
    assert parsed.mismatched == []
    assert parsed.open == []


def test_write_html_writes_the_rendered_page(demo: dict[str, Any], tmp_path: Path) -> None:
    target = writer.write_html(Report.from_json(demo), tmp_path / "out" / "report.html")
    assert target == tmp_path / "out" / "report.html"
    assert target.read_text(encoding="utf-8") == render_html(demo)
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temporary file left behind


@pytest.mark.parametrize(("simulated", "emulated"), [(True, True), (True, False), (False, True), (False, False)])
def test_banner_when_and_only_when_simulated_or_emulated(demo: dict[str, Any], simulated: bool, emulated: bool) -> None:
    report = copy.deepcopy(demo)
    report["analyzer"].update(simulated=simulated, emulated=emulated)
    if not emulated:  # recorded from the vendor's own endpoint, then: its sessions say so too
        vendor = {"endpoint": "https://rekognition.us-east-1.amazonaws.com", "loopback": False, "emulator": False}
        for session in report["analyzer"]["recorded_with"]:
            session.update(vendor)
        for session in report["analyzer"].get("recording_sessions", []):
            session.update(endpoint=vendor["endpoint"], endpoint_class="vendor")
        report["analyzer"]["endpoint_class"] = "vendor"
    page = render_html(report)
    assert page.count('class="banner"') == simulated + emulated
    assert ("Simulated analyzer output" in page) is simulated
    assert ("Emulated vendor API" in page) is emulated
    if emulated:
        assert "recorded and then replayed" in page
        assert "The vendor's service was not called" in page.replace("&#x27;", "'")


def test_every_check_and_group_appears_with_the_reports_figures(demo: dict[str, Any]) -> None:
    page = render_html(demo)
    assert demo["checks"], "the demo reports its checks"
    for check in demo["checks"]:
        section = _section(page, check["id"])
        badge = "skip" if check["verdict"] in ("not applicable", "not run") else check["verdict"]
        assert f'<span class="verdict v-{badge}">{check["verdict"]}</span>' in section
        for name, group in check["groups"].items():
            assert name in section
            assert f"{group['count']} / {group['n']}" in section
            assert f"{group['rate']:.3f} {_ci(group['ci'])}" in section  # the chart's label
        for c in check["comparisons"]:
            assert f"{c['difference']:.3f} {_ci(c['ci'])}" in section
            assert f">{c['tolerance']:g}<" in section
            if c["verdict"] == "inconclusive" and c["min_detectable"] is not None:
                assert f"a true gap of <b>{c['min_detectable']:.3f}</b> would fail with 80% power" in section


def test_demo_figures_match_the_hand_counts(demo: dict[str, Any]) -> None:
    """The demo's data card: 12 of 300 cis, 62 of 200 trans and 100 of 100 nonbinary photos misgendered."""
    section = _section(render_html(demo), "misgender_gap")
    for count, n in ((12, 300), (62, 200), (100, 100)):
        assert f"{count} / {n}" in section
        assert f">{count / n:.3f}<" in section  # the rate column of the groups table
    assert ">0.270" in section  # trans minus cis: 0.310 - 0.040


def test_verdict_table_names_the_deciding_comparison(demo: dict[str, Any]) -> None:
    page = render_html(demo)
    table = page[page.index("<h2>Verdicts</h2>") : page.index('<section class="check"')]
    for check in demo["checks"]:
        assert f'href="#check-{check["id"]}"' in table
        if not check["comparisons"]:
            continue  # transformation_invariance: not applicable to the demo, nothing compared
        # Every two groups are compared: the deciding comparison is named by both of its sides.
        deciding = next(
            c
            for c in check["comparisons"]
            if (c["group"], c["reference"]) == (check["deciding"], check["deciding_reference"])
        )
        row = table[table.index(f'href="#check-{check["id"]}"') :].split("</tr>")[0]
        assert f">{deciding['difference']:.3f}<" in row
        assert f">{_ci(deciding['ci'])}<" in row
        assert f'<span class="verdict v-{check["verdict"].replace(" ", "-")}">' in row


def test_skipped_checks_are_listed_with_their_reason(demo: dict[str, Any], hostile: dict[str, Any]) -> None:
    page = render_html(demo)
    for skipped in demo["skipped"]:
        row = page[page.index(f"<code>{skipped['id']}</code>") :].split("</tr>")[0]
        assert "not run" in row
        assert html.escape(skipped["reason"], quote=True) in row
    assert "&lt;b&gt;nobody&lt;/b&gt; has two photos" in render_html(hostile)


def test_hostile_values_appear_only_escaped(hostile: dict[str, Any]) -> None:
    page = render_html(hostile)
    assert "<script" not in page
    # "onerror=" survives only as text: its quotes and angle brackets are entities, so no attribute is made.
    assert 'onerror="' not in page
    assert "onerror=alert" not in page.replace("&lt;img src=x onerror=alert(2)&gt;", "")
    assert "<img" not in page
    assert "<b>nobody" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "x&quot; onerror=&quot;alert(1).png" in page
    assert "Vendor&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    parsed = _Page(page)
    assert not [name for name, _ in parsed.attrs if name.startswith("on")]
    assert "script" not in parsed.tags
    assert "img" not in parsed.tags
    assert "iframe" not in parsed.tags
    text = "".join(parsed.text)
    # A reader sees the names exactly as the data has them, in tables and in the charts' SVG text.
    for shown in (HOSTILE_GROUP, HOSTILE_PHOTO, HOSTILE_ANALYZER, HOSTILE_REASON):
        assert shown in text, shown
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert any(name == "aria-label" and value and HOSTILE_GROUP in value for name, value in parsed.attrs)


def test_no_javascript_urls(hostile: dict[str, Any]) -> None:
    page = render_html(hostile)
    for _, value in _Page(page).attrs:
        assert not (value or "").strip().lower().startswith("javascript:"), value
    assert "&lt;iframe src=javascript:alert(3)&gt;" in page  # the reason is shown, as text


def _with_sweep(report: Mapping[str, Any], sweep: list[dict[str, Any]]) -> dict[str, Any]:
    out = copy.deepcopy(dict(report))
    out["checks"][0]["details"]["sweep"] = sweep
    return out


def test_sweep_draws_one_line_per_group(demo: dict[str, Any]) -> None:
    sweep = [
        {"threshold": 80, "groups": {"cis": 0.05, "trans": 0.12, HOSTILE_GROUP: 0.2}},
        {"threshold": 90, "groups": {"cis": 0.02, "trans": 0.06, HOSTILE_GROUP: None}},
        {"threshold": 95, "groups": {"cis": 0.01, "trans": 0.03, HOSTILE_GROUP: 0.1}},
        {"threshold": 99, "groups": {"cis": 0.0, "trans": 0.01, HOSTILE_GROUP: 0.05}},
    ]
    page = render_html(_with_sweep(demo, sweep))
    section = _section(page, demo["checks"][0]["id"])
    lines = re.findall(r'<polyline points="([^"]*)"', section)
    assert len(lines) == 3
    assert [len(points.split()) for points in lines] == [4, 4, 3]  # a missing rate is left out, not drawn as 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert "<script" not in page
    for threshold in ("80", "90", "95", "99"):
        assert f">{threshold}</text>" in section


def test_no_sweep_draws_no_lines(demo: dict[str, Any]) -> None:
    assert "<polyline" not in render_html(demo)
    assert "<polyline" not in render_html(_with_sweep(demo, []))


def test_photos_not_analysed_listed_up_to_fifty_then_counted(hostile: dict[str, Any]) -> None:
    report = copy.deepcopy(hostile)
    report["photos"] = [{"photo": f"img/e{i:03d}.png", "outcome": "no_face"} for i in range(63)]
    report["outcomes"] = {"analysed": 0, "no_face": 63, "error": 0}
    page = render_html(report)
    listed = re.findall(r"img/e\d{3}\.png", page)
    assert listed == [f"img/e{i:03d}.png" for i in range(50)]
    assert "and 13 more; every photo is in report.json." in page
    assert ">63<" in page


def test_methods_cite_what_the_report_used(demo: dict[str, Any]) -> None:
    methods = render_html(demo).split('<section id="methods">')[1].split("</section>")[0]
    for source in ("Clopper, C. J.", "Newcombe, R. G. (1998)", "Holm, S. (1979)", "Fisher, R. A. (1935)"):
        assert source in methods
    assert "Korn, E. L., &amp; Graubard, B. I. (1998)" in methods  # effective sizes of clustered photos
    assert "Berger, R. L. (1982)" in methods  # a pass is an intersection-union test
    assert "Zou, G. Y., &amp; Donner, A. (2008)" in methods  # an inconclusive check's detectable gap
    # Neither Wilson limits, Bonferroni, the bootstrap nor Boschloo was used by the default policy.
    assert "Wilson, E. B." not in methods
    assert "Dunn, O. J." not in methods
    assert "Efron" not in methods
    assert "Boschloo" not in methods


def test_provenance_names_data_analyzer_policy_and_the_command(demo: dict[str, Any]) -> None:
    provenance = render_html(demo).split('<section id="provenance">')[1]
    analyzer, dataset, run = demo["analyzer"], demo["dataset"], demo["run"]
    for value in (
        dataset["content_hash"],
        analyzer["name"],
        analyzer["botocore"],
        analyzer["boto3"],
        analyzer["recorded_with"][0]["endpoint"],
        demo["policy"]["profile"],
        demo["policy"]["source"],
        str(demo["seed"]),
        demo["kit_version"],
        run["python"],
        run["pytest"],
        run["command"],
    ):
        assert value in provenance, value
    assert "<dt>record mode</dt><dd>none</dd>" in provenance
    assert "<dt>simulated output</dt><dd>yes</dd>" in provenance
    assert "<dt>emulated API</dt><dd>yes</dd>" in provenance


def test_a_check_made_at_several_thresholds_gets_one_section_each(demo: dict[str, Any]) -> None:
    report = copy.deepcopy(demo)
    first = report["checks"][0]
    at_80, at_90 = copy.deepcopy(first), copy.deepcopy(first)
    at_80["threshold"], at_90["threshold"] = 80.0, 90.0
    at_90["details"]["binding"] = True
    report["checks"][:1] = [at_80, at_90]
    page = render_html(report)
    ids = re.findall(r'\bid="([^"]*)"', page)
    assert len(ids) == len(set(ids))
    assert f'id="check-{first["id"]}-80"' in page
    assert f'id="check-{first["id"]}-90"' in page
    assert f"<code>{first['id']}</code> at 80 <span" in page
    assert f"<code>{first['id']}</code> at 90 (binding) <span" in page


def test_gallery_photos_are_not_listed_as_trouble(hostile: dict[str, Any]) -> None:
    report = copy.deepcopy(hostile)
    report["photos"] = [{"photo": "img/g001.png", "outcome": "enrolled", "role": "gallery"}]
    report["outcomes"] = {"analysed": 0, "no_face": 0, "error": 0, "enrolled": 1}
    page = render_html(report)
    assert "Photos not analysed" not in page
    assert "img/g001.png" not in page
    assert "enrolled in the gallery" in page


def test_a_companion_measure_is_shown_as_tables_not_as_a_dump(demo: dict[str, Any]) -> None:
    """misgender_gap's companion ("not correctly gendered") has groups and comparisons like the check:
    the page shows them as two tables, with the demo's hand counts (12 of 300 cis, 62 of 200 trans,
    100 of 100 nonbinary: no abstentions in the demo, so the same as the misgendered counts)."""
    section = _section(render_html(demo), "misgender_gap")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))
    assert "companion: photos not correctly gendered" in text
    assert "cis 300 75 12 300 0.040 [0.016, 0.098]" in text
    assert "trans 200 50 62 200 0.310 [0.221, 0.433]" in text
    assert "companion: comparisons" in text
    assert "trans vs cis 0.270" in text
    assert "groups: cis: photos" not in text  # the dict written out as one line of text, as it was
    # Read as the check's own table reads: 100 of 100 is a rate of 1.000, and a Holm p of 6.3e-15 is not 0.000.
    assert "nonbinary 100 25 100 100 1.000 [0.845, 1.000]" in text
    companion = next(c for c in demo["checks"] if c["id"] == "misgender_gap")["details"]["companion"]
    p_nonbinary = next(c["p_adjusted"] for c in companion["comparisons"] if c["group"] == "nonbinary")
    assert p_nonbinary < 1e-10
    assert f"nonbinary vs cis 0.960 [0.799, 0.984] {p_nonbinary:.2g} 0.05 fail" in text


# -- what a new user reads first: why each inconclusive is inconclusive, the largest gap, missing answers ----


def _cohort_report(tmp_path: Path, shots: list[Any], **extra: Any) -> dict[str, Any]:
    """misgender_gap on cohorts against ``plain``, as a report.json dict."""
    observations = observe(tmp_path, shots)
    groups = group_labels(observations.dataset, ["cohort"])
    check = run_check("misgender_gap", observations, groups=groups, reference="plain", policy=load_policy(), seed=SEED)
    context = {
        "analyzer": {"name": "vendor", "adapter": "predictions", **extra.pop("analyzer", {})},
        "dataset": {"name": "cohorts", "photos": len(shots), "subjects": len(shots)},
        "grouping": {"by": ["cohort"], "reference": "plain"},
        "seed": SEED,
    }
    return build_report([check], context=context).to_json()


def _verdict_row(page: str, check_id: str) -> str:
    table = page[page.index("<h2>Verdicts</h2>") : page.index('<section class="check"')]
    return table[table.index(f'href="#check-{check_id}"') :].split("</tr>")[0]


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def test_an_inconclusive_check_says_why_in_the_verdicts_table(tmp_path: Path) -> None:
    # 5 people in the small cohort, under min_subjects = 10: inconclusive for that reason, not the interval's.
    shots = [
        *people("s", 5, identity="woman", misgendered=2, cohort="small"),
        *people("p", 40, identity="man", misgendered=1, cohort="plain"),
    ]
    report = _cohort_report(tmp_path, shots)
    (check,) = report["checks"]
    assert check["verdict"] == "inconclusive"
    row = _text(_verdict_row(render_html(report), "misgender_gap"))
    assert "inconclusive: fewer than 10 subjects behind a rate (small: 5, plain: 40)" in row
    assert "straddles" not in row


def test_an_inconclusive_comparison_without_a_note_says_its_interval_straddles(tmp_path: Path) -> None:
    # 40 against 40 people, 4 against 1 misgendered: a gap of 0.075 whose interval reaches both sides of 0.05.
    shots = [
        *people("w", 40, identity="woman", misgendered=4, cohort="cohort-w"),
        *people("p", 40, identity="man", misgendered=1, cohort="plain"),
    ]
    report = _cohort_report(tmp_path, shots)
    ((comparison,),) = [c["comparisons"] for c in report["checks"]]
    assert comparison["verdict"] == "inconclusive"
    assert not comparison.get("note")
    low, high = comparison["ci"]
    assert low < 0.05 < high  # it does straddle: the reason printed is the true one
    page = render_html(report)
    assert "inconclusive: the interval straddles the tolerance" in _text(_verdict_row(page, "misgender_gap"))
    # ... and in the check's own table, under the comparison's verdict.
    section = _section(page, "misgender_gap")
    rows = section[section.index("<th>comparison</th>") :]
    assert "inconclusive the interval straddles the tolerance" in " ".join(_text(rows).split())


def test_the_largest_gap_is_named_beside_the_verdict_it_did_not_decide(tmp_path: Path) -> None:
    # "wide" fails on 40 people (20 of 40 misgendered); "few" is worse (5 of 5) but too few people to decide.
    shots = [
        *people("w", 40, identity="woman", misgendered=20, cohort="wide"),
        *people("f", 5, identity="woman", misgendered=5, cohort="few"),
        *people("p", 40, identity="man", misgendered=0, cohort="plain"),
    ]
    report = _cohort_report(tmp_path, shots)
    (check,) = report["checks"]
    assert check["verdict"] == "fail"
    assert check["deciding"] == "wide"
    row = _text(_verdict_row(render_html(report), "misgender_gap"))
    # 5/5 against 0/40: a gap of exactly 1.000, as report.md's headline names it.
    assert "largest gap: few vs plain +1.000" in row
    assert "(inconclusive: fewer than 10 subjects behind a rate (few: 5, plain: 40)" in row


def test_missing_predictions_are_named_at_the_top_and_in_the_photos(tmp_path: Path) -> None:
    note = "vendor.jsonl has no prediction for 2 of 45 photos ('img/a.png', 'img/b.png'); each counts as an error"
    shots = [*people("s", 5, identity="woman", cohort="small"), *people("p", 40, identity="man", cohort="plain")]
    report = _cohort_report(tmp_path, shots, analyzer={"missing_predictions": {"count": 2, "note": note}})
    page = render_html(report)
    headline = page.index('<section class="headline"')
    banner = page.index("<strong>Missing predictions</strong>")
    assert banner < headline  # read before the verdict, as the console prints it above the verdicts
    assert note.replace("'", "&#x27;") in page[banner:headline]
    photos = page[page.index('<section id="photos">') :]
    assert "<strong>Missing predictions.</strong> " + note.replace("'", "&#x27;") in photos


def test_comparisons_with_no_gap_to_draw_are_a_table_not_an_empty_chart(demo: dict[str, Any]) -> None:
    # Seen in the astronaut report (user4): every comparison not applicable drew a chart of "n/a" rows.
    report = copy.deepcopy(demo)
    check = next(c for c in report["checks"] if c["id"] == "misgender_gap")
    for comparison in check["comparisons"]:
        comparison.update(difference=None, ci=None, verdict="not applicable")
    section = _section(render_html(report), "misgender_gap")
    assert "Gaps against the tolerance" not in section
    assert "<h3>Comparisons</h3>" in section
    assert "not applicable" in section.lower()
    # With a gap to draw, the chart stays.
    assert "Gaps against the tolerance" in _section(render_html(demo), "misgender_gap")
