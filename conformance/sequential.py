"""Sequential audits (``--sequential``): send photos in batches, stop when every check's verdict is settled.

Why: consented photos and vendor calls are the scarce things of an audit. A design large enough to
decide a gap near the tolerance is far larger than one needs when the analyzer is clearly fair or
clearly not; a sequential audit looks at the data as they come and stops when the answer is in.

How, and why it stays valid under repeated looks:

- **Order.** People, not photos, are the units the checks' intervals rest on, so batches are of
  people, all of a person's photos at once. Each group's people are split into strata by what the
  checks need of them (:func:`stratum`: nonbinary, binary or undisclosed identity; one photo or two
  and more), each stratum's people are put in the order of a keyed hash of their subject id, keyed
  with the data's own digest (:func:`order_key`: every photo's id and image digest, sorted, so it
  does not depend on the manifest's row order), and look ``k`` of ``K`` holds the first
  ``ceil(k / K * n_s)`` people of every stratum ``s``: stratified by group, by what the checks need
  and by person, in an order no one chose and the data fix. So every group's people with two or
  more photos, and its nonbinary people (under any ``--group-by``), are there from the first look
  (red team 17c: a look without them read "not applicable" where the whole data would fail). Not the run's ``--seed``: a sequential verdict is
  one draw of the order, and with a seeded order the same data could be replayed under seed after
  seed (or with its rows shuffled) until the verdict came out as wanted. The same batches on every
  replay, re-derived by ``conformance verify``.
- **Error spending over a fixed maximum number of looks** (a group-sequential design; Lan & DeMets
  1983). Each verdict direction is a one-sided test at ``alpha`` (``(1 - confidence) / 2``). Look
  ``k``, at information fraction ``t_k = k / K``, spends ``alpha(t_k) - alpha(t_{k-1})`` of it, with
  Hwang-Shih-DeCani spending ``alpha(t) = alpha (1 - e^{-gamma t}) / (1 - e^{-gamma})``, ``gamma = -2``
  (:data:`GAMMA`): 0.0019, 0.0029, 0.0043, 0.0064 and 0.0095 of 0.025 over 5 looks. Chosen by
  computation (docs/explanation/methodology.md): for the average expected sample at a true gap of 0
  and at 3 times the tolerance, at the fixed plan's power, the group-sequential normal recursion
  (:mod:`conformance.sequential_design`, ``benchmarks/sequential_design_study.py``) puts gamma -2 within
  0.01 of the best design over 3 to 10 looks and the O'Brien-Fleming-type, Hwang-Shih-DeCani and
  power families; through the kit's own checks (``benchmarks/sequential_spending.py``) it sent the
  fewest photos of the four spendings tried, O'Brien-Fleming-type spending (the kit's before) among
  them. Each look's level: until December 2026 each look tested at its increment (0.0019, 0.0029,
  0.0043, 0.0064, 0.0095 over 5 looks), the error held by the union bound whatever the dependence
  between looks; that wasted most of the later looks' error and cost people (a sequential run sized for
  the fixed plan's power sent 1.12 of the fixed plan's photos at a true gap of 0). Now (``hsd(-2)/joint``,
  :data:`DEFAULT_SPENDING`) each look's level is solved on the looks' joint normal distribution so that
  a first crossing at look ``k`` spends exactly its increment (:func:`conformance.groupseq.joint_levels`:
  0.0019, 0.0034, 0.0060, 0.0103, 0.0174 over 5 looks), the textbook group-sequential boundary. It rests
  on the normal approximation of the checks' statistics (independent increments over the looks), so the
  error rates it keeps are *measured* through the kit's own checks (``benchmarks/sequential_audit.py``:
  wrong verdicts at the tolerance within Monte Carlo error of the stated alpha). At look ``k`` every
  check runs under the policy with confidence ``1 - 2 alpha_k``, so each direction is tested at
  ``alpha_k`` there. Reports made with the union bound state ``hsd(-2)`` and replay with it.
- **Stopping.** After each look, stop when every planned check is settled (pass, fail, or not
  applicable by construction); otherwise send the next batch. "Not applicable" (a whole check's, or
  a comparison's inside a pass) counts as settled only when it holds for the whole manifest, as the
  manifest's people, groups and photo counts say before any photo is sent (:func:`manifest_facts`,
  :func:`unsettled`): never from the photos sent so far, nor from what the analyzer answered (a group
  it abstained on entirely may be answered in the next look). At the last look the data have run
  out and the verdicts stand as they are. The report's verdicts and intervals are those of the look
  that stopped, at that look's level; the photos never sent are listed in ``report.json``'s
  ``photos`` with the outcome ``not needed``, never as analysed. The last look tests at a level below
  the fixed design's whole ``alpha`` (0.0174 against 0.025 with 5 looks at 95%; 0.0095 under the union
  bound): a run that takes every look can be inconclusive where the fixed run would settle, the price of
  looking early; the report's sequential block states both levels, and ``conformance plan --sequential``
  sizes the data for it (:mod:`conformance.sequential_design`).

``transformation_invariance`` is not run sequentially (its variants are drawn over the whole
dataset); it is reported not applicable with that reason.

Why one module: the look order, the error spending, the settled rule and the pass hold-backs (red team
17d F1) are the parts of one stopping rule, which ``run_looks`` applies and ``conformance verify`` replays;
read apart, a change to one (a new hold-back, another spending) is easily made without the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .dataset import Dataset, Photo
    from .observation import Observation, Observations
    from .policy import Policy
    from .results import CheckResult

__all__ = [
    "DEFAULT_LOOKS",
    "DEFAULT_SPENDING",
    "GAMMA",
    "HELD_BACK_BY",
    "SPENDINGS",
    "UNION_SPENDING",
    "UNSTATED_SPENDING",
    "Look",
    "ManifestFacts",
    "SequentialOutcome",
    "Spending",
    "full_run_holdbacks",
    "held_back",
    "look_holdbacks",
    "look_increments",
    "look_levels",
    "manifest_facts",
    "not_shown_clear",
    "order_key",
    "person_batches",
    "spending",
    "spending_named",
    "stratum",
    "unsettled",
]

from ._defaults import DEFAULT_LOOKS  # the option table's default too: one figure (red team 18 F3)
from .checks.check_ids import DISCLOSED_ONLY_CHECKS

# A look whose share of the error is below this is not taken: its share is carried to the next look. No
# dataset of people settles a check at a level that small (z above 6), and the checks' levels are held to
# 12 decimals (``checks._compare.error_rates``), which would round it off. O'Brien-Fleming-type spending,
# the kit's before, gave the first of 14 looks at 0.025 a share of 5e-17 (tested as a confidence of exactly 1);
# gamma -2 gives the first of 100 looks at the policy's smallest alpha, 5e-5, 1.6e-7: no look falls below it now.
MIN_LEVEL = 1e-9
NOT_NEEDED = "not needed"


# Hwang-Shih-DeCani's gamma, chosen by computing expected samples (module docstring; methodology.md).
GAMMA = -2.0


def _hsd(gamma: float) -> Callable[[float, float], float]:
    """Hwang-Shih-DeCani spending ``alpha (1 - exp(-gamma t)) / (1 - exp(-gamma))`` (Hwang, Shih & DeCani 1990)."""
    from .groupseq import hsd_spent

    def spent(alpha: float, fraction: float) -> float:
        return hsd_spent(alpha, fraction, gamma)

    return spent


def _obf(alpha: float, fraction: float) -> float:
    """O'Brien-Fleming-type spending ``2 Phi(-z_{1 - alpha/2} / sqrt(t))`` (Lan & DeMets 1983): the kit's before gamma -2.

    Kept exactly as the kit computed it (git history of this module, commit 9a706b7), so that a report
    made with it replays to the same looks.
    """
    from .groupseq import obf_spent

    return obf_spent(alpha, fraction)


UNION = "union"  # each look tests at its increment: the error held by the union bound
JOINT = "joint"  # each look's level from the looks' joint normal distribution (groupseq.joint_levels)


@dataclass(frozen=True)
class Spending:
    """An error-spending function and how its increments become look levels, by the stable name a report states.

    ``name`` is what ``report.json`` records (``hsd(-2)/joint``, ``hsd(-2)``, ``obf``) and ``conformance
    verify`` replays with; ``rule`` is how the stopping rule's sentence names it; ``parameters`` its
    parameters; ``boundaries`` how a look's level follows from the increments: :data:`UNION` (the
    increment itself) or :data:`JOINT` (solved on the looks' joint normal distribution).
    """

    name: str
    family: str
    parameters: Mapping[str, float]
    rule: str
    function: Callable[[float, float], float]
    boundaries: str = UNION

    def spent(self, alpha: float, fraction: float) -> float:
        """The one-sided error spent by information ``fraction`` (0 before the first look, ``alpha`` at 1)."""
        if fraction <= 0.0:
            return 0.0
        return self.function(alpha, min(fraction, 1.0))

    @property
    def held_by(self) -> str:
        """How the stated error is held over the looks, in words."""
        if self.boundaries == JOINT:
            return (
                "each look's level solved on the looks' joint normal distribution (non-binding boundaries; "
                "recursive numerical integration)"
            )
        return "held by the union bound"

    def to_json(self) -> dict[str, Any]:
        # Spendings held by the union bound were stated without "boundaries" before joint ones existed: their
        # reports replay to the same block (conformance verify compares it).
        joint = {"boundaries": self.boundaries} if self.boundaries != UNION else {}
        return {"name": self.name, "family": self.family, **dict(self.parameters), **joint}


# Every spending a report of this kit may state, by its stable name: the one runs use now, and the ones
# earlier kits used, so that their reports still replay (conformance verify) to the looks they took.
SPENDINGS: Mapping[str, Spending] = {
    s.name: s
    for s in (
        Spending(
            "hsd(-2)/joint",
            "Hwang-Shih-DeCani",
            {"gamma": GAMMA},
            f"Hwang-Shih-DeCani spending (gamma {GAMMA:g}; Lan-DeMets)",
            _hsd(GAMMA),
            JOINT,
        ),
        Spending(
            "hsd(-2)",
            "Hwang-Shih-DeCani",
            {"gamma": GAMMA},
            f"Hwang-Shih-DeCani spending (gamma {GAMMA:g}; Lan-DeMets)",
            _hsd(GAMMA),
        ),
        Spending("obf", "O'Brien-Fleming-type", {}, "O'Brien-Fleming-type spending (Lan-DeMets)", _obf),
    )
}
DEFAULT_SPENDING = "hsd(-2)/joint"  # what a sequential run spends with now
UNION_SPENDING = "hsd(-2)"  # what runs spent with before joint levels: each look at its increment (the union bound)
# What a report's sequential block without a "spending" field was made with: O'Brien-Fleming-type spending,
# the kit's until gamma -2 (reports stated no spending then). Reports made with gamma -2 and the union
# bound state "hsd(-2)".
UNSTATED_SPENDING = "obf"


def spending_named(name: str) -> Spending:
    """The spending ``name`` stands for; ValueError naming the known ones otherwise."""
    found = SPENDINGS.get(name)
    if found is None:
        raise ValueError(
            f"{name!r} is not an error spending this kit knows (it knows {', '.join(SPENDINGS)}): the report was "
            "made by another kit, or its sequential block was edited"
        )
    return found


def spending(alpha: float, fraction: float, name: str = DEFAULT_SPENDING) -> float:
    """The one-sided error spent by information ``fraction`` with spending ``name`` (default: Hwang-Shih-DeCani, ``gamma`` :data:`GAMMA`).

    ``alpha (1 - exp(-gamma t)) / (1 - exp(-gamma))`` (Hwang, Shih & DeCani 1990).

    Examples
    --------
    >>> round(spending(0.025, 1.0), 6)
    0.025
    >>> round(spending(0.025, 0.2), 5)
    0.00192
    >>> spending(0.025, 0.2, "obf") < 1e-6
    True
    """
    return spending_named(name).spent(alpha, fraction)


def look_increments(alpha: float, looks: int, spending: str = DEFAULT_SPENDING) -> list[float]:
    """The error each of ``looks`` equally spaced looks spends with ``spending``; they add up to ``alpha``."""
    if looks < 1:
        raise ValueError(f"looks must be at least 1, got {looks!r}")
    spend = spending_named(spending)
    spent = [spend.spent(alpha, k / looks) for k in range(looks + 1)]
    return [spent[k] - spent[k - 1] for k in range(1, looks + 1)]


def look_levels(alpha: float, looks: int, spending: str = DEFAULT_SPENDING) -> list[float]:
    """The one-sided level each of ``looks`` equally spaced looks tests at with ``spending``.

    Under the union bound, each look's increment (they add up to ``alpha``); with joint boundaries, the
    levels whose first crossings spend those increments (:func:`conformance.groupseq.joint_levels`).
    """
    increments = look_increments(alpha, looks, spending)
    if spending_named(spending).boundaries == JOINT:
        from .groupseq import joint_levels

        return joint_levels(increments)
    return increments


def order_key(dataset: Dataset) -> str:
    """The key of the look order: a SHA-256 over every photo's id and image digest, sorted (row order is no part of it)."""
    import hashlib

    hasher = hashlib.sha256()
    for line in sorted(f"{photo.id}\0{photo.digest}" for photo in dataset.photos):
        hasher.update(f"{line}\n".encode())
    return "sha256:" + hasher.hexdigest()


def _rank(key: str, subject: str) -> str:
    """A person's place in the look order: HMAC-SHA-256 of their subject id, keyed with the data's digest."""
    import hashlib
    import hmac

    return hmac.new(key.encode(), subject.encode(), hashlib.sha256).hexdigest()


def stratum(photos: Sequence[Photo]) -> tuple[str, bool]:
    """What the checks need of a person, from their photos in the manifest: identity kind, and two or more photos.

    ``("nonbinary" | "binary" | "undisclosed", has 2+ photos)``: nonbinary_representability needs
    nonbinary people, same_person_consistency people with two or more photos, every gender check
    people who disclosed an identity. Known before any photo is sent.
    """
    from .identity import UNDISCLOSED

    identity = photos[0].identity
    kind = "nonbinary" if identity == "nonbinary" else ("undisclosed" if identity == UNDISCLOSED else "binary")
    return kind, len(photos) >= 2


def person_batches(dataset: Dataset, groups: Sequence[str], looks: int) -> list[list[Photo]]:
    """Photos new at each look: every stratum's people in the data's own order, ``ceil(k / looks * n_s)`` by look ``k``.

    Strata are a group's people by :func:`stratum`, so each group's nonbinary people and people with
    two or more photos are in the first look. The order is fixed by the data (:func:`order_key`), not
    by a seed nor the manifest's row order.
    """
    photos: dict[tuple[str, str], list[Photo]] = {}
    for photo, group in zip(dataset.photos, groups, strict=True):
        photos.setdefault((group, photo.subject), []).append(photo)
    people: dict[tuple[str, str, bool], list[str]] = {}
    for (group, name), theirs in photos.items():
        people.setdefault((group, *stratum(theirs)), []).append(name)
    secret = order_key(dataset)
    order = {s: sorted(people[s], key=lambda name: (_rank(secret, name), name)) for s in sorted(people)}
    batches: list[list[Photo]] = []
    for k in range(1, looks + 1):
        batch: list[Photo] = []
        for (g, *_), names in order.items():
            start, stop = math.ceil((k - 1) / looks * len(names)), math.ceil(k / looks * len(names))
            for name in names[start:stop]:
                # a person's photos by id: the manifest's row order is no part of what is sent when
                batch.extend(sorted(photos[(g, name)], key=lambda photo: photo.id))
        batches.append(batch)
    return batches


@dataclass(frozen=True)
class ManifestFacts:
    """What the whole manifest lets the checks speak to, known before any photo is sent.

    ``disclosed``: someone described a gender identity; ``nonbinary``: someone is nonbinary;
    ``single_photo_groups``: groups in which no person who disclosed an identity has two or more photos
    (same_person_consistency is not applicable to them by construction).
    """

    disclosed: bool
    nonbinary: bool
    single_photo_groups: frozenset[str]
    # Groups with someone who disclosed an identity, and with a woman or man: whom the pass hold-backs read.
    disclosed_groups: frozenset[str] = frozenset()
    binary_groups: frozenset[str] = frozenset()


def manifest_facts(dataset: Dataset, groups: Sequence[str]) -> ManifestFacts:
    """:class:`ManifestFacts` of ``dataset`` under the group labels ``groups`` (one per photo)."""
    from .identity import UNDISCLOSED

    counts: dict[tuple[str, str], int] = {}
    present: set[str] = set()
    binary: set[str] = set()
    for photo, group in zip(dataset.photos, groups, strict=True):
        present.add(group)
        if photo.identity != UNDISCLOSED:
            counts[(group, photo.subject)] = counts.get((group, photo.subject), 0) + 1
        if photo.identity in ("woman", "man"):
            binary.add(group)
    multi = {group for (group, _), n in counts.items() if n >= 2}
    return ManifestFacts(
        disclosed=bool(counts),
        nonbinary=any(photo.identity == "nonbinary" for photo in dataset.photos),
        single_photo_groups=frozenset(present - multi),
        disclosed_groups=frozenset(group for group, _ in counts),
        binary_groups=frozenset(binary),
    )


def unsettled(
    check: str, verdict: str, comparisons: Sequence[tuple[str, str, str]], facts: ManifestFacts
) -> str | None:
    """Why a look's ``verdict`` of ``check`` is not settled (None when it is).

    ``comparisons``: its (group, reference, verdict). A fail is settled; an inconclusive is not. A pass
    or a "not applicable" is settled only when each "not applicable" in it holds for the whole manifest
    (``facts``): a comparison with a group in which no one has two or more photos
    (same_person_consistency), the empirical half of nonbinary_representability when the manifest has
    no nonbinary people, a whole check that reads only disclosed identities when nobody disclosed one,
    transformation_invariance (never run sequentially). Any other "not applicable" rests on the photos
    sent so far or on the analyzer's answers, which the next look can change.
    """
    if verdict == "fail":
        return None
    if verdict not in ("pass", "not applicable"):
        return f"{check} is {verdict}"
    if check == "transformation_invariance" and not comparisons:
        return None  # not run sequentially, whatever the data
    if verdict == "not applicable" and not comparisons:
        if check in DISCLOSED_ONLY_CHECKS and not facts.disclosed:
            return None
        return f"{check} is not applicable on the photos sent so far, which the manifest's other photos can change"
    for group, reference, said in comparisons:
        if said != "not applicable":
            continue
        if check == "same_person_consistency" and {group, reference} & facts.single_photo_groups:
            continue
        if check == "nonbinary_representability" and group == "nonbinary" and not facts.nonbinary:
            continue
        if check == "nonbinary_representability" and group == "nonbinary":
            return (
                "nonbinary_representability's empirical half is not applicable on the photos sent so far, but the "
                "manifest has nonbinary people"
            )
        if check == "same_person_consistency":
            return (
                f"same_person_consistency is not applicable to {group} vs {reference} on the photos sent so far, but "
                "the manifest has people with two or more photos in both"
            )
        return f"{check}'s {group} vs {reference} is not applicable on the photos sent so far"
    return None


# The rules that only ever hold a pass back, by the checks that apply them (checks/gender: _few_faces, the
# detection-failure ceiling; _low_coverage, min_coverage). The spending covers each verdict's own interval,
# not these (red team 17d F1): tested at a look's stricter level a ceiling hold-back gets weaker, and
# min_coverage, a point estimate, read at every look on part of the data, holds at some look by chance.
HELD_BACK_BY: Mapping[str, tuple[str, ...]] = {
    "misgender_gap": ("ceiling", "coverage"),
    "confidence_calibration": ("ceiling", "coverage"),
    "same_person_consistency": ("coverage",),
}


def full_run_holdbacks(observations: Observations, groups: Sequence[str], policy: Policy) -> dict[str, dict[str, str]]:
    """The full run's own hold-backs on ``observations``, at the fixed design's level (``policy``), by check and group.

    The checks' own functions, with the run's policy rather than a look's: the ceiling tested at the fixed
    design's alpha (a stricter level would hold back less), coverage read as the full run reads it.
    """
    from .checks.gender._common import _coverage, _few_faces, _groups, _low_coverage

    photo_group = _groups(observations, groups)
    found = {
        "ceiling": _few_faces(observations, photo_group, policy, observations.disclosed),
        "coverage": _low_coverage(_coverage(observations, photo_group), policy),
    }
    return {
        check: {g: why for rule in rules for g, why in found[rule].items()} for check, rules in HELD_BACK_BY.items()
    }


def not_shown_clear(
    observations: Observations, groups: Sequence[str], policy: Policy, level: float, facts: ManifestFacts
) -> dict[str, dict[str, str]]:
    """Per check and group: why its hold-backs are not shown not to apply to the whole manifest, at one-sided ``level``.

    An early look sees part of the people, in an order fixed by a keyed hash (a draw the data do not steer),
    and stands for the whole manifest. A pass may stop the run there only when the rules that would hold it
    back in the full run are shown not to apply to the whole data:

    - the ceiling holds back a group whose share of photos with no face found is *shown above*
      ``max_detection_failure``; it cannot when the whole data's share is at most the ceiling, shown by the
      upper limit of the share seen (people as the units, the policy's limits) at or below it;
    - min_coverage holds back a group whose share of faces of women and men given a woman or man label is
      below ``min_coverage`` (a point estimate); it cannot when the whole data's share is at least that,
      shown by the lower limit of the share seen at or above it.

    Each is a one-sided test at the look's own level: a pass that the full run holds back for either reason
    stops the run early with probability at most the sum of the early looks' levels under the union bound,
    and the error spent before the last look under joint boundaries (the share's standardised statistic is,
    to the same normal approximation as the verdicts', a Brownian motion over the looks): below alpha. A group
    with none of the units yet, while the manifest has some, has shown nothing.
    """
    import numpy as np

    from . import stats
    from .identity import SELF_DESCRIBED
    from .observation import GENDER_CODES

    labels = np.asarray(list(groups), dtype=object)
    binary = (observations.identity == SELF_DESCRIBED.index("woman")) | (
        observations.identity == SELF_DESCRIBED.index("man")
    )
    labelled = (observations.predicted == GENDER_CODES["woman"]) | (observations.predicted == GENDER_CODES["man"])
    ceiling, floor = policy.max_detection_failure, policy.min_coverage

    def shown_at_most(group: str, where: Any, missed: Any, limit: float) -> bool | None:
        if not where.any():
            return None
        _, inverse = np.unique(observations.subject[where], return_inverse=True)
        rate = stats.clustered_rate(
            np.bincount(inverse, weights=missed[where].astype(np.float64)), np.bincount(inverse).astype(np.float64)
        )
        return bool(stats.rate_tests(rate, limit, policy.interval).within <= level)

    found: dict[str, dict[str, str]] = {"ceiling": {}, "coverage": {}}
    for group in sorted(set(labels.tolist())):
        mine = labels == group
        if ceiling < 1.0:
            where = mine & observations.disclosed
            said = shown_at_most(group, where, ~observations.analysed, ceiling)
            if said is False or (said is None and group in facts.disclosed_groups):
                found["ceiling"][group] = (
                    f"its share of photos with no face found or an error ({int(np.sum(~observations.analysed & where))} "
                    f"of {int(where.sum())}) is not yet shown at or below max_detection_failure {ceiling:g} at this "
                    f"look's level {level:.3g}: the whole data's could be above it, which holds a pass back"
                )
        if floor > 0.0:
            where = mine & observations.analysed & binary
            said = shown_at_most(group, where, ~labelled, 1.0 - floor)
            if said is False or (said is None and group in facts.binary_groups):
                found["coverage"][group] = (
                    f"its share of faces of women and men given a woman or man label "
                    f"({int(np.sum(labelled & where))} of {int(where.sum())}) is not yet shown at or above "
                    f"min_coverage {floor:g} at this look's level {level:.3g}: the whole data's could be below it, "
                    "which holds a pass back"
                )
    return {
        check: {g: why for rule in rules for g, why in found[rule].items()} for check, rules in HELD_BACK_BY.items()
    }


def held_back(result: CheckResult, reasons: Mapping[str, str]) -> CheckResult:
    """``result`` with each passing comparison of a group in ``reasons`` made inconclusive, with the reason.

    As the checks hold a pass back themselves (``cannot_pass``): the verdict is the worst of the rest.
    """
    from .results import worst

    if not reasons or not any(c.verdict == "pass" for c in result.comparisons):
        return result
    comparisons = []
    for c in result.comparisons:
        blocking = [f"{g}: {reasons[g]}" for g in (c.group, c.reference) if g in reasons]
        if c.verdict == "pass" and blocking:
            c = replace(c, verdict="inconclusive", note="; ".join([*filter(None, [c.note]), *blocking]))
        comparisons.append(c)
    verdict = worst([result.verdict, *(c.verdict for c in comparisons)])
    return replace(result, comparisons=tuple(comparisons), verdict=verdict)


def look_holdbacks(
    results: Mapping[str, CheckResult],
    observations: Observations,
    groups: Sequence[str],
    policy: Policy,
    *,
    level: float | None,
    facts: ManifestFacts,
) -> dict[str, CheckResult]:
    """A look's results with the pass hold-backs of the full run applied (red team 17d F1).

    Every look: the full run's own rules at the fixed design's level (``policy``), on the photos sent. An
    early look (``level``, its one-sided level; None at the last look, which sees every photo and so is the
    full run's data): also each rule not shown not to apply to the whole data (:func:`not_shown_clear`).
    A pass held back is inconclusive, so it does not stop the run.
    """
    guarded = [c for c, r in results.items() if c in HELD_BACK_BY and any(x.verdict == "pass" for x in r.comparisons)]
    if not guarded:
        return dict(results)
    full = full_run_holdbacks(observations, groups, policy)
    early = not_shown_clear(observations, groups, policy, level, facts) if level is not None else {}
    out = dict(results)
    for check in guarded:
        out[check] = held_back(out[check], {**early.get(check, {}), **full[check]})
    return out


@dataclass(frozen=True)
class Look:
    """One look: photos sent so far, the one-sided level it tested at, and each check's verdict there."""

    index: int
    photos_sent: int
    alpha: float
    verdicts: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "look": self.index,
            "photos_sent": self.photos_sent,
            "alpha": self.alpha,
            "verdicts": dict(self.verdicts),
        }


