"""Request and response bodies: what the OpenAPI schema promises, field by field."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Status = Literal["open", "acknowledged", "closed", "false_positive"]
Severity = Literal["low", "medium", "high", "critical"]
Category = Literal[
    "brute_force", "password_spraying", "credential_stuffing", "distributed_brute_force",
    "success_after_failures", "impossible_travel", "new_country", "session_hijack",
    "account_enumeration", "dormant_account",
]  # fmt: skip
Role = Literal["analyst", "dpo", "liaison", "admin"]
# Not blank: a character that is no space, as Python's strip() sees it (it also strips the
# separators \x1c-\x1f, which the regex \S of the schema does not count as space).
NOT_BLANK = r"[^\s\x1c-\x1f]"


def one_of_required(*names: str, kind: str = "string") -> dict[str, Any]:
    """A body's schema: at least one of `names`, not empty (what the model's check asks)."""
    least = {"minItems": 1} if kind == "array" else {"minLength": 1}
    return {
        "anyOf": [
            {"required": [name], "properties": {name: {"type": kind, **least}}} for name in names
        ]
    }


class Problem(BaseModel):
    detail: Any


class Member(BaseModel):
    type: Literal["ip"]
    value: str


class AlertOut(BaseModel):
    id: str
    rule_id: str
    category: Category
    severity: Severity
    entity_type: Literal["ip", "user", "session", "campaign"]
    entity: str
    first_seen: str
    last_seen: str
    event_count: int
    summary: str
    status: Status
    mitre: list[str]
    assignee: str | None
    created_at: str
    updated_at: str
    members: list[Member] | None = Field(
        default=None, description="the sources of a campaign (entity_type campaign)"
    )
    risk: float | None = Field(
        default=None, ge=0, le=1, description="how unfamiliar the login was for the account"
    )
    reasons: list[str] | None = Field(
        default=None, description="the unfamiliar features, or what labelled the alert"
    )


class AlertPage(BaseModel):
    alerts: list[AlertOut]
    next: str | None = Field(description="cursor of the next page; null on the last page")


class EventOut(BaseModel):
    event_id: int
    ts: str
    event: str
    outcome: str | None
    user: str
    customer_id: str | None = None
    ip: str | None
    host: str | None
    user_agent: str | None
    session_id: str | None
    reason: str | None
    service: str | None = None
    country: str | None
    city: str | None
    lat: float | None = None
    lon: float | None = None
    asn: int | None = None
    as_org: str | None = None
    own_network: str | None = None
    risk: float | None = Field(
        default=None, description="how unfamiliar a successful login was for its account, 0..1"
    )
    risk_reasons: list[str] | None = Field(
        default=None, description="the unfamiliar features of the login and their weight"
    )


class HistoryEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    at: str
    actor: str


class AlertDetail(AlertOut):
    evidence: list[EventOut]
    evidence_total: int = Field(description="evidence events in all; `evidence` may hold fewer")
    history: list[HistoryEntry]


class AlertPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})
    status: Status | None = None
    assignee: str | None = Field(default=None, max_length=64)
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _something(self) -> AlertPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one of status, assignee, note")
        return self


class EventPage(BaseModel):
    events: list[EventOut]
    next: int | None = Field(description="pass as `after` for the next page; null at the end")


class Rejection(BaseModel):
    line_no: int = Field(description="position of the record in the batch, from 1")
    reason: str


class PushResult(BaseModel):
    batch_id: str
    received: int
    loaded: int
    skipped: int
    quarantined: int
    duplicate: bool = Field(description="true when this batch id was loaded before")
    rejected: list[Rejection]


_NAME = r"^[\w.@-]+$"


class TokenIn(BaseModel):
    """A token issued to a person (it has their role), or a service token with its role."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=one_of_required("person", "role"),
    )
    name: str = Field(min_length=1, max_length=64, pattern=_NAME)
    role: Role | None = None
    person: str | None = Field(default=None, min_length=1, max_length=64, pattern=_NAME)

    @model_validator(mode="after")
    def _role_or_person(self) -> TokenIn:
        if self.role is None and self.person is None:
            raise ValueError("a token needs its person or, for a service token, its role")
        return self


class TokenOut(BaseModel):
    id: int
    name: str
    role: Role
    person: str | None
    created_by: str | None
    created_at: str
    revoked_at: str | None


class PersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=_NAME)
    role: Role
    password: str = Field(min_length=12, max_length=1024)


class PersonOut(BaseModel):
    id: int
    name: str
    role: Role
    created_by: str | None
    created_at: str
    disabled_at: str | None


class PersonAdded(PersonOut):
    totp_uri: str = Field(description="shown once: the person's authenticator app scans it")


class TokenCreated(TokenOut):
    token: str = Field(description="shown once; only its hash is stored")


class JobOut(BaseModel):
    name: str
    schedule: str
    next_run: str | None
    last_run: str | None
    duration_seconds: float | None
    outcome: Literal["ok", "failed", "running", "never run"]
    message: str
    runs: int
    failures: int


class AuditEntryOut(BaseModel):
    seq: int
    logged_at: str
    actor: str
    action: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next: int | None


class ChainOut(BaseModel):
    ok: bool  # the chain holds, and holds against the latest signed checkpoint
    entries: int
    head_seq: int
    head_hash: str
    first_broken: int | None
    problem: str
    checkpoint_problems: list[str] = Field(
        default=[], description="truncation, rewrite, a moved start or a missing checkpoint"
    )
