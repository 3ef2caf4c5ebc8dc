"""API tokens: shown once, stored only as a hash, compared in constant time. A token is
issued to a person (see store.staff) or, for a machine such as the portal pushing logins,
stands alone as a service token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

ROLES = ("analyst", "dpo", "liaison", "admin")
_PREFIX = "vahti_"
# The name of the admin token a running server leaves for its machine's operator: it lives
# only while the server runs, so it never counts as an admin who could manage access.
OPERATOR_TOKEN = "local-cli"  # a token's name, not a secret  # noqa: S105


class TokenError(ValueError):
    """A token or person cannot be created, changed or revoked as asked; the message says
    why."""


@dataclass(frozen=True)
class TokenInfo:
    token_id: int
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
    person: str | None = None
    created_by: str | None = None
    # Everyone who could be acting through this token: its person (or, for a service token,
    # its name), whoever made the token and whoever added the person.
    answerable: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        """Who the audit log names: the person, or the service token's name."""
        return self.person or self.name

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.token_id,
            "name": self.name,
            "role": self.role,
            "person": self.person,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat() + "Z",
            "revoked_at": self.revoked_at.isoformat() + "Z" if self.revoked_at else None,
        }


def valid_name(name: str, what: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or not name.isprintable():
        raise TokenError(f"{what} is 1-64 printable characters")
    return name


# The audit log names vahti's own actors so: no token or person may take such a name.
_RESERVED_PREFIXES = (OPERATOR_TOKEN, "cli:", "job:")
_RESERVED_NAMES = frozenset({"anonymous", "serve"})


def skeleton(name: str) -> str:
    """What a name looks like to a reader: width, case and dash forms aside (`ｓｅｒｖｅ`,
    `Serve` and `serve` are one name; so are `local‐cli` with a Unicode hyphen and
    `local-cli`)."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join("-" if unicodedata.category(c) == "Pd" else c for c in folded)


def unreserved(name: str, what: str) -> str:
    seen = skeleton(name)
    if seen in _RESERVED_NAMES or seen.startswith(_RESERVED_PREFIXES):
        raise TokenError(f"{what} may not be {name!r}: the audit log names vahti's own actors so")
    return name


def named_alike(con: duckdb.DuckDBPyConnection, name: str, persons: bool) -> bool:
    """Whether a person (or a service token: `persons` False) has a name that looks like
    this one: the audit log names a service token by its name, so the two may not meet."""
    table = "staff" if persons else "tokens WHERE person IS NULL"
    names = con.execute(f"SELECT name FROM {table}").fetchall()
    return skeleton(name) in {skeleton(row[0]) for row in names}


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def _person_role(con: duckdb.DuckDBPyConnection, person: str) -> str:
    rows = con.execute("SELECT role, disabled_at FROM staff WHERE name = ?", [person]).fetchall()
    if not rows:
        raise TokenError(f"no person named {person!r}: add them with `vahti user add`")
    if rows[0][1] is not None:
        raise TokenError(f"{person!r} is disabled")
    return str(rows[0][0])


def create_token(
    con: duckdb.DuckDBPyConnection, name: str, role: str | None, now: datetime,
    person: str | None = None, created_by: str | None = None, operator: bool = False,
) -> tuple[TokenInfo, str]:  # fmt: skip
    """A new token; returns its record and the secret, which is never stored. A token issued
    to a person has the person's role; `created_by` is the person who made it (None: the
    operator at the machine's shell). `operator`: the token `vahti serve` leaves for the
    machine's operator, the only one named so (four eyes does not count its maker)."""
    if person is not None:
        held = _person_role(con, person)
        if role is not None and role != held:
            raise TokenError(f"{person!r} is {held}: their tokens have that role")
        role = held
    if role not in ROLES:
        raise TokenError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    name = valid_name(name, "a token name")
    if not operator:
        unreserved(name, "a token's name")
    if person is None and named_alike(con, name, persons=True):
        raise TokenError(f"a person is named {name!r}: a service token may not take the name "
                         "(the audit log would name that person for it)")  # fmt: skip
    taken = con.execute("SELECT 1 FROM tokens WHERE name = ?", [name]).fetchall()
    if taken:
        raise TokenError(f"a token named {name!r} exists already (names stay unique after revoke)")
    secret = _PREFIX + secrets.token_urlsafe(32)
    ((token_id,),) = con.execute("SELECT coalesce(max(token_id), 0) + 1 FROM tokens").fetchall()
    con.execute(
        "INSERT INTO tokens (token_id, name, role, token_hash, created_at, revoked_at, person, "
        "created_by) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
        [token_id, name, role, hash_token(secret), now, person, created_by],
    )
    return TokenInfo(token_id, name, role, now, None, person, created_by), secret


_SELECT = (
    "SELECT t.token_id, t.name, t.role, t.created_at, t.revoked_at, t.person, t.created_by, "
    "s.created_by FROM tokens t LEFT JOIN staff s ON s.name = t.person"
)


def _info(row: tuple[Any, ...]) -> TokenInfo:
    token_id, name, role, created_at, revoked_at, person, created_by, person_added_by = row
    answerable = frozenset(
        who for who in (person or name, created_by, person_added_by) if who is not None
    )
    return TokenInfo(token_id, name, role, created_at, revoked_at, person, created_by, answerable)


def list_tokens(con: duckdb.DuckDBPyConnection) -> list[TokenInfo]:
    return [_info(row) for row in con.execute(_SELECT + " ORDER BY t.token_id").fetchall()]


def admins_left(
    con: duckdb.DuckDBPyConnection, without_token: str | None = None,
    without_person: str | None = None,
) -> int:  # fmt: skip
    """Admins who could still manage access: enabled admin persons and active admin service
    tokens, leaving out the one about to go."""
    ((count,),) = con.execute(
        "SELECT (SELECT count(*) FROM staff WHERE role = 'admin' AND disabled_at IS NULL "
        "        AND name IS DISTINCT FROM ?) "
        "     + (SELECT count(*) FROM tokens WHERE role = 'admin' AND revoked_at IS NULL "
        "        AND person IS NULL AND name IS DISTINCT FROM ? AND NOT starts_with(name, ?))",
        [without_person, without_token, OPERATOR_TOKEN],
    ).fetchall()
    return int(count)


def revoke_token(
    con: duckdb.DuckDBPyConnection, name: str, now: datetime, keep_an_admin: bool = True
) -> TokenInfo:
    """Revoke; refused for the last admin while `keep_an_admin` (the server's own operator
    token is revoked when it stops, whoever is left)."""
    rows = con.execute(_SELECT + " WHERE t.name = ?", [name]).fetchall()
    if not rows:
        raise TokenError(f"no token named {name!r}")
    info = _info(rows[0])
    if info.revoked_at is not None:
        return info
    last = info.role == "admin" and info.person is None and admins_left(con, name) == 0
    if keep_an_admin and last and not name.startswith(OPERATOR_TOKEN):
        raise TokenError(f"{name!r} is the last admin: add another admin first")
    con.execute("UPDATE tokens SET revoked_at = ? WHERE token_id = ?", [now, info.token_id])
    return _info((*rows[0][:4], now, *rows[0][5:]))


def active_tokens(con: duckdb.DuckDBPyConnection) -> list[tuple[str, TokenInfo]]:
    """(hash, record) of every token not revoked whose person (if any) is not disabled."""
    rows = con.execute(
        "SELECT t.token_hash, t.token_id, t.name, t.role, t.created_at, t.revoked_at, t.person, "
        "t.created_by, s.created_by FROM tokens t LEFT JOIN staff s ON s.name = t.person "
        "WHERE t.revoked_at IS NULL AND (t.person IS NULL OR s.disabled_at IS NULL)"
    ).fetchall()
    return [(stored, _info(tuple(fields))) for stored, *fields in rows]


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
