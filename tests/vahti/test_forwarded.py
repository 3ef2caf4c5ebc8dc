"""Forwarded headers through a real `vahti serve`: ignored unless the peer is a configured
trusted proxy, so a guesser cannot pose as new addresses to escape the limiter."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from store import open_store
from store.tokens import create_token
from tests.vahti.test_serve import _free_port, _get, _wait_for
from vahti.shell import now_utc


def _status(url: str, token: str, forwarded_for: str) -> int:
    request = urllib.request.Request(url, headers={
        "Authorization": f"Bearer {token}", "X-Forwarded-For": forwarded_for})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _serve(tmp_path: Path, config: str) -> Iterator[tuple[str, str]]:
    db = tmp_path / "vahti.duckdb"
    with open_store(db) as store:
        _, secret = create_token(store.con, "analyst-1", "analyst", now_utc())
    (tmp_path / "vahti.toml").write_text(config)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAHTI_")}
    env.update(VAHTI_SERVICE_DETECT_EVERY="1h", VAHTI_INGEST_SPOOL_DIR=str(tmp_path / "spool"))
    server = subprocess.Popen(
        [sys.executable, "-m", "vahti.cli", "serve", "--port", str(port), "--db", str(db),
         "--config", str(tmp_path / "vahti.toml")],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        assert _wait_for(lambda: _get(f"{url}/healthz")[0] == 200)
        yield f"{url}/api/v1/alerts", secret
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)


@pytest.fixture
def untrusted(tmp_path: Path) -> Iterator[tuple[str, str]]:
    yield from _serve(tmp_path, "[api]\nauth_failures_per_minute = 5\n")


@pytest.fixture
def behind_proxy(tmp_path: Path) -> Iterator[tuple[str, str]]:
    yield from _serve(
        tmp_path, '[api]\nauth_failures_per_minute = 5\ntrusted_proxies = ["127.0.0.1/32"]\n'
    )


def test_a_spoofed_forwarded_header_does_not_escape_the_limiter(
    untrusted: tuple[str, str],
) -> None:
    url, secret = untrusted
    codes = [_status(url, "vahti_wrong", f"203.0.113.{i}") for i in range(8)]
    assert codes == [401] * 5 + [429] * 3
    assert _status(url, secret, "203.0.113.99") == 200  # the valid token is never refused


def test_a_trusted_proxy_names_the_client(behind_proxy: tuple[str, str]) -> None:
    url, secret = behind_proxy
    spread = [_status(url, "vahti_wrong" + str(i), f"203.0.113.{i}") for i in range(8)]
    assert spread == [401] * 8  # eight clients, a failure each
    same = [_status(url, "vahti_other" + str(i), "198.51.100.7") for i in range(6)]
    assert same == [401] * 5 + [429]  # its fifth failure locked that client
    assert _status(url, "vahti_third", "198.51.100.8") == 401
    assert _status(url, secret, "198.51.100.7") == 200
