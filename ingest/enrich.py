"""GeoIP, ASN and own-network labels, looked up once per distinct address."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import geoip2.database
import geoip2.errors
import maxminddb
import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from ingest.mmdb import NOT_FOUND, SearchTree
from store.addresses import network_range

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
# Addresses remembered: past this the list starts again. Small, since a lookup is now a
# tree walk; the decoded records (bounded by the database) are kept for the whole run.
_CACHE_LIMIT = 100_000


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


def _place(reader: maxminddb.Reader, address: str) -> tuple[Any, ...]:
    try:
        found = reader.get(address)
    except ValueError:  # e.g. a scoped IPv6 address (fe80::1%eth0)
        return (None, None, None, None)
    if not isinstance(found, dict):
        return (None, None, None, None)
    record: dict[str, Any] = found
    country = record.get("country") or record.get("registered_country") or {}
    city = (record.get("city") or {}).get("names", {}).get("en")
    location = record.get("location") or {}
    return (country.get("iso_code"), city, location.get("latitude"), location.get("longitude"))


def _network(reader: geoip2.database.Reader, address: str) -> tuple[Any, ...]:
    try:
        found = reader.asn(address)
    except (geoip2.errors.AddressNotFoundError, ValueError):
        return (None, None)
    return (found.autonomous_system_number, found.autonomous_system_organization)


@dataclass
class _Database:
    """One MaxMind DB: the tree finds the records of many addresses at once, the reader
    decodes each record once (through any one address that reaches it)."""

    tree: SearchTree
    decode: Callable[[str], tuple[Any, ...]]
    schema: dict[str, pl.DataType | type[pl.DataType]]
    known: pl.DataFrame  # record -> decoded fields, for the records met so far

    @classmethod
    def open(cls, path: Path, metadata: Any, decode: Callable[[str], tuple[Any, ...]],
             schema: dict[str, pl.DataType | type[pl.DataType]]) -> _Database:  # fmt: skip
        tree = SearchTree(path, metadata.node_count, metadata.record_size, metadata.ip_version)
        known = pl.DataFrame(schema={"record": pl.Int64, **schema})
        return cls(tree=tree, decode=decode, schema=schema, known=known)

    def describe(self, valid: pl.DataFrame) -> pl.DataFrame:
        """Valid addresses (ip_norm, ip_version, ip_bin) -> this database's fields, in order."""
        is_v4 = (valid["ip_version"] == 4).to_numpy()
        found = valid.select("ip_norm").with_columns(
            record=pl.Series(self.tree.find(_key_matrix(valid["ip_bin"]), is_v4))
        )
        new = (
            found.filter(pl.col("record") != NOT_FOUND)
            .unique("record", keep="first")
            .join(self.known, on="record", how="anti")
        )
        rows = [(record, *self.decode(address)) for address, record in new.iter_rows()]
        fresh = pl.DataFrame(rows, schema=self.known.schema, orient="row")
        self.known = pl.concat([self.known, fresh], rechunk=False)
        return found.join(self.known, on="record", how="left", maintain_order="left").select(
            list(self.schema)
        )


_PLACE_SCHEMA = {k: ENRICHED_SCHEMA[k] for k in ("country", "city", "lat", "lon")}
_ASN_SCHEMA = {k: ENRICHED_SCHEMA[k] for k in ("asn", "as_org")}
_ADDRESS_COLUMNS = ("ip", "ip_norm", "ip_version", "ip_bin")