@dataclass(frozen=True)
class SequentialOutcome:
    """What a sequential run did: looks taken, why it stopped, and the photos it never sent."""

    looks_planned: int
    looks: tuple[Look, ...]
    stopped: str
    not_needed: tuple[str, ...]
    alpha: float
    merged: tuple[int, ...] = ()  # looks not taken: their share of the error, below MIN_LEVEL (carried on: union)
    order: str = ""  # the key of the look order (order_key): the data's own digest
    last_level: float | None = None  # the level the last planned look tests at
    spending: str = DEFAULT_SPENDING  # the stable name of the error spending (SPENDINGS), stated in the report

    @property
    def photos_sent(self) -> int:
        return self.looks[-1].photos_sent if self.looks else 0

    def to_json(self) -> dict[str, Any]:
        last = self.looks[-1]
        merged = ""
        if self.merged:
            handed = (
                f"was carried on to look {self.merged[-1] + 1}"
                if spending_named(self.spending).boundaries == UNION
                else "was not spent"
            )
            merged = (
                f"; {_span(self.merged)} not taken (their share of the error, below {MIN_LEVEL:g}, could settle "
                f"nothing and {handed})"
            )
        return {
            "stopping_rule": (
                f"group-sequential: at most {self.looks_planned} looks at equal shares of each group's people "
                f"(in the data's own order, all of a person's photos at once), each verdict direction's one-sided error {self.alpha:g} "
                f"spent over the looks with {spending_named(self.spending).rule}, {spending_named(self.spending).held_by}; "
                "stop when every check is settled (pass, fail, or not applicable for the whole manifest, never "
                f"only for the photos sent so far){merged}"
            ),
            # The spending by its stable name: conformance verify replays the looks with the one stated here.
            "spending": spending_named(self.spending).to_json(),
            "looks_planned": self.looks_planned,
            "looks_taken": len(self.looks),
            **({"looks_not_taken": list(self.merged)} if self.merged else {}),
            "stopped": self.stopped,
            "photos_sent": self.photos_sent,
            "photos_not_needed": len(self.not_needed),
            "level_at_stop": last.alpha,
            # Fixed by the data, not by --seed nor row order: a replay under another seed sends the same looks.
            "order": {
                "by": (
                    "each group's people in strata (nonbinary, binary or undisclosed identity; one photo or two and "
                    "more), each stratum sorted by HMAC-SHA-256 of their subject id, keyed with order_key, look k "
                    "taking the first ceil(k / looks * n) of every stratum"
                ),
                "order_key": self.order,
                "order_key_of": "SHA-256 over every photo's id and image digest, sorted (not the manifest's row order)",
            },
            **self._last_look(),
            # The design is the run's to choose before the first photo, never after the verdicts (red team 17d F3).
            "design_note": (
                f"the design ({self.looks_planned} looks, {spending_named(self.spending).name} spending) holds the "
                f"stated error only when chosen before any verdict was seen: on data already answered (a predictions "
                "file, a complete recording) another --looks, or a run without --sequential, costs nothing, and "
                "picking among them after seeing their verdicts raises the error; there the run without --sequential "
                "is the reference verdict"
            ),
            "looks": [look.to_json() for look in self.looks],
        }

    def _last_look(self) -> dict[str, Any]:
        """The last look's level against the fixed design's: stricter, so a run taking every look can stay inconclusive."""
        if self.last_level is None:
            return {}
        return {
            "last_look_level": self.last_level,
            "fixed_design_level": self.alpha,
            "last_look_note": (
                f"the last look ({self.looks_planned}) tests each direction at {self.last_level:.3g}, stricter than the "
                f"fixed design's {self.alpha:g} (the rest of the error was spent on the earlier looks): a sequential "
                "run that takes every look can be inconclusive where a run without --sequential settles; a sequential "
                "verdict is one draw of the look order, which the data fix and conformance verify re-derives"
            ),
        }

    def not_needed_entries(self) -> list[dict[str, Any]]:
        """``report.json`` ``photos`` entries for the photos never sent."""
        reason = (
            f"not sent: the sequential audit stopped at look {self.looks[-1].index} of {self.looks_planned} "
            f"({self.stopped})"
        )
        return [{"photo": photo, "outcome": NOT_NEEDED, "reason": reason} for photo in self.not_needed]


