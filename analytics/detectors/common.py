"""Pieces every detector shares: filters, source keys, windows into episodes, findings."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

import polars as pl
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def duration(value: object) -> timedelta:
    """`90d`, `12h`, `30m`, `45s`, `2w` -> timedelta: how rules and the configuration
    write time (vahti/settings.py reads its durations with this too)."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value))
    if match is None:
        raise ValueError(f"bad duration {value!r}: write a number and a unit, e.g. 90d, 12h, 30m")
    amount, unit = match.groups()
    return timedelta(**{_UNITS[unit]: int(amount)})


Duration = Annotated[timedelta, BeforeValidator(duration)]

FINDINGS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "entity": pl.String,
    "first_seen": pl.Datetime("us"),
    "last_seen": pl.Datetime("us"),
    "event_ids": pl.List(pl.Int64),
    "summary": pl.String,
    # Null where the rule decides: a detector that labels its findings sets these.
    "category": pl.String,
    "severity": pl.String,
    "entity_type": pl.String,
    "members": pl.List(pl.String),  # the sources of a campaign
    "risk": pl.Float64,  # 0..1, how unfamiliar the finding's login was for its account
    "reasons": pl.List(pl.String),  # what was unfamiliar, or what made the label
    "weight": pl.Int64,  # how strongly the label was decided (events of its window)
}
OPTIONAL_FINDINGS = tuple(list(FINDINGS_SCHEMA)[5:])


ALL_COLUMNS = (
    "event_id", "ts", "event", "outcome", "user", "ip", "ip_version", "ip_bin", "host",
    "country", "city", "lat", "lon", "asn", "own_network", "user_agent", "session_id", "reason",
)  # fmt: skip
BASE_COLUMNS = ("event_id", "ts", "event", "outcome", "user", "ip", "ip_bin")
# A login's familiarity score (login_risk): read beside the events where a detector asks.
RISK_COLUMNS = ("risk", "learning", "risk_reasons")
# How the store groups events by source: the address, or the host name where there is none.
SOURCE_GROUP = "coalesce(ip, host)"


@dataclass(frozen=True)
class Reads:
    """What a detector looks at, so the caller can hand it no more than that: columns, and
    the values some columns must have (a filter the caller may apply before the frame)."""

    columns: tuple[str, ...] = ALL_COLUMNS
    equals: tuple[tuple[str, tuple[str, ...]], ...] = ()
    not_null: tuple[str, ...] = ()
    # A necessary condition per group, as SQL: groups failing it cannot reach a finding, so
    # the caller may leave them out (IPv6 rows stay, their /64 grouping is the detector's).
    # `group` is an SQL expression over the events' columns.
    group: str | None = None
    having: str | None = None
    # Or a whole query over `scope` (the rows above) that returns the wanted groups.
    candidates: str | None = None
    # Service-level detectors: an aggregate query over `scope` whose (small) result the
    # detector gets beside the events, and from it the time spans (start, end) whose events
    # it needs; no span, no events read.
    context: str | None = None
    spans: Callable[[pl.DataFrame], pl.DataFrame] | None = None


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


class RiskGate(Params):
    """Familiarity (analytics/familiarity.py): only logins at least this risky, past their
    account's learning, alert; the risk sets the severity (the highest band reached)."""

    min_risk: float = Field(default=0.5, ge=0, le=1)
    severity: dict[Literal["low", "medium", "high", "critical"], float] = {
        "low": 0.2, "medium": 0.5, "high": 0.7, "critical": 0.95,
    }  # fmt: skip

    def band(self, risk: pl.Expr) -> pl.Expr:
        ordered = sorted(self.severity.items(), key=lambda kv: kv[1], reverse=True)
        chosen = pl.lit(None, pl.String)
        for name, low in reversed(ordered):
            chosen = pl.when(risk >= low).then(pl.lit(name)).otherwise(chosen)
        return chosen

    def passes(self, risk: pl.Expr, learning: pl.Expr) -> pl.Expr:
        return (risk >= self.min_risk).fill_null(False) & ~learning.fill_null(True)


def empty_findings() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDINGS_SCHEMA)


def source_key() -> pl.Expr:
    """The address, or for IPv6 its /64 (privacy addresses of one host change within it), or
    where the log names the source only by a host name (PAM's `rhost=`), that name."""
    # Only IPv6 rows are spelled out: the string work on null rows costs next to nothing.
    ipv6 = pl.when(pl.col("ip_version") == 6).then(pl.col("ip_bin"))
    hexed = ipv6.bin.encode("hex")
    groups = [
        hexed.str.slice(i * 4, 4).str.strip_chars_start("0").replace("", "0") for i in range(4)
    ]
    prefix = pl.concat_str(groups, separator=":") + pl.lit("::/64")
    return pl.coalesce(prefix, pl.col("ip"), pl.col("host"))


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
    return merge_spans(triggers.select("key", start=pl.col("ts") - window, end=pl.col("ts")))


