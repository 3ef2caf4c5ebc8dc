"""Compaction: rewrite the database into a fresh file that holds only live rows, and swap
it in atomically. DuckDB keeps deleted values in the file's free blocks after DELETE,
CHECKPOINT and VACUUM; only a copy into a new file leaves them behind for good.

Crash safety: the copy is written beside the database and renamed over it only when
complete (rename is atomic); a marker file says a compaction is owed, so a crash at any
point means the next purge compacts again."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import duckdb

from store.db import Store
from store.encryption import attach_encrypted, connect_encrypted, load_crypto, newer_file


def pending_marker(path: Path) -> Path:
    return path.with_name(path.name + ".compact-pending")


def owe_compaction(path: Path) -> bytes:
    """Say, durably, that deleted values may be in the file until the next compaction;
    returns this debt's token (a later debt replaces it, and only its own settles it)."""
    marker = pending_marker(path)
    token = secrets.token_hex(8).encode()
    marker.write_bytes(token)
    _fsync(marker)
    return token


def compaction_owed(path: Path) -> bool:
    return debt(path) is not None


def debt(path: Path) -> bytes | None:
    """The token of the debt on record, or None."""
    try:
        return pending_marker(path).read_bytes()
    except FileNotFoundError:
        return None


def settle_compaction(path: Path, token: bytes | None) -> None:
    """Settle the debt `token` names, unless a newer one replaced it meanwhile (an erasure
    while a purge ran: its rows are still in the file)."""
    if token is not None and debt(path) == token:
        pending_marker(path).unlink(missing_ok=True)


def compact(store: Store) -> tuple[int, int]:
    """Swap in a copy holding only live rows; returns the file size before and after.

    The caller must have the database alone (in the server: inside `store.gate.exclusive()`,
    with no cursor open)."""
    path = store.path
    copy = path.with_name(path.name + ".compact")
    owed = debt(path)  # what this compaction settles: a debt made after it is not
    store.con.execute("CHECKPOINT")  # the size before counts what the log held
    before = path.stat().st_size
    _copy_database(store.con, copy, store.key)  # encrypted with the same key, if any
    store.close()
    try:
        _swap_in(copy, path)
    finally:
        store.reopen()
    settle_compaction(path, owed)
    return before, path.stat().st_size


def encrypt_file(path: Path, key: str) -> None:
    """Turn an unencrypted database into an encrypted one: copy it into a new file under
    the key, then rename that over the original (the plaintext's disk blocks are the
    filesystem's to reuse: an encrypted volume or a wiped disk removes them for good)."""
    copy = path.with_name(path.name + ".encrypting")
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise newer_file(path, exc) or exc from None
    try:
        load_crypto(con)
        _copy_database(con, copy, key)
    finally:
        con.close()
    connect_encrypted(copy, key, {}).close()  # it opens with the key before it replaces
    _swap_in(copy, path)


def _copy_database(con: duckdb.DuckDBPyConnection, copy: Path, key: str | None) -> None:
    """Everything live in `con`'s database, written into a fresh file `copy`."""
    for leftover in (copy, Path(f"{copy}.wal")):
        leftover.unlink(missing_ok=True)
    con.execute("CHECKPOINT")
    ((name,),) = con.execute("SELECT current_database()").fetchall()
    if key is not None:
        attach_encrypted(con, copy, key, "vahti_copy")
    else:
        quoted = str(copy).replace("'", "''")
        con.execute(f"ATTACH '{quoted}' AS vahti_copy")
    try:
        con.execute(f'COPY FROM DATABASE "{name}" TO vahti_copy')
    finally:
        con.execute("DETACH vahti_copy")


def _swap_in(copy: Path, path: Path) -> None:
    """Rename the finished copy over the database, durably (the database is closed)."""
    _fsync(copy)
    os.replace(copy, path)
    _fsync(path.parent)
    Path(f"{path}.wal").unlink(missing_ok=True)  # none after CHECKPOINT and close


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
