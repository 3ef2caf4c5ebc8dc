"""Ingest speed: vahti against DuckDB's bare readers on the same files, with peak memory.

    python -m bench.ingest [--lines 1000000] [--big 5000000]
    python -m bench.ingest --against ../old-checkout [--rounds 5]

Prints events/s for 1M canonical JSONL events and a 1M-line sshd log, beside DuckDB's own
`read_json` / `read_csv` of the same file (the floor) and the time DuckDB takes to store the
events vahti made of it (the floor of the write alone), and the peak RSS of ingesting the
sshd log at 1M and at `--big` lines (memory must stay flat as files grow).

`--against DIR` times the sshd log's ingest in another checkout of vahti (an older commit,
`git worktree add`) and in this one, alternately, round by round: a before/after ratio of
paired runs on this noisy machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

CHILD = """
import json, resource, statistics, sys, threading, time
from pathlib import Path
kind, path, db = sys.argv[1], sys.argv[2], sys.argv[3]
samples, running = [], True

def sample_rss():
    while running:
        with open('/proc/self/status') as status:
            samples.append(next(int(l.split()[1]) for l in status if l.startswith('VmRSS')))
        time.sleep(0.1)

start = time.perf_counter()
if kind == "vahti":
    from ingest.enrich import Enricher
    from ingest.pipeline import IngestOptions, ingest, plan
    from store import open_store
    from vahti.settings import load_settings
    options = IngestOptions(year=2026)
    enricher = Enricher.open("", "", ())
    threading.Thread(target=sample_rss, daemon=True).start()
    with open_store(Path(db), memory_limit=load_settings(None).store.memory_limit) as store:
        (report,) = ingest(store, plan([Path(path)], options), options, enricher)
    count = report.loaded
elif kind == "store":
    # Only storing: the events vahti parsed from the file, written as ingest writes them.
    import datetime
    import duckdb
    import polars as pl
    from ingest.pipeline import IngestOptions
    from store import open_store
    from store.loading import SourceProgress, commit_batch
    with duckdb.connect(path, read_only=True) as parsed:
        events = parsed.sql("SELECT * FROM events ORDER BY event_id").to_arrow_table()
    step = IngestOptions().commit_rows
    progress = SourceProgress(source_id=1, kind="file", path=path, format="bench", head_len=0,
                              head_hash="", tail_hash="", bytes_done=0, lines_done=0, parse_state={})
    now = datetime.datetime(2026, 1, 1)
    start = time.perf_counter()
    with open_store(Path(db)) as store:
        for offset in range(0, events.num_rows, step):
            commit_batch(store, progress, offset == 0, events.slice(offset, step), pl.DataFrame(), now)
    count = events.num_rows
else:
    import duckdb
    con = duckdb.connect(db)
    reader = "read_json('%s', format='newline_delimited')" % path if kind == "read_json" else (
        "read_csv('%s', columns={'raw': 'VARCHAR'}, delim=chr(1), quote='', escape='', header=false)" % path)
    con.execute("CREATE TABLE t AS SELECT * FROM " + reader)
    count = con.execute("SELECT count(*) FROM t").fetchone()[0]
