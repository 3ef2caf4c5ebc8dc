"""The real OpenSSH log of Loghub, counted by hand (see the comments), loaded for real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers import load, query

# By hand (grep): 518 `Failed password` lines + 2 `message repeated 5 times` lines = 528
# failures; 3 connections with only `Invalid user` (+ `Failed none`) = 3; one PAM failure
# at the end of the excerpt whose `Failed password` line was cut off = 1. Total 532.
FAILURES = 532
SUCCESSES = 1  # Accepted password for fztu
# Connections that never tried to authenticate (by hand, per pid): 10 of the 34 `Connection
# closed by IP [preauth]` lines end a connection that logged nothing else (the other 24
# end one with attempts: its end, no event), and 10 `Did not receive identification
# string`: probes, not failures.
PROBES = 20
INVALID_USER = 138  # 135 `Failed password for invalid user` + 3 `Invalid user` alone
LINES = 2000


def _grep_counts(path: Path) -> tuple[int, int]:
    text = path.read_text()
    failed_lines = len(re.findall(r"\]: Failed password for ", text))
    invalid_failed = len(re.findall(r"\]: Failed password for invalid user ", text))
    return failed_lines, invalid_failed


def test_hand_counts_hold(loghub: Path) -> None:
    failed_lines, invalid_failed = _grep_counts(loghub)
    assert failed_lines == 518
    assert invalid_failed == 135


@pytest.mark.parametrize("batch_bytes", [16 * 1024 * 1024, 7000])
def test_counts(loghub: Path, db: Path, batch_bytes: int) -> None:
    (report,) = load(db, loghub, year=2025, batch_bytes=batch_bytes)
    assert (report.format, report.read, report.quarantined) == ("sshd", LINES, 0)
    assert report.loaded == FAILURES + SUCCESSES + PROBES
    # 525 lines are login events (two of them hold 5 each), 20 are probes
    assert report.skipped == LINES - 525 - PROBES
    rows = dict(query(db, "SELECT coalesce(outcome, event), count(*) FROM events GROUP BY 1"))
    assert rows == {"failure": FAILURES, "success": SUCCESSES, "probe": PROBES}
    (invalid,) = query(db, "SELECT count(*) FROM events WHERE reason = 'unknown_user'")
    assert invalid[0] == INVALID_USER


def test_top_failing_sources(loghub: Path, db: Path) -> None:
    load(db, loghub, year=2025)
    top = query(
        db,
        "SELECT ip, count(*) n FROM events WHERE outcome = 'failure' GROUP BY ip ORDER BY n DESC LIMIT 3",
    )
    assert [ip for ip, _ in top] == ["183.62.140.253", "187.141.143.180", "103.99.0.122"]
    assert [n for _, n in top] == [287, 80, 46]


def test_fields_and_enrichment(loghub: Path, db: Path) -> None:
    load(db, loghub, year=2025)
    (success,) = query(
        db,
        """SELECT "user", ip, ts, country, city, service FROM events WHERE outcome = 'success'""",
    )
    assert success[:2] == ("fztu", "119.137.62.142")
    assert success[2].isoformat() == "2025-12-10T09:32:20"
    assert success[3] == "CN" and success[5] == "ssh"
    repeated = query(db, "SELECT count(*) FROM events WHERE line_no = 30")
    assert repeated == [(5,)]  # `message repeated 5 times` is five attempts


def test_one_attempt_counted_once(loghub: Path, db: Path) -> None:
    """494 PAM failure lines, each followed by its `Failed` line but the last: one counts."""
    load(db, loghub, year=2025)
    lines = loghub.read_text().splitlines()
    pam = [
        n
        for n, line in enumerate(lines, 1)
        if "pam_unix(sshd:auth): authentication failure" in line
    ]
    assert len(pam) == 494
    counted = query(db, f"SELECT line_no FROM events WHERE line_no IN ({', '.join(map(str, pam))})")
    assert counted == [(LINES - 1,)]
