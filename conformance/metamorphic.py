"""Metamorphic consistency: benign transformations of a photo should not change the gender an analyzer gives.

A person does not change gender when their photo is mirrored, re-encoded or made a little brighter;
an analyzer that says otherwise is inconsistent about that person. This module has:

- :class:`Transform`: one benign transformation (crop, mirror, scale, brightness, contrast, JPEG
  quality, small rotation), applied deterministically: the same transform of the same photo gives the
  same bytes on every run, so a vendor's recorded answers replay;
- :func:`plan_transforms`: the built-in plan of ``transformation_invariance``, drawn with a seeded
  :class:`random.Random` from :data:`RANGES`, so that the same seed gives the same transforms on every
  Python and with any hypothesis version (recorded answers of a vendor to the variants keep replaying);
- hypothesis strategies for each kind (:func:`crops`, :func:`mirrors`, :func:`scales`,
  :func:`brightness`, :func:`contrast`, :func:`jpeg_qualities`, :func:`rotations`) and
  :func:`benign_transforms` for all of them, for property tests and users' own tests;
- :func:`draw_transforms`: a seeded sample of transforms from a strategy (stable for one hypothesis
  version only: hypothesis does not promise the same draws across its versions);
- :func:`assert_label_invariant`, the helper for users' own tests.

>>> from conformance.metamorphic import assert_label_invariant, benign_transforms   # doctest: +SKIP
>>> assert_label_invariant(analyzer, photo, transforms=benign_transforms(), max_flip_rate=0.1)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConformanceError, ConformanceFailure

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy
    from PIL import Image

    from .adapters.base import Analyzer
    from .dataset import Photo
    from .observation import Observation

__all__ = [
    "KINDS",
    "RANGES",
    "InvarianceResult",
    "Transform",
    "assert_label_invariant",
    "benign_transforms",
    "brightness",
    "contrast",
    "crops",
    "draw_transforms",
    "jpeg_qualities",
    "mirrors",
    "plan_transforms",
    "rotations",
    "scales",
    "variant_photos",
]

KINDS = ("crop", "mirror", "scale", "brightness", "contrast", "jpeg", "rotate")

# Each kind's default range and the decimals its amount is rounded to (mirror has one amount, 1); the
# strategies below and plan_transforms both read it.
RANGES: dict[str, tuple[float, float, int]] = {
    "crop": (0.05, 0.3, 2),
    "mirror": (1, 1, 0),
    "scale": (0.5, 1.5, 2),
    "brightness": (0.6, 1.4, 2),
    "contrast": (0.6, 1.4, 2),
    "jpeg": (20, 95, 0),
    "rotate": (-10.0, 10.0, 1),
}


@dataclass(frozen=True, order=True)
class Transform:
    """A benign transformation: ``kind`` and ``amount`` (rounded, so variants are few and named).

    ``crop``: share of width and height removed, half from each side (0.05-0.3); ``mirror``: left to
    right (amount 1); ``scale``: size factor (0.5-1.5, Lanczos); ``brightness`` and ``contrast``:
    Pillow enhancement factors (0.6-1.4); ``jpeg``: re-encoding quality (20-95); ``rotate``: degrees
    (-10 to 10, about the centre, corners filled black). Results are PNG (lossless), except ``jpeg``.
    """

    kind: str
    amount: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown transform {self.kind!r}; kinds: {', '.join(KINDS)}")

    @property
    def is_identity(self) -> bool:
        """Whether this transform leaves the image as it is (scale 1, rotate 0, ...): not a variant."""
        neutral = {"crop": 0.0, "scale": 1.0, "brightness": 1.0, "contrast": 1.0, "rotate": 0.0}
        return self.kind in neutral and self.amount == neutral[self.kind]

    def __str__(self) -> str:
        return "mirror" if self.kind == "mirror" else f"{self.kind}={self.amount:g}"

    def apply(self, image: Image.Image) -> Image.Image:
        from PIL import Image as PILImage
        from PIL import ImageEnhance

        width, height = image.size
        if self.kind == "crop":
            dx, dy = round(width * self.amount / 2), round(height * self.amount / 2)
            return image.crop((dx, dy, width - dx, height - dy))
        if self.kind == "mirror":
            return image.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT)
        if self.kind == "scale":
            size = (max(1, round(width * self.amount)), max(1, round(height * self.amount)))
            return image.resize(size, PILImage.Resampling.LANCZOS)
        if self.kind == "brightness":
            return ImageEnhance.Brightness(image).enhance(self.amount)
        if self.kind == "contrast":
            return ImageEnhance.Contrast(image).enhance(self.amount)
        if self.kind == "rotate":
            return image.rotate(self.amount, resample=PILImage.Resampling.BICUBIC, fillcolor=(0, 0, 0))
        return image  # jpeg: the change is in the encoding

    def map_box(
        self, box: tuple[float, float, float, float], size: tuple[int, int]
    ) -> tuple[float, float, float, float] | None:
        """Where a face box (fractions of the original of ``size`` pixels) lies in the transformed image.

        So that a variant is judged on the same face as its original, not on another one the detector
        happens to find larger (a badge, a poster) once the image is mirrored or cropped. None when the
        box leaves the transformed image.
        """
        import math

        width, height = size
        left, top, box_width, box_height = box
        if self.kind == "mirror":
            return (1.0 - left - box_width, top, box_width, box_height)
        if self.kind == "crop":
            dx, dy = round(width * self.amount / 2), round(height * self.amount / 2)
            new_w, new_h = width - 2 * dx, height - 2 * dy
            corners = [((left * width - dx) / new_w, (top * height - dy) / new_h)]
            corners.append((((left + box_width) * width - dx) / new_w, ((top + box_height) * height - dy) / new_h))
        elif self.kind == "rotate":
            # Pillow turns the picture counter-clockwise by `amount` degrees about its centre (y down).
            theta = math.radians(self.amount)
            cx, cy = width / 2, height / 2
            corners = []
            for x, y in (
                (left, top),
                (left + box_width, top),
                (left, top + box_height),
                (left + box_width, top + box_height),
            ):
                px, py = x * width - cx, y * height - cy
                rx = cx + px * math.cos(theta) + py * math.sin(theta)
                ry = cy - px * math.sin(theta) + py * math.cos(theta)
                corners.append((rx / width, ry / height))
        else:
            return box  # scale, brightness, contrast, jpeg: the face stays where it was, in fractions
        x0 = max(0.0, min(x for x, _ in corners))
        y0 = max(0.0, min(y for _, y in corners))
        x1 = min(1.0, max(x for x, _ in corners))
        y1 = min(1.0, max(y for _, y in corners))
        if x1 <= x0 or y1 <= y0:
            return None
        return (x0, y0, x1 - x0, y1 - y0)

    def encode(self, image: Image.Image) -> tuple[bytes, str]:
        """The transformed image's bytes and Pillow format name."""
        buffer = io.BytesIO()
        transformed = self.apply(image.convert("RGB"))
        if self.kind == "jpeg":
            transformed.save(buffer, format="JPEG", quality=int(self.amount))
            return buffer.getvalue(), "JPEG"
        transformed.save(buffer, format="PNG")
        return buffer.getvalue(), "PNG"


