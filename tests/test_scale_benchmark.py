"""Smoke test of benchmarks/scale.py at a tiny size: the before/after table of one run against a baseline
commit (no timing assertions: timings are the benchmark's business, and a shared machine's speed drifts)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "scale.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scale_benchmark", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_a_baseline_commit_runs_in_the_same_run_and_the_ratios_are_given(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    code = bench.main(
        [
            "--sizes",
            "30",
            "--no-trace",
            "--profile-size",
            "0",
            "--baseline",
            "HEAD",
            "--keep",
            str(tmp_path / "w"),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert (
        "| size | kit | load s | analyse s | six checks s | reports s | total s | six checks CPU s | reports CPU s "
        "| CPU s | peak RSS MB |"
    ) in text
    table = text.split("| size | kit |")[1].split("\n\n")[0].splitlines()[2:]
    kits = [row.split(" | ")[1] for row in table]
    assert [row.split(" | ")[0] for row in table] == ["| 30"] * 3
    assert kits[0].startswith("baseline ")  # the short commit of HEAD
    assert kits[1:] == ["this tree", "ratio (this tree / baseline)"]
    assert table[2].count("×") >= 8  # a ratio for each figure measured in both
    # The baseline ran its own copy of the package, exported from git, on the same files.
    assert (tmp_path / "w" / "baseline-code" / "conformance" / "__init__.py").is_file()
    assert (tmp_path / "w" / "time30-baseline.json").is_file()


def test_the_baseline_needs_worker_processes(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--sizes", "30", "--baseline", "HEAD", "--in-process"])
    assert "--baseline runs each kit in its own process" in capsys.readouterr().err
