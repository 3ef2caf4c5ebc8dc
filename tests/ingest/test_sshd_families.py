"""Every OpenSSH/PAM message family and syslog dialect the sshd parser reads: one
real-looking line each, and the exact event it must become (or that it becomes none)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.formats import detect
from tests.helpers import load, query

HUB = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "crowdsec-hub"
B = "Nov 23 21:50:37 mail "  # an RFC 3164 header with a host

# (line, expected (event, outcome, user, ip or host, reason) or None for no event)
FAMILIES = {
    "failed password": (
        B + "sshd[8148]: Failed password for matti from 203.0.113.7 port 51182 ssh2",
        ("login", "failure", "matti", "203.0.113.7", "bad_password"),
    ),
    "failed password, unknown name": (
        B + "sshd[8148]: Failed password for invalid user admin from 203.0.113.7 port 51 ssh2",
        ("login", "failure", "admin", "203.0.113.7", "unknown_user"),
    ),
    "failed password without a port": (
        B + "sshd[8148]: Failed password for root from 203.0.113.7",
        ("login", "failure", "root", "203.0.113.7", "bad_password"),
    ),
    "failed publickey, never accepted": (
        B + "sshd[8148]: Failed publickey for git from 203.0.113.7 port 5 ssh2: RSA SHA256:abc",
        ("login", "failure", "git", "203.0.113.7", "bad_key"),
    ),
    "Solaris keyboard-interactive": (
        B + "sshd[8148]: [ID 800047 auth.info] Failed keyboard-interactive for root from "
        "203.0.113.7 port 22 ssh2",
        ("login", "failure", "root", "203.0.113.7", "bad_password"),
    ),
    "Failed none alone": (
        B + "sshd[8148]: Failed none for invalid user oracle from 203.0.113.7 port 5 ssh2",
        ("login", "failure", "oracle", "203.0.113.7", "unknown_user"),
    ),
    "accepted": (
        B + "sshd[8148]: Accepted publickey for matti from 91.152.10.1 port 5 ssh2: ED25519 "
        "SHA256:x/y",
        ("login", "success", "matti", "91.152.10.1", None),
    ),
    "invalid user alone": (
        B + "sshd[8148]: Invalid user pascal from 35.188.49.176 port 53502",
        ("login", "failure", "pascal", "35.188.49.176", "unknown_user"),
    ),
    "PAM alone, a host name": (
        B + "sshd[8148]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
        "tty=ssh ruser= rhost=n219076184117.netvigator.com  user=root",
        ("login", "failure", "root", "n219076184117.netvigator.com", "bad_password"),
    ),
    "OpenPAM authentication failure": (
        B + "sshd[8148]: error: PAM: Authentication failure for liisa from 203.0.113.7",
        ("login", "failure", "liisa", "203.0.113.7", "pam_error"),
    ),
    "OpenPAM user not known": (
        B + "sshd[8148]: error: PAM: User not known to the underlying authentication module "
        "for illegal user test from 203.0.113.7",
        ("login", "failure", "test", "203.0.113.7", "unknown_user"),
    ),
    "not listed in AllowUsers": (
        B + "sshd[8148]: User root from 192.0.2.1 not allowed because not listed in AllowUsers",
        ("login", "failure", "root", "192.0.2.1", "not_allowed"),
    ),
    "listed in DenyUsers": (
        B + "sshd[8148]: User guest from 192.0.2.1 not allowed because listed in DenyUsers",
        ("login", "failure", "guest", "192.0.2.1", "not_allowed"),
    ),
    "root login refused": (
        B + "sshd[8148]: ROOT LOGIN REFUSED FROM 192.0.2.9",
        ("login", "failure", "root", "192.0.2.9", "root_refused"),
    ),
    "maximum attempts": (
        B + "sshd[8148]: error: maximum authentication attempts exceeded for invalid user "
        "support from 192.0.2.3 port 40 ssh2 [preauth]",
        ("login", "failure", "support", "192.0.2.3", "unknown_user"),
    ),
    "maximum attempts, a real user": (
        B + "sshd[8148]: error: maximum authentication attempts exceeded for root from "
        "192.0.2.3 port 40 ssh2 [preauth]",
        ("login", "failure", "root", "192.0.2.3", "max_attempts"),
    ),
    "postponed for an unknown name": (
        B + "sshd[8148]: Postponed keyboard-interactive for invalid user pi from 192.0.2.4 port "
        "40 ssh2 [preauth]",
        ("login", "failure", "pi", "192.0.2.4", "unknown_user"),
    ),
    "disconnected while authenticating": (
        B + "sshd[8148]: Disconnected from authenticating user root 179.43.183.98 port 59402 "
        "[preauth]",
        ("login", "failure", "root", "179.43.183.98", "preauth_disconnect"),
    ),
    "connection closed by an invalid user": (
        B + "sshd[8148]: Connection closed by invalid user root 206.81.24.125 port 45362 [preauth]",
        ("login", "failure", "root", "206.81.24.125", "unknown_user"),
    ),
    "connection reset while authenticating": (
        B + "sshd[8148]: Connection reset by authenticating user root 80.94.92.63 port 49115 "
        "[preauth]",
        ("login", "failure", "root", "80.94.92.63", "preauth_disconnect"),
    ),
    "a JSch client's Auth fail": (
        B + "sshd[8148]: error: Received disconnect from 103.99.0.122: 3: "
        "com.jcraft.jsch.JSchException: Auth fail [preauth]",
        ("login", "failure", "", "103.99.0.122", "preauth_disconnect"),
    ),
    "no identification string": (
        B + "sshd[8148]: Did not receive identification string from 192.0.2.5 port 22",
        ("probe", None, "", "192.0.2.5", "no_identification"),
    ),
    "no matching key exchange": (
        B + "sshd[8148]: Unable to negotiate with 123.57.135.134 port 45626: no matching key "
        "exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]",
        ("probe", None, "", "123.57.135.134", "negotiation"),
    ),
    "banner error": (
        B + "sshd[8148]: banner exchange: Connection from 192.0.2.6 port 50: invalid format",
        ("probe", None, "", "192.0.2.6", "banner"),
    ),
    "closed before authenticating": (
        B + "sshd[8148]: Connection closed by 118.27.24.104 port 33594 [preauth]",
        ("probe", None, "", "118.27.24.104", "closed_before_auth"),
    ),
    "timeout before authentication": (
        B + "sshd[8148]: fatal: Timeout before authentication for 192.0.2.7 port 47056",
        ("probe", None, "", "192.0.2.7", "timeout"),
    ),
    "tcp wrappers": (
        B + "sshd[8148]: refused connect from example.com (192.0.2.8)",
        ("probe", None, "", "192.0.2.8", "tcp_refused"),
    ),
    "a closed session is nothing": (
        B + "sshd[8148]: Close session: user ansible from 192.168.1.1 port 34928 id 0",
        None,
    ),
    "root refused, with port and preauth": (
        B + "sshd[8148]: ROOT LOGIN REFUSED FROM 192.0.2.4 port 12345 [preauth]",
        ("login", "failure", "root", "192.0.2.4", "root_refused"),
    ),
    "OpenPAM authentication error via": (
        B + "sshd[8148]: error: PAM: authentication error for james from 205.186.180.10 via "
        "192.168.1.201",
        ("login", "failure", "james", "205.186.180.10", "pam_error"),
    ),
    "hostbased with a client tail": (
        B + "sshd[8148]: Failed hostbased for dan from 127.0.0.1 port 45785 ssh2: RSA 8c:e3:aa, "
        'client user "dan", client host "localhost.localdomain"',
        ("login", "failure", "dan", "127.0.0.1", "bad_key"),
    ),
    "a refused change of user": (
        B + "sshd[8148]: Disconnecting invalid user admin 192.0.2.117 port 44004: Change of "
        "username or service not allowed: (admin,ssh-connection) -> (user,ssh-connection) "
        "[preauth]",
        ("login", "failure", "admin", "192.0.2.117", "unknown_user"),
    ),
    "a kernel stamp before the message": (
        B + "sshd[8148]: kernel:[  970.699396]: Failed keyboard-interactive for james from "
        "205.186.180.55 port 42742 ssh2",
        ("login", "failure", "james", "205.186.180.55", "bad_password"),
    ),
    "a client's Bye Bye, before authenticating, is a probe": (
        B + "sshd[8148]: Received disconnect from 192.0.2.1 port 5:11: Bye Bye [preauth]",
        ("probe", None, "", "192.0.2.1", "closed_before_auth"),
    ),
    "a session's end is nothing": (
        B + "sshd[8148]: Received disconnect from 192.0.2.1 port 5:11: disconnected by user",
        None,
    ),
    "OpenPAM unknown user": (
        B + "sshd[8148]: error: PAM: unknown user for illegal user mario from 192.0.2.66",
        ("login", "failure", "mario", "192.0.2.66", "unknown_user"),
    ),
    "a client out of authentication methods": (
        B + "sshd[8148]: error: Received disconnect from 192.168.2.200: 14: No supported "
        "authentication methods available [preauth]",
        ("login", "failure", "", "192.168.2.200", "preauth_disconnect"),
    ),
    "too many failures, the user named": (
        B + "sshd[8148]: Disconnecting authenticating user root 172.18.1.101 port 43042: Too "
        "many authentication failures [preauth]",
        ("login", "failure", "root", "172.18.1.101", "max_attempts"),
    ),
    "disconnecting an invalid user": (
        B + "sshd[8148]: Disconnecting invalid user root 172.18.1.100 port 43042",
        ("login", "failure", "root", "172.18.1.100", "unknown_user"),
    ),
    "an IPv6 address with its zone": (
        B + "sshd[8148]: Invalid user inexu from 2001:db8::a11:beef:7ac0%enp3s0",
        ("login", "failure", "inexu", "2001:db8::a11:beef:7ac0", "unknown_user"),
    ),
}

DIALECTS = {
    "RFC 3164 without a host": "Nov 23 21:50:37 sshd[8148]: ",
    "the [sshd] tag": "Mar  3 00:17:22 [sshd]: ",
    "RFC 3339 with fraction and offset": "2023-11-14T00:20:42.738197+01:00 myserver sshd[11]: ",
    "journalctl short-iso": "2024-01-15T10:23:45+0200 myserver sshd[11]: ",
    "macOS": "2020-03-23 06:47:42.801612-0700  mymac sshd[17329]: ",
    "the [sshd] tag without a colon": "Jun 25 23:53:34 [sshd] ",
    "RFC 5424": "<38>1 2019-07-08T17:40:16.954167-04:00 host sshd 57915 - - ",
    "RFC 5424 with structured data": '<38>1 2019-07-08T17:40:16Z host sshd 57915 - [timeQuality tzKnown="1" isSynced="1"] ',
    "BusyBox syslogd": "Jun 20 02:18:39 vps auth.info sshd[13482]: ",
    "svlogd, no tag": "2015-05-27T04:31:27.46667 auth.info: ",
    "a supervisor's stamp, no tag": "2018-06-26 13:22:02.108781500 ",
}
FAILURE = "Failed password for invalid user test from 198.51.100.9 port 55 ssh2"


def _events(tmp_path: Path, text: str) -> list[tuple]:
    log = tmp_path / "auth.log"
    log.write_text(text + "\n")
    db = tmp_path / "v.duckdb"
    (report,) = load(db, log, year=2026, format="sshd")
    assert report.quarantined == 0
    return query(
        db,
        """SELECT event, outcome, "user", coalesce(ip, host), reason FROM events
           ORDER BY line_no, seq""",
    )


@pytest.mark.parametrize("name", FAMILIES)
def test_message_family(name: str, tmp_path: Path) -> None:
    line, expected = FAMILIES[name]
    assert _events(tmp_path, line) == ([expected] if expected else [])


@pytest.mark.parametrize("name", DIALECTS)
def test_dialect(name: str, tmp_path: Path) -> None:
    line = DIALECTS[name] + FAILURE
    assert detect((line + "\n").encode()) == "sshd"
    assert _events(tmp_path, line) == [("login", "failure", "test", "198.51.100.9", "unknown_user")]


def test_journalctl_json(tmp_path: Path) -> None:
    line = (
        '{"__REALTIME_TIMESTAMP":"1701234567123456","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"sshd",'
        f'"_PID":"4242","MESSAGE":"{FAILURE}","PRIORITY":"6"}}'
    )
    assert detect((line + "\n").encode()) == "sshd"
    log = tmp_path / "journal.json"
    log.write_text(line + "\n")
    db = tmp_path / "v.duckdb"
    load(db, log)
    ((user, ip, ts),) = query(db, 'SELECT "user", ip, ts FROM events')
    assert (user, ip) == ("test", "198.51.100.9")
    assert ts == datetime(2023, 11, 29, 5, 9, 27, 123456)


def test_without_a_pid_one_attempt_is_still_one(tmp_path: Path) -> None:
    """svlogd writes no pid: the lines of one attempt pair by their source."""
    lines = [
        "2015-05-27T04:31:21.46667 auth.info: Invalid user x from 192.0.2.4 port 5",
        "2015-05-27T04:31:22.46667 auth.info: Failed password for invalid user x from "
        "192.0.2.4 port 5 ssh2",
        "2015-05-27T04:31:23.46667 auth.info: Connection closed by invalid user x 192.0.2.4 "
        "port 5 [preauth]",
    ]
    assert _events(tmp_path, "\n".join(lines)) == [
        ("login", "failure", "x", "192.0.2.4", "unknown_user")
    ]


def test_an_implausible_repeat_count_is_held(tmp_path: Path) -> None:
    line = "sshd[5]: message repeated 5000000 times: [ Failed password for root from 192.0.2.1"
    log = tmp_path / "auth.log"
    log.write_text(B + line + " port 5 ssh2]\n")
    db = tmp_path / "v.duckdb"
    (report,) = load(db, log, year=2026, format="sshd")
    assert (report.loaded, report.quarantined, report.skipped) == (0, 1, 0)
    assert query(db, "SELECT reason FROM quarantine") == [
        ("message repeated 5000000 times: implausible",)
    ]


def test_a_refusal_names_the_reason_of_the_attempt_after_it(tmp_path: Path) -> None:
    """OpenSSH logs a refused account's password as `invalid user`: one attempt, refused."""
    lines = [
        "sshd[5]: User root from 192.0.2.1 not allowed because not listed in AllowUsers",
        "sshd[5]: Failed password for invalid user root from 192.0.2.1 port 5 ssh2",
        "sshd[6]: ROOT LOGIN REFUSED FROM 192.0.2.2 port 6",
        "sshd[6]: Failed password for root from 192.0.2.2 port 6 ssh2",
    ]
    assert _events(tmp_path, "\n".join(B + line for line in lines)) == [
        ("login", "failure", "root", "192.0.2.1", "not_allowed"),
        ("login", "failure", "root", "192.0.2.2", "root_refused"),
    ]


