"""Staff are persons: each signs in to the console with a password (argon2id) and a one-time
code (TOTP, RFC 6238), and API tokens are issued to a person. The audit log names the
person, and four eyes means two different people."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import duckdb
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from store.tokens import ROLES, TokenError, admins_left, named_alike, unreserved, valid_name

MIN_PASSWORD = 12
_HASHER = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters


@cache
def _dummy_hash() -> str:
    """A password checked against an absent person still costs one argon2 verification, so
    the answer's timing does not tell which names exist. Made on first use: a hash costs
    some 150 ms, which every command would otherwise pay on starting."""
    return _HASHER.hash("not a password of anyone")


@dataclass(frozen=True)
class Person:
    person_id: int
    name: str
    role: str
    created_by: str | None
    created_at: datetime
    disabled_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.person_id,
            "name": self.name,
            "role": self.role,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat() + "Z",
            "disabled_at": self.disabled_at.isoformat() + "Z" if self.disabled_at else None,
        }


_FIELDS = "person_id, name, role, created_by, created_at, disabled_at"


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise TokenError(f"a password is at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise TokenError("a password is at most 1024 characters")


def totp_uri(name: str, secret: str) -> str:
    """What an authenticator app scans (otpauth://), shown once when the person is added."""
    return pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name="vahti")


def add_person(
    con: duckdb.DuckDBPyConnection, name: str, role: str, password: str,
    created_by: str | None, now: datetime,
) -> tuple[Person, str]:  # fmt: skip
    """A new person; returns the record and their TOTP secret (shown once, for their app)."""
    if role not in ROLES:
        raise TokenError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    name = unreserved(valid_name(name, "a person's name"), "a person's name")
    if named_alike(con, name, persons=False):
        raise TokenError(f"a service token is named {name!r}: a person may not take the name "
                         "(the audit log names the token so)")  # fmt: skip
    _check_password(password)
    if named_alike(con, name, persons=True):
        raise TokenError(f"a person named {name!r} exists already (names that differ only "
                         "in case, width or dash form are one name to a reader)")  # fmt: skip
    secret = pyotp.random_base32()
    ((person_id,),) = con.execute("SELECT coalesce(max(person_id), 0) + 1 FROM staff").fetchall()
    con.execute(
        "INSERT INTO staff VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
        [person_id, name, role, _HASHER.hash(password), secret, created_by, now],
    )
    return Person(person_id, name, role, created_by, now, None), secret


def list_people(con: duckdb.DuckDBPyConnection) -> list[Person]:
    rows = con.execute(f"SELECT {_FIELDS} FROM staff ORDER BY person_id").fetchall()
    return [Person(*row) for row in rows]


def get_person(con: duckdb.DuckDBPyConnection, name: str) -> Person | None:
    rows = con.execute(f"SELECT {_FIELDS} FROM staff WHERE name = ?", [name]).fetchall()
    return Person(*rows[0]) if rows else None


def disable_person(con: duckdb.DuckDBPyConnection, name: str, now: datetime) -> Person:
    """The person can no longer sign in, and every token issued to them is revoked. The last
    admin is never disabled: someone must be able to manage access."""
    person = get_person(con, name)
    if person is None:
        raise TokenError(f"no person named {name!r}")
    if person.disabled_at is not None:
        return person
    if person.role == "admin" and admins_left(con, without_person=name) == 0:
        raise TokenError(f"{name!r} is the last admin: add another admin first")
    con.execute("UPDATE staff SET disabled_at = ? WHERE name = ?", [now, name])
    con.execute(
        "UPDATE tokens SET revoked_at = ? WHERE person = ? AND revoked_at IS NULL", [now, name]
    )
    found = get_person(con, name)
    assert found is not None
    return found


def set_password(con: duckdb.DuckDBPyConnection, name: str, password: str) -> str:
    """A new password and a new second factor (the old phone may be the reason); returns the
    new TOTP secret."""
    _check_password(password)
    if get_person(con, name) is None:
        raise TokenError(f"no person named {name!r}")
    secret = pyotp.random_base32()
    con.execute(
        "UPDATE staff SET password_hash = ?, totp_secret = ? WHERE name = ?",
        [_HASHER.hash(password), secret, name],
    )
    return secret


class CodeReplay:
    """The last time step each person signed in with: a code seen once is not accepted
    again (RFC 6238 section 5.2)."""

    def __init__(self) -> None:
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    def accept(self, name: str, secret: str, code: str, now: datetime) -> bool:
        totp = pyotp.TOTP(secret)
        at = now.timestamp() if now.tzinfo else now.replace(tzinfo=UTC).timestamp()
        for drift in (0, -1, 1):  # one step of clock drift either way
            step = int(at // totp.interval) + drift
            if totp.verify(code, for_time=step * totp.interval):
                with self._lock:
                    if self._used.get(name, -1) >= step:
                        return False
                    self._used[name] = step
                return True
        return False


def check_sign_in(
    con: duckdb.DuckDBPyConnection, name: str, password: str, code: str,
    replay: CodeReplay, now: datetime,
) -> tuple[Person | None, bool]:  # fmt: skip
    """(the person, when the name, password and one-time code all match and they are not
    disabled, else None; whether the password was right, which the caller must not tell)."""
    rows = con.execute(
        f"SELECT {_FIELDS}, password_hash, totp_secret FROM staff WHERE name = ?", [name]
    ).fetchall()
    stored = rows[0][-2] if rows else _dummy_hash()
    try:
        password_ok = _HASHER.verify(stored, password) and bool(rows)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        password_ok = False
    if not password_ok:
        return None, False
    person = Person(*rows[0][:-2])
    if person.disabled_at is not None or not replay.accept(name, rows[0][-1], code.strip(), now):
        return None, True
    return person, True
