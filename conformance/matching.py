"""Face matching: what a matcher said about each probe searched against the gallery (1:N).

A face-matching dataset's manifest gives each photo a ``role``: ``gallery`` (enrolled) or ``probe``
(searched). Subject ids decide which searches are *mated* (the probe's person is enrolled) and which
are not. A :class:`~conformance.adapters.base.Matcher` answers a search with the gallery faces it matched and their similarity
(0-100); every probe ends up analysed, with no face, or with an error, as photos do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .adapters.base import Comparator, Matcher, ScoreScale
    from .dataset import Dataset
    from .observation import Outcome
    from .pairwise import PairCounts
    from .policy import Policy

__all__ = [
    "ComparisonRun",
    "PhotoOutcome",
    "SearchOutcome",
    "SearchRun",
    "hold_to_gallery",
    "run_comparisons",
    "run_searches",
]

# Outcomes that count as searches: with no face found, the search returned nothing (a mated probe's miss).
_SEARCHED = ("analysed", "no_face")


@dataclass(frozen=True)
class SearchOutcome:
    """One probe's search: the gallery photos matched at or above the search threshold, with similarity."""

    probe: str
    outcome: Outcome
    matches: tuple[tuple[str, float], ...] = ()
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"photo": self.probe, "outcome": self.outcome, "matches": len(self.matches)}
        if self.matches:
            out["best"] = max(s for _, s in self.matches)
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class SearchRun:
    """Every probe's search outcome, aligned with the dataset's probes; ``floor`` is the search threshold."""

    dataset: Dataset
    records: tuple[SearchOutcome, ...]
    floor: float
    matcher: Mapping[str, Any] = field(default_factory=dict)

    def outcome_counts(self) -> dict[str, int]:
        counts = {"analysed": 0, "no_face": 0, "error": 0}
        for record in self.records:
            counts[record.outcome] += 1
        return counts

    def pairs(self, groups: Sequence[str]) -> dict[str, Any]:
        """Columns for the matching checks in 1:1 mode: one row per (probe, gallery photo) pair."""
        return _pairs_of(self, groups)

    def arrays(self, groups: Sequence[str]) -> dict[str, Any]:
        """Columns for the matching checks, one row per analysed probe.

        ``groups`` is the group of every photo of the dataset (manifest order). ``best_impostor`` is
        the highest similarity to a gallery photo of another person, ``best_mate`` to one of the
        probe's own (nan where none was returned); ``mated`` says the probe's person is enrolled.
        A probe in which no face was found is a search that returned nothing (NIST's convention:
        a mated one is a miss, a non-mated one stays in the false-match denominator); a probe whose
        call failed (``error``) says nothing about the matcher and is left out, as reported.
        """
        import numpy as np

        photos = {p.id: (i, p) for i, p in enumerate(self.dataset.photos)}
        enrolled = {p.subject for p in self.dataset.role("gallery")}
        subject_of = {p.id: p.subject for p in self.dataset.role("gallery")}
        codes: dict[str, int] = {}
        rows = [r for r in self.records if r.outcome in _SEARCHED]
        impostor = np.full(len(rows), np.nan)
        mate = np.full(len(rows), np.nan)
        for k, record in enumerate(rows):
            own = photos[record.probe][1].subject
            for gallery, similarity in record.matches:
                target = mate if subject_of[gallery] == own else impostor
                target[k] = similarity if np.isnan(target[k]) else max(target[k], similarity)
        probe_subjects = [photos[r.probe][1].subject for r in rows]
        subject: npt.NDArray[np.int64] = np.fromiter(
            (codes.setdefault(s, len(codes)) for s in probe_subjects), dtype=np.int64, count=len(rows)
        )
        return {
            "probe": tuple(r.probe for r in rows),
            "subject": subject,
            "group": np.asarray([str(groups[photos[r.probe][0]]) for r in rows], dtype=str),
            "mated": np.fromiter((s in enrolled for s in probe_subjects), dtype=bool, count=len(rows)),
            "best_impostor": impostor,
            "best_mate": mate,
            "floor": self.floor,
            "acquired": np.asarray([r.outcome == "analysed" for r in rows], dtype=bool),
        }


def _pairs_of(run: SearchRun, groups: Sequence[str]) -> dict[str, Any]:
    """Every (probe, gallery photo) pair as a 1:1 comparison: genuine when both show the same person.

    A pair's similarity is the search's score for that gallery photo; a pair the search did not return
    scored below the search threshold, so it counts as below every threshold at or above it (``nan``).
    A probe with no face found compares below every threshold with every gallery photo.
    """
    import numpy as np

    photos = {p.id: (i, p) for i, p in enumerate(run.dataset.photos)}
    gallery = run.dataset.role("gallery")
    codes: dict[str, int] = {}
    probes, subjects, labels, genuine, impostor_score, mate_score, acquired = [], [], [], [], [], [], []
    for record in run.records:
        if record.outcome not in _SEARCHED:
            continue
        index, probe = photos[record.probe]
        scores = dict(record.matches)
        for photo in gallery:
            same = photo.subject == probe.subject
            score = scores.get(photo.id, np.nan)
            probes.append(record.probe)
            subjects.append(codes.setdefault(probe.subject, len(codes)))
            labels.append(str(groups[index]))
            genuine.append(same)
            mate_score.append(score if same else np.nan)
            impostor_score.append(np.nan if same else score)
            acquired.append(record.outcome == "analysed")
    return {
        "probe": tuple(probes),
        "subject": np.asarray(subjects, dtype=np.int64),
        "group": np.asarray(labels, dtype=str),
        "mated": np.asarray(genuine, dtype=bool),
        "best_impostor": np.asarray(impostor_score, dtype=np.float64),
        "best_mate": np.asarray(mate_score, dtype=np.float64),
        "floor": run.floor,
        "mode": "compare",
        "acquired": np.asarray(acquired, dtype=bool),
    }


