"""`vahti extract`: lawful extracts for authorities, from request to verified package."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import duckdb
import orjson
import typer
from rich.table import Table

from privacy.extracts import (
    ExtractError,
    ExtractRequest,
    Scope,
    audited_create,
    audited_decision,
    list_extracts,
)
from privacy.package import (
    make_package,
    package_rows,
    recorded_packages,
    verify_package,
)
from store import StoreBusyError
from store.audit import AuditTrail, ChainCheck, verify
from store.checkpoints import CheckpointFiles, signing_key
from vahti.remote import through_server
from vahti.settings import load_settings
from vahti.shell import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    UsageError,
    checkpoint_files,
    cli_actor,
    failures,
    now_utc,
    open_db,
    out,
    parse_time,
    say,
    utc_text,
)

extract_app = typer.Typer(help="Lawful extracts for authorities.", no_args_is_help=True)
Many = Annotated[list[str] | None, typer.Option()]


@extract_app.command("create")
def extract_create(
    authority: Annotated[str, typer.Option(help="the requesting authority")],
    legal_basis: Annotated[str, typer.Option(help="the law or order the request rests on")],
    reference: Annotated[str, typer.Option(help="the authority's reference number")],
    order: Annotated[str, typer.Option(help="production or preservation")] = "production",
    user: Many = None,
    customer_id: Many = None,
    ip: Annotated[list[str] | None, typer.Option(help="address or CIDR")] = None,
    since: Annotated[str | None, typer.Option("--from")] = None,
    until: Annotated[str | None, typer.Option("--to")] = None,
    deadline: Annotated[str | None, typer.Option(help="default: 10 days, 8 h if emergency")] = None,
    emergency: Annotated[bool, typer.Option(help="an emergency order (8 hours)")] = False,
    secrecy_until: Annotated[str | None, typer.Option(help="hidden from the subject until")] = None,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Record an authority's request; a second person approves or refuses it."""
    with failures():
        request = ExtractRequest(
            authority=authority, legal_basis=legal_basis, reference=reference,
            order_type=order,
            scope=Scope(tuple(user or ()), tuple(customer_id or ()), tuple(ip or ()),
                        parse_time(since, "--from"), parse_time(until, "--to")),
            emergency=emergency, deadline=parse_time(deadline, "--deadline"),
            secrecy_until=parse_time(secrecy_until, "--secrecy-until"),
        )  # fmt: skip
        try:
            with open_db(db, load_settings(config)) as store:
                try:
                    extract, matching = audited_create(
                        AuditTrail(store), request, cli_actor(), now_utc()
                    )
                except ExtractError as exc:
                    raise UsageError(str(exc)) from exc
            extract_id, deadline_at = extract.extract_id, utc_text(extract.deadline, "minutes")
        except StoreBusyError as busy:
            made = through_server(db, busy).post("/api/v1/extracts", _request_json(request))
            extract_id, matching = made["id"], made["matching_events"]
            deadline_at = made["deadline"][:16] + "Z"
        say(f"extract request {extract_id} recorded, due {deadline_at}; its scope matches "
            f"{matching} events now")  # fmt: skip
        if matching == 0:
            say("note: the scope matches no stored event", error=True)


def _request_json(request: ExtractRequest) -> dict[str, Any]:
    """The request as POST /api/v1/extracts takes it (times in UTC)."""
    scope = request.scope

    def stamp(moment: datetime | None) -> str | None:
        return moment.isoformat() + "Z" if moment else None

    return {
        "authority": request.authority, "legal_basis": request.legal_basis,
        "reference": request.reference, "order_type": request.order_type,
        "emergency": request.emergency, "deadline": stamp(request.deadline),
        "secrecy_until": stamp(request.secrecy_until),
        "scope": {"users": list(scope.users), "customer_ids": list(scope.customer_ids),
                  "ips": list(scope.ips), "from": stamp(scope.since), "to": stamp(scope.until)},
    }  # fmt: skip


