"""pytest glue for the conformance kit: options, ini keys, fixtures, report header and summary.

No logic of its own lives here: loading is :mod:`conformance.session`, checks are
:mod:`conformance.checks`, reports are :mod:`conformance.reporting`. Importing this module imports
nothing heavy; numpy and friends load only when a conformance fixture is used.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .options import OPTION, OPTIONS, Option, OptionError, run_options

if TYPE_CHECKING:
    from .adapters.base import Analyzer
    from .dataset import Dataset
    from .matching import SearchRun
    from .observation import Observations
    from .policy import Policy
    from .report import Report
    from .results import CheckResult
    from .session import Context, RunOptions

__all__ = [
    "OPT_ALLOW_LIVE",
    "OPT_ANALYZER",
    "OPT_BASELINE",
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
_item_gate_key = pytest.StashKey[dict[str, Any]]()
_item_results_key = pytest.StashKey[list[dict[str, Any]]]()
_item_context_key = pytest.StashKey[dict[str, Any]]()
_sent_key = pytest.StashKey[bool]()
_options_key = pytest.StashKey["RunOptions"]()
_computed_key = pytest.StashKey[dict[str, list["CheckResult"]]]()


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

    The command line wins over the ini file. A path in the ini file is relative to the rootdir; on the
    command line, to the working directory.
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
    return str(config.rootpath / value) if option.path else value


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


def pytest_configure(config: pytest.Config) -> None:
    if _active(config):
        _options(config)  # a bad ini value is a usage error now, not in the middle of the run
    config.addinivalue_line("markers", "conformance(check): a conformance check of the built-in suite")
    config.addinivalue_line("markers", "conformance_gate: the regression gate against --conformance-baseline")
    config.pluginmanager.register(_Collector(config), "conformance-collector")


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
        else f"no dataset and analyzer named yet (set {OPT_DATASET} and {OPT_ANALYZER}, or {OPT_DEMO})"
    )
    return [f"conformance: {what}; repeat with: {' '.join(options.flags())}"]


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
        from .errors import ConformanceError
        from .session import load_context

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
    from .errors import ConformanceFailure

    report = outcome.get_result()
    marker = item.get_closest_marker("conformance")
    # A check that ran and came back "not applicable" is skipped with its result recorded: it is a
    # result, not a check that was not run.
    ran = bool(item.stash.get(_item_results_key, []))
    if report.skipped and not hasattr(report, "wasxfail") and marker is not None and marker.args and not ran:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        setattr(report, _SKIPPED_ATTR, {"id": str(marker.args[0]), "reason": str(reason).removeprefix("Skipped: ")})
    if call.when == "call":
        setattr(report, _RESULTS_ATTR, item.stash.get(_item_results_key, []))
        if _item_gate_key in item.stash:
            setattr(report, _GATE_ATTR, item.stash[_item_gate_key])
        if _item_context_key in item.stash:
            setattr(report, _CONTEXT_ATTR, item.stash[_item_context_key])
    failure = call.excinfo.value if call.excinfo is not None else None
    if isinstance(failure, ConformanceFailure) and item.get_closest_marker("conformance") is not None:
        report.longrepr = str(failure)


# -- fixtures ---------------------------------------------------------------------------------------


def _load(config: pytest.Config) -> Context:
    from .errors import ConformanceError
    from .session import load_context

    try:
        return load_context(_options(config))
    except ConformanceError as exc:
        message = f"conformance: {exc}"
    pytest.fail(message, pytrace=False)  # outside the except: no "during handling" chain


@pytest.fixture(scope="session")
def conformance_context(pytestconfig: pytest.Config) -> Context:
    """Everything a run loaded: dataset, observations, policy, groups, reference, seed."""
    return _load(pytestconfig)


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
    from .adapters.registry import create
    from .errors import ConformanceError

    ctx = conformance_context
    try:
        return create(ctx.analyzer_spec, dataset=ctx.dataset, settings=ctx.settings)
    except ConformanceError as exc:
        message = f"conformance: {exc}"
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def conformance_groups(conformance_context: Context) -> tuple[str, ...]:
    """The group of each photo, aligned with the dataset (``--conformance-group-by``)."""
    return conformance_context.groups


@pytest.fixture(scope="session")
def conformance_reference(conformance_context: Context) -> str:
    """The reference group (``--conformance-reference``)."""
    return conformance_context.reference


@pytest.fixture
def conformance_record(request: pytest.FixtureRequest, conformance_context: Context) -> Callable[[CheckResult], None]:
    """Attach a CheckResult to this test's report; the controller gathers them into report.json."""
    config = request.config
    if not config.stash.get(_sent_key, False):
        # The run's context goes once per process (controller or xdist worker) to the report writer.
        config.stash[_sent_key] = True
        request.node.stash[_item_context_key] = json.loads(json.dumps(_context_payload(conformance_context)))

    def record(result: CheckResult) -> None:
        # A JSON round trip leaves plain types only, which xdist's channel (execnet) can carry.
        request.node.stash.setdefault(_item_results_key, []).append(json.loads(json.dumps(result.to_dict())))

    return record


