"""Face-matching checks: false matches and false non-matches per group, at each similarity threshold.

The input is :class:`Searches`, one row per 1:N search (or per 1:1 pair), as columns. Each check
returns one :class:`~conformance.results.CheckResult` per threshold: per group the rate with an
exact (Clopper-Pearson) interval, each group's share of all errors against its share of the units
searched, the gap and the rate ratio to the reference group, the max/min rate ratio across groups
(as NIST's demographic reports give it), warnings where a figure rests on few errors, and, on the
entry whose threshold binds the verdict, the same rates over a fine grid of thresholds.

Rates, gap intervals, the comparisons (every two groups, or each against the reference, as policy
says), the verdict rule with its error rates and the minimum-subjects rule all come from the shared
mechanism in :mod:`conformance.checks._compare`; this module adds what only matching needs.

Why one module of about 600 lines: the two checks are one procedure run on either kind of error
(:func:`_check`, the threshold sweep and the max/min ratio at each threshold), and :class:`Searches` is
the columnar input both read; the rates, gaps and verdict rule are already :mod:`._compare`'s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from .. import stats
from ..matching import DEFAULT_THRESHOLDS, is_similarity
from ..matching import MATCH_MODES as MODES
from ..results import CheckResult, Comparison, GroupRate, worst
from ._compare import Units, compare_groups, error_rates

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..policy import Policy

__all__ = ["MODES", "Searches", "false_match_gap", "false_non_match_gap"]

FEW_ERRORS = stats.FEW_ERRORS  # below it a rate, a share or a ratio moves a lot with one error (one figure, in stats)
# How far below the lowest evaluated threshold the sweep starts (it never starts below the floor).
_SWEEP_BELOW = 20.0

_Kind = Literal["false_match", "false_non_match"]


@dataclass(frozen=True)
class Searches:
    """Results of 1:N searches (or 1:1 comparisons), one row per search, as columns.

    Parameters
    ----------
    probe
        Probe photo ids.
    subject
        The probe's subject code: the same code is the same person.
    group
        The probe's group label.
    mated
        Search mode: the probe's subject is enrolled in the gallery. Compare mode: the row is a
        genuine pair (same person); every other row is an impostor pair.
    best_impostor
        Highest similarity (0-100) to a gallery face of another subject; ``nan`` if none was
        returned. Compare mode: an impostor pair's similarity.
    best_mate
        Highest similarity to a gallery face of the probe's own subject; ``nan`` if none was
        returned or the probe is not mated. Compare mode: a genuine pair's similarity.
    floor
        The search threshold the results were produced with: similarities below it were not
        returned, so no rate can be evaluated below it.
    mode
        ``"search"`` (1:N) or ``"compare"`` (1:1 pairs).

    Arrays are converted to their dtypes on construction; lengths, ranges and the mode are checked.

    Examples
    --------
    >>> s = Searches(probe=("a", "b"), subject=[1, 2], group=["x", "y"], mated=[False, True],
    ...              best_impostor=[85.0, float("nan")], best_mate=[float("nan"), 99.0])
    >>> len(s)
    2
    """

    probe: tuple[str, ...]
    subject: npt.NDArray[np.int64]
    group: npt.NDArray[np.str_]
    mated: npt.NDArray[np.bool_]
    best_impostor: npt.NDArray[np.float64]
    best_mate: npt.NDArray[np.float64]
    floor: float = 0.0
    mode: str = "search"
    # Per row: whether a face was found in the probe (None: all were). A probe without one is a search
    # that returned nothing: a miss when mated (NIST's convention), counted per group as failure to acquire.
    acquired: npt.NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        import numpy as np

        # Frozen: set the converted columns through object.__setattr__, once, here.
        object.__setattr__(self, "probe", tuple(str(p) for p in self.probe))
        object.__setattr__(self, "subject", np.asarray(self.subject, dtype=np.int64))
        object.__setattr__(self, "group", np.asarray(self.group, dtype=str))
        object.__setattr__(self, "mated", np.asarray(self.mated, dtype=np.bool_))
        object.__setattr__(self, "best_impostor", np.asarray(self.best_impostor, dtype=np.float64))
        object.__setattr__(self, "best_mate", np.asarray(self.best_mate, dtype=np.float64))
        object.__setattr__(self, "floor", float(self.floor))
        if self.acquired is not None:
            object.__setattr__(self, "acquired", np.asarray(self.acquired, dtype=np.bool_))
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, got {self.mode!r}")
        n = len(self.probe)
        columns = ("subject", "group", "mated", "best_impostor", "best_mate")
        shapes = {name: getattr(self, name).shape for name in columns}
        if any(shape != (n,) for shape in shapes.values()):
            raise ValueError(f"every column must be 1-D with one entry per probe ({n}); got shapes {shapes}")
        if not 0.0 <= self.floor <= 100.0:
            raise ValueError(f"floor must be a similarity from 0 to 100, got {self.floor!r}")
        for name in ("best_impostor", "best_mate"):
            values = getattr(self, name)
            bad = ~np.isnan(values) & ((values < 0.0) | (values > 100.0))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"{name} of probe {self.probe[i]!r} is {values[i]!r}: similarities lie from 0 to 100 (nan: none returned)"
                )
        stray = ~self.mated & ~np.isnan(self.best_mate)
        if stray.any():
            i = int(np.flatnonzero(stray)[0])
            raise ValueError(
                f"probe {self.probe[i]!r} is not mated but has best_mate {self.best_mate[i]!r}; "
                "a probe whose subject is not enrolled has no mate (use nan)"
            )

    def __len__(self) -> int:
        return len(self.probe)


@dataclass(frozen=True)
class _Words:
    """How one check names its units and errors in measures, notes and extras."""

    check_id: str
    measure: str
    units: str
    errors: str
    count_label: str


def _words(kind: _Kind, mode: str) -> _Words:
    if kind == "false_match":
        if mode == "compare":
            return _Words(
                "false_match_gap",
                "impostor pairs with similarity at or above the threshold / impostor pairs",
                "impostor pairs",
                "false matches",
                "false matches",
            )
        return _Words(
            "false_match_gap",
            "non-mated probes with a face of another subject returned at or above the threshold / non-mated probes",
            "non-mated probes",
            "false matches",
            "false matches",
        )
    if mode == "compare":
        return _Words(
            "false_non_match_gap",
            "genuine pairs with similarity below the threshold / genuine pairs",
            "genuine pairs",
            "false non-matches",
            "missed",
        )
    return _Words(
        "false_non_match_gap",
        "mated probes whose own subject is not returned at or above the threshold / mated probes",
        "mated probes",
        "false non-matches",
        "missed",
    )


def _scores(searches: Searches, kind: _Kind) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Which rows count for this check, and their similarities with nan (not returned) as -inf."""
    import numpy as np

    eligible = ~searches.mated if kind == "false_match" else searches.mated
    raw = searches.best_impostor if kind == "false_match" else searches.best_mate
    # A similarity that was not returned lies below every threshold that can be evaluated.
    return eligible, np.where(np.isnan(raw), -np.inf, raw)


