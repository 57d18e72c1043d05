"""The typed report: what ``report.json`` holds, read and validated in one place.

A :class:`Report` travels from the plugin's collector to every writer (JSON, Markdown, HTML), to
``conformance compare`` and to the regression gate; none of them reads the JSON by hand.
:meth:`Report.from_json` validates a parsed ``report.json`` (a :class:`ReportError` names the file
and what is wrong) and :meth:`Report.to_json` gives it back.

The schema changes additively only (``docs/reference/report-schema.md``). So that a newer report
loses nothing in an older kit, a report read with :meth:`~Report.from_json` writes back exactly the
JSON it was read from, unknown keys included, key for key; the typed view holds what this version
reads. A report made with :func:`dataclasses.replace` (or built in code) is written from its typed
values, which for a report this version wrote is the same JSON again.

Provenance (``analyzer``, ``dataset``, ``policy``, ``run``) is whatever the adapter, dataset and
policy said: each is kept as written in ``fields``, with typed accessors for what the kit reads of it.
Checks are :class:`~conformance.results.CheckResult`, the values the checks returned.

Why one module of about 800 lines: the schema is one thing. Each section's typed view, how it is
read and how it is written back sit together, so that the additive rule (a report read writes back key
for key) is kept in one place, and the banners a writer shows (where the answers came from) are read
from the same typed fields by every writer and by ``conformance compare``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from ._fields import FieldError, describe
from ._untrusted import json_problem, shown
from ._version import __version__
from .errors import ConformanceError
from .results import CHECK_VERDICTS, RUN_VERDICTS, CheckResult

__all__ = [
    "CHECK_VERDICTS",
    "ENDPOINT_CLASSES",
    "RUN_VERDICTS",
    "SCHEMA_VERSION",
    "AnalyzerInfo",
    "Banner",
    "DatasetInfo",
    "EvidenceInfo",
    "GateOutcome",
    "Grouping",
    "PhotoOutcome",
    "PolicyInfo",
    "Report",
    "ReportError",
    "RunInfo",
    "Skipped",
    "endpoint_banners",
    "provenance_warnings",
    "read_report",
    "report_banners",
    "run_verdict",
]

SCHEMA_VERSION = 1
_REQUIRED = ("schema", "kit_version", "checks")
# The top-level keys in the order report.json has always had them.
_KEYS = (
    "schema",
    "kit_version",
    "created",
    "verdict",
    "seed",
    "analyzer",
    "dataset",
    "policy",
    "grouping",
    "run",
    "evidence",
    "outcomes",
    "notes",
    "checks",
    "skipped",
    "photos",
    "regression",
)
_SEVERITY = {"pass": 0, "inconclusive": 1, "fail": 2}


class ReportError(ConformanceError):
    """A file or dict given as a conformance report is not one."""


def _not_a_report(source: str, what: str) -> ReportError:
    return ReportError(
        f"{source}: not a conformance report: {what}. Pass the report.json that `conformance run` writes "
        "(in conformance-report/ by default)."
    )


def run_verdict(verdicts: Iterable[str]) -> str:
    """A run's verdict from its checks': fail, then incomplete, then inconclusive, then pass.

    A run with a failed check fails, whatever else it lacks; otherwise a planned check that was not
    run makes it ``incomplete`` (never pass). ``not applicable`` never decides a run by itself; a run
    with nothing else is ``not applicable``, one with no check at all ``inconclusive`` (nothing was shown).

    >>> run_verdict(["pass", "inconclusive", "not applicable"])
    'inconclusive'
    >>> run_verdict(["pass", "not run"])
    'incomplete'
    >>> run_verdict(["fail", "not run"])
    'fail'
    """
    found = list(verdicts)
    if "fail" in found:
        return "fail"
    if "not run" in found:
        return "incomplete"
    decided = [v for v in found if v in _SEVERITY]
    if decided:
        return max(decided, key=_SEVERITY.__getitem__)
    return "not applicable" if found else "inconclusive"


# -- provenance: as written, with typed accessors --------------------------------------------------------


def _text(value: object) -> str | None:
    """A scalar as the text a reader sees; None for anything else (absent, null, an object)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _texts(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class _Section:
    """A JSON object of the report that another part of the kit fills, kept as written."""

    fields: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.fields)


