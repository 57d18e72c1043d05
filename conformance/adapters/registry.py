"""Finding adapters: the kit's own and third parties', through the ``conformance.adapters`` entry points.

A third-party package registers an adapter in its ``pyproject.toml``::

    [project.entry-points."conformance.adapters"]
    myvendor = "myvendor_conformance:create"

where ``create(argument, *, dataset, settings)`` returns an :class:`~conformance.adapters.base.Analyzer`.
Everything an adapter must and may provide is in :mod:`conformance.adapters.base`; what it declares
(its :class:`~conformance.adapters.base.Capabilities`) is checked against its members here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ..errors import AdapterError

if TYPE_CHECKING:
    from ..dataset import Dataset
    from .base import AdapterSettings, Analyzer, AnalyzerFactory

__all__ = ["GROUP", "available", "compares_pairs", "create", "parse_spec"]

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


def compares_pairs(spec: str) -> bool:
    """Whether ``spec``'s adapter compares the manifest's photos 1:1 (``embeddings``, ``scores``, ``local:embeddings``).

    Such a manifest needs no ``role`` column and no gender columns. An adapter module says so with a
    function ``compares_pairs(argument) -> bool``; one that cannot be loaded says no here, and its
    error comes when it is created.
    """
    from importlib import import_module

    name, argument = parse_spec(spec)
    target = available().get(name)
    if target is None:
        return False
    try:
        module = import_module(target.partition(":")[0])
    except ImportError:
        return False
    check = getattr(module, "compares_pairs", None)
    return bool(check(argument)) if callable(check) else False


def _load(target: str) -> AnalyzerFactory:
    from importlib import import_module

    module_name, _, attribute = target.partition(":")
    obj: object = import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return cast("AnalyzerFactory", obj)


def create(spec: str, *, dataset: Dataset, settings: AdapterSettings | None = None) -> Analyzer:
    """Build the analyzer named by ``spec`` (``NAME[:ARGUMENT]``) for ``dataset``."""
    from .base import AdapterSettings, check_capabilities

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
    check_capabilities(analyzer, f"adapter {name!r} ({adapters[name]})")
    return analyzer
