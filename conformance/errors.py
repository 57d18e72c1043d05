"""The kit's errors: one base class, one subclass per kind of user mistake.

Every message names the file, row, line or photo at fault and the way out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .metamorphic import InvarianceResult
    from .results import CheckResult

__all__ = [
    "AdapterError",
    "ConformanceError",
    "ConformanceFailure",
    "ManifestError",
    "PolicyError",
    "PredictionsError",
    "SystematicFailure",
]


class ConformanceError(Exception):
    """Base of every error the kit raises for bad input or configuration."""


class ManifestError(ConformanceError):
    """A dataset manifest (or an image it names) cannot be used."""


class PredictionsError(ConformanceError):
    """A predictions file cannot be used."""


class PolicyError(ConformanceError):
    """A policy table (``[tool.conformance]``) is malformed."""


class AdapterError(ConformanceError):
    """An analyzer spec names no known adapter, or the adapter cannot start."""


class SystematicFailure(ConformanceError):
    """Every call failed the same way: the run stops (exit 2) instead of building verdicts on errors."""


class ConformanceFailure(AssertionError):
    """A conformance check failed; the message is a table a reviewer can act on.

    ``result`` is what failed, structured: the :class:`~conformance.results.CheckResult` of an
    ``assert_*`` helper, or the :class:`~conformance.metamorphic.InvarianceResult` of
    ``assert_label_invariant``.
    """

    result: CheckResult | InvarianceResult

    def __init__(self, message: str, result: CheckResult | InvarianceResult) -> None:
        super().__init__(message)
        self.result = result
