"""Signed checkpoints of the audit chain, kept outside the database.

The hash chain shows an entry altered, removed or reordered, but not a chain cut short,
emptied, rewritten with every hash recomputed, or started again from a forged anchor:
whoever can write the database can do all of that consistently. A checkpoint (as
CloudTrail's digest files and Certificate Transparency's signed tree heads) is the chain's
head, length and start, signed with an Ed25519 key that lives outside the database and
written to an append-only file outside it (and to syslog, so a copy lives on another
machine). Verification holds the database to the latest one it trusts."""

from __future__ import annotations

import base64
import logging
import os
import stat
import syslog
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import polars as pl
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from store.audit import anchor, anchors, head, verify
from store.db import StoreError

log = logging.getLogger("vahti.audit")


class CheckpointError(StoreError):
    """The signing key or the checkpoint file cannot be used; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int  # the head entry's number when signed
    hash: str  # and its hash
    entries: int  # entries in the table then
    anchor_seq: int  # where the chain started then (retention moves it, with a checkpoint)
    anchor_hash: str
    at: str  # RFC 3339, UTC
    purge: bool = False  # the first after a purge moved the start where one before announced
    # Signed just before a purge moves the start there (entry, hash): if the purge is cut
    # off before its own checkpoint, the moved start is still one vahti signed for.
    moving_to: tuple[int, str] | None = None

    def fields(self) -> dict[str, Any]:
        """The signed fields (`purge` and `moving_to` only where set: checkpoints from
        before they were added keep their signatures)."""
        named = asdict(self)
        if not self.purge:
            del named["purge"]
        if self.moving_to is None:
            del named["moving_to"]
        else:
            named["moving_to"] = list(self.moving_to)
        return named

    def starts(self) -> set[tuple[int, str]]:
        """Where the chain may start after this checkpoint."""
        return {(self.anchor_seq, self.anchor_hash), *([self.moving_to] if self.moving_to else [])}

    def payload(self) -> bytes:
        """What is signed: the fields as RFC 8785 canonical JSON."""
        return rfc8785.dumps(self.fields())


def signing_key(path: Path) -> Ed25519PrivateKey:
    """The key at `path`, made (owner-only) on first use; refused when others may read it."""
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "wb") as out:
            out.write(pem)
        return key
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CheckpointError(f"audit signing key {path} can be read by others: chmod 600 it")
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CheckpointError(f"audit signing key {path} cannot be read: {exc}") from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise CheckpointError(f"audit signing key {path} is not an Ed25519 key")
    return loaded


def public_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def current(
    con: duckdb.DuckDBPyConnection, now: datetime, purge: bool = False,
    moving_to: tuple[int, str] | None = None,
) -> Checkpoint:  # fmt: skip
    seq, digest = head(con)
    ((entries,),) = con.execute("SELECT count(*) FROM audit").fetchall()
    anchor_seq, anchor_hash = anchor(con)
    return Checkpoint(seq, digest, int(entries), anchor_seq, anchor_hash,
                      now.isoformat(timespec="seconds") + "Z", purge, moving_to)  # fmt: skip


def write_checkpoint(
    con: duckdb.DuckDBPyConnection, key: Ed25519PrivateKey, file: Path, now: datetime,
    webhook: str = "", purge: bool = False, moving_to: tuple[int, str] | None = None,
) -> Checkpoint:  # fmt: skip
    """Sign the chain as it is now; append it to `file` (owner-only), to syslog and, when
    configured, POST it to `webhook`. `purge`: a purge has just moved the chain's start."""
    point = current(con, now, purge, moving_to)
    signature = base64.b64encode(key.sign(point.payload())).decode()
    line = {**point.fields(), "public_key": public_text(key.public_key()), "signature": signature}
    handle = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(handle, "ab") as out:
        out.write(orjson.dumps(line) + b"\n")
    syslog.openlog("vahti", 0, syslog.LOG_AUTH)
    # The whole signed line, so that a log host can check the signature on its own.
    syslog.syslog(syslog.LOG_INFO, "audit checkpoint " + orjson.dumps(line).decode())
    if webhook:
        post_checkpoint(webhook, line)
    return point


def post_checkpoint(url: str, line: dict[str, object]) -> None:
    """A copy of the signed checkpoint to another machine (it holds no personal data). A
    receiver that is down does not stop vahti: the file and syslog have it; the failure is
    logged."""
    try:
        answer = httpx.post(url, content=orjson.dumps(line), timeout=5.0,
                            headers={"Content-Type": "application/json"})  # fmt: skip
        answer.raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("audit checkpoint webhook %s failed: %s", url, type(exc).__name__)