def test_journal_json_that_is_odd(tmp_path: Path) -> None:
    """A message journald could not keep as text (a name of raw bytes) is an array of its
    bytes: read, not skipped. A line without a stamp or a message is quarantined, not lost;
    another program's binary message is skipped like its others."""
    name = b"\xff\xfeadmin"
    message = list(b"Failed password for invalid user " + name + b" from 198.51.100.3 port 5 ssh2")
    base = {"_HOSTNAME": "web1", "SYSLOG_IDENTIFIER": "sshd", "_PID": "7"}
    lines = [
        {**base, "__REALTIME_TIMESTAMP": "1701234567123456", "MESSAGE": message},
        {**base, "MESSAGE": FAILURE},
        {"__REALTIME_TIMESTAMP": "1701234567123456", "SYSLOG_IDENTIFIER": "kernel",
         "MESSAGE": [1, 2, 3]},
    ]  # fmt: skip
    log = tmp_path / "journal.json"
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    db = tmp_path / "v.duckdb"
    (report,) = load(db, log, format="sshd")
    assert (report.loaded, report.quarantined, report.skipped) == (1, 1, 1)
    assert query(db, 'SELECT "user", ip FROM events') == [("\ufffd\ufffdadmin", "198.51.100.3")]
    assert query(db, "SELECT line_no, reason FROM quarantine") == [
        (2, "a journal JSON line needs a numeric __REALTIME_TIMESTAMP and a MESSAGE string")
    ]


