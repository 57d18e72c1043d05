"""A cache of observations, so a re-run on unchanged recordings does not parse every response again.

A policy change or a new check needs the same observations as the last run; replaying 100,000
recorded responses through boto3 to get them again costs about a minute. An adapter that can vouch
for its answers being fixed (a replay of a recording) offers a ``cache_key()``: a digest of every
input the observations depend on (the recording's bytes, the dataset's content hash, the adapter's
version and source code, botocore's version, the vocabulary, the planned variants). The runner
then stores the observations under that key in ``<project>/.conformance_cache/observations/`` and
reads them back on the next run with the same key. Anything changed, a single byte of the
recording included, gives another key: the answers are worked out again.

The cache can speed a run up, never change its result:

- an entry is **bound to the evidence** it was derived from: its name and its sealed content carry
  the key, which is a digest of the recording's bytes and the dataset's content hash (and the rest
  above), so it never answers for other evidence, even renamed;
- an entry is **sealed over its bytes**: its first line is an HMAC-SHA256 of the bytes after it, with a
  key kept outside the cache folder (``$XDG_CACHE_HOME/conformance/cache.key``, else
  ``~/.cache/conformance/cache.key``, made on first use, readable by its owner only). Someone who can
  write the project's folder (a committed ``.conformance_cache``, a shared CI workspace, a vendor
  shipping its project) cannot forge an entry without that key; a damaged, cut or edited entry, or
  one sealed on another machine, does not verify. The seal is checked on the bytes, a chunk at a
  time, before a byte is parsed: an entry the kit did not seal costs its reading, never its parsing
  (red team 15e F4: one filling a run's bounds cost twice its bytes, 1,062 MB at 20,000 photos). It
  does not protect against someone who can read the key (the same user account);
- an entry of the kit's earlier format (2: sealed over its parsed content, so parsed before its seal
  could be checked) is read, with the checks it always had, only when it was made before this
  machine's cache moved to sealing bytes (its inode change time against a mark kept beside the key,
  where the project's writers cannot reach); it is then rewritten in the current format. One made
  since is ignored unread, with the notice: this kit writes none, and what an older kit running beside
  it writes is worked out again from the recording;
- an entry holds observations only: where the answers came from (simulated, emulated, the endpoint,
  the recording's sessions) is always read again from the recording by the adapter, never from here;
- an entry that does not verify is ignored, with a one-line notice, and the answers are worked out
  again from the recording (and stored anew);
- an entry is read within bounds sized from the run (:class:`EntryBounds`: its bytes, and the JSON
  values in them counted outside strings before parsing), the most the kit itself writes for the run's
  answers, so a real entry is always read; one that does not verify costs about two chunks of memory,
  and the only one still parsed unverified (of the earlier format, made before the switch) at most about
  twice the bound's bytes (red team 15d F4, 15e F1 and F4; ``benchmarks/shared_entry_memory.py``).

Without a usable key (a read-only home) the cache is neither read nor written. The files hold what
the report holds (labels, confidences, boxes, reasons), never image bytes. Delete the folder at will;
``--no-cache`` (``--conformance-no-cache``) neither reads nor writes it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import FileTooLarge, NotRegularFile, open_regular, read_problem, read_regular
from .._source import source_digest  # moved to a leaf: adapters key their entries with it
from .._text import printable

if TYPE_CHECKING:
    from typing import BinaryIO

    from ..dataset import Photo
    from ..observation import Face, Observation, Variant

__all__ = [
    "FORMAT",
    "Entry",
    "EntryBounds",
    "EntryRefused",
    "key_path",
    "load",
    "parse_entry",
    "source_digest",
    "store",
    "switch_path",
]

FORMAT = 3  # its seal on the first line, over the bytes after it: checked before a byte is parsed
# 2: sealed over its parsed content (read only when made before the switch to 3: see _legacy_text);
# 1: unsealed, and held the analyzer's provenance (never read again)
LEGACY_FORMAT = 2
# The largest entry read whatever the run (1 GiB; a million photos' observations are about 150 MB): one over it
# is ignored. A run that says how many answers it expects reads far less (:class:`EntryBounds`).
MAX_ENTRY_BYTES = 2**30
# What one answer (a photo's observation, or a transformed variant's) may take in an entry, its photo's name aside,
# worked out from what the kit itself writes (red team 15e F1: 1 KiB refused real entries, and every xdist worker
# then called the model again). The reason is the only long part: a model's or a file's message is kept to
# REASON_CHARS characters (the adapters' _REASON_LIMIT; tests hold them to it), with the kit's wording around it
# (the exception's type, the analyzer's spec, the model's file and line). A character takes at most 12 bytes
# of JSON: an astral one as two \uXXXX escapes ("\ud83d\ude00"); repr's "\U000e0000" is 11 once its backslash
# is escaped. The rest of a row (outcome, faces, label, gender, confidence, box, age, a variant's transform)
# takes about 150 bytes; ROW_BYTES leaves room for long labels.
REASON_CHARS = 500
REASON_WORDING_CHARS = 1_500
JSON_BYTES_PER_CHAR = 12
ROW_BYTES = 2_048
ANSWER_BYTES = JSON_BYTES_PER_CHAR * (REASON_CHARS + REASON_WORDING_CHARS) + ROW_BYTES  # 26,048
# JSON values in a row, counted outside strings (a ',', ':', '[' or '{' before each): about 25.
ANSWER_VALUES = 64
# What the rest of an entry may take: the envelope, the variants note, an analyzer's description.
BASE_BYTES = 2**20
BASE_VALUES = 16_384
_KEY_BYTES = 4096  # the key is 32 bytes
_REFUSED_KEYS: set[Path] = set()
_FOLDER = Path(".conformance_cache") / "observations"
_SEAL = "hmac-sha256"  # format 2's seal, a field of the entry's JSON
_SEAL_LINE = 65  # format 3: the seal's 64 hex digits and a newline, before the entry's JSON
_HEX_SEAL = re.compile(rb"[0-9a-f]{64}\n")
_CHUNK = 2**20  # what checking the seal of an entry the kit did not seal costs in memory
_SWITCH = "sealed-bytes-since"  # beside the key: when this machine's cache moved to format 3 (ns; 0: it began there)
_SWITCH_BYTES = 64
_MISMATCH = "does not match its seal (edited, damaged, or sealed on another machine)"


@dataclass(frozen=True)
class Entry:
    """Observations read from a verified cache entry (``path`` relative to the project, as reports name it)."""

    observations: list[Observation]
    variants: list[Variant] | None
    variants_note: str
    path: str


@dataclass(frozen=True)
class EntryBounds:
    """The most an entry of ``answers`` answers may hold: ``size`` bytes and ``values`` JSON values.

    Parsed, JSON takes far more memory than its bytes (64 MiB of ``{},`` took 1.7 GB, a 1 GiB string
    3.1 GB: red team 15d F4), so both are bounded, from the run's own data and the kit's own caps (the
    longest answer it writes: see ANSWER_BYTES): what a hostile or damaged entry can cost is then bounded
    by what the run's largest real entry could take (``benchmarks/shared_entry_memory.py``).
    """

    size: int
    values: int
    answers: int

    @classmethod
    def of(cls, answers: int, longest_name: int = 0) -> EntryBounds:
        """For ``answers`` answers (photos and variants) whose photo names are at most ``longest_name`` characters:
        each name is written twice at most (a variant's), six bytes a character at most (``\\uXXXX``)."""
        size = BASE_BYTES + answers * (ANSWER_BYTES + 12 * longest_name)
        return cls(min(size, MAX_ENTRY_BYTES), BASE_VALUES + answers * ANSWER_VALUES, answers)

    @classmethod
    def of_run(cls, photos: Sequence[Photo], variants: int = 0) -> EntryBounds:
        """For a run over ``photos`` with ``variants`` planned transformed variants."""
        return cls.of(len(photos) + variants, max((len(p.id) for p in photos), default=0))


class EntryRefused(ValueError):
    """An entry not parsed: ``problem`` says why, as a notice puts it after the entry's name ("it ...")."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


class _Unsealed(EntryRefused):
    """An entry whose seal does not verify over its bytes (or that changed while it was read): nothing parsed."""


def parse_entry(text: str, bounds: EntryBounds | None) -> Any:
    """``json.loads(text)`` for an entry within ``bounds``, or :class:`EntryRefused`.

    Refused: an entry that holds more JSON values than the bounds allow (counted before parsing by
    :func:`json_values`), one that nests deeper than Python's recursion limit, one that is not JSON, and
    one that does not fit in the memory left.
    """
    if bounds is not None:
        values = json_values(text)
        if values > bounds.values:
            raise EntryRefused(
                f"holds up to {values:,} JSON values, over the {bounds.values:,} the kit reads for "
                f"{bounds.answers:,} answers"
            )
    try:
        return json.loads(text)
    except MemoryError:
        raise EntryRefused("is too large to parse in the memory left") from None
    except RecursionError:
        raise EntryRefused("nests deeper than the kit parses") from None
    except ValueError:
        raise EntryRefused("cannot be read (damaged)") from None


# A JSON string: its quotes and what is between them, escapes included (possessive: no backtracking, whatever
# its length).
_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)


def json_values(text: str) -> int:
    """At least the number of JSON values (object keys included) in ``text``, counted without parsing it.

    Every value but the first follows a ``,``, ``:``, ``[`` or ``{`` outside a string; those inside
    strings (a kept error message quoting a CSV row, red team 15e F1) are not counted. Text that is
    not JSON (an unterminated string) is counted whole, so never less than what it holds.

    >>> json_values('{"a":[1,2],"b":"x,y:[{"}')
    7
    """
    outside = _STRING.sub("", text)  # in C: a copy of at most the text's size, gone on return
    return 1 + sum(outside.count(mark) for mark in ",:[{")


def key_path() -> Path:
    """Where the sealing key is kept: the user's cache folder, outside every project's cache folder."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "conformance" / "cache.key"


def _read_key(path: Path) -> bytes:
    """The key file's bytes: a regular file only (a pipe there would hang every run), at most a few KiB."""
    try:
        return read_regular(path, limit=_KEY_BYTES)
    except (NotRegularFile, FileTooLarge) as exc:
        if path not in _REFUSED_KEYS:  # said once per process: load and store both ask for the key
            _REFUSED_KEYS.add(path)
            notice = (
                f"conformance: the observation cache is off: its key {path} {read_problem(exc, 'a cache key')}; "
                "delete it (a new key is made on the next run)"
            )
            sys.stderr.write(printable(notice) + "\n")
        raise


def _secret() -> bytes | None:
    """The sealing key, made on first use; None when it can be neither read nor made (no cache then).

    The first time this kit finds the key, it also marks when this machine's cache moved to sealing
    bytes (:func:`switch_path`): a key made now has sealed no entry of the earlier format.
    """
    path = key_path()
    try:
        secret = _read_key(path)
        if len(secret) >= 32:
            _mark_switch(time.time_ns())
            return secret
    except (NotRegularFile, FileTooLarge):
        return None
    except OSError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fresh = secrets.token_bytes(32)
        # Created exclusively and owner-only: another process that raced us keeps its key, we read it.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            handle.write(fresh)
        _mark_switch(0)
        return fresh
    except FileExistsError:
        try:
            secret = _read_key(path)
        except OSError:
            return None
        return secret if len(secret) >= 32 else None
    except OSError:
        return None


def switch_path() -> Path:
    """Where the time this machine's cache moved to sealing bytes is kept: beside the key, outside every project."""
    return key_path().parent / _SWITCH


def _mark_switch(since: int) -> None:
    """Keep ``since`` (ns) as the switch to format 3, unless a switch is kept already (the first one stays)."""
    try:
        handle = os.open(switch_path(), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return  # kept already; or not writable, and then no entry of format 2 is read (_switched says 0)
    with os.fdopen(handle, "w", encoding="ascii") as out:
        out.write(str(since))


def _switched() -> int:
    """When this machine's cache moved to format 3 (ns since the epoch); 0, so no entry of format 2 is read,
    when that cannot be told."""
    try:
        return int(read_regular(switch_path(), limit=_SWITCH_BYTES).decode("ascii"))
    except (OSError, ValueError):
        return 0


def _seal(secret: bytes, body: dict[str, Any]) -> str:
    """Format 2's seal: over the canonical JSON of the entry's parsed content."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _seal_bytes(secret: bytes, data: bytes) -> bytes:
    """Format 3's seal: over the bytes after the seal's line, as written."""
    return hmac.new(secret, data, hashlib.sha256).hexdigest().encode("ascii")


def _path(root: Path, key: str) -> Path:
    return root / _FOLDER / f"{key}.json"


def _face(face: Face | None) -> dict[str, Any] | None:
    if face is None:
        return None
    return {
        "label": face.label,
        "gender": face.gender,
        "confidence": face.confidence,
        "box": None if face.box is None else list(face.box),
        "age": face.age,
    }


def _observation(record: Observation) -> list[Any]:
    return [record.photo, record.outcome, record.faces, record.reason, _face(record.face)]


def _read_observation(row: list[Any]) -> Observation:
    from ..observation import Face, Observation

    photo, outcome, faces, reason, face = row
    return Observation(
        photo=photo,
        outcome=outcome,
        faces=faces,
        reason=reason,
        face=None
        if face is None
        else Face(
            label=face["label"],
            gender=face["gender"],
            confidence=face["confidence"],
            box=None if face["box"] is None else (face["box"][0], face["box"][1], face["box"][2], face["box"][3]),
            age=face["age"],
        ),
    )


def store(
    root: Path,
    key: str,
    observations: list[Observation],
    variants: list[Variant] | None,
    note: str,
) -> Path | None:
    """Seal and write the observations under ``key`` (atomically); None when there is no key to seal with.

    The entry is its seal's line (:data:`FORMAT` 3), then its JSON in ASCII: the seal covers those bytes
    exactly, so a reader checks it before parsing anything. Written to a temporary file and renamed into
    place: a reader sees the whole entry or the one before, and a writer killed half way leaves a
    temporary file no reader opens.
    """
    from .._atomic import write_atomic

    secret = _secret()
    if secret is None:
        return None
    body = {
        "format": FORMAT,
        "key": key,
        "observations": [_observation(o) for o in observations],
        "variants": None
        if variants is None
        else [[v.photo, v.transform, _observation(v.observation)] for v in variants],
        "variants_note": note,
    }
    text = json.dumps(body, separators=(",", ":"))  # ASCII (ensure_ascii): its characters are its bytes
    path = _path(root, key)
    write_atomic(path, _seal_bytes(secret, text.encode("ascii")).decode("ascii") + "\n" + text)
    return path


def load(root: Path, key: str, bounds: EntryBounds | None = None) -> Entry | None:
    """The observations sealed under ``key``, or None: none stored, or an entry that does not verify.

    An entry that exists but does not verify (edited, cut, damaged, sealed with another key, written
    by another version of the kit, or of the earlier format and made since the switch), or that is over
    ``bounds`` (the run's answers: :class:`EntryBounds`), is ignored with a one-line notice on stderr;
    the caller works the answers out again and stores them anew. An entry of the earlier format that
    verifies is rewritten in the current one (kept as it was if that cannot be written).
    """
    from ..observation import Variant

    path = _path(root, key)
    shown = (_FOLDER / path.name).as_posix()
    secret = _secret()
    if secret is None:
        return None
    try:
        # Never a pipe or a device; never without bound, in bytes or in what parsing them costs.
        document, legacy = _document(path, secret, bounds)
    except FileNotFoundError:
        return None
    except _Unsealed:
        _ignored(shown, f"its content {_MISMATCH}")
        return None
    except EntryRefused as exc:
        _ignored(shown, f"it {exc.problem}")
        return None
    except MemoryError:
        _ignored(shown, "it is too large to parse in the memory left")
        return None
    except OSError as exc:
        _ignored(shown, f"it {read_problem(exc, 'a cache entry')}")
        return None
    problem = "it cannot be read"
    try:
        seal = document.pop("seal", None) if legacy else {}
        if document.get("format") != (LEGACY_FORMAT if legacy else FORMAT) or not isinstance(seal, dict):
            problem = "it was written by another version of the kit"
        elif document.get("key") != key:
            problem = "it was made for other evidence"
        elif legacy and (
            seal.get("kind") != _SEAL or not hmac.compare_digest(str(seal.get("value")), _seal(secret, document))
        ):
            problem = f"its content {_MISMATCH}"
        else:
            observations = [_read_observation(row) for row in document["observations"]]
            variants = (
                None
                if document["variants"] is None
                else [
                    Variant(photo, transform, _read_observation(row)) for photo, transform, row in document["variants"]
                ]
            )
            note = str(document["variants_note"])
            if legacy:
                # Sealed anew over its bytes: the next run checks it before parsing. The cache only speeds a
                # run up: if it cannot be written, the entry stays as it was, and is read the same way again.
                with suppress(OSError):
                    store(root, key, observations, variants, note)
            return Entry(observations, variants, note, shown)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        problem = "it cannot be read (damaged)"
    _ignored(shown, problem)
    return None


def _document(path: Path, secret: bytes, bounds: EntryBounds | None) -> tuple[Any, bool]:
    """The parsed entry at ``path`` and whether it is of the earlier format (its seal still to check).

    An entry of the current format is parsed only once its seal verifies; raises :class:`EntryRefused`
    (and what :func:`~conformance._files.open_regular` raises, :class:`FileTooLarge`) otherwise.
    """
    limit = MAX_ENTRY_BYTES if bounds is None else bounds.size
    with open_regular(path) as handle:
        info = os.fstat(handle.fileno())
        head = handle.read(_SEAL_LINE)
        if head[:1] == b"{":
            text = _legacy_text(path, handle, info, limit)
            return parse_entry(text, bounds), True
        if info.st_size > limit + _SEAL_LINE:
            raise FileTooLarge(path, info.st_size, limit + _SEAL_LINE)
        body = _verified_body(path, handle, head, secret, limit)
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise EntryRefused("cannot be read (damaged)") from None
    del body  # gone before parsing: the text and what is parsed from it are the peak
    return parse_entry(text, bounds), False


def _verified_body(path: Path, handle: BinaryIO, head: bytes, secret: bytes, limit: int) -> bytes:
    """The bytes after the seal's line ``head``, once the seal verifies over them; :class:`EntryRefused` otherwise.

    Checked twice: first a chunk at a time, keeping nothing, so that an entry the kit did not seal costs
    a chunk of memory and the time to read it; then over the bytes kept for parsing, so that bytes
    changed between the two reads are never parsed.
    """
    if not _HEX_SEAL.fullmatch(head):
        raise _Unsealed(_MISMATCH)
    seal, mac, read = head[:-1], hmac.new(secret, digestmod=hashlib.sha256), 0
    while chunk := handle.read(_CHUNK):
        read += len(chunk)
        if read > limit:  # it grew since its size was checked
            raise FileTooLarge(path, read + _SEAL_LINE, limit + _SEAL_LINE)
        mac.update(chunk)
    del chunk
    if not hmac.compare_digest(mac.hexdigest().encode("ascii"), seal):
        raise _Unsealed(_MISMATCH)
    handle.seek(_SEAL_LINE)
    body = handle.read(read + 1)  # what was hashed, and a byte to see it grew: never a buffer of the whole bound
    if len(body) > read or not hmac.compare_digest(_seal_bytes(secret, body), seal):
        raise _Unsealed(_MISMATCH)
    return body


def _legacy_text(path: Path, handle: BinaryIO, info: os.stat_result, limit: int) -> str:
    """The text of an entry of the earlier format (2), read from ``handle`` within ``limit`` bytes, when it was
    made before this machine's switch to format 3; :class:`EntryRefused`, nothing read, when it was made since.

    Its seal covers its parsed content, so it can be checked only once parsed: parsed as it always was,
    within the run's bounds. Its inode's change time is set by the system at every write, rename, or
    change of its times, and a checkout or an unpacked archive gets the time it was made: a planted entry
    cannot look older than the switch, which is kept outside the project (:func:`switch_path`).
    """
    if info.st_size > limit:
        raise FileTooLarge(path, info.st_size, limit)
    since = _switched()
    # (On Windows, st_ctime is the file's creation time: set when it is made, a copy or an unpacked one too.)
    if info.st_ctime_ns >= since:
        when = (
            "and this machine's cache key was made by a kit of the current one"
            if since == 0
            else "and was written after this machine's cache moved to the current one, on "
            + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(since / 1e9))
        )
        raise EntryRefused(
            f"is in the kit's earlier format {when}, so it is not read (that format is parsed before its seal "
            "can be checked)"
        )
    handle.seek(0)
    data = handle.read(info.st_size + 1)  # its size and a byte to see it grew: never a buffer of the whole bound
    if len(data) > info.st_size:
        raise _Unsealed(_MISMATCH)  # it grew while it was read
    if os.fstat(handle.fileno()).st_ctime_ns != info.st_ctime_ns:
        raise _Unsealed(_MISMATCH)  # changed while it was read
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise EntryRefused("cannot be read (damaged)") from None


def _ignored(shown: str, problem: str) -> None:
    """Say on stderr that the entry ``shown`` is not used, and why; the caller works the answers out again."""
    notice = f"conformance: ignored the cache entry {shown}: {problem}; the answers are worked out again"
    sys.stderr.write(printable(notice) + "\n")
