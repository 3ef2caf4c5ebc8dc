"""A copy of each signed checkpoint POSTed to another machine; a receiver that is down
does not stop the signing."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from store import open_store
from store.audit import AuditTrail
from store.checkpoints import Checkpoint, CheckpointFiles
from vahti.shell import now_utc


def test_each_checkpoint_reaches_the_webhook_and_a_dead_one_is_survived(tmp_path: Path) -> None:
    received: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    db = tmp_path / "vahti.duckdb"
    url = f"http://127.0.0.1:{server.server_address[1]}/checkpoints"
    with open_store(db) as store:
        AuditTrail(store).record("tester", "test.entry", {"purpose": "test"})
        CheckpointFiles.beside(db, webhook=url).sign(store.con, now_utc())
        dead = CheckpointFiles.beside(db, webhook="http://127.0.0.1:9/nobody")
        point = dead.sign(store.con, now_utc())  # port 9: refused, logged, not raised
    server.shutdown()
    (body,) = received
    line = orjson.loads(body)
    assert line == orjson.loads(
        (tmp_path / "vahti.duckdb.checkpoints").read_bytes().splitlines()[0]
    )
    signed = Checkpoint(**{k: line[k] for k in Checkpoint.__dataclass_fields__ if k in line})
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(line["public_key"]))
    key.verify(base64.b64decode(line["signature"]), signed.payload())  # raises if forged
    assert point.entries == 1
