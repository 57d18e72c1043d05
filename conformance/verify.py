"""``conformance verify report.json``: re-derive a report from the evidence it names, offline, and compare.

A procurement reviewer receives a vendor's report.json with its evidence (the manifest and images,
the predictions file or recordings, the policy). :func:`verify_report`

1. checks every file the report's ``evidence`` section names against the SHA-256 sealed there (the
   manifest, each analyzer file; each image through ``photos[].sha256`` and the dataset's content
   hash) and the policy's canonical content against its digest, and reads the policy file named as
   the policy's source again, when it is there, to see that it still says the same;
2. runs the same loading and checks as ``conformance run`` under the options of the report's
   reproduce line (``run.flags``, read by :func:`conformance.options.parse_flags`), the seed, and the
   policy the report recorded, replaying recordings offline through the adapter (record mode
   ``none``, no network), never reading the observation cache;
3. compares every figure and verdict, per check, group and field, and every photo's outcome, with
   the report's.

A check the report lists as ``not run`` is not re-derived (the report claims nothing about it); the
regression gate's finding is not re-derived either (it needs the baseline, which is another report).
What a verified report proves, and what it does not, is in ``docs/explanation/trust.md``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._text import printable
from .errors import ConformanceError

if TYPE_CHECKING:
    from .policy import Policy
    from .report import Report
    from .session import Context, RunOptions

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

    @property
    def verified(self) -> bool:
        return self.rederived and not self.files and not self.differences


# -- finding the evidence -------------------------------------------------------------------------------


class _Places:
    """Where the report's files are now: as recorded, or under ``--root`` by their path relative to the run's root."""

    def __init__(self, recorded_root: str | None, root: str | None) -> None:
        self.recorded = os.path.abspath(recorded_root) if recorded_root else None
        self.root = os.path.abspath(root) if root else None

    def entry(self, entry: Mapping[str, Any]) -> Path:
        relative = entry.get("relative")
        if self.root is not None and isinstance(relative, str):
            return Path(self.root) / relative
        return Path(str(entry.get("path", "")))

    def path(self, text: str) -> str:
        """A path the report recorded, moved under ``--root`` when it was under the run's root."""
        if self.root is None or self.recorded is None:
            return text
        absolute = os.path.abspath(text)
        if absolute == self.recorded or absolute.startswith(self.recorded + os.sep):
            return os.path.join(self.root, os.path.relpath(absolute, self.recorded))
        return text

    def spec(self, spec: str) -> str:
        """An analyzer spec ``name:FILE[?options]`` with its file moved like :meth:`path`."""
        name, colon, argument = spec.partition(":")
        if not colon or not argument:
            return spec
        file, question, rest = argument.partition("?")
        return f"{name}:{self.path(file)}{question}{rest}"


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
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
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
    """The policy the report recorded, checked against its digest, its copy in ``policy`` and its source file."""
    from .evidence import canonical_digest, policy_content
    from .policy import Policy, load_policy

    sealed = report.evidence.policy
    content = sealed.get("content")
    if not isinstance(content, Mapping):
        raise NotVerifiable(
            f"{report.evidence.fields and 'the evidence'} names no policy content; the report cannot be verified"
        )
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
    kinds = {f.name: f for f in fields(Policy)}
    values: dict[str, Any] = {
        k: (tuple(v) if isinstance(v, list) else v) for k, v in content.items() if k in kinds and k != "source"
    }
    policy = replace(Policy(), **values)
    policy = replace(policy, source=str(sealed.get("source", "the report")))
    named = sealed.get("file")
    if isinstance(named, Mapping):
        pyproject = bool(named.get("table"))
        file = str(places.entry(named))
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
            else:
                changed = _diff(dict(content), json.loads(json.dumps(policy_content(again.to_dict()))))
                if changed:
                    first = ", ".join(f"{p} {_value(a)} → {_value(b)}" for p, a, b in changed[:3])
                    more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
                    problems.append(FileProblem("policy file", file, f"changed since the run: {first}{more}"))
    return policy, problems, differences, notes


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


