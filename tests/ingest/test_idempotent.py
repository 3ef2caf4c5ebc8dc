"""Nothing lost, nothing twice: re-runs, growth, copies, duplicates, and a real kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from ingest.files import SETTLE_SECONDS
from tests.conftest import ROOT
from tests.helpers import load, query


def _line(i: int) -> bytes:
    return (
        orjson.dumps(
            {
                "ts": 1790000000 + i,
                "outcome": "failure",
                "user": f"u{i % 50}",
                "ip": f"91.152.{i % 200}.{i % 250 + 1}",
            }
        )
        + b"\n"
    )


def test_second_run_loads_nothing(loghub: Path, db: Path) -> None:
    load(db, loghub, year=2025)
    (again,) = load(db, loghub, year=2025)
    assert (again.read, again.loaded, again.already) == (0, 0, 2000)
    assert query(db, "SELECT count(*) FROM events") == [(553,)]


def test_copy_under_another_name_is_the_same_source(tmp_path: Path, loghub: Path, db: Path) -> None:
    copy = tmp_path / "renamed.log"
    copy.write_bytes(loghub.read_bytes())
    load(db, loghub, year=2025)
    (again,) = load(db, copy, year=2025)
    assert again.loaded == 0 and query(db, "SELECT count(*) FROM sources") == [(1,)]


def test_grown_file_continues(tmp_path: Path, db: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(_line(i) for i in range(100)))
    load(db, source)
    with source.open("ab") as handle:
        handle.write(b"".join(_line(i) for i in range(100, 130)))
    (more,) = load(db, source)
    assert (more.read, more.loaded, more.already) == (30, 30, 100)
    assert query(db, "SELECT count(*), count(DISTINCT line_no), max(line_no) FROM events") == [
        (130, 130, 130)
    ]


def test_rewritten_file_is_new(tmp_path: Path, db: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(_line(i) for i in range(10)))
    load(db, source)
    source.write_bytes(b"".join(_line(i) for i in range(500, 520)))
    (again,) = load(db, source)
    assert again.loaded == 20 and query(db, "SELECT count(*) FROM sources") == [(2,)]


def test_identical_lines_are_two_events(tmp_path: Path, db: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_bytes(_line(1) * 2)
    (report,) = load(db, source)
    assert report.loaded == 2


def test_kill_mid_file_then_finish(tmp_path: Path, db: Path) -> None:
    """SIGKILL after a few committed batches; the next run ends with every line once."""
    source = tmp_path / "big.jsonl"
    total = 60_000
    source.write_bytes(b"".join(_line(i) for i in range(total)))
    config = tmp_path / "vahti.toml"
    config.write_text("[ingest]\nbatch_bytes = 65536\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAHTI_")}
    command = [
        sys.executable,
        "-m",
        "vahti.cli",
        "ingest",
        str(source),
        "--db",
        str(db),
        "--config",
        str(config),
        "-v",
    ]
    child = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=ROOT
    )
    assert child.stderr is not None
    committed = 0
    for line in child.stderr:
        if line.startswith("committed batch"):
            committed += 1
            if committed == 5:
                child.send_signal(signal.SIGKILL)
                break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    partial = query(db, "SELECT count(*) FROM events")[0][0]
    assert 0 < partial < total
    finish = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert finish.returncode == 0, finish.stderr
    rows = query(
        db, "SELECT count(*), count(DISTINCT line_no), min(line_no), max(line_no) FROM events"
    )
    assert rows == [(total, total, 1, total)]


def test_a_line_being_written_waits_for_its_newline(tmp_path: Path, db: Path) -> None:
    """A file caught in the middle of writing its last line: the whole lines load now, the
    cut one when it is complete, as one line (not a fragment and a rest)."""
    source = tmp_path / "events.jsonl"
    whole = b"".join(_line(i) for i in range(10))
    source.write_bytes(whole[:-20])  # the writer is 20 bytes short of line 10's newline
    (first,) = load(db, source, live=True)
    assert (first.read, first.loaded) == (9, 9)
    assert any("no newline yet" in note for note in first.notes)
    with source.open("ab") as handle:
        handle.write(whole[-20:] + _line(10))
    (second,) = load(db, source, live=True)
    assert (second.read, second.loaded, second.quarantined) == (2, 2, 0)
    assert query(db, "SELECT count(*), count(DISTINCT line_no), max(line_no) FROM events") == [
        (11, 11, 11)
    ]


def test_a_finished_file_without_a_final_newline_loads_its_last_line(
    tmp_path: Path, db: Path
) -> None:
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(_line(i) for i in range(5)).rstrip(b"\n"))
    settled = time.time() - SETTLE_SECONDS - 1
    os.utime(source, (settled, settled))
    (report,) = load(db, source, live=True)
    assert (report.read, report.loaded) == (5, 5) and not report.notes


def test_a_file_named_once_is_read_to_its_end(tmp_path: Path, db: Path) -> None:
    """A log just copied (mtime now) whose last line has no newline, as many test logs
    are: without --live it is read as it is, last line included."""
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(_line(i) for i in range(5)).rstrip(b"\n"))
    (report,) = load(db, source)
    assert (report.read, report.loaded) == (5, 5) and not report.notes
