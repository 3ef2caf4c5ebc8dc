"""GeoIP, ASN and own-network labels, looked up once per distinct address."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geoip2.database
import geoip2.errors
import maxminddb
import polars as pl

ENRICHED_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "ip": pl.String,
    "ip_valid": pl.Boolean,
    "ip_norm": pl.String,
    "ip_version": pl.Int8,
    "ip_bin": pl.Binary,
    "country": pl.String,
    "city": pl.String,
    "lat": pl.Float64,
    "lon": pl.Float64,
    "asn": pl.Int32,
    "as_org": pl.String,
    "own_network": pl.String,
}
_CACHE_LIMIT = 500_000


class GeoIPError(RuntimeError):
    pass


def bundled_city_db() -> Path:
    """The GeoLite2 City snapshot of 2018-07-03 carried by the maxminddb-geolite2 package."""
    from _maxminddb_geolite2 import geolite2_database

    return Path(geolite2_database())


def _open_city(path: Path) -> maxminddb.Reader:
    """The C reader under geoip2, read raw: geoip2's model objects would double the cost."""
    try:
        reader = maxminddb.open_database(str(path), maxminddb.MODE_AUTO)
    except (OSError, maxminddb.InvalidDatabaseError, ValueError) as exc:
        raise GeoIPError(f"cannot open GeoIP city database {path}: {exc}") from exc
    kind = reader.metadata().database_type
    if "City" not in kind:
        reader.close()
        raise GeoIPError(f"{path} is a {kind} database, not a City one (set geoip.city_db)")
    return reader


def _open_asn(path: Path) -> geoip2.database.Reader:
    try:
        return geoip2.database.Reader(str(path), mode=maxminddb.MODE_AUTO)
    except (OSError, maxminddb.InvalidDatabaseError, ValueError) as exc:
        raise GeoIPError(f"cannot open GeoIP ASN database {path}: {exc}") from exc


@dataclass
class Enricher:
    city: maxminddb.Reader
    asn: geoip2.database.Reader | None
    own: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    cache: pl.DataFrame  # addresses described so far, one row each

    @classmethod
    def open(cls, city_db: str, asn_db: str, own_networks: Iterable[str]) -> Enricher:
        city = _open_city(Path(city_db) if city_db else bundled_city_db())
        asn = _open_asn(Path(asn_db)) if asn_db else None
        own = tuple(ipaddress.ip_network(n, strict=False) for n in own_networks)
        return cls(city=city, asn=asn, own=own, cache=pl.DataFrame(schema=ENRICHED_SCHEMA))

    def close(self) -> None:
        self.city.close()
        if self.asn is not None:
            self.asn.close()

    def lookup(self, addresses: pl.Series) -> pl.DataFrame:
        """Distinct address texts -> one enrichment row each (invalid ones flagged).

        Only addresses this run has not met yet are described in Python; the rest is a join.
        """
        distinct = addresses.drop_nulls().unique().to_frame("ip")
        unseen = distinct.join(self.cache, on="ip", how="anti")["ip"].to_list()
        fresh = pl.DataFrame(
            [self._describe(text) for text in unseen], schema=ENRICHED_SCHEMA, orient="row"
        )
        if self.cache.height + fresh.height > _CACHE_LIMIT:
            self.cache = self.cache.clear()  # memory stays flat on endless streams
        self.cache = pl.concat([self.cache, fresh], rechunk=False)
        return distinct.join(self.cache, on="ip", how="inner")

    def _describe(self, text: str) -> tuple[Any, ...]:
        parsed = parse_address(text)
        if parsed is None:
            return (text, False, None, None, None, None, None, None, None, None, None, None)
        normal, version, packed = parsed
        own = None
        if self.own:
            address = ipaddress.ip_address(normal)
            own = next((str(n) for n in self.own if address in n), None)
        place = self._place(normal)
        network = self._asn(normal)
        return (text, True, normal, version, packed, *place, *network, own)

    def _place(self, address: str) -> tuple[Any, ...]:
        try:
            found = self.city.get(address)  # private and unknown addresses: None
        except ValueError:  # e.g. a scoped IPv6 address (fe80::1%eth0)
            return (None, None, None, None)
        if not isinstance(found, dict):
            return (None, None, None, None)
        record: dict[str, Any] = found
        country = record.get("country") or record.get("registered_country") or {}
        city = (record.get("city") or {}).get("names", {}).get("en")
        location = record.get("location") or {}
        return (country.get("iso_code"), city, location.get("latitude"), location.get("longitude"))

    def _asn(self, address: str) -> tuple[Any, ...]:
        if self.asn is None:
            return (None, None)
        try:
            found = self.asn.asn(address)
        except (geoip2.errors.AddressNotFoundError, ValueError):
            return (None, None)
        return (found.autonomous_system_number, found.autonomous_system_organization)


_MAPPED = b"\x00" * 10 + b"\xff\xff"


def parse_address(text: str) -> tuple[str, int, bytes] | None:
    """Address text -> (canonical text, version, 16-byte key with IPv4 mapped), or None.

    Dotted quads take the C parser (a tenth of `ipaddress`' cost); the rest, IPv6 with its
    IPv4-mapped and scoped forms, goes through `ipaddress`.
    """
    try:
        packed = socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):  # ValueError: an embedded NUL
        pass
    else:
        return socket.inet_ntop(socket.AF_INET, packed), 4, _MAPPED + packed
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.version == 4:
        return str(address), 4, _MAPPED + address.packed
    return str(address), 6, address.packed


def enrich(events: pl.DataFrame, enricher: Enricher) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Events -> (enriched events, quarantined lines whose address is not an address)."""
    table = enricher.lookup(events["ip"])
    joined = events.join(table, on="ip", how="left")
    invalid = joined.filter(pl.col("ip").is_not_null() & ~pl.col("ip_valid"))
    if invalid.height:
        bad_lines = invalid.group_by("line_no", maintain_order=True).agg(
            pl.col("raw").first(),
            pl.format("invalid IP address '{}'", pl.col("ip").str.slice(0, 60))
            .first()
            .alias("reason"),
        )
        joined = joined.join(bad_lines.select("line_no"), on="line_no", how="anti")
    else:
        bad_lines = pl.DataFrame(
            schema={"line_no": pl.Int64, "raw": pl.String, "reason": pl.String}
        )
    enriched = joined.with_columns(ip=pl.coalesce("ip_norm", "ip")).drop("ip_valid", "ip_norm")
    return enriched, bad_lines