def _amounts(kind: str, low: float, high: float, digits: int) -> SearchStrategy[Transform]:
    from hypothesis import strategies as st

    return st.floats(low, high, allow_nan=False).map(lambda a: Transform(kind, round(a, digits)))


def crops(low: float = RANGES["crop"][0], high: float = RANGES["crop"][1]) -> SearchStrategy[Transform]:
    """Crop away a share of the image's width and height, half from each side."""
    return _amounts("crop", low, high, 2)


def mirrors() -> SearchStrategy[Transform]:
    from hypothesis import strategies as st

    return st.just(Transform("mirror", 1))


def scales(low: float = RANGES["scale"][0], high: float = RANGES["scale"][1]) -> SearchStrategy[Transform]:
    return _amounts("scale", low, high, 2)


def brightness(
    low: float = RANGES["brightness"][0], high: float = RANGES["brightness"][1]
) -> SearchStrategy[Transform]:
    return _amounts("brightness", low, high, 2)


def contrast(low: float = RANGES["contrast"][0], high: float = RANGES["contrast"][1]) -> SearchStrategy[Transform]:
    return _amounts("contrast", low, high, 2)


def jpeg_qualities(low: int = int(RANGES["jpeg"][0]), high: int = int(RANGES["jpeg"][1])) -> SearchStrategy[Transform]:
    from hypothesis import strategies as st

    return st.integers(low, high).map(lambda q: Transform("jpeg", q))


