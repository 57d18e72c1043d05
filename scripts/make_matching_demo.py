"""Build conformance/demo/matching: a face-search demo replicating the published Congress test, SIMULATED.

    python scripts/make_matching_demo.py

535 probes (members of a legislature, none of whom is in the gallery) are searched against a gallery
of 500 arrest photos; 107 probes (20.0%) are people of colour. At Rekognition's default similarity
threshold of 80, 28 probes are falsely matched, 11 of them people of colour (39%), as the published
test reported. Fewer remain at 90 and 95, none at 99. Images are 8x8 synthetic placeholders (not
faces) and the search results are simulated: no face search system produced them.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import struct
import sys
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED = 20180726  # fixed: the same files every time
PROBES, POC, GALLERY = 535, 107, 500
# (people of colour, others) falsely matched at or above each threshold, nested: 80 > 90 > 95 > 99.
FALSE_MATCHES = {80: (11, 17), 90: (4, 5), 95: (1, 1), 99: (0, 0)}
BELOW_80 = (14, 46)  # probes whose best match lies between the search threshold 70 and 80


def png(index: int) -> bytes:
    """An 8x8 RGB PNG, no metadata, whose pixels encode ``index`` (every file has its own digest)."""
    rows = []
    for y in range(8):
        row = bytearray([0])
        for x in range(8):
            bit = (index >> ((y * 8 + x) % 24)) & 1
            row += bytes([(index * 37) % 256, (index * 91) % 256, 255 if bit else 0])
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def best_similarity(rng: random.Random, poc: bool, rank: dict[bool, int]) -> float | None:
    """The highest similarity this probe reaches, from the nested counts above (None: nothing >= 70)."""
    k = rank[poc]
    rank[poc] += 1
    column = 0 if poc else 1
    bands = [(99, 100.0), (95, 99.0), (90, 95.0), (80, 90.0)]
    for threshold, high in bands:
        if k < FALSE_MATCHES[threshold][column]:
            return round(rng.uniform(threshold, high - 0.1), 1)
    if k < FALSE_MATCHES[80][column] + BELOW_80[column]:
        return round(rng.uniform(70.0, 79.9), 1)
    return None


README = """# Face-search demo (simulated): a Congress-style test

**Nothing here is real**: no real people, no faces, no real search results.

- `manifest.csv`: 500 `gallery` photos (arrest photos: `arrestee-NNNN`) and 535 `probe` photos (members of
  a legislature: `member-NNN`), none of whom is in the gallery, so every search is non-mated. Column
  `race_ethnicity` groups the probes: 107 `person of colour` (20.0%) and 428 `white`.
- `images/`: 8x8 synthetic placeholders, **not faces**, each with its own SHA-256.
- `predictions.jsonl`: **SIMULATED** search results in the kit's predictions format (probe lines with
  matches and similarities; header `search_threshold` 50: nothing below 50 was returned, and the
  simulated results hold nothing below 70).

Built to match the published test of a commercial face search service on members of Congress: at the
default similarity threshold of 80, **28 of 535 were falsely matched** to arrest photos, **11 of them
people of colour** (39%) against about 20% of Congress. Here, at 80: 11 of 107 people of colour and 17
of 428 others; at 90: 4 and 5; at 95: 1 and 1; at 99: none.

`conformance run --demo-matching` replays `cassettes/matching/rekognition.jsonl`: this search traffic
recorded through the `rekognition` adapter against the kit's **emulator** of the Rekognition API (never
Amazon's service). Regenerate these files with `python scripts/make_matching_demo.py`, and the
recording with `python scripts/record_demo.py`.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "conformance" / "demo" / "matching")
    args = parser.parse_args(argv)
    rng = random.Random(SEED)
    out: Path = args.out
    (out / "images").mkdir(parents=True, exist_ok=True)
    rows, lines = [], []
    for g in range(GALLERY):
        name = f"images/g{g + 1:04d}.png"
        (out / name).write_bytes(png(10_000 + g))
        rows.append({"photo": name, "subject": f"arrestee-{g + 1:04d}", "role": "gallery", "race_ethnicity": ""})
    # Which probes are people of colour: a fixed shuffle, so they are not all first in the file.
    poc_flags = [True] * POC + [False] * (PROBES - POC)
    rng.shuffle(poc_flags)
    rank = {True: 0, False: 0}
    for p, poc in enumerate(poc_flags):
        name = f"images/m{p + 1:03d}.png"
        (out / name).write_bytes(png(p))
        group = "person of colour" if poc else "white"
        rows.append({"photo": name, "subject": f"member-{p + 1:03d}", "role": "probe", "race_ethnicity": group})
        best = best_similarity(rng, poc, rank)
        matches = []
        if best is not None:
            target = f"images/g{rng.randrange(GALLERY) + 1:04d}.png"
            matches.append({"gallery": target, "similarity": best})
        lines.append({"probe": name, "matches": matches})
    with (out / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    header = {
        "analyzer": "demo-face-search",
        "version": "simulated-1",
        "simulated": True,
        "search_threshold": 50,
        "note": "SIMULATED search results constructed to match the published test of a commercial face "
        "search service on members of Congress (28 of 535 falsely matched to arrest photos at the default 80% "
        "similarity threshold, 11 of them people of colour, against about 20% of Congress); not the output of "
        "any service or model.",
    }
    with (out / "predictions.jsonl").open("w", encoding="utf-8", newline="\n") as handle:
        for record in (header, *lines):
            handle.write(json.dumps(record) + "\n")
    (out / "README.md").write_text(README, encoding="utf-8")
    print(f"wrote {GALLERY} gallery photos and {PROBES} probes ({POC} people of colour) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
