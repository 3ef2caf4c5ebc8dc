"""CSV with a header row of canonical names; one record per line, split column-wise."""

from __future__ import annotations

import polars as pl

from ingest.canonical import TEXT_FIELDS, conform
from ingest.context import ParseContext, Parsed
from ingest.timestamps import parse_rfc3339_or_epoch

# Each field is preceded by a comma (one is prepended to the line), so no match is empty.
_FIELD = r',("(?:[^"]|"")*"|[^,"]*)'
KNOWN = ("ts", *TEXT_FIELDS)


class CsvHeaderError(ValueError):
    pass


def read_header(line: str) -> list[str]:
    names = [name.strip().strip('"').strip() for name in line.split(",")]
    if "ts" not in names or "user" not in names:
        raise CsvHeaderError(f"CSV header must name at least ts and user, found {line[:120]!r}")
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise CsvHeaderError(f"CSV header repeats {', '.join(sorted(duplicates))}")
    return names


def looks_like(line: str) -> bool:
    try:
        read_header(line)
    except CsvHeaderError:
        return False
    return True


def _unquote(field: pl.Expr) -> pl.Expr:
    quoted = field.str.starts_with('"')
    inner = field.str.slice(1, field.str.len_chars() - 2).str.replace_all('""', '"', literal=True)
    return pl.when(quoted).then(inner).otherwise(field)


def parse(lines: pl.DataFrame, lookahead: pl.DataFrame, context: ParseContext) -> Parsed:
    header: list[str] | None = context.state.get("header")
    skipped = 0
    if header is None:
        first = lines.filter(pl.col("raw").is_not_null()).head(1)
        if first.height == 0:
            return Parsed()
        header = read_header(first["raw"][0])
        context.state["header"] = header
        lines = lines.filter(pl.col("line_no") != first["line_no"][0])
        skipped = 1
    pieces = lines.with_columns(
        fields=(pl.lit(",") + pl.col("raw")).str.extract_all(_FIELD),
    ).with_columns(
        width=pl.col("fields").list.len(),
        covered=pl.col("fields").list.eval(pl.element().str.len_bytes()).list.sum(),
    )
    whole = pl.col("covered") == pl.col("raw").str.len_bytes() + 1
    good = pieces.filter(whole & (pl.col("width") == len(header)))
    bad = pieces.filter(~(whole & (pl.col("width") == len(header))))
    quarantine = bad.select(
        "line_no",
        "raw",
        reason=pl.when(~whole)
        .then(pl.lit("malformed CSV row (unbalanced quotes; fields cannot span lines)"))
        .otherwise(pl.format("CSV row has {} fields, header has " + str(len(header)), "width")),
    )
    columns = {
        name: _unquote(pl.col("fields").list.get(i).str.slice(1)) for i, name in enumerate(header)
    }
    table = good.select("line_no", "raw", **columns)
    empty_as_null = [
        pl.when(pl.col(n) == "").then(None).otherwise(pl.col(n)).alias(n) for n in header
    ]
    table = table.with_columns(empty_as_null)
    unknown = [n for n in header if n not in KNOWN]
    extra = pl.struct(unknown).struct.json_encode() if unknown else pl.lit(None, pl.String)
    events = table.with_columns(
        seq=pl.lit(0, pl.Int32),
        ts_raw=pl.col("ts"),
        ts=parse_rfc3339_or_epoch(pl.col("ts")),
        extra=extra,
    )
    return Parsed(
        events=conform(events), quarantine=quarantine, skipped=skipped, names_required=True
    )
