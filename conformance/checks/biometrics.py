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
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .. import stats
from ..results import CheckResult, Comparison, GroupRate, Verdict, worst
from . import COMPARISON_CHECKS
from ._compare import Units, compare_groups, error_rates, group_order

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
    group_order(list(counts.groups), reference)  # raises, naming the groups, if the reference is absent
    calibrations = [calibrate(counts, t) for t in wanted]
    chosen: list[tuple[float, str, Calibration | None]] = [
        (c.threshold, "target_fmr", c) for c in calibrations if c.supported and c.threshold is not None
    ]
    chosen += [(float(t), "stated", None) for t in sorted(set(thresholds))]
    entries = tuple(_Entry(t, kind, cal, k) for k, (t, kind, cal) in enumerate(chosen))
    binding = entries[0].threshold if entries else None
    boot = replicates(counts, [e.threshold for e in entries], resamples=policy.bootstrap, seed=seed)
    result = _Evaluation(
        groups=tuple(group_order(list(counts.groups), reference)),
        reference=reference,
        entries=entries,
        unsupported=tuple(c for c in calibrations if not c.supported),
        binding=binding,
        boot=boot,
    )
    _CACHE.clear()  # one run's counts at a time: the cache exists so four checks share one bootstrap
    _CACHE[key] = (counts, result)
    return result


def _percentile(values: npt.NDArray[np.float64], level: float) -> tuple[float, float] | None:
    import numpy as np

    kept = values[~np.isnan(values)]
    if 2 * kept.size < values.size or kept.size == 0:
        return None
    tail = (1 - level) / 2
    # Order statistics, no interpolation: a ratio over a zero rate is inf, and inf - inf would be nan.
    lower, upper = np.quantile(kept, [tail, 1 - tail], method="inverted_cdf")
    return float(lower), float(upper)


@dataclass(frozen=True)
class _Side:
    """What differs between the FMR and the FNMR check."""

    check_id: str
    rate: str  # "fmr" / "fnmr"
    errors: str
    units: str
    measure: str


_FMR = _Side(
    "false_match_differential",
    "fmr",
    "false matches",
    "impostor comparisons",
    "impostor comparisons with score at or above the threshold / impostor comparisons, per probe group",
)
_FNMR = _Side(
    "false_non_match_differential",
    "fnmr",
    "false non-matches",
    "genuine comparisons",
    "genuine comparisons below the threshold (a photo without a template: a miss) / genuine comparisons, per probe group",
)


def _exact(counts: PairCounts, t: float) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], Any]:
    """Per probe group: false matches and impostor comparisons counted under the impostor restriction."""
    from ..pairstats import at_threshold

    found = at_threshold(counts, t)
    allowed = counts.allowed()
    return (found.false_matches * allowed).sum(axis=1), (counts.impostor_comparisons * allowed).sum(axis=1), found


def _subject_pairs(counts: PairCounts, g: int) -> int:
    """Distinct people-pairs behind a group's impostor comparisons (the effective size for a zero count)."""
    import numpy as np

    in_group = np.unique(counts.photo_subject[counts.photo_group == g]).size
    if counts.same_group:
        return max(1, in_group * (in_group - 1))
    return max(1, in_group * (len(counts.subjects) - 1))


def _bonferroni(confidence: float, m: int) -> float:
    """The level ``1 - (1 - confidence) / m`` at which ``m`` ratio intervals hold together.

    The ratio-decided differentials keep their own rule (Bonferroni-adjusted bootstrap intervals
    against ``ratio_tolerance``); the absolute-gap rule of :mod:`._compare` does not apply to them.
    """
    return confidence if m <= 1 else 1.0 - (1.0 - confidence) / m


def _subjects_in(counts: PairCounts, g: int) -> int:
    import numpy as np

    return int(np.unique(counts.photo_subject[counts.photo_group == g]).size)


