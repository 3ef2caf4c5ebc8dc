"""Campaigns: many sources that each stay quiet, seen at the level of the whole service.

Credential stuffing and spraying through proxies use hundreds of addresses with a few
tries each, below every per-source trigger. What they cannot hide is the service's own
failure count, and its share of names that do not exist, rising above what is usual at
that hour of the week. The baseline is learned from history: per time bucket, the median
of the same hour of the week in earlier weeks, or of the same hour on earlier days while
fewer weeks are known, or nothing at all on a fresh deployment's first day (then only a
large absolute count is a rise).

Within a rise, the sources that drove it are told from the people who happened to mistype
at the same time: a member fails in ways a person does not (several accounts, names that
do not exist without ever getting in) or shares with other failing sources a user agent,
a /24 (/48) or an ASN that fails far more than it succeeds just then. Typos fixed by a
success or a password reset never make a member. Every account that logged in from a
member source during the campaign, or within `takeover_within` after it, gets a critical
alert of its own: its password was on the list.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
from pydantic import Field

from analytics.detectors.common import (
    Duration,
    Params,
    Reads,
    Where,
    as_findings,
    empty_findings,
    evidence,
    keyed,
    merge_spans,
    network_key,
    source_key,
)
from analytics.detectors.describe import counted_names, span_text
from analytics.detectors.sources import KINDS, Resolve, counted_failures

COLUMNS = (
    "event_id", "ts", "event", "outcome", "user", "ip", "ip_version", "ip_bin", "host",
    "reason", "user_agent", "asn",
)  # fmt: skip
HALF_DAY = timedelta(hours=12)


class CampaignParams(Params):
    # Time buckets, the first the finest; each a whole multiple of the first.
    buckets: tuple[Duration, ...] = (timedelta(minutes=10), timedelta(hours=1))
    min_failures: int = Field(default=10, ge=1)  # a rise has at least this many failures
    min_unknown: int = Field(default=5, ge=1)  # or this many failures naming no account
    factor: float = 3.0  # and this many times what is usual then
    z: float = 4.0  # and this many Poisson standard deviations above it
    min_history: int = Field(default=6, ge=1)  # buckets a baseline needs
    cold_factor: float = 3.0  # with no baseline yet, `min_*` times this
    min_sources: int = Field(default=5, ge=2)  # member sources a campaign needs
    min_accounts: int = Field(default=10, ge=1)  # and accounts (fewer: distributed brute force)
    shared_by: int = Field(default=3, ge=2)  # failing sources sharing a value link them
    takeover_within: Duration = timedelta(hours=1)
    resolve: Resolve = Resolve()

    def reads(self) -> Reads:
        seconds = int(self.buckets[0].total_seconds())
        context = f"""
            SELECT time_bucket(INTERVAL '{seconds} seconds', ts) AS bucket,
                   count(*) FILTER (WHERE event = 'login' AND outcome = 'failure') AS failures,
                   count(*) FILTER (WHERE event = 'login' AND outcome = 'failure'
                                    AND reason = 'unknown_user') AS unknown
            FROM scope GROUP BY 1 ORDER BY 1"""
        return Reads(
            columns=COLUMNS,
            equals=(("event", KINDS),),
            context=context,
            spans=lambda buckets: read_spans(buckets, self),
        )

    def categories(self) -> set[str]:
        return {"credential_stuffing", "password_spraying"}


def read_spans(buckets: pl.DataFrame, p: CampaignParams) -> pl.DataFrame:
    """The events a campaign's judgement needs: its rises, a bucket before, and the time a
    stolen password may take to be used after."""
    rises = rise_spans(buckets, p)
    return rises.select(start=pl.col("start") - p.buckets[0], end=pl.col("end") + p.takeover_within)


def rise_spans(buckets: pl.DataFrame, p: CampaignParams) -> pl.DataFrame:
    """(key, episode, start, end, reasons): spans where failures or unknown names rose."""
    if buckets.height == 0:
        return pl.DataFrame(
            schema={"key": pl.String, "episode": pl.Int32, "start": pl.Datetime("us"),
                    "end": pl.Datetime("us"), "reasons": pl.List(pl.String)}
        )  # fmt: skip
    parts = [_rises(_series(buckets, size), size, p) for size in p.buckets]
    rises = pl.concat(parts)
    spans = merge_spans(
        rises.select(key=pl.lit("service"), start="bucket", end=pl.col("bucket") + pl.col("size"))
    )
    located = evidence(rises.select(key=pl.lit("service"), ts="bucket", reason="reason"), spans)
    why = located.group_by("episode").agg(
        reasons=pl.col("reason").unique(maintain_order=True).head(3)
    )
    return spans.join(why, on="episode", how="left")


def _series(buckets: pl.DataFrame, size: timedelta) -> pl.DataFrame:
    """Counts per bucket of `size`, every bucket present (the quiet ones as zeros)."""
    sized = (
        buckets.with_columns(bucket=pl.col("bucket").cast(pl.Datetime("us")).dt.truncate(size))
        .group_by("bucket")
        .agg(pl.col("failures", "unknown").sum())
    )
    first, last = sized["bucket"].min(), sized["bucket"].max()
    assert isinstance(first, datetime) and isinstance(last, datetime)
    every = pl.DataFrame(
        {"bucket": pl.datetime_range(first, last, size, eager=True, time_unit="us")}
    )
    return every.join(sized, on="bucket", how="left").fill_null(0)


def _rises(series: pl.DataFrame, size: timedelta, p: CampaignParams) -> pl.DataFrame:
    """(bucket, size, reason) of the buckets where failures or unknown names rose."""
    series = series.with_columns(
        how=pl.col("bucket").dt.weekday() * 24 + pl.col("bucket").dt.hour(),
        hour=pl.col("bucket").dt.hour(),
    )
    expected = _baseline(series, "how", p.min_history).join(
        _baseline(series, "hour", p.min_history), on="bucket", suffix="_daily"
    )
    table = series.join(expected, on="bucket").with_columns(
        e_failures=pl.coalesce("failures_expected", "failures_expected_daily"),
        e_unknown=pl.coalesce("unknown_expected", "unknown_expected_daily"),
    )
    rose_f = _rose(pl.col("failures"), pl.col("e_failures"), p.min_failures, p)
    rose_u = _rose(pl.col("unknown"), pl.col("e_unknown"), p.min_unknown, p)
    reason = pl.format(
        "{} failures ({} naming no account) in {} min from {}, usually {} ({} unknown)",
        "failures",
        "unknown",
        pl.lit(int(size.total_seconds() // 60)),
        pl.col("bucket").dt.strftime("%Y-%m-%d %H:%M"),
        pl.col("e_failures").round(1).fill_null(pl.lit("not yet known")),
        pl.col("e_unknown").round(1).fill_null(pl.lit("-")),
    )
    return table.filter(rose_f | rose_u).select(
        "bucket", size=pl.lit(size, pl.Duration("us")), reason=reason
    )


def _baseline(series: pl.DataFrame, by: str, least: int) -> pl.DataFrame:
    """Per bucket the median counts of the earlier buckets with the same `by` (hour of the
    week or of the day), at least half a day before it; null with fewer than `least`."""
    history = series.select(by, earlier="bucket", f="failures", u="unknown")
    paired = series.select("bucket", by).join(history, on=by)
    paired = paired.filter(pl.col("earlier") <= pl.col("bucket") - HALF_DAY)
    medians = paired.group_by("bucket").agg(
        n=pl.len(), failures_expected=pl.col("f").median(), unknown_expected=pl.col("u").median()
    )
    known = medians.filter(pl.col("n") >= least).drop("n")
    return series.select("bucket").join(known, on="bucket", how="left")


def _rose(count: pl.Expr, expected: pl.Expr, least: int, p: CampaignParams) -> pl.Expr:
    usual = expected.clip(lower_bound=1.0)
    warm = (count >= least) & (count >= p.factor * usual) & (count - usual >= p.z * usual.sqrt())
    cold = count >= least * p.cold_factor
    return pl.when(expected.is_null()).then(cold).otherwise(warm).fill_null(False)


def campaigns(events: pl.DataFrame, p: CampaignParams, buckets: pl.DataFrame) -> pl.DataFrame:
    """A campaign alert per rise that enough member sources drove, and a takeover alert for
    every account that logged in from one of them."""
    rises = rise_spans(buckets, p)
    frame = keyed(events, "ip", Where(event=None)).filter(pl.col("event").is_in(KINDS))
    if rises.height == 0 or frame.height == 0:
        return empty_findings()
    frame = counted_failures(
        frame.with_columns(
            failed=(pl.col("event") == "login") & (pl.col("outcome") == "failure"),
            succeeded=(pl.col("event") == "login") & (pl.col("outcome") == "success"),
        ),
        p.resolve,
    ).with_columns(source="key", net=network_key(), key=pl.lit("service"))
    during = evidence(frame, rises.select("key", "episode", "start", "end"))
    members = member_sources(during, p)
    if members.height == 0:
        return empty_findings()
    spans = rises.with_columns(
        entity=pl.format("campaign-{}", pl.col("start").dt.strftime("%Y-%m-%dT%H:%MZ"))
    )
    wins = _member_successes(frame, members, spans, p)
    found = _campaign_findings(during, members, wins, spans)
    taken = _takeovers(wins, members)
    return pl.concat([found, taken], how="vertical_relaxed")


def member_sources(during: pl.DataFrame, p: CampaignParams) -> pl.DataFrame:
    """(episode, source): the sources that drove each rise."""
    per_source = during.group_by("episode", "source").agg(
        tried=pl.col("user").filter(pl.col("counted")).unique(),
        counted=pl.col("counted").sum(),
        accounts=pl.col("user").filter(pl.col("counted")).n_unique(),
        unknown=(pl.col("counted") & (pl.col("reason") == "unknown_user")).sum(),
        successes=pl.col("succeeded").sum(),
    )
    shared = [_shared(during, feature, p) for feature in ("user_agent", "net", "asn")]
    linked = pl.concat(shared).unique()
    per_source = per_source.join(
        linked.with_columns(linked=pl.lit(True)), on=["episode", "source"], how="left"
    )
    acts_alone = (pl.col("accounts") >= 2) | ((pl.col("unknown") > 0) & (pl.col("successes") == 0))
    members = per_source.filter(
        (pl.col("counted") > 0) & (pl.col("linked").fill_null(False) | acts_alone)
    )
    big_enough = (
        members.group_by("episode")
        .agg(n=pl.len(), accounts=pl.col("tried").list.explode().n_unique())
        .filter((pl.col("n") >= p.min_sources) & (pl.col("accounts") >= p.min_accounts))
    )
    return members.join(big_enough.select("episode"), on="episode", how="semi").select(
        "episode", "source", "counted"
    )


def _shared(during: pl.DataFrame, feature: str, p: CampaignParams) -> pl.DataFrame:
    """(episode, source) of failing sources whose `feature` value several failing sources
    share and which fails far more than it succeeds in the rise (a tool's user agent, a
    proxy network; not the browser or home ISP most people use)."""
    rows = during.filter(pl.col(feature).is_not_null())
    values = rows.group_by("episode", feature).agg(
        failing=pl.col("source").filter(pl.col("counted")).n_unique(),
        failures=pl.col("counted").sum(),
        successes=pl.col("succeeded").sum(),
    )
    suspect = values.filter(
        (pl.col("failing") >= p.shared_by) & (pl.col("failures") >= 2 * pl.col("successes"))
    )
    return (
        rows.filter(pl.col("counted"))
        .join(suspect.select("episode", feature), on=["episode", feature], how="semi")
        .select("episode", "source")
    )


def _campaign_findings(
    during: pl.DataFrame, members: pl.DataFrame, wins: pl.DataFrame, spans: pl.DataFrame
) -> pl.DataFrame:
    failures = during.filter(pl.col("counted")).join(
        members.select("episode", "source"), on=["episode", "source"], how="semi"
    )
    rows = pl.concat(
        [failures.select(wins.drop("entity").columns), wins.drop("entity")],
        how="vertical_relaxed",
    ).join(spans.select("episode", "entity"), on="episode")
    described = campaign_summary(rows.with_columns(group="episode", key="entity"))
    found = rows.group_by("episode").agg(
        key=pl.col("entity").first(),
        first_seen=pl.col("ts").min(),
        last_seen=pl.col("ts").max(),
        event_ids=pl.col("event_id").unique().sort(),
        members=pl.col("source").filter(pl.col("counted")).unique(maintain_order=True),
        unknown=(pl.col("counted") & (pl.col("reason") == "unknown_user")).fill_null(False).mean(),
        won=pl.col("succeeded").sum(),
        weight=pl.col("counted").sum().cast(pl.Int64),
    )
    found = found.join(described, left_on="episode", right_on="group").join(
        spans.select("episode", "reasons"), on="episode"
    )
    stuffing = (pl.col("unknown") >= 0.2) | (pl.col("won") > 0)
    return as_findings(
        found,
        "first_seen",
        "last_seen",
        pl.col("event_ids"),
        pl.col("summary"),
        category=pl.when(stuffing)
        .then(pl.lit("credential_stuffing"))
        .otherwise(pl.lit("password_spraying")),
        severity=pl.when(pl.col("won") > 0).then(pl.lit("critical")).otherwise(pl.lit("high")),
        entity_type=pl.lit("campaign"),
        members="members",
        reasons="reasons",
        weight="weight",
    )


def _member_successes(
    frame: pl.DataFrame, members: pl.DataFrame, spans: pl.DataFrame, p: CampaignParams
) -> pl.DataFrame:
    """Successful logins from member sources during the rise or soon after, with the
    campaign's entity."""
    reach = spans.select(
        "episode", "start", end=pl.col("end") + p.takeover_within, key=pl.lit("service")
    )
    wins = evidence(frame.filter(pl.col("succeeded")), reach).join(
        members.select("episode", "source"), on=["episode", "source"], how="semi"
    )
    return wins.join(spans.select("episode", "entity"), on="episode").select(
        "episode", "event_id", "ts", "event", "outcome", "user", "reason", "user_agent",
        "source", "counted", "succeeded", "ip", "host", "ip_version", "ip_bin", "net", "entity",
    )  # fmt: skip


