"""Encryption at rest: DuckDB's AES (GCM) database encryption, with its crypto module from
the httpfs extension that PyPI ships (duckdb-extension-httpfs, signed by DuckDB, matched
to the pinned DuckDB version) so nothing is downloaded at run time. The database, its WAL
and DuckDB's spill files are encrypted; a wrong key is refused.

The key never comes from the configuration file: `VAHTI_DB_KEY_FILE` (a file only its
owner can read) or, for development, `VAHTI_DB_KEY`."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import duckdb

ATTACHED = "vahti"
_KEY = re.compile(r"^[A-Za-z0-9_-]{32,256}$")


class EncryptionError(ValueError):
    """The key cannot be used; the message says why (never what the key is)."""


def read_key(environ: dict[str, str]) -> str | None:
    """The database key from VAHTI_DB_KEY_FILE or VAHTI_DB_KEY, or None (no encryption)."""
    path = environ.get("VAHTI_DB_KEY_FILE")
    if path:
        key_file = Path(path)
        try:
            mode = key_file.stat().st_mode
            text = key_file.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise EncryptionError(f"VAHTI_DB_KEY_FILE {path}: cannot read it ({exc})") from exc
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise EncryptionError(
                f"VAHTI_DB_KEY_FILE {path} can be read by others: chmod 600 it first"
            )
        return check_key(text, "VAHTI_DB_KEY_FILE")
    key = environ.get("VAHTI_DB_KEY")
    return check_key(key.strip(), "VAHTI_DB_KEY") if key else None


# DuckDB's words when a file's storage format is newer than the running DuckDB reads.
_NEWER_FILE = re.compile(r"newer version|version number|storage version", re.IGNORECASE)


def newer_file(path: Path, exc: Exception) -> EncryptionError | None:
    """DuckDB's raw "newer version" refusal, as what to do about it: encryption runs on
    DuckDB 1.5.5, which cannot read a file DuckDB 2.x wrote until it is copied (README,
    "Encryption at rest")."""
    if not _NEWER_FILE.search(str(exc)):
        return None
    return EncryptionError(
        f"database {path} was written by a newer DuckDB than this one ({duckdb.__version__}, "
        "the version with the crypto module): copy it first with the DuckDB that wrote it, "
        "as README \"Encryption at rest\" shows (ATTACH 'copy.duckdb' AS n "
        "(STORAGE_VERSION 'v1.5.0'); COPY FROM DATABASE old TO n), then encrypt the copy"
    )


def check_key(key: str, origin: str) -> str:
    if not _KEY.match(key):
        raise EncryptionError(
            f"{origin}: a key is 32-256 letters, digits, '-' or '_' (make one with: "
            'python3 -c "import secrets; print(secrets.token_hex(32))")'
        )
    return key


_INSTALL = "install vahti with encryption: pip install 'vahti[encrypted]'"


def _crypto_module() -> str:
    """The httpfs extension shipped for this very DuckDB version, or a message saying how."""
    try:
        import duckdb_extension_httpfs
    except ImportError as exc:
        raise EncryptionError(
            f"encryption at rest needs DuckDB's crypto module, which PyPI ships for DuckDB "
            f"1.5.5 (this is {duckdb.__version__}): {_INSTALL}"
        ) from exc
    folder = Path(os.path.dirname(duckdb_extension_httpfs.__file__))
    found = folder / "extensions" / f"v{duckdb.__version__}" / "httpfs.duckdb_extension"
    if not found.exists():
        shipped = ", ".join(
            p.parent.name for p in folder.glob("extensions/*/httpfs.duckdb_extension")
        )
        raise EncryptionError(
            f"DuckDB {duckdb.__version__} has no crypto module here (the installed one is for "
            f"{shipped or 'no version'}): {_INSTALL}"
        )
    return str(found)


def load_crypto(con: duckdb.DuckDBPyConnection) -> None:
    """Load the crypto module and encrypt DuckDB's own spill files too."""
    module = _crypto_module().replace("'", "''")
    try:
        con.execute(f"LOAD '{module}'")
    except duckdb.Error as exc:
        raise EncryptionError(
            f"DuckDB {duckdb.__version__} cannot load its crypto module ({exc}): vahti pins "
            "duckdb and duckdb-extension-httpfs to the same version; reinstall vahti"
        ) from exc
    con.execute("SET temp_file_encryption = true")


def attach_encrypted(con: duckdb.DuckDBPyConnection, path: Path, key: str, name: str) -> None:
    quoted = str(path).replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS {name} (ENCRYPTION_KEY '{key}')")


def connect_encrypted(
    path: Path, key: str, config: dict[str, str | bool | int | float | list[str]]
) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:", config=config)
    try:
        load_crypto(con)
        try:
            attach_encrypted(con, path, key, ATTACHED)
        except duckdb.InvalidInputException as exc:
            if "encryption key" in str(exc).lower() or "aes" in str(exc).lower():
                raise EncryptionError(f"database {path}: wrong encryption key") from None
            raise
        except duckdb.CatalogException as exc:
            if "not encrypted" in str(exc):
                raise EncryptionError(
                    f"database {path} is not encrypted: make an encrypted copy with "
                    "`vahti encrypt`, or unset VAHTI_DB_KEY/VAHTI_DB_KEY_FILE"
                ) from None
            raise EncryptionError(f"database {path}: {exc}") from None
        con.execute(f"USE {ATTACHED}")
    except BaseException:
        con.close()
        raise
    return con
