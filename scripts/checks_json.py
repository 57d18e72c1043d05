"""Write (or check) the JSON excerpts of docs/reference/checks.md from a run of the shipped demo.

    python scripts/checks_json.py            # run the demo offline, rewrite the excerpts
    python scripts/checks_json.py --check    # exit 1, naming each excerpt that differs from the run

The page shows, under each check's heading, parts of that check's entry in the demo's report.json: a
group's figures (``{"cis": {...}}``), a comparison (an object with ``group`` and ``reference``), or
the check's own fields (an object with ``measure``: the keys the page shows, in its order). Each is
the run's, whole: a field the code adds appears on the page at the next rewrite, and ``--check``
(``tests/test_checks_reference.py``) fails until it does. The one excerpt that is a whole check
(``transformation_invariance``, made by the ``local`` model on ``fixtures/astronaut``, which the
demo cannot make) is left as it is. botocore's version in a vocabulary's ``source`` is not compared.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "reference" / "checks.md"
HEADING = re.compile(r"^## `(?P<check>\w+)`")
# Whole checks from another run than the demo's: shown as they are.
ELSEWHERE = ("transformation_invariance",)
_BOTOCORE = re.compile(r"botocore \d+(\.\d+)+")


@dataclass(frozen=True)
class Excerpt:
    check: str
    start: int  # index of the first line of the JSON (after the fence)
    end: int  # index of the closing fence
    shown: Any


def excerpts(lines: list[str]) -> list[Excerpt]:
    """Every ```json block of the page with the check whose section holds it."""
    found, check, i = [], "", 0
    while i < len(lines):
        heading = HEADING.match(lines[i])
        if heading:
            check = heading["check"]
        if lines[i] == "```json":
            end = lines.index("```", i + 1)
            found.append(Excerpt(check, i + 1, end, json.loads("\n".join(lines[i + 1 : end]))))
            i = end
        i += 1
    return found


def expected(excerpt: Excerpt, report: dict[str, Any]) -> Any:
    """What the run says for the part of its report the excerpt shows (None: shown as it is)."""
    if excerpt.check in ELSEWHERE:
        return None
    found = [c for c in report["checks"] if c["id"] == excerpt.check and "threshold" not in c]
    if len(found) != 1:
        raise SystemExit(f"checks.md: the demo's report has no single {excerpt.check!r} check")
    check = found[0]
    shown = excerpt.shown
    if "group" in shown and "reference" in shown:
        pairs = [
            c for c in check["comparisons"] if (c["group"], c["reference"]) == (shown["group"], shown["reference"])
        ]
        if len(pairs) != 1:
            raise SystemExit(f"checks.md: {excerpt.check} has no comparison {shown['group']} vs {shown['reference']}")
        return pairs[0]
    if "measure" in shown:
        return {key: check[key] for key in shown}
    return {name: check["groups"][name] for name in shown}


def _comparable(value: Any) -> str:
    return _BOTOCORE.sub("botocore x", json.dumps(value, indent=2, ensure_ascii=False))


def differences(lines: list[str], report: dict[str, Any]) -> list[str]:
    """Each excerpt that is not the run's, as a line naming it and where."""
    out = []
    for excerpt in excerpts(lines):
        wanted = expected(excerpt, report)
        if wanted is not None and _comparable(excerpt.shown) != _comparable(wanted):
            out.append(f"checks.md line {excerpt.start}: the {excerpt.check} excerpt differs from the demo's report")
    return out


def rewrite(lines: list[str], report: dict[str, Any]) -> list[str]:
    """The page with every excerpt replaced by the run's (from the end, so earlier indexes hold)."""
    out = list(lines)
    for excerpt in reversed(excerpts(lines)):
        wanted = expected(excerpt, report)
        if wanted is not None:
            out[excerpt.start : excerpt.end] = json.dumps(wanted, indent=2, ensure_ascii=False).splitlines()
    return out


def demo_report() -> dict[str, Any]:
    """``conformance run`` on the shipped demo (offline, seeded), in a temporary folder: its report.json."""
    with tempfile.TemporaryDirectory(prefix="checks-json-") as folder:
        subprocess.run(
            [sys.executable, "-m", "conformance", "run", "--report-dir", "out"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,  # the demo fails its checks by design: exit 1
        )
        path = Path(folder) / "out" / "report.json"
        if not path.exists():
            raise SystemExit("the demo run wrote no report.json: run `conformance run` to see why")
        report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 where an excerpt differs from the run")
    args = parser.parse_args(argv)
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    report = demo_report()
    if args.check:
        found = differences(lines, report)
        print("\n".join(found) or "checks.md: every excerpt is the demo's")
        return 1 if found else 0
    PAGE.write_text("\n".join(rewrite(lines, report)) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
