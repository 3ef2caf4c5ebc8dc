"""The entity look-up, the disclosure register and the audit log's filters, through the ASGI
app on a real DuckDB file."""

from __future__ import annotations

from typing import Any

from store.audit import entries
from tests.api.conftest import World


def _entity(world: World, kind: str, value: str, role: str = "analyst", **more: Any) -> Any:
    params = {"value": value, "purpose": "case INC-12", **more}
    return world.client.get(f"/api/v1/entities/{kind}", params=params,
                            headers=world.as_role(role))  # fmt: skip


def _an_alert(world: World, entity_type: str) -> tuple[str, str]:
    ((alert_id, entity),) = world.store.con.execute(
        "SELECT alert_id, entity FROM alerts WHERE entity_type = ? ORDER BY alert_id LIMIT 1",
        [entity_type],
    ).fetchall()
    return alert_id, entity


def test_an_account_has_its_alerts_places_days_profile_and_addresses(world: World) -> None:
    alert_id, user = _an_alert(world, "user")
    body = _entity(world, "user", user, days=3660).json()
    ((events, ok, failed),) = world.store.con.execute(
        """SELECT count(*), count(*) FILTER (WHERE outcome = 'success'),
                  count(*) FILTER (WHERE outcome = 'failure') FROM events WHERE "user" = ?""",
        [user],
    ).fetchall()
    assert (body["events"], body["successes"], body["failures"]) == (events, ok, failed)
    assert alert_id in {a["id"] for a in body["alerts"]}
    assert sum(d["successes"] + d["failures"] for d in body["days"]) == ok + failed
    assert body["places"] and all(p["lat"] is not None for p in body["places"])
    countries = body["profile"]["country"]
    assert sum(c["logins"] for c in countries) <= ok and countries[0]["logins"] >= 1
    assert body["profile"]["browser"]  # parsed from the user agents
    assert {c["kind"] for c in body["counterparts"]} == {"ip"}


def test_an_address_lists_the_accounts_tried_from_it_and_the_lookup_is_recorded(
    world: World,
) -> None:
    alert_id, ip = _an_alert(world, "ip")
    body = _entity(world, "ip", ip, days=3660).json()
    assert alert_id in {a["id"] for a in body["alerts"] if a["about"]}
    assert body["counterparts"] and {c["kind"] for c in body["counterparts"]} == {"user"}
    (last,) = [e for e in entries(world.store.con, 0, 10_000) if e.action == "entity.view"]
    assert last.detail["purpose"] == "case INC-12"
    assert last.detail["entity"] == {"kind": "ip", "value": ip}


def test_entity_lookups_need_a_purpose_the_analyst_role_and_a_known_kind(world: World) -> None:
    _, ip = _an_alert(world, "ip")
    assert _entity(world, "ip", ip, role="dpo").status_code == 403
    assert _entity(world, "ip", ip, purpose="").status_code == 422
    assert _entity(world, "device", ip).status_code == 422
    nothing = _entity(world, "user", "nobody.at.all").json()
    assert (nothing["events"], nothing["alerts"], nothing["places"]) == (0, [], [])
    assert nothing["profile"]["country"] == []


def test_a_source_known_only_by_name_is_looked_up_by_host(world: World) -> None:
    world.store.con.execute(
        "UPDATE events SET ip = NULL, host = 'scanner.example' WHERE event_id IN "
        "(SELECT event_id FROM events ORDER BY event_id LIMIT 3)"
    )
    body = _entity(world, "ip", "scanner.example").json()
    assert body["events"] == 3


def test_the_disclosure_register_lists_each_subject_of_a_downloaded_package(
    world: World,
) -> None:
    liaison, dpo = world.as_role("liaison"), world.as_role("dpo")
    _, user = _an_alert(world, "user")
    made = world.client.post("/api/v1/extracts", headers=liaison, json={
        "authority": "Keskusrikospoliisi", "legal_basis": "PKL 10:6", "reference": "KRP/1",
        "scope": {"users": [user]},
    }).json()  # fmt: skip
    assert world.client.get("/api/v1/extracts/disclosures", headers=dpo).json() == []
    world.client.post(f"/api/v1/extracts/{made['id']}/approve", headers=dpo)
    package = world.client.get(f"/api/v1/extracts/{made['id']}/package", headers=liaison)
    assert package.status_code == 200
    rows = world.client.get("/api/v1/extracts/disclosures", headers=dpo).json()
    ((events,),) = world.store.con.execute(
        'SELECT count(*) FROM events WHERE "user" = ?', [user]
    ).fetchall()
    assert sum(row["events"] for row in rows) == events  # one row per user and customer id
    for row in rows:
        assert (row["extract_id"], row["subject"], row["authority"]) == (
            made["id"], user, "Keskusrikospoliisi",
        )  # fmt: skip
        assert row["approved_by"] == "dpo-token" and row["requested_by"] == "liaison-token"
        assert len(row["package_sha256"]) == 64
    assert world.client.get("/api/v1/extracts/disclosures",
                            headers=world.as_role("analyst")).status_code == 403  # fmt: skip


def test_the_audit_log_reads_newest_first_by_prefix_and_by_what_it_touched(
    world: World,
) -> None:
    _, user = _an_alert(world, "user")
    _, ip = _an_alert(world, "ip")
    for _ in range(6):
        _entity(world, "ip", ip)
    _entity(world, "user", user)
    dpo = world.as_role("dpo")
    newest = world.client.get("/api/v1/audit", headers=dpo,
                              params={"newest_first": True, "limit": 5}).json()  # fmt: skip
    seqs = [e["seq"] for e in newest["entries"]]
    assert seqs == sorted(seqs, reverse=True)
    older = world.client.get("/api/v1/audit", headers=dpo, params={
        "newest_first": True, "limit": 5, "before": newest["next"]}).json()  # fmt: skip
    assert max(e["seq"] for e in older["entries"]) < min(seqs)
    touching = world.client.get("/api/v1/audit", headers=dpo, params={"touching": user}).json()
    assert "entity.view" in {e["action"] for e in touching["entries"]}
    assert all(user.lower() in str(e["detail"]).lower() for e in touching["entries"])
    prefixed = world.client.get("/api/v1/audit", headers=dpo, params={"action": "entity.*"})
    assert {e["action"] for e in prefixed.json()["entries"]} == {"entity.view"}
    assert len(prefixed.json()["entries"]) == 7
