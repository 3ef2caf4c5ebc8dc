"""The benign population: customer companies of a Finnish mail-and-parcel company and the
people who log in to its business portal, and what they do for three months.

Nothing here should raise an alert (see bench/quality.py for why each habit is benign).
The generator keeps every successful login of every account (`Account.logins`) so the
attack scenarios can pick victims with a real history and place attacks beside the
victims' own logins.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench.scenarios import world
from bench.scenarios.world import Calendar, Device, Pool

Event = dict[str, Any]

LOCK_AFTER = 10  # the portal's smart lockout: failures of one account from one source
LOCK_WINDOW = timedelta(minutes=15)


@dataclass
class Household:
    address: str
    device: Device
    members: list[Account] = field(default_factory=list)


@dataclass
class Company:
    customer_id: str
    name: str
    domain: str
    size: str  # large, medium, small, micro
    office: list[str] = field(default_factory=list)  # NAT egress addresses
    vpn: list[str] = field(default_factory=list)  # corporate VPN exits (Amsterdam)
    server: str | None = None  # the integration's server
    accounts: list[Account] = field(default_factory=list)


@dataclass
class Login:
    ts: datetime
    ip: str
    ua: str
    session_id: str
    place: str  # office, home, mobile, vpn, abroad, family, api


@dataclass
class Trip:
    country: str
    first_day: int
    last_day: int
    hotel: str
    ferry: bool  # Helsinki-Tallinn by boat: abroad the same afternoon


@dataclass
class Account:
    user: str
    company: Company
    activity: str  # daily, weekly, monthly, rare, inactive, integration
    style: str  # office, home, mobile, vpn, v6, family, api
    desktop: Device
    phone: Device | None
    carrier: list[str]
    mfa: bool
    home: str | None = None
    home_change: tuple[int, str] | None = None
    home_v6: ipaddress.IPv6Network | None = None
    home_v6_change: tuple[int, ipaddress.IPv6Network] | None = None
    household: Household | None = None
    active_until: int | None = None  # left the company (or the account went silent)
    leave: tuple[int, int] | None = None  # days without logging in (vacation, long leave)
    rare_days: list[int] = field(default_factory=list)
    trip: Trip | None = None
    tags: set[str] = field(default_factory=set)
    logins: list[Login] = field(default_factory=list)

    @property
    def customer_id(self) -> str:
        return self.company.customer_id

    def home_address(self, day: int) -> str | None:
        if self.home_change and day >= self.home_change[0]:
            return self.home_change[1]
        return self.home

    def home_net(self, day: int) -> ipaddress.IPv6Network | None:
        if self.home_v6_change and day >= self.home_v6_change[0]:
            return self.home_v6_change[1]
        return self.home_v6

    def last_login_before(self, ts: datetime) -> Login | None:
        before = [login for login in self.logins if login.ts < ts]
        return before[-1] if before else None


@dataclass
class Population:
    cal: Calendar
    companies: list[Company]
    accounts: list[Account]
    by_user: dict[str, Account]
    taken: set[str]  # every address and /64 handed out, so no two roles share one
    expect_country: dict[str, str]  # benign address (or /64) -> the country it must be in
    carriers: list[list[str]]
    expiry_morning: tuple[Company, int, list[str]] | None = None
    integration_outage: tuple[Account, datetime, datetime] | None = None
    trips: list[Account] = field(default_factory=list)

    def exists(self, user: str) -> bool:
        return user in self.by_user


def _ascii(text: str) -> str:
    return text.replace("ä", "a").replace("ö", "o").replace("å", "a")


def _device(rng: random.Random, kinds: tuple[tuple[str, int], ...], offset: int) -> Device:
    return Device(world.weighted(rng, kinds), rng.choice((0, 0, 1, 2, 3, 5, 8, 13)), offset)


def _pick_size(rng: random.Random, size: str) -> int:
    return {
        "large": lambda: rng.randint(90, 220),
        "medium": lambda: rng.randint(14, 55),
        "small": lambda: rng.randint(3, 12),
        "micro": lambda: rng.randint(1, 2),
    }[size]()


def build_population(rng: random.Random, cal: Calendar, scale: float = 1.0) -> Population:
    """Companies, their accounts, addresses and clients, and each account's habits."""
    taken: set[str] = set()
    expect: dict[str, str] = {}
    release_offset = rng.randrange(0, 28)
    carriers: list[list[str]] = []
    for pool in world.FI_MOBILE:
        # A carrier's CGNAT: a few hundred subscribers per address, a few /24s of addresses.
        base = pool.pick(rng, taken)
        addresses = [base] + [pool.near(base, rng, taken, 22) for _ in range(rng.randint(20, 40))]
        carriers.append(addresses)
        for a in addresses:
            expect[a] = "FI"

    def n(count: int) -> int:
        return max(1, round(count * scale))

    sizes = (
        ["large"] * n(rng.randint(3, 4))
        + ["medium"] * n(rng.randint(20, 28))
        + ["small"] * n(rng.randint(80, 110))
        + ["micro"] * n(rng.randint(300, 380))
    )
    companies: list[Company] = []
    names_used: set[str] = set()
    for size in sizes:
        while True:
            name = f"{rng.choice(world.COMPANY_PLACES)}-{rng.choice(world.COMPANY_WORDS)}"
            if name not in names_used:
                names_used.add(name)
                break
        suffix = rng.choice(("oy", "oy", "oy", "ab", "ky", "tmi" if size == "micro" else "oy"))
        title = f"{name.replace('-', ' ').title()} {suffix.capitalize()}"
        company = Company(f"{rng.randrange(1000000, 9999999)}", title, f"{name}.fi", size)
        if size in ("large", "medium") or (size == "small" and rng.random() < 0.5):
            first = world.FI_OFFICE.pick(rng, taken)
            company.office = [first]
            # Big offices leave through a few NAT addresses next to each other.
            extra = rng.choice((0, 1, 2, 3)) if size == "large" else 0
            company.office += [world.FI_OFFICE.near(first, rng, taken, 28) for _ in range(extra)]
            for a in company.office:
                expect[a] = "FI"
        companies.append(company)

    # One or two mid-sized companies whose people work over a VPN exiting in Amsterdam.
    vpn_companies = rng.sample([c for c in companies if c.size == "medium"], 2)
    for company in vpn_companies:
        first = world.NL_VPN.pick(rng, taken)
        company.vpn = [first] + [world.NL_VPN.near(first, rng, taken, 28) for _ in range(1)]
        for a in company.vpn:
            expect[a] = "NL"

    accounts: list[Account] = []
    by_user: dict[str, Account] = {}

    def new_user(company: Company) -> str:
        for _ in range(100):
            first, last = rng.choice(world.FIRST_NAMES), rng.choice(world.LAST_NAMES)
            form = rng.random()
            local = f"{first}.{last}" if form < 0.8 else f"{first[0]}{last}"
            if form > 0.95:
                local = f"{first}.{last}{rng.randint(2, 9)}"
            user = f"{local}@{company.domain}"
            if company.size == "micro" and rng.random() < 0.35:
                user = f"{local}{rng.choice(('', str(rng.randint(60, 99))))}@{rng.choice(world.FREEMAIL)}"
            if user not in by_user:
                return user
        raise RuntimeError("no free user name")

    for company in companies:
        for _ in range(_pick_size(rng, company.size)):
            user = new_user(company)
            if company.vpn:
                style = "vpn"
            elif company.office:
                style = "office" if rng.random() < 0.85 else rng.choice(("home", "mobile"))
            else:
                style = world.weighted(
                    rng, (("home", 50), ("mobile", 22), ("v6", 18), ("family", 10))
                )
            if style == "home" and rng.random() < 0.2:
                style = "v6"
            r = rng.random()
            if style == "office":
                activity = (
                    "daily"
                    if r < 0.62
                    else "weekly"
                    if r < 0.82
                    else "monthly"
                    if r < 0.9
                    else "rare"
                    if r < 0.94
                    else "inactive"
                )
            else:
                activity = (
                    "daily"
                    if r < 0.25
                    else "weekly"
                    if r < 0.6
                    else "monthly"
                    if r < 0.8
                    else "rare"
                    if r < 0.88
                    else "inactive"
                )
            desktop = _device(rng, world.DESKTOP_KINDS, release_offset)
            has_phone = style == "mobile" or rng.random() < 0.45
            phone = _device(rng, world.PHONE_KINDS, release_offset) if has_phone else None
            carrier = rng.choice(carriers)
            account = Account(
                user, company, activity, style, desktop, phone, carrier, rng.random() < 0.22
            )
            if style in ("home", "office", "vpn", "mobile"):
                account.home = world.FI_HOME.pick(rng, taken)
                expect[account.home] = "FI"
                if rng.random() < 0.1:
                    new = world.FI_HOME.near(account.home, rng, taken, 16)
                    account.home_change = (rng.randrange(5, cal.total - 5), new)
                    expect[new] = "FI"
            if style == "v6":
                account.home_v6 = world.FI_HOME_V6.pick_64(rng, taken)
                expect[str(account.home_v6)] = "FI"
                if rng.random() < 0.2:
                    net48 = ipaddress.IPv6Network(
                        (int(account.home_v6.network_address) >> 80 << 80, 48)
                    )
                    new64 = ipaddress.IPv6Network(
                        (int(net48.network_address) + (rng.randrange(1 << 16) << 64), 64)
                    )
                    if world.country_of(str(new64)) == "FI" and str(new64) not in taken:
                        taken.add(str(new64))
                        account.home_v6_change = (rng.randrange(5, cal.total - 5), new64)
                        expect[str(new64)] = "FI"
            if activity == "daily" and rng.random() < 0.3:
                start = rng.randrange(0, cal.total - 10)
                account.leave = (start, start + rng.randint(4, 14))  # a vacation
            company.accounts.append(account)
            accounts.append(account)
            by_user[user] = account

    # Families sharing a computer: two or three "family" accounts behind one home address.
    family = [a for a in accounts if a.style == "family"]
    rng.shuffle(family)
    while family:
        members = [family.pop() for _ in range(min(len(family), rng.choice((2, 2, 3))))]
        home = world.FI_HOME.pick(rng, taken)
        expect[home] = "FI"
        household = Household(home, _device(rng, world.DESKTOP_KINDS, release_offset), members)
        for member in members:
            member.household = household
            member.home = home
            if member.activity in ("inactive", "daily"):
                member.activity = "weekly"

    # An integration account at some larger companies: a server logging in all day.
    for company in rng.sample([c for c in companies if c.size in ("large", "medium")], 6):
        server = world.FI_DC.pick(rng, taken)
        expect[server] = "FI"
        company.server = server
        agent = rng.choice(world.INTEGRATION_AGENTS)
        user = f"{rng.choice(('integraatio', 'rajapinta', 'edi', 'api'))}@{company.domain}"
        if user in by_user:
            continue
        account = Account(user, company, "integration", "api", Device("api", 0, 0), None, [], False)
        account.tags.add(f"agent:{agent}")
        company.accounts.append(account)
        accounts.append(account)
        by_user[user] = account

    people = [a for a in accounts if a.style != "api"]
    free = [a for a in people if a.leave is None and a.household is None]

    # Rare users: every 6-10 weeks from home with their usual device.
    for account in [a for a in people if a.activity == "rare"]:
        day = rng.randrange(0, 18)
        while day < cal.total:
            account.rare_days.append(day)
            day += rng.randint(42, 70)
        account.tags.add("rare")

    # People who left (or whose account went quiet) early in the log; some of these
    # accounts are where the dormant-account takeovers happen.
    daily = [a for a in free if a.activity == "daily" and a.style in ("office", "home", "v6")]
    rng.shuffle(daily)
    for account in daily[: max(8, round(len(daily) * 0.04))]:
        account.active_until = rng.randint(14, 21)
        account.tags.add("left")
    # Long leave: silent five to eight weeks, back in the scored month from the usual place.
    quiet = [a for a in daily if "left" not in a.tags]
    for account in quiet[: max(4, round(len(daily) * 0.02))]:
        back = cal.history + rng.randint(2, cal.days - 4)
        account.leave = (back - rng.randint(35, 55), back)
        account.tags.add("long-leave")
    # Trips: the first time abroad, with the usual laptop, at travelling speed.
    travellers = [
        a for a in free if a.activity in ("daily", "weekly") and not a.tags and a.style != "vpn"
    ]
    trips: list[Account] = []
    for account in rng.sample(travellers, max(6, round(len(travellers) * 0.015))):
        country = rng.choice(("SE", "SE", "EE", "EE", "DE"))
        leaves = rng.randrange(cal.history - 25, cal.total - 6)
        hotel = world.TRAVEL[country].pick(rng, taken)
        expect[hotel] = country
        ferry = country == "EE" and rng.random() < 0.5
        account.trip = Trip(country, leaves, leaves + rng.randint(1, 4), hotel, ferry)
        if rng.random() < 0.5:  # packing, a long weekend: a few days without logging in
            account.leave = (leaves - rng.randint(1, 3), leaves)
        account.tags.add("traveller")
        trips.append(account)

    population = Population(cal, companies, accounts, by_user, taken, expect, carriers, trips=trips)
    # A password-expiry morning at one large company (a Monday of the scored month).
    large = [c for c in companies if c.size == "large" and c.office]
    if large:
        company = rng.choice(large)
        mondays = [d for d in range(cal.history, cal.total) if cal.day_date(d).weekday() == 0]
        day = rng.choice(mondays)
        staff = [a.user for a in company.accounts if a.activity == "daily" and not a.tags]
        population.expiry_morning = (
            company,
            day,
            rng.sample(staff, min(len(staff), rng.randint(10, 20))),
        )
    return population


