"""Erasure removes the person and only the person: a name inside another name is someone
else's; a customer number brings the account's user names along; a refusal names only the
holds that cover the person; a parser's carry-over forgets the name too."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

import privacy.purge
from privacy.purge import purge
from store import open_store
from store.audit import AuditTrail
from store.compaction import compaction_owed, owe_compaction
from tests.conftest import run_cli
from tests.helpers import query
from vahti.privacy_cli import policy_of
from vahti.settings import load_settings
from vahti.shell import now_utc

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


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _alert_of(db: Path, user: str) -> str:
    found = query(db, f"SELECT alert_id FROM alerts WHERE entity = {_quoted(user)} LIMIT 1")
    return str(found[0][0])


def test_neighbours_in_any_script_and_common_words_are_left_alone(tmp_path: Path) -> None:
    """`ann` beside `annä`, `jöann`, `o'ann`, `ann:x`; a user named `from` or `00` beside
    notes and JSON lines that hold those words (an independent review's cases)."""
    db = tmp_path / "vahti.duckdb"
    log = tmp_path / "portal.jsonl"
    names = ["ann", "annä", "jöann", "o'ann", "ann:x", "from", "00", "bob"]
    body = b"".join(_hammered(n, f"203.0.113.{i + 1}", i * 60) for i, n in enumerate(names))
    garbage = b"".join(
        b'{"ts": "2026-11-02T11:00:00Z", "user": "' + n.encode() + b'", "outcome": "maybe"}\n'
        for n in names
    )
    log.write_bytes(body + garbage)
    assert run_cli("ingest", str(log), "--detect", "--db", str(db)).returncode == 0
    note = "checked from the VPN at 10:00:00; ann and annä both called"
    for user in ("annä", "bob"):
        assert run_cli("alerts", "ack", _alert_of(db, user), "--note", note, "--db", str(db)
                       ).returncode == 0  # fmt: skip
    for user in ("ann", "from", "00"):
        erased = run_cli("subject", "erase", "--user", user, "--db", str(db))
        assert erased.returncode == 0, erased.stderr
    left = {row[0] for row in query(db, 'SELECT DISTINCT "user" FROM events')}
    assert left == {"annä", "jöann", "o'ann", "ann:x", "bob"}
    assert query(db, "SELECT count(*) FROM quarantine") == [(5,)]
    bob = query(db, f"SELECT change FROM alert_history WHERE alert_id = '{_alert_of(db, 'bob')}'")
    assert orjson.loads(bob[0][0])["note"] == note  # not about any erased person
    for user in ("annä", "jöann", "o'ann", "ann:x"):
        ((summary,),) = query(db, f"SELECT summary FROM alerts WHERE entity = {_quoted(user)}")
        assert user in summary


def test_names_that_are_json_keys_or_parser_words_break_nothing(tmp_path: Path) -> None:
    """Users named `note`, `value`, `UTC`, `[`: the triage notes keep their key, the sshd
    state its time zone, and the next ingest of the log carries on."""
    db = tmp_path / "vahti.duckdb"
    log = tmp_path / "auth.log"
    lines = [f"Nov  2 08:00:0{i} host sshd[{i}]: Failed password for {n} from 192.0.2.{i} "
             "port 22 ssh2\n" for i, n in enumerate(["note", "value", "UTC", "[", "bob"], 1)]  # fmt: skip
    log.write_text("".join(lines))
    assert run_cli("ingest", str(log), "--year", "2026", "--db", str(db)).returncode == 0
    portal = tmp_path / "portal.jsonl"
    portal.write_bytes(_hammered("note", "203.0.113.9", 0) + _hammered("bob", "203.0.113.8", 30))
    assert run_cli("ingest", str(portal), "--detect", "--db", str(db)).returncode == 0
    for user in ("note", "bob"):
        assert run_cli("alerts", "ack", _alert_of(db, user), "--note", "a note", "--db", str(db)
                       ).returncode == 0  # fmt: skip
    for user in ("note", "value", "UTC", "["):
        erased = run_cli("subject", "erase", "--user", user, "--db", str(db))
        assert erased.returncode == 0, (user, erased.stderr)
    changes = [orjson.loads(c) for (c,) in query(db, "SELECT change FROM alert_history")]
    assert all("note" in c for c in changes)
    states = [orjson.loads(s) for (s,) in query(db, "SELECT parse_state FROM sources "
                                                    "WHERE parse_state IS NOT NULL")]  # fmt: skip
    assert any(s.get("tz") == "UTC" for s in states), states
    with log.open("a") as more:
        more.write("Nov  2 08:01:00 host sshd[9]: Failed password for carol from 192.0.2.9 "
                   "port 22 ssh2\n")  # fmt: skip
    again = run_cli("ingest", str(log), "--year", "2026", "--db", str(db))
    assert again.returncode == 0, again.stderr
    assert query(db, "SELECT count(*) FROM events WHERE \"user\" = 'carol'") == [(1,)]


def test_a_held_quarantined_line_stops_the_erasure(tmp_path: Path) -> None:
    db = _world(tmp_path)
    shared = tmp_path / "q.log"
    shared.write_text("shared garbage naming ann and joanna\n")
    assert run_cli("ingest", str(shared), "--format", "jsonl", "--db", str(db)).returncode == 0
    held = run_cli("hold", "add", "--user", "joanna", "--reason", "case 9", "--db", str(db))
    assert held.returncode == 0, held.stderr
    refused = run_cli("subject", "erase", "--user", "ann", "--db", str(db))
    assert refused.returncode == 1 and "legal hold 1 covers" in refused.stderr, refused.stderr
    assert query(db, "SELECT count(*) FROM quarantine WHERE contains(raw, 'shared')") == [(1,)]


def test_a_user_named_like_a_json_key_or_with_a_short_session_keeps_to_their_own_lines(
    tmp_path: Path,
) -> None:
    """Erasing `ts` took every quarantined JSON line (`"ts":` is a key in each); a short
    session id `42` took a line with `"port": "42"`."""
    db = tmp_path / "vahti.duckdb"
    log = tmp_path / "portal.jsonl"
    log.write_bytes(
        _line(0, "ts", "success", "198.51.100.1", session_id="42")
        + b'{"ts": "not-a-time", "user": "carol", "outcome": "failure", "ip": "192.0.2.1"}\n'
        + b'{"ts": "not-a-time", "user": "dave", "port": "42", "outcome": "x", "ip": "192.0.2.2"}\n'
        + b'{"ts": "not-a-time", "user": "ts", "outcome": "failure", "ip": "192.0.2.3"}\n'
    )
    assert run_cli("ingest", str(log), "--db", str(db)).returncode == 0
    erased = run_cli("subject", "erase", "--user", "ts", "--json", "--db", str(db))
    assert erased.returncode == 0, erased.stderr
    assert orjson.loads(erased.stdout)["quarantined_lines"] == 1
    kept = [row[0] for row in query(db, "SELECT raw FROM quarantine ORDER BY line_no")]
    assert len(kept) == 2 and '"carol"' in kept[0] and '"dave"' in kept[1]


def test_an_erasure_while_a_purge_runs_still_leaves_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The purge settled the compaction debt the erasure wrote meanwhile (nothing of its
    own was due), so the erased rows stayed in the file: now it compacts for it."""
    db = _world(tmp_path)
    with open_store(db) as store:
        events = store.con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        real = privacy.purge.delete_due

        def with_an_erasure(con: Any, kind: Any, policy: Any, now: Any) -> Any:
            if kind.name == "events":  # a DPO's erasure through the API, mid-purge
                con.execute("DELETE FROM events WHERE \"user\" = 'ann'")
                owe_compaction(store.path)
            return real(con, kind, policy, now)

        monkeypatch.setattr(privacy.purge, "delete_due", with_an_erasure)
        report = purge(store, AuditTrail(store), policy_of(load_settings(None)), now_utc(), "dpo")
        assert report.compacted is not None
        assert store.con.execute("SELECT count(*) FROM events").fetchall()[0][0] < events
    assert not compaction_owed(db)
    assert query(db, "SELECT count(*) FROM events WHERE \"user\" = 'ann'") == [(0,)]
