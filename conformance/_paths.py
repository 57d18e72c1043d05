"""How the kit names a path it looked for: as given, and where that is when it was relative.

A leaf module (nothing of the kit imported), for the messages of every loader: "manifest not found:
data/manifest.csv (looked for /home/me/project/data/manifest.csv)" tells a user which folder a
relative path was read against, the working directory or an ini file's folder.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["tried"]


def tried(path: str | os.PathLike[str]) -> str:
    """``path`` as given, followed by the absolute path it stands for when it was not absolute."""
    given = Path(path)
    if given.is_absolute():
        return str(given)
    return f"{given} (looked for {Path.cwd() / given.expanduser()})"
