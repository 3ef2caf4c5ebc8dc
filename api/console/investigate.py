"""The analyst's look-ups in the console: one entity (address, account, session) and a
search over events. Both show personal data, so both ask why and record it, through the
same route functions as the JSON API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.auth import context
from api.console.charts import Bar, bars
from api.console.pages import Analyst, hours_of, page, place_map
from api.context import Rejected
from api.routes import entities as entity_routes
from api.routes import events as event_routes
from api.routes.common import Reader

router = APIRouter(include_in_schema=False)
TRIAGE = "alert triage"
SEARCH_FIELDS = ("user", "customer_id", "ip", "session", "from", "to", "outcome")


def _day_tick(at: float) -> str:
    return datetime.fromtimestamp(at * 3600, UTC).strftime("%d.%m.%y")


def _timeline(days: list[dict[str, Any]]) -> dict[str, Any]:
    series = [Bar(d["day"][:10], (d["successes"], d["failures"]), hours_of(d["day"])) for d in days]
    return bars(series, ("successes", "failures"), span=24, tick=_day_tick)


def _places(found: list[dict[str, Any]]) -> dict[str, Any] | None:
    marked = [
        {**p, "label": ", ".join(x for x in (p["city"], p["country"]) if x) or "unknown"}
        for p in found
    ]
    return place_map(marked)


@router.get("/entity", response_class=HTMLResponse)
def entity_page(request: Request, session: Analyst, con: Reader) -> HTMLResponse:
    q = request.query_params
    kind, value, purpose = q.get("kind", "user"), q.get("value", ""), q.get("purpose", "")
    if kind not in ("ip", "user", "session"):
        raise Rejected(404, f"no entity page for {kind!r}: ip, user or session")
    if not value or len(purpose.strip()) < 3:  # ask first: the look-up is recorded with why
        return page(request, "entity_ask.html", session, kind=kind, value=value, purpose=purpose)
    days_back = int(q.get("days") or 180)
    found = entity_routes.entity(
        request, session.principal, context(request), con, kind,  # type: ignore[arg-type]
        value, purpose.strip(), max(1, min(days_back, 3660)),
    )  # fmt: skip
    return page(
        request, "entity.html", session, e=found, purpose=purpose.strip(),
        timeline=_timeline(found["days"]), map=_places(found["places"]),
    )  # fmt: skip


@router.get("/events", response_class=HTMLResponse)
def event_search(request: Request, session: Analyst, con: Reader) -> HTMLResponse:
    q = request.query_params
    wanted = {k: q.get(k) or None for k in SEARCH_FIELDS}
    purpose = (q.get("purpose") or "").strip()
    if len(purpose) < 3 or not any(wanted[k] for k in ("user", "customer_id", "ip", "session")):
        note = "Name an account, customer, address or session, and say why." if q else ""
        return page(request, "events.html", session, form=wanted, purpose=purpose,
                    events=None, note=note)  # fmt: skip
    try:
        since, until = (_day(wanted["from"]), _day(wanted["to"]))
    except ValueError:
        raise Rejected(422, "a date is not in the form YYYY-MM-DD") from None
    after = int(q.get("after") or 0)
    found = event_routes.search(
        request, session.principal, context(request), con, purpose, wanted["user"],
        wanted["customer_id"], wanted["ip"], wanted["session"], since, until,
        wanted["outcome"] if wanted["outcome"] in ("success", "failure") else None,  # type: ignore[arg-type]
        after, 100,
    )  # fmt: skip
    more = None
    if found["next"] is not None:
        kept = {k: v for k, v in q.items() if k != "after"}
        more = "/events?" + urlencode({**kept, "after": found["next"]})
    return page(request, "events.html", session, form=wanted, purpose=purpose,
                events=found["events"], more=more, note="")  # fmt: skip


def _day(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
