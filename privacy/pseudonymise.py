"""Pseudonymisation of old events: addresses truncated to /24 (IPv4) or /48 (IPv6), user
agents reduced to the browser family, host names dropped, places coarsened to the country
and whole degrees. What detection needs from history (country, network, client family)
survives; what singles out a person's device and home does not."""

from __future__ import annotations

import ipaddress
from datetime import datetime

import duckdb
import pyarrow as pa

from store.addresses import network_range

_FAMILY = """CASE
    WHEN user_agent IS NULL THEN NULL
    WHEN contains(user_agent, 'Edg/') THEN 'Edge'
    WHEN contains(user_agent, 'OPR/') THEN 'Opera'
    WHEN contains(user_agent, 'Firefox/') THEN 'Firefox'
    WHEN contains(user_agent, 'Chrome/') THEN 'Chrome'
    WHEN contains(user_agent, 'Safari/') THEN 'Safari'
    WHEN starts_with(lower(user_agent), 'curl') THEN 'curl'
    WHEN contains(lower(user_agent), 'python') THEN 'Python'
    ELSE 'other' END"""


def truncated(address: str) -> str | None:
    """The /24 or /48 network an address belongs to, written as its first address."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if parsed.version == 4 else 48
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False).network_address)


def pseudonymise_events(
    con: duckdb.DuckDBPyConnection, cutoff: datetime, held: str, now: datetime
) -> int:
    """Pseudonymise events older than `cutoff` that no hold covers (`held`: SQL condition on
    `e` with one parameter, now). Runs inside the caller's transaction; returns the count."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE pseudonymise_due AS
            SELECT event_id, ip FROM events e
            WHERE NOT e.pseudonymised AND e.ts < ? AND NOT ({held})""",
        [cutoff, now],
    )
    ((count,),) = con.execute("SELECT count(*) FROM pseudonymise_due").fetchall()
    if not count:
        return 0
    addresses = [
        row[0]
        for row in con.execute(
            "SELECT DISTINCT ip FROM pseudonymise_due WHERE ip IS NOT NULL"
        ).fetchall()
    ]
    networks = [truncated(a) for a in addresses]
    keys = [network_range(n)[0] if n else None for n in networks]
    con.register(
        "pseudonymised_addresses",
        pa.table({"ip": addresses, "network": networks, "key": pa.array(keys, pa.binary())}),
    )
    try:
        con.execute(
            """UPDATE events SET ip = m.network, ip_bin = m.key
               FROM pseudonymise_due d JOIN pseudonymised_addresses m USING (ip)
               WHERE events.event_id = d.event_id"""
        )
    finally:
        con.unregister("pseudonymised_addresses")
    con.execute(
        f"""UPDATE events SET user_agent = {_FAMILY}, host = NULL, city = NULL,
                lat = round(lat), lon = round(lon), pseudonymised = true
            FROM pseudonymise_due d WHERE events.event_id = d.event_id"""
    )
    # The reasons of a login's risk quote its network, city and user agent in full.
    con.execute(
        """UPDATE login_risk SET reasons = []
           WHERE event_id IN (SELECT event_id FROM pseudonymise_due)"""
    )
    con.execute("DROP TABLE pseudonymise_due")
    return int(count)
