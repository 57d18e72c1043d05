"""Face matching's values: what a matcher said about each probe searched against the gallery (1:N), and
each photo's outcome in 1:1 comparisons. The checks read these; :mod:`conformance.run.matching` produces them.

A face-matching dataset's manifest gives each photo a ``role``: ``gallery`` (enrolled) or ``probe``
(searched). Subject ids decide which searches are *mated* (the probe's person is enrolled) and which
are not. A :class:`~conformance.adapters.base.Matcher` answers a search with the gallery faces it matched and their similarity
(0-100); every probe ends up analysed, with no face, or with an error, as photos do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .dataset import Dataset
    from .observation import Outcome
    from .pairwise import PairCounts

__all__ = [
    "DEFAULT_THRESHOLDS",
    "MATCH_MODES",
    "MATCH_MODES_HELP",
    "ComparisonRun",
    "PhotoOutcome",
    "SearchOutcome",
    "SearchRun",
    "hold_to_gallery",
    "is_similarity",
    "match_mode",
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


def hold_to_gallery(outcome: SearchOutcome, gallery: frozenset[str], floor: float) -> SearchOutcome:
    """``outcome`` as a search can answer, else that probe's error (the search's vocabulary is the gallery).

    A match must name a gallery photo of the dataset, once, with a similarity from the search threshold
    ``floor`` to 100; a match outside that is the service breaking its contract, never a fact about the
    probe (an unknown face id would otherwise be a false match of nobody, a similarity of 250 a match
    above every threshold).
    """
    from ._untrusted import shown

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

# How a face-matching run is counted: 1:N, per probe searched; or 1:1, per probe-gallery pair (--match-mode).
MATCH_MODES = ("search", "compare")
MATCH_MODES_HELP = "search (1:N) or compare (1:1)"


def match_mode(text: str) -> str:
    """``text`` if it is one of :data:`MATCH_MODES` (the one place a match mode is validated), else ValueError."""
    if text not in MATCH_MODES:
        raise ValueError(f"match mode {text!r}: {MATCH_MODES_HELP}")
    return text


def is_similarity(value: float) -> bool:
    """A similarity on the kit's 0-100 scale (Rekognition's), on which search thresholds are given."""
    return 0.0 <= value <= 100.0
