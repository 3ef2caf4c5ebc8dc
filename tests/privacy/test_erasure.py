"""Erasure on request through the real CLI: the rows leave the file, not just the table."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.conftest import LOGHUB, run_cli
from tests.helpers import query


def test_the_cli_erases_and_compacts_the_file(tmp_path: Path) -> None:
    db = tmp_path / "vahti.duckdb"
    log = tmp_path / "auth.log"
    log.write_text(LOGHUB.read_text() + "Dec 10 11:00:00 LabSZ sshd[1]: gibberish for fztu\n")
    assert run_cli("ingest", str(log), "--year", "2016", "--db", str(db)).returncode == 0
    result = run_cli("subject", "erase", "--user", "fztu", "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    erased = orjson.loads(result.stdout)
    assert erased["events"] == 1 and erased["compacted"]["bytes_after"] > 0
    assert query(db, "SELECT count(*) FROM events WHERE \"user\" = 'fztu'") == [(0,)]
    assert query(db, "SELECT count(*) FROM quarantine WHERE contains(raw, 'fztu')") == [(0,)]
    assert b"fztu" not in db.read_bytes()  # gone from the file, not just from the table
