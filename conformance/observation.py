"""What an analyzer said about each photo, one :class:`Observation` per photo, and the columnar
:class:`Observations` table the checks compute on.

Every photo of the dataset has exactly one observation with one of three outcomes:
``analysed`` (a face was found), ``no_face``, or ``error`` (with its reason). Nothing is dropped.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .identity import SELF_DESCRIBED, UNDISCLOSED, is_misgendered

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .dataset import Dataset

__all__ = ["GENDER_CODES", "OUTCOMES", "Face", "Observation", "Observations", "Outcome", "Variant"]

Outcome = Literal["analysed", "no_face", "error"]
OUTCOMES: tuple[Outcome, ...] = ("analysed", "no_face", "error")
# Codes of the predicted canonical gender in the table; -1 when no face was analysed.
GENDER_CODES: Mapping[str, int] = {"woman": 0, "man": 1, "nonbinary": 2, "abstain": 3}


@dataclass(frozen=True, slots=True)  # slots: one per photo, a million in a large run
class Face:
    """One face an analyzer found: its own label, that label's canonical meaning, confidence 0-100."""

    label: str | None
    gender: str | None
    confidence: float | None
    box: tuple[float, float, float, float] | None = None
    age: float | None = None  # estimated age in years, where the analyzer gives one


@dataclass(frozen=True, slots=True)
class Observation:
    """The analyzer's answer for one photo; ``face`` is the face that counts (see adapters)."""

    photo: str
    outcome: Outcome
    face: Face | None = None
    faces: int = 0
    reason: str = ""

    def __post_init__(self) -> None:
        if (self.outcome == "analysed") != (self.face is not None):
            raise ValueError(f"observation of {self.photo!r}: outcome {self.outcome} with face {self.face}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"photo": self.photo, "outcome": self.outcome, "faces": self.faces}
        if self.face is not None:
            out.update(label=self.face.label, gender=self.face.gender, confidence=self.face.confidence)
            if self.face.age is not None:
                out["age"] = self.face.age
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Variant:
    """The analyzer's answer for a transformed copy of a dataset photo (see :mod:`conformance.metamorphic`)."""

    photo: str
    transform: str
    observation: Observation


@functools.lru_cache(maxsize=1)
def _misgenders() -> npt.NDArray[np.bool_]:
    """:func:`~conformance.identity.is_misgendered` as a table: [identity code, predicted code] -> misgenders."""
    import numpy as np

    table = np.zeros((len(SELF_DESCRIBED), len(GENDER_CODES) + 1), dtype=np.bool_)
    for identity in SELF_DESCRIBED:
        for label, code in GENDER_CODES.items():
            table[SELF_DESCRIBED.index(identity), code] = is_misgendered(identity, label)
    return table


@dataclass(frozen=True)
class Observations:
    """The observations of one analyzer on one dataset, aligned with ``dataset.photos``.

    Columns are numpy arrays, one entry per photo, so checks and bootstraps vectorise:
    ``outcome`` (index into :data:`OUTCOMES`), ``predicted`` (:data:`GENDER_CODES`, -1 when no
    face), ``confidence`` (0-100, nan when none), ``identity`` (index into ``SELF_DESCRIBED``:
    woman, man, nonbinary, undisclosed),
    ``subject`` (integer code per distinct subject).
    """

    dataset: Dataset
    records: tuple[Observation, ...]
    outcome: npt.NDArray[np.int8]
    predicted: npt.NDArray[np.int8]
    confidence: npt.NDArray[np.float64]
    identity: npt.NDArray[np.int8]
    subject: npt.NDArray[np.int64]
    analyzer: Mapping[str, Any] = field(default_factory=dict)
    # Transformed variants, when the analyzer could look at them; None when it could not (and why).
    variants: tuple[Variant, ...] | None = None
    variants_note: str = ""

    @classmethod
    def build(
        cls,
        dataset: Dataset,
        observations: Iterable[Observation],
        analyzer: Mapping[str, Any] | None = None,
        *,
        variants: Iterable[Variant] | None = None,
        variants_note: str = "",
    ) -> Observations:
        """Align observations with the dataset; every photo must have exactly one."""
        import numpy as np

        given = tuple(observations)
        photos = dataset.photos
        # Adapters answer in manifest order: then the records are the answers as they are, checked in one pass.
        if len(given) == len(photos) and all(o.photo == p.id for o, p in zip(given, photos, strict=True)):
            records = given
        else:
            by_photo: dict[str, Observation] = {}
            for obs in given:
                if obs.photo not in dataset:
                    raise ValueError(f"observation for {obs.photo!r}, which is not in {dataset.manifest}")
                if obs.photo in by_photo:
                    raise ValueError(f"two observations for photo {obs.photo!r}")
                by_photo[obs.photo] = obs
            missing = [p.id for p in photos if p.id not in by_photo]
            if missing:
                raise ValueError(f"no observation for {len(missing)} photo(s), first {missing[0]!r}")
            records = tuple(by_photo[p.id] for p in photos)
        n = len(records)
        outcome_codes = {name: code for code, name in enumerate(OUTCOMES)}
        identity_codes = {name: code for code, name in enumerate(SELF_DESCRIBED)}
        outcome = np.fromiter((outcome_codes[r.outcome] for r in records), dtype=np.int8, count=n)
        faces = [r.face for r in records]
        predicted = np.fromiter(
            (GENDER_CODES[f.gender or "abstain"] if f is not None else -1 for f in faces), dtype=np.int8, count=n
        )
        confidence = np.fromiter(
            (f.confidence if f is not None and f.confidence is not None else np.nan for f in faces),
            dtype=np.float64,
            count=n,
        )
        try:
            identity = np.fromiter((identity_codes[p.identity] for p in photos), dtype=np.int8, count=n)
        except KeyError as exc:
            raise ValueError(f"identity {exc.args[0]!r} is not one of {', '.join(SELF_DESCRIBED)}") from None
        subject_codes: dict[str, int] = {}
        subject = np.fromiter(
            (subject_codes.setdefault(p.subject, len(subject_codes)) for p in dataset.photos), dtype=np.int64, count=n
        )
        return cls(
            dataset=dataset,
            records=records,
            outcome=outcome,
            predicted=predicted,
            confidence=confidence,
            identity=identity,
            subject=subject,
            analyzer=dict(analyzer or {}),
            variants=None if variants is None else tuple(variants),
            variants_note=variants_note,
        )

    def __len__(self) -> int:
        return len(self.records)

    @property
    def analysed(self) -> npt.NDArray[np.bool_]:
        analysed: npt.NDArray[np.bool_] = self.outcome == 0
        return analysed

    @property
    def disclosed(self) -> npt.NDArray[np.bool_]:
        """True where the photo's subject described a gender identity: misgendering is measured on these only."""
        disclosed: npt.NDArray[np.bool_] = self.identity != SELF_DESCRIBED.index(UNDISCLOSED)
        return disclosed

    @property
    def misgendered(self) -> npt.NDArray[np.bool_]:
        """True where a face was analysed and its label misgenders the photo's subject.

        Never for an undisclosed subject: there is no self-description to misgender against.
        """
        import numpy as np

        # The rule is identity.is_misgendered's, looked up per (identity, predicted) code; the last
        # column is predicted code -1 (no face analysed), which misgenders no one.
        wrong = _misgenders()[self.identity, self.predicted]
        return np.asarray(self.analysed & wrong, dtype=np.bool_)

    def outcome_counts(self) -> dict[str, int]:
        import numpy as np

        counts = np.bincount(self.outcome, minlength=len(OUTCOMES))
        return {name: int(counts[i]) for i, name in enumerate(OUTCOMES)}