def _errors_at(
    kind: _Kind, eligible: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64], t: float
) -> npt.NDArray[np.bool_]:
    above = scores >= t
    return eligible & (above if kind == "false_match" else ~above)


def _thresholds(thresholds: Sequence[float], binding: float | None, floor: float) -> tuple[list[float], float]:
    if not thresholds:
        raise ValueError("no thresholds given; evaluate at one or more similarities, e.g. 80, 90, 95, 99")
    chosen = sorted({float(t) for t in thresholds})
    for t in chosen:
        if not is_similarity(t):
            raise ValueError(f"threshold {t:g} is not a similarity from 0 to 100")
        if t < floor:
            raise ValueError(
                f"threshold {t:g} is below the search floor {floor:g}: similarities under {floor:g} were not "
                f"returned, so errors at {t:g} cannot be counted; use thresholds of {floor:g} or more, "
                "or search again with a lower threshold"
            )
    if binding is None:
        return chosen, chosen[-1]
    if float(binding) not in chosen:
        raise ValueError(
            f"binding threshold {binding:g} is not among the thresholds evaluated ({', '.join(f'{t:g}' for t in chosen)})"
        )
    return chosen, float(binding)


def _grid(thresholds: Sequence[float], floor: float, step: float) -> npt.NDArray[np.float64]:
    """From max(floor, lowest threshold - 20) to 100 in ``step`` steps, plus the thresholds themselves."""
    import numpy as np

    if not step > 0:
        raise ValueError(f"sweep_step must be positive, got {step!r}")
    start = max(floor, min(thresholds) - _SWEEP_BELOW)
    count = math.floor((100.0 - start) / step + 1e-9) + 1
    # Rounded so that 60 + 0.1 * 200 is the 80 a reader asked for, not 80.00000000000001.
    grid = np.round(start + step * np.arange(count), 10)
    return np.union1d(grid, np.asarray(thresholds, dtype=np.float64))


