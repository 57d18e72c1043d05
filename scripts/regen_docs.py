"""Run every documented command at HEAD and write its output into the docs; or check that they agree.

    python scripts/regen_docs.py            # run each marked block's commands, rewrite their outputs
    python scripts/regen_docs.py --check    # exit 1, with a diff, where a page's output drifted materially
    python scripts/regen_docs.py --list     # the marked blocks, page by page
    python scripts/regen_docs.py --check --page tutorial.md --docs DIR   # one page, of another docs folder

A block is marked by an HTML comment on the line before its fence, which Markdown does not show::

    <!-- regen session=tutorial -->
    ```console
    $ conformance run
    (everything below a "$ " line is that command's output, written by this script)
    ```

What the comment may say (``key=value`` words, quoted as a shell quotes them):

``session=NAME``
    the commands run in a folder of that name, fresh at the start of a run of this script and shared
    by every block of the session, on every page, in the order of :data:`PAGES` (a later page can use
    what an earlier one made). It appears in outputs as ``/tmp/docs/NAME``.
``file=PATH``
    the block is not output but a file of the example: it is written to ``PATH`` in the session's
    folder (a manifest, a policy, a predictions file, a script), exactly as the page shows it.
``run=python``
    the block is Python the reader runs: it is run in the session's folder (its output not shown).
``before=COMMAND``
    a shell command run silently before the block (setting up what the page made elsewhere). This
    checkout is ``$REGEN_REPO`` there (its ``fixtures/``, the kit's source folder ``conformance/``).
``show=PATH``
    the block's content is the file ``PATH`` of the session's folder, as the commands before left it.
``from=REGEX``, ``to=REGEX``
    each command's output is cut to the lines from the first matching ``from`` up to and including
    the first matching ``to`` after it; ``...`` stands for what was cut.
``head=N``
    each command's output is cut to its first N lines, then ``...``.

Outputs are written as they came, with three substitutions so that pages do not depend on where
they were made: the session's folder is ``/tmp/docs/NAME``, the installed kit's package folder
``.../site-packages/conformance``, and this checkout ``.../conformance-kit``. ``--check`` compares
them after also blanking what changes from run to run or machine to machine and says nothing about
the kit: timings, pytest's platform and plugins lines, the ``created`` time of a report, version
numbers of pip's installs. Anything else that differs is material drift, and the check fails.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
# In the order their sessions build on each other (python-api.md uses own-dataset.md's files).
PAGES = (
    "tutorial.md",
    "how-to/own-dataset.md",
    "how-to/policies.md",
    "reference/python-api.md",
    "reference/report-schema.md",
    "reference/plugin.md",
    "reference/cli.md",
    "how-to/python-model.md",
    "how-to/face-matching.md",
    "how-to/plan.md",
    "how-to/regression-gate.md",
    "explanation/trust.md",
)
MARK = re.compile(r"^<!-- regen (?P<words>.*) -->$")
FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>.*)$")
COLUMNS = "100"  # pytest's line width in every output
SHOWN_ROOT = "/tmp/docs"


@dataclass
class Block:
    """One marked block of a page: its options, and where its body lies in the page's lines."""

    page: str
    options: dict[str, str]
    start: int  # the index of the first body line
    end: int  # the index of the closing fence
    body: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.start}"


def blocks(page: str, lines: list[str]) -> Iterator[Block]:
    """The marked blocks of a page, in order."""
    for number, line in enumerate(lines):
        mark = MARK.match(line)
        if not mark:
            continue
        fence = FENCE.match(lines[number + 1]) if number + 1 < len(lines) else None
        if fence is None:
            raise SystemExit(f"{page}:{number + 1}: a regen mark must be followed by a fenced block")
        closing = next(
            (i for i in range(number + 2, len(lines)) if lines[i].strip() == fence["fence"]),
            None,
        )
        if closing is None:
            raise SystemExit(f"{page}:{number + 1}: the block after this mark is not closed")
        options = dict(word.split("=", 1) for word in shlex.split(mark["words"]))
        if "session" not in options:
            raise SystemExit(f"{page}:{number + 1}: a regen mark needs session=NAME")
        yield Block(page, options, number + 2, closing, lines[number + 2 : closing])


