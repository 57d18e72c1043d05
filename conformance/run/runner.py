"""Runs an analyzer over a dataset: one observation per photo, none lost; and over transformed variants."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..adapters.base import Analyzer, SessionPlan
    from ..dataset import Dataset, Photo
    from ..metamorphic import Transform
    from ..observation import Observation, Observations, Variant
    from .execution import ExecutorSpec, Recipe

__all__ = ["VariantPlan", "accounting", "analyze_dataset", "plan_variants"]

_BLIND = "the analyzer cannot look at transformed images (it only knows the photos it was given)"


@dataclass(frozen=True)
class VariantPlan:
    """Which photos to transform, and how, for ``transformation_invariance``."""

    photos: tuple[Photo, ...]
    transforms: tuple[Transform, ...]


def plan_variants(dataset: Dataset, *, photos: int, transforms: int, seed: int) -> VariantPlan:
    """Up to ``photos`` photos spread over subjects (each subject's first, then second, ...), in manifest
    order, and ``transforms`` benign transforms drawn with ``seed`` (:func:`~conformance.metamorphic.plan_transforms`):
    the same plan on every run, whatever the Python or hypothesis version."""
    from ..metamorphic import plan_transforms

    by_subject: dict[str, list[Photo]] = {}
    for photo in dataset.photos:
        by_subject.setdefault(photo.subject, []).append(photo)
    chosen: list[Photo] = []
    depth = 0
    while len(chosen) < photos and any(len(p) > depth for p in by_subject.values()):
        chosen.extend(p[depth] for p in by_subject.values() if len(p) > depth)
        depth += 1
    drawn = plan_transforms(transforms, seed) if transforms and chosen else []
    return VariantPlan(photos=tuple(chosen[:photos]), transforms=tuple(drawn))


def _variants(
    analyzer: Analyzer, plan: VariantPlan, baselines: dict[str, Observation]
) -> tuple[list[Variant] | None, str]:
    from ..adapters.base import capabilities_of, recorded
    from ..metamorphic import variant_photos
    from ..observation import Variant
    from .execution import hold_to_vocabulary

    if not capabilities_of(analyzer).sees_new_images:
        return None, _BLIND
    replayed = recorded(analyzer)
    if replayed is not None and replayed.emulated:
        return None, (
            "the answers come from the kit's emulator, which knows only the dataset's own photos: "
            "transformed variants would measure the emulator, not a model"
        )
    if not plan.photos or not plan.transforms:
        return None, "the policy plans no variants (invariance_photos or invariance_transforms is 0)"
    found: list[Variant] = []
    for photo in plan.photos:
        face = baselines[photo.id].face
        if face is None:
            continue  # no label to stay invariant: spare the calls
        # Judge each variant on the face the original was judged on, not whichever face is largest.
        with variant_photos(photo, plan.transforms, box=photo.box or face.box) as variants:
            if replayed is not None and not all(replayed.can_see(p) for _, p in variants):
                return None, (
                    "the recording holds no answers for the transformed variants; record them with "
                    "--record-mode new_episodes"
                )
            found.extend(
                Variant(photo.id, str(t), hold_to_vocabulary(analyzer, analyzer.analyze(p))) for t, p in variants
            )
    return found, ""


def _fix_advice(analyzer: Analyzer) -> str:
    """What a systematic failure's message says was kept and what to fix, for this kind of analyzer (rt14c F12)."""
    from ..adapters.base import capabilities_of
    from ..failures import FailureWatch

    declared = capabilities_of(analyzer)
    if declared.records:
        return FailureWatch.SERVICE
    if declared.failure_advice:
        return declared.failure_advice
    return "nothing is recorded. Fix the cause (the analyzer and what it reads)"


def analyze_dataset(
    analyzer: Analyzer,
    dataset: Dataset,
    *,
    variants: VariantPlan | None = None,
    executor: ExecutorSpec | None = None,
    recipe: Callable[[], Recipe] | None = None,
    show_progress: bool | None = False,
    cache: Path | None = None,
    systematic_failures: int | None = None,
    plan: SessionPlan | None = None,
) -> Observations:
    """Ask ``analyzer`` about every photo, in manifest order, and align the answers into a table.

    With a ``variants`` plan, also about transformed copies of the planned photos, when the analyzer
    can look at new images. Adapters turn per-photo failures (no face, an API error) into
    observations themselves; an exception that escapes an adapter is a fault of the run and stops it.
    ``executor`` says where the per-photo calls run (see :mod:`conformance.run.execution`; worker
    processes need ``recipe``); ``show_progress`` shows a progress bar on stderr (None: when it is
    a terminal). With ``cache`` (a project folder), an adapter that replays fixed answers has them
    read from :mod:`conformance.run.cache` when nothing they depend on changed, and stored there otherwise.

    Every observation is held to the analyzer's declared vocabulary, and ``systematic_failures``
    photos failing alike in a row (the policy key of that name; 20 when None, 0 never) stop the run
    with :class:`~conformance.run.execution.SystematicFailure` (see :mod:`conformance.run.execution`).

    The analyzer's session gets ``plan`` (a sequential look's photos and looks) completed with what this
    call knows: the variants it will send, the hosts a replay must reach, the processes sharing the rate.
    """
    from dataclasses import replace

    from ..adapters.base import SessionPlan, capabilities_of, provenance, recorded, session_of
    from ..observation import Observations
    from .execution import DEFAULT_SYSTEMATIC_FAILURES, ExecutorSpec, FailureWatch, analyze_photos, progress, workers

    key = _cache_key(analyzer, variants) if cache is not None else None
    if key is not None and cache is not None:
        from . import cache as observation_cache

        planned = len(variants.photos) * len(variants.transforms) if variants is not None else 0
        # Read within what this run's answers take: a huge or deeply built entry costs no more than a few times that.
        hit = observation_cache.load(cache, key, observation_cache.EntryBounds.of_run(dataset.photos, planned))
        if hit is not None:
            from .provenance import replayed_provenance

            # Where the answers came from is read again from the recording, never from the cache.
            info = {**replayed_provenance(analyzer), "observations_cache": hit.path}
            return Observations.build(
                dataset, hit.observations, analyzer=info, variants=hit.variants, variants_note=hit.variants_note
            )
    plan = plan or SessionPlan()
    if executor is not None and executor.kind == "dask":
        from urllib.parse import urlsplit

        # A replay blocks the network but for loopback: this process must still reach the Dask scheduler.
        host = urlsplit(executor.address if "://" in executor.address else f"tcp://{executor.address}").hostname
        plan = replace(plan, allowed_hosts=(host,) if host else ())
    if variants is not None:
        # An adapter that estimates the cost of live calls must count the variants too.
        plan = replace(plan, variant_calls=len(variants.photos) * len(variants.transforms))
    found: list[Variant] | None = None
    note = "no variants were planned" if capabilities_of(analyzer).sees_new_images else _BLIND
    spec = executor or ExecutorSpec()
    with workers(spec, recipe) as pool, session_of(analyzer, replace(plan, workers=pool.count if pool else 1)):
        provenance(analyzer)  # two vocabularies that disagree are refused before a call is spent
        limit = DEFAULT_SYSTEMATIC_FAILURES if systematic_failures is None else systematic_failures
        watch = FailureWatch(limit, advice=_fix_advice(analyzer))
        with progress(len(dataset), enabled=show_progress) as bar:
            observations = analyze_photos(
                analyzer, dataset.photos, executor=spec, pool=pool, recipe=recipe, bar=bar, watch=watch
            )
        watch.finish()  # no face in any photo: stopped before anything is cached or checked (red team 14d F3)
        if variants is not None:
            found, note = _variants(analyzer, variants, {o.photo: o for o in observations})
    info = provenance(analyzer)  # the declared vocabulary, which the representability check reads
    replayed = recorded(analyzer)
    if key is not None and cache is not None and (replayed is None or replayed.cacheable):
        from . import cache as observation_cache

        try:
            observation_cache.store(cache, key, observations, found, note)
        except OSError as exc:
            # The cache only speeds a re-run up: a full disk or a read-only folder costs that, never the run.
            import sys

            from .._text import printable

            print(
                printable(
                    f"conformance: WARNING: the observation cache could not be written in {cache} "
                    f"({exc.strerror or exc}); the run goes on without it (a re-run analyses again; free space or "
                    "pass --no-cache)"
                ),
                file=sys.stderr,
            )
    return Observations.build(dataset, observations, analyzer=info, variants=found, variants_note=note)


def _cache_key(analyzer: Analyzer, variants: VariantPlan | None) -> str | None:
    from ..adapters.base import recorded

    replayed = recorded(analyzer)
    if replayed is None:
        return None
    plan = (
        "" if variants is None else json.dumps([[p.id for p in variants.photos], [str(t) for t in variants.transforms]])
    )
    key = replayed.cache_key(plan)
    return key if isinstance(key, str) else None


def accounting(observations: Observations) -> str:
    """One line saying what became of every photo: analysed, no face, error (the reasons are in the report).

    When the analyzer withheld answers from its recording (the secret scan found something in them),
    the line says how many: the run used them, a replay will not find them.
    """
    counts = observations.outcome_counts()
    total = sum(counts.values())
    line = f"{total} photos: {counts['analysed']} analysed, {counts['no_face']} no face, {counts['error']} error"
    withheld = observations.analyzer.get("withheld")
    if isinstance(withheld, dict) and withheld:
        large = sum(1 for why in withheld.values() if "MB the kit records" in str(why))
        parts = []
        if len(withheld) > large:
            parts.append(f"{len(withheld) - large} answer(s) WITHHELD from the recording by the secret scan")
        if large:
            parts.append(f"{large} answer(s) WITHHELD from the recording as too large to record")
        line += (
            f"; {' and '.join(parts)} (photos named above): the recording is incomplete and a replay will not find them"
        )
    return line
