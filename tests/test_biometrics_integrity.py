"""1:1 measures that a matcher's own omissions, scales or ties could otherwise bend (issue 16's red team).

Each test rebuilds one red-team case with numbers worked out here (numpy brute force, scipy) and
checks that the kit neither passes what it cannot show nor hides what it was not given.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from conformance.checks import biometrics
from conformance.pairwise import compare_all_pairs
from conformance.policy import Policy

POLICY = Policy(min_subjects=1, bootstrap=300)


# -- F1: failure to acquire cannot hide false matches ---------------------------------------------------


def _hub_population() -> dict[str, np.ndarray]:
    """The red team's case 02: groups A, B, C x 400 people x 2 photos, 64-d; C holds 10 'hub' lookalikes."""
    rng = np.random.default_rng(1602)
    people, per, dim, hubs = 400, 2, 64, 10
    direction = rng.normal(size=dim)
    direction /= np.linalg.norm(direction)
    subject, group, rows = [], [], []
    for g in range(3):
        for i in range(people):
            identity = rng.normal(size=dim) / np.sqrt(dim)
            if g == 2 and i < hubs:
                identity = direction + 0.05 * rng.normal(size=dim) / np.sqrt(dim)
            elif g == 2:
                identity = identity + 0.3 * direction
            identity /= np.linalg.norm(identity)
            for _ in range(per):
                subject.append(g * people + i)
                group.append(g)
                rows.append(identity + 0.8 * rng.normal(size=dim) / np.sqrt(dim))
    return {"x": np.asarray(rows, np.float32), "subject": np.asarray(subject), "group": np.asarray(group)}


def _hub_counts(data: dict[str, np.ndarray], acquired: np.ndarray):  # type: ignore[no-untyped-def]
    return compare_all_pairs(
        data["x"][acquired],
        photo_group=data["group"],
        photo_subject=data["subject"],
        acquired=acquired,
        groups=["A", "B", "C"],
        subjects=[str(s) for s in range(1200)],
        targets=(1e-3,),
    )


@pytest.fixture(scope="module")
def hubs() -> dict[str, np.ndarray]:
    return _hub_population()


def _ratio(result, group: str):  # type: ignore[no-untyped-def]
    return next(c for c in result.comparisons if c.group == group)


def test_photos_left_out_for_failure_to_acquire_do_not_pass_the_gap_and_are_stated_on_every_rate(
    hubs: dict[str, np.ndarray],
) -> None:
    """The vendor 'finds no face' in C's 10 hubs (20 photos, 2.5% of C's): the gap check may not pass it."""
    data = hubs
    hub = (data["group"] == 2) & (data["subject"] - 800 < 10)
    assert hub.sum() == 20
    honest = _hub_counts(data, np.ones(hub.size, dtype=bool))
    (fmr_honest,) = biometrics.false_match_differential(honest, reference="A", policy=POLICY, seed=1, targets=(1e-3,))
    assert _ratio(fmr_honest, "C").verdict == "fail"  # with every photo, C's FMR is 3 times A's

    gaming = _hub_counts(data, ~hub)
    fta = biometrics.failure_to_acquire_gap(gaming, reference="A", policy=POLICY, seed=1)
    assert (fta.groups["C"].count, fta.groups["C"].n) == (20, 800)
    assert (fta.groups["A"].count, fta.groups["B"].count) == (0, 0)
    # 20 of 800 photos against none: the gap is not shown within the 1:1 tolerance (0.01) and may not pass.
    assert POLICY.tolerance_for("failure_to_acquire_gap") == 0.01
    assert fta.verdict != "pass"
    assert {c.verdict for c in fta.comparisons if "C" in (c.group, c.reference)} != {"pass"}
    equitability = biometrics.equitability(gaming, reference="A", policy=POLICY, seed=1, targets=(1e-3,))
    assert equitability.verdict != "pass"

    (fmr,) = biometrics.false_match_differential(gaming, reference="A", policy=POLICY, seed=1, targets=(1e-3,))
    c = fmr.groups["C"].extra
    assert c["not_acquired"] == 20
    assert c["fta"] == pytest.approx(20 / 800)
    # Impostor comparisons of C probes with a hub photo on either side: 20 hub photos x 2,398 others as
    # probes (2 are the hub's own), plus the other 780 C photos against the 20 hub photos as references.
    assert c["without_score"] == 20 * (2400 - 2) + 780 * 20
    assert fmr.groups["A"].extra["without_score"] == 800 * 20  # A probes against the hub photos
    assert any("without a score" in note for note in fmr.notes)


