"""1:1 comparisons of every photo with every other, counted blockwise: the score matrix never exists.

Every measure of the biometric checks (thresholds fixed to a target false-match rate, per-group
FMR and FNMR, the impostor matrix, DET curves, score distributions, the two-way bootstrap) needs
only these counts, which :func:`compare_all_pairs` gathers block by block of the score matrix:

- impostor and genuine comparisons per probe group x reference group (exact);
- score histograms per group pair, impostor and genuine (``bins`` bins; resolution ``edges[1] - edges[0]``);
- every genuine comparison with its score (there are few: same-person pairs);
- every impostor comparison scoring at or above ``kept_from``: enough of the top of the impostor
  distribution to fix each target FMR's threshold and count false matches at it *exactly*, and
  all of them at or above the lowest stated threshold while they fit in ``max_kept``;
- exact impostor counts per group pair at each stated threshold.

A comparison is ordered: photo ``i`` as probe against photo ``j`` as reference, ``i != j``. The
embedding metrics are symmetric, so each unordered pair is scored once and counted in both
orders. A photo without a template (no face found: failure to acquire) still takes part in every
comparison, as one that scores below every threshold (NIST's convention), so its genuine
comparisons are misses and its impostor comparisons stay in the denominators.

Why long: the per-block kernel, the merge of block results (shared by the serial and the Dask
paths), and the score-list constructor for ``scores:FILE.csv`` belong together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .errors import ConformanceError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["METRICS", "PairCounts", "PairList", "compare_all_pairs", "compare_listed", "metric_range", "score_auc"]

METRICS = ("cosine", "l2")
DEFAULT_BLOCK = 2048
DEFAULT_BINS = 16384
# Kept impostor comparisons at most (12 bytes each): about 120 MB.
DEFAULT_MAX_KEPT = 10_000_000
# Histograms (impostor and genuine, int64) at most this many cells each: 256 MB.
_MAX_HIST_CELLS = 32_000_000


@dataclass(frozen=True)
class PairList:
    """Comparisons as columns: probe photo index, reference photo index, score (-inf: failed)."""

    probe: npt.NDArray[np.int64]
    reference: npt.NDArray[np.int64]
    score: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.probe.size)

    @staticmethod
    def empty() -> PairList:
        import numpy as np

        return PairList(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))

    @staticmethod
    def concat(parts: Sequence[PairList]) -> PairList:
        import numpy as np

        if not parts:
            return PairList.empty()
        return PairList(
            np.concatenate([p.probe for p in parts]),
            np.concatenate([p.reference for p in parts]),
            np.concatenate([p.score for p in parts]),
        )

    def take(self, mask: npt.NDArray[np.bool_]) -> PairList:
        return PairList(self.probe[mask], self.reference[mask], self.score[mask])


@dataclass(frozen=True)
class PairCounts:
    """What the biometric checks read: counts of 1:1 comparisons by group pair, and the pairs that matter.

    Groups are coded ``0..G-1`` (names in ``groups``), subjects ``0..S-1``; arrays of shape
    ``(G, G)`` are indexed ``[probe group, reference group]``.

    ``design`` is ``all_pairs`` (every photo against every other: impostor comparisons between two
    people number photos x photos, which the bootstrap uses) or ``listed`` (the comparisons a
    scores file lists: ``kept`` holds every impostor comparison, ``kept_from`` is -inf).
    ``pool`` says which impostor comparisons target FMRs were calibrated on (``all``,
    ``same_group``, or a group name: that group's impostor comparisons as probe); ``same_group``
    whether impostors were restricted to same-group pairs (demographically matched).
    ``dropped_stated`` are stated thresholds whose false matches did not fit in ``max_kept``:
    their counts are exact (``stated_counts``) but their pairs are not kept.
    """

    groups: tuple[str, ...]
    subjects: tuple[str, ...]
    photo_group: npt.NDArray[np.int64]
    photo_subject: npt.NDArray[np.int64]
    acquired: npt.NDArray[np.bool_]
    metric: str
    design: str
    same_group: bool
    pool: str
    impostor_comparisons: npt.NDArray[np.int64]
    genuine_comparisons: npt.NDArray[np.int64]
    edges: npt.NDArray[np.float64]
    impostor_hist: npt.NDArray[np.int64]
    genuine_hist: npt.NDArray[np.int64]
    genuine: PairList
    kept: PairList
    kept_from: float
    stated: tuple[float, ...]
    stated_counts: npt.NDArray[np.int64]
    dropped_stated: tuple[float, ...] = ()
    block: int = 0
    engine: str = "numpy"
    # Impostor and genuine comparisons that have a score (both photos have a template, the pair is
    # listed, the comparison did not fail), per group pair; None: all of them. The rest are lost to
    # failures to acquire or to compare: counted below every threshold, never able to help a pass.
    scored_impostor: npt.NDArray[np.int64] | None = None
    scored_genuine: npt.NDArray[np.int64] | None = None
    # Listed pairs per group pair (``listed`` design): how complete a scores file is against every
    # ordered pair of the manifest's photos. None: every pair was compared.
    listed_impostor: npt.NDArray[np.int64] | None = None
    listed_genuine: npt.NDArray[np.int64] | None = None
    # ``all``: every ordered pair of the manifest is in the design (a pair a scores file leaves out is
    # a failure to compare); ``sample``: the listed pairs are the design (declared by the user).
    pairs: str = "all"
    # Distinct impostor comparisons with a score (unordered photo pairs) in the calibration pool, and
    # distinct people-pairs behind them: what a target FMR's support is counted in.
    pool_distinct: int = -1
    pool_people_pairs: int = -1
    # The dtype the scores were compared in: thresholds are nudged by one unit in its last place.
    score_dtype: str = "float32"

    @property
    def comparisons(self) -> int:
        return int(self.impostor_comparisons.sum() + self.genuine_comparisons.sum())

    @property
    def bin_width(self) -> float:
        return float(self.edges[1] - self.edges[0])

    def lost_impostor(self) -> npt.NDArray[np.int64]:
        """Impostor comparisons without a score, per group pair (failures to acquire or to compare)."""
        import numpy as np

        if self.scored_impostor is None:
            return np.zeros_like(self.impostor_comparisons)
        return self.impostor_comparisons - self.scored_impostor

    def lost_genuine(self) -> npt.NDArray[np.int64]:
        """Genuine comparisons without a score, per group pair (each a miss)."""
        import numpy as np

        if self.scored_genuine is None:
            return np.zeros_like(self.genuine_comparisons)
        return self.genuine_comparisons - self.scored_genuine

    def allowed(self) -> npt.NDArray[np.bool_]:
        """Which (probe group, reference group) cells hold impostor comparisons that count."""
        import numpy as np

        size = len(self.groups)
        return np.eye(size, dtype=bool) if self.same_group else np.ones((size, size), dtype=bool)

    def pool_cells(self) -> npt.NDArray[np.bool_]:
        """The group-pair cells of the impostor comparisons target FMRs are calibrated on."""
        cells = self.allowed().copy()
        if self.pool not in ("all", "same_group"):
            row = self.groups.index(self.pool)
            cells[[g for g in range(len(self.groups)) if g != row], :] = False
        return cells


def metric_range(metric: str, norms_max: float) -> tuple[float, float]:
    """The interval every score of ``metric`` lies in: cosine [-1, 1]; negative L2 [-2 max|x|, 0]."""
    if metric == "cosine":
        return -1.0, 1.0
    return -2.0 * max(norms_max, 1e-12), 0.0


@dataclass(frozen=True)
class _Setup:
    """What each block needs besides its two embedding slices (picklable, for Dask workers)."""

    metric: str
    size: int  # groups
    lo: float
    hi: float
    bins: int
    stated: tuple[float, ...]
    keep_quota: int  # kept pool comparisons needed (k_max + 1 of the largest target)
    pool_cells: npt.NDArray[np.bool_]
    max_kept: int


@dataclass(frozen=True)
class _Part:
    """A block's (or a merge of blocks') counts."""

    impostor_hist: npt.NDArray[np.int64]
    genuine_hist: npt.NDArray[np.int64]
    stated_counts: npt.NDArray[np.int64]
    genuine: PairList
    kept: PairList
    kept_from: float
    dropped: tuple[float, ...]


def _scores(
    metric: str,
    a: npt.NDArray[np.float32],
    b: npt.NDArray[np.float32],
) -> npt.NDArray[np.float32]:
    import numpy as np

    product: npt.NDArray[np.float32] = np.matmul(a, b.T)
    if metric == "cosine":
        return product  # rows are unit vectors
    squares: npt.NDArray[np.float32] = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * product
    np.maximum(squares, 0.0, out=squares)
    np.sqrt(squares, out=squares)
    np.negative(squares, out=squares)
    return squares


def _bin_of(setup: _Setup, values: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    import numpy as np

    scale = setup.bins / (setup.hi - setup.lo)
    # In float64 whatever the scores' type, so a score falls in the same bin on every path.
    index = np.floor((values.astype(np.float64) - setup.lo) * scale).astype(np.int64)
    np.clip(index, 0, setup.bins - 1, out=index)
    return index


def _at_least(t: float, dtype: Any) -> Any:
    """The smallest value of ``dtype`` at or above ``t``: ``x >= t`` then holds in ``dtype`` exactly as in float64."""
    import numpy as np

    value = np.asarray(t).astype(dtype)
    if float(value) < t:
        value = np.nextafter(value, np.asarray(np.inf, dtype=dtype))
    return value


def _prune(
    setup: _Setup, kept: PairList, group: npt.NDArray[np.int64], dropped: tuple[float, ...]
) -> tuple[PairList, float, tuple[float, ...]]:
    """Keep the pool's top ``keep_quota`` and everything at or above the lowest stated threshold still kept."""
    import numpy as np

    stated = [t for t in setup.stated if t not in dropped]
    while True:
        cells = setup.pool_cells[group[kept.probe], group[kept.reference]]
        pool_scores = kept.score[cells]
        need = setup.keep_quota
        kth = -math.inf
        if need > 0 and pool_scores.size > need:
            kth = float(np.partition(pool_scores, pool_scores.size - need)[pool_scores.size - need])
        elif need == 0:
            kth = math.inf
        cut = min(kth, min(stated, default=math.inf))
        if cut > -math.inf:
            kept = kept.take(kept.score >= cut)
        if len(kept) <= setup.max_kept or not stated:
            break
        # The lowest stated threshold's false matches do not fit: count it, but keep no pairs for it.
        dropped = (*dropped, min(stated))
        stated.remove(min(stated))
    if len(kept) > setup.max_kept:
        raise ConformanceError(
            f"fixing the target FMR needs the top {setup.keep_quota:,} impostor scores, more than max_kept "
            f"{setup.max_kept:,}: choose a smaller target FMR, or raise max_kept"
        )
    return kept, cut, dropped


