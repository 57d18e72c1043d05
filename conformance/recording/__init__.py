"""Record and replay of vendor traffic: scrubbing, keys by image digest, an indexed append-only store.

- :mod:`.scrub`: what a recording keeps (operation, canonical body with image digests) and drops.
- :mod:`.store`: the JSONL store, indexed by request key, appended line by line; :mod:`.lock` its one writer.
- :mod:`.cassette`: the vcrpy cassette that replays from and records into the store.
- :mod:`.recorder`: a recorded adapter's recording for a run (opened, checked, completed, shared with
  workers) and its counts; the small :class:`~.recorder.RecordedVendor` protocol is what an adapter gives it.
- :mod:`.endpoints`, :mod:`.sessions`: where answers came from, and what the recording's sessions say.
- :mod:`.guards`: no network in a replay, no secret in the SDK's logs.
- :mod:`.paths`, :mod:`.proof`: where a dataset's recording lives; the kit's emulator proving itself.
"""

from __future__ import annotations

from .cassette import RECORD_MODES, effective_mode, replaying
from .store import RecordingError, RecordingStore

__all__ = ["RECORD_MODES", "RecordingError", "RecordingStore", "effective_mode", "replaying"]
