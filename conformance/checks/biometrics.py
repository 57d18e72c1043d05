"""Face recognition measured as biometric evaluators do (NISTIR 8280, ISO/IEC 19795-10): 1:1 comparisons.

Input: :class:`~conformance.pairwise.PairCounts` (every photo compared with every other, or the
comparisons a scores file lists). Four checks, each a pure function of the counts and the policy:

``false_match_differential``
    per threshold (each target FMR's, then each stated one): each group's FMR with a two-way
    bootstrap interval, its ratio to the reference group's, the verdict on that ratio against
    ``ratio_tolerance`` (either direction), the impostor matrix, inequity measures, and on the
    binding entry DET curves and score distributions.
``false_non_match_differential``
    the same for FNMR; a genuine comparison involving a photo without a template is a miss.
``failure_to_acquire_gap``
    photos without a template per group (the shared rate mechanism, absolute tolerance).
``equitability``
    the ISO/IEC 19795-10-style disclosure, with an equitability statement at the binding threshold.

Why a ratio: FMRs are small (1e-3 .. 1e-5), so an absolute tolerance of 0.05 cannot see a group
whose FMR is 6.6 times the reference's; a ratio tolerance can.

Why one module of about 900 lines: the four checks share one evaluation of the counts (the thresholds
calibrated and the two-way bootstrap drawn once, cached, for all four), and the two differentials are
one result builder run on either side (FMR or FNMR: each ratio's interval and verdict, the rules for
comparisons without a score, the impostor matrix, inequity measures, DET curves). Each group's rate and
its interval at a threshold are :mod:`._pair_rates`'.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .._format import interval_text, ratio_text
from ..results import CheckResult, Comparison, GroupRate, Verdict, deciding, worst
from . import COMPARISON_CHECKS
from ._compare import Units, compare_groups, error_rates, group_order
from ._pair_rates import (
    ALL_REJECTED,
    FEW,
    FMR,
    FMR_METHOD,
    FNMR,
    FNMR_METHOD,
    Rates,
    Side,
    bonferroni,
    exact_at,
    misses_per_person,
    percentile_interval,
    subjects_in,
    unexplained_lost,
    unexplained_lost_text,
    widened_ratio,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..pairstats import Calibration, Replicates
    from ..pairwise import PairCounts
    from ..policy import Policy

__all__ = [
    "COMPARISON_CHECKS",
    "equitability",
    "failure_to_acquire_gap",
    "false_match_differential",
    "false_non_match_differential",
    "ratio_verdict",
]

# Weight of false matches in GARBE and FDR (both papers leave it to the evaluator).
ALPHA = 0.5
_SCOPE = (
    "Follows the disclosure items of ISO/IEC 19795-10:2024 (quantifying biometric system performance "
    "variation across demographic groups) as published; computed by this kit, not a certified conformance "
    "assessment."
)


def ratio_verdict(ci: tuple[float, float] | None, tolerance: float) -> Verdict:
    """The verdict a rate ratio's interval earns against a ratio tolerance, in either direction.

    ``fail`` when the interval lies wholly above ``tolerance`` or wholly below ``1/tolerance``;
    ``pass`` when it lies within ``[1/tolerance, tolerance]``; ``inconclusive`` otherwise.

    >>> ratio_verdict((3.1, 9.0), 2.0), ratio_verdict((0.7, 1.6), 2.0), ratio_verdict((0.9, 2.5), 2.0)
    ('fail', 'pass', 'inconclusive')
    >>> ratio_verdict((0.05, 0.3), 2.0)
    'fail'
    """
    if ci is None or any(math.isnan(b) for b in ci):
        return "inconclusive"
    lower, upper = ci
    if lower > tolerance or upper < 1.0 / tolerance:
        return "fail"
    if lower >= 1.0 / tolerance and upper <= tolerance:
        return "pass"
    return "inconclusive"


def _num(value: float | None) -> float | None:
    """A JSON-safe number: inf and nan become None (the report forbids them)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class _Entry:
    """One evaluated threshold: how it was set, and the counts and replicates at it."""

    threshold: float
    kind: str  # "target_fmr" or "stated"
    calibration: Calibration | None
    index: int  # into the replicates' threshold axis


@dataclass(frozen=True)
class _Evaluation:
    groups: tuple[str, ...]
    reference: str
    entries: tuple[_Entry, ...]
    unsupported: tuple[Calibration, ...]
    binding: float | None
    boot: Replicates
    auc: float | None = None
    # failure_to_acquire_gap's verdict per compared pair of groups, and photos without a template per group.
    fta_verdicts: Mapping[tuple[str, str], str] = field(default_factory=dict)
    not_acquired: Mapping[str, int] = field(default_factory=dict)


_CACHE: dict[str, tuple[PairCounts, _Evaluation]] = {}


