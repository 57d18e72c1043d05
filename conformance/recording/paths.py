"""Where a dataset's recordings live: a folder per dataset, named so two datasets never share one.

Recordings used to live at ``<cassette dir>/<dataset folder name>/``, so two datasets whose folders
had the same name (``photos``, in two projects or two CI jobs) recorded into one file. The folder is
now ``<dataset folder name>-<tag>``, the tag being the first 8 hex digits of the SHA-256 of the
dataset folder's path relative to the cassette folder: it differs between two datasets in different
places, and stays the same when the project (cassettes and datasets together) is checked out
elsewhere. Manifests in one folder share its images, and so one recording (requests are keyed by
image digest: a subset's manifest replays from the full one's recording). A dataset moved relative
to its cassette folder gets another tag; the message of a replay that finds no recording names the
recordings of datasets with the same folder name, so one can be renamed into place.

The old layout still replays (``legacy_recording_path``): a replay reads ``<dataset folder name>/``
when the new folder does not exist, and a recording run carries this dataset's answers over from it
into the new folder (see the adapter). The demo's shipped recordings replay so.
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..dataset import Dataset

__all__ = ["dataset_tag", "legacy_recording_path", "recording_path", "same_name_recordings"]


def dataset_tag(dataset: Dataset, cassette_dir: str | Path) -> str:
    """8 hex digits naming the place of ``dataset``'s folder relative to the cassette folder."""
    # The folder as the dataset's name reads it: "data/../manifest.csv" is in the folder above "data".
    folder = os.path.dirname(os.path.normpath(os.path.abspath(dataset.manifest)))
    try:
        where = os.path.relpath(folder, os.path.abspath(cassette_dir))
    except ValueError:  # another drive (Windows): no relative path, the absolute one it is
        where = folder
    return hashlib.sha256(Path(where).as_posix().encode("utf-8", "surrogatepass")).hexdigest()[:8]


def recording_path(dataset: Dataset, cassette_dir: str | Path, filename: str) -> Path:
    """``<cassette dir>/<dataset folder name>-<tag>/<filename>``."""
    return Path(cassette_dir) / f"{dataset.name}-{dataset_tag(dataset, cassette_dir)}" / filename


def legacy_recording_path(dataset: Dataset, cassette_dir: str | Path, filename: str) -> Path:
    """Where recordings lived before the tag: ``<cassette dir>/<dataset folder name>/<filename>``."""
    return Path(cassette_dir) / dataset.name / filename


def same_name_recordings(dataset: Dataset, cassette_dir: str | Path, filename: str) -> list[Path]:
    """Recordings of other datasets with the same folder name (for a message naming them)."""
    folder = Path(cassette_dir)
    if not folder.is_dir():
        return []
    own = recording_path(dataset, cassette_dir, filename)
    pattern = f"{glob.escape(dataset.name)}-{'?' * 8}/{glob.escape(filename)}"
    found = sorted(p for p in folder.glob(pattern) if p != own and p.is_file())
    return found[:5]
