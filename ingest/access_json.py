"""JSON access lines: nginx `log_format ... escape=json`, Caddy's access log, and the like.

Their keys are whatever the operator chose, so each field has a list of the usual names
(nginx's variable names, Caddy's nested `request` object, common aliases); `[access]
json_fields` puts the operator's own first. DuckDB reads every one of those paths of a
line at once, parsing it once: a key that only some records carry (Caddy's `Location` on
redirects, `X-Forwarded-For` when a proxy sent it) is read wherever it is.
"""

from __future__ import annotations

import polars as pl

from ingest.access_formats import FIELDS
from ingest.context import ParseContext, engine_of

# Field -> JSON paths, most specific first. Header values in Caddy are arrays.
ALIASES: dict[str, tuple[str, ...]] = {
    "peer": ("remote_addr", "remote_ip", "request.remote_ip", "client_addr", "clientip", "c_ip"),
    "ruser": ("remote_user",),
    "time_clf": ("time_local",),
    "time_iso": ("time_iso8601", "@timestamp", "timestamp", "time", "msec", "ts"),
    "request": ("request",),
    "method": ("request_method", "method", "request.method", "http_method"),
    "target": ("request_uri", "uri", "request.uri", "path", "url", "request_path"),
    "status": ("status", "response_status", "status_code"),
    "agent": ("http_user_agent", "user_agent", "request.headers.User-Agent", "agent"),
    "xff": ("http_x_forwarded_for", "x_forwarded_for", "request.headers.X-Forwarded-For"),
    "forwarded": ("http_forwarded", "request.headers.Forwarded"),
    "location": (
        "sent_http_location", "upstream_http_location", "location", "resp_headers.Location",
    ),
    "user": ("user", "username", "user_name", "user_id"),
}  # fmt: skip


def _json_path(path: str) -> str:
    return "$." + ".".join(f'"{part}"' for part in path.split("."))


def chosen_paths(own: dict[str, str]) -> dict[str, list[str]]:
    """For each field, the paths to try in order: the operator's, then the usual ones."""
    chosen: dict[str, list[str]] = {}
    for name in FIELDS:
        options = [own[name]] if name in own else []
        options += [p for p in ALIASES.get(name, ()) if p not in options]
        chosen[name] = options
    return chosen


def read_json(lines: pl.DataFrame, context: ParseContext) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(records with `FIELDS`, quarantine rows, lines skipped: JSON that is no request
    record, such as Caddy's other loggers)."""
    chosen = chosen_paths(dict(context.access.json_fields))
    flat = [(name, path) for name, paths in chosen.items() for path in paths]
    paths = ", ".join(f"'{_json_path(path)}'" for _, path in flat) or "'$.__none__'"
    engine = engine_of(context)
    table = (
        lines.select("line_no", "msg").to_arrow(
            compat_level=pl.CompatLevel.oldest()
        )  # plain strings for DuckDB
    )
    engine.register("access_lines", table)
    try:
        read = engine.sql(
            f"""SELECT line_no,
                       coalesce(CASE WHEN json_valid(msg) THEN json_type(msg) = 'OBJECT' END,
                                false) AS object, json_valid(msg) AS valid,
                       CASE WHEN json_valid(msg) THEN json_extract_string(msg, [{paths}]) END
                       AS vals,
                       CASE WHEN json_valid(msg) THEN msg->>'$.logger' END AS logger
                FROM access_lines"""
        ).pl()
    finally:
        engine.unregister("access_lines")
    values = pl.col("vals")
    columns = {}
    for name in FIELDS:
        picks = [values.list.get(i) for i, (field, _) in enumerate(flat) if field == name]
        columns[name] = pl.coalesce(picks) if picks else pl.lit(None, pl.String)
    fields = read.with_columns(**columns).with_columns(
        **{name: _header_text(pl.col(name)) for name in ("agent", "xff", "forwarded", "location")}
    )
    joined = lines.with_columns(fields.drop("line_no", "vals"))  # same rows, same order
    is_request = (pl.col("request").is_not_null() | pl.col("target").is_not_null()) & pl.col(
        "status"
    ).is_not_null()
    other_logger = pl.col("logger").is_not_null() & ~pl.col("logger").str.starts_with(
        "http.log.access"
    )
    quarantine = joined.filter(~pl.col("object") | (~is_request & ~other_logger)).select(
        "line_no",
        "raw",
        reason=pl.when(pl.col("object"))
        .then(pl.lit("a JSON line with no request (method and path) or status: name its keys "
                     "in [access] json_fields"))
        .when(pl.col("valid"))
        .then(pl.lit("not a JSON object"))
        .otherwise(pl.lit("invalid JSON")),
    )  # fmt: skip
    skipped = joined.filter(pl.col("object") & ~is_request & other_logger).height
    records = joined.filter(pl.col("object") & is_request)
    return records.select(*lines.columns, *FIELDS), quarantine, skipped


def _header_text(value: pl.Expr) -> pl.Expr:
    """Caddy writes a header as a JSON array of its values: `["a, b","c"]` -> `a, b, c`."""
    joined = value.str.replace_all(r'^\["|"\]$', "").str.replace_all('","', ", ", literal=True)
    return pl.when(value.str.starts_with("[")).then(joined).otherwise(value)
