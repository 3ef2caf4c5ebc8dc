"""JSON Lines with canonical or Elastic Common Schema names, parsed by DuckDB (and Polars).

Most lines are flat objects of known names, so a batch takes two passes:

* the fast pass reads every line with `json_transform` (the reader DuckDB's own `read_json`
  uses) and counts its keys with `json_keys`. It settles the *clean* lines: JSON objects
  whose keys are all known flat names (canonical, or dotted ECS) and whose either-names hold
  a string or null. Their usual `YYYY-MM-DDTHH:MM:SS(.ffffff)Z` timestamps are read there too.
  A small batch (a push) takes Polars's fast pass instead (`_flat`): DuckDB's query costs
  more to start than Polars takes to read the whole batch. It settles fewer lines (only
  strings and nulls), and gives the same fields for those it settles.
* the careful pass reads only the other lines: nested ECS objects (`user`, `event`, `host`,
  `user_agent` and `service` are objects in ECS, strings in canonical), unknown keys (kept in
  `extra`), invalid JSON and non-objects (quarantined). It checks each line with several JSON
  functions, each of which parses the line again.

For a clean line every pass gives the same fields: a fast one is the careful one without
the branches a clean line cannot take (tests/ingest/test_jsonl.py compares them).
"""

from __future__ import annotations

import re

import duckdb
import orjson
import polars as pl
import pyarrow as pa

from ingest.canonical import conform
from ingest.context import ParseContext, Parsed, engine_of
from ingest.event_kinds import classified
from ingest.timestamps import parse_rfc3339_or_epoch

# Names that are either a canonical string or an ECS object.
_EITHER = ("event", "user", "host", "user_agent", "service")
# Names whose value must be a JSON string: a number or a boolean there is a mistake the
# sender should hear of (quarantined with the name), not a text made up for them. The times
# may be numbers (epoch seconds); ECS's category and type may be lists.
_TEXT_ONLY = (
    "outcome", "customer_id", "ip", "session_id", "reason",
    "event.action", "event.outcome", "event.reason", "user.name", "source.ip",
    "user_agent.original", "session.id", "http.cookie.session", "service.name",
)  # fmt: skip
# Inside an ECS object: `user.name` is `{"user": {"name": ...}}`, and so on.
_INNER_TEXT = {
    "event": ("action", "outcome", "reason"), "user": ("name",), "user_agent": ("original",),
    "service": ("name",),
}  # fmt: skip
_SPEC = {
    "ts": "VARCHAR",
    "@timestamp": "VARCHAR",
    **{name: "JSON" for name in _EITHER},
    "outcome": "JSON",
    "customer_id": "JSON",
    "ip": "JSON",
    "session_id": "JSON",
    "reason": "JSON",
    "source": {"ip": "JSON"},
    "session": {"id": "JSON"},
    "http": {"cookie": {"session": "JSON"}},
    **{dotted: "JSON" if dotted in _TEXT_ONLY else "VARCHAR"
       for dotted in (
           "event.action", "event.outcome", "event.reason", "event.category", "event.type",
           "user.name", "source.ip",
           "user_agent.original", "session.id", "http.cookie.session", "service.name",
       )},
}  # fmt: skip
_SCALARS = "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN')"
KNOWN_KEYS = tuple(name for name in _SPEC if name not in ("source", "session", "http"))
_KNOWN_NAMES = ", ".join(f"'{k}'" for k in KNOWN_KEYS)
# A flat line whose text-only name holds a number, boolean, list or object (what follows the
# colon starts with a digit, minus, t, f, [ or {): left to the careful pass, which names it.
# A name inside a string value is preceded by a backslash, so it does not match.
_NON_TEXT_VALUE = (
    r"[{,]\s*\"(?:"
    + "|".join(name.replace(".", r"\.") for name in (*_TEXT_ONLY, *_EITHER))
    + r")\"\s*:\s*[-0-9tf\[{]"
)


def _text(expr: str) -> str:
    return f"CASE WHEN json_type({expr}) = 'VARCHAR' THEN {expr}->>'$' END"


