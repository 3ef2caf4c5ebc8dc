"""The campaign baseline looks back a bounded time: a stray event years old neither fills
the years between with empty buckets nor changes what is usual now."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import orjson
import polars as pl

from analytics.detectors.campaigns import CampaignParams, _series, rise_spans
from analytics.rules import default_rules_dir, load_rules
from analytics.run import run_detection
from store import open_store
from store.alerts import list_alerts
from tests.helpers import load
from vahti.demo import write_demo_files

RULES, _ = load_rules(default_rules_dir())
START = datetime(2026, 9, 1)


def _buckets(hours: int, spike_at: int) -> pl.DataFrame:
    """Ten-minute buckets of one service: a failure or two an hour, then a spike."""
    times = [START + timedelta(minutes=10 * i) for i in range(hours * 6)]
    failures = [(i % 7 == 0) + (i % 11 == 0) for i in range(hours * 6)]
    failures[spike_at * 6] = 60
    return pl.DataFrame(
        {"service": "", "bucket": times, "failures": failures, "unknown": [0] * len(times)},
        schema_overrides={"failures": pl.Int64, "unknown": pl.Int64},
    )


def test_a_gap_longer_than_the_history_is_not_filled() -> None:
    stray = pl.DataFrame(
        {"service": [""], "bucket": [datetime(2019, 5, 1)], "failures": [1], "unknown": [0]},
        schema_overrides={"failures": pl.Int64, "unknown": pl.Int64},
    )
    recent = _buckets(24 * 3, 70)
    series = _series(pl.concat([stray, recent]), timedelta(minutes=10), timedelta(weeks=12))
    assert series.height == recent.height + 1  # not the 7 years of buckets between
    assert series["failures"].sum() == recent["failures"].sum() + 1


def test_a_stray_old_bucket_changes_no_rise() -> None:
    p = CampaignParams()
    recent = _buckets(24 * 21, 24 * 20 + 3)
    stray = recent.head(1).with_columns(bucket=pl.lit(datetime(2019, 5, 1)))
    alone, with_stray = rise_spans(recent, p), rise_spans(pl.concat([stray, recent]), p)
    assert alone.height >= 1  # the spike rose above three weeks of noise
    assert alone.select("start", "end").equals(with_stray.select("start", "end"))


def test_campaign_alerts_are_the_same_with_a_misdated_line(tmp_path: Path) -> None:
    events, _ = write_demo_files(tmp_path, days=21, seed=2)
    misdated = tmp_path / "misdated.jsonl"
    misdated.write_bytes(orjson.dumps({"ts": "2019-03-04T05:06:07Z", "outcome": "failure",
                                       "user": "x", "ip": "192.0.2.50"}) + b"\n")  # fmt: skip
    found = []
    for name, files in (("plain", [events]), ("misdated", [events, misdated])):
        db = tmp_path / f"{name}.duckdb"
        for path in files:
            load(db, path)
        with open_store(db) as store:
            run_detection(store, RULES)
            alerts = list_alerts(store.con)
            found.append(sorted((a.category, a.entity_type, a.event_count) for a in alerts))
    assert {"credential_stuffing", "password_spraying"} <= {c for c, _, _ in found[0]}
    assert found[0] and found[0] == found[1]