def _results(config: pytest.Config, ctx: Context, check_id: str) -> list[CheckResult]:
    """A check's results on the run's data, computed once per process: the check's test and the gate share them."""
    done = config.stash.setdefault(_computed_key, {})
    if check_id not in done:
        done[check_id] = _run(ctx, check_id)
    return done[check_id]


def _run(ctx: Context, check_id: str) -> list[CheckResult]:
    """A check's results on the run's data: one for a gender check, one per threshold for a matching check."""
    from .checks import MATCHING_CHECKS, run_check, run_matching_check

    common = {"groups": ctx.groups, "reference": ctx.reference, "policy": ctx.policy, "seed": ctx.options.seed}
    if check_id in MATCHING_CHECKS:
        if ctx.searches is None:
            pytest.fail(f"conformance: {check_id} needs a face-matching dataset (a role column)", pytrace=False)
        return run_matching_check(
            check_id,
            ctx.searches,
            thresholds=ctx.thresholds,
            mode=ctx.options.match_mode,
            **common,  # type: ignore[arg-type]
        )
    if ctx.observations is None:
        pytest.fail(f"conformance: {check_id} needs a gender dataset; this run is face matching", pytrace=False)
    return [run_check(check_id, ctx.observations, **common)]  # type: ignore[arg-type]


@pytest.fixture
def conformance_check(
    request: pytest.FixtureRequest, conformance_context: Context, conformance_record: Callable[[CheckResult], None]
) -> Callable[[str], CheckResult]:
    """Run a check by id on the session's data, record every result, and assert the deciding one.

    A matching check makes one result per similarity threshold; the policy's ``binding_threshold``
    decides.
    """
    from .assertions import assert_result

    def check(check_id: str) -> CheckResult:
        __tracebackhide__ = True
        ctx = conformance_context
        results = _results(request.config, ctx, check_id)
        for result in results:
            conformance_record(result)
            suffix = "" if result.threshold is None else f"@{result.threshold:g}"
            request.node.user_properties.extend(_junit_properties(result, suffix=suffix))
        deciding = next((r for r in results if r.details.get("binding")), results[0])
        return assert_result(deciding, inconclusive=ctx.policy.inconclusive, footer=_footer(ctx))

    return check


@pytest.fixture
def conformance_regression_gate(request: pytest.FixtureRequest, conformance_context: Context) -> Callable[[], None]:
    """Compare this run with ``--conformance-baseline`` (a report.json); fail on a gap worse beyond noise."""
    from .errors import ConformanceError
    from .report import read_report
    from .reporting import build_report
    from .reporting.compare import find_regressions, render_regressions

    def gate() -> None:
        __tracebackhide__ = True
        path = _given(request.config, OPTION["baseline"])
        assert isinstance(path, str)
        try:
            baseline = read_report(path)
        except ConformanceError as exc:
            message = f"conformance: {exc}"
        else:
            results = _all_results(request.config, conformance_context)
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
            message = summary
        pytest.fail(message, pytrace=False)

    return gate


def _all_results(config: pytest.Config, ctx: Context) -> list[CheckResult]:
    """Every check of the run (the gate compares all of them with the baseline's), each computed once."""
    out: list[CheckResult] = []
    for check_id in ctx.checks:
        if (
            check_id == "transformation_invariance"
            and ctx.observations is not None
            and ctx.observations.variants is None
        ):
            continue  # not run: see the suite's skip
        out.extend(_results(config, ctx, check_id))
    return out


def _junit_properties(result: CheckResult, suffix: str = "") -> list[tuple[str, str]]:
    """A check's figures as short JUnit XML properties (``--junitxml``), for CI systems that show them."""

    def interval(ci: tuple[float, float] | None) -> str:
        return "" if ci is None else f" [{ci[0]:.3f}, {ci[1]:.3f}]"

    prefix = f"conformance.{result.id}{suffix}"
    out: list[tuple[str, str]] = [(f"{prefix}.verdict", str(result.verdict))]
    for name, rate in result.groups.items():
        value = "n/a" if rate.rate is None else f"{rate.rate:.3f}"
        out.append((f"{prefix}.{name}.rate", f"{value} ({rate.count}/{rate.n}){interval(rate.ci)}"))
    for c in result.comparisons:
        gap = "n/a" if c.difference is None else f"{c.difference:+.3f}"
        # A group is in several comparisons when every two groups are compared: name the other side
        # unless it is the check's reference.
        pair = c.group if c.reference in (result.reference, "none (absolute)") else f"{c.group}.vs.{c.reference}"
        out.append((f"{prefix}.{pair}.gap", f"{gap}{interval(c.ci)} tolerance {c.tolerance:g}: {c.verdict}"))
    return out


