"""Lawful extracts: the liaison records an authority's request and downloads the approved
package; a DPO who is not the requester approves or refuses (four eyes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Dpo, Liaison, LiaisonOrDpo, Principal
from api.context import Rejected
from api.models import NOT_BLANK, one_of_required
from api.routes.common import Ctx, Reader, refusals, route_of, utc, who
from privacy.extracts import (
    ExtractError,
    ExtractRequest,
    Scope,
    audited_create,
    audited_decision,
    list_extracts,
)
from privacy.package import disclosure_register, make_package

router = APIRouter(prefix="/api/v1/extracts", tags=["extracts"])
ExtractId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Text = Annotated[str, Field(min_length=1, max_length=500, pattern=NOT_BLANK)]


class ScopeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True,
        json_schema_extra=one_of_required("users", "customer_ids", "ips", kind="array"),
    )  # fmt: skip
    users: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default=[], max_length=1000
    )
    customer_ids: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        default=[], max_length=1000
    )
    ips: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default=[], max_length=1000
    )
    since: datetime | None = Field(default=None, alias="from")
    until: datetime | None = Field(default=None, alias="to")


class ExtractIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    authority: Text
    legal_basis: Text
    reference: Text
    order_type: Literal["production", "preservation"] = "production"
    scope: ScopeIn
    emergency: bool = False
    deadline: datetime | None = None
    secrecy_until: datetime | None = None

    def request(self) -> ExtractRequest:
        scope = Scope(
            tuple(self.scope.users), tuple(self.scope.customer_ids), tuple(self.scope.ips),
            utc(self.scope.since), utc(self.scope.until),
        )  # fmt: skip
        return ExtractRequest(
            authority=self.authority, legal_basis=self.legal_basis, reference=self.reference,
            order_type=self.order_type, scope=scope, emergency=self.emergency,
            deadline=utc(self.deadline), secrecy_until=utc(self.secrecy_until),
        )  # fmt: skip


class Refusal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text


@router.post("", status_code=201, summary="Record an authority's request")
def create(request: Request, principal: Liaison, ctx: Ctx, body: ExtractIn) -> dict[str, Any]:
    try:
        extract, matching = audited_create(
            ctx.audit, body.request(), principal.name, ctx.clock(), principal.answerable,
            role=principal.role,
            route=route_of(request),
        )  # fmt: skip
    except ExtractError as exc:
        raise Rejected(422, str(exc), ("body",)) from exc
    note = "" if matching else "the scope matches no stored event"
    return {**extract.as_json(ctx.clock()), "matching_events": matching, "note": note}


@router.get("", summary="Requests with their state and deadlines")
def requests(principal: LiaisonOrDpo, ctx: Ctx, con: Reader) -> list[dict[str, Any]]:
    now = ctx.clock()
    return [extract.as_json(now) for extract in list_extracts(con)]


@router.get("/disclosures", summary="The disclosure register: what went to whom, and why")
def disclosures(
    request: Request, principal: LiaisonOrDpo, ctx: Ctx, con: Reader
) -> list[dict[str, Any]]:
    found = disclosure_register(con)
    ctx.audit.record(
        principal.name, "disclosures.read",
        who(principal, request, "accountability", disclosures=len(found)),
    )  # fmt: skip
    return found


def _decide(
    request: Request, principal: Principal, ctx: Ctx, extract_id: int, refusal: str | None
) -> dict[str, Any]:
    try:
        decided = audited_decision(
            ctx.audit, extract_id, principal.name, ctx.clock(), refusal, principal.answerable,
            role=principal.role,
            route=route_of(request),
        )  # fmt: skip
    except ExtractError as exc:
        status = 404 if str(exc).startswith("no extract") else 409
        raise Rejected(status, str(exc)) from exc
    return decided.as_json(ctx.clock())


_DECISION = refusals(
    not_found="no such request",
    conflict="decided already, or four eyes: the decider made the request or its credentials",
)


@router.post("/{extract_id}/approve", summary="Approve (not your own request)", responses=_DECISION)
def approve(request: Request, principal: Dpo, ctx: Ctx, extract_id: ExtractId) -> dict[str, Any]:
    return _decide(request, principal, ctx, extract_id, None)


@router.post("/{extract_id}/refuse", summary="Refuse, with the reason", responses=_DECISION)
def refuse(
    request: Request, principal: Dpo, ctx: Ctx, extract_id: ExtractId, body: Refusal
) -> dict[str, Any]:
    return _decide(request, principal, ctx, extract_id, body.reason)


def _signer(ctx: Ctx) -> Ed25519PrivateKey | None:
    """The audit key that signs packages (a new one signs its first checkpoint first)."""
    if ctx.checkpoints is None:
        return None
    cursor = ctx.store.cursor()
    try:
        return ctx.checkpoints.signer(cursor)
    finally:
        cursor.close()


@router.get(
    "/{extract_id}/package",
    summary="The package of an approved production order (each download is a disclosure)",
    responses={
        200: {"content": {"application/zip": {}}},
        **refusals(not_found="no such request", conflict="not an approved production order"),
    },
    response_class=Response,
)
def package(request: Request, principal: Liaison, ctx: Ctx, extract_id: ExtractId) -> Response:
    try:
        signer = _signer(ctx)
        data, digest, _ = make_package(
            ctx.audit, extract_id, principal.name, ctx.clock(), signer, role=principal.role,
            route=route_of(request),
        )  # fmt: skip
    except ExtractError as exc:
        status = 404 if str(exc).startswith("no extract") else 409
        raise Rejected(status, str(exc)) from exc
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="vahti-extract-{extract_id}.zip"',
            "X-Package-SHA256": digest,
        },
    )
