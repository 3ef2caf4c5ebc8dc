"""Counts over the store, for `vahti stats` and /metrics."""

from __future__ import annotations

from typing import Any

from store.db import Store


def stats(store: Store) -> dict[str, Any]:
    con = store.cursor()
    row = con.execute(
        """SELECT count(*),
                  count(*) FILTER (WHERE outcome = 'failure'),
                  count(*) FILTER (WHERE outcome = 'success'),
                  count(DISTINCT "user"),
                  count(DISTINCT ip),
                  min(ts), max(ts)
           FROM events"""
    ).fetchone()
    assert row is not None
    events, failures, successes, users, addresses, first, last = row
    quarantined = _one(con, "SELECT count(*) FROM quarantine")
    sources, skipped = con.execute(
        "SELECT count(*), coalesce(sum(skipped), 0) FROM sources"
    ).fetchone() or (0, 0)
    alerts = _one(con, "SELECT count(*) FROM alerts")
    return {
        "events": events,
        "failures": failures,
        "successes": successes,
        "quarantined": quarantined,
        "sources": sources,
        "alerts": alerts,
        "skipped_lines": int(skipped),
        "users": users,
        "addresses": addresses,
        "first_event": first.isoformat() + "Z" if first else None,
        "last_event": last.isoformat() + "Z" if last else None,
        "schema_version": store.schema_version(),
    }


def _one(con: Any, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0
