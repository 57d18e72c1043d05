"""pytest glue for the conformance kit: options, ini keys, fixtures, report header and summary.

No logic of its own lives here: loading is :mod:`conformance.run.context`, checks are
:mod:`conformance.checks`, reports are :mod:`conformance.reporting`. Importing this module imports
nothing heavy; numpy and friends load only when a conformance fixture is used.

Why this is one module of about 1,400 lines: pytest finds a plugin's hooks and fixtures by name in
the one module its ``pytest11`` entry point names, and every part of it reads the same per-session
state: the fifteen stash keys declared at the top, the run's options (``_options``) and its one loaded
context (``_load``), which configuration, the xdist share, the fixtures, the regression gate and the
collector that writes the reports all read and write. Parts moved to other modules would have to be
registered by hand as plugins in ``pytest_configure`` (and again on every xdist worker) and would
import these private keys back from here, one state spread over several files; what is not that
state already lives elsewhere (loading in :mod:`conformance.run.context`, checks, reports, the
option table). The banners above each part say where it starts.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .._text import printable, printable_lines
from ..options import OPTION, OPTIONS, Option, OptionError, reproduce_flags, run_options

if TYPE_CHECKING:
    from ..adapters.base import Analyzer
    from ..assertions import RunLink
    from ..dataset import Dataset
    from ..matching import SearchRun
    from ..observation import Observations
    from ..policy import Policy
    from ..report import Report
    from ..results import CheckResult
    from ..run.context import Context, RunOptions
    from ..run.sharing import Share

__all__ = [
    "OPT_ALLOW_LIVE",
    "OPT_ANALYZER",
    "OPT_BASELINE",
    "OPT_BASELINE_ANY_DATASET",
    "OPT_CASSETTE_DIR",
    "OPT_CHECKS",
    "OPT_DATASET",
    "OPT_DEMO",
    "OPT_DEMO_MATCHING",
    "OPT_EXECUTOR",
    "OPT_GROUP_BY",
    "OPT_MATCH_MODE",
    "OPT_NO_CACHE",
    "OPT_POLICY",
    "OPT_PROFILE",
    "OPT_PROGRESS",
    "OPT_RATE",
    "OPT_RECORD_MODE",
    "OPT_REFERENCE",
    "OPT_REPORT_DIR",
    "OPT_SEED",
    "OPT_THRESHOLDS",
    "OPT_TIMEOUT",
    "CliInvocation",
]

# Option names, importable by tests and by the CLI that builds command lines from them; every option,
# its ini key, parser and default are declared once, in conformance.options.
OPT_DEMO = OPTION["demo"].pytest_flag
OPT_DEMO_MATCHING = OPTION["demo_matching"].pytest_flag
OPT_DATASET = OPTION["dataset"].pytest_flag
OPT_ANALYZER = OPTION["analyzer"].pytest_flag
OPT_GROUP_BY = OPTION["group_by"].pytest_flag
OPT_REFERENCE = OPTION["reference"].pytest_flag
OPT_CHECKS = OPTION["checks"].pytest_flag
OPT_POLICY = OPTION["policy"].pytest_flag
OPT_PROFILE = OPTION["profile"].pytest_flag
OPT_SEED = OPTION["seed"].pytest_flag
OPT_REPORT_DIR = OPTION["report_dir"].pytest_flag
OPT_CASSETTE_DIR = OPTION["cassette_dir"].pytest_flag
OPT_RECORD_MODE = OPTION["record_mode"].pytest_flag
OPT_ALLOW_LIVE = OPTION["allow_live"].pytest_flag
OPT_THRESHOLDS = OPTION["thresholds"].pytest_flag
OPT_BASELINE = OPTION["baseline"].pytest_flag
OPT_BASELINE_ANY_DATASET = OPTION["baseline_any_dataset"].pytest_flag
OPT_MATCH_MODE = OPTION["match_mode"].pytest_flag
OPT_EXECUTOR = OPTION["executor"].pytest_flag
OPT_RATE = OPTION["rate"].pytest_flag
OPT_TIMEOUT = OPTION["timeout"].pytest_flag
OPT_PROGRESS = OPTION["progress"].pytest_flag
OPT_NO_CACHE = OPTION["no_cache"].pytest_flag

# Results ride on the test report as attributes (xdist serialises a report's attributes to the
# controller), not as user_properties, which would land in JUnit XML as blobs.
_RESULTS_ATTR = "conformance_results"
_CONTEXT_ATTR = "conformance_context"
_SKIPPED_ATTR = "conformance_skipped"
_GATE_ATTR = "conformance_gate"
_NOT_RUN_ATTR = "conformance_not_run"
_ELSEWHERE_ATTR = "conformance_run_elsewhere"  # checks a test ran with other choices than the run's (rt14c F10)
_item_elsewhere_key = pytest.StashKey[list[dict[str, str]]]()
_MAX_ERROR = 300  # characters of a check's error kept as its reason
# The exit status of a run the kit refuses (bad input, a systematic failure): the CLI's usage code, under pytest too.
USAGE_EXIT = 2
_SYSTEMATIC_ATTR = "conformance_systematic"
_systematic_key = pytest.StashKey[str]()
_item_gate_key = pytest.StashKey[dict[str, Any]]()
_item_results_key = pytest.StashKey[list[dict[str, Any]]]()
_item_context_key = pytest.StashKey[dict[str, Any]]()
_sent_key = pytest.StashKey[bool]()
_options_key = pytest.StashKey["RunOptions"]()
_computed_key = pytest.StashKey[dict[str, list["CheckResult"]]]()
_answers_key = pytest.StashKey[str]()  # an xdist worker's digest of its answers, worked out once
_context_key = pytest.StashKey["Context"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "bias conformance checks for facial analysis")
    for option in OPTIONS:
        if option.flag:
            group.addoption(option.pytest_flag, action="store_true", dest=option.dest, default=False, help=option.help)
            parser.addini(option.dest, help=option.help, type="bool", default=False)
        else:
            # The option's parser is argparse's type=: a bad value is a usage error naming it.
            group.addoption(
                option.pytest_flag,
                action="store",
                dest=option.dest,
                default=None,
                type=option.argparse_type,
                metavar=option.metavar,
                help=option.help,
            )
            parser.addini(option.dest, help=option.help, default=None)


def _given(config: pytest.Config, option: Option) -> Any:
    """The option's parsed value from the command line, else from the ini file, else None (a flag: False).

    The command line wins over the ini file. One rule for paths: a path set in an ini file
    (``pytest.ini``, ``tox.ini``, ``setup.cfg``, ``pyproject.toml``) is relative to that file's
    folder, the analyzer's file included (``predictions:FILE``, ``embeddings:FILE``, ``scores:FILE``,
    ``python:path/to/file.py:FUNCTION``); one on the command line, to the working directory.
    """
    value = config.getoption(option.dest)
    if option.flag:
        return bool(value or config.getini(option.dest))
    if value is not None:
        return value
    text = config.getini(option.dest)
    if not text:
        return None
    try:
        value = option.parse(str(text))
    except OptionError as exc:
        raise pytest.UsageError(f"ini {option.dest}: {exc}") from None
    from ..options import rebase

    return rebase(option, value, _ini_folder(config))


def _ini_folder(config: pytest.Config) -> Path:
    """The folder of the ini file the run's settings come from (the rootdir when there is none)."""
    inipath = getattr(config, "inipath", None)
    return Path(inipath).parent if inipath is not None else config.rootpath


def _options(config: pytest.Config) -> RunOptions:
    """The run's options, parsed once per process (kept in the config's stash)."""
    if _options_key not in config.stash:
        values = {option.name: _given(config, option) for option in OPTIONS}
        config.stash[_options_key] = run_options(values, project_root=str(config.rootpath))
    return config.stash[_options_key]


