"""The ``python`` adapter: audit an in-process model, a function of your own, in ten lines.

``--analyzer python:MODULE:FUNCTION`` imports ``MODULE`` (from ``sys.path``, else from the working
directory, which is the project's root for ``conformance run``) and audits ``FUNCTION``;
``--analyzer python:path/to/file.py:FUNCTION`` loads a file (absolute, or relative to the working directory).
``FUNCTION`` may be dotted (``model.predict``: a method of a module-level object).

**The contract.** The function is called once per photo with the photo's :class:`pathlib.Path`
(a plain one) and returns what one line of a predictions file holds for it, without ``"photo"``
(``"faces"`` or ``"error"``, never both: an answer with both is that photo's error)::

    {"faces": [{"gender": "Woman", "confidence": 97.5, "box": [0.31, 0.12, 0.22, 0.30]}]}
    {"faces": []}                      # no face found
    {"error": "image too dark"}        # the model's own failure for this photo

``confidence`` is 0-100, ``box`` is ``[left, top, width, height]`` as fractions of the image, and
a ``gender`` of None is an abstention: the rules of :mod:`conformance.adapters.predictions`, whose
checks this adapter reuses. numpy numbers and arrays are taken as the Python values they hold.
With several faces, the one overlapping the manifest's ``box`` counts, else the largest.

**Module-level names** (all optional):

``VOCABULARY``
    every gender label the function can output and what it means: ``{"Woman": "woman", "Man":
    "man"}`` (meanings: woman, man, nonbinary, abstain). A label outside it is that photo's error.
    Without it the vocabulary is inferred from the answers, with a warning: an inferred vocabulary
    can only understate what a model can say, so the static half of ``nonbinary_representability``
    cannot judge it honestly.
``ABSTAINS``
    True when the function can return a face with no gender (``"gender": None``); without it such
    a face is that photo's error, as the design has it for a declared vocabulary.
``GIVES_CONFIDENCE``
    False when the function cannot give a confidence with its labels (``confidence_calibration`` is
    then not applicable); without it, answers with no confidence leave calibration inconclusive.
``NAME``, ``VERSION``
    provenance for the reports (default: the spec, and ``__version__`` or ``"unknown"``).
``BATCH_SIZE``
    how many photos a batch function gets at once (default 16).

**Richer signatures**, chosen by the annotation of the function's one parameter: ``Path`` (or
none: the default), ``str`` (the path as text), ``bytes`` (the file's bytes), :class:`PhotoInput`
(the path and the manifest's face box), or a ``list[...]`` of any of these for a **batch**
function, which returns a list of answers in the same order. A function never receives the
:class:`~conformance.dataset.Photo` itself: it carries the subject's self-described identity, the
answer the model is audited against.

**Failures.** An exception the function raises becomes that photo's error, naming its type,
message and line (``KeyboardInterrupt`` stops the run); a wrong shape, or an answer whose
``"photo"`` names another photo, becomes that photo's error naming the photo and what is wrong; a
failure that hits every photo the same way stops the run with one message (exit 2), as does a
module that cannot be imported or has no such function, and an ``async def`` function (not
awaited: wrap it with ``asyncio.run``). ``SystemExit`` (``sys.exit()``, argparse refusing a
command line), from the function or from importing its module, stops the run with
:class:`ModelExit` (exit 2, no verdict) naming the function, file and line: a model that ends the
process must never read as a run that passed. While the module imports, ``sys.argv`` holds its
own name only (a script's command-line parsing sees no arguments, not the kit's); a call that
changes the working directory has it changed back, with a :class:`WorkingDirectoryWarning`, so
that the reports and every relative path stay where the run started. The function also sees the
transformed variants of ``transformation_invariance``: it is a real model, which can look at any image.
Under ``conformance run``, what the module and the function print goes to the report folder's
``model-output.log`` (:mod:`conformance._model_output`), never among the kit's lines.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .._files import FileTooLarge, NotRegularFile, open_regular, read_problem, read_regular, regular_size
from .._model_output import model_code, model_log
from .._text import printable
from .._untrusted import shown, shown_list
from ..errors import AdapterError, ManifestError
from ..failures import SystematicFailure
from ..identity import DEFAULT_LABEL_MAP, IDENTITIES, normalise_key
from ..observation import Face, Observation
from .base import AdapterSettings, Analyzer, Capabilities, SessionPlan, Vocabulary, choose_face
from .predictions import AnswerProblem, ConfidenceScales, LabelOutsideVocabulary, read_answer, read_face

if TYPE_CHECKING:
    from ..dataset import Dataset, Photo

__all__ = [
    "FunctionAnalyzer",
    "InferredVocabularyWarning",
    "ModelExit",
    "PhotoInput",
    "WorkingDirectoryWarning",
    "analyzer_from",
    "create",
    "register",
]

_MEANINGS = (*IDENTITIES, "abstain")
_REASON_LIMIT = 500  # characters of an exception's message kept as the photo's reason
_DEFAULT_BATCH = 16
_HOWTO = "docs/how-to/python-model.md"
_ASYNC = (
    "returned a coroutine: async functions are not supported, the kit calls the function and cannot await it; "
    "wrap it with asyncio.run: def analyze(path): return asyncio.run(analyze_async(path)) (" + _HOWTO + ")"
)
_USAGE = "--analyzer python:MODULE:FUNCTION (or python:path/to/file.py:FUNCTION)"


@dataclass(frozen=True)
class PhotoInput:
    """What a model under audit may see of a photo: the image, and where the manifest says the face is.

    Never the subject's self-described identity (the answer it is audited against), nor the photo's
    id: a transformed variant's id names its transform, and a model that cached answers by id would
    give a variant its original's answer and pass ``transformation_invariance`` without looking.
    """

    path: Path
    box: tuple[float, float, float, float] | None = None  # the subject's face: [left, top, width, height], fractions
    format: str = ""  # Pillow's name for the image format: JPEG, PNG, ...

    def read_bytes(self) -> bytes:
        """The image file's bytes, read as the kit reads photos (never a pipe or a device, at most 64 MiB)."""
        from ..images import image_bytes

        return image_bytes(self.path)


class InferredVocabularyWarning(UserWarning):
    """The audited function declares no VOCABULARY: what it can say was inferred from what it said."""


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


@contextmanager
def _own_argv(name: str) -> Iterator[None]:
    """``sys.argv`` as a script's own while its module imports: its name only, never the kit's arguments.

    A module that parses its command line at import (a script not guarded by ``if __name__ ==
    "__main__"``) would read ``conformance run --dataset ...`` and exit with a usage message that looks
    like the kit's own; with no arguments it gets its defaults, or a usage message naming itself.
    """
    saved = sys.argv
    sys.argv = [name]
    try:
        yield
    finally:
        sys.argv = saved


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the folder was deleted under the run: nothing to restore to
        return None


