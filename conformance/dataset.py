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

import csv
import hashlib
import io
import json
import os
import posixpath
import stat
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ._numbers import BAD_JSON, CHOICES, json_problem, shown, shown_list
from .errors import ManifestError
from .identity import (
    UNDISCLOSED,
    Reading,
    UnmappedIdentity,
    default_group,
    normalise_trans,
    read_identity,
    resolve_trans,
)

__all__ = ["REQUIRED_COLUMNS", "Dataset", "Photo", "group_labels", "load_dataset", "normalise_photo_id"]

REQUIRED_COLUMNS = ("photo", "subject", "gender_identity", "trans")
# A face-matching manifest names each photo's role; gender identity is then optional.
MATCHING_COLUMNS = ("photo", "subject", "role")
ROLES = ("gallery", "probe")
_DERIVED_COLUMNS = ("group", "identity")  # groupings computed from the required columns
_MAX_LISTED = 5


@dataclass(frozen=True)
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
    return posixpath.normpath(text.replace("\\", "/"))


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

    return [" & ".join(value(p, c) for c in columns) for p in dataset.photos]


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
        row, message = self.items[0]
        more = len(self.items) - 1
        tail = ""
        if more:
            rows = ", ".join(str(r) for r, _ in self.items[1 : 1 + _MAX_LISTED])
            tail = f" (and {more} more problem{'s' if more > 1 else ''}, at rows {rows}{', ...' if more > _MAX_LISTED else ''})"
        raise ManifestError(f"{self.manifest} row {row}: {message}{tail}")


def _read_rows(manifest: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    try:
        raw = manifest.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"manifest not found: {manifest}; pass the path of a CSV or JSONL manifest") from None
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {manifest}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ManifestError(
            f"{manifest} line {line}: not UTF-8 (byte {exc.start}); save the manifest as UTF-8"
        ) from None
    suffix = manifest.suffix.lower()
    if suffix == ".csv":
        reader = csv.reader(io.StringIO(text, newline=""))

        def next_row() -> list[str] | None:
            try:
                return next(reader)
            except StopIteration:
                return None
            except csv.Error as exc:  # a field over csv's size limit, a NUL byte, ...
                raise ManifestError(f"{manifest} line {reader.line_num}: not readable as CSV ({exc})") from None

        first = next_row()
        if first is None:
            raise ManifestError(f"{manifest}: the manifest is empty; it needs a header row and one row per photo")
        header = [h.strip() for h in first]
        rows: list[tuple[int, dict[str, str]]] = []
        while (values := next_row()) is not None:
            if not any(v.strip() for v in values):
                continue
            line = reader.line_num
            if len(values) != len(header):
                raise ManifestError(
                    f"{manifest} row {line}: {len(values)} fields where the header has {len(header)}; "
                    "quote values that contain commas"
                )
            rows.append((line, {h: v.strip() for h, v in zip(header, values, strict=True)}))
        return header, rows
    if suffix in (".jsonl", ".ndjson"):
        header_seen: dict[str, None] = {}
        rows = []
        for number, line_text in enumerate(text.splitlines(), start=1):
            if not line_text.strip():
                continue
            try:
                record = json.loads(line_text)
            except BAD_JSON as exc:
                raise ManifestError(
                    f"{manifest} line {number}: not valid JSON ({json_problem(exc)}); one JSON object per line"
                ) from None
            if not isinstance(record, dict):
                raise ManifestError(f"{manifest} line {number}: expected a JSON object, found {type(record).__name__}")
            row = {str(k): _cell(v) for k, v in record.items()}
            header_seen.update(dict.fromkeys(row))
            rows.append((number, row))
        return list(header_seen), rows
    raise ManifestError(f"{manifest}: unknown manifest format {suffix or '(no suffix)'!r}; use .csv or .jsonl")


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


