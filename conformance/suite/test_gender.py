"""Gender checks of the built-in suite, one test per check, on the run's dataset and analyzer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.checks import GENDER_CHECKS
from conformance.observation import Observations
from conformance.results import CheckResult


@pytest.mark.parametrize(
    "check_id", [pytest.param(check_id, marks=pytest.mark.conformance(check_id)) for check_id in GENDER_CHECKS]
)
def test_gender_check(
    check_id: str, conformance_check: Callable[[str], CheckResult], conformance_observations: Observations
) -> None:
    if check_id == "transformation_invariance" and conformance_observations.variants is None:
        # Not a verdict on the analyzer: this run could not show it transformed images.
        pytest.skip(conformance_observations.variants_note)
    conformance_check(check_id)
