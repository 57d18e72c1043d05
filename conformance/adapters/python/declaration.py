"""What a model's module declares about it: VOCABULARY, ABSTAINS, GIVES_CONFIDENCE, NAME, VERSION, BATCH_SIZE."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..._untrusted import shown
from ...errors import AdapterError
from ...identity import IDENTITIES

_MEANINGS = (*IDENTITIES, "abstain")
_DEFAULT_BATCH = 16


@dataclass(frozen=True)
class _Declaration:
    """What a model's module says about it (VOCABULARY, ABSTAINS, GIVES_CONFIDENCE, NAME, VERSION, BATCH_SIZE)."""

    labels: Mapping[str, str] | None  # None: not declared, inferred from the answers
    abstains: bool
    gives_confidence: bool | None  # None: not declared
    name: str
    version: str
    batch_size: int
    where: str  # the module, for messages
    file: Path | None


def _declaration(
    namespace: Mapping[str, Any],
    *,
    where: str,
    default_name: str,
    file: Path | None,
    overrides: Mapping[str, Any],
) -> _Declaration:
    def get(key: str) -> Any:
        return overrides[key] if overrides.get(key) is not None else namespace.get(key)

    labels = get("VOCABULARY")
    if labels is not None:
        if not isinstance(labels, Mapping) or not all(isinstance(k, str) and k for k in labels):
            raise AdapterError(
                f"VOCABULARY in {where} must map each label the model can output to what it means, e.g. "
                f'VOCABULARY = {{"Woman": "woman", "Man": "man"}} (got {shown(labels)})'
            )
        for label, meaning in labels.items():
            if meaning not in _MEANINGS:
                raise AdapterError(
                    f"VOCABULARY in {where} maps {shown(label)} to {shown(meaning)}; use one of {', '.join(_MEANINGS)}"
                )
    abstains = get("ABSTAINS")
    if abstains is not None and not isinstance(abstains, bool):
        raise AdapterError(f"ABSTAINS in {where} must be True or False, not {shown(abstains)}")
    gives_confidence = get("GIVES_CONFIDENCE")
    if gives_confidence is not None and not isinstance(gives_confidence, bool):
        raise AdapterError(f"GIVES_CONFIDENCE in {where} must be True or False, not {shown(gives_confidence)}")
    if labels is not None and not labels and not abstains:
        raise AdapterError(
            f"VOCABULARY in {where} is empty: list every label the model can output, or set ABSTAINS = True "
            "for a model that never gives a gender"
        )
    batch = get("BATCH_SIZE")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise AdapterError(f"BATCH_SIZE in {where} must be a whole number of photos, 1 or more, not {shown(batch)}")
    name, version = get("NAME"), get("VERSION")
    if version is None:
        version = namespace.get("__version__")
    return _Declaration(
        labels=None if labels is None else {str(k): str(v) for k, v in labels.items()},
        abstains=bool(abstains),
        gives_confidence=gives_confidence,
        name=default_name if name is None else str(name),
        version="unknown" if version is None else str(version),
        batch_size=_DEFAULT_BATCH if batch is None else batch,
        where=where,
        file=file,
    )