@extract_app.command("list")
def extract_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Requests with their state and what is due when."""
    with failures():
        try:
            with open_db(db, load_settings(config)) as store:
                now = now_utc()
                extracts = [e.as_json(now) for e in list_extracts(store.con)]
        except StoreBusyError as busy:
            extracts = through_server(db, busy).get("/api/v1/extracts")
        if as_json:
            sys.stdout.write(orjson.dumps(extracts).decode() + "\n")
            return
        table = Table(title="extract requests")
        for column in ("id", "authority", "reference", "order", "state", "due", "requested by"):
            table.add_column(column)
        for e in extracts:
            due = e["deadline"][:16] + "Z" + (" OVERDUE" if e["overdue"] else "")
            table.add_row(str(e["id"]), e["authority"], e["reference"], e["order_type"],
                          e["state"], due, e["requested_by"])  # fmt: skip
        out.print(table)


def _decide(extract_id: int, db: Path, config: Path | None, refusal: str | None) -> None:
    try:
        with open_db(db, load_settings(config)) as store:
            try:
                decided = audited_decision(
                    AuditTrail(store), extract_id, cli_actor(), now_utc(), refusal
                )
            except ExtractError as exc:
                raise UsageError(str(exc)) from exc
        state, holds = decided.state, list(decided.holds)
    except StoreBusyError as busy:
        remote = through_server(db, busy)
        if refusal is None:
            body = remote.post(f"/api/v1/extracts/{extract_id}/approve")
        else:
            body = remote.post(f"/api/v1/extracts/{extract_id}/refuse", {"reason": refusal})
        state, holds = body["state"], body["holds"]
    held = ", ".join(map(str, holds))
    say(f"extract request {extract_id} {state}" + (f" (holds {held})" if held else ""))


@extract_app.command("approve")
def extract_approve(
    extract_id: Annotated[int, typer.Argument()],
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Approve a request (not your own); a preservation order becomes legal holds."""
    with failures():
        _decide(extract_id, db, config, None)


@extract_app.command("refuse")
def extract_refuse(
    extract_id: Annotated[int, typer.Argument()],
    reason: Annotated[str, typer.Option(help="why")],
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Refuse a request, with the reason."""
    with failures():
        _decide(extract_id, db, config, reason)


@extract_app.command("package")
def extract_package(
    extract_id: Annotated[int, typer.Argument()],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the zip")],
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Write the package of an approved production order; record the disclosure."""
    with failures():
        settings = load_settings(config)
        try:
            with open_db(db, settings) as store:
                signer = checkpoint_files(db, settings).signer(store.con)
                try:
                    data, digest, manifest = make_package(
                        AuditTrail(store), extract_id, cli_actor(), now_utc(), signer
                    )
                except ExtractError as exc:
                    raise UsageError(str(exc)) from exc
            rows = manifest["rows"]
        except StoreBusyError as busy:
            data, headers = through_server(db, busy).download(
                f"/api/v1/extracts/{extract_id}/package"
            )
            digest, rows = headers["X-Package-SHA256"], package_rows(data)
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"vahti-extract-{extract_id}.zip"
        path.write_bytes(data)
        say(f"wrote {path}: {rows} events, SHA-256 {digest}")


def _audit_doubts(con: duckdb.DuckDBPyConnection, files: CheckpointFiles) -> list[str]:
    """Why the audit log's record of packages may not be trusted: its chain, its checkpoints."""
    broken = verify(con).broken()
    return [*([broken] if broken else []), *files.problems(con, None)]


@extract_app.command("verify")
def extract_verify(
    package: Annotated[Path, typer.Argument(help="a package zip")],
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Check a package: every file against its manifest, the manifest's signature by the
    audit key, and its SHA-256 against the audit log; exit 1 naming each check that failed."""
    with failures():
        settings = load_settings(config)
        files = checkpoint_files(db, settings)
        key = signing_key(files.key).public_key() if files.key.exists() else None
        recorded: set[str] | None = None
        doubts: list[str] = []
        if db.exists():
            try:
                with open_db(db, settings) as store:
                    recorded = recorded_packages(store.con)
                    doubts = _audit_doubts(store.con, files)
            except StoreBusyError as busy:
                remote = through_server(db, busy)
                entries = remote.pages(
                    "/api/v1/audit", "entries", "after", action="extracts.package", limit=1000
                )
                recorded = {e["detail"].get("sha256") for e in entries} - {None}
                checked = remote.get("/api/v1/audit/verify")
                broken = ChainCheck(0, "", checked["first_broken"], checked["problem"]).broken()
                doubts = [*([broken] if broken else []), *checked["checkpoint_problems"]]
        problems = verify_package(package, key, recorded)
        problems += [f"audit log: {doubt}: what it records of packages cannot be trusted"
                     for doubt in doubts]  # fmt: skip
        if problems:
            for problem in problems:
                say(f"vahti: {problem}", error=True)
            raise typer.Exit(1)
        say(f"{package}: every file matches its manifest, the manifest is signed by the "
            "audit key, and the audit log recorded this package")  # fmt: skip
