"""Reading a file as batches of lines, columnar, from a byte offset, losing nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
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
    # Lines too long to keep whole: line_no -> their true size; `lines` holds their head.
    cut_short: dict[int, int] = field(default_factory=dict)


def text_lines() -> pl.Expr:
    """Lines a parser reads: decodable, not blank (blank lines are skipped, not kept) and
    no longer than `MAX_LINE_BYTES` (longer ones are quarantined by `unreadable`)."""
    return (
        pl.col("utf8_ok")
        & pl.col("raw").is_not_null()
        & (pl.col("raw").str.strip_chars(BLANK) != "")
        & (pl.col("raw").str.len_bytes() <= MAX_LINE_BYTES)
    )


def unreadable(lines: pl.DataFrame, cut_short: dict[int, int] | None = None) -> pl.DataFrame:
    """Lines that are not UTF-8 or too long to be a login, as quarantine rows (the line's
    first `MAX_LINE_BYTES // 4` characters only). `cut_short`: the true size of lines
    read only in part (`read_chunks`)."""
    size = pl.col("raw").str.len_bytes().fill_null(0)
    if cut_short:
        size = pl.col("line_no").replace_strict(cut_short, default=size, return_dtype=pl.Int64)
    sized = lines.with_columns(size=size)
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


# A line with no newline in this many bytes is kept as its head only: the rest is read
# and dropped as it comes, so a runaway line costs neither memory nor time per byte.
_LONG_LINE = 4 * MAX_LINE_BYTES


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
    reader = _Reader(handle, start, end)
    offset, line_no = start, first_line_no
    while True:
        pending = reader.fill(batch_bytes + lookahead_bytes)
        if not pending:
            return
        cut = _cut(pending, batch_bytes, reader.eof)
        body = reader.take(cut)
        lines = split_lines(body, line_no)
        rest = reader.pending
        ahead = rest[:lookahead_bytes]
        if not (reader.eof and len(rest) <= lookahead_bytes):
            ahead = ahead[: ahead.rfind(b"\n") + 1]
        lookahead = split_lines(bytes(ahead), line_no + lines.height)
        skipped, cut_short = reader.shortened(line_no)
        yield Chunk(offset, offset + cut + skipped, line_no, lines, lookahead, cut_short)
        offset += cut + skipped
        line_no += lines.height


class _Reader:
    """The bytes read ahead of the chunks, with a runaway line kept as its head only."""

    def __init__(self, handle: BinaryIO, start: int, end: int | None) -> None:
        handle.seek(start)
        self.handle, self.end, self.position = handle, end, start
        self.pending = bytearray()
        self.eof = False
        self.newline = False  # whether `pending` holds one
        self.short: tuple[int, int] | None = None  # the first line's (dropped, true size)

    def _read(self, wanted: int) -> bytes:
        if self.end is not None:
            wanted = min(wanted, self.end - self.position)
        block = self.handle.read(wanted) if wanted > 0 else b""
        self.position += len(block)
        self.eof = not block
        return block

    def fill(self, wanted: int) -> bytearray:
        while not self.eof and (len(self.pending) < wanted or not self.newline):
            # Only what the batch and its lookahead still need: every byte read here is
            # copied again when the batch is cut off.
            block = self._read(max(wanted - len(self.pending), 1 << 16))
            self.pending += block
            self.newline = self.newline or b"\n" in block
            if not self.newline and len(self.pending) > _LONG_LINE:
                self._drop_the_rest_of_the_line()
        return self.pending

    def _drop_the_rest_of_the_line(self) -> None:
        """`pending` is the start of one line without its end: keep a head that is still too
        long to be a login (whole characters), read on to the newline, count what is gone."""
        keep = MAX_LINE_BYTES + 4
        while keep > MAX_LINE_BYTES + 1 and (self.pending[keep] & 0xC0) == 0x80:
            keep -= 1
        dropped = len(self.pending) - keep
        del self.pending[keep:]
        while not self.eof:
            block = self._read(1 << 20)
            newline = block.find(b"\n")
            if newline >= 0:
                dropped += newline
                self.pending += block[newline:]
                self.newline = True
                break
            dropped += len(block)
        self.short = (dropped, keep + dropped)

    def take(self, cut: int) -> bytes:
        with memoryview(self.pending) as view:  # one copy, not a slice and then a copy
            body = bytes(view[:cut])
        del self.pending[:cut]
        self.newline = b"\n" in self.pending
        return body

    def shortened(self, line_no: int) -> tuple[int, dict[int, int]]:
        """Bytes dropped from the chunk just taken, and its line read in part (its first)."""
        if self.short is None:
            return 0, {}
        (dropped, size), self.short = self.short, None
        return dropped, {line_no: size}


def _cut(pending: bytes | bytearray, batch_bytes: int, eof: bool) -> int:
    """Where this chunk ends: after the last newline within the batch size (or the first)."""
    newline = pending.rfind(b"\n", 0, batch_bytes)
    if newline < 0:
        newline = pending.find(b"\n")
    if newline < 0:
        return len(pending)  # only at EOF: the final line has no newline
    if eof and len(pending) <= batch_bytes:
        return len(pending)
    return newline + 1
