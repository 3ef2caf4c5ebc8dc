"""What every command line does the same way: --version, --json on listings, filters, flags
shown as flags, times with their zone, counts that add up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Loghub excerpt, ingested and detected once for the module."""
    from tests.conftest import LOGHUB

    db = tmp_path_factory.mktemp("conventions") / "v.duckdb"
    assert run_cli("ingest", str(LOGHUB), "--year", "2016", "--db", str(db)).returncode == 0
    result = run_cli("detect", "--json", "--db", str(db))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["new"] > 0 and {r["rule"] for r in report["rules"]} >= {"source_failures"}
    return db


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("vahti ")


def test_flags_are_shown_as_flags() -> None:
    text = run_cli("alerts", "--help").stdout
    assert "--json" in text and "<bool>" not in text
    assert "<str>" in text  # options with a value still say what it is


def test_alert_filters(detected: Path) -> None:
    def ids(*args: str) -> list[dict]:
        result = run_cli("alerts", "--json", "--db", str(detected), *args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    every = ids()
    assert len(every) > 3
    severities = {a["severity"] for a in every}
    for severity in ("low", "medium", "high", "critical"):
        chosen = ids("--severity", severity)
        assert all(a["severity"] == severity for a in chosen)
        assert bool(chosen) == (severity in severities)
    one = every[0]["entity"]
    assert {a["entity"] for a in ids("--entity", one)} == {one}
    latest = max(a["last_seen"] for a in every)
    recent = ids("--since", latest)
    assert recent and all(a["last_seen"] >= latest for a in recent)
    assert ids("--since", "2017-01-01") == []
    bad = run_cli("alerts", "--severity", "urgent", "--db", str(detected))
    assert bad.returncode == 2 and "unknown severity" in bad.stderr


def test_times_carry_their_zone(detected: Path) -> None:
    table = run_cli("alerts", "--db", str(detected)).stdout
    assert "2016-12-10T" in table and "Z" in table


def test_stats_add_up_and_say_files(detected: Path) -> None:
    figures = json.loads(run_cli("stats", "--json", "--db", str(detected)).stdout)
    assert figures["failures"] + figures["successes"] + figures["other_events"] == figures["events"]
    assert figures["other_kinds"] == {"probe": 20}
    assert (figures["sources"], figures["files"], figures["pushed_batches"]) == (1, 1, 0)
    text = run_cli("stats", "--db", str(detected)).stdout
    assert "files: 1" in text and "other events: 20 (20 probe)" in text
    assert "sources" not in text
