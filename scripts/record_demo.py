"""Record the demo's Rekognition traffic again: the kit's emulator serves the demo's simulated predictions.

    python scripts/record_demo.py

Writes cassettes/demo/rekognition.jsonl and cassettes/matching/rekognition.jsonl (record mode ``all``:
each new recording replaces the old at the end). The recording is EMULATED: it never touched Amazon's
service, and says so in every session line and response header it holds.

The demo's images are 8x8 placeholders, under Rekognition's 80-pixel minimum: Amazon would refuse every
one (see conformance/demo/README.md). The emulator's minimum-size rule, on by default in ``conformance
emulate``, is off here (``min_image_side=0``), as it was for the recordings shipped.

The adapter records into ``<cassette dir>/<dataset folder>-<tag>/``; the demo ships its recordings in
the older layout, ``<cassette dir>/<dataset folder>/``, which replays as it is (the adapter reads it
when the tagged folder does not exist), so each new recording is moved there.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _ship(analyzer: object) -> Path:
    """Move the adapter's new recording into the layout the demo ships, and say where."""
    recording = Path(analyzer.recording)  # type: ignore[attr-defined]
    shipped = Path(analyzer.legacy_recording)  # type: ignore[attr-defined]
    shipped.parent.mkdir(parents=True, exist_ok=True)
    os.replace(recording, shipped)
    shutil.rmtree(recording.parent)  # the tagged folder held the new recording and its lock only
    return shipped


def main() -> int:
    from conformance.adapters.base import AdapterSettings
    from conformance.adapters.predictions import PredictionsAnalyzer
    from conformance.adapters.registry import create
    from conformance.dataset import load_dataset
    from conformance.demo import CASSETTES, MANIFEST, MATCHING_MANIFEST, MATCHING_PREDICTIONS, PREDICTIONS
    from conformance.emulators import RekognitionEmulator, serve
    from conformance.run.matching import run_searches
    from conformance.run.runner import analyze_dataset

    # The folder the demo replays from (a link to the repository's cassettes/), so the header's tag is its own.
    settings = AdapterSettings(record_mode="all", cassette_dir=str(CASSETTES))
    dataset = load_dataset(MANIFEST)
    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(PREDICTIONS, dataset=dataset), min_image_side=0)
    with serve(emulator) as server:
        os.environ["AWS_ENDPOINT_URL_REKOGNITION"] = server.url
        analyzer = create("rekognition", dataset=dataset, settings=settings)
        observations = analyze_dataset(analyzer, dataset)
    print(f"demo: recorded {len(observations)} photos: {observations.outcome_counts()}; {emulator.stats}")
    print(f"demo: {_ship(analyzer)}")

    # The face-search demo: a collection of the 500 gallery photos, 535 probes searched.
    matching = load_dataset(MATCHING_MANIFEST)
    emulator = RekognitionEmulator(
        matching, PredictionsAnalyzer(MATCHING_PREDICTIONS, dataset=matching), min_image_side=0
    )
    with serve(emulator) as server:
        os.environ["AWS_ENDPOINT_URL_REKOGNITION"] = server.url
        matcher = create("rekognition", dataset=matching, settings=settings)
        searches = run_searches(matcher, matching, floor=matcher.search_floor)  # type: ignore[attr-defined,arg-type]
    print(f"matching: recorded {len(searches.records)} searches: {searches.outcome_counts()}; {emulator.stats}")
    print(f"matching: {_ship(matcher)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
