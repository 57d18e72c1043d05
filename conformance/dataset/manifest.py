"""Reading a manifest's rows: the file (a regular file; a JSONL line at most 16 MiB), CSV or JSONL rows, the header.

Split out of :mod:`conformance.dataset` (issue 18): what the manifest's bytes say, before any row is
read as a photo. Problems are collected with :class:`_Problems`, so the user fixes them in one pass.
"""

from __future__ import annotations

import collections
import csv
import io
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .._files import NotRegularFile, open_regular, read_regular, size_text
from .._lines import LINE_LIMIT, LineTooLong, numbered_lines, wide_encoding
from .._paths import tried
from .._untrusted import BAD_JSON, json_problem, shown
from ..errors import ManifestError

_DERIVED_COLUMNS = ("group", "identity")  # groupings computed from the required columns
_MAX_LISTED = 5


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
Rows = Iterable[tuple[int, dict[str, str]]]


# The longest line of a JSONL manifest, its line end included: a row of a few dozen cells of at most 131,072
# characters each fits; one line of gigabytes is refused before the file is read whole (it was a MemoryError).
JSONL_LINE_LIMIT = LINE_LIMIT


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

    Lines end at ``\n``, ``\r\n`` or ``\r``, their end included, and are numbered as the rows' messages
    number them: as a predictions file's lines are (:func:`conformance._lines.numbered_lines`). A file no
    longer than ``limit`` holds no such line: it is not scanned.
    """
    with open_regular(manifest) as handle:
        if os.fstat(handle.fileno()).st_size <= limit:
            return
        try:
            collections.deque(numbered_lines(handle, limit), maxlen=0)  # read through, nothing kept
        except LineTooLong as exc:
            raise ManifestError(
                f"{manifest} line {exc.number}: the line is longer than {size_text(limit)}, the most the kit reads "
                "for one line of a JSONL manifest; write one JSON object per photo, each on its own line"
            ) from None


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
    _refuse_nul(manifest, raw)
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


def _refuse_nul(manifest: Path, raw: bytes) -> None:
    """Refuse a manifest holding a NUL byte, naming its line: no name, label or box holds one, and a JSONL
    manifest refuses it (JSON does), so a CSV does too (red team 15e F6). A file of ASCII text saved as UTF-16
    without a byte-order mark is valid UTF-8 full of NULs: said as such, not as a header of odd column names."""
    nul = raw.find(b"\x00")
    if nul < 0:
        return
    wide = wide_encoding(raw[:256])  # one rule for the manifest and the predictions file
    if wide is not None:
        raise ManifestError(f"{manifest}: not UTF-8 (it looks like {wide[1]}); save the manifest as UTF-8")
    # Lines end at \n, \r\n or a lone \r, as the rows' messages number them.
    line = raw.count(b"\n", 0, nul) + raw.count(b"\r", 0, nul) - raw.count(b"\r\n", 0, nul) + 1
    raise ManifestError(
        f"{manifest} line {line}: a NUL byte (byte {nul}), which no manifest value holds; remove it "
        "(the file may be damaged, or saved in another encoding: save it as UTF-8)"
    )


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
