"""Labelled attacks on the portal, placed in the scored month on top of the benign month.

Each scenario writes its events and the labels of the alerts it should raise: required
labels (the alert a detector must find) and optional ones (secondary alerts the attack
may legitimately cause, neither counted for recall nor as false positives).
"""

from __future__ import annotations

import ipaddress
import random
from collections import defaultdict, deque
from datetime import datetime, timedelta

from bench.scenarios import world
from bench.scenarios.benign import (
    LOCK_AFTER,
    LOCK_WINDOW,
    Account,
    Event,
    Login,
    Population,
    Simulator,
)
from bench.scenarios.score import Label

PROXY_COUNTRIES = (
    "US", "US", "US", "BR", "BR", "IN", "IN", "VN", "VN", "ID", "TR", "MX", "AR", "TH", "ZA",
    "KR", "UA", "RU", "CN", "NG", "PK", "NL", "DE",
)  # fmt: skip
VPS_COUNTRIES = ("US", "NL", "DE", "RU", "CN", "VN", "BR", "IN", "KR", "TR", "UA")
HOSTING_NAMES = (
    "static.{a}-{b}-{c}-{d}.clients.your-server.de",
    "{d}.{c}.{b}.{a}.static.vps-hosting.example.net",
    "ip-{a}-{b}-{c}-{d}.ip.secureserver.example.com",
    "vps{a}{b}.srv-{c}-{d}.cloudhost.example.org",
)
GEO_CATEGORIES = ("new_country", "impossible_travel", "dormant_account", "success_after_failures")


