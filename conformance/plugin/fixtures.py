"""The fixtures a test of the kit asks for, the run they load (once per process), and each check computed once.

Under pytest-xdist a check's results are computed by the first worker that needs them and read by the
others through the run's share (:func:`_run`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from .._text import printable
from ..options import OPTION
from .options import OPT_ANALYZER, _options
from .state import (
    _ANSWERS_FIELD,
    _answers_key,
    _computed_key,
    _context_key,
    _default_model_key,
    _item_context_key,
    _item_elsewhere_key,
    _item_results_key,
    _sent_key,
    _systematic_key,
)
from .summary import _junit_properties

if TYPE_CHECKING:
    from ..adapters.base import Analyzer
    from ..assertions import RunLink
    from ..dataset import Dataset
    from ..matching import SearchRun
    from ..observation import Observations
    from ..policy import Policy
    from ..results import CheckResult
    from ..run.context import Context


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
