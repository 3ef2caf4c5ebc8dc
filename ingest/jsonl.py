"""JSON Lines with canonical or Elastic Common Schema names, parsed by DuckDB in one pass.

`json_transform` reads each line once into a struct (the reader DuckDB's own `read_json`
uses). In ECS `user`, `event`, `host`, `user_agent` and `service` are objects while the
canonical names are strings, so those arrive as JSON and are split here.
"""

from __future__ import annotations

import orjson
import polars as pl

from ingest.canonical import conform
from ingest.context import ParseContext, Parsed, engine_of
from ingest.timestamps import parse_rfc3339_or_epoch

# Names that are either a canonical string or an ECS object.
_EITHER = ("event", "user", "host", "user_agent", "service")
_SPEC = {
    "ts": "VARCHAR",
    "@timestamp": "VARCHAR",
    **{name: "JSON" for name in _EITHER},
    "outcome": "VARCHAR",
    "customer_id": "VARCHAR",
    "ip": "VARCHAR",
    "session_id": "VARCHAR",
    "reason": "VARCHAR",
    "source": {"ip": "VARCHAR"},
    "session": {"id": "VARCHAR"},
    "http": {"cookie": {"session": "VARCHAR"}},
    **{
        dotted: "VARCHAR"
        for dotted in (
            "event.action", "event.outcome", "event.reason", "user.name", "source.ip",
            "user_agent.original", "session.id", "http.cookie.session", "service.name",
        )
    },
}  # fmt: skip
_SCALARS = "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN')"
KNOWN_KEYS = tuple(name for name in _SPEC if name not in ("source", "session", "http"))


def _scalar(expr: str) -> str:
    return f"CASE WHEN json_type({expr}) IN {_SCALARS} THEN {expr}->>'$' END"


def _inner(expr: str, key: str) -> str:
    return f"CASE WHEN json_type({expr}) = 'OBJECT' THEN {expr}->>'$.{key}' END"


def _fields() -> dict[str, str]:
    f = "f."

    def first(*options: str) -> str:
        return "coalesce(" + ", ".join(options) + ")"

    return {
        "ts_raw": first(f + "ts", f + '"@timestamp"'),
        "event": first(_scalar(f + "event"), _inner(f + "event", "action"), f + '"event.action"'),
        "outcome": first(f + "outcome", _inner(f + "event", "outcome"), f + '"event.outcome"'),
        "user": first(_scalar(f + "user"), _inner(f + "user", "name"), f + '"user.name"'),
        "customer_id": f + "customer_id",
        "ip": first(f + "ip", f + "source.ip", f + '"source.ip"'),
        "host": _scalar(f + "host"),
        "user_agent": first(
            _scalar(f + "user_agent"),
            _inner(f + "user_agent", "original"),
            f + '"user_agent.original"',
        ),
        "session_id": first(
            f + "session_id",
            f + "session.id",
            f + '"session.id"',
            f + "http.cookie.session",
            f + '"http.cookie.session"',
        ),
        "reason": first(f + "reason", _inner(f + "event", "reason"), f + '"event.reason"'),
        "service": first(
            _scalar(f + "service"), _inner(f + "service", "name"), f + '"service.name"'
        ),
    }


def _query() -> str:
    spec = orjson.dumps(_SPEC).decode()
    known = ", ".join(f"'{k}'" for k in KNOWN_KEYS)
    picks = ",\n               ".join(f'{sql} AS "{name}"' for name, sql in _fields().items())
    # Only lines with keys we do not know pay for rebuilding the object without the known ones.
    rest = f"""to_json(map_from_entries(list_filter(
                   map_entries(CAST(raw::JSON AS MAP(VARCHAR, JSON))),
                   lambda e: NOT (e.key IN ({known}) AND json_type(e.value) IN {_SCALARS}))))"""
    return f"""
        WITH checked AS (
            SELECT line_no, raw, json_valid(raw) AS valid,
                   CASE WHEN json_valid(raw) THEN json_type(raw) END AS kind
            FROM lines
        ), objects AS (
            SELECT line_no, raw, json_transform(raw, '{spec}') AS f,
                   list_filter(json_keys(raw), lambda k: k NOT IN ({known})) AS unknown
            FROM checked WHERE kind = 'OBJECT'
        )
        SELECT line_no, {picks},
               CASE WHEN len(unknown) > 0 THEN {rest} END AS extra,
               raw, NULL AS problem
        FROM objects
        UNION ALL
        SELECT line_no, {", ".join("NULL" for _ in _fields())}, NULL, raw,
               CASE WHEN valid THEN 'not a JSON object (' || lower(kind) || ')'
                 ELSE 'invalid JSON' END
        FROM checked WHERE kind IS DISTINCT FROM 'OBJECT'
    """


_QUERY = _query()


def parse(lines: pl.DataFrame, lookahead: pl.DataFrame, context: ParseContext) -> Parsed:
    engine = engine_of(context)
    # Plain Arrow strings: string views cost Polars twice the time to hand over.
    plain = lines.select("line_no", "raw").to_arrow(compat_level=pl.CompatLevel.oldest())
    engine.register("lines", plain)
    try:
        table = pl.from_arrow(engine.sql(_QUERY).to_arrow_table())
    finally:
        engine.unregister("lines")
    assert isinstance(table, pl.DataFrame)
    bad = table.filter(pl.col("problem").is_not_null())
    quarantine = bad.select("line_no", "raw", reason="problem")
    events = (
        table.filter(pl.col("problem").is_null())
        .sort("line_no")
        .with_columns(seq=pl.lit(0, pl.Int32), ts=parse_rfc3339_or_epoch(pl.col("ts_raw")))
    )
    return Parsed(events=conform(events), quarantine=quarantine)
