"""Record and replay of vendor traffic: scrubbing, keys by image digest, an indexed append-only store.

- :mod:`.scrub`: what a recording keeps (operation, canonical body with image digests) and drops.
- :mod:`.store`: the JSONL store, indexed by request key, appended line by line.
- :mod:`.cassette`: the vcrpy cassette that replays from and records into the store.
"""

from __future__ import annotations

from .cassette import RECORD_MODES, effective_mode, replaying
from .store import RecordingError, RecordingStore

__all__ = ["RECORD_MODES", "RecordingError", "RecordingStore", "effective_mode", "replaying"]
