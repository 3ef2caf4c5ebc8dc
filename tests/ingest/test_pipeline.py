"""Batches are parsed one ahead of their commit: what each commit saves is its own."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from ingest import pipeline
from ingest.enrich import Enricher
from ingest.pipeline import FileReport, IngestOptions, ingest, plan
from store import open_store


def test_each_commit_saves_the_parse_state_of_its_own_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The year rollover state stored with a batch describes that batch's last line, not
    the next batch's (which is parsed while this one commits)."""

    def slow_commit(*args: Any) -> int:
        time.sleep(0.05)  # the next batch is parsed by now: a shared state would show it
        return commit_batch(*args)

    commit_batch = pipeline.commit_batch
    monkeypatch.setattr(pipeline, "commit_batch", slow_commit)
    months = ["Dec 31 23:59:59"] * 300 + ["Jan  1 00:00:01"] * 300
    lines = [
        f"{stamp} h sshd[{i}]: Failed password for root from 1.2.3.4 port 1 ssh2"
        for i, stamp in enumerate(months)
    ]
    source = tmp_path / "auth.log"
    source.write_text("\n".join(lines) + "\n")
    options = IngestOptions(year=2025, batch_bytes=4096, commit_batches=1)
    enricher = Enricher.open("", "", ())
    seen: list[tuple[int, int]] = []
    try:
        with open_store(tmp_path / "v.duckdb") as store:

            def check(report: FileReport, done: int, size: int) -> None:
                ((lines_done, state),) = store.con.execute(
                    "SELECT lines_done, parse_state FROM sources"
                ).fetchall()
                seen.append((lines_done, json.loads(state)["last_month"]))

            (report,) = ingest(store, plan([source], options), options, enricher, check)
            years = store.con.execute(
                "SELECT year(ts), count(*) FROM events GROUP BY 1 ORDER BY 1"
            ).fetchall()
    finally:
        enricher.close()
    assert report.loaded == 600 and years == [(2025, 300), (2026, 300)]
    assert len(seen) > 5
    for lines_done, last_month in seen:
        assert last_month == (12 if lines_done <= 300 else 1), (lines_done, last_month)


def test_a_failing_batch_stops_the_run_and_a_rerun_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error in a worker stage reaches the caller; what was committed is whole, and the
    next run continues from there with every line once."""
    source = tmp_path / "events.jsonl"
    source.write_text(
        "".join(
            json.dumps({"ts": 1790000000 + i, "outcome": "failure", "user": "u", "ip": "1.2.3.4"})
            + "\n"
            for i in range(3000)
        )
    )
    real_parse = pipeline.PARSERS["jsonl"]
    calls = 0

    def failing_parse(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise RuntimeError("parser broke")
        return real_parse(*args)

    options = IngestOptions(batch_bytes=16384, commit_batches=1)
    db = tmp_path / "v.duckdb"
    enricher = Enricher.open("", "", ())
    try:
        monkeypatch.setitem(pipeline.PARSERS, "jsonl", failing_parse)
        with open_store(db) as store, pytest.raises(RuntimeError, match="parser broke"):
            ingest(store, plan([source], options), options, enricher)
        monkeypatch.setitem(pipeline.PARSERS, "jsonl", real_parse)
        with open_store(db) as store:
            ((partial, done),) = store.con.execute(
                "SELECT (SELECT count(*) FROM events), lines_done FROM sources"
            ).fetchall()
            assert partial == done and 0 < done < 3000
            (report,) = ingest(store, plan([source], options), options, enricher)
            rows = store.con.execute(
                "SELECT count(*), count(DISTINCT line_no), max(line_no) FROM events"
            ).fetchall()
    finally:
        enricher.close()
    assert report.already == done and rows == [(3000, 3000, 3000)]
