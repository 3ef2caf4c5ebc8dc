"""`vahti demo`: a synthetic month written as real log files, loaded and scanned like any other."""

from __future__ import annotations

from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table

from ingest.pipeline import IngestOptions
from store.alerts import list_alerts
from store.stats import stats
from vahti.scoring import score
from vahti.settings import Settings
from vahti.shell import open_db
from vahti.synth import Label, generate


def write_demo_files(folder: Path, days: int, seed: int) -> tuple[Path, list[Label]]:
    data = generate(days=days, seed=seed)
    folder.mkdir(parents=True, exist_ok=True)
    events = folder / "portal-logins.jsonl"
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in data.events))
    labels = folder / "labels.json"
    labels.write_bytes(
        orjson.dumps([vars(label) for label in data.labels], option=orjson.OPT_INDENT_2)
    )
    return events, data.labels


def run_demo(
    settings: Settings, db: Path, workdir: Path | None, days: int, seed: int, out: Console
) -> None:
    from vahti.cli import print_reports
    from vahti.detection_cli import alert_table, detect
    from vahti.ingesting import run_ingest

    folder = workdir or db.resolve().parent / "vahti-demo"
    events, labels = write_demo_files(folder, days, seed)
    out.print(f"wrote {events} (and the attacks' labels beside it)", markup=False, highlight=False)
    with open_db(db, settings) as store:
        options = IngestOptions(format="jsonl", batch_bytes=settings.ingest.batch_bytes)
        print_reports(run_ingest(store, settings, [events], options), as_json=False)
        run = detect(store, settings)
        alerts = list_alerts(store.con)
        figures = stats(store)
    out.print(alert_table(alerts, title=f"alerts ({run.new} new this run)"))
    out.print(_score_table(score(alerts, labels)))
    out.print(
        f"store {db}: {figures['events']} events ({figures['failures']} failures, "
        f"{figures['successes']} successes), {figures['quarantined']} quarantined, "
        f"{figures['alerts']} alerts. Try: vahti alerts show "
        f"{alerts[0].alert_id if alerts else 'ID'}",
        markup=False,
        highlight=False,
    )


def _score_table(scores: list) -> Table:
    table = Table(title="labelled attacks found")
    for name in ("category", "attacks", "found", "alerts", "false alarms"):
        table.add_column(name)
    for s in scores:
        table.add_row(
            s.category, str(s.labels), str(s.found), str(s.alerts), str(s.alerts - s.true_alerts)
        )
    return table
