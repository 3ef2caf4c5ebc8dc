from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from ingest.enrich import Enricher, parse_address


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


def test_a_full_cache_keeps_the_batch_it_is_describing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache is emptied when full; addresses of the batch met before must still be
    described (they were lost with it: no key, no place, no own network)."""
    monkeypatch.setattr("ingest.enrich._CACHE_LIMIT", 3)
    enricher = Enricher.open("", "", ["10.0.0.0/8"])
    try:
        enricher.lookup(pl.Series(["10.0.0.1", "10.0.0.2"]))
        table = enricher.lookup(pl.Series(["10.0.0.1", "10.0.0.3", "10.0.0.4"]))
    finally:
        enricher.close()
    rows = {r["ip"]: r for r in table.to_dicts()}
    assert sorted(rows) == ["10.0.0.1", "10.0.0.3", "10.0.0.4"]
    assert all(r["own_network"] == "10.0.0.0/8" and r["ip_valid"] for r in rows.values())
    assert sorted(enricher.cache["ip"].to_list()) == ["10.0.0.1", "10.0.0.3", "10.0.0.4"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("91.152.10.1", ("91.152.10.1", 4)),
        ("::ffff:91.152.10.1", ("91.152.10.1", 4)),
        ("2001:DB8::1", ("2001:db8::1", 6)),
        ("fe80::1%eth0", ("fe80::1%eth0", 6)),
        ("01.2.3.4", None),
        ("1.2.3", None),
        ("256.1.1.1", None),
        (" 1.2.3.4", None),
        ("1.2.3.4\x00", None),
        ("", None),
    ],
)
def test_address_forms(text: str, expected: tuple[str, int] | None) -> None:
    parsed = parse_address(text)
    assert (parsed[:2] if parsed else None) == expected
    if parsed:
        assert len(parsed[2]) == 16


def test_scoped_address_enriches_to_nothing() -> None:
    enricher = Enricher.open("", "", ())
    try:
        (row,) = enricher.lookup(pl.Series(["fe80::1%eth0"])).to_dicts()
    finally:
        enricher.close()
    assert row["ip_valid"] and row["country"] is None


_OCTETS = st.one_of(
    st.integers(0, 255).map(str), st.sampled_from(["00", "01", "256", "999", "", "-1", "1e2"])
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.lists(_OCTETS, min_size=3, max_size=5).map(".".join),
            st.ip_addresses().map(str),
            st.text(max_size=20),
        ),
        max_size=30,
    )
)
def test_lookup_agrees_with_parse_address(texts: list[str]) -> None:
    """Dotted quads are taken apart column-wise, the rest one by one: the same answers."""
    enricher = Enricher.open("", "", ())
    try:
        table = enricher.lookup(pl.Series(texts, dtype=pl.String))
    finally:
        enricher.close()
    rows = {r["ip"]: r for r in table.to_dicts()}
    for text in texts:
        parsed = parse_address(text)
        row = rows[text]
        assert row["ip_valid"] is (parsed is not None), text
        if parsed is not None:
            assert (row["ip_norm"], row["ip_version"], row["ip_bin"]) == parsed, text
