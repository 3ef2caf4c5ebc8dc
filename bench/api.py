"""API latency: the alert list and one alert with its evidence, with 1M events and 10k
alerts in the store, under a bounded load from this (second) process on loopback.

    python -m bench.api [--events 1000000] [--alerts 10000] [--requests 2000] [--clients 4]
                        [--push-clients 20] [--push-batches 10] [--push-size 50]

`vahti serve` runs as a child process; this process keeps `--clients` keep-alive
connections busy and prints p50/p99 latency and requests/s per route; last, 20 shippers
push batches of `--push-size` events at once (issue 15's push target: 20,000 events/s with
batches of 50, p99 < 200 ms).
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.detect import build

CATEGORIES = ("brute_force", "password_spraying", "impossible_travel", "new_country")


def add_alerts(db: Path, count: int, evidence_each: int = 10) -> dict[str, str]:
    """`count` alerts with evidence links into the events; returns tokens by role."""
    import polars as pl

    from store import open_store
    from store.alerts import Alert, insert_alerts, link_evidence
    from store.tokens import create_token

    now = datetime(2026, 11, 1)
    alerts = [
        Alert(
            f"a-{i:08x}", CATEGORIES[i % 4], CATEGORIES[i % 4], "high", "user", f"user{i % 5000}",
            now - timedelta(minutes=i + 10), now - timedelta(minutes=i), evidence_each,
            f"bench alert {i}", "open", ["T1110"], None, now, now,
        )
        for i in range(count)
    ]  # fmt: skip
    with open_store(db) as store:
        insert_alerts(store.con, alerts)
        first = [i * 50 + 1 for i in range(count)]
        links = pl.DataFrame(
            {
                "alert_id": [a.alert_id for a in alerts],
                "event_id": [list(range(f, f + evidence_each)) for f in first],
            }
        ).explode("event_id")
        link_evidence(store.con, links)
        tokens = {role: create_token(store.con, f"bench-{role}", role, now)[1]
                  for role in ("analyst", "dpo", "liaison", "admin")}  # fmt: skip
        store.con.execute("CHECKPOINT")
    return tokens


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _client(port: int, token: str, paths: list[str], latencies: list[float]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    cookie = token.startswith("vahti_session=")
    headers = {"Cookie": token} if cookie else {"Authorization": f"Bearer {token}"}
    for path in paths:
        start = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        latencies.append(time.perf_counter() - start)
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
    connection.close()


def _in_parallel(
    work: Callable[..., None], port: int, token: str, shares: list[list[Any]]
) -> tuple[list[float], float]:
    """Each share on a thread of its own at once: (latencies, seconds for all)."""
    latencies: list[float] = []
    threads = [threading.Thread(target=work, args=(port, token, s, latencies)) for s in shares]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - start


def _report(name: str, latencies: list[float], elapsed: float, more: str = "") -> None:
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"{name:34} {len(latencies):6} req  p50 {cuts[49] * 1000:6.1f} ms  "
        f"p99 {cuts[98] * 1000:6.1f} ms  {len(latencies) / elapsed:7.0f} req/s{more}"
    )


def measure(port: int, token: str, name: str, paths: list[str], clients: int) -> None:
    shares = [paths[i::clients] for i in range(clients)]
    _report(name, *_in_parallel(_client, port, token, shares))


def _pusher(port: int, token: str, bodies: list[tuple[str, bytes]], latencies: list[float]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    for batch, body in bodies:
        start = time.perf_counter()
        connection.request("POST", f"/api/v1/events?batch_id={batch}", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        latencies.append(time.perf_counter() - start)
        if response.status != 200:
            raise RuntimeError(f"push {batch}: {response.status} {answer[:200]!r}")
    connection.close()


def _cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of a process so far (Linux), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_note(before: list[float | None], after: list[float | None], pushes: int) -> str:
    """The server's and the clients' CPU time per push, or nothing where /proc cannot say."""
    spent = [None if a is None or b is None else (a - b) * 1000 / pushes
             for b, a in zip(before, after, strict=True)]  # fmt: skip
    server, clients = spent
    if server is None or clients is None:
        return ""
    return f", server CPU {server:.2f} ms per push (clients {clients:.2f})"


def measure_push(port: int, token: str, clients: int, batches: int, size: int, server: int) -> None:
    """`clients` shippers, each pushing `batches` batches of `size` events (NDJSON); with
    the server's CPU time per push (less noisy than the clock on a shared machine) and the
    clients' (they share the machine's cores: together they bound a round)."""
    import orjson

    def body(client: int, batch: int) -> bytes:
        return b"".join(
            orjson.dumps({
                "ts": f"2026-11-20T{(batch % 24):02d}:{(i % 60):02d}:{(client % 60):02d}Z",
                "outcome": "failure" if i % 10 == 0 else "success",
                "user": f"pushed{client}.{i}", "ip": f"198.51.{client % 250}.{i % 250 + 1}",
                "user_agent": "Mozilla/5.0", "session_id": f"s{client}-{batch}-{i}",
            }) + b"\n"
            for i in range(size)
        )  # fmt: skip

    warm = [[(f"warm-{c}-{b}", body(c, b)) for b in range(3)] for c in range(clients)]
    _in_parallel(_pusher, port, token, warm)  # the first groups start parsers and caches
    shares = [[(f"bench-{c}-{b}", body(c, b)) for b in range(batches)] for c in range(clients)]
    pids = (server, os.getpid())  # the clients share this machine's cores with the server
    before = [_cpu_seconds(pid) for pid in pids]
    latencies, elapsed = _in_parallel(_pusher, port, token, shares)
    cpu = _cpu_note(before, [_cpu_seconds(pid) for pid in pids], len(latencies))
    events = clients * batches * size
    _report(f"POST /api/v1/events ({size} per push)", latencies, elapsed,
            f" = {events / elapsed:,.0f} events/s with {clients} clients{cpu}")  # fmt: skip


def sign_in(port: int, token: str) -> str:
    """A console session cookie for `token`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/login", body=f"token={token}",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    response = connection.getresponse()
    response.read()
    return response.getheader("set-cookie", "").split(";")[0]