elapsed = time.perf_counter() - start
running = False
print(json.dumps({"seconds": elapsed, "count": count,
                  "median_mib": statistics.median(samples) / 1024 if samples else 0,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

USERS = [f"user{i}" for i in range(20_000)]


def _addresses(rng: random.Random, count: int) -> list[str]:
    """One distinct address per 20 events, the ratio seen in real logs (10M events: ~0.5M)."""
    return [
        f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        for _ in range(count)
    ]


def write_jsonl(path: Path, lines: int) -> None:
    rng = random.Random(1)
    pool = _addresses(rng, max(lines // 20, 1))
    with path.open("w") as out:
        for i in range(lines):
            ip = rng.choice(pool)
            out.write(
                json.dumps(
                    {
                        "ts": f"2026-10-{1 + i * 30 // lines:02d}T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}.{i % 1000:03d}Z",
                        "event": "login",
                        "outcome": "failure" if i % 7 == 0 else "success",
                        "user": rng.choice(USERS),
                        "customer_id": f"A{i % 20000}",
                        "ip": ip,
                        "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                        "session_id": f"s{i:012x}",
                    }
                )
                + "\n"
            )


def write_sshd(path: Path, lines: int) -> None:
    """Connections as OpenSSH with PAM logs them: PAM line, Failed lines, noise."""
    rng = random.Random(2)
    pool = _addresses(rng, max(lines // 20, 1))
    months = ("Oct", "Nov")
    with path.open("w") as out:
        pid, written = 1000, 0
        while written < lines:
            pid += 1
            ip = rng.choice(pool)
            stamp = f"{months[written * 2 // lines]} {1 + written % 28:2d} {written % 24:02d}:{written % 60:02d}:{written % 59:02d}"
            user = rng.choice(("root", "admin", "oracle", "matti"))
            block = [
                f"{stamp} mail sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}",
                f"{stamp} mail sshd[{pid}]: Failed password for {user} from {ip} port {rng.randrange(1024, 65535)} ssh2",
                f"{stamp} mail sshd[{pid}]: Failed password for {user} from {ip} port {rng.randrange(1024, 65535)} ssh2",
                f"{stamp} mail sshd[{pid}]: Received disconnect from {ip}: 11: Bye Bye [preauth]",
                f"{stamp} mail CRON[{pid + 1}]: pam_unix(cron:session): session opened for user root by (uid=0)",
            ]
            if pid % 50 == 0:
                block.append(
                    f"{stamp} mail sshd[{pid}]: Accepted publickey for matti from {ip} port 22 ssh2"
                )
            out.write("\n".join(block) + "\n")
            written += len(block)


def measure(kind: str, path: Path, folder: Path, checkout: Path | None = None) -> dict:
    """One run in a child process; `checkout`: import vahti from there (cwd comes first)."""
    db = folder / f"{kind}-{path.stem}-{time.monotonic_ns()}.duckdb"
    result = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(path), str(db)],
        capture_output=True,
        text=True,
        check=True,
        cwd=checkout,
    )
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "db": db}


def measure_format(label: str, path: Path, floor: str, lines: int, folder: Path) -> list[tuple]:
    """vahti's ingest, the bare DuckDB read (floor) and storing vahti's events alone."""
    vahti = measure("vahti", path, folder)
    return [
        (f"{label}, vahti ingest", vahti, lines),
        (f"{label}, DuckDB {floor} (floor)", measure(floor, path, folder), lines),
        (f"{label}, storing vahti's events alone", measure("store", vahti["db"], folder), lines),
    ]


def paired(against: Path, lines: int, rounds: int) -> None:
    """The sshd log in the other checkout and in this one, alternating who goes first."""
    here = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        sshd = folder / "auth.log"
        write_sshd(sshd, lines)
        print(f"{'round':>5} {'before s':>9} {'after s':>8} {'after/before':>12} {'events':>16}")
        ratios = []
        for round_no in range(rounds):
            order = [(against, "before"), (here, "after")]
            runs = {
                label: measure("vahti", sshd, folder, checkout)
                for checkout, label in (order if round_no % 2 == 0 else order[::-1])
            }
            before, after = runs["before"], runs["after"]
            ratios.append(after["seconds"] / before["seconds"])
            print(
                f"{round_no + 1:>5} {before['seconds']:>9.2f} {after['seconds']:>8.2f} "
                f"{ratios[-1]:>12.2f} {int(before['count']):>7,} {int(after['count']):>8,}"
            )
        ratios.sort()
        print(f"median after/before: {ratios[len(ratios) // 2]:.2f} ({lines:,} sshd lines)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=5_000_000)
    parser.add_argument("--against", type=Path, help="another checkout: paired sshd runs")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(
        f"# vahti ingest benchmark, {date.today()}, {platform.node()}, {platform.processor() or platform.machine()}"
    )
    if args.against:
        paired(args.against.resolve(), args.lines, args.rounds)
        return
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        jsonl, sshd, big = folder / "events.jsonl", folder / "auth.log", folder / "auth-big.log"
        write_jsonl(jsonl, args.lines)
        write_sshd(sshd, args.lines)
        rows = [
            *measure_format("JSONL", jsonl, "read_json", args.lines, folder),
            *measure_format("sshd", sshd, "read_csv", args.lines, folder),
        ]
        if args.big:
            write_sshd(big, args.big)
            rows.append(
                (f"sshd {args.big:,} lines, vahti ingest", measure("vahti", big, folder), args.big)
            )
        print(
            f"{'what':48} {'lines':>10} {'seconds':>8} {'lines/s':>10} {'events':>10} "
            f"{'peak MiB':>9} {'median MiB':>10}"
        )
        for label, figures, lines in rows:
            print(
                f"{label:48} {lines:>10,} {figures['seconds']:>8.2f} {lines / figures['seconds']:>10,.0f} "
                f"{int(figures['count']):>10,} {figures['peak_mib']:>9.0f} {figures['median_mib']:>10.0f}"
            )
        print(
            "\nvahti ingest times include starting Python and importing vahti (about 0.8 s); "
            "'storing ... alone' times only the INSERTs and the close. Median MiB: the RSS "
            "sampled every 0.1 s during vahti ingest (0: not sampled)."
        )


if __name__ == "__main__":
    main()
