"""Datasets: a manifest (CSV or JSONL) naming photos, subjects and self-described identities.

Required columns: ``photo`` (path relative to the manifest's folder), ``subject``,
``gender_identity`` (self-described, free text; blank, ``prefer not to say``... mean undisclosed: see
:mod:`conformance.identity`) and ``trans`` (``yes`` / ``no`` / ``unknown``).
Any other column (skin type, age band, source set, ...) is kept and can be used as a grouping.
An optional ``box`` column (``left,top,width,height`` as fractions of the image, Rekognition's
convention) says which face in the photo is the subject's when there are several.

Every problem is refused with the row and the way out; nothing is guessed.
"""

from __future__ import annotations

import collections
import csv
import hashlib
import io
import json
import os
import posixpath
import stat
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._files import NotRegularFile, open_regular, read_regular, size_text
from ._paths import tried
from ._untrusted import BAD_JSON, CHOICES, json_problem, shown, shown_list
from .errors import ManifestError
from .identity import (
    UNDISCLOSED,
    Reading,
    UnmappedIdentity,
    check_identity_map,
    default_group,
    is_missing_marker,
    normalise_trans,
    read_identity,
    resolve_trans,
)
from .images import BATCH, ImageChecker, check_image_file, refusing_bombs

if TYPE_CHECKING:
    from .images import _Batch

__all__ = ["REQUIRED_COLUMNS", "Dataset", "Photo", "group_labels", "load_dataset", "normalise_photo_id"]

REQUIRED_COLUMNS = ("photo", "subject", "gender_identity", "trans")
# A face-matching manifest names each photo's role; gender identity is then optional.
MATCHING_COLUMNS = ("photo", "subject", "role")
ROLES = ("gallery", "probe")
_DERIVED_COLUMNS = ("group", "identity")  # groupings computed from the required columns
_MAX_LISTED = 5


@dataclass(frozen=True, slots=True)  # slots: a million photos take 0.2 GB less
class Photo:
    """One photo of a manifest, with its subject's self-described identity.

    ``id`` is the path as the manifest writes it (POSIX separators); ``row`` is the manifest's
    line number (CSV, counting the header as line 1) or line number (JSONL).
    """

    id: str
    path: Path
    subject: str
    gender_identity: str
    identity: str
    trans: str
    row: int
    digest: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    box: tuple[float, float, float, float] | None = None
    format: str = ""  # Pillow's name for the image format: JPEG, PNG, GIF, ...
    role: str = ""  # "gallery" or "probe" in a face-matching manifest, else empty

    @property
    def group(self) -> str:
        """The default group: ``cis``, ``trans``, ``nonbinary``, ``unknown`` or ``undisclosed``."""
        return default_group(self.identity, self.trans)


@dataclass(frozen=True)
class Dataset:
    """A validated manifest: its photos, the columns usable as groups and a content hash.

    ``content_hash`` is a SHA-256 over the manifest's bytes and every image's digest, so a
    report names exactly the data it was computed on.
    """

    name: str
    manifest: Path
    photos: tuple[Photo, ...]
    columns: tuple[str, ...]
    content_hash: str

    @property
    def root(self) -> Path:
        return self.manifest.parent

    def __len__(self) -> int:
        return len(self.photos)

    def __iter__(self) -> Iterator[Photo]:
        return iter(self.photos)

    def photo(self, photo_id: str) -> Photo:
        """The photo with this manifest path; KeyError if the manifest has none."""
        return self._by_id[photo_id]

    def __contains__(self, photo_id: object) -> bool:
        return photo_id in self._by_id

    def photo_index(self) -> Mapping[str, Photo]:
        """Every photo by its manifest path (``index.get(id)``: one lookup for a reader of many ids)."""
        return self._by_id

    @property
    def _by_id(self) -> dict[str, Photo]:
        cached: dict[str, Photo] | None = self.__dict__.get("_index")
        if cached is None:
            cached = {p.id: p for p in self.photos}
            object.__setattr__(self, "_index", cached)
        return cached

    @property
    def subjects(self) -> int:
        return len({p.subject for p in self.photos})

    @property
    def is_matching(self) -> bool:
        """A face-matching dataset: its manifest gives each photo a role (gallery or probe)."""
        return any(p.role for p in self.photos)

    def role(self, role: str) -> tuple[Photo, ...]:
        return tuple(p for p in self.photos if p.role == role)

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "manifest": str(self.manifest),
            "photos": len(self.photos),
            "subjects": self.subjects,
            "columns": list(self.columns),
            "content_hash": self.content_hash,
            "undisclosed": self.undisclosed(),
        }

    def undisclosed(self) -> dict[str, int]:
        """Photos and people with no self-described gender identity: in every photo count, in no misgendering figure."""
        photos = [p for p in self.photos if p.identity == UNDISCLOSED]
        return {"photos": len(photos), "subjects": len({p.subject for p in photos})}


