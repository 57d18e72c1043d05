"""Bias conformance checks for facial-analysis systems, as pytest assertions.

Load a dataset, run an analyzer through an adapter, and check the results::

    from conformance import load_dataset, analyze, assert_no_misgender_gap

    dataset = load_dataset("photos/manifest.csv")
    observations = analyze("predictions:vendor.jsonl", dataset)
    assert_no_misgender_gap(observations)

Face matching the same way: ``match`` gives the searches (or 1:1 comparisons) that the matching
checks read, and every check id has its ``assert_*`` helper.

Nothing heavy is imported here: numpy, scipy and vendor SDKs load when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._version import __version__
from .adapters.base import AdapterSettings, Analyzer, Vocabulary, choose_face
from .assertions import (
    assert_calibrated,
    assert_check,
    assert_consistent_across_photos,
    assert_equitable,
    assert_no_detection_failure_gap,
    assert_no_failure_to_acquire_gap,
    assert_no_false_match_differential,
    assert_no_false_match_gap,
    assert_no_false_non_match_differential,
    assert_no_false_non_match_gap,
    assert_no_misgender_gap,
    assert_nonbinary_representable,
    assert_result,
    assert_transformation_invariant,
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

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .matching import ComparisonRun, SearchRun

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
    "assert_equitable",
    "assert_no_detection_failure_gap",
    "assert_no_failure_to_acquire_gap",
    "assert_no_false_match_differential",
    "assert_no_false_match_gap",
    "assert_no_false_non_match_differential",
    "assert_no_false_non_match_gap",
    "assert_no_misgender_gap",
    "assert_nonbinary_representable",
    "assert_result",
    "assert_transformation_invariant",
    "choose_face",
    "group_labels",
    "load_dataset",
    "load_policy",
    "match",
    "run_check",
]


def analyze(analyzer: str, dataset: Dataset) -> Observations:
    """Run the analyzer named by ``analyzer`` (``NAME[:ARGUMENT]``) over every photo of ``dataset``."""
    from .adapters.registry import create
    from .run.runner import analyze_dataset

    return analyze_dataset(create(analyzer, dataset=dataset), dataset)


def match(
    analyzer: str,
    dataset: Dataset,
    *,
    group_by: Sequence[str] = (),
    reference: str | None = None,
    policy: Policy | None = None,
    thresholds: Sequence[float] = (),
) -> SearchRun | ComparisonRun:
    """Run the face-matching analyzer named by ``analyzer`` over ``dataset``: what the matching checks read.

    An analyzer that compares every photo with every other (``embeddings:FILE.npy``,
    ``scores:FILE.csv``; a dataset loaded with ``comparisons=True``) gives a
    :class:`~conformance.matching.ComparisonRun`, counted per group of ``group_by`` (manifest columns;
    by default the gender groups) at the policy's target FMRs and ``thresholds``; give ``run_check``
    the same ``reference``. Any other matcher (``predictions:FILE`` with probe lines, ``rekognition``)
    searches every probe of a manifest with a ``role`` column against its gallery and gives a
    :class:`~conformance.matching.SearchRun`, searched low enough for ``thresholds`` (default 80, 90,
    95, 99).
    """
    from .adapters.base import comparator
    from .adapters.base import matcher as search_matcher
    from .adapters.registry import create
    from .matching import DEFAULT_THRESHOLDS
    from .run.matching import run_comparisons, run_searches, search_floor

    matcher = create(analyzer, dataset=dataset)
    compares = comparator(matcher)
    if compares is not None:
        run, _, _ = run_comparisons(
            compares,
            dataset,
            group_by=group_by,
            reference=reference,
            policy=policy or load_policy(),
            thresholds=thresholds,
        )
        return run
    if not dataset.is_matching:
        raise ManifestError(
            f"{dataset.manifest.name} has no role column (gallery or probe), so there is nothing to search: "
            "a face-search manifest needs one; for the gender checks use analyze()"
        )
    searcher = search_matcher(matcher)
    if searcher is None:
        raise AdapterError(f"the {analyzer!r} adapter cannot search faces: use analyze() for its gender labels")
    return run_searches(searcher, dataset, floor=search_floor(searcher, thresholds or DEFAULT_THRESHOLDS))
