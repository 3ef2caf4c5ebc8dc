"""The world the scenarios live in: places and addresses, clients, names, the calendar.

Every address a scenario uses is drawn from a pool of networks and checked against the
GeoLite2 City snapshot of 2018-07-03 that vahti enriches with (PyPI `maxminddb-geolite2`):
an address is only handed out when that database places it in the pool's country (and,
where the pool asks, in a named city). A pool is written as the networks of real
operators of that country (home broadband, mobile carriers, data centres), so the
address looks like what it is meant to be; the check makes sure the 2018 database agrees.
"""

from __future__ import annotations

import ipaddress
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

HELSINKI_TZ = ZoneInfo("Europe/Helsinki")
HELSINKI = (60.1699, 24.9384)
MONTH_START = date(2026, 10, 1)  # the first day of the scored month (local calendar)


# --- places ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    country: str | None
    city: str | None
    lat: float | None
    lon: float | None
    radius_km: int | None


@cache
def _reader() -> Any:
    from geolite2 import geolite2

    return geolite2.reader()


@cache
def lookup(address: str) -> Place | None:
    """The place the bundled 2018 GeoLite2 City database gives an address (None: none)."""
    record = _reader().get(address)
    if not record:
        return None
    location = record.get("location") or {}
    return Place(
        (record.get("country") or {}).get("iso_code"),
        ((record.get("city") or {}).get("names") or {}).get("en"),
        location.get("latitude"),
        location.get("longitude"),
        location.get("accuracy_radius"),
    )


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 6371.0 * 2 * math.asin(math.sqrt(h))


def coords(address: str) -> tuple[float, float] | None:
    place = lookup(address)
    if place is None or place.lat is None or place.lon is None:
        return None
    return (place.lat, place.lon)


def country_of(address: str) -> str | None:
    """Country of an address, a /64 written as CIDR, or None."""
    if "/" in address:
        address = str(ipaddress.ip_network(address).network_address + 1)
    place = lookup(address)
    return place.country if place else None


# --- address pools --------------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    """Networks of one kind of operator in one country.

    `need_city`: only addresses the database places in a city (home broadband, offices,
    hotels: places a person is); carrier and data-centre pools are country-only, as the
    database has them.
    """

    name: str
    country: str
    prefixes: tuple[str, ...]
    need_city: bool = False

    def _candidate(self, rng: random.Random) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        net = ipaddress.ip_network(rng.choice(self.prefixes))
        offset = rng.randrange(1, net.num_addresses - 1)
        return net.network_address + offset

    def fits(self, address: str, city: str | None = None) -> bool:
        place = lookup(address)
        if place is None or place.country != self.country:
            return False
        if self.need_city and not place.city:
            return False
        return city is None or place.city == city

    def pick(self, rng: random.Random, taken: set[str], city: str | None = None) -> str:
        """A fresh address of this pool that the database places where the pool says."""
        for _ in range(2000):
            candidate = self._candidate(rng)
            if candidate.version == 4 and int(candidate) & 0xFF in (0, 255):
                continue
            text = str(candidate)
            if text in taken or not self.fits(text, city):
                continue
            taken.add(text)
            return text
        raise RuntimeError(f"no address found in pool {self.name} (city {city})")

    def pick_64(self, rng: random.Random, taken: set[str]) -> ipaddress.IPv6Network:
        """A fresh IPv6 /64 of this pool (a home's prefix, a VPS's prefix)."""
        for _ in range(2000):
            candidate = self._candidate(rng)
            net = ipaddress.IPv6Network((int(candidate) >> 64 << 64, 64))
            text = str(net)
            if text in taken or not self.fits(str(net.network_address + 1)):
                continue
            taken.add(text)
            return net
        raise RuntimeError(f"no /64 found in pool {self.name}")

    def near(self, address: str, rng: random.Random, taken: set[str], span: int = 16) -> str:
        """Another address of the same network (same /span) and the same city: an ISP
        handing a home a new address, an office NAT's neighbour address."""
        place = lookup(address)
        net = ipaddress.ip_network(f"{address}/{span}", strict=False)
        # The same city if the network has one there; else, the same country.
        for tries, same_city in ((2000, True), (2000, False)):
            for _ in range(tries):
                candidate = net.network_address + rng.randrange(1, net.num_addresses - 1)
                text = str(candidate)
                if candidate.version == 4 and int(candidate) & 0xFF in (0, 255):
                    continue
                if text in taken:
                    continue
                other = lookup(text)
                if not (other and place and other.country == place.country):
                    continue
                if same_city and other.city != place.city:
                    continue
                taken.add(text)
                return text
        raise RuntimeError(f"no neighbour of {address}")