def run_looks(
    dataset: Dataset,
    groups: Sequence[str],
    *,
    policy: Policy,
    looks: int,
    checks: Sequence[str],
    analyze: Callable[[Dataset], Observations],
    evaluate: Callable[[Observations, Sequence[str], Policy], dict[str, CheckResult]],
    spending: str = DEFAULT_SPENDING,
) -> tuple[Observations, tuple[str, ...], Policy, SequentialOutcome]:
    """Send batch after batch until every check is settled; returns the observations, their groups, the policy of the last look, and what happened.

    ``analyze`` asks the analyzer about a dataset's photos (the new batch only); ``evaluate`` runs
    the checks on observations with their group labels under a policy. ``spending`` is the error
    spending's name (:data:`SPENDINGS`): a run's is :data:`DEFAULT_SPENDING`; ``conformance verify``
    gives the one its report states.
    """
    from .observation import Observations

    alpha = round((1.0 - policy.confidence) / 2.0, 12)
    levels = look_levels(alpha, looks, spending)
    union = spending_named(spending).boundaries == UNION
    batches = person_batches(dataset, groups, looks)
    facts = manifest_facts(dataset, groups)
    label = {photo.id: group for photo, group in zip(dataset.photos, groups, strict=True)}
    sent: list[Photo] = []
    records: list[Observation] = []
    info: dict[str, Any] = {}
    taken: list[Look] = []
    observations: Observations | None = None
    stopped = "the data ran out: every look was taken"
    look_policy = policy
    carried = 0.0
    merged: list[int] = []
    for k, (batch, share) in enumerate(zip(batches, levels, strict=True), start=1):
        if batch:
            answered = analyze(replace(dataset, photos=tuple(batch)))
            records.extend(answered.records)
            info = dict(answered.analyzer)
            sent.extend(batch)
        # Under the union bound a look not taken hands its share on; under joint boundaries the levels were
        # solved with every look taken, and a look not taken only lowers the error: nothing is handed on.
        level = share + carried
        if k < looks and level < MIN_LEVEL:
            carried = level if union else 0.0  # too small a share to settle anything: this look is not taken
            merged.append(k)
            continue
        if not sent:
            carried = level if union else 0.0
            continue
        carried = 0.0
        subset = replace(dataset, photos=tuple(sent))
        observations = Observations.build(subset, records, analyzer=info, variants_note=_NO_VARIANTS)
        look_policy = replace(policy, confidence=1.0 - 2.0 * level)
        sent_groups = [label[p.id] for p in sent]
        results = look_holdbacks(
            evaluate(observations, sent_groups, look_policy),
            observations,
            sent_groups,
            policy,
            level=level if k < looks else None,
            facts=facts,
        )
        verdicts = {check: results[check].verdict for check in checks if check in results}
        taken.append(Look(k, len(sent), level, verdicts))
        open_checks = [
            why
            for check, result in results.items()
            if check in checks
            and (
                why := unsettled(
                    check, result.verdict, [(c.group, c.reference, c.verdict) for c in result.comparisons], facts
                )
            )
        ]
        if k < looks and not open_checks:
            stopped = f"every check settled at look {k}"
            break
    if observations is None:
        from .errors import ConformanceError

        raise ConformanceError(f"{dataset.manifest}: no photo to send")
    sent_ids = {p.id for p in sent}
    outcome = SequentialOutcome(
        looks_planned=looks,
        looks=tuple(taken),
        stopped=stopped,
        not_needed=tuple(p.id for p in dataset.photos if p.id not in sent_ids),
        alpha=alpha,
        merged=tuple(merged),
        order=order_key(dataset),
        last_level=levels[-1],
        spending=spending,
    )
    return observations, tuple(label[p.id] for p in sent), look_policy, outcome


def _span(looks: Sequence[int]) -> str:
    """``look 1`` or ``looks 1-3``: consecutive looks."""
    return f"look {looks[0]}" if len(looks) == 1 else f"looks {looks[0]}-{looks[-1]}"


_NO_VARIANTS = (
    "a sequential run does not transform photos (its variants would be drawn over photos it may never send); "
    "run without --sequential for transformation_invariance"
)
