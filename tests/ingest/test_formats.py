"""Each input format through the real pipeline into a real DuckDB file."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.formats import detect
from tests.helpers import load, query

JSONL = """\
{"ts":"2026-10-01T06:00:12.561Z","outcome":"failure","user":"matti.virtanen","ip":"91.152.10.1","reason":"bad_password","ticket":"X-1"}
{"@timestamp":"2026-10-01T09:00:12+03:00","event":{"action":"login","outcome":"success"},"user":{"name":"liisa"},"source":{"ip":"::ffff:84.248.10.1"},"session.id":"abc","user_agent.original":"Firefox"}
{"ts":1790000000,"event":"logout","user":"liisa","ip":"2001:14ba:1::1","session_id":"abc"}
{"ts":"2026-10-01T06:00:12","outcome":"failure","user":"x","ip":"1.2.3.4"}
{"ts":"2026-10-01T06:00:12Z","outcome":"maybe","user":"x","ip":"1.2.3.4"}
{"ts":"2026-10-01T06:00:12Z","outcome":"failure","ip":"1.2.3.4"}
{"ts":"2026-10-01T06:00:12Z","outcome":"failure","user":"x","ip":"999.1.1.1"}
{"ts":"2026-10-01T06:00:12Z","outcome":"failure","user":"x"}
{"ts":"3026-10-01T06:00:12Z","outcome":"failure","user":"x","ip":"1.2.3.4"}
{"ts":"2026-10-01T06:00:12Z","event":"teleport","user":"x","ip":"1.2.3.4"}
{"ts": "2026-10-01T06:00:1
[1, 2]

{"ts":"2026-10-01T06:00:13Z","outcome":"success","user":"pam","host":"dsl.example.fi"}
"""


def test_jsonl_canonical_and_ecs(tmp_path: Path, db: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_text(JSONL)
    (report,) = load(db, source)
    assert (report.read, report.loaded, report.skipped, report.quarantined) == (14, 4, 1, 9)
    rows = query(
        db,
        'SELECT "user", event, outcome, ip, ts, session_id, user_agent, extra, host FROM events ORDER BY line_no',
    )
    assert rows[0][:5] == ("matti.virtanen", "login", "failure", "91.152.10.1", rows[0][4])
    assert json.loads(rows[0][7]) == {"ticket": "X-1"}
    assert rows[1][:4] == ("liisa", "login", "success", "84.248.10.1")  # IPv4-mapped unwrapped
    assert rows[1][4].isoformat() == "2026-10-01T06:00:12"  # offset applied
    assert rows[1][5:7] == ("abc", "Firefox")
    assert rows[2][1:3] == ("logout", None)
    assert rows[3][8] == "dsl.example.fi"
    reasons = [r for (r,) in query(db, "SELECT reason FROM quarantine ORDER BY line_no")]
    assert reasons == [
        "bad timestamp '2026-10-01T06:00:12' (RFC 3339 with an offset, or epoch seconds)",
        "bad outcome 'maybe' (success or failure)",
        "missing user",
        "invalid IP address '999.1.1.1'",
        "missing ip (or host)",
        "timestamp out of range: 3026-10-01 06:00:12.000000",
        "unknown event 'teleport'",
        "invalid JSON",
        "not a JSON object (array)",
    ]


def test_csv(tmp_path: Path, db: Path) -> None:
    source = tmp_path / "events.csv"
    source.write_text(
        "ts,event,outcome,user,customer_id,ip,user_agent,session_id,reason,service,office\n"
        '2026-10-01T06:00:12Z,login,failure,matti,A1,91.152.10.1,"Mozilla (X, Y) ""q""",,bad_password,portal,HKI\n'
        "2026-10-01T06:01:12Z,login,success,matti,A1,91.152.10.1,Firefox,s1,,portal,\n"
        "2026-10-01T06:02:12Z,login,failure,matti\n"
        '2026-10-01T06:03:12Z,login,failure,"matti,91.152.10.1,,,,,\n'
    )
    (report,) = load(db, source)
    assert (report.format, report.read, report.loaded, report.skipped, report.quarantined) == (
        "csv",
        5,
        2,
        1,
        2,
    )
    rows = query(
        db,
        'SELECT "user", customer_id, user_agent, session_id, service, extra FROM events ORDER BY line_no',
    )
    assert rows[0] == ("matti", "A1", 'Mozilla (X, Y) "q"', None, "portal", '{"office":"HKI"}')
    assert rows[1][3] == "s1"
    reasons = [r for (r,) in query(db, "SELECT reason FROM quarantine ORDER BY line_no")]
    assert reasons[0] == "CSV row has 4 fields, header has 11"
    assert reasons[1].startswith("malformed CSV row")


ACCESS = """\
91.152.10.1 - - [01/Oct/2026:09:00:01 +0300] "POST /login HTTP/1.1" 302 0 "https://posti.example/" "Mozilla/5.0"
91.152.10.1 - - [01/Oct/2026:09:00:02 +0300] "POST /login?user=matti.v%C3%A4is%C3%A4nen HTTP/1.1" 200 512 "-" "Mozilla/5.0"
91.152.10.1 - - [01/Oct/2026:09:00:03 +0300] "GET /inbox HTTP/1.1" 200 9000 "-" "Mozilla/5.0"
91.152.10.1 - - [01/Oct/2026:09:00:04 +0300] "GET /login HTTP/1.1" 200 900 "-" "Mozilla/5.0"
this is not a log line
"""


