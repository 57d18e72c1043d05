"""What the verdict Monte Carlo scripts share: the policy, how people's outcomes are drawn, the in-memory table.

``verdict_error_rates.py`` (equal-size designs) and ``lopsided_error_rates.py`` (a small group against a
large one) draw data the same way and hand it to the kit's public ``run_check`` the same way; this module
is that one way. Each person has their own misgendering probability, beta-distributed with the group's
mean rate and an intraclass correlation; every photo is a woman's, gendered ``Female`` or, when
misgendered, ``Male``. Random numbers are drawn in the same order as the scripts always drew them, so a
seed gives the same rows as before the code was shared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from conformance import load_policy
from conformance.dataset import Dataset
from conformance.identity import SELF_DESCRIBED
from conformance.observation import GENDER_CODES, Face, Observation, Observations

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["ALPHA", "POLICY", "TOLERANCE", "misgendered", "observations", "own_probability", "photo_rows"]

POLICY = load_policy()
TOLERANCE = POLICY.tolerance_for("misgender_gap")
ALPHA = (1 - POLICY.confidence) / 2  # the one-sided error rate each verdict direction is stated at
_EMPTY = Dataset(name="monte-carlo", manifest=Path("monte-carlo"), photos=(), columns=(), content_hash="")
# The checks read the columns; the per-photo records only give the table its length, so one stands for all.
_RECORD = Observation(
    photo="p", outcome="analysed", face=Face(label="Female", gender="woman", confidence=90.0), faces=1
)


def own_probability(rate: float, icc: float, people: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Each person's own probability: beta-distributed with mean ``rate`` and intraclass correlation ``icc``."""
    import numpy as np

    if icc == 0 or rate in (0.0, 1.0):
        return np.full(people, rate)
    spread = (1 - icc) / icc  # beta(a, b) with a + b = (1 - icc) / icc has intraclass correlation icc
    return rng.beta(rate * spread, (1 - rate) * spread, size=people)


def misgendered(
    rate: float, icc: float, photos: npt.NDArray[np.int64], rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Per person: photos misgendered, each person with their own beta-distributed probability."""

    return rng.binomial(photos, own_probability(rate, icc, photos.size, rng))


def photo_rows(
    groups: Sequence[tuple[str, npt.NDArray[np.int64], npt.NDArray[np.int64]]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], list[str]]:
    """One row per photo of ``groups`` ((name, photos per person, photos counted per person)): each photo's
    person, whether it is counted (a person's first ``counted`` photos: order does not matter), its group."""
    import numpy as np

    labels: list[str] = []
    subject_parts, counted_parts = [], []
    offset = 0
    for name, photos, counted in groups:
        people = np.repeat(np.arange(offset, offset + photos.size), photos)
        position = np.arange(people.size) - np.repeat(np.cumsum(photos) - photos, photos)
        subject_parts.append(people)
        counted_parts.append(position < np.repeat(counted, photos))
        labels += [name] * int(people.size)
        offset += photos.size
    return np.concatenate(subject_parts).astype(np.int64), np.concatenate(counted_parts), labels


def observations(
    groups: Sequence[tuple[str, npt.NDArray[np.int64], npt.NDArray[np.int64]]],
    *,
    confidence: Callable[[npt.NDArray[np.bool_]], npt.NDArray[np.float64]] | None = None,
    nonbinary: bool = False,
) -> tuple[Observations, list[str]]:
    """One row per photo: every woman gendered ``Female`` or, when misgendered, ``Male``.

    ``groups``: (name, photos per person, photos counted per person). ``confidence``: each photo's
    confidence (0-100) from whether it was counted (misgendered); 90 everywhere without it.
    ``nonbinary``: everyone a nonbinary person, given ``Male`` (a binary label) on the counted photos
    and no label (an abstention, which the vocabulary allows) on the others.
    """
    import numpy as np

    subject, counted, labels = photo_rows(groups)
    n = subject.size
    right = GENDER_CODES["abstain"] if nonbinary else GENDER_CODES["woman"]
    table = Observations(
        dataset=_EMPTY,
        records=(_RECORD,) * n,
        outcome=np.zeros(n, dtype=np.int8),
        predicted=np.where(counted, GENDER_CODES["man"], right).astype(np.int8),
        confidence=np.full(n, 90.0) if confidence is None else confidence(counted),
        # everyone a woman (code 0), or everyone nonbinary
        identity=np.full(n, SELF_DESCRIBED.index("nonbinary") if nonbinary else 0, dtype=np.int8),
        subject=subject.astype(np.int64),
        analyzer={"vocabulary": {"labels": {"Female": "woman", "Male": "man"}, "can_abstain": nonbinary}},
    )
    return table, labels