def console_pages(port: int, tokens: dict[str, str], ids: list[str]) -> None:
    """Every console page, one at a time (a person clicking), 20 times each."""
    analyst, dpo, liaison = (sign_in(port, tokens[r]) for r in ("analyst", "dpo", "liaison"))
    pages = [
        ("console /", analyst, "/"),
        ("console /alerts", analyst, "/alerts"),
        ("console /alerts/{id}", analyst, f"/alerts/{ids[0]}"),
        ("console /dpo", dpo, "/dpo"),
        ("console /liaison", liaison, "/liaison"),
    ]
    for name, cookie, path in pages:
        measure(port, cookie, name, [path] * 20, 1)


def _wait_until_up(port: int, server: subprocess.Popen) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not come up")


def run(args: argparse.Namespace, folder: Path) -> None:
    db = folder / "api.duckdb"
    build(db, args.events)
    tokens = add_alerts(db, args.alerts)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAHTI_")}
    env.update(VAHTI_SERVICE_DETECT_EVERY="1d", VAHTI_INGEST_SPOOL_DIR=str(folder / "spool"))
    log = (folder / "server.log").open("w")  # a pipe nobody reads would stall the server
    server = subprocess.Popen(
        [sys.executable, "-m", "vahti.cli", "serve", "--port", str(port), "--db", str(db)],
        env=env, stdout=log, stderr=log, text=True,
    )  # fmt: skip
    try:
        _wait_until_up(port, server)
        n, clients = args.requests, args.clients
        if args.push_only:
            measure_push(
                port,
                tokens["admin"],
                args.push_clients,
                args.push_batches,
                args.push_size,
                server.pid,
            )
            return
        ids = [f"a-{(i * 7919) % args.alerts:08x}" for i in range(n)]
        token = tokens["analyst"]
        measure(port, token, "warm-up", ["/api/v1/alerts"] * 50, 1)
        measure(port, token, "GET /api/v1/alerts, one client", ["/api/v1/alerts"] * (n // 4), 1)
        measure(port, token, "GET /api/v1/alerts (50)", ["/api/v1/alerts"] * n, clients)
        filtered = [f"/api/v1/alerts?category={CATEGORIES[i % 4]}&status=open" for i in range(n)]
        measure(port, token, "GET /api/v1/alerts?category&status", filtered, clients)
        paged = [f"/api/v1/alerts?entity=user{i % 5000}" for i in range(n)]
        measure(port, token, "GET /api/v1/alerts?entity", paged, clients)
        measure(
            port,
            token,
            "GET /api/v1/alerts/{id} + evidence",
            [f"/api/v1/alerts/{a}" for a in ids],
            clients,
        )
        console_pages(port, tokens, ids)
        measure_push(
            port, tokens["admin"], args.push_clients, args.push_batches, args.push_size, server.pid
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--push-clients", type=int, default=20)
    parser.add_argument("--push-batches", type=int, default=10, help="per push client")
    parser.add_argument("--push-size", type=int, default=50, help="events per push")
    parser.add_argument("--push-only", action="store_true", help="measure pushes alone")
    args = parser.parse_args()
    print(f"# vahti API benchmark, {date.today()}, {platform.node()}, {platform.machine()}, "
          f"{os.cpu_count()} cores: {args.events:,} events, {args.alerts:,} alerts, "
          f"{args.clients} concurrent clients")  # fmt: skip
    with tempfile.TemporaryDirectory() as name:
        run(args, Path(name))


if __name__ == "__main__":
    main()
