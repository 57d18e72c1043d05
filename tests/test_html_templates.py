"""The HTML writers' templates and stylesheets: shipped as package data, escaping every value, bidi-safe.

report.html and ``conformance compare --html`` are Jinja2 templates (``conformance/reporting/
templates``) with the CSS of ``conformance/reporting/static`` inlined. What is pinned here: the wheel
declares both folders' files, the page inlines the shipped stylesheet, and no control character or
bidi override from a report reaches a page raw (issue 15, item 12: a group named ``"\\u202eevil"``
rendered as ``live``).
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from dataclasses import replace
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import tomllib
from builders import observe, people, typed

from conformance import group_labels, load_policy, run_check
from conformance.comparison.reports import compare_reports
from conformance.report import Report
from conformance.reporting import build_report
from conformance.reporting.compare import render_compare_html
from conformance.reporting.html import render_html

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "conformance" / "reporting"
SEED = 20261121

# Every character a value must not carry raw into a page: C0/C1 controls but tab and newline, the bidi
# marks, embeddings, overrides and isolates.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
EVIL = "\u202eevil"  # shown raw, a browser draws "live"
ISOLATED = "\u2067nuf\u2069"  # a right-to-left isolate around "nuf"
MARKED = "a\u200fb\u200ec"
TERMINAL = "x\x1b[2Jy"


class _Text(HTMLParser):
    """The text a reader sees (entities decoded), and the attribute values."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.attrs: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs += [value or "" for _, value in attrs]

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _rename(value: Any, names: dict[str, str]) -> Any:
    """``value`` (parsed JSON) with every string in ``names`` replaced, keys included."""
    if isinstance(value, dict):
        return {names.get(k, k): _rename(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, names) for v in value]
    if isinstance(value, str):
        return names.get(value, value)
    return value


@pytest.fixture(scope="module")
def bidi_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """Real checks on two cohorts, then the cohorts, analyzer, notes, photo and reason given bidi controls.

    A report is a file anyone can write: the page must be safe whatever it holds, so the names are set
    in the report's JSON rather than through a manifest.
    """
    shots = [
        *people("e", 30, identity="woman", misgendered=9, errors=2, cohort="evil"),
        *people("p", 30, identity="man", misgendered=1, cohort="plain"),
    ]
    observations = observe(tmp_path_factory.mktemp("bidi"), shots)
    groups = group_labels(observations.dataset, ["cohort"])
    checks = [
        run_check(check_id, observations, groups=groups, reference="plain", policy=load_policy(), seed=SEED)
        for check_id in ("misgender_gap", "detection_failure_gap")
    ]
    checks[0] = replace(checks[0], notes=(*checks[0].notes, f"note {ISOLATED}"))
    context = {
        "analyzer": {"name": f"Vendor {MARKED}", "adapter": "predictions", "version": TERMINAL},
        "dataset": {"name": EVIL, "photos": 60, "subjects": 60, "content_hash": "sha256:00"},
        "grouping": {"by": ["cohort"], "reference": "plain"},
        "outcomes": {"analysed": 58, "no_face": 0, "error": 2},
        "photos": [{"photo": f"img/{EVIL}.png", "outcome": "error", "reason": f"timed out {ISOLATED}"}],
        "seed": SEED,
    }
    skipped = [{"id": "same_person_consistency", "reason": f"nobody {EVIL} has two photos"}]
    report = build_report(checks, context=context, skipped=skipped).to_json()
    return Report.from_json(_rename(report, {"evil": EVIL}))