def privacy_address(net: ipaddress.IPv6Network, rng: random.Random) -> str:
    """An RFC 4941 temporary address: the /64 with a random interface id."""
    return str(net.network_address + rng.randrange(1 << 62, 1 << 64))


# Finnish home broadband (Elisa, DNA, Telia ranges), placed in cities.
FI_HOME = Pool(
    "fi-home",
    "FI",
    (
        "91.152.0.0/14",
        "91.156.0.0/14",
        "88.112.0.0/14",
        "88.192.0.0/14",
        "84.248.0.0/14",
        "87.92.0.0/14",
        "80.220.0.0/16",
        "80.223.0.0/16",
    ),
    need_city=True,
)
FI_HOME_V6 = Pool("fi-home-v6", "FI", ("2001:14ba::/32",), need_city=True)
# Business connections in cities (office NATs).
FI_OFFICE = Pool(
    "fi-office",
    "FI",
    ("82.181.0.0/16", "62.237.0.0/16", "37.219.0.0/16", "84.249.0.0/16", "88.113.0.0/16"),
    need_city=True,
)
# Mobile carriers' CGNAT ranges: the database knows only the country.
FI_MOBILE = (
    Pool("fi-mobile-a", "FI", ("85.77.0.0/16",)),
    Pool("fi-mobile-b", "FI", ("85.78.0.0/16",)),
    Pool("fi-mobile-c", "FI", ("85.156.0.0/15",)),
)
# A Finnish data centre (integration servers, the CI host that deploys over SSH).
FI_DC = Pool("fi-dc", "FI", ("95.217.0.0/16",))

# Where Finns travel: home broadband and hotel connections placed in cities.
TRAVEL = {
    "SE": Pool("se", "SE", ("90.224.0.0/13", "85.224.0.0/13", "83.249.0.0/16"), need_city=True),
    "EE": Pool("ee", "EE", ("90.190.0.0/15", "84.50.0.0/16"), need_city=True),
    "DE": Pool("de", "DE", ("79.192.0.0/10", "84.128.0.0/10", "91.0.0.0/10", "95.88.0.0/14"), True),
}
# A corporate VPN concentrator in an Amsterdam data centre.
NL_VPN = Pool("nl-vpn", "NL", ("146.185.128.0/18",), need_city=True)

# Attackers: rented servers and residential/mobile ranges far from Finland.
ABROAD: dict[str, Pool] = {
    "CN": Pool("cn", "CN", ("183.62.0.0/15", "222.186.0.0/16", "61.177.0.0/16", "218.92.0.0/16")),
    "VN": Pool("vn", "VN", ("14.160.0.0/11", "113.160.0.0/11", "1.52.0.0/14")),
    "BR": Pool("br", "BR", ("177.128.0.0/10", "189.0.0.0/11")),
    "IN": Pool("in", "IN", ("117.192.0.0/10", "49.36.0.0/14")),
    "RU": Pool("ru", "RU", ("95.24.0.0/13", "5.188.0.0/16")),
    "US": Pool("us", "US", ("159.203.0.0/16", "104.131.0.0/16", "3.80.0.0/12", "73.0.0.0/8")),
    "KR": Pool("kr", "KR", ("121.128.0.0/10",)),
    "TR": Pool("tr", "TR", ("78.160.0.0/11",)),
    "UA": Pool("ua", "UA", ("93.72.0.0/13",)),
    "NG": Pool("ng", "NG", ("105.112.0.0/12",)),
    "ID": Pool("id", "ID", ("36.64.0.0/11",)),
    "PK": Pool("pk", "PK", ("39.32.0.0/11",)),
    "MX": Pool("mx", "MX", ("187.128.0.0/10",)),
    "ZA": Pool("za", "ZA", ("41.0.0.0/11",)),
    "TH": Pool("th", "TH", ("171.96.0.0/13",)),
    "AR": Pool("ar", "AR", ("181.0.0.0/12",)),
    "NL": Pool("nl-dc", "NL", ("85.17.0.0/16", "95.211.0.0/16", "37.48.64.0/18")),
    "DE": Pool("de-dc", "DE", ("176.9.0.0/16",)),
}
ABROAD_V6: dict[str, Pool] = {
    "US": Pool("us-v6", "US", ("2604:a880::/32", "2600:3c00::/32")),
    "DE": Pool("de-v6", "DE", ("2a01:4f8::/32",)),
    "NL": Pool("nl-v6", "NL", ("2a03:b0c0::/32",)),
}
# Far away and placed in a city: where an impossible trip lands.
FAR_CITY = {
    code: Pool(f"{code.lower()}-city", code, ABROAD[code].prefixes, need_city=True)
    for code in ("CN", "VN", "BR", "IN", "US", "KR", "MX", "ZA", "TH", "NG", "ID")
}


