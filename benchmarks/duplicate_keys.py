"""What refusing a repeated key costs when a predictions file is read (red team 15c, docs/how-to/large-runs.md).

A predictions line is decoded with an ``object_pairs_hook`` that refuses a key given twice in one object
(``json`` keeps the last one silently). This measures, on N typical lines (one face each, seeded), in the
same process and in back-to-back rounds, in CPU seconds of this process (the machine is shared: wall time
measured the neighbours), the fastest round of each counting:

1. **json.loads**: the plain ``json.loads(line)`` per line, the baseline;
2. **raw_decode**: the kit's line decoder before (``JSONDecoder().raw_decode``, no hook);
3. **kit**: the kit's line decoder now (``conformance.adapters.predictions._loads``, the hook);
4. **whole file, no hook** and **whole file, kit**: ``PredictionsAnalyzer`` reading a file of the N lines
   for an in-memory dataset of N photos (every line checked, turned into an observation), with the
   decoder swapped for the hookless one, then the kit's own.

Run: ``python benchmarks/duplicate_keys.py`` (1,000,000 lines, 3 rounds, about 3 minutes and 2 GB);
``--lines 10000 --rounds 1`` for a quick look; ``--write`` puts the table in
``benchmarks/duplicate-keys-results.md``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import code_line, machine_line

HERE = Path(__file__).resolve().parent
SEED = 20261121


def lines(count: int, seed: int = SEED) -> list[str]:
    """``count`` predictions lines as an analyzer writes them: one face, a label, a confidence, a box."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        face = {
            "gender": rng.choice(["Male", "Female"]),
            "confidence": round(rng.uniform(50, 100), 2),
            "box": [round(rng.random() / 2, 3), round(rng.random() / 2, 3), 0.4, 0.5],
        }
        out.append(json.dumps({"photo": f"img/{i:07d}.png", "faces": [face]}) + "\n")
    return out


def _decode_all(decode: Callable[[str], Any], text: list[str]) -> float:
    start = time.process_time()
    for line in text:
        decode(line)
    return time.process_time() - start


def _dataset(count: int, root: Path) -> Any:
    """A dataset of ``count`` photos built in memory (no images: the predictions adapter reads none)."""
    from conformance.dataset import Dataset, Photo

    photos = tuple(
        Photo(
            id=f"img/{i:07d}.png",
            path=root / f"img/{i:07d}.png",
            subject=f"s{i}",
            gender_identity="woman",
            identity="woman",
            trans="no",
            row=i + 2,
            digest="",
        )
        for i in range(count)
    )
    return Dataset(name="bench", manifest=root / "manifest.csv", photos=photos, columns=(), content_hash="")


def _read_whole(path: Path, dataset: Any, decode: Callable[..., Any]) -> float:
    from conformance.adapters import predictions

    kept = predictions._DECODE
    predictions._DECODE = decode
    try:
        start = time.process_time()
        analyzer = predictions.PredictionsAnalyzer(path, dataset=dataset)
        elapsed = time.process_time() - start
    finally:
        predictions._DECODE = kept
    assert len(analyzer._observations) == len(dataset.photos)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-whole", action="store_true", help="only the per-line decoders")
    parser.add_argument("--write", action="store_true", help="write benchmarks/duplicate-keys-results.md")
    args = parser.parse_args(argv)

    from conformance.adapters import predictions

    text = lines(args.lines)
    plain_decoder = json.JSONDecoder().raw_decode
    hooked_decoder = predictions._DECODE
    methods: dict[str, Callable[[], float]] = {
        "json.loads": lambda: _decode_all(json.loads, text),
        "raw_decode (the kit before)": lambda: _decode_all(lambda line: plain_decoder(line)[0], text),
        "kit (refuses a repeated key)": lambda: _decode_all(predictions._loads, text),
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "predictions.jsonl"
        if not args.no_whole:
            path.write_text("".join(text), encoding="utf-8")
            dataset = _dataset(args.lines, Path(folder))
            methods["whole file, no hook"] = lambda: _read_whole(path, dataset, plain_decoder)
            methods["whole file, kit"] = lambda: _read_whole(path, dataset, hooked_decoder)
        times: dict[str, list[float]] = {name: [] for name in methods}
        for _ in range(args.rounds):
            for name, run in methods.items():
                times[name].append(run())
    best = {name: min(values) for name, values in times.items()}
    rows = [
        f"Lines: {args.lines:,} (one face each, seed {SEED}); rounds: {args.rounds}, the fastest counts.",
        f"Machine: {machine_line([])}",
        f"Code: {code_line()}",
        "",
        "| decoding | CPU seconds | µs a line | against json.loads | every round (s) |",
        "|---|---|---|---|---|",
    ]
    for name, seconds in best.items():
        reference = best["whole file, no hook"] if name.startswith("whole") else best["json.loads"]
        against = "1.00" if name in ("json.loads", "whole file, no hook") else f"{seconds / reference:.2f}"
        if name.startswith("whole"):
            against += " (against the whole file, no hook)"
        rounds = ", ".join(f"{t:.2f}" for t in times[name])
        rows.append(f"| {name} | {seconds:.2f} | {seconds / args.lines * 1e6:.2f} | {against} | {rounds} |")
    table = "\n".join(rows)
    print(table)
    if args.write:
        command = "python benchmarks/duplicate_keys.py " + " ".join(argv if argv is not None else sys.argv[1:])
        (HERE / "duplicate-keys-results.md").write_text(
            f"# Refusing repeated keys in a predictions file: the cost\n\n`{command.strip()}`\n\n{table}\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
