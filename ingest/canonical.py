"""The canonical event schema (contract section 1) as Polars types."""

from __future__ import annotations

import polars as pl

# A blank line is one of these characters only; it is skipped, never quarantined.
BLANK = " \t\r"

EVENT_TYPES = (
    "login", "logout", "session_activity", "password_reset", "password_change", "mfa", "probe",
)  # fmt: skip
OUTCOMES = ("success", "failure")

# Text fields of an event, in the order of the contract.
TEXT_FIELDS = (
    "event",
    "outcome",
    "user",
    "customer_id",
    "ip",
    "host",
    "user_agent",
    "session_id",
    "reason",
    "service",
)

# The longest line any parser reads, and the most of a line quarantine keeps: a 50 MB line
# is a mistake or an attack, not a login (the longest real ones, web access lines with
# long user agents and cookies, stay well under this).
MAX_LINE_BYTES = 64 * 1024
# The longest value each text field may hold, in characters; longer, the line is quarantined
# with the reason (a 10 MB user name must not become an event, an alert and a report).
MAX_FIELD_CHARS = {
    "event": 64, "outcome": 16, "user": 256, "customer_id": 256, "ip": 64, "host": 255,
    "user_agent": 1024, "session_id": 512, "reason": 256, "service": 128, "extra": 8192,
}  # fmt: skip

# What every parser returns: one row per event candidate, not yet validated.
PARSED_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "line_no": pl.Int64,
    "seq": pl.Int32,
    "ts": pl.Datetime("us"),
    "ts_raw": pl.String,
    **{name: pl.String for name in TEXT_FIELDS},
    "extra": pl.String,
    "raw": pl.String,
}

QUARANTINE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "line_no": pl.Int64,
    "raw": pl.String,
    "reason": pl.String,
}


def empty_parsed() -> pl.DataFrame:
    return pl.DataFrame(schema=PARSED_SCHEMA)


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Give a parser's frame exactly the parsed schema: missing columns become nulls."""
    columns = [
        frame[name].cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in PARSED_SCHEMA.items()
    ]
    return frame.select(columns)
