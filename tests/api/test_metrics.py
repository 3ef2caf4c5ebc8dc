"""/metrics through the ASGI app: job health, the log feed's newest event per source,
alerts by category and status; and the shipped alert rules and dashboard use only names
that /metrics exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import World
from tests.conftest import ROOT

DOCS = ROOT / "docs"


def _scrape(world: World) -> dict[str, list]:
    response = world.client.get("/metrics", headers=world.as_role("analyst"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    families = {}
    for family in text_string_to_metric_families(response.text):
        families[family.name] = family.samples
    return families


def test_jobs_report_success_failure_and_duration(world: World) -> None:
    board = world.service.board
    board.register("detect", "every 300 s")
    board.run("detect", lambda: "ran")
    board.run("detect", lambda: 1 / 0)  # type: ignore[arg-type,return-value]
    metrics = _scrape(world)
    by_name = {s.name: s for s in metrics["vahti_job_last_success_timestamp_seconds"]}
    (last,) = [s for s in by_name.values() if s.labels == {"job": "detect"}]
    assert last.value > 1.7e9
    runs = {(s.labels["job"], s.labels["outcome"]): s.value for s in metrics["vahti_job_runs"]
            if s.name.endswith("_total")}  # fmt: skip
    assert runs[("detect", "ok")] == 1 and runs[("detect", "failed")] == 1
    failures = [s for s in metrics["vahti_job_failures"] if s.name.endswith("_total")]
    assert [(s.labels, s.value) for s in failures] == [({"job": "detect"}, 1.0)]
    count = [s for s in metrics["vahti_job_duration_seconds"] if s.name.endswith("_count")]
    assert count[0].value == 2


def test_the_feed_and_the_store(world: World) -> None:
    metrics = _scrape(world)
    (newest,) = metrics["vahti_source_newest_event_timestamp_seconds"]
    ((newest_ts,),) = world.store.con.execute("SELECT epoch(max(ts)) FROM events").fetchall()
    assert newest.labels["source"].endswith(".jsonl") and newest.value == newest_ts
    ((events,),) = world.store.con.execute("SELECT count(*) FROM events").fetchall()
    assert metrics["vahti_events"][0].value == events
    alerts = metrics["vahti_alerts"]
    ((stored,),) = world.store.con.execute("SELECT count(*) FROM alerts").fetchall()
    assert sum(s.value for s in alerts) == stored > 0
    assert {"category", "severity", "status"} == set(alerts[0].labels)


def _names(text: str) -> set[str]:
    found = set(re.findall(r"\bvahti_[a-z_]+", text))
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in found}


def _exported(world: World) -> set[str]:
    exported = set()
    for name, samples in _scrape(world).items():
        exported.add(name)
        exported |= {sample.name for sample in samples}
    return exported


def test_shipped_alert_rules_and_dashboard_use_exported_names(world: World) -> None:
    rules = yaml.safe_load((DOCS / "prometheus" / "vahti-alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((DOCS / "grafana" / "vahti-dashboard.json").read_text())
    targets = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = _names("\n".join(expressions)) | _names("\n".join(targets))
    assert len(used) >= 8
    world.service.board.register("spool", "every 60 s")  # labelled families need a child
    missing = {name for name in used if name not in _exported(world)}
    assert not missing, f"named in docs/ but not exported: {sorted(missing)}"


def test_job_names_the_rules_use_are_the_schedulers(world: World) -> None:
    """The stale-job rules name jobs by the names the scheduler gives them."""
    text = (DOCS / "prometheus" / "vahti-alerts.yml").read_text()
    named = set(re.findall(r'job="([a-z]+)"', text)) - {"vahti"}
    scheduler = Path(ROOT / "vahti" / "service.py").read_text()
    for job in named:
        assert f'"{job}"' in scheduler, job
