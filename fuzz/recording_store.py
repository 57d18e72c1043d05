#!/usr/bin/env python3
"""Coverage-guided fuzzing of the recording store: ``RecordingStore.open`` on any bytes, every key played.

    python fuzz/recording_store.py CORPUS fuzz/seeds/recording_store -dict=fuzz/dicts/recording.dict -max_len=8192

Property: the recording is refused with the kit's error and a message, or it opens and every interaction
plays (or is refused); then one interaction appended and the file reopened keeps what was kept, plus it.
"""

from __future__ import annotations

import _harness  # first: instruments the kit

from conformance.recording.scrub import request_key
from conformance.recording.store import RecordingStore

NEW_KEY = request_key("DetectFaces", "")  # the key of a DetectFaces request without a body
NEW_RESPONSE = {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": ""}


def TestOneInput(data: bytes) -> None:
    path = _harness.SCRATCH / "rekognition.jsonl"
    path.write_bytes(data)
    store = _harness.outcome(lambda: RecordingStore.open(path, adapter="rekognition"))
    if store is None:
        return
    assert len(store) == sum(len(found) for found in store.lines.values())
    for key in list(store.lines):
        played = _harness.outcome(lambda key=key: store.play(key))
        assert played is None or "response" in played
    kept = {key: len(found) for key, found in store.lines.items()}
    store.begin_session({"adapter_version": "fuzz"}, note="")
    store.append(NEW_KEY, "DetectFaces", {"operation": "DetectFaces"}, NEW_RESPONSE)
    store.close()
    reopened = RecordingStore.open(path, adapter="rekognition")  # what the store wrote, it must read back
    assert {k: len(found) for k, found in reopened.lines.items() if k != NEW_KEY} == {
        k: n for k, n in kept.items() if k != NEW_KEY
    }
    assert len(reopened.lines[NEW_KEY]) == kept.get(NEW_KEY, 0) + 1


if __name__ == "__main__":
    _harness.main(TestOneInput)
