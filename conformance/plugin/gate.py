"""The regression gate: a baseline checked before the run starts, and the fixture that compares the run with it."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from .._text import printable, printable_lines
from ..options import OPTION
from .fixtures import _context_payload, _results
from .options import OPT_BASELINE, _given
from .state import USAGE_EXIT, _item_gate_key

if TYPE_CHECKING:
    from ..results import CheckResult
    from ..run.context import Context, RunOptions


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


def _all_results(config: pytest.Config, ctx: Context) -> list[CheckResult]:
    """Every check of the run (the gate compares all of them with the baseline's), each computed once."""
    out: list[CheckResult] = []
    for check_id in ctx.checks:
        out.extend(_results(config, ctx, check_id))
    return out


def _sealed_baseline(gate: dict[str, Any], options: RunOptions) -> dict[str, Any] | None:
    """The baseline report the regression gate compared with, sealed like the rest of the evidence."""
    from ..evidence import file_entry

    path = str(gate.get("baseline", ""))
    return file_entry(path, options.project_root) if path and os.path.isfile(path) else None
