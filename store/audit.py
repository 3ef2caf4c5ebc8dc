"""The append-only, hash-chained audit log: who processed which personal data, when and why.

Each entry's hash covers its own fields and the previous entry's hash, so changing,
removing or reordering any entry breaks every hash after it; `verify` finds the first
broken one. Appends are serialised by the caller (one writer process, one audit lock).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import orjson
import rfc8785

from store.group_commit import GroupCommit

if TYPE_CHECKING:
    from store.db import Store

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    logged_at: datetime
    actor: str
    action: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "logged_at": self.logged_at.isoformat(timespec="microseconds") + "Z",
            "actor": self.actor,
            "action": self.action,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    head_hash: str
    first_broken: int | None  # seq of the first entry whose hash does not hold
    problem: str = ""

    def broken(self) -> str | None:
        """What does not hold, in words, or None."""
        if self.first_broken is None:
            return None
        return f"chain broken at entry {self.first_broken}: {self.problem}"


def _canonical(detail: dict[str, Any]) -> str:
    """RFC 8785 (JSON Canonicalization Scheme): anyone can check a stored entry's hash with
    their own JCS tool. Times and the like become JSON text first (orjson's forms), and an
    integer JSON numbers cannot hold exactly (past 2**53, say from a request) its digits."""
    return rfc8785.dumps(orjson.loads(orjson.dumps(_exact(detail)))).decode()


_SAFE_INTEGER = 2**53 - 1


def _exact(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _exact(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_exact(inner) for inner in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _SAFE_INTEGER:
        return str(value)
    return value


def entry_hash(
    seq: int, logged_at: datetime, actor: str, action: str, detail_json: str, prev_hash: str
) -> str:
    material = "\x1f".join(
        [prev_hash, str(seq), logged_at.isoformat(timespec="microseconds"), actor, action]
    )
    return hashlib.sha256((material + "\x1f" + detail_json).encode()).hexdigest()


def anchor(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    """Where the chain starts: (0, GENESIS), or the last entry retention removed."""
    row = con.execute("SELECT seq, hash FROM audit_anchor ORDER BY seq DESC LIMIT 1").fetchall()
    return (int(row[0][0]), str(row[0][1])) if row else (0, GENESIS)


def anchors(con: duckdb.DuckDBPyConnection) -> int:
    """Rows of the start table: one at most (more is a forgery)."""
    ((count,),) = con.execute("SELECT count(*) FROM audit_anchor").fetchall()
    return int(count)


def head(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    row = con.execute(
        "SELECT seq, hash FROM audit WHERE seq = (SELECT max(seq) FROM audit)"
    ).fetchall()
    return (int(row[0][0]), str(row[0][1])) if row else (0, GENESIS)


def append(
    con: duckdb.DuckDBPyConnection,
    actor: str,
    action: str,
    detail: dict[str, Any],
    now: datetime,
    after: tuple[int, str] | None = None,
) -> AuditEntry:
    """Add one entry after the current head (`after`, when the caller knows it), inside the
    caller's transaction."""
    last_seq, prev_hash = after or head(con)
    seq = last_seq + 1
    detail_json = _canonical(detail)
    digest = entry_hash(seq, now, actor, action, detail_json, prev_hash)
    con.execute(
        "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?)",
        [seq, now, actor, action, detail_json, prev_hash, digest],
    )
    return AuditEntry(seq, now, actor, action, detail, prev_hash, digest)


def entries(
    con: duckdb.DuckDBPyConnection,
    after_seq: int = 0,
    limit: int = 100,
    actor: str | None = None,
    action: str | None = None,
    *,
    touching: str | None = None,
    newest_first: bool = False,
    before_seq: int | None = None,
) -> list[AuditEntry]:
    """Entries in chain order (or newest first), filtered: `action` may end in `*` (a
    prefix: `retention.*`), `touching` is text anywhere in the detail (a name, an address)."""
    clauses: list[str] = ["seq > ?"]
    values: list[object] = [after_seq]
    if before_seq is not None:
        clauses.append("seq < ?")
        values.append(before_seq)
    if actor is not None:
        clauses.append("actor = ?")
        values.append(actor)
    if action is not None and action.endswith("*"):
        clauses.append("starts_with(action, ?)")
        values.append(action[:-1])
    elif action is not None:
        clauses.append("action = ?")
        values.append(action)
    if touching is not None:
        clauses.append("contains(lower(CAST(detail AS VARCHAR)), lower(?))")
        values.append(touching)
    rows = con.execute(
        "SELECT seq, logged_at, actor, action, detail, prev_hash, hash FROM audit WHERE "
        + " AND ".join(clauses)
        + f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?",
        [*values, limit],
    ).fetchall()
    return [
        AuditEntry(seq, at, who, what, orjson.loads(detail), prev, digest)
        for seq, at, who, what, detail, prev, digest in rows
    ]


def verify(
    con: duckdb.DuckDBPyConnection, batch: int = 50_000, since: tuple[int, str] | None = None
) -> ChainCheck:
    """Recompute the chain from its start (or from where retention left it: the anchor; or
    from entry `since`, whose hash is known); report the first entry that does not hold."""
    start_seq, expected_prev = since or anchor(con)
    expected_seq = start_seq + 1
    count = 0
    cursor = con.execute(  # from the start, every row: one below it is out of place
        "SELECT seq, logged_at, actor, action, detail, prev_hash, hash FROM audit WHERE seq > ? "
        "ORDER BY seq",
        [start_seq if since else -1],
    )
    while rows := cursor.fetchmany(batch):
        for seq, at, who, what, detail, prev, digest in rows:
            problem = ""
            if seq != expected_seq:
                problem = f"entry {expected_seq} is missing (next is {seq})"
            elif prev != expected_prev:
                problem = f"entry {seq} does not follow the entry before it"
            elif entry_hash(seq, at, who, what, detail, prev) != digest:
                problem = f"entry {seq} was changed after it was written"
            if problem:
                return ChainCheck(count, expected_prev, seq, problem)
            expected_prev, expected_seq, count = digest, seq + 1, count + 1
    return ChainCheck(count, expected_prev, None)


@dataclass(frozen=True)
class _Entry:
    actor: str
    action: str
    detail: dict[str, Any]


class AuditTrail:
    """Audited writes of one process: a change and its audit entry commit together, and
    appends are serialised so the chain has one head.

    Entries recorded for reads are committed in groups: each caller queues its entry and
    whoever holds the lock next writes everything queued, in one transaction; a caller
    returns only once its own entry is committed."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._recorded: GroupCommit[_Entry, None] = GroupCommit(self._write_group, self._lock)
        self._head: tuple[int, str] | None = None  # this process is the only writer
        self._pending_head: tuple[int, str] | None = None

    @contextmanager
    def change(
        self, actor: str, action: str, detail: dict[str, Any]
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction on its own cursor; `detail` may be filled in by the caller inside."""
        with self._lock, self._transaction() as con:
            yield con
            self._append(con, actor, action, detail, _now())

    def record(self, actor: str, action: str, detail: dict[str, Any]) -> None:
        """An entry on its own, e.g. for a read of personal data."""
        self._recorded.submit(_Entry(actor, action, detail))

    def _write_group(self, group: list[_Entry]) -> list[Exception | None]:
        with self._transaction() as con:
            now = _now()
            for entry in group:
                self._append(con, entry.actor, entry.action, entry.detail, now)
        return [None] * len(group)

    def _append(
        self,
        con: duckdb.DuckDBPyConnection,
        actor: str,
        action: str,
        detail: dict[str, Any],
        now: datetime,
    ) -> None:
        entry = append(con, actor, action, detail, now, self._pending_head or self._head)
        self._pending_head = (entry.seq, entry.hash)

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self._store.cursor()
        self._pending_head = None
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            self._head = self._pending_head or self._head
        finally:
            con.close()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
