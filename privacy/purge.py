"""The purge: one transaction per kind of data (each with its audit entry), then
pseudonymisation, then compaction so that what was deleted is gone from the file too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from privacy.retention import (
    KINDS,
    Policy,
    PurgeReport,
    delete_due,
    kind_status,
    next_start,
    pseudonymisation_status,
    pseudonymise_due,
)
from store import Store
from store.audit import AuditTrail
from store.compaction import compact, compaction_owed, owe_compaction, settle_compaction


def dry_run(
    store: Store, audit: AuditTrail, policy: Policy, now: datetime, actor: str
) -> PurgeReport:
    report = PurgeReport(now, dry_run=True)
    cursor = store.cursor()
    try:
        for kind in KINDS:
            status = kind_status(cursor, kind, policy, now)
            report.kinds.append({**status.as_json(), "deleted": 0})
        report.pseudonymised = 0
        pseudonymise = pseudonymisation_status(cursor, policy, now)
    finally:
        cursor.close()
    detail = {"purpose": "retention", **report.as_json(), "pseudonymise_due": pseudonymise["due"]}
    audit.record(actor, "retention.dry_run", detail)
    return report


def purge(
    store: Store, audit: AuditTrail, policy: Policy, now: datetime, actor: str,
    announce: Callable[[tuple[int, str]], object] | None = None,
) -> PurgeReport:  # fmt: skip
    """Delete what is due, pseudonymise what is old, compact if anything went (or a
    compaction is still owed from an interrupted run). `actor` is a person or a job.
    `announce`: told where the audit chain will start before the purge moves it there (a
    signed checkpoint says so; it refuses, and so stops the purge, if the log was changed)."""
    report = PurgeReport(now, dry_run=False)
    start = next_start(store.con, policy.cutoff("audit", now))
    if announce is not None and start is not None:
        announce(start)
    owed = compaction_owed(store.path)
    mine = owe_compaction(store.path)  # before any delete commits: a crash leaves the debt
    for kind in KINDS:
        detail: dict[str, Any] = {"purpose": "retention", "kind": kind.name}
        with audit.change(actor, "retention.purge", detail) as con:
            result = delete_due(con, kind, policy, now)
            detail.update(result)
        report.kinds.append(result)
    detail = {"purpose": "retention", "kind": "pseudonymisation"}
    with audit.change(actor, "retention.pseudonymise", detail) as con:
        report.pseudonymised = pseudonymise_due(con, policy, now)
        detail["pseudonymised"] = report.pseudonymised
    if report.removed or owed:
        _compact(store, audit, actor, report)
    else:
        settle_compaction(store.path, mine)  # nothing was deleted: nothing is owed
    if compaction_owed(store.path):  # an erasure while this ran: its rows leave the file too
        _compact(store, audit, actor, report)
    return report


def _compact(store: Store, audit: AuditTrail, actor: str, report: PurgeReport) -> None:
    with store.gate.exclusive():
        before, after = compact(store)
    report.compacted = {"bytes_before": before, "bytes_after": after}
    audit.record(actor, "retention.compact", {"purpose": "retention", **report.compacted})
