"""bench/push_scale.py runs and prints a row for each database (figures: docs/benchmarks.md)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_bench_prints_both_databases() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.push_scale", "--sources", "2000", "--groups", "3"],
        capture_output=True, text=True, cwd=ROOT, timeout=300, check=True,
    )  # fmt: skip
    number = r"\s+\d+\.\d"
    for name in ("without index", "with index"):
        assert re.search(rf"^{name}{number * 4}$", done.stdout, re.MULTILINE), done.stdout
    assert "2,000 earlier pushes" in done.stdout
