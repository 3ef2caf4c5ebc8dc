"""First-seen values and long silences of an account."""

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
)


class FirstSeenParams(Params):
    field: str = "country"
    # Without familiarity: a history of this many logins over this many days first.
    min_history_events: int = 10
    min_history_days: int = 14
    # With it: the account's learning (the familiarity model's), and how unfamiliar the
    # whole login was (a trip with the usual laptop is not a phished password).
    familiarity: RiskGate | None = None

    def reads(self) -> Reads:
        risk = RISK_COLUMNS if self.familiarity is not None else ()
        columns = (*BASE_COLUMNS, self.field, *risk)
        return Reads(
            columns=columns,
            equals=(("event", ("login",)), ("outcome", ("success",))),
            group='"user"',
            having=f'min(hash("{self.field}")) <> max(hash("{self.field}"))',
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
    if p.familiarity is None:
        history = (pl.col("earlier") >= p.min_history_events) & (
            pl.col("since") >= timedelta(days=p.min_history_days)
        )
    else:
        history = p.familiarity.passes(pl.col("risk"), pl.col("learning"))
    found = frame.filter(pl.col("first_of_value") & history)
    summary = pl.format(
        "{} logged in from {} {} ({}) for the first time after {} logins over {} days",
        "key",
        pl.lit(p.field),
        pl.col(p.field),
        "ip",
        "earlier",
        pl.col("since").dt.total_days(),
    )
    return as_findings(
        found, "ts", "ts", pl.concat_list("event_id"), with_risk(summary, p.familiarity),
        **risk_columns(p.familiarity),
    )  # fmt: skip


def with_risk(summary: pl.Expr, gate: RiskGate | None) -> pl.Expr:
    """The summary with the login's risk and what made it unfamiliar."""
    if gate is None:
        return summary
    unfamiliar = pl.col("risk_reasons").list.eval(pl.element().str.split(": ").list.first())
    return pl.format(
        "{}; risk {} ({})",
        summary,
        pl.col("risk").round(2),
        unfamiliar.list.head(4).list.join(", ").fill_null(""),
    )


def risk_columns(gate: RiskGate | None) -> dict[str, pl.Expr]:
    """The findings' risk, reasons and severity from the login's familiarity score."""
    if gate is None:
        return {}
    return {
        "risk": pl.col("risk"),
        "reasons": pl.col("risk_reasons"),
        "severity": gate.band(pl.col("risk")),
    }


class DormancyParams(Params):
    min_gap: Duration = timedelta(days=30)
    # A rare user back from home with the usual device is not a taken-over account.
    familiarity: RiskGate | None = None

    def reads(self) -> Reads:
        seconds = int(self.min_gap.total_seconds())
        risk = RISK_COLUMNS if self.familiarity is not None else ()
        return Reads(
            columns=(*BASE_COLUMNS, "city", "country", *risk),
            group='"user"',
            having=f"epoch(max(ts)) - epoch(min(ts)) >= {seconds}",
        )


def dormancy(events: pl.DataFrame, p: DormancyParams) -> pl.DataFrame:
    """A success of an account silent for `min_gap` before it: no success and no other
    activity of its owner (failures do not count: the stranger's own tries just before
    the success would end the silence)."""
    long_enough = pl.col("ts").max() - pl.col("ts").min() >= p.min_gap
    frame = keyed(events, "user", Where(event=None), candidates=long_enough)
    frame = frame.filter((pl.col("event") != "login") | (pl.col("outcome") == "success"))
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
    if p.familiarity is not None:
        found = found.filter(p.familiarity.passes(pl.col("risk"), pl.col("learning")))
    summary = pl.format(
        "{} logged in from {} after {} days of silence",
        "key",
        pl.coalesce(pl.col("city"), pl.col("country"), pl.col("ip")),
        (pl.col("ts") - pl.col("prev_ts")).dt.total_days(),
    )
    return as_findings(
        found, "prev_ts", "ts", pl.concat_list("prev_id", "event_id"),
        with_risk(summary, p.familiarity), **risk_columns(p.familiarity),
    )  # fmt: skip
