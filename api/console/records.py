"""The DPO's records in the console: the audit log (who looked up whom, when and why), the
purge history with its counts and the disclosure register. Each page reads through the
JSON API's route functions, so reading them is itself recorded."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.auth import context
from api.console.pages import Dpo, page
from api.routes import audit as audit_routes
from api.routes import extracts as extract_routes
from api.routes.common import Reader

router = APIRouter(include_in_schema=False)
# Detail keys every entry has, shown in their own columns; the rest is what it touched.
SHOWN_APART = ("role", "route", "purpose")


def _row(entry: dict[str, Any]) -> dict[str, Any]:
    detail = entry["detail"]
    touched = {k: v for k, v in detail.items() if k not in SHOWN_APART}
    return {**entry, "role": detail.get("role"), "route": detail.get("route"),
            "purpose": detail.get("purpose"), "touched": touched}  # fmt: skip


@router.get("/dpo/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: Dpo, con: Reader) -> HTMLResponse:
    q = request.query_params
    wanted = {k: (q.get(k) or "").strip() or None for k in ("actor", "action", "touching")}
    before = int(q["before"]) if q.get("before", "").isdigit() else None
    found = audit_routes.audit_log(
        request, session.principal, context(request), con, 0, 100, wanted["actor"],
        wanted["action"], wanted["touching"], True, before,
    )  # fmt: skip
    more = None
    if found["next"] is not None:
        kept = {k: v for k, v in wanted.items() if v}
        more = "/dpo/audit?" + urlencode({**kept, "before": found["next"]})
    return page(
        request, "audit.html", session, entries=[_row(e) for e in found["entries"]],
        form=wanted, more=more,
    )  # fmt: skip


@router.get("/dpo/purges", response_class=HTMLResponse)
def purge_history(request: Request, session: Dpo, con: Reader) -> HTMLResponse:
    found = audit_routes.audit_log(
        request, session.principal, context(request), con, 0, 500, None, "retention.*",
        None, True, None,
    )  # fmt: skip
    runs = [e for e in found["entries"] if e["action"] != "retention.status"]
    return page(request, "purges.html", session, runs=runs)


@router.get("/dpo/disclosures", response_class=HTMLResponse)
def disclosures(request: Request, session: Dpo, con: Reader) -> HTMLResponse:
    found = extract_routes.disclosures(request, session.principal, context(request), con)
    return page(request, "disclosures.html", session, disclosures=found)
