"""The detection run: new events plus each rule's look-back, through its detector, into alerts.

Live runs read what arrived since each rule's watermark (by event id, so late events with
old timestamps are still seen) plus the rule's look-back in event time. Backfill runs read
a time range and leave the watermarks alone. Either way the findings merge into alerts in
one transaction: the same misuse extends its open alert, a second run raises nothing new.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa

from analytics.cases import labelled
from analytics.categories import MITRE_OF
from analytics.detectors import DETECTORS
from analytics.detectors.common import RISK_COLUMNS, SOURCE_GROUP, Reads
from analytics.familiarity import FamiliarityModel
from analytics.rules import Rule, default_rules_dir, load_model
from analytics.scoring import score_logins
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
    scored: int = 0  # logins scored for familiarity
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
    model: FamiliarityModel | None = None,
) -> RunReport:
    """All rules in one transaction. `checkpoint` is called between rules and may raise to
    abandon the run: then nothing of it is written and the next run starts where this did.

    First the new successful logins are scored for familiarity (its own transaction, so
    the rules' reads see the scores; scoring again gives the same scores)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    con = store.con
    top = con.execute("SELECT coalesce(max(event_id), 0) FROM events").fetchone()
    max_id = int(top[0]) if top else 0
    plans = _plans(store, [r for r in rules if r.enabled], window, max_id)
    report = RunReport()
    if any(_reads_risk(rule) for rule, _, _ in plans):
        report.scored = _score(store, model or load_model(default_rules_dir()), window, max_id, now)
    with store.transaction():
        for rule, start, seen in plans:
            if checkpoint is not None:
                checkpoint()
            report.rules.append(_run_rule(store, rule, start, seen, window, now))
            if window is None:
                set_watermark(con, rule.id, max_id, now)
    report.events = max((r.events for r in report.rules), default=0)
    return report


def _reads_risk(rule: Rule) -> bool:
    return bool(set(rule.detector_params().reads().columns) & set(RISK_COLUMNS))


def _score(
    store: Store, model: FamiliarityModel, window: Window | None, max_id: int, now: datetime
) -> int:
    seen = 0 if window is not None else watermark(store.con, SCORING)
    if window is None and seen >= max_id:
        return 0
    with store.transaction():
        since, until = (window.since, window.until) if window is not None else (None, None)
        scored = score_logins(store, model, seen, since, until)
        if window is None:
            set_watermark(store.con, SCORING, max_id, now)
    return scored


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


SCORING = "familiarity"  # the scoring step's watermark in rule_state
RISK_SQL = {"risk": "r.risk", "learning": "r.learning", "risk_reasons": "r.reasons AS risk_reasons"}
SCOPE_COLUMNS = (
    "ts",
    "event",
    "outcome",
    "user",
    "ip",
    "host",
    "ip_version",
    "session_id",
    "reason",
)


def _load(
    store: Store, reads: Reads, start: datetime, window: Window | None
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Only the columns and rows the detector looks at: DuckDB filters, Polars detects.

    The groups that can reach a finding are found first, on their own: given as a
    registered table of known size, DuckDB builds its join on them (a few thousand keys)
    and not on the events (millions). One query with the groups as a subquery took 3x as
    long at 10M events (docs/benchmarks.md)."""
    names = ", ".join(RISK_SQL.get(c, f'e."{c}"') for c in reads.columns)
    where, values = _conditions(reads, start, window)
    context = None
    cursor = store.cursor()
    group, candidates = reads.group, reads.candidates
    if candidates is None and group is not None and reads.having is not None:
        candidates = f"SELECT {group} FROM scope GROUP BY 1 HAVING {reads.having}"
    source = "events e"
    if set(reads.columns) & set(RISK_COLUMNS):
        source = "events e LEFT JOIN login_risk r USING (event_id)"
    sql = f"SELECT {names} FROM {source} WHERE {where}"
    if candidates is not None and group is not None:
        # Every column a group expression or candidate query may name: DuckDB reads only
        # those the query uses.
        needed = dict.fromkeys(c for c in (*reads.columns, *SCOPE_COLUMNS) if c not in RISK_COLUMNS)
        scope = ", ".join(f'"{c}"' for c in needed)
        wanted = cursor.sql(
            f"WITH scope AS (SELECT {scope} FROM events WHERE {where}) {candidates}", params=values
        ).to_arrow_table()
        keep_ipv6 = " OR ip_version = 6" if group in ("ip", SOURCE_GROUP) else ""
        if wanted.num_rows == 0 and not keep_ipv6:
            sql += " AND false"  # nothing can reach a finding: no second scan
        else:
            cursor.register("wanted_groups", wanted.rename_columns(["key"]))
            sql += f" AND ({group} IN (SELECT key FROM wanted_groups){keep_ipv6})"
    if reads.context is not None:
        context = _frame(
            cursor.sql(
                f"WITH scope AS (SELECT * FROM events WHERE {where}) {reads.context}",
                params=values,
            ).to_arrow_table()
        )
        spans = reads.spans(context) if reads.spans is not None else None
        if spans is not None and spans.height == 0:
            sql += " AND false"
        elif spans is not None:
            cursor.register("wanted_spans", spans.select("start", "end").to_arrow())
            sql += " AND EXISTS (SELECT 1 FROM wanted_spans s WHERE ts BETWEEN s.start AND s.end)"
    table = cursor.sql(sql, params=values).to_arrow_table()  # detectors sort by key
    return _frame(table), context


def _frame(table: pa.Table) -> pl.DataFrame:
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
    loaded, context = _load(store, params.reads(), start, window)
    events = _excepted(loaded, rule)
    detector = DETECTORS[rule.detector]
    findings = (
        detector.run(events, params) if context is None else detector.run(events, params, context)
    )
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
    """Decide per finding (new alert, or grow an open one), then write everything in bulk."""
    con = store.con
    # One alert per entity: a campaign's takeover alerts name users, the campaign itself not.
    active = {(a.entity_type, a.entity): a for a in active_alerts(con, rule.id).values()}
    before = {a.alert_id: _state(a) for a in active.values()}
    # Event ids stay in Polars: only each finding's alert is decided in Python.
    rows = list(
        labelled(findings, rule)
        .drop("event_ids")
        .with_columns(events=findings["event_ids"].list.len())
        .iter_rows(named=True)
    )
    ids = [stable_id(rule.id, f["entity"], f["first_seen"]) for f in rows]
    known = known_ids(con, ids)
    fresh: dict[str, Alert] = {}
    targets: list[str | None] = []  # the alert each finding's events link to
    grown: dict[str, Alert] = {}
    for finding, alert_id in zip(rows, ids, strict=True):
        alert = active.get((finding["entity_type"], finding["entity"]))
        if alert is not None and alert.last_seen >= finding["first_seen"] - rule.suppress:
            grow(alert, finding)
            grown[alert.alert_id] = alert
            targets.append(alert.alert_id)
            continue
        if alert_id in known:
            targets.append(None)
            continue  # raised before and since closed: the analyst has seen it
        alert = _new_alert(rule, alert_id, finding, now)
        fresh[alert_id] = alert
        active[(alert.entity_type, alert.entity)] = alert
        known.add(alert_id)
        targets.append(alert_id)
    links = (
        findings.select(event_id="event_ids", alert_id=pl.Series(targets, dtype=pl.String))
        .filter(pl.col("alert_id").is_not_null())
        .explode("event_id")
    )
    insert_alerts(con, list(fresh.values()))
    counts = link_evidence(con, links)
    touched = {**fresh, **grown}
    for alert in touched.values():
        alert.event_count = counts.get(alert.alert_id, alert.event_count)
    # Grown alerts are described again from all their evidence, not their latest finding.
    redescribe(store, rule, [a for a in touched.values() if a.alert_id in grown or
                             targets.count(a.alert_id) > 1])  # fmt: skip
    changed = [a for a in grown.values() if before.get(a.alert_id) != _state(a)]
    save_alerts(con, [*fresh.values(), *[a for a in changed if a.alert_id not in fresh]], now)
    report.new += len(fresh)
    report.updated += len([a for a in changed if a.alert_id not in fresh])


def _state(alert: Alert) -> tuple[object, ...]:
    return (
        alert.first_seen, alert.last_seen, alert.event_count, alert.summary, alert.category,
        alert.severity, alert.risk, alert.weight, str(alert.members), str(alert.reasons),
    )  # fmt: skip


def grow(alert: Alert, finding: dict) -> None:
    """The same misuse goes on: widen the span, take the members in, and relabel when the
    new finding's deciding window is stronger than the one that labelled the alert."""
    alert.first_seen = min(alert.first_seen, finding["first_seen"])
    alert.last_seen = max(alert.last_seen, finding["last_seen"])
    alert.summary = finding["summary"]
    if finding["members"]:
        had = {m["value"] for m in alert.members or []}
        alert.members = [*(alert.members or []), *_members(v for v in finding["members"]
                                                           if v not in had)]  # fmt: skip
    weight = finding["weight"]
    if weight is not None and (alert.weight is None or weight > alert.weight):
        alert.weight = weight
        alert.category, alert.severity = finding["category"], finding["severity"]
        alert.reasons = finding["reasons"] or alert.reasons
        alert.mitre = list(MITRE_OF.get(alert.category, alert.mitre))
    if finding["risk"] is not None and (alert.risk is None or finding["risk"] > alert.risk):
        alert.risk, alert.reasons = finding["risk"], finding["reasons"]


def redescribe(store: Store, rule: Rule, alerts: list[Alert]) -> None:
    """Summaries from each alert's whole evidence, where the rule's detector can write one."""
    detector = DETECTORS[rule.detector]
    summarize = detector.summarize
    alerts = [a for a in alerts if a.entity_type in detector.summarizes]
    if summarize is None or not alerts:
        return
    table = pl.DataFrame(
        {"group": [a.alert_id for a in alerts], "key": [a.entity for a in alerts],
         "category": [a.category for a in alerts]}
    )  # fmt: skip
    # The run's own connection: the evidence just linked is not committed yet.
    con = store.con
    con.register("described", table.to_arrow())
    names = ", ".join(f'e."{c}"' for c in SUMMARY_COLUMNS)
    try:
        rows = pl.from_arrow(
            con.sql(
                f"""SELECT d."group", d.key, d.category, {names}
                    FROM described d JOIN evidence v ON v.alert_id = d."group"
                    JOIN events e USING (event_id)"""
            ).to_arrow_table()
        )
    finally:
        con.unregister("described")
    assert isinstance(rows, pl.DataFrame)
    summaries = dict(summarize(rows).select("group", "summary").iter_rows())
    for alert in alerts:
        alert.summary = summaries.get(alert.alert_id, alert.summary)


SUMMARY_COLUMNS = (
    "event_id", "ts", "event", "outcome", "user", "ip", "ip_version", "ip_bin", "host",
    "reason", "user_agent", "country", "city", "session_id",
)  # fmt: skip


def _members(values: Iterable[str]) -> list[dict[str, str]]:
    return [{"type": "ip", "value": value} for value in values]


def _new_alert(rule: Rule, alert_id: str, finding: dict, now: datetime) -> Alert:
    labelled_here = finding["category"] != rule.category or finding["weight"] is not None
    mitre = MITRE_OF.get(finding["category"], rule.mitre) if labelled_here else rule.mitre
    return Alert(
        alert_id=alert_id, rule_id=rule.id, category=finding["category"],
        severity=finding["severity"], entity_type=finding["entity_type"],
        entity=finding["entity"], first_seen=finding["first_seen"],
        last_seen=finding["last_seen"], event_count=finding["events"],
        summary=finding["summary"], status="open", mitre=list(mitre), assignee=None,
        created_at=now, updated_at=now,
        members=_members(finding["members"]) if finding["members"] else None,
        risk=finding["risk"], reasons=finding["reasons"], weight=finding["weight"],
    )  # fmt: skip
