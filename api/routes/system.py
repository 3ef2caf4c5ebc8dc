"""The service itself: health, Prometheus metrics, scheduled jobs, the configuration in use."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from api.auth import Admin, Monitor
from api.metrics import CONTENT_TYPE
from api.models import JobOut
from api.routes.common import GUARDED, Ctx, Reader
from store.alerts import activity

router = APIRouter(tags=["service"])


@router.get("/healthz", summary="Liveness: no authentication, no data")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/api/v1/jobs",
    responses=GUARDED,
    response_model=list[JobOut],
    summary="Scheduled jobs and last runs",
)
def jobs(principal: Monitor, ctx: Ctx) -> list[dict[str, Any]]:
    return ctx.jobs()


@router.get(
    "/api/v1/overview",
    responses=GUARDED,
    summary="Events and failures per hour, alerts per day (counts)",
)
def overview(
    principal: Monitor, ctx: Ctx, con: Reader, days: Annotated[int, Query(ge=1, le=90)] = 3
) -> dict[str, Any]:
    # Counted back from the newest event, so a replayed or quiet log still shows its days.
    ((newest,),) = con.execute("SELECT max(ts) FROM events").fetchall()
    since = (newest or ctx.clock()) - timedelta(days=days)
    return activity(con, since)


@router.get(
    "/api/v1/config", responses=GUARDED, summary="The configuration in use (it holds no secrets)"
)
def config(principal: Admin, ctx: Ctx) -> dict[str, Any]:
    return ctx.config_view


@router.get(
    "/metrics",
    responses=GUARDED,
    response_class=PlainTextResponse,
    summary="Prometheus text format",
)
def metrics(principal: Monitor, ctx: Ctx) -> PlainTextResponse:
    assert ctx.metrics is not None  # create_app gives every context its metrics
    return PlainTextResponse(ctx.metrics.render(), media_type=CONTENT_TYPE)
