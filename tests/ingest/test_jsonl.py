"""JSONL: the fast pass settles clean lines exactly as the careful pass would have.

The careful pass alone, with `parse_rfc3339_or_epoch` on every timestamp, is how every line
was read before the fast pass existed: it is the reference here.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ingest import jsonl
from ingest.canonical import conform
from ingest.context import ParseContext, engine_of
from ingest.event_kinds import classified
from ingest.normalise import validate
from ingest.timestamps import parse_rfc3339_or_epoch
from tests.helpers import load, query


def _context() -> ParseContext:
    return ParseContext(format="jsonl", mtime=datetime(2026, 10, 1))


def _lines(raws: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"line_no": range(1, len(raws) + 1), "raw": raws},
        schema={"line_no": pl.Int64, "raw": pl.String},
    )


def _reference(lines: pl.DataFrame, context: ParseContext) -> tuple[pl.DataFrame, pl.DataFrame]:
    careful = jsonl._careful(engine_of(context), lines)
    events = careful.events.with_columns(
        seq=pl.lit(0, pl.Int32), ts=parse_rfc3339_or_epoch(pl.col("ts_raw"))
    ).sort("line_no")
    events = classified(events, "ecs_category", "ecs_type")
    return conform(events), careful.quarantine.sort("line_no")


# How DuckDB's fast pass may be run (a big batch takes it; a small one takes Polars's): as
# is, with the lines handed over in pieces of two (read by several threads at once), and with
# the first line deciding whether the batch takes it at all.
_DUCKDB_WAYS = {"whole": {}, "pieces": {"_PIECE_ROWS": 2}, "probe": {"_PROBE_ROWS": 1}}


def _same_as_reference(
    raws: list[str], ways: tuple[str, ...] = tuple(_DUCKDB_WAYS)
) -> pl.DataFrame:
    """Parse `raws` by Polars's fast pass and by DuckDB's in each of `ways`, and by the
    careful pass alone; insist on the same events and quarantine; the events."""
    lines = _lines(raws)
    context = _context()
    results = [jsonl.parse(lines, lines.head(0), context)]
    for way in ways:
        knobs = {"_SMALL_BATCH": 0, **_DUCKDB_WAYS[way]}
        saved = {name: getattr(jsonl, name) for name in knobs}
        try:
            for name, value in knobs.items():
                setattr(jsonl, name, value)
            results.append(jsonl.parse(lines, lines.head(0), context))
        finally:
            for name, value in saved.items():
                setattr(jsonl, name, value)
    events, quarantine = _reference(lines, context)
    assert context.engine is not None
    context.engine.close()
    for result in results:
        assert_frame_equal(result.events, events)
        assert_frame_equal(result.quarantine.sort("line_no"), quarantine)
    return results[0].events


def _settled(raws: list[str]) -> list[bool]:
    """Which lines DuckDB's fast pass settles."""
    lines = _lines(raws)
    context = _context()
    _, unsettled = jsonl._fast(engine_of(context), lines)
    assert context.engine is not None
    context.engine.close()
    return (~unsettled).to_list()


def _flat(raws: list[str]) -> list[bool]:
    """Which lines Polars's fast pass settles."""
    return (~jsonl._flat(_lines(raws))[1]).to_list()


CANONICAL = {
    "ts": "2026-10-01T06:00:12.561Z",
    "event": "login",
    "outcome": "failure",
    "user": "matti",
    "customer_id": "A1",
    "ip": "91.152.10.1",
    "user_agent": "Mozilla/5.0",
    "session_id": "s1",
}


def _line(**changes: object) -> str:
    return json.dumps({**CANONICAL, **changes})


def test_chunk_mixing_clean_and_other_lines() -> None:
    raws = [
        _line(),
        _line(user="liisa", ts="2026-10-01T06:00:13Z"),
        '{"ts": "2026-10-01T06:00:1',  # invalid JSON
        _line(ticket="X-1"),  # unknown key: kept in extra
        json.dumps(
            {
                "@timestamp": "2026-10-01T09:00:12+03:00",
                "event": {"action": "login", "outcome": "success"},
                "user": {"name": "liisa"},
                "source": {"ip": "84.248.10.1"},
            }
        ),
        "[1, 2]",
        _line(ts=1790000000),  # epoch seconds: parsed after the fast pass
        '{"ts": "2026-10-01T06:00:14Z", "user.name": "pam", "source.ip": "1.2.3.4"}',
        _line(user='user:with "quotes" and {braces}'),
    ]
    assert _settled(raws) == [True, True, False, False, False, False, True, True, True]
    # Polars's pass settles only strings and nulls: epoch seconds go to the careful pass
    assert _flat(raws) == [True, True, False, False, False, False, False, True, True]
    events = _same_as_reference(raws)
    assert events["line_no"].to_list() == [1, 2, 4, 5, 7, 8, 9]
    assert events["user"].to_list() == [
        "matti", "liisa", "matti", "liisa", "matti", "pam", 'user:with "quotes" and {braces}'
    ]  # fmt: skip
    assert json.loads(events["extra"][2]) == {"ticket": "X-1"}
    assert events["ts"][0] == datetime(2026, 10, 1, 6, 0, 12, 561000)
    assert events["ts"][3] == datetime(2026, 10, 1, 6, 0, 12)  # +03:00 applied
    assert events["ts"][4] == datetime(2026, 9, 21, 14, 13, 20)


