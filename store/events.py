"""Event search: the same question from the shell and the API, one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from store.addresses import network_range

EVENT_FIELDS = (
    "event_id", "ts", "event", "outcome", "user", "customer_id", "ip", "host", "user_agent",
    "session_id", "reason", "service", "country", "city", "lat", "lon", "asn", "as_org",
    "own_network", "risk", "risk_reasons",
)  # fmt: skip
# A login's familiarity score lives beside it (login_risk): null where none was needed
# (an account that only ever used one network, place and client).
_SOURCE = {"risk": "r.risk", "risk_reasons": "r.reasons"}
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class EventQuery:
    user: str | None = None
    customer_id: str | None = None
    ip: str | None = None  # an address or a CIDR
    session_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None
    after_event_id: int = 0  # cursor: continue after this event
    limit: int = 100

    def is_unbounded(self) -> bool:
        """No person, address or session named: a search of everyone."""
        return not (self.user or self.customer_id or self.ip or self.session_id)

    def touched(self) -> dict[str, Any]:
        """What the search asked for, as the audit log records it."""
        return {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in vars(self).items()
            if value not in (None, 0) and name != "limit"
        }


def event_conditions(query: EventQuery) -> tuple[list[str], list[Any]]:
    clauses: list[str] = ["e.event_id > ?"]
    values: list[Any] = [query.after_event_id]
    for column, value in (
        ('"user"', query.user),
        ("customer_id", query.customer_id),
        ("session_id", query.session_id),
        ("outcome", query.outcome),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            values.append(value)
    if query.ip is not None:
        low, high = network_range(query.ip)
        clauses.append("ip_bin BETWEEN ? AND ?")
        values += [low, high]
    if query.since is not None:
        clauses.append("ts >= ?")
        values.append(query.since)
    if query.until is not None:
        clauses.append("ts < ?")
        values.append(query.until)
    return clauses, values


def search_events(con: duckdb.DuckDBPyConnection, query: EventQuery) -> list[dict[str, Any]]:
    """Matching events in the order they were stored, at most `limit` of them."""
    clauses, values = event_conditions(query)
    names = ", ".join(_SOURCE.get(name, f'e."{name}"') for name in EVENT_FIELDS)
    rows = con.execute(
        f"""SELECT {names} FROM events e LEFT JOIN login_risk r USING (event_id)
            WHERE {" AND ".join(clauses)} ORDER BY event_id LIMIT ?""",
        [*values, min(query.limit, MAX_LIMIT)],
    ).fetchall()
    return [_as_json(dict(zip(EVENT_FIELDS, row, strict=True))) for row in rows]


def _as_json(row: dict[str, Any]) -> dict[str, Any]:
    ts: datetime = row["ts"]
    row["ts"] = ts.isoformat(timespec="microseconds") + "Z"
    return row
