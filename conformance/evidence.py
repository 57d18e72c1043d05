"""What a report is made of, and the digests that seal it to that evidence.

:func:`context_payload` is everything a report says about a run besides the checks' results: the
analyzer's provenance, the dataset, the policy, how the run was made, what became of every photo,
and ``evidence``, the section that names each input with its SHA-256:

- the manifest (its bytes) and every image (``photos[].sha256``; the dataset's ``content_hash``
  covers both);
- each file the analyzer read its answers from: a predictions file, a recording, scores or
  embeddings, a ``python:`` model's module (whatever the adapter names as its source);
- the policy in force, as canonical content (``Policy.to_dict``) with the digest of that content,
  and the identity map in force (part of the policy) with its own digest;
- the kit's version, and the recording sessions the answers came from (when, against which class
  of endpoint, with which SDK), as the adapter reads them from the recording.

Two runs on different files at the same path differ here, and ``conformance verify`` (see
:mod:`conformance.verify`) re-derives every figure from these files, checking each digest first.
Digests are computed from the files themselves, never taken from an adapter's word or a cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from ._files import file_digest
from .run.provenance import recorded_flags, replayed_provenance

if TYPE_CHECKING:
    from .dataset import Photo
    from .observation import Observation
    from .run.context import Context

__all__ = [
    "PhotoEntries",
    "canonical_digest",
    "context_payload",
    "evidence",
    "file_digest",
    "file_entry",
    "policy_content",
    "recorded_flags",
    "replayed_provenance",
    "reproduce_command",
]


def canonical_digest(value: object) -> str:
    """The SHA-256 (hex) of ``value`` as canonical JSON (sorted keys, no spaces): the same content, the same digest."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def policy_content(policy: Mapping[str, Any]) -> dict[str, Any]:
    """The policy in force as canonical content: every setting, not where it was read from."""
    return {key: value for key, value in policy.items() if key != "source"}


def file_entry(path: str | os.PathLike[str], root: str | None) -> dict[str, Any]:
    """A file as the evidence names it: its absolute path, its path under the run's root (if it is under it),
    its size and digest. ``conformance verify --root DIR`` finds a moved project's files by ``relative``."""
    absolute = Path(os.path.abspath(path))
    relative = None
    if root is not None:
        try:
            relative = absolute.relative_to(Path(os.path.abspath(root))).as_posix()
        except ValueError:
            relative = None  # outside the project: the kit's own demo files, a shared folder
    return {
        "path": str(absolute),
        "relative": relative,
        "bytes": absolute.stat().st_size,
        "sha256": file_digest(absolute),
    }


def _analyzer_files(ctx: Context) -> list[tuple[Path, str]]:
    """The files the analyzer's answers came from, with their kind: the ones it declares (``Capabilities(
    reads_files=True)``, :class:`~conformance.adapters.base.ReadsFiles`) and the file its ``--analyzer NAME:ARGUMENT``
    names (as its factory declares it, else ``FILE[?OPTIONS]`` when that file exists: red team 18b F2, what the
    analyzer read is evidence whether or not it says so), nothing guessed from its name or its ``describe()``."""
    from .adapters.registry import argument_file

    declared = ctx.analyzer.get("evidence_files")
    entries: list[tuple[object, object]] = [
        (entry.get("path"), entry.get("kind"))
        for entry in (declared if isinstance(declared, list) else [])
        if isinstance(entry, Mapping)
    ]
    named = argument_file(ctx.analyzer_spec) if ctx.analyzer_spec else None
    if named is not None:
        entries.append((named.file, "analyzer argument"))
    found: list[tuple[Path, str]] = []
    for path, kind in entries:
        if not isinstance(path, str) or not path:
            continue
        file = Path(os.path.abspath(path))
        if file.is_file() and file not in (f for f, _ in found):
            found.append((file, str(kind or "analyzer file")))
    return found


def evidence(ctx: Context) -> dict[str, Any]:
    """The ``evidence`` section of report.json for the run ``ctx`` (see the module's docstring)."""
    from ._version import __version__

    root = ctx.options.project_root
    policy = json.loads(json.dumps(policy_content(ctx.policy.to_dict())))  # tuples as lists, as report.json has them
    described = ctx.analyzer
    sessions = described.get("recording_sessions", described.get("recorded_with", []))
    return {
        "kit_version": __version__,
        "root": root,
        "manifest": file_entry(ctx.dataset.manifest, root),
        "images": {
            "count": len(ctx.dataset.photos),
            "digests": "photos[].sha256",
            "content_hash": ctx.dataset.content_hash,
        },
        "analyzer_files": [{"kind": kind, **file_entry(path, root)} for path, kind in _analyzer_files(ctx)],
        "policy": {
            "source": ctx.policy.source,
            # Where the policy was read from, for verify to read it again (no digest: the content is what counts).
            "file": _policy_file(ctx.policy.source, root),
            "content": policy,
            "sha256": canonical_digest(policy),
        },
        "identity_map": {"content": dict(ctx.policy.identity), "sha256": canonical_digest(dict(ctx.policy.identity))},
        "endpoint_class": described.get("endpoint_class"),
        "recording_sessions": list(sessions) if isinstance(sessions, list) else [],
    }


def _policy_file(source: str, root: str | None) -> dict[str, Any] | None:
    """The policy file (``--policy FILE``, or the project's pyproject.toml), as a path and a path under the root."""
    path = Path(source.removesuffix(" [tool.conformance]"))
    if source == "built-in defaults" or not path.is_file():
        return None
    entry = file_entry(path, root)
    return {"path": entry["path"], "relative": entry["relative"], "table": source.endswith(" [tool.conformance]")}


