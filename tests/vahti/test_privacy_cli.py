"""The DPO's commands through the real command line, on the real OpenSSH log."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.conftest import run_cli


def _db(tmp_path: Path, loghub: Path) -> str:
    db = str(tmp_path / "vahti.duckdb")
    assert run_cli("ingest", str(loghub), "--year", "2024", "--db", db).returncode == 0
    return db


def test_hold_then_purge_keeps_what_is_held(tmp_path: Path, loghub: Path) -> None:
    db = _db(tmp_path, loghub)
    added = run_cli("hold", "add", "--ip", "183.62.140.0/24", "--reason", "incident 12",
                    "--kind", "incident", "--case", "INC-12", "--db", db)  # fmt: skip
    assert added.returncode == 0 and "covers 287 events" in added.stdout
    held = json.loads(run_cli("hold", "list", "--json", "--db", db).stdout)
    assert [(h["ip"], h["kind"], h["active"]) for h in held] == [
        ("183.62.140.0/24", "incident", True)
    ]
    short = {"VAHTI_RETENTION_EVENTS": "30d"}
    status = json.loads(run_cli("retention", "status", "--json", "--db", db, env=short).stdout)
    events = next(k for k in status["kinds"] if k["kind"] == "events")
    assert (events["rows"], events["due"], events["held_back"]) == (553, 266, 287)
    purged = run_cli("retention", "purge", "--json", "--db", db, env=short)
    assert purged.returncode == 0, purged.stderr
    report = json.loads(purged.stdout)
    assert report["kinds"][0]["deleted"] == 266 and report["compacted"]
    left = json.loads(run_cli("events", "--limit", "1000", "--json", "--db", db).stdout)
    assert len(left) == 287 and {e["ip"] for e in left} == {"183.62.140.253"}
    assert run_cli("hold", "release", "1", "--db", db).returncode == 0
    run_cli("retention", "purge", "--db", db, env=short)
    assert json.loads(run_cli("events", "--json", "--db", db).stdout) == []
    assert run_cli("audit", "verify", "--db", db).returncode == 0


def test_bad_retention_and_bad_holds_are_refused_by_name(tmp_path: Path, loghub: Path) -> None:
    db = _db(tmp_path, loghub)
    zero = run_cli("retention", "purge", "--db", db, env={"VAHTI_RETENTION_EVENTS": "0d"})
    assert zero.returncode == 2 and "retention.events" in zero.stderr
    malformed = run_cli(
        "retention", "status", "--db", db, env={"VAHTI_RETENTION_ALERTS": "2 years"}
    )
    assert malformed.returncode == 2 and "retention.alerts" in malformed.stderr
    nobody = run_cli("hold", "add", "--reason", "x", "--db", db)
    assert nobody.returncode == 2 and "names a user" in nobody.stderr
    unknown = run_cli("hold", "release", "42", "--db", db)
    assert unknown.returncode == 2 and "no hold 42" in unknown.stderr


def test_audit_verify_names_the_altered_entry_and_head_prints_the_hash(
    tmp_path: Path, loghub: Path
) -> None:
    db = _db(tmp_path, loghub)
    for user in ("a", "b", "c"):
        run_cli("events", "--user", user, "--purpose", f"case {user}", "--db", db)
    head = run_cli("audit", "head", "--db", db).stdout.split()
    assert head[0] == "3" and len(head[1]) == 64
    with duckdb.connect(db) as con:
        con.execute("UPDATE audit SET actor = 'someone else' WHERE seq = 2")
    broken = run_cli("audit", "verify", "--db", db)
    assert broken.returncode == 1 and "entry 2" in broken.stderr


def test_subject_report_writes_json_and_letters(tmp_path: Path, loghub: Path) -> None:
    db = _db(tmp_path, loghub)
    out = tmp_path / "report"
    done = run_cli("subject", "report", "--user", "root", "--out", str(out), "--db", db)
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["events"] and {e["user"] for e in report["events"]} == {"root"}
    assert "Kirjautumiset ja istunnot" in (out / "report-fi.md").read_text()
    assert "Logins and sessions" in (out / "report-en.md").read_text()
    bad = run_cli("subject", "report", "--db", db)
    assert bad.returncode == 2 and "--user or --customer-id" in bad.stderr


def test_register_describes_what_is_really_stored(tmp_path: Path, loghub: Path) -> None:
    db = _db(tmp_path, loghub)
    described = json.loads(run_cli("register", "--json", "--db", db).stdout)
    stored = {item["field"]: item["stored_in_events"] for item in described["data"]}
    assert stored["ip"] == 553 and stored["user"] == 553
    assert "customer_id" not in stored and "session_id" not in stored  # sshd logs none
    assert described["retention_days"]["events"] == 180
    assert described["protection"]["audit_log"]["intact"] is True
    finnish = run_cli("register", "--db", db, env={"VAHTI_RETENTION_EVENTS": "90d"}).stdout
    assert "IP-osoite jokaisen kirjautumisen yhteydessä (553" in finnish
    assert "events: 90 päivää" in finnish
