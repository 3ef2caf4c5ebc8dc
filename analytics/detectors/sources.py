"""Failure episodes of one source: a loud source always alerts, and its shape labels it.

A source (an address, an IPv6 /64, or a host name) whose failures pass any of the rule's
volume triggers (fail2ban's `maxretry` within `findtime`) opens an episode; overlapping
trigger windows make one episode. The episode's category is read from the shape of the
window that decided it (the first trigger in the rule's order that fired, its fullest
window), not from the whole episode: 246 root failures in ten minutes are brute force
whatever the source tried in its first minute. Shapes are tried in order and the last
one takes everything, so no shape can make an episode vanish.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from pydantic import Field, model_validator

from analytics.categories import Severity
from analytics.detectors.common import (
    BASE_COLUMNS,
    SOURCE_GROUP,
    Duration,
    Params,
    Reads,
    Where,
    as_findings,
    empty_findings,
    evidence,
    keyed,
    merge_spans,
    sort_codes,
    takeover_findings,
)
from analytics.detectors.describe import failure_summary

KINDS = ("login", "password_reset", "password_change")
SOURCE_CATEGORIES = (
    "brute_force",
    "password_spraying",
    "credential_stuffing",
    "account_enumeration",
)


class Trigger(Params):
    failures: int = Field(ge=2)
    window: Duration
    # Of the source's logins in the window at least this share failed: an office or carrier
    # NAT where most people log in fine stays quiet (fail2ban would ban the office).
    min_failure_share: float = Field(default=0.5, ge=0, le=1)


class Resolve(Params):
    """Typos: failures of an account followed soon, from the same source, by its success or
    a password reset do not count toward a trigger, unless the run was long (guessing)."""

    within: Duration = timedelta(minutes=30)
    max_failures: int = Field(default=5, ge=1)


class When(Params):
    """Conditions on the deciding window (all must hold; none: always)."""

    max_accounts: int | None = None
    min_accounts: int | None = None
    min_top_share: float | None = None  # the most tried account's share of the failures
    max_mean_tries: float | None = None  # failures per account
    min_unknown_share: float | None = None  # failures naming accounts that do not exist
    max_unknown_share: float | None = None
    min_common_share: float | None = None  # failures naming `common_names` (root, admin)
    min_successes: int | None = None
    max_success_share: float | None = None  # of the window's logins

    def expr(self) -> pl.Expr:
        bounds = {
            "max_accounts": ("accounts", "le"), "min_accounts": ("accounts", "ge"),
            "min_top_share": ("top_share", "ge"), "max_mean_tries": ("mean_tries", "le"),
            "min_unknown_share": ("unknown_share", "ge"),
            "max_unknown_share": ("unknown_share", "le"),
            "min_common_share": ("common_share", "ge"), "min_successes": ("successes", "ge"),
            "max_success_share": ("success_share", "le"),
        }  # fmt: skip
        condition = pl.lit(True)
        for name, (column, op) in bounds.items():
            limit = getattr(self, name)
            if limit is not None:
                value = pl.col(column)
                condition &= value >= limit if op == "ge" else value <= limit
        return condition

    def is_empty(self) -> bool:
        return all(value is None for value in self.model_dump().values())


class Shape(Params):
    category: str = Field(pattern="^(" + "|".join(SOURCE_CATEGORIES) + ")$")
    severity: Severity | None = None  # none: the rule's
    name: str = ""  # what the shape is, for the alert's reasons (e.g. "dictionary scanner")
    when: When = When()


class SourceParams(Params):
    triggers: tuple[Trigger, ...] = Field(min_length=1)
    resolve: Resolve | None = Resolve()
    shapes: tuple[Shape, ...] = Field(min_length=1)
    common_names: tuple[str, ...] = ()
    # A deciding window of fewer failures than this is too small to judge shares on: the
    # whole episode is judged instead.
    min_sample: int = Field(default=30, ge=1)
    # A success from a source of these shapes is an account taken over: a critical alert
    # for that account (brute force that succeeds is success_after_failures' part).
    takeover_after: tuple[str, ...] = ("credential_stuffing", "password_spraying")

    @model_validator(mode="after")
    def _last_takes_all(self) -> SourceParams:
        if not self.shapes[-1].when.is_empty():
            raise ValueError("the last shape must have no conditions: no shape may drop an episode")
        return self

    def reads(self) -> Reads:
        return Reads(
            columns=(*BASE_COLUMNS, "ip_version", "host", "reason", "user_agent"),
            equals=(("event", KINDS),),
            group=SOURCE_GROUP,
            candidates=candidate_sources(self.triggers),
        )

    def categories(self) -> set[str]:
        return {shape.category for shape in self.shapes}


def candidate_sources(triggers: tuple[Trigger, ...]) -> str:
    """SQL over `scope`: the sources that may pass a trigger. Any window of length W lies in
    two neighbouring W-slots, so a source needs the trigger's failures in some such pair."""
    parts = []
    for trigger in triggers:
        seconds = max(int(trigger.window.total_seconds()), 1)
        parts.append(f"""
            SELECT key FROM (
                SELECT key, slot, n, lead(slot) OVER w AS next_slot, lead(n) OVER w AS next_n
                FROM (SELECT {SOURCE_GROUP} AS key, floor(epoch(ts) / {seconds}) AS slot,
                             count(*) AS n
                      FROM scope WHERE event = 'login' AND outcome = 'failure' GROUP BY 1, 2)
                WINDOW w AS (PARTITION BY key ORDER BY slot))
            WHERE n + CASE WHEN next_slot = slot + 1 THEN next_n ELSE 0 END
                  >= {int(trigger.failures)}""")
    return "SELECT DISTINCT key FROM (" + " UNION ALL ".join(parts) + ")"


