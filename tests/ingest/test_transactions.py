"""Transactions store whole row groups of events; a crash in between loses and doubles
nothing."""

from __future__ import annotations

from collections import deque
from datetime import datetime
from pathlib import Path

import orjson
import polars as pl
import pyarrow as pa
import pytest

from ingest.enrich import Enricher
from ingest.pipeline import FileReport, IngestOptions, ingest, plan
from ingest.transactions import Batch, Unstored, groups, take
from store import open_store


def _batch(first_line: int, events: int, end: int) -> Batch:
    lines = pa.table({"line_no": pa.array(range(first_line, first_line + events), pa.int64())})
    return Batch(
        end=end, lines=events, skipped=0, events=lines, quarantine=pl.DataFrame(),
        now=datetime(2026, 1, 1), head=(0, ""), tail_hash="", parse_state={},
    )  # fmt: skip


def _queue(*sizes: int) -> deque[Unstored]:
    queue: deque[Unstored] = deque()
    line = 1
    for number, size in enumerate(sizes, 1):
        queue.append(Unstored(_batch(line, size, end=number * 100)))
        line += size
    return queue


def test_whole_units_are_taken_and_the_rest_waits() -> None:
    queue = _queue(60, 60, 60)
    events, done = take(queue, 100)
    assert events.num_rows == 100
    assert [b.end for b in done] == [100]  # the second batch is partly stored
    assert len(queue) == 2 and queue[0].stored == 40
    events, done = take(queue, None)  # the file ends: everything
    assert events.column("line_no").to_pylist() == list(range(101, 181))
    assert [b.end for b in done] == [200, 300] and not queue


def test_one_batch_larger_than_the_units_is_taken_whole() -> None:
    """Taking 100 of 250 would complete no batch, so nothing could be saved: all of it."""
    events, done = take(_queue(250), 100)
    assert events.num_rows == 250 and len(done) == 1


def test_batches_without_events_complete_with_their_neighbours() -> None:
    queue = _queue(100, 0, 0, 30)
    events, done = take(queue, 100)
    assert events.num_rows == 100 and [b.end for b in done] == [100, 200, 300]
    assert queue[0].left == 30


def test_groups_say_whether_events_may_wait() -> None:
    batches = [_batch(1, 60, 1), _batch(61, 60, 2), _batch(121, 5, 3), _batch(126, 5, 4)]
    cut = list(groups(iter(batches), rows=100, most_batches=2))
    assert [(len(group), whole) for group, whole in cut] == [(2, True), (2, False)]


def _lines(first: int, count: int, user: str = "u") -> bytes:
    return b"".join(
        orjson.dumps({"ts": 1790000000 + i, "outcome": "failure", "user": user, "ip": "1.2.3.4"})
        + b"\n"
        for i in range(first, first + count)
    )


class _Stop(RuntimeError):
    pass


# About 256 events a batch: a group of two holds one unit of 300 and waits with the rest.
OPTIONS = IngestOptions(batch_bytes=16384, commit_rows=300, commit_batches=100)


def _crash_after_two_commits(source: Path, db: Path, enricher: Enricher) -> dict:
    """Stop a run between its second and third transaction, as a kill would."""
    stored_per_commit: list[int] = []

    def stop_after_two(report: FileReport, done: int, size: int) -> None:
        stored_per_commit.append(report.loaded)
        if len(stored_per_commit) == 2:
            raise _Stop

    with open_store(db) as store, pytest.raises(_Stop):
        ingest(store, plan([source], OPTIONS), OPTIONS, enricher, stop_after_two)
    with open_store(db) as store:
        ((stored, distinct, last_line, lines_done, bytes_done, state),) = store.con.execute(
            """SELECT count(*), count(DISTINCT line_no), max(line_no),
                      (SELECT lines_done FROM sources), (SELECT bytes_done FROM sources),
                      (SELECT parse_state FROM sources) FROM events"""
        ).fetchall()
    assert stored_per_commit[0] % 300 == 0 and stored_per_commit[1] % 300 == 0
    assert stored == stored_per_commit[1] == distinct
    assert last_line > lines_done  # a batch partly stored, past the saved position
    assert "stored_ahead" in orjson.loads(state)
    return {"stored": stored, "last_line": last_line, "lines_done": lines_done,
            "bytes_done": bytes_done}  # fmt: skip


def test_commits_store_whole_units_and_a_crash_between_them_doubles_nothing(
    tmp_path: Path,
) -> None:
    source, db = tmp_path / "events.jsonl", tmp_path / "v.duckdb"
    source.write_bytes(_lines(0, 3000))
    enricher = Enricher.open("", "", ())
    try:
        crash = _crash_after_two_commits(source, db, enricher)
        with open_store(db) as store:
            (report,) = ingest(store, plan([source], OPTIONS), OPTIONS, enricher)
            rows = store.con.execute(
                "SELECT count(*), count(DISTINCT line_no), max(line_no) FROM events"
            ).fetchall()
            ((events_counted, state),) = store.con.execute(
                "SELECT events, parse_state FROM sources"
            ).fetchall()
    finally:
        enricher.close()
    assert rows == [(3000, 3000, 3000)] and events_counted == 3000
    assert report.already == crash["lines_done"] and report.loaded == 3000 - crash["stored"]
    assert "stored_ahead" not in orjson.loads(state)


def test_after_a_crash_other_lines_past_the_position_are_not_taken_for_stored(
    tmp_path: Path,
) -> None:
    """The file now holds other lines where the interrupted run had stored some: those
    lines are loaded as they are, none is skipped for sharing a line number."""
    source, db = tmp_path / "events.jsonl", tmp_path / "v.duckdb"
    source.write_bytes(_lines(0, 3000))
    enricher = Enricher.open("", "", ())
    try:
        crash = _crash_after_two_commits(source, db, enricher)
        kept = source.read_bytes()[: crash["bytes_done"]]
        source.write_bytes(kept + _lines(crash["lines_done"], 3000 - crash["lines_done"], "v"))
        with open_store(db) as store:
            (report,) = ingest(store, plan([source], OPTIONS), OPTIONS, enricher)
            ((new_lines, distinct_new),) = store.con.execute(
                """SELECT count(*), count(DISTINCT line_no) FROM events WHERE "user" = 'v'"""
            ).fetchall()
    finally:
        enricher.close()
    assert new_lines == distinct_new == 3000 - crash["lines_done"]
    assert any("differs, past the point reached" in note for note in report.notes)
