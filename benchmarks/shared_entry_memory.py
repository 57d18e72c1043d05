"""What reading a shared-answers or cache entry costs in memory, real or hostile (red team 15d F4).

pytest-xdist workers read the answers the first of them wrote (``conformance.sharing``); a re-run reads the
observation cache (``conformance.run.cache``). Before red team 15d F4, both read an entry up to 1 GiB whatever
the run and parsed it whatever its shape before checking its seal: a 1 GiB JSON string cost 3.1 GB, 64 MiB of
``{},`` 1.7 GB. Now both read within bounds sized from the run (``EntryBounds``: bytes and JSON values per
answer, the values counted before parsing), and the shared answers' seal is checked on the bytes before
anything is parsed. Since issue 15's last known limit, the cache's entries are sealed over their bytes too
(format 3: the seal on the first line, checked a chunk at a time before anything is parsed); an entry of its
earlier format (2, sealed over its parsed content) is read only when made before the machine's switch.

For each run size, each entry is written by this process, then read in a fresh process, which reports what
Python allocated at the peak of the read (tracemalloc) and how much its peak RSS grew. Entries:

- **real**: the run's answers, sealed, as the kit writes them (one face each, seeded values; the variants the
  default policy plans, 20 photos x 8 transforms);
- **real, long errors**: the same, with every other photo an error whose kept message is 500 astral characters
  (``"\U0001f600"``, 12 bytes each in the entry's JSON): the largest real entry per answer (red team 15e F1);
- **string**, **objects**, **lists**, **short strings**, **floats**, **astral strings**, **CJK strings**,
  **nested lists** and **nested dicts** (400 deep): an entry of one shape, unsealed (whoever writes it has no
  key), as large as the run's bounds let it be in bytes and in values (counted outside strings): the shapes
  that cost the most memory per byte once parsed (red team 15e F4 added the last four);
- **64 MiB of objects**: the red team's entry, larger than these runs' bounds;
- **string, behind a forged seal line**: the string, after a first line of 64 zeros, as a planter would write
  an entry of the current formats (the cache's 3, the shares' 2) to have its seal checked;
- for the cache, **real, earlier format (made before the switch)**: the real entry in format 2, as a kit before
  format 3 wrote it, on a machine whose cache has not switched yet: read with format 2's checks, then
  rewritten (the cost of keeping paid answers across the change); and **string, earlier format, made before
  the switch**: the one planted entry the cache still parses (one made before the machine's first run of a
  kit with format 3; the shapes above are planted after it, as any planted later is).

The hostile shapes other than these are written in the cache's earlier format (``{"format":2,...``): what
the kit before format 3 parsed, and the current kit, whose switch is marked when this script makes the key,
ignores unread.

The result is each cost's ratio to the real entry's, with the bounds on, off (``None``: 1 GiB whatever the
run), and in the kit before (``--before DIR``, a checkout of it: ``git worktree add --detach DIR REV``).

Run: ``python benchmarks/shared_entry_memory.py --before DIR`` (runs of 600 and 20,000 photos; about ten
minutes, at most 4.5 GB for the "before" and "off" reads of 64 MiB); ``--write`` puts the table in
``benchmarks/shared-entry-memory-results.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import REPO, code_line, machine_line

HERE = Path(__file__).resolve().parent
SEED = 20261206
KEY = "0123abcd" * 8
SECRET = "ab" * 32
VARIANTS = 20 * 8  # the default policy: invariance_photos x invariance_transforms
BIG = 64 * 2**20
MODES = ("on", "off", "before")

# The reader, in a fresh process: what Python allocated at the read's peak, and how much the peak RSS grew.
READER = """
import json, resource, sys, tracemalloc
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from conformance import sharing
from conformance.run import cache
reader, folder, answers, longest, mode, key = sys.argv[2:8]
bounds = None
# "before": the kit of --before with its own bounds, if it has any (15d's kit did; the kit before 15d read all).
if mode == "on" or (mode == "before" and hasattr(cache, "EntryBounds")):
    bounds = cache.EntryBounds.of(int(answers), int(longest))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()