def test_a_ratio_cannot_pass_on_comparisons_its_group_failed_to_acquire(hubs: dict[str, np.ndarray]) -> None:
    """Leaving out the 20 C people with most false matches made C's FMR ratio pass on the old code."""
    data = hubs
    x = data["x"].astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    scores = x @ x.T
    impostor = data["subject"][:, None] != data["subject"][None, :]
    honest = _hub_counts(data, np.ones(len(x), dtype=bool))
    (fmr_honest,) = biometrics.false_match_differential(honest, reference="A", policy=POLICY, seed=1, targets=(1e-3,))
    t = fmr_honest.threshold
    assert t is not None
    # Per person (numpy, all pairs): false matches at the honest threshold; drop C's 20 worst people.
    per_person = np.bincount(data["subject"], weights=((scores >= t) & impostor).sum(axis=1), minlength=1200)
    worst = 800 + np.argsort(-per_person[800:])[:20]
    dropped = np.isin(data["subject"], worst)
    gaming = _hub_counts(data, ~dropped)
    (fmr,) = biometrics.false_match_differential(gaming, reference="A", policy=POLICY, seed=1, targets=(1e-3,))
    c = _ratio(fmr, "C")
    row = next(r for r in fmr.details["ratios"] if r["group"] == "C")
    # The ratio's own interval now lies within [1/2, 2] (what passed before) ...
    assert row["ci"][0] >= 0.5
    assert row["ci"][1] <= 2.0
    # ... but C failed to acquire 40 photos, a gap not shown within tolerance: no pass.
    assert c.verdict == "inconclusive"
    assert "without a template" in c.note
    assert "failure_to_acquire_gap" in c.note
    fta = biometrics.failure_to_acquire_gap(gaming, reference="A", policy=POLICY, seed=1)
    assert fta.verdict == "fail"  # 40 of 800 photos against none: the gap itself fails
    # B lost only its comparisons against C's missing photos; A and B both acquired everything: B may pass.
    assert _ratio(fmr, "B").verdict == "pass"
    # NIST's convention alone (opt-in) would pass C: the policy key says which rule the report used.
    (plain,) = biometrics.false_match_differential(
        gaming, reference="A", policy=replace(POLICY, lost_comparisons="non_match"), seed=1, targets=(1e-3,)
    )
    assert _ratio(plain, "C").verdict == "pass"
    (worst_case,) = biometrics.false_match_differential(
        gaming, reference="A", policy=replace(POLICY, lost_comparisons="worst_case"), seed=1, targets=(1e-3,)
    )
    row = next(r for r in worst_case.details["ratios"] if r["group"] == "C")
    assert row["verdict"] == "inconclusive"
    # Worst case: C's 40 photos' comparisons all false matches, an upper end far above the tolerance.
    lost_c = worst_case.groups["C"].extra["without_score"]
    k_c = worst_case.groups["C"].count
    assert row["ci_worst_case"][1] == pytest.approx(row["ci"][1] * (k_c + lost_c) / k_c, rel=1e-9)
    assert math.isfinite(row["ci_worst_case"][1])


# -- F2: a scores file cannot hide pairs by blanking or leaving them out --------------------------------


@pytest.fixture(scope="module")
def close_c() -> dict[str, np.ndarray]:
    """The red team's case 03: 3 groups x 100 people x 2 photos; C's people sit closer (higher impostor scores)."""
    rng = np.random.default_rng(1603)
    people, dim = 100, 64
    direction = rng.normal(size=dim)
    direction /= np.linalg.norm(direction)
    subject, group, rows = [], [], []
    for g in range(3):
        for i in range(people):
            identity = rng.normal(size=dim) / np.sqrt(dim) + (0.45 * direction if g == 2 else 0)
            identity /= np.linalg.norm(identity)
            for _ in range(2):
                subject.append(g * people + i)
                group.append(g)
                rows.append(identity + 0.8 * rng.normal(size=dim) / np.sqrt(dim))
    x = np.asarray(rows)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    scores = x @ x.T
    subject_a, group_a = np.asarray(subject), np.asarray(group)
    impostor = subject_a[:, None] != subject_a[None, :]
    # C's impostor rows in the top 0.3% of all impostor scores, in both orders: 0.22% of the rows.
    hide = impostor & (group_a[:, None] == 2) & (scores >= np.quantile(scores[impostor], 0.997))
    hide |= hide.T
    return {"scores": scores, "subject": subject_a, "group": group_a, "hide": hide, "impostor": impostor}


def _listed(data: dict[str, np.ndarray], how: str):  # type: ignore[no-untyped-def]
    from conformance.pairwise import compare_listed

    n = data["subject"].size
    probe, reference = np.nonzero(~np.eye(n, dtype=bool))
    score = data["scores"][probe, reference].copy()
    hidden = data["hide"][probe, reference]
    keep = np.ones(probe.size, dtype=bool)
    if how == "blanked":
        score[hidden] = -np.inf  # an empty score: "the comparison failed"
    elif how == "omitted":
        keep = ~hidden
    return compare_listed(
        probe[keep],
        reference[keep],
        score[keep],
        photo_group=data["group"],
        photo_subject=data["subject"],
        acquired=np.ones(n, dtype=bool),
        groups=["A", "B", "C"],
        subjects=[str(s) for s in range(300)],
    )


