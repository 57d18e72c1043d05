"""CI log spoofing (issue 15, items 1 and 9): whatever a manifest, a predictions file, a vendor or an argument
holds, every line the kit prints is one inert line, and the JUnit XML and report.md stay well-formed.

A value printed raw could start a line of its own: ``::error::...``, ``::add-mask::...`` and
``::stop-commands::`` make GitHub Actions annotate, hide or stop reading the log; ``##vso[...]`` and
``##[error]`` do as much on Azure Pipelines; an escape sequence rewrites the terminal and a bidi override
reorders what a reviewer reads. The rule tested here is written out independently of the kit's escaping
function (:func:`unsafe`, from Unicode categories): no control character (C0, C1, a lone surrogate), no
line or paragraph separator, no bidi control, no line starting with ``::`` after blanks, no ``##[`` or
``##vso[`` anywhere. Output is read raw (subprocess bytes, or ``capsys`` around an inline pytest run),
never through ``splitlines()``, which would split on the very characters looked for.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from itertools import count
from pathlib import Path
from typing import Any

# pytester's inline runs forget modules first imported inside them, and numpy cannot load twice in one
# process: the kit's heavy dependencies are imported here, before any inline run.
import numpy  # noqa: F401
import pytest
import scipy.stats  # noqa: F401
import statsmodels.stats.proportion  # noqa: F401
from builders import _distinct
from builders import _png as builders_png
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conformance._text import printable, printable_lines
from conformance.cli import main
from conformance.plugin import OPT_ANALYZER, OPT_DATASET, OPT_GROUP_BY, OPT_REFERENCE, OPT_REPORT_DIR

pytest_plugins = ["pytester"]

BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# One value that tries everything at once: a newline and a carriage return that start workflow commands,
# an ANSI colour and an OSC title sequence, a bidi override, a line separator, Azure's commands.
EVIL = "x\n::error::pwned\r::add-mask::k\x1b[31m\x1b]0;t\x07\u202eevil\u2028##[error]y ##vso[task.complete]"


def unsafe(line: str) -> str | None:
    """Why ``line`` (no newline in it: the caller split on ``\\n`` only) is unsafe in a CI log, or None."""
    for char in line:
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Zl", "Zp") or char in BIDI:
            return f"U+{ord(char):04X} ({category})"
    if line.lstrip().startswith("::"):
        return "starts with :: (a GitHub workflow command)"
    if "##[" in line or "##vso[" in line.lower():
        return "holds ##[ or ##vso[ (an Azure Pipelines command)"
    return None


def assert_safe(text: str, what: str) -> None:
    lines = text.split("\n")
    bad = [(i + 1, why, line[:120]) for i, line in enumerate(lines) if (why := unsafe(line)) is not None]
    assert not bad, f"{what}: {len(bad)} unsafe line(s), first: {bad[0]}"


# -- the escaping function, by hand ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("cis", "cis"),
        ("a\nb", "a\\x0ab"),
        ("a\r\nb", "a\\x0d\\x0ab"),
        ("tab\there", "tab\\x09here"),
        ("\x1b[2J", "\\x1b[2J"),
        ("\x85next", "\\x85next"),  # NEL, a C1 control some viewers break lines at
        ("\u2028\u2029", "\\u2028\\u2029"),
        ("\u202eevil", "\\u202eevil"),
        ("\u2066a\u2069", "\\u2066a\\u2069"),
        ("\udc80", "\\udc80"),  # a lone surrogate (a path's undecodable byte): printing it would raise
        ("::error::x", "\\x3a:error::x"),
        ("  ::warning::x", "  \\x3a:warning::x"),  # GitHub trims blanks before looking
        ("a ::error:: mid-line", "a ::error:: mid-line"),  # only a line's start is a command
        ("##[error]x", "\\x23#[error]x"),
        ("see ##vso[task.setvariable]", "see \\x23#vso[task.setvariable]"),
        ("C:\\data\\p.png", "C:\\data\\p.png"),  # backslashes stay: a Windows path reads as typed
        ("é 中文 👩🏽‍🦱", "é 中文 👩🏽‍🦱"),  # letters and emoji (a zero-width joiner) are not controls
        (12.5, "12.5"),
    ],
)
def test_printable_by_hand(value: object, shown: str) -> None:
    assert printable(value) == shown


def test_printable_lines_keeps_the_kits_line_breaks_only() -> None:
    assert printable_lines("table\n  ::row\n##[x") == "table\n  \\x3a:row\n\\x23#[x"


@given(st.text())
def test_printable_is_one_safe_line_and_idempotent(text: str) -> None:
    once = printable(text)
    assert unsafe(once) is None
    assert "\n" not in once
    assert printable(once) == once


# -- a hostile dataset -------------------------------------------------------------------------------


def hostile_dataset(
    root: Path,
    *,
    group: str = EVIL,
    column: str = "team",
    analyzer: str = "acme\n::error::fake",
    version: str = "1\x1b]0;title\x07",
    photo: str = "img/\n::error::photo.png",
    reason: str = "boom\n::add-mask::secret",
    people: int = 12,
) -> tuple[Path, Path]:
    """(manifest.jsonl, predictions.jsonl): ``people`` in group "blue" and as many in ``group`` (column
    ``column``), one photo each; the hostile group is misgendered 6 times out of 12, blue once. One more
    photo, at path ``photo``, is an error with ``reason``; the header names ``analyzer`` ``version``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "img").mkdir(exist_ok=True)
    png = builders_png()
    rows, lines = [], [json.dumps({"analyzer": analyzer, "version": version, "vocabulary": ["Male", "Female"]})]
    for g, team in enumerate(("blue", group)):
        for person in range(people):
            path = f"img/{g}-{person}.png"
            (root / path).write_bytes(_distinct(png, g * people + person))  # each person's own image
            wrong = person < (1 if team == "blue" else people // 2)
            rows.append(
                {"photo": path, "subject": f"s{g}-{person}", "gender_identity": "woman", "trans": "no", column: team}
            )
            face = {"gender": "Male" if wrong else "Female", "confidence": 90.0, "box": [0.1, 0.1, 0.8, 0.8]}
            lines.append(json.dumps({"photo": path, "faces": [face]}))
    (root / photo).parent.mkdir(parents=True, exist_ok=True)
    (root / photo).write_bytes(_distinct(png, 2 * people))
    rows.append({"photo": photo, "subject": "s-odd", "gender_identity": "woman", "trans": "no", column: "blue"})
    lines.append(json.dumps({"photo": photo, "error": reason}))
    manifest, predictions = root / "manifest.jsonl", root / "predictions.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    predictions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest, predictions


def _conformance(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``conformance ARGS`` as a user runs it; stdout and stderr as the bytes written."""
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``conformance run`` on the hostile dataset, grouped by the hostile column, JUnit XML written too."""
    root = tmp_path_factory.mktemp("hostile")
    manifest, predictions = hostile_dataset(root, column="team\x1b[0m")
    out = root / "out"
    done = _conformance(
        root,
        "run",
        "--dataset",
        str(manifest),
        "--analyzer",
        f"predictions:{predictions}",
        "--group-by",
        "team\x1b[0m",
        "--reference",
        "blue",
        "--report-dir",
        str(out),
        "--",
        f"--junitxml={root / 'junit.xml'}",
        "-rA",
    )
    return {"done": done, "root": root, "out": out, "manifest": manifest, "predictions": predictions}


def test_a_hostile_run_prints_every_value_escaped_on_its_line(hostile_run: dict[str, Any]) -> None:
    done = hostile_run["done"]
    assert done.returncode == 1, done.stderr.decode()
    stdout, stderr = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")
    assert_safe(stdout, "stdout")
    assert_safe(stderr, "stderr")
    # The values are there, shown for what they are: in the verdicts, the failure tables and the footer.
    assert "x\\x0a::error::pwned\\x0d::add-mask::k\\x1b[31m\\x1b]0;t\\x07\\u202eevil\\u2028\\x23#[error]y" in stdout
    assert "acme\\x0a::error::fake 1\\x1b]0;title\\x07" in stdout
    assert "--conformance-group-by='team\\x1b[0m'" in stdout  # the header's reproduce line
    assert "conformance verdicts" in stdout
    assert "conformance verdict: FAIL" in stdout


def test_report_md_of_a_hostile_run_keeps_its_tables_and_runs_no_command(hostile_run: dict[str, Any]) -> None:
    text = (hostile_run["out"] / "report.md").read_text(encoding="utf-8")
    assert_safe(text, "report.md")
    # Every row of every table has as many cell separators (pipes not escaped) as its header.
    table: list[int] = []
    for line in [*text.split("\n"), ""]:
        if line.startswith("|"):
            table.append(len(re.findall(r"(?<!\\)\|", line)))
        elif table:
            assert len(set(table)) == 1, f"a table row broken by a value: {table}"
            table = []
    # Markdown-escaped on top of the escapes: the backslash of \x0a is doubled, so GitHub shows "\x0a".
    assert "| img/\\\\x0a::error::photo.png | error | boom\\\\x0a::add-mask::secret |" in text


def test_junit_xml_is_well_formed_with_control_characters_in_group_names(hostile_run: dict[str, Any]) -> None:
    """Issue 15, item 9: pytest escapes a property's value for XML but not its name, which held the group."""
    tree = ET.parse(hostile_run["root"] / "junit.xml")  # raised "not well-formed (invalid token)" before
    names = [p.get("name", "") for p in tree.iter("property")]
    gap = "conformance.misgender_gap.x\\x0a::error::pwned\\x0d::add-mask::k\\x1b[31m"
    assert any(name.startswith(gap) and name.endswith(".gap") for name in names), names
    for name in names:
        assert unsafe(name) is None, name


def test_junit_xml_with_a_nul_and_a_noncharacter_in_a_group_name(pytester: pytest.Pytester) -> None:
    manifest, predictions = hostile_dataset(pytester.path / "data", group="a\x00b\ufffe\uffff")
    xml = pytester.path / "junit.xml"
    pytester.inline_run(
        "--pyargs",
        "conformance.suite",
        f"{OPT_DATASET}={manifest}",
        f"{OPT_ANALYZER}=predictions:{predictions}",
        f"{OPT_GROUP_BY}=team",
        f"{OPT_REFERENCE}=blue",
        f"--junitxml={xml}",
    )
    names = [p.get("name", "") for p in ET.parse(xml).iter("property")]
    assert "conformance.misgender_gap.a\\x00b#xFFFE#xFFFF.rate" in names


# -- conformance: error: lines, compare and verify ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["--group-by", "team\x1b[2J\n::error::x"], "team\\x1b[2J\\n::error::x"),  # quoted as repr quotes
        (["--group-by", "team", "--reference", "nobody"], "(groups: blue, x\\x0a::error::pwned\\x0d"),
        (["--group-by", "team", "--policy", "nowhere\u202e.toml"], "nowhere\\u202e.toml"),
    ],
)
def test_usage_errors_name_the_value_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], shown: str
) -> None:
    manifest, predictions = hostile_dataset(tmp_path / "data")
    code = main(["run", "--dataset", str(manifest), "--analyzer", f"predictions:{predictions}", *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("conformance: error: ")
    assert shown in err
    assert_safe(err.rstrip("\n"), "stderr")
    assert err.count("\n") == 1


def test_a_column_name_with_escapes_is_named_escaped_in_the_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, predictions = hostile_dataset(tmp_path / "data", column="group\x1b[31m")
    # Grouping by a column that is not there lists those that are: the hostile one among them.
    code = main(["run", "--dataset", str(manifest), "--analyzer", f"predictions:{predictions}", "--group-by", "x"])
    err = capsys.readouterr().err
    assert code == 2
    assert "group\\x1b[31m" in err
    assert_safe(err.rstrip("\n"), "stderr")


def test_argparse_errors_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["compare", "a.json", "--\n::error::nope"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "\\x0a::error::nope" in err
    assert_safe(err.rstrip("\n"), "stderr")


def test_compare_of_hostile_reports_prints_safe_lines(hostile_run: dict[str, Any]) -> None:
    report = hostile_run["out"] / "report.json"
    other = hostile_run["root"] / "other.json"
    data = json.loads(report.read_text(encoding="utf-8"))
    data["analyzer"]["name"] = "::error::rival\n##[error]"
    other.write_text(json.dumps(data), encoding="utf-8")
    done = _conformance(hostile_run["root"], "compare", str(report), str(other))
    assert done.returncode == 0, done.stderr.decode()
    stdout = done.stdout.decode("utf-8")
    assert_safe(stdout, "compare")
    assert "\\\\x3a:error::rival\\\\x0a\\\\x23\\#\\[error\\]" in stdout  # escaped, then Markdown-escaped


def test_verify_of_a_hostile_report_prints_safe_lines(hostile_run: dict[str, Any]) -> None:
    report = json.loads((hostile_run["out"] / "report.json").read_text(encoding="utf-8"))
    assert _conformance(hostile_run["root"], "verify", str(hostile_run["out"] / "report.json")).returncode == 0
    # An edited group figure is a difference the table names, by its (hostile) group.
    check = next(c for c in report["checks"] if c["id"] == "misgender_gap")
    check["groups"][EVIL]["count"] += 1
    edited = hostile_run["root"] / "edited.json"
    edited.write_text(json.dumps(report), encoding="utf-8")
    done = _conformance(hostile_run["root"], "verify", str(edited))
    stdout = done.stdout.decode("utf-8")
    assert done.returncode == 1, stdout
    assert_safe(stdout, "verify")
    assert "x\\x0a::error::pwned" in stdout


# -- the fuzz target: arbitrary text through the real plugin ---------------------------------------------

# Pieces that reach for a CI command or a control character, mixed with any other text.
PIECES = [
    "\n",
    "\r",
    "\r\n",
    "::",
    "::error::",
    "::add-mask::",
    "::stop-commands::",
    "##[",
    "##vso[",
    "\x1b[",
    "\u202e",
    "\u2028",
    "\x85",
    " ",
    "|",
    "`",
]
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)  # a manifest is UTF-8: no lone surrogates
HOSTILE = st.lists(st.one_of(st.sampled_from(PIECES), TEXT), max_size=5).map("".join)
# A column --group-by can name (a comma would split it in two) and a photo's file name (anything a POSIX file
# name holds: no "/" nor NUL), mapped rather than filtered so that every draw is used.
NAME = HOSTILE.map(lambda s: s.replace(",", ";") or "c")
STEM = HOSTILE.map(lambda s: s.replace("/", "_").replace("\x00", "_")[:40]).map(
    lambda s: "p" + s if s in ("", ".", "..") else s
)

_runs = count()


@pytest.fixture
def inline(pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run the suite inline; return everything it printed (stdout and stderr) raw, and its JUnit XML."""

    def run(args: Sequence[str]) -> tuple[str, str, Path]:
        xml = pytester.path / f"junit-{next(_runs)}.xml"
        capsys.readouterr()
        pytester.inline_run(
            "--pyargs", "conformance.suite", f"--junitxml={xml}", "-rA", "-p", "no:cacheprovider", *args
        )
        captured = capsys.readouterr()
        return captured.out, captured.err, xml

    return run


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(group=HOSTILE, column=NAME, analyzer=HOSTILE, version=HOSTILE, stem=STEM, reason=HOSTILE, reference=HOSTILE)
def test_fuzz_every_line_the_plugin_prints_is_safe(
    inline: Any, tmp_path_factory: pytest.TempPathFactory, **values: str
) -> None:
    """Arbitrary text as a group name, the grouping column's name, the analyzer's name and version, a photo's
    file name, a vendor's error and the --reference argument: every line printed is safe, the JUnit XML parses,
    and report.md has no unsafe line either."""
    root = tmp_path_factory.mktemp("fuzz")
    manifest, predictions = hostile_dataset(
        root,
        group=values["group"] or "g",
        column=values["column"],
        analyzer=values["analyzer"],
        version=values["version"],
        photo=f"img/{values['stem']}.png",
        reason=values["reason"],
        people=10,
    )
    # Half the time the reference is the hostile group itself, so the run gets to its checks and summary.
    reference = values["reference"] if len(values["reference"]) % 2 else "blue"
    out, err, xml = inline(
        [
            f"{OPT_DATASET}={manifest}",
            f"{OPT_ANALYZER}=predictions:{predictions}",
            f"{OPT_GROUP_BY}={values['column']}",
            f"{OPT_REFERENCE}={reference}",
            f"{OPT_REPORT_DIR}={root / 'out'}",
        ]
    )
    event("reached the verdicts" if "conformance verdicts" in out else "stopped before the checks")
    assert_safe(out, "stdout")
    assert_safe(err, "stderr")
    if xml.exists():
        ET.parse(xml)
    if (root / "out" / "report.md").exists():
        assert_safe((root / "out" / "report.md").read_text(encoding="utf-8"), "report.md")
