"""Console pages. Each page calls the same route functions as the JSON API (same checks,
same audit entries); a page only adds the session, CSRF and the rendering."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import duckdb
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.assets import folder_version
from api.auth import Principal, TokenCache, code_key, context, failed_attempt, locked_out
from api.console.charts import Bar, bars
from api.console.sessions import COOKIE, Session, Sessions, csrf_ok
from api.console.worldmap import HEIGHT, WIDTH, label_spots, land_path, legs, project
from api.context import Rejected
from api.models import AlertPatch
from api.routes import alerts as alert_routes
from api.routes import extracts as extract_routes
from api.routes import retention as retention_routes
from api.routes import subjects as subject_routes
from api.routes import system as system_routes
from api.routes.audit import verify_chain
from api.routes.common import Reader
from store.audit import head as audit_head
from store.staff import check_sign_in

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
STATIC = Path(__file__).parent / "static"
templates.env.globals["assets"] = folder_version(STATIC)


def days_text(days: float) -> str:
    """A retention period as people write it: `180 days`, `1 day`, `12 hours`."""
    if days >= 1 and float(days).is_integer():
        return f"{int(days)} day" + ("" if days == 1 else "s")
    hours = days * 24
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


templates.env.filters["days"] = days_text
MAP_CATEGORIES = {"impossible_travel", "new_country", "session_hijack"}
Field = Annotated[str, Form()]
Optional = Annotated[str | None, Form()]


class SignIn(Exception):
    """No session: the browser is sent to the sign-in page."""


def session_of(request: Request) -> Session:
    sessions: Sessions = request.app.state.sessions
    session = sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise SignIn
    return session


def role(*roles: str) -> Any:
    allowed = {*roles, "admin"}

    def check(session: Annotated[Session, Depends(session_of)]) -> Session:
        if session.principal.role not in allowed:
            raise Rejected(403, f"role {session.principal.role!r} may not open this page")
        return session

    return Depends(check)


Any_ = Annotated[Session, role("analyst", "dpo", "liaison")]
Analyst = Annotated[Session, role("analyst")]
Dpo = Annotated[Session, role("dpo")]
Liaison = Annotated[Session, role("liaison")]


def page(request: Request, name: str, session: Session | None, **values: Any) -> HTMLResponse:
    principal = session.principal if session else None
    return templates.TemplateResponse(
        request, name, {"me": principal, "csrf": session.csrf if session else "", **values}
    )


def _guard(session: Session, csrf: str | None) -> Principal:
    if not csrf_ok(session, csrf):
        raise Rejected(403, "the form has expired; reload the page and try again")
    return session.principal


def back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- signing in -------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return page(request, "login.html", None, error="")


@router.post("/login")
def login(
    request: Request, token: Optional = None, user: Optional = None,
    password: Optional = None, code: Optional = None,
) -> Response:  # fmt: skip
    """A person signs in with name, password and one-time code; an API token also works
    (a session then acts as the token does). Right credentials are never braked, except
    after wrong codes behind the right password: then guessing the second factor stops for
    that name (no one without the password can aim this)."""
    name = (user or "").strip()[:64]
    if token and token.strip():
        principal = _by_token(request, token.strip())
        presented, keys = token.strip(), None
    elif wait := locked_out(request, (code_key(name),), "console"):
        return page(request, "login.html", None, error=f"Too many attempts; wait {wait} s.")
    else:
        principal, password_ok = _by_password(request, user or "", password or "", code or "")
        presented, keys = None, (f"user {name}", *([code_key(name)] if password_ok else []))
    if principal is None:
        wait = failed_attempt(request, presented, "console", keys)
        error = f"Too many attempts; wait {wait} s." if wait else "Those credentials are not valid."
        return page(request, "login.html", None, error=error)
    sid = request.app.state.sessions.start(principal)
    response = back("/")
    response.set_cookie(
        COOKIE, sid, httponly=True, samesite="strict", secure=request.url.scheme == "https",
        max_age=30 * 60, path="/",
    )  # fmt: skip
    return response


def _by_token(request: Request, presented: str) -> Principal | None:
    cache: TokenCache = request.app.state.tokens
    found = cache.find(presented)
    return Principal.of_token(found) if found else None


def _by_password(
    request: Request, user: str, password: str, code: str
) -> tuple[Principal | None, bool]:
    """(the person signing in, or None; whether the password was right)."""
    if not user.strip() or not password or len(password) > 1024:
        return None, False
    ctx = context(request)
    cursor = ctx.store.cursor()
    try:
        person, password_ok = check_sign_in(
            cursor, user.strip(), password, code, request.app.state.code_replay, ctx.clock()
        )
    finally:
        cursor.close()
    if person is None:
        return None, password_ok
    added_by = frozenset([person.created_by] if person.created_by else [])
    return Principal(person.name, person.role, None, added_by), True


@router.post("/logout")
def logout(request: Request, session: Any_, csrf: Optional = None) -> Response:
    _guard(session, csrf)
    request.app.state.sessions.end(request.cookies.get(COOKIE))
    response = back("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


# --- overview ---------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, session: Any_, con: Reader) -> HTMLResponse:
    data = system_routes.overview(session.principal, context(request), con, days=3)
    hourly = [
        Bar(h["hour"][5:13].replace("T", " "), (h["events"] - h["failures"], h["failures"]),
            hours_of(h["hour"]))
        for h in data["hours"]
    ]  # fmt: skip
    per_day: dict[str, dict[str, int]] = {}
    for row in data["alerts_per_day"]:
        per_day.setdefault(row["day"][:10], {})[row["category"]] = row["alerts"]
    return page(
        request, "overview.html", session,
        events_chart=bars(hourly, ("successes", "failures"), tick=_hour_tick),
        alerts_per_day=per_day,
    )  # fmt: skip


# --- security team ----------------------------------------------------------------------


SORTS = {
    "-last_seen": "newest activity", "last_seen": "oldest activity",
    "-first_seen": "newest start", "first_seen": "oldest start",
    "-severity": "most severe", "severity": "least severe",
    "-events": "most events", "events": "fewest events",
}  # fmt: skip


def _alert_filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    keep: dict[str, Any] = {
        k: q.get(k) or None for k in ("status", "category", "severity", "entity", "cursor")
    }
    keep["sort"] = q.get("sort") or "-last_seen"
    for name in ("from", "to"):
        if q.get(name):
            keep[name] = datetime.fromisoformat(q[name])
    return keep


def _alert_list(request: Request, session: Session, con: duckdb.DuckDBPyConnection) -> dict:
    f = _alert_filters(request)
    return alert_routes.list_alerts(
        request, session.principal, context(request), con, status=f.get("status"),
        category=f.get("category"), severity=f.get("severity"), entity=f.get("entity"),
        since=f.get("from"), until=f.get("to"), limit=100, cursor=f.get("cursor"),
        sort=f["sort"],
    )  # fmt: skip


def _with(query: Any, **changes: str | None) -> str:
    """The queue's query string with some parameters changed (None: removed)."""
    kept = {k: v for k, v in query.items() if k not in changes and v}
    kept.update({k: v for k, v in changes.items() if v})
    return urlencode(kept)