def test_access_log(tmp_path: Path, db: Path) -> None:
    source = tmp_path / "access.log"
    source.write_text(ACCESS)
    from ingest.context import AccessRules

    (report,) = load(db, source, access=AccessRules(user_param="user"))
    assert (report.format, report.read, report.loaded, report.skipped, report.quarantined) == (
        "access",
        5,
        2,
        2,
        1,
    )
    rows = query(db, 'SELECT outcome, "user", reason, ts, extra FROM events ORDER BY line_no')
    assert rows[0][:3] == ("success", "-", None)
    # A form's failure has no reason of the vocabulary: the status that decided it is kept.
    assert rows[1][:3] == ("failure", "matti.väisänen", None)
    assert json.loads(rows[1][4]) == {"http_status": 200, "location": None}
    assert rows[0][3].isoformat() == "2026-10-01T06:00:01"


def test_detect() -> None:
    assert detect(JSONL.encode()) == "jsonl"
    assert detect(ACCESS.encode()) == "access"
    assert detect(b"ts,user,outcome,ip\n") == "csv"
    assert detect(b"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user x from 1.2.3.4\n") == "sshd"
    assert (
        detect(
            b"2026-11-25T10:00:00.123456+02:00 host sshd[5]: Accepted publickey for a from 1.2.3.4 port 5 ssh2\n"
        )
        == "sshd"
    )
    assert detect(b"hello world\nsome text\n") is None


def test_iso_syslog_and_pam_tag(tmp_path: Path, db: Path) -> None:
    source = tmp_path / "auth.log"
    source.write_text(
        "2026-11-25T10:00:00.123456+02:00 mail sshd[5]: Accepted publickey for anna from 91.152.10.1 port 5 ssh2: ED25519 SHA256:x\n"
        "2026-11-25T10:00:01+02:00 mail CRON[7]: pam_unix(cron:session): session opened for user root\n"
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4\n"
        "Jun 14 15:16:02 combo sshd(pam_unix)[19937]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=dsl.example.com  user=root\n"
    )
    (report,) = load(db, source, year=2026, tz="Europe/Helsinki")
    assert (report.loaded, report.skipped, report.quarantined) == (3, 1, 0)
    rows = query(db, 'SELECT "user", ip, host, ts FROM events ORDER BY line_no')
    assert (
        rows[0][:2] == ("anna", "91.152.10.1")
        and rows[0][3].isoformat() == "2026-11-25T08:00:00.123456"
    )
    assert rows[1][:3] == ("", "218.188.2.4", None)
    assert rows[2][:3] == ("root", None, "dsl.example.com")
    assert rows[2][3].isoformat() == "2026-06-14T12:16:02"  # Helsinki summer time, UTC+3


def test_new_year_rollover(tmp_path: Path, db: Path) -> None:
    source = tmp_path / "auth.log"
    source.write_text(
        "Dec 31 23:59:58 h sshd[1]: Failed password for root from 1.2.3.4 port 1 ssh2\n"
        "Jan  1 00:00:01 h sshd[2]: Failed password for root from 1.2.3.4 port 2 ssh2\n"
    )
    load(db, source, year=2025)
    years = [ts.year for (ts,) in query(db, "SELECT ts FROM events ORDER BY line_no")]
    assert years == [2025, 2026]


def test_rollover_across_batches(tmp_path: Path, db: Path) -> None:
    """The year carried from batch to batch, with the lookahead not counted twice."""
    lines = [
        f"Dec 31 23:59:{s:02d} h sshd[{s}]: Failed password for root from 1.2.3.4 port 1 ssh2"
        for s in range(40)
    ]
    lines += [
        f"Jan  1 00:00:{s:02d} h sshd[{100 + s}]: Failed password for root from 1.2.3.4 port 1 ssh2"
        for s in range(40)
    ]
    source = tmp_path / "auth.log"
    source.write_text("\n".join(lines) + "\n")
    load(db, source, year=2025, batch_bytes=4096)
    years = query(db, "SELECT year(ts), count(*) FROM events GROUP BY 1 ORDER BY 1")
    assert years == [(2025, 40), (2026, 40)]


def test_syslog_stamp_with_wider_spacing(tmp_path: Path, db: Path) -> None:
    """Any run of spaces inside a BSD stamp is syslog (the header pattern says `\\s+`): the
    time is read, the line is an event, not skipped as if another program wrote it."""
    source = tmp_path / "auth.log"
    source.write_text(
        "Dec 10  06:55:46 h sshd[1]: Failed password for root from 1.2.3.4 port 1 ssh2\n"
        "Jan  2 06:55:47 h sshd[2]: Failed password for root from 1.2.3.4 port 2 ssh2\n"
    )
    (report,) = load(db, source, year=2025)
    assert (report.loaded, report.skipped, report.quarantined) == (2, 0, 0)
    stamps = [ts.isoformat() for (ts,) in query(db, "SELECT ts FROM events ORDER BY line_no")]
    assert stamps == ["2025-12-10T06:55:46", "2026-01-02T06:55:47"]
