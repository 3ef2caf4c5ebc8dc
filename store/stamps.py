"""Stored times (naive UTC) as the API, reports and packages write them."""

from __future__ import annotations

from datetime import datetime


def utc_iso(value: datetime | None) -> str | None:
    """RFC 3339 with its zone (`...Z`), or None."""
    return value.isoformat() + "Z" if value is not None else None
