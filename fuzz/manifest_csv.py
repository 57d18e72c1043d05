#!/usr/bin/env python3
"""Coverage-guided fuzzing of the CSV manifest reader: ``load_dataset`` on any bytes saved as ``manifest.csv``.

    python fuzz/manifest_csv.py CORPUS fuzz/seeds/manifest_csv -dict=fuzz/dicts/manifest.dict -max_len=8192

Beside the manifest: two good images (``a.png``, ``img/c.png``), ``b.png``, an empty one and a text file,
so rows reach the checks on each photo. Property: a Dataset whose photos lie inside the folder, each once,
or the kit's error with a message.
"""

from __future__ import annotations

import _harness  # first: instruments the kit

from conformance.dataset import Dataset, load_dataset

ROOT = _harness.folder(
    "manifest",
    {
        "a.png": _harness.png((10, 20, 30)),
        "b.png": _harness.png((40, 50, 60)),
        "img/c.png": _harness.png((70, 80, 90)),
        "empty.png": b"",
        "text.png": b"not an image\n",
    },
)
NAME = "manifest.csv"


def check(dataset: Dataset | None) -> None:
    if dataset is None:
        return
    assert len({photo.id for photo in dataset}) == len(dataset), "a photo twice"
    for photo in dataset:
        assert photo.path.is_relative_to(ROOT.resolve()), f"{photo.path} outside {ROOT}"


def TestOneInput(data: bytes) -> None:
    manifest = ROOT / NAME
    manifest.write_bytes(data)
    check(_harness.outcome(lambda: load_dataset(manifest)))


if __name__ == "__main__":
    _harness.main(TestOneInput)
