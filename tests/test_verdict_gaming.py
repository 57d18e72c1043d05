"""Ways out of a failing verdict found by the second red team of issue 13, each closed (rt13b).

- H1/H1b: abstaining on, or reporting "no face" for, the one photo of a person that would have been
  labelled differently took the person out of ``same_person_consistency``: every check passed.
- H2: a misgendering gap split between ``misgender_gap`` and ``detection_failure_gap`` (no face
  reported on half of the misgendered photos) passed both.
- H3: a predictions file with every confidence left out turned a failing ``confidence_calibration``
  into "not applicable"; only the analyzer's declaration can do that now.
- H4: a woman labelled "Nonbinary" counted as correct in ``confidence_calibration``.

Every figure asserted is a hand count from the data built here.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from builders import Shot, observe, people, write_dataset

from conformance import CheckResult, group_labels, load_policy, run_check
from conformance.errors import ConformanceError
from conformance.observation import Observations

DEFAULT = load_policy()
HEADER = {"analyzer": "rt13b", "version": "1", "abstains": True}


def check(check_id: str, observations: Observations) -> CheckResult:
    groups = group_labels(observations.dataset, [])
    return run_check(check_id, observations, groups=groups, reference="cis", policy=DEFAULT, seed=0)


# -- H1: an unlabelled photo is a different answer ---------------------------------------------------------


def two_photo_women(prefix: str, trans: str, n: int, changed: int, second: str) -> list[Shot]:
    """``n`` women with two photos; the first ``changed`` get Female, then ``second`` on the other photo.

    ``second``: "Male" (the honest different label), "abstain", "no_face" or "error".
    """
    shots: list[Shot] = []
    for i in range(n):
        subject = f"{prefix}-{i:04d}"
        shots.append(Shot(subject, "woman", trans, "Female"))
        if i >= changed:
            shots.append(Shot(subject, "woman", trans, "Female"))
        elif second == "Male":
            shots.append(Shot(subject, "woman", trans, "Male"))
        elif second == "abstain":
            shots.append(Shot(subject, "woman", trans, None, None))
        else:
            shots.append(Shot(subject, "woman", trans, None, None, second))  # type: ignore[arg-type]
    return shots


@pytest.mark.parametrize("second", ["Male", "abstain", "no_face", "error"])
def test_leaving_the_photo_it_would_label_differently_unlabelled_still_fails_consistency(
    tmp_path: Path, second: str
) -> None:
    # 800 people a group, two photos each; 60 trans women (7.5%) get Female on one photo and, on the
    # other, Male (honest) or no label at all. Each of them disagrees on their one pair: 60 / 800.
    shots = two_photo_women("cis", "no", 800, 0, "Male") + two_photo_women("tr", "yes", 800, 60, second)
    result = check("same_person_consistency", observe(tmp_path, shots, header=HEADER))
    trans, cis = result.groups["trans"], result.groups["cis"]
    assert (trans.n, trans.count, trans.rate) == (800, 60, pytest.approx(60 / 800))
    assert (cis.n, cis.rate) == (800, 0.0)
    (c,) = result.comparisons
    assert c.difference == pytest.approx(0.075)
    assert c.ci is not None
    assert c.ci[0] > 0.05  # well beyond the tolerance
    assert result.verdict == "fail"
    assert trans.extra["unlabelled_photos"] == (0 if second == "Male" else 60)


def test_the_same_rate_of_unlabelled_photos_in_every_group_makes_no_gap(tmp_path: Path) -> None:
    # An honest analyzer that leaves one photo of 10% of people unlabelled in every group: both shares
    # are 80 / 800, the gap 0, and the check passes (equal abstention penalises no one).
    shots = two_photo_women("cis", "no", 800, 80, "abstain") + two_photo_women("tr", "yes", 800, 80, "no_face")
    result = check("same_person_consistency", observe(tmp_path, shots, header=HEADER))
    assert result.groups["cis"].rate == pytest.approx(0.1)
    assert result.groups["trans"].rate == pytest.approx(0.1)
    assert result.comparisons[0].difference == pytest.approx(0.0)
    assert result.verdict == "pass"


def test_a_person_never_labelled_is_not_in_consistency(tmp_path: Path) -> None:
    # Nobody's labels to disagree with: coverage speaks to such people, not consistency. 20 people a
    # group; trans t0-t3 abstained on twice, so 16 trans people count, none with a change.
    shots = two_photo_women("cis", "no", 20, 0, "Male")
    shots += [Shot(f"tr-{i}", "woman", "yes", None, None) for i in range(4) for _ in range(2)]
    shots += two_photo_women("tr2", "yes", 16, 0, "Male")
    result = check("same_person_consistency", observe(tmp_path, shots, header=HEADER))
    assert (result.groups["trans"].n, result.groups["trans"].rate) == (16, 0.0)
    assert result.groups["trans"].subjects == 20


def test_the_red_teams_consistency_dodge_exits_1_end_to_end(tmp_path: Path) -> None:
    # rt13b H1 exactly: 2,000 cis and 2,000 trans women, two photos each; 150 trans women (7.5%) get
    # Female on one photo and an abstention on the other. Before: every check passed, exit 0.
    shots = two_photo_women("cis", "no", 2000, 0, "Male") + two_photo_women("tr", "yes", 2000, 150, "abstain")
    manifest, predictions = write_dataset(tmp_path / "data", shots, header=HEADER)
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "run", "--dataset", str(manifest), "--analyzer",
         f"predictions:{predictions}", "--no-progress"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    report = json.loads((tmp_path / "conformance-report" / "report.json").read_text())
    verdicts = {c["id"]: c["verdict"] for c in report["checks"]}
    assert verdicts["same_person_consistency"] == "fail", done.stdout[-2000:]
    consistency = next(c for c in report["checks"] if c["id"] == "same_person_consistency")
    assert consistency["groups"]["trans"]["rate"] == pytest.approx(150 / 2000)
    assert done.returncode == 1


# -- H2: not seeing people is no way out of misgender_gap --------------------------------------------------


@pytest.mark.parametrize("hidden", ["none", "no_face", "error"])
def test_a_misgendering_gap_cannot_be_split_with_detection_failures(tmp_path: Path, hidden: str) -> None:
    # 1,000 women a group, one photo each; 80 trans women misgendered (honest), or 40 misgendered and 40
    # reported with no face (or an error). Photos not correctly gendered, over every photo: 80 / 1,000
    # either way, against 0 / 1,000.
    half = 0 if hidden == "none" else 40
    shots = people("cis", 1000) + people(
        "tr", 1000, trans="yes", misgendered=80 - half, no_face=half if hidden == "no_face" else 0,
        errors=half if hidden == "error" else 0,
    )  # fmt: skip
    # Shuffled (seeded): 40 errors in a row would stop the run as a fault of the setup.
    random.Random(13).shuffle(shots)
    observations = observe(tmp_path, shots, header=HEADER)
    result = check("misgender_gap", observations)
    companion = result.details["companion"]
    assert companion["groups"]["trans"]["count"] == 80
    assert companion["groups"]["trans"]["n"] == 1000
    assert companion["groups"]["cis"]["count"] == 0
    assert result.verdict == "fail"
    if hidden != "none":
        # The misgender rate alone (40 of 960 photos with a face) and the detection failures (40 of
        # 1,000) are each within reach of the tolerance: neither would fail by itself.
        assert result.groups["trans"].rate == pytest.approx(40 / 960)
        detection = check("detection_failure_gap", observations)
        assert detection.groups["trans"].rate == pytest.approx(40 / 1000)
        assert detection.verdict != "fail"
        (c,) = result.comparisons
        assert "decided on photos not correctly gendered" in c.note
        assert c.difference == pytest.approx(0.08)


def test_the_misgender_rate_itself_still_leaves_photos_without_a_face_out(tmp_path: Path) -> None:
    # What methodology.md's rule says of the main measure: abstentions in the denominator, no face out.
    shots = people("cis", 400, misgendered=12, abstained=15, no_face=10, errors=5) + people("tr", 400, trans="yes")
    result = check("misgender_gap", observe(tmp_path, shots, header=HEADER))
    cis = result.groups["cis"]
    assert (cis.count, cis.n) == (12, 385)
    companion = result.details["companion"]["groups"]["cis"]
    assert (companion["count"], companion["n"]) == (12 + 15 + 10 + 5, 400)


# -- H3: "not applicable" to calibration only on the analyzer's word -----------------------------------------


def calibration_shots(confidence: bool) -> list[Shot]:
    """rt13b H3 at 600 a group: trans women 3% misgendered, all at 99; cis women all right at 90."""
    shots = [Shot(f"cis-{i}", "woman", "no", "Female", 90.0 if confidence else None) for i in range(600)]
    shots += [
        Shot(f"tr-{i}", "woman", "yes", "Male" if i < 18 else "Female", 99.0 if confidence else None)
        for i in range(600)
    ]
    return shots


def test_calibration_that_fails_with_confidences_cannot_become_not_applicable_by_leaving_them_out(
    tmp_path: Path,
) -> None:
    honest = check("confidence_calibration", observe(tmp_path / "a", calibration_shots(True), header=HEADER))
    # Overconfidence: trans 0.99 - 582/600 = 0.02, cis 0.90 - 1 = -0.10: a gap of 0.12.
    assert honest.comparisons[0].difference == pytest.approx(0.99 - 582 / 600 + 0.10)
    assert honest.verdict == "fail"
    left_out = check("confidence_calibration", observe(tmp_path / "b", calibration_shots(False), header=HEADER))
    assert left_out.verdict == "inconclusive"
    assert any('"gives_confidence": false' in note and "GIVES_CONFIDENCE = False" in note for note in left_out.notes)


def test_an_analyzer_that_declares_it_gives_no_confidence_is_not_applicable(tmp_path: Path) -> None:
    header = {**HEADER, "gives_confidence": False}
    observations = observe(tmp_path, calibration_shots(False), header=header)
    assert observations.analyzer["vocabulary"]["gives_confidence"] is False
    result = check("confidence_calibration", observations)
    assert result.verdict == "not applicable"
    assert "declares it gives no confidence" in result.notes[-1]


def test_a_declaration_the_answers_contradict_cannot_pass(tmp_path: Path) -> None:
    header = {**HEADER, "gives_confidence": False}
    shots = [Shot(f"cis-{i}", "woman", "no", "Female", 90.0) for i in range(300)]
    shots += [Shot(f"tr-{i}", "woman", "yes", "Female", 90.0) for i in range(300)]
    result = check("confidence_calibration", observe(tmp_path, shots, header=header))
    (c,) = result.comparisons
    assert c.difference == pytest.approx(0.0)
    assert result.verdict == "inconclusive"  # the interval alone would pass
    assert "300 of 300 labels came with a confidence although the analyzer declares it gives none" in c.note


def test_the_predictions_header_declaration_must_be_true_or_false(tmp_path: Path) -> None:
    with pytest.raises(ConformanceError, match=r"line 1: header 'gives_confidence' must be true or false"):
        observe(tmp_path, calibration_shots(False)[:20], header={**HEADER, "gives_confidence": "no"})


def test_a_python_model_declares_it_with_gives_confidence(tmp_path: Path) -> None:
    from conformance import load_dataset
    from conformance.adapters.python import analyzer_from
    from conformance.errors import AdapterError
    from conformance.run.runner import analyze_dataset

    manifest, _ = write_dataset(tmp_path, calibration_shots(False)[:20])
    dataset = load_dataset(manifest)

    def model(path: Path) -> dict[str, Any]:
        return {"faces": [{"gender": "Woman"}]}

    declared = analyzer_from(
        model, dataset=dataset, vocabulary={"Woman": "woman", "Man": "man"}, gives_confidence=False
    )
    assert declared.vocabulary.gives_confidence is False
    observations = analyze_dataset(declared, dataset)
    assert observations.analyzer["vocabulary"]["gives_confidence"] is False
    silent = analyzer_from(model, dataset=dataset, vocabulary={"Woman": "woman", "Man": "man"})
    assert silent.vocabulary.gives_confidence is None
    with pytest.raises(AdapterError, match=r"GIVES_CONFIDENCE in .* must be True or False"):
        analyzer_from(model, dataset=dataset, vocabulary={"Woman": "woman"}, gives_confidence="no")  # type: ignore[arg-type]


def test_rekognition_declares_the_confidence_its_service_model_gives() -> None:
    from conformance.adapters.rekognition_answers import gender_vocabulary, service_model

    # botocore's Gender shape has a Confidence beside the Value: Rekognition gives one with every label.
    assert "Confidence" in service_model().shape_for("Gender").members
    assert gender_vocabulary().gives_confidence is True


# -- H4: correct means the self-description's own label ----------------------------------------------------


def test_a_woman_labelled_nonbinary_is_not_correct_for_calibration(tmp_path: Path) -> None:
    # A three-label vocabulary; 100 of 1,000 trans women labelled "Nonbinary" at confidence 99 (not a
    # binary label, so not misgendering), every other woman "Female" at 99. Correct: 900 / 1,000 trans,
    # 1,000 / 1,000 cis. Overconfidence 0.99 - 0.9 against 0.99 - 1: a gap of 0.1.
    header = {**HEADER, "vocabulary": ["Female", "Male", "Nonbinary"]}
    shots = [Shot(f"cis-{i}", "woman", "no", "Female", 99.0) for i in range(1000)]
    shots += [Shot(f"tr-{i}", "woman", "yes", "Nonbinary" if i < 100 else "Female", 99.0) for i in range(1000)]
    observations = observe(tmp_path, shots, header=header)
    assert check("misgender_gap", observations).groups["trans"].count == 0  # not misgendering
    result = check("confidence_calibration", observations)
    assert result.groups["trans"].extra["accuracy"] == pytest.approx(0.9)
    assert result.groups["trans"].count == 100
    assert result.comparisons[0].difference == pytest.approx(0.1)
    assert result.verdict == "fail"


def test_a_nonbinary_person_labelled_nonbinary_is_correct_for_calibration(tmp_path: Path) -> None:
    header = {**HEADER, "vocabulary": ["Female", "Male", "Nonbinary"]}
    shots = [Shot(f"cis-{i}", "woman", "no", "Female", 90.0) for i in range(50)]
    shots += [Shot(f"nb-{i}", "nonbinary", "no", "Nonbinary" if i < 40 else "Female", 90.0) for i in range(50)]
    observations = observe(tmp_path, shots, header=header)
    groups = ["nonbinary" if s.startswith("nb") else "cis" for s in (p.subject for p in observations.dataset.photos)]
    result = run_check("confidence_calibration", observations, groups=groups, reference="cis", policy=DEFAULT, seed=0)
    assert result.groups["nonbinary"].extra["accuracy"] == pytest.approx(40 / 50)
    assert result.groups["cis"].extra["accuracy"] == 1.0


# -- Wilson limits: a fail is tested on Clopper-Pearson limits, so the stated rate holds ----------------------


def one_photo_table(n1: int, x1: int, n2: int, x2: int) -> tuple[Observations, list[str]]:
    """In memory: ``cis`` n1 women of whom x1 misgendered, ``trans`` n2 of whom x2; one photo each."""
    import numpy as np

    from conformance.dataset import Dataset
    from conformance.observation import GENDER_CODES, Face, Observation

    n = n1 + n2
    wrong = np.r_[np.arange(n1) < x1, np.arange(n2) < x2]
    record = Observation(photo="p", outcome="analysed", face=Face(label="Female", gender="woman", confidence=90.0))
    table = Observations(
        dataset=Dataset(name="exact", manifest=Path("exact"), photos=(), columns=(), content_hash=""),
        records=(record,) * n,
        outcome=np.zeros(n, dtype=np.int8),
        predicted=np.where(wrong, GENDER_CODES["man"], GENDER_CODES["woman"]).astype(np.int8),
        confidence=np.full(n, 90.0),
        identity=np.zeros(n, dtype=np.int8),
        subject=np.arange(n, dtype=np.int64),
    )
    return table, ["cis"] * n1 + ["trans"] * n2


@pytest.mark.parametrize(
    ("confidence", "n1", "p1", "n2", "p2", "before"),
    [
        (0.95, 100, 0.04, 10, 0.09, 0.0281),  # rt13b: 0.0281 where 0.025 was stated
        (0.99, 300, 0.99, 10, 0.94, 0.0174),  # rt13b: 0.0174 where 0.005 was stated
    ],
)
def test_a_wrong_fail_on_wilson_limits_stays_within_the_stated_rate(
    confidence: float, n1: int, p1: float, n2: int, p2: float, before: float
) -> None:
    # Every outcome of one photo a person at a true gap equal to the tolerance (0.05), through run_check
    # with interval = "wilson", weighted by its binomial probability (outcomes below 1e-9 left out:
    # together they weigh less than 1e-6).
    from dataclasses import replace

    import numpy as np
    from scipy.stats import binom

    policy = replace(DEFAULT, interval="wilson", confidence=confidence)
    stated = (1 - confidence) / 2
    first, second = binom.pmf(np.arange(n1 + 1), n1, p1), binom.pmf(np.arange(n2 + 1), n2, p2)
    wrong_fail = left_out = 0.0
    for x1 in range(n1 + 1):
        for x2 in range(n2 + 1):
            weight = float(first[x1] * second[x2])
            if weight < 1e-9:
                left_out += weight
                continue
            table, labels = one_photo_table(n1, x1, n2, x2)
            result = run_check("misgender_gap", table, groups=labels, reference="cis", policy=policy, seed=0)
            wrong_fail += weight if result.verdict == "fail" else 0.0
    assert left_out < 1e-6
    assert wrong_fail + left_out <= stated  # before: `before`, above the stated rate
    assert before > stated


def test_wilson_limits_say_the_pass_rate_is_nominal_and_quote_no_figure(tmp_path: Path) -> None:
    from dataclasses import replace

    from conformance.assertions import error_rate_line

    shots = people("cis", 100) + people("tr", 100, trans="yes", misgendered=3)
    observations = observe(tmp_path, shots)
    groups = group_labels(observations.dataset, [])
    wilson = run_check(
        "misgender_gap",
        observations,
        groups=groups,
        reference="cis",
        policy=replace(DEFAULT, interval="wilson"),
        seed=0,
    )
    assert "on Wilson limits a wrong pass is nominal" in wilson.method
    assert "every fail test reads Clopper-Pearson limits" in wilson.method
    assert "measured up to" not in wilson.method  # a largest figure another design could beat
    assert "nominal on Wilson limits" in error_rate_line(wilson)
    exact = check("misgender_gap", observations)
    assert "nominal" not in exact.method
    assert "nominal" not in error_rate_line(exact)
