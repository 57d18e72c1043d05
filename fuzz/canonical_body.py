#!/usr/bin/env python3
"""Coverage-guided fuzzing of request keys: ``canonical_body`` on any bytes (and on them as text), then
``request_key``.

    python fuzz/canonical_body.py CORPUS fuzz/seeds/canonical_body -dict=fuzz/dicts/canonical_body.dict -max_len=8192

``canonical_body`` has no error of its own: it must return for any body. Property: a string that maps to
itself (vcrpy runs its hooks several times per request), holds no image bytes (no string under ``Bytes``),
and keys to 64 hex digits.
"""

from __future__ import annotations

import json
import string
from typing import Any

import _harness  # first: instruments the kit

from conformance.recording.scrub import canonical_body, request_key


def string_bytes_values(value: Any) -> list[str]:
    """Every string stored under a ``Bytes`` key, at any depth."""
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k == "Bytes" and isinstance(v, str)]
        return found + [s for v in value.values() for s in string_bytes_values(v)]
    if isinstance(value, list):
        return [s for v in value for s in string_bytes_values(v)]
    return []


def check(body: bytes | str) -> None:
    canonical = canonical_body(body)
    assert isinstance(canonical, str)
    assert canonical_body(canonical) == canonical, "not idempotent"
    if canonical:
        assert string_bytes_values(json.loads(canonical)) == [], "image bytes kept"
    key = request_key("DetectFaces", canonical)
    assert len(key) == 64
    assert set(key) <= set(string.hexdigits.lower())


def TestOneInput(data: bytes) -> None:
    check(data)
    check(data.decode("utf-8", errors="surrogateescape"))  # as text; bytes that are not UTF-8 become lone surrogates


if __name__ == "__main__":
    _harness.main(TestOneInput)
