"""`vahti quarantine` and `vahti quarantine retry` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.conftest import run_cli

_COMPARED = 'ts, event, outcome, "user", ip, host, reason, country, line_no, seq'


def _events(db: Path) -> list[tuple]:
    with duckdb.connect(str(db)) as con:
        return con.execute(f"SELECT {_COMPARED} FROM events ORDER BY line_no, seq").fetchall()


def _quarantine_as_an_older_version(db: Path, log: Path, first: int, last: int) -> int:
    """What an older parser did with lines `first`..`last` that held events: no events, a
    quarantine row each (the counts of `sources` follow)."""
    raw = log.read_text().splitlines()
    with duckdb.connect(str(db)) as con:
        held = con.execute(
            "SELECT DISTINCT line_no FROM events WHERE line_no BETWEEN ? AND ? ORDER BY 1",
            [first, last],
        ).fetchall()
        ((events,),) = con.execute(
            "SELECT count(*) FROM events WHERE line_no BETWEEN ? AND ?", [first, last]
        ).fetchall()
        for (line_no,) in held:
            con.execute(
                "INSERT INTO quarantine VALUES (1, ?, ?, 'not a syslog line', "
                "TIMESTAMP '2026-11-01 00:00:00')",
                [line_no, raw[line_no - 1]],
            )
        con.execute("DELETE FROM events WHERE line_no BETWEEN ? AND ?", [first, last])
        con.execute(
            "UPDATE sources SET quarantined = quarantined + ?, events = events - ?",
            [len(held), events],
        )
    return len(held)


def test_retry_restores_what_an_older_version_quarantined(loghub: Path, db: Path) -> None:
    assert run_cli("ingest", str(loghub), "--db", str(db), "--year", "2025").returncode == 0
    before = _events(db)
    held = _quarantine_as_an_older_version(db, loghub, 100, 400)
    assert held > 50 and len(_events(db)) < len(before)

    listed = run_cli("quarantine", "--db", str(db), "--json", "--limit", "1000")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == held
    assert rows[0]["file"] == str(loghub.resolve()) and rows[0]["line_no"] >= 100
    assert {r["reason"] for r in rows} == {"not a syslog line"}

    retried = run_cli("quarantine", "retry", "--db", str(db), "--json")
    assert retried.returncode == 0, retried.stderr
    (result,) = json.loads(retried.stdout)
    assert result["retried"] == held and result["still"] == 0
    assert _events(db) == before  # the same events, not one more or less
    with duckdb.connect(str(db)) as con:
        assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
        sources = con.execute("SELECT events, quarantined FROM sources").fetchone()
        actions = [a for (a,) in con.execute("SELECT action FROM audit").fetchall()]
    assert sources == (len(before), 0)
    assert "quarantine.list" in actions and "quarantine.retry" in actions

    again = run_cli("quarantine", "retry", "--db", str(db))
    assert again.returncode == 0 and "no quarantined lines to retry" in again.stdout
    assert _events(db) == before


def test_lines_that_fail_again_stay_with_todays_reason(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(
        '{"ts":"2026-10-01T06:00:00Z","outcome":"success","user":"a","ip":"91.152.10.1"}\n'
        "this is not json\n"
        '{"ts":"2026-10-01T06:01:00Z","event":"teleport","user":"b","ip":"91.152.10.2"}\n'
    )
    ingest = run_cli("ingest", str(log), "--db", str(db))
    assert ingest.returncode == 0, ingest.stderr
    assert "quarantined: 1 invalid JSON; 1 unknown event 'teleport'" in ingest.stdout

    table = run_cli("quarantine", "--db", str(db), "--reason", "JSON")
    assert table.returncode == 0, table.stderr
    assert "1 quarantined lines" in table.stdout and "this is not json" in table.stdout
    assert "teleport" not in table.stdout
    assert json.loads(run_cli("quarantine", "--db", str(db), "--source", "nomatch", "--json")
                      .stdout) == []  # fmt: skip

    with duckdb.connect(str(db)) as con:
        first = con.execute("SELECT line_no, quarantined_at FROM quarantine ORDER BY 1").fetchall()
    retried = run_cli("quarantine", "retry", "--db", str(db), "--source", str(log.name))
    assert retried.returncode == 0, retried.stderr
    assert "retried 2 lines: 0 events loaded, 0 skipped, 2 still quarantined" in retried.stdout
    with duckdb.connect(str(db)) as con:
        after = con.execute("SELECT line_no, quarantined_at FROM quarantine ORDER BY 1").fetchall()
        assert con.execute("SELECT quarantined FROM sources").fetchone() == (2,)
    assert after == first  # nothing lost, and retention still counts from the first time