@dataclass(frozen=True)
class AnalyzerInfo(_Section):
    """What the adapter said about the analyzer: name, version, where its answers came from, SDK versions."""

    @property
    def name(self) -> str | None:
        return _text(self.fields.get("name"))

    @property
    def version(self) -> str | None:
        return _text(self.fields.get("version"))

    @property
    def adapter(self) -> str | None:
        return _text(self.fields.get("adapter"))

    @property
    def source(self) -> str | None:
        """The predictions file or recording the answers came from."""
        return _text(self.fields.get("source"))

    @property
    def record_mode(self) -> str | None:
        return _text(self.fields.get("record_mode"))

    @property
    def simulated(self) -> bool:
        """The predictions were constructed (the demo), not an analyzer's output."""
        return bool(self.fields.get("simulated"))

    @property
    def emulated(self) -> bool:
        """The answers came from the kit's emulator of the vendor's API, not from the vendor."""
        return bool(self.fields.get("emulated"))

    @property
    def vocabulary(self) -> Mapping[str, Any]:
        return _object(self.fields.get("vocabulary"))

    @property
    def endpoint_class(self) -> str | None:
        """The least trustworthy class of endpoint the answers came from (recorded answers only)."""
        return _text(self.fields.get("endpoint_class"))

    @property
    def recording_sessions(self) -> tuple[Mapping[str, Any], ...]:
        """The recording's sessions as the adapter read them: UTC times, endpoint class, SDK versions."""
        sessions = self.fields.get("recording_sessions")
        return tuple(_object(s) for s in sessions) if isinstance(sessions, list) else ()

    @property
    def recorded_with(self) -> tuple[Mapping[str, Any], ...]:
        """One entry per recording session: adapter and SDK versions, endpoint, whether it was an emulator."""
        sessions = self.fields.get("recorded_with")
        return tuple(_object(s) for s in sessions) if isinstance(sessions, list) else ()


# Where recorded answers came from (conformance.adapters.rekognition names the class of each session's endpoint).
ENDPOINT_CLASSES = ("vendor", "emulator", "loopback", "other")


@dataclass(frozen=True)
class Banner:
    """A warning every report format shows at the top: the results are not the vendor's service."""

    kind: str  # an endpoint class other than "vendor", or "in_process" (a python: model)
    title: str
    text: str


def _endpoints(sessions: Sequence[Mapping[str, Any]], kind: str) -> str:
    found = sorted({_via(s) for s in sessions if _class(s) == kind and s.get("endpoint")})
    return ", ".join(found) or "an endpoint the recording does not name"


def _via(session: Mapping[str, Any]) -> str:
    """A session's endpoint with what stood between (a proxy, the user's own TLS trust) and what it claimed."""
    said = [f"through the proxy {session['proxy']}"] if session.get("proxy") else []
    bundle = session.get("ca_bundle")
    if isinstance(bundle, Mapping):
        said.append(f"with TLS trusting the certificate bundle {bundle.get('file')} set for the run")
    if session.get("tls_verified") is False:
        said.append("with TLS certificates not checked")
    if session.get("emulator_claim") == "unverified":
        said.append("claiming to be the kit's emulator without proving it: an unverified endpoint")
    return str(session.get("endpoint")) + (f" ({'; '.join(said)})" if said else "")


def _class(session: Mapping[str, Any]) -> str | None:
    """A session's endpoint class, as it says, or as an older recording's flags say."""
    named = session.get("endpoint_class")
    if named in ENDPOINT_CLASSES:
        return str(named)
    if session.get("emulator"):
        return "emulator"
    if session.get("loopback"):
        return "loopback"
    return None


