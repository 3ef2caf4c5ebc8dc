"""Running the service's own work on request: counts, a detection run, loading files the
server can read. What `vahti stats`, `vahti detect` and `vahti ingest` do when a server
holds the database; the work runs on the scheduler's one worker, after the job it is on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Admin, Analyst, Monitor
from api.context import DetectRequest, IngestRequest, Rejected
from api.routes.common import Ctx, who
from store import Store
from store.quarantine import QuarantineQuery, quarantine_summary, quarantined_lines
from store.stamps import utc_iso
from store.stats import stats

router = APIRouter(prefix="/api/v1", tags=["operations"])


@router.get("/stats", summary="Counts of what the store holds (no personal data)")
def store_stats(principal: Monitor, ctx: Ctx) -> dict[str, Any]:
    return stats(Store(ctx.store.path, ctx.store.cursor()))


class DetectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: Annotated[
        str | None, Field(alias="from", max_length=40, json_schema_extra={"format": "date-time"})
    ] = None
    until: Annotated[
        str | None, Field(alias="to", max_length=40, json_schema_extra={"format": "date-time"})
    ] = None


@router.post("/detect", summary="Run every enabled rule now (or replay from/to)")
def detect_now(principal: Analyst, ctx: Ctx, body: DetectIn | None = None) -> dict[str, Any]:
    wanted = body or DetectIn()
    return ctx.detect(DetectRequest(wanted.since, wanted.until))


class IngestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paths: list[Annotated[str, Field(min_length=1, max_length=4096, pattern="^/")]] = Field(
        min_length=1, max_length=1000
    )
    format: Annotated[str, Field(max_length=10)] = "auto"
    year: Annotated[int | None, Field(ge=1970, le=2099)] = None
    tz: Annotated[str | None, Field(max_length=64)] = None
    live: bool = False  # a last line without its newline waits (the file is being written)


@router.post("/ingest", summary="Load files the server can read (absolute paths; admin)")
def ingest_files(request: Request, principal: Admin, ctx: Ctx, body: IngestIn) -> dict[str, Any]:
    if not all(path.startswith("/") for path in body.paths):
        raise Rejected(422, "paths must be absolute: the server reads them", ("body", "paths"))
    if not all(Path(path).is_file() for path in body.paths):
        raise Rejected(422, "every path must be a file the server can see", ("body", "paths"))
    ctx.audit.record(
        principal.name, "ingest.files",
        who(principal, request, "information security", files=body.paths),
    )  # fmt: skip
    wanted = IngestRequest(tuple(body.paths), body.format, body.year, body.tz, body.live)
    reports = ctx.ingest(wanted)
    return {"files": reports}


QuarantineText = Annotated[str | None, Query(max_length=200)]


@router.get("/quarantine", summary="Quarantined lines with file, line and reason (audited)")
def quarantine(
    request: Request,
    principal: Analyst,
    ctx: Ctx,
    source: QuarantineText = None,
    reason: QuarantineText = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> dict[str, Any]:
    store = Store(ctx.store.path, ctx.store.cursor())
    query = QuarantineQuery(source, reason, limit)
    lines = quarantined_lines(store, query)
    total, reasons = quarantine_summary(store, query)
    # Quarantined text may name people: reading it is recorded like an event search.
    touched = {"source": source, "reason": reason, "lines": len(lines)}
    ctx.audit.record(principal.name, "quarantine.list",
                     who(principal, request, "information security", **touched))  # fmt: skip
    shown = [{**row, "quarantined_at": utc_iso(row["quarantined_at"])} for row in lines]
    return {"lines": shown, "total": total, "reasons": [list(r) for r in reasons]}


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Annotated[str | None, Field(max_length=200)] = None
    reason: Annotated[str | None, Field(max_length=200)] = None


@router.post("/quarantine/retry", summary="Parse quarantined lines again (admin)")
def quarantine_retry(principal: Admin, ctx: Ctx, body: RetryIn | None = None) -> dict[str, Any]:
    wanted = body or RetryIn()
    return {"sources": ctx.retry_quarantine(wanted.source, wanted.reason, principal.name)}
