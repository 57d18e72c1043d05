"""Local stand-ins for vendor APIs, serving a predictions file on loopback.

The kit's own recordings are made against these emulators, since no real credentials exist in its
CI. They speak the vendor's wire protocol so the real SDK can talk to them, check every response
against the SDK's service model, and always say that they are emulated: they are never the vendor.
Importing this package costs only the standard library; botocore is loaded when an emulator starts.
"""

from __future__ import annotations

from ._validate import validate_response
from .cli import build_parser, main
from .rekognition import EmulatorError, EmulatorStats, Faults, RekognitionEmulator
from .rekognition_server import EmulatorServer, serve

__all__ = [
    "EmulatorError",
    "EmulatorServer",
    "EmulatorStats",
    "Faults",
    "RekognitionEmulator",
    "build_parser",
    "main",
    "serve",
    "validate_response",
]
