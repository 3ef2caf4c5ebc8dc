"""The command line: the composition root that loads settings and wires the stages."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from analytics.run import run_detection
from ingest.pipeline import FileReport, survey
from store import StoreBusyError, open_store
from store.compaction import encrypt_file
from store.encryption import read_key
from store.stats import stats
from vahti.detection_cli import alerts_app, detect_command, print_detection, run_from_json
from vahti.extract_cli import extract_app
from vahti.ingesting import (
    REPORT_COUNTS,
    file_report_from_json,
    file_report_json,
    ingest_options,
    run_ingest,
)
from vahti.privacy_cli import (
    audit_app,
    hold_app,
    register_command,
    retention_app,
    subject_app,
)
from vahti.quarantine_cli import quarantine_app
from vahti.remote import through_server
from vahti.rules_cli import rules_app, rules_of
from vahti.service_cli import events_command, serve_command
from vahti.settings import load_settings
from vahti.shell import (
    DEFAULT_DB,
    ConfigOption,
    DbOption,
    UsageError,
    err,
    failures,
    open_db,
    out,
    say,
)
from vahti.staff_cli import token_app, user_app


def _flags_as_flags() -> None:
    """Typer 0.29 writes every option's type in --help, flags too (`--json <bool>`): a flag
    takes no value, so it shows none, as click, git and every other tool show theirs."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_as_flags()

app = typer.Typer(
    help="vahti: login security monitoring, retention and lawful extracts.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import version

        out.print(f"vahti {version('vahti')}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", help="print vahti's version", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """vahti: login security monitoring, retention and lawful extracts."""


COUNTS = REPORT_COUNTS


def _counts_line(counts: dict[str, int]) -> str:
    return (
        f"read {counts['read']} lines, loaded {counts['loaded']} events, "
        f"skipped {counts['skipped']}, quarantined {counts['quarantined']}, "
        f"already loaded {counts['already']}"
    )


def print_reports(reports: list[FileReport], as_json: bool) -> None:
    if as_json:
        rows = [file_report_json(r) for r in reports]
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    for r in reports:
        counts = {k: getattr(r, k) for k in COUNTS}
        out.print(
            f"{r.path} ({r.format or 'empty'}): {_counts_line(counts)}",
            markup=False,
            highlight=False,
        )
        if r.quarantined:
            top = "; ".join(f"{n} {reason}" for reason, n in r.top_reasons())
            out.print(f"  quarantined: {top} (vahti quarantine)", markup=False, highlight=False)
        for note in r.notes:
            err.print(f"  note: {note}", markup=False, highlight=False)
    if len(reports) > 1:
        totals = {k: sum(getattr(r, k) for r in reports) for k in COUNTS}
        out.print(f"total: {_counts_line(totals)}", markup=False, highlight=False)


@app.command("ingest")
def ingest_command(
    files: Annotated[list[Path], typer.Argument(help="log files, or folders of them")],
    fmt: Annotated[str, typer.Option("--format", help="auto, jsonl, csv, sshd or access")] = "auto",
    year: Annotated[int | None, typer.Option(help="syslog: year of the first line")] = None,
    tz: Annotated[str | None, typer.Option(help="syslog: time zone of the stamps")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the counts as JSON")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log each batch")] = False,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="the files are still being written: a last line without its newline waits "
            "for the next run (until the file has been still for 60 s)",
        ),
    ] = False,
    then_detect: Annotated[
        bool, typer.Option("--detect", help="then run the rules, as `vahti detect` would")
    ] = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Load log files; print read / loaded / skipped / quarantined / already-loaded counts."""
    with failures():
        settings = load_settings(config)
        options = ingest_options(settings, fmt, year, tz, live)
        # Every file checked before the database is touched; one a folder holds that cannot
        # be read is named and left out, and the command ends with exit 1.
        plans, unreadable = survey(files, options)
        rules = rules_of(settings) if then_detect else []  # a broken folder stops before loading
        try:
            with open_db(db, settings) as store:
                reports = run_ingest(store, settings, files, options, verbose, plans=plans)
                print_reports(reports, as_json)
                if then_detect:
                    print_detection(run_detection(store, rules), to_stderr=as_json)
        except StoreBusyError as busy:  # the server reads the files itself
            remote = through_server(db, busy)
            paths = [str(p.path.resolve()) for p in plans]  # a folder: its readable files
            body = {"paths": paths, "format": fmt, "year": year, "tz": tz, "live": live}
            found = remote.post("/api/v1/ingest", body)["files"]
            print_reports([file_report_from_json(row) for row in found], as_json)
            if then_detect:
                report = run_from_json(remote.post("/api/v1/detect"))
                print_detection(report, to_stderr=as_json)
        for problem in unreadable:
            say(f"vahti: left out {problem}", error=True)
        if unreadable:
            raise typer.Exit(1)


@app.command("stats")
def stats_command(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Counts of what the store holds."""
    with failures():
        settings = load_settings(config)
        try:
            with open_db(db, settings) as store:
                figures = stats(store)
        except StoreBusyError as busy:
            figures = through_server(db, busy).get("/api/v1/stats")
        if as_json:
            sys.stdout.write(orjson.dumps(figures).decode() + "\n")
            return
        shown = {k: v for k, v in figures.items() if k not in ("sources", "other_kinds")}
        kinds = ", ".join(f"{n} {kind}" for kind, n in figures["other_kinds"].items())
        for key, value in shown.items():
            label = key.replace("_", " ")
            text = f"{value} ({kinds})" if key == "other_events" and kinds else value
            out.print(f"{label:>16}: {text}", markup=False, highlight=False)


@app.command("demo")
def demo_command(
    days: Annotated[int, typer.Option(help="length of the synthetic period")] = 30,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
    workdir: Annotated[Path | None, typer.Option(help="where to write the log files")] = None,
    db: DbOption = DEFAULT_DB,
    config: ConfigOption = None,
) -> None:
    """Make a realistic synthetic month of logins with attacks in it, ingest it, summarise."""
    from vahti.demo import run_demo

    with failures():
        settings = load_settings(config)
        run_demo(settings, db, workdir, days, seed, out)


@app.command("encrypt")
def encrypt_command(db: DbOption = DEFAULT_DB, config: ConfigOption = None) -> None:
    """Encrypt an existing database at rest with the key in VAHTI_DB_KEY_FILE (or
    VAHTI_DB_KEY); from then on every command needs that key."""
    with failures():
        key = read_key(dict(os.environ))
        if key is None:
            raise UsageError("set VAHTI_DB_KEY_FILE (or VAHTI_DB_KEY) to the key to encrypt with")
        with open_store(db, memory_limit=load_settings(config).store.memory_limit or None):
            pass  # the schema is current and nobody else holds the file
        encrypt_file(db, key)
        out.print(f"{db} is encrypted; keep the key safe: without it the data is lost")


app.command("detect")(detect_command)
app.add_typer(alerts_app, name="alerts")
app.command("serve")(serve_command)
app.command("events")(events_command)
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")
app.add_typer(retention_app, name="retention")
app.add_typer(hold_app, name="hold")
app.add_typer(audit_app, name="audit")
app.add_typer(subject_app, name="subject")
app.add_typer(extract_app, name="extract")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(rules_app, name="rules")
app.command("register")(register_command)


def main() -> None:
    # Everything vahti creates holds personal data or a secret (the database and its WAL,
    # compaction copies, packages, token files): owner only, whatever the login's umask.
    os.umask(0o077)
    app()


if __name__ == "__main__":
    main()
