"""Lawful extracts for authorities: a request with its legal basis and scope, approved by a
second person (four eyes) or refused; an approved production order yields a package of
exactly the events in scope, with a manifest of hashes; every package is a disclosure
recorded per data subject."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import orjson

from privacy.holds import HoldRequest, add_hold
from store.addresses import network_range
from store.audit import AuditTrail

ORDER_TYPES = ("production", "preservation")
# European Production Order: 10 days, 8 hours in an emergency (Regulation 2023/1543, art. 10).
ANSWER_WITHIN = {False: timedelta(days=10), True: timedelta(hours=8)}
PRESERVATION = timedelta(days=60)  # art. 11: 60 days, extendable by 30


class ExtractError(ValueError):
    """A request is incomplete or a step is not allowed; the message says why."""


@dataclass(frozen=True)
class Scope:
    users: tuple[str, ...] = ()
    customer_ids: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()  # addresses or CIDRs
    since: datetime | None = None
    until: datetime | None = None

    def check(self) -> None:
        if not (self.users or self.customer_ids or self.ips):
            raise ExtractError("an extract's scope names users, customer ids or addresses")
        if self.since and self.until and self.since >= self.until:
            raise ExtractError("the scope's from must be before its to")
        for ip in self.ips:
            try:
                network_range(ip)
            except ValueError as exc:
                raise ExtractError(str(exc)) from exc

    def as_json(self) -> dict[str, Any]:
        return {
            "users": list(self.users),
            "customer_ids": list(self.customer_ids),
            "ips": list(self.ips),
            "from": self.since.isoformat() + "Z" if self.since else None,
            "to": self.until.isoformat() + "Z" if self.until else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scope:
        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value.rstrip("Z")) if value else None

        return cls(
            tuple(data["users"]), tuple(data["customer_ids"]), tuple(data["ips"]),
            when(data["from"]), when(data["to"]),
        )  # fmt: skip

    def condition(self) -> tuple[str, list[Any]]:
        """SQL over `events e`: in scope. Names match exactly; addresses by range."""
        who: list[str] = []
        values: list[Any] = []
        if self.users:
            who.append(f'e."user" IN ({", ".join("?" * len(self.users))})')
            values += self.users
        if self.customer_ids:
            who.append(f"e.customer_id IN ({', '.join('?' * len(self.customer_ids))})")
            values += self.customer_ids
        for ip in self.ips:
            who.append("e.ip_bin BETWEEN ? AND ?")
            values += network_range(ip)
        clauses = ["(" + " OR ".join(who) + ")"]
        if self.since:
            clauses.append("e.ts >= ?")
            values.append(self.since)
        if self.until:
            clauses.append("e.ts < ?")
            values.append(self.until)
        return " AND ".join(clauses), values


@dataclass(frozen=True)
class ExtractRequest:
    authority: str
    legal_basis: str
    reference: str
    order_type: str
    scope: Scope
    emergency: bool = False
    deadline: datetime | None = None
    secrecy_until: datetime | None = None

    def check(self) -> None:
        for name in ("authority", "legal_basis", "reference"):
            if not getattr(self, name).strip():
                raise ExtractError(f"an extract request needs its {name.replace('_', ' ')}")
        if self.order_type not in ORDER_TYPES:
            raise ExtractError(f"order type: one of {', '.join(ORDER_TYPES)}")
        self.scope.check()


_COLUMNS = (
    "extract_id", "authority", "legal_basis", "order_type", "reference", "deadline",
    "emergency", "scope", "secrecy_until", "state", "requested_by", "requested_at",
    "decided_by", "decided_at", "refusal", "holds",
)  # fmt: skip


@dataclass
class Extract:
    extract_id: int
    authority: str
    legal_basis: str
    order_type: str
    reference: str
    deadline: datetime
    emergency: bool
    scope: Scope
    secrecy_until: datetime | None
    state: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    refusal: str | None
    holds: list[int] = field(default_factory=list)

    def as_json(self, now: datetime) -> dict[str, Any]:
        body: dict[str, Any] = {name: getattr(self, name) for name in _COLUMNS}
        body["id"] = body.pop("extract_id")
        body["scope"] = self.scope.as_json()
        for name in ("deadline", "secrecy_until", "requested_at", "decided_at"):
            body[name] = body[name].isoformat() + "Z" if body[name] else None
        body["due_in_hours"] = round((self.deadline - now).total_seconds() / 3600, 1)
        body["overdue"] = self.state == "requested" and self.deadline < now
        return body


def _row(row: tuple[Any, ...]) -> Extract:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["scope"] = Scope.from_json(orjson.loads(values["scope"]))
    values["holds"] = orjson.loads(values["holds"]) if values["holds"] else []
    return Extract(**values)


def get_extract(con: duckdb.DuckDBPyConnection, extract_id: int) -> Extract | None:
    rows = con.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM extracts WHERE extract_id = ?", [extract_id]
    ).fetchall()
    return _row(rows[0]) if rows else None


def list_extracts(con: duckdb.DuckDBPyConnection) -> list[Extract]:
    rows = con.execute(f"SELECT {', '.join(_COLUMNS)} FROM extracts ORDER BY extract_id").fetchall()
    return [_row(row) for row in rows]


def create_extract(
    con: duckdb.DuckDBPyConnection, request: ExtractRequest, actor: str, now: datetime,
    answerable: frozenset[str] = frozenset(),
) -> tuple[Extract, int]:  # fmt: skip
    """Record a request; returns it and how many events its scope matches now. `answerable`:
    who else could have made it (whoever made the requester's token or added them)."""
    request.check()
    deadline = request.deadline or now + ANSWER_WITHIN[request.emergency]
    ((extract_id,),) = con.execute(
        "SELECT coalesce(max(extract_id), 0) + 1 FROM extracts"
    ).fetchall()
    con.execute(
        f"INSERT INTO extracts ({', '.join(_COLUMNS)}, requested_via) "
        f"VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})",
        [
            extract_id, request.authority, request.legal_basis, request.order_type,
            request.reference, deadline, request.emergency,
            orjson.dumps(request.scope.as_json()).decode(), request.secrecy_until, "requested",
            actor, now, None, None, None, None, orjson.dumps(sorted(answerable | {actor})).decode(),
        ],
    )  # fmt: skip
    extract = get_extract(con, extract_id)
    assert extract is not None
    return extract, count_in_scope(con, request.scope)


def count_in_scope(con: duckdb.DuckDBPyConnection, scope: Scope) -> int:
    where, values = scope.condition()
    ((count,),) = con.execute(f"SELECT count(*) FROM events e WHERE {where}", values).fetchall()
    return int(count)


def _pending(
    con: duckdb.DuckDBPyConnection, extract_id: int, actor: str, answerable: frozenset[str]
) -> Extract:
    extract = get_extract(con, extract_id)
    if extract is None:
        raise ExtractError(f"no extract request {extract_id}")
    if extract.state != "requested":
        raise ExtractError(f"extract request {extract_id} is {extract.state} already")
    ((via,),) = con.execute(
        "SELECT requested_via FROM extracts WHERE extract_id = ?", [extract_id]
    ).fetchall()
    requester = {extract.requested_by, *(orjson.loads(via) if via else ())}
    shared = requester & (answerable | {actor})
    made_by_others = answerable - {actor}
    if made_by_others:  # whoever made the decider's token or account could be deciding
        raise ExtractError(
            f"four eyes: a decision needs credentials only its holder has; {actor}'s token or "
            f"account was made by {', '.join(sorted(made_by_others))} (issue one at the "
            "server's machine: `vahti token create --user`)"
        )
    if shared:
        raise ExtractError(
            "four eyes: no one decides their own request, nor one made with a token or account "
            f"they made ({', '.join(sorted(shared))}): another person must decide it"
        )
    return extract


def approve_extract(
    con: duckdb.DuckDBPyConnection, extract_id: int, actor: str, now: datetime,
    answerable: frozenset[str] = frozenset(),
) -> Extract:  # fmt: skip
    """Approve; a preservation order becomes holds (one per person or address in scope)."""
    extract = _pending(con, extract_id, actor, answerable)
    holds = []
    if extract.order_type == "preservation":
        scope = extract.scope
        subjects = [{"user": u} for u in scope.users]
        subjects += [{"customer_id": c} for c in scope.customer_ids]
        subjects += [{"ip": ip} for ip in scope.ips]
        for subject in subjects:
            request = HoldRequest(
                reason=f"preservation order of {extract.authority} ({extract.legal_basis})",
                since=scope.since, until_ts=scope.until, case_ref=extract.reference,
                kind="preservation", expires=now + PRESERVATION, **subject,
            )  # fmt: skip
            hold, _ = add_hold(con, request, actor, now)
            holds.append(hold.hold_id)
    con.execute(
        "UPDATE extracts SET state = 'approved', decided_by = ?, decided_at = ?, holds = ? "
        "WHERE extract_id = ?",
        [actor, now, orjson.dumps(holds).decode(), extract_id],
    )
    approved = get_extract(con, extract_id)
    assert approved is not None
    return approved


def refuse_extract(
    con: duckdb.DuckDBPyConnection, extract_id: int, actor: str, reason: str, now: datetime,
    answerable: frozenset[str] = frozenset(),
) -> Extract:  # fmt: skip
    if not reason.strip():
        raise ExtractError("a refusal needs its reason")
    _pending(con, extract_id, actor, answerable)
    con.execute(
        "UPDATE extracts SET state = 'refused', decided_by = ?, decided_at = ?, refusal = ? "
        "WHERE extract_id = ?",
        [actor, now, reason, extract_id],
    )
    refused = get_extract(con, extract_id)
    assert refused is not None
    return refused


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def audited_create(
    trail: AuditTrail, request: ExtractRequest, actor: str, now: datetime,
    answerable: frozenset[str] = frozenset(), **context: Any,
) -> tuple[Extract, int]:  # fmt: skip
    detail: dict[str, Any] = {
        "purpose": "lawful extract", "authority": request.authority,
        "reference": request.reference, "order": request.order_type, **context,
    }  # fmt: skip
    with trail.change(actor, "extracts.create", detail) as con:
        extract, matching = create_extract(con, request, actor, now, answerable)
        detail.update(extract=extract.extract_id, matching=matching)
    return extract, matching


def audited_decision(
    trail: AuditTrail,
    extract_id: int,
    actor: str,
    now: datetime,
    refusal: str | None = None,
    answerable: frozenset[str] = frozenset(),
    **context: Any,
) -> Extract:
    """Approve (refusal None) or refuse, with the audit entry in the same transaction."""
    action = "extracts.approve" if refusal is None else "extracts.refuse"
    detail: dict[str, Any] = {"purpose": "lawful extract", "extract": extract_id, **context}
    with trail.change(actor, action, detail) as con:
        if refusal is None:
            decided = approve_extract(con, extract_id, actor, now, answerable)
        else:
            decided = refuse_extract(con, extract_id, actor, refusal, now, answerable)
        detail["holds"] = decided.holds
    return decided
