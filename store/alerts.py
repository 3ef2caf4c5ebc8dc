"""Alerts, their evidence and history, and the detection watermarks."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import orjson
import polars as pl

from analytics.categories import SEVERITIES
from store.addresses import network_range

STATUSES = ("open", "acknowledged", "closed", "false_positive")
ACTIVE = ("open", "acknowledged")
ALERT_COLUMNS = (
    "alert_id", "rule_id", "category", "severity", "entity_type", "entity", "first_seen",
    "last_seen", "event_count", "summary", "status", "mitre", "assignee", "created_at",
    "updated_at", "members", "risk", "reasons", "weight",
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
    members: list[dict[str, str]] | None = None  # a campaign's sources
    risk: float | None = None
    reasons: list[str] | None = None
    weight: int | None = None  # how strongly the label was decided

    def __post_init__(self) -> None:
        # DuckDB hands JSON columns over as text.
        for name in ("members", "reasons"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, orjson.loads(value))

    def as_json(self) -> dict[str, Any]:
        """The contract's alert fields (section 2)."""
        optional = {
            name: getattr(self, name)
            for name in ("members", "risk", "reasons")
            if getattr(self, name) is not None
        }
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
            **optional,
        }


def alert_from_json(body: dict[str, Any]) -> Alert:
    """An alert as the API returns it -> Alert (times back to naive UTC)."""

    def when(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)

    return Alert(
        body["id"], body["rule_id"], body["category"], body["severity"], body["entity_type"],
        body["entity"], when(body["first_seen"]), when(body["last_seen"]), body["event_count"],
        body["summary"], body["status"], body["mitre"], body.get("assignee"),
        when(body["created_at"]), when(body["updated_at"]), body.get("members"),
        body.get("risk"), body.get("reasons"),
    )  # fmt: skip


