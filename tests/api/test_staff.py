"""Staff are persons: password and one-time code for the console, tokens issued to a
person, the audit log naming the person, four eyes between persons, the last admin kept."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from api.auth import FailureLimiter
from store.audit import entries
from store.staff import add_person
from store.tokens import TokenError, create_token
from tests.api.conftest import World
from vahti.shell import now_utc

PASSWORD = "correct horse battery"
EXTRACT = {
    "authority": "Poliisi", "legal_basis": "PKL 10:6", "order_type": "production",
    "reference": "R-staff", "scope": {"users": ["someone"]},
}  # fmt: skip


def _person(world: World, name: str, role: str) -> pyotp.TOTP:
    """A person added at the server's machine (the operator), with their authenticator."""
    _, secret = add_person(world.store.con, name, role, PASSWORD, None, now_utc())
    return pyotp.TOTP(secret)


def _token(world: World, person: str, name: str) -> dict[str, str]:
    _, secret = create_token(world.store.con, name, None, now_utc(), person)
    world.app.state.tokens.invalidate()
    return {"Authorization": f"Bearer {secret}"}


def _sign_in(world: World, user: str, password: str, code: str) -> int:
    form = {"user": user, "password": password, "code": code}
    response = world.client.post("/login", data=form, follow_redirects=False)
    return response.status_code


def _request(world: World, headers: dict[str, str]) -> int:
    made = world.client.post("/api/v1/extracts", json=EXTRACT, headers=headers)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _approve(world: World, extract_id: int, headers: dict[str, str]) -> tuple[int, str]:
    response = world.client.post(f"/api/v1/extracts/{extract_id}/approve", headers=headers)
    return response.status_code, response.text


def test_a_person_signs_in_with_password_and_one_time_code(world: World) -> None:
    totp = _person(world, "anna", "analyst")
    assert _sign_in(world, "anna", "wrong password!", totp.now()) == 200  # the form again
    assert _sign_in(world, "anna", PASSWORD, "000000" if totp.now() != "000000" else "1") == 200
    assert _sign_in(world, "nobody", PASSWORD, totp.now()) == 200
    code = totp.now()
    assert _sign_in(world, "anna", PASSWORD, code) == 303
    world.client.cookies.clear()
    assert _sign_in(world, "anna", PASSWORD, code) == 200  # a code counts once
    page = world.client.get("/alerts")
    assert page.status_code == 200 and "anna" not in page.text  # not signed in


def test_the_stored_password_is_argon2id_and_the_code_secret_is_not_in_any_listing(
    world: World,
) -> None:
    _person(world, "anna", "analyst")
    ((stored,),) = world.store.con.execute(
        "SELECT password_hash FROM staff WHERE name = 'anna'"
    ).fetchall()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    listed = world.client.get("/api/v1/users", headers=world.as_role("admin"))
    assert listed.status_code == 200 and "secret" not in listed.text
    assert [p["name"] for p in listed.json()] == ["anna"]


def test_an_admin_adds_a_person_through_the_api_and_gets_their_authenticator_uri(
    world: World,
) -> None:
    body = {"name": "dora", "role": "dpo", "password": PASSWORD}
    added = world.client.post("/api/v1/users", json=body, headers=world.as_role("admin"))
    assert added.status_code == 201 and added.json()["created_by"] == "admin-token"
    uri = urlparse(added.json()["totp_uri"])
    secret = parse_qs(uri.query)["secret"][0]
    assert _sign_in(world, "dora", PASSWORD, pyotp.TOTP(secret).now()) == 303
    again = world.client.post("/api/v1/users", json=body, headers=world.as_role("admin"))
    assert again.status_code == 409
    short = {**body, "name": "eve", "password": "short"}
    assert (
        world.client.post("/api/v1/users", json=short, headers=world.as_role("admin")).status_code
        == 422
    )


def test_a_token_is_issued_to_a_person_and_the_audit_log_names_the_person(world: World) -> None:
    _person(world, "anna", "analyst")
    headers = _token(world, "anna", "anna-laptop")
    found = world.client.get(
        "/api/v1/events", params={"user": "someone", "purpose": "case 7"}, headers=headers
    )
    assert found.status_code == 200
    last = entries(world.store.con, limit=1, newest_first=True)[0]
    assert (last.actor, last.action) == ("anna", "events.search")
    role_taken = world.client.post(
        "/api/v1/tokens", json={"name": "t2", "person": "anna", "role": "admin"},
        headers=world.as_role("admin"),
    )  # fmt: skip
    assert role_taken.status_code == 409  # a person's token has the person's role
    nobody = world.client.post(
        "/api/v1/tokens", json={"name": "t3", "person": "ghost"}, headers=world.as_role("admin")
    )
    assert nobody.status_code == 404


