"""A strict check of a response body against the output shape in botocore's service model.

botocore's own ``ParamValidator`` checks requests, not responses, and even applied to a response
it lets a ``Gender.Value`` of ``"Robot"`` or a ``Confidence`` of 200 through (it checks neither
enums nor maximums). An emulator that said such things would record answers the real API cannot
give, so every response it sends is checked here first.

What is checked, recursively: structures (required members present, no member the model does not
know), lists (length ``min``/``max``), maps (keys and values), strings (``enum``, length
``min``/``max``, ``pattern`` matched against the whole string where Python's ``re`` understands
it), integers and longs (no bools, no floats; ``min``/``max``), floats and doubles (finite
numbers; ``min``/``max``), booleans, blobs (base64 text, as JSON protocols send them) and
timestamps (epoch seconds).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # botocore ships no type information; the ignore also holds where a config silences it.
    from botocore.model import ServiceModel, Shape  # type: ignore[import-untyped, unused-ignore]

__all__ = ["service_model", "validate_response"]


@cache
def service_model(service: str = "rekognition") -> ServiceModel:
    """botocore's model of ``service``, loaded once per process (loading it takes tens of ms)."""
    import botocore.session  # type: ignore[import-untyped, unused-ignore]

    return botocore.session.get_session().get_service_model(service)


@cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    # Smithy patterns are ECMAScript regexes; the few Python cannot compile (\p{L}) go unchecked
    # rather than being approximated, which could reject what the real API sends.
    try:
        return re.compile(pattern)
    except re.error:
        return None


def validate_response(operation: str, body: dict[str, Any], *, service: str = "rekognition") -> None:
    """Check ``body`` against the output shape of ``operation``; raise on the first violation.

    Parameters
    ----------
    operation
        The operation's name in the model, e.g. ``"DetectFaces"``.
    body
        The parsed JSON body the emulator is about to send (without ``ResponseMetadata``).
    service
        The botocore service name.

    Raises
    ------
    ValueError
        Naming the path of the offending value and what the model expects, e.g.
        ``FaceDetails[0].Gender.Value: 'Robot' is not one of ['Male', 'Female']``.

    Examples
    --------
    >>> validate_response("DetectFaces", {"FaceDetails": [{"Confidence": 200.0}]})
    Traceback (most recent call last):
    ...
    ValueError: DetectFaces response: FaceDetails[0].Confidence: 200.0 is above the maximum 100
    """
    model = service_model(service)
    shape = model.operation_model(operation).output_shape
    try:
        if shape is None:
            if body:
                raise ValueError(f"(body): the model gives {operation} no output, yet the body has {sorted(body)}")
            return
        _check(shape, body, "")
    except ValueError as exc:
        raise ValueError(f"{operation} response: {exc}") from None


def _where(path: str) -> str:
    return path or "(body)"


def _check(shape: Shape, value: Any, path: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        _check_structure(shape, value, path)
    elif kind == "list":
        if not isinstance(value, list):
            raise ValueError(f"{_where(path)}: expected a list ({shape.name}), found {type(value).__name__}")
        _check_size(shape, len(value), path, "items")
        member = shape.member
        for index, item in enumerate(value):
            _check(member, item, f"{path}[{index}]")
    elif kind == "map":
        if not isinstance(value, dict):
            raise ValueError(f"{_where(path)}: expected an object ({shape.name}), found {type(value).__name__}")
        _check_size(shape, len(value), path, "entries")
        for key, item in value.items():
            _check(shape.key, key, f"{path}[{key!r}] (key)")
            _check(shape.value, item, f"{path}[{key!r}]")
    elif kind == "string":
        _check_string(shape, value, path)
    elif kind in ("integer", "long"):
        # bool is an int in Python but a different JSON type: the SDK would not parse it as a number.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{_where(path)}: expected an integer ({shape.name}), found {value!r}")
        _check_range(shape, value, path)
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{_where(path)}: expected a finite number ({shape.name}), found {value!r}")
        _check_range(shape, value, path)
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{_where(path)}: expected true or false ({shape.name}), found {value!r}")
    elif kind == "blob":
        if not isinstance(value, str):
            raise ValueError(f"{_where(path)}: expected base64 text ({shape.name}), found {type(value).__name__}")
        try:
            size = len(base64.b64decode(value, validate=True))
        except binascii.Error as exc:
            raise ValueError(f"{_where(path)}: not valid base64 ({exc})") from None
        _check_size(shape, size, path, "bytes")
    elif kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{_where(path)}: expected epoch seconds ({shape.name}), found {value!r}")
    else:
        raise ValueError(f"{_where(path)}: shape {shape.name} has type {kind!r}, which this check does not know")


def _check_structure(shape: Shape, value: Any, path: str) -> None:
    if not isinstance(value, dict):
        raise ValueError(f"{_where(path)}: expected an object ({shape.name}), found {type(value).__name__}")
    members = shape.members
    unknown = [key for key in value if key not in members]
    if unknown:
        raise ValueError(
            f"{_where(path)}: unknown member {unknown[0]!r} in {shape.name}; the model knows {sorted(members)}"
        )
    for name in shape.required_members:
        if name not in value:
            raise ValueError(f"{_where(path)}: required member {name!r} of {shape.name} is missing")
    prefix = f"{path}." if path else ""
    for name, item in value.items():
        # JSON protocols omit absent members; an explicit null is not something the service sends.
        if item is None:
            raise ValueError(f"{prefix}{name}: null; omit the member instead")
        _check(members[name], item, prefix + name)


def _check_string(shape: Shape, value: Any, path: str) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{_where(path)}: expected a string ({shape.name}), found {value!r}")
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        raise ValueError(f"{_where(path)}: {value!r} is not one of {list(enum)}")
    _check_size(shape, len(value), path, "characters")
    pattern = shape.metadata.get("pattern")
    if pattern is not None:
        compiled = _pattern(pattern)
        # The service matches a pattern against the whole value (an ExternalImageId of "a/b.png"
        # is refused though "a" matches): a search would let through what the real API never
        # sends, and would make patterns such as S3Bucket's "[0-9A-Za-z\.\-_]*" match anything.
        if compiled is not None and compiled.fullmatch(value) is None:
            raise ValueError(f"{_where(path)}: {value!r} does not match the pattern {pattern!r} of {shape.name}")


def _check_range(shape: Shape, value: float, path: str) -> None:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if low is not None and value < low:
        raise ValueError(f"{_where(path)}: {value!r} is below the minimum {low}")
    if high is not None and value > high:
        raise ValueError(f"{_where(path)}: {value!r} is above the maximum {high}")


def _check_size(shape: Shape, size: int, path: str, unit: str) -> None:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if low is not None and size < low:
        raise ValueError(f"{_where(path)}: {size} {unit}, fewer than the minimum {low} of {shape.name}")
    if high is not None and size > high:
        raise ValueError(f"{_where(path)}: {size} {unit}, more than the maximum {high} of {shape.name}")