def normalise_photo_id(text: str) -> str:
    r"""Photo ids compare as POSIX paths: ``./img\a.png`` and ``img/a.png`` are the same photo.

    >>> normalise_photo_id("./img\\a.png")
    'img/a.png'
    """
    path = posixpath.normpath(text.replace("\\", "/"))
    if path.isascii():
        return path
    import unicodedata

    # "José" typed (NFC) and as macOS writes names (NFD) look identical and are one photo (rt14c F14).
    return unicodedata.normalize("NFC", path)


def group_labels(dataset: Dataset, by: Sequence[str] | None = None) -> list[str]:
    """The group of each photo, in manifest order.

    With ``by`` empty or None, the default groups (cis / trans / nonbinary / unknown / undisclosed). Otherwise
    the values of the named columns, joined with `` & `` for intersections (``V & woman``). The
    derived columns ``group`` (the default grouping) and ``identity`` may be named too.
    """
    columns = list(by or ())
    if not columns:
        return [p.group for p in dataset.photos]
    usable = set(dataset.columns) | set(_DERIVED_COLUMNS) | {"trans", "gender_identity", "subject"}
    unknown = [c for c in columns if c not in usable]
    if unknown:
        raise ManifestError(
            f"{dataset.manifest}: cannot group by {shown_list(unknown)}: no such column; "
            f"columns available: {shown_list(sorted(usable), most=CHOICES, quoted=False)}"
        )

    def value(photo: Photo, column: str) -> str:
        if column == "group":
            return photo.group
        if column == "identity":
            return photo.identity
        if column in ("trans", "gender_identity", "subject"):
            return str(getattr(photo, column))
        return photo.attributes.get(column, "") or "(blank)"

    for column in columns:
        if column in _DERIVED_COLUMNS or column == "trans":
            continue  # the kit's own short names
        longest = max(dataset.photos, key=lambda p: len(value(p, column)), default=None)
        if longest is not None and len(value(longest, column)) > GROUP_NAME_LIMIT:
            raise ManifestError(
                f"{dataset.manifest} row {longest.row}: cannot group by {shown(column)}: its value "
                f"{shown(value(longest, column))} would name a group, and a group name holds at most "
                f"{GROUP_NAME_LIMIT} characters (it heads every table of every report); shorten the values of "
                f"{shown(column)} or group by another column"
            )
    if len(columns) == 1:
        return [value(p, columns[0]) for p in dataset.photos]
    joined: dict[tuple[str, ...], str] = {}  # one "V & woman" for all its photos, not a new string for each
    labels = []
    for photo in dataset.photos:
        key = tuple(value(photo, c) for c in columns)
        name = joined.get(key)
        if name is None:
            name = joined[key] = " & ".join(key)
        labels.append(name)
    return labels


class _Problems:
    """Collects every problem in a manifest so the user fixes them in one pass."""

    def __init__(self, manifest: Path) -> None:
        self.manifest = manifest
        self.items: list[tuple[int, str]] = []

    def add(self, row: int, message: str) -> None:
        self.items.append((row, message))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        self.items.sort(key=lambda item: item[0])  # images are checked in batches: their problems come later
        row, message = self.items[0]
        more = len(self.items) - 1
        tail = ""
        if more:
            rows = ", ".join(str(r) for r, _ in self.items[1 : 1 + _MAX_LISTED])
            tail = f" (and {more} more problem{'s' if more > 1 else ''}, at rows {rows}{', ...' if more > _MAX_LISTED else ''})"
        raise ManifestError(f"{self.manifest} row {row}: {message}{tail}")


# The longest value a manifest cell may hold: csv's own field limit (csv.field_size_limit()), for JSONL too.
CELL_LIMIT = 131_072
# The longest value a column may give a group: group names head every table of every report.
GROUP_NAME_LIMIT = 100
Rows = Iterable[tuple[int, dict[str, str]]]


# The longest line of a JSONL manifest, its line end included: a row of a few dozen cells of at most 131,072
# characters each fits; one line of gigabytes is refused before the file is read whole (it was a MemoryError).
JSONL_LINE_LIMIT = 16 * 2**20
_SCAN_BYTES = 2**20


def _read_manifest(manifest: Path) -> bytes:
    try:
        if manifest.suffix.lower() in (".jsonl", ".ndjson"):
            _check_line_lengths(manifest, JSONL_LINE_LIMIT)
        return read_regular(manifest)
    except FileNotFoundError:
        raise ManifestError(
            f"manifest not found: {tried(manifest)}; pass the path of a CSV or JSONL manifest"
        ) from None
    except NotRegularFile as exc:
        raise ManifestError(
            f"manifest {manifest} is {exc.kind}, not a regular file: the kit reads only regular files; "
            "save the manifest to a file and pass its path"
        ) from None
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {manifest}: {exc.strerror or exc}") from None


