"""Lawful extracts end to end through the API, with near-miss data that must stay out."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import orjson

from privacy.package import recorded_packages, verify_package
from store.checkpoints import signing_key
from tests.api.conftest import World

TARGET = "target.user"
NEAR = [
    # (ts, user, ip): in scope only if the user is TARGET, or the address is in
    # 203.0.113.0/28, and the time is in [2026-10-01, 2026-10-02)
    ("2026-10-01T00:00:00Z", TARGET, "192.0.2.1"),  # first instant: in
    ("2026-10-01T23:59:59.999Z", TARGET, "192.0.2.1"),  # last instant: in
    ("2026-09-30T23:59:59.999Z", TARGET, "192.0.2.1"),  # just before: out
    ("2026-10-02T00:00:00Z", TARGET, "192.0.2.1"),  # the end is exclusive: out
    ("2026-10-01T12:00:00Z", "target.user2", "192.0.2.1"),  # similar name: out
    ("2026-10-01T12:00:00Z", "Target.User", "192.0.2.1"),  # other case: out
    ("2026-10-01T12:00:00Z", "x", "203.0.113.15"),  # last address of the /28: in
    ("2026-10-01T12:00:00Z", "y", "203.0.113.16"),  # next address: out
    ("2026-10-01T12:00:00Z", "z", "203.0.112.255"),  # address before: out
]
SCOPE = {
    "users": [TARGET],
    "ips": ["203.0.113.0/28"],
    "from": "2026-10-01T00:00:00Z",
    "to": "2026-10-02T00:00:00Z",
}


def _load_near_misses(world: World) -> None:
    records = [{"ts": ts, "outcome": "failure", "user": u, "ip": ip} for ts, u, ip in NEAR]
    pushed = world.client.post(
        "/api/v1/events", content=orjson.dumps(records), params={"batch_id": "near"},
        headers={**world.as_role("admin"), "content-type": "application/json"},
    )  # fmt: skip
    assert pushed.json()["loaded"] == len(NEAR)


def _request(world: World, **extra: object) -> dict:
    body = {"authority": "Keskusrikospoliisi", "legal_basis": "Pakkokeinolaki 10:6",
            "reference": "KRP/2026/77", "scope": SCOPE, **extra}  # fmt: skip
    response = world.client.post("/api/v1/extracts", json=body, headers=world.as_role("liaison"))
    assert response.status_code == 201, response.text
    return response.json()


def test_package_holds_exactly_the_scope_and_verifies(world: World, tmp_path: Path) -> None:
    _load_near_misses(world)
    made = _request(world)
    assert made["matching_events"] == 3 and made["state"] == "requested"
    assert 239 < made["due_in_hours"] <= 240  # ten days
    own = world.client.post(
        f"/api/v1/extracts/{made['id']}/approve", headers=world.as_role("liaison")
    )
    assert own.status_code == 403
    url = f"/api/v1/extracts/{made['id']}"
    early = world.client.get(f"{url}/package", headers=world.as_role("liaison"))
    assert early.status_code == 409  # not approved yet
    assert world.client.post(f"{url}/approve", headers=world.as_role("dpo")).status_code == 200
    again = world.client.post(f"{url}/approve", headers=world.as_role("dpo"))
    assert again.status_code == 409
    response = world.client.get(f"{url}/package", headers=world.as_role("liaison"))
    assert response.status_code == 200
    package = tmp_path / "p.zip"
    package.write_bytes(response.content)
    key = signing_key(world.service.checkpoints.key).public_key()
    assert verify_package(package, key, recorded_packages(world.store.con)) == []
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        lines = archive.read("events.jsonl").decode().splitlines()
        manifest = orjson.loads(archive.read("manifest.json"))
    got = sorted((e["ts"], e["user"], e["ip"]) for e in map(orjson.loads, lines))
    assert got == [
        ("2026-10-01T00:00:00.000000Z", TARGET, "192.0.2.1"),
        ("2026-10-01T12:00:00.000000Z", "x", "203.0.113.15"),
        ("2026-10-01T23:59:59.999000Z", TARGET, "192.0.2.1"),
    ]
    assert manifest["rows"] == 3 and manifest["request"]["reference"] == "KRP/2026/77"
    digest = response.headers["x-package-sha256"]
    entries = world.store.con.execute(
        "SELECT action, detail->>'sha256' FROM audit WHERE action LIKE 'extracts.%' ORDER BY seq"
    ).fetchall()
    assert entries[-1] == ("extracts.package", digest)
    disclosed = world.store.con.execute(
        "SELECT subject, events FROM disclosures ORDER BY subject"
    ).fetchall()
    assert disclosed == [(TARGET, 2), ("x", 1)]
    report = world.client.get(f"/api/v1/subjects/{TARGET}", headers=world.as_role("dpo")).json()
    assert [d["reference"] for d in report["disclosures"]] == ["KRP/2026/77"]


def test_a_tampered_package_fails_verification(world: World, tmp_path: Path) -> None:
    _load_near_misses(world)
    made = _request(world)
    world.client.post(f"/api/v1/extracts/{made['id']}/approve", headers=world.as_role("dpo"))
    data = world.client.get(
        f"/api/v1/extracts/{made['id']}/package", headers=world.as_role("liaison")
    ).content
    tampered = tmp_path / "t.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(tampered, "w") as copy:
        for name in source.namelist():
            body = source.read(name)
            copy.writestr(
                name,
                body.replace(b"203.0.113.15", b"203.0.113.99") if name == "events.csv" else body,
            )
        copy.writestr("extra.txt", b"added later")
    key = signing_key(world.service.checkpoints.key).public_key()
    recorded = recorded_packages(world.store.con)
    assert verify_package(tampered, key, recorded) == [
        "extra.txt: not in the manifest",
        "events.csv: SHA-256 does not match the manifest",
        "audit log: the package's SHA-256 was never recorded (not a package vahti made, or "
        "changed since)",
    ]
    # A careful forger edits events.jsonl and recomputes the manifest: the files agree
    # with it, but its signature and the audit log do not.
    forged = tmp_path / "f.zip"
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(forged, "w") as copy:
        files = {n: source.read(n) for n in source.namelist()}
        files["events.jsonl"] = files["events.jsonl"].replace(b"203.0.113.15", b"203.0.113.99")
        manifest = orjson.loads(files["manifest.json"])
        manifest["files"]["events.jsonl"] = {
            **manifest["files"]["events.jsonl"],
            "sha256": hashlib.sha256(files["events.jsonl"]).hexdigest(),
            "bytes": len(files["events.jsonl"]),
        }
        files["manifest.json"] = orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
        for name, body in files.items():
            copy.writestr(name, body)
    assert verify_package(forged, key, recorded) == [
        "signature: the manifest is not signed by this system's audit key",
        "audit log: the package's SHA-256 was never recorded (not a package vahti made, or "
        "changed since)",
    ]


def test_secret_disclosures_and_preservation_orders(world: World) -> None:
    _load_near_misses(world)
    secret = _request(world, secrecy_until="2100-01-01T00:00:00Z")
    world.client.post(f"/api/v1/extracts/{secret['id']}/approve", headers=world.as_role("dpo"))
    world.client.get(f"/api/v1/extracts/{secret['id']}/package", headers=world.as_role("liaison"))
    report = world.client.get(f"/api/v1/subjects/{TARGET}", headers=world.as_role("dpo")).json()
    assert report["disclosures"] == []  # under the authority's secrecy date
    keep = _request(world, order_type="preservation", emergency=True)
    assert keep["due_in_hours"] <= 8
    approved = world.client.post(
        f"/api/v1/extracts/{keep['id']}/approve", headers=world.as_role("dpo")
    ).json()
    assert len(approved["holds"]) == 2  # one for the user, one for the network
    holds = world.client.get("/api/v1/holds", headers=world.as_role("dpo")).json()
    assert {h["kind"] for h in holds} == {"preservation"} and all(h["until"] for h in holds)
    no_package = world.client.get(
        f"/api/v1/extracts/{keep['id']}/package", headers=world.as_role("liaison")
    )
    assert no_package.status_code == 409


def test_incomplete_requests_are_refused_with_a_reason(world: World) -> None:
    base = {"authority": "Poliisi", "legal_basis": "PKL", "reference": "R", "scope": SCOPE}
    for bad in (
        {**base, "legal_basis": ""},
        {**base, "reference": ""},
        {**base, "scope": {"users": []}},
        {**base, "scope": {"ips": ["10.0.0.0/40"]}},
        {k: v for k, v in base.items() if k != "legal_basis"},
    ):
        response = world.client.post("/api/v1/extracts", json=bad, headers=world.as_role("liaison"))
        assert response.status_code == 422, bad
    made = _request(world)
    refused = world.client.post(
        f"/api/v1/extracts/{made['id']}/refuse", json={"reason": "no court order"},
        headers=world.as_role("dpo"),
    ).json()  # fmt: skip
    assert refused["state"] == "refused" and refused["refusal"] == "no court order"
