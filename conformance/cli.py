"""``conformance``: a thin shell over pytest and the report writers.

``conformance run`` with no arguments audits the shipped demo offline and writes reports into
``./conformance-report``; a bare ``conformance`` prints its help and the README's two commands. Its exit code is pytest's: 0 when every check passed, 1 when a check
failed (or was inconclusive under a policy that counts that as failing), 2 for bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Generator, Sequence
from contextlib import suppress
from pathlib import Path
from typing import NoReturn

from ._text import printable, printable_lines
from ._text import say as _say

__all__ = ["main"]

_USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        hint = "; pytest's own arguments go after --" if "unrecognized arguments" in message else ""
        # argparse quotes some values and not others ("unrecognized arguments: ..."): all escaped here.
        self.exit(_USAGE_ERROR, printable(f"{self.prog}: error: {message}{hint} (see {self.prog} --help)") + "\n")


def _parser() -> argparse.ArgumentParser:
    from ._version import __version__
    from .options import OPTIONS

    parser = _Parser(prog="conformance", description="Bias conformance checks for facial-analysis systems.")
    parser.add_argument("--version", action="version", version=f"conformance {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser(
        "run",
        help="run the conformance suite and write report.json, report.md and report.html",
        description="Run the built-in conformance suite through pytest. With neither --dataset nor --analyzer, "
        "audits the shipped demo (simulated predictions) offline.",
    )
    for option in OPTIONS:  # one argument per option of the table, parsed by the option's own parser
        if option.negatable:
            run.add_argument(option.cli_flag, dest=option.name, action=argparse.BooleanOptionalAction, help=option.help)
        elif option.flag:
            run.add_argument(option.cli_flag, dest=option.name, action="store_true", help=option.help)
        else:
            run.add_argument(
                option.cli_flag,
                dest=option.name,
                type=option.argparse_type,
                default=option.cli_default,
                metavar=option.metavar,
                help=option.help,
            )
    run.add_argument(
        "--project-conftest",
        action="store_true",
        help="also load the conftest.py files of the working directory (their hooks, autouse fixtures and a "
        "conformance_model fixture) into the built-in suite; by default the suite runs isolated from them",
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
        description="Compare two or more report.json files (the first is the base): each check's verdicts and "
        "figures side by side, with the differences that lie beyond the reports' own noise marked. Prints "
        "Markdown; --html also writes an HTML page.",
    )
    compare.add_argument("reports", nargs="+", metavar="REPORT", help="report.json files; the first is the base")
    compare.add_argument("--html", metavar="FILE", help="also write the comparison as a self-contained HTML page")
    verify = commands.add_parser(
        "verify",
        help="re-derive every figure and verdict of a report.json offline from the evidence it names",
        description="Check every file a report.json names (manifest, images, predictions or recordings, policy) "
        "against the digests sealed in it, re-derive every figure and verdict offline (recordings replayed, no "
        "cache), and say 'verified' (exit 0) or list each difference and each missing or altered file (exit 1).",
    )
    verify.add_argument("report", metavar="REPORT", help="the report.json to verify")
    verify.add_argument(
        "--root",
        metavar="DIR",
        help="where the run's folder is now, if the project moved: files under the run's folder are looked for "
        "under DIR by their relative path",
    )
    from .plan_command import add_parser as add_plan_parser

    add_plan_parser(commands)
    commands.add_parser("checks", help="list the checks and what each measures")
    commands.add_parser(
        "adapters",
        help="list the analyzers that can be named with --analyzer",
        description="List each analyzer: how to name it with --analyzer, and the entry point that provides it.",
    )
    return parser


# How each built-in analyzer is named with --analyzer (the adapters listing shows these).
_ANALYZER_FORMS = {
    "embeddings": "embeddings:FILE.npy",
    "local": "local | local:embeddings",
    "predictions": "predictions:FILE.jsonl",
    "python": "python:MODULE:FUNCTION | python:FILE.py:FUNCTION",
    "rekognition": "rekognition",
    "scores": "scores:FILE.csv",
}


def _run(args: argparse.Namespace) -> int:
    import pytest

    from .errors import ConformanceError
    from .options import OPTIONS, run_options
    from .plugin import CliInvocation
    from .run.context import load_context

    root = str(Path.cwd().resolve())
    given = {option.name: getattr(args, option.name) for option in OPTIONS}
    given["demo"] = args.demo or (args.dataset is None and args.analyzer is None and not args.demo_matching)
    options = run_options(given, project_root=root)
    from ._signals import exit_code, signal_name
    from .options import OPTION
    from .report_folder import check_report_dir

    report_dir = _report_dir(args)
    try:
        check_report_dir(report_dir)  # before any photo is sent or any check runs
        if args.baseline is not None:
            from .comparison.gate import read_baseline

            read_baseline(args.baseline, option=OPTION["baseline"].cli_flag)  # likewise
        context = load_context(options)  # bad input stops here with one line; pytest reuses what was loaded
        from ._model_output import phase_over

        phase_over()  # every photo answered: a model's output from now on comes from what it left running
    except ConformanceError as exc:
        _say(f"conformance: error: {exc}")
        return _USAGE_ERROR
    except KeyboardInterrupt as stop:
        if options.record_mode == "all":  # "rewrite" is read as "all" by the option table
            message = (
                "interrupted; --record-mode all replaces a recording only when it finishes, so the previous "
                "recording is as it was and this run's answers were dropped; --record-mode once keeps answers "
                "as they come"
            )
        else:
            records = _records(options.analyzer, options.demo)
            if records:
                message = "interrupted; every answer recorded so far is kept: run the same command again to record only what is missing"
            elif records is False:  # rt14c F12: a python: model, a predictions file, ... record nothing
                message = f"interrupted; nothing is recorded for {options.analyzer}: run the same command again"
            else:  # a third party's adapter that declares nothing before it is built
                message = (
                    f"interrupted; what {options.analyzer} records as it goes (if it records) is kept: run the same "
                    "command again"
                )
        _say(f"conformance: {message.replace('interrupted', f'interrupted ({signal_name(stop)})', 1)}")
        return exit_code(stop)
    if args.baseline is not None and not args.baseline_any_dataset:
        from .plugin import baseline_mismatch

        problem = baseline_mismatch(args.baseline, context, any_dataset=OPTION["baseline_any_dataset"].cli_flag)
        if problem is not None:
            _say(f"conformance: error: {problem}")
            return _USAGE_ERROR
    if context.observations is not None:
        from .run.runner import accounting

        _say(f"conformance: {accounting(context.observations)}")
    for note in context.notes:
        _say(f"conformance: note: {note}")

    argv = ["--pyargs", "conformance.suite", "-c", os.devnull, "--rootdir", root, "-p", "no:cacheprovider"]
    if not args.project_conftest:
        # The built-in suite is the kit's, not the project's: a project's conftest.py (its hooks, autouse
        # fixtures, a conformance_model fixture that loads weights) would otherwise run inside it (rt14c F3).
        argv.append("--noconftest")
    # The context above imported vcrpy before pytest-recording could ask pytest to rewrite vcr.matchers.
    argv += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    for option in OPTIONS:
        value = given[option.name]
        if option.name == "progress":
            continue  # shown by the CLI's own loading above; pytest reuses what it loaded
        if option.flag:
            argv += [option.pytest_flag] if value else []
        elif value is not None and value != option.default:
            argv.append(f"{option.pytest_flag}={option.show(value)}")
    from ._model_output import model_log

    if model_log() is not None:
        # A thread the model left running writes to its log during the checks too, never into a test's captured
        # output, which pytest shows under a failure among the kit's lines (rt14e F2); nor are its log records shown.
        argv += ["--capture=no", "--show-capture=no"]
    argv += list(args.pytest_args)
    # The plugin reads the user's pytest arguments from this object for the reproduce line.
    invocation = CliInvocation(list(args.pytest_args), context)
    try:
        code = int(pytest.main(argv, plugins=[invocation, _no_settings_header()]))
    except KeyboardInterrupt as stop:  # before pytest's session could catch it, or after it had ended
        invocation.interrupted = True
        invocation.signal = invocation.signal or stop
        code = int(pytest.ExitCode.INTERRUPTED)
    if invocation.interrupted:
        # pytest's exit code 2 would read as bad input; 130 is what a shell reports for Ctrl-C (143: SIGTERM).
        name = signal_name(invocation.signal)
        if invocation.reports_written:
            _say(f"conformance: interrupted ({name}) after this run's reports were written, whole, to {report_dir}")
        else:
            _say(
                f"conformance: interrupted ({name}): no verdict, and no report was written; run the same command again"
            )
        return exit_code(invocation.signal)
    return code


def _report_dir(args: argparse.Namespace) -> str:
    """The report folder ``conformance run`` writes into: ``--report-dir``, else its default."""
    from .options import OPTION

    return str(args.report_dir or OPTION["report_dir"].cli_default)


def _records(analyzer: str | None, demo: bool) -> bool | None:
    """Whether the analyzer records its answers as they come (a vendor's, and the demo's emulated recordings): its
    declared ``Capabilities.records``, as its factory declares it (None: it declares nothing, the kit cannot say)."""
    if demo or analyzer is None:
        return True
    from .adapters.registry import capabilities_declared

    declared = capabilities_declared(analyzer)
    return None if declared is None else declared.records


def _compare(args: argparse.Namespace) -> int:
    from ._atomic import write_atomic
    from .comparison.reports import compare_reports, load_report
    from .errors import ConformanceError
    from .reporting.compare import render_compare_html, render_compare_markdown

    if len(args.reports) < 2:
        _say(
            f"conformance compare: error: give two or more report.json files to compare, the first as the base "
            f"(got only {args.reports[0]}), e.g. conformance compare old/report.json new/report.json"
        )
        return _USAGE_ERROR
    try:
        reports = [load_report(path) for path in args.reports]
        comparison = compare_reports(reports, names=list(args.reports))
    except ConformanceError as exc:
        _say(f"conformance: error: {exc}")
        return _USAGE_ERROR
    print(printable_lines(render_compare_markdown(comparison)), end="")
    if args.html:
        write_atomic(Path(args.html), render_compare_html(comparison))
        print("\n" + printable(f"written: {args.html}"))
    return 0


def _no_settings_header() -> object:
    """A pytest plugin for ``conformance run``: the header's settings-file line says that the run reads none.

    The run passes ``-c os.devnull`` so that no pytest.ini or pyproject.toml of the project applies to the
    kit's suite; pytest's header then read ``configfile: ../../../../dev/null`` (rt14f F8), which looks
    like a file of settings. Made here, as pytest is imported only when a run starts.
    """
    import pytest

    said = "configfile: none (conformance run reads no pytest settings file of the project)"

    def shown(line: str) -> str:
        return said if line.startswith("configfile: ") else line

    class NoSettingsHeader:
        @pytest.hookimpl(wrapper=True)
        def pytest_report_header(
            self, config: pytest.Config
        ) -> Generator[None, list[str | list[str]], list[str | list[str]]]:
            lines = yield
            if config.inipath is None or str(config.inipath) != os.devnull:
                return lines
            return [[shown(line) for line in entry] if isinstance(entry, list) else shown(entry) for entry in lines]

    return NoSettingsHeader()


def _verify(args: argparse.Namespace) -> int:
    if args.root is not None and not Path(args.root).is_dir():
        _say(f"conformance: error: --root {args.root}: not a folder")
        return _USAGE_ERROR
    import tempfile

    from ._model_output import capture_into, summary

    # Verifying a python: model's report imports and calls the model again: what it prints goes to a log of
    # its own (never the report folder's, which belongs to the run), as under conformance run (rt14e F2).
    # As the process's own command, the log holds until the process ends (a thread the model left running
    # writes there, not after the verdict); called from Python (tests), the caller's console comes back.
    folder = tempfile.mkdtemp(prefix="conformance-verify-")
    if _WHOLE_PROCESS:
        import atexit

        # After the model's own atexit hooks (registered later, run earlier), which may still write to the log.
        atexit.register(_remove_if_empty, folder)
    try:
        with capture_into(folder, keep=_WHOLE_PROCESS) as log:
            try:
                return _verified(args)
            finally:
                if _WHOLE_PROCESS:  # the process is verify's own: what is left running under it is the model's
                    from ._leftovers import end_model_processes, end_other_processes

                    end_model_processes()
                    end_other_processes(str(log))
                said = summary(log)
                if said is not None:
                    _say(f"conformance verify: {said}")
    finally:
        if not _WHOLE_PROCESS:
            _remove_if_empty(folder)


def _remove_if_empty(folder: str) -> None:
    with suppress(OSError):
        os.rmdir(folder)  # only when empty: the model wrote nothing


def _verified(args: argparse.Namespace) -> int:
    from .errors import ConformanceError
    from .report import ReportError
    from .verify import NotVerifiable, render, verify_report

    try:
        verification = verify_report(args.report, root=args.root)
    except (NotVerifiable, ReportError) as exc:
        _say(f"conformance: error: {exc}")
        return _USAGE_ERROR
    except ConformanceError as exc:  # the evidence itself is unusable: not verified
        _say(f"conformance verify: {args.report}", file=sys.stdout)
        _say(f"NOT VERIFIED: {exc}", file=sys.stdout)
        return 1
    print(printable_lines(render(verification)), end="")
    return 0 if verification.verified else 1


# The README's two commands, for a bare `conformance`.
_START = """
start here:
  pip install . && conformance run
      audit the shipped demo offline (simulated predictions, emulated recordings); writes
      ./conformance-report/report.json, report.md and report.html, and exits 1 because the
      simulated analyzer fails the checks, as the audited services did
  pip install -e ".[test]" && python -m pytest
      run the kit's own tests
  conformance run --dataset photos/manifest.csv --analyzer predictions:vendor.jsonl
      audit your own data (docs/how-to/own-dataset.md); conformance run --help lists every option
