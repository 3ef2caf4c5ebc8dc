"""Event search (accountable) and the push endpoint (lossless, idempotent, bounded)."""

from __future__ import annotations

from typing import Any

import orjson

from api.models import PushResult
from store.audit import entries
from tests.api.conftest import World

GOOD = {
    "ts": "2026-11-20T08:00:00Z",
    "outcome": "failure",
    "user": "pushed.user",
    "ip": "81.2.69.160",
}


def _search(world: World, **params: Any) -> Any:
    return world.client.get("/api/v1/events", params=params, headers=world.as_role("analyst"))


def test_search_needs_a_purpose_and_records_it(world: World) -> None:
    assert _search(world, user="x").status_code == 422
    some = _search(world, purpose="find a user", limit=1).json()["events"][0]
    body = _search(world, user=some["user"], purpose="customer complaint 4711").json()
    assert body["events"] and {e["user"] for e in body["events"]} == {some["user"]}
    last = entries(world.store.con, limit=1000)[-1]
    assert last.action == "events.search"
    assert last.detail["purpose"] == "customer complaint 4711"
    assert last.detail["query"] == {"user": some["user"]}
    assert last.detail["events"] == len(body["events"])


def test_search_by_address_cidr_session_and_time(world: World) -> None:
    some = _search(world, purpose="test", limit=1).json()["events"][0]
    ip = some["ip"]
    exact = _search(world, ip=ip, purpose="test", limit=1000).json()["events"]
    assert exact and {e["ip"] for e in exact} == {ip}
    prefix = ".".join(ip.split(".")[:2]) + ".0.0/16"
    wide = _search(world, ip=prefix, purpose="test", limit=1000).json()["events"]
    assert len(wide) >= len(exact)
    assert all(e["ip"].startswith(prefix.split(".0.0")[0] + ".") for e in wide)
    session = _search(world, session=some["session_id"], purpose="test").json()["events"]
    assert {e["session_id"] for e in session} == {some["session_id"]}
    window = _search(world, purpose="test", **{"from": "2100-01-01T00:00:00Z"}).json()
    assert window["events"] == []
    assert _search(world, ip="300.1.1.1", purpose="test").status_code == 422
    assert _search(world, outcome="maybe", purpose="test").status_code == 422


def test_search_pages_with_after(world: World) -> None:
    first = _search(world, purpose="test", limit=5).json()
    second = _search(world, purpose="test", limit=5, after=first["next"]).json()
    ids = [e["event_id"] for e in first["events"] + second["events"]]
    assert ids == sorted(ids) and len(set(ids)) == 10


def _push(
    world: World, body: bytes, batch: str | None = None, content_type: str = "application/json"
):
    params = {"batch_id": batch} if batch else {}
    headers = {**world.as_role("admin"), "content-type": content_type}
    return world.client.post("/api/v1/events", content=body, params=params, headers=headers)


def test_push_loads_good_events_and_returns_bad_ones_with_reasons(world: World) -> None:
    body = orjson.dumps([GOOD, {**GOOD, "ts": "not a time"}, {**GOOD, "ip": "999.1.1.1"}, 7])
    response = _push(world, body, "batch-1")
    assert response.status_code == 200
    report = response.json()
    # The route returns the report unvalidated (for speed): it must be a PushResult exactly.
    assert PushResult.model_validate(report).model_dump() == report
    assert response.headers["content-type"] == "application/json"
    assert (report["received"], report["loaded"], report["quarantined"]) == (4, 1, 3)
    assert [r["line_no"] for r in report["rejected"]] == [2, 3, 4]
    assert "timestamp" in report["rejected"][0]["reason"]
    assert "IP" in report["rejected"][1]["reason"]
    stored = world.store.con.execute(
        "SELECT country, city FROM events WHERE \"user\" = 'pushed.user'"
    ).fetchall()
    assert stored == [("GB", "Willesden")]  # enriched like file ingest (bundled GeoLite2)
    quarantined = world.store.con.execute(
        "SELECT count(*) FROM quarantine q JOIN sources s USING (source_id) "
        "WHERE s.kind = 'push' AND s.path = 'batch-1'"
    ).fetchall()
    assert quarantined == [(3,)]


