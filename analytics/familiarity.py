"""Familiarity: how unfamiliar a successful login is for its account (Freeman et al., "Who
Are You? A Statistical Approach to Measuring User Authenticity", NDSS 2016).

A login has two features, each a hierarchy of levels: where it came from (network, city,
country) and what it came with (user-agent string, browser, operating system, device
class). For each level value x the evidence is the likelihood ratio of the attacker over
the account, p(x | attacker) / p(x | account), in natural-log units:

- p(x | account) = (c + a * g) / (n + a): c of the account's n earlier logins had x;
  a smooths towards the service's own frequency g of x, so a value the account never used
  but half the service uses is less surprising than one the service never saw.
- p(x | attacker) = 1 / K: an attacker comes from anywhere among the K values open to it
  at that level: the values the service has seen and new ones, at least `choices` (the
  world has about 250 countries; a small service has seen a few of them). Freeman et al.
  take the service's own frequency as the attacker's; for a service whose customers live
  in one country and whose attackers come from everywhere else, that makes the home ISPs
  and the usual browsers the attacker's likeliest values. A flat distribution says the
  opposite, as Entra ID's "locations regularly used by other users" do: what many of the
  service's people use is less surprising for an account that never used it than what
  nobody uses.

A level's evidence is clipped to [-clip, clip] and levels are weighted within their
feature; features add. The sum becomes a risk in 0..1 by a logistic curve. A first trip
abroad with the usual laptop has an unfamiliar location and a familiar client: low. A new
country with a client the account never used is high. Accounts learn first: an account
is learning until it has `learning.logins` earlier logins or `learning.days` of history
(whichever comes first), and every login in a fresh deployment's first
`deployment_learning` is learning too. Learning logins are scored but raise nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from analytics.detectors.common import Duration

LOCATION = ("network", "city", "country")
CLIENT = ("agent", "version", "browser", "os", "device")
LEVELS = (*LOCATION, *CLIENT)
WHAT = {
    "network": "network", "city": "city", "country": "country", "agent": "user agent",
    "version": "browser version", "browser": "browser", "os": "operating system",
    "device": "device",
}  # fmt: skip


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Learning(Strict):
    logins: int = Field(default=10, ge=1)
    days: int = Field(default=14, ge=0)


class Feature(Strict):
    weight: float = Field(default=1.0, ge=0)
    levels: dict[str, float]


class RiskCurve(Strict):
    midpoint: float = 4.5  # evidence (nats) where risk is 0.5
    scale: float = Field(default=1.0, gt=0)


class FamiliarityModel(Strict):
    model: str = Field(pattern="^familiarity$")
    description: str = ""
    lookback: Duration = timedelta(days=90)
    learning: Learning = Learning()
    deployment_learning: Duration = timedelta(days=14)
    smoothing: float = Field(default=1.0, gt=0)
    clip: float = Field(default=8.0, gt=0)
    # Evidence a level must add to be named among an alert's reasons.
    notable: float = 1.0
    location: Feature = Feature(levels={"network": 0.3, "city": 0.3, "country": 0.4})
    client: Feature = Feature(
        levels={"agent": 0.1, "version": 0.25, "browser": 0.25, "os": 0.25, "device": 0.15}
    )
    risk: RiskCurve = RiskCurve()
    # How many values an attacker can choose from at each level, at least.
    choices: dict[str, int] = {
        "network": 100_000, "city": 10_000, "country": 250, "agent": 10_000, "version": 1000,
        "browser": 50, "os": 20, "device": 3,
    }  # fmt: skip

    @model_validator(mode="after")
    def _known_levels(self) -> FamiliarityModel:
        for name, feature, allowed in (
            ("location", self.location, LOCATION),
            ("client", self.client, CLIENT),
        ):
            unknown = set(feature.levels) - set(allowed)
            if unknown:
                raise ValueError(f"{name}: unknown levels {sorted(unknown)}: use {allowed}")
        return self

    def weights(self) -> dict[str, float]:
        """Each level's weight in the sum: its feature's weight times its share."""
        out: dict[str, float] = {}
        for feature in (self.location, self.client):
            total = sum(feature.levels.values()) or 1.0
            out.update({k: feature.weight * w / total for k, w in feature.levels.items()})
        return out


def client_levels(agents: pl.Series) -> pl.DataFrame:
    """(user_agent, version, browser, os, device) for the distinct user agents (parsed once
    each): `version` is the browser with its major version (Chrome 109 years after
    everybody moved on is a tool's stale string)."""
    distinct = agents.drop_nulls().unique().to_list()
    parsed = [_parse(agent) for agent in distinct]
    names = ("version", "browser", "os", "device")
    return pl.DataFrame(
        {"user_agent": distinct, **{name: [p[i] for p in parsed] for i, name in enumerate(names)}},
        schema={"user_agent": pl.String, **dict.fromkeys(names, pl.String)},
    )


MOBILE_OS = {"iOS", "Android", "iPadOS", "Windows Phone", "KaiOS"}
DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "FreeBSD"}


