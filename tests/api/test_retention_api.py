"""The DPO's retention and holds routes, and the purge queued as a job of the real service."""

from __future__ import annotations

from tests.api.conftest import World


def _dpo(world: World) -> dict[str, str]:
    return world.as_role("dpo")


def test_status_lists_every_kind_and_is_audited(world: World) -> None:
    body = world.client.get("/api/v1/retention", headers=_dpo(world)).json()
    kinds = {k["kind"]: k for k in body["kinds"]}
    assert set(kinds) == {"events", "quarantine", "alerts", "audit"}
    assert kinds["events"]["retention_days"] == 180 and kinds["events"]["rows"] > 1000
    assert body["pseudonymisation"]["after_days"] == 90
    ((action,),) = world.store.con.execute(
        "SELECT action FROM audit ORDER BY seq DESC LIMIT 1"
    ).fetchall()
    assert action == "retention.status"


def test_holds_are_added_listed_released_and_bad_ones_refused(world: World) -> None:
    user = world.store.con.execute('SELECT min("user") FROM events').fetchall()[0][0]
    made = world.client.post(
        "/api/v1/holds",
        json={"reason": "preservation order", "user": user, "kind": "preservation",
              "case": "KRP/2026/77", "until": "2027-01-31T00:00:00Z"},
        headers=_dpo(world),
    )  # fmt: skip
    assert made.status_code == 201
    hold = made.json()
    assert hold["covered_events"] > 0 and hold["active"] and hold["case"] == "KRP/2026/77"
    nothing = world.client.post(
        "/api/v1/holds", json={"reason": "future order", "user": "nobody.yet"}, headers=_dpo(world)
    ).json()
    assert nothing["covered_events"] == 0 and "matches no stored event" in nothing["note"]
    for bad in (
        {"reason": "no subject"},
        {"reason": "bad net", "ip": "10.0.0.0/33"},
        {
            "reason": "backwards",
            "user": "u",
            "from": "2026-02-01T00:00:00Z",
            "to": "2026-01-01T00:00:00Z",
        },
    ):
        response = world.client.post("/api/v1/holds", json=bad, headers=_dpo(world))
        assert response.status_code == 422, bad
    released = world.client.post(f"/api/v1/holds/{hold['id']}/release", headers=_dpo(world))
    assert released.status_code == 200 and released.json()["active"] is False
    listed = world.client.get("/api/v1/holds", headers=_dpo(world)).json()
    assert [h["id"] for h in listed] == [hold["id"], nothing["id"]]
    assert world.client.post("/api/v1/holds/999/release", headers=_dpo(world)).status_code == 404


def test_dry_run_reports_without_deleting(world: World) -> None:
    ((before,),) = world.store.con.execute("SELECT count(*) FROM events").fetchall()
    report = world.client.post(
        "/api/v1/retention/purge", params={"dry_run": "true"}, headers=_dpo(world)
    ).json()
    assert report["dry_run"] is True and len(report["kinds"]) == 4
    ((after,),) = world.store.con.execute("SELECT count(*) FROM events").fetchall()
    assert before == after
    queued = world.client.post("/api/v1/retention/purge", headers=_dpo(world))
    assert queued.status_code == 202 and world.purges == ["dpo-token"]
