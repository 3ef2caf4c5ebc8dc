"""Labels, alerts and the matching of one to the other.

An alert matches a label when the categories are equal, the spans overlap within an hour
of slack, and the entities agree: equal (ip, user, session; an IPv6 address inside a /64
counts as that /64), or for a campaign label, an alert of entity type campaign whose
members cover at least half of the label's members with at least 80 % of its own members
in the label. An ip alert of the label's category naming one of a campaign's members is a
partial match: reported, tolerated, not a campaign found.

Per category: precision = alerts matching a required label / (those + alerts matching no
label); alerts matching only optional labels (or partially) are left out of both.
Recall = required labels found / required labels.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

CATEGORIES = (
    "brute_force",
    "password_spraying",
    "credential_stuffing",
    "distributed_brute_force",
    "success_after_failures",
    "impossible_travel",
    "new_country",
    "session_hijack",
    "account_enumeration",
    "dormant_account",
)
SEVERITIES = ("info", "low", "medium", "high", "critical")
SLACK = timedelta(hours=1)
COVER, PURITY = 0.5, 0.8


@dataclass(frozen=True)
class Label:
    category: str
    entity_type: str  # ip, user, session, campaign
    entity: str
    start: datetime
    end: datetime
    required: bool = True
    scenario: str = ""
    summary: str = ""
    members: tuple[str, ...] = ()
    max_severity: str | None = None  # an optional label tolerating only alerts up to this

    def as_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "entity_type": self.entity_type,
            "entity": self.entity,
            "members": list(self.members),
            "start": rfc3339(self.start),
            "end": rfc3339(self.end),
            "required": self.required,
            "scenario": self.scenario,
            "summary": self.summary,
            "max_severity": self.max_severity,
        }

    @staticmethod
    def from_json(body: dict[str, Any]) -> Label:
        return Label(
            body["category"], body["entity_type"], body["entity"], parse_time(body["start"]),
            parse_time(body["end"]), body["required"], body.get("scenario", ""),
            body.get("summary", ""), tuple(body.get("members") or ()), body.get("max_severity"),
        )  # fmt: skip


@dataclass(frozen=True)
class Alert:
    id: str
    rule_id: str
    category: str
    severity: str
    entity_type: str
    entity: str
    first_seen: datetime
    last_seen: datetime
    event_count: int
    summary: str
    members: tuple[str, ...] = ()
    risk: float | None = None

    @staticmethod
    def from_json(body: dict[str, Any]) -> Alert:
        members = tuple(
            str(m.get("value")) if isinstance(m, dict) else str(m)
            for m in (body.get("members") or ())
        )
        return Alert(
            str(body.get("id")), str(body.get("rule_id")), str(body.get("category")),
            str(body.get("severity")), str(body.get("entity_type")), str(body.get("entity")),
            parse_time(body["first_seen"]), parse_time(body["last_seen"]),
            int(body.get("event_count") or 0), str(body.get("summary") or ""), members,
            body.get("risk"),
        )  # fmt: skip


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- entities -------------------------------------------------------------------------

Source = (
    ipaddress.IPv4Address
    | ipaddress.IPv6Address
    | ipaddress.IPv4Network
    | ipaddress.IPv6Network
    | str
)


def source(text: str) -> Source:
    """An address, a network, or a host name (lower case)."""
    text = text.strip()
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return text.lower()
    if net.num_addresses == 1:
        return net.network_address
    return net


def same_source(label: str, alert: str) -> bool:
    a, b = source(label), source(alert)
    if a == b:
        return True
    if isinstance(a, ipaddress.IPv6Network) and isinstance(b, ipaddress.IPv6Address):
        return b in a
    if isinstance(b, ipaddress.IPv6Network) and isinstance(a, ipaddress.IPv6Address):
        return b.prefixlen >= 48 and a in b
    return False


def in_members(members: Iterable[str], entity: str) -> bool:
    return any(same_source(m, entity) for m in members)


def overlaps(label: Label, alert: Alert) -> bool:
    return alert.first_seen <= label.end + SLACK and alert.last_seen >= label.start - SLACK


def campaign_match(label: Label, alert: Alert) -> bool:
    if not alert.members or not label.members:
        return False
    covered = sum(in_members(alert.members, m) for m in label.members)
    inside = sum(in_members(label.members, m) for m in alert.members)
    return covered / len(label.members) >= COVER and inside / len(alert.members) >= PURITY


def severity_ok(label: Label, alert: Alert) -> bool:
    if label.max_severity is None:
        return True
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return rank.get(alert.severity, len(SEVERITIES)) <= rank[label.max_severity]


def matches(label: Label, alert: Alert) -> str | None:
    """'full', 'partial' or None."""
    if label.category != alert.category or not overlaps(label, alert):
        return None
    if not severity_ok(label, alert):
        return None
    if label.entity_type == "campaign":
        if alert.entity_type == "campaign":
            return "full" if campaign_match(label, alert) else None
        if alert.entity_type == "ip" and in_members(label.members, alert.entity):
            return "partial"
        return None
    if alert.entity_type != label.entity_type:
        return None
    if label.entity_type == "ip":
        return "full" if same_source(label.entity, alert.entity) else None
    return "full" if label.entity == alert.entity else None


# --- scoring --------------------------------------------------------------------------


@dataclass
class CategoryScore:
    required: int = 0
    found: int = 0
    alerts: int = 0
    true_positives: int = 0
    false_positives: int = 0
    tolerated: int = 0
    partial: int = 0

    @property
    def precision(self) -> float | None:
        counted = self.true_positives + self.false_positives
        return self.true_positives / counted if counted else None

    @property
    def recall(self) -> float | None:
        return self.found / self.required if self.required else None

    def add(self, other: CategoryScore) -> None:
        for name in ("required", "found", "alerts", "true_positives", "false_positives", "tolerated", "partial"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_json(self) -> dict[str, Any]:
        return {
            "required": self.required,
            "found": self.found,
            "alerts": self.alerts,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "tolerated": self.tolerated,
            "partial": self.partial,
            "precision": self.precision,
            "recall": self.recall,
        }


@dataclass
class Score:
    categories: dict[str, CategoryScore] = field(
        default_factory=lambda: {c: CategoryScore() for c in CATEGORIES}
    )
    false_positives: list[Alert] = field(default_factory=list)
    missed: list[Label] = field(default_factory=list)
    partial: list[tuple[Alert, Label]] = field(default_factory=list)
    other_categories: list[Alert] = field(default_factory=list)

    def category(self, name: str) -> CategoryScore:
        if name not in self.categories:
            self.categories[name] = CategoryScore()
        return self.categories[name]

    @property
    def overall(self) -> CategoryScore:
        total = CategoryScore()
        for item in self.categories.values():
            total.add(item)
        return total

    def add(self, other: Score) -> None:
        for name, item in other.categories.items():
            self.category(name).add(item)
        self.false_positives += other.false_positives
        self.missed += other.missed
        self.partial += other.partial


def score(alerts: list[Alert], labels: list[Label]) -> Score:
    result = Score()
    found: set[int] = set()
    for label in labels:
        if label.required:
            result.category(label.category).required += 1
    for alert in alerts:
        item = result.category(alert.category)
        item.alerts += 1
        full_required = [
            i
            for i, label in enumerate(labels)
            if label.required and matches(label, alert) == "full"
        ]
        if full_required:
            item.true_positives += 1
            found.update(full_required)
            continue
        if any(not label.required and matches(label, alert) == "full" for label in labels):
            item.tolerated += 1
            continue
        partial = [label for label in labels if matches(label, alert) == "partial"]
        if partial:
            item.partial += 1
            result.partial.append((alert, partial[0]))
            continue
        item.false_positives += 1
        result.false_positives.append(alert)
    for i, label in enumerate(labels):
        if label.required:
            if i in found:
                result.category(label.category).found += 1
            else:
                result.missed.append(label)
    return result