def endpoint_banners(analyzer: AnalyzerInfo) -> tuple[Banner, ...]:
    """A banner for each class of endpoint but the vendor's that the answers came from.

    The emulator's is left out when the analyzer already says ``emulated`` (the writers' own banner
    says so); a loopback endpoint that is not the kit's emulator, and any other endpoint, always get one.
    """
    sessions = [*analyzer.recording_sessions, *analyzer.recorded_with]
    classes = {c for c in (_class(s) for s in sessions) if c}
    stated = analyzer.fields.get("endpoint_class")
    if stated in ENDPOINT_CLASSES:
        classes.add(str(stated))
    out = []
    if "emulator" in classes and not analyzer.emulated:
        out.append(
            Banner(
                "emulator",
                "EMULATED vendor API",
                "The answers came from the kit's emulator of the vendor's API, not from the vendor's service: "
                "these figures say how the emulator answered.",
            )
        )
    if "loopback" in classes:
        out.append(
            Banner(
                "loopback",
                "A local stand-in, not the vendor's service",
                f"The answers were recorded from {_endpoints(sessions, 'loopback')}, a loopback or private "
                "address (or a proxy on one) that is not the kit's emulator: a mock, a proxy or another local "
                "stand-in. These figures say how that stand-in answered, not how the vendor would. It could also "
                "be a relay (an SSH tunnel, a signing proxy) that sent the photos on elsewhere: the kit cannot see "
                "past a loopback endpoint, so it did not gate those calls as live.",
            )
        )
    if "other" in classes:
        known = [s for s in sessions if _class(s) == "other"]
        regions = sorted({str(s.get("region")) for s in known if s.get("region")})
        sdks = sorted({str(s.get("botocore")) for s in known if s.get("botocore")})
        when = sorted({str(s.get("started")) for s in known if s.get("started")})
        facts = [f"region {', '.join(regions)}" if regions else "", f"botocore {', '.join(sdks)}" if sdks else ""]
        facts.append(f"recorded {when[0]}" + (f" to {when[-1]}" if len(when) > 1 else "") if when else "")
        what = "; ".join(f for f in facts if f) or "nothing more"
        out.append(
            Banner(
                "other",
                "Not the vendor's public endpoint",
                f"The answers were recorded from {_endpoints(sessions, 'other')}, which is neither the vendor's "
                f"public endpoint nor the kit's emulator; what the recording says of it: {what}. Whose service "
                "answered is not known to the kit.",
            )
        )
    return tuple(out)


def report_banners(analyzer: AnalyzerInfo) -> tuple[Banner, ...]:
    """The banners the report files open with: :func:`endpoint_banners`, and one for a model that ran in the kit's process."""
    out = endpoint_banners(analyzer)
    if analyzer.fields.get("in_process") is True:
        out += (Banner("in_process", "A model that ran inside the kit", str(analyzer.fields.get("trust") or "")),)
    return out


def provenance_warnings(analyzer: AnalyzerInfo) -> list[str]:
    """One line for each reason the answers are not the vendor's service's: simulated, emulated, an endpoint class.

    What the console prints first and ``conformance compare`` shows for each report it compares.
    """
    out = []
    if analyzer.simulated:
        out.append("SIMULATED analyzer output: constructed predictions, not any real service or model")
    if analyzer.emulated:
        out.append("EMULATED vendor API: the answers came from the kit's emulator, not from the vendor")
    out += [f"{banner.title.upper()}: {banner.text}" for banner in endpoint_banners(analyzer)]
    return out


