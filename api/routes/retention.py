"""The DPO's retention and legal holds: status, purge (a dry run answers at once; the real
purge runs as the retention job, since compaction needs the database alone), holds added
and released. Every call is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Dpo
from api.context import Rejected
from api.models import NOT_BLANK, one_of_required
from api.routes.common import Ctx, Reader, refusals, route_of, utc, who
from privacy.holds import HoldError, HoldRequest, audited_add, audited_release, list_holds
from privacy.purge import dry_run
from privacy.register import describe
from privacy.retention import status

router = APIRouter(prefix="/api/v1", tags=["retention"])
_PURPOSE = "retention"


class HoldIn(BaseModel):
    # What a hold must name, in the schema too (a client can see it before sending).
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True,
        json_schema_extra=one_of_required("user", "customer_id", "ip"),
    )  # fmt: skip
    reason: str = Field(min_length=3, max_length=1000, pattern=NOT_BLANK)
    user: str | None = Field(default=None, max_length=256)
    customer_id: str | None = Field(default=None, max_length=256)
    ip: str | None = Field(default=None, max_length=64, description="an address or CIDR")
    since: datetime | None = Field(default=None, alias="from")
    before: datetime | None = Field(default=None, alias="to")
    case: str | None = Field(default=None, max_length=200)
    kind: Literal["preservation", "incident", "internal"] = "internal"
    until: datetime | None = Field(default=None, description="the hold ends then")

    def request(self) -> HoldRequest:
        return HoldRequest(
            reason=self.reason, user=self.user, customer_id=self.customer_id, ip=self.ip,
            since=utc(self.since), until_ts=utc(self.before), case_ref=self.case,
            kind=self.kind, expires=utc(self.until),
        )  # fmt: skip


@router.get("/retention", summary="Per kind of data: policy, rows, oldest, due, held back")
def retention(request: Request, principal: Dpo, ctx: Ctx, con: Reader) -> dict[str, Any]:
    report = status(con, ctx.policy, ctx.clock())
    ctx.audit.record(principal.name, "retention.status", who(principal, request, _PURPOSE))
    return report


@router.post(
    "/retention/purge",
    summary="Purge what is due; with dry_run, only say what would go",
    responses={202: {"description": "the purge is queued as the retention job"}},
)
def purge(principal: Dpo, ctx: Ctx, dry: Annotated[bool, Query(alias="dry_run")] = False) -> Any:
    if dry:
        return dry_run(ctx.store, ctx.audit, ctx.policy, ctx.clock(), principal.name).as_json()
    # Queued, not awaited: compaction waits for every request to end, this one too.
    ctx.queue_purge(principal.name)
    return JSONResponse({"queued": True, "job": "retention"}, status_code=202)


@router.get("/holds", summary="Legal holds, active and ended")
def holds(principal: Dpo, ctx: Ctx, con: Reader) -> list[dict[str, Any]]:
    now = ctx.clock()
    return [hold.as_json(now) for hold in list_holds(con)]


@router.post("/holds", status_code=201, summary="Add a legal hold")
def new_hold(request: Request, principal: Dpo, ctx: Ctx, body: HoldIn) -> dict[str, Any]:
    try:
        hold, covered = audited_add(
            ctx.audit, body.request(), principal.name, ctx.clock(),
            role=principal.role, route=route_of(request),
        )  # fmt: skip
    except HoldError as exc:
        raise Rejected(422, str(exc), ("body",)) from exc
    note = "" if covered else "the hold matches no stored event yet"
    return {**hold.as_json(ctx.clock()), "covered_events": covered, "note": note}


@router.post(
    "/holds/{hold_id}/release",
    summary="End a legal hold",
    responses=refusals(not_found="no such hold"),
)
def end_hold(
    request: Request,
    principal: Dpo,
    ctx: Ctx,
    hold_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> dict[str, Any]:
    try:
        hold = audited_release(
            ctx.audit, hold_id, principal.name, ctx.clock(),
            role=principal.role, route=route_of(request),
        )  # fmt: skip
    except HoldError as exc:
        raise Rejected(404, str(exc)) from exc
    return hold.as_json(ctx.clock())


@router.get("/register", summary="The register description from the configuration and data")
def register(principal: Dpo, ctx: Ctx, con: Reader) -> dict[str, Any]:
    """What the register really holds and does (no personal data: counts and settings)."""
    return describe(con, ctx.policy, ctx.store.key is not None, ctx.clock())
