"""One conformance run's inputs, loaded once: dataset, analyzer, observations, policy, grouping.

The CLI loads the context before starting pytest (so bad input is a one-line error, not a test
failure) and the plugin's fixtures reuse it in the same process; an xdist worker loads its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._defaults import DEFAULT_LOOKS, DEFAULT_MATCH_MODE, DEFAULT_RECORD_MODE, DEFAULT_SEED
from .._untrusted import CHOICES, shown, shown_list
from ..adapters.base import DEFAULT_TIMEOUT, capabilities_of
from ..errors import ConformanceError
from .execution import ExecutorSpec, dask_client

if TYPE_CHECKING:
    from ..adapters.base import AdapterSettings
    from ..dataset import Dataset
    from ..matching import SearchRun
    from ..observation import Observations
    from ..policy import Policy
    from ..results import CheckResult
    from ..sequential import SequentialOutcome

__all__ = [
    "DEFAULT_SEED",
    "Context",
    "RunOptions",
    "build_context",
    "check_results",
    "load_context",
    "recording_design_note",
    "same_design",
    "stated_designs",
]


@dataclass(frozen=True)
class RunOptions:
    """What a run was asked to do; hashable, so loading is cached per distinct set of options.

    One field per option of :data:`conformance.options.OPTIONS` (plus ``project_root``), each value
    already parsed and validated by that option's parser: build it with
    :func:`conformance.options.run_options`. ``demo`` selects the shipped demo dataset and its
    simulated predictions; it is never implied, so a run that forgot its dataset fails instead of
    auditing the demo by mistake.
    """

    demo: bool = False
    demo_matching: bool = False  # the face-search demo (Congress-style) instead of the gender demo
    dataset: str | None = None
    analyzer: str | None = None
    group_by: tuple[str, ...] = ()
    reference: str | None = None
    checks: tuple[str, ...] = ()
    policy: str | None = None
    profile: str | None = None
    seed: int = DEFAULT_SEED
    project_root: str | None = None
    record_mode: str = DEFAULT_RECORD_MODE  # the kit's own (--conformance-record-mode), never pytest-recording's
    cassette_dir: str | None = None
    allow_live: bool = False
    accept_vendor_retention: bool = False  # go live without a seen opt-out policy (conformance.retention)
    thresholds: tuple[float, ...] = ()  # similarity thresholds of the matching checks (default 80,90,95,99)
    target_fmr: tuple[float, ...] = ()  # 1:1 comparisons: target FMRs, overriding the policy's target_fmr
    match_mode: str = DEFAULT_MATCH_MODE  # search: 1:N, per probe; compare: 1:1, per probe-gallery pair
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)  # where analyzer calls run (conformance.run.execution)
    rate: float | None = None  # live calls per second at most (None: the adapter's default)
    timeout: float = DEFAULT_TIMEOUT  # seconds to wait for one answer of a service
    # A progress bar on stderr (None: when stderr is a terminal); not part of what was run, nor of the cache key.
    progress: bool | None = field(default=False, compare=False)
    # Read and keep replayed observations in <project_root>/.conformance_cache (conformance.run.cache).
    cache: bool = field(default=True, compare=False)
    # Send photos in batches of people and stop when every check is settled (conformance.sequential).
    sequential: bool = False
    looks: int = DEFAULT_LOOKS
    # The price of 1,000 images sent, for a live run's preflight estimate (None: conformance plan's DEFAULT_PRICE).
    price_per_1000: float | None = None

    def applied_to(self, policy: Policy) -> Policy:
        """``policy`` as this run holds it: ``--target-fmr`` wins over the policy's ``target_fmr`` (run and verify)."""
        return dataclasses.replace(policy, target_fmr=self.target_fmr) if self.target_fmr else policy


@dataclass(frozen=True)
class Context:
    """Everything the checks need, loaded and validated."""

    options: RunOptions
    analyzer_spec: str
    settings: AdapterSettings
    dataset: Dataset
    observations: Observations | None  # a gender run's
    policy: Policy
    groups: tuple[str, ...]
    reference: str
    checks: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    searches: SearchRun | None = None  # a face-matching run's
    thresholds: tuple[float, ...] = ()
    # A sequential run's: what it did, and the policy of the look that stopped it (its checks' level).
    sequential: SequentialOutcome | None = None
    look_policy: Policy | None = None
    # A sequential run answered from a recording whose sessions state another design: what its block says of it.
    recording_design_note: str = ""

    @property
    def analyzer(self) -> dict[str, Any]:
        source = (
            self.observations.analyzer
            if self.observations is not None
            else self.searches.matcher
            if self.searches
            else {}
        )
        return dict(source)


def _demo_paths() -> tuple[str, str, str]:
    """The demo: its manifest, replayed through the rekognition adapter from the shipped recordings."""
    from ..demo import CASSETTES, MANIFEST

    return str(MANIFEST), "rekognition", str(CASSETTES)


@lru_cache(maxsize=4)
def load_context(options: RunOptions) -> Context:
    """Load and validate everything a run needs; raises :class:`ConformanceError` with the way out."""
    return build_context(options)


