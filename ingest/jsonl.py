"""JSON Lines with canonical or Elastic Common Schema names, parsed by DuckDB's JSON functions."""

from __future__ import annotations

import polars as pl

from ingest.canonical import TEXT_FIELDS, conform
from ingest.context import ParseContext, Parsed, engine_of
from ingest.timestamps import parse_rfc3339_or_epoch

# Canonical name first; ECS alternatives nested and dotted. A canonical key only counts
# when it holds a scalar: in ECS `user`, `event`, `host` and `service` are objects.
PATHS: dict[str, tuple[str, ...]] = {
    "ts": ("ts", "@timestamp"),
    "event": ("event", "event.action"),
    "outcome": ("outcome", "event.outcome"),
    "user": ("user", "user.name"),
    "customer_id": ("customer_id",),
    "ip": ("ip", "source.ip"),
    "host": ("host",),
    "user_agent": ("user_agent", "user_agent.original"),
    "session_id": ("session_id", "session.id", "http.cookie.session"),
    "reason": ("reason", "event.reason"),
    "service": ("service", "service.name"),
}
_SCALARS = "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN')"


def _json_paths(name: str) -> list[str]:
    """`user.name` is reachable nested ($.user.name) or as one dotted key ($."user.name")."""
    parts = name.split(".")
    nested = "$." + ".".join(f'"{p}"' for p in parts)
    return [nested] if len(parts) == 1 else [nested, f'$."{name}"']


def _plan() -> tuple[list[str], dict[str, list[int]]]:
    paths: list[str] = []
    where: dict[str, list[int]] = {}
    for field, names in PATHS.items():
        for name in names:
            for path in _json_paths(name):
                where.setdefault(field, []).append(len(paths) + 1)
                paths.append(path)
    return paths, where


def _known_keys() -> str:
    """Top-level keys whose scalar value became a canonical field (objects stay in `extra`)."""
    names = sorted({name for names in PATHS.values() for name in names})
    return ", ".join("'" + name + "'" for name in names)


def _query() -> str:
    paths, where = _plan()
    picks = []
    for field in ("ts", *TEXT_FIELDS):
        options = ", ".join(
            f"CASE WHEN json_type(j[{i}]) IN {_SCALARS} THEN j[{i}]->>'$' END" for i in where[field]
        )
        picks.append(f'coalesce({options}) AS "{field if field != "ts" else "ts_raw"}"')
    path_list = ", ".join(f"'{p}'" for p in paths)
    known = _known_keys()
    return f"""
        WITH checked AS (
            SELECT line_no, raw, json_valid(raw) AS valid FROM lines
        ), objects AS (
            SELECT line_no, raw, json_extract(raw, [{path_list}]) AS j,
                   to_json(map_from_entries(list_filter(
                       map_entries(CAST(raw::JSON AS MAP(VARCHAR, JSON))),
                       lambda e: NOT (e.key IN ({known}) AND json_type(e.value) IN {_SCALARS})
                   ))) AS rest
            FROM checked WHERE valid AND json_type(raw) = 'OBJECT'
        )
        SELECT line_no, {", ".join(picks)},
               CASE WHEN rest::VARCHAR <> '{{}}' THEN rest::VARCHAR END AS extra, raw
        FROM objects
        ORDER BY line_no
    """


_QUERY = _query()


def parse(lines: pl.DataFrame, lookahead: pl.DataFrame, context: ParseContext) -> Parsed:
    engine = engine_of(context)
    engine.register("lines", lines.select("line_no", "raw").to_arrow())
    try:
        fields = pl.from_arrow(engine.sql(_QUERY).to_arrow_table())
        status = pl.from_arrow(
            engine.sql(
                "SELECT line_no, raw, json_valid(raw) AS valid, "
                "CASE WHEN json_valid(raw) THEN json_type(raw) END AS kind FROM lines "
                "WHERE NOT json_valid(raw) OR json_type(raw) <> 'OBJECT' ORDER BY line_no"
            ).to_arrow_table()
        )
    finally:
        engine.unregister("lines")
    assert isinstance(fields, pl.DataFrame) and isinstance(status, pl.DataFrame)
    quarantine = status.select(
        "line_no",
        "raw",
        reason=pl.when(pl.col("valid"))
        .then(pl.format("not a JSON object ({})", pl.col("kind").str.to_lowercase()))
        .otherwise(pl.lit("invalid JSON")),
    )
    events = fields.with_columns(
        seq=pl.lit(0, pl.Int32), ts=parse_rfc3339_or_epoch(pl.col("ts_raw"))
    )
    return Parsed(events=conform(events), quarantine=quarantine)
