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

from datetime import timedelta

import polars as pl
from pydantic import Field

from analytics.detectors.common import (
    RISK_COLUMNS,
    Duration,
    Params,
    Reads,
    RiskGate,
    Where,
    as_findings,
    empty_findings,
    evidence,
    keyed,
    merge_spans,
    network_key,
    source_key,
    takeover_findings,
)
from analytics.detectors.describe import counted_names, span_text
from analytics.detectors.distributed import mark_loud
from analytics.detectors.sources import KINDS, Resolve, Trigger, counted_failures

COLUMNS = (
    "event_id", "ts", "event", "outcome", "user", "ip", "ip_version", "ip_bin", "host",
    "reason", "user_agent", "asn", "service", *RISK_COLUMNS,
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
    # How far back the baseline looks: what was usual three months ago is not usual now,
    # and one stray event years old (a syslog line given the wrong year) must not make the
    # whole gap a series of empty buckets to compare with.
    history: Duration = timedelta(weeks=12)
    # With no baseline yet (a fresh deployment's first half day), a rise is `min_*` times
    # this; 0: none (judged only against history).
    cold_factor: float = Field(default=0.0, ge=0)
    min_sources: int = Field(default=5, ge=2)  # member sources a campaign needs
    min_accounts: int = Field(default=10, ge=1)  # and accounts (fewer: distributed brute force)
    shared_by: int = Field(default=3, ge=2)  # failing sources sharing a value link them
    takeover_within: Duration = timedelta(hours=1)
    merge_within: Duration = timedelta(hours=2)  # rises this close are one campaign
    # Sources that share a campaign's client, network or ASN this long before or after its
    # rise are its members too (a slow campaign rises above the baseline only in part).
    reach: Duration = timedelta(hours=2)
    # A source passing one of these is loud: an alert of its own (source_failures), not a
    # member. Keep them in step with source_failures' triggers.
    loud: tuple[Trigger, ...] = (Trigger(failures=10, window=timedelta(minutes=10)),)
    resolve: Resolve = Resolve()
    # A success sharing the campaign's suspect client, network or ASN without a failure of
    # its own is a takeover when it was this unfamiliar for its account.
    familiarity: RiskGate = RiskGate()

    def reads(self) -> Reads:
        seconds = int(self.buckets[0].total_seconds())
        context = f"""
            SELECT coalesce(service, '') AS service,
                   time_bucket(INTERVAL '{seconds} seconds', ts) AS bucket,
                   count(*) FILTER (WHERE event = 'login' AND outcome = 'failure') AS failures,
                   count(*) FILTER (WHERE event = 'login' AND outcome = 'failure'
                                    AND reason = 'unknown_user') AS unknown
            FROM scope GROUP BY 1, 2 ORDER BY 1, 2"""
        return Reads(
            columns=COLUMNS,
            equals=(("event", KINDS),),
            context=context,
            spans=lambda buckets: read_spans(buckets, self),
        )

    def categories(self) -> set[str]:
        return {"credential_stuffing", "password_spraying"}


def read_spans(buckets: pl.DataFrame, p: CampaignParams) -> pl.DataFrame:
    """The events a campaign's judgement needs: its rises, the reach around them, and the
    time a stolen password may take to be used after."""
    rises = rise_spans(buckets, p)
    return rises.select(
        start=pl.col("start") - p.reach, end=pl.col("end") + p.reach + p.takeover_within
    )


def rise_spans(buckets: pl.DataFrame, p: CampaignParams) -> pl.DataFrame:
    """(key, episode, start, end, reasons): spans where a service's failures or unknown
    names rose (`key`: the service; each service has a baseline of its own)."""
    parts = [
        _rises(
            _series(buckets.filter(pl.col("service") == name), size, p.history), size, p
        ).with_columns(key=pl.lit(name))
        for name in buckets["service"].unique().sort()
        for size in p.buckets
    ]
    if not parts:
        return pl.DataFrame(
            schema={"key": pl.String, "episode": pl.UInt32, "start": pl.Datetime("us"),
                    "end": pl.Datetime("us"), "reasons": pl.List(pl.String)}
        )  # fmt: skip
    rises = pl.concat(parts)
    spans = (
        merge_spans(
            rises.select(
                "key", start="bucket", end=pl.col("bucket") + pl.col("size") + p.merge_within
            )
        )
        .with_columns(end=pl.col("end") - p.merge_within)
        .sort("key", "start")
        .drop("episode")
        .with_row_index("episode")  # one numbering over every service
    )
    located = evidence(rises.select("key", ts="bucket", reason="reason"), spans)
    why = located.group_by("episode").agg(
        reasons=pl.col("reason").unique(maintain_order=True).head(3)
    )
    return spans.join(why, on="episode", how="left").join(
        _usual_around(buckets, spans, p), on="episode", how="left"
    )


def _usual_around(buckets: pl.DataFrame, spans: pl.DataFrame, p: CampaignParams) -> pl.DataFrame:
    """(episode, e_failures, e_unknown): what is usual over each span and its reach, at
    the coarsest scale (null where no baseline is known yet)."""
    size = p.buckets[-1]
    if spans.height == 0:
        return pl.DataFrame(
            schema={"episode": pl.UInt32, "e_failures": pl.Float64, "e_unknown": pl.Float64}
        )
    usual = pl.concat(
        [
            _expected(
                _series(buckets.filter(pl.col("service") == name), size, p.history), p
            ).select("bucket", "e_failures", "e_unknown", key=pl.lit(name))
            for name in spans["key"].unique()
        ]
    )
    paired = spans.select("key", "episode", "start", "end").join(usual, on="key")
    inside = paired.filter(
        (pl.col("bucket") + size > pl.col("start") - p.reach)
        & (pl.col("bucket") < pl.col("end") + p.reach)
    )
    known = pl.col("e_failures").is_not_null().any()
    return inside.group_by("episode").agg(
        e_failures=pl.when(known).then(pl.col("e_failures").sum()),
        e_unknown=pl.when(known).then(pl.col("e_unknown").sum()),
    )


def _series(buckets: pl.DataFrame, size: timedelta, history: timedelta) -> pl.DataFrame:
    """Counts per bucket of `size`, every bucket present (the quiet ones as zeros), except
    across a gap longer than `history`: no baseline reaches over it, so it is not filled."""
    sized = (
        buckets.with_columns(bucket=pl.col("bucket").cast(pl.Datetime("us")).dt.truncate(size))
        .group_by("bucket")
        .agg(pl.col("failures", "unknown").sum())
        .sort("bucket")
    )
    segments = sized.with_columns(
        segment=(pl.col("bucket").diff() > history).fill_null(False).cum_sum()
    )
    every = (
        segments.group_by("segment")
        .agg(first=pl.col("bucket").min(), last=pl.col("bucket").max())
        .select(bucket=pl.datetime_ranges("first", "last", size, time_unit="us"))
        .explode("bucket")
        .sort("bucket")
    )
    return every.join(sized, on="bucket", how="left").fill_null(0)


def _expected(series: pl.DataFrame, p: CampaignParams) -> pl.DataFrame:
    """The series with what is usual for each bucket (`e_failures`, `e_unknown`; null
    while no baseline is known)."""
    series = series.with_columns(
        how=pl.col("bucket").dt.weekday() * 24 + pl.col("bucket").dt.hour(),
        hour=pl.col("bucket").dt.hour(),
    )
    expected = _baseline(series, "how", p).join(
        _baseline(series, "hour", p), on="bucket", suffix="_daily"
    )
    return series.join(expected, on="bucket").with_columns(
        e_failures=pl.coalesce("failures_expected", "failures_expected_daily"),
        e_unknown=pl.coalesce("unknown_expected", "unknown_expected_daily"),
    )


def _rises(series: pl.DataFrame, size: timedelta, p: CampaignParams) -> pl.DataFrame:
    """(bucket, size, reason) of the buckets where failures or unknown names rose."""
    table = _expected(series, p)
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


def _baseline(series: pl.DataFrame, by: str, p: CampaignParams) -> pl.DataFrame:
    """Per bucket the usual counts of the earlier buckets with the same `by` (hour of the
    week or of the day), at least half a day and at most `history` before it; null with
    fewer than `min_history`.

    Usual is the larger of the median and the mean of the lower four fifths: the median
    alone is 0 for a sparse count (an SSH server's internet noise, a failure an hour), the
    mean alone is inflated by earlier attacks.

    Buckets are paired within blocks of `history` (a bucket with its own block and the one
    before), so the pairs grow with the length of the series, not with its square."""
    block = pl.col("bucket").dt.epoch("us") // int(p.history.total_seconds() * 1_000_000)
    targets = series.select("bucket", by, block=block)
    history = series.select(by, earlier="bucket", f="failures", u="unknown", block=block)
    serving = pl.concat([history, history.with_columns(block=pl.col("block") + 1)])
    paired = targets.join(serving, on=[by, "block"]).filter(
        (pl.col("earlier") <= pl.col("bucket") - HALF_DAY)
        & (pl.col("earlier") >= pl.col("bucket") - p.history)
    )
    medians = paired.group_by("bucket").agg(
        n=pl.len(), failures_expected=_usual(pl.col("f")), unknown_expected=_usual(pl.col("u"))
    )
    known = medians.filter(pl.col("n") >= p.min_history).drop("n")
    return series.select("bucket").join(known, on="bucket", how="left")


def _usual(counts: pl.Expr) -> pl.Expr:
    lower = counts.filter(counts <= counts.quantile(0.8, interpolation="lower"))
    return pl.max_horizontal(counts.median(), lower.mean())


def _rose(count: pl.Expr, expected: pl.Expr, least: int, p: CampaignParams) -> pl.Expr:
    usual = expected.clip(lower_bound=1.0)
    warm = (count >= least) & (count >= p.factor * usual) & (count - usual >= p.z * usual.sqrt())
    cold = (count >= least * p.cold_factor) if p.cold_factor > 0 else pl.lit(False)
    return pl.when(expected.is_null()).then(cold).otherwise(warm).fill_null(False)


def campaigns(events: pl.DataFrame, p: CampaignParams, buckets: pl.DataFrame) -> pl.DataFrame:
    """A campaign alert per rise that enough quiet member sources drove, and a takeover
    alert for every account that logged in from one of them."""
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
    )
    loud = mark_loud(frame.filter(pl.col("failed")), p.loud)
    loud_sources = loud.filter(pl.col("loud"))["key"].unique().implode()
    frame = frame.filter(~pl.col("key").is_in(loud_sources)).with_columns(
        source="key", net=network_key(), key=pl.col("service").fill_null("")
    )
    core = rises.select("key", "episode", "start", "end", "e_failures", "e_unknown")
    during = evidence(frame, core)
    around = evidence(
        frame,
        core.with_columns(start=pl.col("start") - p.reach, end=pl.col("end") + p.reach),
    )
    members, suspects = member_sources(during, around, p)
    if members.height == 0:
        return empty_findings()
    spans = rises.with_columns(
        entity=pl.format(
            "campaign-{}{}",
            pl.when(pl.col("key") != "").then(pl.col("key") + "-").otherwise(pl.lit("")),
            pl.col("start").dt.strftime("%Y-%m-%dT%H:%MZ"),
        )
    )
    wins = _member_successes(frame, members, suspects, spans, p)
    found = _campaign_findings(around, members, wins, spans)
    taken = _takeovers(wins, members)
    return pl.concat([found, taken], how="vertical_relaxed")


