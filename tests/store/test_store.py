from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from store import StoreBusyError, StoreError, open_store
from store.schema import LATEST_VERSION
from tests.conftest import database_held_by_another_process


def test_old_database_is_upgraded(db: Path) -> None:
    with open_store(db, upto=1) as old:
        assert old.schema_version() == 1
        old.con.execute("INSERT INTO quarantine VALUES (1, 7, 'kept', 'reason', now()::TIMESTAMP)")
        with pytest.raises(duckdb.CatalogException):
            old.con.execute("SELECT * FROM alerts")
    with open_store(db) as new:
        assert new.schema_version() == LATEST_VERSION
        assert new.con.execute("SELECT raw FROM quarantine").fetchall() == [("kept",)]
        assert new.con.execute("SELECT count(*) FROM alerts").fetchall() == [(0,)]


def test_newer_database_is_refused(db: Path) -> None:
    with open_store(db) as store:
        store.con.execute("INSERT INTO schema_version VALUES (99, now()::TIMESTAMP)")
    with pytest.raises(StoreError, match="newer than this vahti"):
        open_store(db)


def test_second_writer_process_gets_a_clear_error(db: Path) -> None:
    with (
        database_held_by_another_process(db) as pid,
        pytest.raises(StoreBusyError, match=rf"in use by another vahti process \(process {pid}\)"),
    ):
        open_store(db)
    with open_store(db) as store:  # nothing corrupted
        assert store.schema_version() == LATEST_VERSION


def test_transaction_rolls_back(db: Path) -> None:
    with open_store(db) as store:
        with pytest.raises(RuntimeError), store.transaction() as con:
            con.execute("INSERT INTO quarantine VALUES (1, 1, 'x', 'y', now()::TIMESTAMP)")
            raise RuntimeError("crash mid-batch")
        assert store.con.execute("SELECT count(*) FROM quarantine").fetchall() == [(0,)]
