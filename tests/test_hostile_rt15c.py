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
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_special_files import KINDS, finishes, sparse, special

from conformance import cache, sharing
from conformance.adapters.base import Vocabulary
from conformance.execution import hold_to_vocabulary
from conformance.observation import Face, Observation
from conformance.recording import proof
from conformance.sharing import Share

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


# -- item 6: the xdist share and the emulator's key file are read as the kit reads other files ------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_shared_answers_entry_that_is_a_pipe_or_a_device_is_ignored_with_a_notice(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: ``read_text`` waited on a pipe for ever and read ``/dev/zero`` until the memory ran out."""
    share = Share(str(tmp_path), "00" * 32)
    entry = tmp_path / "0123abcd.json"
    what = special(entry, kind)
    assert finishes(lambda: sharing._read(share, "0123abcd")) is None
    assert capsys.readouterr().err == (
        f"conformance: ignored the answers shared by the run's workers, {entry}: it is {what}, not a regular file: "
        "the kit reads only regular files; this worker works the answers out itself\n"
    )


def test_a_shared_answers_entry_over_the_limit_is_ignored_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry over the limit the cache reads for one (1 GiB; 1 MiB here): refused from its size."""
    monkeypatch.setattr(cache, "MAX_ENTRY_BYTES", 2**20)
    share = Share(str(tmp_path), "00" * 32)
    entry = sparse(tmp_path / "0123abcd.json", 3 * 2**20, b'{"format": 1')
    assert finishes(lambda: sharing._read(share, "0123abcd")) is None
    assert capsys.readouterr().err == (
        f"conformance: ignored the answers shared by the run's workers, {entry}: it is 3.0 MiB, over the 1.0 MiB "
        "the kit reads for shared answers; this worker works the answers out itself\n"
    )


def test_a_shared_answers_entry_not_yet_written_is_no_notice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sharing._read(Share(str(tmp_path), "00" * 32), "0123abcd") is None
    assert capsys.readouterr().err == ""


@pytest.fixture
def key_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private registry folder of the test's own (the real one is shared by the user's emulators)."""
    folder = tmp_path / "registry"
    folder.mkdir(mode=0o700)
    monkeypatch.setattr(proof, "registry", lambda: folder)
    monkeypatch.setattr(proof, "_SAID", set(), raising=False)
    return folder


@pytest.mark.parametrize("kind", KINDS)
def test_an_emulator_key_file_that_is_a_pipe_or_a_device_leaves_the_claim_unverified_with_a_notice(
    key_registry: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: a recording run's check of an emulator's claim waited on a pipe for ever (every call)."""
    key_file = key_registry / "49152.json"
    what = special(key_file, kind)
    headers = {proof.CLAIM_HEADER: "rekognition", proof.PROOF_HEADER: "0" * 64}
    for _ in range(3):  # a recording asks on every call; the notice comes once
        claimed = finishes(lambda: proof.claim(headers, b"{}", url="http://127.0.0.1:49152", nonce="ab" * 16))
        assert claimed == "unverified"
    assert capsys.readouterr().err == (
        f"conformance: ignored the emulator key file {key_file}: it is {what}, not a regular file: the kit reads only "
        "regular files; the answers of the endpoint on that port are recorded as unverified\n"
    )


def test_an_emulator_key_file_over_the_limit_is_not_read(
    key_registry: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = sparse(key_registry / "49152.json", 64 * 2**20, b'{"key": "')
    headers = {proof.CLAIM_HEADER: "rekognition", proof.PROOF_HEADER: "0" * 64}
    assert finishes(lambda: proof.claim(headers, b"{}", url="http://127.0.0.1:49152", nonce="ab" * 16)) == "unverified"
    assert capsys.readouterr().err == (
        f"conformance: ignored the emulator key file {key_file}: it is 64.0 MiB, over the 4,096 bytes the kit reads "
        "for a key file; the answers of the endpoint on that port are recorded as unverified\n"
    )


def test_unregistering_never_waits_on_a_key_file_swapped_for_a_pipe(key_registry: Path) -> None:
    key_file = key_registry / "49152.json"
    special(key_file, "fifo")
    assert finishes(lambda: proof.unregister(key_file, b"k" * 32)) is None
    assert key_file.exists()  # not the emulator's own any more: left alone