"""


# Whether main() runs as the process's command (the console script), not called from Python.
_WHOLE_PROCESS = False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``conformance`` console script; returns the exit code."""
    global _WHOLE_PROCESS
    _WHOLE_PROCESS = argv is None  # the console script: this command is the whole process
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["emulate"]:
        from .emulators import main as emulate

        return emulate(arguments[1:])  # the emulator parses its own words (and signals), --help included
    try:
        return _main(arguments)
    finally:
        if _WHOLE_PROCESS:
            from ._model_output import seal

            # The command's last line is out: what Python runs at exit (a model's atexit hooks, finalizers,
            # logging at shutdown) goes to the model's log, never after the verdict (rt14f F3).
            seal()


def _main(arguments: list[str]) -> int:
    from ._signals import exit_code, signal_name, sigterm_as_interrupt

    try:
        with sigterm_as_interrupt():  # SIGTERM (docker stop, timeout, a CI cancel) stops a command as Ctrl-C does
            return _command(arguments)
    except KeyboardInterrupt as stop:  # one the command did not catch itself: as it was ending, or anywhere else
        _say(f"conformance: interrupted ({signal_name(stop)}); the command stopped there")
        return exit_code(stop)
    except BrokenPipeError:
        # The reader of the output went away (`conformance adapters | head -2`): no traceback, and nothing more
        # written there (Python would try again, and fail again, when it flushes stdout at exit).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # as a process killed by SIGPIPE, what a shell reports for the other commands of a pipe