@pytest.mark.parametrize("how", ["blanked", "omitted"])
def test_impostor_rows_blanked_or_left_out_are_failures_to_compare_of_their_group(
    close_c: dict[str, np.ndarray], how: str
) -> None:
    data = close_c
    (honest,) = biometrics.false_match_differential(
        _listed(data, "honest"), reference="A", policy=POLICY, seed=0, targets=(1e-3,)
    )
    assert _ratio(honest, "C").verdict == "fail"
    assert _ratio(honest, "B").verdict == "inconclusive"
    counts = _listed(data, how)
    (fmr,) = biometrics.false_match_differential(counts, reference="A", policy=POLICY, seed=0, targets=(1e-3,))
    group, hide, impostor = data["group"], data["hide"], data["impostor"]
    for g, name in enumerate("ABC"):
        # The design is every ordered pair: the denominators do not shrink with the rows left out.
        assert fmr.groups[name].n == (impostor & (group[:, None] == g)).sum() == 200 * 598
        lost = int((hide & (group[:, None] == g)).sum())
        assert fmr.details["completeness"][name]["impostor_without_score"] == lost
        assert fmr.groups[name].extra["without_score"] == lost
        listed = 200 * 598 - (lost if how == "omitted" else 0)
        assert fmr.details["completeness"][name]["impostor_listed"] == listed
    assert fmr.details["completeness"]["C"]["impostor_without_score"] == 671
    # Hiding C's highest impostor scores made B's ratio pass on the old code; now no ratio touching a
    # failed or missing pair is clean: each says how many, and none passes.
    for c in fmr.comparisons:
        assert c.verdict != "pass"
        assert "failed or missing from the scores" in c.note
    assert "C 671" in _ratio(fmr, "C").note
    if how == "omitted":
        assert any("lists 358,596 of the 359,400 ordered pairs" in note for note in fmr.notes)


def test_a_declared_sample_of_pairs_keeps_its_own_denominators(close_c: dict[str, np.ndarray]) -> None:
    from conformance.pairwise import compare_listed

    data = close_c
    n = data["subject"].size
    rng = np.random.default_rng(5)
    probe, reference = np.nonzero(~np.eye(n, dtype=bool))
    take = rng.random(probe.size) < 0.3  # drawn without looking at the scores
    counts = compare_listed(
        probe[take],
        reference[take],
        data["scores"][probe[take], reference[take]],
        photo_group=data["group"],
        photo_subject=data["subject"],
        acquired=np.ones(n, dtype=bool),
        groups=["A", "B", "C"],
        subjects=[str(s) for s in range(300)],
        pairs="sample",
    )
    impostor = data["impostor"][probe[take], reference[take]]
    assert int(counts.impostor_comparisons.sum()) == int(impostor.sum())
    assert int(counts.lost_impostor().sum()) == 0


# -- F3: scores that run the other way, thresholds off the scale, ties, everything rejected -------------


@pytest.fixture
def small_run(make_manifest):  # type: ignore[no-untyped-def]
    """60 people x 3 photos in groups a, b, c: the manifest, unit embeddings (float64) and the photo ids."""
    rng = np.random.default_rng(16)
    centres = rng.normal(size=(60, 16))
    subject = np.repeat(np.arange(60), 3)
    x = centres[subject] + 0.7 * rng.normal(size=(180, 16))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    photos = [f"p{i:03d}.png" for i in range(180)]
    rows = [{"photo": p, "subject": f"s{s}", "grp": "abc"[s % 3]} for p, s in zip(photos, subject, strict=True)]
    return {"manifest": make_manifest(rows), "x": x, "photos": photos, "subject": subject}


def _write_pairs(path, photos, scores) -> None:  # type: ignore[no-untyped-def]
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["probe", "reference", "score"])
        for i in range(len(photos)):
            for j in range(len(photos)):
                if i != j:
                    writer.writerow([photos[i], photos[j], repr(float(scores[i, j]))])


def _comparisons(small_run, spec: str, thresholds=()):  # type: ignore[no-untyped-def]
    from conformance.adapters.scores import create
    from conformance.dataset import load_dataset
    from conformance.run.matching import run_comparisons

    dataset = load_dataset(small_run["manifest"], comparisons=True)
    comparator = create(spec, dataset=dataset)
    policy = replace(POLICY, target_fmr=(1e-2,))
    return comparator, run_comparisons(
        comparator, dataset, group_by=["grp"], reference="a", policy=policy, thresholds=thresholds
    )


