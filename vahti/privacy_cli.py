"""`vahti retention`, `vahti hold` and `vahti audit`: the DPO's commands."""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import orjson
import typer
from rich.table import Table

from privacy.erasure import ErasureRefused, erase_and_compact
from privacy.holds import Hold, HoldError, HoldRequest, audited_add, audited_release, list_holds
from privacy.letter import render
from privacy.purge import dry_run, purge
from privacy.register import describe, render_register
from privacy.retention import Policy, status
from privacy.subject import Subject, audited_subject_report
from store import Store, StoreBusyError, StoreError
from store.audit import AuditTrail, head, verify
from vahti.remote import Remote, through_server
from vahti.settings import Settings, load_settings
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
)

retention_app = typer.Typer(help="Retention: what is due; purge it.", no_args_is_help=True)
hold_app = typer.Typer(help="Legal holds: what they cover is never purged.", no_args_is_help=True)
audit_app = typer.Typer(
    help="The audit log: verify its chain, print its head.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]


def policy_of(settings: Settings) -> Policy:
    r = settings.retention
    return Policy(
        periods={"events": r.events, "quarantine": r.quarantine, "alerts": r.alerts,
                 "audit": r.audit},
        pseudonymise_after=r.pseudonymise_after,
    )  # fmt: skip


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


@retention_app.command("status")
def retention_status(
    as_json: JsonOption = False, db: DbOption = DEFAULT_DB, config: ConfigOption = None
) -> None:
    """Per kind of data: policy, rows, oldest, due now, held back by holds, last purge."""
    with failures():
        settings = load_settings(config)
        try:
            with open_db(db, settings) as store:
                report = status(store.con, policy_of(settings), now_utc())
        except StoreBusyError as busy:  # the server's own policy, and it audits the read
            report = through_server(db, busy).get("/api/v1/retention")
        if as_json:
            _print_json(report)
            return
        table = Table(title="retention")
        for column in ("kind", "keep (days)", "rows", "oldest", "due", "held back"):
            table.add_column(column)
        for k in report["kinds"]:
            table.add_row(k["kind"], f"{k['retention_days']:g}", str(k["rows"]), k["oldest"] or "",
                          str(k["due"]), str(k["held_back"]))  # fmt: skip
        out.print(table)
        p = report["pseudonymisation"]
        last = report["last_purge"]
        say(f"pseudonymise after {p['after_days']:g} days: {p['due']} events due, "
            f"{p['held_back']} held back, {p['pseudonymised']} done")  # fmt: skip
        say(f"last purge: {last['at']} by {last['by']}" if last else "last purge: never")


@retention_app.command("purge")
def retention_purge(
    dry: Annotated[bool, typer.Option("--dry-run", help="report what would go")] = False,
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Delete what is due (holds honoured), pseudonymise old events, compact the file."""
    with failures():
        settings = load_settings(config)
        try:
            with open_db(db, settings) as store:
                report = run_purge(store, settings, cli_actor(), dry)
        except StoreBusyError as busy:  # the server's retention job, run now
            remote = through_server(db, busy)
            if not dry:
                outcome = run_server_purge(remote)
                if as_json:
                    _print_json(outcome)
                else:
                    say(f"the server's retention job ran: {outcome['outcome']}, "
                        f"{outcome['message']}")  # fmt: skip
                if outcome["outcome"] != "ok":
                    raise typer.Exit(1) from None
                return
            report = remote.post("/api/v1/retention/purge", dry_run="true")
        if as_json:
            _print_json(report)
            return
        for k in report["kinds"]:
            verb = "would delete" if dry else "deleted"
            count = k["due"] if dry else k["deleted"]
            cutoff, held = k["cutoff"], k["held_back"]
            say(f"{k['kind']}: {verb} {count} (older than {cutoff}), held back {held}")
        if not dry:
            say(f"pseudonymised {report['pseudonymised']} events")
            if report["compacted"]:
                c = report["compacted"]
                say(f"compacted: {c['bytes_before']} -> {c['bytes_after']} bytes")


def run_server_purge(remote: Remote, seconds: float = 4 * 3600) -> dict[str, Any]:
    """Queue the server's retention job and wait for it (it compacts the file under the
    server, so it cannot answer the request that asked for it): its outcome and summary."""

    def retention() -> dict[str, Any]:
        jobs = {job["name"]: job for job in remote.get("/api/v1/jobs")}
        return jobs["retention"]

    before = retention()["runs"]
    remote.post("/api/v1/retention/purge")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = retention()
        if job["runs"] > before and job["outcome"] != "running":
            return {"outcome": job["outcome"], "message": job["message"], "at": job["last_run"]}
        time.sleep(0.5)
    raise StoreError("the server's retention job did not finish in time: see /api/v1/jobs")


def run_purge(store: Store, settings: Settings, who: str, dry: bool) -> dict[str, Any]:
    trail, now = AuditTrail(store), now_utc()
    if dry:
        return dry_run(store, trail, policy_of(settings), now, who).as_json()
    files = checkpoint_files(store.path, settings)
    announce = partial(files.sign, store.con, now)  # signed before the start moves
    return purge(store, trail, policy_of(settings), now, who, announce).as_json()


@hold_app.command("add")
def hold_add(
    reason: Annotated[str, typer.Option(help="why the data must be kept")],
    user: Annotated[str | None, typer.Option(help="user name")] = None,
    customer_id: Annotated[str | None, typer.Option(help="customer number")] = None,
    ip: Annotated[str | None, typer.Option(help="address or CIDR")] = None,
    since: Annotated[str | None, typer.Option("--from", help="from this time")] = None,
    until: Annotated[str | None, typer.Option("--to", help="before this time")] = None,
    case: Annotated[str | None, typer.Option(help="case or order reference")] = None,
    kind: Annotated[str, typer.Option(help="preservation, incident or internal")] = "internal",
    expires: Annotated[str | None, typer.Option("--until", help="the hold ends then")] = None,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Keep what a user, customer or address has (in a time range) from every purge."""
    with failures():
        request = HoldRequest(
            reason=reason, user=user, customer_id=customer_id, ip=ip,
            since=parse_time(since, "--from"), until_ts=parse_time(until, "--to"),
            case_ref=case, kind=kind, expires=parse_time(expires, "--until"),
        )  # fmt: skip
        try:
            with open_db(db, load_settings(config)) as store:
                hold, covered = create_hold(store, request, cli_actor())
            hold_id = hold.hold_id
        except StoreBusyError as busy:
            body = {"reason": reason, "user": user, "customer_id": customer_id, "ip": ip,
                    "from": since, "to": until, "case": case, "kind": kind,
                    "until": expires}  # fmt: skip
            made = through_server(db, busy).post(
                "/api/v1/holds", {k: v for k, v in body.items() if v is not None}
            )
            hold_id, covered = made["id"], made["covered_events"]
        say(f"hold {hold_id} added: covers {covered} events now")
        if covered == 0:
            say("note: the hold matches no stored event yet (it will cover matching events "
                "that arrive later)", error=True)  # fmt: skip


def create_hold(store: Store, request: HoldRequest, who: str) -> tuple[Hold, int]:
    try:
        return audited_add(AuditTrail(store), request, who, now_utc())
    except HoldError as exc:
        raise UsageError(str(exc)) from exc


@hold_app.command("list")
def hold_list(
    as_json: JsonOption = False, db: DbOption = DEFAULT_DB, config: ConfigOption = None
) -> None:
    """Holds, active and released."""
    with failures():
        try:
            with open_db(db, load_settings(config)) as store:
                now = now_utc()
                holds = [h.as_json(now) for h in list_holds(store.con)]
        except StoreBusyError as busy:
            holds = through_server(db, busy).get("/api/v1/holds")
        if as_json:
            _print_json(holds)
            return
        table = Table(title="legal holds")
        for column in ("id", "covers", "range", "kind", "case", "reason", "until", "state"):
            table.add_column(column)
        for h in holds:
            covers = " ".join(
                f"{k}={h[field]}"
                for k, field in (("user", "user"), ("customer", "customer_id"), ("ip", "ip"))
                if h[field]
            )
            span = f"{_day(h['from'])}..{_day(h['to'])}"
            state = "active" if h["active"] else "released" if h["released_at"] else "expired"
            table.add_row(str(h["id"]), covers, span, h["kind"], h["case"] or "", h["reason"],
                          _day(h["until"]), state)  # fmt: skip
        out.print(table)


def _day(value: str | None) -> str:
    return value[:10] if value else ""


@hold_app.command("release")
def hold_release(
    hold_id: Annotated[int, typer.Argument(help="the hold's id")],
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """End a hold: what it kept becomes due again under the retention policy."""
    with failures():
        try:
            with open_db(db, load_settings(config)) as store:
                try:
                    audited_release(AuditTrail(store), hold_id, cli_actor(), now_utc())
                except HoldError as exc:
                    raise UsageError(str(exc)) from exc
        except StoreBusyError as busy:
            through_server(db, busy).post(f"/api/v1/holds/{hold_id}/release")
        say(f"hold {hold_id} released")


@audit_app.command("verify")
def audit_verify(
    expect_head: Annotated[
        str | None,
        typer.Option(help="a head hash published earlier: it must still be in the chain"),
    ] = None,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Check the hash chain end to end and against the latest signed checkpoint (kept
    outside the database); exit 1 naming what does not hold."""
    with failures():
        settings = load_settings(config)
        try:
            with open_db(db, settings) as store:
                check = verify(store.con)
                against = checkpoint_files(db, settings).problems(store.con, expect_head)
            broken, problem = check.first_broken, check.problem
            entries, head_hash = check.entries, check.head_hash
        except StoreBusyError as busy:
            body = through_server(db, busy).get("/api/v1/audit/verify", expect_head=expect_head)
            broken, problem = body["first_broken"], body["problem"]
            entries, head_hash = body["entries"], body["head_hash"]
            against = body["checkpoint_problems"]
        if broken is not None:
            say(f"vahti: audit chain broken at entry {broken}: {problem}", error=True)
        for found in against:
            say(f"vahti: audit log: {found}", error=True)
        if broken is not None or against:
            raise typer.Exit(1)
        unsigned = entries == 0 and not checkpoint_files(db, settings).file.exists()
        held = "nothing audited, nothing signed yet" if unsigned else (
            "it holds against the latest signed checkpoint")  # fmt: skip
        say(f"audit chain intact: {entries} entries, head {head_hash}; {held}")


@audit_app.command("checkpoint")
def audit_checkpoint(db: DbOption = DEFAULT_DB, config: ConfigOption = None) -> None:
    """Sign the chain's head, length and start now (`vahti serve` does so hourly and at
    every purge); the checkpoint goes to its file and to syslog."""
    with failures():
        settings = load_settings(config)
        try:
            with open_db(db, settings) as store:
                point = checkpoint_files(db, settings).sign(store.con, now_utc())
            seq, digest = point.seq, point.hash
        except StoreBusyError as busy:
            body = through_server(db, busy).post("/api/v1/audit/checkpoint")
            seq, digest = body["seq"], body["hash"]
        say(f"audit checkpoint signed: entry {seq}, head {digest}")


@audit_app.command("head")
def audit_head(db: DbOption = DEFAULT_DB, config: ConfigOption = None) -> None:
    """Print the latest entry's number and hash, to keep outside the system."""
    with failures():
        try:
            with open_db(db, load_settings(config)) as store:
                seq, digest = head(store.con)
        except StoreBusyError as busy:
            body = through_server(db, busy).get("/api/v1/audit/verify")
            seq, digest = body["head_seq"], body["head_hash"]
        sys.stdout.write(f"{seq} {digest}\n")


subject_app = typer.Typer(
    help="Right of access: everything stored about one person.", no_args_is_help=True
)


@subject_app.command("erase")
def subject_erase_command(
    user: Annotated[str | None, typer.Option(help="user name")] = None,
    customer_id: Annotated[str | None, typer.Option(help="customer number")] = None,
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Erase one person's events, quarantined lines and the personal fields of alerts about
    them, physically, unless a legal hold covers them (then nothing, naming the hold)."""
    with failures():
        if not (user or customer_id):
            raise UsageError("give --user or --customer-id")
        subject = Subject(user, customer_id)
        settings = load_settings(config)
        try:
            with open_db(db, settings) as store:
                try:
                    result = erase_and_compact(
                        store, AuditTrail(store), subject, cli_actor(), now_utc()
                    )
                except ErasureRefused as refused:
                    raise StoreError(str(refused)) from None
        except StoreBusyError as busy:
            body = {"user": user, "customer_id": customer_id}
            result = through_server(db, busy).post("/api/v1/subjects/erase", body)
        if as_json:
            _print_json(result)
            return
        say(f"erased {result['events']} events, {result['quarantined_lines']} quarantined "
            f"lines and the personal fields of {result['alerts']} alerts; reference "
            f"{result['subject_ref']} (keep it with the request)")  # fmt: skip


@subject_app.command("report")
def subject_report_command(
    user: Annotated[str | None, typer.Option(help="user name")] = None,
    customer_id: Annotated[str | None, typer.Option(help="customer number")] = None,
    as_json: JsonOption = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="write JSON and letters (fi, en) here")
    ] = None,
    lang: Annotated[str, typer.Option(help="letter language: fi or en")] = "en",
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Events, alerts, holds, disclosures and staff look-ups of one person, with the purposes
    and retention periods in force: as JSON, or as a letter in Finnish or English."""
    with failures():
        if not (user or customer_id):
            raise UsageError("give --user or --customer-id")
        if lang not in ("fi", "en"):
            raise UsageError("--lang: fi or en")
        settings = load_settings(config)
        try:
            with open_db(db, settings) as store:
                subject = Subject(user, customer_id)
                report = make_subject_report(store, settings, subject, cli_actor())
        except StoreBusyError as busy:  # the server's policy; it audits the report itself
            if user is None:
                raise UsageError(
                    "through a running server, give --user (and --customer-id)"
                ) from None
            path = f"/api/v1/subjects/{quote(user, safe='')}"
            report = through_server(db, busy).get(path, customer_id=customer_id)
        if out_dir is not None:
            written = write_subject_report(report, out_dir)
            say("wrote " + ", ".join(str(p) for p in written))
        elif as_json:
            _print_json(report)
        else:
            sys.stdout.write(render(report, lang))


def make_subject_report(
    store: Store, settings: Settings, subject: Subject, who: str
) -> dict[str, Any]:
    return audited_subject_report(AuditTrail(store), subject, policy_of(settings), now_utc(), who)


def write_subject_report(report: dict[str, Any], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "report.json": orjson.dumps(report, option=orjson.OPT_INDENT_2),
        "report-fi.md": render(report, "fi").encode(),
        "report-en.md": render(report, "en").encode(),
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return [folder / name for name in files]


def register_command(
    lang: Annotated[str, typer.Option(help="fi or en")] = "fi",
    as_json: JsonOption = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """The register description from the running configuration and data, in Finnish or
    English, to check the published privacy notice against."""
    with failures():
        if lang not in ("fi", "en"):
            raise UsageError("--lang: fi or en")
        settings = load_settings(config)
        try:
            with open_db(db, settings) as store:
                encrypted = store.key is not None
                described = describe(store.con, policy_of(settings), encrypted, now_utc())
        except StoreBusyError as busy:
            described = through_server(db, busy).get("/api/v1/register")
        if as_json:
            _print_json(described)
        else:
            sys.stdout.write(render_register(described, lang))
