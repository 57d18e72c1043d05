"""``report.json``: the machine-readable report. Its schema follows DESIGN.md; changes are additive only.

Top level: ``schema``, ``kit_version``, ``created``, ``verdict`` (worst of the checks), ``seed``,
``analyzer`` (provenance, with ``simulated`` / ``emulated`` flags), ``dataset`` (with its content
hash), ``policy``, ``grouping`` (columns and reference), ``run`` (the flags that reproduce it),
``outcomes`` (counts of analysed / no face / error), ``checks[]`` (each ``CheckResult.to_dict()``),
``skipped[]`` (checks this run could not make, each with its ``id`` and ``reason``), ``photos[]``
(every photo of the manifest with its outcome and reason: nothing is left out) and, with a
baseline, ``regression``. The typed form is :class:`conformance.report.Report`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._atomic import write_atomic, write_atomic_chunks
from ..report import SCHEMA_VERSION, Report, run_verdict
from ..results import CheckResult

__all__ = ["SCHEMA_VERSION", "build_report", "write_json"]


def build_report(
    checks: Sequence[CheckResult],
    *,
    context: Mapping[str, Any],
    skipped: Sequence[Mapping[str, Any]] = (),
    regression: Mapping[str, Any] | None = None,
    not_run: Mapping[str, Mapping[str, str]] | None = None,
) -> Report:
    """Assemble the report from finished checks' results and the run's context payload.

    ``context`` carries ``analyzer``, ``dataset``, ``policy``, ``grouping``, ``run``, ``seed``,
    ``outcomes``, ``notes``, ``photos`` and ``check_order`` as the plugin collected them;
    ``regression`` is the gate's finding, when the run had a baseline.

    Every check the run planned (``context["run"]["checks"]``) is in the report: one without a
    result is a check with verdict ``not run`` (:meth:`CheckResult.not_run`), its reason from
    ``not_run`` (check id to ``cause`` and ``reason``; the key ``"*"`` for any other) in its
    ``notes`` and ``details.not_run``.
    """
    from .._version import __version__

    for check in checks:
        if not isinstance(check, CheckResult):
            raise TypeError(
                f"build_report takes CheckResult values, not a {type(check).__name__}; read a result's dict "
                "with CheckResult.from_dict"
            )
    found = [*checks, *_not_run(context, {c.id for c in checks}, not_run or {})]
    order = list(context.get("check_order", []))
    ordered = sorted(found, key=lambda c: order.index(c.id) if c.id in order else 99)
    data: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "kit_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "verdict": run_verdict(c.verdict for c in ordered),
        "seed": context.get("seed"),
        "analyzer": context.get("analyzer", {}),
        "dataset": context.get("dataset", {}),
        "policy": context.get("policy", {}),
        "grouping": context.get("grouping", {}),
        "run": context.get("run", {}),
        "evidence": context.get("evidence", {}),
        "outcomes": context.get("outcomes", {}),
        "notes": context.get("notes", []),
        "checks": [_as_written(c) for c in ordered],
        # A skipped check is in checks[] as "not run" with the reason; listed here only if it is not.
        "skipped": [dict(s) for s in skipped if s.get("id") not in {c.id for c in ordered}],
        "photos": context.get("photos", []),
    }
    if regression is not None:
        data["regression"] = dict(regression)
    if context.get("sequential") is not None:  # a sequential run's stopping rule, looks and photos not needed
        data["sequential"] = dict(context["sequential"])
    return Report.from_json(data, source="this run's results")


def _as_written(check: CheckResult) -> dict[str, Any]:
    """``check`` as report.json holds it: plain JSON types (a check's details may hold tuples).

    A check that did not run has been written without ``deciding_reference`` (it has no comparison, so no
    deciding one) since report.json had the field: kept so, byte for byte, for the readers and for
    ``conformance verify``, which compares a report with its replay field by field.
    """
    entry: dict[str, Any] = json.loads(json.dumps(check.to_dict()))
    if check.verdict == "not run":
        del entry["deciding_reference"]
    return entry


def _not_run(context: Mapping[str, Any], done: set[str], reasons: Mapping[str, Mapping[str, str]]) -> list[CheckResult]:
    """A ``not run`` check for each planned check without a result, with the reason it has none."""
    from ..checks.check_ids import SUMMARIES

    run = context.get("run", {})
    planned = [str(c) for c in run.get("checks", [])] if isinstance(run, Mapping) else []
    policy = context.get("policy", {})
    grouping = context.get("grouping", {})
    out = []
    for check_id in planned:
        if check_id in done:
            continue
        why = reasons.get(check_id) or reasons.get("*") or {"cause": "no result", "reason": "no result"}
        out.append(
            CheckResult.not_run(
                check_id,
                cause=why["cause"],
                reason=why["reason"],
                measure=SUMMARIES.get(check_id, ""),
                reference=str(grouping.get("reference") or ""),
                confidence=float(policy.get("confidence", 0.95)),
            )
        )
    return out


# Where photos[] goes in the indented document: a string no report can hold (JSON writes NUL as \u0000).
_PHOTOS_HERE = "\x00photos\x00"
_PHOTOS_PER_CHUNK = 4096


def report_only(report: Report, writer: str) -> Report:
    """``report``, which the writers take typed only; a TypeError naming ``writer`` and the way out otherwise.

    A report.json dict is read once, with its errors named, by :meth:`Report.from_json` (or
    :func:`~conformance.report.read_report`), as comparing and the regression gate read it.
    """
    if not isinstance(report, Report):
        raise TypeError(
            f"{writer} writes a conformance.report.Report, not a {type(report).__name__}; read a parsed report.json "
            "with Report.from_json (or the file with read_report)"
        )
    return report


def write_json(report: Report, path: str | Path) -> Path:
    """Write ``report`` as indented JSON, atomically, with each entry of ``photos[]`` compact on its own line.

    A report lists every photo of the manifest: a million of them, indented field by field, made a
    169 MB file through Python's pure-Python indenting encoder (every piece of it held in memory before
    one join). The rest of the report is indented as before; each photo is one line written by the C
    encoder, and the photos are written in chunks, never the whole document as one string. The JSON is
    the same document (a reader sees the same values, in the same order).
    """
    target = Path(path)
    data = report_only(report, "write_json").to_json()
    photos = data.get("photos")
    if not isinstance(photos, Sequence) or isinstance(photos, (str, bytes)) or not photos:
        text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False)
        write_atomic(target, text + "\n")
        return target
    data["photos"] = _PHOTOS_HERE
    head, _, tail = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False).partition(json.dumps(_PHOTOS_HERE))
    write_atomic_chunks(target, _chunks(head, photos, tail + "\n"))
    return target


def _chunks(head: str, photos: Sequence[Any], tail: str) -> Iterator[str]:
    """``head``, then ``photos`` as an indented array of one-line objects, then ``tail``."""
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode  # the C encoder, one entry a call
    texts = (encode(entry) for entry in photos)
    yield head + "[\n"
    count = len(photos)
    for start in range(0, count, _PHOTOS_PER_CHUNK):
        lines = [f"    {text}" for text in itertools.islice(texts, _PHOTOS_PER_CHUNK)]
        yield ",\n".join(lines) + (",\n" if start + _PHOTOS_PER_CHUNK < count else "\n")
    yield "  ]" + tail
