"""Build small datasets from counts: a manifest, 8x8 PNG placeholders and a predictions JSONL.

Tests describe photos (who is in them, what the analyzer said) and get back what
``conformance.analyze("predictions:...", load_dataset(...))`` makes of them, so every check is
exercised through the public surface, from files, exactly as a user's data would be.

>>> shots = people("w", 3, identity="woman", trans="no", misgendered=1)  # doctest: +SKIP
>>> observations = observe(tmp_path, shots)                              # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import conformance
from conformance import load_dataset
from conformance.demo import MANIFEST as DEMO_MANIFEST

if TYPE_CHECKING:
    from conformance.observation import Observations

__all__ = [
    "RIGHT_LABEL",
    "WRONG_LABEL",
    "Shot",
    "observe",
    "people",
    "shot",
    "typed",
    "write_dataset",
]

Outcome = Literal["analysed", "no_face", "error"]

# What the analyzer says to get someone right, and to misgender them (any binary label misgenders
# a nonbinary person; "Female" is as good as "Male" for that).
RIGHT_LABEL: Mapping[str, str] = {"woman": "Female", "man": "Male", "nonbinary": "Nonbinary"}
WRONG_LABEL: Mapping[str, str] = {"woman": "Male", "man": "Female", "nonbinary": "Female"}
# Self-descriptions written as sex labels (as in older audits) mean the same identities.
_CANONICAL = {"female": "woman", "male": "man"}


@dataclass(frozen=True)
class Shot:
    """One photo: whose it is (self-described identity, trans status), and what the analyzer said.

    ``label`` is the analyzer's gender label (``None`` is an abstention); ``outcome`` other than
    ``"analysed"`` means no face was found, or the call failed.
    """

    subject: str
    identity: str = "woman"
    trans: str = "no"
    label: str | None = "Female"
    confidence: float | None = 90.0
    outcome: Outcome = "analysed"
    attributes: Mapping[str, str] = field(default_factory=dict)


def shot(
    subject: str,
    identity: str = "woman",
    trans: str = "no",
    label: str | None = "Female",
    *,
    confidence: float | None = 90.0,
    outcome: Outcome = "analysed",
    **attributes: str,
) -> Shot:
    """One photo, spelled out (attributes become extra manifest columns)."""
    return Shot(subject, identity, trans, label, confidence, outcome, attributes)


def people(
    prefix: str,
    subjects: int,
    *,
    identity: str = "woman",
    trans: str = "no",
    misgendered: int = 0,
    abstained: int = 0,
    no_face: int = 0,
    errors: int = 0,
    photos: int = 1,
    confidence: float | None = 90.0,
    **attributes: str,
) -> list[Shot]:
    """``subjects`` people named ``prefix-NNNN``, each with ``photos`` photos that all get the same answer.

    The first ``misgendered`` people are misgendered on every photo, the next ``abstained`` get no
    gender, the next ``no_face`` have no face found, the next ``errors`` fail; the rest are gendered
    correctly. With ``photos > 1`` the data is perfectly clustered: a person is all right or all wrong.
    """
    if misgendered + abstained + no_face + errors > subjects:
        raise ValueError(f"{prefix}: more special cases than the {subjects} subjects")
    canonical = _CANONICAL.get(identity, identity)
    kinds: list[tuple[str | None, Outcome]] = (
        [(WRONG_LABEL[canonical], "analysed")] * misgendered
        + [(None, "analysed")] * abstained
        + [(None, "no_face")] * no_face
        + [(None, "error")] * errors
    )
    kinds += [(RIGHT_LABEL[canonical], "analysed")] * (subjects - len(kinds))
    return [
        Shot(f"{prefix}-{i:04d}", identity, trans, label, confidence, outcome, dict(attributes))
        for i, (label, outcome) in enumerate(kinds)
        for _ in range(photos)
    ]


@lru_cache(maxsize=1)
def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (128, 128, 128)).save(buffer, format="PNG")
    return buffer.getvalue()


def _distinct(png: bytes, number: int) -> bytes:
    """The same PNG with the photo's number in a text chunk before IEND: its own SHA-256, the same pixels."""
    import struct
    import zlib

    data = b"photo\x00" + str(number).encode()
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    return png[:-12] + chunk + png[-12:]


