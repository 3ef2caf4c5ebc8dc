"""Erasure on request through the ASGI app, on a real DuckDB file."""

from __future__ import annotations

import orjson

from store.audit import entries
from tests.api.conftest import World


def _an_account_with_an_alert(world: World) -> str:
    ((user,),) = world.store.con.execute(
        "SELECT min(entity) FROM alerts WHERE entity_type = 'user'"
    ).fetchall()
    return str(user)


def test_erasure_removes_the_person_and_the_report_then_shows_nothing(world: World) -> None:
    dpo = world.as_role("dpo")
    user = _an_account_with_an_alert(world)
    response = world.client.post("/api/v1/subjects/erase", json={"user": user}, headers=dpo)
    assert response.status_code == 200, response.text
    erased = response.json()
    assert erased["events"] > 0 and erased["alerts"] >= 1
    assert world.purges == ["dpo-token"]  # the compaction goes with the retention job
    con = world.store.con
    assert con.execute('SELECT count(*) FROM events WHERE "user" = ?', [user]).fetchall() == [(0,)]
    named = con.execute(
        "SELECT count(*) FROM alerts WHERE entity = ? OR contains(summary, ?)", [user, user]
    ).fetchall()
    assert named == [(0,)]
    assert (
        con.execute(
            "SELECT count(*) FROM alerts WHERE entity = ?", [erased["subject_ref"]]
        ).fetchall()[0][0]
        >= 1
    )
    report = world.client.get(f"/api/v1/subjects/{user}", headers=dpo).json()
    assert (report["events"], report["alerts"]) == ([], [])
    (entry,) = [e for e in entries(con, 0, 100_000) if e.action == "subject.erase"]
    assert entry.detail["subject_ref"] == erased["subject_ref"]
    assert user not in orjson.dumps(entry.detail).decode()


def test_a_legal_hold_stops_the_erasure_and_is_named(world: World) -> None:
    dpo = world.as_role("dpo")
    user = _an_account_with_an_alert(world)
    hold = world.client.post("/api/v1/holds", json={"user": user, "reason": "case 12"},
                             headers=dpo).json()  # fmt: skip
    ((before,),) = world.store.con.execute(
        'SELECT count(*) FROM events WHERE "user" = ?', [user]
    ).fetchall()
    response = world.client.post("/api/v1/subjects/erase", json={"user": user}, headers=dpo)
    assert response.status_code == 409
    assert f"legal hold {hold['id']} covers" in response.json()["detail"]
    assert world.store.con.execute(
        'SELECT count(*) FROM events WHERE "user" = ?', [user]
    ).fetchall() == [(before,)]
    assert world.client.post("/api/v1/subjects/erase", json={},
                             headers=dpo).status_code == 422  # fmt: skip
    assert world.client.post("/api/v1/subjects/erase", json={"user": user},
                             headers=world.as_role("analyst")).status_code == 403  # fmt: skip
