"""Turning timestamp text into UTC instants, column-wise."""

from __future__ import annotations

from datetime import datetime

import polars as pl

EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(2100, 1, 1)
_EPOCH = r"^\s*-?\d{1,12}(\.\d+)?\s*$"


def parse_rfc3339_or_epoch(text: pl.Expr) -> pl.Expr:
    """RFC 3339 with any offset, or epoch seconds -> naive UTC datetime; null if neither."""
    epoch_us = (text.str.strip_chars().cast(pl.Float64, strict=False) * 1_000_000).round(0)
    from_epoch = (
        pl.when(epoch_us.abs() < 4e15)
        .then(epoch_us)
        .otherwise(None)
        .cast(pl.Int64)
        .cast(pl.Datetime("us"))
    )
    iso = text.str.strip_chars().str.to_datetime(
        format="%+", time_zone="UTC", time_unit="us", strict=False
    )
    return (
        pl.when(text.str.contains(_EPOCH))
        .then(from_epoch)
        .otherwise(iso.dt.replace_time_zone(None))
    )


def local_to_utc(local: pl.Expr, tz: str) -> pl.Expr:
    """Wall-clock times of zone `tz` -> naive UTC; a time skipped by a DST change is null."""
    if tz == "UTC":
        return local
    return (
        local.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )
