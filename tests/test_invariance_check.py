"""``transformation_invariance`` as a pure check, on variants written out by hand; and ``plan_variants``.

Each scenario spells out every photo's and every variant's answer, so flips, denominators and lost
faces are hand counts; with Wilson limits (``interval = "wilson"``) gap intervals come from
statsmodels' Newcombe interval and group intervals from its Wilson interval, not from the kit.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from builders import people, shot, write_dataset
from statsmodels.stats.proportion import (  # type: ignore[import-untyped]
    confint_proportions_2indep,
    proportion_confint,
)

from conformance import Dataset, Face, Observation, Observations, group_labels, load_dataset, load_policy, run_check
from conformance.adapters.registry import create
from conformance.metamorphic import plan_transforms
from conformance.observation import Variant
from conformance.results import CheckResult
from conformance.run.runner import analyze_dataset, plan_variants

SEED = 20261121
WILSON = replace(load_policy(), interval="wilson")
EXACT = 1e-12  # the kit and these expectations call the same statsmodels routines; only float noise may differ


def female(confidence: float | None = 90.0) -> Face:
    return Face(label="Female", gender="woman", confidence=confidence)


def male(confidence: float | None = 90.0) -> Face:
    return Face(label="Male", gender="man", confidence=confidence)


def seen(photo: str, face: Face | None) -> Observation:
    """An analysed photo with that face, or ``no_face`` when there is none."""
    if face is None:
        return Observation(photo=photo, outcome="no_face", reason="no face found")
    return Observation(photo=photo, outcome="analysed", face=face, faces=1)


def photo_ids(dataset: Dataset) -> dict[str, str]:
    """Subject -> its one photo's id."""
    return {p.subject: p.id for p in dataset.photos}


@pytest.fixture
def dataset(tmp_path: Path) -> Dataset:
    """Six cis women and seven trans women, one photo each (so each subject is one unit: Newcombe applies)."""
    shots = people("c", 6, identity="woman", trans="no") + people("t", 7, identity="woman", trans="yes")
    manifest, _ = write_dataset(tmp_path / "data", shots)
    return load_dataset(manifest)


def scenario(dataset: Dataset, *, with_variants: bool = True, note: str = "") -> Observations:
    """The photos' answers and the variants' answers, written out one by one.

    cis   c-0000 mirror: Female 90 -> Male 70 (flip, -20); crop=0.1: no face (lost)
          c-0001..c-0005 mirror: Female -> Female 88
    trans t-0000 mirror: Female 90 -> Male 95 (flip, +5)
          t-0001 mirror: Female 80 -> Male 60 (flip, -20)
          t-0002 mirror: Female (no confidence) -> Male 75 (flip, change unknown)
          t-0003, t-0004 mirror: Female -> Female 90
          t-0005 mirror: Female -> no face (lost)
          t-0006 no face on the photo itself; its mirror: Female (not comparable, not lost)
    """
    ids = photo_ids(dataset)
    base = {subject: female() for subject in ids}
    base["t-0001"] = female(80.0)
    base["t-0002"] = female(None)
    base["t-0006"] = None
    records = [seen(ids[s], face) for s, face in base.items()]
    variants = [
        Variant(ids["c-0000"], "mirror", seen(ids["c-0000"] + "~mirror", male(70.0))),
        Variant(ids["c-0000"], "crop=0.1", seen(ids["c-0000"] + "~crop=0.1", None)),
        *(Variant(ids[f"c-000{i}"], "mirror", seen(ids[f"c-000{i}"] + "~mirror", female(88.0))) for i in range(1, 6)),
        Variant(ids["t-0000"], "mirror", seen(ids["t-0000"] + "~mirror", male(95.0))),
        Variant(ids["t-0001"], "mirror", seen(ids["t-0001"] + "~mirror", male(60.0))),
        Variant(ids["t-0002"], "mirror", seen(ids["t-0002"] + "~mirror", male(75.0))),
        Variant(ids["t-0003"], "mirror", seen(ids["t-0003"] + "~mirror", female(90.0))),
        Variant(ids["t-0004"], "mirror", seen(ids["t-0004"] + "~mirror", female(90.0))),
        Variant(ids["t-0005"], "mirror", seen(ids["t-0005"] + "~mirror", None)),
        Variant(ids["t-0006"], "mirror", seen(ids["t-0006"] + "~mirror", female(90.0))),
    ]
    return Observations.build(
        dataset,
        records,
        analyzer={"name": "by hand", "adapter": "test"},
        variants=variants if with_variants else None,
        variants_note=note,
    )


