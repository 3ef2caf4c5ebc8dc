"""A two-day OpenSSH syslog of 50 dictionary scanners among a benign population.

    write_scanner_log(Path("auth.log"), lines=1_000_000, seed=50)

The file is what a mail server's auth log holds on Oct 3-4 2026 (syslog stamps, no
year, `Oct  3 14:10:21 mail sshd[PID]: ...`, in time order):

* 50 scanners from public hosting and access ranges (Chinese, Russian and US hosting,
  a few others, one IPv6 address), each making thousands of password guesses over the
  two days (at 1M lines), mostly against root, the rest against ~37 common names (admin,
  test, oracle, postgres, ...). Their rhythms differ: bursts of several guesses a second
  with hours of silence between, a steady few a minute for many hours, or a few hours of
  guessing, a pause of hours, then more. Each guess is written as OpenSSH with PAM writes
  it: for a name that exists (root, git, backup, a real user's name some scanners harvest) the
  `pam_unix(sshd:auth): authentication failure; ... user=NAME` line then `Failed password
  for NAME`; for an unknown name `Invalid user`, `check pass; user unknown`, the PAM line
  without user, then `Failed password for invalid user`; then how the connection ended
  (`Received disconnect ... Bye Bye` and `Disconnected from ...`, or `Connection closed
  by ...`, with `PAM N more authentication failures` after several guesses). A few
  connections are banner grabs that end before any guess.
* 40 real users from 60 home (three IPv6), office (shared NAT) and mobile addresses, with a
  key or a password: session lines, sudo; a password user mistypes now and then (1-3
  failures, then success), never more than 3 failures from one address in 10 minutes.
* CRON sessions and systemd lines of other programs.

The file has exactly `lines` lines; the same seed writes the same bytes.
"""

from __future__ import annotations

import heapq
import ipaddress
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

DAY = 86_400
SPAN = 2 * DAY  # seconds from Oct 3 00:00:00, local time of the stamps
HOST = "mail"
SCANNERS = 50
MIN_LINES = 2_000
LOGIND = "systemd-logind[612]"
# How many benign and noise lines a file may hold at most, as a share of its lines.
QUIET_SHARE = 0.25

# Names a dictionary scanner tries after root (the long tail of real scanner logs).
DICTIONARY = (
    "admin", "test", "oracle", "postgres", "ubuntu", "pi", "user", "git", "ftp", "guest",
    "support", "mysql", "hadoop", "deploy", "dev", "jenkins", "tomcat", "www", "nagios",
    "ec2-user", "centos", "debian", "administrator", "test1", "demo", "ftpuser", "backup",
    "server", "steam", "minecraft", "elastic", "zabbix", "vagrant", "ansible", "docker",
    "sysadmin", "odoo",
)  # fmt: skip
# Accounts that exist on the server besides the real users: PAM knows them.
SYSTEM_ACCOUNTS = frozenset({"root", "git", "backup"})

USERS = (
    "matti", "liisa", "juha", "anna", "mikko", "kaisa", "timo", "sari", "jari", "tiina",
    "pekka", "minna", "antti", "heidi", "jukka", "laura", "ville", "johanna", "janne",
    "elina", "markku", "katja", "sami", "satu", "petri", "hanna", "tuomas", "noora", "kari",
    "riikka", "lauri", "eveliina", "teemu", "maria", "harri", "sanna", "olli", "paula",
    "esa", "kirsi",
)  # fmt: skip

