"""The detection run: new events plus each rule's look-back, through its detector, into alerts.

Live runs read what arrived since each rule's watermark (by event id, so late events with
old timestamps are still seen) plus the rule's look-back in event time. Backfill runs read
a time range and leave the watermarks alone. Either way the findings merge into alerts in
one transaction: the same misuse extends its open alert, a second run raises nothing new.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from analytics.detectors import DETECTORS
from analytics.detectors.common import Reads
from analytics.rules import Rule
from store import Store
from store.addresses import network_range
from store.alerts import (
    Alert,
    active_alerts,
    insert_alerts,
    known_ids,
    link_evidence,
    save_alerts,
    set_watermark,
    stable_id,
    watermark,
)


@dataclass
class RuleReport:
    rule_id: str
    findings: int = 0
    events: int = 0  # rows the rule read
    new: int = 0
    updated: int = 0
    seconds: float = 0.0


@dataclass
class RunReport:
    events: int = 0  # rows read
    rules: list[RuleReport] = field(default_factory=list)

    @property
    def new(self) -> int:
        return sum(r.new for r in self.rules)

    @property
    def updated(self) -> int:
        return sum(r.updated for r in self.rules)


@dataclass(frozen=True)
class Window:
    """Backfill: replay history between two instants (naive UTC)."""

    since: datetime
    until: datetime


def run_detection(
    store: Store,
    rules: list[Rule],
    window: Window | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> RunReport:
    """All rules in one transaction. `checkpoint` is called between rules and may raise to
    abandon the run: then nothing of it is written and the next run starts where this did."""
    now = datetime.now(UTC).replace(tzinfo=None)
    con = store.con
    top = con.execute("SELECT coalesce(max(event_id), 0) FROM events").fetchone()
    max_id = int(top[0]) if top else 0
    plans = _plans(store, [r for r in rules if r.enabled], window, max_id)
    report = RunReport()
    with store.transaction():
        for rule, start, seen in plans:
            if checkpoint is not None:
                checkpoint()
            report.rules.append(_run_rule(store, rule, start, seen, window, now))
            if window is None:
                set_watermark(con, rule.id, max_id, now)
    report.events = max((r.events for r in report.rules), default=0)
    return report


def _plans(
    store: Store, rules: list[Rule], window: Window | None, max_id: int
) -> list[tuple[Rule, datetime, int]]:
    """(rule, earliest event time it needs, watermark) for the rules with work to do."""
    plans = []
    earliest_new: dict[int, datetime | None] = {}  # rules usually share one watermark
    for rule in rules:
        if window is not None:
            plans.append((rule, window.since - rule.lookback, 0))
            continue
        seen = watermark(store.con, rule.id)
        if seen >= max_id:
            continue
        if seen not in earliest_new:
            ((earliest_new[seen],),) = store.con.execute(
                "SELECT min(ts) FROM events WHERE event_id > ?", [seen]
            ).fetchall()
        first = earliest_new[seen]
        if first is not None:
            plans.append((rule, first - rule.lookback, seen))
    return plans


def _load(store: Store, reads: Reads, start: datetime, window: Window | None) -> pl.DataFrame:
    """Only the columns and rows the detector looks at: DuckDB filters, Polars detects.

    The groups that can reach a finding are found first, on their own: given as a
    registered table of known size, DuckDB builds its join on them (a few thousand keys)
    and not on the events (millions). One query with the groups as a subquery took 3x as
    long at 10M events (docs/benchmarks.md)."""
    names = ", ".join(f'"{c}"' for c in reads.columns)
    where, values = _conditions(reads, start, window)
    cursor = store.cursor()
    group, candidates = reads.group, reads.candidates
    if candidates is None and group is not None and reads.having is not None:
        candidates = f'SELECT "{group}" FROM scope GROUP BY 1 HAVING {reads.having}'
    sql = f"SELECT {names} FROM events WHERE {where}"
    if candidates is not None and group is not None:
        needed = dict.fromkeys((*reads.columns, group, "ip_version"))
        scope = ", ".join(f'"{c}"' for c in needed)
        wanted = cursor.sql(
            f"WITH scope AS (SELECT {scope} FROM events WHERE {where}) {candidates}", params=values
        ).to_arrow_table()
        keep_ipv6 = " OR ip_version = 6" if group == "ip" else ""
        if wanted.num_rows == 0 and not keep_ipv6:
            sql += " AND false"  # nothing can reach a finding: no second scan
        else:
            cursor.register("wanted_groups", wanted.rename_columns(["key"]))
            sql += f' AND ("{group}" IN (SELECT key FROM wanted_groups){keep_ipv6})'
    table = cursor.sql(sql, params=values).to_arrow_table()  # detectors sort by key
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _conditions(reads: Reads, start: datetime, window: Window | None) -> tuple[str, list[object]]:
    clauses: list[str] = ["ts >= ?"]
    values: list[object] = [start]
    if window is not None:
        clauses.append("ts <= ?")
        values.append(window.until)
    for column, allowed in reads.equals:
        clauses.append(f'"{column}" IN (SELECT unnest(?::VARCHAR[]))')
        values.append(list(allowed))
    clauses.extend(f'"{column}" IS NOT NULL' for column in reads.not_null)
    return " AND ".join(clauses), values


def _excepted(frame: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    """Drop the rule's excepted users and networks before its detector sees the events."""
    keep = pl.lit(True)
    if rule.exceptions.users:
        keep &= ~pl.col("user").is_in(list(rule.exceptions.users))
    for cidr in rule.exceptions.cidrs:
        low, high = network_range(cidr)
        keep &= ~pl.col("ip_bin").is_between(low, high).fill_null(False)
    return frame.filter(keep)


