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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import orjson

from ingest.sshd import CARRIED_STATE, CARRIED_USER
from privacy.holds import matches
from privacy.retention import names_held
from privacy.scrub import (
    json_value_pattern,
    scrub_members,
    scrub_note,
    scrub_texts,
    sql_pattern,
    text_pattern,
)
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


def holds_on(con: duckdb.DuckDBPyConnection, subject: Subject, now: datetime) -> list[int]:
    """Active holds that cover any of the person's events or name the person, or that keep
    a quarantined line the erasure would remove (`doomed`, made by `_plan`)."""
    where, values = person_events(con, subject)
    rows = con.execute(
        f"""SELECT h.hold_id FROM holds h
            WHERE h.released_at IS NULL AND (h.until IS NULL OR h.until > ?::TIMESTAMP)
              AND ((h."user" IS NOT NULL AND h."user" = ?)
                OR (h.customer_id IS NOT NULL AND h.customer_id = ?)
                OR EXISTS (SELECT 1 FROM events e WHERE {where} AND {matches("e", "h")})
                OR EXISTS (SELECT 1 FROM quarantine q WHERE q.rowid IN (SELECT id FROM doomed)
                           AND {names_held("q", "h")}))
            ORDER BY 1""",
        [now, subject.user, subject.customer_id, *values],
    ).fetchall()
    return [int(row[0]) for row in rows]


# A session id shorter than this may be any number or word in a text (`42`): it still
# names the alerts about a session, but is not looked for in text.
_SHORT_SESSION = 8


@dataclass(frozen=True)
class _Identifiers:
    names: list[str]  # user names and customer numbers: looked for in quarantined lines
    words: list[str]  # ... and long session ids: replaced in the text of alerts about them
    every: list[str]  # ... and every session id: an alert's entity


def _identifiers(con: duckdb.DuckDBPyConnection, subject: Subject) -> _Identifiers:
    rows = con.execute(
        """SELECT DISTINCT x, kind FROM (
               SELECT unnest(["user", customer_id, session_id]) AS x,
                      unnest(['name', 'name', 'session']) AS kind
               FROM events WHERE event_id IN (SELECT event_id FROM erased))
           WHERE x IS NOT NULL AND x <> ''"""
    ).fetchall()
    names = sorted({*subject.names(), *(x for x, kind in rows if kind == "name")})
    sessions = {x for x, kind in rows if kind == "session"}
    long = {x for x in sessions if len(x) >= _SHORT_SESSION}
    return _Identifiers(names, sorted({*names, *long}), sorted({*names, *sessions}))


def _plan(con: duckdb.DuckDBPyConnection, subject: Subject) -> _Identifiers:
    """Temporary tables of what goes: `erased` events, the alerts `about` the person (named
    by them, or resting on their events), the `doomed` quarantined lines; returns the
    person's identifiers."""
    where, values = person_events(con, subject)
    con.execute(f"CREATE TEMP TABLE erased AS SELECT event_id FROM events e WHERE {where}", values)
    ids = _identifiers(con, subject)
    con.execute(
        """CREATE TEMP TABLE about AS SELECT alert_id FROM alerts WHERE list_contains(?, entity)
           UNION SELECT alert_id FROM evidence WHERE event_id IN (SELECT event_id FROM erased)""",
        [ids.every],
    )
    # A JSON line holds a value as a whole JSON string value; other lines as a whole token.
    con.execute(
        """CREATE TEMP TABLE doomed AS SELECT rowid AS id FROM quarantine
           WHERE CASE WHEN starts_with(ltrim(raw), '{') THEN regexp_matches(raw, ?)
                      ELSE regexp_matches(raw, ?) END""",
        [json_value_pattern(ids.names), sql_pattern(ids.names)],
    )
    return ids


def _drop_plan(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("erased", "about", "doomed"):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _erase(con: duckdb.DuckDBPyConnection, ids: _Identifiers, ref: str) -> dict[str, int]:
    ((events,),) = con.execute("SELECT count(*) FROM erased").fetchall()
    for table in ("evidence", "login_risk", "events"):
        con.execute(f"DELETE FROM {table} WHERE event_id IN (SELECT event_id FROM erased)")
    ((lines,),) = con.execute(
        "DELETE FROM quarantine WHERE rowid IN (SELECT id FROM doomed)"
    ).fetchall()
    found = text_pattern(ids.words)
    alerts = _scrub_alerts(con, ids.every, found, ref)
    _forget_carried_lines(con, set(ids.names))
    return {"events": int(events), "quarantined_lines": int(lines), "alerts": alerts}


def _scrub_alerts(
    con: duckdb.DuckDBPyConnection, ids: list[str], found: re.Pattern[str], ref: str
) -> int:
    """The identifiers out of the alerts about the person: entity, summary, reasons,
    campaign members' values and triage notes (a few rows: read, rewritten, written back)."""
    rows = con.execute(
        "SELECT alert_id, entity, summary, reasons, members FROM alerts "
        "WHERE alert_id IN (SELECT alert_id FROM about)"
    ).fetchall()
    for alert_id, entity, summary, reasons, members in rows:
        con.execute(
            "UPDATE alerts SET entity = ?, summary = ?, reasons = ?, members = ? "
            "WHERE alert_id = ?",
            [ref if entity in ids else entity, found.sub(ref, summary),
             _json(scrub_texts(_loaded(reasons), found, ref)),
             _json(scrub_members(_loaded(members), found, ref)), alert_id],
        )  # fmt: skip
    notes = con.execute(
        "SELECT rowid, change FROM alert_history WHERE alert_id IN (SELECT alert_id FROM about)"
    ).fetchall()
    for rowid, change in notes:
        con.execute(
            "UPDATE alert_history SET change = ? WHERE rowid = ?",
            [_json(scrub_note(orjson.loads(change), found, ref)), rowid],
        )
    return len(rows)


def _forget_carried_lines(con: duckdb.DuckDBPyConnection, ids: set[str]) -> None:
    """A parser's carry-over (the sshd lines of connections still open at a batch's end)
    may name the person: those lines go (pairing loses at most their connection)."""
    rows = con.execute(
        "SELECT source_id, parse_state FROM sources WHERE parse_state IS NOT NULL "
        "AND json_exists(parse_state, ?)",
        [f"$.{CARRIED_STATE}"],
    ).fetchall()
    for source_id, state_text in rows:
        state = orjson.loads(state_text)
        carried = state.get(CARRIED_STATE) or []
        kept = [line for line in carried if line[CARRIED_USER] not in ids]
        if len(kept) != len(carried):
            state[CARRIED_STATE] = kept
            con.execute(
                "UPDATE sources SET parse_state = ? WHERE source_id = ?", [_json(state), source_id]
            )


def _loaded(value: str | None) -> Any:
    return None if value is None else orjson.loads(value)


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def erase_subject(
    trail: AuditTrail, subject: Subject, actor: str, now: datetime, **context: Any
) -> dict[str, Any]:
    """Remove the person's data in one transaction with its audit entry (which names only
    a pseudonymous reference); raises ErasureRefused when a legal hold covers it. The
    caller compacts the file afterwards, as the purge does."""
    ref = subject_ref(subject)
    detail: dict[str, Any] = {"purpose": "erasure on request", "subject_ref": ref, **context}
    with trail.change(actor, "subject.erase", detail) as con:
        try:
            ids = _plan(con, subject)
            held = holds_on(con, subject, now)
            if held:
                raise ErasureRefused(held)
            detail.update(_erase(con, ids, ref))
        finally:
            _drop_plan(con)
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
