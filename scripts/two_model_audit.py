"""Run the how-to's two-model audit and write its outputs into docs/how-to/face-matching.md.

    python scripts/two_model_audit.py              # run it in a temporary folder, rewrite the docs' block
    python scripts/two_model_audit.py --check      # exit 1 if the docs' block differs from a fresh run
    python scripts/two_model_audit.py --keep DIR   # run it in DIR and keep the files (reports, compare.html)

The block between ``<!-- two-model-audit:begin -->`` and ``<!-- two-model-audit:end -->`` in the
how-to is this script's output, never edited by hand: the commands exactly as they were run (with
``scripts/make_two_models.py``'s synthetic embeddings), each run's verdict lines, an excerpt of
``conformance compare``, the gate's finding, a reading of the figures written from the reports, and
the machine. The counts and thresholds depend only on the seeded data, but the last digits of a
threshold can depend on the BLAS a numpy build uses, so ``--check`` is for the maintainers' machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "how-to" / "face-matching.md"
BEGIN, END = "<!-- two-model-audit:begin -->", "<!-- two-model-audit:end -->"


def audit(model: str) -> list[str]:
    """``conformance run`` of one model's embeddings, as the how-to gives it."""
    return [
        "conformance", "run", "--dataset", "manifest.csv", "--analyzer", f"embeddings:{model}.npy",
        "--group-by", "skin_type", "--reference", "I-II", "--target-fmr", "1e-3,1e-4",
    ]  # fmt: skip


COMMANDS = [
    ["python", "scripts/make_two_models.py", "two-models"],
    ["cd", "two-models"],
    [*audit("model_a"), "--report-dir", "audit/model_a"],
    [*audit("model_b"), "--report-dir", "audit/model_b"],
    [
        "conformance",
        "compare",
        "audit/model_a/report.json",
        "audit/model_b/report.json",
        "--html",
        "audit/compare.html",
    ],
]
GATE = [*audit("model_a"), "--baseline", "audit/model_b/report.json", "--report-dir", "audit/gated"]


def line(command: list[str]) -> str:
    return "$ " + " ".join(shlex.quote(word) for word in command)


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A command of the how-to, as a user types it (``conformance`` through this Python)."""
    argv = [sys.executable, "-m", "conformance", *command[1:]] if command[0] == "conformance" else command
    if command[0] == "python":
        argv = [sys.executable, str(REPO / command[1]), *command[2:]]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=900)


def verdict_lines(stdout: str) -> list[str]:
    """The run's verdict block (the lines after ``conformance verdicts`` up to the reports' line)."""
    lines = stdout.splitlines()
    start = next(i for i, text in enumerate(lines) if "conformance verdicts" in text)
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("reports:"))
    return lines[start + 1 : end]


def section(markdown: str, heading: str) -> list[str]:
    """The lines of the Markdown section whose heading starts with ``heading``, up to the next heading."""
    lines = markdown.splitlines()
    start = next(i for i, text in enumerate(lines) if text.startswith(heading))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return lines[start:end]


def _binding(report: dict[str, Any], check_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in report["checks"] if c["id"] == check_id and c["details"]["binding"])
    return found


def _ratio(check: dict[str, Any], group: str) -> str:
    row = next(r for r in check["details"]["ratios"] if r["group"] == group)
    lo, hi = row["ci"]
    return f"{row['ratio']:.3g} [{lo:.3g}, {hi:.3g}] ({row['verdict']})"


def reading(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What the figures say, written from the two reports (no number typed by hand)."""
    fa, fb = _binding(a, "false_match_differential"), _binding(b, "false_match_differential")
    na, nb = _binding(a, "false_non_match_differential"), _binding(b, "false_non_match_differential")
    target = fa["details"]["threshold_rule"]["target_fmr"]
    fta = next(c for c in a["checks"] if c["id"] == "failure_to_acquire_gap")["groups"]["V-VI"]
    return [
        f"Both runs fixed their binding threshold at FMR {target:g} on their own impostor comparisons: "
        f"{fa['threshold']:.6g} for model A, {fb['threshold']:.6g} for model B (cosine similarity), so the "
        f"two are compared at the same operating point although their scales differ. There, V-VI's FMR is "
        f"{_ratio(fa, 'V-VI')} times I-II's for model A and {_ratio(fb, 'V-VI')} for model B, a change the "
        "comparison marks beyond noise. Model B is not simply better: it misses III-IV's genuine pairs more, "
        f"an FNMR ratio of {_ratio(nb, 'III-IV')} against {_ratio(na, 'III-IV')} for model A. Model A also has "
        f"no template for {fta['count']} of {fta['n']} V-VI photos (failure to acquire), each a miss in its "
        "genuine comparisons. Each report's equitability section (the ISO/IEC 19795-10-style disclosure) "
        "states the result; the gate fails model A against model B as a baseline on V-VI's FMR ratio.",
    ]


