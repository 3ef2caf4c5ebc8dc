"""`vahti serve` and `vahti events`: the service and what it answers."""

from __future__ import annotations

import gc
import ipaddress
import logging
import signal
import sys
from typing import Annotated

import orjson
import typer
from rich.table import Table

from store import StoreBusyError
from store.audit import AuditTrail
from store.events import MAX_LIMIT, EventQuery, search_events
from store.tokens import list_tokens
from vahti.remote import through_server
from vahti.rules_cli import SkipBrokenOption, rules_of, skipping_broken
from vahti.settings import load_settings
from vahti.shell import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    UsageError,
    cli_actor,
    failures,
    open_db,
    out,
    parse_time,
    say,
)


def serve_command(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port", min=1, max=65535)] = 8000,
    tls_cert: Annotated[str | None, typer.Option(help="TLS certificate (PEM)")] = None,
    tls_key: Annotated[str | None, typer.Option(help="TLS private key (PEM)")] = None,
    skip_broken: SkipBrokenOption = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Run the API and the scheduler (spool ingest, detection) in one process."""
    import uvicorn

    from vahti.remote import holder_note
    from vahti.service import (
        build_app,
        close_local_token,
        describe_holder,
        open_local_token,
        open_service,
        scheduler_for,
    )

    with failures():
        settings = skipping_broken(load_settings(config), skip_broken)
        if (tls_cert is None) != (tls_key is None):
            raise UsageError("TLS needs both --tls-cert and --tls-key")
        rules_of(settings)  # a broken rule file: refuse to start, not detect nothing later
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        _warn_exposure(host, tls_cert is not None)
        with open_db(db, settings) as store:
            if not any(t.revoked_at is None for t in list_tokens(store.con)):
                say(
                    "vahti: no API tokens for people yet: create them with `vahti token "
                    "create --name NAME --role ROLE` (it works beside the server)",
                    error=True,
                )
            service = open_service(store, settings)
            service.checkpoints.signer(store.con)  # one others can read, or lost: refuse to start
            scheme = "https" if tls_cert else "http"
            describe_holder(db, f"{scheme}://{host}:{port}")
            local = open_local_token(service, db)
            _stop_quietly_on_signals()
            app = build_app(service, scheduler_for(service))
            _keep_startup_objects_out_of_collections()
            try:
                uvicorn.run(
                    app,
                    host=host,
                    port=port,
                    access_log=False,  # our own request log names routes, not people
                    # Forwarded headers only from the proxies the configuration names.
                    proxy_headers=bool(settings.api.trusted_proxies),
                    forwarded_allow_ips=list(settings.api.trusted_proxies) or None,
                    server_header=False,
                    ssl_certfile=tls_cert,
                    ssl_keyfile=tls_key,
                    log_level="info",
                )
            finally:
                close_local_token(service, db, local)
                service.enricher.close()
                holder_note(db).unlink(missing_ok=True)


def _keep_startup_objects_out_of_collections() -> None:
    """A full garbage collection walks every object alive, and the imports and the app
    make some 130,000 that live as long as the server: walking them stopped the event loop
    and the push writer 60-73 ms at a time, the p99 of pushes (bench/api.py). Frozen, they
    are not walked again (4 ms at most)."""
    gc.freeze()
    logging.getLogger("vahti.serve").info(
        "%d objects made at startup kept out of garbage collection", gc.get_freeze_count()
    )


def _stop_quietly_on_signals() -> None:
    """Uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the
    handler that was there before it; a no-op one lets us close the store and exit 0."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)


def _warn_exposure(host: str, tls: bool) -> None:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not tls:
        say(
            f"vahti: listening on {host} without TLS: tokens would cross the network in clear; "
            "give --tls-cert/--tls-key or put a TLS proxy in front",
            error=True,
        )


def events_command(
    user: Annotated[str | None, typer.Option(help="user name")] = None,
    customer_id: Annotated[str | None, typer.Option(help="customer number")] = None,
    ip: Annotated[str | None, typer.Option(help="an address or a CIDR")] = None,
    session: Annotated[str | None, typer.Option(help="session id")] = None,
    since: Annotated[str | None, typer.Option("--from", help="from this time (RFC 3339)")] = None,
    until: Annotated[str | None, typer.Option("--to", help="before this time")] = None,
    outcome: Annotated[str | None, typer.Option(help="success or failure")] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT)] = 100,
    purpose: Annotated[
        str, typer.Option(help="why you search: recorded in the audit log")
    ] = "not given (command line)",
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Search events; the search and its purpose are recorded in the audit log."""
    with failures():
        if outcome not in (None, "success", "failure"):
            raise UsageError("--outcome: success or failure")
        query = EventQuery(
            user, customer_id, ip, session, parse_time(since, "--from"),
            parse_time(until, "--to"), outcome, 0, limit,
        )  # fmt: skip
        try:
            with open_db(db, load_settings(config)) as store:
                try:
                    events = search_events(store.con, query)
                except ValueError as exc:
                    raise UsageError(f"--ip: {exc}") from exc
                touched = {"query": query.touched(), "events": len(events), "purpose": purpose}
                AuditTrail(store).record(cli_actor(), "events.search", touched)
        except StoreBusyError as busy:  # the server audits the search itself
            params = {
                "user": user, "customer_id": customer_id, "ip": ip, "session": session,
                "from": since, "to": until, "outcome": outcome, "purpose": purpose,
                "limit": min(limit, 1000),
            }  # fmt: skip
            events = through_server(db, busy).get("/api/v1/events", **params)["events"]
        _print_events(events, as_json)


def _print_events(events: list[dict], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(events).decode() + "\n")
        return
    table = Table(title=f"{len(events)} events")
    columns = ("ts", "event", "outcome", "user", "ip", "country", "city", "session_id")
    for column in columns:
        table.add_column(column)
    for event in events:
        table.add_row(*("" if event[c] is None else str(event[c]) for c in columns))
    out.print(table)