# --- activity -------------------------------------------------------------------------


class Simulator:
    """Turns habits into events."""

    def __init__(self, population: Population, rng: random.Random) -> None:
        self.pop = population
        self.cal = population.cal
        self.rng = rng
        self.events: list[Event] = []
        self.v6_today: dict[tuple[str, int], str] = {}

    # ---- one login and what follows it

    def _ua(self, device: Device, day: int) -> str:
        return device.ua(day)

    def _event(self, ts: datetime, account: Account, ip: str, ua: str, **fields: Any) -> Event:
        event: Event = {
            "ts": ts,
            "event": "login",
            "user": account.user,
            "customer_id": account.customer_id,
            "ip": ip,
            "user_agent": ua,
            "service": "api" if account.style == "api" else "portal",
        }
        event.update(fields)
        self.events.append(event)
        return event

    def session_id(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def _typo(self, user: str) -> str:
        local, _, domain = user.partition("@")
        rng = self.rng
        for _ in range(20):
            r = rng.random()
            if r < 0.35 and len(local) > 3:
                i = rng.randrange(len(local))
                candidate = local[:i] + local[i + 1 :] + "@" + domain
            elif r < 0.6 and len(local) > 3:
                i = rng.randrange(len(local) - 1)
                candidate = local[:i] + local[i + 1] + local[i] + local[i + 2 :] + "@" + domain
            elif r < 0.8:
                candidate = local + "@" + domain.rsplit(".", 1)[0] + ".com"
            elif r < 0.9:
                candidate = local.split(".")[0] if "." in local else local + "@"
            else:
                candidate = local + "@" + rng.choice(world.FREEMAIL)
            if not self.pop.exists(candidate) and candidate != user:
                return candidate
        return user + "x"

    def login(
        self,
        account: Account,
        ts: datetime,
        ip: str,
        ua: str,
        place: str,
        *,
        activity_ips: list[str] | None = None,
        failures: str | None = None,
        n_activity: int | None = None,
    ) -> Login:
        """A successful login with what usually comes before and after it."""
        rng = self.rng
        t = ts
        r = rng.random() if failures is None else -1.0
        if failures in ("reset", "expired") or (failures is None and r < 0.002):
            # A forgotten (or expired) password: a few tries, a reset by email, a new one.
            count = rng.randint(1, 3) if failures == "expired" else rng.randint(2, 6)
            t -= timedelta(minutes=rng.uniform(6, 14))
            for _ in range(count):
                self._event(t, account, ip, ua, outcome="failure", reason="bad_password")
                t += timedelta(seconds=rng.uniform(8, 70))
            t += timedelta(seconds=rng.uniform(30, 200))
            self._event(t, account, ip, ua, event="password_reset", outcome="success")
            t += timedelta(seconds=rng.uniform(60, 240))
            self._event(t, account, ip, ua, event="password_change", outcome="success")
            ts = t + timedelta(seconds=rng.uniform(20, 90))
        elif failures == "typo" or (failures is None and r < 0.04):
            for _ in range(rng.choice((1, 1, 1, 2))):
                t -= timedelta(seconds=rng.uniform(6, 45))
                self._event(t, account, ip, ua, outcome="failure", reason="bad_password")
        elif failures is None and r < 0.046:
            t -= timedelta(seconds=rng.uniform(10, 60))
            self._event(
                t, account, ip, ua, user=self._typo(account.user), outcome="failure",
                reason="unknown_user", customer_id=None,
            )  # fmt: skip
        sid = self.session_id()
        self._event(ts, account, ip, ua, outcome="success", session_id=sid)
        login = Login(ts, ip, ua, sid, place)
        account.logins.append(login)
        t = ts
        if account.mfa:
            t += timedelta(seconds=rng.uniform(6, 40))
            if rng.random() < 0.03:
                self._event(
                    t, account, ip, ua, event="mfa", outcome="failure", reason="mfa_failed",
                    session_id=sid,
                )  # fmt: skip
                t += timedelta(seconds=rng.uniform(10, 40))
            self._event(t, account, ip, ua, event="mfa", outcome="success", session_id=sid)
        count = n_activity if n_activity is not None else rng.choice((0, 0, 0, 0, 1, 1, 2))
        for _ in range(count):
            t += timedelta(minutes=rng.uniform(1, 45))
            where = rng.choice(activity_ips) if activity_ips else ip
            self._event(t, account, where, ua, event="session_activity", session_id=sid)
        if rng.random() < 0.4:
            t += timedelta(minutes=rng.uniform(1, 25))
            where = rng.choice(activity_ips) if activity_ips else ip
            self._event(t, account, where, ua, event="logout", session_id=sid)
        return login

    # ---- where a person is, and on what

    def _v6(self, account: Account, day: int) -> str:
        key = (account.user, day)
        if key not in self.v6_today:
            net = account.home_net(day)
            assert net is not None
            self.v6_today[key] = world.privacy_address(net, self.rng)
        return self.v6_today[key]

    def session(self, account: Account, day: int, hour: float, place: str) -> Login | None:
        rng = self.rng
        ts = self.cal.at(day, hour) + timedelta(milliseconds=rng.randrange(1000))
        company = account.company
        activity_ips: list[str] | None = None
        device = account.desktop
        if place == "office":
            ip = rng.choice(company.office)
            if len(company.office) > 1:
                activity_ips = company.office  # a NAT with several egress addresses
        elif place == "home":
            if account.style == "v6":
                ip = self._v6(account, day)
            else:
                address = account.home_address(day)
                assert address is not None
                ip = address
        elif place == "family":
            assert account.household is not None
            ip = account.household.address
            device = account.household.device
        elif place == "mobile":
            assert account.phone is not None
            device = account.phone
            ip = rng.choice(account.carrier)
            if rng.random() < 0.3:  # the carrier's NAT moves the phone within its pool
                activity_ips = [ip, rng.choice(account.carrier)]
        elif place == "phone-home":
            # The phone on home wifi, then out of the door onto the mobile network.
            assert account.phone is not None
            device = account.phone
            ip = (
                self._v6(account, day) if account.style == "v6" else account.home_address(day) or ""
            )
            if rng.random() < 0.35:
                activity_ips = [ip, rng.choice(account.carrier)]
            place = "home"
        elif place == "vpn":
            ip = rng.choice(company.vpn)
        elif place == "abroad":
            assert account.trip is not None
            ip = account.trip.hotel
        elif place == "api":
            assert company.server is not None
            ip = company.server
            agent = next(t for t in account.tags if t.startswith("agent:"))[6:]
            return self.login(account, ts, ip, agent, "api", n_activity=rng.choice((0, 1, 1, 2)))
        else:
            raise ValueError(place)
        ua = device.ua(day)
        failures: str | None = None
        expiry = self.pop.expiry_morning
        if (
            expiry
            and day == expiry[1]
            and account.user in expiry[2]
            and place == "office"
            and not any(login.ts.date() == ts.date() for login in account.logins[-3:])
        ):
            failures = "expired"
        return self.login(account, ts, ip, ua, place, activity_ips=activity_ips, failures=failures)

    def _place(self, account: Account, day: int, office_day: bool) -> str:
        rng = self.rng
        style = account.style
        trip = account.trip
        if trip and trip.first_day <= day <= trip.last_day:
            if account.phone and rng.random() < 0.25:
                return "mobile"  # roaming: the phone still comes out of the Finnish carrier
            return "abroad"
        if account.activity == "rare" and style != "family":
            return "home"  # once in a while, from home with the usual computer
        if style == "office":
            if account.phone and rng.random() < 0.08:
                return "mobile"
            return "office" if office_day else "home"
        if style == "vpn":
            return "vpn" if rng.random() < 0.5 else "home"
        if style == "family":
            if account.phone and rng.random() < 0.15:
                return "mobile"
            return "family"
        if style == "mobile":
            return "mobile" if rng.random() < 0.8 else "home"
        # home and v6
        if account.phone and rng.random() < 0.2:
            return "mobile" if rng.random() < 0.5 else "phone-home"
        return "home"

    def _hours(self, account: Account, day: int, count: int) -> list[float]:
        rng = self.rng
        if account.style == "family" or not self.cal.workday(day):
            pool = [rng.uniform(9, 22) for _ in range(count)]
        else:
            pool = [rng.gauss(8.2, 0.8)]
            for _ in range(count - 1):
                pool.append(
                    rng.uniform(11.5, 16.5) if rng.random() < 0.8 else rng.uniform(18, 22.5)
                )
        return sorted(min(23.6, max(6.0, h)) for h in pool)

    def _sessions_today(self, account: Account, day: int) -> int:
        rng = self.rng
        if account.active_until is not None and day > account.active_until:
            return 0
        if account.leave and account.leave[0] <= day < account.leave[1]:
            return 0
        workday = self.cal.workday(day)
        activity = account.activity
        if activity == "daily":
            if not workday:
                return 1 if rng.random() < 0.05 else 0
            if rng.random() < 0.1:
                return 0
            return rng.choices((1, 2, 3), weights=(70, 25, 5))[0]
        if activity == "weekly":
            return 1 if rng.random() < (0.38 if workday else 0.08) else 0
        if activity == "monthly":
            return 1 if rng.random() < (0.08 if workday else 0.02) else 0
        if activity == "rare":
            return 1 if day in account.rare_days else 0
        return 0

    def run(self) -> list[Event]:
        cal = self.cal
        rng = self.rng
        for account in self.pop.accounts:
            if account.style == "api":
                self._integration(account)
                continue
            for day in range(cal.total):
                count = self._sessions_today(account, day)
                trip = account.trip
                if trip and trip.first_day <= day <= trip.last_day:
                    count = max(count, 1)
                if not count:
                    continue
                office_day = rng.random() < 0.72
                hours = self._hours(account, day, count)
                if trip and day == trip.first_day:
                    # On the way: abroad from the afternoon (the ferry to Tallinn: from noon).
                    floor = 12.5 if trip.ferry else 15.0
                    hours = sorted(
                        h if h >= floor else rng.uniform(floor, floor + 6) for h in hours
                    )
                    if trip.ferry and rng.random() < 0.6:
                        self.session(account, day, rng.uniform(7.0, 8.5), "home")
                if trip and day == trip.last_day + 1:
                    hours = sorted(h if h >= 11 else rng.uniform(11, 17) for h in hours)
                last_place = None
                prev_hour = 0.0
                for planned in hours:
                    hour = planned
                    place = self._place(account, day, office_day)
                    if account.style == "vpn" and last_place and rng.random() < 0.5:
                        # Toggling the VPN: the next login soon after from the other side.
                        place = "home" if last_place == "vpn" else "vpn"
                        hour = min(23.8, prev_hour + rng.uniform(0.6, 1.5))
                    prev_hour = hour
                    self.session(account, day, hour, place)
                    last_place = place
        self._sort_logins()
        return self.events

    def _integration(self, account: Account) -> None:
        """A customer's system logging in every half hour to hour in office hours. Once a
        month its password is rotated and the service keeps retrying with the old one
        every five minutes until someone updates it."""
        rng = self.rng
        cal = self.cal
        outage_day = None
        if self.pop.integration_outage is None and rng.random() < 0.5:
            outage_day = rng.randrange(cal.history + 1, cal.total - 1)
            while not cal.workday(outage_day):
                outage_day -= 1
        assert account.company.server is not None
        ip = account.company.server
        agent = next(t for t in account.tags if t.startswith("agent:"))[6:]
        for day in range(cal.total):
            if not cal.workday(day):
                continue
            hour = rng.uniform(6.0, 6.5)
            outage: tuple[float, float] | None = None
            if day == outage_day:
                begin = rng.uniform(8, 11)
                outage = (begin, begin + rng.uniform(1.0, 3.0))
            while hour < 20.0:
                if outage and outage[0] <= hour < outage[1]:
                    ts = cal.at(day, hour)
                    self._event(ts, account, ip, agent, outcome="failure", reason="bad_password")
                    hour += rng.uniform(4.7, 5.3) / 60
                    continue
                if outage and hour >= outage[1] and self.pop.integration_outage is None:
                    self.pop.integration_outage = (
                        account,
                        cal.at(day, outage[0]),
                        cal.at(day, outage[1]),
                    )
                self.session(account, day, hour, "api")
                hour += rng.uniform(0.5, 1.0)

    def _sort_logins(self) -> None:
        for account in self.pop.accounts:
            account.logins.sort(key=lambda login: login.ts)


def simulate(population: Population, rng: random.Random) -> list[Event]:
    return Simulator(population, rng).run()


def pool_of(address: str) -> Pool | None:
    """Which benign pool an address belongs to (for the tests)."""
    for pool in (world.FI_HOME, world.FI_OFFICE, world.FI_DC, world.NL_VPN, *world.FI_MOBILE):
        if any(ipaddress.ip_address(address) in ipaddress.ip_network(p) for p in pool.prefixes):
            return pool
    return None
