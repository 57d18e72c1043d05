"""Replay benchmark: the kit's indexed recording store against vcrpy's default cassette, same run.

    python benchmarks/replay.py --sizes 1000,5000,20000 --baseline-max 5000 --out benchmarks/results.md

For each size N the script writes N distinct tiny PNGs, a manifest and a predictions file (one face
each) into a temporary folder, starts the kit's Rekognition emulator on loopback **in the same
process** (a daemon thread), and measures:

1. **kit record**: the ``rekognition`` adapter, record mode ``all``, through vcrpy into the kit's
   store, live against the emulator (``analyze_dataset``, so session set-up and the final swap of
   the new file into place included);
2. **bare boto3**: N ``detect_faces`` calls by a plain boto3 client to the emulator, no vcrpy at all
   (what boto3 and a loopback round trip cost per call: the reference);
3. **kit replay**: the emulator is stopped, the adapter replays with record mode ``none`` (the
   endpoint still names the stopped emulator, so any call that escaped the recording would fail);
   the answers must equal the recorded ones;
4. **boto3 floor**: N ``detect_faces`` calls with HTTP short-circuited in botocore's ``before-send``
   event (serialise, sign and parse only: no socket, no server, no vcrpy): what any replay through
   boto3 costs at least;
5. **vcrpy default cassette** (only up to ``--baseline-max``): ``vcr.VCR().use_cassette(path)`` with
   the default YAML serializer, recording N calls live (emulator started again), then replaying
   them with ``record_mode="none"`` and ``allow_playback_repeats=False``. vcrpy's default matching is
   positional for Rekognition (every call is ``POST /``), so it matches on method, uri and body
   (the body compared for equality by a small matcher; vcrpy's built-in ``body`` matcher also
   builds a diff on every mismatch and is slower still: ``--vcr-body-matcher builtin``).

Steps 2-4 run in ``--repeats`` back-to-back rounds (default 3), the emulator started for step 2 and
stopped before step 3 in each, so that every replay is measured next to its references (this
machine's speed drifts within a session); the fastest round of each counts, and all are reported.

Each size runs in its own Python process (``--worker``), so sizes do not share caches, patches or
memory; the parent collects the numbers and writes the Markdown table. ``--in-process`` runs
every size in the calling process instead (the smoke test uses it). ``--profile N`` records N
photos, then profiles one kit replay and one default-cassette replay of them with cProfile.

Ratios are what matter: absolute times on a shared machine drift by tens of percent.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shlex
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Tests load this script by its path: put its folder on sys.path so that it finds its sibling module.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import REPO, code_line, machine_line
from _machine import package_of as _package

# Printed with their versions in the results' machine line: (name, module to import).
LIBRARIES = (("botocore", "botocore"), ("vcrpy", "vcr"))
ATTRIBUTES = ["DEFAULT", "GENDER"]  # what the kit's adapter asks for
REGION = "us-east-1"
# Placeholders only: the emulator accepts any signature, and replay never needs an identity.
DUMMY_KEY, DUMMY_SECRET = "BENCHMARKKEY", "BENCHMARKSECRET"

# ------------------------------------------------------------------------------------------------
# Synthetic data
# ------------------------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def make_png(index: int, pad_bytes: int = 0) -> bytes:
    """An 8x8 RGB PNG whose pixels spell ``index`` (so every image has its own digest).

    ``pad_bytes`` adds a private ancillary chunk of that many bytes, for photo-sized requests.
    """
    row = index.to_bytes(6, "big") * 4  # 24 bytes: 8 RGB pixels
    raw = b"".join(b"\x00" + row for _ in range(8))
    header = (8).to_bytes(4, "big") * 2 + bytes((8, 2, 0, 0, 0))
    chunks = [_chunk(b"IHDR", header), _chunk(b"IDAT", zlib.compress(raw, 1))]
    if pad_bytes:  # after the pixels, so two images still differ early (as photos do, past their headers)
        chunks.append(_chunk(b"bnCh", bytes(pad_bytes)))
    chunks.append(_chunk(b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def expected_label(index: int) -> str:
    return "Female" if index % 2 else "Male"


def write_dataset(root: Path, size: int, pad_bytes: int = 0) -> tuple[Path, Path]:
    """Write ``size`` photos, ``manifest.csv`` and ``predictions.jsonl`` under ``root``."""
    images = root / "img"
    images.mkdir(parents=True, exist_ok=True)
    manifest = ["photo,subject,gender_identity,trans"]
    predictions = [
        json.dumps({"analyzer": "benchmark", "version": "1", "vocabulary": ["Male", "Female"], "simulated": True})
    ]
    for index in range(size):
        photo = f"img/{index:06d}.png"
        (root / photo).write_bytes(make_png(index, pad_bytes))
        # One self-description a person (a subject described two ways is refused at load).
        manifest.append(f"{photo},s{index // 3},{'woman' if (index // 3) % 2 else 'man'},no")
        confidence = round(50 + (index * 37 % 500) / 10, 1)
        face = {"gender": expected_label(index), "confidence": confidence, "box": [0.25, 0.2, 0.5, 0.6]}
        predictions.append(json.dumps({"photo": photo, "faces": [face]}))
    (root / "manifest.csv").write_text("\n".join(manifest) + "\n", encoding="utf-8")
    (root / "predictions.jsonl").write_text("\n".join(predictions) + "\n", encoding="utf-8")
    return root / "manifest.csv", root / "predictions.jsonl"


# ------------------------------------------------------------------------------------------------
# Measurements
# ------------------------------------------------------------------------------------------------


@dataclass
class SizeResult:
    """The numbers of one size (seconds unless named ``_ms``, per call; sizes in MB)."""

    size: int
    generate_s: float = 0.0
    kit_record_s: float = 0.0
    bare_s: float = 0.0
    bare_ms: float = 0.0
    kit_open_s: float = 0.0  # replay session set-up: load the store's index, key every photo
    kit_replay_s: float = 0.0  # set-up and calls
    kit_replay_ms: float = 0.0  # the calls only, per call
    floor_ms: float = 0.0
    kit_store_mb: float = 0.0
    kit_same_answers: bool = False
    vcr_record_s: float | None = None
    vcr_load_s: float | None = None
    vcr_replay_s: float | None = None  # load and calls
    vcr_replay_ms: float | None = None  # the calls only, per call
    vcr_cassette_mb: float | None = None
    vcr_same_answers: bool | None = None
    bare_runs_ms: list[float] = field(default_factory=list)
    kit_replay_runs_ms: list[float] = field(default_factory=list)
    floor_runs_ms: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _log(message: str) -> None:
    print(f"[replay-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _client(endpoint: str) -> Any:
    """A boto3 Rekognition client configured as the kit's adapter configures its own."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "adaptive"}, connect_timeout=10, read_timeout=30)
    return boto3.session.Session().client(
        "rekognition",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=DUMMY_KEY,
        aws_secret_access_key=DUMMY_SECRET,
        config=config,
    )


