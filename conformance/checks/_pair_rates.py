"""One side of a 1:1 differential (FMR or FNMR) at one threshold: each group's count, its rate's interval.

:mod:`conformance.checks.biometrics` judges the ratio of two groups' rates; this module holds what it
reads per group: the errors and comparisons counted (:class:`Rates`), the interval of a group's rate at
any level (one method for 0, 1, 2, ... errors: Clopper-Pearson on the independent units, widened by the
two-way bootstrap and the two-way effective size for FMR; the people's clustered rate for FNMR), and what
the comparisons without a score could hide (:func:`worst_case_factor`, :func:`widened_ratio`, :func:`unexplained_lost`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import stats

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..pairwise import PairCounts


def percentile_interval(values: npt.NDArray[np.float64], level: float) -> tuple[float, float] | None:
    import numpy as np

    kept = values[~np.isnan(values)]
    if 2 * kept.size < values.size or kept.size == 0:
        return None
    tail = (1 - level) / 2
    # Order statistics, no interpolation: a ratio over a zero rate is inf, and inf - inf would be nan.
    lower, upper = np.quantile(kept, [tail, 1 - tail], method="inverted_cdf")
    return float(lower), float(upper)


@dataclass(frozen=True)
class Side:
    """What differs between the FMR and the FNMR check."""

    check_id: str
    rate: str  # "fmr" / "fnmr"
    errors: str
    units: str
    measure: str


FMR = Side(
    "false_match_differential",
    "fmr",
    "false matches",
    "impostor comparisons",
    "impostor comparisons with score at or above the threshold / impostor comparisons, per probe group",
)
FNMR = Side(
    "false_non_match_differential",
    "fnmr",
    "false non-matches",
    "genuine comparisons",
    "genuine comparisons below the threshold (a photo without a template: a miss) / genuine comparisons, per probe group",
)


def exact_at(counts: PairCounts, t: float) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], Any]:
    """Per probe group: false matches and impostor comparisons counted under the impostor restriction."""
    from ..pairstats import at_threshold

    found = at_threshold(counts, t)
    allowed = counts.allowed()
    return (found.false_matches * allowed).sum(axis=1), (counts.impostor_comparisons * allowed).sum(axis=1), found


def subject_pairs(counts: PairCounts, g: int) -> int:
    """Distinct people-pairs (unordered) behind a group's impostor comparisons: the fewest independent units.

    The scores are symmetric, so person p against r and r against p are one people-pair.
    """
    in_group = subjects_in(counts, g)
    within = in_group * (in_group - 1) // 2
    if counts.same_group:
        return max(1, within)
    return max(1, within + in_group * (len(counts.subjects) - in_group))


# The ratio-decided differentials keep their own rule (Bonferroni-adjusted bootstrap intervals against
# ratio_tolerance, stats.bonferroni); the absolute-gap rule of ._compare does not apply to them.
bonferroni = stats.bonferroni


def subjects_in(counts: PairCounts, g: int) -> int:
    import numpy as np

    return int(np.unique(counts.photo_subject[counts.photo_group == g]).size)


# Below this many errors behind a rate, a ratio's bootstrap interval is widened to the ratio of the
# groups' bounds (a handful of people-pairs decide its resamples).
FEW = stats.FEW_ERRORS
# Every group's FNMR at or above this: the threshold rejects (nearly) every genuine comparison.
ALL_REJECTED = 0.99

FMR_METHOD = (
    "the widest of: the two-way bootstrap over people (percentile); Clopper-Pearson on distinct people-pairs "
    "(the count scaled to them); Clopper-Pearson on the two-way effective size (each person's influence as "
    "probe and reference, degrees of freedom from the people)"
)
FNMR_METHOD = (
    "Clopper-Pearson on the effective number of people (per-person sums, design effect and degrees of "
    "freedom estimated from the people; all people if no error)"
)


@dataclass(frozen=True)
class Rates:
    """One side's per-group counts at one threshold, and how to bound each group's rate at any level."""

    side: Side
    counts: PairCounts
    errors: npt.NDArray[np.int64]
    totals: npt.NDArray[np.int64]
    lost: npt.NDArray[np.int64]  # comparisons without a score, per group (counted below every threshold)
    boot: npt.NDArray[np.float64]  # (B, G) rate resamples
    resampled: bool
    per_person: tuple[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]], ...]  # FNMR: (misses, genuine)
    method: str
    two_way: tuple[Any, ...] = ()  # FMR: each group's ClusteredRate on two-way effective sizes (or None)
    # Per group: comparisons without a score that no photo without a template explains (failed, not listed).
    pair_lost: npt.NDArray[np.int64] | None = None

    def bounds(self, g: int, level: float) -> tuple[float, float] | None:
        """The interval of group ``g``'s rate at ``level``: one method for 0, 1, 2, ... errors."""

        n, k = int(self.totals[g]), int(self.errors[g])
        if n == 0:
            return None
        if self.side.rate == "fnmr":
            misses, genuine = self.per_person[g]
            if genuine.sum() <= 0:
                return None
            return stats.rate_interval(stats.clustered_rate(misses, genuine), level, self.method)
        units = float(min(n, subject_pairs(self.counts, g)))
        lower, upper = stats.beta_limits(k * units / n, units, (1.0 - level) / 2.0)
        if self.resampled and 0 < k < n:
            boot = percentile_interval(self.boot[:, g], level)
            if boot is not None:
                lower, upper = min(lower, boot[0]), max(upper, boot[1])
            two_way = self.two_way[g] if g < len(self.two_way) else None
            if two_way is not None:
                # With few people the percentile interval is too short (60 people of 3 photos: 88%).
                low, high = stats.rate_interval(two_way, level, self.method)
                lower, upper = min(lower, low), max(upper, high)
        return lower, upper


