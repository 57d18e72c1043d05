"""Gender checks of the built-in suite, one test per check, on the run's dataset and analyzer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.checks import GENDER_CHECKS
from conformance.results import CheckResult


@pytest.mark.parametrize(
    "check_id", [pytest.param(check_id, marks=pytest.mark.conformance(check_id)) for check_id in GENDER_CHECKS]
)
def test_gender_check(check_id: str, conformance_check: Callable[[str], CheckResult]) -> None:
    # A check the data cannot speak to (e.g. transformation_invariance for an analyzer that cannot
    # look at new images) comes back "not applicable": recorded, and skipped here with the reason.
    conformance_check(check_id)
