"""One set of rules for every input: what makes a parsed row a valid canonical event."""

from __future__ import annotations

from functools import cache

import polars as pl

from ingest.canonical import EVENT_TYPES, MAX_FIELD_CHARS, OUTCOMES
from ingest.event_kinds import classified
from ingest.timestamps import EARLIEST, LATEST


def _shown(column: str) -> pl.Expr:
    return pl.col(column).str.slice(0, 80)


def _too_long() -> pl.Expr:
    """The first field longer than its limit, as a reason, or null."""
    reason = pl.lit(None, pl.String)
    for name, most in reversed(MAX_FIELD_CHARS.items()):
        length = pl.col(name).str.len_chars()
        reason = (
            pl.when(length > most)
            .then(pl.format(f"{name} longer than {most} characters ({{}})", length))
            .otherwise(reason)
        )
    return reason


@cache  # built once: building it cost as much as a small batch's whole check
def _problem(names_required: bool) -> pl.Expr:
    """The first reason a row is not a valid event, or null."""
    event = pl.col("event")
    outcome = pl.col("outcome")
    too_long = _too_long()
    return (
        pl.when(too_long.is_not_null())
        .then(too_long)
        .when(pl.col("ts_raw").is_null() & pl.col("ts").is_null())
        .then(pl.lit("missing ts"))
        .when(pl.col("ts").is_null())
        .then(
            pl.format(
                "bad timestamp '{}' (RFC 3339 with an offset, or epoch seconds)", _shown("ts_raw")
            )
        )
        .when((pl.col("ts") < EARLIEST) | (pl.col("ts") >= LATEST))
        .then(pl.format("timestamp out of range: {}", pl.col("ts").cast(pl.String)))
        .when(~event.is_in(EVENT_TYPES))
        .then(pl.format("unknown event '{}'", _shown("event")))
        .when((event == "login") & outcome.is_null())
        .then(pl.lit("missing outcome (success or failure) for a login"))
        .when(outcome.is_not_null() & ~outcome.is_in(OUTCOMES))
        .then(pl.format("bad outcome '{}' (success or failure)", _shown("outcome")))
        .when(pl.col("user").is_null())
        .then(pl.lit("missing user"))
        .when(pl.lit(names_required) & (pl.col("user").str.strip_chars() == ""))
        .then(pl.lit("empty user"))
        .when(pl.col("ip").is_null() & pl.col("host").is_null())
        .then(pl.lit("missing ip (or host)"))
    )


def validate(
    parsed: pl.DataFrame, names_required: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parsed rows -> (valid events, quarantined lines). A line with any bad event is held whole."""
    tidy = parsed.with_columns(
        event=pl.col("event").str.strip_chars().str.to_lowercase(),
        # ECS's `unknown` says there is none: fine for a logout, not for a login.
        outcome=pl.col("outcome").str.strip_chars().str.to_lowercase().replace("unknown", None),
        ip=pl.col("ip").str.strip_chars(),
    )
    tidy = (
        classified(tidy)
        .with_columns(pl.col("event").fill_null("login"))
        .with_columns(problem=_problem(names_required))
    )
    bad = tidy.filter(pl.col("problem").is_not_null())
    if bad.height == 0:
        return tidy.drop("problem"), bad.select("line_no", "raw", reason="problem")
    bad_lines = bad.group_by("line_no", maintain_order=True).agg(
        pl.col("raw").first(), pl.col("problem").first().alias("reason")
    )
    good = tidy.join(bad_lines.select("line_no"), on="line_no", how="anti")
    return good.drop("problem"), bad_lines