# Where scanners come from: (region, prefix); the rest of the address is random.
SCANNER_RANGES = (
    ("cn", "218.92.0."), ("cn", "218.92.0."), ("cn", "61.177.172."), ("cn", "222.186."),
    ("cn", "112.85."), ("cn", "183.81."), ("cn", "121.224."), ("cn", "117.50."),
    ("cn", "115.238."), ("cn", "120.48."), ("cn", "43.153."), ("cn", "43.156."),
    ("cn", "101.43."), ("cn", "124.221."), ("cn", "180.101."), ("cn", "58.218."),
    ("cn", "123.58."), ("cn", "110.40."),
    ("ru", "45.135.232."), ("ru", "91.240.118."), ("ru", "185.224.128."),
    ("ru", "194.169.175."), ("ru", "80.94.95."), ("ru", "5.188."), ("ru", "95.214."),
    ("ru", "193.32.162."), ("ru", "45.141.84."), ("ru", "92.255.85."), ("ru", "176.111."),
    ("ru", "31.184."),
    ("us", "159.65."), ("us", "167.99."), ("us", "134.209."), ("us", "64.227."),
    ("us", "143.198."), ("us", "137.184."), ("us", "165.22."), ("us", "45.79."),
    ("us", "172.104."), ("us", "3.236."), ("us", "18.222."), ("us", "54.183."),
    ("us", "45.32."), ("us", "149.28."),
    ("vn", "14.225."), ("br", "177.12."), ("in", "103.149."), ("nl", "2.57.122."),
    ("lt", "141.98.11."),
    ("us", "2604:a880:4:1d0::"),
)  # fmt: skip

HOME_RANGES = ("85.76.", "91.153.", "84.248.", "62.78.", "88.114.", "91.155.", "87.95.")
HOME_V6 = ("2001:14ba:a0b:", "2001:999:52:")
MOBILE_RANGES = ("85.76.", "176.72.", "37.136.")
OFFICES = ("193.166.3.12", "130.233.218.40", "195.148.124.7")


@dataclass
class ScannerLog:
    """What the file holds: the scanners' and the benign population's addresses."""

    scanners: list[str]
    benign: list[str]
    # Password guesses (`Failed` lines) per address that fails: scanners and typing users.
    failures: dict[str, int] = field(default_factory=dict)
    lines: int = 0


# A line waiting to be written: (time, order, program tag, message).
Line = tuple[float, int, str, str]
Emit = Callable[[Callable[[], int], Callable[[], int]], list[tuple[float, str, str]]]


@dataclass
class _Plan:
    """One connection or job: when it starts and how to write its lines."""

    start: float
    emit: Emit  # (next pid, next session number) -> [(time, program tag, message)]
    lines: int
    address: str | None = None  # the remote address of a connection
    failures: int = 0  # the `Failed` lines it writes


def write_scanner_log(path: Path, lines: int = 1_000_000, seed: int = 50) -> ScannerLog:
    """Write the log; return who is who in it."""
    if lines < MIN_LINES:
        raise ValueError(f"a scanner log needs at least {MIN_LINES} lines, not {lines}")
    rng = random.Random(seed)
    quiet = _fit(rng, _benign_plans(rng) + _noise_plans(rng, lines), int(lines * QUIET_SHARE))
    scanner_plans, scanners = _scanner_plans(rng, lines - sum(p.lines for p in quiet))
    plans = sorted(quiet + scanner_plans, key=lambda p: p.start)
    failures: dict[str, int] = {}
    for plan in plans:
        if plan.address is not None and plan.failures:
            failures[plan.address] = failures.get(plan.address, 0) + plan.failures
    written = _write(path, plans, lines, random.Random(seed + 1))
    benign = {p.address for p in quiet if p.address is not None}
    return ScannerLog(
        scanners=scanners,
        benign=sorted(benign, key=lambda a: ipaddress.ip_address(a).packed.rjust(16)),
        failures=dict(sorted(failures.items())),
        lines=written,
    )


# --- writing --------------------------------------------------------------------------


def _stamp(second: int) -> str:
    day, rest = divmod(second, DAY)
    hour, rest = divmod(rest, 3600)
    minute, sec = divmod(rest, 60)
    return f"Oct {3 + day:2d} {hour:02d}:{minute:02d}:{sec:02d}"


def _write(path: Path, plans: list[_Plan], limit: int, rng: random.Random) -> int:
    """Lines of all plans in time order: a plan's lines go to a heap when it starts and
    leave it once no plan still to start can write before them."""
    pid = 2_318
    session = 311

    def next_pid() -> int:
        nonlocal pid
        pid += rng.randint(1, 9)
        return pid

    def next_session() -> int:
        nonlocal session
        session += 1
        return session

    waiting: list[Line] = []
    order = count()
    written = 0
    stamps: dict[int, str] = {}
    with path.open("w") as out:

        def flush(until: float) -> None:
            nonlocal written
            while waiting and waiting[0][0] <= until and written < limit:
                t, _, tag, message = heapq.heappop(waiting)
                second = int(t)
                stamp = stamps.get(second)
                if stamp is None:
                    stamps.clear()
                    stamp = stamps[second] = _stamp(second)
                out.write(f"{stamp} {HOST} {tag}: {message}\n")
                written += 1

        for plan in plans:
            flush(plan.start)
            for t, tag, message in plan.emit(next_pid, next_session):
                heapq.heappush(waiting, (min(t, SPAN - 1), next(order), tag, message))
        flush(float("inf"))
    return written