def member_sources(
    during: pl.DataFrame, around: pl.DataFrame, p: CampaignParams
) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """(episode, source): the sources that drove each rise and those around it that act
    like them or share its suspect client, network or ASN; and those suspect values."""
    suspects = {f: _suspect_values(around, f, p) for f in FEATURES}
    # Around the rise, a source that fails the way no person does (several accounts, or
    # names that do not exist without ever getting in) is a member by itself; one that
    # shares a suspect client, network or ASN is a member by that.
    per_source = around.group_by("episode", "source").agg(
        counted=pl.col("counted").sum(),
        accounts=pl.col("user").filter(pl.col("counted")).n_unique(),
        unknown=(pl.col("counted") & (pl.col("reason") == "unknown_user")).sum(),
        successes=pl.col("succeeded").sum(),
    )
    acts_alone = (pl.col("accounts") >= 2) | ((pl.col("unknown") > 0) & (pl.col("successes") == 0))
    core = per_source.filter((pl.col("counted") > 0) & acts_alone).select("episode", "source")
    nearby = pl.concat([_sharing(around, f, v) for f, v in suspects.items()])
    members = (
        pl.concat([core, nearby])
        .unique()
        .join(_one_account_crowds(around, p), on=["episode", "source"], how="anti")
    )
    tried = around.filter(pl.col("counted")).join(members, on=["episode", "source"], how="semi")
    sizes = tried.group_by("episode").agg(
        n=pl.col("source").n_unique(),
        accounts=pl.col("user").n_unique(),
        failures=pl.len(),
        unknown=(pl.col("reason") == "unknown_user").sum(),
        e_failures=pl.col("e_failures").first(),
        e_unknown=pl.col("e_unknown").first(),
    )
    # The members must explain the rise by themselves: their failures alone a rise over
    # what is usual around it (loud sources and the odd typo do not make a campaign).
    explains = _rose(pl.col("failures"), pl.col("e_failures"), p.min_failures, p) | _rose(
        pl.col("unknown"), pl.col("e_unknown"), p.min_unknown, p
    )
    sizes = sizes.filter(
        (pl.col("n") >= p.min_sources) & (pl.col("accounts") >= p.min_accounts) & explains
    )
    return members.join(sizes.select("episode"), on="episode", how="semi"), suspects


