"""``report.json``: the machine-readable report. Its schema follows DESIGN.md; changes are additive only.

Top level: ``schema``, ``kit_version``, ``created``, ``verdict`` (worst of the checks), ``seed``,
``analyzer`` (provenance, with ``simulated`` / ``emulated`` flags), ``dataset`` (with its content
hash), ``policy``, ``grouping`` (columns and reference), ``run`` (the flags that reproduce it),
``outcomes`` (counts of analysed / no face / error), ``checks[]`` (each ``CheckResult.to_dict()``),
``skipped[]`` (checks this run could not make, each with its ``id`` and ``reason``) and ``photos[]`` (every photo of the manifest with its outcome and reason: nothing is left out).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._atomic import write_atomic

__all__ = ["SCHEMA_VERSION", "build_report", "write_json"]

SCHEMA_VERSION = 1


def _worst(verdicts: Sequence[str]) -> str:
    from ..results import worst

    return worst(verdicts)  # type: ignore[arg-type]


def build_report(
    checks: Sequence[Mapping[str, Any]],
    *,
    context: Mapping[str, Any],
    skipped: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Assemble the report from finished check dicts and the run's context payload.

    ``context`` carries ``analyzer``, ``dataset``, ``policy``, ``grouping``, ``run``, ``seed``,
    ``outcomes`` and ``photos`` as the plugin collected them.
    """
    from .._version import __version__

    ordered = sorted(
        checks,
        key=lambda c: (
            list(context.get("check_order", [])).index(c["id"]) if c["id"] in context.get("check_order", []) else 99
        ),
    )
    return {
        "schema": SCHEMA_VERSION,
        "kit_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "verdict": _worst([c["verdict"] for c in ordered]),
        "seed": context.get("seed"),
        "analyzer": context.get("analyzer", {}),
        "dataset": context.get("dataset", {}),
        "policy": context.get("policy", {}),
        "grouping": context.get("grouping", {}),
        "run": context.get("run", {}),
        "outcomes": context.get("outcomes", {}),
        "notes": context.get("notes", []),
        "checks": list(ordered),
        "skipped": [dict(s) for s in skipped],
        "photos": context.get("photos", []),
    }


def write_json(report: Mapping[str, Any], path: str | Path) -> Path:
    """Write ``report`` as indented JSON, atomically."""
    target = Path(path)
    write_atomic(target, json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return target