def misses_per_person(
    counts: PairCounts, threshold: float
) -> tuple[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]], ...]:
    """Per group, per person: genuine comparisons below ``threshold`` (misses) and genuine comparisons."""
    import numpy as np

    pairs = counts.genuine
    subject = counts.photo_subject[pairs.probe]
    group = counts.photo_group[pairs.probe]
    miss = ~(pairs.score >= threshold)
    size = len(counts.subjects)
    out = []
    for g in range(len(counts.groups)):
        mask = group == g
        genuine = np.bincount(subject[mask], minlength=size).astype(np.float64)
        misses = np.bincount(subject[mask & miss], minlength=size).astype(np.float64)
        keep = genuine > 0
        out.append((misses[keep], genuine[keep]))
    return tuple(out)


def worst_case_factor(rates: Rates, g: int) -> float:
    """How far group ``g``'s rate could move if its comparisons without a score had gone the other way.

    FMR counts them as non-matches: had they been false matches the rate is (k + lost) / k times as
    high. FNMR counts them as misses: had they matched, it is (k - lost) / k times as low. 1: nothing lost.
    """
    k, lost = float(rates.errors[g]), float(rates.lost[g])
    if lost <= 0:
        return 1.0
    if rates.side.rate == "fmr":
        return math.inf if k == 0 else (k + lost) / k
    return 0.0 if k <= 0 else max(0.0, k - lost) / k


def widened_ratio(rates: Rates, g: int, r: int, ci: tuple[float, float]) -> tuple[float, float]:
    """A ratio interval for group ``g`` over ``r`` widened by what their lost comparisons could hide."""
    fg, fr = worst_case_factor(rates, g), worst_case_factor(rates, r)
    lower, upper = ci
    if rates.side.rate == "fmr":
        # g's rate could be higher (upper end up), the reference's higher (lower end down).
        return (0.0 if math.isinf(fr) else lower / fr, math.inf if math.isinf(fg) else upper * fg)
    # FNMR: g's rate could be lower (lower end down), the reference's lower (upper end up).
    return (lower * fg, math.inf if fr <= 0 else upper / fr)


def unexplained_lost(counts: PairCounts, side: Side, lost: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Per group: comparisons without a score that no photo without a template explains (failed, not listed)."""
    import numpy as np

    from ..pairwise import _comparison_counts

    ok = counts.acquired
    impostors, genuines = _comparison_counts(counts.photo_group[ok], counts.photo_subject[ok], len(counts.groups))
    if side.rate == "fmr":
        explained = ((counts.impostor_comparisons - impostors) * counts.allowed()).sum(axis=1)
    else:
        explained = (counts.genuine_comparisons - genuines).sum(axis=1)
    out: npt.NDArray[np.int64] = np.maximum(0, lost - explained).astype(np.int64)
    return out


def unexplained_lost_text(rates: Rates, g: int, r: int, name: str, ref: str) -> str:
    """The comparisons of ``g`` and ``r`` a scores list failed or left out (both photos with a template), or ""."""
    lost = rates.pair_lost
    pair = {who: 0 if lost is None else int(lost[c]) for who, c in ((name, g), (ref, r))}
    if not any(pair.values()):
        return ""
    return (
        f"{rates.side.units} failed or missing from the scores though both photos have a template ("
        + ", ".join(f"{who} {v:,}" for who, v in pair.items() if v)
        + "): a list that leaves out pairs could hide errors, so this ratio cannot pass"
    )
