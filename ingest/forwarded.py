"""The client's address behind reverse proxies, believed only from proxies we trust.

Anyone can send `X-Forwarded-For: 10.10.1.2`: the header is the client's own text until a
proxy of ours appends to it. So the chain is read from the right, from the peer (the
address the web server saw), leftwards past every hop that is a configured trusted proxy;
the first hop that is not one is the client. With no trusted proxies, or a peer that is not
one, the peer is the client and the header is never read. A hop that is not an address
stops the walk at the trusted proxy that wrote it. `Forwarded` (RFC 7239) is read the same
way, from its `for=` parameters.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

import polars as pl

_HOP_SEPARATOR = "\x1f"  # between the hops of a parsed `Forwarded` header


@lru_cache(maxsize=64)
def _networks(
    trusted: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in trusted)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted_values(values: list[str], trusted: tuple[str, ...]) -> list[str]:
    """The distinct values that are addresses inside a trusted network."""
    networks = _networks(trusted)
    found = []
    for value in values:
        address = _address(value)
        if address is not None and any(address in net for net in networks):
            found.append(value)
    return found


def hop_address(hop: pl.Expr) -> pl.Expr:
    """One hop as a proxy writes it: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:4711`."""
    bare = hop.str.strip_chars()
    bracketed = bare.str.extract(r"^\[([^\]]+)\]")
    ipv4_port = bare.str.extract(r"^(\d{1,3}(?:\.\d{1,3}){3}):\d+$")
    return pl.coalesce(bracketed, ipv4_port, bare)


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def forwarded_hops(value: str) -> list[str]:
    """RFC 7239: each element's `for=`, unquoted; an element without one is an unknown hop.
    Quoted values may hold `,`, `;` and `for=` of their own (a proxy may copy the client's
    Host header into its element): they are text, not parameters."""
    hops = []
    for element in _split_outside_quotes(value, ","):
        found = ""
        for pair in _split_outside_quotes(element, ";"):
            name, equals, text = pair.strip().partition("=")
            if equals and name.strip().lower() == "for":
                text = text.strip()
                if len(text) >= 2 and text[0] == text[-1] == '"':
                    text = text[1:-1].replace('\\"', '"')
                found = text
                break
        hops.append(found)
    return hops


def _hops(frame: pl.DataFrame, kind: str) -> pl.Expr:
    """The header's hops, left to right, each an address as written (or garbage)."""
    header = pl.col("forwarded")
    if kind != "forwarded":
        return header.str.split(",").list.eval(hop_address(pl.element()))
    # Parsed once per distinct header: quotes make it more than a split.
    distinct = frame["forwarded"].drop_nulls().unique().to_list()
    joined = {value: _HOP_SEPARATOR.join(forwarded_hops(value)) for value in distinct}
    parsed = header.replace_strict(joined, default=None, return_dtype=pl.String)
    return parsed.str.split(_HOP_SEPARATOR).list.eval(hop_address(pl.element()))


def client_address(
    frame: pl.DataFrame, trusted: tuple[str, ...], kind: str = "x-forwarded-for"
) -> pl.Series:
    """`frame` has `peer` and `forwarded` (the header's text, or null) -> the client."""
    peer = frame["peer"]
    if not trusted or frame.height == 0:
        return peer.rename("client")
    # No peer: nobody to believe a header from (the row has no source at all).
    distinct_peers = peer.drop_nulls().unique().to_list()
    if not _trusted_values(distinct_peers, trusted):
        return peer.rename("client")
    chain = (
        frame.select(
            pl.int_range(pl.len()).alias("row"),
            hops=pl.concat_list(
                _hops(frame, kind).fill_null(pl.lit([], pl.List(pl.String))),
                pl.concat_list("peer"),
            ),
        )
        .with_columns(pos=pl.int_ranges(pl.col("hops").list.len(), 0, -1))
        .explode("hops", "pos")
    )
    values = chain["hops"].drop_nulls().unique().to_list()
    trusted_hops = _trusted_values(values, trusted)
    valid = [v for v in values if _address(v) is not None]
    # Right to left (pos 1 is the peer): the first hop that is not trusted is the client;
    # if it is no address, the trusted hop right of it; all trusted: the leftmost.
    walked = (
        chain.with_columns(
            untrusted=~pl.col("hops").is_in(trusted_hops),
            valid=pl.col("hops").is_in(valid),
        )
        .sort("row", "pos")
        .group_by("row", maintain_order=True)
        .agg("hops", stop=pl.col("pos").filter("untrusted").first(), ok=pl.col("valid"))
    )
    at = pl.col("stop") - 1
    return (
        walked.with_columns(peer=peer)
        .select(
            pl.when(pl.col("peer").is_null())
            .then(None)
            .when(pl.col("stop").is_null())
            .then(pl.col("hops").list.last())
            .when(pl.col("ok").list.get(at, null_on_oob=True) | (at == 0))
            .then(pl.col("hops").list.get(at, null_on_oob=True))
            .otherwise(pl.col("hops").list.get(at - 1, null_on_oob=True))
            .alias("client")
        )
        .to_series()
    )