FEATURES = ("user_agent", "net", "asn")


def _one_account_crowds(around: pl.DataFrame, p: CampaignParams) -> pl.DataFrame:
    """(episode, source) of the sources that tried only one account, an account many
    sources tried: a distributed brute force of its own, not a replayed list."""
    failures = around.filter(pl.col("counted"))
    crowded = (
        failures.group_by("episode", "user")
        .agg(sources=pl.col("source").n_unique())
        .filter(pl.col("sources") >= p.min_sources)
    )
    single = failures.group_by("episode", "source").agg(
        accounts=pl.col("user").n_unique(), user=pl.col("user").first()
    )
    return (
        single.filter(pl.col("accounts") == 1)
        .join(crowded.select("episode", "user"), on=["episode", "user"], how="semi")
        .select("episode", "source")
    )


def _suspect_values(during: pl.DataFrame, feature: str, p: CampaignParams) -> pl.DataFrame:
    """(episode, value) of `feature` that several failing sources share in the rise and
    that fails far more than it succeeds there (a tool's user agent, a proxy network; not
    the browser or home ISP most people use)."""
    values = (
        during.filter(pl.col(feature).is_not_null())
        .group_by("episode", feature)
        .agg(
            failing=pl.col("source").filter(pl.col("counted")).n_unique(),
            failures=pl.col("counted").sum(),
            successes=pl.col("succeeded").sum(),
        )
    )
    return values.filter(
        (pl.col("failing") >= p.shared_by) & (pl.col("failures") >= 2 * pl.col("successes"))
    ).select("episode", feature)


