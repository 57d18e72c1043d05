"""Deeply nested bodies in recording scrubbing (issue 15, Python 3.13): no RecursionError, one key on every Python.

Python 3.12 and later parse JSON far deeper than the interpreter lets Python code recurse (the C parser
has its own, larger, limit), so ``json.loads`` succeeded on a body 3,000 levels deep and the walk that
replaces image bytes by their digest then raised RecursionError. On 3.11 the parser itself gave up at
about 1,000 levels, so the same body got another key there. Here ``json.loads`` is made to parse as
3.13 does (with the recursion limit raised around the parse only) to show the walk no longer fails; the
expected canonical body is the digest of the body's bytes, computed with hashlib.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import pytest

from conformance.recording.scrub import MAX_NESTING, canonical_body, scrub_body_account_ids

_loads = json.loads


def loads_as_on_313(text: str | bytes, **kwargs: Any) -> Any:
    """``json.loads`` that parses deeper than the recursion limit, as the C parser of Python 3.12+ does."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(50_000)
    try:
        return _loads(text, **kwargs)
    finally:
        sys.setrecursionlimit(limit)


@pytest.fixture(params=["3.11", "3.13"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "3.13":
        monkeypatch.setattr(json, "loads", loads_as_on_313)
    return str(request.param)


def digest_form(body: str) -> str:
    return '{"Sha256OfBody":"' + hashlib.sha256(body.encode()).hexdigest() + '"}'


def nested(depth: int, inner: str = "1") -> str:
    return '{"a":' * depth + inner + "}" * depth


@pytest.mark.parametrize("body", ["[" * 3000 + "]" * 3000, nested(3000), nested(900), nested(MAX_NESTING + 1)])
def test_a_body_nested_deeper_than_any_answer_is_kept_as_its_digest(parser: str, body: str) -> None:
    assert canonical_body(body) == digest_form(body)
    assert canonical_body(canonical_body(body)) == canonical_body(body)  # vcrpy applies it again


def test_a_body_at_the_nesting_bound_is_read_as_json(parser: str) -> None:
    body = nested(MAX_NESTING - 1, '{"Bytes": "aGVsbG8="}')  # MAX_NESTING levels of objects in all
    expected = nested(MAX_NESTING - 1, '{"Sha256":"' + hashlib.sha256(b"hello").hexdigest() + '"}')
    assert canonical_body(body) == expected.replace(": ", ":")


def test_account_ids_in_a_deep_answer_are_scrubbed_as_text(parser: str) -> None:
    body = nested(3000, '{"Owner": 123456789012, "Arn": "arn:aws:iam::123456789012:role/x"}')
    # Too deep to read as JSON: replaced as text, as in a body that is not JSON.
    assert scrub_body_account_ids(body) == nested(3000, '{"Owner": ACCOUNT, "Arn": "arn:aws:iam::ACCOUNT:role/x"}')
    shallow = '{"Owner": 123456789012, "Arn": "arn:aws:iam::123456789012:role/x"}'
    assert json.loads(scrub_body_account_ids(shallow)) == {"Owner": "ACCOUNT", "Arn": "arn:aws:iam::ACCOUNT:role/x"}