def write_dataset(
    directory: Path, shots: Sequence[Shot], *, header: Mapping[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write ``manifest.csv``, ``img/pNNNNN.png`` and ``predictions.jsonl`` under ``directory``.

    ``header`` is the predictions file's header line (the analyzer's name, ``vocabulary``,
    ``abstains``...); by default a header naming the analyzer only, so the vocabulary is the labels seen.
    Returns the manifest's and the predictions file's paths.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "img").mkdir(exist_ok=True)
    png = _png()
    columns: dict[str, None] = {}
    for s in shots:
        columns.update(dict.fromkeys(s.attributes))
    manifest = directory / "manifest.csv"
    predictions = directory / "predictions.jsonl"
    lines = [json.dumps(dict(header) if header is not None else {"analyzer": "builder", "version": "1"})]
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo", "subject", "gender_identity", "trans", *columns])
        for number, s in enumerate(shots):
            photo = f"img/p{number:05d}.png"
            # Each photo its own bytes: the kit refuses one image listed under two people (red team 13c).
            (directory / photo).write_bytes(_distinct(png, number))
            writer.writerow([photo, s.subject, s.identity, s.trans] + [s.attributes.get(c, "") for c in columns])
            lines.append(json.dumps(_prediction(photo, s)))
    predictions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return manifest, predictions


def _prediction(photo: str, s: Shot) -> dict[str, Any]:
    if s.outcome == "error":
        return {"photo": photo, "error": "ThrottlingException"}
    if s.outcome == "no_face":
        return {"photo": photo, "faces": []}
    face: dict[str, Any] = {"gender": s.label, "box": [0.1, 0.1, 0.8, 0.8]}
    if s.confidence is not None:
        face["confidence"] = s.confidence
    return {"photo": photo, "faces": [face]}


def observe(directory: Path, shots: Iterable[Shot], *, header: Mapping[str, Any] | None = None) -> Observations:
    """Write the dataset and run the predictions adapter over it, through the public API."""
    manifest, predictions = write_dataset(directory, list(shots), header=header)
    return conformance.analyze(f"predictions:{predictions}", load_dataset(manifest))


def typed(*reports: Any) -> list[Any]:
    """Each report.json dict read once as a :class:`~conformance.report.Report`, as ``load_report`` reads a file:
    comparing and the gate take nothing else. A Report given is kept as it is."""
    from conformance.report import Report

    return [r if isinstance(r, Report) else Report.from_json(r) for r in reports]


# `conformance run` arguments of a sequential run of the demo through the kit's recorded Rekognition stand-in
# (the emulator); tests add the record mode, the executor and the report folder.
SEQUENTIAL_DEMO_RECORDING = [
    "run",
    "--dataset",
    str(DEMO_MANIFEST),
    "--analyzer",
    "rekognition",
    "--cassette-dir",
    "cassettes",
    "--sequential",
    "--checks",
    "misgender_gap,nonbinary_representability",
]


def demo_sequential_report(out: Path, spending: str) -> dict[str, Any]:
    """report.json of ``conformance run --sequential`` on the demo, its looks spent with ``spending`` (a name in
    ``conformance.sequential.SPENDINGS``), as a kit whose runs spent so wrote it.

    No option chooses the spending (reports state it, verify replays it), so the run's default is patched. The
    process keeps the contexts it loaded by their options: the same command run earlier in this process (another
    test's, under xdist) would otherwise be reused, spent the current way, hence the cache is cleared around it.
    """
    import pytest

    from conformance.cli import main
    from conformance.run.context import load_context

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("conformance.sequential.DEFAULT_SPENDING", spending)
        load_context.cache_clear()
        try:
            main(
                [
                    "run",
                    "--sequential",
                    "--checks",
                    "misgender_gap,nonbinary_representability",
                    "--report-dir",
                    str(out),
                ]
            )
        finally:
            load_context.cache_clear()
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    return report