def _faces(response: dict[str, Any]) -> list[dict[str, Any]]:
    return list(response.get("FaceDetails", []))


def bare_loop(endpoint: str, images: Sequence[bytes]) -> tuple[float, list[list[dict[str, Any]]]]:
    """Seconds for one plain ``detect_faces`` per image (client built and warmed up first), and the answers."""
    client = _client(endpoint)
    client.detect_faces(Image={"Bytes": images[0]}, Attributes=ATTRIBUTES)  # connect, load models
    answers: list[list[dict[str, Any]]] = []
    start = time.perf_counter()
    for data in images:
        answers.append(_faces(client.detect_faces(Image={"Bytes": data}, Attributes=ATTRIBUTES)))
    return time.perf_counter() - start, answers


class _CannedBody:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def floor_loop(images: Sequence[bytes]) -> float:
    """Seconds for one ``detect_faces`` per image with HTTP short-circuited: botocore's own cost."""
    from botocore.awsrequest import AWSResponse

    body = json.dumps(
        {
            "FaceDetails": [
                {
                    "BoundingBox": {"Width": 0.5, "Height": 0.6, "Left": 0.25, "Top": 0.2},
                    "Confidence": 99.0,
                    "Gender": {"Value": "Female", "Confidence": 90.0},
                }
            ]
        }
    ).encode()
    headers = {"Content-Type": "application/x-amz-json-1.1", "Content-Length": str(len(body))}

    def answer(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, 200, headers, _CannedBody(body))

    client = _client("http://127.0.0.1:9")  # never contacted: before-send answers first
    client.meta.events.register("before-send.rekognition.DetectFaces", answer)
    client.detect_faces(Image={"Bytes": images[0]}, Attributes=ATTRIBUTES)
    start = time.perf_counter()
    for data in images:
        client.detect_faces(Image={"Bytes": data}, Attributes=ATTRIBUTES)
    return time.perf_counter() - start


