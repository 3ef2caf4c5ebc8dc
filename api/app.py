"""The FastAPI application factory: routers, guards, error shapes, middleware."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.assets import CachedAssets
from api.auth import FailureLimiter, TokenCache
from api.console import account as console_account
from api.console import investigate as console_investigate
from api.console import pages as console_pages
from api.console import records as console_records
from api.console.pages import SignIn, templates
from api.console.sessions import COOKIE, Sessions
from api.context import ApiContext, Rejected
from api.docs import install_docs
from api.metrics import ServiceMetrics
from api.middleware import BodyLimit, DatabaseGate, PushArrivals, SecurityHeaders
from api.routes import (
    alerts,
    audit,
    entities,
    events,
    extracts,
    operations,
    retention,
    subjects,
    system,
    tokens,
)
from api.routes.common import GUARDED
from store.checkpoints import CheckpointError
from store.staff import CodeReplay

log = logging.getLogger("vahti.api")
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _problems(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Field-level messages without echoing what was sent (it may be personal data)."""
    return [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()
    ]


def _is_console(request: Request) -> bool:
    path = request.url.path
    return not path.startswith(("/api/", "/metrics", "/healthz", "/openapi", "/docs", "/redoc"))


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignIn)
    async def sign_in(request: Request, exc: SignIn) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Rejected)
    async def rejected(request: Request, exc: Rejected) -> Response:
        if _is_console(request):
            session = request.app.state.sessions.get(request.cookies.get(COOKIE))
            values = {
                "me": session.principal if session else None,
                "csrf": session.csrf if session else "",
                "status": exc.status,
                "message": exc.message,
            }
            return templates.TemplateResponse(request, "error.html", values, status_code=exc.status)
        headers = {}
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if exc.status == 429:
            headers["Retry-After"] = exc.message.rsplit(" ", 2)[-2]
        detail: Any = exc.message
        if exc.status == 422:  # the same shape as FastAPI's own validation errors
            detail = [{"loc": list(exc.loc), "msg": exc.message, "type": "value_error"}]
        return JSONResponse({"detail": detail}, status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if _is_console(request):
            fields = ", ".join(str(p["loc"][-1]) for p in _problems(exc))
            return await rejected(request, Rejected(422, f"please check: {fields}"))
        return JSONResponse({"detail": _problems(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Keep the exception's headers: a 405 says in `Allow` which methods the route takes.
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(CheckpointError)
    async def not_signed(request: Request, exc: CheckpointError) -> JSONResponse:
        # A refused checkpoint names paths and entry numbers only: say why, as the CLI does.
        log.error("audit checkpoint refused: %s", exc)
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        # The message may quote personal data: log the kind of failure only.
        log.error("internal error in %s: %s", request.url.path.split("/")[1:4], type(exc).__name__)
        return JSONResponse({"detail": "internal error"}, status_code=500)


def create_app(ctx: ApiContext, lifespan: Lifespan | None = None, tls: bool = False) -> FastAPI:
    app = FastAPI(
        title="vahti",
        version="1",
        summary="Login security monitoring: alerts, events, retention, audit, lawful extracts.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # served from the package below, not from a CDN
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.limiter = FailureLimiter(ctx.limits.auth_failures, ctx.limits.auth_window_seconds)
    if ctx.metrics is None:
        ctx.metrics = ServiceMetrics(ctx.store)
    ctx.metrics.watch_auth_failures(
        lambda: app.state.limiter.total_failures, lambda: app.state.limiter.total_refusals
    )
    app.state.tokens = TokenCache(ctx)
    routers = (
        system,
        alerts,
        events,
        entities,
        tokens,
        audit,
        retention,
        subjects,
        extracts,
        operations,
    )
    for module in routers:
        # Every route of these needs a token: the schema says what a client meets without
        # one, with the wrong role, or when it guesses too often.
        guarded = module is not system
        app.include_router(module.router, responses=GUARDED if guarded else None)
    app.include_router(tokens.people, responses=GUARDED)
    app.state.sessions = Sessions()
    app.state.code_replay = CodeReplay()
    app.include_router(console_pages.router)
    app.include_router(console_investigate.router)
    app.include_router(console_records.router)
    app.include_router(console_account.router)
    app.mount("/static", CachedAssets(directory=console_pages.STATIC))
    install_docs(app)
    _install_handlers(app)
    if ctx.limits.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(ctx.limits.cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(DatabaseGate, gate=ctx.store.gate)
    app.add_middleware(BodyLimit, limit=ctx.limits.max_body_bytes)
    app.add_middleware(SecurityHeaders, tls=tls)
    app.add_middleware(PushArrivals, arriving=ctx.push_arriving, path=events.router.prefix)
    return app
