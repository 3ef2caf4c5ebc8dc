"""Who is calling and what their role may do: bearer tokens, roles, and a brake on guessing."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.context import ApiContext, Rejected
from store.tokens import TokenInfo, active_tokens, match_token


@dataclass(frozen=True)
class Principal:
    name: str
    role: str


class FailureLimiter:
    """At most `limit` failed authentications per client address in `window` seconds; past
    that, every attempt from the address is refused before its token is even looked at."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self._limit, self._window, self._clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.total_failures = 0

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._failures.setdefault(address, deque())
        while times and now - times[0] > self._window:
            times.popleft()
        return times

    def retry_after(self, address: str) -> int:
        """Seconds until the address may try again; 0 when it may now."""
        with self._lock:
            now = self._clock()
            times = self._recent(address, now)
            if len(times) < self._limit:
                if not times:
                    self._failures.pop(address, None)
                return 0
            return max(1, int(self._window - (now - times[0])) + 1)

    def failed(self, address: str) -> None:
        with self._lock:
            now = self._clock()
            self._recent(address, now).append(now)
            self.total_failures += 1


class TokenCache:
    """Active tokens, re-read from the store every few seconds and at once after a change
    through the API; while a server runs, nothing else can change them."""

    def __init__(self, ctx: ApiContext, ttl: float = 5.0) -> None:
        self._ctx, self._ttl = ctx, ttl
        self._loaded_at = -ttl
        self._tokens: list[tuple[str, TokenInfo]] = []
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = -self._ttl

    def find(self, presented: str) -> TokenInfo | None:
        with self._lock:
            if time.monotonic() - self._loaded_at > self._ttl:
                cursor = self._ctx.store.cursor()
                try:
                    self._tokens = active_tokens(cursor)
                finally:
                    cursor.close()
                self._loaded_at = time.monotonic()
            tokens = self._tokens
        return match_token(tokens, presented)


_bearer = HTTPBearer(auto_error=False, description="an API token made by `vahti token create`")


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller's token must be valid and its role one of `roles` (or admin)."""
    allowed = frozenset((*roles, "admin"))

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        limiter: FailureLimiter = request.app.state.limiter
        address = _client(request)
        wait = limiter.retry_after(address)
        if wait:
            raise Rejected(429, f"too many failed authentications; retry in {wait} s")
        token = None
        if credentials is not None and credentials.scheme.lower() == "bearer":
            cache: TokenCache = request.app.state.tokens
            token = cache.find(credentials.credentials)
        if token is None:
            limiter.failed(address)
            raise Rejected(401, "a valid API token is needed (Authorization: Bearer TOKEN)")
        principal = Principal(token.name, token.role)
        request.state.principal = principal
        if principal.role not in allowed:
            raise Rejected(403, f"role {principal.role!r} may not use this route")
        return principal

    check.__name__ = "require_" + "_".join(sorted(allowed))
    return check


Analyst = Annotated[Principal, Depends(require("analyst"))]
Dpo = Annotated[Principal, Depends(require("dpo"))]
Liaison = Annotated[Principal, Depends(require("liaison"))]
Admin = Annotated[Principal, Depends(require("admin"))]
LiaisonOrDpo = Annotated[Principal, Depends(require("liaison", "dpo"))]
# Job status and metrics hold no personal data: every staff role may watch the service.
Monitor = Annotated[Principal, Depends(require("analyst", "dpo", "liaison"))]
