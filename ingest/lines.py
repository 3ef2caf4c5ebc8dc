"""Reading a file as batches of lines, columnar, from a byte offset, losing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import polars as pl

from ingest.canonical import BLANK, MAX_LINE_BYTES

_SEPARATORS = (b"\x1f", b"\x1e", b"\x1d", b"\x1c", b"\x01", b"\x02", b"\x03", b"\x04")
_REPLACEMENT = "\ufffd".encode()


@dataclass(frozen=True)
class Chunk:
    """Complete lines `[start, end)` of a file; `lookahead` holds a few lines after it."""

    start: int
    end: int
    first_line_no: int
    lines: pl.DataFrame  # line_no, raw (null: blank line), utf8_ok
    lookahead: pl.DataFrame


def text_lines() -> pl.Expr:
    """Lines a parser reads: decodable, not blank (blank lines are skipped, not kept) and
    no longer than `MAX_LINE_BYTES` (longer ones are quarantined by `unreadable`)."""
    return (
        pl.col("utf8_ok")
        & pl.col("raw").is_not_null()
        & (pl.col("raw").str.strip_chars(BLANK) != "")
        & (pl.col("raw").str.len_bytes() <= MAX_LINE_BYTES)
    )


def unreadable(lines: pl.DataFrame) -> pl.DataFrame:
    """Lines that are not UTF-8 or too long to be a login, as quarantine rows (the line's
    first `MAX_LINE_BYTES // 4` characters only)."""
    sized = lines.with_columns(size=pl.col("raw").str.len_bytes().fill_null(0))
    bad = sized.filter(~pl.col("utf8_ok") | (pl.col("size") > MAX_LINE_BYTES))
    too_long = pl.concat_str(
        pl.lit(f"line longer than {MAX_LINE_BYTES} bytes ("),
        pl.col("size").cast(pl.String),
        pl.lit(" bytes)"),
    )
    return bad.select(
        "line_no",
        raw=pl.col("raw").str.slice(0, MAX_LINE_BYTES // 4),
        reason=pl.when(pl.col("utf8_ok")).then(too_long).otherwise(pl.lit("invalid UTF-8")),
    )


def split_lines(data: bytes, first_line_no: int) -> pl.DataFrame:
    """Bytes of whole lines -> one row per line, in Rust, without a Python loop per line.

    A line that is not valid UTF-8 keeps a lossy copy of its text and `utf8_ok` false.
    """
    if not data:
        frame = pl.DataFrame(schema={"raw": pl.String, "utf8_ok": pl.Boolean})
        return frame.with_columns(pl.lit(None, pl.Int64).alias("line_no")).select(
            "line_no", "raw", "utf8_ok"
        )
    count = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    fast = _read_fast(data)
    frame = fast if fast is not None and fast.height == count else _read_slow(data)
    return frame.with_columns(
        pl.int_range(first_line_no, first_line_no + frame.height, dtype=pl.Int64).alias("line_no")
    ).select("line_no", "raw", "utf8_ok")


def _read_fast(data: bytes) -> pl.DataFrame | None:
    separator = next((s for s in _SEPARATORS if s not in data), None)
    if separator is None:
        return None
    options = {
        "has_header": False,
        "separator": separator.decode(),
        "quote_char": None,
        "new_columns": ["raw"],
        "schema": {"raw": pl.String},
    }
    try:
        frame = pl.read_csv(data, **options)  # type: ignore[arg-type]
        return frame.with_columns(pl.lit(True).alias("utf8_ok"))
    except pl.exceptions.ComputeError:
        if _REPLACEMENT in data:
            return None  # a literal U+FFFD would be mistaken for a decoding error
    frame = pl.read_csv(data, encoding="utf8-lossy", **options)  # type: ignore[arg-type]
    return frame.with_columns(
        pl.col("raw").str.contains("\ufffd", literal=True).fill_null(False).not_().alias("utf8_ok")
    )


def _read_slow(data: bytes) -> pl.DataFrame:
    """Fallback for chunks the fast reader cannot split exactly (rare bytes, bad UTF-8)."""
    parts = data.split(b"\n")
    if data.endswith(b"\n"):
        parts.pop()
    raws: list[str | None] = []
    oks: list[bool] = []
    for part in parts:
        line = part.removesuffix(b"\r")
        try:
            text = line.decode("utf-8")
            oks.append(True)
        except UnicodeDecodeError:
            text = line.decode("utf-8", errors="backslashreplace")
            oks.append(False)
        raws.append(text or None)
    return pl.DataFrame(
        {"raw": raws, "utf8_ok": oks}, schema={"raw": pl.String, "utf8_ok": pl.Boolean}
    )


def read_chunks(
    handle: BinaryIO,
    start: int,
    first_line_no: int,
    batch_bytes: int,
    lookahead_bytes: int = 0,
    end: int | None = None,
) -> Iterator[Chunk]:
    """Yield line-aligned chunks from `start` up to `end` (or the end of the file); the
    last line may lack its newline."""
    handle.seek(start)
    pending = b""
    eof = False
    offset, line_no = start, first_line_no
    position = start  # of the handle
    while True:
        while not eof and (len(pending) < batch_bytes + lookahead_bytes or b"\n" not in pending):
            # Only what the batch and its lookahead still need: every byte read here is
            # copied again when the batch is cut off.
            wanted = max(batch_bytes + lookahead_bytes - len(pending), 1 << 16)
            if end is not None:
                wanted = min(wanted, end - position)
            block = handle.read(wanted) if wanted > 0 else b""
            if not block:
                eof = True
            position += len(block)
            pending += block
        if not pending:
            return
        cut = _cut(pending, batch_bytes, eof)
        body, pending = pending[:cut], pending[cut:]
        lines = split_lines(body, line_no)
        ahead = pending[:lookahead_bytes]
        ahead = (
            ahead[: ahead.rfind(b"\n") + 1]
            if not (eof and len(pending) <= lookahead_bytes)
            else ahead
        )
        lookahead = split_lines(ahead, line_no + lines.height)
        yield Chunk(offset, offset + cut, line_no, lines, lookahead)
        offset += cut
        line_no += lines.height


def _cut(pending: bytes, batch_bytes: int, eof: bool) -> int:
    """Where this chunk ends: after the last newline within the batch size (or the first)."""
    newline = pending.rfind(b"\n", 0, batch_bytes)
    if newline < 0:
        newline = pending.find(b"\n")
    if newline < 0:
        return len(pending)  # only at EOF: the final line has no newline
    if eof and len(pending) <= batch_bytes:
        return len(pending)
    return newline + 1
