"""Detection speed: every rule over 1M and 10M events, seconds per rule, peak memory; and
ingest + detect of a 1M-line sshd log beside `fail2ban-regex` on the same file.

    python -m bench.detect [--sizes 1000000 10000000] [--sshd-lines 1000000]

Events are written straight into a DuckDB file with SQL (the benchmark measures detection,
not ingest): 30 days, one user per 50 events with a home address, 10 % failures, and a
few logins from anywhere in the world (impossible trips, new countries) so findings exist.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

CHILD = """
import json, resource, sys, time
from pathlib import Path
from analytics.rules import default_rules_dir, load_rules
from analytics.run import run_detection
from store import open_store
rules, _ = load_rules(default_rules_dir())
start = time.perf_counter()
from vahti.settings import load_settings
with open_store(Path(sys.argv[1]), memory_limit=load_settings(None).store.memory_limit) as store:
    report = run_detection(store, rules)
print(json.dumps({"seconds": time.perf_counter() - start, "events": report.events,
                  "alerts": report.new,
                  "rules": {r.rule_id: r.seconds for r in report.rules},
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

FILL = """
CREATE TEMP TABLE places AS
SELECT i::UBIGINT AS n, ip, ip_version, ip_bin, country, city, lat, lon FROM addresses;
INSERT INTO events
SELECT i AS event_id,
       TIMESTAMP '2026-10-01' + to_microseconds(CAST(hash(i, 1) % 2592000000000 AS BIGINT)),
       'login',
       CASE WHEN hash(i, 2) % 10 = 0 THEN 'failure' ELSE 'success' END,
       'user' || (hash(i, 3) % ($size::BIGINT // 50)),
       NULL, p.ip, NULL, 'Mozilla/5.0', 's' || (hash(i, 3) % ($size::BIGINT // 50)) || '-' || (i // 200000), NULL, 'portal', NULL,
       p.ip_version, p.ip_bin, p.country, p.city, p.lat, p.lon, NULL, NULL, NULL,
       1, i, 0, now()::TIMESTAMP, false
FROM (SELECT i, CASE  -- the user's home address; one login in 2000 from anywhere
          WHEN hash(i, 5) % 2000 = 0 THEN hash(i, 4) % $places
          ELSE hash(hash(i, 3) % ($size::BIGINT // 50)) % $places END AS n
      FROM range(1, $size + 1) t(i)) t
JOIN places p USING (n);
"""


def build(db: Path, size: int) -> None:
    import polars as pl

    from ingest.enrich import Enricher
    from store import open_store

    enricher = Enricher.open("", "", ())
    count = max(size // 20, 1000)
    texts = pl.Series(
        [
            f"{(i * 7919) % 223 + 1}.{(i * 31) % 256}.{(i * 17) % 256}.{i % 254 + 1}"
            for i in range(count)
        ]
    )
    addresses = (
        enricher.lookup(texts)
        .unique("ip")
        .with_row_index("i")
        .with_columns(pl.col("i").cast(pl.Int64))
    )
    addresses = addresses.rename({"ip_norm": "ip_text"}).drop("ip").rename({"ip_text": "ip"})
    with open_store(db) as store:
        store.con.register("addresses", addresses.to_arrow())
        store.con.execute(FILL, {"size": size, "places": addresses.height})
        store.con.execute("CHECKPOINT")


def run_child(db: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(db)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def fail2ban_column(sshd_lines: int, folder: Path, seed: int = 50) -> None:
    """vahti and fail2ban-regex on one log of 50 dictionary scanners and benign users: the
    times, and whom each names (vahti: alerts; fail2ban: matches, and what its stock jail
    of 5 failures in 10 minutes would ban)."""
    from bench.scanners import fail2ban_failures, jail_bans, named_addresses, write_scanner_log

    log = folder / "auth.log"
    truth = write_scanner_log(log, sshd_lines, seed)
    guesses = sum(truth.failures.get(a, 0) for a in truth.scanners)
    typos = sum(truth.failures.get(a, 0) for a in truth.benign)
    print(
        f"\nsshd log of {sshd_lines:,} lines (bench.scanners, seed {seed}): {len(truth.scanners)} "
        f"scanners making {guesses:,} guesses, {len(truth.benign)} benign addresses with "
        f"{typos} typos"
    )
    vahti = [sys.executable, "-m", "vahti.cli"]
    db = folder / "sshd.duckdb"
    start = time.perf_counter()
    subprocess.run([*vahti, "ingest", str(log), "--db", str(db), "--year", "2026"], check=True, capture_output=True)  # fmt: skip
    ingested = time.perf_counter()
    subprocess.run([*vahti, "detect", "--db", str(db)], check=True, capture_output=True)
    vahti_seconds = time.perf_counter() - start
    print(
        f"vahti ingest, then vahti detect: {vahti_seconds:.1f} s "
        f"(ingest {ingested - start:.1f} s, detect {vahti_seconds - ingested + start:.1f} s)"
    )
    once = folder / "sshd-once.duckdb"
    start = time.perf_counter()
    subprocess.run([*vahti, "ingest", str(log), "--db", str(once), "--year", "2026", "--detect"], check=True, capture_output=True)  # fmt: skip
    one_command = time.perf_counter() - start
    print(f"the same as one command, vahti ingest --detect: {one_command:.1f} s")

    def alerts_of(store: Path) -> list[dict]:
        listed = subprocess.run([*vahti, "alerts", "--json", "--db", str(store)], check=True, capture_output=True, text=True)  # fmt: skip
        return json.loads(listed.stdout)

    alerts = alerts_of(once)
    rules: dict[str, int] = {}
    for alert in alerts:
        rules[alert["rule_id"]] = rules.get(alert["rule_id"], 0) + 1
    named = named_addresses(truth.scanners, alerts)
    missed = [a for a in truth.scanners if a not in named]
    wrong = named_addresses(truth.benign, alerts)
    by_rule: dict[str, int] = {}
    for how in named.values():
        by_rule[how.split(" ")[0]] = by_rule.get(how.split(" ")[0], 0) + 1
    networks = sum(" via " in how for how in named.values())
    print(
        f"vahti alerts: {len(alerts)} ({', '.join(f'{r} {n}' for r, n in sorted(rules.items())) or 'none'})"
    )
    print(
        f"vahti names {len(named)} of {len(truth.scanners)} scanners"
        + (f" ({networks} only by a network entity)" if networks else "")
        + f"; by rule: {', '.join(f'{r} {n}' for r, n in sorted(by_rule.items())) or 'none'}"
    )
    print(f"  missed ({len(missed)}): {', '.join(missed) or 'none'}")
    print(
        f"  benign addresses named: {', '.join(f'{a} ({how})' for a, how in wrong.items()) or 'none'}"
    )
    two = named_addresses(truth.scanners + truth.benign, alerts_of(db))
    if set(two) != set(named) | set(wrong):
        print(f"  (ingest, then detect names {len(two)} addresses instead, a different set)")

    tool = shutil.which("fail2ban-regex")
    if tool is None:
        print("fail2ban-regex: not installed (Debian package fail2ban); column skipped")
        return
    start = time.perf_counter()
    plain = subprocess.run([tool, str(log), "sshd"], check=True, capture_output=True, text=True)
    f2b = time.perf_counter() - start
    print(
        f"fail2ban-regex sshd filter: {f2b:.1f} s = {f2b / vahti_seconds:.1f}x vahti's time with "
        f"two commands, {f2b / one_command:.1f}x with one"
    )
    summary = next((line for line in plain.stdout.splitlines() if line.startswith("Lines: ")), "")
    print(f"  fail2ban-regex: {summary.removeprefix('Lines: ')}")
    rows = subprocess.run([tool, "-o", "row", str(log), "sshd"], check=True, capture_output=True, text=True)  # fmt: skip
    matched = fail2ban_failures(rows.stdout)
    bans = jail_bans(matched)
    seen = [a for a in truth.scanners if a in matched]
    print(
        f"  its filter matched {sum(len(t) for t in matched.values()):,} failures from "
        f"{len(seen)} of {len(truth.scanners)} scanners; benign addresses matched: "
        + (", ".join(f"{a} ({len(matched[a])})" for a in truth.benign if a in matched) or "none")
    )
    banned = [a for a in truth.scanners if a in bans]
    print(
        f"  its stock jail (maxretry 5, findtime 10m, bantime 10m) would ban {len(banned)} of "
        f"{len(truth.scanners)} scanners ({sum(bans[a] for a in banned):,} bans); benign "
        f"addresses banned: {', '.join(a for a in truth.benign if a in bans) or 'none'}"
    )
    if len(banned) < len(truth.scanners):
        print(f"  not banned: {', '.join(a for a in truth.scanners if a not in bans)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--sshd-lines", type=int, default=1_000_000)
    parser.add_argument("--sshd-seed", type=int, default=50, help="seed of the scanner log")
    args = parser.parse_args()
    print(f"# vahti detection benchmark, {date.today()}, {platform.node()}, {platform.machine()}")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        for size in args.sizes:
            db = folder / f"events-{size}.duckdb"
            build(db, size)
            figures = run_child(db)
            print(f"\n{size:,} events: all rules {figures['seconds']:.1f} s, peak {figures['peak_mib']:.0f} MiB, "
                  f"{figures['alerts']} alerts")  # fmt: skip
            for rule, seconds in sorted(figures["rules"].items()):
                print(f"  {rule:26} {seconds:6.2f} s")
            db.unlink()
        if args.sshd_lines:
            fail2ban_column(args.sshd_lines, folder, args.sshd_seed)


if __name__ == "__main__":
    main()