# -- what the function takes --------------------------------------------------------------------------

_KINDS = {"path": "Path", "str": "str", "bytes": "bytes", "photo": "PhotoInput"}
_TEXT_KINDS = {
    "Path": "path",
    "PurePath": "path",
    "PathLike": "path",
    "Any": "path",
    "object": "path",
    "str": "str",
    "bytes": "bytes",
    "PhotoInput": "photo",
}
_TEXT_BATCH = re.compile(r"(?:[\w.]+\.)?(?:list|List|Sequence|Iterable|Collection)\[(.+)\]")


@dataclass(frozen=True)
class _Input:
    kind: str  # path | str | bytes | photo
    batch: bool


def _kind(annotation: object) -> str | None:
    """The input kind an annotation of one photo asks for, or None when the adapter cannot give it."""
    import os
    import types
    import typing
    from pathlib import PurePath

    if annotation in (inspect.Parameter.empty, Any, object, os.PathLike) or (
        isinstance(annotation, type) and issubclass(annotation, PurePath)
    ):
        return "path"
    if annotation is str:
        return "str"
    if annotation is bytes:
        return "bytes"
    if annotation is PhotoInput:
        return "photo"
    origin = typing.get_origin(annotation)
    if origin is os.PathLike:
        return "path"
    if origin in (typing.Union, types.UnionType):
        kinds = {_kind(a) for a in typing.get_args(annotation) if a is not type(None)}
        return "path" if kinds and kinds <= {"path", "str"} else None
    if isinstance(annotation, str):
        return _TEXT_KINDS.get(annotation.replace(" ", "").rsplit(".", 1)[-1])
    return None


def _classify(annotation: object) -> _Input | None:
    import collections.abc
    import typing

    if isinstance(annotation, str):  # an annotation that could not be evaluated: read its text
        text = annotation.replace(" ", "")
        match = _TEXT_BATCH.fullmatch(text)
        kind = _kind(match.group(1) if match else text)
        return None if kind is None else _Input(kind, match is not None)
    batches = (list, collections.abc.Sequence, collections.abc.Iterable, collections.abc.Collection)
    if annotation in batches:
        return _Input("path", True)
    if typing.get_origin(annotation) in batches:
        args = typing.get_args(annotation)
        kind = _kind(args[0] if args else inspect.Parameter.empty)
        return None if kind is None else _Input(kind, True)
    kind = _kind(annotation)
    return None if kind is None else _Input(kind, False)


def _is_photo(annotation: object) -> bool:
    """Whether an annotation asks for the kit's own Photo (or a list of them)."""
    from ..dataset import Photo

    if isinstance(annotation, str):
        text = annotation.replace(" ", "")
        match = _TEXT_BATCH.fullmatch(text)
        return (match.group(1) if match else text).rsplit(".", 1)[-1] == "Photo"
    import typing

    return annotation is Photo or Photo in typing.get_args(annotation)


