"""The security team's alerts: the queue, one alert with its evidence, triage."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta
from typing import Annotated, Any

import duckdb
from fastapi import APIRouter, Path, Query, Request

from api.auth import Analyst
from api.context import Rejected
from api.models import AlertDetail, AlertOut, AlertPage, AlertPatch, Category, Severity, Status
from api.routes.common import Ctx, Reader, refusals, utc, who
from store.alerts import (
    SORT_KEYS,
    Alert,
    AlertFilter,
    AlertOrder,
    entity_timeline,
    evidence_count,
    evidence_rows,
    get_alert,
    history,
    page_alerts,
    update_alert,
)

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])
AlertId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
TRIAGE = "alert triage"


def _cursor(order: AlertOrder, alert: Alert) -> str:
    value = order.value(alert)
    shown = value.isoformat() if isinstance(value, datetime) else str(value)
    raw = f"{order.text}|{shown}|{alert.alert_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str | None, order: AlertOrder) -> tuple[Any, str] | None:
    """The cursor's (sort value, id): a cursor of another sort order is refused."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        sort, value, alert_id = raw.split("|", 2)
        if sort != order.text:
            raise ValueError("another order")
        key = order.key
        typed = datetime.fromisoformat(value) if key.endswith("_seen") else int(value)
        return typed, alert_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Rejected(422, "not a cursor this API gave out for this sort order",
                       ("query", "cursor")) from exc  # fmt: skip


def alert_order(sort: str) -> AlertOrder:
    try:
        return AlertOrder.parse(sort)
    except ValueError as exc:
        raise Rejected(422, str(exc), ("query", "sort")) from exc


SortText = Annotated[
    str,
    Query(
        max_length=20,
        json_schema_extra={"enum": [f"{d}{k}" for k in SORT_KEYS for d in ("", "-")]},
        description="last_seen, first_seen, severity or events; a leading - for descending",
    ),
]


@router.get("", response_model=AlertPage, summary="List alerts (newest activity first, or sorted)")
def list_alerts(
    request: Request,
    principal: Analyst,
    ctx: Ctx,
    con: Reader,
    status: Status | None = None,
    category: Category | None = None,
    severity: Severity | None = None,
    entity: Annotated[str | None, Query(max_length=256)] = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    sort: SortText = "-last_seen",
) -> dict:
    order = alert_order(sort)
    where = AlertFilter(status, category, severity, entity, utc(since), utc(until))
    alerts = page_alerts(con, where, _after(cursor, order), limit + 1, order)
    shown = alerts[:limit]
    following = _cursor(order, shown[-1]) if len(alerts) > limit else None
    ctx.audit.record(
        principal.name,
        "alerts.list",
        who(principal, request, TRIAGE, alerts=[a.alert_id for a in shown]),
    )
    return {"alerts": [a.as_json() for a in shown], "next": following}


def _detail(con: duckdb.DuckDBPyConnection, alert_id: str, evidence_limit: int) -> dict:
    alert = get_alert(con, alert_id)
    if alert is None:
        raise Rejected(404, f"no alert {alert_id}")
    evidence = evidence_rows(con, alert_id, evidence_limit)
    for row in evidence:
        row["ts"] = row["ts"].isoformat(timespec="microseconds") + "Z"
    return {
        **alert.as_json(),
        "evidence": evidence,
        "evidence_total": evidence_count(con, alert_id),
        "history": history(con, alert_id),
    }


@router.get(
    "/{alert_id}",
    response_model=AlertDetail,
    summary="One alert with its evidence",
    responses=refusals(not_found="no such alert"),
)
def show_alert(
    request: Request,
    principal: Analyst,
    ctx: Ctx,
    con: Reader,
    alert_id: AlertId,
    evidence_limit: Annotated[int, Query(ge=0, le=10_000)] = 1000,
) -> dict:
    body = _detail(con, alert_id, evidence_limit)
    ctx.audit.record(
        principal.name,
        "alerts.show",
        who(
            principal, request, TRIAGE, alert=alert_id,
            events=[row["event_id"] for row in body["evidence"]],
        ),
    )  # fmt: skip
    return body


@router.patch(
    "/{alert_id}",
    response_model=AlertOut,
    summary="Triage: status, assignee, note",
    responses=refusals(
        not_found="no such alert", conflict="changed by detection at the same moment: retry"
    ),
)
def triage_alert(
    request: Request, principal: Analyst, ctx: Ctx, alert_id: AlertId, change: AlertPatch
) -> dict:
    given = change.model_fields_set
    detail = who(principal, request, TRIAGE, alert=alert_id, change=change.model_dump())
    try:
        with ctx.audit.change(principal.name, "alerts.triage", detail) as con:
            alert = update_alert(
                con,
                alert_id,
                principal.name,
                ctx.clock(),
                status=change.status,
                note=change.note,
                **({"assignee": change.assignee} if "assignee" in given else {}),
            )
            if alert is None:
                raise Rejected(404, f"no alert {alert_id}")
    except duckdb.TransactionException as exc:
        raise Rejected(409, "the alert changed at the same moment (detection ran); retry") from exc
    return alert.as_json()


@router.get(
    "/{alert_id}/timeline",
    summary="The entity's successes and failures per hour",
    responses=refusals(not_found="no such alert"),
)
def timeline(
    principal: Analyst,
    con: Reader,
    alert_id: AlertId,
    margin_hours: Annotated[int, Query(ge=0, le=24 * 30)] = 24,
) -> dict:
    alert = get_alert(con, alert_id)
    if alert is None:
        raise Rejected(404, f"no alert {alert_id}")
    hours = entity_timeline(con, alert, timedelta(hours=margin_hours))
    return {"alert": alert_id, "entity": alert.entity, "hours": hours}