def _sweep(
    kind: _Kind,
    eligible: npt.NDArray[np.bool_],
    scores: npt.NDArray[np.float64],
    group: npt.NDArray[np.str_],
    names: Sequence[str],
    grid: npt.NDArray[np.float64],
) -> list[dict[str, Any]]:
    """Each group's rate at every threshold of ``grid``: one sort per group, then searchsorted."""
    import numpy as np

    rates: dict[str, list[float | None]] = {}
    for name in names:
        ordered = np.sort(scores[eligible & (group == name)])
        n = ordered.size
        if n == 0:
            rates[name] = [None] * grid.size
            continue
        below = np.searchsorted(ordered, grid, side="left")  # similarities under each threshold
        errors = n - below if kind == "false_match" else below
        rates[name] = (errors / n).tolist()
    return [
        {"threshold": float(t), "groups": {name: rates[name][i] for name in names}} for i, t in enumerate(grid.tolist())
    ]


def _log_ratio(
    grp: GroupRate, ref: GroupRate, level: float, errors: str
) -> tuple[float | None, tuple[float, float] | None, str]:
    """The rate ratio group / reference with its log-method interval, or why there is none."""
    if grp.rate is None or ref.rate is None:
        return None, None, ""
    if ref.count == 0:
        return None, None, f"ratio undefined: {ref.name} has no {errors} at this threshold"
    ratio = grp.rate / ref.rate
    if grp.count == 0:
        return (
            ratio,
            None,
            f"no ratio interval: {grp.name} has no {errors}, and the log method needs at least one in each group",
        )
    from statsmodels.stats.proportion import confint_proportions_2indep

    lower, upper = confint_proportions_2indep(
        grp.count, grp.n, ref.count, ref.n, compare="ratio", method="log", alpha=1.0 - level
    )
    return ratio, (float(lower), float(upper)), ""


def _max_min(groups: dict[str, GroupRate], confidence: float, errors: str) -> dict[str, Any]:
    """Highest group rate over the lowest; with a zero lowest rate, a lower bound of the ratio instead."""
    rated = [g for g in groups.values() if g.rate is not None]
    out: dict[str, Any] = {
        "max_min_ratio": None,
        "max_min_ratio_groups": None,
        "max_min_ratio_lower_bound": None,
        "max_min_ratio_note": "",
    }
    if len(rated) < 2:
        out["max_min_ratio_note"] = "fewer than two groups with a rate: no ratio across groups"
        return out
    high = max(rated, key=lambda g: (g.rate or 0.0, g.name))
    # Among tied lowest rates the largest group has the tightest upper bound, hence the strongest statement.
    low = min(rated, key=lambda g: (g.rate or 0.0, -g.n, g.name))
    assert high.rate is not None
    assert low.rate is not None
    if high.rate == 0:
        out["max_min_ratio_note"] = f"no group has {errors} at this threshold: the max/min ratio is undefined (0/0)"
        return out
    out["max_min_ratio_groups"] = [high.name, low.name]
    if low.rate > 0:
        out["max_min_ratio"] = high.rate / low.rate
        return out
    upper = stats.proportion_interval(low.count, low.n, confidence, "clopper-pearson")[1]
    out["max_min_ratio_lower_bound"] = high.rate / upper
    out["max_min_ratio_note"] = (
        f"{low.name} has no {errors}, so the max/min ratio is undefined (division by 0); "
        f"max_min_ratio_lower_bound divides {high.name}'s rate by {low.name}'s Clopper-Pearson upper bound "
        f"{upper:.4g} ({confidence:.0%}): the ratio is at least that"
    )
    return out


