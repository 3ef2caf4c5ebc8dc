"""Right of access through the API: the whole picture of one person, and nobody else's."""

from __future__ import annotations

from tests.api.conftest import World


def test_report_holds_everything_about_the_person_and_nothing_else(world: World) -> None:
    con = world.store.con
    ((user, customer),) = con.execute(
        """SELECT a.entity, min(e.customer_id) FROM alerts a JOIN events e ON e."user" = a.entity
           WHERE a.entity_type = 'user' GROUP BY a.entity ORDER BY a.entity LIMIT 1"""
    ).fetchall()
    ((stored,),) = con.execute('SELECT count(*) FROM events WHERE "user" = ?', [user]).fetchall()
    world.client.get(
        "/api/v1/events", params={"user": user, "purpose": "fraud report 991"},
        headers=world.as_role("analyst"),
    )  # fmt: skip
    world.client.post(
        "/api/v1/holds", json={"reason": "case", "user": user}, headers=world.as_role("dpo")
    )
    report = world.client.get(f"/api/v1/subjects/{user}", headers=world.as_role("dpo")).json()
    assert len(report["events"]) == stored
    assert {e["user"] for e in report["events"]} == {user}
    assert any(user in a["summary"] for a in report["alerts"])
    assert [h["reason"] for h in report["holds"]] == ["case"]
    assert [x["purpose"] for x in report["staff_lookups"]] == ["fraud report 991"]
    assert "actor" not in report["staff_lookups"][0]  # staff are not named
    assert report["retention_days"]["events"] == 180
    by_customer = world.client.get(
        f"/api/v1/subjects/{user}", params={"customer_id": customer}, headers=world.as_role("dpo")
    ).json()
    assert len(by_customer["events"]) >= stored
    letter = world.client.get(
        f"/api/v1/subjects/{user}", params={"format": "letter", "lang": "fi"},
        headers=world.as_role("dpo"),
    )  # fmt: skip
    assert letter.headers["content-type"].startswith("text/markdown")
    assert "Mitä tietoja sinusta on tallennettu" in letter.text and user in letter.text
    ((action, detail),) = con.execute(
        "SELECT action, detail FROM audit ORDER BY seq DESC LIMIT 1"
    ).fetchall()
    assert action == "subject.report" and "Art. 15" in detail


def test_an_unknown_person_gets_an_empty_report(world: World) -> None:
    report = world.client.get("/api/v1/subjects/nobody.at.all", headers=world.as_role("dpo"))
    assert report.status_code == 200
    body = report.json()
    assert body["events"] == [] and body["alerts"] == [] and body["holds"] == []
