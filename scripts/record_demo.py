"""Record the demo's Rekognition traffic again: the kit's emulator serves the demo's simulated predictions.

    python scripts/record_demo.py

Writes cassettes/demo/rekognition.jsonl and cassettes/matching/rekognition.jsonl (record mode ``all``:
each new recording replaces the old at the end). The recording is EMULATED: it never touched Amazon's service, and says so in every session
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
    from conformance.demo import MANIFEST, MATCHING_MANIFEST, MATCHING_PREDICTIONS, PREDICTIONS
    from conformance.emulators import RekognitionEmulator, serve
    from conformance.matching import run_searches
    from conformance.runner import analyze_dataset

    settings = AdapterSettings(record_mode="all", cassette_dir=str(REPO / "cassettes"))
    dataset = load_dataset(MANIFEST)
    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(PREDICTIONS, dataset=dataset))
    with serve(emulator) as server:
        os.environ["AWS_ENDPOINT_URL_REKOGNITION"] = server.url
        observations = analyze_dataset(create("rekognition", dataset=dataset, settings=settings), dataset)
    print(f"demo: recorded {len(observations)} photos: {observations.outcome_counts()}; {emulator.stats}")

    # The face-search demo: a collection of the 500 gallery photos, 535 probes searched.
    matching = load_dataset(MATCHING_MANIFEST)
    emulator = RekognitionEmulator(matching, PredictionsAnalyzer(MATCHING_PREDICTIONS, dataset=matching))
    with serve(emulator) as server:
        os.environ["AWS_ENDPOINT_URL_REKOGNITION"] = server.url
        matcher = create("rekognition", dataset=matching, settings=settings)
        searches = run_searches(matcher, matching, floor=matcher.search_floor)  # type: ignore[attr-defined]
    print(f"matching: recorded {len(searches.records)} searches: {searches.outcome_counts()}; {emulator.stats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
