"""Address keys as stored in `events.ip_bin`: 16 bytes, IPv4 mapped into IPv6."""

from __future__ import annotations

import ipaddress


def _key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
    if isinstance(address, ipaddress.IPv4Address):
        return b"\x00" * 10 + b"\xff\xff" + address.packed
    return address.packed


def network_range(text: str) -> tuple[bytes, bytes]:
    """An address or CIDR -> the lowest and highest `ip_bin` it covers.

    Raises ValueError naming the text when it is neither."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"not an address or network: {text!r}") from exc
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen == 128:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return _key(mapped), _key(mapped)
    return _key(network.network_address), _key(network.broadcast_address)
