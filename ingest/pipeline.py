"""Loading files: plan (check everything first), then batch by batch, in transactions."""

from __future__ import annotations

import copy
import dataclasses
import os
import zoneinfo
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pyarrow.compute as pc

from ingest.canonical import BLANK
from ingest.context import AccessRules, ParseContext, Parsed
from ingest.csvfile import CsvHeaderError, read_header
from ingest.enrich import Enricher, enrich
from ingest.files import (
    HEAD,
    SETTLE_SECONDS,
    head_of,
    matching_source,
    range_sample,
    settled_end,
    tail_before,
)
from ingest.formats import FORMATS, LOOKAHEAD_BYTES, PARSERS, detect
from ingest.lines import Chunk, read_chunks, text_lines, unreadable
from ingest.normalise import validate
from ingest.transactions import Batch, Unstored, groups, take
from store import Store
from store.loading import (
    SourceProgress,
    commit_batch,
    event_rows,
    file_sources,
    last_line_stored,
    next_event_id,
    next_source_id,
    numbered,
)


class InputError(ValueError):
    """Bad input named in the message: nothing was written."""


@dataclass(frozen=True)
class IngestOptions:
    format: str = "auto"
    year: int | None = None
    tz: str = "UTC"
    batch_bytes: int = 16 * 1024 * 1024
    # A transaction takes chunks until they hold a DuckDB row group of events, and stores
    # whole row groups of them (ingest/transactions.py) ...
    commit_rows: int = 122_880
    commit_batches: int = 4  # ... or this many chunks, and stores all their events
    access: AccessRules = field(default_factory=AccessRules)
    # A followed file (the spool, `ingest --live`) may be caught mid-line: its unfinished last
    # line waits. A file named once is read as it is (a copied log often lacks the newline).
    live: bool = False


@dataclass(frozen=True)
class FilePlan:
    path: Path
    format: str | None  # None: empty file so far
    size: int
    mtime: datetime


@dataclass
class FileReport:
    path: Path
    format: str | None
    read: int = 0  # lines read this run
    loaded: int = 0  # events stored this run
    skipped: int = 0  # lines that are not login events
    quarantined: int = 0  # lines kept aside with a reason
    already: int = 0  # lines loaded by earlier runs
    notes: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)  # quarantined this run, by reason

    def top_reasons(self, n: int = 3) -> list[tuple[str, int]]:
        return sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


_In = TypeVar("_In")
_Out = TypeVar("_Out")

BatchCallback = Callable[[FileReport, int, int], None]  # report, bytes done, file size


def check_options(options: IngestOptions) -> None:
    if options.format not in FORMATS:
        raise InputError(f"unknown format {options.format!r}: use one of {', '.join(FORMATS)}")
    if options.year is not None and not 1970 <= options.year <= 2099:
        raise InputError(f"bad --year {options.year}: give a year between 1970 and 2099")
    try:
        zoneinfo.ZoneInfo(options.tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            f"bad --tz {options.tz!r}: not a known time zone (e.g. Europe/Helsinki)"
        ) from exc


def _expanded(paths: Iterable[Path]) -> list[tuple[Path, bool]]:
    """(file, whether it was named itself rather than found in a folder)."""
    files: list[tuple[Path, bool]] = []
    for path in paths:
        if path.is_dir():
            # Not folders (a folder is read one level deep); everything else, so that a broken
            # link or a pipe is named rather than passed over in silence.
            found = sorted(
                p for p in path.iterdir() if not p.is_dir() and not p.name.startswith(".")
            )
            files.extend((p, False) for p in found)
        else:
            files.append((path, True))
    return files


def plan(paths: Iterable[Path], options: IngestOptions) -> list[FilePlan]:
    """Check every file before anything is written: readable, and of a known format."""
    plans, problems = survey(paths, options)
    if problems:
        raise InputError(problems[0])
    return plans


def survey(paths: Iterable[Path], options: IngestOptions) -> tuple[list[FilePlan], list[str]]:
    """Like `plan`, but a file found in a folder that cannot be read (or whose format
    cannot be told) is left out and named, so the rest of the folder loads; a file named
    itself still stops everything (InputError)."""
    check_options(options)
    plans, problems = [], []
    for path, named in _expanded(paths):
        if not named and not path.is_file():
            problems.append(f"{path}: cannot read: not a regular file (a broken link or a pipe)")
            continue
        try:
            plans.append(_plan_one(path, options))
        except InputError as exc:
            if named:
                raise
            problems.append(str(exc))
    return plans, problems


def _plan_one(path: Path, options: IngestOptions) -> FilePlan:
    try:
        with path.open("rb") as handle:
            sample = handle.read(64 * 1024)
            stat = os.fstat(handle.fileno())
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    fmt = options.format if options.format != "auto" else detect(sample)
    if fmt is None and sample.strip():
        raise InputError(
            f"{path}: cannot tell the format from its first lines; give --format "
            "(jsonl, csv, sshd or access)"
        )
    if fmt == "csv":
        _check_csv_header(path, sample)
    mtime = datetime.fromtimestamp(stat.st_mtime, UTC).replace(tzinfo=None)
    return FilePlan(path=path, format=fmt, size=stat.st_size, mtime=mtime)


