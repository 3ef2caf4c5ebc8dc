"""Compaction: rewrite the database into a fresh file that holds only live rows, and swap
it in atomically. DuckDB keeps deleted values in the file's free blocks after DELETE,
CHECKPOINT and VACUUM; only a copy into a new file leaves them behind for good.

Crash safety: the copy is written beside the database and renamed over it only when
complete (rename is atomic); a marker file says a compaction is owed, so a crash at any
point means the next purge compacts again."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from store.db import Store
from store.encryption import attach_encrypted, connect_encrypted, load_crypto


def pending_marker(path: Path) -> Path:
    return path.with_name(path.name + ".compact-pending")


def owe_compaction(path: Path) -> None:
    """Say, durably, that deleted values may be in the file until the next compaction."""
    marker = pending_marker(path)
    marker.write_bytes(b"")
    _fsync(marker)


def compaction_owed(path: Path) -> bool:
    return pending_marker(path).exists()


def settle_compaction(path: Path) -> None:
    pending_marker(path).unlink(missing_ok=True)


def compact(store: Store) -> tuple[int, int]:
    """Swap in a copy holding only live rows; returns the file size before and after.

    The caller must have the database alone (in the server: inside `store.gate.exclusive()`,
    with no cursor open)."""
    path = store.path
    copy = path.with_name(path.name + ".compact")
    for leftover in (copy, Path(f"{copy}.wal")):
        leftover.unlink(missing_ok=True)
    store.con.execute("CHECKPOINT")
    before = path.stat().st_size
    ((name,),) = store.con.execute("SELECT current_database()").fetchall()
    if store.key is not None:  # the copy is encrypted with the same key
        attach_encrypted(store.con, copy, store.key, "vahti_compact")
    else:
        quoted = str(copy).replace("'", "''")
        store.con.execute(f"ATTACH '{quoted}' AS vahti_compact")
    try:
        store.con.execute(f'COPY FROM DATABASE "{name}" TO vahti_compact')
    finally:
        store.con.execute("DETACH vahti_compact")
    store.close()
    try:
        _fsync(copy)
        os.replace(copy, path)
        _fsync(path.parent)
        Path(f"{path}.wal").unlink(missing_ok=True)  # none after CHECKPOINT and close
    finally:
        store.reopen()
    settle_compaction(path)
    return before, path.stat().st_size


def encrypt_file(path: Path, key: str) -> None:
    """Turn an unencrypted database into an encrypted one: copy it into a new file under
    the key, then rename that over the original (the plaintext's disk blocks are the
    filesystem's to reuse: an encrypted volume or a wiped disk removes them for good)."""
    copy = path.with_name(path.name + ".encrypting")
    copy.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("CHECKPOINT")
        load_crypto(con)
        ((name,),) = con.execute("SELECT current_database()").fetchall()
        attach_encrypted(con, copy, key, "vahti_encrypted")
        con.execute(f'COPY FROM DATABASE "{name}" TO vahti_encrypted')
        con.execute("DETACH vahti_encrypted")
    finally:
        con.close()
    connect_encrypted(copy, key, {}).close()  # it opens with the key before it replaces
    _fsync(copy)
    os.replace(copy, path)
    _fsync(path.parent)
    Path(f"{path}.wal").unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
