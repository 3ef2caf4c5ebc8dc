"""How well detection finds the labelled attacks of the synthetic data (demo and tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from store.alerts import Alert
from vahti.synth import Label

SLACK = timedelta(hours=1)


@dataclass(frozen=True)
class CategoryScore:
    category: str
    labels: int
    found: int  # labels matched by an alert
    alerts: int
    true_alerts: int  # alerts matching a label

    @property
    def recall(self) -> float:
        return self.found / self.labels if self.labels else 1.0

    @property
    def precision(self) -> float:
        return self.true_alerts / self.alerts if self.alerts else 1.0


def matches(alert: Alert, label: Label) -> bool:
    return (
        alert.category == label.category
        and alert.entity == label.entity
        and alert.first_seen - SLACK <= label.end.replace(tzinfo=None)
        and label.start.replace(tzinfo=None) <= alert.last_seen + SLACK
    )


def score(alerts: list[Alert], labels: list[Label]) -> list[CategoryScore]:
    categories = sorted({label.category for label in labels} | {a.category for a in alerts})
    scores = []
    for category in categories:
        mine = [a for a in alerts if a.category == category]
        wanted = [label for label in labels if label.category == category]
        scores.append(
            CategoryScore(
                category=category,
                labels=len(wanted),
                found=sum(any(matches(a, label) for a in mine) for label in wanted),
                alerts=len(mine),
                true_alerts=sum(any(matches(a, label) for label in wanted) for a in mine),
            )
        )
    return scores
