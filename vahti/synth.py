"""A synthetic month of a Finnish mail service's portal logins, with labelled attacks.

Realistic background (home, office NAT, mobile carrier NAT, a corporate VPN exit
abroad, travellers, typos, forgotten passwords, idle sessions) and one labelled
attack per category of the contract, so detection can be measured on it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

FIRST = [
    "matti",
    "liisa",
    "juha",
    "anna",
    "mikko",
    "sanna",
    "jukka",
    "laura",
    "timo",
    "kaisa",
    "antti",
    "maria",
    "pekka",
    "elina",
    "ville",
]
LAST = [
    "virtanen",
    "korhonen",
    "nieminen",
    "makinen",
    "hamalainen",
    "laine",
    "heikkinen",
    "koskinen",
    "jarvinen",
    "lehtonen",
]
HOME_NETS = ("91.152", "84.248", "87.92", "80.220", "88.112", "85.23")  # all Finnish in GeoLite2
MOBILE_NAT = "46.132.10"  # a carrier NAT pool: many users, changing addresses
OFFICE_NAT = "193.166.3.1"  # a customer's office: many users behind one address
VPN_ABROAD = "5.9.10.1"  # a corporate VPN exit in Germany, used every week
TRAVEL_ABROAD = ("31.13.10.40", "81.40.10.41")  # Sweden, Spain: flights of hours, not minutes
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
)
BOT_AGENT = "python-requests/2.32.3"
# What a stolen password is used with: the attacker's own machine, not the owner's.
INTRUDER_AGENT = (
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/109.0.0.0 Safari/537.36"
)


@dataclass(frozen=True)
class Label:
    category: str
    entity_type: str
    entity: str
    start: datetime
    end: datetime


@dataclass
class Synthetic:
    events: list[dict[str, Any]] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)


@dataclass(frozen=True)
class Person:
    user: str
    customer_id: str
    home_ip: str
    agent: str
    habit: str  # home | office | mobile | vpn


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Writer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.out = Synthetic()
        self.sessions = 0

    def login(self, ts: datetime, user: str, ip: str, outcome: str, **more: Any) -> dict[str, Any]:
        event = {"ts": _iso(ts), "event": "login", "outcome": outcome, "user": user, "ip": ip}
        event.update({k: v for k, v in more.items() if v is not None})
        if outcome == "failure":
            event.setdefault("reason", "bad_password")
        self.out.events.append(event)
        return event

    def session(self) -> str:
        self.sessions += 1
        return f"s{self.rng.getrandbits(64):016x}{self.sessions:05d}"

    def label(self, category: str, kind: str, entity: str, start: datetime, end: datetime) -> None:
        self.out.labels.append(Label(category, kind, entity, start, end))


def _people(rng: random.Random, count: int) -> list[Person]:
    people = []
    for i in range(count):
        user = f"{rng.choice(FIRST)}.{rng.choice(LAST)}{i}"
        habit = rng.choices(["home", "office", "mobile", "vpn", "travel"], [68, 15, 12, 3, 2])[0]
        home = f"{rng.choice(HOME_NETS)}.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"
        people.append(Person(user, f"A{1000000 + i}", home, rng.choice(BROWSERS), habit))
    return people


def _address(rng: random.Random, person: Person, day: int) -> str:
    if person.habit == "office" and day % 7 < 5:
        return OFFICE_NAT
    if person.habit == "mobile":
        return f"{MOBILE_NAT}.{rng.randrange(1, 255)}"
    if person.habit == "vpn" and day % 7 in (1, 3):
        return VPN_ABROAD
    if person.habit == "travel" and day % 5 == 2:  # works in Stockholm or Spain every week
        return TRAVEL_ABROAD[int(person.customer_id[1:]) % len(TRAVEL_ABROAD)]
    return person.home_ip


def _background(
    w: _Writer, people: list[Person], start: datetime, days: int, skip: set[str]
) -> None:
    rng = w.rng
    for day in range(days):
        for person in people:
            travelling = person.habit == "travel" and day % 5 == 2  # never skips a work trip
            if person.user in skip or (rng.random() > 0.6 and not travelling):
                continue
            ts = start + timedelta(days=day, hours=rng.uniform(6, 22))
            ip = _address(rng, person, day)
            more = {"customer_id": person.customer_id, "user_agent": person.agent}
            if rng.random() < 0.06:  # a typo or two
                for _ in range(rng.randint(1, 2)):
                    w.login(ts, person.user, ip, "failure", **more)
                    ts += timedelta(seconds=rng.uniform(4, 20))
            if rng.random() < 0.005:  # forgot the password
                for _ in range(rng.randint(3, 4)):
                    w.login(ts, person.user, ip, "failure", **more)
                    ts += timedelta(seconds=rng.uniform(5, 30))
                w.out.events.append(
                    {
                        "ts": _iso(ts),
                        "event": "password_reset",
                        "user": person.user,
                        "ip": ip,
                        **more,
                    }
                )
                ts += timedelta(minutes=rng.uniform(2, 10))
            session = w.session()
            w.login(ts, person.user, ip, "success", session_id=session, **more)
            for _ in range(rng.randint(0, 3)):
                ts += timedelta(minutes=rng.uniform(1, 20))
                w.out.events.append(
                    {
                        "ts": _iso(ts),
                        "event": "session_activity",
                        "user": person.user,
                        "ip": ip,
                        "session_id": session,
                        **more,
                    }
                )


def _stuffing(w: _Writer, people: list[Person], t: datetime) -> None:
    """Credential stuffing: a leaked list from four sources, 2 % success."""
    for i in range(240):
        source = f"45.155.205.{10 + i % 4}"
        known = i % 3 != 0
        user = people[40 + i % 150].user if known else f"leaked{i}@example.net"
        outcome = "success" if known and i % 50 == 7 else "failure"
        reason = None if outcome == "success" else ("bad_password" if known else "unknown_user")
        w.login(
            t + timedelta(seconds=i * 6), user, source, outcome, reason=reason, user_agent=BOT_AGENT
        )
        if outcome == "success":  # the account is taken over: an alert of its own
            moment = t + timedelta(seconds=i * 6)
            w.label("credential_stuffing", "user", user, moment, moment)
    for k in range(4):
        w.label(
            "credential_stuffing", "ip", f"45.155.205.{10 + k}", t, t + timedelta(seconds=240 * 6)
        )


def _attacks(w: _Writer, people: list[Person], start: datetime, days: int) -> None:
    rng = w.rng
    at = lambda d, h: start + timedelta(days=d, hours=h)  # noqa: E731
    victims = [p for p in people if p.habit == "home"]

    t = at(days - 9, 3.2)  # brute force: one source, one account, 62 tries in 9 minutes
    target = victims[0]
    for i in range(62):
        w.login(
            t + timedelta(seconds=i * 8.7),
            target.user,
            "183.62.140.253",
            "failure",
            user_agent=BOT_AGENT,
        )
    w.label("brute_force", "ip", "183.62.140.253", t, t + timedelta(seconds=61 * 8.7))

    t = at(days - 8, 1.5)  # password spraying: 30 accounts, one or two tries each
    for i, person in enumerate(people[10:40]):
        for k in range(rng.randint(1, 2)):
            w.login(
                t + timedelta(seconds=i * 90 + k * 5),
                person.user,
                "103.99.0.122",
                "failure",
                user_agent=BOT_AGENT,
            )
    w.label("password_spraying", "ip", "103.99.0.122", t, t + timedelta(minutes=46))

    _stuffing(w, people, at(days - 7, 2.0))

    t = at(days - 6, 4.0)  # distributed brute force: one account, 14 sources in 25 minutes
    target = victims[1]
    for i in range(28):
        w.login(
            t + timedelta(seconds=i * 53),
            target.user,
            f"177.10.{i % 14}.{20 + i % 14}",
            "failure",
            user_agent=BOT_AGENT,
        )
    w.label("distributed_brute_force", "user", target.user, t, t + timedelta(seconds=27 * 53))

    t = at(days - 5, 23.1)  # success after failures: guessed on the 9th try
    target = victims[2]
    for i in range(8):
        w.login(
            t + timedelta(seconds=i * 20),
            target.user,
            "95.217.10.5",
            "failure",
            user_agent=BOT_AGENT,
        )
    w.login(
        t + timedelta(seconds=170),
        target.user,
        "95.217.10.5",
        "success",
        session_id=w.session(),
        user_agent=BOT_AGENT,
    )
    w.label("success_after_failures", "user", target.user, t, t + timedelta(seconds=170))

    t = at(days - 4, 12.0)  # impossible travel: Espoo, then Chile 40 minutes later
    target = victims[3]
    w.login(
        t, target.user, target.home_ip, "success", session_id=w.session(), user_agent=target.agent
    )
    w.login(
        t + timedelta(minutes=40),
        target.user,
        "200.10.10.9",
        "success",
        session_id=w.session(),
        user_agent=INTRUDER_AGENT,
    )
    w.label("impossible_travel", "user", target.user, t, t + timedelta(minutes=40))
    # The login from Chile is also the account's first from a new country: both are true.
    w.label(
        "new_country", "user", target.user, t + timedelta(minutes=40), t + timedelta(minutes=40)
    )

    t = at(days - 3, 9.0)  # new country: a long-time Finnish user appears from Nigeria
    target = victims[4]
    w.login(
        t, target.user, "105.112.10.4", "success", session_id=w.session(), user_agent=INTRUDER_AGENT
    )
    w.label("new_country", "user", target.user, t, t)

    t = at(days - 2, 15.0)  # session hijack: a stolen cookie replayed from abroad, another client
    target = victims[5]
    session = w.session()
    w.login(t, target.user, target.home_ip, "success", session_id=session, user_agent=target.agent)
    w.out.events.append(
        {
            "ts": _iso(t + timedelta(minutes=7)),
            "event": "session_activity",
            "user": target.user,
            "ip": "31.13.10.77",
            "session_id": session,
            "user_agent": BOT_AGENT,
        }
    )
    w.label("session_hijack", "session", session, t, t + timedelta(minutes=7))

    t = at(days - 2, 3.0)  # account enumeration: 45 names that do not exist
    for i in range(45):
        w.login(
            t + timedelta(seconds=i * 40),
            f"{rng.choice(FIRST)}{i}.test",
            "81.40.10.66",
            "failure",
            reason="unknown_user",
            user_agent=BOT_AGENT,
        )
    w.label("account_enumeration", "ip", "81.40.10.66", t, t + timedelta(seconds=44 * 40))

    t = at(days - 1, 10.0)  # dormant account: silent since the first days, then a stranger
    target = people[-1]
    w.login(
        t, target.user, "200.10.10.9", "success", session_id=w.session(), user_agent=INTRUDER_AGENT
    )
    w.label("dormant_account", "user", target.user, t, t)
    w.label("new_country", "user", target.user, t, t)  # a stranger from abroad: both are true


def generate(
    days: int = 30, users: int = 400, seed: int = 7, end: datetime | None = None
) -> Synthetic:
    """Events (canonical dicts, unsorted as real pushes are) and the attacks' labels."""
    rng = random.Random(seed)
    end = end or datetime(2026, 11, 1, tzinfo=UTC)
    start = end - timedelta(days=days)
    people = _people(rng, users)
    w = _Writer(rng)
    dormant = people[-1]
    _background(w, people[:-1], start, days, skip=set())
    # The dormant account was used for two weeks, well before the month began.
    for day in range(58, 44, -1):
        w.login(start - timedelta(days=day, hours=-10), dormant.user, dormant.home_ip, "success",
                customer_id=dormant.customer_id, user_agent=dormant.agent, session_id=w.session())  # fmt: skip
    _attacks(w, people, start, days)
    w.out.events.sort(key=lambda e: e["ts"])
    return w.out
