"""Geo-velocity: consecutive logins of an account further apart than travel allows."""

from __future__ import annotations

import polars as pl

from analytics.detectors.common import (
    BASE_COLUMNS,
    RISK_COLUMNS,
    Params,
    Reads,
    RiskGate,
    Where,
    as_findings,
    empty_findings,
    keyed,
)
from analytics.detectors.novelty import risk_columns, with_risk

EARTH_KM = 6371.0088


class VelocityParams(Params):
    max_kmh: float = 900.0
    min_km: float = 500.0
    familiar_after: int = 3  # a country seen this often before is the account's own
    # With familiarity: the riskier of the two logins must pass (a VPN exit the account
    # alternates with, a hotel with the usual laptop, do not).
    familiarity: RiskGate | None = None

    def reads(self) -> Reads:
        risk = RISK_COLUMNS if self.familiarity is not None else ()
        columns = (*BASE_COLUMNS, "lat", "lon", "city", "country", "own_network", *risk)
        return Reads(
            columns=columns,
            equals=(("event", ("login",)), ("outcome", ("success",))),
            group='"user"',
            having="min(lat) <> max(lat) OR min(lon) <> max(lon)",
        )


def haversine_km(lat1: pl.Expr, lon1: pl.Expr, lat2: pl.Expr, lon2: pl.Expr) -> pl.Expr:
    rad = 3.141592653589793 / 180
    dlat = (lat2 - lat1) * rad / 2
    dlon = (lon2 - lon1) * rad / 2
    a = dlat.sin() ** 2 + (lat1 * rad).cos() * (lat2 * rad).cos() * dlon.sin() ** 2
    return 2 * EARTH_KM * a.sqrt().arcsin()


def geo_velocity(events: pl.DataFrame, p: VelocityParams) -> pl.DataFrame:
    """Own networks, same-city hops and places the account uses regularly are exempt."""
    moved = pl.struct("lat", "lon").drop_nulls().n_unique() > 1
    frame = keyed(events, "user", Where(outcome="success"), candidates=moved).filter(
        pl.col("lat").is_not_null() & pl.col("lon").is_not_null()
    )
    if frame.height < 2:
        return empty_findings()
    seen_before = pl.int_range(pl.len()).over("key", "country")
    frame = frame.with_columns(familiar=seen_before >= p.familiar_after)
    carried = ["ts", "lat", "lon", "city", "country", "event_id", "own_network", "ip"]
    if p.familiarity is not None:
        carried += ["risk", "learning", "risk_reasons"]
    prev = {c: pl.col(c).shift(1).over("key") for c in carried}
    pairs = frame.with_columns(**{f"prev_{c}": e for c, e in prev.items()}).filter(
        pl.col("prev_ts").is_not_null()
    )
    pairs = pairs.with_columns(
        km=haversine_km(pl.col("prev_lat"), pl.col("prev_lon"), pl.col("lat"), pl.col("lon")),
        hours=((pl.col("ts") - pl.col("prev_ts")).dt.total_seconds() / 3600).clip(
            lower_bound=1 / 60
        ),
    ).with_columns(kmh=pl.col("km") / pl.col("hours"))
    exempt = (
        pl.col("own_network").is_not_null()
        | pl.col("prev_own_network").is_not_null()
        | (pl.col("city").is_not_null() & (pl.col("city") == pl.col("prev_city")))
        | pl.col("familiar")
    )
    found = pairs.filter((pl.col("km") >= p.min_km) & (pl.col("kmh") > p.max_kmh) & ~exempt)
    if p.familiarity is not None:
        found = _riskier(found).filter(p.familiarity.passes(pl.col("risk"), pl.col("learning")))
    summary = pl.format(
        "{} logged in from {} ({}) and {} min later from {} ({}): {} km, {} km/h",
        "key",
        pl.coalesce(pl.col("prev_city"), pl.col("prev_country"), pl.col("prev_ip")),
        "prev_ip",
        ((pl.col("ts") - pl.col("prev_ts")).dt.total_seconds() / 60).round(0).cast(pl.Int64),
        pl.coalesce(pl.col("city"), pl.col("country"), pl.col("ip")),
        "ip",
        pl.col("km").round(0).cast(pl.Int64),
        pl.col("kmh").round(0).cast(pl.Int64),
    )
    return as_findings(
        found, "prev_ts", "ts", pl.concat_list("prev_event_id", "event_id"),
        with_risk(summary, p.familiarity), **risk_columns(p.familiarity),
    )  # fmt: skip


def _riskier(pairs: pl.DataFrame) -> pl.DataFrame:
    """The pair's risk is its riskier login's: the stranger may come first or second.
    Learning if either login was still learning."""
    earlier = pl.col("prev_risk").fill_null(0.0) > pl.col("risk").fill_null(0.0)
    return pairs.with_columns(
        risk=pl.max_horizontal("risk", "prev_risk"),
        risk_reasons=pl.when(earlier).then("prev_risk_reasons").otherwise("risk_reasons"),
        learning=pl.col("learning").fill_null(True) | pl.col("prev_learning").fill_null(True),
    )
