"""Where replayed answers came from, read again from the recording: for observations the cache gives back.

The run reads it when the observation cache answers (:mod:`conformance.run.runner`), and the report's
evidence (:mod:`conformance.evidence`, which re-exports both functions) reads it too; it lives in the
run so that the run never imports the report's assembly (which imports the option table).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..adapters.base import Analyzer

__all__ = ["recorded_flags", "replayed_provenance"]

# The kit's emulator marks every answer it serves (conformance.emulators.rekognition), and its answers
# from simulated predictions too; a replay reads the marks from the recorded headers.
_EMULATOR_HEADER = "x-conformance-emulator"
_SIMULATED_HEADER = "x-conformance-simulated"


def recorded_flags(recording: str | os.PathLike[str]) -> dict[str, bool]:
    """Whether any answer of a recording came from the kit's emulator (``emulated``), from simulated
    predictions (``simulated``), read from the recorded answers' headers as a replay reads them."""
    flags = {"emulated": False, "simulated": False}
    import io

    from .._files import open_regular

    with io.TextIOWrapper(open_regular(recording), encoding="utf-8") as handle:
        for line in handle:
            if _EMULATOR_HEADER not in line and _SIMULATED_HEADER not in line:
                continue  # most lines: no need to parse them
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a torn line: the replay drops it too
            response = record.get("response") if isinstance(record, dict) else None
            headers = response.get("headers") if isinstance(response, dict) else None
            if not isinstance(headers, dict):
                continue
            named = {str(k).lower(): v for k, v in headers.items()}
            flags["emulated"] = flags["emulated"] or _EMULATOR_HEADER in named
            flags["simulated"] = flags["simulated"] or str(named.get(_SIMULATED_HEADER)) == "true"
    return flags


def replayed_provenance(analyzer: Analyzer) -> dict[str, Any]:
    """What ``analyzer.describe()`` says after a replay, without replaying a single answer.

    For observations read from the cache: the adapter opens its recording as a replay does and
    describes it (its sessions, endpoint classes, SDK versions), and the emulator's and simulation's
    marks are read from the recorded answers themselves. Nothing here comes from the cache.
    """
    from ..adapters.base import provenance, session_of

    with session_of(analyzer):
        info = provenance(analyzer)
    source = info.get("source")
    if isinstance(source, str) and Path(source).is_file():
        flags = recorded_flags(source)
        info["emulated"] = bool(info.get("emulated")) or flags["emulated"]
        info["simulated"] = bool(info.get("simulated")) or flags["simulated"]
    return info