def _active(config: pytest.Config) -> bool:
    """Whether this run asked for the kit at all (a user's unrelated test run must not see it)."""
    given = (_given(config, option) for option in OPTIONS if not option.tuning)
    return any(value is not None and value is not False for value in given)


class CliInvocation:
    """Handed to pytest by ``conformance run`` (a plugin object): the arguments it was given after ``--``.

    The reproduce line of a run made by ``conformance run`` is a ``conformance run`` line; its pytest
    arguments are the user's, not the ones the CLI adds to start the suite.
    """

    def __init__(self, pytest_args: list[str], context: Context | None = None) -> None:
        self.pytest_args = list(pytest_args)
        self.context = context  # what conformance run loaded: xdist workers take its answers
        self.interrupted = False  # Ctrl-C (or SIGTERM) during the session: the CLI says so and exits 130 (143)
        self.signal: BaseException | None = None  # which interruption: a KeyboardInterrupt or _signals.Terminated
        self.reports_written = False  # whether this run's reports were put in place (before an interruption)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # Ctrl-C only: pytest.exit() (a conftest's) ends the run with its own status and an incomplete report.
        self.interrupted = excinfo.errisinstance(KeyboardInterrupt)
        if self.interrupted:
            self.signal = excinfo.value


def _cli(config: pytest.Config) -> CliInvocation | None:
    return next((p for p in config.pluginmanager.get_plugins() if isinstance(p, CliInvocation)), None)


def _pytest_args(config: pytest.Config) -> list[str]:
    """The pytest arguments that shaped the run besides the kit's options (-k, -x, --deselect, -p, ...).

    ``PYTEST_ADDOPTS`` and an ini file's ``addopts`` count too: pytest applied them as if typed.
    """
    addopts = shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    cli = _cli(config)
    if cli is not None:
        return [*addopts, *cli.pytest_args]
    given = [*config.getini("addopts"), *addopts, *config.invocation_params.args]
    out: list[str] = []
    words = iter(given)
    for word in words:
        name = word.partition("=")[0]
        option = next((o for o in OPTIONS if o.pytest_flag == name), None)
        if option is None:
            out.append(word)
        elif not option.flag and "=" not in word:
            next(words, None)  # the kit's option's value: the reproduce line's flags hold it
    return out


def _gate_flags(config: pytest.Config) -> list[str]:
    """The regression gate's options as the run was given them, for its reproduce line: the run's own flags
    (``RunOptions``) leave them out, and a line without ``--baseline`` repeats another run."""
    baseline = _given(config, OPTION["baseline"])
    if baseline is None:
        return []
    flags = [f"{OPT_BASELINE}={shlex.quote(str(baseline))}"]
    if _given(config, OPTION["baseline_any_dataset"]):
        flags.append(OPT_BASELINE_ANY_DATASET)
    return flags


def _command(config: pytest.Config, flags: list[str]) -> str:
    """The command line that repeats the run: ``conformance run ... -- PYTEST_ARGS`` or ``pytest ...``."""
    from ..evidence import reproduce_command

    return reproduce_command(flags, _pytest_args(config), cli=_cli(config) is not None)


def baseline_mismatch(baseline: str, ctx: Context, *, any_dataset: str) -> str | None:
    """Why ``baseline`` (a report.json) cannot gate a run on ``ctx``'s dataset, or None when it can.

    A baseline made on other photos (another content hash) is no baseline: its gaps differ by the
    data as well as by the analyzer. ``any_dataset`` is the option that allows it anyway, as the
    caller spells it. A baseline that cannot be read was refused before (``read_baseline``).
    """
    from ..errors import ConformanceError
    from ..report import read_report

    try:
        old = read_report(baseline)
    except ConformanceError:
        return None
    mine, theirs = ctx.dataset.content_hash, old.dataset.content_hash
    if mine == theirs:
        return None
    name = old.dataset.name or "an unnamed dataset"
    made = f"dataset {name!r} ({theirs})" if theirs else f"{name!r}, with no dataset content hash"
    return (
        f"the baseline {baseline} was made on {made}, and this run audits dataset {ctx.dataset.name!r} "
        f"({mine}, {ctx.dataset.manifest}): gaps measured on other photos are no baseline. Gate against a "
        f"report of the same dataset, or pass {any_dataset} to compare anyway"
    )


def _check_baseline(baseline: str) -> None:
    """A baseline that cannot be read stops the run before it starts, exit 2 (a usage error, as under the CLI)."""
    from ..comparison.gate import read_baseline
    from ..errors import ConformanceError

    try:
        read_baseline(baseline, option=OPT_BASELINE)
    except ConformanceError as exc:
        pytest.exit(printable(f"conformance: error: {exc}"), returncode=USAGE_EXIT)


def pytest_configure(config: pytest.Config) -> None:
    _join_share(config)  # before anything loads the run (the baseline check below does)
    if _active(config):
        _options(config)  # a bad ini value is a usage error now, not in the middle of the run
        _prepare_run(config)
        baseline = _given(config, OPTION["baseline"])
        if baseline is not None:
            _check_baseline(baseline)
        if baseline is not None and not _given(config, OPTION["baseline_any_dataset"]):
            from ..errors import ConformanceError
            from ..run.context import load_context

            try:
                ctx = load_context(_options(config))  # conformance run loaded it already: no second load
            except ConformanceError:
                ctx = None  # the fixtures say what is wrong, with the way out
            if ctx is not None:
                config.stash[_loaded_key] = ctx  # xdist workers take its answers (pytest_configure_node)
            problem = None if ctx is None else baseline_mismatch(baseline, ctx, any_dataset=OPT_BASELINE_ANY_DATASET)
            if problem is not None:
                # The CLI's usage code (2), not pytest's (4): one exit status for one mistake, however it is run.
                pytest.exit(printable(f"conformance: error: {problem}"), returncode=USAGE_EXIT)
    config.addinivalue_line("markers", "conformance(check): a conformance check of the built-in suite")
    config.addinivalue_line("markers", "conformance_gate: the regression gate against --conformance-baseline")
    config.pluginmanager.register(_Collector(config), "conformance-collector")


# -- one run, one set of answers under pytest-xdist (conformance.run.sharing) --------------------------------

_SHARE_INPUT = "conformance_share"
_ANSWERS_FIELD = "_conformance_answers"  # a worker's digest of its answers, riding on the context it sends
_share_key: pytest.StashKey[Share] = pytest.StashKey()
_loaded_key: pytest.StashKey[Context] = pytest.StashKey()


def _join_share(config: pytest.Config) -> None:
    """In an xdist worker: analyse through the run's shared folder, so that every worker uses the same answers."""
    given = getattr(config, "workerinput", {}).get(_SHARE_INPUT)
    if given is not None:
        from ..run.sharing import Share, activate

        activate(Share.from_input(given))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist, on the controller: every worker gets the run's shared folder (and the answers, if this process has them)."""
    config = node.config
    if not _active(config):
        return
    from ..run.sharing import open_share, seed

    share = config.stash.get(_share_key, None)
    if share is None:
        share = config.stash[_share_key] = open_share()
        cli = _cli(config)
        # conformance run analysed before pytest started (or the baseline check loaded the run): no second analysis.
        ctx = config.stash.get(_loaded_key, None) or (cli.context if cli is not None else None)
        if ctx is not None and ctx.observations is not None and ctx.sequential is None:
            seed(share, (ctx.options, ctx.analyzer_spec), ctx.observations)
    node.workerinput[_SHARE_INPUT] = share.to_input()


def pytest_unconfigure(config: pytest.Config) -> None:
    share = config.stash.get(_share_key, None)
    if share is not None:
        share.close()
    if _SHARE_INPUT in getattr(config, "workerinput", {}):
        from ..run.sharing import activate

        activate(None)


