"""What every part of the python adapter shares: the how-to's path, the spec's form, the exceptions it raises
for the model's own code (:class:`ModelExit`, :class:`WorkingDirectoryWarning`), and how that code's failures are named."""

from __future__ import annotations

from pathlib import Path

from ..._untrusted import shown
from ...errors import SystematicFailure

_HOWTO = "docs/how-to/python-model.md"
_ASYNC = (
    "returned a coroutine: async functions are not supported, the kit calls the function and cannot await it; "
    "wrap it with asyncio.run: def analyze(path): return asyncio.run(analyze_async(path)) (" + _HOWTO + ")"
)
_USAGE = "--analyzer python:MODULE:FUNCTION (or python:path/to/file.py:FUNCTION)"


class WorkingDirectoryWarning(UserWarning):
    """The audited function changed the working directory; the kit changed it back after the call."""


class ModelExit(SystematicFailure):
    """The audited function, or its module while importing, raised ``SystemExit`` (``sys.exit()``).

    A model must answer, not end the process: the run stops with no verdict (exit 2, as a
    systematic failure does), whatever the exit code was. Left alone, ``sys.exit(0)`` ended
    ``conformance run`` with exit 0, no report and no message: a CI job went green on nothing.
    """


def _type_name(exc: BaseException) -> str:
    """The exception's class as the user's code names it (``asyncio.CancelledError``), with its message if printable."""
    kind = type(exc)
    name = (
        kind.__qualname__ if kind.__module__ in ("builtins", "__main__") else f"{kind.__module__}.{kind.__qualname__}"
    )
    name = name.replace("asyncio.exceptions.", "asyncio.")
    try:
        text = str(exc)
    except Exception:  # its __str__ fails: the type alone names it
        text = ""
    return f"{name}({shown(text, 120)})" if text else name


def _exit_code(exc: SystemExit) -> str:
    """How the call that raised ``exc`` read in the user's code: ``sys.exit(0)``, ``sys.exit('message')``."""
    return f"sys.exit({shown(exc.code, 120) if exc.code is not None else ''})"


def _where(exc: BaseException, prefer: Path | None = None) -> str:
    """`` at FILE line N``: where in a traceback the user's code failed.

    The innermost frame in ``prefer`` (the model's own module) when there is one, so that an error
    raised deep inside a library names the user's line that called it; else the innermost frame.
    """
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    own = [f for f in frames if prefer is not None and Path(f.filename) == prefer]
    last = (own or frames)[-1]
    return f" at {Path(last.filename).name} line {last.lineno}"