@dataclass
class Sessions:
    """The sessions' folders, under one temporary folder that stands for ``/tmp/docs``."""

    root: Path

    def folder(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def kit_folder() -> Path:
    import conformance

    return Path(conformance.__file__).resolve().parent


def shown(text: str, root: Path) -> str:
    """``text`` with the paths that depend on where it was made replaced (see the module docstring)."""
    # pytest names files relative to its rootdir: ../../<the kit's folder without its leading slash>.
    kit = str(kit_folder())
    text = re.sub(r"(?:\.\./)+" + re.escape(kit.lstrip("/")), ".../site-packages/conformance", text)
    for real, shown_as in (
        (str(root), SHOWN_ROOT),
        (str(kit_folder()), ".../site-packages/conformance"),
        (str(REPO), ".../conformance-kit"),
        (str(Path(sys.prefix)), ".../venv"),
    ):
        text = text.replace(real, shown_as)
        # report.md escapes Markdown's characters in a path ("docs-k\_mpm15i"): that spelling too.
        escaped = re.sub(r"([_*\[\]`])", r"\\\1", real)
        if escaped != real:
            text = text.replace(escaped, shown_as)
    return text


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "GITHUB_", "CONFORMANCE_"))}
    # pytest prints whole short-summary lines when it thinks it runs on CI (CI or BUILD_NUMBER set); the
    # documented outputs are what a user sees at a terminal, so the check must not depend on where it runs.
    env.pop("CI", None)
    env.pop("BUILD_NUMBER", None)
    env.update(COLUMNS=COLUMNS, PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1", NO_COLOR="1", LC_ALL="C.UTF-8")
    env["REGEN_REPO"] = str(REPO)  # where a block's before= finds the checkout's fixtures and demo
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def commands(body: list[str]) -> list[str]:
    """The ``$ `` lines of a console block (a line ending in a backslash goes on to the next)."""
    out: list[str] = []
    joining = False
    for line in body:
        if joining:
            out[-1] += "\n" + line
            joining = line.endswith("\\")
        elif line.startswith("$ "):
            out.append(line[2:])
            joining = line.endswith("\\")
    return out


_MARKER = "@@regen-docs {}@@"


def run_commands(cwd: Path, words: list[str], before: str | None) -> list[str]:
    """Each command's output (stdout and stderr, as a terminal shows them), run one after the other in one shell.

    ``$?`` in a command is the previous command's exit status, as in the shell the page shows.
    """
    script = ["set +e", "__rc=0"]
    if before:
        script.append(f"{{ {before} ; }} >/dev/null 2>&1")
    for index, command in enumerate(words):
        script += [f"printf '%s\\n' '{_MARKER.format(index)}'", "(exit $__rc)", f"{command} 2>&1", "__rc=$?"]
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.stderr.strip():
        raise SystemExit(f"in {cwd}: the shell said {done.stderr.strip()}")
    outputs: list[str] = []
    parts = done.stdout.split("\n")
    current: list[str] | None = None
    for line in parts:
        if line.startswith("@@regen-docs ") and line.endswith("@@"):
            current = []
            outputs.append("")
            continue
        if current is not None:
            outputs[-1] += line + "\n"
    return [o.rstrip("\n") for o in outputs]


def cut(output: str, options: dict[str, str]) -> tuple[list[str], bool]:
    """An output's lines, cut as the block's options say, and whether ``from``/``to`` found their line.

    A ``from`` or ``to`` that matches nothing in one command's output leaves that output whole (a
    block's ``ls`` before its ``head``); one that matches in none of the block's outputs is an error.
    """
    lines = output.splitlines()
    found = True
    if "from" in options:
        start = next((i for i, line in enumerate(lines) if re.search(options["from"], line)), None)
        found = start is not None
        if start is not None:
            lines = (["..."] if start else []) + lines[start:]
    if "to" in options:
        end = next((i for i, line in enumerate(lines) if re.search(options["to"], line)), None)
        found = found and end is not None
        if end is not None:
            lines = lines[: end + 1] + (["..."] if end + 1 < len(lines) else [])
    if "head" in options and len(lines) > int(options["head"]):
        lines = [*lines[: int(options["head"])], "..."]
    return lines, found


def render(block: Block, sessions: Sessions) -> list[str]:
    """The block's new body (a file or Python block: as it is, after doing what it says)."""
    folder = sessions.folder(block.options["session"])
    if "file" in block.options:
        target = folder / block.options["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(block.body) + "\n", encoding="utf-8")
        return block.body
    if block.options.get("run") == "python":
        done = subprocess.run(
            [sys.executable, "-c", "\n".join(block.body)],
            cwd=folder,
            env=environment(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode:
            raise SystemExit(f"{block.where}: the page's Python failed:\n{done.stderr}")
        return block.body
    if "show" in block.options:
        if block.options.get("before"):
            run_commands(folder, [], block.options["before"])
        return shown((folder / block.options["show"]).read_text(encoding="utf-8"), sessions.root).splitlines()
    words = commands(block.body)
    if not words:
        raise SystemExit(f"{block.where}: a console block to regenerate needs '$ ' lines")
    out: list[str] = []
    matched = False
    for command, output in zip(words, run_commands(folder, words, block.options.get("before")), strict=True):
        lines, found = cut(shown(output, sessions.root), block.options)
        matched = matched or found
        out += ["$ " + command, *lines]
    if not matched:
        raise SystemExit(f"{block.where}: from=/to= match no line of the block's outputs:\n" + "\n".join(out))
    return out


# What changes from run to run or machine to machine and says nothing about the kit.
_UNSTABLE = [
    (re.compile(r"\bin \d+(\.\d+)?s( \(\d+:\d\d:\d\d\))?"), "in N s"),
    # pytest pads its summary line with "=" to the terminal width around a text whose length varies
    # with the time it took: the padding is as unstable as the time.
    (re.compile(r"^=+ (.*?) =+$", re.M), r"== \1 =="),
    (re.compile(r"^platform .*$", re.M), "platform ..."),
    (re.compile(r"^plugins: .*$", re.M), "plugins: ..."),
    (re.compile(r'"created": "[^"]*"'), '"created": "..."'),
    (re.compile(r"written \d{4}-\d\d-\d\dT[\d:+]+"), "written ..."),
    (re.compile(r"(Successfully installed|Installing collected packages:).*$", re.M), r"\1 ..."),
    (re.compile(r"python \d+\.\d+\.\d+; pytest \d+(\.\d+)+"), "python X; pytest X"),
    (re.compile(r"botocore \d+(\.\d+)+"), "botocore X"),
    (re.compile(r"Python \d+\.\d+\.\d+"), "Python X"),
    (re.compile(r"cache entry \S+"), "cache entry ..."),
    # Line numbers of the kit's own source (pytest --fixtures, tracebacks) move with every edit.
    (re.compile(r"(\.py):\d+"), r"\1:N"),
    (re.compile(r'(File "[^"]+", line )\d+'), r"\1N"),
    (re.compile(r"^(benchmark|cachedir|hypothesis profile): .*$", re.M), r"\1: ..."),
]


def normalised(lines: list[str]) -> list[str]:
    text = "\n".join(line.rstrip() for line in lines)
    for pattern, replacement in _UNSTABLE:
        text = pattern.sub(replacement, text)
    return text.splitlines()


# -- generated Markdown: tables made from the code, between <!-- regen:NAME --> and <!-- regen:end --> ------

# Every policy key (a field of conformance.policy.Policy but ``source``), what it may be and what it
# means. A key the code gains without an entry here stops this script: it has to be documented.
POLICY_KEYS: dict[str, tuple[str, str]] = {
    "profile": ("`default`, `ci`, `procurement`", "the profile the other keys modify"),
    "confidence": (
        "from 0.5 to 0.9999",
        "level of every interval (two-sided); each verdict direction is tested at one-sided "
        "`(1 - confidence)/2`: a wrong pass per comparison (a pass needs every comparison, so no adjustment), "
        "a wrong fail for the whole check (Holm across its comparisons)",
    ),
    "inconclusive": (
        "`fail`, `xfail`, `pass`",
        "what an inconclusive verdict does in pytest, and to the run's exit status (below)",
    ),
    "min_subjects": (
        "whole number, at least 1",
        "a comparison in which either rate rests on fewer subjects is inconclusive, whatever its interval",
    ),
    "interval": (
        "`clopper-pearson`, `wilson`",
        "the limits every rate and gap interval is built from (on effective counts when people have several "
        "photos). Wilson's are narrower; with `wilson` the intervals shown and the pass test read them, while "
        "every fail test still reads Clopper-Pearson limits (on Wilson limits a wrong fail reached 3.59% where "
        "2.5% was stated). A wrong pass on Wilson limits is nominal: within the stated rate at confidence 0.95 "
        "and 0.99 in the exact sums, 11.8% where 10% is stated at 0.8; reports say so "
        "([methodology](../explanation/methodology.md#per-group-intervals-clopper-pearson-or-wilson))",
    ),
    "exact_test": (
        "`fisher`, `boschloo`",
        "exact test of equal rates (`p_equal`), given only where every person has one unit; Boschloo only up to "
        "250 against 250, where it takes at most about a second of CPU (1.3 s at 125/250 against 125/250), "
        "Fisher's (also exact) above",
    ),
    "bootstrap": (
        "whole number, at least 100",
        "kept for existing policy files; no verdict uses a bootstrap since the effective-size intervals",
    ),
    "invariance_photos": (
        "whole number",
        "how many photos `transformation_invariance` transforms, spread over subjects (every subject's first "
        "photo, then second, ...); each costs `invariance_transforms` analyzer calls, billed for a live vendor",
    ),
    "invariance_transforms": (
        "whole number",
        "how many benign transformations are drawn (with the run's seed) for each of those photos",
    ),
    "binding_threshold": (
        "a similarity from 0 to 100",
        "face search (`false_match_gap`, `false_non_match_gap`): the similarity threshold whose result is the "
        "test's outcome, always among the thresholds reported (default 99, the vendor's own recommendation for "
        "such uses; [face-matching.md](face-matching.md)). The run's verdict, and its exit status, are still the "
        "worst over every threshold reported",
    ),
    "target_fmr": (
        "a rate or a list of rates, each strictly between 0 and 1",
        "1:1 comparison runs only (`embeddings:`, `scores:`, `local:embeddings`): the false-match rates each "
        "model's thresholds are fixed to; the first the data support binds. `--target-fmr` overrides it. A "
        "gender or face-search run ignores it, and its reports and console say so",
    ),
    "fmr_calibration": (
        "`overall`, `reference`",
        "1:1: the impostor comparisons a target FMR is read from: all of them, or the reference group's",
    ),
    "lost_comparisons": (
        "`fta_gap`, `worst_case`, `non_match`",
        "1:1: what comparisons that never happened (failure to acquire, a pair without a score) may do to a "
        "ratio: `fta_gap` lets it pass only when failure to acquire is shown within its tolerance and no pair "
        "lacks a score otherwise; `worst_case` only if it would also pass had each been an error; `non_match` "
        "counts them below every threshold (NIST's convention) and nothing more",
    ),
    "impostors": (
        "`all`, `same_group`",
        "1:1: which different-person comparisons count as impostors: any two people, or only two of the same "
        "group (demographically matched)",
    ),
    "ratio_tolerance": (
        "at least 1",
        "1:1 differential checks: a group's FMR or FNMR may differ from the reference's by this factor",
    ),
    "systematic_failures": (
        "whole number, 0 or more",
        "photos failing the same way in a row (or every one of the first this many) that stop a run with exit 2 "
        "and one message, as a fault of the setup rather than of the photos (an endpoint that is not the "
        "service, a proxy's error page, a missing permission); a run in which no face was found in any of at "
        "least 10 photos (or this many, if fewer) stops too; 0 never stops. Raise it for a dataset whose "
        "photos really are refused alike ([rekognition.md](rekognition.md#what-stops-a-run))",
    ),
    "direction": (
        "`pairwise`, `reference`",
        "which groups are compared, a disparity counting in either direction: every two groups (the largest "
        "disparity between any two decides), or each group against the reference",
    ),
    "min_coverage": (
        "a number from 0 to 1",
        "per group, the share of faces of women and men that must get a woman or man label for a comparison of "
        "`misgender_gap`, `same_person_consistency` or `confidence_calibration` to pass: below it abstentions, or "
        "the nonbinary label on women and men, could hide misgendering (nonbinary people are left out: no label "
        "is the right answer for them)",
    ),
    "declarations": (
        '`"trusted"` or `"inconclusive"`',
        "what the analyzer's own declaration may excuse: `confidence_calibration` of an analyzer that declares it "
        'gives no confidence (`"gives_confidence": false`). `"trusted"`: not applicable, and the verdict says so, '
        '*by the analyzer\'s declaration*; `"inconclusive"` (the `procurement` profile): inconclusive, since the '
        "data cannot tell an analyzer without confidences from confidences left out, and a buyer cannot accept a "
        "vendor's word for an exemption",
    ),
    "tolerance": (
        "a number above 0 and below 1 per check id (at 0 nothing could pass, at 1 everything would)",
        "largest acceptable gap, per check: {checks}",
    ),
    "identity": (
        'label = `"woman"`, `"man"`, `"nonbinary"` or `"undisclosed"`',
        "self-described labels added to the default identity map, a whole cell or one value of a multi-valued "
        "cell (an entry never overturns what the kit reads by itself: `'trans woman' = 'man'` is refused); "
        "see [own-dataset.md](own-dataset.md#identity-what-the-kit-reads-from-gender_identity-and-trans)",
    ),
}


def _toml(value: object) -> str:
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, tuple):
        return "`[" + ", ".join(f"{v:g}" for v in value) + "]`"
    if isinstance(value, float):
        return f"`{value:g}`"
    return f"`{value}`"


def policy_keys() -> list[str]:
    """The table of every policy key, its default (read from the code), what it may be and what it means."""
    from dataclasses import fields

    from conformance.policy import Policy

    defaults = Policy()
    keys = [f.name for f in fields(Policy) if f.name != "source"]
    missing = [k for k in keys if k not in POLICY_KEYS]
    if missing:
        raise SystemExit(f"policy key(s) {', '.join(missing)} have no entry in POLICY_KEYS of {Path(__file__).name}")
    rows = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    for key in keys:
        allowed, meaning = POLICY_KEYS[key]
        value = getattr(defaults, key)
        if key == "tolerance":
            from collections import Counter

            usual = Counter(value.values()).most_common(1)[0][0]
            others = "".join(f", {t:g} for `{c}`" for c, t in value.items() if t != usual)
            default = f"{usual:g} for every check{others}"
            meaning = meaning.format(checks=", ".join(f"`{c}`" for c in value))
            key = "[tool.conformance.tolerance]"
        elif key == "identity":
            default = "empty"
            key = "[tool.conformance.identity]"
        else:
            default = _toml(value)
        rows.append(f"| `{key}` | {default} | {allowed} | {meaning} |")
    return rows


def benchmark_results(name: str) -> list[str]:
    """A Monte Carlo benchmark's results file (``benchmarks/NAME-results.md``) as the docs show it: all but its title.

    The benchmark writes the file (its command, machine, commit, replicate counts and table); the docs copy it
    here, so that a rerun's figures reach the page by this script and ``--check`` notices a page left behind.
    """
    lines = (REPO / "benchmarks" / f"{name}-results.md").read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    while lines and not lines[0].strip():
        lines = lines[1:]
    return [
        f"<!-- written by `python scripts/regen_docs.py` from benchmarks/{name}-results.md; do not edit by hand -->",
        "",
        *lines,
    ]


def verdict_error_rates() -> list[str]:
    """methodology.md's Monte Carlo tables, from the results file benchmarks/verdict_error_rates.py wrote."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from verdict_error_rates import RESULTS, docs_section  # type: ignore[import-not-found,unused-ignore]

    lines: list[str] = docs_section(RESULTS.read_text(encoding="utf-8"))
    return lines


GENERATED = {
    "policy-keys": ("how-to/policies.md", policy_keys),
    "verdict-error-rates": ("explanation/methodology.md", verdict_error_rates),
    # The planner's promised power and the sequential audit, as their benchmarks measured them.
    "plan-power": ("how-to/plan.md", lambda: benchmark_results("plan-power")),
    "sequential-audit": ("explanation/methodology.md", lambda: benchmark_results("sequential-audit")),
}
BEGIN_GENERATED = re.compile(r"^<!-- regen:(?P<name>[\w-]+) -->$")
END_GENERATED = "<!-- regen:end -->"


def generated(check: bool) -> int:
    """Rewrite (or check) each generated table; returns how many differ."""
    drifted = 0
    for name, (page, make) in GENERATED.items():
        path = DOCS / page
        lines = path.read_text(encoding="utf-8").splitlines()
        start = next((i for i, line in enumerate(lines) if line == f"<!-- regen:{name} -->"), None)
        if start is None:
            raise SystemExit(f"{page}: no <!-- regen:{name} --> mark")
        end = next(i for i in range(start, len(lines)) if lines[i] == END_GENERATED)
        body = make()
        if check:
            if body != lines[start + 1 : end]:
                drifted += 1
                print(
                    "\n".join(
                        difflib.unified_diff(lines[start + 1 : end], body, f"{page} ({name})", "the code", lineterm="")
                    )
                )
        else:
            lines[start + 1 : end] = body
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return drifted


def process(check: bool, pages_wanted: tuple[str, ...] = PAGES) -> int:
    """Regenerate (or check) every page; returns the number of blocks that drifted.

    Sessions are independent of one another (each has its own folder), so they run side by side, each
    session's blocks in page order.
    """
    from concurrent.futures import ThreadPoolExecutor

    pages = {page: (DOCS / page).read_text(encoding="utf-8").splitlines() for page in pages_wanted}
    found: list[Block] = []
    for page, lines in pages.items():
        marked = list(blocks(page, lines))
        if not marked:
            raise SystemExit(f"{page}: no regen marks; drop it from PAGES or mark its blocks")
        found += marked
    by_session: dict[str, list[Block]] = {}
    for block in found:
        by_session.setdefault(block.options["session"], []).append(block)
    drifted = 0
    with tempfile.TemporaryDirectory(prefix="docs-", dir="/tmp" if Path("/tmp").is_dir() else None) as temp:
        sessions = Sessions(Path(temp))

        def session(blocks_of: list[Block]) -> list[tuple[Block, list[str]]]:
            return [(block, render(block, sessions)) for block in blocks_of]

        with ThreadPoolExecutor(max_workers=max(1, min(len(by_session), os.cpu_count() or 1))) as pool:
            rendered = [pair for done in pool.map(session, by_session.values()) for pair in done]
    # Replace from the end of each page, so the indexes of the earlier blocks stay right.
    for block, body in sorted(rendered, key=lambda pair: (pair[0].page, pair[0].start), reverse=True):
        if check:
            if normalised(body) != normalised(block.body):
                drifted += 1
                diff = difflib.unified_diff(
                    normalised(block.body), normalised(body), f"{block.where} (the page)", "a run at HEAD", lineterm=""
                )
                print("\n".join(diff))
        else:
            pages[block.page][block.start : block.end] = body
    if not check:
        for page, lines in pages.items():
            (DOCS / page).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return drifted


def main() -> int:
    global DOCS
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 where a page's output drifted materially")
    parser.add_argument("--list", action="store_true", help="list the marked blocks")
    parser.add_argument(
        "--page",
        action="append",
        choices=PAGES,
        help="only this page (repeatable; its sessions must not need another page's files)",
    )
    parser.add_argument("--docs", metavar="DIR", help="the docs folder (default: this checkout's docs/)")
    args = parser.parse_args()
    if args.docs:
        DOCS = Path(args.docs).resolve()
    if shutil.which("bash") is None:
        raise SystemExit("regen_docs needs bash to run the pages' commands")
    pages = tuple(args.page) if args.page else PAGES
    if args.list:
        for page in pages:
            lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
            for block in blocks(page, lines):
                print(block.where, " ".join(f"{k}={v}" for k, v in block.options.items()))
        return 0
    drifted = (generated(args.check) if not args.page else 0) + process(args.check, pages)
    if args.check and drifted:
        print(f"\n{drifted} documented output(s) drifted: run python scripts/regen_docs.py and review the diff")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
