"""Encryption at rest, run by test_encryption.py under DuckDB 1.5.5 with its crypto module:
with a key the database, its WAL and its compacted copies hold no plaintext; a wrong or
missing key is refused with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from store import open_store
from store.encryption import EncryptionError, read_key
from tests.conftest import run_cli

KEY = "0f" * 32


def _plaintext(db: Path, marker: str) -> bool:
    files = [p for p in db.parent.iterdir() if p.name.startswith(db.name)]
    return any(marker.encode() in p.read_bytes() for p in files)


def _plant(db: Path, key: str | None, marker: str, checkpoint: bool = True) -> None:
    store = open_store(db, key=key)
    store.con.execute("SET force_compression = 'uncompressed'")  # plaintext would show
    store.con.execute("SET checkpoint_threshold = '1GB'")
    store.con.execute(
        "INSERT INTO quarantine SELECT 1, i, ? || i, 'test', now()::TIMESTAMP FROM range(2000) t(i)",
        [marker],
    )
    if checkpoint:
        store.con.execute("CHECKPOINT")
    store.close()


def test_no_plaintext_in_the_file_and_the_key_reopens_it(db: Path) -> None:
    marker = f"secret-{uuid.uuid4().hex}"
    control = db.with_name("plain.duckdb")
    _plant(control, None, marker)
    assert _plaintext(control, marker)  # the test would see plaintext if it were there
    _plant(db, KEY, marker)
    assert not _plaintext(db, marker)
    with open_store(db, key=KEY) as store:
        ((count,),) = store.con.execute("SELECT count(*) FROM quarantine").fetchall()
        ((unsafe,),) = store.con.execute(
            "SELECT current_setting('force_mbedtls_unsafe')"
        ).fetchall()
    assert count == 2000 and unsafe is False


def test_the_write_ahead_log_is_encrypted_too(db: Path) -> None:
    marker = f"wal-{uuid.uuid4().hex}"
    _plant(db, KEY, marker, checkpoint=False)
    assert not _plaintext(db, marker)


def test_wrong_or_missing_key_is_refused_by_name(db: Path) -> None:
    _plant(db, KEY, "x")
    with pytest.raises(EncryptionError, match="wrong encryption key"):
        open_store(db, key="1e" * 32)
    with pytest.raises(EncryptionError, match="is encrypted: give its key"):
        open_store(db)
    plain = db.with_name("plain.duckdb")
    open_store(plain).close()
    with pytest.raises(EncryptionError, match="not encrypted"):
        open_store(plain, key=KEY)


def test_compaction_keeps_it_encrypted(db: Path) -> None:
    from store.compaction import compact

    marker = f"compact-{uuid.uuid4().hex}"
    _plant(db, KEY, marker)
    store = open_store(db, key=KEY)
    compact(store)
    ((count,),) = store.con.execute("SELECT count(*) FROM quarantine").fetchall()
    store.close()
    assert count == 2000 and not _plaintext(db, marker)
    with pytest.raises(EncryptionError, match="is encrypted"):
        open_store(db).close()


def test_key_file_must_be_private_and_well_formed(tmp_path: Path) -> None:
    key_file = tmp_path / "db.key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    assert read_key({"VAHTI_DB_KEY_FILE": str(key_file)}) == KEY
    key_file.chmod(0o644)
    with pytest.raises(EncryptionError, match="chmod 600"):
        read_key({"VAHTI_DB_KEY_FILE": str(key_file)})
    with pytest.raises(EncryptionError, match="32-256"):
        read_key({"VAHTI_DB_KEY": "short'; DROP"})
    assert read_key({}) is None


def test_the_command_line_encrypts_and_then_needs_the_key(tmp_path: Path, loghub: Path) -> None:
    db = str(tmp_path / "vahti.duckdb")
    assert run_cli("ingest", str(loghub), "--year", "2024", "--db", db).returncode == 0
    key_file = tmp_path / "db.key"
    key_file.write_text(KEY)
    os.chmod(key_file, 0o600)
    env = {"VAHTI_DB_KEY_FILE": str(key_file)}
    done = run_cli("encrypt", "--db", db, env=env)
    assert done.returncode == 0, done.stderr
    assert b"183.62.140.253" not in (tmp_path / "vahti.duckdb").read_bytes()
    without = run_cli("stats", "--json", "--db", db)
    assert without.returncode == 2 and "VAHTI_DB_KEY_FILE" in without.stderr
    stats = run_cli("stats", "--json", "--db", db, env=env)
    assert stats.returncode == 0 and '"events":553' in stats.stdout  # 20 of them probes
    register = run_cli("register", "--lang", "en", "--db", db, env=env)
    assert "encryption at rest: on" in register.stdout


def test_runs_under_the_duckdb_of_the_encrypted_install() -> None:
    import duckdb

    print(f"DuckDB {duckdb.__version__}")
    assert duckdb.__version__ == "1.5.5"


def test_an_encrypted_store_serves_the_api(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from ingest.pipeline import IngestOptions
    from store.tokens import create_token
    from vahti.demo import write_demo_files
    from vahti.detection_cli import detect
    from vahti.ingesting import run_ingest
    from vahti.service import build_app, open_service
    from vahti.settings import Settings, load_settings
    from vahti.shell import now_utc

    events, _ = write_demo_files(tmp_path, days=3, seed=2)
    store = open_store(tmp_path / "vahti.duckdb", key=KEY)
    run_ingest(store, load_settings(None), [events], IngestOptions(format="jsonl"))
    detect(store, load_settings(None))
    _, token = create_token(store.con, "enc-analyst", "analyst", now_utc())
    service = open_service(store, Settings())
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(build_app(service)) as client:
        listed = client.get("/api/v1/alerts", headers=headers)
        assert listed.status_code == 200 and listed.json()["alerts"]
        found = client.get(
            "/api/v1/events", params={"purpose": "check", "limit": 1}, headers=headers
        )
        assert found.status_code == 200 and found.json()["events"]
    service.enricher.close()
    store.close()
    user = found.json()["events"][0]["user"]
    assert not _plaintext(tmp_path / "vahti.duckdb", user)


def test_a_database_a_newer_duckdb_wrote_is_refused_with_the_copy_step(tmp_path: Path) -> None:
    """The default install's DuckDB (2.x) writes a file DuckDB 1.5.5 cannot read: `vahti
    encrypt` used to pass on DuckDB's raw "newer version" error."""
    db = tmp_path / "new.duckdb"
    newer = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    write = "import duckdb, sys; duckdb.connect(sys.argv[1]).execute('CREATE TABLE t (i INT)')"
    subprocess.run([sys.executable, "-c", write, str(db)], env=newer, check=True)
    done = run_cli("encrypt", "--db", str(db), env={"VAHTI_DB_KEY": KEY})
    assert done.returncode == 2, done.stderr
    assert "newer DuckDB" in done.stderr and "STORAGE_VERSION" in done.stderr, done.stderr
