"""Legal holds: what they cover is never purged, pseudonymised or compacted away while
active. A hold names a person (user or customer id) and/or an address or network, and
optionally a time range and an expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from store.addresses import network_range
from store.audit import AuditTrail
from store.stamps import utc_iso

KINDS = ("preservation", "incident", "internal")
_COLUMNS = (
    'hold_id, "user", customer_id, ip, from_ts, to_ts, reason, case_ref, kind, until, '
    "created_by, created_at, released_at"
)


class HoldError(ValueError):
    """A hold cannot be made or released as asked; the message says why."""


@dataclass(frozen=True)
class Hold:
    hold_id: int
    user: str | None
    customer_id: str | None
    ip: str | None
    from_ts: datetime | None
    to_ts: datetime | None
    reason: str
    case_ref: str | None
    kind: str
    until: datetime | None
    created_by: str
    created_at: datetime
    released_at: datetime | None

    def active(self, now: datetime) -> bool:
        return self.released_at is None and (self.until is None or self.until > now)

    def as_json(self, now: datetime) -> dict[str, Any]:
        stamp = utc_iso
        return {
            "id": self.hold_id,
            "user": self.user,
            "customer_id": self.customer_id,
            "ip": self.ip,
            "from": stamp(self.from_ts),
            "to": stamp(self.to_ts),
            "reason": self.reason,
            "case": self.case_ref,
            "kind": self.kind,
            "until": stamp(self.until),
            "created_by": self.created_by,
            "created_at": stamp(self.created_at),
            "released_at": stamp(self.released_at),
            "active": self.active(now),
        }


@dataclass(frozen=True)
class HoldRequest:
    reason: str
    user: str | None = None
    customer_id: str | None = None
    ip: str | None = None
    since: datetime | None = None
    until_ts: datetime | None = None
    case_ref: str | None = None
    kind: str = "internal"
    expires: datetime | None = None


def _check(request: HoldRequest) -> tuple[bytes | None, bytes | None]:
    if not (request.user or request.customer_id or request.ip):
        raise HoldError("a hold names a user, a customer id or an address (or network)")
    if not request.reason.strip():
        raise HoldError("a hold needs a reason")
    if request.kind not in KINDS:
        raise HoldError(f"hold kind: one of {', '.join(KINDS)}")
    if request.since and request.until_ts and request.since >= request.until_ts:
        raise HoldError("a hold's --from must be before its --to")
    if request.ip is None:
        return None, None
    try:
        return network_range(request.ip)
    except ValueError as exc:
        raise HoldError(str(exc)) from exc


def add_hold(
    con: duckdb.DuckDBPyConnection, request: HoldRequest, actor: str, now: datetime
) -> tuple[Hold, int]:
    """Record a hold; returns it and how many events it covers now (0 is allowed: a
    preservation order may name data that arrives later, but the caller should say so)."""
    low, high = _check(request)
    ((hold_id,),) = con.execute("SELECT coalesce(max(hold_id), 0) + 1 FROM holds").fetchall()
    con.execute(
        f"""INSERT INTO holds ({_COLUMNS}, ip_low, ip_high)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)""",
        [
            hold_id, request.user, request.customer_id, request.ip, request.since,
            request.until_ts, request.reason, request.case_ref, request.kind, request.expires,
            actor, now, low, high,
        ],
    )  # fmt: skip
    hold = get_hold(con, hold_id)
    assert hold is not None
    ((covered,),) = con.execute(
        f"SELECT count(*) FROM events e, holds h WHERE h.hold_id = ? AND {matches('e', 'h')}",
        [hold_id],
    ).fetchall()
    return hold, int(covered)


def get_hold(con: duckdb.DuckDBPyConnection, hold_id: int) -> Hold | None:
    rows = con.execute(f"SELECT {_COLUMNS} FROM holds WHERE hold_id = ?", [hold_id]).fetchall()
    return Hold(*rows[0]) if rows else None


def list_holds(con: duckdb.DuckDBPyConnection) -> list[Hold]:
    rows = con.execute(f"SELECT {_COLUMNS} FROM holds ORDER BY hold_id").fetchall()
    return [Hold(*row) for row in rows]


def release_hold(con: duckdb.DuckDBPyConnection, hold_id: int, now: datetime) -> Hold:
    hold = get_hold(con, hold_id)
    if hold is None:
        raise HoldError(f"no hold {hold_id}")
    if hold.released_at is None:
        con.execute("UPDATE holds SET released_at = ? WHERE hold_id = ?", [now, hold_id])
    released = get_hold(con, hold_id)
    assert released is not None
    return released


def matches(event: str, hold: str) -> str:
    """SQL: event row `event` falls inside hold row `hold` (ignoring whether it is active)."""
    e, h = event, hold
    return (
        f'({h}."user" IS NULL OR {e}."user" = {h}."user") '
        f"AND ({h}.customer_id IS NULL OR {e}.customer_id = {h}.customer_id) "
        f"AND ({h}.ip_low IS NULL OR {e}.ip_bin BETWEEN {h}.ip_low AND {h}.ip_high) "
        f"AND ({h}.from_ts IS NULL OR {e}.ts >= {h}.from_ts) "
        f"AND ({h}.to_ts IS NULL OR {e}.ts < {h}.to_ts)"
    )


def covers(event: str = "e", hold: str = "h") -> str:
    """SQL condition: an active hold covers event row `event`. One parameter: now.

    Written as membership in the set of held event ids, which DuckDB computes once (a join
    of the events with the few active holds) rather than once per row."""
    inner = f"held_{event}"
    return (
        f"{event}.event_id IN (SELECT {inner}.event_id FROM events {inner} JOIN holds {hold} "
        f"ON {hold}.released_at IS NULL AND ({hold}.until IS NULL OR {hold}.until > ?::TIMESTAMP) "
        f"AND {matches(inner, hold)})"
    )


def audited_add(
    trail: AuditTrail, request: HoldRequest, actor: str, now: datetime, **context: Any
) -> tuple[Hold, int]:
    """Add a hold with its audit entry in the same transaction; (hold, events covered)."""
    detail: dict[str, Any] = {
        "purpose": "legal hold", "kind": request.kind, "case": request.case_ref, **context,
    }  # fmt: skip
    with trail.change(actor, "holds.add", detail) as con:
        hold, covered = add_hold(con, request, actor, now)
        detail.update(hold=hold.hold_id, covered=covered)
    return hold, covered


def audited_release(
    trail: AuditTrail, hold_id: int, actor: str, now: datetime, **context: Any
) -> Hold:
    detail: dict[str, Any] = {"purpose": "legal hold", "hold": hold_id, **context}
    with trail.change(actor, "holds.release", detail) as con:
        return release_hold(con, hold_id, now)
