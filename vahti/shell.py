"""What every command shares: consoles, the common options, exit codes, printing."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ingest.enrich import GeoIPError
from ingest.pipeline import InputError
from store import Store, StoreError, open_store
from store.audit import head as audit_head
from store.checkpoints import CheckpointFiles
from store.encryption import EncryptionError, read_key
from vahti.settings import ConfigError, Settings

err = Console(stderr=True, soft_wrap=True)
# Piped output keeps tables readable: wide lines rather than 80-column folds.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)

DbOption = Annotated[
    Path, typer.Option("--db", envvar="VAHTI_DB", help="DuckDB file", show_default=True)
]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", envvar="VAHTI_CONFIG", help="TOML configuration file")
]
DEFAULT_DB = Path("vahti.duckdb")


class UsageError(Exception):
    """Bad usage or bad input (exit code 2)."""


class NotFound(Exception):
    """An id that names nothing (exit code 1)."""


class BrokenRules(Exception):
    """A rule file that does not load: detection does not run without it (exit code 1)."""


@contextmanager
def failures() -> Iterator[None]:
    """Map what went wrong to the contract's exit codes, with the message on stderr."""
    try:
        yield
    except (InputError, ConfigError, GeoIPError, UsageError, EncryptionError) as exc:
        say(f"vahti: {exc}", error=True)
        raise typer.Exit(2) from exc
    except (StoreError, NotFound, BrokenRules) as exc:
        say(f"vahti: {exc}", error=True)
        raise typer.Exit(1) from exc


def checkpoint_files(db: Path, settings: Settings) -> CheckpointFiles:
    audit = settings.audit
    return CheckpointFiles.beside(
        db.expanduser(), audit.key_file, audit.checkpoint_file, audit.checkpoint_webhook
    )


@contextmanager
def open_db(db: Path, settings: Settings) -> Iterator[Store]:
    """The store, encrypted at rest when VAHTI_DB_KEY_FILE (or VAHTI_DB_KEY) gives a key.
    A command that added to the audit log signs a checkpoint of it when it is done."""
    key = read_key(dict(os.environ))
    with open_store(
        db,
        memory_limit=settings.store.memory_limit or None,
        key=key,
        checkpoint_threshold=settings.store.checkpoint_threshold,
    ) as store:
        before = audit_head(store.con)
        yield store
        if audit_head(store.con) != before:
            checkpoint_files(db, settings).sign(store.con, now_utc(), whole=False)


def utc_text(moment: datetime | None, timespec: str = "seconds") -> str:
    """A stored (naive UTC) time as people and scripts read it, with its zone: `...Z`."""
    if moment is None:
        return ""
    return moment.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def say(text: str, error: bool = False) -> None:
    (err if error else out).print(text, markup=False, highlight=False)


def parse_time(text: str | None, option: str) -> datetime | None:
    """RFC 3339 (or a date) from the command line -> naive UTC."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"bad {option} {text!r}: give an RFC 3339 time or a date") from exc
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def cli_actor() -> str:
    """Who acts from the command line, as the audit log names them."""
    return f"cli:{getpass.getuser()}"


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
