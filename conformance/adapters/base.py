"""The adapter protocol: what every analyzer offers the kit, and the vocabulary it declares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..dataset import Dataset, Photo
    from ..observation import Face, Observation

__all__ = ["DEFAULT_TIMEOUT", "AdapterSettings", "Analyzer", "AnalyzerFactory", "Vocabulary", "choose_face"]

# Seconds an attempt of a call may take in all before it is retried, then fails that photo: the one
# default of --timeout (options.py reads it here, where every adapter that calls a service reads it too).
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class AdapterSettings:
    """How an adapter that calls a service records and replays (ignored by adapters that call nothing).

    ``record_mode`` has pytest-recording's meanings (``none`` replays only and blocks the network);
    ``cassette_dir`` holds the recordings; ``allow_live`` lets a recording call a non-loopback endpoint;
    ``rate`` caps live calls per second (a token bucket shared by the run's threads, split between its
    processes); ``timeout`` bounds the whole time of each attempt of a call (every read of it, not each read
    alone).
    """

    record_mode: str = "none"
    cassette_dir: str | None = None
    allow_live: bool = False
    rate: float | None = None  # live calls per second at most (None: the adapter's default for live endpoints)
    timeout: float = DEFAULT_TIMEOUT
    # Go live although the vendor may keep the photos (no opt-out policy seen): an acceptance on the record.
    accept_vendor_retention: bool = False


@dataclass(frozen=True)
class Vocabulary:
    """The gender labels an analyzer can output and what each means.

    ``labels`` maps each output label to ``woman``, ``man``, ``nonbinary`` or ``abstain``;
    ``can_abstain`` says whether the analyzer can report a face without a gender (no label).
    ``source`` says where the vocabulary was read from, for the report. ``gives_confidence`` is what
    the analyzer declares about confidences: True (it gives one with its labels), False (it cannot
    give one: ``confidence_calibration`` is then not applicable), None (not declared: labels with no
    confidence at all leave calibration inconclusive, as omitting them is a choice the kit cannot tell
    from an incapacity).
    """

    labels: Mapping[str, str]
    source: str
    can_abstain: bool = False
    gives_confidence: bool | None = None

    @property
    def can_express_nonbinary(self) -> bool:
        return "nonbinary" in self.labels.values()

    @property
    def can_decline(self) -> bool:
        """Whether a face can leave the analyzer without a binary gender: a nonbinary label or abstention."""
        return self.can_abstain or self.can_express_nonbinary or "abstain" in self.labels.values()

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": dict(self.labels),
            "source": self.source,
            "can_abstain": self.can_abstain or "abstain" in self.labels.values(),
            "can_express_nonbinary": self.can_express_nonbinary,
            "gives_confidence": self.gives_confidence,
        }


@runtime_checkable
class Analyzer(Protocol):
    """A facial-analysis system seen through an adapter.

    ``describe()`` returns provenance for reports: at least ``name`` and ``version``, and
    ``simulated`` / ``emulated`` flags when the output is not a real system's.
    """

    name: str
    vocabulary: Vocabulary

    def describe(self) -> Mapping[str, Any]: ...

    def analyze(self, photo: Photo) -> Observation: ...


class AnalyzerFactory(Protocol):
    """What the ``conformance.adapters`` entry point names: builds an analyzer for a dataset.

    ``argument`` is what follows the colon in ``--analyzer NAME:ARGUMENT`` (None without one).
    An analyzer that calls a service may also have ``session()``, a context manager the runner
    holds open around all its ``analyze`` calls (to open recordings, patch HTTP, clean up);
    ``sees_new_images`` (it can analyse images outside the dataset, such as transformed variants);
    ``can_see(photo)`` (whether it can analyse that photo now, e.g. it is in a replayed recording);
    and ``extra_calls``, which the runner sets before ``session()`` to the number of variants it
    will send, so that an estimate of live calls includes them.
    """

    def __call__(self, argument: str | None, *, dataset: Dataset, settings: AdapterSettings) -> Analyzer: ...


def _area(face: Face) -> float:
    return 0.0 if face.box is None else face.box[2] * face.box[3]


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (left, top, width, height) boxes."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def choose_face(faces: list[Face], box: tuple[float, float, float, float] | None) -> Face | None:
    """The face that counts for a photo: the one overlapping the manifest's box most, else the largest.

    Returns None when several faces have no boxes to decide between them, or when the manifest gives
    a box that none of several faces overlaps (the subject's face was not among them).
    """
    if len(faces) == 1:
        return faces[0]
    if any(f.box is None for f in faces):
        return None
    if box is not None:
        overlaps = [(_overlap(f.box, box) if f.box else 0.0, i) for i, f in enumerate(faces)]
        best, index = max(overlaps)
        return faces[index] if best > 0 else None
    return max(faces, key=_area)
