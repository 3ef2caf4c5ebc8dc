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
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from store.audit import anchor, head
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

    def payload(self) -> bytes:
        """What is signed: the fields as RFC 8785 canonical JSON."""
        return rfc8785.dumps(asdict(self))


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


def current(con: duckdb.DuckDBPyConnection, now: datetime) -> Checkpoint:
    seq, digest = head(con)
    ((entries,),) = con.execute("SELECT count(*) FROM audit").fetchall()
    anchor_seq, anchor_hash = anchor(con)
    return Checkpoint(seq, digest, int(entries), anchor_seq, anchor_hash,
                      now.isoformat(timespec="seconds") + "Z")  # fmt: skip


def write_checkpoint(
    con: duckdb.DuckDBPyConnection, key: Ed25519PrivateKey, file: Path, now: datetime,
    webhook: str = "",
) -> Checkpoint:  # fmt: skip
    """Sign the chain as it is now; append it to `file` (owner-only), to syslog and, when
    configured, POST it to `webhook`."""
    point = current(con, now)
    signature = base64.b64encode(key.sign(point.payload())).decode()
    line = {**asdict(point), "public_key": public_text(key.public_key()), "signature": signature}
    handle = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(handle, "ab") as out:
        out.write(orjson.dumps(line) + b"\n")
    syslog.openlog("vahti", 0, syslog.LOG_AUTH)
    syslog.syslog(
        syslog.LOG_INFO,
        f"audit checkpoint seq={point.seq} hash={point.hash} entries={point.entries} "
        f"anchor={point.anchor_seq} signature={signature}",
    )
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


def latest(file: Path, key: Ed25519PublicKey) -> tuple[Checkpoint | None, str | None]:
    """The last checkpoint in `file` whose signature holds under `key`: (checkpoint, None),
    or (None, why there is none to trust)."""
    try:
        lines = [line for line in file.read_bytes().splitlines() if line.strip()]
    except FileNotFoundError:
        return None, f"no checkpoint: {file} does not exist"
    if not lines:
        return None, f"no checkpoint: {file} is empty"
    try:
        body: dict[str, Any] = orjson.loads(lines[-1])
        signature = base64.b64decode(body.pop("signature"))
        body.pop("public_key", None)
        point = Checkpoint(**body)
        key.verify(signature, point.payload())
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, InvalidSignature):
        return None, f"the last checkpoint in {file} is not signed by the audit key"
    return point, None


def compare(con: duckdb.DuckDBPyConnection, point: Checkpoint) -> str | None:
    """What the database does differently from a trusted checkpoint, or None."""
    last, _ = head(con)
    anchor_seq, anchor_hash = anchor(con)
    if last < point.seq:
        return (f"truncated: the checkpoint of {point.at} signed entry {point.seq}, the log "
                f"ends at entry {last}")  # fmt: skip
    if (anchor_seq, anchor_hash) != (point.anchor_seq, point.anchor_hash):
        return (f"the chain's start was moved (now after entry {anchor_seq}, signed after "
                f"entry {point.anchor_seq}) without a purge's checkpoint")  # fmt: skip
    found = con.execute("SELECT hash FROM audit WHERE seq = ?", [point.seq]).fetchall()
    if point.seq > point.anchor_seq and (not found or found[0][0] != point.hash):
        return (f"rewritten: entry {point.seq} is not the one the checkpoint of {point.at} "
                "signed")  # fmt: skip
    return None


def holds_head(con: duckdb.DuckDBPyConnection, digest: str) -> bool:
    """Whether an entry (or the retention anchor) has the hash an auditor was given."""
    found = con.execute(
        "SELECT 1 FROM audit WHERE hash = ? UNION ALL SELECT 1 FROM audit_anchor WHERE hash = ?",
        [digest, digest],
    ).fetchall()
    return bool(found)


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

    def sign(self, con: duckdb.DuckDBPyConnection, now: datetime) -> Checkpoint:
        return write_checkpoint(con, signing_key(self.key), self.file, now, self.webhook)

    def problems(self, con: duckdb.DuckDBPyConnection, expect_head: str | None) -> list[str]:
        """Everything the database does differently from the latest checkpoint (and from
        the head an auditor was given); empty: it holds."""
        found: list[str] = []
        if expect_head is not None and not holds_head(con, expect_head):
            found.append(f"the published head {expect_head} is not in the chain: rewritten "
                         "or truncated")  # fmt: skip
        if not self.key.exists():
            return [*found, f"no checkpoint: no audit signing key at {self.key}"]
        point, why = latest(self.file, signing_key(self.key).public_key())
        if point is None:
            return [*found, str(why)]
        differs = compare(con, point)
        return [*found, differs] if differs else found