def _sharing(rows: pl.DataFrame, feature: str, values: pl.DataFrame) -> pl.DataFrame:
    """(episode, source) of the failing sources with one of the suspect values."""
    return (
        rows.filter(pl.col("counted"))
        .join(values, on=["episode", feature], how="semi")
        .select("episode", "source")
    )


def _campaign_findings(
    around: pl.DataFrame, members: pl.DataFrame, wins: pl.DataFrame, spans: pl.DataFrame
) -> pl.DataFrame:
    failures = around.filter(pl.col("counted")).join(
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
    frame: pl.DataFrame,
    members: pl.DataFrame,
    suspects: dict[str, pl.DataFrame],
    spans: pl.DataFrame,
    p: CampaignParams,
) -> pl.DataFrame:
    """Successful logins from member sources during the campaign or soon after, and those
    sharing its suspect client, network or ASN that were unfamiliar for their account (a
    leaked password that worked at the first try leaves no failure behind); with the
    campaign's entity."""
    reach = spans.select(
        "episode",
        start=pl.col("start") - p.reach,
        end=pl.col("end") + p.reach + p.takeover_within,
        key="key",
    )
    successes = evidence(frame.filter(pl.col("succeeded")), reach)
    campaigns = spans.select("episode").join(members.select("episode").unique(), on="episode")
    from_members = successes.join(
        members.select("episode", "source"), on=["episode", "source"], how="semi"
    )
    # An account still learning, or with no history at all, has nothing to vouch for it.
    vouched = pl.col("risk").is_not_null() & ~pl.col("learning").fill_null(True)
    unfamiliar = successes.filter(
        p.familiarity.passes(pl.col("risk"), pl.col("learning")) | ~vouched
    ).join(campaigns, on="episode", how="semi")
    alike = [unfamiliar.join(v, on=["episode", f], how="semi") for f, v in suspects.items()]
    wins = pl.concat([from_members, *alike]).unique("event_id", maintain_order=True)
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
    return takeover_findings(taken, summary, pl.format("logged in from a source of {}", "campaign"))


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