def _rfc3339(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds") + "Z"


def stable_id(rule_id: str, entity: str, first_seen: datetime) -> str:
    """The same misuse found again (a replay, a second run) gets the same id."""
    key = f"{rule_id}\x1f{entity}\x1f{first_seen.isoformat()}".encode()
    return "a-" + hashlib.blake2b(key, digest_size=8).hexdigest()


_SELECT = "SELECT " + ", ".join(ALERT_COLUMNS) + " FROM alerts"


def active_alerts(con: duckdb.DuckDBPyConnection, rule_id: str) -> dict[str, Alert]:
    """The rule's open and acknowledged alerts by id."""
    rows = con.execute(
        _SELECT + " WHERE rule_id = ? AND status IN ('open', 'acknowledged') ORDER BY last_seen",
        [rule_id],
    ).fetchall()
    return {row[0]: Alert(*row) for row in rows}


def known_ids(con: duckdb.DuckDBPyConnection, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = con.execute("SELECT alert_id FROM alerts WHERE alert_id IN (SELECT unnest(?))", [ids])
    return {row[0] for row in rows.fetchall()}


def insert_alerts(con: duckdb.DuckDBPyConnection, alerts: list[Alert]) -> None:
    if not alerts:
        return
    con.register("fresh_alerts", _frame(alerts, ALERT_COLUMNS).to_arrow())
    try:
        names = ", ".join(ALERT_COLUMNS)
        con.execute(f"INSERT INTO alerts ({names}) SELECT {names} FROM fresh_alerts")
    finally:
        con.unregister("fresh_alerts")


def link_evidence(con: duckdb.DuckDBPyConnection, links: pl.DataFrame) -> dict[str, int]:
    """Link events to alerts (each pair once), in bulk; return each touched alert's count.

    `links` has the columns alert_id and event_id."""
    if links.height == 0:
        return {}
    pairs = links.select(pl.col("alert_id").cast(pl.String), pl.col("event_id").cast(pl.Int64))
    pairs = pairs.unique()
    con.register("new_links", pairs.to_arrow())
    try:
        con.execute(
            """INSERT INTO evidence
               SELECT n.alert_id, n.event_id FROM new_links n
               ANTI JOIN evidence e ON e.alert_id = n.alert_id AND e.event_id = n.event_id"""
        )
        rows = con.execute(
            """SELECT alert_id, count(*) FROM evidence
               WHERE alert_id IN (SELECT DISTINCT alert_id FROM new_links) GROUP BY alert_id"""
        ).fetchall()
    finally:
        con.unregister("new_links")
    return {alert_id: int(count) for alert_id, count in rows}


SAVED = (
    "alert_id", "category", "severity", "first_seen", "last_seen", "event_count", "summary",
    "members", "risk", "reasons", "weight",
)  # fmt: skip


def save_alerts(con: duckdb.DuckDBPyConnection, alerts: list[Alert], now: datetime) -> None:
    """Write what a run found again of alerts it created or grew: label, span, count,
    summary, members, risk."""
    if not alerts:
        return
    con.register("changed_alerts", _frame(alerts, SAVED).to_arrow())
    try:
        assignments = ", ".join(f"{c} = c.{c}" for c in SAVED[1:])
        con.execute(
            f"""UPDATE alerts SET {assignments}, updated_at = ?
               FROM changed_alerts c WHERE alerts.alert_id = c.alert_id""",
            [now],
        )
    finally:
        con.unregister("changed_alerts")


def _frame(alerts: list[Alert], columns: tuple[str, ...]) -> pl.DataFrame:
    def value(alert: Alert, column: str) -> Any:
        raw = getattr(alert, column)
        if column in ("members", "reasons") and raw is not None:
            return orjson.dumps(raw).decode()
        return raw

    types: dict[str, pl.DataType] = {
        "mitre": pl.List(pl.String), "assignee": pl.String(), "members": pl.String(),
        "reasons": pl.String(), "risk": pl.Float64(), "weight": pl.Int64(),
    }  # fmt: skip
    return pl.DataFrame(
        {c: [value(a, c) for a in alerts] for c in columns},
        schema_overrides={c: t for c, t in types.items() if c in columns},
    )


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
    return page_alerts(con, AlertFilter(status=status, category=category), None, limit)


def get_alert(con: duckdb.DuckDBPyConnection, alert_id: str) -> Alert | None:
    row = con.execute(_SELECT + " WHERE alert_id = ?", [alert_id]).fetchone()
    return Alert(*row) if row else None


EVIDENCE_COLUMNS = (
    "event_id", "ts", "event", "outcome", "user", "customer_id", "ip", "host", "country",
    "city", "lat", "lon", "user_agent", "session_id", "reason", "risk", "risk_reasons",
)  # fmt: skip


def evidence_rows(
    con: duckdb.DuckDBPyConnection, alert_id: str, limit: int | None = None
) -> list[dict[str, Any]]:
    names = ", ".join(f'e."{c}"' for c in EVIDENCE_COLUMNS[:-2]) + ", r.risk, r.reasons"
    cursor = con.execute(
        f"""SELECT {names} FROM evidence v JOIN events e USING (event_id)
            LEFT JOIN login_risk r USING (event_id)
            WHERE v.alert_id = ? ORDER BY e.ts, e.event_id LIMIT ?""",
        [alert_id, limit],
    )
    return [dict(zip(EVIDENCE_COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def set_status(
    con: duckdb.DuckDBPyConnection, alert_id: str, status: str, actor: str, note: str | None,
    now: datetime,
) -> Alert | None:  # fmt: skip
    """Triage: change the status and keep who, when and why in the alert's history."""
    return update_alert(con, alert_id, actor, now, status=status, note=note)


_UNSET: Any = object()


def update_alert(
    con: duckdb.DuckDBPyConnection,
    alert_id: str,
    actor: str,
    now: datetime,
    status: str | None = None,
    assignee: str | None = _UNSET,
    note: str | None = None,
) -> Alert | None:
    """Change status and/or assignee; the history keeps each change with who, when and why."""
    alert = get_alert(con, alert_id)
    if alert is None:
        return None
    change: dict[str, Any] = {}
    if status is not None and status != alert.status:
        change["status"] = [alert.status, status]
    if assignee is not _UNSET and assignee != alert.assignee:
        change["assignee"] = [alert.assignee, assignee]
    if note:
        change["note"] = note
    if not change:
        return alert
    con.execute(
        "UPDATE alerts SET status = ?, assignee = ?, updated_at = ? WHERE alert_id = ?",
        [
            status or alert.status,
            alert.assignee if assignee is _UNSET else assignee,
            now,
            alert_id,
        ],
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


@dataclass(frozen=True)
class AlertFilter:
    status: str | None = None
    category: str | None = None
    severity: str | None = None
    entity: str | None = None
    since: datetime | None = None  # alerts whose evidence reaches past this time
    until: datetime | None = None  # alerts whose evidence starts before this time


SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES, 1)}
# What the queue can be sorted by, as SQL over the alerts table and as a value of an Alert
# (the cursor of a page keeps the last row's value, so the next page starts after it).
SORT_KEYS: dict[str, tuple[str, Callable[[Alert], Any]]] = {
    "last_seen": ("last_seen", lambda a: a.last_seen),
    "first_seen": ("first_seen", lambda a: a.first_seen),
    "severity": (
        "CASE severity "
        + " ".join(f"WHEN '{name}' THEN {rank}" for name, rank in SEVERITY_RANK.items())
        + " ELSE 0 END",
        lambda a: SEVERITY_RANK.get(a.severity, 0),
    ),
    "events": ("event_count", lambda a: a.event_count),
}


@dataclass(frozen=True)
class AlertOrder:
    key: str = "last_seen"
    descending: bool = True

    @classmethod
    def parse(cls, text: str) -> AlertOrder:
        """`events` (ascending) or `-events` (descending), a key of SORT_KEYS."""
        key = text.removeprefix("-")
        if key not in SORT_KEYS:
            raise ValueError(f"cannot sort by {key!r}: one of {', '.join(SORT_KEYS)}")
        return cls(key, text.startswith("-"))

    @property
    def text(self) -> str:
        return ("-" if self.descending else "") + self.key

    def value(self, alert: Alert) -> Any:
        return SORT_KEYS[self.key][1](alert)


def page_alerts(
    con: duckdb.DuckDBPyConnection,
    where: AlertFilter,
    after: tuple[Any, str] | None,
    limit: int,
    order: AlertOrder = AlertOrder(),
) -> list[Alert]:
    """In `order` (newest activity first by default), ties by id; `after` is the (sort
    value, id) of the previous page's last row."""
    clauses, values = [], []
    for column in ("status", "category", "severity", "entity"):
        value = getattr(where, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            values.append(value)
    if where.since is not None:
        clauses.append("last_seen >= ?")
        values.append(where.since)
    if where.until is not None:
        clauses.append("first_seen < ?")
        values.append(where.until)
    expr = SORT_KEYS[order.key][0]
    if after is not None:
        beyond = "<" if order.descending else ">"
        clauses.append(f"(({expr}) {beyond} ? OR (({expr}) = ? AND alert_id > ?))")
        values += [after[0], after[0], after[1]]
    condition = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    direction = "DESC" if order.descending else "ASC"
    rows = con.execute(
        _SELECT + condition + f" ORDER BY ({expr}) {direction}, alert_id LIMIT ?",
        [*values, limit],
    ).fetchall()
    return [Alert(*row) for row in rows]


def evidence_count(con: duckdb.DuckDBPyConnection, alert_id: str) -> int:
    ((count,),) = con.execute(
        "SELECT count(*) FROM evidence WHERE alert_id = ?", [alert_id]
    ).fetchall()
    return int(count)


def entity_timeline(
    con: duckdb.DuckDBPyConnection, alert: Alert, margin: timedelta
) -> list[dict[str, Any]]:
    """Per hour around the alert's span: the entity's successes and failures, and how many
    of its events are this alert's evidence (so the chart and the evidence list agree)."""
    where, values = _entity_condition(alert)
    rows = con.execute(
        f"""SELECT date_trunc('hour', e.ts) AS hour,
                   count(*) FILTER (WHERE e.outcome = 'success'),
                   count(*) FILTER (WHERE e.outcome = 'failure'),
                   count(v.event_id)
            FROM events e
            LEFT JOIN (SELECT event_id FROM evidence WHERE alert_id = ?) v USING (event_id)
            WHERE e.ts >= ? AND e.ts < ? AND (v.event_id IS NOT NULL OR {where})
            GROUP BY hour ORDER BY hour""",
        [alert.alert_id, alert.first_seen - margin, alert.last_seen + margin, *values],
    ).fetchall()
    return [
        {"hour": _rfc3339(hour), "successes": ok, "failures": failed, "evidence": linked}
        for hour, ok, failed, linked in rows
    ]


def _entity_condition(alert: Alert) -> tuple[str, list[Any]]:
    """SQL over `e` selecting the events of the alert's entity: an account, a session, an
    address, an IPv6 /64 or a host name, or a campaign's member sources."""
    if alert.entity_type == "user":
        return 'e."user" = ?', [alert.entity]
    if alert.entity_type == "session":
        return "e.session_id = ?", [alert.entity]
    if alert.entity_type == "campaign":
        sources = [m["value"] for m in alert.members or []]
        return "(e.ip IN (SELECT unnest(?)) OR e.host IN (SELECT unnest(?)))", [sources, sources]
    if "/" in alert.entity:
        low, high = network_range(alert.entity)
        return "e.ip_bin BETWEEN ? AND ?", [low, high]
    return "(e.ip = ? OR (e.ip IS NULL AND e.host = ?))", [alert.entity, alert.entity]


def activity(con: duckdb.DuckDBPyConnection, since: datetime) -> dict[str, Any]:
    """Counts only (no personal data): events and failures per hour, alerts per day."""
    hours = con.execute(
        """SELECT date_trunc('hour', ts) AS hour, count(*),
                  count(*) FILTER (WHERE outcome = 'failure')
           FROM events WHERE ts >= ? GROUP BY hour ORDER BY hour""",
        [since],
    ).fetchall()
    days = con.execute(
        """SELECT date_trunc('day', first_seen) AS day, category, count(*)
           FROM alerts WHERE first_seen >= ? GROUP BY ALL ORDER BY ALL""",
        [since],
    ).fetchall()
    return {
        "since": _rfc3339(since),
        "hours": [{"hour": _rfc3339(h), "events": n, "failures": f} for h, n, f in hours],
        "alerts_per_day": [{"day": _rfc3339(d), "category": c, "alerts": n} for d, c, n in days],
    }
