"""API tokens: shown once, stored only as a hash, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

ROLES = ("analyst", "dpo", "liaison", "admin")
_PREFIX = "vahti_"


class TokenError(ValueError):
    """A token cannot be created or revoked as asked; the message says why."""


@dataclass(frozen=True)
class TokenInfo:
    token_id: int
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.token_id,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at.isoformat() + "Z",
            "revoked_at": self.revoked_at.isoformat() + "Z" if self.revoked_at else None,
        }


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    con: duckdb.DuckDBPyConnection, name: str, role: str, now: datetime
) -> tuple[TokenInfo, str]:
    """A new token for `name`; returns its record and the secret, which is never stored."""
    if role not in ROLES:
        raise TokenError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    name = name.strip()
    if not name or len(name) > 64 or not name.isprintable():
        raise TokenError("a token name is 1-64 printable characters")
    taken = con.execute("SELECT 1 FROM tokens WHERE name = ?", [name]).fetchall()
    if taken:
        raise TokenError(f"a token named {name!r} exists already (names stay unique after revoke)")
    secret = _PREFIX + secrets.token_urlsafe(32)
    ((token_id,),) = con.execute("SELECT coalesce(max(token_id), 0) + 1 FROM tokens").fetchall()
    con.execute(
        "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, NULL)",
        [token_id, name, role, hash_token(secret), now],
    )
    return TokenInfo(token_id, name, role, now, None), secret


def list_tokens(con: duckdb.DuckDBPyConnection) -> list[TokenInfo]:
    rows = con.execute(
        "SELECT token_id, name, role, created_at, revoked_at FROM tokens ORDER BY token_id"
    ).fetchall()
    return [TokenInfo(*row) for row in rows]


def revoke_token(con: duckdb.DuckDBPyConnection, name: str, now: datetime) -> TokenInfo:
    rows = con.execute(
        "SELECT token_id, name, role, created_at, revoked_at FROM tokens WHERE name = ?", [name]
    ).fetchall()
    if not rows:
        raise TokenError(f"no token named {name!r}")
    info = TokenInfo(*rows[0])
    if info.revoked_at is not None:
        return info
    con.execute("UPDATE tokens SET revoked_at = ? WHERE token_id = ?", [now, info.token_id])
    return TokenInfo(info.token_id, info.name, info.role, info.created_at, now)


def active_tokens(con: duckdb.DuckDBPyConnection) -> list[tuple[str, TokenInfo]]:
    """(hash, record) of every token not revoked."""
    rows = con.execute(
        "SELECT token_hash, token_id, name, role, created_at, revoked_at FROM tokens "
        "WHERE revoked_at IS NULL"
    ).fetchall()
    return [(stored, TokenInfo(*fields)) for stored, *fields in rows]


def match_token(tokens: list[tuple[str, TokenInfo]], presented: str) -> TokenInfo | None:
    """The token whose hash matches, compared in constant time against every one."""
    digest = hash_token(presented)
    found = None
    for stored, info in tokens:
        if hmac.compare_digest(stored, digest):
            found = info
    return found


def authenticate(con: duckdb.DuckDBPyConnection, presented: str) -> TokenInfo | None:
    return match_token(active_tokens(con), presented)
