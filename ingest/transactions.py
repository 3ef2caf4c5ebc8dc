"""Which events each ingest transaction stores, and which batches it completes.

DuckDB stores a table in row groups of 122,880 rows. A transaction that appends a whole
number of them writes them straight into the file; one that ends with a partly filled row
group leaves it to be merged into its neighbours at the next checkpoint, which rewrites
them (1.3 s of 3.9 for storing 1M JSONL events: docs/benchmarks.md). So a transaction of
a dense file stores whole row groups of events, and the events past the last whole one
wait for the next transaction.

What a transaction saves of the file's position is the end of the last batch all of whose
events are stored, never more: a batch's waiting events are not lost by a crash, they are
parsed again from that position. The events of that batch which were stored already are
recognised by their line and sequence number (`commit_batch(known_after=...)`), provided
the file still holds the same bytes there: the transaction that stores part of a batch
saves a hash of the first and last 4 KiB of the batch with the position (pipeline
`STORED_AHEAD`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
import pyarrow as pa


@dataclass(frozen=True)
class Batch:
    """One chunk parsed, validated and enriched: everything its transactions write."""

    end: int  # byte position after the chunk
    lines: int
    skipped: int
    events: pa.Table  # as `event_rows` gives them to the store
    quarantine: pl.DataFrame
    now: datetime
    head: tuple[int, str]
    tail_hash: str
    parse_state: dict[str, Any]  # the parser's state after this chunk


@dataclass
class Unstored:
    """A batch whose events are not all stored yet: the first `stored` of them are."""

    batch: Batch
    stored: int = 0

    @property
    def left(self) -> int:
        return self.batch.events.num_rows - self.stored


def groups(
    batches: Iterator[Batch], rows: int, most_batches: int
) -> Iterator[tuple[list[Batch], bool]]:
    """Consecutive batches, as many as one transaction should take, and whether they may
    leave events waiting: only when the group was cut for holding `rows` events, not for
    reaching `most_batches` (a sparse file) or the end of the file."""
    group: list[Batch] = []
    for batch in batches:
        group.append(batch)
        full = sum(b.events.num_rows for b in group) >= rows
        if full or len(group) >= most_batches:
            yield group, full
            group = []
    if group:
        yield group, False


def take(queue: deque[Unstored], unit: int | None) -> tuple[pa.Table, list[Batch]]:
    """Events to store now, from the front of `queue`, and the batches that completes.

    With `unit`, a whole number of units of events, unless that would complete no batch
    (one batch holding more than the units): then, as without `unit`, every event queued.
    Completed batches leave the queue; a batch partly stored stays at its front."""
    total = sum(u.left for u in queue)
    wanted = total if unit is None else total // unit * unit
    if queue and wanted < queue[0].left:
        wanted = total
    parts: list[pa.Table] = []
    done: list[Batch] = []
    while queue:
        head = queue[0]
        count = min(wanted, head.left)
        parts.append(head.batch.events.slice(head.stored, count))
        head.stored += count
        wanted -= count
        if head.left:
            break
        done.append(queue.popleft().batch)
    return pa.concat_tables(parts), done
