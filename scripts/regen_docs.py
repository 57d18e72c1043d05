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
``waitN=COMMAND``
    a shell command run silently after the block's Nth command (counting from 1), before the next:
    waiting for what the page says in words ("once the run holds the lock").
``requires=NAME``
    what the machine must offer for the block to run (:data:`REQUIREMENTS`): where it does not,
    ``--check`` passes over the block and says so, and writing the page stops.
``venv=NAME``
    the block's commands run with a throw-away virtual environment first on ``PATH``, made once by
    this script (without network) and seeing every package of the environment the script runs in:
    what the block installs goes there, never into the environment running the script.
``mask=REGEX``
    what the block's outputs hold that changes from run to run beyond what ``--check`` always
    blanks (the digest of a file holding its own recording times): ``--check`` blanks it too.

Commands run as a terminal runs them, one after the other in one shell, with job control:

- ``$ COMMAND &`` runs in the background; what it prints is shown under it as far as it had printed
  when the next command starts: the script first waits until it printed a line or ended (at most
  60 s), or what the block's ``waitN`` says instead.
- ``kill ... %N`` or ``wait %N`` is followed, once that job has ended, by what it printed since.
- A block must end every job it started; one left running is an error.
- Ports of ``127.0.0.1:PORT`` and ``--port PORT`` in a session's commands are the page's names for
  free ports this script picks when it runs the session (one per name, for the whole session), so
  that sessions and runs on one machine never meet; outputs show the page's numbers.

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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
# In the order their sessions build on each other (python-api.md uses own-dataset.md's files).
PAGES = (
    "how-to/rekognition.md",  # the longest session: first, so that the others run beside it
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
    check: bool = False
    # Per session, the page's port numbers and the free ports that stand for them in this run.
    ports: dict[str, dict[str, int]] = field(default_factory=dict)

    def folder(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def jobs(self, block: Block) -> Path:
        """Where a block's background jobs write what they print: beside the sessions, not in one."""
        path = self.root / ".jobs" / f"{block.page.replace('/', '-')}-{block.start}"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def port_map(self, session: str, texts: list[str]) -> dict[str, int]:
        """The session's free port for each port number the texts name (``127.0.0.1:N``, ``--port N``)."""
        import socket

        ports = self.ports.setdefault(session, {})
        for text in texts:
            for number in _PORT.findall(text):
                if number[0] or number[1]:
                    name = number[0] or number[1]
                    if name not in ports:
                        with socket.socket() as probe:
                            probe.bind(("127.0.0.1", 0))
                            ports[name] = probe.getsockname()[1]
        return ports

    def venv(self, name: str) -> Path:
        """A throw-away virtual environment that sees this one's packages; its ``bin`` folder.

        Made without network: no pip of its own (``pip`` there is this environment's, run by its
        Python), and a ``.pth`` file that adds this environment's site-packages (with their own
        ``.pth`` files, so an editable kit too) after its own. What a block installs stays in it.
        """
        import sysconfig

        folder = self.root / ".venvs" / name
        bin_folder = folder / "bin"
        if bin_folder.is_dir():
            return bin_folder
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
        python = bin_folder / "python"
        purelib = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        ours = sysconfig.get_paths()["purelib"]
        Path(purelib, "_regen_docs_parent.pth").write_text(
            f"import site; site.addsitedir({ours!r})\n", encoding="utf-8"
        )
        # The console scripts a page calls, as pip writes them, run by the throw-away environment's Python.
        for script in ("pip", "conformance"):
            original = Path(sys.executable).parent / script
            lines = original.read_text(encoding="utf-8").splitlines()
            target = bin_folder / script
            target.write_text("\n".join([f"#!{python}", *lines[1:]]) + "\n", encoding="utf-8")
            target.chmod(0o755)
        return bin_folder


# What a block may require of the machine (requires=NAME): a shell command that succeeds where it is offered.
REQUIREMENTS = {
    "network-namespaces": ("unshare -rn true", "unprivileged network namespaces (unshare -rn)"),
    # The example package builds in isolation, with setuptools from the index pip is configured for.
    "package-index": (
        'd=$(mktemp -d) && pip download --quiet --no-deps --dest "$d" \'setuptools>=68\'; r=$?; rm -rf "$d"; exit $r',
        "a package index pip can fetch setuptools from",
    ),
}
_OFFERED: dict[str, bool] = {}


def offers(name: str) -> bool:
    """Whether this machine offers what :data:`REQUIREMENTS` names (asked once per run of the script)."""
    if name not in REQUIREMENTS:
        raise SystemExit(f"requires={name}: not one of {', '.join(REQUIREMENTS)}")
    if name not in _OFFERED:
        probe = subprocess.run(
            ["bash", "-c", REQUIREMENTS[name][0]], env=environment(), capture_output=True, check=False
        )
        _OFFERED[name] = probe.returncode == 0
    return _OFFERED[name]


_PORT = re.compile(r"(?:127\.0\.0\.1|localhost):(\d{2,5})\b|--port (\d{2,5})\b")


def with_ports(text: str, ports: dict[str, int], *, back: bool = False) -> str:
    """``text`` with the page's port numbers as the free ports of the run (``back``: the other way)."""
    for name, real in ports.items():
        old, new = (str(real), name) if back else (name, str(real))
        text = re.sub(rf"(127\.0\.0\.1:|localhost:|--port ){old}\b", rf"\g<1>{new}", text)
    return text


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
    # vcrpy keeps a recorded answer's headers in the order of a set of their names: hash order, made the
    # same on every run here so that a recording shown on a page comes out the same.
    env["PYTHONHASHSEED"] = "0"
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
_LEFT_RUNNING = "@@regen-docs left running@@"
# A command that ends (or waits for) background jobs named by job spec: what they printed follows it.
_ENDS_JOBS = re.compile(r"^(kill|wait)\b(?P<rest>.*)$")
# What bash's job control says on its own standard error when a job ends: not the shell failing.
_JOB_NOTICE = re.compile(
    r"^(\[\d+\][+-]?\s+(Done|Exit \d+|Killed|Terminated|Running)\b|bash: line \d+: +\d+ (Killed|Terminated)\b)"
)

# Shell functions of every block's script: where each job's output goes, and showing what is new in it.
_PRELUDE = r"""set +e
set -m
__rc=0
declare -A __file __seen
__show() { local f="$1" n; n=$(wc -c < "$f"); head -c "$n" "$f" | tail -c +$(( ${__seen[$f]:-0} + 1 )); __seen[$f]=$n; }
# A job is its process group: its shell ends first, the commands in it may still be writing their last words.
__reap() { local i; wait "$1" 2>/dev/null; for i in $(seq 1200); do kill -0 -- "-$1" 2>/dev/null || return; sleep 0.05; done; }
__await() { local i; for i in $(seq 1200); do [ -s "$2" ] && return; kill -0 "$1" 2>/dev/null || return; sleep 0.05; done; }
"""


def is_background(command: str) -> bool:
    """Whether a page's command ends with ``&`` (and not ``&&``)."""
    text = command.rstrip()
    return text.endswith("&") and not text.endswith("&&")


def run_commands(
    cwd: Path,
    words: list[str],
    before: str | None,
    waits: dict[int, str] | None = None,
    jobs: Path | None = None,
    path: str | None = None,
) -> list[str]:
    """Each command's output (stdout and stderr, as a terminal shows them), run one after the other in one shell.

    ``$?`` in a command is the previous command's exit status, as in the shell the page shows.
    Background commands (``... &``) write into files under ``jobs`` and are shown as the module says;
    ``waits`` maps a command's index (from 0) to a shell command run silently after it.
    """
    waits = waits or {}
    if jobs is None:
        with tempfile.TemporaryDirectory(prefix="regen-jobs-") as temp:
            return run_commands(cwd, words, before, waits, Path(temp), path)
    script = [_PRELUDE, f"__jobs={shlex.quote(str(jobs))}"]
    if before:
        script.append(f"{{ {before} ; }} >/dev/null 2>&1 </dev/null")
    background = 0
    for index, command in enumerate(words):
        script += [f"printf '%s\\n' '{_MARKER.format(index)}'", "(exit $__rc)"]
        if is_background(command):
            background += 1
            out = shlex.quote(str(jobs / f"job-{background}.out"))
            script += [
                f"{{ {command.rstrip()[:-1]} ; }} > {out} 2>&1 </dev/null &",
                f"__file[$!]={out}",
                "__rc=0",
                waits.get(index, f"__await $! {out}") + " >/dev/null 2>&1",
                f"__show {out}",
            ]
            continue
        ends = _ENDS_JOBS.match(command)
        specs = re.findall(r"%\d+", ends["rest"]) if ends else []
        if specs:
            # Not $(jobs ...): a command substitution's subshell has no jobs of its own.
            script += ["jobs -p " + " ".join(specs) + ' > "$__jobs/pids"', '__pids=$(< "$__jobs/pids")']
        # Grouped, so that a pipeline's first commands say what they say on stderr too, as on a terminal.
        script += [f"{{ {command} ; }} 2>&1", "__rc=$?"]
        if specs:
            script.append('for __p in $__pids; do __reap "$__p"; __show "${__file[$__p]}"; done')
        if index in waits:
            script.append(f"{{ {waits[index]} ; }} >/dev/null 2>&1")
    # A job the page leaves running: the block is wrong (and the job is ended, so that nothing outlives it).
    script += [
        'jobs -pr > "$__jobs/pids"',
        f"if [ -s \"$__jobs/pids\" ]; then printf '%s\\n' '{_LEFT_RUNNING}'; kill -9 $(< \"$__jobs/pids\"); fi",
    ]
    env = environment()
    if path:
        env["PATH"] = f"{path}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    complaint = [line for line in without_notices(done.stderr).splitlines() if line.strip()]
    if complaint:
        raise SystemExit(f"in {cwd}: the shell said " + "\n".join(complaint))
    if _LEFT_RUNNING in done.stdout:
        raise SystemExit(f"in {cwd}: a block leaves a background job running; end it on the page (kill %N, wait %N)")
    outputs: list[str] = []
    current: list[str] | None = None
    for line in done.stdout.split("\n"):
        if line.startswith("@@regen-docs ") and line.endswith("@@"):
            current = []
            outputs.append("")
            continue
        if current is not None:
            outputs[-1] += line + "\n"
    # A page's own "wait %N" says its job's notice on the stderr it shares with the output.
    return [without_notices(o).rstrip("\n") for o in outputs]


def without_notices(text: str) -> str:
    """``text`` without bash's job notices (``[2]+  Done  ...``), nor the indented lines that go on with one."""
    kept: list[str] = []
    in_notice = False
    for line in text.split("\n"):
        if _JOB_NOTICE.match(line) or (in_notice and line.startswith((" ", "\t"))):
            in_notice = True
            continue
        in_notice = False
        kept.append(line)
    return "\n".join(kept)


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
        if block.options.get("before"):
            run_commands(folder, [], block.options["before"])
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
    requires = block.options.get("requires")
    if requires and not offers(requires):
        why = f"this machine lacks {REQUIREMENTS[requires][1]}"
        if not sessions.check:
            raise SystemExit(f"{block.where}: cannot write the block: {why}")
        print(f"{block.where}: not checked: {why}")
        return block.body
    waits = {int(k[4:]) - 1: v for k, v in block.options.items() if re.fullmatch(r"wait\d+", k)}
    before = block.options.get("before")
    ports = sessions.port_map(block.options["session"], [*words, before or "", *waits.values()])
    words_run = [with_ports(w, ports) for w in words]
    waits = {k: with_ports(v, ports) for k, v in waits.items()}
    before = with_ports(before, ports) if before else None
    path = str(sessions.venv(block.options["venv"])) if "venv" in block.options else None
    outputs = run_commands(folder, words_run, before, waits, sessions.jobs(block), path)
    out: list[str] = []
    matched = False
    for command, output in zip(words, outputs, strict=True):
        lines, found = cut(shown(with_ports(output, ports, back=True), sessions.root), block.options)
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
    # A recording's session times, the HTTP Date of an answer, the process holding a lock.
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "TIME"),
    (re.compile(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT"), "DATE"),
    (re.compile(r"process \d+ on \S+"), "process N on HOST"),
    (re.compile(r"""(["'](?:python|botocore|boto3)["']: ["'])\d+(\.\d+)+"""), r"\1X"),
    # Line numbers of the kit's own source (pytest --fixtures, tracebacks) move with every edit.
    (re.compile(r"(\.py):\d+"), r"\1:N"),
    (re.compile(r'(File "[^"]+", line )\d+'), r"\1N"),
    (re.compile(r"^(benchmark|cachedir|hypothesis profile): .*$", re.M), r"\1: ..."),
]


def normalised(lines: list[str], mask: str | None = None) -> list[str]:
    text = "\n".join(line.rstrip() for line in lines)
    for pattern, replacement in _UNSTABLE:
        text = pattern.sub(replacement, text)
    if mask:
        text = re.sub(mask, "...", text)
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
        "least 10 photos (or this many, if fewer) stops too, and so does a smaller run whose every photo failed the same "
        "way; 0 never stops. Raise it for a dataset whose "
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
    "max_detection_failure": (
        "a number above 0, at most 1",
        "the ceiling on each group's share of photos with no face found or an error, which `detection_failure_gap` "
        "judges beside the gaps, on the rate's interval: a group shown above it fails the check (its fail tests in "
        "the check's one Holm family), a group whose interval lies at or below it passes this part, else "
        "inconclusive (fewer than `min_subjects` people decide nothing). Equal failure is no pass: a detector that "
        "finds a face in 1 photo of 300 fails, though no group fares worse than another (red team 14e). "
        "`undisclosed` and `unknown` are judged for a fail only, as their gaps are. 1 turns the ceiling off",
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
        "cell (an entry never overturns nor invents what people said of themselves: `'trans woman' = 'man'`, "
        "`'woamn' = 'man'`, `'woman; nonbinary' = 'man'`, `'she/her' = 'woman'` and `'nan' = 'woman'` are "
        "refused; a map built in code gets the same check); "
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
    "ceiling-error-rates": ("explanation/methodology.md", lambda: benchmark_results("ceiling-error-rates")),
    "sequential-gap0": ("explanation/methodology.md", lambda: benchmark_results("sequential-gap0")),
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


@contextmanager
def sessions_root() -> Iterator[Path]:
    """A fresh folder for the sessions, as long a path as ``/tmp/docs`` where it can be.

    Outputs show it as ``/tmp/docs``: of the same length, the tables that hold a path stay aligned.
    """
    import secrets
    import string

    folder: Path | None = None
    if Path("/tmp").is_dir() and len(SHOWN_ROOT) == len("/tmp/dXXX"):
        for _ in range(100):
            name = "d" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(3))
            try:
                (folder := Path("/tmp", name)).mkdir(mode=0o700)
                break
            except FileExistsError:
                folder = None
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="docs-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
    with sessions_root() as temp:
        sessions = Sessions(Path(temp), check=check)

        def session(blocks_of: list[Block]) -> list[tuple[Block, list[str]]]:
            return [(block, render(block, sessions)) for block in blocks_of]

        with ThreadPoolExecutor(max_workers=max(1, min(len(by_session), os.cpu_count() or 1))) as pool:
            rendered = [pair for done in pool.map(session, by_session.values()) for pair in done]
    # Replace from the end of each page, so the indexes of the earlier blocks stay right.
    for block, body in sorted(rendered, key=lambda pair: (pair[0].page, pair[0].start), reverse=True):
        if check:
            mask = block.options.get("mask")
            if normalised(body, mask) != normalised(block.body, mask):
                drifted += 1
                diff = difflib.unified_diff(
                    normalised(block.body, mask),
                    normalised(body, mask),
                    f"{block.where} (the page)",
                    "a run at HEAD",
                    lineterm="",
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