try:
    if reader == "share":
        share = sharing.Share(folder, sys.argv[8])
        found = sharing._read(share, key) if bounds is None else sharing._read(share, key, bounds)
    else:
        found = cache.load(Path(folder), key) if bounds is None else cache.load(Path(folder), key, bounds)
except MemoryError:
    found = None
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"rss": (after - before) * 1024, "peak": peak, "read": found is not None}))
"""


def _photo(i: int) -> str:
    return f"images/p{i:07d}.png"


# A kept error message at the adapters' cap (500 characters), of the characters that take the most bytes.
LONG_ERROR = "ValueError: " + "\U0001f600" * 500 + " (raised by python:model.py:analyze at model.py:12)"


def _answers(photos: int, rng: random.Random, errors: bool = False) -> tuple[list[Any], list[Any]]:
    """The run's observations and its variants, as conformance.observation holds them (``errors``: every other
    photo's an error of :data:`LONG_ERROR`)."""
    from conformance.observation import Face, Observation, Variant

    def observation(photo: str) -> Observation:
        if errors and int(photo[8:15]) % 2:
            return Observation(photo=photo, outcome="error", reason=LONG_ERROR)
        face = Face(
            label=rng.choice(["Male", "Female"]),
            gender=rng.choice(["man", "woman"]),
            confidence=round(rng.uniform(50, 100), 3),
            box=(round(rng.random() / 2, 4), round(rng.random() / 2, 4), 0.4, 0.5),
        )
        return Observation(photo=photo, outcome="analysed", face=face, faces=1)

    records = [observation(_photo(i)) for i in range(photos)]
    variants = [
        Variant(_photo(i % photos), f"rotate({i % 8})", observation(_photo(i % photos))) for i in range(VARIANTS)
    ]
    return records, variants


def _real(reader: str, folder: Path, photos: int, errors: bool = False) -> Path:
    """Write the run's real entry for ``reader`` in ``folder``; its path."""
    from conformance import sharing
    from conformance.run import cache

    records, variants = _answers(photos, random.Random(SEED), errors)
    if reader == "share":
        body = {
            "kind": "observations",
            "records": [cache._observation(r) for r in records],
            "variants": [[v.photo, v.transform, cache._observation(v.observation)] for v in variants],
            "variants_note": "",
            "analyzer": {"name": "acme", "version": "1.0", "vocabulary": {"Male": "man", "Female": "woman"}},
        }
        sharing._write(sharing.Share(str(folder), SECRET), KEY, body)
        return folder / f"{KEY}.json"
    path = cache.store(folder, KEY, records, variants, "")
    assert path is not None
    return path


def _format_2(folder: Path, photos: int) -> bytes:
    """The run's real cache entry as the kit wrote it before format 3 (its JSON with a ``seal`` field: an HMAC
    over the canonical JSON of the rest), sealed with the key of ``folder``'s user cache."""
    from conformance.run import cache

    records, variants = _answers(photos, random.Random(SEED))
    body = {
        "format": 2,
        "key": KEY,
        "observations": [cache._observation(r) for r in records],
        "variants": [[v.photo, v.transform, cache._observation(v.observation)] for v in variants],
        "variants_note": "",
    }
    body = json.loads(json.dumps(body))
    secret = (folder / "user-cache" / "conformance" / "cache.key").read_bytes()
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    seal = {"kind": "hmac-sha256", "value": hmac.new(secret, canonical, hashlib.sha256).hexdigest()}
    return json.dumps({**body, "seal": seal}, separators=(",", ":")).encode("ascii")


def _before_switch(folder: Path) -> None:
    """Make ``folder``'s user cache one that has not switched to format 3 yet: its key, and no mark."""
    (folder / "user-cache" / "conformance" / "sealed-bytes-since").unlink(missing_ok=True)


