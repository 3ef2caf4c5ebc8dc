"""Events pushed over HTTP: one batch is one source, checked like the lines of a JSONL file.

A client names its batch; sending the same batch again loads nothing (and says so), and a
different body under a name already used is refused rather than silently merged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

import orjson
import polars as pl

from ingest.context import ParseContext
from ingest.enrich import Enricher
from ingest.lines import split_lines
from ingest.records import parse_lines
from store import Store
from store.loading import (
    SourceProgress,
    commit_sources,
    event_rows,
    next_ids,
)


class PushError(ValueError):
    """The body as a whole is unusable (not JSON, not NDJSON); nothing was stored."""


class BatchConflict(ValueError):
    """The batch id was used before for a different body."""


@dataclass
class PushReport:
    batch_id: str
    received: int = 0
    loaded: int = 0
    skipped: int = 0  # blank lines
    duplicate: bool = False
    rejected: list[dict[str, Any]] = field(default_factory=list)  # position and reason

    def as_json(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "received": self.received,
            "loaded": self.loaded,
            "skipped": self.skipped,
            "quarantined": len(self.rejected),
            "duplicate": self.duplicate,
            "rejected": self.rejected,
        }


def body_lines(body: bytes) -> bytes:
    """A JSON array or NDJSON -> NDJSON bytes, one record per line, positions kept."""
    start = body.lstrip()[:1]
    if start != b"[":
        return body
    try:
        records = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PushError(f"body starts like a JSON array but is not valid JSON: {exc}") from exc
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


@dataclass(frozen=True)
class PushedBody:
    """One client's push, as received: its batch id and body (JSON array or NDJSON)."""

    batch_id: str
    body: bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def push_batch(
    store: Store, body: bytes, batch_id: str, enricher: Enricher, context: ParseContext
) -> PushReport:
    """One pushed batch on its own (see `push_group`)."""
    (result,) = push_group(store, [PushedBody(batch_id, body)], enricher, context)
    if isinstance(result, Exception):
        raise result
    return result


def push_group(
    store: Store, pushes: list[PushedBody], enricher: Enricher, context: ParseContext
) -> list[PushReport | Exception]:
    """Pushes that arrived together, validated, enriched and stored as one columnar batch in
    one transaction: one parse, one enrichment, one commit for all of them (a commit costs
    the same for 50 events as for 5,000). Each push stays its own source, with its own
    report or error (an unusable body, a batch id used for another body); a batch id sent
    before, or twice in the group, stores once. The caller serialises writers of events."""
    results: list[PushReport | Exception | None] = [None] * len(pushes)
    fresh: dict[str, int] = {}  # batch id -> index of the push that loads it
    earlier = _earlier_all(store, sorted({p.batch_id for p in pushes}))
    parts: list[tuple[int, bytes]] = []
    for index, push in enumerate(pushes):
        first = fresh.get(push.batch_id)
        before = earlier.get(push.batch_id)
        if before is not None or first is not None:
            same = before[0] if before else pushes[first].digest  # type: ignore[index]
            if same != push.digest:
                results[index] = BatchConflict(
                    f"batch id {push.batch_id!r} was used before for a different body"
                )
            elif before is not None:
                results[index] = _earlier_report(store, push.batch_id, before)
            continue
        try:
            parts.append((index, _ndjson(push.body)))
        except PushError as exc:
            results[index] = exc
            continue
        fresh[push.batch_id] = index
    if parts:
        for index, report in zip(
            [i for i, _ in parts],
            _store_parts(store, pushes, parts, enricher, context),
            strict=True,
        ):
            results[index] = report
    for index, push in enumerate(pushes):  # the same batch id again within the group
        if results[index] is None:
            loaded = results[fresh[push.batch_id]]
            assert isinstance(loaded, PushReport)
            results[index] = replace(loaded, duplicate=True)
    return [r for r in results if r is not None]