def run_searches(
    matcher: Matcher, dataset: Dataset, *, floor: float, systematic_failures: int | None = None
) -> SearchRun:
    """Search every probe of ``dataset`` against its gallery with threshold ``floor``; none is lost.

    As for photos (:func:`conformance.execution.analyze_photos`), each answer is held to what a
    search can say (:func:`hold_to_gallery`), and ``systematic_failures`` probes failing alike in a
    row (or all of the first ones) stop the run with
    :class:`~conformance.execution.SystematicFailure` (None: the default limit; 0: never).
    """
    from contextlib import nullcontext

    from .failures import DEFAULT_SYSTEMATIC_FAILURES, FailureWatch

    gallery = dataset.role("gallery")
    ids = frozenset(p.id for p in gallery)
    watch = FailureWatch(
        DEFAULT_SYSTEMATIC_FAILURES if systematic_failures is None else systematic_failures, what="probes"
    )
    records: list[SearchOutcome] = []
    # Not adapters.base.session_of: checks import this module for its values (the next commit splits it).
    session = getattr(matcher, "session", None)
    with session() if callable(session) else nullcontext():
        for probe in dataset.role("probe"):
            record = hold_to_gallery(matcher.search(probe, gallery, threshold=floor), ids, floor)
            watch.see_outcome(record.outcome, record.reason)
            records.append(record)
    return SearchRun(dataset=dataset, records=tuple(records), floor=floor, matcher=dict(matcher.describe()))


def hold_to_gallery(outcome: SearchOutcome, gallery: frozenset[str], floor: float) -> SearchOutcome:
    """``outcome`` as a search can answer, else that probe's error (the search's vocabulary is the gallery).

    A match must name a gallery photo of the dataset, once, with a similarity from the search threshold
    ``floor`` to 100; a match outside that is the service breaking its contract, never a fact about the
    probe (an unknown face id would otherwise be a false match of nobody, a similarity of 250 a match
    above every threshold).
    """
    from ._numbers import shown

    problem = ""
    if outcome.outcome not in ("analysed", "no_face", "error"):
        problem = f"an outcome {shown(outcome.outcome)}, not analysed, no_face or error"
    seen: set[str] = set()
    for gallery_id, similarity in outcome.matches:
        if problem:
            break
        if gallery_id not in gallery:
            problem = f"a match {shown(gallery_id)} that is not a gallery photo of the dataset"
        elif gallery_id in seen:
            problem = f"the gallery photo {shown(gallery_id)} matched twice"
        elif not (isinstance(similarity, (int, float)) and math.isfinite(similarity) and floor <= similarity <= 100):
            problem = f"a similarity of {shown(similarity)} for {shown(gallery_id)}, outside {floor:g}-100"
        seen.add(gallery_id)
    if not problem:
        return outcome
    return SearchOutcome(outcome.probe, "error", reason=f"the search answered {problem}: not recorded as a search")


# -- 1:1 comparisons of every photo (embeddings, scores) ---------------------------------------------


@dataclass(frozen=True)
class PhotoOutcome:
    """Whether a photo of a comparison run has a template: ``analysed`` or ``no_face`` (failure to acquire)."""

    photo: str
    outcome: Outcome
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"photo": self.photo, "outcome": self.outcome}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class ComparisonRun:
    """A 1:1 run: every photo's template outcome, and the counts of its comparisons.

    Shaped like :class:`SearchRun` where reports read it (``records``, ``outcome_counts``,
    ``matcher``, ``floor``); ``stated`` are the thresholds on the comparator's own scale.
    """

    dataset: Dataset
    records: tuple[PhotoOutcome, ...]
    counts: PairCounts
    matcher: Mapping[str, Any] = field(default_factory=dict)
    stated: tuple[float, ...] = ()
    membership: str = ""
    grouping: tuple[str, ...] = ()
    floor: float = -math.inf

    def outcome_counts(self) -> dict[str, int]:
        counts = {"analysed": 0, "no_face": 0, "error": 0}
        for record in self.records:
            counts[record.outcome] += 1
        return counts


# The similarity thresholds searches are judged at unless the run says otherwise (Rekognition's 0-100
# scale; its default search threshold is 80), and the stated thresholds of 1:1 scores on that scale.
DEFAULT_THRESHOLDS = (80.0, 90.0, 95.0, 99.0)


def is_similarity(value: float) -> bool:
    """A similarity on the kit's 0-100 scale (Rekognition's), on which search thresholds are given."""
    return 0.0 <= value <= 100.0


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

    from ._numbers import CHOICES, shown, shown_list
    from .dataset import group_labels
    from .errors import ConformanceError

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
        matcher=dict(comparator.describe()),
        stated=stated,
        membership=membership,
        grouping=tuple(group_by) or ("gender identity group",),
    )
    return run, reference, notes


def _check_stated(scale: ScoreScale, stated: Sequence[float]) -> None:
    """Refuse stated thresholds that no score of the comparator's metric can reach (cosine [-1, 1], L2 <= 0)."""
    from .errors import ConformanceError

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

    from .errors import ConformanceError
    from .pairwise import score_auc

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