def _scalar(expr: str) -> str:
    return _text(expr)


def _inner(expr: str, key: str) -> str:
    return f"CASE WHEN json_type({expr}) = 'OBJECT' THEN {expr}->>'$.{key}' END"


def _first(*options: str) -> str:
    return "coalesce(" + ", ".join(options) + ")"


def _fields() -> dict[str, str]:
    f = "f."
    first = _first

    def t(name: str) -> str:
        return _text(f + name)

    return {
        "ts_raw": first(f + "ts", f + '"@timestamp"'),
        "event": first(_scalar(f + "event"), _inner(f + "event", "action"), t('"event.action"')),
        "outcome": first(t("outcome"), _inner(f + "event", "outcome"), t('"event.outcome"')),
        "user": first(_scalar(f + "user"), _inner(f + "user", "name"), t('"user.name"')),
        "customer_id": t("customer_id"),
        "ip": first(t("ip"), t("source.ip"), t('"source.ip"')),
        "host": _scalar(f + "host"),
        "user_agent": first(
            _scalar(f + "user_agent"),
            _inner(f + "user_agent", "original"),
            t('"user_agent.original"'),
        ),
        "session_id": first(
            t("session_id"),
            t("session.id"),
            t('"session.id"'),
            t("http.cookie.session"),
            t('"http.cookie.session"'),
        ),
        "reason": first(t("reason"), _inner(f + "event", "reason"), t('"event.reason"')),
        "service": first(
            _scalar(f + "service"), _inner(f + "service", "name"), t('"service.name"')
        ),
        "ecs_category": first(_inner(f + "event", "category"), f + '"event.category"'),
        "ecs_type": first(_inner(f + "event", "type"), f + '"event.type"'),
    }


def _not_text() -> str:
    """The names (comma-separated) whose value is JSON but not a string, or '' for none."""
    wrong = [
        (f'f."{name}"' if name in KNOWN_KEYS else "f." + name, name, "('VARCHAR', 'NULL')")
        for name in _TEXT_ONLY
    ]
    wrong += [(f"f.{name}", name, "('VARCHAR', 'NULL')")  # {"source": {"ip": 7}}
              for name in ("source.ip", "session.id", "http.cookie.session")]  # fmt: skip
    wrong += [(f"f.{name}", name, "('VARCHAR', 'NULL', 'OBJECT')") for name in _EITHER]
    checks = [f"CASE WHEN json_type({expr}) NOT IN {allowed} THEN '{name}' END"
              for expr, name, allowed in wrong]  # fmt: skip
    checks += [
        f"CASE WHEN json_type(f.{outer}) = 'OBJECT' AND json_type(f.{outer}, '$.{key}') "
        f"NOT IN ('VARCHAR', 'NULL') THEN '{outer}.{key}' END"
        for outer, keys in _INNER_TEXT.items()
        for key in keys
    ]
    return "concat_ws(', ', " + ", ".join(checks) + ")"


def _careful_query() -> str:
    spec = orjson.dumps(_SPEC).decode()
    known = ", ".join(f"'{k}'" for k in KNOWN_KEYS)
    picks = ",\n               ".join(f'{sql} AS "{name}"' for name, sql in _fields().items())
    # Only lines with keys we do not know pay for rebuilding the object without the known ones.
    rest = f"""to_json(map_from_entries(list_filter(
                   map_entries(named),
                   lambda e: NOT (e.key IN ({known}) AND json_type(e.value) IN {_SCALARS}))))"""
    # A name given twice cannot be a map key: such a line is held, not the whole file.
    repeated = "'a name repeats in the JSON object: names must be unique'"
    return f"""
        WITH checked AS (
            SELECT line_no, raw, json_valid(raw) AS valid,
                   CASE WHEN json_valid(raw) THEN json_type(raw) END AS kind
            FROM lines
        ), objects AS (
            SELECT line_no, raw, json_transform(raw, '{spec}') AS f,
                   list_filter(json_keys(raw), lambda k: k NOT IN ({known})) AS unknown
            FROM checked WHERE kind = 'OBJECT'
        ), extras AS (
            SELECT *, CASE WHEN len(unknown) > 0
                           THEN TRY_CAST(raw::JSON AS MAP(VARCHAR, JSON)) END AS named,
                   {_not_text()} AS not_text
            FROM objects
        )
        SELECT line_no, {picks},
               CASE WHEN len(unknown) > 0 THEN {rest} END AS extra,
               raw, CASE WHEN len(unknown) > 0 AND named IS NULL THEN {repeated}
                         WHEN not_text <> ''
                         THEN 'a string is needed, not a number, boolean, list or object: '
                              || not_text END AS problem
        FROM extras
        UNION ALL
        SELECT line_no, {", ".join("NULL" for _ in _fields())}, NULL, raw,
               CASE WHEN valid THEN 'not a JSON object (' || lower(kind) || ')'
                 ELSE 'invalid JSON' END
        FROM checked WHERE kind IS DISTINCT FROM 'OBJECT'
    """


