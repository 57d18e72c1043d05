"""The observation cache's entries are sealed over their bytes, and the seal is checked before parsing.

Issue 15's known limit (red team 15e F4): the cache parsed an entry before checking its seal (format 2
sealed its parsed content), so an entry planted in ``.conformance_cache`` that filled the run's bounds cost
twice its bytes (1,062 MB at 20,000 photos). Format 3 puts an HMAC of the bytes on the entry's first line;
what does not verify is never parsed. Entries of format 2 made before the switch are still read, and
rewritten; one made since is ignored unread.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from conformance.observation import Face, Observation
from conformance.run import cache
from conformance.run.cache import Entry, EntryBounds

KEY = "e" * 64
NOTICE = "conformance: ignored the cache entry .conformance_cache/observations/" + KEY + ".json: "
MISMATCH = "its content does not match its seal (edited, damaged, or sealed on another machine)"
WORKED_OUT = "; the answers are worked out again\n"


@pytest.fixture
def user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user cache folder of this test's own: its key, and the switch mark beside it, start unmade."""
    folder = tmp_path / "user-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder / "conformance"


def _observations(count: int, label: str = "Female") -> list[Observation]:
    face = Face(label=label, gender="woman" if label == "Female" else "man", confidence=91.5, box=(0.1, 0.2, 0.3, 0.4))
    return [Observation(photo=f"img/{i}.png", outcome="analysed", face=face, faces=1) for i in range(count)]


def _entry(root: Path) -> Path:
    return root / ".conformance_cache" / "observations" / f"{KEY}.json"


