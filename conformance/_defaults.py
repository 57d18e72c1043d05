"""Defaults that the option table, the run and the planner share: a leaf that imports nothing of the kit.

The option table (:mod:`conformance.options`) is imported by the plugin at every pytest start; it
reads the default seed and the default price here rather than from the planner, which would bring
:mod:`conformance.planning` and :mod:`conformance.stats` with it (red team 18 F7). The run's
:class:`~conformance.run.context.RunOptions` reads its defaults here too, so that the run never
imports the option table (which builds RunOptions: the table imports the run, not the reverse).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DEFAULT_LOOKS",
    "DEFAULT_MATCH_MODE",
    "DEFAULT_PRICE",
    "DEFAULT_RECORD_MODE",
    "DEFAULT_SEED",
    "Price",
    "numpy_seed",
]

DEFAULT_SEED = 20261121


def numpy_seed(seed: int) -> int:
    """The entropy a run's ``seed`` gives numpy's generators: any whole number is a seed (run, plan, the API).

    numpy's ``SeedSequence`` takes no negative number (``--seed -3`` crashed the 1:1 checks' bootstrap
    with numpy's ``expected non-negative integer``, red team 18 F3). A negative seed draws as its absolute
    value, as Python's ``random.Random`` does with it (the variant plan's); a seed of 0 or more is given
    to numpy as it is, so every stream drawn before stays the same.

    >>> numpy_seed(-3), numpy_seed(20261121)
    (3, 20261121)
    """
    return abs(seed)


DEFAULT_RECORD_MODE = "none"  # replay only, offline, as pytest-recording's own default
DEFAULT_MATCH_MODE = "search"
# A sequential audit's most looks (run --looks, plan --sequential --looks; conformance.sequential).
DEFAULT_LOOKS = 5


@dataclass(frozen=True)
class Price:
    """What one image sent to the vendor costs, and where the figure comes from."""

    per_1000: float
    currency: str
    source: str

    def cost(self, images: int) -> float:
        return images * self.per_1000 / 1000.0


# Rekognition Image "Group 2" APIs (DetectFaces among them), first million images a month. Read from a
# transcription of aws.amazon.com/rekognition/pricing dated 2026-10-07; this kit has no network and cannot
# check it again: --price-per-1000 overrides it.
DEFAULT_PRICE = Price(
    per_1000=1.00,
    currency="USD",
    source="Amazon Rekognition Image list price, DetectFaces (Group 2 APIs), first 1 million images a month: "
    "USD 0.001 per image, as of 2026-10-07 per the published pricing page (not re-checked: no network); "
    "override with --price-per-1000",
)
