"""Retention: how long each kind of personal data is kept, what is due, and the purge that
deletes it (honouring legal holds) and pseudonymises what is older than the threshold."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb

from privacy.holds import covers
from privacy.pseudonymise import pseudonymise_events


def names_held(line: str, hold: str) -> str:
    """SQL: quarantined line `line`'s raw text names what hold `hold` holds."""
    q, h = line, hold
    return (f"""(({h}."user" IS NOT NULL AND contains({q}.raw, {h}."user"))
      OR ({h}.customer_id IS NOT NULL AND contains({q}.raw, {h}.customer_id))
      OR ({h}.ip IS NOT NULL AND contains({q}.raw, split_part({h}.ip, '/', 1))))""")  # fmt: skip


# SQL: an active hold covers this quarantined line (its raw text names the held person or
# address) or this alert (it names them, or its evidence is held). One parameter: now.
_HOLD_QUARANTINE = f"""EXISTS (SELECT 1 FROM holds h WHERE h.released_at IS NULL
    AND (h.until IS NULL OR h.until > ?::TIMESTAMP) AND {names_held("q", "h")})"""
_HOLD_ALERT = (
    """(EXISTS (SELECT 1 FROM holds h WHERE h.released_at IS NULL
    AND (h.until IS NULL OR h.until > ?::TIMESTAMP)
    AND (a.entity = h."user" OR a.entity = h.ip))
 OR EXISTS (SELECT 1 FROM evidence v JOIN events e USING (event_id)
    WHERE v.alert_id = a.alert_id AND """
    + covers("e", "h2")
    + "))"
)


@dataclass(frozen=True)
class Kind:
    name: str
    table: str  # with its alias
    time_column: str
    held: str | None  # SQL condition, parameters: now (once per `?`)
    what: str


KINDS = (
    Kind("events", "events e", "e.ts", covers("e", "h"), "login and session events"),
    Kind("quarantine", "quarantine q", "q.quarantined_at", _HOLD_QUARANTINE, "unparsed lines"),
    Kind("alerts", "alerts a", "a.last_seen", _HOLD_ALERT, "alerts and their evidence links"),
    Kind("audit", "audit x", "x.logged_at", None, "audit entries"),
)


@dataclass(frozen=True)
class Policy:
    periods: dict[str, timedelta]  # kind -> retention
    pseudonymise_after: timedelta

    def cutoff(self, kind: str, now: datetime) -> datetime:
        return now - self.periods[kind]


@dataclass
class KindStatus:
    kind: str
    what: str
    retention_days: float
    cutoff: datetime
    rows: int
    oldest: datetime | None
    due: int
    held_back: int

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "what": self.what,
            "retention_days": self.retention_days,
            "cutoff": self.cutoff.isoformat() + "Z",
            "rows": self.rows,
            "oldest": self.oldest.isoformat() + "Z" if self.oldest else None,
            "due": self.due,
            "held_back": self.held_back,
        }


def _held_sql(kind: Kind) -> tuple[str, int]:
    if kind.held is None:
        return "false", 0
    return kind.held, kind.held.count("?")


def kind_status(
    con: duckdb.DuckDBPyConnection, kind: Kind, policy: Policy, now: datetime
) -> KindStatus:
    cutoff = policy.cutoff(kind.name, now)
    held, params = _held_sql(kind)
    ((rows, oldest, old, held_back),) = con.execute(
        f"""SELECT count(*), min({kind.time_column}),
                   count(*) FILTER (WHERE {kind.time_column} < ?),
                   count(*) FILTER (WHERE {kind.time_column} < ? AND {held})
            FROM {kind.table}""",
        [cutoff, cutoff, *[now] * params],
    ).fetchall()
    return KindStatus(
        kind.name, kind.what, policy.periods[kind.name].total_seconds() / 86400, cutoff,
        int(rows), oldest, int(old) - int(held_back), int(held_back),
    )  # fmt: skip


def pseudonymisation_status(
    con: duckdb.DuckDBPyConnection, policy: Policy, now: datetime
) -> dict[str, Any]:
    cutoff = now - policy.pseudonymise_after
    ((done, old, held_back),) = con.execute(
        f"""SELECT count(*) FILTER (WHERE pseudonymised),
                   count(*) FILTER (WHERE NOT pseudonymised AND ts < ?),
                   count(*) FILTER (WHERE NOT pseudonymised AND ts < ? AND {covers("e", "h")})
            FROM events e""",
        [cutoff, cutoff, now],
    ).fetchall()
    return {
        "after_days": policy.pseudonymise_after.total_seconds() / 86400,
        "cutoff": cutoff.isoformat() + "Z",
        "pseudonymised": int(done),
        "due": int(old) - int(held_back),
        "held_back": int(held_back),
    }