def _check_line_lengths(manifest: Path, limit: int) -> None:
    """Refuse a manifest with a line over ``limit`` bytes, naming the line, reading at most ``limit`` bytes more.

    Lines end at ``\n``, ``\r\n`` or ``\r``, and are numbered as the rows' messages number them. A file
    no longer than ``limit`` holds no such line: it is not scanned.
    """
    with open_regular(manifest) as handle:
        if os.fstat(handle.fileno()).st_size <= limit:
            return
        number, since, after_cr = 1, 0, False  # the line being read, its bytes so far, whether a chunk ended in \r
        while chunk := handle.read(min(_SCAN_BYTES, limit)):  # a line inside one chunk is within the limit
            ends = [i for i in (chunk.find(b"\n"), chunk.find(b"\r")) if i >= 0]
            if since + (min(ends) + 1 if ends else len(chunk)) > limit:
                raise ManifestError(
                    f"{manifest} line {number}: the line is longer than {size_text(limit)}, the most the kit reads "
                    "for one line of a JSONL manifest; write one JSON object per photo, each on its own line"
                )
            if ends:
                since = len(chunk) - 1 - max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
                number += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
                number -= after_cr and chunk.startswith(b"\n")  # a \r\n cut between two chunks ends one line
            else:
                since += len(chunk)
            after_cr = chunk.endswith(b"\r")


def _lines(raw: bytes) -> io.TextIOWrapper:
    """The text's lines, read lazily (the whole text as one ``str`` costs up to 4 bytes a character more).

    Lines end at ``\n``, ``\r\n`` or ``\r`` and keep their ending, as csv wants; a JSON line's
    string may hold U+2028 and other characters ``str.splitlines`` would break it at.
    """
    return io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", newline="")


def _read_rows(manifest: Path, raw: bytes) -> tuple[list[str], Rows]:
    """The header and the rows (line number, column -> value); CSV rows are read as they are used."""
    try:
        raw.decode("utf-8-sig")  # all of it now, so the message can say where; the rows decode it again lazily
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ManifestError(
            f"{manifest} line {line}: not UTF-8 (byte {exc.start}); save the manifest as UTF-8"
        ) from None
    suffix = manifest.suffix.lower()
    if suffix == ".csv":
        reader = csv.reader(_lines(raw))

        def next_row() -> list[str] | None:
            try:
                return next(reader)
            except StopIteration:
                return None
            except csv.Error as exc:  # a field over csv's size limit, a NUL byte, ...
                more = ""
                if "field limit" in str(exc):
                    more = f": a manifest cell holds at most {CELL_LIMIT:,} characters (CSV and JSONL alike); shorten the value"
                raise ManifestError(f"{manifest} line {reader.line_num}: not readable as CSV ({exc}){more}") from None

        first = next_row()
        if first is None:
            raise ManifestError(f"{manifest}: the manifest is empty; it needs a header row and one row per photo")
        header = [h.strip() for h in first]

        def rows() -> Iterator[tuple[int, dict[str, str]]]:
            while (values := next_row()) is not None:
                stripped = [v.strip() for v in values]
                if not any(stripped):
                    continue
                line = reader.line_num
                if len(values) != len(header):
                    raise ManifestError(
                        f"{manifest} row {line}: {len(values)} fields where the header has {len(header)}; "
                        "quote values that contain commas"
                    )
                yield line, dict(zip(header, stripped, strict=True))

        return header, rows()
    if suffix in (".jsonl", ".ndjson"):
        header_seen: dict[str, None] = {}
        parsed: list[tuple[int, dict[str, str]]] = []
        for number, line_text in enumerate(_lines(raw), start=1):
            if not line_text.strip():
                continue
            try:
                record = json.loads(line_text, object_pairs_hook=_unique_keys)
            except _RepeatedKey as exc:
                raise ManifestError(
                    f"{manifest} line {number}: key {shown(exc.key)} appears twice in the object; the second would "
                    "hide the first: keep one"
                ) from None
            except BAD_JSON as exc:
                raise ManifestError(
                    f"{manifest} line {number}: not valid JSON ({json_problem(exc)}); one JSON object per line"
                ) from None
            if not isinstance(record, dict):
                raise ManifestError(f"{manifest} line {number}: expected a JSON object, found {type(record).__name__}")
            row = {}
            for key, value in record.items():
                text = _cell(value)
                if len(text) > CELL_LIMIT or len(key) > CELL_LIMIT:
                    what = f"the value of {shown(key)}" if len(text) > CELL_LIMIT else "a key"
                    size = len(text) if len(text) > CELL_LIMIT else len(key)
                    raise ManifestError(
                        f"{manifest} line {number}: {what} is {size:,} characters long; a manifest cell holds at most "
                        f"{CELL_LIMIT:,} characters (CSV and JSONL alike); shorten it"
                    )
                row[str(key)] = text
            header_seen.update(dict.fromkeys(row))
            parsed.append((number, row))
        return list(header_seen), parsed
    raise ManifestError(f"{manifest}: unknown manifest format {suffix or '(no suffix)'!r}; use .csv or .jsonl")


