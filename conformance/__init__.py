"""Bias conformance checks for facial-analysis systems, as pytest assertions.

Load a dataset, run an analyzer through an adapter, and check the results::

    from conformance import load_dataset, analyze, assert_no_misgender_gap

    dataset = load_dataset("photos/manifest.csv")
    observations = analyze("predictions:vendor.jsonl", dataset)
    assert_no_misgender_gap(observations)

Nothing heavy is imported here: numpy, scipy and vendor SDKs load when first used.
"""

from __future__ import annotations

from ._version import __version__
from .adapters.base import AdapterSettings, Analyzer, Vocabulary, choose_face
from .assertions import (
    assert_calibrated,
    assert_check,
    assert_consistent_across_photos,
    assert_no_detection_failure_gap,
    assert_no_misgender_gap,
    assert_nonbinary_representable,
    assert_result,
)
from .checks import CHECK_IDS, run_check
from .dataset import Dataset, Photo, group_labels, load_dataset
from .errors import (
    AdapterError,
    ConformanceError,
    ConformanceFailure,
    ManifestError,
    PolicyError,
    PredictionsError,
)
from .observation import Face, Observation, Observations
from .policy import Policy, load_policy
from .results import CheckResult, Comparison, GroupRate

__all__ = [
    "CHECK_IDS",
    "AdapterError",
    "AdapterSettings",
    "Analyzer",
    "CheckResult",
    "Comparison",
    "ConformanceError",
    "ConformanceFailure",
    "Dataset",
    "Face",
    "GroupRate",
    "ManifestError",
    "Observation",
    "Observations",
    "Photo",
    "Policy",
    "PolicyError",
    "PredictionsError",
    "Vocabulary",
    "__version__",
    "analyze",
    "assert_calibrated",
    "assert_check",
    "assert_consistent_across_photos",
    "assert_no_detection_failure_gap",
    "assert_no_misgender_gap",
    "assert_nonbinary_representable",
    "assert_result",
    "choose_face",
    "group_labels",
    "load_dataset",
    "load_policy",
    "run_check",
]


def analyze(analyzer: str, dataset: Dataset) -> Observations:
    """Run the analyzer named by ``analyzer`` (``NAME[:ARGUMENT]``) over every photo of ``dataset``."""
    from .adapters.registry import create
    from .runner import analyze_dataset

    return analyze_dataset(create(analyzer, dataset=dataset), dataset)
