"""Parsing quarantined lines again, after an upgrade taught the parsers what they missed."""

from __future__ import annotations

import polars as pl

from ingest.context import ParseContext
from ingest.enrich import Enricher, enrich
from ingest.formats import PARSERS
from ingest.normalise import validate
from store.quarantine import RetryCounts


def reparse(
    lines: pl.DataFrame, context: ParseContext, enricher: Enricher
) -> tuple[pl.DataFrame, RetryCounts]:
    """Quarantined lines of one input (line_no, raw, reason, quarantined_at) -> (enriched
    events, what became of the lines). They are read together, in file order, so that lines
    of one connection still pair with each other; a line that fails again keeps its first
    quarantine time and gets today's reason."""
    usable = lines.select("line_no", "raw")
    parsed = PARSERS[context.format](usable, usable.head(0), context)
    valid, rejected = validate(parsed.events, parsed.names_required)
    events, bad_address = enrich(valid, enricher)
    problems = (
        pl.concat([parsed.quarantine, rejected, bad_address])
        .unique("line_no", keep="first", maintain_order=True)
        .join(lines.select("line_no", "quarantined_at"), on="line_no", how="left")
        .select("line_no", "raw", "reason", "quarantined_at")
        .sort("line_no")
    )
    lines_with_events = events["line_no"].n_unique()
    skipped = lines.height - problems.height - lines_with_events
    return events, RetryCounts(events=events.height, skipped=skipped, still=problems)