def test_one_attempt_whatever_sshd_writes_about_it(tmp_path: Path) -> None:
    """An unknown name as OpenSSH with PAM logs it (five lines), and keys offered in turn
    before a success: one failure, one success."""
    lines = [
        "sshd[10]: Invalid user admin from 203.0.113.7 port 40",
        "sshd[10]: pam_unix(sshd:auth): check pass; user unknown",
        "sshd[10]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
        "ruser= rhost=203.0.113.7",
        "sshd[10]: Failed password for invalid user admin from 203.0.113.7 port 40 ssh2",
        "sshd[10]: Connection closed by invalid user admin 203.0.113.7 port 40 [preauth]",
        "sshd[11]: Failed publickey for matti from 91.152.10.1 port 41 ssh2: RSA SHA256:a",
        "sshd[11]: Accepted publickey for matti from 91.152.10.1 port 41 ssh2: ED25519 SHA256:b",
    ]
    events = _events(tmp_path, "\n".join(B + line for line in lines))
    assert events == [
        ("login", "failure", "admin", "203.0.113.7", "unknown_user"),
        ("login", "success", "matti", "91.152.10.1", None),
    ]


def test_a_journal_export_without_stamps(tmp_path: Path) -> None:
    """`host sshd[pid]: msg` lines: read, stamped with the file's modification time."""
    line = "srv sshd[31602]: " + FAILURE
    assert detect((line + "\n").encode()) == "sshd"
    assert _events(tmp_path, line) == [("login", "failure", "test", "198.51.100.9", "unknown_user")]


