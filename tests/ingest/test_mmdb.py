"""The vectorised tree walk must land exactly where maxminddb's own reader lands."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import maxminddb
import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from maxminddb.reader import Reader
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from ingest.enrich import Enricher, bundled_city_db, parse_address
from ingest.mmdb import NOT_FOUND, SearchTree


def _tree(path: Path) -> tuple[SearchTree, Reader]:
    reader = Reader(str(path), maxminddb.MODE_MMAP)
    meta = reader.metadata()
    return SearchTree(path, meta.node_count, meta.record_size, meta.ip_version), reader


def _expected(reader: Reader, text: str) -> int:
    address = ipaddress.ip_address(text)
    if address.version == 6 and reader.metadata().ip_version == 4:
        return NOT_FOUND
    pointer, _ = reader._find_address_in_tree(bytearray(address.packed))
    return pointer if pointer else NOT_FOUND


def _found(tree: SearchTree, texts: list[str]) -> list[int]:
    parsed = [parse_address(t) for t in texts]
    keys = np.frombuffer(b"".join(p[2] for p in parsed if p), dtype=np.uint8).reshape(-1, 16)
    is_v4 = np.array([p[1] == 4 for p in parsed if p])
    return tree.find(keys, is_v4).tolist()


@pytest.fixture(scope="module")
def city() -> Iterator[tuple[SearchTree, Reader]]:
    tree, reader = _tree(bundled_city_db())
    yield tree, reader
    tree.close()
    reader.close()


_V4 = st.ip_addresses(v=4).map(str)
_V6 = st.one_of(
    st.ip_addresses(v=6).map(str),
    # Where the City database has data: 2001::/16 and 2a00::/12 hold most of it.
    st.integers(0, 2**112 - 1).map(lambda n: str(ipaddress.IPv6Address((0x2A00 << 112) | n))),
    st.integers(0, 2**112 - 1).map(lambda n: str(ipaddress.IPv6Address((0x2001 << 112) | n))),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(_V4, _V6), min_size=1, max_size=300))
def test_city_tree_matches_reader(city: tuple[SearchTree, Reader], texts: list[str]) -> None:
    tree, reader = city
    texts = [t for t in texts if ipaddress.ip_address(t).version == 4 or "." not in t]
    if texts:
        assert _found(tree, texts) == [_expected(reader, t) for t in texts]


def test_city_tree_on_known_places(city: tuple[SearchTree, Reader]) -> None:
    tree, reader = city
    texts = ["91.152.10.1", "193.166.3.1", "8.8.8.8", "10.1.2.3", "2a00:1450:4001::1", "::1"]
    found = _found(tree, texts)
    assert found == [_expected(reader, t) for t in texts]
    assert found[3] == NOT_FOUND and found[0] != NOT_FOUND


@pytest.mark.parametrize(("version", "compatible"), [(4, False), (6, True)])
def test_written_databases(tmp_path: Path, version: int, compatible: bool) -> None:
    writer = MMDBWriter(ip_version=version, ipv4_compatible=compatible, database_type="Test")
    writer.insert_network(IPSet(["91.152.0.0/16"]), {"n": 1})
    writer.insert_network(IPSet(["91.153.128.0/17", "1.0.0.0/8"]), {"n": 2})
    if version == 6:
        writer.insert_network(IPSet(["2001:db8::/32"]), {"n": 3})
    path = tmp_path / "test.mmdb"
    writer.to_db_file(str(path))
    tree, reader = _tree(path)
    texts = ["91.152.1.1", "91.153.200.1", "91.153.1.1", "1.2.3.4", "2.2.2.2"]
    texts += ["2001:db8::1", "2001:db9::1"] if version == 6 else []
    try:
        found = _found(tree, texts)
        assert found == [_expected(reader, t) for t in texts]
        assert found[0] != NOT_FOUND and found[2] == NOT_FOUND and found[4] == NOT_FOUND
    finally:
        tree.close()
        reader.close()


@pytest.mark.parametrize("record_size", [24, 28, 32])
def test_record_sizes(tmp_path: Path, record_size: int) -> None:
    """One node: bit 0 leads to nothing, bit 1 to data record 1 + 16 + 5."""
    left, right = 1, 22
    if record_size == 28:
        node = (left & 0xFFFFFF).to_bytes(3, "big")
        node += bytes([(left >> 24) << 4 | (right >> 24)]) + (right & 0xFFFFFF).to_bytes(3, "big")
    else:
        width = record_size // 8
        node = left.to_bytes(width, "big") + right.to_bytes(width, "big")
    path = tmp_path / "tree.bin"
    path.write_bytes(node)
    tree = SearchTree(path, node_count=1, record_size=record_size, ip_version=4)
    try:
        assert _found(tree, ["1.2.3.4", "200.1.1.1"]) == [NOT_FOUND, right]
    finally:
        tree.close()


@settings(max_examples=20, deadline=None)
@given(st.lists(_V4, min_size=1, max_size=200))
def test_enricher_places_match_reader(texts: list[str]) -> None:
    """Decoding once per record gives every address the place its own lookup gives."""
    enricher = Enricher.open("", "", ())
    reader = maxminddb.open_database(str(bundled_city_db()))
    try:
        rows = {r["ip"]: r for r in enricher.lookup(pl.Series(texts)).to_dicts()}
        for text in texts:
            record: Any = reader.get(text) or {}
            country = (record.get("country") or record.get("registered_country") or {}).get(
                "iso_code"
            )
            assert rows[text]["country"] == country
    finally:
        enricher.close()
        reader.close()
