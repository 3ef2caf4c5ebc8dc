"""`vahti serve` as a real process: it listens, runs its jobs, guards the database, and stops
cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from store import open_store
from tests.conftest import run_cli


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(db: Path, cwd: Path, *more: str, **env: str) -> tuple[subprocess.Popen[str], int]:
    """A real `vahti serve` on a free port: no VAHTI_ setting from this shell, only `env`."""
    port = _free_port()
    settings = {k: v for k, v in os.environ.items() if not k.startswith("VAHTI_")}
    settings.update(env)
    server = subprocess.Popen(
        [sys.executable, "-m", "vahti.cli", "serve", "--port", str(port), "--db", str(db), *more],
        env=settings, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return server, port


def _get(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _post(url: str, token: str) -> int:
    request = urllib.request.Request(url, method="POST", data=b"")
    request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _wait_for(check: Any, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = check()
        except (urllib.error.URLError, ConnectionError):
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition not met in time")


def test_serve_runs_jobs_guards_the_database_and_stops_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "vahti.duckdb"
    created = run_cli("token", "create", "--name", "ops", "--role", "admin", "--db", str(db))
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    spool = tmp_path / "spool"
    server, port = _serve(
        db, tmp_path, VAHTI_SERVICE_SPOOL_EVERY="1s", VAHTI_INGEST_SPOOL_DIR=str(spool),
        VAHTI_RETENTION_EVENTS="2d",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        assert _wait_for(lambda: _get(f"{base}/healthz")[0] == 200)
        recent = datetime.now(UTC).isoformat()
        events = [
            {"ts": ts, "outcome": "failure", "user": "spooled", "ip": "192.0.2.9"}
            for ts in ("2020-11-20T08:00:00Z", "2020-11-20T08:00:01Z", recent)
        ]
        partial = spool / "batch.jsonl.tmp"
        partial.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
        partial.rename(spool / "batch.jsonl")

        def spooled() -> bool:
            status, body = _get(f"{base}/api/v1/events?user=spooled&purpose=test", token)
            return status == 200 and len(body["events"]) == 3

        assert _wait_for(spooled)
        status, jobs = _get(f"{base}/api/v1/jobs", token)
        assert status == 200 and {j["name"] for j in jobs} == {
            "spool",
            "detect",
            "checkpoint",
            "retention",
        }
        assert all(j["outcome"] in ("ok", "running", "never run") for j in jobs), jobs

        # A purge asked for over the API runs as the retention job: it compacts the file
        # under the running server, which goes on answering afterwards.
        assert _post(f"{base}/api/v1/retention/purge", token) == 202

        def purged() -> bool:
            jobs = {j["name"]: j for j in _get(f"{base}/api/v1/jobs", token)[1]}
            return jobs["retention"]["runs"] >= 1

        assert _wait_for(purged)
        jobs = {j["name"]: j for j in _get(f"{base}/api/v1/jobs", token)[1]}
        assert jobs["retention"]["outcome"] == "ok", jobs["retention"]["message"]
        assert "events 2" in jobs["retention"]["message"]
        assert "compacted" in jobs["retention"]["message"]
        status, body = _get(f"{base}/api/v1/events?user=spooled&purpose=test", token)
        assert status == 200 and [e["ts"][:4] for e in body["events"]] == [recent[:4]]

        # Commands work beside the server, through its API: with VAHTI_TOKEN...
        listed = run_cli("events", "--user", "spooled", "--json", "--db", str(db),
                         env={"VAHTI_TOKEN": token})  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        assert [e["user"] for e in json.loads(listed.stdout)] == ["spooled"]
        # ...or with the token the server left for its operator, owner-only.
        local = tmp_path / "vahti.duckdb.token"
        assert local.stat().st_mode & 0o777 == 0o600
        alerts = run_cli("alerts", "--json", "--db", str(db))
        assert alerts.returncode == 0 and json.loads(alerts.stdout) == []
        again = run_cli("ingest", str(spool / "batch.jsonl"), "--db", str(db))
        assert again.returncode == 0, again.stderr
        assert "loaded 0 events" in again.stdout  # the spool job loaded that file already
        local.chmod(0o644)  # a token file others could read is refused, not used
        exposed = run_cli("alerts", "--db", str(db))
        assert exposed.returncode == 1 and "readable by others" in exposed.stderr
        local.chmod(0o600)
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr
    assert "spooled" not in stderr and "192.0.2.9" not in stderr  # no personal data logged
    assert re.search(r"\b\d{5,} objects made at startup kept out of garbage collection", stderr)
    assert not (tmp_path / "vahti.duckdb.holder").exists()
    assert not (tmp_path / "vahti.duckdb.token").exists()  # and its token is revoked:
    tokens = json.loads(run_cli("token", "list", "--json", "--db", str(db)).stdout)
    assert all(t["revoked_at"] for t in tokens if t["name"].startswith("local-cli"))
    with open_store(db) as store:
        ((count,),) = store.con.execute(
            "SELECT count(*) FROM events WHERE \"user\" = 'spooled'"
        ).fetchall()
    assert count == 1


def test_token_and_events_commands(tmp_path: Path, loghub: Path) -> None:
    db = str(tmp_path / "vahti.duckdb")
    assert run_cli("ingest", str(loghub), "--year", "2024", "--db", db).returncode == 0
    made = run_cli("token", "create", "--name", "liaison-1", "--role", "liaison", "--db", db)
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("vahti_") and len(secret) > 40
    listed = json.loads(run_cli("token", "list", "--json", "--db", db).stdout)
    assert [(t["name"], t["role"], t["revoked_at"]) for t in listed] == [
        ("liaison-1", "liaison", None)
    ]
    assert secret not in (tmp_path / "vahti.duckdb").read_bytes().decode("latin-1")
    again = run_cli("token", "create", "--name", "liaison-1", "--role", "dpo", "--db", db)
    assert again.returncode == 2 and "exists already" in again.stderr
    assert run_cli("token", "revoke", "liaison-1", "--db", db).returncode == 0
    assert json.loads(run_cli("token", "list", "--json", "--db", db).stdout)[0]["revoked_at"]

    found = run_cli("events", "--ip", "183.62.140.0/24", "--limit", "1000", "--json", "--db", db)
    events = json.loads(found.stdout)
    assert len(events) == 287 and {e["ip"] for e in events} == {"183.62.140.253"}
    assert {"country", "city", "lat", "lon", "asn", "host"} <= set(events[0])
    bad = run_cli("events", "--ip", "not-an-ip", "--db", db)
    assert bad.returncode == 2 and "not an address" in bad.stderr
    with open_store(Path(db)) as store:
        actions = [
            row[0] for row in store.con.execute("SELECT action FROM audit ORDER BY seq").fetchall()
        ]
    assert actions == ["tokens.create", "tokens.revoke", "events.search"]


def test_sigterm_mid_ingest_leaves_whole_batches_and_the_rest_loads_later(tmp_path: Path) -> None:
    db = tmp_path / "vahti.duckdb"
    token = run_cli("token", "create", "--name", "ops", "--role", "admin", "--db", str(db))
    secret = token.stdout.strip().splitlines()[-1]
    spool = tmp_path / "spool"
    spool.mkdir()
    total = 200_000
    line = b'{"ts":"2026-11-20T08:00:00Z","outcome":"failure","user":"u%d","ip":"192.0.2.%d"}\n'
    (spool / "big.jsonl").write_bytes(b"".join(line % (i, i % 250) for i in range(total)))
    server, port = _serve(
        db, tmp_path, VAHTI_INGEST_SPOOL_DIR=str(spool), VAHTI_INGEST_BATCH_BYTES="65536"
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def loading() -> bool:
            status, body = _get(f"{base}/api/v1/events?purpose=test&limit=1", secret)
            return status == 200 and len(body["events"]) == 1

        assert _wait_for(loading)
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0, stderr
    with open_store(db) as store:
        ((loaded, lines_done),) = store.con.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT sum(lines_done) FROM sources)"
        ).fetchall()
    assert 0 < loaded < total  # stopped part-way, at a batch boundary
    assert loaded == lines_done  # the position saved is exactly what was loaded
    rest = run_cli("ingest", str(spool / "big.jsonl"), "--json", "--db", str(db))
    assert json.loads(rest.stdout)[0]["loaded"] == total - loaded
