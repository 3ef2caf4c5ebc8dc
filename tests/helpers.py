from __future__ import annotations

from pathlib import Path

from ingest.enrich import Enricher
from ingest.pipeline import FileReport, IngestOptions, ingest, plan
from store import open_store


def load(db: Path, *files: Path, **options: object) -> list[FileReport]:
    """Ingest through the real pipeline into a real DuckDB file."""
    opts = IngestOptions(**options)  # type: ignore[arg-type]
    enricher = Enricher.open("", "", ())
    try:
        with open_store(db) as store:
            return ingest(store, plan(list(files), opts), opts, enricher)
    finally:
        enricher.close()


def query(db: Path, sql: str) -> list[tuple]:
    with open_store(db) as store:
        return store.con.execute(sql).fetchall()
