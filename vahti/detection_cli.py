"""`vahti detect` and `vahti alerts`: running the rules, reading and triaging what they found."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from analytics.categories import SEVERITIES
from analytics.run import RuleReport, RunReport, Window, run_detection
from store import Store, StoreBusyError
from store.alerts import (
    STATUSES,
    Alert,
    AlertFilter,
    AlertOrder,
    alert_from_json,
    evidence_rows,
    get_alert,
    history,
    page_alerts,
    set_status,
)
from vahti.remote import through_server
from vahti.rules_cli import SkipBrokenOption, rules_of, skipping_broken
from vahti.settings import Settings, load_settings
from vahti.shell import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    NotFound,
    UsageError,
    err,
    failures,
    now_utc,
    open_db,
    out,
    parse_time,
    say,
    utc_text,
)

alerts_app = typer.Typer(
    help="List alerts; show one with its evidence; triage.", no_args_is_help=False
)


def detect(store: Store, settings: Settings, window: Window | None = None) -> RunReport:
    return run_detection(store, rules_of(settings), window)


def detect_command(
    skip_broken: SkipBrokenOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the run as JSON")] = False,
    since: Annotated[
        str | None, typer.Option("--from", help="replay from this time (RFC 3339)")
    ] = None,
    until: Annotated[str | None, typer.Option("--to", help="replay up to this time")] = None,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Run every enabled rule over what is new since its last run (or replay --from/--to)."""
    with failures():
        settings = skipping_broken(load_settings(config), skip_broken)
        window = replay_window(since, until)
        try:
            with open_db(db, settings) as store:
                report = detect(store, settings, window)
        except StoreBusyError as busy:
            body = {"from": since, "to": until} if window else None
            report = run_from_json(through_server(db, busy).post("/api/v1/detect", body))
        if as_json:
            sys.stdout.write(orjson.dumps(run_json(report)).decode() + "\n")
        else:
            print_detection(report)


def replay_window(since: str | None, until: str | None) -> Window | None:
    start, end = parse_time(since, "--from"), parse_time(until, "--to")
    if start is None and end is None:
        return None
    if start is None or end is None or start >= end:
        raise UsageError("a replay needs both --from and --to, --from before --to")
    return Window(start, end)


def run_from_json(body: dict[str, Any]) -> RunReport:
    rules = [
        RuleReport(r["rule"], r["findings"], r["events"], r["new"], r["updated"], r["seconds"])
        for r in body["rules"]
    ]
    return RunReport(body["events"], body["scored"], rules)


def run_json(report: RunReport) -> dict[str, Any]:
    return {
        "events": report.events,
        "scored": report.scored,
        "new": report.new,
        "updated": report.updated,
        "rules": [
            {"rule": r.rule_id, "findings": r.findings, "events": r.events, "new": r.new,
             "updated": r.updated, "seconds": round(r.seconds, 3)}
            for r in report.rules
        ],
    }  # fmt: skip


def print_detection(report: RunReport, to_stderr: bool = False) -> None:
    """The run's summary; on stderr when stdout carries JSON."""
    say(
        f"read {report.events} events, scored {report.scored} logins for familiarity, "
        f"{len(report.rules)} rules ran: {report.new} new alerts, {report.updated} updated",
        error=to_stderr,
    )
    for rule in report.rules:
        say(
            f"  {rule.rule_id}: {rule.findings} findings, {rule.new} new, "
            f"{rule.updated} updated, {rule.seconds:.2f} s",
            error=to_stderr,
        )


def alert_table(alerts: list[Alert], title: str = "alerts") -> Table:
    table = Table(title=title)
    for name in (
        "id",
        "severity",
        "category",
        "entity",
        "last seen",
        "events",
        "status",
        "summary",
    ):
        table.add_column(name, overflow="fold")
    for a in alerts:
        table.add_row(
            a.alert_id, a.severity, a.category, a.entity, utc_text(a.last_seen),
            str(a.event_count), a.status, a.summary,
        )  # fmt: skip
    return table