def test_self_approval_through_a_second_token_is_refused(world: World) -> None:
    extract_id = _request(world, world.as_role("admin"))
    second = world.client.post(
        "/api/v1/tokens", json={"name": "admin-2", "role": "admin"}, headers=world.as_role("admin")
    )
    assert second.status_code == 201
    status, text = _approve(
        world, extract_id, {"Authorization": f"Bearer {second.json()['token']}"}
    )
    assert status == 409 and "four eyes" in text and "admin-token" in text


def test_a_token_minted_by_an_admin_for_a_dpo_cannot_decide(world: World) -> None:
    body = {"name": "dora", "role": "dpo", "password": PASSWORD}
    assert (
        world.client.post("/api/v1/users", json=body, headers=world.as_role("admin")).status_code
        == 201
    )
    minted = world.client.post(
        "/api/v1/tokens",
        json={"name": "dora-now", "person": "dora"},
        headers=world.as_role("admin"),
    )
    assert minted.status_code == 201
    extract_id = _request(world, world.as_role("liaison"))
    status, text = _approve(
        world, extract_id, {"Authorization": f"Bearer {minted.json()['token']}"}
    )
    assert status == 409 and "only its holder" in text


def test_one_person_with_two_tokens_is_one_pair_of_eyes(world: World) -> None:
    _person(world, "alice", "admin")
    first, second = _token(world, "alice", "alice-1"), _token(world, "alice", "alice-2")
    extract_id = _request(world, first)
    status, text = _approve(world, extract_id, second)
    assert status == 409 and "alice" in text
    _person(world, "dora", "dpo")
    status, _ = _approve(world, extract_id, _token(world, "dora", "dora-1"))
    assert status == 200
    ((decided_by,),) = world.store.con.execute(
        "SELECT decided_by FROM extracts WHERE extract_id = ?", [extract_id]
    ).fetchall()
    assert decided_by == "dora"


def test_the_last_admin_cannot_be_revoked_or_disabled(world: World) -> None:
    admin = world.as_role("admin")
    refused = world.client.delete("/api/v1/tokens/admin-token", headers=admin)
    assert refused.status_code == 409 and "last admin" in refused.text
    _person(world, "alice", "admin")
    alice = _token(world, "alice", "alice-1")
    assert world.client.delete("/api/v1/tokens/admin-token", headers=alice).status_code == 200
    last = world.client.delete("/api/v1/users/alice", headers=alice)
    assert last.status_code == 409 and "last admin" in last.text
    assert world.client.get("/api/v1/tokens", headers=alice).status_code == 200


def test_a_disabled_person_loses_tokens_and_sign_in(world: World) -> None:
    totp = _person(world, "anna", "analyst")
    headers = _token(world, "anna", "anna-1")
    assert world.client.get("/api/v1/alerts", headers=headers).status_code == 200
    gone = world.client.delete("/api/v1/users/anna", headers=world.as_role("admin"))
    assert gone.status_code == 200 and gone.json()["disabled_at"]
    assert world.client.get("/api/v1/alerts", headers=headers).status_code == 401
    assert _sign_in(world, "anna", PASSWORD, totp.now()) == 200  # refused: the form again


def test_an_audited_change_after_a_quarantine_retry_through_the_server(world: World) -> None:
    """The retry used to write through a second audit trail: the server's own then appended
    after a stale head, and the next audited change failed with 500."""
    bad = {"events": [{"ts": "not a time", "outcome": "failure", "user": "u"}]}
    pushed = world.client.post(
        "/api/v1/events", json=bad, params={"batch_id": "b-1"}, headers=world.as_role("admin")
    )
    assert pushed.status_code == 200 and pushed.json()["quarantined"] == 1
    retried = world.client.post("/api/v1/quarantine/retry", json={}, headers=world.as_role("admin"))
    assert retried.status_code == 200 and retried.json()["sources"]
    made = world.client.post(
        "/api/v1/tokens", json={"name": "after-retry", "role": "analyst"},
        headers=world.as_role("admin"),
    )  # fmt: skip
    assert made.status_code == 201


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def test_a_person_makes_their_own_token_in_the_console_and_it_decides(world: World) -> None:
    totp = _person(world, "dora", "dpo")
    assert _sign_in(world, "dora", PASSWORD, totp.now()) == 303
    form = world.client.get("/account")
    assert form.status_code == 200 and "Make a token" in form.text
    made = world.client.post("/account/tokens", data={"name": "dora-cli", "csrf": _csrf(form.text)})
    secret = re.search(r'<code id="new-token">([^<]+)</code>', made.text)
    assert made.status_code == 200 and secret, made.text[:500]
    headers = {"Authorization": f"Bearer {secret.group(1)}"}
    extract_id = _request(world, world.as_role("liaison"))
    assert _approve(world, extract_id, headers)[0] == 200  # nobody else saw the secret
    last = entries(world.store.con, limit=3, newest_first=True)
    assert any((e.actor, e.action) == ("dora", "tokens.create") for e in last)
    listed = world.client.get("/account")
    revoke = world.client.post(
        "/account/tokens/dora-cli/revoke", data={"csrf": _csrf(listed.text)},
        follow_redirects=False,
    )  # fmt: skip
    assert revoke.status_code == 303
    assert world.client.get("/api/v1/holds", headers=headers).status_code == 401  # revoked