def _prepare_run(config: pytest.Config) -> None:
    """SIGTERM stops the run as Ctrl-C does (answers kept, a message); a report folder that cannot be one stops it now."""
    from contextlib import ExitStack

    from .._signals import sigterm_as_interrupt

    stack = ExitStack()
    stack.enter_context(sigterm_as_interrupt())
    config.add_cleanup(stack.close)
    if hasattr(config, "workerinput"):
        return  # an xdist worker writes no report
    from ..report_folder import ReportWriteError, check_report_dir

    try:
        check_report_dir(_report_dir(config))
    except ReportWriteError as exc:
        pytest.exit(printable(f"conformance: error: {exc}"), returncode=USAGE_EXIT)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if not _active(config):
        return None
    options = _options(config)
    what = (
        "the shipped demo (simulated predictions, emulated recordings)"
        if options.demo
        else "the shipped face-search demo (simulated search results, emulated recordings)"
        if options.demo_matching
        else f"{options.analyzer} on {options.dataset}"
        if options.dataset and options.analyzer
        else f"the model of the conformance_model fixture on {options.dataset}, unless {OPT_ANALYZER} names another"
        if options.dataset
        else f"no dataset and analyzer named yet (set {OPT_DATASET} and {OPT_ANALYZER}, or {OPT_DEMO})"
    )
    # Paths and values given as arguments are data: escaped, the line stays one line (issue 15).
    return [
        printable(
            f"conformance: {what}; repeat with: "
            f"{' '.join([*reproduce_flags(options), *_gate_flags(config), *map(shlex.quote, _pytest_args(config))])}"
        )
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    wanted = _options(config).checks
    if _given(config, OPTION["baseline"]) is None:
        # The regression gate runs only against a baseline.
        gate = [item for item in items if item.get_closest_marker("conformance_gate") is not None]
        if gate:
            config.hook.pytest_deselected(items=gate)
            items[:] = [item for item in items if item not in gate]
    if not wanted and _active(config) and any(item.get_closest_marker("conformance") for item in items):
        # The dataset decides: gender checks for a gender manifest, matching checks for a matching one.
        from ..errors import ConformanceError
        from ..run.context import load_context

        try:
            wanted = load_context(_options(config)).checks
        except ConformanceError:
            return  # the fixtures report the problem, once per test, with the way out
    if not wanted:
        return
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("conformance")
        if marker is None or (marker.args and marker.args[0] in wanted):
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed check of the built-in suite reports its table alone: the traceback says nothing more."""
    outcome = yield
    from ..errors import ConformanceFailure

    report = outcome.get_result()
    marker = item.get_closest_marker("conformance")
    if marker is not None or item.get_closest_marker("conformance_gate") is not None:
        _refuse_xfail(item, call, report)
    systematic = item.config.stash.get(_systematic_key, None)
    if systematic is not None and report.failed:
        setattr(report, _SYSTEMATIC_ATTR, systematic)  # to the controller under xdist: the run ends with exit 2
    # A check that ran and came back "not applicable" is skipped with its result recorded: a result,
    # not a check that was not run.
    ran = bool(item.stash.get(_item_results_key, []))
    if report.skipped and not hasattr(report, "wasxfail") and marker is not None and marker.args and not ran:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        setattr(report, _SKIPPED_ATTR, {"id": str(marker.args[0]), "reason": str(reason).removeprefix("Skipped: ")})
    if report.failed and not ran and marker is not None and marker.args and call.excinfo is not None:
        # The check raised before it had a result (MemoryError from a huge bootstrap, a fixture's error):
        # it was planned and not run, and the report says with which error.
        error = call.excinfo
        message = " ".join(str(error.value).split()) or "no message"
        if len(message) > _MAX_ERROR:
            message = message[:_MAX_ERROR] + f"... ({len(message)} characters)"
        where = "" if call.when == "call" else f" in {call.when}"
        not_run = {"id": str(marker.args[0]), "cause": "raised", "reason": f"raised {error.typename}{where}: {message}"}
        setattr(report, _NOT_RUN_ATTR, not_run)
        item.user_properties.extend(_not_run_properties(not_run))
    if call.when == "call":
        setattr(report, _RESULTS_ATTR, item.stash.get(_item_results_key, []))
        if _item_elsewhere_key in item.stash:
            setattr(report, _ELSEWHERE_ATTR, item.stash[_item_elsewhere_key])
        if _item_gate_key in item.stash:
            setattr(report, _GATE_ATTR, item.stash[_item_gate_key])
        if _item_context_key in item.stash:
            setattr(report, _CONTEXT_ATTR, item.stash[_item_context_key])
    failure = call.excinfo.value if call.excinfo is not None else None
    if isinstance(failure, ConformanceFailure) and item.get_closest_marker("conformance") is not None:
        report.longrepr = printable_lines(str(failure))


def _refuse_xfail(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    """Undo an xfail a kit check did not make itself: its verdict is the kit's, not a marker's.

    The kit xfails an inconclusive check when the policy says so (``inconclusive = "xfail"``), from the
    check's own call; an ``xfail`` marker a conftest puts on a check (or an xfail raised from a hook
    or fixture) would otherwise turn a failing check into XFAIL and the run into exit 0.
    """
    xfail = pytest.xfail.Exception
    strict_xpass = report.failed and isinstance(report.longrepr, str) and report.longrepr.startswith("[XPASS(strict)]")
    if not (hasattr(report, "wasxfail") or strict_xpass):
        return
    if call.when == "call" and call.excinfo is not None and call.excinfo.errisinstance(xfail):
        return  # the kit's own: an inconclusive check under inconclusive = "xfail"
    reason = str(getattr(report, "wasxfail", report.longrepr))
    if hasattr(report, "wasxfail"):
        delattr(report, "wasxfail")
    if strict_xpass:
        report.outcome, report.longrepr = "passed", None  # the check passed: a strict marker does not fail it
    elif report.skipped:
        report.outcome = "failed"  # XFAIL: the check failed (or was xfailed before it ran), and says so
        if call.excinfo is None or call.excinfo.errisinstance(xfail):
            report.longrepr = (
                f"conformance: {item.nodeid} was xfailed outside the kit ({reason}); a conformance check's verdict "
                'is the kit\'s: set inconclusive = "xfail" in the policy to xfail inconclusive checks'
            )
    # XPASS (not strict): a pass, as it is without the marker.


# -- fixtures ---------------------------------------------------------------------------------------

_default_model_key = pytest.StashKey[bool]()


def _model(request: pytest.FixtureRequest) -> object:
    """The ``conformance_model`` fixture's model, or None; a project's override used wrongly is named, with the way out.

    Requested here rather than as a parameter: a function-scoped override would otherwise fail with
    pytest's bare ScopeMismatch, which names neither the fixture's purpose nor the fix.
    """
    named = request.config.getoption(OPTION["analyzer"].dest)
    if named is not None and not str(named).startswith("python:@"):
        # The command line names another analyzer and wins: the project's fixture (which may load weights this
        # machine lacks) is not even evaluated (rt14c F3). "python:@..." names a fixture's model: it is needed.
        return None
    try:
        model = request.getfixturevalue("conformance_model")
    except pytest.fail.Exception as exc:
        if not str(exc).startswith("ScopeMismatch"):
            raise
        message = (
            "conformance: the conformance_model fixture must be session-scoped: the model is loaded, and every photo "
            'analysed, once per run. Declare it @pytest.fixture(scope="session") (docs/how-to/python-model.md)'
        )
    else:
        options = _options(request.config)
        default = request.config.stash.get(_default_model_key, False)
        if model is not None or default or options.analyzer is not None or options.dataset is None:
            return model
        message = (
            f"conformance: the conformance_model fixture returned None, and no analyzer is named: return the model "
            f"to audit from it (a function called with each photo's path, or an Analyzer; "
            f"docs/how-to/python-model.md), or name one with {OPT_ANALYZER} (ini conformance_analyzer)"
        )
    pytest.fail(message, pytrace=False)  # outside the except: no "during handling" chain


def _load(config: pytest.Config, model: object = None) -> Context:
    """The run's context; with ``model`` (the ``conformance_model`` fixture's), that model is the analyzer.

    Which analyzer wins: ``--conformance-analyzer`` on the command line, then the fixture's model,
    then the ini key ``conformance_analyzer`` (a conftest.py override is the project's choice; a
    command line is this run's).
    """
    from ..errors import ConformanceError
    from ..run.context import build_context, load_context
    from ..run.execution import SystematicFailure

    options = _options(config)
    try:
        if model is None:
            return load_context(options)
        from dataclasses import replace

        from ..adapters.python import register

        spec = register(model)  # also when the command line names it: its reproduce line does
        if config.getoption(OPTION["analyzer"].dest) is None:
            options = replace(options, analyzer=spec)
        # Not load_context's cache: another model may be registered under the same name in this process.
        return build_context(options)
    except SystematicFailure as exc:
        # Not a failing test but a run that must not go on: the session ends with exit 2, as under the CLI.
        message = f"conformance: {exc}"
        config.stash[_systematic_key] = message
    except ConformanceError as exc:
        message = printable(f"conformance: {exc}")
    pytest.fail(message, pytrace=False)  # outside the except: no "during handling" chain


@pytest.fixture(scope="session")
def conformance_model(pytestconfig: pytest.Config) -> object:
    """The model to audit, handed over in-process: override this fixture in ``conftest.py``.

    As pytest-recording users override ``vcr_config``, a project returns its model here: a function
    called with each photo's path that returns what one line of a predictions file holds for it,
    or an :class:`~conformance.adapters.base.Analyzer` (the contract of ``--analyzer
    python:MODULE:FUNCTION``, docs/how-to/python-model.md). ``None`` (the default): the analyzer is
    the one ``--conformance-analyzer`` names. ``--conformance-analyzer`` on the command line wins
    over this fixture, which wins over the ini key ``conformance_analyzer``.
    """
    pytestconfig.stash[_default_model_key] = True  # None from here is "no model", not a project's fixture's None
    return None


@pytest.fixture(scope="session")
def conformance_context(request: pytest.FixtureRequest) -> Context:
    """Everything a run loaded: dataset, observations, policy, groups, reference, seed."""
    pytestconfig = request.config
    ctx = _load(pytestconfig, _model(request))
    # The assert_* helpers called on this run's observations record into the run's reports through it.
    pytestconfig.stash[_context_key] = ctx
    return ctx


@pytest.fixture(scope="session")
def conformance_policy(conformance_context: Context) -> Policy:
    """The policy in force (``--conformance-policy``, ``[tool.conformance]``, or the defaults)."""
    return conformance_context.policy


@pytest.fixture(scope="session")
def conformance_dataset(conformance_context: Context) -> Dataset:
    """The validated dataset (``--conformance-dataset``)."""
    return conformance_context.dataset


@pytest.fixture(scope="session")
def conformance_observations(conformance_context: Context) -> Observations:
    """What the analyzer said about every photo of the dataset (a gender run)."""
    if conformance_context.observations is None:
        pytest.fail("conformance: this is a face-matching run; its results are conformance_searches", pytrace=False)
    return conformance_context.observations


@pytest.fixture(scope="session")
def conformance_searches(conformance_context: Context) -> SearchRun:
    """Every probe's search against the gallery (a face-matching run)."""
    if conformance_context.searches is None:
        pytest.fail("conformance: this is a gender run; it has no face searches", pytrace=False)
    return conformance_context.searches


@pytest.fixture(scope="session")
def conformance_analyzer(conformance_context: Context) -> Analyzer:
    """A fresh analyzer from ``--conformance-analyzer`` for the dataset, with the run's recording settings.

    An analyzer with a ``session()`` (``rekognition``) analyses inside it: ``with analyzer.session(): ...``.
    """
    from ..adapters.registry import create
    from ..errors import ConformanceError

    ctx = conformance_context
    try:
        return create(ctx.analyzer_spec, dataset=ctx.dataset, settings=ctx.settings)
    except ConformanceError as exc:
        message = printable(f"conformance: {exc}")
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def conformance_groups(conformance_context: Context) -> tuple[str, ...]:
    """The group of each photo, aligned with the dataset (``--conformance-group-by``)."""
    return conformance_context.groups


@pytest.fixture(scope="session")
def conformance_reference(conformance_context: Context) -> str:
    """The reference group (``--conformance-reference``)."""
    return conformance_context.reference


def _send_context(item: pytest.Item, ctx: Context) -> None:
    """The run's context goes once per process (controller or xdist worker) to the report writer."""
    if not item.config.stash.get(_sent_key, False):
        item.config.stash[_sent_key] = True
        payload = _context_payload(ctx)
        if hasattr(item.config, "workerinput"):
            # To the xdist controller, through execnet: plain lists only (the photos are made when read).
            payload["photos"] = list(payload["photos"])
            worker = str(item.config.workerinput.get("workerid", "?"))
            payload[_ANSWERS_FIELD] = {"worker": worker, "digest": _answers_of(item.config, ctx, payload["photos"])}
        item.stash[_item_context_key] = payload


def _record_on(item: pytest.Item, ctx: Context, result: CheckResult) -> None:
    """Attach ``result`` to ``item``'s report; the controller gathers them into the run's reports."""
    _send_context(item, ctx)
    # A JSON round trip leaves plain types only, which xdist's channel (execnet) can carry.
    item.stash.setdefault(_item_results_key, []).append(json.loads(json.dumps(result.to_dict())))


@pytest.fixture
def conformance_record(request: pytest.FixtureRequest, conformance_context: Context) -> Callable[[CheckResult], None]:
    """Attach a CheckResult to this test's report; the controller gathers them into report.json."""
    item = request.node
    assert isinstance(item, pytest.Item)
    _send_context(item, conformance_context)

    def record(result: CheckResult) -> None:
        _record_on(item, conformance_context, result)

    return record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """Lend the ``assert_*`` helpers the run while a test runs: its grouping, reference, policy and seed
    for the run's own observations, and a way to record what they find into the run's reports (as
    ``conformance_check`` does), so that a test written with the helpers gets the same reports,
    summary and completeness accounting."""
    if _context_key not in item.config.stash:
        yield  # no test of this process loaded the run's data: a helper cannot be called on it
        return
    from ..assertions import lend_run

    with lend_run(lambda observations: _run_link(item, observations)):
        yield


def _run_link(item: pytest.Item, observations: object) -> RunLink | None:
    """What the helpers take from the run for ``observations``; None for observations that are not the run's."""
    from ..assertions import RunLink

    ctx = item.config.stash.get(_context_key, None)
    if ctx is None or ctx.observations is None or observations is not ctx.observations:
        return None

    def record(result: CheckResult) -> None:
        _record_on(item, ctx, result)
        item.user_properties.extend(_junit_properties(result))

    def elsewhere(check_id: str, differs: str) -> None:
        reason = (
            f"run by {item.nodeid} with other choices than the run's ({differs}): that result is the test's "
            "own, not the run's, so it is not in the reports; call the helper without them to record the run's"
        )
        item.stash.setdefault(_item_elsewhere_key, []).append({"id": check_id, "cause": "elsewhere", "reason": reason})

    return RunLink(
        groups=ctx.groups,
        reference=ctx.reference,
        policy=ctx.policy,
        seed=ctx.options.seed,
        compute=lambda check_id: _results(item.config, ctx, check_id)[0],
        record=record,
        footer=_footer(ctx),
        elsewhere=elsewhere,
    )


def _results(config: pytest.Config, ctx: Context, check_id: str) -> list[CheckResult]:
    """A check's results on the run's data, computed once per run: the check's test and the gate share them,
    in this process, and under pytest-xdist across the run's workers (:func:`_run`)."""
    done = config.stash.setdefault(_computed_key, {})
    if check_id not in done:
        done[check_id] = _run(config, ctx, check_id)
    return done[check_id]


def _run(config: pytest.Config, ctx: Context, check_id: str) -> list[CheckResult]:
    """``check_results``; in an xdist worker, through the run's share: the first worker to need a check's
    results computes them, the others (the gate's, a second test of the check) read them, sealed as the
    answers are (red team 18 F13: the gate's worker computed every check again, bootstraps included)."""
    from ..errors import ConformanceError
    from ..run.context import check_results

    try:
        if not hasattr(config, "workerinput"):
            return check_results(ctx, check_id)  # one process: its results are shared within it (_results)
        from ..run.cache import EntryBounds
        from ..run.sharing import shared_results

        return shared_results(
            # What decides them: the run's options, the check, and the answers they stand on (the digest the
            # controller compares), so a worker that had to work its answers out alone never reads another's.
            (ctx.options, ctx.analyzer_spec, check_id, _answers_of(config, ctx)),
            lambda: check_results(ctx, check_id),
            dump=lambda results: [result.to_dict() for result in results],
            load=lambda rows: _results_from(rows, check_id),
            # A check's results summarise the answers: read within the bounds of the run's answers' entry.
            bounds=EntryBounds.of_run(ctx.dataset.photos),
        )
    except ConformanceError as exc:
        message = printable(f"conformance: {exc}")
    pytest.fail(message, pytrace=False)


def _results_from(rows: list[Any], check_id: str) -> list[CheckResult]:
    """A check's results as another worker stored them (``CheckResult.to_dict``); ValueError if they are not."""
    from collections.abc import Mapping

    from ..results import CheckResult

    if not all(isinstance(row, Mapping) and row.get("id") == check_id for row in rows):
        raise ValueError(f"not {check_id}'s results")
    return [CheckResult.from_dict(row, where=f"{check_id}'s shared result") for row in rows]


def _answers_of(config: pytest.Config, ctx: Context, photos: list[dict[str, Any]] | None = None) -> str:
    """The digest of the answers this process's checks stand on (what its context tells the controller), once."""
    digest = config.stash.get(_answers_key, None)
    if digest is None:
        from ..run.sharing import answers_digest

        if photos is None:
            photos = list(_context_payload(ctx)["photos"])
        digest = config.stash[_answers_key] = answers_digest(photos, ctx.observations)
    return digest


@pytest.fixture
def conformance_check(
    request: pytest.FixtureRequest, conformance_context: Context, conformance_record: Callable[[CheckResult], None]
) -> Callable[[str], CheckResult]:
    """Run a check by id on the session's data, record every result, and assert the deciding one.

    A matching check makes one result per similarity threshold; the policy's ``binding_threshold``
    decides.
    """
    from ..assertions import assert_result
    from ..results import deciding

    def check(check_id: str) -> CheckResult:
        __tracebackhide__ = True
        ctx = conformance_context
        results = _results(request.config, ctx, check_id)
        for result in results:
            conformance_record(result)
            suffix = "" if result.threshold is None else f"@{result.threshold:g}"
            request.node.user_properties.extend(_junit_properties(result, suffix=suffix))
        decided = deciding(results)
        if str(decided.verdict) == "not applicable":
            # Recorded above; not a verdict on the analyzer, so neither a pass nor a failure.
            pytest.skip(printable(f"{decided.id} not applicable: {'; '.join(decided.notes)}"))
        return assert_result(decided, inconclusive=ctx.policy.inconclusive, footer=_footer(ctx))

    return check


@pytest.fixture
def conformance_regression_gate(
    request: pytest.FixtureRequest, conformance_context: Context, conformance_record: Callable[[CheckResult], None]
) -> Callable[[], None]:
    """Compare this run with ``--conformance-baseline`` (a report.json); fail on a gap worse beyond noise.

    The gate makes every check of the run to compare them, and records them: a run of the gate alone
    (``-k regression``) reports every check, complete, whatever its exit says about regressions.

    Under pytest-xdist the gate computes no check another worker computed: each check's results are
    computed once per run and shared through the run's sealed folder (:func:`_run`). The gate stays a
    test on a worker, whose outcome is its verdict.
    """
    from ..comparison.gate import find_regressions
    from ..errors import ConformanceError
    from ..report import read_report
    from ..reporting import build_report
    from ..reporting.compare import render_regressions

    def gate() -> None:
        __tracebackhide__ = True
        path = _given(request.config, OPTION["baseline"])
        assert isinstance(path, str)
        try:
            baseline = read_report(path)
        except ConformanceError as exc:
            message = printable(f"conformance: {exc}")
        else:
            results = _all_results(request.config, conformance_context)
            for result in results:
                conformance_record(result)
            current = build_report(results, context=_context_payload(conformance_context))
            regressions = find_regressions(current, baseline)
            summary = render_regressions(regressions, path)
            request.node.stash[_item_gate_key] = {
                "baseline": path,
                "regressions": [r.message for r in regressions],
                "summary": summary,
            }
            if not regressions:
                return
            message = printable_lines(summary)
        pytest.fail(message, pytrace=False)

    return gate


def _append_regular(path: str, text: str) -> None:
    """Append ``text`` to ``path`` if it is (or becomes) a regular file; OSError otherwise, never a wait.

    ``GITHUB_STEP_SUMMARY`` comes from the environment: a named pipe there with no reader made every
    run hang at its end (red team 15c). Opened without blocking and checked before writing.
    """
    import errno
    import stat

    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY, 0o666)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        os.set_blocking(fd, True)
        data = text.encode("utf-8")
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


