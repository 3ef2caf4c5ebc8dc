"""An extract's package: the events in scope as CSV and JSON Lines, a manifest with the
request, scope, counts and the SHA-256 of every file, zipped. Each package made is a
disclosure, recorded per data subject; its own hash goes to the audit log."""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import duckdb
import orjson
import polars as pl
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from privacy.extracts import Extract, ExtractError, get_extract, sha256
from store.audit import AuditTrail
from store.checkpoints import public_text

_EXPORT = (
    "ts", "event", "outcome", "user", "customer_id", "ip", "host", "user_agent", "session_id",
    "reason", "service", "country", "city", "asn",
)  # fmt: skip


def vahti_version() -> str:
    try:
        return version("vahti")
    except PackageNotFoundError:
        return "unknown"


def _events(con: duckdb.DuckDBPyConnection, extract: Extract) -> pl.DataFrame:
    where, values = extract.scope.condition()
    columns = ", ".join(
        "strftime(e.ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS ts" if c == "ts" else f'e."{c}"'
        for c in _EXPORT
    )
    frame = pl.from_arrow(
        con.sql(
            f"SELECT {columns} FROM events e WHERE {where} ORDER BY e.ts, e.event_id",
            params=values,
        ).to_arrow_table()
    )
    assert isinstance(frame, pl.DataFrame)
    return frame


def build_package(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    now: datetime,
    signer: Ed25519PrivateKey | None = None,
) -> tuple[bytes, dict[str, Any], list[dict[str, Any]]]:
    """(zip bytes, manifest, per-subject counts) for an approved production order."""
    if extract.state != "approved" or extract.order_type != "production":
        raise ExtractError(
            f"extract {extract.extract_id} is a {extract.state} {extract.order_type} order: "
            "only an approved production order has a package"
        )
    events = _events(con, extract)
    files = {
        "events.csv": events.write_csv().encode(),
        "events.jsonl": events.write_ndjson().encode(),
    }
    manifest = {
        "request": extract.as_json(now),
        "scope": extract.scope.as_json(),
        "rows": events.height,
        "generated_at": now.isoformat() + "Z",
        "generator": f"vahti {vahti_version()}",
        "files": {
            name: {"sha256": sha256(data), "bytes": len(data), "rows": events.height}
            for name, data in files.items()
        },
    }
    files["manifest.json"] = orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
    if signer is not None:  # the audit key: a recomputed manifest cannot be signed again
        files["manifest.sig"] = orjson.dumps({
            "algorithm": "Ed25519", "public_key": public_text(signer.public_key()),
            "signature": base64.b64encode(signer.sign(files["manifest.json"])).decode(),
        })  # fmt: skip
    stamp = now.timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), data)
    subjects = (
        events.group_by("user", "customer_id").len().sort("user").to_dicts()
        if events.height
        else []
    )
    return buffer.getvalue(), manifest, subjects


def record_disclosures(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    digest: str,
    subjects: list[dict[str, Any]],
    now: datetime,
) -> None:
    for subject in subjects:
        con.execute(
            "INSERT INTO disclosures VALUES (?, ?, ?, ?, ?, ?)",
            [extract.extract_id, subject["user"], subject["customer_id"], subject["len"],
             digest, now],
        )  # fmt: skip