@dataclass
class Enricher:
    city: _Database
    asn: _Database | None
    own: tuple[str, ...]
    cache: pl.DataFrame  # addresses described so far, one row each
    _close: tuple[Callable[[], None], ...] = ()

    @classmethod
    def open(cls, city_db: str, asn_db: str, own_networks: Iterable[str]) -> Enricher:
        city_path = Path(city_db) if city_db else bundled_city_db()
        city_reader = _open_city(city_path)
        city = _Database.open(
            city_path, city_reader.metadata(), partial(_place, city_reader), _PLACE_SCHEMA
        )
        closers = [city_reader.close, city.tree.close]
        asn = None
        if asn_db:
            asn_reader = _open_asn(Path(asn_db))
            asn = _Database.open(
                Path(asn_db), asn_reader.metadata(), partial(_network, asn_reader), _ASN_SCHEMA
            )
            closers += [asn_reader.close, asn.tree.close]
        own = tuple(str(ipaddress.ip_network(n, strict=False)) for n in own_networks)
        cache = pl.DataFrame(schema=ENRICHED_SCHEMA)
        return cls(city=city, asn=asn, own=own, cache=cache, _close=tuple(closers))

    def close(self) -> None:
        for close in self._close:
            close()

    def lookup(self, addresses: pl.Series) -> pl.DataFrame:
        """Distinct address texts -> one enrichment row each (invalid ones flagged).

        Only addresses this run has not met yet are described; the rest is a join.
        """
        distinct = addresses.drop_nulls().unique().to_frame("ip")
        unseen = distinct.join(self.cache, on="ip", how="anti")["ip"]
        if unseen.len():
            fresh = self._describe(unseen)
            if self.cache.height + fresh.height > _CACHE_LIMIT:
                # Memory stays flat on endless streams; this batch's addresses stay.
                self.cache = self.cache.join(distinct, on="ip", how="semi")
            self.cache = pl.concat([self.cache, fresh], rechunk=False)
        return distinct.join(self.cache, on="ip", how="inner")

    def _describe(self, texts: pl.Series) -> pl.DataFrame:
        quads = texts.str.contains(_DOTTED_QUAD)
        others = texts.filter(~quads).to_list()
        parsed = [parse_address(text) for text in others]  # IPv6 and malformed: few
        rows = [(text, *p) for text, p in zip(others, parsed, strict=True) if p is not None]
        address_schema = {k: ENRICHED_SCHEMA[k] for k in _ADDRESS_COLUMNS}
        valid = pl.concat(
            [
                _dotted_quads(texts.filter(quads)),
                pl.DataFrame(rows, schema=address_schema, orient="row"),
            ]
        )
        parts = [valid]
        if valid.height:
            parts += [db.describe(valid) for db in (self.city, self.asn) if db is not None]
        described = pl.concat(parts, how="horizontal").with_columns(
            ip_valid=pl.lit(True), own_network=self._own()
        )
        invalid = pl.DataFrame(
            {"ip": [t for t, p in zip(others, parsed, strict=True) if p is None]},
            schema={"ip": pl.String},
        ).with_columns(ip_valid=pl.lit(False))
        return pl.concat([described, invalid], how="diagonal_relaxed").select(
            pl.col(k).cast(v) if k in described.columns else pl.lit(None, v).alias(k)
            for k, v in ENRICHED_SCHEMA.items()
        )

    def _own(self) -> pl.Expr:
        """The first configured own network holding the address, or null."""
        labels = []
        for network in self.own:
            low, high = network_range(network)
            labels.append(pl.when(pl.col("ip_bin").is_between(low, high)).then(pl.lit(network)))
        return pl.coalesce(labels) if labels else pl.lit(None, pl.String)


_MAPPED = b"\x00" * 10 + b"\xff\xff"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
# What inet_pton takes as IPv4 (no leading zeros), already in canonical form.
_DOTTED_QUAD = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"


def _dotted_quads(texts: pl.Series) -> pl.DataFrame:
    """Canonical dotted quads -> address rows, column-wise (the common case, no Python
    per address): the text is its own canonical form, the key is ::ffff: and 4 octets."""
    octets = (
        texts.str.split_exact(".", 3).struct.unnest().select(pl.all().cast(pl.UInt8)).to_numpy()
    )
    keys = np.hstack([np.tile(np.frombuffer(_MAPPED, np.uint8), (len(texts), 1)), octets])
    return pl.DataFrame(
        {
            "ip": texts,
            "ip_norm": texts,
            "ip_version": pl.Series([4] * len(texts), dtype=pl.Int8),
            "ip_bin": _binary_rows(keys),
        }
    )


def _binary_rows(keys: npt.NDArray[np.uint8]) -> pl.Series:
    """An (n, 16) byte matrix -> a Binary series of n 16-byte values."""
    data = pa.py_buffer(np.ascontiguousarray(keys).tobytes())
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(keys), [None, data])
    series = pl.from_arrow(fixed.cast(pa.binary()))
    assert isinstance(series, pl.Series)
    return series.cast(pl.Binary)


def _key_matrix(keys: pl.Series) -> npt.NDArray[np.uint8]:
    """A Binary series of 16-byte keys -> an (n, 16) byte matrix, without Python per key."""
    fixed = keys.to_arrow().cast(pa.binary(16))
    data = fixed.buffers()[1]
    assert data is not None
    start = fixed.offset * 16
    return np.frombuffer(data, np.uint8)[start : start + 16 * len(fixed)].reshape(-1, 16)


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
