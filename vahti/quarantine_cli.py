"""`vahti quarantine`: the lines ingest kept aside, readable by a person, and parsed again."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from ingest.enrich import Enricher
from ingest.pipeline import parse_context
from ingest.retry import reparse
from store import Store, StoreBusyError
from store.audit import AuditTrail
from store.loading import event_rows, insert_events, next_event_id, numbered
from store.quarantine import (
    QuarantinedSource,
    QuarantineQuery,
    quarantine_summary,
    quarantined_lines,
    replace_quarantined,
    sources_to_retry,
)
from vahti.ingesting import ingest_options, open_enricher
from vahti.remote import through_server
from vahti.settings import Settings, load_settings
from vahti.shell import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    cli_actor,
    failures,
    open_db,
    out,
    say,
    utc_text,
)

quarantine_app = typer.Typer(
    help="Lines ingest could not read: list them with their reasons, or parse them again.",
    invoke_without_command=True,
)

SourceOption = Annotated[
    str | None, typer.Option("--source", help="a source id, or text in the file's path")
]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="text in the reason")]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]
_SHOWN = 160  # characters of a line shown in the table


@quarantine_app.callback()
def quarantine_list(
    ctx: typer.Context,
    source: SourceOption = None,
    reason: ReasonOption = None,
    limit: Annotated[int, typer.Option(help="at most this many lines", min=1)] = 100,
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """List quarantined lines: file, line number, reason and text, with the top reasons."""
    if ctx.invoked_subcommand is not None:
        return
    with failures():
        query = QuarantineQuery(source, reason, limit)
        try:
            with open_db(db, load_settings(config)) as store:
                lines = quarantined_lines(store, query)
                total, reasons = quarantine_summary(store, query)
                # Quarantined text may name people: reading it is recorded like a search.
                touched = {"source": source, "reason": reason, "lines": len(lines)}
                AuditTrail(store).record(cli_actor(), "quarantine.list", touched)
            rows = [{**row, "quarantined_at": utc_text(row["quarantined_at"])} for row in lines]
        except StoreBusyError as busy:  # the server audits the read itself
            params = {"source": source, "reason": reason, "limit": limit}
            body = through_server(db, busy).get("/api/v1/quarantine", **params)
            rows, total = body["lines"], body["total"]
            reasons = [(text, count) for text, count in body["reasons"]]
    if as_json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    _print_lines(rows, total, reasons)


def _print_lines(lines: list[dict[str, Any]], total: int, reasons: list[tuple[str, int]]) -> None:
    if not total:
        say("no quarantined lines")
        return
    say(f"{total} quarantined lines; top reasons:")
    for text, count in reasons:
        say(f"  {count:>8}  {text}")
    table = Table("file", "line", "reason", "text", show_lines=False)
    for row in lines:
        text = row["raw"] if len(row["raw"]) <= _SHOWN else row["raw"][:_SHOWN] + "…"
        table.add_row(row["file"], str(row["line_no"]), row["reason"], text)
    out.print(table, markup=False, highlight=False)
    if total > len(lines):
        say(f"(showing {len(lines)} of {total}: --limit, --source or --reason for others)")


@quarantine_app.command("retry")
def quarantine_retry(
    source: SourceOption = None,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Parse quarantined lines again (after an upgrade): those that now read become events,
    the others stay with today's reason. Run `vahti detect` afterwards."""
    with failures():
        settings = load_settings(config)
        try:
            with open_db(db, settings) as store:
                results = retry_quarantined(store, settings, source, reason, cli_actor())
        except StoreBusyError as busy:
            body = {"source": source, "reason": reason}
            results = through_server(db, busy).post("/api/v1/quarantine/retry", body)["sources"]
    if as_json:
        sys.stdout.write(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if not results:
        say("no quarantined lines to retry")
    for r in results:
        say(
            f"{r['file']}: retried {r['retried']} lines: {r['events']} events loaded, "
            f"{r['skipped']} skipped, {r['still']} still quarantined"
        )


def retry_quarantined(
    store: Store, settings: Settings, source: str | None, reason: str | None, actor: str,
    trail: AuditTrail | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """`trail`: the running server's own (it knows the chain's head; a second trail in the
    same process would not)."""
    query = QuarantineQuery(source, reason)
    trail = trail or AuditTrail(store)
    enricher = open_enricher(settings)  # once for every source (7 ms each time it opens)
    try:
        return [
            _retry_source(store, settings, found, actor, trail, enricher)
            for found in sources_to_retry(store, query)
        ]
    finally:
        enricher.close()


def _retry_source(
    store: Store,
    settings: Settings,
    found: QuarantinedSource,
    actor: str,
    trail: AuditTrail,
    enricher: Enricher,
) -> dict[str, Any]:
    """One input's quarantined lines parsed again and stored in one audited transaction."""
    options = ingest_options(settings, found.format, None, None)
    # The first line's year and zone, not the position-dependent rollover state.
    state = {k: v for k, v in found.parse_state.items() if k in ("year", "tz", "header")}
    context = parse_context(found.format, _mtime(found), options, state)
    try:
        events, counts = reparse(found.lines, context, enricher)
    finally:
        if context.engine is not None:
            context.engine.close()
    result = {
        "source_id": found.source_id, "file": found.path, "retried": found.lines.height,
        "events": counts.events, "skipped": counts.skipped, "still": counts.still.height,
    }  # fmt: skip
    with trail.change(actor, "quarantine.retry", dict(result)) as con:
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = numbered(events, next_event_id(store), found.source_id, now)
        if rows.height:
            insert_events(con, event_rows(rows))
        replace_quarantined(con, found.source_id, found.lines, counts)
    return result


def _mtime(found: QuarantinedSource) -> datetime:
    """Syslog lines without a year take it from the file, as when it was loaded."""
    path = Path(found.path)
    if found.kind == "file" and path.exists():
        return datetime.fromtimestamp(os.stat(path).st_mtime, UTC).replace(tzinfo=None)
    return found.first_loaded