def package_rows(data: bytes) -> int:
    """How many events a package holds, as its manifest says."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return int(orjson.loads(archive.read("manifest.json"))["rows"])


def verify_package(
    path: Path, key: Ed25519PublicKey | None, recorded: set[str] | None
) -> list[str]:
    """Every problem found, each naming the check that failed: files whose hash or size
    differs from the manifest or that it does not list; a manifest not signed by the audit
    key (`key`; None: no key to check with); a package whose SHA-256 is not among the ones
    the audit log recorded (`recorded`; None: no log to check with). Empty: intact."""
    try:
        data = path.read_bytes()
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (OSError, zipfile.BadZipFile) as exc:
        return [f"{path}: not a readable zip ({exc})"]
    with archive:
        problems = _files_against_manifest(archive)
        problems += _signature_problems(archive, key)
    if recorded is None:
        problems.append("audit log: not checked (no database to read it from)")
    elif sha256(data) not in recorded:
        problems.append(
            "audit log: the package's SHA-256 was never recorded (not a package vahti "
            "made, or changed since)"
        )
    return problems


def _files_against_manifest(archive: zipfile.ZipFile) -> list[str]:
    names = set(archive.namelist())
    if "manifest.json" not in names:
        return ["manifest.json is missing"]
    try:
        listed = orjson.loads(archive.read("manifest.json"))["files"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return ["manifest.json is not a vahti manifest"]
    problems = [
        f"{name}: not in the manifest"
        for name in sorted(names - {"manifest.json", "manifest.sig", *listed})
    ]
    for name, expected in sorted(listed.items()):
        if name not in names:
            problems.append(f"{name}: listed in the manifest but missing")
            continue
        data = archive.read(name)
        if sha256(data) != expected["sha256"] or len(data) != expected["bytes"]:
            problems.append(f"{name}: SHA-256 does not match the manifest")
    return problems


def _signature_problems(archive: zipfile.ZipFile, key: Ed25519PublicKey | None) -> list[str]:
    if "manifest.sig" not in archive.namelist():
        return ["signature: manifest.sig is missing (the manifest is not signed)"]
    if key is None:
        return ["signature: not checked (no audit key to check it with)"]
    try:
        signature = base64.b64decode(orjson.loads(archive.read("manifest.sig"))["signature"])
        key.verify(signature, archive.read("manifest.json"))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, InvalidSignature):
        return ["signature: the manifest is not signed by this system's audit key"]
    return []


def recorded_packages(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The SHA-256 of every package the audit log says was made."""
    rows = con.execute(
        "SELECT detail->>'$.sha256' FROM audit WHERE action = 'extracts.package'"
    ).fetchall()
    return {row[0] for row in rows if row[0]}


def make_package(
    trail: AuditTrail,
    extract_id: int,
    actor: str,
    now: datetime,
    signer: Ed25519PrivateKey | None = None,
    **context: Any,
) -> tuple[bytes, str, dict[str, Any]]:
    """Build the package, record the disclosures and the package's hash in the audit log,
    all in one transaction; returns (zip bytes, SHA-256, manifest)."""
    detail: dict[str, Any] = {"purpose": "lawful extract", "extract": extract_id, **context}
    with trail.change(actor, "extracts.package", detail) as con:
        extract = get_extract(con, extract_id)
        if extract is None:
            raise ExtractError(f"no extract request {extract_id}")
        data, manifest, subjects = build_package(con, extract, now, signer)
        digest = sha256(data)
        record_disclosures(con, extract, digest, subjects, now)
        detail.update(sha256=digest, rows=manifest["rows"], subjects=len(subjects))
    return data, digest, manifest


def disclosure_register(con: duckdb.DuckDBPyConnection, limit: int = 1000) -> list[dict[str, Any]]:
    """Every disclosure to an authority, newest first: whose data, how many events, in which
    package (its hash), to whom, on what legal basis, who requested and who approved."""
    rows = con.execute(
        """SELECT d.disclosed_at, d.extract_id, x.authority, x.legal_basis, x.reference,
                  x.order_type, x.requested_by, x.decided_by, d.subject, d.customer_id,
                  d.events, d.package_sha256
           FROM disclosures d JOIN extracts x USING (extract_id)
           ORDER BY d.disclosed_at DESC, d.extract_id DESC, d.subject LIMIT ?""",
        [limit],
    ).fetchall()
    names = ("disclosed_at", "extract_id", "authority", "legal_basis", "reference",
             "order_type", "requested_by", "approved_by", "subject", "customer_id", "events",
             "package_sha256")  # fmt: skip
    found = [dict(zip(names, row, strict=True)) for row in rows]
    for row in found:
        row["disclosed_at"] = row["disclosed_at"].isoformat() + "Z"
    return found