def build_context(options: RunOptions, *, policy: Policy | None = None, spending: str | None = None) -> Context:
    """:func:`load_context`, not cached, with ``policy`` in force instead of the one the options name.

    ``conformance verify`` re-derives a report under the policy the report recorded (its canonical
    content, sealed by its digest), whatever the policy file says now, and a sequential report with
    the error ``spending`` its sequential block states (None: the kit's, ``sequential.DEFAULT_SPENDING``).
    """
    from ..adapters.base import AdapterSettings
    from ..adapters.registry import available, create
    from ..checks import GENDER_CHECKS, MATCHING_CHECKS
    from ..dataset import group_labels, load_dataset
    from ..policy import load_policy
    from .execution import Recipe
    from .runner import analyze_dataset, plan_variants

    # Every value was parsed and validated by its option (conformance.options).
    dataset_path, analyzer_spec, cassette_dir = options.dataset, options.analyzer, options.cassette_dir
    if options.demo_matching:
        from dataclasses import replace

        from ..demo import CASSETTES, MATCHING_MANIFEST

        if options.demo or dataset_path is not None or analyzer_spec is not None:
            raise ConformanceError("the matching demo brings its own dataset and analyzer: drop the other choices")
        # Replayed through the rekognition adapter, grouped as the published test reported it.
        return build_context(
            replace(
                options,
                demo_matching=False,
                dataset=str(MATCHING_MANIFEST),
                analyzer="rekognition",
                cassette_dir=cassette_dir or str(CASSETTES),
                group_by=options.group_by or ("race_ethnicity",),
                reference=options.reference or "white",
                # Like the published test, every search is non-mated: false_non_match_gap runs and is
                # reported not applicable, with that reason, rather than silently dropped.
            ),
            policy=policy,
            spending=spending,
        )
    if options.demo:
        if dataset_path is not None or analyzer_spec is not None:
            raise ConformanceError(
                "the demo brings its own dataset and analyzer: drop --dataset/--analyzer or the demo"
            )
        dataset_path, analyzer_spec, demo_cassettes = _demo_paths()
        cassette_dir = cassette_dir or demo_cassettes
    elif dataset_path is None:
        raise ConformanceError(
            "no dataset to audit: name a manifest and an analyzer (conformance run --dataset M --analyzer A; "
            "pytest --conformance-dataset M --conformance-analyzer A, or the ini keys conformance_dataset and "
            "conformance_analyzer), or ask for the shipped demo (--demo; pytest --conformance-demo)"
        )
    elif analyzer_spec is None:
        raise ConformanceError(
            f"name the analyzer (--analyzer, pytest --conformance-analyzer) as NAME[:ARGUMENT], "
            f"e.g. predictions:results.jsonl; "
            f"adapters: {', '.join(available())}"
        )
    assert dataset_path is not None
    assert analyzer_spec is not None

    from ..adapters.registry import compares_pairs

    if policy is None:
        policy = options.applied_to(
            load_policy(options.policy, profile=options.profile, project_root=options.project_root)
        )
    # An analyzer comparing every photo 1:1 needs neither a role column nor gender columns.
    dataset = load_dataset(dataset_path, identity_map=policy.identity, comparisons=compares_pairs(analyzer_spec))
    if cassette_dir is None and options.project_root is not None:
        cassette_dir = str(Path(options.project_root) / "cassettes")
    settings = AdapterSettings(
        record_mode=options.record_mode,
        cassette_dir=cassette_dir,
        allow_live=options.allow_live,
        accept_vendor_retention=options.accept_vendor_retention,
        **_price(options.price_per_1000),
        rate=options.rate,
        timeout=options.timeout,
    )
    analyzer = create(analyzer_spec, dataset=dataset, settings=settings)
    if dataset.is_matching or capabilities_of(analyzer).compares:
        if options.sequential:
            # Refused, never ignored: the reproduce line would claim a stopping rule the run did not use.
            raise ConformanceError(
                f"--sequential (pytest --conformance-sequential) audits gender runs only; {Path(dataset_path).name} "
                "is a face-matching run (a role column, or an analyzer comparing photos 1:1), whose gallery is "
                "enrolled whole before any probe is searched: drop --sequential"
            )
        return _matching_context(options, analyzer_spec, settings, dataset, analyzer, policy)
    wrong = [c for c in options.checks if c in MATCHING_CHECKS]
    if wrong:
        raise ConformanceError(
            f"{', '.join(wrong)} need a face-matching dataset (a manifest with a role column: gallery or probe); "
            f"{Path(dataset_path).name} has none"
        )
    wanted = options.checks or GENDER_CHECKS
    plan = (
        plan_variants(
            dataset, photos=policy.invariance_photos, transforms=policy.invariance_transforms, seed=options.seed
        )
        # Only analyzers that can look at transformed images get variants.
        if "transformation_invariance" in wanted and capabilities_of(analyzer).sees_new_images
        else None
    )
    if options.sequential:
        return _sequential_context(options, analyzer_spec, settings, dataset, analyzer, policy, wanted, spending)
    from .sharing import shared

    # Under pytest-xdist the first worker analyses and the others read its answers: one run, one set of answers.
    observations = shared((options, analyzer_spec), dataset, analyze_dataset)(
        analyzer,
        dataset,
        variants=plan,
        executor=options.executor,
        recipe=lambda: Recipe(analyzer_spec, settings, dataset),
        show_progress=options.progress,
        cache=Path(options.project_root) if options.cache and options.project_root else None,
        systematic_failures=policy.systematic_failures,
    )
    groups = tuple(group_labels(dataset, options.group_by))
    preferred = None if options.group_by else "cis"
    reference, notes = _reference(
        options.reference,
        groups,
        preferred,
        f"in {Path(dataset_path).name}",
        "group",
        _undisclosed_only(dataset, groups),
    )
    notes += _ignored_target_fmr(options, policy, "gender run")
    return Context(
        options=options,
        analyzer_spec=analyzer_spec,
        settings=settings,
        dataset=dataset,
        observations=observations,
        policy=policy,
        groups=groups,
        reference=reference,
        checks=options.checks or GENDER_CHECKS,
        notes=tuple(notes),
    )


