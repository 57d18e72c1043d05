"""Scale benchmark: the predictions path, from manifest to reports, at 1k / 10k / 100k photos.

    python benchmarks/scale.py --sizes 1000,10000,100000 --out benchmarks/scale-results.md

For each size N the script writes N distinct 8x8 PNGs of about N/3 subjects (three photos each;
groups cis / trans / nonbinary 3:2:1, as in the shipped demo), a manifest and a predictions file
in the gender demo's style (a Male/Female label and a confidence per photo, some misgendered, a few
photos with no face or an error) into a temporary folder, then times, in one process:

1. **setup**: writing the files (reported, not counted in the total);
2. **load**: ``load_dataset`` (reads and hashes every image, opens its header with Pillow);
3. **analyse**: what ``load_context`` does after loading: the ``predictions`` adapter reads its
   file, ``plan_variants`` + ``analyze_dataset`` build the observations, ``group_labels`` the groups;
4. **each gender check** through ``conformance.checks.run_check`` with the default policy
   (subject bootstrap of 2,000 resamples), on the run's groups and reference;
5. **reports**: what the plugin does at the end of a run: the context payload (as its fixture
   makes it) and each result through a JSON round trip, ``build_report``, then ``write_json``,
   ``write_markdown`` and ``write_html`` (the last two call ``render_markdown`` and ``render_html``).

Each size runs in its own Python process (``--worker``), so peak RSS (``ru_maxrss``) is that
size's. A second process per size repeats the steps on the same files under ``tracemalloc`` for the
Python heap's peak per step (tracemalloc slows allocation-heavy code, so its times are not used).
A step that runs longer than ``--step-limit`` seconds (default 600) is stopped; the table then
shows the extrapolation from the smaller sizes and says so. ``--profile-size N`` (default 10000
when it is among the sizes) adds a cProfile of one run of N photos to the results.

Ratios are what matter: absolute times on a shared machine drift by tens of percent.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import json
import math
import os
import pstats
import random
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# Tests load this script by its path: put its folder on sys.path so that it finds its sibling module.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import REPO, code_line, machine_line
from _machine import package_of as _package

# Printed with their versions in the results' machine line: (name, module to import).
LIBRARIES = (("numpy", "numpy"), ("scipy", "scipy"), ("statsmodels", "statsmodels"), ("Pillow", "PIL"))
SEED = 20261121  # the kit's default seed (conformance.run.context.DEFAULT_SEED)
# Issue 15, item 4: a million photos through every gender check on the predictions path, on a 2-core machine.
GOAL_SECONDS = 60.0
GOAL_MB = 1.5e9 / 2**20  # 1.5 GB, in MiB like ru_maxrss / 1024
GOAL_SIZE = 1_000_000

# ------------------------------------------------------------------------------------------------
# Synthetic data
# ------------------------------------------------------------------------------------------------

# Subjects per group in the ratio of the shipped demo (300 / 200 / 100 photos): cis, trans, nonbinary.
GROUP_CYCLE = ("cis", "cis", "cis", "trans", "trans", "nonbinary")
# Self-described labels (each normalises to woman / man / nonbinary) and trans status, per group.
LABELS = {
    "cis": (("woman", "no"), ("man", "no"), ("female", "no"), ("male", "no"), ("cis woman", "no"), ("cis man", "no")),
    "trans": (("trans woman", "yes"), ("trans man", "yes"), ("woman", "yes"), ("man", "yes"), ("female", "yes")),
    "nonbinary": (("nonbinary", "no"), ("genderqueer", "yes"), ("agender", "unknown"), ("genderfluid", "yes")),
}
BINARY = {"woman": "woman", "female": "woman", "cis woman": "woman", "trans woman": "woman"}
# Published audit figures the demo reproduces: trans people misgendered in 31% of photos, cis in 4%;
# a Male/Female vocabulary gives every nonbinary person a binary label.
MISGENDER = {"cis": 0.04, "trans": 0.31}
CONFIDENCE = {"cis": (90.0, 6.0), "trans": (93.0, 4.0), "nonbinary": (91.0, 5.0)}  # mean, sd (0-100)
NO_FACE, ERROR = 0.02, 0.005  # shares of photos with no face found / a failed call
SKIN = ("lighter", "darker")
AGE = ("18-29", "30-44", "45-64", "65+")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


_SIGNATURE_AND_HEADER = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", (8).to_bytes(4, "big") * 2 + bytes((8, 2, 0, 0, 0)))
_IEND = _chunk(b"IEND", b"")
_SCANLINES = bytes(8 * 25)  # 8 rows: a filter byte and 8 RGB pixels each
# A zlib stream of one stored (uncompressed) deflate block: the pixels sit in it verbatim, so an image
# is the template with its pixels patched, the Adler-32 and the chunk's CRC recomputed. No compression.
_ZLIB_STORED = (
    b"\x78\x01\x01" + len(_SCANLINES).to_bytes(2, "little") + (len(_SCANLINES) ^ 0xFFFF).to_bytes(2, "little")
)


def make_png(index: int, pad: bytes = b"") -> bytes:
    """An 8x8 RGB PNG whose first pixels spell ``index`` (so every image has its own digest).

    ``pad`` is the body of a private ancillary chunk after the pixels, for photo-sized files.
    """
    raw = bytearray(_SCANLINES)
    raw[1:9] = index.to_bytes(8, "big")
    idat = _ZLIB_STORED + raw + zlib.adler32(raw).to_bytes(4, "big")
    return _SIGNATURE_AND_HEADER + _chunk(b"IDAT", idat) + (_chunk(b"bnCh", pad) if pad else b"") + _IEND


def write_dataset(root: Path, size: int, seed: int = SEED, pad_bytes: int = 0) -> tuple[Path, Path]:
    """Write ``size`` photos, ``manifest.csv`` and ``predictions.jsonl`` under ``root``, streaming.

    Photo ``i`` belongs to subject ``i // 3``; a subject's group follows :data:`GROUP_CYCLE`. Each
    subject has its own misgendering propensity (between 0 and twice its group's rate), so photos of
    one person are correlated, as the subject bootstrap assumes.
    """
    rng = random.Random(seed)
    header = {
        "analyzer": "scale-benchmark",
        "version": "1",
        "vocabulary": ["Male", "Female"],
        "simulated": True,
        "note": "SIMULATED output written by benchmarks/scale.py",
    }
    pad = bytes(pad_bytes)
    subject_state: tuple[str, str, str, str, float, str, str] = ("", "", "", "", 0.0, "", "")
    with (
        (root / "manifest.csv").open("w", encoding="utf-8") as manifest,
        (root / "predictions.jsonl").open("w", encoding="utf-8") as predictions,
    ):
        manifest.write("photo,subject,gender_identity,trans,skin_type,age_band\n")
        predictions.write(json.dumps(header) + "\n")
        for index in range(size):
            if index % 3 == 0:
                subject = index // 3
                group = GROUP_CYCLE[subject % len(GROUP_CYCLE)]
                label, trans = rng.choice(LABELS[group])
                identity = "nonbinary" if group == "nonbinary" else BINARY.get(label, "man")
                propensity = min(1.0, MISGENDER.get(group, 1.0) * rng.uniform(0.0, 2.0))
                subject_state = (f"s{subject:06d}", group, label, trans, propensity, rng.choice(SKIN), rng.choice(AGE))
            sid, group, label, trans, propensity, skin, age = subject_state
            folder = root / "img" / f"{index // 1000:03d}"
            if index % 1000 == 0:
                folder.mkdir(parents=True, exist_ok=True)
            photo = f"img/{index // 1000:03d}/{index:06d}.png"
            handle = os.open(root / photo, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(handle, make_png(index, pad))
            finally:
                os.close(handle)
            manifest.write(f"{photo},{sid},{label},{trans},{skin},{age}\n")
            draw = rng.random()
            record: dict[str, Any]
            if draw < ERROR:
                record = {"photo": photo, "error": "InvalidImageFormatException"}
            elif draw < ERROR + NO_FACE:
                record = {"photo": photo, "faces": []}
            else:
                if group == "nonbinary":
                    gender = rng.choice(("Male", "Female"))
                else:
                    right = "Female" if identity == "woman" else "Male"
                    wrong = rng.random() < propensity
                    gender = ("Male" if right == "Female" else "Female") if wrong else right
                mean, sd = CONFIDENCE[group]
                confidence = round(min(99.9, max(50.0, rng.gauss(mean, sd))), 1)
                box = [round(0.25 + rng.uniform(-0.05, 0.05), 3), 0.2, 0.5, 0.6]
                record = {"photo": photo, "faces": [{"gender": gender, "confidence": confidence, "box": box}]}
            predictions.write(json.dumps(record) + "\n")
    return root / "manifest.csv", root / "predictions.jsonl"


# ------------------------------------------------------------------------------------------------
# Measurements
# ------------------------------------------------------------------------------------------------

REPORT_PARTS = ("payload", "build", "json", "markdown", "html")


@dataclass
class SizeResult:
    """The numbers of one size (seconds; memory in MiB)."""

    size: int
    subjects: int = 0
    imports_s: float = 0.0
    setup_s: float = 0.0
    steps_s: dict[str, float] = field(default_factory=dict)  # load, analyse, each check, reports
    # CPU seconds of this process within each step (not its image workers'): what a busy machine's
    # other work does not inflate as it does the wall-clock seconds.
    cpu_steps_s: dict[str, float] = field(default_factory=dict)
    report_parts_s: dict[str, float] = field(default_factory=dict)
    timed_out: list[str] = field(default_factory=list)  # steps stopped at the limit
    not_run: list[str] = field(default_factory=list)  # steps that needed a stopped one (or were skipped)
    rss_start_mb: float = 0.0  # resident after imports, before the data
    peak_rss_mb: float = 0.0  # ru_maxrss at the end
    peak_rss_after_mb: dict[str, float] = field(default_factory=dict)  # ru_maxrss after each step
    traced_peak_mb: dict[str, float] = field(default_factory=dict)  # tracemalloc peak within each step
    traced_retained_mb: dict[str, float] = field(default_factory=dict)  # traced memory alive after each step
    verdicts: dict[str, str] = field(default_factory=dict)
    reports_mb: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    code: str = "this tree"  # which kit ran: this tree, or the baseline commit of --baseline
    cpu_s: float = 0.0  # user + system CPU time of the steps, this process and its children (image workers)
    children_peak_rss_mb: float = 0.0  # the largest peak RSS (VmHWM) of an image worker process, 0 without

    @property
    def total_s(self) -> float:
        return sum(self.steps_s.values())


class StepTimeout(Exception):
    """A step ran past ``--step-limit``."""


@contextmanager
def _limit(seconds: float) -> Iterator[None]:
    """Raise :class:`StepTimeout` in the block after ``seconds`` (SIGALRM; Python code is interrupted
    between bytecodes, which is where these steps spend their time)."""

    def expire(signum: int, frame: Any) -> None:
        raise StepTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _log(message: str) -> None:
    print(f"[scale-bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and of its children that have ended (image workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _peak_rss_of(pid: int) -> float:
    """A running process's peak resident memory (VmHWM, Linux) in MiB; 0 when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _import_heavy() -> None:
    """What the first check would otherwise import inside its timing: numpy, scipy, statsmodels, Pillow."""
    import importlib

    for module in (
        "numpy",
        "PIL.Image",
        "scipy.optimize",
        "scipy.stats",
        "statsmodels.stats.proportion",
        "conformance.checks.gender",
        "conformance.plugin",
        "conformance.reporting",
    ):
        importlib.import_module(module)


def run_size(
    size: int,
    root: Path,
    *,
    write: bool = True,
    trace: bool = False,
    step_limit: float = 600.0,
    skip: Sequence[str] = (),
    profiler: cProfile.Profile | None = None,
    pad_bytes: int = 0,
) -> SizeResult:
    """Measure one size in this process (see the module docstring for the steps and their order).

    ``write`` False reuses the files already under ``root``; ``trace`` records tracemalloc peaks;
    steps named in ``skip`` are not run (they timed out in the timing pass).
    """
    result = SizeResult(size=size, subjects=math.ceil(size / 3))
    start = time.perf_counter()
    _import_heavy()
    result.imports_s = time.perf_counter() - start
    result.rss_start_mb = _rss_mb()

    from conformance.adapters.base import AdapterSettings
    from conformance.adapters.registry import create
    from conformance.checks import GENDER_CHECKS, run_check
    from conformance.dataset import group_labels, load_dataset
    from conformance.plugin import _context_payload
    from conformance.policy import PROFILES
    from conformance.reporting import build_report, write_html, write_json, write_markdown
    from conformance.results import CheckResult
    from conformance.run.context import Context, RunOptions
    from conformance.run.runner import analyze_dataset, plan_variants

    if write and not (root / "manifest.csv").exists():
        root.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        write_dataset(root, size, pad_bytes=pad_bytes)
        result.setup_s = time.perf_counter() - start
        _log(f"{size}: wrote {size:,} photos in {result.setup_s:.1f} s")
    manifest, predictions = root / "manifest.csv", root / "predictions.jsonl"
    policy = PROFILES["default"]
    options = RunOptions(dataset=str(manifest), analyzer=f"predictions:{predictions}", seed=SEED)
    state: dict[str, Any] = {}

    def load() -> None:
        state["dataset"] = load_dataset(manifest, identity_map=policy.identity)

    # The image workers' own peak memory (VmHWM), read just before they stop. getrusage's children figure
    # would count each worker's moment as a fork of this process, before it became a small Python.
    images = importlib.import_module("conformance.images")
    checker = getattr(images, "ImageChecker", None)  # a baseline kit may check images in this process
    if checker is not None and hasattr(checker, "close"):
        close = checker.__dict__.get("_unmeasured_close", checker.close)  # the original, however many sizes ran
        checker._unmeasured_close = close

        def measured_close(self: Any) -> None:
            for process in getattr(self, "_processes", []):
                result.children_peak_rss_mb = max(result.children_peak_rss_mb, _peak_rss_of(process.pid))
            close(self)

        checker.close = measured_close

    def analyse() -> None:
        dataset = state["dataset"]
        analyzer = create(options.analyzer or "", dataset=dataset, settings=AdapterSettings())
        plan = plan_variants(
            dataset, photos=policy.invariance_photos, transforms=policy.invariance_transforms, seed=SEED
        )
        state["observations"] = analyze_dataset(analyzer, dataset, variants=plan)
        state["groups"] = tuple(group_labels(dataset))

    def check(check_id: str) -> Callable[[], None]:
        def run() -> None:
            outcome = run_check(
                check_id, state["observations"], groups=state["groups"], reference="cis", policy=policy, seed=SEED
            )
            state.setdefault("results", {})[check_id] = outcome

        return run

    def reports() -> None:
        folder = root / "reports"
        parts = result.report_parts_s
        clock = time.perf_counter()
        context = Context(
            options=options,
            analyzer_spec=options.analyzer or "",
            settings=AdapterSettings(),
            dataset=state["dataset"],
            observations=state["observations"],
            policy=policy,
            groups=state["groups"],
            reference="cis",
            checks=GENDER_CHECKS,
        )
        # As the plugin records them: the context payload as the plugin's fixture makes it (plain JSON
        # types but the photos, which a kit since issue 15 makes when the writers read them), each result
        # through a JSON round trip (what xdist can carry), read back typed as the plugin's collector reads it.
        payload = _context_payload(context)
        checks = [CheckResult.from_dict(json.loads(json.dumps(r.to_dict()))) for r in state.get("results", {}).values()]
        parts["payload"], clock = time.perf_counter() - clock, time.perf_counter()
        report = build_report(checks, context=payload)
        parts["build"], clock = time.perf_counter() - clock, time.perf_counter()
        write_json(report, folder / "report.json")
        parts["json"], clock = time.perf_counter() - clock, time.perf_counter()
        write_markdown(report, folder / "report.md")
        parts["markdown"], clock = time.perf_counter() - clock, time.perf_counter()
        write_html(report, folder / "report.html")
        parts["html"] = time.perf_counter() - clock

    steps: list[tuple[str, Callable[[], None], tuple[str, ...]]] = [
        ("load", load, ()),
        ("analyse", analyse, ("load",)),
        *((c, check(c), ("analyse",)) for c in GENDER_CHECKS),
        ("reports", reports, ("analyse",)),
    ]
    if trace:
        tracemalloc.start()
    gc.collect()
    cpu_start = _cpu_s()
    for name, function, needs in steps:
        if name in skip or any(n in result.timed_out or n in result.not_run for n in needs):
            result.not_run.append(name)
            continue
        if trace:
            tracemalloc.reset_peak()
        start = time.perf_counter()
        cpu = time.process_time()
        try:
            with _limit(step_limit):
                if profiler is not None:
                    profiler.runcall(function)
                else:
                    function()
        except StepTimeout:
            result.timed_out.append(name)
            _log(f"{size}: {name} stopped after {step_limit:.0f} s")
            continue
        result.steps_s[name] = time.perf_counter() - start
        result.cpu_steps_s[name] = time.process_time() - cpu
        result.peak_rss_after_mb[name] = _peak_rss_mb()
        if trace:
            current, peak = tracemalloc.get_traced_memory()
            result.traced_peak_mb[name] = peak / 2**20
            result.traced_retained_mb[name] = current / 2**20
        _log(
            f"{size}: {name} {result.steps_s[name]:.2f} s, peak RSS so far {result.peak_rss_after_mb[name]:.0f} MB"
            + (f", traced peak {result.traced_peak_mb[name]:.0f} MB" if trace else "")
        )
    if trace:
        tracemalloc.stop()
    result.cpu_s = _cpu_s() - cpu_start
    result.peak_rss_mb = _peak_rss_mb()
    result.verdicts = {c: str(r.verdict) for c, r in state.get("results", {}).items()}
    for name in ("report.json", "report.md", "report.html"):
        path = root / "reports" / name
        if path.exists():
            result.reports_mb[name] = path.stat().st_size / 1e6
    return result


# ------------------------------------------------------------------------------------------------
# Profiling
# ------------------------------------------------------------------------------------------------


def _where(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return name
    parts = Path(filename).parts
    package = _package(filename)
    short = "/".join(parts[parts.index(package) :]) if package in parts else "/".join(parts[-2:])
    return f"{short}:{line}({name})"


def profile_report(profiler: cProfile.Profile, size: int, wall_s: float, top: int = 15) -> str:
    """Top ``top`` cumulative entries in the kit's code, top own-time entries anywhere, own time by package."""
    stats = pstats.Stats(profiler)
    table: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in table.values())
    lines = [
        f"## Profile of one run of {size:,} photos (load, analyse, every gender check, reports)",
        "",
        f"cProfile inflates every Python call: the steps took {wall_s:.1f} s under the profiler "
        f"(total own time {total:.1f} s). Read shares, not absolute times.",
        "",
        f"Top {top} cumulative entries in the kit's code (`conformance/`):",
        "",
        "| cumulative s | share | calls | own s | function |",
        "|---|---|---|---|---|",
    ]
    ours = [(k, v) for k, v in table.items() if _package(k[0]) == "conformance" and not k[2].startswith("<")]
    ours.sort(key=lambda item: item[1][3], reverse=True)
    for (filename, line, name), (_, ncalls, tt, ct, _) in ours[:top]:
        lines.append(f"| {ct:.2f} | {ct / total:.0%} | {ncalls:,} | {tt:.2f} | `{_where(filename, line, name)}` |")
    anywhere = sorted(table.items(), key=lambda item: item[1][2], reverse=True)
    lines += [
        "",
        f"Top {top} by own time, anywhere (where the time is actually spent):",
        "",
        "| own s | share | calls | function |",
        "|---|---|---|---|",
    ]
    for (filename, line, name), (_, ncalls, tt, _, _) in anywhere[:top]:
        lines.append(f"| {tt:.2f} | {tt / total:.0%} | {ncalls:,} | `{_where(filename, line, name)}` |")
    by_package: dict[str, float] = {}
    for (filename, _, _), (_, _, tt, _, _) in table.items():
        by_package[_package(filename)] = by_package.get(_package(filename), 0.0) + tt
    lines += ["", "Own time by package:", "", "| package | own s | share |", "|---|---|---|"]
    rest = 0.0
    for name, tt in sorted(by_package.items(), key=lambda item: item[1], reverse=True):
        if tt < total / 100:
            rest += tt
            continue
        lines.append(f"| {name} | {tt:.2f} | {tt / total:.0%} |")
    lines.append(f"| everything under 1% each | {rest:.2f} | {rest / total:.0%} |")
    return "\n".join(lines) + "\n"


def run_profile(size: int, root: Path, step_limit: float, pad_bytes: int = 0) -> str:
    profiler = cProfile.Profile()
    write = not (root / "manifest.csv").exists()  # the timing pass's files, when it left them
    result = run_size(size, root, write=write, step_limit=step_limit, profiler=profiler, pad_bytes=pad_bytes)
    return profile_report(profiler, size, result.total_s)


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------


def extrapolate(points: Sequence[tuple[int, float]], size: int) -> float | None:
    """``t = c * N**b`` through the two largest measured sizes below ``size`` (linear from one point)."""
    below = sorted(p for p in points if p[0] < size)
    if not below:
        return None
    if len(below) == 1:
        n, t = below[0]
        return t * size / n
    (n1, t1), (n2, t2) = below[-2], below[-1]
    exponent = math.log(t2 / t1) / math.log(n2 / n1) if t1 > 0 and t2 > 0 else 1.0
    return float(t2 * (size / n2) ** max(exponent, 1.0))  # at least linear: every step touches every photo


def _steps(results: Sequence[SizeResult]) -> list[str]:
    from conformance.checks import GENDER_CHECKS

    return ["load", "analyse", *GENDER_CHECKS, "reports"]


def _cell(results: Sequence[SizeResult], r: SizeResult, step: str) -> tuple[str, float]:
    """A step's cell and the seconds it stands for (measured, or extrapolated when it timed out)."""
    if step in r.steps_s:
        return f"{r.steps_s[step]:,.2f}", r.steps_s[step]
    points = [(o.size, o.steps_s[step]) for o in results if step in o.steps_s]
    estimate = extrapolate(points, r.size)
    what = "stopped" if step in r.timed_out else "not run"
    if estimate is None:
        return what, math.nan
    return (
        f"{what}; ≈{estimate:,.1f} extrapolated" if estimate < 10 else f"{what}; ≈{estimate:,.0f} extrapolated",
        estimate,
    )


def _short(check_id: str) -> str:
    return {
        "misgender_gap": "misgender",
        "nonbinary_representability": "nonbinary repr.",
        "same_person_consistency": "consistency",
        "transformation_invariance": "invariance",
        "confidence_calibration": "calibration",
        "detection_failure_gap": "detection",
    }.get(check_id, check_id)


def _summary_row(r: SizeResult, check_steps: Sequence[str]) -> tuple[list[float], str]:
    """Load, analyse, all checks, reports, total (seconds), CPU seconds (all checks, reports, all), peak RSS
    and workers' RSS (MiB)."""
    checks = sum(r.steps_s.get(c, math.nan) for c in check_steps)
    # A result from before per-step CPU times were kept has none: nan, shown as such.
    checks_cpu = sum(r.cpu_steps_s.get(c, math.nan) for c in check_steps)
    values = [r.steps_s.get("load", math.nan), r.steps_s.get("analyse", math.nan), checks]
    values += [r.steps_s.get("reports", math.nan), r.total_s, checks_cpu, r.cpu_steps_s.get("reports", math.nan)]
    values += [r.cpu_s, r.peak_rss_mb, r.children_peak_rss_mb]
    stopped = " (steps stopped)" if r.timed_out or r.not_run else ""
    return values, stopped


def render_baseline(results: Sequence[SizeResult], baseline: Sequence[SizeResult]) -> list[str]:
    """The before / after table: each size with the baseline kit and this tree, and their ratios."""
    from conformance.checks import GENDER_CHECKS

    head = (
        "| size | kit | load s | analyse s | six checks s | reports s | total s | six checks CPU s | reports CPU s "
        "| CPU s | peak RSS MB | image workers' peak RSS MB |"
    )
    lines = [head, "|" + "---|" * 12]
    by_size = {r.size: r for r in baseline}
    for r in results:
        before = by_size.get(r.size)
        if before is None:
            continue
        old, old_note = _summary_row(before, GENDER_CHECKS)
        new, new_note = _summary_row(r, GENDER_CHECKS)
        for label, values, note in ((before.code, old, old_note), ("this tree", new, new_note)):
            cells = [
                f"{v:,.2f}" if i in (5, 6) else f"{v:,.1f}" if i < 8 else f"{v:,.0f}" for i, v in enumerate(values)
            ]
            lines.append(f"| {r.size:,} | {label}{note} | " + " | ".join(cells) + " |")
        ratios = [
            f"{n / o:.2f}×" if o > 0 and not math.isnan(o) and not math.isnan(n) else "—"
            for n, o in zip(new, old, strict=True)
        ]
        lines.append(f"| {r.size:,} | ratio (this tree / baseline) | " + " | ".join(ratios) + " |")
    return lines


def render(
    results: Sequence[SizeResult],
    command: str,
    machine: str,
    code: str,
    date: str,
    profile: str,
    pad_bytes: int = 0,
    baseline: Sequence[SizeResult] = (),
) -> str:
    steps = _steps(results)
    check_steps = steps[2:-1]
    image = f"8x8 PNGs padded to {pad_bytes + 268:,} bytes" if pad_bytes else "distinct 8x8 PNGs (268 bytes)"
    head = (
        "| size | load s | analyse s | "
        + " | ".join(f"{_short(c)} s" for c in check_steps)
        + " | reports s | total s | peak RSS MB |"
    )
    rows = [head, "|" + "---|" * (len(steps) + 3)]
    totals: dict[int, tuple[float, bool]] = {}
    for r in results:
        cells, total, estimated = [], 0.0, False
        for step in steps:
            text, seconds = _cell(results, r, step)
            cells.append(text)
            total += seconds
            estimated = estimated or step not in r.steps_s
        totals[r.size] = (total, estimated)
        total_text = f"≈{total:,.0f} (extrapolated steps included)" if estimated else f"{total:,.1f}"
        rows.append(f"| {r.size:,} | " + " | ".join(cells) + f" | {total_text} | {r.peak_rss_mb:,.0f} |")

    detail = [
        "| size | subjects | setup s (not counted) | imports s (not counted) | RSS after imports MB "
        "| peak RSS after load / analyse / checks / reports MB | traced peak load / analyse / checks / reports MB "
        "| reports: payload / build / json / md / html s | report.json / .md / .html MB |",
        "|" + "---|" * 9,
    ]
    for r in results:
        after = [
            r.peak_rss_after_mb.get(s)
            for s in (
                "load",
                "analyse",
                next((c for c in reversed(check_steps) if c in r.peak_rss_after_mb), ""),
                "reports",
            )
        ]
        check_peak = max((r.traced_peak_mb.get(c, 0.0) for c in check_steps), default=0.0)
        traced = [
            r.traced_peak_mb.get("load"),
            r.traced_peak_mb.get("analyse"),
            check_peak or None,
            r.traced_peak_mb.get("reports"),
        ]
        detail.append(
            f"| {r.size:,} | {r.subjects:,} | {r.setup_s:.1f} | {r.imports_s:.1f} | {r.rss_start_mb:.0f} | "
            + " / ".join("—" if v is None else f"{v:,.0f}" for v in after)
            + " | "
            + " / ".join("—" if v is None else f"{v:,.0f}" for v in traced)
            + " | "
            + " / ".join(f"{r.report_parts_s[p]:.2f}" if p in r.report_parts_s else "—" for p in REPORT_PARTS)
            + " | "
            + " / ".join(
                f"{r.reports_mb[n]:.1f}" if n in r.reports_mb else "—"
                for n in ("report.json", "report.md", "report.html")
            )
            + " |"
        )

    lines = [
        "# Scale benchmark results",
        "",
        f"Command: `{command}`",
        "",
        f"Date: {date}",
        "",
        f"Machine: {machine}; {code}",
        "",
        f"The predictions path, one process per size: N {image} of N/3 subjects (3 each; cis / trans / nonbinary "
        "3:2:1), a Male/Female label and a confidence per photo (cis misgendered 4%, trans 31% with a per-subject "
        "propensity, nonbinary always given a binary label; 2% no face, 0.5% errors). Checks run through "
        "`run_check` with the default policy (2,000 bootstrap resamples of subjects, seed "
        f"{SEED}), reference `cis`. Ratios are what matter: this machine's speed drifts by tens of percent.",
        "",
        *rows,
        "",
        "- load: `load_dataset` (read, SHA-256 and a full Pillow decode of every image, in worker processes from "
        "2,000 photos on; kits before issue 15 opened each image's header and `verify()`d it). analyse: the predictions "
        "adapter reading its file, `plan_variants`, `analyze_dataset`, `group_labels`. reports: the plugin's "
        "context payload (as its fixture makes it) and results through JSON, `build_report`, `write_json`, "
        "`write_markdown` (`render_markdown`), `write_html` (`render_html`).",
        "- total: the sum of those steps; setup (writing the files) and imports are not counted. Peak RSS is "
        "`ru_maxrss` of the size's process at the end (interpreter, numpy/scipy/statsmodels/Pillow and the data).",
        "- The images are read from a warm page cache (the script has just written them) and are tiny unless "
        "`--pad-bytes` is given: reading and hashing real photos costs more (see the README's variants).",
        "- `transformation_invariance` is inconclusive here by design: a predictions file cannot answer for "
        "transformed images, so it costs next to nothing.",
    ]
    if any(r.timed_out or r.not_run for r in results):
        lines.append(
            "- **stopped**: the step ran past the step limit and was stopped; **not run**: a step it needs was "
            "stopped. The figure is then a power-law extrapolation `t = c·N^b` (b at least 1) through the two "
            "largest smaller sizes where the step was measured: an estimate, not a measurement."
        )
    goal = next((r for r in results if r.size == GOAL_SIZE), None)
    if goal is not None:
        total, estimated = totals[goal.size]
        time_ok = total <= GOAL_SECONDS and not estimated
        memory_ok = goal.peak_rss_mb <= GOAL_MB
        lines += [
            "",
            f"**Goal at {GOAL_SIZE:,} photos** (issue 15: 60 s or less and 1.5 GB or less): time "
            f"{'≈' if estimated else ''}{total:,.1f} s: "
            + (
                f"met ({total / GOAL_SECONDS:.0%} of the goal)"
                if time_ok
                else f"missed by {total - GOAL_SECONDS:,.0f} s ({total / GOAL_SECONDS:.1f}× the goal)"
            )
            + f"; peak RSS {goal.peak_rss_mb:,.0f} MB: "
            + (
                f"met ({goal.peak_rss_mb / GOAL_MB:.0%} of the goal)"
                if memory_ok
                else f"missed by {goal.peak_rss_mb - GOAL_MB:,.0f} MB"
            )
            + ".",
        ]
    if baseline:
        lines += [
            "",
            "Before and after, in this run: each size's files run through the baseline kit (its `conformance` "
            "package exported with `git archive`) in a fresh process right after this tree's run. CPU s counts "
            "this process and its image workers over every step; the checks' and the reports' CPU s are this "
            "process's within those steps (on a machine shared with other work they move far less than the "
            "seconds of wall-clock time); peak RSS is this process's, and image workers' peak RSS the "
            "largest of theirs (each is a separate process, about that size).",
            "",
            *render_baseline(results, baseline),
        ]
    lines += ["", "Where the time and memory go, per size:", "", *detail, ""]
    lines.append(
        "- traced peak: the Python heap's peak within each step (tracemalloc, in a second process on the same "
        "files; for checks, the largest of the six). RSS after a step is the process's peak so far."
    )
    verdicts = [f"{r.size:,}: " + ", ".join(f"{_short(c)} {v}" for c, v in r.verdicts.items()) for r in results]
    lines += ["", "Verdicts (a sanity check that the data exercises the checks):", "", *(f"- {v}" for v in verdicts)]
    notes = [f"- {r.size:,}: {note}" for r in results for note in r.notes]
    if notes:
        lines += ["", "Notes:", "", *notes]
    if profile:
        lines += ["", profile]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be comma-separated integers, not {text!r}") from None
    if not sizes or min(sizes) < 3:
        raise argparse.ArgumentTypeError("give at least one size, each at least 3")
    return sorted(sizes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/scale.py",
        description="Scale benchmark: the predictions path through every gender check at growing sizes.",
    )
    parser.add_argument(
        "--sizes", type=_sizes, default=[1000, 10000, 100000], help="photo counts (default 1000,10000,100000)"
    )
    parser.add_argument("--out", type=Path, help="write the Markdown results here too")
    parser.add_argument(
        "--step-limit", type=float, default=600.0, help="stop a step after this many seconds (default 600)"
    )
    parser.add_argument(
        "--profile-size",
        type=int,
        help="also profile one run of this many photos with cProfile (default 10000 when among the sizes; 0: none)",
    )
    parser.add_argument(
        "--pad-bytes",
        type=int,
        default=0,
        help="pad each PNG with a chunk of this many bytes, for photo-sized files (default 0: 268-byte images)",
    )
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="also run each size with the kit as of this git commit (same files, same run) and give the ratios",
    )
    parser.add_argument(
        "--in-process", action="store_true", help="run every size in this process (peak RSS is then cumulative)"
    )
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary folder)")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-json", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-mode", choices=("time", "trace", "profile"), default="time", help=argparse.SUPPRESS)
    parser.add_argument("--skip", default="", help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--code-label", default="", help=argparse.SUPPRESS)
    return parser


@contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as folder:
        yield Path(folder)


def _worker(
    size: int,
    mode: str,
    args: argparse.Namespace,
    workdir: Path,
    skip: Sequence[str] = (),
    code: Path | None = None,
    label: str = "",
) -> Path:
    out = workdir / f"{mode}{size}{'-baseline' if code else ''}.json"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        str(size),
        "--worker-mode",
        mode,
        "--worker-json",
        str(out),
        "--step-limit",
        str(args.step_limit),
        "--pad-bytes",
        str(args.pad_bytes),
        "--keep",
        str(workdir),
        "--skip",
        ",".join(skip),
        *(["--code", str(code), "--code-label", label] if code else []),
    ]
    subprocess.run(command, check=True)
    return out


