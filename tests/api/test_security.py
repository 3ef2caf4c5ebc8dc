"""What makes the API fit to face a network: headers, limits, logs without people in them."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from api.auth import FailureLimiter, limiter_keys
from store.audit import entries
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


def test_guessing_is_braked_but_a_valid_token_never_waits(
    template_db: Path, tmp_path: Path
) -> None:
    """The aimed lockout: wrong tokens from one address (the office NAT) lock out that
    address's guessing, not the colleague with a valid token behind the same address."""
    db = tmp_path / "vahti.duckdb"
    shutil.copy(template_db, db)
    settings = Settings.model_validate({"api": {"auth_failures_per_minute": 3}})
    for world in make_world(db, settings):
        bad = {"Authorization": "Bearer guess"}
        codes = [world.client.get("/api/v1/alerts", headers=bad).status_code for _ in range(5)]
        assert codes == [401, 401, 401, 429, 429]
        refused = world.client.get("/api/v1/alerts", headers=bad)
        assert int(refused.headers["retry-after"]) > 0
        valid = world.client.get("/api/v1/alerts", headers=world.as_role("analyst"))
        assert valid.status_code == 200
        signed_in = world.client.post("/login", data={"token": world.tokens["admin"]},
                                      follow_redirects=False)  # fmt: skip
        assert signed_in.status_code == 303  # the console too
        locked = [e for e in entries(world.store.con, 0, 10_000) if e.action == "auth.locked"]
        assert len(locked) == 2  # one entry per lockout: its address, and the token prefix
        assert {e.detail["locked"] for e in locked} == {"address", "token"}
        assert all(e.detail["address"] == "testclient" for e in locked)
        metrics = world.client.get("/metrics", headers=world.as_role("admin")).text
        assert "vahti_auth_refusals_total 3.0" in metrics


def test_the_limiter_counts_per_address_and_per_token_prefix_with_backoff() -> None:
    now = [0.0]
    limiter = FailureLimiter(3, 60, clock=lambda: now[0], longest=300)
    guess = "vahti_AAAAAAxyz"
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):  # one token, three addresses
        assert limiter.refusal(limiter_keys(address, guess)) == (0, ())
        limiter.failed(limiter_keys(address, guess))
    wait, locked = limiter.refusal(limiter_keys("10.0.0.4", guess))
    assert (wait, locked) == (61, ("token vahti_AAAAAA",))
    assert limiter.refusal(limiter_keys("10.0.0.4", "vahti_BBBBBB"))[0] == 0  # another token
    now[0] = 61.0  # the first lockout ends; the next one in a row waits twice as long
    for _ in range(3):
        limiter.failed(limiter_keys("10.0.0.5", guess))
    assert limiter.refusal(limiter_keys("10.0.0.6", guess))[0] == 121
    now[0] = 61.0 + 121 + 1
    for _ in range(3):
        limiter.failed(limiter_keys("10.0.0.5", guess))
    assert limiter.refusal(limiter_keys("10.0.0.7", guess))[0] == 241
    now[0] += 241 + 1
    for _ in range(3):
        limiter.failed(limiter_keys("10.0.0.5", guess))
    assert limiter.refusal(limiter_keys("10.0.0.7", guess))[0] == 301  # capped at `longest`
    assert limiter.total_refusals == 4


def test_a_flood_of_new_keys_keeps_the_limiter_small_and_the_active_lockout() -> None:
    """Random token prefixes from many addresses: memory stays bounded, and a lockout that
    is being hit stays in force (the least recently seen keys are forgotten first)."""
    limiter = FailureLimiter(3, 60, clock=lambda: 100.0, capacity=1000)
    guess = limiter_keys("10.9.9.9", "vahti_TARGET")
    for _ in range(3):
        limiter.failed(guess)
    for n in range(5000):
        limiter.failed(limiter_keys(f"10.1.{n // 250}.{n % 250}", f"vahti_{n:06d}"))
        if n % 100 == 0:
            assert limiter.refusal(guess)[0] > 0
    assert len(limiter._keys) <= 1000


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


def test_a_method_the_route_does_not_take_is_405_naming_those_it_does(world: World) -> None:
    for method in ("TRACE", "DELETE", "PUT"):
        response = world.client.request(method, "/api/v1/alerts", headers=world.as_role("admin"))
        assert response.status_code == 405
        assert response.headers["allow"] == "GET", method


def test_the_schema_names_what_a_client_without_a_valid_token_meets(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    for path, methods in paths.items():
        for method, operation in methods.items():
            if path in ("/healthz",):
                continue
            responses = operation["responses"]
            assert {"401", "403", "429"} <= set(responses), (method, path)