def rotations(degrees: float = RANGES["rotate"][1]) -> SearchStrategy[Transform]:
    return _amounts("rotate", -degrees, degrees, 1)


def benign_transforms() -> SearchStrategy[Transform]:
    """Any one of the benign transformations, with the default ranges."""
    from hypothesis import strategies as st

    return st.one_of(crops(), mirrors(), scales(), brightness(), contrast(), jpeg_qualities(), rotations())


def draw_transforms(strategy: SearchStrategy[Transform], count: int, seed: int) -> list[Transform]:
    """``count`` distinct transforms drawn from ``strategy``, the same for the same seed and hypothesis.

    Drawing runs hypothesis with that seed, no example database and no shrinking, so the sample is
    reproducible (what recordings of a vendor need). Fewer come back if the strategy has fewer.
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as with_seed

    drawn: dict[Transform, None] = {}

    @with_seed(seed)
    @settings(
        max_examples=max(count * 5, 10),
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(transform: Transform) -> None:
        if len(drawn) < count and not transform.is_identity:
            drawn[transform] = None

    collect()
    return list(drawn)


def plan_transforms(count: int, seed: int) -> list[Transform]:
    """``count`` distinct benign transforms for ``seed``: the built-in plan of ``transformation_invariance``.

    The kinds come in rounds, each round all seven kinds in a shuffled order, so that a plan of seven
    or more covers every kind; each amount is uniform over its kind's range in :data:`RANGES`, rounded as
    the kind's amounts are (qualities whole), and drawn again when it is an identity (scale 1, rotate 0)
    or was drawn already; mirror, which has one amount, is in a plan once. Every choice comes from :meth:`random.Random.random` with ``seed``, the
    one sequence Python promises to keep across its versions, and hypothesis plays no part: the plan of
    a seed never changes, so recordings of a vendor's answers to the variants keep replaying.

    >>> [str(t) for t in plan_transforms(3, seed=1)]
    ['scale=1.15', 'rotate=5.8', 'contrast=0.68']
    """
    import random

    rng = random.Random(seed)
    drawn: dict[Transform, None] = {}
    order: list[str] = []
    for _ in range(max(count, 0) * 2 + len(KINDS)):  # a round gives six or seven: ends a plan the kinds cannot fill
        if len(drawn) >= count:
            break
        if not order:
            order = list(KINDS)
            for i in range(len(order) - 1, 0, -1):  # Fisher-Yates, from random() alone
                j = min(int(rng.random() * (i + 1)), i)
                order[i], order[j] = order[j], order[i]
        kind = order.pop(0)
        low, high, digits = RANGES[kind]
        if low == high:  # mirror: one transform, in the plan once
            drawn.setdefault(Transform(kind, low), None)
            continue
        for _ in range(20):  # an identity or a transform drawn already: draw its amount again
            if kind == "jpeg":  # whole qualities, each equally likely
                amount: float = min(int(low + rng.random() * (high - low + 1)), int(high))
            else:
                amount = round(low + (high - low) * rng.random(), digits)
            transform = Transform(kind, amount)
            if not transform.is_identity and transform not in drawn:
                drawn[transform] = None
                break
    return list(drawn)


@contextmanager
def variant_photos(
    photo: Photo, transforms: Sequence[Transform], box: tuple[float, float, float, float] | None = None
) -> Iterator[list[tuple[Transform, Photo]]]:
    """The photo transformed each way, as Photos in a temporary folder (removed afterwards).

    Each variant's id is ``<photo id>~<transform>``; its digest is its own bytes' SHA-256. ``box``
    (default: the photo's manifest box) is the face the original was judged on; each variant carries
    it mapped through its transform, so the variant is judged on the same face.
    """
    from .images import rgb_image

    image = rgb_image(photo.path)  # the kit's checked opener: an unusable file is a ManifestError naming it
    face = box if box is not None else photo.box
    with tempfile.TemporaryDirectory(prefix="conformance-variants-") as folder:
        out = []
        for index, transform in enumerate(transforms):
            data, image_format = transform.encode(image)
            path = Path(folder) / f"{index:03d}.{'jpg' if image_format == 'JPEG' else 'png'}"
            path.write_bytes(data)
            out.append(
                (
                    transform,
                    replace(
                        photo,
                        id=f"{photo.id}~{transform}",
                        path=path,
                        digest=hashlib.sha256(data).hexdigest(),
                        format=image_format,
                        box=None if face is None else transform.map_box(face, image.size),
                    ),
                )
            )
        yield out


@dataclass(frozen=True)
class InvarianceResult:
    """What the analyzer said about a photo and each transformed variant.

    ``rows`` hold (transform, observation of the variant); a row *flips* when both the photo and the
    variant were analysed and their canonical genders differ. ``seed`` reproduces the sample.
    """

    photo: str
    baseline: Observation
    rows: tuple[tuple[Transform, Observation], ...]
    seed: int
    max_flip_rate: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def flipped(self, observation: Observation) -> bool:
        base, seen = self.baseline.face, observation.face
        return base is not None and seen is not None and base.gender != seen.gender

    @property
    def compared(self) -> int:
        return sum(1 for _, o in self.rows if o.face is not None)

    @property
    def flips(self) -> int:
        return sum(1 for _, o in self.rows if self.flipped(o))

    @property
    def flip_rate(self) -> float:
        return self.flips / self.compared if self.compared else 0.0

    def table(self) -> str:
        base = self.baseline.face
        assert base is not None
        lines = [
            f"label invariance of {self.photo}: {self.flips} of {self.compared} variants flipped "
            f"({self.flip_rate:.0%}, at most {self.max_flip_rate:.0%} allowed); seed {self.seed}",
            f"  {'transform':<16} {'label':<10} {'confidence':>10} {'change':>8}",
            f"  {'(original)':<16} {base.label!s:<10} {_conf(base.confidence):>10} {'':>8}",
        ]
        for transform, seen in self.rows:
            if seen.face is None:
                lines.append(f"  {transform!s:<16} {seen.outcome:<10} {'':>10} {'':>8}  ({seen.reason})")
                continue
            change = (
                f"{seen.face.confidence - base.confidence:+.1f}"
                if seen.face.confidence is not None and base.confidence is not None
                else ""
            )
            mark = "  <- flipped" if self.flipped(seen) else ""
            lines.append(
                f"  {transform!s:<16} {seen.face.label!s:<10} {_conf(seen.face.confidence):>10} {change:>8}{mark}"
            )
        return "\n".join(lines)


def _conf(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def assert_label_invariant(
    analyzer: Analyzer,
    photo: Photo,
    *,
    transforms: SearchStrategy[Transform] | Sequence[Transform] | None = None,
    max_flip_rate: float = 0.0,
    examples: int = 10,
    seed: int = 0,
) -> InvarianceResult:
    """Assert that benign transformations of ``photo`` rarely change the gender ``analyzer`` gives it.

    Parameters
    ----------
    analyzer
        An analyzer that can look at new images (``local``; ``rekognition`` while recording, or
        replaying recordings that hold the variants).
    photo
        A photo of a dataset (``dataset.photos[i]``).
    transforms
        A hypothesis strategy of :class:`Transform` (default :func:`benign_transforms`), from which
        ``examples`` are drawn with ``seed``; or an explicit list.
    max_flip_rate
        The largest acceptable share of variants whose gender differs from the photo's.

    Raises
    ------
    ConformanceFailure
        With a table of every variant: label, confidence, change in confidence, and which flipped.
    """
    __tracebackhide__ = True
    from .adapters.base import capabilities_of, session_of

    if not capabilities_of(analyzer).sees_new_images:
        raise ConformanceError(
            f"{getattr(analyzer, 'name', analyzer)!r} cannot look at transformed images (a predictions file "
            "only knows the photos it lists); use an analyzer that can, such as local"
        )
    chosen = (
        list(transforms)
        if isinstance(transforms, Sequence)
        else draw_transforms(transforms if transforms is not None else benign_transforms(), examples, seed)
    )
    with session_of(analyzer):
        baseline = analyzer.analyze(photo)
        if baseline.face is None:
            raise ConformanceError(f"photo {photo.id!r}: the analyzer found no face ({baseline.reason}); pick another")
        with variant_photos(photo, chosen, box=photo.box or baseline.face.box) as variants:
            rows = tuple((t, analyzer.analyze(p)) for t, p in variants)
    result = InvarianceResult(photo=photo.id, baseline=baseline, rows=rows, seed=seed, max_flip_rate=max_flip_rate)
    if result.flip_rate > max_flip_rate:
        raise ConformanceFailure(result.table(), result)
    return result
