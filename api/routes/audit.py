"""The audit log, for the DPO: read it page by page, verify its chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.auth import Dpo
from api.context import Rejected
from api.models import AuditPage, ChainOut
from api.routes.common import Ctx, Reader, refusals, who
from store.audit import entries, head, verify

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=AuditPage, summary="Audit entries, in order or newest first")
def audit_log(
    request: Request,
    principal: Dpo,
    ctx: Ctx,
    con: Reader,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="an action, or a prefix ending in *")
    ] = None,
    touching: Annotated[
        str | None, Query(max_length=256, description="text anywhere in the entry's detail")
    ] = None,
    newest_first: bool = False,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="newest first: `next` of a page")
    ] = None,
) -> dict:
    found = entries(
        con, after, limit + 1, actor, action, touching=touching, newest_first=newest_first,
        before_seq=before,
    )  # fmt: skip
    shown = found[:limit]
    ctx.audit.record(
        principal.name,
        "audit.read",
        who(principal, request, "accountability", entries=len(shown), after=after),
    )
    return {
        "entries": [entry.as_json() for entry in shown],
        "next": shown[-1].seq if len(found) > limit else None,
    }


@router.get("/verify", response_model=ChainOut, summary="Check the chain and its checkpoint")
def verify_chain(
    principal: Dpo,
    ctx: Ctx,
    con: Reader,
    expect_head: Annotated[
        str | None,
        Query(max_length=64, description="a head hash published earlier: still in the chain?"),
    ] = None,
) -> dict:
    check = verify(con)
    against = ctx.checkpoints.problems(con, expect_head) if ctx.checkpoints else []
    return {
        "ok": check.first_broken is None and not against,
        "entries": check.entries,
        "head_seq": head(con)[0],
        "head_hash": check.head_hash,
        "first_broken": check.first_broken,
        "problem": check.problem,
        "checkpoint_problems": against,
    }


@router.post(
    "/checkpoint",
    summary="Sign a checkpoint of the chain now (kept outside the DB)",
    responses=refusals(conflict="the log no longer holds against the last checkpoint: not signed"),
)
def checkpoint(principal: Dpo, ctx: Ctx, con: Reader) -> dict[str, Any]:
    if ctx.checkpoints is None:
        raise Rejected(503, "this process keeps no checkpoints: use `vahti audit checkpoint`")
    point = ctx.checkpoints.sign(con, ctx.clock())
    return {"seq": point.seq, "hash": point.hash, "entries": point.entries, "at": point.at}