def test_lines_without_an_address_take_their_connections(tmp_path: Path) -> None:
    lines = [
        "sshd[3719]: User root not allowed because account is locked",
        "sshd[3719]: input_userauth_request: invalid user root [preauth]",
        "sshd[3719]: Received disconnect from 198.51.100.34: 11: Bye Bye [preauth]",
        "sshd[26713]: Connection from 115.249.163.77 port 51353 on 127.0.0.1 port 22",
        "sshd[26713]: Disconnecting: Too many authentication failures for root [preauth]",
        "sshd[9148]: Disconnecting: Too many authentication failures for root [preauth]",
    ]
    assert _events(tmp_path, "\n".join(B + line for line in lines)) == [
        ("login", "failure", "root", "198.51.100.34", "not_allowed"),
        ("login", "failure", "root", "115.249.163.77", "max_attempts"),
    ]  # the last one's connection names no address anywhere: no event


def test_a_connections_end_is_a_probe_only_when_nothing_else_came(tmp_path: Path) -> None:
    lines = [
        "sshd[20]: Failed password for root from 203.0.113.20 port 40 ssh2",
        "sshd[20]: Connection closed by 203.0.113.20 port 40 [preauth]",
        "sshd[21]: Connection from 203.0.113.21 port 41 on 10.0.0.1 port 22",
        "sshd[21]: Connection closed by 203.0.113.21 port 41 [preauth]",
        "sshd[22]: Connection from 203.0.113.22 port 42 on 10.0.0.1 port 22",
        "sshd[22]: Authentication refused: bad ownership or modes for directory /home/ansible",
        "sshd[22]: Received disconnect from 203.0.113.22 port 42:11: Bye Bye [preauth]",
    ]
    assert _events(tmp_path, "\n".join(B + line for line in lines)) == [
        ("login", "failure", "root", "203.0.113.20", "bad_password"),
        ("probe", None, "", "203.0.113.21", "closed_before_auth"),
        ("login", "failure", "", "203.0.113.22", "bad_key"),
    ]