def _at_threshold(
    kind: _Kind,
    searches: Searches,
    t: float,
    *,
    eligible: npt.NDArray[np.bool_],
    scores: npt.NDArray[np.float64],
    reference: str,
    policy: Policy,
    seed: int,
    probe_group: npt.NDArray[np.str_],
    probe_subject: npt.NDArray[np.int64],
) -> CheckResult:
    import numpy as np

    words = _words(kind, searches.mode)
    errors = _errors_at(kind, eligible, scores, t)
    units = Units(
        numerator=errors.astype(np.float64),
        denominator=eligible.astype(np.float64),
        cluster=searches.subject,
        group=searches.group,
    )
    tolerance = policy.tolerance_for(words.check_id)
    # Matching rates are small and often zero: exact intervals, meaningful at zero errors.
    exact = replace(policy, interval="clopper-pearson")
    groups, comparisons, compare_notes, method = compare_groups(
        units,
        photo_group=probe_group,
        photo_subject=probe_subject,
        reference=reference,
        tolerance=tolerance,
        policy=exact,
        seed=seed,
    )
    total_errors = sum(g.count for g in groups.values())
    total_units = sum(g.n for g in groups.values())
    groups = {
        name: replace(
            g,
            extra={
                "errors": g.count,
                "share_of_errors": g.count / total_errors if total_errors else None,
                "share_of_units": g.n / total_units if total_units else None,
            },
        )
        for name, g in groups.items()
    }

    ratios: list[dict[str, Any]] = []
    updated: list[Comparison] = []
    for c in comparisons:
        level = c.level if c.level is not None else policy.confidence
        ratio, ratio_ci, ratio_note = _log_ratio(groups[c.group], groups[c.reference], level, words.errors)
        ratios.append(
            {
                "group": c.group,
                "reference": c.reference,
                "ratio": ratio,
                "ci": None if ratio_ci is None else list(ratio_ci),
                "level": level,
                "method": "log method (Katz)",
                "note": ratio_note,
            }
        )
        updated.append(replace(c, ratio=ratio, note="; ".join(n for n in (c.note, ratio_note) if n)))
    comparisons = tuple(updated)

    notes: list[str] = []
    rated = [g for g in groups.values() if g.rate is not None]
    few = [g for g in rated if g.count < FEW_ERRORS]
    for g in few:
        notes.append(
            f"few errors: {g.name}'s rate at {t:g} rests on {g.count} {words.errors} (fewer than {FEW_ERRORS}); "
            "its interval is wide and any ratio involving it is unstable"
        )
    if rated and total_errors < FEW_ERRORS:
        notes.append(
            f"few errors: shares of {words.errors} and the max/min ratio at {t:g} rest on {total_errors} "
            f"{words.errors} in all (fewer than {FEW_ERRORS})"
        )
    if total_errors:
        for g in rated:
            share_errors, share_units = g.count / total_errors, g.n / total_units
            if share_errors > share_units:
                notes.append(
                    f"{g.name}: {share_errors:.0%} of {words.errors} ({g.count} of {total_errors}) "
                    f"against {share_units:.0%} of {words.units} ({g.n} of {total_units})"
                )
    applicable = bool(eligible.any())
    if not applicable:
        # By construction (every search non-mated, as in the published Congress test, or every one
        # mated): the data cannot speak to this check, which is not a verdict on the matcher.
        reason = f"no {words.units} in the data: nothing for {words.check_id} to count"
        notes.append(f"not applicable: {reason}")
        comparisons = tuple(replace(c, verdict="not applicable", note=reason) for c in comparisons)
    notes.extend(compare_notes)
    keys = np.char.add(np.char.add(searches.group[eligible], "\x00"), searches.subject[eligible].astype(str))
    if comparisons and np.unique(keys).size < keys.size:
        notes.append("subjects recur across probes: ratio intervals still treat probes as independent")

    details: dict[str, Any] = {
        "mode": searches.mode,
        "floor": searches.floor,
        "units": words.units,
        **_max_min(groups, policy.confidence, words.errors),
        "ratios": ratios,
        "few_errors": [g.name for g in few],
        "total_errors": total_errors,
        "total_units": total_units,
    }
    method = (
        f"{words.errors} at similarity >= {t:g} among {words.units}; {method}; "
        f"rate ratio to {reference}: log-method (Katz) interval at the gap interval's level; "
        "max/min ratio: highest group rate over lowest, as NIST's demographic reports give it"
    )
    alpha_pass, alpha_fail = error_rates(policy)
    return CheckResult(
        id=words.check_id,
        verdict=worst(c.verdict for c in comparisons) if applicable else "not applicable",
        groups=groups,
        comparisons=comparisons,
        method=method,
        measure=words.measure,
        reference=reference,
        confidence=policy.confidence,
        notes=tuple(notes),
        details=details,
        count_label=words.count_label,
        threshold=t,
        alpha_pass=alpha_pass,
        alpha_fail=alpha_fail,
        direction=policy.direction,
    )