def test_distances_taken_for_similarities_are_refused_and_higher_false_reads_them(small_run) -> None:  # type: ignore[no-untyped-def]
    from conformance.errors import ConformanceError

    x = small_run["x"]
    distance = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * (x @ x.T)))  # unit vectors: L2 distance from 0 to 2
    path = small_run["manifest"].parent / "distance.csv"
    _write_pairs(path, small_run["photos"], distance)
    # Genuine pairs are the *closest*: read as similarities they rank below impostors (AUC near 0).
    with pytest.raises(ConformanceError, match=r"AUC 0\.0\d\d.*higher=false"):
        _comparisons(small_run, str(path))
    comparator, (run, _, _) = _comparisons(small_run, f"{path}?higher=false", thresholds=(0.9,))
    assert comparator.vendor_scale is False  # 0 to 2 is no vendor 0-100 scale: no 80/90/95/99 defaults
    counts = run.counts
    assert run.stated == (-0.9,)  # the stated distance 0.9, compared as the negated distance
    same = small_run["subject"][:, None] == small_run["subject"][None, :]
    off = ~np.eye(180, dtype=bool)
    from conformance.pairstats import at_threshold

    found = at_threshold(counts, -0.9)
    # A match is a distance at most 0.9; a genuine comparison misses when its distance exceeds 0.9.
    assert int(found.misses.sum()) == int((same & off & (distance > 0.9)).sum())
    assert int(found.false_matches.sum()) == int((~same & (distance <= 0.9)).sum())
    assert 0 < int(found.misses.sum()) < int((same & off).sum())  # FNMR neither 0 nor 1


def test_stated_thresholds_beyond_the_metric_are_refused(small_run) -> None:  # type: ignore[no-untyped-def]
    from conformance.adapters.embeddings import create
    from conformance.dataset import load_dataset
    from conformance.errors import ConformanceError
    from conformance.run.matching import run_comparisons

    np.save(small_run["manifest"].parent / "e.npy", small_run["x"])
    (small_run["manifest"].parent / "e.txt").write_text("\n".join(small_run["photos"]) + "\n")
    dataset = load_dataset(small_run["manifest"], comparisons=True)
    comparator = create(str(small_run["manifest"].parent / "e.npy"), dataset=dataset)
    with pytest.raises(ConformanceError, match=r"--thresholds 80: outside the range of cosine similarity"):
        run_comparisons(comparator, dataset, group_by=["grp"], reference="a", policy=POLICY, thresholds=(80,))


def test_a_target_the_ties_cannot_reach_is_flagged() -> None:
    from conformance.pairstats import calibrate
    from conformance.pairwise import compare_listed

    # 40 people x 2 photos; every unordered impostor pair scores 0, except a tenth of them (both orders) at 0.5.
    rng = np.random.default_rng(3)
    subject = np.arange(80) // 2
    probe, reference = np.nonzero(~np.eye(80, dtype=bool))
    high = np.triu(rng.random((80, 80)) < 0.1, 1)
    high |= high.T
    genuine = subject[probe] == subject[reference]
    score = np.where(genuine, 1.0, np.where(high[probe, reference], 0.5, 0.0))
    counts = compare_listed(
        probe, reference, score, photo_group=subject % 2, photo_subject=subject,
        acquired=np.ones(80, dtype=bool), groups=["a", "b"], subjects=[str(s) for s in range(40)],
    )  # fmt: skip
    impostor_scores = score[~genuine]
    cal = calibrate(counts, 1e-2)
    # floor(0.01 x 6,240) = 62 false matches allowed, but 600-odd comparisons tie at 0.5: the threshold
    # must sit above 0.5, where nothing matches.
    assert (impostor_scores == 0.5).sum() > 62
    assert cal.threshold == np.nextafter(0.5, 1.0)  # one float64 step above: the listed scores' own dtype
    assert cal.achieved == 0.0
    assert cal.tied == (impostor_scores == 0.5).sum()
    assert cal.coarse
    (result,) = biometrics.false_match_differential(counts, reference="a", policy=POLICY, seed=0, targets=(1e-2,))
    assert result.details["threshold_rule"]["coarse"] is True
    assert any("far below the target" in note for note in result.notes)


def test_a_threshold_that_rejects_every_genuine_comparison_passes_nothing() -> None:
    # d = 1: every cosine is +-1; with all values positive every comparison scores exactly 1.
    subject = np.repeat(np.arange(90), 2)
    counts = compare_all_pairs(
        np.abs(np.random.default_rng(1).normal(size=(180, 1))) + 0.1,
        photo_group=subject % 3, photo_subject=subject, acquired=np.ones(180, dtype=bool),
        groups=["a", "b", "c"], subjects=[str(s) for s in range(90)], targets=(1e-2,),
    )  # fmt: skip
    fnmr = biometrics.false_non_match_differential(counts, reference="a", policy=POLICY, seed=0, targets=(1e-2,))[0]
    assert fnmr.threshold is not None
    assert fnmr.threshold > 1.0  # above every score: nothing matches
    assert all(g.rate == 1.0 for g in fnmr.groups.values())
    assert all(c.verdict != "pass" for c in fnmr.comparisons)
    assert all("rejects every genuine comparison" in c.note for c in fnmr.comparisons)


# -- F4: cosine ignores each row's scale, also at float32's ends -----------------------------------------


