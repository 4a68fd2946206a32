"""Vendor file parsers: pure functions that read one file and return a model plus findings."""

from __future__ import annotations

import os

_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_STEP = 1 << 16


def read_head(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """The file's first ``limit`` bytes (all of them when it is shorter, or with no limit).

    Reads until the end of the file as it is now, even if it grew since it was opened. Plain
    ``os.read`` calls: a buffered file object costs more than reading a 20 KB file, and the first
    read asks for the size the file says it has (+1), as a read allocates what it asks for; when
    it returns exactly that size, the file ended there and no read is spent to hear so.
    Raises OSError as ``open`` would.
    """
    fd = os.open(path, _FLAGS)
    try:
        size = os.fstat(fd).st_size
        chunk = os.read(fd, size + 1 if limit is None else min(size + 1, limit))
        parts = [chunk]
        got = len(chunk)
        if got == size and size:
            return chunk
        while chunk and (limit is None or got < limit):
            chunk = os.read(fd, _STEP if limit is None else min(_STEP, limit - got))
            parts.append(chunk)
            got += len(chunk)
    finally:
        os.close(fd)
    return parts[0] if len(parts) == 2 and not parts[1] else b"".join(parts)
