from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOGHUB = ROOT.parent / "shared" / "data" / "loghub" / "OpenSSH_2k.log"


@pytest.fixture
def loghub() -> Path:
    if not LOGHUB.exists():
        pytest.fail(f"real test data missing: {LOGHUB} (../shared beside the clone)")
    return LOGHUB


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "vahti.duckdb"


@contextmanager
def database_held_by_another_process(db: Path) -> Iterator[int]:
    """A second process with the DuckDB file open, as a running `vahti serve` would be."""
    code = f"import duckdb,time; c=duckdb.connect({str(db)!r}); print('ok', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
    stdin: str | None = None, through: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """The real command line, in a child process, as a user runs it (`through`: a command
    that runs it, such as setpriv)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VAHTI_")}
    environment.update(env or {})
    return subprocess.run(
        [*through, sys.executable, "-m", "vahti.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=environment,
        cwd=cwd,
        timeout=300,
    )
