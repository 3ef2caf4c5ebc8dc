"""Combined-format web access logs (nginx, Apache): requests to the login path are attempts."""

from __future__ import annotations

import polars as pl

from ingest.canonical import conform
from ingest.context import ParseContext, Parsed

COMBINED = (
    r"^(?P<client>\S+) \S+ (?P<ruser>\S+) \[(?P<time>[^\]]+)\] "
    r'"(?P<method>[A-Z]+) (?P<target>\S+)(?: HTTP/[\d.]+)?" (?P<status>\d{3}) \S+'
    r'(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?.*$'
)


def looks_like(line: str) -> bool:
    import re

    return re.match(COMBINED, line) is not None


def parse(lines: pl.DataFrame, lookahead: pl.DataFrame, context: ParseContext) -> Parsed:
    fields = lines.with_columns(f=pl.col("raw").str.extract_groups(COMBINED)).unnest("f")
    unparsed = fields.filter(pl.col("client").is_null())
    quarantine = unparsed.select(
        "line_no", "raw", reason=pl.lit("not a combined-format access log line")
    )
    path = pl.col("target").str.replace(r"\?.*$", "")
    status = pl.col("status").cast(pl.Int32)
    login = fields.filter(
        pl.col("client").is_not_null()
        & path.is_in(list(context.login_paths))
        & pl.col("method").is_in(list(context.methods))
        & status.is_in(list(context.success_status) + list(context.failure_status))
    )
    user: pl.Expr = pl.when(pl.col("ruser") != "-").then("ruser")
    if context.user_param:
        from_query = pl.col("target").str.extract(rf"[?&]{context.user_param}=([^&]*)")
        user = pl.coalesce(from_query, user)
    events = login.select(
        "line_no",
        "raw",
        seq=pl.lit(0, pl.Int32),
        ts_raw="time",
        ts=pl.col("time")
        .str.to_datetime("%d/%b/%Y:%H:%M:%S %z", time_zone="UTC", time_unit="us", strict=False)
        .dt.replace_time_zone(None),
        event=pl.lit("login"),
        outcome=pl.when(status.is_in(list(context.success_status)))
        .then(pl.lit("success"))
        .otherwise(pl.lit("failure")),
        user=pl.coalesce(user, pl.lit("-")),
        ip="client",
        user_agent=pl.when(pl.col("agent").is_in(["-", ""]).not_()).then("agent"),
        reason=pl.when(status.is_in(list(context.success_status)).not_()).then(
            pl.format("http_{}", "status")
        ),
        service=pl.lit(context.service or None, pl.String),
    )
    skipped = lines.height - unparsed.height - login.height
    events = events.with_columns(user=_percent_decoded(events["user"]))
    return Parsed(events=conform(events), quarantine=quarantine, skipped=skipped)


def _percent_decoded(names: pl.Series) -> pl.Series:
    """Query strings are %-encoded; decode each distinct name once."""
    from urllib.parse import unquote_plus

    distinct = [
        n for n in names.unique().to_list() if (n is not None and "%" in n) or (n and "+" in n)
    ]
    if not distinct:
        return names
    return names.replace({n: unquote_plus(n) for n in distinct})