def _sequential_context(
    options: RunOptions,
    analyzer_spec: str,
    settings: AdapterSettings,
    dataset: Dataset,
    analyzer: Any,
    policy: Policy,
    wanted: Sequence[str],
    spending: str | None = None,
) -> Context:
    """A gender run that sends photos in batches of people until every check is settled (conformance.sequential)."""
    from ..adapters.base import SessionPlan
    from ..dataset import group_labels
    from ..sequential import DEFAULT_SPENDING, run_looks
    from .execution import Recipe
    from .runner import analyze_dataset
    from .sharing import shared

    labels = tuple(group_labels(dataset, options.group_by))
    preferred = None if options.group_by else "cis"
    reference, notes = _reference(
        options.reference,
        labels,
        preferred,
        f"in {Path(dataset.manifest).name}",
        "group",
        _undisclosed_only(dataset, labels),
    )
    looks: tuple[int, ...] = ()
    expected: int | None = None
    alpha = round((1.0 - policy.confidence) / 2.0, 12)
    # Stated in every session line the run records (chosen before the first look); a replay compares with it.
    design = {"looks": options.looks, "spending": spending or DEFAULT_SPENDING, "alpha": alpha}
    if capabilities_of(analyzer).calls_service:
        # A live adapter's estimate counts the looks' photos, not only the manifest's.
        from itertools import accumulate

        from ..sequential import person_batches

        sizes = [len(b) for b in person_batches(dataset, labels, options.looks)]
        looks = tuple(accumulate(sizes))
        # And the photos it is expected to send, for the preflight's estimate (issue 17 item 4).
        from ..sequential_design import expected_sent

        expected = round(expected_sent(looks, alpha))

    def analyze(batch: Dataset) -> Observations:
        # Each look's answers once for all pytest-xdist workers, which then take the same decisions.
        return shared((options, analyzer_spec, *(p.id for p in batch.photos)), batch, analyze_dataset)(
            analyzer,
            batch,
            executor=options.executor,
            recipe=lambda: Recipe(analyzer_spec, settings, dataset),
            show_progress=options.progress,
            systematic_failures=policy.systematic_failures,
            # A recording holds the looks the run took: a replay checks it for this look's photos only.
            plan=SessionPlan(photos=batch.photos, looks=looks, looks_expected=expected, design=design),
        )

    def evaluate(observations: Observations, groups: Sequence[str], look: Policy) -> dict[str, CheckResult]:
        ctx = Context(
            options=options,
            analyzer_spec=analyzer_spec,
            settings=settings,
            dataset=dataset,
            observations=observations,
            policy=look,
            groups=tuple(groups),
            reference=reference,
            checks=tuple(wanted),
        )
        return {check: check_results(ctx, check)[0] for check in wanted}

    observations, groups, look, outcome = run_looks(
        dataset,
        labels,
        policy=policy,
        looks=options.looks,
        checks=wanted,
        analyze=analyze,
        evaluate=evaluate,
        spending=spending or DEFAULT_SPENDING,
    )
    other_design = recording_design_note(design, observations.analyzer.get("recording_sessions"))
    if other_design:
        import sys

        from .._text import printable

        print(printable(f"conformance: WARNING: {other_design}"), file=sys.stderr)
    notes.append(
        f"sequential audit: {outcome.photos_sent} of {len(dataset.photos)} photos sent in {outcome.looks[-1].index} of "
        f"{outcome.looks_planned} looks ({outcome.stopped}); {len(outcome.not_needed)} photos not needed; verdicts at "
        f"the last look's one-sided level {outcome.looks[-1].alpha:.3g} (error spending over the looks)"
        + ("; the recording's sessions state another design (sequential.recording_design_note)" if other_design else "")
    )
    return Context(
        options=options,
        analyzer_spec=analyzer_spec,
        settings=settings,
        dataset=dataset,
        observations=observations,
        policy=policy,
        groups=groups,
        reference=reference,
        checks=tuple(wanted),
        notes=tuple(notes),
        sequential=outcome,
        look_policy=look,
        recording_design_note=other_design,
    )


def _design_words(design: Mapping[str, Any]) -> str:
    return f"{design.get('looks')} looks, {design.get('spending')} spending, alpha {design.get('alpha')}"


def stated_designs(sessions: object) -> list[tuple[dict[str, Any], list[str]]]:
    """The sequential designs a recording's sessions state (report ``recording_sessions``), each once with when its
    sessions started, in the order first stated; a session of an older kit, or of a run without --sequential, states none."""
    found: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for session in sessions if isinstance(sessions, Sequence) and not isinstance(sessions, str) else ():
        design = session.get("design") if isinstance(session, Mapping) else None
        if not isinstance(design, Mapping):
            continue
        stated = {k: design.get(k) for k in ("looks", "spending", "alpha")}
        entry = found.setdefault(repr(sorted(stated.items())), (stated, []))
        entry[1].append(str(session.get("started") or "an unknown time"))
    return list(found.values())