class _RepeatedKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook that refuses a key given twice (json.loads keeps the last, silently)."""
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return record


def _column_key(name: str) -> str:
    """A column name as compared for near misses: lower case, spaces and hyphens as underscores."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def _check_header(manifest: Path, header: Sequence[str], required: Sequence[str], *, csv_file: bool) -> None:
    """Refuse a header the kit would misread: a lone column that is a whole semicolon-separated header,
    a column named twice, a column under a name the kit gives its own meaning, a required column
    written in capitals or with spaces."""
    if csv_file and any(c not in header for c in required):
        for separator, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            pieces = {_column_key(piece) for cell in header for piece in cell.split(separator)}
            if any(separator in cell for cell in header) and (len(header) == 1 or set(required) <= pieces):
                what = (
                    f"has one column {shown(header[0])}"
                    if len(header) == 1
                    else f"holds its columns inside {shown(next(cell for cell in header if separator in cell))}"
                )
                raise ManifestError(
                    f"{manifest}: the header {what}: the file looks {name}-separated; "
                    "save it comma-separated (in a spreadsheet: CSV, comma delimited, UTF-8)"
                )
    positions: dict[str, list[int]] = {}
    for index, name in enumerate(header, start=1):
        positions.setdefault(name, []).append(index)
    for name, where in positions.items():
        if len(where) > 1:
            raise ManifestError(
                f"{manifest}: column {shown(name)} appears {len(where)} times in the header (columns "
                f"{', '.join(map(str, where))}); the last would hide the others: give each column its own name"
            )
    for name in _DERIVED_COLUMNS:
        if name in positions:
            raise ManifestError(
                f"{manifest}: column {shown(name)} has the name of a grouping the kit derives "
                f"({'the default groups cis / trans / nonbinary / unknown / undisclosed' if name == 'group' else 'woman / man / nonbinary / undisclosed, from gender_identity'}), "
                f"which would hide it; rename the column (e.g. {shown(name + '_label')}) and group by that name"
            )
    missing = [c for c in required if c not in positions]
    for column in missing:
        near = [h for h in header if _column_key(h) == column]
        if near:
            raise ManifestError(
                f"{manifest}: missing required column {column}: the header has {shown(near[0])}; the kit's column "
                f"names are lower case with underscores: rename it to {shown(column)}"
            )