def _image_format(data: bytes) -> tuple[str, str | None]:
    """The image's format (from its header), or a problem that makes it unusable.

    Call it under :func:`_refusing_bombs`, which turns Pillow's decompression-bomb warning into an error.
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        return "", "is empty (0 bytes)"
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format = str(image.format or "")
            image.verify()  # checks the file's structure (a truncated PNG fails here) without decoding
        return image_format, None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return "", f"is too large to open safely ({exc}); resize it"
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        detail = str(exc).split(" <_io.")[0]  # Pillow names the in-memory buffer; the photo is named already
        return "", f"is not a readable image ({type(exc).__name__}: {detail})"


@contextmanager
def _refusing_bombs() -> Iterator[None]:
    """Pillow only warns between its pixel limit and twice it: here any image that large is refused,
    from its header, before a pixel is decoded. One filter for the whole manifest, not one per image."""
    import warnings

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


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


def load_dataset(
    manifest: str | Path,
    *,
    identity_map: Mapping[str, str] | None = None,
    name: str | None = None,
    comparisons: bool = False,
) -> Dataset:
    """Load and validate a manifest.

    Parameters
    ----------
    manifest
        Path of a ``.csv`` or ``.jsonl`` manifest; photo paths are relative to its folder.
    identity_map
        Extra self-described labels and the identity each means (``woman``, ``man``, ``nonbinary`` or
        ``undisclosed``), from policy ``[tool.conformance.identity]``; they win over the defaults
        (:mod:`conformance.identity` gives the default map and its rules).
    name
        Name for reports; the manifest's folder name by default.
    comparisons
        For an analyzer that compares every photo 1:1 (``embeddings``, ``scores``): like a
        face-matching manifest, only ``photo`` and ``subject`` are required, no ``role``.

    Raises
    ------
    ManifestError
        Naming the row and the way out, for: a missing required column, an empty manifest, an
        unmapped identity or trans value, an identity that contradicts the ``trans`` column (``trans
        man`` with ``trans = no``), a duplicate photo, a photo outside the manifest's folder,
        a missing or unreadable image.
    """
    path = Path(manifest).expanduser().absolute()
    header, rows = _read_rows(path)
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
    missing = [c for c in required if c not in header]
    if missing:
        raise ManifestError(
            f"{path}: missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(found: {shown_list(header, most=CHOICES, quoted=False) or 'none'}); a manifest needs {', '.join(REQUIRED_COLUMNS)} "
            f"(or, for face matching, {', '.join(MATCHING_COLUMNS)})"
        )
    if not rows:
        raise ManifestError(f"{path}: the manifest has a header but no photos; add one row per photo")

    root = path.parent.resolve()
    folder = _Folder(root)
    problems = _Problems(path)
    seen: dict[str, int] = {}
    identities: dict[str, Reading | str] = {}  # memoised per distinct label: its reading, or what is wrong
    photos: list[Photo] = []
    hasher = hashlib.sha256(path.read_bytes())
    extra_columns = tuple(c for c in header if c not in (*REQUIRED_COLUMNS, "box", "role"))

    # One warnings filter for the whole manifest: set per image, it cost about 4 µs a photo (0.4 s at 100,000).
    with _refusing_bombs():
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
                    f"photo {shown(photo_id)} is listed again (first at row {seen[photo_id]}); list each photo once",
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
            try:
                trans = normalise_trans(row.get("trans", "") or "")
            except KeyError:
                problems.add(
                    row_number,
                    f"trans {shown(row.get('trans'))} is not yes, no or unknown (y/n, true/false and 1/0 are read too; "
                    "blank means unknown); correct the row",
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

            try:
                image_path = folder.locate(photo_id)
            except (ValueError, UnicodeError, OSError):  # a NUL byte, a lone surrogate, a name too long
                problems.add(row_number, f"photo {shown(photo_id)} is not a usable file name; correct the row")
                continue
            except RuntimeError:  # Path.resolve() on a symlink loop (Python 3.11)
                problems.add(
                    row_number, f"photo {shown(photo_id)} is a symlink loop; point it at the image or drop the row"
                )
                continue
            if image_path is None:
                problems.add(
                    row_number,
                    f"photo {shown(photo_id)} is outside the manifest's folder {root}; move the image under it "
                    "(paths are relative to the manifest, links out of it are refused)",
                )
                continue
            try:
                data = image_path.read_bytes()
            except FileNotFoundError:
                problems.add(
                    row_number,
                    f"image {shown(photo_id)} not found at {image_path}; check the path (relative to the manifest) or drop the row",
                )
                continue
            except OSError as exc:
                problems.add(row_number, f"image {shown(photo_id)} cannot be read: {exc.strerror or exc}")
                continue
            image_format, trouble = _image_format(data)
            if trouble:
                problems.add(row_number, f"image {shown(photo_id)} {trouble}; replace the file or drop the row")
                continue
            digest = hashlib.sha256(data).hexdigest()
            hasher.update(f"\n{photo_id}\0{digest}".encode())
            photos.append(
                Photo(
                    id=photo_id,
                    path=image_path,
                    subject=subject,
                    gender_identity=label,
                    identity=identity,
                    trans=trans,
                    row=row_number,
                    digest=digest,
                    attributes={c: row.get(c, "") for c in extra_columns},
                    box=box,
                    format=image_format,
                    role=role,
                )
            )
    problems.raise_if_any()
    return Dataset(
        # The folder's real name: "data/../manifest.csv" must not name the dataset "..", its recordings'
        # folder would then be the cassette folder's parent.
        name=name or Path(os.path.normpath(path)).parent.name or path.stem,
        manifest=path,
        photos=tuple(photos),
        columns=extra_columns,
        content_hash="sha256:" + hasher.hexdigest(),
    )
