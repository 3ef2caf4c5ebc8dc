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


def test_a_third_party_recomputes_the_chain_with_its_own_jcs_tool(db: Path) -> None:
    """Entries are hashed over RFC 8785 canonical JSON: anyone with a JCS library and the
    documented material (prev hash, seq, time, actor, action, detail) gets the same hashes."""
    import hashlib
    import json

    import rfc8785

    with open_store(db) as store:
        AuditTrail(store).record(
            "dpo:liisa", "subject.report",
            {"z": 1, "a": {"ä": "Väinö", "n": [3, 1.5, None]}, "purpose": "Art. 15"},
        )  # fmt: skip
        rows = store.con.execute(
            "SELECT seq, logged_at, actor, action, detail, prev_hash, hash FROM audit ORDER BY seq"
        ).fetchall()
    for seq, at, actor, action, detail, prev, digest in rows:
        canonical = rfc8785.dumps(json.loads(detail)).decode()
        assert detail == canonical
        material = "\x1f".join(
            [prev, str(seq), at.isoformat(timespec="microseconds"), actor, action]
        )
        assert hashlib.sha256((material + "\x1f" + canonical).encode()).hexdigest() == digest


def test_a_number_json_cannot_hold_is_kept_as_its_digits(db: Path) -> None:
    with open_store(db) as store:
        AuditTrail(store).record("api", "alerts.read", {"limit": 2**60, "big": [2**80], "ok": 5})
        (entry,) = entries(store.con)
        assert entry.detail == {"limit": str(2**60), "big": [str(2**80)], "ok": 5}
        assert verify(store.con).first_broken is None