# --- clients --------------------------------------------------------------------------

# Major versions at the start of the log; each moves on every four weeks from a day that
# depends on the seed, and every user's browser follows some days after the release.
CHROME, FIREFOX, SAFARI_MINOR = 141, 143, 0


@dataclass(frozen=True)
class Device:
    """A person's browser on one machine; the user agent follows the browser's updates."""

    kind: str  # windows-chrome, windows-edge, windows-firefox, mac-safari, mac-chrome, ...
    lag: int  # days after a release before this browser updates
    release_offset: int  # days from the log's first day to the first release

    def ua(self, day: int) -> str:
        step = max(0, (day - self.release_offset - self.lag) // 28 + 1)
        chrome, firefox = CHROME + step, FIREFOX + step
        safari = f"26.{SAFARI_MINOR + step}"
        k = self.kind
        if k == "windows-chrome":
            return (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
                f" Chrome/{chrome}.0.0.0 Safari/537.36"
            )
        if k == "windows-edge":
            return (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
                f" Chrome/{chrome}.0.0.0 Safari/537.36 Edg/{chrome}.0.{3400 + step * 60}.{51 + step}"
            )
        if k == "windows-firefox":
            return (
                f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{firefox}.0) Gecko/20100101"
                f" Firefox/{firefox}.0"
            )
        if k == "linux-firefox":
            return f"Mozilla/5.0 (X11; Linux x86_64; rv:{firefox}.0) Gecko/20100101 Firefox/{firefox}.0"
        if k == "mac-safari":
            return (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like"
                f" Gecko) Version/{safari} Safari/605.1.15"
            )
        if k == "mac-chrome":
            return (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like"
                f" Gecko) Chrome/{chrome}.0.0.0 Safari/537.36"
            )
        if k == "iphone":
            ios = safari.replace(".", "_")
            return (
                f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15"
                f" (KHTML, like Gecko) Version/{safari} Mobile/15E148 Safari/604.1"
            )
        if k == "android":
            return (
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko)"
                f" Chrome/{chrome}.0.0.0 Mobile Safari/537.36"
            )
        raise ValueError(k)


DESKTOP_KINDS = (
    ("windows-chrome", 44),
    ("windows-edge", 26),
    ("windows-firefox", 8),
    ("mac-safari", 10),
    ("mac-chrome", 8),
    ("linux-firefox", 4),
)
PHONE_KINDS = (("iphone", 55), ("android", 45))

# What tools and attackers send.
TOOL_AGENTS = (
    "python-requests/2.31.0",
    "python-requests/2.32.3",
    "Go-http-client/1.1",
    "curl/8.5.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:78.0) Gecko/20100101 Firefox/78.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    "okhttp/4.12.0",
)
INTEGRATION_AGENTS = (
    "Apache-HttpClient/4.5.14 (Java/17.0.12)",
    "python-requests/2.31.0",
    "Microsoft-BizTalk/3.0",
    "Java/21.0.4",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "PowerShell/7.4.5",
)


def weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    names, weights = zip(*options, strict=True)
    return rng.choices(names, weights=weights)[0]


# --- names ----------------------------------------------------------------------------

