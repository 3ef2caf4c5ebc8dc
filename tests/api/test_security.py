"""What makes the API fit to face a network: headers, limits, logs without people in them."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from store.tokens import hash_token
from tests.api.conftest import World, make_world
from vahti.settings import Settings


def test_health_needs_no_token_and_tells_nothing(world: World) -> None:
    response = world.client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_security_headers_and_no_cors_by_default(world: World) -> None:
    response = world.client.get(
        "/api/v1/alerts", headers={**world.as_role("analyst"), "Origin": "https://evil.example"}
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "access-control-allow-origin" not in response.headers
    assert world.client.get("/openapi.json").status_code == 200


def test_tokens_are_stored_only_as_hashes(world: World) -> None:
    created = world.client.post(
        "/api/v1/tokens",
        json={"name": "shipper", "role": "analyst"},
        headers=world.as_role("admin"),
    ).json()
    secret = created["token"]
    rows = world.store.con.execute("SELECT * FROM tokens").fetchall()
    assert secret not in repr(rows)
    assert hash_token(secret) in repr(rows)
    listed = world.client.get("/api/v1/tokens", headers=world.as_role("admin")).json()
    assert "token" not in listed[0] and any(t["name"] == "shipper" for t in listed)
    again = world.client.post(
        "/api/v1/tokens", json={"name": "shipper", "role": "dpo"}, headers=world.as_role("admin")
    )
    assert again.status_code == 409


def test_failed_authentication_is_rate_limited_per_address(
    template_db: Path, tmp_path: Path
) -> None:
    db = tmp_path / "vahti.duckdb"
    shutil.copy(template_db, db)
    settings = Settings.model_validate({"api": {"auth_failures_per_minute": 3}})
    for world in make_world(db, settings):
        bad = {"Authorization": "Bearer guess"}
        codes = [world.client.get("/api/v1/alerts", headers=bad).status_code for _ in range(5)]
        assert codes == [401, 401, 401, 429, 429]
        # Once blocked, even the right token waits: guessing cannot continue in between.
        blocked = world.client.get("/api/v1/alerts", headers=world.as_role("analyst"))
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 0


def test_no_personal_data_in_server_logs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    event = world.client.get(
        "/api/v1/events", params={"purpose": "x y z", "limit": 1}, headers=world.as_role("analyst")
    ).json()["events"][0]
    user, ip = event["user"], event["ip"]
    world.client.get(
        "/api/v1/events", params={"user": user, "purpose": "case"}, headers=world.as_role("analyst")
    )
    world.client.get(
        "/api/v1/events", params={"ip": ip, "purpose": "case"}, headers=world.as_role("analyst")
    )
    world.client.get("/api/v1/events", params={"ip": "1.2.3.999", "purpose": "case"})
    client_side = ("httpx", "httpx2", "httpcore")  # the test's own HTTP client logs URLs
    logged = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.split(".")[0] not in client_side
    )
    assert "GET /api/v1/events 200" in logged
    assert user not in logged and ip not in logged


def test_validation_errors_do_not_echo_input(world: World) -> None:
    response = world.client.get(
        "/api/v1/events",
        params={"ip": "matti.virtanen@example.fi", "purpose": "x y"},
        headers=world.as_role("analyst"),
    )
    assert response.status_code == 422
    assert "matti" in response.text  # the message names the value the caller sent...
    payload = world.client.patch(
        "/api/v1/alerts/a-1", json={"status": "secret-value"}, headers=world.as_role("analyst")
    )
    assert payload.status_code == 422 and "secret-value" not in payload.text  # ...not its body
