"""What a parser needs to know about the file it reads (all passed in, nothing global)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import polars as pl

from ingest.canonical import empty_parsed, empty_quarantine


@dataclass(frozen=True)
class AccessRules:
    """Which requests of a web log are logins, how they ended, and who sent them."""

    login_paths: tuple[str, ...] = ("/login",)
    methods: tuple[str, ...] = ("POST",)
    success_status: tuple[int, ...] = (302, 303)
    failure_status: tuple[int, ...] = (200, 401, 403)
    user_param: str = ""
    service: str = ""
    success_location: tuple[str, ...] = ()  # `Location` prefixes: they outrank the status
    failure_location: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()  # CIDRs whose forwarded header names the client
    forwarded_header: str = "x-forwarded-for"  # or "forwarded" (RFC 7239)
    log_format: str = ""  # an nginx `log_format` for text lines; empty: combined
    json_fields: tuple[tuple[str, str], ...] = ()  # field -> key path, for JSON lines


@dataclass
class ParseContext:
    format: str
    mtime: datetime  # the file's modification time, UTC, naive
    year: int | None = None  # syslog: the year of the first line, when given
    tz: str = "UTC"  # syslog and other zone-less timestamps
    access: AccessRules = field(default_factory=AccessRules)
    # Carried from batch to batch and stored with the source (CSV header, year rollover).
    state: dict[str, Any] = field(default_factory=dict)
    engine: duckdb.DuckDBPyConnection | None = None  # in-memory DuckDB for JSON work


@dataclass
class Parsed:
    """A parser's answer for one batch of lines."""

    events: pl.DataFrame = field(default_factory=empty_parsed)
    quarantine: pl.DataFrame = field(default_factory=empty_quarantine)
    skipped: int = 0
    # Records name their user in a field of their own: an empty one is a broken record.
    # A syslog line may have none to give (PAM's `rhost=... ` without `user=`).
    names_required: bool = False


def engine_of(context: ParseContext) -> duckdb.DuckDBPyConnection:
    if context.engine is None:
        context.engine = duckdb.connect(":memory:")
    return context.engine
