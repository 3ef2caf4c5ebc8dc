"""The audit chain: appends link to the entry before; any change, removal or reorder shows."""

from __future__ import annotations

import threading
from pathlib import Path

from store import open_store
from store.audit import AuditTrail, entries, verify


def _fill(db: Path, count: int) -> None:
    with open_store(db) as store:
        trail = AuditTrail(store)
        for i in range(count):
            trail.record("tester", "events.search", {"purpose": f"case {i}", "user": f"u{i}"})


def test_a_clean_chain_verifies(db: Path) -> None:
    _fill(db, 5)
    with open_store(db) as store:
        check = verify(store.con)
        log = entries(store.con)
    assert check.first_broken is None and check.entries == 5
    assert check.head_hash == log[-1].hash
    assert [e.prev_hash for e in log[1:]] == [e.hash for e in log[:-1]]


def test_an_edited_entry_is_named(db: Path) -> None:
    _fill(db, 5)
    with open_store(db) as store:
        store.con.execute('UPDATE audit SET detail = \'{"purpose": "nothing"}\' WHERE seq = 3')
        check = verify(store.con)
    assert check.first_broken == 3 and "changed" in check.problem


def test_a_removed_entry_is_named(db: Path) -> None:
    _fill(db, 5)
    with open_store(db) as store:
        store.con.execute("DELETE FROM audit WHERE seq = 2")
        check = verify(store.con)
    assert check.first_broken == 3 and "missing" in check.problem


def test_a_rewritten_tail_does_not_follow(db: Path) -> None:
    _fill(db, 4)
    with open_store(db) as store:
        store.con.execute("UPDATE audit SET prev_hash = repeat('f', 64) WHERE seq = 4")
        assert verify(store.con).first_broken == 4


def test_concurrent_records_keep_one_chain(db: Path) -> None:
    with open_store(db) as store:
        trail = AuditTrail(store)

        def work(worker: int) -> None:
            for i in range(25):
                trail.record(f"w{worker}", "alerts.list", {"i": i})

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        check = verify(store.con)
    assert check.first_broken is None and check.entries == 100