def _run_rule(
    store: Store, rule: Rule, start: datetime, seen: int, window: Window | None, now: datetime
) -> RuleReport:
    clock = time.perf_counter()
    params = rule.detector_params()
    events = _excepted(_load(store, params.reads(), start, window), rule)
    findings = DETECTORS[rule.detector].run(events, params)
    if window is not None:
        findings = findings.filter(pl.col("last_seen").is_between(window.since, window.until))
    else:  # only findings that involve something new; older ones were merged before
        findings = findings.filter(pl.col("event_ids").list.max() > seen)
    report = RuleReport(rule.id, findings=findings.height, events=events.height)
    _merge(store, rule, findings.sort("first_seen", "entity"), now, report)
    report.seconds = time.perf_counter() - clock
    return report


def _merge(
    store: Store, rule: Rule, findings: pl.DataFrame, now: datetime, report: RuleReport
) -> None:
    """Decide per finding (new alert, or extend an open one), then write everything in bulk."""
    con = store.con
    active = active_alerts(con, rule.id)
    before = {a.alert_id: (a.first_seen, a.last_seen, a.event_count) for a in active.values()}
    # Event ids stay in Polars: only each finding's alert is decided in Python.
    rows = list(
        findings.select(
            "entity", "first_seen", "last_seen", "summary", events=pl.col("event_ids").list.len()
        ).iter_rows(named=True)
    )
    ids = [stable_id(rule.id, f["entity"], f["first_seen"]) for f in rows]
    known = known_ids(con, ids)
    fresh: list[Alert] = []
    targets: list[str | None] = []  # the alert each finding's events link to
    touched: dict[str, Alert] = {}
    for finding, alert_id in zip(rows, ids, strict=True):
        alert = active.get(finding["entity"])
        if alert is not None and alert.last_seen >= finding["first_seen"] - rule.suppress:
            alert.first_seen = min(alert.first_seen, finding["first_seen"])
            alert.last_seen = max(alert.last_seen, finding["last_seen"])
            alert.summary = finding["summary"]
            touched[alert.alert_id] = alert
            targets.append(alert.alert_id)
            continue
        if alert_id in known:
            targets.append(None)
            continue  # raised before and since closed: the analyst has seen it
        alert = _new_alert(rule, alert_id, finding, now)
        fresh.append(alert)
        active[alert.entity] = alert
        known.add(alert_id)
        targets.append(alert_id)
    links = (
        findings.select(event_id="event_ids", alert_id=pl.Series(targets, dtype=pl.String))
        .filter(pl.col("alert_id").is_not_null())
        .explode("event_id")
    )
    insert_alerts(con, fresh)
    counts = link_evidence(con, links)
    for alert in fresh:
        alert.event_count = counts.get(alert.alert_id, alert.event_count)
    for alert in touched.values():
        alert.event_count = counts.get(alert.alert_id, alert.event_count)
    changed = [
        a
        for a in touched.values()
        if before.get(a.alert_id) != (a.first_seen, a.last_seen, a.event_count)
    ]
    save_alerts(con, [*fresh, *changed], now)
    report.new += len(fresh)
    report.updated += len([a for a in changed if a not in fresh])


def _new_alert(rule: Rule, alert_id: str, finding: dict, now: datetime) -> Alert:
    return Alert(
        alert_id=alert_id, rule_id=rule.id, category=rule.category, severity=rule.severity,
        entity_type=rule.entity_type, entity=finding["entity"], first_seen=finding["first_seen"],
        last_seen=finding["last_seen"], event_count=finding["events"],
        summary=finding["summary"], status="open", mitre=list(rule.mitre), assignee=None,
        created_at=now, updated_at=now,
    )  # fmt: skip