def machine() -> str:
    import numpy

    return f"{platform.platform()}; Python {platform.python_version()}; numpy {numpy.__version__}"


def block(root: Path) -> str:
    """Run the audit under ``root`` and return the docs' block."""
    outputs: list[str] = []
    work = root
    for command in COMMANDS:
        if command[0] == "cd":
            work = root / command[1]
            outputs.append(line(command))
            continue
        done = run(command, work if command[0] != "python" else root)
        if command[0] == "python" and done.returncode != 0:
            raise SystemExit(f"{line(command)} failed:\n{done.stdout}{done.stderr}")
        outputs.append(line(command))
        if command[:2] == ["conformance", "run"]:
            if done.returncode not in (0, 1):
                raise SystemExit(f"{line(command)} failed:\n{done.stdout}{done.stderr}")
            outputs += verdict_lines(done.stdout)
        elif command[:2] == ["conformance", "compare"]:
            compared = done.stdout
    gated = run(GATE, work)
    a = json.loads((work / "audit" / "model_a" / "report.json").read_text(encoding="utf-8"))
    b = json.loads((work / "audit" / "model_b" / "report.json").read_text(encoding="utf-8"))
    excerpt = section(compared, "| # | report | binding operating point")
    excerpt = [*section(compared, "## 1:1 comparisons")[:1], "", *excerpt]
    for heading in ("### `false_match_differential` at FMR 0.001", "### `false_non_match_differential` at FMR 0.001"):
        excerpt += section(compared, heading)
    while excerpt and not excerpt[-1]:
        excerpt.pop()
    # The gate's finding as the run prints it: its first line and the regressions under it.
    lines = gated.stdout.splitlines()
    first = next(i for i, text in enumerate(lines) if "regression" in text and "against audit/model_b" in text)
    regressions = [lines[first].strip()]
    for text in lines[first + 1 :]:
        if not text.startswith("  "):
            break  # the end of the first listing (the summary repeats it)
        regressions.append(text.strip())
    out = [
        BEGIN,
        "<!-- written by `python scripts/two_model_audit.py`; do not edit by hand -->",
        "",
        "```console",
        *outputs,
        "```",
        "",
        "`conformance compare` prints (an excerpt; the whole comparison also covers `failure_to_acquire_gap`, "
        "FMR 0.0001 and a legend):",
        "",
        "```",
        *excerpt,
        "```",
        "",
        f"The gate, model A against model B's report as the baseline (exit code {gated.returncode}):",
        "",
        "```console",
        line(GATE),
        *regressions,
        "```",
        "",
        *reading(a, b),
        "",
        f"Machine: {machine()}.",
        END,
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the docs' block differs from a fresh run")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep its files")
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        fresh = block(args.keep)
    else:
        with tempfile.TemporaryDirectory() as folder:
            fresh = block(Path(folder))
    text = DOC.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC}: no {BEGIN} ... {END} block; add the two markers where the outputs go")
    before, _, rest = text.partition(BEGIN)
    _, _, after = rest.partition(END)
    updated = before + fresh + after
    if args.check:
        if updated != text:
            print(f"{DOC.relative_to(REPO)} is out of date: run python scripts/two_model_audit.py")
            return 1
        print(f"{DOC.relative_to(REPO)} is up to date")
        return 0
    DOC.write_text(updated, encoding="utf-8")
    print(f"wrote the two-model audit's outputs into {DOC.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
