"""Deleted means gone: purged values are in no file the database uses; held ones stay."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from ingest.pipeline import IngestOptions
from privacy.holds import HoldRequest, add_hold, release_hold
from privacy.purge import dry_run, purge
from privacy.retention import Policy, status
from store import Store, open_store
from store.audit import AuditTrail, verify
from vahti.ingesting import run_ingest
from vahti.settings import load_settings
from vahti.shell import now_utc

POLICY = Policy(
    periods={
        "events": timedelta(days=30),
        "quarantine": timedelta(days=30),
        "alerts": timedelta(days=730),
        "audit": timedelta(days=730),
    },
    pseudonymise_after=timedelta(days=10),
)


def _files(db: Path) -> list[Path]:
    return [p for p in db.parent.iterdir() if p.name.startswith(db.name)]


def _visible(db: Path, marker: str) -> bool:
    return any(marker.encode() in p.read_bytes() for p in _files(db))


def _event(ts: str, user: str, ip: str, agent: str = "Mozilla/5.0 Firefox/133.0") -> bytes:
    record = {"ts": ts, "outcome": "failure", "user": user, "ip": ip, "user_agent": agent}
    return orjson.dumps(record) + b"\n"


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Store, dict[str, str]]:
    """Old events naming unique markers, one of them under a hold, and recent ones."""
    now = now_utc()
    old, recent = (
        (now - timedelta(days=60)).isoformat() + "Z",
        (now - timedelta(days=1)).isoformat() + "Z",
    )
    names = ("purged", "held", "recent", "agent", "held_agent")
    markers = {k: f"{k}-{uuid.uuid4().hex}" for k in names}
    lines = [_event(old, markers["purged"], "198.51.100.7", f"Mozilla {markers['agent']}")] * 50
    lines += [_event(old, markers["held"], "198.51.100.8", f"Mozilla {markers['held_agent']}")] * 5
    lines += [_event(recent, markers["recent"], "203.0.113.9")] * 5
    lines += [b"not json, names " + markers["purged"].encode() + b"\n"]
    log = tmp_path / "portal.jsonl"
    log.write_bytes(b"".join(lines))
    store = open_store(tmp_path / "vahti.duckdb")
    store.con.execute("SET force_compression = 'uncompressed'")  # so bytes are visible
    run_ingest(store, load_settings(None), [log], IngestOptions(format="jsonl"))
    store.con.execute("UPDATE quarantine SET quarantined_at = quarantined_at - INTERVAL 40 DAY")
    store.con.execute("CHECKPOINT")
    with store.transaction() as con:
        add_hold(con, HoldRequest(reason="preservation order", user=markers["held"]), "dpo", now)
    return store, markers


def test_purged_values_are_in_no_file_and_held_ones_stay(
    planted: tuple[Store, dict[str, str]],
) -> None:
    store, markers = planted
    db = store.path
    assert _visible(db, markers["purged"])  # the test can see what it looks for
    report = purge(store, AuditTrail(store), POLICY, now_utc(), "test")
    store.con.execute("CHECKPOINT")
    kinds = {k["kind"]: k for k in report.as_json()["kinds"]}
    assert (kinds["events"]["deleted"], kinds["events"]["held_back"]) == (50, 5)
    assert kinds["quarantine"]["deleted"] == 1
    assert report.compacted is not None
    assert not _visible(db, markers["purged"])
    assert not _visible(db, markers["agent"])
    assert _visible(db, markers["held"]) and _visible(db, markers["recent"])
    rows = store.con.execute('SELECT "user", ip, user_agent, pseudonymised FROM events').fetchall()
    assert {r[0] for r in rows} == {markers["held"], markers["recent"]}
    held_rows = [r for r in rows if r[0] == markers["held"]]
    assert all(r[1] == "198.51.100.8" and not r[3] for r in held_rows)  # held: untouched
    assert verify(store.con).first_broken is None
    store.close()


def test_old_events_are_pseudonymised_and_stay_searchable(
    planted: tuple[Store, dict[str, str]],
) -> None:
    store, markers = planted
    policy = Policy({**POLICY.periods, "events": timedelta(days=90)}, timedelta(days=10))
    purge(store, AuditTrail(store), policy, now_utc(), "test")
    rows = store.con.execute(
        'SELECT DISTINCT ip, user_agent, city, pseudonymised FROM events WHERE "user" = ?',
        [markers["purged"]],
    ).fetchall()
    assert rows == [("198.51.100.0", "other", None, True)]
    assert not _visible(store.path, markers["agent"])
    ((in_net,),) = store.con.execute(
        "SELECT count(*) FROM events WHERE ip_bin BETWEEN ? AND ?",
        [
            b"\x00" * 10 + b"\xff\xff" + bytes([198, 51, 100, 0]),
            b"\x00" * 10 + b"\xff\xff" + bytes([198, 51, 100, 255]),
        ],
    ).fetchall()
    assert in_net == 55
    store.close()


def test_release_makes_held_rows_due_and_dry_run_deletes_nothing(
    planted: tuple[Store, dict[str, str]],
) -> None:
    store, markers = planted
    trail = AuditTrail(store)
    preview = dry_run(store, trail, POLICY, now_utc(), "test").as_json()
    assert {k["kind"]: k["due"] for k in preview["kinds"]}["events"] == 50
    assert _visible(store.path, markers["purged"])
    with store.transaction() as con:
        release_hold(con, 1, now_utc())
    due = {k["kind"]: k for k in status(store.con, POLICY, now_utc())["kinds"]}["events"]
    assert (due["due"], due["held_back"]) == (55, 0)
    assert _visible(store.path, markers["held_agent"])
    purge(store, trail, POLICY, now_utc(), "test")
    # The hold's own record keeps the name it was about; the events are gone.
    assert not _visible(store.path, markers["held_agent"])
    actions = [a for (a,) in store.con.execute("SELECT action FROM audit ORDER BY seq").fetchall()]
    assert actions.count("retention.purge") == 4 and "retention.dry_run" in actions
    store.close()


def test_an_interrupted_compaction_is_owed_and_done_next_time(
    planted: tuple[Store, dict[str, str]],
) -> None:
    store, markers = planted
    marker_file = store.path.with_name(store.path.name + ".compact-pending")
    marker_file.write_bytes(b"")  # as a crash between delete and swap leaves it
    with store.transaction() as con:
        con.execute('DELETE FROM events WHERE "user" = ?', [markers["purged"]])
    report = purge(store, AuditTrail(store), POLICY, now_utc(), "test")
    assert report.compacted is not None and not marker_file.exists()
    assert not _visible(store.path, markers["purged"])
    store.close()
