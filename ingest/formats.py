"""The input formats, and telling them apart from a file's first lines."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from ingest import access, csvfile, jsonl, sshd
from ingest.canonical import BLANK
from ingest.context import ParseContext, Parsed

Parser = Callable[[pl.DataFrame, pl.DataFrame, ParseContext], Parsed]

PARSERS: dict[str, Parser] = {
    "jsonl": jsonl.parse,
    "csv": csvfile.parse,
    "sshd": sshd.parse,
    "access": access.parse,
}
FORMATS = ("auto", *PARSERS)
# sshd pairs lines of one connection across a batch boundary: it reads a little ahead.
LOOKAHEAD_BYTES = {"sshd": 1 << 20}


def detect(sample: bytes) -> str | None:
    """Guess from the first non-blank lines; None when nothing fits."""
    text = sample.decode("utf-8", errors="replace")
    lines = [line.strip("\r") for line in text.split("\n")[:50] if line.strip(BLANK)]
    if len(lines) > 1 and not sample.endswith(b"\n"):
        lines = lines[:-1]  # the sample may have cut the last line
    if not lines:
        return None
    first = lines[0]
    is_json = first.lstrip().startswith("{")
    if is_json and '"__REALTIME_TIMESTAMP"' in first and '"MESSAGE"' in first:
        return "sshd"  # `journalctl -o json`: syslog lines in JSON, read by the sshd parser
    # Before sshd: a web server's lines wrapped in syslog have a syslog header too.
    if _most(access.looks_like, lines):
        return "access"
    if is_json:
        return "jsonl"
    if _most(sshd.looks_like, lines):
        return "sshd"
    return "csv" if csvfile.looks_like(first) else None


def _most(looks_like: Callable[[str], bool], lines: list[str]) -> bool:
    return sum(looks_like(line) for line in lines) * 2 >= len(lines)
