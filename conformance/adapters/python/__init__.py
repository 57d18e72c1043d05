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

The package, by what each part does: :mod:`.loading` (the spec parsed, the module imported as user code
is, the function found), :mod:`.signature` (what the function takes), :mod:`.declaration` (what its
module declares), :mod:`.analyzer` (each photo's call and answer, the run's checks), :mod:`.common`
(what they share); this module builds the analyzer and holds the public names.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import AdapterError
from ..base import AdapterSettings, Analyzer, Capabilities, capabilities_of, declares
from .analyzer import FunctionAnalyzer, InferredVocabularyWarning
from .common import _ASYNC, _HOWTO, _USAGE, ModelExit, WorkingDirectoryWarning
from .declaration import _declaration
from .loading import _attribute, _import_file, _import_name, _is_file, _module_label, _split, argument_file
from .signature import PhotoInput, _input

if TYPE_CHECKING:
    from ...dataset import Dataset

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


def _capabilities(argument: str | None) -> Capabilities:
    """A function's analyzer's capabilities; a registered analyzer object's own (``python:@NAME``). A module's
    attribute that is itself an analyzer object declares its own when it is built: the module is not imported
    before the run, so its factory cannot see it."""
    registered = _REGISTERED.get(argument[1:]) if argument and argument.startswith("@") else None
    if registered is not None and not isinstance(registered, type) and isinstance(registered, Analyzer):
        return capabilities_of(registered)
    return FunctionAnalyzer.capabilities


@declares(_capabilities, argument_file=argument_file)
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
                f"{spec}: no model registered as {key!r} in this process; a model handed over by a fixture (the "
                "conformance_model fixture of a conftest.py, or register()) exists in that pytest process only: "
                "it runs with executor serial or threads:N, not in worker processes, and conformance verify cannot "
                "run it again. For a report verify can re-run, run the model with --analyzer python:MODULE:FUNCTION "
                "(docs/how-to/python-model.md)"
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
