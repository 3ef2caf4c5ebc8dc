"""Events that arrive as records (pushed batches, rule test cases), checked like file lines."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import polars as pl

from ingest import jsonl
from ingest.context import ParseContext
from ingest.enrich import Enricher, enrich
from ingest.lines import split_lines, text_lines, unreadable
from ingest.normalise import validate


def parse_lines(
    lines: pl.DataFrame, enricher: Enricher, context: ParseContext
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """JSON lines (line_no, raw, utf8_ok) -> (enriched events, quarantined lines with
    reasons), checked exactly as the lines of a JSONL file are."""
    usable = lines.filter(text_lines()).select("line_no", "raw")
    parsed = jsonl.parse(usable, usable.head(0), context)
    valid, rejected = validate(parsed.events, parsed.names_required)
    events, bad_address = enrich(valid, enricher)
    return events, pl.concat([unreadable(lines), parsed.quarantine, rejected, bad_address])


def parse_records(
    records: Iterable[dict[str, Any]], enricher: Enricher, context: ParseContext
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Records -> (enriched events, quarantined records with reasons), as if read from JSONL;
    `line_no` is the record's position, from 1."""
    data = b"".join(orjson.dumps(record) + b"\n" for record in records)
    return parse_lines(split_lines(data, 1), enricher, context)