def _string(expr: str) -> str:
    """A JSON value that is a string -> its text (`_clean` sends lines where an either-name
    holds any other kind to the careful pass)."""
    return f"CASE WHEN starts_with({expr}, '\"') THEN {expr}->>'$' END"


# Where a clean line's fields are read from, the first name present first (canonical, then
# flat ECS). Both fast readers (DuckDB's for big batches, Polars's for small ones) use it.
_FLAT_SOURCES = {
    "ts_raw": ("ts", "@timestamp"),
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
    "ecs_category": ("event.category",),
    "ecs_type": ("event.type",),
}


def _fast_fields() -> dict[str, str]:
    """`_fields` for a clean line: no nested objects (so no `_inner`, no `source.ip`), and
    the either-names hold strings (so `_scalar` is `_string`)."""

    def f(name: str) -> str:
        read = f'f."{name}"'
        return _string(read) if name in _EITHER else read

    return {
        field: _first(*map(f, names)) if len(names) > 1 else f(names[0])
        for field, names in _FLAT_SOURCES.items()
    }


def _checks(guarded: bool) -> dict[str, str]:
    """What the fast pass learns about a line besides its fields, for `_fast` to judge.

    `object_of_strings`: valid JSON that starts with `{` is an object (`json_transform` gives
    a row of nulls for other JSON, and null for invalid JSON under TRY), and the either-names
    hold a string or nothing. `surplus`: keys beyond the known names with a value; 0 means
    every key is known. More means an unknown key, a null value or a repeated key.
    """
    strings = " AND ".join(f'(f."{k}" IS NULL OR starts_with(f."{k}", \'"\'))' for k in _EITHER)
    present = " + ".join(f'(f."{k}" IS NOT NULL)::INTEGER' for k in KNOWN_KEYS)
    keys = "len(json_keys(raw))"
    return {
        "object_of_strings": f"f IS NOT NULL AND starts_with(raw, '{{') AND {strings}",
        "surplus": f"{f'TRY({keys})' if guarded else keys} - ({present})",
    }


# The usual timestamp, read by DuckDB's cast where it agrees with `%+` (chrono): four-digit
# year, no hour 24, no leap second, at most microseconds. Anything else (offsets, epoch
# seconds, dates the cast refuses) is left to `parse_rfc3339_or_epoch`.
_USUAL_TS = r"[12]\d{3}-\d\d-\d\dT([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?Z"


def _fast_query(guarded: bool) -> str:
    """`guarded`: invalid JSON gives nulls instead of an error (TRY costs a fifth of the
    JSON reading, so a batch is first read without it)."""
    spec = orjson.dumps({k: "JSON" if k in _EITHER else "VARCHAR" for k in KNOWN_KEYS}).decode()
    read = f"json_transform(raw, '{spec}')"
    columns = {**_fast_fields(), **_checks(guarded)}
    picks = ",\n               ".join(f'{sql} AS "{name}"' for name, sql in columns.items())
    # (regexp_matches with ^$ costs a third of regexp_full_match here.)
    return f"""
        SELECT *, CASE WHEN regexp_matches(ts_raw, '^{_USUAL_TS}$')
                    THEN TRY_CAST(ts_raw AS TIMESTAMP) END AS ts
        FROM (
            SELECT line_no, {picks}
            FROM (SELECT line_no, raw, {f"TRY({read})" if guarded else read} AS f FROM lines)
        )
    """


