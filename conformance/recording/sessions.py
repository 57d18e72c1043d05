"""What a recording's session lines tell a reader: when, with which SDK and adapter, from which endpoint,
under which data-protection preflight, and with which sequential design.

A recording holds one session line per run that recorded into it (:mod:`.store`). A report lists
them (:func:`report_sessions`), with what a reader must know when they differ
(:func:`recording_notes`); a run that adds to a recording made with another SDK, adapter version
or class of endpoint says so when its first answer is recorded (:func:`mixing_warning`).
Vendor-neutral: ``sdk`` names the session fields that hold the vendor SDK's versions (the first is
the one whose change is noted), ``session_class`` is the adapter's reading of a session's endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .scrub import scrub_record, scrub_url

__all__ = ["NOT_RECORDED", "mixing_warning", "recording_notes", "report_sessions", "session_preflight"]

# What a session line may say about how its answers travelled, copied to the report when it says it.
_TRANSPORT = ("proxy", "ca_bundle", "tls_verified", "emulator_claim")


def report_sessions(
    sessions: Sequence[Mapping[str, Any]], *, session_class: Callable[[Mapping[str, Any]], str], sdk: Sequence[str]
) -> list[dict[str, Any]]:
    """The recording's sessions as a report gives them: when (UTC), with which SDK and adapter, against
    which class of endpoint (URL credentials taken out, also of sessions older kits wrote), under which
    data-protection preflight (:func:`session_preflight`), and a sequential run's ``design``."""
    out = []
    for session in sessions:
        entry = {
            "started": session.get("started"),
            "ended": session.get("ended"),
            "endpoint_class": session_class(session),
            "endpoint": scrub_url(str(session.get("endpoint", ""))),
            "region": session.get("region"),
            "adapter_version": session.get("adapter_version"),
            **{name: session.get(name) for name in sdk},
            "python": session.get("python"),
            "kit": session.get("kit"),
        }
        for said in _TRANSPORT:
            if session.get(said) is not None:
                entry[said] = session[said]
        if session.get("interactions") is not None:
            entry["interactions"] = session.get("interactions")
        entry["retention_preflight"] = session_preflight(session)
        design = session.get("design")
        if isinstance(design, Mapping):  # a sequential run's, as it was chosen before its first look
            entry["design"] = scrub_record(design)
        if session.get("migrated_from"):
            entry["migrated_from"] = str(session["migrated_from"])
        if session.get("kept_by_record_mode_all"):
            entry["kept_by_record_mode_all"] = str(session["kept_by_record_mode_all"])
        out.append(entry)
    return out


# What a report says of a session line written before session lines carried the preflight.
NOT_RECORDED = "not recorded"


def session_preflight(session: Mapping[str, Any]) -> dict[str, Any] | str | None:
    """The data-protection preflight a session line carries, as a report lists it (scrubbed again: also of lines
    an older or edited kit wrote), with the calls the session sent (``calls_made``; None when it never said,
    killed midway). None: no preflight ran (no call of it left this machine). ``"not recorded"``: a line
    written by a kit that did not record it."""
    if "retention_preflight" not in session:
        return NOT_RECORDED
    record = session["retention_preflight"]
    if not isinstance(record, Mapping):
        return None if record is None else NOT_RECORDED
    made = session.get("calls_made")
    return {
        **scrub_record(record),
        "calls_made": made if isinstance(made, int) and not isinstance(made, bool) else None,
    }


def recording_notes(sessions: Sequence[Mapping[str, Any]], *, sdk: str) -> list[str]:
    """What a reader must know about how the recording's sessions differ (versions, endpoints, time)."""
    notes = []
    if len(sessions) > 1:
        started = sorted(str(s["started"]) for s in sessions if s.get("started"))
        span = f" from {started[0]} to {started[-1]}" if len(started) > 1 else ""
        notes.append(f"answers recorded in {len(sessions)} sessions{span}")
        for what in ("endpoint_class", sdk, "adapter_version"):
            values = sorted({str(s.get(what)) for s in sessions})
            if len(values) > 1:
                notes.append(f"the sessions differ in {what.replace('_', ' ')}: {', '.join(values)}")
    for session in sessions:
        where = str(session.get("endpoint") or "an endpoint the recording does not name")
        if session.get("emulator_claim") == "unverified":
            notes.append(
                f"{where} said it was the kit's emulator (x-conformance-emulator) but did not prove it: an "
                "unverified endpoint, whose answers are a stand-in's"
            )
        if session.get("proxy"):
            notes.append(f"answers from {where} came through the proxy {session['proxy']}")
        bundle = session.get("ca_bundle")
        if isinstance(bundle, Mapping):
            notes.append(
                f"TLS to {where} was checked against the certificate bundle {bundle.get('file')} (sha256 "
                f"{str(bundle.get('sha256'))[:12]}...) set for the run, not the public authorities: whoever holds "
                "a key it trusts could answer as the vendor"
            )
        if session.get("tls_verified") is False:
            notes.append(f"TLS certificates of {where} were not checked: anyone on the way could answer")
    untimed = sum(not s.get("started") for s in sessions)
    if untimed:
        notes.append(f"{untimed} of {len(sessions)} session(s) recorded by an older kit, which wrote no timestamps")
    return notes


def mixing_warning(
    recording: Path,
    earlier: Sequence[Mapping[str, Any]],
    session: Mapping[str, Any],
    *,
    session_class: Callable[[Mapping[str, Any]], str],
    sdk: str,
) -> str | None:
    """What to say when ``session`` adds to a recording whose last session used another SDK version,
    adapter version or class of endpoint (None when it does not, or there is no earlier session)."""
    if not earlier:
        return None
    last = earlier[-1]
    changed = [
        f"{what} {last.get(field)} then, {session.get(field)} now"
        for what, field in ((sdk, sdk), ("adapter version", "adapter_version"))
        if str(last.get(field)) != str(session.get(field))
    ]
    if session_class(last) != session["endpoint_class"]:
        changed.append(f"endpoint {session_class(last)} then, {session['endpoint_class']} now")
    if not changed:
        return None
    when = last.get("started") or "at an unknown time"
    return (
        f"conformance: this run adds to {recording}, last recorded {when}; {'; '.join(changed)}: "
        "the recording will hold answers of both (the report lists its sessions; --record-mode all "
        "records everything anew)"
    )