def network_key() -> pl.Expr:
    """The /24 of an IPv4 address or the /48 of an IPv6 one: what a proxy pool shares."""
    v4 = pl.col("ip").str.extract(r"^(\d+\.\d+\.\d+)\.\d+$", 1) + pl.lit(".0/24")
    ipv6 = pl.when(pl.col("ip_version") == 6).then(pl.col("ip_bin"))
    hexed = ipv6.bin.encode("hex")
    groups = [
        hexed.str.slice(i * 4, 4).str.strip_chars_start("0").replace("", "0") for i in range(3)
    ]
    v6 = pl.concat_str(groups, separator=":") + pl.lit("::/48")
    return pl.coalesce(v6, v4)


def merge_spans(spans: pl.DataFrame) -> pl.DataFrame:
    """Spans (key, start, end) -> (key, episode, start, end): overlapping spans of a key
    merged into one episode."""
    spans = spans.select("key", "start", "end").sort("key", "start")
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
    found: pl.DataFrame,
    first: str,
    last: str,
    event_ids: pl.Expr,
    summary: pl.Expr,
    **optional: pl.Expr | str,
) -> pl.DataFrame:
    """The findings frame every detector returns; `optional`: the labelling columns of
    FINDINGS_SCHEMA it sets (the others are null: the rule decides)."""
    unknown = set(optional) - set(OPTIONAL_FINDINGS)
    if unknown:
        raise ValueError(f"not a findings column: {sorted(unknown)}")
    extra = {name: _typed(optional.get(name), FINDINGS_SCHEMA[name]) for name in OPTIONAL_FINDINGS}
    return found.select(
        entity="key", first_seen=first, last_seen=last, event_ids=event_ids, summary=summary,
        **extra,
    )  # fmt: skip


def takeover_findings(found: pl.DataFrame, summary: pl.Expr, reason: pl.Expr) -> pl.DataFrame:
    """Account takeovers (key: the account): a critical credential_stuffing alert each."""
    return as_findings(
        found,
        "first_seen",
        "last_seen",
        pl.col("event_ids"),
        summary,
        category=pl.lit("credential_stuffing"),
        severity=pl.lit("critical"),
        entity_type=pl.lit("user"),
        reasons=pl.concat_list(reason),
    )


def _typed(value: pl.Expr | str | None, dtype: pl.DataType | type[pl.DataType]) -> pl.Expr:
    if value is None:
        return pl.lit(None, dtype)
    return (pl.col(value) if isinstance(value, str) else value).cast(dtype)


def minutes(first: pl.Expr, last: pl.Expr) -> pl.Expr:
    return ((last - first).dt.total_seconds() / 60).round(0).cast(pl.Int64).clip(lower_bound=1)


def names(column: str, limit: int = 3) -> pl.Expr:
    """`a, b and 4 more` from the distinct values of a column."""
    distinct = pl.col(column).drop_nulls().unique(maintain_order=True)
    shown = distinct.head(limit).str.join(", ")
    more = distinct.len().cast(pl.Int64) - limit
    return pl.when(more > 0).then(pl.format("{} and {} more", shown, more)).otherwise(shown)


def distinct_triggers(frame: pl.DataFrame, window: timedelta, least: int) -> pl.DataFrame:
    """The events (key, ts) at which a key has `least` distinct values within the last
    `window`.

    Not a rolling n_unique (memory grows with window x rows on busy keys): each value's
    occurrences form runs with gaps of at most `window`; a run adds one at its first
    occurrence and removes one a window after its last, and a running sum is the count.
    """
    # Sorted once, a run starts where the key or value changes or the gap is too long: no
    # window function over (key, value), which costs 10x on many distinct values.
    # Values as category codes: sorting numbers is several times faster than sorting text.
    # `frame` comes in (key, ts) order, so two stable one-column sorts give (key, value, ts)
    # at half the cost of one sort on the three.
    ordered = (
        frame.select("key", "ts", key_code=sort_codes("key"), value=sort_codes("value"))
        .sort("value", maintain_order=True)
        .sort("key_code", maintain_order=True)
    )
    starts = (
        (pl.col("key_code") != pl.col("key_code").shift(1))
        | (pl.col("value") != pl.col("value").shift(1))
        | (pl.col("ts").diff() > window)
    ).fill_null(True)
    runs = (
        ordered.with_columns(run=starts.cum_sum())
        .group_by("run")
        .agg(
            pl.col("key", "key_code").first(), first=pl.col("ts").first(), last=pl.col("ts").last()
        )
    )
    steps = pl.concat(
        [
            runs.select("key", "key_code", ts=pl.col("first"), step=pl.lit(1, pl.Int32)),
            runs.select(
                "key",
                "key_code",
                ts=pl.col("last") + window + timedelta(microseconds=1),
                step=pl.lit(-1, pl.Int32),
            ),
        ]
    ).sort("key_code", "ts", "step")
    # Every key's steps sum to zero, so one running sum over all keys is each key's own.
    counted = steps.with_columns(n=pl.col("step").cum_sum()).with_row_index("order")
    # The count in force at each event (the last step at or before it): an episode goes on
    # while its sources keep failing, not only while new ones join.
    located = (
        ordered.select("key", "key_code", "ts")
        .sort("ts")
        .join_asof(
            counted.select("key_code", "ts", "n", "order").sort("ts", "order"),
            on="ts",
            by="key_code",
            strategy="backward",
            check_sortedness=False,
        )
    )
    return located.filter(pl.col("n") >= least).select("key", "ts")