@dataclass
class _Run:
    """What one ingest run shares across its files."""

    store: Store
    options: IngestOptions
    enricher: Enricher
    next_event_id: int
    on_batch: BatchCallback | None


def _check_csv_header(path: Path, sample: bytes) -> None:
    text = sample.decode("utf-8", errors="replace")
    first = next((line for line in text.split("\n") if line.strip(BLANK)), None)
    if first is None:
        return
    try:
        read_header(first.strip("\r"))
    except CsvHeaderError as exc:
        raise InputError(f"{path}: {exc}") from exc


def ingest(
    store: Store,
    plans: list[FilePlan],
    options: IngestOptions,
    enricher: Enricher,
    on_batch: BatchCallback | None = None,
) -> list[FileReport]:
    run = _Run(store, options, enricher, next_event_id(store), on_batch)
    return [_ingest_file(run, p) for p in plans]


def _context(plan: FilePlan, fmt: str, options: IngestOptions, state: dict) -> ParseContext:
    return parse_context(fmt, plan.mtime, options, state)


def parse_context(
    fmt: str, mtime: datetime, options: IngestOptions, state: dict[str, Any]
) -> ParseContext:
    """What the parser of `fmt` needs: the options, and the state stored with the source."""
    year = options.year if options.year is not None else state.get("year")
    return ParseContext(
        format=fmt,
        mtime=mtime,
        year=year,
        tz=state.get("tz") or options.tz,
        access=options.access,
        state=state,
    )


def _ingest_file(run: _Run, plan: FilePlan) -> FileReport:
    report = FileReport(path=plan.path, format=plan.format)
    if plan.format is None:
        return report
    with plan.path.open("rb") as handle:
        fd = handle.fileno()
        size = os.fstat(fd).st_size
        if size == 0:
            return report
        found = matching_source(fd, size, file_sources(run.store, min(size, HEAD)))
        progress = found or _new_source(run.store, plan)
        report.format = progress.format
        report.already = progress.lines_done
        end = settled_end(fd, size, progress.bytes_done) if run.options.live else size
        if end < size:
            report.notes.append(
                f"the last line has no newline yet and the file changed less than "
                f"{SETTLE_SECONDS} s ago: it is left for the next run"
            )
        if end <= progress.bytes_done:
            return report
        ahead = progress.parse_state.pop(STORED_AHEAD, None)  # not the parser's
        context = _context(plan, progress.format, run.options, progress.parse_state)
        if progress.format == "sshd":
            progress.parse_state.update(year=context.year, tz=context.tz)
            if context.year is None:
                report.notes.append(
                    f"syslog times read in zone {context.tz}, year from the file's modification "
                    f"time ({plan.mtime:%Y-%m-%d}); use --year/--tz to say otherwise"
                )
        chunks = read_chunks(
            handle,
            progress.bytes_done,
            progress.lines_done + 1,
            run.options.batch_bytes,
            LOOKAHEAD_BYTES.get(progress.format, 0),
            end,
        )
        try:
            resumed = _stored_beyond(run.store, progress, fd, ahead, report) if found else None
            loading = _Loading(fd, progress, report, found is None, resumed)
            _load_chunks(run, chunks, context, loading, end)
        finally:
            if context.engine is not None:
                context.engine.close()
    return report


@dataclass
class _Loading:
    """One file being loaded: what its transactions save and need."""

    fd: int
    progress: SourceProgress
    report: FileReport
    is_new: bool  # no `sources` row yet
    # After a crash with a batch partly stored: the saved position's line and the last line
    # with events stored past it (they must not be stored twice).
    resumed: tuple[int, int] | None


# The bytes past the saved position whose events are partly stored already: checked on the
# next run, so that events are only recognised as stored in the very lines they came from.
STORED_AHEAD = "stored_ahead"


def _load_chunks(
    run: _Run, chunks: Iterator[Chunk], context: ParseContext, loading: _Loading, size: int
) -> None:
    """Three stages, each in its own thread one batch ahead of the next: parsing (Polars,
    DuckDB: no GIL), validation and GeoIP (Polars, numpy, one decoding per new record),
    commit (DuckDB: no GIL). Commits stay in file order, one transaction per group of
    batches (ingest/transactions.py): a kill loses at most what is not yet committed."""
    source_id = loading.progress.source_id
    parsed = _one_ahead(chunks, lambda chunk: _parse(chunk, loading.fd, context))
    batches = _one_ahead(parsed, lambda batch: _enrich(run, batch, source_id))
    queue: deque[Unstored] = deque()
    rows, most = run.options.commit_rows, run.options.commit_batches

    def commit(unit: int | None) -> None:
        _commit(run, loading, queue, unit)
        if run.on_batch is not None:
            run.on_batch(loading.report, loading.progress.bytes_done, size)

    with closing(parsed), closing(batches):
        for group, whole_row_groups in groups(batches, rows, most):
            queue.extend(Unstored(batch) for batch in group)
            commit(rows if whole_row_groups else None)
        while queue:  # events still waiting when the file ends
            commit(None)


