"""`vahti rules`: the analyst's tools for rules/ (list, validate, test, explain), and the
one place that loads the rules for detection (a broken file stops it, loudly)."""

from __future__ import annotations

import datetime
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
import polars as pl
import typer
from rich.table import Table

from analytics.cases import CaseResult, check_case
from analytics.rules import MODEL_FILE, Case, Rule, RuleError, default_rules_dir, expand_case
from analytics.rules import load_rules as load_folder
from analytics.run import run_detection
from ingest.context import ParseContext
from ingest.enrich import Enricher
from ingest.records import parse_records
from store import Store, open_store
from store.alerts import list_alerts
from vahti.ingesting import ingest_options, open_enricher, run_ingest
from vahti.settings import Settings, load_settings
from vahti.shell import BrokenRules, ConfigOption, UsageError, failures, out, say, utc_text

rules_app = typer.Typer(help="The rules in rules/: list, validate, test their cases, explain.")


def rules_folder(settings: Settings) -> Path:
    folder = (
        Path(settings.detection.rules_dir) if settings.detection.rules_dir else default_rules_dir()
    )
    if not folder.is_dir():
        raise UsageError(f"rules folder {folder} does not exist (detection.rules_dir)")
    return folder


def rules_of(settings: Settings) -> list[Rule]:
    """The rules detection runs. A file that does not load stops it, naming the file and
    the problem, unless `detection.skip_broken` (`--skip-broken`) says to run the others:
    detection that silently loses a rule under cron is worse than none that says why."""
    rules, errors = load_folder(rules_folder(settings))
    if errors and not settings.detection.skip_broken:
        named = "; ".join(f"{e.file}: {e.message}" for e in errors)
        raise BrokenRules(
            f"{len(errors)} rule file(s) do not load, so no rule runs: {named} "
            "(fix them, or run with --skip-broken to run the others)"
        )
    for error in errors:
        say(f"vahti: rule file {error.file} skipped: {error.message}", error=True)
    return rules


def skipping_broken(settings: Settings, skip: bool) -> Settings:
    if not skip:
        return settings
    detection = settings.detection.model_copy(update={"skip_broken": True})
    return settings.model_copy(update={"detection": detection})


