"""``conformance``: a thin shell over pytest and the report writers.

``conformance run`` with no arguments audits the shipped demo offline and writes reports into
``./conformance-report``. Its exit code is pytest's: 0 when every check passed, 1 when a check
failed (or was inconclusive under a policy that counts that as failing), 2 for bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

__all__ = ["main"]

_USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        hint = "; pytest's own arguments go after --" if "unrecognized arguments" in message else ""
        self.exit(_USAGE_ERROR, f"{self.prog}: error: {message}{hint} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = _Parser(prog="conformance", description="Bias conformance checks for facial-analysis systems.")
    parser.add_argument("--version", action="version", version=f"conformance {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser(
        "run",
        help="run the conformance suite and write report.json, report.md and report.html",
        description="Run the built-in conformance suite through pytest. With neither --dataset nor --analyzer, "
        "audits the shipped demo (simulated predictions) offline.",
    )
    run.add_argument("--demo", action="store_true", help="audit the shipped demo (the default with no --dataset)")
    run.add_argument(
        "--demo-matching",
        action="store_true",
        help="audit the shipped face-search demo (Congress-style: 535 probes against 500 arrest photos)",
    )
    run.add_argument("--dataset", metavar="MANIFEST", help="manifest (CSV or JSONL) of the dataset to audit")
    run.add_argument("--analyzer", metavar="NAME[:ARG]", help="analyzer, e.g. predictions:results.jsonl")
    run.add_argument("--group-by", metavar="COL[,COL]", help="manifest columns to group by (intersections with commas)")
    run.add_argument("--reference", metavar="GROUP", help="reference group (default: cis, or the largest group)")
    run.add_argument("--checks", metavar="ID[,ID]", help="check ids to run (default: all; see `conformance checks`)")
    run.add_argument("--policy", metavar="FILE", help="policy TOML with a [tool.conformance] table")
    run.add_argument("--profile", choices=("default", "ci", "procurement"), help="named policy profile")
    run.add_argument("--seed", type=int, metavar="N", help="seed of every bootstrap")
    run.add_argument(
        "--baseline",
        metavar="REPORT",
        help="a previous run's report.json: fail when a gap is worse than it beyond noise (regression gate)",
    )
    run.add_argument(
        "--match-mode",
        choices=("search", "compare"),
        default="search",
        help="face matching as 1:N search (per probe; default) or 1:1 comparison (per probe-gallery pair)",
    )
    run.add_argument(
        "--thresholds", metavar="T[,T]", help="similarity thresholds of the face-matching checks (default: 80,90,95,99)"
    )
    run.add_argument("--report-dir", metavar="DIR", default="conformance-report", help="where reports go")
    run.add_argument(
        "--record-mode",
        choices=("none", "once", "new_episodes", "all", "rewrite"),
        default="none",
        help="pytest-recording's record modes: none replays only, offline (default); once records what is "
        "missing until a recording is complete; new_episodes records anything new; all records everything anew",
    )
    run.add_argument("--cassette-dir", metavar="DIR", help="directory of recordings (default: ./cassettes)")
    run.add_argument(
        "--allow-live", action="store_true", help="let a recording call a non-loopback endpoint (a real, billed API)"
    )
    run.add_argument(
        "--executor",
        metavar="SPEC",
        default="serial",
        help="where analyzer calls run: serial (default), threads:N, processes:N, dask-local:N or dask:ADDRESS",
    )
    run.add_argument(
        "--rate",
        type=float,
        metavar="CALLS_PER_S",
        help="live calls per second at most (token bucket; default for a live Rekognition endpoint: 5)",
    )
    run.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seconds to wait for one answer of a service before retrying, then failing that photo (default: 30)",
    )
    run.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar with rate and ETA on stderr (default: when stderr is a terminal)",
    )
    run.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="neither read nor keep replayed observations in ./.conformance_cache (docs/how-to/large-runs.md)",
    )
    run.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS", help="extra arguments for pytest, after --")

    emulate = commands.add_parser(
        "emulate",
        help="serve a local emulator of a vendor API from a predictions file (for recording and tests)",
        add_help=False,
    )
    emulate.add_argument("words", nargs=argparse.REMAINDER)
    compare = commands.add_parser(
        "compare",
        help="compare report.json files side by side (analyzers or versions), marking differences beyond noise",
    )
    compare.add_argument("reports", nargs="+", metavar="REPORT", help="report.json files; the first is the base")
    compare.add_argument("--html", metavar="FILE", help="also write the comparison as a self-contained HTML page")
    commands.add_parser("checks", help="list the checks and what each measures")
    commands.add_parser("adapters", help="list the analyzers that can be named with --analyzer")
    return parser


def _thresholds(text: str | None) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in _split(text))
    except ValueError:
        _parser().error(f"--thresholds {text!r}: give similarity thresholds as numbers, e.g. 80,90,95,99")
    if any(not 0 <= v <= 100 for v in values):
        _parser().error(f"--thresholds {text!r}: thresholds are similarities from 0 to 100")
    return values


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def _run(args: argparse.Namespace) -> int:
    import pytest

    from .errors import ConformanceError
    from .execution import ExecutorSpec
    from .plugin import (
        OPT_ALLOW_LIVE,
        OPT_ANALYZER,
        OPT_BASELINE,
        OPT_CASSETTE_DIR,
        OPT_CHECKS,
        OPT_DATASET,
        OPT_DEMO,
        OPT_DEMO_MATCHING,
        OPT_EXECUTOR,
        OPT_GROUP_BY,
        OPT_MATCH_MODE,
        OPT_NO_CACHE,
        OPT_POLICY,
        OPT_PROFILE,
        OPT_RATE,
        OPT_REFERENCE,
        OPT_REPORT_DIR,
        OPT_SEED,
        OPT_THRESHOLDS,
        OPT_TIMEOUT,
    )
    from .session import DEFAULT_SEED, RunOptions, load_context

    try:
        executor = str(ExecutorSpec.parse(args.executor))  # as the plugin reads it back: one cached context
    except ConformanceError as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return _USAGE_ERROR
    root = str(Path.cwd().resolve())
    options = RunOptions(
        demo=args.demo or (args.dataset is None and args.analyzer is None and not args.demo_matching),
        demo_matching=args.demo_matching,
        dataset=args.dataset,
        analyzer=args.analyzer,
        group_by=_split(args.group_by),
        reference=args.reference,
        checks=_split(args.checks),
        policy=args.policy,
        profile=args.profile,
        seed=DEFAULT_SEED if args.seed is None else args.seed,
        project_root=root,
        record_mode=args.record_mode,
        cassette_dir=args.cassette_dir,
        allow_live=args.allow_live,
        thresholds=_thresholds(args.thresholds),
        match_mode=args.match_mode,
        executor=executor,
        rate=args.rate,
        timeout=args.timeout,
        progress=args.progress,
        cache=args.cache,
    )
    try:
        context = load_context(options)  # bad input stops here with one line; pytest reuses what was loaded
    except ConformanceError as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return _USAGE_ERROR
    except KeyboardInterrupt:
        if args.record_mode in ("all", "rewrite"):
            message = (
                "interrupted; --record-mode all replaces a recording only when it finishes, so the previous "
                "recording is as it was and this run's answers were dropped; --record-mode once keeps answers "
                "as they come"
            )
        else:
            message = "interrupted; every answer recorded so far is kept: run the same command again to record only what is missing"
        print(f"conformance: {message}", file=sys.stderr)
        return 130
    if context.observations is not None:
        from .runner import accounting

        print(f"conformance: {accounting(context.observations)}", file=sys.stderr)

    argv = ["--pyargs", "conformance.suite", "-c", os.devnull, "--rootdir", root, "-p", "no:cacheprovider"]
    # The context above imported vcrpy before pytest-recording could ask pytest to rewrite vcr.matchers.
    argv += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    values = {
        OPT_DATASET: args.dataset,
        OPT_ANALYZER: args.analyzer,
        OPT_GROUP_BY: args.group_by,
        OPT_REFERENCE: args.reference,
        OPT_CHECKS: args.checks,
        OPT_POLICY: args.policy,
        OPT_PROFILE: args.profile,
        OPT_SEED: str(options.seed),
        OPT_REPORT_DIR: args.report_dir,
        OPT_CASSETTE_DIR: args.cassette_dir,
        OPT_THRESHOLDS: args.thresholds,
        OPT_BASELINE: args.baseline,
        OPT_MATCH_MODE: args.match_mode if args.match_mode != "search" else None,
        OPT_EXECUTOR: executor if executor != "serial" else None,
        OPT_RATE: None if args.rate is None else repr(args.rate),
        OPT_TIMEOUT: None if args.timeout == 30.0 else repr(args.timeout),
        "--record-mode": args.record_mode if args.record_mode != "none" else None,
    }
    argv += [f"{flag}={value}" for flag, value in values.items() if value is not None]
    if options.demo:
        argv.append(OPT_DEMO)
    if options.demo_matching:
        argv.append(OPT_DEMO_MATCHING)
    if options.allow_live:
        argv.append(OPT_ALLOW_LIVE)
    if not options.cache:
        argv.append(OPT_NO_CACHE)
    argv += list(args.pytest_args)
    import warnings

    from hypothesis.errors import HypothesisSideeffectWarning

    with warnings.catch_warnings():
        # The context drew its transforms (hypothesis strategies) before pytest loaded hypothesis'
        # plugin, which hypothesis flags as a plugin's side effect: here it is the run's own work.
        warnings.simplefilter("ignore", HypothesisSideeffectWarning)
        return int(pytest.main(argv, plugins=[]))


def _compare(args: argparse.Namespace) -> int:
    from ._atomic import write_atomic
    from .errors import ConformanceError
    from .reporting.compare import compare_reports, load_report, render_compare_html, render_compare_markdown

    try:
        reports = [load_report(path) for path in args.reports]
    except ConformanceError as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return _USAGE_ERROR
    comparison = compare_reports(reports, names=list(args.reports))
    print(render_compare_markdown(comparison), end="")
    if args.html:
        write_atomic(Path(args.html), render_compare_html(comparison))
        print(f"\nwritten: {args.html}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``conformance`` console script; returns the exit code."""
    parser = _parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["emulate"]:
        from .emulators import main as emulate

        return emulate(arguments[1:])  # the emulator parses its own words, --help included
    args = parser.parse_args(arguments or ["run"])
    if args.command in (None, "run"):
        if args.command is None:
            args = parser.parse_args(["run"])
        return _run(args)
    if args.command == "compare":
        return _compare(args)
    if args.command == "checks":
        from .checks import CHECK_IDS, SUMMARIES

        for check_id in CHECK_IDS:
            print(f"{check_id:<28} {SUMMARIES[check_id]}")
        return 0
    if args.command == "adapters":
        from .adapters.registry import available

        for name, target in available().items():
            print(f"{name:<16} {target}")
        return 0
    parser.error(f"unknown command {args.command!r}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