@pytest.mark.parametrize(("scale", "dtype"), [(1e20, np.float32), (1e-25, np.float32), (1e39, np.float64)])
def test_rescaled_embedding_rows_give_the_same_cosine_counts(small_run, scale: float, dtype: type) -> None:  # type: ignore[no-untyped-def]
    from conformance.adapters.embeddings import create
    from conformance.dataset import load_dataset
    from conformance.run.matching import run_comparisons

    folder = small_run["manifest"].parent
    dataset = load_dataset(small_run["manifest"], comparisons=True)
    x = small_run["x"].astype(np.float32).astype(np.float64)
    scaled = x.copy()
    scaled[small_run["subject"] % 3 == 2] *= scale  # group c's rows only; every value finite in its dtype
    assert np.isfinite(scaled.astype(dtype)).all()
    found = []
    for stem, array in (("plain", x.astype(dtype)), ("scaled", scaled.astype(dtype))):
        np.save(folder / f"{stem}.npy", array)
        (folder / f"{stem}.txt").write_text("\n".join(small_run["photos"]) + "\n")
        comparator = create(str(folder / f"{stem}.npy"), dataset=dataset)
        run, _, _ = run_comparisons(
            comparator, dataset, group_by=["grp"], reference="a", policy=POLICY, thresholds=(0.3, 0.6)
        )
        found.append(run.counts)
    plain, rescaled = found
    assert (plain.stated_counts == rescaled.stated_counts).all()
    assert (plain.genuine_hist == rescaled.genuine_hist).all()
    # By hand: group c's false matches at 0.6 from the float64 cosines of the unscaled rows.
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    cosine = unit @ unit.T
    impostor = small_run["subject"][:, None] != small_run["subject"][None, :]
    c_rows = (small_run["subject"] % 3 == 2)[:, None]
    assert rescaled.stated_counts[1][2].sum() == pytest.approx(((cosine >= 0.6) & impostor & c_rows).sum(), abs=2)


def test_l2_rows_beyond_float32_are_refused_naming_the_photo(small_run) -> None:  # type: ignore[no-untyped-def]
    from conformance.adapters.embeddings import create
    from conformance.dataset import load_dataset
    from conformance.errors import AdapterError

    folder = small_run["manifest"].parent
    x = small_run["x"].copy()
    x[7] *= 1e39  # finite in float64, infinite in float32
    np.save(folder / "big.npy", x)
    (folder / "big.txt").write_text("\n".join(small_run["photos"]) + "\n")
    dataset = load_dataset(small_run["manifest"], comparisons=True)
    with pytest.raises(AdapterError, match=r"big\.npy row 7, photo 'p007\.png' .* not finite in float32"):
        create(f"{folder / 'big.npy'}?metric=l2", dataset=dataset)
    create(str(folder / "big.npy"), dataset=dataset)  # cosine: the same row normalised first is fine


# -- F5: listed scores are calibrated in their own dtype -------------------------------------------------


def test_tiny_listed_scores_keep_their_float64_threshold() -> None:
    from conformance.pairstats import calibrate
    from conformance.pairwise import compare_listed

    rng = np.random.default_rng(4)
    subject = np.arange(400) // 2
    probe, reference = np.nonzero(~np.eye(400, dtype=bool))
    score = (rng.normal(size=probe.size) + 5.0) * 1e-50  # far below float32's smallest number
    counts = compare_listed(
        probe, reference, score, photo_group=subject % 2, photo_subject=subject,
        acquired=np.ones(400, dtype=bool), groups=["a", "b"], subjects=[str(s) for s in range(200)],
    )  # fmt: skip
    impostor = subject[probe] != subject[reference]
    cal = calibrate(counts, 1e-2)
    k = math.floor(1e-2 * impostor.sum())
    ordered = np.sort(score[impostor])[::-1]
    assert cal.threshold == np.nextafter(ordered[k], np.inf)
    assert cal.false_matches == (score[impostor] >= cal.threshold).sum() == k


# -- F6: what supports a target FMR, and one interval for 0, 1, 2 ... errors ------------------------------


def _people(groups: int, people: int, photos: int, dim: int, seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(groups * people), photos)
    centres = rng.normal(size=(groups * people, dim)) / np.sqrt(dim)
    x = centres[subject] + 0.7 * rng.normal(size=(subject.size, dim)) / np.sqrt(dim)
    return compare_all_pairs(
        x.astype(np.float32),
        photo_group=subject // people,
        photo_subject=subject,
        acquired=np.ones(subject.size, dtype=bool),
        groups=[chr(97 + g) for g in range(groups)],
        subjects=[str(s) for s in range(groups * people)],
        targets=(1e-3, 1e-5),
    )


