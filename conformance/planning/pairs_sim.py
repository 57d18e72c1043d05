"""false_match_differential's power by simulation: the planned design drawn, and read as the check reads it.

The two-way approximation of :mod:`.pairs_power` treated the bootstrap's percentile interval as
normal and the counts as smooth; against the real check it promised 2.5 to 10 points too little
for a pass and missed a fail by 4 to 8 points at an impostor ICC of 0.1 (benchmarks/plan_power.py).
Here each draw is the check's own data and procedure, on the two-way Gaussian score model of
:mod:`.pairs_model`:

- every photo pair of two different people gets a score ``a_i + a_j + e`` (the same both ways),
  people's effects normal around their group's shift;
- the threshold is fixed in-sample where the pool's FMR is the target, as ``pairstats.calibrate``
  does: with symmetric scores the ordered comparisons at or above it are the top
  ``floor(floor(target x pool) / 2)`` unordered pairs, each counted in both orders;
- each group's false matches and impostor comparisons are counted by probe group; its bounds are
  the widest of Clopper-Pearson on its distinct people-pairs (the count scaled to them), the
  two-way bootstrap's percentile interval (people resampled within their group, ``policy.bootstrap``
  times, a comparison weighted by its two people's draws), and Clopper-Pearson on the two-way
  effective size (each person's influence as probe and as reference, Satterthwaite's degrees of
  freedom, as ``pairstats.two_way_rates``);
- each ratio's interval is the bootstrap percentile at the Bonferroni level, widened to the ratio of
  the groups' bounds below 30 false matches (or that ratio alone when a group has none); the verdict
  is ``ratio_verdict``'s, a group below ``min_subjects`` people is never decided.

Only what the check's verdict reads is computed (no DET curves, inequity measures or reports), so a
draw costs milliseconds where the check's whole run costs a second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import stats
from .._defaults import numpy_seed
from .pairs_model import FEW_ERRORS, ScoreModel, _bonferroni, calibrated, fail_model

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .pairs_power import PairDesign


# Draws a size for false_match_differential (at most): a draw fixes a threshold over every impostor pair and
# bootstraps it policy.bootstrap times, tens of milliseconds where a rate check's draw costs tens of microseconds.
# The size is searched for on SEARCH_DRAWS draws of SEARCH_RESAMPLES resamples each (about a tenth of the cost),
# then confirmed, and its power promised, on FMR_DRAWS draws read exactly as the check reads them: searching on
# the full draws took 250 s of CPU for the default design (882 s under load).
FMR_DRAWS = 400
SEARCH_DRAWS = 100
SEARCH_RESAMPLES = 1000


@dataclass(frozen=True)
class _Layout:
    """The photo pairs of a design: which two people each unordered impostor pair joins."""

    people: int  # in all groups
    group: npt.NDArray[np.int64]  # each person's group
    first: npt.NDArray[np.int64]  # each unordered impostor photo pair's two people
    second: npt.NDArray[np.int64]


def _layout(groups: int, people: int, photos: int, same_group: bool) -> _Layout:
    import numpy as np

    total = groups * people
    person = np.repeat(np.arange(total), photos)
    i, j = np.triu_indices(person.size, 1)
    a, b = person[i], person[j]
    keep = a != b
    group = np.repeat(np.arange(groups), people)
    if same_group:
        keep &= group[a] == group[b]
    return _Layout(total, group, a[keep].astype(np.int64), b[keep].astype(np.int64))


def _weights(rng: Any, group: npt.NDArray[np.int64], people: int, groups: int, resamples: int) -> Any:
    """How many times each person is drawn in each resample: ``people`` draws with replacement within each group."""
    import numpy as np

    total = groups * people
    picks = rng.integers(0, people, size=(resamples, total), dtype=np.int32)
    # each draw lands in its own resample's row and its own group's block of people
    picks += (np.arange(resamples, dtype=np.int32) * total)[:, None] + (group * people).astype(np.int32)[None, :]
    counts = np.bincount(picks.ravel(), minlength=resamples * total)
    return counts.reshape(resamples, total).astype(np.float64)


def _percentile(values: Any, level: float) -> tuple[float, float] | None:
    """As the check's: order statistics at ``(1 - level) / 2`` either side, none when half the values are nan."""
    import numpy as np

    kept = values[~np.isnan(values)]
    if 2 * kept.size < values.size or kept.size == 0:
        return None
    tail = (1 - level) / 2
    low, high = np.quantile(kept, [tail, 1 - tail], method="inverted_cdf")
    return float(low), float(high)