def _parse(raw: bytes, key: Ed25519PublicKey) -> Checkpoint | None:
    """The checkpoint on one line, if its signature holds under `key`."""
    try:
        body: dict[str, Any] = orjson.loads(raw)
        signature = base64.b64decode(body.pop("signature"))
        body.pop("public_key", None)
        if body.get("moving_to") is not None:
            body["moving_to"] = tuple(body["moving_to"])
        point = Checkpoint(**body)
        key.verify(signature, point.payload())
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, InvalidSignature):
        return None
    return point


def _lines(file: Path) -> tuple[list[bytes], str | None]:
    try:
        lines = [line for line in file.read_bytes().splitlines() if line.strip()]
    except FileNotFoundError:
        return [], f"no checkpoint: {file} does not exist"
    return lines, None if lines else f"no checkpoint: {file} is empty"


def latest(file: Path, key: Ed25519PublicKey) -> tuple[Checkpoint | None, str | None]:
    """The last checkpoint in `file` whose signature holds under `key`: (checkpoint, None),
    or (None, why there is none to trust)."""
    lines, why = _lines(file)
    if why:
        return None, why
    point = _parse(lines[-1], key)
    if point is None:
        return None, f"the last checkpoint in {file} is not signed by the audit key"
    return point, None


def history(file: Path, key: Ed25519PublicKey) -> tuple[list[Checkpoint], list[str]]:
    """Every checkpoint in `file`, oldest first, and what is wrong with the series: a line
    another key signed (the key was replaced), a later checkpoint of a shorter log (cut in
    between, then signed again), a start that moved back."""
    lines, _ = _lines(file)
    points: list[Checkpoint] = []
    problems: list[str] = []
    for number, raw in enumerate(lines, 1):
        point = _parse(raw, key)
        if point is None:
            problems.append(f"checkpoint {number} of {len(lines)} in {file} is not signed by "
                            "the audit key: the key was replaced or the line forged")  # fmt: skip
            continue
        before = points[-1] if points else None
        if before and point.seq < before.seq:
            problems.append(
                f"truncated: the checkpoint of {point.at} signed entry {point.seq}, an "
                f"earlier one (of {before.at}) entry {before.seq}"
            )
        if before and point.anchor_seq < before.anchor_seq:
            problems.append(f"the chain's start moved back at the checkpoint of {point.at}")
        elif before and (point.anchor_seq, point.anchor_hash) not in before.starts():
            problems.append(f"the chain's start was moved (after entry {point.anchor_seq}) at "
                            f"the checkpoint of {point.at}, which no purge signed")  # fmt: skip
        points.append(point)
    return points, problems


def unmatched(con: duckdb.DuckDBPyConnection, points: list[Checkpoint]) -> str | None:
    """The first entry the log still holds that is not the one a checkpoint signed."""
    since, _ = anchor(con)
    signed = [(p.seq, p.hash, p.at) for p in points if p.seq > since]
    if not signed:
        return None
    checked = pl.DataFrame(signed, schema=["seq", "hash", "at"], orient="row")  # noqa: F841
    row = con.execute(
        "SELECT c.seq, c.at FROM checked c LEFT JOIN audit a ON a.seq = c.seq "
        "WHERE a.hash IS DISTINCT FROM c.hash ORDER BY c.seq LIMIT 1"
    ).fetchall()
    if not row:
        return None
    return f"rewritten: entry {row[0][0]} is not the one the checkpoint of {row[0][1]} signed"


def compare(con: duckdb.DuckDBPyConnection, point: Checkpoint) -> str | None:
    """What the database does differently from a trusted checkpoint, or None. The start may
    be the checkpoint's, or where it announced a purge would move it."""
    last, _ = head(con)
    anchor_seq, anchor_hash = anchor(con)
    if anchors(con) > 1:
        return "the chain's start table holds more than one start: one was forged"
    if last < point.seq:
        return (f"truncated: the checkpoint of {point.at} signed entry {point.seq}, the log "
                f"ends at entry {last}")  # fmt: skip
    if (anchor_seq, anchor_hash) not in point.starts():
        return (f"the chain's start was moved (now after entry {anchor_seq}, signed after "
                f"entry {point.anchor_seq}) without a purge's checkpoint")  # fmt: skip
    found = con.execute("SELECT hash FROM audit WHERE seq = ?", [point.seq]).fetchall()
    if point.seq > anchor_seq and (not found or found[0][0] != point.hash):
        return (f"rewritten: entry {point.seq} is not the one the checkpoint of {point.at} "
                "signed")  # fmt: skip
    return None