def _shape(unit: bytes, marks: int, size: int, values: int) -> Iterator[bytes]:
    """An unsealed entry of ``unit`` repeated as often as ``size`` bytes and ``values`` JSON values allow."""
    head = b'{"format":2,"key":"' + KEY.encode() + b'","x":['
    tail = b'1],"seal":"00"}'
    count = min((size - len(head) - len(tail)) // len(unit), (values - 16) // marks)
    yield head
    chunk = unit * 65536
    for _ in range(count // 65536):
        yield chunk
    yield unit * (count % 65536)
    yield tail


def _string(size: int, seal_line: bytes = b"") -> Iterator[bytes]:
    head = seal_line + b'{"format":2,"key":"' + KEY.encode() + b'","x":"'
    tail = b'","seal":"00"}'
    left = size - len(head) - len(tail)
    yield head
    for _ in range(left // 2**20):
        yield b"a" * 2**20
    yield b"a" * (left % 2**20)
    yield tail


def measure(code: Path, reader: str, folder: Path, answers: int, longest: int, mode: str) -> tuple[float, float, bool]:
    """The read's cost in MB: Python's allocations at its peak, the growth of the process's peak RSS; and
    whether the entry was used (a real entry refused sends every xdist worker to the model again)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(folder / "user-cache")}  # the cache's sealing key: this run's own
    command = [sys.executable, "-c", READER, str(code), reader, str(folder), str(answers), str(longest), mode, KEY]
    run = subprocess.run([*command, SECRET], capture_output=True, text=True, check=True, env=env)
    result = json.loads(run.stdout)
    return float(result["peak"]) / 1e6, float(result["rss"]) / 1e6, bool(result["read"])


Cost = tuple[float, float, bool]
Row = tuple[str, int, str, int, dict[str, Cost], Cost]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="600,20000", help="photos per run, comma-separated")
    parser.add_argument("--before", type=Path, help="a checkout of the kit before red team 15d F4")
    parser.add_argument("--write", action="store_true", help="write benchmarks/shared-entry-memory-results.md")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp()  # this process's cache key: set before the kit makes one
    from conformance.run.cache import EntryBounds

    codes = {"on": REPO, "off": REPO, "before": args.before}
    rows: list[Row] = []
    for photos in [int(s) for s in args.sizes.split(",")]:
        answers, longest = photos + VARIANTS, len(_photo(0))
        bounds = EntryBounds.of(answers, longest)
        for reader in ("share", "cache"):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                os.environ["XDG_CACHE_HOME"] = str(folder / "user-cache")

                def cost(
                    mode: str,
                    reader: str = reader,
                    folder: Path = folder,
                    answers: int = answers,
                    longest: int = longest,
                ) -> Cost:
                    code = codes[mode]
                    return measure(code, reader, folder, answers, longest, mode) if code else (-1.0, -1.0, False)

                entry = _real(reader, folder, photos, errors=True)
                long_errors = entry.stat().st_size, {m: cost(m) for m in MODES}
                entry = _real(reader, folder, photos)
                real = cost("on")
                rows.append((reader, photos, "real (sealed)", entry.stat().st_size, {m: cost(m) for m in MODES}, real))
                rows.append((reader, photos, "real, long errors (sealed)", *long_errors, real))

                # Each planted entry: its name, its bytes (made again before each mode's read: a read of format 2
                # made before the switch rewrites it), and whether the machine's cache has not switched yet.
                planted: list[tuple[str, Callable[[], Iterator[bytes]], bool]] = []
                shapes = [("objects `{},`", b"{},", 2), ("lists `[],`", b"[],", 2)]
                shapes += [('short strings `"ab",`', b'"ab",', 1), ("floats `1.5,`", b"1.5,", 1)]
                shapes += [('astral strings `"\\ud83d\\ude00",`', b'"\\ud83d\\ude00",', 1)]
                shapes += [('CJK strings `"\\u4e2d" x 8`', b'"' + b"\\u4e2d" * 8 + b'",', 1)]
                shapes += [("nested lists, 400 deep", b"[" * 400 + b"]" * 400 + b",", 401)]
                shapes += [("nested dicts, 400 deep", b'{"":' * 400 + b"0" + b"}" * 400 + b",", 801)]
                planted.append(("string", partial(_string, bounds.size), False))
                for name, unit, marks in shapes:
                    planted.append((name, partial(_shape, unit, marks, bounds.size, bounds.values), False))
                planted.append(("64 MiB of `{},`", partial(_shape, b"{},", 2, BIG, 2**40), False))
                forged = partial(_string, bounds.size, b"0" * 64 + b"\n")
                planted.append(("string, behind a forged seal line", forged, False))
                if reader == "cache":
                    legacy = _format_2(folder, photos)
                    planted.append(("real, earlier format (made before the switch)", partial(iter, [legacy]), True))
                    planted.append(
                        ("string, earlier format, made before the switch", partial(_string, bounds.size), True)
                    )
                for name, chunks, unswitched in planted:
                    costs = {}
                    for mode in MODES:
                        with entry.open("wb") as handle:
                            handle.writelines(chunks())
                        if unswitched:
                            _before_switch(folder)
                        costs[mode] = cost(mode)
                    rows.append((reader, photos, name, entry.stat().st_size, costs, real))
        print(f"{photos:,} photos: bounds {bounds.size:,} bytes, {bounds.values:,} values", file=sys.stderr)

    def cell(value: Cost, real: Cost, sealed: bool, foreign: bool = False) -> str:
        if value[0] < 0:
            return "not run"
        refused = " **refused**" if sealed and not value[2] else ""  # a real entry not used: the model again
        if foreign:  # the kit before format 3 reading format 3: not its format (its own is the earlier-format row)
            refused = " not its format"
        return f"{value[0]:,.1f} ({value[0] / real[0]:,.1f}×) [{value[1]:,.0f}]{refused}"

    lines = [
        "# Reading a shared-answers or cache entry: memory, real and hostile (red team 15d F4, 15e F1/F4)",
        "",
        f"`python benchmarks/shared_entry_memory.py --sizes {args.sizes}{' --before DIR' if args.before else ''}`; "
        f"{machine_line([])}; {code_line()}.",
        "",
        "Each cell: what Python allocated at the read's peak (tracemalloc, MB), its ratio to the real entry's read",
        "(`×`), and in brackets how much the reading process's peak RSS grew (MB; 0 when the read fit in memory the",
        "process held already). Bounds on: the run's `EntryBounds` (1 MiB + 26,048 bytes and 12 bytes per",
        "photo-name character an answer; 16,384 + 64 JSON values an answer, counted outside strings). Off: `None`,",
        "1 GiB whatever the run. Hostile entries are unsealed and fill the run's bounds (the current ones). Before:",
        "the kit of `--before` with its own bounds, if it has any. **refused**: a real entry not used (so every",
        "xdist worker calls the model again). The cache's real entries are in format 3 (sealed over their bytes);",
        "the kit before format 3 does not read them (*not its format*: a downgrade works the answers out again),",
        "and its own real entry is the row *real, earlier format*. The cache's hostile shapes but the forged seal",
        'line are in the earlier format (`{"format":2,...`), planted after the machine\'s switch to format 3,',
        "except the row *made before the switch*.",
        "",
        "| reader | photos | entry | bytes | bounds on | bounds off | before |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for reader, photos, name, size, costs, real in rows:
        foreign = reader == "cache" and "(sealed)" in name
        cells = " | ".join(cell(costs[m], real, "sealed" in name, foreign and m == "before") for m in MODES)
        lines.append(f"| {reader} | {photos:,} | {name} | {size:,} | {cells} |")
    # The before/after of issue 15's last known limit: the costliest entry a planter can put in the cache now,
    # against the costliest the kit before read, both in this run (the real entries and the one planted before
    # the switch aside: the first are not planted, the second is the case still parsed, shown in its row).
    lines.append("")
    for photos in sorted({row[1] for row in rows}):
        hostile: list[Row] = [
            row
            for row in rows
            if row[0] == "cache" and row[1] == photos and "real" not in row[2] and "before the" not in row[2]
        ]
        now = max(hostile, key=lambda row: row[4]["on"][0])
        before = max(hostile, key=lambda row: row[4]["before"][0])
        if before[4]["before"][0] < 0:
            continue
        lines.append(
            f"- Cache, {photos:,} photos: the costliest planted entry costs {now[4]['on'][0]:,.1f} MB to read now "
            f"({now[2]}), {before[4]['before'][0]:,.1f} MB in the kit before ({before[2]}): "
            f"{before[4]['before'][0] / now[4]['on'][0]:,.0f} times less."
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        (HERE / "shared-entry-memory-results.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
