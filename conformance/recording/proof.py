"""Telling the kit's own emulator from a stand-in that says it is one.

Anything can send the header ``x-conformance-emulator``: a mock, a proxy, a vendor's stand-in. A
recording that believed it would label a stand-in's answers as the kit's emulator's. So the claim is
checked, with a key only the emulator and the user who started it can read:

- each running emulator (:func:`conformance.emulators.rekognition_server.serve`) draws a random key and
  registers it under its port in a folder of the user's own (:func:`registry`; the folder is the
  user's alone, mode 0700, each file 0600);
- a recording run sends a fresh random nonce with each call to a loopback endpoint
  (:data:`NONCE_HEADER`), and the emulator answers with the HMAC-SHA256, under its key, of the nonce
  and of the digest of its answer (:data:`PROOF_HEADER`): a proxy in between cannot change the answer
  and keep the proof;
- the adapter recomputes it (:func:`claim`): ``verified`` when the endpoint's port has a registered
  key that gives the same proof, ``unverified`` when the header is there without that proof.

An unverified claim is an unverified endpoint: its answers are recorded as a loopback stand-in's,
with the claim renamed (``x-conformance-emulator-unverified``) so a replay does not believe it either.
What this does not defend against: someone with the user's own account writing a key file (they
could as well edit the recording); see ``docs/explanation/threat-model.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .._atomic import write_atomic
from .._files import FileTooLarge, NotRegularFile, read_problem, read_regular
from .._text import printable

__all__ = [
    "CLAIM_HEADER",
    "NONCE_HEADER",
    "PROOF_HEADER",
    "UNVERIFIED_HEADER",
    "claim",
    "new_nonce",
    "proof",
    "register",
    "registry",
    "unregister",
]

CLAIM_HEADER = "x-conformance-emulator"
NONCE_HEADER = "x-conformance-nonce"
PROOF_HEADER = "x-conformance-emulator-proof"
# What a recording keeps of a claim it could not verify: said, never believed.
UNVERIFIED_HEADER = "x-conformance-emulator-unverified"
# An emulator's key file holds about 150 bytes of JSON (its pid, host, port and a 32-byte key in hex).
MAX_KEY_FILE_BYTES = 4096
_SAID: set[str] = set()  # key files a notice was given for (a recording asks for a key on every call)


def registry() -> Path:
    """The folder where running emulators register their keys: the user's own, under the temporary folder."""
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"conformance-emulators-{user}"


def _private_folder(folder: Path) -> bool:
    """Whether ``folder`` is a real folder owned by this user that no one else can read or write."""
    try:
        info = folder.lstat()
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        return False
    others = hasattr(os, "getuid") and (info.st_uid != os.getuid() or bool(info.st_mode & 0o077))
    return not others


def register(host: str, port: int) -> tuple[bytes, Path | None]:
    """Draw a key for an emulator listening on ``host:port`` and register it; returns the key and its file.

    The file is None when the registry cannot be written safely (a folder another user made): the
    emulator then answers with proofs no run can check, and its answers are recorded as unverified.
    """
    key = secrets.token_bytes(32)
    folder = registry()
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return key, None
    if not _private_folder(folder):
        return key, None
    path = folder / f"{int(port)}.json"
    text = json.dumps({"pid": os.getpid(), "host": host, "port": int(port), "key": key.hex()})
    try:
        write_atomic(path, text, mode=0o600)  # the key stays this user's
    except OSError:
        return key, None
    return key, path


def unregister(path: Path | None, key: bytes) -> None:
    """Remove an emulator's registration, if it is still its own (another emulator may have the port now)."""
    if path is None:
        return
    try:
        entry = json.loads(_read_key_file(path))
    except (OSError, ValueError):
        return
    if isinstance(entry, dict) and entry.get("key") == key.hex():
        path.unlink(missing_ok=True)


def new_nonce() -> str:
    """A fresh random nonce for a call (128 bits, hex)."""
    return secrets.token_hex(16)


def proof(key: bytes, nonce: str, body: bytes) -> str:
    """What the emulator answers to a call that sent ``nonce``: HMAC-SHA256 under its key of the nonce and the
    digest of the answer's ``body`` (a proxy that changes an answer cannot keep its proof), hex."""
    message = f"{nonce}:{hashlib.sha256(body).hexdigest()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _key_for(url: str) -> bytes | None:
    try:
        port = urlsplit(url).port
    except ValueError:
        return None
    folder = registry()
    if port is None or not _private_folder(folder):
        return None
    path = folder / f"{port}.json"
    try:
        entry: Any = json.loads(_read_key_file(path))
        return bytes.fromhex(str(entry["key"])) if isinstance(entry, dict) else None
    except (NotRegularFile, FileTooLarge) as exc:
        _say_once(path, f"conformance: ignored the emulator key file {path}: it {read_problem(exc, 'a key file')}")
        return None
    except (OSError, ValueError, KeyError):
        return None


def _read_key_file(path: Path) -> bytes:
    """A key file's bytes: a regular file only, at most :data:`MAX_KEY_FILE_BYTES` (never a wait on a pipe)."""
    return read_regular(path, limit=MAX_KEY_FILE_BYTES)


def _say_once(path: Path, notice: str) -> None:
    """A notice on stderr, once per file (a recording asks for a key on every call)."""
    if str(path) not in _SAID:
        _SAID.add(str(path))
        sys.stderr.write(
            printable(f"{notice}; the answers of the endpoint on that port are recorded as unverified") + "\n"
        )


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if str(key).lower() == name:
            text = value[0] if isinstance(value, list) and value else value
            return str(text.decode("latin-1") if isinstance(text, bytes) else text)
    return None


def claim(headers: Mapping[str, Any], body: bytes, *, url: str, nonce: str | None) -> str:
    """What an answer says of being the kit's emulator: ``""`` (nothing), ``verified`` or ``unverified``.

    ``headers`` and ``body`` are the answer's, ``url`` the endpoint it came from, ``nonce`` the one the call sent.
    """
    if _header(headers, CLAIM_HEADER) is None:
        return ""
    given = _header(headers, PROOF_HEADER)
    key = _key_for(url)
    if given is None or key is None or not nonce:
        return "unverified"
    return "verified" if hmac.compare_digest(given, proof(key, nonce, body)) else "unverified"
