"""The scanner log of bench.detect: who is in it, how they fail, and that vahti's sshd parser
counts one failure per guess in it."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bench.scanners import (
    SYSTEM_ACCOUNTS,
    USERS,
    ScannerLog,
    fail2ban_failures,
    jail_bans,
    named_addresses,
    write_scanner_log,
)

LINES = 20_000
STAMP = re.compile(r"^Oct  ([34]) (\d\d):(\d\d):(\d\d) mail \S+: ")
FAILED = re.compile(r"Failed password for (invalid user )?(\S+) from (\S+) port \d+ ssh2$")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ScannerLog]:
    path = tmp_path_factory.mktemp("scanners") / "auth.log"
    return path, write_scanner_log(path, LINES)


def seconds(line: str) -> int:
    match = STAMP.match(line)
    assert match, line
    day, hour, minute, second = map(int, match.groups())
    return (day - 3) * 86_400 + hour * 3600 + minute * 60 + second


def failures(path: Path) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for line in path.read_text().splitlines():
        match = FAILED.search(line)
        if match:
            found.setdefault(match.group(3), []).append(seconds(line))
    return found


def test_same_seed_same_bytes_other_seed_other_log(
    written: tuple[Path, ScannerLog], tmp_path: Path
) -> None:
    path, log = written
    again = write_scanner_log(tmp_path / "again.log", LINES)
    assert (tmp_path / "again.log").read_bytes() == path.read_bytes()
    assert again == log
    other = write_scanner_log(tmp_path / "other.log", LINES, seed=7)
    assert set(other.scanners) != set(log.scanners)


def test_exactly_the_lines_asked_for_in_time_order_over_two_days(
    written: tuple[Path, ScannerLog],
) -> None:
    path, log = written
    lines = path.read_text().splitlines()
    assert len(lines) == LINES == log.lines
    times = [seconds(line) for line in lines]
    assert times == sorted(times)
    assert times[0] < 3 * 3600 and times[-1] > 2 * 86_400 - 3 * 3600


def test_fifty_public_scanners_failing_mostly_as_root(written: tuple[Path, ScannerLog]) -> None:
    path, log = written
    assert len(log.scanners) == len(set(log.scanners)) == 50
    assert all(ipaddress.ip_address(a).is_global for a in log.scanners + log.benign)
    assert not set(log.scanners) & set(log.benign)
    assert len({a.split(".")[0] for a in log.scanners}) > 30  # varied ranges
    found = failures(path)
    assert all(len(found[a]) == log.failures[a] >= 10 for a in log.scanners)
    names = Counter(m.group(2) for m in map(FAILED.search, path.read_text().splitlines()) if m)
    assert names.most_common(1)[0][0] == "root"
    assert len(names) > 35


def test_guesses_are_written_as_openssh_with_pam_writes_them(
    written: tuple[Path, ScannerLog],
) -> None:
    path, _ = written
    text = path.read_text()
    by_pid: dict[str, list[str]] = {}
    for line in text.splitlines():
        tag, message = line[21:].split(": ", 1)
        by_pid.setdefault(tag, []).append(message)
    checked = 0
    for tag, messages in by_pid.items():
        if not tag.startswith("sshd[") or not messages[-1].endswith("[preauth]"):
            continue
        failed = [m for m in messages if m.startswith("Failed password")]
        if not failed:
            assert messages == [messages[0]] and messages[0].startswith("Connection closed by")
            continue
        checked += 1
        name = FAILED.search(failed[0])
        assert name
        pam = [m for m in messages if m.startswith("pam_unix(sshd:auth): authentication failure;")]
        assert len(pam) == len(failed)
        if name.group(1):  # unknown name
            assert messages[0].startswith(f"Invalid user {name.group(2)} from ")
            assert messages.count("pam_unix(sshd:auth): check pass; user unknown") == len(failed)
            assert not any(" user=" in m for m in pam)
        else:
            assert name.group(2) in SYSTEM_ACCOUNTS or name.group(2) in USERS
            assert all(m.endswith(f"  user={name.group(2)}") for m in pam)
    assert checked > 1000


def test_benign_addresses_never_fail_more_than_3_times_in_10_minutes(
    written: tuple[Path, ScannerLog],
) -> None:
    path, log = written
    assert len(log.benign) >= 50
    found = failures(path)
    typed = [a for a in log.benign if a in found]
    assert typed  # some typos are there
    for address in typed:
        times = sorted(found[address])
        assert len(times) == log.failures[address]
        assert all(times[i + 3] - times[i] >= 600 for i in range(len(times) - 3)), address
    accepted = re.findall(
        r"Accepted (?:publickey|password) for \S+ from (\S+) port", path.read_text()
    )
    assert set(accepted) == set(log.benign)


def test_vahti_counts_one_failure_per_guess(
    written: tuple[Path, ScannerLog], tmp_path: Path
) -> None:
    path, log = written
    db = tmp_path / "vahti.duckdb"
    subprocess.run(
        [sys.executable, "-m", "vahti.cli", "ingest", str(path), "--db", str(db), "--year", "2026"],
        check=True,
        capture_output=True,
    )
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT ip::VARCHAR, count(*) FROM events WHERE outcome = 'failure' GROUP BY ALL"
        ).fetchall()
    assert dict(rows) == log.failures


def test_named_addresses_reads_entities_members_and_networks() -> None:
    alerts: list[dict[str, Any]] = [
        {"rule_id": "brute_force", "entity": "218.92.0.5"},
        {
            "rule_id": "campaign",
            "entity": "root",
            "members": [{"type": "ip", "value": "5.188.1.2"}],
        },
        {"rule_id": "spray", "entity": "2604:a880:4:1d0::/64"},
        {"rule_id": "user", "entity": "matti"},
    ]
    addresses = ["218.92.0.5", "5.188.1.2", "2604:a880:4:1d0::7", "85.76.1.2"]
    assert named_addresses(addresses, alerts) == {
        "218.92.0.5": "brute_force",
        "5.188.1.2": "campaign",
        "2604:a880:4:1d0::7": "spray via 2604:a880:4:1d0::/64",
    }


def test_jail_bans_five_failures_in_ten_minutes() -> None:
    output = "\n".join(
        [f"['1.2.3.4',\t{t}.0,\t{{'user': 'root'}}]," for t in (0, 60, 120, 180, 240, 250, 900)]
        + [f"['5.6.7.8',\t{t}.0,\t{{}}]," for t in (0, 200, 400, 601, 800, 1300)]
    )
    found = fail2ban_failures(output)
    assert found["1.2.3.4"] == [0, 60, 120, 180, 240, 250, 900]
    # banned at 240 until 840 (250 is not counted); 5.6.7.8 never has 5 within 10 minutes
    assert jail_bans(found) == {"1.2.3.4": 1}