def source_episodes(events: pl.DataFrame, p: SourceParams) -> pl.DataFrame:
    """An alert per source and episode, labelled by the shape of its deciding window."""
    least = min(t.failures for t in p.triggers)
    frame = keyed(events, "ip", Where(event=None), candidates=_failed().sum() >= least)
    frame = frame.filter(pl.col("event").is_in(KINDS))
    if frame.height == 0:
        return empty_findings()
    frame = frame.with_columns(failed=_failed(), succeeded=_succeeded())
    frame = counted_failures(frame, p.resolve)
    triggers = fired(frame, p.triggers)
    if triggers.height == 0:
        return empty_findings()
    spans = merge_spans(triggers.select("key", "start", end="ts"))
    decided = widened(deciding_windows(triggers, spans), spans, p.min_sample)
    relevant = frame.filter(pl.col("counted") | pl.col("succeeded"))
    labels = label(shape_stats(relevant, decided, p.common_names), p.shapes)
    rows = evidence(relevant, spans).join(labels, on=["key", "episode"])
    found = rows.group_by("key", "episode").agg(
        first_seen=pl.col("ts").min(), last_seen=pl.col("ts").max(), event_ids=pl.col("event_id")
    )
    summaries = failure_summary(rows.with_columns(group=pl.struct("key", "episode")))
    found = (
        found.with_columns(group=pl.struct("key", "episode"))
        .join(summaries, on="group")
        .join(labels, on=["key", "episode"])
    )
    episodes = as_findings(
        found,
        "first_seen",
        "last_seen",
        pl.col("event_ids"),
        pl.col("summary"),
        category="category",
        severity="severity",
        reasons="reasons",
        weight="weight",
    )
    return pl.concat([episodes, takeovers(rows, p.takeover_after)], how="vertical_relaxed")


def takeovers(rows: pl.DataFrame, after: tuple[str, ...]) -> pl.DataFrame:
    """An account alert per account that logged in from a source while it replayed a list."""
    wins = rows.filter(pl.col("succeeded") & pl.col("category").is_in(list(after)))
    if wins.height == 0:
        return empty_findings()
    taken = wins.group_by("key", "episode", "user").agg(
        first_seen=pl.col("ts").min(),
        last_seen=pl.col("ts").max(),
        event_ids=pl.col("event_id"),
        label=pl.col("category").first(),
    )
    label = pl.col("label").str.replace_all("_", " ")
    described = pl.format(
        "account takeover: {} logged in from {} during its {}", "key", "source", label
    )
    return takeover_findings(
        taken.rename({"key": "source"}).rename({"user": "key"}),
        described,
        pl.format("logged in from {} during its {}", "source", label),
    )


def _failed() -> pl.Expr:
    return (pl.col("event") == "login") & (pl.col("outcome") == "failure")


def _succeeded() -> pl.Expr:
    return (pl.col("event") == "login") & (pl.col("outcome") == "success")


def counted_failures(frame: pl.DataFrame, resolve: Resolve | None) -> pl.DataFrame:
    """`counted`: failures that are not typos resolved by a success or reset soon after.

    `frame` is in (key, ts) order and stays so."""
    if resolve is None:
        return frame.with_columns(counted=pl.col("failed"))
    boundary = pl.col("succeeded") | (pl.col("event") != "login")
    ordered = (
        frame.with_row_index("row")
        .sort(sort_codes("user"), maintain_order=True)
        .sort(sort_codes("key"), maintain_order=True)  # (key, user, ts)
    )
    new_pair = (pl.col("key") != pl.col("key").shift(1)) | (
        pl.col("user") != pl.col("user").shift(1)
    )
    # A run of an account from a source ends at its success or reset (that row included).
    starts = new_pair.fill_null(True) | boundary.shift(1).fill_null(False)
    ordered = ordered.with_columns(run=starts.cum_sum())
    runs = ordered.group_by("run").agg(
        end=pl.col("ts").filter(boundary).first(), run_failures=pl.col("failed").sum()
    )
    ordered = ordered.join(runs, on="run", how="left")
    typo = (
        pl.col("end").is_not_null()
        & (pl.col("end") - pl.col("ts") <= resolve.within)
        & (pl.col("run_failures") <= resolve.max_failures)
    )
    return (
        ordered.with_columns(counted=pl.col("failed") & ~typo)
        .sort("row")
        .drop("row", "run", "end", "run_failures")
    )