def _all_results(config: pytest.Config, ctx: Context) -> list[CheckResult]:
    """Every check of the run (the gate compares all of them with the baseline's), each computed once."""
    out: list[CheckResult] = []
    for check_id in ctx.checks:
        out.extend(_results(config, ctx, check_id))
    return out


def _junit_properties(result: CheckResult, suffix: str = "") -> list[tuple[str, str]]:
    """A check's figures as short JUnit XML properties (``--junitxml``), for CI systems that show them."""
    from .._format import fixed, interval

    def name(text: str) -> str:
        # pytest escapes a property's value for XML but writes its name as given: a group name with a
        # control character in it (ESC, NUL, U+FFFE) would make the file no XML at all (issue 15).
        return _xml_text(text)

    prefix = f"conformance.{result.id}{suffix}"
    out: list[tuple[str, str]] = [(name(f"{prefix}.verdict"), str(result.verdict))]
    for group, rate in result.groups.items():
        ci = "" if rate.ci is None else f" {interval(rate.ci)}"
        out.append((name(f"{prefix}.{group}.rate"), f"{fixed(rate.rate)} ({rate.count}/{rate.n}){ci}"))
    for c in result.comparisons:
        gap = fixed(c.difference, sign=True)
        # A group is in several comparisons when every two groups are compared: name the other side
        # unless it is the check's reference.
        pair = c.group if c.reference in (result.reference, "none (absolute)") else f"{c.group}.vs.{c.reference}"
        ci = "" if c.ci is None else f" {interval(c.ci)}"
        out.append((name(f"{prefix}.{pair}.gap"), f"{gap}{ci} tolerance {c.tolerance:g}: {c.verdict}"))
    return out


