"""Running a rule's own test cases against its detector."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from analytics.detectors import DETECTORS
from analytics.detectors.common import RISK_COLUMNS
from analytics.familiarity import FamiliarityModel
from analytics.rules import Case, Rule, default_rules_dir, load_model
from analytics.scoring import compute_scores


@dataclass(frozen=True)
class CaseResult:
    rule: str
    case: str
    passed: bool
    detail: str


def check_case(rule: Rule, case: Case, events: pl.DataFrame) -> CaseResult:
    """`events`: the case's events, enriched, with event ids."""
    findings = labelled(run_on_frame(rule, events), rule)
    entities = findings["entity"].to_list()
    if case.expect == "none":
        passed = not entities
        detail = "no alert" if passed else f"alerted on {entities}: {findings['summary'].to_list()}"
        return CaseResult(rule.id, case.name, passed, detail)
    mine = findings if case.entity is None else findings.filter(pl.col("entity") == case.entity)
    for column in ("category", "severity"):
        wanted = getattr(case, column)
        if wanted is not None:
            mine = mine.filter(pl.col(column) == wanted)
    passed = mine.height > 0
    expected = ", ".join(
        f"{name} {getattr(case, name)}"
        for name in ("entity", "category", "severity")
        if getattr(case, name) is not None
    )
    got = findings.select("entity", "category", "severity", "summary").rows()
    detail = f"found {got}" + (f", expected {expected}" if expected else "")
    return CaseResult(rule.id, case.name, passed, detail)


def run_on_frame(rule: Rule, events: pl.DataFrame) -> pl.DataFrame:
    """The rule's detector over a frame of events, as the detection run hands them to it:
    filtered as its reads say, with its context computed by DuckDB where it asks for one."""
    params = rule.detector_params()
    reads = params.reads()
    detector = DETECTORS[rule.detector]
    if set(reads.columns) & set(RISK_COLUMNS):
        events = with_risk(events, load_model(default_rules_dir()))
    if reads.context is None:
        return detector.run(events, params)
    scope = events
    for column, allowed in reads.equals:
        scope = scope.filter(pl.col(column).is_in(list(allowed)))
    with duckdb.connect() as con:
        con.register("scope", scope.to_arrow())
        context = pl.from_arrow(con.sql(reads.context).to_arrow_table())
    assert isinstance(context, pl.DataFrame)
    if reads.spans is not None:
        spans = reads.spans(context)
        inside = pl.lit(False)
        for start, end in spans.select("start", "end").iter_rows():
            inside |= pl.col("ts").is_between(start, end)
        scope = scope.filter(inside)
    return detector.run(scope, params, context)


def with_risk(events: pl.DataFrame, model: FamiliarityModel) -> pl.DataFrame:
    """The events with their familiarity scores, as the detection run stores them."""
    with duckdb.connect() as con:
        con.register("events", events.to_arrow())
        scores = compute_scores(con, model, seen=0)
    if scores is None:
        scores = pl.DataFrame(
            schema={"event_id": pl.Int64, "risk": pl.Float64, "learning": pl.Boolean,
                    "reasons": pl.List(pl.String)}
        )  # fmt: skip
    return events.join(
        scores.select("event_id", "risk", "learning", risk_reasons="reasons"),
        on="event_id",
        how="left",
    )


def labelled(findings: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    """Findings with the rule's category, severity and entity type where the detector left
    them open."""
    return findings.with_columns(
        category=pl.col("category").fill_null(rule.category),
        severity=pl.col("severity").fill_null(rule.severity),
        entity_type=pl.col("entity_type").fill_null(rule.entity_type),
    )