def test_a_connection_ending_in_the_next_run_is_still_that_connection(tmp_path: Path) -> None:
    """The file grows between two ingests: the attempts in the first, the connection's end
    and closing summary in the second (the parser's state carries the connection)."""
    log = tmp_path / "auth.log"
    db = tmp_path / "v.duckdb"
    log.write_text(B + "sshd[30]: Failed password for root from 203.0.113.30 port 40 ssh2\n")
    load(db, log, year=2026, format="sshd")
    with log.open("a") as more:
        more.write(B + "sshd[30]: Disconnecting: Too many authentication failures [preauth]\n")
        more.write(B + "sshd[30]: Connection closed by 203.0.113.30 port 40 [preauth]\n")
    (report,) = load(db, log, year=2026, format="sshd")
    assert (report.read, report.loaded) == (2, 0)
    assert query(db, "SELECT count(*) FROM events") == [(1,)]


def test_failures_before_another_name_logs_in_still_count(tmp_path: Path) -> None:
    """Stacked PAM modules: pam_unix fails, pam_ldap lets the same name in (no failure).
    An intruder trying names and then one that works: its failures stay failures."""
    pam = "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
    lines = [
        f"sshd[1556]: {pam}ruser= rhost=192.0.2.113  user=rda",
        "sshd[1556]: Accepted password for rda from 192.0.2.113 port 52100 ssh2",
        f"sshd[1558]: {pam}ruser=root rhost=192.0.2.114",
        f"sshd[1558]: {pam}ruser=sudoer rhost=192.0.2.114",
        "sshd[1558]: Accepted password for known from 192.0.2.114 port 52100 ssh2",
    ]
    assert _events(tmp_path, "\n".join(B + line for line in lines)) == [
        ("login", "success", "rda", "192.0.2.113", None),
        ("login", "failure", "root", "192.0.2.114", "bad_password"),
        ("login", "failure", "sudoer", "192.0.2.114", "bad_password"),
        ("login", "success", "known", "192.0.2.114", None),
    ]