def test_lines_the_fast_pass_leaves_to_the_careful_one() -> None:
    raws = [
        _line(event=1e-7),  # a number where ECS may have an object: careful formatting
        _line(host={}),
        _line(user=None),  # null value: keys are compared by name, still settled
        '{"ts": "a", "ts": "b", "user": "x"}',  # a repeated known key: settled the same way
        ' {"ts": "2026-10-01T06:00:12Z"}',  # leading space: left to the careful pass
        '{"\\u0074s": "2026-10-01T06:00:12Z"}',  # an escaped known key is still known
        "null",
        '"text"',
        "5",
    ]
    assert _settled(raws) == [False, False, True, True, False, True, False, False, False]
    assert _flat(raws) == [False, False, True, True, False, False, False, False, False]
    _same_as_reference(raws)


def test_what_polars_fast_pass_settles_is_exactly_flat_json_of_known_names() -> None:
    raws = [
        '{"user": "a\\u0000b", "ip": "1.2.3.4"}',  # an escaped NUL is a character like any
        '{"user": "\\u00e9\\/\\b\\f\\n\\"q\\""}',  # every escape JSON has
        '{"user": "\\ud83d\\ude00"}',  # a surrogate pair: left to DuckDB
        '{"user": "\\ud800"}',  # a lone surrogate is invalid JSON
        '{"user": "a\tb"}',  # a raw control character is invalid JSON
        '{"user": "a",}',
        '{"user" "a"}',
        '{"user": "a"} {"user": "b"}',
        '{"user": "a"}\t ',
        "{ }",
        '{"user": nul}',
        '{"user": "a", "ip": {"x": 1}}',
    ]
    assert _flat(raws) == [True, True, False, False, False, False, False, False, True, True,
                           False, False]  # fmt: skip
    events = _same_as_reference(raws)
    assert events["user"].to_list()[:2] == ["a\x00b", '\u00e9/\x08\x0c\n"q"']


def test_unusual_timestamps_fall_back_to_the_full_parser() -> None:
    stamps = [
        "2026-10-01T06:00:12Z",
        "2026-10-01T06:00:12.1Z",
        "2026-10-01T06:00:12.123456Z",
        "2026-10-01T06:00:12.1234567Z",  # nanoseconds: not the usual shape
        "2026-10-01T24:00:00Z",  # DuckDB would read this as the next day
        "2026-10-01T23:59:60Z",  # leap second
        "2026-02-29T06:00:12Z",  # no such day in 2026
        "2026-10-01T06:00:12z",
        "2026-10-01 06:00:12Z",
        "2026-10-01T06:00:12+00:00",
        " 2026-10-01T06:00:12Z",
        "0999-10-01T06:00:12Z",
        "1790000000.5",
    ]
    _same_as_reference([_line(ts=stamp) for stamp in stamps])


# Strategies for the differential test: known and unknown names, every kind of JSON value,
# timestamps close to the usual shape, and lines that are no JSON object at all.
_NAMES = st.sampled_from([*jsonl.KNOWN_KEYS, "source", "session", "http", "ticket", "Event", ""])
_DIGITS = st.integers(0, 99).map(lambda n: f"{n:02d}")
_STAMP = st.builds(
    lambda year, month, day, hour, minute, second, fraction, zone: (
        f"{year:04d}-{month}-{day}T{hour}:{minute}:{second}{fraction}{zone}"
    ),
    st.sampled_from([999, 1969, 1970, 2024, 2026, 2099, 2100, 3026]),
    _DIGITS,
    _DIGITS,
    _DIGITS,
    _DIGITS,
    _DIGITS,
    st.one_of(st.just(""), st.text("0123456789", max_size=8).map(lambda d: "." + d)),
    st.sampled_from(["Z", "z", "", "+03:00", "-00:00", " "]),
)
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["login", "logout", "success", "failure", "{", "[1]", '"', ":", "\\"]),
    _STAMP,
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(["action", "outcome", "name", "original", "ip", "id", "x"]),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=5,
)
_OBJECT = st.dictionaries(_NAMES, _VALUE, max_size=8)


