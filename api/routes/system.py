"""The service itself: health, Prometheus metrics, scheduled jobs, the configuration in use."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import duckdb
from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from api.auth import Admin, Monitor
from api.models import JobOut
from api.routes.common import Ctx, Reader
from store.alerts import activity

router = APIRouter(tags=["service"])


@router.get("/healthz", summary="Liveness: no authentication, no data")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/api/v1/jobs", response_model=list[JobOut], summary="Scheduled jobs and last runs")
def jobs(principal: Monitor, ctx: Ctx) -> list[dict[str, Any]]:
    return ctx.jobs()


@router.get("/api/v1/overview", summary="Events and failures per hour, alerts per day (counts)")
def overview(
    principal: Monitor, ctx: Ctx, con: Reader, days: Annotated[int, Query(ge=1, le=90)] = 3
) -> dict[str, Any]:
    # Counted back from the newest event, so a replayed or quiet log still shows its days.
    ((newest,),) = con.execute("SELECT max(ts) FROM events").fetchall()
    since = (newest or ctx.clock()) - timedelta(days=days)
    return activity(con, since)


@router.get("/api/v1/config", summary="The configuration in use (it holds no secrets)")
def config(principal: Admin, ctx: Ctx) -> dict[str, Any]:
    return ctx.config_view


def _line(name: str, value: float, **labels: str) -> str:
    if not labels:
        return f"{name} {value:g}"
    text = ",".join(f'{key}="{_escape(val)}"' for key, val in sorted(labels.items()))
    return f"{name}{{{text}}} {value:g}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _store_metrics(con: duckdb.DuckDBPyConnection) -> list[str]:
    ((events, quarantined, sources),) = con.execute(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM quarantine), "
        "(SELECT count(*) FROM sources)"
    ).fetchall()
    lines = [
        "# HELP vahti_events Events held in the store.",
        "# TYPE vahti_events gauge",
        _line("vahti_events", events),
        "# HELP vahti_quarantined Lines held in quarantine.",
        "# TYPE vahti_quarantined gauge",
        _line("vahti_quarantined", quarantined),
        "# HELP vahti_sources Files and pushed batches loaded.",
        "# TYPE vahti_sources gauge",
        _line("vahti_sources", sources),
        "# HELP vahti_alerts Alerts by category and status.",
        "# TYPE vahti_alerts gauge",
    ]
    rows = con.execute(
        "SELECT category, status, count(*) FROM alerts GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    lines += [_line("vahti_alerts", n, category=c, status=s) for c, s, n in rows]
    return lines


def _job_metrics(jobs: list[dict[str, Any]]) -> list[str]:
    lines = [
        "# HELP vahti_job_duration_seconds Duration of each job's last run.",
        "# TYPE vahti_job_duration_seconds gauge",
    ]
    lines += [
        _line("vahti_job_duration_seconds", job["duration_seconds"], job=job["name"])
        for job in jobs
        if job["duration_seconds"] is not None
    ]
    lines += [
        "# HELP vahti_job_runs_total Job runs by outcome.",
        "# TYPE vahti_job_runs_total counter",
    ]
    for job in jobs:
        lines.append(
            _line(
                "vahti_job_runs_total", job["runs"] - job["failures"], job=job["name"], outcome="ok"
            )
        )
        lines.append(
            _line("vahti_job_runs_total", job["failures"], job=job["name"], outcome="failed")
        )
    return lines


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus text format")
def metrics(request: Request, principal: Monitor, ctx: Ctx, con: Reader) -> PlainTextResponse:
    lines = _store_metrics(con) + _job_metrics(ctx.jobs())
    lines += [
        "# HELP vahti_auth_failures_total Failed authentications since start.",
        "# TYPE vahti_auth_failures_total counter",
        _line("vahti_auth_failures_total", request.app.state.limiter.total_failures),
    ]
    return PlainTextResponse(
        "\n".join(lines) + "\n", media_type="text/plain; version=0.0.4; charset=utf-8"
    )