def same_design(stated: Mapping[str, Any], design: Mapping[str, Any]) -> bool:
    """Whether a session's stated design is ``design``: the same looks and spending, and the same alpha (to 12 places)."""
    alpha, other = stated.get("alpha"), design.get("alpha")
    same_alpha = isinstance(alpha, (int, float)) and isinstance(other, (int, float)) and abs(alpha - other) < 1e-12
    return (
        stated.get("looks") == design.get("looks") and stated.get("spending") == design.get("spending") and same_alpha
    )


def recording_design_note(design: Mapping[str, Any], sessions: object) -> str:
    """What a sequential run says when its recording's sessions state another design than ``design`` ("" if none do).

    The looks and spending are the run's to choose before any verdict is seen (red team 17d F3): a recording made
    by a sequential run states its design in every session line; a run over it under another design (a replay
    after the verdicts were known, or a resumed run that changed --looks) chose its design after answers came.
    """
    others = [(stated, started) for stated, started in stated_designs(sessions) if not same_design(stated, design)]
    if not others:
        return ""
    said = "; ".join(
        f"{_design_words(stated)} (stated by {len(started)} session(s) from {min(started)})"
        for stated, started in others
    )
    return (
        f"this sequential run's design ({_design_words(design)}) is not the one its recording's sessions state: {said}. "
        "The recording's answers were there before this design was chosen, so it may have been chosen after seeing "
        "verdicts, and then it does not hold the stated error: the design the recording was made with is the one "
        f"chosen before any verdict (--looks {others[0][0].get('looks')}), and the run without --sequential is the "
        "reference verdict"
    )


def _undisclosed_only(dataset: Dataset, groups: Sequence[str]) -> frozenset[str]:
    """The groups in which nobody disclosed a gender identity: nothing to misgender against in them."""
    from ..identity import UNDISCLOSED

    disclosed = {group for photo, group in zip(dataset.photos, groups, strict=True) if photo.identity != UNDISCLOSED}
    return frozenset(groups) - disclosed


def _reference(
    requested: str | None,
    groups: Sequence[str],
    preferred: str | None,
    where: str,
    kind: str,
    undisclosed_only: frozenset[str] = frozenset(),
) -> tuple[str, list[str]]:
    """The reference group: as requested, else ``preferred`` when present, else the largest (said in a note).

    A group of undisclosed people only is never chosen while another group exists: the checks that judge a
    label against a self-description could not compare anything with it (rt14c F2).
    """
    from collections import Counter

    if requested is None and preferred is not None and preferred in groups:
        return preferred, []
    if requested is None:
        counts = Counter(groups)
        candidates = sorted(set(counts) - undisclosed_only) or sorted(counts)
        largest = max(candidates, key=counts.__getitem__)
        return largest, [f"reference group {shown(largest)} chosen as the largest {kind}; set it with --reference"]
    if requested not in groups:
        raise ConformanceError(
            f"reference group {shown(requested)} is not {where} (groups: {shown_list(sorted(set(groups)), most=CHOICES, quoted=False)}); "
            "choose one with --reference"
        )
    return requested, []


