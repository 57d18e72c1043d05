"""Write a SYNTHETIC 1:1 audit: one manifest and the embeddings of two simulated face models.

    python scripts/make_two_models.py OUT        # OUT/manifest.csv, OUT/images/, OUT/model_{a,b}.{npy,txt}

300 simulated people in three groups of a `skin_type` column (`I-II`, `III-IV`, `V-VI`, 100 people
each), 3 photos each (900 photos, 404,550 distinct impostor pairs, 900 genuine ones). The images are
8x8 placeholders (not faces); the embeddings come from a seeded generator, not from any model:

- ``model_a``: people of group `V-VI` are drawn closer together in its embedding space (a shared
  offset in their identity vectors), so their impostor comparisons score higher and their FMR at a
  threshold fixed for everyone is several times the reference group's; 4 of their 300 photos have no
  template (no face found: left out of ``model_a.txt``).
- ``model_b``: the same people, every group drawn alike (no offset), every photo acquired.

So an audit at a fixed FMR should find model A's `V-VI` FMR beyond a factor-2 tolerance, and model B's
within it. Each model's file is an N x 64 float32 array (``numpy.save``) and a text file naming its
photos in row order, as ``--analyzer embeddings:FILE.npy`` reads them.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_matching_demo import png  # a sibling script: the same placeholder images

SEED = 20240901  # fixed: the same files every time
GROUPS = ("I-II", "III-IV", "V-VI")
PEOPLE_PER_GROUP = 100
PHOTOS_PER_PERSON = 3
DIM = 64
# Per model: (shared offset of each group's identity vectors, photo-to-photo noise, photos without a template).
MODELS: dict[str, dict[str, tuple[float, float, int]]] = {
    "model_a": {"I-II": (0.0, 0.95, 0), "III-IV": (0.0, 0.95, 0), "V-VI": (0.6, 0.95, 4)},
    "model_b": {"I-II": (0.0, 0.95, 0), "III-IV": (0.0, 1.15, 0), "V-VI": (0.0, 0.95, 0)},
}


def people() -> list[tuple[str, str]]:
    """(subject, group) of every simulated person, groups interleaved so that no group comes first."""
    return [(f"person-{i + 1:03d}", GROUPS[i % len(GROUPS)]) for i in range(PEOPLE_PER_GROUP * len(GROUPS))]


def embeddings(model: str, subjects: list[tuple[str, str]]) -> tuple[np.ndarray, list[str]]:
    """The model's unit-length embedding of each acquired photo, and the photos' names in row order."""
    settings = MODELS[model]
    # One generator per model, seeded from the model's name: the files do not depend on the order of MODELS.
    rng = np.random.default_rng([SEED, sum(model.encode())])
    direction = {g: rng.normal(size=DIM) for g in GROUPS}
    for g in GROUPS:
        direction[g] /= np.linalg.norm(direction[g])
    rows, names = [], []
    missing = {g: settings[g][2] for g in GROUPS}
    for index, (subject, group) in enumerate(subjects):
        offset, noise, _ = settings[group]
        identity = rng.normal(size=DIM) / np.sqrt(DIM)
        identity = identity / np.linalg.norm(identity) + offset * direction[group]
        for k in range(PHOTOS_PER_PERSON):
            photo = f"images/{subject}-{k + 1}.png"
            vector = identity / np.linalg.norm(identity) + noise * rng.normal(size=DIM) / np.sqrt(DIM)
            if missing[group] and k == 0 and index % 7 == 2:
                missing[group] -= 1  # no face found: the photo has no template
                continue
            rows.append(vector / np.linalg.norm(vector))
            names.append(photo)
    return np.asarray(rows, dtype=np.float32), names


def write(out: Path) -> list[Path]:
    """Write the dataset and both models' files under ``out``; returns the files written."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    subjects = people()
    written = []
    rows = []
    for index, (subject, group) in enumerate(subjects):
        for k in range(PHOTOS_PER_PERSON):
            photo = f"images/{subject}-{k + 1}.png"
            (out / photo).write_bytes(png(index * PHOTOS_PER_PERSON + k))
            rows.append({"photo": photo, "subject": subject, "skin_type": group})
    manifest = out / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    written.append(manifest)
    for model in MODELS:
        vectors, names = embeddings(model, subjects)
        np.save(out / f"{model}.npy", vectors)
        (out / f"{model}.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
        written += [out / f"{model}.npy", out / f"{model}.txt"]
    (out / "README.md").write_text(
        "# Two simulated face models (SYNTHETIC)\n\nWritten by `python scripts/make_two_models.py`: placeholder "
        "images (not faces) and embeddings from a seeded generator, not from any model. See the script's "
        "docstring for how the two models differ.\n",
        encoding="utf-8",
    )
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write into (created if missing)")
    args = parser.parse_args(argv)
    files = write(args.out)
    print(f"wrote {len(files)} files and {PEOPLE_PER_GROUP * len(GROUPS) * PHOTOS_PER_PERSON} images under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