@dataclass
class PurgeReport:
    now: datetime
    dry_run: bool
    kinds: list[dict[str, Any]] = field(default_factory=list)
    pseudonymised: int = 0
    compacted: dict[str, int] | None = None

    @property
    def removed(self) -> int:
        return sum(k["deleted"] for k in self.kinds) + self.pseudonymised

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.now.isoformat() + "Z",
            "dry_run": self.dry_run,
            "kinds": self.kinds,
            "pseudonymised": self.pseudonymised,
            "compacted": self.compacted,
        }


def delete_due(
    con: duckdb.DuckDBPyConnection, kind: Kind, policy: Policy, now: datetime
) -> dict[str, Any]:
    """Delete one kind's due rows (and what hangs on them), inside the caller's transaction."""
    status = kind_status(con, kind, policy, now)
    held, params = _held_sql(kind)
    alias = kind.table.split()[1]
    due = f"{kind.time_column} < ? AND NOT ({held})"
    values = [status.cutoff, *[now] * params]
    if kind.name == "alerts":
        for dependent in ("evidence", "alert_history"):
            con.execute(
                f"DELETE FROM {dependent} WHERE alert_id IN "
                f"(SELECT a.alert_id FROM alerts a WHERE {due})",
                values,
            )
    if kind.name == "audit":
        return {**status.as_json(), "deleted": _purge_audit(con, status.cutoff, now)}
    con.execute(f"DELETE FROM {kind.table.split()[0]} {alias} WHERE {due}", values)
    if kind.name == "events" and status.due:
        # Evidence links to events that are gone would point at nothing, and a login's
        # risk score is personal data of that login: both go with it.
        for dependent in ("evidence", "login_risk"):
            con.execute(
                f"DELETE FROM {dependent} WHERE event_id NOT IN (SELECT event_id FROM events)"
            )
    return {**status.as_json(), "deleted": status.due}


def next_start(con: duckdb.DuckDBPyConnection, cutoff: datetime) -> tuple[int, str] | None:
    """Where the chain will start after the purge: the last entry of the leading run older
    than `cutoff` (by entry number: an entry logged under a clock set back stays, and so
    does every one after it, or the chain would have a hole), or None."""
    rows = con.execute(
        """SELECT seq, hash FROM audit
           WHERE seq < coalesce((SELECT min(seq) FROM audit WHERE logged_at >= ?),
                                (SELECT max(seq) + 1 FROM audit))
           ORDER BY seq DESC LIMIT 1""",
        [cutoff],
    ).fetchall()
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def _purge_audit(con: duckdb.DuckDBPyConnection, cutoff: datetime, now: datetime) -> int:
    """Verification of the chain will start after the last entry that is purged."""
    start = next_start(con, cutoff)
    if start is None:
        return 0
    con.execute("DELETE FROM audit_anchor")
    con.execute("INSERT INTO audit_anchor VALUES (?, ?, ?)", [*start, now])
    ((deleted,),) = con.execute("DELETE FROM audit WHERE seq <= ?", [start[0]]).fetchall()
    return int(deleted)


def status(con: duckdb.DuckDBPyConnection, policy: Policy, now: datetime) -> dict[str, Any]:
    kinds = [kind_status(con, kind, policy, now).as_json() for kind in KINDS]
    last = con.execute(
        "SELECT logged_at, actor, detail FROM audit WHERE action = 'retention.purge' "
        "ORDER BY seq DESC LIMIT 1"
    ).fetchall()
    return {
        "now": now.isoformat() + "Z",
        "kinds": kinds,
        "pseudonymisation": pseudonymisation_status(con, policy, now),
        "last_purge": ({"at": last[0][0].isoformat() + "Z", "by": last[0][1]} if last else None),
    }


def pseudonymise_due(con: duckdb.DuckDBPyConnection, policy: Policy, now: datetime) -> int:
    return pseudonymise_events(con, now - policy.pseudonymise_after, covers("e", "h"), now)