def _xml_text(text: str) -> str:
    """``text`` as :func:`printable` shows it, with what XML 1.0 cannot hold (U+FFFE, U+FFFF) escaped too."""
    from _pytest.junitxml import bin_xml_escape

    return bin_xml_escape(printable(text))


# How the console's footer says where the answers came from, when it was not the vendor's service.
_CONSOLE_BANNERS = {
    "emulator": "EMULATED API",
    "loopback": "a LOCAL STAND-IN, not the vendor's service",
    "other": "NOT the vendor's public endpoint",
}


def _context_payload(ctx: Context) -> dict[str, Any]:
    from ..evidence import context_payload

    return context_payload(ctx)


def _footer(ctx: Context) -> str:
    from ..report import AnalyzerInfo, endpoint_banners

    analyzer = ctx.analyzer
    flags = [
        word for key, word in (("simulated", "SIMULATED output"), ("emulated", "EMULATED API")) if analyzer.get(key)
    ]
    flags += [_CONSOLE_BANNERS[b.kind] for b in endpoint_banners(AnalyzerInfo(analyzer))]
    label = f" ({', '.join(flags)})" if flags else ""
    return (
        f"analyzer {analyzer.get('name')} {analyzer.get('version', '')}{label}  "
        f"dataset {ctx.dataset.name} {ctx.dataset.content_hash[:19]}...  seed {ctx.options.seed}"
    )