def _body_equal(r1: Any, r2: Any) -> bool:
    """vcrpy matcher: bodies equal as bytes (no diff on mismatch, unlike vcrpy's ``body``)."""
    return bool(r1.body == r2.body)


def _vcr(body_matcher: str) -> Any:
    import vcr

    my_vcr = vcr.VCR(match_on=["method", "uri", "body_equal" if body_matcher == "equal" else "body"])
    my_vcr.register_matcher("body_equal", _body_equal)
    return my_vcr


def vcr_record(endpoint: str, images: Sequence[bytes], path: Path, body_matcher: str) -> list[list[dict[str, Any]]]:
    """Record one call per image into a default YAML cassette at ``path`` (saved on exit)."""
    client = _client(endpoint)
    answers: list[list[dict[str, Any]]] = []
    with _vcr(body_matcher).use_cassette(str(path), allow_playback_repeats=False):
        for data in images:
            answers.append(_faces(client.detect_faces(Image={"Bytes": data}, Attributes=ATTRIBUTES)))
    return answers


def vcr_replay(
    endpoint: str, images: Sequence[bytes], path: Path, body_matcher: str
) -> tuple[float, float, list[list[dict[str, Any]]]]:
    """Replay one call per image from the default cassette: (load seconds, calls seconds, answers)."""
    client = _client(endpoint)
    answers: list[list[dict[str, Any]]] = []
    start = time.perf_counter()
    with _vcr(body_matcher).use_cassette(str(path), record_mode="none", allow_playback_repeats=False):
        loaded = time.perf_counter()
        for data in images:
            answers.append(_faces(client.detect_faces(Image={"Bytes": data}, Attributes=ATTRIBUTES)))
        done = time.perf_counter()
    return loaded - start, done - loaded, answers


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def run_size(
    size: int,
    workdir: Path,
    *,
    baseline: bool,
    pad_bytes: int = 0,
    body_matcher: str = "equal",
    repeats: int = 3,
    profile: Callable[[str, Callable[[], Any]], Any] | None = None,
) -> SizeResult:
    """Measure one size in this process (see the module docstring for what and in which order)."""
    import botocore  # noqa: F401 - imported before timing anything

    from conformance.adapters.base import AdapterSettings
    from conformance.adapters.predictions import PredictionsAnalyzer
    from conformance.adapters.rekognition import create
    from conformance.dataset import load_dataset
    from conformance.emulators import RekognitionEmulator, serve
    from conformance.run.runner import analyze_dataset

    result = SizeResult(size=size)
    start = time.perf_counter()
    root = workdir / f"bench{size}"
    manifest, predictions = write_dataset(root, size, pad_bytes)
    dataset = load_dataset(manifest)
    images = [photo.path.read_bytes() for photo in dataset.photos]
    result.generate_s = time.perf_counter() - start
    _log(f"{size}: generated {size} photos in {result.generate_s:.1f} s")

    cassettes = workdir / f"cassettes{size}"
    emulator = RekognitionEmulator(dataset, PredictionsAnalyzer(predictions, dataset=dataset))
    server = serve(emulator)
    # Dummy credentials in the environment: the adapter never reads a real identity from this machine.
    with _environment(
        AWS_ENDPOINT_URL_REKOGNITION=server.url,
        AWS_ACCESS_KEY_ID=DUMMY_KEY,
        AWS_SECRET_ACCESS_KEY=DUMMY_SECRET,
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
    ):
        try:
            # 1. kit record
            recorder = create(
                None, dataset=dataset, settings=AdapterSettings(record_mode="all", cassette_dir=str(cassettes))
            )
            start = time.perf_counter()
            recorded = analyze_dataset(recorder, dataset)
            result.kit_record_s = time.perf_counter() - start
            wrong = sum(
                1
                for photo, obs in zip(dataset.photos, recorded.records, strict=True)
                if obs.face is None or obs.face.label != expected_label(int(photo.path.stem))
            )
            if wrong:
                result.notes.append(f"{wrong} recorded answers differ from the predictions file")
            _log(f"{size}: kit record {result.kit_record_s:.1f} s")
        finally:
            server.close()
        result.kit_store_mb = _mb(recorder.recording)
        replayer = create(
            None, dataset=dataset, settings=AdapterSettings(record_mode="none", cassette_dir=str(cassettes))
        )

        def kit_replay() -> list[Any]:
            start = time.perf_counter()
            with replayer.session():
                opened = time.perf_counter()
                observations = [replayer.analyze(photo) for photo in dataset.photos]
                done = time.perf_counter()
            ms = (done - opened) / size * 1e3
            result.kit_replay_runs_ms.append(ms)
            if ms <= min(result.kit_replay_runs_ms):
                result.kit_open_s, result.kit_replay_s, result.kit_replay_ms = opened - start, done - start, ms
            return observations

        # Rounds of bare boto3, kit replay and boto3 floor, back to back, so each replay sits next to its
        # references in time; the fastest round of each counts (the least disturbed by the machine).
        result.kit_same_answers = True
        for round_ in range(1, repeats + 1):
            # 2. bare boto3, against a fresh emulator
            with serve(emulator) as server:
                bare_s, _ = bare_loop(server.url, images)
            result.bare_runs_ms.append(bare_s / size * 1e3)
            if bare_s / size * 1e3 <= min(result.bare_runs_ms):
                result.bare_s, result.bare_ms = bare_s, bare_s / size * 1e3
            # 3. kit replay: no server now, and the endpoint still names a stopped one
            replayed = profile("kit", kit_replay) if profile else kit_replay()
            result.kit_same_answers = result.kit_same_answers and list(replayed) == list(recorded.records)
            # 4. boto3 floor
            result.floor_runs_ms.append(floor_loop(images) / size * 1e3)
            result.floor_ms = min(result.floor_runs_ms)
            _log(
                f"{size}: round {round_}/{repeats}: bare boto3 {result.bare_runs_ms[-1]:.2f} ms/call, kit replay "
                f"{result.kit_replay_runs_ms[-1]:.2f} ms/call (same answers: {result.kit_same_answers}), boto3 "
                f"floor {result.floor_runs_ms[-1]:.2f} ms/call"
            )

        # 5. vcrpy's default cassette
        if baseline:
            path = workdir / f"default{size}.yaml"
            server = serve(emulator)
            try:
                start = time.perf_counter()
                live = vcr_record(server.url, images, path, body_matcher)
                result.vcr_record_s = time.perf_counter() - start
            finally:
                server.close()
            result.vcr_cassette_mb = _mb(path)
            _log(f"{size}: vcrpy default record {result.vcr_record_s:.1f} s")

            def default_replay() -> list[list[dict[str, Any]]]:
                load_s, calls_s, answers = vcr_replay(server.url, images, path, body_matcher)
                result.vcr_load_s = load_s
                result.vcr_replay_s = load_s + calls_s
                result.vcr_replay_ms = calls_s / size * 1e3
                return answers

            answers = profile("vcrpy", default_replay) if profile else default_replay()
            result.vcr_same_answers = answers == live
            _log(
                f"{size}: vcrpy default replay {result.vcr_replay_s:.1f} s ({result.vcr_replay_ms:.2f} ms/call), "
                f"same answers: {result.vcr_same_answers}"
            )
    return result


