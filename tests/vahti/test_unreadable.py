"""A folder with one file that cannot be read: the rest loads, the file is named, exit 1."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import LOGHUB, run_cli
from tests.helpers import query


def _as_its_owner_bits_say() -> list[str]:
    """Root reads every file whatever its mode; without these two capabilities it reads
    as the file's owner bits say, so the test holds where CI runs as root too."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("root reads every file whatever its mode, and setpriv is not installed")
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"]


def test_a_folder_loads_what_it_can_read(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(LOGHUB, folder / "a-auth.log")
    locked = folder / "b-locked.log"
    shutil.copy(LOGHUB, locked)
    locked.chmod(0)
    db = tmp_path / "vahti.duckdb"
    result = run_cli("ingest", str(folder), "--year", "2016", "--db", str(db),
                     through=_as_its_owner_bits_say())  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "left out" in result.stderr and "b-locked.log: cannot read" in result.stderr
    assert query(db, "SELECT count(*) FROM events") == [(553,)]


def test_a_folder_loads_what_it_can_tell(tmp_path: Path) -> None:
    """The same rule for a file whose format cannot be told (root reads every file)."""
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(LOGHUB, folder / "a-auth.log")
    (folder / "b-notes.txt").write_text("shopping list\nmilk\nbread\n")
    db = tmp_path / "vahti.duckdb"
    result = run_cli("ingest", str(folder), "--year", "2016", "--db", str(db))
    assert result.returncode == 1, result.stderr
    assert "b-notes.txt: cannot tell the format" in result.stderr
    assert query(db, "SELECT count(*) FROM events") == [(553,)]


def test_a_file_named_itself_still_stops_everything(tmp_path: Path) -> None:
    db = tmp_path / "vahti.duckdb"
    result = run_cli("ingest", str(LOGHUB), str(tmp_path / "missing.log"), "--db", str(db))
    assert result.returncode == 2 and "missing.log: cannot read" in result.stderr
    assert not db.exists()


def test_a_broken_link_and_a_pipe_in_a_folder_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(LOGHUB, folder / "a-auth.log")
    (folder / "b-gone.log").symlink_to(tmp_path / "nowhere.log")
    os.mkfifo(folder / "c-pipe.log")
    db = tmp_path / "vahti.duckdb"
    result = run_cli("ingest", str(folder), "--year", "2016", "--db", str(db))
    assert result.returncode == 1, result.stderr
    assert "b-gone.log: cannot read: not a regular file" in result.stderr
    assert "c-pipe.log: cannot read: not a regular file" in result.stderr
    assert query(db, "SELECT count(*) FROM events") == [(553,)]