def _side_result(
    side: _Side, counts: PairCounts, ev: _Evaluation, entry: _Entry, policy: Policy, seed: int
) -> CheckResult:
    import numpy as np

    from ..pairstats import inequity

    names = list(counts.groups)
    code = {name: i for i, name in enumerate(names)}
    fm, imp, found = _exact(counts, entry.threshold)
    gen = counts.genuine_comparisons.sum(axis=1)
    errors = fm if side.rate == "fmr" else found.misses
    totals = imp if side.rate == "fmr" else gen
    boot = ev.boot.fmr()[:, entry.index, :] if side.rate == "fmr" else ev.boot.fnmr()[:, entry.index, :]
    resampled = not (side.rate == "fmr" and not found.kept)
    level_each = policy.confidence
    m = max(1, len(ev.groups) - 1)
    level = _bonferroni(policy.confidence, m)
    tolerance = policy.ratio_tolerance
    notes: list[str] = []
    groups: dict[str, GroupRate] = {}
    methods: set[str] = set()
    for name in ev.groups:
        g = code[name]
        n, k = int(totals[g]), int(errors[g])
        rate = k / n if n else None
        ci: tuple[float, float] | None = None
        if n:
            effective = _subject_pairs(counts, g) if side.rate == "fmr" else max(1, _subjects_in(counts, g))
            if resampled and 0 < k < n:
                ci = _percentile(boot[:, g], level_each)
                methods.add("two-way bootstrap over people")
            if ci is None:
                # Nothing for a bootstrap to vary (0 or all errors), or pairs not kept: exact bounds on people.
                on = min(n, effective) if k in (0, n) else n
                scaled = round(k / n * on)
                ci = stats.proportion_interval(scaled, on, level_each, "clopper-pearson")
                methods.add(
                    "Clopper-Pearson on distinct people-pairs (zero or all errors)"
                    if k in (0, n)
                    else "Clopper-Pearson on comparisons (pairs not kept: treats comparisons as independent, too narrow)"
                )
        in_group = counts.photo_group == g
        groups[name] = GroupRate(
            name=name,
            photos=int(in_group.sum()),
            subjects=_subjects_in(counts, g),
            count=k,
            n=n,
            rate=rate,
            ci=ci,
            extra={"errors": k, "share_of_errors": k / max(1, int(errors.sum())) if errors.sum() else None},
        )
    if side.rate == "fmr" and not found.kept:
        notes.append(
            f"{int(fm.sum()):,} false matches at {entry.threshold:g} exceed max_kept: counts are exact, "
            "but intervals treat comparisons as independent (too narrow); raise max_kept for the two-way bootstrap"
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
        note = ""
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio_boot = boot[:, g] / boot[:, r]
        both = 0 < grp.count < grp.n and 0 < base.count < base.n and resampled
        ratio_ci = _percentile(ratio_boot, level) if both else None
        how = "two-way bootstrap over people (percentile)"
        if ratio_ci is None:
            # Bounds of each rate at the comparison's level, divided: conservative, honest at zero counts.
            lo_g, hi_g = _group_bounds(grp, counts, code[name], side, level)
            lo_r, hi_r = _group_bounds(base, counts, code[ref], side, level)
            ratio_ci = (lo_g / hi_r if hi_r > 0 else math.nan, hi_g / lo_r if lo_r > 0 else math.inf)
            how = "ratio of Clopper-Pearson bounds on distinct people (a count of 0 or all)"
            note = f"{name if grp.count in (0, grp.n) else ref} has {grp.count if grp.count in (0, grp.n) else base.count} {side.errors}: the ratio interval divides exact bounds"
        verdict = ratio_verdict(ratio_ci, tolerance)
        small = min(grp.subjects, base.subjects) < policy.min_subjects
        if small:
            verdict = "inconclusive"
            note = "; ".join(
                x for x in (note, f"fewer than {policy.min_subjects} people behind a rate (min_subjects)") if x
            )
        diff_ci = _percentile(boot[:, g] - boot[:, r], level) if resampled else None
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
        ratio_rows.append(
            {
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
        )

    # Inequity measures: point estimates over groups with a rate, intervals from the same replicates.
    rated = [code[n] for n in ev.groups if groups[n].rate is not None]
    fmr_point = (fm / np.maximum(imp, 1))[rated]
    fnmr_point = (found.misses / np.maximum(gen, 1))[rated]
    point = inequity(fmr_point, fnmr_point, ALPHA)
    fmr_b = ev.boot.fmr()[:, entry.index, rated]
    fnmr_b = ev.boot.fnmr()[:, entry.index, rated]
    spread = inequity(fmr_b, fnmr_b, ALPHA)
    measures = _measures(point, spread, side.rate, policy.confidence, resampled)

    allowed = counts.allowed()
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
    few = [n for n in ev.groups if groups[n].rate is not None and groups[n].count < 30]
    if few:
        notes.append(f"few {side.errors} (fewer than 30) behind {', '.join(few)}: wide intervals, unstable ratios")
    method = (
        f"{side.errors} at score >= {entry.threshold:.6g} among {side.units} ("
        + (
            f"threshold fixed to FMR {entry.calibration.target:g} on {entry.calibration.pool} impostor comparisons"
            if entry.calibration
            else "stated threshold"
        )
        + f"); per group: {', '.join(sorted(methods)) or 'none'}, {policy.confidence:.0%}; ratio to {ref}: "
        f"percentile interval at {level:.4g} (Bonferroni over {m}); verdict: fail if the ratio's interval lies "
        f"above {tolerance:g} or below 1/{tolerance:g}, pass if within, on {policy.bootstrap} two-way resamples, seed {seed}"
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


def _group_bounds(grp: GroupRate, counts: PairCounts, g: int, side: _Side, level: float) -> tuple[float, float]:
    on = _subject_pairs(counts, g) if side.rate == "fmr" else max(1, _subjects_in(counts, g))
    on = min(on, grp.n)
    return stats.proportion_interval(round((grp.rate or 0.0) * on), on, level, "clopper-pearson")


def _measures(
    point: dict[str, Any], spread: dict[str, Any], rate: str, confidence: float, resampled: bool
) -> dict[str, Any]:
    def pack(value: Any, boot: Any) -> dict[str, Any]:
        ci = _percentile(boot, confidence) if resampled else None
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


def _no_threshold(side: _Side, ev: _Evaluation, policy: Policy) -> list[CheckResult]:
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
    side: _Side,
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
        _FMR, counts, reference=reference, policy=policy, seed=seed, thresholds=thresholds, targets=targets
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
        _FNMR, counts, reference=reference, policy=policy, seed=seed, thresholds=thresholds, targets=targets
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
    bind_fmr = next((r for r in fmr if r.details.get("binding")), fmr[0])
    bind_fnmr = next((r for r in fnmr if r.details.get("binding")), fnmr[0])
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
        },
        "false_match_rate": rates(fmr),
        "false_non_match_rate": rates(fnmr),
        "uncertainty": f"{policy.confidence:.0%} two-way bootstrap intervals over people ({policy.bootstrap} resamples, seed {seed}); "
        "Clopper-Pearson on distinct people where a count is 0",
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