def _takeovers(wins: pl.DataFrame, members: pl.DataFrame) -> pl.DataFrame:
    """An account takeover alert per account that logged in from a member source."""
    if wins.height == 0:
        return empty_findings()
    sizes = members.group_by("episode").agg(size=pl.len())
    taken = (
        wins.group_by("episode", "user")
        .agg(
            first_seen=pl.col("ts").min(),
            last_seen=pl.col("ts").max(),
            event_ids=pl.col("event_id"),
            sources=pl.col("source").unique(maintain_order=True).str.join(", "),
            campaign=pl.col("entity").first(),
        )
        .join(sizes, on="episode")
        .rename({"user": "key"})
    )
    summary = pl.format(
        "account takeover: {} logged in from {}, a source of {} ({} sources)",
        "key", "sources", "campaign", "size",
    )  # fmt: skip
    return as_findings(
        taken,
        "first_seen",
        "last_seen",
        pl.col("event_ids"),
        summary,
        category=pl.lit("credential_stuffing"),
        severity=pl.lit("critical"),
        entity_type=pl.lit("user"),
        reasons=pl.concat_list(pl.format("logged in from a source of {}", "campaign")),
    )


def campaign_summary(rows: pl.DataFrame) -> pl.DataFrame:
    """`412 failed logins for 380 accounts from 57 sources in 48 min, 41 % of the names
    unknown here (user agent ...); successful logins for a, b` per group."""
    failed = (pl.col("event") == "login") & (pl.col("outcome") == "failure")
    if "source" not in rows.columns:  # evidence read back from the store
        rows = rows.with_columns(source=source_key())
    failures = rows.filter(failed)
    base = failures.group_by("group").agg(
        key=pl.col("key").first(),
        failures=pl.len(),
        accounts=pl.col("user").n_unique(),
        sources=pl.col("source").n_unique(),
        unknown=(pl.col("reason") == "unknown_user").fill_null(False).mean(),
        span=span_text(pl.col("ts").min(), pl.col("ts").max()),
    )
    agents = counted_names(failures, "user_agent", "clients").rename(
        {"distinct": "agents", "listed": "agent_names"}
    )
    winners = counted_names(
        rows.filter((pl.col("event") == "login") & (pl.col("outcome") == "success")),
        "user",
        "accounts",
    ).rename({"distinct": "won", "listed": "winners"})
    table = base.join(agents, on="group", how="left").join(winners, on="group", how="left")
    lead = pl.format(
        "{} failed logins for {} accounts from {} sources {}, {} % of the names unknown here",
        "failures",
        "accounts",
        "sources",
        "span",
        (pl.col("unknown") * 100).round(0).cast(pl.Int64),
    )
    clients = pl.when(pl.col("agents") > 0).then(pl.format("; clients {}", "agent_names"))
    won = pl.when(pl.col("won") > 0).then(pl.format("; successful logins for {}", "winners"))
    return table.select(
        "group",
        summary=pl.concat_str([lead, clients.otherwise(pl.lit("")), won.otherwise(pl.lit(""))]),
    )
