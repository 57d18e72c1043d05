"""Runs an analyzer over a dataset: one observation per photo, none lost."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .adapters.base import Analyzer
    from .dataset import Dataset
    from .observation import Observations

__all__ = ["analyze_dataset"]


def analyze_dataset(analyzer: Analyzer, dataset: Dataset) -> Observations:
    """Ask ``analyzer`` about every photo, in manifest order, and align the answers into a table.

    Adapters turn per-photo failures (no face, an API error) into observations themselves; an
    exception that escapes an adapter is a fault of the run and stops it.
    """
    from contextlib import nullcontext

    from .observation import Observations

    session = getattr(analyzer, "session", None)
    with session() if callable(session) else nullcontext():
        observations = [analyzer.analyze(photo) for photo in dataset.photos]
    info = dict(analyzer.describe())
    info.setdefault("vocabulary", analyzer.vocabulary.to_dict())  # the representability check reads it here
    return Observations.build(dataset, observations, analyzer=info)