def _stored_beyond(
    store: Store, progress: SourceProgress, fd: int, ahead: Any, report: FileReport
) -> tuple[int, int] | None:
    """(saved line, last line stored past it) when a crash left a batch partly stored and
    the file still holds the same bytes there; otherwise None."""
    last = last_line_stored(store, progress.source_id)
    if last is None or last <= progress.lines_done:
        return None
    end = int(ahead["end"]) if isinstance(ahead, dict) else 0
    if end and range_sample(fd, progress.bytes_done, end) == ahead["hash"]:
        return progress.lines_done, last
    report.notes.append(
        "this file differs, past the point reached, from the lines an interrupted run had "
        "partly stored; it is loaded as it is now"
    )
    return None


def _one_ahead(items: Iterator[_In], work: Callable[[_In], _Out]) -> Generator[_Out, None, None]:
    """`work` on each item in a worker thread, done for the next item while the caller
    handles this one."""

    def step() -> _Out | None:
        item = next(items, None)
        return None if item is None else work(item)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest") as worker:
        pending = worker.submit(step)
        while (result := pending.result()) is not None:
            pending = worker.submit(step)
            yield result


def _new_source(store: Store, plan: FilePlan) -> SourceProgress:
    source_id = next_source_id(store)
    assert plan.format is not None
    return SourceProgress(
        source_id=source_id,
        kind="file",
        path=str(plan.path.resolve()),
        format=plan.format,
        head_len=0,
        head_hash="",
        tail_hash="",
        bytes_done=0,
        lines_done=0,
        parse_state={},
    )


@dataclass(frozen=True)
class _Parsed:
    """One chunk parsed: events not yet validated or enriched."""

    end: int  # byte position after the chunk
    lines: int
    parsed: Parsed
    broken: pl.DataFrame  # lines that are not UTF-8
    head: tuple[int, str]
    tail_hash: str
    parse_state: dict[str, Any]  # the parser's state after this chunk, not the next one


def _parse(chunk: Chunk, fd: int, context: ParseContext) -> _Parsed:
    lines = chunk.lines
    broken = unreadable(lines, chunk.cut_short)
    usable = lines.filter(text_lines()).select("line_no", "raw")
    ahead = chunk.lookahead.filter(text_lines()).select("line_no", "raw")
    return _Parsed(
        end=chunk.end,
        lines=lines.height,
        parsed=PARSERS[context.format](usable, ahead, context),
        broken=broken,
        head=head_of(fd, chunk.end),
        tail_hash=tail_before(fd, chunk.end),
        parse_state=copy.deepcopy(context.state),
    )


def _enrich(run: _Run, batch: _Parsed, source_id: int) -> Batch:
    valid, rejected = validate(batch.parsed.events, batch.parsed.names_required)
    enriched, bad_address = enrich(valid, run.enricher)
    quarantine = pl.concat([batch.broken, batch.parsed.quarantine, rejected, bad_address])
    now = datetime.now(UTC).replace(tzinfo=None)
    events = numbered(enriched, run.next_event_id, source_id, now)
    run.next_event_id += events.height
    return Batch(
        end=batch.end,
        lines=batch.lines,
        skipped=batch.lines - quarantine.height - events["line_no"].n_unique(),
        events=event_rows(events),
        quarantine=quarantine,
        now=now,
        head=batch.head,
        tail_hash=batch.tail_hash,
        parse_state=batch.parse_state,
    )


def _commit(run: _Run, loading: _Loading, queue: deque[Unstored], unit: int | None) -> None:
    """One transaction: the events `take` gives, and the batches that completes."""
    progress, report = loading.progress, loading.report
    events, done = take(queue, unit)
    known_after = None
    if loading.resumed is not None and events.num_rows:
        first_line = pc.min(events.column("line_no")).as_py()
        known_after = loading.resumed[0] if first_line <= loading.resumed[1] else None
    last = done[-1]
    lines = sum(b.lines for b in done)
    quarantine = pl.concat([b.quarantine for b in done])
    skipped = sum(b.skipped for b in done)
    progress.head_len, progress.head_hash = last.head
    progress.tail_hash = last.tail_hash
    progress.bytes_done = last.end
    progress.lines_done += lines
    progress.events += sum(b.events.num_rows for b in done)
    progress.quarantined += quarantine.height
    progress.skipped += skipped
    state = dict(last.parse_state)
    if queue and queue[0].stored:  # a batch partly stored: say which bytes it came from
        end = queue[0].batch.end
        state[STORED_AHEAD] = {"end": end, "hash": range_sample(loading.fd, last.end, end)}
    saved = dataclasses.replace(progress, parse_state=state)
    stored = commit_batch(
        run.store, saved, loading.is_new, events, quarantine, last.now, known_after
    )
    loading.is_new = False
    report.read += lines
    report.loaded += stored
    report.skipped += skipped
    report.quarantined += quarantine.height
    for reason, count in quarantine["reason"].value_counts().iter_rows():
        report.reasons[reason] = report.reasons.get(reason, 0) + count
