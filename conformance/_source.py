"""The digest of the kit's own source: what binds a cached answer to the code that made it.

A leaf (standard library only): the observation cache (:mod:`conformance.run.cache`) keys its entries
with it, and an adapter names the modules whose code decides what its answers become
(:meth:`conformance.adapters.rekognition.RekognitionAnalyzer.cache_key`); adapters may not import
the cache, which belongs to the run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["source_digest"]


def source_digest(*modules: str) -> str:
    """SHA-256 over the source files of ``modules`` (their code decides what an answer becomes)."""
    import importlib.util

    digest = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            digest.update(Path(spec.origin).read_bytes())
    return digest.hexdigest()
