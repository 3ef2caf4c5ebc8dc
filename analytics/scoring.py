"""Scoring the new successful logins for familiarity, before the rules run, into login_risk.

DuckDB does the counting (which accounts show any variety, how common each network, city,
country and user agent is across the service); Polars does the model (analytics/
familiarity.py). An account that has only ever used one network, one place and one client
has nothing unfamiliar: its logins are not scored (their risk reads as familiar).
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import polars as pl
import pyarrow as pa

from analytics.familiarity import (
    LEVELS,
    FamiliarityModel,
    client_levels,
    prior_counts,
    score,
)
from store import Store

# The level values as SQL, so that the service-wide counts and the accounts' own logins
# name a network, city or client the same way.
LEVEL_SQL = {
    "network": r"""CASE WHEN asn IS NOT NULL THEN 'AS' || asn
        WHEN ip_version = 4 THEN left(ip, length(ip) - strpos(reverse(ip), '.')) || '.0/24'
        WHEN ip_version = 6 THEN substr(lower(hex(ip_bin)), 1, 4) || ':'
            || substr(lower(hex(ip_bin)), 5, 4) || ':' || substr(lower(hex(ip_bin)), 9, 4)
            || '::/48' END""",
    "city": "city || ', ' || country",
    "country": "country",
    "agent": "user_agent",
}
SQL_LEVELS = tuple(LEVEL_SQL)
VARIETY = ("ip", "city", "country", "user_agent", "asn")


def score_logins(
    store: Store, model: FamiliarityModel, seen: int, since: datetime | None, until: datetime | None
) -> int:
    """Score the successful logins after event `seen` (live) or within [since, until]
    (replay) against each account's history, into login_risk; returns how many."""
    scored = compute_scores(store.cursor(), model, seen, since, until)
    if scored is None:
        return 0
    _store(store, scored)
    return scored.height


