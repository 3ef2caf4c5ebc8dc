"""The real command line in a child process."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import database_held_by_another_process, run_cli


def test_ingest_and_stats(loghub: Path, db: Path) -> None:
    first = run_cli("ingest", str(loghub), "--db", str(db), "--year", "2025")
    assert first.returncode == 0, first.stderr
    assert (
        "read 2000 lines, loaded 553 events, skipped 1455, quarantined 0, already loaded 0"
        in first.stdout
    )
    second = run_cli("ingest", str(loghub), "--db", str(db), "--json")
    assert json.loads(second.stdout)[0]["loaded"] == 0
    stats = json.loads(run_cli("stats", "--json", "--db", str(db)).stdout)
    assert {
        k: stats[k] for k in ("events", "failures", "successes", "quarantined", "sources", "alerts")
    } == {
        "events": 553,  # 20 of them probes
        "failures": 532,
        "successes": 1,
        "quarantined": 0,
        "sources": 1,
        "alerts": 0,
    }


def test_default_year_is_announced(loghub: Path, db: Path) -> None:
    result = run_cli("ingest", str(loghub), "--db", str(db))
    assert result.returncode == 0
    assert "year from the file's modification time" in result.stderr


def test_directory_is_a_spool(tmp_path: Path, db: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "a.jsonl").write_text(
        '{"ts":"2026-10-01T06:00:00Z","outcome":"success","user":"a","ip":"91.152.10.1"}\n'
    )
    (spool / "b.csv").write_text("ts,user,outcome,ip\n2026-10-01T06:00:00Z,b,failure,91.152.10.2\n")
    result = run_cli("ingest", str(spool), "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "total: read 3 lines, loaded 2 events, skipped 1" in result.stdout


def _assert_nothing_written(db: Path) -> None:
    assert not db.exists()


def test_bad_input_exits_2_and_writes_nothing(tmp_path: Path, db: Path, loghub: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"ts":"2026-10-01T06:00:00Z","outcome":"success","user":"a","ip":"1.2.3.4"}\n')
    prose = tmp_path / "notes.txt"
    prose.write_text("dear diary\nnothing happened\n")
    cases = {
        ("ingest", str(good), str(tmp_path / "missing.log")): "missing.log: cannot read",
        ("ingest", str(good), str(prose)): "notes.txt: cannot tell the format",
        ("ingest", str(good), "--format", "xml"): "unknown format 'xml'",
        ("ingest", str(loghub), "--year", "20255"): "bad --year 20255",
        ("ingest", str(loghub), "--tz", "Mars/Olympus"): "bad --tz 'Mars/Olympus'",
    }
    for args, message in cases.items():
        result = run_cli(*args, "--db", str(db))
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, result.stderr
        _assert_nothing_written(db)


def test_bad_config_exits_2(tmp_path: Path, db: Path) -> None:
    config = tmp_path / "vahti.toml"
    config.write_text('[retention]\nevents = "6 months"\n')
    result = run_cli("stats", "--db", str(db), "--config", str(config))
    assert result.returncode == 2
    assert "retention.events" in result.stderr and "bad duration" in result.stderr


def test_demo(tmp_path: Path) -> None:
    result = run_cli("demo", "--db", str(tmp_path / "demo.duckdb"), "--days", "10", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "labelled attacks found" in result.stdout
    stats = json.loads(run_cli("stats", "--json", "--db", str(tmp_path / "demo.duckdb")).stdout)
    assert stats["events"] > 3000 and stats["quarantined"] == 0


def test_writer_refused_while_another_process_holds_the_database(db: Path, loghub: Path) -> None:
    with database_held_by_another_process(db):
        result = run_cli("ingest", str(loghub), "--db", str(db))
    assert result.returncode == 1
    assert "in use by another vahti process" in result.stderr


def test_ingest_then_detect_in_one_command(loghub: Path, tmp_path: Path) -> None:
    """`ingest --detect` raises what `ingest` followed by `detect` raises."""
    together, apart = tmp_path / "together.duckdb", tmp_path / "apart.duckdb"
    one = run_cli("ingest", str(loghub), "--db", str(together), "--year", "2025", "--detect")
    assert one.returncode == 0, one.stderr
    assert "loaded 553 events" in one.stdout and "rules ran" in one.stdout
    assert run_cli("ingest", str(loghub), "--db", str(apart), "--year", "2025").returncode == 0
    assert run_cli("detect", "--db", str(apart)).returncode == 0

    def alerts(db: Path) -> list[tuple[str, str, int]]:
        listed = json.loads(run_cli("alerts", "--json", "--db", str(db)).stdout)
        return sorted((a["rule_id"], a["entity"], a["event_count"]) for a in listed)

    found = alerts(together)
    assert found and found == alerts(apart)
    as_json = run_cli("ingest", str(loghub), "--db", str(together), "--json", "--detect")
    assert json.loads(as_json.stdout)[0]["already"] == 2000 and "rules ran" in as_json.stderr