def _cell(value: object) -> str:
    """A JSONL value as the manifest's text: lists (a box) join with commas, as in CSV."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value).strip()


def _parse_box(text: str) -> tuple[float, float, float, float]:
    parts = [float(p) for p in text.replace(";", ",").split(",")]
    if len(parts) != 4 or not all(0.0 <= p <= 1.0 for p in parts) or parts[2] <= 0 or parts[3] <= 0:
        raise ValueError(text)
    return (parts[0], parts[1], parts[2], parts[3])


def _one(strings: dict[str, str], value: str) -> str:
    """The one copy of ``value`` kept in ``strings`` (itself, the first time it is seen)."""
    return strings.setdefault(value, value)


def _is_link(path: Path) -> bool:
    try:
        return path.is_symlink()
    except OSError:  # a name too long (Python 3.10 raises here): the image check names it
        return False


def _same_image_two_people(photos: Sequence[Photo], problems: _Problems) -> None:
    """A problem for every image whose bytes (SHA-256) another row already lists under another subject id.

    The same image cannot show two people: listed under many ids, one person's photos would count as many
    independent people (ten people, each photo under 20 ids, read as 200 and passed where the same ten once
    each were inconclusive: red team 13c). The same image under one id twice only adds a photo to that person,
    which the intervals read as clustered, so it is left alone.
    """
    first: dict[str, Photo] = {}
    for photo in photos:
        if not photo.digest:
            continue
        seen = first.setdefault(photo.digest, photo)
        if seen.subject != photo.subject:
            problems.add(
                photo.row,
                f"photo {shown(photo.id)} (subject {shown(photo.subject)}) is byte-identical to photo "
                f"{shown(seen.id)} at row {seen.row} (subject {shown(seen.subject)}): one image cannot show two "
                "people; if they are the same person give both rows one subject id, otherwise replace the "
                "wrong image",
            )


if sys.version_info >= (3, 12) or os.name != "posix":

    def _posix_path(text: str) -> Path:
        """``Path(text)``: from Python 3.12 on, a Path parses its text only when it is used."""
        return Path(text)

else:

    class _UnparsedPath(type(Path())):  # type: ignore[misc]
        """A PosixPath made from its text alone, split into parts the first time anything needs them.

        Python 3.10 and 3.11 split every Path into a list of its parts when it is made, and intern
        each name: for a million photos about 300 bytes and 3 microseconds each, for paths a run
        mostly only opens (``open`` and ``os.fspath`` read the text). 3.12 does this itself. The
        parts are pathlib's own: the first attribute it finds missing is worked out by its own
        parser, and every other method and derived path (``parent``, ``/``) is the plain class's.
        """

        __slots__ = ()

        def __getattr__(self, name: str) -> Any:
            if name not in ("_drv", "_root", "_parts"):
                raise AttributeError(name)  # pathlib's caches (_hash, _pparts, ...): it computes them itself
            parsed = dict(zip(("_drv", "_root", "_parts"), self._parse_args((self._str,)), strict=True))
            for key, value in parsed.items():
                object.__setattr__(self, key, value)
            return parsed[name]

        def __repr__(self) -> str:
            return f"PosixPath({self._str!r})"

        def __reduce__(self) -> tuple[Any, ...]:
            return (type(Path()), (self._str,))  # unpickled as a plain PosixPath

    def _posix_path(text: str) -> Path:
        """A Path of ``text`` (absolute and normalised, as the loader builds it), parsed when first used."""
        path: Path = object.__new__(_UnparsedPath)
        path._str = text  # type: ignore[attr-defined]
        return path


def _row_of(entry: int | Photo) -> int:
    return entry if isinstance(entry, int) else entry.row


# Distinct combinations of the extra columns' values shared between photos; past this many, each photo
# gets its own mapping (a column of free text makes every row distinct, and sharing would only add keys).
_SHARED_ATTRIBUTES = 4096


def _attributes(
    shared: dict[tuple[str, ...], dict[str, str]],
    strings: dict[str, str],
    columns: tuple[str, ...],
    row: Mapping[str, str],
) -> dict[str, str]:
    """A photo's extra columns: one mapping for every photo with the same values (a dict per photo costs
    about 200 bytes; a million photos with a few skin types and age bands need a few dozen)."""
    values = tuple([row.get(c, "") for c in columns])
    found = shared.get(values)
    if found is None:
        found = {c: _one(strings, v) for c, v in zip(columns, values, strict=True)}
        if len(shared) < _SHARED_ATTRIBUTES:
            shared[values] = found
    return found


def _image_workers(requested: int | None, rows: int) -> int:
    """How many worker processes check the images: as requested, else one per CPU (at most 8) for 2,000
    photos or more, where starting them (about 0.2 s each) pays back."""
    if requested is not None:
        return max(0, requested)
    if rows < 2_000:
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))  # the CPUs this process may use, not the machine's
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    return 0 if cpus < 2 else min(cpus, 8)


def _take_checks(
    checker: ImageChecker, entry: tuple[_Batch, int], photos: list[Photo], problems: _Problems, folder: _Folder
) -> None:
    """Give a batch's photos their image's digest and format, or record why the image cannot be used."""
    batch, first = entry
    checks = checker.results(batch)
    batch_photos = photos[first : first + len(checks)]
    # The Photos are not handed out yet: filling in their two pending fields keeps one object per photo.
    for photo, image_format, digest in zip(batch_photos, checks.formats, checks.digests, strict=True):
        if image_format:
            object.__setattr__(photo, "digest", digest)
            object.__setattr__(photo, "format", image_format)
    for index, check in checks.others.items():  # problems, and links (followed only inside the folder)
        photo = batch_photos[index]
        if check.link:
            real, trouble = folder.place(photo.id)
            if real is None:
                problems.add(photo.row, trouble)
                continue
            object.__setattr__(photo, "path", real)
            with refusing_bombs():
                check = check_image_file(real)
        if check.missing and not photo.id.isascii():
            # The file's name on disk in another Unicode normalisation (NFD, as macOS writes it): the same name.
            twin = _unicode_twin(folder, photo.id)
            if twin is not None:
                object.__setattr__(photo, "path", twin)
                with refusing_bombs():
                    check = check_image_file(twin)
        if check.problem:
            problems.add(photo.row, f"image {shown(photo.id)} {check.problem}")
        else:
            object.__setattr__(photo, "digest", check.digest)
            object.__setattr__(photo, "format", check.format)


def _unicode_twin(folder: _Folder, photo_id: str) -> Path | None:
    """The photo's file under the NFD (or NFC) spelling of its name, if that one exists in the folder."""
    import unicodedata

    for form in ("NFD", "NFC"):
        other = unicodedata.normalize(form, photo_id)
        if other == photo_id:
            continue
        real, _ = folder.place(other)
        if real is not None and real.is_file():
            return real
    return None


