"""The detectors: pure functions from a Polars frame of events (and parameters) to findings.

No database, clock or configuration inside: a rule (YAML in rules/) names one of these and
gives its parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from analytics.detectors.campaigns import CampaignParams, campaign_summary, campaigns
from analytics.detectors.common import FINDINGS_SCHEMA, Params
from analytics.detectors.describe import account_summary, failure_summary
from analytics.detectors.distributed import DistributedParams, distributed_failures
from analytics.detectors.geo import VelocityParams, geo_velocity
from analytics.detectors.novelty import DormancyParams, FirstSeenParams, dormancy, first_seen
from analytics.detectors.sequence import SequenceParams, failures_then_success
from analytics.detectors.session import SessionParams, session_divergence
from analytics.detectors.sources import SourceParams, source_episodes
from analytics.detectors.windows import CountParams, DistinctParams, window_count, window_distinct


@dataclass(frozen=True)
class Detector:
    params: type[Params]
    # (events, params), or (events, params, context) where the params' reads ask for one.
    run: Callable[..., pl.DataFrame]
    # Describes an alert again from all of its evidence when it grows: evidence rows with
    # `group` (the alert), `key` (its entity) and the events' columns -> (group, summary).
    # None: a grown alert takes the summary of its latest finding.
    summarize: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    summarizes: tuple[str, ...] = ()  # the entity types `summarize` describes


DETECTORS: dict[str, Detector] = {
    "source_episodes": Detector(SourceParams, source_episodes, failure_summary, ("ip",)),
    "distributed_failures": Detector(DistributedParams, distributed_failures, account_summary),
    "campaigns": Detector(CampaignParams, campaigns, campaign_summary, ("campaign",)),
    "window_count": Detector(CountParams, window_count),
    "window_distinct": Detector(DistinctParams, window_distinct),
    "failures_then_success": Detector(SequenceParams, failures_then_success),
    "geo_velocity": Detector(VelocityParams, geo_velocity),
    "first_seen": Detector(FirstSeenParams, first_seen),
    "session_divergence": Detector(SessionParams, session_divergence),
    "dormancy": Detector(DormancyParams, dormancy),
}

__all__ = ["DETECTORS", "FINDINGS_SCHEMA", "Detector"]
