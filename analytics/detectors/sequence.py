"""Failures, then a success: a guessed or stuffed password that worked."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from analytics.detectors.common import (
    BASE_COLUMNS,
    RISK_COLUMNS,
    Duration,
    Params,
    Reads,
    RiskGate,
    Where,
    as_findings,
    empty_findings,
    keyed,
    minutes,
    source_key,
)


class SequenceParams(Params):
    window: Duration = timedelta(minutes=10)
    min_failures: int = 5
    # With familiarity, failures from other sources count only when the success itself was
    # unfamiliar: an owner logging in as usual from home while a botnet fails against the
    # account elsewhere has not had a password guessed.
    familiarity: RiskGate | None = None

    def reads(self) -> Reads:
        kinds = ("login", "password_reset", "password_change")
        # Any window of length W lies within two adjacent W-slots: an account needs
        # `min_failures` failures in some pair of neighbouring slots to reach a finding.
        seconds = max(int(self.window.total_seconds()), 1)
        candidates = f"""
            SELECT DISTINCT "user" FROM (
                SELECT "user", slot, n, lead(slot) OVER w AS next_slot, lead(n) OVER w AS next_n
                FROM (SELECT "user", floor(epoch(ts) / {seconds}) AS slot, count(*) AS n
                      FROM scope WHERE event = 'login' AND outcome = 'failure' GROUP BY 1, 2)
                WINDOW w AS (PARTITION BY "user" ORDER BY slot))
            WHERE n + CASE WHEN next_slot = slot + 1 THEN next_n ELSE 0 END
                  >= {int(self.min_failures)}"""
        risk = RISK_COLUMNS if self.familiarity is not None else ()
        return Reads(
            columns=(*BASE_COLUMNS, "ip_version", "host", *risk),
            equals=(("event", kinds),),
            group='"user"',
            candidates=candidates,
        )


def failures_then_success(events: pl.DataFrame, p: SequenceParams) -> pl.DataFrame:
    """A success of an account preceded, within `window`, by `min_failures` failed logins
    since its last success. A password reset or change in between ends the run: the person
    proved who they are another way (a forgotten password, not a guessed one)."""
    failures = ((pl.col("event") == "login") & (pl.col("outcome") == "failure")).sum()
    frame = keyed(events, "user", Where(event=None), candidates=failures >= p.min_failures)
    frame = frame.filter(pl.col("event").is_in(["login", "password_reset", "password_change"]))
    if frame.height == 0:
        return empty_findings()
    login = pl.col("event") == "login"
    failed = (login & (pl.col("outcome") == "failure")).cast(pl.Int32)
    success = login & (pl.col("outcome") == "success")
    boundary = (success | ~login).cast(pl.Int32)
    # A success ends its streak; only streaks with enough failures in all are looked at
    # closer (whole columns, no lists), then only their failures within the window count.
    # The frame is sorted by key and time: a streak starts at a new key or after a boundary,
    # so streak ids and failure counts are running sums over the whole column.
    starts = (pl.col("key") != pl.col("key").shift(1)).fill_null(True) | (
        boundary.shift(1) == 1
    ).fill_null(False)
    frame = frame.with_columns(
        is_failure=failed, streak_id=starts.cum_sum(), success=success, starts=starts
    ).with_columns(failures=pl.col("is_failure").cum_sum())
    # The running count where the streak began, carried down its rows (streaks are
    # contiguous: no window function over thousands of streak ids).
    before = pl.when("starts").then(pl.col("failures") - pl.col("is_failure")).forward_fill()
    frame = frame.with_columns(in_streak=pl.col("failures") - before)
    frame = frame.with_columns(source=source_key())
    unfamiliar = (
        p.familiarity.passes(pl.col("risk"), pl.col("learning"))
        if p.familiarity is not None
        else pl.lit(True)
    )
    hits = frame.filter(pl.col("success") & (pl.col("in_streak") >= p.min_failures)).select(
        "key",
        "streak_id",
        success_ts="ts",
        success_id="event_id",
        success_source="source",
        anywhere=unfamiliar,
    )
    if hits.height == 0:
        return empty_findings()
    tried = frame.filter(pl.col("is_failure") == 1).join(hits, on=["key", "streak_id"])
    tried = tried.filter(
        (pl.col("ts") >= pl.col("success_ts") - p.window)
        & (pl.col("anywhere") | (pl.col("source") == pl.col("success_source")))
    )
    found = (
        tried.group_by("key", "streak_id")
        .agg(
            pl.col("success_ts").first(),
            pl.col("success_id").first(),
            first_seen=pl.col("ts").min(),
            failure_ids=pl.col("event_id"),
            sources=pl.col("ip").unique(maintain_order=True),
        )
        .filter(pl.col("failure_ids").list.len() >= p.min_failures)
    )
    return as_findings(
        found,
        "first_seen",
        "success_ts",
        pl.concat_list("failure_ids", "success_id"),
        pl.format(
            "successful login for {} after {} failures in {} min (from {})",
            "key",
            pl.col("failure_ids").list.len(),
            minutes(pl.col("first_seen"), pl.col("success_ts")),
            pl.col("sources").list.join(", "),
        ),
    )
