"""Alerts, their evidence and history, and the detection watermarks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import orjson

STATUSES = ("open", "acknowledged", "closed", "false_positive")
ACTIVE = ("open", "acknowledged")
ALERT_COLUMNS = (
    "alert_id", "rule_id", "category", "severity", "entity_type", "entity", "first_seen",
    "last_seen", "event_count", "summary", "status", "mitre", "assignee", "created_at",
    "updated_at",
)  # fmt: skip


@dataclass
class Alert:
    alert_id: str
    rule_id: str
    category: str
    severity: str
    entity_type: str
    entity: str
    first_seen: datetime
    last_seen: datetime
    event_count: int
    summary: str
    status: str
    mitre: list[str]
    assignee: str | None
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        """The contract's alert fields (section 2)."""
        return {
            "id": self.alert_id,
            "rule_id": self.rule_id,
            "category": self.category,
            "severity": self.severity,
            "entity_type": self.entity_type,
            "entity": self.entity,
            "first_seen": _rfc3339(self.first_seen),
            "last_seen": _rfc3339(self.last_seen),
            "event_count": self.event_count,
            "summary": self.summary,
            "status": self.status,
            "mitre": list(self.mitre),
            "assignee": self.assignee,
            "created_at": _rfc3339(self.created_at),
            "updated_at": _rfc3339(self.updated_at),
        }


def _rfc3339(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds") + "Z"


def stable_id(rule_id: str, entity: str, first_seen: datetime) -> str:
    """The same misuse found again (a replay, a second run) gets the same id."""
    key = f"{rule_id}\x1f{entity}\x1f{first_seen.isoformat()}".encode()
    return "a-" + hashlib.blake2b(key, digest_size=8).hexdigest()


_SELECT = "SELECT " + ", ".join(ALERT_COLUMNS) + " FROM alerts"


def active_alerts(con: duckdb.DuckDBPyConnection, rule_id: str) -> dict[str, Alert]:
    rows = con.execute(
        _SELECT + " WHERE rule_id = ? AND status IN ('open', 'acknowledged') ORDER BY last_seen",
        [rule_id],
    ).fetchall()
    return {row[5]: Alert(*row) for row in rows}


def known_ids(con: duckdb.DuckDBPyConnection, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = con.execute("SELECT alert_id FROM alerts WHERE alert_id IN (SELECT unnest(?))", [ids])
    return {row[0] for row in rows.fetchall()}


def insert_alert(con: duckdb.DuckDBPyConnection, alert: Alert) -> None:
    placeholders = ", ".join("?" for _ in ALERT_COLUMNS)
    values = [getattr(alert, c) for c in ALERT_COLUMNS]
    con.execute(f"INSERT INTO alerts ({', '.join(ALERT_COLUMNS)}) VALUES ({placeholders})", values)


def add_evidence(con: duckdb.DuckDBPyConnection, alert_id: str, event_ids: list[int]) -> int:
    """Link events to the alert (each once); return how many events it now has."""
    con.execute(
        """INSERT INTO evidence
           SELECT ?, e FROM (SELECT DISTINCT unnest(?::BIGINT[]) AS e)
           WHERE e NOT IN (SELECT event_id FROM evidence WHERE alert_id = ?)""",
        [alert_id, event_ids, alert_id],
    )
    row = con.execute("SELECT count(*) FROM evidence WHERE alert_id = ?", [alert_id]).fetchone()
    return int(row[0]) if row else 0


def extend_alert(
    con: duckdb.DuckDBPyConnection, alert: Alert, first: datetime, last: datetime, count: int,
    summary: str, now: datetime,
) -> bool:  # fmt: skip
    """Widen an open alert to cover a new finding; False when nothing grew."""
    first, last = min(first, alert.first_seen), max(last, alert.last_seen)
    if (first, last, count) == (alert.first_seen, alert.last_seen, alert.event_count):
        return False
    con.execute(
        """UPDATE alerts SET first_seen = ?, last_seen = ?, event_count = ?, summary = ?,
               updated_at = ? WHERE alert_id = ?""",
        [first, last, count, summary, now, alert.alert_id],
    )
    alert.first_seen, alert.last_seen, alert.event_count, alert.summary = (
        first,
        last,
        count,
        summary,
    )
    return True


def watermark(con: duckdb.DuckDBPyConnection, rule_id: str) -> int:
    row = con.execute(
        "SELECT watermark_event_id FROM rule_state WHERE rule_id = ?", [rule_id]
    ).fetchone()
    return int(row[0]) if row else 0


def set_watermark(
    con: duckdb.DuckDBPyConnection, rule_id: str, event_id: int, now: datetime
) -> None:
    con.execute(
        """INSERT INTO rule_state VALUES (?, ?, ?)
           ON CONFLICT (rule_id) DO UPDATE SET watermark_event_id = excluded.watermark_event_id,
               last_run = excluded.last_run""",
        [rule_id, event_id, now],
    )


def list_alerts(
    con: duckdb.DuckDBPyConnection,
    status: str | None = None,
    category: str | None = None,
    limit: int = 1000,
) -> list[Alert]:
    clauses, values = [], []
    if status is not None:
        clauses.append("status = ?")
        values.append(status)
    if category is not None:
        clauses.append("category = ?")
        values.append(category)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    rows = con.execute(
        _SELECT + where + " ORDER BY last_seen DESC, alert_id LIMIT ?", [*values, limit]
    ).fetchall()
    return [Alert(*row) for row in rows]


def get_alert(con: duckdb.DuckDBPyConnection, alert_id: str) -> Alert | None:
    row = con.execute(_SELECT + " WHERE alert_id = ?", [alert_id]).fetchone()
    return Alert(*row) if row else None


EVIDENCE_COLUMNS = (
    "event_id", "ts", "event", "outcome", "user", "customer_id", "ip", "host", "country",
    "city", "user_agent", "session_id", "reason",
)  # fmt: skip


def evidence_rows(con: duckdb.DuckDBPyConnection, alert_id: str) -> list[dict[str, Any]]:
    names = ", ".join(f'e."{c}"' for c in EVIDENCE_COLUMNS)
    cursor = con.execute(
        f"""SELECT {names} FROM evidence v JOIN events e USING (event_id)
            WHERE v.alert_id = ? ORDER BY e.ts, e.event_id""",
        [alert_id],
    )
    return [dict(zip(EVIDENCE_COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def set_status(
    con: duckdb.DuckDBPyConnection, alert_id: str, status: str, actor: str, note: str | None,
    now: datetime,
) -> Alert | None:  # fmt: skip
    """Triage: change the status and keep who, when and why in the alert's history."""
    alert = get_alert(con, alert_id)
    if alert is None:
        return None
    change = {"status": [alert.status, status], "note": note}
    con.execute(
        "UPDATE alerts SET status = ?, updated_at = ? WHERE alert_id = ?", [status, now, alert_id]
    )
    con.execute(
        "INSERT INTO alert_history VALUES (?, ?, ?, ?)",
        [alert_id, now, actor, orjson.dumps(change).decode()],
    )
    return get_alert(con, alert_id)


def history(con: duckdb.DuckDBPyConnection, alert_id: str) -> list[dict[str, Any]]:
    rows = con.execute(
        "SELECT changed_at, actor, change FROM alert_history WHERE alert_id = ? "
        "ORDER BY changed_at",
        [alert_id],
    ).fetchall()
    return [
        {"at": _rfc3339(at), "actor": actor, **orjson.loads(change)} for at, actor, change in rows
    ]
