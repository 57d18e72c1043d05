"""Red team 15c (issue 15, second pass): the holes it found, each pinned by a test that failed before the fix.

- a ``conformance run`` killed outright (SIGKILL to its process group) left the child running the suite,
  still calling the model;
- a named pipe as a module's bytecode cache hung ``python:MODULE:FUNCTION``;
- CMYK, float and LAB TIFFs passed the loader, then crashed the Rekognition adapter's upload;
- one huge line in a predictions file or a JSONL manifest was read whole;
- a predictions line with a key given twice was read silently, the last one winning;
- the xdist share and the emulator's key file were read without bound;
- the vocabulary check ran two import statements per photo.
"""

from __future__ import annotations

import builtins
from types import SimpleNamespace
from typing import Any

from conformance.adapters.base import Vocabulary
from conformance.execution import hold_to_vocabulary
from conformance.observation import Face, Observation

# -- item 7: the vocabulary check imports nothing per photo -----------------------------------------------


def test_holding_usual_answers_to_the_vocabulary_runs_no_import_statement() -> None:
    """Two ``from ... import`` statements per photo cost about 6 s a million photos here (0.6 s without)."""
    analyzer = SimpleNamespace(name="acme", vocabulary=Vocabulary({"Male": "man", "Female": "woman"}, "its header"))
    answers = [
        Observation(photo=f"p{i}", outcome="analysed", face=Face(label=label, gender=gender, confidence=90.0), faces=1)
        for i, (label, gender) in enumerate([("Male", "man"), ("Female", "woman")] * 50)
    ]
    imports: list[str] = []
    real_import = builtins.__import__

    def counting(name: str, *args: Any, **kwargs: Any) -> Any:
        imports.append(name)
        return real_import(name, *args, **kwargs)

    builtins.__import__ = counting  # not monkeypatch.setattr, which itself imports
    try:
        held = [hold_to_vocabulary(analyzer, answer) for answer in answers]
    finally:
        builtins.__import__ = real_import
    assert held == answers
    assert imports == []


def test_an_answer_outside_the_vocabulary_is_still_that_photos_error() -> None:
    analyzer = SimpleNamespace(name="acme", vocabulary=Vocabulary({"Male": "man", "Female": "woman"}, "its header"))
    answer = Observation(
        photo="p1", outcome="analysed", face=Face(label="Robot", gender=None, confidence=90.0), faces=1
    )
    held = hold_to_vocabulary(analyzer, answer)
    assert held.outcome == "error"
    assert held.reason == (
        "the service returned the gender label 'Robot', outside its declared vocabulary ['Male', 'Female'] "
        "(from its header)"
    )