@router.get("/alerts", response_class=HTMLResponse)
def alert_queue(request: Request, session: Analyst, con: Reader) -> HTMLResponse:
    try:
        listed = _alert_list(request, session, con)
    except ValueError:
        raise Rejected(422, "a date is not in the form YYYY-MM-DD") from None
    counts = con.execute(
        "SELECT category, count(*) FILTER (WHERE status IN ('open', 'acknowledged')), count(*) "
        "FROM alerts GROUP BY category ORDER BY category"
    ).fetchall()
    q = request.query_params
    sort = q.get("sort") or "-last_seen"
    headers = {}
    for key in ("severity", "last_seen", "events"):
        flipped = key if sort == f"-{key}" else f"-{key}"
        headers[key] = {
            "href": "/alerts?" + _with(q, sort=flipped, cursor=None),
            "state": "descending" if sort == f"-{key}" else "ascending" if sort == key else "none",
        }
    following = listed["next"]
    return page(
        request, "alerts.html", session, alerts=listed["alerts"], counts=counts,
        filters=q, query=request.url.query, sorts=SORTS, sort=sort, headers=headers,
        more="/alerts?" + _with(q, cursor=following) if following else None,
        first_page="/alerts?" + _with(q, cursor=None) if q.get("cursor") else None,
    )  # fmt: skip


@router.get("/alerts/rows", response_class=HTMLResponse)
def alert_rows(request: Request, session: Analyst, con: Reader) -> HTMLResponse:
    """The queue's rows alone: the page polls this so new alerts appear without a reload."""
    listed = _alert_list(request, session, con)
    return page(request, "alert_rows.html", session, alerts=listed["alerts"])


