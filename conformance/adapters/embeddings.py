"""The ``embeddings`` adapter: any model's per-photo embeddings, compared 1:1, every photo with every other.

``--analyzer embeddings:FILE.npy`` reads an N x d array (``numpy.save``) and ``FILE.txt`` beside it,
naming the N photos of the manifest in row order, one per line. Similarity is cosine by default;
``embeddings:FILE.npy?metric=l2`` uses the negative Euclidean distance (higher is more similar either
way). A photo of the manifest that ``FILE.txt`` does not name has no template (no face found): it
fails to acquire, and takes part in every comparison as one below every threshold.

Bad files are refused with the file, line and photo: an array that is not 2-D or not numeric, a row
with a non-finite value (or all zeros, for cosine), a line count that differs from the rows, a photo
not in the manifest, a photo named twice. Both files are read as regular files only (never a pipe or a
device), and the array's header is checked before a row is read: more rows than the manifest has photos,
rows over :data:`MAX_DIMENSIONS` numbers, or a file whose size is not what its header says are refused
from the header, so a file cannot make the kit read or hold more than the dataset can use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from .._files import open_regular, read_problem, read_regular
from .._paths import tried
from .._untrusted import shown
from ..errors import AdapterError
from .base import AdapterSettings, Capabilities, EvidenceFile, ScoreScale, declares, file_and_options

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..dataset import Dataset
    from ..pairwise import PairCounts

__all__ = ["MAX_DIMENSIONS", "MAX_NAMES_BYTES", "EmbeddingsComparator", "create", "parse_argument"]

# The longest embedding the kit reads (numbers a row): over any face model's (128 to 4,096), and with at most one row
# per photo a bound on what an embeddings file can make the kit hold.
MAX_DIMENSIONS = 65_536
# The largest names file (256 MiB): a million photo paths of 250 characters.
MAX_NAMES_BYTES = 256 * 2**20


def parse_argument(argument: str | None, *, spec: str, default_metric: str = "cosine") -> tuple[str, dict[str, str]]:
    """``FILE?metric=l2&block=4096`` -> ``("FILE", {"metric": "l2", "block": "4096"})``, options checked."""
    from urllib.parse import parse_qsl

    from ..pairwise import METRICS

    if not argument:
        raise AdapterError(f"--analyzer {spec}: name the file, e.g. {spec}:embeddings.npy (or ?metric=l2)")
    path, _, query = argument.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    unknown = sorted(set(options) - {"metric", "block"})
    if unknown:
        raise AdapterError(
            f"--analyzer {spec}: unknown option {', '.join(unknown)}; options: metric=cosine|l2, block=N"
        )
    options.setdefault("metric", default_metric)
    if options["metric"] not in METRICS:
        raise AdapterError(
            f"--analyzer {spec}: metric={shown(options['metric'])}; use metric=cosine or metric=l2 (negative distance)"
        )
    if "block" in options and not (options["block"].isdigit() and 64 <= int(options["block"]) <= 65536):
        raise AdapterError(
            f"--analyzer {spec}: block={shown(options['block'])} must be a whole number from 64 to 65536"
        )
    return path, options


# Declared before any dataset exists (the run loads a comparator's manifest without gender columns).
@declares(lambda _: EmbeddingsComparator.capabilities, argument_file=file_and_options)
def create(argument: str | None, *, dataset: Dataset, settings: AdapterSettings | None = None) -> EmbeddingsComparator:
    """Entry point: ``--analyzer embeddings:FILE.npy[?metric=cosine|l2]``."""
    path, options = parse_argument(argument, spec=f"embeddings:{argument or ''}")
    npy = Path(path).expanduser()
    matrix, names = read_embeddings(npy, dataset=dataset, metric=options["metric"])
    return EmbeddingsComparator(
        dataset=dataset,
        load=lambda: (matrix, names),
        metric=options["metric"],
        block=int(options.get("block", 2048)),
        provenance={"name": f"embeddings {npy.name}", "adapter": "embeddings", "file": str(npy), "version": "file"},
    )


def read_embeddings(npy: Path, *, dataset: Dataset, metric: str) -> tuple[npt.NDArray[np.float32], list[str]]:
    """Read and validate ``FILE.npy`` and ``FILE.txt``; rows come back as float32, names as manifest ids.

    For ``cosine`` the rows come back normalised (in float64, then cast): cosine similarity ignores each
    row's scale, and float32 would not hold the squares of a row times 1e20 or 1e-25.
    """
    import numpy as np

    from ..dataset import normalise_photo_id

    names_file = npy.with_suffix(".txt")
    try:
        handle = open_regular(npy)  # never a pipe (numpy would wait on it) or a device (read without end)
    except FileNotFoundError:
        raise AdapterError(
            f"embeddings file not found: {tried(npy)}; give the path of an N x d array saved with numpy.save"
        ) from None
    except OSError as exc:
        raise AdapterError(
            f"embeddings file {npy} {read_problem(exc, 'an embeddings array')}; give the path of an N x d array "
            "saved with numpy.save"
        ) from None
    with handle:
        array = _read_array(handle, npy, photos=len(dataset))
    try:
        data = read_regular(names_file, limit=MAX_NAMES_BYTES)
    except FileNotFoundError:
        raise AdapterError(
            f"{names_file} not found: put beside {npy.name} a text file naming its {array.shape[0]} photos, "
            "one manifest photo path per line, in row order"
        ) from None
    except OSError as exc:
        raise AdapterError(
            f"names file {names_file} {read_problem(exc, 'a names file')}; put beside {npy.name} a text file "
            "naming its photos, one manifest photo path per line, in row order"
        ) from None
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise AdapterError(f"{names_file}: cannot be read as UTF-8 text ({exc})") from None
    del data
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != array.shape[0]:
        raise AdapterError(
            f"{names_file} names {len(lines)} photos but {npy.name} has {array.shape[0]} rows; one line per row, in order"
        )
    seen: dict[str, int] = {}
    names = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            raise AdapterError(f"{names_file} line {number}: empty; every line names the photo of its row")
        photo = normalise_photo_id(text)
        if photo not in dataset:
            raise AdapterError(
                f"{names_file} line {number}: photo {shown(photo)} is not in the manifest {dataset.manifest}; "
                "name photos as the manifest's photo column does, or add the photo to the manifest"
            )
        if photo in seen:
            raise AdapterError(
                f"{names_file} line {number}: photo {shown(photo)} is named again (first at line {seen[photo]}); "
                "give each photo one row"
            )
        seen[photo] = number
        names.append(photo)
    rows = np.asarray(array, dtype=np.float64)
    bad = ~np.isfinite(rows).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AdapterError(
            f"{npy} row {i} (photo {shown(names[i])}, line {i + 1} of {names_file.name}) has a non-finite value "
            f"({int(bad.sum())} such rows); leave a photo without a template out of {names_file.name} instead: "
            "it then counts as a failure to acquire"
        )
    if metric == "cosine":
        zero = ~(rows != 0).any(axis=1)
        if zero.any():
            i = int(np.flatnonzero(zero)[0])
            raise AdapterError(
                f"{npy} row {i} (photo {shown(names[i])}) is all zeros: its cosine similarity is undefined; "
                "leave the photo out (failure to acquire) or use ?metric=l2"
            )
    from ..errors import ConformanceError
    from ..pairwise import as_float32_rows

    try:
        # Cosine rows are normalised in float64 before the cast: a row times 1e20 or 1e-25 keeps its cosines.
        return as_float32_rows(rows, metric, what=str(npy), names=names), names
    except ConformanceError as exc:
        raise AdapterError(str(exc)) from None


def _read_array(handle: BinaryIO, npy: Path, *, photos: int) -> npt.NDArray[Any]:
    """The N x d array of an open ``.npy`` file, its header checked before any row is read.

    The header says how much the array holds: at most one row per photo of the manifest, at most
    :data:`MAX_DIMENSIONS` numbers a row, and the file exactly that size. So a file claiming (or holding)
    far more than the dataset can use is refused from its first bytes, not read into memory.
    """
    import numpy as np
    from numpy.lib import format as npy_format

    def unreadable(problem: object) -> AdapterError:
        return AdapterError(f"{npy}: not a readable .npy array ({problem}); save the N x d array with numpy.save")

    try:
        version = npy_format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, _, dtype = npy_format.read_array_header_2_0(handle)
        else:  # 3.0 is for non-Latin-1 field names: never a numeric array's
            raise unreadable(f".npy format version {version[0]}.{version[1]}")
    except (OSError, ValueError) as exc:
        raise unreadable(exc) from None
    if len(shape) != 2 or shape[0] == 0 or shape[1] == 0:
        raise AdapterError(f"{npy}: holds an array of shape {shape}; it must be N x d (one row per photo)")
    if not np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.complexfloating):
        raise AdapterError(f"{npy}: holds {dtype} values; embeddings must be real numbers")
    rows, columns = int(shape[0]), int(shape[1])
    if rows > photos:
        raise AdapterError(
            f"{npy}: holds {rows:,} rows but the manifest has {photos:,} photos; one row per photo at most "
            "(leave out photos without a template)"
        )
    if columns > MAX_DIMENSIONS:
        raise AdapterError(
            f"{npy}: rows of {columns:,} numbers, over the {MAX_DIMENSIONS:,} the kit reads for an embedding; "
            "save the embeddings themselves (one vector per photo)"
        )
    expected = handle.tell() + rows * columns * dtype.itemsize
    size = os.fstat(handle.fileno()).st_size
    if size != expected:
        raise AdapterError(
            f"{npy}: is {size:,} bytes but its header's {rows:,} x {columns:,} array of {dtype} needs {expected:,} "
            f"({'cut short' if size < expected else 'more data after the array'}); save it again with numpy.save"
        )
    handle.seek(0)
    try:
        return np.load(handle, allow_pickle=False)  # type: ignore[no-any-return]
    except (OSError, ValueError) as exc:
        raise unreadable(exc) from None


class EmbeddingsComparator:
    """Every photo against every other by cosine or negative L2 distance, blockwise (``conformance.pairwise``).

    ``load()`` returns the embeddings (one row per photo that has one) and the photos' manifest ids.
    """

    capabilities: Capabilities = Capabilities(compares=True, reads_files=True)

    def evidence_files(self) -> list[EvidenceFile]:
        """The vectors, and the photos' names beside them (FILE.txt): both decide which photo is which."""
        file = self._provenance.get("file")
        if not file:
            return []
        npy = Path(str(file))
        return [
            EvidenceFile(str(npy), "embeddings file"),
            EvidenceFile(str(npy.with_suffix(".txt")), "embeddings file"),
        ]

    def __init__(
        self,
        *,
        dataset: Dataset,
        load: Callable[[], tuple[npt.NDArray[np.float32], list[str]]],
        metric: str,
        provenance: Mapping[str, Any],
        block: int = 2048,
        failure_reasons: Mapping[str, str] | None = None,
    ) -> None:
        self.dataset = dataset
        self._load = load
        self.metric = metric
        self.block = block
        self.name = str(provenance.get("name", "embeddings"))
        self._provenance = dict(provenance)
        self.failure_reasons: dict[str, str] = dict(failure_reasons or {})

    @property
    def scale(self) -> ScoreScale:
        """Cosine similarity or negative L2 distance, computed here: higher is always more similar."""
        return ScoreScale(metric=self.metric)

    def describe(self) -> dict[str, Any]:
        return {
            **self._provenance,
            "metric": "cosine similarity" if self.metric == "cosine" else "negative Euclidean distance",
            "comparisons": "1:1, every photo against every other",
            "simulated": bool(self._provenance.get("simulated", False)),
            "emulated": False,
        }

    def comparisons(
        self,
        *,
        photo_group: npt.NDArray[np.int64],
        photo_subject: npt.NDArray[np.int64],
        groups: Sequence[str],
        subjects: Sequence[str],
        targets: Sequence[float],
        stated: Sequence[float],
        same_group: bool,
        pool: str,
        dask: bool | str,
    ) -> PairCounts:
        import numpy as np

        from ..pairwise import compare_all_pairs

        matrix, names = self._load()
        row_of = {name: k for k, name in enumerate(names)}
        photos = [p.id for p in self.dataset.photos]
        acquired = np.asarray([p in row_of for p in photos], dtype=bool)
        for p in photos:
            if p not in row_of:
                self.failure_reasons.setdefault(p, "no embedding for this photo (not named in the embeddings' list)")
        order = [row_of[p] for p in photos if p in row_of]
        return compare_all_pairs(
            matrix[order] if order else np.zeros((0, max(1, matrix.shape[1] if matrix.ndim == 2 else 1)), np.float32),
            photo_group=photo_group,
            photo_subject=photo_subject,
            acquired=acquired,
            groups=groups,
            subjects=subjects,
            metric=self.metric,
            targets=targets,
            stated=stated,
            same_group=same_group,
            pool=pool,
            block=self.block,
            dask=dask,
        )