def _evaluate(
    counts: PairCounts,
    *,
    reference: str,
    policy: Policy,
    seed: int,
    thresholds: Sequence[float],
    targets: Sequence[float] | None,
) -> _Evaluation:
    """Calibrate thresholds and draw the replicates once for the four checks (cached per counts object)."""
    from ..pairstats import calibrate, replicates

    wanted = tuple(policy.target_fmr) if targets is None else tuple(targets)
    key = json.dumps([id(counts), reference, policy.to_dict(), seed, list(thresholds), list(wanted)], default=str)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] is counts:
        return cached[1]
    from ..pairwise import score_auc

    group_order(list(counts.groups), reference)  # raises, naming the groups, if the reference is absent
    calibrations = [calibrate(counts, t) for t in wanted]
    chosen: list[tuple[float, str, Calibration | None]] = [
        (c.threshold, "target_fmr", c) for c in calibrations if c.supported and c.threshold is not None
    ]
    chosen += [(float(t), "stated", None) for t in sorted(set(thresholds))]
    boot = replicates(counts, [t for t, _, _ in chosen], resamples=policy.bootstrap, seed=seed)
    pool_fmr = boot.pool_fmr()
    entries = []
    for k, (t, kind, cal) in enumerate(chosen):
        if cal is not None and pool_fmr is not None:
            # The calibration is in-sample: how far the pool's FMR at this threshold would move in a new sample.
            ci = percentile_interval(pool_fmr[:, k], policy.confidence)
            cal = replace(cal, achieved_ci=ci, achieved_level=policy.confidence if ci is not None else None)
        entries.append(_Entry(t, kind, cal, k))
    binding = entries[0].threshold if entries else None
    result = _Evaluation(
        groups=tuple(group_order(list(counts.groups), reference)),
        reference=reference,
        entries=tuple(entries),
        unsupported=tuple(c for c in calibrations if not c.supported),
        binding=binding,
        boot=boot,
        auc=score_auc(counts),
        **_fta_of(counts, reference, policy, seed),
    )
    _CACHE.clear()  # one run's counts at a time: the cache exists so four checks share one bootstrap
    _CACHE[key] = (counts, result)
    return result


def _fta_of(counts: PairCounts, reference: str, policy: Policy, seed: int) -> dict[str, Any]:
    """failure_to_acquire_gap's verdicts by pair of groups, and photos without a template per group."""
    import numpy as np

    missing = np.bincount(counts.photo_group[~counts.acquired], minlength=len(counts.groups))
    not_acquired = {name: int(missing[g]) for g, name in enumerate(counts.groups)}
    if not missing.any():
        return {"fta_verdicts": {}, "not_acquired": not_acquired}
    fta = failure_to_acquire_gap(counts, reference=reference, policy=policy, seed=seed)
    return {
        "fta_verdicts": {(c.group, c.reference): c.verdict for c in fta.comparisons},
        "not_acquired": not_acquired,
    }


_LOST_RULE = {
    "fta_gap": "; a pass also needs both groups' failure to acquire shown within its tolerance (or none) and "
    "no pair without a score but for those photos",
    "worst_case": "; a pass must hold also had every comparison without a score been an error",
    "non_match": "; comparisons without a score count below every threshold, nothing more",
}


def _lost_blocks_pass(
    rates: Rates,
    ev: _Evaluation,
    g: int,
    r: int,
    name: str,
    ref: str,
    policy: Policy,
    ci: tuple[float, float],
) -> tuple[tuple[float, float], str] | None:
    """Why a passing ratio cannot pass, given comparisons without a score (None: it can).

    ``fta_gap`` (default): the two groups' failure to acquire must be shown within its tolerance
    (``failure_to_acquire_gap`` passes for them) unless neither has a photo without a template, and
    no comparison of theirs may lack a score for another reason (a failed or unlisted pair).
    ``worst_case``: the ratio interval must still lie within the tolerance with every comparison
    without a score counted as an error where that hurts (the FMR of a group higher, of the reference
    lower; the FNMR the other way). ``non_match``: no condition (NIST's convention).
    """
    mode = policy.lost_comparisons
    if mode == "non_match" or not (rates.lost[g] or rates.lost[r]):
        return None
    lost_text = ", ".join(
        f"{who} {int(rates.lost[c]):,} of {int(rates.totals[c]):,}" for who, c in ((name, g), (ref, r)) if rates.lost[c]
    )
    if mode == "worst_case":
        widened = widened_ratio(rates, g, r, ci)
        if ratio_verdict(widened, policy.ratio_tolerance) == "pass":
            return None
        return widened, (
            f"{rates.side.units} without a score ({lost_text}) count as "
            f"{'non-matches' if rates.side.rate == 'fmr' else 'misses'}; had they gone the other way the ratio "
            f"could lie anywhere in [{widened[0]:.3g}, {widened[1]:.3g}]: a pass cannot be shown "
            '(lost_comparisons = "worst_case")'
        )
    reasons = []
    missing = [who for who, c in ((name, g), (ref, r)) if ev.not_acquired.get(who, 0)]
    fta = ev.fta_verdicts.get((name, ref)) or ev.fta_verdicts.get((ref, name))
    if missing and fta != "pass":
        reasons.append(
            f"{' and '.join(missing)} {'has' if len(missing) == 1 else 'have'} photos without a template "
            f"({', '.join(f'{who} {ev.not_acquired[who]:,}' for who in missing)}) and failure_to_acquire_gap does "
            f"not show {name} and {ref} within {policy.tolerance_for('failure_to_acquire_gap'):g} "
            f"({fta or 'not compared'}): their comparisons, counted as "
            f"{'non-matches' if rates.side.rate == 'fmr' else 'misses'}, could hide {rates.side.errors}"
        )
    listed = unexplained_lost_text(rates, g, r, name, ref)
    if listed:
        reasons.append(listed)
    if not reasons:
        return None
    return ci, "; ".join(reasons) + f' (lost_comparisons = "fta_gap"; {lost_text} without a score)'