# For lines with a surplus of keys: are they all known names all the same? (list_filter:
# list_has_all with the list of names takes 2.5x as long.)
_NAMES_KNOWN = f"""
    SELECT line_no, len(list_filter(json_keys(raw), lambda k: k NOT IN ({_KNOWN_NAMES}))) = 0
           AS known
    FROM lines
"""

_CAREFUL = _careful_query()
_FAST = _fast_query(guarded=False)
_FAST_GUARDED = _fast_query(guarded=True)


# DuckDB reads an Arrow table one record batch per thread: pieces of this many lines let a
# batch of lines be parsed on all cores.
_PIECE_ROWS = 1 << 14


def _run(engine: duckdb.DuckDBPyConnection, query: str, lines: pl.DataFrame) -> pl.DataFrame:
    # Plain Arrow strings: string views cost Polars twice the time to hand over.
    plain = lines.select("line_no", "raw").to_arrow(compat_level=pl.CompatLevel.oldest())
    pieces = pa.Table.from_batches(plain.to_batches(max_chunksize=_PIECE_ROWS), plain.schema)
    engine.register("lines", pieces)
    try:
        table = pl.from_arrow(engine.sql(query).to_arrow_table())
    finally:
        engine.unregister("lines")
    assert isinstance(table, pl.DataFrame)
    return table


def _fast(engine: duckdb.DuckDBPyConnection, lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """The fast pass: (events of the lines it settles, mask of the lines it does not)."""
    try:
        read = _run(engine, _FAST, lines)
    except (duckdb.Error, UnicodeDecodeError):
        # A line that is not JSON: read again, such lines as nulls. (DuckDB's message quotes
        # the line cut to a length; cut inside a character, it fails to decode instead.)
        read = _run(engine, _FAST_GUARDED, lines)
    # DuckDB keeps the order of rows (preserve_insertion_order), so `raw` need not travel.
    if not read["line_no"].equals(lines["line_no"]):
        raise RuntimeError("DuckDB returned the JSON lines out of order")
    texts = lines["raw"].str.contains(_NON_TEXT_VALUE).not_()
    candidate = read["object_of_strings"].fill_null(False) & texts
    surplus = read["surplus"]
    clean = candidate & (surplus == 0).fill_null(False)
    doubtful = candidate & (surplus != 0).fill_null(False)
    if doubtful.any():  # a null value or a repeated key is fine, an unknown key is not
        rows = doubtful.arg_true()
        known = _run(engine, _NAMES_KNOWN, lines[rows])["known"]
        clean = clean.scatter(rows, known)
    events = read.drop("object_of_strings", "surplus").with_columns(lines["raw"])
    if clean.all():  # the usual batch: no copy of it
        return events, clean.not_()
    return events.filter(clean), clean.not_()


# A flat JSON object of known names, each holding a string or null, exactly (JSON's grammar
# for such an object is regular). Strings may not hold a surrogate escape: a lone one is
# invalid JSON, which the careful pass reports. A line that is this settles in Polars.
_JSON_SPACE = r"[ \t\r\n]*"
_JSON_STRING = (
    r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]'
    r"|\\u(?:[0-9a-cA-CefEF][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}))*\""
)
_FLAT_PAIR = (
    '"(?:' + "|".join(re.escape(name) for name in KNOWN_KEYS) + ')"'
    + f"{_JSON_SPACE}:{_JSON_SPACE}(?:{_JSON_STRING}|null)"
)  # fmt: skip
_FLAT_LINE = (
    rf"^\{{{_JSON_SPACE}(?:{_FLAT_PAIR}(?:{_JSON_SPACE},{_JSON_SPACE}{_FLAT_PAIR})*)?"
    rf"{_JSON_SPACE}\}}[ \t\r]*$"
)
_FLAT_STRUCT = pl.Struct({name: pl.String for name in KNOWN_KEYS})
# Up to this many lines, the fast pass is Polars's: DuckDB's query costs some 20 ms to plan
# and start whatever the batch, ten times Polars's whole read of a 1,000-line push; the two
# meet near 40,000 lines (docs/benchmarks.md, "Issue 15: small batches read by Polars").
# Kept well below that: Polars's pass leaves epoch-second times to the careful one.
_SMALL_BATCH = 4096


