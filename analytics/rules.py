"""Rules are data: one YAML file per rule in rules/, validated here, each with its own cases."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from analytics.categories import CATEGORIES, ENTITY_OF, Category
from analytics.detectors import DETECTORS
from analytics.detectors.common import Duration, Params, duration
from analytics.familiarity import FamiliarityModel

__all__ = ["CATEGORIES", "ENTITY_OF", "Case", "Rule", "RuleError", "load_rules"]
CASE_START = datetime(2026, 10, 1, tzinfo=UTC)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Exceptions(Strict):
    cidrs: tuple[str, ...] = ()
    users: tuple[str, ...] = ()


class Case(Strict):
    """Events that must raise the rule's alert (`expect: alert`) or must not (`none`).

    An event may say `repeat: N` with `every: 30s`; `{i}` in its texts counts 0..N-1; `at`
    is an offset from the case start (2026-10-01T00:00:00Z) or `ts` an RFC 3339 time.
    """

    name: str
    expect: Literal["alert", "none"]
    entity: str | None = None  # with `alert`: the entity the alert must name
    category: Category | None = None  # with `alert`: the label that alert must carry
    severity: Literal["low", "medium", "high", "critical"] | None = None
    events: list[dict[str, Any]] = Field(min_length=1)


class Rule(Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    description: str
    category: Category
    severity: Literal["low", "medium", "high", "critical"]
    mitre: tuple[str, ...] = Field(min_length=1)
    detector: str
    params: dict[str, Any] = {}
    enabled: bool = True
    lookback: Duration
    suppress: Duration = timedelta(hours=1)
    exceptions: Exceptions = Exceptions()
    false_positives: str
    tests: tuple[Case, ...]

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if self.detector not in DETECTORS:
            raise ValueError(f"unknown detector {self.detector!r}: one of {', '.join(DETECTORS)}")
        self.detector_params()
        for technique in self.mitre:
            if not re.fullmatch(r"T\d{4}(\.\d{3})?", technique):
                raise ValueError(f"not an ATT&CK technique id: {technique!r}")
        expected = {case.expect for case in self.tests}
        if expected != {"alert", "none"}:
            raise ValueError("tests need at least one case that must alert and one that must not")
        return self

    def detector_params(self) -> Params:
        return DETECTORS[self.detector].params.model_validate(self.params)

    @property
    def entity_type(self) -> str:
        return ENTITY_OF[self.category]

    def categories(self) -> set[str]:
        """Every category the rule's alerts may carry (a labelling detector names several)."""
        labels = getattr(self.detector_params(), "categories", None)
        return {self.category, *(labels() if labels else ())}


@dataclass(frozen=True)
class RuleError:
    file: str
    message: str


def default_rules_dir() -> Path:
    return Path(str(resources.files("rules")))


MODEL_FILE = "familiarity.yaml"  # the familiarity model beside the rules, not a rule


def load_model(folder: Path) -> FamiliarityModel:
    """The familiarity model of the folder, or the shipped one if the folder has none."""
    path = folder / MODEL_FILE
    if not path.exists():
        path = default_rules_dir() / MODEL_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return FamiliarityModel.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"{path.name}: {_message(exc)}") from exc


def load_rules(folder: Path) -> tuple[list[Rule], list[RuleError]]:
    """Every `*.yaml` in the folder; a broken file is reported by name, the rest still load."""
    rules: list[Rule] = []
    errors: list[RuleError] = []
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name == MODEL_FILE:
            continue
        try:
            rule = _load(path)
        except (OSError, yaml.YAMLError, ValidationError, ValueError) as exc:
            errors.append(RuleError(path.name, _message(exc)))
            continue
        if rule.id in seen:
            errors.append(
                RuleError(path.name, f"rule id {rule.id!r} already used by {seen[rule.id]}")
            )
            continue
        seen[rule.id] = path.name
        rules.append(rule)
    return rules, errors


def _load(path: Path) -> Rule:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("a rule file holds one mapping (id, name, category, ...)")
    rule = Rule.model_validate(data)
    if rule.id != path.stem:
        raise ValueError(f"rule id {rule.id!r} does not match the file name {path.name}")
    return rule


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'rule'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)


def expand_case(case: Case) -> list[dict[str, Any]]:
    """A case's shorthand events -> canonical events (dicts, `ts` as RFC 3339)."""
    events: list[dict[str, Any]] = []
    for spec in case.events:
        spec = dict(spec)  # noqa: PLW2901
        count = int(spec.pop("repeat", 1))
        every = duration(spec.pop("every", "0s"))
        start = _start(spec)
        for i in range(count):
            event = {
                key: value.replace("{i}", str(i)) if isinstance(value, str) else value
                for key, value in spec.items()
            }
            event["ts"] = (start + i * every).isoformat().replace("+00:00", "Z")
            events.append(event)
    return events


def _start(spec: dict[str, Any]) -> datetime:
    if "at" in spec:
        return CASE_START + duration(spec.pop("at"))
    if "ts" in spec:
        return datetime.fromisoformat(str(spec.pop("ts")).replace("Z", "+00:00"))
    return CASE_START
