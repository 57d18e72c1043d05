"""What an image sent to the vendor costs: the plan's price, and the list price it defaults to (from planners.py)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_PRICE", "Price"]


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
