"""One entity (an address, an account or a session) as an analyst looks it up: its alerts,
where its logins came from, its days, what its logins usually look like (the familiarity
profile) and who or what it met (the accounts of an address, the addresses of an account)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from analytics.familiarity import client_levels
from store.events import EventQuery, event_conditions
from store.stamps import utc_iso

KINDS = ("ip", "user", "session")
# The levels of the familiarity profile (analytics/familiarity.py): where from, what with.
PROFILE_LEVELS = ("country", "city", "network", "browser", "os", "device")


@dataclass(frozen=True)
class Entity:
    kind: str  # ip | user | session
    value: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind of entity {self.kind!r}: one of {', '.join(KINDS)}")

    def query(self) -> EventQuery:
        """Every event of the entity (an address may be a CIDR)."""
        if self.kind == "ip":
            return EventQuery(ip=self.value)
        if self.kind == "user":
            return EventQuery(user=self.value)
        return EventQuery(session_id=self.value)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _where(entity: Entity, since: datetime | None) -> tuple[str, list[Any]]:
    clauses: list[str]
    values: list[Any]
    if entity.kind == "ip" and not _is_address(entity.value):  # a source known by name only
        clauses, values = ["e.host = ?"], [entity.value]
    else:
        clauses, values = event_conditions(entity.query())
    if since is not None:
        clauses.append("e.ts >= ?")
        values.append(since)
    return " AND ".join(clauses), values


def totals(con: duckdb.DuckDBPyConnection, entity: Entity) -> dict[str, Any]:
    where, values = _where(entity, None)
    ((events, ok, failed, first, last),) = con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE outcome = 'success'),
                   count(*) FILTER (WHERE outcome = 'failure'), min(ts), max(ts)
            FROM events e WHERE {where}""",
        values,
    ).fetchall()
    return {"events": events, "successes": ok, "failures": failed, "first_seen": utc_iso(first),
            "last_seen": utc_iso(last)}  # fmt: skip


def days(con: duckdb.DuckDBPyConnection, entity: Entity, since: datetime) -> list[dict]:
    """Successes and failures per day from `since`: the timeline."""
    where, values = _where(entity, since)
    rows = con.execute(
        f"""SELECT date_trunc('day', ts) AS day, count(*) FILTER (WHERE outcome = 'success'),
                   count(*) FILTER (WHERE outcome = 'failure')
            FROM events e WHERE {where} GROUP BY day ORDER BY day""",
        values,
    ).fetchall()
    return [{"day": utc_iso(d), "successes": ok, "failures": bad} for d, ok, bad in rows]


def places(con: duckdb.DuckDBPyConnection, entity: Entity, since: datetime) -> list[dict]:
    """Where its events came from (places with coordinates), busiest first."""
    where, values = _where(entity, since)
    rows = con.execute(
        f"""SELECT lat, lon, any_value(city), any_value(country),
                   count(*) FILTER (WHERE outcome = 'success'),
                   count(*) FILTER (WHERE outcome = 'failure'), min(ts), max(ts)
            FROM events e WHERE {where} AND lat IS NOT NULL
            GROUP BY lat, lon ORDER BY count(*) DESC, lat, lon LIMIT 50""",
        values,
    ).fetchall()
    names = ("lat", "lon", "city", "country", "successes", "failures", "first", "last")
    found = [dict(zip(names, row, strict=True)) for row in rows]
    for place in found:
        place["first"], place["last"] = utc_iso(place["first"]), utc_iso(place["last"])
    return found


def counterparts(con: duckdb.DuckDBPyConnection, entity: Entity, since: datetime) -> list[dict]:
    """The accounts an address or session was used for; the addresses an account used."""
    other = '"user"' if entity.kind in ("ip", "session") else "ip"
    where, values = _where(entity, since)
    rows = con.execute(
        f"""SELECT {other} AS value, count(*) FILTER (WHERE outcome = 'success'),
                   count(*) FILTER (WHERE outcome = 'failure'), max(ts)
            FROM events e WHERE {where} AND {other} IS NOT NULL
            GROUP BY value ORDER BY count(*) DESC, value LIMIT 100""",
        values,
    ).fetchall()
    kind = "user" if other == '"user"' else "ip"
    return [{"kind": kind, "value": v, "successes": ok, "failures": bad, "last": utc_iso(last)}
            for v, ok, bad, last in rows]  # fmt: skip


def profile(con: duckdb.DuckDBPyConnection, entity: Entity, since: datetime) -> dict[str, list]:
    """Per level, the values its successful logins had: how many, first and last time.
    What an unfamiliar login is measured against (analytics/familiarity.py)."""
    where, values = _where(entity, since)
    table = con.sql(
        f"""SELECT ts, country, city, coalesce(as_org, CAST(asn AS VARCHAR)) AS network,
                   user_agent
            FROM events e WHERE {where} AND outcome = 'success'""",
        params=values,
    ).to_arrow_table()
    logins = pl.from_arrow(table)
    assert isinstance(logins, pl.DataFrame)
    if logins.is_empty():
        return {level: [] for level in PROFILE_LEVELS}
    clients = client_levels(logins["user_agent"])
    joined = logins.join(clients, on="user_agent", how="left")
    return {level: _level_rows(joined, level) for level in PROFILE_LEVELS}


def _level_rows(logins: pl.DataFrame, level: str) -> list[dict[str, Any]]:
    counted = (
        logins.filter(pl.col(level).is_not_null())
        .group_by(level)
        .agg(
            pl.len().alias("logins"),
            pl.col("ts").min().alias("first"),
            pl.col("ts").max().alias("last"),
        )
        .sort(["logins", level], descending=[True, False])
        .head(10)
    )
    return [
        {"value": row[level], "logins": row["logins"], "first": utc_iso(row["first"]),
         "last": utc_iso(row["last"])}
        for row in counted.iter_rows(named=True)
    ]  # fmt: skip


def alerts_of(con: duckdb.DuckDBPyConnection, entity: Entity) -> list[dict[str, Any]]:
    """Alerts about the entity, and alerts whose evidence holds its events (a campaign's
    member, an account in a spraying run), newest activity first."""
    where, values = _where(entity, None)
    rows = con.execute(
        f"""SELECT a.alert_id, a.category, a.severity, a.status, a.summary, a.first_seen,
                   a.last_seen, a.event_count, a.entity = ? AS about
            FROM alerts a
            WHERE a.entity = ? OR a.alert_id IN (
                SELECT v.alert_id FROM evidence v JOIN events e USING (event_id) WHERE {where})
            ORDER BY a.last_seen DESC, a.alert_id LIMIT 200""",
        [entity.value, entity.value, *values],
    ).fetchall()
    names = ("id", "category", "severity", "status", "summary", "first_seen", "last_seen",
             "event_count", "about")  # fmt: skip
    found = [dict(zip(names, row, strict=True)) for row in rows]
    for alert in found:
        alert["first_seen"], alert["last_seen"] = (
            utc_iso(alert["first_seen"]),
            utc_iso(alert["last_seen"]),
        )
    return found
