"""What vahti writes holds personal data: the database and its WAL are owner-only, however
permissive the login's umask, and a database made readable by others is tightened."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.conftest import LOGHUB, run_cli


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "vahti.duckdb"
    old = os.umask(0o022)  # the CLI runs as a child: it inherits this umask
    try:
        result = run_cli("ingest", str(LOGHUB), "--year", "2016", "--db", str(db))
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stderr
    assert _mode(db) == 0o600
    wal = Path(f"{db}.wal")
    assert not wal.exists() or _mode(wal) == 0o600


def test_a_database_readable_by_others_is_tightened_when_opened(tmp_path: Path) -> None:
    db = tmp_path / "vahti.duckdb"
    assert run_cli("ingest", str(LOGHUB), "--year", "2016", "--db", str(db)).returncode == 0
    db.chmod(0o644)
    assert run_cli("stats", "--db", str(db)).returncode == 0
    assert _mode(db) == 0o600
