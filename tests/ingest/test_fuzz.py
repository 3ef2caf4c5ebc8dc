"""Hostile input: never a crash, never a lost good line, every line accounted for."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.pipeline import InputError
from tests.helpers import load, query

GOOD = st.builds(
    lambda i, user: orjson.dumps(
        {
            "ts": 1790000000 + i,
            "outcome": "failure",
            "user": user,
            "ip": f"91.152.{i % 250}.{i % 200 + 1}",
        }
    ),
    st.integers(0, 10_000_000),
    # a name of spaces alone is an empty user (quarantined since issue 15), not a good line
    st.text(min_size=1, max_size=30).filter(
        lambda s: "\n" not in s and "\r" not in s and s.strip()
    ),
)
BAD = st.one_of(
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b" ")),
    st.builds(lambda n: b'{"ts": "2026-10-01T06:00:0' + b"x" * n, st.integers(0, 50)),  # truncated
    st.just(b"\xff\xfe\xfa invalid utf-8 \xc3"),
    st.builds(
        lambda ip: orjson.dumps({"ts": 1790000000, "outcome": "failure", "user": "u", "ip": ip}),
        st.text(max_size=40),
    ),
    st.builds(
        lambda ts: orjson.dumps({"ts": ts, "outcome": "failure", "user": "u", "ip": "1.2.3.4"}),
        st.one_of(
            st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True), st.text(max_size=40)
        ),
    ),
    st.just(
        b'{"ts":1790000000,"outcome":"failure","user":"' + b"A" * 300_000 + b'","ip":"1.2.3.4"}'
    ),
)
LINE = st.one_of(GOOD.map(lambda b: (True, b)), BAD.map(lambda b: (False, b)))
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(LINE, min_size=1, max_size=40), st.sampled_from([4096, 1 << 20]))
def test_jsonl_mixture(lines: list[tuple[bool, bytes]], batch_bytes: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "mixed.jsonl"
        source.write_bytes(b"\n".join(raw for _, raw in lines) + b"\n")
        db = Path(folder) / "v.duckdb"
        (report,) = load(db, source, format="jsonl", batch_bytes=batch_bytes)
        assert report.read == len(lines)
        event_lines = {n for (n,) in query(db, "SELECT DISTINCT line_no FROM events")}
        quarantined = {n for (n,) in query(db, "SELECT line_no FROM quarantine")}
        good = {n for n, (ok, _) in enumerate(lines, 1) if ok}
        assert good <= event_lines  # never a lost good line
        assert not event_lines & quarantined
        assert report.read == len(event_lines) + report.skipped + report.quarantined


@SETTINGS
@given(st.binary(max_size=3000), st.sampled_from(["jsonl", "csv", "sshd", "access"]))
def test_random_bytes_any_format(data: bytes, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "noise"
        source.write_bytes(data)
        db = Path(folder) / "v.duckdb"
        try:
            (report,) = load(db, source, format=fmt, year=2026)
        except InputError as exc:  # a CSV whose first line is no header: refused whole
            assert fmt == "csv" and "CSV header" in str(exc)
            assert not db.exists() or query(db, "SELECT count(*) FROM events") == [(0,)]
            return
        events = query(db, "SELECT count(DISTINCT (line_no)) FROM events")[0][0]
        assert report.read == events + report.skipped + report.quarantined


def test_control_characters_are_not_blank(tmp_path: Path) -> None:
    """Python calls \\x1c whitespace; a line of it is a line, and CSV refuses it as a header."""
    source = tmp_path / "odd.csv"
    source.write_bytes(b"\x1c\n")
    try:
        load(tmp_path / "v.duckdb", source, format="csv")
    except InputError as exc:
        assert "CSV header" in str(exc)
    else:
        raise AssertionError("a CSV file without a header was accepted")
