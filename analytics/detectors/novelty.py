"""First-seen values and long silences of an account."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from analytics.detectors.common import (
    BASE_COLUMNS,
    Duration,
    Params,
    Reads,
    Where,
    as_findings,
    empty_findings,
    keyed,
)


class FirstSeenParams(Params):
    field: str = "country"
    min_history_events: int = 10  # Entra ID learns 14 days or 10 logins
    min_history_days: int = 14

    def reads(self) -> Reads:
        columns = (*BASE_COLUMNS, self.field)
        return Reads(
            columns=columns,
            equals=(("event", ("login",)), ("outcome", ("success",))),
            group='"user"',
            having=f'min("{self.field}") <> max("{self.field}")',
        )


def first_seen(events: pl.DataFrame, p: FirstSeenParams) -> pl.DataFrame:
    """A success with a value the account never had, once it has a real history."""
    several = pl.col(p.field).drop_nulls().n_unique() > 1
    frame = keyed(events, "user", Where(outcome="success"), candidates=several)
    frame = frame.filter(pl.col(p.field).is_not_null())
    if frame.height == 0:
        return empty_findings()
    frame = frame.with_columns(
        earlier=pl.int_range(pl.len()).over("key"),
        since=pl.col("ts") - pl.col("ts").min().over("key"),
        first_of_value=pl.int_range(pl.len()).over("key", p.field) == 0,
    )
    found = frame.filter(
        pl.col("first_of_value")
        & (pl.col("earlier") >= p.min_history_events)
        & (pl.col("since") >= timedelta(days=p.min_history_days))
    )
    return as_findings(
        found,
        "ts",
        "ts",
        pl.concat_list("event_id"),
        pl.format(
            "{} logged in from {} {} ({}) for the first time after {} logins over {} days",
            "key",
            pl.lit(p.field),
            pl.col(p.field),
            "ip",
            "earlier",
            pl.col("since").dt.total_days(),
        ),
    )


class DormancyParams(Params):
    min_gap: Duration = timedelta(days=30)

    def reads(self) -> Reads:
        seconds = int(self.min_gap.total_seconds())
        return Reads(
            columns=(*BASE_COLUMNS, "city", "country"),
            group='"user"',
            having=f"epoch(max(ts)) - epoch(min(ts)) >= {seconds}",
        )


def dormancy(events: pl.DataFrame, p: DormancyParams) -> pl.DataFrame:
    """A success of an account silent (no event at all) for `min_gap` before it."""
    long_enough = pl.col("ts").max() - pl.col("ts").min() >= p.min_gap
    frame = keyed(events, "user", Where(event=None), candidates=long_enough)
    if frame.height == 0:
        return empty_findings()
    frame = frame.with_columns(
        prev_ts=pl.col("ts").shift(1).over("key"), prev_id=pl.col("event_id").shift(1).over("key")
    )
    found = frame.filter(
        (pl.col("event") == "login")
        & (pl.col("outcome") == "success")
        & (pl.col("ts") - pl.col("prev_ts") >= p.min_gap)
    )
    return as_findings(
        found,
        "prev_ts",
        "ts",
        pl.concat_list("prev_id", "event_id"),
        pl.format(
            "{} logged in from {} after {} days of silence",
            "key",
            pl.coalesce(pl.col("city"), pl.col("country"), pl.col("ip")),
            (pl.col("ts") - pl.col("prev_ts")).dt.total_days(),
        ),
    )
