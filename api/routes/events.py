"""Events: an accountable search for the security team, and the push endpoint for shippers."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response

from api.auth import Admin, Analyst
from api.context import Rejected
from api.models import EventPage, PushResult
from api.routes.common import Ctx, Reader, utc, who
from store.events import EventQuery, search_events

router = APIRouter(prefix="/api/v1/events", tags=["events"])
PUSH_TYPES = ("application/json", "application/x-ndjson")
_BATCH_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_PUSH_BODY = {
    "requestBody": {
        "required": True,
        "description": "canonical events (contract section 1) as a JSON array or as NDJSON",
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


@router.get("", response_model=EventPage, summary="Search events (the purpose is recorded)")
def search(
    request: Request,
    principal: Analyst,
    ctx: Ctx,
    con: Reader,
    purpose: Annotated[
        str, Query(min_length=3, max_length=500, description="why: recorded in the audit log")
    ],
    user: Annotated[str | None, Query(max_length=256)] = None,
    customer_id: Annotated[str | None, Query(max_length=256)] = None,
    ip: Annotated[
        str | None, Query(min_length=2, max_length=64, description="an address or CIDR")
    ] = None,
    session: Annotated[str | None, Query(max_length=512)] = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
    outcome: Literal["success", "failure"] | None = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="cursor: `next` of a page")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict:
    query = EventQuery(
        user, customer_id, ip, session, utc(since), utc(until), outcome, after, limit + 1
    )
    try:
        events = search_events(con, query)
    except ValueError as exc:
        raise Rejected(422, str(exc), ("query", "ip")) from exc
    shown = events[:limit]
    following = shown[-1]["event_id"] if len(events) > limit else None
    touched = {"query": query.touched(), "events": len(shown)}
    if shown:
        touched["event_ids"] = [shown[0]["event_id"], shown[-1]["event_id"]]
    ctx.audit.record(principal.name, "events.search", who(principal, request, purpose, **touched))
    return {"events": shown, "next": following}


@router.post(
    "",
    response_model=PushResult,
    openapi_extra=_PUSH_BODY,
    summary="Push a batch of events (JSON array or NDJSON); a repeated batch_id loads nothing",
    responses={409: {"description": "batch id used for another body"}, 413: {}},
)
async def push(
    request: Request,
    principal: Admin,
    ctx: Ctx,
    batch_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=128,
            pattern=r"^[A-Za-z0-9._:-]+$",
            description="client's batch id: sending it again loads nothing",
        ),
    ] = None,
) -> Response:
    if batch_id is not None and not _BATCH_ID.match(batch_id):
        raise Rejected(
            422, "1-128 characters of letters, digits and . _ : -", ("query", "batch_id")
        )
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in PUSH_TYPES:
        raise Rejected(
            415, f"send application/json (an array) or application/x-ndjson, not {kind!r}"
            if kind else "send Content-Type: application/json or application/x-ndjson",
        )  # fmt: skip
    body = await request.body()
    if not body.strip():
        raise Rejected(422, "no events (send a JSON array or NDJSON)", ("body",))
    name = batch_id or f"push-{uuid.uuid4()}"
    arrival = getattr(request.state, "push_arrival", None)
    report = await ctx.push(body, name, arrival)
    # Returned as it is: the report is built to PushResult's shape (checked by the tests),
    # and validating it again costs more than the rest of the route on a busy server.
    return Response(orjson.dumps(report), media_type="application/json")