def place_map(places: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The world map's geometry for places with `lat`, `lon` and `label` (in order)."""
    if not places:
        return None
    for place in places:
        x, y = project(place["lat"], place["lon"])
        place["x"], place["y"] = round(x, 1), round(y, 1)
    for place, (x, y) in zip(places, label_spots(places), strict=True):
        place["label_x"], place["label_y"] = round(x, 1), round(y, 1)
    return {"land": land_path(), "places": places, "w": WIDTH, "h": HEIGHT}


def _map(alert: dict[str, Any]) -> dict[str, Any] | None:
    if alert["category"] not in MAP_CATEGORIES:
        return None
    places, seen = [], set()
    for event in alert["evidence"]:
        if event.get("lat") is None or event.get("outcome") == "failure":
            continue
        key = (event["lat"], event["lon"])
        label = ", ".join(p for p in (event["city"], event["country"]) if p) or event["ip"]
        at = datetime.fromisoformat(event["ts"].replace("Z", ""))
        if key not in seen:
            seen.add(key)
            places.append({"lat": event["lat"], "lon": event["lon"], "label": label, "at": at})
    drawn = place_map(places)
    if drawn is not None:
        drawn["legs"] = legs(places)
    return drawn


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, session: Analyst, con: Reader, alert_id: str) -> HTMLResponse:
    ctx = context(request)
    alert = alert_routes.show_alert(request, session.principal, ctx, con, alert_id, 1000)
    timeline = alert_routes.timeline(session.principal, con, alert_id, 24)["hours"]
    chart = bars(
        [
            Bar(
                h["hour"][5:13].replace("T", " "),
                (h["evidence"], h["successes"] + h["failures"] - h["evidence"]),
                hours_of(h["hour"]),
            )
            for h in timeline
        ],
        ("evidence", "other"),
        tick=_hour_tick,
    )
    return page(request, "alert.html", session, alert=alert, chart=chart, map=_map(alert))


@router.post("/alerts/{alert_id}/triage")
def triage(
    request: Request,
    session: Analyst,
    alert_id: str,
    status: Field,
    csrf: Optional = None,
    note: Optional = None,
) -> Response:
    principal = _guard(session, csrf)
    change = AlertPatch.model_validate({"status": status, "note": note or None})
    alert_routes.triage_alert(request, principal, context(request), alert_id, change)
    return back(f"/alerts/{alert_id}")


# --- data protection officer ------------------------------------------------------------


def _age_chart(con: duckdb.DuckDBPyConnection, keep_days: float) -> dict[str, Any]:
    rows = con.execute(
        """SELECT (date_diff('day', ts, now()::TIMESTAMP) // 15) * 15 AS age, count(*)
           FROM events GROUP BY age ORDER BY age"""
    ).fetchall()
    series = [Bar(f"{int(age)}-{int(age) + 14} d", (int(n),), float(age)) for age, n in rows]
    oldest = max((b.at for b in series), default=0.0) + 14
    return bars(
        series, ("events",), span=14, tick=lambda at: f"{at:.0f} d",
        domain=(0.0, max(oldest, keep_days + 14)), marks={"policy": keep_days},
    )  # fmt: skip


