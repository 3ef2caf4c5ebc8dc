"""Ingest wiring shared by the CLI, the demo and the service's spool job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from ingest.enrich import Enricher
from ingest.pipeline import (
    AccessRules,
    BatchCallback,
    FilePlan,
    FileReport,
    IngestOptions,
    ingest,
    plan,
)
from store import Store
from vahti.settings import Settings
from vahti.shell import err


def ingest_options(
    settings: Settings, fmt: str, year: int | None, tz: str | None, live: bool = False
) -> IngestOptions:
    access = settings.access
    return IngestOptions(
        format=fmt,
        year=year,
        tz=tz or settings.ingest.syslog_tz,
        batch_bytes=settings.ingest.batch_bytes,
        access=AccessRules(
            **access.model_dump(exclude={"methods", "json_fields"}),
            methods=tuple(m.upper() for m in access.methods),
            json_fields=tuple(access.json_fields.items()),
        ),
        live=live,
    )


def open_enricher(settings: Settings) -> Enricher:
    geo = settings.geoip
    return Enricher.open(geo.city_db, geo.asn_db, geo.own_networks)


def run_ingest(
    store: Store,
    settings: Settings,
    files: list[Path],
    options: IngestOptions,
    verbose: bool = False,
    on_batch: BatchCallback | None = None,
    plans: list[FilePlan] | None = None,
) -> list[FileReport]:
    """Load `files` (or the `plans` already made of them); a progress bar on a terminal, a
    line per batch when verbose, or `on_batch` (called after each committed batch; it may
    raise to stop there)."""
    plans = plan(files, options) if plans is None else plans
    enricher = open_enricher(settings)
    try:
        if (
            on_batch is None
            and err.is_terminal
            and sum(p.size for p in plans) > options.batch_bytes
        ):
            return _ingest_with_bar(store, plans, options, enricher)
        callback = on_batch or (_batch_logger if verbose else None)
        return ingest(store, plans, options, enricher, callback)
    finally:
        enricher.close()


def _batch_logger(report: FileReport, done: int, size: int) -> None:
    err.print(
        f"committed batch: {report.path.name} {done}/{size} bytes, {report.loaded} events",
        markup=False,
        highlight=False,
    )


def _ingest_with_bar(
    store: Store, plans: list, options: IngestOptions, enricher: Enricher
) -> list[FileReport]:
    columns = ("{task.description}", BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("ingest", total=sum(p.size for p in plans))
        offsets: dict[Path, int] = {}

        def advance(report: FileReport, done: int, size: int) -> None:
            bar.update(
                task, advance=done - offsets.get(report.path, 0), description=report.path.name
            )
            offsets[report.path] = done

        return ingest(store, plans, options, enricher, advance)


REPORT_COUNTS = ("read", "loaded", "skipped", "quarantined", "already")


def file_report_json(report: FileReport) -> dict[str, Any]:
    """One file's ingest, as `vahti ingest --json` prints it and the API returns it."""
    return {
        "file": str(report.path),
        "format": report.format,
        **{k: getattr(report, k) for k in REPORT_COUNTS},
        "notes": report.notes,
        "quarantine_reasons": dict(report.top_reasons(10)),
    }


def file_report_from_json(row: dict[str, Any]) -> FileReport:
    return FileReport(
        path=Path(row["file"]), format=row["format"], notes=list(row["notes"]),
        reasons=dict(row["quarantine_reasons"]), **{k: row[k] for k in REPORT_COUNTS},
    )  # fmt: skip
