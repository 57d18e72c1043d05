"""The ``scores`` adapter: 1:1 comparison scores a matcher produced, ``probe,reference,score`` in a CSV.

``--analyzer scores:FILE.csv``: one row per comparison of two photos of the manifest, higher scores
more similar. A pair is genuine when both photos show the same ``subject``. An empty ``score`` (or
``nan``) is a comparison that failed (a photo without a template): it counts below every threshold,
so a failed genuine comparison is a miss. A photo of the manifest in no row took part in no
comparison: it is reported as a failure to acquire. Scores that all lie from 0 to 100 and reach 50 are
taken as a vendor's similarity scale, evaluated at 80, 90, 95 and 99 unless ``--thresholds`` says otherwise.

Options after a ``?`` (``scores:FILE.csv?higher=false&pairs=sample``):

- ``higher=true|false``: whether a higher score means more similar. ``false`` (a distance) negates
  every score, so thresholds read as negative distances; stated ``--thresholds`` are given on the
  file's own scale and negated likewise. Without it, scores whose genuine pairs rank *below* the
  impostors (AUC < 0.5) are refused: say which way they run.
- ``pairs=all|sample``: ``all`` (default) expects every ordered pair of the manifest's photos; a pair
  the file leaves out is a failed comparison of its groups (reported, and a ratio then cannot pass).
  ``sample``: the listed pairs are a designed sample, drawn without looking at scores.

Refused, naming the file and line: missing columns, a photo not in the manifest, a photo compared
with itself, a pair listed twice, a score that is not a number.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._files import open_regular
from .._paths import tried
from .._untrusted import shown
from ..errors import AdapterError
from .base import AdapterSettings, Capabilities, EvidenceFile, ScoreScale, declares, file_and_options

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..dataset import Dataset
    from ..pairwise import PairCounts

__all__ = ["COLUMNS", "ScoresComparator", "create"]

COLUMNS = ("probe", "reference", "score")


# Declared before any dataset exists (the run loads a comparator's manifest without gender columns).
@declares(lambda _: ScoresComparator.capabilities, argument_file=file_and_options)
def create(argument: str | None, *, dataset: Dataset, settings: AdapterSettings | None = None) -> ScoresComparator:
    """Entry point: ``--analyzer scores:FILE.csv[?higher=true|false&pairs=all|sample]``."""
    if not argument:
        raise AdapterError("--analyzer scores: name the CSV, e.g. scores:scores.csv (columns probe,reference,score)")
    path, options = parse_options(argument)
    return ScoresComparator(
        Path(path).expanduser(),
        dataset=dataset,
        higher=options.get("higher"),
        pairs=options.get("pairs", "all"),
    )


def parse_options(argument: str) -> tuple[str, dict[str, Any]]:
    """``FILE?higher=false&pairs=sample`` -> ``("FILE", {"higher": False, "pairs": "sample"})``, checked."""
    from urllib.parse import parse_qsl

    path, _, query = argument.partition("?")
    raw = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    unknown = sorted(set(raw) - {"higher", "pairs"})
    if unknown:
        raise AdapterError(
            f"--analyzer scores:{argument}: unknown option {', '.join(unknown)}; "
            "options: higher=true|false, pairs=all|sample"
        )
    options: dict[str, Any] = {}
    if "higher" in raw:
        value = raw["higher"].strip().lower()
        if value not in ("true", "false"):
            raise AdapterError(
                f"--analyzer scores:{argument}: higher={shown(raw['higher'])}; use higher=true (similarities) or "
                "higher=false (distances: lower is more similar)"
            )
        options["higher"] = value == "true"
    if "pairs" in raw:
        if raw["pairs"] not in ("all", "sample"):
            raise AdapterError(
                f"--analyzer scores:{argument}: pairs={shown(raw['pairs'])}; use pairs=all (every ordered pair "
                "of the manifest's photos is expected) or pairs=sample (the listed pairs are a designed sample)"
            )
        options["pairs"] = raw["pairs"]
    return path, options


class ScoresComparator:
    """The comparisons a scores file lists, validated on construction."""

    capabilities: Capabilities = Capabilities(compares=True, reads_files=True)

    def evidence_files(self) -> list[EvidenceFile]:
        """The scores file the comparisons are read from, sealed into the report."""
        return [EvidenceFile(str(self.path), "scores file")]

    def __init__(self, path: Path, *, dataset: Dataset, higher: bool | None = None, pairs: str = "all") -> None:
        import numpy as np

        from ..dataset import normalise_photo_id

        self.path = path
        self.dataset = dataset
        self.name = f"scores {path.name}"
        # None: higher is more similar, as documented, but not confirmed by the user (checked against the data).
        self.higher = higher
        self.pairs = pairs
        index = {p.id: k for k, p in enumerate(dataset.photos)}
        probes: list[int] = []
        references: list[int] = []
        scores: list[float] = []
        seen: dict[tuple[int, int], int] = {}
        try:
            handle = io.TextIOWrapper(open_regular(path), newline="", encoding="utf-8-sig")  # never a FIFO
        except FileNotFoundError:
            raise AdapterError(
                f"scores file not found: {tried(path)}; give a CSV with columns probe,reference,score"
            ) from None
        except OSError as exc:
            raise AdapterError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        with handle:
            reader = csv.reader(handle)
            try:
                header = [h.strip() for h in next(reader, [])]
                missing = [c for c in COLUMNS if c not in header]
                if missing:
                    raise AdapterError(
                        f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                        f"(found: {', '.join(header) or 'none'}); the header must name probe,reference,score"
                    )
                at = [header.index(c) for c in COLUMNS]
                for row in reader:
                    line = reader.line_num
                    if not any(cell.strip() for cell in row):
                        continue
                    if len(row) < len(header):
                        raise AdapterError(f"{path} line {line}: {len(row)} fields, the header has {len(header)}")
                    probe, reference, text = (row[k].strip() for k in at)
                    ids = []
                    for column, name in (("probe", probe), ("reference", reference)):
                        photo = normalise_photo_id(name) if name else ""
                        if photo not in index:
                            raise AdapterError(
                                f"{path} line {line}: {column} {shown(name)} is not a photo of the manifest "
                                f"{dataset.manifest}; name photos as its photo column does"
                            )
                        ids.append(index[photo])
                    if ids[0] == ids[1]:
                        raise AdapterError(
                            f"{path} line {line}: photo {shown(probe)} is compared with itself; drop the row"
                        )
                    pair = (ids[0], ids[1])
                    if pair in seen:
                        raise AdapterError(
                            f"{path} line {line}: the pair {shown(probe)}, {shown(reference)} is listed again "
                            f"(first at line {seen[pair]}); keep one score per ordered pair"
                        )
                    seen[pair] = line
                    if text == "" or text.lower() == "nan":
                        value = -math.inf  # the comparison failed: below every threshold
                    else:
                        try:
                            value = float(text)
                        except ValueError:
                            value = math.nan
                        if not math.isfinite(value):
                            raise AdapterError(
                                f"{path} line {line}: score {shown(text)} is not a finite number "
                                "(leave it empty for a comparison that failed)"
                            )
                    probes.append(ids[0])
                    references.append(ids[1])
                    scores.append(value)
            except csv.Error as exc:
                raise AdapterError(f"{path} line {reader.line_num}: not valid CSV ({exc})") from None
            except UnicodeDecodeError as exc:
                raise AdapterError(f"{path}: not UTF-8 text ({exc})") from None
        if not probes:
            raise AdapterError(f"{path}: no comparisons; add one row per pair of photos compared")
        self.probe = np.asarray(probes, dtype=np.int64)
        self.reference = np.asarray(references, dtype=np.int64)
        self.score = np.asarray(scores, dtype=np.float64)
        finite = self.score[np.isfinite(self.score)]
        # A vendor's similarity scale (Rekognition's 0-100): its own thresholds apply. Scores that stay below
        # 50 (a distance from 0 to 2, a cosine) are not on it: 80-99 would lie above every one of them.
        self.vendor_scale = bool(
            higher is not False and finite.size and finite.min() >= 0 and finite.max() <= 100 and finite.max() >= 50
        )
        if higher is False:
            self.score = -self.score  # a distance: higher negated distance is more similar; -inf stays failed
            self.score[np.isposinf(self.score)] = -np.inf
        compared = np.zeros(len(dataset.photos), dtype=bool)
        compared[self.probe] = True
        compared[self.reference] = True
        self.compared = compared
        self.failure_reasons = {
            p.id: f"in no comparison of {path.name}" for p, ok in zip(dataset.photos, compared, strict=True) if not ok
        }

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "adapter": "scores",
            "file": str(self.path),
            "version": "file",
            "comparisons": f"1:1, {self.score.size} listed",
            "orientation": "lower is more similar (scores negated)"
            if self.higher is False
            else "higher is more similar",
            "pairs": "every ordered pair expected" if self.pairs == "all" else "a designed sample of pairs",
            "simulated": False,
            "emulated": False,
        }

    @property
    def scale(self) -> ScoreScale:
        """The file's scale: stated thresholds negated for distances; the orientation stated with ``?higher=``
        (then an AUC below 0.5 is the user's to own)."""
        return ScoreScale(
            vendor_scale=self.vendor_scale,
            negated=self.higher is False,
            orientation_stated=self.higher is not None,
            source=str(self.path),
        )

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
        from ..pairwise import compare_listed

        return compare_listed(
            self.probe,
            self.reference,
            self.score,
            photo_group=photo_group,
            photo_subject=photo_subject,
            acquired=self.compared,
            groups=groups,
            subjects=subjects,
            stated=stated,
            same_group=same_group,
            pool=pool,
            pairs=self.pairs,
        )