def _side_result(
    side: Side, counts: PairCounts, ev: _Evaluation, entry: _Entry, policy: Policy, seed: int
) -> CheckResult:
    import numpy as np

    from ..pairstats import inequity, two_way_rates

    names = list(counts.groups)
    code = {name: i for i, name in enumerate(names)}
    fm, imp, found = exact_at(counts, entry.threshold)
    gen = counts.genuine_comparisons.sum(axis=1)
    allowed = counts.allowed()
    lost_imp = (counts.lost_impostor() * allowed).sum(axis=1)
    lost_gen = counts.lost_genuine().sum(axis=1)
    rates = Rates(
        side=side,
        counts=counts,
        errors=(fm if side.rate == "fmr" else found.misses).astype(np.int64),
        totals=(imp if side.rate == "fmr" else gen).astype(np.int64),
        lost=(lost_imp if side.rate == "fmr" else lost_gen).astype(np.int64),
        boot=ev.boot.fmr()[:, entry.index, :] if side.rate == "fmr" else ev.boot.fnmr()[:, entry.index, :],
        resampled=not (side.rate == "fmr" and not found.kept),
        per_person=misses_per_person(counts, entry.threshold) if side.rate == "fnmr" else (),
        method=policy.interval,
        two_way=tuple(two_way_rates(counts, entry.threshold)) if side.rate == "fmr" and found.kept else (),
        pair_lost=unexplained_lost(counts, side, lost_imp if side.rate == "fmr" else lost_gen),
    )
    errors, totals, boot, resampled = rates.errors, rates.totals, rates.boot, rates.resampled
    level_each = policy.confidence
    m = max(1, len(ev.groups) - 1)
    level = bonferroni(policy.confidence, m)
    tolerance = policy.ratio_tolerance
    notes: list[str] = []
    groups: dict[str, GroupRate] = {}
    not_acquired = np.bincount(counts.photo_group[~counts.acquired], minlength=len(names))
    photos = np.bincount(counts.photo_group, minlength=len(names))
    for name in ev.groups:
        g = code[name]
        n, k = int(totals[g]), int(errors[g])
        rate = k / n if n else None
        ci = rates.bounds(g, level_each)
        in_group = counts.photo_group == g
        groups[name] = GroupRate(
            name=name,
            photos=int(in_group.sum()),
            subjects=subjects_in(counts, g),
            count=k,
            n=n,
            rate=rate,
            ci=ci,
            extra={
                "errors": k,
                "share_of_errors": k / max(1, int(errors.sum())) if errors.sum() else None,
                # Failure to acquire beside every rate: those photos' comparisons are in n without a score.
                "not_acquired": int(not_acquired[g]),
                "fta": int(not_acquired[g]) / int(photos[g]) if photos[g] else None,
                "without_score": int(rates.lost[g]),
            },
        )
    if side.rate == "fmr" and not found.kept:
        notes.append(
            f"{int(fm.sum()):,} false matches at {entry.threshold:g} exceed max_kept: counts are exact, but "
            "there is no two-way bootstrap here: group intervals are Clopper-Pearson on distinct people-pairs and "
            "ratios divide them (conservative); raise max_kept for the bootstrap"
        )

    # What each verdict may not claim at this threshold, whatever the ratios say.
    no_pass: list[str] = []
    rated = [code[n] for n in ev.groups if groups[n].rate is not None]
    fnmr_all = [found.misses[g] / gen[g] for g in rated if gen[g] > 0]
    if fnmr_all and min(fnmr_all) >= ALL_REJECTED:
        no_pass.append(
            f"the threshold {entry.threshold:.6g} rejects {'every' if min(fnmr_all) >= 1 else 'nearly every'} "
            "genuine comparison in every group (FNMR at least 0.99): equal rates there say nothing about equity"
        )
    if ev.auc is not None and ev.auc < 0.5:
        no_pass.append(
            f"genuine comparisons score lower than impostor ones (AUC {ev.auc:.3f} < 0.5): the scores look like "
            "distances (lower = more similar); say so with scores:FILE.csv?higher=false, or fix the model"
        )

    ref = ev.reference
    comparisons: list[Comparison] = []
    ratio_rows: list[dict[str, Any]] = []
    for name in ev.groups:
        if name == ref:
            continue
        grp, base = groups[name], groups[ref]
        g, r = code[name], code[ref]
        blank = Comparison(name, ref, None, None, None, None, tolerance, "inconclusive", "none", level=level)
        if grp.rate is None or base.rate is None:
            empty = name if grp.rate is None else ref
            comparisons.append(replace(blank, note=f"{empty} has no {side.units}"))
            continue
        ratio = grp.rate / base.rate if base.rate > 0 else None
        notes_here: list[str] = []
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio_boot = boot[:, g] / boot[:, r]
        both = 0 < grp.count < grp.n and 0 < base.count < base.n and resampled
        boot_ci = percentile_interval(ratio_boot, level) if both else None
        bounds_g, bounds_r = rates.bounds(g, level), rates.bounds(r, level)
        bounds_ci = None
        if bounds_g is not None and bounds_r is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                bounds_ci = (
                    bounds_g[0] / bounds_r[1] if bounds_r[1] > 0 else math.nan,
                    bounds_g[1] / bounds_r[0] if bounds_r[0] > 0 else math.inf,
                )
        ratio_ci: tuple[float, float] | None
        if boot_ci is not None and min(grp.count, base.count) >= FEW:
            ratio_ci, how = boot_ci, "two-way bootstrap over people (percentile)"
        elif boot_ci is not None and bounds_ci is not None:
            # Few errors: a handful of people-pairs decide the resamples; the groups' own bounds keep it honest.
            ratio_ci = (min(boot_ci[0], bounds_ci[0]), max(boot_ci[1], bounds_ci[1]))
            how = f"two-way bootstrap percentile widened to the ratio of the groups' bounds (fewer than {FEW} {side.errors})"
        else:
            ratio_ci = bounds_ci
            how = "ratio of the groups' bounds (a count of 0 or all, or pairs not kept)"
            zero = [(who, x) for who, x in ((name, grp), (ref, base)) if x.count in (0, x.n)]
            if zero:
                who, x = zero[0]
                notes_here.append(
                    f"{who} has {'no' if x.count == 0 else 'only'} {side.errors}: the ratio interval divides the groups' bounds"
                )
        verdict = ratio_verdict(ratio_ci, tolerance)
        decided_on = ratio_ci
        if verdict == "pass" and ratio_ci is not None:
            blocked = _lost_blocks_pass(rates, ev, g, r, name, ref, policy, ratio_ci)
            if blocked is not None:
                verdict = "inconclusive"
                decided_on, why = blocked
                notes_here.append(why)
        if not any("failed or missing" in n for n in notes_here):
            # Pairs a list failed or left out are named on every row they touch, whatever its verdict.
            listed = unexplained_lost_text(rates, g, r, name, ref)
            if listed:
                notes_here.append(listed)
        if verdict == "pass" and no_pass:
            verdict = "inconclusive"
            notes_here.extend(no_pass)
        small = min(grp.subjects, base.subjects) < policy.min_subjects
        if small:
            verdict = "inconclusive"
            notes_here.append(f"fewer than {policy.min_subjects} people behind a rate (min_subjects)")
        note = "; ".join(notes_here)
        diff_ci = percentile_interval(boot[:, g] - boot[:, r], level) if resampled else None
        comparisons.append(
            replace(
                blank,
                difference=grp.rate - base.rate,
                ci=diff_ci,
                verdict=verdict,
                method=how,
                ratio=ratio,
                note=note,
            )
        )
        row: dict[str, Any] = {
            "group": name,
            "reference": ref,
            "ratio": _num(ratio),
            "ci": None if ratio_ci is None else [_num(ratio_ci[0]), _num(ratio_ci[1])],
            "level": level,
            "tolerance": tolerance,
            "method": how,
            "verdict": verdict,
            "note": note,
        }
        if decided_on is not ratio_ci and decided_on is not None:
            row["ci_worst_case"] = [_num(decided_on[0]), _num(decided_on[1])]
        ratio_rows.append(row)

    # Inequity measures: point estimates over groups with a rate, intervals from the same replicates.
    fmr_point = (fm / np.maximum(imp, 1))[rated]
    fnmr_point = (found.misses / np.maximum(gen, 1))[rated]
    point = inequity(fmr_point, fnmr_point, ALPHA)
    fmr_b = ev.boot.fmr()[:, entry.index, rated]
    fnmr_b = ev.boot.fnmr()[:, entry.index, rated]
    spread = inequity(fmr_b, fnmr_b, ALPHA)
    measures = _measures(point, spread, side.rate, policy.confidence, resampled)

    matrix = {
        "probe_groups": names,
        "reference_groups": names,
        "false_matches": found.false_matches.tolist(),
        "impostor_comparisons": counts.impostor_comparisons.tolist(),
        "fmr": [
            [_num(f / n) if n else None for f, n in zip(row_f, row_n, strict=True)]
            for row_f, row_n in zip(found.false_matches.tolist(), counts.impostor_comparisons.tolist(), strict=True)
        ],
        "counted": allowed.tolist(),
    }
    rule = (
        entry.calibration.to_dict()
        if entry.calibration is not None
        else {"rule": "stated threshold", "threshold": entry.threshold, "source": "--thresholds (the vendor's scale)"}
    )
    binding = entry.threshold == ev.binding
    details: dict[str, Any] = {
        "mode": "compare",
        "design": counts.design,
        "metric": counts.metric,
        "units": side.units,
        "threshold_rule": rule,
        "impostors": "same-group pairs only (demographically matched)" if counts.same_group else "all pairs",
        "impostor_comparisons": int(imp.sum()),
        "genuine_comparisons": int(gen.sum()),
        "ratios": ratio_rows,
        "ratio_tolerance": tolerance,
        "inequity": measures,
        "binding": binding,
        "exact_counts": True,
        "bootstrap": {
            "method": "two-way: people resampled with replacement within their group; a comparison weighs "
            "w_probe x w_reference",
            "resamples": policy.bootstrap,
            "seed": seed,
            "pairs_kept": resampled,
        },
        "group_interval": FMR_METHOD if side.rate == "fmr" else FNMR_METHOD,
        "lost_comparisons": policy.lost_comparisons,
        "completeness": _completeness(counts, names),
        "score_auc": _num(ev.auc) if ev.auc is not None else None,
    }
    if side.rate == "fmr":
        details["impostor_matrix"] = matrix
    if binding:
        from ..pairstats import det_curves, distributions

        details["det"] = det_curves(counts)
        details["distributions"] = distributions(counts)
        details["bin_width"] = counts.bin_width
    if ev.unsupported:
        details["unsupported_targets"] = [c.to_dict() for c in ev.unsupported]
        notes.extend(f"target FMR {c.target:g} not evaluated: {c.reason}" for c in ev.unsupported)
    notes.extend(_entry_notes(counts, entry, groups, side, totals))
    few = [n for n in ev.groups if groups[n].rate is not None and groups[n].count < FEW]
    if few:
        notes.append(f"few {side.errors} (fewer than {FEW}) behind {', '.join(few)}: wide intervals, unstable ratios")
    if ev.auc is not None and ev.auc < 0.5:
        notes.append(no_pass[-1])
    method = (
        f"{side.errors} at score >= {entry.threshold:.6g} among {side.units} ("
        + (
            f"threshold fixed to FMR {entry.calibration.target:g} on {entry.calibration.pool} impostor comparisons, "
            "in-sample"
            if entry.calibration
            else "stated threshold"
        )
        + f"); per group: {details['group_interval']}, {policy.confidence:.0%}; ratio to {ref}: "
        f"two-way bootstrap percentile interval at {level:.4g} (Bonferroni over {m}; widened to the ratio of the "
        f"groups' bounds below {FEW} errors); verdict: fail if the ratio's interval lies above {tolerance:g} or "
        f"below 1/{tolerance:g}, pass if within"
        + _LOST_RULE[policy.lost_comparisons]
        + f", on {policy.bootstrap} two-way resamples, seed {seed}"
    )
    return CheckResult(
        id=side.check_id,
        verdict=worst(c.verdict for c in comparisons),
        groups=groups,
        comparisons=tuple(comparisons),
        method=method,
        measure=side.measure,
        reference=ref,
        confidence=policy.confidence,
        notes=tuple(notes),
        details=details,
        count_label=side.errors,
        threshold=entry.threshold,
    )