def _run_worker(args: argparse.Namespace) -> int:
    if args.code is not None:
        sys.path.insert(0, str(args.code))  # the baseline's kit, before this tree's
    root = args.keep / f"data{args.worker}"
    skip = [s for s in args.skip.split(",") if s]
    if args.worker_mode == "profile":
        text = run_profile(args.worker, root, args.step_limit, args.pad_bytes)
        args.worker_json.write_text(json.dumps({"profile": text}), encoding="utf-8")
        return 0
    trace = args.worker_mode == "trace"
    write = not (trace and (root / "manifest.csv").exists())
    result = run_size(
        args.worker, root, write=write, trace=trace, step_limit=args.step_limit, skip=skip, pad_bytes=args.pad_bytes
    )
    if args.code is not None:
        result.code = args.code_label
    args.worker_json.write_text(json.dumps(asdict(result)), encoding="utf-8")
    return 0


def export_code(ref: str, folder: Path) -> str:
    """Write the kit's package at ``ref`` (a commit, tag or branch) under ``folder``; return its short commit."""
    import io
    import tarfile

    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", ref], capture_output=True, text=True, check=True
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit, "conformance"], capture_output=True, check=True
    ).stdout
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if member.isfile() or member.isdir():  # the demo's links to cassettes are not needed here
                if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later: refuse paths out of the folder
                    tar.extract(member, folder, filter="data")
                else:
                    tar.extract(member, folder)
    return commit


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.baseline and args.in_process:
        parser.error("--baseline runs each kit in its own process: leave out --in-process")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    if args.worker is not None:
        return _run_worker(args)

    command = "python benchmarks/scale.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    profile_size = args.profile_size if args.profile_size is not None else (10000 if 10000 in args.sizes else 0)
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results: list[SizeResult] = []
    baseline: list[SizeResult] = []
    profile = ""
    with _workdir(args.keep) as workdir:
        baseline_code, baseline_label = None, ""
        if args.baseline:
            baseline_code = workdir / "baseline-code"
            baseline_label = f"baseline {export_code(args.baseline, baseline_code)}"
        for size in args.sizes:
            root = workdir / f"data{size}"
            if args.in_process:
                result = run_size(size, root, step_limit=args.step_limit, pad_bytes=args.pad_bytes)
                if not args.no_trace:
                    traced = run_size(
                        size,
                        root,
                        write=False,
                        trace=True,
                        step_limit=args.step_limit,
                        skip=[*result.timed_out, *result.not_run],
                    )
                    result.traced_peak_mb, result.traced_retained_mb = traced.traced_peak_mb, traced.traced_retained_mb
            else:
                result = SizeResult(**json.loads(_worker(size, "time", args, workdir).read_text(encoding="utf-8")))
                if not args.no_trace:
                    path = _worker(size, "trace", args, workdir, skip=[*result.timed_out, *result.not_run])
                    traced_data = json.loads(path.read_text(encoding="utf-8"))
                    result.traced_peak_mb = traced_data["traced_peak_mb"]
                    result.traced_retained_mb = traced_data["traced_retained_mb"]
            results.append(result)
            if baseline_code is not None:  # the same files, right after, in a fresh process
                path = _worker(size, "time", args, workdir, code=baseline_code, label=baseline_label)
                baseline.append(SizeResult(**json.loads(path.read_text(encoding="utf-8"))))
            if size == profile_size:
                _log(f"{size}: profiling one run under cProfile")
                if args.in_process:
                    profile = run_profile(size, root, args.step_limit, args.pad_bytes)
                else:
                    path = _worker(size, "profile", args, workdir)
                    profile = json.loads(path.read_text(encoding="utf-8"))["profile"]
            if args.keep is None:  # free the disk as we go: sizes are independent
                _remove(root)
        if profile_size and profile_size not in args.sizes:
            root = workdir / f"data{profile_size}"
            if args.in_process:
                profile = run_profile(profile_size, root, args.step_limit, args.pad_bytes)
            else:
                path = _worker(profile_size, "profile", args, workdir)
                profile = json.loads(path.read_text(encoding="utf-8"))["profile"]
    text = render(
        results, command, machine_line(LIBRARIES), code_line(), date, profile, args.pad_bytes, baseline=baseline
    )
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