def _two_way(
    y_probe: Any, y_ref: Any, n_probe: Any, n_ref: Any, in_group: int, count: float, n: float
) -> stats.ClusteredRate | None:
    """A group's FMR on its two-way effective size: the check's own reading (``pairstats.two_way_rate``)."""
    from ..pairstats import two_way_rate

    return two_way_rate(y_probe, y_ref, n_probe, n_ref, in_group, count, n)


def simulated_fmr_power(
    design: PairDesign,
    people: int,
    verdict: str,
    ratio: float,
    *,
    replicates: int,
    fresh: int = 0,
    resamples: int | None = None,
) -> float:
    """Share of ``replicates`` draws of the design at ``people`` a group whose verdict is ``verdict``.

    ``ratio``: the last group's true FMR over the reference's (1: every group alike), its people
    shifted as :func:`.pairs_model.fail_model` solves it. ``resamples``: the bootstrap's resamples a
    draw (None: the check's, ``design.resamples``; fewer only to search cheaply).
    """
    import numpy as np

    G = design.groups
    if people < max(design.min_subjects, 2) or replicates <= 0:
        return 0.0
    base = ScoreModel(G, people, design.photos, design.sd, (0.0,) * G, 0.0, design.same_group)
    model = (
        calibrated(base, design.target, design.pool)
        if ratio == 1.0
        else fail_model(base, design.target, design.pool, ratio)
    )
    reading = FmrReading(design, people, resamples)
    rng = np.random.default_rng([numpy_seed(design.seed), people, G, fresh, 13])
    shifts = np.asarray(model.shifts)[reading.layout.group]
    hits = 0
    for _ in range(replicates):
        effect = shifts + design.sd * rng.standard_normal(reading.layout.people)
        score = effect[reading.layout.first] + effect[reading.layout.second]
        score = score + rng.standard_normal(score.size)
        results = reading.verdicts(score, rng)
        if verdict == "pass":
            hits += all(r == "pass" for r in results)
        else:
            hits += any(r == "fail" for r in results)
    return hits / replicates