def hours_of(stamp: str) -> float:
    """An hour's bucket (RFC 3339) as hours since the epoch: the charts' time axis."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() / 3600


def _hour_tick(at: float) -> str:
    return datetime.fromtimestamp(at * 3600, UTC).strftime("%d.%m. %H:00")


@router.get("/dpo", response_class=HTMLResponse)
def dpo(request: Request, session: Dpo, con: Reader, result: str = "") -> HTMLResponse:
    ctx = context(request)
    principal = session.principal
    retention = retention_routes.retention(request, principal, ctx, con)
    keep = next(k["retention_days"] for k in retention["kinds"] if k["kind"] == "events")
    return page(
        request, "dpo.html", session, retention=retention, chart=_age_chart(con, keep),
        holds=retention_routes.holds(principal, ctx, con),
        head=audit_head(con),
        extracts=[e for e in extract_routes.requests(principal, ctx, con)
                  if e["state"] == "requested"],
        result=result,
    )  # fmt: skip


@router.post("/dpo/audit/verify")
def verify(request: Request, session: Dpo, con: Reader, csrf: Optional = None) -> Response:
    """Verification reads the whole chain, so it runs when asked, not on every page view."""
    principal = _guard(session, csrf)
    chain = verify_chain(principal, context(request), con, None)
    if chain["ok"]:
        return back(f"/dpo?result=Audit chain intact: {chain['entries']} entries, and it "
                    "holds against the latest signed checkpoint")  # fmt: skip
    if chain["first_broken"] is not None:
        return back(f"/dpo?result=Audit chain BROKEN at entry {chain['first_broken']}: "
                    f"{chain['problem']}")  # fmt: skip
    return back("/dpo?result=Audit log: " + "; ".join(chain["checkpoint_problems"]))


@router.post("/dpo/purge", response_class=HTMLResponse)
def purge(
    request: Request, session: Dpo, con: Reader, csrf: Optional = None,
    mode: Annotated[str, Form()] = "dry", confirm: Optional = None,
) -> Response:  # fmt: skip
    principal = _guard(session, csrf)
    if mode == "dry":
        report = retention_routes.purge(principal, context(request), dry=True)
        due = ", ".join(f"{k['kind']} {k['due']}" for k in report["kinds"])
        return back(f"/dpo?result=Dry run: due now {due}")
    if confirm != "yes":
        return back("/dpo?result=Purge not started: tick the confirmation box")
    retention_routes.purge(principal, context(request), dry=False)
    return back("/dpo?result=Purge started as the retention job; see Jobs")


@router.post("/dpo/holds")
def add_hold(
    request: Request, session: Dpo, reason: Field, csrf: Optional = None,
    user: Optional = None, ip: Optional = None, customer_id: Optional = None,
    case: Optional = None, until: Optional = None, since: Optional = None,
    before: Optional = None, kind: Annotated[str, Form()] = "internal",
) -> Response:  # fmt: skip
    principal = _guard(session, csrf)
    body = retention_routes.HoldIn.model_validate(
        {"reason": reason, "user": user or None, "ip": ip or None,
         "customer_id": customer_id or None, "case": case or None, "until": until or None,
         "from": since or None, "to": before or None, "kind": kind}
    )  # fmt: skip
    made = retention_routes.new_hold(request, principal, context(request), body)
    note = f" ({made['note']})" if made["note"] else ""
    return back(
        f"/dpo?result=Hold {made['id']} added: covers {made['covered_events']} events{note}"
    )


@router.post("/dpo/holds/{hold_id}/release")
def release_hold(request: Request, session: Dpo, hold_id: int, csrf: Optional = None) -> Response:
    principal = _guard(session, csrf)
    retention_routes.end_hold(request, principal, context(request), hold_id)
    return back(f"/dpo?result=Hold {hold_id} released")


@router.post("/dpo/subject")
def subject_report(
    request: Request, session: Dpo, user: Field, csrf: Optional = None,
    lang: Annotated[str, Form()] = "fi",
) -> Response:  # fmt: skip
    principal = _guard(session, csrf)
    language: Literal["fi", "en"] = "fi" if lang == "fi" else "en"
    letter = subject_routes.subject(
        request, principal, context(request), user, None, "letter", language
    )
    letter.headers["Content-Disposition"] = f'attachment; filename="subject-report-{language}.md"'
    return letter


@router.post("/dpo/extracts/{extract_id}/{decision}")
def decide(
    request: Request, session: Dpo, extract_id: int, decision: str, csrf: Optional = None,
    reason: Optional = None,
) -> Response:  # fmt: skip
    principal = _guard(session, csrf)
    ctx = context(request)
    if decision == "approve":
        extract_routes.approve(request, principal, ctx, extract_id)
    elif decision == "refuse":
        body = extract_routes.Refusal.model_validate({"reason": reason or ""})
        extract_routes.refuse(request, principal, ctx, extract_id, body)
    else:
        raise Rejected(404, "no such decision")
    return back(f"/dpo?result=Extract request {extract_id}: {decision}d")


# --- authority liaison ------------------------------------------------------------------


@router.get("/liaison", response_class=HTMLResponse)
def liaison(request: Request, session: Liaison, con: Reader, result: str = "") -> HTMLResponse:
    extracts = extract_routes.requests(session.principal, context(request), con)
    return page(request, "liaison.html", session, extracts=extracts, result=result)


@router.post("/liaison/extracts")
def create_extract(
    request: Request, session: Liaison, authority: Field, legal_basis: Field, reference: Field,
    csrf: Optional = None, order_type: Annotated[str, Form()] = "production",
    users: Optional = None, ips: Optional = None, since: Optional = None,
    until: Optional = None, emergency: Optional = None,
) -> Response:  # fmt: skip
    principal = _guard(session, csrf)
    body = extract_routes.ExtractIn.model_validate({
        "authority": authority, "legal_basis": legal_basis, "reference": reference,
        "order_type": order_type, "emergency": emergency == "yes",
        "scope": {"users": (users or "").split(), "ips": (ips or "").split(),
                  "from": since or None, "to": until or None},
    })  # fmt: skip
    made = extract_routes.create(request, principal, context(request), body)
    return back(f"/liaison?result=Request {made['id']} recorded; it matches "
                f"{made['matching_events']} events now")  # fmt: skip


@router.get("/liaison/extracts/{extract_id}/package")
def download(request: Request, session: Liaison, extract_id: int) -> Response:
    return extract_routes.package(request, session.principal, context(request), extract_id)