def _compare(report: Mapping[str, Any], derived: Mapping[str, Any], skip: set[str]) -> list[Difference]:
    """Every difference between the report and the re-derived report, check by check and photo by photo."""
    out: list[Difference] = []
    if not _same(report.get("verdict"), derived.get("verdict")):
        out.append(Difference("run", "-", "verdict", report.get("verdict"), derived.get("verdict")))
    mine = {(c.get("id"), c.get("threshold")): c for c in report.get("checks", []) if isinstance(c, Mapping)}
    theirs = {(c.get("id"), c.get("threshold")): c for c in derived.get("checks", []) if isinstance(c, Mapping)}
    for key in dict.fromkeys([*mine, *theirs]):
        if key[0] in skip:
            continue
        a, b = mine.get(key), theirs.get(key)
        label = _check_label(a or b or {"id": key[0], "threshold": key[1]})
        if a is None or b is None:
            out.append(Difference(label, "-", "check", "present" if a else "absent", "present" if b else "absent"))
        else:
            out += _compare_check(label, a, b)
    photos = {(p.get("photo"), p.get("role")): p for p in report.get("photos", []) if isinstance(p, Mapping)}
    again = {(p.get("photo"), p.get("role")): p for p in derived.get("photos", []) if isinstance(p, Mapping)}
    for key in dict.fromkeys([*photos, *again]):
        where = f"photo {key[0]}" + (f" ({key[1]})" if key[1] else "")
        for path, x, y in _diff(photos.get(key, _ABSENT), again.get(key, _ABSENT)):
            out.append(Difference(where, "-", path if path != "(value)" else "photo", x, y))
    for section in ("seed", "outcomes", "dataset", "grouping", "notes"):
        for path, x, y in _diff(report.get(section, _ABSENT), derived.get(section, _ABSENT)):
            if section == "dataset" and path.split(".")[0] in _PLACE_KEYS:
                continue
            out.append(Difference(section, "-", path, x, y))
    provenance = {k: v for k, v in _mapping(report.get("analyzer")).items() if k not in _PLACE_KEYS}
    provenance_again = {k: v for k, v in _mapping(derived.get("analyzer")).items() if k not in _PLACE_KEYS}
    out += [Difference("analyzer", "-", p, x, y) for p, x, y in _diff(provenance, provenance_again)]
    sealed, resealed = _mapping(report.get("evidence")), _mapping(derived.get("evidence"))
    for part in ("images", "identity_map", "endpoint_class", "recording_sessions"):
        for path, x, y in _diff(sealed.get(part, _ABSENT), resealed.get(part, _ABSENT)):
            out.append(Difference("evidence", "-", f"{part}.{path}" if path != "(value)" else part, x, y))
    return out


def _weight(difference: Difference) -> int:
    """Verdicts first (the run's, the checks', the comparisons'), then figures, then photos, then the rest."""
    if difference.where == "run":
        return 0
    if difference.field == "verdict":
        return 1 if difference.group == "-" else 2
    if difference.where.startswith("photo "):
        return 4
    if difference.where in ("policy", "seed", "outcomes", "dataset", "grouping", "notes", "analyzer", "evidence"):
        return 5
    return 3


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


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
    from .session import build_context

    report = read_report(path)
    if not report.evidence.fields:
        raise NotVerifiable(
            f"{path}: this report carries no evidence section (made by kit {report.kit_version}, before reports "
            "were sealed to their evidence): re-run it with this kit, then verify the new report"
        )
    places = _Places(report.evidence.root, root)
    notes: list[str] = []
    from ._version import __version__

    if report.kit_version != __version__:
        notes.append(
            f"the report was made by kit {report.kit_version}, this is kit {__version__}: a difference may come "
            "from the kit's own changes"
        )
    try:
        options = parse_flags(report.run.flags, project_root=places.path(report.evidence.root or os.getcwd()))
    except OptionError as error:
        raise NotVerifiable(f"{path}: run.flags cannot be read back: {error}") from None
    from .execution import ExecutorSpec

    options = replace(
        options,
        dataset=None if options.dataset is None else places.path(options.dataset),
        analyzer=None if options.analyzer is None else places.spec(options.analyzer),
        policy=None if options.policy is None else places.path(options.policy),
        cassette_dir=None if options.cassette_dir is None else places.path(options.cassette_dir),
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
    policy, policy_problems, differences, policy_notes = _policy(report, options, places)
    files += policy_problems
    notes += policy_notes
    checked = {"files": file_count, "images": image_count}
    try:
        ctx = build_context(options, policy=policy)
    except ConformanceError as error:
        files.append(FileProblem("evidence", "", f"cannot be replayed: {error}"))
        return Verification(str(path), tuple(files), tuple(differences), tuple(notes), checked, rederived=False)
    skipped = {c.id for c in report.not_run}
    if skipped:
        notes.append(f"not re-derived, as the report lists them as not run: {', '.join(sorted(skipped))}")
    if report.regression is not None:
        notes.append("the regression gate's finding is not re-derived (it compares with another report)")
    results = []
    for check_id in report.planned:
        if check_id not in skipped:
            results.extend(_results(ctx, check_id))
    payload = context_payload(ctx)
    run = dict(payload["run"])
    run["checks"] = list(report.planned)
    payload["run"] = run
    reasons = {c.id: {"cause": "not run", "reason": "listed as not run in the report"} for c in report.not_run}
    derived = build_report(results, context=payload, not_run=reasons).to_json()
    differences += sorted(_compare(report.to_json(), derived, skipped), key=_weight)
    checked.update(
        checks=len([c for c in report.checks if c.id not in skipped]),
        photos=len(report.photos),
    )
    sealed = report.evidence.policy
    content = _mapping(sealed.get("content"))
    described = f"profile {content.get('profile', '?')} from {sealed.get('source', '?')}, sha256 {_short(str(sealed.get('sha256', '')))}"
    return Verification(
        str(path), tuple(files), tuple(differences), tuple(notes), checked, rederived=True, policy=described
    )


def _results(ctx: Context, check_id: str) -> list[Any]:
    from .session import check_results

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
    return text if len(text) <= 60 else text[:57] + "..."


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
        out.append(
            f"verified: every figure and verdict of {counts.get('checks', 0)} checks and {counts.get('photos', 0)} "
            f"photos follows from the evidence ({counts.get('files', 0)} files and {counts.get('images', 0)} images, "
            "digests matching), re-derived offline without the cache"
        )
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
