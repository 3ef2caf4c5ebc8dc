"""Recognising a file already (partly) loaded: by content, not by name."""

from __future__ import annotations

import hashlib
import os
import time

from store.loading import SourceProgress

HEAD = 4096  # bytes hashed at the start of a file, and before the point reached
# A file changed more recently than this may be in the middle of writing its last line.
SETTLE_SECONDS = 60


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def read_range(fd: int, start: int, end: int) -> bytes:
    """Positional read: leaves the file offset of a reader on the same fd untouched."""
    return os.pread(fd, max(end - start, 0), start)


def head_of(fd: int, size: int) -> tuple[int, str]:
    length = min(HEAD, size)
    return length, digest(read_range(fd, 0, length))


def tail_before(fd: int, offset: int) -> str:
    return digest(read_range(fd, max(0, offset - HEAD), offset))


def range_sample(fd: int, start: int, end: int) -> str:
    """A range of the file by its first and last 4 KiB, as a file is recognised by its
    head and tail (a hash of a whole 16 MiB batch cost 43 ms a transaction)."""
    head = read_range(fd, start, min(end, start + HEAD))
    return digest(head + read_range(fd, max(start, end - HEAD), end))


def matching_source(fd: int, size: int, candidates: list[SourceProgress]) -> SourceProgress | None:
    """The loaded source this file continues: same first bytes, same bytes before its end.

    A copy under another name is the same source; a rotated or rewritten file is not.
    """
    heads: dict[int, str] = {}
    for source in sorted(candidates, key=lambda s: -s.bytes_done):
        if source.bytes_done > size or source.head_len > size:
            continue
        if source.head_len not in heads:
            heads[source.head_len] = digest(read_range(fd, 0, source.head_len))
        if heads[source.head_len] != source.head_hash:
            continue
        if tail_before(fd, source.bytes_done) == source.tail_hash:
            return source
    return None


def settled_end(fd: int, size: int, start: int) -> int:
    """Where reading should stop: the end of the file, or, while the file is still being
    written (changed within `SETTLE_SECONDS`) and its last line has no newline yet, the end
    of the last whole line. A line cut in the middle would otherwise be stored as two (a
    fragment now, the rest when the file grows) and lost as an event."""
    if size <= start or read_range(fd, size - 1, size) == b"\n":
        return size
    if time.time() - os.fstat(fd).st_mtime >= SETTLE_SECONDS:
        return size  # finished: a last line without a newline is a line
    end = size
    while end > start:
        begin = max(start, end - (1 << 16))
        newline = read_range(fd, begin, end).rfind(b"\n")
        if newline >= 0:
            return begin + newline + 1
        end = begin
    return start
