"""Lines of a file someone else wrote, each at most a limit in bytes, its line end included: one rule for every reader.

A line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (universal newlines, as Python reads text), and its end
counts toward the limit: a line of 16 MiB with its ``\\r\\n`` is read and one byte more is refused, whichever
reader reads it. The JSONL manifest's scan and the predictions file's reader each counted for themselves,
and the manifest's stopped at the ``\\r`` of a ``\\r\\n``: a line one byte over the limit passed there and
not in a predictions file (red team 15d F6). A file of one endless line is refused after reading the limit,
never read until the memory runs out.

Text saved as UTF-16 or UTF-32 is refused by every reader as not UTF-8; :func:`wide_encoding` tells which
it looks like, so the message can say so (ASCII in UTF-16 without a byte-order mark is valid UTF-8, full of
NUL bytes: read as it is, it looked like odd column names, or "not valid JSON").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["LINE_LIMIT", "LineTooLong", "numbered_lines", "wide_encoding", "wide_text_problem"]

# The longest line read, its line end included: a predictions line with a thousand faces is about 150 KB,
# a manifest row of a few dozen cells of at most 131,072 characters each fits.
LINE_LIMIT = 16 * 2**20

# Byte-order marks, UTF-32's first (UTF-32LE's begins with UTF-16LE's): iconv's name for each, and how a message says it.
_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32", "UTF-32, little-endian, with a byte-order mark"),
    (b"\x00\x00\xfe\xff", "UTF-32", "UTF-32, big-endian, with a byte-order mark"),
    (b"\xff\xfe", "UTF-16", "UTF-16, little-endian, with a byte-order mark"),
    (b"\xfe\xff", "UTF-16", "UTF-16, big-endian, with a byte-order mark"),
)
_LONE_CR = re.compile(b"\r(?!\n)")  # a carriage return that does not start a \r\n ends a line too
_AFTER_LONE_CR = re.compile(b"(?<=\r)(?!\n)")


class LineTooLong(ValueError):
    """Line ``number`` holds more than ``limit`` bytes, its line end included; the caller names its file."""

    def __init__(self, number: int, limit: int) -> None:
        super().__init__(f"line {number} is longer than {limit} bytes")
        self.number = number
        self.limit = limit


def numbered_lines(handle: BinaryIO, limit: int) -> Iterator[tuple[int, bytes]]:
    """Each line of ``handle`` with its number (from 1), its line end kept; blank lines are numbered too.

    Raises :class:`LineTooLong` for the first line over ``limit`` bytes, having read at most ``limit``
    bytes more than the lines before it.

    >>> import io
    >>> list(numbered_lines(io.BytesIO(b"a\\r\\nb\\rc\\n"), limit=3))
    [(1, b'a\\r\\n'), (2, b'b\\r'), (3, b'c\\n')]
    >>> list(numbered_lines(io.BytesIO(b"ab\\r\\n"), limit=3))
    Traceback (most recent call last):
    ...
    conformance._lines.LineTooLong: line 1 is longer than 3 bytes
    """
    number = 0
    read = handle.readline
    pending = b""  # what followed the last lone carriage return of a chunk cut at the limit
    # Split at b"\n" by readline (the lone carriage returns are split below), never more than the limit at once.
    while chunk := (pending + read(limit + 1 - len(pending)) if pending else read(limit + 1)):
        pending = b""
        if len(chunk) > limit:
            # Cut after the chunk's last lone carriage return (a file of \r line ends); the last byte is no
            # such end yet, as a \n may follow it. Without one, the chunk's first line is over the limit.
            ends = [m.end() for m in _LONE_CR.finditer(chunk) if m.end() < len(chunk)]
            if not ends:
                raise LineTooLong(number + 1, limit)
            chunk, pending = chunk[: ends[-1]], chunk[ends[-1] :]
        if b"\r" in chunk:
            for piece in _AFTER_LONE_CR.split(chunk):
                if piece:
                    number += 1
                    yield number, piece
        else:
            number += 1
            yield number, chunk


def wide_encoding(head: bytes) -> tuple[str, str] | None:
    """What a file whose first bytes are ``head`` looks saved in, when that is UTF-16 or UTF-32: iconv's name for
    the encoding and how a message says it; None when it looks like neither.

    With a byte-order mark, the mark tells. Without one, ASCII text in UTF-16 has a NUL in every other byte
    (the even ones big-endian), in UTF-32 three in every four: among the first 256 bytes, three in four of
    those being NUL will do, and the others must be mostly not (a file of NULs is in no encoding).

    >>> wide_encoding('{"photo": "a.png"}'.encode("utf-16-le"))
    ('UTF-16LE', 'UTF-16, little-endian, without a byte-order mark')
    >>> wide_encoding('{"photo": "a.png"}'.encode("utf-32-be"))
    ('UTF-32BE', 'UTF-32, big-endian, without a byte-order mark')
    >>> wide_encoding('{"photo": "a.png"}'.encode("utf-8")) is None
    True
    """
    for mark, codec, said in _BOMS:
        if head.startswith(mark):
            return codec, said
    sample = head[:256]
    if b"\x00" not in sample:
        return None

    def nul(part: bytes) -> bool | None:
        """Whether ``part`` is mostly NULs (three in four), mostly not (one in four at most), or neither (None)."""
        if len(part) < 2:
            return None
        share = part.count(0) / len(part)
        return True if share >= 0.75 else False if share <= 0.25 else None

    # The bytes that carry the text must be mostly other than NUL: a file of NULs (a sparse one) is no encoding.
    quarters = [nul(sample[i::4]) for i in range(4)]
    if quarters == [False, True, True, True]:
        return "UTF-32LE", "UTF-32, little-endian, without a byte-order mark"
    if quarters == [True, True, True, False]:
        return "UTF-32BE", "UTF-32, big-endian, without a byte-order mark"
    halves = [nul(sample[0::2]), nul(sample[1::2])]
    if halves == [False, True]:
        return "UTF-16LE", "UTF-16, little-endian, without a byte-order mark"
    if halves == [True, False]:
        return "UTF-16BE", "UTF-16, big-endian, without a byte-order mark"
    return None


def wide_text_problem(path: Path, head: bytes) -> str | None:
    """What a message says after the name of a file saved as UTF-16 or UTF-32 (``head``: its first bytes): which
    it looks like, and how to convert it; None for any other file.

    Without a byte-order mark, ASCII in UTF-16 is valid UTF-8 full of NUL bytes, which a JSON reader calls
    "not valid JSON"; with one, "not UTF-8". Either way this says which encoding it is.
    """
    wide = wide_encoding(head)
    if wide is None:
        return None
    import shlex  # the file's name as a shell takes it

    codec, said = wide
    converted = path.with_name(f"{path.stem}-utf8{path.suffix or '.jsonl'}")
    return (
        f"not UTF-8 (it looks like {said}); save it as UTF-8 (in an editor: Save As, encoding UTF-8; or iconv -f "
        f"{codec} -t UTF-8 {shlex.quote(str(path))} > {shlex.quote(str(converted))}) and pass that file"
    )
