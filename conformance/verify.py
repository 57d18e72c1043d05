"""``conformance verify report.json``: re-derive a report from the evidence it names, offline, and compare.

A procurement reviewer receives a vendor's report.json with its evidence (the manifest and images,
the predictions file or recordings, the policy). :func:`verify_report`

1. finds every file the report names by **one rule** (:class:`_Places`): a path as the run saw it
   (a relative one against the folder the run was started in, ``run.cwd``), moved under ``--root``
   when the project moved. The digests are checked, and the replay reads, at those same places, so
   the evidence checked is the evidence replayed;
2. checks every file the report's ``evidence`` section names against the SHA-256 sealed there (the
   manifest, each analyzer file; each image through ``photos[].sha256`` and the dataset's content
   hash) and the policy's canonical content against its digest, and reads the policy file named as
   the policy's source again, when it is there (the built-in defaults are derived again), to see
   that it still says the same;
3. re-derives **what should have run** from the reproduce line (``run.flags``, read by
   :func:`conformance.options.parse_flags`): the plan of checks, the seed, the data, replaying
   recordings offline through the adapter (record mode ``none``, no network), never reading the
   observation cache, under the policy the report recorded;
4. compares everything that bears on the verdict with the report, naming each field that differs:
   the plan (``run.checks``, ``run.checks_chosen``), every check (a planned check missing, one not
   planned, every figure and verdict), every photo (each once), the run's verdict and command,
   ``skipped``, the policy and its source, the analyzer's provenance (its files found by the same
   rule), the evidence section re-sealed from the files the replay read (a manifest or analyzer
   file left out of it, or another file's digest, is a difference), and the regression gate's
   finding, re-derived against the baseline the report seals.

A check the report lists as ``not run`` is derived all the same: the verification says what the
evidence gives for it, and a "not run" that the run's own pytest arguments cannot explain is a
difference. What a verified report proves, and what it does not, is in ``docs/explanation/trust.md``.

Why this is one module of about 900 lines: the steps above read one another's findings (the places
of step 1 are where steps 2 and 3 read; step 4 compares what step 3 derived with what step 2 sealed),
and the :class:`Verification` they build is one value; what is not verification (re-deriving the
run, comparing reports for the gate) is imported from the modules that do it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._files import read_regular
from ._text import printable
from .errors import ConformanceError

if TYPE_CHECKING:
    from .policy import Policy
    from .report import Report
    from .run.context import Context, RunOptions

__all__ = ["Difference", "FileProblem", "NotVerifiable", "Verification", "render", "verify_report"]

_RELATIVE = 1e-9  # the same code on the same inputs gives the same floats; this only forgives JSON's rounding
# Provenance keys that name where files are on one machine, or how this run was sped up: not figures.
_PLACE_KEYS = frozenset({"source", "file", "module_file", "recording_files", "observations_cache", "manifest"})


class NotVerifiable(ConformanceError):
    """The report cannot be verified at all (not a report, made before evidence was sealed in): a usage error."""


@dataclass(frozen=True)
class FileProblem:
    """A file of the evidence that is missing, or is not the file the report was made from."""

    what: str  # manifest, predictions file, recording, image, policy, ...
    path: str
    problem: str


@dataclass(frozen=True)
class Difference:
    """One figure or verdict that the report states and the evidence does not give."""

    where: str  # the check (and threshold), "photo images/p1.png", "run", "dataset", ...
    group: str  # the group or comparison, or "-"
    field: str
    reported: object
    derived: object


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_report` found: ``verified`` when no file problem and no difference."""

    report: str
    files: tuple[FileProblem, ...] = ()
    differences: tuple[Difference, ...] = ()
    notes: tuple[str, ...] = ()
    checked: Mapping[str, int] = field(default_factory=dict)
    rederived: bool = False
    policy: str = ""  # the policy the figures were re-derived under: profile and digest, for the reader to compare
    # For a run with checks not run: what the evidence gives for them, said right under the verdict.
    incomplete: str = ""

    @property
    def verified(self) -> bool:
        return self.rederived and not self.files and not self.differences


# -- finding the evidence -------------------------------------------------------------------------------


class _Places:
    """Where the report's files are now: one rule for every path a report names (see the module's docstring).

    ``recorded_root`` is the run's folder (``evidence.root``), ``cwd`` the folder the run was started in
    (``run.cwd``; the run's folder for reports made before it was recorded), ``root`` where the run's
    folder is now (``--root``), when the project moved.
    """

    def __init__(self, recorded_root: str | None, cwd: str | None, root: str | None) -> None:
        self.recorded = os.path.normpath(recorded_root) if recorded_root and os.path.isabs(recorded_root) else None
        start = cwd if cwd and os.path.isabs(cwd) else self.recorded
        self.cwd = os.path.normpath(start) if start else None
        self.root = os.path.abspath(root) if root else None

    def then(self, text: str) -> str:
        """Where ``text`` was for the run: a relative path against the folder it was started in."""
        expanded = os.path.expanduser(text)
        if os.path.isabs(expanded) or self.cwd is None:
            return os.path.normpath(os.path.abspath(expanded))
        return os.path.normpath(os.path.join(self.cwd, expanded))

    def path(self, text: str) -> str:
        """Where the file the run knew as ``text`` is now: moved under ``--root`` when it was under the run's root."""
        absolute = self.then(text)
        if self.root is None or self.recorded is None:
            return absolute
        if absolute == self.recorded or absolute.startswith(self.recorded.rstrip(os.sep) + os.sep):
            return os.path.join(self.root, os.path.relpath(absolute, self.recorded))
        return absolute

    def entry(self, entry: Mapping[str, Any]) -> Path:
        """A sealed file entry's place now (its ``path`` by :meth:`path`)."""
        return Path(self.path(str(entry.get("path", ""))))

    def spec(self, spec: str) -> str:
        """An analyzer spec ``name:ARGUMENT`` with the file its argument names found like :meth:`path`.

        Which part is a file is the adapter factory's declaration (:func:`conformance.adapters.registry.argument_file`:
        ``python:FILE.py:FUNCTION`` names one, ``python:module:function`` and ``local:embeddings`` do not); an
        adapter that declares nothing has its ``FILE[?OPTIONS]`` taken for a file when there is one at its place.
        """
        from .adapters.registry import argument_file

        found = argument_file(spec)
        if found is None:
            return spec
        place = self.path(found.file)
        if not found.certain and not os.path.isfile(place):
            return spec
        return f"{spec.partition(':')[0]}:{place}{found.rest}"


