"""`vahti rules` through the real command line, and detection that stops on a broken rule."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

from analytics.rules import default_rules_dir
from tests.conftest import ROOT, run_cli

HUB = ROOT.parent / "shared" / "data" / "crowdsec-hub"


def _rules_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), folder, ignore=shutil.ignore_patterns("*.py", "__*"))
    return folder


def _config(tmp_path: Path, folder: Path) -> Path:
    config = tmp_path / "vahti.toml"
    config.write_text(f'[detection]\nrules_dir = "{folder}"\n')
    return config


def test_list_names_every_rule() -> None:
    result = run_cli("rules", "list", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    shipped = {p.stem for p in default_rules_dir().glob("*.yaml")} - {"familiarity"}
    assert {r["id"] for r in listing["rules"]} == shipped
    source = next(r for r in listing["rules"] if r["id"] == "source_failures")
    assert source["lookback"] == "6h" and source["cases"] >= 10
    assert "password_spraying" in source["categories"]
    assert listing["errors"] == []


def test_validate_names_each_problem(tmp_path: Path) -> None:
    folder = _rules_copy(tmp_path)
    text = (folder / "session_hijack.yaml").read_text()
    (folder / "session_hijack.yaml").write_text(text.replace("lookback:", "look_back:"))
    text = (folder / "dormant_account.yaml").read_text()
    (folder / "dormant_account.yaml").write_text(text.replace("suppress: ", "suppress: 3 weeks #"))
    result = run_cli("rules", "validate", str(folder))
    assert result.returncode == 2
    assert "broken  session_hijack.yaml: lookback: Field required" in result.stdout
    assert "look_back: Extra inputs are not permitted" in result.stdout
    assert "broken  dormant_account.yaml: suppress:" in result.stdout
    assert "ok      source_failures" in result.stdout
    one = run_cli("rules", "validate", str(folder / "source_failures.yaml"), "--json")
    assert one.returncode == 0 and json.loads(one.stdout)["valid"] == ["source_failures"]


def test_test_runs_the_cases_and_fails_on_a_failing_one(tmp_path: Path) -> None:
    passed = run_cli("rules", "test", "success_after_failures")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 rules, 6 cases, 0 failed" in passed.stdout
    folder = _rules_copy(tmp_path)
    rule = folder / "source_failures.yaml"
    # A case that must not alert, made to alert: the rule's own test fails.
    rule.write_text(rule.read_text().replace("expect: none", "expect: alert", 1))
    config = str(_config(tmp_path, folder))
    failed = run_cli("rules", "test", "source_failures", "--json", "--config", config)
    assert failed.returncode == 1
    (report,) = json.loads(failed.stdout)
    assert report["rule"] == "source_failures" and not report["passed"]
    assert [c["passed"] for c in report["cases"]].count(False) == 1
    unknown = run_cli("rules", "test", "no_such_rule")
    assert unknown.returncode == 2 and "no rule 'no_such_rule'" in unknown.stderr


def test_explain_shows_which_lines_made_the_finding(tmp_path: Path) -> None:
    log = HUB / "ssh-bf" / "ssh-bf.log"
    result = run_cli(
        "rules", "explain", "--rule", "source_failures", str(log), "--year", "2026", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (finding,) = report["findings"]
    assert (finding["entity"], finding["event_count"]) == ("35.188.49.176", 6)
    assert [row["line_no"] for row in finding["evidence"]] == [1, 2, 3, 4, 5, 6]
    assert "Invalid user pascal from 35.188.49.176" in finding["evidence"][0]["line"]
    assert report["read"] == {"lines": 7, "events": 6, "quarantined": 0}
    assert list(tmp_path.iterdir()) == []  # nothing stored


def test_detect_stops_on_a_broken_rule_unless_told(tmp_path: Path, loghub: Path) -> None:
    folder = _rules_copy(tmp_path)
    (folder / "new_country.yaml").write_text("id: new_country\nname: [unclosed\n")
    config = str(_config(tmp_path, folder))
    db = str(tmp_path / "v.duckdb")
    assert run_cli("ingest", str(loghub), "--year", "2016", "--db", db).returncode == 0
    stopped = run_cli("detect", "--db", db, "--config", config)
    assert stopped.returncode == 1
    assert "new_country.yaml" in stopped.stderr and "no rule runs" in stopped.stderr
    assert "rules ran" not in stopped.stdout
    skipping = run_cli("detect", "--skip-broken", "--db", db, "--config", config)
    assert skipping.returncode == 0, skipping.stderr
    assert "rule file new_country.yaml skipped" in skipping.stderr
    assert "7 rules ran" in skipping.stdout


def test_serve_refuses_to_start_on_a_broken_rule(tmp_path: Path) -> None:
    folder = _rules_copy(tmp_path)
    (folder / "new_country.yaml").write_text("id: new_country\nlookback: soon\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_cli(
        "serve", "--port", str(port), "--db", str(tmp_path / "v.duckdb"),
        "--config", str(_config(tmp_path, folder)),
    )  # fmt: skip
    assert result.returncode == 1
    assert "new_country.yaml" in result.stderr
