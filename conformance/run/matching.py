"""Running face matching over a dataset: every probe searched against the gallery (1:N), or every photo
compared with every other (1:1); what the runs produce are the values of :mod:`conformance.matching`.

The matcher is an adapter's (:class:`~conformance.adapters.base.Matcher`,
:class:`~conformance.adapters.base.Comparator`); this module is the run's side of the line the checks
never cross (they read :mod:`conformance.matching` only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from ..adapters.base import described, session_of
from ..matching import DEFAULT_THRESHOLDS, ComparisonRun, PhotoOutcome, SearchOutcome, SearchRun, hold_to_gallery

if TYPE_CHECKING:
    from ..adapters.base import Comparator, Matcher, ScoreScale
    from ..dataset import Dataset
    from ..pairwise import PairCounts
    from ..policy import Policy

__all__ = ["run_comparisons", "run_searches", "search_floor"]


def run_searches(
    matcher: Matcher, dataset: Dataset, *, floor: float, systematic_failures: int | None = None
) -> SearchRun:
    """Search every probe of ``dataset`` against its gallery with threshold ``floor``; none is lost.

    As for photos (:func:`conformance.run.execution.analyze_photos`), each answer is held to what a
    search can say (:func:`hold_to_gallery`), and ``systematic_failures`` probes failing alike in a
    row (or all of the first ones) stop the run with
    :class:`~conformance.run.execution.SystematicFailure` (None: the default limit; 0: never).
    """
    from ..failures import DEFAULT_SYSTEMATIC_FAILURES, FailureWatch

    gallery = dataset.role("gallery")
    ids = frozenset(p.id for p in gallery)
    watch = FailureWatch(
        DEFAULT_SYSTEMATIC_FAILURES if systematic_failures is None else systematic_failures, what="probes"
    )
    records: list[SearchOutcome] = []
    with session_of(matcher):
        for probe in dataset.role("probe"):
            record = hold_to_gallery(matcher.search(probe, gallery, threshold=floor), ids, floor)
            watch.see_outcome(record.outcome, record.reason)
            records.append(record)
    return SearchRun(dataset=dataset, records=tuple(records), floor=floor, matcher=described(matcher))


def search_floor(matcher: Matcher, thresholds: Sequence[float]) -> float:
    """The search threshold to search with: the matcher's own (a predictions file's, Rekognition's), else
    30 below the lowest threshold judged (so that the sweep below it has matches to show)."""
    return float(matcher.search_floor or max(0.0, min(thresholds) - 30.0))


def run_comparisons(
    comparator: Comparator,
    dataset: Dataset,
    *,
    group_by: Sequence[str],
    reference: str | None,
    policy: Policy,
    thresholds: Sequence[float] = (),
    dask: AbstractContextManager[Any] | None = None,
) -> tuple[ComparisonRun, str, list[str]]:
    """Compare every photo with every other (or the listed pairs) and count; returns (run, reference, notes).

    The grouping is ``group_by`` (manifest columns), or the default gender groups (``cis`` the reference)
    when the manifest has self-described identities. Stated thresholds are ``thresholds``, or the vendor
    scale's 80, 90, 95, 99 for scores that all lie from 0 to 100. Impostors and the calibration pool
    follow ``policy.impostors`` and ``policy.fmr_calibration``. ``dask``: a context in which a Dask
    client is active (the run's executor opens it), to count blockwise on its workers; None counts in
    this process.
    """
    import numpy as np

    from .._untrusted import CHOICES, shown, shown_list
    from ..dataset import group_labels
    from ..errors import ConformanceError

    notes: list[str] = []
    identities = any(p.identity for p in dataset.photos)
    if not group_by and not identities:
        raise ConformanceError(
            f"{dataset.manifest.name} has no self-described gender identities: say which column groups the "
            f"photos, e.g. --group-by {shown(next(iter(dataset.columns), 'COLUMN'), quoted=False)} "
            f"(columns: {shown_list(dataset.columns, most=CHOICES, quoted=False) or 'none'})"
        )
    labels = group_labels(dataset, list(group_by) or None)
    groups = sorted(set(labels))
    if reference is None:
        if not group_by and "cis" in groups:
            reference = "cis"
        else:
            sizes = {g: labels.count(g) for g in groups}
            reference = max(groups, key=lambda g: (sizes[g], g))
            notes.append(f"reference group {shown(reference)} chosen as the largest group; set it with --reference")
    elif reference not in groups:
        raise ConformanceError(
            f"reference group {shown(reference)} is not among the groups of {dataset.manifest.name} "
            f"(groups: {shown_list(groups, most=CHOICES, quoted=False)}); choose one with --reference"
        )
    code = {g: i for i, g in enumerate(groups)}
    subjects = sorted({p.subject for p in dataset.photos})
    subject_code = {s: i for i, s in enumerate(subjects)}
    photo_group = np.asarray([code[g] for g in labels], dtype=np.int64)
    photo_subject = np.asarray([subject_code[p.subject] for p in dataset.photos], dtype=np.int64)
    stated = tuple(sorted({float(t) for t in thresholds}))
    scale = comparator.scale
    _check_stated(scale, stated)
    if not stated and scale.vendor_scale:
        stated = DEFAULT_THRESHOLDS
    if scale.negated:
        stated = tuple(sorted(-t for t in stated))  # distances (higher=false) are compared negated
    pool = reference if policy.fmr_calibration == "reference" else "all"
    with dask if dask is not None else nullcontext():
        counts = comparator.comparisons(
            photo_group=photo_group,
            photo_subject=photo_subject,
            groups=groups,
            subjects=subjects,
            targets=tuple(policy.target_fmr),
            stated=stated,
            same_group=policy.impostors == "same_group",
            pool=pool,
            dask=dask is not None,
        )
    notes += _check_scores(scale, counts, stated)
    reasons: Mapping[str, str] = comparator.failure_reasons
    records = tuple(
        PhotoOutcome(p.id, "analysed")
        if ok
        else PhotoOutcome(p.id, "no_face", reasons.get(p.id, "no template: no face found"))
        for p, ok in zip(dataset.photos, counts.acquired.tolist(), strict=True)
    )
    membership = (
        "self-described gender identity and trans status (manifest columns gender_identity, trans)"
        if not group_by
        else f"manifest column{'s' if len(group_by) > 1 else ''} {', '.join(group_by)}: how membership was "
        "obtained (self-described or assigned by others) is not recorded in the manifest"
    )
    run = ComparisonRun(
        dataset=dataset,
        records=records,
        counts=counts,
        matcher=described(comparator),
        stated=stated,
        membership=membership,
        grouping=tuple(group_by) or ("gender identity group",),
    )
    return run, reference, notes


def _check_stated(scale: ScoreScale, stated: Sequence[float]) -> None:
    """Refuse stated thresholds that no score of the comparator's metric can reach (cosine [-1, 1], L2 <= 0)."""
    from ..errors import ConformanceError

    metric = scale.metric
    bounds = {"cosine": (-1.0, 1.0), "l2": (-math.inf, 0.0)}.get(metric) if isinstance(metric, str) else None
    if bounds is None:
        return
    outside = [t for t in stated if not bounds[0] <= t <= bounds[1]]
    if outside:
        named = "cosine similarity, from -1 to 1" if metric == "cosine" else "negative L2 distance, 0 or below"
        raise ConformanceError(
            f"--thresholds {', '.join(f'{t:g}' for t in outside)}: outside the range of {named}, so every "
            "comparison would fall on one side; give thresholds on the metric's own scale (e.g. 0.4 for cosine), "
            "or leave them out and fix thresholds with --target-fmr"
        )


def _check_scores(scale: ScoreScale, counts: PairCounts, stated: Sequence[float]) -> list[str]:
    """Scores that run the other way (genuine below impostor) and stated thresholds beyond every score.

    Scores whose orientation the user did not state and whose genuine comparisons rank below the
    impostors (AUC < 0.5) are refused: they look like distances. Where the orientation was stated
    (or the comparator computes its own similarities) this is a note, and no ratio may pass.
    """
    import numpy as np

    from ..errors import ConformanceError
    from ..pairwise import score_auc

    notes = []
    auc = score_auc(counts)
    if auc is not None and auc < 0.5:
        where = scale.source
        if not scale.orientation_stated:
            raise ConformanceError(
                f"{where}: genuine comparisons score lower than impostor ones (AUC {auc:.3f}; 0.5 is chance): the "
                f"scores look like distances, lower = more similar. Say so with scores:{where}?higher=false, or, "
                f"if higher really is more similar, with scores:{where}?higher=true"
            )
        notes.append(
            f"genuine comparisons score lower than impostor ones (AUC {auc:.3f} < 0.5): the matcher ranks impostors "
            "above mates; no ratio can pass on such scores"
        )
    if stated and counts.metric == "listed":
        finite = counts.kept.score[np.isfinite(counts.kept.score)]
        genuine = counts.genuine.score[np.isfinite(counts.genuine.score)]
        every = np.concatenate([finite, genuine])
        if every.size:
            low, high = float(every.min()), float(every.max())
            beyond = [t for t in stated if not low <= t <= high]
            if beyond:
                notes.append(
                    f"threshold{'s' if len(beyond) > 1 else ''} {', '.join(f'{t:g}' for t in beyond)} lie outside "
                    f"every score of the file ({low:.6g} to {high:.6g}): every comparison falls on one side there"
                )
    return notes