def _check_files(report: Report, places: _Places) -> tuple[list[FileProblem], int]:
    from .evidence import file_digest

    problems: list[FileProblem] = []
    checked = 0
    for what, entry in report.evidence.files:
        path = places.entry(entry)
        checked += 1
        if not path.is_file():
            problems.append(FileProblem(what, str(path), "missing"))
            continue
        digest = file_digest(path)
        sealed = str(entry.get("sha256", ""))
        if digest != sealed:
            problems.append(
                FileProblem(
                    what,
                    str(path),
                    f"altered: the report sealed sha256 {_short(sealed)}, the file has {_short(digest)}",
                )
            )
    return problems, checked


def _check_images(report: Report, places: _Places) -> tuple[list[FileProblem], int]:
    """Each photo's image against ``photos[].sha256`` (paths are relative to the manifest's folder)."""
    import hashlib

    manifest = next((entry for what, entry in report.evidence.files if what == "manifest"), None)
    if manifest is None:
        return [], 0
    folder = places.entry(manifest).parent
    problems: list[FileProblem] = []
    checked = 0
    for photo in report.photos:
        sealed = photo.fields.get("sha256")
        if not isinstance(sealed, str) or not photo.photo:
            continue
        path = folder / photo.photo
        checked += 1
        try:
            digest = hashlib.sha256(read_regular(path)).hexdigest()  # never a FIFO or a device
        except FileNotFoundError:
            problems.append(FileProblem("image", str(path), "missing"))
            continue
        except OSError as error:
            problems.append(FileProblem("image", str(path), f"cannot be read: {error.strerror or error}"))
            continue
        if digest != sealed:
            problems.append(
                FileProblem(
                    "image",
                    str(path),
                    f"altered: the report sealed sha256 {_short(sealed)}, the file has {_short(digest)}",
                )
            )
    return problems, checked


def _short(digest: str) -> str:
    return digest[:12] + "…" if len(digest) > 12 else digest or "(none)"


# -- the policy -----------------------------------------------------------------------------------------


def _policy(
    report: Report, options: RunOptions, places: _Places
) -> tuple[Policy, list[FileProblem], list[Difference], list[str]]:
    """The policy the report recorded, checked against its digest, its copy in ``policy``, its source and file.

    The source is what the reproduce line gives (``--policy FILE``, else the project's pyproject.toml
    ``[tool.conformance]``, else the built-in defaults); the built-in defaults are derived again (a
    profile's defaults are the kit's, not the report's word), a policy file is read again when it is here.
    """
    from .evidence import canonical_digest, policy_content
    from .policy import Policy, load_policy

    sealed = report.evidence.policy
    content = sealed.get("content")
    if not isinstance(content, Mapping):
        raise NotVerifiable("the evidence names no policy content; the report cannot be verified")
    problems: list[FileProblem] = []
    differences: list[Difference] = []
    notes: list[str] = []
    if canonical_digest(content) != sealed.get("sha256"):
        problems.append(
            FileProblem(
                "policy", "report.json evidence.policy", "its content does not match its sha256: edited after the run"
            )
        )
    identity = report.evidence.fields.get("identity_map")
    if isinstance(identity, Mapping):
        mapping = identity.get("content")
        if canonical_digest(mapping) != identity.get("sha256") or mapping != content.get("identity"):
            problems.append(
                FileProblem(
                    "identity map", "report.json evidence.identity_map", "does not match its sha256 or the policy's"
                )
            )
    shown = policy_content(report.policy.fields)
    for path, reported, derived in _diff(shown, dict(content)):
        differences.append(Difference("policy", "-", path, reported, derived))
    source = str(sealed.get("source", ""))
    if report.policy.source != source:
        differences.append(Difference("policy", "-", "source", report.policy.source, source))
    differences += _policy_source(source, sealed.get("file"), options, places)
    kinds = {f.name: f for f in fields(Policy)}
    values: dict[str, Any] = {
        k: (tuple(v) if isinstance(v, list) else v) for k, v in content.items() if k in kinds and k != "source"
    }
    policy = replace(Policy(), **values)
    policy = replace(policy, source=source or "the report")
    named = sealed.get("file")
    again: Policy | None = None
    where = ""
    if source == _DEFAULTS:
        # Nothing to read again: the defaults of the profile are the kit's own, derived here.
        where = f"the built-in defaults of profile {options.profile or 'default'}"
        try:
            again = load_policy(None, profile=options.profile)
        except ConformanceError as error:
            problems.append(FileProblem("policy", where, f"cannot be derived: {error}"))
    elif isinstance(named, Mapping):
        pyproject = bool(named.get("table"))
        file = str(places.entry(named))
        where = file
        if not Path(file).is_file():
            notes.append(f"the policy file {file} is not here: the policy the report recorded was used, as sealed")
        else:
            try:
                again = load_policy(
                    None if pyproject else file,
                    profile=options.profile,
                    project_root=str(Path(file).parent) if pyproject else None,
                )
            except ConformanceError as error:
                problems.append(FileProblem("policy file", file, f"cannot be read now: {error}"))
    if again is not None:
        again = options.applied_to(again)  # as in a run
        changed = _diff(dict(content), json.loads(json.dumps(policy_content(again.to_dict()))))
        if changed:
            first = ", ".join(f"{p} {_value(a)} → {_value(b)}" for p, a, b in changed[:3])
            more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            what = "policy" if source == _DEFAULTS else "policy file"
            said = "differs from them" if source == _DEFAULTS else "changed since the run"
            problems.append(FileProblem(what, where, f"{said}: {first}{more}"))
    return policy, problems, differences, notes