def compute_scores(
    cursor: duckdb.DuckDBPyConnection,
    model: FamiliarityModel,
    seen: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pl.DataFrame | None:
    """(event_id, risk, evidence, learning, reasons) of the new logins of accounts with any
    variety, read from the `events` the connection sees; None when there are none."""
    new_sql, new_values = _new(seen, since, until)
    ((first_new,),) = cursor.execute(
        f"SELECT min(ts) FROM events WHERE event = 'login' AND outcome = 'success' AND {new_sql}",
        new_values,
    ).fetchall()
    if first_new is None:
        return None
    start = first_new - model.lookback
    top = until if until is not None else datetime.max
    levels = ", ".join(f"{sql} AS {name}" for name, sql in LEVEL_SQL.items())
    scope = f"""WITH s AS (
        SELECT event_id, ts, "user", own_network, ip, city AS city_name, {levels},
            ({new_sql}) AS new
        FROM events
        WHERE event = 'login' AND outcome = 'success' AND ts >= ? AND ts <= ?)"""
    values = [*new_values, start, top]
    # Which accounts show any variety, on the raw columns hashed (a superset of a variety of
    # level values, at a third of the cost of grouping the texts).
    varied = " OR ".join(f"min(hash({c})) <> max(hash({c}))" for c in VARIETY)
    # Only the accounts with a new login are looked at (a live run's few, a backfill's all).
    candidates = cursor.sql(
        f"""WITH fresh AS (SELECT DISTINCT "user" FROM events
                           WHERE event = 'login' AND outcome = 'success' AND {new_sql})
            SELECT "user" FROM events
            WHERE event = 'login' AND outcome = 'success' AND ts >= ? AND ts <= ?
                  AND "user" IN (SELECT "user" FROM fresh)
            GROUP BY 1 HAVING ({varied})""",
        params=[*new_values, start, top],
    ).to_arrow_table()
    if candidates.num_rows == 0:
        return None
    cursor.register("scored_accounts", candidates)
    logins = _polars(
        cursor.sql(
            f"""{scope} SELECT * FROM s WHERE "user" IN (SELECT "user" FROM scored_accounts)""",
            params=values,
        ).to_arrow_table()
    )
    shares = service_shares(cursor, scope, values, logins)
    ((service_start,),) = cursor.execute("SELECT min(ts) FROM events").fetchall()
    frame = logins.join(client_levels(logins["agent"]).rename({"user_agent": "agent"}),
                        on="agent", how="left")  # fmt: skip
    counted = prior_counts(frame).filter(pl.col("new"))
    scored = score(counted, shares, model, service_start)
    own = counted.select("event_id", own=pl.col("own_network").is_not_null())
    return (
        scored.join(own, on="event_id")
        .with_columns(risk=pl.when("own").then(0.0).otherwise("risk"))
        .drop("own")
    )


def _new(seen: int, since: datetime | None, until: datetime | None) -> tuple[str, list[object]]:
    if since is not None and until is not None:
        return "ts BETWEEN ? AND ?", [since, until]
    return "event_id > ?", [seen]


def service_shares(
    cursor: duckdb.DuckDBPyConnection, scope: str, values: list[object], logins: pl.DataFrame
) -> pl.DataFrame:
    """(level, value, count, total, kinds) for the level values of `logins`: how many of the
    service's successful logins had each, of how many with a value at that level, and how
    many values the level has (approximately); browser, OS and device from the distinct
    user agents."""
    wanted = pl.concat(
        [logins.select(level=pl.lit(n), value=pl.col(n)).drop_nulls().unique() for n in SQL_LEVELS]
        + [logins.select(level=pl.lit("city_name"), value="city_name").drop_nulls().unique()]
    )
    cursor.register("wanted_values", wanted.to_arrow())
    # Only the values the scored logins have, filtered on the raw columns where they can be
    # (a city by its name, before the name and country are joined).
    within = {
        "network": "network IN (SELECT value FROM wanted_values WHERE level = 'network')",
        "city": "city_name IN (SELECT value FROM wanted_values WHERE level = 'city_name')",
        "country": "country IN (SELECT value FROM wanted_values WHERE level = 'country')",
    }
    counted = " UNION ALL ".join(
        f"SELECT '{name}' AS level, {name} AS value, count(*) AS n FROM s WHERE {condition} "
        "GROUP BY 2"
        for name, condition in within.items()
    )
    raw = {"network": "ip", "city": "city_name", "country": "country", "agent": "agent"}
    sizes = ", ".join(
        f"count({raw[name]}) AS total_{name}, approx_count_distinct({raw[name]}) AS kinds_{name}"
        for name in SQL_LEVELS
    )
    counts = _polars(cursor.sql(f"{scope} {counted}", params=values).to_arrow_table())
    totals = cursor.sql(f"{scope} SELECT {sizes} FROM s", params=values).fetchall()[0]
    agents = _polars(
        cursor.sql(
            f"{scope} SELECT agent AS value, count(*) AS n FROM s WHERE agent IS NOT NULL "
            "GROUP BY 1",
            params=values,
        ).to_arrow_table()
    )
    cursor.unregister("wanted_values")
    size = {name: (totals[2 * i], totals[2 * i + 1]) for i, name in enumerate(SQL_LEVELS)}
    measured = counts.with_columns(
        total=pl.col("level").replace_strict({k: v[0] for k, v in size.items()}, default=0),
        kinds=pl.col("level").replace_strict({k: v[1] for k, v in size.items()}, default=0),
    )
    parsed = agents.join(client_levels(agents["value"]).rename({"user_agent": "value"}), on="value")
    derived = [
        parsed.group_by(level)
        .agg(pl.col("n").sum())
        .select(level=pl.lit(level), value=pl.col(level), n="n")
        .with_columns(total=pl.col("n").sum(), kinds=pl.len())
        for level in ("agent", "version", "browser", "os", "device")
        if level != "agent"
    ]
    every_agent = agents.select(
        level=pl.lit("agent"), value="value", n="n", total=pl.col("n").sum(), kinds=pl.len()
    )
    return pl.concat([measured, every_agent, *derived], how="vertical_relaxed").select(
        "level", "value", count="n", total="total", kinds="kinds"
    )


def _store(store: Store, scored: pl.DataFrame) -> None:
    """Into the caller's transaction (the detection run's)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    table = scored.select(
        "event_id", "risk", "evidence", "learning", "reasons", scored_at=pl.lit(now)
    ).to_arrow()
    con = store.con
    con.register("new_risk", table)
    try:
        con.execute(
            """INSERT OR REPLACE INTO login_risk
               SELECT event_id, risk, evidence, learning, reasons, scored_at FROM new_risk"""
        )
    finally:
        con.unregister("new_risk")


def _polars(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


__all__ = ["LEVELS", "score_logins"]
