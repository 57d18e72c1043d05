"""What the audited function takes: a path, its text, the image's bytes or a :class:`PhotoInput`, one or a batch.

Read from the annotation of the function's one required parameter (see :mod:`conformance.adapters.python`).
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..._untrusted import shown
from ...errors import AdapterError
from .common import _HOWTO


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
        from ...images import image_bytes

        return image_bytes(self.path)


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
    from ...dataset import Photo

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
