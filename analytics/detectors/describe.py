"""Alert summaries written from the evidence itself, so a grown alert is described again
from all of its events, not from the run that first raised it.

Each function takes evidence rows with a `group` column (one group per finding or alert),
`key` (the entity) and the events' own columns, and returns (group, summary).
"""

from __future__ import annotations

import polars as pl

from analytics.detectors.common import source_key

SHOWN = 5  # names listed before "and N more"


def _failed() -> pl.Expr:
    return (pl.col("event") == "login") & (pl.col("outcome") == "failure")


def _succeeded() -> pl.Expr:
    return (pl.col("event") == "login") & (pl.col("outcome") == "success")


def span_text(first: pl.Expr, last: pl.Expr) -> pl.Expr:
    """`in 40 s`, `in 9 min`, `in 5 h`, `over 3 days`."""
    seconds = (last - first).dt.total_seconds()
    rounded = {
        "s": seconds.round(0).cast(pl.Int64).clip(lower_bound=1),
        "min": (seconds / 60).round(0).cast(pl.Int64),
        "h": (seconds / 3600).round(0).cast(pl.Int64),
        "days": (seconds / 86400).round(0).cast(pl.Int64),
    }
    return (
        pl.when(seconds < 90)
        .then(pl.format("in {} s", rounded["s"]))
        .when(seconds < 2 * 3600)
        .then(pl.format("in {} min", rounded["min"]))
        .when(seconds < 48 * 3600)
        .then(pl.format("in {} h", rounded["h"]))
        .otherwise(pl.format("over {} days", rounded["days"]))
    )


def counted_names(rows: pl.DataFrame, column: str, what: str) -> pl.DataFrame:
    """(group, distinct, listed): `root (277), oracle (2) and 8 more` per group."""
    per_value = (
        rows.filter(pl.col(column).is_not_null())
        .group_by("group", column)
        .agg(n=pl.len())
        .sort(["group", "n", column], descending=[False, True, False])
    )
    listed = per_value.group_by("group", maintain_order=True).agg(
        distinct=pl.len().cast(pl.Int64),
        shown=pl.format("{} ({})", pl.col(column), "n").head(SHOWN).str.join(", "),
    )
    more = pl.col("distinct") - SHOWN
    return listed.select(
        "group",
        "distinct",
        listed=pl.when(more > 0)
        .then(pl.format("{} and {} more {}", "shown", more, pl.lit(what)))
        .otherwise("shown"),
    )


def failure_summary(rows: pl.DataFrame) -> pl.DataFrame:
    """A source's failures: `62 failed logins for matti.virtanen from 183.62.140.253 in 9 min`,
    or for many accounts `287 failed logins for 10 accounts (root (277), ...) from ...`."""
    failures = rows.filter(_failed())
    base = rows.group_by("group").agg(
        key=pl.col("key").first(),
        failures=_failed().sum(),
        unknown=(_failed() & (pl.col("reason") == "unknown_user")).sum(),
        span=span_text(pl.col("ts").min(), pl.col("ts").max()),
    )
    accounts = counted_names(failures, "user", "accounts")
    winners = counted_names(rows.filter(_succeeded()), "user", "accounts").rename(
        {"distinct": "won", "listed": "winners"}
    )
    table = base.join(accounts, on="group", how="left").join(winners, on="group", how="left")
    single = failures.group_by("group").agg(only=pl.col("user").first())
    table = table.join(single, on="group", how="left")
    whom = (
        pl.when(pl.col("distinct") == 1)
        .then(pl.col("only"))
        .otherwise(pl.format("{} accounts ({})", "distinct", "listed"))
    )
    unknown = pl.when(pl.col("unknown") > 0).then(
        pl.format(
            ", {} % of the names unknown here",
            (pl.col("unknown") * 100 / pl.col("failures")).round(0).cast(pl.Int64),
        )
    )
    won = pl.when(pl.col("won") > 0).then(pl.format("; successful logins for {}", "winners"))
    summary = pl.concat_str(
        [
            pl.format("{} failed logins for {} from {} {}", "failures", whom, "key", "span"),
            unknown.otherwise(pl.lit("")),
            won.otherwise(pl.lit("")),
        ]
    )
    return table.select("group", summary=summary)


def account_summary(rows: pl.DataFrame) -> pl.DataFrame:
    """One account failing from many sources: `14 failed logins for sanna.lehtonen1 from 14
    sources in 25 min (91.152.10.1 (1), ...)`."""
    failures = rows.filter(_failed()).with_columns(source=source_key())
    base = failures.group_by("group").agg(
        key=pl.col("key").first(),
        failures=pl.len(),
        span=span_text(pl.col("ts").min(), pl.col("ts").max()),
    )
    sources = counted_names(failures, "source", "sources")
    table = base.join(sources, on="group", how="left")
    return table.select(
        "group",
        summary=pl.format(
            "{} failed logins for {} from {} sources {} ({})",
            "failures",
            "key",
            "distinct",
            "span",
            "listed",
        ),
    )
