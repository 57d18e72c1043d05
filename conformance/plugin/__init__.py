"""pytest glue for the conformance kit: options, ini keys, fixtures, report header and summary.

No logic of its own lives here: loading is :mod:`conformance.run.context`, checks are
:mod:`conformance.checks`, reports are :mod:`conformance.reporting`. Importing this module imports
nothing heavy; numpy and friends load only when a conformance fixture is used.

This is the module the ``pytest11`` entry point names. pytest reads a plugin's hooks and fixtures
from its namespace, wherever they were defined, so the parts' hooks and fixtures are imported here
by name and nothing is registered by hand (on xdist workers too):

- :mod:`.state`: the per-session stash keys and the names results travel under, which every part reads;
- :mod:`.options`: the options added to pytest from the one table, read once, the report header;
- :mod:`.configure`: configuring a run, the xdist share, collection, each test's report;
- :mod:`.fixtures`: the fixtures, the run they load, each check computed once;
- :mod:`.gate`: the regression gate against ``--conformance-baseline``;
- :mod:`.collector`: results gathered (on the xdist controller), reports written, the exit status;
- :mod:`.summary`: what the console and JUnit XML say of the finished run.
"""

from __future__ import annotations

# What pytest reads from this namespace (the parts' hooks and fixtures), and what the CLI, the kit's tests and
# benchmarks import from here (the option names, a few helpers, some private names).
from .configure import (  # noqa: F401
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_configure_node,
    pytest_runtest_makereport,
    pytest_unconfigure,
)
from .fixtures import (  # noqa: F401
    _context_payload,
    _results_from,
    conformance_analyzer,
    conformance_check,
    conformance_context,
    conformance_dataset,
    conformance_groups,
    conformance_model,
    conformance_observations,
    conformance_policy,
    conformance_record,
    conformance_reference,
    conformance_searches,
    pytest_runtest_call,
)
from .gate import baseline_mismatch, conformance_regression_gate  # noqa: F401
from .options import (  # noqa: F401
    OPT_ALLOW_LIVE,
    OPT_ANALYZER,
    OPT_BASELINE,
    OPT_BASELINE_ANY_DATASET,
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
    OPT_PROGRESS,
    OPT_RATE,
    OPT_RECORD_MODE,
    OPT_REFERENCE,
    OPT_REPORT_DIR,
    OPT_SEED,
    OPT_THRESHOLDS,
    OPT_TIMEOUT,
    CliInvocation,
    pytest_addoption,
    pytest_report_header,
)
from .state import USAGE_EXIT
from .summary import (  # noqa: F401
    _junit_properties,
    missing_predictions,
    provenance_lines,
    run_summary,
    verdict_exit_status,
)

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
    "USAGE_EXIT",
    "CliInvocation",
    "baseline_mismatch",
    "missing_predictions",
    "provenance_lines",
    "run_summary",
    "verdict_exit_status",
]
