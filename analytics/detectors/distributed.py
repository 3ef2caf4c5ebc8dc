"""One account failing from many sources that each stay below the per-source triggers.

Loud sources are alerts of their own (source_failures); counting them here too would make
`root` an alert of every SSH server on the internet. Their failures are left out, and the
account's alert only names the loud sources that also tried it.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from pydantic import Field

from analytics.detectors.common import (
    SOURCE_GROUP,
    Duration,
    Params,
    Reads,
    Where,
    as_findings,
    distinct_triggers,
    empty_findings,
    episodes,
    evidence,
    keyed,
    merge_spans,
    source_key,
)
from analytics.detectors.describe import account_summary
from analytics.detectors.sources import Trigger, fired

COLUMNS = ("event_id", "ts", "event", "outcome", "user", "ip", "ip_version", "ip_bin", "host")


class DistributedParams(Params):
    window: Duration = timedelta(minutes=30)
    min_sources: int = Field(default=5, ge=2)
    # A source that passes one of these is loud: alerted by itself, not counted here. Keep
    # them in step with source_failures' triggers.
    loud: tuple[Trigger, ...] = (Trigger(failures=10, window=timedelta(minutes=10)),)

    def reads(self) -> Reads:
        # Loudness is a property of the source over all its failures: the read takes every
        # failure of each source that failed against an account that may reach a finding
        # (min_sources distinct sources in two neighbouring windows).
        seconds = max(int(self.window.total_seconds()), 1)
        candidates = f"""SELECT source FROM (
            WITH f AS (SELECT "user", {SOURCE_GROUP} AS source,
                              floor(epoch(ts) / {seconds}) AS slot FROM scope),
            per AS (SELECT "user", slot, count(DISTINCT source) AS n FROM f GROUP BY 1, 2),
            crowded AS (
                SELECT DISTINCT "user" FROM (
                    SELECT "user", slot, n, lead(slot) OVER w AS next_slot,
                           lead(n) OVER w AS next_n
                    FROM per WINDOW w AS (PARTITION BY "user" ORDER BY slot))
                WHERE n + CASE WHEN next_slot = slot + 1 THEN next_n ELSE 0 END
                      >= {int(self.min_sources)})
            SELECT DISTINCT source FROM f WHERE "user" IN (SELECT "user" FROM crowded))"""
        return Reads(
            columns=COLUMNS,
            equals=(("event", ("login",)), ("outcome", ("failure",))),
            group=SOURCE_GROUP,
            candidates=candidates,
        )


def distributed_failures(events: pl.DataFrame, p: DistributedParams) -> pl.DataFrame:
    by_source = keyed(events, "ip", Where(outcome="failure"))
    if by_source.height == 0:
        return empty_findings()
    marked = mark_loud(by_source, p.loud)
    quiet = marked.filter(~pl.col("loud"))
    frame = keyed(quiet.drop("key"), "user", Where(outcome="failure")).with_columns(
        value=source_key()
    )
    if frame.height == 0:
        return empty_findings()
    triggers = distinct_triggers(frame, p.window, p.min_sources)
    if triggers.height == 0:
        return empty_findings()
    spans = episodes(triggers, p.window)
    rows = evidence(frame, spans)
    found = rows.group_by("key", "episode").agg(
        first_seen=pl.col("ts").min(),
        last_seen=pl.col("ts").max(),
        event_ids=pl.col("event_id"),
        weight=pl.col("value").n_unique().cast(pl.Int64),
    )
    summaries = account_summary(rows.with_columns(group=pl.struct("key", "episode")))
    found = found.with_columns(group=pl.struct("key", "episode")).join(summaries, on="group")
    found = found.join(_loud_neighbours(marked, found), on=["key", "episode"], how="left")
    return as_findings(
        found, "first_seen", "last_seen", pl.col("event_ids"), pl.col("summary"),
        weight="weight", reasons="reasons",
    )  # fmt: skip


def mark_loud(frame: pl.DataFrame, loud: tuple[Trigger, ...]) -> pl.DataFrame:
    """`loud`: the failure falls in a window where its source passed a loud trigger."""
    counted = frame.with_columns(failed=pl.lit(True), succeeded=pl.lit(False), counted=pl.lit(True))
    hits = fired(counted, loud)
    if hits.height == 0:
        return frame.with_columns(loud=pl.lit(False))
    spans = merge_spans(hits.select("key", "start", end="ts"))
    inside = evidence(frame.select("key", "ts", "event_id"), spans).select("event_id")
    return frame.with_columns(loud=pl.col("event_id").is_in(inside["event_id"].implode()))


def _loud_neighbours(marked: pl.DataFrame, found: pl.DataFrame) -> pl.DataFrame:
    """(key, episode, reasons): the loud sources that tried the account in the episode."""
    loud = marked.filter(pl.col("loud")).select("ts", source="key", key=pl.col("user"))
    spans = found.select("key", "episode", start="first_seen", end="last_seen")
    near = (
        evidence(loud, spans)
        .group_by("key", "episode")
        .agg(sources=pl.col("source").unique().sort())
    )
    text = pl.format(
        "also tried by {} loud sources with alerts of their own: {}",
        pl.col("sources").list.len(),
        pl.col("sources").list.head(10).list.join(", "),
    )
    return near.select("key", "episode", reasons=pl.concat_list(text))