@dataclass(frozen=True)
class DatasetInfo(_Section):
    """The dataset: name, manifest, counts and the content hash that identifies it."""

    @property
    def name(self) -> str | None:
        return _text(self.fields.get("name"))

    @property
    def manifest(self) -> str | None:
        return _text(self.fields.get("manifest"))

    @property
    def photos(self) -> int | None:
        return _whole(self.fields.get("photos"))

    @property
    def subjects(self) -> int | None:
        return _whole(self.fields.get("subjects"))

    @property
    def columns(self) -> tuple[str, ...]:
        return _texts(self.fields.get("columns"))

    @property
    def content_hash(self) -> str | None:
        value = self.fields.get("content_hash")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class PolicyInfo(_Section):
    """The policy in force, as :meth:`conformance.policy.Policy.to_dict` wrote it."""

    @property
    def profile(self) -> str | None:
        return _text(self.fields.get("profile"))

    @property
    def source(self) -> str | None:
        return _text(self.fields.get("source"))

    @property
    def confidence(self) -> float | None:
        return _number(self.fields.get("confidence"))

    @property
    def inconclusive(self) -> str | None:
        """What an inconclusive verdict counts as: fail, xfail or pass."""
        return _text(self.fields.get("inconclusive"))

    @property
    def interval(self) -> str | None:
        return _text(self.fields.get("interval"))

    @property
    def exact_test(self) -> str | None:
        return _text(self.fields.get("exact_test"))

    @property
    def tolerance(self) -> Mapping[str, float]:
        table = _object(self.fields.get("tolerance"))
        return {str(k): float(v) for k, v in table.items() if _number(v) is not None}


@dataclass(frozen=True)
class RunInfo(_Section):
    """How the run was made: the flags and command that repeat it, tool versions, the checks planned."""

    @property
    def flags(self) -> tuple[str, ...]:
        return _texts(self.fields.get("flags"))

    @property
    def command(self) -> str | None:
        return _text(self.fields.get("command"))

    @property
    def python(self) -> str | None:
        return _text(self.fields.get("python"))

    @property
    def pytest(self) -> str | None:
        return _text(self.fields.get("pytest"))

    @property
    def checks(self) -> tuple[str, ...]:
        """The check ids the run planned (whether or not each has a result)."""
        return _texts(self.fields.get("checks"))


@dataclass(frozen=True)
class EvidenceInfo(_Section):
    """The digests that seal the report to its evidence (see :mod:`conformance.evidence`), as written."""

    @property
    def files(self) -> tuple[tuple[str, Mapping[str, Any]], ...]:
        """Every file the evidence names, with what it is: ``("manifest", entry)``, ``("recording", entry)``, ..."""
        out: list[tuple[str, Mapping[str, Any]]] = []
        manifest = _object(self.fields.get("manifest"))
        if manifest:
            out.append(("manifest", manifest))
        listed = self.fields.get("analyzer_files")
        for entry in listed if isinstance(listed, list) else []:
            if isinstance(entry, Mapping):
                out.append((_text(entry.get("kind")) or "analyzer file", entry))
        return tuple(out)

    @property
    def root(self) -> str | None:
        """The folder the run was made in (paths under it are also given relative to it)."""
        return _text(self.fields.get("root"))

    @property
    def policy(self) -> Mapping[str, Any]:
        """The policy in force: ``source``, canonical ``content`` and its ``sha256``."""
        return _object(self.fields.get("policy"))

    @property
    def endpoint_class(self) -> str | None:
        """Where the answers came from: vendor, emulator, loopback or other (recorded answers only)."""
        return _text(self.fields.get("endpoint_class"))

    @property
    def recording_sessions(self) -> tuple[Mapping[str, Any], ...]:
        sessions = self.fields.get("recording_sessions")
        return tuple(_object(s) for s in sessions) if isinstance(sessions, list) else ()


@dataclass(frozen=True)
class Grouping:
    """The manifest columns the groups come from (none: the default gender groups) and the reference group."""

    by: tuple[str, ...] = ()
    reference: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"by": list(self.by), "reference": self.reference}


@dataclass(frozen=True)
class Skipped:
    """A check this run could not make, and why."""

    id: str
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "reason": self.reason}


