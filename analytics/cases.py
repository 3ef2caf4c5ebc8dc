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
    findings = DETECTORS[rule.detector].run(events, rule.detector_params())
    entities = findings["entity"].to_list()
    if case.expect == "none":
        passed = not entities
        detail = "no alert" if passed else f"alerted on {entities}: {findings['summary'].to_list()}"
    elif case.entity is not None:
        passed = case.entity in entities
        detail = f"alerted on {entities}, expected {case.entity}"
    else:
        passed = bool(entities)
        detail = f"alerted on {entities}"
    return CaseResult(rule.id, case.name, passed, detail)