def _ndjson(body: bytes) -> bytes:
    """The body as NDJSON ending with a newline, so that bodies can be joined."""
    lines = body_lines(body)
    return lines if not lines or lines.endswith(b"\n") else lines + b"\n"


def _store_parts(
    store: Store, pushes: list[PushedBody], parts: list[tuple[int, bytes]],
    enricher: Enricher, context: ParseContext,
) -> list[PushReport]:  # fmt: skip
    """The fresh pushes' lines, numbered one after another, split and parsed as one; then
    each event and quarantined line is given back to its push by where its line falls."""
    sizes = [data.count(b"\n") for _, data in parts]
    offsets = list(accumulate([0, *sizes[:-1]]))
    lines = split_lines(b"".join(data for _, data in parts), 1)
    events, quarantine = parse_lines(lines, enricher, context)
    now = datetime.now(UTC).replace(tzinfo=None)
    first_event, first_source = next_ids(store)
    starts = pl.Series(offsets, dtype=pl.Int64)

    def owned(frame: pl.DataFrame) -> pl.DataFrame:
        part = starts.search_sorted(frame["line_no"] - 1, side="right") - 1
        return frame.with_columns(
            source_id=(part + first_source).cast(pl.Int32),
            line_no=frame["line_no"] - starts.gather(part),
        )

    events = owned(events.sort("line_no", "seq"))
    events = events.with_columns(
        event_id=pl.int_range(0, events.height, dtype=pl.Int64) + first_event,
        ingested_at=pl.lit(now),
    )
    quarantine = owned(quarantine).sort("source_id", "line_no")
    loaded_of = dict(events["source_id"].value_counts().iter_rows())
    rejected_of: dict[int, list[dict[str, Any]]] = {}
    for row in quarantine.select("source_id", "line_no", "reason").iter_rows(named=True):
        rejected_of.setdefault(row.pop("source_id"), []).append(row)  # the few bad lines
    reports, progress = [], []
    for k, ((index, _), size) in enumerate(zip(parts, sizes, strict=True)):
        push, source_id = pushes[index], first_source + k
        loaded = int(loaded_of.get(source_id, 0))
        report = PushReport(push.batch_id, received=size, loaded=loaded,
                            rejected=rejected_of.get(source_id, []))  # fmt: skip
        report.skipped = size - loaded - len(report.rejected)
        reports.append(report)
        progress.append(SourceProgress(
            source_id=source_id, kind="push", path=push.batch_id, format="jsonl",
            head_len=len(push.body), head_hash=push.digest, tail_hash="",
            bytes_done=len(push.body), lines_done=size, parse_state={}, events=loaded,
            skipped=report.skipped, quarantined=len(report.rejected),
        ))  # fmt: skip
    commit_sources(store, progress, event_rows(events), quarantine, now)
    return reports


# Read through the index on sources.path (schema step 7), not by reading every source.
EARLIER_PUSHES = (
    "SELECT path, head_hash, lines_done, events, source_id FROM sources "
    "WHERE kind = 'push' AND list_contains(?, path)"
)


def _earlier_all(store: Store, batch_ids: list[str]) -> dict[str, tuple[str, int, int, int]]:
    """(body hash, lines, events, source id) of the batches loaded before, by batch id."""
    rows = store.con.execute(EARLIER_PUSHES, [batch_ids]).fetchall()
    return {str(p): (str(d), int(n), int(e), int(s)) for p, d, n, e, s in rows}


def _earlier_report(store: Store, batch_id: str, earlier: tuple[str, int, int, int]) -> PushReport:
    """What the first delivery of this batch reported (what purges left of it)."""
    _, received, loaded, source_id = earlier
    rows = store.con.execute(
        "SELECT line_no, reason FROM quarantine WHERE source_id = ? ORDER BY line_no",
        [source_id],
    ).fetchall()
    rejected = [{"line_no": line_no, "reason": reason} for line_no, reason in rows]
    skipped = received - loaded - len(rejected)
    return PushReport(batch_id, received, loaded, skipped, duplicate=True, rejected=rejected)
