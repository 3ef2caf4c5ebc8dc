"""Encryption at rest needs DuckDB 1.5.5 and its crypto module from PyPI (`vahti[encrypted]`),
while vahti runs on the newest DuckDB by default; so the encryption checks run in a child
pytest with those two packages first on the path, and this process checks what a user of
the default install is told."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from store import open_store
from store.encryption import EncryptionError

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PACKAGES = ("duckdb==1.5.5", "duckdb-extension-httpfs==1.5.5")


@pytest.fixture(scope="session")
def duckdb_155(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two packages of the `encrypted` extra, installed beside (not into) this venv."""
    target = tmp_path_factory.getbasetemp().parent / "vahti-duckdb-1.5.5"
    if not (target / "duckdb_extension_httpfs").exists():
        install = [sys.executable, "-m", "pip", "install", "-q", "--target", str(target), *PACKAGES]
        done = subprocess.run(install, capture_output=True, text=True, timeout=600)
        if done.returncode:
            pytest.fail(
                f"cannot install {' '.join(PACKAGES)} from the registry: {done.stderr[-800:]}"
            )
    return target


def test_encryption_checks_under_duckdb_155(duckdb_155: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(duckdb_155), str(ROOT)])}
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-p", "no:randomly",
         str(HERE / "encryption_checks.py")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=900,
    )  # fmt: skip
    assert child.returncode == 0, child.stdout[-4000:] + child.stderr[-2000:]
    # The child's own check asserts it runs DuckDB 1.5.5; all of its tests must pass.
    assert re.search(r"=+ 9 passed in ", child.stdout), child.stdout[-2000:]


def test_a_key_without_the_encrypted_install_says_how(tmp_path: Path) -> None:
    import duckdb

    if duckdb.__version__ == "1.5.5":
        pytest.skip("this process runs DuckDB 1.5.5 itself")
    with pytest.raises(EncryptionError, match=r"vahti\[encrypted\]"):
        open_store(tmp_path / "vahti.duckdb", key="ab" * 32)
