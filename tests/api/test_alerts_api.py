"""The security team's alert routes through the ASGI app, on a real DuckDB file."""

from __future__ import annotations

from typing import Any

from store.audit import entries, verify
from tests.api.conftest import World


def _get(world: World, url: str, **params: Any) -> Any:
    return world.client.get(url, params=params, headers=world.as_role("analyst"))


def test_pages_walk_every_alert_once_newest_first(world: World) -> None:
    ((total,),) = world.store.con.execute("SELECT count(*) FROM alerts").fetchall()
    assert total > 5
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = _get(world, "/api/v1/alerts", **params).json()
        seen += body["alerts"]
        cursor = body["next"]
        if cursor is None:
            break
    assert len(seen) == total
    assert len({a["id"] for a in seen}) == total
    stamps = [a["last_seen"] for a in seen]
    assert stamps == sorted(stamps, reverse=True)


def _walk(world: World, sort: str) -> list[dict[str, Any]]:
    seen, cursor = [], None
    while True:
        params = {"limit": 3, "sort": sort, **({"cursor": cursor} if cursor else {})}
        response = _get(world, "/api/v1/alerts", **params)
        assert response.status_code == 200, response.text
        seen += response.json()["alerts"]
        cursor = response.json()["next"]
        if cursor is None:
            return seen


RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}


def test_every_sort_order_pages_through_every_alert_once(world: World) -> None:
    ((total,),) = world.store.con.execute("SELECT count(*) FROM alerts").fetchall()
    keys = {
        "severity": lambda a: RANK[a["severity"]], "events": lambda a: a["event_count"],
        "first_seen": lambda a: a["first_seen"], "last_seen": lambda a: a["last_seen"],
    }  # fmt: skip
    for name, key in keys.items():
        for sort in (name, f"-{name}"):
            seen = _walk(world, sort)
            assert len({a["id"] for a in seen}) == len(seen) == total, sort
            values = [key(a) for a in seen]
            assert values == sorted(values, reverse=sort.startswith("-")), sort
    worst = _get(world, "/api/v1/alerts", sort="-severity", limit=1).json()["alerts"][0]
    assert RANK[worst["severity"]] == max(RANK[a["severity"]] for a in _walk(world, "events"))


def test_a_cursor_of_another_order_and_an_unknown_order_are_refused(world: World) -> None:
    cursor = _get(world, "/api/v1/alerts", limit=1, sort="-events").json()["next"]
    assert _get(world, "/api/v1/alerts", cursor=cursor).status_code == 422
    response = _get(world, "/api/v1/alerts", sort="colour")
    assert response.status_code == 422 and "cannot sort by 'colour'" in response.text


def test_filters_narrow_the_list(world: World) -> None:
    everything = _get(world, "/api/v1/alerts", limit=500).json()["alerts"]
    one = everything[0]
    by_category = _get(world, "/api/v1/alerts", category=one["category"], limit=500).json()
    assert {a["category"] for a in by_category["alerts"]} == {one["category"]}
    by_entity = _get(world, "/api/v1/alerts", entity=one["entity"]).json()["alerts"]
    assert one["id"] in {a["id"] for a in by_entity}
    assert all(a["entity"] == one["entity"] for a in by_entity)
    later = _get(world, "/api/v1/alerts", **{"from": "2100-01-01T00:00:00Z"}).json()
    assert later["alerts"] == []
    assert _get(world, "/api/v1/alerts", severity="critical").status_code == 200


def test_bad_parameters_are_422_naming_the_field(world: World) -> None:
    cases: list[dict[str, Any]] = [
        {"status": "pending"},
        {"limit": 0},
        {"limit": 501},
        {"cursor": "!!!"},
        {"from": "yesterday"},
        {"category": "phishing"},
        {"sort": "-"},
    ]
    for params in cases:
        response = _get(world, "/api/v1/alerts", **params)
        assert response.status_code == 422, params
        assert response.json()["detail"], params


def test_one_alert_has_its_evidence_and_unknown_ids_are_404(world: World) -> None:
    alert = _get(world, "/api/v1/alerts", limit=1).json()["alerts"][0]
    body = _get(world, f"/api/v1/alerts/{alert['id']}").json()
    assert body["evidence_total"] == alert["event_count"] == len(body["evidence"])
    assert min(e["ts"] for e in body["evidence"])[:19] == alert["first_seen"][:19]
    limited = _get(world, f"/api/v1/alerts/{alert['id']}", evidence_limit=1).json()
    assert len(limited["evidence"]) == 1
    assert _get(world, "/api/v1/alerts/a-doesnotexist").status_code == 404
    assert _get(world, "/api/v1/alerts/not%20an%20id").status_code == 422


def test_triage_keeps_who_and_when_in_the_history(world: World) -> None:
    alert = _get(world, "/api/v1/alerts", limit=1).json()["alerts"][0]
    url = f"/api/v1/alerts/{alert['id']}"
    change = {"status": "acknowledged", "assignee": "liisa", "note": "calling the customer"}
    response = world.client.patch(url, json=change, headers=world.as_role("analyst"))
    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged"
    assert response.json()["assignee"] == "liisa"
    unassign = world.client.patch(url, json={"assignee": None}, headers=world.as_role("admin"))
    assert unassign.json()["assignee"] is None
    history = _get(world, url).json()["history"]
    assert [h["actor"] for h in history] == ["analyst-token", "admin-token"]
    assert history[0]["status"] == ["open", "acknowledged"]
    assert history[0]["note"] == "calling the customer"
    assert history[1]["assignee"] == ["liisa", None]
    for bad in ({}, {"status": "done"}, {"owner": "x"}, {"note": "x" * 2001}):
        assert (
            world.client.patch(url, json=bad, headers=world.as_role("analyst")).status_code == 422
        )
    missing = world.client.patch(
        "/api/v1/alerts/a-0000", json={"note": "x"}, headers=world.as_role("analyst")
    )
    assert missing.status_code == 404


def test_reads_and_changes_are_audited_in_a_chain_that_verifies(world: World) -> None:
    alert = _get(world, "/api/v1/alerts", limit=3).json()["alerts"][0]
    _get(world, f"/api/v1/alerts/{alert['id']}")
    world.client.patch(
        f"/api/v1/alerts/{alert['id']}", json={"status": "closed"}, headers=world.as_role("analyst")
    )
    log = entries(world.store.con, limit=100)
    actions = [(e.actor, e.action) for e in log]
    assert actions[-3:] == [
        ("analyst-token", "alerts.list"),
        ("analyst-token", "alerts.show"),
        ("analyst-token", "alerts.triage"),
    ]
    show = log[-2].detail
    assert show["role"] == "analyst"
    assert show["route"] == "GET /api/v1/alerts/{alert_id}"
    assert show["alert"] == alert["id"] and show["events"]
    check = verify(world.store.con)
    assert check.first_broken is None and check.entries == len(log)
    dpo = world.as_role("dpo")
    unsigned = world.client.get("/api/v1/audit/verify", headers=dpo).json()
    assert unsigned["ok"] is False and unsigned["checkpoint_problems"][0].startswith(
        "no checkpoint"
    )
    signed = world.client.post("/api/v1/audit/checkpoint", headers=dpo).json()
    assert signed["hash"] == log[-1].hash
    dpo_view = world.client.get("/api/v1/audit/verify", headers=dpo).json()
    assert dpo_view["ok"] is True and dpo_view["head_hash"] == log[-1].hash