def _completeness(counts: PairCounts, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per probe group: comparisons in the design, listed (a scores file), with a score, and lost.

    Lost = in the design without a score: a photo without a template, a failed comparison, a pair a
    scores file leaves out (``pairs = "all"``). Counted as failures to compare of the probe's group.
    """
    allowed = counts.allowed()
    out: dict[str, dict[str, Any]] = {}
    listed_imp = counts.listed_impostor if counts.listed_impostor is not None else counts.impostor_comparisons
    listed_gen = counts.listed_genuine if counts.listed_genuine is not None else counts.genuine_comparisons
    lost_imp, lost_gen = counts.lost_impostor(), counts.lost_genuine()
    for g, name in enumerate(names):
        design_imp = int((counts.impostor_comparisons[g] * allowed[g]).sum())
        design_gen = int(counts.genuine_comparisons[g].sum())
        out[name] = {
            "impostor_comparisons": design_imp,
            "impostor_listed": int((listed_imp[g] * allowed[g]).sum()),
            "impostor_without_score": int((lost_imp[g] * allowed[g]).sum()),
            "genuine_comparisons": design_gen,
            "genuine_listed": int(listed_gen[g].sum()),
            "genuine_without_score": int(lost_gen[g].sum()),
            "pairs": counts.pairs,
        }
    return out


def _entry_notes(
    counts: PairCounts, entry: _Entry, groups: dict[str, GroupRate], side: Side, totals: npt.NDArray[np.int64]
) -> list[str]:
    """Notes every entry of a 1:1 run carries: in-sample calibration, ties, lost comparisons, pairs not listed."""
    out: list[str] = []
    cal = entry.calibration
    if cal is not None and cal.achieved is not None:
        ci = cal.achieved_ci
        spread = "" if ci is None else f" {interval_text(ci, ratio_text)} ({cal.achieved_level:.0%}, two-way bootstrap)"
        out.append(
            f"threshold calibrated in-sample on the comparisons it is evaluated on: the pool's FMR there is "
            f"{cal.achieved:.3g}{spread}; on new people it varies by about as much (calibrate on a held-out set "
            "and pass its threshold with --thresholds for an out-of-sample check)"
        )
        if cal.coarse:
            out.append(
                f"achieved FMR {cal.achieved:.3g} is far below the target {cal.target:g}: {cal.tied:,} impostor "
                "comparisons tie at the score just below the threshold, so the scores cannot resolve this target "
                "(finer scores, or a higher target FMR)"
            )
    lost = {name: g.extra.get("without_score", 0) for name, g in groups.items()}
    if any(lost.values()):
        parts = ", ".join(f"{name} {v:,} of {groups[name].n:,}" for name, v in lost.items() if v)
        out.append(
            f"{side.units} without a score (photo without a template, failed, or not listed), counted as "
            f"{'non-matches' if side.rate == 'fmr' else 'misses'}: {parts}"
        )
    if counts.design == "listed" and counts.pairs == "all" and counts.listed_impostor is not None:
        listed = int(
            counts.listed_impostor.sum() + (counts.listed_genuine.sum() if counts.listed_genuine is not None else 0)
        )
        expected = int(counts.impostor_comparisons.sum() + counts.genuine_comparisons.sum())
        if listed < expected:
            out.append(
                f"the scores file lists {listed:,} of the {expected:,} ordered pairs of the manifest's photos: the "
                f"{expected - listed:,} left out count as failed comparisons of their groups (list every ordered pair, "
                "or declare a designed sample with scores:FILE.csv?pairs=sample)"
            )
    return out


def _measures(
    point: dict[str, Any], spread: dict[str, Any], rate: str, confidence: float, resampled: bool
) -> dict[str, Any]:
    def pack(value: Any, boot: Any) -> dict[str, Any]:
        ci = percentile_interval(boot, confidence) if resampled else None
        return {
            "value": _num(float(value)),
            "ci": None if ci is None else [_num(ci[0]), _num(ci[1])],
        }

    side = point[rate]
    boot_side = spread[rate]
    return {
        "max_min_ratio": pack(side["max_min"], boot_side["max_min"]),
        "max_geomean_ratio": pack(side["max_geomean"], boot_side["max_geomean"]),
        "gini": pack(side["gini"], boot_side["gini"]),
        "garbe": pack(point["garbe"], spread["garbe"]),
        "fdr": pack(point["fdr"], spread["fdr"]),
        "alpha": ALPHA,
        "confidence": confidence,
        "caveats": [
            "max/min is undefined (null) when a group has no errors and moves a lot with one error in a small group",
            "max/geometric-mean (NIST 2022) is undefined when any group's rate is 0",
            "GARBE and FDR weigh FMR against FNMR with alpha; FDR uses absolute differences, so FMR disparities "
            "(rates near 1e-4) barely move it: read the ratios for FMR",
            "intervals are percentile intervals of the two-way bootstrap at the stated confidence, not adjusted "
            "for the several measures",
        ],
    }


def _no_threshold(side: Side, ev: _Evaluation, policy: Policy) -> list[CheckResult]:
    reasons = [f"target FMR {c.target:g}: {c.reason}" for c in ev.unsupported] or [
        "no target FMR and no stated threshold"
    ]
    return [
        CheckResult(
            id=side.check_id,
            verdict="inconclusive",
            groups={},
            comparisons=(),
            method="none: no threshold could be fixed",
            measure=side.measure,
            reference=ev.reference,
            confidence=policy.confidence,
            notes=tuple(reasons),
            details={"unsupported_targets": [c.to_dict() for c in ev.unsupported], "binding": True},
            count_label=side.errors,
        )
    ]


def _side_results(
    side: Side,
    counts: PairCounts,
    *,
    reference: str,
    policy: Policy,
    seed: int,
    thresholds: Sequence[float],
    targets: Sequence[float] | None,
) -> list[CheckResult]:
    ev = _evaluate(counts, reference=reference, policy=policy, seed=seed, thresholds=thresholds, targets=targets)
    if not ev.entries:
        return _no_threshold(side, ev, policy)
    return [_side_result(side, counts, ev, entry, policy, seed) for entry in ev.entries]


def false_match_differential(
    counts: PairCounts,
    *,
    reference: str,
    policy: Policy,
    seed: int,
    thresholds: Sequence[float] = (),
    targets: Sequence[float] | None = None,
) -> list[CheckResult]:
    """Each group's FMR at thresholds fixed to target FMRs (and stated ones), its ratio to the reference's.

    Parameters
    ----------
    counts
        The comparisons (:func:`conformance.pairwise.compare_all_pairs` or ``compare_listed``).
    reference
        The group every other is compared with.
    policy
        ``target_fmr`` (unless ``targets`` is given), ``ratio_tolerance``, ``confidence``,
        ``bootstrap``, ``min_subjects``.
    seed
        Seed of the two-way bootstrap.
    thresholds
        Stated thresholds (the vendor's own scale), evaluated after the target FMRs'.
    targets
        Target FMRs; ``policy.target_fmr`` if None.

    Returns
    -------
    list of CheckResult
        One per threshold; ``details``: ``threshold_rule``, ``impostor_matrix``, ``ratios``,
        ``inequity``, ``bootstrap``, and on the binding (first) entry ``det``, ``distributions``.
    """
    return _side_results(
        FMR, counts, reference=reference, policy=policy, seed=seed, thresholds=thresholds, targets=targets
    )


def false_non_match_differential(
    counts: PairCounts,
    *,
    reference: str,
    policy: Policy,
    seed: int,
    thresholds: Sequence[float] = (),
    targets: Sequence[float] | None = None,
) -> list[CheckResult]:
    """Each group's FNMR at the same thresholds as :func:`false_match_differential`; failures count as misses."""
    return _side_results(
        FNMR, counts, reference=reference, policy=policy, seed=seed, thresholds=thresholds, targets=targets
    )


def failure_to_acquire_gap(counts: PairCounts, *, reference: str, policy: Policy, seed: int) -> CheckResult:
    """Share of photos without a template (no face found, no embedding, in no comparison), per group."""
    import numpy as np

    names = np.asarray(counts.groups, dtype=str)[counts.photo_group]
    units = Units(
        numerator=(~counts.acquired).astype(np.float64),
        denominator=np.ones(counts.acquired.size),
        cluster=counts.photo_subject,
        group=names,
    )
    tolerance = policy.tolerance_for("failure_to_acquire_gap")
    groups, comparisons, notes, method = compare_groups(
        units,
        photo_group=names,
        photo_subject=counts.photo_subject,
        reference=reference,
        tolerance=tolerance,
        policy=policy,
        seed=seed,
    )
    alpha_pass, alpha_fail = error_rates(policy)
    return CheckResult(
        id="failure_to_acquire_gap",
        verdict=worst(c.verdict for c in comparisons),
        groups=groups,
        comparisons=comparisons,
        method=f"photos without a template / photos; {method}",
        measure="photos without a template (failure to acquire) / photos",
        reference=reference,
        confidence=policy.confidence,
        notes=tuple(notes),
        details={"counted_as": "a miss in every genuine comparison, a non-match in every impostor comparison"},
        count_label="not acquired",
        alpha_pass=alpha_pass,
        alpha_fail=alpha_fail,
        direction=policy.direction,
    )


def _calibration_statement(ev: _Evaluation) -> str:
    """What calibrating on the evaluated comparisons means, with the pool's FMR interval at each target."""
    parts = []
    for entry in ev.entries:
        cal = entry.calibration
        if cal is None or cal.achieved is None:
            continue
        ci = cal.achieved_ci
        spread = "" if ci is None else f" {interval_text(ci, ratio_text)}"
        parts.append(f"target {cal.target:g}: threshold {entry.threshold:.6g}, pool FMR {cal.achieved:.3g}{spread}")
    if not parts:
        return "no threshold was fixed to a target FMR"
    return (
        "Thresholds are calibrated in-sample, on the same comparisons they are evaluated on: on these people the "
        "pool's FMR meets each target, and the interval says how far it would move on new people from the same "
        "population (two-way bootstrap); for an out-of-sample check, calibrate on a held-out set and state its "
        "threshold with --thresholds. " + "; ".join(parts) + "."
    )


def _uncertainty_statement(fmr: Sequence[CheckResult], policy: Policy, seed: int) -> str:
    """How the intervals were made, saying so where a threshold's false matches were not kept (no two-way bootstrap)."""
    dropped = [r.threshold for r in fmr if not r.details.get("bootstrap", {}).get("pairs_kept", True)]
    text = (
        f"{policy.confidence:.0%} intervals over people ({policy.bootstrap} two-way resamples, seed {seed}): FMR per "
        f"group {FMR_METHOD}; FNMR per group {FNMR_METHOD}; ratios by the two-way bootstrap, widened to the "
        f"ratio of the groups' bounds below {FEW} errors"
    )
    if dropped:
        shown = ", ".join(f"{t:.6g}" for t in dropped if t is not None)
        text += (
            f". At threshold {shown} the false matches exceeded max_kept: no two-way bootstrap there; FMR intervals "
            "are Clopper-Pearson on distinct people-pairs (comparisons treated as independent beyond that)"
        )
    return text


def equitability(
    counts: PairCounts,
    *,
    reference: str,
    policy: Policy,
    seed: int,
    thresholds: Sequence[float] = (),
    targets: Sequence[float] | None = None,
    membership: str = "",
    grouping: Sequence[str] = (),
) -> CheckResult:
    """The ISO/IEC 19795-10-style disclosure and an equitability statement at the binding threshold.

    The verdict is the worst of the FMR and FNMR differentials at the binding threshold and of the
    failure-to-acquire gap: pass only when every one of them shows the groups within tolerance.
    """
    fta = failure_to_acquire_gap(counts, reference=reference, policy=policy, seed=seed)
    kw: dict[str, Any] = {"reference": reference, "policy": policy, "seed": seed, "thresholds": thresholds}
    fmr = false_match_differential(counts, targets=targets, **kw)
    fnmr = false_non_match_differential(counts, targets=targets, **kw)
    bind_fmr, bind_fnmr = deciding(fmr), deciding(fnmr)
    verdict = worst([bind_fmr.verdict, bind_fnmr.verdict, fta.verdict])
    ev = _evaluate(counts, reference=reference, policy=policy, seed=seed, thresholds=thresholds, targets=targets)

    def rates(results: list[CheckResult]) -> list[dict[str, Any]]:
        return [
            {
                "threshold": r.threshold,
                "threshold_rule": r.details.get("threshold_rule"),
                "verdict": r.verdict,
                "groups": {
                    n: {
                        "errors": g.count,
                        "comparisons": g.n,
                        "rate": _num(g.rate),
                        "ci": None if g.ci is None else list(g.ci),
                    }
                    for n, g in r.groups.items()
                },
            }
            for r in results
        ]

    statement = {
        "pass": f"At the binding threshold, no group's FMR or FNMR differs from {reference}'s by more than a factor "
        f"of {policy.ratio_tolerance:g}, and failure to acquire is within {policy.tolerance_for('failure_to_acquire_gap'):g}, "
        f"at {policy.confidence:.0%} confidence: equitable within the stated tolerances.",
        "fail": f"At the binding threshold, at least one group's error rate differs from {reference}'s beyond the "
        "stated tolerance with confidence: not equitable (see the deciding comparisons).",
        "inconclusive": "The data cannot show the groups within, or beyond, the stated tolerances: equitability "
        "is not shown (see what each comparison lacks).",
    }[verdict]
    disclosure = {
        "scope": _SCOPE,
        "standard": "ISO/IEC 19795-10:2024",
        "certified": False,
        "groups": {
            "definition": list(grouping) or ["(as given)"],
            "membership": membership or "as the manifest states it; not verified by the kit",
            "reference": reference,
            "sample_sizes": {
                name: {
                    "photos": g.photos,
                    "subjects": g.subjects,
                    "impostor_comparisons": bind_fmr.groups[name].n if name in bind_fmr.groups else 0,
                    "genuine_comparisons": bind_fnmr.groups[name].n if name in bind_fnmr.groups else 0,
                }
                for name, g in fta.groups.items()
            },
        },
        "failure_to_acquire": {
            n: {"count": g.count, "photos": g.n, "rate": _num(g.rate), "ci": None if g.ci is None else list(g.ci)}
            for n, g in fta.groups.items()
        },
        "threshold_rule": {
            "target_fmr": list(policy.target_fmr if targets is None else targets),
            "calibrated_on": counts.pool,
            "impostors": "same-group pairs only" if counts.same_group else "all pairs",
            "binding_threshold": ev.binding,
            "unsupported": [c.to_dict() for c in ev.unsupported],
            "calibration": _calibration_statement(ev),
        },
        "false_match_rate": rates(fmr),
        "false_non_match_rate": rates(fnmr),
        "uncertainty": _uncertainty_statement(fmr, policy, seed),
        "comparisons": {"metric": counts.metric, "design": counts.design, "total": counts.comparisons},
        "equitability": {
            "verdict": verdict,
            "statement": statement,
            "ratio_tolerance": policy.ratio_tolerance,
            "fta_tolerance": policy.tolerance_for("failure_to_acquire_gap"),
            "inequity_at_binding": {
                "fmr": bind_fmr.details.get("inequity"),
                "fnmr": bind_fnmr.details.get("inequity"),
            },
        },
    }
    return CheckResult(
        id="equitability",
        verdict=verdict,
        groups=fta.groups,
        comparisons=(),
        method="worst of false_match_differential and false_non_match_differential at the binding threshold "
        "and failure_to_acquire_gap",
        measure="ISO/IEC 19795-10-style disclosure; groups: photos without a template / photos",
        reference=reference,
        confidence=policy.confidence,
        notes=(statement,),
        details={"disclosure": disclosure, "binding": True},
        count_label="not acquired",
        threshold=ev.binding,
    )