class Attacks:
    def __init__(self, pop: Population, sim: Simulator, rng: random.Random) -> None:
        self.pop = pop
        self.sim = sim
        self.cal = pop.cal
        self.rng = rng
        self.labels: list[Label] = []
        self.events: list[Event] = []
        self.reserved: set[str] = set()
        self._fails: dict[tuple[str, str], deque[datetime]] = defaultdict(deque)

    # ---- helpers

    def when(self, hours_needed: float = 2.0, local: tuple[float, float] | None = None) -> datetime:
        """A random moment of the scored month that leaves room for the attack (within
        `local` Helsinki hours when a person, not a machine, is at it)."""
        if local is not None:
            day = self.rng.randrange(self.cal.history, self.cal.total - 1)
            ts = self.cal.at(day, self.rng.uniform(*local))
            return ts + timedelta(milliseconds=self.rng.randrange(1000))
        span = (self.cal.end - self.cal.month_start).total_seconds() - hours_needed * 3600 - 7200
        offset = self.rng.uniform(3600, span)
        return self.cal.month_start + timedelta(
            seconds=offset, milliseconds=self.rng.randrange(1000)
        )

    def source(self, countries: tuple[str, ...] = VPS_COUNTRIES) -> str:
        pool = world.ABROAD[self.rng.choice(countries)]
        return pool.pick(self.rng, self.pop.taken)

    def event(self, ts: datetime, user: str, ip: str | None, ua: str, **fields: object) -> Event:
        account = self.pop.by_user.get(user)
        event: Event = {
            "ts": ts,
            "event": "login",
            "user": user,
            "customer_id": account.customer_id if account else None,
            "user_agent": ua,
            "service": "portal",
        }
        if ip is None:
            event["host"] = fields.pop("host")
        else:
            event["ip"] = ip
        event.update(fields)
        self.events.append(event)
        return event

    def fail(self, ts: datetime, user: str, ip: str | None, ua: str, **fields: object) -> Event:
        """A failed login with the reason the portal gives: unknown_user when the name does
        not exist, locked after 10 failures of the account from this source in 15 minutes,
        bad_password otherwise."""
        if not self.pop.exists(user):
            reason = "unknown_user"
        else:
            key = (user, ip or str(fields.get("host")))
            seen = self._fails[key]
            while seen and ts - seen[0] > LOCK_WINDOW:
                seen.popleft()
            reason = "locked" if len(seen) >= LOCK_AFTER else "bad_password"
            seen.append(ts)
        return self.event(ts, user, ip, ua, outcome="failure", reason=reason, **fields)

    def succeed(self, ts: datetime, account: Account, ip: str, ua: str, activity: int = 2) -> str:
        """The attacker is in: a session and some clicking around in it."""
        sid = self.sim.session_id()
        self.event(ts, account.user, ip, ua, outcome="success", session_id=sid)
        t = ts
        for _ in range(activity):
            t += timedelta(seconds=self.rng.uniform(20, 600))
            self.event(t, account.user, ip, ua, event="session_activity", session_id=sid)
        return sid

    def label(
        self,
        category: str,
        entity_type: str,
        entity: str,
        start: datetime,
        end: datetime,
        scenario: str,
        summary: str,
        required: bool = True,
        members: tuple[str, ...] = (),
    ) -> None:
        self.labels.append(
            Label(category, entity_type, entity, start, end, required, scenario, summary, members)
        )

    def takeover_extras(self, account: Account, start: datetime, end: datetime, scenario: str,
                        skip: tuple[str, ...] = ()) -> None:  # fmt: skip
        """What a login by an attacker to someone's account may also raise."""
        for category in GEO_CATEGORIES:
            if category in skip:
                continue
            self.label(
                category, "user", account.user, start - timedelta(hours=2),
                end + timedelta(hours=12), scenario, f"secondary: {category} of {account.user}",
                required=False,
            )  # fmt: skip

    def people(self, *, styles: tuple[str, ...] = ("office", "home", "v6", "mobile"),
               activities: tuple[str, ...] = ("daily",)) -> list[Account]:  # fmt: skip
        """Accounts of ordinary people that no other scenario uses."""
        return [
            a
            for a in self.pop.accounts
            if a.style in styles
            and a.activity in activities
            and not a.tags
            and a.user not in self.reserved
        ]

    def with_history(self, account: Account, ts: datetime) -> bool:
        """At least 10 logins over at least 14 days before `ts`, all from Finland."""
        before = [login for login in account.logins if login.ts < ts]
        if len(before) < 10 or ts - before[0].ts < timedelta(days=14):
            return False
        return all(world.country_of(login.ip) == "FI" for login in before)

    def reserve(self, account: Account) -> None:
        self.reserved.add(account.user)

    def owner_login(self, account: Account, ts: datetime, typo: bool) -> Login:
        """The account's owner logging in as usual (home, office), maybe with a typo."""
        last = account.last_login_before(ts) or account.logins[-1]
        place = (
            "office"
            if account.style == "office" and self.cal.workday(self.cal.day_of(ts))
            else "home"
        )
        if place == "office" and not account.company.office:
            place = "home"
        ip = (
            last.ip
            if last.place in ("home", "office")
            else account.home_address(self.cal.day_of(ts)) or last.ip
        )
        if account.style == "v6" and place == "home":
            ip = self.sim._v6(account, self.cal.day_of(ts))
        ua = account.desktop.ua(self.cal.day_of(ts))
        login = self.sim.login(account, ts, ip, ua, place, failures="typo" if typo else "none")
        account.logins.sort(key=lambda x: x.ts)
        return login

    # ---- scenarios

    def brute_force(self, variant: str) -> None:
        """One source, one account, dozens of failures in minutes. `v6`: the source rotates
        through its /64 (so no address gets locked out) and finds the password at last.
        `host`: the log names the source by its host name only."""
        rng = self.rng
        victims = self.people(activities=("daily", "weekly", "monthly", "inactive"))
        account = rng.choice(victims)
        self.reserve(account)
        ts = start = self.when()
        ua = rng.choice(world.TOOL_AGENTS)
        count = rng.randint(25, 150)
        net = world.ABROAD_V6[rng.choice(tuple(world.ABROAD_V6))].pick_64(rng, self.pop.taken)
        address = self.source()
        a, b, c, d = address.split(".")
        host = rng.choice(HOSTING_NAMES).format(a=a, b=b, c=c, d=d)
        entity = {"v6": str(net), "host": host}.get(variant, address)
        for _ in range(count):
            if variant == "v6":
                self.fail(ts, account.user, world.privacy_address(net, rng), ua)
            elif variant == "host":
                self.fail(ts, account.user, None, ua, host=host)
            else:
                self.fail(ts, account.user, address, ua)
            ts += timedelta(seconds=rng.uniform(1.5, 12))
        end = ts
        what = f"{count} failures against {account.user} from {entity}"
        if variant == "v6":
            self.succeed(ts, account, world.privacy_address(net, rng), ua)
            what += ", then a success"
            self.takeover_extras(account, start, ts, "brute_force")
        self.label("brute_force", "ip", entity, start, end, f"brute_force:{variant}", what)
        # The owner goes on logging in as usual.
        if account.activity in ("daily", "weekly") and rng.random() < 0.6:
            self.owner_login(
                account, end + timedelta(minutes=rng.uniform(15, 240)), rng.random() < 0.3
            )

    def spray(self, slow: bool) -> None:
        """One source, many existing accounts, one or two tries each: fast (20-60 accounts
        within an hour) or low and slow (60-200 accounts, one try every 2-8 minutes for
        many hours, never 10 in 10 minutes)."""
        rng = self.rng
        count = rng.randint(60, 200) if slow else rng.randint(20, 60)
        companies = [c for c in self.pop.companies if len(c.accounts) >= count]
        if companies and rng.random() < 0.7:
            company = rng.choice(companies)
            targets = [a.user for a in company.accounts if a.style != "api"]
        else:
            targets = [a.user for a in self.pop.accounts if a.style != "api"]
        users = rng.sample(targets, min(count, len(targets)))
        # A harvested list is a little stale: some people have left, some names are wrong.
        for i in range(len(users)):
            if rng.random() < 0.05:
                users[i] = self.sim._typo(users[i])
        ip = self.source()
        ua = rng.choice(world.TOOL_AGENTS)
        if slow:
            gap = rng.uniform(2.2, 8) * 60
            duration = gap * len(users) * 1.3
        else:
            duration = rng.uniform(10, 55) * 60
            gap = duration / (len(users) * 1.3)
        ts = start = self.when(duration / 3600 + 1)
        attempts = 0
        for user in users:
            for _ in range(1 if rng.random() < 0.7 else 2):
                self.fail(ts, user, ip, ua)
                attempts += 1
                step = rng.uniform(0.6, 1.4) * gap
                ts += timedelta(seconds=max(step, 125.0) if slow else step)
        kind = "slow" if slow else "fast"
        hours = (ts - start) / timedelta(hours=1)
        self.label(
            "password_spraying", "ip", ip, start, ts, f"password_spraying:{kind}",
            f"{kind} spray: {attempts} tries over {len(users)} accounts in {hours:.1f} h",
        )  # fmt: skip

    def stuffing(self, members: int) -> None:
        """A leaked list replayed through residential proxies, each address below every
        per-source threshold; a few accounts still had the leaked password."""
        rng = self.rng
        existing = [a for a in self.pop.accounts if a.style != "api"]
        combos = rng.randint(int(members * 2), int(members * 3.5))
        known = rng.sample(existing, int(combos * rng.uniform(0.55, 0.65)))
        unknown: list[str] = []
        while len(unknown) < combos - len(known):
            first, last = rng.choice(world.FIRST_NAMES), rng.choice(world.LAST_NAMES)
            domain = rng.choice(
                world.FREEMAIL + tuple(c.domain for c in rng.sample(self.pop.companies, 3))
            )
            name = f"{first}.{last}{rng.choice(('', '', str(rng.randint(1, 99))))}@{domain}"
            if not self.pop.exists(name):
                unknown.append(name)
        winners = [
            a for a in known
            if a.user not in self.reserved and not a.tags and a.style in ("office", "home", "v6", "mobile")
        ][: rng.randint(1, 3)]  # fmt: skip
        listing = [a.user for a in known] + unknown
        rng.shuffle(listing)
        sources = [self.source(PROXY_COUNTRIES) for _ in range(members)]
        single_agent = rng.random() < 0.7
        agents = (
            [rng.choice(world.TOOL_AGENTS)] if single_agent else rng.sample(world.TOOL_AGENTS, 4)
        )
        duration = rng.uniform(0.6, 7) * 3600
        start = self.when(duration / 3600 + 1)
        # Deal the list out: every source gets one to five names.
        queue = list(listing)
        share: dict[str, list[str]] = {s: [] for s in sources}
        for s in sources:
            share[s].append(queue.pop())
        while queue:
            s = rng.choice([s for s in sources if len(share[s]) < 5] or sources)
            share[s].append(queue.pop())
        winner_users = {a.user for a in winners}
        times: list[datetime] = []
        used: list[str] = []
        takeovers: list[tuple[Account, datetime, str]] = []
        for s in sources:
            ts = start + timedelta(seconds=rng.uniform(0, duration))
            ua = rng.choice(agents)
            for user in share[s]:
                if user in winner_users:
                    account = self.pop.by_user[user]
                    self.succeed(ts, account, s, ua, activity=rng.randint(1, 4))
                    takeovers.append((account, ts, s))
                    self.reserve(account)
                else:
                    self.fail(ts, user, s, ua)
                times.append(ts)
                ts += timedelta(seconds=rng.uniform(2, 40))
            used.append(s)
        self.label(
            "credential_stuffing", "campaign", f"campaign of {len(used)} sources", min(times), max(times),
            f"credential_stuffing:{members}",
            f"{len(listing)} leaked names ({len(unknown)} unknown) from {len(used)} sources, "
            f"{len(takeovers)} logged in",
            members=tuple(used),
        )  # fmt: skip
        for account, ts, s in takeovers:
            self.label(
                "credential_stuffing", "user", account.user, ts, ts + timedelta(minutes=30),
                "credential_stuffing:takeover", f"{account.user} logged in from campaign source {s}",
            )  # fmt: skip
            self.takeover_extras(account, ts, ts, "credential_stuffing:takeover")

    def distributed(self) -> None:
        """Many sources, each one to three failures, against one account in under 30
        minutes. The owner keeps logging in from home and must not be blamed."""
        rng = self.rng
        account = rng.choice(self.people())
        self.reserve(account)
        n = rng.randint(5, 30)
        duration = rng.uniform(4, 24) * 60
        start = self.when(1)
        agents = rng.sample(world.TOOL_AGENTS, rng.choice((1, 1, 3)))
        times: list[datetime] = []
        for _ in range(n):
            s = self.source(PROXY_COUNTRIES)
            ts = start + timedelta(seconds=rng.uniform(0, duration))
            ua = rng.choice(agents)
            for _ in range(rng.randint(1, 3)):
                self.fail(ts, account.user, s, ua)
                times.append(ts)
                ts += timedelta(seconds=rng.uniform(3, 60))
        first, last = min(times), max(times)
        self.label(
            "distributed_brute_force", "user", account.user, first, last, "distributed_brute_force",
            f"{n} sources against {account.user} in {(last - first).total_seconds() / 60:.0f} min",
        )  # fmt: skip
        if rng.random() < 0.7:
            self.owner_login(
                account, last + timedelta(minutes=rng.uniform(3, 90)), rng.random() < 0.3
            )

    def enumeration(self) -> None:
        """One source, 30-200 names mostly not existing, about one try each."""
        rng = self.rng
        company = rng.choice([c for c in self.pop.companies if len(c.accounts) >= 10])
        n = rng.randint(30, 200)
        real = [a.user for a in company.accounts]
        hits = rng.sample(real, min(len(real), max(1, round(n * rng.uniform(0.03, 0.15)))))
        names: set[str] = set(hits)
        while len(names) < n:
            first, last = rng.choice(world.FIRST_NAMES), rng.choice(world.LAST_NAMES)
            form = rng.choice(("{f}.{l}", "{f}{l}", "{f0}{l}", "{f}", "{l}"))
            local = form.format(f=first, l=last, f0=first[0])
            name = f"{local}@{company.domain}"
            if rng.random() < 0.15:
                name = (
                    rng.choice(
                        (
                            "admin",
                            "info",
                            "test",
                            "myynti",
                            "asiakaspalvelu",
                            "laskutus",
                            "toimisto",
                        )
                    )
                    + f"@{company.domain}"
                )
            names.add(name)
        order = list(names)
        rng.shuffle(order)
        ip = self.source()
        ua = rng.choice(world.TOOL_AGENTS)
        duration = rng.uniform(10, 50) * 60 if rng.random() < 0.5 else rng.uniform(1, 4) * 3600
        ts = start = self.when(duration / 3600 + 1)
        for name in order:
            for _ in range(1 if rng.random() < 0.95 else 2):
                self.fail(ts, name, ip, ua)
                ts += timedelta(seconds=rng.uniform(0.4, 1.6) * duration / n)
        unknown = sum(not self.pop.exists(name) for name in order)
        self.label(
            "account_enumeration", "ip", ip, start, ts, "account_enumeration",
            f"{n} names at {company.domain} ({unknown} unknown) in {(ts - start).total_seconds() / 60:.0f} min",
        )  # fmt: skip

    def session_hijack(self, variant: str) -> None:
        """A session cookie replayed from another country (same client: an infostealer
        copies both), another country and client, or another Finnish address and client."""
        rng = self.rng
        candidates = self.people(styles=("office", "home", "v6"))
        rng.shuffle(candidates)
        for account in candidates:
            logins = [
                x for x in account.logins
                if x.ts > self.cal.month_start + timedelta(days=1)
                and x.ts < self.cal.end - timedelta(hours=8)
                and x.place in ("home", "office")
                and self.with_history(account, x.ts)
            ]  # fmt: skip
            if logins:
                break
        else:
            raise RuntimeError("no session to hijack")
        self.reserve(account)
        login = rng.choice(logins)
        if variant == "same-client":
            ip, ua = self.source(PROXY_COUNTRIES), login.ua
        elif variant == "other-client":
            ip, ua = self.source(PROXY_COUNTRIES), rng.choice(world.TOOL_AGENTS)
        else:
            ip = world.FI_HOME.pick(rng, self.pop.taken)
            ua = rng.choice(world.TOOL_AGENTS)
        ts = start = login.ts + timedelta(minutes=rng.uniform(8, 300))
        for _ in range(rng.randint(2, 8)):
            self.event(
                ts, account.user, ip, ua, event="session_activity", session_id=login.session_id
            )
            ts += timedelta(seconds=rng.uniform(15, 400))
        self.label(
            "session_hijack", "session", login.session_id, login.ts, ts, f"session_hijack:{variant}",
            f"session of {account.user} from {login.ip} replayed from {ip} ({world.country_of(ip)})",
        )  # fmt: skip
        self.takeover_extras(
            account, start, ts, "session_hijack", skip=("success_after_failures", "dormant_account")
        )

    def dormant(self) -> None:
        """An account silent for 40+ days logs in from a new country and a new client."""
        rng = self.rng
        candidates = [
            a for a in self.pop.accounts
            if "left" in a.tags and a.user not in self.reserved and len(a.logins) >= 10
            and a.logins[-1].ts + timedelta(days=40, hours=12) < self.cal.end
        ]  # fmt: skip
        if not candidates:
            return  # a log too short for 40 days of silence before its end
        account = rng.choice(candidates)
        self.reserve(account)
        last = account.logins[-1].ts
        earliest = max(last + timedelta(days=40), self.cal.month_start + timedelta(days=1))
        span = (self.cal.end - timedelta(hours=6) - earliest).total_seconds()
        ts = earliest + timedelta(seconds=rng.uniform(0, span))
        ip = self.source(PROXY_COUNTRIES)
        ua = rng.choice(world.TOOL_AGENTS)
        start = ts
        for _ in range(rng.choice((0, 0, 1, 2))):
            self.fail(ts, account.user, ip, ua)
            ts += timedelta(seconds=rng.uniform(5, 60))
        self.succeed(ts, account, ip, ua, activity=rng.randint(1, 5))
        silent = (ts - last).days
        self.label(
            "dormant_account", "user", account.user, start, ts, "dormant_account",
            f"{account.user} silent {silent} days, then in from {world.country_of(ip)}",
        )  # fmt: skip
        self.takeover_extras(account, start, ts, "dormant_account", skip=("dormant_account",))

    def impossible_travel(self) -> None:
        """A login in Helsinki, then within the hour one far away, from a new device."""
        rng = self.rng
        candidates = self.people(styles=("office", "home"))
        rng.shuffle(candidates)
        for account in candidates:
            logins = [
                x for x in account.logins
                if x.ts > self.cal.month_start and x.ts < self.cal.end - timedelta(hours=3)
                and x.place in ("home", "office")
                and (world.lookup(x.ip) or world.Place(None, None, None, None, None)).city
                in ("Helsinki", "Espoo", "Vantaa")
                and self.with_history(account, x.ts)
            ]  # fmt: skip
            if logins:
                break
        else:
            raise RuntimeError("no Helsinki victim")
        self.reserve(account)
        login = rng.choice(logins)
        here = world.coords(login.ip)
        assert here is not None
        for _ in range(100):
            pool = world.FAR_CITY[rng.choice(tuple(world.FAR_CITY))]
            ip = pool.pick(rng, self.pop.taken)
            there = world.coords(ip)
            if there and world.km(here, there) > 3000:
                break
        ts = login.ts + timedelta(minutes=rng.uniform(5, 55))
        ua = rng.choice(world.TOOL_AGENTS[4:])
        self.succeed(ts, account, ip, ua, activity=rng.randint(1, 3))
        home, away = world.lookup(login.ip), world.lookup(ip)
        assert home is not None and away is not None and there is not None
        minutes = (ts - login.ts).total_seconds() / 60
        self.label(
            "impossible_travel", "user", account.user, login.ts, ts, "impossible_travel",
            f"{account.user}: {home.city} then {away.city}, {away.country} "
            f"({world.km(here, there):.0f} km) {minutes:.0f} min later",
        )  # fmt: skip
        self.takeover_extras(
            account, login.ts, ts, "impossible_travel", skip=("impossible_travel",)
        )

    def new_country(self) -> None:
        """A phished account used from a country it never used, with a new client, at a
        time no trip rules out (between two of the owner's logins a day or more apart)."""
        rng = self.rng
        candidates = self.people(activities=("daily", "weekly"))
        rng.shuffle(candidates)
        for account in candidates:
            gaps = [
                (a, b) for a, b in zip(account.logins, account.logins[1:], strict=False)
                if a.ts > self.cal.month_start and b.ts - a.ts > timedelta(hours=30)
                and self.with_history(account, a.ts + timedelta(hours=1))
            ]  # fmt: skip
            if gaps:
                break
        else:
            raise RuntimeError("no victim for new_country")
        self.reserve(account)
        a, b = rng.choice(gaps)
        ts = a.ts + (b.ts - a.ts) * rng.uniform(0.4, 0.6)
        ip = self.source(("NG", "BR", "US", "RU", "TR", "VN", "IN", "ID", "MX", "ZA", "UA"))
        ua = rng.choice(world.TOOL_AGENTS[4:])
        self.succeed(ts, account, ip, ua, activity=rng.randint(1, 4))
        self.label(
            "new_country", "user", account.user, ts, ts, "new_country",
            f"{account.user} (always FI) in from {world.country_of(ip)} with a new client",
        )  # fmt: skip
        self.takeover_extras(account, ts, ts, "new_country", skip=("new_country",))

    def guessing(self) -> None:
        """Someone who knows the victim guesses the password from a Finnish address: a run
        of failures below the brute-force trigger, then a success."""
        rng = self.rng
        account = rng.choice(self.people(activities=("daily", "weekly")))
        self.reserve(account)
        ip = world.FI_HOME.pick(rng, self.pop.taken)
        device = world.Device(world.weighted(rng, world.DESKTOP_KINDS), 0, 0)
        ts = start = self.when(local=(8, 23))
        ua = device.ua(self.cal.day_of(ts))
        n = rng.randint(5, 9)
        for _ in range(n):
            self.fail(ts, account.user, ip, ua)
            ts += timedelta(seconds=rng.uniform(20, 65))
        self.succeed(ts, account, ip, ua, activity=rng.randint(1, 3))
        self.label(
            "success_after_failures", "user", account.user, start, ts, "success_after_failures",
            f"{n} failures for {account.user} from {ip}, then a success",
        )  # fmt: skip
        self.takeover_extras(
            account, start, ts, "success_after_failures", skip=("success_after_failures",)
        )


