"""ASGI layers around every request: a body limit, security headers, and a request log
that names the route template, never the addresses or user names a path or query holds."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.docs import ASSETS, DOC_PATHS
from store.db import Gate

log = logging.getLogger("vahti.api")

_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
]
_CSP_API = b"default-src 'none'; frame-ancestors 'none'"
# The console: its own script (vendored htmx), styles and inline SVG; nothing from elsewhere.
_CSP_CONSOLE = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_API_PREFIXES = ("/api/", "/metrics", "/healthz", "/openapi.json")
# /docs and /redoc: their scripts and styles from vahti itself (api/docs.py); FastAPI's
# pages start them with an inline script, and ReDoc runs a worker from a blob.
_CSP_DOCS = (
    b"default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; worker-src blob:; connect-src 'self'; frame-ancestors 'none'"
)


class BodyTooLarge(Exception):
    pass


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    """Refuse a body past `limit` bytes with 413, by its Content-Length or while it streams."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = {"detail": f"request body larger than {self.limit} bytes"}
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _send_json(send, 413, too_large)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _send_json(send, 413, too_large)


class PushArrivals:
    """Tells the push writer of a push the moment it reaches the server, before its token
    is checked or its body read (store/group_commit.py): the route finds the arrival in the
    request's state and hands it over with the body."""

    def __init__(
        self, app: ASGIApp, arriving: Callable[[], AbstractContextManager[Any]], path: str
    ) -> None:
        self.app, self.arriving, self.path = app, arriving, path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        with self.arriving() as arrival:
            scope.setdefault("state", {})["push_arrival"] = arrival
            await self.app(scope, receive, send)


class SecurityHeaders:
    """Headers that keep browsers from sniffing, framing or caching what the API returns;
    and one log line per request with the route template, status and duration."""

    def __init__(self, app: ASGIApp, tls: bool = False) -> None:
        self.app, self.tls = app, tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        path = scope["path"]
        is_docs = path in DOC_PATHS
        policy = (
            _CSP_DOCS if is_docs else _CSP_API if path.startswith(_API_PREFIXES) else _CSP_CONSOLE
        )

        async def with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [h for h in _HEADERS if h[0] not in present]
                extra.append((b"content-security-policy", policy))
                if self.tls:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        finally:
            route = scope.get("route")
            log.info(
                "%s %s %s %.1f ms",
                scope["method"],
                getattr(route, "path", "(no route)"),
                status,
                (time.perf_counter() - started) * 1000,
            )


_GATELESS = ("/healthz", "/static/", f"{ASSETS}/")


class DatabaseGate:
    """Each request passes the store's gate, so compaction (which swaps the database file)
    waits for requests in flight and holds new ones at the door without blocking the loop.
    Health checks and static files never touch the database: they pass by."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app, self.gate = app, gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_GATELESS):
            await self.app(scope, receive, send)
            return
        while not self.gate.try_enter():
            await asyncio.sleep(0.05)
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.leave()