def _block(
    setup: _Setup,
    a: npt.NDArray[np.float32],
    b: npt.NDArray[np.float32],
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    group: npt.NDArray[np.int64],
    subject: npt.NDArray[np.int64],
    diagonal: bool,
    cut: float = -math.inf,
) -> _Part:
    """One block of the score matrix: rows ``rows`` against columns ``cols`` (photo indices).

    Off the diagonal, each score counts in both orders (the metrics are symmetric).
    """
    import numpy as np

    scores = _scores(setup.metric, a, b)
    g_rows, g_cols = group[rows], group[cols]
    s_rows, s_cols = subject[rows], subject[cols]
    genuine = PairList.empty()
    valid: npt.NDArray[np.bool_] | None = None
    # Photos are sorted by subject: only blocks whose subject ranges overlap hold same-person pairs.
    if max(s_rows[0], s_cols[0]) <= min(s_rows[-1], s_cols[-1]):
        same = s_rows[:, None] == s_cols[None, :]
        if diagonal:
            np.fill_diagonal(same, False)
        i, j = np.nonzero(same)
        genuine = PairList(rows[i], cols[j], scores[i, j].astype(np.float64))
        if not diagonal:
            genuine = PairList.concat([genuine, PairList(genuine.reference, genuine.probe, genuine.score)])
        if diagonal:
            np.fill_diagonal(same, True)
        valid = ~same
    elif diagonal:  # pragma: no cover - a diagonal block always shares its subjects
        valid = ~np.eye(scores.shape[0], dtype=bool)

    size, bins = setup.size, setup.bins
    pair_code = g_rows[:, None] * size + g_cols[None, :]
    index = _bin_of(setup, scores)
    key = pair_code * bins + index
    impostor_hist = np.bincount((key[valid] if valid is not None else key).ravel(), minlength=size * size * bins)
    impostor_hist = impostor_hist.reshape(size, size, bins)
    genuine_hist = np.zeros((size, size, bins), dtype=np.int64)
    if len(genuine):
        gkey = (group[genuine.probe] * size + group[genuine.reference]) * bins + _bin_of(setup, genuine.score)
        genuine_hist = np.bincount(gkey, minlength=size * size * bins).reshape(size, size, bins)
    stated_counts = np.zeros((len(setup.stated), size, size), dtype=np.int64)
    for k, t in enumerate(setup.stated):
        above = scores >= _at_least(t, scores.dtype)
        if valid is not None:
            above &= valid
        stated_counts[k] = np.bincount(pair_code[above], minlength=size * size).reshape(size, size)
    above = scores >= cut if cut > -math.inf else np.ones(scores.shape, dtype=bool)
    if valid is not None:
        above &= valid
    i, j = np.nonzero(above)
    kept = PairList(rows[i], cols[j], scores[i, j].astype(np.float64))
    if not diagonal:
        impostor_hist = impostor_hist + impostor_hist.transpose(1, 0, 2)
        stated_counts = stated_counts + stated_counts.transpose(0, 2, 1)
        kept = PairList.concat([kept, PairList(kept.reference, kept.probe, kept.score)])
    kept, kept_from, dropped = _prune(setup, kept, group, ())
    return _Part(impostor_hist, genuine_hist, stated_counts, genuine, kept, kept_from, dropped)