# ------------------------------------------------------------------------------------------------
# Profiling
# ------------------------------------------------------------------------------------------------


def profile_report(label: str, profiler: cProfile.Profile, calls: int, top: int = 10) -> str:
    """Top ``top`` cumulative entries from the kit's and vcrpy's code, and own time by package."""
    stats = pstats.Stats(profiler)
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in table.values())
    lines = [f"### {label}: one replay of {calls:,} calls under cProfile (total own time {total:.2f} s)", ""]
    lines += [
        "Top cumulative entries in the kit's (`conformance/`) and vcrpy's (`vcr/`) code:",
        "",
        "| cumulative s | µs/replayed call | calls | own s | function |",
        "|---|---|---|---|---|",
    ]
    ours = [
        (key, value)
        for key, value in table.items()
        if _package(key[0]) in ("conformance", "vcr") and not key[2].startswith("<")
    ]
    ours.sort(key=lambda item: item[1][3], reverse=True)
    for (filename, line, name), (_, ncalls, tt, ct, _) in ours[:top]:
        where = Path(filename)
        short = (
            "/".join(where.parts[where.parts.index(_package(filename)) :])
            if _package(filename) in where.parts
            else filename
        )
        lines.append(f"| {ct:.2f} | {ct / calls * 1e6:.0f} | {ncalls:,} | {tt:.2f} | `{short}:{line}({name})` |")
    by_package: dict[str, float] = {}
    for (filename, _, _), (_, _, tt, _, _) in table.items():
        by_package[_package(filename)] = by_package.get(_package(filename), 0.0) + tt
    lines += ["", "Own time by package (where a replayed call's time goes):", ""]
    lines += ["| package | own s | share | µs/call |", "|---|---|---|---|"]
    rest = 0.0
    for name, tt in sorted(by_package.items(), key=lambda item: item[1], reverse=True):
        if tt < total / 100:
            rest += tt
            continue
        label = f"{name} (its body_equal matcher)" if name == "benchmarks" else name
        lines.append(f"| {label} | {tt:.2f} | {tt / total:.0%} | {tt / calls * 1e6:.0f} |")
    lines.append(f"| everything under 1% each | {rest:.2f} | {rest / total:.0%} | {rest / calls * 1e6:.0f} |")
    return "\n".join(lines) + "\n"


