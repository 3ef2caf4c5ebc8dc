"""Prometheus metrics (prometheus_client), one registry per service, no global state.

What pages someone: a job that fails, a job that has not succeeded for too long, a log feed
that stopped (each source's newest event time), quarantine that grows. The store's figures
are read at scrape time; the jobs report each run as it ends. docs/prometheus/ and
docs/grafana/ hold an alert rule file and a dashboard built on exactly these names
(tests/api/test_metrics.py checks that every name they use is exported).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from store import Store

JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ServiceMetrics:
    """The registry of one running service and the job metrics it is told about."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["job"]
        self.job_last_success = Gauge(
            "vahti_job_last_success_timestamp_seconds",
            "When each scheduled job last ended well (Unix time).",
            labels, registry=self.registry,
        )  # fmt: skip
        self.job_duration = Histogram(
            "vahti_job_duration_seconds", "How long each job's runs took.", labels,
            buckets=JOB_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.job_runs = Counter(
            "vahti_job_runs", "Job runs by outcome.", [*labels, "outcome"], registry=self.registry
        )
        self.job_failures = Counter(
            "vahti_job_failures", "Job runs that failed.", labels, registry=self.registry
        )
        self._store = StoreCollector(store)
        self.registry.register(self._store)

    def watch_auth_failures(self, count: Callable[[], int], refused: Callable[[], int]) -> None:
        """Where the API counts failed authentications and the attempts its limiter
        refused (the limiter is made with the app)."""
        self._store.auth_failures, self._store.auth_refusals = count, refused

    def job_finished(self, job: str, outcome: str, seconds: float, ended: datetime) -> None:
        self.job_duration.labels(job).observe(seconds)
        self.job_runs.labels(job, outcome).inc()
        if outcome == "failed":
            self.job_failures.labels(job).inc()
        else:
            self.job_last_success.labels(job).set(ended.timestamp())

    def job_known(self, job: str) -> None:
        """A scheduled job shows in the metrics (with no success yet) before it first runs."""
        self.job_failures.labels(job)
        for outcome in ("ok", "failed"):
            self.job_runs.labels(job, outcome)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class StoreCollector(Collector):
    """The store's figures, read at each scrape on a cursor of its own."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.auth_failures: Callable[[], int] = lambda: 0
        self.auth_refusals: Callable[[], int] = lambda: 0

    def describe(self) -> list[Metric]:
        return list(self._families({}))

    def collect(self) -> Iterator[Metric]:
        con = self.store.cursor()
        try:
            yield from self._families(_figures(con))
        finally:
            con.close()

    def _families(self, figures: dict[str, Any]) -> Iterator[Metric]:
        for name, text, value in (
            ("vahti_events", "Events held in the store.", figures.get("events")),
            ("vahti_quarantined", "Lines held in quarantine.", figures.get("quarantined")),
            ("vahti_sources", "Files and pushed batches loaded.", figures.get("sources")),
        ):
            family = GaugeMetricFamily(name, text)
            if value is not None:
                family.add_metric([], value)
            yield family
        newest = GaugeMetricFamily(
            "vahti_source_newest_event_timestamp_seconds",
            "Each source's newest event (Unix time): a feed that stops shows here.",
            labels=["source"],
        )
        quarantined = GaugeMetricFamily(
            "vahti_source_quarantined_lines", "Lines of each source held in quarantine.",
            labels=["source"],
        )  # fmt: skip
        for source, newest_ts, held in figures.get("per_source", []):
            if newest_ts is not None:
                newest.add_metric([source], newest_ts)
            quarantined.add_metric([source], held)
        yield newest
        yield quarantined
        alerts = GaugeMetricFamily(
            "vahti_alerts", "Alerts by category, severity and status.",
            labels=["category", "severity", "status"],
        )  # fmt: skip
        for category, severity, status, count in figures.get("alerts", []):
            alerts.add_metric([category, severity, status], count)
        yield alerts
        failures = CounterMetricFamily(
            "vahti_auth_failures", "Failed API authentications since the service started."
        )
        failures.add_metric([], self.auth_failures())
        yield failures
        refusals = CounterMetricFamily(
            "vahti_auth_refusals",
            "Failed authentications refused by the limiter (429) since the service started.",
        )
        refusals.add_metric([], self.auth_refusals())
        yield refusals


def _figures(con: Any) -> dict[str, Any]:
    ((events, quarantined, sources),) = con.execute(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM quarantine), "
        "(SELECT count(*) FROM sources)"
    ).fetchall()
    # Pushed batches are one source each: they are one feed, `push`.
    per_source = con.execute(
        """WITH named AS (
               SELECT source_id, CASE WHEN kind = 'file' THEN path ELSE 'push' END AS source
               FROM sources),
           newest AS (SELECT source_id, max(ts) AS ts FROM events GROUP BY source_id),
           held AS (SELECT source_id, count(*) AS n FROM quarantine GROUP BY source_id)
           SELECT source, epoch(max(newest.ts)), coalesce(sum(held.n), 0)::BIGINT
           FROM named LEFT JOIN newest USING (source_id) LEFT JOIN held USING (source_id)
           GROUP BY source ORDER BY source"""
    ).fetchall()
    alerts = con.execute(
        "SELECT category, severity, status, count(*) FROM alerts GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    return {
        "events": events,
        "quarantined": quarantined,
        "sources": sources,
        "per_source": per_source,
        "alerts": alerts,
    }
