"""Erasure removes the person and only the person: a name inside another name is someone
else's; a customer number brings the account's user names along; a refusal names only the
holds that cover the person; a parser's carry-over forgets the name too."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import orjson

from tests.conftest import run_cli
from tests.helpers import query

START = datetime(2026, 11, 2, 8, 0)


def _line(minute: float, user: str, outcome: str, ip: str, **more: str) -> bytes:
    ts = (START + timedelta(minutes=minute)).isoformat() + "Z"
    return orjson.dumps({"ts": ts, "user": user, "outcome": outcome, "ip": ip, **more}) + b"\n"


def _hammered(user: str, ip: str, at: float, **more: str) -> bytes:
    """25 failed logins in five minutes, then one that works: a brute force alert."""
    failures = b"".join(_line(at + i * 0.2, user, "failure", ip, **more) for i in range(25))
    return failures + _line(at + 5.5, user, "success", ip, **more)


def _world(tmp_path: Path) -> Path:
    db = tmp_path / "vahti.duckdb"
    log = tmp_path / "portal.jsonl"
    log.write_bytes(
        _hammered("joanna", "203.0.113.7", 0)
        + _hammered("ann", "203.0.113.8", 60, customer_id="C-1001", session_id="sess-ann-42")
        + _line(200, "ann", "success", "198.51.100.4")  # no customer number on this one
        + _line(201, "ann.smith", "success", "198.51.100.5")
        + b'{"ts": "2026-11-02T11:00:00Z", "user": "joanna", "outcome": "maybe", "ip": "192.0.2.1"}\n'
        + b'{"ts": "2026-11-02T11:00:00Z", "user": "ann", "outcome": "maybe", "ip": "192.0.2.1"}\n'
    )  # fmt: skip
    assert run_cli("ingest", str(log), "--detect", "--db", str(db)).returncode == 0
    return db


def _summaries(db: Path) -> list[str]:
    return [row[0] for row in query(db, "SELECT summary FROM alerts ORDER BY summary")]


def test_a_name_inside_another_name_is_someone_elses(tmp_path: Path) -> None:
    db = _world(tmp_path)
    before = [s for s in _summaries(db) if "joanna" in s]
    assert before and any("ann" in s and "joanna" not in s for s in _summaries(db))
    erased = run_cli("subject", "erase", "--user", "ann", "--json", "--db", str(db))
    assert erased.returncode == 0, erased.stderr
    assert [s for s in _summaries(db) if "joanna" in s] == before
    assert query(db, "SELECT count(*) FROM quarantine WHERE contains(raw, 'joanna')") == [(1,)]
    assert query(db, "SELECT count(*) FROM events WHERE \"user\" = 'ann.smith'") == [(1,)]
    assert query(db, "SELECT count(*) FROM events WHERE \"user\" = 'ann'") == [(0,)]
    assert not any(" ann " in f" {s} " for s in _summaries(db))


def test_a_customer_number_erases_the_accounts_name_everywhere(tmp_path: Path) -> None:
    db = _world(tmp_path)
    report = run_cli("subject", "report", "--customer-id", "C-1001", "--json", "--db", str(db))
    assert len(orjson.loads(report.stdout)["events"]) == 27  # with the one without a number
    erased = run_cli("subject", "erase", "--customer-id", "C-1001", "--json", "--db", str(db))
    assert erased.returncode == 0, erased.stderr
    assert orjson.loads(erased.stdout)["alerts"] >= 1
    assert query(db, "SELECT count(*) FROM events WHERE \"user\" = 'ann'") == [(0,)]
    assert query(db, "SELECT count(*) FROM alerts WHERE entity IN ('ann', 'sess-ann-42')") == [(0,)]
    assert not any("sess-ann-42" in s or " ann " in f" {s} " for s in _summaries(db))
    assert query(db, "SELECT count(*) FROM events WHERE \"user\" = 'joanna'") == [(26,)]


def test_a_refusal_names_only_the_holds_that_cover_the_person(tmp_path: Path) -> None:
    db = _world(tmp_path)
    for user in ("joanna", "ann"):
        held = run_cli("hold", "add", "--user", user, "--reason", "case 9", "--db", str(db))
        assert held.returncode == 0, held.stderr
    refused = run_cli("subject", "erase", "--user", "ann", "--db", str(db))
    assert refused.returncode == 1 and "legal hold 2 covers" in refused.stderr, refused.stderr


def test_a_parsers_carry_over_forgets_the_name(tmp_path: Path) -> None:
    db = tmp_path / "vahti.duckdb"
    log = tmp_path / "auth.log"
    log.write_text(
        "Nov  2 08:00:00 host sshd[7]: Failed password for zqkallemarker from 192.0.2.50 "
        "port 22 ssh2\n"
    )
    assert run_cli("ingest", str(log), "--year", "2026", "--db", str(db)).returncode == 0
    assert b"zqkallemarker" in db.read_bytes()
    erased = run_cli("subject", "erase", "--user", "zqkallemarker", "--db", str(db))
    assert erased.returncode == 0, erased.stderr
    assert b"zqkallemarker" not in db.read_bytes()
