"""A cache of observations, so a re-run on unchanged recordings does not parse every response again.

A policy change or a new check needs the same observations as the last run; replaying 100,000
recorded responses through boto3 to get them again costs about a minute. An adapter that can vouch
for its answers being fixed (a replay of a recording) offers a ``cache_key()``: a digest of every
input the observations depend on (the recording's bytes, the dataset's content hash, the adapter's
version and source code, botocore's version, the vocabulary, the planned variants). The runner
then stores the observations under that key in ``<project>/.conformance_cache/observations/`` and
reads them back on the next run with the same key. Anything changed, a single byte of the
recording included, gives another key: the answers are worked out again.

The files hold what the report holds (labels, confidences, boxes, reasons), never image bytes.
Delete the folder at will; ``--no-cache`` (``--conformance-no-cache``) neither reads nor writes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .observation import Face, Observation, Variant

__all__ = ["FORMAT", "load", "source_digest", "store"]

FORMAT = 1
_FOLDER = Path(".conformance_cache") / "observations"


def source_digest(*modules: str) -> str:
    """SHA-256 over the source files of ``modules`` (their code decides what an answer becomes)."""
    import importlib.util

    digest = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()


def _path(root: Path, key: str) -> Path:
    return root / _FOLDER / f"{key}.json"


def _face(face: Face | None) -> dict[str, Any] | None:
    if face is None:
        return None
    return {
        "label": face.label,
        "gender": face.gender,
        "confidence": face.confidence,
        "box": None if face.box is None else list(face.box),
        "age": face.age,
    }


def _observation(record: Observation) -> list[Any]:
    return [record.photo, record.outcome, record.faces, record.reason, _face(record.face)]


def _read_observation(row: list[Any]) -> Observation:
    from .observation import Face, Observation

    photo, outcome, faces, reason, face = row
    return Observation(
        photo=photo,
        outcome=outcome,
        faces=faces,
        reason=reason,
        face=None
        if face is None
        else Face(
            label=face["label"],
            gender=face["gender"],
            confidence=face["confidence"],
            box=None if face["box"] is None else (face["box"][0], face["box"][1], face["box"][2], face["box"][3]),
            age=face["age"],
        ),
    )


def store(
    root: Path,
    key: str,
    observations: list[Observation],
    variants: list[Variant] | None,
    note: str,
    analyzer: Mapping[str, Any],
) -> Path:
    """Write the observations under ``key`` (atomically: a reader sees the whole file or none)."""
    from ._atomic import write_atomic

    path = _path(root, key)
    document = {
        "format": FORMAT,
        "key": key,
        "analyzer": dict(analyzer),
        "observations": [_observation(o) for o in observations],
        "variants": None
        if variants is None
        else [[v.photo, v.transform, _observation(v.observation)] for v in variants],
        "variants_note": note,
    }
    write_atomic(path, json.dumps(document, separators=(",", ":")))
    return path


def load(root: Path, key: str) -> tuple[list[Observation], list[Variant] | None, str, dict[str, Any]] | None:
    """The observations stored under ``key``, or None when there are none (or the file is not usable)."""
    from .observation import Variant

    path = _path(root, key)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FORMAT or document.get("key") != key:
            return None
        observations = [_read_observation(row) for row in document["observations"]]
        variants = (
            None
            if document["variants"] is None
            else [Variant(photo, transform, _read_observation(row)) for photo, transform, row in document["variants"]]
        )
        return observations, variants, str(document["variants_note"]), dict(document["analyzer"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # absent, damaged or from another version: work the answers out again