def inject(pop: Population, sim: Simulator, rng: random.Random) -> tuple[list[Event], list[Label]]:
    """Every portal attack of one seed, in varied numbers and sizes."""
    attacks = Attacks(pop, sim, rng)
    for variant in ["v4", rng.choice(("v4", "host")), "v6"]:
        attacks.brute_force(variant)
    for _ in range(rng.randint(2, 3)):
        attacks.spray(slow=False)
    for _ in range(rng.randint(1, 2)):
        attacks.spray(slow=True)
    for size in (rng.randint(8, 20), rng.randint(30, 80), rng.randint(100, 200)):
        attacks.stuffing(size)
    for _ in range(rng.randint(3, 4)):
        attacks.distributed()
    for _ in range(rng.randint(2, 3)):
        attacks.enumeration()
    for variant in ("same-client", "other-client", "domestic"):
        attacks.session_hijack(variant)
    for _ in range(rng.randint(2, 3)):
        attacks.dormant()
    for _ in range(rng.randint(2, 3)):
        attacks.impossible_travel()
    for _ in range(rng.randint(2, 3)):
        attacks.new_country()
    for _ in range(rng.randint(2, 3)):
        attacks.guessing()
    # The owners' extra logins went through the simulator's event list.
    return attacks.events, attacks.labels


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
