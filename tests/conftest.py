"""Shared fixtures: tiny datasets of 8x8 PNGs written into ``tmp_path``."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

WritePng = Callable[..., Path]
MakeManifest = Callable[..., Path]


@pytest.fixture(scope="session", autouse=True)
def _private_cache_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The observation cache's sealing key lives in the user's cache folder: the tests' own, not the machine's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("user-cache")))
        yield


@pytest.fixture
def write_png() -> WritePng:
    """Write an 8x8 PNG of one colour at ``path`` (folders created), return the path."""

    def write(path: Path, colour: tuple[int, int, int] = (128, 128, 128)) -> Path:
        from PIL import Image
        from PIL.PngImagePlugin import PngInfo

        path.parent.mkdir(parents=True, exist_ok=True)
        # The path in a text chunk: each photo its own bytes, as the kit refuses one image under two people.
        info = PngInfo()
        info.add_text("path", str(path))
        Image.new("RGB", (8, 8), colour).save(path, format="PNG", pnginfo=info)
        return path

    return write


@pytest.fixture
def make_manifest(tmp_path: Path, write_png: WritePng) -> MakeManifest:
    """Write a manifest (``.csv`` or ``.jsonl`` by the name's suffix) and an image for each row.

    ``rows`` are mappings of column to value; for CSV the header is ``columns`` or the first
    row's keys. With ``images=True`` each row's ``photo`` gets a distinct 8x8 PNG, so each
    photo has its own digest. Returns the manifest's path.
    """

    def make(
        rows: Sequence[Mapping[str, object]],
        *,
        name: str = "manifest.csv",
        folder: Path | None = None,
        columns: Sequence[str] | None = None,
        images: bool = True,
    ) -> Path:
        root = folder or tmp_path / "data"
        root.mkdir(parents=True, exist_ok=True)
        manifest = root / name
        if manifest.suffix == ".csv":
            header = list(columns or (rows[0].keys() if rows else ()))
            with manifest.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=header)
                writer.writeheader()
                writer.writerows(rows)
        else:
            manifest.write_text("".join(json.dumps(dict(row)) + "\n" for row in rows), encoding="utf-8")
        if images:
            for index, row in enumerate(rows):
                photo = str(row.get("photo", ""))
                if photo:
                    write_png(root / photo, ((index * 37) % 256, (index * 91) % 256, 200))
        return manifest

    return make
