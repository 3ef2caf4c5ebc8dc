"""Right of access for the DPO: everything stored about one person, as JSON or a letter."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse

from api.auth import Dpo
from api.routes.common import Ctx, route_of
from privacy.letter import render
from privacy.subject import Subject, audited_subject_report

router = APIRouter(prefix="/api/v1/subjects", tags=["privacy"])


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
