"""Purge cost: retention purge of about half of 10M events, pseudonymisation of a further
part, and the compaction that makes the deletion real; seconds per step, file sizes, peak
memory.

    python -m bench.purge [--events 10000000]

Events come from `bench.detect.build` (30 days from 2026-10-01); the policy is set so the
oldest half is due and the next sixth is pseudonymised.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from bench.detect import build

CHILD = """
import json, resource, sys, time
from datetime import datetime, timedelta
from pathlib import Path
from privacy.purge import purge
from privacy.retention import Policy
from store import open_store
from store.audit import AuditTrail
now = datetime(2026, 11, 25)
policy = Policy({"events": timedelta(days=40), "quarantine": timedelta(days=30),
                 "alerts": timedelta(days=730), "audit": timedelta(days=730)},
                timedelta(days=35))
store = open_store(Path(sys.argv[1]), memory_limit="2GB")
start = time.perf_counter()
report = purge(store, AuditTrail(store), policy, now, "bench")
total = time.perf_counter() - start
print(json.dumps({"seconds": total, "deleted": report.kinds[0]["deleted"],
                  "pseudonymised": report.pseudonymised, "compacted": report.compacted,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

TIMED = """
import sys, time
from pathlib import Path
from store import open_store
from store.compaction import compact
store = open_store(Path(sys.argv[1]), memory_limit="2GB")
start = time.perf_counter()
compact(store)
print(time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    args = parser.parse_args()
    print(f"# vahti purge benchmark, {date.today()}, {platform.node()}, {platform.machine()}, "
          f"{os.cpu_count()} cores: {args.events:,} events")  # fmt: skip
    with tempfile.TemporaryDirectory() as name:
        db = Path(name) / "purge.duckdb"
        build(db, args.events)
        size = db.stat().st_size
        alone = subprocess.run([sys.executable, "-c", TIMED, str(db)], capture_output=True,
                               text=True, check=True)  # fmt: skip
        print(f"compaction alone (nothing deleted): {float(alone.stdout):.1f} s, "
              f"file {size / 2**20:.0f} MiB")  # fmt: skip
        result = subprocess.run([sys.executable, "-c", CHILD, str(db)], capture_output=True,
                                text=True, check=True)  # fmt: skip
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        compacted = figures["compacted"] or {}
        print(
            f"purge: {figures['deleted']:,} events deleted, {figures['pseudonymised']:,} "
            f"pseudonymised, compacted {compacted.get('bytes_before', 0) / 2**20:.0f} -> "
            f"{compacted.get('bytes_after', 0) / 2**20:.0f} MiB, in {figures['seconds']:.1f} s "
            f"(peak {figures['peak_mib']:.0f} MiB)"
        )


if __name__ == "__main__":
    main()