def holds_head(con: duckdb.DuckDBPyConnection, digest: str) -> bool:
    """Whether an entry (or the retention anchor) has the hash an auditor was given."""
    found = con.execute("SELECT 1 FROM audit WHERE hash = ?", [digest]).fetchall()
    return bool(found) or (anchors(con) == 1 and anchor(con)[1] == digest)


def _departure(
    con: duckdb.DuckDBPyConnection, point: Checkpoint | None, why: str | None, whole: bool
) -> str | None:
    """Why the log no longer holds against the latest checkpoint `point` (None: `why` there
    is none while the key is there), or None: a change since, or a break in the entries
    (all of them, or those written after it)."""
    if point is None:
        return f"{why}; restore it from a copy (syslog, the webhook's receiver)"
    differs = compare(con, point)
    if differs:
        return differs
    after = point.seq > anchor(con)[0] and not whole
    return verify(con, since=(point.seq, point.hash) if after else None).broken()


@dataclass(frozen=True)
class CheckpointFiles:
    """Where the signing key and the checkpoints of one database live (outside it)."""

    key: Path
    file: Path
    webhook: str = ""

    @classmethod
    def beside(cls, db: Path, key: str = "", file: str = "", webhook: str = "") -> CheckpointFiles:
        """The configured paths, or `<db>.audit-key` and `<db>.checkpoints`."""
        return cls(Path(key or f"{db}.audit-key"), Path(file or f"{db}.checkpoints"), webhook)

    def signer(self, con: duckdb.DuckDBPyConnection | None = None) -> Ed25519PrivateKey:
        """The signing key; a new one only where nothing was signed yet (a new key beside
        old checkpoints would sign whatever the database holds now). A new key signs its
        first checkpoint at once (given `con`): from then on the file is never empty."""
        if not self.key.exists() and _lines(self.file)[0]:
            raise CheckpointError(
                f"no audit signing key at {self.key}, but {self.file} holds checkpoints "
                "signed with one: restore the key"
            )
        new = not self.key.exists()
        key = signing_key(self.key)
        if new and con is not None:
            write_checkpoint(con, key, self.file, datetime.now(UTC).replace(tzinfo=None),
                             self.webhook)  # fmt: skip
        return key

    def sign(
        self, con: duckdb.DuckDBPyConnection, now: datetime,
        moving_to: tuple[int, str] | None = None, whole: bool = True,
    ) -> Checkpoint:  # fmt: skip
        """Sign the chain as it is now, if it still holds against the latest checkpoint:
        signing a tampered log would hide the tampering from every later verification.
        `moving_to`: where a purge about to run will move the start (signed before it
        does); `whole`: recompute the whole chain first, not only what came after the last
        checkpoint (a purge must: it would take a tampered old entry away for good)."""
        existed = self.key.exists()
        key = self.signer()
        point, why = latest(self.file, key.public_key())
        differs = _departure(con, point, why, whole) if existed else None
        if differs:
            raise CheckpointError(
                f"checkpoint not signed: the audit log does not hold against the last one "
                f"({differs}); signing now would hide it. `vahti audit verify` says the same"
            )
        # The start moved since the last checkpoint (to where it announced): a purge's.
        purge = point is not None and anchor(con) != (point.anchor_seq, point.anchor_hash)
        return write_checkpoint(con, key, self.file, now, self.webhook, purge, moving_to)

    def problems(self, con: duckdb.DuckDBPyConnection, expect_head: str | None) -> list[str]:
        """Everything the database does differently from the signed checkpoints (and from
        the head an auditor was given); empty: it holds."""
        found: list[str] = []
        if expect_head is not None and not holds_head(con, expect_head):
            found.append(f"the published head {expect_head} is not in the chain: rewritten "
                         "or truncated")  # fmt: skip
        if not self.key.exists():
            if not _lines(self.file)[0] and head(con)[0] == 0 and anchors(con) == 0:
                return found  # nothing audited, nothing signed: nothing to hold it to
            return [*found, f"no checkpoint: no audit signing key at {self.key}"]
        public = signing_key(self.key).public_key()
        point, why = latest(self.file, public)
        if point is None:
            return [*found, str(why)]
        points, series = history(self.file, public)
        for problem in [compare(con, point), *series, unmatched(con, points)]:
            if problem and problem not in found:
                found.append(problem)
        return found
