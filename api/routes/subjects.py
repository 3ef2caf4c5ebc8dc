"""Right of access for the DPO: everything stored about one person, as JSON or a letter."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Dpo
from api.context import Rejected
from api.models import one_of_required
from api.routes.common import Ctx, refusals, route_of
from privacy.erasure import ErasureRefused, erase_subject
from privacy.letter import render
from privacy.subject import Subject, audited_subject_report
from store.compaction import owe_compaction

router = APIRouter(prefix="/api/v1/subjects", tags=["privacy"])


class ErasureIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=one_of_required("user", "customer_id"),
    )
    user: str | None = Field(default=None, min_length=1, max_length=256)
    customer_id: str | None = Field(default=None, min_length=1, max_length=256)


@router.post(
    "/erase",
    summary="Erase one person's data (unless a legal hold covers it)",
    responses=refusals(conflict="a legal hold covers the data: it names the hold"),
)
def erase(request: Request, principal: Dpo, ctx: Ctx, body: ErasureIn) -> dict[str, Any]:
    if not (body.user or body.customer_id):
        raise Rejected(422, "give user or customer_id", ("body",))
    owe_compaction(ctx.store.path)  # the rows leave the file at the compaction that follows
    try:
        result = erase_subject(
            ctx.audit, Subject(body.user, body.customer_id), principal.name, ctx.clock(),
            role=principal.role, route=route_of(request),
        )  # fmt: skip
    except ErasureRefused as refused:
        raise Rejected(409, str(refused)) from None
    # Compaction needs the database alone, so it is queued (the retention job compacts
    # what is owed), not awaited inside this request.
    ctx.queue_purge(principal.name)
    return {**result, "compacted": "queued with the retention job"}


@router.get(
    "/{user}",
    summary="Subject-access report: events, alerts, holds, disclosures, staff look-ups",
    responses={200: {"content": {"text/markdown": {}}}},
)
def subject(
    request: Request,
    principal: Dpo,
    ctx: Ctx,
    user: Annotated[str, Path(min_length=1, max_length=256)],
    customer_id: Annotated[str | None, Query(max_length=256)] = None,
    output: Annotated[Literal["json", "letter"], Query(alias="format")] = "json",
    lang: Literal["fi", "en"] = "en",
) -> Any:
    report = audited_subject_report(
        ctx.audit, Subject(user, customer_id), ctx.policy, ctx.clock(), principal.name,
        role=principal.role, route=route_of(request),
    )  # fmt: skip
    if output == "letter":
        return PlainTextResponse(render(report, lang), media_type="text/markdown; charset=utf-8")
    return report