def _footer(ctx: Context) -> str:
    analyzer = ctx.analyzer
    flags = [
        word for key, word in (("simulated", "SIMULATED output"), ("emulated", "EMULATED API")) if analyzer.get(key)
    ]
    label = f" ({', '.join(flags)})" if flags else ""
    return (
        f"analyzer {analyzer.get('name')} {analyzer.get('version', '')}{label}  "
        f"dataset {ctx.dataset.name} {ctx.dataset.content_hash[:19]}...  seed {ctx.options.seed}"
    )


def _context_payload(ctx: Context) -> dict[str, Any]:
    from .checks import CHECK_IDS

    options = ctx.options
    return {
        "seed": options.seed,
        "analyzer": ctx.analyzer,
        "dataset": ctx.dataset.describe(),
        "policy": ctx.policy.to_dict(),
        "grouping": {"by": list(options.group_by), "reference": ctx.reference},
        "run": {
            "flags": options.flags(),
            "command": "conformance run " + " ".join(f.replace("--conformance-", "--", 1) for f in options.flags()),
            "python": sys.version.split()[0],
            "pytest": pytest.__version__,
            # The transformed variants are drawn by hypothesis: its version is part of what reproduces them.
            "hypothesis": _version("hypothesis"),
            "checks": list(ctx.checks),
        },
        "check_order": list(CHECK_IDS),
        "outcomes": _outcomes(ctx),
        "notes": list(ctx.notes),
        "photos": _photos(ctx),
    }


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _outcomes(ctx: Context) -> dict[str, int]:
    if ctx.observations is not None:
        return ctx.observations.outcome_counts()
    assert ctx.searches is not None
    return {**ctx.searches.outcome_counts(), "enrolled": len(ctx.dataset.role("gallery"))}


def _photos(ctx: Context) -> list[dict[str, Any]]:
    """Every photo of the manifest with its outcome: nothing is left out of a report."""
    if ctx.observations is not None:
        return [record.to_dict() for record in ctx.observations.records]
    assert ctx.searches is not None
    gallery = [{"photo": p.id, "outcome": "enrolled", "role": "gallery"} for p in ctx.dataset.role("gallery")]
    return [*({**r.to_dict(), "role": "probe"} for r in ctx.searches.records), *gallery]


# -- collecting results (on the controller under xdist) and writing reports ---------------------------


class _Collector:
    """Gathers results from test reports, which on the xdist controller come from the workers."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        # As they travel from xdist workers: plain JSON types, read into a Report once at the end.
        self.results: list[dict[str, Any]] = []
        self.context: dict[str, Any] = {}
        self.skipped: list[dict[str, Any]] = []
        self.gate: dict[str, Any] = {}
        self.report_dir: Path | None = None
        self._report: Report | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        skipped = getattr(report, _SKIPPED_ATTR, None)
        if skipped:
            self.skipped.append(dict(skipped))
        gate = getattr(report, _GATE_ATTR, None)
        if gate:
            self.gate = dict(gate)
        if report.when != "call":
            return
        self.results.extend(getattr(report, _RESULTS_ATTR, []))
        if not self.context:
            self.context = dict(getattr(report, _CONTEXT_ATTR, {}))

    def report(self) -> Report:
        """The run's report, made once from what the tests recorded."""
        if self._report is None:
            from .reporting import build_report

            self._report = build_report(
                self.results, context=self.context, skipped=self.skipped, regression=self.gate or None
            )
        return self._report

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if hasattr(self.config, "workerinput") or not self.results or not self.context:
            return  # an xdist worker sends its results to the controller inside the test reports
        target = _given(self.config, OPTION["report_dir"])
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if target is None and not summary:
            return
        from .reporting import render_markdown, write_html, write_json, write_markdown

        report = self.report()
        if target is not None:
            self.report_dir = Path(target)
            write_json(report, self.report_dir / "report.json")
            write_markdown(report, self.report_dir / "report.md")
            write_html(report, self.report_dir / "report.html")
        if summary:
            # GitHub Actions shows this file as the job's summary; appended, as other steps may write too.
            with open(summary, "a", encoding="utf-8") as handle:
                handle.write(render_markdown(report) + "\n")

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if not self.results:
            if self.gate:  # the gate alone (e.g. -k regression): still say what it found
                terminalreporter.write_line(self.gate["summary"])
            return
        from .assertions import verdict_line

        terminalreporter.section("conformance verdicts")
        report = self.report()
        for check in report.checks:  # in the order of the check ids
            terminalreporter.write_line(verdict_line(check.to_dict()))
        for skipped in report.skipped:
            terminalreporter.write_line(f"{'SKIPPED':<13} {skipped.id:<28}  {skipped.reason}")
        if report.regression is not None:
            terminalreporter.write_line(report.regression.summary)
        if self.report_dir is not None:
            names = ", ".join(str(self.report_dir / name) for name in ("report.json", "report.md", "report.html"))
            terminalreporter.write_line(f"reports: {names}")
