"""Issue 15's whole attack list, one after another, against one real `vahti serve` and then
its files: an aimed lockout, a forwarded-header spoof, self-approval through a second token,
an oversized line and field, each tamper of the audit table and of an extract package."""

from __future__ import annotations

import hashlib
import signal
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import orjson

from store import open_store
from store.tokens import create_token
from tests.conftest import run_cli
from tests.vahti.test_audit_tamper import TAMPERS, _copy, _verify
from tests.vahti.test_serve import _get, _serve, _wait_for
from vahti.shell import now_utc


def _call(url: str, token: str, method: str = "GET", body: Any = None,
          headers: dict[str, str] | None = None) -> tuple[int, Any]:  # fmt: skip
    data = None if body is None else (body if isinstance(body, bytes) else orjson.dumps(body))
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json",
        **(headers or {})})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return int(response.status), orjson.loads(raw) if raw[:1] in b"[{" else raw
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


def _attacks_on_the_running_server(url: str, tokens: dict[str, str], folder: Path) -> None:
    admin, api = tokens["admin"], f"{url}/api/v1"
    # An aimed lockout: wrong tokens from this address, then a colleague's valid one.
    wrong = [_call(f"{api}/alerts", "vahti_guess" + str(i))[0] for i in range(7)]
    assert wrong == [401] * 5 + [429] * 2
    assert _call(f"{api}/alerts", admin)[0] == 200
    # A spoofed X-Forwarded-For does not make a new client of each guess.
    spoofed = [_call(f"{api}/alerts", "vahti_other" + str(i),
                     headers={"X-Forwarded-For": f"203.0.113.{i}"})[0] for i in range(3)]  # fmt: skip
    assert spoofed == [429] * 3
    # Self-approval through a second token.
    request = {"authority": "Poliisi", "legal_basis": "PKL 10:6", "order_type": "production",
               "reference": "R-1", "scope": {"users": ["victim"]}}  # fmt: skip
    status, made = _call(f"{api}/extracts", admin, "POST", request)
    assert status == 201
    status, second = _call(f"{api}/tokens", admin, "POST", {"name": "admin-2", "role": "admin"})
    assert status == 201
    status, said = _call(f"{api}/extracts/{made['id']}/approve", second["token"], "POST")
    assert status == 409 and "four eyes" in said
    assert _call(f"{api}/extracts/{made['id']}/approve", tokens["dpo"], "POST")[0] == 200
    # An oversized line and an oversized field are quarantined, not stored.
    line = {"ts": "2026-11-01T00:00:00Z", "outcome": "failure", "ip": "192.0.2.1"}
    body = b"\n".join([
        orjson.dumps({**line, "user": "victim"}),
        orjson.dumps({**line, "user": "x" * 300}),
        orjson.dumps({**line, "user": "y", "reason": "z" * 70_000}),
    ])  # fmt: skip
    status, pushed = _call(f"{api}/events", admin, "POST", body,
                           {"Content-Type": "application/x-ndjson"})  # fmt: skip
    assert status == 200 and (pushed["loaded"], pushed["quarantined"]) == (1, 2), pushed
    status, _ = _call(f"{api}/events", admin, "POST", b"user=x", {"Content-Type": "text/plain"})
    assert status == 415
    written = run_cli("extract", "package", str(made["id"]), "--out", str(folder / "out"),
                      "--db", str(folder / "vahti.duckdb"), env={"VAHTI_TOKEN": tokens["liaison"]})  # fmt: skip
    assert written.returncode == 0, written.stderr


def _forge(package: Path, to: Path) -> Path:
    """events.jsonl edited and the manifest recomputed to agree with it."""
    with zipfile.ZipFile(package) as source:
        files = {n: source.read(n) for n in source.namelist()}
    files["events.jsonl"] = files["events.jsonl"].replace(b"victim", b"someone")
    manifest = orjson.loads(files["manifest.json"])
    manifest["files"]["events.jsonl"].update(
        sha256=hashlib.sha256(files["events.jsonl"]).hexdigest(),
        bytes=len(files["events.jsonl"]),
    )
    files["manifest.json"] = orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
    with zipfile.ZipFile(to, "w") as copy:
        for name, body in files.items():
            copy.writestr(name, body)
    return to


def test_the_whole_attack_list(tmp_path: Path) -> None:
    db = tmp_path / "vahti.duckdb"
    with open_store(db) as store:
        tokens = {role: create_token(store.con, f"{role}-1", role, now_utc())[1]
                  for role in ("admin", "dpo", "liaison")}  # fmt: skip
    (tmp_path / "vahti.toml").write_text("[api]\nauth_failures_per_minute = 5\n")
    server, port = _serve(
        db, tmp_path, "--config", str(tmp_path / "vahti.toml"),
        VAHTI_SERVICE_DETECT_EVERY="1h", VAHTI_INGEST_SPOOL_DIR=str(tmp_path / "spool"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        assert _wait_for(lambda: _get(f"{url}/healthz")[0] == 200)
        _attacks_on_the_running_server(url, tokens, tmp_path)
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    package = tmp_path / "out" / "vahti-extract-1.zip"
    assert run_cli("extract", "verify", str(package), "--db", str(db)).returncode == 0
    forged = run_cli("extract", "verify", str(_forge(package, tmp_path / "f.zip")), "--db", str(db))
    assert forged.returncode != 0 and "signature" in forged.stdout + forged.stderr
    code, said = _verify(db)
    assert code == 0, said
    for number, (name, (tamper, expected)) in enumerate(TAMPERS.items()):
        folder = tmp_path / f"tamper-{number}"
        folder.mkdir()
        copy = _copy(db, folder)
        with duckdb.connect(str(copy)) as con:
            tamper(con)
        code, said = _verify(copy)
        assert code == 1 and expected in said, (name, said)
        laundered = run_cli("audit", "checkpoint", "--db", str(copy))
        assert laundered.returncode == 1 and "not signed" in laundered.stderr, name
        doubted = run_cli("extract", "verify", str(package), "--db", str(copy))
        assert doubted.returncode == 1 and "cannot be trusted" in doubted.stderr, name