def test_a_token_session_cannot_make_tokens(world: World) -> None:
    signed = world.client.post(
        "/login", data={"token": world.tokens["analyst"]}, follow_redirects=False
    )
    assert signed.status_code == 303
    form = world.client.get("/account")
    assert form.status_code == 200 and "Make a token" not in form.text
    made = world.client.post("/account/tokens", data={"name": "x", "csrf": _csrf(form.text)})
    assert made.status_code == 403


def test_no_token_or_person_passes_for_the_operator_or_another_actor(world: World) -> None:
    """A token named like the operator's would make what it creates look made at the shell
    (outside four eyes): an admin could add a puppet dpo and approve their own request."""
    admin = world.as_role("admin")
    for name in ("local-cli.x", "LOCAL-CLI.carl", "cli:root", "job:retention", "anonymous",
                 "ｓｅｒｖｅ", "local\u2010cli.x"):  # fmt: skip
        made = world.client.post("/api/v1/tokens", json={"name": name, "role": "admin"},
                                 headers=admin)  # fmt: skip
        assert made.status_code in (409, 422), name  # 422: a character names may not hold
        assert ":" in name or not name.isascii() or made.status_code == 409, name
        with pytest.raises(TokenError, match="vahti's own actors"):  # where the schema lets it
            create_token(world.store.con, name, "admin", now_utc())
        assert made.status_code == 422 or "vahti's own actors" in made.text, name
        body = {"name": name, "role": "dpo", "password": PASSWORD}
        added = world.client.post("/api/v1/users", json=body, headers=admin)
        assert added.status_code in (409, 422), name
        assert added.status_code == 422 or "vahti's own actors" in added.text, name


def test_a_service_token_cannot_take_a_persons_name_nor_a_person_a_tokens(world: World) -> None:
    """The audit log names a service token by its name: a token named `dora` would put the
    real dora's name on what it did."""
    admin = world.as_role("admin")
    _person(world, "dora", "dpo")
    made = world.client.post("/api/v1/tokens", json={"name": "Dora", "role": "analyst"},
                             headers=admin)  # fmt: skip
    assert made.status_code == 409 and "a person is named" in made.text
    assert world.client.post("/api/v1/tokens", json={"name": "portal", "role": "admin"},
                             headers=admin).status_code == 201  # fmt: skip
    body = {"name": "portal", "role": "dpo", "password": PASSWORD}
    added = world.client.post("/api/v1/users", json=body, headers=admin)
    assert added.status_code == 409 and "a service token is named" in added.text
    again = {"name": "DORA", "role": "analyst", "password": PASSWORD}
    twin = world.client.post("/api/v1/users", json=again, headers=admin)
    assert twin.status_code == 409 and "exists already" in twin.text


def test_codes_guessed_behind_the_right_password_stop_and_strangers_cannot_aim_it(
    world: World,
) -> None:
    """A leaked password lets an attacker guess one-time codes; after the limit the right
    code is refused too, for that name only. Wrong passwords never lock a person's codes."""
    world.app.state.limiter = FailureLimiter(5, 60)
    dora, anna = _person(world, "dora", "dpo"), _person(world, "anna", "analyst")
    wrong = {dora.now(), anna.now()}
    guess = next(c for c in ("000000", "111111", "222222") if c not in wrong)
    for _ in range(12):
        assert _sign_in(world, "anna", "not her password", guess) == 200
    assert _sign_in(world, "anna", PASSWORD, anna.now()) == 303  # not aimable
    world.client.cookies.clear()
    world.app.state.limiter = FailureLimiter(5, 60)  # this client's address is locked now
    for _ in range(12):
        assert _sign_in(world, "dora", PASSWORD, guess) == 200
    refused = world.client.post(
        "/login", data={"user": "dora", "password": PASSWORD, "code": dora.now()},
        follow_redirects=False,
    )  # fmt: skip
    assert refused.status_code == 200 and "Too many attempts" in refused.text
    locked = [e for e in entries(world.store.con) if e.action == "auth.locked"]
    assert any(e.detail.get("locked") == "code" and e.detail["user"] == "dora" for e in locked)