@dataclass(frozen=True)
class PhotoOutcome(_Section):
    """One photo of the manifest and what became of it (analysed, no face, error, enrolled), as written."""

    @property
    def photo(self) -> str:
        return str(self.fields.get("photo", ""))

    @property
    def outcome(self) -> str:
        return str(self.fields.get("outcome", ""))

    @property
    def reason(self) -> str:
        return str(self.fields.get("reason", ""))

    @property
    def role(self) -> str | None:
        """``gallery`` or ``probe`` in a face-matching run."""
        return _text(self.fields.get("role"))


@dataclass(frozen=True)
class GateOutcome:
    """The regression gate's finding against a baseline report."""

    baseline: str
    regressions: tuple[str, ...]
    summary: str

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "regressions": list(self.regressions), "summary": self.summary}


# -- the report ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """A conformance report: provenance, each check's result, what was skipped, and every photo.

    ``verdict`` is the run's (one of :data:`RUN_VERDICTS`, or a newer report's word); each check's is
    one of :data:`CHECK_VERDICTS`. ``extra`` holds top-level keys this version does not know.
    """

    checks: tuple[CheckResult, ...]
    schema: int = SCHEMA_VERSION
    kit_version: str = __version__
    created: str | None = None
    verdict: str | None = None
    seed: int | None = None
    analyzer: AnalyzerInfo = field(default_factory=AnalyzerInfo)
    dataset: DatasetInfo = field(default_factory=DatasetInfo)
    policy: PolicyInfo = field(default_factory=PolicyInfo)
    grouping: Grouping = field(default_factory=Grouping)
    run: RunInfo = field(default_factory=RunInfo)
    evidence: EvidenceInfo = field(default_factory=EvidenceInfo)
    outcomes: Mapping[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    photos: Sequence[PhotoOutcome] = ()  # a tuple, or made when read (see _photo_outcomes)
    regression: GateOutcome | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    # The JSON this report was read from, written back as it was (see the module's docstring).
    _json: Mapping[str, Any] | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def planned(self) -> tuple[str, ...]:
        """The check ids the run planned: ``run.checks``, else those with a result or skipped."""
        listed = self.run.checks
        if listed:
            return listed
        return tuple(dict.fromkeys([*(c.id for c in self.checks), *(s.id for s in self.skipped)]))

    @property
    def not_run(self) -> tuple[CheckResult, ...]:
        """The planned checks that have no result (verdict ``not run``), each with its reason in ``notes``."""
        return tuple(check for check in self.checks if check.verdict == "not run")

    @property
    def sequential(self) -> Mapping[str, Any] | None:
        """A sequential run's record (``--sequential``): stopping rule, looks, photos sent and not needed; None otherwise."""
        value = self.extra.get("sequential")
        return value if isinstance(value, Mapping) else None

    def photos_not(self, outcomes: Collection[str]) -> Iterator[PhotoOutcome]:
        """The photos whose outcome is none of ``outcomes`` (the writers' list of photos not analysed).

        Of a report built in the run, found without making an entry for every photo.
        """
        photos = self.photos
        if isinstance(photos, _PhotoOutcomes):
            return photos.not_outcomes(outcomes)
        return (p for p in photos if p.outcome not in outcomes)

    def count(self, verdict: str) -> int:
        """How many check results have ``verdict``."""
        return sum(1 for check in self.checks if check.verdict == verdict)

    @classmethod
    def from_json(cls, data: object, *, source: str = "report") -> Report:
        """The report in ``data`` (a parsed report.json), validated.

        ``source`` names it in errors (a file name). Raises :class:`ReportError` naming ``source``
        and what is wrong: no ``schema``, ``kit_version`` or ``checks``, or a check whose fields are
        malformed (``checks[0] (misgender_gap) has verdict 'meh'``). Parts written by adapters and
        the policy are read as far as they make sense and otherwise left as they are.
        """
        if not isinstance(data, Mapping):
            raise _not_a_report(source, f"the top level is {describe(data)}, not an object")
        missing = [key for key in _REQUIRED if key not in data]
        if missing:
            raise _not_a_report(source, f"no {', '.join(map(repr, missing))} at the top level")
        schema = data["schema"]
        if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
            raise _not_a_report(source, f"'schema' should be a whole number, found {shown(schema)}")
        kit_version = data["kit_version"]
        if not isinstance(kit_version, str):
            raise _not_a_report(source, f"'kit_version' should be a string, found {describe(kit_version)}")
        if not isinstance(data["checks"], list):
            raise _not_a_report(source, f"'checks' should be an array, found {describe(data['checks'])}")
        checks = _checks(data["checks"], source)
        grouping = _object(data.get("grouping"))
        reference = grouping.get("reference")
        verdict = data.get("verdict")
        report = cls(
            checks=checks,
            schema=schema,
            kit_version=kit_version,
            created=data.get("created") if isinstance(data.get("created"), str) else None,
            verdict=verdict if isinstance(verdict, str) else None,
            seed=_whole(data.get("seed")),
            analyzer=AnalyzerInfo(_object(data.get("analyzer"))),
            dataset=DatasetInfo(_object(data.get("dataset"))),
            policy=PolicyInfo(_object(data.get("policy"))),
            grouping=Grouping(_texts(grouping.get("by")), reference if isinstance(reference, str) else None),
            run=RunInfo(_object(data.get("run"))),
            evidence=EvidenceInfo(_object(data.get("evidence"))),
            outcomes={str(k): v for k, v in _object(data.get("outcomes")).items() if _whole(v) is not None},
            notes=_texts(data.get("notes")),
            skipped=tuple(
                Skipped(str(s["id"]), str(s.get("reason", "")))
                for s in (data["skipped"] if isinstance(data.get("skipped"), list) else [])
                if isinstance(s, Mapping) and "id" in s
            ),
            photos=_photo_outcomes(data.get("photos")),
            regression=_gate(data.get("regression")),
            extra={k: v for k, v in data.items() if k not in _KEYS},
        )
        object.__setattr__(report, "_json", dict(data))
        return report

    def to_json(self) -> dict[str, Any]:
        """The report as report.json holds it (a report read with :meth:`from_json`: exactly what was read)."""
        if self._json is not None:
            return dict(self._json)
        out: dict[str, Any] = {
            "schema": self.schema,
            "kit_version": self.kit_version,
            "created": self.created,
            "verdict": self.verdict,
            "seed": self.seed,
            "analyzer": self.analyzer.to_json(),
            "dataset": self.dataset.to_json(),
            "policy": self.policy.to_json(),
            "grouping": self.grouping.to_json(),
            "run": self.run.to_json(),
            "evidence": self.evidence.to_json(),
            "outcomes": dict(self.outcomes),
            "notes": list(self.notes),
            # Through JSON: a check's details may hold tuples, which report.json holds as arrays.
            "checks": [json.loads(json.dumps(c.to_dict())) for c in self.checks],
            "skipped": [s.to_json() for s in self.skipped],
            "photos": [p.to_json() for p in self.photos],
        }
        if self.created is None:
            del out["created"]
        if not self.evidence.fields:  # a report from before evidence was sealed in
            del out["evidence"]
        if self.regression is not None:
            out["regression"] = self.regression.to_json()
        out.update(self.extra)
        return out