def test_push_is_idempotent_per_batch_id(world: World) -> None:
    body = b"\n".join(orjson.dumps({**GOOD, "user": f"u{i}"}) for i in range(5)) + b"\n"
    first = _push(world, body, "nd-1", "application/x-ndjson").json()
    again = _push(world, body, "nd-1", "application/x-ndjson").json()
    assert first["loaded"] == again["loaded"] == 5
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    ((count,),) = world.store.con.execute(
        "SELECT count(*) FROM events WHERE \"user\" LIKE 'u_'"
    ).fetchall()
    assert count == 5
    assert _push(world, body + body, "nd-1").status_code == 409


def test_push_refuses_what_it_cannot_take(world: World) -> None:
    assert _push(world, b"[{broken", "b").status_code == 422
    assert _push(world, b"   ", "b").status_code == 422
    assert _push(world, orjson.dumps([GOOD]), "bad id with spaces").status_code == 422
    huge = b"[" + b",".join([orjson.dumps(GOOD)] * 200_000) + b"]"
    response = _push(world, huge, "huge")
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    ((pushed,),) = world.store.con.execute(
        "SELECT count(*) FROM sources WHERE kind = 'push'"
    ).fetchall()
    assert pushed == 0


def test_push_takes_json_only_and_bounds_every_field(world: World) -> None:
    for kind in ("text/plain", "application/x-www-form-urlencoded", ""):
        response = _push(world, orjson.dumps([GOOD]), "typed", kind)
        assert response.status_code == 415, kind
    assert (
        _push(world, orjson.dumps([GOOD]), "charset", "application/json; charset=utf-8").json()[
            "loaded"
        ]
        == 1
    )
    body = orjson.dumps([
        {**GOOD, "user": "x" * 9_900_000}, {**GOOD, "user": ""}, {**GOOD, "user": "   "},
        {**GOOD, "user_agent": "Mozilla/5.0 " * 200}, {**GOOD, "session_id": "s" * 513}, GOOD,
    ])  # fmt: skip
    report = _push(world, body, "bounded").json()
    assert (report["loaded"], report["quarantined"]) == (1, 5)
    reasons = [r["reason"] for r in report["rejected"]]
    assert reasons[0].startswith("line longer than 65536 bytes")
    assert reasons[1:3] == ["empty user", "empty user"]
    assert reasons[3] == "user_agent longer than 1024 characters (2400)"
    assert reasons[4] == "session_id longer than 512 characters (513)"
    ((longest, biggest),) = world.store.con.execute(
        'SELECT max(length(raw)), (SELECT max(length("user")) FROM events) FROM quarantine'
    ).fetchall()
    assert longest <= 65536 and biggest <= 256


def test_events_pushed_are_found_by_search(world: World) -> None:
    _push(world, orjson.dumps([GOOD]), "findable")
    found = _search(world, user="pushed.user", purpose="check push").json()["events"]
    assert len(found) == 1 and found[0]["ip"] == GOOD["ip"]


def test_a_push_is_announced_when_it_reaches_the_server_and_settled_as_it_is_queued(
    world: World,
) -> None:
    """The writer waits for announced pushes (store/group_commit.py): the announcement is
    made before the token is checked and must reach the writer with the body."""
    settled: list[bool] = []
    real = world.app.state.ctx.push

    async def recording(body: bytes, batch: str, arrival: Any) -> dict[str, Any]:
        settled.append(arrival.settled)  # on its way until it joins the queue
        report: dict[str, Any] = await real(body, batch, arrival)
        settled.append(arrival.settled)
        return report

    world.app.state.ctx.push = recording
    assert _push(world, orjson.dumps([GOOD]), "announced").status_code == 200
    assert settled == [False, True]
