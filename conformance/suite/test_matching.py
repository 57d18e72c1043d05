"""Face-matching checks of the built-in suite: one test per check, every threshold recorded, the binding one asserted."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.checks import MATCHING_CHECKS
from conformance.results import CheckResult


@pytest.mark.parametrize(
    "check_id", [pytest.param(check_id, marks=pytest.mark.conformance(check_id)) for check_id in MATCHING_CHECKS]
)
def test_matching_check(check_id: str, conformance_check: Callable[[str], CheckResult]) -> None:
    conformance_check(check_id)