def _label(check_id: str, threshold: float | None) -> str:
    return check_id if threshold is None else f"{check_id} at {threshold:g}"


def _checks(raw: Sequence[object], source: str) -> tuple[CheckResult, ...]:
    out: list[CheckResult] = []
    seen: set[tuple[str, float | None]] = set()
    for index, check in enumerate(raw):
        if not isinstance(check, Mapping) or not isinstance(check.get("id"), str):
            raise _not_a_report(source, f"checks[{index}] is not a check with an 'id'")
        try:
            result = CheckResult.from_dict(check, where=f"checks[{index}] ({shown(check['id'], quoted=False)})")
        except FieldError as error:
            raise _not_a_report(source, str(error)) from None
        key = (result.id, result.threshold)
        if key in seen:
            raise _not_a_report(
                source, f"checks[{index}] repeats {_label(shown(result.id, quoted=False), result.threshold)}"
            )
        seen.add(key)
        out.append(result)
    return tuple(out)


class _PhotoOutcomes(Sequence[PhotoOutcome]):
    """A run's photos as :class:`PhotoOutcome`, each made when read from entries made when read.

    A report built in the run (:func:`conformance.reporting.build_report`) gets its photos as a
    sequence that makes each entry on demand (a million photos are not held twice over); this keeps
    it so. Equal to a tuple of the same outcomes.
    """

    def __init__(self, entries: Sequence[Any]) -> None:
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> PhotoOutcome: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[PhotoOutcome, ...]: ...

    def __getitem__(self, index: int | slice) -> PhotoOutcome | tuple[PhotoOutcome, ...]:
        if isinstance(index, slice):
            return tuple(PhotoOutcome(entry) for entry in self._entries[index])
        return PhotoOutcome(self._entries[index])

    def __iter__(self) -> Iterator[PhotoOutcome]:
        return (PhotoOutcome(entry) for entry in self._entries)

    def not_outcomes(self, outcomes: Collection[str]) -> Iterator[PhotoOutcome]:
        """The photos whose outcome is none of ``outcomes``; their entries only are made, when the
        entries can say where they are (:meth:`conformance.evidence.PhotoEntries.indices_not`)."""
        where = getattr(self._entries, "indices_not", None)
        if not callable(where):
            return (p for p in self if p.outcome not in outcomes)
        return (PhotoOutcome(self._entries[i]) for i in where(outcomes))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]  # equal to tuples, mutable underneath: no hash


