"""Where many addresses land in a MaxMind DB search tree, found all at once.

A lookup through the maxminddb reader walks the tree and then decodes the whole record
(every place name in eight languages) into Python dicts: about 20 µs an address, most of
it the decoding. Many addresses share one record (one city, one network), so vahti walks
the tree for all distinct addresses of a batch together, bit by bit with numpy, and asks
the reader to decode each record found only once, through one address that reaches it.

The tree layout is the MaxMind DB format, version 2: `node_count` nodes of two records of
`record_size` bits each (24, 28 or 32), big-endian; a record below `node_count` is the next
node, equal to it means "no data", above it points into the data section. IPv4 addresses
of an IPv6 tree start at the node reached after 96 zero bits.
"""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import numpy.typing as npt

NOT_FOUND = -1
_RECORD_SIZES = (24, 28, 32)

Keys = npt.NDArray[np.uint8]  # one row of 16 bytes per address (IPv4 mapped to ::ffff:0:0/96)
Found = npt.NDArray[np.int64]


class SearchTree:
    """The search tree of one MaxMind DB file, memory-mapped and read only."""

    def __init__(self, path: Path, node_count: int, record_size: int, ip_version: int) -> None:
        if record_size not in _RECORD_SIZES:
            raise ValueError(f"{path}: unsupported MaxMind DB record size {record_size}")
        with path.open("rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        self._bytes = np.frombuffer(self._map, dtype=np.uint8)
        self.node_count = node_count
        self.record_size = record_size
        self.ip_version = ip_version
        self._ipv4_start = self._walk_zeros(96) if ip_version == 6 else 0

    def close(self) -> None:
        del self._bytes  # the buffer's export must end before the map can close
        self._map.close()

    def find(self, keys: Keys, is_v4: npt.NDArray[np.bool_]) -> Found:
        """The record each address reaches (a number above `node_count`) or NOT_FOUND."""
        found = np.full(len(keys), NOT_FOUND, dtype=np.int64)
        v4 = np.nonzero(is_v4)[0]
        found[v4] = self._walk(np.unpackbits(keys[v4, 12:], axis=1), self._ipv4_start)
        if self.ip_version == 6:  # an IPv4 tree holds no IPv6 address
            v6 = np.nonzero(~is_v4)[0]
            found[v6] = self._walk(np.unpackbits(keys[v6], axis=1), 0)
        return found

    def _walk(self, bits: npt.NDArray[np.uint8], start: int) -> Found:
        node = np.full(len(bits), start, dtype=np.int64)
        for column in range(bits.shape[1]):
            live = np.nonzero(node < self.node_count)[0]
            if not len(live):
                break
            node[live] = self._child(node[live], bits[live, column])
        return np.where(node > self.node_count, node, NOT_FOUND)

    def _walk_zeros(self, depth: int) -> int:
        node = 0
        for _ in range(depth):
            if node >= self.node_count:
                break
            node = int(self._child(np.array([node]), np.array([0], dtype=np.uint8))[0])
        return node

    def _child(self, nodes: Found, bits: npt.NDArray[np.uint8]) -> Found:
        data, right = self._bytes, bits.astype(np.int64)
        if self.record_size == 28:  # the middle byte's halves belong to the two records
            base = nodes * 7
            middle = data[base + 3].astype(np.int64)
            high = np.where(right == 1, middle & 0x0F, middle >> 4)
            first = base + right * 4
            return (
                (high << 24)
                | (data[first].astype(np.int64) << 16)
                | (data[first + 1].astype(np.int64) << 8)
                | data[first + 2]
            )
        width = self.record_size // 8
        first = nodes * (2 * width) + right * width
        value = np.zeros(len(nodes), dtype=np.int64)
        for offset in range(width):
            value = (value << 8) | data[first + offset]
        return value
