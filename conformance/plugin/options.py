"""The kit's options as pytest was given them: declared from the one table, read once, and the report header.

Every option, its ini key, parser and default are declared in :mod:`conformance.options`; this part adds them
to pytest, reads the command line and ini file (``_given``), keeps the parsed ``RunOptions`` in the stash,
and builds the reproduce line the header and the reports print.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .._text import printable
from ..options import OPTION, OPTIONS, Option, OptionError, reproduce_flags, run_options
from .state import _ini_values_key, _options_key

if TYPE_CHECKING:
    from ..run.context import Context, RunOptions


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


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "bias conformance checks for facial analysis")
    for option in OPTIONS:
        if option.flag:
            group.addoption(option.pytest_flag, action="store_true", dest=option.dest, default=False, help=option.help)
            # Read as text and parsed by the table (parse_truth), so a bad value's error names the key, as
            # every other key's does (rt18b F11: pytest's own "bool" ini type said only "invalid truth value").
            parser.addini(option.dest, help=f"{option.help} (true or false)", default=None)
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
    if option.flag and value:
        return True
    if not option.flag and value is not None:
        return value
    read = config.stash.setdefault(_ini_values_key, {})
    if option.dest not in read:  # each ini value parsed once a process (rt18b F11), however often it is asked for
        read[option.dest] = _from_ini(config, option)
    return read[option.dest]


def _from_ini(config: pytest.Config, option: Option) -> Any:
    """The option's value from the ini file, parsed by the table; None (a flag: False) when it is not set."""
    from ..options import parse_truth, rebase

    text = config.getini(option.dest)
    if text is None or text == "" or text == []:
        return False if option.flag else None
    try:
        if option.flag:
            return parse_truth(str(text))
        value = option.parse(str(text))
    except OptionError as exc:
        raise pytest.UsageError(f"ini {option.dest}: {exc}") from None
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