def _photo_outcomes(value: object) -> Sequence[PhotoOutcome]:
    """photos[] as outcomes: a parsed list at once (entries that are no objects left out), any other
    sequence of entries (made when read, see :class:`conformance.evidence.PhotoEntries`) as it is read."""
    if isinstance(value, list):
        return tuple(PhotoOutcome(p) for p in value if isinstance(p, Mapping))
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return _PhotoOutcomes(value)
    return ()


def _gate(value: object) -> GateOutcome | None:
    gate = _object(value)
    if not isinstance(gate.get("baseline"), str) or not isinstance(gate.get("summary"), str):
        return None
    return GateOutcome(str(gate["baseline"]), _texts(gate.get("regressions")), str(gate["summary"]))


MAX_REPORT_BYTES = 4 * 1024**3  # a report of a million photos is about 170 MB


def read_report(path: str | os.PathLike[str]) -> Report:
    """Read and validate a ``report.json`` written by ``conformance run``.

    Raises
    ------
    ReportError
        (a :class:`~conformance.errors.ConformanceError`) naming the file and what is wrong: it is
        missing, a directory or unreadable, not JSON, or not a conformance report.
    """
    target = Path(path)
    if target.is_dir():
        raise ReportError(f"{target}: is a directory; pass the report.json inside it ({target / 'report.json'})")
    from ._files import read_regular

    try:
        # A regular file only, and bounded: a FIFO hung, /dev/zero read until MemoryError.
        text = read_regular(target, limit=MAX_REPORT_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise ReportError(f"{target}: no such file; pass a report.json written by `conformance run`") from None
    except UnicodeDecodeError as error:
        raise ReportError(f"{target}: not a conformance report: not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise ReportError(f"{target}: cannot be read: {error.strerror or error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(
            f"{target}: not a conformance report: not JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    except (ValueError, RecursionError) as error:
        raise ReportError(f"{target}: not a conformance report: not usable JSON ({json_problem(error)})") from None
    return Report.from_json(data, source=str(target))
