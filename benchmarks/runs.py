"""Whole-run benchmark: a recorded Rekognition run replayed serially, over processes, and from the cache.

    python benchmarks/runs.py --sizes 1000,10000,100000 --out benchmarks/runs-results.md

For each size N (each in its own Python process, so sizes share no caches or memory), the script
writes N distinct tiny PNGs with a manifest and predictions (replay.py's synthetic data), records
them through the ``rekognition`` adapter against the kit's emulator on loopback (``--executor
threads:4``), then measures, with the emulator stopped:

- **bare boto3**: ``detect_faces`` calls by a plain boto3 client to the running emulator, no vcrpy:
  what one call to a loopback server costs (on the first ``--bare-calls`` photos; the reference);
- **replay serial / threads / processes**: ``analyze_dataset`` over the whole dataset from the recording,
  everything a run does included (opening the recording, checking it holds every photo, workers'
  start-up, shipping each chunk's recorded lines, assembling the table), as wall time per photo;
- **re-run from the cache**: the same replay a second time with the observations cache
  (``conformance.run.cache``): the recording is hashed, no response is parsed.

Peak memory is the maximum resident set (``ru_maxrss``) of the process measuring one size, which also
runs the emulator and the recording (a replay alone needs less). Ratios against bare boto3 are what matter: this machine's speed
drifts by tens of percent within a session. The emulator serves simulated answers: these numbers are
about the kit's overhead, not any vendor's.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import code_line, machine_line
from replay import DUMMY_KEY, DUMMY_SECRET, REGION, _environment, bare_loop, write_dataset

LIBRARIES = (("botocore", "botocore"), ("vcrpy", "vcr"), ("numpy", "numpy"))


@dataclass
class Result:
    size: int
    record_s: float = 0.0
    bare_ms: float = 0.0
    replay_ms: dict[str, float] = field(default_factory=dict)  # per photo, wall time, by executor
    cached_s: float = 0.0
    load_s: float = 0.0  # load_dataset
    peak_mb: float = 0.0
    same_answers: bool = True


def _log(message: str) -> None:
    print(f"[runs-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_size(size: int, workdir: Path, executors: list[str], bare_calls: int) -> Result:
    from conformance.adapters.base import AdapterSettings
    from conformance.adapters.predictions import PredictionsAnalyzer
    from conformance.adapters.rekognition import create
    from conformance.dataset import load_dataset
    from conformance.emulators import RekognitionEmulator, serve
    from conformance.run.execution import ExecutorSpec, Recipe
    from conformance.run.runner import analyze_dataset

    result = Result(size)
    manifest, predictions = write_dataset(workdir / "data", size)
    start = time.perf_counter()
    dataset = load_dataset(manifest)
    result.load_s = time.perf_counter() - start
    cassettes = workdir / "cassettes"
    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset))
    environment = {
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with serve(emulator) as server, _environment(AWS_ENDPOINT_URL_REKOGNITION=server.url, **environment):
        settings = AdapterSettings(record_mode="all", cassette_dir=str(cassettes))
        start = time.perf_counter()
        recorded = analyze_dataset(
            create(None, dataset=dataset, settings=settings), dataset, executor=ExecutorSpec.parse("threads:4")
        )
        result.record_s = time.perf_counter() - start
        _log(f"{size}: recorded in {result.record_s:.1f} s")
        images = [photo.path.read_bytes() for photo in dataset.photos[:bare_calls]]
        bare_s, _ = bare_loop(server.url, images)
        result.bare_ms = bare_s / len(images) * 1e3
        _log(f"{size}: bare boto3 {result.bare_ms:.2f} ms/call")
    replay = AdapterSettings(record_mode="none", cassette_dir=str(cassettes))
    with _environment(AWS_ENDPOINT_URL_REKOGNITION=server.url, **environment):
        for text in executors:
            spec = ExecutorSpec.parse(text)
            start = time.perf_counter()
            observations = analyze_dataset(
                create(None, dataset=dataset, settings=replay),
                dataset,
                executor=spec,
                recipe=lambda: Recipe("rekognition", replay, dataset),
            )
            wall = time.perf_counter() - start
            result.replay_ms[text] = wall / size * 1e3
            result.same_answers = result.same_answers and observations.records == recorded.records
            _log(f"{size}: replay {text} {result.replay_ms[text]:.3f} ms/photo ({wall:.1f} s)")
        cache = workdir / "project"
        analyze_dataset(create(None, dataset=dataset, settings=replay), dataset, cache=cache)  # fills the cache
        start = time.perf_counter()
        again = analyze_dataset(create(None, dataset=dataset, settings=replay), dataset, cache=cache)
        result.cached_s = time.perf_counter() - start
        assert "observations_cache" in again.analyzer, "the re-run did not read the cache"
        result.same_answers = result.same_answers and again.records == recorded.records
        _log(f"{size}: re-run from the cache {result.cached_s:.2f} s")
    result.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def render(results: list[Result], executors: list[str], command: str) -> str:
    head = ["photos", "load manifest", "bare boto3 ms/call"]
    head += [f"replay {e} ms/photo (x boto3)" for e in executors]
    head += ["re-run from cache", "peak MB", "same answers"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for r in results:
        cells = [f"{r.size:,}", f"{r.load_s:.1f} s", f"{r.bare_ms:.2f}"]
        cells += [f"{r.replay_ms[e]:.3f} ({r.replay_ms[e] / r.bare_ms:.2f}x)" for e in executors]
        cells += [
            f"{r.cached_s:.2f} s",
            f"{r.peak_mb:.0f}",
            "yes" if r.same_answers else "NO",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(
        [
            f"Command: `{command}`",
            f"Machine: {machine_line(LIBRARIES)}",
            code_line(),
            "",
            *lines,
            "",
            "Emulated recordings of simulated answers (the kit's emulator on loopback): the kit's overhead, "
            "not a vendor's speed.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/runs.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--executors", default="serial,threads:2,processes:2")
    parser.add_argument("--bare-calls", type=int, default=5000, help="bare boto3 calls measured (default 5000)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    executors = [e.strip() for e in args.executors.split(",") if e.strip()]
    if args.worker:
        with tempfile.TemporaryDirectory(prefix="runs-bench-") as folder:
            result = run_size(args.worker, Path(folder), executors, args.bare_calls)
        args.worker_json.write_text(json.dumps(asdict(result)))
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="runs-bench-") as folder:
        for size in [int(s) for s in args.sizes.split(",")]:
            out = Path(folder) / f"{size}.json"
            command = [sys.executable, __file__, "--worker", str(size), "--worker-json", str(out)]
            command += ["--executors", args.executors, "--bare-calls", str(args.bare_calls)]
            subprocess.run(command, check=True, env=dict(os.environ))
            results.append(Result(**json.loads(out.read_text())))
    text = render(results, executors, "python benchmarks/runs.py " + " ".join(sys.argv[1:] if argv is None else argv))
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