def _failure_to_acquire(searches: Searches, first: npt.NDArray[np.intp], confidence: float) -> dict[str, Any]:
    """Per group: distinct probes in which no face was found, with a Clopper-Pearson interval."""
    import numpy as np

    acquired = np.ones(len(searches), dtype=bool) if searches.acquired is None else searches.acquired
    out: dict[str, Any] = {}
    for name in sorted(set(searches.group[first].tolist())):
        rows = first[searches.group[first] == name]
        missing, n = int((~acquired[rows]).sum()), int(rows.size)
        low, high = stats.proportion_interval(missing, n, confidence, "clopper-pearson")
        out[str(name)] = {"probes": n, "no_face": missing, "rate": missing / n, "ci": [low, high]}
    return out


def _check(
    kind: _Kind,
    searches: Searches,
    *,
    reference: str,
    policy: Policy,
    seed: int,
    thresholds: Sequence[float],
    binding: float | None,
    sweep_step: float,
) -> list[CheckResult]:
    import numpy as np

    chosen, binds = _thresholds(thresholds, binding, searches.floor)
    grid = _grid(chosen, searches.floor, sweep_step)
    eligible, scores = _scores(searches, kind)
    # Photos and subjects per group are counted over distinct probe photos (a 1:1 probe may be in many pairs).
    first = np.unique(np.asarray(searches.probe, dtype=str), return_index=True)[1]
    probe_group, probe_subject = searches.group[first], searches.subject[first]
    fta = _failure_to_acquire(searches, first, policy.confidence)
    results = []
    for t in chosen:
        result = _at_threshold(
            kind,
            searches,
            t,
            eligible=eligible,
            scores=scores,
            reference=reference,
            policy=policy,
            seed=seed,
            probe_group=probe_group,
            probe_subject=probe_subject,
        )
        details = {**result.details, "binding": t == binds, "failure_to_acquire": fta}
        if t == binds:
            details["sweep"] = _sweep(kind, eligible, scores, searches.group, list(result.groups), grid)
        results.append(replace(result, details=details))
    return results


