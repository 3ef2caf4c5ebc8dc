"""Every route, every role, and no token: 200/401/403 exactly as the role table says.

A route missing from the table fails the test, so no route can ship unguarded."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from tests.api.conftest import World

EVERYONE: set[str | None] = {"analyst", "dpo", "liaison", "admin"}
Request = Callable[[World], dict[str, Any]]
_names = itertools.count()


def _alert_id(world: World) -> str:
    ((alert_id,),) = world.store.con.execute("SELECT min(alert_id) FROM alerts").fetchall()
    return str(alert_id)


def _spare_token(world: World) -> str:
    name = f"spare-{next(_names)}"
    response = world.client.post(
        "/api/v1/tokens", json={"name": name, "role": "analyst"}, headers=world.as_role("admin")
    )
    assert response.status_code == 201
    return name


def _spare_person(world: World) -> str:
    name = f"person-{next(_names)}"
    body = {"name": name, "role": "analyst", "password": "a long password"}
    response = world.client.post("/api/v1/users", json=body, headers=world.as_role("admin"))
    assert response.status_code == 201
    return name


def _new_hold(world: World) -> int:
    response = world.client.post(
        "/api/v1/holds", json={"reason": "case 1", "user": "x"}, headers=world.as_role("dpo")
    )
    assert response.status_code == 201
    return int(response.json()["id"])


def _log_file(world: World) -> str:
    path = world.store.path.parent / f"pushed-{next(_names)}.jsonl"
    path.write_text('{"ts": "2026-11-01T00:00:00Z", "outcome": "failure", "user": "u", '
                    '"ip": "192.0.2.1"}\n')  # fmt: skip
    return str(path)


EXTRACT = {
    "authority": "Poliisi",
    "legal_basis": "Pakkokeinolaki 10 luku",
    "reference": "R-1",
    "scope": {"users": ["someone"]},
}


def _new_extract(world: World, approved: bool = False) -> int:
    made = world.client.post("/api/v1/extracts", json=EXTRACT, headers=world.as_role("liaison"))
    assert made.status_code == 201
    extract_id = int(made.json()["id"])
    if approved:
        url = f"/api/v1/extracts/{extract_id}/approve"
        assert world.client.post(url, headers=world.as_role("dpo")).status_code == 200
    return extract_id


# (method, path template) -> (roles that get 200/201, how to make a valid request)
TABLE: dict[tuple[str, str], tuple[set[str | None], Request]] = {
    ("GET", "/healthz"): ({None, *EVERYONE}, lambda w: {}),
    ("GET", "/metrics"): (EVERYONE, lambda w: {}),
    ("GET", "/api/v1/jobs"): (EVERYONE, lambda w: {}),
    ("GET", "/api/v1/config"): ({"admin"}, lambda w: {}),
    ("GET", "/api/v1/stats"): (EVERYONE, lambda w: {}),
    ("POST", "/api/v1/detect"): ({"analyst", "admin"}, lambda w: {}),
    ("POST", "/api/v1/ingest"): ({"admin"}, lambda w: {"json": {"paths": [_log_file(w)]}}),
    ("GET", "/api/v1/quarantine"): ({"analyst", "admin"}, lambda w: {}),
    ("POST", "/api/v1/quarantine/retry"): ({"admin"}, lambda w: {}),
    ("GET", "/api/v1/overview"): (EVERYONE, lambda w: {}),
    ("GET", "/api/v1/alerts/{alert_id}/timeline"): (
        {"analyst", "admin"},
        lambda w: {"url": f"/api/v1/alerts/{_alert_id(w)}/timeline"},
    ),
    ("GET", "/api/v1/alerts"): ({"analyst", "admin"}, lambda w: {"params": {"limit": 5}}),
    ("GET", "/api/v1/alerts/{alert_id}"): (
        {"analyst", "admin"},
        lambda w: {"url": f"/api/v1/alerts/{_alert_id(w)}"},
    ),
    ("PATCH", "/api/v1/alerts/{alert_id}"): (
        {"analyst", "admin"},
        lambda w: {"url": f"/api/v1/alerts/{_alert_id(w)}", "json": {"note": "seen"}},
    ),
    ("GET", "/api/v1/events"): (
        {"analyst", "admin"},
        lambda w: {"params": {"purpose": "role table test", "limit": 3}},
    ),
    ("POST", "/api/v1/events"): (
        {"admin"},
        lambda w: {
            "json": [
                {"ts": "2026-11-01T00:00:00Z", "outcome": "failure", "user": "u", "ip": "192.0.2.1"}
            ],
            "params": {"batch_id": f"roles-{next(_names)}"},
        },
    ),
    ("GET", "/api/v1/tokens"): ({"admin"}, lambda w: {}),
    ("POST", "/api/v1/tokens"): (
        {"admin"},
        lambda w: {"json": {"name": f"new-{next(_names)}", "role": "dpo"}},
    ),
    ("DELETE", "/api/v1/tokens/{name}"): (
        {"admin"},
        lambda w: {"url": f"/api/v1/tokens/{_spare_token(w)}"},
    ),
    ("GET", "/api/v1/users"): ({"admin"}, lambda w: {}),
    ("POST", "/api/v1/users"): (
        {"admin"},
        lambda w: {"json": {"name": f"p-{next(_names)}", "role": "dpo", "password": "x" * 12}},
    ),
    ("DELETE", "/api/v1/users/{name}"): (
        {"admin"},
        lambda w: {"url": f"/api/v1/users/{_spare_person(w)}"},
    ),
    ("GET", "/api/v1/audit"): ({"dpo", "admin"}, lambda w: {}),
    ("GET", "/api/v1/retention"): ({"dpo", "admin"}, lambda w: {}),
    ("POST", "/api/v1/retention/purge"): (
        {"dpo", "admin"},
        lambda w: {"params": {"dry_run": "true"}},
    ),
    ("GET", "/api/v1/holds"): ({"dpo", "admin"}, lambda w: {}),
    ("POST", "/api/v1/extracts"): ({"liaison", "admin"}, lambda w: {"json": EXTRACT}),
    ("GET", "/api/v1/register"): ({"dpo", "admin"}, lambda w: {}),
    ("POST", "/api/v1/audit/checkpoint"): ({"dpo", "admin"}, lambda w: {}),
    ("POST", "/api/v1/subjects/erase"): (
        {"dpo", "admin"},
        lambda w: {"json": {"user": f"nobody-{next(_names)}"}},
    ),
    ("GET", "/api/v1/extracts/disclosures"): ({"liaison", "dpo", "admin"}, lambda w: {}),
    ("GET", "/api/v1/entities/{kind}"): (
        {"analyst", "admin"},
        lambda w: {
            "url": "/api/v1/entities/ip",
            "params": {"value": "192.0.2.1", "purpose": "role check"},
        },
    ),
    ("GET", "/api/v1/extracts"): ({"liaison", "dpo", "admin"}, lambda w: {}),
    ("POST", "/api/v1/extracts/{extract_id}/approve"): (
        {"dpo", "admin"},
        lambda w: {"url": f"/api/v1/extracts/{_new_extract(w)}/approve"},
    ),
    ("POST", "/api/v1/extracts/{extract_id}/refuse"): (
        {"dpo", "admin"},
        lambda w: {
            "url": f"/api/v1/extracts/{_new_extract(w)}/refuse",
            "json": {"reason": "no basis"},
        },
    ),
    ("GET", "/api/v1/extracts/{extract_id}/package"): (
        {"liaison", "admin"},
        lambda w: {"url": f"/api/v1/extracts/{_new_extract(w, approved=True)}/package"},
    ),
    ("GET", "/api/v1/subjects/{user}"): (
        {"dpo", "admin"},
        lambda w: {"url": "/api/v1/subjects/someone", "params": {"format": "letter"}},
    ),
    ("POST", "/api/v1/holds"): (
        {"dpo", "admin"},
        lambda w: {"json": {"reason": "incident 7", "ip": "192.0.2.0/24", "kind": "incident"}},
    ),
    ("POST", "/api/v1/holds/{hold_id}/release"): (
        {"dpo", "admin"},
        lambda w: {"url": f"/api/v1/holds/{_new_hold(w)}/release"},
    ),
    ("GET", "/api/v1/audit/verify"): ({"dpo", "admin"}, lambda w: {}),
}


CREATED = {
    ("POST", "/api/v1/tokens"),
    ("POST", "/api/v1/users"),
    ("POST", "/api/v1/holds"),
    ("POST", "/api/v1/extracts"),
}


def _routes(world: World) -> list[tuple[str, str]]:
    """Every operation the app serves (no route of vahti is left out of the schema)."""
    paths = world.app.openapi()["paths"]
    return [(method.upper(), path) for path, item in paths.items() for method in item]


def test_every_route_is_in_the_role_table(world: World) -> None:
    assert sorted(_routes(world)) == sorted(TABLE)


@pytest.mark.parametrize("role", [None, "analyst", "dpo", "liaison", "admin"])
def test_each_role_gets_what_the_table_says(world: World, role: str | None) -> None:
    wrong = []
    for (method, path), (allowed, make) in TABLE.items():
        request = {"url": path, **make(world)}
        response = world.client.request(method, headers=world.as_role(role), **request)
        if role in allowed:
            expected = {201} if (method, path) in CREATED else {200}
        else:
            expected = {401} if role is None else {403}
        if response.status_code not in expected:
            wrong.append((method, path, role, response.status_code, response.text[:200]))
    assert wrong == []


def test_revoked_and_unknown_tokens_get_401(world: World) -> None:
    name = _spare_token(world)
    created = world.client.post(
        "/api/v1/tokens",
        json={"name": name + "x", "role": "analyst"},
        headers=world.as_role("admin"),
    )
    secret = created.json()["token"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert world.client.get("/api/v1/alerts", headers=headers).status_code == 200
    world.client.delete(f"/api/v1/tokens/{name}x", headers=world.as_role("admin"))
    assert world.client.get("/api/v1/alerts", headers=headers).status_code == 401
    bogus = {"Authorization": "Bearer vahti_not-a-real-token"}
    assert world.client.get("/api/v1/alerts", headers=bogus).status_code == 401
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    assert world.client.get("/api/v1/alerts", headers=basic).status_code == 401