class _Folder:
    """Resolves photo paths inside a dataset's (resolved) folder, as ``(root / photo).resolve()`` does.

    ``resolve()`` lstat()s every component of the path from ``/`` for every photo. Here each
    directory is resolved once, by ``resolve()``, and only the file's own name is checked: if it
    is not a link, the directory's real path joined with it is the photo's real path. Anything
    else (a link, ``..``, a name the system refuses, a missing file, a non-POSIX system) is left
    to ``resolve()`` itself, so errors and refusals are exactly its.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._fast = os.name == "posix"
        # Directory as written in the manifest -> its real path (and that as text ending in "/"), or
        # None if it is not inside the folder.
        self._directories: dict[str, tuple[Path, str] | None] = {}

    def locate(self, photo_id: str) -> Path | None:
        """The photo's real path; None if it lies outside the folder (absolute, ``..``, a link out of it).

        Raises what ``Path.resolve()`` raises for a name the system cannot take.
        """
        if self._fast:
            found = self._locate_quickly(photo_id)
            if found is not None:
                return found
        relative = Path(photo_id)
        image_path = (self.root / relative).resolve()
        if relative.is_absolute() or not image_path.is_relative_to(self.root):
            return None
        return image_path

    def _locate_quickly(self, photo_id: str) -> Path | None:
        directory, _, name = photo_id.rpartition("/")
        if name in ("", ".", "..") or photo_id.startswith(("/", "../")):
            return None
        parent = self._directory(directory)
        if parent is None:
            return None
        try:
            is_link = stat.S_ISLNK(os.lstat(parent[1] + name).st_mode)
        except (OSError, ValueError):  # missing, a NUL byte, a lone surrogate: resolve() reports it
            return None
        return None if is_link else parent[0] / name

    def candidate(self, photo_id: str) -> tuple[Path, str] | None:
        """The photo's real path (and as text) if its name is not a link, without a system call: None to use
        :meth:`place`. The text is built apart from the Path: ``str(path)`` would keep a copy in every Path.

        Only for a plain name (ASCII, no NUL, not too long) in a folder inside the dataset's. Whether
        the name itself is a link is left to the image check, which opens it with ``O_NOFOLLOW``: a
        link there comes back as such (:attr:`ImageCheck.link`) and the row goes through
        :meth:`place`. A million ``lstat`` calls here cost as much as reading the images.
        """
        if not self._fast or not photo_id.isascii() or "\0" in photo_id or len(photo_id) > 1024:
            return None
        directory, _, name = photo_id.rpartition("/")
        if name in ("", ".", "..") or len(name) > 255 or photo_id.startswith(("/", "../")):
            return None
        parent = self._directory(directory)
        if parent is None:
            return None
        text = parent[1] + name
        return _posix_path(text), text  # one string: the Path's text is the one sent to the image check

    def place(self, photo_id: str) -> tuple[Path | None, str]:
        """The photo's real path, or None and the problem (the message after the row) that refuses it."""
        try:
            image_path = self.locate(photo_id)
        except (ValueError, UnicodeError, OSError):  # a NUL byte, a lone surrogate, a name too long
            return None, f"photo {shown(photo_id)} is not a usable file name; correct the row"
        except RuntimeError:  # Path.resolve() on a symlink loop (Python 3.10 to 3.12)
            return None, f"photo {shown(photo_id)} is a symlink loop; point it at the image or drop the row"
        if image_path is not None and _is_link(image_path):  # Python 3.13 resolves a loop to itself
            return None, f"photo {shown(photo_id)} is a symlink loop; point it at the image or drop the row"
        if image_path is None:
            return None, (
                f"photo {shown(photo_id)} is outside the manifest's folder {self.root}; move the image under it "
                "(paths are relative to the manifest, links out of it are refused)"
            )
        return image_path, ""

    def _directory(self, directory: str) -> tuple[Path, str] | None:
        if directory in self._directories:
            return self._directories[directory]
        found: tuple[Path, str] | None = None
        try:
            real = (self.root / directory).resolve() if directory else self.root
        except (OSError, ValueError, RuntimeError):  # RuntimeError: a link loop (Python 3.11)
            real = None
        if real is not None and real.is_relative_to(self.root):
            text = str(real)
            found = (real, text if text.endswith("/") else text + "/")
        self._directories[directory] = found
        return found


def _conflicting_descriptions(photos: Sequence[Photo], problems: _Problems) -> None:
    """One subject described two ways (a cis man in one row, a trans woman in another): the rows, named (rt14c F8).

    A person's self-description is one; counted under each, they would sit in two groups at once. As
    within one row, the kit does not choose between a person's two answers.
    """
    described: dict[str, dict[tuple[str, str], list[int]]] = {}
    for photo in photos:
        described.setdefault(photo.subject, {}).setdefault((photo.identity, photo.trans), []).append(photo.row)
    for subject, ways in described.items():
        if len(ways) < 2:
            continue
        # A row that leaves trans status unknown contradicts no other; two identities, or yes and no, do.
        if len({identity for identity, _ in ways}) < 2 and len({t for _, t in ways} - {"unknown"}) < 2:
            continue
        rows = sorted((rows[0], identity, trans) for (identity, trans), rows in ways.items())
        listed = "; ".join(
            f"row {row}: {identity}, trans {trans}"
            + (f" (and {len(ways[(identity, trans)]) - 1} more rows)" if len(ways[(identity, trans)]) > 1 else "")
            for row, identity, trans in rows
        )
        problems.add(
            rows[1][0],
            f"subject {shown(subject)} is described in {len(ways)} ways ({listed}): a person has one self-description; "
            "give every row of this subject the same gender_identity and trans, or give different people different "
            "subject ids",
        )


