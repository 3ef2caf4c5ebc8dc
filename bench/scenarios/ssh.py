"""The portal's web server also runs SSH: an OpenSSH syslog (auth.log) of the same months.

Benign: the company's admins and its CI server log in with keys; the internet's
background noise (a source trying one to four names and going away) is there as on any
server. Attacks: dictionary scanners, thousands of passwords against root and a list of
common names, most of which do not exist on the host.

Lines are written as Debian's OpenSSH with PAM writes them: a failed password for an
existing user is a `pam_unix ... authentication failure` line and a `Failed password`
line of the same pid; an unknown name adds `Invalid user` and `check pass; user unknown`.
One connection is one pid and one attempt. Stamps are UTC (ingest with `--year 2026`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from bench.scenarios import world
from bench.scenarios.benign import Population
from bench.scenarios.score import Label

HOST = "www1"
SYSTEM_USERS = {"root", "postgres", "git", "backup", "deploy", "ansible", "jkoskinen", "sanna"}
ADMINS = ("jkoskinen", "sanna", "ansible")
COMMON_NAMES = (
    "admin", "test", "oracle", "postgres", "ubuntu", "pi", "user", "git", "guest", "ftpuser",
    "support", "deploy", "dev", "jenkins", "hadoop", "mysql", "www", "web", "nagios", "tomcat",
    "minecraft", "steam", "teamspeak", "ts3", "debian", "centos", "ec2-user", "vagrant", "odoo",
    "es", "elastic", "redis", "docker", "administrator", "operator", "backup", "sales", "info",
    "test1", "test2", "user1", "student", "demo", "server", "ftp", "mail", "nginx", "apache",
    "zabbix", "gitlab", "hdfs", "sshd", "bitrix", "sysadmin", "uucp", "ubnt", "support1",
)  # fmt: skip


@dataclass
class Line:
    ts: datetime
    pid: int
    text: str


class SshLog:
    def __init__(self, pop: Population, rng: random.Random) -> None:
        self.pop = pop
        self.cal = pop.cal
        self.rng = rng
        self.lines: list[Line] = []
        self.labels: list[Label] = []
        self.connections = 0
        self.keys: dict[str, str] = {}

    def next_pid(self) -> int:
        """A new connection; it gets its process id when the log is written, in time order."""
        self.connections += 1
        return self.connections

    def port(self) -> int:
        return self.rng.randrange(32768, 61000)

    def say(self, ts: datetime, pid: int, text: str) -> None:
        self.lines.append(Line(ts, pid, text))

    def attempt(self, ts: datetime, user: str, ip: str) -> None:
        """One connection, one password tried, refused."""
        pid, port, rng = self.next_pid(), self.port(), self.rng
        if user in SYSTEM_USERS:
            self.say(ts, pid, f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}")  # fmt: skip
            t = ts + timedelta(seconds=rng.uniform(1.5, 3.5))
            self.say(t, pid, f"Failed password for {user} from {ip} port {port} ssh2")
            t += timedelta(seconds=rng.uniform(0.1, 2))
            self.say(t, pid, f"Connection closed by authenticating user {user} {ip} port {port} [preauth]")  # fmt: skip
        else:
            self.say(ts, pid, f"Invalid user {user} from {ip} port {port}")
            t = ts + timedelta(milliseconds=rng.randrange(5, 300))
            self.say(t, pid, "pam_unix(sshd:auth): check pass; user unknown")
            self.say(t, pid, f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}")  # fmt: skip
            t += timedelta(seconds=rng.uniform(1.5, 3.5))
            self.say(t, pid, f"Failed password for invalid user {user} from {ip} port {port} ssh2")
            t += timedelta(seconds=rng.uniform(0.1, 2))
            if rng.random() < 0.5:
                self.say(t, pid, f"Received disconnect from {ip} port {port}:11: Bye Bye [preauth]")
                self.say(
                    t, pid, f"Disconnected from invalid user {user} {ip} port {port} [preauth]"
                )
            else:
                self.say(t, pid, f"Connection closed by invalid user {user} {ip} port {port} [preauth]")  # fmt: skip

    def accepted(self, ts: datetime, user: str, ip: str) -> None:
        pid, port, rng = self.next_pid(), self.port(), self.rng
        if user not in self.keys:
            alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            self.keys[user] = "".join(rng.choice(alphabet) for _ in range(43))
        fingerprint = self.keys[user]
        uid = 1000 + sorted(SYSTEM_USERS).index(user)
        self.say(ts, pid, f"Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:{fingerprint}")  # fmt: skip
        self.say(ts, pid, f"pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)")  # fmt: skip
        end = ts + timedelta(minutes=rng.uniform(0.2, 90))
        self.say(end, pid, f"Received disconnect from {ip} port {port}:11: disconnected by user")
        self.say(end, pid, f"Disconnected from user {user} {ip} port {port}")
        self.say(end, pid, f"pam_unix(sshd:session): session closed for user {user}")

    def benign(self) -> None:
        rng, cal = self.rng, self.cal
        office = world.FI_OFFICE.pick(rng, self.pop.taken)
        ci = world.FI_DC.pick(rng, self.pop.taken)
        homes = {a: world.FI_HOME.pick(rng, self.pop.taken) for a in ADMINS[:2]}
        for address in (office, ci, *homes.values()):
            self.pop.expect_country[address] = "FI"
        for day in range(cal.total):
            if cal.workday(day):
                for admin in ADMINS[:2]:
                    for _ in range(rng.choice((0, 1, 1, 2, 3))):
                        where = office if rng.random() < 0.8 else homes[admin]
                        self.accepted(cal.at(day, rng.uniform(7.5, 17.5)), admin, where)
                for _ in range(rng.randint(2, 8)):
                    self.accepted(cal.at(day, rng.uniform(6, 22)), "deploy", ci)
            self.accepted(cal.at(day, 3 + rng.random() / 10), "ansible", ci)
        # Background noise: a stranger every hour or two, a few tries, gone.
        ts = cal.start + timedelta(minutes=rng.uniform(10, 60))
        while ts < cal.end:
            ip = world.ABROAD[rng.choice(tuple(world.ABROAD))].pick(rng, self.pop.taken)
            t = ts
            for _ in range(rng.choice((1, 1, 2, 3, 4))):
                name = "root" if rng.random() < 0.4 else rng.choice(COMMON_NAMES)
                self.attempt(t, name, ip)
                t += timedelta(seconds=rng.uniform(2, 30))
            if rng.random() < 0.3:
                pid = self.next_pid()
                self.say(t, pid, f"Connection closed by {ip} port {self.port()} [preauth]")
            ts += timedelta(minutes=rng.uniform(40, 180))

    def scanner(self) -> None:
        """A dictionary scanner: thousands of passwords against root and 20-40 common
        names, from one address, over hours, a few connections at a time."""
        rng, cal = self.rng, self.cal
        ip = world.ABROAD[rng.choice(("CN", "CN", "VN", "RU", "BR", "IN", "KR", "US"))].pick(
            rng, self.pop.taken
        )
        names = rng.sample(COMMON_NAMES, rng.randint(20, 40))
        plan = ["root"] * rng.randint(1000, 4000)
        for name in names:
            plan += [name] * rng.choice((1, 1, 2, 3, 5, 8, 12, 25))
        rng.shuffle(plan)
        hours = rng.uniform(2, 10)
        span = (cal.end - cal.month_start).total_seconds() - (hours + 2) * 3600
        start = cal.month_start + timedelta(seconds=rng.uniform(3600, span))
        step = hours * 3600 / len(plan)
        ts = start
        for name in plan:
            self.attempt(ts, name, ip)
            ts += timedelta(seconds=rng.uniform(0.2, 1.8) * step)
        unknown = len({n for n in names if n not in SYSTEM_USERS})
        summary = f"sshd: {len(plan)} passwords ({plan.count('root')} for root) and {len(names)} names ({unknown} unknown) in {hours:.1f} h"  # fmt: skip
        self.labels.append(Label("brute_force", "ip", ip, start, ts, True, "ssh_scanner", summary))
        self.labels.append(
            Label(
                "account_enumeration",
                "ip",
                ip,
                start,
                ts,
                False,
                "ssh_scanner",
                "secondary: unknown names of the scanner",
            )
        )

    def text(self) -> str:
        self.lines.sort(key=lambda line: (line.ts, line.pid))
        pids: dict[int, int] = {}
        pid = self.rng.randrange(2000, 9000)
        out = []
        for line in self.lines:
            if line.pid not in pids:
                pid += self.rng.randint(1, 40)
                pids[line.pid] = pid
            if not self.cal.start <= line.ts < self.cal.end:
                continue
            stamp = f"{line.ts:%b} {line.ts.day:>2} {line.ts:%H:%M:%S}"
            out.append(f"{stamp} {HOST} sshd[{pids[line.pid]}]: {line.text}\n")
        return "".join(out)


def generate(pop: Population, rng: random.Random) -> tuple[str, list[Label]]:
    log = SshLog(pop, rng)
    log.benign()
    for _ in range(rng.randint(2, 3)):
        log.scanner()
    return log.text(), log.labels