def test_flips_and_denominators_are_hand_counts(dataset: Dataset) -> None:
    result = run_check(
        "transformation_invariance",
        scenario(dataset),
        groups=group_labels(dataset),
        reference="cis",
        policy=WILSON,
        seed=SEED,
    )
    cis, trans = result.groups["cis"], result.groups["trans"]
    # cis: c-0000..c-0005 compared (6), one flip; the crop of c-0000 lost the face and is not counted.
    assert (cis.count, cis.n) == (1, 6)
    # trans: t-0000..t-0004 compared (5), three flips; t-0005 lost its face, t-0006 had none to begin with.
    assert (trans.count, trans.n) == (3, 5)
    assert cis.rate == pytest.approx(1 / 6)
    assert trans.rate == pytest.approx(3 / 5)
    assert (cis.photos, cis.subjects, trans.photos, trans.subjects) == (6, 6, 7, 7)
    for rate in (cis, trans):
        assert rate.ci is not None
        low, high = proportion_confint(rate.count, rate.n, alpha=0.05, method="wilson")
        assert rate.ci == pytest.approx((low, high), abs=EXACT)


def test_details_list_flips_losses_and_transforms(dataset: Dataset) -> None:
    result = run_check(
        "transformation_invariance",
        scenario(dataset),
        groups=group_labels(dataset),
        reference="cis",
        policy=load_policy(),
        seed=SEED,
    )
    ids = photo_ids(dataset)
    details = result.details
    assert details["variants"] == 14  # 7 cis (6 mirrors and a crop) + 7 trans mirrors
    assert details["faces_lost"] == 2  # c-0000's crop, t-0005's mirror
    assert details["transforms"] == ["crop=0.1", "mirror"]
    assert details["flips"] == [
        {"photo": ids["c-0000"], "transform": "mirror", "from": "Female", "to": "Male", "confidence_change": -20.0},
        {"photo": ids["t-0000"], "transform": "mirror", "from": "Female", "to": "Male", "confidence_change": 5.0},
        {"photo": ids["t-0001"], "transform": "mirror", "from": "Female", "to": "Male", "confidence_change": -20.0},
        {"photo": ids["t-0002"], "transform": "mirror", "from": "Female", "to": "Male", "confidence_change": None},
    ]
    # 14 variants of 13 photos: every photo has a variant, c-0000 two.
    assert any(
        "14 variants of 13 photos" in note and "4 flipped the label, 2 lost the face" in note for note in result.notes
    )


def test_gap_interval_is_newcombe_at_the_checks_level(dataset: Dataset) -> None:
    policy = WILSON
    result = run_check(
        "transformation_invariance",
        scenario(dataset),
        groups=group_labels(dataset),
        reference="cis",
        policy=policy,
        seed=SEED,
    )
    (comparison,) = result.comparisons
    assert (comparison.group, comparison.reference) == ("trans", "cis")
    assert comparison.level == policy.confidence
    low, high = confint_proportions_2indep(3, 5, 1, 6, method="newcomb", compare="diff", alpha=1 - policy.confidence)
    assert comparison.ci == pytest.approx((low, high), abs=EXACT)
    assert comparison.difference == pytest.approx(3 / 5 - 1 / 6)
    assert "Newcombe" in comparison.method
    # 5 and 6 subjects are fewer than the default min_subjects (10): no verdict either way.
    assert policy.min_subjects > 6
    assert comparison.verdict == "inconclusive"


def test_a_clear_gap_fails(tmp_path: Path) -> None:
    """Trans photos flip on 5 of 6 mirrors, cis on 0 of 7: with min_subjects 5 the gap fails."""
    shots = people("c", 7, identity="woman", trans="no") + people("t", 6, identity="woman", trans="yes")
    manifest, _ = write_dataset(tmp_path / "data", shots)
    dataset = load_dataset(manifest)
    ids = photo_ids(dataset)
    records = [seen(pid, female()) for pid in ids.values()]
    flipping = {f"t-000{i}" for i in range(5)}
    variants = [
        Variant(pid, "mirror", seen(pid + "~mirror", male() if subject in flipping else female()))
        for subject, pid in ids.items()
    ]
    observations = Observations.build(dataset, records, variants=variants)
    policy = replace(load_policy(profile="ci"), interval="wilson", min_subjects=5)
    result = run_check(
        "transformation_invariance",
        observations,
        groups=group_labels(dataset),
        reference="cis",
        policy=policy,
        seed=SEED,
    )
    assert (result.groups["trans"].count, result.groups["trans"].n) == (5, 6)
    assert (result.groups["cis"].count, result.groups["cis"].n) == (0, 7)
    (comparison,) = result.comparisons
    low, high = confint_proportions_2indep(5, 6, 0, 7, method="newcomb", compare="diff", alpha=1 - policy.confidence)
    assert comparison.ci == pytest.approx((low, high), abs=EXACT)
    # Newcombe's lower bound, 0.30, lies above the tolerance 0.05: the whole interval does.
    assert low > policy.tolerance_for("transformation_invariance")
    assert comparison.verdict == "fail"
    assert result.verdict == "fail"