def _input(function: Callable[..., Any], where: str) -> _Input:
    """How to call ``function``: from the annotation of its one required parameter."""
    try:
        signature = inspect.signature(function, eval_str=True)
    except (NameError, SyntaxError, TypeError, AttributeError):
        # An annotation naming something imported only for type checkers: read its text instead.
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):
            return _Input("path", False)
    except ValueError:  # a builtin without a signature: called with the path
        return _Input("path", False)
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    positional = [p for p in signature.parameters.values() if p.kind in kinds]
    variadic = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values())
    required = [
        p
        for p in signature.parameters.values()
        if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if (not positional and not variadic) or len(required) > 1 or any(p.kind is p.KEYWORD_ONLY for p in required):
        raise AdapterError(
            f"{where} must take one argument, the photo's path (extra parameters need defaults); "
            f"its signature is {shown(str(signature))} ({_HOWTO})"
        )
    annotation = positional[0].annotation if positional else inspect.Parameter.empty
    if _is_photo(annotation):
        raise AdapterError(
            f"{where} takes a conformance Photo, which the kit never hands to a model under audit: it carries the "
            "subject's self-described identity, the answer the model is judged against. Annotate the parameter "
            "PhotoInput (from conformance.adapters.python: the image's path and the manifest's face box), Path or bytes"
        )
    found = _classify(annotation)
    if found is None:
        raise AdapterError(
            f"{where}'s parameter is annotated {shown(annotation if isinstance(annotation, str) else getattr(annotation, '__name__', annotation))}, "
            "which the python adapter cannot give: annotate it Path (or leave it bare), str, bytes or PhotoInput, "
            f"or list[...] of one of these for a batch function ({_HOWTO})"
        )
    return found


# -- finding the function -----------------------------------------------------------------------------


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


def _import_failure(exc: Exception, what: str, spec: str) -> AdapterError:
    """The module's own code failed while importing: its error, and the line where it happened."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return AdapterError(
            f"{spec}: {what} imports {exc.name!r}, which is not installed here{_where(exc)}; install it in this environment"
        )
    return AdapterError(
        f"{spec}: importing {what} raised {type(exc).__name__}: {exc}{_where(exc)}; fix the module (importing it in "
        "a Python shell shows the whole traceback)"
    )


def _import_exit(exc: SystemExit, what: str, spec: str, file: str | None) -> ModelExit:
    """The module ended the process while importing: a script's code ran, not a library's."""
    where = _where(exc, Path(file) if file else None)  # the module's own line, not argparse's
    log = model_log()  # under conformance run, what the module printed went there, not to the console
    printed = (
        f"it printed came from {what}, not from the kit: see {log}"
        if log
        else f"printed above came from {what}, not from the kit"
    )
    return ModelExit(
        f"{spec}: importing {what} called {_exit_code(exc)}{where}, so the model was never loaded and the run "
        f"stopped with no verdict (any usage or error message {printed}). "
        "A module under audit must only define the function when imported: put the code that runs it as a script "
        'under if __name__ == "__main__":'
    )


@contextmanager
def _kept_cwd(who: str, origin: Callable[[], str | None]) -> Iterator[None]:
    """Import user code, then change the working directory back if it changed, with a warning at ``origin()``.

    The console's streams and the warnings filters are put back too (rt14c F16): a module that swaps
    ``sys.stdout`` or calls ``warnings.simplefilter("ignore")`` at import would hide the run's verdicts
    and its inferred-vocabulary warning.
    """
    import warnings

    before = _cwd()
    streams = (sys.stdout, sys.stderr)
    filters = list(warnings.filters)
    try:
        yield
    finally:
        moved = _moved_back(before)
        changed = []
        if (sys.stdout, sys.stderr) != streams:
            sys.stdout, sys.stderr = streams
            changed.append("sys.stdout or sys.stderr")
        if warnings.filters != filters:
            warnings.filters[:] = filters  # type: ignore[index]  # a list at run time; typeshed says Sequence
            getattr(warnings, "_filters_mutated", lambda: None)()  # the cache of decisions made under them
            changed.append("the warnings filters")
        if changed:
            print(
                printable(
                    f"conformance: {who} replaced {' and '.join(changed)}; the kit put them back, so that the run's "
                    "verdicts and warnings are shown"
                ),
                file=sys.stderr,
            )
        if moved is not None:
            _warn_moved(who, moved, before or "", (origin() or who, 1))


def _moved_back(before: str | None) -> str | None:
    """Where user code left the working directory, changed back to ``before``; None when it stayed.

    The reports, the manifest's relative paths, the cache and the user's own tests are relative to
    the folder the run started in; a model that ``os.chdir()``s (a library finding its weights) would
    otherwise send the reports to another folder while the console names the usual one.
    """
    after = _cwd()
    if before is None or after == before:
        return None
    os.chdir(before)
    return after or "a deleted folder"


def _warn_moved(who: str, where: str, back: str, at: tuple[str, int]) -> None:
    """Warn that ``who`` moved the working directory, pointing at ``at`` (the user's file and line)."""
    message = printable(
        f"conformance: {who} changed the working directory to {where}; the kit changed it back to {back} (the "
        "reports and every relative path of the run are there). Open files by absolute path in the model instead "
        "of calling os.chdir()"
    )
    warnings.warn_explicit(message, WorkingDirectoryWarning, at[0], at[1])


def _origin(name: str) -> str | None:
    """The file of module ``name`` (which imported, or tried to), or None when it cannot be told."""
    import importlib.util

    module = sys.modules.get(name)
    if module is not None and getattr(module, "__file__", None):
        return str(module.__file__)
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    return found.origin if found is not None and found.origin not in (None, "built-in", "frozen") else None


def _import_name(name: str, spec: str) -> ModuleType:
    import importlib

    def attempt() -> ModuleType | None:
        """The module, or None when it is not on sys.path (as opposed to failing inside)."""
        try:
            with (
                _own_argv(name),
                _kept_cwd(f"{spec}: importing {name}", lambda: _origin(name)),
                _read_as_regular_files(name, spec),
                model_code(),  # what it prints goes to the report folder, not among the kit's lines
            ):
                return importlib.import_module(name)
        except AdapterError:
            raise
        except ModuleNotFoundError as exc:
            if exc.name is not None and (exc.name == name or name.startswith(exc.name + ".")):
                return None
            raise _import_failure(exc, name, spec) from None
        except SystemExit as exc:
            raise _import_exit(exc, name, spec, _origin(name)) from None
        except Exception as exc:
            raise _import_failure(exc, name, spec) from None

    module = attempt()
    # Not on sys.path: look in the working directory, as `python -m` would (the project root of `conformance run`).
    here = str(Path.cwd())
    if module is None and here not in sys.path:
        sys.path.append(here)
        importlib.invalidate_caches()
        module = attempt()
    if module is not None:
        return module
    beside = Path(here) / f"{name.replace('.', '/')}.py"
    if os.path.lexists(beside):  # there, but the import system passes over what is not a regular file
        try:
            regular_size(beside, limit=MAX_MODULE_BYTES)
        except OSError as exc:
            raise _module_problem(spec, beside, exc) from None
    raise AdapterError(
        f"{spec}: no module named {name!r} on sys.path or in the working directory {here}; run from the folder that "
        f"holds {name.replace('.', '/')}.py, give the file (python:path/to/{name.rsplit('.', 1)[-1]}.py:FUNCTION), "
        "or install the package that holds it"
    )


# The largest module file the kit imports (16 MiB): over any hand-written or generated model module, and a bound
# on what a path after python: can make the kit read (the import system reads a file whole, and waits on a pipe).
MAX_MODULE_BYTES = 16 * 2**20


def _module_problem(spec: str, path: Path, exc: OSError) -> AdapterError:
    """The module's file cannot be read (a pipe, a device, a folder, too large): named, with the way out."""
    return AdapterError(
        f"{spec}: the module file {path} {read_problem(exc, 'a module')}; give the path of the model's .py file"
    )


@contextmanager
def _read_as_regular_files(name: str, spec: str) -> Iterator[None]:
    """While ``name`` is imported, it and its parent packages are checked, then read through the kit's reader.

    Python's import system passes over a module file that is a pipe or a device, but not over its
    bytecode cache (``__pycache__/NAME.cpython-311.pyc``), which it opened with a plain ``open``: a pipe
    there hung ``python:MODULE:FUNCTION`` for ever (red team 15c). So the modules the name names are found
    as usual, by the path finder, and then each file they will be read from (the source, the cache, an
    extension module) is checked (:func:`_check_found`), and a source or bytecode module is read through
    :func:`~conformance._files.read_regular`, which never waits on a pipe, also for a file swapped since.
    What those modules import in turn is theirs, and imported as Python imports it.
    """
    from importlib.machinery import PathFinder

    parts = name.split(".")
    names = {".".join(parts[: i + 1]) for i in range(len(parts))}

    class RegularFilesFinder:
        @staticmethod
        def find_spec(fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None) -> Any:
            if fullname not in names:
                return None
            found = PathFinder.find_spec(fullname, path, target)
            if found is not None:
                _check_found(found, spec)
                regular = _regular_loaders().get(type(found.loader))
                if regular is not None and found.origin:
                    found.loader = regular(fullname, found.origin)
            return found

    finders = sys.meta_path
    # Just before the path finder: the built-in and frozen modules' finders come first, as they always do.
    where = next((i for i, f in enumerate(finders) if f is PathFinder), len(finders))
    finders.insert(where, RegularFilesFinder)  # a finder class, as PathFinder is
    try:
        yield
    finally:
        if RegularFilesFinder in finders:
            finders.remove(RegularFilesFinder)


def _check_found(found: Any, spec: str) -> None:
    """Refuse a module whose file or bytecode cache is not a regular file, or over the bound, naming it.

    ``found`` is the import system's spec of the module; an extension module's file (a shared library,
    loaded by the system) is checked to be a regular file, of any size.
    """
    from importlib.machinery import ExtensionFileLoader

    if not (found.has_location and found.origin):
        return  # a namespace package: no file
    extension = isinstance(found.loader, ExtensionFileLoader)
    try:
        regular_size(found.origin, limit=None if extension else MAX_MODULE_BYTES)
    except OSError as exc:
        raise _module_problem(spec, Path(found.origin), exc) from None
    if not extension:
        _check_cache(found.cached, found.origin, spec)


def _check_cache(cached: str | None, origin: str, spec: str) -> None:
    """Refuse a module's bytecode cache that is a pipe, a device or over the bound, naming it and the way out."""
    if not cached or cached == origin:
        return
    try:
        regular_size(cached, limit=MAX_MODULE_BYTES)
    except FileNotFoundError:
        return  # none yet: Python writes it
    except OSError as exc:
        raise AdapterError(
            f"{spec}: the bytecode cache {cached} of the module {origin} {read_problem(exc, 'a module')}; delete it "
            "(Python writes it again at the next import)"
        ) from None


def _regular_loaders() -> dict[type[Any], type[Any]]:
    """The import system's file loaders, and each one's kit's counterpart (see :func:`_regular_loader`)."""
    from importlib.machinery import SourceFileLoader, SourcelessFileLoader

    class RegularSourcelessLoader(SourcelessFileLoader):
        def get_data(self, path: str) -> bytes:
            return read_regular(path, limit=MAX_MODULE_BYTES)

    return {SourceFileLoader: _regular_loader(), SourcelessFileLoader: RegularSourcelessLoader}


def _regular_loader() -> type[Any]:
    """A source loader reading the module (and its bytecode cache) as regular files only, within the bound.

    The file was checked before the import; this keeps a file swapped for a pipe or a device since from
    blocking the import or being read without end (the check and the read are one ``open`` here).
    """
    from importlib.machinery import SourceFileLoader

    class RegularSourceLoader(SourceFileLoader):
        def get_data(self, path: str) -> bytes:
            return read_regular(path, limit=MAX_MODULE_BYTES)

    return RegularSourceLoader


def _import_file(target: str, spec: str) -> ModuleType:
    import importlib.util

    path = Path(target).expanduser()
    given = path if path.is_absolute() else Path.cwd() / path
    resolved = given.resolve()
    try:
        regular_size(given, limit=MAX_MODULE_BYTES)  # never a pipe (the import would wait) or a device
    except FileNotFoundError:
        # Only a relative path was read against the working directory (rt14d F8: an absolute one was said to be).
        relative = (
            ""
            if path.is_absolute()
            else f" (a relative path after python: is taken relative to the working directory {Path.cwd()})"
        )
        raise AdapterError(f"{spec}: no file {resolved}{relative}") from None
    except OSError as exc:
        raise _module_problem(spec, given, exc) from None
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    # A private name: a file called code.py or test.py must not shadow (or be shadowed by) the standard library's.
    stem = re.sub(r"\W", "_", resolved.stem)
    name = f"_conformance_python_{stem}_{digest}"
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded  # imported once per process: a model is loaded once, whatever builds the analyzer again
    folder = str(resolved.parent)
    if folder not in sys.path:
        sys.path.append(folder)  # its sibling modules import as when the file runs as a script
    module_spec = importlib.util.spec_from_file_location(name, resolved, loader=_regular_loader()(name, str(resolved)))
    if module_spec is None or module_spec.loader is None:
        raise AdapterError(f"{spec}: {resolved} cannot be loaded as a Python module; give a .py file")
    _check_cache(module_spec.cached, str(resolved), spec)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        with (
            _own_argv(str(resolved)),
            _kept_cwd(f"{spec}: importing {resolved}", lambda: str(resolved)),
            model_code(),  # what it prints goes to the report folder, not among the kit's lines
        ):
            module_spec.loader.exec_module(module)
    except SystemExit as exc:
        del sys.modules[name]
        raise _import_exit(exc, str(resolved), spec, str(resolved)) from None
    except (NotRegularFile, FileTooLarge) as exc:
        del sys.modules[name]
        if Path(exc.path) != resolved:  # the module's own code read a special file: its failure
            raise _import_failure(exc, str(resolved), spec) from None
        raise _module_problem(spec, resolved, exc) from None
    except Exception as exc:
        del sys.modules[name]
        raise _import_failure(exc, str(resolved), spec) from None
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _attribute(module: ModuleType, dotted: str, spec: str) -> object:
    obj: object = module
    for part in dotted.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            defined = sorted(
                n for n, v in vars(module).items() if callable(v) and not n.startswith("_") and not isinstance(v, type)
            )
            listed = shown_list(defined, most=10, quoted=False) or "none"
            label, file = _module_label(module), getattr(module, "__file__", None)
            # The file too, for a name that found another module than the user's (an installed one).
            where = f"{label} ({file})" if file and label != file else label
            raise AdapterError(
                f"{spec}: {where} has no {dotted!r}; its functions: {listed}. Name one after the last colon"
            ) from None
    return obj


def _module_label(module: ModuleType) -> str:
    file = getattr(module, "__file__", None)
    return str(file) if module.__name__.startswith("_conformance_python_") and file else module.__name__


def _split(argument: str) -> tuple[str, str]:
    target, sep, function = argument.rpartition(":")
    if not sep or not target or not function:
        raise AdapterError(
            f"python:{argument}: name the module and the function: {_USAGE}, e.g. python:mymodel:analyze"
        )
    if not all(part.isidentifier() for part in function.split(".")):
        raise AdapterError(f"python:{argument}: {function!r} is not a function name; {_USAGE}")
    if ":" in target and not _is_windows_drive(target) and not os.path.lexists(target):
        # python:mymodel.py::analyze read "mymodel.py:" as a module and said "no module named 'mymodel.py:'" (rt14d F8).
        module = target.strip(":").replace(":", ".")  # pkg:model:analyze meant pkg.model
        raise AdapterError(
            f"python:{argument}: one colon goes between the module (or file) and the function, and a module "
            f"name holds none: the form is {_USAGE}, here python:{module}:{function}"
        )
    if not _is_file(target) and not all(part.isidentifier() for part in target.split(".")):
        # python: mymodel:analyze said "no module named ' mymodel' ... the folder that holds  mymodel.py".
        meant = f", here python:{target.strip()}:{function}" if target.strip() != target else ""
        raise AdapterError(
            f"python:{argument}: {shown(target)} is not a module name (a dotted name such as pkg.model) nor a "
            f"path to a .py file; the form is {_USAGE}{meant}"
        )
    return target, function


def _is_windows_drive(target: str) -> bool:
    """Whether ``target`` starts with a drive (``C:\\models\\m.py``), the one colon a path may hold."""
    return len(target) > 2 and target[0].isalpha() and target[1] == ":" and target[2] in "\\/" and ":" not in target[2:]


def _is_file(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


# -- what the module declares ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Declaration:
    """What a model's module says about it (VOCABULARY, ABSTAINS, GIVES_CONFIDENCE, NAME, VERSION, BATCH_SIZE)."""

    labels: Mapping[str, str] | None  # None: not declared, inferred from the answers
    abstains: bool
    gives_confidence: bool | None  # None: not declared
    name: str
    version: str
    batch_size: int
    where: str  # the module, for messages
    file: Path | None


def _declaration(
    namespace: Mapping[str, Any],
    *,
    where: str,
    default_name: str,
    file: Path | None,
    overrides: Mapping[str, Any],
) -> _Declaration:
    def get(key: str) -> Any:
        return overrides[key] if overrides.get(key) is not None else namespace.get(key)

    labels = get("VOCABULARY")
    if labels is not None:
        if not isinstance(labels, Mapping) or not all(isinstance(k, str) and k for k in labels):
            raise AdapterError(
                f"VOCABULARY in {where} must map each label the model can output to what it means, e.g. "
                f'VOCABULARY = {{"Woman": "woman", "Man": "man"}} (got {shown(labels)})'
            )
        for label, meaning in labels.items():
            if meaning not in _MEANINGS:
                raise AdapterError(
                    f"VOCABULARY in {where} maps {shown(label)} to {shown(meaning)}; use one of {', '.join(_MEANINGS)}"
                )
    abstains = get("ABSTAINS")
    if abstains is not None and not isinstance(abstains, bool):
        raise AdapterError(f"ABSTAINS in {where} must be True or False, not {shown(abstains)}")
    gives_confidence = get("GIVES_CONFIDENCE")
    if gives_confidence is not None and not isinstance(gives_confidence, bool):
        raise AdapterError(f"GIVES_CONFIDENCE in {where} must be True or False, not {shown(gives_confidence)}")
    if labels is not None and not labels and not abstains:
        raise AdapterError(
            f"VOCABULARY in {where} is empty: list every label the model can output, or set ABSTAINS = True "
            "for a model that never gives a gender"
        )
    batch = get("BATCH_SIZE")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise AdapterError(f"BATCH_SIZE in {where} must be a whole number of photos, 1 or more, not {shown(batch)}")
    name, version = get("NAME"), get("VERSION")
    if version is None:
        version = namespace.get("__version__")
    return _Declaration(
        labels=None if labels is None else {str(k): str(v) for k, v in labels.items()},
        abstains=bool(abstains),
        gives_confidence=gives_confidence,
        name=default_name if name is None else str(name),
        version="unknown" if version is None else str(version),
        batch_size=_DEFAULT_BATCH if batch is None else batch,
        where=where,
        file=file,
    )


# -- building the analyzer -----------------------------------------------------------------------------

_REGISTERED: dict[str, object] = {}


def _underlying(model: object) -> object:
    """The function a ``functools.partial`` (of a partial ...) calls: its module holds the declarations (rt14c F11)."""
    import functools

    while isinstance(model, functools.partial):
        model = model.func
    return model


def register(model: object, *, name: str | None = None) -> str:
    """Make an in-process model nameable as an analyzer spec in this process; returns the spec.

    For a fixture that hands the kit a model object (a conftest override): ``model`` is a function
    as :func:`create` describes, or an :class:`~conformance.adapters.base.Analyzer`. The spec is
    ``python:@NAME`` (default: the object's module and qualified name); it means nothing in
    another process, so such a model runs with the ``serial`` or ``threads:N`` executors.

    >>> def guess(path):
    ...     return {"faces": []}
    >>> register(guess, name="doc.guess")
    'python:@doc.guess'
    """
    inner = _underlying(model)
    key = (
        name
        or f"{getattr(inner, '__module__', None) or '?'}.{getattr(inner, '__qualname__', type(inner).__qualname__)}"
    )
    _REGISTERED[key] = model
    return f"python:@{key}"


def create(argument: str | None, *, dataset: Dataset, settings: AdapterSettings | None = None) -> Analyzer:
    """Entry point: ``--analyzer python:MODULE:FUNCTION`` or ``python:path/to/file.py:FUNCTION``.

    Recording settings do not apply: the model runs in this process and nothing is recorded.
    """
    del settings
    if not argument:
        raise AdapterError(f"the python adapter needs a function: {_USAGE} ({_HOWTO})")
    spec = f"python:{argument}"
    if argument.startswith("@"):
        key = argument[1:]
        if key not in _REGISTERED:
            raise AdapterError(
                f"{spec}: no model registered as {key!r} in this process; a model handed over by a fixture runs in "
                "the pytest process only (executor serial or threads:N), not in worker processes"
            )
        return analyzer_from(_REGISTERED[key], dataset=dataset, spec=spec)
    target, function = _split(argument)
    module = _import_file(target, spec) if _is_file(target) else _import_name(target, spec)
    obj = _attribute(module, function, spec)
    file = getattr(module, "__file__", None)
    return _build(
        obj,
        dataset=dataset,
        spec=spec,
        namespace=vars(module),
        where=_module_label(module),
        default_name=f"{Path(target).stem if _is_file(target) else target}:{function}",
        file=Path(file) if file else None,
        overrides={},
    )


def analyzer_from(
    model: object,
    *,
    dataset: Dataset,
    spec: str | None = None,
    vocabulary: Mapping[str, str] | None = None,
    abstains: bool | None = None,
    name: str | None = None,
    gives_confidence: bool | None = None,
    version: str | None = None,
) -> Analyzer:
    """An analyzer for ``model``: an :class:`Analyzer` is returned as it is, a function is wrapped.

    The function's module may declare ``VOCABULARY``, ``ABSTAINS``, ``GIVES_CONFIDENCE``, ``NAME``,
    ``VERSION`` and ``BATCH_SIZE`` (see the module docstring); the keyword arguments, when given, take precedence.
    """
    inner = _underlying(model)  # functools.partial(mymodel.analyze, ...): mymodel declares what it can say
    module = sys.modules.get(getattr(inner, "__module__", "") or "")
    file = getattr(module, "__file__", None)
    label = getattr(inner, "__qualname__", type(inner).__qualname__)
    return _build(
        model,
        dataset=dataset,
        spec=spec or f"python:{getattr(inner, '__module__', '?')}:{label}",
        namespace=vars(module) if module is not None else {},
        where=module.__name__ if module is not None else repr(model),
        default_name=f"{getattr(inner, '__module__', '?')}:{label}",
        file=Path(file) if file else None,
        overrides={
            "VOCABULARY": vocabulary,
            "ABSTAINS": abstains,
            "GIVES_CONFIDENCE": gives_confidence,
            "NAME": name,
            "VERSION": version,
        },
    )


def _build(
    obj: object,
    *,
    dataset: Dataset,
    spec: str,
    namespace: Mapping[str, Any],
    where: str,
    default_name: str,
    file: Path | None,
    overrides: Mapping[str, Any],
) -> Analyzer:
    if not isinstance(obj, type) and isinstance(obj, Analyzer):
        return obj  # already an analyzer: it declares its own vocabulary and provenance
    if not callable(obj):
        raise AdapterError(
            f"{spec}: {default_name} is not callable (a {type(obj).__name__}); name a function after the last colon"
        )
    if _is_async(obj):
        # Refused before any call: a coroutine the adapter cannot await would fail every photo, and
        # Python would warn, at exit, about coroutines never awaited.
        raise AdapterError(
            f"{spec}: {default_name} is an async def function; {_ASYNC.removeprefix('returned a coroutine: ')}"
        )
    declaration = _declaration(namespace, where=where, default_name=default_name, file=file, overrides=overrides)
    return FunctionAnalyzer(obj, dataset=dataset, spec=spec, declaration=declaration, call=_input(obj, spec))


def _is_async(obj: object) -> bool:
    """Whether calling ``obj`` gives a coroutine (or an async generator): an ``async def``, or an object whose ``__call__`` is one."""
    if inspect.iscoroutinefunction(obj) or inspect.isasyncgenfunction(obj):
        return True
    call = None if inspect.isroutine(obj) or isinstance(obj, type) else getattr(type(obj), "__call__", None)  # noqa: B004
    return call is not None and (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call))


# -- the analyzer ----------------------------------------------------------------------------------------


@dataclass
class _State:
    """What the run learnt from the answers; merged from worker processes (every part keyed, so merging is idempotent)."""

    seen: dict[str, str] = field(default_factory=dict)  # label -> meaning (inferred vocabulary)
    abstained: bool = False
    faults: dict[str, tuple[str, str]] = field(default_factory=dict)  # dataset photo id -> (kind, reason)
    confidences: dict[str, list[float]] = field(default_factory=dict)  # photo id -> confidences of its faces


class _Fault(Exception):
    """A photo's answer cannot be used: ``kind`` groups alike failures, ``reason`` is what the report says."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


_INFERRED_NOTE = (
    "{where} declares no VOCABULARY, so the vocabulary was inferred from the labels {spec} returned in this run. "
    "An inferred vocabulary can only understate what a model can say: the static half of "
    "nonbinary_representability then judges this run's answers, not the model, and cannot fail (or pass) it "
    "honestly. Declare VOCABULARY (and ABSTAINS = True if it can return a face with no gender) in {where}."
)


class FunctionAnalyzer:
    """A function of the user's, called in this process for each photo (see the module docstring)."""

    # A real model: it can look at images outside the dataset (transformed variants).
    capabilities = Capabilities(sees_new_images=True, sessions=True, workers=True)

    def __init__(
        self, function: Callable[..., Any], *, dataset: Dataset, spec: str, declaration: _Declaration, call: _Input
    ) -> None:
        self.function = function
        self.dataset = dataset
        self.spec = spec
        self.declaration = declaration
        self.call = call
        self.name = declaration.name
        self._state = _State()
        self._lock = threading.Lock()
        self._batch_lock = threading.Lock()
        self._pending: dict[str, Any] = {}  # answers of a batch not yet asked for (photo id -> answer or _Fault)
        self._strings: dict[str, str] = {}  # one copy of each label returned (read_face), however many faces
        self._served: set[str] = set()
        self._moved = False  # whether the function changed the working directory already (warned once)
        self._order: Sequence[Photo] = dataset.photos
        self._position = {p.id: i for i, p in enumerate(self._order)}
        self.vocabulary = self._vocabulary()

    # -- vocabulary and provenance -----------------------------------------------------------------------

    @property
    def inferred(self) -> bool:
        """Whether the vocabulary is inferred from the answers (no VOCABULARY declared)."""
        return self.declaration.labels is None

    def _vocabulary(self) -> Vocabulary:
        declared = self.declaration.labels
        if declared is not None:
            return Vocabulary(
                labels=dict(declared),
                source=f"declared in {self.declaration.where} (VOCABULARY"
                + (", ABSTAINS = True)" if self.declaration.abstains else ")"),
                can_abstain=self.declaration.abstains,
                gives_confidence=self.declaration.gives_confidence,
            )
        return Vocabulary(
            labels=dict(sorted(self._state.seen.items())),
            source=f"inferred from the labels {self.spec} returned in this run "
            f"(no VOCABULARY in {self.declaration.where})",
            can_abstain=self._state.abstained,
            gives_confidence=self.declaration.gives_confidence,
        )

    def describe(self) -> dict[str, Any]:
        kind = _KINDS[self.call.kind]
        info: dict[str, Any] = {
            "name": self.declaration.name,
            "adapter": "python",
            "version": self.declaration.version,
            "source": self.spec,
            "input": f"list[{kind}], {self.declaration.batch_size} photos a call" if self.call.batch else kind,
            "vocabulary": self.vocabulary.to_dict(),
            "simulated": False,
            "emulated": False,
        }
        file = self.declaration.file
        if file is not None:
            try:
                hashed = hashlib.sha256()
                with open_regular(file) as handle:  # a block at a time: a compiled module may be large
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        hashed.update(block)
            except (FileNotFoundError, NotADirectoryError):  # gone since the import, or inside a zip: no file
                pass
            except OSError as exc:
                raise _module_problem(self.spec, file, exc) from None
            else:
                info["module_file"] = str(file)
                info["module_sha256"] = hashed.hexdigest()
        if self.inferred:
            info["note"] = _INFERRED_NOTE.format(where=self.declaration.where, spec=self.spec)
        return info

    # -- calling the function ------------------------------------------------------------------------------

    def _argument(self, photo: Photo) -> object:
        if self.call.kind == "str":
            return str(photo.path)
        if self.call.kind == "bytes":
            from ..images import image_bytes

            try:
                return image_bytes(photo.path)
            except ManifestError as exc:  # checked at load; changed since: this photo's error, not the model's
                raise _Fault("the image cannot be read", f"photo {photo.id}: {exc}") from None
        # A plain pathlib.Path, not the dataset's lazily parsed subclass, whose private name showed in the
        # model's own errors ("... not _UnparsedPath", rt14d F8) and failed a type(path) is PosixPath test.
        path = Path(os.fspath(photo.path))
        if self.call.kind == "photo":
            return PhotoInput(path=path, box=photo.box, format=photo.format)
        return path

    def _raised(self, exc: Exception) -> _Fault:
        try:
            text = str(exc)
        except Exception as unprintable:  # its __str__ fails: still this photo's error
            # Named by its type, so that one odd exception class is not a crash of the whole run (rt14c F4).
            text = f"(its message could not be printed: str() raised {type(unprintable).__name__})"
        message = shown(text, _REASON_LIMIT, quoted=False)
        where = _where(exc, self.declaration.file)
        return _Fault(type(exc).__name__, f"{type(exc).__name__}: {message} (raised by {self.spec}{where})")

    def _call(self, argument: object, photo: Photo) -> Any:
        """The function called on ``argument`` (for ``photo``, or a batch starting with it), as user code is run.

        ``SystemExit`` stops the run (:class:`ModelExit`); a changed working directory is changed
        back, with one warning per analyzer. Ctrl-C goes through; any other exception is the caller's.
        """
        before = _cwd()
        try:
            with model_code():  # what it prints goes to the report folder, not among the kit's lines
                return self.function(argument)
        except SystemExit as exc:
            raise ModelExit(
                f"{self.spec} called {_exit_code(exc)}{_where(exc, self.declaration.file)} on photo {photo.id}: a "
                "model under audit must return an answer, not end the process, so the run stopped with no verdict. "
                "If it wraps a command-line tool's main(), call the function main() calls, or catch SystemExit in "
                f"{self.spec.removeprefix('python:')} ({_HOWTO})"
            ) from None
        except (Exception, KeyboardInterrupt, GeneratorExit):
            raise  # an Exception is the caller's (this photo's error); Ctrl-C and SIGTERM interrupt the run
        except BaseException as exc:  # CancelledError, a custom one: not a photo's error
            raise ModelExit(
                f"{self.spec} raised {_type_name(exc)}{_where(exc, self.declaration.file)} on photo {photo.id}, "
                "a BaseException that is not an Exception: it asks the process to stop rather than report a failure, "
                "so the run stopped with no verdict. Make the model raise an Exception (or return "
                f'{{"error": "..."}}) for a photo it cannot answer ({_HOWTO})'
            ) from None
        finally:
            moved = _moved_back(before)
            if moved is not None:
                with self._lock:
                    warn, self._moved = not self._moved, True
                if warn:
                    code = getattr(self.function, "__code__", None)
                    at = (code.co_filename, code.co_firstlineno) if code is not None else (self.spec, 1)
                    _warn_moved(f"{self.spec} (on photo {photo.id})", moved, before or "", at)

    def _answer(self, photo: Photo) -> Any:
        """The function's answer for one photo, or a _Fault; a batch function answers a window of photos at once."""
        if not self.call.batch:
            try:
                argument = self._argument(photo)
            except _Fault as fault:
                return fault
            try:
                return self._call(argument, photo)
            except ModelExit:
                raise
            except Exception as exc:  # the function's failure is this photo's; Ctrl-C and ModelExit stop the run
                return self._raised(exc)
        with self._batch_lock:
            if photo.id in self._pending:
                return self._pending.pop(photo.id)
            window = self._window(photo)
            unread: dict[str, _Fault] = {}  # photos whose image cannot be read: their error, not sent
            arguments = []
            for member in window:
                try:
                    arguments.append(self._argument(member))
                except _Fault as fault:
                    unread[member.id] = fault
            sent = [p for p in window if p.id not in unread]
            answers = self._batch_answers(arguments, photo) if sent else []
            given = iter(answers)
            every = [unread[p.id] if p.id in unread else next(given) for p in window]
            self._served.update(p.id for p in window)
            self._pending.update((p.id, a) for p, a in zip(window[1:], every[1:], strict=True))
            return every[0]

    def _batch_answers(self, arguments: list[object], photo: Photo) -> list[Any]:
        """The batch function's answers to ``arguments`` (the batch starting with ``photo``), one per argument."""
        try:
            answers = self._call(arguments, photo)
        except ModelExit:
            raise
        except Exception as exc:
            return [self._raised(exc)] * len(arguments)
        if inspect.iscoroutine(answers):
            answers.close()  # never awaited: closed, so Python does not warn about it at exit
            return [_Fault("returned a coroutine", f"{self.spec} {_ASYNC}")] * len(arguments)
        answers = _plain(answers)
        if not isinstance(answers, list) or len(answers) != len(arguments):
            got = f"a list of {len(answers)}" if isinstance(answers, list) else shown(answers)
            problem = f"returned {got} for a batch of {len(arguments)} photos; return one answer per photo, in order"
            return [_Fault(problem, f"{self.spec} {problem}")] * len(arguments)
        return answers

    def _window(self, photo: Photo) -> list[Photo]:
        """``photo`` and the photos after it, in the run's order, not yet asked for: one batch."""
        start = self._position.get(photo.id)
        window = [photo]
        if start is None:
            return window  # a transformed variant: a batch of its own
        for later in self._order[start + 1 :]:
            if len(window) >= self.declaration.batch_size:
                break
            if later.id not in self._served and later.id not in self._pending:
                window.append(later)
        return window

    def analyze(self, photo: Photo) -> Observation:
        try:
            observation = self._observe(photo, self._answer(photo))
        except _Fault as fault:
            if photo.id in self.dataset:
                with self._lock:
                    self._state.faults[photo.id] = (fault.kind, fault.reason)
            return Observation(photo=photo.id, outcome="error", reason=fault.reason)
        return observation

    def _observe(self, photo: Photo, answer: Any) -> Observation:
        if isinstance(answer, _Fault):
            raise answer
        if inspect.iscoroutine(answer):
            answer.close()  # never awaited: closed, so Python does not warn about it at exit
            raise _Fault("returned a coroutine", f"photo {photo.id}: {self.spec} {_ASYNC}")
        answer = _plain(answer)
        where = f"photo {photo.id}: {self.spec} returned"
        if not isinstance(answer, Mapping):
            kind = f"returned {type(answer).__name__}"
            raise _Fault(
                kind,
                f'{where} {shown(answer)}; return a dict, {{"faces": [...]}} or {{"error": "..."}} ({_HOWTO})',
            )
        named = answer.get("photo")
        if named is not None and named not in (photo.id, str(photo.path), photo.path.as_posix()):
            raise _Fault(
                "an answer for another photo",
                f'{where} an answer for photo {shown(named)} (its "photo" key), not for {photo.id}: each call answers '
                'the photo it was given, in the same order for a batch; drop "photo" from the answer',
            )
        if answer.get("faces") is not None and answer.get("error") is not None:
            # Read as an error, it silently dropped the faces (rt14d F5); read as faces, it dropped the error.
            raise _Fault(
                'both "faces" and "error"',
                f'{where} both "faces" and "error" ({shown(answer)}): an answer holds one of them, "faces" (a list, '
                'empty when no face was found) or "error" for a photo the model could not answer',
            )
        declared = self.declaration.labels
        try:
            faces, error = read_answer(answer, vocabulary=declared)
        except LabelOutsideVocabulary as exc:
            raise _Fault(
                f"label {exc.label!r} outside VOCABULARY",
                f"{where} gender {shown(exc.label)}, which is not in its VOCABULARY [{shown_list(exc.vocabulary)}]; "
                f"add it to VOCABULARY in {self.declaration.where} with what it means",
            ) from None
        except AnswerProblem as exc:
            raise _Fault(str(exc), f"{where} {shown(answer)}: the answer {exc}") from None
        if error is not None:
            return Observation(photo=photo.id, outcome="error", reason=shown(error, _REASON_LIMIT, quoted=False))
        assert faces is not None
        parsed: list[Face] = []
        learnt: dict[str, str] = {}
        for face in faces:
            label: str | None = face.get("gender")  # a string or None: read_answer checked
            if label is None and self.declaration.labels is not None and not self.declaration.abstains:
                raise _Fault(
                    "a face without gender",
                    f"{where} a face with no gender, but its VOCABULARY says it cannot abstain: set ABSTAINS = True "
                    f"in {self.declaration.where} if it can",
                )
            meaning = None if label is None else self._meaning(label, where)
            if label is not None and meaning is not None and self.inferred:
                learnt[label] = meaning
            try:
                parsed.append(read_face(face, meaning, self._strings))
            except AnswerProblem as exc:
                raise _Fault(str(exc), f"{where} a face {shown(face)}: {exc}") from None
        with self._lock:
            changed = any(self._state.seen.get(k) != v for k, v in learnt.items())
            self._state.seen.update(learnt)
            if any(f.label is None for f in parsed) and not self._state.abstained:
                self._state.abstained = changed = True
            self._state.confidences[photo.id] = [f.confidence for f in parsed if f.confidence is not None]
            if changed:
                self.vocabulary = self._vocabulary()
        if not parsed:
            return Observation(photo=photo.id, outcome="no_face", reason="no face found")
        chosen = choose_face(parsed, photo.box)
        if chosen is None:
            return Observation(
                photo=photo.id,
                outcome="error",
                faces=len(parsed),
                reason=f"{len(parsed)} faces from {self.spec} and none can be told to be the subject's (give every face "
                "a box, and the manifest a box that overlaps the subject's face)",
            )
        return Observation(photo=photo.id, outcome="analysed", face=chosen, faces=len(parsed))

    def _meaning(self, label: str, where: str) -> str:
        declared = self.declaration.labels
        if declared is not None:
            return declared[label]  # read_answer refused a label outside VOCABULARY
        meaning = DEFAULT_LABEL_MAP.get(normalise_key(label))
        if meaning is None:
            raise _Fault(
                f"label {label!r} without a meaning",
                f"{where} gender {shown(label)}, which has no known meaning; declare every label and what it means "
                f"in {self.declaration.where}: VOCABULARY = {{{shown(label)}: "
                '"woman" | "man" | "nonbinary" | "abstain", ...}',
            )
        return meaning

    # -- the run around the calls ----------------------------------------------------------------------------

    @contextmanager
    def session(self, plan: SessionPlan | None = None) -> Iterator[None]:
        """Held open by the runner around every call: afterwards, checks of the run as a whole."""
        yield
        self._finish()

    def _finish(self) -> None:
        with self._lock:
            faults = dict(self._state.faults)
            answered = dict(self._state.confidences)
        # In manifest order (threads and workers answer in any order), variants after: messages name the first.
        position = {p.id: i for i, p in enumerate(self.dataset.photos)}
        confidences = sorted(answered.items(), key=lambda item: (position.get(item[0], len(position)), item[0]))
        kinds = {kind for kind, _ in faults.values()}
        if len(self.dataset) and len(faults) == len(self.dataset) and len(kinds) == 1:
            first = faults[self.dataset.photos[0].id][1]
            raise AdapterError(
                f"{self.spec} failed on every one of the {len(faults)} photos the same way; the first: {first}. "
                f"Fix the function (call it on one photo in a Python shell to see the traceback; {_HOWTO})"
            )
        scales = ConfidenceScales("photo")
        for photo_id, values in confidences:
            for confidence in values:
                scales.add(photo_id, confidence)
        found = scales.problem()
        if found is not None:
            first_photo, problem = found
            where = f", from photo {first_photo} on" if first_photo is not None else ""
            raise AdapterError(f"{self.spec} returned confidences off the 0-100 scale{where}: {problem}")
        if self.inferred:
            self._warn_inferred()

    def _warn_inferred(self) -> None:
        seen = ", ".join(f"{label!r}: {meaning!r}" for label, meaning in self.vocabulary.labels.items())
        # pytest's warnings summary prints the message as it is: the model's labels are data, escaped.
        message = printable(
            f"conformance: {_INFERRED_NOTE.format(where=self.declaration.where, spec=self.spec)} "
            f"Inferred: VOCABULARY = {{{seen}}}" + (", ABSTAINS = True" if self.vocabulary.can_abstain else "")
        )
        # Point at the function itself: that is where VOCABULARY belongs.
        code = getattr(self.function, "__code__", None)
        if code is not None:
            warnings.warn_explicit(message, InferredVocabularyWarning, code.co_filename, code.co_firstlineno)
        else:
            warnings.warn(message, InferredVocabularyWarning, stacklevel=2)

    # Worker processes (executor processes:N or Dask) each build their own analyzer; what they learn of
    # the vocabulary and of failures comes back here, so the run's checks see every photo.

    def worker_payload(self, chunk: Sequence[Photo]) -> list[str]:
        return [p.id for p in chunk]

    @contextmanager
    def worker_session(self, payload: Sequence[str]) -> Iterator[Callable[[], _State]]:
        ids = set(payload)
        self._order = [p for p in self.dataset.photos if p.id in ids]  # a batch stays within the chunk
        self._position = {p.id: i for i, p in enumerate(self._order)}
        yield self._snapshot

    def _snapshot(self) -> _State:
        with self._lock:
            return _State(
                seen=dict(self._state.seen),
                abstained=self._state.abstained,
                faults=dict(self._state.faults),
                confidences={k: list(v) for k, v in self._state.confidences.items()},
            )

    def absorb(self, returned: object) -> None:
        if not isinstance(returned, _State):
            return
        with self._lock:
            self._state.seen.update(returned.seen)
            self._state.abstained = self._state.abstained or returned.abstained
            self._state.faults.update(returned.faults)
            self._state.confidences.update(returned.confidences)
            self.vocabulary = self._vocabulary()


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (and tuples) as the Python values a JSON line would hold; the rest as it is."""
    module = type(value).__module__
    if module == "numpy" and callable(getattr(value, "tolist", None)):
        return value.tolist()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
