#!/usr/bin/env python3
"""Coverage-guided fuzzing of the JSONL manifest reader: ``load_dataset`` on any bytes saved as ``manifest.jsonl``.

    python fuzz/manifest_jsonl.py CORPUS fuzz/seeds/manifest_jsonl -dict=fuzz/dicts/manifest.dict -max_len=8192

The same folder and property as ``manifest_csv.py``.
"""

from __future__ import annotations

import _harness  # first: instruments the kit
from manifest_csv import ROOT, check

from conformance.dataset import load_dataset


def TestOneInput(data: bytes) -> None:
    manifest = ROOT / "manifest.jsonl"
    manifest.write_bytes(data)
    check(_harness.outcome(lambda: load_dataset(manifest)))


if __name__ == "__main__":
    _harness.main(TestOneInput)