# -- collecting results (on the controller under xdist) and writing reports ---------------------------


class _Collector:
    """Gathers results from test reports, which on the xdist controller come from the workers.

    It also keeps what it needs to account for every planned check that has no result: which were
    deselected (``-k``, ``-m``, ``--deselect``; an xdist worker hands its list over at the end),
    which raised, and whether the run stopped early (``-x``, ``--maxfail``).
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        # As they travel from xdist workers: plain JSON types, read into a Report once at the end.
        self.results: list[dict[str, Any]] = []
        self.context: dict[str, Any] = {}
        self.skipped: list[dict[str, Any]] = []
        self.not_run: dict[str, dict[str, str]] = {}  # check id -> cause and reason
        self.deselected: list[str] = []  # check ids whose test pytest's arguments deselected
        self.gate: dict[str, Any] = {}
        self.report_dir: Path | None = None
        self.stopped = ""
        self.exit_reason = ""  # why the run exits 1 although every test passed, if it does
        self.checked = False  # whether any result came from a test other than the regression gate
        self.interrupted = ""  # pytest.exit() (a user's conftest may call it with exit status 0)
        self.ctrl_c = False  # Ctrl-C: no verdict and no report, the earlier reports stay as they were
        self.signal: BaseException | None = None  # the Ctrl-C (KeyboardInterrupt) or SIGTERM (Terminated) that came
        self.late_signal: BaseException | None = None  # one held back while the reports were put in place
        self.write_error = ""  # why the reports could not be written (the previous ones are kept)
        self.results_interrupted_in_writing = False  # the interruption came as the reports were being written
        self.systematic = ""  # the message of a systematic failure that stopped the run
        self.collected = False  # whether any check of the kit's suite was collected in this session
        self.answers: tuple[str, str] | None = None  # xdist: the first worker's name and digest of its answers
        self._report: Report | None = None

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        if item.get_closest_marker("conformance") is not None:
            self.collected = True

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Ctrl-C: no verdict and no report. ``pytest.exit()``: the checks not reached are not run, and the
        run is no verdict (its reports say incomplete)."""
        if excinfo.errisinstance(KeyboardInterrupt):
            self.ctrl_c = True
            self.signal = excinfo.value
            return
        message = " ".join(str(getattr(excinfo.value, "msg", "") or excinfo.value).split())
        self.interrupted = f"{excinfo.typename}: {message}" if message else excinfo.typename

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for item in items:
            marker = item.get_closest_marker("conformance")
            if marker is not None and marker.args:
                self.deselected.append(str(marker.args[0]))

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist: a worker's deselected checks (pytest_deselected is not forwarded to the controller)."""
        self.deselected.extend(getattr(node, "workeroutput", {}).get(_DESELECTED_OUTPUT, []))

    @pytest.hookimpl(tryfirst=True)  # before a hook that may stop the session (pytest.exit in a conftest)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        skipped = getattr(report, _SKIPPED_ATTR, None)
        if skipped:
            self.skipped.append(dict(skipped))
        systematic = getattr(report, _SYSTEMATIC_ATTR, None)
        if systematic and not self.systematic:
            self.systematic = str(systematic)
        not_run = getattr(report, _NOT_RUN_ATTR, None)
        for entry in ([not_run] if not_run else []) + list(getattr(report, _ELSEWHERE_ATTR, None) or []):
            self.not_run.setdefault(str(entry["id"]), {k: str(v) for k, v in entry.items() if k != "id"})
        gate = getattr(report, _GATE_ATTR, None)
        if gate:
            self.gate = dict(gate)
        if report.when != "call":
            return
        results = getattr(report, _RESULTS_ATTR, [])
        if results and not gate:
            self.checked = True  # a check's own test (or a user's) made results, not the gate alone
        self.results.extend(results)
        context = dict(getattr(report, _CONTEXT_ATTR, {}))
        answers = context.pop(_ANSWERS_FIELD, None)
        if not self.context:
            self.context = context
        if answers is not None:
            self._same_answers(dict(answers), context)

    def _same_answers(self, answers: dict[str, str], context: dict[str, Any]) -> None:
        """xdist: every worker's checks must stand on the same answers, or the run gives no verdict (exit 2)."""
        worker, digest = answers["worker"], answers["digest"]
        if self.answers is None:
            self.answers = (worker, digest)
        elif digest != self.answers[1] and not self.systematic:
            from ..run.sharing import different_answers

            analyzer = self.context.get("analyzer", {})
            name = str(analyzer.get("source") or analyzer.get("name") or "the analyzer")
            first = (self.answers[0], list(self.context.get("photos", [])))
            self.systematic = different_answers(name, first, (worker, list(context.get("photos", []))))

    def _reasons(self) -> dict[str, dict[str, str]]:
        """Why each planned check without a result has none, as far as this process can tell."""
        reasons = dict(self.not_run)
        for check_id in self.deselected:
            reasons.setdefault(
                check_id,
                {"cause": "deselected", "reason": "deselected by pytest's arguments (-k, -m or --deselect)"},
            )
        for skipped in self.skipped:
            reasons.setdefault(
                str(skipped["id"]), {"cause": "skipped", "reason": f"skipped: {skipped.get('reason', '')}"}
            )
        if self.interrupted:
            reasons["*"] = {"cause": "stopped", "reason": f"not reached: the run was interrupted ({self.interrupted})"}
        elif self.stopped:
            reasons["*"] = {"cause": "stopped", "reason": f"not reached: pytest stopped the run ({self.stopped})"}
        else:
            reasons["*"] = {"cause": "no result", "reason": "no test of this run produced a result for it"}
        return reasons

    def _load_context(self) -> None:
        """The run's context when no check sent one (every planned check was deselected or stopped)."""
        if self.context or not self.deselected or not _active(self.config):
            return
        from ..errors import ConformanceError
        from ..run.context import load_context

        try:
            ctx = load_context(_options(self.config))
        except ConformanceError:
            return  # the fixtures said what is wrong
        self.context = _context_payload(ctx)

    def report(self) -> Report:
        """The run's report, made once from what the tests recorded."""
        if self._report is None:
            from ..reporting import build_report

            context = dict(self.context)
            options = _options(self.config)
            run = dict(context.get("run", {}))
            # Made here, on the controller: a worker does not know the command conformance run was given.
            run["pytest_args"] = _pytest_args(self.config)
            # The gate's options belong to the run: its reproduce line must gate again (issue 14, red team).
            run["flags"] = [*run.get("flags", reproduce_flags(options)), *_gate_flags(self.config)]
            run["command"] = _command(self.config, list(run["flags"]))
            run["checks_chosen"] = bool(options.checks)
            if self._gate_only(run.get("checks") or ()):
                run["gate_only"] = True  # the exit status is the gate's: the writers say so beside the verdict
            # Where the flags' relative paths are relative to: conformance verify reads them from there.
            run["cwd"] = str(self.config.invocation_params.dir)
            context["run"] = run
            if self.gate and isinstance(context.get("evidence"), dict):
                context["evidence"] = {**context["evidence"], "baseline": _sealed_baseline(self.gate, options)}
            # A check's results come once from its test and once more from the gate, when both ran.
            unique = {(r.get("id"), r.get("threshold")): r for r in reversed(self.results)}
            self._report = build_report(
                list(reversed(unique.values())),
                context=context,
                skipped=self.skipped,
                regression=self.gate or None,
                not_run=self._reasons(),
            )
        return self._report

    @pytest.hookimpl(tryfirst=True)  # before JUnit XML is written: it gets the not-run checks too
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput"):
            # An xdist worker sends its results inside the test reports, its deselected checks here.
            self.config.workeroutput[_DESELECTED_OUTPUT] = list(self.deselected)  # type: ignore[attr-defined]
            return
        if self.ctrl_c:
            # A report of the checks that happened to finish would read as a verdict on fewer checks, and
            # would replace the last whole run's reports: none is written (the terminal summary says so).
            _junit_interrupted(self.config)
            self._interrupted_status(session)
            return
        stop = session.shouldfail or session.shouldstop
        self.stopped = stop if isinstance(stop, str) else ""
        if self.systematic:
            # As conformance run does: the run stopped on a fault of the setup, and no verdict is built on it.
            session.exitstatus = USAGE_EXIT
            return
        if not self.interrupted:
            self._load_context()  # never after Ctrl-C: loading may mean calling a vendor
        if not self.context:
            if self.collected and self.interrupted and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED  # interrupted before any check: no verdict
            return
        report = self.report()
        new_status = self._exit_status(report, session.exitstatus)
        # Say why when every test passed and the verdict fails the run (not for the gate alone).
        self.exit_reason = _verdict_exit(report) if self.checked and new_status != session.exitstatus else ""
        session.exitstatus = new_status
        _junit_run_properties(self.config, report)
        self.report_dir = _report_dir(self.config)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        from ..reporting import render_markdown
        from ..reporting.markdown import render_gate_summary

        # Every run that recorded a result gets its reports, whichever way its tests made the checks.
        if not self._write_reports(session, report):
            return
        if summary:
            # GitHub Actions shows this file as the job's summary; appended, as other steps may write too.
            try:
                gate_alone = report.regression is not None and report.run.fields.get("gate_only") is True
                text = render_gate_summary(report) if gate_alone else render_markdown(report)
                _append_regular(summary, text + "\n")
            except OSError as exc:  # the job's summary is a courtesy: the run's reports are written
                print(
                    printable(f"conformance: WARNING: cannot append to GITHUB_STEP_SUMMARY {summary}: {exc.strerror}"),
                    file=sys.stderr,
                )

    def _write_reports(self, session: pytest.Session, report: Report) -> bool:
        """Write the three reports as one unit (see conformance.report_folder); False if none was written."""
        from ..report_folder import ReportWriteError, write_reports
        from ..reporting import write_html, write_json, write_markdown

        assert self.report_dir is not None
        cli = _cli(self.config)

        def written() -> None:
            if cli is not None:
                cli.reports_written = True

        writers = {
            "report.json": lambda path: write_json(report, path),
            "report.md": lambda path: write_markdown(report, path),
            "report.html": lambda path: write_html(report, path),
        }
        try:
            done = write_reports(self.report_dir, writers, on_written=written)
        except ReportWriteError as exc:
            self.write_error = printable(f"conformance: error: {exc}")
            self.report_dir = None
            session.exitstatus = USAGE_EXIT
            return False
        except KeyboardInterrupt as exc:  # before the reports were put in place: the previous ones are kept
            self.ctrl_c, self.signal, self.report_dir = True, exc, None
            self.results_interrupted_in_writing = True
            if cli is not None:
                cli.interrupted, cli.signal = True, exc
            _junit_interrupted(self.config)
            self._interrupted_status(session)
            return False
        if done.interrupted is not None:  # came while they were put in place: they are whole, and this run's
            self.late_signal = done.interrupted
            if cli is not None:
                cli.interrupted, cli.signal = True, done.interrupted
            self._interrupted_status(session)
        return True

    def _interrupted_status(self, session: pytest.Session) -> None:
        """pytest's status for an interrupted session; 143 for SIGTERM, which a CI system reads as terminated."""
        from .._signals import Terminated, exit_code

        stopped = self.late_signal or self.signal
        session.exitstatus = exit_code(stopped) if isinstance(stopped, Terminated) else pytest.ExitCode.INTERRUPTED

    @pytest.hookimpl(specname="pytest_sessionfinish", wrapper=True, tryfirst=True)
    def pytest_sessionfinish_exit_status(self, session: pytest.Session) -> Any:
        """Hold the kit's exit status against hooks that run after the report (a conftest setting it to 0)."""
        try:
            return (yield)
        finally:
            if self.ctrl_c or self.late_signal is not None:
                self._interrupted_status(session)
            elif self.write_error:
                session.exitstatus = USAGE_EXIT
            elif self._report is not None and not self.systematic:
                session.exitstatus = self._exit_status(self._report, session.exitstatus)
            elif self.systematic and not hasattr(self.config, "workerinput"):
                session.exitstatus = USAGE_EXIT

    def _exit_status(self, report: Report, status: int) -> int:
        """The kit's verdict decides, except in a run of the regression gate alone (``-k regression``),
        whose exit status is the gate's: it makes every check to compare them, and says if any regressed."""
        return status if self._gate_only(report.planned) else verdict_exit_status(report, status)

    def _gate_only(self, planned: Iterable[str]) -> bool:
        """Whether the regression gate was the run's only test of the kit (``-k regression``): every planned
        check's own test deselected, the gate's results the only ones."""
        planned = set(planned)
        return bool(self.gate) and bool(planned) and planned <= set(self.deselected)

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        def say(text: str) -> None:
            # Group names, reasons, paths and the analyzer's name are data: each line goes out escaped.
            for line in printable_lines(text).split("\n"):
                terminalreporter.write_line(line)

        if self.ctrl_c and _active(config):
            terminalreporter.section("conformance verdicts")
            say(self.interrupted_message())
            return
        if self.systematic:
            terminalreporter.section("conformance verdicts")
            say(self.systematic.removeprefix("conformance: "))
            say(f"conformance verdict: NONE: the run stopped (exit {USAGE_EXIT})")
            return
        if not self.context:
            if self.gate:  # the gate alone (e.g. -k regression): still say what it found
                say(self.gate["summary"])
            return
        from ..assertions import verdict_line

        terminalreporter.section("conformance verdicts")
        report = self.report()
        for line in provenance_lines(report):
            say(printable(line))
        for check in report.checks:  # in the order of the check ids
            if str(check.verdict) in ("not run", "not applicable"):
                label = str(check.verdict).upper()
                say(printable(f"{label:<14} {_label_of(check):<28}  {_reason(check)}"))
            else:
                say(verdict_line(check))
        if report.regression is not None:
            say(report.regression.summary)
        for line in run_summary(report, gate_exit=exitstatus if self._gate_only(report.planned) else None):
            say(printable(line))
        if self.exit_reason:
            say(self.exit_reason)
        if self.report_dir is not None:
            names = ", ".join(
                _shown_path(self.report_dir / name) for name in ("report.json", "report.md", "report.html")
            )
            say(printable(f"reports: {names}"))
        if self.write_error:
            say(self.write_error)
            say(f"conformance: the verdict above is in no report: the reports could not be written (exit {USAGE_EXIT})")
        if self.late_signal is not None:
            from .._signals import signal_name

            say(
                f"conformance: INTERRUPTED ({signal_name(self.late_signal)}) as the reports were put in place: they "
                "were finished first, whole and this run's; the exit status says the run was interrupted"
            )

    def interrupted_message(self) -> str:
        """What an interrupted run says instead of its verdicts."""
        from .._signals import signal_name

        done = sorted({str(r.get("id")) for r in self.results})
        where = f"; the reports in {_report_dir(self.config)}, if any, are an earlier run's"
        finished = (
            f" ({len(done)} check{'s' if len(done) != 1 else ''} had finished: {', '.join(done)})" if done else ""
        )
        when = (
            "while the reports were written" if self.results_interrupted_in_writing else f"during the checks{finished}"
        )
        return printable(
            f"conformance: INTERRUPTED ({signal_name(self.signal)}) {when}: no verdict, and no report written"
            f"{where}. Run the same command again for a verdict"
        )


