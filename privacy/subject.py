"""Right of access (GDPR Art. 15): everything stored about one person, as data and as a
letter in Finnish and English that a DPO can send.

Staff look-ups of the person's data come from the audit log with their dates and purposes,
not who looked (CJEU C-579/21)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import orjson

from privacy.retention import Policy
from store.audit import AuditTrail
from store.stamps import utc_iso

PURPOSES = {
    "en": [
        "information security",
        "access management",
        "investigating misuse",
        "meeting obligations to authorities",
    ],
    "fi": [
        "tietoturva",
        "käyttöoikeuksien hallinta",
        "väärinkäytösten selvittäminen",
        "viranomaisvelvoitteiden täyttäminen",
    ],
}
_EVENT_COLUMNS = (
    "ts", "event", "outcome", "user", "customer_id", "ip", "host", "country", "city",
    "user_agent", "session_id", "reason", "pseudonymised",
)  # fmt: skip


@dataclass(frozen=True)
class Subject:
    user: str | None = None
    customer_id: str | None = None

    def condition(self, alias: str = "e") -> tuple[str, list[Any]]:
        parts, values = [], []
        if self.user:
            parts.append(f'{alias}."user" = ?')
            values.append(self.user)
        if self.customer_id:
            parts.append(f"{alias}.customer_id = ?")
            values.append(self.customer_id)
        if not parts:
            raise ValueError("a subject is a user name or a customer id")
        return "(" + " OR ".join(parts) + ")", values

    def names(self) -> list[str]:
        return [n for n in (self.user, self.customer_id) if n]


def person_events(con: duckdb.DuckDBPyConnection, subject: Subject) -> tuple[str, list[Any]]:
    """SQL condition on events `e`: the person's events. A customer number names the
    account: its user names are the person's too, on events that carry no number."""
    where, values = subject.condition()
    users = con.execute(f'SELECT DISTINCT e."user" FROM events e WHERE {where}', values)
    names = [row[0] for row in users.fetchall()]
    return f'({where} OR list_contains(?, e."user"))', [*values, names]


def _events(con: duckdb.DuckDBPyConnection, subject: Subject) -> list[dict[str, Any]]:
    where, values = person_events(con, subject)
    names = ", ".join(f'e."{c}"' for c in _EVENT_COLUMNS)
    # A login's familiarity score is data about that login too (GDPR Art. 15).
    rows = con.execute(
        f"""SELECT {names}, r.risk, r.reasons FROM events e
            LEFT JOIN login_risk r USING (event_id)
            WHERE {where} ORDER BY e.ts, e.event_id""",
        values,
    ).fetchall()
    columns = (*_EVENT_COLUMNS, "risk", "risk_reasons")
    events = [dict(zip(columns, row, strict=True)) for row in rows]
    for event in events:
        event["ts"] = utc_iso(event["ts"])
    return events


def _alerts(con: duckdb.DuckDBPyConnection, subject: Subject) -> list[dict[str, Any]]:
    where, values = person_events(con, subject)
    rows = con.execute(
        f"""SELECT DISTINCT a.alert_id, a.category, a.summary, a.first_seen, a.last_seen, a.status
            FROM alerts a
            WHERE a.entity IN (SELECT e."user" FROM events e WHERE {where}
                               UNION SELECT e.ip FROM events e WHERE {where})
               OR a.alert_id IN (SELECT v.alert_id FROM evidence v JOIN events e USING (event_id)
                                 WHERE {where})
            ORDER BY a.first_seen""",
        values * 3,
    ).fetchall()
    return [
        {"id": r[0], "category": r[1], "summary": r[2], "first_seen": utc_iso(r[3]),
         "last_seen": utc_iso(r[4]), "status": r[5]}
        for r in rows
    ]  # fmt: skip


def _holds(con: duckdb.DuckDBPyConnection, subject: Subject) -> list[dict[str, Any]]:
    where, values = person_events(con, subject)
    rows = con.execute(
        f"""SELECT h.hold_id, h.kind, h.reason, h.created_at, h.until, h.released_at FROM holds h
            WHERE (h."user" IS NOT NULL AND h."user" = ?)
               OR (h.customer_id IS NOT NULL AND h.customer_id = ?)
               OR (h.ip_low IS NOT NULL AND EXISTS (SELECT 1 FROM events e WHERE {where}
                   AND e.ip_bin BETWEEN h.ip_low AND h.ip_high))
            ORDER BY h.hold_id""",
        [subject.user, subject.customer_id, *values],
    ).fetchall()
    return [
        {"id": r[0], "kind": r[1], "reason": r[2], "since": utc_iso(r[3]), "until": utc_iso(r[4]),
         "released": utc_iso(r[5])}
        for r in rows
    ]  # fmt: skip


def _disclosures(
    con: duckdb.DuckDBPyConnection, subject: Subject, now: datetime
) -> list[dict[str, Any]]:
    """Extracts that held the person's data, except those under a secrecy date not passed."""
    rows = con.execute(
        """SELECT d.disclosed_at, x.authority, x.legal_basis, x.reference, d.events
           FROM disclosures d JOIN extracts x USING (extract_id)
           WHERE (d.subject = ? OR d.customer_id = ?)
             AND (x.secrecy_until IS NULL OR x.secrecy_until <= ?)
           ORDER BY d.disclosed_at""",
        [subject.user, subject.customer_id, now],
    ).fetchall()
    return [
        {"at": utc_iso(at), "authority": authority, "legal_basis": basis, "reference": ref,
         "events": events}
        for at, authority, basis, ref, events in rows
    ]  # fmt: skip


def _lookups(con: duckdb.DuckDBPyConnection, subject: Subject) -> list[dict[str, Any]]:
    """Staff reads that named the person: when and why (not who)."""
    quoted = [orjson.dumps(name).decode() for name in subject.names()]
    clauses = " OR ".join("contains(detail::VARCHAR, ?)" for _ in quoted)
    rows = con.execute(
        f"""SELECT logged_at, action, detail->>'purpose' FROM audit
            WHERE action IN ('events.search', 'alerts.show', 'subject.report') AND ({clauses})
            ORDER BY seq""",
        quoted,
    ).fetchall()
    return [
        {"at": utc_iso(at), "action": action, "purpose": purpose} for at, action, purpose in rows
    ]


def subject_report(
    con: duckdb.DuckDBPyConnection, subject: Subject, policy: Policy, now: datetime
) -> dict[str, Any]:
    return {
        "subject": {"user": subject.user, "customer_id": subject.customer_id},
        "generated_at": utc_iso(now),
        "events": _events(con, subject),
        "alerts": _alerts(con, subject),
        "holds": _holds(con, subject),
        "disclosures": _disclosures(con, subject, now),
        "staff_lookups": _lookups(con, subject),
        "purposes": PURPOSES["en"],
        "retention_days": {
            kind: period.total_seconds() / 86400 for kind, period in policy.periods.items()
        }
        | {"pseudonymise_after": policy.pseudonymise_after.total_seconds() / 86400},
    }


def audited_subject_report(
    trail: AuditTrail, subject: Subject, policy: Policy, now: datetime, actor: str,
    **context: Any,
) -> dict[str, Any]:  # fmt: skip
    """The report, and an audit entry saying it was made (for whom and why, not what)."""
    detail: dict[str, Any] = {"purpose": "right of access (GDPR Art. 15)", **context}
    detail["subject"] = subject.names()
    with trail.change(actor, "subject.report", detail) as con:
        report = subject_report(con, subject, policy, now)
        detail["events"] = len(report["events"])
    return report