def run_profile(size: int, workdir: Path, body_matcher: str, pad_bytes: int) -> str:
    reports: list[str] = []

    def profile(label: str, function: Callable[[], Any]) -> Any:
        profiler = cProfile.Profile()
        value = profiler.runcall(function)
        reports.append(profile_report(label, profiler, size))
        return value

    result = run_size(
        size, workdir, baseline=True, pad_bytes=pad_bytes, body_matcher=body_matcher, repeats=1, profile=profile
    )
    header = (
        f"## Profile of one replay of {size:,} DetectFaces calls\n\n"
        "cProfile inflates every Python call; read shares, not absolute times. "
        f"Under the profiler the kit replayed at {result.kit_replay_ms:.2f} ms/call and the default cassette at "
        f"{result.vcr_replay_ms or 0:.2f} ms/call.\n\n"
    )
    return header + "\n".join(reports)


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------


def fit_quadratic(points: Sequence[tuple[int, float]]) -> Callable[[int], float]:
    """Least-squares ``t = a*N + b*N**2`` through the measured points (``b*N**2`` from a single point)."""
    if len(points) == 1:
        n, t = points[0]
        return lambda size: t * (size / n) ** 2
    s11 = sum(n**2 for n, _ in points)
    s12 = sum(n**3 for n, _ in points)
    s22 = sum(n**4 for n, _ in points)
    y1 = sum(n * t for n, t in points)
    y2 = sum(n**2 * t for n, t in points)
    det = s11 * s22 - s12**2
    a = (y1 * s22 - y2 * s12) / det
    b = (s11 * y2 - s12 * y1) / det
    if b <= 0:  # not quadratic after all (tiny sizes): scale the largest linearly
        n, t = max(points)
        return lambda size: t * size / n
    return lambda size: a * size + b * size**2


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _mbs(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _runs(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values) or "—"


def render(results: Sequence[SizeResult], command: str, machine: str, body_matcher: str, code: str = "") -> str:
    measured = [r for r in results if r.vcr_record_s is not None]
    record_fit = fit_quadratic([(r.size, r.vcr_record_s or 0.0) for r in measured]) if measured else None
    replay_fit = fit_quadratic([(r.size, r.vcr_replay_s or 0.0) for r in measured]) if measured else None
    head = (
        "| size | kit record s | kit replay s | kit replay ms/call | bare boto3 ms/call | replay/bare ratio "
        "| kit store MB | vcrpy default record s | replay s | ms/call | cassette MB |"
    )
    rows = [head, "|" + "---|" * 11]
    for r in results:
        if r.vcr_record_s is not None:
            baseline = [_s(r.vcr_record_s), _s(r.vcr_replay_s), _ms(r.vcr_replay_ms), _mbs(r.vcr_cassette_mb)]
        elif record_fit and replay_fit:
            estimate = record_fit(r.size) + replay_fit(r.size)
            baseline = [
                f"skipped (quadratic; {r.size:,} would take about {estimate:,.0f} s: "
                f"{record_fit(r.size):,.0f} to record, {replay_fit(r.size):,.0f} to replay)",
                "—",
                "—",
                "—",
            ]
        else:
            baseline = ["skipped", "—", "—", "—"]
        cells = [
            f"{r.size:,}",
            _s(r.kit_record_s),
            _s(r.kit_replay_s),
            _ms(r.kit_replay_ms),
            _ms(r.bare_ms),
            f"{r.kit_replay_ms / r.bare_ms:.2f}",
            _mbs(r.kit_store_mb),
            *baseline,
        ]
        rows.append("| " + " | ".join(cells) + " |")

    detail = [
        "| size | kit replay set-up s | kit replay ms/call, each round | bare boto3 ms/call, each round "
        "| boto3 floor ms/call | kit replay − floor ms/call | vcrpy load s | vcrpy ms/call ÷ kit ms/call "
        "| same answers (kit, vcrpy) |",
        "|" + "---|" * 9,
    ]
    for r in results:
        speedup = f"{r.vcr_replay_ms / r.kit_replay_ms:.1f}×" if r.vcr_replay_ms else "—"
        same = f"{'yes' if r.kit_same_answers else 'NO'}, " + (
            "—" if r.vcr_same_answers is None else "yes" if r.vcr_same_answers else "NO"
        )
        detail.append(
            f"| {r.size:,} | {r.kit_open_s:.2f} | {_runs(r.kit_replay_runs_ms)} | {_runs(r.bare_runs_ms)} | "
            f"{r.floor_ms:.2f} | {r.kit_replay_ms - r.floor_ms:.2f} | {_s(r.vcr_load_s)} | {speedup} | {same} |"
        )

    lines = [
        "# Replay benchmark results",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine}" + (f"; {code}" if code else ""),
        "",
        "Ratios are what matter: this machine's speed drifts by tens of percent within a session, so compare "
        "columns of one run with each other, not with another run's absolute times.",
        "",
        *rows,
        "",
        "- kit replay s includes the replay set-up (loading the store's index and keying every photo); "
        "kit replay ms/call is the calls alone, per call. vcrpy replay s includes loading the YAML cassette; "
        "its ms/call is the calls alone.",
        f"- bare boto3, kit replay and the boto3 floor ran in {max(len(r.kit_replay_runs_ms) for r in results)} "
        "back-to-back rounds per size; the fastest round of each is shown (all rounds are listed below). The "
        "recordings and the default cassette ran once.",
        "- bare boto3: a plain boto3 client calling the kit's emulator on loopback (emulator in the same "
        "process, on a thread), no vcrpy. The replay/bare ratio compares the kit's replay per call with it.",
        f"- vcrpy default: `vcr.VCR(match_on=[method, uri, {'body_equal' if body_matcher == 'equal' else 'body'}])`, "
        "YAML serializer, `allow_playback_repeats=False`"
        + (
            "; `body_equal` compares bodies as bytes (vcrpy's built-in `body` matcher would also build a diff on "
            "every mismatch: slower still)."
            if body_matcher == "equal"
            else "."
        ),
    ]
    if record_fit:
        lines.append(
            "- Skipped baseline sizes are extrapolated by a least-squares fit of `a·N + b·N²` to the measured sizes."
        )
    flat = sorted(results, key=lambda r: r.size)
    if len(flat) >= 2:
        small, large = flat[0], flat[-1]
        lines += [
            "",
            f"Flatness: kit replay ms/call at {large.size:,} ÷ at {small.size:,} = "
            f"{large.kit_replay_ms / small.kit_replay_ms:.2f} (bare boto3 over the same sizes: "
            f"{large.bare_ms / small.bare_ms:.2f}; boto3 floor: {large.floor_ms / small.floor_ms:.2f}).",
        ]
    lines += ["", "Where the time goes, per size:", "", *detail, ""]
    notes = [f"- {r.size:,}: {note}" for r in results for note in r.notes]
    if notes:
        lines += ["Notes:", "", *notes, ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be comma-separated integers, not {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("give at least one size, each at least 1")
    return sizes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/replay.py",
        description="Replay benchmark: the kit's indexed recording store against vcrpy's default cassette.",
    )
    parser.add_argument(
        "--sizes", type=_sizes, default=[1000, 5000, 20000], help="photo counts (default 1000,5000,20000)"
    )
    parser.add_argument(
        "--baseline-max",
        type=int,
        default=5000,
        help="largest size run against vcrpy's default cassette (quadratic; default 5000); larger sizes are extrapolated",
    )
    parser.add_argument("--out", type=Path, help="write the Markdown results here too")
    parser.add_argument(
        "--pad-bytes", type=int, default=0, help="pad each PNG by this many bytes (default 0: ~100-byte images)"
    )
    parser.add_argument(
        "--vcr-body-matcher",
        choices=("equal", "builtin"),
        default="equal",
        help="body matcher for the default cassette: bytes equality (default) or vcrpy's built-in 'body'",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="rounds of bare boto3 / kit replay / boto3 floor per size; the fastest of each counts (default 3)",
    )
    parser.add_argument(
        "--in-process", action="store_true", help="run every size in this process, not one process per size"
    )
    parser.add_argument(
        "--profile", type=int, metavar="N", help="instead: profile one replay of N calls (kit and default cassette)"
    )
    parser.add_argument("--profile-out", type=Path, help="with --profile: write the profile report here too")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary folder)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-json", type=Path, help=argparse.SUPPRESS)
    return parser


@contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as folder:
        yield Path(folder)


def _run_worker(size: int, args: argparse.Namespace, workdir: Path) -> SizeResult:
    out = workdir / f"result{size}.json"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        str(size),
        "--worker-json",
        str(out),
        "--baseline-max",
        str(args.baseline_max),
        "--pad-bytes",
        str(args.pad_bytes),
        "--vcr-body-matcher",
        args.vcr_body_matcher,
        "--repeats",
        str(args.repeats),
        "--keep",
        str(workdir),
    ]
    subprocess.run(command, check=True)
    return SizeResult(**json.loads(out.read_text(encoding="utf-8")))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    if args.worker is not None:
        with _workdir(args.keep) as workdir:
            result = run_size(
                args.worker,
                workdir,
                baseline=args.worker <= args.baseline_max,
                pad_bytes=args.pad_bytes,
                body_matcher=args.vcr_body_matcher,
                repeats=args.repeats,
            )
        args.worker_json.write_text(json.dumps(asdict(result)), encoding="utf-8")
        return 0
    if args.profile is not None:
        with _workdir(args.keep) as workdir:
            text = run_profile(args.profile, workdir, args.vcr_body_matcher, args.pad_bytes)
        print(text)
        if args.profile_out:
            args.profile_out.write_text(text, encoding="utf-8")
        return 0

    command = "python benchmarks/replay.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    results: list[SizeResult] = []
    with _workdir(args.keep) as workdir:
        for size in args.sizes:
            if args.in_process:
                results.append(
                    run_size(
                        size,
                        workdir,
                        baseline=size <= args.baseline_max,
                        pad_bytes=args.pad_bytes,
                        body_matcher=args.vcr_body_matcher,
                        repeats=args.repeats,
                    )
                )
            else:
                results.append(_run_worker(size, args, workdir))
            if args.keep is None:  # free the disk as we go: sizes are independent
                for name in (f"bench{size}", f"cassettes{size}", f"default{size}.yaml"):
                    _remove(workdir / name)
    text = render(results, command, machine_line(LIBRARIES), args.vcr_body_matcher, code_line())
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    failed = [r.size for r in results if not r.kit_same_answers or r.vcr_same_answers is False]
    if failed:
        print(f"replay gave different answers from the recording at sizes {failed}", file=sys.stderr)
        return 1
    return 0


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
