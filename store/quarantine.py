"""Reading the quarantine: which lines were kept aside, from which input, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import orjson
import polars as pl

from store.db import Store


@dataclass(frozen=True)
class QuarantineQuery:
    """`source`: a source id, or text found in the file's path (or push batch id).
    `reason`: text found in the reason, case-insensitive."""

    source: str | None = None
    reason: str | None = None
    limit: int = 100


def _where(query: QuarantineQuery) -> tuple[str, list[Any]]:
    clauses, values = ["TRUE"], []
    if query.source:
        if query.source.isdigit():
            clauses.append("(s.source_id = ? OR contains(s.path, ?))")
            values += [int(query.source), query.source]
        else:
            clauses.append("contains(s.path, ?)")
            values.append(query.source)
    if query.reason:
        clauses.append("contains(lower(q.reason), lower(?))")
        values.append(query.reason)
    return " AND ".join(clauses), values


def quarantined_lines(store: Store, query: QuarantineQuery) -> list[dict[str, Any]]:
    """The lines, oldest input first and in file order, at most `query.limit`."""
    where, values = _where(query)
    rows = store.con.execute(
        f"""SELECT q.source_id, s.kind, s.path, s.format, q.line_no, q.reason, q.raw,
                   q.quarantined_at
            FROM quarantine q JOIN sources s USING (source_id)
            WHERE {where}
            ORDER BY q.source_id, q.line_no LIMIT ?""",
        [*values, query.limit],
    ).fetchall()
    names = ("source_id", "kind", "file", "format", "line_no", "reason", "raw", "quarantined_at")
    return [dict(zip(names, row, strict=True)) for row in rows]


def quarantine_summary(store: Store, query: QuarantineQuery) -> tuple[int, list[tuple[str, int]]]:
    """(lines matching, the most frequent reasons with their counts)."""
    where, values = _where(query)
    base = f"FROM quarantine q JOIN sources s USING (source_id) WHERE {where}"
    ((total,),) = store.con.execute(f"SELECT count(*) {base}", values).fetchall()
    reasons = store.con.execute(
        f"SELECT q.reason, count(*) AS n {base} GROUP BY q.reason ORDER BY n DESC, q.reason "
        "LIMIT 10",
        values,
    ).fetchall()
    return int(total), [(str(r), int(n)) for r, n in reasons]


@dataclass(frozen=True)
class QuarantinedSource:
    """One input with lines in quarantine, as `vahti quarantine retry` needs it."""

    source_id: int
    kind: str
    path: str
    format: str
    parse_state: dict[str, Any]
    first_loaded: datetime
    lines: pl.DataFrame  # line_no, raw, reason, quarantined_at


def sources_to_retry(store: Store, query: QuarantineQuery) -> list[QuarantinedSource]:
    """Quarantined lines grouped by their input. Lines that were not UTF-8 are left out:
    the quarantine holds only a lossy copy of their text, so parsing it again could only
    make up an event."""
    where, values = _where(query)
    sources = store.con.execute(
        f"""SELECT DISTINCT s.source_id, s.kind, s.path, s.format, s.parse_state, s.first_loaded
            FROM quarantine q JOIN sources s USING (source_id)
            WHERE {where} AND q.reason <> 'invalid UTF-8' ORDER BY s.source_id""",
        values,
    ).fetchall()
    found = []
    for source_id, kind, path, fmt, state, loaded in sources:
        lines = _lines_of(store.con, source_id, query)
        parse_state = orjson.loads(state or "{}")
        found.append(QuarantinedSource(source_id, kind, path, fmt, parse_state, loaded, lines))
    return found


def _lines_of(
    con: duckdb.DuckDBPyConnection, source_id: int, query: QuarantineQuery
) -> pl.DataFrame:
    reason = "AND contains(lower(reason), lower(?))" if query.reason else ""
    values: list[Any] = [source_id] + ([query.reason] if query.reason else [])
    table = con.sql(
        f"""SELECT line_no, raw, reason, quarantined_at FROM quarantine
            WHERE source_id = ? AND reason <> 'invalid UTF-8' {reason} ORDER BY line_no""",
        params=values,
    ).to_arrow_table()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def replace_quarantined(
    con: duckdb.DuckDBPyConnection, source_id: int, retried: pl.DataFrame, outcome: RetryCounts
) -> None:
    """Inside the caller's transaction: the `retried` lines leave the quarantine, the ones
    still failing (`outcome.still`: line_no, raw, reason, quarantined_at) come back with
    today's reason and their first quarantine time (retention counts from it), and the
    source's counts follow."""
    con.register("retried_lines", retried.select("line_no").to_arrow())
    con.execute(
        "DELETE FROM quarantine WHERE source_id = ? AND line_no IN "
        "(SELECT line_no FROM retried_lines)",
        [source_id],
    )
    con.unregister("retried_lines")
    if outcome.still.height:
        con.register("still_quarantined", outcome.still.to_arrow())
        con.execute(
            "INSERT INTO quarantine SELECT ?, line_no, raw, reason, quarantined_at "
            "FROM still_quarantined",
            [source_id],
        )
        con.unregister("still_quarantined")
    con.execute(
        "UPDATE sources SET quarantined = quarantined - ?, events = events + ?, "
        "skipped = skipped + ? WHERE source_id = ?",
        [retried.height - outcome.still.height, outcome.events, outcome.skipped, source_id],
    )


@dataclass(frozen=True)
class RetryCounts:
    events: int  # events the retried lines gave
    skipped: int  # retried lines that are now skipped (no event, no problem)
    still: pl.DataFrame  # the lines that fail again