SkipBrokenOption = Annotated[
    bool,
    typer.Option("--skip-broken", help="run the rules that load when some rule file does not"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


@rules_app.command("list")
def list_command(as_json: JsonOption = False, config: ConfigOption = None) -> None:
    """Every rule of the rules folder: what it finds, how, over what time, how many cases."""
    with failures():
        settings = load_settings(config)
        rules, errors = load_folder(rules_folder(settings))
        rows = [_summary(rule) for rule in rules]
        if as_json:
            _print_json({"rules": rows, "errors": [e.__dict__ for e in errors]})
            return
        table = Table(title=f"rules in {rules_folder(settings)}")
        table_columns = ("id", "category", "severity", "detector", "enabled", "lookback", "cases")
        for name in table_columns:
            table.add_column(name)
        for row in rows:
            shown = {**row, "enabled": "yes" if row["enabled"] else "no"}
            table.add_row(*(str(shown[k]) for k in table_columns))
        out.print(table)
        for error in errors:
            say(f"vahti: {error.file} does not load: {error.message}", error=True)


def _summary(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "category": rule.category,
        "categories": sorted(rule.categories()),
        "severity": rule.severity,
        "mitre": list(rule.mitre),
        "detector": rule.detector,
        "enabled": rule.enabled,
        "lookback": _duration(rule.lookback),
        "suppress": _duration(rule.suppress),
        "cases": len(rule.tests),
    }


def _duration(value: datetime.timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@rules_app.command("validate")
def validate_command(
    path: Annotated[
        Path | None, typer.Argument(help="a rule file or a folder (default: the rules folder)")
    ] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Check rule files (schema, durations, unknown keys, detector parameters, cases):
    each problem named; exit 2 when any file does not load."""
    with failures():
        settings = load_settings(config)
        target = path or rules_folder(settings)
        rules, errors = _load_path(target)
        if as_json:
            _print_json({"valid": [r.id for r in rules], "errors": [e.__dict__ for e in errors]})
        else:
            for rule in rules:
                say(f"ok      {rule.id}: {len(rule.tests)} cases")
            for error in errors:
                say(f"broken  {error.file}: {error.message}")
        if errors:
            raise typer.Exit(2)


def _load_path(target: Path) -> tuple[list[Rule], list[RuleError]]:
    if target.is_dir():
        return load_folder(target)
    if not target.is_file():
        raise UsageError(f"{target}: no such rule file or folder")
    if target.suffix != ".yaml" or target.name == MODEL_FILE:
        raise UsageError(f"{target}: a rule file is a .yaml file other than {MODEL_FILE}")
    with tempfile.TemporaryDirectory() as name:
        (Path(name) / target.name).write_bytes(target.read_bytes())
        return load_folder(Path(name))


@dataclass(frozen=True)
class RuleRun:
    rule: str
    results: list[CaseResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def case_events(case: Case, enricher: Enricher) -> pl.DataFrame:
    """A case's events as the detection run reads them: parsed, checked, enriched, with ids."""
    context = ParseContext(format="jsonl", mtime=datetime.datetime(2026, 11, 1))
    events, rejected = parse_records(expand_case(case), enricher, context)
    if rejected.height:
        problems = "; ".join(
            f"event {n}: {r}" for n, r in rejected.select("line_no", "reason").rows()
        )
        raise UsageError(f"case {case.name!r} has events that do not load: {problems}")
    return events.with_columns(event_id=pl.int_range(1, events.height + 1, dtype=pl.Int64))


def run_cases(rules: list[Rule], enricher: Enricher) -> list[RuleRun]:
    return [
        RuleRun(rule.id, [check_case(rule, c, case_events(c, enricher)) for c in rule.tests])
        for rule in rules
    ]


@rules_app.command("test")
def test_command(
    rule_id: Annotated[str | None, typer.Argument(metavar="RULE", help="one rule's id")] = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Run the rules' own cases (events that must alert, events that must not): each case
    passed or failed, with what the rule found; exit 1 when any case fails."""
    with failures():
        settings = load_settings(config)
        rules = _chosen(rules_of(skipping_broken(settings, True)), rule_id)
        enricher = open_enricher(settings)
        try:
            runs = run_cases(rules, enricher)
        finally:
            enricher.close()
        if as_json:
            _print_json([
                {"rule": run.rule, "passed": run.passed,
                 "cases": [{"case": r.case, "passed": r.passed, "detail": r.detail}
                           for r in run.results]}
                for run in runs
            ])  # fmt: skip
        else:
            for run in runs:
                for result in run.results:
                    mark = "pass" if result.passed else "FAIL"
                    say(f"{mark}  {run.rule}: {result.case}: {result.detail}")
            cases = sum(len(run.results) for run in runs)
            failed = sum(not r.passed for run in runs for r in run.results)
            say(f"{len(runs)} rules, {cases} cases, {failed} failed")
        if not all(run.passed for run in runs):
            raise typer.Exit(1)


def _chosen(rules: list[Rule], rule_id: str | None) -> list[Rule]:
    if rule_id is None:
        return rules
    chosen = [rule for rule in rules if rule.id == rule_id]
    if not chosen:
        raise UsageError(f"no rule {rule_id!r}: one of {', '.join(r.id for r in rules)}")
    return chosen


@rules_app.command("explain")
def explain_command(
    files: Annotated[list[Path], typer.Argument(help="log files to run the rule over")],
    rule_id: Annotated[str, typer.Option("--rule", help="the rule's id")],
    fmt: Annotated[str, typer.Option("--format", help="auto, jsonl, csv, sshd or access")] = "auto",
    year: Annotated[int | None, typer.Option(help="syslog: year of the first line")] = None,
    tz: Annotated[str | None, typer.Option(help="syslog: time zone of the stamps")] = None,
    evidence: Annotated[int, typer.Option(help="evidence lines shown per finding", min=0)] = 20,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Run one rule over log files without storing them (as `fail2ban-regex` or `cscli
    explain` would): which findings it raises, and which events (file lines) made each."""
    with failures():
        settings = load_settings(config)
        (rule,) = _chosen(rules_of(skipping_broken(settings, True)), rule_id)
        options = ingest_options(settings, fmt, year, tz)
        with (
            tempfile.TemporaryDirectory() as name,
            open_store(Path(name) / "explain.duckdb") as store,
        ):
            reports = run_ingest(store, settings, files, options)
            run_detection(store, [rule.model_copy(update={"enabled": True})])
            lines = _FileLines()
            found = [
                {**_alert_json(a), "evidence": lines.of(_evidence(store, a.alert_id, evidence))}
                for a in list_alerts(store.con)
            ]
        read = {"lines": sum(r.read for r in reports), "events": sum(r.loaded for r in reports),
                "quarantined": sum(r.quarantined for r in reports)}  # fmt: skip
        if as_json:
            _print_json({"rule": rule.id, "read": read, "findings": found})
            return
        say(f"{rule.id} over {read['lines']} lines ({read['events']} events, "
            f"{read['quarantined']} quarantined): {len(found)} findings")  # fmt: skip
        for finding in found:
            say(f"\n{finding['severity']} {finding['category']} {finding['entity_type']} "
                f"{finding['entity']}: {finding['summary']}")  # fmt: skip
            for row in finding["evidence"]:
                say(f"  {Path(row['file']).name}:{row['line_no']}: {row['line']}")
            hidden = finding["event_count"] - len(finding["evidence"])
            if hidden > 0:
                say(f"  ... and {hidden} more events")


def _evidence(store: Store, alert_id: str, limit: int) -> list[dict[str, Any]]:
    """The alert's events with the file and line each came from."""
    cursor = store.con.execute(
        """SELECT s.path AS file, e.line_no, e.ts, e.event, e.outcome, e."user", e.ip, e.host,
                  e.reason
           FROM evidence v JOIN events e USING (event_id) JOIN sources s USING (source_id)
           WHERE v.alert_id = ? ORDER BY e.ts, e.event_id LIMIT ?""",
        [alert_id, limit],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class _FileLines:
    """The text of evidence lines, read from their files (a file once)."""

    def __init__(self) -> None:
        self._files: dict[str, list[str]] = {}

    def of(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            if row["file"] not in self._files:
                text = Path(row["file"]).read_text(encoding="utf-8", errors="replace")
                self._files[row["file"]] = text.splitlines()
            lines = self._files[row["file"]]
            row["line"] = lines[row["line_no"] - 1] if row["line_no"] <= len(lines) else ""
        return rows


def _alert_json(alert: Any) -> dict[str, Any]:
    return {
        "entity_type": alert.entity_type,
        "entity": alert.entity,
        "category": alert.category,
        "severity": alert.severity,
        "first_seen": utc_text(alert.first_seen),
        "last_seen": utc_text(alert.last_seen),
        "event_count": alert.event_count,
        "summary": alert.summary,
    }