def _dumped(obj: dict[str, object], style: int) -> str:
    # NaN and Infinity too (DuckDB reads them), with and without \u escapes, any spacing
    separators = [(", ", ": "), (",", ":"), (" ,\t", " :  ")][style % 3]
    return json.dumps(obj, ensure_ascii=style >= 3, separators=separators)


_RAW = st.one_of(
    st.builds(_dumped, _OBJECT, st.integers(0, 5)),
    st.builds(_dumped, _OBJECT, st.integers(0, 5)).map(lambda s: s[: len(s) // 2]),
    st.text(max_size=40),
    st.sampled_from(["[]", "{}", "null", "true", "1", '"x"', "{,}", '{"a":1,}']),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_RAW, min_size=1, max_size=30), st.sampled_from(list(_DUCKDB_WAYS)))
def test_fast_pass_agrees_with_the_careful_pass(raws: list[str], way: str) -> None:
    """Each example: Polars's pass, one way of DuckDB's (drawn), the careful pass."""
    raws = [raw for raw in raws if "\n" not in raw and raw.strip(" \t\r")]
    if raws:
        _same_as_reference(raws, (way,))


def test_nested_batch_skips_the_fast_pass_with_its_columns() -> None:
    """A batch of nested ECS objects goes to the careful pass alone; the empty frame that
    stands for the fast pass has the columns the fast pass would give."""
    assert (
        jsonl._no_fast_events().schema == jsonl._fast(engine_of(_context()), _lines([]))[0].schema
    )
    nested = json.dumps(
        {"@timestamp": "2026-10-01T08:00:00Z", "event": {"outcome": "failure"},
         "user": {"name": "liisa"}, "source": {"ip": "91.152.1.2"}}
    )  # fmt: skip
    assert not jsonl._worth_a_fast_pass(_lines([nested] * 3))
    parsed = jsonl.parse(_lines([nested] * 3), _lines([]), _context())
    assert parsed.events["user"].to_list() == ["liisa"] * 3
    assert parsed.events["ip"].to_list() == ["91.152.1.2"] * 3


def test_file_with_a_broken_line_among_clean_ones(tmp_path: Path, db: Path) -> None:
    """Through the pipeline: small batches, each mixing clean lines with one broken line."""
    source = tmp_path / "events.jsonl"
    lines = [
        _line(user=f"u{i}", ts=f"2026-10-01T06:{i // 60:02d}:{i % 60:02d}Z") for i in range(300)
    ]
    lines[150] = lines[150][:-5]
    lines[151] = _line(user="u151", ticket="T")
    source.write_text("\n".join(lines) + "\n")
    (report,) = load(db, source, batch_bytes=4096)
    assert (report.read, report.loaded, report.quarantined) == (300, 299, 1)
    assert query(db, "SELECT line_no, reason FROM quarantine") == [(151, "invalid JSON")]
    assert query(db, "SELECT count(*), count(extra) FROM events") == [(299, 1)]
    users = [u for (u,) in query(db, 'SELECT "user" FROM events ORDER BY line_no')]
    assert users == [f"u{i}" for i in range(300) if i != 150]


def test_a_repeated_name_with_an_unknown_one_holds_that_line_only(tmp_path: Path, db: Path) -> None:
    """`{"user": "a", "user": "b", "ticket": 1}` cannot keep its extras as a map: the line
    is quarantined with the reason; the file's other lines load."""
    source = tmp_path / "events.jsonl"
    repeated = _line(user="a", ticket=1).replace('"user": "a"', '"user": "a", "user": "b"')
    assert repeated.count('"user"') == 2
    source.write_text("\n".join([_line(user="before"), repeated, _line(user="after")]) + "\n")
    (report,) = load(db, source)
    assert (report.loaded, report.quarantined) == (2, 1)
    ((line_no, reason),) = query(db, "SELECT line_no, reason FROM quarantine")
    assert line_no == 2 and "repeats" in reason


# Real ECS values, as Elastic's modules and integrations write them.
ECS_LINES: list[tuple[dict[str, object], str, str | None]] = [
    # Filebeat's system module (auth.log): nested, category and type arrays.
    ({"event": {"action": "ssh_login", "category": ["authentication", "session"],
                "type": ["start"], "outcome": "failure"}}, "login", "failure"),
    # Auditbeat's login dataset.
    ({"event": {"action": "user_login", "category": ["authentication"], "type": ["start"],
                "outcome": "success"}}, "login", "success"),
    # Winlogbeat (4624, 4625): the outcome in the action's words.
    ({"event": {"action": "logged-in", "category": ["authentication"], "type": ["start"],
                "outcome": "success"}}, "login", "success"),
    ({"event": {"action": "logon-failed", "category": ["authentication"],
                "type": ["start"]}}, "login", "failure"),
    # Okta and CloudTrail: an action of their own, the category says what it is.
    ({"event": {"action": "user.session.start", "category": ["authentication"],
                "type": ["start"], "outcome": "success"}}, "login", "success"),
    ({"event.action": "ConsoleLogin", "event.category": ["authentication"],
      "event.outcome": "failure"}, "login", "failure"),
    ({"event.action": "ConsoleLogin", "event.category": "authentication",
      "event.outcome": "success"}, "login", "success"),
    ({"event": {"action": "user_logout", "category": ["authentication"], "type": ["end"]}},
     "logout", None),
    # No action: category and type alone.
    ({"event": {"category": ["authentication"], "type": ["start"], "outcome": "failure"}},
     "login", "failure"),
    ({"event": {"category": ["session"], "type": ["end"], "outcome": "unknown"}}, "logout", None),
    # Other systems' own words in the canonical field.
    ({"event": "authentication_failure"}, "login", "failure"),
    ({"event": "Password-Changed"}, "password_change", None),
    ({"event": "mfa_challenge", "outcome": "failure"}, "mfa", "failure"),
]  # fmt: skip


def test_ecs_meanings_become_the_contracts_kinds() -> None:
    raws = []
    for fields, _, _ in ECS_LINES:
        record = {"@timestamp": "2026-03-06T16:14:13Z", "user.name": "u", "source.ip": "192.0.2.1"}
        raws.append(json.dumps({**record, **fields}))
    events = _same_as_reference(raws)
    valid, bad = validate(events)
    assert bad.height == 0, bad["reason"].to_list()
    got = list(zip(valid["event"], valid["outcome"], strict=True))
    assert got == [(kind, outcome) for _, kind, outcome in ECS_LINES]


def test_an_ecs_event_of_another_category_is_quarantined_by_its_action() -> None:
    raw = json.dumps({
        "@timestamp": "2026-03-06T16:14:13Z", "user.name": "u", "source.ip": "192.0.2.1",
        "event": {"action": "file-created", "category": ["file"], "type": ["creation"]},
    })  # fmt: skip
    _, bad = validate(_same_as_reference([raw]))
    assert bad["reason"].to_list() == ["unknown event 'file-created'"]


def test_a_number_where_a_string_belongs_is_quarantined_not_coerced(
    tmp_path: Path, db: Path
) -> None:
    """`"user": 12345` used to become the user "12345". Flat, dotted and nested names alike;
    a time may be epoch seconds and ECS's category a list; a name quoted inside a string
    value is text."""
    base = {"ts": "2026-10-01T06:00:00Z", "outcome": "failure", "ip": "192.0.2.1"}
    wrong = [
        {**base, "user": 12345},
        {**base, "user": "a", "customer_id": 4711},
        {**base, "user": "b", "ip": 3232235777},
        {**base, "user": "c", "outcome": True},
        {**base, "user": "d", "session_id": ["s"]},
        {**base, "user.name": 5},
        {**base, "user": {"name": 6}},
        {**base, "user": "e", "source": {"ip": 7}},
        {**base, "user": "f", "event": {"outcome": 0}},
    ]
    right = [
        {**base, "user": "g", "ts": 1790000000},
        {**base, "user": "h", "reason": 'said ,"user": 5 here'},
        {**base, "user": "i", "event.category": ["authentication"]},
        {**base, "user": "j", "customer_id": "4711"},
    ]
    source = tmp_path / "events.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in [*wrong, *right]))
    (report,) = load(db, source)
    assert (report.loaded, report.quarantined) == (len(right), len(wrong))
    named = [r for (r,) in query(db, "SELECT reason FROM quarantine ORDER BY line_no")]
    assert all(r.startswith("a string is needed") for r in named), named
    assert [r.rsplit(": ", 1)[1] for r in named] == [
        "user", "customer_id", "ip", "outcome", "session_id", "user.name", "user.name",
        "source.ip", "event.outcome",
    ]  # fmt: skip
    users = [u for (u,) in query(db, 'SELECT "user" FROM events ORDER BY line_no')]
    assert users == ["g", "h", "i", "j"]
