"""Record the demo's Rekognition traffic again: the kit's emulator serves the demo's simulated predictions.

    python scripts/record_demo.py

Writes cassettes/demo/rekognition.jsonl (record mode ``all``: the new recording replaces the old at
the end). The recording is EMULATED: it never touched Amazon's service, and says so in every session
line and response header it holds.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    from conformance.adapters.base import AdapterSettings
    from conformance.adapters.predictions import PredictionsAnalyzer
    from conformance.adapters.registry import create
    from conformance.dataset import load_dataset
    from conformance.demo import MANIFEST, PREDICTIONS
    from conformance.emulators import RekognitionEmulator, serve
    from conformance.runner import analyze_dataset

    dataset = load_dataset(MANIFEST)
    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(PREDICTIONS, dataset=dataset))
    with serve(emulator) as server:
        os.environ["AWS_ENDPOINT_URL_REKOGNITION"] = server.url
        settings = AdapterSettings(record_mode="all", cassette_dir=str(REPO / "cassettes"))
        observations = analyze_dataset(create("rekognition", dataset=dataset, settings=settings), dataset)
    print(f"recorded {len(observations)} photos: {observations.outcome_counts()}; {emulator.stats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