def _flat(lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
    """The fast pass of a small batch, as `_fast` gives it: (events of the flat lines, mask
    of the other lines), their timestamps read as `_timestamps` would (in the same select)."""
    flat = lines["raw"].str.contains(_FLAT_LINE)
    rows = lines.filter(flat)
    read = rows["raw"].str.json_decode(_FLAT_STRUCT).struct.unnest()
    fields = {field: pl.coalesce(names) for field, names in _FLAT_SOURCES.items()}
    events = read.select(
        line_no=rows["line_no"],
        **fields,
        ts=parse_rfc3339_or_epoch(fields["ts_raw"]),
        raw=rows["raw"],
    )
    return events, flat.not_()


def _careful(engine: duckdb.DuckDBPyConnection, lines: pl.DataFrame) -> Parsed:
    table = _run(engine, _CAREFUL, lines)
    bad = table.filter(pl.col("problem").is_not_null())
    events = table.filter(pl.col("problem").is_null()).drop("problem")
    return Parsed(events=events, quarantine=bad.select("line_no", "raw", reason="problem"))


def _timestamps(events: pl.DataFrame) -> pl.DataFrame:
    """Fill `ts` where the fast pass left it null, parsing only those rows."""
    missing = events["ts"].is_null() & events["ts_raw"].is_not_null()
    if not missing.any():
        return events
    rows = missing.arg_true()
    todo = events.select(pl.col("ts_raw").gather(rows))
    parsed = todo.select(parse_rfc3339_or_epoch(pl.col("ts_raw")))
    return events.with_columns(events["ts"].clone().scatter(rows, parsed.to_series()))


# A batch whose first lines mostly hold an object (nested ECS) skips the fast pass: it would
# leave them to the careful pass and only add its own cost. A guess from the text, for speed
# alone: either way every line is read right.
_PROBE_ROWS = 2048
_NESTED = r'":\s*\{'


def _worth_a_fast_pass(lines: pl.DataFrame) -> bool:
    nested = lines["raw"].head(_PROBE_ROWS).str.contains(_NESTED).sum()
    return nested * 2 <= min(lines.height, _PROBE_ROWS)


def _no_fast_events() -> pl.DataFrame:
    """The columns `_fast` gives, without a row (and without asking DuckDB)."""
    fields = {name: pl.String for name in _fast_fields()}
    return pl.DataFrame(
        schema={"line_no": pl.Int64, **fields, "ts": pl.Datetime("us"), "raw": pl.String}
    )


def parse(lines: pl.DataFrame, lookahead: pl.DataFrame, context: ParseContext) -> Parsed:
    if lines.height <= _SMALL_BATCH:
        events, unsettled = _flat(lines)
        rest = lines.filter(unsettled)
    elif _worth_a_fast_pass(lines):
        events, unsettled = _fast(engine_of(context), lines)
        rest = lines.filter(unsettled)
    else:
        events, rest = _no_fast_events(), lines
    # A small batch of flat lines needs no DuckDB engine: none is started for it.
    careful = _careful(engine_of(context), rest) if rest.height else Parsed()
    if careful.events.height:
        events = pl.concat(
            [events, careful.events.with_columns(ts=pl.lit(None, pl.Datetime("us")))],
            how="diagonal_relaxed",
        ).sort("line_no")
    events = _timestamps(events.with_columns(seq=pl.lit(0, pl.Int32)))
    events = classified(events, "ecs_category", "ecs_type")
    return Parsed(events=conform(events), quarantine=careful.quarantine, names_required=True)