def _matching_context(
    options: RunOptions, analyzer_spec: str, settings: AdapterSettings, dataset: Dataset, matcher: Any, policy: Any
) -> Context:
    """A face-matching run: every probe searched against the gallery, grouped by a manifest column."""
    from ..checks import COMPARISON_CHECKS, GENDER_CHECKS, SEARCH_CHECKS
    from ..dataset import group_labels
    from ..matching import DEFAULT_THRESHOLDS
    from .matching import run_comparisons, run_searches, search_floor

    if capabilities_of(matcher).compares:  # 1:1 comparisons of every photo (embeddings, scores)
        wrong = [c for c in options.checks if c not in COMPARISON_CHECKS]
        if wrong:
            raise ConformanceError(
                f"{', '.join(wrong)} cannot run on 1:1 comparisons ({analyzer_spec}); checks: {', '.join(COMPARISON_CHECKS)}"
            )
        executor = options.executor
        run, reference, notes = run_comparisons(
            matcher,
            dataset,
            group_by=options.group_by,
            reference=options.reference,
            policy=policy,
            thresholds=options.thresholds,
            dask=dask_client(executor) if executor.kind.startswith("dask") else None,
        )
        if executor.kind != "serial" and not executor.kind.startswith("dask"):
            notes.append(
                f"--executor {executor}: 1:1 comparisons run blockwise in this process (or on Dask: dask-local:N, dask:ADDRESS)"
            )
        return Context(
            options=options,
            analyzer_spec=analyzer_spec,
            settings=settings,
            dataset=dataset,
            observations=None,
            policy=policy,
            groups=tuple(group_labels(dataset, options.group_by or None)),
            reference=reference,
            checks=options.checks or COMPARISON_CHECKS,
            notes=tuple(notes),
            searches=run,  # type: ignore[arg-type]  # shaped like a SearchRun where reports read it
            thresholds=run.stated,
        )

    wrong = [c for c in options.checks if c in GENDER_CHECKS]
    if wrong:
        raise ConformanceError(
            f"{', '.join(wrong)} need a gender dataset; {dataset.manifest.name} is a face-matching manifest "
            "(it has a role column): run false_match_gap or false_non_match_gap"
        )
    if any(c in COMPARISON_CHECKS for c in options.checks):
        raise ConformanceError(
            f"{', '.join(c for c in options.checks if c in COMPARISON_CHECKS)} measure 1:1 comparisons of every photo "
            "(--analyzer embeddings:FILE.npy, scores:FILE.csv or local:embeddings); this is a face-search run"
        )
    if not capabilities_of(matcher).searches:
        raise ConformanceError(f"the {analyzer_spec!r} adapter cannot search faces; it has no matcher")
    if not options.group_by:
        raise ConformanceError(
            f"{dataset.manifest.name} is a face-matching manifest: say which column groups the probes, e.g. "
            f"--group-by {shown(next(iter(dataset.columns), 'COLUMN'), quoted=False)} "
            f"(columns: {shown_list(dataset.columns, most=CHOICES, quoted=False) or 'none'})"
        )
    thresholds = tuple(sorted(set(options.thresholds or DEFAULT_THRESHOLDS) | {policy.binding_threshold}))
    floor = search_floor(matcher, thresholds)
    low = [t for t in thresholds if t < floor]
    if low:
        raise ConformanceError(
            f"threshold {low[0]:g} is below the search threshold {floor:g} the matches were produced with: "
            "nothing below it was returned; choose thresholds at or above it"
        )
    searches = run_searches(matcher, dataset, floor=floor, systematic_failures=policy.systematic_failures)
    groups = tuple(group_labels(dataset, options.group_by))
    probe_groups = [g for g, p in zip(groups, dataset.photos, strict=True) if p.role == "probe"]
    reference, notes = _reference(
        options.reference, probe_groups, None, f"among the probes of {dataset.manifest.name}", "group of probes"
    )
    if options.executor != ExecutorSpec():
        notes.append(f"--executor {options.executor} spreads a gender run's photos; face searches ran one at a time")
    notes += _ignored_target_fmr(options, policy, "face-search run")
    return Context(
        options=options,
        analyzer_spec=analyzer_spec,
        settings=settings,
        dataset=dataset,
        observations=None,
        policy=policy,
        groups=groups,
        reference=reference,
        checks=options.checks or SEARCH_CHECKS,
        notes=tuple(notes),
        searches=searches,
        thresholds=thresholds,
    )


