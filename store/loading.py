"""Writes of the ingest stage: one transaction per batch, sources advanced with their rows."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import orjson
import polars as pl
import pyarrow as pa

from store.db import Store

EVENT_COLUMNS = (
    "event_id",
    "ts",
    "event",
    "outcome",
    "user",
    "customer_id",
    "ip",
    "host",
    "user_agent",
    "session_id",
    "reason",
    "service",
    "extra",
    "ip_version",
    "ip_bin",
    "country",
    "city",
    "lat",
    "lon",
    "asn",
    "as_org",
    "own_network",
    "source_id",
    "line_no",
    "seq",
    "ingested_at",
)


@dataclass
class SourceProgress:
    """Where one input stands: enough to continue it, or to know it is already loaded."""

    source_id: int
    kind: str
    path: str
    format: str
    head_len: int
    head_hash: str
    tail_hash: str
    bytes_done: int
    lines_done: int
    parse_state: dict[str, Any]
    events: int = 0
    skipped: int = 0
    quarantined: int = 0


def file_sources(store: Store, max_head_len: int) -> list[SourceProgress]:
    rows = store.con.execute(
        """SELECT source_id, kind, path, format, head_len, head_hash, tail_hash, bytes_done,
                  lines_done, parse_state, events, skipped, quarantined
           FROM sources WHERE kind = 'file' AND head_len <= ? ORDER BY bytes_done DESC""",
        [max_head_len],
    ).fetchall()
    return [
        SourceProgress(
            source_id=row[0],
            kind=row[1],
            path=row[2],
            format=row[3],
            head_len=row[4],
            head_hash=row[5],
            tail_hash=row[6],
            bytes_done=row[7],
            lines_done=row[8],
            parse_state=orjson.loads(row[9] or "{}"),
            events=row[10],
            skipped=row[11],
            quarantined=row[12],
        )
        for row in rows
    ]


def _next(store: Store, sql: str) -> int:
    """The next free id: this process is the only writer, so ranges taken from it are safe."""
    ((value,),) = store.con.execute(sql).fetchall()
    return int(value)


def next_event_id(store: Store) -> int:
    return _next(store, "SELECT coalesce(max(event_id), 0) + 1 FROM events")


def next_source_id(store: Store) -> int:
    return _next(store, "SELECT coalesce(max(source_id), 0) + 1 FROM sources")


def next_ids(store: Store) -> tuple[int, int]:
    """(next event id, next source id) in one statement: each costs a millisecond or more."""
    ((event_id, source_id),) = store.con.execute(
        "SELECT (SELECT coalesce(max(event_id), 0) + 1 FROM events), "
        "(SELECT coalesce(max(source_id), 0) + 1 FROM sources)"
    ).fetchall()
    return int(event_id), int(source_id)


def _arrow(frame: pl.DataFrame) -> pa.Table:
    """Plain Arrow strings, not string views: half the conversion time, and DuckDB reads
    them in no slower (0-15 % faster in our runs)."""
    return frame.to_arrow(compat_level=pl.CompatLevel.oldest())


def numbered(events: pl.DataFrame, first_id: int, source_id: int, now: datetime) -> pl.DataFrame:
    """Enriched events as stored: ids from `first_id`, their input, when they were loaded."""
    return events.with_columns(
        event_id=pl.int_range(first_id, first_id + events.height, dtype=pl.Int64),
        source_id=pl.lit(source_id, pl.Int32),
        ingested_at=pl.lit(now),
    )


def event_rows(events: pl.DataFrame) -> pa.Table:
    """Events as the rows `commit_batch` stores, built off the committing thread. (Texts as
    Arrow dictionaries cost more to build than DuckDB saves reading them: measured.)"""
    return _arrow(events.select(EVENT_COLUMNS))


def last_line_stored(store: Store, source_id: int) -> int | None:
    ((line,),) = store.con.execute(
        "SELECT max(line_no) FROM events WHERE source_id = ?", [source_id]
    ).fetchall()
    return None if line is None else int(line)


# The writes below hand their Arrow tables to DuckDB as local variables named in the query
# (DuckDB's replacement scan) rather than through register/unregister: 2 ms less per
# statement in DuckDB 2.0.1, a tenth of a pushed group's commit (docs/benchmarks.md).


def commit_batch(
    store: Store,
    progress: SourceProgress,
    is_new: bool,
    events: pa.Table,
    quarantine: pl.DataFrame,
    now: datetime,
    known_after: int | None = None,
) -> int:
    """Events (from `event_rows`), quarantined lines and the source's new position: all or
    nothing. Returns the events stored: with `known_after`, events of the source past that
    line which are stored already (same line and sequence number) are left out.
    """
    stored = 0
    with store.transaction() as con:
        if events.num_rows:
            known = None if known_after is None else (progress.source_id, known_after)
            stored = insert_events(con, events, known)
        if quarantine.height:
            batch_quarantine = _arrow(quarantine)  # noqa: F841 (read by the query: see above)
            con.execute(
                "INSERT INTO quarantine SELECT ?, line_no, raw, reason, ? FROM batch_quarantine",
                [progress.source_id, now],
            )
        _save_progress(con, progress, is_new, now)
    return int(stored)


def commit_sources(
    store: Store,
    sources: list[SourceProgress],
    events: pa.Table,
    quarantine: pl.DataFrame,
    now: datetime,
) -> None:
    """New sources (pushed batches), their events and their quarantined lines (with a
    `source_id` column): all or nothing, in one transaction."""
    with store.transaction() as con:
        if events.num_rows:
            insert_events(con, events)
        if quarantine.height:
            batch_quarantine = _arrow(quarantine)  # noqa: F841 (read by the query: see above)
            con.execute(
                "INSERT INTO quarantine SELECT source_id, line_no, raw, reason, ? "
                "FROM batch_quarantine",
                [now],
            )
        _insert_sources(con, sources, now)


def insert_events(con: Any, events: pa.Table, known: tuple[int, int] | None = None) -> int:
    """Inside the caller's transaction; `known` (source id, line): leave out the events of
    that source past that line that are stored already (same line and sequence number)."""
    batch_events = events  # noqa: F841 (read by the query: see above)
    names = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
    sql = f"INSERT INTO events ({names}) SELECT {names} FROM batch_events"
    values: list[object] = []
    if known is not None:
        sql += """ b ANTI JOIN (SELECT line_no, seq FROM events
                                WHERE source_id = ? AND line_no > ?) s
                   ON b.line_no = s.line_no AND b.seq = s.seq"""
        values = list(known)
    ((stored,),) = con.execute(sql, values).fetchall()
    return int(stored)


def _insert_sources(con: Any, sources: list[SourceProgress], now: datetime) -> None:
    """New sources in one statement (a statement each costs more than a group's parse)."""
    names = [f.name for f in fields(SourceProgress)]
    rows = pl.DataFrame(
        [[getattr(p, n) for n in names] for p in sources], schema=names, orient="row"
    ).with_columns(pl.col("parse_state").map_elements(
        lambda state: orjson.dumps(state).decode(), return_dtype=pl.String))  # fmt: skip
    new_sources = _arrow(rows)  # noqa: F841 (read by the query: see above)
    con.execute(
        f"INSERT INTO sources ({', '.join(names)}, first_loaded, last_loaded) "
        f"SELECT {', '.join(names)}, ?, ? FROM new_sources",
        [now, now],
    )


def _save_progress(con: Any, p: SourceProgress, is_new: bool, now: datetime) -> None:
    state = orjson.dumps(p.parse_state).decode()
    values = [
        p.head_len,
        p.head_hash,
        p.tail_hash,
        p.bytes_done,
        p.lines_done,
        p.events,
        p.skipped,
        p.quarantined,
        state,
        now,
    ]
    if is_new:
        con.execute(
            """INSERT INTO sources (head_len, head_hash, tail_hash, bytes_done, lines_done, events,
                   skipped, quarantined, parse_state, last_loaded, first_loaded, source_id, kind,
                   path, format)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [*values, now, p.source_id, p.kind, p.path, p.format],
        )
    else:
        con.execute(
            """UPDATE sources SET head_len = ?, head_hash = ?, tail_hash = ?, bytes_done = ?,
                   lines_done = ?, events = ?, skipped = ?, quarantined = ?, parse_state = ?,
                   last_loaded = ?, path = ?
               WHERE source_id = ?""",
            [*values, p.path, p.source_id],
        )
