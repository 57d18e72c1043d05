"""The per-session state every part of the plugin reads: stash keys, and the names results travel under.

The keys live here, apart from the hooks that fill them, so that a part imports the state and never
another part's private names for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..results import CheckResult
    from ..run.context import Context, RunOptions  # noqa: F401 (RunOptions: named in a string below)
    from ..run.sharing import Share


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
_ini_values_key = pytest.StashKey[dict[str, Any]]()  # each option's ini value, parsed once a process
_computed_key = pytest.StashKey[dict[str, list["CheckResult"]]]()
_answers_key = pytest.StashKey[str]()  # an xdist worker's digest of its answers, worked out once
_context_key = pytest.StashKey["Context"]()

# One run, one set of answers under pytest-xdist (conformance.run.sharing).
_SHARE_INPUT = "conformance_share"
_ANSWERS_FIELD = "_conformance_answers"  # a worker's digest of its answers, riding on the context it sends
_share_key: pytest.StashKey[Share] = pytest.StashKey()
_loaded_key: pytest.StashKey[Context] = pytest.StashKey()

# Whether the conformance_model fixture is the kit's own (its None: no model), not a project's.
_default_model_key = pytest.StashKey[bool]()

# Where an xdist worker hands its deselected checks to the controller (workeroutput).
_DESELECTED_OUTPUT = "conformance_deselected"
