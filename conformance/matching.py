"""Face matching: what a matcher said about each probe searched against the gallery (1:N).

A face-matching dataset's manifest gives each photo a ``role``: ``gallery`` (enrolled) or ``probe``
(searched). Subject ids decide which searches are *mated* (the probe's person is enrolled) and which
are not. A :class:`Matcher` answers a search with the gallery faces it matched and their similarity
(0-100); every probe ends up analysed, with no face, or with an error, as photos do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .dataset import Dataset, Photo
    from .observation import Outcome

__all__ = ["Matcher", "SearchOutcome", "SearchRun", "run_searches"]


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


@runtime_checkable
class Matcher(Protocol):
    """A face search system seen through an adapter: ``search`` one probe against the gallery.

    ``threshold`` is the lowest similarity to return (like Rekognition's ``FaceMatchThreshold``);
    matches below it are not reported, so checks cannot look below it.
    """

    name: str

    def describe(self) -> Mapping[str, Any]: ...

    def search(self, probe: Photo, gallery: Sequence[Photo], *, threshold: float) -> SearchOutcome: ...

    def compare(self, source: Photo, target: Photo) -> float | None:
        """1:1: the similarity (0-100) of the two photos' faces; None when it is below what the matcher
        reports (its search threshold) or a photo has no face."""
        ...


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
        """
        import numpy as np

        photos = {p.id: (i, p) for i, p in enumerate(self.dataset.photos)}
        enrolled = {p.subject for p in self.dataset.role("gallery")}
        subject_of = {p.id: p.subject for p in self.dataset.role("gallery")}
        codes: dict[str, int] = {}
        rows = [r for r in self.records if r.outcome == "analysed"]
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
        }


def _pairs_of(run: SearchRun, groups: Sequence[str]) -> dict[str, Any]:
    """Every (probe, gallery photo) pair as a 1:1 comparison: genuine when both show the same person.

    A pair's similarity is the search's score for that gallery photo; a pair the search did not return
    scored below the search threshold, so it counts as below every threshold at or above it (``nan``).
    """
    import numpy as np

    photos = {p.id: (i, p) for i, p in enumerate(run.dataset.photos)}
    gallery = run.dataset.role("gallery")
    codes: dict[str, int] = {}
    probes, subjects, labels, genuine, impostor_score, mate_score = [], [], [], [], [], []
    for record in run.records:
        if record.outcome != "analysed":
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
    return {
        "probe": tuple(probes),
        "subject": np.asarray(subjects, dtype=np.int64),
        "group": np.asarray(labels, dtype=str),
        "mated": np.asarray(genuine, dtype=bool),
        "best_impostor": np.asarray(impostor_score, dtype=np.float64),
        "best_mate": np.asarray(mate_score, dtype=np.float64),
        "floor": run.floor,
        "mode": "compare",
    }


def run_searches(matcher: Matcher, dataset: Dataset, *, floor: float) -> SearchRun:
    """Search every probe of ``dataset`` against its gallery with threshold ``floor``; none is lost."""
    from contextlib import nullcontext

    gallery = dataset.role("gallery")
    session = getattr(matcher, "session", None)
    with session() if callable(session) else nullcontext():
        records = tuple(matcher.search(p, gallery, threshold=floor) for p in dataset.role("probe"))
    return SearchRun(dataset=dataset, records=records, floor=floor, matcher=dict(matcher.describe()))
