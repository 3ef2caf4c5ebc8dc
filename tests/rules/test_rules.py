"""Every rule's own cases (events that must alert, events that must not), and the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.cases import check_case
from analytics.rules import (
    CATEGORIES,
    MODEL_FILE,
    Case,
    Rule,
    default_rules_dir,
    load_model,
    load_rules,
)
from ingest.enrich import Enricher
from vahti.rules_cli import case_events

RULES, ERRORS = load_rules(default_rules_dir())
CASES = [(rule, case) for rule in RULES for case in rule.tests]


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.open("", "", ())


@pytest.mark.parametrize(("rule", "case"), CASES, ids=[f"{r.id}: {c.name}" for r, c in CASES])
def test_rule_case(rule: Rule, case: Case, enricher: Enricher) -> None:
    result = check_case(rule, case, case_events(case, enricher))
    assert result.passed, result.detail


def test_corpus_is_valid() -> None:
    assert ERRORS == []
    files = sorted(p.stem for p in default_rules_dir().glob("*.yaml") if p.name != MODEL_FILE)
    assert sorted(r.id for r in RULES) == files
    assert set().union(*(r.categories() for r in RULES)) == set(CATEGORIES)


def test_familiarity_model_loads_and_names_bad_levels(tmp_path: Path) -> None:
    model = load_model(default_rules_dir())
    assert model.learning.logins == 10 and model.learning.days == 14
    text = (default_rules_dir() / MODEL_FILE).read_text().replace("country: 0.4", "planet: 0.4")
    (tmp_path / MODEL_FILE).write_text(text)
    with pytest.raises(ValueError, match="unknown levels"):
        load_model(tmp_path)


def test_broken_rule_is_named_and_others_load(tmp_path: Path) -> None:
    for path in default_rules_dir().glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "source_failures.yaml").write_text("id: source_failures\nname: [unclosed\n")
    (tmp_path / "odd.yaml").write_text((default_rules_dir() / "dormant_account.yaml").read_text())
    rules, errors = load_rules(tmp_path)
    assert {e.file for e in errors} == {"source_failures.yaml", "odd.yaml"}
    assert "does not match the file name" in next(e.message for e in errors if e.file == "odd.yaml")
    assert len(rules) == len(RULES) - 1