def test_years_follow_the_file_across_new_year(tmp_path: Path) -> None:
    """Families are read apart; the year rollover still follows the lines' order."""
    lines = [
        "Dec 31 23:59:58 h sshd[1]: Invalid user a from 192.0.2.1 port 1",
        "Dec 31 23:59:59 h sshd[2]: Failed password for b from 192.0.2.2 port 2 ssh2",
        "Jan  1 00:00:01 h sshd[3]: Invalid user c from 192.0.2.3 port 3",
        "Jan  1 00:00:02 h sshd[4]: Failed password for d from 192.0.2.4 port 4 ssh2",
    ]
    log = tmp_path / "auth.log"
    log.write_text("\n".join(lines) + "\n")
    db = tmp_path / "v.duckdb"
    load(db, log, year=2025, format="sshd")
    years = query(db, "SELECT year(ts) FROM events ORDER BY line_no")
    assert years == [(2025,), (2025,), (2026,), (2026,)]


# Every failure template that names a user, with the user's text spliced in.
INJECTIONS = {
    "in the name": "Failed password for invalid user {u} from 127.0.0.1 port 58946 ssh2",
    "in the name of a success": "Accepted password for {u} from 127.0.0.1 port 58946 ssh2",
    "in an invalid user line": "Invalid user {u} from 127.0.0.1 port 58946",
    "in a disconnect": "Disconnected from invalid user {u} 127.0.0.1 port 58946 [preauth]",
    "in a close": "Connection closed by authenticating user {u} 127.0.0.1 port 58946 [preauth]",
    "in a reset": "Connection reset by invalid user {u} 127.0.0.1 port 58946 [preauth]",
    "in AllowUsers": "User {u} from 127.0.0.1 not allowed because not listed in AllowUsers",
    "in DenyUsers": "User {u} from 127.0.0.1 not allowed because listed in DenyUsers",
    "in PAM's user": "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
    "tty=ssh ruser= rhost=127.0.0.1  user={u}",
    "in the key tail": "Failed publickey for root from 127.0.0.1 port 58946 ssh2: RSA {u}",
    "in ssh1's ruser": "Failed password for user from 127.0.0.1 port 20000 ssh1: ruser {u}",
    "in the name, with a tail after": "Failed password for invalid user {u} from 127.0.0.1 "
    "port 58946 ssh2: from 10.10.1.2 port 55555 ssh2",
    "in PAM's ruser": "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 "
    "tty=ssh ruser={u} rhost=127.0.0.1  user=root",
    "in OpenPAM's error": "error: PAM: authentication error for {u} from 127.0.0.1",
    "in OpenPAM's unknown user": "error: PAM: User not known to the underlying authentication "
    "module for illegal user {u} from 127.0.0.1",
    "in a postponed method": "Postponed keyboard-interactive for invalid user {u} from "
    "127.0.0.1 port 58946 ssh2 [preauth]",
    "in maximum attempts": "error: maximum authentication attempts exceeded for invalid user "
    "{u} from 127.0.0.1 port 58946 ssh2 [preauth]",
    "in too many failures": "Disconnecting authenticating user {u} 127.0.0.1 port 58946: Too "
    "many authentication failures [preauth]",
}
# What an attacker would put in a name to move its failures onto another address.
FORGED = (
    "test from 10.10.1.2 port 55555 ssh2 rhost=10.10.1.2 10.10.1.2 port 1 [preauth] "
    "from 10.10.1.2 not allowed because listed in DenyUsers"
)
FRAGMENTS = (
    " from 10.10.1.2", " port 55555", " ssh2", " 10.10.1.2 port 1", " [preauth]",
    " rhost=10.10.1.2", "  user=x", " not allowed because listed in DenyUsers", " RSA x",
    " via 10.10.1.2", " on 10.10.1.2 port 22", " from", "from ",
)  # fmt: skip


