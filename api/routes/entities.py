"""One entity for the security team: an address, an account or a session, with its alerts,
places, days, familiarity profile and counterparts (the purpose is recorded)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from api.auth import Analyst
from api.context import Rejected
from api.routes.common import Ctx, Reader, who
from store.entities import Entity, alerts_of, counterparts, days, places, profile, totals

router = APIRouter(prefix="/api/v1/entities", tags=["events"])


@router.get("/{kind}", summary="An address, account or session: alerts, places, profile")
def entity(
    request: Request,
    principal: Analyst,
    ctx: Ctx,
    con: Reader,
    kind: Literal["ip", "user", "session"],
    value: Annotated[
        str,
        Query(
            min_length=1,
            max_length=256,
            description="an address or CIDR, an account or a session id",
        ),
    ],
    purpose: Annotated[
        str, Query(min_length=3, max_length=500, description="why: recorded in the audit log")
    ],
    window_days: Annotated[
        int,
        Query(alias="days", ge=1, le=3660, description="places, days and profile: this far back"),
    ] = 180,
) -> dict[str, Any]:
    found = Entity(kind, value)
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=window_days)
    try:
        body = {
            "kind": kind, "value": value, "days_back": window_days, **totals(con, found),
            "alerts": alerts_of(con, found), "days": days(con, found, since),
            "places": places(con, found, since), "counterparts": counterparts(con, found, since),
            "profile": profile(con, found, since),
        }  # fmt: skip
    except ValueError as exc:  # not an address or CIDR
        raise Rejected(422, str(exc), ("query", "value")) from exc
    ctx.audit.record(
        principal.name,
        "entity.view",
        who(principal, request, purpose, entity={"kind": kind, "value": value},
            events=body["events"]),
    )  # fmt: skip
    return body
