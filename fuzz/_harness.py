"""What every harness shares: the kit instrumented for coverage, the property, a scratch folder.

Imported first by each harness, so that the kit's modules (and ``tomllib``, the one pure-Python parser the
kit relies on) are imported under :func:`atheris.instrument_imports`: libFuzzer then sees which branches
of the kit an input reached. Modules already imported (as under pytest) are left as they are.
"""

from __future__ import annotations

import atexit
import io
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import atheris

with atheris.instrument_imports(include=["conformance", "tomllib"]):
    import tomllib  # noqa: F401  (imported to be instrumented: the kit imports it lazily)

    import conformance
    import conformance.adapters.predictions
    import conformance.comparison.reports
    import conformance.dataset
    import conformance.matching
    import conformance.policy
    import conformance.recording.scrub
    import conformance.recording.store
    import conformance.reporting.compare
    import conformance.run.runner

T = TypeVar("T")

# One folder per process for the files a parser reads by path; left behind only when a crash ends the process.
SCRATCH = Path(tempfile.mkdtemp(prefix="conformance-fuzz-"))
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)


def outcome(call: Callable[[], T], *, refusal: bool = True) -> T | None:
    """``call()``'s result, or None after the kit's own error with a message (if ``refusal``).

    Any other exception, a refusal when ``refusal`` is False, or a refusal without a message propagates:
    atheris reports it as a crash and writes the input that caused it.
    """
    try:
        return call()
    except conformance.ConformanceError as error:
        if not refusal:
            raise
        if not str(error).strip():
            raise AssertionError(f"{type(error).__name__} raised without a message") from error
        return None


def png(colour: tuple[int, int, int]) -> bytes:
    """An 8x8 PNG of one colour."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def folder(name: str, files: dict[str, bytes]) -> Path:
    """A folder in SCRATCH holding ``files`` (names may have subfolders)."""
    root = SCRATCH / name
    for file, data in files.items():
        (root / file).parent.mkdir(parents=True, exist_ok=True)
        (root / file).write_bytes(data)
    return root


def main(test_one_input: Callable[[bytes], None]) -> None:
    """Run libFuzzer on ``test_one_input`` with the command line's corpus folders and -flags."""
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