def load_dataset(
    manifest: str | Path,
    *,
    identity_map: Mapping[str, str] | None = None,
    name: str | None = None,
    comparisons: bool = False,
    workers: int | None = None,
) -> Dataset:
    """Load and validate a manifest.

    Parameters
    ----------
    manifest
        Path of a ``.csv`` or ``.jsonl`` manifest; photo paths are relative to its folder.
    identity_map
        Extra self-described labels and the identity each means (``woman``, ``man``, ``nonbinary`` or
        ``undisclosed``), from policy ``[tool.conformance.identity]``; they add to the defaults, never overturn them
        (:mod:`conformance.identity` gives the default map and its rules).
    name
        Name for reports; the manifest's folder name by default.
    comparisons
        For an analyzer that compares every photo 1:1 (``embeddings``, ``scores``): like a
        face-matching manifest, only ``photo`` and ``subject`` are required, no ``role``.
    workers
        Worker processes that read and decode the images (every pixel of each, once, so that an
        image the loader accepts is one every adapter can read). None (the default): one per CPU,
        at most 8, for manifests of 2,000 photos or more, else none; 0: all in this process.

    Raises
    ------
    ManifestError
        Naming the row and the way out, for: a missing required column, an empty manifest, an
        unmapped identity or trans value, an identity that contradicts the ``trans`` column (``trans
        man`` with ``trans = no``), a duplicate photo, a photo outside the manifest's folder,
        a missing or unreadable image, an image in a format the kit does not open (it opens JPEG,
        PNG, GIF, BMP, TIFF and WebP) or whose pixels cannot be decoded, a file that is not a
        regular file (a pipe, a device), a column named twice or by a name the kit derives
        (``group``, ``identity``), a JSONL value over 131,072 characters.
    """
    path = Path(manifest).expanduser().absolute()
    if identity_map:
        try:
            check_identity_map(identity_map)  # a map built in code: the policy file's one check (rt14e F3)
        except ValueError as exc:
            raise ManifestError(f"{path}: identity_map: {exc}") from None
    raw = _read_manifest(path)
    header, rows = _read_rows(path, raw)
    if not header and not rows:
        raise ManifestError(f"{path}: the manifest is empty; it needs one JSON object per photo")
    matching = "role" in header or comparisons
    required = (
        ("photo", "subject")
        if comparisons and "role" not in header
        else MATCHING_COLUMNS
        if matching
        else REQUIRED_COLUMNS
    )
    _check_header(path, header, required, csv_file=path.suffix.lower() == ".csv")
    missing = [c for c in required if c not in header]
    if missing:
        # rt14d F7: a column of recorded sex or perceived gender renamed to gender_identity loads silently (F and
        # M read as woman and man) and the ground truth misgenders trans people before any analyzer runs.
        truth = (
            "; gender_identity must hold each person's own description of their gender identity (woman, trans man, "
            "non-binary, prefer not to say, ...), never a recorded sex, a perceived gender or an analyzer's label: "
            "do not rename such a column to gender_identity"
            if "gender_identity" in missing
            else ""
        )
        raise ManifestError(
            f"{path}: missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(found: {shown_list(header, most=CHOICES, quoted=False) or 'none'}); a manifest needs {', '.join(REQUIRED_COLUMNS)} "
            f"(or, for face matching, {', '.join(MATCHING_COLUMNS)}){truth}"
        )

    root = path.parent.resolve()
    folder = _Folder(root)
    problems = _Problems(path)
    # Photo id -> its row while the row is checked, then its Photo: the dataset's index once all is well.
    seen: dict[str, int | Photo] = {}
    identities: dict[str, Reading | str] = {}  # memoised per distinct label: its reading, or what is wrong
    known_trans: dict[str, str] = {}  # each distinct trans value as written -> yes, no or unknown
    photos: list[Photo] = []
    hasher = hashlib.sha256(raw)
    # One string object per distinct value (a subject's id, a label, a skin type), however many rows repeat it,
    # and one attributes mapping per distinct combination of the other columns' values.
    strings: dict[str, str] = {}
    shared: dict[tuple[str, ...], dict[str, str]] = {}
    # The images are checked in batches, by worker processes for a large manifest, while later rows are read.
    checker = ImageChecker(_image_workers(workers, raw.count(b"\n")), follow_links=False)
    batch: list[str] = []
    batches: collections.deque[tuple[_Batch, int]] = collections.deque()  # (batch, index of its first photo)
    extra_columns = tuple(c for c in header if c not in (*REQUIRED_COLUMNS, "box", "role"))

    with checker:
        for row_number, row in rows:
            photo_id = normalise_photo_id(row["photo"]) if row.get("photo") else ""
            subject = row.get("subject", "")
            if not photo_id:
                problems.add(row_number, "empty 'photo'; give the image path relative to the manifest")
                continue
            if not subject:
                problems.add(
                    row_number, f"photo {shown(photo_id)} has an empty 'subject'; give every photo its person's id"
                )
                continue
            if photo_id in seen:
                problems.add(
                    row_number,
                    f"photo {shown(photo_id)} is listed again (first at row {_row_of(seen[photo_id])}); list each photo once",
                )
                continue
            seen[photo_id] = row_number
            role = row.get("role", "").strip().lower()
            if "role" in header and role not in ROLES:
                problems.add(
                    row_number, f"role {shown(row.get('role'))} of photo {shown(photo_id)} is not gallery or probe"
                )
                continue

            label = row.get("gender_identity", "")
            if label not in identities:
                try:
                    identities[label] = read_identity(label, identity_map)
                except UnmappedIdentity as exc:
                    identities[label] = str(exc)
                except ValueError as exc:
                    raise ManifestError(f"{path} row {row_number}: {exc}") from None
            # Face matching does not need gender identity: a blank one there means "not stated".
            reading = identities[label] if label or not matching else Reading("")
            if isinstance(reading, str):
                problems.add(row_number, reading)
                continue
            identity = reading.identity
            written = row.get("trans", "") or ""
            trans = known_trans.get(written)
            if trans is None:
                try:
                    trans = known_trans[written] = normalise_trans(written)
                except KeyError:
                    trans = ""
            if not trans and is_missing_marker(written):
                # As for gender_identity: pandas' "nan" is an empty cell, not a typo of "no" (rt14d F8).
                problems.add(
                    row_number,
                    f"trans {shown(written)} is not an answer but a missing-value marker (as pandas or a spreadsheet "
                    "writes an empty cell): leave the cell blank (unknown) if the person's trans status is not known, "
                    "or write their answer (yes or no)",
                )
                continue
            if not trans:
                problems.add(
                    row_number,
                    f"trans {shown(row.get('trans'))} is not yes, no or unknown (y/n, true/false and 1/0 are read too; "
                    "blank, n/a or prefer not to say mean unknown); correct the row",
                )
                continue
            try:
                trans = resolve_trans(reading, label, trans)
            except ValueError as exc:
                problems.add(row_number, f"photo {shown(photo_id)}: {exc}")
                continue
            box = None
            if row.get("box"):
                try:
                    box = _parse_box(row["box"])
                except ValueError:
                    problems.add(
                        row_number, f"box {shown(row['box'])} is not 'left,top,width,height' as fractions of the image"
                    )
                    continue

            found = folder.candidate(photo_id)
            if found is None:
                placed, trouble = folder.place(photo_id)
                if placed is None:
                    problems.add(row_number, trouble)
                    continue
                found = (placed, str(placed))
            image_path, image_text = found
            photos.append(
                Photo(
                    id=photo_id,
                    path=image_path,
                    subject=strings.setdefault(subject, subject),
                    gender_identity=strings.setdefault(label, label),
                    identity=identity,
                    trans=trans,
                    row=row_number,
                    digest="",  # digest and format are set when the image's check comes back (_take_checks)
                    attributes=_attributes(shared, strings, extra_columns, row),
                    box=box,
                    format="",
                    role=role,
                )
            )
            seen[photo_id] = photos[-1]
            batch.append(image_text)
            if len(batch) == BATCH:
                while checker.full:  # every worker holds what it may: take the oldest answers first
                    _take_checks(checker, batches.popleft(), photos, problems, folder)
                batches.append((checker.submit(batch), len(photos) - len(batch)))
                batch = []
        if batch:
            while checker.full:
                _take_checks(checker, batches.popleft(), photos, problems, folder)
            batches.append((checker.submit(batch), len(photos) - len(batch)))
        while batches:
            _take_checks(checker, batches.popleft(), photos, problems, folder)
    if not seen and not problems.items:
        raise ManifestError(f"{path}: the manifest has a header but no photos; add one row per photo")
    if not matching:
        _conflicting_descriptions(photos, problems)
    problems.raise_if_any()
    _same_image_two_people(photos, problems)
    problems.raise_if_any()
    for photo in photos:
        hasher.update(f"\n{photo.id}\0{photo.digest}".encode())
    dataset = Dataset(
        # The folder's real name: "data/../manifest.csv" must not name the dataset "..", its recordings'
        # folder would then be the cassette folder's parent.
        name=name or Path(os.path.normpath(path)).parent.name or path.stem,
        manifest=path,
        photos=tuple(photos),
        columns=extra_columns,
        content_hash="sha256:" + hasher.hexdigest(),
    )
    object.__setattr__(dataset, "_index", seen)  # every entry is a Photo now: the index Dataset.photo() reads
    return dataset
