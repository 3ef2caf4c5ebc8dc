"""Console sessions: a token signs in once and becomes a short-lived session cookie; each
session has its own CSRF token for forms."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from api.auth import Principal

COOKIE = "vahti_session"
IDLE_SECONDS = 30 * 60


@dataclass
class Session:
    principal: Principal
    csrf: str
    seen: float


class Sessions:
    def __init__(self, idle: float = IDLE_SECONDS) -> None:
        self._idle = idle
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, principal: Principal) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[sid] = Session(principal, secrets.token_urlsafe(24), time.monotonic())
        return sid

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        now = time.monotonic()
        with self._lock:
            for key in [k for k, s in self._sessions.items() if now - s.seen > self._idle]:
                del self._sessions[key]
            session = self._sessions.get(sid)
            if session is not None:
                session.seen = now
            return session

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)

    def end_for(self, token: str | None = None, person: str | None = None) -> None:
        """A revoked token's sessions end with it; a disabled person's, all of theirs."""
        with self._lock:
            for key in [k for k, s in self._sessions.items()
                        if (token and s.principal.token == token)
                        or (person and s.principal.name == person)]:  # fmt: skip
                del self._sessions[key]


def csrf_ok(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf, presented)