def _format_2(secret: bytes, observations: list[Observation]) -> bytes:
    """An entry as the kit wrote it before format 3, written here from its description (not the kit's code):
    the JSON document with a ``seal`` field, an HMAC-SHA256 over the rest in canonical JSON (sorted keys,
    no spaces, not ASCII-escaped)."""
    rows = [
        [o.photo, o.outcome, o.faces, o.reason, None if o.face is None else {
            "label": o.face.label, "gender": o.face.gender, "confidence": o.face.confidence,
            "box": list(o.face.box or ()), "age": o.face.age,
        }]
        for o in observations
    ]  # fmt: skip
    body = {"format": 2, "key": KEY, "observations": rows, "variants": None, "variants_note": "none planned"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    seal = {"kind": "hmac-sha256", "value": hmac.new(secret, canonical, hashlib.sha256).hexdigest()}
    return json.dumps({**body, "seal": seal}, separators=(",", ":")).encode()


def _answers(entry: Entry | None) -> list[tuple[Any, ...]]:
    assert entry is not None
    return [(o.photo, o.outcome, o.face and (o.face.label, o.face.confidence, o.face.box)) for o in entry.observations]


# -- a planted entry is never parsed ------------------------------------------------------------------------


def _never_parsed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make any parse of an entry fail the test's count: the sentinel."""
    parsed: list[int] = []

    def parse(text: str, bounds: Any) -> Any:
        parsed.append(len(text))
        raise AssertionError("a planted entry was parsed")

    monkeypatch.setattr(cache, "parse_entry", parse)
    monkeypatch.setattr(cache, "json_values", lambda text: parsed.append(len(text)) or 0)
    return parsed


# Within the bounds of 600 answers (16.8 MB): a JSON string as long as they let it be, the costliest shape to parse.
HUGE = b'{"format":3,"key":"' + KEY.encode() + b'","x":"' + b"a" * 12 * 2**20 + b'"}'


@pytest.mark.parametrize(
    ("planted", "problem"),
    [
        (b"0" * 64 + b"\n" + HUGE, MISMATCH),  # a forged seal
        (hashlib.sha256(HUGE).hexdigest().encode() + b"\n" + HUGE, MISMATCH),  # a digest, not the key's HMAC
        (b"\n" + HUGE, MISMATCH),  # no seal
        (HUGE.replace(b'"format":3', b'"format":2'), "it is in the kit's earlier format"),  # format 2, planted
    ],
    ids=["forged-seal", "plain-digest", "no-seal", "earlier-format"],
)
def test_a_planted_entry_filling_the_bounds_is_never_parsed(
    tmp_path: Path,
    user_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    planted: bytes,
    problem: str,
) -> None:
    """Before: parsed first (its text and the string in it: twice its bytes), then refused for its seal."""
    cache.store(tmp_path, KEY, _observations(3), None, "")  # the user's key exists; the entry is then replaced
    _entry(tmp_path).write_bytes(planted)
    parsed = _never_parsed(monkeypatch)
    bounds = EntryBounds.of(600, 16)
    assert len(planted) <= bounds.size
    tracemalloc.start()
    try:
        assert cache.load(tmp_path, KEY, bounds) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert parsed == []
    err = capsys.readouterr().err
    assert err.startswith(NOTICE + problem)
    assert err.endswith(WORKED_OUT)
    # Read a chunk (1 MiB) at a time and nothing kept: not its 12 MiB (before: 24 MiB and more).
    assert peak < 3 * 2**20


def test_an_entry_over_the_bounds_is_refused_from_its_size_unread(
    tmp_path: Path, user_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cache.store(tmp_path, KEY, _observations(3), None, "")
    _entry(tmp_path).write_bytes(b"0" * 64 + b"\n" + HUGE)
    parsed = _never_parsed(monkeypatch)
    bounds = EntryBounds.of(1, 16)  # 1 MiB and 26,240 bytes; the seal's line besides
    assert cache.load(tmp_path, KEY, bounds) is None
    assert parsed == []
    assert (
        capsys.readouterr().err
        == f"{NOTICE}it is 12.0 MiB, over the 1.0 MiB the kit reads for a cache entry{WORKED_OUT}"
    )


# -- what the kit wrote is read, in either format -----------------------------------------------------------


def test_an_entry_is_its_seals_line_then_its_json_and_is_read_back(tmp_path: Path, user_cache: Path) -> None:
    observations = _observations(4)
    path = cache.store(tmp_path, KEY, observations, None, "no variants were planned")
    assert path == _entry(tmp_path)
    data = path.read_bytes()
    seal, body = data[:64], data[65:]
    secret = (user_cache / "cache.key").read_bytes()
    assert data[64:65] == b"\n"
    assert seal == hmac.new(secret, body, hashlib.sha256).hexdigest().encode()  # over the bytes, as written
    assert json.loads(body)["format"] == 3
    found = cache.load(tmp_path, KEY, EntryBounds.of(4, 10))
    assert _answers(found) == [(f"img/{i}.png", "analysed", ("Female", 91.5, (0.1, 0.2, 0.3, 0.4))) for i in range(4)]


def test_an_entry_of_the_earlier_format_made_before_the_switch_is_read_and_rewritten(
    tmp_path: Path, user_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A machine that ran the kit before format 3: its key and its entries exist, no switch is marked yet.
    Those answers are kept: read with format 2's checks (bounds, then the seal over the parsed content),
    then sealed anew over their bytes, so the next read checks the seal first."""
    user_cache.mkdir(parents=True)
    secret = os.urandom(32)
    (user_cache / "cache.key").write_bytes(secret)
    entry = _entry(tmp_path)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(_format_2(secret, _observations(5, "Male")))
    time.sleep(0.05)  # the switch is marked after the entry was made (file times are a few ms coarse)
    expected = [(f"img/{i}.png", "analysed", ("Male", 91.5, (0.1, 0.2, 0.3, 0.4))) for i in range(5)]
    found = cache.load(tmp_path, KEY, EntryBounds.of(5, 10))
    assert _answers(found) == expected
    assert found is not None
    assert found.variants_note == "none planned"
    assert capsys.readouterr().err == ""
    # Rewritten in format 3, sealed over its bytes with the same key.
    data = entry.read_bytes()
    assert data[:64] == hmac.new(secret, data[65:], hashlib.sha256).hexdigest().encode()
    assert json.loads(data[65:])["format"] == 3
    assert int((user_cache / "sealed-bytes-since").read_text()) > 0
    assert _answers(cache.load(tmp_path, KEY, EntryBounds.of(5, 10))) == expected


def test_an_entry_of_the_earlier_format_made_after_the_switch_is_not_read(
    tmp_path: Path, user_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Even sealed with the user's key (format 2 could be checked only once parsed): made since the switch,
    it was not made by the kit that switched, and is never parsed. The answers stored anew are read."""
    cache.store(tmp_path, KEY, _observations(2), None, "")  # a key made now: no entry of format 2 is read
    secret = (user_cache / "cache.key").read_bytes()
    assert (user_cache / "sealed-bytes-since").read_text() == "0"
    _entry(tmp_path).write_bytes(_format_2(secret, _observations(2, "Male")))
    with monkeypatch.context() as patch:
        parsed = _never_parsed(patch)
        assert cache.load(tmp_path, KEY) is None
        assert parsed == []
    assert capsys.readouterr().err == (
        f"{NOTICE}it is in the kit's earlier format and this machine's cache key was made by a kit of the current "
        "one, so it is not read (that format is parsed before its seal can be checked)" + WORKED_OUT
    )
    cache.store(tmp_path, KEY, _observations(2), None, "")
    assert _answers(cache.load(tmp_path, KEY))[0][2] == ("Female", 91.5, (0.1, 0.2, 0.3, 0.4))


def test_an_entry_of_the_earlier_format_planted_after_an_upgrade_is_not_read(
    tmp_path: Path, user_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A machine that ran the kit before format 3 upgrades: its first run marks the switch; an entry of format 2
    that appears later (a checkout, an unpacked project, a planter with the key) is not parsed, and the notice
    dates the switch."""
    from datetime import datetime, timezone

    user_cache.mkdir(parents=True)
    secret = os.urandom(32)
    (user_cache / "cache.key").write_bytes(secret)
    assert cache.load(tmp_path, KEY) is None  # nothing cached yet; the switch is marked now
    since = int((user_cache / "sealed-bytes-since").read_text())
    assert abs(since / 1e9 - time.time()) < 60
    time.sleep(0.05)
    _entry(tmp_path).parent.mkdir(parents=True)
    _entry(tmp_path).write_bytes(_format_2(secret, _observations(2, "Male")))
    parsed = _never_parsed(monkeypatch)
    assert cache.load(tmp_path, KEY) is None
    assert parsed == []
    when = datetime.fromtimestamp(since / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    assert capsys.readouterr().err == (
        f"{NOTICE}it is in the kit's earlier format and was written after this machine's cache moved to the current "
        f"one, on {when} UTC, so it is not read (that format is parsed before its seal can be checked)" + WORKED_OUT
    )


# -- an edited, cut or lengthened entry is refused ----------------------------------------------------------


@pytest.mark.parametrize(
    "edit",
    [
        lambda data: data.replace(b'"confidence":91.5', b'"confidence":99.5', 1),  # one byte of an answer
        lambda data: data.replace(b'"Female"', b'"Male"', 1),
        lambda data: bytes([data[0] ^ 1]) + data[1:],  # one bit of the seal
        lambda data: data[:-1],  # cut by one byte
        lambda data: data[: len(data) // 2],  # torn
        lambda data: data + b" ",  # one byte more
        lambda data: data[:64] + b"\r\n" + data[65:],  # CRLF after the seal
        lambda data: data[:64].upper() + data[64:],
    ],
    ids=["confidence", "label", "seal-bit", "cut-1", "torn", "longer", "crlf", "upper-case-seal"],
)
def test_an_edited_entry_is_refused_with_the_notice(
    tmp_path: Path, user_cache: Path, capsys: pytest.CaptureFixture[str], edit: Any
) -> None:
    path = cache.store(tmp_path, KEY, _observations(3), None, "")
    assert path is not None
    data = path.read_bytes()
    edited = edit(data)
    assert edited != data
    path.write_bytes(edited)
    assert cache.load(tmp_path, KEY) is None
    assert capsys.readouterr().err == NOTICE + MISMATCH + WORKED_OUT


def test_an_entry_of_another_key_renamed_is_refused(
    tmp_path: Path, user_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sealed, but for other evidence: the seal covers the key written inside it."""
    other = cache.store(tmp_path, "f" * 64, _observations(3), None, "")
    assert other is not None
    other.rename(_entry(tmp_path))
    assert cache.load(tmp_path, KEY) is None
    assert capsys.readouterr().err == NOTICE + "it was made for other evidence" + WORKED_OUT


# -- writers that race or die leave nothing half written that a reader trusts ------------------------------

WRITER = """
import os, signal, sys
from pathlib import Path
from conformance.observation import Face, Observation
from conformance.run import cache

root, key, label, rounds, die = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "die"
face = Face(label=label, gender="woman" if label == "Female" else "man", confidence=91.5, box=(0.1, 0.2, 0.3, 0.4))
observations = [Observation(photo=f"img/{i}.png", outcome="analysed", face=face, faces=1) for i in range(3000)]
if die:  # killed after the entry's bytes are written, before they are renamed into place
    os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
for _ in range(rounds):
    cache.store(root, key, observations, None, label)
"""


def _writer(root: Path, label: str, rounds: int, die: bool = False) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-c", WRITER, str(root), KEY, label, str(rounds), "die" if die else "live"]
    return subprocess.Popen(command, stderr=subprocess.PIPE)


def test_concurrent_writers_leave_every_reader_a_whole_entry(
    tmp_path: Path, user_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two runs storing the same key at once while a third reads: each read is one writer's whole entry."""
    cache.store(tmp_path, KEY, _observations(1), None, "first")  # the key, shared by the writers
    writers = [_writer(tmp_path, "Female", 40), _writer(tmp_path, "Male", 40)]
    seen: set[str] = set()
    while any(w.poll() is None for w in writers):
        found = cache.load(tmp_path, KEY)
        assert found is not None
        if found.variants_note != "first":
            assert len(found.observations) == 3000
            assert {o.face.label for o in found.observations if o.face} == {found.variants_note}
        seen.add(found.variants_note)
    assert [w.wait() for w in writers] == [0, 0]
    assert capsys.readouterr().err == ""  # never a notice: no half entry was seen
    assert seen - {"first"}  # the reads overlapped the writes


def test_a_writer_killed_mid_write_leaves_the_entry_before_it_whole(
    tmp_path: Path, user_cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache.store(tmp_path, KEY, _observations(2), None, "before")
    killed = _writer(tmp_path, "Male", 1, die=True)
    assert killed.wait() == -9
    folder = _entry(tmp_path).parent
    leftovers = [p.name for p in folder.iterdir() if p.name != f"{KEY}.json"]
    assert len(leftovers) == 1
    assert leftovers[0].startswith(f".{KEY}.json.")
    found = cache.load(tmp_path, KEY)
    assert found is not None
    assert found.variants_note == "before"
    assert len(found.observations) == 2
    assert capsys.readouterr().err == ""
