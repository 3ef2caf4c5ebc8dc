"""What every router shares: the request's context and cursor, times, audit details."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import duckdb
from fastapi import Depends, Request

from api.auth import Principal, context
from api.context import ApiContext


async def _context(request: Request) -> ApiContext:
    return context(request)


Ctx = Annotated[ApiContext, Depends(_context)]


async def _reader(request: Request) -> AsyncIterator[duckdb.DuckDBPyConnection]:
    """A cursor of the request's own (async only so FastAPI does not hop threads for it)."""
    cursor = context(request).store.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


Reader = Annotated[duckdb.DuckDBPyConnection, Depends(_reader)]


def utc(value: datetime | None) -> datetime | None:
    """A time from a request -> naive UTC as stored (a time without zone is taken as UTC)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def route_of(request: Request) -> str:
    """The route template (`GET /api/v1/alerts/{alert_id}`): never the ids it was called with."""
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path', request.url.path)}"


def who(principal: Principal, request: Request, purpose: str, **touched: Any) -> dict[str, Any]:
    """The audit detail of one request: role, route, purpose and what it touched."""
    return {"role": principal.role, "route": route_of(request), "purpose": purpose, **touched}


_DETAIL = {
    "application/json": {"schema": {"type": "object", "properties": {"detail": {"type": "string"}}}}
}
# What a client meets on any route that needs a token: the schema says so on each.
GUARDED: dict[int | str, dict[str, Any]] = {
    401: {"description": "no valid API token", "content": _DETAIL},
    403: {"description": "the token's role may not use this route", "content": _DETAIL},
    429: {"description": "too many failed authentications from here; see Retry-After",
          "content": _DETAIL},
}  # fmt: skip


def refusals(**described: str) -> dict[int | str, dict[str, Any]]:
    """A route's own refusals for its schema, e.g. `refusals(not_found="no such alert")`."""
    codes = {"not_found": 404, "conflict": 409}
    return {
        codes[kind]: {"description": text, "content": _DETAIL} for kind, text in described.items()
    }