def _command(arguments: list[str]) -> int:
    parser = _parser()
    if not arguments:
        # A bare `conformance` is someone finding their way: say how, rather than run the demo into
        # whatever folder they are in.
        print(parser.format_help() + _START, end="")
        return 0
    args = parser.parse_args(arguments)
    if args.command is None:  # options only (e.g. a bare --help is handled by argparse): the same guidance
        print(parser.format_help() + _START, end="")
        return 0
    if args.command == "run":
        from ._guarded_run import _FINISHED_ENV, _child_run, _guarded, _in_process_code, _stop_with_parent

        if _in_process_code(args) and _FINISHED_ENV not in os.environ:
            return _guarded(arguments, args, _report_dir(args))
        _stop_with_parent()
        finished = os.environ.get(_FINISHED_ENV)
        if finished:  # the guarded run's child: its last act says it finished, and with what
            return _child_run(lambda: _run(args), _report_dir(args), finished)
        return _run(args)
    if args.command == "compare":
        return _compare(args)
    if args.command == "verify":
        return _verify(args)
    if args.command == "plan":
        from .plan_command import run as plan

        return plan(args)
    if args.command == "checks":
        from .checks import CHECK_IDS, SUMMARIES

        for check_id in CHECK_IDS:
            print(f"{check_id:<28} {SUMMARIES[check_id]}")
        return 0
    if args.command == "adapters":
        from .adapters.registry import available

        for name, target in available().items():
            # How to name it, then its entry point (a third party's names both); rt14d F8: python: had no form.
            _say(f"{name:<12} {_ANALYZER_FORMS.get(name, f'{name}[:ARGUMENT]'):<48} {target}", file=sys.stdout)
        return 0
    parser.error(f"unknown command {args.command!r}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
