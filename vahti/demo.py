"""`vahti demo`: a synthetic month written as real log files, loaded like any other input."""

from __future__ import annotations

from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from ingest.pipeline import IngestOptions
from store import open_store
from store.stats import stats
from vahti.settings import Settings
from vahti.synth import generate


def write_demo_files(folder: Path, days: int, seed: int) -> tuple[Path, Path]:
    data = generate(days=days, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    events = folder / "portal-logins.jsonl"
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in data.events))
    labels = folder / "labels.json"
    labels.write_bytes(
        orjson.dumps([vars(label) for label in data.labels], option=orjson.OPT_INDENT_2)
    )
    return events, labels


def run_demo(
    settings: Settings, db: Path, workdir: Path | None, days: int, seed: int, out: Console
) -> None:
    from vahti.cli import print_reports, run_ingest

    folder = workdir or db.resolve().parent / "vahti-demo"
    events, labels = write_demo_files(folder, days, seed)
    out.print(f"wrote {events} and {labels}", markup=False, highlight=False)
    with open_store(db) as store:
        reports = run_ingest(
            store,
            settings,
            [events],
            IngestOptions(format="jsonl", batch_bytes=settings.ingest.batch_bytes),
        )
        print_reports(reports, as_json=False)
        figures = stats(store)
        top = store.con.execute(
            """SELECT ip, country, count(*) AS failures, count(DISTINCT "user") AS accounts
               FROM events WHERE outcome = 'failure' GROUP BY ALL ORDER BY failures DESC LIMIT 8"""
        ).fetchall()
    table = Table(title="top failing sources")
    for name in ("address", "country", "failures", "accounts"):
        table.add_column(name)
    for row in top:
        table.add_row(*(str(v) for v in row))
    out.print(table)
    out.print(
        f"store {db}: {figures['events']} events ({figures['failures']} failures, "
        f"{figures['successes']} successes), {figures['quarantined']} quarantined, "
        f"{figures['alerts']} alerts",
        markup=False,
        highlight=False,
    )
