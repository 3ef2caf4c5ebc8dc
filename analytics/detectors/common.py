"""Pieces every detector shares: filters, source keys, windows into episodes, findings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

import polars as pl
from pydantic import BaseModel, BeforeValidator, ConfigDict

_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def duration(value: object) -> timedelta:
    """`10m`, `1h`, `30d` -> timedelta (how rules write time)."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value).strip())
    if match is None:
        raise ValueError(f"bad duration {value!r}: write e.g. 10m, 1h, 30d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


Duration = Annotated[timedelta, BeforeValidator(duration)]

FINDINGS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "entity": pl.String,
    "first_seen": pl.Datetime("us"),
    "last_seen": pl.Datetime("us"),
    "event_ids": pl.List(pl.Int64),
    "summary": pl.String,
}


ALL_COLUMNS = (
    "event_id", "ts", "event", "outcome", "user", "ip", "ip_version", "ip_bin", "country",
    "city", "lat", "lon", "own_network", "user_agent", "session_id", "reason",
)  # fmt: skip
BASE_COLUMNS = ("event_id", "ts", "event", "outcome", "user", "ip", "ip_bin")


@dataclass(frozen=True)
class Reads:
    """What a detector looks at, so the caller can hand it no more than that: columns, and
    the values some columns must have (a filter the caller may apply before the frame)."""

    columns: tuple[str, ...] = ALL_COLUMNS
    equals: tuple[tuple[str, tuple[str, ...]], ...] = ()
    not_null: tuple[str, ...] = ()
    # A necessary condition per group, as SQL: groups failing it cannot reach a finding, so
    # the caller may leave them out (IPv6 rows stay, their /64 grouping is the detector's).
    group: str | None = None
    having: str | None = None
    # Or a whole query over `scope` (the rows above) that returns the wanted groups.
    candidates: str | None = None


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def reads(self) -> Reads:
        return Reads()


class Where(Params):
    """Which events a detector looks at."""

    event: str | None = "login"
    outcome: Literal["success", "failure"] | None = None
    reason: str | None = None

    def equals(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        pairs = (("event", self.event), ("outcome", self.outcome), ("reason", self.reason))
        return tuple((column, (value,)) for column, value in pairs if value is not None)

    def expr(self) -> pl.Expr:
        condition = pl.lit(True)
        if self.event is not None:
            condition &= pl.col("event") == self.event
        if self.outcome is not None:
            condition &= pl.col("outcome") == self.outcome
        if self.reason is not None:
            condition &= pl.col("reason") == self.reason
        return condition


def empty_findings() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDINGS_SCHEMA)


def source_key() -> pl.Expr:
    """The address, or for IPv6 its /64: privacy addresses of one host change within it."""
    # Only IPv6 rows are spelled out: the string work on null rows costs next to nothing.
    ipv6 = pl.when(pl.col("ip_version") == 6).then(pl.col("ip_bin"))
    hexed = ipv6.bin.encode("hex")
    groups = [
        hexed.str.slice(i * 4, 4).str.strip_chars_start("0").replace("", "0") for i in range(4)
    ]
    prefix = pl.concat_str(groups, separator=":") + pl.lit("::/64")
    return pl.coalesce(prefix, pl.col("ip"))


KEYS = {"ip": source_key, "user": lambda: pl.col("user"), "session": lambda: pl.col("session_id")}
KeyName = Literal["ip", "user", "session"]


def keyed(
    events: pl.DataFrame, key: KeyName, where: Where, candidates: pl.Expr | None = None
) -> pl.DataFrame:
    """The events a detector looks at, with `key` set and null keys dropped, sorted.

    `candidates`, an aggregate over one key's events (e.g. at least 10 of them), drops the
    keys that cannot reach a finding before the costly sort and windows: most keys are
    ordinary users and home addresses.
    """
    frame = (
        events.filter(where.expr())
        .with_columns(key=KEYS[key]())
        .filter(pl.col("key").is_not_null())
    )
    if candidates is not None:
        wanted = frame.group_by("key").agg(candidates.alias("wanted"))
        if not wanted["wanted"].all():  # spares a join when every key may reach a finding
            keep = wanted.filter(pl.col("wanted")).select("key")
            frame = frame.join(keep, on="key", how="semi")
    # Time order first, then a stable sort on one integer column: a third faster than one
    # sort on (key, ts, event_id), which compares encoded rows.
    return frame.sort("ts", "event_id").sort(sort_codes("key"), maintain_order=True)


def sort_codes(column: str) -> pl.Expr:
    """A text column as numbers that sort equal values together, in no particular order of
    the values: category codes sort twice as fast as the texts."""
    return pl.col(column).cast(pl.String).cast(pl.Categorical).to_physical()


def episodes(triggers: pl.DataFrame, window: timedelta) -> pl.DataFrame:
    """Trigger instants (key, ts) -> merged spans [ts - window, ts] per key."""
    spans = triggers.select("key", start=pl.col("ts") - window, end=pl.col("ts")).sort(
        "key", "start"
    )
    previous_end = pl.col("end").cum_max().shift(1).over("key")
    fresh = previous_end.is_null() | (pl.col("start") > previous_end)
    return (
        spans.with_columns(episode=fresh.cast(pl.Int32).cum_sum().over("key"))
        .group_by("key", "episode")
        .agg(pl.col("start").min(), pl.col("end").max())
    )


def evidence(events: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """The keyed events inside each span, labelled with it.

    Spans of a key do not overlap, so each event has at most one candidate: the last span
    starting at or before it (an as-of join, not a join on the key and a filter, which
    would pair every event of a busy key with every one of its spans).
    """
    located = events.sort("ts").join_asof(
        spans.sort("start"),
        left_on="ts",
        right_on="start",
        by="key",
        strategy="backward",
        check_sortedness=False,
    )
    return located.filter(pl.col("end").is_not_null() & (pl.col("ts") <= pl.col("end")))


def episode_facts(
    frame: pl.DataFrame, triggers: pl.DataFrame, window: timedelta, **more: pl.Expr
) -> pl.DataFrame:
    """One row per episode of a key: its span, its events, and `more` aggregates."""
    return (
        evidence(frame, episodes(triggers, window))
        .group_by("key", "episode")
        .agg(
            first_seen=pl.col("ts").min(),
            last_seen=pl.col("ts").max(),
            event_ids=pl.col("event_id"),
            **more,
        )
    )


def as_findings(
    found: pl.DataFrame, first: str, last: str, event_ids: pl.Expr, summary: pl.Expr
) -> pl.DataFrame:
    """The findings frame every detector returns."""
    return found.select(
        entity="key", first_seen=first, last_seen=last, event_ids=event_ids, summary=summary
    )


def minutes(first: pl.Expr, last: pl.Expr) -> pl.Expr:
    return ((last - first).dt.total_seconds() / 60).round(0).cast(pl.Int64).clip(lower_bound=1)


def names(column: str, limit: int = 3) -> pl.Expr:
    """`a, b and 4 more` from the distinct values of a column."""
    distinct = pl.col(column).drop_nulls().unique(maintain_order=True)
    shown = distinct.head(limit).str.join(", ")
    more = distinct.len().cast(pl.Int64) - limit
    return pl.when(more > 0).then(pl.format("{} and {} more", shown, more)).otherwise(shown)