def false_match_gap(
    searches: Searches,
    *,
    reference: str,
    policy: Policy,
    seed: int,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    binding: float | None = None,
    sweep_step: float = 0.5,
) -> list[CheckResult]:
    """False-match rate per group at each threshold, and each group's gap and ratio to the reference.

    1:N search: among non-mated probes (subject not enrolled), the share with a face of another
    subject returned at or above the threshold. 1:1 compare: among impostor pairs (rows not
    mated), the share with similarity at or above it. A similarity that was not returned (nan)
    counts as below every threshold.

    Parameters
    ----------
    searches
        The searches, one row each.
    reference
        The group every other group is compared with.
    policy
        Tolerance (``policy.tolerance_for("false_match_gap")``), confidence, bootstrap, exact test,
        minimum subjects. Per-group intervals are Clopper-Pearson whatever ``policy.interval`` says.
    seed
        Seed of the subject bootstrap (used when a subject has several probes).
    thresholds
        Similarities to evaluate at; one result each, in increasing order. None may be below
        ``searches.floor``.
    binding
        The threshold whose verdict binds (``details["binding"]`` is true on its entry, which also
        carries ``details["sweep"]``); the highest threshold if not given.
    sweep_step
        Step of the threshold grid of the sweep, which runs from
        ``max(floor, min(thresholds) - 20)`` to 100 and includes every threshold evaluated.

    Returns
    -------
    list of CheckResult
        One per threshold, with ``threshold`` set. Per group, extras ``errors``,
        ``share_of_errors`` (of all false matches at the threshold) and ``share_of_units`` (of
        the non-mated probes or impostor pairs). ``details``: ``max_min_ratio`` (with
        ``max_min_ratio_lower_bound`` and ``max_min_ratio_note`` when the lowest rate is 0),
        ``ratios`` (each group over the reference, log-method interval), ``few_errors``,
        ``binding``, ``sweep``.

    Raises
    ------
    ValueError
        A threshold below the floor or above 100, no thresholds, a binding threshold that is not
        evaluated, a step that is not positive.
    ConformanceError
        The reference group is not in the data.

    Examples
    --------
    >>> from conformance.policy import Policy
    >>> s = Searches(probe=tuple("abcd"), subject=[1, 2, 3, 4], group=["x", "x", "y", "y"],
    ...              mated=[False] * 4, best_impostor=[85.0, 70.0, 91.0, 96.0], best_mate=[float("nan")] * 4)
    >>> [r.groups["y"].rate for r in false_match_gap(s, reference="x", policy=Policy(), seed=0, thresholds=(80, 95))]
    [1.0, 0.5]
    """
    return _check(
        "false_match",
        searches,
        reference=reference,
        policy=policy,
        seed=seed,
        thresholds=thresholds,
        binding=binding,
        sweep_step=sweep_step,
    )


def false_non_match_gap(
    searches: Searches,
    *,
    reference: str,
    policy: Policy,
    seed: int,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    binding: float | None = None,
    sweep_step: float = 0.5,
) -> list[CheckResult]:
    """False non-match rate per group at each threshold: mated probes whose own subject is not found.

    Among mated probes (1:1: genuine pairs), the share whose best similarity to their own subject
    is below the threshold or was not returned (nan). Everything else, parameters and results
    included, is as in :func:`false_match_gap`, with misses in place of false matches and
    ``policy.tolerance_for("false_non_match_gap")`` as the tolerance.

    Examples
    --------
    >>> from conformance.policy import Policy
    >>> s = Searches(probe=tuple("abcd"), subject=[1, 2, 3, 4], group=["x", "x", "y", "y"],
    ...              mated=[True] * 4, best_impostor=[float("nan")] * 4, best_mate=[99.5, 99.5, 92.0, float("nan")])
    >>> [r.groups["y"].rate for r in false_non_match_gap(s, reference="x", policy=Policy(), seed=0, thresholds=(90, 99))]
    [0.5, 1.0]
    """
    return _check(
        "false_non_match",
        searches,
        reference=reference,
        policy=policy,
        seed=seed,
        thresholds=thresholds,
        binding=binding,
        sweep_step=sweep_step,
    )
