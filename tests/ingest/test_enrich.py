from __future__ import annotations

from pathlib import Path

import polars as pl
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from ingest.enrich import Enricher


def _asn_db(path: Path) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN")
    writer.insert_network(
        IPSet(["91.152.0.0/16"]),
        {"autonomous_system_number": 719, "autonomous_system_organization": "Elisa Oyj"},
    )
    writer.to_db_file(str(path))
    return path


def test_places_networks_and_private(tmp_path: Path) -> None:
    enricher = Enricher.open(
        "", str(_asn_db(tmp_path / "asn.mmdb")), ["193.166.3.0/24", "10.0.0.0/8"]
    )
    try:
        table = enricher.lookup(
            pl.Series(["91.152.10.1", "193.166.3.1", "10.1.2.3", "not-an-ip", "::ffff:91.152.10.1"])
        )
    finally:
        enricher.close()
    rows = {r["ip"]: r for r in table.to_dicts()}
    espoo = rows["91.152.10.1"]
    assert (espoo["country"], espoo["city"], espoo["asn"], espoo["as_org"]) == (
        "FI",
        "Espoo",
        719,
        "Elisa Oyj",
    )
    assert rows["193.166.3.1"]["own_network"] == "193.166.3.0/24"
    private = rows["10.1.2.3"]
    assert (
        private["country"] is None
        and private["lat"] is None
        and private["own_network"] == "10.0.0.0/8"
    )
    assert rows["not-an-ip"]["ip_valid"] is False
    assert rows["::ffff:91.152.10.1"]["ip_norm"] == "91.152.10.1"
    assert len(rows["::ffff:91.152.10.1"]["ip_bin"]) == 16


def test_each_address_looked_up_once() -> None:
    enricher = Enricher.open("", "", [])
    try:
        enricher.lookup(pl.Series(["91.152.10.1"] * 1000))
        assert enricher.cache["ip"].to_list() == ["91.152.10.1"]
    finally:
        enricher.close()
