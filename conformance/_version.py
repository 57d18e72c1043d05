"""The kit's version, in one place: pyproject.toml reads it from here (``dynamic = ["version"]``).

A leaf module, so that adapters and reports can name the version without importing the package
root (and everything it imports).
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
