"""Erasure on request (GDPR Art. 17): a person's events, the quarantined lines naming them
and the personal fields of alerts about them are removed, physically (the compaction of
the purge follows), unless a legal hold covers them; then nothing is removed and the holds
are named.

What stays, and why: the audit log (who processed whose data is itself a record the
controller must keep; its chain cannot be edited) and the disclosure register (a record of
a legal obligation, Art. 17(3)(b)). The erasure's own audit entry names the person only by
a pseudonymous reference, which the DPO keeps with the request."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from typing import Any

import duckdb

from privacy.holds import matches
from privacy.subject import Subject, person_events
from store import Store
from store.audit import AuditTrail
from store.compaction import compact, owe_compaction


class ErasureRefused(Exception):
    """Legal holds cover the person's data; the message names them."""

    def __init__(self, holds: list[int]) -> None:
        super().__init__(
            "legal hold " + ", ".join(map(str, holds)) + " covers this person's data: "
            "release it first, or keep the data while the hold lasts"
        )
        self.holds = holds


def subject_ref(subject: Subject) -> str:
    """A reference to the person that does not name them (salted: not a dictionary hash)."""
    salt = secrets.token_bytes(16)
    return "subject-" + hashlib.sha256(salt + "|".join(subject.names()).encode()).hexdigest()[:16]


# What a user name, customer number or session id may hold: a match with one of these
# on either side is part of a longer identifier (ann in joanna, in ann.smith): another's.
_IDENTIFIER = r"A-Za-z0-9_.@+\-"


def _pattern(identifiers: list[str]) -> str:
    """RE2: any of the identifiers as a whole token (group 2), with what bounds it."""
    alternatives = "|".join(re.escape(i) for i in sorted(identifiers, key=len, reverse=True))
    return f"(^|[^{_IDENTIFIER}])({alternatives})($|[^{_IDENTIFIER}])"


def _scrub(column: str) -> str:
    """SQL: `column` (text) with every whole-token identifier replaced by the reference.
    Twice: a match takes the character after it, which may bound the next one."""
    once = f"regexp_replace({column}, $pattern, '\\1' || $ref || '\\3', 'g')"
    return once.replace(column, once, 1)


def holds_on(con: duckdb.DuckDBPyConnection, subject: Subject, now: datetime) -> list[int]:
    """Active holds that cover any of the person's events or name the person."""
    where, values = person_events(con, subject)
    rows = con.execute(
        f"""SELECT h.hold_id FROM holds h
            WHERE h.released_at IS NULL AND (h.until IS NULL OR h.until > ?::TIMESTAMP)
              AND ((h."user" IS NOT NULL AND h."user" = ?)
                OR (h.customer_id IS NOT NULL AND h.customer_id = ?)
                OR EXISTS (SELECT 1 FROM events e WHERE {where} AND {matches("e", "h")}))
            ORDER BY 1""",
        [now, subject.user, subject.customer_id, *values],
    ).fetchall()
    return [int(row[0]) for row in rows]


def _identifiers(con: duckdb.DuckDBPyConnection, subject: Subject) -> list[str]:
    """The person's user names, customer numbers and session ids (from the erased events)."""
    rows = con.execute(
        """SELECT DISTINCT x FROM (SELECT unnest(["user", customer_id, session_id]) AS x
                                   FROM events WHERE event_id IN (SELECT event_id FROM erased))
           WHERE x IS NOT NULL AND x <> ''"""
    ).fetchall()
    return sorted({*subject.names(), *(row[0] for row in rows)})


def _erase(con: duckdb.DuckDBPyConnection, subject: Subject, ref: str) -> dict[str, int]:
    where, values = person_events(con, subject)
    con.execute(f"CREATE TEMP TABLE erased AS SELECT event_id FROM events e WHERE {where}", values)
    try:
        ids = _identifiers(con, subject)
        named = {"pattern": _pattern(ids), "ref": ref, "ids": ids}
        # Alerts about the person: named by them, or resting on their events.
        con.execute(
            """CREATE TEMP TABLE about AS SELECT alert_id FROM alerts
               WHERE list_contains($ids, entity)
               UNION SELECT alert_id FROM evidence
               WHERE event_id IN (SELECT event_id FROM erased)""",
            {"ids": ids},
        )
        ((events,),) = con.execute("SELECT count(*) FROM erased").fetchall()
        for table in ("evidence", "login_risk", "events"):
            con.execute(f"DELETE FROM {table} WHERE event_id IN (SELECT event_id FROM erased)")
        alerts = con.execute(
            f"""UPDATE alerts SET
                  entity = CASE WHEN list_contains($ids, entity) THEN $ref ELSE entity END,
                  summary = {_scrub("summary")},
                  reasons = {_scrub("reasons::VARCHAR")}::JSON,
                  members = {_scrub("members::VARCHAR")}::JSON
                WHERE alert_id IN (SELECT alert_id FROM about)""",
            named,
        ).fetchall()
        con.execute(  # triage notes may name the person too
            f"""UPDATE alert_history SET change = {_scrub("change::VARCHAR")}::JSON
                WHERE alert_id IN (SELECT alert_id FROM about)
                   OR regexp_matches(change::VARCHAR, $pattern)""",
            {k: named[k] for k in ("pattern", "ref")},
        )
    finally:
        con.execute("DROP TABLE IF EXISTS erased")
        con.execute("DROP TABLE IF EXISTS about")
    quarantined = con.execute(
        "DELETE FROM quarantine WHERE regexp_matches(raw, ?)", [named["pattern"]]
    ).fetchall()
    con.execute(  # a parser's carry-over (recent sshd lines) may hold the name
        f"UPDATE sources SET parse_state = {_scrub('parse_state::VARCHAR')}::JSON "
        "WHERE regexp_matches(parse_state::VARCHAR, $pattern)",
        {k: named[k] for k in ("pattern", "ref")},
    )
    return {"events": int(events), "quarantined_lines": int(quarantined[0][0]),
            "alerts": int(alerts[0][0])}  # fmt: skip


def erase_subject(
    trail: AuditTrail, subject: Subject, actor: str, now: datetime, **context: Any
) -> dict[str, Any]:
    """Remove the person's data in one transaction with its audit entry (which names only
    a pseudonymous reference); raises ErasureRefused when a legal hold covers it. The
    caller compacts the file afterwards, as the purge does."""
    ref = subject_ref(subject)
    detail: dict[str, Any] = {"purpose": "erasure on request", "subject_ref": ref, **context}
    with trail.change(actor, "subject.erase", detail) as con:
        held = holds_on(con, subject, now)
        if held:
            raise ErasureRefused(held)
        detail.update(_erase(con, subject, ref))
    return {k: v for k, v in detail.items() if k not in context}


def erase_and_compact(
    store: Store, trail: AuditTrail, subject: Subject, actor: str, now: datetime
) -> dict[str, Any]:
    """Erase, then compact so the rows are gone from the file too (the caller has the
    database alone: the CLI, or the server's one worker)."""
    owe_compaction(store.path)  # before the delete commits: a crash leaves the debt on record
    result = erase_subject(trail, subject, actor, now)
    with store.gate.exclusive():
        before, after = compact(store)
    compacted = {"bytes_before": before, "bytes_after": after}
    trail.record(actor, "subject.compact", {"purpose": "erasure on request", **compacted})
    return {**result, "compacted": compacted}
