"""Every day-to-day command beside a running `vahti serve`, through its API with the
operator's token file: the same answers as without the server."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LOGHUB, ROOT, run_cli
from tests.vahti.test_serve import _free_port, _get, _wait_for

HUB = ROOT.parent / "shared" / "data" / "crowdsec-hub"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    db = tmp_path / "vahti.duckdb"
    assert run_cli("ingest", str(LOGHUB), "--year", "2016", "--db", str(db)).returncode == 0
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAHTI_")}
    env.update(VAHTI_SERVICE_DETECT_EVERY="1h", VAHTI_INGEST_SPOOL_DIR=str(tmp_path / "spool"))
    server = subprocess.Popen(
        [sys.executable, "-m", "vahti.cli", "serve", "--port", str(port), "--db", str(db)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert _wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz")[0] == 200)
        assert _wait_for((tmp_path / "vahti.duckdb.token").exists)
        yield db
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
        assert server.returncode == 0, stderr


def _ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


def test_the_daily_commands_go_through_the_server(served: Path) -> None:
    db = ["--db", str(served)]
    stats = json.loads(_ok("stats", "--json", *db))
    assert (stats["events"], stats["failures"]) == (553, 532)
    report = json.loads(_ok("detect", "--json", *db))  # after the server's own first run
    assert set(report) == {"events", "scored", "new", "updated", "rules"}
    alerts = json.loads(_ok("alerts", "--json", "--severity", "high", *db))
    first = alerts[0]["id"]
    assert f"{first}: acknowledged" in _ok("alerts", "ack", first, "--note", "on it", *db)
    shown = json.loads(_ok("alerts", "show", first, "--json", *db))
    assert shown["status"] == "acknowledged" and shown["evidence"]
    loaded = json.loads(_ok("ingest", str(HUB / "ssh-bf" / "ssh-bf.log"), "--year", "2026",
                            "--json", *db))  # fmt: skip
    assert (loaded[0]["format"], loaded[0]["loaded"]) == ("sshd", 6)
    assert "hold 1 added" in _ok("hold", "add", "--user", "root", "--reason", "case 7", *db)
    holds = json.loads(_ok("hold", "list", "--json", *db))
    assert [(h["id"], h["user"], h["active"]) for h in holds] == [(1, "root", True)]
    assert "hold 1 released" in _ok("hold", "release", "1", *db)
    retention = json.loads(_ok("retention", "status", "--json", *db))
    assert {k["kind"] for k in retention["kinds"]} >= {"events", "quarantine"}
    assert "audit chain intact" in _ok("audit", "verify", *db)
    seq, digest = _ok("audit", "head", *db).split()
    assert int(seq) > 0 and len(digest) == 64
    secret = _ok("token", "create", "--name", "liisa", "--role", "analyst", *db)
    assert secret.strip().startswith("vahti_")
    names = {t["name"] for t in json.loads(_ok("token", "list", "--json", *db))}
    assert "liisa" in names
    assert "revoked" in _ok("token", "revoke", "liisa", *db)
    dry = json.loads(_ok("retention", "purge", "--dry-run", "--json", *db))
    assert {k["kind"] for k in dry["kinds"]} >= {"events", "quarantine"}
    assert "no quarantined lines" in _ok("quarantine", *db)
    assert json.loads(_ok("quarantine", "retry", "--json", *db)) == []
    report = json.loads(_ok("subject", "report", "--user", "fztu", "--json", *db))
    assert [e["user"] for e in report["events"]] == ["fztu"]
    assert json.loads(_ok("extract", "list", "--json", *db)) == []
    _extract_through_the_server(served, db)
    described = json.loads(_ok("register", "--json", *db))
    assert described["events"] > 0 and described["recipients"]["disclosures"] >= 1
    missing = run_cli("alerts", "ack", "a-0000000000000000", *db)
    assert missing.returncode == 1 and "no alert" in missing.stderr
    # Last: the purge deletes the 2016 excerpt (older than 180 days), then compacts.
    purged = json.loads(_ok("retention", "purge", "--json", *db))  # the server's job, awaited
    assert purged["outcome"] == "ok" and "deleted events" in purged["message"]


def _extract_through_the_server(served: Path, db: list[str]) -> None:
    """Request, a second person's approval (a DPO's own token), package and verify."""
    made = _ok("extract", "create", "--authority", "Poliisi", "--legal-basis", "PKL 10:6",
               "--reference", "R-9", "--user", "fztu", *db)  # fmt: skip
    assert "extract request 1 recorded" in made and "matches 1 events" in made
    own = run_cli("extract", "approve", "1", *db)  # the requester's own token: four eyes
    assert own.returncode != 0 and "own" in own.stderr
    added = run_cli("user", "add", "dora", "--role", "dpo", "--password-stdin", *db,
                    stdin="dora's long password\n")  # fmt: skip
    assert added.returncode == 0 and added.stdout.startswith("otpauth://totp/"), added.stderr
    dpo = _ok("token", "create", "--name", "dpo-2", "--user", "dora", *db).strip()
    approved = run_cli("extract", "approve", "1", *db, env={"VAHTI_TOKEN": dpo})
    assert approved.returncode == 0 and "approved" in approved.stdout, approved.stderr
    written = _ok("extract", "package", "1", "--out", str(served.parent / "out"), *db)
    assert "1 events, SHA-256" in written
    package = served.parent / "out" / "vahti-extract-1.zip"
    assert "every file matches" in _ok("extract", "verify", str(package), *db)
    assert stat.S_IMODE(package.stat().st_mode) == 0o600  # personal data: owner only
    listed = json.loads(_ok("extract", "list", "--json", *db))
    assert [(e["id"], e["state"], e["decided_by"]) for e in listed] == [(1, "approved", "dora")]