def test_no_variants_is_not_applicable_and_says_why(dataset: Dataset) -> None:
    note = "the analyzer cannot look at transformed images (it only knows the photos it was given)"
    result = run_check(
        "transformation_invariance",
        scenario(dataset, with_variants=False, note=note),
        groups=group_labels(dataset),
        reference="cis",
        policy=load_policy(),
        seed=SEED,
    )
    # The data cannot speak to the check by construction: not applicable, never a failed gate.
    assert result.verdict == "not applicable"
    assert result.groups == {}
    assert result.comparisons == ()
    assert any(note in n and "applies to an analyzer that can be shown new images" in n for n in result.notes)


def test_a_predictions_file_gives_no_variants(tmp_path: Path) -> None:
    """Through the runner: a predictions file cannot answer for transformed images, and the check says so."""
    manifest, predictions = write_dataset(tmp_path / "data", people("c", 3, trans="no") + people("t", 3, trans="yes"))
    dataset = load_dataset(manifest)
    plan = plan_variants(dataset, photos=4, transforms=2, seed=SEED)
    observations = analyze_dataset(create(f"predictions:{predictions}", dataset=dataset), dataset, variants=plan)
    assert observations.variants is None
    assert "cannot look at transformed images" in observations.variants_note
    result = run_check(
        "transformation_invariance",
        observations,
        groups=group_labels(dataset),
        reference="cis",
        policy=load_policy(),
        seed=SEED,
    )
    assert result.verdict == "not applicable"
    assert any("cannot look at transformed images" in n for n in result.notes)


# --- plan_variants --------------------------------------------------------------------------------


@pytest.fixture
def uneven(tmp_path: Path) -> Dataset:
    """Subjects a (3 photos), b (1) and c (2), interleaved in the manifest: a b a c a c."""
    manifest, _ = write_dataset(tmp_path / "uneven", [shot(s) for s in "abacac"])
    return load_dataset(manifest)


def test_plan_spreads_photos_over_subjects(uneven: Dataset) -> None:
    a1, b1, a2, c1, a3, c2 = (p.id for p in uneven.photos)
    assert [p.subject for p in uneven.photos] == list("abacac")
    # Every subject's first photo (a, b, c in order of first appearance), then second photos: a's comes first.
    assert [p.id for p in plan_variants(uneven, photos=4, transforms=3, seed=5).photos] == [a1, b1, c1, a2]
    assert [p.id for p in plan_variants(uneven, photos=2, transforms=3, seed=5).photos] == [a1, b1]
    # More than the dataset has: all six, first photos, then second (a, c), then a's third.
    assert [p.id for p in plan_variants(uneven, photos=10, transforms=3, seed=5).photos] == [a1, b1, c1, a2, c2, a3]


@pytest.mark.parametrize(("count", "seed"), [(3, 5), (8, SEED)])
def test_plan_draws_benign_transforms_with_the_seed(uneven: Dataset, count: int, seed: int) -> None:
    plan = plan_variants(uneven, photos=4, transforms=count, seed=seed)
    assert list(plan.transforms) == plan_transforms(count, seed)
    assert len(plan.transforms) == count
    assert plan == plan_variants(uneven, photos=4, transforms=count, seed=seed)


def test_plan_without_transforms_or_photos_is_empty(uneven: Dataset) -> None:
    assert plan_variants(uneven, photos=4, transforms=0, seed=5).transforms == ()
    empty = plan_variants(uneven, photos=0, transforms=3, seed=5)
    assert (empty.photos, empty.transforms) == ((), ())


# -- rt14c F7: a variant whose call failed is named as a failure, with its reason, never as a lost face ---------


