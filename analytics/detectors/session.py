"""One session id seen from diverging places or clients: a stolen cookie replayed."""

from __future__ import annotations

import polars as pl

from analytics.detectors.common import (
    BASE_COLUMNS,
    Params,
    Reads,
    Where,
    as_findings,
    empty_findings,
    keyed,
    names,
)


class SessionParams(Params):
    compare: tuple[str, ...] = ("country", "user_agent")

    def reads(self) -> Reads:
        columns = tuple(dict.fromkeys((*BASE_COLUMNS, "session_id", *self.compare)))
        # On hashes: grouping 10M session ids and comparing texts costs twice as much, and
        # a collision only lets a session through to the detector, which decides.
        diverging = " OR ".join(f'min(hash("{f}")) <> max(hash("{f}"))' for f in self.compare)
        return Reads(
            columns=columns, not_null=("session_id",), group="hash(session_id)", having=diverging
        )


def session_divergence(events: pl.DataFrame, p: SessionParams) -> pl.DataFrame:
    """A session with more than one value of any compared field (mobile NAT hops stay quiet:
    a new address in the same country with the same client is not divergence)."""
    frame = keyed(events, "session", Where(event=None))
    if frame.height == 0:
        return empty_findings()
    # Counting first; describing (the costly part) only the sessions that diverge.
    counts = frame.group_by("key").agg(
        [pl.col(field).drop_nulls().n_unique().alias(f"n_{field}") for field in p.compare]
    )
    diverging = pl.any_horizontal([pl.col(f"n_{field}") > 1 for field in p.compare])
    suspects = counts.filter(diverging)
    frame = frame.join(suspects, on="key", how="semi")
    found = frame.group_by("key").agg(
        first_seen=pl.col("ts").min(),
        last_seen=pl.col("ts").max(),
        event_ids=pl.col("event_id"),
        users=names("user"),
        sources=names("ip"),
        **{f"n_{field}": pl.col(field).drop_nulls().n_unique() for field in p.compare},
        **{f"v_{field}": names(field, 2) for field in p.compare},
    )
    changed = pl.concat_str(
        [
            pl.when(pl.col(f"n_{field}") > 1).then(pl.format(f"{field} {{}}", pl.col(f"v_{field}")))
            for field in p.compare
        ],
        separator="; ",
        ignore_nulls=True,
    )
    return as_findings(
        found,
        "first_seen",
        "last_seen",
        pl.col("event_ids"),
        pl.format("session of {} used from {}: {}", "users", "sources", changed),
    )
