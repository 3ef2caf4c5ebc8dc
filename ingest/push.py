"""Events pushed over HTTP: one batch is one source, checked like the lines of a JSONL file.

A client names its batch; sending the same batch again loads nothing (and says so), and a
different body under a name already used is refused rather than silently merged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ingest.context import ParseContext
from ingest.enrich import Enricher
from ingest.lines import split_lines
from ingest.records import parse_lines
from store import Store
from store.loading import (
    SourceProgress,
    commit_batch,
    event_rows,
    next_event_id,
    next_source_id,
    numbered,
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


def push_batch(
    store: Store,
    body: bytes,
    batch_id: str,
    enricher: Enricher,
    context: ParseContext,
) -> PushReport:
    """Validate, enrich and store one pushed batch in one transaction. The caller serialises
    writers of events (event ids are taken as max + 1)."""
    digest = hashlib.sha256(body).hexdigest()
    earlier = _earlier(store, batch_id)
    if earlier is not None:
        if earlier[0] != digest:
            raise BatchConflict(f"batch id {batch_id!r} was used before for a different body")
        return _earlier_report(store, batch_id, earlier)
    lines = split_lines(body_lines(body), 1)
    report = PushReport(batch_id, received=lines.height)
    events, quarantine = parse_lines(lines, enricher, context)
    now = datetime.now(UTC).replace(tzinfo=None)
    first_id = next_event_id(store)
    source_id = next_source_id(store)
    events = numbered(events, first_id, source_id, now)
    report.loaded = events.height
    report.rejected = quarantine.select("line_no", "reason").sort("line_no").to_dicts()
    report.skipped = report.received - report.loaded - len(report.rejected)
    progress = SourceProgress(
        source_id=source_id, kind="push", path=batch_id, format="jsonl", head_len=len(body),
        head_hash=digest, tail_hash="", bytes_done=len(body), lines_done=lines.height,
        parse_state={}, events=events.height, skipped=report.skipped,
        quarantined=len(report.rejected),
    )  # fmt: skip
    commit_batch(store, progress, True, event_rows(events), quarantine, now)
    return report


def _earlier(store: Store, batch_id: str) -> tuple[str, int, int, int] | None:
    """(body hash, lines, events, source id) of a batch loaded before under this id."""
    rows = store.con.execute(
        "SELECT head_hash, lines_done, events, source_id FROM sources "
        "WHERE kind = 'push' AND path = ?",
        [batch_id],
    ).fetchall()
    if not rows:
        return None
    digest, lines, events, source_id = rows[0]
    return str(digest), int(lines), int(events), int(source_id)


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
