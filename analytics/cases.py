"""Running a rule's own test cases against its detector."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from analytics.detectors import DETECTORS
from analytics.rules import Case, Rule


@dataclass(frozen=True)
class CaseResult:
    rule: str
    case: str
    passed: bool
    detail: str


def check_case(rule: Rule, case: Case, events: pl.DataFrame) -> CaseResult:
    """`events`: the case's events, enriched, with event ids."""
    findings = labelled(DETECTORS[rule.detector].run(events, rule.detector_params()), rule)
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


def labelled(findings: pl.DataFrame, rule: Rule) -> pl.DataFrame:
    """Findings with the rule's category, severity and entity type where the detector left
    them open."""
    return findings.with_columns(
        category=pl.col("category").fill_null(rule.category),
        severity=pl.col("severity").fill_null(rule.severity),
        entity_type=pl.col("entity_type").fill_null(rule.entity_type),
    )
