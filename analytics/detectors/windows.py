"""Sliding-window detectors: how many events, or how many distinct values, per key."""

from __future__ import annotations

from typing import Literal

import polars as pl

from analytics.detectors.common import (
    BASE_COLUMNS,
    SOURCE_GROUP,
    Duration,
    KeyName,
    Params,
    Reads,
    Where,
    as_findings,
    distinct_triggers,
    empty_findings,
    episode_facts,
    keyed,
    minutes,
    names,
    source_key,
)

_GROUP = {"ip": SOURCE_GROUP, "user": '"user"', "session": "session_id"}


class CountParams(Params):
    key: KeyName = "ip"
    where: Where = Where(outcome="failure")
    window: Duration
    min_events: int
    max_users: int | None = None  # "against one or a few accounts"

    def reads(self) -> Reads:
        return Reads(
            columns=(*BASE_COLUMNS, "ip_version", "host", "reason"),
            equals=self.where.equals(),
            group=_GROUP[self.key],
            having=f"count(*) >= {int(self.min_events)}",
        )


def window_count(events: pl.DataFrame, p: CountParams) -> pl.DataFrame:
    """At least `min_events` matching events of one key within `window`."""
    frame = keyed(events, p.key, p.where, candidates=pl.len() >= p.min_events)
    if frame.height == 0:
        return empty_findings()
    counts = frame.rolling(index_column="ts", period=p.window, group_by="key").agg(n=pl.len())
    triggers = counts.filter(pl.col("n") >= p.min_events)
    found = episode_facts(
        frame, triggers, p.window, users=pl.col("user").n_unique(), user_names=names("user")
    )
    if p.max_users is not None:
        found = found.filter(pl.col("users") <= p.max_users)
    return as_findings(
        found,
        "first_seen",
        "last_seen",
        pl.col("event_ids"),
        pl.format(
            "{} {} for {} from {} in {} min",
            pl.col("event_ids").list.len(),
            pl.lit(_describe(p.where)),
            "user_names",
            "key",
            minutes(pl.col("first_seen"), pl.col("last_seen")),
        ),
    )


class Share(Params):
    low: float = 0.0
    high: float = 1.0
    low_inclusive: bool = True


class DistinctParams(Params):
    key: KeyName = "ip"
    where: Where = Where(outcome="failure")
    window: Duration
    distinct: Literal["user", "source", "country"] = "user"
    min_distinct: int
    max_mean_tries: float | None = None  # tries per distinct value, on average
    success_share: Share | None = None
    unknown_share: Share | None = None  # failures naming accounts that do not exist
    shares_match: Literal["all", "any"] = "all"
    # Sources of one campaign share a client string and overlap in time: name them together.
    campaign_by: Literal["user_agent"] | None = None

    def reads(self) -> Reads:
        columns = (*BASE_COLUMNS, "ip_version", "host", "reason", "country", "user_agent")
        value = {"user": '"user"', "source": SOURCE_GROUP, "country": "country"}[self.distinct]
        return Reads(
            columns=columns,
            equals=self.where.equals(),
            group=_GROUP[self.key],
            having=f"count(DISTINCT {value}) >= {int(self.min_distinct)}",
        )


_DISTINCT = {
    "user": lambda: pl.col("user"),
    "source": source_key,
    "country": lambda: pl.col("country"),
}


def window_distinct(events: pl.DataFrame, p: DistinctParams) -> pl.DataFrame:
    """At least `min_distinct` different values (accounts, sources) for one key in `window`."""
    value = _DISTINCT[p.distinct]()
    enough = value.drop_nulls().n_unique() >= p.min_distinct
    frame = keyed(events, p.key, p.where, candidates=enough).with_columns(value=value)
    frame = frame.filter(pl.col("value").is_not_null())
    if frame.height == 0:
        return empty_findings()
    triggers = distinct_triggers(frame, p.window, p.min_distinct)
    found = episode_facts(
        frame,
        triggers,
        p.window,
        distinct=pl.col("value").n_unique(),
        success=(pl.col("outcome") == "success").fill_null(False).mean(),
        unknown=(pl.col("reason") == "unknown_user").fill_null(False).mean(),
        value_names=names("value"),
        client=pl.col("user_agent").drop_nulls().mode().first(),
    )
    found = found.filter(_conditions(p))
    what = {"user": "accounts", "source": "sources", "country": "countries"}[p.distinct]
    summary = pl.format(
        "{} {} against {} {} ({}) from {} in {} min",
        pl.col("event_ids").list.len(),
        pl.lit(_describe(p.where)),
        "distinct",
        pl.lit(what),
        "value_names",
        "key",
        minutes(pl.col("first_seen"), pl.col("last_seen")),
    )
    if p.campaign_by is not None and found.height:
        found = _campaigns(found)
        summary = (
            pl.when(pl.col("campaign_size") > 1)
            .then(
                pl.format(
                    "{}; one campaign of {} sources with one client: {}",
                    summary,
                    "campaign_size",
                    "campaign_sources",
                )
            )
            .otherwise(summary)
        )
    return as_findings(
        found,
        "first_seen",
        "last_seen",
        pl.col("event_ids"),
        summary,
    )


def _campaigns(found: pl.DataFrame) -> pl.DataFrame:
    """Findings with the same client whose spans overlap belong to one campaign."""
    ordered = found.sort("client", "first_seen")
    previous_end = pl.col("last_seen").cum_max().shift(1).over("client")
    fresh = previous_end.is_null() | (pl.col("first_seen") > previous_end)
    ordered = ordered.with_columns(campaign=fresh.cast(pl.Int32).cum_sum().over("client"))
    groups = ordered.group_by("client", "campaign").agg(
        campaign_size=pl.col("key").n_unique(), campaign_sources=names("key", 5)
    )
    return ordered.join(groups, on=["client", "campaign"], how="left", nulls_equal=True)


def _within(column: str, share: Share) -> pl.Expr:
    low = pl.col(column) >= share.low if share.low_inclusive else pl.col(column) > share.low
    return low & (pl.col(column) <= share.high)


def _conditions(p: DistinctParams) -> pl.Expr:
    condition = pl.lit(True)
    if p.max_mean_tries is not None:
        condition &= pl.col("event_ids").list.len() / pl.col("distinct") <= p.max_mean_tries
    shares = [
        _within(column, share)
        for column, share in (("success", p.success_share), ("unknown", p.unknown_share))
        if share is not None
    ]
    if shares:
        joined = pl.any_horizontal(shares) if p.shares_match == "any" else pl.all_horizontal(shares)
        condition &= joined
    return condition


def _describe(where: Where) -> str:
    """`failed logins`, `successful logins`, `login attempts`, `events`."""
    noun = f"{where.event}s" if where.event else "events"
    if where.outcome == "failure":
        return f"failed {noun}"
    if where.outcome == "success":
        return f"successful {noun}"
    return f"{where.event} attempts" if where.event else noun
