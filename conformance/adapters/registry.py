"""Finding adapters: the kit's own and third parties', through the ``conformance.adapters`` entry points.

A third-party package registers an adapter in its ``pyproject.toml``::

    [project.entry-points."conformance.adapters"]
    myvendor = "myvendor_conformance:create"

where ``create(argument, *, dataset, settings)`` returns an :class:`~conformance.adapters.base.Analyzer`.
Everything an adapter must and may provide is in :mod:`conformance.adapters.base`; what it declares
(its :class:`~conformance.adapters.base.Capabilities`, and its factory's
:class:`~conformance.adapters.base.Declaration`) is read here, never guessed from its name or its module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ..errors import AdapterError

if TYPE_CHECKING:
    from ..dataset import Dataset
    from .base import AdapterSettings, Analyzer, AnalyzerFactory, ArgumentFile, Capabilities, Declaration

__all__ = [
    "GROUP",
    "argument_file",
    "available",
    "capabilities_declared",
    "compares_pairs",
    "create",
    "declared",
    "parse_spec",
]

GROUP = "conformance.adapters"
# The kit's own adapters, found even when the package runs from a source tree without being installed.
_BUILTIN = {
    "predictions": "conformance.adapters.predictions:create",
    "rekognition": "conformance.adapters.rekognition:create",
    "local": "conformance.adapters.local:create",
    "embeddings": "conformance.adapters.embeddings:create",
    "scores": "conformance.adapters.scores:create",
    "python": "conformance.adapters.python:create",
}


def available() -> dict[str, str]:
    """Adapter names and the object each entry point names (``module:attribute``)."""
    from importlib.metadata import entry_points

    found = dict(_BUILTIN)
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep.value)
    return dict(sorted(found.items()))


def parse_spec(spec: str) -> tuple[str, str | None]:
    """Split ``NAME[:ARGUMENT]``: ``predictions:results.jsonl`` -> ``("predictions", "results.jsonl")``."""
    name, sep, argument = spec.partition(":")
    return name.strip(), (argument if sep else None)


def declared(spec: str) -> Declaration | None:
    """What ``spec``'s factory declares before any dataset exists (:func:`~conformance.adapters.base.declares`):
    an empty :class:`~conformance.adapters.base.Declaration` when it declares nothing, None when no adapter
    of that name can be loaded (its error comes when it is created)."""
    from .base import declaration_of

    name, _ = parse_spec(spec)
    target = available().get(name)
    if target is None:
        return None
    try:
        factory = _load(target)
    except (ImportError, AttributeError):
        return None
    return declaration_of(factory)


def capabilities_declared(spec: str) -> Capabilities | None:
    """The :class:`~conformance.adapters.base.Capabilities` ``spec``'s factory declares for its argument, or None
    when it declares none (or cannot be loaded): what the run knows before the analyzer is built."""
    declaration = declared(spec)
    if declaration is None or declaration.capabilities is None:
        return None
    return declaration.capabilities_for(parse_spec(spec)[1])


def compares_pairs(spec: str) -> bool:
    """Whether ``spec``'s adapter compares the manifest's photos 1:1 (``embeddings``, ``scores``, ``local:embeddings``),
    as its factory declares (``Capabilities(compares=True)``): such a manifest needs no ``role`` column and no
    gender columns."""
    declared_now = capabilities_declared(spec)
    return declared_now is not None and declared_now.compares


def argument_file(spec: str) -> ArgumentFile | None:
    """The file the argument of ``spec`` (``NAME:ARGUMENT``) names, as its factory declares it (else the
    convention ``FILE[?OPTIONS]``, not certain: a file only when one is there); None when it names none."""
    from .base import Declaration

    name, argument = parse_spec(spec)
    if not name or not argument:
        return None
    return (declared(spec) or Declaration()).file_in(argument)


def _load(target: str) -> AnalyzerFactory:
    from importlib import import_module

    module_name, _, attribute = target.partition(":")
    obj: object = import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return cast("AnalyzerFactory", obj)


def create(spec: str, *, dataset: Dataset, settings: AdapterSettings | None = None) -> Analyzer:
    """Build the analyzer named by ``spec`` (``NAME[:ARGUMENT]``) for ``dataset``."""
    from .base import AdapterSettings, capabilities_of, check_capabilities, declaration_of

    name, argument = parse_spec(spec)
    adapters = available()
    if name not in adapters:
        from .python.loading import without_prefix

        raise AdapterError(
            f"no adapter named {name!r} (from --analyzer {spec}); available: {', '.join(adapters)}. "
            f"Third-party adapters register under the entry-point group {GROUP!r}{without_prefix(spec)}"
        )
    try:
        factory = _load(adapters[name])
    except (ImportError, AttributeError) as exc:
        raise AdapterError(f"adapter {name!r} ({adapters[name]}) cannot be loaded: {exc}") from None
    analyzer = factory(argument, dataset=dataset, settings=settings or AdapterSettings())
    where = f"adapter {name!r} ({adapters[name]})"
    check_capabilities(analyzer, where)
    # The manifest was loaded for a comparator (no gender columns required): an analyzer that is not one would
    # run the gender checks on photos whose gender identity was never required.
    if declaration_of(factory).capabilities_for(argument).compares and not capabilities_of(analyzer).compares:
        raise AdapterError(
            f"{where}: its factory declares Capabilities(compares=True) for {spec!r}, but the analyzer it built "
            "does not; declare the same capabilities on both (conformance.adapters.base.declares)"
        )
    return analyzer
