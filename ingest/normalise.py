"""One set of rules for every input: what makes a parsed row a valid canonical event."""

from __future__ import annotations

from functools import cache

import polars as pl

from ingest.canonical import EVENT_TYPES, MAX_FIELD_CHARS, OUTCOMES
from ingest.event_kinds import classified
from ingest.timestamps import EARLIEST, LATEST


def _shown(column: str) -> pl.Expr:
    return pl.col(column).str.slice(0, 80)


def _checks(names_required: bool) -> list[tuple[pl.Expr, pl.Expr]]:
    """(condition, reason) of each way a row can be invalid, in the order they are reported.
    A condition that is null (a value it looks at is missing) does not hold."""
    event, outcome, user, ts = pl.col("event"), pl.col("outcome"), pl.col("user"), pl.col("ts")
    too_long = [
        (
            pl.col(name).str.len_chars() > most,
            pl.format(f"{name} longer than {most} characters ({{}})", pl.col(name).str.len_chars()),
        )
        for name, most in MAX_FIELD_CHARS.items()
    ]
    bad_ts = "bad timestamp '{}' (RFC 3339 with an offset, or epoch seconds)"
    return [
        *too_long,
        (pl.col("ts_raw").is_null() & ts.is_null(), pl.lit("missing ts")),
        (ts.is_null(), pl.format(bad_ts, _shown("ts_raw"))),
        ((ts < EARLIEST) | (ts >= LATEST),
         pl.format("timestamp out of range: {}", ts.cast(pl.String))),
        (~event.is_in(EVENT_TYPES), pl.format("unknown event '{}'", _shown("event"))),
        ((event == "login") & outcome.is_null(),
         pl.lit("missing outcome (success or failure) for a login")),
        (outcome.is_not_null() & ~outcome.is_in(OUTCOMES),
         pl.format("bad outcome '{}' (success or failure)", _shown("outcome"))),
        (user.is_null(), pl.lit("missing user")),
        (pl.lit(names_required) & (user.str.strip_chars() == ""), pl.lit("empty user")),
        (pl.col("ip").is_null() & pl.col("host").is_null(), pl.lit("missing ip (or host)")),
    ]  # fmt: skip


# Both built once: building them cost as much as a small batch's whole check.
@cache
def _invalid(names_required: bool) -> pl.Expr:
    """Whether any check holds: cheap, no reason is formatted (nearly every row is valid)."""
    return pl.any_horizontal(condition for condition, _ in _checks(names_required))


@cache
def _problem(names_required: bool) -> pl.Expr:
    """The first reason a row is not a valid event, or null."""
    problem = pl.lit(None, pl.String)
    for condition, reason in reversed(_checks(names_required)):
        problem = pl.when(condition).then(reason).otherwise(problem)
    return problem


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
    tidy = classified(tidy).with_columns(pl.col("event").fill_null("login"))
    bad = tidy.filter(_invalid(names_required))
    if bad.height == 0:
        return tidy, bad.select("line_no", "raw", reason=pl.lit(None, pl.String))
    bad_lines = bad.group_by("line_no", maintain_order=True).agg(
        pl.col("raw").first(), _problem(names_required).first().alias("reason")
    )
    good = tidy.join(bad_lines.select("line_no"), on="line_no", how="anti")
    return good, bad_lines
