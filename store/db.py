"""Opening the database: one writer process, migrations applied on open."""

from __future__ import annotations

import os
import re
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import orjson

from store.encryption import ATTACHED, EncryptionError, connect_encrypted, newer_file
from store.schema import LATEST_VERSION, MIGRATIONS


class StoreError(RuntimeError):
    """The database cannot be used; the message says why."""


class StoreBusyError(StoreError):
    """Another process holds the database (DuckDB allows one writer)."""


_LOCK_PID = re.compile(r"PID (\d+)")


class Gate:
    """Many requests use the database together; compaction, which swaps the file, needs it
    alone. The server enters once per request at its outermost layer (never nested), and
    compaction waits for those inside to leave while new ones wait at the door."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._closed = False

    def try_enter(self) -> bool:
        with self._cond:
            if self._closed:
                return False
            self._active += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self._active -= 1
            self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._closed)
            self._closed = True
            self._cond.wait_for(lambda: self._active == 0)
        try:
            yield
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()


@dataclass
class Store:
    """The one connection of this process. Readers in other threads use `cursor()`; in the
    server, every request passes `gate`, so compaction can have the file alone."""

    path: Path
    con: duckdb.DuckDBPyConnection
    memory_limit: str | None = None
    gate: Gate = field(default_factory=Gate)
    checkpoint_threshold: str = "256MB"
    key: str | None = field(default=None, repr=False)  # encryption at rest, when configured

    def reopen(self) -> None:
        """Connect again to the file at `path` (after compaction swapped it)."""
        self.con = _connect(self.path, self.memory_limit, self.key, self.checkpoint_threshold)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: a crash or an exception inside leaves no half batch."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = quiet(self.con.cursor())
        if self.key is not None:  # a cursor starts in the in-memory catalog, not the file
            cursor.execute(f"USE {ATTACHED}")
        return cursor

    def schema_version(self) -> int:
        return _version(self.con)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _version(con: duckdb.DuckDBPyConnection) -> int:
    # fetchall: a half-read result would block register() on this connection.
    ((version,),) = con.execute("SELECT max(version) FROM schema_version").fetchall()
    return int(version) if version is not None else 0


def migrate(con: duckdb.DuckDBPyConnection, upto: int = LATEST_VERSION) -> int:
    """Apply the missing steps, each in its own transaction; return the version reached."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, applied_at TIMESTAMP)"
    )
    current = _version(con)
    if current > LATEST_VERSION:
        raise StoreError(
            f"database schema version {current} is newer than this vahti understands "
            f"({LATEST_VERSION}): upgrade vahti"
        )
    for version in range(current + 1, upto + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in MIGRATIONS[version - 1]:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [version])
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    return _version(con)


def quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """No progress bar: a long statement would draw it on stdout, into `--json` output."""
    con.execute("SET enable_progress_bar = false")
    return con


def _busy_message(path: Path, pid: str | None) -> str:
    """Name the holder; a running `vahti serve` leaves a note saying where it listens."""
    try:
        note = orjson.loads(path.with_name(path.name + ".holder").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        note = {}
    if pid is not None and str(note.get("pid")) == pid:
        return (
            f"database {path} is held by a running vahti server (process {pid}) at "
            f"{note.get('url')}: commands that write cannot run beside it; use its API "
            "(e.g. POST /api/v1/events, PATCH /api/v1/alerts/ID) or stop the server first"
        )
    holder = f" (process {pid})" if pid else ""
    return (
        f"database {path} is in use by another vahti process{holder}: DuckDB allows "
        "one writer; stop it, or send the work through its API"
    )


def _connect(
    path: Path, memory_limit: str | None, key: str | None = None, checkpoint: str = "256MB"
) -> duckdb.DuckDBPyConnection:
    # Commits append to the WAL; checkpoints (compressing into the file) come in bulk: a
    # larger threshold is faster, a smaller one holds less in memory (docs/benchmarks.md).
    config: dict[str, str | bool | int | float | list[str]] = {"checkpoint_threshold": checkpoint}
    if memory_limit:
        config["memory_limit"] = memory_limit
    try:
        con = (
            connect_encrypted(path, key, config)
            if key is not None
            else duckdb.connect(str(path), config=config)
        )
        quiet(con)
        return con
    except duckdb.CatalogException as exc:
        if "without a key" in str(exc):
            raise EncryptionError(
                f"database {path} is encrypted: give its key in VAHTI_DB_KEY_FILE (or VAHTI_DB_KEY)"
            ) from None
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            pid = _LOCK_PID.search(text)
            raise StoreBusyError(_busy_message(path, pid.group(1) if pid else None)) from exc
        raise newer_file(path, exc) or StoreError(f"cannot open database {path}: {text}") from exc
    except duckdb.Error as exc:
        raise newer_file(path, exc) or StoreError(f"cannot open database {path}: {exc}") from exc


def owner_only(path: Path) -> None:
    """The database and its WAL readable by their owner only: a file an older vahti or
    another tool made 0644 is tightened when opened (if this user owns it)."""
    for file in (path, Path(f"{path}.wal")):
        try:
            mode = file.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO) and file.stat().st_uid == os.getuid():
                file.chmod(0o600)
        except OSError:
            continue  # no WAL yet; or not ours to change: DuckDB reads it as before


def open_store(
    path: Path,
    *,
    upto: int = LATEST_VERSION,
    memory_limit: str | None = None,
    key: str | None = None,
    checkpoint_threshold: str = "256MB",
) -> Store:
    """Open (creating if needed) and bring the schema up to date; with `key`, the file is
    encrypted at rest (and must have been created with the same key)."""
    path = path.expanduser()
    if path.parent and not path.parent.exists():
        raise StoreError(f"cannot open database {path}: folder {path.parent} does not exist")
    con = _connect(path, memory_limit, key, checkpoint_threshold)
    owner_only(path)
    try:
        migrate(con, upto)
    except BaseException:
        con.close()
        raise
    return Store(
        path=path, con=con, memory_limit=memory_limit, key=key,
        checkpoint_threshold=checkpoint_threshold,
    )  # fmt: skip