FIRST_NAMES = (
    "matti", "timo", "juha", "mikko", "jari", "kari", "antti", "tuomas", "jussi", "markku",
    "mika", "pekka", "janne", "petri", "sami", "ville", "heikki", "teemu", "marko", "lauri",
    "eero", "joni", "aleksi", "olli", "veikko", "arto", "tapio", "esa", "harri", "niko",
    "anna", "maria", "tiina", "sanna", "laura", "johanna", "minna", "hanna", "elina", "kaisa",
    "satu", "paivi", "riikka", "heidi", "anne", "katja", "jenni", "noora", "emilia", "aino",
    "eveliina", "marja", "sari", "leena", "susanna", "outi", "pirjo", "tuula", "helena", "milla",
)  # fmt: skip
LAST_NAMES = (
    "korhonen", "virtanen", "makinen", "nieminen", "makela", "hamalainen", "laine", "heikkinen",
    "koskinen", "jarvinen", "lehtonen", "lehtinen", "saarinen", "salminen", "heinonen",
    "niemi", "heikkila", "kinnunen", "salonen", "turunen", "salo", "laitinen", "tuominen",
    "rantanen", "karjalainen", "jokinen", "mattila", "savolainen", "lahtinen", "ahonen",
    "hiltunen", "leinonen", "miettinen", "aaltonen", "pitkanen", "manninen", "hirvonen",
    "lindholm", "nyman", "holmberg", "lindqvist", "backman", "rasanen", "seppala", "kettunen",
    "hakala", "honkanen", "leppanen", "vainio", "toivonen", "peltonen", "kallio", "oksanen",
    "ojala", "laaksonen", "mustonen", "kokkonen", "harju", "kurki", "aalto", "ranta", "kivela",
)  # fmt: skip
COMPANY_WORDS = (
    "kuljetus", "rakennus", "metalli", "puutyo", "sahko", "kiinteisto", "tilitoimisto",
    "kauppa", "logistiikka", "kone", "lvi", "maalaus", "siivous", "tekniikka", "muovi",
    "paino", "elektro", "laite", "huolto", "kaluste", "vesi", "ener", "verho", "lasi",
    "kuitu", "talo", "auto", "teollisuus", "palvelu", "tukku", "media", "design", "data",
)  # fmt: skip
COMPANY_PLACES = (
    "helsingin", "espoon", "vantaan", "tampereen", "turun", "oulun", "lahden", "kuopion",
    "jyvaskylan", "porin", "vaasan", "kotkan", "saimaan", "pohjolan", "karjalan", "hameen",
    "savon", "lapin", "uudenmaan", "keski-suomen", "itameren", "nord", "suomen", "kaakon",
)  # fmt: skip
FREEMAIL = ("gmail.com", "hotmail.com", "outlook.com", "yahoo.com", "luukku.com", "suomi24.fi")


# --- the calendar ---------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """The log's days in the Helsinki calendar: `history` days of history, then the
    scored month of `days` days starting at MONTH_START."""

    history: int
    days: int
    first: date = field(init=False)
    _dates: tuple[date, ...] = field(init=False, repr=False)
    _workdays: tuple[bool, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        first = MONTH_START - timedelta(days=self.history)
        object.__setattr__(self, "first", first)
        dates = tuple(first + timedelta(days=d) for d in range(self.total + 2))
        object.__setattr__(self, "_dates", dates)
        object.__setattr__(self, "_workdays", tuple(d.weekday() < 5 for d in dates))

    @property
    def total(self) -> int:
        return self.history + self.days

    @property
    def month_first_day(self) -> int:
        return self.history

    def day_date(self, day: int) -> date:
        if 0 <= day < len(self._dates):
            return self._dates[day]
        return self.first + timedelta(days=day)

    def workday(self, day: int) -> bool:
        if 0 <= day < len(self._workdays):
            return self._workdays[day]
        return self.day_date(day).weekday() < 5

    def at(self, day: int, hour: float) -> datetime:
        """Local wall-clock time `hour` (hours after midnight, may pass 24) of a day, in UTC."""
        local = datetime.combine(self.day_date(day), time(0)) + timedelta(hours=hour)
        return local.replace(tzinfo=HELSINKI_TZ).astimezone(UTC)

    @property
    def start(self) -> datetime:
        return self.at(0, 0)

    @property
    def month_start(self) -> datetime:
        return self.at(self.history, 0)

    @property
    def end(self) -> datetime:
        return self.at(self.total, 0)

    def day_of(self, ts: datetime) -> int:
        return (ts.astimezone(HELSINKI_TZ).date() - self.first).days
