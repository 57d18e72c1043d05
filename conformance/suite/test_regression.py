"""The regression gate: this run against a previous run's report.json (``--conformance-baseline``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.mark.conformance_gate
def test_no_regression_against_baseline(conformance_regression_gate: Callable[[], None]) -> None:
    conformance_regression_gate()