class FmrReading:
    """false_match_differential's verdicts on one draw of a planned design's impostor scores.

    Built once a size: the photo pairs (:func:`_layout`: ``layout.first`` and ``layout.second`` are the
    two people of each unordered impostor photo pair, photo by photo, people numbered group by group),
    and what the check counts per person; :meth:`verdicts` reads one draw's scores, one per pair.
    """

    def __init__(self, design: PairDesign, people: int, resamples: int | None = None) -> None:
        import numpy as np

        G, m = design.groups, design.photos
        self.design, self.people = design, people
        # The check's bootstrap resamples (policy.bootstrap), unless a cheaper search asks for fewer.
        self.resamples = design.resamples if resamples is None else resamples
        self.layout = layout = _layout(G, people, m, design.same_group)
        total, group = layout.people, layout.group
        # Both orders of every unordered pair: probe and reference people, and the probe's group.
        self.probe = np.concatenate([layout.first, layout.second])
        self.reference = np.concatenate([layout.second, layout.first])
        self.probe_group = group[self.probe]
        allowed = np.array([[g == h or not design.same_group for h in range(G)] for g in range(G)])
        pool_cells = allowed.copy()
        if design.pool == "reference":
            pool_cells[1:] = False
        self.pool = np.flatnonzero(pool_cells[self.probe_group, group[self.reference]])
        # pairstats.calibrate: at most floor(target x pool) pool comparisons at or above the threshold, which
        # lies just above the next one's score.
        self.wanted = math.floor(design.target * self.pool.size)
        self.comparisons = np.bincount(self.probe_group, minlength=G).astype(np.float64)
        within = people * (people - 1) / 2.0
        people_pairs = max(1.0, within + (0.0 if design.same_group else people * (total - people)))
        self.units = np.minimum(self.comparisons, people_pairs)
        self.level = _bonferroni(design.confidence, G)[0]
        # Each person's comparisons with a probe of group g, as probe and as reference (pairstats.two_way_rates).
        self.n_probe = np.zeros((G, total))
        self.n_ref = np.zeros((G, total))
        np.add.at(self.n_probe, (self.probe_group, self.probe), 1.0)
        np.add.at(self.n_ref, (self.probe_group, self.reference), 1.0)
        # A resample's impostor comparisons of probe group g: m^2 (sum_{p in g} w_p sum_{r allowed for g} w_r
        # - sum_{p in g} w_p^2), every two people meeting m^2 times (pairstats.replicates' closed form). People
        # are numbered group by group, so a group's sums are a reshape's: whom a probe of g meets is ``allowed``.
        self.allowed = allowed.astype(np.float64)

    def false_matches(self, score: Any) -> Any:
        """Indices (into both orders of the pairs) of the comparisons at or above the in-sample threshold."""
        import numpy as np

        ordered = np.concatenate([score, score])
        pool_scores = ordered[self.pool]
        cut = pool_scores.size - self.wanted - 1
        edge = np.partition(pool_scores, cut)[cut]
        return np.flatnonzero(ordered > edge)

    def verdicts(self, score: Any, rng: Any) -> list[str]:
        """Each group's ratio verdict against the reference (the first group), the reference's own left out."""
        import numpy as np

        design, G, m = self.design, self.design.groups, self.design.photos
        total = self.layout.people
        alpha = (1.0 - self.level) / 2.0
        hit = self.false_matches(score)
        hit_group = self.probe_group[hit]
        counts = np.bincount(hit_group, minlength=G).astype(np.float64)
        w = _weights(rng, self.layout.group, self.people, G, self.resamples)
        numerator = np.zeros((self.resamples, G))
        for g in range(G):
            mine = hit[hit_group == g]
            if mine.size:
                numerator[:, g] = (w[:, self.probe[mine]] * w[:, self.reference[mine]]).sum(axis=1)
        by_group = w.reshape(w.shape[0], G, self.people)
        sums = by_group.sum(axis=2)
        squares = np.einsum("rgp,rgp->rg", by_group, by_group)
        denominator = m * m * (sums * (sums @ self.allowed.T) - squares)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = numerator / denominator
        bounds: list[tuple[float, float] | None] = []
        for g in range(G):
            count, n = float(counts[g]), float(self.comparisons[g])
            if n <= 0:
                bounds.append(None)
                continue
            low, high = stats.score_limits(np.asarray(count * self.units[g] / n), np.asarray(self.units[g]), alpha)
            lower, upper = float(low), float(high)
            if 0 < count < n:
                spread = _percentile(boot[:, g], self.level)
                if spread is not None:
                    lower, upper = min(lower, spread[0]), max(upper, spread[1])
                mine = hit[hit_group == g]
                y_probe = np.bincount(self.probe[mine], minlength=total).astype(np.float64)
                y_ref = np.bincount(self.reference[mine], minlength=total).astype(np.float64)
                two_way = _two_way(y_probe, y_ref, self.n_probe[g], self.n_ref[g], self.people, count, n)
                if two_way is not None:
                    low2, high2 = stats.rate_bounds(two_way, alpha, design.method)
                    lower, upper = min(lower, low2), max(upper, high2)
            bounds.append((lower, upper))
        return [
            _ratio_verdict(
                boot[:, g], boot[:, 0], counts, self.comparisons, bounds, g, self.level, design.ratio_tolerance
            )
            for g in range(1, G)
        ]


def _ratio_verdict(
    boot_g: Any,
    boot_r: Any,
    counts: Any,
    comparisons: Any,
    bounds: Sequence[tuple[float, float] | None],
    g: int,
    level: float,
    tolerance: float,
) -> str:
    """A group's ratio to the reference's, decided as ``checks.biometrics._side_result`` decides it."""
    import numpy as np

    from ..checks.biometrics import ratio_verdict

    k_g, k_r, n_g, n_r = counts[g], counts[0], comparisons[g], comparisons[0]
    both = 0 < k_g < n_g and 0 < k_r < n_r
    with np.errstate(invalid="ignore", divide="ignore"):
        boot_ci = _percentile(boot_g / boot_r, level) if both else None
    bounds_g, bounds_r = bounds[g], bounds[0]
    bounds_ci = None
    if bounds_g is not None and bounds_r is not None:
        bounds_ci = (
            bounds_g[0] / bounds_r[1] if bounds_r[1] > 0 else math.nan,
            bounds_g[1] / bounds_r[0] if bounds_r[0] > 0 else math.inf,
        )
    ci: tuple[float, float] | None
    if boot_ci is not None and min(k_g, k_r) >= FEW_ERRORS:
        ci = boot_ci
    elif boot_ci is not None and bounds_ci is not None:
        ci = (min(boot_ci[0], bounds_ci[0]), max(boot_ci[1], bounds_ci[1]))
    else:
        ci = bounds_ci
    return ratio_verdict(ci, tolerance)