def context_payload(ctx: Context) -> dict[str, Any]:
    """Everything report.json says about the run ``ctx`` besides its checks' results (plain JSON types)."""
    from .checks import CHECK_IDS
    from .options import reproduce_flags

    options = ctx.options
    payload = {
        "seed": options.seed,
        # Without the files it declared: the kit's key, which the evidence section states with their digests.
        "analyzer": {k: v for k, v in ctx.analyzer.items() if k != "evidence_files"},
        "dataset": ctx.dataset.describe(),
        "policy": ctx.policy.to_dict(),
        "grouping": {"by": list(options.group_by), "reference": ctx.reference},
        "run": {
            "flags": reproduce_flags(options),
            "command": reproduce_command(reproduce_flags(options), (), cli=True),
            "python": sys.version.split()[0],
            "pytest": _version("pytest"),
            # The built-in variant plan is drawn with random.Random (the same in any hypothesis version); hypothesis'
            # version is kept for a user's own property tests of label invariance that the report's run included.
            "hypothesis": _version("hypothesis"),
            "checks": list(ctx.checks),
        },
        "check_order": list(CHECK_IDS),
        "outcomes": _outcomes(ctx),
        "notes": list(ctx.notes),
        "evidence": evidence(ctx),
    }
    if ctx.sequential is not None:  # a sequential run: what it sent, what it did not need, and why it stopped
        block = ctx.sequential.to_json()
        if ctx.recording_design_note:  # its recording's sessions state another design (red team 17d F3)
            block["recording_design_note"] = ctx.recording_design_note
        payload["sequential"] = block
    # A JSON round trip leaves plain types only, which xdist's channel (execnet) can carry. Not the
    # photos: a gender run's are made from the observations when a writer reads them (PhotoEntries),
    # and ``list(payload["photos"])`` is the plain form where one is needed.
    result: dict[str, Any] = json.loads(json.dumps(payload))
    result["photos"] = _photos(ctx)
    return result


def reproduce_command(flags: Sequence[str], pytest_args: Sequence[str], *, cli: bool) -> str:
    """The command line that repeats a run: ``conformance run ... -- PYTEST_ARGS`` (``cli``) or ``pytest ...``.

    ``flags`` are the reproduce flags (``run.flags``), ``pytest_args`` the other pytest arguments that
    shaped the run; report.json's ``run.command`` is this, and ``conformance verify`` checks it is.
    """
    extra = [shlex.quote(word) for word in pytest_args]
    if cli:
        line = "conformance run " + " ".join(f.replace("--conformance-", "--", 1) for f in flags)
        return line + (" -- " + " ".join(extra) if extra else "")
    return " ".join(["pytest", *flags, *extra])


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def _outcomes(ctx: Context) -> dict[str, int]:
    if ctx.observations is not None:
        return ctx.observations.outcome_counts()
    assert ctx.searches is not None
    return {**ctx.searches.outcome_counts(), "enrolled": len(ctx.dataset.role("gallery"))}


class PhotoEntries(Sequence[dict[str, Any]]):
    """``photos[]`` of a gender run's report: each photo's outcome and its image's digest, made when read.

    A run of a million photos held a million dicts (and their JSON round trip) from the end of its
    checks until its reports were written; these are made one at a time as the writers read them,
    from the observations and the dataset the run keeps anyway. Each entry is what
    ``{**record.to_dict(), "sha256": digest}`` was.
    """

    def __init__(self, records: Sequence[Observation], photos: Sequence[Photo]) -> None:
        if len(records) != len(photos):
            raise ValueError(f"{len(records)} observations for {len(photos)} photos")
        self._records = records
        self._photos = photos  # aligned with the records (Observations.build makes them so)

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._entry(i) for i in range(*index.indices(len(self)))]
        return self._entry(range(len(self))[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for record, photo in zip(self._records, self._photos, strict=True):
            yield {**record.to_dict(), "sha256": photo.digest}

    def _entry(self, i: int) -> dict[str, Any]:
        return {**self._records[i].to_dict(), "sha256": self._photos[i].digest}

    def indices_not(self, outcomes: Collection[str]) -> list[int]:
        """Where the photos whose outcome is none of ``outcomes`` are, without making an entry.

        The writers list the photos that were not analysed: a few among a million.
        """
        return [i for i, record in enumerate(self._records) if record.outcome not in outcomes]


def _photos(ctx: Context) -> Sequence[dict[str, Any]]:
    """Every photo of the manifest with its outcome and its image's digest: nothing is left out of a report."""
    if ctx.observations is not None and ctx.sequential is None:
        return PhotoEntries(ctx.observations.records, ctx.dataset.photos)
    digest = {photo.id: photo.digest for photo in ctx.dataset.photos}

    def sealed(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        # Through JSON: plain types, as the payload's other parts.
        return [{**json.loads(json.dumps(entry)), "sha256": digest.get(str(entry.get("photo")))} for entry in entries]

    if ctx.observations is not None:
        # A sequential run: the photos it never sent, in manifest order with the rest (a list: such runs
        # are small, and the photos sent are fewer than the manifest's).
        assert ctx.sequential is not None
        entries = [record.to_dict() for record in ctx.observations.records]
        by_photo = {entry["photo"]: entry for entry in [*entries, *ctx.sequential.not_needed_entries()]}
        return sealed([by_photo[photo.id] for photo in ctx.dataset.photos if photo.id in by_photo])
    assert ctx.searches is not None
    gallery = [{"photo": p.id, "outcome": "enrolled", "role": "gallery"} for p in ctx.dataset.role("gallery")]
    return sealed([*({**r.to_dict(), "role": "probe"} for r in ctx.searches.records), *gallery])