def fired(frame: pl.DataFrame, triggers: tuple[Trigger, ...]) -> pl.DataFrame:
    """(key, ts, trigger, n, start): the counted failures at which a trigger fired, with
    the trigger's index, its count and where its window starts."""
    parts = []
    for index, trigger in enumerate(triggers):
        counts = frame.rolling(index_column="ts", period=trigger.window, group_by="key").agg(
            n=pl.col("counted").sum(),
            logins=(pl.col("failed") | pl.col("succeeded")).sum(),
            own=pl.col("counted").last(),
            event_id=pl.col("event_id").last(),
        )
        hits = counts.filter(
            pl.col("own")
            & (pl.col("n") >= trigger.failures)
            & (pl.col("n") >= trigger.min_failure_share * pl.col("logins"))
        )
        parts.append(
            hits.select(
                "key",
                "ts",
                pl.col("n").cast(pl.Int64),
                trigger=pl.lit(index, pl.Int32),
                start=pl.col("ts") - trigger.window,
            )
        )
    return pl.concat(parts)


def deciding_windows(triggers: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """Per episode the window that labels it: the first trigger (in the rule's order) that
    fired in it, at its fullest; (key, episode, start, end, weight)."""
    located = (
        triggers.sort("ts")
        .join_asof(
            spans.select("key", "episode", span_start="start").sort("span_start"),
            left_on="ts",
            right_on="span_start",
            by="key",
            strategy="backward",
            check_sortedness=False,
        )
        .sort(["trigger", "n", "ts"], descending=[False, True, False])
    )
    return located.group_by("key", "episode", maintain_order=True).agg(
        pl.col("start").first(), end=pl.col("ts").first(), weight=pl.col("n").first()
    )


def widened(decided: pl.DataFrame, spans: pl.DataFrame, least: int) -> pl.DataFrame:
    """Deciding windows with fewer than `least` failures become their whole episode."""
    small = pl.col("weight") < least
    return decided.join(
        spans.select("key", "episode", span_start="start", span_end="end"),
        on=["key", "episode"],
    ).select(
        "key",
        "episode",
        "weight",
        start=pl.when(small).then("span_start").otherwise("start"),
        end=pl.when(small).then("span_end").otherwise("end"),
    )


def shape_stats(
    relevant: pl.DataFrame, decided: pl.DataFrame, common_names: tuple[str, ...]
) -> pl.DataFrame:
    """What the deciding window looks like: how many accounts, how concentrated, how many
    unknown or common names, how many successes."""
    rows = evidence(relevant, decided.drop("weight"))
    tried = pl.col("user").filter(pl.col("counted"))
    failures = pl.col("counted").sum()
    common = pl.col("user").str.to_lowercase().is_in(list(common_names))
    stats = rows.group_by("key", "episode").agg(
        failures=failures,
        accounts=tried.n_unique(),
        top=tried.unique_counts().max(),
        unknown=(pl.col("counted") & (pl.col("reason") == "unknown_user")).sum(),
        common=(pl.col("counted") & common).sum(),
        successes=pl.col("succeeded").sum(),
    )
    share = pl.col("failures").cast(pl.Float64)
    return stats.join(decided.select("key", "episode", "weight"), on=["key", "episode"]).select(
        "key",
        "episode",
        "weight",
        "accounts",
        "successes",
        top_share=pl.col("top") / share,
        mean_tries=share / pl.col("accounts"),
        unknown_share=pl.col("unknown") / share,
        common_share=pl.col("common") / share,
        success_share=pl.col("successes") / (share + pl.col("successes")),
    )


def label(stats: pl.DataFrame, shapes: tuple[Shape, ...]) -> pl.DataFrame:
    """(key, episode, category, severity, reasons, weight): the first shape that fits."""
    first_fit = pl.coalesce([pl.when(s.when.expr()).then(pl.lit(i)) for i, s in enumerate(shapes)])
    chosen = stats.with_columns(shape=first_fit.cast(pl.Int32))
    table = pl.DataFrame(
        {
            "shape": list(range(len(shapes))),
            "category": [s.category for s in shapes],
            "severity": [s.severity for s in shapes],
            "shape_name": [s.name or s.category.replace("_", " ") for s in shapes],
        },
        schema={
            "shape": pl.Int32,
            "category": pl.String,
            "severity": pl.String,
            "shape_name": pl.String,
        },
    )
    reason = pl.format(
        "{}: {} accounts, {} failures per account, {}% unknown names, {} successes",
        "shape_name",
        "accounts",
        pl.col("mean_tries").round(1),
        (pl.col("unknown_share") * 100).round(0).cast(pl.Int64),
        "successes",
    )
    return chosen.join(table, on="shape").select(
        "key", "episode", "category", "severity", "weight", reasons=pl.concat_list(reason)
    )