def _junit_interrupted(config: pytest.Config) -> None:
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is not None:
        xml.add_global_property("conformance.verdict", "interrupted")


_DESELECTED_OUTPUT = "conformance_deselected"


def _report_dir(config: pytest.Config) -> Path:
    """Where the reports go: ``--conformance-report-dir`` (or its ini key), else ``conformance-report`` in the rootdir."""
    given = _given(config, OPTION["report_dir"])
    if given is not None:
        return Path(given)
    return config.rootpath / str(OPTION["report_dir"].cli_default)


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies under it (shorter in a console), else as it is."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (OSError, ValueError):
        return str(path)


def _sealed_baseline(gate: dict[str, Any], options: RunOptions) -> dict[str, Any] | None:
    """The baseline report the regression gate compared with, sealed like the rest of the evidence."""
    from ..evidence import file_entry

    path = str(gate.get("baseline", ""))
    return file_entry(path, options.project_root) if path and os.path.isfile(path) else None


def verdict_exit_status(report: Report, status: int) -> int:
    """The session's exit status once the kit's verdict is known: never 0 for a run that is not a pass.

    pytest's own status stands when it already says something went wrong. When it says 0, the kit's
    verdict, the one its reports print, decides: ``fail`` and
    ``incomplete`` exit 1, and so does ``inconclusive`` unless the policy lets it pass or xfail.
    Whatever pytest was told (an ``xfail`` marker on a check, ``pytest.exit(0)`` from a conftest,
    ``-k`` keeping only passing checks), failing data never exits 0.
    """
    if status != pytest.ExitCode.OK:
        return status
    # The verdict the reports print decides (issue 14: one rule, one exit code), every threshold of a
    # matching run included: a report saying fail or inconclusive never comes with exit 0.
    verdict = str(report.verdict)
    failing = verdict in ("fail", "incomplete") or (
        verdict == "inconclusive" and report.policy.inconclusive not in ("xfail", "pass")
    )
    return int(pytest.ExitCode.TESTS_FAILED) if failing else status