def test_variants_that_raised_are_failures_with_their_reason_not_lost_faces(dataset: Dataset) -> None:
    ids = photo_ids(dataset)
    records = [seen(photo, female()) for photo in ids.values()]
    reason = "RuntimeError: unexpected image size (raised by python:m:analyze at m.py line 3)"
    # cis: every mirror answered (Female); trans: every mirror raised, and t-0000's crop found no face.
    variants = [
        *(Variant(ids[f"c-000{i}"], "mirror", seen(ids[f"c-000{i}"] + "~mirror", female())) for i in range(6)),
        *(
            Variant(ids[f"t-000{i}"], "mirror", Observation(ids[f"t-000{i}"] + "~mirror", "error", reason=reason))
            for i in range(7)
        ),
        Variant(ids["t-0000"], "crop=0.1", seen(ids["t-0000"] + "~crop=0.1", None)),
    ]
    observations = Observations.build(
        dataset, records, analyzer={"name": "by hand", "adapter": "test"}, variants=variants
    )
    result = run_check(
        "transformation_invariance",
        observations,
        groups=group_labels(dataset),
        reference="cis",
        policy=WILSON,
        seed=SEED,
    )
    assert result.details["faces_lost"] == 1  # the crop, not the seven failures
    assert result.details["variant_errors"] == 7
    assert result.details["variant_error_reasons"] == [{"reason": reason, "variants": 7}]
    assert (
        f"14 variants of 13 photos (crop=0.1, mirror); 0 flipped the label, 1 lost the face, 7 failed (7 x {reason})"
        in (result.notes)
    )
    assert result.verdict == "inconclusive"
    (comparison,) = result.comparisons
    assert f"trans: 7 of its variants failed, none answered ({reason})" in comparison.note


def _many(tmp_path: Path, each: int) -> Dataset:
    shots = people("c", each, identity="woman", trans="no") + people("t", each, identity="woman", trans="yes")
    manifest, _ = write_dataset(tmp_path / "data", shots)
    return load_dataset(manifest)


def _invariance(observations: Observations, dataset: Dataset) -> CheckResult:
    return run_check(
        "transformation_invariance",
        observations,
        groups=group_labels(dataset),
        reference="cis",
        policy=WILSON,
        seed=SEED,
    )


def test_losing_the_face_on_half_the_variants_cannot_pass(tmp_path: Path) -> None:
    """An analyzer that finds no face on the trans variants it would flip (half of them) showed no flip at all,
    and passed. 200 of 400 trans variants lost is 50%, far above max_detection_failure 0.2 (Wilson's lower limit
    on 200/400 is about 0.45): the trans comparison is held back, inconclusive, saying why."""
    dataset = _many(tmp_path, 400)
    ids = photo_ids(dataset)
    records = [seen(pid, female()) for pid in ids.values()]
    variants = [
        Variant(pid, "mirror", seen(pid + "~mirror", None if s.startswith("t-") and int(s[2:]) % 2 else female()))
        for s, pid in ids.items()
    ]
    result = _invariance(Observations.build(dataset, records, variants=variants), dataset)
    assert result.details["faces_lost"] == 200
    (comparison,) = result.comparisons
    assert comparison.verdict == "inconclusive"
    assert "no face found or an error on 200 of 400 variants of photos with a face (50.0%)" in comparison.note
    assert result.verdict == "inconclusive"


def test_no_face_on_most_photos_cannot_pass(tmp_path: Path) -> None:
    """Photos with no face are never transformed, so a detector that misses 60% of the trans photos left only
    faces it did not flip. 240 of 400 is 60%, above the ceiling 0.2: inconclusive, the photos named."""
    dataset = _many(tmp_path, 400)
    ids = photo_ids(dataset)
    missed = {s for s in ids if s.startswith("t-") and int(s[2:]) < 240}
    records = [seen(pid, None if s in missed else female()) for s, pid in ids.items()]
    variants = [Variant(pid, "mirror", seen(pid + "~mirror", female())) for s, pid in ids.items() if s not in missed]
    result = _invariance(Observations.build(dataset, records, variants=variants), dataset)
    (comparison,) = result.comparisons
    assert comparison.verdict == "inconclusive"
    assert "no face found or an error on 240 of 400 photos (60.0%)" in comparison.note


def test_a_few_lost_faces_still_pass(tmp_path: Path) -> None:
    """The ceiling holds back only what it shows: 8 of 400 trans variants lost (2%) is well below 0.2, and with no
    flip anywhere the comparison passes (the control for the two tests above)."""
    dataset = _many(tmp_path, 400)
    ids = photo_ids(dataset)
    records = [seen(pid, female()) for pid in ids.values()]
    variants = [
        Variant(pid, "mirror", seen(pid + "~mirror", None if s.startswith("t-") and int(s[2:]) < 8 else female()))
        for s, pid in ids.items()
    ]
    result = _invariance(Observations.build(dataset, records, variants=variants), dataset)
    assert result.verdict == "pass"
