"""The synthetic month's labelled attacks, found by the real pipeline: recall and precision."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.pipeline import IngestOptions
from store import open_store
from store.alerts import list_alerts
from vahti.demo import write_demo_files
from vahti.detection_cli import detect
from vahti.ingesting import run_ingest
from vahti.scoring import matches, score
from vahti.settings import load_settings


@pytest.mark.parametrize("seed", [7, 11, 23])
def test_every_attack_found_few_false_alarms(tmp_path: Path, seed: int) -> None:
    settings = load_settings(None)
    events, labels = write_demo_files(tmp_path, days=30, seed=seed)
    with open_store(tmp_path / "v.duckdb") as store:
        run_ingest(store, settings, [events], IngestOptions(format="jsonl"))
        detect(store, settings)
        alerts = list_alerts(store.con)
    scores = score(alerts, labels)
    missed = {s.category: s.labels - s.found for s in scores if s.found < s.labels}
    assert missed == {}, [a.summary for a in alerts]
    true_alerts = sum(s.true_alerts for s in scores)
    total = sum(s.alerts for s in scores)
    false_alarms = [a.summary for a in alerts if not any(matches(a, label) for label in labels)]
    assert true_alerts / total >= 0.9, false_alarms