def _fit(rng: random.Random, plans: list[_Plan], cap: int) -> list[_Plan]:
    """At most `cap` lines of benign and noise plans: a small file keeps a sample."""
    total = sum(p.lines for p in plans)
    if total <= cap:
        return plans
    share = cap / total
    kept, used = [], 0
    for plan in plans:
        if rng.random() < share and used + plan.lines <= cap:
            kept.append(plan)
            used += plan.lines
    return kept


# --- scanners -------------------------------------------------------------------------


@dataclass
class _Scanner:
    address: str
    rhythm: str  # burst, steady or pausing
    names: list[str]
    weights: list[float]
    root_share: float
    sequential: int  # >0: this many connections per name in turn, 0: names at random
    tries: tuple[int, ...]  # guesses per connection, drawn from
    bye_share: float  # `Received disconnect ... Bye Bye` rather than `Connection closed`
    probe_share: float  # connections that end before a guess


def _scanner_addresses(rng: random.Random) -> list[str]:
    found: list[str] = []
    for _, prefix in SCANNER_RANGES:
        while True:
            if ":" in prefix:
                text = prefix + f"{rng.randrange(1, 0xFFFF):x}"
            else:
                octets = 4 - prefix.count(".")
                tail = [str(rng.randrange(256)) for _ in range(octets - 1)] + [
                    str(rng.randrange(2, 254))
                ]
                text = prefix + ".".join(tail)
            address = ipaddress.ip_address(text).compressed
            if address not in found:
                found.append(address)
                break
    return found


def _scanners(rng: random.Random) -> list[_Scanner]:
    addresses = _scanner_addresses(rng)
    rhythms = ["burst"] * 15 + ["steady"] * 18 + ["pausing"] * 17
    rng.shuffle(rhythms)
    root_only = set(rng.sample(range(SCANNERS), 5))
    harvesters = set(rng.sample(sorted(set(range(SCANNERS)) - root_only), 4))
    found = []
    for i, address in enumerate(addresses):
        names = rng.sample(DICTIONARY, rng.randint(12, len(DICTIONARY)))
        if i in harvesters:  # names harvested from the mail addresses of the domain
            at = rng.randrange(3, 8)
            names[at:at] = list(USERS[:2])
        weights = [1 / (rank + 2) for rank in range(len(names))]
        found.append(
            _Scanner(
                address=address,
                rhythm=rhythms[i],
                names=names,
                weights=weights,
                root_share=1.0 if i in root_only else rng.uniform(0.35, 0.85),
                sequential=rng.choice((0, 0, 0, rng.randint(3, 30))),
                tries=rng.choice(((1,), (1,), (1, 1, 2), (1, 2, 3), (2,), (1, 1, 1, 3))),
                bye_share=rng.uniform(0.4, 0.95),
                probe_share=rng.choice((0.0, 0.02, 0.05, 0.08)),
            )
        )
    return found


def _scanner_plans(rng: random.Random, budget: int) -> tuple[list[_Plan], list[str]]:
    """Each scanner's share of `budget` lines as connections, then their start times."""
    scanners = _scanners(rng)
    weights = [rng.uniform(0.4, 2.0) for _ in scanners]
    shares = [int(budget * w / sum(weights)) for w in weights]
    shares[-1] += budget - sum(shares)
    plans: list[_Plan] = []
    for scanner, share in zip(scanners, shares, strict=True):
        connections = _connections(rng, scanner, share)
        times = _times(rng, scanner.rhythm, len(connections))
        for start, (name, tries, bye, port) in zip(times, connections, strict=True):
            emit = _guesses(scanner.address, name, tries, bye, port, start)
            plans.append(_Plan(start, emit, _guess_lines(name, tries, bye), scanner.address, tries))
    return plans, [s.address for s in scanners]


