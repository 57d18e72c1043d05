"""Smoke test of the replay benchmark's machinery at a tiny size (no timing assertions: timings are the
benchmark's business, and a shared machine's speed drifts)."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "replay.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("replay_benchmark", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_pngs_are_distinct_and_readable(bench: ModuleType) -> None:
    from PIL import Image

    images = [bench.make_png(index) for index in range(300)]
    assert len(set(images)) == len(images)
    with Image.open(io.BytesIO(bench.make_png(7, pad_bytes=1000))) as image:
        assert image.size == (8, 8)


def test_run_size_replays_the_recorded_answers(bench: ModuleType, tmp_path: Path) -> None:
    result = bench.run_size(50, tmp_path, baseline=True, repeats=2)
    assert result.notes == []  # the recording answered what the predictions file says
    assert result.kit_same_answers  # on every round
    assert len(result.kit_replay_runs_ms) == len(result.bare_runs_ms) == 2
    assert result.vcr_same_answers
    assert result.kit_store_mb > 0
    assert result.vcr_cassette_mb is not None
    assert result.vcr_cassette_mb > 0


def test_main_writes_the_table(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "results.md"
    code = bench.main(["--sizes", "20,40", "--baseline-max", "20", "--repeats", "1", "--in-process", "--out", str(out)])
    assert code == 0
    text = out.read_text(encoding="utf-8")
    assert "| size | kit record s | kit replay s | kit replay ms/call | bare boto3 ms/call |" in text
    assert "| 20 |" in text
    assert "skipped (quadratic; 40 would take about" in text
    assert "Flatness: kit replay ms/call at 40" in text
    assert "Machine: " in text


def test_quadratic_fit_extrapolates(bench: ModuleType) -> None:
    fit = bench.fit_quadratic([(1000, 2.0), (5000, 50.0)])  # exactly t = 2e-6 * N**2
    assert fit(20000) == pytest.approx(800.0)


def test_the_whole_run_benchmark_replays_the_same_answers_with_every_executor(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("runs_benchmark", SCRIPT.with_name("runs.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    result = module.run_size(40, tmp_path, ["serial", "threads:2", "processes:2"], bare_calls=10)
    assert result.same_answers  # serial, threads, processes and the cached re-run: the recorded answers
    assert sorted(result.replay_ms) == ["processes:2", "serial", "threads:2"]
    text = module.render([result], ["serial", "threads:2", "processes:2"], "runs.py --sizes 40")
    assert "| 40 |" in text
    assert "not a vendor's speed" in text