def test_package_data_declares_every_template_and_stylesheet() -> None:
    """``pip install .`` ships what the renderer reads: pyproject's package-data globs match every file."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["conformance.reporting"]
    files = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.glob("*/*") if p.parent.name in ("templates", "static")]
    assert {f.split("/")[0] for f in files} == {"templates", "static"}
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in declared), f"{name} is not in package-data"
    # The renderer reads them as package resources, not from the source tree's paths.
    shipped = resources.files("conformance.reporting")
    assert shipped.joinpath("templates", "report.html.j2").is_file()
    assert shipped.joinpath("static", "report.css").is_file()


def test_report_page_inlines_the_shipped_stylesheets(bidi_report: Report) -> None:
    page = render_html(bidi_report)
    for name in ("report.css", "biometrics.css"):
        css = (PACKAGE / "static" / name).read_text(encoding="utf-8")
        assert css in page, name
    assert page.count("<style>") == 1


def test_compare_page_inlines_its_stylesheet(bidi_report: Report) -> None:
    page = render_compare_html(compare_reports(typed(bidi_report, bidi_report)))
    assert (PACKAGE / "static" / "compare.css").read_text(encoding="utf-8") in page


@pytest.mark.parametrize("page_kind", ["report", "compare"])
def test_no_control_or_bidi_character_reaches_a_page_raw(bidi_report: Report, page_kind: str) -> None:
    page = (
        render_html(bidi_report)
        if page_kind == "report"
        else render_compare_html(compare_reports(typed(bidi_report, bidi_report), names=[EVIL, "plain run"]))
    )
    found = sorted({f"U+{ord(c):04X}" for c in RAW.findall(page)})
    assert found == [], f"raw control or bidi characters in the page: {found}"
    # The entity of an override is the override to a browser: none of those either.
    assert not re.search(r"&#(x0*202[a-e]|x0*206[6-9]|x0*200[ef]|0*82(3[4-8])|0*8(29[4-7]));", page, re.I)


def test_bidi_names_are_shown_as_escapes_where_they_appear(bidi_report: Report) -> None:
    page = render_html(bidi_report)
    parsed = _Text(page)
    # Read as the value is, with the override written out: never "live".
    for shown in ("\\u202eevil", "note \\u2067nuf\\u2069", "Vendor a\\u200fb\\u200ec", "x\\x1b[2Jy"):
        assert shown in parsed.text, shown
    assert "timed out \\u2067nuf\\u2069" in parsed.text
    assert "img/\\u202eevil.png" in parsed.text
    assert "nobody \\u202eevil has two photos" in parsed.text
    # In the charts' SVG text and labels, and in the verdicts table's comparison, as well.
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert "\\u202eevil" in svg
    assert any("\\u202eevil" in value for value in parsed.attrs)  # aria-label, title
    assert "\\u202eevil vs plain" in parsed.text


def test_compare_page_shows_bidi_names_as_escapes(bidi_report: Report) -> None:
    page = render_compare_html(compare_reports(typed(bidi_report, bidi_report), names=[EVIL, "plain run"]))
    text = _Text(page).text
    assert "\\u202eevil" in text
    assert "Vendor a\\u200fb\\u200ec" in text


def test_values_are_escaped_by_the_environment_not_only_by_callers() -> None:
    """A value a template places is escaped though no Python code escaped it first (autoescape)."""
    from markupsafe import Markup

    from conformance.comparison.values import ReportComparison, ReportSummary
    from conformance.reporting._html import escape

    assert escape("<b>&</b>") == Markup("&lt;b&gt;&amp;&lt;/b&gt;")
    assert escape(Markup("<svg/>")) == Markup("<svg/>")  # the kit's own charts pass as they are
    hostile = '<script>alert(1)</script>"'
    reports = tuple(ReportSummary(n, n, n, None, 1, "pass", "1") for n in (hostile, "other"))
    page = render_compare_html(ReportComparison(reports=reports, checks=(), warnings=(hostile,)))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;" in page


def test_importing_the_kit_or_its_writers_does_not_import_jinja2() -> None:
    code = (
        "import sys, conformance, conformance.plugin, conformance.reporting, conformance.reporting.compare,"
        " conformance.comparison.reports, conformance.comparison.gate\n"
        "print(json.dumps([m for m in ('jinja2',) if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(done.stdout) == []