def test_a_target_fmr_is_supported_by_distinct_comparisons_and_people_pairs() -> None:
    from conformance.pairstats import calibrate

    # The red team's case 09: 30 people x 20 photos. 600 x 599 = 359,400 ordered comparisons less
    # 30 x 20 x 19 genuine: 348,000 ordered impostor comparisons, each pair scored once: 174,000 distinct.
    counts = _people(3, 10, 20, 32, seed=1609)
    cal = calibrate(counts, 1e-5)
    assert cal.pool_comparisons == 348_000
    assert cal.distinct == 174_000
    assert cal.people_pairs == 30 * 29 // 2
    assert not cal.supported  # 174,000 < 3/1e-5 = 300,000 (the ordered count, 348,000, looked enough)
    assert "174,000 distinct impostor comparisons" in cal.reason
    # 1e-3 needs 3,000 of each: 174,000 distinct comparisons but only 435 people-pairs.
    low = calibrate(counts, 1e-3)
    assert not low.supported
    assert "435 distinct people-pairs" in low.reason
    # 80 people x 3 photos: 3,160 people-pairs and 28,440 distinct comparisons support 1e-3.
    enough = calibrate(_people(2, 40, 3, 16, seed=2), 1e-3)
    assert (enough.people_pairs, enough.distinct) == (3160, (240 * 239 - 80 * 6) // 2)
    assert enough.supported


def test_intervals_are_continuous_from_zero_to_one_false_match() -> None:
    from scipy.stats import beta

    from conformance.pairwise import compare_listed

    # Two groups of 30 people x 2 photos, every ordered pair listed; impostors score 0 but one comparison
    # of a group-b probe, which scores 1: at threshold 0.5, a has 0 false matches and b has 1.
    subject = np.arange(120) // 2
    group = (subject >= 30).astype(np.int64)
    probe, reference = np.nonzero(~np.eye(120, dtype=bool))
    genuine = subject[probe] == subject[reference]
    score = np.where(genuine, 1.0, 0.0)
    one = np.flatnonzero(~genuine & (group[probe] == 1))[0]
    score[one] = 1.0
    counts = compare_listed(
        probe, reference, score, photo_group=group, photo_subject=subject, acquired=np.ones(120, dtype=bool),
        groups=["a", "b"], subjects=[str(s) for s in range(60)], stated=(0.5,),
    )  # fmt: skip
    (result,) = biometrics.false_match_differential(
        counts, reference="a", policy=POLICY, seed=0, thresholds=(0.5,), targets=()
    )
    a, b = result.groups["a"], result.groups["b"]
    assert (a.count, b.count, a.n, b.n) == (0, 1, 60 * 118, 60 * 118)
    # a: Clopper-Pearson upper bound on its distinct people-pairs, 30 x 29 / 2 + 30 x 30 = 1,335.
    pairs = 30 * 29 // 2 + 30 * 30
    assert a.ci[1] == pytest.approx(beta.ppf(0.975, 1, pairs))
    # b, one more false match, cannot be *more* certain of a low rate than a with none.
    assert b.ci[1] >= a.ci[1]
    assert b.ci[1] == pytest.approx(beta.ppf(0.975, 1 + pairs / b.n, pairs - pairs / b.n), rel=1e-9)
    ratio = next(r for r in result.details["ratios"] if r["group"] == "b")
    assert "1 false matches" not in ratio["note"]


# -- F7: intervals that hold with few people --------------------------------------------------------------


def test_fnmr_intervals_cover_with_twelve_people_of_fifteen_photos() -> None:
    """Seeded simulation with known truth: FNMR(t) = Phi((t - mu) / sqrt(2)) for scores mu + b_person + e_pair.

    The percentile bootstrap over 12 people covered 73-78% in the red team's runs; the kit's
    per-person effective-size interval must hold near its 95%.
    """
    from scipy.stats import norm

    from conformance.pairwise import compare_listed

    people, photos, reps = 12, 15, 150
    mu = -math.sqrt(2) * norm.ppf(0.1)  # FNMR 0.1 at threshold 0
    subject = np.repeat(np.arange(2 * people), photos)
    group = (subject >= people).astype(np.int64)
    same = np.nonzero((subject[:, None] == subject[None, :]) & ~np.eye(subject.size, dtype=bool))
    covered = {"a": 0, "b": 0}
    for rep in range(reps):
        rng = np.random.default_rng([16, rep])
        effect = rng.normal(size=2 * people)
        noise = np.triu(rng.normal(size=(subject.size, subject.size)), 1)
        noise += noise.T  # one score per pair of photos, in both orders
        genuine = mu + effect[subject[same[0]]] + noise[same]
        far = rng.integers(0, subject.size, size=(2, 400))
        far = far[:, subject[far[0]] != subject[far[1]]]
        counts = compare_listed(
            np.concatenate([same[0], far[0]]), np.concatenate([same[1], far[1]]),
            np.concatenate([genuine, np.full(far.shape[1], -9.0)]),
            photo_group=group, photo_subject=subject, acquired=np.ones(subject.size, dtype=bool),
            groups=["a", "b"], subjects=[str(s) for s in range(2 * people)], stated=(0.0,),
        )  # fmt: skip
        (result,) = biometrics.false_non_match_differential(
            counts, reference="a", policy=replace(POLICY, bootstrap=100), seed=rep, thresholds=(0.0,), targets=()
        )
        for name in covered:
            lo, hi = result.groups[name].ci  # type: ignore[misc]
            covered[name] += lo <= 0.1 <= hi
    # 150 repetitions: a coverage of 0.95 shows as 0.91 or more with probability about 0.98.
    assert covered["a"] / reps >= 0.9
    assert covered["b"] / reps >= 0.9


# -- F8: a threshold calibrated on the data it is evaluated on says so, with the pool FMR's interval ------


def test_the_calibrated_pool_fmr_has_an_interval_that_covers_the_truth() -> None:
    """Scores a_i + a_j + e_ij (person effects on both sides): the pool's true FMR at t is 1 - Phi(t / sqrt(1.5)).

    In-sample the pool's FMR equals the target by construction; its interval must say how far the
    true FMR at the calibrated threshold may lie from it (two-way bootstrap).
    """
    from scipy.stats import norm

    from conformance.pairwise import compare_listed

    people, reps, covered, above = 120, 120, 0, 0
    probe, reference = np.nonzero(~np.eye(people, dtype=bool))
    for rep in range(reps):
        rng = np.random.default_rng([8, rep])
        effect = rng.normal(0.0, 0.5, people)
        noise = np.triu(rng.normal(size=(people, people)), 1)
        scores = effect[:, None] + effect[None, :] + noise + noise.T
        counts = compare_listed(
            probe, reference, scores[probe, reference], photo_group=np.arange(people) % 2,
            photo_subject=np.arange(people), acquired=np.ones(people, dtype=bool), groups=["a", "b"],
            subjects=[str(i) for i in range(people)],
        )  # fmt: skip
        (result,) = biometrics.false_match_differential(counts, reference="a", policy=POLICY, seed=rep, targets=(1e-2,))
        rule = result.details["threshold_rule"]
        assert rule["in_sample"] is True
        truth = 1 - norm.cdf(rule["threshold"] / math.sqrt(1.5))
        lo, hi = rule["achieved_fmr_ci"]
        assert lo <= rule["achieved_fmr"] <= 1e-2 <= hi
        covered += lo <= truth <= hi
        above += truth > 1e-2
    assert covered / reps >= 0.9
    assert above > 0  # the target does not hold on new people every time: why the interval is stated
    assert any("calibrated in-sample" in note for note in result.notes)


def test_the_disclosure_says_the_calibration_is_in_sample(hubs: dict[str, np.ndarray]) -> None:
    counts = _hub_counts(hubs, np.ones(hubs["subject"].size, dtype=bool))
    result = biometrics.equitability(counts, reference="A", policy=POLICY, seed=1, targets=(1e-3,))
    rule = result.details["disclosure"]["threshold_rule"]
    assert rule["calibration"].startswith("Thresholds are calibrated in-sample")
    assert "target 0.001: threshold" in rule["calibration"]


# -- F11: many groups ------------------------------------------------------------------------------------


def test_gini_over_many_groups_equals_the_pairwise_definition() -> None:
    from conformance.pairstats import inequity

    rng = np.random.default_rng(11)
    fmr = rng.random((7, 300)) * 1e-3
    fnmr = rng.random((7, 300)) * 0.1
    found = inequity(fmr, fnmr, alpha=0.5)
    n = 300
    for row in range(7):
        x = fmr[row]
        pairwise = np.abs(x[:, None] - x[None, :]).sum()  # the definition, O(G^2), one row at a time
        assert found["fmr"]["gini"][row] == pytest.approx(n / (n - 1) * pairwise / (2 * n * n * x.mean()), rel=1e-9)
    assert math.isnan(inequity(np.array([0.1, np.nan]), np.array([0.1, 0.2]))["fmr"]["gini"])


def test_more_groups_than_the_measures_hold_are_refused_with_the_way_out() -> None:
    from conformance.errors import ConformanceError
    from conformance.pairwise import MAX_GROUPS

    size = MAX_GROUPS + 1
    with pytest.raises(ConformanceError, match=rf"{size} groups: .* at most {MAX_GROUPS}; group by fewer"):
        compare_all_pairs(
            np.ones((size, 2)), photo_group=np.arange(size), photo_subject=np.arange(size),
            acquired=np.ones(size, dtype=bool), groups=[str(g) for g in range(size)],
            subjects=[str(s) for s in range(size)],
        )  # fmt: skip


# -- F12: words and numbers where they were wrong --------------------------------------------------------


def test_a_ratio_of_bounds_where_pairs_were_not_kept_does_not_call_a_count_zero() -> None:
    subject = np.repeat(np.arange(60), 3)
    rng = np.random.default_rng(12)
    x = rng.normal(size=(60, 8))[subject] + 0.8 * rng.normal(size=(180, 8))
    counts = compare_all_pairs(
        x, photo_group=subject % 2, photo_subject=subject, acquired=np.ones(180, dtype=bool),
        groups=["a", "b"], subjects=[str(s) for s in range(60)], stated=(0.0,), max_kept=100,
    )  # fmt: skip
    assert 0.0 in counts.dropped_stated  # thousands of false matches at 0: counted, pairs not kept
    (result,) = biometrics.false_match_differential(
        counts, reference="a", policy=POLICY, seed=0, thresholds=(0.0,), targets=()
    )
    (comparison,) = result.comparisons
    assert result.groups["a"].count > 1
    assert result.groups["b"].count > 1
    assert "false matches: the ratio interval" not in comparison.note  # neither count is 0 or all
    assert comparison.method == "ratio of the groups' bounds (a count of 0 or all, or pairs not kept)"
    disclosure = biometrics.equitability(counts, reference="a", policy=POLICY, seed=0, thresholds=(0.0,), targets=())
    uncertainty = disclosure.details["disclosure"]["uncertainty"]
    assert "exceeded max_kept: no two-way bootstrap there" in uncertainty


def test_an_absurd_target_fmr_is_refused_in_words_not_a_300_digit_number() -> None:
    import json

    from conformance.pairstats import calibrate

    counts = _people(2, 10, 2, 8, seed=3)
    cal = calibrate(counts, 1e-300)
    assert not cal.supported
    assert "3/FMR = 3e+300" in cal.reason
    assert len(cal.reason) < 400
    json.dumps(cal.to_dict(), allow_nan=False)


def test_two_way_effective_size_from_each_persons_influence_by_brute_force() -> None:
    """psi_i sums person i's residuals y - p n over every people-pair it is in, as probe and as reference."""
    from conformance.pairstats import two_way_rates

    rng = np.random.default_rng(21)
    subject = np.repeat(np.arange(30), 3)
    group = subject % 2
    x = rng.normal(size=(30, 6))[subject] + rng.normal(size=(90, 6))
    counts = compare_all_pairs(
        x, photo_group=group, photo_subject=subject, acquired=np.ones(90, dtype=bool), groups=["a", "b"],
        subjects=[str(s) for s in range(30)], stated=(0.2,),
    )  # fmt: skip
    unit = x.astype(np.float32).astype(np.float64)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    impostor = subject[:, None] != subject[None, :]
    match = (unit @ unit.T >= np.float32(0.2)) & impostor
    for g, rate in enumerate(two_way_rates(counts, 0.2)):
        rows = group == g
        n, k = impostor[rows].sum(), match[rows].sum()
        p = k / n
        residual = np.where(rows[:, None], match - p * impostor, 0.0)  # only group-g probes count
        people = np.zeros((30, 30))
        np.add.at(people, (subject[:, None].repeat(90, 1), subject[None, :].repeat(90, 0)), residual)
        psi = people.sum(axis=1) + people.sum(axis=0)
        assert (rate.count, rate.n) == (k, n)
        assert rate.variance == pytest.approx((psi**2).sum() / n**2, rel=1e-9)
        assert rate.effective_n == pytest.approx(min(max(p * (1 - p) / rate.variance, 15), n), rel=1e-9)


def test_the_pool_fmr_replicate_equals_an_explicitly_resampled_population() -> None:
    """Pool (same-group impostors, calibrated on group b): weighted counts against a population where person
    p appears w_p times, comparisons between copies of one person not impostors."""
    from conformance.pairstats import replicates

    rng = np.random.default_rng(31)
    subject = np.repeat(np.arange(12), 2)
    group = subject % 3
    x = rng.normal(size=(12, 5))[subject] + rng.normal(size=(24, 5))
    counts = compare_all_pairs(
        x, photo_group=group, photo_subject=subject, acquired=np.ones(24, dtype=bool), groups=["a", "b", "c"],
        subjects=[str(s) for s in range(12)], stated=(0.1,), same_group=True, pool="b",
    )  # fmt: skip
    weights = np.array([[2, 0, 1, 3, 1, 0, 1, 1, 2, 0, 1, 0]])
    boot = replicates(counts, [0.1], resamples=1, seed=0, weights=weights)
    unit = x.astype(np.float32).astype(np.float64)
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    scores = unit @ unit.T
    copies = [(p, c, i) for i, p in enumerate(subject) for c in range(weights[0][p])]
    impostors = matches = 0
    for p1, _, i in copies:
        for p2, _, j in copies:
            if p1 != p2 and group[i] == 1 and group[j] == 1:  # the pool: group-b probes, same-group impostors
                impostors += 1
                matches += scores[i, j] >= np.float32(0.1)
    assert boot.pool_impostors is not None
    assert boot.pool_false_matches is not None
    assert boot.pool_impostors[0] == pytest.approx(impostors)
    assert boot.pool_false_matches[0, 0] == pytest.approx(matches)
