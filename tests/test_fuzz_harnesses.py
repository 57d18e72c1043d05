"""The atheris harnesses in ``fuzz/`` keep working: each imports, and its ``TestOneInput`` takes its seeds and
a few hostile inputs without a crash.

atheris is optional (coverage-guided runs longer than CI's, see ``fuzz/README.md``); without it these skip.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
HARNESSES = (
    "canonical_body",
    "manifest_csv",
    "manifest_jsonl",
    "policy_toml",
    "predictions_jsonl",
    "recording_store",
    "report_json",
)
# What every parser must survive: nothing, bytes that are not UTF-8, a lone BOM, a NUL, nesting deeper than the
# recursion limit, a number beyond a float, JSON's NaN, a torn line.
HOSTILE = {
    "empty": b"",
    "not-utf-8": b"\xff\xfe\x00",
    "bom": b"\xef\xbb\xbf",
    "nul": b"\x00",
    "nested-too-deep": b"[" * 3000,
    "beyond-float": b"9" * 400,
    "nan": b'{"a": NaN}\n',
    "torn": b'{"photo": "a.png", "fa',
}
SEEDS = [(name, seed) for name in HARNESSES for seed in sorted((FUZZ / "seeds" / name).iterdir())]
CASES = [
    *(pytest.param(name, seed.read_bytes(), id=f"{name}-seed-{seed.name}") for name, seed in SEEDS),
    *(pytest.param(name, data, id=f"{name}-{what}") for name in HARNESSES for what, data in HOSTILE.items()),
]


def harness(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The harness module ``fuzz/<name>.py`` (it imports its siblings by name, so ``fuzz/`` goes on the path)."""
    pytest.importorskip("atheris")
    monkeypatch.syspath_prepend(str(FUZZ))
    return importlib.import_module(name)


def test_every_harness_is_listed() -> None:
    assert sorted(p.stem for p in FUZZ.glob("*.py") if not p.name.startswith("_")) == list(HARNESSES)


@pytest.mark.parametrize(("name", "data"), CASES)
def test_a_harness_takes_an_input(name: str, data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    harness(name, monkeypatch).TestOneInput(data)
