"""Bounded input: a line too long to be a login, a field longer than any real one, an empty
user name. Each is quarantined with its reason and a bounded copy; the lines around load."""

from __future__ import annotations

from pathlib import Path

import orjson

from ingest.canonical import MAX_LINE_BYTES
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
