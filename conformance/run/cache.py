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
- an entry is **sealed**: an HMAC-SHA256 over its canonical content, with a key kept outside the
  cache folder (``$XDG_CACHE_HOME/conformance/cache.key``, else ``~/.cache/conformance/cache.key``,
  made on first use, readable by its owner only). Someone who can write the project's folder (a
  committed ``.conformance_cache``, a shared CI workspace, a vendor shipping its project) cannot
  forge an entry without that key; a damaged or edited entry, or one sealed on another machine, does
  not verify. It does not protect against someone who can read the key (the same user account);
- an entry holds observations only: where the answers came from (simulated, emulated, the endpoint,
  the recording's sessions) is always read again from the recording by the adapter, never from here;
- an entry that does not verify is ignored, with a one-line notice, and the answers are worked out
  again from the recording (and stored anew);
- an entry is read within bounds sized from the run (:class:`EntryBounds`: its bytes, and the JSON
  values in them counted outside strings before parsing), the most the kit itself writes for the run's
  answers, so a real entry is always read, and a damaged or planted one costs at most about twice the
  bound's bytes (red team 15d F4, 15e F1 and F4; ``benchmarks/shared_entry_memory.py``).

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import FileTooLarge, NotRegularFile, read_problem, read_regular
from .._source import source_digest  # moved to a leaf: adapters key their entries with it
from .._text import printable

if TYPE_CHECKING:
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
    "read_entry",
    "source_digest",
    "store",
]

FORMAT = 2  # 1: unsealed, and held the analyzer's provenance (never read again)
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
_SEAL = "hmac-sha256"


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


def read_entry(path: Path, bounds: EntryBounds | None) -> Any:
    """The JSON document in the entry at ``path``, read within ``bounds`` (None: :data:`MAX_ENTRY_BYTES` only).

    Raises what :func:`~conformance._files.read_regular` raises, and :class:`EntryRefused` as
    :func:`parse_entry` does.
    """
    data = read_regular(path, limit=MAX_ENTRY_BYTES if bounds is None else bounds.size)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise EntryRefused("cannot be read (damaged)") from None
    except MemoryError:
        raise EntryRefused("is too large to parse in the memory left") from None
    del data  # gone before parsing: the text and what is parsed from it are the peak, not three copies
    return parse_entry(text, bounds)


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
    """The sealing key, made on first use; None when it can be neither read nor made (no cache then)."""
    path = key_path()
    try:
        secret = _read_key(path)
        if len(secret) >= 32:
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
        return fresh
    except FileExistsError:
        try:
            secret = _read_key(path)
        except OSError:
            return None
        return secret if len(secret) >= 32 else None
    except OSError:
        return None


def _seal(secret: bytes, body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


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
    """Seal and write the observations under ``key`` (atomically); None when there is no key to seal with."""
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
    # Through JSON first: the seal is over what a reader will parse (tuples become lists).
    body = json.loads(json.dumps(body))
    path = _path(root, key)
    write_atomic(
        path, json.dumps({**body, "seal": {"kind": _SEAL, "value": _seal(secret, body)}}, separators=(",", ":"))
    )
    return path


def load(root: Path, key: str, bounds: EntryBounds | None = None) -> Entry | None:
    """The observations sealed under ``key``, or None: none stored, or an entry that does not verify.

    An entry that exists but does not verify (edited, damaged, sealed with another key, or written
    by an older kit), or that is over ``bounds`` (the run's answers: :class:`EntryBounds`), is ignored
    with a one-line notice on stderr; the caller works the answers out again and stores them anew.
    """
    from ..observation import Variant

    path = _path(root, key)
    shown = (_FOLDER / path.name).as_posix()
    try:
        # Never a pipe or a device; never without bound, in bytes or in what parsing them costs.
        document = read_entry(path, bounds)
    except FileNotFoundError:
        return None
    except EntryRefused as exc:
        _ignored(shown, f"it {exc.problem}")
        return None
    except OSError as exc:
        _ignored(shown, f"it {read_problem(exc, 'a cache entry')}")
        return None
    secret = _secret()
    if secret is None:
        return None
    problem = "it cannot be read"
    try:
        seal = document.pop("seal", None)
        if document.get("format") != FORMAT or not isinstance(seal, dict):
            problem = "it was written by another version of the kit"
        elif document.get("key") != key:
            problem = "it was made for other evidence"
        elif seal.get("kind") != _SEAL or not hmac.compare_digest(str(seal.get("value")), _seal(secret, document)):
            problem = "its content does not match its seal (edited, damaged, or sealed on another machine)"
        else:
            observations = [_read_observation(row) for row in document["observations"]]
            variants = (
                None
                if document["variants"] is None
                else [
                    Variant(photo, transform, _read_observation(row)) for photo, transform, row in document["variants"]
                ]
            )
            return Entry(observations, variants, str(document["variants_note"]), shown)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        problem = "it cannot be read (damaged)"
    _ignored(shown, problem)
    return None


def _ignored(shown: str, problem: str) -> None:
    """Say on stderr that the entry ``shown`` is not used, and why; the caller works the answers out again."""
    notice = f"conformance: ignored the cache entry {shown}: {problem}; the answers are worked out again"
    sys.stderr.write(printable(notice) + "\n")
