"""Bounded input: a line too long to be a login, a field longer than any real one, an empty
user name. Each is quarantined with its reason and a bounded copy; the lines around load."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import orjson
import polars as pl

from ingest.canonical import MAX_LINE_BYTES
from ingest.lines import read_chunks
from tests.helpers import load, query

GOOD = {"ts": "2026-11-02T08:00:00Z", "outcome": "success", "user": "liisa", "ip": "192.0.2.8"}


def test_an_oversized_line_and_fields_are_quarantined_and_the_rest_loads(
    tmp_path: Path, db: Path
) -> None:
    records = [
        GOOD,
        {**GOOD, "user": "A" * 3_000_000},  # a 3 MB line
        {**GOOD, "user": "B" * 257},
        {**GOOD, "host": "h" * 256, "ip": None},
        {**GOOD, "user": ""},
        {**GOOD, "customer_id": "C" * 300},
        GOOD,
    ]
    source = tmp_path / "portal.jsonl"
    source.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    (report,) = load(db, source)
    assert (report.loaded, report.quarantined) == (2, 5)
    rows = query(db, "SELECT line_no, reason, length(raw) FROM quarantine ORDER BY line_no")
    assert [(n, r.split(" (")[0]) for n, r, _ in rows] == [
        (2, f"line longer than {MAX_LINE_BYTES} bytes"),
        (3, "user longer than 256 characters"),
        (4, "host longer than 255 characters"),
        (5, "empty user"),
        (6, "customer_id longer than 256 characters"),
    ]
    assert max(size for _, _, size in rows) <= MAX_LINE_BYTES
    assert query(db, 'SELECT max(length("user")) FROM events') == [(5,)]


def test_a_syslog_line_without_a_user_name_still_counts(tmp_path: Path, db: Path) -> None:
    """PAM writes `rhost=` without `user=` for names it does not know: a failure from that
    source, not a broken record."""
    source = tmp_path / "auth.log"
    source.write_text(
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 "
        "euid=0 tty=NODEVssh ruser= rhost=218.188.2.4\n"
    )
    (report,) = load(db, source, year=2026)
    assert (report.loaded, report.quarantined) == (1, 0)


def test_a_runaway_line_is_read_as_its_head_and_the_file_resumes_after_it(
    tmp_path: Path, db: Path
) -> None:
    """A line without a newline for megabytes is dropped as it is read (a 200 MB line took
    3 minutes and 1.9 GB whole): its true size is still in the reason, the chunk offsets
    still add up, so the next run reads only what was appended."""
    runaway = orjson.dumps({**GOOD, "user": "é" * 1_500_000})  # 3 MB, two bytes a character
    source = tmp_path / "portal.jsonl"
    source.write_bytes(orjson.dumps(GOOD) + b"\n" + runaway + b"\n" + orjson.dumps(GOOD) + b"\n")
    (report,) = load(db, source)
    assert (report.loaded, report.quarantined) == (2, 1)
    ((reason, kept),) = query(db, "SELECT reason, length(raw) FROM quarantine")
    assert reason == f"line longer than {MAX_LINE_BYTES} bytes ({len(runaway)} bytes)"
    assert kept == MAX_LINE_BYTES // 4
    with source.open("ab") as more:
        more.write(orjson.dumps({**GOOD, "user": "toinen"}) + b"\n" + runaway)  # no newline
    (again,) = load(db, source)
    assert (again.loaded, again.quarantined) == (1, 1)
    assert query(db, "SELECT count(*) FROM events") == [(3,)]
    sizes = query(db, "SELECT reason FROM quarantine ORDER BY line_no")
    assert sizes[-1] == (f"line longer than {MAX_LINE_BYTES} bytes ({len(runaway)} bytes)",)


def test_chunks_cover_the_file_exactly_around_a_runaway_line(tmp_path: Path) -> None:
    data = b"a\n" + b"x" * 1_000_000 + b"\r\nb\n" + b"y" * 700_000
    path = tmp_path / "f.log"
    path.write_bytes(data)
    with path.open("rb") as handle:
        chunks = list(read_chunks(handle, 0, 1, batch_bytes=64 * 1024, lookahead_bytes=256))
    assert chunks[0].start == 0 and chunks[-1].end == len(data)
    assert all(a.end == b.start for a, b in pairwise(chunks))
    cut_short = {n: size for c in chunks for n, size in c.cut_short.items()}
    assert cut_short == {2: 1_000_001, 4: 700_000}  # the first with its \r
    lines = pl.concat([c.lines for c in chunks])
    assert lines["line_no"].to_list() == [1, 2, 3, 4]
    assert lines["raw"].to_list()[::2] == ["a", "b"]