def _ignored_target_fmr(options: RunOptions, policy: Policy, kind: str) -> list[str]:
    """A note when target FMRs were set for a run that has no use for them (the console and reports show it).

    Thresholds fixed to a target false-match rate are a 1:1 comparison run's (embeddings, scores,
    local:embeddings); a gender run has no threshold, a face search reads the similarity thresholds
    (--thresholds, binding_threshold). Setting one there silently did nothing.
    """
    from ..policy import Policy as Defaults

    if options.target_fmr:
        given = "--target-fmr (ini conformance_target_fmr)"
    elif policy.target_fmr != Defaults().target_fmr:
        given = f"target_fmr in the policy ({policy.source})"
    else:
        return []
    note = (
        f"{given} applies to 1:1 comparison runs only (--analyzer embeddings:FILE, scores:FILE or local:embeddings); "
        f"this {kind} ignores it"
        + ("; its similarity thresholds are --thresholds and binding_threshold" if "search" in kind else "")
    )
    return [note]


def check_results(ctx: Context, check_id: str) -> list[CheckResult]:
    """A check's results on the run's data: one for a gender check, one per threshold for a matching check.

    ``transformation_invariance`` on a run with no transformed variants (an analyzer that cannot be
    shown a new image) is "not applicable", with the reason. Raises :class:`ConformanceError` for a
    check the run's kind of data cannot make.
    """
    from ..checks import MATCHING_CHECKS, run_check, run_matching_check

    common: dict[str, Any] = {
        "groups": ctx.groups,
        "reference": ctx.reference,
        "policy": ctx.look_policy or ctx.policy,
        "seed": ctx.options.seed,
    }
    if check_id in MATCHING_CHECKS:
        if ctx.searches is None:
            raise ConformanceError(f"{check_id} needs a face-matching dataset (a role column)")
        return run_matching_check(
            check_id, ctx.searches, thresholds=ctx.thresholds, mode=ctx.options.match_mode, **common
        )
    if ctx.observations is None:
        raise ConformanceError(f"{check_id} needs a gender dataset; this run is face matching")
    result = run_check(check_id, ctx.observations, **common)
    if check_id == "transformation_invariance" and ctx.observations.variants is None:
        result = _not_applicable(result, ctx.observations.variants_note)
    if ctx.sequential is not None:
        result = _sequential_holdbacks(ctx, ctx.sequential, ctx.observations, check_id, result)
    return [result]


def _sequential_holdbacks(
    ctx: Context, outcome: SequentialOutcome, observations: Observations, check_id: str, result: CheckResult
) -> CheckResult:
    """The stopping look's result with the full run's pass hold-backs, as the look took it (sequential.look_holdbacks)."""
    from ..dataset import group_labels
    from ..sequential import look_holdbacks, manifest_facts

    last = outcome.looks[-1]
    facts = manifest_facts(ctx.dataset, group_labels(ctx.dataset, ctx.options.group_by))
    level = last.alpha if last.index < outcome.looks_planned else None
    return look_holdbacks({check_id: result}, observations, ctx.groups, ctx.policy, level=level, facts=facts)[check_id]


def _not_applicable(result: CheckResult, why: str) -> CheckResult:
    """``transformation_invariance`` with no variants, as "not applicable" with the reason.

    This run could not show the analyzer a new image by construction (predictions of a fixed set of
    photos, the kit's emulator that knows only the dataset's photos, a policy planning none): a
    result the data cannot speak to, never a check left out.
    """
    from ..results import CheckResult

    if str(result.verdict) == "not applicable":  # the check says so itself (issue 13)
        return result
    data = result.to_dict()
    reason = why or "the analyzer cannot look at new images"
    data.update(verdict="not applicable", notes=[f"not applicable: no transformed variants: {reason}"])
    return CheckResult.from_dict(data)


def _price(given: float | None) -> dict[str, Any]:
    """The adapter's price settings: ``--price-per-1000`` if given, else conformance plan's dated list price."""
    from .._defaults import DEFAULT_PRICE

    if given is None:
        return {"price_per_1000": DEFAULT_PRICE.per_1000, "price_source": DEFAULT_PRICE.source}
    return {"price_per_1000": given, "price_source": "given with --price-per-1000"}
