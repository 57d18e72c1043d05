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
import hashlib
import os
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .._untrusted import CHOICES, shown, shown_list
from ..errors import ManifestError
from ..identity import (
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
from ..images import BATCH, ImageChecker
from .folder import _Folder, _image_workers, _take_checks
from .manifest import _DERIVED_COLUMNS, _check_header, _Problems, _read_manifest, _read_rows

if TYPE_CHECKING:
    from ..images import _Batch

__all__ = ["REQUIRED_COLUMNS", "Dataset", "Photo", "group_labels", "load_dataset", "normalise_photo_id"]

REQUIRED_COLUMNS = ("photo", "subject", "gender_identity", "trans")
# A face-matching manifest names each photo's role; gender identity is then optional.
MATCHING_COLUMNS = ("photo", "subject", "role")
ROLES = ("gallery", "probe")


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


# The longest value a column may give a group: group names head every table of every report.
GROUP_NAME_LIMIT = 100


def _parse_box(text: str) -> tuple[float, float, float, float]:
    parts = [float(p) for p in text.replace(";", ",").split(",")]
    if len(parts) != 4 or not all(0.0 <= p <= 1.0 for p in parts) or parts[2] <= 0 or parts[3] <= 0:
        raise ValueError(text)
    return (parts[0], parts[1], parts[2], parts[3])


def _one(strings: dict[str, str], value: str) -> str:
    """The one copy of ``value`` kept in ``strings`` (itself, the first time it is seen)."""
    return strings.setdefault(value, value)


def _trans_problem(written: str) -> str:
    """Why a ``trans`` cell the kit does not read is refused, and the way out (the caller names the row)."""
    if is_missing_marker(written):
        # As for gender_identity: pandas' "nan" is an empty cell, not a typo of "no" (rt14d F8).
        return (
            f"trans {shown(written)} is not an answer but a missing-value marker (as pandas or a spreadsheet "
            "writes an empty cell): leave the cell blank (unknown) if the person's trans status is not known, "
            "or write their answer (yes or no)"
        )
    try:
        float(written)
    except ValueError:
        pass
    else:
        # pandas writes a column of 1 and 0 with a gap in it as floats (1.0, 0.0); a number is not guessed at.
        return (
            f"trans {shown(written)} is a number, as a spreadsheet or pandas writes a column of 1 and 0 that has "
            "empty cells (1.0, 0.0): write yes, no or unknown (or 1 or 0), or leave the cell blank (unknown)"
        )
    return (
        f"trans {shown(written)} is not yes, no or unknown (y/n, true/false and 1/0 are read too; "
        "blank, n/a or prefer not to say mean unknown); correct the row"
    )


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
            if not trans:
                problems.add(row_number, _trans_problem(written))
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
