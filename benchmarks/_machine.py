"""What a benchmark ran on: the machine, the libraries that matter to it and the kit's commit.

Shared by ``replay.py`` and ``scale.py``, which print these lines at the head of their results.
"""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
import sysconfig
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def cpu_model() -> str:
    """The CPU's model name (Linux's ``/proc/cpuinfo``; ``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_line(libraries: Sequence[tuple[str, str]]) -> str:
    """Platform, CPU count and model, Python, then each library as ``name version``.

    ``libraries`` pairs the name to print with the module to import for its ``__version__``,
    e.g. ``[("numpy", "numpy"), ("Pillow", "PIL")]``.
    """
    versions = [f"{name} {importlib.import_module(module).__version__}" for name, module in libraries]
    return "; ".join(
        [
            platform.platform(),
            f"{os.cpu_count()} CPUs",
            cpu_model(),
            f"Python {platform.python_version()}",
            *versions,
        ]
    )


def code_line() -> str:
    """The kit's commit, and whether its package has uncommitted changes (read-only git queries)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "conformance"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "kit: not a git checkout"
    return f"kit: commit {head}{' with uncommitted changes under conformance/' if dirty else ''}"


def package_of(filename: str) -> str:
    """Who owns a profiled function: a site-packages distribution, the kit, a stdlib module, or C."""
    if filename.startswith(("~", "<")):
        return "built-in (C) and frozen"
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    for ours in ("conformance", "benchmarks"):
        if ours in parts:
            return ours
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    if Path(filename).is_relative_to(stdlib):
        return "stdlib " + Path(filename).relative_to(stdlib).parts[0].removesuffix(".py")
    return "other"


def finish(lines: list[str], started: float, out: Path | None) -> int:
    """A benchmark's last lines: its run time, the text printed, and written to ``out`` when given; exit status 0."""
    import time

    lines += ["", f"Run time {time.perf_counter() - started:.0f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        out.write_text(text, encoding="utf-8")
    return 0