def test_names_full_of_from_still_count_every_attempt(tmp_path: Path) -> None:
    names = ["a from", "x  from", "from a from b from c from d from e", "from"]
    lines = [
        f"sshd[{40 + i}]: Failed password for invalid user {name} from 203.0.113.{i} port 4 ssh2"
        for i, name in enumerate(names)
    ]
    events = _events(tmp_path, "\n".join(B + line for line in lines))
    assert [(e[2], e[3]) for e in events] == [(n, f"203.0.113.{i}") for i, n in enumerate(names)]


@pytest.mark.parametrize("shape", INJECTIONS)
def test_a_forged_source_in_the_message_is_not_the_source(shape: str, tmp_path: Path) -> None:
    (event,) = _events(tmp_path, B + "sshd[9]: " + INJECTIONS[shape].format(u=FORGED.strip()))
    assert event[3] == "127.0.0.1"


@settings(max_examples=60, deadline=None)
@given(
    name=st.lists(
        st.one_of(
            st.sampled_from(FRAGMENTS),
            st.text(
                st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
                min_size=1,
                max_size=12,
            ),
        ),
        min_size=1,
        max_size=5,
    )
    .map("".join)
    # OpenSSH cuts a user name at its first `:` (auth2.c): no name it logs holds one.
    .filter(lambda n: n.strip() == n and "]" not in n and ":" not in n),
    shape=st.sampled_from(sorted(INJECTIONS)),
)
def test_a_random_name_never_changes_the_source(name: str, shape: str, tmp_path_factory) -> None:
    """A random name, made of free text and of the pieces sshd itself writes around a
    source, spliced into every failure template: the source stays the real one."""
    folder = tmp_path_factory.mktemp("inject")
    events = _events(folder, B + "sshd[9]: " + INJECTIONS[shape].format(u=name))
    assert [e[3] for e in events] in ([], ["127.0.0.1"])


def test_crowdsec_sshd_lines(tmp_path: Path) -> None:
    """The hub's sshd parser test lines: the failed logins it annotates become failures
    from the same source; the must-not-count file gives nothing."""
    log = HUB / "sshd-logs" / "sshd-logs.log"
    db = tmp_path / "v.duckdb"
    load(db, log, year=2026)
    failures = dict(
        query(db, "SELECT line_no, ip FROM events WHERE event = 'login' AND outcome = 'failure'")
    )
    # Lines CrowdSec's sshd-logs parser tags ssh_failed-auth (its test's expectations),
    # but line 8, the same connection's second summary, which is the same attempt as 7.
    expected = {1: "35.188.49.176", 2: "35.188.49.176", 3: "35.188.49.176", 4: "5.33.63.160",
                5: "5.33.63.161", 6: "206.81.24.125", 7: "92.255.85.135", 12: "206.81.24.125",
                16: "80.94.92.63", 17: "192.168.1.1", 18: "192.168.1.2", 21: "192.168.1.3"}  # fmt: skip
    assert failures == expected
    fp = tmp_path / "fp.duckdb"
    load(fp, HUB / "sshd-logs-fp" / "sshd-logs.log", year=2026)
    assert query(fp, "SELECT count(*) FROM events") == [(0,)]
