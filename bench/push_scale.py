"""Push groups on a store that has taken many pushes: every push is a source, and sources
are kept (a batch id sent again, however late, stores once), so each group first looks its
batch ids up among all of them.

    python -m bench.push_scale [--sources 1000000] [--groups 30]

Two databases with `--sources` earlier pushes each, one with the index on `sources.path`
(schema step 7) and one without it (as before step 7); then groups of 20 pushes x 50
events go to each in turn, paired on this noisy machine. Prints the median and the 95th
percentile of the batch-id lookup alone and of the whole group (`push_group`: parse,
enrich, the lookup, the write and its commit).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import orjson

from ingest.context import ParseContext
from ingest.enrich import Enricher
from ingest.push import EARLIER_PUSHES, PushedBody, push_group
from store import Store, open_store

PUSHES, EVENTS = 20, 50


def seeded(db: Path, sources: int, index: bool) -> Store:
    """A store holding `sources` earlier pushes (the sources rows only: the lookup reads
    nothing else), with or without the index. Batch ids are UUIDs, as clients make them:
    prefixes like `batch-17` would let DuckDB skip row groups by their min and max alone."""
    store = open_store(db)
    store.con.execute(
        "INSERT INTO sources SELECT range + 1, 'push', uuid()::VARCHAR, 'jsonl', 2600, "
        "sha256(range::VARCHAR), '', 2600, 50, 50, 0, 0, NULL, now()::TIMESTAMP, "
        "now()::TIMESTAMP FROM range(?)",
        [sources],
    )
    if not index:
        store.con.execute("DROP INDEX sources_by_path")
    store.con.execute("CHECKPOINT")
    return store


def group(round_no: int) -> list[PushedBody]:
    pushes = []
    for k in range(PUSHES):
        lines = [
            orjson.dumps({"ts": "2026-12-01T06:00:00Z", "outcome": "success",
                          "user": f"u{round_no}-{k}-{i}", "ip": f"192.0.2.{i + 1}"})
            for i in range(EVENTS)
        ]  # fmt: skip
        pushes.append(PushedBody(str(uuid.uuid4()), b"\n".join(lines) + b"\n"))
    return pushes


def timed(work: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    work(*args)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=30)
    args = parser.parse_args()
    print(f"{date.today()} {platform.machine()} {platform.python_version()}: "
          f"{args.sources:,} earlier pushes, groups of {PUSHES} x {EVENTS} events")  # fmt: skip
    enricher = Enricher.open("", "", ())
    context = ParseContext("jsonl", datetime(2026, 12, 1))
    with tempfile.TemporaryDirectory() as folder:
        stores = {
            name: seeded(Path(folder) / f"{name}.duckdb", args.sources, index)
            for name, index in (("without index", False), ("with index", True))
        }
        lookup: dict[str, list[float]] = {name: [] for name in stores}
        whole: dict[str, list[float]] = {name: [] for name in stores}
        for store in stores.values():  # the first group pays for compiling and caching
            push_group(store, group(-1), enricher, context)
        for round_no in range(args.groups):
            pushes = group(round_no)
            ids = [[p.batch_id for p in pushes]]
            for name, store in stores.items():
                lookup[name].append(timed(store.con.execute, EARLIER_PUSHES, ids))
                whole[name].append(timed(push_group, store, pushes, enricher, context))
        for store in stores.values():
            store.close()
    enricher.close()
    print(f"{'':15} {'lookup p50':>11} {'p95':>8} {'group p50':>10} {'p95':>8}  (ms)")
    for name in stores:
        cut = statistics.quantiles(lookup[name], n=20), statistics.quantiles(whole[name], n=20)
        print(f"{name:15} {statistics.median(lookup[name]):11.1f} {cut[0][18]:8.1f} "
              f"{statistics.median(whole[name]):10.1f} {cut[1][18]:8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
