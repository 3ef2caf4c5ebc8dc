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
    sources, files, skipped = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE kind = 'file'), coalesce(sum(skipped), 0)
           FROM sources"""
    ).fetchone() or (0, 0, 0)
    # Events that are neither a failed nor a successful login, by kind: the counts add up.
    other = dict(
        con.execute(
            """SELECT event, count(*) FROM events WHERE outcome IS NULL
                  OR outcome NOT IN ('failure', 'success') GROUP BY event ORDER BY event"""
        ).fetchall()
    )
    alerts = _one(con, "SELECT count(*) FROM alerts")
    return {
        "events": events,
        "failures": failures,
        "successes": successes,
        "other_events": sum(other.values()),
        "other_kinds": other,
        "quarantined": quarantined,
        "sources": sources,  # files and pushed batches (the contract's name)
        "files": files,
        "pushed_batches": sources - files,
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
