"""The run's side of a recorded vendor adapter: its recording opened, checked, completed, shared with workers.

Any adapter that replays a vendor's answers from a recording and records new ones needs the same
bookkeeping, whatever the vendor; it lives here, so that an adapter holds only what is its vendor's
own (its SDK client, what it sends, how it reads an answer, what a live call costs).

What the :class:`Recorder` does
-------------------------------
- **Opens the recording** (:meth:`Recorder.session`): the store at
  ``<cassette dir>/<dataset folder>-<tag>/<file>`` (:mod:`.paths`), locked for a run that writes, a
  recording of the older layout replayed where it is and carried over when recording; refuses a
  recording made by another adapter version; counts the run's planned requests against it and, in
  replay, stops the run before any call when one is missing, with the command that records it.
  ``once`` records what is missing (counted, never taken on trust from a ``complete`` line).
- **Completes it**: ``complete`` is written only when every planned request has its answer, counted.
- **Keeps the run's counts**: answers that were not recorded (a passing fault, an answer the secret
  scan withheld: :attr:`Recorder.withheld`), live calls, whether an answer came from the kit's emulator
  (proven: :mod:`.proof`) or said it was simulated.
- **Shares the recording with worker processes** (``--executor processes:N``, Dask): each chunk's
  recorded lines go out with it (:meth:`worker_payload`), a worker replays from and records into memory
  (:meth:`worker_session`), and the run's process appends what came back (:meth:`absorb`, one writer).
- **Says where answers came from** (:meth:`sessions`, :meth:`endpoint_class`, :meth:`notes`): each
  session line's endpoint class (:mod:`.endpoints`), and a warning when a run adds to a recording made
  with another SDK, adapter version or class of endpoint (:mod:`.sessions`).

What the adapter gives it
-------------------------
The :class:`RecordedVendor` protocol: the requests a run will send (:meth:`~RecordedVendor.planned`,
each with its recording key), how to open the vendor's transport over the store for a session (its
client, with vcrpy replaying from and recording into the store: :func:`.cassette.replaying`), what to
add to the command that records a missing request, and what to undo before the recording is counted
complete. The live-call guard (no call leaves before ``--allow-live`` and the data-protection
preflight) stays the adapter's: :meth:`Recorder.answers` tells it which requests the recording holds.
``docs/explanation/architecture.md`` shows a second vendor plugged in.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .._files import file_digest
from .._text import printable
from ..errors import AdapterError, ConformanceError
from .cassette import record_mode as _record_mode
from .endpoints import classify, least_trusted, session_class
from .proof import CLAIM_HEADER
from .scrub import scrub_url
from .sessions import mixing_warning, recording_notes, report_sessions

if TYPE_CHECKING:
    from ..adapters.base import SessionPlan
    from ..dataset import Dataset, Photo
    from .store import RecordingStore

__all__ = ["SIMULATED_HEADER", "Planned", "RecordedVendor", "Recorder", "Transport"]

# An answer the kit's emulator simulated (its vendor's output made up from predictions): a claim that only warns.
SIMULATED_HEADER = "x-conformance-simulated"


@dataclass(frozen=True)
class Planned:
    """One request a run will send: about ``photo`` (None: about the run, e.g. a collection), its key in the
    recording (images by digest, :func:`.scrub.request_key`)."""

    photo: Photo | None
    operation: str
    digest: str  # the SHA-256 of the image sent ("" for a request about no image)
    key: str


class Transport(Protocol):
    """What :meth:`RecordedVendor.open_transport` returns (the cassette of :func:`.cassette.replaying`): its word on
    each live answer, by request key, which the recorder takes (pops) as the answer is used."""

    # "verified" when the emulator proved the call's nonce (the answer came from the kit's emulator).
    claims: dict[str, str]
    # What became of the answer in the recording ("withheld from the recording: ..." when the secret scan kept it out).
    verdicts: dict[str, str]


class RecordedVendor(Protocol):
    """What a recorded vendor adapter gives its :class:`Recorder`."""

    # Appended to the command that records a missing request (how to point the SDK at an emulator).
    record_hint: str

    def planned(self, photos: Sequence[Photo] | None = None) -> list[Planned]:
        """Every request the run will send (about ``photos`` only, when given), in order."""
        ...

    def open_transport(
        self, stack: ExitStack, store: RecordingStore, effective: str, *, live_calls: int, share: int = 1
    ) -> Transport:
        """Make the client and patch HTTP, inside ``stack``, to replay from and record into ``store`` under the
        ``effective`` record mode; ``live_calls`` planned to go live, ``share`` processes sharing the rate
        limit. Returns the cassette (:func:`.cassette.replaying`), whose claims and verdicts the recorder reads."""
        ...

    def finish(self) -> None:
        """Undo what the run made at the vendor (a collection): called before completeness is counted, and again
        on the way out (where a failed run undoes it too), so it must do nothing the second time."""
        ...


def _raise_write_failure(opened: Sequence[RecordingStore]) -> None:
    """Stop the run with why its recording could not be written and what was lost (said after the store closed)."""
    failure = opened[0].write_failure() if opened else None
    if failure is not None:
        raise failure from None


class Recorder:
    """One recorded adapter's recording, for one run (or one worker's chunk).

    ``adapter`` and ``version`` name the adapter in the recording (a replay refuses another version's
    recording, whose requests differ); ``filename`` is the recording's name in the dataset's folder;
    ``note`` heads every session the run writes; ``vendor_host`` (a regular expression) tells the
    vendor's own endpoints from others; ``sdk`` names the session fields holding the SDK's versions.
    """

    def __init__(
        self,
        *,
        dataset: Dataset,
        cassette_dir: Path,
        record_mode: str,
        adapter: str,
        version: str,
        filename: str,
        note: str,
        vendor_host: str,
        sdk: Sequence[str],
    ) -> None:
        from .paths import legacy_recording_path, recording_path

        self.dataset = dataset
        self.cassette_dir = cassette_dir
        self.record_mode = _record_mode(record_mode)  # "rewrite" is "all" from here on
        self.adapter = adapter
        self.version = version
        self.note = note
        self.vendor_host = vendor_host
        self.sdk = tuple(sdk)
        self.recording = recording_path(dataset, cassette_dir, filename)
        # Where the recording lived before its folder was tagged: still replayed, carried over when recording.
        self.legacy_recording = legacy_recording_path(dataset, cassette_dir, filename)
        self._filename = filename
        self.store: RecordingStore | None = None
        self.effective = "none"
        self.cassette: Transport | None = None
        self.endpoint = ""  # this run's endpoint, credentials taken out of its URL (set by the transport)
        self.transport: dict[str, Any] = {}  # this run's proxy and TLS trust, when it calls an endpoint
        self.emulated = False
        self.simulated = False
        self.withheld: dict[str, str] = {}  # photo (or request) -> why its answer was kept out of the recording
        self.unrecorded = 0  # answers used but not recorded: the recording stays incomplete
        self.live_calls = 0  # calls sent to the endpoint (not replayed), this process and its workers
        # The run's data-protection preflight, once it ran (the adapter's record), and a sequential run's design
        # (looks, spending, alpha: SessionPlan.design): every session line the run writes carries both.
        self.preflight: dict[str, Any] | None = None
        self.design: dict[str, Any] | None = None
        self.secrets: tuple[str, ...] = ()  # the run's credentials, never written (the adapter's, for scrubbing)
        self.lock = threading.Lock()  # threads share the counts above (--executor threads:N)
        self._absorbed = False

    # -- opening, checking and completing the recording -----------------------------------------------

    def replays_legacy(self) -> bool:
        """Whether the only recording is in the older layout; a replay then reads it where it is."""
        legacy = self.recording != self.legacy_recording and (
            not self.recording.exists() and self.legacy_recording.is_file()
        )
        if legacy and self.record_mode == "none":
            self.recording = self.legacy_recording
        return legacy

    def _dataset_header(self) -> dict[str, Any]:
        """Which dataset a recording is for, in its header: its folder's name and tag (see recording.paths)."""
        from .paths import dataset_tag

        return {"name": self.dataset.name, "tag": dataset_tag(self.dataset, self.cassette_dir)}

    def _migrate(self, store: RecordingStore, keys: set[str]) -> None:
        """Carry this dataset's answers over from a recording of the older layout into the new one."""
        from .store import RecordingStore

        with RecordingStore.open(self.legacy_recording, adapter=self.adapter) as old:
            carried = store.migrate(old, keys, self.note)
        if carried:
            print(
                printable(
                    f"conformance: carried {carried} answer(s) of this dataset over from {self.legacy_recording} (the "
                    f"older layout, one folder per dataset name) into {self.recording}; the old file is left as it was"
                ),
                file=sys.stderr,
            )

    @contextmanager
    def session(self, vendor: RecordedVendor, plan: SessionPlan, *, precheck: bool = True) -> Iterator[None]:
        """Open the recording, check what is missing, open the vendor's transport over it for the whole run.

        ``precheck=False`` skips checking, before any call, that a replay holds every request of a whole
        run (for users' own calls in a test that replays only those).
        """
        from .cassette import effective_mode
        from .store import RecordingError, RecordingStore, check_inside

        mode = self.record_mode
        writes = mode != "none"
        fresh = mode == "all"
        legacy = self.replays_legacy()
        with ExitStack() as stack:
            opened: list[RecordingStore] = []
            stack.callback(_raise_write_failure, opened)  # runs once the store has closed, with what it lost
            if writes:
                # One writer per recording, and never a file created through a link out of the cassette folder.
                check_inside(self.recording, self.cassette_dir)
            store = stack.enter_context(
                RecordingStore.open(
                    self.recording,
                    adapter=self.adapter,
                    fresh=fresh,
                    lock=writes,
                    header={"dataset": self._dataset_header()} if writes else None,
                )
            )
            self.store = store
            self.design = dict(plan.design) if plan.design else None
            # Each session opens the recording anew (a sequential run: one a look), and its first worker answer
            # writes its session line and opens its writer (red team 17d F2: look 2's were absorbed unopened).
            self._absorbed = False
            opened.append(store)
            planned = (
                vendor.planned(plan.photos) if precheck or mode == "once" or (legacy and writes and not fresh) else []
            )
            if legacy and writes and not fresh and not len(store):
                self._migrate(store, {r.key for r in planned})
            missing = [r for r in planned if r.key not in store]
            effective = effective_mode(mode, store)
            if mode == "once" and planned:
                # Counted, never taken on trust from a "complete" line: once records what is missing.
                effective = "new_episodes" if missing else "none"
            self.effective = effective
            versions = {str(s.get("adapter_version")) for s in store.sessions}
            if effective == "none" and versions and self.version not in versions:
                # Requests changed shape between versions: the old keys would not find this version's requests.
                raise RecordingError(
                    f"{self.recording} was recorded by {self.adapter} adapter version {', '.join(sorted(versions))}; "
                    f"this kit's is {self.version}, whose requests differ: re-record it with --record-mode all"
                )
            if not precheck:
                missing = []
            missing_calls = len({r.key for r in missing})  # the same image under two names is one call
            if effective == "none" and missing:
                raise self._unrecorded_error(missing, store, vendor.record_hint)
            calls = (len(vendor.planned(plan.photos)) if effective == "all" else missing_calls) + plan.variant_calls
            self.cassette = vendor.open_transport(stack, store, effective, live_calls=calls)
            # What the run made at the vendor is undone after it, also when the run fails.
            stack.callback(vendor.finish)
            yield
            vendor.finish()  # now, not on the way out: its answer counts towards completeness
            # Complete only when every planned request has its answer in the recording, counted (a run that holds
            # the lock says so also when it had nothing to record: the line may have been lost).
            if writes and not [r for r in vendor.planned() if r.key not in store]:
                store.mark_complete(len(self.dataset))

    def _unrecorded_error(self, missing: list[Planned], store: RecordingStore, hint: str) -> ConformanceError:
        from .paths import same_name_recordings
        from .store import RecordingError

        first = missing[0]
        what = f"photo {first.photo.id!r} (sha256:{first.digest})" if first.photo is not None else "the collection"
        where = f"in {self.recording}" if self.recording.exists() else f"at {self.recording} (no recording yet)"
        others = same_name_recordings(self.dataset, self.cassette_dir, self._filename)
        elsewhere = (
            f". Recordings of other datasets in folders named {self.dataset.name!r}: "
            f"{', '.join(str(o) for o in others)}; if one is this dataset's (moved since), rename its folder to "
            f"{self.recording.parent.name}"
            if others and not self.recording.exists()
            else ""
        )
        return RecordingError(
            f"no recording of {first.operation} for {what} {where}"
            f"{f', nor of {len(missing) - 1} more request(s)' if len(missing) > 1 else ''}; record it with "
            f"conformance run --dataset {self.dataset.manifest} --analyzer {self.adapter} "
            f"--cassette-dir {self.cassette_dir} --record-mode "
            f"{'new_episodes' if len(store) else 'once'}{hint}"
            f"{elsewhere}"
        )

    def begin_session(self, session: dict[str, Any]) -> dict[str, Any]:
        """Complete this run's session line when its first answer is recorded (or the preflight ran): its endpoint
        class, the run's preflight and sequential design; say if it mixes with older ones."""
        from .scrub import scrub_record

        session = {
            **session,
            "endpoint_class": classify(session, vendor_host=self.vendor_host),
            # None: no preflight ran (no call left this machine); a line of an older kit has no such key.
            "retention_preflight": None if self.preflight is None else scrub_record(self.preflight, self.secrets),
            **({"design": dict(self.design)} if self.design else {}),
        }
        opened = self.store is not None and self.store.session_open  # its line is written: this completes it
        earlier = list(self.store.sessions) if self.store is not None and not opened else []
        warning = mixing_warning(self.recording, earlier, session, session_class=self._session_class, sdk=self.sdk[0])
        if warning is not None:
            print(printable(warning), file=sys.stderr)
        return session

    def begin_at_preflight(self, session: dict[str, Any]) -> None:
        """Write this run's session line now that the preflight let its calls leave, before any answer: a run
        interrupted before its first answer is recorded (photos sent all the same) keeps what its preflight found.

        No answer has said yet whether the endpoint is the kit's emulator: until one does, the line states the
        less trusted of the two classes (the end line states the answer's, :meth:`RecordingStore.begin_session`).
        """
        store = self.store
        if store is None or self.effective == "none" or store.session_open:
            return
        line = self.begin_session({**session, "emulator": False})
        proven = classify({**line, "emulator": True}, vendor_host=self.vendor_host)
        line["endpoint_class"] = least_trusted([line["endpoint_class"], proven]) or line["endpoint_class"]
        store.begin_session(line, self.note)

    # -- the run's calls --------------------------------------------------------------------------------

    def answers(self, key: str) -> bool:
        """Whether the recording answers ``key`` in this run (never under ``all``, which records everything anew)."""
        return self.effective != "all" and self.store is not None and key in self.store

    def replays(self, key: str) -> bool:
        """Whether a request with ``key`` is replayed rather than sent to the endpoint."""
        return self.effective == "none" or self.answers(key)

    def can_see(self, key: str) -> bool:
        """Whether a request with ``key`` can be made now: always while recording; in replay, if it was recorded."""
        if self.store is None or self.effective != "none":
            return True
        return key in self.store

    def check_writable(self) -> None:
        """Raise why the recording cannot be written, once it cannot: no further call is sent."""
        failure = self.store.write_failure() if self.store is not None else None
        if failure is not None:
            raise failure

    def count_live(self) -> None:
        """One more call went to the endpoint (the preflight's record says, after the run, how many)."""
        with self.lock:
            self.live_calls += 1
            if self.store is not None:
                self.store.count_calls()  # and the session's end line, how many this session sent

    def count_unrecorded(self) -> None:
        """One more answer was used but not recorded: the recording stays incomplete, a re-run asks again."""
        with self.lock:
            self.unrecorded += 1

    def note_claim(self, key: str, headers: Mapping[str, Any], *, live: bool) -> None:
        """Whether this answer came from the kit's emulator: proven (live), or recorded as proven (replay).

        A live answer's header is believed only with the emulator's proof of the call's nonce (the
        cassette checks it as it records); a recording keeps an unproven claim under another name.
        """
        if live:
            emulated = self.cassette is not None and self.cassette.claims.pop(key, "") == "verified"
        else:
            emulated = CLAIM_HEADER in headers
        with self.lock:
            self.emulated = self.emulated or emulated
            self.simulated = self.simulated or headers.get(SIMULATED_HEADER) == "true"  # a claim that only warns

    def note_verdict(self, key: str, operation: str, photo: Photo | None) -> None:
        """Say, for the photo, when its answer was withheld from the recording by the secret scan."""
        if self.cassette is None:
            return
        verdict = self.cassette.verdicts.pop(key, "")
        if not verdict.startswith("withheld"):
            return
        who = photo.id if photo is not None else f"{operation} {key[:12]}"
        with self.lock:
            self.withheld[who] = verdict
            self.unrecorded += 1
        from .cassette import TOO_LARGE

        used = "" if verdict.startswith(TOO_LARGE) else "it was used in this run, but "  # the adapter says if it was
        print(
            printable(
                f"conformance: WARNING: photo {who!r} ({operation}): its answer was {verdict}; {used}it is NOT in the "
                "recording, which stays incomplete (a replay will not find it; the next recording run asks again)"
            ),
            file=sys.stderr,
        )

    # -- worker processes (--executor processes:N, dask): replay from and record into memory -------------

    def worker_payload(self, keys: Iterable[str]) -> dict[str, Any]:
        """What a worker needs of the recording: the run's record mode and the recorded lines of ``keys``."""
        if self.store is None:
            raise AdapterError(f"the {self.adapter} adapter hands work to workers inside session()")
        return {
            "effective": self.effective,
            "lines": self.store.lines_for([] if self.effective == "all" else list(keys)),
        }

    @contextmanager
    def worker_session(
        self, vendor: RecordedVendor, payload: Mapping[str, Any]
    ) -> Iterator[Callable[[], dict[str, Any]]]:
        """In a worker: replay the shipped interactions, record new ones into memory; yields the hand-back."""
        from .store import RecordingStore

        store = RecordingStore.in_memory(self.recording, adapter=self.adapter, lines=payload["lines"])
        self.store, self.effective, self.unrecorded = store, str(payload["effective"]), 0
        self.live_calls = 0  # this chunk's, handed back
        with ExitStack() as stack:
            self.cassette = vendor.open_transport(
                stack, store, self.effective, live_calls=0, share=int(payload.get("share", 1))
            )

            def handback() -> dict[str, Any]:
                return {
                    "lines": store.recorded_lines(),
                    "session": store.sessions[-1] if store.sessions else None,
                    "unrecorded": self.unrecorded,
                    "emulated": self.emulated,
                    "simulated": self.simulated,
                    "withheld": dict(self.withheld),
                    "live_calls": self.live_calls,
                }

            yield handback

    def absorb(
        self, handback: Mapping[str, Any] | None, also: Callable[[Mapping[str, Any]], None] | None = None
    ) -> None:
        """In the run's process: append what a worker recorded (never a request twice), and its counts.

        ``also`` takes in, under the same lock, what the adapter handed back of its own.
        """
        store = self.store
        if handback is None or store is None:
            return
        with self.lock:
            self.unrecorded += int(handback["unrecorded"])
            self.emulated = self.emulated or bool(handback["emulated"])
            self.simulated = self.simulated or bool(handback["simulated"])
            self.withheld.update(handback.get("withheld") or {})
            self.live_calls += int(handback.get("live_calls") or 0)
            store.count_calls(int(handback.get("live_calls") or 0))
            if also is not None:
                also(handback)
            if handback["lines"] and not self._absorbed:
                store.begin_session(self.begin_session(dict(handback["session"] or {})), self.note)
                self._absorbed = True
            for line in handback["lines"]:
                store.append_line(line)
        failure = store.write_failure()
        if failure is not None:
            raise failure  # the run stops: no further chunk is sent

    # -- where the answers came from, for the report --------------------------------------------------

    def _session_class(self, session: Mapping[str, Any]) -> str:
        return session_class(session, vendor_host=self.vendor_host)

    def sessions(self) -> list[dict[str, Any]]:
        """The recording's sessions as a report gives them (:func:`.sessions.report_sessions`)."""
        recorded = [] if self.store is None else self.store.sessions
        return report_sessions(recorded, session_class=self._session_class, sdk=self.sdk)

    def recorded_with(self) -> list[dict[str, Any]]:
        """The sessions as recorded (URL credentials taken out): kept for readers of older reports."""
        recorded = [] if self.store is None else self.store.sessions
        return [dict(s, endpoint=scrub_url(str(s.get("endpoint", "")))) for s in recorded]

    def files(self) -> list[dict[str, str]]:
        """The recording file with its digest, as a report seals it (none when there is no file)."""
        if not self.recording.is_file():
            return []
        return [{"path": str(self.recording), "sha256": file_digest(self.recording)}]

    def endpoint_class(self, sessions: Sequence[Mapping[str, Any]]) -> str:
        """The class of the endpoint the answers came from: the least trustworthy of the recording's
        sessions (one emulated session makes a recording not the vendor's), else this run's endpoint."""
        classes = {str(s["endpoint_class"]) for s in sessions}
        if not classes and self.endpoint and self.effective != "none":
            this_run = {"endpoint": self.endpoint, "emulator": self.emulated, **self.transport}
            classes = {classify(this_run, vendor_host=self.vendor_host)}
        found = least_trusted(classes)
        if found is not None:
            return found
        return "emulator" if self.emulated else "other"

    def notes(self, sessions: Sequence[Mapping[str, Any]]) -> list[str]:
        """What a reader must know about how the recording's sessions differ (:func:`.sessions.recording_notes`)."""
        return recording_notes(sessions, sdk=self.sdk[0])
