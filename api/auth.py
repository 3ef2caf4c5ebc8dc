"""Who is calling and what their role may do: bearer tokens, roles, and a brake on guessing."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.context import ApiContext, Rejected
from store.tokens import TokenInfo, active_tokens, match_token


@dataclass(frozen=True)
class Principal:
    """Who is calling: `name` is the person (or a service token's name), as the audit log
    names them; `answerable` is everyone who could be acting here (the person, whoever made
    their token or added them), none of whom may be the second pair of eyes."""

    name: str
    role: str
    token: str | None = None
    answerable: frozenset[str] = frozenset()

    @classmethod
    def of_token(cls, token: TokenInfo) -> Principal:
        return cls(token.actor, token.role, token.name, token.answerable)


@dataclass
class _Strikes:
    failures: deque[float]
    locked_until: float = 0.0
    lockouts: int = 0  # in a row: each one waits twice as long as the one before
    refused: int = 0  # attempts refused in the current lockout


class FailureLimiter:
    """A brake on guessing tokens that no one can aim at the staff.

    Failed authentications are counted per key: the client address and the first
    characters of the token presented (a guess at one token from many addresses). A key
    with `limit` failures within `window` seconds is locked: its next *failed* attempts are
    refused before the token is looked at, for `window` seconds, twice that after the
    next lockout in a row, up to `longest`. A valid token is never refused: a colleague
    behind the same NAT as a guesser keeps working.

    At most `capacity` keys are kept, the least recently seen forgotten first, in constant
    time: a flood of new keys (random token prefixes, many addresses) neither grows the
    memory nor slows the next request (it scanned every key per new key before)."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic,
        longest: float = 3600.0, capacity: int = 100_000,
    ) -> None:  # fmt: skip
        self._limit, self._window, self._clock, self._longest = limit, window, clock, longest
        self._capacity = capacity
        self._keys: OrderedDict[str, _Strikes] = OrderedDict()
        self._lock = threading.Lock()
        self.total_failures = 0
        self.total_refusals = 0

    def _strikes(self, key: str, now: float) -> _Strikes:
        found = self._keys.get(key)
        if found is None:
            while len(self._keys) >= self._capacity:
                self._keys.popitem(last=False)
            found = self._keys[key] = _Strikes(deque())
        else:
            self._keys.move_to_end(key)
        if found.lockouts and now - found.locked_until > self._longest:
            found.lockouts = 0  # quiet long enough: the backoff starts again
        while found.failures and now - found.failures[0] > self._window:
            found.failures.popleft()
        return found

    def refusal(self, keys: tuple[str, ...]) -> tuple[int, tuple[str, ...]]:
        """(seconds to wait, keys whose lockout refuses its first attempt now) for a failed
        attempt; a wait of 0 lets it through to be counted. The first refusal of each
        lockout names its key, for the audit log."""
        with self._lock:
            now, wait, first = self._clock(), 0, []
            for key in keys:
                strikes = self._strikes(key, now)
                if strikes.locked_until > now:
                    strikes.refused += 1
                    wait = max(wait, int(strikes.locked_until - now) + 1)
                    if strikes.refused == 1:
                        first.append(key)
            self.total_refusals += wait > 0
        return wait, tuple(first)

    def failed(self, keys: tuple[str, ...]) -> None:
        with self._lock:
            now = self._clock()
            self.total_failures += 1
            for key in keys:
                strikes = self._strikes(key, now)
                strikes.failures.append(now)
                if len(strikes.failures) >= self._limit:
                    wait = min(self._window * 2**strikes.lockouts, self._longest)
                    strikes.locked_until, strikes.refused = now + wait, 0
                    strikes.lockouts += 1
                    strikes.failures.clear()


def limiter_keys(address: str, presented: str | None) -> tuple[str, ...]:
    """What a failed attempt counts against: its address and the token's first characters
    (`vahti_` and six more: one token guessed at from many addresses)."""
    prefix = (presented or "")[:12]
    return (f"address {address}", f"token {prefix}") if prefix else (f"address {address}",)


def failed_attempt(
    request: Request, presented: str | None, surface: str, more: tuple[str, ...] | None = None
) -> int:
    """A failed authentication: seconds it must wait when its address, token prefix or (for
    a password, `more`) person is locked (the first refusal of each lockout goes to the audit
    log, with what was locked), else 0 after counting it."""
    keys = limiter_keys(_client(request), presented) + (more or ())
    wait = locked_out(request, keys, surface)
    if not wait:
        request.app.state.limiter.failed(keys)
    return wait


def code_key(person: str) -> str:
    """The key of one person's one-time codes, counted only after their right password:
    only someone who holds the password can lock it, and then guessing codes stops."""
    return f"code {person}"


def locked_out(request: Request, keys: tuple[str, ...], surface: str) -> int:
    """Seconds to wait when one of `keys` is locked, else 0; the first refusal of each
    lockout goes to the audit log, with what was locked."""
    limiter: FailureLimiter = request.app.state.limiter
    address = _client(request)
    wait, first = limiter.refusal(keys)
    for locked in first:
        kind, _, value = locked.partition(" ")
        context(request).audit.record(
            "anonymous", "auth.locked",
            {"purpose": "information security", "surface": surface, "locked": kind,
             "address": address, **({"token_prefix": value} if kind == "token" else {}),
             **({"user": value} if kind in ("user", "code") else {}),
             "retry_after": wait},
        )  # fmt: skip
    return wait


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
        presented, token = None, None
        if credentials is not None and credentials.scheme.lower() == "bearer":
            presented = credentials.credentials
            cache: TokenCache = request.app.state.tokens
            token = cache.find(presented)
        if token is None:
            wait = failed_attempt(request, presented, "api")
            if wait:
                raise Rejected(429, f"too many failed authentications; retry in {wait} s")
            raise Rejected(401, "a valid API token is needed (Authorization: Bearer TOKEN)")
        principal = Principal.of_token(token)
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