@cache
def _parse(agent: str) -> tuple[str, str, str, str]:
    from ua_parser import parse

    found = parse(agent)
    browser = found.user_agent.family if found.user_agent else "Other"
    major = found.user_agent.major if found.user_agent else None
    version = f"{browser} {major}" if major else browser
    system = found.os.family if found.os else "Other"
    if system in MOBILE_OS:
        device = "mobile"
    elif system in DESKTOP_OS:
        device = "desktop"
    else:
        device = "other"
    return version, browser, system, device


def prior_counts(levels: pl.DataFrame) -> pl.DataFrame:
    """Per login: `n`, the account's earlier successful logins, `first`, its first login's
    time, and per level `c_<level>`, how many earlier logins had the same value, and
    `u_<level>`, how many of all the account's logins had it.

    `levels` holds successful logins of whole accounts (every login of each account in the
    look-back), with their level values."""
    ordered = levels.sort("user", "ts", "event_id")
    return ordered.with_columns(
        n=pl.int_range(pl.len()).over("user"),
        first=pl.col("ts").min().over("user"),
        **{f"c_{level}": pl.int_range(pl.len()).over("user", level) for level in LEVELS},
        **{f"u_{level}": pl.len().over("user", level) for level in LEVELS},
    )


def score(
    counted: pl.DataFrame,
    shares: pl.DataFrame,
    model: FamiliarityModel,
    service_start: datetime,
) -> pl.DataFrame:
    """(event_id, risk, evidence, reasons, learning) per login of `counted` (prior_counts'
    output). `shares`: (level, value, count, total, kinds) for the service: how many of its
    successful logins had each value, of how many, and how many values the level has."""
    weights = model.weights()
    frame = counted
    for level in LEVELS:
        frame = frame.join(
            shares.filter(pl.col("level") == level).select(
                pl.col("value").alias(level),
                **{f"n_{level}": "count", f"t_{level}": "total", f"k_{level}": "kinds"},
            ),
            on=level,
            how="left",
        )
    a = model.smoothing
    evidence = []
    for level in LEVELS:
        seen = pl.col(f"k_{level}").fill_null(1).cast(pl.Float64)
        kinds = pl.max_horizontal(seen + 1.0, pl.lit(float(model.choices.get(level, 1))))
        total = pl.col(f"t_{level}").fill_null(1).cast(pl.Float64)
        # How common the value is among the service's other accounts; one no other account
        # used is as rare as one more login, and no commoner than one of the attacker's.
        others = (pl.col(f"n_{level}").fill_null(0) - pl.col(f"u_{level}")).clip(lower_bound=0)
        rare = pl.min_horizontal(1.0 / (total + seen + 1.0), 1.0 / kinds)
        g = pl.when(others > 0).then(others / total).otherwise(rare)
        own = (pl.col(f"c_{level}") + a * g) / (pl.col("n") + a)
        attacker = 1.0 / kinds
        ratio = (attacker / own).log().clip(-model.clip, model.clip)
        present = pl.col(level).is_not_null()
        evidence.append(pl.when(present).then(ratio).otherwise(0.0).alias(f"e_{level}"))
    frame = frame.with_columns(evidence)
    total = pl.sum_horizontal([pl.col(f"e_{level}") * weights.get(level, 0.0) for level in LEVELS])
    curve = model.risk
    learning = (
        (pl.col("n") < model.learning.logins)
        & (pl.col("ts") - pl.col("first") < timedelta(days=model.learning.days))
    ) | (pl.col("ts") < service_start + model.deployment_learning)
    frame = frame.with_columns(
        evidence=total,
        risk=1.0 / (1.0 + ((curve.midpoint - total) / curve.scale).exp()),
        learning=learning,
    )
    return frame.select(
        "event_id", "risk", "evidence", "learning", reasons=_reasons(model, weights)
    )


def _reasons(model: FamiliarityModel, weights: dict[str, float]) -> pl.Expr:
    """The unfamiliar levels, most telling first: `country SE: new for the account after 20
    logins (1.2 % of the service's logins) +3.4`."""
    parts = []
    for level in LEVELS:
        weighted = pl.col(f"e_{level}") * weights.get(level, 0.0)
        seen = (
            pl.when(pl.col(f"c_{level}") == 0)
            .then(pl.format("new for the account after {} logins", "n"))
            .otherwise(pl.format("{} of {} earlier logins", f"c_{level}", "n"))
        )
        share = (pl.col(f"n_{level}").fill_null(0) * 100 / pl.col(f"t_{level}")).round(2)
        text = pl.format(
            "{} {}: {} ({} % of the service's logins), +{}",
            pl.lit(WHAT[level]), pl.col(level), seen, share, weighted.round(1),
        )  # fmt: skip
        parts.append(pl.when(pl.col(f"e_{level}") >= model.notable).then(text))
    return pl.concat_list(parts).list.drop_nulls()


def level_values(levels: pl.DataFrame) -> pl.DataFrame:
    """(level, value) long form of the distinct level values of some logins."""
    return pl.concat(
        [
            levels.select(level=pl.lit(level), value=pl.col(level).cast(pl.String))
            .drop_nulls()
            .unique()
            for level in LEVELS
        ]
    )
