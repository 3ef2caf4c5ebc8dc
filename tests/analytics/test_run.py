"""The detection run against a real DuckDB file: merging, idempotency, late events, replay."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from analytics.rules import default_rules_dir, load_rules
from analytics.run import Window, run_detection
from store import open_store
from store.alerts import entity_timeline, list_alerts
from tests.conftest import run_cli
from tests.helpers import load

RULES, _ = load_rules(default_rules_dir())
BRUTE = [r for r in RULES if r.id == "source_failures"]


def _failures(path: Path, start_minute: int, count: int, ip: str = "183.62.140.253") -> Path:
    lines = [
        orjson.dumps({
            "ts": f"2026-10-01T06:{start_minute + i // 6:02d}:{(i % 6) * 10:02d}Z",
            "outcome": "failure", "user": "matti.virtanen", "ip": ip,
        })
        for i in range(count)
    ]  # fmt: skip
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_second_run_raises_nothing_new(tmp_path: Path, db: Path) -> None:
    load(db, _failures(tmp_path / "a.jsonl", 0, 30))
    with open_store(db) as store:
        first = run_detection(store, RULES)
        second = run_detection(store, RULES)
        alerts = list_alerts(store.con)
    assert (first.new, second.new, second.updated) == (1, 0, 0)
    assert [(a.category, a.entity, a.event_count) for a in alerts] == [
        ("brute_force", "183.62.140.253", 30)
    ]


def test_ongoing_misuse_extends_its_open_alert(tmp_path: Path, db: Path) -> None:
    load(db, _failures(tmp_path / "a.jsonl", 0, 30))
    with open_store(db) as store:
        run_detection(store, BRUTE)
    load(db, _failures(tmp_path / "b.jsonl", 6, 30))  # the same source goes on
    with open_store(db) as store:
        report = run_detection(store, BRUTE)
        (alert,) = list_alerts(store.con)
    assert (report.new, report.updated) == (0, 1)
    assert alert.event_count == 60
    assert alert.last_seen.isoformat() == "2026-10-01T06:10:50"


def test_late_events_with_old_times_are_seen(tmp_path: Path, db: Path) -> None:
    load(db, _failures(tmp_path / "today.jsonl", 40, 3, ip="91.152.10.1"))
    with open_store(db) as store:
        assert run_detection(store, BRUTE).new == 0
    load(db, _failures(tmp_path / "late.jsonl", 0, 30))  # delivered late, stamped earlier
    with open_store(db) as store:
        assert run_detection(store, BRUTE).new == 1


def test_replay_gives_the_same_alerts_as_live(tmp_path: Path) -> None:
    events = tmp_path / "month.jsonl"
    from vahti.demo import write_demo_files

    events, _ = write_demo_files(tmp_path, days=20, seed=5)
    live, replay = tmp_path / "live.duckdb", tmp_path / "replay.duckdb"
    for db in (live, replay):
        load(db, events, format="jsonl")
    with open_store(live) as store:
        run_detection(store, RULES)
        live_alerts = {
            (a.alert_id, a.category, a.entity, a.event_count) for a in list_alerts(store.con)
        }
        span = store.con.execute("SELECT min(ts), max(ts) FROM events").fetchone()
    with open_store(replay) as store:
        assert span is not None
        run_detection(store, RULES, Window(span[0], span[1]))
        replayed = {
            (a.alert_id, a.category, a.entity, a.event_count) for a in list_alerts(store.con)
        }
        again = run_detection(store, RULES, Window(span[0], span[1]))
    assert replayed == live_alerts and len(live_alerts) >= 10
    assert (again.new, again.updated) == (0, 0)


def test_crash_mid_run_leaves_no_half_alerts(
    tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(db, _failures(tmp_path / "a.jsonl", 0, 30))
    load(db, _failures(tmp_path / "b.jsonl", 0, 30, ip="103.99.0.122"))
    import analytics.run as run

    real = run.link_evidence

    def crash_after_writing(con: object, links: object) -> None:
        real(con, links)  # type: ignore[arg-type]
        raise RuntimeError("power cut")

    monkeypatch.setattr(run, "link_evidence", crash_after_writing)
    with open_store(db) as store, pytest.raises(RuntimeError):
        run_detection(store, BRUTE)
    with open_store(db) as store:
        assert list_alerts(store.con) == []
        assert store.con.execute("SELECT count(*) FROM evidence").fetchone() == (0,)
        assert store.con.execute("SELECT count(*) FROM rule_state").fetchone() == (0,)
    monkeypatch.setattr(run, "link_evidence", real)
    with open_store(db) as store:
        assert run_detection(store, BRUTE).new == 2


def test_exceptions_silence_a_known_source(tmp_path: Path, db: Path) -> None:
    load(db, _failures(tmp_path / "a.jsonl", 0, 30, ip="193.166.3.7"))
    quiet = BRUTE[0].model_copy(
        update={"exceptions": BRUTE[0].exceptions.model_copy(update={"cidrs": ("193.166.3.0/24",)})}
    )
    with open_store(db) as store:
        assert run_detection(store, [quiet]).new == 0


def test_cli_detect_show_and_triage(tmp_path: Path, db: Path) -> None:
    source = _failures(tmp_path / "a.jsonl", 0, 62)
    assert run_cli("ingest", str(source), "--db", str(db)).returncode == 0
    detected = run_cli("detect", "--db", str(db))
    assert detected.returncode == 0 and "1 new alerts" in detected.stdout
    (alert,) = json.loads(run_cli("alerts", "--json", "--db", str(db)).stdout)
    expected = {"id", "rule_id", "category", "severity", "entity_type", "entity", "first_seen",
                "last_seen", "event_count", "summary", "status", "mitre"}  # fmt: skip
    assert expected <= alert.keys()
    assert alert["summary"] == "62 failed logins for matti.virtanen from 183.62.140.253 in 10 min"
    assert alert["mitre"] == ["T1110.001"] and alert["first_seen"].endswith("Z")
    shown = run_cli("alerts", "show", alert["id"], "--db", str(db))
    assert shown.returncode == 0 and shown.stdout.count("matti.virtanen") >= 62
    triaged = run_cli(
        "alerts", "false-positive", alert["id"], "--note", "pen test", "--db", str(db)
    )
    assert triaged.returncode == 0
    detail = json.loads(run_cli("alerts", "show", alert["id"], "--json", "--db", str(db)).stdout)
    assert detail["status"] == "false_positive" and detail["history"][0]["note"] == "pen test"
    assert len(detail["evidence"]) == 62
    assert run_cli("alerts", "show", "a-nothing", "--db", str(db)).returncode == 1
    assert run_cli("alerts", "--status", "bogus", "--db", str(db)).returncode == 2
    again = run_cli("detect", "--db", str(db))
    assert "0 new alerts" in again.stdout


def test_a_grown_alert_is_described_again_from_all_its_evidence(tmp_path: Path, db: Path) -> None:
    load(db, _failures(tmp_path / "a.jsonl", 0, 30))
    with open_store(db) as store:
        run_detection(store, BRUTE)
        (first,) = list_alerts(store.con)
    load(db, _failures(tmp_path / "b.jsonl", 6, 30))  # the same source goes on
    with open_store(db) as store:
        run_detection(store, BRUTE)
        (alert,) = list_alerts(store.con)
        hours = entity_timeline(store.con, alert, timedelta(hours=1))
    assert first.summary.startswith("30 failed logins for matti.virtanen from 183.62.140.253")
    assert alert.summary == "60 failed logins for matti.virtanen from 183.62.140.253 in 11 min"
    assert alert.event_count == 60
    assert sum(h["evidence"] for h in hours) == 60  # the chart agrees with the evidence


def test_distributed_alert_holds_every_failure_of_its_sources(tmp_path: Path, db: Path) -> None:
    """14 sources, each failing twice in 25 minutes: the second round is evidence too."""
    path = tmp_path / "d.jsonl"
    lines = [
        orjson.dumps({
            "ts": f"2026-10-01T04:{i * 53 // 60:02d}:{i * 53 % 60:02d}Z", "outcome": "failure",
            "user": "sanna.lehtonen1", "ip": f"177.10.{i % 14}.{20 + i % 14}",
        })
        for i in range(28)
    ]  # fmt: skip
    path.write_bytes(b"\n".join(lines) + b"\n")
    load(db, path)
    alerts = [a for a in _detect_all(db) if a.category == "distributed_brute_force"]
    (alert,) = alerts
    assert alert.event_count == 28
    assert alert.summary.startswith(
        "28 failed logins for sanna.lehtonen1 from 14 sources in 24 min"
    )


def _detect_all(db: Path) -> list:
    with open_store(db) as store:
        run_detection(store, RULES)
        return list_alerts(store.con)