@alerts_app.callback(invoke_without_command=True)
def alerts_command(
    context: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON array")] = False,
    status: Annotated[
        str | None, typer.Option(help="open, acknowledged, closed, false_positive")
    ] = None,
    category: Annotated[str | None, typer.Option(help="e.g. brute_force")] = None,
    severity: Annotated[str | None, typer.Option(help="low, medium, high, critical")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="alerts active since (RFC 3339 or a date)")
    ] = None,
    entity: Annotated[str | None, typer.Option(help="an address, account or session")] = None,
    limit: Annotated[int, typer.Option(help="at most this many", min=1)] = 1000,
    sort: Annotated[
        str,
        typer.Option(help="last_seen, first_seen, severity or events; a leading - for descending"),
    ] = "-last_seen",
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """List alerts, newest activity first (or --sort)."""
    if context.invoked_subcommand is not None:
        return
    with failures():
        settings = load_settings(config)
        if status is not None and status not in STATUSES:
            raise UsageError(f"unknown status {status!r}: one of {', '.join(STATUSES)}")
        if severity is not None and severity not in SEVERITIES:
            raise UsageError(f"unknown severity {severity!r}: one of {', '.join(SEVERITIES)}")
        try:
            order = AlertOrder.parse(sort)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        where = AlertFilter(status, category, severity, entity, parse_time(since, "--since"))
        try:
            with open_db(db, settings) as store:
                alerts = page_alerts(store.con, where, None, limit, order)
        except StoreBusyError as busy:
            remote = through_server(db, busy)
            found = remote.pages(
                "/api/v1/alerts", "alerts", "cursor", status=status, category=category,
                severity=severity, entity=entity, limit=min(limit, 500), sort=sort,
                **({"from": since} if since else {}),
            )  # fmt: skip
            alerts = [alert_from_json(body) for body in found][:limit]
        if as_json:
            sys.stdout.write(orjson.dumps([a.as_json() for a in alerts]).decode() + "\n")
        else:
            out.print(alert_table(alerts))


@alerts_app.command("show")
def show_command(
    alert_id: Annotated[str, typer.Argument(help="alert id")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """One alert: what, why (its summary), and its evidence events."""
    with failures():
        settings = load_settings(config)
        try:
            with open_db(db, settings) as store:
                alert = get_alert(store.con, alert_id)
                if alert is None:
                    raise NotFound(f"no alert {alert_id}")
                events = evidence_rows(store.con, alert_id)
                changes = history(store.con, alert_id)
        except StoreBusyError as busy:
            body = through_server(db, busy).get(f"/api/v1/alerts/{alert_id}", evidence_limit=10_000)
            alert, events, changes = alert_from_json(body), body["evidence"], body["history"]
        if as_json:
            body = {**alert.as_json(), "evidence": events, "history": changes}
            sys.stdout.write(orjson.dumps(body, default=str).decode() + "\n")
            return
        _print_alert(alert, events, changes)


def _print_alert(alert: Alert, events: list[dict], changes: list[dict]) -> None:
    say(f"{alert.alert_id}  {alert.severity.upper()}  {alert.category}  ({alert.rule_id})")
    say(f"{alert.summary}.")
    say(
        f"{alert.entity_type} {alert.entity}; {alert.event_count} events from "
        f"{utc_text(alert.first_seen)} to {utc_text(alert.last_seen)}; status {alert.status}; "
        f"ATT&CK {', '.join(alert.mitre)}"
    )
    if alert.risk is not None:
        say(f"risk {alert.risk:.2f}")
    for reason in alert.reasons or []:
        say(f"  why: {reason}")
    if alert.members:
        say(f"sources ({len(alert.members)}): {', '.join(m['value'] for m in alert.members)}")
    table = Table(title="evidence")
    columns = ("ts", "event", "outcome", "user", "ip", "country", "city", "reason", "session_id")
    for name in columns:
        table.add_column(name, overflow="fold")
    for event in events:
        table.add_row(*("" if event[c] is None else str(event[c]) for c in columns))
    out.print(table)
    for change in changes:
        steps = [
            f"{field} {change[field][0]} -> {change[field][1]}"
            for field in ("status", "assignee")
            if field in change
        ]
        note = f" ({change['note']})" if change.get("note") else ""
        say(f"{change['at']} {change['actor']}: {', '.join(steps) or 'note'}{note}")


def _triage(status: str, alert_id: str, note: str | None, db: Path, config: Path | None) -> None:
    with failures():
        settings = load_settings(config)
        try:
            with open_db(db, settings) as store, store.transaction():
                now = now_utc()
                alert = set_status(store.con, alert_id, status, "cli", note, now)
            if alert is None:
                raise NotFound(f"no alert {alert_id}")
        except StoreBusyError as busy:  # the server records who changed it
            change = {"status": status, **({"note": note} if note else {})}
            through_server(db, busy).patch(f"/api/v1/alerts/{alert_id}", change)
        say(f"{alert_id}: {status}")


NoteOption = Annotated[str | None, typer.Option("--note", help="why")]


@alerts_app.command("ack")
def ack_command(
    alert_id: str, note: NoteOption = None, db: DbOption = DEFAULT_DB, config: ConfigOption = None
) -> None:
    """Acknowledge: someone is on it."""
    _triage("acknowledged", alert_id, note, db, config)


@alerts_app.command("close")
def close_command(
    alert_id: str, note: NoteOption = None, db: DbOption = DEFAULT_DB, config: ConfigOption = None
) -> None:
    """Close: handled."""
    _triage("closed", alert_id, note, db, config)


@alerts_app.command("false-positive")
def false_positive_command(
    alert_id: str, note: NoteOption = None, db: DbOption = DEFAULT_DB, config: ConfigOption = None
) -> None:
    """Mark as a false positive (say why in --note)."""
    _triage("false_positive", alert_id, note, db, config)


__all__ = ["alerts_app", "detect", "detect_command", "err"]