_DEFAULTS = "built-in defaults"


def _policy_source(source: str, named: object, options: RunOptions, places: _Places) -> list[Difference]:
    """The policy's source against what the reproduce line gives: ``--policy FILE``, else pyproject.toml, else defaults."""
    file = named if isinstance(named, Mapping) else None
    if options.policy is not None:
        expected = [str(Path(options.policy).expanduser())]
    else:
        expected = [_DEFAULTS]
        if places.recorded is not None:
            expected.append(f"{os.path.join(places.recorded, 'pyproject.toml')} [tool.conformance]")
    out = []
    if source not in expected:
        out.append(Difference("policy", "-", "source", source, " or ".join(expected)))
    elif (source == _DEFAULTS) != (file is None):
        out.append(Difference("evidence", "-", "policy.file", file, "none" if source == _DEFAULTS else source))
    elif file is not None and places.then(str(file.get("path", ""))) != places.then(
        source.removesuffix(" [tool.conformance]")
    ):
        out.append(Difference("evidence", "-", "policy.file.path", file.get("path"), source))
    return out


# -- comparing ------------------------------------------------------------------------------------------


def _same(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return math.isclose(a, b, rel_tol=_RELATIVE, abs_tol=1e-12)
    return a == b


def _diff(reported: object, derived: object, path: str = "") -> list[tuple[str, object, object]]:
    """Every leaf where two JSON values differ, by dotted path (``ci.1``, ``static.verdict``)."""
    if isinstance(reported, Mapping) and isinstance(derived, Mapping):
        out: list[tuple[str, object, object]] = []
        for key in dict.fromkeys([*reported, *derived]):
            where = f"{path}.{key}" if path else str(key)
            out += _diff(reported.get(key, _ABSENT), derived.get(key, _ABSENT), where)
        return out
    if isinstance(reported, list) and isinstance(derived, list) and len(reported) == len(derived):
        out = []
        for index, (a, b) in enumerate(zip(reported, derived, strict=True)):
            out += _diff(a, b, f"{path}.{index}" if path else str(index))
        return out
    return [] if _same(reported, derived) else [(path or "(value)", reported, derived)]


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT = _Absent()


def _check_label(check: Mapping[str, Any]) -> str:
    threshold = check.get("threshold")
    return str(check.get("id")) + ("" if threshold is None else f" at {threshold:g}")


def _compare_check(label: str, reported: Mapping[str, Any], derived: Mapping[str, Any]) -> list[Difference]:
    out: list[Difference] = []
    for key in dict.fromkeys([*reported, *derived]):
        a, b = reported.get(key, _ABSENT), derived.get(key, _ABSENT)
        if key == "groups" and isinstance(a, Mapping) and isinstance(b, Mapping):
            for name in dict.fromkeys([*a, *b]):
                for path, x, y in _diff(a.get(name, _ABSENT), b.get(name, _ABSENT)):
                    out.append(Difference(label, str(name), path if path != "(value)" else "group", x, y))
        elif key == "comparisons" and isinstance(a, list) and isinstance(b, list):
            mine = {(str(c.get("group")), str(c.get("reference"))): c for c in a if isinstance(c, Mapping)}
            theirs = {(str(c.get("group")), str(c.get("reference"))): c for c in b if isinstance(c, Mapping)}
            if len(mine) != len(a):
                out.append(Difference(label, "-", "comparisons", f"{len(a)} (a pair repeated)", len(b)))
            for pair in dict.fromkeys([*mine, *theirs]):
                for path, x, y in _diff(mine.get(pair, _ABSENT), theirs.get(pair, _ABSENT)):
                    out.append(
                        Difference(label, f"{pair[0]} vs {pair[1]}", path if path != "(value)" else "comparison", x, y)
                    )
        else:
            out += [
                Difference(label, "-", f"{key}.{p}" if p != "(value)" else str(key), x, y) for p, x, y in _diff(a, b)
            ]
    return out


def _compare_photos(reported: Sequence[object], derived: Sequence[object]) -> list[Difference]:
    """Every photo once, as the evidence gives it: an entry repeated, missing or added is a difference."""
    from collections import Counter

    def key(photo: Mapping[str, Any]) -> tuple[object, object]:
        return photo.get("photo"), photo.get("role")

    def where(k: tuple[object, object]) -> str:
        return f"photo {k[0]}" + (f" ({k[1]})" if k[1] else "")

    mine = [p for p in reported if isinstance(p, Mapping)]
    again = {key(p): p for p in derived if isinstance(p, Mapping)}
    out: list[Difference] = []
    counts = Counter(key(p) for p in mine)
    for k, n in counts.items():
        if n > 1:
            out.append(Difference(where(k), "-", "photo", f"listed {n} times", "once"))
    if len(mine) != len(reported):
        out.append(Difference("photos", "-", "entries", f"{len(reported) - len(mine)} not a photo", "none"))
    for photo in mine:
        for path, x, y in _diff(photo, again.get(key(photo), _ABSENT)):
            out.append(Difference(where(key(photo)), "-", path if path != "(value)" else "photo", x, y))
    for k in again:
        if k not in counts:
            out.append(Difference(where(k), "-", "photo", _ABSENT, "present"))
    return out


def _file_value(entry: object, place: str) -> object:
    if not isinstance(entry, Mapping):
        return entry
    return f"{place} sha256 {_short(str(entry.get('sha256', '')))}"


def _compare_evidence(sealed: Mapping[str, Any], resealed: Mapping[str, Any], places: _Places) -> list[Difference]:
    """The evidence section against the one re-sealed from the files the replay read (found by the same rule)."""
    out: list[Difference] = []

    def files(section: Mapping[str, Any], located: bool) -> list[tuple[str, object]]:
        found: list[tuple[str, object]] = []
        manifest = section.get("manifest", _ABSENT)
        found.append(("manifest", manifest))
        listed = section.get("analyzer_files")
        for index, entry in enumerate(listed if isinstance(listed, list) else []):
            found.append((f"analyzer_files.{index}", entry))
        return [
            (
                name,
                _file_value(
                    entry,
                    (
                        places.path(str(entry.get("path", "")))
                        if located
                        else os.path.normpath(str(entry.get("path", "")))
                    )
                    if isinstance(entry, Mapping)
                    else "",
                ),
            )
            for name, entry in found
        ]

    mine, theirs = dict(files(sealed, True)), dict(files(resealed, False))
    for name in dict.fromkeys([*mine, *theirs]):
        a, b = mine.get(name, _ABSENT), theirs.get(name, _ABSENT)
        if not _same(a, b):
            out.append(Difference("evidence", "-", name, a, b))
    for position, (x, y) in enumerate(zip(_kinds(sealed), _kinds(resealed), strict=False)):
        if x != y:
            out.append(Difference("evidence", "-", f"analyzer_files.{position}.kind", x, y))
    for part in ("images", "identity_map", "endpoint_class", "recording_sessions"):
        for path, x, y in _diff(sealed.get(part, _ABSENT), resealed.get(part, _ABSENT)):
            out.append(Difference("evidence", "-", f"{part}.{path}" if path != "(value)" else part, x, y))
    return out


def _kinds(section: Mapping[str, Any]) -> list[object]:
    listed = section.get("analyzer_files")
    return [e.get("kind") if isinstance(e, Mapping) else e for e in (listed if isinstance(listed, list) else [])]


def _located(key: str, value: object, places: _Places | None) -> object:
    """A provenance value naming files (by its key), as places: the report's by the one rule, the replay's as read."""
    if key not in _PATH_KEYS:
        return value
    if isinstance(value, str) and value.startswith("python:"):
        return places.spec(value) if places is not None else value  # a python: analyzer names itself by its spec
    if isinstance(value, str) and value:
        return places.path(value) if places is not None else os.path.normpath(os.path.abspath(value))
    if isinstance(value, list):
        return [{**v, "path": _located("path", v.get("path"), places)} if isinstance(v, Mapping) else v for v in value]
    return value


# Provenance keys whose values are files (a path, or a list of entries with a path).
_PATH_KEYS = frozenset({"source", "file", "module_file", "manifest", "recording_files", "path"})


def _compare(
    report: Mapping[str, Any], derived: Mapping[str, Any], places: _Places, record_mode: str
) -> list[Difference]:
    """Every difference between the report and the re-derived report, check by check and photo by photo."""
    out: list[Difference] = []
    if not _same(report.get("verdict"), derived.get("verdict")):
        out.append(Difference("run", "-", "verdict", report.get("verdict"), derived.get("verdict")))
    mine = {(c.get("id"), c.get("threshold")): c for c in report.get("checks", []) if isinstance(c, Mapping)}
    theirs = {(c.get("id"), c.get("threshold")): c for c in derived.get("checks", []) if isinstance(c, Mapping)}
    for key in dict.fromkeys([*mine, *theirs]):
        a, b = mine.get(key), theirs.get(key)
        label = _check_label(a or b or {"id": key[0], "threshold": key[1]})
        if a is None or b is None:
            out.append(Difference(label, "-", "check", "present" if a else "absent", "present" if b else "absent"))
        else:
            out += _compare_check(label, a, b)
    out += _compare_photos(_list(report.get("photos")), _list(derived.get("photos")))
    # A sequential run's block (looks taken, why it stopped, photos sent) is re-derived by replaying the same looks.
    for section in ("seed", "outcomes", "dataset", "grouping", "notes", "skipped", "sequential"):
        reported, again = report.get(section, _ABSENT), derived.get(section, _ABSENT)
        if section == "dataset":
            reported = {k: _located(k, v, places) for k, v in _mapping(reported).items()}
            again = {k: _located(k, v, None) for k, v in _mapping(again).items()}
        for path, x, y in _diff(reported, again):
            out.append(Difference(section, "-", section if path == "(value)" else path, x, y))
    provenance = {k: _located(k, v, places) for k, v in _mapping(report.get("analyzer")).items() if k not in _RUN_KEYS}
    provenance_again = {
        k: _located(k, v, None) for k, v in _mapping(derived.get("analyzer")).items() if k not in _RUN_KEYS
    }
    if "record_mode" in provenance_again:
        provenance_again["record_mode"] = record_mode  # the replay's is none; the run's is its reproduce line's
    out += [Difference("analyzer", "-", p, x, y) for p, x, y in _diff(provenance, provenance_again)]
    out += _compare_evidence(_mapping(report.get("evidence")), _mapping(derived.get("evidence")), places)
    run, again = _mapping(report.get("run")), _mapping(derived.get("run"))
    for name in ("checks", "checks_chosen"):
        for path, x, y in _diff(run.get(name, _ABSENT), again.get(name, _ABSENT)):
            out.append(Difference("run", "-", f"{name}.{path}" if path != "(value)" else name, x, y))
    out += _compare_command(run)
    # This kit's version is not the run's (a note says so); the report's two statements of it must agree.
    sealed_kit = _mapping(report.get("evidence")).get("kit_version", _ABSENT)
    if not _same(report.get("kit_version"), sealed_kit):
        out.append(Difference("evidence", "-", "kit_version", sealed_kit, report.get("kit_version")))
    for name in report:
        if name not in _REPORT_KEYS:
            out.append(Difference("report", "-", name, report[name], _ABSENT))
    return out


# How the run was sped up (the cache): not what it found. What a live run's data-protection preflight saw
# (AWS Organizations' answer, the calls made) is of that moment, never in the recording: a note says so.
_RUN_KEYS = frozenset({"observations_cache", "retention_preflight"})


# The top-level keys of a report this kit writes; any other is not the kit's (a newer kit's, or an edit).
def _report_keys() -> frozenset[str]:
    from .report import _KEYS

    return frozenset(_KEYS) | {"sequential"}  # report.json's keys, and a sequential run's record


_REPORT_KEYS = _report_keys()


def _compare_command(run: Mapping[str, Any]) -> list[Difference]:
    """``run.command`` is the line ``run.flags`` and ``run.pytest_args`` make (conformance run's or pytest's)."""
    from .evidence import reproduce_command

    command = run.get("command", _ABSENT)
    flags = [str(f) for f in _list(run.get("flags"))]
    args = [str(a) for a in _list(run.get("pytest_args"))]
    forms = [reproduce_command(flags, args, cli=True), reproduce_command(flags, args, cli=False)]
    if command in forms:
        return []
    cli = isinstance(command, str) and command.startswith("conformance ")
    return [Difference("run", "-", "command", command, forms[0] if cli else forms[1])]


def _list(value: object) -> list[object]:
    """A list, or a sequence made when read (a run's photos[], :class:`conformance.evidence.PhotoEntries`), as a list."""
    if isinstance(value, list) or (isinstance(value, Sequence) and not isinstance(value, (str, bytes))):
        return list(value)
    return []


def _weight(difference: Difference) -> int:
    """Verdicts first (the run's, the checks', the comparisons'), then figures, then photos, then the rest."""
    if difference.where == "run" and difference.field in ("verdict", "checks", "checks_chosen"):
        return 0
    if difference.field in ("verdict", "check", "not run"):
        return 1 if difference.group == "-" else 2
    if difference.where.startswith("photo"):
        return 4
    if difference.where in _SECTIONS:
        return 5
    return 3


_SECTIONS = frozenset(
    {"policy", "seed", "outcomes", "dataset", "grouping", "notes", "analyzer", "evidence", "run", "skipped"}
    | {"regression", "report"}
)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# -- checks the report lists as not run -----------------------------------------------------------------

# Causes of "not run" that only the run's own pytest arguments can explain (-k, -m, --deselect; -x, --maxfail).
_NARROWED = frozenset({"deselected", "stopped"})
# Causes the run's environment can explain (a check that raised; a skip; the run interrupted): said, with
# what the evidence gives for the check.
_ENVIRONMENT = frozenset({"raised", "skipped"})


def _accepted_not_run(report: Report) -> tuple[dict[str, dict[str, str]], list[Difference]]:
    """The report's not-run checks whose cause the run can explain, with their reasons; the others as differences."""
    accepted: dict[str, dict[str, str]] = {}
    out: list[Difference] = []
    narrowed = bool(report.run.fields.get("pytest_args"))
    for check in report.not_run:
        why = check.typed_details.not_run
        cause, reason = ("", "") if why is None else (why.cause, why.reason)
        interrupted = cause == "stopped" and "interrupted" in reason
        if cause in _ENVIRONMENT or interrupted or (cause in _NARROWED and narrowed):
            accepted[check.id] = {"cause": cause, "reason": reason}
            continue
        said = f"not run ({cause})" if cause else "not run, with no cause"
        out.append(
            Difference(
                check.id,
                "-",
                "not run",
                said,
                "a result: the run's pytest arguments narrow nothing" if cause in _NARROWED else "a result",
            )
        )
    return accepted, out


# -- the regression gate --------------------------------------------------------------------------------


def _regression(
    report: Report, derived: Report, places: _Places
) -> tuple[list[FileProblem], list[Difference], list[str]]:
    """The regression gate's finding, re-derived against the baseline report the evidence seals."""
    from .comparison.gate import find_regressions
    from .evidence import file_digest
    from .report import read_report
    from .reporting.compare import render_regressions

    sealed = report.evidence.fields.get("baseline")
    gate = report.regression
    if gate is None:
        if isinstance(sealed, Mapping):
            return (
                [],
                [Difference("regression", "-", "regression", _ABSENT, "the gate's finding (a baseline is sealed)")],
                [],
            )
        return [], [], []
    if not isinstance(sealed, Mapping):
        return [], [Difference("regression", "-", "baseline", gate.baseline, "no baseline sealed in the evidence")], []
    file = places.entry(sealed)
    if not file.is_file():
        return [FileProblem("baseline", str(file), "missing")], [], []
    digest = file_digest(file)
    if digest != sealed.get("sha256"):
        problem = (
            f"altered: the report sealed sha256 {_short(str(sealed.get('sha256', '')))}, the file has {_short(digest)}"
        )
        return [FileProblem("baseline", str(file), problem)], [], []
    if places.then(gate.baseline) != places.then(str(sealed.get("path", ""))):
        return [], [Difference("regression", "-", "baseline", gate.baseline, str(sealed.get("path")))], []
    try:
        baseline = read_report(file)
    except ConformanceError as error:
        return [FileProblem("baseline", str(file), f"cannot be read: {error}")], [], []
    regressions = find_regressions(derived, baseline)
    again = {
        "baseline": gate.baseline,
        "regressions": [r.message for r in regressions],
        "summary": render_regressions(regressions, gate.baseline),
    }
    differences = [Difference("regression", "-", p, x, y) for p, x, y in _diff(gate.to_json(), again)]
    return [], differences, [f"the regression gate's finding was re-derived against the sealed baseline {file}"]


# -- the whole -----------------------------------------------------------------------------------------


def verify_report(path: str | os.PathLike[str], *, root: str | None = None) -> Verification:
    """Verify the report at ``path`` against its evidence (see the module's docstring).

    ``root`` is where the run's folder is now, when the project moved: files the report names under
    the run's root are looked for under ``root`` by their relative path. Raises
    :class:`NotVerifiable` (a :class:`~conformance.errors.ConformanceError`) when ``path`` is not a
    report, or one made before reports carried their evidence.
    """
    from .evidence import context_payload
    from .options import OptionError, parse_flags
    from .report import read_report
    from .reporting import build_report
    from .run.context import build_context
    from .run.execution import ExecutorSpec

    report = read_report(path)
    if not report.evidence.fields:
        raise NotVerifiable(
            f"{path}: this report carries no evidence section (made by kit {report.kit_version}, before reports "
            "were sealed to their evidence): re-run it with this kit, then verify the new report"
        )
    cwd = report.run.fields.get("cwd")
    places = _Places(report.evidence.root, cwd if isinstance(cwd, str) else None, root)
    notes: list[str] = []
    from ._version import __version__

    if report.kit_version != __version__:
        notes.append(
            f"the report was made by kit {report.kit_version}, this is kit {__version__}: a difference may come "
            "from the kit's own changes"
        )
    if isinstance(report.analyzer.fields.get("retention_preflight"), dict):
        notes.append(
            "the data-protection preflight (analyzer.retention_preflight) is what the live run saw before its first "
            "call (AWS Organizations' answer, the calls made): it is not in the evidence and is not re-derived; "
            "each recording session's own, as its session line states it, is in analyzer.recording_sessions, read "
            "again from the recording"
        )
    if root is None and places.recorded is not None and not os.path.isdir(places.recorded):
        notes.append(f"the run's folder {places.recorded} is not here: if the project moved, pass --root NEW_PLACE")
    try:
        asked = parse_flags(report.run.flags, project_root=places.path(places.recorded or os.getcwd()))
    except OptionError as error:
        raise NotVerifiable(f"{path}: run.flags cannot be read back: {error}") from None
    options = replace(
        asked,
        dataset=None if asked.dataset is None else places.path(asked.dataset),
        analyzer=None if asked.analyzer is None else places.spec(asked.analyzer),
        policy=None if asked.policy is None else places.path(asked.policy),
        cassette_dir=None if asked.cassette_dir is None else places.path(asked.cassette_dir),
        # Offline and from the evidence alone: replay only, no cache, one process.
        record_mode="none",
        allow_live=False,
        cache=False,
        executor=ExecutorSpec(),
        progress=False,
    )
    files, file_count = _check_files(report, places)
    images, image_count = _check_images(report, places)
    files += images
    policy, policy_problems, differences, policy_notes = _policy(report, asked, places)
    files += policy_problems
    notes += policy_notes
    checked = {"files": file_count, "images": image_count}
    spending, stated = _stated_spending(report, path)
    from .sequential import UNION_SPENDING

    if not stated:
        notes.append(
            "the report's sequential block states no error spending: it was made before reports stated it, with "
            f"O'Brien-Fleming-type spending ({spending}), and its looks are replayed with that"
        )
    elif spending == UNION_SPENDING:
        # Red team 17e F6: no run of this kit writes it any more, but reports made before joint levels do; its looks
        # are valid (each at most its increment: inside the joint ones), and a reader should know which rule ran.
        notes.append(
            f"the report's sequential looks were tested under the union bound ({UNION_SPENDING}: each look at its "
            "increment of the error), the kit's rule before joint levels; valid, and stricter at every look than "
            "what runs of this kit test at now"
        )
    try:
        ctx = build_context(options, policy=policy, spending=spending)
    except ConformanceError as error:
        files.append(FileProblem("evidence", "", f"cannot be replayed: {error}"))
        return Verification(str(path), tuple(files), tuple(differences), tuple(notes), checked, rederived=False)
    from ._model_output import phase_over

    phase_over()  # a python: model has answered again: its output from now on comes from what it left running
    # What should have run: the plan the reproduce line gives, every check of it derived.
    results: list[Any] = []
    raised: dict[str, dict[str, str]] = {}
    for check_id in ctx.checks:
        try:
            results.extend(_results(ctx, check_id))
        except ConformanceError as error:
            raised[check_id] = {"cause": "raised", "reason": f"raised ConformanceError: {error}"}
    accepted, unexplained = _accepted_not_run(report)
    differences += unexplained
    evidence_gives = {r.id: str(r.verdict) for r in results if r.id in accepted and (r.threshold is None or r.binding)}
    payload = context_payload(ctx)
    run = dict(payload["run"])
    # Without --checks in the reproduce line the whole suite was planned; with it, the plan is those checks
    # either way (the matching demo names its own check without the user choosing it).
    run["checks_chosen"] = bool(report.run.fields.get("checks_chosen")) if asked.checks else False
    payload["run"] = run
    derived = build_report(
        [r for r in results if r.id not in accepted], context=payload, not_run={**raised, **accepted}
    )
    whole = build_report(results, context=payload, not_run=raised)
    again = derived.to_json()
    if not stated and isinstance(again.get("sequential"), Mapping):
        # The replay states what it replayed with, and its design note; the report, made before reports did, does not.
        again["sequential"] = {k: v for k, v in again["sequential"].items() if k not in ("spending", "design_note")}
    differences += _compare(report.to_json(), again, places, asked.record_mode)
    differences += _recorded_design(report, again, spending)
    gate_files, gate_differences, gate_notes = _regression(report, whole, places)
    files += gate_files
    differences += gate_differences
    notes += gate_notes
    incomplete = ""
    if accepted:
        gives = ", ".join(f"{check} {evidence_gives.get(check, 'no result').upper()}" for check in accepted)
        incomplete = (
            f"INCOMPLETE run: {len(accepted)} of {len(ctx.checks)} planned checks not run; from the evidence they "
            f"give: {gives}; the whole plan's verdict from the evidence: {str(whole.verdict).upper()}"
        )
    checked.update(checks=len([c for c in report.checks if c.id not in accepted]), photos=len(report.photos))
    sealed = report.evidence.policy
    content = _mapping(sealed.get("content"))
    described = f"profile {content.get('profile', '?')} from {sealed.get('source', '?')}, sha256 {_short(str(sealed.get('sha256', '')))}"
    if report.run.fields.get("checks_chosen"):
        described += f"; the checks chosen with --checks only ({', '.join(ctx.checks)}), not the whole suite"
    return Verification(
        str(path),
        tuple(files),
        tuple(sorted(differences, key=_weight)),
        tuple(notes),
        checked,
        rederived=True,
        policy=described,
        incomplete=incomplete,
    )


def _stated_spending(report: Report, path: str | os.PathLike[str]) -> tuple[str | None, bool]:
    """The error spending a sequential report's block states (its stable name), and whether it states one.

    A block without a ``spending`` field was made before reports stated it, with O'Brien-Fleming-type
    spending (``sequential.UNSTATED_SPENDING``). A name this kit does not know cannot be replayed: refused;
    nor can ``obf`` stated by name, which no run wrote (a modified kit's, red team 17d F3).
    Not a sequential report: (None, True), the run's own spending.
    """
    from .sequential import DEFAULT_SPENDING, UNSTATED_SPENDING, spending_named

    block = report.sequential
    if block is None:
        return None, True
    if "spending" not in block:
        if "design_note" in block:
            # The kit's version (0.1.0) did not change when reports began to state their spending (5196110), so it
            # cannot tell a report made before from one whose spending was taken out. design_note can: every
            # sequential block has carried it since b2490bb, after 5196110, so a block with it was made by a kit that
            # states the spending; without it, it would be replayed with obf, a spending chosen by an edit.
            raise NotVerifiable(
                f"{path}: the sequential block states no error spending, yet it carries design_note, which only "
                "reports that state their spending carry: its spending was taken out (replayed with O'Brien-Fleming-"
                "type spending, as reports made before reports stated one are, its looks would be another design's); "
                "verify the report as the run wrote it"
            )
        return UNSTATED_SPENDING, False
    stated = block["spending"]
    name = stated.get("name") if isinstance(stated, Mapping) else stated
    if name == UNSTATED_SPENDING:
        # No run of this kit writes it: reports state a spending since gamma -2 (hsd(-2)), and those made before
        # with O'Brien-Fleming-type spending state none. A report stating it was made by a modified kit, to
        # choose the spending after seeing the verdicts (red team 17d F3).
        raise NotVerifiable(
            f"{path}: sequential.spending states {UNSTATED_SPENDING!r} by name, which no run of this kit writes (runs "
            f"state {DEFAULT_SPENDING!r}; reports made with O'Brien-Fleming-type spending, before reports stated a "
            "spending, state none): the report was made by a modified kit; run it again with this kit"
        )
    try:
        return spending_named(str(name)).name, True
    except ValueError as error:
        raise NotVerifiable(
            f"{path}: sequential.spending: {error}; its looks cannot be replayed: verify it with the kit that made "
            f"it (kit {report.kit_version})"
        ) from None


def _recorded_design(report: Report, derived: Mapping[str, Any], spending: str | None) -> list[Difference]:
    """A sequential report whose design is not the one its recording's sessions state (red team 17d F3).

    A recording made by a sequential run states the run's design (looks, spending, alpha) in each session line;
    the replay reads them (``analyzer.recording_sessions``). A report stating other looks, another spending or
    another alpha chose its design after the recording's answers were there: one difference a field.
    """
    from .run.context import same_design, stated_designs
    from .sequential import DEFAULT_SPENDING

    block = report.sequential
    if block is None:
        return []
    # The fixed design's one-sided level (a block too old to state it: the replay's, under the report's policy).
    alpha = block.get("fixed_design_level", _mapping(derived.get("sequential")).get("fixed_design_level"))
    mine = {"looks": block.get("looks_planned"), "spending": spending or DEFAULT_SPENDING, "alpha": alpha}
    out: list[Difference] = []
    for stated, started in stated_designs(_mapping(derived.get("analyzer")).get("recording_sessions")):
        if same_design(stated, mine):
            continue
        whose = f"(the design {len(started)} recording session(s) from {min(started)} state)"
        for name, field_name in (("looks", "looks_planned"), ("spending", "spending"), ("alpha", "fixed_design_level")):
            if not same_design({**mine, name: stated.get(name)}, mine):
                out.append(Difference("sequential", "-", field_name, mine[name], f"{stated.get(name)} {whose}"))
    return out


def _results(ctx: Context, check_id: str) -> list[Any]:
    from .run.context import check_results

    return check_results(ctx, check_id)


# -- output ---------------------------------------------------------------------------------------------


def _value(value: object) -> str:
    if value is _ABSENT:
        return "(absent)"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)) and all(isinstance(v, float) for v in value):
        return "[" + ", ".join(f"{v:.6g}" for v in value) + "]"
    text = str(value) if isinstance(value, str) else repr(value) if not isinstance(value, (dict, list)) else str(value)
    # A file's place and digest are read whole (which file, which content); other long values are cut.
    most = 240 if isinstance(value, str) and " sha256 " in value else 60
    return text if len(text) <= most else text[: most - 3] + "..."


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    rows = [list(header), *([printable(cell) for cell in row] for row in rows)]  # paths, groups: data, escaped
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def render(verification: Verification) -> str:
    """What ``conformance verify`` prints: the verdict first, then each file problem and difference."""
    v = verification
    out = [f"conformance verify: {printable(v.report)}"]
    if v.verified:
        counts = v.checked
        checks = counts.get("checks", 0)
        out.append(
            f"verified: every figure and verdict of {checks} check{'s' if checks != 1 else ''} and "
            f"{counts.get('photos', 0)} photos follows from the evidence ({counts.get('files', 0)} files and "
            f"{counts.get('images', 0)} images, digests matching), re-derived offline without the cache"
        )
        if v.incomplete:
            out.append(v.incomplete)
        if v.policy:
            out.append(printable(f"under the report's policy: {v.policy}; read it, as it decides every verdict"))
    else:
        what = []
        if v.files:
            what.append(f"{len(v.files)} missing or altered file{'s' if len(v.files) != 1 else ''}")
        if v.differences:
            what.append(f"{len(v.differences)} difference{'s' if len(v.differences) != 1 else ''}")
        if not v.rederived:
            what.append("figures not re-derived")
        out.append(f"NOT VERIFIED: {', '.join(what)}")
        if v.incomplete:
            out.append(v.incomplete)
    changed = [d for d in v.differences if d.field == "verdict" and d.group == "-"]
    if changed:
        out.append(
            printable(
                "verdicts that differ: "
                + "; ".join(
                    f"{d.where} ({_value(d.reported)} in the report, {_value(d.derived)} from the evidence)"
                    for d in changed
                )
            )
        )
    if v.files:
        out += ["", "Missing or altered evidence:"]
        out += _table(["what", "file", "problem"], ([f.what, f.path, f.problem] for f in v.files))
    if v.differences:
        out += ["", "Differences (what the report says, what its evidence gives):"]
        out += _table(
            ["where", "group", "field", "report", "re-derived"],
            ([d.where, d.group, d.field, _value(d.reported), _value(d.derived)] for d in v.differences),
        )
    if v.notes:
        out += ["", *(printable(f"note: {n}") for n in v.notes)]
    return "\n".join(out) + "\n"