def _merge(setup: _Setup, group: npt.NDArray[np.int64], parts: Sequence[_Part]) -> _Part:
    dropped = tuple(sorted({t for p in parts for t in p.dropped}))
    kept, kept_from, dropped = _prune(setup, PairList.concat([p.kept for p in parts]), group, dropped)
    return _Part(
        sum((p.impostor_hist for p in parts[1:]), parts[0].impostor_hist),
        sum((p.genuine_hist for p in parts[1:]), parts[0].genuine_hist),
        sum((p.stated_counts for p in parts[1:]), parts[0].stated_counts),
        PairList.concat([p.genuine for p in parts]),
        kept,
        # A part that kept everything (-inf) merged with one that cut: what is complete is above the highest cut.
        max([kept_from, *(p.kept_from for p in parts)]),
        dropped,
    )


def _comparison_counts(
    group: npt.NDArray[np.int64], subject: npt.NDArray[np.int64], size: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Impostor and genuine comparisons per group pair when every photo meets every other (exact)."""
    import numpy as np

    per_group = np.bincount(group, minlength=size).astype(np.int64)
    total = np.outer(per_group, per_group)
    # Same-subject pairs, self pairs included, by group pair: sum over subjects of n_s,g * n_s,h.
    subjects = int(subject.max()) + 1 if subject.size else 0
    by_subject = np.zeros((subjects, size), dtype=np.int64)
    np.add.at(by_subject, (subject, group), 1)
    same = by_subject.T @ by_subject
    genuine = same - np.diag(per_group)
    return total - same, genuine


# Groups at most: the per-group-pair histograms, the impostor matrix and the bootstrap's per-group
# arrays grow with the square of the groups (300 groups took 3.4 GiB, 600 did not finish).
MAX_GROUPS = 200


def check_groups(size: int) -> None:
    """Refuse more groups than the 1:1 measures can hold, saying what to do instead."""
    if size > MAX_GROUPS:
        raise ConformanceError(
            f"{size:,} groups: the 1:1 measures compare every group with every other (histograms, impostor "
            f"matrix, inequity measures grow with the square of the groups), at most {MAX_GROUPS}; group by fewer "
            "or coarser columns (e.g. age bands instead of ages), or audit subsets of the groups in separate runs"
        )


def _distinct(
    group: npt.NDArray[np.int64],
    subject: npt.NDArray[np.int64],
    ok: npt.NDArray[np.bool_],
    pool_cells: npt.NDArray[np.bool_],
) -> tuple[int, int]:
    """Distinct scored impostor comparisons (unordered photo pairs) and people-pairs in the pool (all pairs).

    A pair counts when either order lies in the pool. People are matched by the groups of their
    photos with a template; people whose photos fall in the same set of groups are counted together.
    """
    import numpy as np

    size = pool_cells.shape[0]
    either = pool_cells | pool_cells.T
    g, s = group[ok], subject[ok]
    if g.size == 0:
        return 0, 0
    impostors, _ = _comparison_counts(g, s, size)
    distinct = int((impostors * either).sum()) // 2  # each unordered pair sits in both orders
    people = np.zeros((int(s.max()) + 1, size), dtype=bool)
    people[s, g] = True
    people = people[people.any(axis=1)]
    patterns, members = np.unique(people, axis=0, return_counts=True)
    # Two membership patterns meet when some group of one and some group of the other form a pool cell.
    meet = (patterns.astype(np.int64) @ either.astype(np.int64) @ patterns.T.astype(np.int64)) > 0
    both = np.outer(members, members)
    pairs = (both * meet).sum() - (members * np.diag(meet)).sum()
    return distinct, int(pairs) // 2


def _setup_for(
    *,
    metric: str,
    size: int,
    lo: float,
    hi: float,
    bins: int | None,
    stated: Sequence[float],
    targets: Sequence[float],
    impostors: npt.NDArray[np.int64],
    pool_cells: npt.NDArray[np.bool_],
    max_kept: int,
) -> _Setup:
    if bins is None:
        bins = max(256, min(DEFAULT_BINS, _MAX_HIST_CELLS // max(1, size * size)))
    pool_total = int(impostors[pool_cells].sum())
    quota = math.floor(max(targets) * pool_total) + 1 if targets else 0
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    return _Setup(metric, size, lo, hi, bins, tuple(sorted(set(stated))), quota, pool_cells, max_kept)


def _pool_cells(size: int, same_group: bool, pool: str, groups: Sequence[str]) -> npt.NDArray[np.bool_]:
    import numpy as np

    cells = np.eye(size, dtype=bool) if same_group else np.ones((size, size), dtype=bool)
    if pool not in ("all", "same_group"):
        if pool not in groups:
            raise ConformanceError(f"the calibration group {pool!r} is not in the data (groups: {', '.join(groups)})")
        row = list(groups).index(pool)
        cells[[g for g in range(size) if g != row], :] = False
    return cells


def compare_all_pairs(
    embeddings: npt.ArrayLike,
    *,
    photo_group: npt.ArrayLike,
    photo_subject: npt.ArrayLike,
    acquired: npt.ArrayLike,
    groups: Sequence[str],
    subjects: Sequence[str],
    metric: str = "cosine",
    targets: Sequence[float] = (),
    stated: Sequence[float] = (),
    same_group: bool = False,
    pool: str = "all",
    block: int = DEFAULT_BLOCK,
    bins: int | None = None,
    max_kept: int = DEFAULT_MAX_KEPT,
    dask: bool | str = False,
) -> PairCounts:
    """Compare every photo with every other by ``metric`` and count what the biometric checks need.

    Parameters
    ----------
    embeddings
        One row per *acquired* photo, in photo order (``acquired`` says which photos have one).
    photo_group, photo_subject
        Group and subject code of every photo (``0..G-1``, ``0..S-1``).
    acquired
        Whether each photo has a template; one without takes part as a comparison below every threshold.
    groups, subjects
        Names of the codes.
    metric
        ``cosine`` (rows are normalised here) or ``l2`` (negative Euclidean distance). Higher is more similar.
    targets
        Target FMRs: enough of the top of the pool's impostor scores is kept to fix each one's threshold exactly.
    stated
        Thresholds whose impostor counts are made exact per group pair (and whose pairs are kept while they fit).
    same_group, pool
        Impostors restricted to same-group pairs; the pool the targets are calibrated on (``all`` or a group name).
    block
        Rows and columns of one block of the score matrix (memory ~ 5 x block^2 x 4 bytes).
    bins
        Histogram bins over the metric's range (default 16,384, fewer with many groups).
    max_kept
        Impostor comparisons kept at most (12 bytes each).
    dask
        ``False``: this process, blocks one after another. ``True``: the blocks as Dask tasks on the
        default scheduler (a ``distributed.Client`` if one is active); a string names a Dask scheduler
        (``threads``, ``processes``, ``synchronous``).

    Returns
    -------
    PairCounts
        The same counts whichever path computed them.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> counts = compare_all_pairs(x, photo_group=[0, 0, 1, 1], photo_subject=[0, 0, 1, 1],
    ...                            acquired=[True] * 4, groups=["a", "b"], subjects=["s", "t"])
    >>> counts.genuine_comparisons.tolist(), counts.impostor_comparisons.tolist()
    ([[2, 0], [0, 2]], [[0, 4], [4, 0]])
    """
    import numpy as np

    if metric not in METRICS:
        raise ConformanceError(f"metric {metric!r}: use cosine or l2")
    group = np.asarray(photo_group, dtype=np.int64)
    subject = np.asarray(photo_subject, dtype=np.int64)
    ok = np.asarray(acquired, dtype=bool)
    size = len(groups)
    check_groups(size)
    x = as_float32_rows(embeddings, metric)
    if x.ndim != 2 or x.shape[0] != int(ok.sum()):
        raise ValueError(f"embeddings must be (acquired photos = {int(ok.sum())}) x d, got shape {x.shape}")
    if not (group.shape == subject.shape == ok.shape):
        raise ValueError("photo_group, photo_subject and acquired must have one entry per photo")
    norms = np.linalg.norm(x, axis=1) if x.size else np.zeros(0, np.float32)
    lo, hi = metric_range(metric, float(norms.max()) if norms.size else 1.0)
    impostors, genuines = _comparison_counts(group, subject, size)
    scored_impostor, scored_genuine = _comparison_counts(group[ok], subject[ok], size)
    cells = _pool_cells(size, same_group, pool, groups)
    distinct, people_pairs = _distinct(group, subject, ok, cells)
    setup = _setup_for(
        metric=metric,
        size=size,
        lo=lo,
        hi=hi,
        bins=bins,
        stated=stated,
        targets=targets,
        impostors=impostors,
        pool_cells=cells,
        max_kept=max_kept,
    )
    photo_index = np.flatnonzero(ok)
    order = np.argsort(subject[photo_index], kind="stable")
    x, photo_index = np.ascontiguousarray(x[order]), photo_index[order]
    starts = list(range(0, photo_index.size, block))
    tasks = [(i, j) for i in range(len(starts)) for j in range(i, len(starts))]

    def part_of(i: int, j: int, cut: float = -math.inf) -> _Part:
        a = slice(starts[i], starts[i] + block)
        b = slice(starts[j], starts[j] + block)
        return _block(setup, x[a], x[b], photo_index[a], photo_index[b], group, subject, i == j, cut)

    empty = _Part(
        np.zeros((size, size, setup.bins), np.int64),
        np.zeros((size, size, setup.bins), np.int64),
        np.zeros((len(setup.stated), size, size), np.int64),
        PairList.empty(),
        PairList.empty(),
        -math.inf,
        (),
    )
    if not tasks:
        total = empty
    elif dask is False:
        total = empty
        for i, j in tasks:
            # The running cut skips pairs below what is already known to be kept: less to extract.
            total = _merge(setup, group, [total, part_of(i, j, total.kept_from)])
    else:
        total = _dask_total(setup, x, photo_index, group, subject, starts, block, tasks, dask)
    # Comparisons involving a photo without a template: below every threshold, in the lowest bin's place.
    missing = ~ok
    if missing.any():
        total = _add_failed(total, setup, group, subject, ok)
    genuine = total.genuine
    return PairCounts(
        groups=tuple(groups),
        subjects=tuple(subjects),
        photo_group=group,
        photo_subject=subject,
        acquired=ok,
        metric=metric,
        design="all_pairs",
        same_group=same_group,
        pool=pool,
        impostor_comparisons=impostors,
        genuine_comparisons=genuines,
        edges=np.linspace(setup.lo, setup.hi, setup.bins + 1),
        impostor_hist=total.impostor_hist,
        genuine_hist=total.genuine_hist,
        genuine=genuine,
        kept=total.kept,
        kept_from=total.kept_from,
        stated=setup.stated,
        stated_counts=total.stated_counts,
        dropped_stated=total.dropped,
        block=block,
        engine="dask" if dask is not False else "numpy",
        scored_impostor=scored_impostor,
        scored_genuine=scored_genuine,
        pool_distinct=distinct,
        pool_people_pairs=people_pairs,
        score_dtype="float32",
    )


def as_float32_rows(
    embeddings: npt.ArrayLike, metric: str, *, what: str = "embeddings", names: Sequence[str] | None = None
) -> npt.NDArray[np.float32]:
    """Embeddings as the float32 rows the blocks compare, checked to be finite after the cast.

    Cosine rows are normalised in float64 first (each row divided by its largest value, then by its
    norm, so no square overflows or underflows): a cosine is the same for a row times 1e20 or 1e-25,
    and it must stay so in float32. A row that is not finite in float32 is refused, naming the row.
    """
    import numpy as np

    x = np.asarray(embeddings)
    if x.ndim != 2:
        return np.asarray(x, dtype=np.float32)
    if metric == "cosine" and x.size:
        wide = np.asarray(x, dtype=np.float64)
        largest = np.abs(wide).max(axis=1)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            wide = wide / np.where(largest > 0, largest, 1.0)[:, None]
            norms = np.sqrt((wide * wide).sum(axis=1))
            wide = wide / np.where(norms > 0, norms, 1.0)[:, None]
        out = wide.astype(np.float32)
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.asarray(x, dtype=np.float32)
            squares = (out * out).sum(axis=1) if out.size else np.zeros(0, np.float32)
    bad = ~np.isfinite(out).all(axis=1) if out.size else np.zeros(0, dtype=bool)
    if metric != "cosine" and out.size:
        # Negative L2 distances square the values in float32: a row whose squares overflow is lost too.
        bad |= ~np.isfinite(squares)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        photo = f", photo {names[i]!r}" if names is not None and i < len(names) else ""
        raise ConformanceError(
            f"{what} row {i}{photo} ({int(bad.sum()):,} such rows) is not finite in float32, in which the kit compares "
            "embeddings (largest magnitude about 3.4e38, and 1.8e19 for metric=l2, whose distances square the "
            "values): divide the whole array by one constant (cosine is unchanged, L2 distances scale with it)"
        )
    return np.ascontiguousarray(out, dtype=np.float32)


def _add_failed(
    total: _Part, setup: _Setup, group: npt.NDArray[np.int64], subject: npt.NDArray[np.int64], ok: npt.NDArray[np.bool_]
) -> _Part:
    """Genuine comparisons of photos without a template, each a miss (score -inf)."""
    import numpy as np

    by_subject: dict[int, list[int]] = {}
    for index in range(subject.size):
        by_subject.setdefault(int(subject[index]), []).append(index)
    probe, reference = [], []
    for photos in by_subject.values():
        if len(photos) < 2 or all(ok[p] for p in photos):
            continue
        for p in photos:
            for r in photos:
                if p != r and not (ok[p] and ok[r]):
                    probe.append(p)
                    reference.append(r)
    failed = PairList(
        np.asarray(probe, dtype=np.int64), np.asarray(reference, dtype=np.int64), np.full(len(probe), -np.inf)
    )
    return replace(total, genuine=PairList.concat([total.genuine, failed]))


def _dask_total(
    setup: _Setup,
    x: npt.NDArray[np.float32],
    photo_index: npt.NDArray[np.int64],
    group: npt.NDArray[np.int64],
    subject: npt.NDArray[np.int64],
    starts: list[int],
    block: int,
    tasks: list[tuple[int, int]],
    scheduler: bool | str,
) -> _Part:
    """The blocks as Dask tasks over a dask.array of the embeddings, merged in a tree."""
    try:
        import dask.array as da
        from dask.base import compute
        from dask.delayed import delayed
    except ImportError:
        raise ConformanceError('the Dask path needs the dask extra: pip install "conformance[dask]"') from None
    chunks = da.from_array(x, chunks=(block, x.shape[1])).to_delayed().ravel()
    index_chunks = [photo_index[s : s + block] for s in starts]
    block_task = delayed(_block, pure=True)
    merge_task = delayed(_merge, pure=True)
    # Shared once in the graph, not copied into every task.
    shared_setup, shared_group, shared_subject = (delayed(v, pure=True) for v in (setup, group, subject))
    level = [
        block_task(
            shared_setup, chunks[i], chunks[j], index_chunks[i], index_chunks[j], shared_group, shared_subject, i == j
        )
        for i, j in tasks
    ]
    while len(level) > 1:  # a tree of merges: no one task holds every block's result
        level = [merge_task(shared_setup, shared_group, level[k : k + 4]) for k in range(0, len(level), 4)]
    kwargs: dict[str, Any] = {} if scheduler is True else {"scheduler": scheduler}
    (total,) = compute(level[0], **kwargs)
    result: _Part = total
    return result


def compare_listed(
    probe: npt.ArrayLike,
    reference: npt.ArrayLike,
    score: npt.ArrayLike,
    *,
    photo_group: npt.ArrayLike,
    photo_subject: npt.ArrayLike,
    acquired: npt.ArrayLike,
    groups: Sequence[str],
    subjects: Sequence[str],
    stated: Sequence[float] = (),
    same_group: bool = False,
    pool: str = "all",
    bins: int | None = None,
    pairs: str = "all",
) -> PairCounts:
    """The same counts from a list of comparisons (``scores:FILE.csv``): every one is kept.

    ``score`` is ``-inf`` (or nan) for a comparison that failed; it counts below every threshold.
    ``pairs="all"`` (the default): the design is every ordered pair of the photos, and a pair the list
    leaves out counts as a failed comparison (below every threshold, a failure to compare of its
    group), as a photo without a template does. ``pairs="sample"``: the listed pairs are the design
    (a sample drawn without looking at scores); only failed scores are failures to compare.
    """
    import numpy as np

    if pairs not in ("all", "sample"):
        raise ConformanceError(f"pairs={pairs!r}: use all (every ordered pair is expected) or sample")
    p = np.asarray(probe, dtype=np.int64)
    r = np.asarray(reference, dtype=np.int64)
    s = np.asarray(score, dtype=np.float64)
    s = np.where(np.isnan(s), -np.inf, s)
    group = np.asarray(photo_group, dtype=np.int64)
    subject = np.asarray(photo_subject, dtype=np.int64)
    size = len(groups)
    check_groups(size)
    finite = s[np.isfinite(s)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    # The top edge must hold the highest score: widen by a hair so it falls inside the last bin.
    hi = hi + max(abs(hi), 1.0) * 1e-9
    if not hi > lo or hi - lo < abs(hi) * 1e-12:
        hi = lo + max(abs(lo), 1.0) * 1e-9
    genuine_mask = subject[p] == subject[r]
    gp, gr = group[p], group[r]

    def cells(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        return np.bincount((gp * size + gr)[mask], minlength=size * size).reshape(size, size).astype(np.int64)

    listed_impostor, listed_genuine = cells(~genuine_mask), cells(genuine_mask)
    scored = np.isfinite(s)
    scored_impostor, scored_genuine = cells(~genuine_mask & scored), cells(genuine_mask & scored)
    listed_pairs = PairList(p, r, s)
    genuine_pairs = listed_pairs.take(genuine_mask)
    if pairs == "all":
        impostors, genuines = _comparison_counts(group, subject, size)
        genuine_pairs = PairList.concat(
            [genuine_pairs, _unlisted_genuine(group.size, subject, p[genuine_mask], r[genuine_mask])]
        )
    else:
        impostors, genuines = listed_impostor, listed_genuine
    pool_cells = _pool_cells(size, same_group, pool, groups)
    setup = _setup_for(
        metric="listed",
        size=size,
        lo=lo,
        hi=hi,
        bins=bins,
        stated=stated,
        targets=(),
        impostors=impostors,
        pool_cells=pool_cells,
        max_kept=max(DEFAULT_MAX_KEPT, p.size),
    )
    size_bins = size * size * setup.bins

    def hist(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
        ok = mask & scored
        key = (gp[ok] * size + gr[ok]) * setup.bins + _bin_of(setup, s[ok])
        return np.bincount(key, minlength=size_bins).reshape(size, size, setup.bins)

    stated_counts = np.zeros((len(setup.stated), size, size), dtype=np.int64)
    for k, t in enumerate(setup.stated):
        above = ~genuine_mask & (s >= t)
        stated_counts[k] = np.bincount((gp * size + gr)[above], minlength=size * size).reshape(size, size)
    # Distinct scored impostor comparisons in the pool: a pair listed in both orders is one comparison.
    either = pool_cells | pool_cells.T
    in_pool = ~genuine_mask & scored & either[gp, gr]
    n = max(1, group.size)
    low, high = np.minimum(p[in_pool], r[in_pool]), np.maximum(p[in_pool], r[in_pool])
    distinct = _distinct_count(low * n + high)
    people = max(1, len(subjects))
    a, b = subject[low], subject[high]
    people_pairs = _distinct_count(np.minimum(a, b) * people + np.maximum(a, b))
    return PairCounts(
        groups=tuple(groups),
        subjects=tuple(subjects),
        photo_group=group,
        photo_subject=subject,
        acquired=np.asarray(acquired, dtype=bool),
        metric="listed",
        design="listed",
        same_group=same_group,
        pool=pool,
        impostor_comparisons=impostors,
        genuine_comparisons=genuines,
        edges=np.linspace(setup.lo, setup.hi, setup.bins + 1),
        impostor_hist=hist(~genuine_mask),
        genuine_hist=hist(genuine_mask),
        genuine=genuine_pairs,
        kept=listed_pairs.take(~genuine_mask),
        kept_from=-math.inf,
        stated=setup.stated,
        stated_counts=stated_counts,
        scored_impostor=scored_impostor,
        scored_genuine=scored_genuine,
        listed_impostor=listed_impostor,
        listed_genuine=listed_genuine,
        pairs=pairs,
        pool_distinct=distinct,
        pool_people_pairs=people_pairs,
        score_dtype="float64",
    )


def _distinct_count(keys: npt.NDArray[np.int64]) -> int:
    """How many distinct values ``keys`` holds: sorted, then counted where neighbours differ.

    The same count as ``np.unique(keys).size``; numpy 2.4's hash-based ``unique`` took about 100 times
    as long on a million keys (benchmarks/one_to_one_speed.py), most of a listed 1:1 evaluation's time.
    """
    import numpy as np

    if keys.size == 0:
        return 0
    ordered = np.sort(keys)
    return 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1]))


def _unlisted_genuine(
    photos: int, subject: npt.NDArray[np.int64], probe: npt.NDArray[np.int64], reference: npt.NDArray[np.int64]
) -> PairList:
    """Genuine ordered pairs of the manifest that a list leaves out, each a failed comparison (score -inf)."""
    import numpy as np

    order = np.argsort(subject, kind="stable")
    bounds = np.flatnonzero(np.diff(subject[order])) + 1
    listed = set((probe * photos + reference).tolist())
    out_p: list[int] = []
    out_r: list[int] = []
    for members in np.split(order, bounds):
        if members.size < 2:
            continue
        for i in members.tolist():
            for j in members.tolist():
                if i != j and i * photos + j not in listed:
                    out_p.append(i)
                    out_r.append(j)
    return PairList(np.asarray(out_p, dtype=np.int64), np.asarray(out_r, dtype=np.int64), np.full(len(out_p), -np.inf))


def score_auc(counts: PairCounts) -> float | None:
    """The chance a genuine comparison scores above an impostor one (ties count half), from the histograms.

    Scored comparisons only, over the counted impostor cells; None without both kinds. Within a
    histogram bin the two kinds count as tied, so this is the AUC to the bins' resolution. Below
    0.5, genuine pairs score *lower* than impostors: the scores run the other way (a distance).
    """
    import numpy as np

    allowed = counts.allowed()
    imp = counts.impostor_hist[allowed].sum(axis=0).astype(np.float64)
    gen = counts.genuine_hist.sum(axis=(0, 1)).astype(np.float64)
    n_imp, n_gen = imp.sum(), gen.sum()
    if n_imp == 0 or n_gen == 0:
        return None
    below = np.concatenate([[0.0], np.cumsum(imp)[:-1]])
    return float((gen * (below + 0.5 * imp)).sum() / (n_imp * n_gen))