def _guess_lines(name: str, tries: int, bye: bool) -> int:
    if tries == 0:
        return 1
    known = name in SYSTEM_ACCOUNTS or name in USERS
    per_try = 2 if known else 3
    return (0 if known else 1) + tries * per_try + (2 if bye else 1) + (1 if tries > 1 else 0)


def _connections(
    rng: random.Random, scanner: _Scanner, budget: int
) -> list[tuple[str, int, bool, int]]:
    """(name, guesses, ends with Bye Bye, source port) until the budget's lines are used;
    the last few lines are banner grabs."""
    found: list[tuple[str, int, bool, int]] = []
    used, turn = 0, 0
    while True:
        port = rng.randrange(1024, 65535)
        if rng.random() < scanner.probe_share:
            name, tries = "", 0
        elif rng.random() < scanner.root_share:
            name, tries = "root", rng.choice(scanner.tries)
        else:
            if scanner.sequential:
                name = scanner.names[(turn // scanner.sequential) % len(scanner.names)]
                turn += 1
            else:
                name = rng.choices(scanner.names, scanner.weights)[0]
            tries = rng.choice(scanner.tries)
        bye = rng.random() < scanner.bye_share
        size = _guess_lines(name, tries, bye)
        if used + size > budget:
            break
        found.append((name, tries, bye, port))
        used += size
    while used < budget:  # the rest: connections closed before a guess
        found.append(("", 0, False, rng.randrange(1024, 65535)))
        used += 1
    return found


def _times(rng: random.Random, rhythm: str, n: int) -> list[float]:
    """`n` start times in the two days, sorted, in the scanner's rhythm."""
    end = SPAN - 120
    if rhythm == "burst":  # several a second, then hours of silence
        rate = rng.uniform(2.0, 6.0)
        bursts = max(1, min(rng.randint(3, 9), n))
        sizes = [n // bursts + (1 if i < n % bursts else 0) for i in range(bursts)]
        times: list[float] = []
        for size in sizes:
            length = size / rate
            t = rng.uniform(0, end - length)
            for _ in range(size):
                times.append(t)
                t += rng.expovariate(rate)
        return sorted(min(t, end) for t in times)
    if rhythm == "steady":  # a few a minute, evenly, for many hours
        rate = rng.uniform(1.5, 6.0) / 60
        length = min(n / rate, end - 600)
        gap = length / n
        t = rng.uniform(0, end - length)
        times = []
        for _ in range(n):
            times.append(t)
            t += gap * rng.uniform(0.6, 1.4)
        return [min(t, end) for t in times]
    # pausing: hours of guessing, a pause of hours, then more
    rate = rng.uniform(8.0, 40.0) / 60
    chunks = max(1, min(rng.randint(2, 5), n))
    active = n / rate
    pauses = [rng.uniform(2, 10) * 3600 for _ in range(chunks - 1)]
    if active > end * 0.9:
        active = end * 0.9
    if active + sum(pauses) > end:
        squeeze = (end - active) / sum(pauses)
        pauses = [p * squeeze for p in pauses]
    t = rng.uniform(0, end - active - sum(pauses))
    sizes = [n // chunks + (1 if i < n % chunks else 0) for i in range(chunks)]
    mean_gap = active / n
    times = []
    for i, size in enumerate(sizes):
        for _ in range(size):
            times.append(t)
            t += rng.expovariate(1 / mean_gap)
        if i < len(pauses):
            t += pauses[i]
    return sorted(min(t, end) for t in times)


def _guesses(address: str, name: str, tries: int, bye: bool, port: int, start: float) -> Emit:
    """One scanner connection as OpenSSH with PAM logs it."""

    def emit(next_pid: Callable[[], int], _: Callable[[], int]) -> list[tuple[float, str, str]]:
        tag = f"sshd[{next_pid()}]"
        end = f"{address} port {port}"
        if tries == 0:
            return [(start + 0.4, tag, f"Connection closed by {end} [preauth]")]
        known = name in SYSTEM_ACCOUNTS or name in USERS
        who = f"authenticating user {name}" if known else f"invalid user {name}"
        pam = "authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=" + address
        out: list[tuple[float, str, str]] = []
        t = start
        if not known:
            out.append((t, tag, f"Invalid user {name} from {end}"))
        for i in range(tries):
            t += 0.3 + (port + i) % 7 / 10
            if known:
                out.append((t, tag, f"pam_unix(sshd:auth): {pam}  user={name}"))
            else:
                out.append((t, tag, "pam_unix(sshd:auth): check pass; user unknown"))
                out.append((t, tag, f"pam_unix(sshd:auth): {pam}"))
            t += 1.8 + (port * (i + 3)) % 13 / 10  # pam_faildelay: about 2 s
            failed = "Failed password for " + ("" if known else "invalid user ")
            out.append((t, tag, f"{failed}{name} from {end} ssh2"))
        t += 0.2
        if bye:
            out.append((t, tag, f"Received disconnect from {end}:11: Bye Bye [preauth]"))
            out.append((t, tag, f"Disconnected from {who} {end} [preauth]"))
        else:
            out.append((t, tag, f"Connection closed by {who} {end} [preauth]"))
        if tries > 1:
            more = f"PAM {tries - 1} more authentication failure{'s' if tries > 2 else ''}; "
            detail = pam.removeprefix("authentication failure; ")
            out.append((t, tag, more + detail + (f"  user={name}" if known else "")))
        return out

    return emit


# --- the benign population ------------------------------------------------------------


@dataclass
class _User:
    name: str
    uid: int
    key: str | None  # an ED25519 key's fingerprint, or None: logs in with a password
    home: str
    office: str | None
    mobile: str | None


def _population(rng: random.Random) -> list[_User]:
    taken: set[str] = set(OFFICES)

    def address(prefixes: tuple[str, ...]) -> str:
        while True:
            prefix = rng.choice(prefixes)
            if ":" in prefix:
                text = prefix + ":".join(f"{rng.randrange(1, 0xFFFF):x}" for _ in range(5))
            else:
                text = prefix + f"{rng.randrange(256)}.{rng.randrange(2, 254)}"
            text = ipaddress.ip_address(text).compressed
            if text not in taken:
                taken.add(text)
                return text

    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    password_users = set(rng.sample(range(len(USERS)), 12))
    mobile_users = set(rng.sample(range(len(USERS)), 17))
    v6_homes = set(rng.sample(range(len(USERS)), 3))
    users = []
    for i, name in enumerate(USERS):
        key = None if i in password_users else "".join(rng.choice(alphabet) for _ in range(43))
        users.append(
            _User(
                name=name,
                uid=1001 + i,
                key=key,
                home=address(HOME_V6 if i in v6_homes else HOME_RANGES),
                office=OFFICES[i % 3] if i % 4 != 3 else None,
                mobile=address(MOBILE_RANGES) if i in mobile_users else None,
            )
        )
    return users


def _benign_plans(rng: random.Random) -> list[_Plan]:
    """Sessions of the real users; a password user mistypes now and then."""
    plans: list[_Plan] = []
    failed_at: dict[str, list[float]] = {}
    for user in _population(rng):
        seen = 0
        for day in range(2):
            for _ in range(rng.randint(1, 5)):
                places = [(user.home, 6)]
                if user.office:
                    places.append((user.office, 3))
                if user.mobile:
                    places.append((user.mobile, 2))
                if seen < len(places):  # every address of the user once, then at will
                    address = places[seen][0]
                else:
                    address = rng.choices([p for p, _ in places], [w for _, w in places])[0]
                seen += 1
                start = day * DAY + rng.uniform(7.5, 23.6) * 3600
                typos = 0
                if user.key is None and rng.random() < 0.2:
                    typos = rng.choice((1, 1, 1, 2, 2, 3))
                    times = [start + 6 * i for i in range(typos)]
                    earlier = failed_at.setdefault(address, [])
                    if _too_many(earlier, times):
                        typos = 0
                    else:
                        earlier.extend(times)
                length = rng.expovariate(1 / 2400) + 20
                emit = _session(user, address, start, length, typos, rng)
                size = len(emit(lambda: 0, lambda: 0))
                plans.append(_Plan(start, emit, size, address, typos))
    return plans


def _too_many(earlier: list[float], new: list[float]) -> bool:
    """More than 3 failures from one address within any 10 minutes?"""
    times = sorted(earlier + new)
    return any(times[i + 3] - times[i] < 600 for i in range(len(times) - 3))


def _session(
    user: _User, address: str, start: float, length: float, typos: int, rng: random.Random
) -> Emit:
    port, retry_port = rng.randrange(1024, 65535), rng.randrange(1024, 65535)
    sudo = rng.random() < 0.25
    tty = rng.randrange(0, 4)
    command = rng.choice(
        ("/usr/bin/journalctl -u postfix", "/usr/bin/apt update", "/usr/sbin/postqueue -p",
         "/usr/bin/systemctl restart dovecot", "/usr/bin/tail -f /var/log/mail.log")
    )  # fmt: skip
    pam = (
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
        f"rhost={address}  user={user.name}"
    )

    def emit(
        next_pid: Callable[[], int], next_session: Callable[[], int]
    ) -> list[tuple[float, str, str]]:
        out: list[tuple[float, str, str]] = []
        tag = f"sshd[{next_pid()}]"
        end = f"{address} port {port}"
        t = start
        for i in range(typos):  # each try: PAM's line, then the Failed line 2 s later
            out.append((start + 6 * i, tag, pam))
            out.append((start + 6 * i + 2, tag, f"Failed password for {user.name} from {end} ssh2"))
            t = start + 6 * i + 2
        if typos == 3:  # three prompts used: the client gives up, the user tries again
            out.append(
                (
                    t + 0.5,
                    tag,
                    f"Connection closed by authenticating user {user.name} {end} [preauth]",
                )
            )
            out.append((t + 0.5, tag, "PAM 2 more authentication failures; logname= uid=0 euid=0 "
                        f"tty=ssh ruser= rhost={address}  user={user.name}"))  # fmt: skip
            tag, end, t = f"sshd[{next_pid()}]", f"{address} port {retry_port}", t + 15
        t += 4 if typos else 0.8
        how = "password" if user.key is None else "publickey"
        key = "" if user.key is None else f": ED25519 SHA256:{user.key}"
        session = next_session()
        out += [
            (t, tag, f"Accepted {how} for {user.name} from {end} ssh2{key}"),
            (t, tag, f"pam_unix(sshd:session): session opened for user {user.name}(uid={user.uid}) by (uid=0)"),
            (t, LOGIND, f"New session {session} of user {user.name}."),
            (t + 0.1, "systemd[1]", f"Started session-{session}.scope - Session {session} of User {user.name}."),
        ]  # fmt: skip
        if sudo:
            at = t + length / 3
            out += [
                (at, "sudo", f"   {user.name} : TTY=pts/{tty} ; PWD=/home/{user.name} ; USER=root ; COMMAND={command}"),
                (at, "sudo", f"pam_unix(sudo:session): session opened for user root(uid=0) by {user.name}(uid={user.uid})"),
                (at + 2, "sudo", "pam_unix(sudo:session): session closed for user root"),
            ]  # fmt: skip
        t += length
        if t >= SPAN - 1:  # still logged in when the file ends
            return [line for line in out if line[0] < SPAN]
        out += [
            (t, tag, f"Received disconnect from {end}:11: disconnected by user"),
            (t, tag, f"Disconnected from user {user.name} {end}"),
            (t, tag, f"pam_unix(sshd:session): session closed for user {user.name}"),
            (t, LOGIND, f"Session {session} logged out. Waiting for processes to exit."),
            (t + 0.1, "systemd[1]", f"session-{session}.scope: Deactivated successfully."),
            (t + 0.1, LOGIND, f"Removed session {session}."),
        ]
        return out

    return emit


# --- other programs -------------------------------------------------------------------


def _noise_plans(rng: random.Random, lines: int) -> list[_Plan]:
    """Cron jobs (sysstat every 10 min, cron.hourly, cron.daily) and systemd timers."""
    every = 600 if lines >= 50_000 else 3600
    plans: list[_Plan] = []
    for t in range(0, SPAN, every):
        plans.append(_cron(t + 1, "root", 0, 1.2))
    for hour in range(48):
        plans.append(_cron(hour * 3600 + 17 * 60 + 1, "root", 0, rng.uniform(0.2, 3)))
    for day in range(2):
        plans.append(_cron(day * DAY + 6 * 3600 + 25 * 60 + 1, "root", 0, rng.uniform(20, 90)))
        plans.append(_cron(day * DAY + 2 * 3600 + 30 * 60 + 1, "matti", 1001, rng.uniform(60, 600)))
        for unit, what, at in (
            ("logrotate.service", "Rotate log files", 0.0),
            ("apt-daily.service", "Daily apt download activities", rng.uniform(6, 18) * 3600),
            ("apt-daily-upgrade.service", "Daily apt upgrade and clean activities", 6.1 * 3600),
            ("man-db.service", "Daily man-db regeneration", rng.uniform(0, 23) * 3600),
        ):
            plans.append(_systemd(day * DAY + at + 1, unit, what, rng.uniform(1, 40)))
    return plans


def _cron(start: float, user: str, uid: int, length: float) -> _Plan:
    def emit(next_pid: Callable[[], int], _: Callable[[], int]) -> list[tuple[float, str, str]]:
        tag = f"CRON[{next_pid()}]"
        return [
            (start, tag, f"pam_unix(cron:session): session opened for user {user}(uid={uid}) by (uid=0)"),
            (start + length, tag, f"pam_unix(cron:session): session closed for user {user}"),
        ]  # fmt: skip

    return _Plan(start, emit, 2)


def _systemd(start: float, unit: str, what: str, length: float) -> _Plan:
    def emit(*_: Callable[[], int]) -> list[tuple[float, str, str]]:
        return [
            (start, "systemd[1]", f"Starting {unit} - {what}..."),
            (start + length, "systemd[1]", f"{unit}: Deactivated successfully."),
            (start + length, "systemd[1]", f"Finished {unit} - {what}."),
        ]

    return _Plan(start, emit, 3)


# --- reading the results --------------------------------------------------------------


def _network(value: object) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


def alert_values(alert: dict[str, Any]) -> list[str]:
    """The values an alert names: its `entity`, and those of its optional `members` (a
    list of values, or of objects whose string fields are values)."""
    values = [alert.get("entity")]
    for member in alert.get("members") or ():
        if isinstance(member, dict):  # {"type": "ip", "value": ...}
            values.extend([member["value"]] if "value" in member else member.values())
        else:
            values.append(member)
    return [v for v in values if isinstance(v, str)]


def named_addresses(addresses: list[str], alerts: list[dict[str, Any]]) -> dict[str, str]:
    """Which of `addresses` the alerts name -> how: `rule_id` when an entity or member is
    the address itself, `rule_id via NETWORK` when it is a network holding it."""
    wanted = {ipaddress.ip_address(a): a for a in addresses}
    found: dict[str, str] = {}
    for alert in alerts:
        rule = str(alert.get("rule_id", "?"))
        for value in alert_values(alert):
            network = _network(value)
            if network is None:
                continue
            if network.num_addresses == 1:
                hit = wanted.get(network.network_address)
                if hit is not None and (hit not in found or " via " in found[hit]):
                    found[hit] = rule
                continue
            for address, text in wanted.items():
                if address.version == network.version and address in network:
                    found.setdefault(text, f"{rule} via {network}")
    return found


_ROW = re.compile(r"^\['([^']+)',\s*([0-9.]+),")


def fail2ban_failures(output: str) -> dict[str, list[float]]:
    """`fail2ban-regex -o row` output -> the times of each address's failures."""
    found: dict[str, list[float]] = {}
    for line in output.splitlines():
        match = _ROW.match(line)
        if match:
            found.setdefault(match.group(1), []).append(float(match.group(2)))
    return found


def jail_bans(
    failures: dict[str, list[float]], maxretry: int = 5, findtime: float = 600, bantime: float = 600
) -> dict[str, int]:
    """How often fail2ban's stock jail (5 failures in 10 min, banned 10 min) would ban each
    address the failures come from; while banned, an address's failures are not counted."""
    bans: dict[str, int] = {}
    for address, times in failures.items():
        window: list[float] = []
        banned_until = float("-inf")
        for t in sorted(times):
            if t < banned_until:
                continue
            window = [w for w in window if w > t - findtime]
            window.append(t)
            if len(window) >= maxretry:
                bans[address] = bans.get(address, 0) + 1
                banned_until, window = t + bantime, []
    return bans
