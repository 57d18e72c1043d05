"""Build fixtures/astronaut: variants of one real, public-domain portrait, as photos of one person.

    pip install scikit-image dlib-bin   # only to rebuild; the outputs are shipped
    python scripts/make_astronaut_fixture.py

The source is ``skimage/data/astronaut.png`` from scikit-image: NASA's portrait of the astronaut
Eileen Collins, "No known copyright restrictions, released into the public domain" (scikit-image's
documentation of ``skimage.data.astronaut``). The face is found with dlib's frontal face detector;
every variant is derived from that one image deterministically and saved as JPEG (quality 90), so a
rebuild with the same Pillow and libjpeg gives the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUALITY = 90


def source_image() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or spec.origin is None:
        sys.exit("scikit-image is needed to rebuild the fixture: pip install scikit-image")
    return Path(spec.origin).parent / "data" / "astronaut.png"


def face_box(image: object) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the largest face dlib's detector finds."""
    import dlib
    import numpy as np

    found = dlib.get_frontal_face_detector()(np.asarray(image), 1)
    if not found:
        sys.exit("no face found in the source image")
    rect = max(found, key=lambda r: r.area())
    return rect.left(), rect.top(), rect.right(), rect.bottom()


Box = tuple[float, float, float, float]


def variants(image: object, box: tuple[int, int, int, int]) -> list[tuple[str, str, object, int, Box]]:
    """(file stem, what was done, image, JPEG quality, her face box as fractions) for every variant.

    The face box goes into the manifest so that every photo is judged on her face: the portrait also
    shows her mission patch, which dlib's detector takes for a face (in the mirror image, a larger one).
    """
    from PIL import Image, ImageEnhance

    assert isinstance(image, Image.Image)
    left, top, right, bottom = box
    width, height = image.size
    face: Box = (left / width, top / height, (right - left) / width, (bottom - top) / height)
    mirrored: Box = (1 - face[0] - face[2], face[1], face[2], face[3])
    out: list[tuple[str, str, object, int, Box]] = [
        ("original", "the portrait as published (512x512)", image, QUALITY, face)
    ]
    for margin in (0, 20, 60, 120):
        x0, y0 = max(0, left - margin), max(0, top - margin)
        crop = image.crop((x0, y0, right + margin, bottom + margin))
        cw, ch = crop.size
        in_crop: Box = ((left - x0) / cw, (top - y0) / ch, (right - left) / cw, (bottom - top) / ch)
        out.append(
            (f"crop-margin-{margin}", f"cropped to the face box plus {margin} px on each side", crop, QUALITY, in_crop)
        )
    out.append(
        ("mirror", "mirrored left to right", image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), QUALITY, mirrored)
    )
    out.append(
        ("scale-half", "scaled to 256x256 (Lanczos)", image.resize((256, 256), Image.Resampling.LANCZOS), QUALITY, face)
    )
    out.append(("brighter", "brightness x1.4", ImageEnhance.Brightness(image).enhance(1.4), QUALITY, face))
    out.append(("darker", "brightness x0.6", ImageEnhance.Brightness(image).enhance(0.6), QUALITY, face))
    out.append(("jpeg-q20", "re-encoded as JPEG at quality 20", image, 20, face))
    return out


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "fixtures" / "astronaut")
    args = parser.parse_args(argv)
    with Image.open(source_image()) as opened:
        image = opened.convert("RGB")
    box = face_box(image)
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for stem, what, variant, quality, face in variants(image, box):
        assert isinstance(variant, Image.Image)
        name = f"images/{stem}.jpg"
        variant.save(args.out / name, format="JPEG", quality=quality, optimize=True)
        rows.append(
            {
                "photo": name,
                "subject": "eileen-collins",
                "gender_identity": "woman",
                "trans": "unknown",
                "box": ",".join(f"{v:.4f}" for v in face),
                "variant": stem,
                "transformation": what,
                "source": "NASA, public domain, via scikit-image (skimage/data/astronaut.png)",
            }
        )
    with (args.out / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    # The same photos as a face-matching set: the original enrolled, every variant searched (all mated).
    kinds = {"crop": "crop", "mirror": "geometric", "scale": "geometric", "original": ""}
    with (args.out / "matching.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["photo", "subject", "role", "variant_kind", "box"], lineterminator="\n"
        )
        writer.writeheader()
        for row in rows:
            stem = str(row["variant"])
            kind = next((v for k, v in kinds.items() if stem.startswith(k)), "photometric")
            role = "gallery" if stem == "original" else "probe"
            writer.writerow(
                {
                    "photo": row["photo"],
                    "subject": row["subject"],
                    "role": role,
                    "variant_kind": kind,
                    "box": row["box"],
                }
            )
    print(f"wrote {len(rows)} photos to {args.out} (face box {box})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
