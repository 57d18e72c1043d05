"""Configuring a run: the baseline and report folder checked first, the xdist share, collection, each test's report."""

from __future__ import annotations

from typing import Any

import pytest

from .._text import printable, printable_lines
from ..options import OPTION
from .collector import _Collector
from .gate import _check_baseline, baseline_mismatch
from .options import OPT_BASELINE_ANY_DATASET, _active, _cli, _given, _options, _report_dir
from .state import (
    _CONTEXT_ATTR,
    _ELSEWHERE_ATTR,
    _GATE_ATTR,
    _MAX_ERROR,
    _NOT_RUN_ATTR,
    _RESULTS_ATTR,
    _SHARE_INPUT,
    _SKIPPED_ATTR,
    _SYSTEMATIC_ATTR,
    USAGE_EXIT,
    _item_context_key,
    _item_elsewhere_key,
    _item_gate_key,
    _item_results_key,
    _loaded_key,
    _share_key,
    _systematic_key,
)
from .summary import _not_run_properties


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