def _reason(check: CheckResult) -> str:
    """Why a check was not run, as the report holds it."""
    not_run = check.typed_details.not_run
    if not_run is not None:
        return not_run.reason
    return "; ".join(n.removeprefix("not applicable: ") for n in check.notes)


def _verdict_exit(report: Report) -> str:
    """Why the run's verdict fails the run (exit status 1) whatever its tests' outcomes, or ''.

    A test asserts one result (a face-matching check's binding threshold, say) while the run's
    verdict is the worst of all its results: a run whose reports say fail, or inconclusive under a
    policy that counts inconclusive as a failure (the default), exits 1, as every other run does.
    """
    verdict = str(report.verdict)
    if verdict == "fail":
        return "exit status 1: the run's verdict is fail"
    if verdict == "inconclusive" and report.policy.inconclusive == "fail":
        which = ", ".join(_label_of(c) for c in report.checks if str(c.verdict) == "inconclusive")
        return (
            f"exit status 1: the run's verdict is inconclusive ({which}), and under this policy inconclusive "
            'counts as fail (inconclusive = "xfail" or "pass" in [tool.conformance] says otherwise)'
        )
    return ""


def _label_of(check: CheckResult) -> str:
    """A check's name in the console: its id, with its threshold (and whether it binds) for matching checks."""
    if check.threshold is None:
        return check.id
    return f"{check.id}@{check.threshold:g}" + (" (binding)" if check.binding else "")


def provenance_lines(report: Report) -> list[str]:
    """What the console says first when the answers are not the vendor's service's (as every report does)."""
    from ..report import provenance_warnings

    out = provenance_warnings(report.analyzer)
    notes = report.analyzer.fields.get("recording_notes")
    out += [f"recording: {note}" for note in (notes if isinstance(notes, list) else [])]
    cache = report.analyzer.fields.get("observations_cache")
    if isinstance(cache, str):
        out.append(f"observations read from the verified cache entry {cache} (provenance read from the recording)")
    missing = missing_predictions(report)
    if missing:
        out.append(f"MISSING PREDICTIONS: {missing}")
    out += [f"note: {note}" for note in report.notes]
    from ..reporting.markdown import identity_map_text

    if (entries := identity_map_text(report)) is not None:
        out.append(f"identity map: {entries}")  # who is in which group: said where the verdicts are read
    return out


def missing_predictions(report: Report) -> str:
    """What the report says of manifest photos the predictions file has no line for ('' when none)."""
    missing = report.analyzer.fields.get("missing_predictions")
    if not isinstance(missing, dict):
        return ""
    note = missing.get("note")
    if isinstance(note, str) and note:
        return note
    first = missing.get("first")
    names = ", ".join(str(n) for n in first) if isinstance(first, list) else ""
    return f"no prediction for {missing.get('count', '?')} of {missing.get('photos', '?')} photos" + (
        f" ({names}, ...)" if names else ""
    )


def run_summary(report: Report, *, gate_exit: int | None = None) -> list[str]:
    """The run's verdict and what it covers, for the console (the writers say the same in their words).

    ``gate_exit``: the exit status of a run of the regression gate alone (``-k regression``), which is the
    gate's, not the checks' verdict's: the line then says what decided it, so that it never reads
    INCONCLUSIVE beside exit 0.
    """
    missing = report.not_run
    planned = len(report.planned)
    line = f"conformance verdict: {str(report.verdict).upper()}"
    if gate_exit is not None and report.regression is not None:
        found = len(report.regression.regressions)
        line = (
            f"conformance verdict: regression gate: {found or 'no'} regression{'s' if found > 1 else ''} against "
            f"{report.regression.baseline} (exit {gate_exit}); the checks' own verdict "
            f"({str(report.verdict).upper()} in the reports) was not asked for: only the gate was selected"
        )
    if missing:
        line += f": {len(missing)} of {planned} planned checks not run ({', '.join(c.id for c in missing)})"
        if report.verdict == "incomplete":
            line += "; not a verdict on the analyzer: run every planned check, or choose fewer with --checks"
    out = [line]
    if report.run.fields.get("checks_chosen"):
        out.append(f"scope: the checks chosen with --checks ({', '.join(report.planned)}): complete for those only")
    return out


def _not_run_properties(not_run: dict[str, str]) -> list[tuple[str, str]]:
    prefix = _xml_text(f"conformance.{not_run['id']}")
    return [(f"{prefix}.verdict", "not run"), (f"{prefix}.reason", not_run["reason"])]


def _junit_run_properties(config: pytest.Config, report: Report) -> None:
    """The run's verdict, and each planned check with no test case of its own, as JUnit XML suite properties."""
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    xml.add_global_property("conformance.verdict", str(report.verdict))
    for check in report.not_run:
        for name, value in _not_run_properties({"id": check.id, "reason": _reason(check)}):
            xml.add_global_property(name, value)
